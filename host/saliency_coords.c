/*
 * saliency_coords.c: the genomic coordinates of saliency rows (see saliency.h): PREFIX.regions.bed
 * (line i = row i of the arrays) and the per-base track PREFIX.track.bw of the attribution of the
 * present base, overlapping windows averaged. The track needs every row before it can be written in
 * genome order, so the present-base attributions (n × L floats) are kept until the commit.
 */
#include <stdlib.h>
#include <string.h>

#include "dm_internal.h"
#include "saliency.h"
#include "shard.h"
#include "track.h"

struct dm_sal_coords {
    const dm_regions *rs;
    dm_genome *g;
    int L;
    dm_outfile bed;
    bool bed_open;
    char bed_path[4200], track_path[4200];
    float *vals;      /* (n, L) present-base attributions in reading order, NULL without a track */
};

void dm_sal_coords_abort(dm_sal_coords *c) {
    if (!c) return;
    if (c->bed_open) dm_outfile_abort(&c->bed);
    free(c->vals);
    free(c);
}

dm_status dm_sal_coords_open(dm_sal_coords **out, const dm_regions *rs, dm_genome *g, int L, bool track,
                             const char *prefix, const dm_shard *sh) {
    *out = NULL;
    dm_sal_coords *c = calloc(1, sizeof *c);
    if (!c) return dm_error(DM_STATUS_NOMEM, "saliency: out of memory");
    c->rs = rs, c->g = g, c->L = L;
    snprintf(c->bed_path, sizeof c->bed_path, "%s.regions.bed", prefix);
    snprintf(c->track_path, sizeof c->track_path, "%s.track.bw", prefix);
    dm_status st = DM_STATUS_OK;
    if (track && !(c->vals = calloc((size_t)(rs->n ? rs->n : 1) * (size_t)L, sizeof(float))))
        st = dm_error(DM_STATUS_NOMEM, "saliency --track: out of memory (%lld regions x %d floats)", (long long)rs->n, L);
    if (!st) st = sh ? dm_shard_text_open(&c->bed, sh, c->bed_path) : dm_outfile_open(&c->bed, c->bed_path);
    if (!st) {
        c->bed_open = true;
        for (int64_t i = sh ? sh->row0 : 0; i < (sh ? sh->row1 : rs->n); i++) {
            const dm_region *r = &rs->r[i];
            fprintf(c->bed.f, "%s\t%lld\t%lld\t%s\t0\t%c\n", r->chrom, (long long)r->start, (long long)r->end, r->name,
                    r->strand == '-' ? '-' : '+');
        }
    }
    if (st) {
        dm_sal_coords_abort(c);
        return st;
    }
    *out = c;
    return DM_STATUS_OK;
}

void dm_sal_coords_rows(dm_sal_coords *c, int64_t row0, int B, const float *attr, const float *x) {
    if (!c->vals) return;
    int L = c->L;
    for (int b = 0; b < B && row0 + b < c->rs->n; b++)
        for (int l = 0; l < L; l++) {
            const float *a = attr + ((size_t)b * L + l) * 4, *xr = x + ((size_t)b * L + l) * 4;
            c->vals[(size_t)(row0 + b) * L + l] = a[0] * xr[0] + a[1] * xr[1] + a[2] * xr[2] + a[3] * xr[3];
        }
}

typedef struct row_key { int chrom; int64_t start, row; } row_key;

static int key_cmp(const void *x, const void *y) {
    const row_key *a = x, *b = y;
    if (a->chrom != b->chrom) return a->chrom < b->chrom ? -1 : 1;
    if (a->start != b->start) return a->start < b->start ? -1 : 1;
    return a->row < b->row ? -1 : a->row > b->row;
}

/* The track: rows in genome order (track chromosomes are the genome's with bases), minus-strand rows
 * reversed into genome order, overlapping bases averaged. */
static dm_status write_track(dm_sal_coords *c) {
    const dm_regions *rs = c->rs;
    int nc = dm_genome_n_chroms(c->g), L = c->L, nt = 0;
    int *slot = malloc(sizeof(int) * (size_t)(nc ? nc : 1));
    const char **names = malloc(sizeof(char *) * (size_t)(nc ? nc : 1));
    int64_t *lens = malloc(sizeof(int64_t) * (size_t)(nc ? nc : 1));
    row_key *k = malloc(sizeof(row_key) * (size_t)(rs->n ? rs->n : 1));
    float *rev = malloc(sizeof(float) * (size_t)L);
    dm_status st = !slot || !names || !lens || !k || !rev ? dm_error(DM_STATUS_NOMEM, "saliency: out of memory")
                                                          : DM_STATUS_OK;
    for (int i = 0; !st && i < nc; i++) {
        slot[i] = -1;
        if (dm_genome_chrom_len(c->g, i) < 1) continue;
        slot[i] = nt, names[nt] = dm_genome_chrom_name(c->g, i), lens[nt++] = dm_genome_chrom_len(c->g, i);
    }
    for (int64_t i = 0; !st && i < rs->n; i++) {
        int ci = dm_genome_chrom_index(c->g, rs->r[i].chrom);
        if (ci < 0 || slot[ci] < 0)
            st = dm_error(DM_STATUS_FORMAT, "%s:%lld: chromosome '%s' not in %s", rs->path, (long long)rs->r[i].line,
                          rs->r[i].chrom, dm_genome_path(c->g));
        else k[i] = (row_key){slot[ci], rs->r[i].start, i};
    }
    if (!st && rs->n == 0) st = dm_error(DM_STATUS_FORMAT, "%s: no regions: no track", rs->path);
    dm_track *t = NULL;
    dm_track_avg *avg = NULL;
    if (!st) {
        qsort(k, (size_t)rs->n, sizeof *k, key_cmp);
        st = dm_track_open(&t, c->track_path, DM_TRACK_BIGWIG, nt, names, lens);
    }
    if (!st) st = dm_track_avg_open(&avg, t);
    for (int64_t j = 0; !st && j < rs->n; j++) {
        const dm_region *r = &rs->r[k[j].row];
        const float *v = c->vals + (size_t)k[j].row * L;
        int64_t n = r->end - r->start < L ? r->end - r->start : L;
        if (r->strand == '-') {   /* reading position l is base end − 1 − l */
            for (int64_t l = 0; l < n; l++) rev[l] = v[n - 1 - l];
            v = rev;
        }
        if (n > 0) st = dm_track_avg_add(avg, k[j].chrom, r->start, v, n);
    }
    if (avg) {
        dm_status s2 = st ? DM_STATUS_OK : dm_track_avg_finish(avg);
        if (st) dm_track_avg_free(avg);
        st = st ? st : s2;
    }
    if (t) {
        if (st) dm_track_abort(t);
        else st = dm_track_commit(t);
    }
    free(slot);
    free(names);
    free(lens);
    free(k);
    free(rev);
    return st;
}

dm_status dm_sal_coords_commit(dm_sal_coords *c) {
    c->bed_open = false;
    dm_status st = dm_outfile_commit(&c->bed);
    if (!st && c->vals) {
        st = write_track(c);
        if (st) remove(c->bed_path);   /* the pair goes together */
    }
    free(c->vals);
    free(c);
    return st;
}

void dm_sal_coords_remove(const char *prefix, bool track) {
    char p[4200];
    snprintf(p, sizeof p, "%s.regions.bed", prefix);
    remove(p);
    if (track) {
        snprintf(p, sizeof p, "%s.track.bw", prefix);
        remove(p);
    }
}
