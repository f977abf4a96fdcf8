/*
 * bench_lstm.c: the recurrent workloads on the CPU backend, for before/after comparisons of the LSTM
 * (bench/lstm_fused.sh runs two builds of this file alternately): per recurrent architecture (RNN,
 * CNN-RNN) and thread count (1, 2), a training step (forward, backward, Adam: what bench_train times)
 * and saliency `grad` (dm_saliency_batch: what bench_visualize times), batch 256, L 101; and the
 * backend's lstm_fwd / lstm_bwd alone at both models' shapes. Median and minimum over ≥ 10 repeats
 * and ≥ 0.5 s per variant, after one untimed call; variants interleaved (A B A B ...).
 *
 * Correct first: before timing, each architecture's training step is checked against the naive
 * reference backend (dm_bench_validate, as bench_train), and saliency against it on 8 sequences.
 * Output: a # header, then CSV rows name,arch,threads,batch,repeats,median_s,min_s,seq_per_s.
 *   usage: bench_lstm [--min-time S] [--only WORKLOAD ARCH THREADS]   (e.g. --only train rnn 1, to profile)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend.h"
#include "bench.h"
#include "dm_internal.h"
#include "dm_rng.h"
#include "model.h"
#include "saliency.h"

#define L      101
#define B      256
#define MAXREP 100000

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct job {
    const char *name;
    int arch, threads;
    dm_backend *be;
    dm_net *m;
    dm_adam opt;
    float *x, *attr, *p; /* saliency */
    const uint8_t *codes;
    const int8_t *labels;
    /* op-level LSTM */
    int D, H;
    float *lx, *wih, *whh, *bih, *bhh, *h, *gates, *cell, *gh, *gx, *gwih, *gwhh, *gbih, *gbhh, *gg;
    double *t, *c;
    int n;
    double total;
} job;

static int run(job *j, int it) {
    switch (j->name[0]) {
    case 't': { /* train */
        double loss;
        dm_net_zero_grad(j->m);
        return dm_net_forward_codes(j->m, j->codes, B, true, 1, (uint64_t)it + 10, false) ||
               dm_net_backward(j->m, j->labels, B, B, &loss, NULL) || dm_net_adam_step(j->m, &j->opt);
    }
    case 's': { /* saliency */
        dm_saliency_options o = {.method = DM_SAL_GRAD};
        return dm_saliency_batch(j->m, j->x, NULL, B, 0, &o, j->attr, j->p);
    }
    case 'f': /* lstm_fwd */
        j->be->i->lstm_fwd(j->be, j->h, j->gates, j->cell, j->lx, j->wih, j->whh, j->bih, j->bhh, B, L, j->D,
                           j->H, 2);
        return 0;
    default: /* lstm_bwd */
        j->be->i->lstm_bwd(j->be, j->gx, j->gwih, j->gwhh, j->gbih, j->gbhh, j->gg, j->gh, j->lx, j->h,
                           j->gates, j->cell, j->wih, j->whh, B, L, j->D, j->H, 2);
        return 0;
    }
}

static float *urand(size_t n, float lo, float hi, dm_rng *r) {
    float *v = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) v[i] = lo + (hi - lo) * (float)dm_rng_uniform(r);
    return v;
}

int main(int argc, char **argv) {
    double min_time = 0.5;
    const char *only[3] = {NULL, NULL, NULL};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--min-time") && i + 1 < argc)
            min_time = atof(argv[++i]);
        else if (!strcmp(argv[i], "--only") && i + 3 < argc) {
            only[0] = argv[i + 1];
            only[1] = argv[i + 2];
            only[2] = argv[i + 3];
            i += 3;
        } else {
            fprintf(stderr, "usage: bench_lstm [--min-time S] [--only WORKLOAD ARCH THREADS]\n");
            return 2;
        }
    }
    char date[32];
    dm_utc_now(date);
    printf("# bench_lstm: recurrent workloads, batch %d, L %d\n# deepmotif %s, %s\n# cpu: %s\n# blas: %s\n",
           B, L, dm_version(), date, dm_cpu_name(), dm_blas_info());
    printf(
        "# median_s, min_s: wall clock; cpu_s: median process CPU time (all threads; on a shared machine "
        "the\n"
        "# 1-thread cpu_s is the least disturbed measure of the work, 2-thread cpu_s includes spinning)\n");
    printf("name,arch,threads,batch,repeats,median_s,min_s,seq_per_s,cpu_s\n");
    uint8_t *codes = malloc((size_t)B * L);
    int8_t *labels = malloc(B);
    float *x = calloc((size_t)B * L * 4, sizeof(float)), *attr = malloc(sizeof(float) * B * L * 4);
    float *p = malloc(sizeof(float) * B), *ref = malloc(sizeof(float) * 8 * L * 4);
    dm_rng r;
    dm_rng_init(&r, 7, DM_STREAM_SIMULATE, 0);
    for (int i = 0; i < B * L; i++) codes[i] = (uint8_t)dm_rng_below(&r, 4);
    for (int b = 0; b < B; b++) labels[b] = (int8_t)(b & 1);
    for (int i = 0; i < B * L; i++) x[4 * i + codes[i]] = 1.0f;

    const char *names[4] = {"train", "saliency", "fwd_op", "bwd_op"};
    for (int a = 1; a <= 2; a++) { /* rnn, cnnrnn */
        dm_hparams hp;
        dm_hparams_default(&hp, (dm_arch)a);
        if (only[1] && strcmp(only[1], dm_arch_name(hp.arch))) continue;
        /* correct first */
        dm_backend *rb = dm_backend_cpu_ref_create(), *fb = dm_backend_cpu_create(2);
        double err = dm_bench_validate(&hp, rb, fb, codes, labels);
        dm_net *mr, *mf;
        if (dm_net_create(&mr, &hp, rb, 8) || dm_net_init_params(mr, 1) || dm_net_create(&mf, &hp, fb, 8) ||
            dm_net_init_params(mf, 1))
            return 1;
        dm_saliency_options o = {.method = DM_SAL_GRAD};
        if (dm_saliency_batch(mr, x, NULL, 8, 0, &o, ref, p) ||
            dm_saliency_batch(mf, x, NULL, 8, 0, &o, attr, p))
            return 1;
        double gmax = 0, serr = 0;
        for (int i = 0; i < 8 * L * 4; i++) gmax = fmax(gmax, fabs(ref[i]));
        for (int i = 0; i < 8 * L * 4; i++) serr = fmax(serr, fabs(attr[i] - ref[i]) / (gmax + 1e-30));
        dm_net_free(mr);
        dm_net_free(mf);
        dm_backend_free(rb);
        dm_backend_free(fb);
        if (!(err < 1e-3) || !(serr < 1e-3)) {
            fprintf(stderr, "bench_lstm: %s: fast backend disagrees with the reference (%.3g, %.3g)\n",
                    dm_arch_name(hp.arch), err, serr);
            return 1;
        }
        /* the LSTM's input width in this model: 4 (one-hot) or the convolution's channels */
        int D = a == 1 ? 4 : hp.conv_channels, H = hp.hidden;
        job jobs[8];
        int nj = 0;
        for (int w = 0; w < 4; w++)
            for (int th = 1; th <= 2; th++) {
                if (only[0] && (strcmp(only[0], names[w]) || atoi(only[2]) != th)) continue;
                job *j = &jobs[nj++];
                memset(j, 0, sizeof *j);
                j->name = names[w];
                j->arch = a;
                j->threads = th;
                j->be = dm_backend_cpu_create(th);
                j->codes = codes;
                j->labels = labels;
                j->x = x;
                j->attr = attr;
                j->p = p;
                j->t = malloc(sizeof(double) * MAXREP);
                j->c = malloc(sizeof(double) * MAXREP);
                if (w < 2) {
                    if (dm_net_create(&j->m, &hp, j->be, B) || dm_net_init_params(j->m, 1)) return 1;
                    dm_adam_default(&j->opt);
                } else {
                    int G = 4 * H;
                    dm_rng q;
                    dm_rng_init(&q, 11, DM_STREAM_SIMULATE, 1);
                    float s = 1.0f / sqrtf((float)H);
                    j->D = D;
                    j->H = H;
                    j->lx = urand((size_t)B * L * D, 0, 1, &q);
                    j->wih = urand((size_t)2 * G * D, -s, s, &q);
                    j->whh = urand((size_t)2 * G * H, -s, s, &q);
                    j->bih = urand(2 * G, -s, s, &q);
                    j->bhh = urand(2 * G, -s, s, &q);
                    j->gh = urand((size_t)B * L * 2 * H, -1, 1, &q);
                    j->h = calloc((size_t)B * L * 2 * H, 4);
                    j->cell = calloc((size_t)B * L * 2 * H, 4);
                    j->gates = calloc((size_t)B * L * 2 * G, 4);
                    j->gg = calloc((size_t)B * L * 2 * G, 4);
                    j->gx = calloc((size_t)B * L * D, 4);
                    j->gwih = calloc((size_t)2 * G * D, 4);
                    j->gwhh = calloc((size_t)2 * G * H, 4);
                    j->gbih = calloc(2 * G, 4);
                    j->gbhh = calloc(2 * G, 4);
                    j->name = "fwd_op"; /* a forward state for the backward */
                    run(j, 0);
                    j->name = names[w];
                }
            }
        for (int it = -1; it < MAXREP; it++) {
            bool done = true;
            for (int k = 0; k < nj; k++) {
                job *j = &jobs[k];
                double t0 = dm_now(), c0 = cpu_now();
                if (run(j, it)) {
                    fprintf(stderr, "bench_lstm: %s\n", dm_last_error());
                    return 1;
                }
                double dt = dm_now() - t0, dc = cpu_now() - c0;
                if (it >= 0) {
                    j->c[j->n] = dc;
                    j->t[j->n++] = dt;
                    j->total += dt;
                }
                done = done && j->n >= 10 && j->total >= min_time;
            }
            if (done) break;
        }
        for (int k = 0; k < nj; k++) {
            job *j = &jobs[k];
            double mn = j->t[0];
            for (int i = 0; i < j->n; i++) mn = fmin(mn, j->t[i]);
            double med = dm_bench_median(j->t, j->n), cmed = dm_bench_median(j->c, j->n);
            printf("%s,%s,%d,%d,%d,%.6f,%.6f,%.0f,%.6f\n", j->name, dm_arch_name(hp.arch), j->threads, B,
                   j->n, med, mn, B / med, cmed);
            if (j->m) dm_net_free(j->m);
            float *bufs[] = {j->lx, j->wih, j->whh,  j->bih,  j->bhh,  j->h,    j->gates, j->cell,
                             j->gh, j->gx,  j->gwih, j->gwhh, j->gbih, j->gbhh, j->gg};
            for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) free(bufs[i]);
            dm_backend_free(j->be);
            free(j->t);
            free(j->c);
        }
        fflush(stdout);
    }
    return 0;
}
