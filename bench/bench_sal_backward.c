/*
 * bench_sal_backward.c: what the input-only backward saves saliency (issue 12): `grad` saliency at batch
 * 256 on the CPU backend, per architecture, with the backward to the input alone (the default) and with
 * the full backward that also accumulates every parameter gradient (dm_net_input_grads_full, the old
 * path), alternated A B A B ... in one process so the ratio is not drift; ≥ --repeats each and ≥ 1 s;
 * medians, and the speed-up as the median of the pairs' full / input-only time ratios. Before timing,
 * the two maps are compared bit for bit.
 *
 * Output: '#' environment lines, then one CSV row per architecture.
 *   usage: bench_sal_backward [--threads N] [--repeats N]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "bench.h"
#include "dm_internal.h"
#include "dm_rng.h"
#include "model.h"
#include "saliency.h"

int main(int argc, char **argv) {
    int threads = 2, repeats = 10;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--repeats")) repeats = atoi(argv[i + 1]);
    }
    if (threads < 1 || repeats < 3) {
        fprintf(stderr, "usage: bench_sal_backward [--threads N] [--repeats N ≥ 3]\n");
        return 2;
    }
    char date[32];
    dm_utc_now(date);
    printf("# bench_sal_backward: saliency grad, batch 256, L 101, %d threads: input-only vs full backward\n", threads);
    printf("# deepmotif %s, %s\n# cpu: %s\n# blas: %s\n", dm_version(), date, dm_cpu_name(), dm_blas_info());
    printf("name,arch,batch,threads,repeats,input_only_s,full_s,input_only_seq_per_s,full_seq_per_s,speedup,commit\n");
    int L = 101, B = 256;
    size_t n = (size_t)B * L * 4;
    float *x = calloc(n, sizeof(float)), *a[2] = {malloc(sizeof(float) * n), malloc(sizeof(float) * n)};
    float *p = malloc(sizeof(float) * B);
    double *t[2] = {malloc(sizeof(double) * 100000), malloc(sizeof(double) * 100000)};
    double *ratio = malloc(sizeof(double) * 100000);   /* full / input-only of each alternated pair */
    dm_rng r;
    dm_rng_init(&r, 3, DM_STREAM_SIMULATE, 0);
    for (int i = 0; i < B * L; i++) x[4 * i + dm_rng_below(&r, 4)] = 1.0f;
    for (int arch = 0; arch < 3; arch++) {
        dm_hparams hp;
        dm_hparams_default(&hp, (dm_arch)arch);
        dm_backend *be = dm_backend_cpu_create(threads);
        dm_net *m;
        if (!be || dm_net_create(&m, &hp, be, B) || dm_net_init_params(m, 1)) return 1;
        dm_saliency_options o = {.method = DM_SAL_GRAD};
        for (int k = 0; k < 2; k++) {   /* warm-up and the bit-for-bit check */
            dm_net_input_grads_full(m, k == 1);
            if (dm_saliency_batch(m, x, NULL, B, 0, &o, a[k], p)) { fprintf(stderr, "%s\n", dm_last_error()); return 1; }
        }
        if (memcmp(a[0], a[1], sizeof(float) * n)) {
            fprintf(stderr, "bench_sal_backward: %s: the input-only map differs from the full backward's\n",
                    dm_arch_name(hp.arch));
            return 1;
        }
        int cnt = 0;
        double total[2] = {0, 0};
        while (cnt < 100000 && (cnt < repeats || total[0] < 1.0 || total[1] < 1.0)) {
            for (int k = 0; k < 2; k++) {
                dm_net_input_grads_full(m, k == 1);
                double t0 = dm_now();
                if (dm_saliency_batch(m, x, NULL, B, 0, &o, a[k], p)) { fprintf(stderr, "%s\n", dm_last_error()); return 1; }
                t[k][cnt] = dm_now() - t0;
                total[k] += t[k][cnt];
            }
            ratio[cnt] = t[1][cnt] / t[0][cnt];
            cnt++;
        }
        double m0 = dm_bench_median(t[0], cnt), m1 = dm_bench_median(t[1], cnt), sp = dm_bench_median(ratio, cnt);
        printf("saliency_grad,%s,%d,%d,%d,%.6f,%.6f,%.0f,%.0f,%.3f,%s\n", dm_arch_name(hp.arch), B, threads, cnt, m0,
               m1, B / m0, B / m1, sp, dm_git_commit());
        fflush(stdout);
        dm_net_free(m);
        dm_backend_free(be);
    }
    free(x); free(a[0]); free(a[1]); free(p); free(t[0]); free(t[1]); free(ratio);
    return 0;
}
