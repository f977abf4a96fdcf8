/*
 * test_archs.c: every registered architecture (host/arch.c) through every command of the CLI, so a
 * new table entry is trained, evaluated, predicted, explained (saliency, temporal scores where it
 * has a recurrent layer, class optimisation, first-layer motifs where its first layer is a
 * convolution), exported (ONNX, safetensors) and shown on a dashboard without a new test. The data
 * are small simulated sets; what is checked is that each command runs to its outputs, or refuses
 * with one line naming the model file when the architecture lacks the layer the command needs.
 */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "arch.h"
#include "model.h"
#include "testutil.h"

static char *dir;

static void setup(void) { dir = dm_test_tmpdir(); cr_assert(dir); }
static void teardown(void) { dm_test_rmdir(dir); free(dir); }

TestSuite(archs, .init = setup, .fini = teardown, .timeout = 600);

#define LEN 60      /* long enough for every default layout (the CNN's 9-5-3 with two pools needs 28) */

static int cli(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int cli(const char *fmt, ...) {
    char args[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    return dm_test_system("OPENBLAS_NUM_THREADS=1 %s %s > %s/out 2> %s/err", DM_TEST_CLI, args, dir, dir);
}

static char *slurp(const char *name) { return dm_test_slurp_in(dir, name); }

static bool exists(const char *fmt, const char *name) {
    char rel[256], path[512];
    struct stat st;
    snprintf(rel, sizeof rel, fmt, name);
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    return stat(path, &st) == 0 && st.st_size > 0;
}

Test(archs, every_architecture_through_every_command) {
    cr_assert(cli("simulate --out %s/tr.seq.gz --n 200 --len %d --seed 2", dir, LEN) == 0, "%s", slurp("err"));
    cr_assert(cli("simulate --out %s/te.seq.gz --n 40 --len %d --seed 3", dir, LEN) == 0, "%s", slurp("err"));
    char models[4096] = "";
    for (int a = 0; a < dm_arch_count(); a++) {
        const char *name = dm_arch_name((dm_arch)a);
        /* what the architecture has, from its layer list at this length */
        dm_hparams hp;
        dm_hparams_default(&hp, (dm_arch)a);
        hp.len = LEN;
        dm_layer l[DM_MAX_LAYERS];
        int nl;
        cr_assert(dm_arch_layers(&hp, l, &nl) == DM_STATUS_OK, "%s: %s", name, dm_last_error());
        bool recurrent = dm_arch_has(&hp, DM_LAYER_BILSTM), first_conv = l[0].op == DM_LAYER_CONV;

        cr_assert(cli("train --arch %s --train %s/tr.seq.gz --test %s/te.seq.gz --len %d --epochs 1 --batch 32 "
                      "--threads 1 --out %s/%s.dm --quiet", name, dir, dir, LEN, dir, name) == 0,
                  "%s train: %s", name, slurp("err"));
        cr_expect(strstr(slurp("out"), "test       n 80") != NULL, "%s: %s", name, slurp("out"));
        cr_assert(exists("%s.dm", name));
        size_t k = strlen(models);
        snprintf(models + k, sizeof models - k, " --model %s/%s.dm", dir, name);

        cr_expect(cli("eval --model %s/%s.dm --data %s/te.seq.gz --json --threads 1", dir, name, dir) == 0, "%s eval: %s",
                  name, slurp("err"));
        long n = 0;
        double auroc = -1;
        cr_expect(sscanf(slurp("out"), "{\"n\": %ld, \"auroc\": %lf", &n, &auroc) == 2 && n == 80 && auroc >= 0 &&
                  auroc <= 1, "%s eval: %s", name, slurp("out"));

        cr_expect(cli("predict --model %s/%s.dm --data %s/te.seq.gz --out %s/%s.p.tsv --threads 1", dir, name, dir, dir,
                      name) == 0, "%s predict: %s", name, slurp("err"));
        char pname[64];
        snprintf(pname, sizeof pname, "%s.p.tsv", name);
        const char *p = slurp(pname);
        int lines = 0;
        for (const char *c = p; *c; c++) lines += *c == '\n';
        cr_expect(lines == 81, "%s predict: %d lines", name, lines);

        cr_expect(cli("saliency --model %s/%s.dm --data %s/te.seq.gz --out %s/%s.sal --threads 1", dir, name, dir, dir,
                      name) == 0, "%s saliency: %s", name, slurp("err"));
        cr_expect(exists("%s.sal.npy", name), "%s saliency output", name);

        int rc = cli("temporal --model %s/%s.dm --data %s/te.seq.gz --out %s/%s.tmp --threads 1", dir, name, dir, dir,
                     name);
        if (recurrent) {
            cr_expect(rc == 0 && exists("%s.tmp.npy", name), "%s temporal: %s", name, slurp("err"));
        } else {
            cr_expect(rc == 1 && strstr(slurp("err"), ".dm: ") && !exists("%s.tmp.npy", name), "%s temporal: rc %d, %s",
                      name, rc, slurp("err"));
        }

        cr_expect(cli("optimize --model %s/%s.dm --out %s/%s.opt --steps 5 --restarts 2 --threads 1", dir, name, dir,
                      name) == 0, "%s optimize: %s", name, slurp("err"));
        cr_expect(exists("%s.opt.meme", name), "%s optimize output", name);

        cr_expect(cli("export --model %s/%s.dm --format onnx --out %s/%s.onnx", dir, name, dir, name) == 0 &&
                  exists("%s.onnx", name), "%s export onnx: %s", name, slurp("err"));
        cr_expect(cli("export --model %s/%s.dm --format safetensors --out %s/%s.safetensors", dir, name, dir, name) == 0 &&
                  exists("%s.safetensors", name), "%s export safetensors: %s", name, slurp("err"));

        rc = cli("motifs --model %s/%s.dm --data %s/tr.seq.gz --out %s/%s.mot --threads 1", dir, name, dir, dir, name);
        if (first_conv) {
            cr_expect(rc == 0 && exists("%s.mot.meme", name), "%s motifs: %s", name, slurp("err"));
        } else {
            cr_expect(rc == 1 && strstr(slurp("err"), "no convolution filters") && !exists("%s.mot.meme", name),
                      "%s motifs: rc %d, %s", name, rc, slurp("err"));
        }
    }

    /* one dashboard over all of them: each model card carries its architecture's text */
    cr_assert(cli("dashboard%s --data %s/te.seq.gz --out %s/dash --top 2 --restarts 2 --steps 5 --threads 1", models, dir,
                  dir) == 0, "dashboard: %s", slurp("err"));
    const char *html = slurp("dash/index.html");
    for (int a = 0; a < dm_arch_count(); a++) {
        dm_hparams hp;
        dm_hparams_default(&hp, (dm_arch)a);
        hp.len = LEN;
        char text[512];
        dm_arch_describe(&hp, text, sizeof text);
        cr_expect(strstr(html, text) != NULL, "dashboard lacks '%s'", text);
    }
}
