/*
 * prefetch.c: dm_dataset_scan with the reading and decoding on a reader thread, double-buffered (see
 * dm_internal.h): while the caller's consumer works on chunk k (on the calling thread: the device
 * busy with it), the reader parses and decodes chunk k + 1 into the other buffer. The code arrays
 * are allocated through the backend's host_alloc (pinned memory on CUDA), so their uploads run at
 * full bus speed and without a staging copy.
 *
 * Two slots, each FREE → FILLING (reader) → READY → consumed (caller) → FREE, taken in turn, under one
 * mutex and condition variable. The consumer sees the chunks, their row0 and their order exactly as
 * dm_dataset_scan hands them over, so the results are bit for bit those of the plain scan.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dm_internal.h"
#include "backend.h"

typedef struct slot {
    dm_dataset ds;        /* a copy of one chunk: codes in host_alloc memory, ids strdup'ed */
    int64_t row0;
    int64_t cap;          /* rows the arrays hold */
    bool ready;           /* filled, waiting for the consumer */
} slot;

typedef struct prefetch {
    const char *path;
    dm_format format;
    int32_t len;
    int64_t chunk_rows;
    dm_backend *be;
    dm_dataset totals;
    slot s[2];
    int fill;             /* the slot the reader fills next */
    bool done;            /* the reader's scan has ended (status in scan_st) */
    bool stop;            /* the consumer stopped: the reader ends its scan */
    dm_status scan_st;
    char scan_err[1024];  /* the reader thread's dm_last_error() line */
    pthread_mutex_t mu;
    pthread_cond_t cv;
} prefetch;

static void *codes_alloc(dm_backend *be, size_t bytes) {
    return be && be->i->host_alloc ? be->i->host_alloc(be, bytes) : malloc(bytes);
}

static void codes_free(dm_backend *be, void *p) {
    if (!p) return;
    if (be && be->i->host_free) be->i->host_free(be, p);
    else free(p);
}

static void slot_clear_ids(slot *sl) {
    for (int64_t i = 0; i < sl->ds.n; i++) free(sl->ds.id[i]);
    sl->ds.n = 0;
}

static void slot_free(prefetch *p, slot *sl) {
    slot_clear_ids(sl);
    codes_free(p->be, sl->ds.seq);
    free(sl->ds.seq_len);
    free(sl->ds.label);
    free(sl->ds.group);
    free(sl->ds.id);
    memset(sl, 0, sizeof *sl);
}

/* A copy of chunk c in slot sl (its arrays allocated once, at the chunk size). */
static dm_status slot_fill(prefetch *p, slot *sl, const dm_dataset *c, int64_t row0) {
    if (c->n > sl->cap) {
        int64_t cap = c->n > p->chunk_rows ? c->n : p->chunk_rows;
        slot_free(p, sl);
        sl->ds.seq = codes_alloc(p->be, (size_t)cap * (size_t)c->len);
        sl->ds.seq_len = malloc(sizeof(int32_t) * (size_t)cap);
        sl->ds.label = malloc((size_t)cap);
        sl->ds.group = malloc(sizeof(int64_t) * (size_t)cap);
        sl->ds.id = calloc((size_t)cap, sizeof(char *));
        if (!sl->ds.seq || !sl->ds.seq_len || !sl->ds.label || !sl->ds.group || !sl->ds.id) {
            slot_free(p, sl);
            return dm_error(DM_STATUS_NOMEM, "%s: out of memory for a chunk of %lld rows", p->path, (long long)cap);
        }
        sl->cap = cap;
    }
    dm_dataset *d = &sl->ds;
    memcpy(d->seq, c->seq, (size_t)c->n * (size_t)c->len);
    memcpy(d->seq_len, c->seq_len, sizeof(int32_t) * (size_t)c->n);
    memcpy(d->label, c->label, (size_t)c->n);
    memcpy(d->group, c->group, sizeof(int64_t) * (size_t)c->n);
    for (int64_t i = 0; i < c->n; i++) {
        d->id[i] = strdup(c->id[i] ? c->id[i] : "");
        if (!d->id[i]) {
            d->n = i;
            slot_clear_ids(sl);
            return dm_error(DM_STATUS_NOMEM, "%s: out of memory", p->path);
        }
    }
    d->n = c->n;
    d->len = c->len;
    d->format = c->format;
    d->n_padded = c->n_padded;
    d->n_truncated = c->n_truncated;
    d->n_ambiguous = c->n_ambiguous;
    sl->row0 = row0;
    return DM_STATUS_OK;
}

/* The reader's consumer: waits for the slot to fill to be free, copies the chunk into it. */
static dm_status reader_chunk(void *ctx, const dm_dataset *chunk, int64_t row0) {
    prefetch *p = ctx;
    pthread_mutex_lock(&p->mu);
    slot *sl = &p->s[p->fill];
    while (sl->ready && !p->stop) pthread_cond_wait(&p->cv, &p->mu);
    bool stop = p->stop;
    pthread_mutex_unlock(&p->mu);
    if (stop) return DM_STATUS_CANCELLED;
    /* the slot is the reader's alone until it is marked ready */
    dm_status st = slot_fill(p, sl, chunk, row0);
    if (st) return st;
    pthread_mutex_lock(&p->mu);
    sl->ready = true;
    p->fill ^= 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return DM_STATUS_OK;
}

static void *reader_main(void *arg) {
    prefetch *p = arg;
    dm_status st = dm_dataset_scan(p->path, p->format, p->len, p->chunk_rows, reader_chunk, p, &p->totals);
    pthread_mutex_lock(&p->mu);
    p->scan_st = st;
    if (st) snprintf(p->scan_err, sizeof p->scan_err, "%s", dm_last_error());
    p->done = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

dm_status dm_dataset_scan_prefetch(const char *path, dm_format format, int32_t len, int64_t chunk_rows,
                                   dm_chunk_fn fn, void *ctx, dm_dataset *totals, dm_backend *be) {
    if (!path || !totals || chunk_rows < 1) return dm_error(DM_STATUS_ARG, "dm_dataset_scan_prefetch: bad argument");
    prefetch *p = calloc(1, sizeof *p);
    if (!p) return dm_error(DM_STATUS_NOMEM, "out of memory");
    p->path = path, p->format = format, p->len = len, p->chunk_rows = chunk_rows, p->be = be;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    pthread_t th;
    if (pthread_create(&th, NULL, reader_main, p) != 0) {
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->cv);
        free(p);
        return dm_error(DM_STATUS_NOMEM, "cannot start the reader thread");
    }
    dm_status st = DM_STATUS_OK;
    for (int take = 0;; take ^= 1) {
        slot *sl = &p->s[take];
        pthread_mutex_lock(&p->mu);
        while (!sl->ready && !p->done) pthread_cond_wait(&p->cv, &p->mu);
        bool have = sl->ready;
        pthread_mutex_unlock(&p->mu);
        if (!have) break;   /* the scan ended and every chunk it handed over was consumed */
        st = fn(ctx, &sl->ds, sl->row0);
        pthread_mutex_lock(&p->mu);
        slot_clear_ids(sl);
        sl->ready = false;
        if (st) p->stop = true;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        if (st) break;
    }
    pthread_join(th, NULL);
    if (!st && p->scan_st) st = dm_error(p->scan_st, "%s", p->scan_err);   /* the reader's error, on this thread */
    *totals = p->totals;
    for (int k = 0; k < 2; k++) slot_free(p, &p->s[k]);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
    return st;
}
