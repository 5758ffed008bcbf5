/*
 * lunamq_plugin.h - the C plugin ABI of lunamq.
 *
 * A plugin is a shared object that exports one symbol, lmq_plugin_entry,
 * returning a pointer to a constant lmq_plugin descriptor.  The engine
 * loads it (lmq_client_load_plugin in lunamq.h), checks the descriptor's
 * ABI version, calls init with a table of engine functions, and then calls
 * the plugin's hooks as things happen on the client.  A plugin never links
 * against engine symbols: everything it needs from the engine is in the
 * lmq_plugin_api table it is handed, so a plugin built once keeps loading
 * into later engines of the same ABI major.
 *
 * Compatibility rules (those of SQLite's sqlite3_io_methods): both structs
 * begin with abi_version and struct_size; fields are only ever appended,
 * never reordered, removed or reused.  The engine refuses a plugin whose
 * ABI major differs from its own, and reads only the hooks that fit in the
 * plugin's struct_size, so an older plugin (smaller struct) keeps working;
 * a plugin reads only the api functions that fit in the api's struct_size.
 *
 * Like lunamq.h this header is FFI-clean: fixed-width integers, strings as
 * (pointer, int32_t length), no unions, bitfields or varargs.
 *
 * Versions: 1.0 the first hooks and api functions; 1.1 appended the
 * on_connect_send, on_auth, on_subscribed and on_reconnect hooks, the
 * connect / auth / subscribe setters, watch_fd / unwatch_fd and stat, the
 * message property setters (msg_set_props, msg_add_user_prop,
 * msg_set_prop_int / _str, msg_remove_prop), and the times in
 * lmq_plugin_done, and the on_app_event hook (lmq_client_plugin_event);
 * ticks run while offline too.  A 1.1
 * plugin that must also run on a 1.0 engine checks api->struct_size (or
 * abi_version & 0xFFFF) before using what 1.1 added.
 *
 * Threads: hooks run on the thread that drives the client (the loop
 * thread in thread mode; the caller's thread for lmq_client_publish,
 * lmq_client_subscribe and lmq_client_plugin_event, which run the publish,
 * subscribe and app_event hooks), with
 * the client's lock held: a hook must not call back into the client's
 * public API.
 */
#ifndef LUNAMQ_PLUGIN_H
#define LUNAMQ_PLUGIN_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LMQ_PLUGIN_ABI_MAJOR 1
#define LMQ_PLUGIN_ABI_MINOR 1
#define LMQ_PLUGIN_ABI_VERSION ((LMQ_PLUGIN_ABI_MAJOR << 16) | LMQ_PLUGIN_ABI_MINOR)

/* The one symbol a plugin exports: const lmq_plugin *lmq_plugin_entry(void). */
#define LMQ_PLUGIN_ENTRY_SYMBOL "lmq_plugin_entry"

/* What a filtering hook returns. */
enum lmq_plugin_verdict {
    LMQ_PLUGIN_CONTINUE = 0,    /* go on: the next plugin, then the engine */
    LMQ_PLUGIN_DROP = 1         /* stop here: the message goes no further */
};

/* Which way a message travels. */
enum lmq_plugin_direction {
    LMQ_PLUGIN_IN = 1,          /* PUBLISH from the server, before delivery */
    LMQ_PLUGIN_OUT = 2          /* lmq_client_publish, before it is queued */
};

/* ABI 1.1: what api->watch_fd watches for, and gets in revents. */
enum lmq_plugin_watch_events {
    LMQ_PLUGIN_WATCH_READ = 1,
    LMQ_PLUGIN_WATCH_WRITE = 2
};

/* ABI 1.1: what api->stat reads (a plugin of a metrics kind). */
enum lmq_plugin_stat {
    LMQ_PLUGIN_STAT_CONNECTED = 1,      /* 1 while the session is connected */
    LMQ_PLUGIN_STAT_OFFLINE_MSGS = 2,   /* messages queued while not connected */
    LMQ_PLUGIN_STAT_OFFLINE_BYTES = 3,
    LMQ_PLUGIN_STAT_WAITING_OUT = 4,    /* connected, waiting for the send window */
    LMQ_PLUGIN_STAT_INFLIGHT_OUT = 5,   /* QoS 1/2 sent, not yet acknowledged */
    LMQ_PLUGIN_STAT_INFLIGHT_IN = 6,    /* QoS 1/2 received, not yet acknowledged */
    LMQ_PLUGIN_STAT_DROPPED_IN = 7,     /* messages in dropped by a plugin (since load) */
    LMQ_PLUGIN_STAT_DROPPED_OUT = 8,    /* messages out dropped by a plugin */
    LMQ_PLUGIN_STAT_SUBS_DENIED = 9     /* subscribe calls denied by a plugin */
};

/* Error codes a plugin meets in api returns, by value (they are the
 * LMQ_E* codes of lunamq.h, which a plugin need not include). */
#define LMQ_PLUGIN_EINVAL (-1)
#define LMQ_PLUGIN_ESTATE (-4)
#define LMQ_PLUGIN_EVERSION (-5)    /* LMQ_EVERSION: no properties below MQTT 5 */
#define LMQ_PLUGIN_ENOLOOP (-175)   /* LMQ_EPLUGIN_NOLOOP: see watch_fd */

/*
 * A message on its way in or out.  The engine owns it: every pointer is
 * valid for the duration of the hook call only.  Hooks read the fields;
 * they change a message only through the api's msg_set_* functions and,
 * for its properties, msg_add_user_prop / msg_remove_prop (ABI 1.1); these
 * copy, so the plugin's own buffers need not outlive the call, and the
 * next plugin in the chain sees the change.
 */
typedef struct lmq_plugin_msg {
    int32_t direction;          /* enum lmq_plugin_direction */
    int32_t qos;
    int32_t retain;
    int32_t dup;                /* in: the DUP flag as received */
    int32_t topic_len;
    const char *topic;          /* not NUL-terminated */
    int32_t payload_len;
    const void *payload;
    int32_t props_len;          /* MQTT 5 only, else 0 */
    const uint8_t *props;       /* the raw property block: read it with
                                   api->prop_int / prop_str / prop_user */
    int32_t reason;             /* in, when dropped: the PUBACK / PUBREC reason
                                   the engine answers with (v5; default 0x00) */
    int32_t protocol;           /* 3, 4 or 5: the level the message travels at */
} lmq_plugin_msg;

/* What the engine tells the connect, connack and disconnect hooks. */
typedef struct lmq_plugin_conn {
    int32_t protocol;           /* 3, 4 or 5 */
    int32_t error;              /* disconnect: 0 or the LMQ_E* code; else 0 */
    int32_t reason;             /* connack / disconnect: the MQTT reason code */
    int32_t session_present;    /* connack */
    int32_t clean_start;        /* connect */
    int32_t keepalive;          /* connect: seconds */
    int32_t client_id_len;
    const char *client_id;      /* connect: as sent (may be empty) */
    int32_t props_len;
    const uint8_t *props;       /* connack / disconnect: the raw MQTT 5 property
                                   block of the packet; connect: the block as
                                   sent (v5) */
} lmq_plugin_conn;

/* ABI 1.1: the server's enhanced authentication challenge (an AUTH with
 * reason 0x18 Continue authentication, section 4.12). */
typedef struct lmq_plugin_auth {
    int32_t reason;             /* 0x18 */
    int32_t method_len;
    const char *method;         /* Authentication Method (not NUL-terminated) */
    int32_t data_len;
    const void *data;           /* Authentication Data, or NULL */
    int32_t props_len;
    const uint8_t *props;       /* the whole raw property block */
} lmq_plugin_auth;


/* What the engine tells the publish_done hook: a message the application
 * published is complete (QoS 0 written, QoS 1 PUBACK, QoS 2 PUBCOMP) or
 * failed. */
typedef struct lmq_plugin_done {
    int32_t msg_id;             /* what lmq_client_publish returned */
    int32_t qos;
    int32_t error;              /* 0, or the LMQ_E* code it failed with */
    int32_t reason;             /* the PUBACK / PUBREC / PUBCOMP reason (v5) */
    int32_t topic_len;
    const char *topic;
    int32_t payload_len;
    const void *payload;
    int32_t props_len;
    const uint8_t *props;       /* raw property block of the ack (v5), or none */
    /* ABI 1.1 (an engine of 1.0 passes a struct without them): */
    int64_t published_ms;       /* engine clock when lmq_client_publish took it
                                   (0: unknown, restored from a state file) */
    int64_t done_ms;            /* engine clock now: done_ms - published_ms is
                                   the latency to the ack */
} lmq_plugin_done;

/* One filter of an lmq_client_subscribe call, as the subscribe hook sees
 * it (options: bits 0-1 QoS, 2 no local, 3 retain as published, 4-5
 * retain handling, as on the wire). */
typedef struct lmq_plugin_sub {
    int32_t filter_len;
    const char *filter;         /* not NUL-terminated */
    int32_t options;
} lmq_plugin_sub;

/* ABI 1.1: the SUBACK of an lmq_client_subscribe call, as the subscribed
 * hook sees it: the filters as sent, one reason code each
 * ([MQTT-3.9.3-1]: 0x00-0x02 the granted QoS, >= 0x80 refused). */
typedef struct lmq_plugin_suback {
    int32_t msg_id;             /* what lmq_client_subscribe returned; 0 for
                                   the engine's own re-subscribe */
    int32_t n;
    const lmq_plugin_sub *subs;
    const uint8_t *reasons;     /* n codes */
    int32_t props_len;
    const uint8_t *props;       /* raw property block of the SUBACK (v5) */
} lmq_plugin_suback;

/*
 * The engine's function table.  One per loaded plugin: every function
 * takes the table it came from as its first argument, which is how the
 * engine knows which plugin calls.  Valid from init to shutdown, and to be
 * called only from init, shutdown and the hooks (on the thread running
 * them): the engine has no lock of its own for plugins.
 */
typedef struct lmq_plugin_api lmq_plugin_api;
struct lmq_plugin_api {
    uint32_t abi_version;       /* the engine's LMQ_PLUGIN_ABI_VERSION */
    uint32_t struct_size;       /* sizeof(lmq_plugin_api) of the engine */

    /* The engine's version as lmq_version_number() gives it. */
    int (*engine_version)(const lmq_plugin_api *api);
    /* A log line through the client's log (an LMQ_EV_LOG event, and the log
     * hooks of the other plugins), prefixed with the plugin's name. */
    void (*log)(const lmq_plugin_api *api, int32_t level, const char *text);
    /* Say why init failed: the text goes into the load error. */
    void (*set_error)(const lmq_plugin_api *api, const char *text);
    /* The engine's monotonic clock as of the event being handled (ms). */
    int64_t (*now_ms)(const lmq_plugin_api *api);
    /* How often the tick hook runs (ms, default 1000; 0 stops it). */
    int (*set_tick)(const lmq_plugin_api *api, int32_t interval_ms);

    /* Change a message inside a message_in / publish_out hook.  The data is
     * copied.  0, or LMQ_EINVAL (LMQ_EINVAL also for qos / retain on an
     * incoming message, whose acknowledgement is the engine's). */
    int (*msg_set_topic)(const lmq_plugin_api *api, lmq_plugin_msg *m,
                         const char *topic, int32_t len);
    int (*msg_set_payload)(const lmq_plugin_api *api, lmq_plugin_msg *m,
                           const void *payload, int32_t len);
    int (*msg_set_qos)(const lmq_plugin_api *api, lmq_plugin_msg *m, int32_t qos);
    int (*msg_set_retain)(const lmq_plugin_api *api, lmq_plugin_msg *m, int32_t retain);
    /* The reason an incoming message is acknowledged with when the hook
     * drops it (v5: 0x00, or a PUBACK / PUBREC reason >= 0x80). */
    int (*msg_set_reason)(const lmq_plugin_api *api, lmq_plugin_msg *m, int32_t reason);

    /* Read a raw MQTT 5 property block (msg->props, conn->props), as
     * lmq_event_prop_int / _str / _user do: 1 found, 0 absent. */
    int (*prop_int)(const uint8_t *props, int32_t len, int32_t id, int32_t index,
                    int64_t *value);
    int (*prop_str)(const uint8_t *props, int32_t len, int32_t id, const char **s,
                    int32_t *slen);
    int (*prop_user)(const uint8_t *props, int32_t len, int32_t index, const char **key,
                     int32_t *klen, const char **val, int32_t *vlen);
    /* The n-th property of a block in wire order (to list them all): its
     * id in *id; an integer in *value (*s then NULL), or a string / binary
     * in *s, *slen (a User Property: the key in *s, the value in *s2, else
     * *s2 NULL).  Any out-pointer may be NULL.  1 found, 0 past the end. */
    int (*prop_at)(const uint8_t *props, int32_t len, int32_t n, int32_t *id,
                   int64_t *value, const char **s, int32_t *slen, const char **s2,
                   int32_t *s2len);
    /* The spec's name of a property id ("Content Type"), static text; NULL
     * for an unknown id. */
    const char *(*prop_name)(int32_t id);
    /* Does topic match filter ('+', '#', '$' rules as lmq_topic_matches)?
     * 1 yes, 0 no, negative LMQ_E* when either is invalid. */
    int (*topic_matches)(const char *filter, int32_t flen, const char *topic,
                         int32_t tlen);

    /* ---- ABI 1.1 (check api->struct_size, or abi_version >= 1.1) ---- */

    /* Inside on_connect_send only: this connection's CONNECT goes with
     * this user name / password instead of the configured ones (a token
     * fetched just now, say); len -1: strlen.  Not stored: the next
     * attempt runs the hook again.  0 or LMQ_EINVAL. */
    int (*conn_set_user)(const lmq_plugin_api *api, lmq_plugin_conn *conn,
                         const char *user, int32_t len);
    int (*conn_set_password)(const lmq_plugin_api *api, lmq_plugin_conn *conn,
                             const void *password, int32_t len);
    /* Inside on_connect_send only, MQTT 5 only: add a CONNECT property to
     * this connection's (after the LMQ_PROPS_CONNECT ones; a property that
     * may appear once and is there already fails the attempt).  0,
     * LMQ_EINVAL (bad id or value, or not a CONNECT property), or
     * LMQ_EVERSION (-5) below MQTT 5. */
    int (*conn_add_prop_int)(const lmq_plugin_api *api, lmq_plugin_conn *conn,
                             int32_t id, int64_t value);
    int (*conn_add_prop_str)(const lmq_plugin_api *api, lmq_plugin_conn *conn,
                             int32_t id, const char *s, int32_t len);
    int (*conn_add_user_prop)(const lmq_plugin_api *api, lmq_plugin_conn *conn,
                              const char *key, int32_t klen, const char *val,
                              int32_t vlen);
    /* Inside on_auth only: answer the challenge with AUTH 0x18 carrying
     * this Authentication Data (the method is the session's own).  The
     * chain stops there and the application sees no LMQ_EV_AUTH for it.
     * 0 or LMQ_EINVAL. */
    int (*auth_reply)(const lmq_plugin_api *api, const lmq_plugin_auth *auth,
                      const void *data, int32_t len);
    /* Inside on_subscribe only: rewrite one of the subs it was handed
     * (the filter is checked as lmq_client_subscribe checks it; options
     * as on the wire).  The next plugin and the SUBSCRIBE see the change.
     * 0, LMQ_EINVAL or a topic error code. */
    int (*sub_set_filter)(const lmq_plugin_api *api, const lmq_plugin_sub *sub,
                          const char *filter, int32_t len);
    int (*sub_set_options)(const lmq_plugin_api *api, const lmq_plugin_sub *sub,
                           int32_t options);
    /* Serve a socket on the engine's own loop, with no thread: call cb
     * whenever fd is ready for events (LMQ_PLUGIN_WATCH_READ / _WRITE),
     * on the loop thread, with the client's lock held (as for hooks).
     * Calling it again for the same fd changes its events.  The fd stays
     * the plugin's: unwatch_fd (or the plugin's unload) stops watching,
     * never closes.  A watch does not keep lmq_loop_run(loop, 0) alive.
     *
     * Only the libev driver has a loop of the engine's: 0 then.  Without
     * one (the external driver, lmq_client_fd + on_readable, as the
     * Python package uses; or no driver attached yet, since blocking
     * helpers attach theirs at their first call) it returns
     * LMQ_PLUGIN_ENOLOOP: poll the fd without blocking from on_tick
     * instead, and try watch_fd again there (it works once a loop is
     * attached).  LMQ_PLUGIN_ESTATE when called from a thread other than
     * the loop's (init while a background thread runs the loop). */
    int (*watch_fd)(const lmq_plugin_api *api, int32_t fd, int32_t events,
                    void (*cb)(void *ud, int32_t fd, int32_t revents), void *ud);
    /* 0, or LMQ_EINVAL when fd is not watched by this plugin, or
     * LMQ_PLUGIN_ESTATE from a thread other than the loop's (a hook of
     * publish & co called by the application's thread while a background
     * thread runs the loop): the fd stays watched; unwatch it from the
     * watch callback or on_tick instead. */
    int (*unwatch_fd)(const lmq_plugin_api *api, int32_t fd);
    /* A figure of the session now (enum lmq_plugin_stat); LMQ_EINVAL for
     * an unknown one. */
    int64_t (*stat)(const lmq_plugin_api *api, int32_t which);

    /* ABI 1.1: change a message's MQTT 5 properties inside an
     * on_message_in / on_publish_out hook (msg->props / props_len then
     * point at the new block, and the next plugin sees it).  The data is
     * copied; the new block, like every msg pointer, is valid only until
     * the hook returns.  In: the application's LMQ_EV_MESSAGE carries the
     * new properties (lmq_event_prop_*).  Out: the PUBLISH goes with them
     * (the application's lmq_proplist stays as it was; the engine adds its
     * Topic Alias when it sends).  0 on success.  The result is checked by the codec as a PUBLISH property block of
     * the message's sender (the server's in, the client's out): only
     * PUBLISH properties, once each unless repeatable, values in range,
     * UTF-8 valid.  Refused, the message is left as it was:
     *   LMQ_PLUGIN_EVERSION  the message travels at MQTT 3.1 / 3.1.1,
     *                        which has no properties (msg->protocol < 5);
     *   LMQ_PLUGIN_EINVAL    bad arguments, a Topic Alias (the engine's
     *                        own: out, never; in, only the one the message
     *                        came with), a User Property asked of
     *                        msg_set_prop_str, and from msg_set_prop_* /
     *                        msg_add_user_prop a value out of range or an
     *                        id PUBLISH has not;
     *   other LMQ_E* codes   the codec's reason (lunamq.h): LMQ_EUTF8, and
     *                        from msg_set_props the LMQ_EMAL_* ones, e.g.
     *                        LMQ_EMAL_PROP_PACKET for an id PUBLISH has not
     *                        or a Subscription Identifier out (server to
     *                        client only, [MQTT-3.3.4-6]), _PROP_TWICE,
     *                        _PROP_ID, _STRLEN.
     * msg_set_props replaces the whole block (len 0: no properties). */
    int (*msg_set_props)(const lmq_plugin_api *api, lmq_plugin_msg *m,
                         const uint8_t *block, int32_t len);
    /* Append a User Property (key, value: UTF-8; len -1: strlen). */
    int (*msg_add_user_prop)(const lmq_plugin_api *api, lmq_plugin_msg *m,
                             const char *key, int32_t klen, const char *val,
                             int32_t vlen);
    /* Set property id to an integer (Payload Format Indicator, Message
     * Expiry Interval, ...) or a string / binary (Content Type, Response
     * Topic, Correlation Data; len -1: strlen), replacing every instance
     * of that id the block had. */
    int (*msg_set_prop_int)(const lmq_plugin_api *api, lmq_plugin_msg *m,
                            int32_t id, int64_t value);
    int (*msg_set_prop_str)(const lmq_plugin_api *api, lmq_plugin_msg *m,
                            int32_t id, const char *s, int32_t len);
    /* Remove every property id (key NULL), or for a User Property (0x26)
     * with key set only the pairs of that key (klen -1: strlen).  The
     * number removed (0: none was there), or a negative code as above. */
    int (*msg_remove_prop)(const lmq_plugin_api *api, lmq_plugin_msg *m,
                           int32_t id, const char *key, int32_t klen);
    /* Appended in later minors only. */
};

/*
 * The plugin's descriptor, returned by lmq_plugin_entry.  Set abi_version
 * to LMQ_PLUGIN_ABI_VERSION and struct_size to sizeof(lmq_plugin).  Every
 * hook is optional (NULL: not called); `state` is what init stored.
 */
typedef struct lmq_plugin lmq_plugin;
struct lmq_plugin {
    uint32_t abi_version;       /* LMQ_PLUGIN_ABI_VERSION the plugin was built with */
    uint32_t struct_size;       /* sizeof(lmq_plugin) as the plugin was built */
    const char *name;           /* short, [a-z0-9_-]: used in logs and errors */
    const char *version;        /* the plugin's own version, free text */

    /* config: the string given at load ("key=value key2=value2" by
     * convention; "" when none).  0 ok; non-zero refuses the load (call
     * api->set_error first to say why); shutdown is not called then. */
    int (*init)(const lmq_plugin_api *api, const char *config, void **state);
    /* At unload (client freed), in reverse load order. */
    void (*shutdown)(void *state);

    /* ---- hooks (ABI 1.0), in the order they happen ---- */

    /* CONNECT is about to be sent (observe). */
    void (*on_connect)(void *state, const lmq_plugin_conn *conn);
    /* CONNACK arrived, success or refusal (observe). */
    void (*on_connack)(void *state, const lmq_plugin_conn *conn);
    /* A PUBLISH arrived, before the application sees it: observe, change
     * it (api->msg_set_*), or return LMQ_PLUGIN_DROP (it is then
     * acknowledged with msg->reason and never delivered). */
    int (*on_message_in)(void *state, lmq_plugin_msg *msg);
    /* The application published, before the message is checked and queued:
     * observe, change it, or return LMQ_PLUGIN_DROP (lmq_client_publish
     * then returns LMQ_EPLUGIN_DROP and nothing is sent). */
    int (*on_publish_out)(void *state, lmq_plugin_msg *msg);
    /* The connection ended, or a connect attempt failed (observe). */
    void (*on_disconnect)(void *state, const lmq_plugin_conn *conn);
    /* A log line of the client (its LMQ_OPT_LOG_LEVEL applies). */
    void (*on_log)(void *state, int32_t level, const char *text);
    /* Periodic, every api->set_tick interval while the client is active:
     * connected, connecting, or waiting to reconnect (ABI 1.0 engines:
     * while connected only); not once it stopped. */
    void (*on_tick)(void *state, int64_t now_ms);
    /* A published message completed or failed (observe), once per
     * message the publish hook let through. */
    void (*on_publish_done)(void *state, const lmq_plugin_done *done);
    /* The application subscribes to subs[0..n) (checked already), before
     * anything is queued: observe, rewrite a filter or its options
     * (api->sub_set_filter / _options, ABI 1.1), or return LMQ_PLUGIN_DROP
     * to deny the whole request (lmq_client_subscribe then returns
     * LMQ_EPLUGIN_DROP).
     * The engine's own re-subscribe after a lost session is not shown. */
    int (*on_subscribe)(void *state, const lmq_plugin_sub *subs, int32_t n);

    /* ---- hooks of ABI 1.1 (an engine of 1.0 never calls them) ---- */

    /* Before CONNECT is built, at every connection attempt: set this
     * connection's credentials (api->conn_set_user / _password, e.g. a
     * token fetched now) or add CONNECT properties (api->conn_add_*).
     * conn has protocol, clean_start, keepalive and client_id.  Return
     * LMQ_PLUGIN_DROP to abandon this attempt (it fails with
     * LMQ_EPLUGIN_REFUSED and the reconnect policy applies).  on_connect
     * then observes the CONNECT as sent. */
    int (*on_connect_send)(void *state, lmq_plugin_conn *conn);
    /* The server's enhanced authentication challenge (AUTH 0x18): answer
     * with api->auth_reply, or return LMQ_PLUGIN_CONTINUE without one to
     * leave it to the next plugin and then the application (LMQ_EV_AUTH,
     * lmq_client_auth). */
    int (*on_auth)(void *state, const lmq_plugin_auth *auth);
    /* SUBACK arrived for a SUBSCRIBE (observe). */
    void (*on_subscribed)(void *state, const lmq_plugin_suback *ack);
    /* The connection is lost (or an attempt failed) and the client will
     * try again in delay_ms; attempt counts from 1 since the last CONNACK
     * (observe). */
    void (*on_reconnect)(void *state, int32_t attempt, int64_t delay_ms);
    /* The application told the plugins about an event of its own
     * (lmq_client_plugin_event in lunamq.h): name[0..len) is 1-255 bytes
     * of UTF-8 without NUL, not NUL-terminated, valid for the call only;
     * value is the application's (a count, a duration).  The lunamq host
     * sends "host_handler_errors", "host_handler_runaway" and
     * "host_handler_disabled" with value 1.  Runs on the thread that made
     * the call, in load order (observe). */
    void (*on_app_event)(void *state, const char *name, int32_t len, int64_t value);
    /* Appended in later minors only. */
};

/* Optional help for plugin authors: gives lmq_plugin_entry default
 * visibility when the plugin is built with -fvisibility=hidden. */
#if defined(__GNUC__)
#define LMQ_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define LMQ_PLUGIN_EXPORT
#endif

/* The type of the entry symbol. */
typedef const lmq_plugin *(*lmq_plugin_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* LUNAMQ_PLUGIN_H */
