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
 * the shuffled negatives and the validation split.
 */
#include "fuzz_common.h"

#include "deepmotif.h"

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    uint8_t ctl = data[0];
    dm_format format = (dm_format)(((ctl >> 1) & 7) % 5);
    int32_t len = dm_fuzz_lens[ctl >> 4];
    const char *path = dm_fuzz_file_maybe_gz(data + 1, size - 1, ctl & 1);

    dm_dataset ds;
    if (dm_dataset_read(&ds, path, format, len) != DM_STATUS_OK) {
        DM_FUZZ_CHECK(ds.n == 0 && ds.seq == NULL && ds.id == NULL);   /* nothing left behind */
        DM_FUZZ_CHECK(dm_last_error()[0] != '\0');
        dm_fuzz_verbose(dm_last_error());
        return 0;
    }
    check_dataset(&ds, len);

    dm_dataset neg = {0}, tr = {0}, va = {0};
    int64_t n_pos = 0;
    for (int64_t i = 0; i < ds.n; i++) n_pos += ds.label[i] == 1;
    dm_status st = dm_dataset_with_shuffled_negatives(&neg, &ds, 7);
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
