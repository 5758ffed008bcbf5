/*
 * test_durable.c - durable sessions against a real mosquitto: a publisher
 * process is killed with SIGKILL at seeded random points of a stream of
 * QoS 1 and QoS 2 messages and started again on the same state directory,
 * many times (the broker restarting too, now and then); at the end every
 * message a publish call accepted reached the subscriber, QoS 2 exactly
 * once, and the state file is empty.
 *
 * No sleeps: each publisher child reports every number its publish call
 * accepted on a pipe, and the parent kills it after a seeded count of
 * reports, so the kill lands wherever the child's I/O happens to be.
 * Payloads are "<number>:<generation>": a number the killed child had
 * accepted but not yet reported is published again by the next child
 * (the application's own retry, another payload); the library may never
 * deliver the same QoS 2 payload twice.
 */
#define _GNU_SOURCE
#include "itest.h"

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/store.h"

#define CYCLES 60             /* < 64: a bit per generation */
#define FINAL_COUNT 100
#define MAX_NUM 20000
#define LEAD 200             /* messages unfinished in a killed child, at most */
#define TOPIC "durable/t"
#define PUB_ID "durable-pub"

static char state_dir[64];

static int qos_of(int k)
{
    return k % 2 ? 2 : 1;
}

static lmq_client *publisher(const tb_broker *b)
{
    lmq_client *c = lmq_client_new();
    if (!c)
        return NULL;
    lmq_client_set_str(c, LMQ_OPT_HOST, tb_broker_host(b), -1);
    lmq_client_set_int(c, LMQ_OPT_PORT, tb_broker_port(b));
    lmq_client_set_str(c, LMQ_OPT_CLIENT_ID, PUB_ID, -1);
    lmq_client_set_int(c, LMQ_OPT_PROTOCOL, LMQ_MQTT_5);
    lmq_client_set_int(c, LMQ_OPT_CLEAN_START, 0);
    lmq_client_set_int(c, LMQ_OPT_SESSION_EXPIRY, 600);
    lmq_client_set_int(c, LMQ_OPT_OFFLINE_MAX_MSGS, MAX_NUM);
    if (lmq_client_set_str(c, LMQ_OPT_STATE_DIR, state_dir, -1) != 0) {
        lmq_client_free(c);
        return NULL;
    }
    return c;
}

/* Pull events; the count of LMQ_EV_PUBLISHED with msg_id >= from (*all:
 * plus every one, restored messages included). */
static int completions(lmq_client *c, int32_t from, int *failed, int *all)
{
    lmq_event ev[256];
    int n, done = 0;
    while ((n = lmq_client_events(c, ev, 256, sizeof(lmq_event))) > 0) {
        for (int i = 0; i < n; i++) {
            if (ev[i].type != LMQ_EV_PUBLISHED)
                continue;
            (*all)++;
            if (ev[i].error)
                (*failed)++;
            if (ev[i].msg_id >= from)
                done++;
        }
    }
    return done;
}

/*
 * The child: publish from `first` on, report each accepted number on fd,
 * run the loop one step between publishes.  A final child (count > 0)
 * publishes count numbers, waits for their completion (what the previous
 * processes left is resent first, on the same connection, so it completes
 * before), and exits cleanly.
 */
static void publisher_child(const tb_broker *b, int fd, int first, int gen, int count)
{
    /* What the previous processes left unfinished (restored at connect). */
    char path[128];
    lmq_store *st = NULL;
    snprintf(path, sizeof path, "%s/%s.lmqs", state_dir, PUB_ID);
    if (lmq_store_open(&st, path, (const uint8_t *)PUB_ID, strlen(PUB_ID), LMQ_DURABILITY_OS,
                       NULL, NULL, NULL, 0) != 0)
        _exit(2);
    int backlog = (int)lmq_store_count(st), all = 0;
    lmq_store_close(st);
    lmq_client *c = publisher(b);
    if (!c || lmq_client_connect_wait(c, IT_LONG_MS) != 0)
        _exit(2);
    int failed = 0, done = 0, own = 0;
    int32_t first_id = 0;
    int end = count ? first + count : MAX_NUM;
    for (int k = first; k < end; k++) {
        /* At most LEAD unfinished, the restored backlog included: without
         * it a kill that lands late on a loaded machine lets each child
         * accept more than it finishes, and the state file grows, child
         * after child, past LMQ_OPT_OFFLINE_MAX_MSGS. */
        int64_t stall = tw_now_ms() + IT_LONG_MS;
        while (!count && backlog + own - all >= LEAD) {
            if (tw_now_ms() > stall) {
                fprintf(stderr, "publisher gen %d: %d messages unfinished\n", gen,
                        backlog + own - all);
                _exit(6);
            }
            lmq_client_run(c, 10);
            done += completions(c, first_id, &failed, &all);
        }
        char payload[32];
        int n = snprintf(payload, sizeof payload, "%d:%d", k, gen);
        int32_t id = lmq_client_publish(c, TOPIC, -1, payload, n, qos_of(k), 0, NULL);
        if (id <= 0) {
            fprintf(stderr, "publisher gen %d: publish %d refused: %s (%s)\n", gen, k,
                    lmq_errname((int)id), lmq_client_errmsg(c));
            _exit(3);
        }
        if (!first_id)
            first_id = id;
        own++;
        if (write(fd, &k, sizeof k) != (ssize_t)sizeof k)
            _exit(4);
        lmq_client_run(c, 0);
        done += completions(c, first_id, &failed, &all);
    }
    int64_t deadline = tw_now_ms() + IT_LONG_MS;
    while (done < own && tw_now_ms() < deadline) {
        lmq_client_run(c, 50);
        done += completions(c, first_id, &failed, &all);
    }
    lmq_client_disconnect(c, 0, NULL);
    lmq_client_run(c, 1000);
    lmq_client_free(c);
    _exit(done == own && !failed ? 0 : 5);
}

/* Fork a publisher; with count 0, SIGKILL it after `kill_after` reports.
 * Returns the last number it reported (first - 1 if none), or -2. */
static int run_publisher(const tb_broker *b, int first, int gen, int count, int kill_after)
{
    int fds[2];
    if (pipe(fds))
        return -2;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -2;
    if (pid == 0) {
        close(fds[0]);
        publisher_child(b, fds[1], first, gen, count);
    }
    close(fds[1]);
    int last = first - 1, got = 0, k;
    while (read(fds[0], &k, sizeof k) == (ssize_t)sizeof k) {
        last = k;
        if (!count && ++got >= kill_after) {
            kill(pid, SIGKILL);     /* wherever its I/O is now */
            break;
        }
    }
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (count) {
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "final publisher ended with status %d\n", status);
            return -2;
        }
    } else if (!WIFSIGNALED(status)) {
        fprintf(stderr, "publisher gen %d ended before its kill (status %d)\n", gen, status);
        return -2;
    }
    return last;
}

typedef struct seen {
    uint8_t arrived[MAX_NUM];       /* arrivals per number */
    int dup_payload_q2, wrong_qos, dup_q1;
} seen;

/* Count what the subscriber got; one payload twice at QoS 2 is the failure
 * this test exists for. */
static void tally(const tw_client *t, seen *s, uint64_t *gens_seen)
{
    memset(s, 0, sizeof *s);
    for (int i = 0; i < t->n; i++) {
        const tw_event *e = &t->ev[i];
        if (e->ev.type != LMQ_EV_MESSAGE)
            continue;
        int k = -1, g = -1;
        if (sscanf((const char *)e->payload, "%d:%d", &k, &g) != 2 || k < 0 || k >= MAX_NUM ||
            g < 0 || g > CYCLES)
            continue;
        if (e->ev.qos != qos_of(k))
            s->wrong_qos++;
        if (s->arrived[k] < 255)
            s->arrived[k]++;
        uint64_t bit = (uint64_t)1 << g;
        if (gens_seen[k] & bit) {
            if (qos_of(k) == 2) {
                fprintf(stderr, "QoS 2 message %d:%d delivered twice\n", k, g);
                s->dup_payload_q2++;
            } else {
                s->dup_q1++;
            }
        }
        gens_seen[k] |= bit;
    }
}

static void test_publisher_killed_at_random_points_loses_nothing(void)
{
    tb_broker_opts bo = { .persistence = 1 };
    tb_broker *b = tb_broker_start(&bo);
    tw_client *sub = NULL;
    uint64_t *gens = NULL;
    seen *s = NULL;
    REQUIRE(b);
    snprintf(state_dir, sizeof state_dir, "/tmp/lmq_durable_XXXXXX");
    REQUIRE(mkdtemp(state_dir));

    /* The subscriber's session collects everything while it is away. */
    sub = tw_new_for(b, "durable-sub", LMQ_MQTT_5);
    REQUIRE(sub);
    lmq_client_set_int(sub->c, LMQ_OPT_CLEAN_START, 0);
    lmq_client_set_int(sub->c, LMQ_OPT_SESSION_EXPIRY, 600);
    REQUIRE(tw_connect(sub, IT_SHORT_MS) == 0);
    REQUIRE(tw_subscribe(sub, TOPIC, 2, IT_SHORT_MS) == 2);  /* granted QoS 2 */
    lmq_client_disconnect(sub->c, 0, NULL);
    REQUIRE(tw_wait(sub, LMQ_EV_DISCONNECTED, IT_SHORT_MS));

    srand(20261122);
    int next = 0, last = -1, restarts = 0;
    int64_t t0 = tw_now_ms();
    for (int gen = 0; gen < CYCLES; gen++) {
        int kill_after = 5 + rand() % 120;
        last = run_publisher(b, next, gen, 0, kill_after);
        REQUIRE(last >= -1);
        next = last + 1;
        /* now and then the broker restarts too (its persistence keeps
         * both sessions), while the publisher is down */
        if (gen % 15 == 14) {
            REQUIRE(tb_broker_restart(b) == 0);
            restarts++;
        }
    }
    last = run_publisher(b, next, CYCLES, FINAL_COUNT, 0);
    REQUIRE(last == next + FINAL_COUNT - 1);
    int64_t t1 = tw_now_ms();

    /* Nothing left in the state file: every accepted message completed. */
    {
        char path[128];
        lmq_store *st = NULL;
        snprintf(path, sizeof path, "%s/%s.lmqs", state_dir, PUB_ID);
        CHECK_INT(lmq_store_open(&st, path, (const uint8_t *)PUB_ID, strlen(PUB_ID),
                                 LMQ_DURABILITY_OS, NULL, NULL, NULL, 0), 0);
        CHECK_INT(lmq_store_count(st), 0);
        lmq_store_close(st);
        unlink(path);
    }

    /* Every number up to `last` must arrive. */
    REQUIRE(tw_connect(sub, IT_SHORT_MS) == 0);
    gens = calloc(MAX_NUM, sizeof *gens);
    s = malloc(sizeof *s);
    REQUIRE(gens && s);
    int64_t deadline = tw_now_ms() + IT_LONG_MS;
    int missing = last + 1;
    while (missing && tw_now_ms() < deadline) {
        tw_pump(50);
        tw_collect_events(sub);
        memset(gens, 0, MAX_NUM * sizeof *gens);
        tally(sub, s, gens);
        missing = 0;
        for (int k = 0; k <= last; k++)
            missing += s->arrived[k] == 0;
    }
    for (int k = 0; k <= last && missing; k++)
        if (!s->arrived[k])
            fprintf(stderr, "message %d never arrived\n", k);
    printf("durable: %d kill/restart cycles (%d broker restarts), %d messages accepted, "
           "%lld ms; QoS 1 duplicates %d\n", CYCLES, restarts, last + 1, (long long)(t1 - t0),
           s->dup_q1);
    CHECK_INT(missing, 0);
    CHECK_INT(s->dup_payload_q2, 0);
    CHECK_INT(s->wrong_qos, 0);

done:
    free(gens);
    free(s);
    tw_free(sub);
    if (state_dir[0]) {
        char path[128];
        snprintf(path, sizeof path, "%s/%s.lmqs", state_dir, PUB_ID);
        unlink(path);           /* still there when a REQUIRE failed */
        rmdir(state_dir);
    }
    it_broker_stop(b);
}

/*
 * With LMQ_DURABILITY_FSYNC the PUBREC of a pulled QoS 2 message waits for
 * the fsync of its record; the loop must come back for it within a group
 * commit, not at the next packet or keepalive.  The pull happens outside
 * the loop (lmq_client_events between runs): the driver has to hear that
 * the session's deadline moved.  Against the fake broker, which sends one
 * message and then nothing, keepalive 60 s.  [MQTT-4.3.3-8]
 */
static void test_pulled_qos2_is_acknowledged_after_the_fsync_not_the_keepalive(void)
{
    tf_fake *f = tf_fake_new();
    tw_client *t = NULL;
    tf_packet p = {0};
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/lmq_durable_ack_XXXXXX");
    REQUIRE(f && mkdtemp(dir));
    t = it_fake_client(f, "durable-ack", LMQ_MQTT_5);
    REQUIRE(t);
    /* the driver the suite runs under (libev unless LMQ_TEST_DRIVER=external) */
    const char *drv = getenv("LMQ_TEST_DRIVER");
    tw_set_external(t, drv && strcmp(drv, "external") == 0);
    lmq_client_set_int(t->c, LMQ_OPT_KEEPALIVE, 60);
    REQUIRE(lmq_client_set_str(t->c, LMQ_OPT_STATE_DIR, dir, -1) == 0);
    REQUIRE(lmq_client_set_int(t->c, LMQ_OPT_DURABILITY, LMQ_DURABILITY_FSYNC) == 0);
    REQUIRE(it_fake_handshake(f, t, LMQ_MQTT_5, NULL) == 0);

    lmq_packet pub;
    memset(&pub, 0, sizeof pub);
    pub.type = LMQ_PUBLISH;
    pub.flags = 2 << 1;
    pub.u.publish.qos = 2;
    pub.u.publish.packet_id = 7;
    pub.u.publish.topic.p = (const uint8_t *)"durable/ack";
    pub.u.publish.topic.n = 11;
    pub.u.publish.payload.p = (const uint8_t *)"x";
    pub.u.publish.payload.n = 1;
    REQUIRE(tf_fake_send_packet(f, &pub, LMQ_MQTT_5) == 0);
    /* the message reaches the application (tw pulls it: the ack is due) */
    REQUIRE(tw_wait(t, LMQ_EV_MESSAGE, IT_SHORT_MS));
    /* its PUBREC comes once the record is on disk: well within 3 s */
    CHECK_INT(tf_fake_expect(f, LMQ_PUBREC, IT_SHORT_MS, &p), 0);
    CHECK_INT(p.pkt.u.ack.packet_id, 7);

done:
    tf_packet_clear(&p);
    tw_free(t);
    tf_fake_free(f);
    char path[128];
    snprintf(path, sizeof path, "%s/durable-ack.lmqs", dir);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    RUN(test_publisher_killed_at_random_points_loses_nothing);
    RUN(test_pulled_qos2_is_acknowledged_after_the_fsync_not_the_keepalive);
    return check_done();
}
