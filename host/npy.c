/*
 * npy.c: the .npy v1.0 writer. Header: "\x93NUMPY", version 1.0, a little-endian u16 length HL, then
 * an ASCII dict {'descr': '<f4', 'fortran_order': False, 'shape': (...), } space-padded and ended by
 * '\n' so that 10 + HL is a multiple of 64; then the float32 data in C order.
 */
#include <errno.h>
#include <string.h>
#include <zlib.h>

#include "npy.h"

/* ZIP record fields are little-endian */
static void put16(unsigned char *p, uint32_t v) { p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); }
static void put32(unsigned char *p, uint32_t v) { put16(p, v & 0xffff); put16(p + 2, v >> 16); }

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
        int err = dm_outfile_errno(&w->out);
        dm_outfile_abort(&w->out);
        return dm_error(DM_STATUS_IO, "%s: write failed: %s", path, strerror(err));
    }
    return DM_STATUS_OK;
}

/* The ZIP local file header of member `name` (CRC patched at offset 14 on commit). */
static size_t zip_local_header(unsigned char *h, const char *name, uint32_t size, uint32_t crc) {
    size_t nl = strlen(name);
    memset(h, 0, 30);
    put32(h, 0x04034b50);
    put16(h + 4, 20);                 /* version needed: 2.0 */
    put16(h + 10, 0);                 /* time 00:00 */
    put16(h + 12, (1 << 5) | 1);      /* date 1980-01-01 */
    put32(h + 14, crc);
    put32(h + 18, size);              /* compressed = uncompressed: STORED */
    put32(h + 22, size);
    put16(h + 26, (uint32_t)nl);
    memcpy(h + 30, name, nl);
    return 30 + nl;
}

dm_status dm_npz_open(dm_npy_writer *w, const char *path, const char *key, int ndim, const int64_t *shape) {
    memset(w, 0, sizeof *w);
    if (ndim < 1 || ndim > 4) return dm_error(DM_STATUS_ARG, "%s: npy arrays of 1 to 4 dimensions", path);
    char hdr[256];
    size_t hlen = dm_npy_header(hdr, ndim, shape);
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) n *= shape[d];
    if ((double)hlen + 4.0 * (double)n >= 4294967295.0)
        return dm_error(DM_STATUS_ARG, "%s: %lld values exceed the 4 GiB .npz member this writer supports; "
                        "use the .npy file", path, (long long)n);
    w->ndim = ndim;
    w->n_total = n;
    for (int d = 0; d < ndim; d++) w->shape[d] = shape[d];
    w->zip = true;
    w->member_size = (uint32_t)(hlen + 4 * (size_t)n);
    snprintf(w->key, sizeof w->key, "%s.npy", key);
    DM_TRY(dm_outfile_open(&w->out, path));
    unsigned char lh[128];
    size_t lhl = zip_local_header(lh, w->key, w->member_size, 0);
    w->crc = (uint32_t)crc32(0L, (const Bytef *)hdr, (uInt)hlen);
    if (fwrite(lh, 1, lhl, w->out.f) != lhl || fwrite(hdr, 1, hlen, w->out.f) != hlen) {
        int err = dm_outfile_errno(&w->out);
        dm_outfile_abort(&w->out);
        return dm_error(DM_STATUS_IO, "%s: write failed: %s", path, strerror(err));
    }
    return DM_STATUS_OK;
}

dm_status dm_npy_append(dm_npy_writer *w, const float *v, int64_t n) {
    if (w->n_written + n > w->n_total)
        return dm_error(DM_STATUS_ARG, "%s: more values than the declared shape holds", w->out.path);
    if (n > 0 && fwrite(v, sizeof(float), (size_t)n, w->out.f) != (size_t)n)
        return dm_error(DM_STATUS_IO, "%s: write failed: %s", w->out.path, strerror(dm_outfile_errno(&w->out)));
    if (w->zip) w->crc = (uint32_t)crc32(w->crc, (const Bytef *)v, (uInt)(n * (int64_t)sizeof(float)));
    w->n_written += n;
    return DM_STATUS_OK;
}

/* Central directory and end record after the member, then the CRC into the local header. */
static dm_status zip_finish(dm_npy_writer *w) {
    unsigned char cd[128], end[22], crc[4];
    size_t nl = strlen(w->key);
    uint32_t lh_size = (uint32_t)(30 + nl), cd_off = lh_size + w->member_size;
    memset(cd, 0, 46);
    put32(cd, 0x02014b50);
    put16(cd + 4, 20);                /* made by: 2.0 */
    put16(cd + 6, 20);                /* needed: 2.0 */
    put16(cd + 14, (1 << 5) | 1);
    put32(cd + 16, w->crc);
    put32(cd + 20, w->member_size);
    put32(cd + 24, w->member_size);
    put16(cd + 28, (uint32_t)nl);
    put32(cd + 42, 0);                /* the member's local header is at offset 0 */
    memcpy(cd + 46, w->key, nl);
    memset(end, 0, sizeof end);
    put32(end, 0x06054b50);
    put16(end + 8, 1);
    put16(end + 10, 1);
    put32(end + 12, (uint32_t)(46 + nl));
    put32(end + 16, cd_off);
    put32(crc, w->crc);
    if (fwrite(cd, 1, 46 + nl, w->out.f) != 46 + nl || fwrite(end, 1, sizeof end, w->out.f) != sizeof end ||
        fseek(w->out.f, 14, SEEK_SET) != 0 || fwrite(crc, 1, 4, w->out.f) != 4)
        return dm_error(DM_STATUS_IO, "%s: write failed: %s", w->out.path, strerror(dm_outfile_errno(&w->out)));
    return DM_STATUS_OK;
}

dm_status dm_npy_commit(dm_npy_writer *w) {
    if (w->n_written != w->n_total) {
        dm_outfile_abort(&w->out);
        return dm_error(DM_STATUS_ARG, "%s: %lld of %lld values written", w->out.path,
                        (long long)w->n_written, (long long)w->n_total);
    }
    if (w->zip) {
        dm_status st = zip_finish(w);
        if (st) { dm_outfile_abort(&w->out); return st; }
    }
    return dm_outfile_commit(&w->out);
}

void dm_npy_abort(dm_npy_writer *w) { dm_outfile_abort(&w->out); }
