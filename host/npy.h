/*
 * npy.h: NumPy .npy v1.0 float32 arrays written incrementally (FORMATS.md §6), so attribution maps
 * of any number of sequences stream to disk in fixed memory. The shape is declared up front; rows are
 * appended in order; commit checks that exactly the declared number arrived, then renames the file
 * into place (nothing partial is ever left under the final name).
 */
#ifndef DM_NPY_H
#define DM_NPY_H

#include "dm_internal.h"
#include "shard.h"

typedef struct dm_npy_writer {
    dm_outfile out;
    int ndim;
    int64_t shape[4];
    int64_t n_written;    /* floats written so far */
    int64_t n_total;      /* floats the shape promises */
    bool zip;             /* an .npz: one STORED member <key>.npy */
    uint32_t crc;         /* zip: CRC-32 of the member so far */
    uint64_t member_size; /* zip: bytes of the member (header + data) */
    bool zip64;           /* zip: ZIP64 sizes and end records (a member or offset past 32 bits) */
    char key[64];
    bool sharded;         /* one shard's rows of a shared file (dm_npy_open_shard) */
    dm_shard shard;
} dm_npy_writer;

/* Opens `path` for a C-order float32 array of `shape` (ndim 1..4). _IO, _ARG. */
dm_status dm_npy_open(dm_npy_writer *w, const char *path, int ndim, const int64_t *shape);

/* The same array as the single member `<key>.npy` of an .npz (a ZIP archive, STORED, sizes in the
 * headers and a correct CRC-32, as np.savez writes; np.load(path)[key] reads it). An archive whose
 * member or directory offset reaches 4 GiB gets the ZIP64 extra fields and end records (as Python's
 * zipfile writes them); smaller ones are the classic format, without any ZIP64 structure. */
dm_status dm_npz_open(dm_npy_writer *w, const char *path, const char *key, int ndim, const int64_t *shape);

/* Test hook: ZIP64 from archives whose directory offset would reach `bytes` (0: the 0xFFFFFFFF of the
 * format). Process-wide, not thread-safe; for tests only. */
void dm_npz_set_zip64_threshold(uint64_t bytes);

/* Appends n floats (little-endian on the little-endian hosts deepmotif supports). _IO, _ARG if more
 * than the shape holds. Works for .npy and .npz alike. */
dm_status dm_npy_append(dm_npy_writer *w, const float *v, int64_t n);

/* Checks the count, then renames into place. _ARG on a short array (the file is removed), _IO. */
dm_status dm_npy_commit(dm_npy_writer *w);

/* Removes the temporary file. */
void dm_npy_abort(dm_npy_writer *w);

/* One shard's rows sh->row0 .. row1 of the array of `shape` (shape[0] = sh->n rows): an .npy when key
 * is NULL, else the member <key>.npy of an .npz, written at their offset into the set's shared file
 * (shard.h). Append as above; commit flushes them and writes the shard's marker (no rename: the set
 * is assembled by dm_shard_finish); abort closes the stream and leaves the shared file. */
dm_status dm_npy_open_shard(dm_npy_writer *w, const char *path, const char *key, int ndim, const int64_t *shape,
                            const dm_shard *sh);

/* Writes around the rows already in fd the header of the .npy (key NULL) or the local header, header
 * and directory of the .npz, data_crc being the CRC-32 of all the rows' bytes: the file becomes the
 * one dm_npy_open/dm_npz_open write, byte for byte. path names it in messages. */
dm_status dm_npy_frame(int fd, const char *path, const char *key, int ndim, const int64_t *shape, uint32_t data_crc);

/* The .npy header of a float32 array of `shape` (magic, version, length, padded dict) into buf;
 * returns its length, a multiple of 64. buf must hold 256 bytes. */
size_t dm_npy_header(char *buf, int ndim, const int64_t *shape);

#endif /* DM_NPY_H */
