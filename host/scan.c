/*
 * scan.c: genome-wide scans (see scan.h): the core (windows from a sequential reader, batched through
 * the model on its backend, the track and the peaks written as they come) and its two sources, a
 * genome's regions (dm_genome_fetch) and the records of a FASTA file (host/scan_fasta.c).
 */
#include <stdlib.h>
#include <string.h>

#include "dm_internal.h"
#include "predavg.h"
#include "scan.h"

#define SCAN_BUF (1 << 20)   /* bases held per interval at a time (plus one window) */

void dm_scan_options_default(dm_scan_options *o) {
    memset(o, 0, sizeof *o);
    o->stride = 1;
    o->threshold = 0.5f;
    o->format = DM_TRACK_BIGWIG;
}

/* ---- peaks: windows over the threshold, merged when they overlap or touch ---------------------- */

typedef struct peaks {
    dm_outfile out;
    int chrom;          /* the open peak's chromosome, −1 when none is open */
    int64_t start, end;
    float best;
    int64_t n;
    const char *const *names;
} peaks;

static void peak_close(peaks *k) {
    if (k->chrom < 0) return;
    k->n++;
    fprintf(k->out.f, "%s\t%lld\t%lld\tpeak_%lld\t%.4f\n", k->names[k->chrom], (long long)k->start,
            (long long)k->end, (long long)k->n, (double)k->best);
    k->chrom = -1;
}

static void peak_add(peaks *k, int chrom, int64_t start, int64_t end, float p) {
    if (k->chrom == chrom && start <= k->end) {
        if (end > k->end) k->end = end;
        if (p > k->best) k->best = p;
        return;
    }
    peak_close(k);
    k->chrom = chrom, k->start = start, k->end = end, k->best = p;
}

/* ---- the core ----------------------------------------------------------------------------------- */

typedef struct scan_state {
    dm_net *m;
    const dm_scan_options *o;
    int L, B;                  /* window length, model rows per batch */
    uint8_t *rows;             /* (B, L) codes of the batch */
    float *p;                  /* (B) P(bound) of the rows */
    int64_t *pos;              /* window start of each window of the batch */
    int nw;                    /* windows in the batch */
    int chrom;
    int64_t a, b;              /* the interval */
    dm_track *track;
    peaks pk;
    dm_scan_stats *stats;
    int64_t done, total;       /* bases of the finished intervals and of all, for progress */
    int64_t at;                /* bases of the current interval up to the last scored window */
    double t0, t_print;
} scan_state;

static const uint8_t comp[6] = {DM_BASE_T, DM_BASE_G, DM_BASE_C, DM_BASE_A, DM_BASE_N, DM_BASE_PAD};

/* The first base of the track interval of window p: ⌊(L − S) / 2⌋ after it (a floor also when S > L). */
static int64_t centre_start(int64_t p, int L, int S) {
    int64_t d = (int64_t)L - S;
    return p + (d >= 0 ? d / 2 : -((-d + 1) / 2));
}

static void report(scan_state *s, bool last);

/* Scores the batch's windows and writes them in order. */
static dm_status flush_batch(scan_state *s) {
    if (!s->nw) return DM_STATUS_OK;
    bool both = !s->o->plus_only;
    int nrows = both ? 2 * s->nw : s->nw, L = s->L, S = s->o->stride;
    DM_TRY(dm_net_score_codes(s->m, s->rows, nrows, s->o->n_quarter, s->p));   /* an ensemble's mean */
    for (int w = 0; w < s->nw; w++) {
        float v = s->p[w];
        if (both) {
            float r = s->p[s->nw + w];
            v = s->o->mean ? 0.5f * (v + r) : (r > v ? r : v);
        }
        int64_t p = s->pos[w], ts = centre_start(p, L, S), te = ts + S;
        if (ts < s->a) ts = s->a;
        if (te > s->b) te = s->b;
        DM_TRY(dm_track_add(s->track, s->chrom, ts, te, v));
        if (v >= s->o->threshold) peak_add(&s->pk, s->chrom, p, p + L, v);
    }
    s->stats->windows += s->nw;
    s->at = s->pos[s->nw - 1] + S - s->a;
    s->nw = 0;
    report(s, false);
    return DM_STATUS_OK;
}

/* The reverse complements of the batch's windows, in the rows after the forward ones. */
static void fill_reverse(scan_state *s) {
    int L = s->L;
    for (int k = 0; k < s->nw; k++) {
        const uint8_t *f = s->rows + (size_t)k * L;
        uint8_t *r = s->rows + (size_t)(s->nw + k) * L;
        for (int j = 0; j < L; j++) r[j] = comp[f[L - 1 - j] < 6 ? f[L - 1 - j] : DM_BASE_N];
    }
}

static dm_status finish_batch(scan_state *s) {
    if (!s->nw) return DM_STATUS_OK;
    if (!s->o->plus_only) fill_reverse(s);
    return flush_batch(s);
}

/* Adds window codes w (L bases) at position p to the batch; a full batch is scored. */
static dm_status add_window(scan_state *s, const uint8_t *w, int64_t p) {
    int L = s->L, cap = s->o->plus_only ? s->B : s->B / 2;
    memcpy(s->rows + (size_t)s->nw * L, w, (size_t)L);
    s->pos[s->nw++] = p;
    return s->nw < cap ? DM_STATUS_OK : finish_batch(s);
}

static void report(scan_state *s, bool last) {
    double now = dm_now();
    if (!s->o->progress || (!last && now - s->t_print < 0.5)) return;
    s->t_print = now;
    int64_t done = s->done + (last ? 0 : s->at);
    if (done > s->total) done = s->total;
    dm_log_progress("scan", done, s->total, "scan: %lld / %lld bases (%.1f%%)  %.0f windows/s",
                    (long long)done, (long long)s->total, s->total ? 100.0 * (double)done / (double)s->total : 100.0,
                    (double)s->stats->windows / (now - s->t0 > 1e-9 ? now - s->t0 : 1e-9));
}

/* One interval: a buffer of up to SCAN_BUF + L bases slides along it. */
static dm_status scan_interval(scan_state *s, uint8_t *buf, size_t cap, dm_scan_read_fn read, void *ctx) {
    int L = s->L, S = s->o->stride;
    int64_t bstart = s->a, blen = 0;
    for (int64_t p = s->a; p + L <= s->b; p += S) {
        if (p + L > bstart + blen) {   /* slide: keep [p, buffer end), read on */
            if (p >= bstart + blen) bstart = p, blen = 0;
            else {
                memmove(buf, buf + (p - bstart), (size_t)(bstart + blen - p));
                blen -= p - bstart;
                bstart = p;
            }
            int64_t n = (int64_t)cap - blen;
            if (n > s->b - (bstart + blen)) n = s->b - (bstart + blen);
            DM_TRY(read(ctx, s->chrom, bstart + blen, n, buf + blen));
            blen += n;
        }
        DM_TRY(add_window(s, buf + (p - bstart), p));
    }
    DM_TRY(finish_batch(s));
    s->done += s->b - s->a;
    s->at = 0;
    return DM_STATUS_OK;
}

dm_status dm_scan_run(dm_net *m, int n_chroms, const char *const *names, const int64_t *lens,
                      const dm_scan_interval *iv, int64_t n_iv, dm_scan_read_fn read, void *ctx,
                      const dm_scan_options *o, const char *prefix, dm_scan_stats *stats) {
    DM_CHECK_ARG(o->stride >= 1, "scan: stride %d (at least 1)", o->stride);
    memset(stats, 0, sizeof *stats);
    int L = dm_net_hparams(m)->len, B = dm_net_max_batch(m);
    DM_CHECK_ARG(o->plus_only || B >= 2, "scan: both strands need batches of at least 2");
    int64_t windows = 0;
    for (int64_t i = 0; i < n_iv; i++) {
        int64_t n = iv[i].end - iv[i].start;
        stats->bases += n;
        if (n < L) stats->short_intervals++;
        else windows += (n - L) / o->stride + 1;
    }
    stats->n_intervals = n_iv;
    if (!windows)
        return dm_error(DM_STATUS_FORMAT, "scan: no window: every sequence or region is shorter than the model's "
                        "length %d", L);
    char tpath[4200], ppath[4200];
    if (snprintf(tpath, sizeof tpath, "%s%s", prefix, dm_track_suffix(o->format)) >= (int)sizeof tpath ||
        snprintf(ppath, sizeof ppath, "%s.peaks.bed", prefix) >= (int)sizeof ppath)
        return dm_error(DM_STATUS_ARG, "%s: path too long", prefix);
    scan_state s = {.m = m, .o = o, .L = L, .B = B, .stats = stats, .total = stats->bases, .t0 = dm_now()};
    s.pk.chrom = -1;
    s.pk.names = names;
    size_t cap = SCAN_BUF + (size_t)L;
    uint8_t *buf = malloc(cap);
    s.rows = malloc((size_t)B * L);
    s.p = malloc(sizeof(float) * (size_t)B);
    s.pos = malloc(sizeof(int64_t) * (size_t)B);
    dm_status st = !buf || !s.rows || !s.p || !s.pos ? dm_error(DM_STATUS_NOMEM, "scan: out of memory") : DM_STATUS_OK;
    if (!st) st = dm_track_open(&s.track, tpath, o->format, n_chroms, names, lens);
    if (!st && (st = dm_outfile_open(&s.pk.out, ppath)) != DM_STATUS_OK) {
        dm_track_abort(s.track);
        s.track = NULL;
    }
    for (int64_t i = 0; i < n_iv && !st; i++) {
        s.chrom = iv[i].chrom, s.a = iv[i].start, s.b = iv[i].end;
        st = scan_interval(&s, buf, cap, read, ctx);
    }
    if (!st) {
        peak_close(&s.pk);
        stats->peaks = s.pk.n;
        report(&s, true);
        if (o->progress) dm_log_progress_end("scan");
        /* the track first: when the peaks then fail, the track (already renamed) goes again */
        st = dm_track_commit(s.track);
        s.track = NULL;
        if (st) dm_outfile_abort(&s.pk.out);
        else if ((st = dm_outfile_commit(&s.pk.out)) != DM_STATUS_OK) remove(tpath);
    } else if (s.track) {
        dm_track_abort(s.track);
        dm_outfile_abort(&s.pk.out);
    }
    free(buf);
    free(s.rows);
    free(s.p);
    free(s.pos);
    return st;
}

/* ---- a genome's regions ------------------------------------------------------------------------- */

typedef struct genome_src {
    dm_genome *g;
    const int *chrom_of;   /* the genome's chromosome of each track chromosome */
} genome_src;

static dm_status genome_read(void *ctx, int chrom, int64_t start, int64_t n, uint8_t *codes) {
    genome_src *src = ctx;
    return dm_genome_fetch(src->g, src->chrom_of[chrom], start, start + n, '+', codes);
}

static int iv_cmp(const void *x, const void *y) {
    const dm_scan_interval *a = x, *b = y;
    if (a->chrom != b->chrom) return a->chrom < b->chrom ? -1 : 1;
    return a->start < b->start ? -1 : a->start > b->start;
}

dm_status dm_scan_genome(dm_net *m, dm_genome *g, const dm_regions *rs, const dm_scan_options *o,
                         const char *prefix, dm_scan_stats *stats) {
    int nc = dm_genome_n_chroms(g);
    if (rs) DM_TRY(dm_regions_check(rs, g));
    if (rs && rs->n == 0) return dm_error(DM_STATUS_FORMAT, "%s: no regions", rs->path);
    int64_t n = rs ? rs->n : nc;
    dm_scan_interval *iv = malloc(sizeof *iv * (size_t)(n ? n : 1));
    const char **names = malloc(sizeof(char *) * (size_t)(nc ? nc : 1));
    int64_t *lens = malloc(sizeof(int64_t) * (size_t)(nc ? nc : 1));
    if (!iv || !names || !lens) {
        free(iv); free(names); free(lens);
        return dm_error(DM_STATUS_NOMEM, "scan: out of memory");
    }
    /* a bigWig lists chromosomes of length >= 1: the track's list leaves empty ones out (slot[c]) */
    int *slot = malloc(sizeof(int) * (size_t)(nc ? nc : 1)), *chrom_of = malloc(sizeof(int) * (size_t)(nc ? nc : 1));
    if (!slot || !chrom_of) {
        free(iv); free(names); free(lens); free(slot); free(chrom_of);
        return dm_error(DM_STATUS_NOMEM, "scan: out of memory");
    }
    int nt = 0;
    for (int c = 0; c < nc; c++) {
        slot[c] = -1;
        if (dm_genome_chrom_len(g, c) < 1) continue;
        slot[c] = nt, chrom_of[nt] = c;
        names[nt] = dm_genome_chrom_name(g, c), lens[nt++] = dm_genome_chrom_len(g, c);
    }
    int64_t k = 0;
    if (rs) {
        for (int64_t i = 0; i < n; i++)
            iv[i] = (dm_scan_interval){slot[dm_genome_chrom_index(g, rs->r[i].chrom)], rs->r[i].start, rs->r[i].end};
        qsort(iv, (size_t)n, sizeof *iv, iv_cmp);
        for (int64_t i = 0; i < n; i++) {   /* merge overlapping and touching regions */
            if (k && iv[k - 1].chrom == iv[i].chrom && iv[i].start <= iv[k - 1].end) {
                if (iv[i].end > iv[k - 1].end) iv[k - 1].end = iv[i].end;
            } else iv[k++] = iv[i];
        }
    } else
        for (int t = 0; t < nt; t++) iv[k++] = (dm_scan_interval){t, 0, lens[t]};
    genome_src src = {g, chrom_of};
    dm_status st = nt ? dm_scan_run(m, nt, names, lens, iv, k, genome_read, &src, o, prefix, stats)
                      : dm_error(DM_STATUS_FORMAT, "%s: no chromosome with bases", dm_genome_path(g));
    free(slot);
    free(chrom_of);
    free(iv);
    free(names);
    free(lens);
    return st;
}
