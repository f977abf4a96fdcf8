/*
 * gen_checkpoint_seeds.c: writes the checkpoint seed corpus (tests/fuzz/corpus/checkpoint/) with the
 * real writer, dm_checkpoint_save: one small model per architecture, with and without the resume
 * state. The CLI can only train the default shapes (hundreds of KB per file, slow to mutate), so the
 * seeds shrink the hyper-parameters to a few dozen parameters; every section and field is present.
 *   usage: gen_checkpoint_seeds DIR
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dm_internal.h"
#include "model.h"

static int write_seed(const char *dir, dm_arch arch, int with_resume) {
    dm_hparams hp;
    dm_hparams_default(&hp, arch);
    hp.len = 12;
    if (arch != DM_ARCH_RNN) {
        hp.conv_width[0] = 3;
        hp.conv_width[1] = 2;
        hp.conv_channels = 2;
        if (arch == DM_ARCH_CNN) hp.n_conv = 2;
    }
    if (arch != DM_ARCH_CNN) hp.hidden = 2;
    dm_tensor_info t[DM_MAX_TENSORS];
    int64_t np = 0;
    int32_t nt = dm_net_table(&hp, t, &np);
    if (nt <= 0 || np <= 0) {
        fprintf(stderr, "no table for %s\n", dm_arch_name(arch));
        return 1;
    }
    float *p = malloc((size_t)np * 4 * sizeof *p);
    if (!p) return 1;
    for (int64_t i = 0; i < 4 * np; i++) p[i] = (float)sin((double)i) * 0.5f;

    dm_provenance *prov = calloc(1, sizeof *prov);
    if (!prov) return 1;
    snprintf(prov->version, sizeof prov->version, "0.1.0");
    snprintf(prov->protocol, sizeof prov->protocol, "default");
    snprintf(prov->device, sizeof prov->device, "cpu: fuzz seed, 1 threads");
    snprintf(prov->created_utc, sizeof prov->created_utc, "2026-12-01T00:00:00Z");
    snprintf(prov->label, sizeof prov->label, with_resume ? "last" : "best");
    prov->seed = 1;
    prov->threads = 1;
    prov->batch = 16;
    prov->lr0 = 0.01f;
    prov->valid_frac = 0.1f;
    prov->epochs_max = 2;
    prov->epochs_run = 2;
    prov->best_epoch = 2;
    prov->n_train = 72;
    prov->n_valid = 8;
    prov->n_test = 0;
    prov->train_seconds = 0.25;
    prov->test_auroc = prov->test_auprc = prov->test_accuracy = NAN;
    prov->n_inputs = 1;
    snprintf(prov->inputs[0].role, sizeof prov->inputs[0].role, "train");
    snprintf(prov->inputs[0].path, sizeof prov->inputs[0].path, "train.seq.gz");
    prov->inputs[0].bytes = 4475;
    snprintf(prov->inputs[0].sha256, sizeof prov->inputs[0].sha256, "%064d", 0);
    prov->n_epochs = 2;
    for (int e = 0; e < 2; e++)
        prov->log[e] = (dm_epoch_log){.epoch = e + 1, .lr = 0.01f, .train_loss = 0.69 - 0.1 * e,
                                      .valid_loss = 0.7 - 0.1 * e, .valid_auroc = 0.6 + 0.1 * e,
                                      .seconds = 0.1};
    dm_resume_state rs = {.epoch_done = 2, .adam_t = 10, .lr = 0.01f, .best_valid = 0.7,
                          .best_epoch = 2, .bad_epochs = 0, .adam_m = p + np, .adam_v = p + 2 * np,
                          .best_params = p + 3 * np};
    char path[4096];
    snprintf(path, sizeof path, "%s/%s%s.dm", dir, dm_arch_name(arch), with_resume ? "-last" : "");
    dm_status st = dm_checkpoint_save(path, &hp, t, nt, p, np, prov, with_resume ? &rs : NULL);
    if (st != DM_STATUS_OK) fprintf(stderr, "%s\n", dm_last_error());
    free(p);
    free(prov);
    return st != DM_STATUS_OK;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    int bad = 0;
    for (int a = DM_ARCH_CNN; a <= DM_ARCH_CNNRNN; a++)
        for (int r = 0; r < 2; r++) bad |= write_seed(argv[1], (dm_arch)a, r);
    return bad;
}
