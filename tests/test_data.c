/*
 * test_data.c: the data layer (host/data.c): readers for every format (FORMATS.md §1–3), their
 * error messages, padding and truncation, the real DeepBind files, shuffled negatives, the
 * group-wise validation split and labelled-FASTA output.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "deepmotif.h"
#include "dm_internal.h"
#include "dm_rng.h"
#include "testutil.h"

/* ---- helpers --------------------------------------------------------------------------------- */

/* Writes `text` to dir/name, gzip-compressed when gz; returns the path (malloc'd). */
static char *put_file(const char *dir, const char *name, const char *text, int gz) {
    char *path = malloc(strlen(dir) + strlen(name) + 2);
    cr_assert(path);
    sprintf(path, "%s/%s", dir, name);
    if (gz) {
        gzFile f = gzopen(path, "wb");
        cr_assert(f);
        if (*text) cr_assert_eq(gzwrite(f, text, (unsigned)strlen(text)), (int)strlen(text));
        cr_assert_eq(gzclose(f), Z_OK);
    } else {
        FILE *f = fopen(path, "wb");
        cr_assert(f);
        cr_assert_eq(fwrite(text, 1, strlen(text), f), strlen(text));
        cr_assert_eq(fclose(f), 0);
    }
    return path;
}

/* Row i of ds decoded back to letters (ACGTN, '.' for padding) in a static buffer. */
static const char *row_str(const dm_dataset *ds, int64_t i) {
    static char buf[512];
    cr_assert_lt(ds->len, (int32_t)sizeof buf);
    for (int32_t p = 0; p < ds->len; p++) buf[p] = "ACGTN."[ds->seq[i * ds->len + p]];
    buf[ds->len] = '\0';
    return buf;
}

/* Reads text written to a temporary file (plain or gzip) and expects success. */
static void read_text(dm_dataset *ds, const char *text, int gz, dm_format fmt, int32_t len) {
    char *dir = dm_test_tmpdir();
    char *path = put_file(dir, gz ? "in.txt.gz" : "in.txt", text, gz);
    dm_status st = dm_dataset_read(ds, path, fmt, len);
    cr_assert_eq(st, DM_STATUS_OK, "reading %s: %s", gz ? "gzip" : "plain", dm_last_error());
    free(path);
    dm_test_rmdir(dir);
    free(dir);
}

/* Reads text and expects failure `want`; the error message must contain path-relative `needle`
 * (with "@" standing for the file's path). */
static void expect_error(const char *text, dm_format fmt, dm_status want, const char *needle) {
    char *dir = dm_test_tmpdir();
    char *path = put_file(dir, "bad.txt", text, 0);
    dm_dataset ds;
    dm_status st = dm_dataset_read(&ds, path, fmt, 20);
    cr_assert_eq(st, want, "status %s, expected %s (%s)", dm_status_str(st), dm_status_str(want),
                 dm_last_error());
    cr_assert_eq(ds.n, 0, "a failed read must leave an empty data set");
    cr_assert_null(ds.seq);
    char msg[512];
    const char *at = strchr(needle, '@');
    if (at) snprintf(msg, sizeof msg, "%.*s%s%s", (int)(at - needle), needle, path, at + 1);
    else snprintf(msg, sizeof msg, "%s", needle);
    cr_assert(strstr(dm_last_error(), msg), "message '%s' lacks '%s'", dm_last_error(), msg);
    free(path);
    dm_test_rmdir(dir);
    free(dir);
}

/* ---- DeepBind -------------------------------------------------------------------------------- */

static const char deepbind_text[] =
    "FoldID\tEventID\tseq\tBound\n"
    "A\tseq_00002_peak\tACGTACGTAC\t1\n"
    "A\tseq_00004_peak\tccggttaann\t1\n"
    "A\tseq_00002_shuf\tACGTACGTAC\t0\n"
    "A\tseq_00004_shuf\tCCGGTTAANN\t0\n";

static void check_deepbind(const dm_dataset *ds) {
    cr_assert_eq(ds->format, DM_FORMAT_DEEPBIND);
    cr_assert_eq(ds->n, 4);
    cr_assert_eq(ds->len, 12);
    cr_assert_str_eq(ds->id[0], "seq_00002_peak");
    cr_assert_str_eq(ds->id[3], "seq_00004_shuf");
    cr_assert_str_eq(row_str(ds, 0), "ACGTACGTAC..");
    cr_assert_str_eq(row_str(ds, 1), "CCGGTTAANN..", "lower case must be upper-cased");
    cr_assert(ds->label[0] == 1 && ds->label[1] == 1 && ds->label[2] == 0 && ds->label[3] == 0);
    cr_assert(ds->group[0] == 2 && ds->group[2] == 2 && ds->group[1] == 4 && ds->group[3] == 4);
    cr_assert_eq(ds->seq_len[0], 10);
    cr_assert_eq(ds->n_padded, 4);
    cr_assert_eq(ds->n_truncated, 0);
    cr_assert_eq(ds->n_ambiguous, 2);
}

Test(data, deepbind_plain_gzip_and_crlf) {
    dm_dataset ds;
    read_text(&ds, deepbind_text, 0, DM_FORMAT_AUTO, 12);
    check_deepbind(&ds);
    dm_dataset_free(&ds);
    cr_assert_eq(ds.n, 0);
    cr_assert_null(ds.id);
    read_text(&ds, deepbind_text, 1, DM_FORMAT_AUTO, 12);
    check_deepbind(&ds);
    dm_dataset_free(&ds);

    /* The same rows with CRLF line endings. */
    char crlf[sizeof deepbind_text * 2];
    char *o = crlf;
    for (const char *p = deepbind_text; *p; p++) {
        if (*p == '\n') *o++ = '\r';
        *o++ = *p;
    }
    *o = '\0';
    read_text(&ds, crlf, 1, DM_FORMAT_AUTO, 12);
    check_deepbind(&ds);
    dm_dataset_free(&ds);
}

Test(data, deepbind_columns_located_by_name) {
    dm_dataset ds;
    read_text(&ds,
              "seq\tBound\tExtra\tEventID\n"
              "GGGG\t0\tx\tseq_00007_shuf\n"
              "TTTT\t1\ty\tseq_00007_peak\n",
              0, DM_FORMAT_AUTO, 4);
    cr_assert_eq(ds.format, DM_FORMAT_DEEPBIND);
    cr_assert_eq(ds.n, 2);
    cr_assert_str_eq(ds.id[0], "seq_00007_shuf");
    cr_assert_str_eq(row_str(&ds, 0), "GGGG");
    cr_assert_eq(ds.label[0], 0);
    cr_assert_eq(ds.label[1], 1);
    cr_assert_eq(ds.group[0], ds.group[1]);
    cr_assert_eq(ds.n_padded, 0);
    dm_dataset_free(&ds);
}

Test(data, deepbind_unranked_ids_use_row_groups) {
    dm_dataset ds;
    read_text(&ds,
              "FoldID\tEventID\tseq\tBound\n"
              "A\tseq_00003_peak\tACGT\t1\n"
              "A\tpeak_three\tACGT\t1\n"
              "A\tseq_00003_shuf\tACGT\t0\n",
              0, DM_FORMAT_AUTO, 4);
    for (int i = 0; i < 3; i++) cr_assert_eq(ds.group[i], i);
    dm_dataset_free(&ds);
}

Test(data, deepbind_errors_name_file_and_line) {
    expect_error("FoldID\tEventID\tseq\tBound\n"
                 "A\tseq_00001_peak\tACGT\t1\n"
                 "A\tseq_00002_peak\tACGT\t2\n",
                 DM_FORMAT_AUTO, DM_STATUS_FORMAT, "@:3: Bound must be 0 or 1, found '2'");
    expect_error("FoldID\tEventID\tseq\tBound\nA\tseq_00001_peak\tACGT\n", DM_FORMAT_AUTO,
                 DM_STATUS_FORMAT, "@:2: expected 4 tab-separated columns, found 3");
    expect_error("FoldID\tEventID\tseq\tBound\nA\tseq_00001_peak\tAC-GT\t1\n", DM_FORMAT_AUTO,
                 DM_STATUS_FORMAT, "@:2: invalid base '-' in sequence");
    expect_error("FoldID\tEventID\tseq\tBound\n\n", DM_FORMAT_AUTO, DM_STATUS_FORMAT,
                 "@: no sequences");
    expect_error("FoldID\tEventID\tseq\tBound\nA\tseq_00001_peak\t\t1\n", DM_FORMAT_AUTO,
                 DM_STATUS_FORMAT, "@:2: empty sequence");
    expect_error(">1\nACGT\n", DM_FORMAT_DEEPBIND, DM_STATUS_FORMAT, "@:1: DeepBind header");
}

/* ---- labelled FASTA -------------------------------------------------------------------------- */

Test(data, labelled_fasta_headers_multiline_and_ids) {
    dm_dataset ds;
    read_text(&ds,
              ">1\n"
              "ACGT\n"
              "acgt\n"
              "\n"
              "> 1\n"
              "GGGGG\n"
              ">0 \r\n"
              "TTRYN\n"
              ">  0\n"
              "CC\n",
              1, DM_FORMAT_AUTO, 8);
    cr_assert_eq(ds.format, DM_FORMAT_LABELLED_FASTA);
    cr_assert_eq(ds.n, 4);
    cr_assert(ds.label[0] == 1 && ds.label[1] == 1 && ds.label[2] == 0 && ds.label[3] == 0);
    cr_assert_str_eq(row_str(&ds, 0), "ACGTACGT", "multi-line sequences are joined");
    cr_assert_str_eq(row_str(&ds, 1), "GGGGG...");
    cr_assert_str_eq(row_str(&ds, 2), "TTNNN...", "IUPAC codes become N (code 4)");
    cr_assert_eq(ds.seq[2 * 8 + 2], DM_BASE_N);
    cr_assert_eq(ds.seq[2 * 8 + 5], DM_BASE_PAD);
    cr_assert_str_eq(ds.id[0], "in.txt.gz:1");
    cr_assert_str_eq(ds.id[1], "in.txt.gz:5");
    cr_assert_str_eq(ds.id[3], "in.txt.gz:9");
    cr_assert_eq(ds.seq_len[3], 2);
    cr_assert_eq(ds.n_padded, 3);
    cr_assert_eq(ds.n_ambiguous, 1);
    dm_dataset_free(&ds);
}

Test(data, labelled_fasta_bad_label_names_file_and_line) {
    expect_error(">1\nACGT\n>0\nACGT\n>pos\nACGT\n", DM_FORMAT_AUTO, DM_STATUS_FORMAT,
                 "@:5: labelled FASTA header must be '>1' or '>0', found '>pos'");
    expect_error(">1\nACGT\n>10\nACGT\n", DM_FORMAT_AUTO, DM_STATUS_FORMAT, "@:3:");
    expect_error("ACGT\n>1\n", DM_FORMAT_LABELLED_FASTA, DM_STATUS_FORMAT, "@:1:");
    expect_error(">1\n>0\nACGT\n", DM_FORMAT_AUTO, DM_STATUS_FORMAT, "@:1: empty sequence");
    expect_error(">1\nACGT\n>0\n", DM_FORMAT_AUTO, DM_STATUS_FORMAT, "@:3: empty sequence");
}

Test(data, labelled_fasta_pairs_a_shuffle_with_its_positive) {
    /* Row 1 is a dinucleotide shuffle of row 0; row 3 is not one of row 2. */
    dm_dataset ds;
    read_text(&ds, ">1\nACGTTGCAAC\n>0\nACAACGTTGC\n>1\nAAAACCCC\n>0\nAAACACCC\n>0\nAAAACCCC\n", 0,
              DM_FORMAT_AUTO, 10);
    cr_assert_eq(ds.group[0], 0);
    cr_assert_eq(ds.group[1], 0, "a shuffle right after its positive joins its group");
    cr_assert_eq(ds.group[2], 2);
    cr_assert_eq(ds.seq_len[2], 8);
    cr_assert_eq(ds.group[3], 3, "a negative with other dinucleotides stays alone");
    cr_assert_eq(ds.group[4], 4, "only the row right after a positive can pair");
    dm_dataset_free(&ds);
}

/* ---- plain FASTA and TSV --------------------------------------------------------------------- */

Test(data, plain_fasta_ids_and_unknown_labels) {
    dm_dataset ds;
    read_text(&ds,
              "\n"
              ">chr1:100-110 some description\r\n"
              "ACGTA\r\n"
              "\r\n"
              "CGTAC\r\n"
              ">second\n"
              "NNNNACGTACGTACGT\n",
              0, DM_FORMAT_AUTO, 12);
    cr_assert_eq(ds.format, DM_FORMAT_FASTA);
    cr_assert_eq(ds.n, 2);
    cr_assert_str_eq(ds.id[0], "chr1:100-110");
    cr_assert_str_eq(ds.id[1], "second");
    cr_assert_eq(ds.label[0], DM_LABEL_UNKNOWN);
    cr_assert_eq(ds.label[1], DM_LABEL_UNKNOWN);
    cr_assert_str_eq(row_str(&ds, 0), "ACGTACGTAC..");
    cr_assert_str_eq(row_str(&ds, 1), "NNNNACGTACGT", "long sequences keep their first len bases");
    cr_assert_eq(ds.seq_len[1], 12);
    cr_assert_eq(ds.n_padded, 1);
    cr_assert_eq(ds.n_truncated, 1);
    cr_assert_eq(ds.n_ambiguous, 1);
    cr_assert(ds.group[0] != ds.group[1]);
    dm_dataset_free(&ds);

    /* Forced plain FASTA: ">1" headers are ids, not labels. */
    read_text(&ds, ">1\nACGT\n", 0, DM_FORMAT_FASTA, 4);
    cr_assert_eq(ds.label[0], DM_LABEL_UNKNOWN);
    cr_assert_str_eq(ds.id[0], "1");
    dm_dataset_free(&ds);
}

Test(data, tsv_with_and_without_header) {
    dm_dataset ds;
    read_text(&ds, "ACGT\t1\nTTTTT\t0\n\nGG\t1", 1, DM_FORMAT_AUTO, 4);
    cr_assert_eq(ds.format, DM_FORMAT_TSV);
    cr_assert_eq(ds.n, 3, "a last line without a newline still counts");
    cr_assert_str_eq(row_str(&ds, 1), "TTTT");
    cr_assert_str_eq(row_str(&ds, 2), "GG..");
    cr_assert(ds.label[0] == 1 && ds.label[1] == 0 && ds.label[2] == 1);
    cr_assert_str_eq(ds.id[2], "in.txt.gz:4");
    cr_assert_eq(ds.n_truncated, 1);
    dm_dataset_free(&ds);

    read_text(&ds, "sequence\tlabel\r\nACGT\t0\r\n", 0, DM_FORMAT_AUTO, 4);
    cr_assert_eq(ds.n, 1, "a header on line 1 is skipped");
    cr_assert_eq(ds.label[0], 0);
    dm_dataset_free(&ds);

    expect_error("ACGT\t1\nsequence\tlabel\n", DM_FORMAT_AUTO, DM_STATUS_FORMAT,
                 "@:2: label must be 0 or 1, found 'label'");
    expect_error("ACGT\t1\nACGT\n", DM_FORMAT_AUTO, DM_STATUS_FORMAT,
                 "@:2: expected 2 tab-separated columns");
}

/* ---- bases, padding, errors ------------------------------------------------------------------ */

Test(data, every_base_code) {
    dm_dataset ds;
    read_text(&ds, ">1\nACGTacgtNRYSWKMBDHVnrysw\n", 0, DM_FORMAT_AUTO, 30);
    const uint8_t want[24] = {0, 1, 2, 3, 0, 1, 2, 3, 4, 4, 4, 4,
                              4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4};
    cr_assert(memcmp(ds.seq, want, 24) == 0);
    for (int p = 24; p < 30; p++) cr_assert_eq(ds.seq[p], DM_BASE_PAD);
    cr_assert_eq(ds.seq_len[0], 24);
    dm_dataset_free(&ds);
}

Test(data, padding_and_truncation_counts) {
    dm_dataset ds;
    read_text(&ds, "ACGTA\t1\nACGTACGTAC\t1\nACG\t0\nACGTACG\t0\nNCGTA\t1\n", 0, DM_FORMAT_AUTO, 5);
    cr_assert_eq(ds.n, 5);
    cr_assert_eq(ds.n_padded, 1);
    cr_assert_eq(ds.n_truncated, 2);
    cr_assert_eq(ds.n_ambiguous, 1);
    cr_assert_eq(ds.seq_len[1], 5);
    cr_assert_eq(ds.seq_len[2], 3);
    cr_assert_str_eq(row_str(&ds, 1), "ACGTA");
    cr_assert_str_eq(row_str(&ds, 2), "ACG..");
    dm_dataset_free(&ds);
    /* An invalid byte beyond len is still an error. */
    expect_error("ACGTACGTACGTACGTACGTACGT*\t1\n", DM_FORMAT_AUTO, DM_STATUS_FORMAT,
                 "@:1: invalid base '*' in sequence");
}

Test(data, invalid_base_reports_exact_line) {
    expect_error(">1\nACGT\nACGT\n\n>0\nACGT\nAC1T\n", DM_FORMAT_AUTO, DM_STATUS_FORMAT,
                 "@:7: invalid base '1' in sequence");
    expect_error(">a\nACGT\nAC GT\n", DM_FORMAT_AUTO, DM_STATUS_FORMAT,
                 "@:3: invalid base ' ' in sequence");
    expect_error(">a\nACGT\nACUT\n", DM_FORMAT_AUTO, DM_STATUS_FORMAT,
                 "@:3: invalid base 'U' in sequence");
    expect_error("AC\x01T\t1\n", DM_FORMAT_AUTO, DM_STATUS_FORMAT,
                 "@:1: invalid base '\\x01' in sequence");
}

Test(data, missing_empty_and_truncated_files) {
    char *dir = dm_test_tmpdir();
    char path[4096];
    dm_dataset ds;
    snprintf(path, sizeof path, "%s/nope.seq.gz", dir);
    cr_assert_eq(dm_dataset_read(&ds, path, DM_FORMAT_AUTO, 101), DM_STATUS_IO);
    char want[4200];
    snprintf(want, sizeof want, "%s: No such file or directory", path);
    cr_assert_str_eq(dm_last_error(), want);

    expect_error("", DM_FORMAT_AUTO, DM_STATUS_FORMAT, "@: the file is empty");
    expect_error("\n\r\n\n", DM_FORMAT_AUTO, DM_STATUS_FORMAT, "@: no sequences");

    /* An empty gzip file: no sequences either. */
    char *gz = put_file(dir, "empty.gz", "", 1);
    cr_assert_eq(dm_dataset_read(&ds, gz, DM_FORMAT_AUTO, 101), DM_STATUS_FORMAT);
    free(gz);

    /* A gzip file cut in half must fail, not yield the rows read so far. */
    size_t cap = 1 << 20, m = 0;
    char *text = malloc(cap);
    cr_assert(text);
    m += (size_t)sprintf(text, "FoldID\tEventID\tseq\tBound\n");
    dm_rng r;
    dm_rng_init(&r, 5, 200, 0);
    for (int i = 0; i < 3000; i++) {
        m += (size_t)sprintf(text + m, "A\tseq_%05d_peak\t", i + 1);
        for (int p = 0; p < 101; p++) text[m++] = "ACGT"[dm_rng_below(&r, 4)];
        m += (size_t)sprintf(text + m, "\t1\n");
    }
    text[m] = '\0';
    gz = put_file(dir, "cut.seq.gz", text, 1);
    cr_assert_eq(dm_dataset_read(&ds, gz, DM_FORMAT_AUTO, 101), DM_STATUS_OK, "%s",
                 dm_last_error());
    cr_assert_eq(ds.n, 3000);
    dm_dataset_free(&ds);
    struct stat st;
    cr_assert_eq(stat(gz, &st), 0);
    cr_assert_eq(truncate(gz, st.st_size / 2), 0);
    dm_status s = dm_dataset_read(&ds, gz, DM_FORMAT_AUTO, 101);
    cr_assert(s == DM_STATUS_IO || s == DM_STATUS_FORMAT, "truncated gzip read as %s",
              dm_status_str(s));
    cr_assert(strstr(dm_last_error(), gz), "message '%s' must name the file", dm_last_error());
    cr_assert_eq(ds.n, 0);
    cr_log_info("truncated gzip: %s", dm_last_error());

    /* Corrupt bytes in the middle of the deflate stream. */
    FILE *f = fopen(gz, "r+b");
    cr_assert(f);
    fseek(f, st.st_size / 4, SEEK_SET);
    fwrite("\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF", 1, 8, f);
    fclose(f);
    s = dm_dataset_read(&ds, gz, DM_FORMAT_AUTO, 101);
    cr_assert(s == DM_STATUS_IO || s == DM_STATUS_FORMAT, "corrupt gzip read as %s",
              dm_status_str(s));
    free(gz);
    free(text);

    /* A directory is not a data file. */
    cr_assert_neq(dm_dataset_read(&ds, dir, DM_FORMAT_AUTO, 101), DM_STATUS_OK);
    cr_assert_eq(dm_dataset_read(&ds, path, DM_FORMAT_AUTO, 0), DM_STATUS_ARG);
    dm_test_rmdir(dir);
    free(dir);
}

Test(data, long_lines_span_read_chunks) {
    /* One FASTA record on a single 600,000-base line: longer than a read chunk. */
    size_t n = 600000;
    char *text = malloc(n + 16);
    cr_assert(text);
    strcpy(text, ">big\n");
    for (size_t i = 0; i < n; i++) text[5 + i] = "ACGT"[i % 4];
    strcpy(text + 5 + n, "\n>x\nA\n");
    dm_dataset ds;
    read_text(&ds, text, 1, DM_FORMAT_AUTO, 101);
    cr_assert_eq(ds.n, 2);
    cr_assert_eq(ds.n_truncated, 1);
    cr_assert_str_eq(ds.id[1], "x");
    dm_dataset_free(&ds);
    free(text);
}

/* ---- real data ------------------------------------------------------------------------------- */

Test(data, real_b_files_load_balanced_and_paired) {
    if (!dm_test_data_dir())
        cr_skip_test("no shared data directory (../shared/data or DM_DATA_DIR)");
    int files = 0;
    for (int f = 0; dm_test_b_files[f]; f++) {
        dm_dataset ds;
        if (!dm_test_load_b_file(f, &ds)) continue;
        cr_assert_eq(ds.format, DM_FORMAT_DEEPBIND);
        cr_assert_eq(ds.n, 1000, "%s: %lld rows", dm_test_b_files[f], (long long)ds.n);
        int pos = 0;
        for (int i = 0; i < 1000; i++) pos += ds.label[i] == 1;
        cr_assert_eq(pos, 500, "%s: %d positives", dm_test_b_files[f], pos);
        cr_assert_eq(ds.n_padded + ds.n_truncated + ds.n_ambiguous, 0);
        for (int i = 0; i < 500; i++) {
            cr_assert_eq(ds.label[i], 1);
            cr_assert_eq(ds.label[500 + i], 0);
            cr_assert_eq(ds.group[i], 2 * i + 2, "%s: rank of row %d", dm_test_b_files[f], i);
            cr_assert_eq(ds.group[500 + i], ds.group[i], "%s: pair %d split", dm_test_b_files[f], i);
        }
        dm_dataset_free(&ds);
        files++;
    }
    if (files == 0) cr_skip_test("no DeepBind _B files under %s", dm_test_data_dir());
}

Test(data, real_ac_files_load_fast) {
    const char *rest = dm_test_data_file("deepbind/REST_GM12878_NRSF_HudsonAlpha_AC.seq.gz");
    if (!rest) cr_skip_test("REST AC file not in the shared data directory");
    dm_dataset ds;
    cr_assert_eq(dm_dataset_read(&ds, rest, DM_FORMAT_AUTO, 101), DM_STATUS_OK, "%s",
                 dm_last_error());
    cr_assert_eq(ds.n, 6406);
    for (int64_t i = 0; i < ds.n; i++) cr_assert_eq(ds.label[i], 1);
    cr_assert_str_eq(ds.id[0], "seq_00001_peak");
    cr_assert_eq(ds.group[ds.n - 1], 6406 + 500, "the last AC rank is 1000/2 + 6406");
    dm_dataset_free(&ds);

    const char *foxa =
        dm_test_data_file("deepbind/FOXA1_HepG2_FOXA1_(SC-101058)_HudsonAlpha_AC.seq.gz");
    if (!foxa) cr_skip_test("FOXA1 AC file not in the shared data directory");
    double t0 = dm_now();
    cr_assert_eq(dm_dataset_read(&ds, foxa, DM_FORMAT_AUTO, 101), DM_STATUS_OK, "%s",
                 dm_last_error());
    double dt = dm_now() - t0;
    cr_log_info("FOXA1 AC: %lld sequences in %.3f s", (long long)ds.n, dt);
    cr_assert_eq(ds.n, 42614);
    cr_assert_lt(dt, 1.0, "reading 42,614 sequences took %.2f s", dt);
    dm_dataset_free(&ds);
}

/* ---- derived data sets ----------------------------------------------------------------------- */

/* Same length, first and last code, dinucleotide counts over the first m codes. */
static int same_composition(const uint8_t *a, const uint8_t *b, int m) {
    int c[36] = {0};
    for (int p = 0; p + 1 < m; p++) {
        c[a[p] * 6 + a[p + 1]]++;
        c[b[p] * 6 + b[p + 1]]--;
    }
    for (int k = 0; k < 36; k++)
        if (c[k]) return 0;
    return m == 0 || (a[0] == b[0] && a[m - 1] == b[m - 1]);
}

Test(data, shuffled_negatives_pairs) {
    dm_dataset pos, out, again;
    read_text(&pos,
              "FoldID\tEventID\tseq\tBound\n"
              "A\tseq_00001_peak\tACGTTGCAACGTAGGCTA\t1\n"
              "A\tother\tACGTACGTACGTACGTAC\t0\n"
              "A\tseq_00003_peak\tGGCATTACGNAC\t1\n",
              0, DM_FORMAT_AUTO, 16);
    cr_assert_eq(dm_dataset_with_shuffled_negatives(&out, &pos, 99), DM_STATUS_OK, "%s",
                 dm_last_error());
    cr_assert_eq(out.n, 4);
    cr_assert_eq(out.len, 16);
    cr_assert_str_eq(out.id[0], "seq_00001_peak");
    cr_assert_str_eq(out.id[1], "seq_00001_peak_shuf");
    cr_assert_str_eq(out.id[3], "seq_00003_peak_shuf");
    cr_assert(out.label[0] == 1 && out.label[1] == 0 && out.label[2] == 1 && out.label[3] == 0);
    cr_assert(out.group[0] == 0 && out.group[1] == 0 && out.group[2] == 2 && out.group[3] == 2,
              "group = the positive's row in the input");
    for (int j = 0; j < 4; j += 2) {
        cr_assert(memcmp(out.seq + j * 16, pos.seq + (j == 0 ? 0 : 2) * 16, 16) == 0);
        cr_assert(same_composition(out.seq + j * 16, out.seq + (j + 1) * 16, out.seq_len[j]));
        cr_assert_eq(out.seq_len[j + 1], out.seq_len[j]);
    }
    /* Padding stays where it is; the shuffle matches dm_dinuc_shuffle of (seed, input row). */
    cr_assert_str_eq(row_str(&out, 3) + 12, "....");
    uint8_t want[16];
    dm_dinuc_shuffle(want, pos.seq + 2 * 16, 12, 99, 2);
    cr_assert(memcmp(want, out.seq + 3 * 16, 12) == 0);
    cr_assert_eq(out.n_padded, 2);
    cr_assert_eq(out.n_ambiguous, 2);

    /* Deterministic in the seed; another seed changes the 18-base shuffle. */
    cr_assert_eq(dm_dataset_with_shuffled_negatives(&again, &pos, 99), DM_STATUS_OK);
    cr_assert(memcmp(again.seq, out.seq, 64) == 0);
    dm_dataset_free(&again);
    int differ = 0;
    for (uint64_t s = 100; s < 110; s++) {
        cr_assert_eq(dm_dataset_with_shuffled_negatives(&again, &pos, s), DM_STATUS_OK);
        differ += memcmp(again.seq + 16, out.seq + 16, 16) != 0;
        dm_dataset_free(&again);
    }
    cr_assert_geq(differ, 8);
    dm_dataset_free(&out);

    /* No positives: an argument error. */
    for (int64_t i = 0; i < pos.n; i++) pos.label[i] = 0;
    cr_assert_eq(dm_dataset_with_shuffled_negatives(&out, &pos, 1), DM_STATUS_ARG);
    cr_assert_eq(out.n, 0);
    dm_dataset_free(&pos);
}

/* A data set of n_pairs (positive, negative) pairs sharing groups 10, 20, ... */
static void make_pairs(dm_dataset *ds, int n_pairs) {
    char *text = malloc((size_t)n_pairs * 80 + 64);
    cr_assert(text);
    size_t m = (size_t)sprintf(text, "FoldID\tEventID\tseq\tBound\n");
    for (int i = 0; i < n_pairs; i++) {
        char last = "ACGT"[i % 4];
        m += (size_t)sprintf(text + m, "A\tseq_%05d_peak\tACGT%c\t1\n", 10 * (i + 1), last);
        m += (size_t)sprintf(text + m, "A\tseq_%05d_shuf\tTGCA%c\t0\n", 10 * (i + 1), last);
    }
    read_text(ds, text, 0, DM_FORMAT_AUTO, 6);
    free(text);
}

/* Input row of each output row, found through the unique ids; also checks order is kept. */
static void check_subset_in_order(const dm_dataset *part, const dm_dataset *ds) {
    int64_t j = 0;
    for (int64_t i = 0; i < part->n; i++) {
        while (j < ds->n && strcmp(ds->id[j], part->id[i]) != 0) j++;
        cr_assert_lt(j, ds->n, "row %s out of input order", part->id[i]);
        cr_assert(memcmp(ds->seq + j * ds->len, part->seq + i * part->len, (size_t)ds->len) == 0);
        cr_assert_eq(ds->label[j], part->label[i]);
        cr_assert_eq(ds->group[j], part->group[i]);
        cr_assert_eq(ds->seq_len[j], part->seq_len[i]);
    }
}

Test(data, split_groupwise_deterministic_sized) {
    dm_dataset ds, tr, va, tr2, va2;
    make_pairs(&ds, 200);
    cr_assert_eq(dm_dataset_split(&ds, 0.1, 7, &tr, &va), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(va.n, 40, "round(0.1 * 200 groups) = 20 pairs");
    cr_assert_eq(tr.n + va.n, ds.n);
    check_subset_in_order(&tr, &ds);
    check_subset_in_order(&va, &ds);
    /* No group on both sides. */
    for (int64_t i = 0; i < va.n; i++)
        for (int64_t j = 0; j < tr.n; j++) cr_assert_neq(va.group[i], tr.group[j]);

    /* Same seed, same split; another seed, another split. */
    cr_assert_eq(dm_dataset_split(&ds, 0.1, 7, &tr2, &va2), DM_STATUS_OK);
    cr_assert_eq(va2.n, va.n);
    for (int64_t i = 0; i < va.n; i++) cr_assert_str_eq(va2.id[i], va.id[i]);
    dm_dataset_free(&tr2);
    dm_dataset_free(&va2);
    cr_assert_eq(dm_dataset_split(&ds, 0.1, 8, &tr2, &va2), DM_STATUS_OK);
    int same = va2.n == va.n;
    for (int64_t i = 0; same && i < va.n; i++) same = strcmp(va2.id[i], va.id[i]) == 0;
    cr_assert(!same, "seeds 7 and 8 chose the same validation pairs");
    dm_dataset_free(&tr2);
    dm_dataset_free(&va2);
    dm_dataset_free(&tr);
    dm_dataset_free(&va);

    /* frac 0: empty validation, a full copy for training. */
    cr_assert_eq(dm_dataset_split(&ds, 0.0, 7, &tr, &va), DM_STATUS_OK);
    cr_assert_eq(va.n, 0);
    cr_assert_eq(tr.n, ds.n);
    cr_assert_eq(tr.len, ds.len);
    cr_assert(memcmp(tr.seq, ds.seq, (size_t)(ds.n * ds.len)) == 0);
    cr_assert_neq(tr.seq, ds.seq, "the copy must not share memory");
    check_subset_in_order(&tr, &ds);
    dm_dataset_free(&tr);
    dm_dataset_free(&va);

    /* A tiny fraction still validates one group; a fraction near 1 leaves one for training. */
    cr_assert_eq(dm_dataset_split(&ds, 1e-6, 7, &tr, &va), DM_STATUS_OK);
    cr_assert_eq(va.n, 2);
    dm_dataset_free(&tr);
    dm_dataset_free(&va);
    cr_assert_eq(dm_dataset_split(&ds, 0.999999, 7, &tr, &va), DM_STATUS_OK);
    cr_assert_eq(tr.n, 2);
    dm_dataset_free(&tr);
    dm_dataset_free(&va);

    cr_assert_eq(dm_dataset_split(&ds, 1.5, 7, &tr, &va), DM_STATUS_ARG);
    cr_assert_eq(dm_dataset_split(&ds, -0.1, 7, &tr, &va), DM_STATUS_ARG);
    dm_dataset_free(&ds);
}

Test(data, split_keeps_real_pairs_together) {
    const char *path = dm_test_data_file("deepbind/MYC_H1-hESC_c-Myc_Stanford_AC.seq.gz");
    if (!path) cr_skip_test("MYC AC file not in the shared data directory");
    dm_dataset pos, pairs, tr, va;
    cr_assert_eq(dm_dataset_read(&pos, path, DM_FORMAT_AUTO, 101), DM_STATUS_OK, "%s",
                 dm_last_error());
    cr_assert_eq(dm_dataset_with_shuffled_negatives(&pairs, &pos, 1), DM_STATUS_OK);
    cr_assert_eq(pairs.n, 2 * pos.n);
    cr_assert_eq(dm_dataset_split(&pairs, 0.1, 1, &tr, &va), DM_STATUS_OK);
    cr_assert_eq(va.n, 2 * llround(0.1 * (double)pos.n));
    /* Both outputs are whole pairs in input order: positive, then its shuffle. */
    for (int64_t i = 0; i < va.n; i += 2) {
        cr_assert_eq(va.group[i], va.group[i + 1]);
        cr_assert(va.label[i] == 1 && va.label[i + 1] == 0);
        cr_assert(same_composition(va.seq + i * 101, va.seq + (i + 1) * 101, 101));
    }
    for (int64_t i = 0; i < tr.n; i += 2) cr_assert_eq(tr.group[i], tr.group[i + 1]);
    dm_dataset_free(&tr);
    dm_dataset_free(&va);
    dm_dataset_free(&pairs);
    dm_dataset_free(&pos);
}

/* ---- labelled FASTA output ------------------------------------------------------------------- */

Test(data, write_fasta_round_trip) {
    dm_dataset ds, back;
    read_text(&ds,
              "FoldID\tEventID\tseq\tBound\n"
              "A\tseq_00001_peak\tacgtn\t1\n"
              "A\tseq_00001_shuf\tACGTACGTAC\t0\n",
              0, DM_FORMAT_AUTO, 8);
    char *dir = dm_test_tmpdir();
    char path[4096];
    snprintf(path, sizeof path, "%s/out.fa", dir);
    cr_assert_eq(dm_dataset_write_fasta(&ds, path), DM_STATUS_OK, "%s", dm_last_error());

    /* Exactly ">1", one upper-case line, padding dropped; truncated rows keep len bases. */
    FILE *f = fopen(path, "rb");
    cr_assert(f);
    char buf[128];
    size_t m = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[m] = '\0';
    cr_assert_str_eq(buf, ">1\nACGTN\n>0\nACGTACGT\n");

    cr_assert_eq(dm_dataset_read(&back, path, DM_FORMAT_AUTO, 8), DM_STATUS_OK);
    cr_assert_eq(back.format, DM_FORMAT_LABELLED_FASTA);
    cr_assert(memcmp(back.seq, ds.seq, 16) == 0);
    cr_assert(back.label[0] == 1 && back.label[1] == 0);
    dm_dataset_free(&back);

    /* An unlabelled row cannot be written, and no file is left behind. */
    snprintf(path, sizeof path, "%s/bad.fa", dir);
    ds.label[1] = DM_LABEL_UNKNOWN;
    cr_assert_eq(dm_dataset_write_fasta(&ds, path), DM_STATUS_ARG);
    struct stat st;
    cr_assert_neq(stat(path, &st), 0);
    dm_dataset_free(&ds);
    dm_test_rmdir(dir);
    free(dir);
}
