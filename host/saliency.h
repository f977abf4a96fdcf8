/*
 * saliency.h: input-gradient attribution maps (SPEC.md §6.1, FORMATS.md §11), batched, on any
 * backend, in evaluation mode (dropout off).
 *
 *   grad          ∂S/∂X, all four channels, signed
 *   grad-x-input  ∂S/∂X ⊙ X (one non-zero per position for one-hot input)
 *   original      |∂(−log P(y | X))/∂X| ⊙ X with y the true label: DeMo's parity mode
 *   ig            integrated gradients: (X − X0) ⊙ mean over `steps` midpoints of ∂S/∂X along the
 *                 straight path from the baseline X0 (all-zero, or a dinucleotide shuffle of X)
 *   ism           in-silico mutagenesis: S(X with base b at position l) − S(X) for every l and b
 *                 (0 for the present base), by batched forward passes
 * S is the class score log P(pos) (`pos`) or log P(y) of the true label (`label`). With `center`
 * every method is mean-centred over the four bases at each position (TF-MoDISco's hypothetical
 * contributions, tangermeme's defaults): the gradient before it is multiplied by X (grad, grad-x-input,
 * original: Majdandzic et al. 2023's correction), the path-averaged gradient before it is multiplied
 * by X − X0 (ig), the four substitution effects (ism). Off by default: the outputs stay those of
 * earlier versions (and DeMo's for `original`).
 */
#ifndef DM_SALIENCY_H
#define DM_SALIENCY_H

#include "genome.h"
#include "model.h"

typedef enum dm_sal_method {
    DM_SAL_GRAD = 0, DM_SAL_GRAD_X_INPUT, DM_SAL_ORIGINAL, DM_SAL_IG, DM_SAL_ISM
} dm_sal_method;
typedef enum dm_sal_target { DM_TARGET_POS = 0, DM_TARGET_LABEL } dm_sal_target;

typedef struct dm_saliency_options {
    dm_sal_method method;
    dm_sal_target target;
    bool center;          /* mean-centre over the 4 bases (above) */
    bool nlc;             /* write (N, L, 4) instead of (N, 4, L) */
    bool n_quarter;       /* N encoded as 0.25 per base */
    bool progress;        /* report progress through the progress callback (dm_set_log) */
    int steps;            /* ig: path steps (default 64) */
    bool shuffle_baseline;/* ig: a dinucleotide shuffle of each input instead of all-zero */
    uint64_t seed;        /* ig: seed of the shuffled baselines */
    bool ism_full;        /* ism: recompute every variant through the whole model (the reference), not
                           * only its receptive-field windows (host/ism_fast.h); also DM_ISM=full */
    const struct dm_shard *shard; /* NULL: the whole outputs; else this shard's rows into its parts of them
                                     (host/shard.h), assembled by dm_shard_finish */
} dm_saliency_options;

dm_status dm_sal_method_parse(const char *s, dm_sal_method *m);
dm_status dm_sal_target_parse(const char *s, dm_sal_target *t);

/* Attributions of one batch: x (B, L, 4) host input, labels (B) (needed for target `label` and method
 * `original`; may be NULL otherwise), attr (B, L, 4) output, p_pos (B) output. B ≤ the model's batch.
 * row0: the data-set row of x's first sequence (seeds the shuffled IG baselines per row). */
dm_status dm_saliency_batch(dm_net *m, const float *x, const int8_t *labels, int B, int64_t row0,
                            const dm_saliency_options *o, float *attr, float *p_pos);

/* The device-resident path of a saliency run (host/sal_dev.c), what the CLI and dm_saliency use for
 * base-code input: rows are loaded (packed, 2 bits a base, dm_pack.h) into backend memory once per
 * chunk with each row's ∂S/∂logprob (and IG's shuffled baselines); a batch gathers its one-hot input
 * on the backend, runs there and brings the attributions and log-probabilities back in one download.
 * Every backend buffer is allocated by create (batch-sized) or by the first load (chunk-sized; a later
 * load allocates only when it has more rows than every earlier one), so the batches allocate nothing.
 * Results are those of dm_saliency_batch on the one-hot of the same codes, bit for bit on the CPU. */
typedef struct dm_sal_dev dm_sal_dev;
dm_status dm_sal_dev_create(dm_sal_dev **out, dm_net *m, const dm_saliency_options *o);
void dm_sal_dev_free(dm_sal_dev *d);
/* n rows of base codes (n, L) and their labels (may be NULL unless the target needs them), the first
 * being data-set row row0 (it seeds IG's shuffled baselines). _ARG, with dm_saliency_batch's message,
 * when the target needs a label a row lacks. Both are copied: the caller may reuse them. */
dm_status dm_sal_dev_load(dm_sal_dev *d, const uint8_t *codes, const int8_t *labels, int64_t n, int64_t row0);
/* Rows i..i+B−1 of the loaded rows (B ≤ the model's batch): attr (B, L, 4) and p_pos (B) as
 * dm_saliency_batch gives them; x (B, L, 4) is their host one-hot (dm_onehot_host, the options'
 * n_quarter), read by the post-processing (grad × input, original, IG's x − x0). */
dm_status dm_sal_dev_batch(dm_sal_dev *d, int64_t i, int B, const float *x, float *attr, float *p_pos);

/* Internal to saliency.c and sal_dev.c: the target class of each row (0 = bound), and the per-method
 * post-processing of the raw gradients in attr (centring, × input). */
dm_status dm_sal_classes(const int8_t *labels, int B, bool by_label, int *cls);
void dm_sal_finish(const dm_saliency_options *o, float *attr, const float *x, int B, int L);

/* The whole data set in batches, streamed to PREFIX.npy (attributions), PREFIX.onehot.npy (inputs, same
 * layout), the same two arrays as PREFIX.npz and PREFIX.onehot.npz (key arr_0, what `modisco motifs -a
 * attr.npz -s ohe.npz` reads) and PREFIX.tsv (id, P(pos), the attribution of the present base at every
 * position). On failure none of them is left behind. */
dm_status dm_saliency_run(dm_net *m, const dm_dataset *ds, const dm_saliency_options *o,
                          const char *prefix);

/* The same outputs written chunk by chunk, for a data set streamed from its file (dm_dataset_scan):
 * open declares the total row count n (the arrays' shape), rows appends every row of a chunk whose
 * first row is row row0 of the data set (chunks of a multiple of the model's batch give the batches,
 * hence the bytes, of dm_saliency_run), commit checks the count and renames everything into place.
 * On a failure of commit, or after abort, no output is left behind (arrays already renamed into place
 * are removed again); commit and abort free the writer. */
typedef struct dm_saliency_out dm_saliency_out;
dm_status dm_saliency_open(dm_saliency_out **s, dm_net *m, int64_t n, const dm_saliency_options *o,
                           const char *prefix);
dm_status dm_saliency_rows(dm_saliency_out *s, const dm_dataset *chunk, int64_t row0);
dm_status dm_saliency_commit(dm_saliency_out *s);
void dm_saliency_abort(dm_saliency_out *s);

/* Genomic coordinates of the rows (input from --bed; row i = region rs->r[i], the regions as read,
 * resized and checked against g): after open, before the rows. The commit then also writes
 * PREFIX.regions.bed (BED6, line i = row i of the arrays: chrom, start, end, name, 0, strand) and,
 * with `track`, PREFIX.track.bw: a per-base bigWig of the attribution of the present base (the sum
 * over the four bases of attribution × input), minus-strand rows mapped back to the + strand,
 * overlapping windows averaged. The track holds n × L floats until the commit. rs and g must outlive
 * the writer. */
dm_status dm_saliency_coords(dm_saliency_out *s, const dm_regions *rs, dm_genome *g, bool track);

/* The coordinate outputs themselves (host/saliency_coords.c), for dm_saliency_out. */
typedef struct dm_sal_coords dm_sal_coords;
dm_status dm_sal_coords_open(dm_sal_coords **c, const dm_regions *rs, dm_genome *g, int L, bool track,
                             const char *prefix, const struct dm_shard *sh);   /* sh: its rows' part */
/* Rows row0 .. row0 + B − 1: attributions and inputs (B, L, 4). */
void dm_sal_coords_rows(dm_sal_coords *c, int64_t row0, int B, const float *attr, const float *x);
dm_status dm_sal_coords_commit(dm_sal_coords *c);   /* frees c; on failure nothing of it is left */
void dm_sal_coords_abort(dm_sal_coords *c);         /* frees c; NULL is a no-op */
/* Removes committed coordinate outputs again (a later output of the set failed). */
void dm_sal_coords_remove(const char *prefix, bool track);

#endif /* DM_SALIENCY_H */
