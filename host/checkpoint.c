/*
 * Longer than 800 lines because: the format's field-by-field description (this comment, about 90
 * lines) stays beside the writer and the checking reader it describes.
 *
 * checkpoint.c: the deepmotif model file (".dm"): hyper-parameters, the parameter tensor table,
 * the parameters in the canonical layout (SPEC.md §3), provenance, and optionally the state needed
 * to resume training.
 *
 * Why a tagged, checksummed binary format: the file must survive crashes (it is written to a
 * temporary name and renamed, so a reader never sees half a file), must be recognised as damaged
 * rather than silently loaded (CRC-32 over everything), must refuse to load into a model of another
 * shape (the tensor table is compared with the one the hyper-parameters imply), and must let a
 * later deepmotif add sections that this one skips.
 *
 * The byte mechanics (buffers, little-endian fields, CRC) are host/bytebuf.c; this file is the
 * format: sections, their fields, and the checks on loading.
 *
 * Format versions 1, 2 and 3. Integers are little-endian; f32/f64 are IEEE-754 bit patterns (NaN kept
 * as is); a string is a u16 byte count and that many bytes, no terminator. Version 2 differs only
 * in RESM, which then also carries the mid-epoch state of a run stopped inside an epoch; a file
 * without that state is written as version 1, so models and epoch-boundary MODEL.last files stay
 * readable by builds that know only version 1 (which refuse a version-2 file rather than resume
 * it wrongly). Version 3 is written only for a model that predicts differently from its weights
 * alone (a PRED section with reverse-complement flags, or an ENSM section: an ensemble), so older
 * builds refuse it rather than score it wrongly; in version 3, flags bit 1 says that RESM carries
 * the mid-epoch state (in version 2 it always does).
 *
 *   offset    size  field
 *   0         8     magic "DMMODEL\0"
 *   8         4     u32 format version (1, or 2 for a mid-epoch resume state)
 *   12        4     u32 flags: bit 0 set iff a RESM section is present; other bits are written 0
 *                   and ignored on reading
 *   16        ...   sections, each: u32 tag (four ASCII bytes in file order, e.g. "HPAR"),
 *                   u64 payload length in bytes, payload
 *   size − 4  4     u32 CRC-32 (zlib crc32) of bytes [0, size − 4)
 *
 * Sections (written in this order; read in any order, each at most once; tags this reader does not
 * know are skipped; a known section must be consumed exactly by its fields):
 *   HPAR  u32 arch (the architecture's position in host/arch.c's table: 0 cnn, 1 rnn, 2 cnnrnn, ...); i32 len; i32 n_conv; u32 n_width (DM_MAX_CONV when
 *         written); i32 conv_width[n_width]; i32 conv_channels; i32 pool; i32 hidden; f32 dropout
 *   TENS  u32 n_tensors; per tensor: str name; u32 ndim (≤ 4); i64 shape[ndim]; i64 offset;
 *         i64 numel (offset and numel in floats into the parameter array)
 *   PARM  u64 n_params; f32 params[n_params]
 *   PROV  str version, protocol, device, created_utc, label; u64 seed; i32 threads, batch;
 *         f32 lr0, valid_frac; i32 epochs_max, epochs_run, best_epoch; i64 n_train, n_valid,
 *         n_test; f64 train_seconds, test_auroc, test_auprc, test_accuracy;
 *         u32 n_inputs, per input: str role, str path, u64 bytes, str sha256;
 *         u32 n_epochs, per log row: i32 epoch; f32 lr; f64 train_loss, valid_loss, valid_auroc,
 *         seconds
 *   RESM  (optional) i32 epoch_done; i64 adam_t; f32 lr; f64 best_valid; i32 best_epoch;
 *         i32 bad_epochs; u64 n (= n_params); f32 adam_m[n], adam_v[n], best_params[n];
 *         version 2 only, then: i32 batch_done (≥ 1: batches of epoch epoch_done + 1 already run);
 *         i32 batch (their size, ≥ 1); i64 rows_done (≥ 1); f32 part_logprob[2 · rows_done];
 *         f32 part_loss[rows_done]
 *   PRED  (optional, version 3) u32 rc: bit 0 trained with reverse complements (recorded only), bit 1
 *         score = mean of the sequence's and its reverse complement's P(bound); other bits 0
 *   ENSM  (optional, version 3) u32 n_members (≥ 2; PARM is member 0, trained with PROV's seed, member
 *         k with seed + k); u64 n (= n_params); f32 params[(n_members − 1) · n], members 1.. in order
 *   AVGW  (optional, any version: the model's score is still its PARM alone) f32 decay (> 0, < 1:
 *         trained with that weight average, train --ema); u64 n (0, or n_params beside RESM);
 *         f32 avg[n], the running average a resume continues
 *   RSTR  (optional, any version) u32 restarts (1..1000): dead starts trained again before these
 *         weights (train's dm_train_dead_start); a resume continues restart `restarts`'s seed
 *   NEGF  (optional, any version) u32 1: trained with fresh negatives (train --fresh-negatives: each
 *         paired negative a new dinucleotide shuffle of its positive every epoch); a resume keeps them
 * HPAR, TENS, PARM and PROV are required.
 *
 * Loading checks, in order, each failure DM_STATUS_CORRUPT naming the file: size and magic ("not a
 * deepmotif model file"), version ("written by a newer deepmotif (format N)"), CRC ("checksum
 * mismatch", or "truncated or damaged" with the byte where the data run out when the section walk
 * fails too), the section walk, then the fields with a bounds check on every read, hyper-parameter
 * ranges (so a damaged but CRC-valid file cannot ask for absurd allocations later), and finally the
 * tensor table against the one `make_table` gives for those hyper-parameters. The whole file is
 * read into memory first (a model is a few MB at most). A file that cannot be opened or read is
 * DM_STATUS_IO, as is a directory ("is a directory") or another file that is not a regular one; an
 * allocation failure DM_STATUS_NOMEM.
 *
 * Hyper-parameter ranges accepted on loading: arch 0..dm_arch_count()−1; len 1..100000; n_conv
 * 0..DM_MAX_CONV; conv_width[i] 1..64 for i < n_conv (unused slots are free); conv_channels 1..4096,
 * hidden 1..4096 and pool 1..100000, each 0 allowed where the architecture's table entry does not
 * use it (DM_USES_*: conv_channels 0 for the RNN, hidden 0 for the CNN, pool 0 except for the CNN);
 * 0 ≤ dropout < 1.
 */
#include <errno.h>
#include <string.h>
#include <sys/types.h>
#include <zlib.h>

#include "arch.h"
#include "bytebuf.h"
#include "dm_internal.h"

#define DM_CKPT_MAGIC "DMMODEL"          /* 7 characters + the terminating NUL = 8 bytes */
#define DM_CKPT_VERSION 3u               /* the newest version read; written only when needed */
#define DM_CKPT_FLAG_RESUME 1u
#define DM_CKPT_FLAG_MID_EPOCH 2u        /* version 3: RESM carries the mid-epoch state */
#define DM_CKPT_MAX_MEMBERS 1024
#define DM_CKPT_MAX_RESTARTS 1000
#define DM_CKPT_HEADER 16                /* magic, version, flags */
#define DM_CKPT_SECTION_HEADER 12        /* tag, length */

/* A tag as the u32 whose little-endian bytes spell it. */
#define DM_TAG(a, b, c, d)                                                                         \
    ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)

/* The known sections, in writing order. */
enum { DM_SEC_HPAR, DM_SEC_TENS, DM_SEC_PARM, DM_SEC_PROV, DM_SEC_RESM, DM_SEC_PRED, DM_SEC_ENSM, DM_SEC_AVGW,
       DM_SEC_RSTR, DM_SEC_NEGF, DM_SEC_COUNT };
static const uint32_t dm_sec_tag[DM_SEC_COUNT] = {
    DM_TAG('H', 'P', 'A', 'R'), DM_TAG('T', 'E', 'N', 'S'), DM_TAG('P', 'A', 'R', 'M'),
    DM_TAG('P', 'R', 'O', 'V'), DM_TAG('R', 'E', 'S', 'M'), DM_TAG('P', 'R', 'E', 'D'),
    DM_TAG('E', 'N', 'S', 'M'), DM_TAG('A', 'V', 'G', 'W'), DM_TAG('R', 'S', 'T', 'R'),
    DM_TAG('N', 'E', 'G', 'F'),
};

/* Opens a section: tag, a length placeholder; returns where the payload starts. */
static size_t dm_w_begin(dm_wbuf *w, int sec) {
    dm_w_u32(w, dm_sec_tag[sec]);
    dm_w_u64(w, 0);
    return w->n;
}

/* Closes a section: patches its length now that the payload is written. */
static void dm_w_end(dm_wbuf *w, size_t start) {
    if (!w->nomem) dm_store_le(w->p + start - 8, (uint64_t)(w->n - start), 8);
}

/* ---- the sections, written ------------------------------------------------------------------ */

static void dm_w_hparams(dm_wbuf *w, const dm_hparams *hp) {
    size_t s = dm_w_begin(w, DM_SEC_HPAR);
    dm_w_u32(w, (uint32_t)hp->arch);
    dm_w_i32(w, hp->len);
    dm_w_i32(w, hp->n_conv);
    // every width slot, used or not, so a round trip is exact
    dm_w_u32(w, DM_MAX_CONV);
    for (int i = 0; i < DM_MAX_CONV; i++) dm_w_i32(w, hp->conv_width[i]);
    dm_w_i32(w, hp->conv_channels);
    dm_w_i32(w, hp->pool);
    dm_w_i32(w, hp->hidden);
    dm_w_f32(w, hp->dropout);
    dm_w_end(w, s);
}

static void dm_w_tensors(dm_wbuf *w, const dm_tensor_info *t, int32_t n) {
    size_t s = dm_w_begin(w, DM_SEC_TENS);
    dm_w_u32(w, (uint32_t)n);
    for (int32_t i = 0; i < n; i++) {
        dm_w_str(w, t[i].name, sizeof t[i].name);
        dm_w_u32(w, (uint32_t)t[i].ndim);
        for (int d = 0; d < t[i].ndim; d++) dm_w_i64(w, t[i].shape[d]);
        dm_w_i64(w, t[i].offset);
        dm_w_i64(w, t[i].numel);
    }
    dm_w_end(w, s);
}

static void dm_w_provenance(dm_wbuf *w, const dm_provenance *p) {
    size_t s = dm_w_begin(w, DM_SEC_PROV);
    dm_w_str(w, p->version, sizeof p->version);
    dm_w_str(w, p->protocol, sizeof p->protocol);
    dm_w_str(w, p->device, sizeof p->device);
    dm_w_str(w, p->created_utc, sizeof p->created_utc);
    dm_w_str(w, p->label, sizeof p->label);
    dm_w_u64(w, p->seed);
    dm_w_i32(w, p->threads);
    dm_w_i32(w, p->batch);
    dm_w_f32(w, p->lr0);
    dm_w_f32(w, p->valid_frac);
    dm_w_i32(w, p->epochs_max);
    dm_w_i32(w, p->epochs_run);
    dm_w_i32(w, p->best_epoch);
    dm_w_i64(w, p->n_train);
    dm_w_i64(w, p->n_valid);
    dm_w_i64(w, p->n_test);
    dm_w_f64(w, p->train_seconds);
    dm_w_f64(w, p->test_auroc);
    dm_w_f64(w, p->test_auprc);
    dm_w_f64(w, p->test_accuracy);
    // input files, then the training log
    dm_w_u32(w, (uint32_t)p->n_inputs);
    for (int32_t i = 0; i < p->n_inputs; i++) {
        const dm_input_file *f = &p->inputs[i];
        dm_w_str(w, f->role, sizeof f->role);
        dm_w_str(w, f->path, sizeof f->path);
        dm_w_u64(w, f->bytes);
        dm_w_str(w, f->sha256, sizeof f->sha256);
    }
    dm_w_u32(w, (uint32_t)p->n_epochs);
    for (int32_t i = 0; i < p->n_epochs; i++) {
        const dm_epoch_log *e = &p->log[i];
        dm_w_i32(w, e->epoch);
        dm_w_f32(w, e->lr);
        dm_w_f64(w, e->train_loss);
        dm_w_f64(w, e->valid_loss);
        dm_w_f64(w, e->valid_auroc);
        dm_w_f64(w, e->seconds);
    }
    dm_w_end(w, s);
}

/* Whether a resume state needs format 2 (it was taken inside an epoch). */
static int dm_resume_mid_epoch(const dm_resume_state *r) { return r && r->batch_done > 0; }

static void dm_w_resume(dm_wbuf *w, const dm_resume_state *r, int64_t n_params) {
    size_t s = dm_w_begin(w, DM_SEC_RESM);
    dm_w_i32(w, r->epoch_done);
    dm_w_i64(w, r->adam_t);
    dm_w_f32(w, r->lr);
    dm_w_f64(w, r->best_valid);
    dm_w_i32(w, r->best_epoch);
    dm_w_i32(w, r->bad_epochs);
    dm_w_u64(w, (uint64_t)n_params);
    dm_w_floats(w, r->adam_m, n_params);
    dm_w_floats(w, r->adam_v, n_params);
    dm_w_floats(w, r->best_params, n_params);
    if (dm_resume_mid_epoch(r)) {
        dm_w_i32(w, r->batch_done);
        dm_w_i32(w, r->batch);
        dm_w_i64(w, r->rows_done);
        dm_w_floats(w, r->part_logprob, 2 * r->rows_done);
        dm_w_floats(w, r->part_loss, r->rows_done);
    }
    dm_w_end(w, s);
}

/* The caller's arguments, checked before anything is assembled: every count within its array. */
static dm_status dm_checkpoint_save_args(const char *path, const dm_hparams *hp, const dm_tensor_info *tensors,
                                         int32_t n_tensors, const float *params, int64_t n_params,
                                         const dm_provenance *prov, const dm_resume_state *resume) {
    const char *f = "dm_checkpoint_save";
    DM_CHECK_ARG(path && hp && prov, "%s: path, hyper-parameters and provenance must not be NULL", f);
    DM_CHECK_ARG(n_params >= 0 && (params || n_params == 0), "%s: %s: %lld parameters%s", f, path,
                 (long long)n_params, params ? "" : " and no parameter array");
    DM_CHECK_ARG(n_tensors >= 0 && n_tensors <= DM_MAX_TENSORS && (tensors || n_tensors == 0),
                 "%s: %s: %d tensors (0 to %d, with a table)", f, path, (int)n_tensors, DM_MAX_TENSORS);
    for (int32_t i = 0; i < n_tensors; i++)
        DM_CHECK_ARG(tensors[i].ndim >= 0 && tensors[i].ndim <= 4, "%s: %s: tensor %d has %d dimensions (0 to 4)",
                     f, path, (int)i, (int)tensors[i].ndim);
    DM_CHECK_ARG(prov->n_inputs >= 0 && prov->n_inputs <= DM_MAX_INPUTS, "%s: %s: %d input files (0 to %d)", f,
                 path, (int)prov->n_inputs, DM_MAX_INPUTS);
    DM_CHECK_ARG(prov->n_epochs >= 0 && prov->n_epochs <= DM_MAX_EPOCHS, "%s: %s: %d log rows (0 to %d)", f, path,
                 (int)prov->n_epochs, DM_MAX_EPOCHS);
    if (resume) {
        DM_CHECK_ARG(n_params == 0 || (resume->adam_m && resume->adam_v && resume->best_params),
                     "%s: %s: the resume state lacks its Adam moments or best weights", f, path);
        if (dm_resume_mid_epoch(resume))
            DM_CHECK_ARG(resume->batch >= 1 && resume->rows_done >= 1 && resume->part_logprob && resume->part_loss,
                         "%s: %s: the mid-epoch resume state (batch %d, %lld rows done) lacks its partial results",
                         f, path, (int)resume->batch, (long long)resume->rows_done);
    }
    return DM_STATUS_OK;
}

dm_status dm_checkpoint_save(const char *path, const dm_hparams *hp, const dm_tensor_info *tensors,
                             int32_t n_tensors, const float *params, int64_t n_params,
                             const dm_provenance *prov, const dm_resume_state *resume) {
    return dm_checkpoint_save_ex(path, hp, tensors, n_tensors, params, n_params, prov, resume, NULL);
}

dm_status dm_checkpoint_save_ex(const char *path, const dm_hparams *hp, const dm_tensor_info *tensors,
                                int32_t n_tensors, const float *params, int64_t n_params,
                                const dm_provenance *prov, const dm_resume_state *resume, const dm_ckpt_extra *x) {
    DM_TRY(dm_checkpoint_save_args(path, hp, tensors, n_tensors, params, n_params, prov, resume));
    bool ens = x && x->n_members > 1, avg = prov->ema > 0, v3 = x && (x->rc || ens);
    DM_CHECK_ARG(!x || (x->n_members >= 1 && x->n_members <= DM_CKPT_MAX_MEMBERS && (!ens || x->members) &&
                        x->rc <= (DM_RC_AUGMENT | DM_RC_AVERAGE)),
                 "dm_checkpoint_save: %s: %d members, rc flags %u", path, x ? (int)x->n_members : 0, x ? x->rc : 0);
    DM_CHECK_ARG(!avg || prov->ema < 1, "dm_checkpoint_save: %s: weight-average decay %g (0 to 1)", path,
                 (double)prov->ema);
    // the whole file is assembled in memory, then written in one go
    dm_wbuf w = {0};
    uint8_t *magic = dm_w_room(&w, 8);
    if (magic) memcpy(magic, DM_CKPT_MAGIC, 8);
    dm_w_u32(&w, v3 ? 3u : dm_resume_mid_epoch(resume) ? 2u : 1u);
    dm_w_u32(&w, (resume ? DM_CKPT_FLAG_RESUME : 0) | (v3 && dm_resume_mid_epoch(resume) ? DM_CKPT_FLAG_MID_EPOCH : 0));
    dm_w_hparams(&w, hp);
    dm_w_tensors(&w, tensors, n_tensors);
    size_t s = dm_w_begin(&w, DM_SEC_PARM);
    dm_w_u64(&w, (uint64_t)n_params);
    dm_w_floats(&w, params, n_params);
    dm_w_end(&w, s);
    dm_w_provenance(&w, prov);
    if (resume) dm_w_resume(&w, resume, n_params);
    if (v3) {
        s = dm_w_begin(&w, DM_SEC_PRED);
        dm_w_u32(&w, x->rc);
        dm_w_end(&w, s);
    }
    if (ens) {
        s = dm_w_begin(&w, DM_SEC_ENSM);
        dm_w_u32(&w, (uint32_t)x->n_members);
        dm_w_u64(&w, (uint64_t)n_params);
        dm_w_floats(&w, x->members, (int64_t)(x->n_members - 1) * n_params);
        dm_w_end(&w, s);
    }
    if (avg) {
        bool running = resume && resume->avg;
        s = dm_w_begin(&w, DM_SEC_AVGW);
        dm_w_f32(&w, prov->ema);
        dm_w_u64(&w, running ? (uint64_t)n_params : 0);
        if (running) dm_w_floats(&w, resume->avg, n_params);
        dm_w_end(&w, s);
    }
    if (prov->restarts > 0) {
        s = dm_w_begin(&w, DM_SEC_RSTR);
        dm_w_u32(&w, (uint32_t)prov->restarts);
        dm_w_end(&w, s);
    }
    if (prov->fresh_negatives) {
        s = dm_w_begin(&w, DM_SEC_NEGF);
        dm_w_u32(&w, 1);
        dm_w_end(&w, s);
    }
    // the trailer covers every byte before it
    if (!w.nomem) dm_w_u32(&w, dm_crc32(w.p, w.n));
    if (w.nomem) {
        free(w.p);
        return dm_error(DM_STATUS_NOMEM, "%s: out of memory assembling the model file", path);
    }
    // temp file + rename: a crash or a failed write leaves no partial model behind
    dm_outfile o;
    dm_status st = dm_outfile_open(&o, path);
    if (st == DM_STATUS_OK) {
        if (fwrite(w.p, 1, w.n, o.f) != w.n) {
            int err = dm_outfile_errno(&o);
            dm_outfile_abort(&o);
            st = dm_error(DM_STATUS_IO, "%s: write failed: %s", path, strerror(err));
        } else {
            st = dm_outfile_commit(&o);
        }
    }
    free(w.p);
    return st;
}

/* ---- the sections, read --------------------------------------------------------------------- */

/* The located payloads of the known sections (present = 0 when absent). */
typedef struct dm_sections {
    int present[DM_SEC_COUNT];
    dm_rbuf body[DM_SEC_COUNT];
} dm_sections;

/* A tag as printable text for messages ("HPAR"; '?' for bytes that are not printable ASCII). */
static void dm_tag_text(uint32_t tag, char out[5]) {
    for (int i = 0; i < 4; i++) {
        char c = (char)(tag >> (8 * i));
        out[i] = (c >= 0x20 && c < 0x7f) ? c : '?';
    }
    out[4] = '\0';
}

static dm_status dm_bad_section(const char *path, int sec) {
    char t[5];
    dm_tag_text(dm_sec_tag[sec], t);
    return dm_error(DM_STATUS_CORRUPT, "%s: section %s is malformed (truncated or wrong length)",
                    path, t);
}

/* HPAR into *hp; the architecture number is returned raw in *arch (hp->arch holds it only when it
 * names an architecture, so the enum never holds an invalid value). */
static void dm_r_hparams(dm_rbuf *r, dm_hparams *hp, uint32_t *arch) {
    memset(hp, 0, sizeof *hp);
    *arch = dm_r_u32(r);
    hp->arch = *arch < (uint32_t)dm_arch_count() ? (dm_arch)*arch : (dm_arch)0;
    hp->len = dm_r_i32(r);
    hp->n_conv = dm_r_i32(r);
    // widths beyond this build's DM_MAX_CONV are read and dropped (n_conv ≤ DM_MAX_CONV is checked
    // later); slots the file lacks stay 0, which the range check refuses if they are in use
    uint32_t n_width = dm_r_u32(r);
    for (uint32_t i = 0; i < n_width && !r->bad; i++) {
        int32_t wd = dm_r_i32(r);
        if (i < DM_MAX_CONV) hp->conv_width[i] = wd;
    }
    hp->conv_channels = dm_r_i32(r);
    hp->pool = dm_r_i32(r);
    hp->hidden = dm_r_i32(r);
    hp->dropout = dm_r_f32(r);
}

/* Sanity ranges, so a damaged but CRC-valid file cannot make anyone allocate absurd sizes. A field
 * the architecture uses must be ≥ 1; one it does not use may be 0. Returns NULL or the field
 * name. */
static const char *dm_hparams_insane(const dm_hparams *hp, uint32_t arch) {
    const dm_arch_def *a = dm_arch_at((int)arch);
    if (arch >= (uint32_t)dm_arch_count() || !a) return "arch";
    int conv = !!(a->uses & DM_USES_CONV), lstm = !!(a->uses & DM_USES_LSTM), pool = !!(a->uses & DM_USES_POOL);
    if (hp->len < 1 || hp->len > 100000) return "len";
    if (hp->n_conv < 0 || hp->n_conv > DM_MAX_CONV) return "n_conv";
    for (int i = 0; i < hp->n_conv; i++)
        if (hp->conv_width[i] < 1 || hp->conv_width[i] > 64) return "conv_width";
    if (hp->conv_channels < conv || hp->conv_channels > 4096) return "conv_channels";
    if (hp->hidden < lstm || hp->hidden > 4096) return "hidden";
    if (hp->pool < pool || hp->pool > 100000) return "pool";
    if (!(hp->dropout >= 0.0f && hp->dropout < 1.0f)) return "dropout";
    return NULL;
}

/* Reads the TENS section into t[DM_MAX_TENSORS]; returns the count, or −1 if malformed. */
static int32_t dm_r_tensors(dm_rbuf *r, dm_tensor_info *t) {
    uint32_t n = dm_r_u32(r);
    if (n > DM_MAX_TENSORS) return -1;
    for (uint32_t i = 0; i < n && !r->bad; i++) {
        memset(&t[i], 0, sizeof t[i]);
        dm_r_str(r, t[i].name, sizeof t[i].name);
        uint32_t ndim = dm_r_u32(r);
        if (ndim > 4) return -1;
        t[i].ndim = (int32_t)ndim;
        for (uint32_t d = 0; d < ndim; d++) t[i].shape[d] = dm_r_i64(r);
        t[i].offset = dm_r_i64(r);
        t[i].numel = dm_r_i64(r);
    }
    return dm_r_ok(r) ? (int32_t)n : -1;
}

/* "(128, 9, 4)" */
static void dm_shape_text(const dm_tensor_info *t, char *out, size_t cap) {
    size_t k = (size_t)snprintf(out, cap, "(");
    for (int d = 0; d < t->ndim && k < cap; d++)
        k += (size_t)snprintf(out + k, cap - k, "%s%lld", d ? ", " : "", (long long)t->shape[d]);
    if (k < cap) snprintf(out + k, cap - k, ")");
}

/* Compares the file's tensor table with the model's; names the first tensor that differs. */
static dm_status dm_check_table(const char *path, const dm_tensor_info *got, int32_t n_got,
                                const dm_tensor_info *want, int32_t n_want) {
    int32_t n = n_got > n_want ? n_got : n_want;
    for (int32_t i = 0; i < n; i++) {
        if (i >= n_got)
            return dm_error(DM_STATUS_CORRUPT, "%s: tensor table mismatch: the file lacks tensor "
                            "'%s' of the model", path, want[i].name);
        if (i >= n_want)
            return dm_error(DM_STATUS_CORRUPT, "%s: tensor table mismatch: the file has tensor "
                            "'%s' the model lacks", path, got[i].name);
        const dm_tensor_info *g = &got[i], *w = &want[i];
        if (w->ndim < 0 || w->ndim > 4)   /* make_table is the caller's */
            return dm_error(DM_STATUS_ARG, "%s: the expected tensor table has %d dimensions for tensor '%s' (0 to 4)",
                            path, (int)w->ndim, w->name);
        if (strncmp(g->name, w->name, sizeof g->name) != 0)
            return dm_error(DM_STATUS_CORRUPT, "%s: tensor table mismatch: tensor %d is '%s' in "
                            "the file, the model expects '%s'", path, (int)i, g->name, w->name);
        // same name: compare shape, then position in the arena
        int same_shape = g->ndim == w->ndim;
        for (int d = 0; d < g->ndim && same_shape; d++) same_shape = g->shape[d] == w->shape[d];
        if (!same_shape) {
            char sg[128], sw[128];
            dm_shape_text(g, sg, sizeof sg);
            dm_shape_text(w, sw, sizeof sw);
            return dm_error(DM_STATUS_CORRUPT, "%s: tensor table mismatch: tensor '%s' has shape "
                            "%s in the file, the model expects %s", path, g->name, sg, sw);
        }
        if (g->offset != w->offset || g->numel != w->numel)
            return dm_error(DM_STATUS_CORRUPT, "%s: tensor table mismatch: tensor '%s' is at "
                            "offset %lld (%lld values) in the file, the model expects %lld (%lld)",
                            path, g->name, (long long)g->offset, (long long)g->numel,
                            (long long)w->offset, (long long)w->numel);
    }
    return DM_STATUS_OK;
}

static void dm_r_provenance(dm_rbuf *r, dm_provenance *p) {
    dm_r_str(r, p->version, sizeof p->version);
    dm_r_str(r, p->protocol, sizeof p->protocol);
    dm_r_str(r, p->device, sizeof p->device);
    dm_r_str(r, p->created_utc, sizeof p->created_utc);
    dm_r_str(r, p->label, sizeof p->label);
    p->seed = dm_r_u64(r);
    p->threads = dm_r_i32(r);
    p->batch = dm_r_i32(r);
    p->lr0 = dm_r_f32(r);
    p->valid_frac = dm_r_f32(r);
    p->epochs_max = dm_r_i32(r);
    p->epochs_run = dm_r_i32(r);
    p->best_epoch = dm_r_i32(r);
    p->n_train = dm_r_i64(r);
    p->n_valid = dm_r_i64(r);
    p->n_test = dm_r_i64(r);
    p->train_seconds = dm_r_f64(r);
    p->test_auroc = dm_r_f64(r);
    p->test_auprc = dm_r_f64(r);
    p->test_accuracy = dm_r_f64(r);
    // counts are checked against the fixed arrays before any row is read
    uint32_t n_inputs = dm_r_u32(r);
    if (n_inputs > DM_MAX_INPUTS) {
        r->bad = 1;
        return;
    }
    p->n_inputs = (int32_t)n_inputs;
    for (int32_t i = 0; i < p->n_inputs; i++) {
        dm_input_file *f = &p->inputs[i];
        dm_r_str(r, f->role, sizeof f->role);
        dm_r_str(r, f->path, sizeof f->path);
        f->bytes = dm_r_u64(r);
        dm_r_str(r, f->sha256, sizeof f->sha256);
    }
    uint32_t n_epochs = dm_r_u32(r);
    if (n_epochs > DM_MAX_EPOCHS) {
        r->bad = 1;
        return;
    }
    p->n_epochs = (int32_t)n_epochs;
    for (int32_t i = 0; i < p->n_epochs; i++) {
        dm_epoch_log *e = &p->log[i];
        e->epoch = dm_r_i32(r);
        e->lr = dm_r_f32(r);
        e->train_loss = dm_r_f64(r);
        e->valid_loss = dm_r_f64(r);
        e->valid_auroc = dm_r_f64(r);
        e->seconds = dm_r_f64(r);
    }
}

/* RESM into *rs, its arrays allocated here (freed again on failure); `version` 2 adds the
 * mid-epoch state. */
static dm_status dm_r_resume(const char *path, dm_rbuf *r, uint32_t version, int64_t n_params,
                             dm_resume_state *rs) {
    memset(rs, 0, sizeof *rs);
    rs->epoch_done = dm_r_i32(r);
    rs->adam_t = dm_r_i64(r);
    rs->lr = dm_r_f32(r);
    rs->best_valid = dm_r_f64(r);
    rs->best_epoch = dm_r_i32(r);
    rs->bad_epochs = dm_r_i32(r);
    uint64_t n = dm_r_u64(r);
    if (r->bad || n != (uint64_t)n_params) return dm_bad_section(path, DM_SEC_RESM);
    // one allocation of at least one float each, so a 0-parameter model still gets arrays
    size_t bytes = (size_t)(n_params > 0 ? n_params : 1) * sizeof(float);
    rs->adam_m = malloc(bytes);
    rs->adam_v = malloc(bytes);
    rs->best_params = malloc(bytes);
    if (!rs->adam_m || !rs->adam_v || !rs->best_params) {
        dm_resume_state_free(rs);
        return dm_error(DM_STATUS_NOMEM, "%s: out of memory for the resume state", path);
    }
    dm_r_floats(r, rs->adam_m, n_params);
    dm_r_floats(r, rs->adam_v, n_params);
    dm_r_floats(r, rs->best_params, n_params);
    if (version >= 2) {
        rs->batch_done = dm_r_i32(r);
        rs->batch = dm_r_i32(r);
        rs->rows_done = dm_r_i64(r);
        // the row count is checked against the bytes left (12 per row) before it sizes anything
        if (r->bad || rs->batch_done < 1 || rs->batch < 1 || rs->rows_done < 1 ||
            (uint64_t)rs->rows_done > (r->n - r->pos) / 12) {
            dm_resume_state_free(rs);
            return dm_bad_section(path, DM_SEC_RESM);
        }
        rs->part_logprob = malloc(sizeof(float) * 2 * (size_t)rs->rows_done);
        rs->part_loss = malloc(sizeof(float) * (size_t)rs->rows_done);
        if (!rs->part_logprob || !rs->part_loss) {
            dm_resume_state_free(rs);
            return dm_error(DM_STATUS_NOMEM, "%s: out of memory for the resume state", path);
        }
        dm_r_floats(r, rs->part_logprob, 2 * rs->rows_done);
        dm_r_floats(r, rs->part_loss, rs->rows_done);
    }
    if (!dm_r_ok(r)) {
        dm_resume_state_free(rs);
        return dm_bad_section(path, DM_SEC_RESM);
    }
    return DM_STATUS_OK;
}

/* AVGW: the decay into prov; the running average (n = n_params, only beside RESM) into rs->avg when
 * rs is non-NULL (freed with rs on failure). */
static dm_status dm_r_avg(const char *path, dm_rbuf *r, int64_t n_params, dm_provenance *prov, dm_resume_state *rs) {
    prov->ema = dm_r_f32(r);
    uint64_t n = dm_r_u64(r);
    if (r->bad || !(prov->ema > 0 && prov->ema < 1) || (n != 0 && n != (uint64_t)n_params) || n * 4 != r->n - r->pos) {
        if (rs) dm_resume_state_free(rs);
        return dm_bad_section(path, DM_SEC_AVGW);
    }
    if (n && rs) {
        if (!(rs->avg = malloc(sizeof(float) * (size_t)n))) {
            dm_resume_state_free(rs);
            return dm_error(DM_STATUS_NOMEM, "%s: out of memory for the weight average", path);
        }
        dm_r_floats(r, rs->avg, n_params);
    }
    return DM_STATUS_OK;
}

/* PRED and ENSM (version 3 only; an earlier file's are unknown sections) into *x when x is non-NULL. */
static dm_status dm_r_extra(const char *path, dm_sections *s, uint32_t version, int64_t n_params, dm_ckpt_extra *x) {
    if (!x || version < 3) return DM_STATUS_OK;
    if (s->present[DM_SEC_PRED]) {
        dm_rbuf *r = &s->body[DM_SEC_PRED];
        x->rc = dm_r_u32(r);
        if (!dm_r_ok(r) || x->rc > (DM_RC_AUGMENT | DM_RC_AVERAGE)) return dm_bad_section(path, DM_SEC_PRED);
    }
    if (!s->present[DM_SEC_ENSM]) return DM_STATUS_OK;
    dm_rbuf *r = &s->body[DM_SEC_ENSM];
    uint32_t k = dm_r_u32(r);
    uint64_t n = dm_r_u64(r);
    // the count is checked against the bytes present before it sizes anything
    if (r->bad || k < 2 || k > DM_CKPT_MAX_MEMBERS || n != (uint64_t)n_params ||
        (uint64_t)(k - 1) * n * 4 != r->n - r->pos)
        return dm_error(DM_STATUS_CORRUPT, "%s: section ENSM is malformed (%u members of %llu parameters in %zu "
                        "bytes; the model has %lld parameters)", path, k, (unsigned long long)n,
                        r->n > r->pos ? r->n - r->pos : 0, (long long)n_params);
    if (!(x->members = malloc(sizeof(float) * (size_t)(k - 1) * (size_t)(n > 0 ? n : 1))))
        return dm_error(DM_STATUS_NOMEM, "%s: out of memory for %u ensemble members", path, k);
    dm_r_floats(r, x->members, (int64_t)(k - 1) * n_params);
    x->n_members = (int32_t)k;
    if (!dm_r_ok(r)) return dm_bad_section(path, DM_SEC_ENSM);
    return DM_STATUS_OK;
}

void dm_ckpt_extra_free(dm_ckpt_extra *x) {
    if (!x) return;
    free(x->members);
    x->members = NULL;
    x->n_members = 1;
}

/* ---- loading ------------------------------------------------------------------------------- */

/* Reads the whole file into *buf after checking, from its first bytes, that it is a deepmotif
 * model of a version this build reads. The checks on the header happen before the (possibly large)
 * rest of a foreign file is read. */
static dm_status dm_read_model_file(const char *path, uint8_t **buf, size_t *size) {
    *buf = NULL;
    *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return dm_error(DM_STATUS_IO, "%s: cannot open: %s", path, strerror(errno));
    // a directory opens, and seeks to a huge "size"; a FIFO or device has no size to seek to
    int64_t regular_size;
    dm_status chk = dm_input_check(path, fileno(f), &regular_size);
    if (chk == DM_STATUS_OK && regular_size < 0)
        chk = dm_error(DM_STATUS_IO, "%s: not a regular file (a model file is read whole)", path);
    if (chk != DM_STATUS_OK) {
        fclose(f);
        return chk;
    }
    if (fseeko(f, 0, SEEK_END) != 0) {
        int err = errno;
        fclose(f);
        return dm_error(DM_STATUS_IO, "%s: cannot read: %s", path, strerror(err));
    }
    off_t end = ftello(f);
    if (end < 0 || fseeko(f, 0, SEEK_SET) != 0) {
        int err = errno;
        fclose(f);
        return dm_error(DM_STATUS_IO, "%s: cannot read: %s", path, strerror(err));
    }
    if ((uint64_t)end > SIZE_MAX - 1) {
        fclose(f);
        return dm_error(DM_STATUS_NOMEM, "%s: file too large to load", path);
    }
    size_t n = (size_t)end;
    uint8_t *p = malloc(n > 0 ? n : 1);
    if (!p) {
        fclose(f);
        return dm_error(DM_STATUS_NOMEM, "%s: out of memory for a %zu-byte file", path, n);
    }
    // the header first: magic (as much of it as the file holds), size, version
    size_t head = n < DM_CKPT_HEADER ? n : DM_CKPT_HEADER;
    dm_status st = DM_STATUS_OK;
    if (fread(p, 1, head, f) != head) {
        st = dm_error(DM_STATUS_IO, "%s: read failed: %s", path, strerror(errno));
    } else if (memcmp(p, DM_CKPT_MAGIC, head < 8 ? head : 8) != 0 || n == 0) {
        st = dm_error(DM_STATUS_CORRUPT, "%s: not a deepmotif model file (%s)", path,
                      n == 0 ? "empty" : "wrong magic");
    } else if (n < DM_CKPT_HEADER + 4) {
        st = dm_error(DM_STATUS_CORRUPT, "%s: truncated deepmotif model file (%zu bytes)", path, n);
    } else {
        uint32_t version = (uint32_t)dm_load_le(p + 8, 4);
        if (version > DM_CKPT_VERSION)
            st = dm_error(DM_STATUS_CORRUPT, "%s: written by a newer deepmotif (format %u); this "
                          "build reads format %u", path, version, DM_CKPT_VERSION);
        else if (version == 0)
            st = dm_error(DM_STATUS_CORRUPT, "%s: unknown model file format version 0", path);
        else if (fread(p + head, 1, n - head, f) != n - head)
            st = dm_error(DM_STATUS_IO, "%s: read failed (file shrank while reading?)", path);
    }
    fclose(f);
    if (st != DM_STATUS_OK) {
        free(p);
        return st;
    }
    *buf = p;
    *size = n;
    return DM_STATUS_OK;
}

/* Locates the sections between the header and the CRC; checks the flags against RESM. */
static dm_status dm_find_sections(const char *path, const uint8_t *p, size_t n, dm_sections *s) {
    memset(s, 0, sizeof *s);
    size_t end = n - 4, pos = DM_CKPT_HEADER;
    while (pos < end) {
        if (end - pos < DM_CKPT_SECTION_HEADER)
            return dm_error(DM_STATUS_CORRUPT, "%s: truncated section header at byte %zu", path,
                            pos);
        uint32_t tag = (uint32_t)dm_load_le(p + pos, 4);
        uint64_t len = dm_load_le(p + pos + 4, 8);
        pos += DM_CKPT_SECTION_HEADER;
        char t[5];
        dm_tag_text(tag, t);
        if (len > end - pos)
            return dm_error(DM_STATUS_CORRUPT, "%s: section %s at byte %zu runs past the end of "
                            "the file", path, t, pos - DM_CKPT_SECTION_HEADER);
        // a known tag is recorded once; an unknown one (a later format's addition) is skipped
        for (int k = 0; k < DM_SEC_COUNT; k++) {
            if (tag != dm_sec_tag[k]) continue;
            if (s->present[k])
                return dm_error(DM_STATUS_CORRUPT, "%s: duplicate section %s", path, t);
            s->present[k] = 1;
            s->body[k] = (dm_rbuf){.p = p + pos, .n = (size_t)len};
        }
        pos += (size_t)len;
    }
    for (int k = 0; k < DM_SEC_RESM; k++) {
        if (s->present[k]) continue;
        char t[5];
        dm_tag_text(dm_sec_tag[k], t);
        return dm_error(DM_STATUS_CORRUPT, "%s: missing section %s", path, t);
    }
    uint32_t flags = (uint32_t)dm_load_le(p + 12, 4);
    if (!!(flags & DM_CKPT_FLAG_RESUME) != s->present[DM_SEC_RESM])
        return dm_error(DM_STATUS_CORRUPT, "%s: the resume-state flag and section disagree", path);
    return DM_STATUS_OK;
}

/* Everything after the file is in memory: CRC, sections, checks, outputs. */
static dm_status dm_parse_model(const char *path, const uint8_t *p, size_t n,
                                dm_table_fn make_table, dm_hparams *hp_out, float **params_out,
                                int64_t *n_params_out, dm_provenance *prov_out,
                                dm_resume_state *resume_out, dm_ckpt_extra *x_out) {
    uint32_t stored = (uint32_t)dm_load_le(p + n - 4, 4);
    dm_sections s;
    if (dm_crc32(p, n - 4) != stored) {
        // a cut-off file also fails the CRC; the section walk (bounds-checked, allocation-free)
        // tells it apart and says where the data run out
        if (dm_find_sections(path, p, n, &s) != DM_STATUS_OK) {
            char why[512];
            snprintf(why, sizeof why, "%s", dm_last_error() + strlen(path) + 2);   /* "<path>: why" */
            return dm_error(DM_STATUS_CORRUPT, "%s: truncated or damaged (%zu bytes): %s", path, n, why);
        }
        return dm_error(DM_STATUS_CORRUPT, "%s: checksum mismatch: file is corrupt (CRC-32 at byte "
                        "%zu is %08x, the content gives %08x)", path, n - 4, (unsigned)stored,
                        (unsigned)dm_crc32(p, n - 4));
    }
    DM_TRY(dm_find_sections(path, p, n, &s));

    // hyper-parameters, range-checked before they size anything
    dm_hparams hp;
    uint32_t arch;
    dm_r_hparams(&s.body[DM_SEC_HPAR], &hp, &arch);
    if (!dm_r_ok(&s.body[DM_SEC_HPAR])) return dm_bad_section(path, DM_SEC_HPAR);
    const char *bad = dm_hparams_insane(&hp, arch);
    if (bad)
        return dm_error(DM_STATUS_CORRUPT, "%s: hyper-parameter %s out of range", path, bad);

    // the tensor table must be exactly the one these hyper-parameters give
    dm_tensor_info want[DM_MAX_TENSORS], got[DM_MAX_TENSORS];
    int64_t n_want_params = -1;
    int32_t n_want = make_table(&hp, want, &n_want_params);
    if (n_want < 0 || n_want > DM_MAX_TENSORS || n_want_params < 0)
        return dm_error(DM_STATUS_CORRUPT, "%s: the hyper-parameters describe no valid model",
                        path);
    int32_t n_got = dm_r_tensors(&s.body[DM_SEC_TENS], got);
    if (n_got < 0) return dm_bad_section(path, DM_SEC_TENS);
    DM_TRY(dm_check_table(path, got, n_got, want, n_want));

    // parameters: the count must be the model's before anything is allocated
    dm_rbuf *pr = &s.body[DM_SEC_PARM];
    uint64_t n_params = dm_r_u64(pr);
    if (pr->bad) return dm_bad_section(path, DM_SEC_PARM);
    if (n_params != (uint64_t)n_want_params)
        return dm_error(DM_STATUS_CORRUPT, "%s: the file holds %llu parameters, the model has "
                        "%lld", path, (unsigned long long)n_params, (long long)n_want_params);
    float *params = malloc((size_t)(n_want_params > 0 ? n_want_params : 1) * sizeof(float));
    dm_provenance *prov = calloc(1, sizeof *prov);
    dm_resume_state rs = {0};
    dm_ckpt_extra x = {.n_members = 1};
    dm_status st = DM_STATUS_OK;
    uint32_t version = (uint32_t)dm_load_le(p + 8, 4), flags = (uint32_t)dm_load_le(p + 12, 4);
    if (!params || !prov) {
        st = dm_error(DM_STATUS_NOMEM, "%s: out of memory for %lld parameters", path,
                      (long long)n_want_params);
        goto fail;
    }
    dm_r_floats(pr, params, n_want_params);
    if (!dm_r_ok(pr)) {
        st = dm_bad_section(path, DM_SEC_PARM);
        goto fail;
    }
    dm_r_provenance(&s.body[DM_SEC_PROV], prov);
    if (!dm_r_ok(&s.body[DM_SEC_PROV])) {
        st = dm_bad_section(path, DM_SEC_PROV);
        goto fail;
    }
    // the resume state only when asked for; its arrays belong to the caller on success
    if ((st = dm_r_extra(path, &s, version, n_want_params, x_out ? &x : NULL))) goto fail;
    if (resume_out && s.present[DM_SEC_RESM]) {
        // the mid-epoch state: always in version 2, by flag in version 3
        bool mid = version == 2 || (version >= 3 && (flags & DM_CKPT_FLAG_MID_EPOCH));
        st = dm_r_resume(path, &s.body[DM_SEC_RESM], mid ? 2u : 1u, n_want_params, &rs);
        if (st != DM_STATUS_OK) goto fail;
    }
    if (s.present[DM_SEC_AVGW] &&
        (st = dm_r_avg(path, &s.body[DM_SEC_AVGW], n_want_params, prov, resume_out && rs.adam_m ? &rs : NULL)))
        goto fail;
    if (s.present[DM_SEC_RSTR]) {
        dm_rbuf *r = &s.body[DM_SEC_RSTR];
        uint32_t k = dm_r_u32(r);
        if (!dm_r_ok(r) || k < 1 || k > DM_CKPT_MAX_RESTARTS) {
            if (resume_out) dm_resume_state_free(&rs);
            st = dm_bad_section(path, DM_SEC_RSTR);
            goto fail;
        }
        prov->restarts = (int32_t)k;
    }
    if (s.present[DM_SEC_NEGF]) {
        dm_rbuf *r = &s.body[DM_SEC_NEGF];
        uint32_t f = dm_r_u32(r);
        if (!dm_r_ok(r) || f != 1) {
            if (resume_out) dm_resume_state_free(&rs);
            st = dm_bad_section(path, DM_SEC_NEGF);
            goto fail;
        }
        prov->fresh_negatives = true;
    }
    if (x_out) *x_out = x;
    *hp_out = hp;
    *params_out = params;
    *n_params_out = n_want_params;
    memcpy(prov_out, prov, sizeof *prov);
    if (resume_out) *resume_out = rs;
    free(prov);
    return DM_STATUS_OK;
fail:
    dm_ckpt_extra_free(&x);
    free(params);
    free(prov);
    return st;
}

dm_status dm_checkpoint_load(const char *path, dm_table_fn make_table, dm_hparams *hp,
                             float **params, int64_t *n_params, dm_provenance *prov,
                             dm_resume_state *resume) {
    return dm_checkpoint_load_ex(path, make_table, hp, params, n_params, prov, resume, NULL);
}

dm_status dm_checkpoint_load_ex(const char *path, dm_table_fn make_table, dm_hparams *hp, float **params,
                                int64_t *n_params, dm_provenance *prov, dm_resume_state *resume, dm_ckpt_extra *x) {
    DM_CHECK_ARG(path && make_table && hp && params && n_params && prov,
                 "dm_checkpoint_load: path, make_table, hp, params, n_params and prov must not be NULL");
    // outputs are empty until everything has been checked
    *params = NULL;
    *n_params = 0;
    if (resume) memset(resume, 0, sizeof *resume);
    if (x) *x = (dm_ckpt_extra){.n_members = 1};
    uint8_t *buf;
    size_t size;
    DM_TRY(dm_read_model_file(path, &buf, &size));
    dm_status st = dm_parse_model(path, buf, size, make_table, hp, params, n_params, prov, resume, x);
    free(buf);
    return st;
}

void dm_resume_state_free(dm_resume_state *r) {
    if (!r) return;
    free(r->adam_m);
    free(r->adam_v);
    free(r->best_params);
    free(r->part_logprob);
    free(r->part_loss);
    free(r->avg);
    memset(r, 0, sizeof *r);
}
