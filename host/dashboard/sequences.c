/*
 * sequences.c: the page's sequence and motif sections: per top sequence and model a saliency logo,
 * the gradient heatmap and (recurrent models) temporal strips on the same columns; class-optimised and
 * first-layer filter PPMs as logos in bits with their database matches.
 */
#include <stdio.h>
#include <stdlib.h>

#include "arch.h"
#include "dashboard_internal.h"

/* The top sequences: per model a saliency logo, the gradient heatmap and (recurrent) temporal strips. */
dm_status dash_section_sequences(dm_dash *d) {
    int L = d->L;
    P("<section id=\"sequences\"><h2>Top %d sequences</h2>\n<p class=\"dm-note\">By mean P(bound) over the "
      "models. "
      "Logo: letter height = saliency of the present base, |&part;(&minus;log P(y | X))/&part;X| with y the "
      "%s "
      "(SPEC &sect;6.1); heatmap: the same gradient's magnitude in all four channels, white to red from 0 to "
      "its maximum; strips (recurrent models): temporal output scores, P(bound) of positions 1..i (fwd) and "
      "i..L (bwd), blue 0, white 0.5, red 1. Hover a position for its base and value.</p>\n",
      d->K, d->labelled ? "true label" : "bound class (unlabelled data)");
    float *h = malloc(sizeof(float) * 4 * (size_t)L);
    if (!h) return dm_error(DM_STATUS_NOMEM, "dashboard: out of memory");
    dm_status st = DM_STATUS_OK;
    for (int k = 0; k < d->K && !st; k++) {
        /* one block per sequence: its id, label and mean score, then one track row per model */
        int64_t row = d->top[k];
        const char *seq = d->top_seq + (size_t)k * (L + 1);
        P("<div class=\"dm-seq\" id=\"seq-%d\"><h3>#%d &middot; <code>", k + 1, k + 1);
        ESC(d->ds.id[row]);
        PUT("</code>");
        if (d->top_label[k] == 0 || d->top_label[k] == 1) P(" &middot; label %d", d->top_label[k]);
        P(" &middot; mean P(bound) %.4f</h3>\n", d->mean[row]);
        for (int i = 0; i < d->nm && !st; i++) {
            const dm_dash_model *dm = &d->mod[i];
            const float *g = dm->grad + (size_t)k * L * 4, *x = d->x + (size_t)k * L * 4;
            char name[96];
            for (int j = 0; j < 4 * L; j++) h[j] = g[j] * x[j]; /* the present base's saliency */
            P("<div class=\"dm-track\"><div class=\"dm-tag\" style=\"color:%s\">%s<br>P %.4f",
              dash_model_colour[i], dm->tag, dm->score[row]);
            if (d->o->figures) {
                PUT("<br>");
                snprintf(name, sizeof name, "%s.seq%d.logo", dm->tag, k + 1);
                dash_svg_link(d, name, "logo");
                snprintf(name, sizeof name, "%s.seq%d.heatmap", dm->tag, k + 1);
                dash_svg_link(d, name, "heat");
                snprintf(name, sizeof name, "%s.seq%d.temporal", dm->tag, k + 1);
                if (dm->fwd) dash_svg_link(d, name, "temporal");
            }
            PUT("</div><div>");
            /* logo, heatmap and strips on the same columns (dash_seq_track) */
            dm_fig f = {
                .kind = DM_FIG_LOGO, .v = h, .L = L, .seq = seq, .so = {.cls = "dm-logo dm-saliency"}};
            f.lo = (dm_svg_logo_opts){
                .track = dash_seq_track, .height = 50, .ylabel = "saliency", .seq = seq, .ruler = true};
            snprintf(name, sizeof name, "%s.seq%d.logo", dm->tag, k + 1);
            st = dash_fig_emit(d, &f, name);
            f = (dm_fig){
                .kind = DM_FIG_HEAT, .v = g, .L = L, .rh = 9, .seq = seq, .so = {.cls = "dm-heatmap"}};
            snprintf(name, sizeof name, "%s.seq%d.heatmap", dm->tag, k + 1);
            if (!st) st = dash_fig_emit(d, &f, name);
            if (!st && dm->fwd) {
                f = (dm_fig){.kind = DM_FIG_STRIP,
                             .v = dm->fwd + (size_t)k * L,
                             .v2 = dm->bwd + (size_t)k * L,
                             .L = L,
                             .rh = 9,
                             .seq = seq,
                             .so = {.cls = "dm-temporal"}};
                snprintf(name, sizeof name, "%s.seq%d.temporal", dm->tag, k + 1);
                st = dash_fig_emit(d, &f, name);
            }
            PUT("</div></div>\n");
        }
        PUT("</div>\n");
    }
    free(h);
    PUT("</section>\n");
    return st;
}

/* The database matches of query q (hits sorted by query) as a small table. */
static void hits_table(dm_dash *d, const dm_hit *hits, int nh, int q) {
    if (!d->db.n) {
        PUT("<div class=\"dm-note\">no motif database (--db)</div>");
        return;
    }
    int first = 0;
    while (first < nh && hits[first].query != q) first++;
    if (first == nh) {
        PUT("<div class=\"dm-note\">no match with q &le; 0.5</div>");
        return;
    }
    PUT("<table class=\"dm-hits\"><tr><th>match</th><th>name</th><th>q</th><th>p</th><th>strand, "
        "offset</th></tr>");
    for (int i = first; i < nh && hits[i].query == q; i++) {
        const dm_motif *t = &d->db.m[hits[i].target];
        PUT("<tr><td>");
        ESC(t->id);
        PUT("</td><td><b>");
        ESC(t->name);
        P("</b></td><td class=\"num\">%.2g</td><td class=\"num\">%.2g</td><td>%c %d</td></tr>",
          hits[i].qvalue, hits[i].pvalue, hits[i].orient, hits[i].offset);
    }
    PUT("</table>");
}

/* The best p-value of query q among the hits, 2 without any. */
static double best_p(const dm_hit *hits, int nh, int q) {
    double p = 2;
    for (int i = 0; i < nh; i++)
        if (hits[i].query == q && hits[i].pvalue < p) p = hits[i].pvalue;
    return p;
}

/* Logos in bits of `shown` motifs of a set, each with its matches, in the order of `order`. */
static dm_status motif_grid(dm_dash *d, const dm_dash_model *dm, const dm_motif_set *set, const dm_hit *hits,
                            int nh, const int *order, int shown, bool optimised) {
    PUT("<div class=\"dm-motifs\">\n");
    dm_status st = DM_STATUS_OK;
    for (int j = 0; j < shown && !st; j++) {
        int q = order[j];
        const dm_motif *mo = &set->m[q];
        float *bits = malloc(sizeof(float) * 4 * (size_t)mo->w);
        if (!bits) return dm_error(DM_STATUS_NOMEM, "dashboard: out of memory");
        dm_svg_ppm_bits(mo->p, mo->w, bits);
        P("<div class=\"dm-motif %s\" id=\"motif-%s-%s\"><div class=\"dm-cap\"><b>%s</b> &middot; ",
          optimised ? "dm-opt" : "dm-filter", dm->tag, mo->id, mo->id);
        if (optimised)
            P("P(bound) %.4f &middot; objective %.4g", dm->opt_p[q], dm->opt_obj[q]);
        else
            P("%d sites", mo->nsites);
        char name[200];
        snprintf(name, sizeof name, "%s.%s", dm->tag, mo->id);
        dash_svg_link(d, name, "svg");
        PUT("</div>");
        /* a fixed 2-bit scale, so logos compare across motifs */
        dm_fig f = {.kind = DM_FIG_LOGO, .v = bits, .L = mo->w, .so = {.cls = "dm-logo dm-ppm"}};
        f.lo = (dm_svg_logo_opts){.track = {.left = 40, .cw = optimised ? 7 : 14, .right = 6},
                                  .height = 56,
                                  .scale = 28,
                                  .ylabel = "bits",
                                  .ruler = optimised};
        st = dash_fig_emit(d, &f, name);
        free(bits);
        hits_table(d, hits, nh, q);
        PUT("</div>\n");
    }
    PUT("</div>\n");
    return st;
}

/* Class-optimised PPMs (best objective first) and filters (most significant match first). */
dm_status dash_section_motifs(dm_dash *d) {
    P("<section id=\"optimized\"><h2>Class optimisation</h2>\n<p class=\"dm-note\">The input each model "
      "scores as most bound: %d seeded restarts of %d RMSprop steps on &minus;log P(bound) + "
      "&lambda;&Vert;X&Vert;&sup2; (SPEC &sect;6.3), post-processed to PPMs, best objective first; logos in "
      "bits (A green, C blue, G orange, T red)",
      d->o->restarts, d->o->steps);
    PUT(d->db.n ? "; matches: TOMTOM-like comparison with the database, q &le; 0.5.</p>\n" : ".</p>\n");
    int most = 1;
    for (int i = 0; i < d->nm; i++) {
        most = d->mod[i].opt.n > most ? d->mod[i].opt.n : most;
        most = d->mod[i].filt.n > most ? d->mod[i].filt.n : most;
    }
    int *order = malloc(sizeof(int) * (size_t)most);
    if (!order) return dm_error(DM_STATUS_NOMEM, "dashboard: out of memory");
    dm_status st = DM_STATUS_OK;
    for (int i = 0; i < d->nm && !st; i++) {
        const dm_dash_model *dm = &d->mod[i];
        P("<h3 style=\"color:%s\">%s</h3>\n", dash_model_colour[i], dm->tag);
        for (int j = 0; j < dm->opt.n; j++) order[j] = j;
        st = motif_grid(d, dm, &dm->opt, dm->opt_hits, dm->n_opt_hits, order, dm->opt.n, true);
    }
    PUT("</section>\n<section id=\"filters\"><h2>First-layer filters</h2>\n<p class=\"dm-note\">Each "
        "convolution filter of the first layer as the base composition of the windows activating it above "
        "half its maximum on the data above (filters with at least 10 such sites), most significant database "
        "match first.</p>\n");
    for (int i = 0; i < d->nm && !st; i++) {
        const dm_dash_model *dm = &d->mod[i];
        if (!dm_arch_has(&dm->hp, DM_LAYER_CONV)) continue;
        P("<h3 style=\"color:%s\">%s</h3>\n", dash_model_colour[i], dm->tag);
        if (!dm->filt.n) {
            PUT("<p class=\"dm-note\">No filter has 10 sites.</p>\n");
            continue;
        }
        /* insertion sort by best p-value, then by sites (few filters) */
        for (int j = 0; j < dm->filt.n; j++) {
            int q = j, k = j;
            double pq = best_p(dm->filt_hits, dm->n_filt_hits, q);
            for (; k > 0; k--) {
                int o = order[k - 1];
                double po = best_p(dm->filt_hits, dm->n_filt_hits, o);
                if (po < pq || (po == pq && dm->filt.m[o].nsites >= dm->filt.m[q].nsites)) break;
                order[k] = o;
            }
            order[k] = q;
        }
        int shown = d->o->max_filters > 0 && d->o->max_filters < dm->filt.n ? d->o->max_filters : dm->filt.n;
        st = motif_grid(d, dm, &dm->filt, dm->filt_hits, dm->n_filt_hits, order, shown, false);
        if (shown < dm->filt.n)
            P("<p class=\"dm-note\">%d of %d filters shown; all are in <a "
              "href=\"%s.filters.meme\">%s.filters.meme</a>.</p>\n",
              shown, dm->filt.n, dm->tag, dm->tag);
    }
    PUT("</section>\n");
    free(order);
    return st;
}

