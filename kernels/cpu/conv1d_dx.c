/*
 * conv1d_dx.c: the input gradient of conv1d on the fast CPU backend (conv1d.c's backward calls it on
 * each thread's batch chunk):
 *   grad_in[b, l + k − pad, c] = Σ_l Σ_o grad_out[b, l, o] · w[o, k, c]
 * Its reference is dm_cpu_conv1d_bwd_ref's input gradient.
 *
 * Two ways, chosen per sequence by how many entries of its grad_out (Lo, Co) are non-zero, so a
 * sequence's result depends neither on the thread count nor on its neighbours in the batch:
 *  - dense (more than DX_SPARSE_NUM / DX_SPARSE_DEN = 1/2 of them): dcol (M, K·Ci) = grad_out (M, Co) · w
 *    (Co, K·Ci), one GEMM over each run of consecutive dense sequences, then col2im;
 *  - sparse: the non-zero entries of each output position l as a list (o, g), then the row
 *    dcol[l, :] = Σ_(o, g) g · w[o, :] in registers, 64 columns at a time, added straight into the
 *    window of grad_in it covers (no column buffer, no col2im). The column block of w (Co × 64) stays
 *    in L1 while a group of up to DX_GROUP sequences is done.
 * Behind a max-pool of width w at most 1/w of the entries are non-zero, behind the global max at most
 * 1/Lo, and ReLU zeroes about half of the rest: the backward to the input of a CNN (saliency) is
 * mostly sparse, the multiply-adds of its zero entries are skipped. A zero gradient (±0) is never
 * listed, so a sparse sequence's position that no listed entry reaches is +0 where the GEMM could give
 * −0; otherwise both ways compute the same sums, in different orders.
 */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"

/* sparse when at most NUM/DEN of a sequence's output-gradient entries are non-zero. Near 1/2 the two
 * ways take about the same time (the CNN-RNN's conv, whose gradient passes its ReLU only, about half
 * non-zero: process CPU time per saliency batch and training step within 2 % with and without
 * DM_CONV_DX=dense, AVX-512, 2 threads, on a shared machine). It must be at least 1/2: behind a max-pool
 * of width ≥ 2 at most 1/2 of the entries are non-zero, so such a sequence always goes the sparse way,
 * which is what makes conv1d_pool_dx (lists from the pool, no density test) bit for bit the pair
 * maxpool_relu_bwd + conv1d_bwd, and the input-only backward the full one (test_sal_dev). */
#define DX_SPARSE_NUM 1
#define DX_SPARSE_DEN 2
#define DX_GROUP 8                 /* sequences per sparse group (their lists and grad_in stay in L2) */
#define DX_GROUP_ENTRIES 65536     /* ... fewer when a sequence has more than 1/8 of this many entries */

/* grad_in (Bc, Li, Ci) = Σ of dcol (Bc·Lo, K·Ci) over the windows covering each position */
DM_CPU_BODY void col2im_body(float *restrict grad_in, const float *restrict dcol, int Bc, int Li, int Ci,
                             int K, int pad, int Lo) {
    int64_t KC = (int64_t)K * Ci;
    memset(grad_in, 0, sizeof(float) * (size_t)Bc * Li * Ci);
    for (int b = 0; b < Bc; b++)
        for (int l = 0; l < Lo; l++) {
            const float *row = dcol + ((int64_t)b * Lo + l) * KC;
            int p0 = l - pad;
            int k0 = p0 < 0 ? -p0 : 0;
            int k1 = p0 + K > Li ? Li - p0 : K;
            if (k1 <= k0) continue;
            float *dst = grad_in + ((int64_t)b * Li + p0 + k0) * Ci;
            const float *src = row + (int64_t)k0 * Ci;
            for (int64_t i = 0; i < (int64_t)(k1 - k0) * Ci; i++) dst[i] += src[i];
        }
}
DM_CPU_DISPATCH(col2im,
                (float *restrict grad_in, const float *restrict dcol, int Bc, int Li, int Ci, int K, int pad,
                 int Lo),
                (grad_in, dcol, Bc, Li, Ci, K, pad, Lo))

/* The lists of one group: rows r = s·Lo + l (sequence s of the group, position l); row r's entries
 * are [rs[r], rs[r + 1]) of (idx, val). */
typedef struct {
    const int32_t *rs, *idx;
    const float *val;
} dx_lists;

/* The sparse loops for 16-, 8- and 4-float vectors (GCC vector extension): one AVX-512, AVX2 or SSE
 * register each. */
typedef float dx_v16 __attribute__((vector_size(64)));
typedef float dx_v8 __attribute__((vector_size(32)));
typedef float dx_v4 __attribute__((vector_size(16)));
#define DX_VT dx_v16
#define DX_VW 16
#define DX_SUFFIX 16
#include "conv1d_dx_cols.h"
#define DX_VT dx_v8
#define DX_VW 8
#define DX_SUFFIX 8
#include "conv1d_dx_cols.h"
#define DX_VT dx_v4
#define DX_VW 4
#define DX_SUFFIX 4
#include "conv1d_dx_cols.h"

#define DX_SPARSE_PARAMS                                                                             \
    (float *restrict gin, const int32_t *rs, const int32_t *idx, const float *val, int nrow, int Lo, int Li, \
     int Ci, int K, int pad, const float *restrict wp, int Co, int KC, int numax)
#define DX_SPARSE_ARGS (gin, rs, idx, val, nrow, Lo, Li, Ci, K, pad, wp, Co, KC, numax)
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
DM_CPU_TARGET_AVX512 static void dx_sparse_avx512 DX_SPARSE_PARAMS { dx_sparse_body16 DX_SPARSE_ARGS; }
DM_CPU_TARGET_AVX2 static void dx_sparse_avx2 DX_SPARSE_PARAMS { dx_sparse_body8 DX_SPARSE_ARGS; }
static void dx_sparse DX_SPARSE_PARAMS {
    switch (dm_cpu_isa()) {
    case DM_ISA_AVX512: dx_sparse_avx512 DX_SPARSE_ARGS; break;
    case DM_ISA_AVX2: dx_sparse_avx2 DX_SPARSE_ARGS; break;
    default: dx_sparse_body4 DX_SPARSE_ARGS; break;
    }
}
#else
static void dx_sparse DX_SPARSE_PARAMS { dx_sparse_body4 DX_SPARSE_ARGS; }
#endif

/* Column blocks of at most 16·numax floats per row that the sparse way uses at this ISA level. */
static int dx_numax(void) {
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
    return dm_cpu_isa() == DM_ISA_AVX512 ? 4 : dm_cpu_isa() == DM_ISA_AVX2 ? 2 : 1;
#else
    return 1;
#endif
}

/* Whether the sparse way runs: always, unless DM_CONV_DX=dense asks for the GEMM way everywhere (then
 * conv1d_pool_dx runs its pair). */
bool dm_cpu_conv1d_dx_sparse(void) {
    const char *env = getenv("DM_CONV_DX");
    return !(env && strcmp(env, "dense") == 0);
}

/* w (Co, KC) packed for dx_sparse: column block [j0, j0 + 16·nu) (j0 a multiple of 16·numax, nu the
 * block's width in 16s) holds row o at wp[Co·j0 + o·16·nu], zeros past column KC; each block is
 * contiguous (a 2.5 KiB row stride would put the block's rows in a few L1 sets). Co·⌈KC/16⌉·16 floats
 * in thread 0's scratch slot 3; NULL on allocation failure (recorded). */
const float *dm_cpu_conv1d_dx_pack(dm_backend *be, const float *w, int Co, int KC) {
    int numax = dx_numax(), KCp = (KC + 15) / 16 * 16;
    float *wp = dm_cpu_scratch(be, 0, 3, (size_t)Co * (size_t)KCp);
    if (!wp) return NULL;
    for (int j0 = 0; j0 < KC; j0 += 16 * numax) {
        int nu = (KC - j0 + 15) / 16, n;
        if (nu > numax) nu = numax;
        n = KC - j0 < 16 * nu ? KC - j0 : 16 * nu;   /* real columns in the block */
        for (int o = 0; o < Co; o++) {
            float *dst = wp + (int64_t)Co * j0 + (int64_t)o * 16 * nu;
            memcpy(dst, w + (int64_t)o * KC + j0, sizeof(float) * (size_t)n);
            memset(dst + n, 0, sizeof(float) * (size_t)(16 * nu - n));
        }
    }
    return wp;
}

/* The non-zero entries of one output position's gradient g (Co) appended to (idx, val) from entry e;
 * returns the new end. Branch-free (about half the entries are zero, at random); the AVX-512 version
 * compresses 16 at a time and writes up to 16 entries past the end (the lists have that slack). A NaN
 * is non-zero. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>
DM_CPU_TARGET_AVX512 static int32_t dx_list_avx512(int32_t *idx, float *val, const float *g, int Co, int32_t e) {
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (int o = 0; o < Co; o += 16) {
        __mmask16 in = Co - o >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (Co - o)) - 1);
        __m512 v = _mm512_maskz_loadu_ps(in, g + o);
        __mmask16 nz = _mm512_mask_cmp_ps_mask(in, v, _mm512_setzero_ps(), _CMP_NEQ_UQ);
        _mm512_storeu_ps(val + e, _mm512_maskz_compress_ps(nz, v));
        _mm512_storeu_si512(idx + e, _mm512_maskz_compress_epi32(nz, _mm512_add_epi32(lane, _mm512_set1_epi32(o))));
        e += __builtin_popcount(nz);
    }
    return e;
}
#define DX_HAVE_AVX512 1
#endif

static int32_t dx_list(int32_t *restrict idx, float *restrict val, const float *restrict g, int Co, int32_t e,
                       bool avx512) {
#ifdef DX_HAVE_AVX512
    if (avx512) return dx_list_avx512(idx, val, g, Co, e);
#endif
    for (int o = 0; o < Co; o++) {
        idx[e] = o;
        val[e] = g[o];
        e += g[o] != 0.0f;
    }
    return e;
}

/* The lists of the rows [p0, p0 + pw) of one sequence from the max-pool after its conv → ReLU (pooled
 * position lo, g, a, y its gradient, argmax and output, Co each): row p0 + k gets the channels whose
 * maximum is there, whose ReLU passed it (y > 0) and whose gradient is not zero, in channel order: the
 * entries dx_list finds in what maxpool_relu_bwd writes (its 0 + g is g for g ≠ 0). r: the rows' ends. */
#ifdef DX_HAVE_AVX512
DM_CPU_TARGET_AVX512 static int32_t dx_list_pooled_avx512(int32_t *idx, float *val, int32_t *r, const float *g,
                                                          const int32_t *a, const float *y, int Co, int p0, int pw,
                                                          int32_t e) {
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (int k = 0; k < pw; k++) {
        __m512i pos = _mm512_set1_epi32(p0 + k);
        for (int o = 0; o < Co; o += 16) {
            __mmask16 in = Co - o >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (Co - o)) - 1);
            __m512 v = _mm512_maskz_loadu_ps(in, g + o);
            __mmask16 m = _mm512_mask_cmp_ps_mask(in, v, _mm512_setzero_ps(), _CMP_NEQ_UQ);
            m = _mm512_mask_cmp_ps_mask(m, _mm512_maskz_loadu_ps(in, y + o), _mm512_setzero_ps(), _CMP_GT_OQ);
            m = _mm512_mask_cmpeq_epi32_mask(m, _mm512_maskz_loadu_epi32(in, a + o), pos);
            _mm512_storeu_ps(val + e, _mm512_maskz_compress_ps(m, v));
            _mm512_storeu_si512(idx + e, _mm512_maskz_compress_epi32(m, _mm512_add_epi32(lane, _mm512_set1_epi32(o))));
            e += __builtin_popcount(m);
        }
        r[k] = e;
    }
    return e;
}
#endif

static int32_t dx_list_pooled(int32_t *restrict idx, float *restrict val, int32_t *r, const float *g,
                              const int32_t *a, const float *y, int Co, int p0, int pw, int32_t e, bool avx512) {
#ifdef DX_HAVE_AVX512
    if (avx512) return dx_list_pooled_avx512(idx, val, r, g, a, y, Co, p0, pw, e);
#endif
    for (int k = 0; k < pw; k++) {
        for (int o = 0; o < Co; o++) {
            idx[e] = o;
            val[e] = g[o];
            e += a[o] == p0 + k && y[o] > 0.0f && g[o] != 0.0f;
        }
        r[k] = e;
    }
    return e;
}

/* floats of scratch for the lists of a group: row starts, then (idx, val) with 16 entries of slack */
static size_t dx_scratch(int Lo, int Co) {
    int64_t per = (int64_t)Lo * Co;
    int64_t G = per * DX_GROUP > DX_GROUP_ENTRIES ? DX_GROUP_ENTRIES / per : DX_GROUP;
    if (G < 1) G = 1;
    return (size_t)(G * Lo + 1 + 2 * (G * per + 16));
}

int32_t *dm_cpu_conv1d_dx_scratch(dm_backend *be, int t, int Lo, int Co) {
    return (int32_t *)dm_cpu_scratch(be, t, 1, dx_scratch(Lo, Co));
}

void dm_cpu_conv1d_dx(dm_backend *be, int t, float *grad_in, const float *grad_out, const dm_cpu_pooled *pool,
                      const float *w, const float *wp, int b0, int b1, int Li, int Ci, int Co, int K, int pad,
                      float *col, bool dense) {
    int Lo = Li + 2 * pad - K + 1, KC = K * Ci;
    int64_t per = (int64_t)Lo * Co, nin = (int64_t)Li * Ci;
    int G = (int)(per * DX_GROUP > DX_GROUP_ENTRIES ? DX_GROUP_ENTRIES / per : DX_GROUP);
    if (G < 1) G = 1;
    int32_t *rs = dm_cpu_conv1d_dx_scratch(be, t, Lo, Co);
    if (!rs) return;    /* dm_cpu_scratch recorded the failure */
    int32_t *idx = rs + (int64_t)G * Lo + 1;
    float *val = (float *)(idx + (int64_t)G * per + 16);
    bool avx512 = dm_cpu_isa() == DM_ISA_AVX512;
    int ng = 0, gs = b0, ds = -1;     /* sequences in the sparse group, its first one; the dense run's first */
    rs[0] = 0;
    for (int b = b0; b <= b1; b++) {
        bool sparse = false;
        if (b < b1 && pool) {   /* from the pool: at most 1/2 of the entries (pool->w ≥ 2) */
            int Lp = Lo / pool->w;
            int64_t pb = (int64_t)b * Lp * Co;
            int32_t *r = rs + (int64_t)ng * Lo, e = r[0];
            for (int lo = 0; lo < Lp; lo++)
                e = dx_list_pooled(idx, val, r + 1 + lo * pool->w, pool->g + pb + (int64_t)lo * Co,
                                   pool->argmax + pb + (int64_t)lo * Co, pool->out + pb + (int64_t)lo * Co, Co,
                                   lo * pool->w, pool->w, e, avx512);
            for (int l = Lp * pool->w; l < Lo; l++) r[l + 1] = e;   /* past the last window */
            sparse = true;
        } else if (b < b1 && !dense) {   /* list the non-zero entries of sequence b after the group's */
            const float *go = grad_out + (int64_t)b * per;
            int32_t *r = rs + (int64_t)ng * Lo, e = r[0];
            for (int l = 0; l < Lo; l++) r[l + 1] = e = dx_list(idx, val, go + (int64_t)l * Co, Co, e, avx512);
            sparse = (int64_t)(e - r[0]) * DX_SPARSE_DEN <= per * DX_SPARSE_NUM;
        }
        if (ds >= 0 && (sparse || b == b1)) {   /* the dense run [ds, b) ends */
            int M = (b - ds) * Lo;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, KC, Co, 1.0f, grad_out + (int64_t)ds * per, Co,
                        w, KC, 0.0f, col, KC);
            col2im(grad_in + (int64_t)ds * nin, col, b - ds, Li, Ci, K, pad, Lo);
            ds = -1;
        }
        if (sparse && ng++ == 0) gs = b;
        if (!sparse && b < b1 && ds < 0) ds = b;
        if (ng > 0 && (ng == G || b >= b1 - 1 || !sparse)) {   /* the sparse group [gs, gs + ng) is done */
            memset(grad_in + (int64_t)gs * nin, 0, sizeof(float) * (size_t)(ng * nin));
            dx_sparse(grad_in + (int64_t)gs * nin, rs, idx, val, ng * Lo, Lo, Li, Ci, K, pad, wp, Co, KC,
                      dx_numax());
            ng = 0;
        }
    }
}

/* conv → ReLU → max-pool backward to the conv's input with no parameter gradient (backend.h's
 * conv1d_pool_dx): the lists come straight from the pool's gradient, argmax and output, so the conv's
 * output gradient is never written or read (the entries, their order and the sums are those of
 * maxpool_relu_bwd followed by conv1d_bwd's sparse way: bit for bit the same). Where the sparse way does
 * not run (dm_cpu_conv1d_dx_sparse), that pair instead, through grad_out. */
typedef struct {
    dm_backend *be;
    float *grad_in;
    dm_cpu_pooled pool;
    const float *w, *wp;
    int B, Li, Ci, Co, K, pad;
    int next;   /* the first sequence not yet claimed */
} pool_dx_job;

/* The threads claim DX_GROUP sequences at a time (each sequence's input gradient has one sum order
 * whatever the split: a thread the OS sets aside holds up one group, and the result stays the same). */
static void pool_dx_part(void *p, int t, int nt) {
    (void)nt;
    pool_dx_job *j = p;
    int Lo = j->Li + 2 * j->pad - j->K + 1;
    /* (the scratch first, even when nothing is left: which part finds work varies, its sizes must not) */
    if (!dm_cpu_conv1d_dx_scratch(j->be, t, Lo, j->Co)) return;   /* dm_cpu_scratch recorded the failure */
    for (int b0; (b0 = __atomic_fetch_add(&j->next, DX_GROUP, __ATOMIC_RELAXED)) < j->B;)
        dm_cpu_conv1d_dx(j->be, t, j->grad_in, NULL, &j->pool, j->w, j->wp, b0,
                         j->B - b0 < DX_GROUP ? j->B : b0 + DX_GROUP, j->Li, j->Ci, j->Co, j->K, j->pad, NULL, false);
}

void dm_cpu_conv1d_pool_dx(dm_backend *be, float *grad_in, float *grad_out, const float *grad_pool,
                           const int32_t *argmax, const float *pool_out, const float *w, int B, int Li, int Ci,
                           int Co, int K, int pad, int pw) {
    int Lo = Li + 2 * pad - K + 1;
    if (!dm_cpu_conv1d_dx_sparse() || pw < 2) {
        be->i->maxpool_relu_bwd(be, grad_out, grad_pool, argmax, pool_out, B, Lo, Co, pw);
        be->i->conv1d_bwd(be, grad_in, NULL, NULL, grad_out, NULL, w, B, Li, Ci, Co, K, pad);
        return;
    }
    pool_dx_job j = {be, grad_in, {grad_pool, argmax, pool_out, pw}, w, dm_cpu_conv1d_dx_pack(be, w, Co, K * Ci),
                     B, Li, Ci, Co, K, pad, 0};
    if (!j.wp) return;   /* dm_cpu_scratch recorded the failure */
    dm_cpu_parallel(be, dm_cpu_threads(be, B), pool_dx_part, &j);
}
