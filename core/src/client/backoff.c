/*
 * backoff.c - exponential reconnect backoff with jitter (see backoff.h).
 */
#include "client/backoff.h"

uint32_t lmq_backoff_rand(uint32_t *rng)
{
    /* xorshift32: good enough to spread reconnects, no libc state shared
     * with the program (rand() is not ours to reseed). */
    uint32_t x = *rng ? *rng : 0x9E3779B9u;

    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *rng = x;
    return x;
}

int64_t lmq_backoff_delay(int64_t min_ms, int64_t max_ms, unsigned attempt, uint32_t *rng)
{
    int64_t hi = min_ms, lo;
    unsigned i;

    if (min_ms < 0)
        min_ms = 0;
    if (max_ms < min_ms)
        max_ms = min_ms;
    hi = min_ms > 0 ? min_ms : 1;
    /* Doubling stops at max, which also keeps hi far from overflow. */
    for (i = 0; i <= attempt && hi < max_ms; i++)
        hi *= 2;
    if (hi > max_ms)
        hi = max_ms;
    lo = hi / 2 > min_ms ? hi / 2 : min_ms;
    if (hi <= lo)
        return lo;
    return lo + (int64_t)(lmq_backoff_rand(rng) % (uint64_t)(hi - lo + 1));
}
