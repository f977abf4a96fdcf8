/*
 * testutil.c: shared helpers of the Criterion tests (see testutil.h).
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dm_rng.h"
#include "testutil.h"

const char *dm_test_data_dir(void) {
    const char *d = getenv("DM_DATA_DIR");
    if (!d || !*d) d = DM_TEST_DATA_DIR;
    struct stat st;
    return (stat(d, &st) == 0 && S_ISDIR(st.st_mode)) ? d : NULL;
}

const char *dm_test_data_file(const char *rel) {
    static char path[4096];
    const char *d = dm_test_data_dir();
    if (!d) return NULL;
    snprintf(path, sizeof path, "%s/%s", d, rel);
    struct stat st;
    return stat(path, &st) == 0 ? path : NULL;
}

uint64_t dm_test_seed(void) {
    static uint64_t seed;
    static int done;
    if (!done) {
        const char *s = getenv("DM_TEST_SEED");
        seed = s && *s ? strtoull(s, NULL, 0) : 1234;
        fprintf(stderr, "DM_TEST_SEED=%llu\n", (unsigned long long)seed);
        done = 1;
    }
    return seed;
}

void dm_test_fill_uniform(float *x, size_t n, float lo, float hi, uint64_t tag) {
    dm_rng r;
    dm_rng_init(&r, dm_test_seed(), 100, tag);
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * (float)dm_rng_uniform(&r);
}

double dm_test_max_err(const float *a, const float *b, size_t n, double atol, double rtol,
                       size_t *worst) {
    double m = 0;
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        double e;
        if (!isfinite(a[i]) || !isfinite(b[i])) e = INFINITY;
        else e = fabs((double)a[i] - (double)b[i]) / (atol + rtol * fabs((double)b[i]));
        if (e > m) { m = e; w = i; }
    }
    if (worst) *worst = w;
    return m;
}

char *dm_test_tmpdir(void) {
    char tmpl[] = "/tmp/dmtest.XXXXXX";
    char *d = mkdtemp(tmpl);
    return d ? strdup(d) : NULL;
}

void dm_test_rmdir(const char *dir) {
    if (dir && strncmp(dir, "/tmp/dmtest.", 12) == 0) dm_test_system("rm -rf '%s'", dir);
}

int dm_test_system(const char *fmt, ...) {
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int st = system(cmd);
    if (st == -1) return -1;
    return (st >> 8) & 0xff;
}
