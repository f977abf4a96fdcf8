/*
 * svg.h: the dashboard's figures as SVG text, drawn by deepmotif itself (no plotting library, no
 * fonts beyond the viewer's sans-serif, no external references), so every figure can go inline into
 * the HTML report and, unchanged, into a standalone .svg file for a paper.
 *
 * Figures (each one complete <svg> element):
 *   logo     stacked letters per position; a letter's height is its value × the scale, positive
 *            values stacked upwards from the baseline with the tallest on top, negative ones
 *            downwards with the tallest at the bottom (SPEC.md §6.4 colours: A #00CC00, C #0000CC,
 *            G #FFB300, T #CC0000). Letters are the glyphs of dm_svg_glyph_defs(), stretched to
 *            their box (<use href="#dm-X" x y width height>), so a letter's drawn height is exactly
 *            its value × scale.
 *   heatmap  the four channels (rows A, C, G, T) × L positions, white→red in 39 steps over
 *            [0, vmax] (SPEC.md §6.4); one path per colour with a rectangle per run of that colour,
 *            white not drawn.
 *   strips   temporal output scores, one row per direction, blue (0) – white (0.5) – red (1) in 39
 *            steps (20 breaks over 0–0.5, 20 over 0.501–1); the white bin is not drawn.
 *   chart    line chart: series over shared axes with "nice" ticks, a legend, an optional diagonal.
 * Position tracks (logo, heatmap, strips) share one horizontal layout (dm_svg_track), so the columns
 * of one sequence line up across its figures. Tracks carry their values in data-* attributes for the
 * report's hover read-out (one listener per page, no element per value): data-x0 and data-cw (the
 * columns), data-y0 and data-rh (rows of heatmaps and strips), data-seq (the bases), data-v (the
 * values as integers, value = integer × data-unit, data-unit = the largest |value| / 999; logos and
 * heatmaps (L, 4) position-major, strips the forward row then the backward row).
 *
 * Text goes through dm_buf, a growable string: an allocation failure is remembered and reported
 * once by dm_buf_status(), so figure code needs no error path per append.
 */
#ifndef DM_SVG_H
#define DM_SVG_H

#include <stdbool.h>
#include <stddef.h>

#include "deepmotif.h"

/* ---- growable text buffer ---------------------------------------------------------------------- */

typedef struct dm_buf {
    char *p;  /* NUL-terminated text (NULL while empty) */
    size_t n; /* bytes used, without the NUL */
    size_t cap;
    bool oom; /* an append failed: the text is incomplete */
} dm_buf;

void dm_buf_printf(dm_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void dm_buf_put(dm_buf *b, const char *s);
/* Appends s with &, <, >, " and ' escaped (HTML/XML text and attribute values). */
void dm_buf_escaped(dm_buf *b, const char *s);
/* _NOMEM (recorded) when an append failed, else _OK. */
dm_status dm_buf_status(const dm_buf *b);
void dm_buf_free(dm_buf *b);

/* ---- colours ----------------------------------------------------------------------------------- */

/* "#00CC00", "#0000CC", "#FFB300", "#CC0000" for A, C, G, T. */
extern const char *const dm_svg_base_color[4];

/* White→red ramp of 39 colours: t in [0, 1] (clamped, NaN as 0) → level min(38, ⌊39 t⌋), level 0
 * white, 38 pure red. Writes "#RRGGBB" into out and returns the level. */
int dm_svg_white_red(float t, char out[8]);

/* Blue–white–red ramp of 39 colours for a probability p in [0, 1] (clamped, NaN as 0): levels
 * 0..18 blue→white over [0, 0.5], 19 white over (0.5, 0.501], 20..38 white→red over (0.501, 1].
 * Returns the level. */
int dm_svg_blue_white_red(float p, char out[8]);

/* ---- letters and bits -------------------------------------------------------------------------- */

/* <defs> with the four letter glyphs as <symbol id="dm-A" … "dm-T"> (viewBox 0 0 100 100, stretched
 * to any box, filled with the base colours). Once per HTML page, or inside every standalone figure. */
void dm_svg_glyph_defs(dm_buf *b);

/* Information content of a (w, 4) PPM: heights[4j + c] = p[j][c] · (2 − H_j) bits, H_j the Shannon
 * entropy (log2, 0 · log 0 = 0) of column j against a uniform background (SPEC.md §6.4). Columns are
 * renormalised to sum 1 first; an all-zero column gets height 0. */
void dm_svg_ppm_bits(const float *ppm, int w, float *heights);

/* ---- figures ----------------------------------------------------------------------------------- */

/* Horizontal layout of a position track: column l spans [left + l·cw, left + (l+1)·cw). */
typedef struct dm_svg_track {
    float left;  /* px before column 0 (axis labels) */
    float cw;    /* column width, px */
    float right; /* px after the last column */
} dm_svg_track;

typedef struct dm_svg_opts {
    bool standalone;   /* a file of its own: XML namespace, glyph defs, white background */
    const char *cls;   /* class attribute of the <svg> (the report counts figures by class) */
    const char *title; /* accessible <title>, may be NULL */
} dm_svg_opts;

typedef struct dm_svg_logo_opts {
    dm_svg_track track;
    float height;       /* px of the letter area when scale ≤ 0 */
    float scale;        /* px per unit of value; ≤ 0: fit the tallest stack into `height` */
    const char *ylabel; /* axis label, e.g. "bits"; may be NULL */
    const char *seq;    /* the sequence's bases (hover), or NULL */
    bool ruler;         /* position numbers below (every 10, 1-based) */
} dm_svg_logo_opts;

/* A logo of L columns; h (L, 4) holds the value of each base at each position (a letter lower than
 * 0.05 px, 0 included, is not drawn).
 * Each letter is one <use href="#dm-X" x y width height/> (three decimals). */
void dm_svg_logo(dm_buf *b, const float *h, int L, const dm_svg_logo_opts *lo, const dm_svg_opts *o);

/* A heatmap of v (L, 4) over [0, vmax] (vmax ≤ 0: the largest value; values below 0 are white), rows
 * A, C, G, T of rh px each. seq (hover) may be NULL. */
void dm_svg_heatmap(dm_buf *b, const float *v, int L, float vmax, const dm_svg_track *t, float rh,
                    const char *seq, const dm_svg_opts *o);

/* Temporal strips: fwd (L) and bwd (L) probabilities, one row of rh px each, labelled "fwd"/"bwd". */
void dm_svg_strips(dm_buf *b, const float *fwd, const float *bwd, int L, const dm_svg_track *t, float rh,
                   const char *seq, bool ruler, const dm_svg_opts *o);

/* One line of a chart: n points (x[i], y[i]); a NaN y breaks the line. */
typedef struct dm_svg_series {
    const char *label;
    const char *color; /* "#rrggbb" */
    const double *x, *y;
    int n;
    bool dashed;
    int mark; /* index of a point drawn as a dot (e.g. the selected epoch), −1 for none */
} dm_svg_series;

typedef struct dm_svg_chart_opts {
    const char *title, *xlabel, *ylabel;
    double xmin, xmax, ymin, ymax; /* axis ranges; xmin == xmax: from the data (same for y) */
    bool diagonal;                 /* the y = x reference line (ROC) */
    float width, height;           /* px of the whole figure */
    const char *kind;              /* data-kind attribute ("loss", "roc", …) */
    bool legend_top;               /* legend in the upper right corner of the plot (default: lower right) */
} dm_svg_chart_opts;

void dm_svg_chart(dm_buf *b, const dm_svg_series *s, int n, const dm_svg_chart_opts *co,
                  const dm_svg_opts *o);

#endif /* DM_SVG_H */
