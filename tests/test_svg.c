/*
 * test_svg.c: the dashboard's SVG drawing (host/svg.c), read back from the text it writes.
 *  - logos: every letter's height is its value × the scale, letters stack by height (the tallest on
 *    top above the baseline, at the bottom below it), nothing is drawn for zero, the automatic scale
 *    fits the tallest stack;
 *  - information content: bits of known PPMs (a fixed base is 2 bits, uniform 0, two bases 1 bit,
 *    a skewed column by hand);
 *  - colour ramps: 39 levels, white→red and blue→white→red end points and breaks;
 *  - heatmaps and strips: the colour and place of a cell, the background not drawn;
 *  - charts: a NaN breaks a line, text is escaped; standalone files carry the namespace and glyphs.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svg.h"
#include "testutil.h"

/* One drawn letter: <use href="#dm-X" x y width height/>. */
typedef struct letter {
    char base;
    double x, y, w, h;
} letter;

/* Every letter of an SVG text, in order; returns the count. */
static int letters(const char *svg, letter *out, int max) {
    int n = 0;
    for (const char *p = strstr(svg, "<use href=\"#dm-"); p && n < max;
         p = strstr(p + 1, "<use href=\"#dm-")) {
        letter *l = &out[n];
        int k = sscanf(p, "<use href=\"#dm-%c\" x=\"%lf\" y=\"%lf\" width=\"%lf\" height=\"%lf\"", &l->base,
                       &l->x, &l->y, &l->w, &l->h);
        cr_assert_eq(k, 5, "unparsable letter: %.80s", p);
        n++;
    }
    return n;
}

static int count(const char *s, const char *what) {
    int n = 0;
    for (const char *p = strstr(s, what); p; p = strstr(p + 1, what)) n++;
    return n;
}

static const dm_svg_opts inline_opts = {.cls = "dm-logo"};

Test(svg, logo_letter_heights_equal_values_and_stack_by_height) {
    /* three columns (A, C, G, T values); column 2 has ties and a zero */
    const float h[12] = {0.5f, 2.0f, 1.25f, 0.25f, 1.0f, 0.0f, 0.0f, 0.0f, 0.75f, 0.75f, 0.0f, 1.5f};
    dm_svg_logo_opts lo = {.track = {.left = 20, .cw = 10, .right = 5}, .height = 40, .scale = 10};
    dm_buf b = {0};
    dm_svg_logo(&b, h, 3, &lo, &inline_opts);
    cr_assert_eq(dm_buf_status(&b), DM_STATUS_OK);
    letter L[16];
    int n = letters(b.p, L, 16);
    cr_assert_eq(n, 8, "one letter per non-zero value, got %d", n);
    double baseline = NAN;
    for (int col = 0; col < 3; col++) {
        /* the letters of this column, bottom to top as drawn (ascending value) */
        letter c[4];
        int m = 0;
        for (int i = 0; i < n; i++)
            if (L[i].x >= 20 + col * 10 && L[i].x < 20 + (col + 1) * 10) c[m++] = L[i];
        for (int i = 0; i < m; i++) {
            int b4 = (int)(strchr("ACGT", c[i].base) - "ACGT");
            cr_expect(fabs(c[i].h - 10.0 * h[4 * col + b4]) < 1.5e-3, "column %d %c: height %g for value %g",
                      col, c[i].base, c[i].h, h[4 * col + b4]);
            cr_expect(c[i].w > 0 && c[i].w <= 10, "letter inside its column");
        }
        /* stacked: each letter sits on the one below, the smallest on the baseline, taller higher */
        if (isnan(baseline)) baseline = c[0].y + c[0].h;
        cr_expect(fabs(c[0].y + c[0].h - baseline) < 2e-3, "column %d starts on the baseline", col);
        for (int i = 1; i < m; i++) {
            cr_expect(fabs(c[i].y + c[i].h - c[i - 1].y) < 2e-3, "column %d: letter %d sits on letter %d",
                      col, i, i - 1);
            cr_expect(c[i].h >= c[i - 1].h - 1e-9, "column %d: stacked by ascending height", col);
        }
    }
    /* column 0: A 0.5 < G 1.25 < C 2.0 bottom to top, T 0.25 lowest */
    letter *c0 = L;
    cr_expect(c0[0].base == 'T' && c0[1].base == 'A' && c0[2].base == 'G' && c0[3].base == 'C',
              "order T A G C, got %c %c %c %c", c0[0].base, c0[1].base, c0[2].base, c0[3].base);
    dm_buf_free(&b);
}

Test(svg, logo_negative_values_hang_below_the_baseline) {
    const float h[8] = {-1.0f, 2.0f, 0.0f, -0.5f, 0.0f, 0.0f, 0.0f, 0.0f};
    dm_svg_logo_opts lo = {.track = {.left = 0, .cw = 8}, .height = 30, .scale = 4};
    dm_buf b = {0};
    dm_svg_logo(&b, h, 2, &lo, &inline_opts);
    letter L[8];
    int n = letters(b.p, L, 8);
    cr_assert_eq(n, 3);
    /* drawn in ascending magnitude: T (−0.5) below, A (−1) under it, C (2) above */
    letter *t = NULL, *a = NULL, *c = NULL;
    for (int i = 0; i < n; i++) {
        if (L[i].base == 'T') t = &L[i];
        if (L[i].base == 'A') a = &L[i];
        if (L[i].base == 'C') c = &L[i];
    }
    cr_assert(t && a && c);
    double base = c->y + c->h;
    cr_expect(fabs(t->y - base) < 2e-3, "the smaller negative touches the baseline");
    cr_expect(fabs(a->y - (t->y + t->h)) < 2e-3, "the larger negative hangs under it");
    cr_expect(fabs(a->h - 4.0) < 2e-3 && fabs(t->h - 2.0) < 2e-3 && fabs(c->h - 8.0) < 2e-3);
    dm_buf_free(&b);
}

Test(svg, logo_auto_scale_fits_the_tallest_stack_and_skips_zeros) {
    float h[4 * 5] = {0};
    h[4 * 1 + 2] = 3.0f;                      /* the tallest column: G 3 */
    h[4 * 3 + 0] = 1.0f, h[4 * 3 + 3] = 1.0f; /* A 1 + T 1 */
    dm_svg_logo_opts lo = {.track = {.left = 10, .cw = 6}, .height = 60, .seq = "ACGTN", .ruler = true};
    dm_buf b = {0};
    dm_svg_logo(&b, h, 5, &lo, &inline_opts);
    letter L[8];
    int n = letters(b.p, L, 8);
    cr_assert_eq(n, 3);
    for (int i = 0; i < n; i++)
        cr_expect(fabs(L[i].h - (L[i].base == 'G' ? 60.0 : 20.0)) < 2e-3, "%c: %g", L[i].base, L[i].h);
    /* hover data: geometry, bases, values as integers of the unit (G = 999) */
    cr_expect(strstr(b.p, "data-x0=\"10\" data-cw=\"6\"") != NULL);
    cr_expect(strstr(b.p, "data-seq=\"ACGTN\"") != NULL);
    cr_expect(strstr(b.p, "data-v=\"0,0,0,0,0,0,999,0,0,0,0,0,333,0,0,333,0,0,0,0\"") != NULL, "%s", b.p);
    dm_buf_free(&b);
}

Test(svg, bits_of_known_ppms) {
    const float ppm[5 * 4] = {
        1,     0,     0,     0,     /* one base: 2 bits, all A */
        0.25f, 0.25f, 0.25f, 0.25f, /* uniform: 0 bits */
        0.5f,  0.5f,  0,     0,     /* two bases: 1 bit, 0.5 each */
        0.7f,  0.1f,  0.1f,  0.1f,  /* H = −0.7 log2 0.7 − 3 · 0.1 log2 0.1 = 1.356780 */
        2,     2,     0,     0,     /* unnormalised counts: as the 0.5/0.5 column */
    };
    float bits[20];
    dm_svg_ppm_bits(ppm, 5, bits);
    const double ic3 = 2.0 - (-0.7 * log2(0.7) - 0.3 * log2(0.1));
    const double want[20] = {2, 0, 0,         0,         0,         0,         0,   0,   0.5, 0.5,
                             0, 0, 0.7 * ic3, 0.1 * ic3, 0.1 * ic3, 0.1 * ic3, 0.5, 0.5, 0,   0};
    cr_expect(fabs(ic3 - 0.643220) < 1e-6, "hand value of the skewed column's IC: %f", ic3);
    for (int i = 0; i < 20; i++)
        cr_expect(fabs(bits[i] - want[i]) < 1e-6, "bits[%d] = %g, want %g", i, bits[i], want[i]);
}

Test(svg, colour_ramps) {
    char c[8];
    cr_expect(dm_svg_white_red(0, c) == 0 && !strcmp(c, "#FFFFFF"));
    cr_expect(dm_svg_white_red(1, c) == 38 && !strcmp(c, "#FF0000"));
    cr_expect(dm_svg_white_red(NAN, c) == 0 && dm_svg_white_red(-3, c) == 0 && dm_svg_white_red(7, c) == 38);
    cr_expect(dm_svg_white_red(0.5f, c) == 19, "39 equal bins");
    int prev = -1;
    for (int i = 0; i <= 1000; i++) {
        int k = dm_svg_white_red(i / 1000.0f, c);
        cr_expect(k >= prev && k <= 38);
        prev = k;
    }
    cr_expect(dm_svg_blue_white_red(0, c) == 0 && !strcmp(c, "#0000FF"));
    cr_expect(dm_svg_blue_white_red(1, c) == 38 && !strcmp(c, "#FF0000"));
    cr_expect(dm_svg_blue_white_red(0.5005f, c) == 19 && !strcmp(c, "#FFFFFF"), "the white bin (0.5, 0.501]");
    cr_expect(dm_svg_blue_white_red(0.5f, c) == 18, "0.5 is in the last blue bin (right-closed breaks)");
    cr_expect(dm_svg_blue_white_red(0.51f, c) == 20);
}

Test(svg, heatmap_cell_colour_and_place) {
    float v[4 * 3] = {0};
    v[4 * 2 + 1] = 2.0f; /* position 2, channel C: the maximum, pure red */
    v[4 * 0 + 3] = 1.0f; /* position 0, channel T: level 19 of 38 */
    dm_svg_track t = {.left = 30, .cw = 8, .right = 2};
    dm_buf b = {0};
    dm_svg_heatmap(&b, v, 3, 0, &t, 5, "ACG", &(dm_svg_opts){.cls = "dm-heatmap"});
    cr_assert_eq(dm_buf_status(&b), DM_STATUS_OK);
    /* C is row 1 (y = 1 + 5), position 2 starts at x = 30 + 2 · 8 */
    cr_expect(strstr(b.p, "<path fill=\"#FF0000\" d=\"M46 6h8v5h-8z\"/>") != NULL, "%s", b.p);
    char mid[8];
    dm_svg_white_red(0.5f, mid);
    char want[64];
    snprintf(want, sizeof want, "<path fill=\"%s\" d=\"M30 16h8v5h-8z\"/>", mid);
    cr_expect(strstr(b.p, want) != NULL, "T at position 0: %s", want);
    cr_expect(strstr(b.p, "#FFFFFF") == NULL, "white is the background, not drawn");
    cr_expect_eq(count(b.p, "<path fill="), 2);
    dm_buf_free(&b);
}

Test(svg, strips_merge_runs_and_leave_white_out) {
    const float f[4] = {1, 1, 0.5005f, 0}, bw[4] = {0, 0, 0, 0};
    dm_svg_track t = {.left = 10, .cw = 4};
    dm_buf b = {0};
    dm_svg_strips(&b, f, bw, 4, &t, 6, NULL, false, &(dm_svg_opts){.cls = "dm-temporal"});
    cr_expect(strstr(b.p, "<path fill=\"#FF0000\" d=\"M10 1h8v6h-8z\"/>") != NULL,
              "two red cells, one run: %s", b.p);
    cr_expect(strstr(b.p, "<path fill=\"#0000FF\" d=\"M22 1h4v6h-4zM10 7h16v6h-16z\"/>") != NULL, "%s", b.p);
    cr_expect(strstr(b.p, "#FFFFFF") == NULL);
    dm_buf_free(&b);
}

Test(svg, chart_breaks_lines_at_nan_and_escapes_text) {
    const double x[5] = {1, 2, 3, 4, 5}, y[5] = {0.1, 0.2, NAN, 0.4, 0.5};
    dm_svg_series s = {.label = "a<b & \"c\"", .color = "#123456", .x = x, .y = y, .n = 5, .mark = 4};
    dm_svg_chart_opts co = {
        .title = "T", .xlabel = "epoch", .ylabel = "loss", .width = 300, .height = 200, .kind = "loss"};
    dm_buf b = {0};
    dm_svg_chart(&b, &s, 1, &co, &(dm_svg_opts){.cls = "dm-curve"});
    const char *d = strstr(b.p, "class=\"dm-series\"");
    cr_assert(d);
    const char *end = strstr(d, "/>");
    int moves = 0;
    for (const char *p = strstr(d, " d=\"") + 4; p < end; p++) moves += *p == 'M';
    cr_expect_eq(moves, 2, "one move per unbroken piece");
    cr_expect(strstr(b.p, "a&lt;b &amp; &quot;c&quot;") != NULL, "escaped legend");
    cr_expect(strstr(b.p, "<circle") != NULL, "the marked point");
    cr_expect(strstr(b.p, "data-kind=\"loss\"") != NULL);
    dm_buf_free(&b);
}

Test(svg, standalone_files_carry_namespace_glyphs_and_background) {
    const float h[4] = {1, 0, 0, 0};
    dm_svg_logo_opts lo = {.track = {.left = 10, .cw = 10}, .height = 20};
    dm_buf in = {0}, sa = {0};
    dm_svg_logo(&in, h, 1, &lo, &inline_opts);
    dm_svg_logo(&sa, h, 1, &lo, &(dm_svg_opts){.cls = "dm-logo", .standalone = true});
    cr_expect(strstr(sa.p, "xmlns=\"http://www.w3.org/2000/svg\"") != NULL);
    cr_expect(strstr(sa.p, "<symbol id=\"dm-A\"") && strstr(sa.p, "<symbol id=\"dm-T\""),
              "glyphs inside the file");
    cr_expect(strstr(sa.p, "fill=\"#fff\"") != NULL, "white background");
    cr_expect(strstr(in.p, "http") == NULL && strstr(in.p, "<symbol") == NULL,
              "inline: no namespace, shared glyphs");
    dm_buf_free(&in);
    dm_buf_free(&sa);
}

Test(svg, buffer_grows_and_escapes) {
    dm_buf b = {0};
    char big[3000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    for (int i = 0; i < 50; i++) dm_buf_printf(&b, "%s%d", big, i);
    cr_expect_eq(b.n, 50 * 2999 + 10 + 2 * 40);
    cr_expect(strlen(b.p) == b.n);
    dm_buf_free(&b);
    dm_buf_escaped(&b, "<a href='x'>&</a>");
    cr_expect_str_eq(b.p, "&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt;");
    cr_expect_eq(dm_buf_status(&b), DM_STATUS_OK);
    dm_buf_free(&b);
}
