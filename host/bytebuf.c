/*
 * bytebuf.c: little-endian binary encoding (bytebuf.h), moved out of checkpoint.c so the model
 * file's format (checkpoint.c) reads apart from the byte mechanics.
 */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "bytebuf.h"

/* zlib's crc32 takes 32-bit lengths: feed large buffers in 1 GiB pieces. */
uint32_t dm_crc32(const uint8_t *p, size_t n) {
    uLong crc = crc32(0L, Z_NULL, 0);
    while (n > 0) {
        size_t k = n < ((size_t)1 << 30) ? n : ((size_t)1 << 30);
        crc = crc32(crc, p, (uInt)k);
        p += k;
        n -= k;
    }
    return (uint32_t)crc;
}

/* ---- writing ---------------------------------------------------------------------------------- */

/* Room for k more bytes at the end (doubling growth); NULL after an allocation failure. */
uint8_t *dm_w_room(dm_wbuf *w, size_t k) {
    if (w->nomem) return NULL;
    if (k > w->cap - w->n) {
        size_t cap = w->cap ? w->cap : 4096;
        while (k > cap - w->n) {
            if (cap > SIZE_MAX / 2) {
                w->nomem = 1;
                return NULL;
            }
            cap *= 2;
        }
        uint8_t *q = realloc(w->p, cap);
        if (!q) {
            w->nomem = 1;
            return NULL;
        }
        w->p = q;
        w->cap = cap;
    }
    uint8_t *q = w->p + w->n;
    w->n += k;
    return q;
}

/* Stores the k low bytes of v, least significant first. */
void dm_store_le(uint8_t *q, uint64_t v, int k) {
    for (int i = 0; i < k; i++) q[i] = (uint8_t)(v >> (8 * i));
}

void dm_w_le(dm_wbuf *w, uint64_t v, int k) {
    uint8_t *q = dm_w_room(w, (size_t)k);
    if (q) dm_store_le(q, v, k);
}

void dm_w_u16(dm_wbuf *w, uint32_t v) { dm_w_le(w, v, 2); }
void dm_w_u32(dm_wbuf *w, uint32_t v) { dm_w_le(w, v, 4); }
void dm_w_u64(dm_wbuf *w, uint64_t v) { dm_w_le(w, v, 8); }
void dm_w_i32(dm_wbuf *w, int32_t v) { dm_w_le(w, (uint32_t)v, 4); }
void dm_w_i64(dm_wbuf *w, int64_t v) { dm_w_le(w, (uint64_t)v, 8); }

void dm_w_f32(dm_wbuf *w, float v) {
    uint32_t u;
    memcpy(&u, &v, 4);
    dm_w_le(w, u, 4);
}

void dm_w_f64(dm_wbuf *w, double v) {
    uint64_t u;
    memcpy(&u, &v, 8);
    dm_w_le(w, u, 8);
}

/* A fixed-size char field as a string: its bytes up to the NUL (at most cap − 1). */
void dm_w_str(dm_wbuf *w, const char *s, size_t cap) {
    size_t len = strnlen(s, cap - 1);
    dm_w_u16(w, (uint32_t)len);
    uint8_t *q = dm_w_room(w, len);
    if (q) memcpy(q, s, len);
}

void dm_w_floats(dm_wbuf *w, const float *x, int64_t n) {
    uint8_t *q = dm_w_room(w, (size_t)n * 4);
    if (!q) return;
    for (int64_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], 4);
        dm_store_le(q + 4 * i, u, 4);
    }
}

/* ---- reading ---------------------------------------------------------------------------------- */

/* The next k bytes, or NULL (and bad set) if fewer remain. */
const uint8_t *dm_r_take(dm_rbuf *r, size_t k) {
    if (r->bad || k > r->n - r->pos) {
        r->bad = 1;
        return NULL;
    }
    const uint8_t *q = r->p + r->pos;
    r->pos += k;
    return q;
}

uint64_t dm_load_le(const uint8_t *q, int k) {
    uint64_t v = 0;
    for (int i = k - 1; i >= 0; i--) v = v << 8 | q[i];
    return v;
}

uint64_t dm_r_le(dm_rbuf *r, int k) {
    const uint8_t *q = dm_r_take(r, (size_t)k);
    return q ? dm_load_le(q, k) : 0;
}

uint32_t dm_r_u16(dm_rbuf *r) { return (uint32_t)dm_r_le(r, 2); }
uint32_t dm_r_u32(dm_rbuf *r) { return (uint32_t)dm_r_le(r, 4); }
uint64_t dm_r_u64(dm_rbuf *r) { return dm_r_le(r, 8); }

/* Signed and floating values through memcpy: two's complement and IEEE bits, no implementation-
 * defined conversions. */
int32_t dm_r_i32(dm_rbuf *r) {
    uint32_t u = dm_r_u32(r);
    int32_t v;
    memcpy(&v, &u, 4);
    return v;
}

int64_t dm_r_i64(dm_rbuf *r) {
    uint64_t u = dm_r_u64(r);
    int64_t v;
    memcpy(&v, &u, 8);
    return v;
}

float dm_r_f32(dm_rbuf *r) {
    uint32_t u = dm_r_u32(r);
    float v;
    memcpy(&v, &u, 4);
    return v;
}

double dm_r_f64(dm_rbuf *r) {
    uint64_t u = dm_r_u64(r);
    double v;
    memcpy(&v, &u, 8);
    return v;
}

/* A string into a char[cap]; one that would not fit with its NUL marks the section bad. */
void dm_r_str(dm_rbuf *r, char *dst, size_t cap) {
    size_t len = dm_r_u16(r);
    if (len >= cap) r->bad = 1;
    const uint8_t *q = dm_r_take(r, len);
    if (!q) {
        dst[0] = '\0';
        return;
    }
    memcpy(dst, q, len);
    dst[len] = '\0';
}

/* n floats into dst (which holds n); the byte count is checked before it is multiplied. */
void dm_r_floats(dm_rbuf *r, float *dst, int64_t n) {
    if (r->bad || (uint64_t)n > (r->n - r->pos) / 4) {
        r->bad = 1;
        return;
    }
    const uint8_t *q = dm_r_take(r, (size_t)n * 4);
    for (int64_t i = 0; i < n; i++) {
        uint32_t u = (uint32_t)dm_load_le(q + 4 * i, 4);
        memcpy(&dst[i], &u, 4);
    }
}

/* A section fully and exactly consumed, with nothing read past its end. */
int dm_r_ok(const dm_rbuf *r) { return !r->bad && r->pos == r->n; }

