/*
 * log.c: the process's log and progress callbacks (dm_set_log). The library says everything it has
 * to say through these; with none set it says nothing.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

#include "dm_base.h"

static pthread_mutex_t dm_log_lock = PTHREAD_MUTEX_INITIALIZER;
static dm_log_fn dm_log_cb;
static dm_log_progress_fn dm_progress_cb;
static void *dm_log_ctx;

void dm_set_log(dm_log_fn log, dm_log_progress_fn progress, void *ctx) {
    pthread_mutex_lock(&dm_log_lock);
    dm_log_cb = log;
    dm_progress_cb = progress;
    dm_log_ctx = ctx;
    pthread_mutex_unlock(&dm_log_lock);
}

/* The callbacks as they are now; called outside the lock, so a callback may take its time. */
static void dm_log_get(dm_log_fn *log, dm_log_progress_fn *progress, void **ctx) {
    pthread_mutex_lock(&dm_log_lock);
    *log = dm_log_cb;
    *progress = dm_progress_cb;
    *ctx = dm_log_ctx;
    pthread_mutex_unlock(&dm_log_lock);
}

bool dm_log_deliver(dm_log_level level, const char *msg) {
    dm_log_fn log;
    dm_log_progress_fn progress;
    void *ctx;
    dm_log_get(&log, &progress, &ctx);
    if (!log) return false;
    log(ctx, level, msg);
    return true;
}

void dm_log(dm_log_level level, const char *fmt, ...) {
    dm_log_fn log;
    dm_log_progress_fn progress;
    void *ctx;
    dm_log_get(&log, &progress, &ctx);
    if (!log) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log(ctx, level, msg);
}

void dm_log_progress(const char *what, int64_t done, int64_t total, const char *fmt, ...) {
    dm_log_fn log;
    dm_log_progress_fn progress;
    void *ctx;
    dm_log_get(&log, &progress, &ctx);
    if (!progress) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    progress(ctx, what, done, total, msg);
}

void dm_log_progress_end(const char *what) {
    dm_log_fn log;
    dm_log_progress_fn progress;
    void *ctx;
    dm_log_get(&log, &progress, &ctx);
    if (progress) progress(ctx, what, 0, 0, NULL);
}

bool dm_log_progress_enabled(void) {
    dm_log_fn log;
    dm_log_progress_fn progress;
    void *ctx;
    dm_log_get(&log, &progress, &ctx);
    return progress != NULL;
}
