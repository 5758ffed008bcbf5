/*
 * test_client_driver.c - the libev driver and the blocking conveniences,
 * against a minimal server on a thread of the test (accepts one client,
 * reads CONNECT, answers CONNACK or stays silent, records what follows).
 */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "lunamq.h"

typedef struct server {
    int lfd;
    int port;
    int answer;                 /* send a CONNACK */
    pthread_t tid;
    uint8_t got[8192];          /* bytes after CONNECT */
    size_t n;
} server;

static const uint8_t connack_v5[] = { 0x20, 0x03, 0x00, 0x00, 0x00 };

static void *server_main(void *arg)
{
    server *s = arg;
    struct pollfd p = { s->lfd, POLLIN, 0 };
    uint8_t buf[1024];
    ssize_t r;
    int fd;

    if (poll(&p, 1, 5000) != 1)
        return NULL;
    fd = accept(s->lfd, NULL, NULL);
    p.fd = fd;
    if (poll(&p, 1, 5000) != 1 || read(fd, buf, sizeof buf) <= 0 || buf[0] != 0x10)
        goto out;
    if (s->answer && write(fd, connack_v5, sizeof connack_v5) != (ssize_t)sizeof connack_v5)
        goto out;
    /* record until the client closes (or 5 s of silence) */
    while (poll(&p, 1, 5000) == 1 && (r = read(fd, buf, sizeof buf)) > 0) {
        if (s->n + (size_t)r <= sizeof s->got) {
            memcpy(s->got + s->n, buf, (size_t)r);
            s->n += (size_t)r;
        }
    }
out:
    close(fd);
    return NULL;
}

static int server_start(server *s, int answer)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;

    memset(s, 0, sizeof *s);
    s->answer = answer;
    s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(s->lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(s->lfd, 4) != 0)
        return -1;
    getsockname(s->lfd, (struct sockaddr *)&sa, &len);
    s->port = ntohs(sa.sin_port);
    return pthread_create(&s->tid, NULL, server_main, s);
}

static void server_join(server *s)
{
    pthread_join(s->tid, NULL);
    close(s->lfd);
}

static int server_got(const server *s, const char *needle)
{
    size_t k = strlen(needle), i;

    for (i = 0; i + k <= s->n; i++)
        if (memcmp(s->got + i, needle, k) == 0)
            return 1;
    return 0;
}

static lmq_client *client_for(int port)
{
    lmq_client *c = lmq_client_new();

    lmq_client_set_str(c, LMQ_OPT_HOST, "127.0.0.1", -1);
    lmq_client_set_int(c, LMQ_OPT_PORT, port);
    lmq_client_set_str(c, LMQ_OPT_CLIENT_ID, "drv", -1);
    lmq_client_set_int(c, LMQ_OPT_RECONNECT, 0);
    return c;
}

static void test_connect_wait_returns_0_once_the_connack_arrives(void)
{
    server s;
    lmq_client *c;
    lmq_event ev[8];
    int i, n, connected = 0;

    CHECK_INT(server_start(&s, 1), 0);
    c = client_for(s.port);
    CHECK_INT(lmq_client_connect_wait(c, 5000), 0);
    n = lmq_client_events(c, ev, 8, sizeof(lmq_event));
    for (i = 0; i < n; i++)
        connected += ev[i].type == LMQ_EV_CONNECTED;
    CHECK_INT(connected, 1);
    /* a clean goodbye: lmq_client_run returns once the socket is closed */
    CHECK_INT(lmq_client_disconnect(c, 0, NULL), 0);
    CHECK_INT(lmq_client_run(c, 5000), 0);
    CHECK_INT(lmq_client_fd(c), -1);
    server_join(&s);
    CHECK(s.n >= 2 && s.got[0] == 0xE0);    /* DISCONNECT */
    lmq_client_free(c);
}

static void test_connect_wait_times_out_when_the_server_is_silent(void)
{
    server s;
    lmq_client *c;

    CHECK_INT(server_start(&s, 0), 0);
    c = client_for(s.port);
    CHECK_INT(lmq_client_connect_wait(c, 200), LMQ_ETIMEOUT);
    lmq_client_free(c);         /* closes the socket: the server thread ends */
    server_join(&s);
}

static void test_connect_wait_reports_a_refused_tcp_connect(void)
{
    server s;
    lmq_client *c;
    int port;

    CHECK_INT(server_start(&s, 0), 0);
    port = s.port;
    shutdown(s.lfd, SHUT_RDWR);
    server_join(&s);            /* nobody listens on `port` any more */
    c = client_for(port);
    CHECK_INT(lmq_client_connect_wait(c, 5000), LMQ_ECONNECT);
    CHECK(lmq_client_errmsg(c)[0] != '\0');
    lmq_client_free(c);
}

static void test_two_clients_share_one_loop(void)
{
    server s1, s2;
    lmq_loop *loop = lmq_loop_new();
    lmq_client *a, *b;
    int i;

    CHECK(loop != NULL);
    CHECK_INT(server_start(&s1, 1), 0);
    CHECK_INT(server_start(&s2, 1), 0);
    a = client_for(s1.port);
    b = client_for(s2.port);
    CHECK_INT(lmq_client_attach(a, loop), 0);
    CHECK_INT(lmq_client_attach(b, loop), 0);
    CHECK_INT(lmq_client_attach(b, loop), LMQ_ESTATE);
    CHECK_INT(lmq_client_connect(a), 0);
    CHECK_INT(lmq_client_connect(b), 0);
    /* both connect on the one loop (connect_wait runs the shared loop) */
    CHECK_INT(lmq_client_connect_wait(a, 5000), 0);
    CHECK_INT(lmq_client_connect_wait(b, 5000), 0);
    lmq_client_disconnect(a, 0, NULL);
    lmq_client_disconnect(b, 0, NULL);
    /* nothing left once both closed: run(0) returns by itself */
    for (i = 0; i < 100 && (lmq_client_fd(a) >= 0 || lmq_client_fd(b) >= 0); i++)
        lmq_loop_run(loop, LMQ_RUN_ONCE);
    CHECK_INT(lmq_loop_run(loop, LMQ_RUN_DEFAULT), 0);
    CHECK_INT(lmq_client_fd(a), -1);
    CHECK_INT(lmq_client_fd(b), -1);
    lmq_client_free(a);
    lmq_client_free(b);
    lmq_loop_free(loop);
    server_join(&s1);
    server_join(&s2);
}

static void test_loop_run_refuses_unknown_flags(void)
{
    lmq_loop *loop = lmq_loop_new();

    CHECK_INT(lmq_loop_run(loop, 3), LMQ_EINVAL);
    CHECK_INT(lmq_loop_run(loop, -1), LMQ_EINVAL);
    CHECK_INT(lmq_loop_run(loop, LMQ_RUN_NOWAIT), 0);     /* nothing to do: returns */
    CHECK_INT(lmq_loop_run(loop, LMQ_RUN_DEFAULT), 0);
    lmq_loop_free(loop);
    lmq_loop_free(NULL);
    CHECK(lmq_loop_wrap(NULL) == NULL);
}

/* The callback runs on the client's thread: it signals the test's. */
static pthread_mutex_t cb_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cb_cv = PTHREAD_COND_INITIALIZER;
static int cb_connected;

static void cb(lmq_client *c, const lmq_event *ev, void *ud)
{
    (void)c;
    (void)ud;
    if (ev->type != LMQ_EV_CONNECTED)
        return;
    pthread_mutex_lock(&cb_mu);
    cb_connected = 1;
    pthread_cond_signal(&cb_cv);
    pthread_mutex_unlock(&cb_mu);
}

static int wait_connected(int ms)
{
    struct timespec ts;
    int ok;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&cb_mu);
    while (!cb_connected && pthread_cond_timedwait(&cb_cv, &cb_mu, &ts) == 0) {
    }
    ok = cb_connected;
    pthread_mutex_unlock(&cb_mu);
    return ok;
}

static void test_thread_runs_the_client_while_main_publishes(void)
{
    server s;
    lmq_client *c;

    CHECK_INT(server_start(&s, 1), 0);
    c = client_for(s.port);
    cb_connected = 0;
    lmq_client_set_callback(c, cb, NULL, NULL);
    CHECK_INT(lmq_client_thread_start(c), 0);
    CHECK_INT(lmq_client_thread_start(c), LMQ_ESTATE);
    CHECK_INT(lmq_client_connect_wait(c, 100), LMQ_ESTATE);  /* the thread owns the loop */
    CHECK_INT(lmq_client_connect(c), 0);        /* from this thread: wakes the loop */
    CHECK(wait_connected(5000));
    CHECK(lmq_client_publish(c, "thread/topic", -1, "hi", 2, 0, 0, NULL) > 0);
    CHECK_INT(lmq_client_disconnect(c, 0, NULL), 0);
    server_join(&s);            /* ends when the client closes the socket */
    CHECK(server_got(&s, "thread/topic"));
    CHECK_INT(lmq_client_thread_stop(c), 0);
    CHECK_INT(lmq_client_thread_stop(c), LMQ_ESTATE);
    lmq_client_free(c);
}

static void test_thread_restarts_and_free_stops_a_running_one(void)
{
    lmq_client *c = lmq_client_new();

    CHECK_INT(lmq_client_thread_start(c), 0);
    CHECK_INT(lmq_client_thread_stop(c), 0);
    CHECK_INT(lmq_client_thread_start(c), 0);
    lmq_client_free(c);         /* joins the thread (ASan: no leak) */
}

int main(void)
{
    RUN(test_connect_wait_returns_0_once_the_connack_arrives);
    RUN(test_connect_wait_times_out_when_the_server_is_silent);
    RUN(test_connect_wait_reports_a_refused_tcp_connect);
    RUN(test_two_clients_share_one_loop);
    RUN(test_loop_run_refuses_unknown_flags);
    RUN(test_thread_runs_the_client_while_main_publishes);
    RUN(test_thread_restarts_and_free_stops_a_running_one);
    return check_done();
}
