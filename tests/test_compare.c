/*
 * test_compare.c: the MEME reader/writer (host/meme.c, FORMATS.md §5) and the TOMTOM-like motif
 * comparison (host/compare.c, FORMATS.md §8).
 *
 * MEME: JASPAR 2020 loads whole, a written set reads back (plain and gzip), malformed files fail
 * with FORMAT naming file:line. Compare under the column-shuffled null (--null shuffle; TOMTOM's
 * null, the default, has tests/test_tomtom.c): JASPAR motifs find themselves ('+', offset 0) and their
 * reverse complements ('-'); noisy, trimmed copies of REST, CTCF and USF1 find their originals with
 * q < 0.05 under both similarity measures; uninformative queries find nothing; p, E and q obey their
 * definitions; p-values are calibrated on a synthetic database (both nulls); results do not depend on the thread
 * count; the TSV has its header, rows and '#' lines.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "compare.h"
#include "deepmotif.h"
#include "dm_internal.h"
#include "dm_rng.h"
#include "meme.h"
#include "testutil.h"

#define JASPAR "jaspar/JASPAR2020_CORE_vertebrates_non-redundant_pfms_meme.txt"

/* ---- helpers --------------------------------------------------------------------------------- */

/* Loads JASPAR 2020, or skips the test when the data directory lacks it. */
static void load_jaspar(dm_motif_set *db) {
    const char *path = dm_test_data_file(JASPAR);
    if (!path) cr_skip_test("%s not found (set DM_DATA_DIR)", JASPAR);
    cr_assert_eq(dm_meme_read(path, db), DM_STATUS_OK, "%s", dm_last_error());
}

static int find_motif(const dm_motif_set *s, const char *id) {
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->m[i].id, id) == 0) return i;
    cr_assert_fail("motif %s not in the set", id);
    return -1;
}

/* A copy of m (own matrix) whose columns are [first, first + w). */
static dm_motif motif_slice(const dm_motif *m, int first, int w) {
    dm_motif c = *m;
    c.w = w;
    c.p = malloc(sizeof(float) * 4 * (size_t)w);
    cr_assert(c.p);
    memcpy(c.p, m->p + 4 * (size_t)first, sizeof(float) * 4 * (size_t)w);
    return c;
}

/* The reverse complement of m (own matrix). */
static dm_motif motif_revcomp(const dm_motif *m) {
    dm_motif c = motif_slice(m, 0, m->w);
    for (int j = 0; j < m->w; j++)
        for (int b = 0; b < 4; b++) c.p[4 * j + b] = m->p[4 * (m->w - 1 - j) + (3 - b)];
    return c;
}

/* Adds uniform noise in [−amp, amp] to every probability, floors at 0.001, renormalises. */
static void add_noise(dm_motif *m, double amp, uint64_t tag) {
    dm_rng r;
    dm_rng_init(&r, dm_test_seed(), 100, tag);
    for (int j = 0; j < m->w; j++) {
        double s = 0;
        for (int b = 0; b < 4; b++) {
            double v = m->p[4 * j + b] + amp * (2 * dm_rng_uniform(&r) - 1);
            m->p[4 * j + b] = (float)(v < 0.001 ? 0.001 : v);
            s += m->p[4 * j + b];
        }
        for (int b = 0; b < 4; b++) m->p[4 * j + b] = (float)(m->p[4 * j + b] / s);
    }
}

static void compare_or_fail(const dm_motif_set *q, const dm_motif_set *db, const dm_compare_options *o,
                            dm_hit **hits, int *n) {
    cr_assert_eq(dm_compare(q, db, o, hits, n), DM_STATUS_OK, "%s", dm_last_error());
}

/* Writes text to dir/name; returns the path in a static buffer. */
static const char *write_text(const char *dir, const char *name, const char *text) {
    static char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* ---- MEME reader and writer ------------------------------------------------------------------ */

Test(meme, jaspar_loads_whole) {
    dm_motif_set db;
    load_jaspar(&db);
    cr_assert_eq(db.n, 746);
    int wmin = 1 << 30, wmax = 0;
    for (int i = 0; i < db.n; i++) {
        const dm_motif *m = &db.m[i];
        wmin = m->w < wmin ? m->w : wmin;
        wmax = m->w > wmax ? m->w : wmax;
        for (int j = 0; j < m->w; j++) {
            const float *row = m->p + 4 * j;
            cr_assert_float_eq(row[0] + row[1] + row[2] + row[3], 1.0f, 1e-5, "%s row %d", m->id, j + 1);
        }
    }
    cr_assert_eq(wmin, 6);
    cr_assert_eq(wmax, 24);
    /* The first motif, as the file spells it. */
    cr_assert_str_eq(db.m[0].id, "MA0006.1");
    cr_assert_str_eq(db.m[0].name, "Ahr::Arnt");
    cr_assert_eq(db.m[0].w, 6);
    cr_assert_eq(db.m[0].nsites, 24);
    cr_assert_float_eq(db.m[0].p[0], 0.125f, 1e-6);
    cr_assert_float_eq(db.m[0].p[4 * 1 + 2], 0.958333f, 1e-6);
    cr_assert_str_eq(db.m[find_motif(&db, "MA0139.1")].name, "CTCF");
    dm_motif_set_free(&db);
    cr_assert_eq(db.n, 0);
    cr_assert_null(db.m);
}

Test(meme, write_read_round_trip_plain_and_gzip) {
    /* Random motifs of assorted widths, one without nsites and one with a spaced name. */
    dm_motif m[5];
    dm_rng r;
    dm_rng_init(&r, dm_test_seed(), 101, 0);
    for (int i = 0; i < 5; i++) {
        memset(&m[i], 0, sizeof m[i]);
        snprintf(m[i].id, sizeof m[i].id, "motif_%d", i + 1);
        snprintf(m[i].name, sizeof m[i].name, i == 3 ? "two words" : "alt%d", i);
        m[i].w = 1 + 7 * i;
        m[i].nsites = i == 2 ? 0 : 10 * (i + 1);
        m[i].p = malloc(sizeof(float) * 4 * (size_t)m[i].w);
        cr_assert(m[i].p);
        /* Unnormalised positive rows: the writer renormalises. */
        for (int k = 0; k < 4 * m[i].w; k++) m[i].p[k] = (float)(0.01 + dm_rng_uniform(&r));
    }
    dm_motif_set s = {5, m};
    char *dir = dm_test_tmpdir();
    char path[1024], gz[1024];
    snprintf(path, sizeof path, "%s/set.meme", dir);
    snprintf(gz, sizeof gz, "%s/set.meme.gz", dir);
    cr_assert_eq(dm_meme_write(path, &s), DM_STATUS_OK, "%s", dm_last_error());
    /* The same bytes gzip-compressed. */
    FILE *f = fopen(path, "rb");
    gzFile g = gzopen(gz, "wb");
    cr_assert(f && g);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) cr_assert_eq(gzwrite(g, buf, (unsigned)n), (int)n);
    fclose(f);
    cr_assert_eq(gzclose(g), Z_OK);
    for (int pass = 0; pass < 2; pass++) {
        dm_motif_set back;
        cr_assert_eq(dm_meme_read(pass ? gz : path, &back), DM_STATUS_OK, "%s", dm_last_error());
        cr_assert_eq(back.n, 5);
        for (int i = 0; i < 5; i++) {
            cr_assert_str_eq(back.m[i].id, m[i].id);
            cr_assert_str_eq(back.m[i].name, i == 3 ? "two_words" : m[i].name);
            cr_assert_eq(back.m[i].w, m[i].w);
            cr_assert_eq(back.m[i].nsites, m[i].nsites);
            for (int j = 0; j < m[i].w; j++) {
                const float *a = m[i].p + 4 * j;
                double sum = (double)a[0] + a[1] + a[2] + a[3];
                for (int b = 0; b < 4; b++)
                    cr_assert_float_eq(back.m[i].p[4 * j + b], a[b] / sum, 2e-6, "motif %d row %d", i + 1,
                                       j + 1);
            }
        }
        dm_motif_set_free(&back);
    }
    /* Identifiers must survive as one token. */
    snprintf(m[0].id, sizeof m[0].id, "bad id");
    cr_assert_eq(dm_meme_write(path, &s), DM_STATUS_ARG);
    for (int i = 0; i < 5; i++) free(m[i].p);
    dm_test_rmdir(dir);
    free(dir);
}

Test(meme, tolerant_of_what_the_format_allows) {
    char *dir = dm_test_tmpdir();
    /* CRLF, no ALPHABET, a log-odds section with its numbers, a rule and a URL after the matrix, a
     * row sum off by 5e-4, a last line without its newline. */
    const char *path =
        write_text(dir, "ok.meme",
                   "MEME version 5\r\n\r\nstrands: +\r\n"
                   "MOTIF one\r\n"
                   "log-odds matrix: alength= 4 w= 2\r\n 1 2 3 4\r\n 5 6 7 8\r\n"
                   "letter-probability matrix: alength= 4 w= 2 E= 1e-3\r\n"
                   " 0.1 0.2 0.3 0.4005\r\n 1 0 0 0\r\n"
                   "-----------\r\nURL http://example.org\r\n"
                   "MOTIF two TWO\nletter-probability matrix: w= 1 alength= 4 nsites= 7\n.25 .25 .25 .25");
    dm_motif_set s;
    cr_assert_eq(dm_meme_read(path, &s), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(s.n, 2);
    cr_assert_str_eq(s.m[0].name, "");
    cr_assert_eq(s.m[0].nsites, 0);
    cr_assert_float_eq(s.m[0].p[3], 0.4005 / 1.0005, 1e-6, "rows within 1e-3 are renormalised");
    cr_assert_float_eq(s.m[0].p[0] + s.m[0].p[1] + s.m[0].p[2] + s.m[0].p[3], 1.0f, 1e-6);
    cr_assert_str_eq(s.m[1].name, "TWO");
    cr_assert_eq(s.m[1].nsites, 7);
    dm_motif_set_free(&s);
    dm_test_rmdir(dir);
    free(dir);
}

/* One malformed file: FORMAT, and the message names file:line (line 0: a file without lines, named
 * as "file:"). */
static void expect_format_error(const char *dir, const char *text, int line, const char *what) {
    const char *path = write_text(dir, "bad.meme", text);
    char where[1100];
    if (line > 0) snprintf(where, sizeof where, "%s:%d:", path, line);
    else snprintf(where, sizeof where, "%s: ", path);
    dm_motif_set s = {7, NULL};
    cr_assert_eq(dm_meme_read(path, &s), DM_STATUS_FORMAT, "%s: accepted", what);
    cr_assert(strstr(dm_last_error(), where), "%s: '%s' does not name %s", what, dm_last_error(), where);
    cr_assert(s.n == 0 && s.m == NULL, "%s: a failed read leaves an empty set", what);
}

#define HDR "MEME version 4\n\nALPHABET= ACGT\n\n" /* lines 1-4 */

Test(meme, malformed_inputs_name_file_and_line) {
    char *dir = dm_test_tmpdir();
    expect_format_error(dir, "\nALPHABET= ACGT\nMOTIF a\n", 2, "missing MEME version line");
    expect_format_error(dir, "", 0, "empty file");
    expect_format_error(dir,
                        HDR "MOTIF a\nletter-probability matrix: alength= 4 w= 3\n"
                            "0.25 0.25 0.25 0.25\n0.25 0.25 0.25 0.25\nURL x\n",
                        9, "too few rows");
    expect_format_error(dir,
                        HDR "MOTIF a\nletter-probability matrix: alength= 4 w= 2\n"
                            "0.25 0.25 0.25 0.25\n0.25 0.25 0.25 0.25\n0.25 0.25 0.25 0.25\n",
                        9, "too many rows");
    expect_format_error(dir,
                        HDR "MOTIF a\nletter-probability matrix: alength= 4 w= 2\n"
                            "0.25 0.25 0.25 0.25\n0.5 0.5 0.5 0.5\n",
                        8, "bad row sum");
    expect_format_error(dir,
                        HDR "MOTIF a\nletter-probability matrix: alength= 4 w= 2\n"
                            "0.25 0.25 0.25 0.25\n0.25 0.25 abc 0.25\n",
                        8, "non-numeric entry");
    expect_format_error(dir,
                        HDR "MOTIF a\nletter-probability matrix: alength= 4 w= 1\n"
                            "0.25 0.25 0.5\n",
                        7, "three numbers");
    expect_format_error(dir,
                        HDR "MOTIF a\nletter-probability matrix: alength= 4 w= 1\n"
                            "-0.25 0.75 0.25 0.25\n",
                        7, "negative entry");
    expect_format_error(dir, HDR "MOTIF a\nletter-probability matrix: alength= 4\n", 6, "no w=");
    expect_format_error(dir, HDR "MOTIF a\nletter-probability matrix: alength= 20 w= 1\n", 6, "protein");
    expect_format_error(dir, "MEME version 4\nALPHABET= ACGU\n", 2, "RNA alphabet");
    expect_format_error(dir, HDR "MOTIF a\nMOTIF b\nletter-probability matrix: alength= 4 w= 1\n1 0 0 0\n", 5,
                        "MOTIF without a matrix");
    expect_format_error(dir, HDR "letter-probability matrix: alength= 4 w= 1\n1 0 0 0\n", 5,
                        "matrix before MOTIF");
    /* A missing file is an I/O error, not a format error. */
    dm_motif_set s;
    cr_assert_eq(dm_meme_read("/nonexistent/dir/x.meme", &s), DM_STATUS_IO);
    dm_test_rmdir(dir);
    free(dir);
}

/* ---- comparison -------------------------------------------------------------------------------- */

/* The column-shuffled null (--null shuffle) as the CLI runs it: min_overlap 5. These tests check
 * that null; TOMTOM's (the default) has tests/test_tomtom.c. */
static dm_compare_options shuffle_options(void) {
    dm_compare_options o;
    dm_compare_options_default(&o);
    o.null = DM_NULL_SHUFFLE;
    o.min_overlap = 5;
    return o;
}

/* Options for the JASPAR tests: the shuffle null, smaller to keep them quick. */
static dm_compare_options quick_options(void) {
    dm_compare_options o = shuffle_options();
    o.n_null = 2000;
    return o;
}

Test(compare, jaspar_motifs_find_themselves) {
    dm_motif_set db;
    load_jaspar(&db);
    /* CTCF, REST, USF1 and every 75th motif as queries (views into the database's matrices). */
    dm_motif qm[16];
    int nq = 0;
    const char *named[] = {"MA0139.1", "MA0138.2", "MA0093.3"};
    for (int k = 0; k < 3; k++) qm[nq++] = db.m[find_motif(&db, named[k])];
    for (int i = 0; i < db.n; i += 75) qm[nq++] = db.m[i];
    dm_motif_set q = {nq, qm};
    dm_compare_options o = quick_options();
    dm_hit *h;
    int n;
    compare_or_fail(&q, &db, &o, &h, &n);
    for (int k = 0; k < nq; k++) {
        /* The first hit of query k is its best. */
        int i = 0;
        while (i < n && h[i].query != k) i++;
        cr_assert(i < n, "%s: no hit at all", qm[k].id);
        cr_assert_str_eq(db.m[h[i].target].id, qm[k].id, "%s: best hit %s", qm[k].id, db.m[h[i].target].id);
        cr_assert_eq(h[i].orient, '+', "%s", qm[k].id);
        cr_assert_eq(h[i].offset, 0, "%s", qm[k].id);
        cr_assert_eq(h[i].overlap, qm[k].w, "%s", qm[k].id);
        cr_assert_float_eq(h[i].score, qm[k].w, 1e-3, "%s: a perfect Pearson match scores w", qm[k].id);
        cr_assert_lt(h[i].qvalue, 1e-6, "%s: q %g", qm[k].id, h[i].qvalue);
    }
    free(h);
    dm_motif_set_free(&db);
}

Test(compare, reverse_complement_matches_on_minus_strand) {
    dm_motif_set db;
    load_jaspar(&db);
    const char *ids[] = {"MA0139.1", "MA0138.2", "MA0006.1"}; /* CTCF, REST, Ahr::Arnt: not palindromes */
    dm_motif qm[3];
    for (int k = 0; k < 3; k++) qm[k] = motif_revcomp(&db.m[find_motif(&db, ids[k])]);
    dm_motif_set q = {3, qm};
    dm_compare_options o = quick_options();
    dm_hit *h;
    int n;
    compare_or_fail(&q, &db, &o, &h, &n);
    for (int k = 0; k < 3; k++) {
        int i = 0;
        while (i < n && h[i].query != k) i++;
        cr_assert(i < n, "%s: no hit", ids[k]);
        cr_assert_str_eq(db.m[h[i].target].id, ids[k]);
        cr_assert_eq(h[i].orient, '-', "%s", ids[k]);
        cr_assert_eq(h[i].offset, 0, "%s", ids[k]);
        free(qm[k].p);
    }
    free(h);
    dm_motif_set_free(&db);
}

/* Noisy copies of REST, CTCF and USF1, one column trimmed on each side, under one measure. */
static void noisy_copies_find_originals(int dist) {
    dm_motif_set db;
    load_jaspar(&db);
    /* USF1 gets less noise: JASPAR's USF2 (MA0526.3) differs from it by about 0.01-0.05 per entry,
     * so noise of that size makes the two equally good answers. */
    const char *ids[] = {"MA0138.2", "MA0139.1", "MA0093.3"};
    const double amp[] = {0.05, 0.05, 0.01};
    dm_motif qm[3];
    for (int k = 0; k < 3; k++) {
        const dm_motif *m = &db.m[find_motif(&db, ids[k])];
        qm[k] = motif_slice(m, 1, m->w - 2);
        add_noise(&qm[k], amp[k], (uint64_t)k);
    }
    dm_motif_set q = {3, qm};
    dm_compare_options o = quick_options();
    o.dist = dist;
    dm_hit *h;
    int n;
    compare_or_fail(&q, &db, &o, &h, &n);
    for (int k = 0; k < 3; k++) {
        int i = 0;
        while (i < n && h[i].query != k) i++;
        cr_assert(i < n, "%s: no hit", ids[k]);
        cr_assert_str_eq(db.m[h[i].target].id, ids[k], "%s (dist %d): best hit %s %s", ids[k], dist,
                         db.m[h[i].target].id, db.m[h[i].target].name);
        cr_assert_lt(h[i].qvalue, 0.05, "%s: q %g", ids[k], h[i].qvalue);
        cr_assert_eq(h[i].orient, '+');
        cr_assert_eq(h[i].offset, 1, "the trimmed query starts at the original's column 1");
        cr_assert_eq(h[i].overlap, qm[k].w);
        free(qm[k].p);
    }
    free(h);
    dm_motif_set_free(&db);
}

Test(compare, noisy_copies_find_originals_pearson) {
    noisy_copies_find_originals(DM_DIST_PEARSON);
}
Test(compare, noisy_copies_find_originals_euclid) {
    noisy_copies_find_originals(DM_DIST_EUCLID);
}

Test(compare, uninformative_queries_find_nothing) {
    dm_motif_set db;
    load_jaspar(&db);
    /* An exactly uniform query, and a nearly uniform one (a random pattern for Pearson). */
    float flat[4 * 12], near[4 * 12];
    for (int k = 0; k < 48; k++) flat[k] = near[k] = 0.25f;
    dm_motif qm[2] = {{.id = "uniform", .w = 12, .p = flat}, {.id = "near_uniform", .w = 12, .p = near}};
    add_noise(&qm[1], 0.01, 7);
    dm_motif_set q = {2, qm};
    /* Pearson only: under euclid a flat query is genuinely close to flat stretches of targets. */
    dm_compare_options o = quick_options();
    o.thresh = 1;
    o.top = db.n;
    dm_hit *h;
    int n;
    compare_or_fail(&q, &db, &o, &h, &n);
    cr_assert_eq(n, 2 * db.n, "thresh 1 reports every pair");
    for (int i = 0; i < n; i++)
        cr_assert_geq(h[i].qvalue, 0.05, "%s matches %s with q %g", qm[h[i].query].id, db.m[h[i].target].id,
                      h[i].qvalue);
    /* The uniform query scores 0 everywhere, so every p-value is 1. */
    for (int i = 0; i < db.n; i++) cr_assert_eq(h[i].pvalue, 1.0);
    free(h);
    dm_motif_set_free(&db);
}

Test(compare, pvalues_evalues_qvalues_obey_definitions) {
    dm_motif_set db;
    load_jaspar(&db);
    dm_motif qm[2] = {motif_slice(&db.m[find_motif(&db, "MA0139.1")], 2, 12),
                      motif_slice(&db.m[find_motif(&db, "MA0093.3")], 0, 9)};
    add_noise(&qm[0], 0.1, 11);
    add_noise(&qm[1], 0.1, 12);
    dm_motif_set q = {2, qm};
    dm_compare_options o = quick_options();
    o.thresh = 1;
    o.top = db.n;
    dm_hit *h;
    int n;
    compare_or_fail(&q, &db, &o, &h, &n);
    cr_assert_eq(n, 2 * db.n);
    for (int i = 0; i < n; i++) {
        cr_assert(h[i].pvalue > 0 && h[i].pvalue <= 1, "p %g", h[i].pvalue);
        cr_assert_float_eq(h[i].evalue, h[i].pvalue * db.n, 1e-12 * h[i].evalue, "E = p x targets");
        cr_assert_geq(h[i].qvalue, h[i].pvalue, "q %g < p %g", h[i].qvalue, h[i].pvalue);
        cr_assert_leq(h[i].qvalue, 1);
        cr_assert(h[i].orient == '+' || h[i].orient == '-');
        int wq = qm[h[i].query].w, wt = db.m[h[i].target].w, ov = wq < wt ? wq : wt;
        ov = ov < o.min_overlap ? ov : o.min_overlap;
        cr_assert(h[i].overlap >= ov && h[i].overlap <= (wq < wt ? wq : wt), "overlap %d", h[i].overlap);
        cr_assert(h[i].offset >= -(wq - ov) && h[i].offset <= wt - ov, "offset %d", h[i].offset);
        if (i > 0 && h[i].query == h[i - 1].query) {
            /* Sorted by p; q never decreases along p (Benjamini–Hochberg is monotone). */
            cr_assert_geq(h[i].pvalue, h[i - 1].pvalue);
            cr_assert_geq(h[i].qvalue, h[i - 1].qvalue);
        }
        if (i > 0) cr_assert_geq(h[i].query, h[i - 1].query, "sorted by query");
    }
    /* BH from its definition for the first query: q_(k) = min over j ≥ k of p_(j) m / j. */
    for (int k = 0; k < db.n; k++) {
        double best = 1;
        for (int j = k; j < db.n; j++) best = fmin(best, h[j].pvalue * db.n / (j + 1));
        cr_assert_float_eq(h[k].qvalue, best, 1e-12 * best);
    }
    /* top and thresh cut the same list. */
    free(h);
    o.top = 3;
    o.thresh = 0.5;
    compare_or_fail(&q, &db, &o, &h, &n);
    cr_assert(n >= 1 && n <= 6);
    for (int i = 0; i < n; i++) cr_assert_leq(h[i].qvalue, 0.5);
    free(h);
    free(qm[0].p);
    free(qm[1].p);
    dm_motif_set_free(&db);
}

Test(compare, pvalues_are_calibrated_on_a_synthetic_database) {
    /* 300 targets and 12 queries of independent random columns: under the null by construction, the
     * fraction of pairs with p ≤ α must be near α (the tail bound may only make it smaller; TOMTOM's
     * null treats overlapping alignments as independent, which the same bounds allow here). */
    enum { NT = 300, NQ = 12 };
    dm_motif *all = calloc(NT + NQ, sizeof *all);
    cr_assert(all);
    dm_rng r;
    dm_rng_init(&r, dm_test_seed(), 102, 0);
    for (int i = 0; i < NT + NQ; i++) {
        all[i].w = 6 + (int)dm_rng_below(&r, 10);
        snprintf(all[i].id, sizeof all[i].id, "r%d", i);
        all[i].p = malloc(sizeof(float) * 4 * (size_t)all[i].w);
        cr_assert(all[i].p);
        /* Sharpened random columns (u^3, renormalised), as informative as real motif columns. The
         * columns are independent of each other and of their target: the null hypothesis exactly. */
        for (int j = 0; j < all[i].w; j++) {
            double s = 0;
            for (int b = 0; b < 4; b++) {
                double u = dm_rng_uniform(&r);
                all[i].p[4 * j + b] = (float)(u * u * u);
                s += u * u * u;
            }
            for (int b = 0; b < 4; b++) all[i].p[4 * j + b] = (float)(all[i].p[4 * j + b] / s);
        }
    }
    dm_motif_set db = {NT, all}, q = {NQ, all + NT};
    /* Both nulls (TOMTOM's default, then the shuffle null), both similarities. */
    for (int run = 0; run < 4; run++) {
        int dist = run % 2;
        dm_compare_options o;
        if (run < 2)
            dm_compare_options_default(&o);
        else
            o = shuffle_options();
        o.dist = dist;
        o.n_null = 1000;
        o.thresh = 1;
        o.top = NT;
        dm_hit *h;
        int n;
        compare_or_fail(&q, &db, &o, &h, &n);
        cr_assert_eq(n, NT * NQ);
        /* 3600 pairs: the binomial s.d. is 0.0017 at α = 0.01, 0.0036 at 0.05, 0.0067 at 0.2. */
        int below01 = 0, below05 = 0, below20 = 0;
        for (int i = 0; i < n; i++) {
            below01 += h[i].pvalue <= 0.01;
            below05 += h[i].pvalue <= 0.05;
            below20 += h[i].pvalue <= 0.2;
        }
        double f01 = (double)below01 / n, f05 = (double)below05 / n, f20 = (double)below20 / n;
        cr_assert(f01 > 0.004 && f01 < 0.018, "null %d dist %d: fraction with p <= 0.01: %g", o.null, dist, f01);
        cr_assert(f05 > 0.03 && f05 < 0.07, "null %d dist %d: fraction with p <= 0.05: %g", o.null, dist, f05);
        cr_assert(f20 > 0.16 && f20 < 0.24, "null %d dist %d: fraction with p <= 0.2: %g", o.null, dist, f20);
        free(h);
    }
    for (int i = 0; i < NT + NQ; i++) free(all[i].p);
    free(all);
}

Test(compare, null_draws_from_the_whole_database) {
    /* Two 6-column targets, one all A, one all C; the query is all A. A random target (six columns
     * drawn from the 12 of the database) reaches the perfect score 6 only at offset 0 on '+' with
     * every column an A column (the '-' strand would need T columns): p = 2^-6 exactly. */
    float a[24], c[24];
    for (int j = 0; j < 6; j++)
        for (int b = 0; b < 4; b++) {
            a[4 * j + b] = b == 0 ? 0.97f : 0.01f;
            c[4 * j + b] = b == 1 ? 0.97f : 0.01f;
        }
    dm_motif tm[2] = {{.id = "C6", .w = 6, .p = c}, {.id = "A6", .w = 6, .p = a}},
             qm = {.id = "q", .w = 6, .p = a};
    dm_motif_set db = {2, tm}, q = {1, &qm};
    dm_compare_options o = shuffle_options();
    o.n_null = 20000;
    dm_hit *h;
    int n;
    compare_or_fail(&q, &db, &o, &h, &n);
    cr_assert_geq(n, 1);
    cr_assert_str_eq(db.m[h[0].target].id, "A6");
    cr_assert_float_eq(h[0].score, 6.0, 1e-6);
    /* Binomial s.d. of the count: sqrt(20000 · 2^-6 · (1 − 2^-6)) = 17.5, i.e. 0.0009 in p. */
    cr_assert(fabs(h[0].pvalue - 1.0 / 64) < 0.004, "p %g, expected 1/64", h[0].pvalue);
    free(h);
}

Test(compare, analytic_tail_is_conservative_but_close) {
    /* The width-10 motifs of JASPAR as the database (one null width keeps a large Monte Carlo
     * cheap). With n_null = 10 every p below 1/11 comes from the analytic tail; with 200,000 null
     * targets the same p-values are plain Monte Carlo counts. */
    dm_motif_set jaspar;
    load_jaspar(&jaspar);
    dm_motif *m10 = malloc(sizeof(dm_motif) * (size_t)jaspar.n);
    cr_assert(m10);
    int n10 = 0;
    for (int i = 0; i < jaspar.n; i++)
        if (jaspar.m[i].w == 10) m10[n10++] = jaspar.m[i];
    dm_motif_set db = {n10, m10}, q = {6, m10};
    dm_compare_options o = quick_options();
    o.thresh = 1;
    o.top = n10;
    dm_hit *mc, *an;
    int nmc, nan_;
    o.n_null = 200000;
    compare_or_fail(&q, &db, &o, &mc, &nmc);
    o.n_null = 10;
    compare_or_fail(&q, &db, &o, &an, &nan_);
    cr_assert_eq(nmc, nan_);
    /* Pair the lists by (query, target); compare where the Monte Carlo count is ≥ 40 but p < 0.01. */
    int compared = 0;
    for (int i = 0; i < nmc; i++) {
        if (mc[i].pvalue > 0.01 || mc[i].pvalue < 40.0 / 200001) continue;
        int j = 0;
        while (an[j].query != mc[i].query || an[j].target != mc[i].target) j++;
        cr_assert_eq(an[j].score, mc[i].score);
        double ratio = an[j].pvalue / mc[i].pvalue;
        cr_assert(ratio > 0.8 && ratio < 30, "%s vs %s: tail p %g, Monte Carlo p %g", q.m[mc[i].query].id,
                  db.m[mc[i].target].id, an[j].pvalue, mc[i].pvalue);
        compared++;
    }
    cr_assert_geq(compared, 5, "only %d pairs in the compared range", compared);
    free(mc);
    free(an);
    free(m10);
    dm_motif_set_free(&jaspar);
}

Test(compare, results_do_not_depend_on_threads_or_query_order) {
    dm_motif_set db;
    load_jaspar(&db);
    dm_motif qm[3] = {db.m[10], db.m[200], db.m[500]}, rev[3] = {db.m[500], db.m[200], db.m[10]};
    dm_motif_set q = {3, qm}, qr = {3, rev};
    dm_compare_options o = quick_options();
    o.n_null = 500;
    o.thresh = 1;
    o.top = db.n;
    dm_hit *a, *b;
    int na, nb;
    omp_set_num_threads(1);
    compare_or_fail(&q, &db, &o, &a, &na);
    omp_set_num_threads(3);
    compare_or_fail(&qr, &db, &o, &b, &nb);
    cr_assert_eq(na, nb);
    /* Query k of q is query 2 − k of qr: compare hit lists query by query. */
    int ia = 0;
    for (int k = 0; k < 3; k++) {
        int ib = 0;
        while (ib < nb && b[ib].query != 2 - k) ib++;
        for (; ia < na && a[ia].query == k; ia++, ib++) {
            cr_assert(ib < nb && b[ib].query == 2 - k);
            cr_assert_eq(a[ia].target, b[ib].target);
            cr_assert_eq(a[ia].pvalue, b[ib].pvalue, "p-values must be bit-identical");
            cr_assert_eq(a[ia].qvalue, b[ib].qvalue);
            cr_assert_eq(a[ia].offset, b[ib].offset);
        }
    }
    free(a);
    free(b);
    dm_motif_set_free(&db);
}

Test(compare, bad_arguments) {
    float p[4] = {0.25f, 0.25f, 0.25f, 0.25f};
    dm_motif m = {.id = "x", .w = 1, .p = p}, nomat = {.id = "y", .w = 3};
    dm_motif_set one = {1, &m}, empty = {0, NULL}, bad = {1, &nomat};
    dm_compare_options o;
    dm_compare_options_default(&o);
    dm_hit *h = (dm_hit *)&o;
    int n = 5;
    cr_assert_eq(dm_compare(&one, &empty, &o, &h, &n), DM_STATUS_ARG);
    cr_assert(h == NULL && n == 0);
    cr_assert_eq(dm_compare(&bad, &one, &o, &h, &n), DM_STATUS_ARG);
    o.n_null = 0;
    cr_assert_eq(dm_compare(&one, &one, &o, &h, &n), DM_STATUS_ARG);
    dm_compare_options_default(&o);
    p[2] = NAN;
    cr_assert_eq(dm_compare(&one, &one, &o, &h, &n), DM_STATUS_ARG);
    p[2] = 0.25f;
    dm_compare_options_default(&o);
    o.dist = 3;
    cr_assert_eq(dm_compare(&one, &one, &o, &h, &n), DM_STATUS_ARG);
    dm_compare_options_default(&o);
    o.null = 2;
    cr_assert_eq(dm_compare(&one, &one, &o, &h, &n), DM_STATUS_ARG);
    /* No queries: no hits, no error. */
    dm_compare_options_default(&o);
    cr_assert_eq(dm_compare(&empty, &one, &o, &h, &n), DM_STATUS_OK);
    cr_assert(h == NULL && n == 0);
}

/* ---- TSV --------------------------------------------------------------------------------------- */

Test(compare, tsv_has_header_rows_and_comment_lines) {
    dm_motif_set db;
    load_jaspar(&db);
    int ctcf = find_motif(&db, "MA0139.1");
    dm_motif qm[1] = {motif_revcomp(&db.m[ctcf])};
    snprintf(qm[0].id, sizeof qm[0].id, "ctcf_rc");
    dm_motif_set q = {1, qm};
    dm_compare_options o = quick_options();
    dm_hit *h;
    int n;
    compare_or_fail(&q, &db, &o, &h, &n);
    cr_assert_geq(n, 1);
    char *dir = dm_test_tmpdir();
    char path[1024];
    snprintf(path, sizeof path, "%s/hits.tsv", dir);
    cr_assert_eq(dm_compare_write_tsv(path, &q, &db, h, n, &o, "deepmotif compare --query q.meme"),
                 DM_STATUS_OK, "%s", dm_last_error());
    FILE *f = fopen(path, "r");
    cr_assert(f);
    char line[4096];
    cr_assert(fgets(line, sizeof line, f));
    cr_assert_str_eq(line, "Query_ID\tTarget_ID\tOptimal_offset\tp-value\tE-value\tq-value\tOverlap\t"
                           "Query_consensus\tTarget_consensus\tOrientation\n");
    int rows = 0, comments = 0;
    bool seen_version = false, seen_cmd = false, seen_sim = false, seen_thresh = false;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#') {
            comments++;
            seen_version |= strncmp(line, "# deepmotif ", 12) == 0 && strstr(line, dm_version());
            seen_cmd |= strstr(line, "deepmotif compare --query q.meme") != NULL;
            seen_sim |= strstr(line, "similarity: pearson") != NULL;
            seen_thresh |= strstr(line, "q-value <= 0.5") != NULL;
            continue;
        }
        cr_assert_eq(comments, 0, "rows come before the '#' lines");
        /* Ten tab-separated fields, matching the hit. */
        char *field[10], *save = NULL;
        int nf = 0;
        line[strcspn(line, "\n")] = '\0';
        for (char *t = strtok_r(line, "\t", &save); t && nf < 10; t = strtok_r(NULL, "\t", &save))
            field[nf++] = t;
        cr_assert_eq(nf, 10);
        const dm_hit *x = &h[rows];
        cr_assert_str_eq(field[0], "ctcf_rc");
        cr_assert_str_eq(field[1], db.m[x->target].id);
        cr_assert_eq(atoi(field[2]), x->offset);
        cr_assert_float_eq(strtod(field[3], NULL), x->pvalue, 1e-5 * x->pvalue);
        cr_assert_float_eq(strtod(field[5], NULL), x->qvalue, 1e-5 * x->qvalue);
        cr_assert_eq(atoi(field[6]), x->overlap);
        cr_assert_eq((int)strlen(field[7]), qm[0].w);
        cr_assert_eq((int)strlen(field[8]), db.m[x->target].w);
        cr_assert_eq(field[9][0], x->orient);
        if (rows == 0) {
            /* CTCF's reverse complement against CTCF on '-': both consensus strings read the same. */
            cr_assert_str_eq(field[1], "MA0139.1");
            cr_assert_str_eq(field[7], field[8]);
        }
        rows++;
    }
    fclose(f);
    cr_assert_eq(rows, n);
    cr_assert_eq(comments, 4);
    cr_assert(seen_version && seen_cmd && seen_sim && seen_thresh);
    free(h);
    free(qm[0].p);
    dm_motif_set_free(&db);
    dm_test_rmdir(dir);
    free(dir);
}
