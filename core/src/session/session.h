/*
 * session.h - the MQTT client session as a sans-I/O state machine.
 *
 * Input: bytes received, the time now (monotonic milliseconds, supplied by
 * the caller: the session never reads a clock) and API calls.  Output: bytes
 * to send, the next deadline, and events.  No sockets, no loop, no clock, so
 * tests drive it byte for byte with a fake clock.
 *
 * One session lives across many network connections: start() begins a
 * connection (queues CONNECT), lost() ends one.  What survives between them
 * (inflight tables, packet ids, offline queue, subscriptions) is the
 * session state of [MQTT-4.1].
 *
 * Layering: codec <- session <- client (client.c adds transports, drivers,
 * reconnect timing).  Internal to the library.
 */
#ifndef LMQ_SESSION_H
#define LMQ_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "lunamq.h"
#include "codec/codec.h"

typedef struct lmq_session lmq_session;

/* Where the session is, as far as the protocol goes. */
enum lmq_session_state {
    LMQ_SS_OFFLINE = 0,       /* no connection: publishes go to the offline queue */
    LMQ_SS_CONNECTING = 1,    /* CONNECT queued/sent, waiting for CONNACK (or AUTH) */
    LMQ_SS_CONNECTED = 2,     /* CONNACK success received */
    LMQ_SS_CLOSING = 3        /* we sent DISCONNECT (or must close): flush, then close */
};

lmq_session *lmq_session_new(void);
void lmq_session_free(lmq_session *s);

/*
 * Options: the LMQ_OPT_* keys of lunamq.h that concern the protocol
 * (LMQ_OPT_PROTOCOL .. LMQ_OPT_WILL_RETAIN, LMQ_OPT_OFFLINE_*,
 * LMQ_OPT_MANUAL_ACK, LMQ_OPT_AUTO_RESUBSCRIBE, LMQ_OPT_TOPIC_ALIAS_OUT,
 * LMQ_OPT_CONNECT_TIMEOUT_MS (CONNACK wait), LMQ_OPT_LOG_LEVEL,
 * LMQ_OPT_STATE_DIR and LMQ_OPT_DURABILITY (the durable store: durable.c;
 * opened at the first publish or start, before CONNECT)).  Other keys
 * return LMQ_EINVAL (the client handles them).  Strings are copied; a NULL
 * string with length 0 clears the option (no user name, no will...).
 * Options never change a live connection: what shapes one (protocol level,
 * client id, keep alive, receive / topic alias / packet size maximums,
 * manual ack, outgoing aliases) is taken by lmq_session_start and holds
 * until that connection ends; a change applies from the next start.
 */
int lmq_session_set_int(lmq_session *s, int option, int64_t value);
int lmq_session_set_str(lmq_session *s, int option, const uint8_t *p, size_t n);
/* target: LMQ_PROPS_CONNECT or LMQ_PROPS_WILL.  Copied; NULL clears. */
int lmq_session_set_props(lmq_session *s, int target, const lmq_proplist *pl);

/* A new network connection is up: queue CONNECT.  0 or LMQ_E*.  The
 * previous server's limits are forgotten (until CONNACK, publish queues). */
int lmq_session_start(lmq_session *s, int64_t now);

/*
 * Bytes received.  0 when all is well.  A negative LMQ_E* code means the
 * connection must be closed: the session has already queued the DISCONNECT
 * a v5 client owes (with the reason code of lmq_error_reason()) and an
 * event saying why; the caller flushes lmq_session_out() best-effort, closes
 * the socket and calls lmq_session_lost().
 */
int lmq_session_input(lmq_session *s, const uint8_t *p, size_t n, int64_t now);

/*
 * The same without a copy: the transport reads straight into the decoder.
 * lmq_session_input_space gives room for at least `want` bytes at *p (the
 * room, or LMQ_ENOMEM); after reading k bytes there, lmq_session_input_commit
 * acts on them exactly as lmq_session_input(s, *p, k, now) would.
 */
int lmq_session_input_space(lmq_session *s, size_t want, uint8_t **p);
int lmq_session_input_commit(lmq_session *s, size_t n, int64_t now);

/* Give back the buffers that hold nothing now (the input buffer when no
 * partial packet waits in it, the output buffer when all was written), so
 * an idle connection keeps no buffer; they grow again on demand. */
void lmq_session_trim(lmq_session *s);

/* Time passed: keepalive, PINGRESP wait, CONNACK wait, retries.  0, or a
 * negative LMQ_E* (LMQ_EKEEPALIVE, LMQ_ETIMEOUT) meaning close, as above. */
int lmq_session_tick(lmq_session *s, int64_t now);

/* The absolute time (ms) at which lmq_session_tick must next be called, or
 * INT64_MAX when nothing is pending. */
int64_t lmq_session_deadline(const lmq_session *s);

/* The connection is gone (closed by either side, or broken).  error: why
 * (0 after our own clean DISCONNECT).  Queues LMQ_EV_DISCONNECTED or, before
 * CONNACK, LMQ_EV_CONNECT_FAILED.  Inflight messages stay for the next
 * connection. */
void lmq_session_lost(lmq_session *s, int64_t now, int error);

/* Bytes waiting to be written: *p points at them (borrowed until the next
 * call on the session); returns the count.  After writing k of them call
 * lmq_session_sent(s, k, now) (which also counts as activity for keepalive). */
size_t lmq_session_out(lmq_session *s, const uint8_t **p);
void lmq_session_sent(lmq_session *s, size_t k, int64_t now);
/* 1 while output waits for the state file's fsync (LMQ_DURABILITY_FSYNC):
 * lmq_session_deadline() is then a millisecond away, and a caller that
 * changed the session outside the loop must tell its driver. */
int lmq_session_out_held(const lmq_session *s);

int lmq_session_state(const lmq_session *s);

/* Set when CLOSING has nothing left to send: the caller closes now. */
int lmq_session_wants_close(const lmq_session *s);
/* The reason code of the DISCONNECT the server sent on the last connection,
 * or -1 when it sent none. */
int lmq_session_server_reason(const lmq_session *s);
/* 1 when the last connection ended in the 3.1.1 refusal of a v5 CONNECT
 * under LMQ_MQTT_AUTO: the next connection speaks 3.1.1 and should start
 * at once (nothing was reported as a failure). */
int lmq_session_fell_back(const lmq_session *s);
/* 1 when the current (or just ended) connection got its CONNACK. */
int lmq_session_got_connack(const lmq_session *s);
/* Is the client id one the configured protocol level allows?  0, or
 * LMQ_ECLIENT_ID / LMQ_EINVAL with the id and the rule in lmq_session_errmsg. */
int lmq_session_check_client_id(lmq_session *s);

/* ------------------------------------------------------------- API calls */

/*
 * Behaviour the calls below share (chosen where the spec leaves a choice):
 *
 * - Publish: refused at once (no message id) for bad arguments, for a
 *   property not allowed in PUBLISH (Topic Alias and Subscription
 *   Identifier are the session's, never the caller's), and, once a CONNACK
 *   told us, for QoS above the server's Maximum QoS (LMQ_EQOS_NOT_SUPPORTED),
 *   retain when it has none (LMQ_ERETAIN_NOT_SUPPORTED) and a packet over its
 *   Maximum Packet Size (LMQ_ESERVER_MAX_SIZE).  Accepted messages wait in
 *   one FIFO until they can go: while not connected, and while connected
 *   beyond the server's Receive Maximum.  LMQ_OPT_OFFLINE_MAX_MSGS / _BYTES
 *   bound that FIFO in both cases (same back-pressure online and offline);
 *   LMQ_QUEUE_REFUSE makes publish return LMQ_EQUEUE_FULL,
 *   LMQ_QUEUE_DROP_OLDEST completes the oldest with LMQ_EDROPPED.  A queued
 *   message the next server refuses (QoS, retain, size) completes with that
 *   error.  Completion (LMQ_EV_PUBLISHED): QoS 0 when written to the output,
 *   QoS 1 at PUBACK, QoS 2 at PUBCOMP; a PUBACK/PUBREC reason >= 0x80 gives
 *   error LMQ_EREJECTED with that reason.
 * - Reconnect, CONNACK session present = 1: unacknowledged PUBLISH go again
 *   with DUP and their ids, PUBREL for those PUBREC'd, in the original
 *   order, as far as the new server's Receive Maximum allows (the rest keep
 *   their ids and go, still in order, as acks free the window, before
 *   anything new); unanswered SUBSCRIBE/UNSUBSCRIBE go at once, then the
 *   queue.  A PUBLISH the new server forbids (QoS above its maximum, retain
 *   it has not) is not resent: it completes with LMQ_EQOS_NOT_SUPPORTED /
 *   LMQ_ERETAIN_NOT_SUPPORTED.
 * - Reconnect, session present = 0 (the server forgot us): a QoS 1/2
 *   PUBLISH never acknowledged goes back to the front of the queue, in
 *   order, and is sent as a NEW message (new packet id, no DUP): the
 *   application never got its completion, so nothing is lost; a QoS 2
 *   message that had its PUBREC completes with success (the server took it
 *   over at PUBREC).  Incoming QoS 2 state is dropped.  With
 *   LMQ_OPT_AUTO_RESUBSCRIBE the filters the server had granted (and not
 *   unsubscribed since) are subscribed again, batched by Subscription
 *   Identifier; their LMQ_EV_SUBSCRIBED events carry msg_id 0.
 * - Subscribe / unsubscribe: filters and options are checked before
 *   anything is sent (LMQ_EINVAL for No Local on a shared subscription,
 *   reserved bits, QoS 3, Retain Handling 3; topic errors from
 *   lmq_topic_validate_filter).  Connected, a request the server's limits
 *   refuse fails the call (no event).  While not connected it waits and
 *   goes first after the next CONNACK (never behind PUBLISH flow control);
 *   a failure then comes as the event's error.
 * - Manual ack (LMQ_OPT_MANUAL_ACK): LMQ_EV_MESSAGE carries ack_id > 0 for
 *   QoS 1/2; lmq_session_ack sends PUBACK / PUBREC with the reason.  The
 *   ack is taken while the message is unacked, even if the option was
 *   turned off since.  QoS 2: the unacked state survives a reconnect with
 *   session present, the server's resend is not delivered again, and the
 *   ack_id stays valid (acked between connections, the PUBREC answers the
 *   server's resend; a refusal >= 0x80 then gives LMQ_ESTATE: ack once
 *   connected).  QoS 1 (at-least-once): unacked at the disconnect, it is
 *   forgotten; the server sends it again and it is delivered again with a
 *   new ack_id, the old one giving LMQ_ESTATE.  One acked already gives
 *   LMQ_EINVAL.
 * - Keepalive: PINGREQ when nothing was sent, or nothing received, for the
 *   keepalive (the server's Server Keep Alive wins); no answer within half
 *   of it (at least min(keepalive, 3 s)) fails with LMQ_EKEEPALIVE.  Only a
 *   complete packet counts as hearing from the server.
 * - Acks for packet ids with nothing (or another kind of flow) in flight
 *   under them: logged, counted (stats.stray_acks), otherwise ignored at
 *   every level; a stray PUBREC gets PUBREL 0x92 (publish.c
 *   lmq_session_stray_ack).  Still fatal (DISCONNECT 0x82 at v5): a SUBACK
 *   / UNSUBACK with a reason code count unlike its request's
 *   [MQTT-3.9.3-1] [MQTT-3.11.3-1], a PUBREL for a message the application
 *   has not acked yet, problem information we declined [MQTT-3.1.2-29],
 *   packets before CONNACK [MQTT-3.2.0-1], malformed packets.
 * - QoS 0 completion: when lmq_session_sent covered its last byte.  At
 *   most LMQ_OUT_HIGH_WATER bytes are encoded ahead of the socket; a QoS 0
 *   PUBLISH not written whole when the connection is lost is queued again.
 * - Disconnect while connected with messages not complete: DISCONNECT
 *   waits for them up to LMQ_OPT_DRAIN_TIMEOUT_MS; what is left when the
 *   connection ends is reported (lmq_session_report_undelivered).
 * - After our own DISCONNECT (until lmq_session_lost), publish / subscribe
 *   / unsubscribe return LMQ_ESTATE; once offline they queue again for the
 *   next start.  Disconnect while offline returns LMQ_ENOT_CONNECTED.
 */

/* As lmq_client_publish(): a message id > 0 or LMQ_E*. */
int lmq_session_publish(lmq_session *s, const uint8_t *topic, size_t tlen,
                        const uint8_t *payload, size_t plen, int qos, int retain,
                        const lmq_proplist *props, int64_t now);
int lmq_session_subscribe(lmq_session *s, const lmq_subscription *subs, int n,
                          const lmq_proplist *props, int64_t now);
int lmq_session_unsubscribe(lmq_session *s, const char *const *filters,
                            const int32_t *lens, int n, const lmq_proplist *props,
                            int64_t now);
int lmq_session_ack(lmq_session *s, int32_t ack_id, int reason, int64_t now);
int lmq_session_auth(lmq_session *s, int reason, const lmq_proplist *props, int64_t now);
/* Queue DISCONNECT and go CLOSING; connected with messages not complete,
 * first deliver them for up to LMQ_OPT_DRAIN_TIMEOUT_MS (see session.c). */
int lmq_session_disconnect(lmq_session *s, int reason, const lmq_proplist *props,
                           int64_t now);
/* Our disconnect is over (or was made offline): report the messages it
 * leaves undelivered (an LMQ_EV_ERROR LMQ_EUNDELIVERED and errmsg), and
 * how many that was. */
void lmq_session_report_undelivered(lmq_session *s);
uint32_t lmq_session_undelivered(const lmq_session *s);

/* ---------------------------------------------------------------- events */

/*
 * Pull up to max events.  Their pointers stay valid until the next call to
 * lmq_session_events() (message data is copied into an arena the session
 * reuses).  Returns the count.
 */
int lmq_session_events(lmq_session *s, lmq_event *out, int max);
/* The same into the caller's array of lmq_event of `size` bytes each
 * (lmq_client_events: never written past, see lmq_event). */
int lmq_session_events_sized(lmq_session *s, void *out, int max, size_t size);
/* As lmq_session_events, but a durable session acknowledges the messages
 * handed out only at lmq_session_events_done (after the callback that got
 * them returned: their output is written before their QoS 2 id is
 * recorded). */
int lmq_session_events_take(lmq_session *s, lmq_event *out, int max);
void lmq_session_events_done(lmq_session *s);

/*
 * Pause (on = 1) or resume (0) the delivery of LMQ_EV_MESSAGE events
 * (hold.c): while paused, incoming PUBLISHes are handled but their events
 * and automatic acks are kept back; resuming queues them, in order, and
 * sends the acks.  Returns the number of messages held when called.
 */
int lmq_session_hold(lmq_session *s, int on);
/* 1 while paused with LMQ_OPT_HOLD_MAX_BYTES or more held: stop reading. */
int lmq_session_hold_full(const lmq_session *s);

/* Queue an event from the layer above (transport errors, logs), so that
 * all events come out of one queue in order.  text is copied. */
void lmq_session_push_event(lmq_session *s, int type, int error, int reason,
                            const char *text);

/* ------------------------------------------------------------ hook port */

/*
 * The session's hook port: every point where something outside the
 * session (the plugin chain, plugin/hooks.c) may look at or change what
 * happens.  The client installs it with lmq_session_set_hooks; a session
 * without hooks pays one NULL test per hook point.  ctx is the
 * implementation's (the plugin chain), given back to log, tick,
 * tick_deadline and release; the others get the session, which they
 * read through session.h and, for now, session_int.h (issue 13: the
 * plugin side still reads session internals).
 */
struct lmq_req;
typedef struct lmq_session_hooks {
    void (*connect)(lmq_session *s, const lmq_connect *c);
    void (*connack)(lmq_session *s, const lmq_connack *ca);
    void (*disconnect)(lmq_session *s, int error, int reason, const lmq_props *props);
    int (*subscribe)(lmq_session *s, lmq_slice *f, uint8_t *o, int n, int64_t now);
    void (*suback)(lmq_session *s, const struct lmq_req *r, const lmq_slice *reasons,
                   const lmq_props *props, int64_t now);
    int (*connect_send)(lmq_session *s, lmq_connect *c, const lmq_proplist **props);
    int (*auth)(lmq_session *s, const lmq_disconnect *au, int64_t now);
    void (*done)(lmq_session *s, const struct lmq_req *r, int error, int reason,
                 const lmq_props *props);
    int (*in)(lmq_session *s, lmq_publish *p, uint8_t *reason);
    int (*out)(lmq_session *s, const uint8_t **topic, size_t *tlen, const uint8_t **payload,
               size_t *plen, int *qos, int *retain, const lmq_proplist **props, int64_t now);
    void (*log)(void *ctx, int level, const char *text);
    void (*tick)(void *ctx, int64_t now);
    int64_t (*tick_deadline)(void *ctx);
    void (*release)(void *ctx);       /* lmq_session_free, or hooks replaced */
} lmq_session_hooks;

/* Install (or with NULL remove) the hooks; the previous ones are released.
 * The session owns ctx from here: release(ctx) at lmq_session_free. */
void lmq_session_set_hooks(lmq_session *s, const lmq_session_hooks *h, void *ctx);
/* The ctx installed with h, or NULL when the session has other hooks or none. */
void *lmq_session_hooks_ctx(const lmq_session *s, const lmq_session_hooks *h);

/* Queue an LMQ_EV_LOG event of that level (no level filter: the caller's). */
void lmq_session_push_log(lmq_session *s, int level, const char *text);

/* The last detailed error message ("" if none). */
const char *lmq_session_errmsg(const lmq_session *s);

/* Where request msg_id (publish, subscribe, unsubscribe) is: 1 not
 * complete; 0 complete, *error its outcome (among the last 64 to
 * complete); LMQ_EINVAL unknown. */
int lmq_session_request(const lmq_session *s, int32_t msg_id, int *error);

/* Counters for tests and benchmarks. */
typedef struct lmq_session_stats {
    uint32_t inflight_out;     /* QoS 1/2 sent, not yet complete */
    uint32_t waiting_out;      /* queued behind the server's receive maximum */
    uint32_t offline_msgs;     /* in the offline queue */
    uint64_t offline_bytes;
    uint32_t inflight_in;      /* QoS 2 received, waiting for PUBREL; QoS 1/2 awaiting manual ack */
    uint16_t server_receive_max;
    uint16_t server_alias_max;
    uint32_t server_max_packet;
    uint8_t server_max_qos;
    uint8_t server_retain;
    uint32_t unwritten_msgs;   /* accepted, not written whole to the socket yet */
    uint64_t unwritten_bytes;  /* their bytes, queued and encoded */
    uint64_t stray_acks;       /* acks for packet ids not in flight, ignored */
    uint32_t requests;         /* SUBSCRIBE / UNSUBSCRIBE not answered */
} lmq_session_stats;

void lmq_session_stats_get(const lmq_session *s, lmq_session_stats *st);

#endif /* LMQ_SESSION_H */
