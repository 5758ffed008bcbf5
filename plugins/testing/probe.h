/*
 * probe.h - what the probe test plugin (probe.c) records and is told to
 * do.  The test owns one and passes its address in the config string
 * ("p=0x..."): plugin and test share the process.  Tests only.
 */
#ifndef LMQ_TEST_PROBE_H
#define LMQ_TEST_PROBE_H

#include <stdint.h>

typedef struct lmq_probe {
    /* told */
    int32_t tick_ms;            /* set_tick at init */
    const char *user, *password;/* connect_send sets them when not NULL */
    const char *auth_answer;    /* on_auth answers with it when not NULL */
    /* recorded */
    int32_t connect_sends;
    int32_t reconnects;
    int32_t attempt[8];
    int64_t delay[8];
    int32_t ticks, ticks_offline;
    int32_t auths;
    char auth_data[64];         /* the last challenge's data */
    char trace[512];            /* hook names in order */
} lmq_probe;

#endif /* LMQ_TEST_PROBE_H */
