/*
 * track.c: bigWig and bedGraph tracks (see track.h). A bigWig is written by libBigWig, which opens its
 * output by name and seeks in it: it gets the temporary file of a dm_outfile through /proc/self/fd,
 * so the commit (fsync, rename, folder fsync) and the cleanup on failure are dm_outfile's.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <bigWig.h>

#include "dm_internal.h"
#include "track.h"

#define TRACK_BLOCK 4096   /* intervals per bwAddIntervals call */

dm_status dm_track_format_parse(const char *s, dm_track_format *f) {
    if (!strcmp(s, "bigwig")) *f = DM_TRACK_BIGWIG;
    else if (!strcmp(s, "bedgraph")) *f = DM_TRACK_BEDGRAPH;
    else return dm_error(DM_STATUS_ARG, "unknown track format '%s' (bigwig, bedgraph)", s);
    return DM_STATUS_OK;
}

const char *dm_track_suffix(dm_track_format f) { return f == DM_TRACK_BIGWIG ? ".bw" : ".bedGraph"; }

struct dm_track {
    dm_track_format fmt;
    dm_outfile out;
    bigWigFile_t *bw;
    int n;
    char **names;
    int64_t *lens;
    int last_chrom;
    int64_t last_end;
    /* bigWig: the block being gathered, all of chromosome blk_chrom */
    int blk_chrom;
    uint32_t nb, start[TRACK_BLOCK], end[TRACK_BLOCK];
    float val[TRACK_BLOCK];
    const char *chr[TRACK_BLOCK];
};

static pthread_once_t bw_once = PTHREAD_ONCE_INIT;
static int bw_init_rc;
static void bw_init(void) { bw_init_rc = bwInit(1 << 17); }

static void track_free(dm_track *t) {
    for (int i = 0; t->names && i < t->n; i++) free(t->names[i]);
    free(t->names);
    free(t->lens);
    free(t);
}

void dm_track_abort(dm_track *t) {
    if (!t) return;
    if (t->bw) bwClose(t->bw);   /* writes its index into the temporary file, removed next */
    dm_outfile_abort(&t->out);
    track_free(t);
}

dm_status dm_track_open(dm_track **out, const char *path, dm_track_format fmt, int n,
                        const char *const *names, const int64_t *lens) {
    *out = NULL;
    DM_CHECK_ARG(n >= 1 && names && lens, "track: no chromosomes");
    dm_track *t = calloc(1, sizeof *t);
    if (!t) return dm_error(DM_STATUS_NOMEM, "track: out of memory");
    t->fmt = fmt;
    t->n = n;
    t->last_chrom = -1;
    t->blk_chrom = -1;
    t->names = calloc((size_t)n, sizeof(char *));
    t->lens = malloc(sizeof(int64_t) * (size_t)n);
    uint32_t *len32 = malloc(sizeof(uint32_t) * (size_t)n);
    dm_status st = !t->names || !t->lens || !len32 ? dm_error(DM_STATUS_NOMEM, "track: out of memory") : DM_STATUS_OK;
    for (int i = 0; i < n && !st; i++) {
        if (lens[i] < 1 || lens[i] > (int64_t)UINT32_MAX)
            st = dm_error(DM_STATUS_ARG, "%s: chromosome %s: length %lld outside 1 .. 2^32 - 1 (bigWig's limit)", path,
                          names[i], (long long)lens[i]);
        else if (!(t->names[i] = strdup(names[i])))
            st = dm_error(DM_STATUS_NOMEM, "track: out of memory");
        else
            t->lens[i] = lens[i], len32[i] = (uint32_t)lens[i];
    }
    if (!st) st = dm_outfile_open(&t->out, path);
    if (!st && fmt == DM_TRACK_BIGWIG) {
        pthread_once(&bw_once, bw_init);
        char self[64];
        snprintf(self, sizeof self, "/proc/self/fd/%d", t->out.fd);
        if (bw_init_rc != 0) st = dm_error(DM_STATUS_IO, "%s: libBigWig failed to initialise", path);
        else if (t->out.direct) st = dm_error(DM_STATUS_IO, "%s: a bigWig needs a regular file (it seeks)", path);
        else if (!(t->bw = bwOpen(self, NULL, "w"))) st = dm_error(DM_STATUS_IO, "%s: cannot write a bigWig: %s", path, strerror(errno));
        else if (bwCreateHdr(t->bw, 10)) st = dm_error(DM_STATUS_NOMEM, "%s: cannot create the bigWig header", path);
        else if (!(t->bw->cl = bwCreateChromList((const char *const *)t->names, len32, n)))
            st = dm_error(DM_STATUS_NOMEM, "%s: cannot create the bigWig chromosome list", path);
        else if (bwWriteHdr(t->bw)) st = dm_error(DM_STATUS_IO, "%s: write failed: %s", path, strerror(dm_outfile_errno(&t->out)));
    }
    free(len32);
    if (st) {
        dm_track_abort(t);
        return st;
    }
    *out = t;
    return DM_STATUS_OK;
}

static dm_status flush_block(dm_track *t) {
    if (!t->nb) return DM_STATUS_OK;
    int rc = bwAddIntervals(t->bw, t->chr, t->start, t->end, t->val, t->nb);
    t->nb = 0;
    if (rc) return dm_error(DM_STATUS_IO, "%s: write failed: %s", t->out.path, strerror(dm_outfile_errno(&t->out)));
    return DM_STATUS_OK;
}

dm_status dm_track_add(dm_track *t, int chrom, int64_t start, int64_t end, float v) {
    DM_CHECK_ARG(chrom >= 0 && chrom < t->n && start >= 0 && start < end && end <= t->lens[chrom],
                 "track: interval %d:%lld-%lld outside its chromosome", chrom, (long long)start, (long long)end);
    DM_CHECK_ARG(chrom > t->last_chrom || (chrom == t->last_chrom && start >= t->last_end),
                 "track: interval %s:%lld-%lld out of order", t->names[chrom], (long long)start, (long long)end);
    t->last_chrom = chrom;
    t->last_end = end;
    if (t->fmt == DM_TRACK_BEDGRAPH) {
        fprintf(t->out.f, "%s\t%lld\t%lld\t%.6g\n", t->names[chrom], (long long)start, (long long)end, (double)v);
        return DM_STATUS_OK;
    }
    if (chrom != t->blk_chrom || t->nb == TRACK_BLOCK) DM_TRY(flush_block(t));
    t->blk_chrom = chrom;
    t->chr[t->nb] = t->names[chrom];
    t->start[t->nb] = (uint32_t)start;
    t->end[t->nb] = (uint32_t)end;
    t->val[t->nb++] = v;
    return DM_STATUS_OK;
}

dm_status dm_track_commit(dm_track *t) {
    dm_status st = DM_STATUS_OK;
    if (t->fmt == DM_TRACK_BIGWIG) {
        if (t->last_chrom < 0)   /* libBigWig cannot close a bigWig without data */
            st = dm_error(DM_STATUS_ARG, "%s: a bigWig needs at least one interval", t->out.path);
        if (!st) st = flush_block(t);
        if (st) {
            dm_track_abort(t);
            return st;
        }
        bwClose(t->bw);   /* zoom levels and the index: libBigWig reports no error here */
        t->bw = NULL;
        struct stat sb;
        if (fstat(t->out.fd, &sb) != 0 || sb.st_size == 0)
            st = dm_error(DM_STATUS_IO, "%s: write failed: %s", t->out.path, strerror(errno ? errno : EIO));
    }
    if (st) dm_outfile_abort(&t->out);
    else st = dm_outfile_commit(&t->out);
    track_free(t);
    return st;
}

/* ---- per-base averages of overlapping windows ------------------------------------------------- */

struct dm_track_avg {
    dm_track *t;
    int chrom;
    int64_t lo, hi;    /* bases [lo, hi) are held in sum[0 ..), cnt[0 ..) */
    double *sum;
    int32_t *cnt;
    int64_t cap;
};

dm_status dm_track_avg_open(dm_track_avg **out, dm_track *t) {
    dm_track_avg *a = calloc(1, sizeof *a);
    if (!a) return dm_error(DM_STATUS_NOMEM, "track: out of memory");
    a->t = t;
    a->chrom = -1;
    *out = a;
    return DM_STATUS_OK;
}

void dm_track_avg_free(dm_track_avg *a) {
    if (!a) return;
    free(a->sum);
    free(a->cnt);
    free(a);
}

/* Writes bases [lo, upto) (runs of equal means as one interval, uncovered bases skipped) and drops
 * them from the buffer. */
static dm_status avg_flush(dm_track_avg *a, int64_t upto) {
    if (upto > a->hi) upto = a->hi;
    int64_t k = 0, n = upto - a->lo;
    while (k < n) {
        if (!a->cnt[k]) { k++; continue; }
        float v = (float)(a->sum[k] / a->cnt[k]);
        int64_t j = k + 1;
        while (j < n && a->cnt[j] && (float)(a->sum[j] / a->cnt[j]) == v) j++;
        DM_TRY(dm_track_add(a->t, a->chrom, a->lo + k, a->lo + j, v));
        k = j;
    }
    int64_t keep = a->hi - upto;
    if (keep > 0) {   /* (nothing held yet: the buffers may still be NULL) */
        memmove(a->sum, a->sum + n, sizeof(double) * (size_t)keep);
        memmove(a->cnt, a->cnt + n, sizeof(int32_t) * (size_t)keep);
    }
    a->lo = upto;
    return DM_STATUS_OK;
}

dm_status dm_track_avg_add(dm_track_avg *a, int chrom, int64_t start, const float *v, int64_t n) {
    DM_CHECK_ARG(chrom > a->chrom || (chrom == a->chrom && start >= a->lo), "track: windows out of order");
    if (chrom != a->chrom) {
        if (a->chrom >= 0) DM_TRY(avg_flush(a, a->hi));
        a->chrom = chrom;
        a->lo = a->hi = start;
    }
    DM_TRY(avg_flush(a, start));
    if (a->hi < a->lo) a->hi = a->lo;
    if (start > a->hi) a->lo = a->hi = start;   /* a gap: nothing held */
    int64_t need = start + n - a->lo;
    if (need > a->cap) {
        int64_t cap = a->cap ? a->cap : 1024;
        while (cap < need) cap *= 2;
        double *s = realloc(a->sum, sizeof(double) * (size_t)cap);
        if (s) a->sum = s;
        int32_t *c = realloc(a->cnt, sizeof(int32_t) * (size_t)cap);
        if (c) a->cnt = c;
        if (!s || !c) return dm_error(DM_STATUS_NOMEM, "track: out of memory");
        a->cap = cap;
    }
    if (start + n > a->hi) {
        int64_t old = a->hi - a->lo, now = start + n - a->lo;
        memset(a->sum + old, 0, sizeof(double) * (size_t)(now - old));
        memset(a->cnt + old, 0, sizeof(int32_t) * (size_t)(now - old));
        a->hi = start + n;
    }
    for (int64_t i = 0; i < n; i++) {
        a->sum[start - a->lo + i] += v[i];
        a->cnt[start - a->lo + i]++;
    }
    return DM_STATUS_OK;
}

dm_status dm_track_avg_finish(dm_track_avg *a) {
    dm_status st = a->chrom >= 0 ? avg_flush(a, a->hi) : DM_STATUS_OK;
    dm_track_avg_free(a);
    return st;
}
