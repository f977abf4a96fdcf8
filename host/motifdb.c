/*
 * motifdb.c: motif files of every supported format, detected by content (motifdb.h says which and
 * how their values become probabilities).
 *
 * MEME files go to host/meme.c. The other formats are small text files (JASPAR 2024's whole
 * collection is ~1 MB), so the file is decompressed whole (gzip or plain, capped), split into lines,
 * and parsed in two steps: each parser (headed/bare matrices, TRANSFAC) collects raw matrices with
 * the line of every row, then one conversion turns each into a (w, 4) matrix of probabilities
 * (counts, frequencies or log-odds) or keeps it signed (CWM).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "dm_internal.h"
#include "motifdb.h"

#define MDB_MAX_BYTES   (256u << 20) /* larger uncompressed text is not a motif file */
#define MDB_MAX_W       100000       /* widths above this are refused as implausible */
#define MDB_SUM_TOL     1e-3         /* a position of probabilities sums to 1 within this */
#define MDB_LOGODDS_TOL 0.02         /* 0.25 b^s of a position sums to 1 within this (2 decimals) */
#define MDB_MAX_VALUE   1e30         /* larger magnitudes are refused: sums of 4 stay finite in float */

void dm_motifs_read_options_default(dm_motifs_read_options *o) {
    *o = (dm_motifs_read_options){.type = DM_MOTIF_AUTO, .pseudocount = DM_MOTIFDB_PSEUDOCOUNT};
}

const char *dm_motif_format_name(dm_motif_format f) {
    static const char *names[] = {"MEME", "JASPAR", "HOCOMOCO", "TRANSFAC", "bare matrix"};
    return (unsigned)f < sizeof names / sizeof *names ? names[f] : "?";
}

/* ---- the text, whole ---------------------------------------------------------------------------- */

typedef struct mdb_text {
    const char *path;
    char *buf;
    char **line; /* (n_lines) NUL-terminated, without their LF / CRLF */
    long n_lines;
} mdb_text;

static dm_status text_read(const char *path, mdb_text *t) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return dm_error(DM_STATUS_IO, "%s: cannot open: %s", path, strerror(errno));
    dm_status st = dm_input_check(path, fd, NULL);
    if (st) {
        close(fd);
        return st;
    }
    gzFile gz = gzdopen(fd, "rb");
    if (!gz) {
        close(fd);
        return dm_error(DM_STATUS_NOMEM, "%s: cannot open: out of memory", path);
    }
    size_t n = 0, cap = 0;
    for (;;) {
        if (cap - n < 65536) {
            size_t nc = cap ? 2 * cap : 1 << 20;
            char *b = nc <= (size_t)MDB_MAX_BYTES + 65536 ? realloc(t->buf, nc + 1) : NULL;
            if (!b) {
                st = nc > (size_t)MDB_MAX_BYTES + 65536
                         ? dm_error(DM_STATUS_FORMAT, "%s: over %u MiB of text: not a motif file", path,
                                    MDB_MAX_BYTES >> 20)
                         : dm_error(DM_STATUS_NOMEM, "%s: out of memory", path);
                break;
            }
            t->buf = b;
            cap = nc;
        }
        int got = gzread(gz, t->buf + n, (unsigned)(cap - n));
        if (got < 0) {
            int err;
            const char *msg = gzerror(gz, &err);
            st = dm_error(DM_STATUS_IO, "%s: %s: %s", path,
                          err == Z_BUF_ERROR ? "gzip file is truncated" : "read failed",
                          err == Z_ERRNO ? strerror(errno) : msg);
            break;
        }
        if (got == 0) break;
        n += (size_t)got;
        if (n > MDB_MAX_BYTES) {
            st = dm_error(DM_STATUS_FORMAT, "%s: over %u MiB of text: not a motif file", path,
                          MDB_MAX_BYTES >> 20);
            break;
        }
    }
    if (gzclose(gz) != Z_OK && !st) st = dm_error(DM_STATUS_IO, "%s: gzip file is truncated or damaged", path);
    if (st) return st;
    t->buf[n] = '\0';
    long lines = 1;
    for (size_t i = 0; i < n; i++) {
        if (t->buf[i] == '\0')
            return dm_error(DM_STATUS_FORMAT, "%s:%ld: a NUL byte: not a text motif file", path, lines);
        lines += t->buf[i] == '\n';
    }
    t->line = malloc(sizeof(char *) * (size_t)lines);
    if (!t->line) return dm_error(DM_STATUS_NOMEM, "%s: out of memory", path);
    char *s = t->buf;
    while (*s || s < t->buf + n) {
        char *e = strchr(s, '\n');
        if (e) *e = '\0';
        size_t len = strlen(s);
        while (len > 0 && s[len - 1] == '\r') s[--len] = '\0';
        t->line[t->n_lines++] = s;
        if (!e) break;
        s = e + 1;
        if (s >= t->buf + n) break;
    }
    return DM_STATUS_OK;
}

/* ---- raw matrices ------------------------------------------------------------------------------- */

/* One matrix as read: rows of numbers, each with its line; labelled rows carry their base. */
typedef struct mdb_raw {
    char id[128], name[128];
    long line;     /* the header's line, else the first row's */
    int nrows, ncols, cap;
    double *v;     /* (nrows, ncols) */
    long *rline;   /* (nrows) */
    int label[64]; /* base of each labelled row (0..3), -1 when unlabelled; only 4 rows are labelled */
    bool labelled;
} mdb_raw;

typedef struct mdb_list {
    mdb_raw *r;
    int n, cap;
} mdb_list;

static void list_free(mdb_list *l) {
    for (int i = 0; i < l->n; i++) {
        free(l->r[i].v);
        free(l->r[i].rline);
    }
    free(l->r);
}

static dm_status list_add(mdb_list *l, const char *path, mdb_raw **out) {
    if (l->n == l->cap) {
        if (l->cap > (1 << 26)) return dm_error(DM_STATUS_FORMAT, "%s: too many motifs", path);
        int nc = l->cap ? 2 * l->cap : 64;
        mdb_raw *g = realloc(l->r, sizeof *g * (size_t)nc);
        if (!g) return dm_error(DM_STATUS_NOMEM, "%s: out of memory", path);
        l->r = g;
        l->cap = nc;
    }
    *out = &l->r[l->n++];
    memset(*out, 0, sizeof **out);
    return DM_STATUS_OK;
}

/* Appends one row of k numbers (k must equal the matrix's first row unless it is the first). */
static dm_status raw_row(mdb_raw *m, const char *path, long line, const double *x, int k) {
    if (m->nrows == 0) {
        m->ncols = k;
    } else if (k != m->ncols) {
        return dm_error(DM_STATUS_FORMAT, "%s:%ld: motif %s: a row of %d numbers after rows of %d", path, line,
                        m->id, k, m->ncols);
    }
    if (m->nrows >= MDB_MAX_W)
        return dm_error(DM_STATUS_FORMAT, "%s:%ld: motif %s: more than %d rows", path, line, m->id, MDB_MAX_W);
    if (m->nrows == m->cap) {
        int nc = m->cap ? 2 * m->cap : 32;
        double *v = realloc(m->v, sizeof(double) * (size_t)nc * (size_t)k);
        if (v) m->v = v;
        long *rl = v ? realloc(m->rline, sizeof(long) * (size_t)nc) : NULL;
        if (!rl) return dm_error(DM_STATUS_NOMEM, "%s: out of memory", path);
        m->rline = rl;
        m->cap = nc;
    }
    memcpy(m->v + (size_t)m->nrows * k, x, sizeof(double) * (size_t)k);
    m->rline[m->nrows++] = line;
    return DM_STATUS_OK;
}

/* ---- parsing helpers ---------------------------------------------------------------------------- */

static const char *skip_ws(const char *s) {
    while (*s && isspace((unsigned char)*s)) s++;
    return s;
}

static bool starts_number(const char *s) {
    if (*s == '+' || *s == '-') s++;
    if (*s == '.') s++;
    return isdigit((unsigned char)*s) != 0;
}

/* Numbers (|x| ≤ MDB_MAX_VALUE) separated by whitespace up to the end (or a ']' when `bracket`); *k
 * counts them (≤ cap).
 * Returns the position of the first thing that is not a number, or NULL on success. */
static const char *parse_numbers(const char *s, double *x, int cap, int *k, bool bracket) {
    *k = 0;
    for (;;) {
        s = skip_ws(s);
        if (!*s || (bracket && *s == ']')) return NULL;
        char *end;
        errno = 0;
        double v = strtod(s, &end);
        if (end == s || !starts_number(s) || !(fabs(v) <= MDB_MAX_VALUE) ||
            (*end && !isspace((unsigned char)*end) && !(bracket && *end == ']')))
            return s;
        if (*k == cap) return s;
        x[(*k)++] = v;
        s = end;
    }
}

static int base_index(char c) {
    switch (toupper((unsigned char)c)) {
    case 'A': return 0;
    case 'C': return 1;
    case 'G': return 2;
    case 'T': return 3;
    default: return -1;
    }
}

/* A base-labelled row: "A [ 4 19 0 ]", "A: 4 19 0", "A | 4 19", "A 4 19 0"; returns the base or -1
 * when the line is not one, and the numbers' start in *rest. */
static int labelled_row(const char *s, const char **rest) {
    int b = base_index(*s);
    if (b < 0) return -1;
    const char *t = s + 1;
    if (*t && !isspace((unsigned char)*t) && *t != '[' && *t != ':' && *t != '|') return -1;
    t = skip_ws(t);
    if (*t == ':' || *t == '|') t = skip_ws(t + 1);
    if (*t == '[') t = skip_ws(t + 1);
    if (!starts_number(t) && *t != ']') return -1;
    *rest = t;
    return b;
}

/* Copies a token into dst (cap bytes); false when it does not fit. */
static bool copy_span(char *dst, size_t cap, const char *s, size_t n) {
    while (n > 0 && isspace((unsigned char)s[n - 1])) n--;
    if (n >= cap) return false;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return true;
}

/* ---- '>' headed and bare matrices (JASPAR, HOCOMOCO) -------------------------------------------- */

/* The file's base name without ".gz" and one more extension, whitespace as '_': a bare matrix's id. */
static void id_from_path(const char *path, char *id, size_t cap) {
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    snprintf(id, cap, "%s", b);
    size_t n = strlen(id);
    if (n > 3 && strcmp(id + n - 3, ".gz") == 0) id[n -= 3] = '\0';
    char *dot = strrchr(id, '.');
    if (dot && dot != id) *dot = '\0';
    for (char *c = id; *c; c++)
        if (isspace((unsigned char)*c)) *c = '_';
    if (!id[0]) snprintf(id, cap, "motif");
}

static dm_status parse_headed(const mdb_text *t, long first, bool bare, mdb_list *l) {
    const char *path = t->path;
    mdb_raw *m = NULL;
    double x[4096];
    for (long i = first; i < t->n_lines; i++) {
        long ln = i + 1;
        const char *s = skip_ws(t->line[i]);
        if (!*s) continue;
        if (*s == '>') {
            if (bare)
                return dm_error(DM_STATUS_FORMAT,
                                "%s:%ld: a '>' header after a matrix without one (give every matrix a header)",
                                path, ln);
            if (m && m->nrows == 0)
                return dm_error(DM_STATUS_FORMAT, "%s:%ld: motif %s has no matrix", path, m->line, m->id);
            DM_TRY(list_add(l, path, &m));
            m->line = ln;
            const char *h = skip_ws(s + 1);
            size_t n = 0;
            while (h[n] && !isspace((unsigned char)h[n])) n++;
            if (n == 0) return dm_error(DM_STATUS_FORMAT, "%s:%ld: a '>' header without an identifier", path, ln);
            const char *rest = skip_ws(h + n);
            if (!copy_span(m->id, sizeof m->id, h, n) || !copy_span(m->name, sizeof m->name, rest, strlen(rest)))
                return dm_error(DM_STATUS_FORMAT, "%s:%ld: identifier or name longer than %zu bytes", path, ln,
                                sizeof m->id - 1);
            for (int k = 0; k < 64; k++) m->label[k] = -1;
            continue;
        }
        if (!m) { /* a bare file's one matrix */
            DM_TRY(list_add(l, path, &m));
            m->line = ln;
            id_from_path(path, m->id, sizeof m->id);
            for (int k = 0; k < 64; k++) m->label[k] = -1;
        }
        const char *rest = s;
        int base = labelled_row(s, &rest);
        if (m->nrows > 0 && (base >= 0) != m->labelled)
            return dm_error(DM_STATUS_FORMAT, "%s:%ld: motif %s mixes base-labelled and unlabelled rows", path, ln,
                            m->id);
        int k;
        const char *bad = parse_numbers(rest, x, (int)(sizeof x / sizeof *x), &k, base >= 0);
        if (base >= 0 && !bad) {
            const char *e = strchr(rest, ']');
            if (e && *skip_ws(e + 1)) bad = e + 1;
        }
        if (bad || k == 0)
            return dm_error(DM_STATUS_FORMAT,
                            "%s:%ld: motif %s: expected a row of numbers%s, got '%.40s'", path, ln, m->id,
                            base >= 0 ? " after the base" : " (or a '>' header)", bad ? bad : s);
        if (base >= 0) {
            if (m->nrows >= 4)
                return dm_error(DM_STATUS_FORMAT, "%s:%ld: motif %s: a fifth base row", path, ln, m->id);
            for (int r = 0; r < m->nrows; r++)
                if (m->label[r] == base)
                    return dm_error(DM_STATUS_FORMAT, "%s:%ld: motif %s: base %c twice", path, ln, m->id, "ACGT"[base]);
            m->labelled = true;
            m->label[m->nrows] = base;
        }
        DM_TRY(raw_row(m, path, ln, x, k));
    }
    if (m && m->nrows == 0)
        return dm_error(DM_STATUS_FORMAT, "%s:%ld: motif %s has no matrix", path, m->line, m->id);
    return DM_STATUS_OK;
}

/* ---- TRANSFAC ----------------------------------------------------------------------------------- */

static bool transfac_tag(const char *s) {
    static const char *tags[] = {"AC", "ID", "NA", "DE", "P0", "PO", "XX", "VV", "BF", "CC", "BA", "//"};
    for (size_t k = 0; k < sizeof tags / sizeof *tags; k++)
        if (strncmp(s, tags[k], 2) == 0 && (s[2] == '\0' || isspace((unsigned char)s[2]))) return true;
    return false;
}

typedef struct tf_rec {
    char ac[128], id[128], na[128];
    long line, p0_line;
    int order[4]; /* column k of a row is base order[k] */
    mdb_raw *m;
} tf_rec;

static dm_status tf_end(const char *path, tf_rec *r, mdb_list *l, long ln) {
    if (r->p0_line && (!r->m || r->m->nrows == 0))
        return dm_error(DM_STATUS_FORMAT, "%s:%ld: a P0 line without matrix rows", path, r->p0_line);
    if (!r->p0_line && (r->ac[0] || r->id[0]))
        return dm_error(DM_STATUS_FORMAT, "%s:%ld: record %s has no matrix (no P0 line)", path, r->line,
                        r->ac[0] ? r->ac : r->id);
    if (r->m) {
        if (!r->ac[0] && !r->id[0])
            return dm_error(DM_STATUS_FORMAT, "%s:%ld: a matrix record with neither AC nor ID", path, ln);
        snprintf(r->m->id, sizeof r->m->id, "%s", r->ac[0] ? r->ac : r->id);
        snprintf(r->m->name, sizeof r->m->name, "%s", r->ac[0] ? r->id : r->na);
    }
    memset(r, 0, sizeof *r);
    return DM_STATUS_OK;
}

static dm_status parse_transfac(const mdb_text *t, mdb_list *l) {
    const char *path = t->path;
    tf_rec r = {0};
    bool in_matrix = false;
    for (long i = 0; i < t->n_lines; i++) {
        long ln = i + 1;
        const char *s = t->line[i];
        if (!*skip_ws(s)) continue;
        if (!r.line) r.line = ln;
        if (strncmp(s, "//", 2) == 0) {
            DM_TRY(tf_end(path, &r, l, ln));
            in_matrix = false;
            continue;
        }
        if (in_matrix && isdigit((unsigned char)*s)) {
            /* "01 a c g t [consensus letter]" */
            char *end;
            long pos = strtol(s, &end, 10);
            if (pos != r.m->nrows + 1 || (*end && !isspace((unsigned char)*end)))
                return dm_error(DM_STATUS_FORMAT, "%s:%ld: expected position %d, got '%.20s'", path, ln,
                                r.m->nrows + 1, s);
            double x[5], y[4];
            int k;
            const char *bad = parse_numbers(end, x, 4, &k, false);
            if (bad && k == 4) { /* a trailing consensus letter (one token) is allowed */
                size_t n = 0;
                while (bad[n] && !isspace((unsigned char)bad[n])) n++;
                if (!starts_number(bad) && !*skip_ws(bad + n)) bad = NULL;
            }
            if (bad || k != 4)
                return dm_error(DM_STATUS_FORMAT, "%s:%ld: position %ld: expected 4 numbers (then an optional "
                                "consensus letter)", path, ln, pos);
            for (int b = 0; b < 4; b++) y[r.order[b]] = x[b];
            DM_TRY(raw_row(r.m, path, ln, y, 4));
            continue;
        }
        in_matrix = false;
        if (!transfac_tag(s) && !(isupper((unsigned char)s[0]) && isupper((unsigned char)s[1]) &&
                                  (s[2] == '\0' || isspace((unsigned char)s[2]))))
            return dm_error(DM_STATUS_FORMAT, "%s:%ld: not a TRANSFAC line (a 2-letter tag, then its value): '%.40s'",
                            path, ln, s);
        const char *v = skip_ws(s + 2);
        size_t n = 0;
        while (v[n] && !isspace((unsigned char)v[n])) n++;
        bool fits = true;
        if (strncmp(s, "AC", 2) == 0) fits = copy_span(r.ac, sizeof r.ac, v, n);
        else if (strncmp(s, "ID", 2) == 0) fits = copy_span(r.id, sizeof r.id, v, n);
        else if (strncmp(s, "NA", 2) == 0) fits = copy_span(r.na, sizeof r.na, v, strlen(v));
        else if (strncmp(s, "P0", 2) == 0 || strncmp(s, "PO", 2) == 0) {
            if (r.p0_line)
                return dm_error(DM_STATUS_FORMAT, "%s:%ld: a second P0 line in one record (missing '//'?)", path, ln);
            int seen = 0, k = 0;
            for (const char *c = v; *c; c = skip_ws(c + 1)) {
                int b = base_index(*c);
                if (b < 0 || (c[1] && !isspace((unsigned char)c[1])) || (seen >> b & 1) || k == 4) {
                    seen = -1;
                    break;
                }
                seen |= 1 << b;
                r.order[k++] = b;
            }
            if (seen != 15)
                return dm_error(DM_STATUS_FORMAT, "%s:%ld: the P0 line must name the bases A C G T once each, got "
                                "'%.40s'", path, ln, s);
            r.p0_line = ln;
            DM_TRY(list_add(l, path, &r.m));
            r.m->line = ln;
            in_matrix = true;
        }
        if (!fits)
            return dm_error(DM_STATUS_FORMAT, "%s:%ld: value longer than 127 bytes", path, ln);
    }
    return tf_end(path, &r, l, t->n_lines);
}

/* ---- raw matrix -> motif ------------------------------------------------------------------------ */

/* The (w, 4) values of a raw matrix in the file's layout (rows_layout: 4 rows of W). */
static dm_status raw_columns(const char *path, const mdb_raw *m, bool rows_layout, double **x, int *w) {
    bool rows = m->labelled || rows_layout;
    if (rows ? m->nrows != 4 : m->ncols != 4)
        return dm_error(DM_STATUS_FORMAT,
                        "%s:%ld: motif %s: %d rows of %d numbers; expected %s", path, m->line, m->id, m->nrows,
                        m->ncols, m->labelled ? "the 4 rows A C G T"
                                  : rows ? "4 rows (A C G T) of one number per position, as the file's other "
                                           "matrices" : "one row of 4 numbers (A C G T) per position, as the "
                                           "file's other matrices");
    *w = rows ? m->ncols : m->nrows;
    *x = malloc(sizeof(double) * 4 * (size_t)*w);
    if (!*x) return dm_error(DM_STATUS_NOMEM, "%s: out of memory", path);
    for (int j = 0; j < *w; j++)
        for (int b = 0; b < 4; b++)
            (*x)[4 * j + (rows && m->labelled ? m->label[b] : b)] =
                rows ? m->v[(size_t)b * m->ncols + j] : m->v[(size_t)j * 4 + b];
    return DM_STATUS_OK;
}

/* Values -> the motif's matrix (motifdb.h: probabilities, counts, log-odds, or signed as written). */
static dm_status convert(const char *path, const mdb_raw *raw, bool rows_layout, const dm_motifs_read_options *o,
                         dm_motif *mo, dm_motifs_info *info) {
    double *x = NULL;
    int w = 0;
    DM_TRY(raw_columns(path, raw, rows_layout, &x, &w));
    /* the line of position j: its row (one row per position), else the header's */
    #define POS_LINE(j) (!(raw->labelled || rows_layout) ? raw->rline[j] : raw->line)
    dm_status st = DM_STATUS_OK;
    snprintf(mo->id, sizeof mo->id, "%s", raw->id);
    snprintf(mo->name, sizeof mo->name, "%s", raw->name);
    mo->w = w;
    mo->p = malloc(sizeof(float) * 4 * (size_t)w);
    if (!mo->p) {
        free(x);
        return dm_error(DM_STATUS_NOMEM, "%s: out of memory", path);
    }
    bool neg = false, probs = true;
    for (int j = 0; j < w; j++) {
        double s = 0;
        for (int b = 0; b < 4; b++) {
            neg |= x[4 * j + b] < 0;
            s += x[4 * j + b];
        }
        probs &= fabs(s - 1) <= MDB_SUM_TOL;
    }
    if (o->type == DM_MOTIF_CWM) {
        for (int k = 0; k < 4 * w; k++) mo->p[k] = (float)x[k];
    } else if (neg) {
        /* log-odds against a uniform background: natural log first (HOCOMOCO), then log2 */
        static const double base[2] = {M_E, 2.0};
        double worst[2] = {1, 1};
        int wj[2] = {0, 0}, use = -1;
        for (int k = 0; k < 2 && use < 0; k++) {
            for (int j = 0; j < w; j++) {
                double s = 0;
                for (int b = 0; b < 4; b++) s += 0.25 * pow(base[k], x[4 * j + b]);
                if (!(fabs(s - 1) <= fabs(worst[k] - 1)) || !isfinite(s)) {
                    worst[k] = s;
                    wj[k] = j;
                }
            }
            if (fabs(worst[k] - 1) <= MDB_LOGODDS_TOL) use = k;
        }
        if (use < 0) {
            st = dm_error(DM_STATUS_FORMAT,
                          "%s:%ld: motif %s: negative entries (a log-odds matrix) whose positions do not sum to 1 "
                          "as probabilities 0.25 e^s (position %d: %.4g) nor 0.25 2^s (position %d: %.4g): its "
                          "log base or background is not a uniform natural-log or log2 one, so its "
                          "probabilities cannot be recovered; give its counts (e.g. HOCOMOCO .pcm) instead",
                          path, POS_LINE(wj[0]), raw->id, wj[0] + 1, worst[0], wj[1] + 1, worst[1]);
        } else {
            for (int j = 0; j < w; j++) {
                double p[4], s = 0;
                for (int b = 0; b < 4; b++) s += p[b] = 0.25 * pow(base[use], x[4 * j + b]);
                for (int b = 0; b < 4; b++) mo->p[4 * j + b] = (float)(p[b] / s);
            }
            info->n_logodds++;
        }
    } else if (probs) {
        for (int j = 0; j < w; j++) {
            double s = x[4 * j] + x[4 * j + 1] + x[4 * j + 2] + x[4 * j + 3];
            for (int b = 0; b < 4; b++) mo->p[4 * j + b] = (float)(x[4 * j + b] / s);
        }
        info->n_probs++;
    } else {
        double nmax = 0, pc = o->pseudocount;
        for (int j = 0; j < w && !st; j++) {
            double n = x[4 * j] + x[4 * j + 1] + x[4 * j + 2] + x[4 * j + 3];
            if (!(n > 0))
                st = dm_error(DM_STATUS_FORMAT, "%s:%ld: motif %s: position %d has no counts (all zero)", path,
                              POS_LINE(j), raw->id, j + 1);
            nmax = n > nmax ? n : nmax;
            for (int b = 0; b < 4 && !st; b++) mo->p[4 * j + b] = (float)((x[4 * j + b] + pc / 4) / (n + pc));
        }
        mo->nsites = nmax < 2e9 ? (int)lround(nmax) : 0;
        if (!st) info->n_counts++;
    }
    #undef POS_LINE
    free(x);
    return st;
}

/* ---- entry point -------------------------------------------------------------------------------- */

/* The format of the first non-blank line (*first: its index); -1 when none fits. */
static int detect(const mdb_text *t, long *first) {
    for (long i = 0; i < t->n_lines; i++) {
        const char *s = t->line[i], *w = skip_ws(s), *rest;
        if (!*w) continue;
        *first = i;
        if (strncmp(w, "MEME version", 12) == 0) return DM_MOTIF_FMT_MEME;
        if (*w == '>') return DM_MOTIF_FMT_JASPAR;
        if (transfac_tag(s)) return DM_MOTIF_FMT_TRANSFAC;
        if (starts_number(w) || labelled_row(w, &rest) >= 0) return DM_MOTIF_FMT_BARE;
        return -1;
    }
    *first = -1;
    return -1;
}

dm_status dm_motifs_read(const char *path, const dm_motifs_read_options *o, dm_motif_set *out,
                         dm_motifs_info *info) {
    out->n = 0;
    out->m = NULL;
    dm_motifs_read_options def;
    if (!o) {
        dm_motifs_read_options_default(&def);
        o = &def;
    }
    dm_motifs_info tmp = {0};
    if (!info) info = &tmp;
    *info = (dm_motifs_info){0};
    if ((o->type != DM_MOTIF_AUTO && o->type != DM_MOTIF_PPM && o->type != DM_MOTIF_CWM) ||
        !(o->pseudocount >= 0 && o->pseudocount < 1e9))
        return dm_error(DM_STATUS_ARG, "%s: bad motif reading options (type %d, pseudocount %g)", path, o->type,
                        o->pseudocount);
    mdb_text t = {.path = path};
    mdb_list l = {0};
    long first;
    dm_status st = text_read(path, &t);
    int fmt = st ? -1 : detect(&t, &first);
    if (st) {
    } else if (t.n_lines == 0 || first < 0) {
        st = dm_error(DM_STATUS_FORMAT, "%s: the file is empty (not a motif file)", path);
    } else if (fmt < 0) {
        st = dm_error(DM_STATUS_FORMAT,
                      "%s:%ld: not a motif file: expected MEME ('MEME version'), JASPAR or HOCOMOCO (a '>ID' "
                      "header), TRANSFAC (AC/ID/P0 lines) or a bare count matrix",
                      path, first + 1);
    } else if (fmt == DM_MOTIF_FMT_MEME) {
        free(t.buf);
        free(t.line);
        info->format = DM_MOTIF_FMT_MEME;
        return dm_meme_read_as(path, o->type, out, &info->type);
    } else if (fmt == DM_MOTIF_FMT_TRANSFAC) {
        st = parse_transfac(&t, &l);
    } else {
        st = parse_headed(&t, first, fmt == DM_MOTIF_FMT_BARE, &l);
    }
    /* The numeric layout: the first unlabelled matrix that is not 4 x 4 decides it. */
    bool rows_layout = true, decided = false;
    for (int i = 0; i < l.n && !st && fmt != DM_MOTIF_FMT_TRANSFAC; i++) {
        mdb_raw *m = &l.r[i];
        if (m->labelled || (m->nrows == 4 && m->ncols == 4) || (m->nrows != 4 && m->ncols != 4)) continue;
        rows_layout = m->nrows == 4;
        decided = true;
        break;
    }
    if (!st) {
        info->format = fmt == DM_MOTIF_FMT_TRANSFAC ? DM_MOTIF_FMT_TRANSFAC
                       : fmt == DM_MOTIF_FMT_BARE   ? DM_MOTIF_FMT_BARE
                       : decided && !rows_layout    ? DM_MOTIF_FMT_HOCOMOCO
                                                    : DM_MOTIF_FMT_JASPAR;
        info->type = o->type == DM_MOTIF_CWM ? DM_MOTIF_CWM : DM_MOTIF_PPM;
        if (l.n > 0 && !(out->m = calloc((size_t)l.n, sizeof(dm_motif))))
            st = dm_error(DM_STATUS_NOMEM, "%s: out of memory", path);
    }
    for (int i = 0; i < l.n && !st; i++) {
        st = convert(path, &l.r[i], fmt == DM_MOTIF_FMT_TRANSFAC ? false : rows_layout, o, &out->m[i], info);
        out->n = i + 1;
    }
    list_free(&l);
    free(t.buf);
    free(t.line);
    if (st) dm_motif_set_free(out);
    return st;
}
