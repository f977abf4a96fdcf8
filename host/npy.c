/*
 * npy.c: the .npy v1.0 writer. Header: "\x93NUMPY", version 1.0, a little-endian u16 length HL, then
 * an ASCII dict {'descr': '<f4', 'fortran_order': False, 'shape': (...), } space-padded and ended by
 * '\n' so that 10 + HL is a multiple of 64; then the float32 data in C order.
 */
#include <string.h>

#include "npy.h"

size_t dm_npy_header(char *buf, int ndim, const int64_t *shape) {
    char dict[192];
    int n = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    for (int d = 0; d < ndim; d++)
        n += snprintf(dict + n, sizeof dict - (size_t)n, "%lld,%s", (long long)shape[d],
                      d + 1 < ndim ? " " : "");
    n += snprintf(dict + n, sizeof dict - (size_t)n, "), }");
    size_t total = (10 + (size_t)n + 1 + 63) / 64 * 64;    /* magic + dict + '\n', padded */
    size_t hl = total - 10;
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (char)(hl & 0xff);
    buf[9] = (char)(hl >> 8);
    memcpy(buf + 10, dict, (size_t)n);
    memset(buf + 10 + n, ' ', hl - (size_t)n - 1);
    buf[total - 1] = '\n';
    return total;
}

dm_status dm_npy_open(dm_npy_writer *w, const char *path, int ndim, const int64_t *shape) {
    memset(w, 0, sizeof *w);
    if (ndim < 1 || ndim > 4) return dm_error(DM_STATUS_ARG, "%s: npy arrays of 1 to 4 dimensions", path);
    w->ndim = ndim;
    w->n_total = 1;
    for (int d = 0; d < ndim; d++) {
        w->shape[d] = shape[d];
        w->n_total *= shape[d];
    }
    DM_TRY(dm_outfile_open(&w->out, path));
    char hdr[256];
    size_t len = dm_npy_header(hdr, ndim, shape);
    if (fwrite(hdr, 1, len, w->out.f) != len) {
        dm_outfile_abort(&w->out);
        return dm_error(DM_STATUS_IO, "%s: write failed", path);
    }
    return DM_STATUS_OK;
}

dm_status dm_npy_append(dm_npy_writer *w, const float *v, int64_t n) {
    if (w->n_written + n > w->n_total)
        return dm_error(DM_STATUS_ARG, "%s: more values than the declared shape holds", w->out.path);
    if (n > 0 && fwrite(v, sizeof(float), (size_t)n, w->out.f) != (size_t)n)
        return dm_error(DM_STATUS_IO, "%s: write failed", w->out.path);
    w->n_written += n;
    return DM_STATUS_OK;
}

dm_status dm_npy_commit(dm_npy_writer *w) {
    if (w->n_written != w->n_total) {
        dm_outfile_abort(&w->out);
        return dm_error(DM_STATUS_ARG, "%s: %lld of %lld values written", w->out.path,
                        (long long)w->n_written, (long long)w->n_total);
    }
    return dm_outfile_commit(&w->out);
}

void dm_npy_abort(dm_npy_writer *w) { dm_outfile_abort(&w->out); }
