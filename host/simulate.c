/*
 * simulate.c: the simulated data set of `deepmotif simulate` (see simulate.h) and the DeepBind TSV
 * writer it is saved with.
 *
 * Built-in motifs are typed here as probability matrices (rows A C G T), shaped after the JASPAR
 * consensus of well-known factors: CTCF core (MA0139-like, TGGCCACCAGGGGGCGCTA), REST/NRSF RE1
 * (MA0138-like, TTCAGCACCATGGACAGCGCC), GATA (WGATAR), USF E-box (GTCACGTGAC), ETS (ACCGGAAGT,
 * GABPA/ELK1-like) and FOXA forkhead (TGTTTAC…). They are approximations for simulation, not JASPAR
 * data.
 *
 * Randomness: positive i draws from the `simulate` stream at index i (background, motif choice,
 * strand, position, motif instance, in that order); its negative is dm_dinuc_shuffle() of the whole
 * positive with (seed, row = i) on the `negatives` stream. Rows are independent of each other, so
 * the first k positives of a larger run equal a run with n_pos = k.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <zlib.h>

#include "dm_internal.h"
#include "dm_rng.h"
#include "simulate.h"

#define DM_SIM_MAX_LEN (1 << 20)
#define DM_SIM_MAX_SET 32          /* motifs named in one option string */

/* ---- built-in motifs ------------------------------------------------------------------------- */

static const float dm_ppm_ctcf[19 * 4] = {
    0.10f, 0.30f, 0.12f, 0.48f,  0.18f, 0.12f, 0.60f, 0.10f,  0.08f, 0.32f, 0.52f, 0.08f,
    0.06f, 0.84f, 0.04f, 0.06f,  0.04f, 0.60f, 0.30f, 0.06f,  0.82f, 0.04f, 0.08f, 0.06f,
    0.01f, 0.96f, 0.02f, 0.01f,  0.04f, 0.56f, 0.36f, 0.04f,  0.56f, 0.30f, 0.06f, 0.08f,
    0.06f, 0.02f, 0.88f, 0.04f,  0.24f, 0.02f, 0.70f, 0.04f,  0.06f, 0.02f, 0.88f, 0.04f,
    0.10f, 0.04f, 0.82f, 0.04f,  0.04f, 0.02f, 0.92f, 0.02f,  0.12f, 0.68f, 0.08f, 0.12f,
    0.06f, 0.20f, 0.62f, 0.12f,  0.10f, 0.60f, 0.10f, 0.20f,  0.14f, 0.26f, 0.14f, 0.46f,
    0.46f, 0.14f, 0.28f, 0.12f,
};

static const float dm_ppm_rest[21 * 4] = {
    0.10f, 0.14f, 0.14f, 0.62f,  0.06f, 0.12f, 0.10f, 0.72f,  0.06f, 0.80f, 0.06f, 0.08f,
    0.86f, 0.04f, 0.06f, 0.04f,  0.04f, 0.04f, 0.88f, 0.04f,  0.04f, 0.88f, 0.04f, 0.04f,
    0.90f, 0.02f, 0.04f, 0.04f,  0.02f, 0.94f, 0.02f, 0.02f,  0.04f, 0.82f, 0.10f, 0.04f,
    0.60f, 0.10f, 0.20f, 0.10f,  0.14f, 0.20f, 0.16f, 0.50f,  0.04f, 0.06f, 0.86f, 0.04f,
    0.06f, 0.04f, 0.86f, 0.04f,  0.86f, 0.04f, 0.06f, 0.04f,  0.04f, 0.86f, 0.04f, 0.06f,
    0.84f, 0.06f, 0.06f, 0.04f,  0.06f, 0.06f, 0.84f, 0.04f,  0.08f, 0.70f, 0.10f, 0.12f,
    0.14f, 0.12f, 0.64f, 0.10f,  0.10f, 0.62f, 0.14f, 0.14f,  0.14f, 0.52f, 0.18f, 0.16f,
};

static const float dm_ppm_gata[8 * 4] = {
    0.42f, 0.08f, 0.08f, 0.42f,  0.02f, 0.02f, 0.94f, 0.02f,  0.94f, 0.02f, 0.02f, 0.02f,
    0.02f, 0.02f, 0.02f, 0.94f,  0.92f, 0.02f, 0.02f, 0.04f,  0.62f, 0.04f, 0.30f, 0.04f,
    0.20f, 0.14f, 0.56f, 0.10f,  0.30f, 0.22f, 0.26f, 0.22f,
};

static const float dm_ppm_usf[10 * 4] = {
    0.16f, 0.20f, 0.52f, 0.12f,  0.10f, 0.18f, 0.12f, 0.60f,  0.04f, 0.88f, 0.04f, 0.04f,
    0.92f, 0.02f, 0.04f, 0.02f,  0.02f, 0.94f, 0.02f, 0.02f,  0.02f, 0.02f, 0.94f, 0.02f,
    0.02f, 0.04f, 0.02f, 0.92f,  0.04f, 0.04f, 0.88f, 0.04f,  0.60f, 0.12f, 0.18f, 0.10f,
    0.12f, 0.52f, 0.20f, 0.16f,
};

static const float dm_ppm_ets[10 * 4] = {
    0.50f, 0.22f, 0.16f, 0.12f,  0.12f, 0.70f, 0.10f, 0.08f,  0.04f, 0.86f, 0.06f, 0.04f,
    0.02f, 0.02f, 0.94f, 0.02f,  0.02f, 0.02f, 0.94f, 0.02f,  0.94f, 0.02f, 0.02f, 0.02f,
    0.84f, 0.04f, 0.04f, 0.08f,  0.10f, 0.04f, 0.82f, 0.04f,  0.18f, 0.14f, 0.10f, 0.58f,
    0.22f, 0.16f, 0.46f, 0.16f,
};

static const float dm_ppm_foxa[11 * 4] = {
    0.16f, 0.10f, 0.14f, 0.60f,  0.20f, 0.06f, 0.64f, 0.10f,  0.04f, 0.04f, 0.04f, 0.88f,
    0.04f, 0.02f, 0.02f, 0.92f,  0.04f, 0.02f, 0.02f, 0.92f,  0.84f, 0.02f, 0.04f, 0.10f,
    0.08f, 0.80f, 0.02f, 0.10f,  0.44f, 0.08f, 0.08f, 0.40f,  0.18f, 0.26f, 0.10f, 0.46f,
    0.38f, 0.12f, 0.12f, 0.38f,  0.22f, 0.18f, 0.38f, 0.22f,
};

typedef struct dm_sim_motif {
    const char *name;
    int width;
    const float *ppm;   /* (width, 4) */
} dm_sim_motif;

/* The first entry is the default motif. */
static const dm_sim_motif dm_sim_motifs[] = {
    {"CTCF", 19, dm_ppm_ctcf}, {"REST", 21, dm_ppm_rest}, {"GATA", 8, dm_ppm_gata},
    {"USF", 10, dm_ppm_usf},   {"ETS", 10, dm_ppm_ets},   {"FOXA", 11, dm_ppm_foxa},
};
#define DM_SIM_N_MOTIFS ((int)(sizeof dm_sim_motifs / sizeof dm_sim_motifs[0]))

int dm_sim_motif_count(void) { return DM_SIM_N_MOTIFS; }

const char *dm_sim_motif_name(int i) {
    return i >= 0 && i < DM_SIM_N_MOTIFS ? dm_sim_motifs[i].name : NULL;
}

int dm_sim_motif_width(int i) { return i >= 0 && i < DM_SIM_N_MOTIFS ? dm_sim_motifs[i].width : 0; }

const float *dm_sim_motif_ppm(int i) {
    return i >= 0 && i < DM_SIM_N_MOTIFS ? dm_sim_motifs[i].ppm : NULL;
}

void dm_sim_options_default(dm_sim_options *o) {
    o->n_pos = 5000;
    o->len = 101;
    o->seed = 1;
    o->motifs = NULL;
    o->gc = 0.42;
}

/* ---- simulation ------------------------------------------------------------------------------ */

/* Parses the comma-separated motif list into indices; NULL gives the default (motif 0). */
static dm_status dm_sim_parse_motifs(const char *list, int *set, int *n_set) {
    *n_set = 0;
    if (!list) {
        set[(*n_set)++] = 0;
        return DM_STATUS_OK;
    }
    const char *p = list;
    for (;;) {
        size_t m = strcspn(p, ",");
        int found = -1;
        for (int i = 0; i < DM_SIM_N_MOTIFS && found < 0; i++)
            if (m == strlen(dm_sim_motifs[i].name) && strncasecmp(p, dm_sim_motifs[i].name, m) == 0)
                found = i;
        if (found < 0)
            return dm_error(DM_STATUS_ARG,
                            "unknown motif '%.*s' (built-in: CTCF, REST, GATA, USF, ETS, FOXA)",
                            (int)m, p);
        if (*n_set == DM_SIM_MAX_SET)
            return dm_error(DM_STATUS_ARG, "more than %d motifs named", DM_SIM_MAX_SET);
        set[(*n_set)++] = found;
        if (p[m] == '\0') break;
        p += m + 1;
    }
    return DM_STATUS_OK;
}

/* A code drawn from a probability row (A C G T) with one uniform number. */
static uint8_t dm_sim_draw_base(dm_rng *r, const float *prob) {
    double u = dm_rng_uniform(r), c = 0;
    for (uint8_t b = 0; b < 3; b++) {
        c += prob[b];
        if (u < c) return b;
    }
    return DM_BASE_T;
}

dm_status dm_simulate(dm_dataset *out, const dm_sim_options *o) {
    if (!out || !o) return dm_error(DM_STATUS_ARG, "dm_simulate: NULL argument");
    memset(out, 0, sizeof *out);
    int set[DM_SIM_MAX_SET], n_set;
    DM_TRY(dm_sim_parse_motifs(o->motifs, set, &n_set));
    if (o->n_pos < 1 || o->n_pos > (INT64_C(1) << 32))
        return dm_error(DM_STATUS_ARG, "simulate: number of positives %lld out of range",
                        (long long)o->n_pos);
    if (!(o->gc >= 0.0 && o->gc <= 1.0))
        return dm_error(DM_STATUS_ARG, "simulate: GC fraction %g is not in [0, 1]", o->gc);
    for (int s = 0; s < n_set; s++)
        if (o->len < dm_sim_motifs[set[s]].width || o->len > DM_SIM_MAX_LEN)
            return dm_error(DM_STATUS_ARG, "simulate: length %d does not fit motif %s (width %d)",
                            (int)o->len, dm_sim_motifs[set[s]].name, dm_sim_motifs[set[s]].width);

    /* Output arrays: rows 2i (positive) and 2i + 1 (its shuffle). */
    const int64_t n = 2 * o->n_pos, len = o->len;
    if ((uint64_t)n > SIZE_MAX / (uint64_t)len / 8)
        return dm_error(DM_STATUS_NOMEM, "simulate: %lld sequences is too many", (long long)n);
    out->seq = malloc((size_t)(n * len));
    out->seq_len = malloc((size_t)n * sizeof *out->seq_len);
    out->label = malloc((size_t)n * sizeof *out->label);
    out->group = malloc((size_t)n * sizeof *out->group);
    out->id = calloc((size_t)n, sizeof *out->id);
    out->n = n;
    out->len = o->len;
    out->format = DM_FORMAT_DEEPBIND;
    if (!out->seq || !out->seq_len || !out->label || !out->group || !out->id) goto nomem;

    /* Background probabilities A C G T for the GC fraction. */
    const float bg[4] = {(float)(0.5 * (1 - o->gc)), (float)(0.5 * o->gc), (float)(0.5 * o->gc),
                         (float)(0.5 * (1 - o->gc))};
    for (int64_t i = 0; i < o->n_pos; i++) {
        uint8_t *pos = out->seq + 2 * i * len, *neg = pos + len;
        dm_rng r;
        dm_rng_init(&r, o->seed, DM_STREAM_SIMULATE, (uint64_t)i);
        for (int64_t p = 0; p < len; p++) pos[p] = dm_sim_draw_base(&r, bg);

        /* Motif, strand, leftmost position, then the instance column by column. */
        uint32_t pick = n_set > 1 ? dm_rng_below(&r, (uint32_t)n_set) : 0;
        const dm_sim_motif *m = &dm_sim_motifs[set[pick]];
        bool minus = dm_rng_below(&r, 2) == 1;
        int64_t start = dm_rng_below(&r, (uint32_t)(len - m->width + 1));
        for (int j = 0; j < m->width; j++) {
            uint8_t b = dm_sim_draw_base(&r, m->ppm + 4 * j);
            /* The minus strand holds the reverse complement: column j lands at the mirror spot. */
            if (minus) pos[start + m->width - 1 - j] = (uint8_t)(DM_BASE_T - b);
            else pos[start + j] = b;
        }
        dm_dinuc_shuffle(neg, pos, (size_t)len, o->seed, (uint64_t)i);

        /* Labels, groups (the rank, as the DeepBind reader parses it back) and EventIDs. */
        for (int k = 0; k < 2; k++) {
            out->seq_len[2 * i + k] = o->len;
            out->label[2 * i + k] = (int8_t)(k == 0);
            out->group[2 * i + k] = i + 1;
        }
        for (int k = 0; k < 2; k++) {
            char buf[96];
            int w = k == 0 ? snprintf(buf, sizeof buf, "sim_%06lld_peak|%s:%lld:%c",
                                      (long long)(i + 1), m->name, (long long)start,
                                      minus ? '-' : '+')
                           : snprintf(buf, sizeof buf, "sim_%06lld_shuf", (long long)(i + 1));
            if (!(out->id[2 * i + k] = malloc((size_t)w + 1))) goto nomem;
            memcpy(out->id[2 * i + k], buf, (size_t)w + 1);
        }
    }
    return DM_STATUS_OK;
nomem:
    dm_dataset_free(out);
    return dm_error(DM_STATUS_NOMEM, "simulate: out of memory for %lld sequences", (long long)n);
}

/* ---- DeepBind TSV output --------------------------------------------------------------------- */

/* Where rows go: the plain temporary file, or a gzip stream on a duplicate of its descriptor. */
typedef struct dm_tsv_sink {
    FILE *f;
    gzFile gz;
} dm_tsv_sink;

static bool dm_sink_put(dm_tsv_sink *s, const char *buf, size_t m) {
    if (s->gz) return gzwrite(s->gz, buf, (unsigned)m) == (int)m;
    return fwrite(buf, 1, m, s->f) == m;
}

static bool dm_ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

dm_status dm_dataset_write_deepbind(const dm_dataset *ds, const char *path) {
    if (!ds || !path) return dm_error(DM_STATUS_ARG, "dm_dataset_write_deepbind: NULL argument");
    /* Check every row before creating anything. */
    size_t max_id = 0;
    for (int64_t i = 0; i < ds->n; i++) {
        if (ds->label[i] != 0 && ds->label[i] != 1)
            return dm_error(DM_STATUS_ARG, "%s: sequence %lld has no 0/1 label", path,
                            (long long)i + 1);
        const char *id = ds->id ? ds->id[i] : NULL;
        if (id && id[strcspn(id, "\t\r\n")] != '\0')
            return dm_error(DM_STATUS_ARG, "%s: id of sequence %lld holds a tab or newline", path,
                            (long long)i + 1);
        size_t m = id ? strlen(id) : 0;
        if (m > max_id) max_id = m;
    }
    /* One line: "A\t" id "\t" bases "\t" label "\n"; a missing id is written as seq_<row>. */
    size_t cap = max_id + (size_t)ds->len + 48;
    char *line = malloc(cap);
    if (!line) return dm_error(DM_STATUS_NOMEM, "%s: out of memory", path);

    dm_outfile o;
    dm_status st = dm_outfile_open(&o, path);
    if (st != DM_STATUS_OK) {
        free(line);
        return st;
    }
    dm_tsv_sink sink = {.f = o.f, .gz = NULL};
    bool ok = true;
    if (dm_ends_with(path, ".gz")) {
        int fd = dup(o.fd);
        sink.gz = fd >= 0 ? gzdopen(fd, "wb") : NULL;
        if (!sink.gz) {
            if (fd >= 0) close(fd);
            ok = false;
        }
    }
    static const char header[] = "FoldID\tEventID\tseq\tBound\n";
    ok = ok && dm_sink_put(&sink, header, sizeof header - 1);
    for (int64_t i = 0; i < ds->n && ok; i++) {
        int h = ds->id && ds->id[i] ? snprintf(line, cap, "A\t%s\t", ds->id[i])
                                    : snprintf(line, cap, "A\tseq_%lld\t", (long long)i + 1);
        size_t m = (size_t)h;
        const uint8_t *row = ds->seq + i * ds->len;
        for (int32_t p = 0; p < ds->seq_len[i]; p++) line[m++] = "ACGTNN"[row[p] < 6 ? row[p] : 4];
        m += (size_t)snprintf(line + m, cap - m, "\t%d\n", ds->label[i]);
        ok = dm_sink_put(&sink, line, m);
    }
    /* Closing the gzip stream writes its trailer; it must succeed before the rename. */
    int err = ok ? 0 : sink.gz ? errno : dm_outfile_errno(&o);
    if (sink.gz && gzclose(sink.gz) != Z_OK && ok) {
        ok = false;
        err = errno ? errno : EIO;
    }
    free(line);
    if (!ok) {
        if (!err) err = EIO;
        dm_outfile_abort(&o);
        return dm_error(DM_STATUS_IO, "%s: write failed: %s", path, strerror(err));
    }
    return dm_outfile_commit(&o);
}
