/*
 * bench_visualize.c: speed of the visualizations per architecture on the CPU backend (PERFORMANCE.md
 * §6): saliency `grad` sequences/s at batch 256, the cost of integrated gradients (64 steps) and
 * in-silico mutagenesis relative to `grad` (same process, per sequence), temporal scores sequences/s
 * (recurrent models), and class optimisation steps/s with 16 restarts.
 *
 * Before timing, `grad` on the fast backend is compared with the naive reference backend (8 sequences,
 * max relative error < 1e-3). Models are randomly initialised: speed does not depend on the weights.
 * GFLOP/s for `grad` use SPEC.md §8's saliency counts (forward + all input gradients).
 *   usage: bench_visualize [--threads N] [--arch NAME] [--saliency-only (grad, IG and ISM rows only)]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "dm_internal.h"
#include "dm_rng.h"
#include "bench.h"
#include "model.h"
#include "optimize.h"
#include "saliency.h"

#define PEAK_GFLOPS 228.0


/* Median of n timings of fn over ≥ 3 repeats and ≥ 1 s. */
typedef int (*bench_fn)(void *ctx);
static double time_median(bench_fn fn, void *ctx) {
    double t[1000];
    int n = 0;
    double total = 0;
    fn(ctx);                                       /* warm-up */
    while (n < 1000 && (n < 3 || total < 1.0)) {
        double t0 = dm_now();
        if (fn(ctx)) { fprintf(stderr, "bench_visualize: %s\n", dm_last_error()); exit(1); }
        t[n] = dm_now() - t0;
        total += t[n++];
    }
    for (int i = 1; i < n; i++)                    /* insertion sort: n is small */
        for (int j = i; j > 0 && t[j] < t[j - 1]; j--) { double s = t[j]; t[j] = t[j - 1]; t[j - 1] = s; }
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

typedef struct ctx {
    dm_net *m;
    float *x, *attr, *p, *f, *b, *ppm, *obj;
    int B;
    dm_saliency_options o;
    dm_optimize_options oo;
} ctx;

static int run_saliency(void *c_) { ctx *c = c_; return dm_saliency_batch(c->m, c->x, NULL, c->B, 0, &c->o, c->attr, c->p); }
static int run_temporal(void *c_) { ctx *c = c_; return dm_net_temporal(c->m, c->x, c->B, c->f, c->b); }
static int run_optimize(void *c_) { ctx *c = c_; return dm_net_optimize(c->m, &c->oo, c->attr, c->ppm, c->obj, c->p); }

int main(int argc, char **argv) {
    int threads = 2;
    bool saliency_only = false;
    const char *only_arch = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--arch") && i + 1 < argc) only_arch = argv[++i];
        else if (!strcmp(argv[i], "--saliency-only")) saliency_only = true;
        else {
            fprintf(stderr, "usage: bench_visualize [--threads N] [--arch NAME] [--saliency-only]\n");
            return 2;
        }
    }
    char date[32];
    dm_utc_now(date);
    printf("# bench_visualize: CPU backend, %d threads, L 101, random weights\n", threads);
    printf("# deepmotif %s, %s\n# cpu: %s\n# blas: %s\n", dm_version(), date, dm_cpu_name(), dm_blas_info());
    printf("name,arch,batch,threads,median_s,seq_per_s,gflops,pct_peak,relative_to_grad,commit\n");
    int L = 101, B = 256;
    float *x = calloc((size_t)B * L * 4, sizeof(float)), *attr = malloc(sizeof(float) * B * L * 4);
    float *ref = malloc(sizeof(float) * 8 * L * 4), *p = malloc(sizeof(float) * B);
    float *f = malloc(sizeof(float) * B * L), *b = malloc(sizeof(float) * B * L);
    float *ppm = malloc(sizeof(float) * 16 * L * 4), *obj = malloc(sizeof(float) * 101 * 16);
    dm_rng r;
    dm_rng_init(&r, 3, DM_STREAM_SIMULATE, 0);
    for (int i = 0; i < B * L; i++) x[4 * i + dm_rng_below(&r, 4)] = 1.0f;

    for (int a = 0; a < 3; a++) {
        dm_hparams hp;
        dm_hparams_default(&hp, (dm_arch)a);
        if (only_arch && strcmp(only_arch, dm_arch_name(hp.arch))) continue;
        dm_backend *be = dm_backend_cpu_create(threads), *rbe = dm_backend_cpu_ref_create();
        dm_net *m, *mr;
        if (dm_net_create(&m, &hp, be, B) || dm_net_create(&mr, &hp, rbe, 8) || dm_net_init_params(m, 1) ||
            dm_net_init_params(mr, 1))
            return 1;
        /* validate grad against the reference backend */
        ctx c = {.m = m, .x = x, .attr = attr, .p = p, .f = f, .b = b, .ppm = ppm, .obj = obj, .B = 8};
        c.o.method = DM_SAL_GRAD;
        if (run_saliency(&c) || dm_saliency_batch(mr, x, NULL, 8, 0, &c.o, ref, p)) return 1;
        double gmax = 0, err = 0;
        for (int i = 0; i < 8 * L * 4; i++) gmax = fmax(gmax, fabs(ref[i]));
        for (int i = 0; i < 8 * L * 4; i++) err = fmax(err, fabs(attr[i] - ref[i]) / (gmax + 1e-30));
        if (!(err < 1e-3)) { fprintf(stderr, "bench_visualize: %s grad disagrees (%.3g)\n", dm_arch_name(hp.arch), err); return 1; }

        c.B = B;
        double t_grad = time_median(run_saliency, &c);
        double gfl = B * dm_bench_saliency_mflop[a] * 1e6 / t_grad / 1e9;
        printf("saliency_grad,%s,%d,%d,%.6f,%.0f,%.1f,%.1f,1,%s\n", dm_arch_name(hp.arch), B, threads, t_grad,
               B / t_grad, gfl, 100 * gfl / PEAK_GFLOPS, dm_git_commit());
        c.o.method = DM_SAL_IG;
        c.o.steps = 64;
        c.B = 32;
        double t_ig = time_median(run_saliency, &c);
        printf("saliency_ig64,%s,%d,%d,%.6f,%.0f,,,%.1f,%s\n", dm_arch_name(hp.arch), c.B, threads, t_ig, c.B / t_ig,
               (t_ig / c.B) / (t_grad / B), dm_git_commit());
        c.o.method = DM_SAL_ISM;
        c.B = 2;
        double t_ism = time_median(run_saliency, &c);
        printf("saliency_ism,%s,%d,%d,%.6f,%.1f,,,%.1f,%s\n", dm_arch_name(hp.arch), c.B, threads, t_ism, c.B / t_ism,
               (t_ism / c.B) / (t_grad / B), dm_git_commit());
        if (a != DM_ARCH_CNN && !saliency_only) {
            c.B = 32;
            double t_tmp = time_median(run_temporal, &c);
            printf("temporal,%s,%d,%d,%.6f,%.0f,,,%.1f,%s\n", dm_arch_name(hp.arch), c.B, threads, t_tmp, c.B / t_tmp,
                   (t_tmp / c.B) / (t_grad / B), dm_git_commit());
        }
        dm_optimize_options_default(&c.oo);
        c.oo.restarts = 16;
        c.oo.steps = 100;
        double t_opt = saliency_only ? 0 : time_median(run_optimize, &c);
        if (!saliency_only)
            printf("optimize_16_restarts,%s,16,%d,%.6f,%.0f steps/s,,,,%s\n", dm_arch_name(hp.arch), threads,
                   t_opt, c.oo.steps / t_opt, dm_git_commit());
        fflush(stdout);
        dm_net_free(m);
        dm_net_free(mr);
        dm_backend_free(be);
        dm_backend_free(rbe);
    }
    free(x); free(attr); free(ref); free(p); free(f); free(b); free(ppm); free(obj);
    return 0;
}
