/*
 * shard.h: one run of a streaming command (predict, saliency, temporal) split into N shards, each a
 * separate process (a Slurm array task, an MPI rank), whose outputs come together as the files a
 * single process writes, byte for byte.
 *
 * Rows: shard i of N takes a contiguous range of whole batches (dm_shard_range), so every batch, and
 * hence every output byte, is the one a whole-file run computes.
 *
 * Files: every file of the set lives, until the set is complete, under hidden names in the output's
 * folder, "<dir>/.<base>.dmshard-<KEY>-<N>.<what>", KEY naming the run (the same command line and
 * inputs give the same KEY, so shards of one run find each other and a different run never mixes in):
 *   arrays (.npy, .npz member): one shared file "...data" that every shard pwrite()s its rows into at
 *       their offset, and per shard a marker "...done-<i>" (its rows and the CRC-32 of its bytes),
 *       written atomically once its rows are on disk;
 *   text (TSV, BED): per shard a complete part "...part-<i>" (its rows; shard 1 adds the header),
 *       written atomically.
 * The shard that finds every marker and part present after writing its own (the last one to finish),
 * or rank 0 after the others agree under MPI, takes the lock "...lock" (O_EXCL), writes the arrays'
 * headers (and the .npz's CRC-32, combined from the shards', and its directory), concatenates the text
 * parts in shard order into the final file, renames every output into place, then removes the parts,
 * markers and lock. Until then nothing is at the final paths; a failed shard leaves the others' parts,
 * so rerunning only the failed shard completes the set.
 */
#ifndef DM_SHARD_H
#define DM_SHARD_H

#include "dm_internal.h"

typedef struct dm_shard {
    int index, count;        /* shard index (0-based) of count; count 0: not sharded */
    char key[17];            /* 16 hex digits naming the run (the same in every shard) */
    int64_t n;               /* rows of the whole input */
    int64_t row0, row1;      /* this shard's rows [row0, row1) */
} dm_shard;

/* Rows of shard sh->index of sh->count over n rows: whole batches of `batch`, the first
 * n_batches mod count shards one batch more (a shard may get none). Fills n, row0, row1. */
void dm_shard_range(dm_shard *sh, int64_t n, int batch);

/* "<dir>/.<base>.dmshard-<KEY>-<N>.<what>" of output `path` into buf (n bytes). _ARG when too long. */
dm_status dm_shard_name(char *buf, size_t n, const dm_shard *sh, const char *path, const char *what);

/* A text output's part: removes this shard's earlier part, then opens "...part-<i>" atomically. */
dm_status dm_shard_text_open(dm_outfile *o, const dm_shard *sh, const char *path);

/* An array output's shared file, opened (created if absent) for writing at byte `offset` (the data
 * offset of this shard's first row); this shard's earlier marker is removed first. *f is the stream. */
dm_status dm_shard_data_open(FILE **f, const dm_shard *sh, const char *path, int64_t offset);
/* This shard's rows are written: flushes, fsyncs and closes f, then writes the marker (rows, CRC-32
 * of the bytes, their count). f is closed either way. */
dm_status dm_shard_data_done(FILE *f, const dm_shard *sh, const char *path, uint32_t crc, uint64_t bytes);

/* The outputs of one run, for dm_shard_finish. */
typedef enum { DM_SHARD_TEXT = 0, DM_SHARD_NPY, DM_SHARD_NPZ } dm_shard_kind;
typedef struct dm_shard_output {
    char path[4200];
    dm_shard_kind kind;
    int ndim;                /* arrays: the whole array's shape */
    int64_t shape[4];
} dm_shard_output;

/* After this shard's parts: when every shard's part of every output is present and no other shard
 * holds the lock, assembles and renames the set into place (above) and sets *committed; else returns
 * _OK with *committed false and *done the number of shards whose parts are all present. On failure
 * nothing is at the final paths and the parts stay (a later shard or rerun retries). */
dm_status dm_shard_finish(const dm_shard *sh, const dm_shard_output *outs, int n_outs, bool *committed, int *done);

/* Removes this shard's parts and markers (its run failed elsewhere, e.g. on another MPI rank). */
void dm_shard_remove_own(const dm_shard *sh, const dm_shard_output *outs, int n_outs);
/* Removes every shard's parts, markers and shared files of the set (under MPI, once every rank has
 * agreed that the run failed). */
void dm_shard_remove_all(const dm_shard *sh, const dm_shard_output *outs, int n_outs);

#endif /* DM_SHARD_H */
