/*
 * gather.c: one batch from a data set resident in backend memory (dm_pack.h): x[b] = one-hot of
 * packed row perm[b], labels[b] = labels_all[perm[b]]. The training loop's only per-batch input work.
 */
#include "cpu.h"
#include "dm_pack.h"

void dm_cpu_gather_ref(dm_backend *be, float *x, int8_t *labels, const uint8_t *packed,
                       const int8_t *labels_all, const int32_t *perm, int B, int L, bool n_quarter) {
    int rb = dm_pack_row_bytes(L);
    for (int b = 0; b < B; b++) {
        const uint8_t *row = packed + (int64_t)perm[b] * rb;
        for (int l = 0; l < L; l++)
            for (int c = 0; c < 4; c++)
                x[((int64_t)b * L + l) * 4 + c] = dm_onehot_value(dm_pack_get(row, L, l), c, n_quarter);
        labels[b] = labels_all[perm[b]];
    }
}

typedef struct {
    float *x;
    int8_t *labels;
    const uint8_t *packed;
    const int8_t *labels_all;
    const int32_t *perm;
    int L;
    bool n_quarter;
} gather_job;

static void gather_part(void *p, int64_t b0, int64_t b1) {
    gather_job *j = p;
    int L = j->L, rb = dm_pack_row_bytes(L);
    for (int64_t b = b0; b < b1; b++) {
        const uint8_t *row = j->packed + (int64_t)j->perm[b] * rb;
        float *xb = j->x + b * L * 4;
        for (int l = 0; l < L; l++) {
            uint8_t code = dm_pack_get(row, L, l);
            for (int c = 0; c < 4; c++) xb[4 * l + c] = dm_onehot_value(code, c, j->n_quarter);
        }
        j->labels[b] = j->labels_all[j->perm[b]];
    }
}

void dm_cpu_gather(dm_backend *be, float *x, int8_t *labels, const uint8_t *packed,
                   const int8_t *labels_all, const int32_t *perm, int B, int L, bool n_quarter) {
    gather_job j = {x, labels, packed, labels_all, perm, L, n_quarter};
    dm_cpu_parallel_for(be, B, dm_cpu_row_grain(4 * (int64_t)L), gather_part, &j);
}
