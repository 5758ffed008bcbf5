/*
 * options.c - the LMQ_OPT_* keys that concern the protocol, checked and
 * stored for the next CONNECT (see session.h for the list).  Nothing here
 * touches the live connection: those that shape one (protocol level, keep
 * alive, manual ack, outgoing aliases) go to s->cfg, copied at
 * lmq_session_start; the others are read only when CONNECT is built.
 */
#include <stdlib.h>
#include <string.h>

#include "session/session_int.h"

/* ---------------------------------------------------------------- options */

static int in_range(int64_t v, int64_t lo, int64_t hi)
{
    return v >= lo && v <= hi;
}

int lmq_session_set_int(lmq_session *s, int option, int64_t v)
{
    if (!s)
        return LMQ_EINVAL;
    switch (option) {
    case LMQ_OPT_PROTOCOL:
        if (v != LMQ_MQTT_31 && v != LMQ_MQTT_311 && v != LMQ_MQTT_5 && v != LMQ_MQTT_AUTO)
            return LMQ_EVERSION;
        s->cfg.proto_auto = v == LMQ_MQTT_AUTO;
        s->cfg.level = v == LMQ_MQTT_AUTO ? LMQ_MQTT_5 : (uint8_t)v;
        return 0;
    case LMQ_OPT_KEEPALIVE:
        if (!in_range(v, 0, 65535))
            return LMQ_EINVAL;
        s->cfg.keepalive = (uint16_t)v;
        return 0;
    case LMQ_OPT_CLEAN_START:
        s->clean_start = v != 0;
        return 0;
    case LMQ_OPT_SESSION_EXPIRY:
        if (!in_range(v, 0, 0xFFFFFFFFll))
            return LMQ_EINVAL;
        s->session_expiry = (uint32_t)v;
        return 0;
    case LMQ_OPT_RECEIVE_MAXIMUM:
        if (!in_range(v, 1, 65535))
            return LMQ_EINVAL;
        s->receive_max = (uint16_t)v;
        return 0;
    case LMQ_OPT_MAXIMUM_PACKET_SIZE:
        if (!in_range(v, 0, 268435460))
            return LMQ_EINVAL;
        s->max_packet = (uint32_t)v;
        return 0;
    case LMQ_OPT_TOPIC_ALIAS_MAXIMUM:
        if (!in_range(v, 0, 65535))
            return LMQ_EINVAL;
        s->alias_max_in = (uint16_t)v;
        return 0;
    case LMQ_OPT_REQUEST_RESPONSE_INFO:
        s->req_resp_info = v != 0;
        return 0;
    case LMQ_OPT_REQUEST_PROBLEM_INFO:
        s->req_prob_info = v != 0;
        return 0;
    case LMQ_OPT_WILL_QOS:
        if (!in_range(v, 0, 2))
            return LMQ_EINVAL;
        s->will_qos = (uint8_t)v;
        return 0;
    case LMQ_OPT_WILL_RETAIN:
        s->will_retain = v != 0;
        return 0;
    case LMQ_OPT_CONNECT_TIMEOUT_MS:
        if (v < 0)
            return LMQ_EINVAL;
        s->connect_timeout_ms = v;
        return 0;
    case LMQ_OPT_OFFLINE_MAX_MSGS:
        if (!in_range(v, 0, 0xFFFFFFFFll))
            return LMQ_EINVAL;
        s->offline_max_msgs = (uint32_t)v;
        return 0;
    case LMQ_OPT_OFFLINE_MAX_BYTES:
        if (v < 0)
            return LMQ_EINVAL;
        s->offline_max_bytes = (uint64_t)v;
        return 0;
    case LMQ_OPT_OFFLINE_POLICY:
        if (v != LMQ_QUEUE_REFUSE && v != LMQ_QUEUE_DROP_OLDEST)
            return LMQ_EINVAL;
        s->offline_policy = (int)v;
        return 0;
    case LMQ_OPT_MANUAL_ACK:
        s->cfg.manual_ack = v != 0;
        return 0;
    case LMQ_OPT_AUTO_RESUBSCRIBE:
        s->auto_resub = v != 0;
        return 0;
    case LMQ_OPT_DRAIN_TIMEOUT_MS:
        if (!in_range(v, 0, INT32_MAX))
            return LMQ_EINVAL;
        s->drain_ms = v;
        return 0;
    case LMQ_OPT_STRICT_RECEIVE_MAX:
        if (!in_range(v, 0, 1))
            return LMQ_EINVAL;
        s->strict_rmax = (uint8_t)v;
        return 0;
    case LMQ_OPT_HOLD_MAX_BYTES:
        if (v < 0)
            return LMQ_EINVAL;
        s->hold_max_bytes = (uint64_t)v;
        return 0;
    case LMQ_OPT_TOPIC_ALIAS_OUT:
        s->cfg.alias_out = v != 0;
        return 0;
    case LMQ_OPT_LOG_LEVEL:
        if (!in_range(v, LMQ_LOG_ERROR, LMQ_LOG_DEBUG))   /* as the client: 1..4 */
            return LMQ_EINVAL;
        s->log_level = (int)v;
        return 0;
    case LMQ_OPT_DURABILITY:
        if (v != LMQ_DURABILITY_FSYNC && v != LMQ_DURABILITY_OS)
            return LMQ_EINVAL;
        s->durability = (int)v;
        return 0;
    default:
        lmq_session_seterr(s, "unknown integer option %d", option);
        return LMQ_EINVAL;
    }
}

static int bytes_set(lmq_bytes *b, const uint8_t *p, size_t n)
{
    if (!p && n)
        return LMQ_EINVAL;
    if (n > 65535u)
        return LMQ_ETOOBIG;
    uint8_t *copy = malloc(n ? n : 1);
    if (!copy)
        return LMQ_ENOMEM;
    if (n)
        memcpy(copy, p, n);
    free(b->p);
    b->p = copy;
    b->n = (uint32_t)n;
    b->set = 1;
    return 0;
}

/* A path, not protocol text: any bytes but NUL.  Empty (or NULL) means no
 * store.  Taken when the store opens (first publish or start); once it is
 * open, the session is tied to that file. */
static int set_state_dir(lmq_session *s, const uint8_t *p, size_t n)
{
    if (s->store)
        return LMQ_ESTATE;
    if ((!p && n) || (p && memchr(p, '\0', n)))
        return LMQ_EINVAL;
    char *d = NULL;
    if (n) {
        if (!(d = malloc(n + 1)))
            return LMQ_ENOMEM;
        memcpy(d, p, n);
        d[n] = '\0';
    }
    free(s->state_dir);
    s->state_dir = d;
    return 0;
}

int lmq_session_set_str(lmq_session *s, int option, const uint8_t *p, size_t n)
{
    if (!s)
        return LMQ_EINVAL;
    if (option == LMQ_OPT_STATE_DIR)
        return set_state_dir(s, p, n);
    int utf8 = option != LMQ_OPT_PASSWORD && option != LMQ_OPT_AUTH_DATA &&
               option != LMQ_OPT_WILL_PAYLOAD;
    /* [MQTT-1.5.4-1] [MQTT-3.1.3-3] [MQTT-3.1.3-12] */
    int rc = utf8 && p ? lmq_utf8_check(p, n) : 0;
    if (rc)
        return rc;
    if (!p && n == 0) {
        /* NULL clears a string option (no user name, no will, ...). */
        lmq_bytes *b = option == LMQ_OPT_CLIENT_ID ? &s->client_id
                     : option == LMQ_OPT_USERNAME ? &s->username
                     : option == LMQ_OPT_PASSWORD ? &s->password
                     : option == LMQ_OPT_AUTH_METHOD ? &s->auth_method
                     : option == LMQ_OPT_AUTH_DATA ? &s->auth_data
                     : option == LMQ_OPT_WILL_TOPIC ? &s->will_topic
                     : option == LMQ_OPT_WILL_PAYLOAD ? &s->will_payload : NULL;
        if (!b)
            return LMQ_EINVAL;
        lmq_bytes_free(b);
        return 0;
    }
    switch (option) {
    case LMQ_OPT_CLIENT_ID: return bytes_set(&s->client_id, p, n);
    case LMQ_OPT_USERNAME: return bytes_set(&s->username, p, n);
    case LMQ_OPT_PASSWORD: return bytes_set(&s->password, p, n);
    case LMQ_OPT_AUTH_METHOD: return bytes_set(&s->auth_method, p, n);
    case LMQ_OPT_AUTH_DATA: return bytes_set(&s->auth_data, p, n);
    case LMQ_OPT_WILL_TOPIC:
        if ((rc = lmq_topic_validate_name((const char *)p, (int32_t)n)))
            return rc;                      /* [MQTT-3.1.3-11] */
        return bytes_set(&s->will_topic, p, n);
    case LMQ_OPT_WILL_PAYLOAD:
        if (n > 65535u)
            return LMQ_ETOOBIG;
        return bytes_set(&s->will_payload, p, n);
    default:
        lmq_session_seterr(s, "unknown string option %d", option);
        return LMQ_EINVAL;
    }
}

int lmq_session_set_props(lmq_session *s, int target, const lmq_proplist *pl)
{
    lmq_props tmp;
    lmq_proplist **slot;
    uint16_t where;
    int rc;

    if (!s)
        return LMQ_EINVAL;
    if (target == LMQ_PROPS_CONNECT) {
        slot = &s->connect_props;
        where = LMQ_IN(LMQ_CONNECT);
    } else if (target == LMQ_PROPS_WILL) {
        slot = &s->will_props;
        where = LMQ_IN_WILL;
    } else {
        return LMQ_EINVAL;
    }
    if ((rc = lmq_proplist_props(pl, where, &tmp)))
        return rc;
    lmq_proplist *copy = lmq_proplist_dup(pl, &rc);
    if (rc)
        return rc;
    lmq_proplist_free(*slot);
    *slot = copy;
    return 0;
}
