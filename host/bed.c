/*
 * bed.c: regions from BED files, resized to a model's length, checked against a genome and read into
 * data sets (genome.h).
 *
 * BED lines (gzip or plain): chrom, start, end, then optionally name, score, strand and any further
 * columns (narrowPeak and BED12 read as BED6). Fields are separated by tabs; a line without a tab is
 * split at runs of spaces (the BED specification allows either). Empty lines and lines starting with
 * "track", "browser" or '#' are skipped. Coordinates are 0-based, half-open; start must be below end.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "dm_internal.h"
#include "genome.h"

#define DM_BED_MAX_COLS 64
#define DM_BED_MAX_LINE (1u << 20)

/* Shows a field in an error message, cut to 40 bytes. */
#define DM_SHOW(f, fl) (int)((fl) < 40 ? (fl) : 40), (f)

/* ---- lines ------------------------------------------------------------------------------------ */

typedef struct dm_bed_lines {
    gzFile gz;
    const char *path;
    char *buf;
    size_t cap;
    int64_t lineno;
} dm_bed_lines;

/* The next line without its terminator (LF or CRLF) in *line, *n; *line NULL at the end. */
static dm_status dm_bed_next(dm_bed_lines *r, char **line, size_t *n) {
    size_t len = 0;
    *line = NULL;
    *n = 0;
    for (;;) {
        if (r->cap - len < 2) {
            if (r->cap >= DM_BED_MAX_LINE)
                return dm_error(DM_STATUS_FORMAT, "%s:%lld: line longer than %u bytes", r->path,
                                (long long)r->lineno + 1, DM_BED_MAX_LINE);
            size_t cap = r->cap ? 2 * r->cap : 4096;
            char *p = realloc(r->buf, cap);
            if (!p) return dm_error(DM_STATUS_NOMEM, "%s: out of memory", r->path);
            r->buf = p;
            r->cap = cap;
        }
        if (!gzgets(r->gz, r->buf + len, (int)(r->cap - len))) {
            int e = Z_OK;
            const char *m = gzerror(r->gz, &e);
            if (e != Z_OK && e != Z_STREAM_END)
                return dm_error(DM_STATUS_IO, "%s: %s: %s", r->path,
                                e == Z_BUF_ERROR ? "gzip file is truncated" : "read failed",
                                e == Z_ERRNO ? strerror(errno) : m);
            if (len == 0) return DM_STATUS_OK;   /* the end of the file */
            break;                               /* a last line without a newline */
        }
        len += strlen(r->buf + len);
        if (len > 0 && r->buf[len - 1] == '\n') break;
        if (gzeof(r->gz)) break;
    }
    r->lineno++;
    if (len > 0 && r->buf[len - 1] == '\n') len--;
    if (len > 0 && r->buf[len - 1] == '\r') len--;
    r->buf[len] = '\0';
    *line = r->buf;
    *n = len;
    return DM_STATUS_OK;
}

/* ---- fields ----------------------------------------------------------------------------------- */

/* Splits at tabs, or, in a line without tabs, at runs of spaces; returns the number of fields. */
static int dm_bed_split(const char *line, size_t n, const char **f, size_t *fl) {
    int k = 0;
    if (memchr(line, '\t', n)) {
        size_t start = 0;
        for (size_t j = 0; j <= n; j++)
            if (j == n || line[j] == '\t') {
                if (k < DM_BED_MAX_COLS) {
                    f[k] = line + start;
                    fl[k] = j - start;
                }
                k++;
                start = j + 1;
            }
        return k;
    }
    size_t j = 0;
    while (j < n) {
        while (j < n && line[j] == ' ') j++;
        if (j == n) break;
        size_t s = j;
        while (j < n && line[j] != ' ') j++;
        if (k < DM_BED_MAX_COLS) {
            f[k] = line + s;
            fl[k] = j - s;
        }
        k++;
    }
    return k;
}

/* A non-negative decimal coordinate below 2^62; false otherwise. */
static bool dm_bed_coord(const char *f, size_t fl, int64_t *v) {
    if (fl == 0 || fl > 18) return false;
    int64_t x = 0;
    for (size_t j = 0; j < fl; j++) {
        if (f[j] < '0' || f[j] > '9') return false;
        x = x * 10 + (f[j] - '0');
    }
    *v = x;
    return true;
}

static bool dm_bed_skipped(const char *line, size_t n) {
    size_t j = 0;
    while (j < n && (line[j] == ' ' || line[j] == '\t')) j++;
    if (j == n || line[j] == '#') return true;
    for (int w = 0; w < 2; w++) {
        const char *word = w ? "browser" : "track";
        size_t m = strlen(word);
        if (n - j >= m && !memcmp(line + j, word, m) && (n - j == m || line[j + m] == ' ' || line[j + m] == '\t'))
            return true;
    }
    return false;
}

/* Parses one data line into *r; errors name path:lineno. */
static dm_status dm_bed_parse(const char *path, int64_t lineno, const char *line, size_t n, int label_col,
                              dm_region *r) {
    const char *f[DM_BED_MAX_COLS];
    size_t fl[DM_BED_MAX_COLS];
    int k = dm_bed_split(line, n, f, fl);
    long long ln = (long long)lineno;
    if (k < 3)
        return dm_error(DM_STATUS_FORMAT,
                        "%s:%lld: expected at least 3 columns (chrom, start, end), found %d", path, ln, k);
    if (k > DM_BED_MAX_COLS) k = DM_BED_MAX_COLS;
    memset(r, 0, sizeof *r);
    r->line = lineno;
    if (fl[0] == 0) return dm_error(DM_STATUS_FORMAT, "%s:%lld: empty chromosome name", path, ln);
    if (fl[0] >= sizeof r->chrom)
        return dm_error(DM_STATUS_FORMAT, "%s:%lld: chromosome name longer than %zu characters", path, ln,
                        sizeof r->chrom - 1);
    memcpy(r->chrom, f[0], fl[0]);
    if (!dm_bed_coord(f[1], fl[1], &r->start))
        return dm_error(DM_STATUS_FORMAT, "%s:%lld: start must be a non-negative integer, found '%.*s'", path,
                        ln, DM_SHOW(f[1], fl[1]));
    if (!dm_bed_coord(f[2], fl[2], &r->end))
        return dm_error(DM_STATUS_FORMAT, "%s:%lld: end must be a non-negative integer, found '%.*s'", path,
                        ln, DM_SHOW(f[2], fl[2]));
    if (r->start >= r->end)
        return dm_error(DM_STATUS_FORMAT, "%s:%lld: start %lld is not below end %lld (an empty or reversed region)",
                        path, ln, (long long)r->start, (long long)r->end);
    r->bed_start = r->start;
    r->bed_end = r->end;
    r->strand = '.';
    if (k >= 6) {
        if (fl[5] != 1 || (f[5][0] != '+' && f[5][0] != '-' && f[5][0] != '.'))
            return dm_error(DM_STATUS_FORMAT, "%s:%lld: strand (column 6) must be '+', '-' or '.', found '%.*s'",
                            path, ln, DM_SHOW(f[5], fl[5]));
        r->strand = f[5][0];
    }
    if (k >= 4 && !(fl[3] == 1 && f[3][0] == '.') && fl[3] > 0) {
        if (fl[3] >= sizeof r->name)
            return dm_error(DM_STATUS_FORMAT, "%s:%lld: name longer than %zu characters", path, ln,
                            sizeof r->name - 1);
        memcpy(r->name, f[3], fl[3]);
    } else {
        snprintf(r->name, sizeof r->name, "%.80s:%lld-%lld%s", r->chrom, (long long)r->start, (long long)r->end,
                 r->strand == '+' ? "(+)" : r->strand == '-' ? "(-)" : "");
    }
    r->label = DM_LABEL_UNKNOWN;
    if (label_col > 0) {
        if (label_col > k)
            return dm_error(DM_STATUS_FORMAT, "%s:%lld: no label column %d (the line has %d columns)", path, ln,
                            label_col, k);
        const char *v = f[label_col - 1];
        size_t vl = fl[label_col - 1];
        if (vl != 1 || (v[0] != '0' && v[0] != '1'))
            return dm_error(DM_STATUS_FORMAT, "%s:%lld: label (column %d) must be 0 or 1, found '%.*s'", path, ln,
                            label_col, DM_SHOW(v, vl));
        r->label = (int8_t)(v[0] - '0');
    }
    return DM_STATUS_OK;
}

/* ---- reading ---------------------------------------------------------------------------------- */

void dm_regions_free(dm_regions *rs) {
    if (!rs) return;
    free(rs->r);
    rs->r = NULL;
    rs->n = 0;
}

static dm_status dm_bed_read_all(dm_bed_lines *lr, int label_col, dm_regions *out) {
    int64_t cap = 0;
    char *line;
    size_t n;
    for (;;) {
        DM_TRY(dm_bed_next(lr, &line, &n));
        if (!line) break;
        if (dm_bed_skipped(line, n)) continue;
        if (out->n == cap) {
            int64_t c = cap ? 2 * cap : 1024;
            dm_region *p = realloc(out->r, (size_t)c * sizeof *p);
            if (!p) return dm_error(DM_STATUS_NOMEM, "%s: out of memory after %lld regions", out->path, (long long)out->n);
            out->r = p;
            cap = c;
        }
        DM_TRY(dm_bed_parse(out->path, lr->lineno, line, n, label_col, &out->r[out->n]));
        out->n++;
    }
    if (out->n == 0)
        return dm_error(DM_STATUS_FORMAT, "%s: no regions (only %s)", out->path,
                        lr->lineno ? "comment, track and blank lines" : "an empty file");
    return DM_STATUS_OK;
}

dm_status dm_bed_read(const char *path, int label_col, dm_regions *out) {
    DM_CHECK_ARG(path && out, "dm_bed_read: NULL argument");
    memset(out, 0, sizeof *out);
    DM_CHECK_ARG(label_col == 0 || (label_col >= 4 && label_col <= DM_BED_MAX_COLS),
                 "dm_bed_read: label column %d (4..%d, or 0 for none)", label_col, DM_BED_MAX_COLS);
    if (strlen(path) >= sizeof out->path) return dm_error(DM_STATUS_ARG, "%.200s...: path too long", path);
    snprintf(out->path, sizeof out->path, "%s", path);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return dm_error(DM_STATUS_IO, "%s: %s", path, strerror(errno));
    dm_status st = dm_input_check(path, fd, NULL);
    if (st != DM_STATUS_OK) {
        close(fd);
        return st;
    }
    dm_bed_lines lr = {.path = out->path};
    lr.gz = gzdopen(fd, "rb");
    if (!lr.gz) {
        close(fd);
        return dm_error(DM_STATUS_NOMEM, "%s: cannot allocate a gzip reader", path);
    }
    st = dm_bed_read_all(&lr, label_col, out);
    int zc = gzclose(lr.gz);
    free(lr.buf);
    if (st == DM_STATUS_OK && zc != Z_OK) st = dm_error(DM_STATUS_IO, "%s: gzip stream is truncated or damaged", path);
    if (st != DM_STATUS_OK) dm_regions_free(out);
    return st;
}

/* ---- resizing, checking ----------------------------------------------------------------------- */

/* floor(a / 2) for any sign. */
static int64_t dm_half_floor(int64_t a) { return a >= 0 ? a / 2 : -((-a + 1) / 2); }

void dm_regions_resize(dm_regions *rs, int32_t len, dm_resize how) {
    if (!rs || len <= 0) return;
    for (int64_t i = 0; i < rs->n; i++) {
        dm_region *r = &rs->r[i];
        bool minus = r->strand == '-';
        int64_t w = r->end - r->start;
        switch (how) {
        case DM_RESIZE_START:
            if (minus) r->start = r->end - len;
            else r->end = r->start + len;
            break;
        case DM_RESIZE_END:
            if (minus) r->end = r->start + len;
            else r->start = r->end - len;
            break;
        default: {
            /* The same window as the strand reads it: on '-' the slack is split mirror-wise, so the
             * reverse complement of a minus-strand window is centred as a plus-strand one is. */
            int64_t slack = dm_half_floor(w - len);
            if (minus) {
                r->end -= slack;
                r->start = r->end - len;
            } else {
                r->start += slack;
                r->end = r->start + len;
            }
            break;
        }
        }
    }
}

/* A chromosome's name in the other naming convention ("chr1" ↔ "1"), when the genome has it. */
static const char *dm_other_convention(dm_genome *g, const char *chrom, char *buf, size_t n) {
    if (!strncmp(chrom, "chr", 3)) snprintf(buf, n, "%s", chrom + 3);
    else snprintf(buf, n, "chr%s", chrom);
    return dm_genome_chrom_index(g, buf) >= 0 ? buf : NULL;
}

/* Checks one region; *chrom gets its chromosome's index. */
static dm_status dm_region_check(const dm_regions *rs, const dm_region *r, dm_genome *g, int *chrom) {
    long long ln = (long long)r->line;
    *chrom = dm_genome_chrom_index(g, r->chrom);
    if (*chrom < 0) {
        char other[160];
        const char *alt = dm_other_convention(g, r->chrom, other, sizeof other);
        return dm_error(DM_STATUS_FORMAT, "%s:%lld: chromosome '%s' is not in the genome %s (%d sequences%s%s%s)",
                        rs->path, ln, r->chrom, dm_genome_path(g), dm_genome_n_chroms(g),
                        alt ? "; it has '" : "", alt ? alt : "", alt ? "': another naming convention?" : "");
    }
    if (r->start >= r->end)
        return dm_error(DM_STATUS_FORMAT, "%s:%lld: start %lld is not below end %lld", rs->path, ln,
                        (long long)r->start, (long long)r->end);
    int64_t clen = dm_genome_chrom_len(g, *chrom);
    if (r->start < 0 || r->end > clen) {
        bool resized = r->start != r->bed_start || r->end != r->bed_end;
        char how[160] = "";
        if (resized)
            snprintf(how, sizeof how, ", resized to %lld bp (%lld..%lld),", (long long)(r->end - r->start),
                     (long long)r->start, (long long)r->end);
        return dm_error(DM_STATUS_FORMAT, "%s:%lld: region %s:%lld-%lld%s lies outside %s (length %lld)", rs->path,
                        ln, r->chrom, (long long)r->bed_start, (long long)r->bed_end, how, r->chrom, (long long)clen);
    }
    return DM_STATUS_OK;
}

dm_status dm_regions_check(const dm_regions *rs, dm_genome *g) {
    DM_CHECK_ARG(rs && g, "dm_regions_check: NULL argument");
    DM_CHECK_ARG(rs->n == 0 || rs->r, "dm_regions_check: %lld regions without their array", (long long)rs->n);
    for (int64_t i = 0; i < rs->n; i++) {
        int chrom;
        DM_TRY(dm_region_check(rs, &rs->r[i], g, &chrom));
    }
    return DM_STATUS_OK;
}

/* ---- data sets -------------------------------------------------------------------------------- */

dm_status dm_regions_dataset(const dm_regions *rs, dm_genome *g, int32_t len, dm_dataset *out) {
    DM_CHECK_ARG(rs && g && out, "dm_regions_dataset: NULL argument");
    memset(out, 0, sizeof *out);
    DM_CHECK_ARG(len >= 1, "dm_regions_dataset: length %d", (int)len);
    DM_TRY(dm_regions_check(rs, g));
    int64_t n = rs->n;
    bool labelled = n > 0;
    for (int64_t i = 0; i < n; i++) labelled &= rs->r[i].label == 0 || rs->r[i].label == 1;
    out->len = len;
    out->format = labelled ? DM_FORMAT_LABELLED_FASTA : DM_FORMAT_FASTA;
    if (n == 0) return DM_STATUS_OK;
    if ((uint64_t)n > SIZE_MAX / (uint64_t)len / 8)
        return dm_error(DM_STATUS_NOMEM, "%s: %lld regions are too many", rs->path, (long long)n);
    out->seq = malloc((size_t)n * (size_t)len);
    out->seq_len = malloc((size_t)n * sizeof *out->seq_len);
    out->label = malloc((size_t)n * sizeof *out->label);
    out->group = malloc((size_t)n * sizeof *out->group);
    out->id = calloc((size_t)n, sizeof *out->id);
    if (!out->seq || !out->seq_len || !out->label || !out->group || !out->id) {
        dm_dataset_free(out);
        return dm_error(DM_STATUS_NOMEM, "%s: out of memory for %lld regions", rs->path, (long long)n);
    }
    out->n = n;
    dm_status st = DM_STATUS_OK;
    for (int64_t i = 0; i < n && st == DM_STATUS_OK; i++) {
        const dm_region *r = &rs->r[i];
        uint8_t *row = out->seq + i * len;
        int64_t w = r->end - r->start;
        int32_t keep = w < len ? (int32_t)w : len;
        /* The first `keep` bases as the strand reads them: a minus-strand region's are its last. */
        int64_t s = r->strand == '-' ? r->end - keep : r->start;
        int chrom = dm_genome_chrom_index(g, r->chrom);
        st = dm_genome_fetch(g, chrom, s, s + keep, r->strand, row);
        if (st != DM_STATUS_OK) {
            char msg[1024];
            snprintf(msg, sizeof msg, "%s", dm_last_error());
            st = dm_error(st, "%s:%lld: %s", rs->path, (long long)r->line, msg);
            break;
        }
        memset(row + keep, DM_BASE_PAD, (size_t)(len - keep));
        out->seq_len[i] = keep;
        out->label[i] = r->label;
        out->group[i] = i;
        out->n_padded += w < len;
        out->n_truncated += w > len;
        out->n_ambiguous += memchr(row, DM_BASE_N, (size_t)keep) != NULL;
        out->id[i] = strdup(r->name);
        if (!out->id[i]) st = dm_error(DM_STATUS_NOMEM, "%s: out of memory", rs->path);
    }
    if (st != DM_STATUS_OK) dm_dataset_free(out);
    return st;
}

dm_status dm_bed_load(const char *bed, int label_col, const char *genome_path, int32_t len, dm_resize how,
                      dm_dataset *out, dm_regions *regions) {
    DM_CHECK_ARG(bed && genome_path && out, "dm_bed_load: NULL argument");
    memset(out, 0, sizeof *out);
    if (regions) memset(regions, 0, sizeof *regions);
    DM_CHECK_ARG(len >= 1, "dm_bed_load: length %d", (int)len);
    dm_regions rs;
    DM_TRY(dm_bed_read(bed, label_col, &rs));
    dm_regions_resize(&rs, len, how);
    dm_genome *g;
    dm_status st = dm_genome_open(&g, genome_path);
    if (st == DM_STATUS_OK) {
        st = dm_regions_dataset(&rs, g, len, out);
        dm_genome_close(g);
    }
    if (st == DM_STATUS_OK && regions) *regions = rs;
    else dm_regions_free(&rs);
    return st;
}
