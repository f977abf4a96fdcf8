/*
 * test_motifdb.c: motif files in every supported format (host/motifdb.h), detected by content.
 *  - the same count matrices written by the test as JASPAR (.jaspar, .pfm, bare), HOCOMOCO (.pcm,
 *    .pwm natural-log and log2 odds), TRANSFAC (two base orders) and MEME, plain and gzip, read back
 *    equal to what the stated conversion gives (pseudocount 0.8 spread evenly, or the log-odds
 *    inversion), within the written precision;
 *  - JASPAR 2020 (shared data, MEME): read whole through the dispatcher; its counts rewritten in the
 *    JASPAR, HOCOMOCO and TRANSFAC layouts read back to JASPAR's probabilities (pseudocount 0) and
 *    within 0.6 / (N + 0.8) of them with the default pseudocount;
 *  - malformed inputs of every parser: DM_STATUS_FORMAT naming file and line; through the CLI, exit 1
 *    and nothing written;
 *  - CWM queries: signed MEME matrices detected, compared by Pearson on the signed values (the same
 *    scores as the probabilities they were made from), refused with euclid.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "compare.h"
#include "dm_rng.h"
#include "motifdb.h"
#include "testutil.h"

#define JASPAR "jaspar/JASPAR2020_CORE_vertebrates_non-redundant_pfms_meme.txt"
#define NM 5

/* ---- the test's motifs: integer counts, (w, 4) ---------------------------------------------------- */

static const int widths[NM] = {6, 4, 11, 5, 14}; /* the 4-wide one tests the layout rule */
static const int totals[NM] = {20, 7, 33, 100, 250};
static double counts[NM][14 * 4];

static void make_counts(void) {
    dm_rng r;
    dm_rng_init(&r, dm_test_seed(), 0x6d6462, 1);
    for (int i = 0; i < NM; i++)
        for (int j = 0; j < widths[i]; j++) {
            /* a peaked column: most of N on one base, the rest spread at random (zeros included) */
            int N = totals[i], top = (int)dm_rng_below(&r, 4), left = N;
            double *c = counts[i] + 4 * j;
            c[0] = c[1] = c[2] = c[3] = 0;
            c[top] = left = N - (int)dm_rng_below(&r, (uint32_t)N / 2 + 1);
            left = N - left;
            for (int b = 0; b < 4 && left > 0; b++) {
                if (b == top) continue;
                int k = (int)dm_rng_below(&r, (uint32_t)left + 1);
                c[b] += k;
                left -= k;
            }
            c[top] += left;
        }
}

/* Writes text to dir/name, gzip-compressed when gz. */
static const char *put(const char *dir, const char *name, const char *text, bool gz) {
    static char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (gz) {
        gzFile g = gzopen(path, "wb");
        cr_assert(g && gzputs(g, text) >= 0 && gzclose(g) == Z_OK);
    } else {
        FILE *f = fopen(path, "w");
        cr_assert(f && fputs(text, f) >= 0 && fclose(f) == 0);
    }
    return path;
}

/* A growing text buffer. */
typedef struct buf {
    char s[1 << 16];
    size_t n;
} buf;

static void bprintf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bprintf(buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    b->n += (size_t)vsnprintf(b->s + b->n, sizeof b->s - b->n, fmt, ap);
    va_end(ap);
    cr_assert(b->n < sizeof b->s);
}

/* The probabilities the reader must give counts c with total n: (c + pc/4) / (n + pc). */
static double expect_p(double c, double n, double pc) { return (c + pc / 4) / (n + pc); }

/* Checks set against the test's motifs: ids "M<i>", probabilities from `want` within tol. */
static void check_set(const dm_motif_set *s, double (*want)(int i, int j, int b), double tol, const char *what) {
    cr_assert_eq(s->n, NM, "%s: %d motifs", what, s->n);
    for (int i = 0; i < NM; i++) {
        char id[16];
        snprintf(id, sizeof id, "M%d", i);
        cr_expect_str_eq(s->m[i].id, id, "%s", what);
        cr_assert_eq(s->m[i].w, widths[i], "%s: motif %d width %d", what, i, s->m[i].w);
        for (int j = 0; j < widths[i]; j++)
            for (int b = 0; b < 4; b++)
                cr_assert(fabs(s->m[i].p[4 * j + b] - want(i, j, b)) <= tol, "%s: motif %d [%d][%d] %.8f, want %.8f",
                          what, i, j, b, (double)s->m[i].p[4 * j + b], want(i, j, b));
    }
}

static double want_pc08(int i, int j, int b) { return expect_p(counts[i][4 * j + b], totals[i], 0.8); }
static double want_hoco(int i, int j, int b) { /* HOCOMOCO's own pseudocount, ln N */
    return expect_p(counts[i][4 * j + b], totals[i], log(totals[i]));
}
static double want_freq(int i, int j, int b) { return counts[i][4 * j + b] / totals[i]; }

static dm_status read_as(const char *path, int type, dm_motif_set *s, dm_motifs_info *info) {
    dm_motifs_read_options o;
    dm_motifs_read_options_default(&o);
    o.type = type;
    return dm_motifs_read(path, &o, s, info);
}

/* ---- every format, written by the test --------------------------------------------------------- */

Test(motifdb, every_format_reads_back_the_same_matrices) {
    make_counts();
    char *dir = dm_test_tmpdir();
    static buf b;
    dm_motif_set s;
    dm_motifs_info info;
    /* Counts are written as integers, exactly; the conversion is (c + 0.2) / (N + 0.8) in double, then
     * rounded to float: 1e-7 covers the float rounding (half an ulp of values < 1 is ≤ 6e-8). */
    const double exact = 1e-7;
    for (int gz = 0; gz < 2; gz++) {
        /* JASPAR .jaspar: labelled rows in brackets, the bases in a shuffled order */
        b.n = 0;
        static const int order[4] = {2, 0, 3, 1};
        for (int i = 0; i < NM; i++) {
            bprintf(&b, ">M%d\tTF %d\n", i, i);
            for (int k = 0; k < 4; k++) {
                bprintf(&b, "%c  [", "ACGT"[order[k]]);
                for (int j = 0; j < widths[i]; j++) bprintf(&b, " %3.0f", counts[i][4 * j + order[k]]);
                bprintf(&b, " ]\n");
            }
        }
        cr_assert_eq(dm_motifs_read(put(dir, gz ? "j.jaspar.gz" : "j.jaspar", b.s, gz), NULL, &s, &info),
                     DM_STATUS_OK, "%s", dm_last_error());
        cr_expect_eq(info.format, DM_MOTIF_FMT_JASPAR);
        cr_expect_eq(info.n_counts, NM);
        cr_expect_str_eq(s.m[0].name, "TF 0");
        cr_expect_eq(s.m[3].nsites, 100);
        check_set(&s, want_pc08, exact, "jaspar");
        dm_motif_set_free(&s);

        /* JASPAR .pfm: a header, then 4 unlabelled rows of W counts; CRLF line ends */
        b.n = 0;
        for (int i = 0; i < NM; i++) {
            bprintf(&b, ">M%d X\r\n", i);
            for (int k = 0; k < 4; k++) {
                for (int j = 0; j < widths[i]; j++) bprintf(&b, "%s%.2f", j ? " " : "", counts[i][4 * j + k]);
                bprintf(&b, "\r\n");
            }
        }
        cr_assert_eq(dm_motifs_read(put(dir, "j.pfm", b.s, gz), NULL, &s, &info), DM_STATUS_OK, "%s", dm_last_error());
        cr_expect_eq(info.format, DM_MOTIF_FMT_JASPAR);
        check_set(&s, want_pc08, exact, "pfm rows");
        dm_motif_set_free(&s);

        /* HOCOMOCO .pcm: W rows of 4 counts, tab-separated; the 4-wide motif (M1) comes first, so
         * the layout is decided by a later one */
        b.n = 0;
        static const int seq[NM] = {1, 0, 2, 3, 4};
        for (int q = 0; q < NM; q++) {
            int i = seq[q];
            bprintf(&b, ">M%d\n", i);
            for (int j = 0; j < widths[i]; j++)
                for (int k = 0; k < 4; k++) bprintf(&b, "%.1f%c", counts[i][4 * j + k], k < 3 ? '\t' : '\n');
        }
        cr_assert_eq(dm_motifs_read(put(dir, "h.pcm", b.s, gz), NULL, &s, &info), DM_STATUS_OK, "%s", dm_last_error());
        cr_expect_eq(info.format, DM_MOTIF_FMT_HOCOMOCO);
        cr_assert_eq(s.n, NM);
        dm_motif t = s.m[0]; /* back to the test's order */
        s.m[0] = s.m[1];
        s.m[1] = t;
        check_set(&s, want_pc08, exact, "pcm columns");
        dm_motif_set_free(&s);

        /* HOCOMOCO .pwm: s = ln((c + k/4) / ((N + k) / 4)), k = ln N, 6 decimals. p = e^s / 4: the
         * printed s is within 5e-7 of the true one, so p within 5e-7 relative; 2e-6 absolute covers
         * that and the float rounding. */
        b.n = 0;
        for (int i = 0; i < NM; i++) {
            double k = log(totals[i]);
            bprintf(&b, ">M%d\n", i);
            for (int j = 0; j < widths[i]; j++)
                for (int q = 0; q < 4; q++)
                    bprintf(&b, "%.6f%c", log((counts[i][4 * j + q] + k / 4) / ((totals[i] + k) / 4)), q < 3 ? '\t' : '\n');
        }
        cr_assert_eq(dm_motifs_read(put(dir, "h.pwm", b.s, gz), NULL, &s, &info), DM_STATUS_OK, "%s", dm_last_error());
        cr_expect_eq(info.n_logodds, NM);
        check_set(&s, want_hoco, 2e-6, "pwm ln");
        dm_motif_set_free(&s);

        /* log2 odds with pseudocount 0.8 (TFBSTools' toPWM), JASPAR layout, 4 decimals: 2^s within
         * 0.5e-4 ln 2 relative, 5e-5 absolute */
        b.n = 0;
        for (int i = 0; i < NM; i++) {
            bprintf(&b, ">M%d\n", i);
            for (int q = 0; q < 4; q++)
                for (int j = 0; j < widths[i]; j++)
                    bprintf(&b, "%.4f%c", log2(4 * want_pc08(i, j, q)), j + 1 < widths[i] ? ' ' : '\n');
        }
        cr_assert_eq(dm_motifs_read(put(dir, "l2.pwm", b.s, gz), NULL, &s, &info), DM_STATUS_OK, "%s", dm_last_error());
        check_set(&s, want_pc08, 5e-5, "pwm log2");
        dm_motif_set_free(&s);

        /* TRANSFAC: AC/ID/P0 records, positions 01.., a consensus letter; the second file lists the
         * bases T G C A */
        for (int rev = 0; rev < 2; rev++) {
            b.n = 0;
            bprintf(&b, "VV  a header record\nXX\n//\n");
            for (int i = 0; i < NM; i++) {
                bprintf(&b, "AC  M%d\nXX\nID  tf%d\nXX\nDE  test\n%s\n", i, i, rev ? "P0      T      G      C      A"
                                                                              : "PO      A      C      G      T");
                for (int j = 0; j < widths[i]; j++) {
                    bprintf(&b, "%02d", j + 1);
                    for (int q = 0; q < 4; q++) bprintf(&b, " %6.0f", counts[i][4 * j + (rev ? 3 - q : q)]);
                    bprintf(&b, "      N\n");
                }
                bprintf(&b, "XX\n//\n");
            }
            cr_assert_eq(dm_motifs_read(put(dir, "t.transfac", b.s, gz), NULL, &s, &info), DM_STATUS_OK, "%s",
                         dm_last_error());
            cr_expect_eq(info.format, DM_MOTIF_FMT_TRANSFAC);
            cr_expect_str_eq(s.m[2].name, "tf2");
            check_set(&s, want_pc08, exact, rev ? "transfac TGCA" : "transfac");
            dm_motif_set_free(&s);
        }

        /* frequencies (every position sums to 1), 6 decimals, columns layout: taken as they are
         * (no pseudocount): 4 values rounded by 5e-7 each, renormalised: 2e-6 */
        b.n = 0;
        for (int i = 0; i < NM; i++) {
            bprintf(&b, ">M%d\n", i);
            for (int j = 0; j < widths[i]; j++)
                for (int q = 0; q < 4; q++) bprintf(&b, "%.6f%c", want_freq(i, j, q), q < 3 ? ' ' : '\n');
        }
        cr_assert_eq(dm_motifs_read(put(dir, "f.pfm", b.s, gz), NULL, &s, &info), DM_STATUS_OK, "%s", dm_last_error());
        cr_expect_eq(info.n_probs, NM);
        check_set(&s, want_freq, 2e-6, "frequencies");

        /* MEME: the engine's writer (6 decimals, rows renormalised), through the dispatcher */
        char mp[600];
        snprintf(mp, sizeof mp, "%s/m.meme", dir);
        cr_assert_eq(dm_meme_write(mp, &s), DM_STATUS_OK);
        dm_motif_set_free(&s);
        cr_assert_eq(dm_motifs_read(mp, NULL, &s, &info), DM_STATUS_OK, "%s", dm_last_error());
        cr_expect_eq(info.format, DM_MOTIF_FMT_MEME);
        check_set(&s, want_freq, 2e-6, "meme");
        dm_motif_set_free(&s);
    }
    /* a bare matrix, rows or columns: one motif named after the file */
    cr_assert_eq(dm_motifs_read(put(dir, "MA9.1.pfm", "1 2 3 4 5\n5 4 3 2 1\n0 0 0 0 0\n4 4 4 4 4\n", false), NULL,
                                &s, &info), DM_STATUS_OK, "%s", dm_last_error());
    cr_expect_eq(info.format, DM_MOTIF_FMT_BARE);
    cr_assert_eq(s.n, 1);
    cr_expect_str_eq(s.m[0].id, "MA9.1");
    cr_assert_eq(s.m[0].w, 5);
    cr_expect(fabs(s.m[0].p[0] - expect_p(1, 10, 0.8)) <= exact && fabs(s.m[0].p[4 * 4 + 3] - expect_p(4, 10, 0.8)) <= exact);
    dm_motif_set_free(&s);
    cr_assert_eq(dm_motifs_read(put(dir, "cols.txt.gz", "A [1 2]\nC [3 4]\nG [5 6]\nT [7 8]\n", true), NULL, &s, &info),
                 DM_STATUS_OK, "%s", dm_last_error());
    cr_expect_str_eq(s.m[0].id, "cols");
    cr_expect(fabs(s.m[0].p[4 + 2] - expect_p(6, 20, 0.8)) <= exact);
    dm_motif_set_free(&s);
    dm_test_rmdir(dir);
    free(dir);
}

/* ---- JASPAR 2020 ---------------------------------------------------------------------------------- */

Test(motifdb, jaspar_2020_in_every_layout) {
    const char *path = dm_test_data_file(JASPAR);
    if (!path) cr_skip_test("%s not found (set DM_DATA_DIR)", JASPAR);
    dm_motif_set ref, s;
    dm_motifs_info info;
    cr_assert_eq(dm_meme_read(path, &ref), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(dm_motifs_read(path, NULL, &s, &info), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(info.format, DM_MOTIF_FMT_MEME);
    cr_assert_eq(info.type, DM_MOTIF_PPM);
    cr_assert_eq(s.n, ref.n);
    for (int i = 0; i < s.n; i++)
        cr_assert(s.m[i].w == ref.m[i].w && !memcmp(s.m[i].p, ref.m[i].p, sizeof(float) * 4 * (size_t)s.m[i].w));
    dm_motif_set_free(&s);
    /* Its counts, p x nsites, rewritten (4 decimals) in three layouts */
    char *dir = dm_test_tmpdir();
    size_t cap = 8u << 20;
    char *t[3] = {malloc(cap), malloc(cap), malloc(cap)};
    size_t n[3] = {0, 0, 0};
    for (int i = 0; i < ref.n; i++) {
        const dm_motif *m = &ref.m[i];
        cr_assert(m->nsites > 0);
        n[0] += (size_t)snprintf(t[0] + n[0], cap - n[0], ">%s\t%s\n", m->id, m->name);
        n[1] += (size_t)snprintf(t[1] + n[1], cap - n[1], ">%s\n", m->id);
        n[2] += (size_t)snprintf(t[2] + n[2], cap - n[2], "AC  %s\nXX\nID  %s\nXX\nP0  A C G T\n", m->id, m->name);
        for (int b = 0; b < 4; b++) {
            n[0] += (size_t)snprintf(t[0] + n[0], cap - n[0], "%c [", "ACGT"[b]);
            for (int j = 0; j < m->w; j++)
                n[0] += (size_t)snprintf(t[0] + n[0], cap - n[0], " %.4f", m->p[4 * j + b] * m->nsites);
            n[0] += (size_t)snprintf(t[0] + n[0], cap - n[0], " ]\n");
        }
        for (int j = 0; j < m->w; j++) {
            n[2] += (size_t)snprintf(t[2] + n[2], cap - n[2], "%02d", j + 1);
            for (int b = 0; b < 4; b++) {
                n[1] += (size_t)snprintf(t[1] + n[1], cap - n[1], "%.4f%c", m->p[4 * j + b] * m->nsites, b < 3 ? '\t' : '\n');
                n[2] += (size_t)snprintf(t[2] + n[2], cap - n[2], " %.4f", m->p[4 * j + b] * m->nsites);
            }
            n[2] += (size_t)snprintf(t[2] + n[2], cap - n[2], "\n");
        }
        n[2] += (size_t)snprintf(t[2] + n[2], cap - n[2], "XX\n//\n");
        for (int k = 0; k < 3; k++) cr_assert(n[k] < cap);
    }
    static const char *names[3] = {"jaspar2020.jaspar", "jaspar2020.pcm", "jaspar2020.transfac"};
    static const dm_motif_format fmts[3] = {DM_MOTIF_FMT_JASPAR, DM_MOTIF_FMT_HOCOMOCO, DM_MOTIF_FMT_TRANSFAC};
    for (int k = 0; k < 3; k++) {
        const char *p = put(dir, names[k], t[k], k == 1);
        for (int pcz = 0; pcz < 2; pcz++) {
            dm_motifs_read_options o;
            dm_motifs_read_options_default(&o);
            if (pcz) o.pseudocount = 0;
            cr_assert_eq(dm_motifs_read(p, &o, &s, &info), DM_STATUS_OK, "%s", dm_last_error());
            cr_assert_eq(info.format, fmts[k], "%s", names[k]);
            cr_assert_eq(s.n, ref.n);
            double worst = 0;
            for (int i = 0; i < s.n; i++) {
                const dm_motif *m = &ref.m[i];
                cr_assert(!strcmp(s.m[i].id, m->id) && s.m[i].w == m->w);
                /* pseudocount 0: counts rounded to 4 decimals over N >= 1 sites, and JASPAR's own 6 decimals:
                 * within 1e-5. With 0.8: |(c + 0.2) / (N + 0.8) - c / N| <= 0.6 / (N + 0.8) (motifdb.h). */
                double bound = (pcz ? 0 : 0.6 / (m->nsites + 0.8)) + 1e-5;
                for (int q = 0; q < 4 * m->w; q++) {
                    double d = fabs(s.m[i].p[q] - m->p[q]);
                    cr_assert(d <= bound, "%s %s entry %d: %g vs %g", names[k], m->id, q, s.m[i].p[q], m->p[q]);
                    worst = d > worst ? d : worst;
                }
            }
            cr_log_info("%s, pseudocount %s: largest difference from JASPAR's MEME probabilities %.3g", names[k],
                        pcz ? "0" : "0.8", worst);
            dm_motif_set_free(&s);
        }
    }
    for (int k = 0; k < 3; k++) free(t[k]);
    dm_motif_set_free(&ref);
    dm_test_rmdir(dir);
    free(dir);
}

/* ---- malformed inputs ------------------------------------------------------------------------------- */

/* The text must fail with DM_STATUS_FORMAT naming "path:line:" (line 0: the path alone). */
static void expect_bad(const char *dir, const char *name, const char *text, int line, int type, const char *what) {
    const char *path = put(dir, name, text, false);
    dm_motif_set s = {7, (dm_motif *)&s};
    cr_expect_eq(read_as(path, type, &s, NULL), DM_STATUS_FORMAT, "%s: accepted (%s)", what, dm_last_error());
    cr_expect(s.n == 0 && s.m == NULL, "%s: the set is left empty", what);
    char want[700];
    if (line)
        snprintf(want, sizeof want, "%s:%d: ", path, line);
    else
        snprintf(want, sizeof want, "%s: ", path);
    cr_expect(strncmp(dm_last_error(), want, strlen(want)) == 0, "%s: message '%s' does not start '%s'", what,
              dm_last_error(), want);
}

Test(motifdb, malformed_inputs_name_file_and_line) {
    char *dir = dm_test_tmpdir();
    const int A = DM_MOTIF_AUTO;
    /* detection */
    expect_bad(dir, "e.jaspar", "", 0, A, "empty");
    expect_bad(dir, "e.jaspar", "\n\n  \n", 0, A, "blank");
    expect_bad(dir, "e.jaspar", "\n# a comment\n>M\n1 2\n", 2, A, "unknown first line");
    expect_bad(dir, "e.jaspar", "hello\n", 1, A, "text");
    /* '>' headed */
    expect_bad(dir, "h.jaspar", ">\nA [1]\n", 1, A, "header without an id");
    expect_bad(dir, "h.jaspar", ">a\n>b\nA [1]\nC [1]\nG [1]\nT [1]\n", 1, A, "motif without a matrix");
    expect_bad(dir, "h.jaspar", ">a\nA [1 2]\nC [1 2]\nG [1 2]\nT [1 2]\n>b\n", 6, A, "last motif without a matrix");
    expect_bad(dir, "h.jaspar", ">a\nA [1 2]\nC [1 x]\nG [1 2]\nT [1 2]\n", 3, A, "non-numeric");
    expect_bad(dir, "h.jaspar", ">a\nA [1 2]\nC [1 2 3]\nG [1 2]\nT [1 2]\n", 3, A, "ragged labelled row");
    expect_bad(dir, "h.jaspar", ">a\nA [1 2]\nA [1 2]\nG [1 2]\nT [1 2]\n", 3, A, "base twice");
    expect_bad(dir, "h.jaspar", ">a\nA [1 2]\nC [1 2]\nG [1 2]\n", 1, A, "three base rows");
    expect_bad(dir, "h.jaspar", ">a\nA [1 2]\nC [1 2]\nG [1 2]\nT [1 2]\n5 6\n", 6, A, "labelled then unlabelled");
    expect_bad(dir, "h.jaspar", ">a\nA [1 2] x\nC [1 2]\nG [1 2]\nT [1 2]\n", 2, A, "text after ]");
    expect_bad(dir, "h.jaspar", ">a\nA [1 inf]\nC [1 2]\nG [1 2]\nT [1 2]\n", 2, A, "infinite");
    expect_bad(dir, "h.jaspar", ">a\nA [1 2]\nC [1 2]\nG [1 1e31]\nT [1 2]\n", 4, A, "beyond 1e30");
    expect_bad(dir, "h.pcm", ">a\n1 2 3 4\n1 2 3\n", 3, A, "ragged rows");
    expect_bad(dir, "h.pcm", ">a\n1 2 3\n1 2 3\n1 2 3\n", 1, A, "3 x 3");
    expect_bad(dir, "h.pcm", ">a\n1 2 3 4 5\n1 2 3 4 5\n1 2 3 4 5\n1 2 3 4 5\n>b\n1 2 3 4\n1 2 3 4\n1 2 3 4\n"
                             "1 2 3 4\n1 2 3 4\n", 6, A, "two layouts in one file");
    expect_bad(dir, "h.pcm", ">a\n1 2 3 4\n0 0 0 0\n1 2 3 4\n1 2 3 4\n1 2 3 4\n", 3, A, "a position without counts");
    expect_bad(dir, "h.pwm", ">a\n-1 0.5 0.5 0.5\n0.1 0.2 -0.3 0.1\n0 0 0 0\n1 -2 0 0\n1 -2 0 0\n", 2, A,
               "log-odds of unknown base");
    expect_bad(dir, "b.pfm", "1 2 3\n4 5 6\n7 8 9\n1 1 1\n>x\n", 5, A, "a header after a bare matrix");
    char longid[400] = ">";
    memset(longid + 1, 'x', 200);
    strcpy(longid + 201, "\n1 2 3 4\n");
    expect_bad(dir, "h.jaspar", longid, 1, A, "identifier too long");
    /* TRANSFAC */
    expect_bad(dir, "t.tf", "AC  a\nXX\nP0 A C G T\n01 1 2 3 4\n03 1 2 3 4\n//\n", 5, A, "position skipped");
    expect_bad(dir, "t.tf", "AC  a\nP0 A C G T\n01 1 2 3\n//\n", 3, A, "three numbers");
    expect_bad(dir, "t.tf", "AC  a\nP0 A C G T\n01 1 2 3 4 5\n//\n", 3, A, "five numbers");
    expect_bad(dir, "t.tf", "AC  a\nP0 A C G G\n01 1 2 3 4\n//\n", 2, A, "bad P0");
    expect_bad(dir, "t.tf", "AC  a\nP0 A C G T\nXX\n//\n", 2, A, "P0 without rows");
    expect_bad(dir, "t.tf", "AC  a\nXX\nID  b\n//\n", 1, A, "record without a matrix");
    expect_bad(dir, "t.tf", "XX\nP0 A C G T\n01 1 2 3 4\n//\n", 4, A, "matrix without AC or ID");
    expect_bad(dir, "t.tf", "AC  a\nP0 A C G T\n01 1 2 3 4\nP0 A C G T\n//\n", 4, A, "two P0 in a record");
    expect_bad(dir, "t.tf", "AC  a\nP0 A C G T\n01 1 2 3 4\n lower case text\n//\n", 4, A, "untagged line");
    expect_bad(dir, "t.tf", "AC  a\nP0 A C G T\n01 0 0 0 0\n//\n", 3, A, "zero counts");
    /* MEME through the dispatcher: the PPM rules, and AUTO's hint for non-negative rows off 1 */
    expect_bad(dir, "m.meme", "MEME version 4\nMOTIF a\nletter-probability matrix: alength= 4 w= 1\n0.5 0.5 0.5 0.5\n", 4,
               A, "meme row sum (auto)");
    cr_expect(strstr(dm_last_error(), "--query-type cwm") != NULL, "the hint: %s", dm_last_error());
    expect_bad(dir, "m.meme", "MEME version 4\nMOTIF a\nletter-probability matrix: alength= 4 w= 1\n-0.5 0.5 0.5 0.5\n", 4,
               DM_MOTIF_PPM, "meme negative (ppm)");
    expect_bad(dir, "m.meme", "MEME version 4\nMOTIF a\nletter-probability matrix: alength= 4 w= 1\n-0.5 0.5 nan 0.5\n", 4,
               DM_MOTIF_CWM, "meme nan (cwm)");
    expect_bad(dir, "m.meme", "MEME version 4\nMOTIF a\nletter-probability matrix: alength= 4 w= 1\n-0.5 0.5 1e39 0.5\n", 4,
               A, "meme beyond float (auto)");
    /* a gzip file cut short is an I/O error naming the file */
    dm_motif_set s;
    char path[600];
    snprintf(path, sizeof path, "%s/cut.jaspar.gz", dir);
    put(dir, "cut.jaspar.gz", ">a\nA [1 2]\nC [1 2]\nG [1 2]\nT [1 2]\n", true);
    cr_assert_eq(truncate(path, 20), 0);
    cr_expect_eq(dm_motifs_read(path, NULL, &s, NULL), DM_STATUS_IO, "%s", dm_last_error());
    cr_expect_eq(dm_motifs_read("/nonexistent/x.jaspar", NULL, &s, NULL), DM_STATUS_IO);
    cr_expect_eq(dm_motifs_read(dir, NULL, &s, NULL), DM_STATUS_IO, "a directory");
    dm_test_rmdir(dir);
    free(dir);
}

Test(motifdb, cli_refuses_a_bad_database_writes_nothing) {
    char *dir = dm_test_tmpdir();
    const char *ok = put(dir, "q.jaspar", ">q\nA [9 0 0 9 1]\nC [0 9 0 0 1]\nG [0 0 9 0 1]\nT [0 0 0 0 6]\n", false);
    char q[600];
    snprintf(q, sizeof q, "%s", ok);
    static const char *bad[] = {">a\nA [1 2]\nC [1 2]\nG [1 2]\nT [1 x]\n", "AC  a\nP0 A C G T\n01 1 2 3\n//\n",
                                ">a\n1 2 3 4\n1 2 3\n"};
    static const int line[] = {5, 3, 3};
    for (int k = 0; k < 3; k++) {
        char db[600];
        snprintf(db, sizeof db, "%s", put(dir, "db.txt", bad[k], false));
        int rc = dm_test_system("%s compare --query %s --db %s --out %s/hits.tsv >%s/out 2>%s/err", DM_TEST_CLI, q, db,
                                dir, dir, dir);
        cr_expect_eq(rc, 1, "case %d: exit %d", k, rc);
        char want[700];
        snprintf(want, sizeof want, "%s:%d:", db, line[k]);
        cr_expect(strstr(dm_test_slurp_in(dir, "err"), want) != NULL, "case %d: '%s' not in: %s", k, want,
                  dm_test_slurp_in(dir, "err"));
        struct stat st;
        char hits[700];
        snprintf(hits, sizeof hits, "%s/hits.tsv", dir);
        cr_expect(stat(hits, &st) != 0, "case %d: nothing written", k);
    }
    /* the query side too, and a CWM with euclid is a usage error */
    char db[600];
    snprintf(db, sizeof db, "%s", put(dir, "db.jaspar", ">d\nA [9 0 0 9 1]\nC [0 9 0 0 1]\nG [0 0 9 0 1]\nT [0 0 0 0 6]\n",
                                      false));
    put(dir, "bad.jaspar", ">q\nA [9 0]\nC [0 9]\nG [0 0]\n", false);
    cr_expect_eq(dm_test_system("%s compare --query %s/bad.jaspar --db %s --out %s/hits.tsv 2>/dev/null", DM_TEST_CLI,
                                dir, db, dir), 1);
    cr_expect_eq(dm_test_system("%s compare --query %s --db %s --out %s/hits.tsv --query-type cwm --dist euclid "
                                "2>/dev/null", DM_TEST_CLI, q, db, dir), 2);
    cr_expect_eq(dm_test_system("%s compare --query %s --db %s --out %s/hits.tsv 2>/dev/null", DM_TEST_CLI, q, db, dir), 0);
    dm_test_rmdir(dir);
    free(dir);
}

/* ---- CWM queries ------------------------------------------------------------------------------------ */

/* A MEME file of TF-MoDISco-like CWMs from the test's motifs: column j of motif i is
 * scale_j (p_j - 1/4) (hypothetical contributions: signed, mean zero) for even i, and the
 * projected contribution scale_j (p_j - 1/4) at the most probable base only, zero elsewhere, for odd i. */
Test(motifdb, cwm_queries_compare_by_pearson_on_signed_values) {
    make_counts();
    char *dir = dm_test_tmpdir();
    dm_motif_set db = {NM, calloc(NM, sizeof(dm_motif))};
    static buf b;
    b.n = 0;
    bprintf(&b, "MEME version 5\n\nALPHABET= ACGT\n\nstrands: + -\n\n");
    for (int i = 0; i < NM; i++) {
        dm_motif *m = &db.m[i];
        snprintf(m->id, sizeof m->id, "M%d", i);
        m->w = widths[i];
        m->p = malloc(sizeof(float) * 4 * (size_t)m->w);
        for (int q = 0; q < 4 * m->w; q++) m->p[q] = (float)want_pc08(i, q / 4, q % 4);
        bprintf(&b, "MOTIF pattern_%d\nletter-probability matrix: alength= 4 w= %d nsites= 1 E= 0\n", i, m->w);
        for (int j = 0; j < m->w; j++) {
            double scale = 0.05 + 0.1 * j, *c = counts[i] + 4 * j;
            int top = 0;
            for (int q = 1; q < 4; q++) top = c[q] > c[top] ? q : top;
            for (int q = 0; q < 4; q++) {
                double v = scale * (m->p[4 * j + q] - 0.25);
                bprintf(&b, " %.6f", i % 2 && q != top ? 0.0 : v);
            }
            bprintf(&b, "\n");
        }
    }
    const char *path = put(dir, "cwm.meme", b.s, false);
    dm_motif_set q;
    dm_motifs_info info;
    cr_assert_eq(dm_motifs_read(path, NULL, &q, &info), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(info.type, DM_MOTIF_CWM, "negative entries make the file's matrices CWMs");
    dm_compare_options o;
    dm_compare_options_default(&o);
    o.null = DM_NULL_SHUFFLE; /* its score is the plain sum of column correlations checked below */
    o.n_null = 500;
    o.thresh = 1;
    o.top = NM;
    dm_hit *h;
    int nh;
    cr_expect_eq(dm_compare(&q, &db, &o, &h, &nh), DM_STATUS_ARG, "signed entries need query_type cwm");
    o.query_type = DM_MOTIF_CWM;
    o.dist = DM_DIST_EUCLID;
    cr_expect_eq(dm_compare(&q, &db, &o, &h, &nh), DM_STATUS_ARG, "cwm needs pearson");
    o.dist = DM_DIST_PEARSON;
    cr_assert_eq(dm_compare(&q, &db, &o, &h, &nh), DM_STATUS_OK, "%s", dm_last_error());
    /* the PPMs themselves as queries */
    dm_hit *hp;
    int np;
    dm_compare_options op = o;
    op.query_type = DM_MOTIF_PPM;
    cr_assert_eq(dm_compare(&db, &db, &op, &hp, &np), DM_STATUS_OK, "%s", dm_last_error());
    for (int i = 0; i < NM; i++) {
        const dm_hit *best = NULL, *bp = NULL, *own = NULL;
        for (int k = 0; k < nh; k++) {
            if (h[k].query == i && !best) best = &h[k];
            if (h[k].query == i && h[k].target == i) own = &h[k];
        }
        for (int k = 0; k < np; k++)
            if (hp[k].query == i && !bp) bp = &hp[k];
        cr_assert(best && bp && own, "query %d has hits, its own motif among them (thresh 1, top 5)", i);
        /* the score against its own motif, at offset 0 on '+': the summed Pearson correlation of the
         * signed columns as read with the probability columns, computed here in double; compare sums
         * float column scores: 1e-5 per column */
        double want = 0;
        for (int j = 0; j < widths[i]; j++) {
            const float *a = q.m[i].p + 4 * j, *c = db.m[i].p + 4 * j;
            double ma = (a[0] + a[1] + a[2] + a[3]) / 4.0, mc = (c[0] + c[1] + c[2] + c[3]) / 4.0, sac = 0, saa = 0,
                   scc = 0;
            for (int k = 0; k < 4; k++) {
                sac += (a[k] - ma) * (c[k] - mc);
                saa += (a[k] - ma) * (a[k] - ma);
                scc += (c[k] - mc) * (c[k] - mc);
            }
            want += saa > 1e-12 && scc > 1e-12 ? sac / sqrt(saa * scc) : 0;
        }
        cr_expect(own->offset == 0 && own->orient == '+', "CWM %d on its motif: %c %d", i, own->orient, own->offset);
        cr_expect(fabs(own->score - want) <= 1e-5 * widths[i], "CWM %d scores %.6f on its motif, want %.6f", i,
                  own->score, want);
        /* Pearson ignores a column's shift and positive scale: the hypothetical CWMs (even i) score what
         * their PPMs score (the largest possible, w) and find their own motif first; 6-decimal signed
         * values move each column's correlation by < 1e-4: 2e-3 over at most 14 columns */
        if (i % 2 == 0) {
            cr_expect_eq(best->target, i, "CWM %d's best target is its own motif (got M%d)", i, best->target);
            cr_expect(fabs(best->score - bp->score) <= 2e-3, "CWM %d scores %.6f, its PPM %.6f", i, best->score,
                      bp->score);
        }
    }
    dm_free(h);
    dm_free(hp);
    dm_motif_set_free(&q);
    /* non-negative rows off 1: refused as PPMs in AUTO (motifdb's malformed test), read with CWM */
    const char *pos = put(dir, "pos.meme", "MEME version 4\nMOTIF a\nletter-probability matrix: alength= 4 w= 2\n"
                                          "0 0.3 0 0\n0.1 0 0 0\n", false);
    cr_assert_eq(read_as(pos, DM_MOTIF_CWM, &q, &info), DM_STATUS_OK, "%s", dm_last_error());
    cr_expect(info.type == DM_MOTIF_CWM && fabsf(q.m[0].p[1] - 0.3f) < 1e-7f, "kept as written");
    dm_motif_set_free(&q);
    /* a JASPAR-layout CWM (negative entries) is read as written only when asked */
    const char *jc = put(dir, "cwm.jaspar", ">c\nA [0.3 -0.1]\nC [-0.1 0.2]\nG [0 0]\nT [0 -0.05]\n", false);
    cr_assert_eq(read_as(jc, DM_MOTIF_CWM, &q, &info), DM_STATUS_OK, "%s", dm_last_error());
    cr_expect(fabsf(q.m[0].p[4 + 3] + 0.05f) < 1e-7f);
    dm_motif_set_free(&q);
    dm_motif_set_free(&db);
    dm_test_rmdir(dir);
    free(dir);
}
