/*
 * test_cuda_counts.c: what one training step asks of the GPU, read from the CUDA emulator's counters
 * (kernels/cuda/emu/emu.h, dm_emu_counters_get), for every registered architecture.
 *
 * After a warm-up step (scratch buffers grow then), a steady-state training step on a device-resident
 * data set (gather, forward with dropout, backward, clip + Adam) must:
 *   - copy nothing between host and device beyond a few per-batch scalars (at most 16 bytes each way);
 *   - allocate and free nothing, and make the host wait at most once;
 *   - run everything on the backend's stream (nothing on the legacy default stream);
 *   - count the same in two steps, the second under another thread order (counts do not depend on it);
 *   - add up: launches = kernels + cuBLAS calls = the sum of the per-kernel table.
 * The emulator build only (a GPU has no such counters): elsewhere one skipped test.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#ifdef DM_CUDA_EMU
#include "backend.h"
#include "dm_cuda.h"
#include "emu/emu.h"
#include "model.h"
#include "testutil.h"

/* The per-batch scalars a training step may move between host and device (bytes each way). */
#define MAX_SCALAR_BYTES 16

/* Sum of the per-kernel table; *blas the cuBLAS entries' share. */
static unsigned long long table_sum(unsigned long long *blas) {
    unsigned long long sum = 0, k;
    int cublas;
    *blas = 0;
    for (int i = 0; dm_emu_kernel_entry(i, NULL, &k, &cublas); i++) {
        sum += k;
        if (cublas) *blas += k;
    }
    return sum;
}

/* One training step of m on rows i0.. of d; the counters over it. */
static dm_emu_counters step(dm_net *m, dm_devdata *d, int64_t i0, int B, dm_adam *opt, uint64_t n) {
    dm_emu_counters_reset();
    dm_net_zero_grad(m);
    cr_assert_eq(dm_net_forward_data(m, d, i0, B, true, 1, n, false), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(dm_net_backward_data(m, d, i0, B, B), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(dm_net_adam_step(m, opt), DM_STATUS_OK, "%s", dm_last_error());
    dm_emu_counters c;
    dm_emu_counters_get(&c);
    return c;
}

Test(cuda_counts, training_step_invariants) {
    dm_backend *be = dm_test_cuda_backend();
    int B = 8, L = getenv("DM_TEST_SMALL") ? 32 : 101;
    int64_t N = 3 * (int64_t)B;
    dm_dataset ds = {.n = N, .len = L};
    ds.seq = malloc((size_t)N * L);
    ds.label = malloc((size_t)N);
    float *u = malloc(sizeof(float) * (size_t)N * L);
    dm_test_fill_uniform(u, (size_t)N * L, 0, 4, 5);
    for (int64_t i = 0; i < N * L; i++) ds.seq[i] = (uint8_t)u[i];
    for (int64_t i = 0; i < N; i++) ds.label[i] = (int8_t)(i % 2);
    free(u);
    const char *sched = dm_emu_sched(), *other = strcmp(sched, "rev") == 0 ? "fwd" : "rev";
    char keep[32];
    snprintf(keep, sizeof keep, "%s", sched);
    for (int a = 0; a < dm_arch_count(); a++) {
        const char *name = dm_arch_name((dm_arch)a);
        dm_hparams hp;
        dm_hparams_default(&hp, (dm_arch)a);
        hp.len = L;
        if (getenv("DM_TEST_SMALL")) {
            hp.conv_channels = 16;
            hp.hidden = 8;
        }
        dm_net *m;
        dm_devdata *d;
        cr_assert_eq(dm_net_create(&m, &hp, be, B), DM_STATUS_OK, "%s", dm_last_error());
        cr_assert_eq(dm_net_init_params(m, dm_test_seed()), DM_STATUS_OK);
        cr_assert_eq(dm_devdata_create(&d, be, &ds), DM_STATUS_OK, "%s", dm_last_error());
        dm_adam opt;
        dm_adam_default(&opt);
        step(m, d, 0, B, &opt, 1); /* warm-up */
        dm_emu_counters c1 = step(m, d, B, B, &opt, 2);
        unsigned long long blas1, sum1 = table_sum(&blas1);
        dm_emu_counters s0, sb;
        dm_emu_counters_stream(NULL, &s0);
        dm_emu_counters_stream(dm_cuda_stream(be), &sb);
        cr_assert_eq(dm_emu_set_sched(other), 0);
        dm_emu_counters c2 = step(m, d, 2 * B, B, &opt, 3);
        cr_assert_eq(dm_emu_set_sched(keep), 0);
        cr_log_info("%s: a training step of %d: %llu launches (%llu cuBLAS), %llu + %llu bytes host<->device, "
                    "%llu syncs, %llu allocations", name, B, c1.launches, c1.cublas_calls, c1.h2d_bytes,
                    c1.d2h_bytes, c1.syncs, c1.mallocs + c1.host_allocs);

        cr_expect(c1.kernels > 0, "%s: no kernel launched", name);
        cr_expect(c1.h2d_bytes <= MAX_SCALAR_BYTES, "%s: %llu bytes uploaded inside a training step", name,
                      c1.h2d_bytes);
        cr_expect(c1.d2h_bytes <= MAX_SCALAR_BYTES, "%s: %llu bytes downloaded inside a training step", name,
                      c1.d2h_bytes);
        cr_expect_eq(c1.mallocs + c1.host_allocs + c1.frees, 0, "%s: %llu allocations, %llu frees after the warm-up",
                     name, c1.mallocs + c1.host_allocs, c1.frees);
        cr_expect(c1.syncs <= 1, "%s: the host waited %llu times", name, c1.syncs);
        cr_expect_eq(s0.launches + s0.h2d_bytes + s0.d2h_bytes + s0.d2d_bytes + s0.memsets, 0,
                     "%s: work on the legacy default stream (%llu launches)", name, s0.launches);
        cr_expect_eq(sb.launches, c1.launches, "%s: %llu of %llu launches on the backend's stream", name,
                     sb.launches, c1.launches);
        cr_expect_eq(c1.launches, c1.kernels + c1.cublas_calls, "%s", name);
        cr_expect_eq(sum1, c1.launches, "%s: the per-kernel table sums to %llu, not %llu", name, sum1, c1.launches);
        cr_expect_eq(blas1, c1.cublas_calls, "%s", name);
        cr_expect(memcmp(&c1, &c2, sizeof c1) == 0,
                  "%s: two steps counted differently (%llu vs %llu launches, %llu vs %llu d2d bytes, "
                  "%llu vs %llu syncs, order %s then %s)",
                  name, c1.launches, c2.launches, c1.d2d_bytes, c2.d2d_bytes, c1.syncs, c2.syncs, keep, other);
        dm_devdata_free(d);
        dm_net_free(m);
    }
    free(ds.seq);
    free(ds.label);
    dm_backend_free(be);
}

#else
Test(cuda_counts, not_built) {
    cr_skip_test("the emulator's counters exist only in the emulator build (DM_CUDA_EMU=ON)");
}
#endif
