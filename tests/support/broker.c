/* broker.c - start, stop, pause and restart a real mosquitto for tests. */
#define _GNU_SOURCE
#include "broker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TB_MAX_BROKERS 8
#define TB_START_DEADLINE_MS 5000
#define TB_STOP_DEADLINE_MS 5000
#define TB_PORT_TRIES 5
#define TB_NFILES 6

static const char *const tb_file_names[TB_NFILES] = {
    "mosquitto.conf", "mosquitto.log", "stdout.log", "mosquitto.db",
    "mosquitto.db.new", "mqtt.sock",
};

struct tb_broker {
    pid_t pid;              /* 0 when not running */
    int port;
    int paused;
    tb_broker_opts opts;
    char dir[64];
    char conf[128];
    char log[128];
    char sock[100];
    char files[TB_NFILES][160];   /* everything the dir may hold, for removal */
};

static tb_broker *tb_all[TB_MAX_BROKERS];
static int tb_atexit_done;

static int64_t tb_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *tb_mosquitto_path(void)
{
    const char *p = getenv("LMQ_MOSQUITTO");
    return p && *p ? p : "/usr/sbin/mosquitto";
}

int tb_free_port(int ipv6)
{
    int fd = socket(ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
    struct sockaddr_storage ss;
    socklen_t len;
    int port = -1;

    if (fd < 0)
        return -1;
    memset(&ss, 0, sizeof ss);
    if (ipv6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        len = sizeof *a;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof *a;
    }
    if (bind(fd, (struct sockaddr *)&ss, len) == 0 &&
        getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
        port = ntohs(ipv6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                          : ((struct sockaddr_in *)&ss)->sin_port);
    close(fd);
    return port;
}

int tb_ipv6_available(void)
{
    return tb_free_port(1) > 0;
}

static void tb_stop_all(void)
{
    for (int i = 0; i < TB_MAX_BROKERS; i++)
        if (tb_all[i])
            tb_broker_stop(tb_all[i]);
}

/* A test killed by a signal (an abort, a crash, a closed pipe, ctest's
 * SIGTERM) runs no atexit handlers: kill the brokers and remove their
 * directories here, with async-signal-safe calls only, then die of the
 * same signal. */
static void tb_on_fatal_signal(int sig)
{
    for (int i = 0; i < TB_MAX_BROKERS; i++) {
        tb_broker *b = tb_all[i];
        if (!b)
            continue;
        if (b->pid > 0)
            kill(b->pid, SIGKILL);
        for (int k = 0; k < TB_NFILES; k++)
            unlink(b->files[k]);
        rmdir(b->dir);
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

static void tb_register(tb_broker *b)
{
    static const int fatal[] = {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL,
                                SIGPIPE, SIGTERM, SIGINT, SIGHUP};

    if (!tb_atexit_done) {
        atexit(tb_stop_all);
        for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++)
            signal(fatal[i], tb_on_fatal_signal);
        tb_atexit_done = 1;
    }
    for (int i = 0; i < TB_MAX_BROKERS; i++)
        if (!tb_all[i]) {
            tb_all[i] = b;
            return;
        }
}

static void tb_unregister(tb_broker *b)
{
    for (int i = 0; i < TB_MAX_BROKERS; i++)
        if (tb_all[i] == b)
            tb_all[i] = NULL;
}

static int tb_write_conf(tb_broker *b)
{
    FILE *f = fopen(b->conf, "w");
    const char *host = b->opts.ipv6 ? "::1" : "127.0.0.1";

    if (!f)
        return -1;
    fprintf(f, "listener %d %s\n", b->port, host);
    if (b->opts.max_topic_alias > 0)
        fprintf(f, "max_topic_alias %d\n", b->opts.max_topic_alias);
    if (b->opts.unix_socket) {
        fprintf(f, "listener 0 %s\n", b->sock);
        if (b->opts.max_topic_alias > 0)
            fprintf(f, "max_topic_alias %d\n", b->opts.max_topic_alias);
    }
    fprintf(f, "allow_anonymous true\n");
    /* Nothing a test sends may be dropped by a queue limit: 0 is "no
     * maximum" for both (mosquitto.conf(5)). */
    fprintf(f, "max_queued_messages 0\n");
    fprintf(f, "max_queued_bytes 0\n");
    /* Broker -> client flow, and mosquitto's incoming quota too.  1000
     * unless a test asks: mosquitto 2.0.11 misbehaves at both ends of the
     * range.  With 0 or 65535 (no Receive Maximum in CONNACK) it restores
     * QoS 2 messages it had already PUBREL'd as unsent after a restart and
     * sends the PUBLISH again (a duplicate); with its default 20 it applies
     * the quota to 3.1.1 clients too, who have no Receive Maximum to keep
     * to, answering PUBREC 0x97 (not even valid in 3.1.1) and dropping
     * the message. */
    fprintf(f, "max_inflight_messages %d\n",
            b->opts.max_inflight > 0 ? b->opts.max_inflight : 1000);
    fprintf(f, "set_tcp_nodelay true\n");
    if (b->opts.persistence) {
        fprintf(f, "persistence true\n");
        fprintf(f, "persistence_location %s/\n", b->dir);
    } else {
        fprintf(f, "persistence false\n");
    }
    fprintf(f, "log_dest file %s\n", b->log);
    fprintf(f, "log_type all\n");
    fprintf(f, "log_timestamp_format %%H:%%M:%%S\n");
    /* As root, mosquitto switches to "mosquitto"/"nobody", who could not
     * write the temp dir. */
    if (geteuid() == 0)
        fprintf(f, "user root\n");
    if (b->opts.extra)
        fprintf(f, "%s\n", b->opts.extra);
    return fclose(f) == 0 ? 0 : -1;
}

static pid_t tb_spawn(tb_broker *b)
{
    pid_t parent = getpid();
    pid_t pid = fork();

    if (pid != 0)
        return pid;
    /* The broker dies with the test, even when the test is killed by a
     * timeout and atexit never runs. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(127);
    char out[160];
    snprintf(out, sizeof out, "%s/stdout.log", b->dir);
    int fd = open(out, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
    }
    execl(tb_mosquitto_path(), "mosquitto", "-c", b->conf, (char *)NULL);
    _exit(127);
}

static int tb_connect_once(const tb_broker *b, int use_unix)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int family;

    memset(&ss, 0, sizeof ss);
    if (use_unix) {
        struct sockaddr_un *a = (struct sockaddr_un *)&ss;
        a->sun_family = AF_UNIX;
        snprintf(a->sun_path, sizeof a->sun_path, "%s", b->sock);
        family = AF_UNIX;
        len = sizeof *a;
    } else if (b->opts.ipv6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        a->sin6_port = htons((uint16_t)b->port);
        family = AF_INET6;
        len = sizeof *a;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a->sin_port = htons((uint16_t)b->port);
        family = AF_INET;
        len = sizeof *a;
    }
    int fd = socket(family, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    int rc = connect(fd, (struct sockaddr *)&ss, len);
    close(fd);
    return rc;
}

/* Wait until every listener accepts, or the process exits.  0 ready, -1 the
 * broker exited (most likely the port was taken), -2 deadline. */
static int tb_wait_ready(tb_broker *b)
{
    int64_t deadline = tb_now_ms() + TB_START_DEADLINE_MS;

    while (tb_now_ms() < deadline) {
        int status;
        if (waitpid(b->pid, &status, WNOHANG) == b->pid) {
            b->pid = 0;
            return -1;
        }
        if (tb_connect_once(b, 0) == 0 &&
            (!b->opts.unix_socket || tb_connect_once(b, 1) == 0))
            return 0;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return -2;
}

static int tb_launch(tb_broker *b)
{
    if (tb_write_conf(b) != 0)
        return -1;
    b->pid = tb_spawn(b);
    if (b->pid < 0) {
        b->pid = 0;
        return -1;
    }
    return tb_wait_ready(b);
}

tb_broker *tb_broker_start(const tb_broker_opts *opts)
{
    tb_broker *b = calloc(1, sizeof *b);

    if (!b)
        return NULL;
    if (access(tb_mosquitto_path(), X_OK) != 0) {
        fprintf(stderr, "broker: %s not found or not executable: integration "
                        "tests need mosquitto (run scripts/bootstrap)\n",
                tb_mosquitto_path());
        goto fail;
    }
    if (opts)
        b->opts = *opts;
    snprintf(b->dir, sizeof b->dir, "/tmp/lmq-broker-XXXXXX");
    if (!mkdtemp(b->dir)) {
        perror("broker: mkdtemp");
        goto fail;
    }
    snprintf(b->conf, sizeof b->conf, "%s/mosquitto.conf", b->dir);
    snprintf(b->log, sizeof b->log, "%s/mosquitto.log", b->dir);
    snprintf(b->sock, sizeof b->sock, "%s/mqtt.sock", b->dir);
    for (int k = 0; k < TB_NFILES; k++)
        snprintf(b->files[k], sizeof b->files[k], "%s/%s", b->dir, tb_file_names[k]);
    tb_register(b);
    /* The port was free when we looked; another process may take it before
     * mosquitto binds, so a failed start tries another one. */
    for (int i = 0; i < TB_PORT_TRIES; i++) {
        b->port = tb_free_port(b->opts.ipv6);
        if (b->port <= 0)
            break;
        int rc = tb_launch(b);
        if (rc == 0)
            return b;
        if (rc == -2)
            break;
    }
    fprintf(stderr, "broker: mosquitto did not start; its log:\n");
    tb_broker_dump_log(b);
    tb_broker_stop(b);
    return NULL;
fail:
    free(b);
    return NULL;
}

/* SIGTERM (SIGCONT first, a stopped process cannot exit), then SIGKILL if
 * it lingers.  0 when it has exited. */
static int tb_terminate(tb_broker *b)
{
    int64_t deadline = tb_now_ms() + TB_STOP_DEADLINE_MS;
    int status;

    if (!b->pid)
        return 0;
    kill(b->pid, SIGTERM);
    if (b->paused) {
        kill(b->pid, SIGCONT);
        b->paused = 0;
    }
    while (tb_now_ms() < deadline) {
        pid_t r = waitpid(b->pid, &status, WNOHANG);
        if (r == b->pid || (r < 0 && errno == ECHILD)) {
            b->pid = 0;
            return 0;
        }
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "broker: pid %d ignored SIGTERM, killing it\n", (int)b->pid);
    kill(b->pid, SIGKILL);
    waitpid(b->pid, &status, 0);
    b->pid = 0;
    return -1;
}

static void tb_remove_dir(const tb_broker *b)
{
    for (int k = 0; k < TB_NFILES; k++)
        unlink(b->files[k]);
    rmdir(b->dir);
}

void tb_broker_stop(tb_broker *b)
{
    if (!b)
        return;
    tb_terminate(b);
    tb_unregister(b);
    const char *keep = getenv("LMQ_KEEP_BROKER_DIR");
    if (keep && *keep)
        fprintf(stderr, "broker: kept %s\n", b->dir);
    else if (b->dir[0])
        tb_remove_dir(b);
    free(b);
}

int tb_broker_kill(tb_broker *b)
{
    return tb_terminate(b);
}

int tb_broker_start_again(tb_broker *b)
{
    if (b->pid)
        return 0;
    /* The listening port is the one clients reconnect to; SO_REUSEADDR in
     * mosquitto lets it bind again at once. */
    if (tb_launch(b) != 0) {
        fprintf(stderr, "broker: restart on port %d failed; log:\n", b->port);
        tb_broker_dump_log(b);
        return -1;
    }
    return 0;
}

int tb_broker_restart(tb_broker *b)
{
    if (tb_terminate(b) != 0)
        return -1;
    return tb_broker_start_again(b);
}

int tb_broker_pause(tb_broker *b)
{
    if (!b->pid || kill(b->pid, SIGSTOP) != 0)
        return -1;
    b->paused = 1;
    return 0;
}

int tb_broker_resume(tb_broker *b)
{
    if (!b->pid || kill(b->pid, SIGCONT) != 0)
        return -1;
    b->paused = 0;
    return 0;
}

int tb_broker_port(const tb_broker *b)
{
    return b->port;
}

const char *tb_broker_host(const tb_broker *b)
{
    return b->opts.ipv6 ? "::1" : "127.0.0.1";
}

const char *tb_broker_unix_path(const tb_broker *b)
{
    return b->opts.unix_socket ? b->sock : NULL;
}

static void tb_cat(const char *path)
{
    FILE *f = fopen(path, "r");
    char line[1024];

    if (!f)
        return;
    while (fgets(line, sizeof line, f))
        fprintf(stderr, "  | %s", line);
    fclose(f);
}

const char *tb_broker_log_path(const tb_broker *b)
{
    return b ? b->log : NULL;
}

void tb_broker_dump_log(const tb_broker *b)
{
    char out[160];

    if (!b)
        return;
    fprintf(stderr, "---- mosquitto log (%s, port %d) ----\n", b->dir, b->port);
    tb_cat(b->log);
    snprintf(out, sizeof out, "%s/stdout.log", b->dir);
    tb_cat(out);
    fprintf(stderr, "---- end of mosquitto log ----\n");
}
