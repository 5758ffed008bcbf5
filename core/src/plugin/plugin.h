/*
 * plugin.h - the engine side of C plugins (lunamq_plugin.h is the
 * plugin's side): loading, the ordered chain of loaded plugins, and the
 * functions the session calls at its hook points.
 *
 *   plugin.c   loader (dlopen, ABI checks), the chain, the api table
 *   hooks.c    the session's hook points: builds lmq_plugin_msg /
 *              lmq_plugin_conn from session state and applies the verdict
 *
 * A session without plugins has s->plugins == NULL, and every hook point
 * is guarded by that one test: nothing here runs, nothing is allocated.
 *
 * Internal to the library.
 */
#ifndef LMQ_PLUGIN_INT_H
#define LMQ_PLUGIN_INT_H

#include <stddef.h>
#include <stdint.h>

#include "lunamq.h"
#include "lunamq_plugin.h"

typedef struct lmq_plugin_chain lmq_plugin_chain;

/* Which hooks some plugin of the chain has (lmq_plugin_chain_hooks). */
enum lmq_plugin_hook_bit {
    LMQ_HOOK_CONNECT = 1u << 0,
    LMQ_HOOK_CONNACK = 1u << 1,
    LMQ_HOOK_MESSAGE_IN = 1u << 2,
    LMQ_HOOK_PUBLISH_OUT = 1u << 3,
    LMQ_HOOK_DISCONNECT = 1u << 4,
    LMQ_HOOK_LOG = 1u << 5,
    LMQ_HOOK_TICK = 1u << 6,
    LMQ_HOOK_PUBLISH_DONE = 1u << 7,
    LMQ_HOOK_SUBSCRIBE = 1u << 8,
    LMQ_HOOK_CONNECT_SEND = 1u << 9,
    LMQ_HOOK_AUTH = 1u << 10,
    LMQ_HOOK_SUBSCRIBED = 1u << 11,
    LMQ_HOOK_RECONNECT = 1u << 12,
    LMQ_HOOK_APP_EVENT = 1u << 13
};

/* One fd a plugin watches (api->watch_fd).  The chain owns it; the
 * driver that serves it keeps its own watcher in drv. */
typedef struct lmq_plugin_watch {
    int fd;
    int events;                   /* LMQ_PLUGIN_WATCH_* */
    void (*cb)(void *ud, int32_t fd, int32_t revents);
    void *ud;
    void *drv;                    /* the driver's watcher, NULL when none */
    struct lmq_plugin_slot *slot; /* the plugin that asked */
} lmq_plugin_watch;

/* Who serves watches: the client, through its libev driver.  watch starts
 * w or changes its events (0 or LMQ_E*: LMQ_EPLUGIN_NOLOOP without a loop);
 * unwatch stops it (0, or LMQ_ESTATE from a thread other than the loop's:
 * w stays watched). */
typedef struct lmq_plugin_io {
    int (*watch)(void *ctx, lmq_plugin_watch *w);
    int (*unwatch)(void *ctx, lmq_plugin_watch *w);
} lmq_plugin_io;

/* api->stat's source: the session. */
typedef int64_t (*lmq_plugin_stat_fn)(void *ctx, int which);

/* How the chain writes into its owner's log: level, text (NUL-terminated). */
typedef void (*lmq_plugin_log_sink)(void *ctx, int level, const char *text);

lmq_plugin_chain *lmq_plugin_chain_new(lmq_plugin_log_sink sink, void *ctx);
/* Shut every plugin down (reverse load order), unload, free.  NULL ok. */
void lmq_plugin_chain_free(lmq_plugin_chain *ch);

/* Add a plugin whose descriptor is already in memory (the loader's last
 * step; tests register static descriptors this way).  `label` names it in
 * errors (the file, for a loaded one); `handle` is the dlopen handle the
 * chain closes at free (NULL: none).  0 or LMQ_EPLUGIN_ABI / _INIT with
 * the reason in err.  On failure the handle is not taken. */
int lmq_plugin_chain_add(lmq_plugin_chain *ch, const lmq_plugin *desc, const char *config,
                         const char *label, void *handle, char *err, size_t errlen);
/* dlopen path, find lmq_plugin_entry, check and add it.  0 or
 * LMQ_EPLUGIN_LOAD / _SYMBOL / _ABI / _INIT, err naming the file. */
int lmq_plugin_chain_load(lmq_plugin_chain *ch, const char *path, const char *config,
                          char *err, size_t errlen);

/* LMQ_HOOK_* bits of the hooks the loaded plugins have. */
unsigned lmq_plugin_chain_hooks(const lmq_plugin_chain *ch);
int lmq_plugin_chain_count(const lmq_plugin_chain *ch);

/* Run the message hooks in load order.  LMQ_PLUGIN_CONTINUE, or
 * LMQ_PLUGIN_DROP when one dropped it (the rest do not see it; the drop is
 * logged).  What a hook set with msg_set_* lives until the next run. */
int lmq_plugin_run_msg(lmq_plugin_chain *ch, int hook, lmq_plugin_msg *m, int64_t now);
/* After lmq_plugin_run_msg: 1 when a hook changed the message's property
 * block, with *out that block decoded (slices valid until the next run),
 * else 0. */
struct lmq_props;
int lmq_plugin_msg_props(const lmq_plugin_chain *ch, struct lmq_props *out);
/* The same as a list to publish with: 0 unchanged (*out untouched), 1
 * changed (*out the chain's list until the next run), or LMQ_E*. */
int lmq_plugin_msg_proplist(lmq_plugin_chain *ch, const lmq_proplist **out);
/* The property block of pkt as the codec encodes it at MQTT 5 for
 * direction (LMQ_FROM_*), vh the bytes of its variable header before the
 * block; the rest of the encoding is wiped.  NULL with *len 0 when there
 * is none, NULL with *rc when it cannot be encoded; free the result. */
struct lmq_packet;
uint8_t *lmq_plugin_packet_props(const struct lmq_packet *pkt, int direction, size_t vh,
                                 int32_t *len, int *rc);
/* The property block of a PUBLISH carrying pl (LMQ_FROM_* direction):
 * NULL with *len 0 when none, NULL with *rc when pl cannot go in a
 * PUBLISH; free the result. */
uint8_t *lmq_plugin_props_block(const lmq_proplist *pl, int direction, int32_t *len, int *rc);
/* Run the connect / connack / disconnect observers. */
void lmq_plugin_run_conn(lmq_plugin_chain *ch, int hook, const lmq_plugin_conn *conn,
                         int64_t now);
/* Run the subscribe hooks: LMQ_PLUGIN_CONTINUE or LMQ_PLUGIN_DROP (the
 * first that denies stops the chain; logged), LMQ_ENOMEM.  Rewritten
 * filters replace subs[i].filter with copies the chain owns until its
 * next run. */
int lmq_plugin_run_sub(lmq_plugin_chain *ch, lmq_plugin_sub *subs, int32_t n, int64_t now);
/* Run the connect_send hooks with props (the CONNECT's list, taken: the
 * chain owns it until the next run; NULL: none yet).  CONTINUE or DROP. */
int lmq_plugin_run_connect_send(lmq_plugin_chain *ch, lmq_plugin_conn *conn,
                                lmq_proplist *props, int64_t now);
/* After it: the list to send (NULL: none), and a user name (which 0) or
 * password (1) a hook set (1, *p / *n valid until the next run), else 0. */
const lmq_proplist *lmq_plugin_connect_props(const lmq_plugin_chain *ch);
int lmq_plugin_connect_user(const lmq_plugin_chain *ch, int which, const uint8_t **p,
                            uint32_t *n);
/* Run the auth hooks until one answers: 1 with its data (valid until the
 * next run), 0 when none did. */
int lmq_plugin_run_auth(lmq_plugin_chain *ch, const lmq_plugin_auth *auth,
                        const uint8_t **data, uint32_t *n, int64_t now);
void lmq_plugin_run_suback(lmq_plugin_chain *ch, const lmq_plugin_suback *ack, int64_t now);
void lmq_plugin_run_reconnect(lmq_plugin_chain *ch, int32_t attempt, int64_t delay_ms,
                              int64_t now);
/* Run the app_event observers (name checked by the caller). */
void lmq_plugin_run_app_event(lmq_plugin_chain *ch, const char *name, int32_t len,
                              int64_t value, int64_t now);

/* Who serves fd watches (NULL: nobody, watch_fd says LMQ_EPLUGIN_NOLOOP). */
void lmq_plugin_chain_set_io(lmq_plugin_chain *ch, const lmq_plugin_io *io, void *ctx);
/* The server of watches went away: forget its watchers (no unwatch calls). */
void lmq_plugin_chain_io_gone(lmq_plugin_chain *ch);
/* A watched fd is ready: run the plugin's callback. */
void lmq_plugin_watch_fire(lmq_plugin_chain *ch, lmq_plugin_watch *w, int revents,
                           int64_t now);
void lmq_plugin_chain_set_stat(lmq_plugin_chain *ch, lmq_plugin_stat_fn fn, void *ctx);
/* Run the publish_done observers. */
void lmq_plugin_run_done(lmq_plugin_chain *ch, const lmq_plugin_done *done);
/* Hand a log line to the log hooks (not re-entered from inside one). */
void lmq_plugin_run_log(lmq_plugin_chain *ch, int level, const char *text);
/* Run the tick hooks that are due at now; the next due time, or INT64_MAX. */
int64_t lmq_plugin_run_tick(lmq_plugin_chain *ch, int64_t now);
/* When the next tick hook is due (INT64_MAX: none). */
int64_t lmq_plugin_tick_deadline(const lmq_plugin_chain *ch);

/* Load a plugin into a session's chain (created on first use; hooks.c).
 * 0 or LMQ_EPLUGIN_*; the reason, naming the file, in lmq_session_errmsg. */
struct lmq_session;
int lmq_plugin_session_load(struct lmq_session *s, const char *path, const char *config);
/* The same for a descriptor already in memory (built-in plugins, tests). */
int lmq_plugin_session_add(struct lmq_session *s, const lmq_plugin *desc, const char *config,
                           const char *label);
/* The session's chain, made when none (NULL: out of memory).  An empty
 * chain goes again at the next load that leaves it empty. */
lmq_plugin_chain *lmq_plugin_session_chain(struct lmq_session *s);
/* The session's chain, NULL when none. */
lmq_plugin_chain *lmq_plugin_session_chain_get(const struct lmq_session *s);

#endif /* LMQ_PLUGIN_INT_H */
