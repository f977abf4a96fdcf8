/*
 * fuzz_common.h: what the libFuzzer targets of tests/fuzz share.
 *
 * The parsers take a path, so every input goes through the real file readers: the bytes are
 * written to an anonymous in-memory file (memfd) and the parser opens "/proc/self/fd/N", which
 * gives it a fresh descriptor at offset 0, as a named file would, without touching the disk.
 */
#ifndef DM_FUZZ_COMMON_H
#define DM_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

/* Replaces the in-memory file's content with d[0..n) and returns its path (static buffer). */
static inline const char *dm_fuzz_file(const uint8_t *d, size_t n) {
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("dm_fuzz", 0);
        if (fd < 0) {
            perror("memfd_create");
            abort();
        }
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0) abort();
    size_t done = 0;
    while (done < n) {
        ssize_t w = pwrite(fd, d + done, n - done, (off_t)done);
        if (w <= 0) abort();
        done += (size_t)w;
    }
    return path;
}

/* d[0..n) as a gzip member in a malloc'd buffer (*out, *out_n); aborts when zlib fails (it cannot
 * on a well-formed call: the buffer is deflateBound's size). */
static inline void dm_fuzz_gzip(const uint8_t *d, size_t n, uint8_t **out, size_t *out_n) {
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) abort();
    uLong cap = deflateBound(&z, (uLong)n) + 32;
    uint8_t *buf = malloc(cap);
    if (!buf) abort();
    z.next_in = (Bytef *)d;
    z.avail_in = (uInt)n;
    z.next_out = buf;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) abort();
    *out_n = cap - z.avail_out;
    deflateEnd(&z);
    *out = buf;
}

/* The file the parser reads: d[0..n) as is, or gzip-compressed when `gz`. */
static inline const char *dm_fuzz_file_maybe_gz(const uint8_t *d, size_t n, int gz) {
    if (!gz) return dm_fuzz_file(d, n);
    uint8_t *z;
    size_t zn;
    dm_fuzz_gzip(d, n, &z, &zn);
    const char *path = dm_fuzz_file(z, zn);
    free(z);
    return path;
}

/* With DM_FUZZ_VERBOSE set, why an input was rejected (for checking that the seeds parse). */
static inline void dm_fuzz_verbose(const char *msg) {
    static int on = -1;
    if (on < 0) on = getenv("DM_FUZZ_VERBOSE") != NULL;
    if (on) fprintf(stderr, "rejected: %s\n", msg);
}

/* An invariant of a successful parse failed: a bug, reported as a crash so libFuzzer keeps it. */
#define DM_FUZZ_CHECK(cond)                                                                        \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);          \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif /* DM_FUZZ_COMMON_H */
