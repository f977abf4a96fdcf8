/*
 * test_simulate.c: the simulated data set (host/simulate.c): built-in motifs, determinism down to
 * the bytes of the written file, balanced labels and shuffle pairs, planted motifs at the recorded
 * position and strand, the GC fraction, and the DeepBind TSV round trip through the reader.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "deepmotif.h"
#include "dm_internal.h"
#include "simulate.h"
#include "testutil.h"

/* ---- helpers --------------------------------------------------------------------------------- */

/* Whole file into a malloc'd buffer; *n its size. */
static char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    cr_assert(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)size + 1);
    cr_assert(buf);
    cr_assert_eq(fread(buf, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    *n = (size_t)size;
    return buf;
}

static int motif_index(const char *name) {
    for (int i = 0; i < dm_sim_motif_count(); i++)
        if (strcmp(dm_sim_motif_name(i), name) == 0) return i;
    return -1;
}

/* Parses "sim_NNNNNN_peak|NAME:START:S": the motif index, start and strand ('+' / '-'). */
static void parse_site(const char *id, int *motif, int *start, char *strand) {
    const char *bar = strchr(id, '|');
    cr_assert(bar, "positive id '%s' lacks the site", id);
    char name[32];
    cr_assert_eq(sscanf(bar + 1, "%31[^:]:%d:%c", name, start, strand), 3, "bad site in '%s'", id);
    *motif = motif_index(name);
    cr_assert_geq(*motif, 0, "unknown motif in '%s'", id);
    cr_assert(*strand == '+' || *strand == '-');
}

/* The site as read on the motif's own strand (reverse-complemented for '-'). */
static void site_codes(const uint8_t *row, int start, int w, char strand, uint8_t *site) {
    for (int j = 0; j < w; j++)
        site[j] = strand == '+' ? row[start + j] : (uint8_t)(3 - row[start + w - 1 - j]);
}

/* Log-odds of a site under the motif against a uniform background. */
static double site_score(int m, const uint8_t *site) {
    const float *ppm = dm_sim_motif_ppm(m);
    double s = 0;
    for (int j = 0; j < dm_sim_motif_width(m); j++) s += log(ppm[4 * j + site[j]] / 0.25);
    return s;
}

/* Number of site positions equal to the motif's consensus (most probable base per column). */
static int consensus_matches(int m, const uint8_t *site) {
    const float *ppm = dm_sim_motif_ppm(m);
    int hits = 0;
    for (int j = 0; j < dm_sim_motif_width(m); j++) {
        int best = 0;
        for (int b = 1; b < 4; b++)
            if (ppm[4 * j + b] > ppm[4 * j + best]) best = b;
        hits += site[j] == best;
    }
    return hits;
}

/* ---- motifs ---------------------------------------------------------------------------------- */

Test(simulate, builtin_motifs_are_probability_matrices) {
    int n = dm_sim_motif_count();
    cr_assert(n >= 4 && n <= 6, "%d built-in motifs", n);
    for (int i = 0; i < n; i++) {
        const char *name = dm_sim_motif_name(i);
        int w = dm_sim_motif_width(i);
        const float *ppm = dm_sim_motif_ppm(i);
        cr_assert(name && w >= 6 && w <= 30 && ppm);
        for (int j = 0; j < i; j++) cr_assert_str_neq(name, dm_sim_motif_name(j));
        for (int r = 0; r < w; r++) {
            double sum = 0;
            for (int b = 0; b < 4; b++) {
                cr_assert(ppm[4 * r + b] > 0 && ppm[4 * r + b] < 1);
                sum += ppm[4 * r + b];
            }
            cr_assert(fabs(sum - 1) < 1e-5, "%s row %d sums to %g", name, r, sum);
        }
    }
    cr_assert_null(dm_sim_motif_name(n));
    cr_assert_null(dm_sim_motif_ppm(-1));
    cr_assert_eq(dm_sim_motif_width(n), 0);
}

/* ---- the data set ---------------------------------------------------------------------------- */

Test(simulate, defaults) {
    dm_sim_options o;
    dm_sim_options_default(&o);
    cr_assert_eq(o.n_pos, 5000);
    cr_assert_eq(o.len, 101);
    cr_assert_eq(o.seed, 1);
    cr_assert_null(o.motifs);
    cr_assert_float_eq(o.gc, 0.42, 1e-12);
}

Test(simulate, balanced_paired_and_planted) {
    dm_sim_options o;
    dm_sim_options_default(&o);
    o.n_pos = 1000;
    o.seed = dm_test_seed();
    dm_dataset ds;
    cr_assert_eq(dm_simulate(&ds, &o), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(ds.n, 2000);
    cr_assert_eq(ds.len, 101);

    double planted = 0, elsewhere = 0;
    long matches = 0, sites = 0, gc = 0, strand_minus = 0;
    int weak = 0;
    uint8_t site[64];
    for (int64_t i = 0; i < o.n_pos; i++) {
        const uint8_t *pos = ds.seq + 2 * i * 101, *neg = pos + 101;
        /* Labels, groups and ids of the pair. */
        cr_assert_eq(ds.label[2 * i], 1);
        cr_assert_eq(ds.label[2 * i + 1], 0);
        cr_assert_eq(ds.group[2 * i], i + 1);
        cr_assert_eq(ds.group[2 * i + 1], i + 1);
        cr_assert_eq(ds.seq_len[2 * i], 101);
        char want[48];
        snprintf(want, sizeof want, "sim_%06lld_shuf", (long long)i + 1);
        cr_assert_str_eq(ds.id[2 * i + 1], want);
        snprintf(want, sizeof want, "sim_%06lld_peak|CTCF:", (long long)i + 1);
        cr_assert(strncmp(ds.id[2 * i], want, strlen(want)) == 0, "id %s", ds.id[2 * i]);

        /* The negative is the dinucleotide shuffle of (seed, row i). */
        uint8_t shuf[101];
        dm_dinuc_shuffle(shuf, pos, 101, o.seed, (uint64_t)i);
        cr_assert(memcmp(shuf, neg, 101) == 0, "pair %lld: negative is not its shuffle",
                  (long long)i);

        /* The recorded site lies inside and scores like a motif instance. */
        int m, start;
        char strand;
        parse_site(ds.id[2 * i], &m, &start, &strand);
        int w = dm_sim_motif_width(m);
        cr_assert(start >= 0 && start + w <= 101, "site %d..%d outside", start, start + w);
        site_codes(pos, start, w, strand, site);
        double s = site_score(m, site);
        planted += s;
        weak += s <= 0;
        matches += consensus_matches(m, site);
        sites += w;
        strand_minus += strand == '-';
        /* The same window read on the other strand, as a baseline. */
        site_codes(pos, start, w, strand == '+' ? '-' : '+', site);
        elsewhere += site_score(m, site);
        for (int p = 0; p < 101; p++) gc += pos[p] == DM_BASE_C || pos[p] == DM_BASE_G;
    }
    double frac = (double)matches / (double)sites;
    cr_log_info("planted log-odds %.2f vs %.2f on the other strand; consensus %.3f; GC %.3f",
                planted / o.n_pos, elsewhere / o.n_pos, frac, (double)gc / (101.0 * o.n_pos));
    cr_assert_gt(frac, 0.6, "planted sites match the consensus at %.3f only", frac);
    cr_assert_gt(planted / o.n_pos, elsewhere / o.n_pos + 10.0);
    /* Sampled instances average ≈ 10 nats (CTCF's 14.5 bits); about 1 % fall below 0. */
    cr_assert_lt(weak, 30, "%d planted sites score no better than background", weak);
    cr_assert(strand_minus > 400 && strand_minus < 600, "%ld minus-strand sites", strand_minus);
    /* Background GC 0.42 over 82 bases plus a GC-rich CTCF site over 19. */
    double gcf = (double)gc / (101.0 * (double)o.n_pos);
    cr_assert(gcf > 0.42 && gcf < 0.50, "GC fraction %.3f", gcf);
    dm_dataset_free(&ds);
}

Test(simulate, several_motifs_and_gc) {
    dm_sim_options o;
    dm_sim_options_default(&o);
    o.n_pos = 600;
    o.motifs = "rest,GATA,Usf";
    o.gc = 0.6;
    o.len = 200;
    dm_dataset ds;
    cr_assert_eq(dm_simulate(&ds, &o), DM_STATUS_OK, "%s", dm_last_error());
    int count[8] = {0};
    long gc = 0, bases = 0;
    uint8_t site[64];
    for (int64_t i = 0; i < o.n_pos; i++) {
        int m, start;
        char strand;
        parse_site(ds.id[2 * i], &m, &start, &strand);
        count[m]++;
        site_codes(ds.seq + 2 * i * 200, start, dm_sim_motif_width(m), strand, site);
        cr_assert_gt(consensus_matches(m, site), dm_sim_motif_width(m) / 3);
        /* GC of the background: bases before the site. */
        for (int p = 0; p < start; p++) gc += ds.seq[2 * i * 200 + p] == DM_BASE_C ||
                                              ds.seq[2 * i * 200 + p] == DM_BASE_G;
        bases += start;
    }
    int rest = motif_index("REST"), gata = motif_index("GATA"), usf = motif_index("USF");
    cr_assert_eq(count[rest] + count[gata] + count[usf], 600, "only the named motifs are planted");
    cr_assert(count[rest] > 150 && count[gata] > 150 && count[usf] > 150, "%d %d %d", count[rest],
              count[gata], count[usf]);
    double gcf = (double)gc / (double)bases;
    cr_assert(fabs(gcf - 0.6) < 0.02, "background GC %.3f, asked 0.6", gcf);
    dm_dataset_free(&ds);
}

Test(simulate, bad_options) {
    dm_sim_options o;
    dm_dataset ds;
    dm_sim_options_default(&o);
    o.motifs = "CTCF,NOPE";
    cr_assert_eq(dm_simulate(&ds, &o), DM_STATUS_ARG);
    cr_assert(strstr(dm_last_error(), "NOPE"), "%s", dm_last_error());
    cr_assert_eq(ds.n, 0);
    o.motifs = "CTCF,";
    cr_assert_eq(dm_simulate(&ds, &o), DM_STATUS_ARG);
    dm_sim_options_default(&o);
    o.len = 18;   /* CTCF is 19 wide */
    cr_assert_eq(dm_simulate(&ds, &o), DM_STATUS_ARG);
    dm_sim_options_default(&o);
    o.gc = 1.5;
    cr_assert_eq(dm_simulate(&ds, &o), DM_STATUS_ARG);
    dm_sim_options_default(&o);
    o.n_pos = 0;
    cr_assert_eq(dm_simulate(&ds, &o), DM_STATUS_ARG);
}

/* ---- determinism and the DeepBind file ------------------------------------------------------ */

Test(simulate, same_seed_same_bytes) {
    char *dir = dm_test_tmpdir();
    char a[4096], b[4096], c[4096];
    snprintf(a, sizeof a, "%s/a.seq.gz", dir);
    snprintf(b, sizeof b, "%s/b.seq.gz", dir);
    snprintf(c, sizeof c, "%s/c.seq.gz", dir);
    dm_sim_options o;
    dm_sim_options_default(&o);
    o.n_pos = 500;
    o.motifs = "CTCF,ETS,FOXA";
    for (int k = 0; k < 3; k++) {
        dm_dataset ds;
        o.seed = k < 2 ? 77 : 78;
        cr_assert_eq(dm_simulate(&ds, &o), DM_STATUS_OK, "%s", dm_last_error());
        cr_assert_eq(dm_dataset_write_deepbind(&ds, k == 0 ? a : k == 1 ? b : c), DM_STATUS_OK,
                     "%s", dm_last_error());
        dm_dataset_free(&ds);
    }
    size_t na, nb, nc;
    char *fa = slurp(a, &na), *fb = slurp(b, &nb), *fc = slurp(c, &nc);
    cr_assert(na == nb && memcmp(fa, fb, na) == 0, "same seed, different bytes");
    cr_assert(na != nc || memcmp(fa, fc, na) != 0, "another seed, same bytes");
    cr_assert(na > 2 && (uint8_t)fa[0] == 0x1F && (uint8_t)fa[1] == 0x8B, "a .gz path is gzip");
    free(fa);
    free(fb);
    free(fc);

    /* The first k positives do not depend on how many follow. */
    dm_dataset big, small;
    o.seed = 77;
    o.n_pos = 50;
    cr_assert_eq(dm_simulate(&small, &o), DM_STATUS_OK);
    o.n_pos = 80;
    cr_assert_eq(dm_simulate(&big, &o), DM_STATUS_OK);
    cr_assert(memcmp(small.seq, big.seq, (size_t)(small.n * small.len)) == 0);
    dm_dataset_free(&small);
    dm_dataset_free(&big);
    dm_test_rmdir(dir);
    free(dir);
}

Test(simulate, deepbind_file_reads_back) {
    char *dir = dm_test_tmpdir();
    dm_sim_options o;
    dm_sim_options_default(&o);
    o.n_pos = 300;
    o.len = 60;
    dm_dataset ds;
    cr_assert_eq(dm_simulate(&ds, &o), DM_STATUS_OK, "%s", dm_last_error());
    for (int gz = 0; gz < 2; gz++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/sim.seq%s", dir, gz ? ".gz" : "");
        cr_assert_eq(dm_dataset_write_deepbind(&ds, path), DM_STATUS_OK, "%s", dm_last_error());
        dm_dataset back;
        cr_assert_eq(dm_dataset_read(&back, path, DM_FORMAT_AUTO, 60), DM_STATUS_OK, "%s",
                     dm_last_error());
        cr_assert_eq(back.format, DM_FORMAT_DEEPBIND);
        cr_assert_eq(back.n, ds.n);
        cr_assert(memcmp(back.seq, ds.seq, (size_t)(ds.n * ds.len)) == 0);
        for (int64_t i = 0; i < ds.n; i++) {
            cr_assert_str_eq(back.id[i], ds.id[i]);
            cr_assert_eq(back.label[i], ds.label[i]);
            cr_assert_eq(back.group[i], ds.group[i], "row %lld: the reader must pair groups",
                         (long long)i);
        }
        dm_dataset_free(&back);
    }
    /* The plain file starts with the DeepBind header. */
    char path[4096];
    snprintf(path, sizeof path, "%s/sim.seq", dir);
    size_t n;
    char *text = slurp(path, &n);
    const char *head = "FoldID\tEventID\tseq\tBound\nA\tsim_000001_peak|CTCF:";
    cr_assert(n > strlen(head) && strncmp(text, head, strlen(head)) == 0);
    free(text);

    /* A failed write leaves nothing behind; an unlabelled row is refused. */
    snprintf(path, sizeof path, "%s/no/such/dir/x.seq.gz", dir);
    cr_assert_eq(dm_dataset_write_deepbind(&ds, path), DM_STATUS_IO);
    snprintf(path, sizeof path, "%s/unlabelled.seq", dir);
    ds.label[3] = DM_LABEL_UNKNOWN;
    cr_assert_eq(dm_dataset_write_deepbind(&ds, path), DM_STATUS_ARG);
    struct stat st;
    cr_assert_neq(stat(path, &st), 0);
    dm_dataset_free(&ds);
    dm_test_rmdir(dir);
    free(dir);
}
