/*
 * dm_base.h: the base layer, below both host/ and kernels/: status and error recording, argument
 * checks, allocation helpers, and the log and progress callbacks (the library's only way to say
 * something; it never prints). It includes nothing but the public header and the C library, and
 * every other part of the library may include it.
 */
#ifndef DM_BASE_H
#define DM_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "deepmotif.h"

/* ---- errors (base/error.c) -------------------------------------------------------------------- */

/* Records a one-line message for dm_last_error() (this thread's) and returns `status`. printf-style. */
dm_status dm_error(dm_status status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Propagates a failing status: `DM_TRY(dm_thing(...));` */
#define DM_TRY(expr)                                                                               \
    do {                                                                                           \
        dm_status dm_try_s_ = (expr);                                                              \
        if (dm_try_s_ != DM_STATUS_OK) return dm_try_s_;                                           \
    } while (0)

/* A caller's argument check at a library entry point: when `cond` does not hold, return
 * DM_STATUS_ARG with the message (printf-style), e.g.
 *     DM_CHECK_ARG(path && hp, "dm_checkpoint_save: path and hparams must not be NULL");
 * Anything a caller of the library can pass is checked this way, never with DM_ASSERT. */
#define DM_CHECK_ARG(cond, ...)                                                                    \
    do {                                                                                           \
        if (!(cond)) return dm_error(DM_STATUS_ARG, __VA_ARGS__);                                  \
    } while (0)

/* An internal invariant that no input and no caller's argument can break (a programming error of
 * the library itself): on in release builds too, it reports through the log callback (or, with
 * none set, on stderr: the one line the library ever writes, explaining the crash) and aborts. Never for input or arguments: those return a status (DM_CHECK_ARG). */
#define DM_ASSERT(cond)                                                                            \
    do {                                                                                           \
        if (!(cond)) dm_assert_fail(__FILE__, __LINE__, #cond);                                    \
    } while (0)
_Noreturn void dm_assert_fail(const char *file, int line, const char *cond);

/* ---- allocation (base/alloc.c) ---------------------------------------------------------------- */

/* malloc of n elements of `size` bytes; NULL when n·size overflows size_t or the allocation fails.
 * n = 0 returns a unique pointer or NULL, as malloc(0) does. */
void *dm_malloc_n(size_t n, size_t size);

/* Memory aligned to `align` (a power of two) holding at least `bytes` bytes, rounded up to a
 * multiple of `align` as aligned_alloc requires; free() it. NULL on overflow or failure. */
void *dm_aligned_alloc(size_t align, size_t bytes);

/* ---- logging and progress (base/log.c) ---------------------------------------------------------- */

/* A finished log line (printf-style, no newline) to the process's log callback; dropped when none
 * is set (dm_set_log). */
void dm_log(dm_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A progress update of task `what` (dm_log_progress_fn in deepmotif.h), printf-style status line;
 * dropped when no progress callback is set. */
void dm_log_progress(const char *what, int64_t done, int64_t total, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The end of task `what`'s progress when no log line follows it (msg NULL to the callback). */
void dm_log_progress_end(const char *what);

/* A finished line to the log callback: false when none is set (dm_assert_fail's fallback). */
bool dm_log_deliver(dm_log_level level, const char *msg);

/* Whether a progress callback is set: work done only to report progress (a device-to-host copy of
 * a running loss) is skipped without one. */
bool dm_log_progress_enabled(void);

#endif /* DM_BASE_H */
