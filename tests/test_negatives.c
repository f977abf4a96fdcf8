/*
 * test_negatives.c: negatives for a BED of peaks (host/negatives.c): flanking windows (exactly D bp
 * from their peak, never overlapping a peak or leaving the chromosome, each kept once), GC-matched
 * background windows (the peaks' GC histogram, recomputed here from the FASTA text, matched bin for
 * bin; deterministic in the seed) and the data set of the peaks each followed by its negatives.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deepmotif.h"
#include "dm_internal.h"
#include "genome.h"
#include "testutil.h"

/* ---- a genome of blocks of different GC content ----------------------------------------------- */

#define N_CHROMS 2
static const char *const names[N_CHROMS] = {"chrA", "chrB"};
static const int64_t lens[N_CHROMS] = {60000, 40000};
static char *seqs[N_CHROMS];   /* the text of each chromosome, as written */
static char *dir, *fa;

static uint64_t lcg(uint64_t *x) {
    *x = *x * 6364136223846793005ULL + 1442695040888963407ULL;
    return *x >> 33;
}

/* Blocks of 500 bp, each with its own GC probability in 0.15..0.85; a few N stretches. */
static void setup(void) {
    dir = dm_test_tmpdir();
    fa = malloc(strlen(dir) + 8);
    sprintf(fa, "%s/g.fa", dir);
    FILE *f = fopen(fa, "w");
    cr_assert(f);
    uint64_t x = 11;
    for (int c = 0; c < N_CHROMS; c++) {
        seqs[c] = malloc((size_t)lens[c] + 1);
        double pgc = 0.5;
        for (int64_t p = 0; p < lens[c]; p++) {
            if (p % 500 == 0) pgc = 0.15 + 0.7 * (double)(lcg(&x) % 1000) / 1000.0;
            bool gc = (double)(lcg(&x) % 10000) / 10000.0 < pgc;
            seqs[c][p] = gc ? "CG"[lcg(&x) & 1] : "AT"[lcg(&x) & 1];
            if (p % 7919 < 20 && p > 1000) seqs[c][p] = 'N';
        }
        seqs[c][lens[c]] = 0;
        fprintf(f, ">%s\n", names[c]);
        for (int64_t p = 0; p < lens[c]; p += 70) fprintf(f, "%.70s\n", seqs[c] + p);
    }
    cr_assert_eq(fclose(f), 0);
}

static void teardown(void) {
    for (int c = 0; c < N_CHROMS; c++) free(seqs[c]);
    free(fa);
    dm_test_rmdir(dir);
    free(dir);
}

TestSuite(negatives, .init = setup, .fini = teardown);

static int chrom_of(const char *name) {
    for (int c = 0; c < N_CHROMS; c++)
        if (!strcmp(names[c], name)) return c;
    cr_assert_fail("no chromosome %s", name);
    return -1;
}

/* The test's own GC bin of a window of the text (GC over A/C/G/T; -1 for none), and whether it has N. */
static int text_gc_bin(const dm_region *r, bool *has_n) {
    const char *s = seqs[chrom_of(r->chrom)];
    int64_t gc = 0, acgt = 0;
    *has_n = false;
    for (int64_t p = r->start; p < r->end; p++) {
        if (s[p] == 'N') {
            *has_n = true;
            continue;
        }
        acgt++;
        gc += s[p] == 'C' || s[p] == 'G';
    }
    if (!acgt) return -1;
    int b = (int)((double)gc / (double)acgt * DM_GC_BINS);
    return b < DM_GC_BINS ? b : DM_GC_BINS - 1;
}

static double text_gc(const dm_region *r) {
    const char *s = seqs[chrom_of(r->chrom)];
    int64_t gc = 0, acgt = 0;
    for (int64_t p = r->start; p < r->end; p++) {
        if (s[p] == 'N') continue;
        acgt++;
        gc += s[p] == 'C' || s[p] == 'G';
    }
    return acgt ? (double)gc / (double)acgt : 0;
}

/* Writes a BED and reads it back, resized to len around the centre. */
static void bed_of(const char *name, const char *text, int32_t len, dm_regions *rs) {
    char *p = malloc(strlen(dir) + strlen(name) + 2);
    sprintf(p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    fputs(text, f);
    fclose(f);
    cr_assert_eq(dm_bed_read(p, 0, rs), DM_STATUS_OK, "%s", dm_last_error());
    if (len) dm_regions_resize(rs, len, DM_RESIZE_CENTER);
    free(p);
}

/* Whether r overlaps any peak's span (BED interval or window). */
static bool overlaps_peak(const dm_region *r, const dm_regions *peaks) {
    for (int64_t i = 0; i < peaks->n; i++) {
        const dm_region *p = &peaks->r[i];
        if (strcmp(p->chrom, r->chrom)) continue;
        int64_t s = p->start < p->bed_start ? p->start : p->bed_start;
        int64_t e = p->end > p->bed_end ? p->end : p->bed_end;
        if (r->start < e && s < r->end) return true;
    }
    return false;
}

/* ---- flank:D ------------------------------------------------------------------------------------ */

Test(negatives, flank_windows) {
    dm_genome *g;
    cr_assert_eq(dm_genome_open(&g, fa), DM_STATUS_OK, "%s", dm_last_error());
    /* p1, p2: alone (two flanks each); p3: its left flank is past the start of chrB; p4 and p5: 2D
     * apart, sharing one flank (kept once); p6: 250 bp right of p7, so its left flank, and p7's right
     * one, overlap a peak; p8 on the minus strand near the end of chrA (right flank off the end). */
    const int64_t D = 300;
    dm_regions peaks;
    bed_of("peaks.bed", "chrA\t5000\t5200\tp1\t0\t+\n"
                        "chrB\t9000\t9050\tp2\t0\t-\n"
                        "chrB\t100\t180\tp3\t0\t+\n"
                        "chrA\t20000\t20101\tp4\t0\t+\n"
                        "chrA\t20600\t20701\tp5\t0\t+\n"
                        "chrA\t30250\t30351\tp6\t0\t+\n"
                        "chrA\t30000\t30100\tp7\t0\t+\n"
                        "chrA\t59750\t59900\tp8\t0\t-\n", 101, &peaks);
    dm_regions neg;
    int64_t *pair;
    cr_assert_eq(dm_negatives_flank(&peaks, g, D, &neg, &pair), DM_STATUS_OK, "%s", dm_last_error());
    /* expected: p1 2, p2 2, p3 1 (right), p4 2 + p5 1 (the shared one once), p6 1 (right), p7 1 (left), p8 1 */
    cr_assert_eq(neg.n, 11, "got %lld flanks", (long long)neg.n);
    int per_peak[8] = {0};
    for (int64_t k = 0; k < neg.n; k++) {
        const dm_region *r = &neg.r[k], *p = &peaks.r[pair[k]];
        per_peak[pair[k]]++;
        cr_assert_str_eq(r->chrom, p->chrom);
        cr_assert_eq(r->end - r->start, 101);
        cr_assert(r->start - p->start == D || p->start - r->start == D, "%s is not %lld bp from %s", r->name,
                  (long long)D, p->name);
        cr_assert_eq(r->strand, p->strand);
        cr_assert_eq(r->label, 0);
        cr_assert(r->start >= 0 && r->end <= lens[chrom_of(r->chrom)]);
        cr_assert(!overlaps_peak(r, &peaks), "%s overlaps a peak", r->name);
        for (int64_t j = 0; j < k; j++)
            cr_assert(!(neg.r[j].start == r->start && !strcmp(neg.r[j].chrom, r->chrom)), "%s twice", r->name);
    }
    static const int want[8] = {2, 2, 1, 2, 1, 1, 1, 1};
    for (int i = 0; i < 8; i++) cr_assert_eq(per_peak[i], want[i], "peak %d: %d flanks", i + 1, per_peak[i]);
    dm_regions_free(&neg);
    free(pair);
    dm_regions tmp;
    int64_t *tmp_pair;
    cr_assert_eq(dm_negatives_flank(&peaks, g, 0, &tmp, &tmp_pair), DM_STATUS_ARG);

    /* the data set: every peak (1) followed by its negatives (0), one group each */
    dm_dataset ds;
    dm_regions rows;
    cr_assert_eq(dm_negatives_flank(&peaks, g, D, &neg, &pair), DM_STATUS_OK);
    cr_assert_eq(dm_peaks_dataset(&peaks, &neg, pair, g, 101, &ds, &rows), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(ds.n, peaks.n + neg.n);
    int64_t row = 0;
    for (int64_t i = 0; i < peaks.n; i++) {
        cr_assert_eq(ds.label[row], 1);
        cr_assert_str_eq(ds.id[row], peaks.r[i].name);
        int64_t grp = ds.group[row++];
        for (int k = 0; k < want[i]; k++, row++) {
            cr_assert_eq(ds.label[row], 0);
            cr_assert_eq(ds.group[row], grp);
            cr_assert_str_eq(rows.r[row].chrom, peaks.r[i].chrom);
        }
    }
    cr_assert_eq(row, ds.n);
    dm_dataset_free(&ds);
    dm_regions_free(&rows);
    dm_regions_free(&neg);
    free(pair);
    dm_regions_free(&peaks);
    dm_genome_close(g);
}

/* ---- gc-matched ---------------------------------------------------------------------------------- */

/* 120 peaks of 101 bp at positions spread over both chromosomes (their GC varies with the blocks). */
static void many_peaks(dm_regions *peaks) {
    char text[8192];
    size_t n = 0;
    for (int i = 0; i < 120; i++) {
        int c = i % 2;
        int64_t s = 1000 + (int64_t)i * 311 % (lens[c] - 2000);
        n += (size_t)snprintf(text + n, sizeof text - n, "%s\t%lld\t%lld\tq%d\n", names[c], (long long)s,
                              (long long)s + 101, i);
    }
    bed_of("many.bed", text, 101, peaks);
}

static void gc_draw(const dm_regions *peaks, const dm_regions *bg, dm_genome *g, uint64_t seed, dm_regions *neg,
                    int64_t **pair, dm_gc_report *rep) {
    cr_assert_eq(dm_negatives_gc(peaks, bg, g, 101, seed, neg, pair, rep), DM_STATUS_OK, "%s", dm_last_error());
}

Test(negatives, gc_matched_histogram) {
    dm_genome *g;
    cr_assert_eq(dm_genome_open(&g, fa), DM_STATUS_OK, "%s", dm_last_error());
    dm_regions peaks, bg;
    many_peaks(&peaks);
    bed_of("bg.bed", "chrA\t0\t60000\nchrB\t0\t40000\n", 0, &bg);
    dm_regions neg;
    int64_t *pair;
    dm_gc_report rep;
    gc_draw(&peaks, &bg, g, 7, &neg, &pair, &rep);
    /* the positives' histogram, recomputed from the text */
    int64_t pos[DM_GC_BINS] = {0}, negh[DM_GC_BINS] = {0};
    for (int64_t i = 0; i < peaks.n; i++) {
        bool has_n;
        int b = text_gc_bin(&peaks.r[i], &has_n);
        if (b >= 0) pos[b]++;
    }
    for (int b = 0; b < DM_GC_BINS; b++) cr_assert_eq(rep.pos_hist[b], pos[b], "bin %d", b);
    /* the candidates, recounted from the text: 101-bp tiles of each chromosome without N and away
     * from the peaks */
    int64_t cand[DM_GC_BINS] = {0}, ncand = 0;
    for (int c = 0; c < N_CHROMS; c++)
        for (int64_t s = 0; s + 101 <= lens[c]; s += 101) {
            dm_region w = {.start = s, .end = s + 101};
            snprintf(w.chrom, sizeof w.chrom, "%s", names[c]);
            bool has_n;
            int b = text_gc_bin(&w, &has_n);
            if (has_n || overlaps_peak(&w, &peaks)) continue;
            cand[b]++, ncand++;
        }
    cr_assert_eq(rep.candidates, ncand);
    int short_bins = 0;
    for (int b = 0; b < DM_GC_BINS; b++) {
        cr_assert_eq(rep.cand_hist[b], cand[b], "bin %d", b);
        /* every bin gets its peaks' count, or all its candidates when it has fewer */
        int64_t want = pos[b] < cand[b] ? pos[b] : cand[b];
        cr_assert_eq(rep.neg_hist[b], want, "bin %d", b);
        short_bins += cand[b] < pos[b];
    }
    /* this background (≈ 950 windows of GC 0.15..0.85) is short only at the extreme GC of a few peaks */
    cr_assert_leq(short_bins, 2);
    cr_assert_geq(rep.found, rep.wanted - 5, "found %lld of %lld", (long long)rep.found, (long long)rep.wanted);
    double mean_pos = 0, mean_neg = 0;
    for (int64_t k = 0; k < neg.n; k++) {
        const dm_region *r = &neg.r[k];
        bool has_n;
        int b = text_gc_bin(r, &has_n);
        cr_assert(!has_n, "%s holds an N", r->name);
        cr_assert(!overlaps_peak(r, &peaks), "%s overlaps a peak", r->name);
        cr_assert_eq(r->end - r->start, 101);
        cr_assert_eq(r->start % 101, 0, "background windows tile from the region's start");
        negh[b]++;
        /* paired with a peak of its own bin */
        bool pn;
        cr_assert_eq(text_gc_bin(&peaks.r[pair[k]], &pn), b);
        mean_neg += text_gc(r);
        mean_pos += text_gc(&peaks.r[pair[k]]);
    }
    for (int b = 0; b < DM_GC_BINS; b++) cr_assert_eq(negh[b], rep.neg_hist[b], "bin %d", b);
    /* pairs share a bin of width 1/DM_GC_BINS, so the mean GC fractions differ by less than that */
    cr_assert_lt(fabs(mean_pos - mean_neg) / (double)neg.n, 1.0 / DM_GC_BINS);

    /* the same seed: the same windows; another seed: other ones (≥ 5 candidates per filled bin here) */
    dm_regions neg2, neg3;
    int64_t *pair2, *pair3;
    dm_gc_report rep2, rep3;
    gc_draw(&peaks, &bg, g, 7, &neg2, &pair2, &rep2);
    gc_draw(&peaks, &bg, g, 8, &neg3, &pair3, &rep3);
    cr_assert_eq(neg2.n, neg.n);
    int same3 = 0;
    for (int64_t k = 0; k < neg.n; k++) {
        cr_assert(neg2.r[k].start == neg.r[k].start && !strcmp(neg2.r[k].chrom, neg.r[k].chrom));
        cr_assert_eq(pair2[k], pair[k]);
        same3 += neg3.r[k].start == neg.r[k].start && !strcmp(neg3.r[k].chrom, neg.r[k].chrom);
    }
    cr_assert_lt(same3, neg.n, "seed 8 drew exactly the windows of seed 7");
    free(pair), free(pair2), free(pair3);
    dm_regions_free(&neg), dm_regions_free(&neg2), dm_regions_free(&neg3);
    dm_regions_free(&bg);
    dm_regions_free(&peaks);
    dm_genome_close(g);
}

Test(negatives, gc_matched_short_background) {
    dm_genome *g;
    cr_assert_eq(dm_genome_open(&g, fa), DM_STATUS_OK, "%s", dm_last_error());
    dm_regions peaks, bg;
    many_peaks(&peaks);
    bed_of("small.bed", "chrB\t30000\t32000\n", 0, &bg);   /* 19 windows for 120 peaks */
    dm_regions neg;
    int64_t *pair;
    dm_gc_report rep;
    gc_draw(&peaks, &bg, g, 3, &neg, &pair, &rep);
    cr_assert_lt(rep.found, rep.wanted);
    cr_assert_eq(rep.found, neg.n);
    cr_assert_leq(rep.candidates, 19);
    for (int b = 0; b < DM_GC_BINS; b++) cr_assert_leq(rep.neg_hist[b], rep.pos_hist[b]);
    free(pair);
    dm_regions_free(&neg);
    dm_regions_free(&bg);
    /* a background region outside the genome is the background file's error, with its line */
    bed_of("badbg.bed", "chrB\t0\t100\nchrZ\t0\t100\n", 0, &bg);
    cr_assert_eq(dm_negatives_gc(&peaks, &bg, g, 101, 3, &neg, &pair, &rep), DM_STATUS_FORMAT);
    cr_assert(strstr(dm_last_error(), "badbg.bed:2: "), "%s", dm_last_error());
    dm_regions_free(&bg);
    dm_regions_free(&peaks);
    dm_genome_close(g);
}
