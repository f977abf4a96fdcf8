/*
 * scan_fasta.c: the FASTA source of a scan (dm_scan_fasta, see scan.h): records of any length, read
 * twice through zlib (gzip or plain): a checking pass (names, lengths, every base), then the scan,
 * which reads each record sequentially, so memory stays at one read buffer whatever the lengths.
 */
#define _GNU_SOURCE   /* qsort_r */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "dm_internal.h"
#include "scan.h"

#define FA_CHUNK (1 << 18)   /* decompressed bytes per gzread */
#define FA_NAME 256          /* longest record name kept */

typedef struct fa_reader {
    gzFile gz;
    const char *path;
    unsigned char *buf;
    size_t len, pos;
    int64_t line;        /* line of the byte at pos (1-based) */
    bool bol;            /* pos starts a line */
    bool eof;
} fa_reader;

/* Byte → base code + 1; 0 = not a base. */
static uint8_t code1[256];
static void code_table(void) {
    if (code1['A']) return;   /* idempotent: every thread writes the same bytes */
    const char *acgt = "ACGT", *ambig = "NRYSWKMBDHV";
    for (int i = 0; i < 4; i++) code1[(uint8_t)acgt[i]] = code1[(uint8_t)(acgt[i] + 32)] = (uint8_t)(i + 1);
    for (const char *c = ambig; *c; c++) code1[(uint8_t)*c] = code1[(uint8_t)(*c + 32)] = DM_BASE_N + 1;
}

static dm_status fa_open(fa_reader *r, const char *path) {
    memset(r, 0, sizeof *r);
    r->path = path;
    r->line = 1;
    r->bol = true;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return dm_error(DM_STATUS_IO, "%s: %s", path, strerror(errno));
    dm_status st = dm_input_check(path, fd, NULL);
    if (st) {
        close(fd);
        return st;
    }
    r->gz = gzdopen(fd, "rb");
    r->buf = malloc(FA_CHUNK);
    if (!r->gz || !r->buf) {
        if (r->gz) gzclose(r->gz);
        else close(fd);
        free(r->buf);
        return dm_error(DM_STATUS_NOMEM, "%s: out of memory", path);
    }
    gzbuffer(r->gz, FA_CHUNK);
    return DM_STATUS_OK;
}

static void fa_close(fa_reader *r) {
    if (r->gz) gzclose(r->gz);
    free(r->buf);
    memset(r, 0, sizeof *r);
}

/* The next byte (not consumed), −1 at the end; *st gets a read error. */
static int fa_peek(fa_reader *r, dm_status *st) {
    if (r->pos < r->len) return r->buf[r->pos];
    if (r->eof) return -1;
    int n = gzread(r->gz, r->buf, FA_CHUNK);
    if (n < 0) {
        int err;
        const char *msg = gzerror(r->gz, &err);
        *st = dm_error(DM_STATUS_IO, "%s:%lld: read failed: %s", r->path, (long long)r->line,
                       err == Z_ERRNO ? strerror(errno) : msg);
        return -1;
    }
    r->len = (size_t)n, r->pos = 0;
    if (n == 0) {
        r->eof = true;
        return -1;
    }
    return r->buf[0];
}

/* Up to max bases of the current record into out (NULL: counted only); stops before the next header
 * or at the end of the file. *got receives the count. */
static dm_status fa_bases(fa_reader *r, int64_t max, uint8_t *out, int64_t *got) {
    dm_status st = DM_STATUS_OK;
    int64_t n = 0;
    while (n < max) {
        int c = fa_peek(r, &st);
        if (c < 0) break;
        if (c == '\n') {
            r->line++, r->bol = true, r->pos++;
            continue;
        }
        if (c == '\r') { r->pos++; continue; }
        if (r->bol && c == '>') break;
        r->bol = false;
        uint8_t k = code1[c];
        if (!k) {
            char rep[8];
            if (c >= 0x20 && c < 0x7F) snprintf(rep, sizeof rep, "%c", c);
            else snprintf(rep, sizeof rep, "\\x%02X", c);
            return dm_error(DM_STATUS_FORMAT, "%s:%lld: invalid base '%s' in sequence", r->path, (long long)r->line, rep);
        }
        if (out) out[n] = (uint8_t)(k - 1);
        n++;
        r->pos++;
    }
    *got = n;
    return st;
}

/* Skips the rest of the current record, then reads the next header line: *found false at the end of
 * the file. name gets its first word. Text other than a header where a record starts is an error. */
static dm_status fa_header(fa_reader *r, char name[FA_NAME], int64_t *line, bool *found) {
    int64_t skipped;
    DM_TRY(fa_bases(r, INT64_MAX, NULL, &skipped));
    dm_status st = DM_STATUS_OK;
    int c = fa_peek(r, &st);
    DM_TRY(st);
    *found = c == '>';
    if (!*found) return DM_STATUS_OK;
    *line = r->line;
    r->pos++;
    size_t n = 0;
    bool in_name = true;
    for (;;) {
        c = fa_peek(r, &st);
        DM_TRY(st);
        if (c < 0 || c == '\n') break;
        r->pos++;
        if (c == ' ' || c == '\t' || c == '\r') in_name = false;
        else if (in_name && n + 1 < FA_NAME) name[n++] = (char)c;
    }
    name[n] = 0;
    if (c == '\n') r->pos++, r->line++;
    r->bol = true;
    if (!n) return dm_error(DM_STATUS_FORMAT, "%s:%lld: a FASTA header without a name", r->path, (long long)*line);
    return DM_STATUS_OK;
}

/* ---- the checking pass ---------------------------------------------------------------------------- */

typedef struct fa_table {
    int64_t n;          /* records of the file */
    char **name;
    int64_t *len, *line;
} fa_table;

static void table_free(fa_table *t) {
    for (int64_t i = 0; i < t->n; i++) free(t->name[i]);
    free(t->name);
    free(t->len);
    free(t->line);
}

static int by_name(const void *x, const void *y, void *ctx) {
    const fa_table *t = ctx;
    return strcmp(t->name[*(const int64_t *)x], t->name[*(const int64_t *)y]);
}

static dm_status fa_check(const char *path, fa_table *t) {
    memset(t, 0, sizeof *t);
    fa_reader r;
    DM_TRY(fa_open(&r, path));
    dm_status st = DM_STATUS_OK;
    /* blank lines may come first; anything else before the first '>' is not FASTA */
    int c;
    while ((c = fa_peek(&r, &st)) == '\n' || c == '\r') {
        if (c == '\n') r.line++;
        r.pos++;
    }
    if (!st && c != '>')
        st = c < 0 ? dm_error(DM_STATUS_FORMAT, "%s: no FASTA record (empty file)", path)
                   : dm_error(DM_STATUS_FORMAT, "%s:%lld: expected a FASTA header ('>name')", path, (long long)r.line);
    int64_t cap = 0;
    while (!st) {
        char name[FA_NAME];
        int64_t line = 0, n = 0;
        bool found;
        if ((st = fa_header(&r, name, &line, &found)) != DM_STATUS_OK || !found) break;
        if ((st = fa_bases(&r, INT64_MAX, NULL, &n)) != DM_STATUS_OK) break;
        if (t->n == cap) {
            cap = cap ? 2 * cap : 64;
            char **nm = realloc(t->name, sizeof(char *) * (size_t)cap);
            if (nm) t->name = nm;
            int64_t *ln = realloc(t->len, sizeof(int64_t) * (size_t)cap);
            if (ln) t->len = ln;
            int64_t *li = realloc(t->line, sizeof(int64_t) * (size_t)cap);
            if (li) t->line = li;
            if (!nm || !ln || !li) { st = dm_error(DM_STATUS_NOMEM, "%s: out of memory", path); break; }
        }
        if (!(t->name[t->n] = strdup(name))) { st = dm_error(DM_STATUS_NOMEM, "%s: out of memory", path); break; }
        t->len[t->n] = n, t->line[t->n++] = line;
    }
    fa_close(&r);
    if (!st && t->n > 1) {   /* names must be unique: they are the track's chromosomes */
        int64_t *ix = malloc(sizeof(int64_t) * (size_t)t->n);
        if (!ix) st = dm_error(DM_STATUS_NOMEM, "%s: out of memory", path);
        for (int64_t i = 0; !st && i < t->n; i++) ix[i] = i;
        if (!st) qsort_r(ix, (size_t)t->n, sizeof *ix, by_name, t);
        for (int64_t i = 1; !st && i < t->n; i++)
            if (!strcmp(t->name[ix[i - 1]], t->name[ix[i]])) {
                int64_t a = ix[i - 1] < ix[i] ? ix[i - 1] : ix[i], b = ix[i - 1] < ix[i] ? ix[i] : ix[i - 1];
                st = dm_error(DM_STATUS_FORMAT, "%s:%lld: duplicate sequence name '%s' (first at line %lld)", path,
                              (long long)t->line[b], t->name[b], (long long)t->line[a]);
            }
        free(ix);
    }
    if (st) table_free(t);
    return st;
}

/* ---- the scan ---------------------------------------------------------------------------------- */

typedef struct fa_src {
    fa_reader r;
    const fa_table *t;
    const int64_t *rec_of;   /* the file's record of each track chromosome */
    int64_t cur, pos;        /* the record being read (−1 before the first) and bases consumed */
} fa_src;

static dm_status changed(const fa_src *s) {
    return dm_error(DM_STATUS_IO, "%s: changed while being read", s->r.path);
}

static dm_status fa_read(void *ctx, int chrom, int64_t start, int64_t n, uint8_t *codes) {
    fa_src *s = ctx;
    int64_t rec = s->rec_of[chrom], got;
    while (s->cur < rec) {
        char name[FA_NAME];
        int64_t line;
        bool found;
        DM_TRY(fa_header(&s->r, name, &line, &found));
        if (!found || strcmp(name, s->t->name[s->cur + 1])) return changed(s);
        s->cur++, s->pos = 0;
    }
    if (s->cur != rec || start < s->pos) return dm_error(DM_STATUS_ARG, "scan: FASTA read out of order");
    if (start > s->pos) {   /* bases no window needs (a stride longer than the buffer) */
        DM_TRY(fa_bases(&s->r, start - s->pos, NULL, &got));
        if (got != start - s->pos) return changed(s);
        s->pos = start;
    }
    DM_TRY(fa_bases(&s->r, n, codes, &got));
    if (got != n) return changed(s);
    s->pos += n;
    return DM_STATUS_OK;
}

dm_status dm_scan_fasta(dm_net *m, const char *path, const dm_scan_options *o, const char *prefix,
                        dm_scan_stats *stats) {
    code_table();
    fa_table t;
    DM_TRY(fa_check(path, &t));
    /* the track's chromosomes: records with bases (a bigWig chromosome has length ≥ 1) */
    const char **names = malloc(sizeof(char *) * (size_t)(t.n ? t.n : 1));
    int64_t *lens = malloc(sizeof(int64_t) * (size_t)(t.n ? t.n : 1)), *rec_of = malloc(sizeof(int64_t) * (size_t)(t.n ? t.n : 1));
    dm_scan_interval *iv = malloc(sizeof *iv * (size_t)(t.n ? t.n : 1));
    dm_status st = !names || !lens || !rec_of || !iv ? dm_error(DM_STATUS_NOMEM, "scan: out of memory") : DM_STATUS_OK;
    int nt = 0;
    for (int64_t i = 0; !st && i < t.n; i++) {
        if (t.len[i] < 1) continue;
        if (nt == (1 << 30)) { st = dm_error(DM_STATUS_FORMAT, "%s: more than 2^30 records", path); break; }
        names[nt] = t.name[i], lens[nt] = t.len[i], rec_of[nt] = i;
        iv[nt] = (dm_scan_interval){nt, 0, t.len[i]};
        nt++;
    }
    if (!st && !nt) st = dm_error(DM_STATUS_FORMAT, "%s: no sequence with bases", path);
    fa_src src = {.t = &t, .rec_of = rec_of, .cur = -1};
    if (!st) st = fa_open(&src.r, path);
    if (!st) {
        st = dm_scan_run(m, nt, names, lens, iv, nt, fa_read, &src, o, prefix, stats);
        fa_close(&src.r);
    }
    free(names);
    free(lens);
    free(rec_of);
    free(iv);
    table_free(&t);
    return st;
}
