/*
 * backoff.h - how long to wait before the next reconnect attempt.
 *
 * Exponential with jitter: attempt n waits a random time in
 * [max(min, hi / 2), hi] where hi = min(max, min * 2^(n+1)).  Every delay
 * lies in [min, max]; the range doubles per attempt until it reaches max;
 * the randomness keeps many clients that lost one broker from coming back
 * in lockstep.  A successful CONNACK resets n to 0 (client.c).
 *
 * Internal to the library.
 */
#ifndef LMQ_BACKOFF_H
#define LMQ_BACKOFF_H

#include <stdint.h>

/* The delay in ms before attempt `attempt` (0 for the first retry).
 * *rng is the state of a small xorshift generator (any non-zero seed;
 * 0 is replaced by a fixed constant). */
int64_t lmq_backoff_delay(int64_t min_ms, int64_t max_ms, unsigned attempt, uint32_t *rng);

/* The next value of the generator (exposed for tests). */
uint32_t lmq_backoff_rand(uint32_t *rng);

#endif /* LMQ_BACKOFF_H */
