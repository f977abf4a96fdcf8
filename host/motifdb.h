/*
 * motifdb.h: motif files in any of the common database formats, detected by content (never by the
 * file's extension), gzip or plain, LF or CRLF. One entry point, dm_motifs_read.
 *
 * Detection, on the first non-blank line:
 *   "MEME version ..."              MEME minimal format (host/meme.c reads it);
 *   ">ID [NAME...]"                 JASPAR (.jaspar: rows "A [ 4 19 0 ... ]"; .pfm: 4 rows of W
 *                                   numbers) or HOCOMOCO (.pcm counts, .pfm frequencies, .pwm
 *                                   log-odds: W rows of 4 numbers), told apart per file by the layout
 *                                   of the numbers (below);
 *   a TRANSFAC tag (AC ID NA DE P0 PO XX VV BF CC // followed by a blank or the line's end)
 *                                   TRANSFAC / JASPAR-TRANSFAC: records ended by "//", the matrix
 *                                   after a "P0 A C G T" (or PO) line, one row "01 a c g t [letter]"
 *                                   per position, id = AC (else ID), name = ID when AC is there
 *                                   (else NA);
 *   a number, or "A [" / "A 12"     one bare matrix without a header (a JASPAR .pfm of one motif),
 *                                   named after the file (its base name without extensions).
 * Numeric layout of the '>' and bare formats: a matrix is either 4 rows of W numbers (A C G T, the
 * JASPAR layout) or W rows of 4 (one row per position, the HOCOMOCO layout). A file holds one layout:
 * the first matrix that is not 4 x 4 decides it, and a file of only 4 x 4 matrices is read in the
 * JASPAR layout. Rows labelled "A", "C", "G", "T" (in any order, brackets optional) are always base rows.
 *
 * Values, per motif (type DM_MOTIF_PPM or DM_MOTIF_AUTO; MEME files are their own, see meme.h):
 *   - every position sums to 1 +- 1e-3: probabilities, renormalised;
 *   - otherwise non-negative: counts. p = (c + pseudocount / 4) / (N + pseudocount) per position,
 *     N the position's total: the pseudocount (default 0.8, DM_MOTIFDB_PSEUDOCOUNT) is spread over the
 *     bases by a uniform background, as JASPAR's TFBSTools toPWM and Nishida et al. 2009 recommend.
 *     It moves no entry by more than 0.6 / (N + 0.8) from c / N (JASPAR's own MEME export, which has
 *     none), i.e. < 0.03 for N >= 20, while keeping a base never seen in a few sites off probability 0.
 *     nsites = the largest N, rounded;
 *   - any negative entry: a log-odds matrix (HOCOMOCO .pwm: s = ln((c + k/4) / ((N + k) / 4)),
 *     uniform background). p = 0.25 e^s is accepted when every position of it sums to 1 +- 0.02 (the
 *     natural log against a uniform background, as HOCOMOCO writes them; 0.02 covers values printed
 *     to 2 decimals), else p = 0.25 * 2^s under the same test (log2 odds, as TFBSTools writes them);
 *     then renormalised. A matrix that passes neither is refused: its background or log base is not
 *     what the file says, and no sound inversion exists without them.
 * Type DM_MOTIF_CWM keeps every finite number as written in every format (signed contributions).
 * Every input error is DM_STATUS_FORMAT "file:line: what"; on failure *out is {0, NULL}.
 */
#ifndef DM_MOTIFDB_H
#define DM_MOTIFDB_H

#include "meme.h"

#define DM_MOTIFDB_PSEUDOCOUNT 0.8 /* total pseudocount per position for count matrices */

typedef enum dm_motif_format {
    DM_MOTIF_FMT_MEME = 0,
    DM_MOTIF_FMT_JASPAR,   /* '>' headers, base rows (labelled, or 4 rows of W numbers) */
    DM_MOTIF_FMT_HOCOMOCO, /* '>' headers, W rows of 4 numbers */
    DM_MOTIF_FMT_TRANSFAC,
    DM_MOTIF_FMT_BARE,     /* one matrix without a header */
} dm_motif_format;

typedef struct dm_motifs_read_options {
    int type;           /* DM_MOTIF_AUTO, DM_MOTIF_PPM or DM_MOTIF_CWM (dm_meme_read_as) */
    double pseudocount; /* >= 0; DM_MOTIFDB_PSEUDOCOUNT */
} dm_motifs_read_options;

/* What was read: the format, DM_MOTIF_PPM or DM_MOTIF_CWM, and how many motifs were counts,
 * log-odds or probabilities already. */
typedef struct dm_motifs_info {
    dm_motif_format format;
    int type;
    int n_counts, n_logodds, n_probs;
} dm_motifs_info;

void dm_motifs_read_options_default(dm_motifs_read_options *o);

/* Reads every motif of a motif file in any format above into *out (overwritten, not freed first;
 * NULL options: the defaults; info may be NULL). Returns _OK, _IO (cannot open or read, damaged
 * gzip), _FORMAT, _NOMEM, _ARG (bad options). */
dm_status dm_motifs_read(const char *path, const dm_motifs_read_options *o, dm_motif_set *out,
                         dm_motifs_info *info);

/* The format's name for messages: "MEME", "JASPAR", "HOCOMOCO", "TRANSFAC", "bare matrix". */
const char *dm_motif_format_name(dm_motif_format f);

#endif /* DM_MOTIFDB_H */
