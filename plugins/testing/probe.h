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
    /* fd watches (told / recorded, read with __atomic from the test) */
    int32_t watch_fd;           /* > 0: watch it for reading from on_tick */
    int32_t unwatch_in_tick;    /* set: on_tick unwatches it */
    int32_t watch_rc, watched;  /* watch_fd's answer, once it said 0 */
    int32_t fired;              /* the watch callback ran (read the byte) */
    int32_t unwatch_rc_out;     /* unwatch_fd from on_publish_out (+1000) */
    int32_t unwatch_rc_tick;    /* unwatch_fd from on_tick (+1000) */
    /* message properties (told / recorded) */
    const char *out_user_key;   /* on_publish_out adds this User Property */
    const char *out_user_val;
    int32_t out_prop_rc;        /* msg_add_user_prop's answer (+1000) */
} lmq_probe;

#endif /* LMQ_TEST_PROBE_H */
