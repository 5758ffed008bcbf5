/*
 * test_store.c - the session store: what is appended comes back after a
 * reload, a torn tail (cut at any byte) is dropped and logged, a foreign
 * or newer file is refused, compaction keeps the live state.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <time.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "check.h"
#include "session/session_int.h"
#include "store/store.h"
#include "test_session_fx.h"

static char dir[64];
static char path[128];
static int logged;

static void on_log(void *ud, int level, const char *text)
{
    (void)ud;
    (void)level;
    (void)text;
    logged++;
}

static void fresh_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/lmq_store_XXXXXX");
    if (!mkdtemp(dir))
        abort();
    snprintf(path, sizeof path, "%s/client.lmqs", dir);
}

static void remove_dir(void)
{
    char p[160];
    unlink(path);
    snprintf(p, sizeof p, "%s.tmp", path);
    unlink(p);
    snprintf(p, sizeof p, "%s/copy.lmqs", dir);
    unlink(p);
    rmdir(dir);
}

static lmq_store *open_as(const char *file, const char *id, int *rc)
{
    lmq_store *st = NULL;
    char err[300];
    *rc = lmq_store_open(&st, file, (const uint8_t *)id, strlen(id), LMQ_DURABILITY_FSYNC,
                         on_log, NULL, err, sizeof err);
    return st;
}

static int add(lmq_store *st, int32_t id, int qos, const char *topic, const char *payload)
{
    return lmq_store_add(st, id, qos, 0, (const uint8_t *)topic, strlen(topic),
                         (const uint8_t *)payload, strlen(payload), NULL, 0);
}

static size_t file_size(const char *file)
{
    struct stat sb;
    return stat(file, &sb) ? 0 : (size_t)sb.st_size;
}

static uint8_t *slurp(const char *file, size_t *n)
{
    *n = file_size(file);
    uint8_t *b = malloc(*n + 1);
    int fd = open(file, O_RDONLY);
    CHECK(fd >= 0 && read(fd, b, *n) == (ssize_t)*n);
    close(fd);
    return b;
}

static void spill(const char *file, const uint8_t *b, size_t n)
{
    int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0 && write(fd, b, n) == (ssize_t)n);
    close(fd);
}

static void test_messages_come_back_in_order_with_their_flow_state(void)
{
    int rc;
    fresh_dir();
    lmq_store *st = open_as(path, "pub-1", &rc);
    CHECK_INT(rc, 0);
    CHECK_INT(add(st, 1, 1, "a/b", "one"), 0);
    CHECK_INT(add(st, 2, 2, "a/c", "two"), 0);
    CHECK_INT(add(st, 3, 2, "a/d", ""), 0);
    CHECK_INT(lmq_store_set_state(st, 1, LMQ_STORE_SENT, 7), 0);
    CHECK_INT(lmq_store_set_state(st, 2, LMQ_STORE_SENT, 8), 0);
    CHECK_INT(lmq_store_set_state(st, 2, LMQ_STORE_RELEASED, 8), 0);
    CHECK_INT(lmq_store_sync(st), 0);
    lmq_store_close(st);

    st = open_as(path, "pub-1", &rc);
    CHECK_INT(rc, 0);
    CHECK_INT(lmq_store_count(st), 3);
    const lmq_store_msg *m = lmq_store_first(st);
    CHECK(m && m->msg_id == 1 && m->qos == 1 && m->state == LMQ_STORE_SENT &&
          m->packet_id == 7 && m->tlen == 3 && !memcmp(m->topic, "a/b", 3) &&
          m->plen == 3 && !memcmp(m->payload, "one", 3));
    m = m ? m->next : NULL;
    CHECK(m && m->msg_id == 2 && m->qos == 2 && m->state == LMQ_STORE_RELEASED &&
          m->packet_id == 8);
    m = m ? m->next : NULL;
    CHECK(m && m->msg_id == 3 && m->state == LMQ_STORE_QUEUED && m->plen == 0);
    /* the allocators continue where they were */
    CHECK_INT(lmq_store_next_msg_id(st), 4);
    CHECK_INT(lmq_store_next_pid(st), 9);
    lmq_store_close(st);
    remove_dir();
}

static void test_completed_messages_are_gone_after_reload(void)
{
    int rc;
    fresh_dir();
    lmq_store *st = open_as(path, "pub-1", &rc);
    CHECK_INT(add(st, 1, 1, "t", "x"), 0);
    CHECK_INT(add(st, 2, 1, "t", "y"), 0);
    CHECK_INT(lmq_store_remove(st, 1), 0);
    CHECK_INT(lmq_store_remove(st, 1), LMQ_EINVAL);     /* unknown: no record */
    CHECK_INT(add(st, 2, 1, "t", "y"), LMQ_EINVAL);     /* duplicate id */
    lmq_store_close(st);                                /* close writes and syncs */
    st = open_as(path, "pub-1", &rc);
    CHECK_INT(rc, 0);
    CHECK_INT(lmq_store_count(st), 1);
    CHECK(lmq_store_first(st) && lmq_store_first(st)->msg_id == 2);
    lmq_store_close(st);
    remove_dir();
}

static void test_incoming_qos2_ids_survive_reload_until_released(void)
{
    int rc;
    fresh_dir();
    lmq_store *st = open_as(path, "sub-1", &rc);
    CHECK_INT(lmq_store_in_set(st, 5, 1), 0);
    CHECK_INT(lmq_store_in_set(st, 65535, 1), 0);
    CHECK_INT(lmq_store_in_set(st, 6, 1), 0);
    CHECK_INT(lmq_store_in_set(st, 6, 0), 0);
    CHECK_INT(lmq_store_in_set(st, 0, 1), LMQ_EINVAL);
    CHECK_INT(lmq_store_write(st), 0);
    lmq_store_close(st);
    st = open_as(path, "sub-1", &rc);
    CHECK(lmq_store_in_held(st, 5) && lmq_store_in_held(st, 65535));
    CHECK(!lmq_store_in_held(st, 6));
    CHECK_INT(lmq_store_in_clear(st), 0);
    lmq_store_close(st);
    st = open_as(path, "sub-1", &rc);
    CHECK(!lmq_store_in_held(st, 5) && !lmq_store_in_held(st, 65535));
    lmq_store_close(st);
    remove_dir();
}

/*
 * Cut the file at every byte offset past the header: the store loads the
 * records that are whole before the cut, drops the rest with a log line
 * (never at a record boundary) and truncates the file to what it kept, so
 * the next append follows a whole record.
 */
static void test_torn_tail_at_every_byte_offset_keeps_the_whole_records(void)
{
    int rc;
    size_t bound[8];
    int nb = 0;
    fresh_dir();
    lmq_store *st = open_as(path, "pub-1", &rc);
    bound[nb++] = file_size(path);              /* header + META */
    for (int i = 1; i <= 4; i++) {
        CHECK_INT(add(st, i, 1 + (i & 1), "some/topic", "payload bytes"), 0);
        CHECK_INT(lmq_store_write(st), 0);
        bound[nb++] = file_size(path);
    }
    CHECK_INT(lmq_store_remove(st, 2), 0);
    CHECK_INT(lmq_store_write(st), 0);
    bound[nb++] = file_size(path);
    lmq_store_close(st);

    size_t n;
    uint8_t *whole = slurp(path, &n);
    char copy[160];
    snprintf(copy, sizeof copy, "%s/copy.lmqs", dir);
    int bad = 0;
    for (size_t cut = bound[0]; cut <= n; cut++) {
        int k = 0;          /* records (after the first bound) wholly kept */
        while (k + 1 < nb && bound[k + 1] <= cut)
            k++;
        spill(copy, whole, cut);
        logged = 0;
        st = open_as(copy, "pub-1", &rc);
        uint32_t want = k <= 4 ? (uint32_t)k : 3;
        int at_bound = bound[k] == cut;
        if (rc != 0 || lmq_store_count(st) != want || (logged != 0) == at_bound ||
            file_size(copy) != bound[k]) {
            fprintf(stderr, "cut at %zu: rc %d count %u logged %d size %zu\n", cut, rc,
                    lmq_store_count(st), logged, file_size(copy));
            bad++;
        }
        /* what comes after the dropped tail loads too */
        CHECK_INT(add(st, 100, 1, "t", "after"), 0);
        lmq_store_close(st);
        st = open_as(copy, "pub-1", &rc);
        CHECK_INT(rc, 0);
        CHECK_INT(lmq_store_count(st), want + 1);
        lmq_store_close(st);
    }
    CHECK_INT(bad, 0);
    free(whole);
    remove_dir();
}

static void test_flipped_bit_in_the_last_record_drops_it_as_torn(void)
{
    int rc;
    fresh_dir();
    lmq_store *st = open_as(path, "pub-1", &rc);
    CHECK_INT(add(st, 1, 1, "t", "keep"), 0);
    CHECK_INT(add(st, 2, 1, "t", "lose"), 0);
    lmq_store_close(st);
    size_t n;
    uint8_t *b = slurp(path, &n);
    b[n - 2] ^= 0x10;                           /* inside the last payload */
    spill(path, b, n);
    free(b);
    logged = 0;
    st = open_as(path, "pub-1", &rc);
    CHECK_INT(rc, 0);
    CHECK_INT(lmq_store_count(st), 1);
    CHECK_INT(logged, 1);
    lmq_store_close(st);
    remove_dir();
}

static void test_file_of_another_client_id_is_refused(void)
{
    int rc;
    fresh_dir();
    lmq_store *st = open_as(path, "pub-1", &rc);
    CHECK_INT(add(st, 1, 1, "t", "x"), 0);
    lmq_store_close(st);
    char err[300];
    st = NULL;
    rc = lmq_store_open(&st, path, (const uint8_t *)"pub-2", 5, LMQ_DURABILITY_FSYNC, NULL,
                        NULL, err, sizeof err);
    CHECK_INT(rc, LMQ_ESTORE_CLIENT_ID);
    CHECK(st == NULL);
    CHECK(strstr(err, "pub-1") && strstr(err, "pub-2"));
    /* refused, not rewritten: the owner still finds its message */
    st = open_as(path, "pub-1", &rc);
    CHECK_INT(lmq_store_count(st), 1);
    lmq_store_close(st);
    remove_dir();
}

static void test_file_of_another_version_is_refused(void)
{
    int rc;
    fresh_dir();
    lmq_store_close(open_as(path, "pub-1", &rc));
    size_t n;
    uint8_t *b = slurp(path, &n);
    b[8] = 99;                                  /* version 99, CRC made right */
    uint32_t crc = 0xFFFFFFFFu;
    size_t h = 8 + 6 + 5;
    for (size_t i = 0; i < h; i++) {
        crc ^= b[i];
        for (int k = 0; k < 8; k++)
            crc = crc & 1 ? 0xEDB88320u ^ (crc >> 1) : crc >> 1;
    }
    crc = ~crc;
    for (int i = 0; i < 4; i++)
        b[h + (size_t)i] = (uint8_t)(crc >> (8 * i));
    spill(path, b, n);
    free(b);
    char err[300];
    lmq_store *st = NULL;
    rc = lmq_store_open(&st, path, (const uint8_t *)"pub-1", 5, LMQ_DURABILITY_FSYNC, NULL,
                        NULL, err, sizeof err);
    CHECK_INT(rc, LMQ_ESTORE_VERSION);
    CHECK(strstr(err, "version 99") != NULL);
    remove_dir();
}

static void test_damaged_header_or_foreign_file_is_corrupt(void)
{
    int rc;
    fresh_dir();
    lmq_store_close(open_as(path, "pub-1", &rc));
    size_t n;
    uint8_t *b = slurp(path, &n);
    b[10] ^= 1;                                 /* id length: CRC fails */
    spill(path, b, n);
    lmq_store *st = open_as(path, "pub-1", &rc);
    CHECK_INT(rc, LMQ_ESTORE_CORRUPT);
    CHECK(st == NULL);
    spill(path, (const uint8_t *)"hello world, not a store", 24);
    st = open_as(path, "pub-1", &rc);
    CHECK_INT(rc, LMQ_ESTORE_CORRUPT);
    free(b);
    remove_dir();
}

/* A record whose CRC holds but which contradicts the state (here: complete
 * a message never added) is damage, not a torn write. */
static void test_whole_record_that_makes_no_sense_is_corrupt(void)
{
    int rc;
    fresh_dir();
    lmq_store *st = open_as(path, "pub-1", &rc);
    CHECK_INT(add(st, 1, 1, "t", "x"), 0);
    CHECK_INT(lmq_store_remove(st, 1), 0);
    lmq_store_close(st);
    size_t n;
    uint8_t *b = slurp(path, &n);
    /* the file ends with REMOVE(1): append a copy of it (a valid record) */
    uint8_t *c = malloc(n + 13);
    memcpy(c, b, n);
    memcpy(c + n, b + n - 13, 13);
    spill(path, c, n + 13);
    st = open_as(path, "pub-1", &rc);
    CHECK_INT(rc, LMQ_ESTORE_CORRUPT);
    free(b);
    free(c);
    remove_dir();
}


/* Two clients on one file would interleave records: the second is
 * refused, and may open it once the first has closed. */
static void test_file_in_use_by_another_client_is_refused(void)
{
    int rc;
    char err[300];
    lmq_store *other = NULL;
    fresh_dir();
    lmq_store *st = open_as(path, "pub-1", &rc);
    CHECK_INT(rc, 0);
    rc = lmq_store_open(&other, path, (const uint8_t *)"pub-1", 5, LMQ_DURABILITY_FSYNC, NULL,
                        NULL, err, sizeof err);
    CHECK_INT(rc, LMQ_ESTORE_IO);
    CHECK(strstr(err, "in use") != NULL);
    CHECK_INT(lmq_store_compact(st), 0);         /* the lock follows the new file */
    rc = lmq_store_open(&other, path, (const uint8_t *)"pub-1", 5, LMQ_DURABILITY_FSYNC, NULL,
                        NULL, err, sizeof err);
    CHECK_INT(rc, LMQ_ESTORE_IO);
    lmq_store_close(st);
    st = open_as(path, "pub-1", &rc);
    CHECK_INT(rc, 0);
    lmq_store_close(st);
    remove_dir();
}

static void test_file_is_created_mode_0600(void)
{
    int rc;
    struct stat sb;
    fresh_dir();
    mode_t old = umask(0);
    lmq_store *st = open_as(path, "pub-1", &rc);
    umask(old);
    CHECK_INT(rc, 0);
    CHECK(stat(path, &sb) == 0);
    CHECK_INT(sb.st_mode & 0777, 0600);
    lmq_store_close(st);
    remove_dir();
}

static void test_compaction_keeps_live_state_and_shrinks_the_file(void)
{
    int rc;
    char big[1000];
    memset(big, 'p', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    fresh_dir();
    lmq_store *st = open_as(path, "pub-1", &rc);
    lmq_store_set_compact_min(st, 64 * 1024);
    for (int32_t i = 1; i <= 1000; i++) {
        CHECK_INT(add(st, i, 2, "bulk", big), 0);
        CHECK_INT(lmq_store_set_state(st, i, LMQ_STORE_SENT, (uint16_t)i), 0);
        if (i > 3)
            CHECK_INT(lmq_store_remove(st, i - 3), 0);
        CHECK_INT(lmq_store_sync(st), 0);
    }
    CHECK_INT(lmq_store_set_state(st, 999, LMQ_STORE_RELEASED, 999), 0);
    CHECK_INT(lmq_store_in_set(st, 42, 1), 0);
    CHECK_INT(lmq_store_sync(st), 0);
    CHECK(file_size(path) < 64 * 1024 + 4096);  /* compacted on the way */
    CHECK_INT(lmq_store_compact(st), 0);
    CHECK(file_size(path) < 4 * 1100);
    lmq_store_close(st);
    st = open_as(path, "pub-1", &rc);
    CHECK_INT(rc, 0);
    CHECK_INT(lmq_store_count(st), 3);
    const lmq_store_msg *m = lmq_store_first(st);
    CHECK(m && m->msg_id == 998 && m->state == LMQ_STORE_SENT && m->packet_id == 998);
    m = m ? m->next : NULL;
    CHECK(m && m->msg_id == 999 && m->state == LMQ_STORE_RELEASED && m->plen == 999);
    CHECK(lmq_store_in_held(st, 42));
    CHECK_INT(lmq_store_next_msg_id(st), 1001);
    CHECK_INT(lmq_store_next_pid(st), 1001);
    lmq_store_close(st);
    remove_dir();
}

static void test_allocator_state_is_kept(void)
{
    int rc;
    fresh_dir();
    lmq_store *st = open_as(path, "pub-1", &rc);
    CHECK_INT(lmq_store_set_next(st, 5000, 65535), 0);
    lmq_store_close(st);
    st = open_as(path, "pub-1", &rc);
    CHECK_INT(lmq_store_next_msg_id(st), 5000);
    CHECK_INT(lmq_store_next_pid(st), 65535);
    lmq_store_close(st);
    remove_dir();
}

static void test_os_durability_survives_reopen(void)
{
    lmq_store *st = NULL;
    fresh_dir();
    CHECK_INT(lmq_store_open(&st, path, (const uint8_t *)"x", 1, LMQ_DURABILITY_OS, NULL,
                             NULL, NULL, 0), 0);
    CHECK_INT(add(st, 1, 1, "t", "x"), 0);
    CHECK_INT(lmq_store_sync(st), 0);
    CHECK(!lmq_store_dirty(st));
    lmq_store_close(st);
    CHECK_INT(lmq_store_open(&st, path, (const uint8_t *)"x", 1, 7, NULL, NULL, NULL, 0),
              LMQ_EINVAL);
    int rc;
    st = open_as(path, "x", &rc);
    CHECK_INT(lmq_store_count(st), 1);
    lmq_store_close(st);
    remove_dir();
}


/* ------------------------------------------- the session over the store */

/* With LMQ_DURABILITY_FSYNC (the default) the bytes and events that wait
 * for the fsync thread come out once it has covered their records:
 * settle() writes what is buffered and waits for that fsync, so what the
 * tests read next is all there is. */
static void settle(fx *f)
{
    (void)lmq_session_out(f->s, NULL);
    if (f->s->store)
        CHECK_INT(lmq_store_sync(f->s->store), 0);
}

static int dnext(fx *f)
{
    settle(f);
    return fx_next(f);
}

static int devents(fx *f)
{
    settle(f);
    return fx_events(f);
}

static void dskip(fx *f)
{
    settle(f);
    fx_skip_all(f);
}

static fx fxa;

static void durable_session(fx *f)
{
    fx_init(f, 5);
    CHECK_INT(lmq_session_set_str(f->s, LMQ_OPT_STATE_DIR, (const uint8_t *)dir,
                                  strlen(dir)), 0);
    CHECK_INT(lmq_session_set_int(f->s, LMQ_OPT_CLEAN_START, 0), 0);
    CHECK_INT(lmq_session_set_int(f->s, LMQ_OPT_SESSION_EXPIRY, 3600), 0);
}

/* Run fn in a child that ends with _exit, as kill -9 would end it: no
 * close, no free, nothing flushed on the way out. */
static void in_crashing_child(void (*fn)(void))
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        check_failed_now = 0;
        fn();
        _exit(check_failed_now ? 1 : 0);
    }
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void publisher_life(void)
{
    fx *f = &fxa;
    durable_session(f);
    fx_connect(f, 0);
    CHECK_INT(fx_pub(f, "t", "m1", 1), 1);
    CHECK_INT(fx_pub(f, "t", "m2", 2), 2);
    CHECK_INT(fx_pub(f, "t", "m3", 2), 3);
    CHECK_INT(fx_pub(f, "t", "m4", 1), 4);
    dskip(f);                             /* PUBLISH ids 1..4 went */
    lmq_packet a = fx_ack(LMQ_PUBREC, 2, 0);
    CHECK_INT(fx_feed(f, &a), 0);
    CHECK_INT(dnext(f), LMQ_PUBREL);          /* the file knew first */
    a = fx_ack(LMQ_PUBACK, 1, 0);
    CHECK_INT(fx_feed(f, &a), 0);
    dskip(f);
    /* accepted, but its PUBLISH never left the process */
    CHECK_INT(fx_pub(f, "t", "m5", 1), 5);
}

/*
 * A publisher dies with QoS 1 and 2 messages at every stage; the next
 * process, same state directory, resumes on a session the server kept:
 * PUBREL for the one PUBREC'd [MQTT-4.3.3-6], the PUBLISH unacknowledged
 * again with DUP and their ids [MQTT-3.3.1-1] [MQTT-4.4.0-1], in order,
 * then the one never sent, as new; the completed one is not resent.
 */
static void test_session_resumes_what_a_killed_process_had_in_flight(void)
{
    fresh_dir();
    in_crashing_child(publisher_life);
    fx *f = &fxa;
    durable_session(f);
    fx_connect(f, 1);
    CHECK_INT(dnext(f), LMQ_PUBREL);
    CHECK_INT(f->pkt.u.ack.packet_id, 2);
    CHECK_INT(dnext(f), LMQ_PUBLISH);
    CHECK(f->pkt.u.publish.dup && f->pkt.u.publish.packet_id == 3 &&
          f->pkt.u.publish.qos == 2 && f->pkt.u.publish.payload.n == 2 &&
          !memcmp(f->pkt.u.publish.payload.p, "m3", 2));
    CHECK_INT(dnext(f), LMQ_PUBLISH);
    CHECK(f->pkt.u.publish.dup && f->pkt.u.publish.packet_id == 4);
    CHECK_INT(dnext(f), LMQ_PUBLISH);
    CHECK(!f->pkt.u.publish.dup && f->pkt.u.publish.packet_id == 5 &&
          !memcmp(f->pkt.u.publish.payload.p, "m5", 2));
    CHECK_INT(dnext(f), 0);
    /* the flows finish as usual, completions carry the old message ids */
    lmq_packet a = fx_ack(LMQ_PUBCOMP, 2, 0);
    CHECK_INT(fx_feed(f, &a), 0);
    a = fx_ack(LMQ_PUBACK, 4, 0);
    CHECK_INT(fx_feed(f, &a), 0);
    devents(f);
    CHECK_INT(fx_count(f, LMQ_EV_PUBLISHED), 2);
    /* new messages take ids after the restored ones */
    CHECK_INT(fx_pub(f, "t", "m6", 1), 6);
    dskip(f);
    fx_free(f);

    int rc;
    char file[160];
    snprintf(file, sizeof file, "%s/c1.lmqs", dir);
    lmq_store *st = open_as(file, "c1", &rc);
    CHECK_INT(rc, 0);
    CHECK_INT(lmq_store_count(st), 3);          /* m3, m5, m6 */
    lmq_store_close(st);
    unlink(file);
    remove_dir();
}

/* The server forgot the session: what was unacknowledged goes as new
 * messages (new ids, no DUP), the PUBREC'd one counts as delivered. */
static void test_session_not_present_after_restart_sends_them_as_new(void)
{
    fresh_dir();
    in_crashing_child(publisher_life);
    fx *f = &fxa;
    durable_session(f);
    fx_connect(f, 0);
    int n = 0, dup = 0;
    while (dnext(f) == LMQ_PUBLISH) {
        n++;
        dup += f->pkt.u.publish.dup;
    }
    CHECK_INT(n, 3);                            /* m3, m4, m5 */
    CHECK_INT(dup, 0);
    CHECK_INT(fx_count(f, LMQ_EV_PUBLISHED), 1);   /* m2: the server had it */
    fx_free(f);
    char file[160];
    snprintf(file, sizeof file, "%s/c1.lmqs", dir);
    unlink(file);
    remove_dir();
}

static void subscriber_life(void)
{
    fx *f = &fxa;
    durable_session(f);
    fx_connect(f, 0);
    lmq_packet p = fx_publish("in", "once", 2, 9);
    CHECK_INT(fx_feed(f, &p), 0);
    devents(f);
    CHECK_INT(fx_count(f, LMQ_EV_MESSAGE), 1);
    CHECK_INT(dnext(f), LMQ_PUBREC);
}

/* A QoS 2 message PUBREC'd before the crash is not delivered again when
 * the server resends it to the next process [MQTT-4.3.3-10]. */
static void test_incoming_qos2_is_delivered_once_across_a_restart(void)
{
    fresh_dir();
    in_crashing_child(subscriber_life);
    fx *f = &fxa;
    durable_session(f);
    fx_connect(f, 1);
    lmq_packet p = fx_publish("in", "once", 2, 9);
    p.u.publish.dup = 1;
    CHECK_INT(fx_feed(f, &p), 0);
    devents(f);
    CHECK_INT(fx_count(f, LMQ_EV_MESSAGE), 0);
    CHECK_INT(dnext(f), LMQ_PUBREC);
    lmq_packet a = fx_ack(LMQ_PUBREL, 9, 0);
    CHECK_INT(fx_feed(f, &a), 0);
    CHECK_INT(dnext(f), LMQ_PUBCOMP);
    CHECK_INT(f->pkt.u.ack.reason, 0);
    fx_free(f);
    char file[160];
    snprintf(file, sizeof file, "%s/c1.lmqs", dir);
    unlink(file);
    remove_dir();
}


static void test_properties_bytes_come_back_also_after_compaction(void)
{
    int rc;
    fresh_dir();
    lmq_store *st = open_as(path, "pub-1", &rc);
    CHECK_INT(lmq_store_add(st, 1, 2, 1, (const uint8_t *)"t", 1, (const uint8_t *)"pl", 2,
                            (const uint8_t *)"PROPS", 5), 0);
    lmq_store_close(st);
    for (int round = 0; round < 2; round++) {
        st = open_as(path, "pub-1", &rc);
        const lmq_store_msg *m = lmq_store_first(st);
        CHECK(m && m->retain == 1 && m->plen == 2 && !memcmp(m->payload, "pl", 2) &&
              m->prlen == 5 && !memcmp(m->props, "PROPS", 5));
        CHECK_INT(lmq_store_compact(st), 0);
        lmq_store_close(st);
    }
    remove_dir();
}

static void offline_publisher_with_properties(void)
{
    fx *f = &fxa;
    durable_session(f);
    lmq_proplist *pl = lmq_proplist_new();
    CHECK_INT(lmq_proplist_add_user(pl, "k", 1, "v", 1), 0);
    CHECK_INT(lmq_proplist_add_str(pl, LMQ_PROP_CONTENT_TYPE, "text/x", -1), 0);
    CHECK_INT(lmq_proplist_add_int(pl, LMQ_PROP_MESSAGE_EXPIRY, 600), 0);
    CHECK_INT(lmq_session_publish(f->s, (const uint8_t *)"t", 1, (const uint8_t *)"p", 1, 2,
                                  0, pl, f->now), 1);
    lmq_proplist_free(pl);
}

/* A message accepted while offline keeps its MQTT 5 properties across the
 * restart. */
static void test_restored_message_keeps_its_properties(void)
{
    fresh_dir();
    in_crashing_child(offline_publisher_with_properties);
    fx *f = &fxa;
    durable_session(f);
    fx_connect(f, 0);
    CHECK_INT(dnext(f), LMQ_PUBLISH);
    const lmq_props *pr = &f->pkt.u.publish.props;
    /* (the decoder leaves User Properties in the raw block) */
    CHECK(f->pkt.u.publish.qos == 2 && pr->n_user == 1 &&
          memmem(pr->raw.p, pr->raw.n, "\x26\x00\x01k\x00\x01v", 7) != NULL &&
          pr->content_type.n == 6 && !memcmp(pr->content_type.p, "text/x", 6) &&
          pr->message_expiry == 600);
    fx_free(f);
    char file[160];
    snprintf(file, sizeof file, "%s/c1.lmqs", dir);
    unlink(file);
    remove_dir();
}


static void disk_full_life(void)
{
    fx *f = &fxa;
    static char big[20000];
    memset(big, 'b', sizeof big - 1);
    durable_session(f);
    fx_connect(f, 0);
    CHECK_INT(fx_pub(f, "t", "small", 1), 1);
    dskip(f);
    /* the file may not grow past 8 KiB from here: write() fails (EFBIG) */
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = { 8192, 8192 };
    CHECK(setrlimit(RLIMIT_FSIZE, &rl) == 0);
    CHECK_INT(fx_pub(f, "t", big, 1), LMQ_ESTORE_IO);   /* not accepted */
    CHECK(strstr(lmq_session_errmsg(f->s), "write") != NULL);
    devents(f);
    const lmq_event *e = fx_find(f, LMQ_EV_ERROR);
    CHECK(e && e->error == LMQ_ESTORE_IO);
    /* from here on the session is not durable, and says so once */
    CHECK(fx_pub(f, "t", "later", 1) > 0);
    dskip(f);
    devents(f);
    CHECK_INT(fx_count(f, LMQ_EV_ERROR), 0);
    CHECK_INT(dnext(f), 0);
}

/* A state file that cannot be written: the publish that needed it fails
 * with LMQ_ESTORE_IO, an LMQ_EV_ERROR says durability ended, and what was
 * written before still loads (the torn record is dropped). */
static void test_write_failure_refuses_the_publish_and_ends_durability(void)
{
    fresh_dir();
    in_crashing_child(disk_full_life);
    int rc;
    char file[160];
    snprintf(file, sizeof file, "%s/c1.lmqs", dir);
    logged = 0;
    lmq_store *st = open_as(file, "c1", &rc);
    CHECK_INT(rc, 0);
    CHECK_INT(lmq_store_count(st), 1);          /* "small", never acked */
    CHECK(lmq_store_first(st) && lmq_store_first(st)->plen == 5);
    lmq_store_close(st);
    unlink(file);
    remove_dir();
}

static void test_state_dir_without_client_id_is_refused(void)
{
    fresh_dir();
    fx *f = &fxa;
    durable_session(f);
    CHECK_INT(lmq_session_set_str(f->s, LMQ_OPT_CLIENT_ID, NULL, 0), 0);
    CHECK_INT(fx_pub(f, "t", "x", 1), LMQ_EINVAL);
    CHECK(strstr(lmq_session_errmsg(f->s), "client id") != NULL);
    CHECK_INT(lmq_session_set_int(f->s, LMQ_OPT_DURABILITY, 9), LMQ_EINVAL);
    CHECK_INT(lmq_session_set_int(f->s, LMQ_OPT_DURABILITY, LMQ_DURABILITY_OS), 0);
    fx_free(f);
    remove_dir();
}

/* Group commit: lmq_store_commit writes and returns without waiting for
 * the disk; one fsync then covers every record written before it. */
static void test_commit_does_not_wait_for_the_fsync_that_covers_it(void)
{
    int rc;
    fresh_dir();
    lmq_store *st = open_as(path, "gc", &rc);
    CHECK_INT(rc, 0);
    uint64_t d0 = lmq_store_durable_lsn(st);
    lmq_store_pause_sync(st, 1);
    for (int i = 1; i <= 100; i++) {
        CHECK_INT(add(st, i, 1 + i % 2, "t", "payload"), 0);
        CHECK_INT(lmq_store_commit(st), 0);
    }
    /* all written (kill -9 safe), none synced yet, a sync asked for */
    CHECK(lmq_store_lsn(st) > d0);
    CHECK(lmq_store_durable_lsn(st) == d0);
    CHECK(lmq_store_requested_lsn(st) == lmq_store_lsn(st));
    lmq_store_pause_sync(st, 0);
    CHECK_INT(lmq_store_sync(st), 0);
    CHECK(lmq_store_durable_lsn(st) == lmq_store_lsn(st));
    lmq_store_close(st);
    st = open_as(path, "gc", &rc);
    CHECK_INT(lmq_store_count(st), 100);
    lmq_store_close(st);
    remove_dir();
}

/*
 * FSYNC mode holds back exactly what must not leave before its record is
 * on disk (store.h): a QoS 2 PUBLISH with its new id, a PUBREL, a PUBREC,
 * a PUBCOMP.  A QoS 1 PUBLISH, its PUBACK and the deliveries go at once
 * (an incoming QoS 2 message is PUBREC'd when pulled).  While something
 * is held the session asks to be called back in 1 ms.
 */
static void test_fsync_mode_holds_only_what_needs_the_disk(void)
{
    fresh_dir();
    fx *f = &fxa;
    durable_session(f);
    fx_connect(f, 0);
    lmq_store *st = f->s->store;
    CHECK(st != NULL);
    lmq_store_pause_sync(st, 1);

    CHECK_INT(fx_pub(f, "t", "q1", 1), 1);
    CHECK_INT(fx_next(f), LMQ_PUBLISH);             /* at once */
    CHECK_INT(f->pkt.u.publish.qos, 1);
    CHECK_INT(fx_pub(f, "t", "q2", 2), 2);
    CHECK_INT(fx_next(f), 0);                       /* held */
    CHECK(lmq_session_deadline(f->s) <= f->now + 1);
    lmq_store_pause_sync(st, 0);
    CHECK_INT(dnext(f), LMQ_PUBLISH);
    CHECK(f->pkt.u.publish.qos == 2 && f->pkt.u.publish.packet_id == 2);

    lmq_store_pause_sync(st, 1);
    lmq_packet a = fx_ack(LMQ_PUBREC, 2, 0);
    CHECK_INT(fx_feed(f, &a), 0);
    CHECK_INT(fx_next(f), 0);                       /* PUBREL held */
    lmq_store_pause_sync(st, 0);
    CHECK_INT(dnext(f), LMQ_PUBREL);

    lmq_store_pause_sync(st, 1);
    lmq_packet p = fx_publish("in", "one", 1, 7);
    CHECK_INT(fx_feed(f, &p), 0);
    fx_events(f);
    CHECK_INT(fx_count(f, LMQ_EV_MESSAGE), 1);      /* QoS 1: at once */
    CHECK_INT(fx_next(f), LMQ_PUBACK);
    p = fx_publish("in", "two", 2, 8);
    CHECK_INT(fx_feed(f, &p), 0);
    CHECK_INT(fx_next(f), 0);                       /* not before it is pulled */
    fx_events(f);
    CHECK_INT(fx_count(f, LMQ_EV_MESSAGE), 1);      /* delivered at once */
    CHECK_INT(fx_next(f), 0);                       /* its PUBREC held */
    lmq_store_pause_sync(st, 0);
    CHECK_INT(dnext(f), LMQ_PUBREC);

    lmq_store_pause_sync(st, 1);
    a = fx_ack(LMQ_PUBREL, 8, 0);
    CHECK_INT(fx_feed(f, &a), 0);
    CHECK_INT(fx_next(f), 0);                       /* PUBCOMP held */
    lmq_store_pause_sync(st, 0);
    CHECK_INT(dnext(f), LMQ_PUBCOMP);
    CHECK_INT(f->pkt.u.ack.reason, 0);
    CHECK(!lmq_durable_waiting(f->s));
    fx_free(f);
    char file[160];
    snprintf(file, sizeof file, "%s/c1.lmqs", dir);
    unlink(file);
    remove_dir();
}

/*
 * The connection drops while a record waits for its fsync: the bytes held
 * for it go with the connection, and what the next one resends on the
 * strength of that record waits for the same fsync: the PUBREL of a
 * PUBREC'd message (a power loss would otherwise restart it as "sent" and
 * resend the PUBLISH after its PUBREL [MQTT-4.3.3-6]), the PUBREC answering
 * a resent QoS 2 PUBLISH whose id was just recorded.
 */
static void test_resends_after_a_reconnect_wait_for_the_pending_fsync(void)
{
    fresh_dir();
    fx *f = &fxa;
    durable_session(f);
    fx_connect(f, 0);
    lmq_store *st = f->s->store;
    CHECK(st != NULL);
    CHECK_INT(fx_pub(f, "t", "q2", 2), 1);
    CHECK_INT(dnext(f), LMQ_PUBLISH);
    lmq_packet p = fx_publish("in", "two", 2, 8);
    CHECK_INT(fx_feed(f, &p), 0);
    dskip(f);

    lmq_store_pause_sync(st, 1);
    lmq_packet a = fx_ack(LMQ_PUBREC, 1, 0);
    CHECK_INT(fx_feed(f, &a), 0);
    fx_events(f);                                   /* pulled: id 8 recorded */
    CHECK_INT(fx_next(f), 0);                       /* PUBREL, PUBREC held */
    fx_reconnect(f);
    CHECK_INT(lmq_session_start(f->s, f->now), 0);
    CHECK_INT(fx_next(f), LMQ_CONNECT);             /* rests on no record */
    lmq_packet ca = fx_connack(1, 0);
    CHECK_INT(fx_feed(f, &ca), 0);
    p.flags |= 8;                                   /* the server's resend, DUP */
    CHECK_INT(fx_feed(f, &p), 0);
    fx_events(f);
    CHECK_INT(fx_count(f, LMQ_EV_MESSAGE), 0);      /* not delivered again */
    CHECK_INT(fx_next(f), 0);                       /* still held */
    CHECK(lmq_session_out_held(f->s));
    lmq_store_pause_sync(st, 0);
    CHECK_INT(dnext(f), LMQ_PUBREL);
    CHECK_INT(f->pkt.u.ack.packet_id, 1);
    CHECK_INT(fx_next(f), LMQ_PUBREC);
    CHECK_INT(f->pkt.u.ack.packet_id, 8);
    fx_free(f);
    char file[160];
    snprintf(file, sizeof file, "%s/c1.lmqs", dir);
    unlink(file);
    remove_dir();
}

/* The descriptor this process has open on file name, or -1. */
static int fd_of(const char *name)
{
    char link[64], target[256];
    for (int fd = 0; fd < 1024; fd++) {
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (n <= 0)
            continue;
        target[n] = '\0';
        if (strcmp(target, name) == 0)
            return fd;
    }
    return -1;
}

/*
 * The fsync thread's fdatasync fails (here for real: the state file's
 * descriptor now names /dev/null, which takes writes and refuses
 * fdatasync with EINVAL).  The QoS 2 PUBLISH held for it must not wait for
 * ever: the session learns the failure without a new record to write,
 * says so (LMQ_EV_ERROR, LMQ_ESTORE_IO), gives the store up, and the
 * PUBLISH goes.  A message that came before and is pulled after is still
 * acknowledged at its pull.
 */
static void test_failed_fsync_releases_what_it_held_and_says_so(void)
{
    fresh_dir();
    fx *f = &fxa;
    durable_session(f);
    fx_connect(f, 0);
    lmq_store *st = f->s->store;
    CHECK(st != NULL);
    char file[160], real[PATH_MAX];
    snprintf(file, sizeof file, "%s/c1.lmqs", dir);
    CHECK(realpath(file, real) != NULL);
    int fd = fd_of(real), null = open("/dev/null", O_WRONLY);
    CHECK(fd >= 0 && null >= 0);
    /* a QoS 2 message arrives, to be acknowledged when pulled */
    lmq_packet in = fx_publish("in", "two", 2, 9);
    CHECK_INT(fx_feed(f, &in), 0);
    lmq_store_pause_sync(st, 1);
    CHECK_INT(fx_pub(f, "t", "q2", 2), 1);
    CHECK_INT(fx_next(f), 0);                       /* held for the fsync */
    CHECK(dup2(null, fd) == fd);
    close(null);
    lmq_store_pause_sync(st, 0);                    /* the fdatasync fails */
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        sched_yield();
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while (!lmq_store_sync_failed(st) && t.tv_sec - t0.tv_sec < 3);
    CHECK(lmq_store_sync_failed(st));
    CHECK_INT(fx_next(f), LMQ_PUBLISH);             /* no longer held */
    CHECK(f->s->store == NULL);
    fx_events(f);
    const lmq_event *e = fx_find(f, LMQ_EV_ERROR);
    CHECK(e != NULL && e->error == LMQ_ESTORE_IO);
    CHECK(!lmq_session_out_held(f->s));
    /* the message pulled after the store was given up is still
     * acknowledged at its pull [MQTT-4.3.3-8] */
    CHECK_INT(fx_count(f, LMQ_EV_MESSAGE), 1);
    CHECK_INT(fx_next(f), LMQ_PUBREC);
    CHECK_INT(f->pkt.u.ack.packet_id, 9);
    fx_free(f);
    unlink(file);
    remove_dir();
}

/* LMQ_DURABILITY_OS trusts the page cache: written is enough, nothing
 * waits, not even QoS 2. */
static void test_os_mode_holds_nothing(void)
{
    fresh_dir();
    fx *f = &fxa;
    durable_session(f);
    CHECK_INT(lmq_session_set_int(f->s, LMQ_OPT_DURABILITY, LMQ_DURABILITY_OS), 0);
    fx_connect(f, 0);
    CHECK_INT(fx_pub(f, "t", "q2", 2), 1);
    CHECK_INT(fx_next(f), LMQ_PUBLISH);
    lmq_packet p = fx_publish("in", "two", 2, 8);
    CHECK_INT(fx_feed(f, &p), 0);
    fx_events(f);
    CHECK_INT(fx_count(f, LMQ_EV_MESSAGE), 1);
    CHECK_INT(fx_next(f), LMQ_PUBREC);              /* written, not waited for */
    fx_free(f);
    char file[160];
    snprintf(file, sizeof file, "%s/c1.lmqs", dir);
    unlink(file);
    remove_dir();
}

/* Granted subscriptions come back after a reload and after compaction, in
 * the order first granted; the same filter replaces its entry, an
 * unsubscribed one is gone. */
static void test_subscriptions_survive_reload_and_compaction(void)
{
    int rc;
    fresh_dir();
    lmq_store *st = open_as(path, "subs", &rc);
    CHECK_INT(rc, 0);
    CHECK_INT(lmq_store_sub_put(st, (const uint8_t *)"a/#", 3, 1, 0), 0);
    CHECK_INT(lmq_store_sub_put(st, (const uint8_t *)"b/+", 3, 2, 7), 0);
    CHECK_INT(lmq_store_sub_put(st, (const uint8_t *)"c", 1, 0, 0), 0);
    CHECK_INT(lmq_store_sub_put(st, (const uint8_t *)"a/#", 3, 2, 9), 0);  /* replaced */
    CHECK_INT(lmq_store_sub_del(st, (const uint8_t *)"c", 1), 0);
    CHECK_INT(lmq_store_sub_del(st, (const uint8_t *)"never", 5), 0);
    CHECK_INT(lmq_store_sub_put(st, NULL, 0, 1, 0), LMQ_EINVAL);
    lmq_store_close(st);
    for (int round = 0; round < 2; round++) {
        st = open_as(path, "subs", &rc);
        CHECK_INT(rc, 0);
        CHECK_INT(lmq_store_sub_count(st), 2);
        const lmq_store_sub *a = lmq_store_sub_at(st, 0), *b = lmq_store_sub_at(st, 1);
        CHECK(a && a->flen == 3 && !memcmp(a->filter, "a/#", 3) && a->options == 2 &&
              a->sub_id == 9);
        CHECK(b && b->flen == 3 && !memcmp(b->filter, "b/+", 3) && b->options == 2 &&
              b->sub_id == 7);
        CHECK(lmq_store_sub_at(st, 2) == NULL);
        CHECK_INT(lmq_store_compact(st), 0);
        lmq_store_close(st);
    }
    remove_dir();
}

static void subscribing_life(void)
{
    static const uint8_t codes[] = { 0x01, 0x02, 0x80 };
    fx *f = &fxa;
    durable_session(f);
    fx_connect(f, 0);
    lmq_subscription subs[] = { { "home/#", -1, 1 }, { "car/+", -1, 2 }, { "no", -1, 1 } };
    CHECK(lmq_session_subscribe(f->s, subs, 3, NULL, f->now) > 0);
    CHECK_INT(dnext(f), LMQ_SUBSCRIBE);
    lmq_packet a;
    memset(&a, 0, sizeof a);
    a.type = LMQ_SUBACK;
    a.u.suback.packet_id = f->pkt.u.subscribe.packet_id;
    a.u.suback.reasons = (lmq_slice){ codes, 3 };       /* "no" refused */
    CHECK_INT(fx_feed(f, &a), 0);
    devents(f);
    CHECK_INT(fx_count(f, LMQ_EV_SUBSCRIBED), 1);
}

/* A process killed after its SUBACK; the next one finds the server's
 * session gone (session present 0): it subscribes again, by itself, to
 * what had been granted, from the state file [MQTT-4.1.0-1].  With the
 * session present it sends nothing. */
static void test_restart_resubscribes_from_the_state_file(void)
{
    fresh_dir();
    in_crashing_child(subscribing_life);
    for (int sp = 1; sp >= 0; sp--) {
        fx *f = &fxa;
        durable_session(f);
        fx_connect(f, sp);
        if (sp) {
            CHECK_INT(dnext(f), 0);
            fx_free(f);
            continue;
        }
        CHECK_INT(dnext(f), LMQ_SUBSCRIBE);
        CHECK_INT(f->pkt.u.subscribe.count, 2);
        uint32_t pos = 0;
        lmq_sub_entry e;
        CHECK(lmq_subs_next(&f->pkt.u.subscribe, LMQ_SUBSCRIBE, &pos, &e));
        CHECK(e.filter.n == 6 && !memcmp(e.filter.p, "home/#", 6) && e.options == 1);
        CHECK(lmq_subs_next(&f->pkt.u.subscribe, LMQ_SUBSCRIBE, &pos, &e));
        CHECK(e.filter.n == 5 && !memcmp(e.filter.p, "car/+", 5) && e.options == 2);
        fx_free(f);
    }
    char file[160];
    snprintf(file, sizeof file, "%s/c1.lmqs", dir);
    unlink(file);
    remove_dir();
}

/* A store of format version 1 (no subscription records) still loads, and
 * is rewritten as the current version. */
static void test_version_1_file_loads_and_is_upgraded(void)
{
    int rc;
    fresh_dir();
    lmq_store *st = open_as(path, "pub-1", &rc);
    CHECK_INT(add(st, 1, 1, "t", "v1"), 0);
    lmq_store_close(st);
    size_t n;
    uint8_t *b = slurp(path, &n);
    b[8] = 1;                                   /* version 1, CRC made right */
    uint32_t crc = 0xFFFFFFFFu;
    size_t h = 8 + 6 + 5;
    for (size_t i = 0; i < h; i++) {
        crc ^= b[i];
        for (int k = 0; k < 8; k++)
            crc = crc & 1 ? 0xEDB88320u ^ (crc >> 1) : crc >> 1;
    }
    crc = ~crc;
    for (int i = 0; i < 4; i++)
        b[h + (size_t)i] = (uint8_t)(crc >> (8 * i));
    spill(path, b, n);
    free(b);
    st = open_as(path, "pub-1", &rc);
    CHECK_INT(rc, 0);
    CHECK_INT(lmq_store_count(st), 1);
    lmq_store_close(st);
    b = slurp(path, &n);
    CHECK(n > 12 && b[8] == LMQ_STORE_VERSION);
    free(b);
    remove_dir();
}

static void received_not_pulled_life(void)
{
    fx *f = &fxa;
    durable_session(f);
    fx_connect(f, 0);
    lmq_packet p = fx_publish("in", "unseen", 2, 5);
    CHECK_INT(fx_feed(f, &p), 0);
    CHECK_INT(dnext(f), 0);         /* no PUBREC before the application has it */
    /* killed before the application pulled its events */
}

/* A QoS 2 message the process received but the application never pulled
 * is not in the state file: the next process delivers the server's
 * resend (nothing lost), and PUBRECs it once pulled. */
static void test_incoming_qos2_not_pulled_before_a_crash_is_delivered_after(void)
{
    fresh_dir();
    in_crashing_child(received_not_pulled_life);
    fx *f = &fxa;
    durable_session(f);
    fx_connect(f, 1);
    lmq_packet p = fx_publish("in", "unseen", 2, 5);
    p.u.publish.dup = 1;
    CHECK_INT(fx_feed(f, &p), 0);
    devents(f);
    const lmq_event *e = fx_find(f, LMQ_EV_MESSAGE);
    CHECK(e && e->payload_len == 6 && !memcmp(e->payload, "unseen", 6));
    CHECK_INT(dnext(f), LMQ_PUBREC);
    CHECK_INT(f->pkt.u.ack.packet_id, 5);
    /* the resend of a message pulled already is not delivered again */
    CHECK_INT(fx_feed(f, &p), 0);
    devents(f);
    CHECK_INT(fx_count(f, LMQ_EV_MESSAGE), 0);
    CHECK_INT(dnext(f), LMQ_PUBREC);
    fx_free(f);
    char file[160];
    snprintf(file, sizeof file, "%s/c1.lmqs", dir);
    unlink(file);
    remove_dir();
}

int main(void)
{
    RUN(test_messages_come_back_in_order_with_their_flow_state);
    RUN(test_completed_messages_are_gone_after_reload);
    RUN(test_incoming_qos2_ids_survive_reload_until_released);
    RUN(test_torn_tail_at_every_byte_offset_keeps_the_whole_records);
    RUN(test_flipped_bit_in_the_last_record_drops_it_as_torn);
    RUN(test_file_of_another_client_id_is_refused);
    RUN(test_file_of_another_version_is_refused);
    RUN(test_damaged_header_or_foreign_file_is_corrupt);
    RUN(test_whole_record_that_makes_no_sense_is_corrupt);
    RUN(test_file_is_created_mode_0600);
    RUN(test_file_in_use_by_another_client_is_refused);
    RUN(test_compaction_keeps_live_state_and_shrinks_the_file);
    RUN(test_allocator_state_is_kept);
    RUN(test_os_durability_survives_reopen);
    RUN(test_session_resumes_what_a_killed_process_had_in_flight);
    RUN(test_session_not_present_after_restart_sends_them_as_new);
    RUN(test_incoming_qos2_is_delivered_once_across_a_restart);
    RUN(test_state_dir_without_client_id_is_refused);
    RUN(test_write_failure_refuses_the_publish_and_ends_durability);
    RUN(test_properties_bytes_come_back_also_after_compaction);
    RUN(test_restored_message_keeps_its_properties);
    RUN(test_commit_does_not_wait_for_the_fsync_that_covers_it);
    RUN(test_fsync_mode_holds_only_what_needs_the_disk);
    RUN(test_resends_after_a_reconnect_wait_for_the_pending_fsync);
    RUN(test_failed_fsync_releases_what_it_held_and_says_so);
    RUN(test_os_mode_holds_nothing);
    RUN(test_subscriptions_survive_reload_and_compaction);
    RUN(test_restart_resubscribes_from_the_state_file);
    RUN(test_version_1_file_loads_and_is_upgraded);
    RUN(test_incoming_qos2_not_pulled_before_a_crash_is_delivered_after);
    return check_done();
}
