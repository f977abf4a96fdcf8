/*
 * visualize.c: what a trained model sees: `deepmotif saliency` (attribution maps), `deepmotif
 * temporal` (temporal output scores of a recurrent model), both streaming --data in two passes
 * (vis_open), and `deepmotif optimize` (class optimisation).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch.h"
#include "cli.h"
#include "netio.h"
#include "npy.h"
#include "optimize.h"
#include "predavg.h"
#include "saliency.h"

const cli_opt cli_saliency_opts[] = {
    {"--model", "MODEL", "checkpoint written by train (required)", NULL, 0},
    {"--data", "FILE", "sequences, any supported format (required, or --bed)", NULL, 0},
    {"--out", "PREFIX", "writes PREFIX.npy, .onehot.npy, .npz, .onehot.npz (key arr_0), .tsv (required)", NULL, 0},
    {"--method", "M", "grad (default), grad-x-input, original (DeMo: |d(-log p_y)/dX| * X), "
                      "ig (integrated gradients), ism (in-silico mutagenesis)",
     CLI_CHOICES("grad", "grad-x-input", "original", "ig", "ism"), 0},
    {"--steps", "N", "ig: path steps (default 64)", NULL, 0},
    {"--baseline", "zero|shuffle", "ig: all-zero input (default) or a dinucleotide shuffle of each sequence",
     CLI_CHOICES("zero", "shuffle"), 0},
    {"--seed", "S", "ig: seed of the shuffled baselines (default 1)", NULL, 0},
    {"--target", "pos|label", "class score: log P(bound) (default) or log P(true label)", CLI_CHOICES("pos", "label"), 0},
    {"--layout", "ncl|nlc", "array layout: (N, 4, L) (default, PyTorch/TF-MoDISco) or (N, L, 4)",
     CLI_CHOICES("ncl", "nlc"), 0},
    {"--center", NULL, "mean-centre over the 4 bases at each position, every method (TF-MoDISco's hypothetical "
                       "contributions): the gradient before x X, IG's averaged gradient before x (X - X0), ISM's "
                       "4 effects; off by default (outputs as before)", NULL, 0},
    {"--batch", "N", "sequences per batch (default 256)", NULL, 0},
    {"--track", NULL, "with --bed: also PREFIX.track.bw, per base the attribution of the present base "
                      "(overlapping regions averaged); --bed always writes PREFIX.regions.bed (line i = row i)", NULL, 0},
    {"--quiet", NULL, "no progress line", NULL, 0},
    {0},
};

const cli_opt cli_temporal_opts[] = {
    {"--model", "MODEL", "a checkpoint with a recurrent layer (required)", NULL, 0},
    {"--data", "FILE", "sequences, any supported format (required, or --bed)", NULL, 0},
    {"--out", "PREFIX", "writes PREFIX.npy (N, L, 2: forward, backward score) and PREFIX.tsv (id, or with --bed "
                        "chrom, start, end, strand, name; required)", NULL, 0},
    {"--batch", "N", "sequences per batch (default 64)", NULL, 0},
    {0},
};

const cli_opt cli_optimize_opts[] = {
    {"--model", "MODEL", "checkpoint written by train (required)", NULL, 0},
    {"--out", "PREFIX", "writes PREFIX.meme (every restart, then the aligned consensus of those with "
                        "P(bound) >= 0.5), PREFIX.trajectory.tsv, PREFIX.fa (required)", NULL, 0},
    {"--restarts", "N", "seeded restarts, optimised together in one batch (default 1, as the original)", NULL, 0},
    {"--steps", "N", "RMSprop steps (default 1000)", NULL, 0},
    {"--lr", "X", "RMSprop learning rate (default 0.05)", NULL, 0},
    {"--lambda", "X", "L2 penalty on the input (default 0.009)", NULL, 0},
    {"--param", "direct|softmax", "optimise X itself (default, the original) or X = softmax(Z) per position",
     CLI_CHOICES("direct", "softmax"), 0},
    {"--seed", "S", "seed of the U[0,1) starts (default 1)", NULL, 0},
    {"--db", "DB", "name the optimised PPMs against these motifs (e.g. JASPAR; MEME, JASPAR, HOCOMOCO or "
                  "TRANSFAC): PREFIX.hits.tsv", NULL, 0},
    {0},
};

/* ---- saliency and temporal: the model, then --data streamed ------------------------------------- */

/* What saliency and temporal share: the device, --model for batches of `batch`, --data's first pass. */
typedef struct vis_run {
    dm_backend *be;
    dm_net *m;
    const char *model_path;
    int batch;
    cli_stream s;
} vis_run;

/* The outputs PREFIX + each suffix are checked, then the device and --model; the caller may check
 * the model before vis_scan reads --data. */
static void vis_open(vis_run *r, const cli_args *a, int batch, const char *const *suffix) {
    cli_check_outs(cli_required(a, "--out"), suffix);
    r->batch = batch;
    r->be = cli_backend(a);
    r->model_path = cli_required(a, "--model");
    r->m = cli_load_model(r->model_path, r->be, batch);
}

/* --data or --bed: with --bed, r->s.regions holds the coordinates of every row (row i = region i). */
static void vis_scan(vis_run *r, const cli_args *a) {
    cli_stream_open(&r->s, a, dm_net_hparams(r->m)->len, r->batch);
    cli_stream_prefetch(&r->s, r->be);
}

static void vis_close(vis_run *r) {
    cli_stream_close(&r->s);
    dm_net_free(r->m);
    dm_backend_free(r->be);
}

/* ---- saliency ---------------------------------------------------------------------------------- */

static dm_status saliency_chunk(void *ctx, const dm_dataset *ds, int64_t row0) {
    return dm_saliency_rows(ctx, ds, row0);
}

int cli_saliency(cli_args *a) {
    dm_saliency_options so = {0};
    if (cli_flag(a, "--method")) CLI_CHECK(dm_sal_method_parse(cli_opt_str(a, "--method"), &so.method));
    if (cli_flag(a, "--target")) CLI_CHECK(dm_sal_target_parse(cli_opt_str(a, "--target"), &so.target));
    so.nlc = !strcmp(cli_opt_or(a, "--layout", "ncl"), "nlc");
    so.center = cli_flag(a, "--center");
    so.steps = (int)cli_int(a, "--steps", 64, 1, 100000);
    so.shuffle_baseline = !strcmp(cli_opt_or(a, "--baseline", "zero"), "shuffle");
    so.seed = cli_seed(a);
    so.n_quarter = cli_n_quarter(a);
    so.progress = !cli_flag(a, "--quiet") && isatty(fileno(stderr));
    const char *prefix = cli_required(a, "--out");
    int batch = (int)cli_int(a, "--batch", 256, 1, 1 << 16);
    bool bed = cli_flag(a, "--bed"), track = cli_flag(a, "--track");
    if (track && !bed) cli_usage_error("--track needs --bed REGIONS.bed (the coordinates of the rows)");
    cli_shard sh;
    cli_shard_init(&sh, a);
    if (track && sh.sh.count)
        cli_fail(dm_error(DM_STATUS_ARG, "--track needs every row in one process: run it without --shard or mpirun"));
    static const char *const sfx[] = {".npy", ".onehot.npy", ".npz", ".onehot.npz", ".tsv", ".regions.bed"};
    char path[CLI_PATH_MAX];
    for (int k = 0; k < 5 + bed; k++) cli_shard_check_out(&sh, cli_path(path, prefix, sfx[k]));
    vis_run r;
    vis_open(&r, a, batch, (const char *const[]){".npy", ".onehot.npy", ".npz", ".onehot.npz", ".tsv",
                                                 bed ? ".regions.bed" : NULL, track ? ".track.bw" : NULL, NULL});
    vis_scan(&r, a);
    cli_shard_rows(&sh, &r.s, batch);
    if (sh.sh.count) {   /* the set's outputs, as dm_saliency_open names and shapes them */
        int L = r.s.len;
        int64_t shape[3] = {r.s.tot.n, so.nlc ? L : 4, so.nlc ? 4 : L};
        for (int k = 0; k < 4; k++) cli_shard_add(&sh, cli_path(path, prefix, sfx[k]), k < 2 ? DM_SHARD_NPY : DM_SHARD_NPZ, 3, shape);
        for (int k = 4; k < 5 + bed; k++) cli_shard_add(&sh, cli_path(path, prefix, sfx[k]), DM_SHARD_TEXT, 0, NULL);
        so.shard = &sh.sh;
    }
    if ((so.target == DM_TARGET_LABEL || so.method == DM_SAL_ORIGINAL) && !r.s.labelled)
        cli_fail(dm_error(DM_STATUS_FORMAT, "%s: saliency target 'label' and method 'original' need labelled data",
                          r.s.path));
    cli_notice_flush();
    double t0 = dm_now();
    dm_saliency_out *out;
    CLI_CHECK(dm_saliency_open(&out, r.m, r.s.tot.n, &so, prefix));
    dm_status st = r.s.regions ? dm_saliency_coords(out, r.s.regions, r.s.genome, track) : DM_STATUS_OK;
    if (!st) st = cli_stream_run(&r.s, saliency_chunk, out);
    if (st) {
        dm_saliency_abort(out);
        cli_shard_fail(&sh, st);
    }
    st = dm_saliency_commit(out);
    if (st) cli_shard_fail(&sh, st);
    if (!sh.sh.count || cli_shard_finish(&sh))
        fprintf(stderr, "%s: %lld sequences in %.1f s; wrote %s.{npy,onehot.npy,npz,onehot.npz,tsv%s}\n", cli_prog,
            (long long)r.s.tot.n, dm_now() - t0, prefix, track ? ",regions.bed,track.bw" : bed ? ",regions.bed" : "");
    vis_close(&r);
    return 0;
}

/* ---- temporal ---------------------------------------------------------------------------------- */

typedef struct temporal_ctx {
    dm_net *m;
    int batch;
    bool quarter;
    float *x, *f, *b, *fb;   /* one batch: inputs, forward and backward scores, both interleaved */
    const dm_regions *regions;   /* --bed: the coordinates of every row */
    dm_npy_writer w;
    dm_outfile tsv;
} temporal_ctx;

/* An ensemble's temporal scores are its members' means (summed in member order, then divided); the
 * strand is the one given (reverse-complement averaging does not apply: the reverse strand's forward
 * reading is this strand's backward one). `tmp` holds 2 · B · L floats. */
static dm_status temporal_members(dm_net *m, const float *x, int B, int L, float *f, float *b, float *tmp) {
    int32_t M = dm_net_n_members(m);
    if (M == 1) return dm_net_temporal(m, x, B, f, b);
    size_t n = (size_t)B * L;
    memset(f, 0, sizeof(float) * n);
    memset(b, 0, sizeof(float) * n);
    for (int32_t k = 0; k < M; k++) {
        DM_TRY(dm_net_use_member(m, k));
        DM_TRY(dm_net_temporal(m, x, B, tmp, tmp + n));
        for (size_t r = 0; r < n; r++) f[r] += tmp[r], b[r] += tmp[n + r];
    }
    for (size_t r = 0; r < n; r++) f[r] /= (float)M, b[r] /= (float)M;
    return dm_net_use_member(m, 0);
}

static dm_status temporal_chunk(void *ctx, const dm_dataset *ds, int64_t row0) {
    temporal_ctx *c = ctx;
    int L = ds->len, batch = c->batch;
    float *f = c->f, *b = c->b, *fb = c->fb;
    dm_status st = DM_STATUS_OK;
    for (int64_t i = 0; i < ds->n && !st; i += batch) {
        int B = (int)(ds->n - i < batch ? ds->n - i : batch);
        dm_onehot_host(c->x, ds->seq + (size_t)i * L, (int64_t)B * L, c->quarter);
        st = temporal_members(c->m, c->x, B, L, f, b, fb);
        for (int64_t r = 0; r < (int64_t)B * L && !st; r++) fb[2 * r] = f[r], fb[2 * r + 1] = b[r];
        if (!st) st = dm_npy_append(&c->w, fb, 2 * (int64_t)B * L);
        for (int k = 0; k < B && !st; k++) {
            if (c->regions) {
                const dm_region *g = &c->regions->r[row0 + i + k];
                fprintf(c->tsv.f, "%s\t%lld\t%lld\t%c\t", g->chrom, (long long)g->start, (long long)g->end, g->strand);
            }
            fprintf(c->tsv.f, "%s\t", ds->id[i + k]);
            for (int l = 0; l < L; l++) fprintf(c->tsv.f, "%.5g%c", f[(size_t)k * L + l], l + 1 < L ? ',' : '\t');
            for (int l = 0; l < L; l++) fprintf(c->tsv.f, "%.5g%c", b[(size_t)k * L + l], l + 1 < L ? ',' : '\n');
        }
    }
    return st;
}

int cli_temporal(cli_args *a) {
    const char *prefix = cli_required(a, "--out");
    int batch = (int)cli_int(a, "--batch", 64, 1, 1 << 16);
    bool quarter = cli_n_quarter(a);
    cli_shard sh;
    cli_shard_init(&sh, a);
    char npy[CLI_PATH_MAX], tsvp[CLI_PATH_MAX];
    cli_shard_check_out(&sh, cli_path(npy, prefix, ".npy"));
    cli_shard_check_out(&sh, cli_path(tsvp, prefix, ".tsv"));
    vis_run r;
    vis_open(&r, a, batch, (const char *const[]){".npy", ".tsv", NULL});
    if (!dm_net_temporal_stride(r.m)) {
        char with[256];
        dm_arch_list_having(DM_LAYER_BILSTM, with, sizeof with);
        cli_fail(dm_error(DM_STATUS_FORMAT, "%s: a %s model; temporal scores need a recurrent one (%s)", r.model_path,
                          dm_arch_name(dm_net_hparams(r.m)->arch), with));
    }
    vis_scan(&r, a);
    cli_shard_rows(&sh, &r.s, batch);
    cli_notice_flush();
    int32_t L = r.s.len;
    temporal_ctx c = {.m = r.m, .batch = batch, .quarter = quarter, .regions = r.s.regions};
    c.x = cli_alloc(sizeof(float) * 4 * (size_t)batch * L), c.f = cli_alloc(sizeof(float) * (size_t)batch * L);
    c.b = cli_alloc(sizeof(float) * (size_t)batch * L), c.fb = cli_alloc(sizeof(float) * 2 * (size_t)batch * L);
    int64_t shape[3] = {r.s.tot.n, L, 2};
    dm_status st;
    if (sh.sh.count) {
        cli_shard_add(&sh, npy, DM_SHARD_NPY, 3, shape);
        cli_shard_add(&sh, tsvp, DM_SHARD_TEXT, 0, NULL);
        st = dm_npy_open_shard(&c.w, npy, NULL, 3, shape, &sh.sh);
    } else {
        st = dm_npy_open(&c.w, npy, 3, shape);
    }
    if (st) cli_shard_fail(&sh, st);
    st = cli_shard_text_open(&sh, &c.tsv, tsvp);
    if (st) { dm_npy_abort(&c.w); cli_shard_fail(&sh, st); }
    if (cli_shard_header(&sh))
        fprintf(c.tsv.f, "%s\tforward\tbackward\n", r.s.regions ? "chrom\tstart\tend\tstrand\tname" : "id");
    double t0 = dm_now();
    st = cli_stream_run(&r.s, temporal_chunk, &c);
    bool npy_done = false;
    if (!st) npy_done = (st = dm_npy_commit(&c.w)) == DM_STATUS_OK;
    if (!st) st = dm_outfile_commit(&c.tsv);
    if (st) {
        dm_npy_abort(&c.w);
        dm_outfile_abort(&c.tsv);
        if (npy_done && !c.w.out.direct && !sh.sh.count) remove(npy);   /* the pair goes together; a device stays */
        cli_shard_fail(&sh, st);
    }
    if (!sh.sh.count || cli_shard_finish(&sh))
        fprintf(stderr, "%s: %lld sequences in %.1f s; wrote %s and %s\n", cli_prog, (long long)r.s.tot.n,
            dm_now() - t0, npy, tsvp);
    free(c.x); free(c.f); free(c.b); free(c.fb);
    vis_close(&r);
    return 0;
}

/* ---- optimize ---------------------------------------------------------------------------------- */

int cli_optimize(cli_args *a) {
    dm_optimize_options oo;
    dm_optimize_options_default(&oo);
    oo.restarts = (int32_t)cli_int(a, "--restarts", oo.restarts, 1, 4096);
    oo.steps = (int32_t)cli_int(a, "--steps", oo.steps, 0, 10000000);
    oo.lr = (float)cli_num(a, "--lr", oo.lr, 1e-9, 100);
    oo.lambda = (float)cli_num(a, "--lambda", oo.lambda, 0, 100);
    oo.seed = cli_seed(a);
    oo.softmax = !strcmp(cli_opt_or(a, "--param", "direct"), "softmax");
    const char *prefix = cli_required(a, "--out"), *db_path = cli_opt_str(a, "--db");
    cli_check_outs(prefix, (const char *const[]){".meme", ".trajectory.tsv", ".fa", db_path ? ".hits.tsv" : NULL, NULL});
    dm_backend *be = cli_backend(a);
    dm_net *m = cli_load_model(cli_required(a, "--model"), be, oo.restarts);
    cli_single_model(m, cli_required(a, "--model"), "optimize");
    dm_motif_set db = {0};
    if (db_path) cli_read_db(db_path, &db);
    cli_notice_flush();
    int L = dm_net_hparams(m)->len, R = oo.restarts;
    float *x = cli_alloc(sizeof(float) * 4 * (size_t)R * L), *ppm = cli_alloc(sizeof(float) * 4 * (size_t)R * L);
    float *obj = cli_alloc(sizeof(float) * (size_t)(oo.steps + 1) * R), *p = cli_alloc(sizeof(float) * (size_t)R);
    double t0 = dm_now();
    CLI_CHECK(dm_net_optimize(m, &oo, x, ppm, obj, p));
    double secs = dm_now() - t0;
    /* the PPMs and their aligned consensus (as PREFIX.meme has them) as a motif set (views), compared
     * with the database before anything is written */
    float *cons = cli_alloc(sizeof(float) * 4 * (size_t)L);
    int *place = cli_alloc(sizeof(int) * 3 * (size_t)R), ref;
    int K = dm_optimize_consensus(ppm, p, R, L, cons, place, place + R, place + 2 * R, &ref);
    dm_motif_set q = {.n = R + (K > 0), .m = cli_alloc(sizeof(dm_motif) * (size_t)(R + 1))};
    memset(q.m, 0, sizeof(dm_motif) * (size_t)(R + 1));
    for (int r = 0; r < q.n; r++) {
        snprintf(q.m[r].id, sizeof q.m[r].id, r < R ? "restart_%d" : "consensus", r + 1);
        q.m[r].w = L;
        q.m[r].p = r < R ? ppm + 4 * (size_t)r * L : cons;
        q.m[r].nsites = r < R ? 1 : K;
    }
    cli_annotation an = {0};
    if (db_path) cli_annotate_compute(&q, &db, &an);
    CLI_CHECK(dm_optimize_write(prefix, &oo, L, ppm, obj, p, NULL));
    for (int r = 0; r < R; r++)
        printf("restart %d  objective %.4f -> %.4f  P(bound) %.4f\n", r + 1, obj[r], obj[(size_t)oo.steps * R + r], p[r]);
    if (db_path)   /* no half-written set: on failure the three files just written go too */
        cli_annotate_finish(&q, &db, &an, prefix, (const char *const[]){".meme", ".trajectory.tsv", ".fa", NULL}, a);
    free(q.m);
    free(cons);
    free(place);
    dm_motif_set_free(&db);
    fprintf(stderr, "%s: %d restarts x %d steps in %.1f s (%.0f steps/s); wrote %s.meme, %s.trajectory.tsv, %s.fa\n",
            cli_prog, R, oo.steps, secs, oo.steps / (secs > 0 ? secs : 1), prefix, prefix, prefix);
    if (K > 0)
        fprintf(stderr, "%s: consensus of %d of %d restarts (aligned to the best; %d left out with P(bound) < %.1f)\n",
                cli_prog, K, R, R - K, DM_CONSENSUS_MIN_P);
    else
        fprintf(stderr, "%s: no restart reached P(bound) >= %.1f: no consensus written\n", cli_prog,
                DM_CONSENSUS_MIN_P);
    free(x); free(ppm); free(obj); free(p);
    dm_net_free(m);
    dm_backend_free(be);
    return 0;
}
