/*
 * test_cuda_graphs.c: CUDA graphs (backend.h graph_begin .. graph_free; stream capture in the CUDA
 * backend and in the emulator, kernels/cuda/emu/emu_queue.c).
 *
 *   - Class optimisation replays its steps from a graph: the results (optimised inputs, the objective
 *     trajectory, the final P(pos)) equal a run with DM_CUDA_GRAPHS=off bit for bit, every
 *     architecture, plain and softmax; on the emulator the counters show one graph launch per
 *     replayed step.
 *   - Resident saliency (gradient methods and IG, zero and shuffled baselines) replays full batches
 *     from a graph: attributions and P(pos) of every batch (full ones and the short last one) equal
 *     DM_CUDA_GRAPHS=off bit for bit; on the emulator, one graph launch per full batch after the second.
 *   - A value that changes between steps but is passed by value into a captured launch is replayed
 *     as recorded (as on a GPU), so it gives wrong results that the equality check sees: the planted
 *     bug DM_TEST_GRAPH_BYVALUE (optimize.c passes the trajectory row by value) must make the runs differ.
 *   - Emulator only: a replay uses the recorded arguments; an allocation during a capture fails with
 *     cudaErrorStreamCaptureUnsupported and the capture yields no graph; the counters add a replayed
 *     graph's nodes to launches and copies.
 * The bit-equality holds on a GPU too (the same kernels in the same order on one stream).
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "backend.h"
#include "netio.h"
#include "optimize.h"
#include "saliency.h"
#include "testutil.h"
#ifdef DM_CUDA_EMU
#include "emu/emu.h"
#endif

/* A CUDA backend with graphs on or off (DM_CUDA_GRAPHS is read when the backend is made). */
#ifdef DM_CUDA_EMU
static unsigned long long g_last_graph_launches;   /* saliency_on's count */
#endif

static dm_backend *cuda_backend(bool graphs) {
    const char *old = getenv("DM_CUDA_GRAPHS");
    char *keep = old ? strdup(old) : NULL;
    setenv("DM_CUDA_GRAPHS", graphs ? "on" : "off", 1);
    dm_backend *be = NULL;
    dm_status st = dm_backend_cuda_create(&be, 0);
    if (keep) setenv("DM_CUDA_GRAPHS", keep, 1);
    else unsetenv("DM_CUDA_GRAPHS");
    free(keep);
    if (st != DM_STATUS_OK) cr_skip_test("no CUDA backend to test: %s", dm_last_error());
    return be;
}

/* A small model of `arch` on be with the parameters of seed `seed`, batch B. */
static dm_net *small_net(dm_arch arch, dm_backend *be, int B) {
    dm_hparams hp;
    dm_hparams_default(&hp, arch);
    hp.len = 32;
    hp.conv_channels = 16;
    hp.hidden = 8;
    dm_net *m = NULL;
    cr_assert_eq(dm_net_create(&m, &hp, be, B), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(dm_net_init_params(m, dm_test_seed()), DM_STATUS_OK);
    return m;
}

struct opt_result {
    float *x, *ppm, obj[3 * 7], p[3];
};

enum { R = 3, STEPS = 6 };

static void optimize_on(dm_backend *be, dm_arch arch, bool softmax, struct opt_result *r) {
    dm_net *m = small_net(arch, be, R);
    dm_optimize_options o;
    dm_optimize_options_default(&o);
    o.restarts = R;
    o.steps = STEPS;
    o.softmax = softmax;
    size_t n = (size_t)R * 32 * 4;
    r->x = malloc(sizeof(float) * n);
    r->ppm = malloc(sizeof(float) * n);
    cr_assert_eq(dm_net_optimize(m, &o, r->x, r->ppm, r->obj, r->p), DM_STATUS_OK, "%s", dm_last_error());
    dm_net_free(m);
}

/* Whether the runs with and without graphs agree bit for bit (all of x, trajectory, P(pos)). */
static bool same(const struct opt_result *a, const struct opt_result *b) {
    size_t n = (size_t)R * 32 * 4;
    return memcmp(a->x, b->x, sizeof(float) * n) == 0 && memcmp(a->obj, b->obj, sizeof a->obj) == 0 &&
           memcmp(a->p, b->p, sizeof a->p) == 0;
}

Test(cuda_graphs, optimize_replay_equals_plain) {
    dm_backend *on = cuda_backend(true), *off = cuda_backend(false);
    cr_assert(on->i->graph_begin != NULL, "the CUDA backend has graphs");
    for (int a = 0; a < dm_arch_count(); a++)
        for (int sm = 0; sm < 2; sm++) {
            struct opt_result g, p;
#ifdef DM_CUDA_EMU
            dm_emu_counters_reset();
#endif
            optimize_on(on, (dm_arch)a, sm, &g);
#ifdef DM_CUDA_EMU
            dm_emu_counters c;
            dm_emu_counters_get(&c);
            /* steps 1 .. STEPS − 1 are one graph each; step 0 and the last run plainly */
            cr_expect_eq(c.graph_launches, STEPS - 1, "%s: %llu graph launches", dm_arch_name((dm_arch)a),
                         c.graph_launches);
            cr_expect(c.graph_nodes >= 5 * (STEPS - 1ull) && c.graph_nodes < c.launches,
                      "%s: %llu graph nodes of %llu launches", dm_arch_name((dm_arch)a), c.graph_nodes, c.launches);
#endif
            optimize_on(off, (dm_arch)a, sm, &p);
            cr_expect(same(&g, &p), "%s%s: optimisation with graphs differs from without",
                      dm_arch_name((dm_arch)a), sm ? " (softmax)" : "");
            free(g.x); free(g.ppm); free(p.x); free(p.ppm);
        }
    dm_backend_free(on);
    dm_backend_free(off);
}

/* The planted bug: the trajectory row passed by value is replayed as recorded (step 1's row), so the
 * rows of steps 2 .. STEPS − 1 are never written under graphs; the equality check must see it. */
Test(cuda_graphs, planted_by_value_argument_is_caught) {
    dm_backend *on = cuda_backend(true), *off = cuda_backend(false);
    setenv("DM_TEST_GRAPH_BYVALUE", "1", 1);
    struct opt_result g, p;
    optimize_on(on, DM_ARCH_CNN, false, &g);
    optimize_on(off, DM_ARCH_CNN, false, &p);
    unsetenv("DM_TEST_GRAPH_BYVALUE");
    cr_expect(!same(&g, &p), "a per-step value passed by value into a captured step went unnoticed");
    /* the plain run is still right: the same as the correct code without graphs */
    struct opt_result q;
    optimize_on(off, DM_ARCH_CNN, false, &q);
    cr_expect(same(&p, &q), "the planted bug changed the plain run too");
    free(g.x); free(g.ppm); free(p.x); free(p.ppm); free(q.x); free(q.ppm);
    dm_backend_free(on);
    dm_backend_free(off);
}

enum { SB = 4, SL = 32, SFULL = 4, SN = SFULL * SB + 2 }; /* 4 full batches of 4 and one of 2 */

/* Every batch of one load: attributions (SN, SL, 4) and P(pos) (SN). */
static void saliency_on(dm_backend *be, dm_arch arch, dm_saliency_options o, float *attr, float *p) {
    dm_net *m = small_net(arch, be, SB);
    uint8_t codes[SN * SL];
    int8_t labels[SN];
    float u[SN * SL], x[SB * SL * 4];
    dm_test_fill_uniform(u, SN * SL, 0, 4.2f, 13);
    for (int i = 0; i < SN * SL; i++) codes[i] = u[i] >= 4.0f ? DM_BASE_N : (uint8_t)u[i];
    for (int b = 0; b < SN; b++) labels[b] = (int8_t)(b % 2);
    dm_sal_dev *d;
    cr_assert_eq(dm_sal_dev_create(&d, m, &o), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(dm_sal_dev_load(d, codes, labels, SN, 0), DM_STATUS_OK, "%s", dm_last_error());
#ifdef DM_CUDA_EMU
    dm_emu_counters_reset();
#endif
    for (int i = 0; i < SN; i += SB) {
        int B = SN - i < SB ? SN - i : SB;
        dm_onehot_host(x, codes + (size_t)i * SL, (int64_t)B * SL, o.n_quarter);
        cr_assert_eq(dm_sal_dev_batch(d, i, B, x, attr + (size_t)i * SL * 4, p + i), DM_STATUS_OK, "%s",
                     dm_last_error());
    }
#ifdef DM_CUDA_EMU
    dm_emu_counters c;
    dm_emu_counters_get(&c);
    /* the first full batch runs plainly, the second is recorded and launched, then replays */
    cr_log_info("%s method %d: %llu graph launches, %llu nodes, %llu launches", dm_arch_name(arch), o.method,
                c.graph_launches, c.graph_nodes, c.launches);
    g_last_graph_launches = c.graph_launches;
#endif
    dm_sal_dev_free(d);
    dm_net_free(m);
}

Test(cuda_graphs, saliency_replay_equals_plain) {
    dm_backend *on = cuda_backend(true), *off = cuda_backend(false);
    static float ag[SN * SL * 4], ap[SN * SL * 4];
    float pg[SN], pp[SN];
    for (int a = 0; a < dm_arch_count(); a++)
        for (int k = 0; k < 5; k++) {
            static const dm_sal_method meth[] = {DM_SAL_GRAD, DM_SAL_GRAD_X_INPUT, DM_SAL_ORIGINAL, DM_SAL_IG,
                                                 DM_SAL_IG};
            dm_saliency_options o = {.method = meth[k], .target = DM_TARGET_LABEL, .steps = 3, .seed = 7,
                                     .n_quarter = k % 2 == 1, .shuffle_baseline = k == 4};
            saliency_on(on, (dm_arch)a, o, ag, pg);
#ifdef DM_CUDA_EMU
            cr_expect_eq(g_last_graph_launches, SFULL - 1, "%s method %d: %llu graph launches for %d full batches",
                         dm_arch_name((dm_arch)a), o.method, g_last_graph_launches, SFULL);
#endif
            saliency_on(off, (dm_arch)a, o, ap, pp);
#ifdef DM_CUDA_EMU
            cr_expect_eq(g_last_graph_launches, 0, "DM_CUDA_GRAPHS=off launched graphs");
#endif
            cr_expect(memcmp(ag, ap, sizeof ag) == 0 && memcmp(pg, pp, sizeof pg) == 0,
                      "%s method %d%s: saliency with graphs differs from without", dm_arch_name((dm_arch)a),
                      o.method, o.shuffle_baseline ? " (shuffled baseline)" : "");
        }
    dm_backend_free(on);
    dm_backend_free(off);
}

#ifdef DM_CUDA_EMU
/* Backend level: a captured axpy replays with its recorded alpha; counters count each replay's nodes. */
Test(cuda_graphs, emulator_replays_recorded_arguments) {
    dm_backend *be = cuda_backend(true);
    const struct dm_backend_i *op = be->i;
    enum { N = 300 };
    float host[N], *x = op->alloc(be, sizeof host), *y = op->alloc(be, sizeof host);
    float *pin = op->host_alloc(be, sizeof host);
    cr_assert(x && y && pin);
    for (int i = 0; i < N; i++) pin[i] = (float)i;
    op->upload(be, x, pin, sizeof host);
    op->memset0(be, y, sizeof host);
    cr_assert(op->graph_begin(be));
    float alpha = 1.0f;
    op->axpy(be, y, x, alpha, N); /* y += 1·x, recorded with alpha = 1 */
    op->memset0(be, x + N - 1, sizeof(float));
    void *g = op->graph_end(be);
    cr_assert_not_null(g, "%s", be->error);
    op->download(be, host, y, sizeof host);
    cr_expect_eq(host[5], 0.0f, "capturing ran the work");
    alpha = 100.0f; /* too late: the graph holds 1 */
    (void)alpha;
    dm_emu_counters_reset();
    op->graph_launch(be, g);
    op->graph_launch(be, g);
    dm_emu_counters c;
    dm_emu_counters_get(&c);
    cr_expect_eq(c.graph_launches, 2);
    cr_expect_eq(c.graph_nodes, 4, "2 nodes per replay: %llu", c.graph_nodes);
    cr_expect_eq(c.launches, 2, "the replayed axpy counts as a launch each time");
    cr_expect_eq(c.memsets, 2);
    op->download(be, host, y, sizeof host);
    cr_expect_eq(host[5], 10.0f, "two replays of y += 1·x: %g", host[5]);
    cr_expect_eq(host[N - 1], (float)(N - 1), "the first replay read x before its memset: %g", host[N - 1]);
    op->graph_free(be, g);
    cr_expect_eq(be->status, DM_STATUS_OK, "%s", be->error);
    op->host_free(be, pin);
    op->free(be, x);
    op->free(be, y);
    dm_backend_free(be);
}

/* An allocation while capturing: cudaErrorStreamCaptureUnsupported, no graph, a recorded failure. */
Test(cuda_graphs, emulator_rejects_allocation_during_capture) {
    dm_backend *be = cuda_backend(true);
    const struct dm_backend_i *op = be->i;
    cr_assert(op->graph_begin(be));
    void *p = op->alloc(be, 64);
    cr_expect(p == NULL, "cudaMalloc succeeded during a capture");
    void *g = op->graph_end(be);
    cr_expect(g == NULL, "a capture with an allocation gave a graph");
    cr_expect(be->status != DM_STATUS_OK);
    cr_expect(strstr(be->error, "cudaErrorStreamCaptureInvalidated") != NULL, "%s", be->error);
    dm_backend_free(be);
}

/* Synchronisation during a capture: refused, and the capture ends invalid. */
Test(cuda_graphs, emulator_rejects_sync_during_capture) {
    cudaStream_t s;
    cr_assert_eq(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), cudaSuccess);
    cr_assert_eq(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal), cudaSuccess);
    cr_expect_eq(cudaStreamSynchronize(s), cudaErrorStreamCaptureUnsupported);
    cudaGraph_t g = NULL;
    cr_expect_eq(cudaStreamEndCapture(s, &g), cudaErrorStreamCaptureInvalidated);
    cr_expect(g == NULL);
    cr_expect_eq(cudaStreamBeginCapture(NULL, cudaStreamCaptureModeGlobal), cudaErrorStreamCaptureUnsupported,
                 "the legacy stream cannot capture");
    cudaGetLastError();
    cudaStreamDestroy(s);
}
#endif
