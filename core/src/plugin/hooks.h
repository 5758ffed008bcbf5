/*
 * hooks.h - the session's hook points (hooks.c): each turns session state
 * into what lunamq_plugin.h hands plugins, runs the chain and applies its
 * verdict.  Callers test s->plugins first, so a session without plugins
 * pays one NULL test per hook point and nothing else.
 *
 * Internal to the library.
 */
#ifndef LMQ_PLUGIN_HOOKS_H
#define LMQ_PLUGIN_HOOKS_H

#include "plugin/plugin.h"
#include "session/session_int.h"

/* CONNECT is queued (c as encoded). */
void lmq_plugin_hook_connect(lmq_session *s, const lmq_connect *c);
/* CONNACK arrived (before it is acted on). */
void lmq_plugin_hook_connack(lmq_session *s, const lmq_connack *ca);
/* The connection ended or the attempt failed (the event of that). */
void lmq_plugin_hook_disconnect(lmq_session *s, int error, int reason,
                                const lmq_props *props);
/* The application subscribes to n checked filters: 0 or LMQ_EPLUGIN_DROP. */
int lmq_plugin_hook_subscribe(lmq_session *s, lmq_slice *f, uint8_t *o, int n, int64_t now);
/* The SUBACK of a SUBSCRIBE arrived (r still whole). */
void lmq_plugin_hook_suback(lmq_session *s, const lmq_req *r, const lmq_slice *reasons,
                            const lmq_props *props, int64_t now);
/* CONNECT is being built: the hooks may replace c's user name and
 * password, and *props (the list of properties to send).  0 or
 * LMQ_EPLUGIN_REFUSED / LMQ_ENOMEM. */
int lmq_plugin_hook_connect_send(lmq_session *s, lmq_connect *c, const lmq_proplist **props);
/* The server's AUTH 0x18: 1 when a plugin answered it (sent), 0 when
 * none did, or LMQ_E* when the answer could not be sent. */
int lmq_plugin_hook_auth(lmq_session *s, const lmq_disconnect *au, int64_t now);
/* The client will reconnect in delay_ms (its attempt-th try). */
void lmq_plugin_hook_reconnect(lmq_session *s, int32_t attempt, int64_t delay_ms,
                               int64_t now);
/* A published message is complete or failed (r still whole). */
void lmq_plugin_hook_done(lmq_session *s, const lmq_req *r, int error, int reason,
                          const lmq_props *props);
/* A PUBLISH arrived: 1 when a plugin dropped it (*reason: the ack's reason
 * code), else 0 with p's topic / payload / props possibly replaced (by
 * copies the chain owns until its next run). */
int lmq_plugin_hook_in(lmq_session *s, lmq_publish *p, uint8_t *reason);
/* The application publishes: 0 (the arguments possibly replaced, *props
 * too, by copies the chain owns until its next run), LMQ_EPLUGIN_DROP or
 * LMQ_ENOMEM. */
int lmq_plugin_hook_out(lmq_session *s, const uint8_t **topic, size_t *tlen,
                        const uint8_t **payload, size_t *plen, int *qos, int *retain,
                        const lmq_proplist **props, int64_t now);

#endif /* LMQ_PLUGIN_HOOKS_H */
