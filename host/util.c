/*
 * util.c: the version, clocks, the machine description used in provenance and benchmark headers, and the check
 * every reader makes on a file it has just opened.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "dm_internal.h"
#include "dm_version.h"   /* DM_GIT_COMMIT, generated at build time */

dm_status dm_input_check(const char *path, int fd, int64_t *size) {
    struct stat st;
    if (size) *size = -1;
    if (fstat(fd, &st) != 0) return dm_error(DM_STATUS_IO, "%s: cannot read: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) return dm_error(DM_STATUS_IO, "%s: is a directory", path);
    if (size && S_ISREG(st.st_mode)) *size = (int64_t)st.st_size;
    return DM_STATUS_OK;
}

double dm_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void dm_utc_now(char buf[32]) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

const char *dm_cpu_name(void) {
    static char name[128];
    if (name[0]) return name;
    snprintf(name, sizeof name, "unknown cpu");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return name;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *p = strchr(line, ':');
            if (p) {
                p++;
                while (*p == ' ') p++;
                p[strcspn(p, "\n")] = 0;
                snprintf(name, sizeof name, "%s", p);
            }
            break;
        }
    }
    fclose(f);
    return name;
}

const char *dm_version(void) { return DM_VERSION_STRING " (" DM_GIT_COMMIT ")"; }
const char *dm_git_commit(void) { return DM_GIT_COMMIT; }
