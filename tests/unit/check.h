/*
 * check.h - the few assertions the C unit tests need.
 *
 * A test is a function; main() runs them with RUN(fn).  A failed CHECK
 * prints file:line and the expression (and both values for CHECK_INT) and
 * marks the running test failed; the test goes on so one run shows every
 * failure.  check_done() prints a summary and is main's return value.
 */
#ifndef LMQ_CHECK_H
#define LMQ_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int check_failed_now;
static int check_tests_run, check_tests_failed;

#define CHECK(cond)                                                        \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__,         \
                    __LINE__, #cond);                                      \
            check_failed_now = 1;                                          \
        }                                                                  \
    } while (0)

#define CHECK_INT(a, b)                                                    \
    do {                                                                   \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);    \
        if (check_a_ != check_b_) {                                        \
            fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n",      \
                    __FILE__, __LINE__, #a, #b, check_a_, check_b_);       \
            check_failed_now = 1;                                          \
        }                                                                  \
    } while (0)

#define CHECK_MEM(a, b, n)                                                 \
    do {                                                                   \
        if (memcmp((a), (b), (n)) != 0) {                                  \
            fprintf(stderr, "%s:%d: %s and %s differ in their %zu bytes\n",\
                    __FILE__, __LINE__, #a, #b, (size_t)(n));              \
            check_failed_now = 1;                                          \
        }                                                                  \
    } while (0)

#define RUN(fn)                                                            \
    do {                                                                   \
        check_failed_now = 0;                                              \
        fn();                                                              \
        check_tests_run++;                                                 \
        if (check_failed_now) {                                            \
            check_tests_failed++;                                          \
            fprintf(stderr, "FAIL %s\n", #fn);                             \
        } else {                                                           \
            printf("ok   %s\n", #fn);                                      \
        }                                                                  \
    } while (0)

static inline int check_done(void)
{
    printf("%d passed, %d failed\n", check_tests_run - check_tests_failed,
           check_tests_failed);
    return check_tests_failed ? 1 : 0;
}

#endif /* LMQ_CHECK_H */
