/*
 * bench_gpu.c: the CUDA backend's speed per architecture at batch 256, L 101 (PERFORMANCE.md §6):
 *   train     one training step on a device-resident data set (gather, forward, backward, clip + Adam)
 *   saliency  one `grad` saliency batch, host input in and attributions out (dm_saliency_batch)
 *   optimize  class optimisation, 256 restarts in one batch: one RMSprop step of all of them
 * each with deepmotif's kernels (variant `cuda`) and with cuDNN's convolution and LSTM (`cudnn`, when
 * the build has cuDNN).
 *
 * Correct first: a training step on the GPU is checked against the CPU backend before timing. Every
 * timed iteration is bracketed by a cudaEvent pair on the backend's stream; warm-up, then median and
 * minimum over ≥ 10 repeats and ≥ 1 s. GFLOP/s uses the SPEC.md §8 counts (matrix products only);
 * GB/s is an estimate of the minimum DRAM traffic (every activation and activation-gradient float
 * written once and read once, 10 accesses per parameter for forward, gradient and Adam), against the
 * device's FP32 and memory peaks computed from its attributes.
 *
 * Without a usable device it prints why and exits 0 ("waived", as cuda-samples do): nothing measured.
 *   usage: bench_gpu [--repeats N] [--batch B]
 */
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "bench.h"
#include "dm_cuda.h"
#include "dm_internal.h"
#include "dm_rng.h"
#include "model.h"
#include "optimize.h"
#include "saliency.h"

/* FP32 lanes per SM by compute capability (NVIDIA's tables: A100 64, Ada/Hopper/Blackwell 128). */
static int fp32_per_sm(int major, int minor) {
    if (major == 8 && minor == 0) return 64;
    if (major >= 8) return 128;
    return 64;
}

typedef struct peaks { double gflops, gbps; } peaks;

static peaks device_peaks(int dev) {
    struct cudaDeviceProp p;
    int clock_khz = 0, mem_khz = 0, bus_bits = 0;
    cudaGetDeviceProperties(&p, dev);
    cudaDeviceGetAttribute(&clock_khz, cudaDevAttrClockRate, dev);
    cudaDeviceGetAttribute(&mem_khz, cudaDevAttrMemoryClockRate, dev);
    cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, dev);
    peaks k;
    k.gflops = 2.0 * p.multiProcessorCount * fp32_per_sm(p.major, p.minor) * clock_khz * 1e3 / 1e9;
    k.gbps = 2.0 * mem_khz * 1e3 * bus_bits / 8 / 1e9;   /* double data rate */
    return k;
}

typedef enum { W_TRAIN, W_SALIENCY, W_OPTIMIZE } workload;
static const char *workload_name[] = {"train", "saliency", "optimize"};

/* Times `repeats` (≥ 1 s) iterations of workload w on model m; returns the median, *min the minimum. */
static double time_workload(workload w, dm_net *m, dm_devdata *d, const float *x, float *attr, float *p_pos,
                            int B, int repeats, double *tmin) {
    dm_backend *be = dm_net_backend(m);
    cudaStream_t s = dm_cuda_stream(be);
    cudaEvent_t e0, e1;
    cudaEventCreate(&e0);
    cudaEventCreate(&e1);
    dm_adam opt;
    dm_adam_default(&opt);
    dm_saliency_options so = {.method = DM_SAL_GRAD, .target = DM_TARGET_POS, .seed = 1};
    dm_optimize_options oo;
    dm_optimize_options_default(&oo);
    oo.restarts = B;
    oo.steps = 1;
    size_t nx = (size_t)B * 101 * 4;
    float *ox = malloc(4 * nx), *oppm = malloc(4 * nx), obj[2 * 4096];
    double *t = malloc(sizeof(double) * 100000), total = 0;
    int n = 0;
    for (int it = -3; it < 100000; it++) {
        cudaEventRecord(e0, s);
        dm_status st = DM_STATUS_OK;
        int64_t i0 = ((int64_t)(it + 3) * B) % (d->n - B + 1);
        switch (w) {
        case W_TRAIN:
            dm_net_zero_grad(m);
            if (!(st = dm_net_forward_data(m, d, i0, B, true, 1, (uint64_t)it + 10, false)) &&
                !(st = dm_net_backward_data(m, d, i0, B, B)))
                st = dm_net_adam_step(m, &opt);
            break;
        case W_SALIENCY: st = dm_saliency_batch(m, x, NULL, B, 0, &so, attr, p_pos); break;
        case W_OPTIMIZE: st = dm_net_optimize(m, &oo, ox, oppm, obj, p_pos); break;
        }
        cudaEventRecord(e1, s);
        cudaEventSynchronize(e1);
        if (st) {
            fprintf(stderr, "bench_gpu: %s: %s\n", workload_name[w], dm_last_error());
            exit(1);
        }
        float ms;
        cudaEventElapsedTime(&ms, e0, e1);
        if (it < 0) continue;
        t[n++] = ms / 1e3;
        total += ms / 1e3;
        if (n >= repeats && total >= 1.0) break;
    }
    double med = dm_bench_median(t, n);
    *tmin = t[0];
    free(t); free(ox); free(oppm);
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
    return med;
}

int main(int argc, char **argv) {
    int repeats = 10, B = 256;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--repeats")) repeats = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--batch")) B = atoi(argv[i + 1]);
    }
    if (repeats < 3 || B < 8 || B > 4096) {
        fprintf(stderr, "usage: bench_gpu [--repeats N ≥ 3] [--batch 8..4096]\n");
        return 2;
    }
    dm_backend *gpu;
    if (dm_backend_cuda_create(&gpu, 0) != DM_STATUS_OK) {
        printf("# bench_gpu: waived: %s\n", dm_last_error());
        return 0;
    }
    int rt = 0, drv = 0, blas = 0;
    cudaRuntimeGetVersion(&rt);
    cudaDriverGetVersion(&drv);
    cublasHandle_t h;
    if (cublasCreate(&h) == CUBLAS_STATUS_SUCCESS) {
        cublasGetVersion(h, &blas);
        cublasDestroy(h);
    }
    peaks pk = device_peaks(0);
    char date[32];
    dm_utc_now(date);
    printf("# bench_gpu: batch %d, L 101; deepmotif %s, %s\n", B, dm_version(), date);
    printf("# device: %s; CUDA runtime %d, driver %d, cuBLAS %d\n", gpu->device, rt, drv, blas);
    printf("# peaks: %.0f GFLOP/s FP32 (no tensor cores), %.0f GB/s DRAM\n", pk.gflops, pk.gbps);
    printf("# GFLOP/s: SPEC.md §8 counts, matrix products only; GB/s: estimated minimum DRAM traffic\n");
    printf("name,arch,variant,batch,repeats,median_s,min_s,seq_per_s,gflops,pct_peak_flops,gbps,pct_peak_bw,commit\n");

    /* a resident data set of random bases, and one host batch for saliency */
    int64_t N = 16 * (int64_t)B;
    dm_dataset ds = {.n = N, .len = 101};
    ds.seq = malloc((size_t)N * 101);
    ds.label = malloc((size_t)N);
    dm_rng r;
    dm_rng_init(&r, 7, DM_STREAM_SIMULATE, 0);
    for (int64_t i = 0; i < N * 101; i++) ds.seq[i] = (uint8_t)dm_rng_below(&r, 4);
    for (int64_t i = 0; i < N; i++) ds.label[i] = (int8_t)(i & 1);
    float *x = malloc(sizeof(float) * B * 101 * 4), *attr = malloc(sizeof(float) * B * 101 * 4), *p_pos = malloc(4 * (size_t)B);
    for (int i = 0; i < B * 101; i++)
        for (int c = 0; c < 4; c++) x[4 * i + c] = ds.seq[i] == c;

    /* the second variant: the same device with cuDNN's convolution and LSTM */
    dm_backend *variants[2] = {gpu, NULL};
    const char *variant_name[2] = {"cuda", "cudnn"};
    if (dm_backend_cuda_create(&variants[1], 0) || dm_backend_cuda_cudnn(variants[1])) {
        printf("# cudnn variant skipped: %s\n", dm_last_error());
        dm_backend_free(variants[1]);
        variants[1] = NULL;
    }
    int status = 0;
    for (int a = 0; a < 3; a++)
    for (int v = 0; v < 2; v++) {
        if (!variants[v]) continue;
        gpu = variants[v];
        dm_hparams hp;
        dm_hparams_default(&hp, (dm_arch)a);
        dm_backend *cpu = dm_backend_cpu_create(0);
        double err = dm_bench_validate(&hp, cpu, gpu, ds.seq, ds.label);
        dm_backend_free(cpu);
        if (!(err < 1e-3)) {
            fprintf(stderr, "bench_gpu: %s, %s: the GPU disagrees with the CPU backend (%.3g)\n", dm_arch_name(hp.arch),
                    variant_name[v], err);
            status = 1;
            continue;
        }
        dm_net *m;
        dm_devdata *d;
        if (dm_net_create(&m, &hp, gpu, B) || dm_net_init_params(m, 1) || dm_devdata_create(&d, gpu, &ds)) {
            fprintf(stderr, "bench_gpu: %s\n", dm_last_error());
            return 1;
        }
        double np = (double)dm_net_n_params(m), nact = (double)dm_net_n_act_floats(m);
        for (int w = 0; w < 3; w++) {
            double tmin, med = time_workload((workload)w, m, d, x, attr, p_pos, B, repeats, &tmin);
            double flop = w == W_TRAIN ? dm_bench_train_flop(&hp) : dm_bench_saliency_mflop[a] * 1e6;
            double bytes = 4.0 * (2 * nact + 10 * np);
            if (w == W_SALIENCY) bytes += 2.0 * 4 * B * 101 * 4;   /* input in, attributions out */
            double gfl = B * flop / med / 1e9, gbps = bytes / med / 1e9;
            printf("%s,%s,%s,%d,%d,%.6f,%.6f,%.0f,%.1f,%.2f,%.1f,%.2f,%s\n", workload_name[w], dm_arch_name(hp.arch),
                   variant_name[v], B, repeats, med, tmin, B / med, gfl, 100 * gfl / pk.gflops, gbps, 100 * gbps / pk.gbps,
                   dm_git_commit());
            fflush(stdout);
        }
        dm_devdata_free(d);
        dm_net_free(m);
    }
    free(ds.seq); free(ds.label); free(x); free(attr); free(p_pos);
    dm_backend_free(variants[0]);
    dm_backend_free(variants[1]);
    return status;
}
