/*
 * bench_small_model OUT [rnn]: writes a small CNN checkpoint (one conv layer of 4 filters of width
 * 5, L 101, seeded random weights; with `rnn` a BiLSTM of hidden size 2) for bench/memory.sh, so that millions of sequences run in minutes on
 * two cores: a model's memory is fixed by its batch, so the streaming commands' peak RSS in N does
 * not depend on its size, while their time does (memory.sh also times the default CNN at 100k).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dm_internal.h"
#include "model.h"

int main(int argc, char **argv) {
    bool rnn = argc == 3 && !strcmp(argv[2], "rnn");
    if (argc != 2 && !rnn) {
        fprintf(stderr, "usage: bench_small_model OUT [rnn]\n");
        return 2;
    }
    dm_hparams hp;
    dm_hparams_default(&hp, rnn ? DM_ARCH_RNN : DM_ARCH_CNN);
    if (rnn) {
        hp.hidden = 2;
    } else {
        hp.n_conv = 1;
        hp.conv_width[0] = 5;
        hp.conv_channels = 4;
    }
    hp.dropout = 0;
    dm_backend *be = dm_backend_cpu_create(1);
    dm_net *m = NULL;
    dm_status st = be ? dm_net_create(&m, &hp, be, 256) : DM_STATUS_NOMEM;
    if (!st) st = dm_net_init_params(m, 7);
    int64_t np = m ? dm_net_n_params(m) : 0;
    float *params = malloc(sizeof(float) * (size_t)(np ? np : 1));
    if (!st && !params) st = DM_STATUS_NOMEM;
    if (!st) st = dm_net_get_params(m, params);
    static dm_provenance prov;
    snprintf(prov.version, sizeof prov.version, "%s", dm_version());
    snprintf(prov.label, sizeof prov.label, "best");
    int32_t nt = 0;
    const dm_tensor_info *t = st ? NULL : dm_net_tensors(m, &nt);
    if (!st) st = dm_checkpoint_save(argv[1], &hp, t, nt, params, np, &prov, NULL);
    if (st) fprintf(stderr, "bench_small_model: %s\n", dm_last_error());
    free(params);
    if (m) dm_net_free(m);
    if (be) dm_backend_free(be);
    return st ? 1 : 0;
}
