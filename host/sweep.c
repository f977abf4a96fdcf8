/*
 * sweep.c: `deepmotif sweep`'s library part (sweep.h): discovery of the data sets, the plan and its
 * shards, the rows and their files under OUT, and the loop that runs the jobs on slots. The tables,
 * the merge and the Wilcoxon test are in sweep_tables.c.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dm_internal.h"
#include "model.h"
#include "sweep.h"

const char dm_sweep_header[] = "dataset\tarch\tn_train\tn_valid\tn_test\tauroc\tauprc\taccuracy\tepochs\tbest_epoch\t"
                               "train_seconds\tseqs_per_s\tdevice\tmodel\tseed\tchecksum";
enum { N_COLS = 16 };

/* ---- discovery ---------------------------------------------------------------------------------- */

typedef struct cand {
    char name[DM_SWEEP_NAME_MAX];
    char train[4096], test[4096];
    bool folder;   /* NAME/train.fa layout */
} cand;

typedef struct cands {
    cand *c;
    int n, cap;
} cands;

static cand *cand_get(cands *cs, const char *name, bool folder) {
    for (int i = 0; i < cs->n; i++)
        if (!strcmp(cs->c[i].name, name) && cs->c[i].folder == folder) return &cs->c[i];
    if (cs->n == cs->cap) {
        int cap = cs->cap ? 2 * cs->cap : 64;
        cand *c = realloc(cs->c, sizeof(cand) * (size_t)cap);
        if (!c) return NULL;
        cs->c = c, cs->cap = cap;
    }
    cand *c = &cs->c[cs->n++];
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", name);
    c->folder = folder;
    return c;
}

/* A bounded copy (cut at cap − 1 bytes). */
static void set_text(char *dst, size_t cap, const char *src) {
    size_t n = strlen(src);
    if (n >= cap) n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = 0;
}

static bool ends_with(const char *s, const char *suffix, size_t *stem) {
    size_t n = strlen(s), k = strlen(suffix);
    if (n <= k || strcmp(s + n - k, suffix)) return false;
    *stem = n - k;
    return true;
}

static bool is_regular(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static bool is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The file of a NAME/ folder holding role "train" or "test": train.fa, train.fasta (either .gz).
 * *path "" when none; _FORMAT when two are there. */
static dm_status folder_file(const char *folder, const char *role, char *path, size_t cap) {
    static const char *const ext[] = {".fa", ".fasta", ".fa.gz", ".fasta.gz"};
    path[0] = 0;
    for (int e = 0; e < 4; e++) {
        char p[4200];
        snprintf(p, sizeof p, "%s/%s%s", folder, role, ext[e]);
        if (!is_regular(p)) continue;
        if (path[0])
            return dm_error(DM_STATUS_FORMAT, "%s: both %s and %s%s: keep one", folder, strrchr(path, '/') + 1, role, ext[e]);
        set_text(path, cap, p);
    }
    return DM_STATUS_OK;
}

static dm_status check_name(const char *name, const char *path) {
    if (strlen(name) >= DM_SWEEP_NAME_MAX)
        return dm_error(DM_STATUS_FORMAT, "%s: the data set name is over %d bytes", path, DM_SWEEP_NAME_MAX - 1);
    if (strpbrk(name, "\t\n\r"))
        return dm_error(DM_STATUS_FORMAT, "%s: the data set name holds a tab or line break (results.tsv cannot hold it)", path);
    return DM_STATUS_OK;
}

/* Adds the halves found in folder `dir`: training halves when `train`, test halves when `test`. */
static dm_status scan_dir(cands *cs, const char *dir, bool train, bool test, int *entries) {
    DIR *d = opendir(dir);
    if (!d) return dm_error(DM_STATUS_IO, "%s: cannot read the folder: %s", dir, strerror(errno));
    dm_status s = DM_STATUS_OK;
    struct dirent *e;
    while (s == DM_STATUS_OK && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        ++*entries;
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t stem;
        bool ac = ends_with(e->d_name, "_AC.seq.gz", &stem) || ends_with(e->d_name, "_AC.seq", &stem);
        bool b = !ac && (ends_with(e->d_name, "_B.seq.gz", &stem) || ends_with(e->d_name, "_B.seq", &stem));
        if ((ac && train) || (b && test)) {
            if (!is_regular(path)) continue;
            char name[DM_SWEEP_NAME_MAX + 64];
            snprintf(name, sizeof name, "%.*s", (int)stem, e->d_name);
            if ((s = check_name(name, path))) break;
            cand *c = cand_get(cs, name, false);
            if (!c) return closedir(d), dm_error(DM_STATUS_NOMEM, "out of memory");
            char *half = ac ? c->train : c->test;
            if (half[0])
                s = dm_error(DM_STATUS_FORMAT, "%s: a second %s file of data set %s (%s)", path, ac ? "_AC" : "_B", name, half);
            else set_text(half, 4096, path);
            continue;
        }
        if (ac || b || !is_dir(path)) continue;   /* other files are not data */
        char tr[4096], te[4096];
        if ((s = folder_file(path, "train", tr, sizeof tr)) || (s = folder_file(path, "test", te, sizeof te))) break;
        if (!(train && tr[0]) && !(test && te[0])) continue;
        if ((s = check_name(e->d_name, path))) break;
        cand *c = cand_get(cs, e->d_name, true);
        if (!c) return closedir(d), dm_error(DM_STATUS_NOMEM, "out of memory");
        if (train && tr[0]) snprintf(c->train, sizeof c->train, "%s", tr);
        if (test && te[0]) snprintf(c->test, sizeof c->test, "%s", te);
    }
    closedir(d);
    return s;
}

static int by_name(const void *a, const void *b) {
    return strcmp(((const dm_sweep_set *)a)->name, ((const dm_sweep_set *)b)->name);
}

static int cand_by_name(const void *a, const void *b) {
    const cand *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (int)x->folder - (int)y->folder;
}

dm_status dm_sweep_discover(dm_sweep *sw, const char *dir, const char *test_dir) {
    DM_CHECK_ARG(sw && dir, "sweep: invalid arguments");
    cands cs = {0};
    int entries = 0, test_entries = 0;
    dm_status s = scan_dir(&cs, dir, true, !test_dir, &entries);
    if (!s && test_dir) s = scan_dir(&cs, test_dir, false, true, &test_entries);
    if (s) return free(cs.c), s;
    if (cs.n) qsort(cs.c, (size_t)cs.n, sizeof(cand), cand_by_name);
    sw->sets = calloc((size_t)(cs.n ? cs.n : 1), sizeof(dm_sweep_set));
    if (!sw->sets) return free(cs.c), dm_error(DM_STATUS_NOMEM, "out of memory");
    sw->n_sets = 0;
    const char *tdir = test_dir ? test_dir : dir;
    for (int i = 0; i < cs.n && !s; i++) {
        cand *c = &cs.c[i];
        if (i && !strcmp(c->name, cs.c[i - 1].name)) {
            s = dm_error(DM_STATUS_FORMAT, "%s: two data sets named %s: %s_AC.seq.gz and the folder %s/", dir, c->name, c->name,
                         c->name);
        } else if (c->train[0] && !c->test[0]) {
            s = c->folder ? dm_error(DM_STATUS_FORMAT, "%s: no test half: %s/%s/test.fa (or test.fasta) is missing", c->train,
                                     tdir, c->name)
                          : dm_error(DM_STATUS_FORMAT, "%s: no test half: %s/%s_B.seq.gz is missing", c->train, tdir, c->name);
        } else if (!c->train[0]) {   /* a test-only set: no data set, listed */
            size_t k = strlen(sw->skipped);
            const char *base = strrchr(c->test, '/') ? strrchr(c->test, '/') + 1 : c->test;
            if (k + strlen(base) + 8 < sizeof sw->skipped)
                snprintf(sw->skipped + k, sizeof sw->skipped - k, "%s%s%s", k ? ", " : "", c->folder ? c->name : base,
                         c->folder ? "/" : "");
            sw->n_skipped++;
        } else {
            dm_sweep_set *t = &sw->sets[sw->n_sets++];
            snprintf(t->name, sizeof t->name, "%s", c->name);
            snprintf(t->train, sizeof t->train, "%s", c->train);
            snprintf(t->test, sizeof t->test, "%s", c->test);
            t->positives_only = !c->folder;
            struct stat a, b;
            if (stat(t->train, &a) || stat(t->test, &b))
                s = dm_error(DM_STATUS_IO, "%s: cannot read: %s", t->train, strerror(errno));
            else t->bytes = (uint64_t)a.st_size + (uint64_t)b.st_size;
        }
    }
    free(cs.c);
    if (!s && sw->n_sets == 0) {
        if (sw->n_skipped)
            s = dm_error(DM_STATUS_FORMAT, "%s: no data sets: %d test file(s) without a training half (%.300s)", dir,
                         sw->n_skipped, sw->skipped);
        else
            s = dm_error(DM_STATUS_FORMAT, "%s: no data sets: the folder %s; expected NAME_AC.seq.gz + NAME_B.seq.gz pairs "
                         "or NAME/train.fa + NAME/test.fa folders", dir, entries ? "holds none" : "is empty");
    }
    if (!s) qsort(sw->sets, (size_t)sw->n_sets, sizeof(dm_sweep_set), by_name);
    return s;
}

/* ---- the plan and its shards -------------------------------------------------------------------- */

void dm_sweep_assign_shards(dm_sweep_job *jobs, int n_jobs, int n_shards) {
    if (n_shards < 1) n_shards = 1;
    uint64_t *total = calloc((size_t)n_shards, sizeof(uint64_t)), *mine = calloc((size_t)n_shards, sizeof(uint64_t));
    int *cap = calloc((size_t)n_shards, sizeof(int)), *order = malloc(sizeof(int) * (size_t)(n_jobs ? n_jobs : 1));
    bool *seen = calloc((size_t)(n_jobs ? n_jobs : 1), 1), *extra = calloc((size_t)n_shards, 1);
    if (!total || !mine || !cap || !order || !seen || !extra) {   /* no memory for balance: round robin */
        for (int j = 0; j < n_jobs; j++) jobs[j].shard = j % n_shards;
        free(total), free(mine), free(cap), free(order), free(seen), free(extra);
        return;
    }
    for (int j0 = 0; j0 < n_jobs; j0++) {
        if (seen[j0]) continue;
        int n = 0;   /* the jobs of this architecture, largest first, ties in plan order */
        for (int j = j0; j < n_jobs; j++)
            if (!seen[j] && !strcmp(jobs[j].arch, jobs[j0].arch)) order[n++] = j, seen[j] = true;
        for (int a = 1; a < n; a++)
            for (int b = a; b > 0 && jobs[order[b]].bytes > jobs[order[b - 1]].bytes; b--) {
                int t = order[b];
                order[b] = order[b - 1], order[b - 1] = t;
            }
        /* n / N jobs each; the n % N left over go to the shards with the least bytes so far, so the
         * shards that got one more of an architecture get one fewer of the next */
        memset(extra, 0, (size_t)n_shards);
        for (int e = 0; e < n % n_shards; e++) {
            int best = -1;
            for (int sh = 0; sh < n_shards; sh++)
                if (!extra[sh] && (best < 0 || total[sh] < total[best])) best = sh;
            extra[best] = true;
        }
        for (int sh = 0; sh < n_shards; sh++) cap[sh] = n / n_shards + extra[sh], mine[sh] = 0;
        for (int k = 0; k < n; k++) {   /* largest first onto the lightest shard with room */
            int best = -1;
            for (int sh = 0; sh < n_shards; sh++)
                if (cap[sh] > 0 && (best < 0 || mine[sh] < mine[best] || (mine[sh] == mine[best] && total[sh] < total[best])))
                    best = sh;
            jobs[order[k]].shard = best;
            cap[best]--;
            mine[best] += jobs[order[k]].bytes;
            total[best] += jobs[order[k]].bytes;
        }
    }
    free(total), free(mine), free(cap), free(order), free(seen), free(extra);
}

dm_status dm_sweep_plan(dm_sweep *sw, const dm_arch *archs, int n_archs, const char *options, int n_shards) {
    DM_CHECK_ARG(sw && archs && n_archs >= 1 && n_archs <= DM_SWEEP_MAX_ARCHS && n_shards >= 1, "sweep: invalid arguments");
    free(sw->jobs);
    sw->jobs = calloc((size_t)(sw->n_sets * n_archs + 1), sizeof(dm_sweep_job));
    if (!sw->jobs) return dm_error(DM_STATUS_NOMEM, "out of memory");
    sw->n_jobs = 0;
    sw->n_shards = n_shards;
    for (int i = 0; i < sw->n_sets; i++) {
        const dm_sweep_set *t = &sw->sets[i];
        char h_train[65], h_test[65];
        uint64_t bytes;
        DM_TRY(dm_file_sha256(t->train, &bytes, h_train));
        DM_TRY(dm_file_sha256(t->test, &bytes, h_test));
        for (int a = 0; a < n_archs; a++) {
            dm_sweep_job *j = &sw->jobs[sw->n_jobs++];
            snprintf(j->dataset, sizeof j->dataset, "%s", t->name);
            snprintf(j->arch, sizeof j->arch, "%s", dm_arch_name(archs[a]));
            snprintf(j->key, sizeof j->key, "%s.%s", t->name, j->arch);
            j->set = i;
            j->bytes = t->bytes;
            char text[8192];
            int k = snprintf(text, sizeof text, "deepmotif sweep row 1\narch %s\nnegatives %s\ntrain %s\ntest %s\noptions %s\n",
                             j->arch, t->positives_only ? "shuffle" : "none", h_train, h_test, options ? options : "");
            uint8_t dg[32];
            dm_sha256(text, (size_t)(k < (int)sizeof text ? k : (int)sizeof text - 1), dg);
            for (int b = 0; b < 32; b++) snprintf(j->checksum + 2 * b, 3, "%02x", dg[b]);
        }
    }
    dm_sweep_assign_shards(sw->jobs, sw->n_jobs, n_shards);
    return DM_STATUS_OK;
}

void dm_sweep_free(dm_sweep *sw) {
    if (!sw) return;
    free(sw->sets);
    free(sw->jobs);
    memset(sw, 0, sizeof *sw);
}

/* ---- files under OUT ---------------------------------------------------------------------------- */

static dm_status make_dir(const char *path) {
    if (mkdir(path, 0777) == 0 || (errno == EEXIST && is_dir(path))) return DM_STATUS_OK;
    return dm_error(DM_STATUS_IO, "%s: cannot create the folder: %s", path, errno == EEXIST ? "a file is in the way"
                                                                                           : strerror(errno));
}

const char *dm_sweep_path(const dm_sweep *sw, int job, const char *what, char *buf) {
    const char *key = sw->jobs[job].key;
    if (!strcmp(what, "row")) snprintf(buf, 4200, "%s/rows/%s.tsv", sw->out, key);
    else if (!strcmp(what, "model")) snprintf(buf, 4200, "%s/models/%s.dm", sw->out, key);
    else if (!strcmp(what, "log")) snprintf(buf, 4200, "%s/logs/%s.log", sw->out, key);
    else snprintf(buf, 4200, "%s/models/%s.pending", sw->out, key);
    return buf;
}

dm_status dm_sweep_prepare(dm_sweep *sw, const char *out) {
    DM_CHECK_ARG(sw && out && out[0], "sweep: invalid arguments");
    if (strlen(out) >= sizeof sw->out - 300) return dm_error(DM_STATUS_ARG, "%s: the output folder's path is too long", out);
    snprintf(sw->out, sizeof sw->out, "%s", out);
    static const char *const sub[] = {"", "/rows", "/models", "/logs"};
    for (int k = 0; k < 4; k++) {
        char p[4200];
        snprintf(p, sizeof p, "%s%s", out, sub[k]);
        DM_TRY(make_dir(p));
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/plan.tsv", out);
    dm_outfile o;
    DM_TRY(dm_outfile_open(&o, path));
    fprintf(o.f, "key\tdataset\tarch\tbytes\tchecksum\n");
    for (int j = 0; j < sw->n_jobs; j++) {
        const dm_sweep_job *b = &sw->jobs[j];
        fprintf(o.f, "%s\t%s\t%s\t%llu\t%s\n", b->key, b->dataset, b->arch, (unsigned long long)b->bytes, b->checksum);
    }
    return dm_outfile_commit(&o);
}

/* A whole small text file, NUL-ended (malloc'd), or NULL with errno set. */
static char *slurp(const char *path, size_t max) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = malloc(max + 1);
    size_t n = buf ? fread(buf, 1, max, f) : 0;
    fclose(f);
    if (buf) buf[n] = 0;
    return buf;
}

dm_status dm_sweep_load_plan(dm_sweep *sw, const char *out) {
    char path[4200];
    snprintf(path, sizeof path, "%s/plan.tsv", out);
    char *text = slurp(path, 64u << 20);
    if (!text) return dm_error(DM_STATUS_IO, "%s: cannot read: %s (not the output folder of a sweep?)", path, strerror(errno));
    int lines = 0;
    for (char *p = text; *p; p++) lines += *p == '\n';
    free(sw->jobs);
    sw->jobs = calloc((size_t)lines + 1, sizeof(dm_sweep_job));
    if (!sw->jobs) return free(text), dm_error(DM_STATUS_NOMEM, "out of memory");
    sw->n_jobs = 0;
    sw->n_shards = 1;
    dm_status s = DM_STATUS_OK;
    int ln = 0;
    for (char *line = text, *next; line && *line && !s; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        if (++ln == 1) {
            if (strcmp(line, "key\tdataset\tarch\tbytes\tchecksum"))
                s = dm_error(DM_STATUS_FORMAT, "%s: line 1: not a sweep plan's header", path);
            continue;
        }
        dm_sweep_job *j = &sw->jobs[sw->n_jobs];
        char *f[5];
        int nf = 0;
        for (char *p = line; nf < 5; nf++) {
            f[nf] = p;
            p = strchr(p, '\t');
            if (!p) {
                nf++;
                break;
            }
            *p++ = 0;
        }
        char *end;
        unsigned long long bytes = nf == 5 ? strtoull(f[3], &end, 10) : 0;
        if (nf != 5 || *end || strlen(f[4]) != 64 || strlen(f[0]) >= sizeof j->key || strlen(f[1]) >= sizeof j->dataset ||
            strlen(f[2]) >= sizeof j->arch) {
            s = dm_error(DM_STATUS_FORMAT, "%s: line %d: not a plan row (key, dataset, arch, bytes, checksum)", path, ln);
            break;
        }
        snprintf(j->key, sizeof j->key, "%s", f[0]);
        snprintf(j->dataset, sizeof j->dataset, "%s", f[1]);
        snprintf(j->arch, sizeof j->arch, "%s", f[2]);
        snprintf(j->checksum, sizeof j->checksum, "%s", f[4]);
        j->bytes = bytes;
        j->set = -1;
        sw->n_jobs++;
    }
    free(text);
    if (!s && sw->n_jobs == 0) s = dm_error(DM_STATUS_FORMAT, "%s: the plan holds no jobs", path);
    if (!s) snprintf(sw->out, sizeof sw->out, "%s", out);
    return s;
}

/* ---- rows ---------------------------------------------------------------------------------------- */

static void metric_text(char *buf, size_t cap, double v) {
    if (isfinite(v)) snprintf(buf, cap, "%.6f", v);
    else snprintf(buf, cap, "NA");
}

void dm_sweep_row_format(const dm_sweep_row *r, char *buf, size_t cap) {
    char a[32], b[32], c[32];
    metric_text(a, sizeof a, r->auroc);
    metric_text(b, sizeof b, r->auprc);
    metric_text(c, sizeof c, r->accuracy);
    snprintf(buf, cap, "%s\t%s\t%lld\t%lld\t%lld\t%s\t%s\t%s\t%d\t%d\t%.2f\t%.0f\t%s\t%s\t%llu\t%s", r->dataset, r->arch,
             (long long)r->n_train, (long long)r->n_valid, (long long)r->n_test, a, b, c, (int)r->epochs, (int)r->best_epoch,
             r->train_seconds, r->seqs_per_s, r->device, r->model, (unsigned long long)r->seed, r->checksum);
}

dm_status dm_sweep_row_parse(const char *line, dm_sweep_row *r, const char *where) {
    char buf[8192];
    if (strlen(line) >= sizeof buf) return dm_error(DM_STATUS_FORMAT, "%s: the row is too long", where);
    snprintf(buf, sizeof buf, "%s", line);
    char *f[N_COLS];
    int nf = 0;
    for (char *p = buf; p && nf < N_COLS; nf++) {
        f[nf] = p;
        p = strchr(p, '\t');
        if (p) *p++ = 0;
    }
    if (nf != N_COLS || strchr(f[N_COLS - 1], '\t'))
        return dm_error(DM_STATUS_FORMAT, "%s: not a result row of %d tab-separated columns", where, N_COLS);
    memset(r, 0, sizeof *r);
    bool ok = strlen(f[0]) < sizeof r->dataset && strlen(f[1]) < sizeof r->arch && strlen(f[12]) < sizeof r->device &&
              strlen(f[13]) < sizeof r->model && strlen(f[15]) == 64;
    set_text(r->dataset, sizeof r->dataset, f[0]);
    set_text(r->arch, sizeof r->arch, f[1]);
    set_text(r->device, sizeof r->device, f[12]);
    set_text(r->model, sizeof r->model, f[13]);
    set_text(r->checksum, sizeof r->checksum, f[15]);
    char *end;
    int64_t *ints[3] = {&r->n_train, &r->n_valid, &r->n_test};
    for (int k = 0; k < 3; k++) *ints[k] = strtoll(f[2 + k], &end, 10), ok = ok && !*end && end != f[2 + k];
    double *reals[3] = {&r->auroc, &r->auprc, &r->accuracy};
    for (int k = 0; k < 3; k++) {
        if (!strcmp(f[5 + k], "NA")) *reals[k] = NAN;
        else *reals[k] = strtod(f[5 + k], &end), ok = ok && !*end && end != f[5 + k];
    }
    r->epochs = (int32_t)strtol(f[8], &end, 10), ok = ok && !*end;
    r->best_epoch = (int32_t)strtol(f[9], &end, 10), ok = ok && !*end;
    r->train_seconds = strtod(f[10], &end), ok = ok && !*end;
    r->seqs_per_s = strtod(f[11], &end), ok = ok && !*end;
    r->seed = strtoull(f[14], &end, 10), ok = ok && !*end;
    if (!ok) return dm_error(DM_STATUS_FORMAT, "%s: a malformed result row", where);
    return DM_STATUS_OK;
}

/* The row in rows/KEY.tsv (header + one line), or _IO/_FORMAT. */
static dm_status read_row_file(const char *path, dm_sweep_row *r) {
    char *text = slurp(path, 16384);
    if (!text) return dm_error(DM_STATUS_IO, "%s: cannot read: %s", path, strerror(errno));
    char *nl = strchr(text, '\n');
    dm_status s = DM_STATUS_OK;
    if (!nl || strncmp(text, dm_sweep_header, (size_t)(nl - text)) || (size_t)(nl - text) != strlen(dm_sweep_header)) {
        s = dm_error(DM_STATUS_FORMAT, "%s: line 1: not the header of a result row", path);
    } else {
        char *row = nl + 1, *end = strchr(row, '\n');
        if (end) *end = 0;
        char where[4300];
        snprintf(where, sizeof where, "%s: line 2", path);
        s = dm_sweep_row_parse(row, r, where);
    }
    free(text);
    return s;
}

bool dm_sweep_read_current_row(const dm_sweep *sw, int job, dm_sweep_row *r) {
    char path[4200];
    dm_sweep_path(sw, job, "row", path);
    if (access(path, F_OK) != 0) return false;
    if (read_row_file(path, r) != DM_STATUS_OK) return false;
    return !strcmp(r->checksum, sw->jobs[job].checksum) && !strcmp(r->arch, sw->jobs[job].arch) &&
           !strcmp(r->dataset, sw->jobs[job].dataset);
}

bool dm_sweep_job_done(const dm_sweep *sw, int job) {
    dm_sweep_row r;
    char model[4200];
    return dm_sweep_read_current_row(sw, job, &r) && is_regular(dm_sweep_path(sw, job, "model", model));
}

dm_status dm_sweep_commit_row(const dm_sweep *sw, int job, dm_sweep_row *row) {
    const dm_sweep_job *j = &sw->jobs[job];
    char model[4200];
    dm_sweep_path(sw, job, "model", model);
    dm_provenance *prov = calloc(1, sizeof *prov);
    if (!prov) return dm_error(DM_STATUS_NOMEM, "out of memory");
    dm_hparams hp;
    float *params = NULL;
    int64_t np;
    dm_status s = dm_checkpoint_load(model, dm_net_table, &hp, &params, &np, prov, NULL);
    free(params);
    if (s) return free(prov), s;
    memset(row, 0, sizeof *row);
    snprintf(row->dataset, sizeof row->dataset, "%s", j->dataset);
    snprintf(row->arch, sizeof row->arch, "%s", j->arch);
    row->n_train = prov->n_train, row->n_valid = prov->n_valid, row->n_test = prov->n_test;
    row->auroc = prov->test_auroc, row->auprc = prov->test_auprc, row->accuracy = prov->test_accuracy;
    row->epochs = prov->epochs_run, row->best_epoch = prov->best_epoch;
    row->train_seconds = prov->train_seconds;
    row->seqs_per_s = prov->train_seconds > 0 ? (double)prov->n_train * prov->epochs_run / prov->train_seconds : 0;
    for (char *p = prov->device; *p; p++)
        if (*p == '\t' || *p == '\n' || *p == '\r') *p = ' ';
    snprintf(row->device, sizeof row->device, "%s", prov->device);
    snprintf(row->model, sizeof row->model, "models/%s.dm", j->key);
    row->seed = prov->seed;
    snprintf(row->checksum, sizeof row->checksum, "%s", j->checksum);
    free(prov);
    if (strcmp(dm_arch_name(hp.arch), j->arch))
        return dm_error(DM_STATUS_FORMAT, "%s: a %s model where the sweep trained a %s", model, dm_arch_name(hp.arch), j->arch);
    char line[8192], path[4200];
    dm_sweep_row_format(row, line, sizeof line);
    dm_outfile o;
    DM_TRY(dm_outfile_open(&o, dm_sweep_path(sw, job, "row", path)));
    fprintf(o.f, "%s\n%s\n", dm_sweep_header, line);
    DM_TRY(dm_outfile_commit(&o));
    /* the row is in: the resume state of its training is no longer needed */
    char last[4300];
    snprintf(last, sizeof last, "%s.last", model);
    unlink(last);
    unlink(dm_sweep_path(sw, job, "pending", path));
    return DM_STATUS_OK;
}

dm_status dm_sweep_mark_pending(const dm_sweep *sw, int job) {
    char path[4200];
    dm_outfile o;
    DM_TRY(dm_outfile_open(&o, dm_sweep_path(sw, job, "pending", path)));
    fprintf(o.f, "%s\n", sw->jobs[job].checksum);
    return dm_outfile_commit(&o);
}

bool dm_sweep_can_resume(const dm_sweep *sw, int job) {
    char path[4200], last[4300];
    char *text = slurp(dm_sweep_path(sw, job, "pending", path), 200);
    bool same = text && !strncmp(text, sw->jobs[job].checksum, 64) && text[64] == '\n';
    free(text);
    snprintf(last, sizeof last, "%s.last", dm_sweep_path(sw, job, "model", path));
    return same && is_regular(last);
}

/* ---- running ------------------------------------------------------------------------------------ */

int dm_sweep_slots(int jobs, const int *devices, int n_devices, int total_threads, dm_sweep_slot *slots) {
    int n = n_devices > 0 ? n_devices : jobs < 1 ? 1 : jobs;
    if (n > 64) n = 64;
    int share = total_threads / n;
    if (share < 1) share = 1;
    for (int k = 0; k < n; k++) {
        slots[k].threads = share;
        slots[k].device = n_devices > 0 ? devices[k] : -1;
    }
    return n;
}

typedef struct run_state {
    const dm_sweep *sw;
    int *slot_job;           /* per slot: the job on it, −1 free */
    double *slot_t0;
    int n_slots;
    double rate_sec[DM_SWEEP_MAX_ARCHS * 4], rate_bytes[DM_SWEEP_MAX_ARCHS * 4];
    char arch_names[DM_SWEEP_MAX_ARCHS * 4][16];
    int n_arch;
    char running[2048];
} run_state;

static int arch_slot(run_state *rs, const char *arch) {
    for (int a = 0; a < rs->n_arch; a++)
        if (!strcmp(rs->arch_names[a], arch)) return a;
    if (rs->n_arch == DM_SWEEP_MAX_ARCHS * 4) return 0;
    snprintf(rs->arch_names[rs->n_arch], 16, "%s", arch);
    return rs->n_arch++;
}

/* Seconds per byte of an architecture from its finished jobs, else of all finished jobs, else NaN. */
static double rate_of(run_state *rs, const char *arch) {
    int a = arch_slot(rs, arch);
    if (rs->rate_bytes[a] > 0) return rs->rate_sec[a] / rs->rate_bytes[a];
    double s = 0, b = 0;
    for (int k = 0; k < rs->n_arch; k++) s += rs->rate_sec[k], b += rs->rate_bytes[k];
    return b > 0 ? s / b : NAN;
}

/* Remaining seconds: the pending jobs' estimated work plus the running ones' rest, over the slots. */
static double eta_of(run_state *rs, const int *pending, int n_pending, double now) {
    double work = 0, longest = 0;
    if (isnan(rate_of(rs, rs->sw->jobs[0].arch))) return NAN;   /* nothing finished yet */
    for (int k = 0; k < n_pending; k++) {
        const dm_sweep_job *j = &rs->sw->jobs[pending[k]];
        work += rate_of(rs, j->arch) * (double)(j->bytes + 1);
    }
    for (int s = 0; s < rs->n_slots; s++) {
        if (rs->slot_job[s] < 0) continue;
        const dm_sweep_job *j = &rs->sw->jobs[rs->slot_job[s]];
        double rest = rate_of(rs, j->arch) * (double)(j->bytes + 1) - (now - rs->slot_t0[s]);
        if (rest < 0) rest = 0;
        work += rest;
        if (rest > longest) longest = rest;
    }
    double eta = work / rs->n_slots;
    return eta > longest ? eta : longest;
}

static const char *running_text(run_state *rs) {
    size_t k = 0;
    rs->running[0] = 0;
    for (int s = 0; s < rs->n_slots; s++) {
        if (rs->slot_job[s] < 0) continue;
        const char *key = rs->sw->jobs[rs->slot_job[s]].key;
        if (k + strlen(key) + 8 >= sizeof rs->running) {
            snprintf(rs->running + k, sizeof rs->running - k, "%s...", k ? ", " : "");
            break;
        }
        k += (size_t)snprintf(rs->running + k, sizeof rs->running - k, "%s%s", k ? ", " : "", key);
    }
    return rs->running;
}

/* Data sets of the share (its jobs, `mine`) with every job done: *done of *total. Jobs of one data
 * set are contiguous in the plan. */
static void sets_done(const dm_sweep *sw, const bool *mine, const bool *done, int *n_done, int *n_total) {
    *n_done = *n_total = 0;
    for (int j = 0; j < sw->n_jobs;) {
        int k = j;
        bool any = false, all = true;
        for (; k < sw->n_jobs && !strcmp(sw->jobs[k].dataset, sw->jobs[j].dataset); k++)
            if (mine[k]) any = true, all = all && done[k];
        *n_total += any;
        *n_done += any && all;
        j = k;
    }
}

dm_status dm_sweep_run(dm_sweep *sw, int shard, const dm_sweep_slot *slots, int n_slots, const dm_sweep_runner *r,
                       dm_sweep_event_fn on_event, void *ctx, dm_sweep_result *res) {
    DM_CHECK_ARG(sw && slots && n_slots >= 1 && r && r->start && r->wait && res, "sweep: invalid arguments");
    memset(res, 0, sizeof *res);
    run_state rs = {.sw = sw, .n_slots = n_slots};
    int *pending = malloc(sizeof(int) * (size_t)(sw->n_jobs + 1));
    rs.slot_job = malloc(sizeof(int) * (size_t)n_slots);
    rs.slot_t0 = calloc((size_t)n_slots, sizeof(double));
    bool *mine = calloc((size_t)sw->n_jobs + 1, 1), *done = calloc((size_t)sw->n_jobs + 1, 1);
    if (!pending || !rs.slot_job || !rs.slot_t0 || !mine || !done) {
        free(pending), free(rs.slot_job), free(rs.slot_t0), free(mine), free(done);
        return dm_error(DM_STATUS_NOMEM, "out of memory");
    }
    for (int s = 0; s < n_slots; s++) rs.slot_job[s] = -1;
    int n_pending = 0, head = 0;
    for (int j = 0; j < sw->n_jobs; j++) {
        if (shard >= 0 && sw->jobs[j].shard != shard) continue;
        res->total++;
        mine[j] = true;
        if (dm_sweep_job_done(sw, j)) res->kept++, done[j] = true;
        else pending[n_pending++] = j;
    }
    double t0 = dm_now();
    int running = 0;
    dm_status st = DM_STATUS_OK;
    dm_sweep_event ev;
    bool stop = false;
    for (;;) {
        stop = stop || (r->stopping && r->stopping(r->ctx));
        for (int s = 0; s < n_slots && head < n_pending && !st && !stop; s++) {
            if (rs.slot_job[s] >= 0) continue;
            int j = pending[head++];
            rs.slot_job[s] = j;
            rs.slot_t0[s] = dm_now();
            st = r->start(r->ctx, sw, j, &slots[s], s);
            if (st) break;
            running++;
            if (on_event) {
                ev = (dm_sweep_event){DM_SWEEP_EV_START, j, res->kept + res->trained, res->failed, res->total, res->kept,
                                      dm_now() - t0, eta_of(&rs, pending + head, n_pending - head, dm_now()),
                                      running_text(&rs), NULL, NULL, 0, 0};
                sets_done(sw, mine, done, &ev.sets_done, &ev.sets_total);
                on_event(ctx, &ev);
            }
        }
        if (st || running == 0) break;
        int j = -1, s = -1;
        bool ok = false;
        char why[1024] = "";
        st = r->wait(r->ctx, &j, &s, &ok, why, sizeof why);
        if (st) break;
        if (s < 0 || s >= n_slots || rs.slot_job[s] != j) {
            st = dm_error(DM_STATUS_ARG, "sweep: the runner reported job %d on slot %d, which it was not given", j, s);
            break;
        }
        running--;
        double took = dm_now() - rs.slot_t0[s];
        rs.slot_job[s] = -1;
        stop = stop || (r->stopping && r->stopping(r->ctx));
        if (!ok && stop) {   /* ended by the stop: its row comes with the next run */
            res->interrupted++;
            continue;
        }
        dm_sweep_row row;
        if (ok && dm_sweep_commit_row(sw, j, &row) != DM_STATUS_OK) {
            ok = false;
            snprintf(why, sizeof why, "%s", dm_last_error());
        }
        if (ok) {
            res->trained++;
            done[j] = true;
            int a = arch_slot(&rs, sw->jobs[j].arch);
            rs.rate_sec[a] += took;
            rs.rate_bytes[a] += (double)(sw->jobs[j].bytes + 1);
        } else {
            if (!res->failed) snprintf(res->first_failure, sizeof res->first_failure, "%.200s: %.800s", sw->jobs[j].key, why);
            res->failed++;
        }
        if (on_event) {
            ev = (dm_sweep_event){ok ? DM_SWEEP_EV_DONE : DM_SWEEP_EV_FAILED, j, res->kept + res->trained, res->failed,
                                  res->total, res->kept, dm_now() - t0,
                                  eta_of(&rs, pending + head, n_pending - head, dm_now()), running_text(&rs),
                                  ok ? &row : NULL, ok ? NULL : why, 0, 0};
            sets_done(sw, mine, done, &ev.sets_done, &ev.sets_total);
            on_event(ctx, &ev);
        }
    }
    free(pending), free(rs.slot_job), free(rs.slot_t0), free(mine), free(done);
    if (!st && stop) st = dm_error(DM_STATUS_CANCELLED, "sweep: stopped with %d of %d rows done", res->kept + res->trained,
                                   res->total);
    return st;
}
