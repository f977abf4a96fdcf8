/*
 * dm_pack.h: the packed form of base codes kept in backend memory for training (host/devdata.c) and
 * expanded to one-hot rows by the `gather` op of every backend.
 *
 * One row of L bases takes dm_pack_row_bytes(L) bytes: first ⌈L/4⌉ bytes of 2-bit codes (position l
 * in bits 2(l % 4)..2(l % 4)+1 of byte l / 4; A 0, C 1, G 2, T 3), then ⌈L/8⌉ bytes of an exception
 * bit per position (bit l % 8 of byte l / 8). An exception's 2-bit code says which: 0 is N (or an
 * IUPAC code), 1 is padding. For L = 101 a row is 39 bytes instead of 101.
 */
#ifndef DM_PACK_H
#define DM_PACK_H

#include <stdint.h>

#include "deepmotif.h"
#include "dm_rng.h"    /* DM_HD */

static inline DM_HD int dm_pack_row_bytes(int L) { return (L + 3) / 4 + (L + 7) / 8; }

/* The DM_BASE_* code of position l of a packed row. */
static inline DM_HD uint8_t dm_pack_get(const uint8_t *row, int L, int l) {
    uint8_t two = (uint8_t)((row[l >> 2] >> (2 * (l & 3))) & 3u);
    int exc = (row[(L + 3) / 4 + (l >> 3)] >> (l & 7)) & 1;
    return exc ? (uint8_t)(two == 0 ? DM_BASE_N : DM_BASE_PAD) : two;
}

/* Packs L codes (DM_BASE_*) into row (dm_pack_row_bytes(L) bytes). */
static inline void dm_pack_row(uint8_t *row, const uint8_t *codes, int L) {
    int nb = dm_pack_row_bytes(L), n2 = (L + 3) / 4;
    for (int i = 0; i < nb; i++) row[i] = 0;
    for (int l = 0; l < L; l++) {
        uint8_t c = codes[l], two = c < 4 ? c : (uint8_t)(c == DM_BASE_N ? 0 : 1);
        row[l >> 2] |= (uint8_t)(two << (2 * (l & 3)));
        if (c >= 4) row[n2 + (l >> 3)] |= (uint8_t)(1u << (l & 7));
    }
}

/* The one-hot value of channel c for code `code` (SPEC.md §1): shared by onehot and gather. */
static inline DM_HD float dm_onehot_value(uint8_t code, int c, int n_quarter) {
    if (code < 4) return code == c ? 1.0f : 0.0f;
    return code == DM_BASE_N && n_quarter ? 0.25f : 0.0f;
}

#endif /* DM_PACK_H */
