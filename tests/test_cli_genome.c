/*
 * test_cli_genome.c: genomic coordinates through the `deepmotif` program: --bed/--genome on train,
 * eval, predict, saliency, temporal, motifs and dashboard; predict's rows carry the BED's coordinates
 * and score a minus-strand region as the reverse complement given as FASTA; negatives for a BED of
 * peaks; bad BED lines and genomes are one line naming the file (and line), exit 1, nothing written;
 * misuse of the options is a usage error (exit 2).
 */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testutil.h"

static char *dir;
static char chr[2][4001];   /* the genome's text: chr1 4000 bp, chr2 3000 bp */
static const int clen[2] = {4000, 3000};

#define cli(...) dm_test_cli_in(dir, __VA_ARGS__)

static char *slurp(const char *name) { return dm_test_slurp_in(dir, name); }

static bool exists(const char *name) { return dm_test_exists_in(dir, name); }

static void write_file(const char *name, const char *text) { dm_test_write_in(dir, name, text); }

static int n_lines(const char *s) {
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

/* The genome, a labelled BED of 40-bp regions on both strands, a CNN of length 40 trained on it. */
static void setup(void) {
    dir = dm_test_tmpdir();
    cr_assert(dir);
    uint64_t x = 5;
    char path[600];
    snprintf(path, sizeof path, "%s/g.fa", dir);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    for (int c = 0; c < 2; c++) {
        for (int p = 0; p < clen[c]; p++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            chr[c][p] = "ACGTacgt"[(x >> 33) & 7];
        }
        fprintf(f, ">chr%d\n", c + 1);
        for (int p = 0; p < clen[c]; p += 50) fprintf(f, "%.50s\n", chr[c] + p);
    }
    fclose(f);
    char bed[8192];
    size_t n = 0;
    for (int i = 0; i < 60; i++) {
        int c = i % 2, s = 100 + i * 47;
        n += (size_t)snprintf(bed + n, sizeof bed - n, "chr%d\t%d\t%d\tr%d\t0\t%c\t%d\n", c + 1, s, s + 40, i,
                              "+-"[(i / 2) % 2], (i / 4) % 2);
    }
    write_file("lab.bed", bed);
    cr_assert_eq(cli("train --arch cnn --len 40 --bed lab.bed --genome g.fa --label-col 7 --epochs 1 --batch 16 "
                     "--out m.dm --quiet --device cpu"), 0, "%s", slurp("err"));
}

static void teardown(void) {
    dm_test_rmdir(dir);
    free(dir);
}

TestSuite(cli_genome, .init = setup, .fini = teardown);

/* The reverse complement of chr[c][s, e), upper case. */
static void revcomp(int c, int s, int e, char *out) {
    for (int p = e - 1, k = 0; p >= s; p--, k++) {
        switch (chr[c][p] & ~0x20) {
        case 'A': out[k] = 'T'; break;
        case 'C': out[k] = 'G'; break;
        case 'G': out[k] = 'C'; break;
        default: out[k] = 'A'; break;
        }
    }
    out[e - s] = 0;
}

Test(cli_genome, predict_rows_carry_coordinates_and_strand) {
    cr_assert_eq(cli("predict --model m.dm --bed lab.bed --genome g.fa --out p.tsv --device cpu"), 0, "%s", slurp("err"));
    /* the same sequences as FASTA, minus-strand ones reverse-complemented by the test */
    char fa[16384];
    size_t n = 0;
    for (int i = 0; i < 60; i++) {
        int c = i % 2, s = 100 + i * 47;
        char seq[64];
        if ((i / 2) % 2) revcomp(c, s, s + 40, seq);
        else snprintf(seq, sizeof seq, "%.40s", chr[c] + s);
        n += (size_t)snprintf(fa + n, sizeof fa - n, ">r%d\n%s\n", i, seq);
    }
    write_file("same.fa", fa);
    cr_assert_eq(cli("predict --model m.dm --data same.fa --out q.tsv --device cpu"), 0, "%s", slurp("err"));
    char p[16384], q[16384];
    snprintf(p, sizeof p, "%s", slurp("p.tsv"));
    snprintf(q, sizeof q, "%s", slurp("q.tsv"));
    const char *head = "chrom\tstart\tend\tstrand\tname\tscore\n";
    cr_assert(!strncmp(p, head, strlen(head)), "%s", p);
    cr_assert(!strncmp(q, "id\tscore\n", 9), "--data keeps its columns: %s", q);
    char *sp, *sq;
    char *lp = strtok_r(p, "\n", &sp), *lq = strtok_r(q, "\n", &sq);
    for (int i = 0; i < 60; i++) {
        lp = strtok_r(NULL, "\n", &sp);
        lq = strtok_r(NULL, "\n", &sq);
        cr_assert(lp && lq);
        char chrom[16], strand, name[16], id[16], score_p[32], score_q[32];
        long long s, e;
        cr_assert_eq(sscanf(lp, "%15s %lld %lld %c %15s %31s", chrom, &s, &e, &strand, name, score_p), 6, "%s", lp);
        cr_assert_eq(sscanf(lq, "%15s %31s", id, score_q), 2);
        int c = i % 2, s0 = 100 + i * 47;
        char want[16];
        snprintf(want, sizeof want, "chr%d", c + 1);
        cr_assert_str_eq(chrom, want);
        cr_assert_eq(s, s0, "row %d: the BED's start", i);
        cr_assert_eq(e, s0 + 40);
        cr_assert_eq(strand, "+-"[(i / 2) % 2]);
        snprintf(want, sizeof want, "r%d", i);
        cr_assert_str_eq(name, want);
        cr_assert_str_eq(id, want);
        /* the same codes in the same batches: the same score to the printed digit */
        cr_assert_str_eq(score_p, score_q, "row %d (%c): %s from the genome, %s from the FASTA", i, strand, score_p,
                         score_q);
    }
    /* with labels: a label column before the score */
    cr_assert_eq(cli("predict --model m.dm --bed lab.bed --genome g.fa --label-col 7 --out l.tsv --device cpu"), 0);
    const char *want = "chrom\tstart\tend\tstrand\tname\tlabel\tscore\nchr1\t100\t140\t+\tr0\t0\t";
    cr_assert(!strncmp(slurp("l.tsv"), want, strlen(want)), "%s", slurp("l.tsv"));
}

Test(cli_genome, other_commands_read_regions) {
    cr_assert_eq(cli("eval --model m.dm --bed lab.bed --genome g.fa --label-col 7 --device cpu"), 0, "%s", slurp("err"));
    cr_assert(strstr(slurp("out"), "n 60\n"), "%s", slurp("out"));
    cr_assert_eq(cli("eval --model m.dm --bed lab.bed --genome g.fa --device cpu"), 1);
    cr_assert(strstr(slurp("err"), "lab.bed: eval needs labelled data"), "%s", slurp("err"));
    cr_assert_eq(cli("saliency --model m.dm --bed lab.bed --genome g.fa --out s --quiet --device cpu"), 0, "%s",
                 slurp("err"));
    cr_assert(exists("s.npy") && exists("s.tsv"));
    cr_assert_eq(cli("motifs --model m.dm --bed lab.bed --genome g.fa --min-sites 1 --out mo --device cpu"), 0, "%s",
                 slurp("err"));
    cr_assert(exists("mo.meme"));
    /* --resize start/end: the windows of a 60-bp region differ, so do the scores */
    write_file("long.bed", "chr1\t1000\t1060\ta\t0\t+\nchr2\t500\t560\tb\t0\t-\n");
    cr_assert_eq(cli("predict --model m.dm --bed long.bed --genome g.fa --resize start --out a.tsv --device cpu"), 0);
    cr_assert(strstr(slurp("a.tsv"), "chr1\t1000\t1040\t+\ta\t") && strstr(slurp("a.tsv"), "chr2\t520\t560\t-\tb\t"),
              "%s", slurp("a.tsv"));
    cr_assert_eq(cli("predict --model m.dm --bed long.bed --genome g.fa --out c.tsv --device cpu"), 0);
    cr_assert(strstr(slurp("c.tsv"), "chr1\t1010\t1050\t+\ta\t"), "%s", slurp("c.tsv"));
    cr_assert_eq(cli("dashboard --model m.dm --bed lab.bed --genome g.fa --label-col 7 --out dash --steps 5 "
                     "--restarts 1 --top 2 --filters 2 --device cpu"), 0, "%s", slurp("err"));
    cr_assert(exists("dash/index.html"));
}

Test(cli_genome, temporal_rows_carry_coordinates) {
    cr_assert_eq(cli("train --arch rnn --len 40 --bed lab.bed --genome g.fa --label-col 7 --epochs 1 --batch 16 "
                     "--out r.dm --quiet --device cpu"), 0, "%s", slurp("err"));
    cr_assert_eq(cli("temporal --model r.dm --bed lab.bed --genome g.fa --out t --device cpu"), 0, "%s", slurp("err"));
    const char *t = slurp("t.tsv");
    const char *want = "chrom\tstart\tend\tstrand\tname\tforward\tbackward\nchr1\t100\t140\t+\tr0\t";
    cr_assert(!strncmp(t, want, strlen(want)), "%.200s", t);
    cr_assert_eq(n_lines(t), 61);
}

Test(cli_genome, negatives_for_peaks) {
    write_file("peaks.bed", "chr1\t500\t540\np1\nchr1\t1500\t1540\nchr2\t800\t840\nchr2\t2000\t2040\n");
    /* a malformed line 2 in a peaks file: one line, no model */
    cr_assert_eq(cli("train --arch cnn --len 40 --bed peaks.bed --genome g.fa --negatives flank:200 --out n.dm "
                     "--quiet --device cpu"), 1);
    cr_assert(strstr(slurp("err"), "peaks.bed:2: expected at least 3 columns"), "%s", slurp("err"));
    cr_assert_eq(n_lines(slurp("err")), 1);
    cr_assert(!exists("n.dm"));
    char bed[4096];
    size_t n = 0;
    for (int i = 0; i < 40; i++)   /* 20 peaks per chromosome, 130 bp apart: flanks 65 bp away fit between */
        n += (size_t)snprintf(bed + n, sizeof bed - n, "chr%d\t%d\t%d\tp%d\n", i % 2 + 1, 200 + i / 2 * 130,
                              240 + i / 2 * 130, i);
    write_file("peaks.bed", bed);
    write_file("bg.bed", "chr1\t0\t4000\nchr2\t0\t3000\n");
    cr_assert_eq(cli("train --arch cnn --len 40 --bed peaks.bed --genome g.fa --negatives flank:65 --epochs 1 "
                     "--batch 16 --out f.dm --quiet --device cpu"), 0, "%s", slurp("err"));
    cr_assert(strstr(slurp("err"), "40 peaks, "), "%s", slurp("err"));
    cr_assert_eq(cli("train --arch cnn --len 40 --bed peaks.bed --genome g.fa --negatives gc-matched --background "
                     "bg.bed --epochs 1 --batch 16 --out gc.dm --quiet --device cpu"), 0, "%s", slurp("err"));
    cr_assert(exists("f.dm") && exists("gc.dm"));
    cr_assert_eq(cli("train --arch cnn --len 40 --bed peaks.bed --genome g.fa --negatives shuffle --epochs 1 "
                     "--batch 16 --out sh.dm --quiet --device cpu"), 0, "%s", slurp("err"));
    /* peaks alone: only bound sequences */
    cr_assert_eq(cli("train --arch cnn --len 40 --bed peaks.bed --genome g.fa --out x.dm --quiet --device cpu"), 1);
    cr_assert(strstr(slurp("err"), "only bound sequences"), "%s", slurp("err"));
}

Test(cli_genome, bad_input_one_line_nothing_written) {
    static const struct { const char *bed, *part; } bad[] = {
        {"chr1\t10\t50\nchr1\tten\t50\n", "bad.bed:2: start must be a non-negative integer"},
        {"chr1\t10\t50\nchr1\t60\t50\n", "bad.bed:2: start 60 is not below end 50"},
        {"chr1\t10\t50\nchrX\t10\t50\n", "bad.bed:2: chromosome 'chrX' is not in the genome g.fa"},
        {"chr1\t10\t50\nchr2\t2990\t3030\n", "bad.bed:2: region chr2:2990-3030 lies outside chr2 (length 3000)"},
        {"chr1\t10\t50\nchr2\t0\t10\n", "bad.bed:2: region chr2:0-10, resized to 40 bp (-15..25), lies outside chr2"},
        {"chr1\t10\t50\tn\t0\tx\n", "bad.bed:1: strand (column 6) must be"},
        {"# nothing\n", "bad.bed: no regions"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        write_file("bad.bed", bad[k].bed);
        cr_assert_eq(cli("predict --model m.dm --bed bad.bed --genome g.fa --out p.tsv --device cpu"), 1, "%zu", k);
        char want[256];
        snprintf(want, sizeof want, "deepmotif predict: %s", bad[k].part);
        cr_assert(!strncmp(slurp("err"), want, strlen(want)), "%zu: %s", k, slurp("err"));
        cr_assert_eq(n_lines(slurp("err")), 1, "%s", slurp("err"));
        cr_assert(!exists("p.tsv"));
        cr_assert_eq(cli("saliency --model m.dm --bed bad.bed --genome g.fa --out s --device cpu"), 1);
        cr_assert(!exists("s.npy") && !exists("s.tsv"));
    }
    /* a label column that is not 0/1 */
    cr_assert_eq(cli("eval --model m.dm --bed lab.bed --genome g.fa --label-col 4 --device cpu"), 1);
    cr_assert(strstr(slurp("err"), "lab.bed:1: label (column 4) must be 0 or 1, found 'r0'"), "%s", slurp("err"));
    /* genomes: missing, gzip instead of bgzip, ragged lines */
    cr_assert_eq(cli("predict --model m.dm --bed lab.bed --genome none.fa --out p.tsv --device cpu"), 1);
    cr_assert(strstr(slurp("err"), "deepmotif predict: none.fa: No such file"), "%s", slurp("err"));
    cr_assert_eq(dm_test_system("cd %s && gzip -c g.fa > gz.fa.gz", dir), 0);
    cr_assert_eq(cli("predict --model m.dm --bed lab.bed --genome gz.fa.gz --out p.tsv --device cpu"), 1);
    cr_assert(strstr(slurp("err"), "gz.fa.gz: no index and cannot build one: compressed with gzip, not bgzip"), "%s",
              slurp("err"));
    cr_assert_eq(n_lines(slurp("err")), 1);
    write_file("ragged.fa", ">chr1\nACGTACGT\nACG\nACGTACGT\n");
    cr_assert_eq(cli("predict --model m.dm --bed lab.bed --genome ragged.fa --out p.tsv --device cpu"), 1);
    cr_assert(strstr(slurp("err"), "ragged.fa:3: line shorter than the first"), "%s", slurp("err"));
    cr_assert(!exists("ragged.fa.fai"), "no index is left of a FASTA that cannot be indexed");
    cr_assert(!exists("p.tsv"));
}

Test(cli_genome, usage_errors) {
    static const struct { const char *args, *part; } use[] = {
        {"predict --model m.dm --bed lab.bed --out p.tsv", "--bed needs --genome"},
        {"predict --model m.dm --bed lab.bed --data x.fa --genome g.fa --out p.tsv", "--bed replaces --data"},
        {"predict --model m.dm --data x.fa --genome g.fa --out p.tsv", "--genome goes with --bed"},
        {"predict --model m.dm --data x.fa --resize start --out p.tsv", "--resize goes with --bed"},
        {"predict --model m.dm --out p.tsv", "missing --data (or --bed"},
        {"predict --model m.dm --bed lab.bed --genome g.fa --label-col 2 --out p.tsv", "--label-col: '2' is not an integer in 4..64"},
        {"train --arch cnn --bed lab.bed --train x --genome g.fa --out x.dm", "--bed replaces --train"},
        {"train --arch cnn --train x --negatives flank:100 --out x.dm", "needs a BED of peaks"},
        {"train --arch cnn --bed lab.bed --genome g.fa --label-col 7 --negatives flank:100 --out x.dm", "needs a BED of peaks"},
        {"train --arch cnn --bed lab.bed --genome g.fa --negatives flank:0 --out x.dm", "flank:D: '0' is not a distance"},
        {"train --arch cnn --bed lab.bed --genome g.fa --negatives gc-matched --out x.dm", "needs --background"},
        {"train --arch cnn --bed lab.bed --genome g.fa --negatives random --out x.dm", "unknown value 'random'"},
        {"train --arch cnn --train x --test-bed lab.bed --out x.dm", "--test-bed needs --genome"},
    };
    for (size_t k = 0; k < sizeof use / sizeof *use; k++) {
        cr_assert_eq(cli("%s", use[k].args), 2, "%s: %s", use[k].args, slurp("err"));
        cr_assert(strstr(slurp("err"), use[k].part), "%s: %s", use[k].args, slurp("err"));
        cr_assert(!exists("p.tsv") && !exists("x.dm"));
    }
}
