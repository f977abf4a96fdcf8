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
 *   usage: bench_gpu [--repeats N] [--batch B] [--min-seconds S] [--only ARCH[:WORKLOAD]] [--no-cudnn]
 * (--min-seconds 0 --repeats 3 --only cnnrnn:train --no-cudnn: a few steps of one workload, for a
 * profiler such as ncu, which times each kernel of them.)
 *
 * In the emulator build (DM_CUDA_EMU, `make emu`), `bench_gpu --emulate [--batch B]` counts instead of
 * timing: per architecture and workload it reads the emulator's counters (launches, cuBLAS calls,
 * host<->device bytes, synchronisations, allocations) over one steady-state step and prints them as
 * CSV with a modelled device time (bench/README.md, "Counts on the emulator"); --kernels adds the
 * per-kernel table of each step as a comment line.
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
#ifdef DM_CUDA_EMU
#include "arch.h"
#include "emu/emu.h"
#endif

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

/* Times at least `repeats` iterations (and min_s seconds) of workload w on model m; returns the median
 * of the device time between the events, *min its minimum, *host the median time the host spent in the call (launching,
 * and waiting where the call waits: a host time near the device time means the GPU waited for the
 * host), *n_done the iterations timed. */
static double time_workload(workload w, dm_net *m, dm_devdata *d, const float *x, float *attr, float *p_pos,
                            int B, int repeats, double min_s, double *tmin, double *host, int *n_done) {
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
    double *t = malloc(sizeof(double) * 100000), *th = malloc(sizeof(double) * 100000), total = 0;
    int n = 0;
    for (int it = -3; it < 100000; it++) {
        cudaEventRecord(e0, s);
        double h0 = dm_now();
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
        double h1 = dm_now();
        cudaEventRecord(e1, s);
        cudaEventSynchronize(e1);
        if (st) {
            fprintf(stderr, "bench_gpu: %s: %s\n", workload_name[w], dm_last_error());
            exit(1);
        }
        float ms;
        cudaEventElapsedTime(&ms, e0, e1);
        if (it < 0) continue;
        th[n] = h1 - h0;
        t[n++] = ms / 1e3;
        total += ms / 1e3;
        if (n >= repeats && total >= min_s) break;
    }
    double med = dm_bench_median(t, n);
    *tmin = t[0];   /* (dm_bench_median sorts) */
    *host = dm_bench_median(th, n);
    *n_done = n;
    free(t); free(th); free(ox); free(oppm);
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
    return med;
}

#ifdef DM_CUDA_EMU
/* ---- --emulate: counts on the CPU emulator and a model of the device ---------------------------------- */
/* The device model: data-sheet peaks of the SXM parts (FP32 without tensor cores; DRAM), and the
 * launch costs the issue takes (about 4 µs per kernel launch from the host, about 1 µs per node of a
 * replayed CUDA graph). */
typedef struct gpu_model { const char *name; double fp32_tflops, dram_tbps; } gpu_model;
static const gpu_model k_h100 = {"H100 SXM5 80 GB", 66.9, 3.35};   /* NVIDIA H100 data sheet */
static const gpu_model k_a100 = {"A100 SXM4 80 GB", 19.5, 2.039};  /* NVIDIA A100 data sheet */
#define LAUNCH_US 4.0
#define GRAPH_NODE_US 1.0

/* Matrix-product FLOP per sequence from the layer list (SPEC.md §8's rules, 2 FLOP per multiply-add):
 * `fwd` the forward pass, `dw` the weight gradients, `dh` the LSTM's gradient through the recurrence
 * (any backward needs it), `dx` the input gradients of every layer (`dx_first` that of the first layer
 * with parameters, which training skips), `rerun` the temporal scores' truncated reruns (each of the T
 * truncations reruns one LSTM direction over its t steps, both directions: T (T + 1) steps of one
 * direction). */
typedef struct flops { double fwd, dw, dh, dx, dx_first, rerun; } flops;

static flops layer_flops(const dm_hparams *hp) {
    dm_layer l[DM_MAX_LAYERS];
    int n;
    flops f = {0};
    if (dm_arch_layers(hp, l, &n)) return f;
    int first = 1;
    for (int i = 0; i < n; i++) {
        double mac = 0, mac_x = 0, mac_w = 0;
        if (l[i].op == DM_LAYER_CONV) {
            mac = mac_w = mac_x = (double)l[i].len_out * l[i].n * l[i].k * l[i].ch_in;
        } else if (l[i].op == DM_LAYER_DENSE) {
            mac = mac_w = mac_x = (double)l[i].len_in * l[i].ch_in * l[i].n;
        } else if (l[i].op == DM_LAYER_BILSTM) {
            double G = 4.0 * l[i].n, D = l[i].ch_in, H = l[i].n, T = l[i].len_in;
            mac = 2 * T * G * (D + H);
            mac_w = 2 * T * G * (D + H);
            mac_x = 2 * T * G * D;
            f.dh += 2 * (2 * T * G * H);
            f.rerun += 2 * T * (T + 1) / 2 * G * (D + H) * 2;
        } else {
            continue;
        }
        f.fwd += 2 * mac;
        f.dw += 2 * mac_w;
        if (first) f.dx_first += 2 * mac_x;
        else f.dx += 2 * mac_x;
        first = 0;
    }
    return f;
}

typedef enum { E_TRAIN, E_SALIENCY, E_OPTIMIZE, E_TEMPORAL } emu_workload;
static const char *emu_workload_name[] = {"train", "saliency", "optimize", "temporal"};

/* on_step of class optimisation: counters reset after step 1, read (with the per-kernel table) after
 * step 2. */
#define PROBE_KERNELS 256
typedef struct step_probe {
    dm_emu_counters c;
    int n;
    const char *name[PROBE_KERNELS];
    unsigned long long count[PROBE_KERNELS];
    int cublas[PROBE_KERNELS];
} step_probe;
static dm_status probe_step(void *ctx, int32_t done, int32_t steps) {
    step_probe *p = ctx;
    (void)steps;
    if (done == 1) dm_emu_counters_reset();
    if (done == 2) {
        dm_emu_counters_get(&p->c);
        for (p->n = 0; p->n < PROBE_KERNELS && dm_emu_kernel_entry(p->n, &p->name[p->n], &p->count[p->n],
                                                                   &p->cublas[p->n]);
             p->n++) {
        }
    }
    return DM_STATUS_OK;
}
static step_probe g_probe;
static dm_sal_dev *g_sal;   /* the saliency rows, resident on the device (host/sal_dev.c) */

static void emu_die(const char *what) {
    fprintf(stderr, "bench_gpu: %s: %s\n", what, dm_last_error());
    exit(1);
}

/* Runs workload w twice (the first warms up: scratch grows, caches fill) and returns the counters of
 * the second; for optimize, of its second step only. */
static dm_emu_counters emu_count(emu_workload w, dm_net *m, dm_devdata *d, const float *x, int B) {
    dm_adam opt;
    dm_adam_default(&opt);
    size_t nx = (size_t)B * 101 * 4;
    float *a = malloc(4 * nx), *b = malloc(4 * nx), *p = malloc(4 * (size_t)B), obj[3 * 4096];
    step_probe *probe = &g_probe;
    memset(probe, 0, sizeof *probe);
    dm_emu_counters c;
    for (int it = 0; it < (w == E_SALIENCY ? 3 : 2); it++) {   /* saliency: the third batch replays a graph */
        dm_emu_counters_reset();
        dm_status st = DM_STATUS_OK;
        switch (w) {
        case E_TRAIN:
            dm_net_zero_grad(m);
            if (!(st = dm_net_forward_data(m, d, (int64_t)it * B, B, true, 1, (uint64_t)it + 10, false)) &&
                !(st = dm_net_backward_data(m, d, (int64_t)it * B, B, B)))
                st = dm_net_adam_step(m, &opt);
            break;
        case E_SALIENCY: st = dm_sal_dev_batch(g_sal, 0, B, x, a, p); break;
        case E_OPTIMIZE: {
            dm_optimize_options oo;
            dm_optimize_options_default(&oo);
            oo.restarts = B;
            oo.steps = 3;
            oo.report_every = 1;
            oo.on_step = probe_step;
            oo.on_step_ctx = probe;
            st = dm_net_optimize(m, &oo, a, b, obj, p);
            break;
        }
        case E_TEMPORAL: st = dm_net_temporal(m, x, B, a, b); break;
        }
        if (st) emu_die(emu_workload_name[w]);
        dm_emu_counters_get(&c);
    }
    free(a); free(b); free(p);
    return w == E_OPTIMIZE ? probe->c : c;
}

/* One comment line with the per-kernel table of the last counted step ("name x count", cuBLAS marked;
 * optimize: the probe's copy). */
static void print_kernels(const char *arch, emu_workload w) {
    const char *name;
    unsigned long long k;
    int cublas;
    printf("# kernels %s %s:", arch, emu_workload_name[w]);
    for (int i = 0; w == E_OPTIMIZE ? i < g_probe.n : dm_emu_kernel_entry(i, &name, &k, &cublas); i++) {
        if (w == E_OPTIMIZE) {
            name = g_probe.name[i];
            k = g_probe.count[i];
            cublas = g_probe.cublas[i];
        }
        printf(" %s%s x %llu", name, cublas ? " (cuBLAS)" : "", k);
    }
    printf("\n");
}

static int emulate_main(int B, int B_temporal, int kernels) {
    dm_backend *gpu;
    if (dm_backend_cuda_create(&gpu, 0) != DM_STATUS_OK) emu_die("the emulator's CUDA backend");
    char date[32];
    dm_utc_now(date);
    printf("# bench_gpu --emulate: counts from the CUDA emulator (no GPU); deepmotif %s, %s, commit %s\n",
           dm_version(), date, dm_git_commit());
    printf("# per step, after one warm-up: train = one training step at batch %d (gather, forward, backward, "
           "clip + Adam); saliency = one grad saliency batch of %d (rows resident on the device, packed; attributions and scores out); "
           "optimize = one class-optimisation step of %d restarts (the loop's second step); temporal = "
           "one temporal-score batch of %d\n", B, B, B, B_temporal);
    printf("# MODEL, not a measurement: model_<gpu>_ms = max(launch time, FLOP / FP32 peak, bytes / "
           "DRAM bandwidth), launch time = (launches outside graphs + graph launches) x %.0f us + kernels "
           "replayed from graphs x %.0f us (graph nodes); _graph_ms: as if every launch were a graph node; %s: %.1f TFLOP/s, "
           "%.2f TB/s; %s: %.1f TFLOP/s, %.3f TB/s (data sheets); FLOP: matrix products from the layer list "
           "(SPEC.md §8 rules); bytes: minimum DRAM traffic (activations and their gradients written and "
           "read once, 10 accesses per parameter when training, 2 otherwise); PCIe time and host work are "
           "not in the model\n",
           LAUNCH_US, GRAPH_NODE_US, k_h100.name, k_h100.fp32_tflops, k_h100.dram_tbps, k_a100.name,
           k_a100.fp32_tflops, k_a100.dram_tbps);
    printf("arch,workload,batch,launches,kernels,cublas_calls,h2d_bytes,d2h_bytes,d2d_bytes,syncs,allocs,frees,"
           "gflop,min_dram_mb,model_h100_ms,model_a100_ms,model_h100_graph_ms,bound_h100,graph_launches,"
           "graph_nodes\n");
    int64_t N = 4 * (int64_t)B;
    dm_dataset ds = {.n = N, .len = 101};
    ds.seq = malloc((size_t)N * 101);
    ds.label = malloc((size_t)N);
    dm_rng r;
    dm_rng_init(&r, 7, DM_STREAM_SIMULATE, 0);
    for (int64_t i = 0; i < N * 101; i++) ds.seq[i] = (uint8_t)dm_rng_below(&r, 4);
    for (int64_t i = 0; i < N; i++) ds.label[i] = (int8_t)(i & 1);
    float *x = malloc(sizeof(float) * B * 101 * 4);
    for (int i = 0; i < B * 101; i++)
        for (int c = 0; c < 4; c++) x[4 * i + c] = ds.seq[i] == c;
    for (int a = 0; a < dm_arch_count(); a++) {
        dm_hparams hp;
        dm_hparams_default(&hp, (dm_arch)a);
        flops f = layer_flops(&hp);
        if (a < 3) { /* the layer-list count against SPEC.md §8's */
            double spec_train = dm_bench_train_flop(&hp), spec_sal = dm_bench_saliency_mflop[a] * 1e6;
            double mine_train = f.fwd + f.dw + f.dh + f.dx, mine_sal = f.fwd + f.dh + f.dx + f.dx_first;
            if (fabs(mine_train / spec_train - 1) > 0.01 || fabs(mine_sal / spec_sal - 1) > 0.01)
                printf("# note: %s: layer-list FLOP %.2f / %.2f MFLOP (train / saliency) vs SPEC.md §8 %.2f / %.2f\n",
                       dm_arch_name((dm_arch)a), mine_train / 1e6, mine_sal / 1e6, spec_train / 1e6, spec_sal / 1e6);
        }
        dm_net *m;
        dm_devdata *d;
        if (dm_net_create(&m, &hp, gpu, B) || dm_net_init_params(m, 1) || dm_devdata_create(&d, gpu, &ds))
            emu_die(dm_arch_name((dm_arch)a));
        dm_saliency_options so = {.method = DM_SAL_GRAD, .target = DM_TARGET_POS, .seed = 1};
        if (dm_sal_dev_create(&g_sal, m, &so) || dm_sal_dev_load(g_sal, ds.seq, ds.label, B, 0))
            emu_die("the resident saliency rows");
        double np = (double)dm_net_n_params(m), nact = (double)dm_net_n_act_floats(m);
        for (int w = 0; w < 4; w++) {
            int Bw = w == E_TEMPORAL ? B_temporal : B;
            if (w == E_TEMPORAL && dm_net_temporal_stride(m) == 0) {
                printf("# %s: no temporal scores (no BiLSTM followed by the mean and the head)\n",
                       dm_arch_name((dm_arch)a));
                continue;
            }
            dm_emu_counters c = emu_count((emu_workload)w, m, d, x, Bw);
            double per_seq = w == E_TRAIN ? f.fwd + f.dw + f.dh + f.dx
                             : w == E_TEMPORAL ? f.fwd + f.rerun : f.fwd + f.dh + f.dx + f.dx_first;
            double flop = per_seq * Bw;
            double act = nact * Bw / B; /* the activation buffers scale with the batch */
            double bytes = 4.0 * (2 * act + (w == E_TRAIN ? 10 : 2) * np);
            double plain = (double)(c.launches - c.graph_launch_nodes) + (double)c.graph_launches;
            double t_launch = (plain * LAUNCH_US + (double)c.graph_launch_nodes * GRAPH_NODE_US) * 1e-3;
            double t_graph = c.launches * GRAPH_NODE_US * 1e-3;
            double t_flop_h = flop / (k_h100.fp32_tflops * 1e12) * 1e3, t_flop_a = flop / (k_a100.fp32_tflops * 1e12) * 1e3;
            double t_mem_h = bytes / (k_h100.dram_tbps * 1e12) * 1e3, t_mem_a = bytes / (k_a100.dram_tbps * 1e12) * 1e3;
            double h100 = fmax(t_launch, fmax(t_flop_h, t_mem_h)), a100 = fmax(t_launch, fmax(t_flop_a, t_mem_a));
            double h100g = fmax(t_graph, fmax(t_flop_h, t_mem_h));
            const char *bound = h100 == t_launch ? "launch" : (h100 == t_flop_h ? "fp32" : "dram");
            printf("%s,%s,%d,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%.3f,%.1f,%.3f,%.3f,%.3f,%s,%llu,%llu\n",
                   dm_arch_name((dm_arch)a), emu_workload_name[w], Bw, c.launches, c.kernels, c.cublas_calls,
                   c.h2d_bytes, c.d2h_bytes, c.d2d_bytes, c.syncs, c.mallocs + c.host_allocs, c.frees, flop / 1e9,
                   bytes / 1e6, h100, a100, h100g, bound, c.graph_launches, c.graph_nodes);
            if (kernels) print_kernels(dm_arch_name((dm_arch)a), (emu_workload)w);
            fflush(stdout);
        }
        dm_devdata_free(d);
        dm_sal_dev_free(g_sal);
        dm_net_free(m);
    }
    free(ds.seq); free(ds.label); free(x);
    dm_backend_free(gpu);
    return 0;
}
#endif

/* --only ARCH[:WORKLOAD]: whether this architecture (and workload; NULL: any) is asked for. */
static bool only_match(const char *only, const char *arch, const char *work) {
    if (!only) return true;
    const char *colon = strchr(only, ':');
    size_t n = colon ? (size_t)(colon - only) : strlen(only);
    if (strlen(arch) != n || strncmp(only, arch, n)) return false;
    return !work || !colon || !strcmp(colon + 1, work);
}

int main(int argc, char **argv) {
    int repeats = 10, B = 256, emulate = 0, B_temporal = 64, kernels = 0, no_cudnn = 0;
    double min_s = 1.0;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--emulate")) emulate = 1;
        else if (!strcmp(argv[i], "--kernels")) kernels = 1;
        else if (i + 1 < argc && !strcmp(argv[i], "--repeats")) repeats = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--batch")) B = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--temporal-batch")) B_temporal = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--min-seconds")) min_s = atof(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--only")) only = argv[++i];
        else if (!strcmp(argv[i], "--no-cudnn")) no_cudnn = 1;
        else repeats = 0; /* unknown: usage */
    }
    if (repeats < 3 || B < 8 || B > 4096 || B_temporal < 1 || B_temporal > B || !(min_s >= 0 && min_s <= 60)) {
        fprintf(stderr, "usage: bench_gpu [--repeats N ≥ 3] [--batch 8..4096] [--min-seconds 0..60] "
                        "[--only ARCH[:WORKLOAD]] [--no-cudnn] | bench_gpu --emulate [--batch B] "
                        "[--temporal-batch 1..B] [--kernels]\n");
        return 2;
    }
    bool known = !only;
    for (int a = 0; a < 3 && !known; a++)
        for (int w = 0; w < 3; w++) known |= only_match(only, dm_arch_name((dm_arch)a), workload_name[w]);
    if (!known) {
        fprintf(stderr, "bench_gpu: --only %s names no architecture (cnn, rnn, cnnrnn) and workload (train, "
                        "saliency, optimize)\n", only);
        return 2;
    }
#ifdef DM_CUDA_EMU
    if (!emulate) {
        fprintf(stderr, "bench_gpu: this is the emulator build: times would be the CPU's; run bench_gpu --emulate "
                        "for counts\n");
        return 2;
    }
    return emulate_main(B, B_temporal, kernels);
#else
    (void)kernels;
    if (emulate) {
        fprintf(stderr, "bench_gpu: --emulate needs the emulator build (make emu: build-emu/bench/bench_gpu)\n");
        return 2;
    }
#endif
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
    printf("# repeats: the iterations timed; host_s: the median time the host spent in the call\n");
    printf("name,arch,variant,batch,repeats,median_s,min_s,host_s,seq_per_s,gflops,pct_peak_flops,gbps,pct_peak_bw,"
           "commit\n");

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
    if (no_cudnn) {
        printf("# cudnn variant skipped: --no-cudnn\n");
    } else if (dm_backend_cuda_create(&variants[1], 0) || dm_backend_cuda_cudnn(variants[1])) {
        printf("# cudnn variant skipped: %s\n", dm_last_error());
        dm_backend_free(variants[1]);
        variants[1] = NULL;
    }
    int status = 0;
    for (int a = 0; a < 3; a++)
    for (int v = 0; v < 2; v++) {
        if (!variants[v] || !only_match(only, dm_arch_name((dm_arch)a), NULL)) continue;
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
            if (!only_match(only, dm_arch_name((dm_arch)a), workload_name[w])) continue;
            double tmin, host;
            int n_done;
            double med = time_workload((workload)w, m, d, x, attr, p_pos, B, repeats, min_s, &tmin, &host, &n_done);
            double flop = w == W_TRAIN ? dm_bench_train_flop(&hp) : dm_bench_saliency_mflop[a] * 1e6;
            double bytes = 4.0 * (2 * nact + 10 * np);
            if (w == W_SALIENCY) bytes += 2.0 * 4 * B * 101 * 4;   /* input in, attributions out */
            double gfl = B * flop / med / 1e9, gbps = bytes / med / 1e9;
            printf("%s,%s,%s,%d,%d,%.6f,%.6f,%.6f,%.0f,%.1f,%.2f,%.1f,%.2f,%s\n", workload_name[w],
                   dm_arch_name(hp.arch), variant_name[v], B, n_done, med, tmin, host, B / med, gfl,
                   100 * gfl / pk.gflops, gbps, 100 * gbps / pk.gbps, dm_git_commit());
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
