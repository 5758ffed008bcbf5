/*
 * fakebroker.h - a scripted byte-level MQTT "server" for adversarial tests.
 *
 * It listens on a free loopback port and talks to one client at a time.
 * The test reads as a script: accept, expect a CONNECT, send these exact
 * bytes, expect the client to close (and read the DISCONNECT it sent).
 * No thread: while a call waits for the client it calls the idle hook,
 * which drives the client under test (tw_idle from wait.h), so the test
 * stays one linear, deterministic flow.  Every wait has a deadline.
 */
#ifndef LMQ_TEST_FAKEBROKER_H
#define LMQ_TEST_FAKEBROKER_H

#include <stddef.h>
#include <stdint.h>

#include "codec/codec.h"

typedef struct tf_fake tf_fake;

/* One packet the client sent, whole, with its decoding. */
typedef struct tf_packet {
    uint8_t *bytes;         /* the exact bytes, fixed header included (owned) */
    size_t len;
    int type;               /* enum lmq_ptype, or 0 when nothing was read */
    int flags;              /* low nibble of the first byte */
    int decode_rc;          /* lmq_decode()'s verdict: 0 or LMQ_EMAL_* */
    lmq_packet pkt;         /* valid when decode_rc == 0; slices point into bytes */
} tf_packet;

void tf_packet_clear(tf_packet *p);

/* Called while a fake-broker call waits, with the arg given. */
typedef void (*tf_idle_fn)(void *arg);

/* Listen on 127.0.0.1 at a free port.  NULL on failure. */
tf_fake *tf_fake_new(void);
void tf_fake_free(tf_fake *f);                   /* NULL is a no-op */
int tf_fake_port(const tf_fake *f);
void tf_fake_set_idle(tf_fake *f, tf_idle_fn fn, void *arg);

/* Accept the next client (closing any previous one).  0, or -1 when none
 * came before the deadline. */
int tf_fake_accept(tf_fake *f, int timeout_ms);

/*
 * Read one whole packet (framed with lmq_decode_header):
 *   > 0  its type; *out holds it
 *   -1   deadline passed, -2 the client closed, -3 broken framing
 */
int tf_fake_read(tf_fake *f, int timeout_ms, tf_packet *out);

/* Read packets until one of `type` arrives, skipping PINGREQs (a keepalive
 * may fall in the middle of a script).  0, or -1 with the reason printed. */
int tf_fake_expect(tf_fake *f, int type, int timeout_ms, tf_packet *out);

/* Nothing but PINGREQ arrives for ms: 0.  Otherwise 1 (the packet is in
 * *out when out is not NULL) or -2 when the client closed. */
int tf_fake_expect_silence(tf_fake *f, int ms, tf_packet *out);

/* Write exact bytes.  0 or -1. */
int tf_fake_send(tf_fake *f, const void *bytes, size_t len);
/* Encode a packet with the codec at `level` and send it. */
int tf_fake_send_packet(tf_fake *f, const lmq_packet *pkt, int level);

/*
 * Wait until the client closes the connection.  *disconnect_reason gets the
 * reason of the DISCONNECT it sent first (0 for a 3.1.1 DISCONNECT or a v5
 * one without a reason), or -1 when it closed without one.  Other packets
 * are skipped.  0 closed, -1 deadline.
 */
int tf_fake_wait_close(tf_fake *f, int timeout_ms, int *disconnect_reason);

/* The server side hangs up. */
void tf_fake_close_client(tf_fake *f);

/* Handy server packets (encoded with the codec). */
int tf_fake_send_connack(tf_fake *f, int level, int session_present, int reason,
                         const lmq_props *props);

#endif /* LMQ_TEST_FAKEBROKER_H */
