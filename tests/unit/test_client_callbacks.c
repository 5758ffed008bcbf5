/*
 * test_client_callbacks.c - what a callback may do to its own client:
 * go back to pulling, replace itself, free the client; and on which
 * thread, under which lock, callbacks run in thread mode.
 *
 * Events come from the offline queue where that is enough (a full queue
 * with LMQ_QUEUE_DROP_OLDEST reports the dropped message at once); a
 * minimal server on a thread of the test answers CONNECT where a
 * connection is needed.  Run under ASan, the free tests prove there is no
 * use after free; under TSan, the thread tests prove there is no race.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "lunamq.h"

/* ------------------------------------------------------------- server */

typedef struct server {
    int lfd;
    int port;
    pthread_t tid;
} server;

static const uint8_t connack_v5[] = { 0x20, 0x03, 0x00, 0x00, 0x00 };

/* Accept one client, answer its CONNECT, read until it closes. */
static void *server_main(void *arg)
{
    server *s = arg;
    struct pollfd p = { s->lfd, POLLIN, 0 };
    uint8_t buf[1024];
    int fd;

    if (poll(&p, 1, 5000) != 1)
        return NULL;
    fd = accept(s->lfd, NULL, NULL);
    p.fd = fd;
    if (poll(&p, 1, 5000) != 1 || read(fd, buf, sizeof buf) <= 0 || buf[0] != 0x10)
        goto out;
    if (write(fd, connack_v5, sizeof connack_v5) != (ssize_t)sizeof connack_v5)
        goto out;
    while (poll(&p, 1, 5000) == 1 && read(fd, buf, sizeof buf) > 0) {
        /* until the client closes */
    }
out:
    close(fd);
    return NULL;
}

static int server_start(server *s)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;

    memset(s, 0, sizeof *s);
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

static lmq_client *client_for(int port)
{
    lmq_client *c = lmq_client_new();

    lmq_client_set_str(c, LMQ_OPT_HOST, "127.0.0.1", -1);
    lmq_client_set_int(c, LMQ_OPT_PORT, port);
    lmq_client_set_str(c, LMQ_OPT_CLIENT_ID, "cbtest", -1);
    lmq_client_set_int(c, LMQ_OPT_RECONNECT, 0);
    return c;
}

/* A client whose second offline publish drops the first: that call queues
 * events (LMQ_EV_PUBLISHED with LMQ_EDROPPED, and a log line at INFO). */
static lmq_client *offline_client(void)
{
    lmq_client *c = lmq_client_new();

    lmq_client_set_int(c, LMQ_OPT_OFFLINE_MAX_MSGS, 1);
    lmq_client_set_int(c, LMQ_OPT_OFFLINE_POLICY, LMQ_QUEUE_DROP_OLDEST);
    lmq_client_set_int(c, LMQ_OPT_LOG_LEVEL, LMQ_LOG_DEBUG);
    return c;
}

static int publish_one(lmq_client *c)
{
    return lmq_client_publish(c, "a", -1, "x", 1, 1, 0, NULL);
}

/* ----------------------------------------------------- a callback's record */

typedef struct rec {
    atomic_int calls;
    atomic_int in_cb;           /* the callback is running */
    atomic_int fin_calls;
    atomic_int fin_during_cb;   /* the finalizer ran while the callback did */
    atomic_int dropped;         /* LMQ_EV_PUBLISHED with LMQ_EDROPPED seen */
    atomic_int on_main;         /* callbacks run on the test's thread */
    int action;                 /* what the callback does, see below */
    pthread_t main_tid;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_mutex_t *app_mu;    /* the application's own lock */
    atomic_int entered;
    atomic_int app_lock_timeouts;
} rec;

enum { DO_NOTHING, DO_PULL, DO_REPLACE, DO_FREE, DO_FREE_ON_CONNECTED, DO_TAKE_APP_LOCK };

static void rec_init(rec *r, int action)
{
    memset(r, 0, sizeof *r);
    r->action = action;
    r->main_tid = pthread_self();
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
}

static void rec_destroy(rec *r)
{
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
}

static void rec_signal(rec *r)
{
    pthread_mutex_lock(&r->mu);
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

/* Wait up to 5 s for *v >= want (a cond wait, woken by rec_signal). */
static int rec_wait(rec *r, atomic_int *v, int want)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 5;
    pthread_mutex_lock(&r->mu);
    while (atomic_load(v) < want && pthread_cond_timedwait(&r->cv, &r->mu, &ts) == 0) {
    }
    pthread_mutex_unlock(&r->mu);
    return atomic_load(v) >= want;
}

static void fin(void *ud)
{
    rec *r = ud;

    if (atomic_load(&r->in_cb))
        atomic_fetch_add(&r->fin_during_cb, 1);
    atomic_fetch_add(&r->fin_calls, 1);
    rec_signal(r);
}

static void take_app_lock(rec *r)
{
    struct timespec ts;

    atomic_store(&r->entered, 1);
    rec_signal(r);
    /* Bounded, so that the old deadlock fails the test rather than
     * hanging it: the publisher holds app_mu until its publish returns. */
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 5;
    if (pthread_mutex_timedlock(r->app_mu, &ts) == 0)
        pthread_mutex_unlock(r->app_mu);
    else
        atomic_fetch_add(&r->app_lock_timeouts, 1);
}

static void cb(lmq_client *c, const lmq_event *ev, void *ud)
{
    rec *r = ud;

    atomic_store(&r->in_cb, 1);
    atomic_fetch_add(&r->calls, 1);
    if (pthread_equal(pthread_self(), r->main_tid))
        atomic_fetch_add(&r->on_main, 1);
    if (ev->type == LMQ_EV_PUBLISHED && ev->error == LMQ_EDROPPED)
        atomic_fetch_add(&r->dropped, 1);
    switch (r->action) {
    case DO_PULL:
        lmq_client_set_callback(c, NULL, NULL, NULL);
        break;
    case DO_REPLACE:
        /* the finalizer of r must wait until this call returns */
        lmq_client_set_callback(c, NULL, NULL, NULL);
        break;
    case DO_FREE:
        lmq_client_free(c);
        break;
    case DO_FREE_ON_CONNECTED:
        if (ev->type == LMQ_EV_CONNECTED)
            lmq_client_free(c);
        break;
    case DO_TAKE_APP_LOCK:
        if (ev->type == LMQ_EV_PUBLISHED)
            take_app_lock(r);
        break;
    default:
        break;
    }
    atomic_store(&r->in_cb, 0);
    rec_signal(r);
}

/* ------------------------------------------------ back to pulling, replace */

static void test_going_back_to_pulling_in_a_callback_keeps_the_rest_queued(void)
{
    lmq_client *c = offline_client();
    lmq_event ev[8];
    rec r;
    int n, i, published = 0;

    rec_init(&r, DO_PULL);
    CHECK(publish_one(c) > 0);
    CHECK_INT(lmq_client_set_callback(c, cb, &r, NULL), 0);
    CHECK(publish_one(c) > 0);  /* queues a log line and PUBLISHED(EDROPPED) */
    CHECK_INT(atomic_load(&r.calls), 1);
    n = lmq_client_events(c, ev, 8, sizeof(lmq_event));
    CHECK(n >= 1);
    for (i = 0; i < n; i++)
        published += ev[i].type == LMQ_EV_PUBLISHED && ev[i].error == LMQ_EDROPPED;
    /* the callback got the first event; the drop report was not lost */
    CHECK_INT(published + atomic_load(&r.dropped), 1);
    lmq_client_free(c);
    rec_destroy(&r);
}

static void test_a_callback_gets_every_event_of_a_burst(void)
{
    lmq_client *c = offline_client();
    rec r;
    int i;

    rec_init(&r, DO_NOTHING);
    lmq_client_set_int(c, LMQ_OPT_LOG_LEVEL, LMQ_LOG_ERROR);
    CHECK(publish_one(c) > 0);
    CHECK_INT(lmq_client_set_callback(c, cb, &r, NULL), 0);
    /* 40 drops, more than any batch size: one event each */
    for (i = 0; i < 40; i++)
        CHECK(publish_one(c) > 0);
    CHECK_INT(atomic_load(&r.dropped), 40);
    lmq_client_free(c);
    rec_destroy(&r);
}

static void test_replacing_the_callback_inside_it_finalizes_after_it_returns(void)
{
    lmq_client *c = offline_client();
    lmq_event ev[8];
    rec r;

    rec_init(&r, DO_REPLACE);
    CHECK(publish_one(c) > 0);
    CHECK_INT(lmq_client_set_callback(c, cb, &r, fin), 0);
    CHECK(publish_one(c) > 0);
    CHECK_INT(atomic_load(&r.calls), 1);
    CHECK_INT(atomic_load(&r.fin_calls), 1);
    CHECK_INT(atomic_load(&r.fin_during_cb), 0);
    CHECK(lmq_client_events(c, ev, 8, sizeof(lmq_event)) >= 1);    /* back to pulling */
    lmq_client_free(c);
    CHECK_INT(atomic_load(&r.fin_calls), 1);    /* not again at free */
    rec_destroy(&r);
}

static void test_replacing_the_callback_outside_it_finalizes_at_once(void)
{
    lmq_client *c = lmq_client_new();
    rec r;

    rec_init(&r, DO_NOTHING);
    CHECK_INT(lmq_client_set_callback(c, cb, &r, fin), 0);
    CHECK_INT(lmq_client_set_callback(c, NULL, NULL, NULL), 0);
    CHECK_INT(atomic_load(&r.fin_calls), 1);
    lmq_client_free(c);
    CHECK_INT(atomic_load(&r.fin_calls), 1);
    rec_destroy(&r);
}

/* ------------------------------------------------------ free in a callback */

static void test_free_in_a_callback_waits_for_the_api_call_that_ran_it(void)
{
    lmq_client *c = offline_client();
    rec r;

    rec_init(&r, DO_FREE);
    CHECK(publish_one(c) > 0);
    CHECK_INT(lmq_client_set_callback(c, cb, &r, fin), 0);
    /* The callback frees c on the first of two events: the second is not
     * delivered, and the finalizer runs once, after the callback.  ASan
     * proves nothing touched c after the free. */
    CHECK(publish_one(c) > 0);
    CHECK_INT(atomic_load(&r.calls), 1);
    CHECK_INT(atomic_load(&r.fin_calls), 1);
    CHECK_INT(atomic_load(&r.fin_during_cb), 0);
    rec_destroy(&r);
}

static void test_free_in_a_callback_during_connect_wait_returns_eclosed(void)
{
    lmq_client *c = lmq_client_new();
    rec r;

    rec_init(&r, DO_FREE);
    /* No such socket: the connect call itself fails and reports it. */
    lmq_client_set_str(c, LMQ_OPT_UNIX_PATH, "/nonexistent/lunamq-test.sock", -1);
    lmq_client_set_int(c, LMQ_OPT_RECONNECT, 0);
    CHECK_INT(lmq_client_set_callback(c, cb, &r, fin), 0);
    CHECK_INT(lmq_client_connect_wait(c, 5000), LMQ_ECLOSED);
    CHECK_INT(atomic_load(&r.calls), 1);
    CHECK_INT(atomic_load(&r.fin_calls), 1);
    rec_destroy(&r);
}

static void test_free_in_a_callback_run_by_the_loop_of_connect_wait(void)
{
    server s;
    lmq_client *c;
    rec r;

    rec_init(&r, DO_FREE_ON_CONNECTED);
    CHECK_INT(server_start(&s), 0);
    c = client_for(s.port);
    CHECK_INT(lmq_client_set_callback(c, cb, &r, fin), 0);
    /* CONNECTED comes from inside ev_run on the client's private loop:
     * the loop goes once ev_run has returned. */
    CHECK_INT(lmq_client_connect_wait(c, 5000), LMQ_ECLOSED);
    CHECK_INT(atomic_load(&r.fin_calls), 1);
    server_join(&s);
    rec_destroy(&r);
}

static void test_free_in_a_callback_on_a_shared_loop_leaves_the_loop_usable(void)
{
    server s;
    lmq_loop *loop = lmq_loop_new();
    lmq_client *c;
    rec r;

    rec_init(&r, DO_FREE_ON_CONNECTED);
    CHECK_INT(server_start(&s), 0);
    c = client_for(s.port);
    CHECK_INT(lmq_client_attach(c, loop), 0);
    CHECK_INT(lmq_client_set_callback(c, cb, &r, fin), 0);
    CHECK_INT(lmq_client_connect(c), 0);
    /* Runs until nothing is left: the free stops the client's watchers. */
    CHECK_INT(lmq_loop_run(loop, LMQ_RUN_DEFAULT), 0);
    CHECK_INT(atomic_load(&r.fin_calls), 1);
    CHECK_INT(lmq_loop_run(loop, LMQ_RUN_NOWAIT), 0);
    lmq_loop_free(loop);
    server_join(&s);
    rec_destroy(&r);
}

static int thread_count(void)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *de;
    int n = 0;

    if (!d)
        return -1;
    while ((de = readdir(d)) != NULL)
        n += de->d_name[0] != '.';
    closedir(d);
    return n;
}

static void test_free_in_a_callback_in_thread_mode_ends_the_loop_thread(void)
{
    server s;
    lmq_client *c;
    rec r;
    int before, i;

    rec_init(&r, DO_FREE_ON_CONNECTED);
    CHECK_INT(server_start(&s), 0);
    before = thread_count();
    c = client_for(s.port);
    CHECK_INT(lmq_client_set_callback(c, cb, &r, fin), 0);
    CHECK_INT(lmq_client_thread_start(c), 0);
    CHECK_INT(lmq_client_connect(c), 0);
    /* the loop thread frees the client (it cannot join itself) */
    CHECK(rec_wait(&r, &r.fin_calls, 1));
    CHECK_INT(atomic_load(&r.on_main), 0);
    server_join(&s);            /* the free closed the socket */
    /* ...and ends: the thread count falls back (bounded wait) */
    for (i = 0; i < 5000 && thread_count() >= before; i++)
        usleep(1000);
    CHECK(thread_count() < before);
    rec_destroy(&r);
}

/* ------------------------------------------------------------ thread mode */

static void test_thread_mode_delivers_on_the_loop_thread_only(void)
{
    lmq_client *c = offline_client();
    rec r;
    int i;

    rec_init(&r, DO_NOTHING);
    lmq_client_set_int(c, LMQ_OPT_LOG_LEVEL, LMQ_LOG_ERROR);
    CHECK_INT(lmq_client_set_callback(c, cb, &r, NULL), 0);
    CHECK_INT(lmq_client_thread_start(c), 0);
    CHECK(publish_one(c) > 0);
    /* each of these drops the one before: the events are queued by this
     * thread's calls, and must be delivered by the loop's */
    for (i = 0; i < 20; i++)
        CHECK(publish_one(c) > 0);
    CHECK(rec_wait(&r, &r.dropped, 20));
    CHECK_INT(atomic_load(&r.on_main), 0);
    CHECK_INT(lmq_client_thread_stop(c), 0);
    lmq_client_free(c);
    rec_destroy(&r);
}

static void test_thread_mode_callback_may_take_the_lock_the_publisher_holds(void)
{
    pthread_mutex_t app_mu = PTHREAD_MUTEX_INITIALIZER;
    lmq_client *c = offline_client();
    rec r;

    rec_init(&r, DO_TAKE_APP_LOCK);
    r.app_mu = &app_mu;
    lmq_client_set_int(c, LMQ_OPT_LOG_LEVEL, LMQ_LOG_ERROR);
    CHECK_INT(lmq_client_set_callback(c, cb, &r, NULL), 0);
    CHECK_INT(lmq_client_thread_start(c), 0);
    CHECK(publish_one(c) > 0);
    /* The application publishes under its own lock; its callback, on the
     * loop thread, takes that lock.  The second publish must get the
     * client while the callback waits for app_mu. */
    pthread_mutex_lock(&app_mu);
    CHECK(publish_one(c) > 0);
    CHECK(rec_wait(&r, &r.entered, 1));
    CHECK(publish_one(c) > 0);
    pthread_mutex_unlock(&app_mu);
    CHECK(rec_wait(&r, &r.dropped, 2));
    CHECK_INT(atomic_load(&r.app_lock_timeouts), 0);
    CHECK_INT(atomic_load(&r.on_main), 0);
    CHECK_INT(lmq_client_thread_stop(c), 0);
    lmq_client_free(c);
    rec_destroy(&r);
}

static void test_free_from_another_thread_while_a_callback_runs(void)
{
    lmq_client *c = offline_client();
    rec r;

    rec_init(&r, DO_NOTHING);
    lmq_client_set_int(c, LMQ_OPT_LOG_LEVEL, LMQ_LOG_ERROR);
    CHECK_INT(lmq_client_set_callback(c, cb, &r, fin), 0);
    CHECK_INT(lmq_client_thread_start(c), 0);
    CHECK(publish_one(c) > 0);
    CHECK(publish_one(c) > 0);
    /* joins the loop thread: the finalizer runs after the last callback */
    lmq_client_free(c);
    CHECK_INT(atomic_load(&r.fin_calls), 1);
    CHECK_INT(atomic_load(&r.fin_during_cb), 0);
    CHECK_INT(atomic_load(&r.on_main), 0);
    rec_destroy(&r);
}

int main(void)
{
    RUN(test_going_back_to_pulling_in_a_callback_keeps_the_rest_queued);
    RUN(test_a_callback_gets_every_event_of_a_burst);
    RUN(test_replacing_the_callback_inside_it_finalizes_after_it_returns);
    RUN(test_replacing_the_callback_outside_it_finalizes_at_once);
    RUN(test_free_in_a_callback_waits_for_the_api_call_that_ran_it);
    RUN(test_free_in_a_callback_during_connect_wait_returns_eclosed);
    RUN(test_free_in_a_callback_run_by_the_loop_of_connect_wait);
    RUN(test_free_in_a_callback_on_a_shared_loop_leaves_the_loop_usable);
    RUN(test_free_in_a_callback_in_thread_mode_ends_the_loop_thread);
    RUN(test_thread_mode_delivers_on_the_loop_thread_only);
    RUN(test_thread_mode_callback_may_take_the_lock_the_publisher_holds);
    RUN(test_free_from_another_thread_while_a_callback_runs);
    return check_done();
}
