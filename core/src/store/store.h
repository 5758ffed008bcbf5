/*
 * store.h - a client's session state on disk, so that a restarted process
 * (even after kill -9) neither loses an accepted QoS 1/2 message nor sends
 * a QoS 2 message twice.
 *
 * One file per client: a write-ahead log of records appended as the
 * session changes (message accepted, sent with packet id, PUBREC received,
 * complete; incoming QoS 2 id held / released; subscription granted /
 * forgotten; the id allocators).  The store also keeps the
 * live state in memory: it is what a reload rebuilds from the log, and what
 * compaction writes as a fresh snapshot once the log has grown.
 *
 * File layout (integers little-endian):
 *   header  "LMQSTORE" u32 version, u16 id length, client id, u32 CRC32
 *           (of everything before it)
 *   record  u8 type, u32 payload length, u32 CRC32 (of type, length and
 *           payload), payload
 * A crash can leave a partial last record: on load it fails its length or
 * CRC, is dropped with a log line and cut off the file.  A record whose
 * CRC holds but whose content makes no sense is corruption, not a torn
 * write: LMQ_ESTORE_CORRUPT.
 *
 * Crash model.  Two failures, two different guards:
 *  - The process dies (kill -9, crash): the kernel keeps every byte a
 *    write() gave it (the page cache outlives the process).  So
 *    lmq_store_write() is all kill -9 safety needs, and the caller does it
 *    before publish reports a message accepted and before any byte or
 *    event that depends on a record leaves the process.
 *  - The machine dies (power loss, kernel crash): only what fdatasync
 *    reached survives.  In LMQ_DURABILITY_FSYNC mode a worker thread
 *    fsyncs behind the caller (group commit): lmq_store_commit() writes
 *    and asks for an fsync without waiting; one fdatasync covers every
 *    record written before it started, so a busy session pays one fsync
 *    per batch of hundreds of records, and the loop never blocks on the
 *    disk.  Positions in the log (LSN, bytes since open) say how far
 *    lmq_store_durable_lsn() has reached.
 *
 * What must wait for the fsync (the session holds those bytes and events
 * back until the durable LSN passes the record's; everything else leaves
 * as soon as its record is written):
 *  - Outgoing QoS 2 PUBLISH with a new packet id (record: sent with that
 *    id).  Lost by a power loss, the message would restart as "queued"
 *    and go again under another id: the server would deliver it twice.
 *  - PUBREL (record: PUBREC received).  Lost, the restart would resend the
 *    PUBLISH after the server released it: a duplicate [MQTT-4.3.3-6].
 *  - PUBREC for an incoming QoS 2 message (record: id held, made when
 *    the application pulls the message, session/durable.c): the server
 *    never hears of an id our disk does not hold.  The delivery itself
 *    cannot wait (a kill -9 between record and delivery would lose the
 *    message), so a power loss right after a pull can deliver that
 *    message again after the reboot: the one window left.
 *  - PUBCOMP (record: id released).  Lost, the id would stay held and the
 *    server's next message under that id be taken for a resend: lost.
 * What need not wait:
 *  - QoS 1 PUBLISH: at worst the restart sends it again (at-least-once
 *    allows that), and the server keeps no state under a QoS 1 id.
 *  - PUBACK/PUBCOMP received (record: complete): lost, the message is
 *    resent (QoS 1) or its PUBREL is (QoS 2): both harmless.
 *  - Acceptance itself (publish returns after write(), not after fsync):
 *    an accepted message survives kill -9 at once and a power loss from
 *    the next group commit on, which also comes before its QoS 2 PUBLISH
 *    leaves.  Waiting for the fsync in publish would make every message
 *    cost a disk round trip (the 10x slowdown this design removes).
 *  - Subscriptions (record: granted / unsubscribed): only a restart that
 *    also finds the server's session gone reads them.
 * LMQ_DURABILITY_OS: no fsync at all, the durable LSN is the written one,
 * nothing waits (a power loss may lose the recent tail; the file is still
 * loadable: a torn or zeroed tail fails its CRC and is dropped).
 *
 * Not thread-safe: the session (under the client's lock) owns it; the
 * worker touches only the fd and the sync counters, under the store's own
 * mutex.  Internal to the library.
 */
#ifndef LMQ_STORE_H
#define LMQ_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "lunamq.h"

#define LMQ_STORE_VERSION 2u    /* 2: subscription records (1 is read) */

typedef struct lmq_store lmq_store;

/* State of a stored outgoing message (as enum lmq_req_state). */
enum lmq_store_msg_state {
    LMQ_STORE_QUEUED = 0,     /* accepted, not sent (no packet id) */
    LMQ_STORE_SENT = 1,       /* PUBLISH sent with packet_id, not acked */
    LMQ_STORE_RELEASED = 2    /* QoS 2: PUBREC received, PUBREL sent */
};

/* A live outgoing message, in acceptance order (next). */
typedef struct lmq_store_msg {
    struct lmq_store_msg *next, *prev; /* acceptance order */
    struct lmq_store_msg *hnext;       /* hash chain by msg_id */
    int32_t msg_id;
    uint16_t packet_id;
    uint8_t qos, retain, state;
    uint32_t tlen, plen, prlen;
    uint8_t *topic, *payload, *props;  /* in the same allocation; props: the
                                        * caller's serialized properties */
} lmq_store_msg;

/* A subscription the server granted (what auto re-subscribe needs when a
 * restarted process finds its server session gone). */
typedef struct lmq_store_sub {
    uint8_t *filter;
    uint32_t flen;
    uint8_t options;                   /* the SUBSCRIBE options byte */
    uint32_t sub_id;                   /* Subscription Identifier, 0: none */
} lmq_store_sub;

/* Log lines (torn tail dropped, compaction).  level: enum lmq_log_level. */
typedef void lmq_store_log_fn(void *ud, int level, const char *text);

/*
 * Open (or create, mode 0600) the store at path for client_id and load it.
 * A file written for another client id gives LMQ_ESTORE_CLIENT_ID, another
 * format version LMQ_ESTORE_VERSION, a bad header or a record that passes
 * its CRC but makes no sense LMQ_ESTORE_CORRUPT; I/O errors LMQ_ESTORE_IO.
 * A file another open store holds (flock, also across processes) gives
 * LMQ_ESTORE_IO, "in use".
 * err (errn bytes) gets a sentence naming the file and the reason.
 * durability: enum lmq_durability.  log may be NULL.
 */
int lmq_store_open(lmq_store **out, const char *path, const uint8_t *client_id,
                   size_t idlen, int durability, lmq_store_log_fn *log, void *ud,
                   char *err, size_t errn);
/* Write and sync what is buffered, close.  NULL is a no-op. */
void lmq_store_close(lmq_store *st);

/* ------------------------------------------------------------ the state */

/* Live messages in acceptance order (NULL: none); m->next for the rest. */
const lmq_store_msg *lmq_store_first(const lmq_store *st);
uint32_t lmq_store_count(const lmq_store *st);
/* 1 when an incoming QoS 2 message with this id waits for PUBREL. */
int lmq_store_in_held(const lmq_store *st, uint16_t pid);
/* Granted subscriptions in the order first granted (i < count). */
uint32_t lmq_store_sub_count(const lmq_store *st);
const lmq_store_sub *lmq_store_sub_at(const lmq_store *st, uint32_t i);
/* What the allocators were at (0: never set). */
int32_t lmq_store_next_msg_id(const lmq_store *st);
uint16_t lmq_store_next_pid(const lmq_store *st);

/* ------------------------------------------------------------- changes */

/* Each appends a record to the buffer (lmq_store_write sends it to the
 * file) and updates the state.  0, LMQ_ENOMEM, LMQ_EINVAL (unknown msg_id,
 * duplicate add). */
int lmq_store_add(lmq_store *st, int32_t msg_id, int qos, int retain,
                  const uint8_t *topic, size_t tlen, const uint8_t *payload,
                  size_t plen, const uint8_t *props, size_t prlen);
/* state: enum lmq_store_msg_state; packet_id 0 with QUEUED. */
int lmq_store_set_state(lmq_store *st, int32_t msg_id, int state, uint16_t packet_id);
int lmq_store_remove(lmq_store *st, int32_t msg_id);
int lmq_store_in_set(lmq_store *st, uint16_t pid, int held);
/* A granted subscription (the same filter replaces the entry), one
 * unsubscribed (or refused on a re-subscribe): forgotten. */
int lmq_store_sub_put(lmq_store *st, const uint8_t *filter, size_t flen, int options,
                      uint32_t sub_id);
int lmq_store_sub_del(lmq_store *st, const uint8_t *filter, size_t flen);
/* Forget every incoming id (the server has no session for us). */
int lmq_store_in_clear(lmq_store *st);
int lmq_store_set_next(lmq_store *st, int32_t next_msg_id, uint16_t next_pid);

/* 1 when records wait to be written (or, without the worker, synced). */
int lmq_store_dirty(const lmq_store *st);
/* Hand the buffered records to the kernel: kill -9 safe.  0 or LMQ_ESTORE_IO. */
int lmq_store_write(lmq_store *st);
/* Write, ask the worker for an fsync of everything written (FSYNC mode;
 * returns at once), compact if the log has outgrown its live state.  0 or
 * LMQ_ESTORE_IO (also for an fdatasync of the worker that failed). */
int lmq_store_commit(lmq_store *st);
/* Commit, then wait until the fsync covers it (FSYNC mode).  For close
 * and tests: the session never waits.  0 or LMQ_ESTORE_IO. */
int lmq_store_sync(lmq_store *st);
/* The log position after the last record (buffered ones included); how
 * far an fsync has reached (OS mode: how far write() has); how far one has
 * been asked for.  A record at LSN x is on disk once durable >= x. */
uint64_t lmq_store_lsn(const lmq_store *st);
uint64_t lmq_store_durable_lsn(lmq_store *st);
uint64_t lmq_store_requested_lsn(lmq_store *st);
/* 1 once an fdatasync of the worker has failed (the durable LSN will not
 * move again): the next lmq_store_commit reports it. */
int lmq_store_sync_failed(lmq_store *st);
/* Tests: while paused, the worker starts no fdatasync (the durable LSN
 * stands still); stop and sync_wait still finish.  FSYNC mode only. */
void lmq_store_pause_sync(lmq_store *st, int paused);
/* Rewrite the file as a snapshot of the live state (temp file, fsync,
 * rename, fsync of the directory).  0 or LMQ_ESTORE_IO. */
int lmq_store_compact(lmq_store *st);
/* The log size past which lmq_store_sync compacts (default 4 MiB; it also
 * waits until the log is twice the snapshot's size).  For tests. */
void lmq_store_set_compact_min(lmq_store *st, uint64_t bytes);
/* Bytes in the file (header + records). */
uint64_t lmq_store_file_size(const lmq_store *st);

/* The last error sentence ("" if none). */
const char *lmq_store_errmsg(const lmq_store *st);

#endif /* LMQ_STORE_H */
