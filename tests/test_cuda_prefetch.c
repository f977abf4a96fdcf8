/*
 * test_cuda_prefetch.c: the streaming commands' double buffering on the CUDA backend (emulator build):
 * dm_dataset_scan_prefetch with the backend's pinned chunk buffers (host_alloc: cudaMallocHost) reads
 * chunk k + 1 on its thread while the calling thread predicts chunk k on the device; the scores are
 * those of the plain scan bit for bit, in every thread order of DM_EMU_SCHED (and under the TSan
 * emulator build of `make test`), and the two chunk buffers are pinned allocations (the emulator's
 * counters). Elsewhere (no emulator counters) one skipped test; test_prefetch covers the CPU.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef DM_CUDA_EMU
#include "backend.h"
#include "dm_internal.h"
#include "emu/emu.h"
#include "model.h"
#include "testutil.h"
#include "train.h"

typedef struct pred_ctx {
    dm_net *m;
    float *scores;
    int64_t n;
} pred_ctx;

static dm_status predict_chunk(void *ctx, const dm_dataset *c, int64_t row0) {
    pred_ctx *p = ctx;
    if (row0 + c->n > p->n) return dm_error(DM_STATUS_ARG, "more rows than expected");
    return dm_net_predict(p->m, c, false, p->scores + row0);
}

Test(cuda_prefetch, pinned_double_buffered_chunks_give_the_plain_scans_scores) {
    dm_backend *be = dm_test_cuda_backend();
    char *dir = dm_test_tmpdir();
    cr_assert(dir);
    char path[600];
    snprintf(path, sizeof path, "%s/d.fa", dir);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    const int n = 900, L = 24;
    uint64_t x = 5;
    for (int i = 0; i < n; i++) {
        fprintf(f, ">r%d\n", i + 1);
        for (int p = 0; p < L; p++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            fputc("ACGT"[(x >> 33) & 3], f);
        }
        fputc('\n', f);
    }
    fclose(f);
    dm_hparams hp;
    dm_hparams_default(&hp, DM_ARCH_CNN);
    hp.len = L;
    hp.conv_channels = 8;
    hp.conv_width[0] = 5;
    hp.dropout = 0;
    dm_net *m;
    cr_assert_eq(dm_net_create(&m, &hp, be, 128), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(dm_net_init_params(m, 3), DM_STATUS_OK);
    float *a = calloc((size_t)n, sizeof(float)), *b = calloc((size_t)n, sizeof(float));
    cr_assert(a && b);
    pred_ctx pa = {.m = m, .scores = a, .n = n}, pb = {.m = m, .scores = b, .n = n};
    dm_dataset ta, tb;
    /* chunks of 2 batches: 4 chunks, the last short */
    cr_assert_eq(dm_dataset_scan(path, DM_FORMAT_AUTO, L, 256, predict_chunk, &pa, &ta), DM_STATUS_OK, "%s",
                 dm_last_error());
    dm_emu_counters c0, c1;
    dm_emu_counters_get(&c0);
    cr_assert_eq(dm_dataset_scan_prefetch(path, DM_FORMAT_AUTO, L, 256, predict_chunk, &pb, &tb, be), DM_STATUS_OK,
                 "%s", dm_last_error());
    dm_emu_counters_get(&c1);
    cr_expect_eq(ta.n, n);
    cr_expect_eq(tb.n, n);
    cr_expect_eq(memcmp(a, b, sizeof(float) * (size_t)n), 0, "the scores differ with the reader thread");
    /* the two slots' code arrays: pinned, allocated once each whatever the number of chunks */
    cr_expect_eq(c1.host_allocs - c0.host_allocs, 2, "%llu pinned allocations", c1.host_allocs - c0.host_allocs);
    free(a);
    free(b);
    dm_net_free(m);
    dm_backend_free(be);
    dm_test_rmdir(dir);
    free(dir);
}
#else
Test(cuda_prefetch, not_built) {
    cr_skip_test("the emulator's counters exist only in the emulator build (DM_CUDA_EMU=ON)");
}
#endif
