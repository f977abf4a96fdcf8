/*
 * svg.c: SVG figures for the dashboard (see svg.h): sequence logos, heatmaps, temporal strips and
 * line charts, written as text into a growable buffer.
 *
 * Coordinates are CSS pixels (the SVG user unit, viewBox = width × height). Letter boxes carry three
 * decimals, so a letter's height equals value × scale to 0.001 px; everything else is rounded to 0.1
 * px or less. Colour ramps follow the original R heatmaps (SPEC.md §6.4): colorRampPalette over 39
 * colours, white→red for saliency, blue→white→red with 20 + 20 breaks for temporal scores.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dm_internal.h"
#include "svg.h"

/* ---- growable text buffer ---------------------------------------------------------------------- */

/* Room for `extra` more bytes and the NUL; false (and oom set) when the allocation fails. */
static bool buf_reserve(dm_buf *b, size_t extra) {
    if (b->oom) return false;
    if (b->n + extra + 1 <= b->cap) return true;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->n + extra + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = true;
        return false;
    }
    b->p = p;
    b->cap = cap;
    return true;
}

void dm_buf_printf(dm_buf *b, const char *fmt, ...) {
    /* print in place when the guess of 256 bytes suffices, else reserve the exact size and redo */
    if (!buf_reserve(b, 256)) return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
    va_end(ap);
    if (k < 0) {
        b->oom = true;
        return;
    }
    if ((size_t)k >= b->cap - b->n) {
        if (!buf_reserve(b, (size_t)k)) return;
        va_start(ap, fmt);
        vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
        va_end(ap);
    }
    b->n += (size_t)k;
}

void dm_buf_put(dm_buf *b, const char *s) {
    size_t k = strlen(s);
    if (!buf_reserve(b, k)) return;
    memcpy(b->p + b->n, s, k + 1);
    b->n += k;
}

void dm_buf_escaped(dm_buf *b, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '&':
            dm_buf_put(b, "&amp;");
            break;
        case '<':
            dm_buf_put(b, "&lt;");
            break;
        case '>':
            dm_buf_put(b, "&gt;");
            break;
        case '"':
            dm_buf_put(b, "&quot;");
            break;
        case '\'':
            dm_buf_put(b, "&#39;");
            break;
        default: {
            char c[2] = {*s, 0};
            dm_buf_put(b, c);
        }
        }
    }
}

dm_status dm_buf_status(const dm_buf *b) {
    return b->oom ? dm_error(DM_STATUS_NOMEM, "dashboard: out of memory while writing the page")
                  : DM_STATUS_OK;
}

void dm_buf_free(dm_buf *b) {
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* ---- colours ----------------------------------------------------------------------------------- */

const char *const dm_svg_base_color[4] = {"#00CC00", "#0000CC", "#FFB300", "#CC0000"};

static void rgb(char out[8], double r, double g, double b) {
    snprintf(out, 8, "#%02X%02X%02X", (int)lround(r), (int)lround(g), (int)lround(b));
}

/* Level k of 0..38 of the white→red ramp: colorRampPalette(c("white", "red"))(39). */
static void white_red_colour(int k, char out[8]) {
    rgb(out, 255, 255.0 * (38 - k) / 38.0, 255.0 * (38 - k) / 38.0);
}

/* Level k of 0..38 of the blue→white→red ramp: blue to white over 0..19, white to red over 19..38. */
static void blue_white_red_colour(int k, char out[8]) {
    if (k < 19)
        rgb(out, 255.0 * k / 19.0, 255.0 * k / 19.0, 255);
    else if (k == 19)
        rgb(out, 255, 255, 255);
    else
        rgb(out, 255, 255.0 * (38 - k) / 19.0, 255.0 * (38 - k) / 19.0);
}

int dm_svg_white_red(float t, char out[8]) {
    /* 39 equal bins over [0, 1] (breaks spread linearly, as the original's heatmap) */
    if (!(t > 0)) t = 0;
    int k = t >= 1 ? 38 : (int)fminf(38.0f, floorf(t * 39.0f));
    white_red_colour(k, out);
    return k;
}

int dm_svg_blue_white_red(float p, char out[8]) {
    /* breaks seq(0, 0.5, length 20) and seq(0.501, 1, length 20): 19 bins below 0.5, the white bin
     * (0.5, 0.501], 19 bins above */
    int k;
    if (!(p > 0)) p = 0;
    if (p > 1) p = 1;
    if (p <= 0.5f)
        k = (int)fminf(18.0f, floorf(p / (0.5f / 19.0f)));
    else if (p <= 0.501f)
        k = 19;
    else
        k = 20 + (int)fminf(18.0f, floorf((p - 0.501f) / (0.499f / 19.0f)));
    blue_white_red_colour(k, out);
    return k;
}

/* ---- letters and bits -------------------------------------------------------------------------- */

void dm_svg_glyph_defs(dm_buf *b) {
    /* outlines in a 100 × 100 box, stretched (preserveAspectRatio none) to each letter's box:
     * A a triangle with a cut-out, C a ring open to the right, G the ring with a bar, T two bars */
    static const char *const d[4] = {
        "M0 100L38 0H62L100 100H77L68 75H32L23 100ZM39 57H61L50 26Z",
        "M88.3 17.9A50 50 0 1 0 88.3 82.1L73 69.3A30 30 0 1 1 73 30.7Z",
        "M88.3 17.9A50 50 0 1 0 100 50L55 50V64H76.5A30 30 0 1 1 73 30.7Z",
        "M0 0H100V17H59V100H41V17H0Z",
    };
    dm_buf_put(b, "<defs>");
    for (int c = 0; c < 4; c++)
        dm_buf_printf(b,
                      "<symbol id=\"dm-%c\" viewBox=\"0 0 100 100\" preserveAspectRatio=\"none\">"
                      "<path fill=\"%s\" fill-rule=\"evenodd\" d=\"%s\"/></symbol>",
                      "ACGT"[c], dm_svg_base_color[c], d[c]);
    dm_buf_put(b, "</defs>");
}

void dm_svg_ppm_bits(const float *ppm, int w, float *heights) {
    for (int j = 0; j < w; j++) {
        const float *p = ppm + 4 * j;
        double s = 0, hbits = 0;
        for (int c = 0; c < 4; c++) s += p[c] > 0 ? p[c] : 0;
        /* IC = 2 − H(column), H in bits with 0 · log 0 = 0 */
        for (int c = 0; c < 4 && s > 0; c++) {
            double q = p[c] > 0 ? p[c] / s : 0;
            if (q > 0) hbits -= q * log2(q);
        }
        double ic = s > 0 ? 2.0 - hbits : 0;
        for (int c = 0; c < 4; c++) heights[4 * j + c] = s > 0 && p[c] > 0 ? (float)(p[c] / s * ic) : 0.0f;
    }
}

/* ---- shared pieces ----------------------------------------------------------------------------- */

/* Opens an <svg> of w × h px with the class, data-kind and (standalone) namespace and background. */
static void svg_open(dm_buf *b, float w, float h, const char *kind, const dm_svg_opts *o) {
    dm_buf_printf(b,
                  "<svg%s class=\"%s\" data-kind=\"%s\" width=\"%.0f\" height=\"%.0f\" "
                  "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"10\"",
                  o->standalone ? " xmlns=\"http://www.w3.org/2000/svg\"" : "", o->cls ? o->cls : "dm-fig",
                  kind, ceilf(w), ceilf(h), ceilf(w), ceilf(h));
}

/* Ends the opening tag; writes the title and, standalone, a white background. */
static void svg_head_end(dm_buf *b, const dm_svg_opts *o) {
    dm_buf_put(b, ">");
    if (o->title) {
        dm_buf_put(b, "<title>");
        dm_buf_escaped(b, o->title);
        dm_buf_put(b, "</title>");
    }
    if (o->standalone) dm_buf_put(b, "<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>");
}

/* The hover attributes of a position track: geometry, the bases, and the values as integers of
 * ±999 times data-unit (three significant digits of the largest value, a few bytes per value). */
static void track_data(dm_buf *b, const dm_svg_track *t, const char *seq, const float *v, size_t nv) {
    double m = 0;
    for (size_t i = 0; i < nv; i++) m = isfinite(v[i]) ? fmax(m, fabs(v[i])) : m;
    double unit = m > 0 ? m / 999 : 1;
    dm_buf_printf(b, " data-x0=\"%g\" data-cw=\"%g\" data-unit=\"%.6g\"", t->left, t->cw, unit);
    if (seq) {
        dm_buf_put(b, " data-seq=\"");
        dm_buf_escaped(b, seq);
        dm_buf_put(b, "\"");
    }
    dm_buf_put(b, " data-v=\"");
    for (size_t i = 0; i < nv; i++)
        dm_buf_printf(b, i ? ",%ld" : "%ld", isfinite(v[i]) ? lround(v[i] / unit) : 0L);
    dm_buf_put(b, "\"");
}

/* Position numbers 1, 10, 20, … under columns, at baseline y. */
static void ruler(dm_buf *b, const dm_svg_track *t, int L, float y) {
    for (int l = 0; l < L; l++) {
        if (l != 0 && (l + 1) % 10 != 0) continue;
        dm_buf_printf(
            b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"8\" fill=\"#555\">%d</text>",
            t->left + (l + 0.5f) * t->cw, y, l + 1);
    }
}

/* ---- logo -------------------------------------------------------------------------------------- */

/* Letters lower than this (px) are not drawn: invisible, and a 101-column PPM logo has hundreds. */
#define DM_SVG_MIN_LETTER 0.05

/* v with three decimals, trailing zeros (and a trailing point) dropped: "12.5", "3.125", "0". */
static const char *num3(char buf[32], double v) {
    snprintf(buf, 32, "%.3f", v);
    char *e = buf + strlen(buf) - 1;
    while (e > buf && *e == '0') *e-- = 0;
    if (*e == '.') *e = 0;
    if (!strcmp(buf, "-0")) strcpy(buf, "0");
    return buf;
}

/* Indices of the four bases ordered by ascending key (ties keep A, C, G, T order). */
static void order4(const float *key, int idx[4]) {
    for (int c = 0; c < 4; c++) idx[c] = c;
    for (int i = 1; i < 4; i++)
        for (int j = i; j > 0 && key[idx[j]] < key[idx[j - 1]]; j--) {
            int s = idx[j];
            idx[j] = idx[j - 1];
            idx[j - 1] = s;
        }
}

void dm_svg_logo(dm_buf *b, const float *h, int L, const dm_svg_logo_opts *lo, const dm_svg_opts *o) {
    /* the tallest stack above and below the baseline sets the scale and the baseline */
    double maxpos = 0, maxneg = 0;
    for (int l = 0; l < L; l++) {
        double p = 0, n = 0;
        for (int c = 0; c < 4; c++) {
            float v = isfinite(h[4 * l + c]) ? h[4 * l + c] : 0;
            if (v > 0)
                p += v;
            else
                n -= v;
        }
        maxpos = fmax(maxpos, p);
        maxneg = fmax(maxneg, n);
    }
    double scale = lo->scale > 0 ? lo->scale : (maxpos + maxneg > 0 ? lo->height / (maxpos + maxneg) : 1);
    float area = lo->scale > 0 ? fmaxf(lo->height, (float)((maxpos + maxneg) * scale)) : lo->height;
    float top = 6, base = top + (maxneg > 0 ? (float)(maxpos * scale) : area);
    float w = lo->track.left + L * lo->track.cw + lo->track.right, hgt = top + area + (lo->ruler ? 14 : 4);

    svg_open(b, w, hgt, "logo", o);
    track_data(b, &lo->track, lo->seq, h, 4 * (size_t)L);
    svg_head_end(b, o);
    if (o->standalone) dm_svg_glyph_defs(b);
    /* axis: a vertical line, the value at the top of the area and 0 at the baseline */
    float ax = lo->track.left - 3;
    dm_buf_printf(b, "<path d=\"M%.1f %.1fV%.1f\" stroke=\"#888\" fill=\"none\"/>", ax, top, top + area);
    dm_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" font-size=\"8\">%.3g</text>", ax - 2,
                  top + 7, (base - top) / scale);
    dm_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" font-size=\"8\">0</text>", ax - 2,
                  base);
    if (lo->ylabel) {
        dm_buf_printf(
            b, "<text transform=\"translate(9 %.1f) rotate(-90)\" text-anchor=\"middle\" font-size=\"9\">",
            top + area / 2);
        dm_buf_escaped(b, lo->ylabel);
        dm_buf_put(b, "</text>");
    }
    dm_buf_printf(b, "<path d=\"M%.1f %.1fH%.1f\" stroke=\"#ccc\" fill=\"none\"/>", lo->track.left, base,
                  lo->track.left + L * lo->track.cw);
    /* letters: positives from the baseline up, smallest first (the tallest ends on top); negatives
     * from the baseline down, smallest first (the tallest ends at the bottom) */
    float pad = 0.06f * lo->track.cw, lw = lo->track.cw - 2 * pad;
    for (int l = 0; l < L; l++) {
        const float *v = h + 4 * l;
        float mag[4];
        int idx[4];
        for (int c = 0; c < 4; c++) mag[c] = isfinite(v[c]) ? fabsf(v[c]) : 0;
        order4(mag, idx);
        double up = 0, down = 0;
        float x = lo->track.left + l * lo->track.cw + pad;
        for (int k = 0; k < 4; k++) {
            int c = idx[k];
            double hh = mag[c] * scale, y;
            if (hh < DM_SVG_MIN_LETTER) continue;
            if (v[c] > 0) {
                y = base - up - hh;
                up += hh;
            } else {
                y = base + down;
                down += hh;
            }
            char nx[32], ny[32], nw[32], nh[32];
            dm_buf_printf(b, "<use href=\"#dm-%c\" x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\"/>", "ACGT"[c],
                          num3(nx, x), num3(ny, y), num3(nw, lw), num3(nh, hh));
        }
    }
    if (lo->ruler) ruler(b, &lo->track, L, top + area + 11);
    dm_buf_put(b, "</svg>");
}

/* ---- heatmap and strips ------------------------------------------------------------------------ */

/* Row labels at the left of a track. */
static void row_label(dm_buf *b, const dm_svg_track *t, float y, const char *text) {
    dm_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" font-size=\"9\">%s</text>", t->left - 4,
                  y, text);
}

/* One <path> per colour level present in lev (rows × L, row-major), a rectangle subpath per run of
 * equal level along a row; level `skip` (the background) is not drawn. Few elements for the browser,
 * however many positions. */
static void level_paths(dm_buf *b, const unsigned char *lev, int rows, int L, const dm_svg_track *t, float rh,
                        int skip, void (*colour)(int, char[8])) {
    bool seen[39] = {false};
    for (int i = 0; i < rows * L; i++) seen[lev[i]] = true;
    for (int k = 0; k < 39; k++) {
        if (!seen[k] || k == skip) continue;
        char col[8];
        colour(k, col);
        dm_buf_printf(b, "<path fill=\"%s\" d=\"", col);
        for (int r = 0; r < rows; r++)
            for (int l = 0; l < L;) {
                int e = l;
                while (e < L && lev[r * L + e] == k) e++;
                if (e > l)
                    dm_buf_printf(b, "M%.6g %.6gh%.6gv%.6gh%.6gz", t->left + l * t->cw, 1 + r * rh,
                                  (e - l) * t->cw, rh, -(e - l) * t->cw);
                l = e > l ? e : l + 1;
            }
        dm_buf_put(b, "\"/>");
    }
}

void dm_svg_heatmap(dm_buf *b, const float *v, int L, float vmax, const dm_svg_track *t, float rh,
                    const char *seq, const dm_svg_opts *o) {
    if (!(vmax > 0))
        for (int i = 0; i < 4 * L; i++) vmax = isfinite(v[i]) && v[i] > vmax ? v[i] : vmax;
    unsigned char *lev = malloc(4 * (size_t)L);
    if (!lev) {
        b->oom = true;
        return;
    }
    /* levels row by row: channel c of position l is lev[c·L + l] */
    char col[8];
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < L; l++)
            lev[c * L + l] = (unsigned char)dm_svg_white_red(vmax > 0 ? v[4 * l + c] / vmax : 0, col);
    svg_open(b, t->left + L * t->cw + t->right, 4 * rh + 2, "heat", o);
    track_data(b, t, seq, v, 4 * (size_t)L);
    dm_buf_printf(b, " data-y0=\"1\" data-rh=\"%.2f\"", rh);
    svg_head_end(b, o);
    for (int c = 0; c < 4; c++) row_label(b, t, 1 + (c + 0.5f) * rh + 3, (const char[]){"ACGT"[c], 0});
    level_paths(b, lev, 4, L, t, rh, 0, white_red_colour);
    dm_buf_printf(b,
                  "<rect x=\"%.2f\" y=\"1\" width=\"%.2f\" height=\"%.2f\" fill=\"none\" stroke=\"#bbb\"/>",
                  t->left, L * t->cw, 4 * rh);
    dm_buf_put(b, "</svg>");
    free(lev);
}

void dm_svg_strips(dm_buf *b, const float *fwd, const float *bwd, int L, const dm_svg_track *t, float rh,
                   const char *seq, bool with_ruler, const dm_svg_opts *o) {
    float *both = malloc(sizeof(float) * 2 * (size_t)L);
    unsigned char *lev = malloc(2 * (size_t)L);
    if (!both || !lev) {
        free(both);
        free(lev);
        b->oom = true;
        return;
    }
    /* row 0 forward, row 1 backward: the hover values and the colour levels */
    char col[8];
    memcpy(both, fwd, sizeof(float) * (size_t)L);
    memcpy(both + L, bwd, sizeof(float) * (size_t)L);
    for (int i = 0; i < 2 * L; i++) lev[i] = (unsigned char)dm_svg_blue_white_red(both[i], col);
    svg_open(b, t->left + L * t->cw + t->right, 2 * rh + 2 + (with_ruler ? 12 : 0), "strip", o);
    track_data(b, t, seq, both, 2 * (size_t)L);
    dm_buf_printf(b, " data-y0=\"1\" data-rh=\"%.2f\"", rh);
    svg_head_end(b, o);
    row_label(b, t, 1 + 0.5f * rh + 3, "fwd");
    row_label(b, t, 1 + 1.5f * rh + 3, "bwd");
    level_paths(b, lev, 2, L, t, rh, 19, blue_white_red_colour);
    dm_buf_printf(b,
                  "<rect x=\"%.2f\" y=\"1\" width=\"%.2f\" height=\"%.2f\" fill=\"none\" stroke=\"#bbb\"/>",
                  t->left, L * t->cw, 2 * rh);
    if (with_ruler) ruler(b, t, L, 2 * rh + 12);
    dm_buf_put(b, "</svg>");
    free(both);
    free(lev);
}

/* ---- chart ------------------------------------------------------------------------------------- */

/* A 1, 2 or 5 × 10^k step giving about five intervals over `range`. */
static double nice_step(double range) {
    double raw = range / 5, mag = pow(10, floor(log10(raw))), r = raw / mag;
    return (r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10) * mag;
}

/* The data range of one axis over every finite point; lo == hi when there is none. */
static void data_range(const dm_svg_series *s, int n, bool y, double *lo, double *hi) {
    *lo = INFINITY;
    *hi = -INFINITY;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < s[i].n; j++) {
            double v = y ? s[i].y[j] : s[i].x[j];
            if (!isfinite(v) || !isfinite(y ? s[i].x[j] : s[i].y[j])) continue;
            *lo = fmin(*lo, v);
            *hi = fmax(*hi, v);
        }
    if (!isfinite(*lo)) *lo = *hi = 0;
}

/* Widens [lo, hi] to whole steps (a degenerate range to ±0.5 around it); returns the step. */
static double nice_range(double *lo, double *hi) {
    if (*hi - *lo < 1e-12) {
        *lo -= 0.5;
        *hi += 0.5;
    }
    double step = nice_step(*hi - *lo);
    *lo = floor(*lo / step + 1e-9) * step;
    *hi = ceil(*hi / step - 1e-9) * step;
    return step;
}

void dm_svg_chart(dm_buf *b, const dm_svg_series *s, int n, const dm_svg_chart_opts *co,
                  const dm_svg_opts *o) {
    double xlo = co->xmin, xhi = co->xmax, ylo = co->ymin, yhi = co->ymax, xs, ys;
    if (xlo == xhi) data_range(s, n, false, &xlo, &xhi);
    if (ylo == yhi) data_range(s, n, true, &ylo, &yhi);
    xs = nice_range(&xlo, &xhi);
    ys = nice_range(&ylo, &yhi);
    /* plot area inside margins for the title, tick labels and axis labels */
    float pl = 46, pr = 10, pt = 22, pb = 34, pw = co->width - pl - pr, ph = co->height - pt - pb;
#define PX(v) (pl + (float)(((v)-xlo) / (xhi - xlo)) * pw)
#define PY(v) (pt + ph - (float)(((v)-ylo) / (yhi - ylo)) * ph)
    svg_open(b, co->width, co->height, co->kind ? co->kind : "chart", o);
    svg_head_end(b, o);
    if (co->title) {
        dm_buf_printf(
            b, "<text x=\"%.1f\" y=\"14\" text-anchor=\"middle\" font-size=\"11\" font-weight=\"bold\">",
            pl + pw / 2);
        dm_buf_escaped(b, co->title);
        dm_buf_put(b, "</text>");
    }
    /* grid and tick labels */
    for (double v = xlo; v <= xhi + xs * 1e-6; v += xs) {
        double vv = fabs(v) < xs * 1e-9 ? 0 : v;
        dm_buf_printf(b,
                      "<path d=\"M%.1f %.1fV%.1f\" stroke=\"#eee\"/><text x=\"%.1f\" y=\"%.1f\" "
                      "text-anchor=\"middle\" font-size=\"9\">%g</text>",
                      PX(vv), pt, pt + ph, PX(vv), pt + ph + 11, vv);
    }
    for (double v = ylo; v <= yhi + ys * 1e-6; v += ys) {
        double vv = fabs(v) < ys * 1e-9 ? 0 : v;
        dm_buf_printf(b,
                      "<path d=\"M%.1f %.1fH%.1f\" stroke=\"#eee\"/><text x=\"%.1f\" y=\"%.1f\" "
                      "text-anchor=\"end\" font-size=\"9\">%g</text>",
                      pl, PY(vv), pl + pw, pl - 3, PY(vv) + 3, vv);
    }
    dm_buf_printf(
        b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#888\"/>", pl,
        pt, pw, ph);
    if (co->xlabel) {
        dm_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", pl + pw / 2, co->height - 6);
        dm_buf_escaped(b, co->xlabel);
        dm_buf_put(b, "</text>");
    }
    if (co->ylabel) {
        dm_buf_printf(b, "<text transform=\"translate(11 %.1f) rotate(-90)\" text-anchor=\"middle\">",
                      pt + ph / 2);
        dm_buf_escaped(b, co->ylabel);
        dm_buf_put(b, "</text>");
    }
    if (co->diagonal)
        dm_buf_printf(b, "<path d=\"M%.1f %.1fL%.1f %.1f\" stroke=\"#aaa\" stroke-dasharray=\"3 3\"/>",
                      PX(fmax(xlo, ylo)), PY(fmax(xlo, ylo)), PX(fmin(xhi, yhi)), PY(fmin(xhi, yhi)));
    /* one path per series, broken at non-finite points; a lone point becomes a dot */
    for (int i = 0; i < n; i++) {
        dm_buf_printf(b, "<path class=\"dm-series\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.6\"%s d=\"",
                      s[i].color, s[i].dashed ? " stroke-dasharray=\"5 3\"" : "");
        bool pen = false;
        for (int j = 0; j < s[i].n; j++) {
            if (!isfinite(s[i].x[j]) || !isfinite(s[i].y[j])) {
                pen = false;
                continue;
            }
            dm_buf_printf(b, "%c%.1f %.1f", pen ? 'L' : 'M', PX(s[i].x[j]), PY(s[i].y[j]));
            pen = true;
        }
        dm_buf_put(b, "\"/>");
        for (int j = 0; j < s[i].n; j++) {
            bool ok = isfinite(s[i].x[j]) && isfinite(s[i].y[j]);
            bool lone =
                ok && (j == 0 || !isfinite(s[i].y[j - 1])) && (j + 1 == s[i].n || !isfinite(s[i].y[j + 1]));
            if (ok && (lone || j == s[i].mark))
                dm_buf_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"%s\"/>", PX(s[i].x[j]),
                              PY(s[i].y[j]), j == s[i].mark ? 3.0 : 1.8, s[i].color);
        }
    }
    /* legend in the upper or lower right corner of the plot, one line per series */
    for (int i = 0; i < n; i++) {
        float y = co->legend_top ? pt + 14 + i * 12 : pt + ph - 6 - (n - 1 - i) * 12, x = pl + pw - 6;
        dm_buf_printf(
            b,
            "<path d=\"M%.1f %.1fh14\" stroke=\"%s\" stroke-width=\"2\"%s/><text x=\"%.1f\" y=\"%.1f\" "
            "text-anchor=\"end\" font-size=\"9\">",
            x - 14, y - 3, s[i].color, s[i].dashed ? " stroke-dasharray=\"4 2\"" : "", x - 17, y);
        dm_buf_escaped(b, s[i].label ? s[i].label : "");
        dm_buf_put(b, "</text>");
    }
#undef PX
#undef PY
    dm_buf_put(b, "</svg>");
}
