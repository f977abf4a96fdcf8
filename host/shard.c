/*
 * shard.c: the files of a sharded run and their assembly (see shard.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "npy.h"
#include "shard.h"

void dm_shard_range(dm_shard *sh, int64_t n, int batch) {
    int64_t nb = (n + batch - 1) / batch, per = nb / sh->count, extra = nb % sh->count;
    int64_t b0 = sh->index * per + (sh->index < extra ? sh->index : extra);
    int64_t b1 = b0 + per + (sh->index < extra);
    sh->n = n;
    sh->row0 = b0 * batch < n ? b0 * batch : n;
    sh->row1 = b1 * batch < n ? b1 * batch : n;
}

dm_status dm_shard_name(char *buf, size_t n, const dm_shard *sh, const char *path, const char *what) {
    const char *slash = strrchr(path, '/');
    int dl = slash ? (int)(slash - path) + 1 : 0;
    size_t w = (size_t)snprintf(buf, n, "%.*s.%s.dmshard-%s-%d.%s", dl, path, path + dl, sh->key, sh->count, what);
    if (w >= n) return dm_error(DM_STATUS_ARG, "%s: path too long", path);
    return DM_STATUS_OK;
}

/* "part-<i>" or "done-<i>" of shard i. */
static dm_status own_name(char *buf, size_t n, const dm_shard *sh, const char *path, const char *what, int i) {
    char tag[32];
    snprintf(tag, sizeof tag, "%s-%d", what, i + 1);
    return dm_shard_name(buf, n, sh, path, tag);
}

/* The folder of path, opened; -1 on failure (errno). */
static int open_dir(const char *path) {
    const char *slash = strrchr(path, '/');
    char dir[4200];
    if (!slash) snprintf(dir, sizeof dir, ".");
    else snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int)(slash - path), path);
    return open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

dm_status dm_shard_text_open(dm_outfile *o, const dm_shard *sh, const char *path) {
    char part[4300];
    DM_TRY(own_name(part, sizeof part, sh, path, "part", sh->index));
    if (unlink(part) != 0 && errno != ENOENT)
        return dm_error(DM_STATUS_IO, "%s: cannot remove: %s", part, strerror(errno));
    return dm_outfile_open(o, part);
}

dm_status dm_shard_data_open(FILE **f, const dm_shard *sh, const char *path, int64_t offset) {
    *f = NULL;
    char name[4300];
    DM_TRY(own_name(name, sizeof name, sh, path, "done", sh->index));
    if (unlink(name) != 0 && errno != ENOENT)
        return dm_error(DM_STATUS_IO, "%s: cannot remove: %s", name, strerror(errno));
    DM_TRY(dm_shard_name(name, sizeof name, sh, path, "data"));
    int fd = open(name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0666);
    if (fd < 0) return dm_error(DM_STATUS_IO, "%s: cannot write: %s", name, strerror(errno));
    *f = fdopen(fd, "r+");
    if (!*f || fseeko(*f, (off_t)offset, SEEK_SET) != 0) {
        int err = errno;
        if (*f) fclose(*f);
        else close(fd);
        *f = NULL;
        return dm_error(DM_STATUS_IO, "%s: cannot write: %s", name, strerror(err));
    }
    return DM_STATUS_OK;
}

dm_status dm_shard_data_done(FILE *f, const dm_shard *sh, const char *path, uint32_t crc, uint64_t bytes) {
    char name[4300];
    dm_status st = dm_shard_name(name, sizeof name, sh, path, "data");
    int err = 0;
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) err = errno ? errno : EIO;
    if (fclose(f) != 0 && !err) err = errno ? errno : EIO;
    if (!st && err) st = dm_error(DM_STATUS_IO, "%s: write failed: %s", name, strerror(err));
    if (!st) st = own_name(name, sizeof name, sh, path, "done", sh->index);
    dm_outfile o;
    if (!st) st = dm_outfile_open(&o, name);
    if (st) return st;
    fprintf(o.f, "%" PRId64 " %" PRId64 " %08" PRIx32 " %" PRIu64 "\n", sh->row0, sh->row1, crc, bytes);
    return dm_outfile_commit(&o);
}

/* Whether shard i's part (text) or marker (array) of output o is present. */
static bool have_part(const dm_shard *sh, const dm_shard_output *o, int i) {
    char name[4300];
    if (own_name(name, sizeof name, sh, o->path, o->kind == DM_SHARD_TEXT ? "part" : "done", i)) return false;
    return access(name, F_OK) == 0;
}

/* The shards' markers of array output o: contiguous rows covering [0, n), their CRC-32 combined. */
static dm_status read_markers(const dm_shard *sh, const dm_shard_output *o, uint32_t *crc) {
    int64_t row = sh->n ? 1 : 0;
    for (int d = 1; d < o->ndim; d++) row *= o->shape[d];
    int64_t next = 0;
    uLong c = crc32(0L, Z_NULL, 0);
    for (int i = 0; i < sh->count; i++) {
        char name[4300];
        DM_TRY(own_name(name, sizeof name, sh, o->path, "done", i));
        FILE *f = fopen(name, "r");
        if (!f) return dm_error(DM_STATUS_IO, "%s: %s", name, strerror(errno));
        int64_t r0, r1;
        uint32_t ci;
        uint64_t bytes;
        int got = fscanf(f, "%" SCNd64 " %" SCNd64 " %" SCNx32 " %" SCNu64, &r0, &r1, &ci, &bytes);
        fclose(f);
        if (got != 4 || r0 != next || r1 < r0 || r1 > sh->n || bytes != 4 * (uint64_t)(row * (r1 - r0)))
            return dm_error(DM_STATUS_CORRUPT, "%s: not the marker of rows %lld.. of this run (remove the run's "
                            ".dmshard files and rerun every shard)", name, (long long)next);
        c = crc32_combine(c, ci, (z_off_t)bytes);
        next = r1;
    }
    if (next != sh->n)
        return dm_error(DM_STATUS_CORRUPT, "%s: the shards' markers cover %lld of %lld rows", o->path, (long long)next,
                        (long long)sh->n);
    *crc = (uint32_t)c;
    return DM_STATUS_OK;
}

/* The text parts of output o, in shard order, into out. */
static dm_status concat_parts(const dm_shard *sh, const dm_shard_output *o, dm_outfile *out) {
    char buf[1 << 16];
    for (int i = 0; i < sh->count; i++) {
        char name[4300];
        DM_TRY(own_name(name, sizeof name, sh, o->path, "part", i));
        FILE *f = fopen(name, "rb");
        if (!f) return dm_error(DM_STATUS_IO, "%s: %s", name, strerror(errno));
        size_t k;
        while ((k = fread(buf, 1, sizeof buf, f)) > 0)
            if (fwrite(buf, 1, k, out->f) != k) {
                fclose(f);
                return dm_error(DM_STATUS_IO, "%s: write failed: %s", o->path, strerror(dm_outfile_errno(out)));
            }
        bool bad = ferror(f);
        fclose(f);
        if (bad) return dm_error(DM_STATUS_IO, "%s: read failed", name);
    }
    return DM_STATUS_OK;
}

/* The array output o's shared file framed (header, .npz records) and fsynced. */
static dm_status frame_array(const dm_shard *sh, const dm_shard_output *o) {
    uint32_t crc = 0;
    DM_TRY(read_markers(sh, o, &crc));
    char name[4300];
    DM_TRY(dm_shard_name(name, sizeof name, sh, o->path, "data"));
    int fd = open(name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0666);
    if (fd < 0) return dm_error(DM_STATUS_IO, "%s: cannot write: %s", name, strerror(errno));
    errno = 0;
    dm_status st = dm_npy_frame(fd, o->path, o->kind == DM_SHARD_NPZ ? "arr_0" : NULL, o->ndim, o->shape, crc);
    if (!st && fsync(fd) != 0) st = dm_error(DM_STATUS_IO, "%s: write failed: %s", o->path, strerror(errno));
    close(fd);
    return st;
}

void dm_shard_remove_all(const dm_shard *sh, const dm_shard_output *outs, int n_outs) {
    char name[4300];
    for (int k = 0; k < n_outs; k++) {
        for (int i = 0; i < sh->count; i++)
            if (!own_name(name, sizeof name, sh, outs[k].path, outs[k].kind == DM_SHARD_TEXT ? "part" : "done", i))
                unlink(name);
        if (outs[k].kind != DM_SHARD_TEXT && !dm_shard_name(name, sizeof name, sh, outs[k].path, "data")) unlink(name);
    }
}

void dm_shard_remove_own(const dm_shard *sh, const dm_shard_output *outs, int n_outs) {
    char name[4300];
    for (int k = 0; k < n_outs; k++)
        if (!own_name(name, sizeof name, sh, outs[k].path, outs[k].kind == DM_SHARD_TEXT ? "part" : "done", sh->index))
            unlink(name);
}

#define MAX_OUTS 8

/* Assembles the set, holding the lock: every output into place, or none. */
static dm_status assemble(const dm_shard *sh, const dm_shard_output *outs, int n_outs) {
    dm_outfile text[MAX_OUTS];
    memset(text, 0, sizeof text);
    dm_status st = DM_STATUS_OK;
    for (int k = 0; k < n_outs && !st; k++) {
        if (outs[k].kind != DM_SHARD_TEXT) st = frame_array(sh, &outs[k]);
        else if (!(st = dm_outfile_open(&text[k], outs[k].path))) st = concat_parts(sh, &outs[k], &text[k]);
    }
    /* every file is complete: into place one by one; a failure takes back those already placed */
    int placed = 0;
    for (; placed < n_outs && !st; placed++) {
        const dm_shard_output *o = &outs[placed];
        if (o->kind == DM_SHARD_TEXT) {
            st = dm_outfile_commit(&text[placed]);
            if (st) break;
            continue;
        }
        char name[4300];
        st = dm_shard_name(name, sizeof name, sh, o->path, "data");
        if (!st && rename(name, o->path) != 0)
            st = dm_error(DM_STATUS_IO, "%s: cannot write: %s", o->path, strerror(errno));
        if (st) break;
        int dfd = open_dir(o->path);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
    }
    for (int k = 0; k < n_outs; k++) dm_outfile_abort(&text[k]);
    if (st)
        for (int k = 0; k < placed; k++) unlink(outs[k].path);
    return st;
}

dm_status dm_shard_finish(const dm_shard *sh, const dm_shard_output *outs, int n_outs, bool *committed, int *done) {
    *committed = false;
    DM_CHECK_ARG(n_outs >= 1 && n_outs <= MAX_OUTS, "dm_shard_finish: 1 to %d outputs", MAX_OUTS);
    *done = 0;
    for (int i = 0; i < sh->count; i++) {
        bool all = true;
        for (int k = 0; k < n_outs && all; k++) all = have_part(sh, &outs[k], i);
        *done += all;
    }
    if (*done < sh->count) return DM_STATUS_OK;
    char lock[4300];
    DM_TRY(dm_shard_name(lock, sizeof lock, sh, outs[0].path, "lock"));
    int fd = open(lock, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0) {
        if (errno == EEXIST) return DM_STATUS_OK;   /* another shard is assembling the set */
        return dm_error(DM_STATUS_IO, "%s: cannot write: %s", lock, strerror(errno));
    }
    dprintf(fd, "%ld\n", (long)getpid());
    close(fd);
    /* a shard that finished between our count and the lock may have assembled and removed the set */
    bool all = true;
    for (int i = 0; i < sh->count && all; i++)
        for (int k = 0; k < n_outs && all; k++) all = have_part(sh, &outs[k], i);
    dm_status st = all ? assemble(sh, outs, n_outs) : DM_STATUS_OK;
    if (!st && all) {
        dm_shard_remove_all(sh, outs, n_outs);
        *committed = true;
    }
    unlink(lock);
    return st;
}
