/*
 * bytebuf.h: little-endian binary encoding for the model file (host/checkpoint.c) and other binary
 * writers: a growable output buffer whose first allocation failure is remembered (later writes are
 * dropped, so a writer checks once at the end), and a bounds-checked cursor over an input buffer
 * whose first read past the end is remembered (later reads yield zeros, so a reader checks once per
 * section). Integers are little-endian; floats are their IEEE-754 bit patterns (NaN kept as is); a
 * string is a u16 byte count and that many bytes, no terminator.
 */
#ifndef DM_BYTEBUF_H
#define DM_BYTEBUF_H

#include <stddef.h>
#include <stdint.h>

/* CRC-32 (zlib's crc32) of n bytes, any n. */
uint32_t dm_crc32(const uint8_t *p, size_t n);

/* ---- writing ---------------------------------------------------------------------------------- */

typedef struct dm_wbuf {
    uint8_t *p;         /* the bytes written (malloc'd; the writer frees it) */
    size_t n, cap;
    int nomem;          /* set once an allocation failed; later writes are dropped */
} dm_wbuf;

/* Room for k more bytes at the end (doubling growth); NULL after an allocation failure. */
uint8_t *dm_w_room(dm_wbuf *w, size_t k);
/* Stores the k low bytes of v at q, least significant first. */
void dm_store_le(uint8_t *q, uint64_t v, int k);
void dm_w_le(dm_wbuf *w, uint64_t v, int k);
void dm_w_u16(dm_wbuf *w, uint32_t v);
void dm_w_u32(dm_wbuf *w, uint32_t v);
void dm_w_u64(dm_wbuf *w, uint64_t v);
void dm_w_i32(dm_wbuf *w, int32_t v);
void dm_w_i64(dm_wbuf *w, int64_t v);
void dm_w_f32(dm_wbuf *w, float v);
void dm_w_f64(dm_wbuf *w, double v);
/* A fixed-size char field as a string: its bytes up to the NUL (at most cap − 1). */
void dm_w_str(dm_wbuf *w, const char *s, size_t cap);
void dm_w_floats(dm_wbuf *w, const float *x, int64_t n);

/* ---- reading ---------------------------------------------------------------------------------- */

typedef struct dm_rbuf {
    const uint8_t *p;
    size_t n, pos;
    int bad;            /* set by the first read past the end; later reads yield zeros */
} dm_rbuf;

/* The next k bytes, or NULL (and bad set) if fewer remain. */
const uint8_t *dm_r_take(dm_rbuf *r, size_t k);
/* The k bytes at q as a little-endian integer. */
uint64_t dm_load_le(const uint8_t *q, int k);
uint64_t dm_r_le(dm_rbuf *r, int k);
uint32_t dm_r_u16(dm_rbuf *r);
uint32_t dm_r_u32(dm_rbuf *r);
uint64_t dm_r_u64(dm_rbuf *r);
int32_t dm_r_i32(dm_rbuf *r);
int64_t dm_r_i64(dm_rbuf *r);
float dm_r_f32(dm_rbuf *r);
double dm_r_f64(dm_rbuf *r);
/* A string into a char[cap]; one that would not fit with its NUL marks the cursor bad. */
void dm_r_str(dm_rbuf *r, char *dst, size_t cap);
/* n floats into dst (which holds n); the byte count is checked before it is multiplied. */
void dm_r_floats(dm_rbuf *r, float *dst, int64_t n);
/* The buffer fully and exactly consumed, with nothing read past its end. */
int dm_r_ok(const dm_rbuf *r);

#endif /* DM_BYTEBUF_H */
