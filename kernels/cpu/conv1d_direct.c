/*
 * conv1d_direct.c: the fast CPU backend's convolution forward without im2col (issue 12), at the AVX-512
 * and AVX2 levels (the portable level keeps conv1d.c's im2col + GEMM; so does DM_CONV_FWD=im2col):
 *   out[b, l, o] = bias[o] + Σ_k Σ_c w[o, k, c] · in[b, l + k − pad, c]
 * Channels-last input makes the window of output position l the K·Ci contiguous floats starting at
 * in[b, l − pad, 0] (fewer at the padded edges), so a tile of NP consecutive positions × NB output
 * channels is NP·NB/VW vector accumulators in registers, updated by one loop over j ∈ [0, K·Ci): load
 * the NB weights of column j (w packed once per call into [Co / NB][K·Ci][NB], zeros past Co), then for
 * each position broadcast its input float j and multiply-add. The input rows are read in place.
 *   AVX-512: NB 32 (2 zmm), NP ≤ 12: 24 accumulators;  AVX2: NB 16 (2 ymm), NP ≤ 6: 12 accumulators.
 * Epilogue: the ReLU (conv1d_relu_fwd), the store (masked past Co).
 * First layer (Ci ≤ DIRECT_SPARSE_CI, one-hot DNA): the sparse-input way (below) lists each input row's
 * non-zero entries once and does one multiply-add per listed entry, K instead of K·Ci per output.
 *
 * Sum order: every output (l, o) is bias, then one fused multiply-add per (k, c) in increasing k, c over
 * the taps that fall inside the sequence (a padded tap is skipped, not added as zero), whatever the tile
 * it is in, the thread, the batch, or the window around it (ISM's windows, ism_fast.c): results are bit for
 * bit the same across thread counts, batch splits and tile sizes, and the same at the AVX2 and AVX-512
 * levels (FMA in both). On the sparse-input way a zero input (±0) is skipped rather than multiplied:
 * the same sum unless the accumulator is −0 there (a −0 bias before any non-zero product) or a weight is
 * Inf or NaN. They differ from the GEMM's (another order): tests/test_conv_direct.c checks the order
 * exactly and both ways against the double reference within the float summation bound.
 * Speed: bench/results/conv_direct.md (bench/conv_direct.sh).
 */
#include <stdlib.h>
#include <string.h>

#include "cpu.h"

#define DIRECT_SPARSE_CI 8   /* input channels up to which the sparse-input way runs (see below) */

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>
#define DIRECT_HAS_SIMD 1
#else
#define DIRECT_HAS_SIMD 0
#endif

/* Whether conv1d_fwd / conv1d_relu_fwd take the direct way: at the AVX2 and AVX-512 levels, unless
 * DM_CONV_FWD=im2col asks for conv1d.c's im2col + GEMM (A/B comparisons). */
bool dm_cpu_conv1d_direct_on(void) {
    const char *env = getenv("DM_CONV_FWD");
    return DIRECT_HAS_SIMD && dm_cpu_isa() >= DM_ISA_AVX2 && !(env && strcmp(env, "im2col") == 0);
}

/* output channels per block at the current level */
static int direct_nb(void) { return dm_cpu_isa() >= DM_ISA_AVX512 ? 32 : 16; }

/* w (Co, KC) and bias (Co) packed for the direct way: block q (channels [q·NB, q·NB + NB)) holds column j
 * at wp[(q·KC + j)·NB], zeros past Co; the blocks' biases follow (nq·NB floats). Thread 0's scratch slot
 * 3 (used within one call only), NULL on allocation failure (recorded). */
const float *dm_cpu_conv1d_direct_pack(dm_backend *be, const float *w, const float *b, int Co, int KC) {
    int nb = direct_nb(), nq = (Co + nb - 1) / nb;
    size_t nw = (size_t)nq * (size_t)KC * (size_t)nb;
    float *wp = dm_cpu_scratch(be, 0, 3, nw + (size_t)nq * nb);
    if (!wp) return NULL;
    for (int q = 0; q < nq; q++) {   /* a transpose of the block's rows, by 4 × 4 tiles where they fit */
        float *dst = wp + (size_t)q * KC * nb;
        int n = Co - q * nb < nb ? Co - q * nb : nb, n4 = DIRECT_HAS_SIMD ? n / 4 * 4 : 0, KC4 = KC / 4 * 4;
#if DIRECT_HAS_SIMD
        for (int i0 = 0; i0 < n4; i0 += 4) {
            const float *s0 = w + (size_t)(q * nb + i0) * KC;
            for (int j0 = 0; j0 < KC4; j0 += 4) {
                __m128 r0 = _mm_loadu_ps(s0 + j0), r1 = _mm_loadu_ps(s0 + KC + j0);
                __m128 r2 = _mm_loadu_ps(s0 + 2 * (size_t)KC + j0), r3 = _mm_loadu_ps(s0 + 3 * (size_t)KC + j0);
                _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
                _mm_storeu_ps(dst + (size_t)j0 * nb + i0, r0);
                _mm_storeu_ps(dst + (size_t)(j0 + 1) * nb + i0, r1);
                _mm_storeu_ps(dst + (size_t)(j0 + 2) * nb + i0, r2);
                _mm_storeu_ps(dst + (size_t)(j0 + 3) * nb + i0, r3);
            }
            for (int j = KC4; j < KC; j++)
                for (int i = i0; i < i0 + 4; i++) dst[(size_t)j * nb + i] = w[(size_t)(q * nb + i) * KC + j];
        }
#endif
        for (int i = n4; i < nb; i++)
            for (int j = 0; j < KC; j++) dst[(size_t)j * nb + i] = i < n ? w[(size_t)(q * nb + i) * KC + j] : 0.0f;
    }
    float *bp = wp + nw;
    for (int i = 0; i < nq * nb; i++) bp[i] = i < Co ? b[i] : 0.0f;
    return wp;
}

#if DIRECT_HAS_SIMD
/* One tile: out rows [0, NP) (row stride ldo), lanes [0, lanes) of the block; x: the first used input
 * float of row 0 (row stride ldx); wp, bp: the block's packed columns (from the first used one) and bias;
 * n: the used columns. */
#define TILE_PARAMS                                                                                  \
    (float *restrict out, int ldo, int lanes, const float *restrict x, int ldx, const float *restrict wp, \
     const float *restrict bp, int n, bool relu)
#define TILE_ARGS (out, ldo, lanes, x, ldx, wp, bp, n, relu)

DM_CPU_TARGET_AVX512 static inline __attribute__((always_inline)) void tile512(const int NP, float *restrict out, int ldo,
                                                                         int lanes, const float *restrict x, int ldx,
                                                                         const float *restrict wp,
                                                                         const float *restrict bp, int n, bool relu) {
    __m512 a0[12], a1[12];
    __m512 b0 = _mm512_loadu_ps(bp), b1 = _mm512_loadu_ps(bp + 16);
#pragma GCC unroll 12
    for (int i = 0; i < NP; i++) a0[i] = b0, a1[i] = b1;
    for (int j = 0; j < n; j++) {
        __m512 w0 = _mm512_load_ps(wp + (size_t)j * 32), w1 = _mm512_load_ps(wp + (size_t)j * 32 + 16);
#pragma GCC unroll 12
        for (int i = 0; i < NP; i++) {
            __m512 v = _mm512_set1_ps(x[(size_t)i * ldx + j]);
            a0[i] = _mm512_fmadd_ps(v, w0, a0[i]);
            a1[i] = _mm512_fmadd_ps(v, w1, a1[i]);
        }
    }
    __mmask16 m0 = lanes >= 16 ? 0xffff : (__mmask16)((1u << lanes) - 1);
    __mmask16 m1 = lanes >= 32 ? 0xffff : lanes <= 16 ? 0 : (__mmask16)((1u << (lanes - 16)) - 1);
    __m512 z = _mm512_setzero_ps();
#pragma GCC unroll 12
    for (int i = 0; i < NP; i++) {
        if (relu) {   /* x > 0 ? x : +0, as relu.c: max_ps returns its second operand for ±0 and NaN */
            a0[i] = _mm512_max_ps(a0[i], z);
            a1[i] = _mm512_max_ps(a1[i], z);
        }
        _mm512_mask_storeu_ps(out + (size_t)i * ldo, m0, a0[i]);
        _mm512_mask_storeu_ps(out + (size_t)i * ldo + 16, m1, a1[i]);
    }
}

DM_CPU_TARGET_AVX2 static inline __attribute__((always_inline)) void tile256(const int NP, float *restrict out, int ldo,
                                                                       int lanes, const float *restrict x, int ldx,
                                                                       const float *restrict wp,
                                                                       const float *restrict bp, int n, bool relu) {
    __m256 a0[6], a1[6];
    __m256 b0 = _mm256_loadu_ps(bp), b1 = _mm256_loadu_ps(bp + 8);
#pragma GCC unroll 6
    for (int i = 0; i < NP; i++) a0[i] = b0, a1[i] = b1;
    for (int j = 0; j < n; j++) {
        __m256 w0 = _mm256_load_ps(wp + (size_t)j * 16), w1 = _mm256_load_ps(wp + (size_t)j * 16 + 8);
#pragma GCC unroll 6
        for (int i = 0; i < NP; i++) {
            __m256 v = _mm256_broadcast_ss(x + (size_t)i * ldx + j);
            a0[i] = _mm256_fmadd_ps(v, w0, a0[i]);
            a1[i] = _mm256_fmadd_ps(v, w1, a1[i]);
        }
    }
    __m256 z = _mm256_setzero_ps();
#pragma GCC unroll 6
    for (int i = 0; i < NP; i++) {
        if (relu) {   /* as relu.c: max_ps returns its second operand for ±0 and NaN */
            a0[i] = _mm256_max_ps(a0[i], z);
            a1[i] = _mm256_max_ps(a1[i], z);
        }
        if (lanes >= 16) {
            _mm256_storeu_ps(out + (size_t)i * ldo, a0[i]);
            _mm256_storeu_ps(out + (size_t)i * ldo + 8, a1[i]);
        } else {
            float t[16];
            _mm256_storeu_ps(t, a0[i]);
            _mm256_storeu_ps(t + 8, a1[i]);
            memcpy(out + (size_t)i * ldo, t, sizeof(float) * (size_t)lanes);
        }
    }
}

#define TILE512(NP) \
    DM_CPU_TARGET_AVX512 static void tile512_##NP TILE_PARAMS { tile512(NP, out, ldo, lanes, x, ldx, wp, bp, n, relu); }
#define TILE256(NP) \
    DM_CPU_TARGET_AVX2 static void tile256_##NP TILE_PARAMS { tile256(NP, out, ldo, lanes, x, ldx, wp, bp, n, relu); }
TILE512(1) TILE512(2) TILE512(3) TILE512(4) TILE512(5) TILE512(6)
TILE512(7) TILE512(8) TILE512(9) TILE512(10) TILE512(11) TILE512(12)
TILE256(1) TILE256(2) TILE256(3) TILE256(4) TILE256(5) TILE256(6)

typedef void (*tile_fn) TILE_PARAMS;
static tile_fn const tiles512[13] = {NULL, tile512_1, tile512_2, tile512_3, tile512_4, tile512_5, tile512_6,
                                     tile512_7, tile512_8, tile512_9, tile512_10, tile512_11, tile512_12};
static tile_fn const tiles256[7] = {NULL, tile256_1, tile256_2, tile256_3, tile256_4, tile256_5, tile256_6};
/* The sparse-input way (Ci ≤ DIRECT_SPARSE_CI: the first layer, on one-hot input): the non-zero entries
 * of each input row listed once per sequence (cnt[p] entries (c, x) at lc, lx + p·Ci), then one output
 * position at a time, G blocks of NB channels in registers, a multiply-add per listed entry of the taps
 * inside the sequence, in increasing (k, c). On one-hot input that is K multiply-adds per NB channels
 * instead of K·Ci. */
#define SPARSE_PARAMS                                                                                   \
    (float *restrict out, int lanes_last, const int32_t *restrict cnt, const int32_t *restrict lc,         \
     const float *restrict lx, int p0, int k0, int k1, int Ci, int KC, const float *restrict wp,          \
     const float *restrict bp, bool relu)
#define SPARSE_ARGS(G) (G, out, lanes_last, cnt, lc, lx, p0, k0, k1, Ci, KC, wp, bp, relu)

DM_CPU_TARGET_AVX512 static inline __attribute__((always_inline)) void sparse512(const int G, float *restrict out,
    int lanes_last, const int32_t *restrict cnt, const int32_t *restrict lc, const float *restrict lx, int p0, int k0,
    int k1, int Ci, int KC, const float *restrict wp, const float *restrict bp, bool relu) {
    __m512 a[8];
#pragma GCC unroll 8
    for (int g = 0; g < 2 * G; g++) a[g] = _mm512_loadu_ps(bp + 16 * g);
    for (int k = k0; k < k1; k++) {
        int p = p0 + k;
        for (int e = 0; e < cnt[p]; e++) {
            const float *wj = wp + (size_t)(k * Ci + lc[(size_t)p * Ci + e]) * 32;
            __m512 v = _mm512_set1_ps(lx[(size_t)p * Ci + e]);
#pragma GCC unroll 8
            for (int g = 0; g < 2 * G; g++)
                a[g] = _mm512_fmadd_ps(v, _mm512_load_ps(wj + (size_t)(g / 2) * KC * 32 + 16 * (g % 2)), a[g]);
        }
    }
    __m512 z = _mm512_setzero_ps();
#pragma GCC unroll 8
    for (int g = 0; g < 2 * G; g++) {
        int lanes = g / 2 < G - 1 ? 32 : lanes_last, lo = 16 * (g % 2);
        __mmask16 m = lanes - lo >= 16 ? 0xffff : lanes <= lo ? 0 : (__mmask16)((1u << (lanes - lo)) - 1);
        _mm512_mask_storeu_ps(out + 16 * g, m, relu ? _mm512_max_ps(a[g], z) : a[g]);
    }
}

DM_CPU_TARGET_AVX2 static inline __attribute__((always_inline)) void sparse256(const int G, float *restrict out,
    int lanes_last, const int32_t *restrict cnt, const int32_t *restrict lc, const float *restrict lx, int p0, int k0,
    int k1, int Ci, int KC, const float *restrict wp, const float *restrict bp, bool relu) {
    __m256 a[12];
#pragma GCC unroll 12
    for (int g = 0; g < 2 * G; g++) a[g] = _mm256_loadu_ps(bp + 8 * g);
    for (int k = k0; k < k1; k++) {
        int p = p0 + k;
        for (int e = 0; e < cnt[p]; e++) {
            const float *wj = wp + (size_t)(k * Ci + lc[(size_t)p * Ci + e]) * 16;
            __m256 v = _mm256_broadcast_ss(lx + (size_t)p * Ci + e);
#pragma GCC unroll 12
            for (int g = 0; g < 2 * G; g++)
                a[g] = _mm256_fmadd_ps(v, _mm256_load_ps(wj + (size_t)(g / 2) * KC * 16 + 8 * (g % 2)), a[g]);
        }
    }
    __m256 z = _mm256_setzero_ps();
    float t[16];
#pragma GCC unroll 12
    for (int g = 0; g < 2 * G; g++) {
        int lanes = g / 2 < G - 1 ? 16 : lanes_last, lo = 8 * (g % 2);
        __m256 r = relu ? _mm256_max_ps(a[g], z) : a[g];
        if (lanes - lo >= 8) _mm256_storeu_ps(out + 8 * g, r);
        else if (lanes > lo) {
            _mm256_storeu_ps(t, r);
            memcpy(out + 8 * g, t, sizeof(float) * (size_t)(lanes - lo));
        }
    }
}

#define SPARSE512(G) DM_CPU_TARGET_AVX512 static void sparse512_##G SPARSE_PARAMS { sparse512 SPARSE_ARGS(G); }
#define SPARSE256(G) DM_CPU_TARGET_AVX2 static void sparse256_##G SPARSE_PARAMS { sparse256 SPARSE_ARGS(G); }
SPARSE512(1) SPARSE512(2) SPARSE512(3) SPARSE512(4)
SPARSE256(1) SPARSE256(2) SPARSE256(3) SPARSE256(4) SPARSE256(5) SPARSE256(6)
typedef void (*sparse_fn) SPARSE_PARAMS;
static sparse_fn const sparses512[5] = {NULL, sparse512_1, sparse512_2, sparse512_3, sparse512_4};
static sparse_fn const sparses256[7] = {NULL, sparse256_1, sparse256_2, sparse256_3, sparse256_4, sparse256_5,
                                        sparse256_6};
#endif

/* Scratch floats the sparse-input way needs per thread for rows of Li positions (0 for Ci > DIRECT_SPARSE_CI). */
size_t dm_cpu_conv1d_direct_scratch(int Li, int Ci) {
    return Ci > DIRECT_SPARSE_CI ? 0 : (size_t)Li * (2 * (size_t)Ci + 1);
}

#if DIRECT_HAS_SIMD
static void direct_sparse(float *out, const float *in, const float *wp, float *lists, int b0, int b1, int Li, int Ci,
                          int Co, int K, int pad, bool relu) {
    bool wide = dm_cpu_isa() >= DM_ISA_AVX512;
    int nb = wide ? 32 : 16, gmax = wide ? 4 : 6, nq = (Co + nb - 1) / nb;
    sparse_fn const *fns = wide ? sparses512 : sparses256;
    int Lo = Li + 2 * pad - K + 1, KC = K * Ci;
    const float *bp = wp + (size_t)nq * KC * nb;
    float *lx = lists;
    int32_t *lc = (int32_t *)(lists + (size_t)Li * Ci), *cnt = lc + (size_t)Li * Ci;
    for (int b = b0; b < b1; b++) {
        const float *xs = in + (int64_t)b * Li * Ci;
        float *os = out + (int64_t)b * Lo * Co;
        for (int p = 0; p < Li; p++) {   /* the non-zero entries of each row (±0 skipped) */
            int n = 0;
            for (int c = 0; c < Ci; c++) {
                float x = xs[(size_t)p * Ci + c];
                lc[(size_t)p * Ci + n] = c;
                lx[(size_t)p * Ci + n] = x;
                n += x != 0.0f;
            }
            cnt[p] = n;
        }
        for (int l = 0; l < Lo; l++) {
            int k0 = pad - l > 0 ? pad - l : 0, k1 = Li + pad - l < K ? Li + pad - l : K;
            for (int q = 0; q < nq; q += gmax) {
                int G = nq - q < gmax ? nq - q : gmax, last = Co - (q + G - 1) * nb;
                fns[G](os + (int64_t)l * Co + q * nb, last < nb ? last : nb, cnt, lc, lx, l - pad, k0, k1, Ci, KC,
                       wp + (size_t)q * KC * nb, bp + q * nb, relu);
            }
        }
    }
}
#endif

/* Sequences [b0, b1) of in (B, Li, Ci) → out (B, Lo, Co), wp from dm_cpu_conv1d_direct_pack at the same
 * ISA level; lists: dm_cpu_conv1d_direct_scratch(Li, Ci) floats (the sparse-input way's). */
void dm_cpu_conv1d_direct(float *out, const float *in, const float *wp, float *lists, int b0, int b1, int Li, int Ci,
                          int Co, int K, int pad, bool relu) {
#if DIRECT_HAS_SIMD
    if (Ci <= DIRECT_SPARSE_CI) {
        direct_sparse(out, in, wp, lists, b0, b1, Li, Ci, Co, K, pad, relu);
        return;
    }
    bool wide = dm_cpu_isa() >= DM_ISA_AVX512;
    int nb = wide ? 32 : 16, npmax = wide ? 12 : 6, nq = (Co + nb - 1) / nb;
    tile_fn const *tiles = wide ? tiles512 : tiles256;
    int Lo = Li + 2 * pad - K + 1, KC = K * Ci;
    int lin = Li + pad - K + 1;   /* positions [pad, lin) see all K taps */
    const float *bp = wp + (size_t)nq * KC * nb;
    for (int b = b0; b < b1; b++) {
        const float *xs = in + (int64_t)b * Li * Ci;
        float *os = out + (int64_t)b * Lo * Co;
        for (int q = 0; q < nq; q++) {
            const float *wq = wp + (size_t)q * KC * nb;
            int lanes = Co - q * nb < nb ? Co - q * nb : nb;
            for (int l = 0; l < Lo;) {
                int k0 = pad - l > 0 ? pad - l : 0, k1 = Li + pad - l < K ? Li + pad - l : K, np = 1;
                if (k1 < k0) k1 = k0;
                if (k0 == 0 && k1 == K) np = lin - l < npmax ? lin - l : npmax;
                tiles[np](os + (int64_t)l * Co + q * nb, Co, lanes, xs + (int64_t)(l - pad + k0) * Ci, Ci,
                          wq + (size_t)k0 * Ci * nb, bp + q * nb, (k1 - k0) * Ci, relu);
                l += np;
            }
        }
    }
#else
    (void)out, (void)in, (void)wp, (void)lists, (void)b0, (void)b1, (void)Li, (void)Ci, (void)Co, (void)K, (void)pad, (void)relu;
#endif
}
