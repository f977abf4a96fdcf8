/*
 * main.c: the `deepmotif` command-line program: the command table, which dispatches and produces the
 * top-level help and each command's --help (see cli.h).
 */
#include <omp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define BLOCKS(...) ((const cli_opt *const[]){__VA_ARGS__, NULL})

const cli_cmd cli_commands[] = {
    {"train", "train a model of one of the architectures (--arch); write a checkpoint",
     "deepmotif train --arch ARCH (--train FILE | --bed REGIONS.bed --genome GENOME.fa) --out MODEL [options]",
     "Trains a model of one of the architectures and writes MODEL (the selected weights)\n"
     "and MODEL.last (the last epoch end with its optimiser state, for --resume), both at every epoch end.",
     BLOCKS(cli_train_opts, CLI_OPTS_BED, CLI_OPTS_NPOLICY, CLI_OPTS_DEVICE), cli_train},
    {"eval", "AUROC, AUPRC and accuracy on labelled data",
     "deepmotif eval --model MODEL (--data FILE | --bed REGIONS.bed --genome GENOME.fa --label-col N) "
     "[--versus MODEL2] [--json]",
     "Scores labelled data with a trained model: n, AUROC (ties count 1/2), AUPRC, accuracy.\n"
     "An undefined metric (one class, one sequence) is NA (null in JSON), with a warning saying why.\n"
     "--versus MODEL2 scores the same rows with a second model and tests whether the two AUROCs differ\n"
     "(DeLong's paired test: the difference, its standard error, a 95% interval and p).",
     BLOCKS(cli_eval_opts, CLI_OPTS_BED, CLI_OPTS_NPOLICY, CLI_OPTS_DEVICE), cli_eval},
    {"predict", "P(bound) for every sequence, as TSV",
     "deepmotif predict --model MODEL (--data FILE | --bed REGIONS.bed --genome GENOME.fa) --out FILE.tsv",
     "Writes P(bound) for every sequence, in input order.",
     BLOCKS(cli_predict_opts, CLI_OPTS_BED, CLI_OPTS_NPOLICY, CLI_OPTS_DEVICE, CLI_OPTS_SHARD), cli_predict},
    {"saliency", "attribution maps: gradients, integrated gradients, mutagenesis (.npy, .npz, TSV)",
     "deepmotif saliency --model MODEL (--data FILE | --bed REGIONS.bed --genome GENOME.fa) --out PREFIX [options]",
     "Input-gradient saliency maps of a trained model, streamed in fixed-memory batches.",
     BLOCKS(cli_saliency_opts, CLI_OPTS_BED, CLI_OPTS_NPOLICY, CLI_OPTS_DEVICE, CLI_OPTS_SHARD), cli_saliency},
    {"scan", "P(bound) along genomes or long sequences: a bigWig/bedGraph track and a BED of peaks",
     "deepmotif scan --model MODEL (--genome GENOME.fa [--bed REGIONS.bed] | --data FILE.fa) --out PREFIX [options]",
     "Scores every window of the model's length at stride S (--stride) along a genome's regions (--bed),\n"
     "its whole chromosomes, or every record of a FASTA file of any length, on both strands by default\n"
     "(max or mean of a window and its reverse complement), streamed in fixed memory, batched on the device.\n"
     "No window leaves its region or chromosome. What a base gets: each window's P(bound) is written for the\n"
     "S bases centred on the window's centre, so the track (PREFIX.bw, or PREFIX.bedGraph) has one value per\n"
     "stride step. PREFIX.peaks.bed: windows with P >= --threshold merged where they overlap or touch\n"
     "(BED5: chrom, start, end, peak_N, the highest P).",
     BLOCKS(cli_scan_opts, CLI_OPTS_NPOLICY, CLI_OPTS_DEVICE), cli_scan},
    {"temporal", "temporal output scores of a recurrent model (.npy, TSV)",
     "deepmotif temporal --model MODEL (--data FILE | --bed REGIONS.bed --genome GENOME.fa) --out PREFIX",
     "Temporal output scores of a recurrent model: at every position i, P(bound) of the whole model\n"
     "on positions 1..i (forward) and i..L (backward).",
     BLOCKS(cli_temporal_opts, CLI_OPTS_BED, CLI_OPTS_NPOLICY, CLI_OPTS_DEVICE, CLI_OPTS_SHARD), cli_temporal},
    {"optimize", "class optimisation: the ideal bound input as a PPM (MEME)",
     "deepmotif optimize --model MODEL --out PREFIX [options]",
     "Class optimisation: the input that maximises log P(bound) - lambda |X|^2, by RMSprop on the\n"
     "input, post-processed to a position probability matrix as in the Deep Motif Dashboard.",
     BLOCKS(cli_optimize_opts, CLI_OPTS_DEVICE), cli_optimize},
    {"motifs", "first-layer filters as PPMs (MEME)",
     "deepmotif motifs --model MODEL (--data FILE | --bed REGIONS.bed --genome GENOME.fa) --out PREFIX [--db DB.meme]",
     "First-layer convolution filters as position probability matrices (activation alignment).",
     BLOCKS(cli_motifs_opts, CLI_OPTS_BED, CLI_OPTS_DEVICE), cli_motifs},
    {"compare", "TOMTOM-like comparison of motifs with a database (JASPAR)",
     "deepmotif compare --query Q.meme --db DB.meme --out HITS.tsv",
     "TOMTOM-like comparison: every offset and both strands, column-wise similarity, p-values from a\n"
     "column-shuffled null, E = p x targets, Benjamini-Hochberg q-values.",
     BLOCKS(cli_compare_opts), cli_compare},
    {"sweep", "one model per data set and architecture over a folder of data sets; results and summary tables",
     "deepmotif sweep --data DIR [--archs cnn,rnn,cnnrnn] --out OUT [--shard I/N] [--jobs J | --devices 0,1,...]\n"
     "                 [train options]\n"
     "       deepmotif sweep --merge OUT1 OUT2 ... --out OUT",
     "Finds every data set of DIR (DeepBind NAME_AC.seq.gz + NAME_B.seq.gz pairs, NAME/train.fa + NAME/test.fa\n"
     "folders), trains each architecture on each with `deepmotif train` (its defaults; the train options given\n"
     "here are passed on), scores the test file and keeps the model. OUT/results.tsv and results.jsonl: a row per\n"
     "model (data set, arch, n train/valid/test, AUROC, AUPRC, accuracy, epochs, train seconds, sequences/s,\n"
     "device, model, seed, checksum), each written atomically once its model is saved; OUT/summary.tsv: mean,\n"
     "median and sd per architecture, and per pair of architectures the wins and a Wilcoxon signed-rank p-value\n"
     "over the data sets both have; OUT/index.html links every model. Rerunning the same command keeps the\n"
     "finished rows and redoes those whose files or options changed (checksum); an interrupted training\n"
     "continues from its MODEL.last. --shard I/N runs a slice (by file size, for a Slurm array); --merge joins\n"
     "the slices' outputs into the table of one run; under mpirun rank r runs shard r and rank 0 merges.",
     BLOCKS(cli_sweep_opts, cli_sweep_train_opts, CLI_OPTS_NPOLICY, CLI_OPTS_DEVICE), cli_sweep},
    {"simulate", "a labelled data set with planted motifs (the bundled default)",
     "deepmotif simulate --out FILE [options]",
     "Writes a labelled data set: random background with one planted motif instance per positive\n"
     "(name:start:strand in the EventID) and a dinucleotide shuffle of each positive as its negative.",
     BLOCKS(cli_simulate_opts), cli_simulate},
    {"dashboard", "an HTML report comparing models on a data set (or an index over many)",
     "deepmotif dashboard --model MODEL [--model MODEL ...] (--data FILE | --bed REGIONS.bed --genome GENOME.fa)\n"
     "                 --out DIR [options]\n"
     "       deepmotif dashboard --index DIR... --out DIR",
     "Writes a self-contained HTML report (inline SVG, no network) comparing the models on the data: model\n"
     "cards, training and ROC/PR curves, saliency logos, heatmaps and temporal scores of the top sequences,\n"
     "class-optimised and filter motifs with their database matches; or an index page over many reports.",
     BLOCKS(cli_dashboard_opts, CLI_OPTS_BED, CLI_OPTS_NPOLICY, CLI_OPTS_DEVICE), cli_dashboard},
    {"export", "a trained model as safetensors (weights) or ONNX (the eval-mode model)",
     "deepmotif export --model MODEL --format safetensors|onnx --out FILE",
     "Writes a trained model for tools without deepmotif: safetensors holds the weights under the\n"
     "state_dict keys of the equivalent PyTorch module (Conv1d weights (C_out, C_in, K)) and the\n"
     "hyper-parameters in its __metadata__; onnx holds the whole eval-mode model (input x (N, L, 4)\n"
     "one-hot ACGT, output logprob (N, 2) over (bound, unbound)). PyTorch's .pt, a pickle of torch\n"
     "objects, is not written: load the safetensors file into the module, or use the Python package.",
     BLOCKS(cli_export_opts), cli_export},
    {0},
};

static void print_version(void) {
    printf("deepmotif %s\n", dm_version());
#ifdef DM_CUDA_EMU
    printf("backends: cpu, cuda (on the CPU emulator: a test build)\n");
#else
    printf("backends: cpu%s\n", dm_backend_cuda_built() ? ", cuda" : "");
#endif
    printf("blas: %s\n", dm_blas_info());
    printf("cpu: %s, %d cores\n", dm_cpu_name(), omp_get_num_procs());
}

static void print_usage(FILE *f) {
    fprintf(f, "usage: deepmotif COMMAND [options]\n\n"
               "Trains and evaluates the Deep Motif Dashboard models of transcription-factor binding.\n\n"
               "commands:\n");
    for (const cli_cmd *c = cli_commands; c->name; c++) fprintf(f, "  %-10s %s\n", c->name, c->summary);
    fprintf(f, "\n  --version  version, backends and BLAS\n"
               "  --help     this help; 'deepmotif COMMAND --help' for a command's options\n");
}

/* The library prints nothing; the CLI prints what it reports (dm_set_log) on stderr: log lines
 * whole, the progress status rewriting itself in place (set on a terminal only), overwritten by the
 * next log line or ended by a newline. */
static bool cli_status_open;   /* a status line is on the terminal, not yet ended */

static void cli_log(void *ctx, dm_log_level level, const char *msg) {
    fprintf(stderr, "%s%s\n", cli_status_open ? "\r" : "", msg);
    cli_status_open = false;
}

static void cli_progress(void *ctx, const char *what, int64_t done, int64_t total, const char *msg) {
    if (msg) {
        fprintf(stderr, "\r%s   ", msg);
        cli_status_open = true;
    } else if (cli_status_open) {
        fputc('\n', stderr);
        cli_status_open = false;
    }
}

int main(int argc, char **argv) {
    cli_dist_start(&argc, &argv);   /* under mpirun: the process group; only rank 0 prints */
    dm_set_log(cli_log, isatty(fileno(stderr)) ? cli_progress : NULL, NULL);
    if (argc < 2) {
        print_usage(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
        print_usage(stdout);
        return 0;
    }
    if (!strcmp(name, "--version") || !strcmp(name, "version")) {
        print_version();
        return 0;
    }
    for (const cli_cmd *c = cli_commands; c->name; c++) {
        if (strcmp(c->name, name)) continue;
        static char prog[64];
        snprintf(prog, sizeof prog, "deepmotif %s", c->name);
        cli_prog = prog;
        cli_args a;
        cli_parse(&a, c, argc - 2, argv + 2);
        int rc = c->run(&a);
        cli_args_free(&a);
        return rc;
    }
    cli_usage_error("unknown command '%s'", name);
}
