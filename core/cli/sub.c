/*
 * sub.c - `lunamq sub`: subscribe and print what arrives, one message per
 * line (payload, "topic payload" with -v, a -F format, or --json), until
 * -C messages came, -W seconds passed, the SUBACK came (-E) or a signal.
 * --count-only prints no messages: a progress line a second on stderr and
 * the totals at the end.
 *
 * The subscriber reconnects when the connection goes (the library renews
 * its subscriptions); a failed first connection ends it, as it does
 * mosquitto_sub.
 */
#define _GNU_SOURCE
#include <ev.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "cli.h"

#define SUB_MAX_TOPICS 128

typedef struct sub {
    cli_conn conn;
    const char *topics[SUB_MAX_TOPICS];
    int ntopics;
    const char *filter_out[SUB_MAX_TOPICS];
    int nfilter_out;
    const char *unsub[SUB_MAX_TOPICS];
    int nunsub;
    int qos;
    int64_t count;              /* -C: 0 no limit */
    double timeout_s;           /* -W: 0 none */
    int no_eol, verbose, no_retained, exit_after_sub, retained_only;
    int remove_retained, json, count_only;
    const char *format;

    cli_app app;                /* loop, client, signal watchers */
    ev_timer timeout_t, tick_t;

    int subscribed_once;
    int finishing;
    int exit_code;
    int64_t received, bytes, tick_prev;
    int64_t t_start_ns, t_first_ns, t_last_ns;
    cli_buf out;
} sub;

static const char sub_usage[] =
    "Usage: lunamq sub -t FILTER [-t FILTER...] [options]\n\n"
    "Subscription:\n"
    "  -t FILTER          subscribe to this filter (repeatable)\n"
    "  -T FILTER          do not print messages matching it (repeatable)\n"
    "  -U FILTER          unsubscribe from it after connecting (repeatable)\n"
    "  -q QOS             0, 1 or 2 (default 0)\n"
    "  -C COUNT           exit after COUNT messages\n"
    "  -W SECONDS         exit after SECONDS with code 27 if not done by then\n"
    "  -E                 exit once the subscriptions are acknowledged\n"
    "  -R                 do not print retained messages\n"
    "  --retained-only    print retained messages only; exit at the first new one\n"
    "  --remove-retained  clear every retained message received\n\n"
    "Output:\n"
    "  -v                 \"topic payload\";  -N: no newline after each message\n"
    "  -F FORMAT          %t topic %p payload %q %r %l %x %X %I %U %j, MQTT 5: %A %C\n"
    "                     %D %E %F %R %S %P; @H...: strftime fields; \\n \\t \\e...\n"
    "  --json             one JSON object per message, with its properties\n"
    "                     (payloads that are not UTF-8 as payload_base64)\n"
    "  --count-only       print no messages: a progress line a second on stderr,\n"
    "                     the totals and rate at the end (as JSON with --json)\n\n";

/* ------------------------------------------------------------------ flow */

static void finish(sub *s, int code)
{
    if (code > s->exit_code)
        s->exit_code = code;
    if (s->finishing)
        return;
    s->finishing = 1;
    ev_timer_stop(s->app.ev, &s->timeout_t);
    if (lmq_client_disconnect(s->app.c, 0, s->conn.props[CLI_PK_DISCONNECT]) < 0)
        ev_break(s->app.ev, EVBREAK_ALL);
}

static void subscribe_all(sub *s)
{
    lmq_subscription subs[SUB_MAX_TOPICS];
    const lmq_proplist *props = s->conn.protocol == LMQ_MQTT_5 ? s->conn.props[CLI_PK_SUBSCRIBE] : NULL;
    int rc;

    for (int i = 0; i < s->ntopics; i++) {
        subs[i].filter = s->topics[i];
        subs[i].filter_len = -1;
        subs[i].options = s->qos;
    }
    rc = lmq_client_subscribe(s->app.c, subs, s->ntopics, props);
    if (rc < 0) {
        cli_err(&s->conn, "subscribe failed: %s", lmq_client_errmsg(s->app.c));
        finish(s, CLI_EXIT_FAIL);
        return;
    }
    if (s->nunsub) {
        props = s->conn.protocol == LMQ_MQTT_5 ? s->conn.props[CLI_PK_UNSUBSCRIBE] : NULL;
        rc = lmq_client_unsubscribe(s->app.c, s->unsub, NULL, s->nunsub, props);
        if (rc < 0) {
            cli_err(&s->conn, "unsubscribe failed: %s", lmq_client_errmsg(s->app.c));
            finish(s, CLI_EXIT_FAIL);
        }
    }
}

static void on_suback(sub *s, const lmq_event *ev)
{
    int refused = 0;

    for (int i = 0; i < ev->n_reasons && i < s->ntopics; i++)
        if (ev->reasons[i] >= 0x80) {
            const char *r = lmq_reason_name(9, ev->reasons[i]);
            cli_err(&s->conn, "subscription to '%s' refused: %s", s->topics[i],
                    r ? r : "Failure");
            refused++;
        }
    if (refused && refused == ev->n_reasons) {
        cli_err(&s->conn, "every subscription was refused");
        finish(s, CLI_EXIT_FAIL);
    } else if (s->exit_after_sub) {
        finish(s, CLI_EXIT_OK);
    }
}

static int filtered_out(const sub *s, const lmq_event *ev)
{
    for (int i = 0; i < s->nfilter_out; i++)
        if (lmq_topic_matches(s->filter_out[i], -1, ev->topic, ev->topic_len) == 1)
            return 1;
    return 0;
}

static void print_message(sub *s, const lmq_event *ev, int64_t now_wall)
{
    cli_buf *b = &s->out;
    int rc;

    b->len = 0;
    if (s->json)
        rc = cli_json_message(b, ev, now_wall);
    else if (s->format)
        rc = cli_format_message(b, s->format, ev, now_wall);
    else if (s->verbose)
        rc = cli_buf_add(b, ev->topic, (size_t)ev->topic_len) < 0 || cli_buf_addc(b, ' ') < 0 ||
             cli_buf_add(b, ev->payload, (size_t)ev->payload_len) < 0 ? -1 : 0;
    else
        rc = cli_buf_add(b, ev->payload, (size_t)ev->payload_len);
    if (rc == 0 && !s->no_eol)
        rc = cli_buf_addc(b, '\n');
    if (rc < 0) {
        cli_err(&s->conn, "out of memory");
        finish(s, CLI_EXIT_FAIL);
        return;
    }
    if (fwrite(b->p, 1, b->len, stdout) != b->len || fflush(stdout) != 0) {
        /* the reader went away (a closed pipe): nothing more to do */
        finish(s, CLI_EXIT_FAIL);
    }
}

static void on_message(sub *s, const lmq_event *ev)
{
    int64_t now = cli_now_ns();

    if (s->finishing || filtered_out(s, ev))
        return;
    if (s->retained_only && !ev->retain) {
        finish(s, CLI_EXIT_OK);
        return;
    }
    if (s->no_retained && ev->retain)
        return;
    if (s->remove_retained && ev->retain && ev->payload_len > 0)
        lmq_client_publish(s->app.c, ev->topic, ev->topic_len, "", 0, 0, 1, NULL);
    if (!s->received)
        s->t_first_ns = now;
    s->t_last_ns = now;
    s->received++;
    s->bytes += ev->payload_len;
    if (!s->count_only)
        print_message(s, ev, cli_wall_ns());
    if (s->count && s->received >= s->count)
        finish(s, CLI_EXIT_OK);
}

static void on_event(lmq_client *c, const lmq_event *ev, void *ud)
{
    sub *s = ud;

    (void)c;
    switch (ev->type) {
    case LMQ_EV_CONNECTED:
        /* after a reconnect the library renews the subscriptions itself */
        if (!s->subscribed_once && !s->finishing) {
            s->subscribed_once = 1;
            subscribe_all(s);
        }
        break;
    case LMQ_EV_CONNECT_FAILED:
        if (s->finishing) {     /* our own cancel (-W, a signal) */
            ev_break(s->app.ev, EVBREAK_ALL);
            break;
        }
        if (ev->reason && !(ev->text && *ev->text))
            cli_err(&s->conn, "connection refused: %s",
                    cli_connack_text(s->conn.protocol, ev->reason));
        else if (ev->error == LMQ_EREFUSED || ev->error == LMQ_EDISCONNECTED)
            cli_err(&s->conn, "%s", ev->text);    /* named by the engine */
        else
            cli_err(&s->conn, "connection failed: %s",
                    ev->text && *ev->text ? ev->text : lmq_strerror(ev->error));
        /* a later attempt (after a loss) goes on; the first one ends it */
        if (!s->subscribed_once) {
            s->exit_code = CLI_EXIT_FAIL;
            ev_break(s->app.ev, EVBREAK_ALL);
        }
        break;
    case LMQ_EV_DISCONNECTED:
        if (s->finishing) {
            ev_break(s->app.ev, EVBREAK_ALL);
            break;
        }
        /* (after DISCONNECT 0x8E the engine stops: an LMQ_ETAKEN_OVER
         * error follows and ends the program) */
        cli_err(&s->conn, "connection lost: %s%s",
                ev->text && *ev->text ? ev->text : lmq_strerror(ev->error),
                ev->error == LMQ_EDISCONNECTED && ev->reason == 0x8E ? "" : " (reconnecting)");
        break;
    case LMQ_EV_SUBSCRIBED:
        on_suback(s, ev);
        break;
    case LMQ_EV_MESSAGE:
        on_message(s, ev);
        break;
    case LMQ_EV_LOG:
        if (s->conn.debug)
            fprintf(stderr, "%s: %s\n", s->conn.prog, ev->text ? ev->text : "");
        break;
    case LMQ_EV_ERROR:
        cli_err(&s->conn, "%s", ev->text && *ev->text ? ev->text : lmq_strerror(ev->error));
        if (ev->error == LMQ_ETAKEN_OVER) {     /* the engine stopped */
            s->exit_code = CLI_EXIT_FAIL;
            ev_break(s->app.ev, EVBREAK_ALL);
        }
        break;
    default:
        break;
    }
}

static void on_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
    sub *s = w->data;

    (void)loop;
    (void)revents;
    if (!s->conn.quiet)
        fprintf(stderr, "Timed out\n");
    finish(s, CLI_EXIT_TIMEOUT);
    /* not connected: nothing to say goodbye to */
    if (lmq_client_fd(s->app.c) < 0)
        ev_break(s->app.ev, EVBREAK_ALL);
}

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
    sub *s = w->data;
    double secs = (double)(cli_now_ns() - s->t_start_ns) / 1e9;

    (void)loop;
    (void)revents;
    fprintf(stderr, "%8.1fs %12lld msgs %10lld msg/s\n", secs, (long long)s->received,
            (long long)(s->received - s->tick_prev));
    s->tick_prev = s->received;
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
    sub *s = w->data;

    (void)loop;
    (void)revents;
    finish(s, CLI_EXIT_OK);
    if (lmq_client_fd(s->app.c) < 0)
        ev_break(s->app.ev, EVBREAK_ALL);
}

static void print_totals(const sub *s)
{
    double span = s->received > 1 ? (double)(s->t_last_ns - s->t_first_ns) / 1e9 : 0;
    double rate = span > 0 ? (double)(s->received - 1) / span : 0;

    if (s->json)
        printf("{\"messages\":%lld,\"bytes\":%lld,\"seconds\":%.3f,\"rate\":%.1f}\n",
               (long long)s->received, (long long)s->bytes, span, rate);
    else
        printf("%lld messages, %lld bytes in %.3f s (%.1f msg/s)\n",
               (long long)s->received, (long long)s->bytes, span, rate);
    fflush(stdout);
}

/* ----------------------------------------------------------------- setup */

static int add_topic(sub *s, const char **list, int *n, const char *flag, const char *v)
{
    int rc = lmq_topic_validate_filter(v, -1);

    if (rc < 0) {
        cli_err(&s->conn, "%s '%s': %s", flag, v, lmq_strerror(rc));
        return -1;
    }
    if (*n >= SUB_MAX_TOPICS) {
        cli_err(&s->conn, "%s: at most %d", flag, SUB_MAX_TOPICS);
        return -1;
    }
    list[(*n)++] = v;
    return 0;
}

/* Flags without a value: where each one goes. */
static int *sub_switch(sub *s, const char *f)
{
    static const char *const names[] = {
        "-N", "-v", "-R", "-E", "--retained-only", "--remove-retained", "--json",
        "--count-only", "--verbose", "--pretty", NULL,
    };
    int *dst[] = {
        &s->no_eol, &s->verbose, &s->no_retained, &s->exit_after_sub, &s->retained_only,
        &s->remove_retained, &s->json, &s->count_only, &s->verbose, &s->json,
    };
    static int ignored;

    for (int k = 0; names[k]; k++)
        if (!strcmp(f, names[k]))
            return k == 9 ? &ignored : dst[k];
    return NULL;
}

/* 1 parsed, 0 --help, -1 bad */
static int parse(sub *s, int argc, char **argv)
{
    const char *v;
    int64_t n;
    int *sw;

    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        int rc = cli_conn_flag(&s->conn, argc, argv, &i);

        if (rc < 0)
            return -1;
        if (rc > 0)
            continue;
        if (!strcmp(f, "--help"))
            return 0;
        if ((sw = sub_switch(s, f))) {
            *sw = 1;
            continue;
        }
        if (strcmp(f, "-t") && strcmp(f, "--topic") && strcmp(f, "-T") && strcmp(f, "-U") &&
            strcmp(f, "-q") && strcmp(f, "--qos") && strcmp(f, "-C") && strcmp(f, "-W") &&
            strcmp(f, "-F")) {
            cli_err(&s->conn, "unknown option '%s' (try --help)", f);
            return -1;
        }
        if (!(v = cli_value(s->conn.prog, argc, argv, &i)))
            return -1;
        if (!strcmp(f, "-t") || !strcmp(f, "--topic")) {
            if (add_topic(s, s->topics, &s->ntopics, "-t", v) < 0)
                return -1;
        } else if (!strcmp(f, "-T")) {
            if (add_topic(s, s->filter_out, &s->nfilter_out, "-T", v) < 0)
                return -1;
        } else if (!strcmp(f, "-U")) {
            if (add_topic(s, s->unsub, &s->nunsub, "-U", v) < 0)
                return -1;
        } else if (!strcmp(f, "-F")) {
            s->format = v;
        } else if (f[1] == 'q' || !strcmp(f, "--qos")) {
            if (cli_parse_int(v, 0, 2, &n) < 0) {
                cli_err(&s->conn, "-q: QoS must be 0, 1 or 2, not '%s'", v);
                return -1;
            }
            s->qos = (int)n;
        } else if (f[1] == 'C') {
            if (cli_parse_int(v, 1, INT64_MAX, &s->count) < 0) {
                cli_err(&s->conn, "-C: '%s' is not a count >= 1", v);
                return -1;
            }
        } else {
            char *end;
            s->timeout_s = strtod(v, &end);
            if (*end || !(s->timeout_s > 0) || s->timeout_s > 1e7) {
                cli_err(&s->conn, "-W: '%s' is not a positive number of seconds", v);
                return -1;
            }
        }
    }
    if (!s->ntopics && s->conn.url_topic &&
        add_topic(s, s->topics, &s->ntopics, "-L", s->conn.url_topic) < 0)
        return -1;
    if (!s->ntopics) {
        cli_err(&s->conn, "a topic filter to subscribe to (-t) is needed");
        return -1;
    }
    if ((s->json && s->format) || (s->verbose && s->format)) {
        cli_err(&s->conn, "-F, -v and --json choose the output: give one");
        return -1;
    }
    if (s->retained_only && s->no_retained) {
        cli_err(&s->conn, "--retained-only and -R exclude each other");
        return -1;
    }
    return cli_conn_check(&s->conn) < 0 ? -1 : 1;
}

static int run(sub *s)
{
    int rc = cli_app_open(&s->app, &s->conn, "lunamq-sub", on_event, on_signal, s);

    if (rc)
        return rc;
    ev_timer_init(&s->timeout_t, on_timeout, s->timeout_s, 0.0);
    ev_timer_init(&s->tick_t, on_tick, 1.0, 1.0);
    s->timeout_t.data = s->tick_t.data = s;
    if (s->timeout_s > 0)
        ev_timer_start(s->app.ev, &s->timeout_t);
    if (s->count_only) {
        ev_timer_start(s->app.ev, &s->tick_t);
        ev_unref(s->app.ev);
    }
    s->t_start_ns = cli_now_ns();
    if ((rc = cli_app_run(&s->app, &s->conn)) != 0)
        return rc;
    if (s->count_only)
        print_totals(s);
    return s->exit_code;
}

int cli_sub_main(int argc, char **argv)
{
    sub s;
    int rc;

    memset(&s, 0, sizeof s);
    cli_conn_init(&s.conn, "lunamq sub");
    rc = parse(&s, argc, argv);
    if (rc == 0) {
        printf("%s%s", sub_usage, cli_conn_usage);
        rc = CLI_EXIT_OK;
    } else if (rc < 0) {
        rc = CLI_EXIT_USAGE;
    } else {
        rc = run(&s);
    }
    if (s.app.ev) {
        if (ev_is_active(&s.tick_t))     /* it was unref'd when started */
            ev_ref(s.app.ev);
        ev_timer_stop(s.app.ev, &s.timeout_t);
        ev_timer_stop(s.app.ev, &s.tick_t);
    }
    cli_app_close(&s.app);
    cli_buf_free(&s.out);
    cli_conn_free(&s.conn);
    return rc;
}
