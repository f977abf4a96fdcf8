/*
 * npy.c: the .npy v1.0 writer. Header: "\x93NUMPY", version 1.0, a little-endian u16 length HL, then
 * an ASCII dict {'descr': '<f4', 'fortran_order': False, 'shape': (...), } space-padded and ended by
 * '\n' so that 10 + HL is a multiple of 64; then the float32 data in C order.
 */
#include <errno.h>
#include <unistd.h>
#include <string.h>
#include <zlib.h>

#include "npy.h"

/* ZIP record fields are little-endian */
static void put16(unsigned char *p, uint32_t v) { p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); }
static void put32(unsigned char *p, uint32_t v) { put16(p, v & 0xffff); put16(p + 2, v >> 16); }
static void put64(unsigned char *p, uint64_t v) { put32(p, (uint32_t)v); put32(p + 4, (uint32_t)(v >> 32)); }

/* ZIP64 is written only when a 32-bit field would overflow: the member's size or the central
 * directory's offset (local header + member) reaching 0xFFFFFFFF, the value that means "see the ZIP64
 * extra field". Below that the archive is the classic one, byte for byte. Tests lower the threshold. */
#define ZIP64_LIMIT 0xFFFFFFFFu
static uint64_t zip64_threshold = ZIP64_LIMIT;

void dm_npz_set_zip64_threshold(uint64_t bytes) { zip64_threshold = bytes ? bytes : ZIP64_LIMIT; }

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

/* The ZIP local file header of member `name` (CRC patched at offset 14 on commit). With zip64, the
 * sizes are 0xFFFFFFFF and a ZIP64 extra field (id 1) carries both as 64-bit values. */
static size_t zip_local_header(unsigned char *h, const char *name, uint64_t size, bool zip64) {
    size_t nl = strlen(name);
    memset(h, 0, 30);
    put32(h, 0x04034b50);
    put16(h + 4, zip64 ? 45 : 20);    /* version needed: 4.5 for ZIP64, else 2.0 */
    put16(h + 10, 0);                 /* time 00:00 */
    put16(h + 12, (1 << 5) | 1);      /* date 1980-01-01 */
    put32(h + 14, 0);                 /* CRC-32, patched on commit */
    put32(h + 18, zip64 ? ZIP64_LIMIT : (uint32_t)size);   /* compressed = uncompressed: STORED */
    put32(h + 22, zip64 ? ZIP64_LIMIT : (uint32_t)size);
    put16(h + 26, (uint32_t)nl);
    put16(h + 28, zip64 ? 20 : 0);    /* extra field length */
    memcpy(h + 30, name, nl);
    if (!zip64) return 30 + nl;
    unsigned char *x = h + 30 + nl;
    put16(x, 1);                      /* ZIP64 extended information */
    put16(x + 2, 16);
    put64(x + 4, size);               /* original size */
    put64(x + 12, size);              /* compressed size */
    return 30 + nl + 20;
}

/* The writer's fields of an .npz member (or a plain .npy when key is NULL) of `shape`; the .npy header
 * into hdr, its length into *hlen. */
static dm_status setup(dm_npy_writer *w, const char *path, const char *key, int ndim, const int64_t *shape,
                       char *hdr, size_t *hlen) {
    memset(w, 0, sizeof *w);
    if (ndim < 1 || ndim > 4) return dm_error(DM_STATUS_ARG, "%s: npy arrays of 1 to 4 dimensions", path);
    *hlen = dm_npy_header(hdr, ndim, shape);
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) n *= shape[d];
    if (n < 0 || n > (INT64_MAX - (int64_t)*hlen) / 4)
        return dm_error(DM_STATUS_ARG, "%s: %lld values do not fit in an %s", path, (long long)n,
                        key ? ".npz member" : ".npy array");
    w->ndim = ndim;
    w->n_total = n;
    for (int d = 0; d < ndim; d++) w->shape[d] = shape[d];
    snprintf(w->out.path, sizeof w->out.path, "%s", path);
    if (!key) return DM_STATUS_OK;
    w->zip = true;
    w->member_size = (uint64_t)*hlen + 4 * (uint64_t)n;
    snprintf(w->key, sizeof w->key, "%s.npy", key);
    /* the directory's offset, 30 + name + member without ZIP64, bounds every 32-bit field */
    w->zip64 = 30 + strlen(w->key) + w->member_size >= zip64_threshold;
    return DM_STATUS_OK;
}

dm_status dm_npz_open(dm_npy_writer *w, const char *path, const char *key, int ndim, const int64_t *shape) {
    char hdr[256];
    size_t hlen = 0;
    DM_TRY(setup(w, path, key, ndim, shape, hdr, &hlen));
    DM_TRY(dm_outfile_open(&w->out, path));
    unsigned char lh[128];
    size_t lhl = zip_local_header(lh, w->key, w->member_size, w->zip64);
    w->crc = (uint32_t)crc32(0L, (const Bytef *)hdr, (uInt)hlen);
    if (fwrite(lh, 1, lhl, w->out.f) != lhl || fwrite(hdr, 1, hlen, w->out.f) != hlen) {
        int err = dm_outfile_errno(&w->out);
        dm_outfile_abort(&w->out);
        return dm_error(DM_STATUS_IO, "%s: write failed: %s", path, strerror(err));
    }
    return DM_STATUS_OK;
}

static size_t zip_tail(const dm_npy_writer *w, unsigned char *buf);

/* ---- sharded arrays (shard.h) ----------------------------------------------------------------- */

dm_status dm_npy_open_shard(dm_npy_writer *w, const char *path, const char *key, int ndim, const int64_t *shape,
                            const dm_shard *sh) {
    char hdr[256];
    size_t hlen = 0;
    DM_TRY(setup(w, path, key, ndim, shape, hdr, &hlen));
    if (shape[0] != sh->n) return dm_error(DM_STATUS_ARG, "%s: %lld rows for a shard of %lld", path,
                                           (long long)shape[0], (long long)sh->n);
    int64_t row = shape[0] ? w->n_total / shape[0] : 0;   /* floats per row */
    int64_t offset = (int64_t)hlen + 4 * row * sh->row0;
    if (key) {
        unsigned char lh[128];
        offset += (int64_t)zip_local_header(lh, w->key, w->member_size, w->zip64);
    }
    w->n_total = row * (sh->row1 - sh->row0);
    w->sharded = true;
    w->shard = *sh;
    w->crc = 0;   /* of this shard's bytes alone; dm_npy_frame combines them */
    w->out.fd = w->out.dirfd = -1;
    return dm_shard_data_open(&w->out.f, sh, path, offset);
}

dm_status dm_npy_frame(int fd, const char *path, const char *key, int ndim, const int64_t *shape, uint32_t data_crc) {
    dm_npy_writer w;
    char hdr[256];
    size_t hlen = 0;
    DM_TRY(setup(&w, path, key, ndim, shape, hdr, &hlen));
    unsigned char lh[128], tail[160 + 98];
    size_t lhl = 0, tl = 0;
    if (key) {
        /* the member's CRC-32: its .npy header, then the data (whose CRC the shards combined) */
        w.crc = (uint32_t)crc32_combine(crc32(0L, (const Bytef *)hdr, (uInt)hlen), data_crc,
                                          (z_off_t)(4 * (uint64_t)w.n_total));
        lhl = zip_local_header(lh, w.key, w.member_size, w.zip64);
        put32(lh + 14, w.crc);
        tl = zip_tail(&w, tail);
    }
    off_t end = (off_t)(lhl + hlen + 4 * (uint64_t)w.n_total);
    if ((lhl && pwrite(fd, lh, lhl, 0) != (ssize_t)lhl) || pwrite(fd, hdr, hlen, (off_t)lhl) != (ssize_t)hlen ||
        (tl && pwrite(fd, tail, tl, end) != (ssize_t)tl) || (!tl && ftruncate(fd, end) != 0))
        return dm_error(DM_STATUS_IO, "%s: write failed: %s", path, strerror(errno ? errno : EIO));
    /* a zero-row array (or one whose rows were all written) ends exactly at end + tail */
    if (tl && ftruncate(fd, end + (off_t)tl) != 0)
        return dm_error(DM_STATUS_IO, "%s: write failed: %s", path, strerror(errno));
    return DM_STATUS_OK;
}

dm_status dm_npy_append(dm_npy_writer *w, const float *v, int64_t n) {
    if (w->n_written + n > w->n_total)
        return dm_error(DM_STATUS_ARG, "%s: more values than the declared shape holds", w->out.path);
    if (n > 0 && fwrite(v, sizeof(float), (size_t)n, w->out.f) != (size_t)n)
        return dm_error(DM_STATUS_IO, "%s: write failed: %s", w->out.path, strerror(dm_outfile_errno(&w->out)));
    if (w->zip || w->sharded) w->crc = (uint32_t)crc32_z(w->crc, (const Bytef *)v, (z_size_t)n * sizeof(float));
    w->n_written += n;
    return DM_STATUS_OK;
}

/* Central directory and end record after the member into buf (160 + 98 bytes); returns their length.
 * With zip64, the directory entry's sizes go to its ZIP64 extra field, and a ZIP64 end of central
 * directory record and its locator precede the classic end record, whose directory offset reads
 * 0xFFFFFFFF. */
static size_t zip_tail(const dm_npy_writer *w, unsigned char *buf) {
    unsigned char *cd = buf, *end = buf + 160;
    size_t nl = strlen(w->key), xl = w->zip64 ? 20 : 0, cdl = 46 + nl + xl, endl = 22;
    uint64_t cd_off = 30 + nl + xl + w->member_size;
    memset(buf, 0, 160 + 98);
    put32(cd, 0x02014b50);
    put16(cd + 4, w->zip64 ? 45 : 20);    /* made by: 4.5 or 2.0 (MS-DOS attributes) */
    put16(cd + 6, w->zip64 ? 45 : 20);    /* needed */
    put16(cd + 14, (1 << 5) | 1);
    put32(cd + 16, w->crc);
    put32(cd + 20, w->zip64 ? ZIP64_LIMIT : (uint32_t)w->member_size);
    put32(cd + 24, w->zip64 ? ZIP64_LIMIT : (uint32_t)w->member_size);
    put16(cd + 28, (uint32_t)nl);
    put16(cd + 30, (uint32_t)xl);
    put32(cd + 42, 0);                /* the member's local header is at offset 0 */
    memcpy(cd + 46, w->key, nl);
    if (w->zip64) {
        unsigned char *x = cd + 46 + nl;
        put16(x, 1);
        put16(x + 2, 16);
        put64(x + 4, w->member_size);
        put64(x + 12, w->member_size);
    }
    unsigned char *e = end;
    if (w->zip64) {
        put32(e, 0x06064b50);         /* ZIP64 end of central directory record */
        put64(e + 4, 44);             /* its size after this field */
        put16(e + 12, 45);
        put16(e + 14, 45);
        put64(e + 24, 1);             /* entries on this disk (disk numbers stay 0) */
        put64(e + 32, 1);             /* entries */
        put64(e + 40, cdl);
        put64(e + 48, cd_off);
        e += 56;
        put32(e, 0x07064b50);         /* ZIP64 end of central directory locator */
        put64(e + 8, cd_off + cdl);   /* where the record above starts */
        put32(e + 16, 1);             /* disks */
        e += 20;
        endl += 76;
    }
    put32(e, 0x06054b50);
    put16(e + 8, 1);
    put16(e + 10, 1);
    put32(e + 12, (uint32_t)cdl);
    put32(e + 16, w->zip64 ? ZIP64_LIMIT : (uint32_t)cd_off);
    memmove(cd + cdl, end, endl);
    return cdl + endl;
}

/* The directory and end records, then the CRC into the local header. */
static dm_status zip_finish(dm_npy_writer *w) {
    unsigned char tail[160 + 98], crc[4];
    size_t tl = zip_tail(w, tail);
    put32(crc, w->crc);
    if (fwrite(tail, 1, tl, w->out.f) != tl || fseek(w->out.f, 14, SEEK_SET) != 0 || fwrite(crc, 1, 4, w->out.f) != 4)
        return dm_error(DM_STATUS_IO, "%s: write failed: %s", w->out.path, strerror(dm_outfile_errno(&w->out)));
    return DM_STATUS_OK;
}

dm_status dm_npy_commit(dm_npy_writer *w) {
    if (w->sharded) {   /* this shard's rows: flushed, then its marker (shard.h) */
        FILE *f = w->out.f;
        w->out.f = NULL;
        if (w->n_written != w->n_total) {
            if (f) fclose(f);
            return dm_error(DM_STATUS_ARG, "%s: %lld of %lld values of this shard written", w->out.path,
                            (long long)w->n_written, (long long)w->n_total);
        }
        return dm_shard_data_done(f, &w->shard, w->out.path, w->crc, 4 * (uint64_t)w->n_written);
    }
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

void dm_npy_abort(dm_npy_writer *w) {
    if (w->sharded) {   /* the shared file holds other shards' rows: only this stream goes */
        if (w->out.f) fclose(w->out.f);
        w->out.f = NULL;
        return;
    }
    dm_outfile_abort(&w->out);
}
