/*
 * export.c: `deepmotif export`: a trained model for tools without deepmotif, through the library
 * writers of host/export.h: the weights as safetensors (PyTorch's layout and state_dict keys), or
 * the whole eval-mode model as ONNX. PyTorch's .pt (a pickle of torch objects) is not written.
 */
#include <string.h>

#include "cli.h"
#include "export.h"

const cli_opt cli_export_opts[] = {
    {"--model", "MODEL", "checkpoint written by train (required)", NULL, 0},
    {"--format", NULL,
     "safetensors: the weights in PyTorch's layout; onnx: the eval-mode model (required)",
     CLI_CHOICES("safetensors", "onnx"), 0},
    {"--out", "FILE", "output file (required)", NULL, 0},
    {0},
};

int cli_export(cli_args *a) {
    const char *model = cli_required(a, "--model");
    const char *format = cli_required(a, "--format");
    const char *out = cli_required(a, "--out");
    bool onnx = !strcmp(format, "onnx");
    cli_check_out(out);

    dm_hparams hp;
    float *params = NULL;
    int64_t np;
    static dm_provenance prov;   /* large: not on the stack */
    dm_ckpt_extra x;
    CLI_CHECK(dm_checkpoint_load_ex(model, dm_net_table, &hp, &params, &np, &prov, NULL, &x));
    int32_t n_members = x.n_members;
    dm_ckpt_extra_free(&x);
    if (n_members > 1)
        cli_fail(dm_error(DM_STATUS_FORMAT, "%s: an ensemble of %d models; export writes one model (give a member, "
                          "MODEL.seedS)", model, (int)n_members));
    if (x.rc & DM_RC_AVERAGE)
        fprintf(stderr, "%s: warning: %s averages both strands; the exported graph scores the strand it is given "
                "(average it with the reverse complement's score yourself)\n", cli_prog, model);
    dm_tensor_info t[DM_MAX_TENSORS];
    int64_t np2;
    int32_t n = dm_net_table(&hp, t, &np2);
    dm_status s = onnx ? dm_export_onnx(out, &hp, t, n, params) : dm_export_safetensors(out, &hp, t, n, params);
    free(params);
    CLI_CHECK(s);
    fprintf(stderr, "%s: wrote the %s model (%lld parameters) as %s to %s\n", cli_prog, dm_arch_name(hp.arch),
            (long long)np, onnx ? "ONNX" : "safetensors", out);
    return 0;
}
