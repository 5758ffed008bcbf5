/*
 * cli.h - what the parts of the `lunamq` program share: the connection
 * flags every subcommand accepts (args.c), MQTT 5 properties from -D,
 * JSON output (json.c), the clock, and the subcommands' entry points.
 *
 * The program is an application of the public API (lunamq.h) and of libev,
 * whose loop it shares with the library through lmq_loop_wrap so that its
 * own timers (-W, --rate, progress lines) and the clients run together.
 */
#ifndef LUNAMQ_CLI_H
#define LUNAMQ_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lunamq.h"

/* Exit codes: the README's table.  Where mosquitto_pub / mosquitto_sub
 * give a code for the same cause, it is theirs. */
enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_FAIL = 1,          /* no connection (refused, DNS, unreachable),
                                   or a failure after connecting */
    CLI_EXIT_USAGE = 2,         /* bad arguments (mosquitto: 1) */
    /* 1-5: an MQTT 3.1.1 / 3.1 CONNACK refusal, its return code;
     * 128-255: an MQTT 5 CONNACK refusal, its reason code (as mosquitto) */
    CLI_EXIT_CONN_LOST = 7,     /* closed before the CONNACK (mosquitto's
                                   MOSQ_ERR_CONN_LOST): plain MQTT to a TLS port */
    CLI_EXIT_TLS = 8,           /* TLS failed (MOSQ_ERR_TLS): TLS to a plain
                                   port, an untrusted or wrong certificate */
    CLI_EXIT_TIMEOUT = 27,      /* -W ran out (MOSQ_ERR_TIMEOUT) */
    CLI_EXIT_UNDELIVERED = 3    /* messages accepted were not delivered (i18's
                                   choice; 3.1.1's CONNACK 3 too: stderr says which) */
};

/* The MQTT 5 packets a -D property may go to. */
enum {
    CLI_PK_CONNECT,
    CLI_PK_PUBLISH,
    CLI_PK_SUBSCRIBE,
    CLI_PK_UNSUBSCRIBE,
    CLI_PK_DISCONNECT,
    CLI_PK_WILL,
    CLI_PK_COUNT
};

#define CLI_MAX_PLUGINS 16

/* The connection flags shared by pub, sub and bench. */
typedef struct cli_conn {
    const char *prog;           /* "lunamq pub", for messages */
    const char *host;
    int port;                   /* 0: the default */
    const char *unix_path;
    const char *bind_address;
    const char *proxy;          /* --proxy URL, or NULL */
    const char *id;
    const char *id_prefix;
    const char *username;
    const char *password;
    int keepalive;
    int clean;                  /* 0 with -c */
    const char *state_dir;      /* --state-dir: durable session, or NULL */
    int64_t session_expiry;     /* -1: not given */
    int protocol;               /* enum lmq_protocol */
    int debug;
    int quiet;
    int nodelay;
    const char *url_topic;      /* the path of a -L URL */
    const char *will_topic;
    const char *will_payload;
    int will_qos;
    int will_retain;
    const char *url;            /* -L without a mqtt(s):// topic path */
    /* TLS: any of these turns it on */
    int tls;
    const char *cafile, *capath, *cert, *key, *keypass, *alpn, *ciphers;
    const char *psk, *psk_identity;
    int tls_min_version;        /* 12 or 13, 0: the default */
    int insecure;
    lmq_proplist *props[CLI_PK_COUNT];
    int nprops;                 /* -D given */
    /* -D connect properties the library sets through options */
    int64_t receive_maximum, max_packet_size, topic_alias_max;
    int64_t req_problem, req_response;
    const char *auth_method;
    const char *auth_data;
    char *url_copy;             /* -L, cut into host, user, topic... */
    const char *plugins[CLI_MAX_PLUGINS];   /* --plugin PATH[:CONFIG] */
    int nplugins;
} cli_conn;

void cli_conn_init(cli_conn *o, const char *prog);
void cli_conn_free(cli_conn *o);
/* One flag at argv[*i] (its values after it).  1 taken (*i on its last
 * word), 0 not a connection flag, -1 bad (the reason printed). */
int cli_conn_flag(cli_conn *o, int argc, char **argv, int *i);
/* Checks across flags once all are read; 0 or -1 (reason printed). */
int cli_conn_check(cli_conn *o);
/* Configure a client from the flags (default_id when no -i / -I).  0, or
 * -1 (reason printed). */
int cli_conn_apply(const cli_conn *o, lmq_client *c, const char *default_id);
/* The text of the connection flags for --help. */
extern const char cli_conn_usage[];

/* Print "prog: message" on stderr unless --quiet. */
void cli_err(const cli_conn *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Parse an integer in [lo, hi]; 0 or -1. */
int cli_parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out);
/* The value after a flag, or NULL (reason printed) when it is missing. */
const char *cli_value(const char *prog, int argc, char **argv, int *i);
/* The text of a CONNACK refusal (v3 return code or v5 reason). */
const char *cli_connack_text(int protocol, int reason);
/* A first connection failed (LMQ_EV_CONNECT_FAILED): say why on stderr and
 * return the exit code for it (see the enum above). */
int cli_connect_failed(const cli_conn *o, const lmq_event *ev);

/* paths.c: the first directory where ok(dir, ud) says yes, looked for in
 * $env_var (colon-separated; when set, only there), rel_to_exe from the
 * program's directory, build_dir, install_dir (NULL: skipped).  0 (the
 * directory in buf) or -1. */
typedef int cli_dir_ok(const char *dir, void *ud);
int cli_find_dir(char *buf, size_t size, const char *env_var, const char *rel_to_exe,
                 const char *build_dir, const char *install_dir, cli_dir_ok *ok, void *ud);
/* --plugin NAME: a path as it is, a short name (metrics, guard, jsonlog)
 * as lunamq_NAME.so where the project's plugins are (cli_find_dir's order,
 * $LUNAMQ_PLUGIN_PATH).  0 or -1 (not found); cli_plugin_dirs says where
 * it looked. */
int cli_plugin_path(const char *name, char *out, size_t size);
const char *cli_plugin_dirs(void);

/* Monotonic and wall clocks. */
int64_t cli_now_ns(void);
int64_t cli_wall_ns(void);

/* A growable byte buffer. */
typedef struct cli_buf {
    char *p;
    size_t len, cap;
} cli_buf;

int cli_buf_add(cli_buf *b, const void *p, size_t n);
int cli_buf_addc(cli_buf *b, char ch);
int cli_buf_addf(cli_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cli_buf_free(cli_buf *b);

/* input.c: stdin line by line, consuming only the lines used, so that
 * what a run did not publish stays in the pipe or file for the next. */
typedef struct cli_input {
    int fd, mode;
    int peek[2];                /* pipe mode: tee(2) target */
    cli_buf buf;
    size_t owned;               /* buf bytes already taken off the fd */
    size_t line_len;            /* the line cli_input_line handed out, newline included */
    int eof;
    int stalled;                /* a pipe with a partial line and nothing new:
                                   readable all the time, look again later */
} cli_input;

int cli_input_open(cli_input *r, int fd);
void cli_input_close(cli_input *r);
/* Read more: 1 got some, 0 would block (wait for cli_input_fd readable,
 * or a moment when r->stalled), -1 end of input, -2 error (errno). */
int cli_input_fill(cli_input *r);
/* The next whole line (without its newline): 1, 0 need cli_input_fill, -1
 * end.  Stays in the input until cli_input_used. */
int cli_input_line(cli_input *r, const char **line, size_t *n);
/* The line handed out was published: consume it.  0 or -1. */
int cli_input_used(cli_input *r);
/* The fd to wait on, -1 when reading never blocks (a file). */
int cli_input_fd(const cli_input *r);

/* json.c */
int cli_utf8_valid(const char *s, size_t n);
/* A JSON string (quotes included), escaped as mosquitto_sub escapes. */
int cli_json_str(cli_buf *b, const char *s, size_t n);
int cli_base64(cli_buf *b, const void *p, size_t n);
/* --json: one message as lunamq's JSON object (no newline): topic, qos,
 * retain, payload (as a string when valid UTF-8, else payload_base64) and
 * its MQTT 5 properties.  ts_ns: receive time (wall clock). */
int cli_json_message(cli_buf *b, const lmq_event *ev, int64_t ts_ns);
/* -F %j / %J: the message as mosquitto_sub prints it; `embed`: the payload
 * is JSON and goes in as such (%J).  0, 1 the payload is not JSON (nothing
 * added), -1 out of memory. */
int cli_json_mosquitto(cli_buf *b, const lmq_event *ev, int64_t ts_ns, int embed, int pretty);
/* A JSON text printed again as cJSON prints it (compact, or --pretty's
 * tabs).  0, 1 not JSON (nothing added), -1 out of memory. */
int cli_json_reprint(cli_buf *out, const char *s, size_t n, int pretty);

/* format.c: mosquitto_sub's -F.  cli_format_check: 0, or -1 with the
 * reason in why.  cli_format_message: 0, 1 when a %J payload was not
 * JSON (the rest written), -1 out of memory. */
int cli_format_check(const char *fmt, char *why, size_t n);
int cli_format_message(cli_buf *b, const char *fmt, const lmq_event *ev, int64_t ts_ns,
                       int pretty);

/* The subcommands: argv[0] is the subcommand's name. */
int cli_pub_main(int argc, char **argv);
int cli_sub_main(int argc, char **argv);
int cli_bench_main(int argc, char **argv);

#endif /* LUNAMQ_CLI_H */
