/*
 * crshim.c: the runner behind crshim/criterion/criterion.h (ThreadSanitizer builds only; see there).
 * Tests run in name order, each in a forked child: init, the test, fini; the parent maps the child's
 * exit status to PASS (the expected .exit_code, 0 by default), SKIP (77), FAIL or CRASH, and prints
 * Criterion's synthesis line. The process exits 1 when any test failed or crashed; otherwise, like
 * the main testutil.c gives the Criterion binaries, it prints a "dm-skipped:" line naming the tests
 * that skipped, if any, and exits 77 (ctest's SKIP_RETURN_CODE) when every selected test skipped.
 */
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "criterion/criterion.h"

#define DM_CRSHIM_SKIPPED 77            /* DM_TEST_SKIPPED and DM_TEST_SKIP_TAG of testutil.h */
#define DM_CRSHIM_SKIP_TAG "dm-skipped:"

static dm_crshim_test *g_tests;
static bool g_failed;           /* in the child: a cr_expect failed */
static dm_crshim_test *g_current;

void dm_crshim_register(dm_crshim_test *t) {
    /* keep the list sorted by suite, then name */
    dm_crshim_test **p = &g_tests;
    while (*p && (strcmp((*p)->suite, t->suite) < 0 ||
                  (!strcmp((*p)->suite, t->suite) && strcmp((*p)->name, t->name) < 0)))
        p = &(*p)->next;
    t->next = *p;
    *p = t;
}

void dm_crshim_fail(bool fatal, const char *file, int line, const char *cond, const char *fmt, ...) {
    fprintf(stderr, "[----] %s:%d: %s\n[----]   ", file, line, fatal ? "Assertion Failed" : "Expectation Failed");
    va_list ap;
    va_start(ap, fmt);
    if (fmt[0]) vfprintf(stderr, fmt, ap);
    else fprintf(stderr, "%s", cond);
    va_end(ap);
    fputc('\n', stderr);
    g_failed = true;
    if (fatal) {
        if (g_current && g_current->fini) g_current->fini();
        fflush(NULL);
        _exit(1);
    }
}

void dm_crshim_skip(const char *fmt, ...) {
    fprintf(stderr, "[SKIP] %s::%s: ", g_current ? g_current->suite : "?", g_current ? g_current->name : "?");
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(NULL);
    _exit(DM_CRSHIM_SKIPPED);
}

void dm_crshim_log(const char *level, const char *fmt, ...) {
    fprintf(stderr, "[%s] ", level);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int main(int argc, char **argv) {
    const char *filter = "*";
    bool verbose = false;
    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], "--filter=", 9)) filter = argv[i] + 9;
        else if (!strcmp(argv[i], "--filter") && i + 1 < argc) filter = argv[++i];
        else if (!strcmp(argv[i], "--verbose")) verbose = true;
        else if (strncmp(argv[i], "--jobs", 6)) {
            fprintf(stderr, "usage: %s [--filter SUITE/NAME-GLOB] [--verbose] [--jobs=N]\n", argv[0]);
            return 2;
        }
    }
    int tested = 0, passing = 0, failing = 0, crashing = 0, skipped = 0;
    char skip_names[4096] = "";
    for (dm_crshim_test *t = g_tests; t; t = t->next) {
        char full[256];
        snprintf(full, sizeof full, "%s/%s", t->suite, t->name);
        if (t->disabled || fnmatch(filter, full, 0)) continue;
        if (verbose) fprintf(stderr, "[RUN ] %s::%s\n", t->suite, t->name);
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 1;
        }
        if (pid == 0) {
            g_current = t;
            if (t->init) t->init();
            t->fn();
            if (t->fini) t->fini();
            fflush(NULL);
            _exit(g_failed ? 1 : 0);
        }
        int status;
        waitpid(pid, &status, 0);
        if (WIFEXITED(status) && WEXITSTATUS(status) == DM_CRSHIM_SKIPPED && t->exit_code != DM_CRSHIM_SKIPPED) {
            size_t used = strlen(skip_names);
            snprintf(skip_names + used, sizeof skip_names - used, "%s%s::%s", skipped ? ", " : "", t->suite, t->name);
            skipped++;
            continue;
        }
        tested++;
        if (WIFSIGNALED(status) && WTERMSIG(status) != t->signal) {
            crashing++;
            fprintf(stderr, "[FAIL] %s::%s: CRASH (signal %d)\n", t->suite, t->name, WTERMSIG(status));
        } else if ((WIFSIGNALED(status) && WTERMSIG(status) == t->signal) ||
                   (WIFEXITED(status) && !t->signal && WEXITSTATUS(status) == t->exit_code)) {
            passing++;
            if (verbose) fprintf(stderr, "[PASS] %s::%s\n", t->suite, t->name);
        } else {
            failing++;
            fprintf(stderr, "[FAIL] %s::%s: exit status %d (expected %d)\n", t->suite, t->name,
                    WIFEXITED(status) ? WEXITSTATUS(status) : -1, t->exit_code);
        }
    }
    fprintf(stderr, "[====] Synthesis: Tested: %d | Passing: %d | Failing: %d | Crashing: %d \n", tested, passing,
            failing, crashing);
    if (failing || crashing) return 1;
    if (skipped) {
        const char *prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
        fprintf(stderr, "%s %s: %d of %d tests skipped: %s\n", DM_CRSHIM_SKIP_TAG, prog, skipped, tested + skipped,
                skip_names);
        if (tested == 0) return DM_CRSHIM_SKIPPED;
    }
    return 0;
}
