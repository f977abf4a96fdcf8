/*
 * util.c: clocks and the machine description used in provenance and benchmark headers.
 */
#include <string.h>
#include <time.h>

#include "dm_internal.h"

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
