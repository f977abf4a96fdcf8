/*
 * fuzz_data.c: libFuzzer target for the sequence reader, dm_dataset_read (host/data.c): DeepBind
 * TSV, labelled and unlabelled FASTA, two-column TSV, each plain or gzip.
 *
 * Input layout: byte 0 chooses how the rest is read, bytes 1.. are the file:
 *   bit 0     gzip-compress the file first (the plain path still sees raw gzip bytes when the file
 *             itself starts with 1f 8b: zlib reads both, so damaged gzip streams are covered too)
 *   bits 1-3  the format asked for, modulo 5: 0 AUTO (detection from the first line), 1 DEEPBIND,
 *             2 LABELLED_FASTA, 3 FASTA, 4 TSV
 *   bits 4-7  the sequence length L, from dm_fuzz_lens (padding and truncation at every scale)
 * After a successful read the data set's invariants are checked (a violation aborts, which libFuzzer
 * reports as a crash), then it goes through the two derivations training applies to what was read:
 * the shuffled negatives and the validation split. The same file is then read again by the streaming
 * reader (dm_dataset_scan, what predict, saliency and temporal use) in chunks of 1 to 3 rows: it must
 * agree with the whole read (same status and message; on success the same rows, in order, and the
 * same counts).
 */
#include "fuzz_common.h"

#include "deepmotif.h"
#include "dm_internal.h"

static const int32_t dm_fuzz_lens[16] = {1, 2, 3, 4, 5, 8, 12, 20, 30, 40, 60, 101, 101, 150, 200, 300};

static void check_dataset(const dm_dataset *ds, int32_t len) {
    DM_FUZZ_CHECK(ds->n > 0 && ds->len == len);
    DM_FUZZ_CHECK(ds->n_padded >= 0 && ds->n_padded <= ds->n);
    DM_FUZZ_CHECK(ds->n_truncated >= 0 && ds->n_truncated <= ds->n);
    DM_FUZZ_CHECK(ds->n_ambiguous >= 0 && ds->n_ambiguous <= ds->n);
    DM_FUZZ_CHECK(ds->format >= DM_FORMAT_DEEPBIND && ds->format <= DM_FORMAT_TSV);
    for (int64_t i = 0; i < ds->n; i++) {
        DM_FUZZ_CHECK(ds->id[i] != NULL);
        DM_FUZZ_CHECK(ds->label[i] == 0 || ds->label[i] == 1 || ds->label[i] == DM_LABEL_UNKNOWN);
        DM_FUZZ_CHECK(ds->seq_len[i] >= 1 && ds->seq_len[i] <= len);
        const uint8_t *row = ds->seq + i * len;
        for (int32_t j = 0; j < len; j++) {
            if (j < ds->seq_len[i]) DM_FUZZ_CHECK(row[j] <= DM_BASE_N);
            else DM_FUZZ_CHECK(row[j] == DM_BASE_PAD);
        }
    }
}

/* The streaming reader's chunks against the whole read (`whole`, NULL when that failed). */
typedef struct scan_ctx {
    const dm_dataset *whole;
    int64_t next_row;
} scan_ctx;

static dm_status on_chunk(void *ctx_, const dm_dataset *chunk, int64_t row0) {
    scan_ctx *ctx = ctx_;
    DM_FUZZ_CHECK(row0 == ctx->next_row && chunk->n >= 1);
    ctx->next_row += chunk->n;
    if (!ctx->whole) return DM_STATUS_OK;
    const dm_dataset *w = ctx->whole;
    DM_FUZZ_CHECK(row0 + chunk->n <= w->n && chunk->len == w->len);
    for (int64_t i = 0; i < chunk->n; i++) {
        int64_t r = row0 + i;
        DM_FUZZ_CHECK(chunk->seq_len[i] == w->seq_len[r] && chunk->label[i] == w->label[r]);
        DM_FUZZ_CHECK(memcmp(chunk->seq + i * chunk->len, w->seq + r * w->len, (size_t)w->len) == 0);
        DM_FUZZ_CHECK(strcmp(chunk->id[i], w->id[r]) == 0);
    }
    return DM_STATUS_OK;
}

static void check_scan(const char *path, dm_format format, int32_t len, int64_t chunk_rows,
                       dm_status read_st, const char *read_msg, const dm_dataset *whole) {
    scan_ctx ctx = {.whole = read_st == DM_STATUS_OK ? whole : NULL};
    dm_dataset totals;
    dm_status st = dm_dataset_scan(path, format, len, chunk_rows, on_chunk, &ctx, &totals);
    DM_FUZZ_CHECK(st == read_st);
    if (st != DM_STATUS_OK) {
        DM_FUZZ_CHECK(strcmp(dm_last_error(), read_msg) == 0);
        return;
    }
    DM_FUZZ_CHECK(ctx.next_row == whole->n && totals.n == whole->n && totals.format == whole->format);
    DM_FUZZ_CHECK(totals.n_padded == whole->n_padded && totals.n_truncated == whole->n_truncated &&
                  totals.n_ambiguous == whole->n_ambiguous);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    uint8_t ctl = data[0];
    dm_format format = (dm_format)(((ctl >> 1) & 7) % 5);
    int32_t len = dm_fuzz_lens[ctl >> 4];
    const char *path = dm_fuzz_file_maybe_gz(data + 1, size - 1, ctl & 1);

    int64_t chunk_rows = 1 + (int64_t)(size % 3);
    dm_dataset ds;
    dm_status st = dm_dataset_read(&ds, path, format, len);
    if (st != DM_STATUS_OK) {
        DM_FUZZ_CHECK(ds.n == 0 && ds.seq == NULL && ds.id == NULL);   /* nothing left behind */
        DM_FUZZ_CHECK(dm_last_error()[0] != '\0');
        dm_fuzz_verbose(dm_last_error());
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", dm_last_error());
        check_scan(path, format, len, chunk_rows, st, msg, NULL);
        return 0;
    }
    check_dataset(&ds, len);
    check_scan(path, format, len, chunk_rows, DM_STATUS_OK, "", &ds);

    dm_dataset neg = {0}, tr = {0}, va = {0};
    int64_t n_pos = 0;
    for (int64_t i = 0; i < ds.n; i++) n_pos += ds.label[i] == 1;
    st = dm_dataset_with_shuffled_negatives(&neg, &ds, 7);
    DM_FUZZ_CHECK(n_pos > 0 ? st == DM_STATUS_OK : st == DM_STATUS_ARG);
    if (st == DM_STATUS_OK) {
        DM_FUZZ_CHECK(neg.n == 2 * n_pos);
        check_dataset(&neg, len);
    }
    if (dm_dataset_split(&ds, 0.25, 11, &tr, &va) == DM_STATUS_OK) DM_FUZZ_CHECK(tr.n + va.n == ds.n);
    dm_dataset_free(&neg);
    dm_dataset_free(&tr);
    dm_dataset_free(&va);
    dm_dataset_free(&ds);
    return 0;
}
