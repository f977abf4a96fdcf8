/*
 * scan.c: `deepmotif scan`: P(bound) of every window of the model's length along long sequences (a
 * FASTA file's records, a genome's BED regions or whole chromosomes), as a bigWig or bedGraph track
 * and a BED of peaks (host/scan.c does the work; progress comes through the log callback).
 */
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "predavg.h"
#include "scan.h"

const cli_opt cli_scan_opts[] = {
    {"--model", "MODEL", "checkpoint written by train (required)", NULL, 0},
    {"--genome", "GENOME.fa", "an indexed FASTA (plain or bgzip; the .fai is built when missing)", NULL, 0},
    {"--bed", "REGIONS.bed", "with --genome: scan these regions (default: every chromosome whole)", NULL, 0},
    {"--data", "FILE.fa", "instead of --genome: scan every record of a FASTA file (any length)", NULL, 0},
    {"--out", "PREFIX", "writes PREFIX.bw (or PREFIX.bedGraph) and PREFIX.peaks.bed (required)", NULL, 0},
    {"--stride", "S", "bases between window starts (default 1); each window's P is written for the S bases "
                      "centred on the window's centre", NULL, 0},
    {"--strands", "both|plus", "score each window and its reverse complement (default) or the + strand only",
     CLI_CHOICES("both", "plus"), 0},
    {"--combine", "max|mean", "how the two strands' P combine (default max; mean for a model trained with --rc "
                              "average or both, as its predict scores)", CLI_CHOICES("max", "mean"), 0},
    {"--threshold", "T", "peaks: windows with P >= T, merged when they overlap or touch (default 0.5)", NULL, 0},
    {"--format", "bigwig|bedgraph", "the track's format (default bigwig)", CLI_CHOICES("bigwig", "bedgraph"), 0},
    {"--batch", "N", "windows per batch on the device (default 128; each with its reverse complement)", NULL, 0},
    {"--quiet", NULL, "no progress line", NULL, 0},
    {0},
};

int cli_scan(cli_args *a) {
    dm_scan_options o;
    dm_scan_options_default(&o);
    o.stride = (int32_t)cli_int(a, "--stride", 1, 1, 1 << 30);
    o.plus_only = !strcmp(cli_opt_or(a, "--strands", "both"), "plus");
    o.mean = !strcmp(cli_opt_or(a, "--combine", "max"), "mean");
    o.threshold = (float)cli_num(a, "--threshold", 0.5, 0, 1);
    CLI_CHECK(dm_track_format_parse(cli_opt_or(a, "--format", "bigwig"), &o.format));
    o.n_quarter = cli_n_quarter(a);
    o.progress = !cli_flag(a, "--quiet") && isatty(fileno(stderr));
    int batch = (int)cli_int(a, "--batch", 128, 1, 1 << 15);
    const char *prefix = cli_required(a, "--out"), *model = cli_required(a, "--model");
    const char *genome = cli_opt_str(a, "--genome"), *bed = cli_opt_str(a, "--bed"), *data = cli_opt_str(a, "--data");
    if (!genome == !data) cli_usage_error("give --genome (with or without --bed) or --data, not both");
    if (bed && !genome) cli_usage_error("--bed needs --genome");
    cli_check_outs(prefix, (const char *const[]){dm_track_suffix(o.format), ".peaks.bed", NULL});
    /* the inputs first: a bad BED or genome is reported before the model is loaded */
    dm_genome *g = NULL;
    dm_regions rs = {0};
    if (genome) {
        if (bed) CLI_CHECK(dm_bed_read(bed, 0, &rs));
        CLI_CHECK(dm_genome_open(&g, genome));
        if (bed) CLI_CHECK(dm_regions_check(&rs, g));
    }
    dm_backend *be = cli_backend(a);
    /* both strands: a window and its reverse complement share a batch */
    dm_net *m = cli_load_model(model, be, o.plus_only ? batch : 2 * batch);
    /* a model that averages strands scores a window as predict scores a sequence: the mean */
    if (!cli_opt_str(a, "--combine")) o.mean = (dm_net_rc(m) & DM_RC_AVERAGE) != 0;
    cli_notice_flush();
    double t0 = dm_now();
    dm_scan_stats s;
    CLI_CHECK(g ? dm_scan_genome(m, g, bed ? &rs : NULL, &o, prefix, &s) : dm_scan_fasta(m, data, &o, prefix, &s));
    double secs = dm_now() - t0;
    if (s.short_intervals)
        fprintf(stderr, "%s: warning: %lld of %lld %s shorter than the model's length %d: not scanned\n", cli_prog,
                (long long)s.short_intervals, (long long)s.n_intervals, g ? "regions" : "sequences",
                dm_net_hparams(m)->len);
    fprintf(stderr, "%s: %lld bases, %lld windows (%s) in %.1f s; %lld peaks at P >= %g; wrote %s%s and %s.peaks.bed\n",
            cli_prog, (long long)s.bases, (long long)s.windows, o.plus_only ? "+ strand" : "both strands", secs,
            (long long)s.peaks, (double)o.threshold, prefix, dm_track_suffix(o.format), prefix);
    dm_regions_free(&rs);
    dm_genome_close(g);
    dm_net_free(m);
    dm_backend_free(be);
    return 0;
}
