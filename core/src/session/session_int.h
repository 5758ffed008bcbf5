/*
 * session_int.h - what the files of the session module share: the session
 * struct, the outgoing request record, and the helpers each file offers
 * the others.  Private to core/src/session/.
 *
 *   proplist.c   lmq_proplist (public) and its conversion to lmq_props
 *   event.c      the event queue, its arena, lmq_event_prop_* (public)
 *   outflight.c  packet ids, the O(1) outgoing table, the pending queue
 *   inflight.c   incoming QoS 1/2 state and incoming topic aliases
 *   alias.c      outgoing topic aliases
 *   connect.c    CONNECT, CONNACK, AUTH
 *   publish.c    PUBLISH out (flow control, acks) and in
 *   subscribe.c  SUBSCRIBE / UNSUBSCRIBE and the remembered subscriptions
 *   options.c    LMQ_OPT_* setters
 *   session.c    lifecycle, input dispatch, keepalive, errors, events out
 */
#ifndef LMQ_SESSION_INT_H
#define LMQ_SESSION_INT_H

#include <stddef.h>
#include <stdint.h>

#include "session/session.h"

/* ------------------------------------------------------------- proplist */

/* Check that every property of pl may go in `where` (LMQ_IN(type) or
 * LMQ_IN_WILL) and fill *out (slices borrowed from pl).  NULL pl gives an
 * empty *out.  0 or LMQ_EINVAL. */
int lmq_proplist_props(const lmq_proplist *pl, uint16_t where, lmq_props *out);
/* A deep copy (NULL for NULL); *rc gets LMQ_ENOMEM on failure. */
lmq_proplist *lmq_proplist_dup(const lmq_proplist *pl, int *rc);
/* Bytes the list holds (for the offline queue's byte count). */
size_t lmq_proplist_bytes(const lmq_proplist *pl);
/* Serialized for the durable store: the size (out NULL) or the bytes
 * written to out; read back by lmq_proplist_load (NULL + *rc on error). */
size_t lmq_proplist_save(const lmq_proplist *pl, uint8_t *out);
lmq_proplist *lmq_proplist_load(const uint8_t *p, size_t n, int *rc);

/* ---------------------------------------------------------------- events */

typedef struct lmq_arena_chunk lmq_arena_chunk;

typedef struct lmq_evq {
    lmq_event *ev;                /* ring */
    lmq_arena_chunk **chunk;      /* the chunk each event's data starts in */
    uint32_t cap, head, count;
    uint32_t delivered;           /* handed out by the last pull */
    uint64_t pushed;              /* events ever pushed (absolute index) */
    lmq_arena_chunk *first, *last;/* arena: chunks never move */
    lmq_arena_chunk *spare;
    /* sizes to start the next busy spell with (the queue gives back its
     * memory whenever it runs empty): the last spell's peak */
    uint32_t peak, ring_hint;
    size_t spell_bytes, chunk_hint;
} lmq_evq;

void lmq_evq_free(lmq_evq *q);
/* A new event at the tail (zeroed, type set), or NULL without memory. */
lmq_event *lmq_evq_push(lmq_evq *q, int type);
/* Copy n bytes into the arena for the event just pushed; NULL on ENOMEM
 * (n == 0 gives a valid empty pointer). */
void *lmq_evq_copy(lmq_evq *q, const void *p, size_t n);
/* Hand out up to max events into out[], elements of `size` bytes (see
 * lmq_event: never written past). */
int lmq_evq_pull(lmq_evq *q, void *out, int max, size_t size);

/* -------------------------------------------------- outgoing requests */

enum lmq_req_state {
    LMQ_RQ_QUEUED = 0,   /* not sent yet (offline / beyond receive maximum) */
    LMQ_RQ_SENT = 1,     /* PUBLISH / SUBSCRIBE / UNSUBSCRIBE sent, no ack */
    LMQ_RQ_RELEASED = 2  /* QoS 2: PUBREC received, PUBREL sent */
};

/* One outgoing PUBLISH, SUBSCRIBE or UNSUBSCRIBE, from the API call to its
 * completion.  topic/payload (or the filters) live in the same allocation. */
typedef struct lmq_req {
    struct lmq_req *prev, *next;  /* pending queue or inflight list */
    int32_t msg_id;               /* 0: internal (auto re-subscribe) */
    uint16_t packet_id;           /* 0 while it has none */
    uint8_t kind;                 /* LMQ_PUBLISH, LMQ_SUBSCRIBE, LMQ_UNSUBSCRIBE */
    uint8_t qos, retain, state;
    uint8_t resend;               /* in s->resendq: goes again when the window allows */
    uint32_t tlen, plen;
    uint8_t *topic, *payload;
    uint32_t n_entries;           /* SUBSCRIBE / UNSUBSCRIBE */
    lmq_sub_entry *entries;       /* filters point into the allocation */
    lmq_proplist *props;          /* owned copy, or NULL */
    size_t bytes;                 /* what it costs the offline byte bound */
    int64_t queued_at;            /* PUBLISH: when the application published
                                     (0: restored, unknown); for plugins */
    uint64_t out_end;             /* QoS 0 in s->unwritten: the absolute output
                                     position just past its PUBLISH */
} lmq_req;

typedef struct lmq_reqlist {
    lmq_req *head, *tail;
    uint32_t count;
} lmq_reqlist;

void lmq_reqlist_append(lmq_reqlist *l, lmq_req *r);
void lmq_reqlist_prepend(lmq_reqlist *l, lmq_req *r);
void lmq_reqlist_remove(lmq_reqlist *l, lmq_req *r);
void lmq_req_free(lmq_req *r);

/* ------------------------------------------------------- group commit */

/* Output bytes from absolute position pos wait until the store's fsync
 * reaches lsn (durable.c).  A few at a time: fences not yet asked of the
 * fsync thread merge into one. */
typedef struct lmq_fence {
    uint64_t pos, lsn;
} lmq_fence;

#define LMQ_FENCES 8u

typedef struct lmq_fences {
    lmq_fence f[LMQ_FENCES];
    uint32_t head, n;
} lmq_fences;

/* ------------------------------------------------------------ the session */

#define LMQ_ALIAS_OUT_LIMIT 1024u  /* outgoing aliases used at most */

typedef struct lmq_alias_out {
    uint8_t **topic;              /* [1..n] owned copies */
    uint32_t *tlen;
    uint16_t *bucket;             /* hash: alias, 0 empty */
    uint32_t nbuckets;
    uint16_t n, max;
} lmq_alias_out;

typedef struct lmq_bytes {
    uint8_t *p;
    uint32_t n;
    uint8_t set;                  /* 1 when the option was given */
} lmq_bytes;

/* Incoming packet-id states. */
enum lmq_in_state {
    LMQ_IN_NONE = 0,
    LMQ_IN_Q1_UNACKED = 1,        /* QoS 1 delivered, manual ack pending */
    LMQ_IN_Q2_UNACKED = 2,        /* QoS 2 delivered, manual ack pending */
    LMQ_IN_Q2_RECEIVED = 3        /* PUBREC sent, waiting for PUBREL */
};

typedef struct lmq_sub_memo {
    uint8_t *filter;
    uint32_t flen;
    uint8_t options;
    uint32_t sub_id;              /* 0: none */
} lmq_sub_memo;

/* The options that shape a connection, as the application set them.  The
 * live connection never reads these: lmq_session_start copies them into
 * the fields of the same name below, so a change made while connected
 * applies from the next connection on (changing the protocol level under
 * a live connection would make the server read garbage). */
typedef struct lmq_session_cfg {
    uint8_t level, manual_ack, alias_out;
    uint8_t proto_auto;           /* LMQ_MQTT_AUTO: level 5 until a 3.1.1 refusal */
    uint16_t keepalive;
} lmq_session_cfg;

struct lmq_session {
    /* options (those of lmq_session_cfg in cfg; the rest are read only
     * when CONNECT is built, or concern the API side only) */
    lmq_session_cfg cfg;
    uint8_t clean_start, req_resp_info, req_prob_info;
    uint8_t will_qos, will_retain, auto_resub;
    uint8_t strict_rmax;          /* LMQ_OPT_STRICT_RECEIVE_MAX */
    uint16_t receive_max, alias_max_in;
    uint32_t session_expiry, max_packet;
    int64_t connect_timeout_ms;
    uint32_t offline_max_msgs;
    uint64_t offline_max_bytes;
    int offline_policy, log_level;
    lmq_bytes client_id, username, password, auth_method, auth_data;
    lmq_bytes will_topic, will_payload;
    lmq_proplist *connect_props, *will_props;

    /* the current connection (level..keepalive: cfg as of its start) */
    uint8_t level, manual_ack, alias_out;
    uint16_t keepalive;
    int state;
    uint32_t conn_gen;            /* counts connections (ack ids carry it) */
    uint8_t reported;             /* the end of this connection was reported */
    uint8_t user_closing;         /* our own DISCONNECT */
    uint8_t sent_clean;           /* clean start as sent in this CONNECT */
    uint8_t auth_active;          /* enhanced auth / re-auth under way */
    uint8_t ping_out;             /* PINGREQ sent, nothing received since */
    uint8_t rmax_warned;          /* the server overshot our Receive Maximum */
    uint8_t no_problem_info;      /* CONNECT sent Request Problem Info 0 [MQTT-3.1.2-29] */
    uint64_t stray_acks;          /* acks for ids not in flight, ignored (publish.c) */
    uint8_t draining;             /* lmq_session_disconnect waits for the backlog */
    uint8_t drain_reason;
    lmq_proplist *drain_props;    /* the DISCONNECT's, kept while draining */
    int64_t drain_ms, drain_deadline;
    uint32_t undelivered;         /* reported by the last disconnect */
    struct { int32_t msg_id, error; } done[64];   /* recent completions (wait) */
    uint32_t done_next;
    int failed;                   /* sticky error of this connection */
    int server_reason;            /* reason of the server's DISCONNECT, -1 none */
    uint8_t fell_back;            /* auto: this connection's refusal moved cfg to 3.1.1 */
    uint8_t got_connack;          /* this connection was accepted */
    int close_reason;             /* reason of our DISCONNECT */
    uint32_t sent_session_expiry;
    uint16_t in_receive_max;      /* Receive Maximum as sent in CONNECT */
    uint16_t in_alias_max;        /* Topic Alias Maximum as sent in CONNECT */
    lmq_decoder dec;
    uint8_t *obuf;
    size_t ostart, oend, ocap;
    int64_t last_sent, last_recv, ping_deadline, connect_deadline;
    uint16_t ka;                  /* effective keepalive (server's wins) */

    /* what the server said in CONNACK (defaults until then) */
    uint16_t srv_receive_max, srv_alias_max;
    uint32_t srv_max_packet;
    uint8_t srv_max_qos, srv_retain, srv_known;
    uint8_t srv_sub_ids;          /* Subscription Identifier Available */

    /* outgoing */
    lmq_req **slot;               /* [65536] by packet id, lazily allocated */
    uint16_t next_pid;
    uint32_t ids_used;
    int32_t next_msg_id;
    lmq_reqlist inflight;         /* sent, in send order */
    lmq_reqlist resendq;          /* in flight from an earlier connection, still to
                                   * resend on this one: beyond the window [MQTT-3.3.4-7] */
    lmq_reqlist pending;          /* PUBLISH waiting to be sent, FIFO */
    lmq_reqlist subq;             /* SUBSCRIBE/UNSUBSCRIBE waiting */
    lmq_reqlist unwritten;        /* QoS 0 PUBLISH encoded, not all written yet:
                                   * complete once the socket took their last
                                   * byte (lmq_session_sent) */
    uint64_t pending_bytes;
    uint32_t inflight_pub;        /* QoS 1/2 PUBLISH (or PUBREL) sent on this connection
                                   * and not complete: counted by receive max */
    lmq_alias_out aout;

    /* incoming */
    uint8_t *in_state;            /* [65536] enum lmq_in_state, lazily */
    uint32_t in_count;            /* QoS 1/2 not yet fully acknowledged */
    uint32_t in_q1_unacked;       /* of which LMQ_IN_Q1_UNACKED (forgotten at lost) */
    uint16_t *in_gen;             /* [65536] connection (15 bits) an unacked message
                                   * was delivered on: its ack id; lazily */
    lmq_bytes *alias_in;          /* [1..alias_max_in] per connection */
    uint16_t alias_in_n;

    /* remembered subscriptions [MQTT-4.8] for auto re-subscribe */
    lmq_sub_memo *memo;
    uint32_t n_memo, cap_memo;

    lmq_evq evq;
    char errmsg[200];

    /* C plugins (plugin/plugin.h): NULL when none is loaded, and every hook
     * point tests just that. */
    void *plugins;                        /* the hooks' ctx */
    const lmq_session_hooks *hooks;       /* set when plugins is */

    /* durable sessions (durable.c, store/store.h): NULL store when no
     * LMQ_OPT_STATE_DIR is set, and every hook tests just that */
    char *state_dir;
    int durability;               /* enum lmq_durability */
    struct lmq_store *store;      /* opened at the first publish or start */
    uint64_t out_abs;             /* bytes ever sent or discarded: the absolute
                                   * position of obuf[ostart] */
    lmq_fences ofence;            /* held output (FSYNC mode only) */
    struct lmq_pull_ack *pack;    /* incoming QoS 2 acked when pulled (durable.c) */
    uint32_t pack_head, pack_n, pack_cap;
    int64_t clock;                /* the latest `now` the caller gave */
    uint64_t ack_upto;           /* lmq_session_events_take: acks owed up to here */

    /* delivery paused by the application (hold.c) */
    uint8_t hold;                 /* lmq_session_hold(s, 1) */
    uint8_t hold_warned;          /* the "socket not read" warning was logged */
    lmq_evq held;                 /* LMQ_EV_MESSAGE events kept back, in order */
    struct lmq_held *held_ack;    /* one per held event: its deferred ack */
    uint32_t held_n, held_cap;
    uint64_t held_bytes;          /* topic + payload + properties held */
    uint64_t hold_max_bytes;      /* LMQ_OPT_HOLD_MAX_BYTES; 0: no bound */
};

/* --------------------------------------------------------- shared helpers */

/* session.c */
void lmq_bytes_free(lmq_bytes *b);
/* Request msg_id completed with error (remembered for lmq_session_request). */
void lmq_session_done(lmq_session *s, int32_t msg_id, int error);
int lmq_session_emit(lmq_session *s, const lmq_packet *pkt);
int lmq_session_fail(lmq_session *s, int err, const char *text);
void lmq_session_log(lmq_session *s, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void lmq_session_seterr(lmq_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Push an event and copy the raw property block of props into it. */
lmq_event *lmq_session_event(lmq_session *s, int type, int error, int reason,
                             const lmq_props *props);

/* outflight.c */
int lmq_out_slots(lmq_session *s);
int lmq_out_alloc_id(lmq_session *s, lmq_req *r);
void lmq_out_release_id(lmq_session *s, lmq_req *r);
lmq_req *lmq_out_find(const lmq_session *s, uint16_t pid);
int32_t lmq_out_msg_id(lmq_session *s);
void lmq_out_free_all(lmq_session *s);
/* Queue a PUBLISH for sending, applying the offline bounds and policy. */
int lmq_out_enqueue(lmq_session *s, lmq_req *r);
lmq_req *lmq_out_dequeue(lmq_session *s);
void lmq_out_requeue_front(lmq_session *s, lmq_req *r);

/* inflight.c */
int lmq_in_init(lmq_session *s);
int lmq_in_get(const lmq_session *s, uint16_t pid);
void lmq_in_set(lmq_session *s, uint16_t pid, int st);
/* The connection an unacked message was delivered on (its ack id's upper
 * half); set before the message is marked unacked.  0 or LMQ_ENOMEM. */
int lmq_in_set_gen(lmq_session *s, uint16_t pid, uint16_t gen);
uint16_t lmq_in_gen(const lmq_session *s, uint16_t pid);
void lmq_in_forget_unacked(lmq_session *s);
void lmq_in_clear(lmq_session *s);
int lmq_in_alias_reset(lmq_session *s);
void lmq_in_alias_free(lmq_session *s);
/* Resolve the topic of an incoming PUBLISH [MQTT-3.3.2-9..12]. */
int lmq_in_alias_resolve(lmq_session *s, lmq_publish *p);

/* alias.c */
void lmq_alias_out_reset(lmq_alias_out *a, uint16_t max);
void lmq_alias_out_free(lmq_alias_out *a);
uint16_t lmq_alias_out_find(const lmq_alias_out *a, const uint8_t *t, uint32_t n);
/* The alias the next new topic would get (0: none left). */
uint16_t lmq_alias_out_next(const lmq_alias_out *a);
int lmq_alias_out_add(lmq_alias_out *a, const uint8_t *t, uint32_t n);

/* connect.c */
int lmq_connect_send(lmq_session *s);
int lmq_connect_on_connack(lmq_session *s, const lmq_connack *ca, int64_t now);
int lmq_connect_on_auth(lmq_session *s, const lmq_disconnect *au);
/* A 3.1.1 refusal of our v5 CONNECT (LMQ_ENOT_MQTT5 from the decoder). */
int lmq_connect_not_v5(lmq_session *s);

/* The protocol level API calls are judged by: the live connection's, or
 * the configured one (the next connection's) while offline. */
static inline uint8_t lmq_session_api_level(const lmq_session *s)
{
    return s->state == LMQ_SS_OFFLINE ? s->cfg.level : s->level;
}

/* publish.c */
/* Output encoded and not written yet above which the pump stops taking
 * messages from the pending queue: what waits stays a message (bounded by
 * LMQ_OPT_OFFLINE_MAX_*), not an ever-growing buffer. */
#define LMQ_OUT_HIGH_WATER (64u * 1024u)
int lmq_pub_pump(lmq_session *s);
/* The output reached absolute position pos: QoS 0 messages written
 * whole are complete.  Connection gone: those not written go back to the
 * front of the queue (lmq_pub_unwritten_requeue). */
void lmq_pub_written(lmq_session *s, uint64_t pos);
void lmq_pub_unwritten_requeue(lmq_session *s);
/* Messages accepted and not complete (queued, unwritten, in flight). */
uint32_t lmq_pub_backlog(const lmq_session *s);
/* A draining disconnect sends its DISCONNECT once nothing is left (or
 * force: its time is up). */
void lmq_session_drain_check(lmq_session *s, int force);
/* Session present: resend r (in flight on an earlier connection) now if
 * the new server's window allows, else park it in s->resendq. */
void lmq_pub_resend(lmq_session *s, lmq_req *r);
void lmq_pub_complete(lmq_session *s, lmq_req *r, int error, int reason,
                      const lmq_props *props);
int lmq_pub_on_ack(lmq_session *s, const lmq_packet *pkt);
int lmq_pub_on_publish(lmq_session *s, lmq_publish *p);
int lmq_pub_on_pubrel(lmq_session *s, const lmq_ack *a);
int lmq_pub_send_ack(lmq_session *s, uint8_t type, uint16_t pid, uint8_t reason);
/* An ack for a packet id not in flight: logged and counted, not fatal. */
void lmq_session_stray_ack(lmq_session *s, const char *what, uint16_t pid);
/* The application pulled the QoS 1/2 message pid delivered on connection
 * gen: PUBACK / PUBREC it (durable sessions, see lmq_durable_defer_ack). */
void lmq_pub_ack_pulled(lmq_session *s, uint16_t pid, uint16_t gen);
/* Session present = 0: unacknowledged messages go back to the queue. */
void lmq_pub_session_lost(lmq_session *s, lmq_reqlist *old);

/* hold.c: what a held message's release does about its ack */
enum lmq_hold_ack {
    LMQ_HOLD_ACK_NONE = 0,        /* QoS 0, manual ack, or acked already */
    LMQ_HOLD_ACK_NOW = 1,         /* PUBACK / PUBREC when released */
    LMQ_HOLD_ACK_PULL = 2         /* durable store: when pulled (durable.c) */
};
/* Push the event of a message to hold (topic and payload are then copied
 * with lmq_evq_copy(&s->held, ...) and counted with lmq_hold_count_bytes). */
lmq_event *lmq_hold_push(lmq_session *s, int how, uint16_t pid, uint16_t gen,
                         const lmq_props *props);
void lmq_hold_count_bytes(lmq_session *s, size_t n);
int lmq_hold_full(const lmq_session *s);
void lmq_hold_free(lmq_session *s);

/* subscribe.c */
int lmq_sub_send(lmq_session *s, lmq_req *r);
int lmq_sub_flush(lmq_session *s);
int lmq_sub_on_ack(lmq_session *s, const lmq_packet *pkt);
int lmq_sub_resubscribe(lmq_session *s);
void lmq_sub_memo_free(lmq_session *s);
void lmq_sub_memo_restore(lmq_session *s, const uint8_t *f, uint32_t n, uint8_t options,
                          uint32_t sub_id);

/* durable.c: no-ops without a state directory */
/* Open the store and restore its state (once).  0 or LMQ_E*. */
int lmq_durable_open(lmq_session *s);
void lmq_durable_close(lmq_session *s);
/* An accepted QoS 1/2 message, written to the file before publish
 * returns.  0 or LMQ_E* (the publish then fails). */
int lmq_durable_accept(lmq_session *s, const lmq_req *r);
/* r->state / r->packet_id changed; r completed; an incoming QoS 2 id is
 * held (PUBREC sent) or released; all incoming ids forgotten. */
void lmq_durable_state(lmq_session *s, const lmq_req *r);
void lmq_durable_done(lmq_session *s, const lmq_req *r);
void lmq_durable_in(lmq_session *s, uint16_t pid, int held);
void lmq_durable_in_clear(lmq_session *s);
/* A subscription granted (the memo of auto re-subscribe), one forgotten. */
void lmq_durable_sub(lmq_session *s, const uint8_t *f, uint32_t n, uint8_t options,
                     uint32_t sub_id);
void lmq_durable_unsub(lmq_session *s, const uint8_t *f, uint32_t n);
/* Write what is buffered and, with LMQ_DURABILITY_FSYNC, ask the store's
 * worker to fsync it (no waiting): called before output bytes or events
 * are handed out (write-ahead). */
void lmq_durable_commit(lmq_session *s);
/* Group commit.  The output position a packet about to be emitted starts
 * at; hold the output from there (the records so far must be on disk
 * first).  No-op but in FSYNC mode. */
uint64_t lmq_durable_out_mark(const lmq_session *s);
void lmq_durable_hold_out(lmq_session *s, uint64_t mark);
/* Of avail bytes at the head, how many may go now. */
size_t lmq_durable_out_allowed(lmq_session *s, size_t avail);
/* An incoming QoS 2 message about to be delivered (its event is the next
 * one pushed) is acknowledged when the application pulls that event:
 * 0 or LMQ_ENOMEM.  After a pull, up to absolute event index upto: the
 * acks of what was handed out (publish.c lmq_pub_ack_pulled). */
int lmq_durable_defer_ack(lmq_session *s, uint16_t pid, uint16_t gen);
void lmq_durable_acks_pulled(lmq_session *s, uint64_t upto);
/* 1 while something is held for an fsync still running. */
int lmq_durable_waiting(const lmq_session *s);
/* The unsent output is dropped (connection gone): so are its fences. */
void lmq_durable_out_discard(lmq_session *s);

#endif /* LMQ_SESSION_INT_H */
