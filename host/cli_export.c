/*
 * cli_export.c: `deepmotif export` (issue 11), a self-contained command handler for the CLI's command
 * table: int dm_cli_export(int argc, char **argv), argv being the arguments after "export".
 *
 *   deepmotif export --model MODEL --format safetensors|onnx --out FILE
 *
 * Writes the checkpoint's weights (safetensors) or its whole eval-mode forward pass (ONNX) with the
 * library writers of export.h. Usage errors exit 2 naming the choices; a bad model or an unwritable
 * output prints one line and exits 1, leaving nothing at FILE.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export.h"
#include "model.h"

int dm_cli_export(int argc, char **argv);

static const char export_synopsis[] =
    "deepmotif export --model MODEL --format safetensors|onnx --out FILE";

static int export_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int export_usage_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "deepmotif export: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry 'deepmotif export --help'.\n");
    va_end(ap);
    return 2;
}

static int export_fail(dm_status s) {
    const char *msg = dm_last_error();
    fprintf(stderr, "deepmotif export: %s\n", msg[0] ? msg : dm_status_str(s));
    return s == DM_STATUS_ARG ? 2 : 1;
}

static void export_help(void) {
    printf("usage: %s\n\n"
           "Writes a trained model for tools without deepmotif:\n"
           "  safetensors  the weights under their names (conv1.weight, lstm.fwd.weight_ih, fc.bias, ...)\n"
           "               in PyTorch's layout (Conv1d weights (C_out, C_in, K)); the architecture and\n"
           "               hyper-parameters in the header's __metadata__\n"
           "  onnx         the whole eval-mode model (opset %d): input x (N, L, 4) one-hot ACGT,\n"
           "               output logprob (N, 2) = log-softmax over (bound, unbound)\n"
           "PyTorch's .pt is not written: it is a pickle of torch objects; build the module and load\n"
           "the safetensors file into it (safetensors.torch.load_file), or use the Python package.\n\n"
           "options:\n"
           "  --model MODEL            checkpoint written by train (required)\n"
           "  --format FORMAT          safetensors or onnx (required)\n"
           "  --out FILE               output file (required)\n"
           "  -h, --help               show this help\n",
           export_synopsis, DM_EXPORT_ONNX_OPSET);
}

int dm_cli_export(int argc, char **argv) {
    const char *model = NULL, *format = NULL, *out = NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            export_help();
            return 0;
        }
        static const char *const names[] = {"--model", "--format", "--out"};
        const char **slots[] = {&model, &format, &out};
        const char *eq = strchr(a, '=');
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        int k = 0;
        while (k < 3 && (strlen(names[k]) != len || strncmp(names[k], a, len) != 0)) k++;
        if (k == 3) return export_usage_error("unknown option '%s'", a);
        if (eq) {
            *slots[k] = eq + 1;
        } else {
            if (i + 1 >= argc) return export_usage_error("option %s needs a value", names[k]);
            *slots[k] = argv[++i];
        }
    }
    if (!model) return export_usage_error("missing --model");
    if (!format) return export_usage_error("missing --format (safetensors or onnx)");
    if (!out) return export_usage_error("missing --out");
    bool onnx = !strcmp(format, "onnx");
    if (!onnx && strcmp(format, "safetensors") != 0)
        return export_usage_error("--format: unknown format '%s' (choices: safetensors, onnx%s)", format,
                                  !strcmp(format, "pt") ? "; .pt, a torch pickle, is not written" : "");
    dm_status s = dm_outfile_check(out);
    if (s) return export_fail(s);

    dm_hparams hp;
    float *params = NULL;
    int64_t np;
    static dm_provenance prov;
    s = dm_checkpoint_load(model, dm_net_table, &hp, &params, &np, &prov, NULL);
    if (s) return export_fail(s);
    dm_tensor_info t[DM_MAX_TENSORS];
    int64_t np2;
    int32_t n = dm_net_table(&hp, t, &np2);
    s = onnx ? dm_export_onnx(out, &hp, t, n, params) : dm_export_safetensors(out, &hp, t, n, params);
    free(params);
    if (s) return export_fail(s);
    fprintf(stderr, "deepmotif export: wrote the %s model (%lld parameters) as %s to %s\n",
            dm_arch_name(hp.arch), (long long)np, onnx ? "ONNX" : "safetensors", out);
    return 0;
}
