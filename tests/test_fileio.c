/*
 * test_fileio.c: output files (host/fileio.c) against a hostile or unlucky environment, in the library
 * and through `deepmotif simulate --out` (quick, and written with the same dm_outfile as every other
 * output):
 *  - symbolic links planted at the temporary names (forced collisions on the random name, the old
 *    predictable OUT.tmp.<pid> names) and at the output path: no victim file is written, created or
 *    truncated, and the planted links stay as they were;
 *  - outputs that are not regular files (/dev/null, /dev/full, a FIFO, "-" and /dev/stdout) are
 *    written in place and stay what they were; their write errors carry the reason;
 *  - a read-only folder, and ENOSPC: injected with DM_FAULT=fail@NAME (any user), and for real on a
 *    64 KiB tmpfs when the test may mount one (root in a private mount namespace; skipped otherwise,
 *    since an unprivileged user cannot mount a small file system);
 *  - DM_FAULT=pause@NAME, SIGKILL inside the write, and the next write sweeping the stale temporary;
 *    stale temporaries of dead processes removed, those of live ones (or locked) and anything else kept;
 *  - file modes follow the umask.
 * Each Criterion test runs in its own process, so DM_FAULT (parsed once per process) can be set per
 * test before the first output is opened.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dm_internal.h"
#include "npy.h"
#include "testutil.h"

/* ---- a predictable getrandom() for the collision test ----------------------------------------- */

/* The test binary's definition takes the place of libc's for the statically linked library. While
 * g_forced is set, call k fills the buffer with byte k (names AAAAAA, BBBBBB, ...); otherwise it is
 * the real system call. */
static int g_forced, g_calls;

ssize_t getrandom(void *buf, size_t n, unsigned int flags) {
    if (!g_forced) return syscall(SYS_getrandom, buf, n, flags);
    memset(buf, g_calls++, n);
    return (ssize_t)n;
}

/* ---- helpers ------------------------------------------------------------------------------------ */

static char *dir;

static void setup(void) {
    dir = dm_test_tmpdir();
    cr_assert(dir);
}
static void teardown(void) {
    dm_test_rmdir(dir);
    free(dir);
    dir = NULL;
}

/* Criterion does not run .fini after a skip: clean up first. */
#define SKIP(...)                                                                                  \
    do {                                                                                           \
        teardown();                                                                                \
        cr_skip_test(__VA_ARGS__);                                                                 \
    } while (0)

/* DIR/name in one of 16 rotating buffers: copy what must live longer */
static const char *at(const char *name) {
    static char buf[16][1024];
    static int k;
    k = (k + 1) % 16;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

/* Runs the CLI with `args` (a shell fragment, optionally after environment assignments in `env`);
 * stdout to DIR/out, stderr to DIR/err. */
static int cli_env(const char *env, const char *args) {
    return dm_test_system("cd %s && %s OPENBLAS_NUM_THREADS=1 %s %s > %s/out 2> %s/err", dir, env, DM_TEST_CLI,
                          args, dir, dir);
}
static int cli(const char *args) { return cli_env("", args); }

/* A whole file in a malloc'ed NUL-terminated buffer (*n bytes), or NULL. */
static char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, len = 0;
    char *b = malloc(cap + 1);
    size_t r;
    while ((r = fread(b + len, 1, cap - len, f)) > 0) {
        len += r;
        if (len == cap) b = realloc(b, (cap *= 2) + 1);
    }
    fclose(f);
    b[len] = 0;
    if (n) *n = len;
    return b;
}

static char *err_text(void) {
    char *e = slurp(at("err"), NULL);
    return e ? e : strdup("");
}

static void put_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    cr_assert(f, "%s: %s", path, strerror(errno));
    fputs(text, f);
    fclose(f);
}

/* The folder's entries other than out/err (the CLI's redirections), sorted, with type, mode, size
 * and a content checksum: equal listings mean nothing was added, removed or changed. */
static char *listing(const char *d) {
    struct dirent **ents;
    int n = scandir(d, &ents, NULL, alphasort);
    cr_assert(n >= 0, "%s: %s", d, strerror(errno));
    size_t cap = 1 << 16, len = 0;
    char *s = malloc(cap);
    s[0] = 0;
    for (int i = 0; i < n; i++) {
        const char *nm = ents[i]->d_name;
        if (strcmp(nm, ".") && strcmp(nm, "..") && strcmp(nm, "out") && strcmp(nm, "err")) {
            char p[2048];
            snprintf(p, sizeof p, "%s/%s", d, nm);
            struct stat st;
            lstat(p, &st);
            unsigned long sum = 0;
            size_t sz = 0;
            char *c = S_ISREG(st.st_mode) ? slurp(p, &sz) : NULL;
            for (size_t k = 0; c && k < sz; k++) sum = sum * 131 + (unsigned char)c[k];
            free(c);
            if (len + 600 > cap) s = realloc(s, cap *= 2);
            len += (size_t)snprintf(s + len, cap - len, "%s %o %lld %lx\n", nm, (unsigned)st.st_mode,
                                    (long long)st.st_size, sum);
        }
        free(ents[i]);
    }
    free(ents);
    return s;
}

/* Removes the line of `s` that starts with `prefix`; false when there is none. */
static bool drop_line(char *s, const char *prefix) {
    for (char *l = s; *l;) {
        char *end = strchr(l, '\n');
        end = end ? end + 1 : l + strlen(l);
        if (!strncmp(l, prefix, strlen(prefix))) {
            memmove(l, end, strlen(end) + 1);
            return true;
        }
        l = end;
    }
    return false;
}

/* Number of entries whose name contains `part`. */
static int count_named(const char *d, const char *part) {
    DIR *dd = opendir(d);
    cr_assert(dd);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dd)))
        if (strstr(e->d_name, part)) n++;
    closedir(dd);
    return n;
}

static mode_t type_of(const char *path) {
    struct stat st;
    cr_assert(lstat(path, &st) == 0, "%s: %s", path, strerror(errno));
    return st.st_mode & S_IFMT;
}

/* A pid that existed and no longer does (a child that exited and was reaped). */
static pid_t dead_pid(void) {
    pid_t p = fork();
    if (p == 0) _exit(0);
    cr_assert(p > 0);
    waitpid(p, NULL, 0);
    cr_assert(kill(p, 0) == -1 && errno == ESRCH);
    return p;
}

/* The reference output of `simulate --n 50 --seed 7` (ref.tsv in the folder). */
#define SIM "simulate --n 50 --seed 7"
static char *reference(size_t *n) {
    cr_assert_eq(cli(SIM " --out ref.tsv"), 0, "%s", err_text());
    char *r = slurp(at("ref.tsv"), n);
    cr_assert(r && *n > 1000);
    return r;
}

/* Reads a FIFO to its end in a thread. */
typedef struct fifo_reader {
    const char *path;
    char *data;
    size_t n;
} fifo_reader;

static void *read_fifo(void *arg) {
    fifo_reader *r = arg;
    r->data = slurp(r->path, &r->n);
    return NULL;
}

/* The memory device /dev/<name> (minor 3 null, 7 full) to write to. As root, a private node of the
 * same device in the test folder: a broken build run as root would rename a file over the machine's
 * own /dev/null (the bug tested here), which /dev, unwritable to other users, otherwise prevents. */
static const char *dev_node(const char *name, unsigned minor) {
    static char buf[2][1024];
    char *b = buf[minor == 7];
    snprintf(b, sizeof buf[0], "%s/%s", dir, name);
    if (geteuid() == 0 && mknod(b, S_IFCHR | 0666, makedev(1, minor)) == 0) return b;
    snprintf(b, sizeof buf[0], "/dev/%s", name);
    struct stat st;
    if (stat(b, &st) != 0 || !S_ISCHR(st.st_mode) || access(b, W_OK) != 0)
        SKIP("%s is not a writable character device here", b);
    return b;
}

/* Enters a private mount namespace (the mounts vanish with this test's process); false when this
 * user may not. */
static bool private_mounts(void) {
    if (geteuid() != 0 || unshare(CLONE_NEWNS) != 0) return false;
    return mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0;
}

TestSuite(fileio, .init = setup, .fini = teardown, .timeout = 120);

/* ---- library ------------------------------------------------------------------------------------ */

Test(fileio, atomic_write_replaces_the_file_and_leaves_nothing_else) {
    char p[1024];
    snprintf(p, sizeof p, "%s", at("out.txt"));
    for (int round = 0; round < 2; round++) {
        dm_outfile o;
        cr_assert_eq(dm_outfile_open(&o, p), DM_STATUS_OK, "%s", dm_last_error());
        cr_assert(!o.direct && o.tmp[0] == '.' && strstr(o.tmp, "out.txt.dmtmp."));
        /* the temporary is hidden and does not end in the output's name: never mistaken for it */
        size_t tl = strlen(o.tmp);
        cr_assert(tl < 7 || strcmp(o.tmp + tl - 7, "out.txt"));
        fprintf(o.f, "round %d\n", round);
        cr_assert_eq(count_named(dir, ".dmtmp."), 1);
        cr_assert_eq(dm_outfile_commit(&o), DM_STATUS_OK, "%s", dm_last_error());
        dm_outfile_abort(&o);     /* after a commit: a no-op */
        char *c = slurp(p, NULL), want[32];
        snprintf(want, sizeof want, "round %d\n", round);
        cr_assert_str_eq(c, want);
        free(c);
        cr_assert_eq(count_named(dir, ".dmtmp."), 0);
    }
    /* abort removes the temporary and leaves the previous file */
    dm_outfile o;
    cr_assert_eq(dm_outfile_open(&o, p), DM_STATUS_OK);
    fprintf(o.f, "never\n");
    dm_outfile_abort(&o);
    char *c = slurp(p, NULL);
    cr_assert_str_eq(c, "round 1\n");
    free(c);
    cr_assert_eq(count_named(dir, ".dmtmp."), 0);
}

Test(fileio, mode_follows_the_umask) {
    const mode_t masks[] = {022, 027, 002, 077};
    for (int i = 0; i < 4; i++) {
        mode_t old = umask(masks[i]);
        dm_outfile o;
        cr_assert_eq(dm_outfile_open(&o, at("m.txt")), DM_STATUS_OK);
        fputs("x", o.f);
        cr_assert_eq(dm_outfile_commit(&o), DM_STATUS_OK);
        umask(old);
        struct stat st;
        cr_assert(stat(at("m.txt"), &st) == 0);
        cr_assert_eq(st.st_mode & 0777, 0666 & ~masks[i], "umask %03o: mode %03o", (unsigned)masks[i],
                     (unsigned)(st.st_mode & 0777));
    }
}

Test(fileio, planted_links_at_the_random_temporary_names_are_skipped) {
    /* The attacker knows the next two random names (forced here) and plants a link to a victim file
     * at one and a dangling link (which O_CREAT alone would create) at the other, plus the old
     * predictable name. */
    char victim[1024], made[1024];
    snprintf(victim, sizeof victim, "%s", at("victim"));
    snprintf(made, sizeof made, "%s", at("made_by_attack"));
    put_file(victim, "victim\n");
    char name[256];
    snprintf(name, sizeof name, ".out.txt.dmtmp.%ld.AAAAAA", (long)getpid());
    cr_assert(symlink(victim, at(name)) == 0);
    snprintf(name, sizeof name, ".out.txt.dmtmp.%ld.BBBBBB", (long)getpid());
    cr_assert(symlink(made, at(name)) == 0);
    snprintf(name, sizeof name, "out.txt.tmp.%ld", (long)getpid());
    cr_assert(symlink(victim, at(name)) == 0);

    g_forced = 1;
    dm_outfile o;
    cr_assert_eq(dm_outfile_open(&o, at("out.txt")), DM_STATUS_OK, "%s", dm_last_error());
    g_forced = 0;
    cr_assert_eq(g_calls, 3, "the two planted names are skipped, the third is used (%d draws)", g_calls);
    snprintf(name, sizeof name, ".out.txt.dmtmp.%ld.CCCCCC", (long)getpid());
    cr_assert_str_eq(o.tmp, name);
    fputs("ours\n", o.f);
    cr_assert_eq(dm_outfile_commit(&o), DM_STATUS_OK, "%s", dm_last_error());

    char *v = slurp(victim, NULL), *out = slurp(at("out.txt"), NULL);
    cr_assert_str_eq(v, "victim\n");
    cr_assert_str_eq(out, "ours\n");
    free(v);
    free(out);
    cr_assert(access(made, F_OK) != 0, "the dangling link's target was created");
    cr_assert_eq(type_of(at("out.txt")), S_IFREG);
    snprintf(name, sizeof name, ".out.txt.dmtmp.%ld.AAAAAA", (long)getpid());
    cr_assert_eq(type_of(at(name)), S_IFLNK, "a planted link (of a live pid) is left alone");
    cr_assert_eq(count_named(dir, ".dmtmp."), 2);
}

Test(fileio, a_link_at_the_output_path_is_replaced_never_written_through) {
    char victim[1024];
    snprintf(victim, sizeof victim, "%s", at("victim"));
    put_file(victim, "victim\n");
    cr_assert(symlink(victim, at("out.txt")) == 0);
    cr_assert(symlink(at("nowhere"), at("out2.txt")) == 0);
    for (int k = 0; k < 2; k++) {
        const char *p = at(k ? "out2.txt" : "out.txt");
        dm_outfile o;
        cr_assert_eq(dm_outfile_open(&o, p), DM_STATUS_OK, "%s", dm_last_error());
        cr_assert(!o.direct);
        fputs("ours\n", o.f);
        cr_assert_eq(dm_outfile_commit(&o), DM_STATUS_OK, "%s", dm_last_error());
        cr_assert_eq(type_of(p), S_IFREG);
        char *c = slurp(p, NULL);
        cr_assert_str_eq(c, "ours\n");
        free(c);
    }
    char *v = slurp(victim, NULL);
    cr_assert_str_eq(v, "victim\n");
    free(v);
    cr_assert(access(at("nowhere"), F_OK) != 0);
}

Test(fileio, devices_are_written_in_place_with_their_errors) {
    const char *null = dev_node("null", 3), *full = dev_node("full", 7);
    dm_outfile o;
    cr_assert_eq(dm_outfile_open(&o, null), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert(o.direct && !o.tmp[0]);
    for (int i = 0; i < 100000; i++) fprintf(o.f, "line %d\n", i);
    cr_assert_eq(dm_outfile_commit(&o), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(type_of(null), S_IFCHR);

    cr_assert_eq(dm_outfile_open(&o, full), DM_STATUS_OK, "%s", dm_last_error());
    for (int i = 0; i < 100000; i++) fprintf(o.f, "line %d\n", i);   /* fails inside stdio's flushes */
    cr_assert_eq(dm_outfile_commit(&o), DM_STATUS_IO);
    char want[1200];
    snprintf(want, sizeof want, "%s: write failed: No space left on device", full);
    cr_assert_str_eq(dm_last_error(), want);
    cr_assert_eq(type_of(full), S_IFCHR);
    cr_assert_eq(count_named(dir, ".dmtmp."), 0);
}

Test(fileio, a_fifo_is_written_in_place) {
    char p[1024];
    snprintf(p, sizeof p, "%s", at("pipe"));
    cr_assert(mkfifo(p, 0600) == 0);
    fifo_reader r = {.path = p};
    pthread_t th;
    pthread_create(&th, NULL, read_fifo, &r);
    dm_outfile o;
    cr_assert_eq(dm_outfile_open(&o, p), DM_STATUS_OK, "%s", dm_last_error());   /* waits for the reader */
    cr_assert(o.direct);
    for (int i = 0; i < 20000; i++) fprintf(o.f, "%d\n", i);
    cr_assert_eq(dm_outfile_commit(&o), DM_STATUS_OK, "%s", dm_last_error());
    pthread_join(th, NULL);
    cr_assert(r.data);
    size_t want = 0;
    for (int i = 0; i < 20000; i++) want += (size_t)snprintf(NULL, 0, "%d\n", i);
    cr_assert_eq(r.n, want);
    cr_assert(!strncmp(r.data, "0\n1\n2\n", 6) && !strcmp(r.data + r.n - 6, "19999\n"));
    free(r.data);
    cr_assert_eq(type_of(p), S_IFIFO);
    cr_assert_eq(count_named(dir, ".dmtmp."), 0);
}

Test(fileio, check_probes_without_opening_devices_or_leaving_files) {
    char p[1024];
    snprintf(p, sizeof p, "%s", at("pipe"));
    cr_assert(mkfifo(p, 0600) == 0);
    /* no reader: opening the FIFO for writing would block here (the suite's timeout would fail it) */
    cr_assert_eq(dm_outfile_check(p), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(dm_outfile_check(at("new.txt")), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(dm_outfile_check("-"), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(dm_outfile_check(dev_node("null", 3)), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(access(at("new.txt"), F_OK), -1);
    cr_assert_eq(count_named(dir, ".dmtmp."), 0);
    cr_assert_eq(dm_outfile_check(dir), DM_STATUS_IO);
    char want[1200];
    snprintf(want, sizeof want, "%s: cannot write: Is a directory", dir);
    cr_assert_str_eq(dm_last_error(), want);
    cr_assert_eq(dm_outfile_check(at("no/such.txt")), DM_STATUS_IO);
    snprintf(want, sizeof want, "%s: cannot write: No such file or directory", at("no/such.txt"));
    cr_assert_str_eq(dm_last_error(), want);
    dm_outfile o;
    cr_assert_eq(dm_outfile_open(&o, at("sub/")), DM_STATUS_IO);
    cr_assert_eq(dm_outfile_open(&o, ""), DM_STATUS_ARG);
}

Test(fileio, injected_enospc_fails_the_nth_matching_commit) {
    setenv("DM_FAULT", "pause@nothing.txt,fail@f*#2", 1);
    for (int k = 1; k <= 3; k++) {
        char name[32];
        snprintf(name, sizeof name, "f%d.txt", k);
        put_file(at(name), "previous\n");
    }
    for (int k = 1; k <= 3; k++) {
        char name[32];
        snprintf(name, sizeof name, "f%d.txt", k);
        dm_outfile o;
        cr_assert_eq(dm_outfile_open(&o, at(name)), DM_STATUS_OK, "%s", dm_last_error());
        fputs("new\n", o.f);
        dm_status st = dm_outfile_commit(&o);
        char *c = slurp(at(name), NULL);
        if (k == 2) {
            cr_assert_eq(st, DM_STATUS_IO);
            char want[1200];
            snprintf(want, sizeof want, "%s: write failed: No space left on device", at(name));
            cr_assert_str_eq(dm_last_error(), want);
            cr_assert_str_eq(c, "previous\n");
        } else {
            cr_assert_eq(st, DM_STATUS_OK, "%s", dm_last_error());
            cr_assert_str_eq(c, "new\n");
        }
        free(c);
        cr_assert_eq(count_named(dir, ".dmtmp."), 0);
    }
    /* dm_outfile_check does not count as an opened output: the next f* is the 4th, not failed */
    cr_assert_eq(dm_outfile_check(at("f9.txt")), DM_STATUS_OK);
}

Test(fileio, a_malformed_fault_rule_is_an_error) {
    setenv("DM_FAULT", "explode@x", 1);
    dm_outfile o;
    cr_assert_eq(dm_outfile_open(&o, at("x")), DM_STATUS_ARG);
    cr_assert(strstr(dm_last_error(), "DM_FAULT"), "%s", dm_last_error());
    cr_assert_eq(count_named(dir, "x"), 0);
}

Test(fileio, npy_and_npz_write_errors_carry_the_reason) {
    setenv("DM_FAULT", "fail@a.npy", 1);
    int64_t shape[2] = {1000, 4};
    float *v = calloc(4000, sizeof(float));
    dm_npy_writer w;
    cr_assert_eq(dm_npy_open(&w, at("a.npy"), 2, shape), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(dm_npy_append(&w, v, 4000), DM_STATUS_OK);
    cr_assert_eq(dm_npy_commit(&w), DM_STATUS_IO);
    char want[1200];
    snprintf(want, sizeof want, "%s: write failed: No space left on device", at("a.npy"));
    cr_assert_str_eq(dm_last_error(), want);
    dm_npy_abort(&w);
    cr_assert_eq(access(at("a.npy"), F_OK), -1);
    cr_assert_eq(count_named(dir, ".dmtmp."), 0);

    const char *full = dev_node("full", 7);
    snprintf(want, sizeof want, "%s: write failed: No space left on device", full);
    for (int zip = 0; zip < 2; zip++) {
        dm_status st = zip ? dm_npz_open(&w, full, "arr_0", 2, shape) : dm_npy_open(&w, full, 2, shape);
        cr_assert_eq(st, DM_STATUS_OK, "%s", dm_last_error());
        for (int k = 0; k < 100 && !st; k++) st = dm_npy_append(&w, v, 40);
        if (!st) st = dm_npy_commit(&w);
        cr_assert_eq(st, DM_STATUS_IO);
        cr_assert_str_eq(dm_last_error(), want);
        dm_npy_abort(&w);
    }
    free(v);
}

/* ---- through the CLI ---------------------------------------------------------------------------- */

Test(fileio, cli_symlink_attack_leaves_the_victim_untouched) {
    size_t nref;
    char *ref = reference(&nref);
    char victim[1024];
    snprintf(victim, sizeof victim, "%s", at("victim"));
    put_file(victim, "victim\n");
    /* links at the old predictable temporary names of the next 400 pids, at hidden names of the new
     * pattern for those pids, and at the output path itself */
    FILE *lp = fopen("/proc/sys/kernel/ns_last_pid", "r");
    long last = getpid();
    if (lp) {
        if (fscanf(lp, "%ld", &last) != 1) last = getpid();
        fclose(lp);
    }
    for (long pid = last; pid < last + 400; pid++) {
        char name[128];
        snprintf(name, sizeof name, "out.tsv.tmp.%ld", pid);
        cr_assert(symlink(victim, at(name)) == 0);
        snprintf(name, sizeof name, ".out.tsv.dmtmp.%ld.AAAAAA", pid);
        cr_assert(symlink(victim, at(name)) == 0);
    }
    cr_assert(symlink(victim, at("out.tsv")) == 0);
    char *before = listing(dir);
    cr_assert_eq(cli(SIM " --out out.tsv"), 0, "%s", err_text());
    size_t n = 0;
    char *v = slurp(victim, NULL), *out = slurp(at("out.tsv"), &n);
    cr_assert_str_eq(v, "victim\n");
    cr_assert(n == nref && !memcmp(out, ref, n));
    cr_assert_eq(type_of(at("out.tsv")), S_IFREG);
    /* everything planted is still there and unchanged; only out.tsv changed (link -> file) */
    char *after = listing(dir);
    cr_assert(drop_line(before, "out.tsv ") && drop_line(after, "out.tsv "));
    cr_assert_str_eq(before, after);
    cr_assert_eq(count_named(dir, "tmp."), 800);
    free(v);
    free(out);
    free(ref);
    free(before);
    free(after);
}

Test(fileio, cli_dev_null_and_dev_full) {
    const char *null = dev_node("null", 3), *full = dev_node("full", 7);
    char args[1200];
    snprintf(args, sizeof args, SIM " --out %s", null);
    cr_assert_eq(cli(args), 0, "%s", err_text());
    cr_assert_eq(type_of(null), S_IFCHR);
    snprintf(args, sizeof args, SIM " --out %s", full);
    cr_assert_eq(cli(args), 1);
    char *e = err_text(), want[1200];
    snprintf(want, sizeof want, "%s: write failed: No space left on device\n", full);
    cr_assert(strstr(e, want), "%s", e);
    free(e);
    cr_assert_eq(type_of(full), S_IFCHR);
    cr_assert_eq(count_named(dir, ".dmtmp."), 0);
}

Test(fileio, cli_fifo_reader_gets_the_data) {
    size_t nref;
    char *ref = reference(&nref);
    char p[1024];
    snprintf(p, sizeof p, "%s", at("pipe"));
    cr_assert(mkfifo(p, 0600) == 0);
    fifo_reader r = {.path = p};
    pthread_t th;
    pthread_create(&th, NULL, read_fifo, &r);
    cr_assert_eq(cli(SIM " --out pipe"), 0, "%s", err_text());
    pthread_join(th, NULL);
    cr_assert(r.data && r.n == nref && !memcmp(r.data, ref, nref));
    cr_assert_eq(type_of(p), S_IFIFO);
    cr_assert_eq(count_named(dir, ".dmtmp."), 0);
    free(r.data);
    free(ref);
}

Test(fileio, cli_dash_and_dev_stdout_write_to_standard_output) {
    size_t nref, n = 0;
    char *ref = reference(&nref);
    /* /dev/stdout only when not root: a broken build run as root would replace the machine's link
     * (/dev/fd/1 resolves into /proc, where nothing can be created) */
    const char *outs[] = {"-", "/dev/fd/1", "/proc/self/fd/1", "/dev/stdout"};
    for (int k = 0; k < (geteuid() ? 4 : 3); k++) {
        char args[256];
        snprintf(args, sizeof args, SIM " --out %s", outs[k]);
        cr_assert_eq(cli(args), 0, "%s", err_text());
        char *o = slurp(at("out"), &n);
        cr_assert(n == nref && !memcmp(o, ref, n), "--out %s", outs[k]);
        free(o);
    }
    /* through a pipe as well */
    cr_assert_eq(dm_test_system("cd %s && %s " SIM " --out - 2>/dev/null | cat > piped", dir, DM_TEST_CLI), 0);
    char *o = slurp(at("piped"), &n);
    cr_assert(n == nref && !memcmp(o, ref, n));
    free(o);
    free(ref);
    cr_assert_eq(access(at("-"), F_OK), -1);

    /* compare's TSV to standard output equals its TSV to a file (but for the command line) */
    put_file(at("q.meme"), "MEME version 4\n\nALPHABET= ACGT\n\nstrands: + -\n\n"
                           "MOTIF m1\nletter-probability matrix: alength= 4 w= 3 E= 0\n"
                           " 0.9 0.05 0.03 0.02\n 0.1 0.8 0.05 0.05\n 0.05 0.05 0.85 0.05\n\n");
    cr_assert_eq(cli("compare --query q.meme --db q.meme --out hits.tsv"), 0, "%s", err_text());
    cr_assert_eq(cli("compare --query q.meme --db q.meme --out -"), 0, "%s", err_text());
    char *a = slurp(at("hits.tsv"), NULL), *b = slurp(at("out"), NULL);
    cr_assert(a && b && drop_line(a, "# command:") && drop_line(b, "# command:"));
    cr_assert(!strncmp(b, "Query_ID\t", 9));
    cr_assert_str_eq(a, b);
    free(a);
    free(b);
    cr_assert_eq(access(at("-"), F_OK), -1);
}

Test(fileio, cli_read_only_folder) {
    char ro[1024];
    snprintf(ro, sizeof ro, "%s", at("ro"));
    cr_assert(mkdir(ro, 0755) == 0);
    put_file(at("ro/out.tsv"), "previous\n");
    const char *reason;
    if (geteuid() != 0) {
        cr_assert(chmod(ro, 0555) == 0);
        reason = "Permission denied";
    } else if (private_mounts() && mount(ro, ro, NULL, MS_BIND, NULL) == 0 &&
               mount(NULL, ro, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) == 0) {
        reason = "Read-only file system";     /* root ignores modes: a read-only bind mount instead */
    } else {
        SKIP("running as root without the right to mount: no read-only folder to try");
    }
    char *before = listing(ro);
    for (int k = 0; k < 2; k++) {
        cr_assert_eq(cli(k ? SIM " --out ro/new.tsv" : SIM " --out ro/out.tsv"), 1);
        char *e = err_text(), want[256];
        snprintf(want, sizeof want, "%s: cannot write: %s\n", k ? "ro/new.tsv" : "ro/out.tsv", reason);
        cr_assert(strstr(e, want), "want '%s', got '%s'", want, e);
        free(e);
        char *after = listing(ro);
        cr_assert_str_eq(before, after);
        free(after);
    }
    free(before);
    if (geteuid() == 0) umount(ro);
    else chmod(ro, 0755);
}

Test(fileio, cli_injected_enospc_keeps_the_previous_file) {
    size_t nref;
    char *ref = reference(&nref);
    cr_assert(rename(at("ref.tsv"), at("out.tsv")) == 0);
    char *before = listing(dir);
    cr_assert_eq(cli_env("DM_FAULT=fail@out.tsv", "simulate --n 60 --seed 8 --out out.tsv"), 1);
    char *e = err_text();
    cr_assert(strstr(e, "out.tsv: write failed: No space left on device\n"), "%s", e);
    free(e);
    char *after = listing(dir);
    cr_assert_str_eq(before, after);   /* no temporary left, out.tsv as it was */
    size_t n = 0;
    char *o = slurp(at("out.tsv"), &n);
    cr_assert(n == nref && !memcmp(o, ref, n));
    /* the same rule for a gzip output, and a rule that names another file changes nothing */
    cr_assert_eq(cli_env("DM_FAULT=fail@out.tsv*", "simulate --n 60 --out out.tsv.gz"), 1);
    cr_assert_eq(cli_env("DM_FAULT=fail@other.tsv", "simulate --n 60 --out out2.tsv"), 0, "%s", err_text());
    cr_assert_eq(access(at("out.tsv.gz"), F_OK), -1);
    cr_assert_eq(count_named(dir, ".dmtmp."), 0);
    free(o);
    free(ref);
    free(before);
    free(after);
}

Test(fileio, cli_real_enospc_on_a_small_tmpfs) {
    char small[1024];
    snprintf(small, sizeof small, "%s", at("small"));
    cr_assert(mkdir(small, 0755) == 0);
    if (!private_mounts() || mount("tmpfs", small, "tmpfs", 0, "size=64k") != 0)
        SKIP("cannot mount a 64 KiB tmpfs here (needs root); ENOSPC is covered by DM_FAULT");
    /* 20 pairs of 101 bases fit in 64 KiB; 2,000 pairs (about 420 KB) do not */
    cr_assert_eq(cli("simulate --n 20 --out small/out.tsv"), 0, "%s", err_text());
    char *before = listing(small);
    cr_assert_eq(cli("simulate --n 2000 --out small/out.tsv"), 1);
    char *e = err_text();
    cr_assert(strstr(e, "small/out.tsv: write failed: No space left on device\n"), "%s", e);
    free(e);
    char *after = listing(small);
    cr_assert_str_eq(before, after);
    free(before);
    free(after);
    umount(small);
}

Test(fileio, cli_stale_temporaries_of_dead_writers_are_swept) {
    pid_t dead = dead_pid();
    long self = getpid();
    char victim[1024];
    snprintf(victim, sizeof victim, "%s", at("victim"));
    put_file(victim, "victim\n");
    char keep_locked[128], name[128];
    const char *stale[] = {".out.tsv.dmtmp.%ld.abcdef", ".out.tsv.dmtmp.%ld.Z09xyQ"};
    const char *kept_dead[] = {
        ".other.tsv.dmtmp.%ld.abcdef",   /* another output */
        ".out.tsv.dmtmp.%ld.abc",        /* not the pattern */
        ".out.tsv.dmtmp.%ld.abcdef.x",
        "out.tsv.tmp.%ld",               /* the old scheme: not ours to judge */
        ".out.tsv.dmtmp.%ldx.abcdef",
    };
    for (int i = 0; i < 2; i++) {
        snprintf(name, sizeof name, stale[i], (long)dead);
        put_file(at(name), "stale\n");
    }
    for (int i = 0; i < 5; i++) {
        snprintf(name, sizeof name, kept_dead[i], (long)dead);
        put_file(at(name), "keep\n");
    }
    snprintf(name, sizeof name, ".out.tsv.dmtmp.%ld.livepd", self);   /* a live process */
    put_file(at(name), "live\n");
    snprintf(name, sizeof name, ".out.tsv.dmtmp.%ld.symlnk", (long)dead);   /* not a regular file */
    cr_assert(symlink(victim, at(name)) == 0);
    /* a dead pid here but a lock held: a live writer on another host of a shared folder */
    snprintf(keep_locked, sizeof keep_locked, ".out.tsv.dmtmp.%ld.locked", (long)dead);
    put_file(at(keep_locked), "locked\n");
    int lfd = open(at(keep_locked), O_RDONLY);
    cr_assert(lfd >= 0 && flock(lfd, LOCK_EX) == 0);

    /* a failed write sweeps nothing */
    cr_assert_eq(cli_env("DM_FAULT=fail@out.tsv", SIM " --out out.tsv"), 1);
    cr_assert_eq(count_named(dir, ".out.tsv.dmtmp."), 8);
    /* the next successful write removes exactly the two stale ones */
    cr_assert_eq(cli(SIM " --out out.tsv"), 0, "%s", err_text());
    for (int i = 0; i < 2; i++) {
        snprintf(name, sizeof name, stale[i], (long)dead);
        cr_assert_eq(access(at(name), F_OK), -1, "%s was not swept", name);
    }
    for (int i = 0; i < 5; i++) {
        snprintf(name, sizeof name, kept_dead[i], (long)dead);
        char *c = slurp(at(name), NULL);
        cr_assert(c && !strcmp(c, "keep\n"), "%s was touched", name);
        free(c);
    }
    snprintf(name, sizeof name, ".out.tsv.dmtmp.%ld.livepd", self);
    cr_assert_eq(access(at(name), F_OK), 0);
    snprintf(name, sizeof name, ".out.tsv.dmtmp.%ld.symlnk", (long)dead);
    cr_assert_eq(type_of(at(name)), S_IFLNK);
    cr_assert_eq(access(at(keep_locked), F_OK), 0);
    char *v = slurp(victim, NULL);
    cr_assert_str_eq(v, "victim\n");
    free(v);
    close(lfd);
}

Test(fileio, cli_pause_kill_and_the_next_write_cleans_up) {
    put_file(at("out.tsv"), "previous\n");
    int pfd[2];
    cr_assert(pipe(pfd) == 0);
    pid_t child = fork();
    if (child == 0) {
        dup2(pfd[1], 2);
        close(pfd[0]);
        if (chdir(dir) != 0) _exit(126);
        setenv("DM_FAULT", "pause@out.tsv", 1);
        execl(DM_TEST_CLI, DM_TEST_CLI, "simulate", "--n", "50", "--seed", "7", "--out", "out.tsv", (char *)NULL);
        _exit(127);
    }
    close(pfd[1]);
    char buf[512];
    size_t n = 0;
    while (n < sizeof buf - 1 && !memchr(buf, '\n', n)) {
        ssize_t r = read(pfd[0], buf + n, sizeof buf - 1 - n);
        if (r <= 0) break;
        n += (size_t)r;
    }
    buf[n] = 0;
    cr_assert(strstr(buf, "DM_FAULT paused out.tsv\n"), "got '%s'", buf);
    /* paused inside the write: the data sit in the temporary; the output is still the old file */
    char tmpname[128];
    snprintf(tmpname, sizeof tmpname, ".out.tsv.dmtmp.%ld.", (long)child);
    cr_assert_eq(count_named(dir, tmpname), 1);
    char *c = slurp(at("out.tsv"), NULL);
    cr_assert_str_eq(c, "previous\n");
    free(c);
    kill(child, SIGKILL);
    int status;
    waitpid(child, &status, 0);
    close(pfd[0]);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    cr_assert_eq(count_named(dir, tmpname), 1, "a killed writer leaves its temporary");
    cr_assert_eq(cli(SIM " --out out.tsv"), 0, "%s", err_text());
    cr_assert_eq(count_named(dir, ".dmtmp."), 0, "the next write of out.tsv removes it");
    size_t nref, nout;
    char *ref = reference(&nref), *out = slurp(at("out.tsv"), &nout);
    cr_assert(nout == nref && !memcmp(out, ref, nref));
    free(ref);
    free(out);
}

Test(fileio, cli_mode_follows_the_umask) {
    const char *masks[] = {"022", "027", "002", "077"};
    const unsigned modes[] = {0644, 0640, 0664, 0600};
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(dm_test_system("cd %s && umask %s && %s simulate --n 5 --out m.tsv 2>/dev/null", dir, masks[i],
                                    DM_TEST_CLI),
                     0);
        struct stat st;
        cr_assert(stat(at("m.tsv"), &st) == 0);
        cr_assert_eq(st.st_mode & 0777, modes[i], "umask %s: mode %03o", masks[i], (unsigned)(st.st_mode & 0777));
    }
}
