/*
 * test_genome.c: genomes and regions (host/genome.c, host/bed.c): bases fetched through faidx from a
 * small genome written here (plain and bgzip) against the test's own reading of the FASTA text and
 * against `samtools faidx` where samtools is installed; BED reading, resizing, checking and data sets;
 * every input error with its file and line.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <htslib/bgzf.h>

#include "deepmotif.h"
#include "dm_internal.h"
#include "genome.h"
#include "testutil.h"

/* ---- a small genome --------------------------------------------------------------------------- */

#define N_CHROMS 3
static const char *const chrom_names[N_CHROMS] = {"chr1", "chr2", "chrM"};
static const int64_t chrom_lens[N_CHROMS] = {1000, 537, 61};
#define WRAP 60

/* The genome's FASTA text: random bases (lower case in stretches, some N and IUPAC codes), wrapped at
 * WRAP; the same text for a given seed. malloc'd. */
static char *genome_text(uint64_t seed) {
    size_t cap = 8192;
    char *t = malloc(cap);
    cr_assert(t);
    size_t n = 0;
    uint64_t x = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    for (int c = 0; c < N_CHROMS; c++) {
        n += (size_t)snprintf(t + n, cap - n, ">%s description %d\n", chrom_names[c], c);
        for (int64_t p = 0; p < chrom_lens[c]; p++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            unsigned r = (unsigned)(x >> 33);
            char b = "ACGT"[r & 3];
            if ((r >> 2) % 50 == 0) b = "NRYKMSWBDHV"[(r >> 8) % 11];
            if ((p / 37) % 3 == 1) b = (char)(b | 0x20);   /* soft-masked stretches */
            t[n++] = b;
            if ((p + 1) % WRAP == 0 || p + 1 == chrom_lens[c]) t[n++] = '\n';
        }
    }
    t[n] = '\0';
    return t;
}

/* The test's own reading of a FASTA text: the sequence of chromosome `name`, malloc'd. */
static char *parse_chrom(const char *text, const char *name) {
    size_t nl = strlen(name);
    const char *p = text;
    while ((p = strchr(p, '>'))) {
        if (!strncmp(p + 1, name, nl) && (p[1 + nl] == ' ' || p[1 + nl] == '\n')) break;
        p++;
    }
    cr_assert(p, "no %s in the text", name);
    p = strchr(p, '\n') + 1;
    char *s = malloc(strlen(p) + 1);
    size_t n = 0;
    for (; *p && *p != '>'; p++)
        if (*p != '\n') s[n++] = *p;
    s[n] = '\0';
    return s;
}

/* Letters → codes as the library promises: ACGT either case, anything else (N, IUPAC) N. */
static uint8_t letter_code(char c) {
    switch (c) {
    case 'A': case 'a': return DM_BASE_A;
    case 'C': case 'c': return DM_BASE_C;
    case 'G': case 'g': return DM_BASE_G;
    case 'T': case 't': return DM_BASE_T;
    default: return DM_BASE_N;
    }
}

/* The expected codes of s[start, end) on `strand` (reverse complement by the test's own rule). */
static void expect_codes(const char *s, int64_t start, int64_t end, char strand, uint8_t *out) {
    static const uint8_t comp[5] = {DM_BASE_T, DM_BASE_G, DM_BASE_C, DM_BASE_A, DM_BASE_N};
    int64_t n = end - start;
    for (int64_t i = 0; i < n; i++)
        out[i] = strand == '-' ? comp[letter_code(s[end - 1 - i])] : letter_code(s[start + i]);
}

static char *path_in(const char *dir, const char *name) {
    char *p = malloc(strlen(dir) + strlen(name) + 2);
    sprintf(p, "%s/%s", dir, name);
    return p;
}

static char *put_text(const char *dir, const char *name, const char *text) {
    char *path = path_in(dir, name);
    FILE *f = fopen(path, "wb");
    cr_assert(f);
    cr_assert_eq(fwrite(text, 1, strlen(text), f), strlen(text));
    cr_assert_eq(fclose(f), 0);
    return path;
}

static char *put_gzip(const char *dir, const char *name, const char *text) {
    char *path = path_in(dir, name);
    gzFile f = gzopen(path, "wb");
    cr_assert(f);
    cr_assert_eq(gzwrite(f, text, (unsigned)strlen(text)), (int)strlen(text));
    cr_assert_eq(gzclose(f), Z_OK);
    return path;
}

/* A bgzip file through htslib's BGZF writer. */
static char *put_bgzip(const char *dir, const char *name, const char *text) {
    char *path = path_in(dir, name);
    BGZF *f = bgzf_open(path, "w");
    cr_assert(f);
    cr_assert_eq(bgzf_write(f, text, strlen(text)), (ssize_t)strlen(text));
    cr_assert_eq(bgzf_close(f), 0);
    return path;
}

static bool file_exists(const char *path) { return access(path, F_OK) == 0; }

/* Fetches many intervals (every chromosome's whole length, its ends, random ones, both strands) and
 * compares them with the test's reading of the text. */
static void check_against_text(dm_genome *g, const char *text) {
    cr_assert_eq(dm_genome_n_chroms(g), N_CHROMS);
    uint8_t got[1100], want[1100];
    uint64_t x = 99;
    for (int c = 0; c < N_CHROMS; c++) {
        cr_assert_str_eq(dm_genome_chrom_name(g, c), chrom_names[c]);
        cr_assert_eq(dm_genome_chrom_len(g, c), chrom_lens[c]);
        cr_assert_eq(dm_genome_chrom_index(g, chrom_names[c]), c);
        char *s = parse_chrom(text, chrom_names[c]);
        cr_assert_eq((int64_t)strlen(s), chrom_lens[c]);
        for (int k = 0; k < 40; k++) {
            int64_t a, b;
            if (k == 0) a = 0, b = chrom_lens[c];
            else if (k == 1) a = 0, b = 1;
            else if (k == 2) a = chrom_lens[c] - 1, b = chrom_lens[c];
            else {
                x = x * 6364136223846793005ULL + 1442695040888963407ULL;
                a = (int64_t)((x >> 33) % (uint64_t)chrom_lens[c]);
                x = x * 6364136223846793005ULL + 1442695040888963407ULL;
                b = a + 1 + (int64_t)((x >> 33) % (uint64_t)(chrom_lens[c] - a));
            }
            for (int sd = 0; sd < 3; sd++) {
                char strand = "+-."[sd];
                cr_assert_eq(dm_genome_fetch(g, c, a, b, strand, got), DM_STATUS_OK, "%s", dm_last_error());
                expect_codes(s, a, b, strand == '-' ? '-' : '+', want);
                cr_assert_eq(memcmp(got, want, (size_t)(b - a)), 0, "%s:%lld-%lld(%c) differs", chrom_names[c],
                             (long long)a, (long long)b, strand);
            }
        }
        free(s);
    }
    cr_assert_eq(dm_genome_chrom_index(g, "chr3"), -1);
    cr_assert_eq(dm_genome_chrom_index(g, "chr"), -1);
    /* An interval outside a chromosome is the caller's error. */
    cr_assert_eq(dm_genome_fetch(g, 0, 990, 1001, '+', got), DM_STATUS_ARG);
    cr_assert_eq(dm_genome_fetch(g, 0, -1, 10, '+', got), DM_STATUS_ARG);
    cr_assert_eq(dm_genome_fetch(g, 3, 0, 10, '+', got), DM_STATUS_ARG);
}

Test(genome, plain_fasta_builds_index_and_matches_text) {
    char *dir = dm_test_tmpdir();
    char *text = genome_text(1);
    char *fa = put_text(dir, "g.fa", text);
    char *fai = path_in(dir, "g.fa.fai");
    cr_assert(!file_exists(fai));
    dm_genome *g;
    cr_assert_eq(dm_genome_open(&g, fa), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert(file_exists(fai), "the .fai is built beside the FASTA");
    cr_assert_str_eq(dm_genome_path(g), fa);
    check_against_text(g, text);
    dm_genome_close(g);
    /* Opened again: the index is read, not rebuilt. */
    struct stat s1, s2;
    cr_assert_eq(stat(fai, &s1), 0);
    cr_assert_eq(dm_genome_open(&g, fa), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(stat(fai, &s2), 0);
    cr_assert_eq(s1.st_mtim.tv_nsec, s2.st_mtim.tv_nsec);
    check_against_text(g, text);
    dm_genome_close(g);
    dm_genome_close(NULL);
    free(fai), free(fa), free(text);
    dm_test_rmdir(dir);
    free(dir);
}

Test(genome, bgzip_fasta_builds_fai_and_gzi) {
    char *dir = dm_test_tmpdir();
    char *text = genome_text(2);
    char *fa = put_bgzip(dir, "g.fa.gz", text);
    char *fai = path_in(dir, "g.fa.gz.fai"), *gzi = path_in(dir, "g.fa.gz.gzi");
    dm_genome *g;
    cr_assert_eq(dm_genome_open(&g, fa), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert(file_exists(fai) && file_exists(gzi), "both indices are built");
    check_against_text(g, text);
    dm_genome_close(g);
    /* Without its .gzi (the .fai kept), the index is built again. */
    cr_assert_eq(unlink(gzi), 0);
    cr_assert_eq(dm_genome_open(&g, fa), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert(file_exists(gzi));
    check_against_text(g, text);
    dm_genome_close(g);
    free(fai), free(gzi), free(fa), free(text);
    dm_test_rmdir(dir);
    free(dir);
}

Test(genome, stale_index_is_rebuilt) {
    char *dir = dm_test_tmpdir();
    char *text = genome_text(3);
    char *fa = put_text(dir, "g.fa", text);
    dm_genome *g;
    cr_assert_eq(dm_genome_open(&g, fa), DM_STATUS_OK, "%s", dm_last_error());
    dm_genome_close(g);
    /* The FASTA rewritten with other sequences (same names, other lengths) after its index. */
    char *text2 = genome_text(4);
    char *p = strstr(text2, ">chr2");
    cr_assert(p);
    p[0] = '\0';   /* chr1 only */
    struct timespec later[2] = {{0, UTIME_OMIT}, {0, 0}};
    FILE *f = fopen(fa, "wb");
    fputs(text2, f);
    fclose(f);
    /* Make sure the FASTA is newer than its index even on a coarse clock. */
    char *fai = path_in(dir, "g.fa.fai");
    struct stat st;
    cr_assert_eq(stat(fai, &st), 0);
    later[1].tv_sec = st.st_mtim.tv_sec + 2;
    cr_assert_eq(utimensat(AT_FDCWD, fa, later, 0), 0);
    cr_assert_eq(dm_genome_open(&g, fa), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(dm_genome_n_chroms(g), 1);
    uint8_t got[1000], want[1000];
    cr_assert_eq(dm_genome_fetch(g, 0, 0, 1000, '+', got), DM_STATUS_OK, "%s", dm_last_error());
    char *s = parse_chrom(text2, "chr1");
    expect_codes(s, 0, 1000, '+', want);
    cr_assert_eq(memcmp(got, want, 1000), 0);
    dm_genome_close(g);
    free(s), free(fai), free(fa), free(text), free(text2);
    dm_test_rmdir(dir);
    free(dir);
}

/* `samtools faidx` of the same regions (1-based, inclusive; -i for the reverse complement). */
Test(genome, equals_samtools_faidx) {
    if (dm_test_system("samtools --version >/dev/null 2>&1") != 0) cr_skip_test("samtools is not installed");
    char *dir = dm_test_tmpdir();
    char *text = genome_text(5);
    for (int bg = 0; bg < 2; bg++) {
        char *fa = bg ? put_bgzip(dir, "s.fa.gz", text) : put_text(dir, "s.fa", text);
        dm_genome *g;
        cr_assert_eq(dm_genome_open(&g, fa), DM_STATUS_OK, "%s", dm_last_error());
        static const struct { int c; int64_t a, b; char strand; } q[] = {
            {0, 0, 1000, '+'}, {0, 123, 456, '-'}, {1, 59, 61, '+'}, {1, 500, 537, '-'}, {2, 0, 61, '-'},
        };
        for (size_t k = 0; k < sizeof q / sizeof q[0]; k++) {
            char *out = path_in(dir, "sam.txt");
            cr_assert_eq(dm_test_system("samtools faidx %s '%s' '%s:%lld-%lld' > '%s' 2>/dev/null",
                                        q[k].strand == '-' ? "-i" : "", fa, chrom_names[q[k].c],
                                        (long long)q[k].a + 1, (long long)q[k].b, out), 0);
            const char *sam = dm_test_slurp_in(NULL, out);
            const char *body = strchr(sam, '\n');
            cr_assert(body);
            uint8_t want[1100], got[1100];
            int64_t n = 0;
            for (const char *p = body + 1; *p; p++)
                if (*p != '\n') want[n++] = letter_code(*p);
            cr_assert_eq(n, q[k].b - q[k].a);
            cr_assert_eq(dm_genome_fetch(g, q[k].c, q[k].a, q[k].b, q[k].strand, got), DM_STATUS_OK);
            cr_assert_eq(memcmp(got, want, (size_t)n), 0, "query %zu differs from samtools", k);
            free(out);
        }
        dm_genome_close(g);
        free(fa);
    }
    free(text);
    dm_test_rmdir(dir);
    free(dir);
}

/* ---- genome errors ---------------------------------------------------------------------------- */

/* Opening `path` fails with `status` and a message holding each of the NULL-ended `parts`. */
static void open_fails(const char *path, dm_status status, const char *const *parts) {
    dm_genome *g = (dm_genome *)1;
    dm_status st = dm_genome_open(&g, path);
    cr_assert_eq(st, status, "%s: status %d, message: %s", path, (int)st, dm_last_error());
    cr_assert_null(g);
    for (int k = 0; parts[k]; k++)
        cr_assert(strstr(dm_last_error(), parts[k]), "message '%s' lacks '%s'", dm_last_error(), parts[k]);
}

#define PARTS(...) ((const char *const[]){__VA_ARGS__, NULL})

Test(genome, errors_name_the_file) {
    char *dir = dm_test_tmpdir();
    char *missing = path_in(dir, "none.fa");
    open_fails(missing, DM_STATUS_IO, PARTS(missing, "No such file"));
    open_fails(dir, DM_STATUS_IO, PARTS(dir, "directory"));
    char *empty = put_text(dir, "empty.fa", "");
    open_fails(empty, DM_STATUS_FORMAT, PARTS(empty));
    char *text = genome_text(6);
    char *gz = put_gzip(dir, "g.fa.gz", text);
    open_fails(gz, DM_STATUS_FORMAT, PARTS(gz, "gzip, not bgzip"));
    char *gz_fai = path_in(dir, "g.fa.gz.fai");
    cr_assert(!file_exists(gz_fai), "no index is left of a file that cannot be indexed");
    free(gz_fai);
    /* Line 4 longer than the first line of its sequence (line 2). */
    char *ragged = put_text(dir, "ragged.fa", ">a\nACGT\nACGT\nACGTA\nAC\n>b\nAAA\n");
    open_fails(ragged, DM_STATUS_FORMAT, PARTS(ragged, ":4:", "cannot build"));
    /* Line 3 shorter but not the last. */
    char *ragged2 = put_text(dir, "ragged2.fa", ">a\nACGT\nAC\nACGT\n");
    open_fails(ragged2, DM_STATUS_FORMAT, PARTS(ragged2, ":3:"));
    char *notfa = put_text(dir, "notfa.fa", "chr1\t0\t100\n");
    open_fails(notfa, DM_STATUS_FORMAT, PARTS(notfa, "not a FASTA"));
    /* A FASTA in a folder that takes no index (not as root, who may write anywhere). */
    if (geteuid() != 0) {
        char *ro = path_in(dir, "ro");
        cr_assert_eq(mkdir(ro, 0755), 0);
        char *fa = put_text(ro, "g.fa", text);
        cr_assert_eq(chmod(ro, 0555), 0);
        open_fails(fa, DM_STATUS_IO, PARTS(fa, "cannot build", ".fai"));
        /* with an index, older than the FASTA: used as it is in a folder that takes no files */
        cr_assert_eq(chmod(ro, 0755), 0);
        char *src = path_in(dir, "src.fa");
        free(put_text(dir, "src.fa", text));
        dm_genome *g;
        cr_assert_eq(dm_genome_open(&g, src), DM_STATUS_OK, "%s", dm_last_error());
        dm_genome_close(g);
        char *fai = path_in(ro, "g.fa.fai");
        cr_assert_eq(dm_test_system("cp '%s.fai' '%s' && touch -d '1 hour ago' '%s'", src, fai, fai), 0);
        cr_assert_eq(chmod(ro, 0555), 0);
        cr_assert_eq(dm_genome_open(&g, fa), DM_STATUS_OK, "%s", dm_last_error());
        check_against_text(g, text);
        dm_genome_close(g);
        cr_assert_eq(chmod(ro, 0755), 0);
        free(src), free(fai);
        free(fa), free(ro);
    }
    free(missing), free(empty), free(text), free(gz), free(ragged), free(ragged2), free(notfa);
    dm_test_rmdir(dir);
    free(dir);
}

/* ---- BED -------------------------------------------------------------------------------------- */

static void read_bed_text(const char *text, int gz, int label_col, dm_regions *rs) {
    char *dir = dm_test_tmpdir();
    char *p = gz ? put_gzip(dir, "r.bed.gz", text) : put_text(dir, "r.bed", text);
    cr_assert_eq(dm_bed_read(p, label_col, rs), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_str_eq(rs->path, p);
    free(p);
    dm_test_rmdir(dir);
    free(dir);
}

Test(bed, reads_bed3_to_bed6) {
    static const char *text =
        "track name=peaks\n"
        "browser position chr1:1-100\n"
        "# a comment\n"
        "\n"
        "chr1\t10\t20\n"
        "chr1\t30\t45\tpeakA\n"
        "chr2\t5\t9\tpeakB\t900\n"
        "chr2\t100\t200\tpeakC\t0\t-\n"
        "chrM 1 60 spaced 5 +\r\n"
        "chr1\t50\t60\t.\t0\t.\t1.5\t2\t3\t40\n";
    for (int gz = 0; gz < 2; gz++) {
        dm_regions rs;
        read_bed_text(text, gz, 0, &rs);
        cr_assert_eq(rs.n, 6);
        const dm_region *r = rs.r;
        cr_assert_str_eq(r[0].chrom, "chr1");
        cr_assert_eq(r[0].start, 10);
        cr_assert_eq(r[0].end, 20);
        cr_assert_eq(r[0].bed_start, 10);
        cr_assert_eq(r[0].strand, '.');
        cr_assert_str_eq(r[0].name, "chr1:10-20");
        cr_assert_eq(r[0].line, 5);
        cr_assert_eq(r[0].label, DM_LABEL_UNKNOWN);
        cr_assert_str_eq(r[1].name, "peakA");
        cr_assert_eq(r[2].strand, '.');
        cr_assert_str_eq(r[3].name, "peakC");
        cr_assert_eq(r[3].strand, '-');
        cr_assert_str_eq(r[4].chrom, "chrM");
        cr_assert_str_eq(r[4].name, "spaced");
        cr_assert_eq(r[4].strand, '+');
        cr_assert_eq(r[4].end, 60);
        cr_assert_str_eq(r[5].name, "chr1:50-60");
        cr_assert_eq(r[5].line, 10);
        dm_regions_free(&rs);
        dm_regions_free(&rs);
    }
    dm_regions_free(NULL);
}

Test(bed, label_column) {
    dm_regions rs;
    read_bed_text("chr1\t0\t10\ta\t0\t+\t1\nchr1\t20\t30\tb\t0\t-\t0\n", 0, 7, &rs);
    cr_assert_eq(rs.n, 2);
    cr_assert_eq(rs.r[0].label, 1);
    cr_assert_eq(rs.r[1].label, 0);
    dm_regions_free(&rs);
    cr_assert_eq(dm_bed_read("x.bed", 2, &rs), DM_STATUS_ARG);
}

/* Reading `text` fails with a message naming the file and `line`, and holding `part`. */
static void bed_fails(const char *text, int label_col, int line, const char *part) {
    char *dir = dm_test_tmpdir();
    char *p = put_text(dir, "bad.bed", text);
    dm_regions rs;
    dm_status st = dm_bed_read(p, label_col, &rs);
    cr_assert_eq(st, DM_STATUS_FORMAT, "'%s': status %d: %s", text, (int)st, dm_last_error());
    char where[4200];
    if (line > 0) snprintf(where, sizeof where, "%s:%d: ", p, line);
    else snprintf(where, sizeof where, "%s: ", p);
    cr_assert(strstr(dm_last_error(), where), "message '%s' lacks '%s'", dm_last_error(), where);
    cr_assert(strstr(dm_last_error(), part), "message '%s' lacks '%s'", dm_last_error(), part);
    cr_assert_eq(rs.n, 0);
    cr_assert_null(rs.r);
    free(p);
    dm_test_rmdir(dir);
    free(dir);
}

Test(bed, malformed_lines) {
    bed_fails("chr1\t0\t10\nchr1\t5\n", 0, 2, "at least 3 columns");
    bed_fails("# x\nchr1 5\n", 0, 2, "found 2");
    bed_fails("chr1\tx\t10\n", 0, 1, "start must be a non-negative integer, found 'x'");
    bed_fails("chr1\t-5\t10\n", 0, 1, "found '-5'");
    bed_fails("chr1\t5\t1e3\n", 0, 1, "end must be");
    bed_fails("chr1\t0\t10\nchr1\t20\t20\n", 0, 2, "not below end");
    bed_fails("chr1\t30\t20\n", 0, 1, "not below end");
    bed_fails("chr1\t0\t10\tn\t0\t*\n", 0, 1, "strand (column 6)");
    bed_fails("chr1\t0\t10\tn\t0\t+\n", 7, 1, "no label column 7");
    bed_fails("chr1\t0\t10\tn\t0\t+\t2\n", 7, 1, "must be 0 or 1, found '2'");
    bed_fails("\t0\t10\n", 0, 1, "empty chromosome");
    bed_fails("", 0, 0, "no regions");
    bed_fails("track x\n# y\n\n", 0, 0, "no regions");
    char name[300];
    memset(name, 'a', 200);
    name[200] = 0;
    char line[400];
    snprintf(line, sizeof line, "chr1\t0\t10\t%s\n", name);
    bed_fails(line, 0, 1, "name longer");
    dm_regions rs;
    cr_assert_eq(dm_bed_read("/nonexistent/r.bed", 0, &rs), DM_STATUS_IO);
    cr_assert(strstr(dm_last_error(), "/nonexistent/r.bed"));
}

/* ---- resizing --------------------------------------------------------------------------------- */

Test(bed, resize_is_strand_aware) {
    dm_regions rs;
    read_bed_text("c\t100\t200\ta\t0\t+\nc\t100\t200\tb\t0\t-\nc\t100\t111\tc\t0\t.\nc\t100\t111\td\t0\t-\n",
                  0, 0, &rs);
    struct { dm_resize how; int64_t s[4], e[4]; } want[] = {
        /* centre: slack 90 → 45 each side; 11 bp to 20: slack -9 → floor -5 on the leading side */
        {DM_RESIZE_CENTER, {145, 145, 95, 96}, {155, 155, 115, 116}},
        {DM_RESIZE_START, {100, 190, 100, 91}, {110, 200, 120, 111}},
        {DM_RESIZE_END, {190, 100, 91, 100}, {200, 110, 111, 120}},
    };
    for (int k = 0; k < 3; k++) {
        dm_regions cp = rs;
        cp.r = malloc((size_t)rs.n * sizeof *rs.r);
        memcpy(cp.r, rs.r, (size_t)rs.n * sizeof *rs.r);
        /* 100 bp regions to 10, 11 bp regions to 20 */
        dm_regions a = cp, b = cp;
        a.n = 2;
        b.r = cp.r + 2;
        b.n = 2;
        dm_regions_resize(&a, 10, want[k].how);
        dm_regions_resize(&b, 20, want[k].how);
        for (int i = 0; i < 4; i++) {
            cr_assert_eq(cp.r[i].start, want[k].s[i], "how %d region %d start %lld", k, i, (long long)cp.r[i].start);
            cr_assert_eq(cp.r[i].end, want[k].e[i], "how %d region %d end %lld", k, i, (long long)cp.r[i].end);
            cr_assert_eq(cp.r[i].bed_start, rs.r[i].bed_start);
        }
        free(cp.r);
    }
    dm_regions_free(&rs);
}

/* Centring commutes with the reverse complement: a '-' region's window is the mirror of the '+' one. */
Test(bed, resize_center_mirrors) {
    for (int64_t w = 1; w < 30; w++)
        for (int32_t len = 1; len < 30; len++) {
            dm_region r[2] = {{.chrom = "c", .start = 1000, .end = 1000 + w, .strand = '+'},
                              {.chrom = "c", .start = 1000, .end = 1000 + w, .strand = '-'}};
            dm_regions rs = {.n = 2, .r = r};
            dm_regions_resize(&rs, len, DM_RESIZE_CENTER);
            cr_assert_eq(r[0].end - r[0].start, len);
            cr_assert_eq(r[1].end - r[1].start, len);
            /* left margin of '+' = right margin of '-' */
            cr_assert_eq(r[0].start - 1000, 1000 + w - r[1].end, "w %lld len %d", (long long)w, len);
        }
}

/* ---- checks against a genome, data sets --------------------------------------------------------- */

static void genome_in(const char *dir, char **text, dm_genome **g) {
    *text = genome_text(7);
    char *fa = put_text(dir, "g.fa", *text);
    cr_assert_eq(dm_genome_open(g, fa), DM_STATUS_OK, "%s", dm_last_error());
    free(fa);
}

static void check_fails(const char *bed, int32_t len, int line, const char *part) {
    char *dir = dm_test_tmpdir();
    char *text;
    dm_genome *g;
    genome_in(dir, &text, &g);
    char *p = put_text(dir, "r.bed", bed);
    dm_regions rs;
    cr_assert_eq(dm_bed_read(p, 0, &rs), DM_STATUS_OK, "%s", dm_last_error());
    if (len) dm_regions_resize(&rs, len, DM_RESIZE_CENTER);
    cr_assert_eq(dm_regions_check(&rs, g), DM_STATUS_FORMAT);
    char where[4200];
    snprintf(where, sizeof where, "%s:%d: ", p, line);
    cr_assert(strstr(dm_last_error(), where), "'%s' lacks '%s'", dm_last_error(), where);
    cr_assert(strstr(dm_last_error(), part), "'%s' lacks '%s'", dm_last_error(), part);
    dm_dataset ds;
    cr_assert_eq(dm_regions_dataset(&rs, g, 50, &ds), DM_STATUS_FORMAT);
    cr_assert_eq(ds.n, 0);
    dm_regions_free(&rs);
    dm_genome_close(g);
    free(p), free(text);
    dm_test_rmdir(dir);
    free(dir);
}

Test(bed, check_errors) {
    check_fails("chr1\t0\t10\nchr9\t0\t10\n", 0, 2, "chromosome 'chr9' is not in the genome");
    check_fails("1\t0\t10\n", 0, 1, "it has 'chr1'");
    check_fails("chr1\t0\t10\nchr2\t500\t538\n", 0, 2, "outside chr2 (length 537)");
    check_fails("chr1\t0\t10\n", 50, 1, "chr1:0-10, resized to 50 bp (-20..30), lies outside chr1");   /* centred: -20..30 */
    check_fails("chr1\t100\t110\nchrM\t50\t60\n", 30, 2, "chrM:50-60, resized to 30 bp (40..70), lies outside");
}

Test(bed, dataset_matches_the_genome) {
    char *dir = dm_test_tmpdir();
    char *text;
    dm_genome *g;
    genome_in(dir, &text, &g);
    char *p = put_text(dir, "r.bed", "chr1\t100\t150\tp\t0\t+\t1\n"
                                     "chr1\t100\t150\tm\t0\t-\t0\n"
                                     "chr2\t10\t20\tshort\t0\t-\t1\n"
                                     "chrM\t0\t61\tlong\t0\t-\t0\n");
    dm_regions rs;
    cr_assert_eq(dm_bed_read(p, 7, &rs), DM_STATUS_OK, "%s", dm_last_error());
    dm_dataset ds;
    cr_assert_eq(dm_regions_dataset(&rs, g, 50, &ds), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(ds.n, 4);
    cr_assert_eq(ds.len, 50);
    cr_assert_eq(ds.format, DM_FORMAT_LABELLED_FASTA);
    cr_assert_eq(ds.n_padded, 1);
    cr_assert_eq(ds.n_truncated, 1);
    char *c1 = parse_chrom(text, "chr1"), *c2 = parse_chrom(text, "chr2"), *cm = parse_chrom(text, "chrM");
    uint8_t want[64];
    expect_codes(c1, 100, 150, '+', want);
    cr_assert_eq(memcmp(ds.seq, want, 50), 0);
    expect_codes(c1, 100, 150, '-', want);
    cr_assert_eq(memcmp(ds.seq + 50, want, 50), 0);
    expect_codes(c2, 10, 20, '-', want);
    cr_assert_eq(memcmp(ds.seq + 100, want, 10), 0);
    for (int j = 10; j < 50; j++) cr_assert_eq(ds.seq[100 + j], DM_BASE_PAD);
    cr_assert_eq(ds.seq_len[2], 10);
    /* A region longer than len keeps the first len bases as its strand reads them. */
    expect_codes(cm, 11, 61, '-', want);
    cr_assert_eq(memcmp(ds.seq + 150, want, 50), 0);
    cr_assert_eq(ds.label[0], 1);
    cr_assert_eq(ds.label[1], 0);
    cr_assert_str_eq(ds.id[2], "short");
    cr_assert_eq(ds.group[3], 3);
    dm_dataset_free(&ds);
    dm_regions_free(&rs);
    dm_genome_close(g);
    free(c1), free(c2), free(cm), free(p), free(text);
    dm_test_rmdir(dir);
    free(dir);
}
