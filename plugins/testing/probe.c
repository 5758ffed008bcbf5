/*
 * probe.c - a test plugin that records the ABI 1.1 hooks (see probe.h)
 * into memory the test owns.  Tests only, never installed.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lunamq_plugin.h"
#include "probe.h"

typedef struct probe_state {
    const lmq_plugin_api *api;
    lmq_probe *p;
} probe_state;

static probe_state st;          /* one probe per process is enough here */

static void note(lmq_probe *p, const char *what)
{
    size_t n = strlen(p->trace);
    if (n + strlen(what) + 2 < sizeof p->trace)
        snprintf(p->trace + n, sizeof p->trace - n, "%s ", what);
}

static int probe_init(const lmq_plugin_api *api, const char *config, void **state)
{
    lmq_probe *p = NULL;
    if (sscanf(config, "p=%p", (void **)&p) != 1 || !p) {
        api->set_error(api, "config needs p=<address>");
        return -1;
    }
    st.api = api;
    st.p = p;
    if (p->tick_ms > 0)
        api->set_tick(api, p->tick_ms);
    *state = &st;
    return 0;
}

static int probe_connect_send(void *state, lmq_plugin_conn *conn)
{
    probe_state *s = state;
    s->p->connect_sends++;
    note(s->p, "connect_send");
    if (s->p->user)
        s->api->conn_set_user(s->api, conn, s->p->user, -1);
    if (s->p->password)
        s->api->conn_set_password(s->api, conn, s->p->password,
                                  (int32_t)strlen(s->p->password));
    if (conn->protocol == 5)
        s->api->conn_add_user_prop(s->api, conn, "probe", -1, "1", -1);
    return LMQ_PLUGIN_CONTINUE;
}

static void probe_connack(void *state, const lmq_plugin_conn *conn)
{
    probe_state *s = state;
    (void)conn;
    note(s->p, "connack");
}

static void probe_disconnect(void *state, const lmq_plugin_conn *conn)
{
    probe_state *s = state;
    (void)conn;
    note(s->p, "disconnect");
}

static int probe_auth(void *state, const lmq_plugin_auth *au)
{
    probe_state *s = state;
    s->p->auths++;
    note(s->p, "auth");
    snprintf(s->p->auth_data, sizeof s->p->auth_data, "%.*s", (int)au->data_len,
             au->data ? (const char *)au->data : "");
    if (s->p->auth_answer)
        s->api->auth_reply(s->api, au, s->p->auth_answer, (int32_t)strlen(s->p->auth_answer));
    return LMQ_PLUGIN_CONTINUE;
}

static void probe_reconnect(void *state, int32_t attempt, int64_t delay_ms)
{
    probe_state *s = state;
    if (s->p->reconnects < 8) {
        s->p->attempt[s->p->reconnects] = attempt;
        s->p->delay[s->p->reconnects] = delay_ms;
    }
    s->p->reconnects++;
    note(s->p, "reconnect");
}

static void probe_fd_ready(void *ud, int32_t fd, int32_t revents)
{
    probe_state *s = ud;
    char c;
    (void)revents;
    if (read(fd, &c, 1) == 1)
        __atomic_add_fetch(&s->p->fired, 1, __ATOMIC_SEQ_CST);
}

/* The application's thread may run this one (thread mode). */
static int probe_publish_out(void *state, lmq_plugin_msg *msg)
{
    probe_state *s = state;
    if (s->p->out_user_key)
        s->p->out_prop_rc = 1000 + s->api->msg_add_user_prop(s->api, msg, s->p->out_user_key,
                                                             -1, s->p->out_user_val, -1);
    if (s->p->watched && !s->p->unwatch_rc_out)
        __atomic_store_n(&s->p->unwatch_rc_out, 1000 + s->api->unwatch_fd(s->api, s->p->watch_fd),
                         __ATOMIC_SEQ_CST);
    return LMQ_PLUGIN_CONTINUE;
}

static void probe_tick(void *state, int64_t now)
{
    probe_state *s = state;
    (void)now;
    if (s->p->watch_fd > 0 && !s->p->watched) {
        int rc = s->api->watch_fd(s->api, s->p->watch_fd, LMQ_PLUGIN_WATCH_READ, probe_fd_ready,
                                  s);
        __atomic_store_n(&s->p->watch_rc, rc, __ATOMIC_SEQ_CST);
        if (rc == 0)
            __atomic_store_n(&s->p->watched, 1, __ATOMIC_SEQ_CST);
    }
    if (s->p->watched && __atomic_load_n(&s->p->unwatch_in_tick, __ATOMIC_SEQ_CST) &&
        !s->p->unwatch_rc_tick)
        __atomic_store_n(&s->p->unwatch_rc_tick,
                         1000 + s->api->unwatch_fd(s->api, s->p->watch_fd), __ATOMIC_SEQ_CST);
    s->p->ticks++;
    if (s->api->stat(s->api, LMQ_PLUGIN_STAT_CONNECTED) == 0)
        s->p->ticks_offline++;
}

static const lmq_plugin probe_plugin = {
    .abi_version = LMQ_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(lmq_plugin),
    .name = "probe",
    .version = "test",
    .init = probe_init,
    .on_connack = probe_connack,
    .on_disconnect = probe_disconnect,
    .on_tick = probe_tick,
    .on_connect_send = probe_connect_send,
    .on_auth = probe_auth,
    .on_reconnect = probe_reconnect,
    .on_publish_out = probe_publish_out,
};

LMQ_PLUGIN_EXPORT const lmq_plugin *lmq_plugin_entry(void);

LMQ_PLUGIN_EXPORT const lmq_plugin *lmq_plugin_entry(void)
{
    return &probe_plugin;
}
