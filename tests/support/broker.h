/*
 * broker.h - a real mosquitto for integration tests.
 *
 * Each broker runs from a fresh temporary directory holding its config, its
 * log and (when asked) its persistence database, on a loopback port nobody
 * else uses.  Every broker started is stopped at exit (atexit), also when a
 * test fails half way, so no mosquitto outlives its test.
 *
 * The binary is /usr/sbin/mosquitto unless LMQ_MOSQUITTO names another;
 * when it is missing, tb_broker_start() says so plainly and returns NULL
 * (scripts/bootstrap installs it).
 */
#ifndef LMQ_TEST_BROKER_H
#define LMQ_TEST_BROKER_H

typedef struct tb_broker tb_broker;

typedef struct tb_broker_opts {
    int persistence;        /* keep sessions and messages across tb_broker_restart */
    int unix_socket;        /* also listen on a Unix socket (tb_broker_unix_path) */
    int ipv6;               /* listen on ::1 instead of 127.0.0.1 */
    int max_inflight;       /* broker -> client QoS 1/2 in flight (its Receive
                               Maximum too); 0: 1000 (see broker.c) */
    int max_topic_alias;    /* aliases a client may create; 0: mosquitto's default (10) */
    const char *extra;      /* more config lines, or NULL */
} tb_broker_opts;

/* Start a broker (opts may be NULL for defaults) and wait until it accepts
 * connections.  NULL on failure, with the reason on stderr. */
tb_broker *tb_broker_start(const tb_broker_opts *opts);

/* SIGTERM, wait, SIGKILL after a deadline; removes the temp dir (unless
 * LMQ_KEEP_BROKER_DIR is set).  NULL is a no-op. */
void tb_broker_stop(tb_broker *b);

/* Stop the process (SIGTERM: mosquitto writes its database) and start it
 * again on the same port(s) with the same config.  0 or -1. */
int tb_broker_restart(tb_broker *b);

/* Only the process: the broker is down until tb_broker_start_again(). */
int tb_broker_kill(tb_broker *b);
int tb_broker_start_again(tb_broker *b);

/* SIGSTOP / SIGCONT: the broker stops answering while the kernel still
 * accepts and buffers bytes, as a hung server does. */
int tb_broker_pause(tb_broker *b);
int tb_broker_resume(tb_broker *b);

int tb_broker_port(const tb_broker *b);
/* "127.0.0.1" or "::1". */
const char *tb_broker_host(const tb_broker *b);
/* The Unix socket's path, or NULL when opts.unix_socket was 0. */
const char *tb_broker_unix_path(const tb_broker *b);

/* The file mosquitto logs to (every packet, log_type all). */
const char *tb_broker_log_path(const tb_broker *b);

/* Print the broker's log to stderr (tests do on failure). */
void tb_broker_dump_log(const tb_broker *b);

/* Can mosquitto listen on ::1 here?  1 yes, 0 no (no IPv6 loopback). */
int tb_ipv6_available(void);

/* A port that was free on 127.0.0.1 (or ::1) a moment ago, or -1. */
int tb_free_port(int ipv6);

#endif /* LMQ_TEST_BROKER_H */
