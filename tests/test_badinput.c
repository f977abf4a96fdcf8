/*
 * test_badinput.c: the `deepmotif` program on bad input, table-driven. Every row is one command line
 * with a bad data file (each format, gzip and plain), model file, MEME database, output path or
 * option value, and says what must happen: the exit status (1 bad input, 2 usage error), substrings
 * of the one-line message (the file, and the line or byte where one applies), nothing on stdout,
 * and the output folder exactly as it was (names, kinds, sizes, inodes, mtimes, before and after;
 * every row plants the outputs it names there first, so a replaced or truncated file shows). The
 * fixture folder (the good and the bad inputs) is checked the same way after every row.
 *
 * The fixture is made once per test binary (a report hook in the runner process): a simulated data
 * set (`deepmotif simulate`), a CNN and an RNN trained on it for one epoch, a small MEME file, and
 * the bad files derived from them. The other tests check that undefined metrics are reported as
 * such: eval --json stays valid JSON (python3 -m json.tool), text says NA, nothing says nan.
 */
#define _GNU_SOURCE   /* strcasestr */
#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

#define FIXTURE_ENV "DM_TEST_BADINPUT_FIXTURE"

/* ---- small file helpers ------------------------------------------------------------------------ */

static char *read_all(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, m = 0;
    char *b = malloc(cap + 1);
    for (size_t got; b && (got = fread(b + m, 1, cap - m, f)) > 0;) {
        m += got;
        if (m == cap) {
            char *nb = realloc(b, 2 * cap + 1);
            if (!nb) {
                free(b);
                b = NULL;
                break;
            }
            b = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (b) b[m] = 0;
    if (n) *n = m;
    return b;
}

static int write_all(const char *dir, const char *name, const void *p, size_t n) {
    char path[8400];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(p, 1, n, f);
    return fclose(f) == 0 && w == n ? 0 : -1;
}

static int write_text(const char *dir, const char *name, const char *text) {
    return write_all(dir, name, text, strlen(text));
}

/* Line k (1-based) of text, without its newline, in a static buffer ("" past the end). */
static const char *line_of(const char *text, int k) {
    static char buf[4096];
    const char *p = text;
    for (int i = 1; i < k && p; i++) {
        p = strchr(p, '\n');
        if (p) p++;
    }
    if (!p) return strcpy(buf, "");
    size_t m = strcspn(p, "\n");
    snprintf(buf, sizeof buf, "%.*s", (int)m, p);
    return buf;
}

/* text with line k (1-based) replaced by `repl` (malloc'd). */
static char *replace_line(const char *text, int k, const char *repl) {
    const char *p = text;
    for (int i = 1; i < k && p; i++) {
        p = strchr(p, '\n');
        if (p) p++;
    }
    size_t head = p ? (size_t)(p - text) : strlen(text);
    const char *tail = p ? p + strcspn(p, "\n") : "";
    char *out = malloc(strlen(text) + strlen(repl) + 2);
    memcpy(out, text, head);
    strcpy(out + head, repl);
    strcat(out, tail);
    return out;
}

/* The first n lines of text (malloc'd). */
static char *first_lines(const char *text, int n) {
    const char *p = text;
    for (int i = 0; i < n && p && *p; i++) {
        p = strchr(p, '\n');
        if (p) p++;
    }
    size_t m = p ? (size_t)(p - text) : strlen(text);
    char *out = malloc(m + 1);
    memcpy(out, text, m);
    out[m] = 0;
    return out;
}

/* ---- the fixture --------------------------------------------------------------------------------- */

static const char good_meme[] =
    "MEME version 4\n"                                          /*  1 */
    "\n"                                                        /*  2 */
    "ALPHABET= ACGT\n"                                          /*  3 */
    "\n"                                                        /*  4 */
    "strands: + -\n"                                            /*  5 */
    "\n"                                                        /*  6 */
    "Background letter frequencies\n"                           /*  7 */
    "A 0.25 C 0.25 G 0.25 T 0.25\n"                             /*  8 */
    "\n"                                                        /*  9 */
    "MOTIF M1 one\n"                                            /* 10 */
    "letter-probability matrix: alength= 4 w= 4 nsites= 10 E= 0\n" /* 11 */
    " 0.7 0.1 0.1 0.1\n"                                        /* 12 */
    " 0.1 0.7 0.1 0.1\n"                                        /* 13 */
    " 0.1 0.1 0.7 0.1\n"                                        /* 14 */
    " 0.1 0.1 0.1 0.7\n"                                        /* 15 */
    "\n"                                                        /* 16 */
    "MOTIF M2 two\n"                                            /* 17 */
    "letter-probability matrix: alength= 4 w= 3 nsites= 10 E= 0\n" /* 18 */
    " 0.25 0.25 0.25 0.25\n"                                    /* 19 */
    " 0.1 0.1 0.1 0.7\n"                                        /* 20 */
    " 0.7 0.1 0.1 0.1\n";                                       /* 21 */

#define CLI_ENV "OMP_WAIT_POLICY=passive OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1"

/* Builds every input in a new folder; returns it (malloc'd), or NULL with the reason in why. */
static char *make_fixture(char *why, size_t whyn) {
    char *F = dm_test_tmpdir();
    if (!F) return snprintf(why, whyn, "no temporary folder"), NULL;
#define RUN(...)                                                                                   \
    do {                                                                                           \
        if (dm_test_system(__VA_ARGS__) != 0) {                                                    \
            snprintf(why, whyn, "fixture step failed: %s", #__VA_ARGS__);                          \
            return NULL;                                                                           \
        }                                                                                          \
    } while (0)
#define PUT(name, text)                                                                            \
    do {                                                                                           \
        if (write_text(F, name, text) != 0) {                                                      \
            snprintf(why, whyn, "cannot write %s/%s", F, name);                                    \
            return NULL;                                                                           \
        }                                                                                          \
    } while (0)
    /* good inputs: 60 simulated pairs of length 40, a CNN and an RNN after one epoch, a database */
    RUN(CLI_ENV " %s simulate --out %s/sim.tsv --n 60 --len 40 --seed 3 2>/dev/null", DM_TEST_CLI, F);
    RUN(CLI_ENV " %s train --arch cnn --train %s/sim.tsv --out %s/cnn.dm --epochs 1 --len 40 --batch 32 "
        "--device cpu --threads 1 --quiet > /dev/null", DM_TEST_CLI, F, F);
    RUN(CLI_ENV " %s train --arch rnn --train %s/sim.tsv --out %s/rnn.dm --epochs 1 --len 40 --batch 32 "
        "--device cpu --threads 1 --quiet > /dev/null", DM_TEST_CLI, F, F);
    PUT("good.meme", good_meme);
    RUN("mkdir %s/adir", F);

    char path[4200];
    snprintf(path, sizeof path, "%s/sim.tsv", F);
    char *sim = read_all(path, NULL);
    if (!sim) return snprintf(why, whyn, "cannot read %.400s", path), NULL;
    int nlines = 0;
    for (const char *p = sim; *p; p++) nlines += *p == '\n';

    /* DeepBind TSV (FoldID, EventID, seq, Bound): line 5 gets an X, line 3 a Bound of 2, line 4
     * loses its last column, the header a wrong column name */
    char l[4096], *t;
    snprintf(l, sizeof l, "%s", line_of(sim, 5));
    char *seq = strchr(strchr(l, '\t') + 1, '\t') + 1;
    seq[3] = 'X';
    PUT("d_badbase.tsv", t = replace_line(sim, 5, l));
    free(t);
    snprintf(l, sizeof l, "%s", line_of(sim, 3));
    l[strlen(l) - 1] = '2';
    PUT("d_badlabel.tsv", t = replace_line(sim, 3, l));
    free(t);
    snprintf(l, sizeof l, "%s", line_of(sim, 4));
    *strrchr(l, '\t') = 0;
    PUT("d_fewcols.tsv", t = replace_line(sim, 4, l));
    free(t);
    PUT("d_badheader.tsv", t = replace_line(sim, 1, "FoldID\tEventID\tsequence\tBound"));
    free(t);
    PUT("d_empty.tsv", "");
    PUT("d_blank.tsv", "\n\n\r\n\n");
    RUN("gzip -c %s/sim.tsv > %s/sim.tsv.gz", F, F);
    RUN("gzip -c %s/d_badbase.tsv > %s/d_badbase.tsv.gz", F, F);
    RUN("gzip -c %s/d_empty.tsv > %s/d_empty.tsv.gz", F, F);
    RUN("head -c $(( $(stat -c %%s %s/sim.tsv.gz) / 2 )) %s/sim.tsv.gz > %s/d_trunc.tsv.gz", F, F, F);
    /* a gzip header followed by bytes that are no deflate stream */
    static const char garbage[] = "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" "this is not deflate data at all....";
    if (write_all(F, "d_garbage.gz", garbage, sizeof garbage - 1)) return snprintf(why, whyn, "write failed"), NULL;
    PUT("d_binary.dat", "\x01\x02\x03\x7f\xfe\xff binary\n");
    /* only bound sequences (for train) */
    {
        size_t cap = strlen(sim) + 1, m = 0;
        char *pos = malloc(cap);
        m += (size_t)sprintf(pos + m, "%s\n", line_of(sim, 1));
        for (int k = 2; k <= nlines; k++) {
            const char *ln = line_of(sim, k);
            if (ln[strlen(ln) - 1] == '1') m += (size_t)sprintf(pos + m, "%s\n", ln);
        }
        PUT("pos.tsv", pos);
        free(pos);
        PUT("pair.tsv", t = first_lines(sim, 3));   /* the header and one positive with its shuffle */
        free(t);
    }

    /* labelled FASTA and two-column TSV of the same rows, and unlabelled FASTA */
    {
        size_t cap = 2 * strlen(sim) + 64;
        char *fa = malloc(cap), *tsv = malloc(cap), *ufa = malloc(cap);
        size_t a = 0, b = 0, c = 0;
        for (int k = 2; k <= nlines; k++) {
            char row[4096];
            snprintf(row, sizeof row, "%s", line_of(sim, k));
            char *f2 = strchr(row, '\t') + 1, *f3 = strchr(f2, '\t') + 1, *f4 = strchr(f3, '\t') + 1;
            f3[-1] = f4[-1] = 0;
            a += (size_t)sprintf(fa + a, ">%s\n%s\n", f4, f3);
            b += (size_t)sprintf(tsv + b, "%s\t%s\n", f3, f4);
            c += (size_t)sprintf(ufa + c, ">s%d\n%s\n", k - 1, f3);
        }
        PUT("lab.fa", fa);
        PUT("plain.fa", ufa);
        PUT("two.tsv", tsv);
        /* labelled FASTA: line 6 (the third record's sequence) gets an X; line 3 a header ">2";
         * record 1 loses its sequence (line 2) */
        snprintf(l, sizeof l, "%s", line_of(fa, 6));
        l[0] = 'X';
        PUT("lab_badbase.fa", t = replace_line(fa, 6, l));
        free(t);
        PUT("lab_badheader.fa", t = replace_line(fa, 3, ">2"));
        free(t);
        char *noseq = malloc(strlen(fa) + 1);
        snprintf(noseq, strlen(fa) + 1, "%s\n%s", line_of(fa, 1), strchr(strchr(fa, '\n') + 1, '\n') + 1);
        PUT("lab_emptyseq.fa", noseq);
        free(noseq);
        /* two-column TSV: line 3 a label 'x', line 2 a third column */
        snprintf(l, sizeof l, "%s", line_of(tsv, 3));
        l[strlen(l) - 1] = 'x';
        PUT("two_badlabel.tsv", t = replace_line(tsv, 3, l));
        free(t);
        snprintf(l, sizeof l, "%s\textra", line_of(tsv, 2));
        PUT("two_3col.tsv", t = replace_line(tsv, 2, l));
        free(t);
        free(fa);
        free(tsv);
        free(ufa);
    }
    RUN("gzip -c %s/lab_badbase.fa > %s/lab_badbase.fa.gz", F, F);
    RUN("gzip -c %s/two_badlabel.tsv > %s/two_badlabel.tsv.gz", F, F);
    free(sim);

    /* models: cut to 1000 bytes, one byte flipped in the middle (the CRC no longer matches), empty,
     * a text file, a newer format version (bytes 8..11), a resume file cut short */
    size_t n;
    snprintf(path, sizeof path, "%s/cnn.dm", F);
    unsigned char *m = (unsigned char *)read_all(path, &n);
    if (!m || n < 4096) return snprintf(why, whyn, "cannot read %.400s", path), NULL;
    if (write_all(F, "m_trunc.dm", m, 1000)) return snprintf(why, whyn, "write failed"), NULL;
    m[n / 2] ^= 0x40;
    if (write_all(F, "m_crc.dm", m, n)) return snprintf(why, whyn, "write failed"), NULL;
    m[n / 2] ^= 0x40;
    m[8] = 99;
    if (write_all(F, "m_newer.dm", m, n)) return snprintf(why, whyn, "write failed"), NULL;
    free(m);
    PUT("m_empty.dm", "");
    RUN("cp %s/sim.tsv %s/m_text.dm", F, F);
    RUN("head -c 5000 %s/cnn.dm.last > %s/m_trunc.dm.last", F, F);

    /* MEME: no header line, alphabet ACGU (line 3), a row summing to 0.8 (line 13), a row of five
     * numbers (line 14), the file ending after 2 of 3 rows, w= 0 (line 11), empty, no motifs, and a
     * gzip stream cut in half */
    PUT("db_noheader.meme", t = replace_line(good_meme, 1, "# motifs"));
    free(t);
    PUT("db_alpha.meme", t = replace_line(good_meme, 3, "ALPHABET= ACGU"));
    free(t);
    PUT("db_rowsum.meme", t = replace_line(good_meme, 13, " 0.5 0.1 0.1 0.1"));
    free(t);
    PUT("db_5col.meme", t = replace_line(good_meme, 14, " 0.1 0.1 0.7 0.1 0.0"));
    free(t);
    PUT("db_short.meme", t = first_lines(good_meme, 20));
    free(t);
    PUT("db_width.meme", t = replace_line(good_meme, 11, "letter-probability matrix: alength= 4 w= 0"));
    free(t);
    PUT("db_empty.meme", "");
    PUT("db_nomotifs.meme", t = first_lines(good_meme, 8));
    free(t);
    RUN("gzip -c %s/good.meme > %s/good.meme.gz && head -c $(( $(stat -c %%s %s/good.meme.gz) * 2 / 3 )) "
        "%s/good.meme.gz > %s/db_trunc.meme.gz", F, F, F, F, F);
#undef RUN
#undef PUT
    return F;
}

ReportHook(PRE_ALL)(struct criterion_test_set *set) {
    (void)set;
    char why[512] = "";
    char *F = make_fixture(why, sizeof why);
    if (F) setenv(FIXTURE_ENV, F, 1);
    else setenv(FIXTURE_ENV "_ERROR", why, 1);
    free(F);
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats) {
    (void)stats;
    dm_test_rmdir(getenv(FIXTURE_ENV));
}

static const char *fixture(void) {
    const char *F = getenv(FIXTURE_ENV);
    if (!F) cr_assert_fail("no fixture: %s", getenv(FIXTURE_ENV "_ERROR") ? getenv(FIXTURE_ENV "_ERROR") : "?");
    return F;
}

/* ---- folder snapshots ------------------------------------------------------------------------------ */

typedef struct snap {
    char **line;
    int n, cap;
} snap;

/* One line per entry under dir (recursively): relative path, kind, size, inode, mtime in ns. */
static void snap_walk(snap *s, const char *dir, const char *rel) {
    char path[4200];
    snprintf(path, sizeof path, "%s%s%s", dir, rel[0] ? "/" : "", rel);
    DIR *d = opendir(path);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char r[4200], p[8400];
        snprintf(r, sizeof r, "%s%s%s", rel, rel[0] ? "/" : "", e->d_name);
        snprintf(p, sizeof p, "%s/%s", dir, r);
        struct stat st;
        if (lstat(p, &st) != 0) continue;
        char buf[4400];
        snprintf(buf, sizeof buf, "%s %c %lld ino %llu mtime %lld.%09ld", r, S_ISDIR(st.st_mode) ? 'd' : 'f',
                 (long long)st.st_size, (unsigned long long)st.st_ino, (long long)st.st_mtim.tv_sec,
                 st.st_mtim.tv_nsec);
        if (s->n == s->cap) {
            s->cap = s->cap ? 2 * s->cap : 64;
            s->line = realloc(s->line, sizeof(char *) * (size_t)s->cap);
        }
        s->line[s->n++] = strdup(buf);
        if (S_ISDIR(st.st_mode)) snap_walk(s, dir, r);
    }
    closedir(d);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static snap snap_take(const char *dir) {
    snap s = {0};
    snap_walk(&s, dir, "");
    if (s.n) qsort(s.line, (size_t)s.n, sizeof(char *), cmp_str);
    return s;
}

static void snap_free(snap *s) {
    for (int i = 0; i < s->n; i++) free(s->line[i]);
    free(s->line);
    memset(s, 0, sizeof *s);
}

/* The first difference between two snapshots, or NULL when they are equal. */
static const char *snap_diff(const snap *a, const snap *b) {
    static char buf[9000];
    int i = 0, j = 0;
    while (i < a->n || j < b->n) {
        int c = i >= a->n ? 1 : j >= b->n ? -1 : strcmp(a->line[i], b->line[j]);
        if (c == 0) {
            i++, j++;
            continue;
        }
        if (c < 0) snprintf(buf, sizeof buf, "before only: %s", a->line[i]);
        else snprintf(buf, sizeof buf, "after only: %s", b->line[j]);
        return buf;
    }
    return NULL;
}

/* ---- the table ------------------------------------------------------------------------------------- */

/* Rows that need permissions to bite (skipped as root, who reads and writes anyway): @O/ro is made
 * read-only for the run; the planted files @O/noread* unreadable. */
enum { ROW_READONLY = 1, ROW_NOREAD = 2 };

typedef struct row {
    const char *args;     /* after `deepmotif`; @F is the fixture folder, @O the row's output folder */
    int code;             /* exit status: 1 bad input, 2 usage error */
    const char *want[3];  /* substrings of the message (stderr's first line) */
    const char *plant;    /* entries in @O before the run, space-separated; "x/" is a folder */
    int flags;
} row;

/* rows leave the fields they do not need (plant, flags, want[1..]) to their zero default */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
static const row rows[] = {
    /* ---- data files: every format, plain and gzip ---- */
    {"eval --model @F/cnn.dm --data @F/missing.tsv", 1, {"@F/missing.tsv: ", "No such file"}},
    {"eval --model @F/cnn.dm --data @F/adir", 1, {"@F/adir: is a directory"}},
    {"eval --model @F/cnn.dm --data @F/d_empty.tsv", 1, {"@F/d_empty.tsv: ", "empty"}},
    {"eval --model @F/cnn.dm --data @F/d_empty.tsv.gz", 1, {"@F/d_empty.tsv.gz: ", "empty"}},
    {"eval --model @F/cnn.dm --data @F/d_blank.tsv", 1, {"@F/d_blank.tsv: ", "no sequences"}},
    {"eval --model @F/cnn.dm --data @O/noread.tsv", 1, {"@O/noread.tsv: ", "Permission denied"}, "noread.tsv", ROW_NOREAD},
    {"predict --model @F/cnn.dm --data @F/d_badbase.tsv --out @O/p.tsv", 1,
     {"@F/d_badbase.tsv:5: ", "invalid base 'X'"}, "p.tsv"},
    {"predict --model @F/cnn.dm --data @F/d_badbase.tsv --out /dev/null", 1, {"@F/d_badbase.tsv:5: "}},
    {"predict --model @F/cnn.dm --data @F/d_badbase.tsv.gz --out @O/p.tsv", 1,
     {"@F/d_badbase.tsv.gz:5: ", "invalid base 'X'"}, "p.tsv"},
    {"predict --model @F/cnn.dm --data @F/d_trunc.tsv.gz --out @O/p.tsv", 1,
     {"@F/d_trunc.tsv.gz: ", "truncated", "uncompressed bytes"}, "p.tsv"},
    {"predict --model @F/cnn.dm --data @F/d_garbage.gz --out @O/p.tsv", 1, {"@F/d_garbage.gz: "}, "p.tsv"},
    {"predict --model @F/cnn.dm --data @F/d_binary.dat --out @O/p.tsv", 1, {"@F/d_binary.dat:1: "}, "p.tsv"},
    {"eval --model @F/cnn.dm --data @F/d_badlabel.tsv", 1, {"@F/d_badlabel.tsv:3: ", "Bound must be 0 or 1"}},
    {"eval --model @F/cnn.dm --data @F/d_fewcols.tsv", 1, {"@F/d_fewcols.tsv:4: ", "expected 4"}},
    {"eval --model @F/cnn.dm --data @F/d_badheader.tsv", 1, {"@F/d_badheader.tsv:1: ", "DeepBind header"}},
    {"saliency --model @F/cnn.dm --data @F/lab_badbase.fa --out @O/s", 1, {"@F/lab_badbase.fa:6: ", "invalid base"},
     "s.npy s.tsv"},
    {"saliency --model @F/cnn.dm --data @F/lab_badbase.fa.gz --out @O/s", 1, {"@F/lab_badbase.fa.gz:6: "},
     "s.npz s.onehot.npy"},
    {"eval --model @F/cnn.dm --data @F/lab_badheader.fa", 1, {"@F/lab_badheader.fa:3: ", "'>1' or '>0'"}},
    {"eval --model @F/cnn.dm --data @F/lab_emptyseq.fa", 1, {"@F/lab_emptyseq.fa:1: ", "empty sequence"}},
    {"temporal --model @F/rnn.dm --data @F/two_badlabel.tsv --out @O/t", 1, {"@F/two_badlabel.tsv:3: ", "label"},
     "t.npy t.tsv"},
    {"temporal --model @F/rnn.dm --data @F/two_badlabel.tsv.gz --out @O/t", 1, {"@F/two_badlabel.tsv.gz:3: "},
     "t.tsv"},
    {"motifs --model @F/cnn.dm --data @F/two_3col.tsv --out @O/m", 1, {"@F/two_3col.tsv:2: ", "expected 2"},
     "m.meme"},
    {"eval --model @F/cnn.dm --data @F/plain.fa", 1, {"@F/plain.fa: ", "labelled"}},
    {"train --arch cnn --len 40 --train @F/plain.fa --out @O/m.dm", 1, {"@F/plain.fa: ", "no 0/1 label"},
     "m.dm m.dm.last"},
    {"train --arch cnn --len 40 --train @F/pos.tsv --out @O/m.dm", 1, {"@F/pos.tsv: ", "only bound"},
     "m.dm m.dm.last"},
    {"train --arch cnn --len 40 --train @F/d_badbase.tsv.gz --out @O/m.dm", 1, {"@F/d_badbase.tsv.gz:5: "},
     "m.dm"},
    {"train --arch cnn --len 40 --train @F/pair.tsv --valid-frac 0.5 --out @O/m.dm", 1,
     {"@F/pair.tsv: ", "no training sequences are left"}, "m.dm"},
    {"train --arch cnn --len 40 --train @F/sim.tsv --test @F/d_badlabel.tsv --out @O/m.dm --epochs 1", 1,
     {"@F/d_badlabel.tsv:3: "}, "m.dm m.dm.last"},
    {"train --arch cnn --len 40 --train @F/sim.tsv --test @F/plain.fa --out @O/m.dm --epochs 1", 1,
     {"@F/plain.fa: ", "labelled"}, "m.dm"},
    {"dashboard --model @F/cnn.dm --data @F/d_trunc.tsv.gz --out @O/dash", 1, {"@F/d_trunc.tsv.gz: "}},
    {"dashboard --model @F/cnn.dm --data @F/lab_badbase.fa --out @O/dash", 1, {"@F/lab_badbase.fa:6: "}, "dash/"},

    /* ---- model files ---- */
    {"eval --model @F/m_trunc.dm --data @F/sim.tsv", 1, {"@F/m_trunc.dm: ", "truncated", "at byte"}},
    {"eval --model @F/m_crc.dm --data @F/sim.tsv", 1, {"@F/m_crc.dm: ", "checksum mismatch", "at byte"}},
    {"predict --model @F/adir --data @F/sim.tsv --out @O/p.tsv", 1, {"@F/adir: is a directory"}, "p.tsv"},
    {"saliency --model @F/m_empty.dm --data @F/sim.tsv --out @O/s", 1, {"@F/m_empty.dm: ", "empty"}, "s.npy"},
    {"optimize --model @F/m_text.dm --out @O/o", 1, {"@F/m_text.dm: ", "not a deepmotif model"}, "o.meme"},
    {"eval --model @F/m_newer.dm --data @F/sim.tsv", 1, {"@F/m_newer.dm: ", "newer"}},
    {"eval --model @F/missing.dm --data @F/sim.tsv", 1, {"@F/missing.dm: ", "No such file"}},
    {"eval --model @O/noread.dm --data @F/sim.tsv", 1, {"@O/noread.dm: ", "Permission denied"}, "noread.dm", ROW_NOREAD},
    {"temporal --model @F/cnn.dm --data @F/sim.tsv --out @O/t", 1, {"@F/cnn.dm: ", "temporal scores need a recurrent one (rnn"}, "t.npy t.tsv"},
    {"motifs --model @F/rnn.dm --data @F/sim.tsv --out @O/m", 1, {"@F/rnn.dm: ", "no convolution filters"}, "m.meme"},
    {"train --arch cnn --resume @F/rnn.dm.last --train @F/sim.tsv --out @O/m.dm --epochs 2", 1,
     {"@F/rnn.dm.last: ", "architecture is rnn", "--arch cnn"}, "m.dm m.dm.last"},
    {"train --resume @F/cnn.dm --train @F/sim.tsv --out @O/m.dm --epochs 2", 1, {"@F/cnn.dm: ", "no resume state"},
     "m.dm m.dm.last"},
    {"train --resume @F/m_trunc.dm.last --train @F/sim.tsv --out @O/m.dm --epochs 2", 1,
     {"@F/m_trunc.dm.last: ", "truncated"}, "m.dm.last"},
    {"train --resume @F/cnn.dm.last --len 50 --train @F/sim.tsv --out @O/m.dm --epochs 2", 1,
     {"@F/cnn.dm.last: ", "--len 50"}, "m.dm"},
    {"dashboard --model @F/cnn.dm --model @F/m_crc.dm --data @F/sim.tsv --out @O/dash", 1, {"@F/m_crc.dm: "}},
    {"dashboard --model @F/m_missing.dm --data @F/sim.tsv --out @O/dash", 1, {"@F/m_missing.dm: "}, "dash/"},

    /* ---- MEME databases ---- */
    {"compare --query @F/db_noheader.meme --db @F/good.meme --out @O/h.tsv", 1,
     {"@F/db_noheader.meme:", "not a motif file"}, "h.tsv"},
    {"compare --query @F/good.meme --db @F/db_alpha.meme --out @O/h.tsv", 1, {"@F/db_alpha.meme:3: ", "alphabet"},
     "h.tsv"},
    {"compare --query @F/good.meme --db @F/db_rowsum.meme --out @O/h.tsv", 1, {"@F/db_rowsum.meme:13: ", "sums to"},
     "h.tsv"},
    {"compare --query @F/db_5col.meme --db @F/good.meme --out @O/h.tsv", 1,
     {"@F/db_5col.meme:14: ", "more than 4 numbers"}},
    {"compare --query @F/good.meme --db @F/db_short.meme --out @O/h.tsv", 1, {"@F/db_short.meme:", "2 of w= 3"}},
    {"compare --query @F/good.meme --db @F/db_width.meme --out @O/h.tsv", 1, {"@F/db_width.meme:11: ", "w= 0"}},
    {"compare --query @F/good.meme --db @F/db_empty.meme --out @O/h.tsv", 1, {"@F/db_empty.meme: ", "empty"},
     "h.tsv"},
    {"compare --query @F/good.meme --db @F/db_nomotifs.meme --out @O/h.tsv", 1,
     {"@F/db_nomotifs.meme: ", "no motifs"}},
    {"compare --query @F/good.meme --db @F/db_trunc.meme.gz --out @O/h.tsv", 1, {"@F/db_trunc.meme.gz:", "gzip file is truncated"}},
    {"compare --query @F/adir --db @F/good.meme --out @O/h.tsv", 1, {"@F/adir: is a directory"}},
    {"compare --query @F/good.meme --db @O/noread.meme --out @O/h.tsv", 1, {"@O/noread.meme: ", "Permission denied"},
     "noread.meme h.tsv", ROW_NOREAD},
    {"optimize --model @F/cnn.dm --db @F/db_alpha.meme --out @O/o --steps 2", 1, {"@F/db_alpha.meme:3: "},
     "o.meme o.trajectory.tsv o.fa o.hits.tsv"},
    {"optimize --model @F/cnn.dm --db @F/db_rowsum.meme --out @O/o --steps 2", 1, {"@F/db_rowsum.meme:13: "}},
    {"motifs --model @F/cnn.dm --data @F/sim.tsv --db @F/db_alpha.meme --out @O/m --min-sites 1", 1,
     {"@F/db_alpha.meme:3: "}, "m.meme m.hits.tsv"},
    {"motifs --model @F/cnn.dm --data @F/sim.tsv --db @F/db_5col.meme --out @O/m --min-sites 1", 1,
     {"@F/db_5col.meme:14: "}},
    {"dashboard --model @F/cnn.dm --data @F/sim.tsv --db @F/db_noheader.meme --out @O/dash", 1,
     {"@F/db_noheader.meme:"}},

    /* ---- outputs that cannot be written ---- */
    {"predict --model @F/cnn.dm --data @F/sim.tsv --out @O/nodir/p.tsv", 1, {"@O/nodir/p.tsv: ", "No such file"},
     "p.tsv"},
    {"predict --model @F/cnn.dm --data @F/sim.tsv --out @O/p.tsv", 1, {"@O/p.tsv: cannot write: Is a directory"}, "p.tsv/"},
    {"saliency --model @F/cnn.dm --data @F/sim.tsv --out @O/s", 1, {"@O/s.npz: cannot write: Is a directory"}, "s.npy s.npz/"},
    {"temporal --model @F/rnn.dm --data @F/sim.tsv --out @O/x/t", 1, {"@O/x/t.npy: ", "Not a directory"}, "x"},
    {"optimize --model @F/cnn.dm --db @F/good.meme --out @O/o --steps 2", 1, {"@O/o.hits.tsv: cannot write: Is a directory"},
     "o.meme o.fa o.hits.tsv/"},
    {"motifs --model @F/cnn.dm --data @F/sim.tsv --out @O/nodir/m", 1, {"@O/nodir/m.meme: "}},
    {"compare --query @F/good.meme --db @F/good.meme --out @O/h.tsv", 1, {"@O/h.tsv: cannot write: Is a directory"}, "h.tsv/"},
    {"simulate --out @O/nodir/s.tsv --n 10", 1, {"@O/nodir/s.tsv: "}},
    {"train --arch cnn --len 40 --train @F/sim.tsv --out @O/m.dm --epochs 1", 1, {"@O/m.dm.last: cannot write: Is a directory"},
     "m.dm m.dm.last/"},
    {"dashboard --model @F/cnn.dm --data @F/sim.tsv --out @O/dash", 1, {"@O/dash: ", "not a directory"}, "dash"},
    {"dashboard --index @F/adir --out @O/nodir/idx", 1, {"@O/nodir/idx: "}},
    {"predict --model @F/cnn.dm --data @F/sim.tsv --out @O/ro/p.tsv", 1, {"@O/ro/p.tsv: ", "Permission denied"},
     "ro/ ro/p.tsv", ROW_READONLY},

    /* ---- option values (usage errors) ---- */
    {"train --arch cnn --train @F/sim.tsv --out @O/m.dm --epochs 0", 2, {"--epochs"}, "m.dm"},
    {"train --arch lstm --train @F/sim.tsv --out @O/m.dm", 2, {"lstm"}},
    {"train --arch cnn --train @F/sim.tsv --out @O/m.dm --valid-frac 1.5", 2, {"--valid-frac"}},
    {"train --arch cnn --train @F/sim.tsv --out @O/m.dm --lr fast", 2, {"--lr"}},
    {"eval --model @F/cnn.dm --data @F/sim.tsv --device tpu", 2, {"--device"}},
    {"predict --model @F/cnn.dm --data @F/sim.tsv --out @O/p.tsv --n-policy half", 2, {"--n-policy"}, "p.tsv"},
    {"saliency --model @F/cnn.dm --data @F/sim.tsv --out @O/s --method magic", 2, {"magic"}},
    {"saliency --model @F/cnn.dm --data @F/sim.tsv --out @O/s --steps 0", 2, {"--steps"}},
    {"temporal --model @F/rnn.dm --data @F/sim.tsv --out @O/t --batch 0", 2, {"--batch"}},
    {"optimize --model @F/cnn.dm --out @O/o --steps -1", 2, {"--steps"}},
    {"optimize --model @F/cnn.dm --out @O/o --param sigmoid", 2, {"--param"}},
    {"motifs --model @F/cnn.dm --data @F/sim.tsv --out @O/m --frac 2", 2, {"--frac"}},
    {"compare --query @F/good.meme --db @F/good.meme --out @O/h.tsv --thresh 2", 2, {"--thresh"}},
    {"compare --query @F/good.meme --db @F/good.meme --out @O/h.tsv --dist cosine", 2, {"--dist"}},
    {"simulate --out @O/s.tsv --n 0", 2, {"--n"}, "s.tsv"},
    {"simulate --out @O/s.tsv --motifs NOSUCH", 2, {"NOSUCH"}, "s.tsv"},
    {"dashboard --model @F/cnn.dm --data @F/sim.tsv --out @O/dash --top 0", 2, {"--top"}},
    {"eval --model @F/cnn.dm", 2, {"missing --data"}},
};
#pragma GCC diagnostic pop

/* s with @F and @O replaced. */
static void expand(char *out, size_t n, const char *s, const char *F, const char *O) {
    size_t m = 0;
    for (; *s && m + 1 < n; s++) {
        if (s[0] == '@' && (s[1] == 'F' || s[1] == 'O')) {
            m += (size_t)snprintf(out + m, n - m, "%s", s[1] == 'F' ? F : O);
            s++;
        } else {
            out[m++] = *s;
        }
        if (m >= n) m = n - 1;
    }
    out[m] = 0;
}

/* Creates the planted entries of a row in O: files hold "old output\n", "x/" entries are folders. */
static void plant(const char *O, const char *list) {
    char buf[4400];
    snprintf(buf, sizeof buf, "%s", list ? list : "");
    for (char *tok = strtok(buf, " "); tok; tok = strtok(NULL, " ")) {
        size_t k = strlen(tok);
        if (tok[k - 1] == '/') {
            tok[k - 1] = 0;
            cr_assert_eq(dm_test_system("mkdir -p '%s/%s'", O, tok), 0);
        } else {
            cr_assert_eq(write_text(O, tok, "old output\n"), 0);
        }
    }
    cr_assert_eq(write_text(O, "unrelated.txt", "not an output of the command\n"), 0);
}

/* Runs row i; true when everything held. Failures are reported with cr_expect (the table goes on). */
static bool run_row(int i, const char *F, const char *R, int *skipped) {
    const row *rw = &rows[i];
    if ((rw->flags & (ROW_READONLY | ROW_NOREAD)) && geteuid() == 0) {
        cr_log_info("row %d skipped (root reads and writes past permissions): %s", i + 1, rw->args);
        ++*skipped;
        return true;
    }
    char O[4200], args[8192];
    snprintf(O, sizeof O, "%s/row%02d", R, i + 1);
    cr_assert_eq(dm_test_system("mkdir -p '%s'", O), 0);
    plant(O, rw->plant);
    if (rw->flags & ROW_READONLY) cr_assert_eq(dm_test_system("chmod 555 '%s/ro'", O), 0);
    if (rw->flags & ROW_NOREAD) cr_assert_eq(dm_test_system("chmod 000 '%s'/noread*", O), 0);
    expand(args, sizeof args, rw->args, F, O);
    snap before = snap_take(O), fbefore = snap_take(F);
    int code = dm_test_system("cd '%s' && " CLI_ENV " %s %s > '%s/stdout' 2> '%s/stderr'", R, DM_TEST_CLI, args, R, R);
    snap after = snap_take(O), fafter = snap_take(F);
    if (rw->flags & ROW_READONLY) dm_test_system("chmod 755 '%s/ro'", O);
    if (rw->flags & ROW_NOREAD) dm_test_system("chmod 644 '%s'/noread*", O);

    char path[4300];
    snprintf(path, sizeof path, "%s/stderr", R);
    char *err = read_all(path, NULL);
    snprintf(path, sizeof path, "%s/stdout", R);
    char *out = read_all(path, NULL);
    err = err ? err : strdup("");
    out = out ? out : strdup("");
    int lines = 0;
    for (const char *p = err; *p; p++) lines += *p == '\n';
    char first[2048];
    snprintf(first, sizeof first, "%.*s", (int)strcspn(err, "\n"), err);

    bool ok = true;
#define CHECK_ROW(cond, ...)                                                                       \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            ok = false;                                                                            \
            cr_expect(cond, __VA_ARGS__);                                                          \
        }                                                                                          \
    } while (0)
    CHECK_ROW(code == rw->code, "row %d: exit %d, expected %d: %s\n  stderr: %s", i + 1, code, rw->code, args, err);
    /* bad input: one line; a usage error: its line and the "Try --help" line */
    CHECK_ROW(rw->code == 2 ? lines >= 1 && lines <= 2 : lines == 1, "row %d: %d lines on stderr: %s\n%s", i + 1,
              lines, args, err);
    CHECK_ROW(out[0] == 0, "row %d: output on stdout: %s\n%s", i + 1, args, out);
    for (int k = 0; k < 3 && rw->want[k]; k++) {
        char want[4400];
        expand(want, sizeof want, rw->want[k], F, O);
        CHECK_ROW(strstr(first, want) != NULL, "row %d: message lacks '%s': %s\n  %s", i + 1, want, args, first);
    }
    const char *d = snap_diff(&before, &after);
    CHECK_ROW(d == NULL, "row %d: the output folder changed (%s): %s", i + 1, d ? d : "", args);
    d = snap_diff(&fbefore, &fafter);
    CHECK_ROW(d == NULL, "row %d: the fixture folder changed (%s): %s", i + 1, d ? d : "", args);
#undef CHECK_ROW
    snap_free(&before);
    snap_free(&after);
    snap_free(&fbefore);
    snap_free(&fafter);
    free(err);
    free(out);
    return ok;
}

Test(badinput, table, .timeout = 600) {
    const char *F = fixture();
    char *R = dm_test_tmpdir();
    cr_assert(R);
    int n = (int)(sizeof rows / sizeof rows[0]), passed = 0, skipped = 0;
    cr_assert_geq(n, 40);
    for (int i = 0; i < n; i++) passed += run_row(i, F, R, &skipped);
    struct stat st;   /* the device output of a row is written in place, never replaced */
    cr_expect(stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode), "/dev/null is no longer a device");
    fprintf(stderr, "bad-input table: %d rows, %d passed (%d of them skipped)\n", n, passed, skipped);
    cr_log_info("bad-input table: %d rows, %d passed (%d of them skipped)", n, passed, skipped);
    cr_expect_eq(passed, n);
    dm_test_rmdir(R);
    free(R);
}

/* ---- undefined metrics --------------------------------------------------------------------------- */

/* Runs the CLI in a new folder R; returns the exit status; stdout and stderr in R/stdout, R/stderr. */
static int cli_in(const char *R, const char *args) {
    return dm_test_system("cd '%s' && " CLI_ENV " %s %s > '%s/stdout' 2> '%s/stderr'", R, DM_TEST_CLI, args, R, R);
}

static char *text_of(const char *R, const char *name) {
    char path[4300];
    snprintf(path, sizeof path, "%s/%s", R, name);
    char *t = read_all(path, NULL);
    return t ? t : strdup("");
}

/* True when `nan` (any case) appears in text as a word of its own. */
static bool says_nan(const char *text) {
    for (const char *p = text; (p = strcasestr(p, "nan")); p += 3) {
        bool left = p == text || !(p[-1] == '_' || (p[-1] >= 'a' && p[-1] <= 'z') || (p[-1] >= 'A' && p[-1] <= 'Z') ||
                                   (p[-1] >= '0' && p[-1] <= '9'));
        char c = p[3];
        bool right = !(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'));
        if (left && right) return true;
    }
    return false;
}

Test(badinput, eval_json_is_valid_json_and_undefined_metrics_are_null, .timeout = 120) {
    const char *F = fixture();
    if (dm_test_system("python3 -c '' 2> /dev/null") != 0) cr_skip_test("python3 is absent: JSON check skipped");
    char *R = dm_test_tmpdir();
    cr_assert(R);
    /* data sets: both classes; only bound; only unbound; one sequence */
    cr_assert_eq(dm_test_system("cd '%s' && awk -F'\\t' 'NR == 1 || $4 == 0' sim.tsv > '%s/neg.tsv' && "
                                "head -2 sim.tsv > '%s/one.tsv'", F, R, R), 0);
    struct {
        char data[4300];
        const char *auroc_why, *auprc_why;   /* NULL: defined */
    } cases[4] = {
        {"", NULL, NULL},
        {"", "AUROC undefined: the data hold only bound sequences", NULL},
        {"", "AUROC undefined: the data hold only unbound sequences", "AUPRC undefined: the data hold only unbound"},
        {"", "AUROC undefined: the data hold one sequence", NULL},
    };
    snprintf(cases[0].data, sizeof cases[0].data, "%s/sim.tsv", F);
    snprintf(cases[1].data, sizeof cases[1].data, "%s/pos.tsv", F);
    snprintf(cases[2].data, sizeof cases[2].data, "%s/neg.tsv", R);
    snprintf(cases[3].data, sizeof cases[3].data, "%s/one.tsv", R);
    for (int c = 0; c < 4; c++) {
        char a[20000];
        /* --device cpu: a CUDA build without a usable GPU adds its notice of the fallback to stderr */
        snprintf(a, sizeof a, "eval --model %s/cnn.dm --data %s --json --device cpu", F, cases[c].data);
        cr_assert_eq(cli_in(R, a), 0, "%s: %s", a, text_of(R, "stderr"));
        char *out = text_of(R, "stdout"), *err = text_of(R, "stderr");
        cr_expect_eq(dm_test_system("python3 -m json.tool < '%s/stdout' > /dev/null 2>&1", R), 0,
                     "not JSON: %s", out);
        cr_expect(!says_nan(out) && !says_nan(err), "nan: %s %s", out, err);
        cr_expect((strstr(out, "\"auroc\": null") != NULL) == (cases[c].auroc_why != NULL), "%s", out);
        cr_expect((strstr(out, "\"auprc\": null") != NULL) == (cases[c].auprc_why != NULL), "%s", out);
        if (cases[c].auroc_why) {
            /* the warning names the file and says why */
            cr_expect(strstr(err, cases[c].auroc_why) && strstr(err, cases[c].data) && strstr(err, "warning"),
                      "%s", err);
        } else {
            cr_expect(err[0] == 0, "no warning expected: %s", err);
        }
        if (cases[c].auprc_why) cr_expect(strstr(err, cases[c].auprc_why) != NULL, "%s", err);
        free(out);
        free(err);
        /* text: NA */
        snprintf(a, sizeof a, "eval --model %s/cnn.dm --data %s", F, cases[c].data);
        cr_assert_eq(cli_in(R, a), 0);
        out = text_of(R, "stdout");
        cr_expect(!says_nan(out), "%s", out);
        cr_expect((strstr(out, "AUROC NA\n") != NULL) == (cases[c].auroc_why != NULL), "%s", out);
        free(out);
    }
    dm_test_rmdir(R);
    free(R);
}

Test(badinput, train_test_metrics_and_dashboard_never_say_nan, .timeout = 300) {
    const char *F = fixture();
    char *R = dm_test_tmpdir();
    cr_assert(R);
    char a[9000];
    /* a test file of bound sequences only: the test AUROC is NA, with the warning, in text and in the
     * checkpoint's provenance as shown by the dashboard */
    snprintf(a, sizeof a, "train --arch cnn --len 40 --train %s/sim.tsv --test %s/pos.tsv --out %s/m.dm --epochs 1 "
             "--batch 32 --device cpu --threads 1 --quiet", F, F, R);
    cr_assert_eq(cli_in(R, a), 0, "%s", text_of(R, "stderr"));
    char *out = text_of(R, "stdout"), *err = text_of(R, "stderr");
    cr_expect(strstr(out, "AUROC NA") != NULL && !says_nan(out), "%s", out);
    cr_expect(strstr(err, "AUROC undefined: the data hold only bound sequences") != NULL, "%s", err);
    free(out);
    free(err);
    snprintf(a, sizeof a, "dashboard --model %s/m.dm --data %s/pos.tsv --out %s/dash --restarts 1 --steps 2 "
             "--filters 2 --top 2 --device cpu --threads 1", R, F, R);
    cr_assert_eq(cli_in(R, a), 0, "%s", text_of(R, "stderr"));
    out = text_of(R, "stdout");
    err = text_of(R, "stderr");
    cr_expect(strstr(out, "AUROC NA") != NULL && !says_nan(out), "%s", out);
    cr_expect(strstr(err, "only bound sequences") != NULL && !says_nan(err), "%s", err);
    free(out);
    free(err);
    char *html = text_of(R, "dash/index.html"), *tsv = text_of(R, "dash/summary.tsv");
    cr_expect(html[0] && !says_nan(html), "the report says nan");
    cr_expect(strstr(html, "AUROC NA") != NULL, "the model card and the ROC legend show NA");
    cr_expect(tsv[0] && !says_nan(tsv) && strstr(tsv, "\tNA\t") != NULL, "%s", tsv);
    free(html);
    free(tsv);
    dm_test_rmdir(R);
    free(R);
}
