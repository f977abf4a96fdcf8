/*
 * negatives.c: negatives for a BED of peaks (genome.h): flanking windows, GC-matched background
 * windows, and the data set of the peaks each followed by its negatives.
 *
 * A peak's span, for overlaps, is the union of its BED interval and its window (the region resized to
 * the model's length): a negative may touch neither. Flanks are the peak's window shifted d bp to
 * the left and to the right. GC-matched negatives tile the background regions with windows of the
 * model's length (from each region's start, stride the length), keep those inside their chromosome,
 * without N/IUPAC codes and away from every peak, bin them by GC fraction (DM_GC_BINS equal bins of
 * [0, 1]) and draw, in each bin, as many as the peaks in that bin by reservoir sampling from the
 * `negatives` stream of the seed (deterministic: the same inputs and seed give the same windows).
 */
#define _GNU_SOURCE   /* qsort_r */
#include <stdbool.h>
#include <string.h>

#include "dm_internal.h"
#include "dm_rng.h"
#include "genome.h"

/* ---- peak spans per chromosome, for overlap queries ------------------------------------------ */

typedef struct dm_span {
    int chrom;
    int64_t start, end;
} dm_span;

typedef struct dm_spans {
    int64_t n;
    dm_span *s;          /* sorted by (chrom, start) */
    int64_t *max_end;    /* (n) running maximum of end within each chromosome, for the query */
} dm_spans;

static int dm_span_cmp(const void *a, const void *b) {
    const dm_span *x = a, *y = b;
    if (x->chrom != y->chrom) return x->chrom < y->chrom ? -1 : 1;
    return x->start < y->start ? -1 : x->start > y->start;
}

static void dm_spans_free(dm_spans *sp) {
    free(sp->s);
    free(sp->max_end);
    memset(sp, 0, sizeof *sp);
}

/* The spans of the peaks (checked against g: every chromosome exists). */
static dm_status dm_spans_build(dm_spans *sp, const dm_regions *peaks, dm_genome *g) {
    memset(sp, 0, sizeof *sp);
    int64_t n = peaks->n;
    sp->s = malloc((size_t)(n ? n : 1) * sizeof *sp->s);
    sp->max_end = malloc((size_t)(n ? n : 1) * sizeof *sp->max_end);
    if (!sp->s || !sp->max_end) {
        dm_spans_free(sp);
        return dm_error(DM_STATUS_NOMEM, "%s: out of memory", peaks->path);
    }
    for (int64_t i = 0; i < n; i++) {
        const dm_region *r = &peaks->r[i];
        sp->s[i].chrom = dm_genome_chrom_index(g, r->chrom);
        sp->s[i].start = r->start < r->bed_start ? r->start : r->bed_start;
        sp->s[i].end = r->end > r->bed_end ? r->end : r->bed_end;
    }
    sp->n = n;
    qsort(sp->s, (size_t)n, sizeof *sp->s, dm_span_cmp);
    for (int64_t i = 0; i < n; i++) {
        bool same = i > 0 && sp->s[i - 1].chrom == sp->s[i].chrom;
        sp->max_end[i] = same && sp->max_end[i - 1] > sp->s[i].end ? sp->max_end[i - 1] : sp->s[i].end;
    }
    return DM_STATUS_OK;
}

/* Whether [start, end) on chrom overlaps a span: the last span starting before `end` on the chromosome,
 * and the running maximum of the ends up to it. */
static bool dm_spans_overlap(const dm_spans *sp, int chrom, int64_t start, int64_t end) {
    int64_t lo = 0, hi = sp->n;   /* first index with (chrom, start) >= (chrom, end) */
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        const dm_span *m = &sp->s[mid];
        if (m->chrom < chrom || (m->chrom == chrom && m->start < end)) lo = mid + 1;
        else hi = mid;
    }
    int64_t k = lo - 1;
    return k >= 0 && sp->s[k].chrom == chrom && sp->max_end[k] > start;
}

/* ---- growing region lists ------------------------------------------------------------------- */

typedef struct dm_reglist {
    dm_regions *rs;
    int64_t cap;
    int64_t *pair;
} dm_reglist;

static dm_status dm_reglist_push(dm_reglist *l, const dm_region *r, int64_t peak) {
    if (l->rs->n == l->cap) {
        int64_t cap = l->cap ? 2 * l->cap : 256;
        dm_region *p = realloc(l->rs->r, (size_t)cap * sizeof *p);
        if (!p) return dm_error(DM_STATUS_NOMEM, "out of memory for %lld negatives", (long long)cap);
        l->rs->r = p;
        int64_t *q = realloc(l->pair, (size_t)cap * sizeof *q);
        if (!q) return dm_error(DM_STATUS_NOMEM, "out of memory for %lld negatives", (long long)cap);
        l->pair = q;
        l->cap = cap;
    }
    l->rs->r[l->rs->n] = *r;
    l->pair[l->rs->n++] = peak;
    return DM_STATUS_OK;
}

/* Drops every region equal (chrom, start, end, strand) to an earlier one, with its pair entry: the
 * right flank of one peak may be the left flank of another. */
static int dm_dup_cmp(const void *a, const void *b, void *ctx) {
    const dm_region *r = ctx;
    int64_t i = *(const int64_t *)a, j = *(const int64_t *)b;
    const dm_region *x = &r[i], *y = &r[j];
    int c = strcmp(x->chrom, y->chrom);
    if (c) return c;
    if (x->start != y->start) return x->start < y->start ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    if (x->strand != y->strand) return x->strand < y->strand ? -1 : 1;
    return i < j ? -1 : i > j;   /* the earlier one first: it is the one kept */
}

static dm_status dm_drop_duplicates(dm_regions *rs, int64_t *pair) {
    int64_t n = rs->n;
    if (n < 2) return DM_STATUS_OK;
    int64_t *ord = malloc((size_t)n * sizeof *ord);
    bool *drop = calloc((size_t)n, sizeof *drop);
    if (!ord || !drop) {
        free(ord), free(drop);
        return dm_error(DM_STATUS_NOMEM, "%s: out of memory", rs->path);
    }
    for (int64_t i = 0; i < n; i++) ord[i] = i;
    qsort_r(ord, (size_t)n, sizeof *ord, dm_dup_cmp, rs->r);
    for (int64_t k = 1; k < n; k++) {
        const dm_region *x = &rs->r[ord[k - 1]], *y = &rs->r[ord[k]];
        drop[ord[k]] = x->start == y->start && x->end == y->end && x->strand == y->strand && !strcmp(x->chrom, y->chrom);
    }
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++)
        if (!drop[i]) rs->r[m] = rs->r[i], pair[m++] = pair[i];
    rs->n = m;
    free(ord), free(drop);
    return DM_STATUS_OK;
}

/* ---- flanks ------------------------------------------------------------------------------------ */

dm_status dm_negatives_flank(const dm_regions *peaks, dm_genome *g, int64_t d, dm_regions *out, int64_t **pair) {
    DM_CHECK_ARG(peaks && g && out && pair, "dm_negatives_flank: NULL argument");
    DM_CHECK_ARG(d >= 1, "dm_negatives_flank: distance %lld (at least 1)", (long long)d);
    memset(out, 0, sizeof *out);
    *pair = NULL;
    snprintf(out->path, sizeof out->path, "%s", peaks->path);
    DM_TRY(dm_regions_check(peaks, g));
    dm_spans sp;
    DM_TRY(dm_spans_build(&sp, peaks, g));
    dm_reglist l = {.rs = out};
    dm_status st = DM_STATUS_OK;
    for (int64_t i = 0; i < peaks->n && !st; i++) {
        const dm_region *p = &peaks->r[i];
        int chrom = dm_genome_chrom_index(g, p->chrom);
        int64_t clen = dm_genome_chrom_len(g, chrom);
        for (int side = -1; side <= 1 && !st; side += 2) {
            dm_region r = *p;
            r.start = p->start + side * d;
            r.end = p->end + side * d;
            if (r.start < 0 || r.end > clen || dm_spans_overlap(&sp, chrom, r.start, r.end)) continue;
            r.bed_start = r.start;
            r.bed_end = r.end;
            r.label = 0;
            snprintf(r.name, sizeof r.name, "%.100s|flank%c%lld", p->name, side < 0 ? '-' : '+', (long long)d);
            st = dm_reglist_push(&l, &r, i);
        }
    }
    dm_spans_free(&sp);
    if (!st) st = dm_drop_duplicates(out, l.pair);
    if (st) {
        dm_regions_free(out);
        free(l.pair);
        return st;
    }
    *pair = l.pair;
    return DM_STATUS_OK;
}

/* ---- GC-matched -------------------------------------------------------------------------------- */

/* The GC bin of codes[0, n): -1 when it holds an N (or is empty). */
static int dm_gc_bin(const uint8_t *codes, int64_t n, bool allow_n) {
    int64_t gc = 0, acgt = 0;
    for (int64_t j = 0; j < n; j++) {
        if (codes[j] >= DM_BASE_N) {
            if (!allow_n) return -1;
            continue;
        }
        acgt++;
        gc += codes[j] == DM_BASE_C || codes[j] == DM_BASE_G;
    }
    if (acgt == 0) return -1;
    int b = (int)((double)gc / (double)acgt * DM_GC_BINS);
    return b < DM_GC_BINS ? b : DM_GC_BINS - 1;
}

int dm_gc_bin_of(const uint8_t *codes, int64_t n) { return dm_gc_bin(codes, n, true); }

/* One candidate window kept by a bin's reservoir. */
typedef struct dm_cand {
    int64_t bg;      /* background region */
    int64_t start;
} dm_cand;

dm_status dm_negatives_gc(const dm_regions *peaks, const dm_regions *background, dm_genome *g, int32_t len,
                          uint64_t seed, dm_regions *out, int64_t **pair, dm_gc_report *rep) {
    DM_CHECK_ARG(peaks && background && g && out && pair && rep, "dm_negatives_gc: NULL argument");
    DM_CHECK_ARG(len >= 1, "dm_negatives_gc: length %d", (int)len);
    memset(out, 0, sizeof *out);
    memset(rep, 0, sizeof *rep);
    *pair = NULL;
    snprintf(out->path, sizeof out->path, "%s", background->path);
    DM_TRY(dm_regions_check(peaks, g));
    DM_TRY(dm_regions_check(background, g));
    uint8_t *codes = malloc((size_t)len);
    /* the peaks of each bin, in peak order: bin b's are peak_of[first[b] .. first[b + 1]) */
    int64_t *peak_bin = malloc((size_t)(peaks->n ? peaks->n : 1) * sizeof *peak_bin);
    int64_t *peak_of = malloc((size_t)(peaks->n ? peaks->n : 1) * sizeof *peak_of);
    dm_cand *res = malloc((size_t)(peaks->n ? peaks->n : 1) * sizeof *res);
    if (!codes || !peak_bin || !peak_of || !res) {
        free(codes), free(peak_bin), free(peak_of), free(res);
        return dm_error(DM_STATUS_NOMEM, "%s: out of memory", peaks->path);
    }
    dm_spans sp = {0};
    dm_status st = dm_spans_build(&sp, peaks, g);
    int64_t first[DM_GC_BINS + 1] = {0}, seen[DM_GC_BINS] = {0};
    /* 1. the positives' histogram (GC over their A/C/G/T bases; a window of N only is left out) */
    for (int64_t i = 0; i < peaks->n && !st; i++) {
        const dm_region *p = &peaks->r[i];
        int64_t w = p->end - p->start < len ? p->end - p->start : len;
        st = dm_genome_fetch(g, dm_genome_chrom_index(g, p->chrom), p->start, p->start + w, '+', codes);
        peak_bin[i] = st ? -1 : dm_gc_bin(codes, w, true);
        if (!st && peak_bin[i] >= 0) rep->pos_hist[peak_bin[i]]++;
    }
    for (int b = 0; b < DM_GC_BINS; b++) first[b + 1] = first[b] + rep->pos_hist[b];
    int64_t fill[DM_GC_BINS];
    for (int b = 0; b < DM_GC_BINS; b++) fill[b] = first[b];
    for (int64_t i = 0; i < peaks->n && !st; i++)
        if (peak_bin[i] >= 0) peak_of[fill[peak_bin[i]]++] = i;
    rep->wanted = first[DM_GC_BINS];
    /* 2. every background window, each bin's reservoir of the size of its positives' count */
    dm_rng rng;
    dm_rng_init(&rng, seed, DM_STREAM_NEGATIVES, 0x6763u);   /* "gc": apart from the shuffles' rows */
    for (int64_t k = 0; k < background->n && !st; k++) {
        const dm_region *bg = &background->r[k];
        int chrom = dm_genome_chrom_index(g, bg->chrom);
        for (int64_t s = bg->start; s + len <= bg->end && !st; s += len) {
            if (dm_spans_overlap(&sp, chrom, s, s + len)) continue;
            st = dm_genome_fetch(g, chrom, s, s + len, '+', codes);
            if (st) break;
            int b = dm_gc_bin(codes, len, false);
            if (b < 0) continue;
            rep->candidates++;
            rep->cand_hist[b]++;
            int64_t want = rep->pos_hist[b], t = seen[b]++;
            if (want == 0) continue;
            int64_t slot = t < want ? t : (int64_t)(t + 1 <= UINT32_MAX ? dm_rng_below(&rng, (uint32_t)(t + 1))
                                                                        : dm_rng_u64(&rng) % (uint64_t)(t + 1));
            if (slot < want) res[first[b] + slot] = (dm_cand){.bg = k, .start = s};
        }
    }
    /* 3. bin by bin, reservoir slot j pairs with the bin's j-th peak */
    dm_reglist l = {.rs = out};
    for (int b = 0; b < DM_GC_BINS && !st; b++) {
        int64_t got = seen[b] < rep->pos_hist[b] ? seen[b] : rep->pos_hist[b];
        rep->neg_hist[b] = got;
        rep->found += got;
        for (int64_t j = 0; j < got && !st; j++) {
            const dm_cand *c = &res[first[b] + j];
            const dm_region *bg = &background->r[c->bg];
            dm_region r = {.start = c->start, .end = c->start + len, .bed_start = c->start, .bed_end = c->start + len,
                           .strand = '+', .label = 0, .line = bg->line};
            snprintf(r.chrom, sizeof r.chrom, "%s", bg->chrom);
            snprintf(r.name, sizeof r.name, "%.80s:%lld-%lld|gc", bg->chrom, (long long)r.start, (long long)r.end);
            st = dm_reglist_push(&l, &r, peak_of[first[b] + j]);
        }
    }
    dm_spans_free(&sp);
    free(codes), free(peak_bin), free(peak_of), free(res);
    if (st) {
        dm_regions_free(out);
        free(l.pair);
        return st;
    }
    *pair = l.pair;
    return DM_STATUS_OK;
}

/* ---- peaks with their negatives as a data set --------------------------------------------------- */

dm_status dm_peaks_dataset(const dm_regions *peaks, const dm_regions *neg, const int64_t *pair, dm_genome *g,
                           int32_t len, dm_dataset *out, dm_regions *rows) {
    DM_CHECK_ARG(peaks && neg && g && out && (pair || neg->n == 0), "dm_peaks_dataset: NULL argument");
    memset(out, 0, sizeof *out);
    if (rows) memset(rows, 0, sizeof *rows);
    int64_t n = peaks->n + neg->n;
    dm_regions all = {0};
    snprintf(all.path, sizeof all.path, "%s", peaks->path);
    int64_t *group = malloc((size_t)(n ? n : 1) * sizeof *group);
    int64_t *count = calloc((size_t)(peaks->n + 1), sizeof *count);   /* negatives per peak, then offsets */
    all.r = malloc((size_t)(n ? n : 1) * sizeof *all.r);
    if (!group || !count || !all.r) {
        free(group), free(count), free(all.r);
        return dm_error(DM_STATUS_NOMEM, "%s: out of memory", peaks->path);
    }
    for (int64_t k = 0; k < neg->n; k++) {
        DM_CHECK_ARG(pair[k] >= 0 && pair[k] < peaks->n, "dm_peaks_dataset: negative %lld pairs with peak %lld",
                     (long long)k, (long long)pair[k]);
        count[pair[k]]++;
    }
    /* row of peak i: i + the negatives of the peaks before it; its negatives follow it */
    int64_t row = 0;
    for (int64_t i = 0; i < peaks->n; i++) {
        int64_t c = count[i];
        count[i] = row + 1;   /* next free row for peak i's negatives */
        all.r[row] = peaks->r[i];
        all.r[row].label = 1;
        group[row] = i;
        row += 1 + c;
    }
    for (int64_t k = 0; k < neg->n; k++) {
        int64_t r = count[pair[k]]++;
        all.r[r] = neg->r[k];
        all.r[r].label = 0;
        group[r] = pair[k];
    }
    all.n = n;
    dm_status st = dm_regions_dataset(&all, g, len, out);
    if (!st)
        for (int64_t i = 0; i < n; i++) out->group[i] = group[i];
    free(group), free(count);
    if (!st && rows) *rows = all;
    else dm_regions_free(&all);
    return st;
}
