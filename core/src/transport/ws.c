/* ws.c - placeholder while the WebSocket transport is written. */
#include "transport/transport.h"

static int ws_open(lmq_transport *t, const struct sockaddr *sa, socklen_t salen,
                   const lmq_transport_opts *o)
{
    (void)sa;
    (void)salen;
    (void)o;
    return LMQ_EWS;
    (void)t;
}

const lmq_transport_ops lmq_transport_ws = {
    "ws", ws_open, NULL, NULL, NULL, NULL, NULL, NULL
};
const lmq_transport_ops lmq_transport_wss = {
    "wss", ws_open, NULL, NULL, NULL, NULL, NULL, NULL
};
