/*
 * meme.c: the MEME minimal motif format (FORMATS.md §5), reader and writer.
 *
 * The reader pulls whole lines of any length through zlib's gzgets (gzip or plain), strips LF/CRLF,
 * and runs the small state machine described in meme.h: a version check on the first non-blank
 * line, the ALPHABET check, MOTIF lines opening motifs, and each "letter-probability matrix:" line
 * consuming exactly its w rows. Everything else is skipped, except a numeric row right after a
 * complete matrix, which can only mean the matrix has more rows than its w= says.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "dm_internal.h"
#include "meme.h"

#define DM_MEME_ROW_TOL  1e-3       /* accepted |row sum − 1|; such rows are renormalised */
#define DM_MEME_MAX_LINE (1u << 20) /* longer lines are a format error, not an allocation */
#define DM_MEME_MAX_W    100000     /* widths above this are refused as implausible */

/* ---- line reader ------------------------------------------------------------------------------ */

typedef struct dm_meme_reader {
    gzFile gz;
    const char *path;
    char *buf;  /* the current line, NUL-terminated, without its terminator */
    size_t cap; /* bytes allocated for buf */
    long line;  /* 1-based number of the current line */
    int type;   /* DM_MOTIF_PPM (strict), DM_MOTIF_CWM (signed, as written) or DM_MOTIF_AUTO */
    long neg_line;     /* AUTO: the first line with a negative entry (0: none) */
    long sum_line;     /* AUTO: the first row of non-negative entries whose sum is not 1 (0: none) */
    char sum_msg[200]; /* ... and the error it would be as a probability matrix */
} dm_meme_reader;

/* Reads the next line into r->buf; *got = false at end of file. Returns _OK, _IO, _FORMAT, _NOMEM. */
static dm_status meme_next_line(dm_meme_reader *r, bool *got) {
    size_t len = 0;
    *got = false;
    for (;;) {
        /* Keep room for at least one byte plus the NUL; double the buffer as the line grows. */
        if (r->cap - len < 2) {
            size_t cap = r->cap ? 2 * r->cap : 256;
            if (cap > DM_MEME_MAX_LINE)
                return dm_error(DM_STATUS_FORMAT, "%s:%ld: line longer than %u bytes", r->path, r->line + 1,
                                DM_MEME_MAX_LINE);
            char *b = realloc(r->buf, cap);
            if (!b) return dm_error(DM_STATUS_NOMEM, "%s: out of memory reading a line", r->path);
            r->buf = b;
            r->cap = cap;
        }
        if (!gzgets(r->gz, r->buf + len, (int)(r->cap - len))) {
            int err = Z_OK;
            const char *msg = gzerror(r->gz, &err);
            if (err != Z_OK) {
                /* zlib reports a cut-off stream as Z_BUF_ERROR; its messages start "<fd:N>: " */
                if (err == Z_ERRNO) msg = strerror(errno);
                else if (strncmp(msg, "<fd:", 4) == 0 && strstr(msg, ": ")) msg = strstr(msg, ": ") + 2;
                return dm_error(DM_STATUS_IO, "%s:%ld: %s: %s", r->path, r->line + 1,
                                err == Z_BUF_ERROR ? "gzip file is truncated" : "read failed", msg);
            }
            break; /* end of file */
        }
        *got = true;
        len += strlen(r->buf + len);
        if (len > 0 && r->buf[len - 1] == '\n') break;
    }
    if (!*got) return DM_STATUS_OK;
    /* Drop the terminator: "\n" or "\r\n" (a last line may have neither). */
    while (len > 0 && (r->buf[len - 1] == '\n' || r->buf[len - 1] == '\r')) r->buf[--len] = '\0';
    r->line++;
    return DM_STATUS_OK;
}

/* ---- parsing helpers -------------------------------------------------------------------------- */

static const char *skip_ws(const char *s) {
    while (*s && isspace((unsigned char)*s)) s++;
    return s;
}

/* True when s starts with the word w followed by whitespace or the end of the line. */
static bool starts_word(const char *s, const char *w) {
    size_t n = strlen(w);
    return strncmp(s, w, n) == 0 && (s[n] == '\0' || isspace((unsigned char)s[n]));
}

/* True when a line starts with a decimal number ([sign][.]digit): a matrix row, not a "-----" rule
 * or a word such as "Information" (which strtod would read as infinity). */
static bool looks_numeric(const char *s) {
    if (*s == '+' || *s == '-') s++;
    if (*s == '.') s++;
    return isdigit((unsigned char)*s) != 0;
}

/* Copies the whitespace-delimited token at s into dst (cap bytes); returns the end of the token, or
 * NULL when it does not fit. */
static const char *copy_token(char *dst, size_t cap, const char *s) {
    size_t n = 0;
    while (s[n] && !isspace((unsigned char)s[n])) n++;
    if (n >= cap) return NULL;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return s + n;
}

/* ---- the reader ------------------------------------------------------------------------------- */

/* The "ALPHABET" line: only "ALPHABET= ACGT" is accepted. */
static dm_status parse_alphabet(const dm_meme_reader *r, const char *s) {
    const char *v = skip_ws(s + strlen("ALPHABET"));
    if (*v == '=') {
        v = skip_ws(v + 1);
        size_t n = 0;
        while (v[n] && !isspace((unsigned char)v[n])) n++;
        if (n == 4 && strncmp(v, "ACGT", 4) == 0 && *skip_ws(v + n) == '\0') return DM_STATUS_OK;
    }
    return dm_error(DM_STATUS_FORMAT, "%s:%ld: unsupported alphabet '%.60s': only 'ALPHABET= ACGT' (DNA)",
                    r->path, r->line, s);
}

/* The "key= value" pairs after "letter-probability matrix:": alength and w required, nsites kept. */
static dm_status parse_matrix_line(const dm_meme_reader *r, const char *s, int *w, int *nsites) {
    long alength = -1, width = -1;
    *nsites = 0;
    s = skip_ws(s + strlen("letter-probability matrix:"));
    while (*s) {
        /* A token "key=" (value in the next token) or "key=value". */
        const char *eq = s;
        while (*eq && *eq != '=' && !isspace((unsigned char)*eq)) eq++;
        if (*eq != '=') { /* a word without '=': not ours, skip it */
            s = skip_ws(eq);
            continue;
        }
        size_t klen = (size_t)(eq - s);
        const char *key = s, *val = skip_ws(eq + 1);
        char *end;
        errno = 0;
        double v = strtod(val, &end);
        bool ok = end != val && errno == 0 && (*end == '\0' || isspace((unsigned char)*end));
        bool integral = ok && v == floor(v) && fabs(v) < 1e9;
        if (klen == 7 && strncmp(key, "alength", 7) == 0) {
            if (!integral)
                return dm_error(DM_STATUS_FORMAT, "%s:%ld: alength= needs an integer", r->path, r->line);
            alength = (long)v;
        } else if (klen == 1 && key[0] == 'w') {
            if (!integral) return dm_error(DM_STATUS_FORMAT, "%s:%ld: w= needs an integer", r->path, r->line);
            width = (long)v;
        } else if (klen == 6 && strncmp(key, "nsites", 6) == 0 && ok && v >= 0 && v < 2e9) {
            *nsites = (int)lround(v);
        }
        /* Move past the value token (whatever it was). */
        while (*val && !isspace((unsigned char)*val)) val++;
        s = skip_ws(val);
    }
    if (alength < 0 || width < 0)
        return dm_error(DM_STATUS_FORMAT, "%s:%ld: letter-probability matrix needs alength= and w=", r->path,
                        r->line);
    if (alength != 4)
        return dm_error(DM_STATUS_FORMAT, "%s:%ld: alength= %ld: only DNA (4 letters) is supported", r->path,
                        r->line, alength);
    if (width < 1 || width > DM_MEME_MAX_W)
        return dm_error(DM_STATUS_FORMAT, "%s:%ld: w= %ld out of range 1..%d", r->path, r->line, width,
                        DM_MEME_MAX_W);
    *w = (int)width;
    return DM_STATUS_OK;
}

/* Reads the w rows of motif m (its p already allocated): 4 non-negative numbers per row, sum 1 ± tol. */
static dm_status parse_rows(dm_meme_reader *r, dm_motif *m) {
    for (int j = 0; j < m->w; j++) {
        /* The next non-blank line is row j. */
        const char *s;
        for (;;) {
            bool got;
            DM_TRY(meme_next_line(r, &got));
            if (!got)
                return dm_error(DM_STATUS_FORMAT, "%s:%ld: motif %s: file ends after %d of w= %d matrix rows",
                                r->path, r->line, m->id, j, m->w);
            s = skip_ws(r->buf);
            if (*s) break;
        }
        double v[4], sum = 0;
        bool neg = false;
        const char *t = s;
        for (int b = 0; b < 4; b++) {
            char *end;
            v[b] = strtod(t, &end);
            /* signed values are stored as float: beyond its range they would become infinite */
            bool bad = end == t || (*end && !isspace((unsigned char)*end)) || !(fabs(v[b]) <= FLT_MAX);
            if (bad || (v[b] < 0 && r->type == DM_MOTIF_PPM))
                return dm_error(DM_STATUS_FORMAT,
                                "%s:%ld: motif %s: row %d of w= %d: expected 4 %s (A C G T), got '%.60s'",
                                r->path, r->line, m->id, j + 1, m->w,
                                r->type == DM_MOTIF_PPM ? "non-negative probabilities" : "numbers", s);
            neg |= v[b] < 0;
            sum += v[b];
            t = end;
        }
        if (*skip_ws(t))
            return dm_error(DM_STATUS_FORMAT, "%s:%ld: motif %s: row %d of w= %d has more than 4 numbers",
                            r->path, r->line, m->id, j + 1, m->w);
        if (r->type != DM_MOTIF_PPM) {
            /* Signed values are kept as written; AUTO decides after the whole file (dm_meme_read_as). */
            if (neg && !r->neg_line) r->neg_line = r->line;
            if (!neg && !(fabs(sum - 1.0) <= DM_MEME_ROW_TOL) && !r->sum_line) {
                r->sum_line = r->line;
                snprintf(r->sum_msg, sizeof r->sum_msg, "motif %s: row %d sums to %.6g (must be 1 +- %g)",
                         m->id, j + 1, sum, DM_MEME_ROW_TOL);
            }
            for (int b = 0; b < 4; b++) m->p[4 * j + b] = (float)v[b];
            continue;
        }
        if (!(fabs(sum - 1.0) <= DM_MEME_ROW_TOL))
            return dm_error(DM_STATUS_FORMAT, "%s:%ld: motif %s: row %d sums to %.6g (must be 1 +- %g)",
                            r->path, r->line, m->id, j + 1, sum, DM_MEME_ROW_TOL);
        for (int b = 0; b < 4; b++) m->p[4 * j + b] = (float)(v[b] / sum);
    }
    return DM_STATUS_OK;
}

/* Appends a zeroed motif to out (growing the list geometrically); *cap is the list's capacity. */
static dm_status append_motif(const dm_meme_reader *r, dm_motif_set *out, int *cap, dm_motif **m) {
    if (out->n == *cap) {
        if (*cap > (1 << 28)) return dm_error(DM_STATUS_FORMAT, "%s:%ld: too many motifs", r->path, r->line);
        int nc = *cap ? 2 * *cap : 64;
        dm_motif *g = realloc(out->m, sizeof *g * (size_t)nc);
        if (!g) return dm_error(DM_STATUS_NOMEM, "%s: out of memory for %d motifs", r->path, nc);
        out->m = g;
        *cap = nc;
    }
    *m = &out->m[out->n++];
    memset(*m, 0, sizeof **m);
    return DM_STATUS_OK;
}

/* The state machine over the lines of the file. */
static dm_status meme_parse(dm_meme_reader *r, dm_motif_set *out) {
    int cap = 0;
    bool seen_version = false;
    dm_motif *cur = NULL;      /* the motif opened by the last MOTIF line */
    long cur_line = 0;         /* the line of that MOTIF */
    bool after_matrix = false; /* the last non-blank line closed a matrix */
    for (;;) {
        bool got;
        DM_TRY(meme_next_line(r, &got));
        if (!got) break;
        const char *s = skip_ws(r->buf);
        if (!*s) continue;
        if (!seen_version) {
            if (strncmp(s, "MEME version", 12) != 0)
                return dm_error(DM_STATUS_FORMAT,
                                "%s:%ld: not a MEME motif file: expected 'MEME version' first", r->path,
                                r->line);
            seen_version = true;
            continue;
        }
        if (after_matrix && looks_numeric(s))
            return dm_error(DM_STATUS_FORMAT, "%s:%ld: motif %s: more matrix rows than w= %d", r->path,
                            r->line, cur->id, cur->w);
        after_matrix = false;
        if (starts_word(s, "ALPHABET") || strncmp(s, "ALPHABET=", 9) == 0) {
            DM_TRY(parse_alphabet(r, s));
        } else if (starts_word(s, "MOTIF")) {
            if (cur && !cur->p)
                return dm_error(DM_STATUS_FORMAT, "%s:%ld: MOTIF %s has no letter-probability matrix",
                                r->path, cur_line, cur->id);
            DM_TRY(append_motif(r, out, &cap, &cur));
            cur_line = r->line;
            /* MOTIF <id> [<alt name>]; further words are ignored. */
            const char *t = skip_ws(s + 5);
            if (!*t)
                return dm_error(DM_STATUS_FORMAT, "%s:%ld: MOTIF without an identifier", r->path, r->line);
            t = copy_token(cur->id, sizeof cur->id, t);
            if (t) t = copy_token(cur->name, sizeof cur->name, skip_ws(t));
            if (!t)
                return dm_error(DM_STATUS_FORMAT, "%s:%ld: MOTIF identifier or name longer than %zu bytes",
                                r->path, r->line, sizeof cur->id - 1);
        } else if (strncmp(s, "letter-probability matrix:", 26) == 0) {
            if (!cur)
                return dm_error(DM_STATUS_FORMAT, "%s:%ld: letter-probability matrix before any MOTIF line",
                                r->path, r->line);
            if (cur->p)
                return dm_error(DM_STATUS_FORMAT, "%s:%ld: MOTIF %s has a second letter-probability matrix",
                                r->path, r->line, cur->id);
            DM_TRY(parse_matrix_line(r, s, &cur->w, &cur->nsites));
            cur->p = malloc(sizeof(float) * 4 * (size_t)cur->w);
            if (!cur->p)
                return dm_error(DM_STATUS_NOMEM, "%s: out of memory for a %d-column motif", r->path, cur->w);
            DM_TRY(parse_rows(r, cur));
            after_matrix = true;
        }
        /* Any other line (strands, background, URL, other sections) is skipped. */
    }
    if (!seen_version && r->line == 0)
        return dm_error(DM_STATUS_FORMAT, "%s: the file is empty (not a MEME motif file)", r->path);
    if (!seen_version)
        return dm_error(DM_STATUS_FORMAT, "%s:%ld: not a MEME motif file: no 'MEME version' line", r->path,
                        r->line + 1);
    if (cur && !cur->p)
        return dm_error(DM_STATUS_FORMAT, "%s:%ld: MOTIF %s has no letter-probability matrix", r->path,
                        cur_line, cur->id);
    return DM_STATUS_OK;
}

/* One pass over the file with the reader's rules for `type` (r->type); r keeps what AUTO needs. */
static dm_status meme_read_pass(dm_meme_reader *r, dm_motif_set *out) {
    const char *path = r->path;
    out->n = 0;
    out->m = NULL;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return dm_error(DM_STATUS_IO, "%s: cannot open: %s", path, strerror(errno));
    dm_status chk = dm_input_check(path, fd, NULL);   /* a directory opens, then fails to read */
    if (chk != DM_STATUS_OK) {
        close(fd);
        return chk;
    }
    r->gz = gzdopen(fd, "rb");
    if (!r->gz) {
        close(fd);
        return dm_error(DM_STATUS_NOMEM, "%s: cannot open: out of memory", path);
    }
    dm_status st = meme_parse(r, out);
    /* gzclose reports a gzip stream that ended early even when every read looked fine. */
    int zc = gzclose(r->gz);
    if (st == DM_STATUS_OK && zc != Z_OK)
        st = dm_error(DM_STATUS_IO, "%s: gzip stream is truncated or damaged", path);
    free(r->buf);
    r->buf = NULL;
    r->cap = 0;
    if (st != DM_STATUS_OK) dm_motif_set_free(out);
    return st;
}

/* AUTO reads the signed values first: a negative entry anywhere makes the file's matrices CWMs;
 * otherwise a row off 1 is the PPM error (with a hint), and a file of probability rows is read again
 * by the strict reader, so that its PPMs are exactly dm_meme_read's. */
dm_status dm_meme_read_as(const char *path, int type, dm_motif_set *out, int *got) {
    dm_meme_reader r = {.path = path, .type = type};
    if (got) *got = type == DM_MOTIF_CWM ? DM_MOTIF_CWM : DM_MOTIF_PPM;
    DM_TRY(meme_read_pass(&r, out));
    if (type != DM_MOTIF_AUTO) return DM_STATUS_OK;
    if (r.neg_line) {
        if (got) *got = DM_MOTIF_CWM;
        return DM_STATUS_OK;
    }
    dm_motif_set_free(out);
    if (r.sum_line)
        return dm_error(DM_STATUS_FORMAT,
                        "%s:%ld: %s; if these are contribution weights (a CWM with no negative entry), "
                        "say so with --query-type cwm",
                        path, r.sum_line, r.sum_msg);
    dm_meme_reader strict = {.path = path, .type = DM_MOTIF_PPM};
    return meme_read_pass(&strict, out);
}

dm_status dm_meme_read(const char *path, dm_motif_set *out) {
    return dm_meme_read_as(path, DM_MOTIF_PPM, out, NULL);
}

void dm_motif_set_free(dm_motif_set *s) {
    if (!s) return;
    for (int i = 0; i < s->n; i++) free(s->m[i].p);
    free(s->m);
    s->n = 0;
    s->m = NULL;
}

/* ---- the writer ------------------------------------------------------------------------------- */

/* Checks what the writer needs: ids without whitespace, w ≥ 1, finite non-negative rows with sum > 0. */
static dm_status meme_check(const char *path, const dm_motif_set *s) {
    for (int i = 0; i < s->n; i++) {
        const dm_motif *m = &s->m[i];
        bool bad_id = m->id[0] == '\0';
        for (const char *c = m->id; *c; c++) bad_id |= isspace((unsigned char)*c) != 0;
        if (bad_id)
            return dm_error(DM_STATUS_ARG, "%s: motif %d: identifier '%s' is empty or holds whitespace", path,
                            i + 1, m->id);
        if (m->w < 1 || !m->p)
            return dm_error(DM_STATUS_ARG, "%s: motif %s: no matrix (w = %d)", path, m->id, m->w);
        for (int j = 0; j < m->w; j++) {
            double sum = 0;
            for (int b = 0; b < 4; b++) {
                float v = m->p[4 * j + b];
                if (!isfinite(v) || v < 0)
                    return dm_error(DM_STATUS_ARG, "%s: motif %s: row %d holds %g", path, m->id, j + 1,
                                    (double)v);
                sum += v;
            }
            if (sum <= 0)
                return dm_error(DM_STATUS_ARG, "%s: motif %s: row %d sums to 0", path, m->id, j + 1);
        }
    }
    return DM_STATUS_OK;
}

dm_status dm_meme_fprint(FILE *f, const char *path, const dm_motif_set *s) {
    DM_TRY(meme_check(path, s));
    fprintf(f, "MEME version 4\n\nALPHABET= ACGT\n\nstrands: + -\n\n"
               "Background letter frequencies\nA 0.25 C 0.25 G 0.25 T 0.25\n\n");
    for (int i = 0; i < s->n; i++) {
        const dm_motif *m = &s->m[i];
        /* The alternative name is one token: whitespace becomes '_'. */
        char name[sizeof m->name];
        snprintf(name, sizeof name, "%s", m->name);
        for (char *c = name; *c; c++)
            if (isspace((unsigned char)*c)) *c = '_';
        fprintf(f, "MOTIF %s%s%s\n", m->id, name[0] ? " " : "", name);
        fprintf(f, "letter-probability matrix: alength= 4 w= %d", m->w);
        if (m->nsites > 0) fprintf(f, " nsites= %d", m->nsites);
        fprintf(f, " E= 0\n");
        /* Rows renormalised in double, so each printed row sums to 1 within the 6-decimal rounding. */
        for (int j = 0; j < m->w; j++) {
            const float *row = m->p + 4 * (size_t)j;
            double sum = (double)row[0] + row[1] + row[2] + row[3];
            for (int b = 0; b < 4; b++) fprintf(f, " %.6f", row[b] / sum);
            fputc('\n', f);
        }
        fputc('\n', f);
    }
    return DM_STATUS_OK;
}

dm_status dm_meme_write(const char *path, const dm_motif_set *s) {
    DM_TRY(meme_check(path, s));
    dm_outfile o;
    DM_TRY(dm_outfile_open(&o, path));
    dm_status st = dm_meme_fprint(o.f, path, s);
    if (st) {
        dm_outfile_abort(&o);
        return st;
    }
    return dm_outfile_commit(&o);
}
