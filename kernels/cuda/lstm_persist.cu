/*
 * lstm_persist.cu: the persistent (bi)directional LSTM (issue 10, item 1): the whole recurrence of a
 * batch slice in ONE launch per pass, instead of lstm.cu's per-step GEMM + gate kernel (that path stays
 * as the reference, DM_CUDA_LSTM=step). Same op contract (kernels/backend.h, lstm_fwd / lstm_bwd).
 *
 * Forward (plstm_fwd_kernel): grid (ceil(B / S), n_dir), blockIdx.y the direction; a block owns S
 * sequences (the recurrence is independent across sequences) and keeps W_hh[d] transposed in shared
 * memory (H × 4H: thread → gate row g reads consecutive banks). The caller has written the input
 * projection x · W_ihᵀ into `gates` (one GEMM over all positions); per step the block
 *   phase 1, item (q, g):  a = gates[b, t, g] + b_ih + b_hh + Σ_k W_hh[g, k] h_prev[q, k], activated
 *                          (σ for i, f, o; tanh for g), to `gates` and to shared `act`;
 *   barrier;
 *   phase 2, item (q, j):  c = f c_prev + i g, h = o tanh c, to `cell`, `h` and shared h/c state;
 *   barrier.
 * Backward (plstm_bwd_kernel): the same grid and ownership, W_hh[d] as is (4H × H) in shared memory, the
 * recurrent gradients dh, dc of the block's sequences in shared memory across steps; per step, in reverse,
 *   phase A, item (q, j):  dh = grad_h + dh_rec, dc = dc_rec + dh o (1 − tanh² c), the four
 *                          pre-activation gate gradients to `grad_gates` and shared `da`, dc_rec = dc f;
 *   barrier;
 *   phase B, item (q, k):  dh_rec = Σ_g da[q, g] W_hh[g, k];
 *   barrier.
 * Weight gradients (plstm_wgrad_kernel + plstm_wreduce_kernel): grid (n_chunk, n_dir); block (c, d)
 * sums dA ᵀ · h_prev and the column sums of dA over its chunk of (b, t) rows into its own partial
 * (4H × H + 4H floats in scratch); the reduction then adds the partials in chunk order 0, 1, ... onto
 * grad_w_hh, grad_b_ih and grad_b_hh. No float atomics: the sums are the same in every run and every
 * thread order (they depend only on the shapes, which fix the chunking).
 *
 * Where it fits: the dynamic shared memory of a pass is (4H·H + S·(4H + 2H)) floats and must stay
 * within the 48 KiB a launch gets without opting in: with S = 1 that is H ≤ 54 (4·54² + 6·54 = 11,988
 * floats, 47,952 bytes; H = 55 needs 48,400 + 1,320 bytes). Larger H falls back to the per-step path
 * (dm_cuda_plstm_fits). The DeMo models have H = 32: 16 KB of W_hh, S = 2, 17.5 KB per block.
 *
 * DM_PLSTM_PLANT_MISSING_SYNC (tests only: tests/test_cuda_plstm.c compiles this file a second time
 * with it) removes the forward's phase-1 barrier and renames the launchers *_planted, so the test can
 * show that the emulator's NaN-poisoned shared memory turns the race into a wrong result.
 */
#include "common.cuh"
#include "dm_cuda.h"

#ifdef DM_PLSTM_PLANT_MISSING_SYNC
#define DM_PLSTM(name) name##_planted
#else
#define DM_PLSTM(name) name
#endif

/* Threads per block of every kernel here; sequences per block S = max(1, PLSTM_THREADS / 4H). */
enum { PLSTM_THREADS = 256, PLSTM_WG_ROWS = 32, PLSTM_CHUNK_ROWS = 256, PLSTM_MAX_CHUNKS = 1024 };
#define PLSTM_SHMEM_MAX 49152

static __device__ __host__ __forceinline__ int plstm_pos(int d, int s, int L) { return d == 0 ? s : L - 1 - s; }

/* Sequences per block for hidden size H and batch B. */
static __host__ int plstm_seqs(int B, int H) {
    int S = PLSTM_THREADS / (4 * H);
    if (S < 1) S = 1;
    return S < B ? S : (B > 0 ? B : 1);
}

static __host__ size_t plstm_shmem(int S, int H) { return sizeof(float) * ((size_t)4 * H * H + (size_t)S * 6 * H); }

static __global__ void plstm_fwd_kernel(float *h, float *gates, float *cell, const float *w_hh, const float *b_ih,
                                        const float *b_hh, int B, int L, int H, int n_dir, int S) {
    DM_DYN_SHARED(float, sh);
    int G = 4 * H, GD = n_dir * G, HD = n_dir * H;
    int d = (int)blockIdx.y, b0 = (int)blockIdx.x * S;
    float *wT = sh, *act = wT + G * H, *hs = act + S * G, *cs = hs + S * H;
    const float *w = w_hh + (int64_t)d * G * H;
    for (int i = threadIdx.x; i < G * H; i += blockDim.x) wT[(i % H) * G + i / H] = w[i];
    __syncthreads();
    for (int s = 0; s < L; s++) {
        int t = plstm_pos(d, s, L);
        for (int i = threadIdx.x; i < S * G; i += blockDim.x) {
            int q = i / G, g = i % G, b = b0 + q;
            if (b >= B) continue;
            float *a = gates + ((int64_t)b * L + t) * GD + d * G;
            float v = a[g] + (b_ih[d * G + g] + b_hh[d * G + g]);
            if (s > 0) {
                const float *hq = hs + q * H;
                float r = 0.0f;
                for (int k = 0; k < H; k++) r += wT[k * G + g] * hq[k];
                v += r;
            }
            v = g / H == 2 ? tanhf(v) : dm_sigmoid(v);
            act[i] = v;
            a[g] = v;
        }
#ifndef DM_PLSTM_PLANT_MISSING_SYNC
        __syncthreads();   /* act complete before phase 2 reads other threads' gates */
#endif
        for (int i = threadIdx.x; i < S * H; i += blockDim.x) {
            int q = i / H, j = i % H, b = b0 + q;
            if (b >= B) continue;
            const float *aq = act + q * G;
            float ig = aq[j], fg = aq[H + j], gg = aq[2 * H + j], og = aq[3 * H + j];
            float cprev = s > 0 ? cs[i] : 0.0f;
            float c = fg * cprev + ig * gg, hv = og * tanhf(c);
            cs[i] = c;
            hs[i] = hv;
            int64_t o = ((int64_t)b * L + t) * HD + d * H + j;
            cell[o] = c;
            h[o] = hv;
        }
        __syncthreads();   /* h state complete before the next step's phase 1; act free to overwrite */
    }
}

static __global__ void plstm_bwd_kernel(float *grad_gates, const float *grad_h, const float *gates, const float *cell,
                                        const float *w_hh, int B, int L, int H, int n_dir, int S) {
    DM_DYN_SHARED(float, sh);
    int G = 4 * H, GD = n_dir * G, HD = n_dir * H;
    int d = (int)blockIdx.y, b0 = (int)blockIdx.x * S;
    float *w = sh, *da = w + G * H, *dh = da + S * G, *dc = dh + S * H;
    const float *wd = w_hh + (int64_t)d * G * H;
    for (int i = threadIdx.x; i < G * H; i += blockDim.x) w[i] = wd[i];
    for (int i = threadIdx.x; i < S * H; i += blockDim.x) dh[i] = dc[i] = 0.0f;   /* nothing after the last step */
    __syncthreads();
    for (int s = L - 1; s >= 0; s--) {
        int t = plstm_pos(d, s, L), tp = plstm_pos(d, s > 0 ? s - 1 : 0, L);
        for (int i = threadIdx.x; i < S * H; i += blockDim.x) {
            int q = i / H, j = i % H, b = b0 + q;
            if (b >= B) continue;
            const float *a = gates + ((int64_t)b * L + t) * GD + d * G;
            float ig = a[j], fg = a[H + j], gg = a[2 * H + j], og = a[3 * H + j];
            int64_t o = ((int64_t)b * L + t) * HD + d * H + j;
            float c = cell[o], cprev = s > 0 ? cell[((int64_t)b * L + tp) * HD + d * H + j] : 0.0f;
            float dhv = grad_h[o] + dh[i], tc = tanhf(c);
            float dcv = dc[i] + dhv * og * (1.0f - tc * tc);
            float *ga = grad_gates + ((int64_t)b * L + t) * GD + d * G, *dq = da + q * G;
            float v0 = dcv * gg * ig * (1.0f - ig), v1 = dcv * cprev * fg * (1.0f - fg);
            float v2 = dcv * ig * (1.0f - gg * gg), v3 = dhv * tc * og * (1.0f - og);
            ga[j] = dq[j] = v0;
            ga[H + j] = dq[H + j] = v1;
            ga[2 * H + j] = dq[2 * H + j] = v2;
            ga[3 * H + j] = dq[3 * H + j] = v3;
            dc[i] = dcv * fg;
        }
        __syncthreads();   /* da complete before phase B; dh read by phase A before it is overwritten */
        if (s > 0) {
            for (int i = threadIdx.x; i < S * H; i += blockDim.x) {
                int q = i / H, k = i % H;
                if (b0 + q >= B) continue;
                const float *dq = da + q * G;
                float v = 0.0f;
                for (int g = 0; g < G; g++) v += dq[g] * w[g * H + k];
                dh[i] = v;
            }
        }
        __syncthreads();   /* dh complete before the next step's phase A; da free to overwrite */
    }
}

/* Block (c, d): partial[d][c] (4H·H + 4H) = Σ over rows r of chunk c of dA[r, d]ᵀ · h_prev[r, d] and of
 * dA[r, d], rows staged PLSTM_WG_ROWS at a time in shared memory (dA tile, then h_prev tile). */
static __global__ void plstm_wgrad_kernel(float *part, const float *grad_gates, const float *h, int B, int L, int H,
                                          int n_dir, int chunk_rows) {
    DM_DYN_SHARED(float, sh);
    int G = 4 * H, GD = n_dir * G, HD = n_dir * H, E = G * H + G;
    int d = (int)blockIdx.y, c = (int)blockIdx.x;
    int64_t rows = (int64_t)B * L, r0 = (int64_t)c * chunk_rows, r1 = r0 + chunk_rows < rows ? r0 + chunk_rows : rows;
    float *pc = part + ((int64_t)d * gridDim.x + c) * E;
    float *ta = sh, *th = sh + PLSTM_WG_ROWS * G;
    for (int64_t rt = r0; rt < r1; rt += PLSTM_WG_ROWS) {
        int nr = r1 - rt < PLSTM_WG_ROWS ? (int)(r1 - rt) : PLSTM_WG_ROWS;
        for (int i = threadIdx.x; i < nr * G; i += blockDim.x)
            ta[i] = grad_gates[(rt + i / G) * GD + d * G + i % G];
        for (int i = threadIdx.x; i < nr * H; i += blockDim.x) {
            int64_t row = rt + i / H;
            int t = (int)(row % L), tp = d == 0 ? t - 1 : t + 1;
            th[i] = tp >= 0 && tp < L ? h[(row - t + tp) * HD + d * H + i % H] : 0.0f;
        }
        __syncthreads();
        for (int e = threadIdx.x; e < E; e += blockDim.x) {
            float acc = rt == r0 ? 0.0f : pc[e];   /* this thread's own element of the block's partial */
            if (e < G * H) {
                int g = e / H, k = e % H;
                for (int r = 0; r < nr; r++) acc += ta[r * G + g] * th[r * H + k];
            } else {
                for (int r = 0; r < nr; r++) acc += ta[r * G + e - G * H];
            }
            pc[e] = acc;
        }
        __syncthreads();   /* the tiles are reloaded */
    }
}

/* grad_w_hh[d] += Σ_c partial[d][c] (weights), grad_b_ih[d], grad_b_hh[d] += the same for the bias part;
 * chunks summed in order 0, 1, ... */
static __global__ void plstm_wreduce_kernel(float *grad_w_hh, float *grad_b_ih, float *grad_b_hh, const float *part,
                                            int n_chunk, int H, int n_dir) {
    int G = 4 * H, E = G * H + G;
    DM_GRID_STRIDE(i, (int64_t)n_dir * E) {
        int d = (int)(i / E), e = (int)(i % E);
        const float *p = part + (int64_t)d * n_chunk * E + e;
        float s = 0.0f;
        for (int c = 0; c < n_chunk; c++) s += p[(int64_t)c * E];
        if (e < G * H) {
            grad_w_hh[(int64_t)d * G * H + e] += s;
        } else {
            grad_b_ih[d * G + e - G * H] += s;
            grad_b_hh[d * G + e - G * H] += s;
        }
    }
}

/* Whether the persistent kernels take hidden size H (their shared memory fits; see the top; the
 * truncated-rerun kernel needs H more floats per sequence: the same limit). */
DM_KAPI bool DM_PLSTM(dm_cuda_plstm_fits)(int H) {
    return H > 0 && plstm_shmem(1, H) + sizeof(float) * (size_t)H <= PLSTM_SHMEM_MAX;
}

/* `gates` holds x · W_ihᵀ (B, L, n_dir·4H); writes h, gates (activated) and cell as lstm_fwd does. */
DM_KAPI cudaError_t DM_PLSTM(dm_cuda_plstm_fwd_launch)(float *h, float *gates, float *cell, const float *w_hh,
                                                       const float *b_ih, const float *b_hh, int B, int L, int H,
                                                       int n_dir, cudaStream_t stream) {
    int S = plstm_seqs(B, H);
    dim3 grid = {(unsigned)((B + S - 1) / S), (unsigned)n_dir, 1};
    DM_LAUNCH(plstm_fwd_kernel, grid, PLSTM_THREADS, plstm_shmem(S, H), stream, h, gates, cell, w_hh, b_ih, b_hh, B,
              L, H, n_dir, S);
    return cudaGetLastError();
}

/* grad_gates (B, L, n_dir·4H) = the pre-activation gate gradients of every step, as lstm_bwd's. */
DM_KAPI cudaError_t DM_PLSTM(dm_cuda_plstm_bwd_launch)(float *grad_gates, const float *grad_h, const float *gates,
                                                       const float *cell, const float *w_hh, int B, int L, int H,
                                                       int n_dir, cudaStream_t stream) {
    int S = plstm_seqs(B, H);
    dim3 grid = {(unsigned)((B + S - 1) / S), (unsigned)n_dir, 1};
    DM_LAUNCH(plstm_bwd_kernel, grid, PLSTM_THREADS, plstm_shmem(S, H), stream, grad_gates, grad_h, gates, cell,
              w_hh, B, L, H, n_dir, S);
    return cudaGetLastError();
}

/* Chunks of the weight-gradient pass for B·L rows (each non-empty) and the rows per chunk. */
static __host__ int plstm_chunks(int64_t rows, int *chunk_rows) {
    int64_t n = (rows + PLSTM_CHUNK_ROWS - 1) / PLSTM_CHUNK_ROWS;
    if (n > PLSTM_MAX_CHUNKS) n = PLSTM_MAX_CHUNKS;
    if (n < 1) n = 1;
    int64_t per = (rows + n - 1) / n;
    *chunk_rows = (int)per;
    return (int)((rows + per - 1) / per);
}

/* Floats of scratch the weight-gradient pass needs. */
DM_KAPI size_t DM_PLSTM(dm_cuda_plstm_wgrad_scratch)(int B, int L, int H, int n_dir) {
    int per;
    return (size_t)plstm_chunks((int64_t)B * L, &per) * n_dir * ((size_t)4 * H * H + 4 * H);
}

/* grad_w_hh += Σ dAᵀ · h_prev per direction, grad_b_ih and grad_b_hh += Σ dA (fixed order, see top). */
DM_KAPI cudaError_t DM_PLSTM(dm_cuda_plstm_wgrad_launch)(float *grad_w_hh, float *grad_b_ih, float *grad_b_hh,
                                                         float *part, const float *grad_gates, const float *h, int B,
                                                         int L, int H, int n_dir, cudaStream_t stream) {
    int per, n_chunk = plstm_chunks((int64_t)B * L, &per);
    dim3 grid = {(unsigned)n_chunk, (unsigned)n_dir, 1};
    size_t shmem = sizeof(float) * PLSTM_WG_ROWS * (size_t)5 * H;
    DM_LAUNCH(plstm_wgrad_kernel, grid, PLSTM_THREADS, shmem, stream, part, grad_gates, h, B, L, H, n_dir, per);
    cudaError_t err = cudaGetLastError();
    if (err != cudaSuccess) return err;
    int64_t n = (int64_t)n_dir * (4 * H * H + 4 * H);
    DM_LAUNCH(plstm_wreduce_kernel, dm_cuda_grid(n), DM_CUDA_BLOCK, 0, stream, grad_w_hh, grad_b_ih, grad_b_hh, part,
              n_chunk, H, n_dir);
    return cudaGetLastError();
}

/* Temporal scores' truncated reruns (backend.h lstm_trunc): grid (ceil(B·L / S), 2), blockIdx.y the pass
 * p (0: direction 1's weights over the prefix n−1 down to 0; 1: direction 0's over the suffix L−n up to
 * L−1); row r = b·L + n − 1 of a block runs n steps, rows shorter than the block's longest idle (they
 * still meet every barrier). proj (B, L, 2·4H) = x · W_ihᵀ of both directions, from one GEMM. The step
 * is plstm_fwd_kernel's, keeping Σ h in shared memory instead of writing h, gates and cell. */
static __global__ void plstm_trunc_kernel(float *out, const float *proj, const float *w_hh, const float *b_ih,
                                          const float *b_hh, int B, int L, int H, int S) {
    DM_DYN_SHARED(float, sh);
    int G = 4 * H, p = (int)blockIdx.y, d = p == 0 ? 1 : 0;
    int64_t R = (int64_t)B * L, r0 = (int64_t)blockIdx.x * S;
    float *wT = sh, *act = wT + G * H, *hs = act + S * G, *cs = hs + S * H, *hsum = cs + S * H;
    const float *w = w_hh + (int64_t)d * G * H;
    for (int i = threadIdx.x; i < G * H; i += blockDim.x) wT[(i % H) * G + i / H] = w[i];
    for (int i = threadIdx.x; i < S * H; i += blockDim.x) hsum[i] = 0.0f;
    int n_max = 0;
    for (int q = 0; q < S && r0 + q < R; q++) {
        int n = (int)((r0 + q) % L) + 1;
        n_max = n > n_max ? n : n_max;
    }
    __syncthreads();
    for (int s = 0; s < n_max; s++) {
        for (int i = threadIdx.x; i < S * G; i += blockDim.x) {
            int q = i / G, g = i % G;
            int64_t r = r0 + q;
            int n = (int)(r % L) + 1;
            if (r >= R || s >= n) continue;
            int t = p == 0 ? n - 1 - s : L - n + s;
            float v = proj[((r - (n - 1)) + t) * 2 * G + d * G + g] + (b_ih[d * G + g] + b_hh[d * G + g]);
            if (s > 0) {
                const float *hq = hs + q * H;
                float acc = 0.0f;
                for (int k = 0; k < H; k++) acc += wT[k * G + g] * hq[k];
                v += acc;
            }
            act[i] = g / H == 2 ? tanhf(v) : dm_sigmoid(v);
        }
        __syncthreads();
        for (int i = threadIdx.x; i < S * H; i += blockDim.x) {
            int q = i / H, j = i % H;
            int64_t r = r0 + q;
            if (r >= R || s >= (int)(r % L) + 1) continue;
            const float *aq = act + q * G;
            float cprev = s > 0 ? cs[i] : 0.0f;
            float c = aq[H + j] * cprev + aq[j] * aq[2 * H + j], hv = aq[3 * H + j] * tanhf(c);
            cs[i] = c;
            hs[i] = hv;
            hsum[i] += hv;
        }
        __syncthreads();
    }
    for (int i = threadIdx.x; i < S * H; i += blockDim.x) {
        int64_t r = r0 + i / H;
        if (r < R) out[(r * 2 + p) * H + i % H] = hsum[i];
    }
}

/* out (B, L, 2, H) from proj (B, L, 2·4H) (backend.h lstm_trunc; the biases are added here). */
DM_KAPI cudaError_t DM_PLSTM(dm_cuda_plstm_trunc_launch)(float *out, const float *proj, const float *w_hh,
                                                         const float *b_ih, const float *b_hh, int B, int L, int H,
                                                         cudaStream_t stream) {
    int64_t R = (int64_t)B * L;
    int S = plstm_seqs(R > 1 << 30 ? 1 << 30 : (int)R, H);
    dim3 grid = {(unsigned)((R + S - 1) / S), 2, 1};
    DM_LAUNCH(plstm_trunc_kernel, grid, PLSTM_THREADS, plstm_shmem(S, H) + sizeof(float) * (size_t)S * H, stream, out,
              proj, w_hh, b_ih, b_hh, B, L, H, S);
    return cudaGetLastError();
}
