/*
 * meme.h: motifs as position probability matrices, read from and written to the MEME minimal motif
 * format (FORMATS.md §5), the exchange format of JASPAR, MEME, TOMTOM and deepmotif's own motif
 * outputs.
 *
 * Reading is line by line through zlib (gzip and plain text alike), a small state machine:
 *   - the first non-blank line must start with "MEME version";
 *   - "ALPHABET=" must name ACGT (anything else, including MEME 5 custom alphabet blocks, is refused);
 *   - "MOTIF <id> [<alt name>]" opens a motif; its "letter-probability matrix:" line must carry
 *     alength= 4 and w= W (nsites= is kept when present, E= ignored), and exactly the next W non-blank
 *     lines hold 4 probabilities each (A C G T);
 *   - any other line (strands, background, URL, log-odds sections and their numbers) is skipped.
 * Every input error is DM_STATUS_FORMAT naming "file:line".
 */
#ifndef DM_MEME_H
#define DM_MEME_H

#include <stdio.h>

#include "deepmotif.h"

#define DM_MOTIF_AUTO (-1) /* dm_meme_read_as, dm_motifs_read: decide from the file */

/* dm_motif and dm_motif_set are public (deepmotif.h). */

/* Reads every motif of a MEME file (gzip or plain) into *out (overwritten, not freed first).
 * Rows whose sum is within 1e-3 of 1 are renormalised; a negative, non-numeric or non-finite
 * entry, a row of the wrong length or sum, a matrix with fewer or more than w rows, a matrix
 * outside a MOTIF, a MOTIF without a matrix, an id or name longer than 127 bytes, a missing
 * "MEME version" line or an ALPHABET other than ACGT is DM_STATUS_FORMAT ("file:line: what").
 * A file with no MOTIF gives n = 0. On failure *out is {0, NULL}.
 * Returns _OK, _IO (cannot open or read, damaged gzip), _FORMAT, _NOMEM. */
dm_status dm_meme_read(const char *path, dm_motif_set *out);

/* dm_meme_read with a choice of what the matrices are (host/motifdb.h's DM_MOTIF_AUTO, DM_MOTIF_PPM,
 * DM_MOTIF_CWM): PPM is dm_meme_read; CWM keeps every row's finite numbers as written (signed, any
 * sum); AUTO is CWM when any entry of the file is negative (TF-MoDISco writes its CWMs as
 * letter-probability matrices with signed rows), PPM otherwise, when a row that does not sum to 1 is
 * the PPM reader's error at its line, with a hint to say --query-type cwm. *got (may be NULL)
 * receives DM_MOTIF_PPM or DM_MOTIF_CWM. */
dm_status dm_meme_read_as(const char *path, int type, dm_motif_set *out, int *got);

/* Frees every matrix and the list; leaves {0, NULL}. NULL and empty sets are no-ops. */
void dm_motif_set_free(dm_motif_set *s);

/* Writes `s` atomically (dm_outfile): "MEME version 4", "ALPHABET= ACGT", "strands: + -", a uniform
 * background, then per motif "MOTIF id [name]", the matrix line (alength= 4 w= W, nsites= when > 0,
 * E= 0) and W rows renormalised to sum 1, 6 decimals. Whitespace inside a name is written as '_'
 * (the alt name is one token). Returns _OK, _IO, _ARG (an empty id or one holding whitespace, w < 1,
 * a NULL matrix, a negative or non-finite entry, a row summing to 0). */
dm_status dm_meme_write(const char *path, const dm_motif_set *s);

/* dm_meme_write's checks and text, to an open stream (a writer that commits several files together
 * opens and commits its own); `path` names the file in the messages. Nothing is written unless the
 * checks pass. Returns _OK or _ARG (as dm_meme_write). */
dm_status dm_meme_fprint(FILE *f, const char *path, const dm_motif_set *s);

#endif /* DM_MEME_H */
