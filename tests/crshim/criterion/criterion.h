/*
 * crshim/criterion/criterion.h: the part of Criterion's API deepmotif's tests use, for the one build
 * Criterion cannot run in: ThreadSanitizer. Criterion 2.4 maps its shared arena at fixed addresses
 * that TSan reserves, so a TSan-built Criterion binary aborts at start-up ("Could not initialize
 * inheritable arena") most of the time. tests/CMakeLists.txt compiles the CUDA-emulator tests against
 * this header and crshim.c instead when DM_SANITIZE_THREAD is on; every other build uses Criterion.
 *
 * Semantics follow Criterion: Test(suite, name, .init, .fini, .exit_code, .signal, .disabled), one
 * forked process per test, cr_assert_* end the test, cr_expect_* record a failure and go on,
 * cr_skip_test skips; `--filter suite/name-glob`, `--verbose`, `--jobs` (ignored: tests run in turn).
 */
#ifndef DM_CRSHIM_CRITERION_H
#define DM_CRSHIM_CRITERION_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

typedef struct dm_crshim_test {
    const char *suite, *name;
    void (*fn)(void);
    void (*init)(void);
    void (*fini)(void);
    int exit_code;        /* expected exit status (TSan's 66 for a test that must race) */
    int signal;           /* expected signal, 0 for none */
    double timeout;       /* accepted, not enforced (ctest has its own) */
    bool disabled;
    struct dm_crshim_test *next;
} dm_crshim_test;

void dm_crshim_register(dm_crshim_test *t);
/* fmt may be "" (no message): no format attribute, gcc would warn about the empty format */
void dm_crshim_fail(bool fatal, const char *file, int line, const char *cond, const char *fmt, ...);
void dm_crshim_skip(const char *fmt, ...) __attribute__((noreturn));
void dm_crshim_log(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define Test(s_, n_, ...)                                                                          \
    static void s_##_##n_##_impl(void);                                                            \
    static dm_crshim_test s_##_##n_##_test = {                                                     \
        .suite = #s_, .name = #n_, .fn = s_##_##n_##_impl, __VA_ARGS__};                           \
    __attribute__((constructor)) static void s_##_##n_##_register(void) {                          \
        dm_crshim_register(&s_##_##n_##_test);                                                     \
    }                                                                                              \
    static void s_##_##n_##_impl(void)

/* "" __VA_ARGS__: an optional printf-style message whose format is a string literal */
#define DM_CRSHIM_CHECK(fatal, cond, ...)                                                          \
    do {                                                                                           \
        if (!(cond)) dm_crshim_fail((fatal), __FILE__, __LINE__, #cond, "" __VA_ARGS__);           \
    } while (0)

#define cr_assert(cond, ...) DM_CRSHIM_CHECK(true, cond, __VA_ARGS__)
#define cr_expect(cond, ...) DM_CRSHIM_CHECK(false, cond, __VA_ARGS__)
#define cr_assert_eq(a, b, ...) DM_CRSHIM_CHECK(true, (a) == (b), __VA_ARGS__)
#define cr_expect_eq(a, b, ...) DM_CRSHIM_CHECK(false, (a) == (b), __VA_ARGS__)
#define cr_assert_neq(a, b, ...) DM_CRSHIM_CHECK(true, (a) != (b), __VA_ARGS__)
#define cr_assert_lt(a, b, ...) DM_CRSHIM_CHECK(true, (a) < (b), __VA_ARGS__)
#define cr_assert_leq(a, b, ...) DM_CRSHIM_CHECK(true, (a) <= (b), __VA_ARGS__)
#define cr_assert_gt(a, b, ...) DM_CRSHIM_CHECK(true, (a) > (b), __VA_ARGS__)
#define cr_assert_geq(a, b, ...) DM_CRSHIM_CHECK(true, (a) >= (b), __VA_ARGS__)
#define cr_assert_null(p, ...) DM_CRSHIM_CHECK(true, (p) == NULL, __VA_ARGS__)
#define cr_assert_not_null(p, ...) DM_CRSHIM_CHECK(true, (p) != NULL, __VA_ARGS__)
#define cr_assert_str_eq(a, b, ...) DM_CRSHIM_CHECK(true, strcmp((a), (b)) == 0, __VA_ARGS__)
#define cr_assert_arr_eq(a, b, n, ...) DM_CRSHIM_CHECK(true, memcmp((a), (b), (n)) == 0, __VA_ARGS__)
#define cr_assert_fail(...) dm_crshim_fail(true, __FILE__, __LINE__, "cr_assert_fail", "" __VA_ARGS__)
#define cr_expect_fail(...) dm_crshim_fail(false, __FILE__, __LINE__, "cr_expect_fail", "" __VA_ARGS__)
#define cr_skip_test(...) dm_crshim_skip("" __VA_ARGS__)
#define cr_log_info(...) dm_crshim_log("info", __VA_ARGS__)
#define cr_log_warn(...) dm_crshim_log("warn", __VA_ARGS__)
#define cr_log_error(...) dm_crshim_log("error", __VA_ARGS__)

#endif /* DM_CRSHIM_CRITERION_H */
