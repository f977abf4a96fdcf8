/*
 * fuzz_meme.c: libFuzzer target for the MEME motif reader, dm_meme_read (host/meme.c), plain and
 * gzip.
 *
 * Input layout: byte 0 bit 0 set means gzip-compress the rest first (the other bits are reserved);
 * bytes 1.. are the file. After a successful read every motif is checked (a terminated id and name,
 * w ≥ 1, rows of 4 finite non-negative probabilities summing to 1 within the reader's
 * renormalisation); a failure must leave the set empty and an error message recorded.
 */
#include <math.h>

#include "fuzz_common.h"

#include "meme.h"

static void check_set(const dm_motif_set *s) {
    DM_FUZZ_CHECK(s->n >= 0 && (s->n == 0 || s->m != NULL));
    for (int i = 0; i < s->n; i++) {
        const dm_motif *m = &s->m[i];
        DM_FUZZ_CHECK(strnlen(m->id, sizeof m->id) < sizeof m->id && m->id[0] != '\0');
        DM_FUZZ_CHECK(strnlen(m->name, sizeof m->name) < sizeof m->name);
        DM_FUZZ_CHECK(m->w >= 1 && m->p != NULL && m->nsites >= 0);
        for (int j = 0; j < m->w; j++) {
            double sum = 0;
            for (int b = 0; b < 4; b++) {
                float v = m->p[4 * j + b];
                DM_FUZZ_CHECK(isfinite(v) && v >= 0);
                sum += v;
            }
            /* the reader renormalises rows it accepts; float rounding of 4 terms stays far below */
            DM_FUZZ_CHECK(fabs(sum - 1.0) < 1e-5);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const char *path = dm_fuzz_file_maybe_gz(data + 1, size - 1, data[0] & 1);
    dm_motif_set s;
    if (dm_meme_read(path, &s) != DM_STATUS_OK) {
        DM_FUZZ_CHECK(s.n == 0 && s.m == NULL);
        DM_FUZZ_CHECK(dm_last_error()[0] != '\0');
        dm_fuzz_verbose(dm_last_error());
        return 0;
    }
    check_set(&s);
    dm_motif_set_free(&s);
    return 0;
}
