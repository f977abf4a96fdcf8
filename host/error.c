/*
 * error.c: the library never exits; it records one line per failure for dm_last_error().
 */
#include <stdarg.h>
#include <stdio.h>

#include "dm_internal.h"
#include "dm_version.h"   /* DM_GIT_COMMIT, generated at build time */

static _Thread_local char dm_error_buf[1024];

dm_status dm_error(dm_status status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dm_error_buf, sizeof dm_error_buf, fmt, ap);
    va_end(ap);
    return status;
}

const char *dm_last_error(void) { return dm_error_buf; }

const char *dm_status_str(dm_status s) {
    switch (s) {
    case DM_STATUS_OK: return "ok";
    case DM_STATUS_IO: return "i/o error";
    case DM_STATUS_FORMAT: return "format error";
    case DM_STATUS_ARG: return "invalid argument";
    case DM_STATUS_NOMEM: return "out of memory";
    case DM_STATUS_CORRUPT: return "corrupt checkpoint";
    case DM_STATUS_BACKEND: return "backend error";
    case DM_STATUS_CANCELLED: return "cancelled";
    }
    return "unknown status";
}

const char *dm_version(void) { return DM_VERSION_STRING " (" DM_GIT_COMMIT ")"; }
const char *dm_git_commit(void) { return DM_GIT_COMMIT; }
