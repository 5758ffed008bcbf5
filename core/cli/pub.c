/*
 * pub.c - `lunamq pub`: publish one message, a file, stdin whole or line by
 * line, optionally repeated and paced (--rate), then disconnect cleanly.
 *
 * Messages are produced by pump() while the client is connected: at most
 * PUB_WINDOW unfinished at a time (so a long stdin is not read into memory
 * ahead of the broker), no faster than the pace, and stdin is read only
 * when pump() needs another line.  The program ends once every message
 * has completed (QoS 0: written; QoS 1: PUBACK; QoS 2: PUBCOMP).
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

    cli_buf lines;              /* stdin read so far (-l) */
    size_t line_off;            /* start of the next line in it */
    int in_eof;

    int64_t sent, done, failed;
    int64_t t0_ns;
    int connected, finishing, in_pump, repump;
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
 * more. */
static int next_message(pub *p, const char **data, size_t *n)
{
    if (p->src != SRC_LINES) {
        if (p->sent >= p->repeat)
            return -1;
        *data = p->payload.p ? p->payload.p : "";
        *n = p->payload.len;
        return 1;
    }
    const char *start = p->lines.p + p->line_off;
    size_t left = p->lines.len - p->line_off;
    const char *nl = left ? memchr(start, '\n', left) : NULL;

    if (nl) {
        *data = start;
        *n = (size_t)(nl - start);
        p->line_off += *n + 1;
        return 1;
    }
    if (!p->in_eof)
        return 0;
    if (left) {                 /* a last line without a newline */
        *data = start;
        *n = left;
        p->line_off += left;
        return 1;
    }
    return -1;
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
    if (lmq_client_disconnect(p->app.c, 0, p->conn.props[CLI_PK_DISCONNECT]) < 0)
        ev_break(p->app.ev, EVBREAK_ALL);
}

static int pump_one(pub *p)
{
    const char *data;
    size_t n;
    int rc;

    if (p->src != SRC_LINES && p->sent >= p->repeat) {
        if (p->done == p->sent)
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
        ev_io_start(p->app.ev, &p->in_w);
        return 0;
    }
    if (rc < 0) {
        if (p->done == p->sent)
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
        while (p->connected && !p->finishing && p->sent - p->done < PUB_WINDOW &&
               pump_one(p))
            ;
    } while (p->repump);
    p->in_pump = 0;
}

static void on_stdin(struct ev_loop *loop, ev_io *w, int revents)
{
    pub *p = w->data;
    char buf[PUB_READ_CHUNK];
    ssize_t n;

    (void)revents;
    n = read(0, buf, sizeof buf);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    ev_io_stop(loop, w);
    if (n <= 0) {
        if (n < 0)
            cli_err(&p->conn, "reading stdin: %s", strerror(errno));
        p->in_eof = 1;
    } else {
        /* drop what was sent already before growing the buffer */
        if (p->line_off > 0) {
            memmove(p->lines.p, p->lines.p + p->line_off, p->lines.len - p->line_off);
            p->lines.len -= p->line_off;
            p->line_off = 0;
        }
        if (cli_buf_add(&p->lines, buf, (size_t)n) < 0) {
            cli_err(&p->conn, "out of memory");
            finish(p, CLI_EXIT_FAIL);
            return;
        }
    }
    pump(p);
}

static void on_pace(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    pump(w->data);
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
    pub *p = w->data;

    (void)loop;
    (void)revents;
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
        if (ev->reason && !(ev->text && *ev->text))
            cli_err(&p->conn, "connection refused: %s",
                    cli_connack_text(p->conn.protocol, ev->reason));
        else if (ev->error == LMQ_EREFUSED || ev->error == LMQ_EDISCONNECTED)
            cli_err(&p->conn, "%s", ev->text);    /* named by the engine */
        else
            cli_err(&p->conn, "connection failed: %s",
                    ev->text && *ev->text ? ev->text : lmq_strerror(ev->error));
        p->exit_code = CLI_EXIT_FAIL;
        ev_break(p->app.ev, EVBREAK_ALL);
        break;
    case LMQ_EV_DISCONNECTED:
        if (!p->finishing || ev->error) {
            cli_err(&p->conn, "connection lost: %s",
                    ev->text && *ev->text ? ev->text : lmq_strerror(ev->error));
            p->exit_code = CLI_EXIT_FAIL;
        }
        ev_break(p->app.ev, EVBREAK_ALL);
        break;
    case LMQ_EV_PUBLISHED:
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
        fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
        return 0;
    default:
        return 0;
    }
}

static int run(pub *p)
{
    int rc = cli_app_open(&p->app, &p->conn, "lunamq-pub", on_event, on_signal, p);

    if (rc)
        return rc;
    /* a publisher gives up when its connection goes, like mosquitto_pub */
    lmq_client_set_int(p->app.c, LMQ_OPT_RECONNECT, 0);
    ev_io_init(&p->in_w, on_stdin, 0, EV_READ);
    p->in_w.data = p;
    ev_timer_init(&p->pace_t, on_pace, 0.0, 0.0);
    p->pace_t.data = p;
    rc = cli_app_run(&p->app, &p->conn);
    return rc ? rc : p->exit_code;
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
    }
    cli_app_close(&p.app);
    cli_buf_free(&p.payload);
    cli_buf_free(&p.lines);
    cli_conn_free(&p.conn);
    return rc;
}
