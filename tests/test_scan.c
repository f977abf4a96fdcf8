/*
 * test_scan.c: `deepmotif scan` on a small synthetic genome written here (random bases, a planted
 * 12-mer at known coordinates, one copy on the minus strand, one near a chromosome's end) with a CNN
 * whose weights are set by hand: one filter that matches the 12-mer exactly, so P(bound) of a window
 * is high (sigmoid(4)) when the window holds the motif on the scored strand and low (sigmoid(−4))
 * otherwise. The expected track is computed independently by searching every window's text for the
 * motif; the bigWig is read back through libBigWig and compared with the bedGraph; the peaks, the
 * strands, the stride, BED regions and bad inputs are checked.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <bigWig.h>

#include "deepmotif.h"
#include "dm_internal.h"
#include "model.h"
#include "netio.h"
#include "saliency.h"
#include "testutil.h"
#include "track.h"

#define L 41                 /* the model's window */
#define W 12                 /* the motif's width */
static const char motif[] = "GATTACAGCTGA";
static const char motif_rc[] = "TCAGCTGTAATC";
#define N_CHR 4
static const char *const chr_name[N_CHR] = {"chr1", "chr2", "chr3", "chrShort"};
static const int64_t chr_len[N_CHR] = {3000, 2000, 500, 30};
/* planted sites: chromosome, leftmost base, strand */
static const struct { int c; int64_t at; char strand; } sites[] = {
    {0, 1000, '+'}, {0, 2200, '-'}, {1, 700, '+'}, {1, 1985, '+'},
};
#define N_SITES 4
/* P of a window with and without the motif: softmax of the logits (8a − 4, 0), a ∈ {1, 0} */
#define P_HIT 0.98201379f
#define P_MISS 0.01798621f

static char *seqs[N_CHR];
static char dir[4096];

/* ---- the genome and the model ---------------------------------------------------------------------- */

static void make_genome(void) {
    uint64_t x = dm_test_seed() * 6364136223846793005ULL + 99;
    for (int c = 0; c < N_CHR; c++) {
        seqs[c] = malloc((size_t)chr_len[c] + 1);
        for (int64_t p = 0; p < chr_len[c]; p++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            seqs[c][p] = "ACGT"[(x >> 33) & 3];
        }
        seqs[c][chr_len[c]] = 0;
    }
    for (int k = 0; k < N_SITES; k++) memcpy(seqs[sites[k].c] + sites[k].at, sites[k].strand == '+' ? motif : motif_rc, W);
    char path[4200];
    snprintf(path, sizeof path, "%s/genome.fa", dir);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    for (int c = 0; c < N_CHR; c++) {
        fprintf(f, ">%s test chromosome\n", chr_name[c]);
        for (int64_t p = 0; p < chr_len[c]; p += 70) fprintf(f, "%.70s\n", seqs[c] + p);
    }
    fclose(f);
}

/* One conv filter (width W) of +1 on the motif's bases, bias −(W − 1): ReLU gives 1 for an exact match,
 * 0 otherwise; global max; fc logits (8a − 4, 0) for (bound, unbound). */
static dm_net *build_net(dm_backend *be, int batch, float **params) {
    dm_hparams hp;
    dm_hparams_default(&hp, 0);
    hp.len = L, hp.n_conv = 1, hp.conv_width[0] = W, hp.conv_channels = 1, hp.dropout = 0;
    dm_net *m;
    cr_assert_eq(dm_net_create(&m, &hp, be, batch), DM_STATUS_OK, "%s", dm_last_error());
    int64_t np = dm_net_n_params(m);
    float *w = calloc((size_t)np, sizeof(float));
    const dm_tensor_info *cw = dm_net_tensor(m, "conv1.weight"), *cb = dm_net_tensor(m, "conv1.bias");
    const dm_tensor_info *fw = dm_net_tensor(m, "fc.weight"), *fb = dm_net_tensor(m, "fc.bias");
    cr_assert(cw && cb && fw && fb && cw->numel == W * 4 && fw->numel == 2);
    for (int k = 0; k < W; k++) w[cw->offset + 4 * k + (int)(strchr("ACGT", motif[k]) - "ACGT")] = 1.0f;
    w[cb->offset] = -(W - 1);
    w[fw->offset] = 8.0f;    /* row 0: bound */
    w[fb->offset] = -4.0f;
    cr_assert_eq(dm_net_set_params(m, w), DM_STATUS_OK);
    if (params) *params = w;
    else free(w);
    return m;
}

static void make_model(void) {
    dm_backend *be = dm_backend_cpu_create(1);
    float *w;
    dm_net *m = build_net(be, 1, &w);
    const dm_hparams hp = *dm_net_hparams(m);
    int64_t np = dm_net_n_params(m);
    dm_provenance prov = {0};
    int32_t nt;
    const dm_tensor_info *t = dm_net_tensors(m, &nt);
    char path[4200];
    snprintf(path, sizeof path, "%s/model.dm", dir);
    cr_assert_eq(dm_checkpoint_save(path, &hp, t, nt, w, np, &prov, NULL), DM_STATUS_OK, "%s", dm_last_error());
    free(w);
    dm_net_free(m);
    dm_backend_free(be);
}

static void setup(void) {
    char *d = dm_test_tmpdir();
    snprintf(dir, sizeof dir, "%s", d);
    free(d);
    make_genome();
    make_model();
}

static void teardown(void) {
    for (int c = 0; c < N_CHR; c++) free(seqs[c]), seqs[c] = NULL;
    dm_test_rmdir(dir);
}

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...) {
    char args[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    return dm_test_system("cd %s && OPENBLAS_NUM_THREADS=1 %s scan --model model.dm --device cpu --quiet %s > out 2> err",
                          dir, DM_TEST_CLI, args);
}

static bool exists(const char *name) { return dm_test_exists_in(dir, name); }

/* ---- the independent expectation ------------------------------------------------------------------- */

/* Whether the window [p, p + L) of chromosome c holds the motif (or, with rc, its reverse complement). */
static bool holds(int c, int64_t p, bool rc) {
    for (int64_t q = p; q + W <= p + L; q++)
        if (!memcmp(seqs[c] + q, motif, W) || (rc && !memcmp(seqs[c] + q, motif_rc, W))) return true;
    return false;
}

typedef struct bg_line { int c; int64_t s, e; double v; } bg_line;

/* Reads a bedGraph written by the scan; *n lines. */
static bg_line *read_bedgraph(const char *name, int *n) {
    char path[4200], chrom[64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    cr_assert(f, "no %s", name);
    int cap = 1 << 14;
    bg_line *b = malloc(sizeof *b * (size_t)cap);
    *n = 0;
    long long s, e;
    double v;
    while (fscanf(f, "%63s %lld %lld %lf", chrom, &s, &e, &v) == 4) {
        cr_assert(*n < cap);
        int c = -1;
        for (int k = 0; k < N_CHR; k++) if (!strcmp(chrom, chr_name[k])) c = k;
        cr_assert(c >= 0, "unknown chromosome %s", chrom);
        b[(*n)++] = (bg_line){c, s, e, v};
    }
    fclose(f);
    return b;
}

/* Every line of the bedGraph is the window whose centred interval it is, with the value the window's
 * text says; every window of every chromosome is there once, in order. */
static void check_track(const char *name, int S, bool both, bool mean) {
    int n;
    bg_line *b = read_bedgraph(name, &n);
    int i = 0;
    for (int c = 0; c < N_CHR; c++)
        for (int64_t p = 0; p + L <= chr_len[c]; p += S, i++) {
            cr_assert(i < n, "%s: %d lines, more windows expected", name, n);
            int64_t s = p + (L >= S ? (L - S) / 2 : -((S - L + 1) / 2)), e = s + S;
            if (s < 0) s = 0;
            if (e > chr_len[c]) e = chr_len[c];
            cr_assert(b[i].c == c && b[i].s == s && b[i].e == e, "%s line %d: %s:%lld-%lld, expected %s:%lld-%lld", name,
                      i + 1, chr_name[b[i].c], (long long)b[i].s, (long long)b[i].e, chr_name[c], (long long)s, (long long)e);
            float pf = holds(c, p, false) ? P_HIT : P_MISS;
            float pr = both ? (holds(c, p, true) ? P_HIT : P_MISS) : pf;   /* max of the strands */
            if (both && mean) {   /* each strand alone: + has the motif, − has its reverse complement */
                bool fw = false, rv = false;
                for (int64_t q = p; q + W <= p + L; q++) {
                    fw |= !memcmp(seqs[c] + q, motif, W);
                    rv |= !memcmp(seqs[c] + q, motif_rc, W);
                }
                pr = 0.5f * ((fw ? P_HIT : P_MISS) + (rv ? P_HIT : P_MISS));
            }
            /* 1e-5: the bedGraph's 6 significant digits (5e-6 relative on values < 1) plus float
             * rounding of the forward pass (~1e-7) */
            cr_assert(fabs(b[i].v - pr) < 1e-5, "%s line %d (%s:%lld window at %lld): %g, expected %g", name, i + 1,
                      chr_name[c], (long long)s, (long long)p, b[i].v, (double)pr);
        }
    cr_assert_eq(i, n, "%s: %d lines, %d windows", name, n, i);
    free(b);
}

TestSuite(scan, .init = setup, .fini = teardown, .timeout = 60);

/* ---- the track -------------------------------------------------------------------------------------- */

Test(scan, fasta_track_matches_the_planted_sites) {
    cr_assert_eq(run("--data genome.fa --out fa --format bedgraph"), 0, "%s", dm_test_slurp_in(dir, "err"));
    check_track("fa.bedGraph", 1, true, false);
    /* the short record gets no window and a warning */
    cr_assert(strstr(dm_test_slurp_in(dir, "err"), "1 of 4 sequences shorter than the model's length 41"),
              "%s", dm_test_slurp_in(dir, "err"));
    /* the track peaks at every planted site (both strands): a high value in the windows' reach of each
     * site (the site near chr2's end is reached only by windows that end at the chromosome's end) */
    int n;
    bg_line *b = read_bedgraph("fa.bedGraph", &n);
    for (int k = 0; k < N_SITES; k++) {
        bool hit = false;
        for (int i = 0; i < n; i++)
            hit |= b[i].c == sites[k].c && b[i].e > sites[k].at + W - L && b[i].s < sites[k].at + L && b[i].v > 0.9;
        cr_assert(hit, "no high value at site %d (%s:%lld)", k, chr_name[sites[k].c], (long long)sites[k].at);
    }
    free(b);
}

Test(scan, peaks_are_the_merged_windows_of_each_site) {
    cr_assert_eq(run("--data genome.fa --out p --format bedgraph"), 0, "%s", dm_test_slurp_in(dir, "err"));
    char expect[1024] = "";
    size_t m = 0;
    for (int k = 0; k < N_SITES; k++) {
        /* windows [q, q + L) holding [at, at + W) start at at + W − L .. at, clipped to the chromosome */
        int64_t first = sites[k].at + W - L, last = sites[k].at;
        if (first < 0) first = 0;
        if (last > chr_len[sites[k].c] - L) last = chr_len[sites[k].c] - L;
        m += (size_t)snprintf(expect + m, sizeof expect - m, "%s\t%lld\t%lld\tpeak_%d\t%.4f\n", chr_name[sites[k].c],
                              (long long)first, (long long)(last + L), k + 1, (double)P_HIT);
    }
    cr_assert_str_eq(dm_test_slurp_in(dir, "p.peaks.bed"), expect);
}

Test(scan, bigwig_reads_back_as_the_bedgraph) {
    cr_assert_eq(run("--data genome.fa --out t --format bedgraph --stride 3"), 0, "%s", dm_test_slurp_in(dir, "err"));
    cr_assert_eq(run("--data genome.fa --out t --stride 3"), 0, "%s", dm_test_slurp_in(dir, "err"));
    int n;
    bg_line *b = read_bedgraph("t.bedGraph", &n);
    char path[4200];
    snprintf(path, sizeof path, "%s/t.bw", dir);
    cr_assert_eq(bwInit(1 << 17), 0);
    bigWigFile_t *bw = bwOpen(path, NULL, "r");
    cr_assert(bw, "libBigWig cannot open %s", path);
    cr_assert_eq(bw->cl->nKeys, 4);
    for (int c = 0; c < N_CHR; c++) {
        cr_assert_str_eq(bw->cl->chrom[c], chr_name[c]);
        cr_assert_eq(bw->cl->len[c], (uint32_t)chr_len[c]);
    }
    int64_t bases = 0;
    for (int c = 0; c < N_CHR - 1; c++) {
        bwOverlappingIntervals_t *o = bwGetValues(bw, chr_name[c], 0, (uint32_t)chr_len[c], 1);
        cr_assert(o && o->l == (uint32_t)chr_len[c]);
        for (int64_t p = 0; p < chr_len[c]; p++) {
            double want = NAN;
            for (int i = 0; i < n; i++)
                if (b[i].c == c && b[i].s <= p && p < b[i].e) want = b[i].v;
            if (isnan(want)) {
                cr_assert(isnan(o->value[p]), "%s:%lld: %g in the bigWig, no line in the bedGraph", chr_name[c],
                          (long long)p, (double)o->value[p]);
                continue;
            }
            /* 5e-6 relative: the bedGraph prints 6 significant digits of the bigWig's float */
            cr_assert(fabs(o->value[p] - want) <= 5e-6 * fabs(want), "%s:%lld: bigWig %g, bedGraph %g", chr_name[c],
                      (long long)p, (double)o->value[p], want);
            bases++;
        }
        bwDestroyOverlappingIntervals(o);
    }
    cr_assert_gt(bases, 5000);
    bwClose(bw);
    free(b);
    check_track("t.bedGraph", 3, true, false);
}

Test(scan, strands_and_combine) {
    cr_assert_eq(run("--data genome.fa --out plus --format bedgraph --strands plus --stride 2"), 0, "%s",
                 dm_test_slurp_in(dir, "err"));
    check_track("plus.bedGraph", 2, false, false);
    /* the minus-strand site is invisible on the + strand: no peak there */
    cr_assert_null(strstr(dm_test_slurp_in(dir, "plus.peaks.bed"), "chr1\t2171"));
    cr_assert_eq(run("--data genome.fa --out mean --format bedgraph --combine mean --stride 2"), 0, "%s",
                 dm_test_slurp_in(dir, "err"));
    check_track("mean.bedGraph", 2, true, true);
}

Test(scan, stride_longer_than_the_window) {
    cr_assert_eq(run("--data genome.fa --out s --format bedgraph --stride 50"), 0, "%s", dm_test_slurp_in(dir, "err"));
    check_track("s.bedGraph", 50, true, false);
}

Test(scan, genome_equals_fasta_and_bed_regions) {
    cr_assert_eq(run("--data genome.fa --out fa --format bedgraph --stride 5"), 0, "%s", dm_test_slurp_in(dir, "err"));
    cr_assert_eq(run("--genome genome.fa --out g --format bedgraph --stride 5"), 0, "%s", dm_test_slurp_in(dir, "err"));
    char *fa = strdup(dm_test_slurp_in(dir, "fa.bedGraph"));
    cr_assert_str_eq(dm_test_slurp_in(dir, "g.bedGraph"), fa);
    /* the same FASTA gzip-compressed (zlib's gzip, not bgzip: --data reads it sequentially) */
    cr_assert_eq(dm_test_system("gzip -c %s/genome.fa > %s/genome.fa.gz", dir, dir), 0);
    cr_assert_eq(run("--data genome.fa.gz --out gz --format bedgraph --stride 5"), 0, "%s", dm_test_slurp_in(dir, "err"));
    cr_assert_str_eq(dm_test_slurp_in(dir, "gz.bedGraph"), fa);
    free(fa);
    /* regions: unsorted, two overlapping (merged), one on the minus strand (scanned on the genome's
     * strand), one shorter than the window */
    char path[4200];
    snprintf(path, sizeof path, "%s/r.bed", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "chr2\t600\t800\tb\t0\t-\nchr1\t900\t1100\nchr1\t1050\t1200\nchr3\t10\t40\n");
    fclose(f);
    cr_assert_eq(run("--genome genome.fa --bed r.bed --out r --format bedgraph --stride 1"), 0, "%s",
                 dm_test_slurp_in(dir, "err"));
    int n;
    bg_line *b = read_bedgraph("r.bedGraph", &n);
    /* chr1 900-1200 (merged) then chr2 600-800: windows p with p + L inside, interval p + 20 */
    int i = 0;
    const struct { int c; int64_t a, z; } reg[2] = {{0, 900, 1200}, {1, 600, 800}};
    for (int r = 0; r < 2; r++)
        for (int64_t p = reg[r].a; p + L <= reg[r].z; p++, i++) {
            cr_assert(i < n && b[i].c == reg[r].c && b[i].s == p + 20 && b[i].e == p + 21, "line %d", i + 1);
            /* 1e-5: 6 printed digits and float rounding, as in check_track */
            cr_assert(fabs(b[i].v - (holds(reg[r].c, p, true) ? P_HIT : P_MISS)) < 1e-5, "line %d", i + 1);
        }
    cr_assert_eq(i, n);
    free(b);
    cr_assert(strstr(dm_test_slurp_in(dir, "err"), "1 of 3 regions shorter"), "%s", dm_test_slurp_in(dir, "err"));
}

/* ---- bad inputs: exit 1 (2 for a usage error), one line, nothing written ----------------------------- */

static void expect_failure(int rc, const char *args, const char *needle) {
    cr_assert_eq(run("%s --out bad", args), rc, "%s: %s", args, dm_test_slurp_in(dir, "err"));
    const char *err = dm_test_slurp_in(dir, "err");
    cr_assert(strstr(err, needle), "%s: '%s' lacks '%s'", args, err, needle);
    /* one line; a usage error adds the "Try ... --help" hint */
    const char *nl = strchr(err, '\n');
    cr_assert(nl && (nl == err + strlen(err) - 1 || (rc == 2 && strstr(nl + 1, "--help"))), "%s: not one line: %s", args, err);
    cr_assert(!exists("bad.bw") && !exists("bad.bedGraph") && !exists("bad.peaks.bed"), "%s: output written", args);
}

static void write_file(const char *name, const char *text) { dm_test_write_in(dir, name, text); }

Test(scan, bad_inputs) {
    write_file("unknown.bed", "chr1\t0\t100\nchrX\t0\t100\n");
    expect_failure(1, "--genome genome.fa --bed unknown.bed", "unknown.bed:2");
    write_file("outside.bed", "chr3\t400\t600\n");
    expect_failure(1, "--genome genome.fa --bed outside.bed", "outside.bed:1");
    expect_failure(2, "--data genome.fa --stride 0", "--stride");
    write_file("badbase.fa", ">a\nACGT\nACXT\n");
    expect_failure(1, "--data badbase.fa", "badbase.fa:3: invalid base 'X'");
    write_file("dup.fa", ">a\nACGT\n>b\nACGT\n>a x\nACGT\n");
    expect_failure(1, "--data dup.fa", "dup.fa:5: duplicate sequence name 'a' (first at line 1)");
    write_file("nohead.fa", "ACGT\n>a\nACGT\n");
    expect_failure(1, "--data nohead.fa", "nohead.fa:1: expected a FASTA header");
    write_file("short.fa", ">a\nACGTACGT\n");
    expect_failure(1, "--data short.fa", "no window");
    expect_failure(2, "--data genome.fa --genome genome.fa", "not both");
    expect_failure(1, "--data missing.fa", "missing.fa");
}

/* A failing commit of either output leaves neither (DM_FAULT: the commit fails as ENOSPC would), and
 * no temporary file is left in the folder. */
Test(scan, failed_outputs_leave_nothing) {
    const char *faults[3] = {"fail@f.bw", "fail@f.peaks.bed", "fail@f.bedGraph"};
    for (int k = 0; k < 3; k++) {
        int rc = dm_test_system("cd %s && DM_FAULT=%s %s scan --model model.dm --device cpu --quiet --data genome.fa "
                                "--stride 20 --out f %s > out 2> err", dir, faults[k], DM_TEST_CLI,
                                k == 2 ? "--format bedgraph" : "");
        cr_assert_eq(rc, 1, "%s: rc %d: %s", faults[k], rc, dm_test_slurp_in(dir, "err"));
        cr_assert(strstr(dm_test_slurp_in(dir, "err"), "write failed"), "%s", dm_test_slurp_in(dir, "err"));
        cr_assert(!exists("f.bw") && !exists("f.peaks.bed") && !exists("f.bedGraph"), "%s: output left", faults[k]);
        cr_assert_eq(dm_test_system("ls -a %s | grep -q dmtmp", dir), 1, "%s: a temporary file left", faults[k]);
    }
}

/* ---- the per-base averaging writer (saliency's --track) ---------------------------------------------- */

Test(scan, track_average_of_overlapping_windows) {
    char path[4200];
    snprintf(path, sizeof path, "%s/avg.bedGraph", dir);
    const char *names[2] = {"c1", "c2"};
    int64_t lens[2] = {100, 50};
    dm_track *t;
    cr_assert_eq(dm_track_open(&t, path, DM_TRACK_BEDGRAPH, 2, names, lens), DM_STATUS_OK);
    dm_track_avg *a;
    cr_assert_eq(dm_track_avg_open(&a, t), DM_STATUS_OK);
    float one[4] = {1, 1, 1, 1}, three[4] = {3, 3, 3, 3}, five[2] = {5, 6};
    cr_assert_eq(dm_track_avg_add(a, 0, 10, one, 4), DM_STATUS_OK);    /* 10..13 */
    cr_assert_eq(dm_track_avg_add(a, 0, 12, three, 4), DM_STATUS_OK);  /* 12..15: 12, 13 average 2 */
    cr_assert_eq(dm_track_avg_add(a, 0, 30, five, 2), DM_STATUS_OK);   /* a gap */
    cr_assert_eq(dm_track_avg_add(a, 1, 0, one, 4), DM_STATUS_OK);
    cr_assert_eq(dm_track_avg_add(a, 0, 40, one, 4), DM_STATUS_ARG);   /* out of order */
    cr_assert_eq(dm_track_avg_finish(a), DM_STATUS_OK);
    cr_assert_eq(dm_track_commit(t), DM_STATUS_OK);
    cr_assert_str_eq(dm_test_slurp_in(dir, "avg.bedGraph"),
                     "c1\t10\t12\t1\nc1\t12\t14\t2\nc1\t14\t16\t3\nc1\t30\t31\t5\nc1\t31\t32\t6\nc2\t0\t4\t1\n");
}

/* ---- saliency with coordinates: regions.bed and the per-base track ------------------------------------ */

Test(scan, saliency_regions_bed_and_track) {
    write_file("sal.bed", "chr1\t985\t1026\tfirst\t0\t+\n"     /* the + site */
                          "chr1\t1000\t1041\tsecond\t0\t+\n"    /* overlaps the first: averaged */
                          "chr1\t2185\t2226\tminus\t0\t-\n"     /* the − site, read on its strand */
                          "chr2\t0\t41\tedge\n");
    char bed[4200], fa[4200], prefix[4200];
    snprintf(bed, sizeof bed, "%s/sal.bed", dir);
    snprintf(fa, sizeof fa, "%s/genome.fa", dir);
    snprintf(prefix, sizeof prefix, "%s/sal", dir);
    dm_regions rs;
    dm_genome *g;
    cr_assert_eq(dm_bed_read(bed, 0, &rs), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(dm_genome_open(&g, fa), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(dm_regions_check(&rs, g), DM_STATUS_OK, "%s", dm_last_error());
    dm_dataset ds;
    cr_assert_eq(dm_regions_dataset(&rs, g, L, &ds), DM_STATUS_OK, "%s", dm_last_error());
    dm_backend *be = dm_backend_cpu_create(1);
    dm_net *m = build_net(be, 4, NULL);
    dm_saliency_options o = {.method = DM_SAL_GRAD_X_INPUT};
    dm_saliency_out *out;
    cr_assert_eq(dm_saliency_open(&out, m, ds.n, &o, prefix), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(dm_saliency_coords(out, &rs, g, true), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(dm_saliency_rows(out, &ds, 0), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(dm_saliency_commit(out), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_str_eq(dm_test_slurp_in(dir, "sal.regions.bed"),
                     "chr1\t985\t1026\tfirst\t0\t+\nchr1\t1000\t1041\tsecond\t0\t+\n"
                     "chr1\t2185\t2226\tminus\t0\t-\nchr2\t0\t41\tedge\t0\t+\n");
    /* the expectation: each row's present-base attribution (one batch of its own), placed on the genome
     * (minus rows reversed) and averaged in double */
    double sum[2][3000] = {{0}};
    int cnt[2][3000] = {{0}};
    float x[L * 4], a[L * 4], p;
    for (int64_t i = 0; i < ds.n; i++) {
        dm_onehot_host(x, ds.seq + i * L, L, false);
        cr_assert_eq(dm_saliency_batch(m, x, NULL, 1, i, &o, a, &p), DM_STATUS_OK);
        int c = rs.r[i].chrom[3] - '1';
        for (int l = 0; l < L; l++) {
            double v = a[4 * l] * x[4 * l] + a[4 * l + 1] * x[4 * l + 1] + a[4 * l + 2] * x[4 * l + 2] + a[4 * l + 3] * x[4 * l + 3];
            int64_t pos = rs.r[i].strand == '-' ? rs.r[i].end - 1 - l : rs.r[i].start + l;
            sum[c][pos] += v, cnt[c][pos]++;
        }
    }
    char path[4300];
    snprintf(path, sizeof path, "%s.track.bw", prefix);
    cr_assert_eq(bwInit(1 << 17), 0);
    bigWigFile_t *bw = bwOpen(path, NULL, "r");
    cr_assert(bw, "libBigWig cannot open %s", path);
    int nonzero = 0;
    for (int c = 0; c < 2; c++) {
        bwOverlappingIntervals_t *v = bwGetValues(bw, chr_name[c], 0, (uint32_t)chr_len[c], 1);
        cr_assert(v && v->l == (uint32_t)chr_len[c]);
        for (int64_t q = 0; q < chr_len[c]; q++) {
            if (!cnt[c][q]) {
                cr_assert(isnan(v->value[q]), "%s:%lld: a value where no region is", chr_name[c], (long long)q);
                continue;
            }
            double want = sum[c][q] / cnt[c][q];
            nonzero += want != 0;
            /* float32 storage of a mean of at most 2 float32 values: 2 ulps relative, 1e-12 floor */
            cr_assert(fabs(v->value[q] - want) <= 1e-12 + 2.5e-7 * fabs(want), "%s:%lld: %g vs %g", chr_name[c],
                      (long long)q, (double)v->value[q], want);
        }
        bwDestroyOverlappingIntervals(v);
    }
    cr_assert_gt(nonzero, 20, "the sites' attributions are not all zero");
    bwClose(bw);
    dm_dataset_free(&ds);
    dm_regions_free(&rs);
    dm_genome_close(g);
    dm_net_free(m);
    dm_backend_free(be);
}

Test(scan, saliency_cli_with_bed_and_track) {
    write_file("s.bed", "chr1\t990\t1030\tone\t0\t+\nchr2\t690\t730\ttwo\t0\t-\nchr1\t1000\t1041\n");
    cr_assert_eq(dm_test_system("cd %s && %s saliency --model model.dm --device cpu --quiet --bed s.bed --genome genome.fa "
                                "--track --center --out s > out 2> err", dir, DM_TEST_CLI), 0, "%s",
                 dm_test_slurp_in(dir, "err"));
    /* resized to 41 around each centre (default --resize center, rounded as dm_regions_resize rounds
     * for each strand): line i = row i */
    cr_assert_str_eq(dm_test_slurp_in(dir, "s.regions.bed"),
                     "chr1\t989\t1030\tone\t0\t+\nchr2\t690\t731\ttwo\t0\t-\n"
                     "chr1\t1000\t1041\tchr1:1000-1041\t0\t+\n");
    cr_assert(exists("s.track.bw") && exists("s.npy") && exists("s.tsv"));
    /* --track needs --bed; a bad region writes nothing */
    cr_assert_eq(dm_test_system("cd %s && %s saliency --model model.dm --device cpu --data genome.fa --track --out t "
                                "> out 2> err", dir, DM_TEST_CLI), 2);
    write_file("bad.bed", "chr1\t0\t41\nchr9\t0\t41\n");
    cr_assert_eq(dm_test_system("cd %s && %s saliency --model model.dm --device cpu --bed bad.bed --genome genome.fa "
                                "--track --out t > out 2> err", dir, DM_TEST_CLI), 1);
    cr_assert(strstr(dm_test_slurp_in(dir, "err"), "bad.bed:2"), "%s", dm_test_slurp_in(dir, "err"));
    cr_assert(!exists("t.npy") && !exists("t.regions.bed") && !exists("t.track.bw"));
}
