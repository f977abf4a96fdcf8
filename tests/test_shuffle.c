/*
 * test_shuffle.c: the exact Altschul–Erickson dinucleotide shuffle (host/shuffle.c, FORMATS.md
 * §13).
 *
 * Invariants over thousands of random inputs, determinism, exact uniformity on a small class
 * (brute-force enumeration + χ²), the simplified last-exit variant shown to be non-uniform, and the
 * real DeepBind test files, whose _shuf rows must be dinucleotide shuffles of their _peak rows.
 */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deepmotif.h"
#include "dm_rng.h"
#include "testutil.h"

/* ---- composition checker --------------------------------------------------------------------- */

static int cmp_u16(const void *a, const void *b) {
    return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

/* True when b has a's length, first and last letter and every dinucleotide count (any bytes). */
static bool same_dinuc_composition(const uint8_t *a, const uint8_t *b, size_t n) {
    if (n == 0) return true;
    if (a[0] != b[0] || a[n - 1] != b[n - 1]) return false;
    if (n == 1) return true;
    /* Sort the (byte, next byte) pairs of each sequence and compare the multisets. */
    uint16_t *pa = malloc((n - 1) * sizeof *pa), *pb = malloc((n - 1) * sizeof *pb);
    cr_assert(pa && pb);
    for (size_t i = 0; i + 1 < n; i++) {
        pa[i] = (uint16_t)(a[i] << 8 | a[i + 1]);
        pb[i] = (uint16_t)(b[i] << 8 | b[i + 1]);
    }
    qsort(pa, n - 1, sizeof *pa, cmp_u16);
    qsort(pb, n - 1, sizeof *pb, cmp_u16);
    bool same = memcmp(pa, pb, (n - 1) * sizeof *pa) == 0;
    free(pa);
    free(pb);
    return same;
}

/* The letter-only (mononucleotide) shuffle: same letters, dinucleotides not kept. */
static void mono_shuffle(uint8_t *out, const uint8_t *in, size_t n, dm_rng *r) {
    memcpy(out, in, n);
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = dm_rng_below(r, (uint32_t)(i + 1));
        uint8_t t = out[i];
        out[i] = out[j];
        out[j] = t;
    }
}

Test(shuffle, checker_accepts_identity_and_rejects_changes) {
    const uint8_t a[] = "ACGTTGCA", b[] = "ACGTTGCA", c[] = "ACTGTGCA", d[] = "ATGTCGCA";
    cr_assert(same_dinuc_composition(a, b, 8));
    cr_assert(!same_dinuc_composition(a, c, 8), "different dinucleotides must be rejected");
    cr_assert(!same_dinuc_composition(a, d, 8), "a letter-preserving change must be rejected");
}

/* ---- invariants ------------------------------------------------------------------------------ */

/* A random test input: i.i.d., runs (blocky, homopolymer-rich) or a pure homopolymer. */
static size_t random_input(uint8_t *s, dm_rng *r, size_t max_len, int *alphabet_size) {
    size_t n = dm_rng_below(r, (uint32_t)max_len + 1);
    char letters[6] = "ACGTN";
    for (int i = 4; i > 0; i--) {
        int j = (int)dm_rng_below(r, (uint32_t)i + 1);
        char t = letters[i];
        letters[i] = letters[j];
        letters[j] = t;
    }
    int k = 1 + (int)dm_rng_below(r, 5);
    /* Half i.i.d., a third runs of up to 40, the rest one homopolymer. */
    uint32_t mode = dm_rng_below(r, 6);
    size_t i = 0;
    while (i < n) {
        uint8_t c = (uint8_t)letters[dm_rng_below(r, (uint32_t)k)];
        size_t run = mode < 3 ? 1 : mode < 5 ? 1 + dm_rng_below(r, 40) : n;
        for (size_t j = 0; j < run && i < n; j++) s[i++] = c;
    }
    *alphabet_size = k;
    return n;
}

Test(shuffle, invariants_random_inputs) {
    enum { TRIALS = 6000, MAXLEN = 300 };
    uint8_t in[MAXLEN], out[MAXLEN + 1];
    dm_rng r;
    dm_rng_init(&r, dm_test_seed(), 200, 1);
    int changed = 0, homopolymers = 0, short_alphabets = 0;
    for (int t = 0; t < TRIALS; t++) {
        int k;
        size_t n = random_input(in, &r, MAXLEN, &k);
        out[n] = 0xAB;   /* guard byte: nothing past n is written */
        dm_dinuc_shuffle(out, in, n, dm_test_seed(), (uint64_t)t);
        cr_assert_eq(out[n], 0xAB, "trial %d: wrote past the end", t);
        cr_assert(same_dinuc_composition(in, out, n),
                  "trial %d (n %zu, %d letters): composition changed", t, n, k);
        changed += memcmp(in, out, n) != 0;
        size_t run = 0;
        while (run < n && in[run] == in[0]) run++;
        homopolymers += n > 2 && run == n;
        short_alphabets += k < 4;
    }
    cr_log_info("%d of %d inputs changed, %d single-letter, %d with < 4 letters", changed, TRIALS,
                homopolymers, short_alphabets);
    cr_assert_gt(changed, TRIALS / 2, "the shuffle changes its input too rarely");
    cr_assert_gt(homopolymers, 0);
}

Test(shuffle, short_inputs_are_unchanged) {
    const uint8_t in[2] = {'G', 'A'};
    uint8_t out[2] = {0, 0};
    dm_dinuc_shuffle(out, in, 0, 1, 0);
    cr_assert_eq(out[0], 0, "n = 0 must write nothing");
    dm_dinuc_shuffle(out, in, 1, 1, 0);
    cr_assert_eq(out[0], 'G');
    dm_dinuc_shuffle(out, in, 2, 1, 0);
    cr_assert(out[0] == 'G' && out[1] == 'A');
}

Test(shuffle, large_alphabet_uses_heap_path) {
    /* More than 16 distinct bytes takes the heap-allocated count matrix. */
    enum { N = 2000 };
    uint8_t in[N], out[N];
    dm_rng r;
    dm_rng_init(&r, dm_test_seed(), 200, 2);
    for (int t = 0; t < 20; t++) {
        uint32_t k = 17 + dm_rng_below(&r, 240);
        for (int i = 0; i < N; i++) in[i] = (uint8_t)dm_rng_below(&r, k);
        dm_dinuc_shuffle(out, in, N, 7, (uint64_t)t);
        cr_assert(same_dinuc_composition(in, out, N), "alphabet of %u bytes: composition changed",
                  k);
        cr_assert(memcmp(in, out, N) != 0);
    }
}

Test(shuffle, blocky_input_is_fast_and_exact) {
    /* A^m C^m G^m T^m N: a rejection sampler for the last-exit tree would need ~m^4 tries. */
    enum { M = 2500, N = 4 * M + 1 };
    static uint8_t in[N], out[N];
    for (int i = 0; i < N - 1; i++) in[i] = (uint8_t)"ACGT"[i / M];
    in[N - 1] = 'N';
    dm_dinuc_shuffle(out, in, N, 3, 0);
    cr_assert(same_dinuc_composition(in, out, N));
}

/* ---- determinism ----------------------------------------------------------------------------- */

Test(shuffle, deterministic_in_seed_and_row) {
    enum { N = 101 };
    uint8_t in[N], a[N], b[N];
    dm_rng r;
    dm_rng_init(&r, dm_test_seed(), 200, 3);
    for (int i = 0; i < N; i++) in[i] = (uint8_t)"ACGT"[dm_rng_below(&r, 4)];
    dm_dinuc_shuffle(a, in, N, 42, 7);
    dm_dinuc_shuffle(b, in, N, 42, 7);
    cr_assert(memcmp(a, b, N) == 0, "same seed and row must give the same output");
    int differ_seed = 0, differ_row = 0;
    for (int t = 0; t < 100; t++) {
        dm_dinuc_shuffle(b, in, N, 43 + (uint64_t)t, 7);
        differ_seed += memcmp(a, b, N) != 0;
        dm_dinuc_shuffle(b, in, N, 42, 8 + (uint64_t)t);
        differ_row += memcmp(a, b, N) != 0;
    }
    cr_assert_geq(differ_seed, 99, "other seeds gave the same output %d times", 100 - differ_seed);
    cr_assert_geq(differ_row, 99, "other rows gave the same output %d times", 100 - differ_row);
}

/* ---- exact uniformity ------------------------------------------------------------------------ */

#define UNI_SEQ "TTGACCAGTA"
#define UNI_MAX_N 12
#define UNI_MAX_CLASS 64

/* The 4x4 dinucleotide counts of an ACGT string. */
static void dinuc16(const char *s, size_t n, int c[16]) {
    memset(c, 0, 16 * sizeof *c);
    for (size_t i = 0; i + 1 < n; i++)
        c[(strchr("ACGT", s[i]) - "ACGT") * 4 + (strchr("ACGT", s[i + 1]) - "ACGT")]++;
}

/* The whole shuffle class of an ACGT string by brute force over all 4^n candidates. */
static int enumerate_class(const char *seq, char cls[][UNI_MAX_N + 1]) {
    size_t n = strlen(seq);
    cr_assert_leq(n, 11);
    int want[16], have[16], m = 0;
    dinuc16(seq, n, want);
    char cand[UNI_MAX_N + 1] = {0};
    for (uint32_t code = 0; code < (1u << (2 * n)); code++) {
        for (size_t i = 0; i < n; i++) cand[i] = "ACGT"[(code >> (2 * i)) & 3];
        if (cand[0] != seq[0] || cand[n - 1] != seq[n - 1]) continue;
        dinuc16(cand, n, have);
        if (memcmp(want, have, sizeof want) != 0) continue;
        cr_assert_lt(m, UNI_MAX_CLASS);
        memcpy(cls[m++], cand, n + 1);
    }
    return m;
}

static int class_index(char cls[][UNI_MAX_N + 1], int m, const uint8_t *s, size_t n) {
    for (int c = 0; c < m; c++)
        if (memcmp(cls[c], s, n) == 0) return c;
    return -1;
}

/* χ² of observed counts against a uniform expectation over m cells. */
static double chi_square(const long *obs, int m, long draws) {
    double e = (double)draws / m, x = 0;
    for (int c = 0; c < m; c++) x += ((double)obs[c] - e) * ((double)obs[c] - e) / e;
    return x;
}

/* χ²(11) upper 1e-6 quantile (12 class members − 1 degree of freedom). */
#define CHI2_11_P1E6 48.87

/* Draws 10^5 shuffles of `seq` (class of 12) and tests them against uniform. */
static void check_uniform(const char *seq, uint64_t seed) {
    static char cls[UNI_MAX_CLASS][UNI_MAX_N + 1];
    size_t n = strlen(seq);
    int m = enumerate_class(seq, cls);
    cr_assert_eq(m, 12, "class of %s should have 12 members, found %d", seq, m);

    enum { DRAWS = 100000 };
    long obs[UNI_MAX_CLASS] = {0};
    uint8_t out[UNI_MAX_N];
    for (int t = 0; t < DRAWS; t++) {
        dm_dinuc_shuffle(out, (const uint8_t *)seq, n, seed, (uint64_t)t);
        int c = class_index(cls, m, out, n);
        cr_assert_geq(c, 0, "draw %d of %s left the shuffle class: %.*s", t, seq, (int)n,
                      (const char *)out);
        obs[c]++;
    }
    double x = chi_square(obs, m, DRAWS);
    cr_log_info("%s: chi2 = %.2f over %d members (critical %.2f)", seq, x, m, CHI2_11_P1E6);
    for (int c = 0; c < m; c++) cr_assert_gt(obs[c], 0, "member %s never drawn", cls[c]);
    cr_assert_lt(x, CHI2_11_P1E6, "%s: chi2 %.2f, the shuffle is not uniform", seq, x);
}

Test(shuffle, exactly_uniform_on_small_class) {
    /* FORMATS.md §13's example: every edge has multiplicity 1. */
    check_uniform(UNI_SEQ, 2024);
}

Test(shuffle, exactly_uniform_with_repeated_edges) {
    /* AT and TA occur twice: a last exit chosen among distinct successors instead of among edges
     * would favour some members by up to 2x (found by exact enumeration when this was written). */
    check_uniform("ATATATCCACG", 2025);
}

/* The simplified variant: every letter keeps the last exit it has in the input; only the other
 * edges are shuffled. Valid (stays in the class) but the tree never changes. */
static void simplified_shuffle(uint8_t *out, const uint8_t *in, size_t n, dm_rng *r) {
    uint8_t succ[256][UNI_MAX_N];
    int deg[256] = {0}, used[256] = {0};
    for (size_t i = 0; i + 1 < n; i++) succ[in[i]][deg[in[i]]++] = in[i + 1];
    /* Fisher–Yates over all but the last entry (the input's own last exit) of each list, except for
     * the final letter, whose whole list is shuffled. */
    for (int a = 0; a < 256; a++) {
        int keep = (a == in[n - 1] || deg[a] == 0) ? deg[a] : deg[a] - 1;
        for (int i = keep - 1; i > 0; i--) {
            int j = (int)dm_rng_below(r, (uint32_t)i + 1);
            uint8_t t = succ[a][i];
            succ[a][i] = succ[a][j];
            succ[a][j] = t;
        }
    }
    uint8_t cur = in[0];
    out[0] = cur;
    for (size_t p = 1; p < n; p++) out[p] = cur = succ[cur][used[cur]++];
}

Test(shuffle, simplified_variant_is_not_uniform) {
    static char cls[UNI_MAX_CLASS][UNI_MAX_N + 1];
    int m = enumerate_class(UNI_SEQ, cls);
    enum { DRAWS = 20000 };
    long obs[UNI_MAX_CLASS] = {0};
    uint8_t out[UNI_MAX_N];
    dm_rng r;
    dm_rng_init(&r, dm_test_seed(), 200, 4);
    for (int t = 0; t < DRAWS; t++) {
        simplified_shuffle(out, (const uint8_t *)UNI_SEQ, strlen(UNI_SEQ), &r);
        int c = class_index(cls, m, out, strlen(UNI_SEQ));
        cr_assert_geq(c, 0, "the simplified variant left the class");
        obs[c]++;
    }
    int reached = 0;
    for (int c = 0; c < m; c++) reached += obs[c] > 0;
    cr_assert_eq(reached, 4, "the simplified variant should reach 4 of 12 members, reached %d",
                 reached);
    cr_assert_gt(chi_square(obs, m, DRAWS), CHI2_11_P1E6, "the chi2 test must reject it");
}

/* ---- real data ------------------------------------------------------------------------------- */

Test(shuffle, real_b_files_shuf_rows_are_dinucleotide_shuffles) {
    if (!dm_test_data_dir())
        cr_skip_test("no shared data directory (../shared/data or DM_DATA_DIR)");
    dm_rng r;
    dm_rng_init(&r, dm_test_seed(), 200, 5);
    int files = 0;
    for (int f = 0; dm_test_b_files[f]; f++) {
        dm_dataset ds;
        if (!dm_test_load_b_file(f, &ds)) continue;
        cr_assert_eq(ds.n, 1000, "%s", dm_test_b_files[f]);
        int ok = 0, mono_rejected = 0, ours_ok = 0, ours_same = 0;
        uint8_t mono[101], ours[101];
        for (int i = 0; i < 500; i++) {
            /* Row i is seq_<2i+2>_peak, row 500 + i its shuffle. */
            const uint8_t *peak = ds.seq + (size_t)i * 101;
            const uint8_t *shuf = ds.seq + (size_t)(500 + i) * 101;
            char want[32];
            snprintf(want, sizeof want, "seq_%05d_peak", 2 * i + 2);
            cr_assert_str_eq(ds.id[i], want, "%s row %d", dm_test_b_files[f], i);
            snprintf(want, sizeof want, "seq_%05d_shuf", 2 * i + 2);
            cr_assert_str_eq(ds.id[500 + i], want, "%s row %d", dm_test_b_files[f], 500 + i);
            cr_assert_eq(ds.group[i], ds.group[500 + i], "%s row %d: groups differ", dm_test_b_files[f], i);
            ok += same_dinuc_composition(peak, shuf, 101);
            mono_shuffle(mono, peak, 101, &r);
            mono_rejected += !same_dinuc_composition(peak, mono, 101);
            dm_dinuc_shuffle(ours, peak, 101, dm_test_seed(), (uint64_t)i);
            ours_ok += same_dinuc_composition(peak, ours, 101);
            ours_same += memcmp(peak, ours, 101) == 0;
        }
        cr_assert_eq(ok, 500, "%s: %d of 500 _shuf rows match their _peak", dm_test_b_files[f], ok);
        cr_assert_geq(mono_rejected, 495, "%s: checker accepted %d mononucleotide shuffles",
                      dm_test_b_files[f], 500 - mono_rejected);
        cr_assert_eq(ours_ok, 500, "%s: dm_dinuc_shuffle broke composition", dm_test_b_files[f]);
        cr_assert_leq(ours_same, 5, "%s: %d shuffles equal their input", dm_test_b_files[f], ours_same);
        dm_dataset_free(&ds);
        files++;
    }
    if (files == 0) cr_skip_test("no DeepBind _B files in %s/deepbind", dm_test_data_dir());
}
