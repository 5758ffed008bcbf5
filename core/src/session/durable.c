/*
 * durable.c - the session's half of durable sessions: opening the store
 * (core/src/store) when LMQ_OPT_STATE_DIR is set, restoring what a
 * previous process left before anything is sent, and the hooks the flows
 * call at each change of state.  Without a state directory every hook is
 * a test of s->store and nothing else.
 *
 * Write-ahead: a change is buffered in the store when it happens; the
 * buffer reaches the file (and, with LMQ_DURABILITY_FSYNC, the disk) in
 * lmq_session_out(), before the bytes that act on the change are handed
 * to the caller.  So the server never sees a packet id, a PUBREL or a
 * PUBREC the file does not know about.  An accepted message is written at
 * once (lmq_session_publish returns after write()): kill -9 a moment later
 * does not lose it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session/session_int.h"
#include "store/store.h"

static void store_log(void *ud, int level, const char *text)
{
    lmq_session_log(ud, level, "%s", text);
}

/* <dir>/<client id>.lmqs, the id kept readable: [A-Za-z0-9_-] and inner
 * dots as they are, every other byte as %XX (so no id can climb out of
 * the directory or collide with another). */
static char *state_path(const lmq_session *s)
{
    size_t dl = strlen(s->state_dir), n = 0;
    char *p = malloc(dl + 1 + 3 * (size_t)s->client_id.n + 6);
    if (!p)
        return NULL;
    memcpy(p, s->state_dir, dl);
    n = dl;
    p[n++] = '/';
    for (uint32_t i = 0; i < s->client_id.n; i++) {
        uint8_t c = s->client_id.p[i];
        int plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '_' || c == '-' || (c == '.' && i > 0);
        if (plain) {
            p[n++] = (char)c;
        } else {
            snprintf(p + n, 4, "%%%02X", c);
            n += 3;
        }
    }
    memcpy(p + n, ".lmqs", 6);
    return p;
}

static lmq_req *restored_req(const lmq_store_msg *m, int *rc)
{
    lmq_req *r = malloc(sizeof *r + m->tlen + m->plen + 1);
    *rc = LMQ_ENOMEM;
    if (!r)
        return NULL;
    memset(r, 0, sizeof *r);
    r->kind = LMQ_PUBLISH;
    r->msg_id = m->msg_id;
    r->qos = m->qos;
    r->retain = m->retain;
    r->topic = (uint8_t *)(r + 1);
    r->payload = r->topic + m->tlen;
    memcpy(r->topic, m->topic, m->tlen);
    memcpy(r->payload, m->payload, m->plen);
    r->tlen = m->tlen;
    r->plen = m->plen;
    r->bytes = (size_t)m->tlen + m->plen;
    *rc = 0;
    if (m->prlen && !(r->props = lmq_proplist_load(m->props, m->prlen, rc))) {
        free(r);
        return NULL;
    }
    r->bytes += lmq_proplist_bytes(r->props);
    return r;
}

/*
 * What the last process left: messages not sent yet go to the pending
 * queue (unbounded: they were accepted already), those in flight to the
 * inflight list with their packet ids, as if the connection had just been
 * lost; CONNACK then resends them with DUP (session present) or requeues
 * them as new (not present), the usual rules.  Incoming QoS 2 ids stay
 * PUBREC'd, so a resent PUBLISH is not delivered twice [MQTT-4.3.3-10].
 */
static int restore(lmq_session *s)
{
    int rc;
    uint32_t n = 0;

    for (const lmq_store_msg *m = lmq_store_first(s->store); m; m = m->next) {
        lmq_req *r = restored_req(m, &rc);
        if (!r) {
            if (rc == LMQ_EINVAL) {
                lmq_session_seterr(s, "state file: properties of message %d unreadable",
                                   (int)m->msg_id);
                rc = LMQ_ESTORE_CORRUPT;
            }
            return rc;
        }
        if (m->state == LMQ_STORE_QUEUED) {
            lmq_reqlist_append(&s->pending, r);
            s->pending_bytes += r->bytes;
        } else {
            if ((rc = lmq_out_slots(s))) {
                lmq_req_free(r);
                return rc;
            }
            if (s->slot[m->packet_id]) {
                lmq_req_free(r);
                lmq_session_seterr(s, "state file: packet id %u used twice", m->packet_id);
                return LMQ_ESTORE_CORRUPT;
            }
            r->packet_id = m->packet_id;
            r->state = m->state;
            s->slot[r->packet_id] = r;
            s->ids_used++;
            lmq_reqlist_append(&s->inflight, r);
            s->inflight_pub++;
        }
        n++;
    }
    /* ids go on after the stored ones (and after any this process used
     * before the store opened) */
    if (lmq_store_next_msg_id(s->store) > s->next_msg_id)
        s->next_msg_id = lmq_store_next_msg_id(s->store);
    s->next_pid = lmq_store_next_pid(s->store);
    uint32_t held = 0;
    for (uint32_t pid = 1; pid < 65536; pid++) {
        if (!lmq_store_in_held(s->store, (uint16_t)pid))
            continue;
        if ((rc = lmq_in_init(s)))
            return rc;
        lmq_in_set(s, (uint16_t)pid, LMQ_IN_Q2_RECEIVED);
        held++;
    }
    /* the subscriptions auto re-subscribe sends again if the server has
     * lost our session (CONNACK session present 0) */
    uint32_t subs = lmq_store_sub_count(s->store);
    for (uint32_t i = 0; i < subs; i++) {
        const lmq_store_sub *e = lmq_store_sub_at(s->store, i);
        lmq_sub_memo_restore(s, e->filter, e->flen, e->options, e->sub_id);
    }
    if (n || held || subs)
        lmq_session_log(s, LMQ_LOG_INFO,
                        "state restored: %u outgoing message(s), %u incoming QoS 2 id(s), "
                        "%u subscription(s)", n, held, subs);
    return 0;
}

int lmq_durable_open(lmq_session *s)
{
    char err[300];
    int rc;

    if (s->store || !s->state_dir)
        return 0;
    if (!s->client_id.n) {
        lmq_session_seterr(s, "a state directory needs a client id");
        return LMQ_EINVAL;
    }
    char *path = state_path(s);
    if (!path)
        return LMQ_ENOMEM;
    rc = lmq_store_open(&s->store, path, s->client_id.p, s->client_id.n, s->durability,
                        store_log, s, err, sizeof err);
    free(path);
    if (rc) {
        lmq_session_seterr(s, "%s", err);
        return rc;
    }
    if ((rc = restore(s))) {
        /* Half restored is worse than nothing: start empty, say why. */
        lmq_out_free_all(s);
        s->pending_bytes = 0;
        s->ids_used = 0;
        s->inflight_pub = 0;
        lmq_store_close(s->store);
        s->store = NULL;
        return rc;
    }
    return 0;
}

void lmq_durable_close(lmq_session *s)
{
    lmq_store_close(s->store);
    s->store = NULL;
}

/* A change the store could not take: the file no longer says what the
 * session knows, so durability ends here, loudly, rather than a later
 * restart restoring a wrong state. */
static void store_broke(lmq_session *s, int rc)
{
    if (!rc || rc == LMQ_EINVAL)
        return;     /* EINVAL: not in the store (accepted before it opened) */
    char text[400];
    snprintf(text, sizeof text, "state file abandoned, the session is no longer durable: %s",
             rc == LMQ_ENOMEM ? "out of memory" : lmq_store_errmsg(s->store));
    lmq_session_push_event(s, LMQ_EV_ERROR, rc, 0, text);
    lmq_session_log(s, LMQ_LOG_ERROR, "%s", text);
    lmq_durable_close(s);
    /* and it stays ended: reopening would restore a stale state on top
     * of the live one */
    free(s->state_dir);
    s->state_dir = NULL;
}

int lmq_durable_accept(lmq_session *s, const lmq_req *r)
{
    uint8_t stack[256], *pr = stack;
    int rc;
    if (!s->store || r->qos == 0)
        return 0;
    size_t prlen = lmq_proplist_save(r->props, NULL);
    if (prlen > sizeof stack && !(pr = malloc(prlen)))
        return LMQ_ENOMEM;
    lmq_proplist_save(r->props, pr);
    rc = lmq_store_add(s->store, r->msg_id, r->qos, r->retain, r->topic, r->tlen,
                       r->payload, r->plen, pr, prlen);
    if (pr != stack)
        free(pr);
    /* written now (kill -9 safe when publish returns), fsynced by the
     * next group commit */
    if (!rc && (rc = lmq_store_commit(s->store))) {
        /* This message is refused; the store is given up, as below. */
        lmq_session_seterr(s, "%s", lmq_store_errmsg(s->store));
        store_broke(s, rc);
    }
    return rc;
}

void lmq_durable_state(lmq_session *s, const lmq_req *r)
{
    if (s->store && r->qos)
        store_broke(s, lmq_store_set_state(s->store, r->msg_id, r->state, r->packet_id));
}

void lmq_durable_done(lmq_session *s, const lmq_req *r)
{
    if (s->store && r->qos)
        store_broke(s, lmq_store_remove(s->store, r->msg_id));
}

/* Called before the PUBREC / PUBCOMP that depends on it is emitted: that
 * waits for the fsync. */
void lmq_durable_in(lmq_session *s, uint16_t pid, int held)
{
    if (!s->store)
        return;
    store_broke(s, lmq_store_in_set(s->store, pid, held));
    lmq_durable_hold_out(s, lmq_durable_out_mark(s));
}

void lmq_durable_in_clear(lmq_session *s)
{
    if (s->store)
        store_broke(s, lmq_store_in_clear(s->store));
}

void lmq_durable_sub(lmq_session *s, const uint8_t *f, uint32_t n, uint8_t options,
                     uint32_t sub_id)
{
    if (s->store && n)
        store_broke(s, lmq_store_sub_put(s->store, f, n, options, sub_id));
}

void lmq_durable_unsub(lmq_session *s, const uint8_t *f, uint32_t n)
{
    if (s->store && n)
        store_broke(s, lmq_store_sub_del(s->store, f, n));
}

void lmq_durable_commit(lmq_session *s)
{
    /* Output held for an fsync that failed would wait for ever: the
     * commit reports the failure and the store is given up (store_broke),
     * which releases it. */
    if (s->store && (lmq_store_dirty(s->store) ||
                     (s->ofence.n && lmq_store_sync_failed(s->store))))
        store_broke(s, lmq_store_commit(s->store));
}

/* ------------------------------------------------------- group commit */

/*
 * With LMQ_DURABILITY_FSYNC the records reach the disk on the store's
 * worker thread, behind the loop.  The few bytes and events that must not
 * leave before their record is on disk (store.h lists them and why) are
 * held by fences: "from position pos on, wait for LSN lsn".  Everything
 * before the first unmet fence goes at once, so a QoS 1 stream never
 * waits, and a QoS 2 one waits one group commit per step, shared by every
 * message of the batch.  While a fence waits, the session's deadline is
 * 1 ms away (lmq_session_deadline): the loop comes back, sees the fsync
 * done and sends; no driver needs to know about the thread.
 */
static int fencing(const lmq_session *s)
{
    return s->store && s->durability == LMQ_DURABILITY_FSYNC;
}

uint64_t lmq_durable_out_mark(const lmq_session *s)
{
    return s->out_abs + (s->oend - s->ostart);
}

static void fence_add(lmq_session *s, lmq_fences *fs, uint64_t pos)
{
    uint64_t lsn = lmq_store_lsn(s->store);
    if (lsn <= lmq_store_durable_lsn(s->store))
        return;                 /* on disk already */
    /* A later fence never starts before an earlier one: one that would is
     * merged into it (it waits for the later LSN, which covers both). */
    while (fs->n) {
        lmq_fence *last = &fs->f[(fs->head + fs->n - 1) % LMQ_FENCES];
        if (last->pos < pos)
            break;
        if (last->lsn > lsn)
            lsn = last->lsn;
        fs->n--;
    }
    if (fs->n) {
        /* Not asked of the worker yet, or no room: the next fsync covers
         * both, so hold from the earlier position for the later LSN. */
        lmq_fence *last = &fs->f[(fs->head + fs->n - 1) % LMQ_FENCES];
        if (last->lsn > lmq_store_requested_lsn(s->store) || fs->n == LMQ_FENCES) {
            last->lsn = lsn;
            return;
        }
    }
    fs->f[(fs->head + fs->n) % LMQ_FENCES] = (lmq_fence){ pos, lsn };
    fs->n++;
}

void lmq_durable_hold_out(lmq_session *s, uint64_t mark)
{
    if (fencing(s))
        fence_add(s, &s->ofence, mark);
}

/* The first fence still unmet (NULL: none); met ones are dropped. */
static const lmq_fence *first_unmet(lmq_session *s, lmq_fences *fs)
{
    if (!fs->n)
        return NULL;
    if (!s->store) {
        fs->n = 0;              /* the store was given up: nothing to wait for */
        return NULL;
    }
    uint64_t d = lmq_store_durable_lsn(s->store);
    while (fs->n && fs->f[fs->head].lsn <= d) {
        fs->head = (fs->head + 1) % LMQ_FENCES;
        fs->n--;
    }
    return fs->n ? &fs->f[fs->head] : NULL;
}

size_t lmq_durable_out_allowed(lmq_session *s, size_t avail)
{
    const lmq_fence *f = first_unmet(s, &s->ofence);
    if (!f)
        return avail;
    uint64_t room = f->pos > s->out_abs ? f->pos - s->out_abs : 0;
    return room < avail ? (size_t)room : avail;
}

int lmq_durable_waiting(const lmq_session *s)
{
    if (!s->store || !s->ofence.n)
        return 0;
    return s->ofence.f[s->ofence.head].lsn > lmq_store_durable_lsn(s->store);
}

int lmq_session_out_held(const lmq_session *s)
{
    return s && lmq_durable_waiting(s);
}

void lmq_durable_out_discard(lmq_session *s)
{
    s->out_abs += s->oend - s->ostart;
    s->ofence.n = 0;
}

/* ---------------------------------------- incoming QoS 1/2: ack at pull */

/*
 * When is an incoming QoS 2 message "received"?  A restarted process
 * treats every id its file holds as delivered (the server's resend is
 * answered, not delivered [MQTT-4.3.3-10]).  So the id must reach the
 * file neither before the application has the message (a kill -9 in
 * between would lose it: held but never seen) nor after (a kill in
 * between would deliver it twice).  Hence, with a store, the session acts
 * as if the application acked each QoS 2 message when it pulls it: the
 * message waits unacked (LMQ_IN_Q2_UNACKED, as with manual ack), and the
 * pull that hands it out records the id, writes the record and queues the
 * PUBREC, in that order, before it returns.  The one window left is
 * inside that pull, between write() and return.  QoS 1 goes the same
 * way without a record: its PUBACK leaves once the message is pulled, so
 * a process killed before that gets it again from the server.
 *
 * Power loss (LMQ_DURABILITY_FSYNC): the PUBREC waits for the fsync, but
 * the delivery cannot (held, a kill -9 would lose it, as above): a power
 * loss between the pull and the next group commit can deliver that
 * message again after the reboot.
 */
typedef struct lmq_pull_ack {
    uint64_t ev;                  /* absolute index of its message event */
    uint16_t pid, gen;
} lmq_pull_ack;

int lmq_durable_defer_ack(lmq_session *s, uint16_t pid, uint16_t gen)
{
    if (s->pack_head + s->pack_n == s->pack_cap) {
        if (s->pack_head) {
            memmove(s->pack, s->pack + s->pack_head, s->pack_n * sizeof *s->pack);
            s->pack_head = 0;
        } else {
            uint32_t cap = s->pack_cap ? s->pack_cap * 2 : 64;
            lmq_pull_ack *p = realloc(s->pack, cap * sizeof *p);
            if (!p)
                return LMQ_ENOMEM;
            s->pack = p;
            s->pack_cap = cap;
        }
    }
    s->pack[s->pack_head + s->pack_n++] = (lmq_pull_ack){ s->evq.pushed, pid, gen };
    return 0;
}

void lmq_durable_acks_pulled(lmq_session *s, uint64_t upto)
{
    while (s->pack_n && s->pack[s->pack_head].ev < upto) {
        lmq_pull_ack a = s->pack[s->pack_head];
        s->pack_head++;
        s->pack_n--;
        lmq_pub_ack_pulled(s, a.pid, a.gen);
    }
    if (!s->pack_n)
        s->pack_head = 0;
}
