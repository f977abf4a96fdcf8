/*
 * fuzz_motifdb.c: libFuzzer target for the motif file dispatcher, dm_motifs_read (host/motifdb.c):
 * JASPAR, HOCOMOCO, TRANSFAC and bare matrices (and MEME through it), plain and gzip.
 *
 * Input layout: byte 0 bit 0 set means gzip-compress the rest first; bits 1-2 the type asked for
 * (0 and 3 auto, 1 ppm, 2 cwm); bit 3 a pseudocount of 0 instead of 0.8; bytes 1.. are the file.
 * After a successful read every motif is checked: a terminated, non-empty id, a terminated name,
 * w >= 1, finite entries, and for PPMs rows of non-negative probabilities summing to 1; a failure
 * must leave the set empty and an error message recorded.
 */
#include <math.h>

#include "fuzz_common.h"

#include "motifdb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    static const int types[4] = {DM_MOTIF_AUTO, DM_MOTIF_PPM, DM_MOTIF_CWM, DM_MOTIF_AUTO};
    const char *path = dm_fuzz_file_maybe_gz(data + 1, size - 1, data[0] & 1);
    dm_motifs_read_options o;
    dm_motifs_read_options_default(&o);
    o.type = types[(data[0] >> 1) & 3];
    if (data[0] & 8) o.pseudocount = 0;
    dm_motif_set s;
    dm_motifs_info info;
    if (dm_motifs_read(path, &o, &s, &info) != DM_STATUS_OK) {
        DM_FUZZ_CHECK(s.n == 0 && s.m == NULL);
        DM_FUZZ_CHECK(dm_last_error()[0] != '\0');
        dm_fuzz_verbose(dm_last_error());
        return 0;
    }
    DM_FUZZ_CHECK(s.n >= 0 && (s.n == 0 || s.m != NULL));
    DM_FUZZ_CHECK(info.type == DM_MOTIF_PPM || info.type == DM_MOTIF_CWM);
    DM_FUZZ_CHECK(o.type == DM_MOTIF_AUTO || info.type == o.type);
    for (int i = 0; i < s.n; i++) {
        const dm_motif *m = &s.m[i];
        DM_FUZZ_CHECK(strnlen(m->id, sizeof m->id) < sizeof m->id && m->id[0] != '\0');
        DM_FUZZ_CHECK(strnlen(m->name, sizeof m->name) < sizeof m->name);
        DM_FUZZ_CHECK(m->w >= 1 && m->p != NULL && m->nsites >= 0);
        for (int j = 0; j < m->w; j++) {
            double sum = 0;
            for (int b = 0; b < 4; b++) {
                float v = m->p[4 * j + b];
                DM_FUZZ_CHECK(isfinite(v));
                DM_FUZZ_CHECK(info.type == DM_MOTIF_CWM || v >= 0);
                sum += v;
            }
            /* PPM rows are renormalised by every path; float rounding of 4 terms stays far below */
            DM_FUZZ_CHECK(info.type == DM_MOTIF_CWM || fabs(sum - 1.0) < 1e-5);
        }
    }
    dm_motif_set_free(&s);
    return 0;
}
