/*
 * index.c: the index page over many dashboard reports (dm_dashboard_index): each report is found
 * through its summary.tsv; a sortable table of data set x model tag AUROC with mean, median and
 * population standard deviation per tag, and the same table as index.tsv.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>

#include "arch.h"
#include "dashboard_internal.h"

/* ---- the index over many reports ---------------------------------------------------------------- */

#define DM_INDEX_MAX_TAGS 16

/* One report: its name, TF, link, and AUROC per tag (NaN where the report has no such model). */
typedef struct dm_index_row {
    char name[256], tf[64];
    char link[8192];
    double auroc[DM_INDEX_MAX_TAGS];
} dm_index_row;

/* Index of `tag` in tags[], added when new (at most DM_INDEX_MAX_TAGS); −1 when full. */
static int tag_index(char tags[][24], int *n, const char *tag) {
    for (int i = 0; i < *n; i++)
        if (!strcmp(tags[i], tag)) return i;
    if (*n == DM_INDEX_MAX_TAGS) return -1;
    snprintf(tags[*n], 24, "%s", tag);
    return (*n)++;
}

/* Reads DIR/summary.tsv: columns found by name in the header; each row one model of the report. */
static dm_status read_summary(const char *dir, dm_index_row *row, char tags[][24], int *n_tags) {
    char path[4200], line[8192];
    snprintf(path, sizeof path, "%s/summary.tsv", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return dm_error(DM_STATUS_IO, "%s: cannot read: %s (not a dashboard directory?)", path,
                        strerror(errno));
    int col[4] = {-1, -1, -1, -1}, ln = 0, rows = 0;
    static const char *const want[4] = {"dataset", "tf", "tag", "auroc"};
    dm_status st = DM_STATUS_OK;
    for (int t = 0; t < DM_INDEX_MAX_TAGS; t++) row->auroc[t] = NAN;
    while (!st && fgets(line, sizeof line, f)) {
        ln++;
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0]) continue;
        /* split on tabs */
        char *field[64];
        int nf = 0;
        for (char *p = line; nf < 64;) {
            field[nf++] = p;
            char *tab = strchr(p, '\t');
            if (!tab) break;
            *tab = 0;
            p = tab + 1;
        }
        if (ln == 1) {
            for (int k = 0; k < 4; k++)
                for (int j = 0; j < nf; j++)
                    if (!strcmp(field[j], want[k])) col[k] = j;
            if (col[0] < 0 || col[1] < 0 || col[2] < 0 || col[3] < 0)
                st = dm_error(DM_STATUS_FORMAT,
                              "%s:1: not a dashboard summary (needs columns dataset, tf, tag, auroc)", path);
            continue;
        }
        if (nf <= col[0] || nf <= col[1] || nf <= col[2] || nf <= col[3]) {
            st = dm_error(DM_STATUS_FORMAT, "%s:%d: %d columns, expected at least %d", path, ln, nf,
                          1 + (col[3] > col[2] ? (col[3] > col[1] ? col[3] : col[1]) : col[2]));
            break;
        }
        char *end;
        double a = strtod(field[col[3]], &end);
        if (!strcmp(field[col[3]], "NA"))
            a = NAN;
        else if (*end || end == field[col[3]]) {
            st = dm_error(DM_STATUS_FORMAT, "%s:%d: auroc '%s' is not a number", path, ln, field[col[3]]);
            break;
        }
        int t = tag_index(tags, n_tags, field[col[2]]);
        if (t < 0) {
            st = dm_error(DM_STATUS_FORMAT, "%s:%d: more than %d model tags over the reports", path, ln,
                          DM_INDEX_MAX_TAGS);
            break;
        }
        snprintf(row->name, sizeof row->name, "%s", field[col[0]]);
        snprintf(row->tf, sizeof row->tf, "%s", field[col[1]]);
        row->auroc[t] = a;
        rows++;
    }
    if (!st && ferror(f)) st = dm_error(DM_STATUS_IO, "%s: read error", path);
    if (!st && ln == 0)
        st = dm_error(DM_STATUS_FORMAT, "%s: empty", path);
    else if (!st && rows == 0)
        st = dm_error(DM_STATUS_FORMAT, "%s: no models listed", path);
    fclose(f);
    return st;
}

/* The path of `to` relative to directory `from` (both absolute and canonical), into out. */
static void relative_path(const char *from, const char *to, char *out, size_t n) {
    /* the longest common prefix that ends at a component boundary */
    size_t i = 0, common = 0;
    while (from[i] && from[i] == to[i]) {
        i++;
        if (from[i - 1] == '/') common = i;
    }
    if (!from[i] && (to[i] == '/' || !to[i])) common = i;
    if (!strcmp(from, "/")) common = 1;
    size_t o = 0;
    out[0] = 0;
    /* one ".." per component of `from` after the common part, then the rest of `to` */
    for (const char *p = from + common; *p; p++)
        if (p == from + common || p[-1] == '/') o += (size_t)snprintf(out + o, o < n ? n - o : 0, "../");
    const char *rest = to + common;
    if (*rest == '/') rest++;
    snprintf(out + (o < n ? o : n - 1), o < n ? n - o : 1, "%s", rest);
}

/* Percent-encodes the bytes of a relative URL path that are not unreserved, '/', or sub-delims. */
static void url_path(const char *s, char *out, size_t n) {
    size_t o = 0;
    for (; *s && o + 4 < n; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            strchr("-._~/()!*+,;=:@", c))
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, n - o, "%%%02X", c);
    }
    out[o] = 0;
}

/* Mean, median and population standard deviation of the finite values; n receives their count. */
static void stats(const double *v, int m, int *n, double *mean, double *median, double *sd) {
    double *x = malloc(sizeof(double) * (size_t)(m ? m : 1));
    *n = 0;
    *mean = *median = *sd = NAN;
    if (!x) return;
    for (int i = 0; i < m; i++)
        if (isfinite(v[i])) x[(*n)++] = v[i];
    if (*n) {
        /* insertion sort: a handful to a few hundred data sets */
        for (int i = 1; i < *n; i++)
            for (int j = i; j > 0 && x[j] < x[j - 1]; j--) {
                double t = x[j];
                x[j] = x[j - 1];
                x[j - 1] = t;
            }
        double s = 0, ss = 0;
        for (int i = 0; i < *n; i++) s += x[i];
        *mean = s / *n;
        for (int i = 0; i < *n; i++) ss += (x[i] - *mean) * (x[i] - *mean);
        *sd = sqrt(ss / *n);
        *median = *n % 2 ? x[*n / 2] : 0.5 * (x[*n / 2 - 1] + x[*n / 2]);
    }
    free(x);
}

/* Canonical tag order: the registered architectures first (table order), then others as met. */
static void order_tags(char tags[][24], int n, int *order) {
    int k = 0;
    for (int f = 0; f < dm_arch_count(); f++)
        for (int i = 0; i < n; i++)
            if (!strcmp(tags[i], dm_arch_name((dm_arch)f))) order[k++] = i;
    for (int i = 0; i < n; i++) {
        bool named = false;
        for (int f = 0; f < dm_arch_count(); f++) named = named || !strcmp(tags[i], dm_arch_name((dm_arch)f));
        if (!named) order[k++] = i;
    }
}

/* The index page into b and its table as TSV into t: data set × model tag AUROC (tags in `order`),
 * the foot rows mean, median, std and n per tag. `col` is scratch space for n values. */
static void index_page(dm_buf *b, dm_buf *t, const dm_index_row *rows, int n, char tags[][24],
                       const int *order, int n_tags, double *col, const char *cmdline) {
    /* the page: the sortable table of data set × model AUROC, summary rows under it */
    dm_buf_put(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                  "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                  "<title>deepmotif dashboards</title>\n<style>\n");
    dm_buf_put(b, dm_dash_css);
    char now[32];
    dm_utc_now(now);
    dm_buf_printf(
        b,
        "</style>\n</head>\n<body>\n<h1>deepmotif dashboards</h1>\n<p class=\"dm-meta\">%d data sets. "
        "Written %s by deepmotif %s",
        n, now, dm_version());
    if (cmdline) {
        dm_buf_put(b, ": <code>");
        dm_buf_escaped(b, cmdline);
        dm_buf_put(b, "</code>");
    }
    dm_buf_put(b, "</p>\n<h2>Test AUROC per data set</h2>\n<table class=\"dm-sortable dm-index\"><thead><tr>"
                  "<th>TF</th><th>data set</th>");
    dm_buf_put(t, "tf\tdataset\treport");
    for (int k = 0; k < n_tags; k++) {
        dm_buf_printf(b, "<th>%s</th>", tags[order[k]]);
        dm_buf_printf(t, "\t%s", tags[order[k]]);
    }
    dm_buf_put(b, "</tr></thead>\n<tbody>\n");
    dm_buf_put(t, "\n");
    for (int i = 0; i < n; i++) {
        dm_buf_put(b, "<tr><td data-sort=\"");
        dm_buf_escaped(b, rows[i].tf);
        dm_buf_put(b, "\">");
        dm_buf_escaped(b, rows[i].tf);
        dm_buf_put(b, "</td><td data-sort=\"");
        dm_buf_escaped(b, rows[i].name);
        dm_buf_put(b, "\"><a href=\"");
        dm_buf_escaped(b, rows[i].link);
        dm_buf_put(b, "\">");
        dm_buf_escaped(b, rows[i].name);
        dm_buf_put(b, "</a></td>");
        dm_buf_printf(t, "%s\t%s\t%s", rows[i].tf, rows[i].name, rows[i].link);
        for (int k = 0; k < n_tags; k++) {
            double a = rows[i].auroc[order[k]];
            if (isfinite(a))
                dm_buf_printf(b, "<td class=\"num\" data-sort=\"%.6f\">%.4f</td>", a, a);
            else
                dm_buf_put(b, "<td class=\"num\" data-sort=\"\">&ndash;</td>");
            if (isfinite(a))
                dm_buf_printf(t, "\t%.6f", a);
            else
                dm_buf_put(t, "\tNA");
        }
        dm_buf_put(b, "</tr>\n");
        dm_buf_put(t, "\n");
    }
    /* mean, median, std and n per model tag, in the table's foot (not sorted) */
    static const char *const what[4] = {"mean", "median", "std", "n"};
    dm_buf_put(b, "</tbody>\n<tfoot>\n");
    for (int s = 0; s < 4; s++) {
        dm_buf_printf(b, "<tr><th colspan=\"2\">%s</th>", what[s]);
        for (int k = 0; k < n_tags; k++) {
            for (int i = 0; i < n; i++) col[i] = rows[i].auroc[order[k]];
            int cnt;
            double v[3];
            stats(col, n, &cnt, &v[0], &v[1], &v[2]);
            if (s == 3)
                dm_buf_printf(b, "<td class=\"num dm-stat\" data-stat=\"n\">%d</td>", cnt);
            else if (isfinite(v[s]))
                dm_buf_printf(b, "<td class=\"num dm-stat\" data-stat=\"%s\">%.4f</td>", what[s], v[s]);
            else
                dm_buf_printf(b, "<td class=\"num dm-stat\" data-stat=\"%s\">&ndash;</td>", what[s]);
        }
        dm_buf_put(b, "</tr>\n");
    }
    dm_buf_put(
        b, "</tfoot></table>\n<p class=\"dm-note\">Click a column header to sort. The foot rows summarise "
           "each model over the data sets that have it (standard deviation over the population), as the "
           "paper's comparison table.</p>\n<footer>A self-contained page, no external resources. "
           "<span id=\"dm-render\"></span></footer>\n<div id=\"dm-tip\" hidden></div>\n<script>\n");
    dm_buf_put(b, dm_dash_js);
    dm_buf_put(b, "</script>\n</body>\n</html>\n");
}

dm_status dm_dashboard_index(const char *const *dirs, int n, const char *out, const char *cmdline,
                             char *index_path) {
    if (n < 1) return dm_error(DM_STATUS_ARG, "dashboard --index: no report directories");
    if (strlen(out) > 3900) return dm_error(DM_STATUS_ARG, "%s: path too long", out);
    dm_index_row *rows = calloc((size_t)n, sizeof *rows);
    double *col = malloc(sizeof(double) * (size_t)n);
    char(*tags)[24] = calloc(DM_INDEX_MAX_TAGS, 24);
    dm_outputs w = {0};
    dm_buf b = {0}, t = {0};
    dm_status st =
        !rows || !col || !tags ? dm_error(DM_STATUS_NOMEM, "dashboard: out of memory") : DM_STATUS_OK;
    int n_tags = 0, order[DM_INDEX_MAX_TAGS];
    for (int i = 0; i < n && !st; i++) st = read_summary(dirs[i], &rows[i], tags, &n_tags);
    /* OUT must exist to resolve links; it must not be one of the reports (its index.html) */
    if (!st) st = dash_outputs_mkdir(&w, out);
    char rout[PATH_MAX], rdir[PATH_MAX], rel[8192];
    if (!st && !realpath(out, rout)) st = dm_error(DM_STATUS_IO, "%s: %s", out, strerror(errno));
    for (int i = 0; i < n && !st; i++) {
        if (!realpath(dirs[i], rdir))
            st = dm_error(DM_STATUS_IO, "%s: %s", dirs[i], strerror(errno));
        else if (!strcmp(rdir, rout))
            st = dm_error(DM_STATUS_ARG, "%s: --out must not be a report directory", out);
        else {
            relative_path(rout, rdir, rel, sizeof rel);
            strncat(rel, "/index.html", sizeof rel - strlen(rel) - 1);
            url_path(rel, rows[i].link, sizeof rows[i].link);
        }
    }
    if (!st) {
        order_tags(tags, n_tags, order);
        index_page(&b, &t, rows, n, tags, order, n_tags, col, cmdline);
        st = dm_buf_status(&b);
        if (!st) st = dm_buf_status(&t);
    }
    if (!st) st = dash_write_text(&w, out, "index.tsv", t.p, t.n);
    if (!st) st = dash_write_text(&w, out, "index.html", b.p, b.n);
    if (st)
        dash_outputs_rollback(&w);
    else
        snprintf(index_path, 4200, "%s/index.html", out);
    dash_outputs_free(&w);
    dm_buf_free(&b);
    dm_buf_free(&t);
    free(rows);
    free(col);
    free(tags);
    return st;
}
