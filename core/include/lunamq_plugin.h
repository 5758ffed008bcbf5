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
 * Threads: hooks run on the thread that drives the client (the loop
 * thread in thread mode; the caller's thread for lmq_client_publish and
 * lmq_client_subscribe, which run the publish and subscribe hooks), with
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
#define LMQ_PLUGIN_ABI_MINOR 0
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

/*
 * A message on its way in or out.  The engine owns it: every pointer is
 * valid for the duration of the hook call only.  Hooks read the fields;
 * they change a message only through the api's msg_set_* functions (which
 * copy, so the plugin's own buffers need not outlive the call), and the
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
                                   block of the packet (none for connect yet) */
} lmq_plugin_conn;

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
} lmq_plugin_done;

/* One filter of an lmq_client_subscribe call, as the subscribe hook sees
 * it (options: bits 0-1 QoS, 2 no local, 3 retain as published, 4-5
 * retain handling, as on the wire). */
typedef struct lmq_plugin_sub {
    int32_t filter_len;
    const char *filter;         /* not NUL-terminated */
    int32_t options;
} lmq_plugin_sub;

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
    /* Periodic, every api->set_tick interval while connected. */
    void (*on_tick)(void *state, int64_t now_ms);
    /* A published message completed or failed (observe), once per
     * message the publish hook let through. */
    void (*on_publish_done)(void *state, const lmq_plugin_done *done);
    /* The application subscribes to subs[0..n) (checked already), before
     * anything is queued: observe, or return LMQ_PLUGIN_DROP to deny the
     * whole request (lmq_client_subscribe then returns LMQ_EPLUGIN_DROP).
     * The engine's own re-subscribe after a lost session is not shown. */
    int (*on_subscribe)(void *state, const lmq_plugin_sub *subs, int32_t n);
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
