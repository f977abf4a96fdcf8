/*
 * shuffle.c: the exact Altschul–Erickson dinucleotide shuffle behind the training negatives
 * (FORMATS.md §13).
 *
 * The input s_1..s_n is an Eulerian path through the multigraph whose vertices are the distinct
 * bytes and whose edges are the n − 1 adjacent pairs. Every Eulerian path from s_1 to s_n is one
 * sequence with the same dinucleotide counts, first and last letter. A path is fixed by (a) a "last
 * exit" edge for each letter other than s_n, forming a tree rooted at s_n, and (b) the order in
 * which every letter uses its other out-edges. Choosing (a) with probability proportional to
 * Π_a count(a → last(a)) and (b) uniformly makes every output sequence equally likely.
 *
 * Two implementation choices, both exactly equivalent in distribution to the textbook steps:
 *  - Step 2 (last exits): §13 draws every exit uniformly among a letter's edges and redraws all of
 *    them until they form a tree. That rejection loop can need millions of tries on blocky inputs
 *    (AAAA…CCCC…GGGG…: each letter's exit must leave its block, probability ≈ 1/run length each).
 *    Wilson's loop-erased random walk (Propp & Wilson 1998, "cycle popping") samples the same
 *    distribution, Π_a P(a → last(a)) restricted to trees, in time linear in the walk length.
 *  - Step 3 (orders): instead of Fisher–Yates shuffling each edge list and reading it in order, the
 *    walk draws the next successor uniformly from the letter's unused edges (a multiset kept as
 *    counts), which is the same as reading a uniformly shuffled list one entry at a time. This
 *    needs only a k × k count matrix (k = distinct letters), so nothing is allocated for DNA.
 *
 * Randomness: the `negatives` stream of `seed`, index `row`, drawn in a fixed order, so the output
 * is a pure function of (in, seed, row).
 */
#include <stdbool.h>
#include <string.h>

#include "dm_internal.h"
#include "dm_rng.h"

/* Alphabets up to this size use a count matrix on the stack (DNA with N has 5 letters). */
#define DM_SHUF_STACK_K 16

/* Draws a successor of letter a with probability count(a → b) / total, from row a of `cnt`. */
static uint32_t dm_shuf_draw(dm_rng *r, const uint32_t *row, uint32_t total) {
    uint32_t t = total > 1 ? dm_rng_below(r, total) : 0;
    uint32_t b = 0;
    while (t >= row[b]) t -= row[b++];
    return b;
}

void dm_dinuc_shuffle(uint8_t *out, const uint8_t *in, size_t n, uint64_t seed, uint64_t row) {
    if (!out || !in || n == 0) return;   /* nothing to shuffle (NULL arrays: nothing written) */
    /* Too short to change, or too long for 32-bit edge counts: returned unchanged (a valid member
     * of the shuffle class). */
    if (n <= 2 || n > UINT32_MAX) {
        memcpy(out, in, n);
        return;
    }

    /* Compact the distinct bytes into letters 0..k-1, in order of first appearance. */
    int16_t letter_of[256];
    uint8_t byte_of[256];
    memset(letter_of, -1, sizeof letter_of);
    uint32_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (letter_of[in[i]] < 0) {
            letter_of[in[i]] = (int16_t)k;
            byte_of[k++] = in[i];
        }
    }
    if (k == 1) {
        memcpy(out, in, n);
        return;
    }

    /* cnt[a*k + b] = number of unused edges a → b; deg[a] = out-degree of a. */
    uint32_t stack_cnt[DM_SHUF_STACK_K * DM_SHUF_STACK_K];
    uint32_t *cnt = stack_cnt;
    if (k > DM_SHUF_STACK_K) {
        cnt = malloc((size_t)k * k * sizeof *cnt);
        if (!cnt) {
            /* No memory for a > 16-letter alphabet: fall back to the input itself, which is in
             * the class; the void API has no way to report the failure. */
            memcpy(out, in, n);
            return;
        }
    }
    memset(cnt, 0, (size_t)k * k * sizeof *cnt);
    uint32_t deg[256] = {0};
    for (size_t i = 0; i + 1 < n; i++) {
        uint32_t a = (uint32_t)letter_of[in[i]], b = (uint32_t)letter_of[in[i + 1]];
        cnt[a * k + b]++;
        deg[a]++;
    }
    const uint32_t first = (uint32_t)letter_of[in[0]], root = (uint32_t)letter_of[in[n - 1]];

    dm_rng r;
    dm_rng_init(&r, seed, DM_STREAM_NEGATIVES, row);

    /* Step 2, Wilson's algorithm: from each letter not yet in the tree, walk along random edges
     * (overwriting last[] on every visit, which erases loops) until the tree is hit, then add the
     * loop-erased path. Every letter other than root has deg > 0 and reaches root. */
    uint32_t last[256];
    bool in_tree[256] = {false};
    in_tree[root] = true;
    for (uint32_t a = 0; a < k; a++) {
        uint32_t u = a;
        while (!in_tree[u]) {
            last[u] = dm_shuf_draw(&r, cnt + (size_t)u * k, deg[u]);
            u = last[u];
        }
        for (u = a; !in_tree[u]; u = last[u]) in_tree[u] = true;
    }

    /* Step 3: reserve each last exit; the rest of a letter's edges are used in random order. */
    for (uint32_t a = 0; a < k; a++) {
        if (a == root) continue;
        cnt[(size_t)a * k + last[a]]--;
        deg[a]--;
    }

    /* Step 4: walk from s_1, taking a random unused edge while any is left, else the last exit. */
    uint32_t cur = first;
    out[0] = byte_of[cur];
    for (size_t p = 1; p < n; p++) {
        uint32_t next;
        if (deg[cur] > 0) {
            next = dm_shuf_draw(&r, cnt + (size_t)cur * k, deg[cur]);
            cnt[(size_t)cur * k + next]--;
            deg[cur]--;
        } else {
            next = last[cur];
        }
        out[p] = byte_of[next];
        cur = next;
    }

    if (cnt != stack_cnt) free(cnt);
}
