/*
 * test_motifs.c: ground truth for the learned motifs. A CNN trained on simulated data with a planted
 * CTCF site per positive must (1) have a first-layer filter whose PPM matches CTCF as the best hit
 * among the simulator's built-in motifs, and (2) produce a class-optimised PPM whose best hit is CTCF.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compare.h"
#include "motifs.h"
#include "optimize.h"
#include "simulate.h"
#include "testutil.h"
#include "train.h"

/* The simulator's built-in motifs as a database. */
static dm_motif_set builtin_db(void) {
    dm_motif_set db = {.n = dm_sim_motif_count()};
    db.m = calloc((size_t)db.n, sizeof(dm_motif));
    cr_assert(db.m);
    for (int i = 0; i < db.n; i++) {
        snprintf(db.m[i].id, sizeof db.m[i].id, "%s", dm_sim_motif_name(i));
        db.m[i].w = dm_sim_motif_width(i);
        db.m[i].p = malloc(sizeof(float) * 4 * (size_t)db.m[i].w);
        memcpy(db.m[i].p, dm_sim_motif_ppm(i), sizeof(float) * 4 * (size_t)db.m[i].w);
        db.m[i].nsites = 1;
    }
    return db;
}

/* The target of the lowest p-value over all hits, or −1. */
static int best_target(const dm_hit *h, int n) {
    int best = -1;
    for (int i = 0; i < n; i++)
        if (best < 0 || h[i].pvalue < h[best].pvalue) best = i;
    return best < 0 ? -1 : h[best].target;
}

Test(motifs, filters_and_optimised_ppm_name_the_planted_motif, .timeout = 600) {
    cr_assert(strcmp(dm_sim_motif_name(0), "CTCF") == 0, "the default planted motif");
    dm_backend *be = dm_backend_cpu_create(2);
    dm_dataset va = {0};
    dm_net *m = dm_test_trained_sim_cnn(be, &va);

    dm_motif_set db = builtin_db(), filters = {0};
    dm_compare_options co;
    dm_compare_options_default(&co);
    co.thresh = 1.0;

    /* (1) the filters, aligned on the validation positives and negatives */
    dm_motifs_options mo;
    dm_motifs_options_default(&mo);
    cr_assert(dm_motifs_extract(m, &va, &mo, &filters) == DM_STATUS_OK, "%s", dm_last_error());
    cr_assert(filters.n > 0);
    dm_hit *hits = NULL;
    int nh = 0;
    cr_assert(dm_compare(&filters, &db, &co, &hits, &nh) == DM_STATUS_OK);
    int t = best_target(hits, nh);
    cr_expect(t >= 0 && strcmp(db.m[t].id, "CTCF") == 0, "best filter match: %s", t >= 0 ? db.m[t].id : "none");
    free(hits);

    /* (2) class optimisation: the best restart's PPM (8 restarts, the original recipe otherwise) */
    dm_net *mo8;
    float *params = malloc(sizeof(float) * dm_net_n_params(m));
    cr_assert(params && dm_net_get_params(m, params) == DM_STATUS_OK);
    cr_assert(dm_net_create(&mo8, dm_net_hparams(m), be, 8) == DM_STATUS_OK);
    cr_assert(dm_net_set_params(mo8, params) == DM_STATUS_OK);
    free(params);
    dm_net_free(m);
    dm_optimize_options oo;
    dm_optimize_options_default(&oo);
    oo.restarts = 8;
    float *x = malloc(sizeof(float) * 8 * 101 * 4), *ppm = malloc(sizeof(float) * 8 * 101 * 4);
    float *obj = malloc(sizeof(float) * 1001 * 8), p[8];
    cr_assert(dm_net_optimize(mo8, &oo, x, ppm, obj, p) == DM_STATUS_OK);
    int best = 0;
    for (int r = 1; r < 8; r++) if (obj[1000 * 8 + r] < obj[1000 * 8 + best]) best = r;
    dm_motif q = {.w = 101, .p = ppm + (size_t)best * 101 * 4, .nsites = 1};
    snprintf(q.id, sizeof q.id, "optimised");
    dm_motif_set qs = {.n = 1, .m = &q};
    cr_assert(dm_compare(&qs, &db, &co, &hits, &nh) == DM_STATUS_OK);
    t = best_target(hits, nh);
    cr_expect(t >= 0 && strcmp(db.m[t].id, "CTCF") == 0, "optimised PPM's best match: %s (P(bound) %.3f)",
              t >= 0 ? db.m[t].id : "none", p[best]);
    free(hits);
    free(x); free(ppm); free(obj);
    dm_motif_set_free(&filters);
    dm_motif_set_free(&db);
    dm_net_free(mo8);
    dm_backend_free(be);
    dm_dataset_free(&va);
}
