/*
 * onehot.c: x (B, L, 4) from base codes (B, L) (SPEC.md §1). A, C, G, T → unit rows; DM_BASE_N → a
 * zero row (n_policy zero, as the original) or 0.25 each (quarter, DeepBind); padding → zero row.
 */
#include "cpu.h"
#include "dm_pack.h"

/* the same value function as gather and the CUDA kernels (dm_pack.h) */
static inline void onehot_row(float *restrict row, uint8_t code, bool n_quarter) {
    for (int c = 0; c < 4; c++) row[c] = dm_onehot_value(code, c, n_quarter);
}

void dm_cpu_onehot_ref(dm_backend *be, float *x, const uint8_t *codes, int B, int L, bool n_quarter) {
    for (int64_t i = 0; i < (int64_t)B * L; i++) onehot_row(x + 4 * i, codes[i], n_quarter);
}

typedef struct {
    float *x;
    const uint8_t *codes;
    bool n_quarter;
} onehot_job;

static void onehot_part(void *p, int64_t i0, int64_t i1) {
    onehot_job *j = p;
    for (int64_t i = i0; i < i1; i++) onehot_row(j->x + 4 * i, j->codes[i], j->n_quarter);
}

void dm_cpu_onehot(dm_backend *be, float *x, const uint8_t *codes, int B, int L, bool n_quarter) {
    dm_cpu_parallel_for(be, (int64_t)B * L, DM_CPU_GRAIN / 4, onehot_part, &(onehot_job){x, codes, n_quarter});
}
