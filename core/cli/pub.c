/*
 * pub.c - `lunamq pub`: publish one message, a file, stdin whole or line by
 * line, optionally repeated and paced (--rate), then disconnect cleanly.
 *
 * Messages are produced by pump() while the client is connected: at most
 * PUB_WINDOW incomplete at a time (lmq_client_backlog: QoS 0 written,
 * QoS 1 PUBACK, QoS 2 PUBCOMP; messages a --state-dir restored count too),
 * no faster than the pace, and stdin is read only when pump() needs
 * another line and consumed a line at a time as each is published
 * (input.c), so memory stays bounded and what was not published stays in
 * the input for whoever reads it next.  The stream modes (-l, -s, -f)
 * reconnect after a lost connection, with their session.  The program
 * ends once the input is done and every message has completed (the
 * disconnect delivers what is left within LMQ_OPT_DRAIN_TIMEOUT_MS);
 * anything accepted and not delivered makes the exit code 3.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "cli.h"

#define PUB_WINDOW 1000
#define PUB_READ_CHUNK 65536
#define MQTT_MAX_PAYLOAD 268435455

enum { SRC_NONE, SRC_MESSAGE, SRC_FILE, SRC_STDIN, SRC_LINES, SRC_NULL };

typedef struct pub {
    cli_conn conn;
    const char *topic;
    int qos, retain;
    int src;
    const char *msg_arg;        /* -m or -f's argument */
    cli_buf payload;            /* the one payload for -m -f -s -n */
    int64_t repeat;
    int64_t interval_ns;        /* pace: 0 flat out */

    cli_app app;                /* loop, client, signal watchers */
    ev_io in_w;
    ev_timer pace_t;

    cli_input in;               /* stdin, line by line (-l) */
    ev_timer in_retry;          /* a pipe holding a partial line: look again */

    int64_t sent, done, failed;
    int64_t t0_ns;
    int connected, finishing, in_pump, repump, signals;
    int reconnect;              /* a stream: reconnect after a loss */
    int exit_code;
} pub;

static const char pub_usage[] =
    "Usage: lunamq pub -t TOPIC {-m MSG | -f FILE | -s | -l | -n} [options]\n\n"
    "Message:\n"
    "  -t TOPIC           the topic to publish to\n"
    "  -m MSG             the message;  -f FILE: a file's bytes as the message\n"
    "  -s                 all of stdin as one message;  -l: one message per line\n"
    "  -n                 a zero-length message\n"
    "  -q QOS             0, 1 or 2 (default 0);  -r: retained\n"
    "  --repeat N         publish the message N times;  --repeat-delay SECONDS\n"
    "  --rate N           at most N messages per second (with -l or --repeat)\n\n";

/* ------------------------------------------------------------- the source */

/* The next message: 1 (in *p, *n), 0 not yet (stdin must be read), -1 no
 * more.  A line stays in the input until pump_one says it was published. */
static int next_message(pub *p, const char **data, size_t *n)
{
    if (p->src != SRC_LINES) {
        if (p->sent >= p->repeat)
            return -1;
        *data = p->payload.p ? p->payload.p : "";
        *n = p->payload.len;
        return 1;
    }
    for (;;) {
        int rc = cli_input_line(&p->in, data, n);
        if (rc != 0)
            return rc;
        rc = cli_input_fill(&p->in);
        if (rc == -2) {
            cli_err(&p->conn, "reading stdin: %s", strerror(errno));
            return -1;
        }
        if (rc == 0)
            return 0;
    }
}

/* Messages accepted and not complete (restored ones included). */
static int incomplete(pub *p)
{
    lmq_backlog b;
    if (lmq_client_backlog(p->app.c, &b, sizeof b) < 0)
        return 0;
    return b.incomplete_msgs;
}

/* ------------------------------------------------------------------ flow */

static void finish(pub *p, int code)
{
    if (code > p->exit_code)
        p->exit_code = code;
    if (p->finishing)
        return;
    p->finishing = 1;
    ev_io_stop(p->app.ev, &p->in_w);
    ev_timer_stop(p->app.ev, &p->pace_t);
    ev_timer_stop(p->app.ev, &p->in_retry);
    if (lmq_client_disconnect(p->app.c, 0, p->conn.props[CLI_PK_DISCONNECT]) < 0)
        ev_break(p->app.ev, EVBREAK_ALL);
}

static int pump_one(pub *p)
{
    const char *data;
    size_t n;
    int rc;

    if (p->src != SRC_LINES && p->sent >= p->repeat) {
        if (!incomplete(p))
            finish(p, CLI_EXIT_OK);
        return 0;
    }
    if (p->interval_ns && p->sent > 0) {
        int64_t due = p->t0_ns + p->sent * p->interval_ns, now = cli_now_ns();
        if (now < due) {
            ev_timer_set(&p->pace_t, (double)(due - now) / 1e9, 0.0);
            ev_timer_start(p->app.ev, &p->pace_t);
            return 0;
        }
    }
    rc = next_message(p, &data, &n);
    if (rc == 0) {
        if (p->in.stalled)
            ev_timer_start(p->app.ev, &p->in_retry);
        else
            ev_io_start(p->app.ev, &p->in_w);
        return 0;
    }
    if (rc < 0) {
        /* the end of the input: done once everything completed (what a
         * --state-dir restored included) */
        if (!incomplete(p))
            finish(p, CLI_EXIT_OK);
        return 0;
    }
    if (n > MQTT_MAX_PAYLOAD) {
        cli_err(&p->conn, "message %lld is too large for MQTT (%zu bytes)",
                (long long)p->sent + 1, n);
        finish(p, CLI_EXIT_FAIL);
        return 0;
    }
    if (p->sent == 0)
        p->t0_ns = cli_now_ns();
    p->sent++;
    rc = lmq_client_publish(p->app.c, p->topic, -1, data, (int32_t)n, p->qos, p->retain,
                            p->conn.protocol == LMQ_MQTT_5 ? p->conn.props[CLI_PK_PUBLISH] : NULL);
    if (rc < 0) {
        cli_err(&p->conn, "publish failed: %s", lmq_client_errmsg(p->app.c)[0]
                ? lmq_client_errmsg(p->app.c) : lmq_strerror(rc));
        p->done++;
        finish(p, CLI_EXIT_FAIL);
        return 0;
    }
    /* accepted (with --state-dir: in the state file): the line leaves the
     * input now, not before */
    if (p->src == SRC_LINES && cli_input_used(&p->in) < 0) {
        cli_err(&p->conn, "reading stdin: %s", strerror(errno));
        finish(p, CLI_EXIT_FAIL);
        return 0;
    }
    return 1;
}

/* Publish what may go now.  Completions can arrive while it publishes (a
 * QoS 0 message completes when written): they ask for another round. */
static void pump(pub *p)
{
    if (p->in_pump) {
        p->repump = 1;
        return;
    }
    p->in_pump = 1;
    do {
        p->repump = 0;
        while (p->connected && !p->finishing && incomplete(p) < PUB_WINDOW &&
               pump_one(p))
            ;
    } while (p->repump);
    p->in_pump = 0;
}

static void on_stdin(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    ev_io_stop(loop, w);        /* pump() asks again when it needs more */
    pump(w->data);
}

static void on_pace(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    pump(w->data);
}

/* The first signal stops reading and delivers what was accepted; a second
 * one stops at once (what is left is reported, exit code 3). */
static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
    pub *p = w->data;

    (void)revents;
    if (p->signals++ > 0)
        ev_break(loop, EVBREAK_ALL);
    else
        finish(p, CLI_EXIT_OK);
}

static void on_event(lmq_client *c, const lmq_event *ev, void *ud)
{
    pub *p = ud;

    (void)c;
    switch (ev->type) {
    case LMQ_EV_CONNECTED:
        p->connected = 1;
        pump(p);
        break;
    case LMQ_EV_CONNECT_FAILED:
        if (p->finishing) {     /* our own cancel (a signal) */
            ev_break(p->app.ev, EVBREAK_ALL);
            break;
        }
        p->exit_code = cli_connect_failed(&p->conn, ev);
        ev_break(p->app.ev, EVBREAK_ALL);
        break;
    case LMQ_EV_DISCONNECTED:
        p->connected = 0;
        if (!p->finishing && p->reconnect) {
            /* the engine reconnects, with the session; pump() goes on at
             * the next CONNECTED */
            if (!p->conn.quiet)
                cli_err(&p->conn, "connection lost: %s; reconnecting",
                        ev->text && *ev->text ? ev->text : lmq_strerror(ev->error));
            break;
        }
        if (!p->finishing || ev->error) {
            cli_err(&p->conn, "connection lost: %s",
                    ev->text && *ev->text ? ev->text : lmq_strerror(ev->error));
            p->exit_code = CLI_EXIT_FAIL;
        }
        ev_break(p->app.ev, EVBREAK_ALL);
        break;
    case LMQ_EV_PUBLISHED:
        /* (restored messages of a --state-dir complete here too) */
        p->done++;
        if (ev->error || ev->reason >= 0x80) {
            const char *r = lmq_reason_name(4, ev->reason);
            cli_err(&p->conn, "message %d not published: %s", (int)ev->msg_id,
                    ev->error ? lmq_strerror(ev->error) : r ? r : "refused");
            p->failed++;
            p->exit_code = CLI_EXIT_FAIL;
        }
        pump(p);
        break;
    case LMQ_EV_LOG:
        if (p->conn.debug)
            fprintf(stderr, "%s: %s\n", p->conn.prog, ev->text ? ev->text : "");
        break;
    case LMQ_EV_ERROR:
        cli_err(&p->conn, "%s", ev->text && *ev->text ? ev->text : lmq_strerror(ev->error));
        break;
    default:
        break;
    }
}

/* ----------------------------------------------------------------- setup */

static int read_all(int fd, cli_buf *b)
{
    char buf[PUB_READ_CHUNK];
    ssize_t n;

    while ((n = read(fd, buf, sizeof buf)) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (cli_buf_add(b, buf, (size_t)n) < 0 || b->len > MQTT_MAX_PAYLOAD) {
            errno = EFBIG;
            return -1;
        }
    }
    return 0;
}

static int set_source(pub *p, int src, const char *arg)
{
    if (p->src != SRC_NONE) {
        cli_err(&p->conn, "only one of -m, -f, -s, -l and -n may be given");
        return -1;
    }
    p->src = src;
    p->msg_arg = arg;
    return 0;
}

/* 1 parsed, 0 --help, -1 bad */
static int parse(pub *p, int argc, char **argv)
{
    int64_t n;
    double rate = 0, delay = 0;
    const char *v;
    char *end;

    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        int rc = cli_conn_flag(&p->conn, argc, argv, &i);

        if (rc < 0)
            return -1;
        if (rc > 0)
            continue;
        if (!strcmp(f, "--help"))
            return 0;
        if (!strcmp(f, "-r") || !strcmp(f, "--retain")) {
            p->retain = 1;
        } else if (!strcmp(f, "-s") || !strcmp(f, "--stdin-file")) {
            if (set_source(p, SRC_STDIN, NULL) < 0)
                return -1;
        } else if (!strcmp(f, "-l") || !strcmp(f, "--stdin-line")) {
            if (set_source(p, SRC_LINES, NULL) < 0)
                return -1;
        } else if (!strcmp(f, "-n") || !strcmp(f, "--null-message")) {
            if (set_source(p, SRC_NULL, NULL) < 0)
                return -1;
        } else if (!strcmp(f, "-m") || !strcmp(f, "--message") ||
                   !strcmp(f, "-f") || !strcmp(f, "--file")) {
            if (!(v = cli_value(p->conn.prog, argc, argv, &i)) ||
                set_source(p, f[1] == 'm' || f[2] == 'm' ? SRC_MESSAGE : SRC_FILE, v) < 0)
                return -1;
        } else if (!strcmp(f, "-t") || !strcmp(f, "--topic")) {
            if (!(v = cli_value(p->conn.prog, argc, argv, &i)))
                return -1;
            if (p->topic) {
                cli_err(&p->conn, "-t may be given once (one topic to publish to)");
                return -1;
            }
            p->topic = v;
        } else if (!strcmp(f, "-q") || !strcmp(f, "--qos")) {
            if (!(v = cli_value(p->conn.prog, argc, argv, &i)))
                return -1;
            if (cli_parse_int(v, 0, 2, &n) < 0) {
                cli_err(&p->conn, "-q: QoS must be 0, 1 or 2, not '%s'", v);
                return -1;
            }
            p->qos = (int)n;
        } else if (!strcmp(f, "--repeat")) {
            if (!(v = cli_value(p->conn.prog, argc, argv, &i)))
                return -1;
            if (cli_parse_int(v, 1, INT32_MAX, &p->repeat) < 0) {
                cli_err(&p->conn, "--repeat: '%s' is not a count >= 1", v);
                return -1;
            }
        } else if (!strcmp(f, "--rate") || !strcmp(f, "--repeat-delay")) {
            if (!(v = cli_value(p->conn.prog, argc, argv, &i)))
                return -1;
            double d = strtod(v, &end);
            if (*end || !(d > 0) || d > 1e9) {
                cli_err(&p->conn, "%s: '%s' is not a positive number", f, v);
                return -1;
            }
            if (f[2] == 'r' && f[3] == 'a')
                rate = d;
            else
                delay = d;
        } else {
            cli_err(&p->conn, "unknown option '%s' (try --help)", f);
            return -1;
        }
    }
    if (rate && delay) {
        cli_err(&p->conn, "--rate and --repeat-delay set the same pace: give one");
        return -1;
    }
    p->interval_ns = rate ? (int64_t)(1e9 / rate) : (int64_t)(delay * 1e9);
    if (!p->topic)
        p->topic = p->conn.url_topic;
    if (!p->topic || p->src == SRC_NONE) {
        cli_err(&p->conn, "both a topic (-t) and a message (-m, -f, -s, -l or -n) are needed");
        return -1;
    }
    int trc = lmq_topic_validate_name(p->topic, -1);
    if (trc < 0) {
        cli_err(&p->conn, "-t '%s': %s", p->topic, lmq_strerror(trc));
        return -1;
    }
    if (p->src == SRC_LINES && p->repeat > 1) {
        cli_err(&p->conn, "--repeat does not apply to -l");
        return -1;
    }
    if (!p->repeat)
        p->repeat = 1;
    return cli_conn_check(&p->conn) < 0 ? -1 : 1;
}

static int load_payload(pub *p)
{
    int fd;

    switch (p->src) {
    case SRC_MESSAGE:
        return cli_buf_add(&p->payload, p->msg_arg, strlen(p->msg_arg));
    case SRC_FILE:
        fd = open(p->msg_arg, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || read_all(fd, &p->payload) < 0) {
            cli_err(&p->conn, "-f %s: %s", p->msg_arg, strerror(errno));
            if (fd >= 0)
                close(fd);
            return -1;
        }
        close(fd);
        return 0;
    case SRC_STDIN:
        if (read_all(0, &p->payload) < 0) {
            cli_err(&p->conn, "reading stdin: %s", strerror(errno));
            return -1;
        }
        return 0;
    case SRC_LINES:
        return cli_input_open(&p->in, 0);
    default:
        return 0;
    }
}

static int run(pub *p)
{
    int rc = cli_app_open(&p->app, &p->conn, "lunamq-pub", on_event, on_signal, p);

    if (rc)
        return rc;
    /* A stream (-l, -s, -f) reconnects with its session after a lost
     * connection, as the engine does; one -m / -n message gives up like
     * mosquitto_pub. */
    p->reconnect = p->src == SRC_LINES || p->src == SRC_STDIN || p->src == SRC_FILE;
    lmq_client_set_int(p->app.c, LMQ_OPT_RECONNECT, p->reconnect);
    ev_io_init(&p->in_w, on_stdin, p->src == SRC_LINES && cli_input_fd(&p->in) >= 0
                                       ? cli_input_fd(&p->in) : 0, EV_READ);
    p->in_w.data = p;
    ev_timer_init(&p->pace_t, on_pace, 0.0, 0.0);
    p->pace_t.data = p;
    ev_timer_init(&p->in_retry, on_pace, 0.01, 0.0);
    p->in_retry.data = p;
    rc = cli_app_run(&p->app, &p->conn);
    if (rc)
        return rc;
    /* accepted and not delivered (the disconnect said how many) */
    lmq_backlog b;
    if (lmq_client_backlog(p->app.c, &b, sizeof b) == 0 && (b.undelivered || b.incomplete_msgs)) {
        if (!b.undelivered)
            cli_err(&p->conn, "%d accepted messages not delivered", b.incomplete_msgs);
        return CLI_EXIT_UNDELIVERED;
    }
    return p->exit_code;
}

int cli_pub_main(int argc, char **argv)
{
    pub p;
    int rc;

    memset(&p, 0, sizeof p);
    cli_conn_init(&p.conn, "lunamq pub");
    rc = parse(&p, argc, argv);
    if (rc == 0) {
        printf("%s%s", pub_usage, cli_conn_usage);
        rc = CLI_EXIT_OK;
    } else if (rc < 0) {
        rc = CLI_EXIT_USAGE;
    } else if (load_payload(&p) < 0) {
        rc = CLI_EXIT_USAGE;
    } else {
        rc = run(&p);
    }
    if (p.app.ev) {
        ev_io_stop(p.app.ev, &p.in_w);
        ev_timer_stop(p.app.ev, &p.pace_t);
        ev_timer_stop(p.app.ev, &p.in_retry);
    }
    cli_app_close(&p.app);
    cli_buf_free(&p.payload);
    cli_input_close(&p.in);
    cli_conn_free(&p.conn);
    return rc;
}
