/*
 * fileio.c: output files (dm_internal.h explains the rules: atomic temporary + rename for regular
 * files, direct writes for devices, FIFOs and standard streams) and the DM_FAULT test hook.
 *
 * Safety of the temporary file: it is created with O_CREAT|O_EXCL|O_NOFOLLOW under a name with 36
 * random bits, relative to a descriptor of the destination folder (openat/renameat), so a symbolic
 * link or file planted at any name in a shared folder is never opened, followed or truncated: an
 * occupied name is simply skipped. The writer holds flock(LOCK_EX) on its temporary until after the
 * rename, which lets the stale-temporary sweep tell a live writer on another host (a shared NFS
 * folder, where its pid means nothing here) from a dead one.
 *
 * The stream is a fopencookie() stream over the descriptor, so the reason of the first failed write
 * (ENOSPC, EIO, EPIPE...) is kept even when stdio reports it only later as a sticky error flag.
 *
 * DM_FAULT (tests only; /work/notes/fault.md): a comma-separated list of rules ACTION@NAME[#N].
 * NAME matches an output whose basename equals NAME, or, ending in '*', starts with the rest. #N
 * (1-based) picks the N-th matching output opened by this process, else every one. ACTION "fail":
 * the commit fails as ENOSPC would after the data reached the temporary file, which is removed.
 * ACTION "pause": after the data reached the temporary file and before fsync/rename, the process
 * writes "DM_FAULT paused <path>\n" to stderr in one write(2) and sleeps until it is killed, so a test
 * can SIGKILL it inside the write. The variable is parsed once; unset, it costs one branch per open.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio_ext.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dm_internal.h"

enum { FAULT_NONE = 0, FAULT_FAIL = 1, FAULT_PAUSE = 2 };

#define TMP_TAG ".dmtmp."
#define RAND_LEN 6
static const char rand_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/* ---- DM_FAULT --------------------------------------------------------------------------------- */

#define MAX_RULES 32

typedef struct fault_rule {
    int action;
    bool prefix;          /* NAME ended in '*' */
    char name[256];
    long nth;             /* 0: every match */
    long seen;            /* matching outputs opened so far (atomic) */
} fault_rule;

static fault_rule g_rules[MAX_RULES];
static int g_nrules;
static char g_fault_error[300];   /* non-empty: DM_FAULT is malformed */
static pthread_once_t g_fault_once = PTHREAD_ONCE_INIT;

static void fault_parse(void) {
    const char *env = getenv("DM_FAULT");
    if (!env || !*env) return;
    const char *p = env;
    while (*p) {
        size_t len = strcspn(p, ",");
        char rule[300];
        if (len == 0 || len >= sizeof rule || g_nrules == MAX_RULES) {
            snprintf(g_fault_error, sizeof g_fault_error, "DM_FAULT: bad rule list '%.200s'", env);
            return;
        }
        memcpy(rule, p, len);
        rule[len] = 0;
        p += len + (p[len] == ',');
        fault_rule *r = &g_rules[g_nrules];
        char *at = strchr(rule, '@');
        if (at) *at = 0;
        if (at && !strcmp(rule, "fail")) r->action = FAULT_FAIL;
        else if (at && !strcmp(rule, "pause")) r->action = FAULT_PAUSE;
        else {
            if (at) *at = '@';
            snprintf(g_fault_error, sizeof g_fault_error,
                     "DM_FAULT: rule '%.200s' is not fail@NAME[#N] or pause@NAME[#N]", rule);
            return;
        }
        char *name = at + 1, *hash = strrchr(name, '#');
        if (hash) {
            char *end;
            errno = 0;
            long n = strtol(hash + 1, &end, 10);
            if (errno || *end || end == hash + 1 || n < 1) {
                snprintf(g_fault_error, sizeof g_fault_error, "DM_FAULT: '#%.100s' is not a count from 1",
                         hash + 1);
                return;
            }
            r->nth = n;
            *hash = 0;
        }
        size_t nl = strlen(name);
        if (nl == 0) {
            snprintf(g_fault_error, sizeof g_fault_error, "DM_FAULT: a rule without a file name");
            return;
        }
        if (name[nl - 1] == '*') {
            r->prefix = true;
            name[--nl] = 0;
        }
        snprintf(r->name, sizeof r->name, "%s", name);
        g_nrules++;
    }
}

/* The fault for an output with basename `base`; counts it against #N when `count`. */
static dm_status fault_for(const char *base, bool count, int *action) {
    *action = FAULT_NONE;
    pthread_once(&g_fault_once, fault_parse);
    if (g_fault_error[0]) return dm_error(DM_STATUS_ARG, "%s", g_fault_error);
    for (int i = 0; i < g_nrules; i++) {
        fault_rule *r = &g_rules[i];
        bool match = r->prefix ? !strncmp(base, r->name, strlen(r->name)) : !strcmp(base, r->name);
        if (!match || !count) continue;
        long k = __atomic_add_fetch(&r->seen, 1, __ATOMIC_RELAXED);
        if (!*action && (r->nth == 0 || r->nth == k)) *action = r->action;
    }
    return DM_STATUS_OK;
}

/* Sleeps until killed; the message is one write(2), so a test reading stderr sees it whole. */
static void fault_pause(const char *path) {
    char line[4200];
    int n = snprintf(line, sizeof line, "DM_FAULT paused %s\n", path);
    if (n > (int)sizeof line - 1) n = (int)sizeof line - 1;
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
    for (;;) pause();    /* a handled signal returns from pause(): sleep again */
}

/* ---- the stream --------------------------------------------------------------------------------- */

typedef struct stream_cookie {
    int fd;
    int err;              /* errno of the first failed write or seek, 0 if none */
} stream_cookie;

static ssize_t cookie_write(void *c_, const char *buf, size_t n) {
    stream_cookie *c = c_;
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(c->fd, buf + done, n - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            if (w == 0) errno = EIO;
            if (!c->err) c->err = errno;
            return 0;     /* fopencookie: 0 reports an error (a negative value is not allowed) */
        }
        done += (size_t)w;
    }
    return (ssize_t)n;
}

static int cookie_seek(void *c_, off64_t *pos, int whence) {
    stream_cookie *c = c_;
    off_t r = lseek(c->fd, (off_t)*pos, whence);
    if (r < 0) {
        if (!c->err) c->err = errno;
        return -1;
    }
    *pos = r;
    return 0;
}

static int cookie_close(void *c) {
    (void)c;              /* the descriptor belongs to the dm_outfile, closed after the rename */
    return 0;
}

static dm_status attach_stream(dm_outfile *o, const char *why_path) {
    stream_cookie *c = malloc(sizeof *c);
    if (!c) return dm_error(DM_STATUS_NOMEM, "%s: out of memory", why_path);
    c->fd = o->fd;
    c->err = 0;
    cookie_io_functions_t io = {.read = NULL, .write = cookie_write, .seek = cookie_seek, .close = cookie_close};
    o->f = fopencookie(c, "w", io);
    if (!o->f) {
        free(c);
        return dm_error(DM_STATUS_NOMEM, "%s: out of memory", why_path);
    }
    setvbuf(o->f, NULL, _IOFBF, 1 << 16);
    o->err = c;
    return DM_STATUS_OK;
}

/* ---- names ------------------------------------------------------------------------------------- */

/* The descriptor a path names in this process: "-", /dev/stdout, /dev/stderr, /dev/fd/N,
 * /proc/self/fd/N; -1 for any other path. */
static int std_stream_fd(const char *path) {
    if (!strcmp(path, "-") || !strcmp(path, "/dev/stdout")) return STDOUT_FILENO;
    if (!strcmp(path, "/dev/stderr")) return STDERR_FILENO;
    const char *num = NULL;
    if (!strncmp(path, "/dev/fd/", 8)) num = path + 8;
    else if (!strncmp(path, "/proc/self/fd/", 14)) num = path + 14;
    if (!num || !*num) return -1;
    char *end;
    long fd = strtol(num, &end, 10);
    return *end || fd < 0 || fd > INT_MAX ? -1 : (int)fd;
}

/* The temporary name's basename part: at most what keeps the whole name within NAME_MAX. */
static int tmp_base_len(const char *base) {
    int n = (int)strlen(base), cap = NAME_MAX - (1 + (int)strlen(TMP_TAG) + 10 + 1 + RAND_LEN);
    return n < cap ? n : cap;
}

static uint64_t fallback_random(void) {
    static uint64_t counter;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t z = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ ((uint64_t)getpid() << 40) ^
                 (__atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED) * 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;     /* splitmix64's finaliser */
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void make_tmp_name(char *out, size_t cap, const char *base) {
    unsigned char r[RAND_LEN];
    if (getrandom(r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
        uint64_t z = fallback_random();
        for (int i = 0; i < RAND_LEN; i++) r[i] = (unsigned char)(z >> (8 * i));
    }
    char suffix[RAND_LEN + 1];
    for (int i = 0; i < RAND_LEN; i++) suffix[i] = rand_chars[r[i] % (sizeof rand_chars - 1)];
    suffix[RAND_LEN] = 0;
    snprintf(out, cap, ".%.*s%s%ld.%s", tmp_base_len(base), base, TMP_TAG, (long)getpid(), suffix);
}

/* If `name` is a temporary of the output `base`, its pid; else 0. */
static long tmp_pid(const char *name, const char *base) {
    int bl = tmp_base_len(base);
    size_t tl = strlen(TMP_TAG);
    if (name[0] != '.' || strncmp(name + 1, base, (size_t)bl) || strncmp(name + 1 + bl, TMP_TAG, tl)) return 0;
    const char *p = name + 1 + bl + tl;
    long pid = 0;
    int digits = 0;
    for (; *p >= '0' && *p <= '9' && digits < 10; p++, digits++) pid = pid * 10 + (*p - '0');
    if (!digits || *p != '.' || strlen(p + 1) != RAND_LEN || strspn(p + 1, rand_chars) != RAND_LEN) return 0;
    return pid;
}

/* ---- open ------------------------------------------------------------------------------------ */

/* Splits o->path into folder (opened as o->dirfd) and basename. */
static dm_status open_folder(dm_outfile *o) {
    const char *path = o->path, *slash = strrchr(path, '/');
    char dir[4096];
    if (!slash) {
        snprintf(dir, sizeof dir, ".");
        o->base = 0;
    } else {
        size_t dl = (size_t)(slash - path);
        if (dl == 0) dl = 1;                      /* "/name": the root folder */
        memcpy(dir, path, dl);
        dir[dl] = 0;
        o->base = (int)(slash - path) + 1;
    }
    const char *base = path + o->base;
    if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
        return dm_error(DM_STATUS_IO, "%s: cannot write: %s", path, strerror(EISDIR));
    o->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    o->dir_sync = o->dirfd >= 0;
    if (o->dirfd < 0 && errno == EACCES)          /* a write-only folder: no fsync, no sweep */
        o->dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (o->dirfd < 0) return dm_error(DM_STATUS_IO, "%s: cannot write: %s", path, strerror(errno));
    return DM_STATUS_OK;
}

/* Creates the temporary file in o->dirfd. */
static dm_status create_tmp(dm_outfile *o) {
    const char *base = o->path + o->base;
    for (int attempt = 0; attempt < 100; attempt++) {
        make_tmp_name(o->tmp, sizeof o->tmp, base);
        o->fd = openat(o->dirfd, o->tmp, O_CREAT | O_EXCL | O_NOFOLLOW | O_WRONLY | O_CLOEXEC | O_NOCTTY, 0666);
        if (o->fd >= 0) {
            flock(o->fd, LOCK_EX | LOCK_NB);      /* tells the sweep we are alive; best effort */
            return DM_STATUS_OK;
        }
        if (errno != EEXIST && errno != ELOOP) break;   /* an occupied name: draw another */
    }
    int err = errno;
    o->tmp[0] = 0;
    if (err == EEXIST || err == ELOOP)
        return dm_error(DM_STATUS_IO, "%s: cannot write: 100 random temporary names in its folder were all taken",
                        o->path);
    return dm_error(DM_STATUS_IO, "%s: cannot write: %s", o->path, strerror(err));
}

static void close_all(dm_outfile *o) {
    if (o->f) fclose(o->f);
    o->f = NULL;
    free(o->err);
    o->err = NULL;
    if (o->fd >= 0) close(o->fd);
    if (o->dirfd >= 0) close(o->dirfd);
    o->fd = o->dirfd = -1;
    o->active = false;
}

/* The descriptor of an existing non-regular output, opened without O_CREAT or O_TRUNC; -2 when the
 * path is absent or a regular file (write it atomically); -1 with errno on failure. */
static int open_direct(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) return errno == ENOENT ? -2 : -1;   /* a dangling link counts as absent */
    if (S_ISREG(st.st_mode)) return -2;
    if (S_ISDIR(st.st_mode)) {
        errno = EISDIR;
        return -1;
    }
    int fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) return -1;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {   /* swapped for a regular file meanwhile */
        close(fd);
        return -2;
    }
    return fd;
}

static dm_status outfile_open(dm_outfile *o, const char *path, bool count) {
    memset(o, 0, sizeof *o);
    o->fd = o->dirfd = -1;
    if (!path || !*path) return dm_error(DM_STATUS_ARG, "an output path is empty");
    if (strlen(path) >= sizeof o->path) return dm_error(DM_STATUS_ARG, "%.200s...: path too long", path);
    memcpy(o->path, path, strlen(path) + 1);
    const char *slash = strrchr(path, '/');
    o->base = slash ? (int)(slash - path) + 1 : 0;
    DM_TRY(fault_for(path + o->base, count, &o->fault));

    int sfd = std_stream_fd(path);
    if (sfd >= 0) {
        if (sfd == STDOUT_FILENO) fflush(stdout);   /* keep the order of earlier printf output */
        if (sfd == STDERR_FILENO) fflush(stderr);
        o->fd = fcntl(sfd, F_DUPFD_CLOEXEC, 3);
        int mode = o->fd >= 0 ? fcntl(o->fd, F_GETFL) : 0;
        if (o->fd >= 0 && (mode & O_ACCMODE) == O_RDONLY) errno = EBADF;
        if (o->fd < 0 || (mode & O_ACCMODE) == O_RDONLY) {
            int err = errno;
            close_all(o);
            return dm_error(DM_STATUS_IO, "%s: cannot write: %s", path, strerror(err));
        }
        o->direct = true;
    } else {
        o->fd = open_direct(path);
        if (o->fd == -1) return dm_error(DM_STATUS_IO, "%s: cannot write: %s", path, strerror(errno));
        if (o->fd >= 0) {
            o->direct = true;
        } else {
            o->fd = -1;
            dm_status st = open_folder(o);
            if (!st) st = create_tmp(o);
            if (st) {
                close_all(o);
                return st;
            }
        }
    }
    o->active = true;
    dm_status st = attach_stream(o, path);
    if (st) dm_outfile_abort(o);
    return st;
}

dm_status dm_outfile_open(dm_outfile *o, const char *path) { return outfile_open(o, path, true); }

dm_status dm_outfile_check(const char *path) {
    dm_outfile o;
    memset(&o, 0, sizeof o);
    o.fd = o.dirfd = -1;
    if (!path || !*path) return dm_error(DM_STATUS_ARG, "an output path is empty");
    if (strlen(path) >= sizeof o.path) return dm_error(DM_STATUS_ARG, "%.200s...: path too long", path);
    int action;
    const char *slash = strrchr(path, '/');
    DM_TRY(fault_for(slash ? slash + 1 : path, false, &action));
    int sfd = std_stream_fd(path);
    if (sfd >= 0) {
        int mode = fcntl(sfd, F_GETFL);
        if (mode < 0 || (mode & O_ACCMODE) == O_RDONLY)
            return dm_error(DM_STATUS_IO, "%s: cannot write: %s", path, strerror(mode < 0 ? errno : EBADF));
        return DM_STATUS_OK;
    }
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        if (S_ISDIR(st.st_mode)) return dm_error(DM_STATUS_IO, "%s: cannot write: %s", path, strerror(EISDIR));
        if (access(path, W_OK) != 0) return dm_error(DM_STATUS_IO, "%s: cannot write: %s", path, strerror(errno));
        return DM_STATUS_OK;
    }
    memcpy(o.path, path, strlen(path) + 1);
    dm_status s = open_folder(&o);
    if (!s) s = create_tmp(&o);
    if (!s) unlinkat(o.dirfd, o.tmp, 0);
    close_all(&o);
    return s;
}

/* ---- commit ---------------------------------------------------------------------------------- */

/* Removes temporaries of the same output left by dead processes of this user. A candidate must be a
 * regular file owned by us with a pid that does not exist here (kill: ESRCH) and no flock held (a
 * writer on another host of a shared folder holds one). Best effort: errors are ignored. */
static void sweep_stale(dm_outfile *o) {
    if (!o->dir_sync) return;
    int fd = openat(o->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0) close(fd);
        return;
    }
    const char *base = o->path + o->base;
    pid_t self = getpid();
    uid_t me = geteuid();
    struct dirent *e;
    while ((e = readdir(d))) {
        long pid = tmp_pid(e->d_name, base);
        if (pid <= 0 || pid == (long)self || !strcmp(e->d_name, o->tmp)) continue;
        if (pid > INT_MAX || kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;   /* alive, or not ours to judge */
        struct stat st, st2;
        if (fstatat(o->dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) || st.st_uid != me)
            continue;
        int t = openat(o->dirfd, e->d_name, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        if (t < 0) continue;
        if (fstat(t, &st2) == 0 && st2.st_ino == st.st_ino && st2.st_dev == st.st_dev &&
            flock(t, LOCK_EX | LOCK_NB) == 0)
            unlinkat(o->dirfd, e->d_name, 0);
        close(t);
    }
    closedir(d);
}

dm_status dm_outfile_commit(dm_outfile *o) {
    if (!o->active) return dm_error(DM_STATUS_ARG, "%s: output committed twice or never opened", o->path);
    stream_cookie *c = o->err;
    int err = 0;
    if (fflush(o->f) != 0 || ferror(o->f)) err = c->err ? c->err : (errno ? errno : EIO);
    if (!err && c->err) err = c->err;
    if (!err && o->fault == FAULT_FAIL) err = ENOSPC;
    if (!err && o->fault == FAULT_PAUSE) fault_pause(o->path);
    struct stat st;
    bool regular = !o->direct || (fstat(o->fd, &st) == 0 && S_ISREG(st.st_mode));   /* stdout to a file */
    if (!err && regular && fsync(o->fd) != 0 && !(o->direct && (errno == EINVAL || errno == EROFS)))
        err = errno;
    if (!err && !o->direct && renameat(o->dirfd, o->tmp, o->dirfd, o->path + o->base) != 0) err = errno;
    if (err) {
        dm_outfile_abort(o);
        return dm_error(DM_STATUS_IO, "%s: write failed: %s", o->path, strerror(err));
    }
    o->tmp[0] = 0;        /* renamed: nothing of ours left to remove */
    if (!o->direct && o->dir_sync && fsync(o->dirfd) != 0 && errno != EINVAL) err = errno;
    if (!o->direct && !err) sweep_stale(o);
    close_all(o);
    if (err) return dm_error(DM_STATUS_IO, "%s: write failed: folder not synced: %s", o->path, strerror(err));
    return DM_STATUS_OK;
}

int dm_outfile_errno(const dm_outfile *o) {
    const stream_cookie *c = o->err;
    if (c && c->err) return c->err;
    return errno ? errno : EIO;
}

void dm_outfile_abort(dm_outfile *o) {
    if (!o->active) return;
    if (o->f) __fpurge(o->f);            /* nothing more reaches the output */
    if (!o->direct && o->tmp[0]) unlinkat(o->dirfd, o->tmp, 0);
    o->tmp[0] = 0;
    close_all(o);
}
