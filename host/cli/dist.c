/*
 * dist.c: the process group as the commands see it (host/dist.h underneath). Under `mpirun -np K`:
 * only rank 0 prints (the other ranks' stdout and stderr go to /dev/null unless DM_DIST_VERBOSE is
 * set), every rank exits with the same code, and a failure never leaves a rank waiting:
 *   - a command that validates its inputs on every rank calls cli_dist_expect_agree() first and
 *     cli_dist_inputs_ok() when they passed: a failure in between (cli_fail) meets the other ranks
 *     in that same agreement, and rank 0 prints the first failing rank's line;
 *   - a failure the library agreed on (dm_dist_failure_shared) is every rank's: rank 0 prints it;
 *   - any other failure on a rank ends the whole job at once (MPI_Abort), after its line.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli.h"
#include "dist.h"

static int g_saved_err = -1;   /* rank > 0: its real stderr, for a line before an abort */
static bool g_pending;         /* between cli_dist_expect_agree and cli_dist_inputs_ok */

static void finalize_at_exit(void) { dm_dist_finalize(); }

/* The size a launcher gave this process (1 when none did). */
static long launcher_size(void) {
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", NULL};
    for (int i = 0; vars[i]; i++) {
        const char *v = getenv(vars[i]);
        if (v) return strtol(v, NULL, 10);
    }
    return 1;
}

void cli_dist_start(int *argc, char ***argv) {
    dm_status s = dm_dist_init(argc, argv);
    if (s != DM_STATUS_OK) {
        fprintf(stderr, "deepmotif: %s\n", dm_last_error());
        exit(1);
    }
    atexit(finalize_at_exit);
    if (dm_dist_size() == 1 && launcher_size() > 1) {
        /* K copies of a single-process run would write the same files at once */
        fprintf(stderr, "deepmotif: started as one of %ld MPI ranks, but this build has no MPI (configure with "
                        "-DDM_MPI=ON and libopenmpi-dev installed)\n", launcher_size());
        exit(1);
    }
    if (dm_dist_rank() > 0 && !getenv("DM_DIST_VERBOSE")) {
        fflush(stdout);
        fflush(stderr);
        g_saved_err = dup(2);
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) {
            dup2(null, 1);
            dup2(null, 2);
            close(null);
        }
    }
}

void cli_dist_expect_agree(void) { g_pending = dm_dist_size() > 1; }

void cli_dist_inputs_ok(void) {
    if (!g_pending) return;
    g_pending = false;
    dm_status s = dm_dist_agree(DM_STATUS_OK);
    if (s != DM_STATUS_OK) {
        if (dm_dist_rank() == 0) fprintf(stderr, "%s: %s\n", cli_prog, dm_last_error());
        exit(s == DM_STATUS_ARG ? 2 : 1);
    }
}

void cli_dist_fail(dm_status s, const char *msg) {
    int code = s == DM_STATUS_ARG ? 2 : 1;
    if (g_pending) {
        g_pending = false;
        dm_status all = dm_dist_agree(s);   /* every rank learns of the first failing rank's line */
        if (dm_dist_rank() == 0) fprintf(stderr, "%s: %s\n", cli_prog, dm_last_error());
        exit(all == DM_STATUS_ARG ? 2 : 1);
    }
    if (dm_dist_failure_shared()) {   /* agreed during the work (e.g. rank 0's checkpoint write) */
        if (dm_dist_rank() == 0) fprintf(stderr, "%s: %s\n", cli_prog, msg);
        exit(code);
    }
    /* the other ranks may be inside a collective: this rank's line, then the whole job ends */
    FILE *err = stderr;
    if (g_saved_err >= 0) {
        FILE *f = fdopen(g_saved_err, "w");
        if (f) err = f;
    }
    fprintf(err, "%s: rank %d: %s\n", cli_prog, dm_dist_rank(), msg);
    fflush(err);
    dm_dist_abort(code);
    exit(code);
}
