/*
 * test_prefetch.c: dm_dataset_scan_prefetch (host/prefetch.c), the double-buffered reader thread of
 * the streaming commands, against dm_dataset_scan: the same chunks (rows, row0, codes, labels, ids,
 * counts) in the same order, gzip included; a consumer that stops (an error, or a shard's range)
 * ends the reader and returns the consumer's status; a bad line is the same one-line error, raised on
 * the calling thread. The CLI's outputs with the reader thread on and off are byte-identical
 * (DM_STREAM_PREFETCH), sharded too. tests/test_cuda_prefetch.c runs it with pinned buffers on the
 * CUDA emulator (and under its TSan build).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "dm_internal.h"
#include "testutil.h"

static char *dir;

static void setup(void) {
    dir = dm_test_tmpdir();
    cr_assert(dir);
}
static void teardown(void) {
    dm_test_rmdir(dir);
    free(dir);
}

TestSuite(prefetch, .init = setup, .fini = teardown, .timeout = 120);

/* n rows of labelled FASTA (lengths 20..40, some N), gzip when gz; returns the path (static). */
static const char *write_fasta(const char *name, int n, bool gz, int bad_row) {
    static char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    gzFile f = gzopen(path, gz ? "wb" : "wbT");
    cr_assert(f);
    uint64_t x = 77;
    for (int i = 0; i < n; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        int len = 20 + (int)((x >> 40) % 21);
        gzprintf(f, ">%d\n", (int)((x >> 20) & 1));   /* DeMo's labelled FASTA */
        for (int p = 0; p < len; p++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            gzputc(f, i + 1 == bad_row && p == 3 ? '!' : (x >> 33) % 89 == 0 ? 'N' : "ACGT"[(x >> 33) & 3]);
        }
        gzputc(f, '\n');
    }
    gzclose(f);
    return path;
}

/* A consumer that records a digest of everything it is handed, and stops at chunk stop_at (0: never)
 * with stop_status. */
typedef struct record {
    uint64_t hash;
    int chunks;
    int64_t rows, next_row0;
    int stop_at;
    dm_status stop_status;
    bool order_ok;
} record;

static uint64_t mix(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
}

static dm_status consume(void *ctx, const dm_dataset *c, int64_t row0) {
    record *r = ctx;
    r->chunks++;
    r->order_ok &= row0 == r->next_row0;
    r->next_row0 = row0 + c->n;
    r->rows += c->n;
    r->hash = mix(r->hash, &row0, sizeof row0);
    r->hash = mix(r->hash, c->seq, (size_t)c->n * (size_t)c->len);
    r->hash = mix(r->hash, c->seq_len, sizeof(int32_t) * (size_t)c->n);
    r->hash = mix(r->hash, c->label, (size_t)c->n);
    r->hash = mix(r->hash, c->group, sizeof(int64_t) * (size_t)c->n);
    for (int64_t i = 0; i < c->n; i++) r->hash = mix(r->hash, c->id[i], strlen(c->id[i]) + 1);
    int64_t counts[3] = {c->n_padded, c->n_truncated, c->n_ambiguous};
    r->hash = mix(r->hash, counts, sizeof counts);
    if (r->stop_at && r->chunks == r->stop_at) return dm_error(r->stop_status, "consumer stops at chunk %d", r->chunks);
    return DM_STATUS_OK;
}

static void both(const char *path, int64_t chunk_rows, int stop_at, record *plain, record *pre, dm_status *st_plain,
                 dm_status *st_pre, char err_plain[256], char err_pre[256], dm_dataset *tot_plain, dm_dataset *tot_pre) {
    *plain = (record){.hash = 1469598103934665603ULL, .stop_at = stop_at, .stop_status = DM_STATUS_IO, .order_ok = true};
    *pre = *plain;
    *st_plain = dm_dataset_scan(path, DM_FORMAT_AUTO, 30, chunk_rows, consume, plain, tot_plain);
    snprintf(err_plain, 256, "%s", *st_plain ? dm_last_error() : "");
    *st_pre = dm_dataset_scan_prefetch(path, DM_FORMAT_AUTO, 30, chunk_rows, consume, pre, tot_pre, NULL);
    snprintf(err_pre, 256, "%s", *st_pre ? dm_last_error() : "");
}

Test(prefetch, the_same_chunks_in_the_same_order_as_the_plain_scan) {
    static const int64_t chunk_rows[] = {1, 7, 64, 1000, 5000};
    for (int gz = 0; gz < 2; gz++) {
        const char *path = write_fasta(gz ? "a.fa.gz" : "a.fa", 3001, gz, 0);
        for (int k = 0; k < 5; k++) {
            record a, b;
            dm_status sa, sb;
            char ea[256], eb[256];
            dm_dataset ta = {0}, tb = {0};
            both(path, chunk_rows[k], 0, &a, &b, &sa, &sb, ea, eb, &ta, &tb);
            cr_assert_eq(sa, DM_STATUS_OK, "%s", ea);
            cr_assert_eq(sb, DM_STATUS_OK, "%s", eb);
            cr_expect(a.order_ok && b.order_ok);
            cr_expect_eq(a.rows, 3001);
            cr_expect_eq(b.rows, 3001);
            cr_expect_eq(a.chunks, b.chunks, "chunk %lld: %d vs %d chunks", (long long)chunk_rows[k], a.chunks, b.chunks);
            cr_expect_eq(a.hash, b.hash, "chunk rows %lld, gzip %d: the chunks differ", (long long)chunk_rows[k], gz);
            cr_expect(ta.n == tb.n && ta.n_padded == tb.n_padded && ta.n_truncated == tb.n_truncated &&
                      ta.n_ambiguous == tb.n_ambiguous && ta.format == tb.format);
        }
    }
}

Test(prefetch, a_consumer_that_stops_ends_the_reader_with_its_status) {
    const char *path = write_fasta("s.fa", 2000, false, 0);
    for (int stop = 1; stop <= 4; stop++) {
        record a, b;
        dm_status sa, sb;
        char ea[256], eb[256];
        dm_dataset ta = {0}, tb = {0};
        both(path, 100, stop, &a, &b, &sa, &sb, ea, eb, &ta, &tb);
        cr_expect_eq(sa, DM_STATUS_IO);
        cr_expect_eq(sb, DM_STATUS_IO);
        cr_expect_str_eq(eb, ea);
        cr_expect_eq(b.chunks, stop, "the consumer was called %d times after stopping at %d", b.chunks, stop);
        cr_expect_eq(a.hash, b.hash);
    }
}

Test(prefetch, a_bad_line_is_the_plain_scans_error_after_the_chunks_before_it) {
    const char *path = write_fasta("b.fa.gz", 1500, true, 1234);
    record a, b;
    dm_status sa, sb;
    char ea[256], eb[256];
    dm_dataset ta = {0}, tb = {0};
    both(path, 100, 0, &a, &b, &sa, &sb, ea, eb, &ta, &tb);
    cr_expect_eq(sa, DM_STATUS_FORMAT, "%s", ea);
    cr_expect_eq(sb, sa);
    cr_expect_str_eq(eb, ea);
    cr_expect(strstr(eb, "b.fa.gz:2468:"), "%s", eb);   /* row 1234 is on line 2468 */
    cr_expect_eq(b.chunks, 12, "%d chunks before the bad row 1234", b.chunks);
    cr_expect_eq(a.hash, b.hash);
}

/* The commands with the reader thread on and off: the same bytes, sharded or not. */
Test(prefetch, cli_outputs_are_the_same_with_and_without_the_reader_thread) {
    write_fasta("c.fa", 1200, false, 0);
    char model[700];
    snprintf(model, sizeof model, "%s/m.dm", dir);
    cr_assert_eq(dm_test_system("cd %s && %s train --arch cnn --len 30 --train c.fa --epochs 1 --batch 64 --out m.dm "
                                "--device cpu --quiet > /dev/null 2>&1", dir, DM_TEST_CLI), 0);
    for (int on = 0; on < 2; on++) {
        int rc = dm_test_system("cd %s && export DM_STREAM_PREFETCH=%d OPENBLAS_NUM_THREADS=1 && "
                                "%s predict --model m.dm --data c.fa --out p%d.tsv --device cpu 2> err && "
                                "%s saliency --model m.dm --data c.fa --out s%d --batch 100 --device cpu --quiet 2>> err && "
                                "%s predict --model m.dm --data c.fa --out q%d.tsv --device cpu --shard 1/3 2>> err && "
                                "%s predict --model m.dm --data c.fa --out q%d.tsv --device cpu --shard 3/3 2>> err && "
                                "%s predict --model m.dm --data c.fa --out q%d.tsv --device cpu --shard 2/3 2>> err",
                                dir, on, DM_TEST_CLI, on, DM_TEST_CLI, on, DM_TEST_CLI, on, DM_TEST_CLI, on, DM_TEST_CLI, on);
        cr_assert_eq(rc, 0, "DM_STREAM_PREFETCH=%d: %s", on, dm_test_slurp_in(dir, "err"));
    }
    static const char *const pairs[][2] = {{"p0.tsv", "p1.tsv"}, {"s0.npy", "s1.npy"}, {"s0.tsv", "s1.tsv"},
                                           {"s0.npz", "s1.npz"}, {"q0.tsv", "q1.tsv"}, {"p0.tsv", "q1.tsv"}};
    for (int k = 0; k < 6; k++)
        cr_expect_eq(dm_test_system("cmp -s '%s/%s' '%s/%s'", dir, pairs[k][0], dir, pairs[k][1]), 0, "%s and %s differ",
                     pairs[k][0], pairs[k][1]);
}
