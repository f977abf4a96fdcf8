/*
 * sweep_tables.c: a sweep's tables (sweep.h): results.tsv and results.jsonl (one row per job of the
 * plan that has a current row, in plan order), summary.tsv (per architecture mean, median and
 * standard deviation of the test AUROC and AUPRC, and per pair of architectures the paired
 * comparison over the data sets both have: wins and the Wilcoxon signed-rank p-value), index.html;
 * the merge of shard outputs; the Wilcoxon test itself.
 *
 * The statistics read the rows as written (6 decimals), so a merged table's summary is the
 * unsharded one's to the bit; differences are taken in integer millionths, so equal metrics are
 * exact ties.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dm_internal.h"
#include "sweep.h"

/* ---- the Wilcoxon signed-rank test ---------------------------------------------------------- */

typedef struct absd {
    double a;
    int sign;
} absd;

static int by_abs(const void *x, const void *y) {
    double a = ((const absd *)x)->a, b = ((const absd *)y)->a;
    return (a > b) - (a < b);
}

void dm_wilcoxon_test(const double *d, int n, dm_wilcoxon *w) {
    memset(w, 0, sizeof *w);
    w->p = NAN;
    absd *v = malloc(sizeof(absd) * (size_t)(n > 0 ? n : 1));
    if (!v) return;
    int m = 0;
    for (int i = 0; i < n; i++)
        if (d[i] != 0 && !isnan(d[i])) v[m].a = fabs(d[i]), v[m].sign = d[i] > 0 ? 1 : -1, m++;
    w->m = m;
    if (m == 0) return free(v);
    qsort(v, (size_t)m, sizeof(absd), by_abs);
    double ties = 0;   /* Σ (t³ − t) over groups of tied |d| */
    for (int i = 0; i < m;) {
        int k = i;
        while (k + 1 < m && v[k + 1].a == v[i].a) k++;
        double rank = (i + 1 + k + 1) / 2.0, t = k - i + 1;
        ties += t * t * t - t;
        for (int q = i; q <= k; q++) *(v[q].sign > 0 ? &w->w_plus : &w->w_minus) += rank;
        i = k + 1;
    }
    free(v);
    double mean = m * (m + 1) / 4.0;
    if (m <= 50 && ties == 0) {
        /* exact: the number of subsets of the ranks {1..m} with each sum, in doubles (≤ 2^50, exact) */
        int top = m * (m + 1) / 2;
        double *cnt = calloc((size_t)top + 1, sizeof(double));
        if (!cnt) return;
        cnt[0] = 1;
        for (int r = 1; r <= m; r++)
            for (int s = top; s >= r; s--) cnt[s] += cnt[s - r];
        int t = (int)llround(w->w_plus);
        double lo = 0, hi = 0, all = ldexp(1.0, m);
        for (int s = 0; s <= top; s++) {
            if (s <= t) lo += cnt[s];
            if (s >= t) hi += cnt[s];
        }
        free(cnt);
        double p = 2 * fmin(lo, hi) / all;
        w->p = p > 1 ? 1 : p;
        w->exact = true;
        return;
    }
    double var = m * (m + 1.0) * (2.0 * m + 1.0) / 24.0 - ties / 48.0;
    double dev = fabs(w->w_plus - mean);
    if (var <= 0 || dev == 0) {
        w->p = 1;
        return;
    }
    double z = fabs(dev - 0.5) / sqrt(var);   /* continuity correction towards the mean */
    double p = erfc(z / sqrt(2.0));
    w->p = p > 1 ? 1 : p;
}

/* ---- statistics of a column ---------------------------------------------------------------------- */

static int by_value(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

typedef struct stats {
    int n;
    double mean, median, sd;   /* sd: sample (n − 1); NaN for n < 2 */
} stats;

static stats stats_of(double *v, int n) {
    stats s = {n, NAN, NAN, NAN};
    if (n == 0) return s;
    qsort(v, (size_t)n, sizeof(double), by_value);
    double sum = 0;
    for (int i = 0; i < n; i++) sum += v[i];
    s.mean = sum / n;
    s.median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    if (n >= 2) {
        double ss = 0;
        for (int i = 0; i < n; i++) ss += (v[i] - s.mean) * (v[i] - s.mean);
        s.sd = sqrt(ss / (n - 1));
    }
    return s;
}

static void num(FILE *f, const char *fmt, double v) {
    if (isfinite(v)) fprintf(f, fmt, v);
    else fputs("NA", f);
}

/* ---- the tables ---------------------------------------------------------------------------------- */

static double metric_of(const dm_sweep_row *r, int which) { return which ? r->auprc : r->auroc; }

/* The architectures of the plan in order of first appearance. */
static int plan_archs(const dm_sweep *sw, char names[][16]) {
    int n = 0;
    for (int j = 0; j < sw->n_jobs; j++) {
        int a = 0;
        while (a < n && strcmp(names[a], sw->jobs[j].arch)) a++;
        if (a == n && n < DM_SWEEP_MAX_ARCHS * 4) snprintf(names[n++], 16, "%s", sw->jobs[j].arch);
    }
    return n;
}

static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

static void json_num(FILE *f, const char *fmt, double v) {
    if (isfinite(v)) fprintf(f, fmt, v);
    else fputs("null", f);
}

static void html_text(FILE *f, const char *s) {
    for (; *s; s++) {
        if (*s == '<') fputs("&lt;", f);
        else if (*s == '>') fputs("&gt;", f);
        else if (*s == '&') fputs("&amp;", f);
        else if (*s == '"') fputs("&quot;", f);
        else fputc(*s, f);
    }
}

/* A relative path as an href: reserved characters percent-encoded, '/' kept. */
static void href(FILE *f, const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("/._-()~", *p))
            fputc(*p, f);
        else fprintf(f, "%%%02X", *p);
    }
}

typedef struct pair_result {
    int a, b, metric, n, wins_a, wins_b, ties;
    dm_wilcoxon w;
} pair_result;

/* The summary's numbers: per architecture and metric, and per pair of architectures and metric. */
static void summarise(const dm_sweep *sw, const dm_sweep_row *rows, const bool *have, char archs[][16], int n_archs,
                      stats (*per)[2], pair_result *pairs, int *n_pairs) {
    double *v = malloc(sizeof(double) * (size_t)(sw->n_jobs + 1));
    double *d = malloc(sizeof(double) * (size_t)(sw->n_jobs + 1));
    *n_pairs = 0;
    if (!v || !d) {
        free(v), free(d);
        return;
    }
    for (int a = 0; a < n_archs; a++)
        for (int m = 0; m < 2; m++) {
            int n = 0;
            for (int j = 0; j < sw->n_jobs; j++)
                if (have[j] && !strcmp(sw->jobs[j].arch, archs[a]) && isfinite(metric_of(&rows[j], m)))
                    v[n++] = metric_of(&rows[j], m);
            per[a][m] = stats_of(v, n);
        }
    for (int a = 0; a < n_archs; a++)
        for (int b = a + 1; b < n_archs; b++)
            for (int m = 0; m < 2; m++) {
                pair_result *p = &pairs[(*n_pairs)++];
                memset(p, 0, sizeof *p);
                p->a = a, p->b = b, p->metric = m;
                /* the data sets both have: job ja of arch a and jb of arch b on one data set */
                for (int ja = 0; ja < sw->n_jobs; ja++) {
                    if (!have[ja] || strcmp(sw->jobs[ja].arch, archs[a]) || !isfinite(metric_of(&rows[ja], m))) continue;
                    for (int jb = 0; jb < sw->n_jobs; jb++) {
                        if (!have[jb] || strcmp(sw->jobs[jb].arch, archs[b]) ||
                            strcmp(sw->jobs[jb].dataset, sw->jobs[ja].dataset) || !isfinite(metric_of(&rows[jb], m)))
                            continue;
                        double x = (double)(llround(metric_of(&rows[ja], m) * 1e6) - llround(metric_of(&rows[jb], m) * 1e6));
                        d[p->n++] = x;
                        p->wins_a += x > 0, p->wins_b += x < 0, p->ties += x == 0;
                        break;
                    }
                }
                dm_wilcoxon_test(d, p->n, &p->w);
            }
    free(v), free(d);
}

static const char *const metric_name[2] = {"auroc", "auprc"};

static void write_summary(FILE *f, char archs[][16], int n_archs, stats (*per)[2], const pair_result *pairs, int n_pairs) {
    fprintf(f, "# per architecture: test AUROC and AUPRC over the data sets (sd: sample standard deviation)\n");
    fprintf(f, "arch\tn\tauroc_mean\tauroc_median\tauroc_sd\tauprc_mean\tauprc_median\tauprc_sd\n");
    for (int a = 0; a < n_archs; a++) {
        fprintf(f, "%s\t%d", archs[a], per[a][0].n);
        for (int m = 0; m < 2; m++) {
            fputc('\t', f), num(f, "%.6f", per[a][m].mean);
            fputc('\t', f), num(f, "%.6f", per[a][m].median);
            fputc('\t', f), num(f, "%.6f", per[a][m].sd);
        }
        fputc('\n', f);
    }
    fprintf(f, "\n# paired: data sets both architectures have; wins by the metric; two-sided Wilcoxon signed-rank p "
               "(zero differences dropped; exact without tied |differences| up to 50 pairs, else normal with tie and "
               "continuity corrections)\n");
    fprintf(f, "arch_a\tarch_b\tmetric\tn\twins_a\twins_b\tties\tw_plus\tw_minus\tp\tmethod\n");
    for (int k = 0; k < n_pairs; k++) {
        const pair_result *p = &pairs[k];
        fprintf(f, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%.1f\t%.1f\t", archs[p->a], archs[p->b], metric_name[p->metric], p->n,
                p->wins_a, p->wins_b, p->ties, p->w.w_plus, p->w.w_minus);
        num(f, "%.6g", p->w.p);
        fprintf(f, "\t%s\n", p->w.m == 0 ? "none" : p->w.exact ? "exact" : "normal");
    }
}

static void write_index(FILE *f, const dm_sweep *sw, const dm_sweep_row *rows, const bool *have,
                        const char *const *dashboards, char archs[][16], int n_archs, stats (*per)[2],
                        const pair_result *pairs, int n_pairs) {
    fprintf(f, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>deepmotif sweep</title>\n<style>"
               "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:2em}"
               "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:first-child,th:first-child{text-align:left}"
               "</style></head><body>\n<h1>deepmotif sweep</h1>\n<p>Test metrics of one model per data set and "
               "architecture; the tables are <a href=\"results.tsv\">results.tsv</a>, "
               "<a href=\"results.jsonl\">results.jsonl</a> and <a href=\"summary.tsv\">summary.tsv</a>.</p>\n");
    fprintf(f, "<h2>Per architecture</h2>\n<table><tr><th>arch</th><th>n</th><th>AUROC mean</th><th>median</th>"
               "<th>sd</th><th>AUPRC mean</th><th>median</th><th>sd</th></tr>\n");
    for (int a = 0; a < n_archs; a++) {
        fprintf(f, "<tr><td>%s</td><td>%d</td>", archs[a], per[a][0].n);
        for (int m = 0; m < 2; m++) {
            double x[3] = {per[a][m].mean, per[a][m].median, per[a][m].sd};
            for (int k = 0; k < 3; k++) fputs("<td>", f), num(f, "%.4f", x[k]), fputs("</td>", f);
        }
        fputs("</tr>\n", f);
    }
    fputs("</table>\n<h2>Paired comparison</h2>\n<table><tr><th>architectures</th><th>metric</th><th>n</th>"
          "<th>wins</th><th>ties</th><th>Wilcoxon p</th></tr>\n", f);
    for (int k = 0; k < n_pairs; k++) {
        const pair_result *p = &pairs[k];
        fprintf(f, "<tr><td>%s vs %s</td><td>%s</td><td>%d</td><td>%d : %d</td><td>%d</td><td>", archs[p->a], archs[p->b],
                metric_name[p->metric], p->n, p->wins_a, p->wins_b, p->ties);
        num(f, "%.3g", p->w.p);
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n<h2>Models</h2>\n<table><tr><th>data set</th><th>arch</th><th>n train</th><th>n test</th>"
          "<th>AUROC</th><th>AUPRC</th><th>accuracy</th><th>epochs</th><th>train s</th><th>model</th><th>log</th>"
          "<th>dashboard</th></tr>\n", f);
    int set_index = -1;
    const char *last_set = "";
    for (int j = 0; j < sw->n_jobs; j++) {
        if (strcmp(last_set, sw->jobs[j].dataset)) set_index++, last_set = sw->jobs[j].dataset;
        if (!have[j]) continue;
        const dm_sweep_row *r = &rows[j];
        fputs("<tr><td>", f), html_text(f, r->dataset), fprintf(f, "</td><td>%s</td><td>%lld</td><td>%lld</td>", r->arch,
                                                                (long long)r->n_train, (long long)r->n_test);
        double x[3] = {r->auroc, r->auprc, r->accuracy};
        for (int k = 0; k < 3; k++) fputs("<td>", f), num(f, "%.4f", x[k]), fputs("</td>", f);
        fprintf(f, "<td>%d</td><td>%.1f</td><td><a href=\"", (int)r->epochs, r->train_seconds);
        href(f, r->model), fputs("\">model</a></td><td><a href=\"logs/", f), href(f, sw->jobs[j].key);
        fputs(".log\">log</a></td><td>", f);
        if (dashboards && dashboards[set_index]) fputs("<a href=\"", f), href(f, dashboards[set_index]), fputs("\">dashboard</a>", f);
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n</body></html>\n", f);
}

dm_status dm_sweep_write_tables(const dm_sweep *sw, const char *const *dashboards, dm_sweep_tables_info *info) {
    DM_CHECK_ARG(sw && sw->out[0], "sweep: invalid arguments");
    dm_sweep_row *rows = calloc((size_t)(sw->n_jobs + 1), sizeof(dm_sweep_row));
    bool *have = calloc((size_t)(sw->n_jobs + 1), sizeof(bool));
    char(*archs)[16] = calloc(DM_SWEEP_MAX_ARCHS * 4, 16);
    stats(*per)[2] = calloc(DM_SWEEP_MAX_ARCHS * 4, sizeof *per);
    pair_result *pairs = calloc(DM_SWEEP_MAX_ARCHS * 4 * DM_SWEEP_MAX_ARCHS * 4 * 2, sizeof(pair_result));
    dm_status st = !rows || !have || !archs || !per || !pairs ? dm_error(DM_STATUS_NOMEM, "out of memory") : DM_STATUS_OK;
    int n_rows = 0, n_pairs = 0, n_archs = 0;
    if (!st) {
        for (int j = 0; j < sw->n_jobs; j++) n_rows += have[j] = dm_sweep_read_current_row(sw, j, &rows[j]);
        n_archs = plan_archs(sw, archs);
        summarise(sw, rows, have, archs, n_archs, per, pairs, &n_pairs);
    }
    char path[4200], line[8192];
    dm_outfile o = {0};
    if (!st) {
        snprintf(path, sizeof path, "%s/results.tsv", sw->out);
        if (!(st = dm_outfile_open(&o, path))) {
            fprintf(o.f, "%s\n", dm_sweep_header);
            for (int j = 0; j < sw->n_jobs; j++)
                if (have[j]) dm_sweep_row_format(&rows[j], line, sizeof line), fprintf(o.f, "%s\n", line);
            st = dm_outfile_commit(&o);
        }
    }
    if (!st) {
        snprintf(path, sizeof path, "%s/results.jsonl", sw->out);
        if (!(st = dm_outfile_open(&o, path))) {
            for (int j = 0; j < sw->n_jobs; j++) {
                if (!have[j]) continue;
                const dm_sweep_row *r = &rows[j];
                fputs("{\"dataset\":", o.f), json_str(o.f, r->dataset), fputs(",\"arch\":", o.f), json_str(o.f, r->arch);
                fprintf(o.f, ",\"n_train\":%lld,\"n_valid\":%lld,\"n_test\":%lld", (long long)r->n_train,
                        (long long)r->n_valid, (long long)r->n_test);
                fputs(",\"auroc\":", o.f), json_num(o.f, "%.6f", r->auroc);
                fputs(",\"auprc\":", o.f), json_num(o.f, "%.6f", r->auprc);
                fputs(",\"accuracy\":", o.f), json_num(o.f, "%.6f", r->accuracy);
                fprintf(o.f, ",\"epochs\":%d,\"best_epoch\":%d,\"train_seconds\":%.2f,\"seqs_per_s\":%.0f,\"device\":",
                        (int)r->epochs, (int)r->best_epoch, r->train_seconds, r->seqs_per_s);
                json_str(o.f, r->device), fputs(",\"model\":", o.f), json_str(o.f, r->model);
                fprintf(o.f, ",\"seed\":%llu,\"checksum\":\"%s\"}\n", (unsigned long long)r->seed, r->checksum);
            }
            st = dm_outfile_commit(&o);
        }
    }
    if (!st) {
        snprintf(path, sizeof path, "%s/summary.tsv", sw->out);
        if (!(st = dm_outfile_open(&o, path))) {
            write_summary(o.f, archs, n_archs, per, pairs, n_pairs);
            st = dm_outfile_commit(&o);
        }
    }
    if (!st) {
        snprintf(path, sizeof path, "%s/index.html", sw->out);
        if (!(st = dm_outfile_open(&o, path))) {
            write_index(o.f, sw, rows, have, dashboards, archs, n_archs, per, pairs, n_pairs);
            st = dm_outfile_commit(&o);
        }
    }
    if (info) info->rows = n_rows, info->missing = sw->n_jobs - n_rows;
    free(rows), free(have), free(archs), free(per), free(pairs);
    return st;
}

/* ---- merge ---------------------------------------------------------------------------------------- */

/* dst as a hard link of src, else a copy written atomically. */
static dm_status link_or_copy(const char *src, const char *dst) {
    struct stat a, b;
    if (stat(src, &a) != 0) return dm_error(DM_STATUS_IO, "%s: %s", src, strerror(errno));
    if (stat(dst, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) return DM_STATUS_OK;   /* the same file */
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%s.merge.%d", dst, (int)getpid());
    unlink(tmp);
    if (link(src, tmp) == 0) {
        if (rename(tmp, dst) == 0) return DM_STATUS_OK;
        unlink(tmp);
    }
    FILE *in = fopen(src, "rb");
    if (!in) return dm_error(DM_STATUS_IO, "%s: cannot read: %s", src, strerror(errno));
    dm_outfile o;
    dm_status s = dm_outfile_open(&o, dst);
    if (s) return fclose(in), s;
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) fwrite(buf, 1, n, o.f);
    bool bad = ferror(in);
    fclose(in);
    if (bad) {
        dm_outfile_abort(&o);
        return dm_error(DM_STATUS_IO, "%s: read failed", src);
    }
    return dm_outfile_commit(&o);
}

dm_status dm_sweep_merge(dm_sweep *sw, const char *const *ins, int n, const char *out, dm_sweep_tables_info *info) {
    DM_CHECK_ARG(sw && ins && n >= 1 && out, "sweep: invalid arguments");
    dm_sweep *plans = calloc((size_t)n, sizeof(dm_sweep));
    int *from = NULL;
    dm_status st = plans ? DM_STATUS_OK : dm_error(DM_STATUS_NOMEM, "out of memory");
    for (int i = 0; i < n && !st; i++) {
        st = dm_sweep_load_plan(&plans[i], ins[i]);
        if (st || i == 0) continue;
        bool same = plans[i].n_jobs == plans[0].n_jobs;
        for (int j = 0; same && j < plans[0].n_jobs; j++)
            same = !strcmp(plans[i].jobs[j].key, plans[0].jobs[j].key) &&
                   !strcmp(plans[i].jobs[j].checksum, plans[0].jobs[j].checksum);
        if (!same)
            st = dm_error(DM_STATUS_FORMAT, "%s/plan.tsv: another sweep than %s/plan.tsv (other data sets, architectures, "
                          "inputs or options): shards of one sweep only", ins[i], ins[0]);
    }
    /* every job's current row, from the first input that has it */
    if (!st) from = malloc(sizeof(int) * (size_t)plans[0].n_jobs);
    if (!st && !from) st = dm_error(DM_STATUS_NOMEM, "out of memory");
    for (int j = 0; !st && j < plans[0].n_jobs; j++) {
        from[j] = -1;
        dm_sweep_row r;
        char model[4200];
        for (int i = 0; i < n && from[j] < 0; i++)
            if (dm_sweep_read_current_row(&plans[i], j, &r) && access(dm_sweep_path(&plans[i], j, "model", model), R_OK) == 0)
                from[j] = i;
        if (from[j] < 0)
            st = dm_error(DM_STATUS_FORMAT, "%s: no shard output holds the row of %s (run its shard again, or add its output)",
                          plans[0].jobs[j].key, plans[0].jobs[j].key);
    }
    if (!st) {
        dm_sweep_free(sw);
        sw->jobs = malloc(sizeof(dm_sweep_job) * (size_t)plans[0].n_jobs);
        if (!sw->jobs) st = dm_error(DM_STATUS_NOMEM, "out of memory");
        else memcpy(sw->jobs, plans[0].jobs, sizeof(dm_sweep_job) * (size_t)plans[0].n_jobs);
        sw->n_jobs = plans[0].n_jobs;
        sw->n_shards = 1;
        if (!st) st = dm_sweep_prepare(sw, out);
    }
    for (int j = 0; !st && j < sw->n_jobs; j++) {
        static const char *const what[] = {"model", "row", "log"};
        for (int k = 0; k < 3 && !st; k++) {
            char src[4200], dst[4200];
            dm_sweep_path(&plans[from[j]], j, what[k], src);
            dm_sweep_path(sw, j, what[k], dst);
            if (k == 2 && access(src, R_OK) != 0) continue;   /* a log is not needed */
            st = link_or_copy(src, dst);
        }
    }
    if (!st) st = dm_sweep_write_tables(sw, NULL, info);
    for (int i = 0; plans && i < n; i++) dm_sweep_free(&plans[i]);
    free(plans), free(from);
    return st;
}
