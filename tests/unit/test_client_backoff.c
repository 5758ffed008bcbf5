/*
 * test_client_backoff.c - the reconnect delay: bounds, growth, jitter.
 */
#include "check.h"
#include "client/backoff.h"

static int64_t range_hi(int64_t min, int64_t max, unsigned n)
{
    int64_t hi = min;
    unsigned i;

    for (i = 0; i <= n && hi < max; i++)
        hi *= 2;
    return hi > max ? max : hi;
}

static void test_every_delay_lies_between_min_and_max(void)
{
    uint32_t seed;
    unsigned n;

    for (seed = 1; seed < 50; seed++) {
        uint32_t rng = seed;
        for (n = 0; n < 40; n++) {
            int64_t d = lmq_backoff_delay(500, 30000, n, &rng);
            CHECK(d >= 500);
            CHECK(d <= 30000);
        }
    }
}

static void test_range_doubles_per_attempt_until_max(void)
{
    uint32_t rng = 12345;
    unsigned n;

    for (n = 0; n < 12; n++) {
        int64_t hi = range_hi(500, 30000, n);
        int64_t lo = hi / 2 > 500 ? hi / 2 : 500;
        int64_t d = lmq_backoff_delay(500, 30000, n, &rng);
        CHECK(d >= lo);
        CHECK(d <= hi);
    }
    /* attempt 0 waits 500..1000, attempt 2 at least 2000, late ones 15000.. */
    rng = 7;
    CHECK(lmq_backoff_delay(500, 30000, 0, &rng) <= 1000);
    CHECK(lmq_backoff_delay(500, 30000, 2, &rng) >= 2000);
    CHECK(lmq_backoff_delay(500, 30000, 30, &rng) >= 15000);
}

static void test_same_seed_gives_same_sequence(void)
{
    uint32_t a = 42, b = 42;
    unsigned n;

    for (n = 0; n < 20; n++)
        CHECK_INT(lmq_backoff_delay(100, 60000, n, &a), lmq_backoff_delay(100, 60000, n, &b));
}

static void test_jitter_spreads_clients_with_different_seeds(void)
{
    int64_t first = -1;
    int differ = 0;
    uint32_t seed;

    for (seed = 1; seed <= 16; seed++) {
        uint32_t rng = seed * 2654435761u;
        int64_t d = lmq_backoff_delay(500, 30000, 4, &rng);
        if (first < 0)
            first = d;
        else if (d != first)
            differ = 1;
    }
    CHECK(differ);
}

static void test_min_equal_to_max_gives_a_constant_delay(void)
{
    uint32_t rng = 9;
    unsigned n;

    for (n = 0; n < 10; n++)
        CHECK_INT(lmq_backoff_delay(1000, 1000, n, &rng), 1000);
}

static void test_huge_attempt_counts_do_not_overflow(void)
{
    uint32_t rng = 3;
    int64_t d = lmq_backoff_delay(1, 2000000000, 4000000000u, &rng);

    CHECK(d >= 1000000000);
    CHECK(d <= 2000000000);
}

static void test_zero_seed_still_produces_numbers(void)
{
    uint32_t rng = 0;
    uint32_t a = lmq_backoff_rand(&rng), b = lmq_backoff_rand(&rng);

    CHECK(a != 0);
    CHECK(a != b);
}

int main(void)
{
    RUN(test_every_delay_lies_between_min_and_max);
    RUN(test_range_doubles_per_attempt_until_max);
    RUN(test_same_seed_gives_same_sequence);
    RUN(test_jitter_spreads_clients_with_different_seeds);
    RUN(test_min_equal_to_max_gives_a_constant_delay);
    RUN(test_huge_attempt_counts_do_not_overflow);
    RUN(test_zero_seed_still_produces_numbers);
    return check_done();
}
