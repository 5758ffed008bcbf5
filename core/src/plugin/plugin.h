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
    LMQ_HOOK_SUBSCRIBE = 1u << 8
};

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
/* Run the connect / connack / disconnect observers. */
void lmq_plugin_run_conn(lmq_plugin_chain *ch, int hook, const lmq_plugin_conn *conn,
                         int64_t now);
/* Run the subscribe hooks: LMQ_PLUGIN_CONTINUE or LMQ_PLUGIN_DROP (the
 * first that denies stops the chain; logged). */
int lmq_plugin_run_sub(lmq_plugin_chain *ch, const lmq_plugin_sub *subs, int32_t n,
                       int64_t now);
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

#endif /* LMQ_PLUGIN_INT_H */
