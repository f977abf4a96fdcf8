/*
 * dataset.c: data sets derived from others (each positive with its dinucleotide shuffle, the
 * validation split by group) and the labelled FASTA writer (FORMATS.md §2, §13; SPEC.md §5).
 * Reading is host/data.c.
 *
 * Derived sets own copies of their rows and ids; they recount n_padded and n_ambiguous from their
 * rows; n_truncated cannot be recovered per row and is 0 there. Data sets handed in by a caller are
 * checked first (dm_dataset_check_all here; training and prediction use dm_dataset_check): a NULL
 * or inconsistent one is DM_STATUS_ARG, never a crash.
 */
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "dm_internal.h"
#include "dm_rng.h"

dm_status dm_dataset_check(const dm_dataset *ds, const char *fn) {
    DM_CHECK_ARG(ds, "%s: NULL data set", fn);
    DM_CHECK_ARG(ds->n >= 0, "%s: data set with %lld sequences", fn, (long long)ds->n);
    if (ds->n == 0) return DM_STATUS_OK;
    DM_CHECK_ARG(ds->len >= 1, "%s: data set of %lld sequences of length %d", fn, (long long)ds->n, (int)ds->len);
    DM_CHECK_ARG(ds->seq, "%s: data set of %lld sequences without its sequences (seq)", fn, (long long)ds->n);
    return DM_STATUS_OK;
}

/* A whole data set, as the derivations here read it: dm_dataset_check and, with rows, the per-row
 * lengths, labels and groups present. */
static dm_status dm_dataset_check_all(const dm_dataset *ds, const char *fn) {
    DM_TRY(dm_dataset_check(ds, fn));
    DM_CHECK_ARG(ds->n == 0 || (ds->seq_len && ds->label && ds->group),
                 "%s: data set of %lld sequences without its arrays (seq_len, label, group)", fn, (long long)ds->n);
    return DM_STATUS_OK;
}

/* ---- derived data sets ----------------------------------------------------------------------- */

/* Allocates the arrays of an empty data set of n rows of length len (ids NULL, n set). */
static dm_status dm_dataset_alloc(dm_dataset *ds, int64_t n, int32_t len, dm_format format) {
    memset(ds, 0, sizeof *ds);
    ds->len = len;
    ds->format = format;
    if (n == 0) return DM_STATUS_OK;
    if ((uint64_t)n > SIZE_MAX / (uint64_t)len / 8)
        return dm_error(DM_STATUS_NOMEM, "data set of %lld sequences is too large", (long long)n);
    ds->seq = malloc((size_t)n * (size_t)len);
    ds->seq_len = malloc((size_t)n * sizeof *ds->seq_len);
    ds->label = malloc((size_t)n * sizeof *ds->label);
    ds->group = malloc((size_t)n * sizeof *ds->group);
    ds->id = calloc((size_t)n, sizeof *ds->id);
    if (!ds->seq || !ds->seq_len || !ds->label || !ds->group || !ds->id) {
        dm_dataset_free(ds);
        return dm_error(DM_STATUS_NOMEM, "out of memory for %lld sequences", (long long)n);
    }
    ds->n = n;
    return DM_STATUS_OK;
}

/* Copies row i of src into row j of dst (id duplicated). */
static dm_status dm_copy_row(dm_dataset *dst, int64_t j, const dm_dataset *src, int64_t i) {
    memcpy(dst->seq + j * dst->len, src->seq + i * src->len, (size_t)src->len);
    dst->seq_len[j] = src->seq_len[i];
    dst->label[j] = src->label[i];
    dst->group[j] = src->group[i];
    if (src->id && src->id[i]) {
        dst->id[j] = strdup(src->id[i]);
        if (!dst->id[j]) return dm_error(DM_STATUS_NOMEM, "out of memory copying ids");
    }
    return DM_STATUS_OK;
}

/* n_padded and n_ambiguous recounted from the rows (n_truncated is not recoverable: 0). */
static void dm_recount(dm_dataset *ds) {
    ds->n_padded = ds->n_truncated = ds->n_ambiguous = 0;
    for (int64_t i = 0; i < ds->n; i++) {
        const uint8_t *row = ds->seq + i * ds->len;
        ds->n_padded += ds->seq_len[i] < ds->len;
        ds->n_ambiguous += memchr(row, DM_BASE_N, (size_t)ds->seq_len[i]) != NULL;
    }
}

dm_status dm_dataset_with_shuffled_negatives(dm_dataset *out, const dm_dataset *pos,
                                             uint64_t seed) {
    DM_CHECK_ARG(out && out != pos, "dm_dataset_with_shuffled_negatives: NULL output, or the input itself");
    memset(out, 0, sizeof *out);
    DM_TRY(dm_dataset_check_all(pos, "dm_dataset_with_shuffled_negatives"));
    int64_t n_pos = 0;
    for (int64_t i = 0; i < pos->n; i++) n_pos += pos->label[i] == 1;
    if (n_pos == 0) return dm_error(DM_STATUS_ARG, "no positive sequences to shuffle");
    DM_TRY(dm_dataset_alloc(out, 2 * n_pos, pos->len, pos->format));

    dm_status st = DM_STATUS_OK;
    int64_t j = 0;
    for (int64_t i = 0; i < pos->n && st == DM_STATUS_OK; i++) {
        if (pos->label[i] != 1) continue;
        /* Row j: the positive, in group i. */
        st = dm_copy_row(out, j, pos, i);
        out->group[j] = i;
        if (st != DM_STATUS_OK) break;
        /* Row j + 1: its shuffle over the real bases; the padding stays where it is. */
        uint8_t *neg = out->seq + (j + 1) * out->len;
        const uint8_t *src = pos->seq + i * pos->len;
        memcpy(neg, src, (size_t)pos->len);
        dm_dinuc_shuffle(neg, src, (size_t)pos->seq_len[i], seed, (uint64_t)i);
        out->seq_len[j + 1] = pos->seq_len[i];
        out->label[j + 1] = 0;
        out->group[j + 1] = i;
        const char *pid = pos->id && pos->id[i] ? pos->id[i] : "";
        size_t m = strlen(pid) + 6;
        out->id[j + 1] = malloc(m);
        if (!out->id[j + 1]) st = dm_error(DM_STATUS_NOMEM, "out of memory for ids");
        else snprintf(out->id[j + 1], m, "%s_shuf", pid);
        j += 2;
    }
    if (st != DM_STATUS_OK) {
        dm_dataset_free(out);
        return st;
    }
    dm_recount(out);
    return DM_STATUS_OK;
}

/* ---- shuffle pairs ----------------------------------------------------------------------------- */

bool dm_rows_same_composition(const dm_dataset *ds, int64_t i, int64_t j) {
    int32_t m = ds->seq_len[i];
    if (m != ds->seq_len[j] || m == 0) return false;
    const uint8_t *a = ds->seq + i * ds->len, *c = ds->seq + j * ds->len;
    if (a[0] != c[0] || a[m - 1] != c[m - 1]) return false;
    int32_t diff[36] = {0};
    for (int32_t p = 0; p + 1 < m; p++) {
        diff[a[p] * 6 + a[p + 1]]++;
        diff[c[p] * 6 + c[p + 1]]--;
    }
    for (int d = 0; d < 36; d++)
        if (diff[d] != 0) return false;
    return true;
}

/* ---- validation split ------------------------------------------------------------------------ */

/* Distinct groups in order of first appearance: gidx[i] = ordinal of row i's group. Open
 * addressing over a power-of-two table of (group, ordinal) pairs. */
static dm_status dm_group_ordinals(const dm_dataset *ds, int64_t *gidx, int64_t *n_groups) {
    size_t cap = 16;
    while (cap < (size_t)ds->n * 2) cap *= 2;
    int64_t *key = malloc(cap * sizeof *key), *val = malloc(cap * sizeof *val);
    if (!key || !val) {
        free(key);
        free(val);
        return dm_error(DM_STATUS_NOMEM, "out of memory for %lld groups", (long long)ds->n);
    }
    for (size_t s = 0; s < cap; s++) val[s] = -1;
    int64_t g = 0;
    for (int64_t i = 0; i < ds->n; i++) {
        size_t s = (size_t)dm_mix64((uint64_t)ds->group[i]) & (cap - 1);
        while (val[s] >= 0 && key[s] != ds->group[i]) s = (s + 1) & (cap - 1);
        if (val[s] < 0) {
            key[s] = ds->group[i];
            val[s] = g++;
        }
        gidx[i] = val[s];
    }
    free(key);
    free(val);
    *n_groups = g;
    return DM_STATUS_OK;
}

/* Copies the rows with sel[i] == want into out, in input order. */
static dm_status dm_select_rows(dm_dataset *out, const dm_dataset *ds, const bool *sel, bool want) {
    int64_t m = 0;
    for (int64_t i = 0; i < ds->n; i++) m += sel[i] == want;
    DM_TRY(dm_dataset_alloc(out, m, ds->len, ds->format));
    int64_t j = 0;
    for (int64_t i = 0; i < ds->n; i++) {
        if (sel[i] != want) continue;
        dm_status st = dm_copy_row(out, j++, ds, i);
        if (st != DM_STATUS_OK) {
            dm_dataset_free(out);
            return st;
        }
    }
    dm_recount(out);
    return DM_STATUS_OK;
}

dm_status dm_dataset_split(const dm_dataset *ds, double frac, uint64_t seed, dm_dataset *train,
                           dm_dataset *valid) {
    DM_CHECK_ARG(train && valid && train != valid && train != ds && valid != ds,
                 "dm_dataset_split: NULL outputs, the same output twice, or the input as an output");
    memset(train, 0, sizeof *train);
    memset(valid, 0, sizeof *valid);
    DM_TRY(dm_dataset_check_all(ds, "dm_dataset_split"));
    if (!(frac >= 0.0 && frac <= 1.0))
        return dm_error(DM_STATUS_ARG, "validation fraction %g is not in [0, 1]", frac);
    if (ds->len <= 0) return dm_error(DM_STATUS_ARG, "dm_dataset_split: data set has no length");

    size_t rows = ds->n > 0 ? (size_t)ds->n : 1;
    int64_t *gidx = malloc(rows * sizeof *gidx);   /* row → group ordinal */
    int64_t *perm = malloc(rows * sizeof *perm);   /* permuted group ordinals */
    bool *group_valid = malloc(rows * sizeof *group_valid);
    bool *in_valid = malloc(rows * sizeof *in_valid);
    dm_status st = DM_STATUS_OK;
    if (!gidx || !perm || !group_valid || !in_valid) {
        st = dm_error(DM_STATUS_NOMEM, "out of memory splitting %lld sequences", (long long)ds->n);
        goto done;
    }
    int64_t n_groups = 0;
    if ((st = dm_group_ordinals(ds, gidx, &n_groups)) != DM_STATUS_OK) goto done;
    if (n_groups > (int64_t)UINT32_MAX) {
        st = dm_error(DM_STATUS_ARG, "too many groups to split (%lld)", (long long)n_groups);
        goto done;
    }

    /* Seeded Fisher–Yates over the group ordinals; the first n_valid permuted groups validate. */
    for (int64_t g = 0; g < n_groups; g++) perm[g] = g;
    dm_rng r;
    dm_rng_init(&r, seed, DM_STREAM_SPLIT, 0);
    for (int64_t g = n_groups - 1; g > 0; g--) {
        int64_t h = dm_rng_below(&r, (uint32_t)(g + 1));
        int64_t t = perm[g];
        perm[g] = perm[h];
        perm[h] = t;
    }
    int64_t n_valid = llround(frac * (double)n_groups);
    if (frac > 0 && n_groups >= 2 && n_valid == 0) n_valid = 1;
    if (frac < 1 && n_groups >= 2 && n_valid == n_groups) n_valid = n_groups - 1;

    /* Groups, then rows, marked for validation. */
    for (int64_t g = 0; g < n_groups; g++) group_valid[g] = false;
    for (int64_t g = 0; g < n_valid; g++) group_valid[perm[g]] = true;
    for (int64_t i = 0; i < ds->n; i++) in_valid[i] = group_valid[gidx[i]];

    if ((st = dm_select_rows(train, ds, in_valid, false)) != DM_STATUS_OK) goto done;
    if ((st = dm_select_rows(valid, ds, in_valid, true)) != DM_STATUS_OK) dm_dataset_free(train);
done:
    free(gidx);
    free(perm);
    free(group_valid);
    free(in_valid);
    return st;
}

/* ---- fresh negatives (train --fresh-negatives) ------------------------------------------------- */

dm_status dm_dataset_shuffle_pairs(const dm_dataset *ds, int64_t **pairs, int64_t *n_pairs) {
    *pairs = NULL;
    *n_pairs = 0;
    DM_TRY(dm_dataset_check_all(ds, "dm_dataset_shuffle_pairs"));
    if (ds->n == 0) return DM_STATUS_OK;
    /* each group's positive rows, grouped (first[g] .. first[g + 1] in pos_rows): a group holds one,
     * or two in a reverse-complement-augmented set (a row and its reverse complement) */
    size_t n = (size_t)ds->n;
    int64_t n_groups = 0;
    int64_t *gidx = malloc(sizeof(int64_t) * n), *first = calloc(n + 2, sizeof(int64_t));
    int64_t *pos_rows = malloc(sizeof(int64_t) * n), *out = malloc(sizeof(int64_t) * 2 * n);
    dm_status st = gidx && first && pos_rows && out ? dm_group_ordinals(ds, gidx, &n_groups)
                                                    : dm_error(DM_STATUS_NOMEM, "out of memory for %lld shuffle pairs",
                                                               (long long)ds->n);
    if (st == DM_STATUS_OK) {
        for (size_t i = 0; i < n; i++) first[gidx[i] + 2] += ds->label[i] == 1;
        for (int64_t g = 0; g < n_groups; g++) first[g + 2] += first[g + 1];
        for (size_t i = 0; i < n; i++)   /* first[g + 1]: the next free slot of group g */
            if (ds->label[i] == 1) pos_rows[first[gidx[i] + 1]++] = (int64_t)i;
        int64_t k = 0;
        for (size_t i = 0; i < n; i++) {
            if (ds->label[i] != 0) continue;
            /* the first positive of its group it is a shuffle of (any with the same composition has the
             * same shuffles) */
            for (int64_t q = first[gidx[i]]; q < first[gidx[i] + 1]; q++) {
                if (!dm_rows_same_composition(ds, pos_rows[q], (int64_t)i)) continue;
                out[2 * k] = (int64_t)i;
                out[2 * k + 1] = pos_rows[q];
                k++;
                break;
            }
        }
        *n_pairs = k;
    }
    free(gidx);
    free(first);
    free(pos_rows);
    if (st != DM_STATUS_OK || *n_pairs == 0) free(out);
    else *pairs = out;
    return st;
}

void dm_dataset_fresh_negatives(uint8_t *codes, const dm_dataset *ds, const int64_t *pairs, int64_t n_pairs,
                                uint64_t seed, int32_t epoch) {
    /* one shuffle seed per epoch, from its own stream; each negative's shuffle is keyed by its row */
    dm_rng r;
    dm_rng_init(&r, seed, DM_STREAM_FRESH_NEGATIVES, (uint64_t)epoch);
    uint64_t epoch_seed = dm_rng_u64(&r);
    size_t L = (size_t)ds->len;
    for (int64_t k = 0; k < n_pairs; k++) {
        int64_t i = pairs[2 * k], p = pairs[2 * k + 1];
        memcpy(codes + (size_t)i * L, ds->seq + (size_t)p * L, L);   /* the padding as the positive's */
        dm_dinuc_shuffle(codes + (size_t)i * L, ds->seq + (size_t)p * L, (size_t)ds->seq_len[p], epoch_seed,
                         (uint64_t)i);
    }
}

/* ---- labelled FASTA output ------------------------------------------------------------------- */

dm_status dm_dataset_write_fasta(const dm_dataset *ds, const char *path) {
    DM_CHECK_ARG(path, "dm_dataset_write_fasta: NULL path");
    DM_TRY(dm_dataset_check_all(ds, "dm_dataset_write_fasta"));
    for (int64_t i = 0; i < ds->n; i++)
        if (ds->label[i] != 0 && ds->label[i] != 1)
            return dm_error(DM_STATUS_ARG, "%s: sequence %lld has no 0/1 label for labelled FASTA",
                            path, (long long)i + 1);
    dm_outfile o;
    DM_TRY(dm_outfile_open(&o, path));
    /* One record per row: ">1" or ">0", then the real bases on one line (padding dropped). */
    char *line = malloc((size_t)ds->len + 2);
    if (!line) {
        dm_outfile_abort(&o);
        return dm_error(DM_STATUS_NOMEM, "%s: out of memory", path);
    }
    for (int64_t i = 0; i < ds->n; i++) {
        const uint8_t *row = ds->seq + i * ds->len;
        int32_t m = ds->seq_len[i];
        for (int32_t p = 0; p < m; p++) line[p] = "ACGTNN"[row[p] < 6 ? row[p] : DM_BASE_N];
        line[m] = '\n';
        if (fputs(ds->label[i] ? ">1\n" : ">0\n", o.f) == EOF ||
            fwrite(line, 1, (size_t)m + 1, o.f) != (size_t)m + 1) {
            int err = dm_outfile_errno(&o);
            free(line);
            dm_outfile_abort(&o);
            return dm_error(DM_STATUS_IO, "%s: write failed: %s", path, strerror(err));
        }
    }
    free(line);
    return dm_outfile_commit(&o);
}
