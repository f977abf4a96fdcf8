/*
 * dist_mpi.c: the process group over MPI (see dist.h), compiled instead of dist.c when the build has
 * MPI (CMake DM_MPI). MPI is started only when a launcher started this process (mpirun, srun with
 * PMI/PMIx): a plain `deepmotif ...` never touches MPI and is a group of one, as in a build without it.
 *
 * Reproducibility: MPI_Allreduce leaves the order of a sum to the library (it may differ between
 * ranks, message sizes and runs), so dm_dist_allreduce_sum_f32 does not use it. Each rank owns one
 * contiguous block of the buffer; an all-to-all brings every rank's copy of that block to its owner,
 * which sums them in rank order (((b_0 + b_1) + b_2) + ...), and an all-gather hands the sums to
 * everyone. Every rank ends with the same bits, and those of a single process that adds K partial
 * buffers in the same order. Traffic per rank is about twice the buffer, as a ring all-reduce's.
 */
#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist.h"
#include "dm_base.h"

static bool g_shared;           /* the last agreement failed: every rank has that failure */
static bool g_mpi;              /* MPI_Init ran here (and MPI_Finalize has not) */
static int g_rank, g_size = 1;
static int g_local_rank, g_local_size = 1;
static float *g_tmp;            /* all-reduce scratch: K blocks received, grown on demand */
static size_t g_tmp_n;

/* Whether a launcher started this process (OpenMPI, PMI-1/2 as MPICH's hydra or Slurm's srun,
 * PMIx): only then is MPI_Init worth its start-up and its messages. */
static bool launched(void) {
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "PMI_RANK", NULL};
    for (int i = 0; vars[i]; i++)
        if (getenv(vars[i])) return true;
    return false;
}

static dm_status mpi_fail(int rc, const char *what) {
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS) snprintf(msg, sizeof msg, "error %d", rc);
    return dm_error(DM_STATUS_BACKEND, "MPI: %s failed on rank %d: %s", what, g_rank, msg);
}
#define MPI_TRY(call, what)                                                                            \
    do {                                                                                               \
        int rc_ = (call);                                                                              \
        if (rc_ != MPI_SUCCESS) return mpi_fail(rc_, what);                                            \
    } while (0)

dm_status dm_dist_init(int *argc, char ***argv) {
    if (g_mpi || !launched()) return DM_STATUS_OK;
    int provided = 0, rc = MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    if (rc != MPI_SUCCESS) return dm_error(DM_STATUS_BACKEND, "MPI: MPI_Init failed (error %d)", rc);
    g_mpi = true;
    /* failures come back as codes (dm_status), never MPI's default abort */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    MPI_Comm node;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, g_rank, MPI_INFO_NULL, &node) == MPI_SUCCESS) {
        MPI_Comm_rank(node, &g_local_rank);
        MPI_Comm_size(node, &g_local_size);
        MPI_Comm_free(&node);
    }
    return DM_STATUS_OK;
}

void dm_dist_finalize(void) {
    if (!g_mpi) return;
    free(g_tmp);
    g_tmp = NULL;
    g_tmp_n = 0;
    MPI_Finalize();
    g_mpi = false;
}

void dm_dist_abort(int code) {
    if (g_mpi && g_size > 1) MPI_Abort(MPI_COMM_WORLD, code);
}

int dm_dist_rank(void) { return g_rank; }
int dm_dist_size(void) { return g_size; }
int dm_dist_local_rank(void) { return g_local_rank; }
int dm_dist_local_size(void) { return g_local_size; }

/* Block r of n floats split over K ranks: [lo, hi). */
static void block(size_t n, int K, int r, size_t *lo, size_t *hi) {
    *lo = n * (size_t)r / (size_t)K;
    *hi = n * (size_t)(r + 1) / (size_t)K;
}

/* One piece (every count fits an int): the ordered reduce-scatter, then the all-gather. */
static dm_status allreduce_piece(float *buf, size_t n) {
    int K = g_size;
    size_t lo, hi;
    block(n, K, g_rank, &lo, &hi);
    size_t mine = hi - lo;
    if (g_tmp_n < mine * (size_t)K) {
        float *t = realloc(g_tmp, sizeof(float) * (mine * (size_t)K > 0 ? mine * (size_t)K : 1));
        if (!t) return dm_error(DM_STATUS_NOMEM, "MPI: out of memory for the all-reduce (%zu floats)", mine * (size_t)K);
        g_tmp = t;
        g_tmp_n = mine * (size_t)K;
    }
    int *sc = malloc(sizeof(int) * 4 * (size_t)K);
    if (!sc) return dm_error(DM_STATUS_NOMEM, "MPI: out of memory for the all-reduce");
    int *sd = sc + K, *rc = sc + 2 * K, *rd = sc + 3 * K;
    for (int r = 0; r < K; r++) {
        size_t a, b;
        block(n, K, r, &a, &b);
        sc[r] = (int)(b - a);   /* my copy of block r goes to rank r */
        sd[r] = (int)a;
        rc[r] = (int)mine;      /* rank r's copy of my block */
        rd[r] = (int)(mine * (size_t)r);
    }
    int rcode = MPI_Alltoallv(buf, sc, sd, MPI_FLOAT, g_tmp, rc, rd, MPI_FLOAT, MPI_COMM_WORLD);
    if (rcode != MPI_SUCCESS) {
        free(sc);
        return mpi_fail(rcode, "the all-reduce (all-to-all)");
    }
    /* rank order: s = b_0, s += b_1, ... */
    for (size_t i = 0; i < mine; i++) {
        float s = g_tmp[i];
        for (int r = 1; r < K; r++) s += g_tmp[mine * (size_t)r + i];
        buf[lo + i] = s;
    }
    for (int r = 0; r < K; r++) rc[r] = sc[r];   /* block r's sums come from rank r */
    rcode = MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_FLOAT, buf, rc, sd, MPI_FLOAT, MPI_COMM_WORLD);
    free(sc);
    if (rcode != MPI_SUCCESS) return mpi_fail(rcode, "the all-reduce (all-gather)");
    return DM_STATUS_OK;
}

dm_status dm_dist_allreduce_sum_f32(float *buf, size_t n) {
    if (g_size <= 1 || n == 0) return DM_STATUS_OK;
    /* pieces of at most 2^28 floats: every displacement and count stays an int */
    const size_t piece = (size_t)1 << 28;
    for (size_t o = 0; o < n; o += piece) DM_TRY(allreduce_piece(buf + o, n - o < piece ? n - o : piece));
    return DM_STATUS_OK;
}

dm_status dm_dist_bcast(void *buf, size_t bytes, int root) {
    if (g_size <= 1) return DM_STATUS_OK;
    for (size_t o = 0; o < bytes; o += INT_MAX / 2) {
        size_t k = bytes - o < INT_MAX / 2 ? bytes - o : INT_MAX / 2;
        MPI_TRY(MPI_Bcast((char *)buf + o, (int)k, MPI_BYTE, root, MPI_COMM_WORLD), "a broadcast");
    }
    return DM_STATUS_OK;
}

dm_status dm_dist_barrier(void) {
    if (g_size <= 1) return DM_STATUS_OK;
    MPI_TRY(MPI_Barrier(MPI_COMM_WORLD), "a barrier");
    return DM_STATUS_OK;
}

bool dm_dist_failure_shared(void) { return g_shared; }

dm_status dm_dist_agree(dm_status mine) {
    if (g_size <= 1) return mine;
    /* the lowest failing rank (size when none) ... */
    int me = mine != DM_STATUS_OK ? g_rank : g_size, first = g_size;
    MPI_TRY(MPI_Allreduce(&me, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD), "the agreement");
    if (first == g_size) return DM_STATUS_OK;
    g_shared = true;
    /* ... sends its status and message to everyone */
    struct {
        int status;
        char msg[1000];
    } m = {0};
    if (g_rank == first) {
        m.status = (int)mine;
        const char *e = dm_last_error();
        snprintf(m.msg, sizeof m.msg, "%s", e && e[0] ? e : dm_status_str(mine));
    }
    MPI_TRY(MPI_Bcast(&m, (int)sizeof m, MPI_BYTE, first, MPI_COMM_WORLD), "the agreement");
    m.msg[sizeof m.msg - 1] = 0;
    return dm_error((dm_status)m.status, "rank %d: %s", first, m.msg);
}
