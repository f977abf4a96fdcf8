/*
 * data.c: reading sequence data sets (FORMATS.md §1–3, SPEC.md §1), whole or in chunks (scan).
 * Deriving (shuffled negatives, the validation split) and writing them: host/dataset.c.
 *
 * Readers stream the file through zlib (gzip and plain text alike) one line at a time, so a file of
 * any size costs one chunk buffer plus the growing (n, len) code array. The format is detected from
 * the first non-empty line: a header naming EventID, seq and Bound is DeepBind; '>' is FASTA,
 * labelled when the first header (spaces removed) is exactly "1" or "0"; anything else is a
 * two-column sequence<TAB>label TSV.
 *
 * Groups keep a positive and the shuffle made from it together in the validation split:
 *  - DeepBind: the rank NNN of EventIDs "<prefix>_NNN_peak" / "<prefix>_NNN_shuf" (optionally
 *    followed by "|..."); if any EventID lacks it, every row is its own group.
 *  - Labelled FASTA and TSV have no ids, so a negative directly after a positive joins its group
 *    when it is an exact dinucleotide shuffle of it (same length, first and last base, dinucleotide
 *    counts): the pair layout of train.fa (FORMATS.md §2). Every other row is its own group.
 *
 * Data sets own everything: seq, seq_len, label, group and id are malloc'd arrays and every id[i]
 * is its own malloc'd string; dm_dataset_free() releases them. n_ambiguous counts N/IUPAC codes in
 * the kept prefix (what the model sees).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "dm_internal.h"
#include "dm_rng.h"

#define DM_READ_CHUNK (1u << 18)   /* decompressed bytes per gzread */
#define DM_MAX_LEN (1 << 24)       /* longest supported row length L */
#define DM_MAX_LINE (1u << 20)     /* line cap: 1 MiB, or 2 L + 4 KiB when that is longer */

/* ---- base codes ------------------------------------------------------------------------------ */

/* Byte → code + 1 (0 = invalid): ACGT in either case 1..4, N and the IUPAC ambiguity codes 5. A
 * constant table, so concurrent readers need no initialisation. */
#define DM_AMBIG (DM_BASE_N + 1)
static const uint8_t dm_base_code1[256] = {
    ['A'] = 1, ['C'] = 2, ['G'] = 3, ['T'] = 4, ['a'] = 1, ['c'] = 2, ['g'] = 3, ['t'] = 4,
    ['N'] = DM_AMBIG, ['R'] = DM_AMBIG, ['Y'] = DM_AMBIG, ['S'] = DM_AMBIG, ['W'] = DM_AMBIG,
    ['K'] = DM_AMBIG, ['M'] = DM_AMBIG, ['B'] = DM_AMBIG, ['D'] = DM_AMBIG, ['H'] = DM_AMBIG,
    ['V'] = DM_AMBIG, ['n'] = DM_AMBIG, ['r'] = DM_AMBIG, ['y'] = DM_AMBIG, ['s'] = DM_AMBIG,
    ['w'] = DM_AMBIG, ['k'] = DM_AMBIG, ['m'] = DM_AMBIG, ['b'] = DM_AMBIG, ['d'] = DM_AMBIG,
    ['h'] = DM_AMBIG, ['v'] = DM_AMBIG,
};

/* Formats a byte for an error message: the character itself, or \xNN when not printable. */
static const char *dm_byte_repr(uint8_t c, char buf[8]) {
    if (c >= 0x20 && c < 0x7F) snprintf(buf, 8, "%c", c);
    else snprintf(buf, 8, "\\x%02X", c);
    return buf;
}

/* ---- line reader --------------------------------------------------------------------------- */

/* Lines of a gzip or plain file, LF or CRLF, without their terminator, NUL-terminated. */
typedef struct dm_lines {
    gzFile gz;
    const char *path;
    char *chunk;                /* decompressed bytes [0, chunk_len), next unread at chunk_pos */
    size_t chunk_len, chunk_pos;
    char *acc;                  /* a line that spans chunk boundaries */
    size_t acc_len, acc_cap;
    size_t max_line;            /* longest line accepted, terminator excluded */
    int64_t lineno;             /* 1-based number of the line last returned */
    bool eof;
} dm_lines;

/* The line cap for rows of length len: DM_MAX_LINE, or room for a row twice as long as the model's
 * (kept in part, truncated) plus its id and label columns. */
static size_t dm_line_cap(int32_t len) {
    size_t c = 2 * (size_t)len + 4096;
    return c > DM_MAX_LINE ? c : DM_MAX_LINE;
}

/* The error of a line over the cap (line lineno + 1, the one being read). */
static dm_status dm_lines_too_long(const dm_lines *r) {
    return dm_error(DM_STATUS_FORMAT,
                    "%s:%lld: line longer than %zu bytes, the line cap (1 MiB, or twice the sequence "
                    "length); a long FASTA sequence must be wrapped over several lines (e.g. fold -w 80)",
                    r->path, (long long)r->lineno + 1, r->max_line);
}

static dm_status dm_lines_open(dm_lines *r, const char *path, size_t max_line) {
    memset(r, 0, sizeof *r);
    r->path = path;
    r->max_line = max_line;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return dm_error(DM_STATUS_IO, "%s: %s", path, strerror(errno));
    dm_status chk = dm_input_check(path, fd, NULL);   /* a directory opens, then fails to read */
    if (chk != DM_STATUS_OK) {
        close(fd);
        return chk;
    }
    r->gz = gzdopen(fd, "rb");
    if (!r->gz) {
        close(fd);
        return dm_error(DM_STATUS_NOMEM, "%s: cannot allocate a gzip reader", path);
    }
    gzbuffer(r->gz, DM_READ_CHUNK);
    r->chunk = malloc(DM_READ_CHUNK);
    if (!r->chunk) {
        gzclose(r->gz);
        r->gz = NULL;
        return dm_error(DM_STATUS_NOMEM, "%s: out of memory", path);
    }
    return DM_STATUS_OK;
}

static void dm_lines_close(dm_lines *r) {
    if (r->gz) gzclose(r->gz);
    free(r->chunk);
    free(r->acc);
    memset(r, 0, sizeof *r);
}

/* Appends bytes to the spanning-line buffer, keeping room for a NUL. */
static dm_status dm_lines_append(dm_lines *r, const char *s, size_t m) {
    if (m > r->max_line - r->acc_len) return dm_lines_too_long(r);
    if (r->acc_len + m + 1 > r->acc_cap) {
        size_t cap = r->acc_cap ? r->acc_cap : 256;
        while (cap < r->acc_len + m + 1) cap *= 2;
        char *p = realloc(r->acc, cap);
        if (!p) return dm_error(DM_STATUS_NOMEM, "%s: out of memory", r->path);
        r->acc = p;
        r->acc_cap = cap;
    }
    memcpy(r->acc + r->acc_len, s, m);
    r->acc_len += m;
    r->acc[r->acc_len] = '\0';
    return DM_STATUS_OK;
}

/* The next line in *line / *n (valid until the next call); *line = NULL at the end of the file.
 * A damaged or truncated gzip stream is DM_STATUS_IO. */
static dm_status dm_lines_next(dm_lines *r, char **line, size_t *n) {
    r->acc_len = 0;
    bool partial = false;
    for (;;) {
        if (r->chunk_pos < r->chunk_len) {
            char *s = r->chunk + r->chunk_pos;
            size_t avail = r->chunk_len - r->chunk_pos;
            char *nl = memchr(s, '\n', avail);
            if (nl) {
                size_t m = (size_t)(nl - s);
                r->chunk_pos += m + 1;
                if (partial) {
                    DM_TRY(dm_lines_append(r, s, m));
                    *line = r->acc;
                    *n = r->acc_len;
                } else {
                    if (m > r->max_line) return dm_lines_too_long(r);
                    *nl = '\0';
                    *line = s;
                    *n = m;
                }
                break;
            }
            /* No newline in the rest of the chunk: keep it and read more. */
            DM_TRY(dm_lines_append(r, s, avail));
            partial = true;
            r->chunk_pos = r->chunk_len;
        }
        if (r->eof) {
            if (!partial) {
                *line = NULL;
                *n = 0;
                return DM_STATUS_OK;
            }
            *line = r->acc;
            *n = r->acc_len;
            break;
        }
        int got = gzread(r->gz, r->chunk, DM_READ_CHUNK);
        int errnum = Z_OK;
        const char *msg = gzerror(r->gz, &errnum);
        if (got < 0 || (errnum != Z_OK && errnum != Z_STREAM_END)) {
            /* zlib reports a cut-off stream as Z_BUF_ERROR; its messages start "<fd:N>: ". */
            if (errnum == Z_ERRNO) msg = strerror(errno);
            else if (strncmp(msg, "<fd:", 4) == 0 && strstr(msg, ": ")) msg = strstr(msg, ": ") + 2;
            return dm_error(DM_STATUS_IO, "%s: %s after %lld uncompressed bytes: %s", r->path,
                            errnum == Z_BUF_ERROR ? "gzip file is truncated" : "read failed",
                            (long long)gztell(r->gz), msg);
        }
        if (got == 0) r->eof = true;
        r->chunk_len = (size_t)got;
        r->chunk_pos = 0;
    }
    r->lineno++;
    if (*n > 0 && (*line)[*n - 1] == '\r') (*line)[--*n] = '\0';
    return DM_STATUS_OK;
}

/* ---- data set builder ------------------------------------------------------------------------ */

/* A data set under construction: arrays with spare capacity, the open row's bookkeeping. A scan
 * (fn set) hands every chunk_rows complete rows to fn and reuses the arrays, so it holds at most one
 * chunk; a whole read holds everything, up to max_bytes. */
typedef struct dm_builder {
    dm_dataset *ds;
    dm_lines *r;
    const char *path;
    int64_t cap;           /* rows allocated */
    int64_t row_bases;     /* bases seen in the open row, including those beyond len */
    bool row_ambiguous;    /* the open row's kept prefix holds an N/IUPAC code */
    uint64_t max_bytes;    /* limit on bytes held (0: none) */
    uint64_t id_bytes;     /* heap bytes of the ids held */
    dm_chunk_fn fn;        /* scan: consumer of each chunk (NULL: a validating scan) */
    void *ctx;
    int64_t chunk_rows;    /* scan: rows per chunk (0: not a scan) */
    int64_t row0;          /* scan: file rows handed over before ds's first */
    dm_dataset *totals;    /* scan: counts over every chunk */
} dm_builder;

/* Bytes of the per-row arrays of one row of length len (codes, seq_len, label, group, id pointer). */
static uint64_t dm_row_bytes(int32_t len) {
    return (uint64_t)len + sizeof(int32_t) + sizeof(int8_t) + sizeof(int64_t) + sizeof(char *);
}

/* Heap bytes of a malloc'd id of m characters (glibc: 8 bytes of header, 16-byte granules). */
static uint64_t dm_id_bytes(size_t m) { return ((uint64_t)m + 1 + 8 + 15) & ~(uint64_t)15; }

uint64_t dm_dataset_bytes(const dm_dataset *ds) {
    uint64_t b = (uint64_t)ds->n * dm_row_bytes(ds->len);
    if (ds->id)
        for (int64_t i = 0; i < ds->n; i++)
            if (ds->id[i]) b += dm_id_bytes(strlen(ds->id[i]));
    return b;
}

/* The refusal of a data set over the memory limit, at the line being read. */
static dm_status dm_builder_over(const dm_builder *b) {
    int64_t n = b->ds->n;
    return dm_error(DM_STATUS_NOMEM,
                    "%s:%lld: data set too large: %lld sequences of length %d already hold %.1f MiB, "
                    "the memory limit is %.1f MiB",
                    b->path, (long long)b->r->lineno, (long long)n, (int)b->ds->len,
                    ((double)n * (double)dm_row_bytes(b->ds->len) + (double)b->id_bytes) / 1048576.0,
                    (double)b->max_bytes / 1048576.0);
}

/* Grows every per-row array to hold at least `need` rows (doubling, but never past the limit). */
static dm_status dm_builder_reserve(dm_builder *b, int64_t need) {
    if (need <= b->cap) return DM_STATUS_OK;
    dm_dataset *ds = b->ds;
    uint64_t rb = dm_row_bytes(ds->len);
    int64_t cap = b->cap ? b->cap : 1024;
    while (cap < need) cap *= 2;
    if (b->chunk_rows && cap > b->chunk_rows) cap = b->chunk_rows > need ? b->chunk_rows : need;
    /* Rows are charged as they fill (spare capacity is never touched, so never resident), but the
     * capacity does not grow past what the limit could ever fill. */
    if (b->max_bytes && (uint64_t)cap > b->max_bytes / rb)
        cap = (int64_t)(b->max_bytes / rb) > need ? (int64_t)(b->max_bytes / rb) : need;
    if ((uint64_t)cap > SIZE_MAX / (uint64_t)ds->len / 8)
        return dm_error(DM_STATUS_NOMEM, "%s: too many sequences", b->path);
    /* Each realloc result is stored at once, so a later failure leaves nothing to leak. */
    void *p;
    if (!(p = realloc(ds->seq, (size_t)cap * (size_t)ds->len))) goto nomem;
    ds->seq = p;
    if (!(p = realloc(ds->seq_len, (size_t)cap * sizeof *ds->seq_len))) goto nomem;
    ds->seq_len = p;
    if (!(p = realloc(ds->label, (size_t)cap * sizeof *ds->label))) goto nomem;
    ds->label = p;
    if (!(p = realloc(ds->group, (size_t)cap * sizeof *ds->group))) goto nomem;
    ds->group = p;
    if (!(p = realloc(ds->id, (size_t)cap * sizeof *ds->id))) goto nomem;
    ds->id = p;
    b->cap = cap;
    return DM_STATUS_OK;
nomem:
    return dm_error(DM_STATUS_NOMEM, "%s: out of memory after %lld sequences", b->path,
                    (long long)ds->n);
}

/* Scan: hands the complete rows held to the consumer, adds their counts to the totals and empties
 * the chunk (ids freed, arrays kept). */
static dm_status dm_builder_flush(dm_builder *b) {
    dm_dataset *ds = b->ds;
    if (ds->n == 0) return DM_STATUS_OK;
    dm_status st = b->fn ? b->fn(b->ctx, ds, b->row0) : DM_STATUS_OK;
    b->totals->n += ds->n;
    b->totals->n_padded += ds->n_padded;
    b->totals->n_truncated += ds->n_truncated;
    b->totals->n_ambiguous += ds->n_ambiguous;
    b->row0 += ds->n;
    for (int64_t i = 0; i < ds->n; i++) {
        free(ds->id[i]);
        ds->id[i] = NULL;
    }
    ds->n = ds->n_padded = ds->n_truncated = ds->n_ambiguous = 0;
    b->id_bytes = 0;
    return st;
}

/* Opens row n with its id (taken over, freed by the data set), label and group. */
static dm_status dm_builder_begin(dm_builder *b, char *id, int8_t label, int64_t group) {
    dm_dataset *ds = b->ds;
    dm_status st = DM_STATUS_OK;
    if (b->chunk_rows && ds->n == b->chunk_rows) st = dm_builder_flush(b);
    if (st == DM_STATUS_OK && id) {
        b->id_bytes += dm_id_bytes(strlen(id));
        if (b->max_bytes && (uint64_t)(ds->n + 1) * dm_row_bytes(ds->len) + b->id_bytes > b->max_bytes)
            st = dm_builder_over(b);
    }
    if (st == DM_STATUS_OK) st = dm_builder_reserve(b, ds->n + 1);
    if (st != DM_STATUS_OK) {
        free(id);
        return st;
    }
    int64_t i = ds->n++;
    memset(ds->seq + i * ds->len, DM_BASE_PAD, (size_t)ds->len);
    ds->seq_len[i] = 0;
    ds->label[i] = label;
    ds->group[i] = group;
    ds->id[i] = id;
    if (!id) return dm_error(DM_STATUS_NOMEM, "%s: out of memory", b->path);
    b->row_bases = 0;
    b->row_ambiguous = false;
    return DM_STATUS_OK;
}

/* Appends the bases s[0..m) of file line `lineno` to the open row; keeps only the first len. */
static dm_status dm_builder_bases(dm_builder *b, const char *s, size_t m, int64_t lineno) {
    dm_dataset *ds = b->ds;
    uint8_t *row = ds->seq + (ds->n - 1) * ds->len;
    for (size_t j = 0; j < m; j++) {
        uint8_t code1 = dm_base_code1[(uint8_t)s[j]];
        if (code1 == 0) {
            char rep[8];
            return dm_error(DM_STATUS_FORMAT, "%s:%lld: invalid base '%s' in sequence", b->path,
                            (long long)lineno, dm_byte_repr((uint8_t)s[j], rep));
        }
        if (b->row_bases < ds->len) {
            row[b->row_bases] = (uint8_t)(code1 - 1);
            b->row_ambiguous |= code1 == DM_AMBIG;
        }
        b->row_bases++;
    }
    return DM_STATUS_OK;
}

/* Closes the open row (which started at file line `lineno`): records its length and the counts. */
static dm_status dm_builder_end(dm_builder *b, int64_t lineno) {
    dm_dataset *ds = b->ds;
    if (b->row_bases == 0)
        return dm_error(DM_STATUS_FORMAT, "%s:%lld: empty sequence", b->path, (long long)lineno);
    ds->seq_len[ds->n - 1] = (int32_t)(b->row_bases < ds->len ? b->row_bases : ds->len);
    ds->n_padded += b->row_bases < ds->len;
    ds->n_truncated += b->row_bases > ds->len;
    ds->n_ambiguous += b->row_ambiguous;
    return DM_STATUS_OK;
}

/* "<basename of path>:<line>", malloc'd (NULL when out of memory). */
static char *dm_file_line_id(const char *path, int64_t lineno) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t m = strlen(base) + 24;
    char *id = malloc(m);
    if (id) snprintf(id, m, "%s:%lld", base, (long long)lineno);
    return id;
}

static char *dm_strndup(const char *s, size_t m) {
    char *p = malloc(m + 1);
    if (p) {
        memcpy(p, s, m);
        p[m] = '\0';
    }
    return p;
}

/* ---- field helpers --------------------------------------------------------------------------- */

/* Splits line[0..n) at tabs into at most `max` fields; returns the number of fields in the line. */
static int dm_split_tabs(const char *line, size_t n, const char **f, size_t *fl, int max) {
    int k = 0;
    size_t start = 0;
    for (size_t j = 0; j <= n; j++) {
        if (j == n || line[j] == '\t') {
            if (k < max) {
                f[k] = line + start;
                fl[k] = j - start;
            }
            k++;
            start = j + 1;
        }
    }
    return k;
}

static bool dm_field_is(const char *f, size_t fl, const char *word) {
    return fl == strlen(word) && memcmp(f, word, fl) == 0;
}

/* A 0/1 label field: 1, 0, or -1 when it is anything else. */
static int dm_parse_label(const char *f, size_t fl) {
    if (fl == 1 && (f[0] == '0' || f[0] == '1')) return f[0] - '0';
    return -1;
}

/* Shows a field in an error message, cut to 40 bytes. */
#define DM_SHOW(f, fl) (int)((fl) < 40 ? (fl) : 40), (f)

/* ---- DeepBind TSV ---------------------------------------------------------------------------- */

#define DM_DB_MAX_COLS 64

/* The rank NNN of "<prefix>_NNN_peak" or "<prefix>_NNN_shuf" (optionally followed by "|..."), or
 * -1. */
static int64_t dm_event_rank(const char *id) {
    size_t m = strcspn(id, "|");
    if (m < 7 || id[m - 5] != '_') return -1;
    if (memcmp(id + m - 4, "peak", 4) != 0 && memcmp(id + m - 4, "shuf", 4) != 0) return -1;
    size_t end = m - 5, start = end;
    while (start > 0 && id[start - 1] >= '0' && id[start - 1] <= '9') start--;
    if (start == end || start == 0 || id[start - 1] != '_' || end - start > 15) return -1;
    int64_t rank = 0;
    for (size_t j = start; j < end; j++) rank = rank * 10 + (id[j] - '0');
    return rank;
}

/* Column indices of EventID, seq and Bound in a header line; false if one is missing. */
static bool dm_deepbind_header(const char *line, size_t n, int col[3]) {
    const char *f[DM_DB_MAX_COLS];
    size_t fl[DM_DB_MAX_COLS];
    int k = dm_split_tabs(line, n, f, fl, DM_DB_MAX_COLS);
    if (k > DM_DB_MAX_COLS) k = DM_DB_MAX_COLS;
    static const char *names[3] = {"EventID", "seq", "Bound"};
    for (int c = 0; c < 3; c++) {
        col[c] = -1;
        for (int j = 0; j < k && col[c] < 0; j++)
            if (dm_field_is(f[j], fl[j], names[c])) col[c] = j;
        if (col[c] < 0) return false;
    }
    return true;
}

static dm_status dm_read_deepbind(dm_lines *r, dm_builder *b, const char *hdr, size_t hdr_n) {
    int col[3];
    if (!dm_deepbind_header(hdr, hdr_n, col))
        return dm_error(DM_STATUS_FORMAT,
                        "%s:%lld: DeepBind header must name the columns EventID, seq and Bound",
                        r->path, (long long)r->lineno);
    int need = 1 + (col[0] > col[1] ? (col[0] > col[2] ? col[0] : col[2])
                                    : (col[1] > col[2] ? col[1] : col[2]));
    bool ranked = true;   /* every EventID carried a rank so far */
    char *line;
    size_t n;
    for (;;) {
        DM_TRY(dm_lines_next(r, &line, &n));
        if (!line) break;
        if (n == 0) continue;
        const char *f[DM_DB_MAX_COLS];
        size_t fl[DM_DB_MAX_COLS];
        int k = dm_split_tabs(line, n, f, fl, DM_DB_MAX_COLS);
        if (k < need)
            return dm_error(DM_STATUS_FORMAT,
                            "%s:%lld: expected %d tab-separated columns, found %d", r->path,
                            (long long)r->lineno, need, k);
        int label = dm_parse_label(f[col[2]], fl[col[2]]);
        if (label < 0)
            return dm_error(DM_STATUS_FORMAT, "%s:%lld: Bound must be 0 or 1, found '%.*s'",
                            r->path, (long long)r->lineno, DM_SHOW(f[col[2]], fl[col[2]]));
        char *id = dm_strndup(f[col[0]], fl[col[0]]);
        int64_t rank = id ? dm_event_rank(id) : -1;
        ranked &= rank >= 0;
        DM_TRY(dm_builder_begin(b, id, (int8_t)label, rank));
        DM_TRY(dm_builder_bases(b, f[col[1]], fl[col[1]], r->lineno));
        DM_TRY(dm_builder_end(b, r->lineno));
    }
    /* Without a rank on every row, each row is its own group. */
    if (!ranked)
        for (int64_t i = 0; i < b->ds->n; i++) b->ds->group[i] = i;
    return DM_STATUS_OK;
}

/* ---- FASTA, labelled or plain ---------------------------------------------------------------- */

/* The label of a labelled-FASTA header line (after '>', spaces and tabs removed), or -1. */
static int dm_fasta_label(const char *line, size_t n) {
    char c = 0;
    int seen = 0;
    for (size_t j = 1; j < n; j++) {
        if (line[j] == ' ' || line[j] == '\t') continue;
        c = line[j];
        seen++;
    }
    return seen == 1 && (c == '0' || c == '1') ? c - '0' : -1;
}

static dm_status dm_read_fasta(dm_lines *r, dm_builder *b, bool labelled, char *line, size_t n) {
    bool open = false;      /* a record is open */
    int64_t rec_line = 0;   /* line of the open record's header */
    while (line) {
        if (n > 0 && line[0] != '>') {
            /* A sequence line of the open record. */
            if (!open)
                return dm_error(DM_STATUS_FORMAT, "%s:%lld: sequence before the first '>' header",
                                r->path, (long long)r->lineno);
            DM_TRY(dm_builder_bases(b, line, n, r->lineno));
        } else if (n > 0) {
            /* A header: close the previous record, open the next. */
            if (open) DM_TRY(dm_builder_end(b, rec_line));
            rec_line = r->lineno;
            int8_t label = DM_LABEL_UNKNOWN;
            char *id;
            if (labelled) {
                int lab = dm_fasta_label(line, n);
                if (lab < 0)
                    return dm_error(DM_STATUS_FORMAT,
                                    "%s:%lld: labelled FASTA header must be '>1' or '>0', "
                                    "found '%.*s'",
                                    r->path, (long long)r->lineno, DM_SHOW(line, n));
                label = (int8_t)lab;
                id = dm_file_line_id(r->path, r->lineno);
            } else {
                /* id = the first word after '>', or file:line when there is none. */
                size_t s = 1;
                while (s < n && (line[s] == ' ' || line[s] == '\t')) s++;
                size_t e = s;
                while (e < n && line[e] != ' ' && line[e] != '\t') e++;
                id = e > s ? dm_strndup(line + s, e - s) : dm_file_line_id(r->path, r->lineno);
            }
            DM_TRY(dm_builder_begin(b, id, label, b->ds->n));
            open = true;
        }
        DM_TRY(dm_lines_next(r, &line, &n));
    }
    if (open) DM_TRY(dm_builder_end(b, rec_line));
    return DM_STATUS_OK;
}

/* ---- two-column TSV -------------------------------------------------------------------------- */

static dm_status dm_read_tsv(dm_lines *r, dm_builder *b, char *line, size_t n) {
    /* `line` is the first non-empty line: the only one that may be a header. */
    bool first = true;
    for (; line; first = false) {
        const char *f[2];
        size_t fl[2];
        int k = dm_split_tabs(line, n, f, fl, 2);
        int label = k == 2 ? dm_parse_label(f[1], fl[1]) : -1;
        bool header = first && k == 2 && label < 0;
        if (n > 0 && !header) {
            if (k != 2)
                return dm_error(DM_STATUS_FORMAT,
                                "%s:%lld: expected 2 tab-separated columns (sequence, label), "
                                "found %d%s",
                                r->path, (long long)r->lineno, k,
                                first && k > 2 ? " (a DeepBind header must name the columns "
                                                 "EventID, seq and Bound)" : "");
            if (label < 0)
                return dm_error(DM_STATUS_FORMAT, "%s:%lld: label must be 0 or 1, found '%.*s'",
                                r->path, (long long)r->lineno, DM_SHOW(f[1], fl[1]));
            DM_TRY(dm_builder_begin(b, dm_file_line_id(r->path, r->lineno), (int8_t)label,
                                    b->ds->n));
            DM_TRY(dm_builder_bases(b, f[0], fl[0], r->lineno));
            DM_TRY(dm_builder_end(b, r->lineno));
        }
        DM_TRY(dm_lines_next(r, &line, &n));
    }
    return DM_STATUS_OK;
}

/* ---- composition pairs ----------------------------------------------------------------------- */

void dm_dataset_pair_shuffles(dm_dataset *ds) {
    for (int64_t i = 1; i < ds->n; i++)
        if (ds->label[i] == 0 && ds->label[i - 1] == 1 && ds->group[i - 1] == i - 1 &&
            dm_rows_same_composition(ds, i - 1, i))
            ds->group[i] = ds->group[i - 1];
}

/* ---- public reader --------------------------------------------------------------------------- */

/* Gives spare capacity back once the row count is final (a failed shrink keeps the old block). */
static void dm_dataset_shrink(dm_dataset *ds) {
    size_t n = (size_t)ds->n;
    void *p;
    if ((p = realloc(ds->seq, n * (size_t)ds->len))) ds->seq = p;
    if ((p = realloc(ds->seq_len, n * sizeof *ds->seq_len))) ds->seq_len = p;
    if ((p = realloc(ds->label, n * sizeof *ds->label))) ds->label = p;
    if ((p = realloc(ds->group, n * sizeof *ds->group))) ds->group = p;
    if ((p = realloc(ds->id, n * sizeof *ds->id))) ds->id = p;
}

static dm_status dm_read_all(dm_builder *b, dm_format format) {
    dm_dataset *ds = b->ds;
    dm_lines *r = b->r;
    const char *path = b->path;
    char *line;
    size_t n;
    /* The first non-empty line decides the format. */
    DM_TRY(dm_lines_next(r, &line, &n));
    while (line && n == 0) DM_TRY(dm_lines_next(r, &line, &n));
    if (!line)
        return dm_error(DM_STATUS_FORMAT, r->lineno == 0 ? "%s: the file is empty (no sequences)"
                                                         : "%s: no sequences (only blank lines)", path);

    int col[3];
    if (format == DM_FORMAT_AUTO) {
        if (line[0] == '>') format = dm_fasta_label(line, n) >= 0 ? DM_FORMAT_LABELLED_FASTA
                                                                    : DM_FORMAT_FASTA;
        else if (dm_deepbind_header(line, n, col)) format = DM_FORMAT_DEEPBIND;
        else format = DM_FORMAT_TSV;
    }
    ds->format = format;
    if (b->totals) b->totals->format = format;
    switch (format) {
    case DM_FORMAT_DEEPBIND:
        DM_TRY(dm_read_deepbind(r, b, line, n));
        break;
    case DM_FORMAT_LABELLED_FASTA:
    case DM_FORMAT_FASTA:
        if (line[0] != '>')
            return dm_error(DM_STATUS_FORMAT, "%s:%lld: expected a FASTA header starting with '>'",
                            path, (long long)r->lineno);
        DM_TRY(dm_read_fasta(r, b, format == DM_FORMAT_LABELLED_FASTA, line, n));
        break;
    default:
        DM_TRY(dm_read_tsv(r, b, line, n));
        break;
    }
    if (b->row0 + ds->n == 0) return dm_error(DM_STATUS_FORMAT, "%s: no sequences", path);
    if (b->chunk_rows) return DM_STATUS_OK;   /* a scan: the caller hands over the last chunk */
    if (format == DM_FORMAT_LABELLED_FASTA || format == DM_FORMAT_TSV) dm_dataset_pair_shuffles(ds);
    dm_dataset_shrink(ds);
    return DM_STATUS_OK;
}

/* Reads (or, with chunk_rows, scans) path into the builder's data set; closes the file. */
static dm_status dm_read_file(dm_builder *b, const char *path, dm_format format, int32_t len) {
    dm_dataset *ds = b->ds;
    memset(ds, 0, sizeof *ds);
    if (len <= 0 || len > DM_MAX_LEN)
        return dm_error(DM_STATUS_ARG, "%s: sequence length %d out of range 1..%d", path, (int)len,
                        DM_MAX_LEN);
    if (format < DM_FORMAT_AUTO || format > DM_FORMAT_TSV)
        return dm_error(DM_STATUS_ARG, "%s: unknown format %d", path, (int)format);
    ds->len = len;

    dm_lines r;
    DM_TRY(dm_lines_open(&r, path, dm_line_cap(len)));
    b->r = &r;
    b->path = path;
    dm_status st = dm_read_all(b, format);
    /* gzclose reports a stream that ended early even when every gzread looked fine. */
    int zc = gzclose(r.gz);
    r.gz = NULL;
    dm_lines_close(&r);
    b->r = NULL;
    if (st == DM_STATUS_OK && zc != Z_OK)
        st = dm_error(DM_STATUS_IO, "%s: gzip stream is truncated or damaged", path);
    return st;
}

uint64_t dm_memory_total(void) {
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    uint64_t total = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : (uint64_t)8 << 30;
    /* A cgroup v2 limit (a batch job's allocation) lower than the machine's memory wins. */
    FILE *f = fopen("/sys/fs/cgroup/memory.max", "r");
    if (f) {
        unsigned long long lim;
        if (fscanf(f, "%llu", &lim) == 1 && lim > 0 && lim < total) total = lim;
        fclose(f);
    }
    return total;
}

dm_status dm_dataset_read_max(dm_dataset *ds, const char *path, dm_format format, int32_t len,
                              uint64_t max_bytes) {
    if (!ds || !path) return dm_error(DM_STATUS_ARG, "dm_dataset_read: NULL argument");
    dm_builder b = {.ds = ds, .max_bytes = max_bytes};
    dm_status st = dm_read_file(&b, path, format, len);
    if (st != DM_STATUS_OK) dm_dataset_free(ds);
    return st;
}

dm_status dm_dataset_read(dm_dataset *ds, const char *path, dm_format format, int32_t len) {
    return dm_dataset_read_max(ds, path, format, len, dm_memory_total() / 2);
}

dm_status dm_dataset_scan(const char *path, dm_format format, int32_t len, int64_t chunk_rows,
                          dm_chunk_fn fn, void *ctx, dm_dataset *totals) {
    if (!path || !totals || chunk_rows < 1)
        return dm_error(DM_STATUS_ARG, "dm_dataset_scan: bad argument");
    memset(totals, 0, sizeof *totals);
    totals->len = len;
    dm_dataset chunk;
    dm_builder b = {.ds = &chunk, .fn = fn, .ctx = ctx, .chunk_rows = chunk_rows,
                    .totals = totals};
    dm_status st = dm_read_file(&b, path, format, len);
    if (st == DM_STATUS_OK) st = dm_builder_flush(&b);   /* the last, partial chunk */
    dm_dataset_free(&chunk);
    return st;
}

void dm_dataset_free(dm_dataset *ds) {
    if (!ds) return;
    if (ds->id)
        for (int64_t i = 0; i < ds->n; i++) free(ds->id[i]);
    free(ds->id);
    free(ds->seq);
    free(ds->seq_len);
    free(ds->label);
    free(ds->group);
    memset(ds, 0, sizeof *ds);
}
