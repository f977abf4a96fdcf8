/*
 * error.c: the library never exits; it records one line per failure for dm_last_error().
 */
#include <stdarg.h>
#include <stdio.h>

#include "dm_base.h"

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

/* A broken internal invariant: a bug of the library, not of its input. The one place the library
 * may write to stderr (when no log callback is set), just before the crash it explains. */
void dm_assert_fail(const char *file, int line, const char *cond) {
    char msg[512];
    snprintf(msg, sizeof msg, "%s:%d: internal error: assertion '%s' failed", file, line, cond);
    if (!dm_log_deliver(DM_LOG_ERROR, msg)) fprintf(stderr, "%s\n", msg);   /* check_layers: allowed */
    abort();
}
