/*
 * optin.cu: the element-wise steps of class optimisation on the input (kernels/cpu/optin.c):
 * projection X = softmax(Z) per position (or Z), the objective −log P(pos) + λ‖X‖² with the gradient
 * term 2λX, and RMSprop on Z (through the softmax Jacobian when `softmax`).
 * project / rmsprop: thread → position (4 channels). objective: block → restart, a block sum of x²
 * (dm_block_sum: fixed order, deterministic).
 */
#include "common.cuh"
#include "dm_cuda.h"

static __global__ void optin_project_kernel(float *x, const float *z, int64_t n_pos, int softmax) {
    DM_GRID_STRIDE(i, n_pos) {
        const float *zr = z + 4 * i;
        float *xr = x + 4 * i;
        if (!softmax) {
            for (int c = 0; c < 4; c++) xr[c] = zr[c];
        } else {
            float mx = fmaxf(fmaxf(zr[0], zr[1]), fmaxf(zr[2], zr[3])), e[4], s = 0.0f;
            for (int c = 0; c < 4; c++) s += e[c] = expf(zr[c] - mx);
            for (int c = 0; c < 4; c++) xr[c] = e[c] / s;
        }
    }
}

static __global__ void optin_objective_kernel(float *objective, float *grad, const float *x, const float *logprob,
                                              int n, float lambda) {
    __shared__ float red[32];
    int r = blockIdx.x;
    const float *xr = x + (int64_t)r * n;
    float *gr = grad + (int64_t)r * n;
    float sq = 0.0f;
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        float xv = xr[i];
        sq += xv * xv;
        gr[i] += 2.0f * lambda * xv;
    }
    sq = dm_block_sum(sq, red);
    if (threadIdx.x == 0) objective[r] = -fmaxf(logprob[2 * r], -69.07755279f /* ln 1e-30 */) + lambda * sq;
}

static __global__ void optin_rmsprop_kernel(float *z, float *v, const float *grad, const float *x, int64_t n_pos,
                                            float lr, float alpha, float eps, int softmax) {
    DM_GRID_STRIDE(i, n_pos) {
        const float *gr = grad + 4 * i, *xr = x + 4 * i;
        float gx = gr[0] * xr[0] + gr[1] * xr[1] + gr[2] * xr[2] + gr[3] * xr[3];
        for (int c = 0; c < 4; c++) {
            float g = softmax ? xr[c] * (gr[c] - gx) : gr[c];
            float vc = alpha * v[4 * i + c] + (1.0f - alpha) * g * g;
            v[4 * i + c] = vc;
            z[4 * i + c] -= lr * g / (sqrtf(vc) + eps);
        }
    }
}

DM_KAPI cudaError_t dm_cuda_optin_project_launch(float *x, const float *z, int64_t n_pos, bool softmax,
                                                 cudaStream_t stream) {
    DM_LAUNCH(optin_project_kernel, dm_cuda_grid(n_pos), DM_CUDA_BLOCK, 0, stream, x, z, n_pos, (int)softmax);
    return cudaGetLastError();
}

DM_KAPI cudaError_t dm_cuda_optin_objective_launch(float *objective, float *grad, const float *x,
                                                   const float *logprob, int R, int n, float lambda,
                                                   cudaStream_t stream) {
    DM_LAUNCH(optin_objective_kernel, R, DM_CUDA_BLOCK, 0, stream, objective, grad, x, logprob, n, lambda);
    return cudaGetLastError();
}

/* One block: row *step of the trajectory from cur, then the step advances (after every thread read it). */
static __global__ void optin_record_kernel(float *traj, const float *cur, int *step, int R) {
    int s = *step;
    for (int r = threadIdx.x; r < R; r += blockDim.x) traj[(int64_t)s * R + r] = cur[r];
    __syncthreads();
    if (threadIdx.x == 0) *step = s + 1;
}

DM_KAPI cudaError_t dm_cuda_optin_record_launch(float *traj, const float *cur, int *step, int R,
                                               cudaStream_t stream) {
    DM_LAUNCH(optin_record_kernel, 1, DM_CUDA_BLOCK, 0, stream, traj, cur, step, R);
    return cudaGetLastError();
}

DM_KAPI void dm_cuda_optin_record(dm_backend *be, float *traj, const float *cur, int *step, int R) {
    if (R > 0)
        dm_cuda_check(be, dm_cuda_optin_record_launch(traj, cur, step, R, dm_cuda_stream(be)), "optin_record");
}

DM_KAPI cudaError_t dm_cuda_optin_rmsprop_launch(float *z, float *v, const float *grad, const float *x,
                                                 int64_t n_pos, float lr, float alpha, float eps, bool softmax,
                                                 cudaStream_t stream) {
    DM_LAUNCH(optin_rmsprop_kernel, dm_cuda_grid(n_pos), DM_CUDA_BLOCK, 0, stream, z, v, grad, x, n_pos, lr,
              alpha, eps, (int)softmax);
    return cudaGetLastError();
}

DM_KAPI void dm_cuda_optin_project(dm_backend *be, float *x, const float *z, int64_t n_pos, bool softmax) {
    if (n_pos > 0)
        dm_cuda_check(be, dm_cuda_optin_project_launch(x, z, n_pos, softmax, dm_cuda_stream(be)), "optin_project");
}

DM_KAPI void dm_cuda_optin_objective(dm_backend *be, float *objective, float *grad, const float *x,
                                     const float *logprob, int R, int n, float lambda) {
    if (R > 0)
        dm_cuda_check(be, dm_cuda_optin_objective_launch(objective, grad, x, logprob, R, n, lambda, dm_cuda_stream(be)),
                      "optin_objective");
}

DM_KAPI void dm_cuda_optin_rmsprop(dm_backend *be, float *z, float *v, const float *grad, const float *x,
                                   int64_t n_pos, float lr, float alpha, float eps, bool softmax) {
    if (n_pos > 0)
        dm_cuda_check(be, dm_cuda_optin_rmsprop_launch(z, v, grad, x, n_pos, lr, alpha, eps, softmax,
                                                       dm_cuda_stream(be)), "optin_rmsprop");
}
