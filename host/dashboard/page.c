/*
 * page.c: the HTML report of one data set (dashboard_internal.h has the split): head, summary table,
 * model cards, performance charts, links to the raw outputs, and the figures (inline SVG from svg.c;
 * with --figures each figure also as its own file). The sequence and motif sections are in
 * sequences.c; the style sheet and script are dashboard.css and dashboard.js, embedded at build time.
 *
 * The page is plain HTML5 + CSS + some seventy lines of JavaScript (hover read-out through one
 * document listener reading the figures' data-* attributes, table sorting, a render-time note).
 * Long sequence lists stay fast: each sequence block has `content-visibility: auto`, so the browser
 * lays out and paints only the blocks on screen, and heatmaps and strips are a few paths each
 * (svg.c), so the page's element count grows by about 110 letters per logo and a handful of paths
 * per track.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "dashboard_internal.h"

/* Line colours of the models in the shared charts, by model index. */
const char *const dash_model_colour[DM_DASH_MAX_MODELS] = {"#1F77B4", "#9467BD", "#D62728", "#17BECF",
                                                           "#8C564B", "#E377C2", "#7F7F7F", "#BCBD22"};

/* The horizontal layout shared by a sequence's logo, heatmap and strips (8 px per base). */
const dm_svg_track dash_seq_track = {.left = 56, .cw = 8, .right = 8};

/* ---- figures ------------------------------------------------------------------------------------ */

/* Renders f into b: inline (the page's shared glyphs) or standalone (a file of its own). */
static void fig_draw(dm_buf *b, const dm_fig *f, bool standalone) {
    dm_svg_opts so = f->so;
    so.standalone = standalone;
    switch (f->kind) {
    case DM_FIG_LOGO:
        dm_svg_logo(b, f->v, f->L, &f->lo, &so);
        break;
    case DM_FIG_HEAT:
        dm_svg_heatmap(b, f->v, f->L, f->vmax, &dash_seq_track, f->rh, f->seq, &so);
        break;
    case DM_FIG_STRIP:
        dm_svg_strips(b, f->v, f->v2, f->L, &dash_seq_track, f->rh, f->seq, false, &so);
        break;
    case DM_FIG_CHART:
        dm_svg_chart(b, f->s, f->ns, &f->co, &so);
        break;
    }
}

/* Draws f into the page; with --figures also into DIR/figures/NAME.svg. */
dm_status dash_fig_emit(dm_dash *d, const dm_fig *f, const char *name) {
    fig_draw(&d->page, f, false);
    if (!d->o->figures) return DM_STATUS_OK;
    dm_buf sb = {0};
    dm_buf_put(&sb, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fig_draw(&sb, f, true);
    dm_buf_put(&sb, "\n");
    char rel[300];
    snprintf(rel, sizeof rel, "figures/%s.svg", name);
    dm_status st = dm_buf_status(&sb);
    if (!st) st = dash_write_text(&d->out, d->dir, rel, sb.p, sb.n);
    dm_buf_free(&sb);
    return st;
}

/* With --figures, a small link to figures/NAME.svg. */
void dash_svg_link(dm_dash *d, const char *name, const char *label) {
    if (d->o->figures)
        dm_buf_printf(&d->page, " <a class=\"dm-svglink\" href=\"figures/%s.svg\">%s</a>", name, label);
}

/* ---- the page ----------------------------------------------------------------------------------- */

/* "1,234,567" */
static const char *commas(char buf[32], long long v) {
    char raw[32];
    snprintf(raw, sizeof raw, "%lld", v < 0 ? -v : v);
    int n = (int)strlen(raw), o = 0;
    if (v < 0) buf[o++] = '-';
    for (int i = 0; i < n; i++) {
        if (i > 0 && (n - i) % 3 == 0) buf[o++] = ',';
        buf[o++] = raw[i];
    }
    buf[o] = 0;
    return buf;
}

/* A metric cell: 4 decimals, or "–" when undefined. */
static void metric_cell(dm_dash *d, double v) {
    if (isfinite(v))
        P("<td class=\"num\" data-sort=\"%.6f\">%.4f</td>", v, v);
    else
        PUT("<td class=\"num\" data-sort=\"\">&ndash;</td>");
}

/* Doctype, style sheet, the shared letter glyphs, the title block (data file, checksum, counts, how
 * the page was made) and the section links. */
static void html_head(dm_dash *d) {
    PUT("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>");
    ESC(d->name);
    PUT(" &middot; deepmotif dashboard</title>\n<style>\n");
    PUT(dm_dash_css);
    PUT("</style>\n</head>\n<body>\n<svg width=\"0\" height=\"0\" style=\"position:absolute\" "
        "aria-hidden=\"true\">");
    dm_svg_glyph_defs(&d->page);
    PUT("</svg>\n<h1>");
    ESC(d->name);
    PUT("</h1>\n<p class=\"dm-meta\">Data <code>");
    ESC(d->data_path);
    char c1[32], c2[32], c3[32];
    P("</code> &middot; SHA-256 <code>%s</code> &middot; %s bytes &middot; %s sequences of length %d",
      d->data_sha, commas(c1, (long long)d->data_bytes), commas(c2, (long long)d->ds.n), d->L);
    if (d->labelled)
        P(" (%s bound, %s unbound)", commas(c1, (long long)d->n_pos), commas(c3, (long long)d->n_neg));
    else
        PUT(" (unlabelled)");
    if (d->ds.n_padded || d->ds.n_truncated || d->ds.n_ambiguous)
        P(" &middot; %lld padded, %lld truncated, %lld with N", (long long)d->ds.n_padded,
          (long long)d->ds.n_truncated, (long long)d->ds.n_ambiguous);
    char now[32];
    dm_utc_now(now);
    P("<br>Written %s by deepmotif %s", now, dm_version());
    if (d->o->cmdline) {
        PUT(": <code>");
        ESC(d->o->cmdline);
        PUT("</code>");
    }
    PUT("</p>\n<nav><a href=\"#summary\">Summary</a><a href=\"#models\">Models</a><a "
        "href=\"#performance\">Performance</a>"
        "<a href=\"#sequences\">Top sequences</a><a href=\"#optimized\">Class optimisation</a>"
        "<a href=\"#filters\">Filters</a><a href=\"#files\">Raw outputs</a></nav>\n");
}

/* The comparison table: one row per model. */
static void section_summary(dm_dash *d) {
    PUT("<section id=\"summary\"><h2>Summary</h2>\n<table "
        "class=\"dm-sortable\"><thead><tr><th>model</th><th>architecture</th>"
        "<th>AUROC</th><th>AUPRC</th><th>accuracy</th><th>trained parameters</th><th>epoch (of run)</th>"
        "<th>training time</th>");
    if (d->db.n) PUT("<th>motif named</th>");
    PUT("</tr></thead><tbody>\n");
    for (int i = 0; i < d->nm; i++) {
        const dm_dash_model *dm = &d->mod[i];
        char c[32];
        P("<tr><td data-sort=\"%s\"><a href=\"#card-%s\" style=\"color:%s\">%s</a></td><td "
          "data-sort=\"%s\">%s</td>",
          dm->tag, dm->tag, dash_model_colour[i], dm->tag, dm_arch_name(dm->hp.arch), dm_arch_name(dm->hp.arch));
        metric_cell(d, dm->auroc);
        metric_cell(d, dm->auprc);
        metric_cell(d, dm->acc);
        P("<td class=\"num\" data-sort=\"%lld\">%s</td><td class=\"num\" data-sort=\"%d\">%d (%d)</td>"
          "<td class=\"num\" data-sort=\"%.3f\">%.1f s</td>",
          (long long)dm->n_trainable, commas(c, (long long)dm->n_trainable), dm->prov->best_epoch,
          dm->prov->best_epoch, dm->prov->epochs_run, dm->prov->train_seconds, dm->prov->train_seconds);
        /* the name the model's motifs earn (a vote over their top matches), linked to its best PPM */
        dm_named nm = {.target = -1};
        if (d->db.n && dash_named_motif(d, dm, &nm)) nm.target = -1;
        if (nm.target >= 0) {
            const dm_motif *t = &d->db.m[nm.target], *q = &nm.set->m[nm.query];
            P("<td data-sort=\"%d\"><b>", nm.votes[0] + nm.votes[1]);
            ESC(t->name[0] ? t->name : t->id);
            PUT("</b> ");
            ESC(t->id);
            P(": top match of %d of %d optimised and %d of %d filter PPMs; best <a "
              "href=\"#motif-%s-%s\">%s</a> "
              "q %.2g</td>",
              nm.votes[0], nm.queries[0], nm.votes[1], nm.queries[1], dm->tag, q->id, q->id, nm.q);
        } else if (d->db.n) {
            P("<td data-sort=\"0\">no top match with q &le; %g</td>", DM_DASH_NAMED_Q);
        }
        PUT("</tr>\n");
    }
    PUT("</tbody></table>\n<p class=\"dm-note\">Metrics of each model on the data above (AUROC with ties "
        "counting &frac12;, AUPRC as average precision). Click a column header to sort.</p></section>\n");
}

/* One line describing an architecture's layers. */
static void arch_text(dm_dash *d, const dm_hparams *hp) {
    char text[512];
    dm_arch_describe(hp, text, sizeof text);
    P("%s", text);
    P("; dropout %.2g; input length %d", hp->dropout, hp->len);
}

/* The model cards: provenance of every model. */
static void section_cards(dm_dash *d) {
    PUT("<section id=\"models\"><h2>Models</h2>\n<div class=\"dm-cards\">\n");
    for (int i = 0; i < d->nm; i++) {
        const dm_dash_model *dm = &d->mod[i];
        const dm_provenance *pv = dm->prov;
        char c[32];
        P("<div class=\"dm-card\" id=\"card-%s\"><h3 "
          "style=\"color:%s\">%s</h3><dl>\n<dt>architecture</dt><dd>",
          dm->tag, dash_model_colour[i], dm->tag);
        arch_text(d, &dm->hp);
        /* the file itself and its checksum */
        P("</dd>\n<dt>trained parameters</dt><dd>%s</dd>\n<dt>model file</dt><dd><code>",
          commas(c, (long long)dm->n_trainable));
        ESC(dm->path);
        P("</code><br>SHA-256 <code>%s</code> (%s bytes, %s weights)</dd>\n", dm->sha256,
          commas(c, (long long)dm->bytes), pv->label);
        /* the data it was trained (and tested) on, as recorded at training */
        for (int k = 0; k < pv->n_inputs; k++) {
            PUT("<dt>");
            ESC(pv->inputs[k].role);
            PUT(" data</dt><dd><code>");
            ESC(pv->inputs[k].path);
            P("</code><br>SHA-256 <code>%s</code> (%s bytes)</dd>\n", pv->inputs[k].sha256,
              commas(c, (long long)pv->inputs[k].bytes));
        }
        /* how: seed, protocol, epochs and sizes; then where, with which engine, when */
        P("<dt>seed</dt><dd>%llu</dd>\n<dt>protocol</dt><dd>", (unsigned long long)pv->seed);
        ESC(pv->protocol);
        P(" (batch %d, lr %g halved every 10 epochs, validation fraction %g)</dd>\n", pv->batch, pv->lr0,
          pv->valid_frac);
        if (pv->ema > 0)
            P("<dt>epochs</dt><dd>the weights' moving average (decay %g) at epoch %d; %d run of at most %d</dd>\n",
              pv->ema, pv->best_epoch, pv->epochs_run, pv->epochs_max);
        else
            P("<dt>epochs</dt><dd>weights of epoch %d; %d run of at most %d</dd>\n", pv->best_epoch,
              pv->epochs_run, pv->epochs_max);
        if (pv->restarts > 0)
            P("<dt>restarts</dt><dd>%d: the run with seed %llu was a dead start (it learned nothing) and was "
              "trained again from new weights</dd>\n", pv->restarts, (unsigned long long)pv->seed);
        if (pv->fresh_negatives)
            PUT("<dt>negatives</dt><dd>fresh: from the second epoch on, each training negative a new "
                "dinucleotide shuffle of its positive every epoch</dd>\n");
        P("<dt>sequences</dt><dd>%s training", commas(c, (long long)pv->n_train));
        P(", %s validation</dd>\n", commas(c, (long long)pv->n_valid));
        P("<dt>training time</dt><dd>%.1f s</dd>\n<dt>device</dt><dd>", pv->train_seconds);
        ESC(pv->device);
        PUT("</dd>\n<dt>engine</dt><dd>deepmotif ");
        ESC(pv->version);
        PUT("</dd>\n<dt>written</dt><dd>");
        ESC(pv->created_utc);
        PUT("</dd>\n");
        /* the test metrics recorded at training, when a test file was given then */
        if (pv->n_test > 0) {   /* an undefined metric (a one-class test file) shows as NA */
            char ta[32] = "NA", tp[32] = "NA";
            if (isfinite(pv->test_auroc)) snprintf(ta, sizeof ta, "%.4f", pv->test_auroc);
            if (isfinite(pv->test_auprc)) snprintf(tp, sizeof tp, "%.4f", pv->test_auprc);
            P("<dt>test at training</dt><dd>AUROC %s, AUPRC %s (n %s)</dd>\n", ta, tp,
              commas(c, (long long)pv->n_test));
        }
        PUT("</dl></div>\n");
    }
    PUT("</div></section>\n");
}

/* One chart of the performance row, with its link. */
static dm_status chart(dm_dash *d, const dm_fig *f, const char *name) {
    PUT("<div>");
    DM_TRY(dash_fig_emit(d, f, name));
    dash_svg_link(d, name, "svg");
    PUT("</div>\n");
    return DM_STATUS_OK;
}

/* Training curves from the checkpoints' epoch logs and test ROC / PR curves, all models per chart. */
static dm_status section_performance(dm_dash *d) {
    int nm = d->nm;
    dm_svg_series loss[2 * DM_DASH_MAX_MODELS], vauc[DM_DASH_MAX_MODELS], roc[DM_DASH_MAX_MODELS],
        pr[DM_DASH_MAX_MODELS];
    char lab[4][DM_DASH_MAX_MODELS][64];
    double *logv[DM_DASH_MAX_MODELS] = {NULL};
    dm_curves cv[DM_DASH_MAX_MODELS];
    memset(cv, 0, sizeof cv);
    dm_status st = DM_STATUS_OK;
    for (int i = 0; i < nm && !st; i++) {
        const dm_dash_model *dm = &d->mod[i];
        const dm_provenance *pv = dm->prov;
        int ne = pv->n_epochs, best = -1;
        /* epoch, training loss, validation loss, validation AUROC: four columns of one block */
        if (!(logv[i] = malloc(sizeof(double) * 4 * (size_t)(ne ? ne : 1)))) {
            st = dm_error(DM_STATUS_NOMEM, "dashboard: out of memory");
            break;
        }
        double *e = logv[i], *tl = e + ne, *vl = e + 2 * ne, *va = e + 3 * ne;
        for (int k = 0; k < ne; k++) {
            e[k] = pv->log[k].epoch;
            tl[k] = pv->log[k].train_loss;
            vl[k] = pv->log[k].valid_loss;
            va[k] = pv->log[k].valid_auroc;
            if (pv->log[k].epoch == pv->best_epoch) best = k;
        }
        snprintf(lab[0][i], 64, "%s training", dm->tag);
        snprintf(lab[1][i], 64, "%s validation", dm->tag);
        loss[2 * i] = (dm_svg_series){lab[0][i], dash_model_colour[i], e, tl, ne, false, -1};
        loss[2 * i + 1] = (dm_svg_series){lab[1][i], dash_model_colour[i], e, vl, ne, true, best};
        vauc[i] = (dm_svg_series){dm->tag, dash_model_colour[i], e, va, ne, false, best};
        if (d->labelled) st = dash_curves(dm->score, d->ds.label, d->ds.n, &cv[i]);
        if (isfinite(dm->auroc)) snprintf(lab[2][i], 64, "%s AUROC %.4f", dm->tag, dm->auroc);
        else snprintf(lab[2][i], 64, "%s AUROC NA", dm->tag);
        if (isfinite(dm->auprc)) snprintf(lab[3][i], 64, "%s AUPRC %.4f", dm->tag, dm->auprc);
        else snprintf(lab[3][i], 64, "%s AUPRC NA", dm->tag);
        roc[i] = (dm_svg_series){lab[2][i], dash_model_colour[i], cv[i].fpr, cv[i].tpr, cv[i].n, false, -1};
        pr[i] = (dm_svg_series){lab[3][i], dash_model_colour[i], cv[i].rec, cv[i].prec, cv[i].n, false, -1};
    }
    PUT("<section id=\"performance\"><h2>Performance</h2>\n<div class=\"dm-row\">\n");
    /* four charts side by side; each also as a standalone figure */
    dm_fig f = {.kind = DM_FIG_CHART, .so = {.cls = "dm-curve"}};
    f.co = (dm_svg_chart_opts){.title = "Loss per epoch",
                               .xlabel = "epoch",
                               .ylabel = "mean NLL",
                               .width = 296,
                               .height = 250,
                               .kind = "loss",
                               .legend_top = true};
    f.s = loss;
    f.ns = 2 * nm;
    if (!st) st = chart(d, &f, "loss");
    f.co = (dm_svg_chart_opts){.title = "Validation AUROC per epoch",
                               .xlabel = "epoch",
                               .ylabel = "AUROC",
                               .width = 296,
                               .height = 250,
                               .kind = "valid-auroc"};
    f.s = vauc;
    f.ns = nm;
    if (!st) st = chart(d, &f, "valid_auroc");
    if (d->labelled) {
        f.co = (dm_svg_chart_opts){.title = "ROC (test)",
                                   .xlabel = "false positive rate",
                                   .ylabel = "true positive rate",
                                   .xmin = 0,
                                   .xmax = 1,
                                   .ymin = 0,
                                   .ymax = 1,
                                   .diagonal = true,
                                   .width = 296,
                                   .height = 250,
                                   .kind = "roc"};
        f.s = roc;
        if (!st) st = chart(d, &f, "roc");
        f.co = (dm_svg_chart_opts){.title = "Precision-recall (test)",
                                   .xlabel = "recall",
                                   .ylabel = "precision",
                                   .xmin = 0,
                                   .xmax = 1,
                                   .ymin = 0,
                                   .ymax = 1,
                                   .width = 296,
                                   .height = 250,
                                   .kind = "pr"};
        f.s = pr;
        if (!st) st = chart(d, &f, "pr");
    }
    PUT("</div>\n<p class=\"dm-note\">Dashed: validation loss; dots: the epoch whose weights each checkpoint "
        "holds. ");
    PUT(d->labelled ? "ROC and precision-recall curves of every model on the data above.</p>"
                    : "The data is unlabelled: no ROC or precision-recall curves.</p>");
    PUT("</section>\n");
    for (int i = 0; i < nm; i++) {
        free(logv[i]);
        dash_curves_free(&cv[i]);
    }
    return st;
}

/* A link to a raw output written beside the page. */
static void file_link(dm_dash *d, const char *name, const char *what) {
    P("<li><a href=\"%s\">%s</a> &middot; ", name, name);
    PUT(what);
    PUT("</li>\n");
}

/* Links to every raw output beside the page, with what each holds. */
static void section_files(dm_dash *d) {
    PUT("<section id=\"files\"><h2>Raw outputs</h2>\n<ul>\n");
    file_link(d, "summary.tsv",
              "one row per model: data set, TF, AUROC, AUPRC, accuracy, model and provenance");
    file_link(d, "top.tsv", "the top sequences: rank, row, id, label, mean and per-model P(bound)");
    file_link(d, "top.onehot.npy", "their one-hot inputs, float32 (K, 4, L)");
    for (int i = 0; i < d->nm; i++) {
        const dm_dash_model *dm = &d->mod[i];
        char name[128];
        snprintf(name, sizeof name, "%s.predictions.tsv", dm->tag);
        file_link(d, name, "id, label, P(bound) of every sequence");
        snprintf(name, sizeof name, "%s.saliency.npy", dm->tag);
        file_link(d, name, "|&part;(&minus;log P(y | X))/&part;X| of the top sequences, float32 (K, 4, L)");
        if (dm->fwd) {
            snprintf(name, sizeof name, "%s.temporal.npy", dm->tag);
            file_link(d, name, "forward and backward temporal output scores, float32 (K, L, 2)");
        }
        const dm_motif_set *sets[2] = {&dm->opt, &dm->filt};
        for (int s = 0; s < 2; s++) {
            if (!sets[s]->n) continue;
            const char *kind = s ? "filters" : "optimized";
            snprintf(name, sizeof name, "%s.%s.meme", dm->tag, kind);
            file_link(d, name,
                      s ? "first-layer filter PPMs (MEME)"
                        : "class-optimised PPMs, best objective first (MEME)");
            if (!d->db.n) continue;
            snprintf(name, sizeof name, "%s.%s.hits.tsv", dm->tag, kind);
            file_link(d, name, "their database matches (TOMTOM-like TSV)");
        }
    }
    if (d->o->figures)
        PUT("<li>figures/ &middot; every figure as a standalone SVG (linked under each figure)</li>\n");
    PUT("</ul></section>\n");
}

/* Footer (with the render-time note the script fills in), the hover box and the script. */
static void html_tail(dm_dash *d) {
    PUT("<footer>A self-contained page: inline SVG drawn by deepmotif, no external resources. "
        "<span id=\"dm-render\"></span></footer>\n<div id=\"dm-tip\" hidden></div>\n<script>\n");
    PUT(dm_dash_js);
    PUT("</script>\n</body>\n</html>\n");
}


/* The page, figures written as it is built, then DIR/index.html (the last file of a report). */
dm_status dash_write_page(dm_dash *d) {
    html_head(d);
    section_summary(d);
    section_cards(d);
    DM_TRY(section_performance(d));
    DM_TRY(dash_section_sequences(d));
    DM_TRY(dash_section_motifs(d));
    section_files(d);
    html_tail(d);
    DM_TRY(dm_buf_status(&d->page));
    return dash_write_text(&d->out, d->dir, "index.html", d->page.p, d->page.n);
}
