/*
 * outflight.c - what we send that waits for an answer: packet identifiers,
 * the table that finds a request by its id in O(1), the inflight list (send
 * order, for resending after a reconnect) and the pending queue (FIFO of
 * PUBLISH not sent yet: offline, or beyond the server's Receive Maximum).
 */
#include <stdlib.h>
#include <string.h>

#include "session/session_int.h"

/* ------------------------------------------------------------ list basics */

void lmq_reqlist_append(lmq_reqlist *l, lmq_req *r)
{
    r->next = NULL;
    r->prev = l->tail;
    if (l->tail)
        l->tail->next = r;
    else
        l->head = r;
    l->tail = r;
    l->count++;
}

void lmq_reqlist_prepend(lmq_reqlist *l, lmq_req *r)
{
    r->prev = NULL;
    r->next = l->head;
    if (l->head)
        l->head->prev = r;
    else
        l->tail = r;
    l->head = r;
    l->count++;
}

void lmq_reqlist_remove(lmq_reqlist *l, lmq_req *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        l->head = r->next;
    if (r->next)
        r->next->prev = r->prev;
    else
        l->tail = r->prev;
    r->prev = r->next = NULL;
    l->count--;
}

void lmq_req_free(lmq_req *r)
{
    if (!r)
        return;
    lmq_proplist_free(r->props);
    free(r);
}

static void list_free(lmq_reqlist *l)
{
    lmq_req *r = l->head;
    while (r) {
        lmq_req *n = r->next;
        lmq_req_free(r);
        r = n;
    }
    memset(l, 0, sizeof *l);
}

void lmq_out_free_all(lmq_session *s)
{
    list_free(&s->inflight);
    list_free(&s->resendq);
    list_free(&s->pending);
    list_free(&s->subq);
    list_free(&s->unwritten);
    free(s->slot);
    s->slot = NULL;
}

/* ------------------------------------------------------------ packet ids */

int lmq_out_slots(lmq_session *s)
{
    /* 65536 pointers: lookup by packet id is one index, however many
     * messages are in flight. */
    if (!s->slot && !(s->slot = calloc(65536, sizeof *s->slot)))
        return LMQ_ENOMEM;
    return 0;
}

/*
 * A packet id not in use by any request in flight [MQTT-2.2.1-3]
 * [MQTT-2.2.1-3]: ids are taken round-robin and skipped while in use, so
 * an id is reused only after its flow completed.  PUBLISH, SUBSCRIBE and
 * UNSUBSCRIBE share the one id space.
 */
int lmq_out_alloc_id(lmq_session *s, lmq_req *r)
{
    int rc = lmq_out_slots(s);
    if (rc)
        return rc;
    if (s->ids_used >= 65535u)
        return LMQ_EQUEUE_FULL;
    for (;;) {
        uint16_t id = s->next_pid ? s->next_pid : 1;
        s->next_pid = (uint16_t)(id == 65535 ? 1 : id + 1);
        if (!s->slot[id]) {
            s->slot[id] = r;
            r->packet_id = id;
            s->ids_used++;
            return 0;
        }
    }
}

void lmq_out_release_id(lmq_session *s, lmq_req *r)
{
    if (r->packet_id && s->slot && s->slot[r->packet_id] == r) {
        s->slot[r->packet_id] = NULL;
        s->ids_used--;
    }
    r->packet_id = 0;
}

lmq_req *lmq_out_find(const lmq_session *s, uint16_t pid)
{
    return s->slot ? s->slot[pid] : NULL;
}

int32_t lmq_out_msg_id(lmq_session *s)
{
    int32_t id = s->next_msg_id > 0 ? s->next_msg_id : 1;
    s->next_msg_id = id == INT32_MAX ? 1 : id + 1;
    return id;
}

/* -------------------------------------------------------- pending queue */

static int over_bounds(const lmq_session *s, size_t add)
{
    return s->pending.count + 1 > s->offline_max_msgs ||
           s->pending_bytes + add > s->offline_max_bytes;
}

/*
 * The pending queue is bounded by LMQ_OPT_OFFLINE_MAX_MSGS / _BYTES, online
 * or not (online it holds what the server's Receive Maximum holds back, so
 * a fast producer meets the same back-pressure).  Full: REFUSE fails the
 * new message, DROP_OLDEST completes the oldest ones with LMQ_EDROPPED.
 */
int lmq_out_enqueue(lmq_session *s, lmq_req *r)
{
    if (r->bytes > s->offline_max_bytes || s->offline_max_msgs == 0)
        return LMQ_EQUEUE_FULL;
    while (over_bounds(s, r->bytes)) {
        if (s->offline_policy != LMQ_QUEUE_DROP_OLDEST || !s->pending.head)
            return LMQ_EQUEUE_FULL;
        lmq_req *old = lmq_out_dequeue(s);
        lmq_session_log(s, LMQ_LOG_WARNING, "queue full: message %d dropped",
                        (int)old->msg_id);
        lmq_pub_complete(s, old, LMQ_EDROPPED, 0, NULL);
    }
    lmq_reqlist_append(&s->pending, r);
    s->pending_bytes += r->bytes;
    return 0;
}

lmq_req *lmq_out_dequeue(lmq_session *s)
{
    lmq_req *r = s->pending.head;
    if (!r)
        return NULL;
    lmq_reqlist_remove(&s->pending, r);
    s->pending_bytes -= r->bytes;
    return r;
}

/* Back at the front, ahead of everything queued (no bound: these were
 * accepted already). */
void lmq_out_requeue_front(lmq_session *s, lmq_req *r)
{
    lmq_reqlist_prepend(&s->pending, r);
    s->pending_bytes += r->bytes;
}
