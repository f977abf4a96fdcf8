/*
 * sha256.c: SHA-256 (FIPS 180-4 §6.2) of a buffer and of a whole file.
 *
 * Why: provenance records the SHA-256 of every input file and of every model, so a result can be
 * traced to the exact bytes it came from; hashing is done here rather than through a crypto library
 * to keep the CPU target's dependencies to zlib, OpenBLAS and OpenMP.
 *
 * The algorithm: the message is padded with one 1 bit, zeros, and its length in bits as a
 * big-endian u64, to a multiple of 64 bytes; each 64-byte block expands into a 64-word schedule
 *   W[t] = σ1(W[t−2]) + W[t−7] + σ0(W[t−15]) + W[t−16]   (16 ≤ t < 64)
 * and runs 64 rounds of the compression function on the eight working words a..h, whose sums into
 * the running hash H give the digest (H0..H7, big-endian). Constants: FIPS 180-4 §4.2.2 and §5.3.3.
 * A small streaming context lets a file be hashed in 64 KiB chunks without holding it in memory.
 */
#include <errno.h>
#include <string.h>

#include "dm_internal.h"

/* Streaming state: running hash, a partial block and the message length so far. */
typedef struct dm_sha256_ctx {
    uint32_t h[8];
    uint8_t block[64];
    size_t fill;        /* bytes waiting in block, < 64 */
    uint64_t total;     /* message length in bytes */
} dm_sha256_ctx;

/* Round constants: the first 32 bits of the fractional parts of the cube roots of the first 64
 * primes (FIPS 180-4 §4.2.2). */
static const uint32_t dm_sha256_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static inline uint32_t dm_rotr32(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

/* Initial hash: fractional parts of the square roots of the first 8 primes (§5.3.3). */
static void dm_sha256_init(dm_sha256_ctx *c) {
    static const uint32_t h0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(c->h, h0, sizeof h0);
    c->fill = 0;
    c->total = 0;
}

/* One 64-byte block through the compression function (§6.2.2 steps 1-4). */
static void dm_sha256_block(uint32_t h[8], const uint8_t *p) {
    uint32_t w[64];
    // message schedule: 16 big-endian words, then the σ0/σ1 recurrence
    for (int t = 0; t < 16; t++)
        w[t] = (uint32_t)p[4 * t] << 24 | (uint32_t)p[4 * t + 1] << 16 |
               (uint32_t)p[4 * t + 2] << 8 | (uint32_t)p[4 * t + 3];
    for (int t = 16; t < 64; t++) {
        uint32_t s0 = dm_rotr32(w[t - 15], 7) ^ dm_rotr32(w[t - 15], 18) ^ (w[t - 15] >> 3);
        uint32_t s1 = dm_rotr32(w[t - 2], 17) ^ dm_rotr32(w[t - 2], 19) ^ (w[t - 2] >> 10);
        w[t] = s1 + w[t - 7] + s0 + w[t - 16];
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
    // 64 rounds: T1 = h + Σ1(e) + Ch(e,f,g) + K[t] + W[t], T2 = Σ0(a) + Maj(a,b,c)
    for (int t = 0; t < 64; t++) {
        uint32_t S1 = dm_rotr32(e, 6) ^ dm_rotr32(e, 11) ^ dm_rotr32(e, 25);
        uint32_t ch = (e & f) ^ (~e & g);
        uint32_t t1 = k + S1 + ch + dm_sha256_k[t] + w[t];
        uint32_t S0 = dm_rotr32(a, 2) ^ dm_rotr32(a, 13) ^ dm_rotr32(a, 22);
        uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
        uint32_t t2 = S0 + maj;
        k = g; g = f; f = e; e = d + t1;
        d = c; c = b; b = a; a = t1 + t2;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d;
    h[4] += e; h[5] += f; h[6] += g; h[7] += k;
}

/* Feeds n bytes: tops up the partial block, then hashes whole blocks straight from the input. */
static void dm_sha256_update(dm_sha256_ctx *c, const uint8_t *p, size_t n) {
    c->total += n;
    if (c->fill > 0) {
        size_t take = 64 - c->fill < n ? 64 - c->fill : n;
        memcpy(c->block + c->fill, p, take);
        c->fill += take;
        p += take;
        n -= take;
        if (c->fill < 64) return;
        dm_sha256_block(c->h, c->block);
        c->fill = 0;
    }
    for (; n >= 64; p += 64, n -= 64) dm_sha256_block(c->h, p);
    memcpy(c->block, p, n);
    c->fill = n;
}

/* Padding (§5.1.1): 0x80, zeros up to 56 mod 64, the bit length big-endian; then H as bytes. */
static void dm_sha256_final(dm_sha256_ctx *c, uint8_t digest[32]) {
    uint64_t bits = c->total * 8;
    uint8_t pad[72] = {0x80};
    size_t npad = (c->fill < 56 ? 56 : 120) - c->fill;
    for (int i = 0; i < 8; i++) pad[npad + i] = (uint8_t)(bits >> (56 - 8 * i));
    dm_sha256_update(c, pad, npad + 8);
    for (int i = 0; i < 8; i++) {
        digest[4 * i] = (uint8_t)(c->h[i] >> 24);
        digest[4 * i + 1] = (uint8_t)(c->h[i] >> 16);
        digest[4 * i + 2] = (uint8_t)(c->h[i] >> 8);
        digest[4 * i + 3] = (uint8_t)c->h[i];
    }
}

void dm_sha256(const void *data, size_t n, uint8_t digest[32]) {
    dm_sha256_ctx c;
    dm_sha256_init(&c);
    dm_sha256_update(&c, (const uint8_t *)data, n);
    dm_sha256_final(&c, digest);
}

dm_status dm_file_sha256(const char *path, uint64_t *bytes, char hex[65]) {
    enum { CHUNK = 64 * 1024 };
    uint8_t *buf = malloc(CHUNK);
    if (!buf) return dm_error(DM_STATUS_NOMEM, "%s: out of memory for hashing", path);
    FILE *f = fopen(path, "rb");
    if (!f) {
        int err = errno;
        free(buf);
        return dm_error(DM_STATUS_IO, "%s: cannot open: %s", path, strerror(err));
    }
    // stream the file through the hash; a short read is the end only if ferror() is clear
    dm_sha256_ctx c;
    dm_sha256_init(&c);
    size_t got;
    while ((got = fread(buf, 1, CHUNK, f)) > 0) dm_sha256_update(&c, buf, got);
    int bad = ferror(f);
    int err = errno;
    fclose(f);
    free(buf);
    if (bad) return dm_error(DM_STATUS_IO, "%s: read failed: %s", path, strerror(err));
    uint8_t digest[32];
    uint64_t total = c.total;
    dm_sha256_final(&c, digest);
    // lower-case hex, two characters per byte
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = digits[digest[i] >> 4];
        hex[2 * i + 1] = digits[digest[i] & 15];
    }
    hex[64] = '\0';
    if (bytes) *bytes = total;
    return DM_STATUS_OK;
}
