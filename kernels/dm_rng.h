/*
 * dm_rng.h: counter-based random numbers shared by the host, the CPU ops and (later) the CUDA kernels.
 *
 * Philox4x32-10 (Salmon et al., SC 2011): a bijection of a 128-bit counter under a 64-bit key. Every
 * random number deepmotif draws is a pure function of (seed, stream, index, position), so results do
 * not depend on thread count, batch order or device (STYLE.md rule 11).
 *
 * Streams: one user seed is turned into one key per named stream (init, negatives, split, shuffle,
 * dropout, ...). Within a stream, `index` names the object (a parameter tensor, a positive's row, an
 * epoch, a training step and layer) and `pos` the draw within it.
 */
#ifndef DM_RNG_H
#define DM_RNG_H

#include <stdint.h>

#ifdef __CUDACC__
#define DM_HD __host__ __device__
#else
#define DM_HD
#endif

enum dm_stream {
    DM_STREAM_INIT = 1,      /* weight initialisation */
    DM_STREAM_NEGATIVES = 2, /* dinucleotide-shuffled negatives */
    DM_STREAM_SPLIT = 3,     /* validation split */
    DM_STREAM_SHUFFLE = 4,   /* batch order per epoch */
    DM_STREAM_DROPOUT = 5,   /* dropout masks */
    DM_STREAM_SIMULATE = 6,  /* `deepmotif simulate` */
    DM_STREAM_OPTIMIZE = 7,  /* class optimisation starts */
    DM_STREAM_COMPARE = 8,   /* the null distribution of motif comparison */
    DM_STREAM_RESTART = 9,   /* the seeds of a dead start's restarts (train: dm_train_restart_seed) */
    DM_STREAM_FRESH_NEGATIVES = 10, /* train --fresh-negatives: each epoch's shuffle seed */
};

/* SplitMix64 finaliser: a good 64-bit mixer, used only to derive keys. */
static inline DM_HD uint64_t dm_mix64(uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* The key of one named stream of a user seed. */
static inline DM_HD uint64_t dm_stream_key(uint64_t seed, int stream) {
    return dm_mix64(seed ^ dm_mix64(0xD3E7A11F00000000ull + (uint64_t)stream));
}

/* Philox4x32-10: out = bijection(ctr = (pos_lo, pos_hi, index_lo, index_hi)) under key. */
static inline DM_HD void dm_philox(uint32_t out[4], uint64_t key, uint64_t index, uint64_t pos) {
    uint32_t c0 = (uint32_t)pos, c1 = (uint32_t)(pos >> 32);
    uint32_t c2 = (uint32_t)index, c3 = (uint32_t)(index >> 32);
    uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
    for (int r = 0; r < 10; r++) {
        uint64_t p0 = (uint64_t)0xD2511F53u * c0;
        uint64_t p1 = (uint64_t)0xCD9E8D57u * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c1 = (uint32_t)p1;
        c3 = (uint32_t)p0;
        c0 = n0;
        c2 = n2;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

/* The u32 number `pos` of (key, index): word pos % 4 of block pos / 4. */
static inline DM_HD uint32_t dm_philox_u32(uint64_t key, uint64_t index, uint64_t pos) {
    uint32_t w[4];
    dm_philox(w, key, index, pos >> 2);
    return w[pos & 3];
}

/* A uniform float in [0, 1) from a u32 (24 high bits, exact in float). */
static inline DM_HD float dm_u32_to_unit(uint32_t x) { return (float)(x >> 8) * (1.0f / 16777216.0f); }

/* Sequential generator over one (key, index): for host loops that draw an unknown number of values. */
typedef struct dm_rng {
    uint64_t key, index, pos;
    uint32_t buf[4];
    int have;                 /* unread words left in buf */
} dm_rng;

static inline void dm_rng_init(dm_rng *r, uint64_t seed, int stream, uint64_t index) {
    r->key = dm_stream_key(seed, stream);
    r->index = index;
    r->pos = 0;
    r->have = 0;
}

static inline uint32_t dm_rng_u32(dm_rng *r) {
    if (r->have == 0) {
        dm_philox(r->buf, r->key, r->index, r->pos++);
        r->have = 4;
    }
    return r->buf[4 - r->have--];
}

static inline uint64_t dm_rng_u64(dm_rng *r) {
    uint64_t hi = dm_rng_u32(r);
    return (hi << 32) | dm_rng_u32(r);
}

/* Uniform double in [0, 1), 53 bits. */
static inline double dm_rng_uniform(dm_rng *r) { return (double)(dm_rng_u64(r) >> 11) * 0x1.0p-53; }

/* Uniform integer in [0, n), unbiased (Lemire's multiply-and-reject). n > 0. */
static inline uint32_t dm_rng_below(dm_rng *r, uint32_t n) {
    uint64_t m = (uint64_t)dm_rng_u32(r) * n;
    if ((uint32_t)m < n) {
        uint32_t t = (uint32_t)(-n) % n;
        while ((uint32_t)m < t) m = (uint64_t)dm_rng_u32(r) * n;
    }
    return (uint32_t)(m >> 32);
}

#endif /* DM_RNG_H */
