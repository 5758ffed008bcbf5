/*
 * store.c - the session store: an append-only log with CRC-checked
 * records, its in-memory live state, load with torn-tail recovery, and
 * compaction into a snapshot (see store.h for the format and crash model).
 *
 * Every change goes the same way whether it comes from the API or from a
 * file being loaded: the record is encoded, then applied to the state by
 * apply().  So what the log says and what the state is cannot drift.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store.h"

/* Record types.  Append only: a file with a type this version does not
 * know is from a newer writer (the header's version says so first). */
enum {
    R_META = 1,      /* i32 next msg id, u16 next packet id */
    R_ADD = 2,       /* i32 msg id, u8 qos, u8 retain, u32 tlen, topic, u32 plen, payload,
                      * then properties to the end (opaque to the store) */
    R_STATE = 3,     /* i32 msg id, u8 state, u16 packet id */
    R_REMOVE = 4,    /* i32 msg id */
    R_IN = 5,        /* u16 packet id, u8 held */
    R_IN_CLEAR = 6,  /* (empty) */
    R_SUB = 7,       /* u8 options, u32 subscription id, filter to the end */
    R_UNSUB = 8      /* filter (the whole payload) */
};

#define MAGIC "LMQSTORE"
#define MAGIC_LEN 8u
#define REC_HEAD 9u                     /* type, length, CRC */
#define DEFAULT_COMPACT_MIN (4u << 20)

struct lmq_store {
    int fd;
    int durability;
    int failed;                         /* sticky: an I/O error happened */
    int unsynced;                       /* written since the last fsync */
    char *path, *tmp_path, *dir;
    uint8_t *cid;
    size_t idlen;
    uint8_t *buf;                       /* records not yet written */
    size_t blen, bcap;
    uint64_t fsize, compact_min, live_bytes;
    lmq_store_msg *head, *tail;
    lmq_store_msg **hash;
    uint32_t nbuckets, count;
    uint8_t *in_held;                   /* bitmap by packet id */
    uint32_t in_count;
    lmq_store_sub *subs;                /* granted subscriptions, in order */
    uint32_t n_subs, cap_subs;
    uint64_t subs_bytes;                /* what they take in a snapshot */
    int32_t next_msg_id;
    uint16_t next_pid;
    lmq_store_log_fn *log;
    void *ud;
    char errmsg[300];

    /* Positions in the log, in bytes of records since the store opened
     * (logical: a compaction does not move them back).  The records up to
     * lsn_written are in the kernel, those up to lsn_written + blen exist. */
    uint64_t lsn_written;

    /* Group commit (LMQ_DURABILITY_FSYNC): one worker thread fsyncs while
     * the caller goes on.  Under mu: sync_want (fsync requested up to),
     * sync_done (fsync finished up to), sync_busy (an fdatasync runs on
     * fd), sync_stop, sync_err (errno of a failed fdatasync: sticky). */
    pthread_mutex_t mu;
    pthread_cond_t cv, idle_cv;
    pthread_t worker;
    int worker_on;
    uint64_t sync_want, sync_done;
    int sync_busy, sync_stop, sync_err;
    int sync_paused;                    /* tests: no new fdatasync starts */
    uint32_t file_version;              /* as loaded (0: new file) */
};

/* ------------------------------------------------------------------ CRC32 */

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

/* CRC-32 (IEEE, reflected): crc = crc_update(0, ...) for a whole buffer;
 * chained over several pieces by passing the previous result. */
static uint32_t crc_update(uint32_t crc, const uint8_t *p, size_t n)
{
    pthread_once(&crc_once, crc_init);
    crc = ~crc;
    while (n--)
        crc = crc_table[(crc ^ *p++) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

/* ---------------------------------------------------------- byte helpers */

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static void seterr(lmq_store *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void seterr(lmq_store *st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->errmsg, sizeof st->errmsg, fmt, ap);
    va_end(ap);
}

static void say(lmq_store *st, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(lmq_store *st, int level, const char *fmt, ...)
{
    char text[300];
    va_list ap;
    if (!st->log)
        return;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    st->log(st->ud, level, text);
}

static int io_fail(lmq_store *st, const char *what)
{
    seterr(st, "state file %s: %s: %s", st->path, what, strerror(errno));
    st->failed = 1;
    return LMQ_ESTORE_IO;
}

/* ------------------------------------------------------ in-memory state */

static uint32_t bucket_of(const lmq_store *st, int32_t msg_id)
{
    return ((uint32_t)msg_id * 2654435761u) & (st->nbuckets - 1);
}

static lmq_store_msg *find(const lmq_store *st, int32_t msg_id)
{
    if (!st->nbuckets)
        return NULL;
    lmq_store_msg *m = st->hash[bucket_of(st, msg_id)];
    while (m && m->msg_id != msg_id)
        m = m->hnext;
    return m;
}

static int grow_hash(lmq_store *st)
{
    uint32_t n = st->nbuckets ? st->nbuckets * 2 : 64;
    lmq_store_msg **h = calloc(n, sizeof *h);
    if (!h)
        return LMQ_ENOMEM;
    free(st->hash);
    st->hash = h;
    st->nbuckets = n;
    for (lmq_store_msg *m = st->head; m; m = m->next) {
        uint32_t b = bucket_of(st, m->msg_id);
        m->hnext = h[b];
        h[b] = m;
    }
    return 0;
}

static uint64_t msg_cost(const lmq_store_msg *m)
{
    /* what the message takes in a snapshot: ADD and STATE records */
    return 2 * REC_HEAD + 14u + 7u + m->tlen + m->plen + m->prlen;
}

static int apply_add(lmq_store *st, const uint8_t *p, uint32_t n)
{
    if (n < 14)
        return LMQ_EINVAL;
    int32_t id = (int32_t)get32(p);
    uint8_t qos = p[4], retain = p[5];
    uint32_t tlen = get32(p + 6);
    if (tlen > n - 14)
        return LMQ_EINVAL;
    uint32_t plen = get32(p + 10 + tlen);
    if (plen > n - 14 - tlen || id <= 0 || qos < 1 || qos > 2 || retain > 1 || find(st, id))
        return LMQ_EINVAL;
    uint32_t prlen = n - 14 - tlen - plen;
    if (st->count >= st->nbuckets && grow_hash(st))
        return LMQ_ENOMEM;
    lmq_store_msg *m = malloc(sizeof *m + tlen + plen + prlen + 1);
    if (!m)
        return LMQ_ENOMEM;
    memset(m, 0, sizeof *m);
    m->msg_id = id;
    m->qos = qos;
    m->retain = retain;
    m->tlen = tlen;
    m->plen = plen;
    m->topic = (uint8_t *)(m + 1);
    m->payload = m->topic + tlen;
    m->props = m->payload + plen;
    m->prlen = prlen;
    memcpy(m->topic, p + 10, tlen);
    memcpy(m->payload, p + 14 + tlen, plen);
    memcpy(m->props, p + 14 + tlen + plen, prlen);
    m->prev = st->tail;
    if (st->tail)
        st->tail->next = m;
    else
        st->head = m;
    st->tail = m;
    uint32_t b = bucket_of(st, id);
    m->hnext = st->hash[b];
    st->hash[b] = m;
    st->count++;
    st->live_bytes += msg_cost(m);
    st->next_msg_id = id == INT32_MAX ? 1 : id + 1;
    return 0;
}

static int apply_state(lmq_store *st, const uint8_t *p, uint32_t n)
{
    if (n != 7)
        return LMQ_EINVAL;
    lmq_store_msg *m = find(st, (int32_t)get32(p));
    uint8_t state = p[4];
    uint16_t pid = get16(p + 5);
    if (!m || state > LMQ_STORE_RELEASED || (state == LMQ_STORE_QUEUED) != (pid == 0) ||
        (state == LMQ_STORE_RELEASED && m->qos != 2))
        return LMQ_EINVAL;
    m->state = state;
    m->packet_id = pid;
    if (pid)    /* the allocator goes round-robin from the last id taken */
        st->next_pid = (uint16_t)(pid == 65535 ? 1 : pid + 1);
    return 0;
}

static void unlink_msg(lmq_store *st, lmq_store_msg *m)
{
    lmq_store_msg **pp = &st->hash[bucket_of(st, m->msg_id)];
    while (*pp != m)
        pp = &(*pp)->hnext;
    *pp = m->hnext;
    if (m->prev)
        m->prev->next = m->next;
    else
        st->head = m->next;
    if (m->next)
        m->next->prev = m->prev;
    else
        st->tail = m->prev;
    st->count--;
    st->live_bytes -= msg_cost(m);
    free(m);
}

static int apply_remove(lmq_store *st, const uint8_t *p, uint32_t n)
{
    if (n != 4)
        return LMQ_EINVAL;
    lmq_store_msg *m = find(st, (int32_t)get32(p));
    if (!m)
        return LMQ_EINVAL;
    unlink_msg(st, m);
    return 0;
}

static int in_bit(const lmq_store *st, uint16_t pid)
{
    return (st->in_held[pid >> 3] >> (pid & 7)) & 1;
}

static int apply_in(lmq_store *st, const uint8_t *p, uint32_t n)
{
    if (n != 3 || p[2] > 1 || get16(p) == 0)
        return LMQ_EINVAL;
    uint16_t pid = get16(p);
    int was = in_bit(st, pid);
    if (p[2] && !was) {
        st->in_held[pid >> 3] |= (uint8_t)(1u << (pid & 7));
        st->in_count++;
    } else if (!p[2] && was) {
        st->in_held[pid >> 3] &= (uint8_t)~(1u << (pid & 7));
        st->in_count--;
    }
    return 0;
}

static int sub_find(const lmq_store *st, const uint8_t *f, uint32_t n)
{
    for (uint32_t i = 0; i < st->n_subs; i++)
        if (st->subs[i].flen == n && memcmp(st->subs[i].filter, f, n) == 0)
            return (int)i;
    return -1;
}

/* The same filter again replaces the subscription (section 3.8.4): one
 * entry per filter, in the order first granted. */
static int apply_sub(lmq_store *st, const uint8_t *p, uint32_t n)
{
    if (n < 6 || n - 5 > 65535u)
        return LMQ_EINVAL;
    const uint8_t *f = p + 5;
    uint32_t flen = n - 5;
    int i = sub_find(st, f, flen);
    if (i >= 0) {
        st->subs[i].options = p[0];
        st->subs[i].sub_id = get32(p + 1);
        return 0;
    }
    if (st->n_subs == st->cap_subs) {
        uint32_t cap = st->cap_subs ? st->cap_subs * 2 : 8;
        lmq_store_sub *ns = realloc(st->subs, cap * sizeof *ns);
        if (!ns)
            return LMQ_ENOMEM;
        st->subs = ns;
        st->cap_subs = cap;
    }
    uint8_t *copy = malloc(flen);
    if (!copy)
        return LMQ_ENOMEM;
    memcpy(copy, f, flen);
    st->subs[st->n_subs++] = (lmq_store_sub){ copy, flen, p[0], get32(p + 1) };
    st->subs_bytes += REC_HEAD + n;
    return 0;
}

static int apply_unsub(lmq_store *st, const uint8_t *p, uint32_t n)
{
    int i = n ? sub_find(st, p, n) : -1;
    if (i < 0)
        return n ? 0 : LMQ_EINVAL;      /* never granted: nothing to forget */
    free(st->subs[i].filter);
    memmove(&st->subs[i], &st->subs[i + 1], (st->n_subs - (uint32_t)i - 1) * sizeof *st->subs);
    st->n_subs--;
    st->subs_bytes -= REC_HEAD + 5 + n;
    return 0;
}

static int apply(lmq_store *st, uint8_t type, const uint8_t *p, uint32_t n)
{
    switch (type) {
    case R_META:
        if (n != 6 || (int32_t)get32(p) < 0)
            return LMQ_EINVAL;
        st->next_msg_id = (int32_t)get32(p);
        st->next_pid = get16(p + 4);
        return 0;
    case R_ADD: return apply_add(st, p, n);
    case R_STATE: return apply_state(st, p, n);
    case R_REMOVE: return apply_remove(st, p, n);
    case R_IN: return apply_in(st, p, n);
    case R_SUB: return apply_sub(st, p, n);
    case R_UNSUB: return apply_unsub(st, p, n);
    case R_IN_CLEAR:
        if (n != 0)
            return LMQ_EINVAL;
        memset(st->in_held, 0, 65536 / 8);
        st->in_count = 0;
        return 0;
    default:
        return LMQ_EINVAL;
    }
}

/* ------------------------------------------------------------- records */

static int reserve(uint8_t **buf, size_t *cap, size_t len, size_t add)
{
    if (len + add <= *cap)
        return 0;
    size_t n = *cap ? *cap : 4096;
    while (n < len + add)
        n *= 2;
    uint8_t *b = realloc(*buf, n);
    if (!b)
        return LMQ_ENOMEM;
    *buf = b;
    *cap = n;
    return 0;
}

/* Append a record made of up to three payload pieces to (*buf, *len). */
static int encode(uint8_t **buf, size_t *len, size_t *cap, uint8_t type,
                  const uint8_t *a, size_t an, const uint8_t *b, size_t bn,
                  const uint8_t *c, size_t cn)
{
    size_t n = an + bn + cn;
    if (n > 0xFFFFFFFFu - REC_HEAD || reserve(buf, cap, *len, REC_HEAD + n))
        return LMQ_ENOMEM;
    uint8_t *r = *buf + *len;
    r[0] = type;
    put32(r + 1, (uint32_t)n);
    uint8_t *q = r + REC_HEAD;
    if (an)
        memcpy(q, a, an);
    if (bn)
        memcpy(q + an, b, bn);
    if (cn)
        memcpy(q + an + bn, c, cn);
    uint32_t crc = crc_update(0, r, 5);
    put32(r + 5, crc_update(crc, q, n));
    *len += REC_HEAD + n;
    return 0;
}

/* Log a change: encode it into the buffer, then apply it; a change the
 * state refuses leaves no record. */
static int change(lmq_store *st, uint8_t type, const uint8_t *a, size_t an,
                  const uint8_t *b, size_t bn, const uint8_t *c, size_t cn)
{
    if (st->failed)
        return LMQ_ESTORE_IO;
    size_t at = st->blen;
    int rc = encode(&st->buf, &st->blen, &st->bcap, type, a, an, b, bn, c, cn);
    if (rc)
        return rc;
    rc = apply(st, type, st->buf + at + REC_HEAD, (uint32_t)(st->blen - at - REC_HEAD));
    if (rc)
        st->blen = at;
    return rc;
}

int lmq_store_add(lmq_store *st, int32_t msg_id, int qos, int retain,
                  const uint8_t *topic, size_t tlen, const uint8_t *payload,
                  size_t plen, const uint8_t *props, size_t prlen)
{
    uint8_t h[10], mid[4];
    if (!st || (tlen && !topic) || (plen && !payload) || (prlen && !props) ||
        tlen > 65535u || prlen > 0x7FFFFFFFu || plen > 0x7FFFFFFFu - tlen - prlen)
        return LMQ_EINVAL;
    put32(h, (uint32_t)msg_id);
    h[4] = (uint8_t)qos;
    h[5] = retain != 0;
    put32(h + 6, (uint32_t)tlen);
    put32(mid, (uint32_t)plen);
    /* five pieces (head, topic, payload length, payload, properties):
     * built in place rather than through change() */
    if (st->failed)
        return LMQ_ESTORE_IO;
    size_t at = st->blen;
    size_t n = sizeof h + tlen + sizeof mid + plen + prlen;
    if (reserve(&st->buf, &st->bcap, st->blen, REC_HEAD + n))
        return LMQ_ENOMEM;
    uint8_t *r = st->buf + at, *q = r + REC_HEAD;
    r[0] = R_ADD;
    put32(r + 1, (uint32_t)n);
    memcpy(q, h, sizeof h);
    if (tlen)
        memcpy(q + sizeof h, topic, tlen);
    memcpy(q + sizeof h + tlen, mid, sizeof mid);
    if (plen)
        memcpy(q + sizeof h + tlen + sizeof mid, payload, plen);
    if (prlen)
        memcpy(q + sizeof h + tlen + sizeof mid + plen, props, prlen);
    put32(r + 5, crc_update(crc_update(0, r, 5), q, n));
    st->blen = at + REC_HEAD + n;
    int rc = apply_add(st, q, (uint32_t)n);
    if (rc)
        st->blen = at;
    return rc;
}

int lmq_store_set_state(lmq_store *st, int32_t msg_id, int state, uint16_t packet_id)
{
    uint8_t p[7];
    if (!st || state < 0 || state > LMQ_STORE_RELEASED)
        return LMQ_EINVAL;
    put32(p, (uint32_t)msg_id);
    p[4] = (uint8_t)state;
    put16(p + 5, packet_id);
    return change(st, R_STATE, p, sizeof p, NULL, 0, NULL, 0);
}

int lmq_store_remove(lmq_store *st, int32_t msg_id)
{
    uint8_t p[4];
    if (!st)
        return LMQ_EINVAL;
    put32(p, (uint32_t)msg_id);
    return change(st, R_REMOVE, p, sizeof p, NULL, 0, NULL, 0);
}

int lmq_store_in_set(lmq_store *st, uint16_t pid, int held)
{
    uint8_t p[3];
    if (!st || pid == 0)
        return LMQ_EINVAL;
    if (in_bit(st, pid) == (held != 0))
        return 0;           /* nothing changes: no record */
    put16(p, pid);
    p[2] = held != 0;
    return change(st, R_IN, p, sizeof p, NULL, 0, NULL, 0);
}

int lmq_store_in_clear(lmq_store *st)
{
    if (!st)
        return LMQ_EINVAL;
    if (!st->in_count)
        return 0;
    return change(st, R_IN_CLEAR, NULL, 0, NULL, 0, NULL, 0);
}

int lmq_store_sub_put(lmq_store *st, const uint8_t *filter, size_t flen, int options,
                      uint32_t sub_id)
{
    uint8_t h[5];
    if (!st || !filter || flen == 0 || flen > 65535u || options < 0 || options > 0xFF)
        return LMQ_EINVAL;
    int i = sub_find(st, filter, (uint32_t)flen);
    if (i >= 0 && st->subs[i].options == options && st->subs[i].sub_id == sub_id)
        return 0;           /* nothing changes: no record */
    h[0] = (uint8_t)options;
    put32(h + 1, sub_id);
    return change(st, R_SUB, h, sizeof h, filter, flen, NULL, 0);
}

int lmq_store_sub_del(lmq_store *st, const uint8_t *filter, size_t flen)
{
    if (!st || !filter || flen == 0 || flen > 65535u)
        return LMQ_EINVAL;
    if (sub_find(st, filter, (uint32_t)flen) < 0)
        return 0;
    return change(st, R_UNSUB, filter, flen, NULL, 0, NULL, 0);
}

uint32_t lmq_store_sub_count(const lmq_store *st)
{
    return st ? st->n_subs : 0;
}

const lmq_store_sub *lmq_store_sub_at(const lmq_store *st, uint32_t i)
{
    return st && i < st->n_subs ? &st->subs[i] : NULL;
}

int lmq_store_set_next(lmq_store *st, int32_t next_msg_id, uint16_t next_pid)
{
    uint8_t p[6];
    if (!st || next_msg_id < 0)
        return LMQ_EINVAL;
    if (st->next_msg_id == next_msg_id && st->next_pid == next_pid)
        return 0;
    put32(p, (uint32_t)next_msg_id);
    put16(p + 4, next_pid);
    return change(st, R_META, p, sizeof p, NULL, 0, NULL, 0);
}

/* ------------------------------------------------------------- queries */

const lmq_store_msg *lmq_store_first(const lmq_store *st)
{
    return st ? st->head : NULL;
}

uint32_t lmq_store_count(const lmq_store *st)
{
    return st ? st->count : 0;
}

int lmq_store_in_held(const lmq_store *st, uint16_t pid)
{
    return st && pid && in_bit(st, pid);
}

int32_t lmq_store_next_msg_id(const lmq_store *st)
{
    return st ? st->next_msg_id : 0;
}

uint16_t lmq_store_next_pid(const lmq_store *st)
{
    return st ? st->next_pid : 0;
}

int lmq_store_dirty(const lmq_store *st)
{
    return st && (st->blen || (st->unsynced && st->durability == LMQ_DURABILITY_FSYNC &&
                               !st->worker_on));
}

uint64_t lmq_store_file_size(const lmq_store *st)
{
    return st ? st->fsize : 0;
}

void lmq_store_set_compact_min(lmq_store *st, uint64_t bytes)
{
    if (st)
        st->compact_min = bytes;
}

const char *lmq_store_errmsg(const lmq_store *st)
{
    return st ? st->errmsg : "";
}

/* ------------------------------------------------------------ file I/O */

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

int lmq_store_write(lmq_store *st)
{
    if (!st)
        return LMQ_EINVAL;
    if (st->failed)
        return LMQ_ESTORE_IO;
    if (!st->blen)
        return 0;
    /* A partial write leaves a torn record: nothing may follow it, so the
     * store stops here (sticky failure) and the next load drops it. */
    if (write_all(st->fd, st->buf, st->blen))
        return io_fail(st, "write");
    st->fsize += st->blen;
    st->lsn_written += st->blen;
    st->blen = 0;
    st->unsynced = 1;
    return 0;
}

/* ---------------------------------------------------------- group commit */

/*
 * The worker: fdatasync whenever the log has been written past what was
 * synced, and publish how far the sync reached.  Whatever was written
 * while one fdatasync ran is covered by the next one: so one fsync serves
 * every record of a busy period (group commit) and the loop never waits
 * for the disk.  A failed fdatasync stops it (sticky: the caller learns
 * it at its next commit and gives the store up).
 */
static void *sync_main(void *arg)
{
    lmq_store *st = arg;
    pthread_mutex_lock(&st->mu);
    for (;;) {
        while (!st->sync_stop && (st->sync_want <= st->sync_done || st->sync_paused))
            pthread_cond_wait(&st->cv, &st->mu);
        if (st->sync_want <= st->sync_done || st->sync_err)
            break;          /* stopping, and nothing left to sync */
        uint64_t target = st->sync_want;
        int fd = st->fd;
        st->sync_busy = 1;
        pthread_mutex_unlock(&st->mu);
        int rc = fdatasync(fd), e = errno;
        pthread_mutex_lock(&st->mu);
        st->sync_busy = 0;
        if (rc)
            st->sync_err = e ? e : EIO;
        else if (target > st->sync_done)
            st->sync_done = target;
        pthread_cond_broadcast(&st->idle_cv);
        if (rc)
            break;
    }
    pthread_mutex_unlock(&st->mu);
    return NULL;
}

static int worker_start(lmq_store *st)
{
    if (st->durability != LMQ_DURABILITY_FSYNC)
        return 0;
    st->sync_want = st->sync_done = st->lsn_written;
    if (pthread_create(&st->worker, NULL, sync_main, st) != 0) {
        seterr(st, "state file %s: cannot start the fsync thread", st->path);
        return LMQ_ENOMEM;
    }
    st->worker_on = 1;
    return 0;
}

static void worker_stop(lmq_store *st)
{
    if (!st->worker_on)
        return;
    pthread_mutex_lock(&st->mu);
    st->sync_stop = 1;
    pthread_cond_signal(&st->cv);
    pthread_mutex_unlock(&st->mu);
    pthread_join(st->worker, NULL);
    st->worker_on = 0;
}

/* A failed fdatasync of the worker, as the store's own error. */
static int worker_failed(lmq_store *st)
{
    errno = st->sync_err;
    return io_fail(st, "fdatasync");
}

int lmq_store_sync_failed(lmq_store *st)
{
    int e;
    if (!st || !st->worker_on)
        return 0;
    pthread_mutex_lock(&st->mu);
    e = st->sync_err;
    pthread_mutex_unlock(&st->mu);
    return e != 0;
}

void lmq_store_pause_sync(lmq_store *st, int paused)
{
    if (!st || !st->worker_on)
        return;
    pthread_mutex_lock(&st->mu);
    /* wait for an fdatasync under way: paused means none runs */
    while (paused && st->sync_busy)
        pthread_cond_wait(&st->idle_cv, &st->mu);
    st->sync_paused = paused;
    pthread_cond_signal(&st->cv);
    pthread_mutex_unlock(&st->mu);
}

uint64_t lmq_store_lsn(const lmq_store *st)
{
    return st ? st->lsn_written + st->blen : 0;
}

uint64_t lmq_store_durable_lsn(lmq_store *st)
{
    uint64_t d;
    if (!st)
        return 0;
    if (!st->worker_on)
        return st->durability == LMQ_DURABILITY_FSYNC ? st->sync_done : st->lsn_written;
    pthread_mutex_lock(&st->mu);
    d = st->sync_done;
    pthread_mutex_unlock(&st->mu);
    return d;
}

uint64_t lmq_store_requested_lsn(lmq_store *st)
{
    uint64_t w;
    if (!st)
        return 0;
    if (!st->worker_on)
        return lmq_store_durable_lsn(st);
    pthread_mutex_lock(&st->mu);
    w = st->sync_want;
    pthread_mutex_unlock(&st->mu);
    return w;
}

static size_t header_len(const lmq_store *st);

static int maybe_compact(lmq_store *st)
{
    uint64_t snap = header_len(st) + 64 + st->live_bytes + 12ull * st->in_count +
                    st->subs_bytes;
    if (st->fsize > st->compact_min && st->fsize > 2 * snap)
        return lmq_store_compact(st);
    return 0;
}

int lmq_store_commit(lmq_store *st)
{
    int rc;
    if (!st)
        return LMQ_EINVAL;
    if ((rc = lmq_store_write(st)))
        return rc;
    if (st->worker_on) {
        pthread_mutex_lock(&st->mu);
        int err = st->sync_err;
        if (!err && st->lsn_written > st->sync_want) {
            st->sync_want = st->lsn_written;
            pthread_cond_signal(&st->cv);
        }
        pthread_mutex_unlock(&st->mu);
        if (err)
            return worker_failed(st);
        st->unsynced = 0;       /* the worker has it */
    }
    return maybe_compact(st);
}

static int sync_dir(lmq_store *st)
{
    int dfd = open(st->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return io_fail(st, "open directory");
    int rc = fsync(dfd);
    close(dfd);
    return rc ? io_fail(st, "fsync directory") : 0;
}

static void put_header(uint8_t *h, const lmq_store *st)
{
    memcpy(h, MAGIC, MAGIC_LEN);
    put32(h + MAGIC_LEN, LMQ_STORE_VERSION);
    put16(h + MAGIC_LEN + 4, (uint16_t)st->idlen);
    if (st->idlen)
        memcpy(h + MAGIC_LEN + 6, st->cid, st->idlen);
    put32(h + MAGIC_LEN + 6 + st->idlen, crc_update(0, h, MAGIC_LEN + 6 + st->idlen));
}

static size_t header_len(const lmq_store *st)
{
    return MAGIC_LEN + 6 + st->idlen + 4;
}

/* The live state as a fresh file: header, allocators, messages in order
 * with their flow state, held incoming ids. */
static int snapshot(lmq_store *st, uint8_t **out, size_t *len)
{
    uint8_t *b = NULL, p[14];
    size_t n = 0, cap = 0;
    int rc = reserve(&b, &cap, 0, header_len(st) + 64);
    if (rc)
        return rc;
    put_header(b, st);
    n = header_len(st);
    put32(p, (uint32_t)st->next_msg_id);
    put16(p + 4, st->next_pid);
    rc = encode(&b, &n, &cap, R_META, p, 6, NULL, 0, NULL, 0);
    for (const lmq_store_msg *m = st->head; m && !rc; m = m->next) {
        uint8_t h[10], mid[4];
        put32(h, (uint32_t)m->msg_id);
        h[4] = m->qos;
        h[5] = m->retain;
        put32(h + 6, m->tlen);
        put32(mid, m->plen);
        size_t at = n;
        rc = encode(&b, &n, &cap, R_ADD, h, sizeof h, m->topic, m->tlen, mid, sizeof mid);
        if (rc)
            break;
        /* grow the record just written by the payload and properties,
         * then fix its length and CRC */
        if ((rc = reserve(&b, &cap, n, (size_t)m->plen + m->prlen)))
            break;
        if (m->plen)
            memcpy(b + n, m->payload, m->plen);
        n += m->plen;
        if (m->prlen)
            memcpy(b + n, m->props, m->prlen);
        n += m->prlen;
        put32(b + at + 1, (uint32_t)(n - at - REC_HEAD));
        put32(b + at + 5, crc_update(crc_update(0, b + at, 5), b + at + REC_HEAD,
                                     n - at - REC_HEAD));
        if (m->state != LMQ_STORE_QUEUED) {
            put32(p, (uint32_t)m->msg_id);
            p[4] = m->state;
            put16(p + 5, m->packet_id);
            rc = encode(&b, &n, &cap, R_STATE, p, 7, NULL, 0, NULL, 0);
        }
    }
    for (uint32_t i = 0; i < st->n_subs && !rc; i++) {
        uint8_t h[5];
        h[0] = st->subs[i].options;
        put32(h + 1, st->subs[i].sub_id);
        rc = encode(&b, &n, &cap, R_SUB, h, sizeof h, st->subs[i].filter, st->subs[i].flen,
                    NULL, 0);
    }
    for (uint32_t pid = 1; pid < 65536 && !rc && st->in_count; pid++) {
        if (!in_bit(st, (uint16_t)pid))
            continue;
        put16(p, (uint16_t)pid);
        p[2] = 1;
        rc = encode(&b, &n, &cap, R_IN, p, 3, NULL, 0, NULL, 0);
    }
    if (rc) {
        free(b);
        return rc;
    }
    *out = b;
    *len = n;
    return 0;
}

/*
 * Replace the file by a snapshot of the live state: written to a temp
 * file, fsynced, renamed over the log, directory fsynced.  A crash at any
 * point leaves either the old log or the new snapshot, both whole.  Always
 * fsynced, even in LMQ_DURABILITY_OS: a rename that reaches the disk
 * before its data would leave an empty file after a power loss.
 */
static int compact_locked(lmq_store *st);

int lmq_store_compact(lmq_store *st)
{
    int rc;

    if (!st)
        return LMQ_EINVAL;
    if (st->failed)
        return LMQ_ESTORE_IO;
    /* The worker must not be in an fdatasync of the file about to be
     * replaced, nor start one: it waits on mu until the swap is done. */
    if (st->worker_on) {
        pthread_mutex_lock(&st->mu);
        while (st->sync_busy)
            pthread_cond_wait(&st->idle_cv, &st->mu);
    }
    rc = compact_locked(st);
    if (st->worker_on) {
        if (!rc) {
            /* the snapshot, fsynced, holds every record so far */
            st->sync_want = st->sync_done = st->lsn_written;
            pthread_cond_broadcast(&st->idle_cv);
        }
        pthread_mutex_unlock(&st->mu);
    }
    return rc;
}

static int compact_locked(lmq_store *st)
{
    uint8_t *b;
    size_t n;
    int rc;

    if ((rc = snapshot(st, &b, &n)))
        return rc;
    int fd = open(st->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        free(b);
        return io_fail(st, "create temp file");
    }
    /* The new file is locked before it takes the name (see lock_file). */
    if (write_all(fd, b, n) || fsync(fd) || flock(fd, LOCK_EX | LOCK_NB) ||
        rename(st->tmp_path, st->path)) {
        rc = io_fail(st, "write snapshot");
        close(fd);
        unlink(st->tmp_path);
        free(b);
        return rc;
    }
    free(b);
    if ((rc = sync_dir(st))) {
        close(fd);
        return rc;
    }
    say(st, LMQ_LOG_INFO, "state file %s compacted: %llu -> %zu bytes", st->path,
        (unsigned long long)st->fsize, n);
    if (st->fd >= 0)
        close(st->fd);
    st->fd = fd;
    st->fsize = n;
    st->lsn_written += st->blen;
    st->blen = 0;           /* the snapshot holds what the buffer said */
    st->unsynced = 0;
    if (!st->worker_on)
        st->sync_done = st->lsn_written;
    return 0;
}

int lmq_store_sync(lmq_store *st)
{
    int rc;
    if (!st)
        return LMQ_EINVAL;
    if ((rc = lmq_store_commit(st)))
        return rc;
    if (st->worker_on) {
        /* wait for the worker to cover what is written */
        pthread_mutex_lock(&st->mu);
        while (!st->sync_err && st->sync_done < st->lsn_written)
            pthread_cond_wait(&st->idle_cv, &st->mu);
        int err = st->sync_err;
        pthread_mutex_unlock(&st->mu);
        if (err)
            return worker_failed(st);
    } else if (st->unsynced && st->durability == LMQ_DURABILITY_FSYNC) {
        if (fdatasync(st->fd))
            return io_fail(st, "fdatasync");
        st->unsynced = 0;
        st->sync_done = st->lsn_written;
    }
    return 0;
}

/* ------------------------------------------------------------------ load */

static int read_file(lmq_store *st, int fd, uint8_t **out, size_t *len)
{
    struct stat sb;
    if (fstat(fd, &sb))
        return io_fail(st, "stat");
    size_t n = (size_t)sb.st_size, got = 0;
    uint8_t *b = malloc(n ? n : 1);
    if (!b)
        return LMQ_ENOMEM;
    while (got < n) {
        ssize_t k = read(fd, b + got, n - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            free(b);
            return k < 0 ? io_fail(st, "read") : LMQ_ESTORE_IO;
        }
        got += (size_t)k;
    }
    *out = b;
    *len = n;
    return 0;
}

static int check_header(lmq_store *st, const uint8_t *b, size_t n, size_t *hlen)
{
    if (n < MAGIC_LEN + 10 || memcmp(b, MAGIC, MAGIC_LEN) != 0) {
        seterr(st, "state file %s: not a lunamq state file", st->path);
        return LMQ_ESTORE_CORRUPT;
    }
    uint32_t version = get32(b + MAGIC_LEN);
    size_t idlen = get16(b + MAGIC_LEN + 4);
    size_t h = MAGIC_LEN + 6 + idlen;
    if (n < h + 4 || get32(b + h) != crc_update(0, b, h)) {
        seterr(st, "state file %s: header damaged (checksum)", st->path);
        return LMQ_ESTORE_CORRUPT;
    }
    /* Version 1 is version 2 without subscription records: read, and
     * rewritten as 2 once opened (lmq_store_open). */
    if (version < 1 || version > LMQ_STORE_VERSION) {
        seterr(st, "state file %s: format version %u, this library reads 1 to %u", st->path,
               version, LMQ_STORE_VERSION);
        return LMQ_ESTORE_VERSION;
    }
    if (idlen != st->idlen || memcmp(b + MAGIC_LEN + 6, st->cid, idlen) != 0) {
        seterr(st, "state file %s: written for client id \"%.*s\", not \"%.*s\"",
               st->path, (int)(idlen > 64 ? 64 : idlen), (const char *)b + MAGIC_LEN + 6,
               (int)(st->idlen > 64 ? 64 : st->idlen), (const char *)st->cid);
        return LMQ_ESTORE_CLIENT_ID;
    }
    *hlen = h + 4;
    st->file_version = version;
    return 0;
}

/* Apply the records of a loaded file; *good gets the length of the part
 * that is whole.  The first record that is short or fails its CRC starts
 * the torn tail (an append cut by a crash; after a power loss the tail may
 * also be zeros): it and what follows are dropped.  A whole record the
 * state refuses is damage: LMQ_ESTORE_CORRUPT. */
static int replay(lmq_store *st, const uint8_t *b, size_t n, size_t at, size_t *good)
{
    while (n - at >= REC_HEAD) {
        uint32_t len = get32(b + at + 1);
        if (len > n - at - REC_HEAD)
            break;
        uint32_t crc = crc_update(crc_update(0, b + at, 5), b + at + REC_HEAD, len);
        if (crc != get32(b + at + 5))
            break;
        int rc = apply(st, b[at], b + at + REC_HEAD, len);
        if (rc == LMQ_ENOMEM)
            return rc;
        if (rc) {
            seterr(st, "state file %s: record of type %u at offset %zu makes no sense",
                   st->path, b[at], at);
            return LMQ_ESTORE_CORRUPT;
        }
        at += REC_HEAD + len;
    }
    *good = at;
    return 0;
}

static int load(lmq_store *st, int fd)
{
    uint8_t *b = NULL;
    size_t n, hlen, good;
    int rc = read_file(st, fd, &b, &n);
    if (rc)
        return rc;
    if (n == 0) {
        free(b);
        return 1;           /* empty: written fresh by the caller */
    }
    if ((rc = check_header(st, b, n, &hlen)) || (rc = replay(st, b, n, hlen, &good))) {
        free(b);
        return rc;
    }
    free(b);
    st->fsize = good;
    if (good < n) {
        say(st, LMQ_LOG_WARNING,
            "state file %s: torn tail of %zu bytes at offset %zu dropped (crash during a write)",
            st->path, n - good, good);
        if (ftruncate(fd, (off_t)good) || fsync(fd))
            return io_fail(st, "truncate torn tail");
    }
    if (lseek(fd, (off_t)good, SEEK_SET) < 0)
        return io_fail(st, "seek");
    return 0;
}

/* Two processes appending to one file would interleave their records: the
 * second one to open it is refused.  (flock: released by the kernel when
 * the holder dies, kill -9 included.) */
static int lock_file(lmq_store *st)
{
    if (flock(st->fd, LOCK_EX | LOCK_NB) == 0)
        return 0;
    if (errno == EWOULDBLOCK) {
        seterr(st, "state file %s is in use by another client", st->path);
        return LMQ_ESTORE_IO;
    }
    return io_fail(st, "lock");
}

static char *dup_str(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    char *d = malloc(a + b + 1);
    if (d) {
        memcpy(d, s, a);
        memcpy(d + a, suffix, b + 1);
    }
    return d;
}

static int init_names(lmq_store *st, const char *path)
{
    st->path = dup_str(path, "");
    st->tmp_path = dup_str(path, ".tmp");
    const char *slash = strrchr(path, '/');
    if (!slash)
        st->dir = dup_str(".", "");
    else if (slash == path)
        st->dir = dup_str("/", "");
    else if ((st->dir = malloc((size_t)(slash - path) + 1))) {
        memcpy(st->dir, path, (size_t)(slash - path));
        st->dir[slash - path] = '\0';
    }
    return st->path && st->tmp_path && st->dir ? 0 : LMQ_ENOMEM;
}

int lmq_store_open(lmq_store **out, const char *path, const uint8_t *client_id,
                   size_t idlen, int durability, lmq_store_log_fn *log, void *ud,
                   char *err, size_t errn)
{
    int rc;

    if (err && errn)
        err[0] = '\0';
    if (!out || !path || !*path || (!client_id && idlen) || idlen > 65535u ||
        (durability != LMQ_DURABILITY_FSYNC && durability != LMQ_DURABILITY_OS))
        return LMQ_EINVAL;
    *out = NULL;
    lmq_store *st = calloc(1, sizeof *st);
    if (!st)
        return LMQ_ENOMEM;
    st->fd = -1;
    st->durability = durability;
    if (pthread_mutex_init(&st->mu, NULL) || pthread_cond_init(&st->cv, NULL) ||
        pthread_cond_init(&st->idle_cv, NULL)) {
        free(st);
        return LMQ_ENOMEM;
    }
    st->compact_min = DEFAULT_COMPACT_MIN;
    st->log = log;
    st->ud = ud;
    st->idlen = idlen;
    if ((rc = init_names(st, path)) ||
        !(st->cid = malloc(idlen ? idlen : 1)) || !(st->in_held = calloc(65536 / 8, 1))) {
        rc = LMQ_ENOMEM;
        goto fail;
    }
    if (idlen)
        memcpy(st->cid, client_id, idlen);
    st->fd = open(path, O_RDWR | O_CLOEXEC);
    if (st->fd < 0 && errno != ENOENT) {
        rc = io_fail(st, "open");
        goto fail;
    }
    if (st->fd >= 0 && (rc = lock_file(st)))
        goto fail;
    rc = st->fd < 0 ? 1 : load(st, st->fd);
    if (rc < 0)
        goto fail;
    /* New (or empty): a header written by way of a snapshot, so the file
     * appears whole or not at all. */
    /* A new file, or one in an older format (whose readers would not
     * know the records this version appends): written afresh. */
    if ((rc == 1 || st->file_version < LMQ_STORE_VERSION) && (rc = lmq_store_compact(st)))
        goto fail;
    if ((rc = worker_start(st)))
        goto fail;
    *out = st;
    return 0;

fail:
    if (err && errn)
        snprintf(err, errn, "%s", st->errmsg[0] ? st->errmsg : lmq_strerror(rc));
    st->failed = 1;     /* close must not write anything */
    lmq_store_close(st);
    return rc;
}

void lmq_store_close(lmq_store *st)
{
    if (!st)
        return;
    worker_stop(st);        /* after the fsync it was doing, if any */
    if (!st->failed && st->fd >= 0) {
        (void)lmq_store_write(st);
        if (!st->failed && st->durability == LMQ_DURABILITY_FSYNC &&
            (st->unsynced || st->sync_done < st->lsn_written))
            (void)fdatasync(st->fd);
    }
    if (st->fd >= 0)
        close(st->fd);
    while (st->head)
        unlink_msg(st, st->head);
    for (uint32_t i = 0; i < st->n_subs; i++)
        free(st->subs[i].filter);
    free(st->subs);
    free(st->hash);
    free(st->in_held);
    free(st->cid);
    free(st->buf);
    free(st->path);
    free(st->tmp_path);
    free(st->dir);
    pthread_cond_destroy(&st->cv);
    pthread_cond_destroy(&st->idle_cv);
    pthread_mutex_destroy(&st->mu);
    free(st);
}
