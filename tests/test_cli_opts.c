/*
 * test_cli_opts.c: the CLI's command table and option rows (host/cli/): every command of the
 * top-level help has a --help; every choice option (a metavariable "a|b|c" in a command's help, and
 * the ones listed below) accepts each of its values and refuses any other with a usage error (exit 2)
 * naming the command, the option and the choices, before anything runs.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "testutil.h"

static char *dir;

static void setup(void) { dir = dm_test_tmpdir(); cr_assert(dir); }
static void teardown(void) { dm_test_rmdir(dir); free(dir); }

TestSuite(cli_opts, .init = setup, .fini = teardown);

/* Runs the CLI with `args`; stdout to DIR/out, stderr to DIR/err. */
static int cli(const char *args) {
    return dm_test_system("cd %s && %s %s > out 2> err", dir, DM_TEST_CLI, args);
}

static char *slurp(const char *name) { return dm_test_slurp_in(dir, name); }

/* The choice options the commands must have (the help shows some of them by a metavariable that is
 * not the list, e.g. --method M). */
static const struct {
    const char *cmd, *opt, *choices;
} expected[] = {
    {"train", "--arch", NULL},     /* the architecture table's names (choices_of) */
    {"train", "--protocol", "default, original"},
    {"train", "--n-policy", "zero, quarter"},
    {"train", "--device", "cpu, cuda, auto"},
    {"eval", "--n-policy", "zero, quarter"},
    {"eval", "--device", "cpu, cuda, auto"},
    {"predict", "--n-policy", "zero, quarter"},
    {"predict", "--device", "cpu, cuda, auto"},
    {"saliency", "--method", "grad, grad-x-input, original, ig, ism"},
    {"saliency", "--baseline", "zero, shuffle"},
    {"saliency", "--target", "pos, label"},
    {"saliency", "--layout", "ncl, nlc"},
    {"saliency", "--n-policy", "zero, quarter"},
    {"saliency", "--device", "cpu, cuda, auto"},
    {"temporal", "--n-policy", "zero, quarter"},
    {"temporal", "--device", "cpu, cuda, auto"},
    {"optimize", "--param", "direct, softmax"},
    {"optimize", "--device", "cpu, cuda, auto"},
    {"motifs", "--device", "cpu, cuda, auto"},
    {"compare", "--dist", "pearson, euclid, sandelin"},
    {"compare", "--null", "tomtom, shuffle"},
    {"compare", "--query-type", "auto, ppm, cwm"},
    {"predict", "--resize", "center, start, end"},
    {"train", "--resize", "center, start, end"},
    {"dashboard", "--n-policy", "zero, quarter"},
    {"dashboard", "--device", "cpu, cuda, auto"},
    {"export", "--format", "safetensors, onnx"},
    {"scan", "--strands", "both, plus"},
    {"scan", "--combine", "max, mean"},
    {"scan", "--format", "bigwig, bedgraph"},
    {"scan", "--n-policy", "zero, quarter"},
    {"scan", "--device", "cpu, cuda, auto"},
    {"sweep", "--protocol", "default, original"},   /* train's rows, passed on */
    {"sweep", "--n-policy", "zero, quarter"},
    {"sweep", "--device", "cpu, cuda, auto"},
};

/* expected[i]'s choices; NULL there: the registered architectures (host/arch.c), in table order */
static const char *choices_of(size_t i) {
    static char arch[512];
    if (expected[i].choices) return expected[i].choices;
    arch[0] = 0;
    for (int a = 0; a < dm_arch_count(); a++)
        snprintf(arch + strlen(arch), sizeof arch - strlen(arch), "%s%s", a ? ", " : "", dm_arch_name((dm_arch)a));
    return arch;
}

/* `cmd opt bogus` (and opt=bogus) is exit 2 with exactly one line before the hint; every value of
 * `choices` ("a, b") is accepted (the command then stops at its first missing option, never at this
 * one). */
static void check_choice(const char *cmd, const char *opt, const char *choices) {
    char args[512], want[512];
    snprintf(want, sizeof want, "deepmotif %s: %s: unknown value 'quater' (choices: %s)\n"
                                "Try 'deepmotif %s --help'.\n", cmd, opt, choices, cmd);
    snprintf(args, sizeof args, "%s %s quater", cmd, opt);
    cr_expect_eq(cli(args), 2, "%s", args);
    cr_expect_str_eq(slurp("err"), want, "%s", args);
    snprintf(args, sizeof args, "%s %s=quater", cmd, opt);
    cr_expect_eq(cli(args), 2, "%s", args);
    cr_expect_str_eq(slurp("err"), want, "%s", args);
    cr_expect_str_eq(slurp("out"), "", "%s: nothing on stdout", args);

    char list[256];
    snprintf(list, sizeof list, "%s", choices);
    for (char *save, *v = strtok_r(list, ", ", &save); v; v = strtok_r(NULL, ", ", &save)) {
        snprintf(args, sizeof args, "%s %s %s", cmd, opt, v);
        int rc = cli(args);
        cr_expect(strstr(slurp("err"), "unknown value") == NULL, "%s: %s", args, slurp("err"));
        /* it stops at a missing option, or (--device cuda without a usable device) at the device */
        cr_expect((rc == 2 && strstr(slurp("err"), ": missing --") != NULL) || (rc == 1 && !strcmp(v, "cuda")),
                  "%s: should stop at a missing option (rc %d): %s", args, rc, slurp("err"));
        snprintf(args, sizeof args, "%s %s %s --help", cmd, opt, v);
        cr_expect_eq(cli(args), 0, "%s", args);
    }
}

Test(cli_opts, every_listed_choice_option) {
    for (size_t i = 0; i < sizeof expected / sizeof *expected; i++)
        check_choice(expected[i].cmd, expected[i].opt, choices_of(i));
}

/* The commands of the top-level help, each with a --help whose "a|b" options are all choice options
 * (so a new one cannot silently take any value), and the listed ones among them. */
Test(cli_opts, help_lists_commands_and_choice_options) {
    cr_assert_eq(cli("--help"), 0);
    char top[1 << 14];
    snprintf(top, sizeof top, "%s", slurp("out"));
    const char *p = strstr(top, "commands:\n");
    cr_assert(p, "%s", top);
    p += strlen("commands:\n");
    int n_cmds = 0, n_choice = 0;
    bool seen[sizeof expected / sizeof *expected] = {0};
    while (p[0] == ' ' && p[1] == ' ' && p[2] != '-') {
        char cmd[32];
        cr_assert(sscanf(p, " %31s", cmd) == 1);
        n_cmds++;
        char args[128];
        snprintf(args, sizeof args, "%s --help", cmd);
        cr_assert_eq(cli(args), 0, "%s", args);
        char help[1 << 14];
        snprintf(help, sizeof help, "%s", slurp("out"));
        char head[64];
        snprintf(head, sizeof head, "usage: deepmotif %s ", cmd);
        cr_expect(strncmp(help, head, strlen(head)) == 0, "%s", help);
        for (char *save, *line = strtok_r(help, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            char opt[64], meta[128];
            if (sscanf(line, "  %63s %127s", opt, meta) != 2 || strncmp(opt, "--", 2) || !strchr(meta, '|')) continue;
            char choices[256] = "";
            for (char *s2, *v = strtok_r(meta, "|", &s2); v; v = strtok_r(NULL, "|", &s2))
                snprintf(choices + strlen(choices), sizeof choices - strlen(choices), "%s%s", choices[0] ? ", " : "", v);
            check_choice(cmd, opt, choices);
            n_choice++;
            for (size_t i = 0; i < sizeof expected / sizeof *expected; i++)
                if (!strcmp(expected[i].cmd, cmd) && !strcmp(expected[i].opt, opt)) {
                    cr_expect_str_eq(choices, choices_of(i), "%s %s", cmd, opt);
                    seen[i] = true;
                }
        }
        p = strchr(p, '\n') + 1;
    }
    cr_expect_eq(n_cmds, 13, "the top-level help lists %d commands:\n%s", n_cmds, top);
    for (size_t i = 0; i < sizeof expected / sizeof *expected; i++)
        if (strcmp(expected[i].opt, "--method"))   /* shown as --method M */
            cr_expect(seen[i], "%s --help does not show %s as a choice", expected[i].cmd, expected[i].opt);
    cr_expect_geq(n_choice, 22);
}

/* The option grammar every command shares. */
Test(cli_opts, option_grammar) {
    cr_expect_eq(cli("eval --json=1"), 2);
    cr_expect(strstr(slurp("err"), "deepmotif eval: option --json takes no value") != NULL, "%s", slurp("err"));
    cr_expect_eq(cli("eval --model"), 2);
    cr_expect(strstr(slurp("err"), "deepmotif eval: option --model needs a value (MODEL)") != NULL, "%s", slurp("err"));
    cr_expect_eq(cli("eval --n-policy"), 2);
    cr_expect(strstr(slurp("err"), "option --n-policy needs a value (zero|quarter)") != NULL, "%s", slurp("err"));
    cr_expect_eq(cli("predict --modle m.dm"), 2);
    cr_expect(strstr(slurp("err"), "deepmotif predict: unknown option '--modle'") != NULL, "%s", slurp("err"));
    cr_expect_eq(cli("simulate --n 10 --n many"), 2, "the last value counts");
    cr_expect(strstr(slurp("err"), "--n: 'many' is not an integer") != NULL, "%s", slurp("err"));
    cr_expect_eq(cli("dashboard --index=a --out x"), 2);
    cr_expect(strstr(slurp("err"), "--index takes its values after it") != NULL, "%s", slurp("err"));
    cr_expect_eq(cli("dashboard --index --out x"), 2);
    cr_expect(strstr(slurp("err"), "--index needs at least one report directory") != NULL, "%s", slurp("err"));
    cr_expect_eq(cli("dashboard --index a --model m.dm --out x"), 2);
    cr_expect(strstr(slurp("err"), "--index takes report directories, not --model or --data") != NULL, "%s",
              slurp("err"));
}
