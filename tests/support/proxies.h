/*
 * proxies.h - real proxies for the proxy tests, header-only: Debian's
 * danted (dante-server, SOCKS5) and tinyproxy (HTTP CONNECT), each on a
 * free loopback port from a fresh temporary directory, run by proxy.sh
 * (next to this file; it says how danted checks passwords without touching
 * the machine's users), stopped with the test (atexit, and PR_SET_PDEATHSIG
 * if the test is killed).
 *
 * scripts/bootstrap installs dante-server and tinyproxy (and stops the
 * system services their packages enable).
 */
#ifndef LMQ_TEST_PROXIES_H
#define LMQ_TEST_PROXIES_H

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"

#define TP_DANTED "/usr/sbin/danted"
#define TP_TINYPROXY "/usr/bin/tinyproxy"
/* danted resolves this name to 127.0.0.1 (its own /etc/hosts, proxy.sh);
 * nothing else does: a connection to it proves the proxy got the name. */
#define TP_PROXY_SIDE_NAME "broker.proxy-side.test"

typedef struct tp_proxy {
    pid_t pid;
    int port;
    char dir[64];
    char log[128];
    struct tp_proxy *next;
} tp_proxy;

static tp_proxy *tp_all;

static inline int64_t tp_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The proxy's log (or the start-up output) to stderr: tests do on failure. */
static inline void tp_dump_log(const tp_proxy *p)
{
    char cmd[400];

    if (!p)
        return;
    snprintf(cmd, sizeof cmd, "cat '%s' '%s/out.log' >&2 2>/dev/null", p->log, p->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "proxies: no log in %s\n", p->dir);
}

/* 1 when the proxy's log has a line holding needle. */
static inline int tp_log_has(const tp_proxy *p, const char *needle)
{
    char line[1024];
    FILE *f = fopen(p->log, "r");
    int hit = 0;

    if (!f)
        return 0;
    while (!hit && fgets(line, sizeof line, f))
        hit = strstr(line, needle) != NULL;
    fclose(f);
    return hit;
}

static inline void tp_stop(tp_proxy *p)
{
    char cmd[128];

    if (!p)
        return;
    for (tp_proxy **pp = &tp_all; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    if (p->pid > 0) {
        kill(p->pid, SIGTERM);
        int64_t until = tp_now_ms() + 3000;
        while (waitpid(p->pid, NULL, WNOHANG) == 0) {
            if (tp_now_ms() > until) {
                kill(p->pid, SIGKILL);
                waitpid(p->pid, NULL, 0);
                break;
            }
            poll(NULL, 0, 10);
        }
    }
    if (p->dir[0] && !getenv("LMQ_KEEP_PROXY_DIR")) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", p->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "proxies: could not remove %s\n", p->dir);
    }
    free(p);
}

static inline void tp_stop_all(void)
{
    while (tp_all)
        tp_stop(tp_all);
}

/* Run argv in the background with its output in dir/out.log, then wait
 * until it accepts connections on port.  The proxy, or NULL (reason on
 * stderr). */
static inline tp_proxy *tp_spawn(tp_proxy *p, const char *const *argv)
{
    static int registered;
    char out[128];
    pid_t parent = getpid();

    if (!registered) {
        atexit(tp_stop_all);
        registered = 1;
    }
    p->next = tp_all;
    tp_all = p;
    snprintf(out, sizeof out, "%s/out.log", p->dir);
    p->pid = fork();
    if (p->pid == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(127);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    if (p->pid < 0) {
        p->pid = 0;
        tp_stop(p);
        return NULL;
    }
    for (int64_t until = tp_now_ms() + 10000; tp_now_ms() < until;) {
        struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)p->port) };
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ok;
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ok = fd >= 0 && connect(fd, (struct sockaddr *)&sin, sizeof sin) == 0;
        if (fd >= 0)
            close(fd);
        if (ok)
            return p;
        if (waitpid(p->pid, NULL, WNOHANG) == p->pid) {
            p->pid = 0;
            break;
        }
        poll(NULL, 0, 20);
    }
    fprintf(stderr, "proxies: %s did not start on port %d:\n", argv[0], p->port);
    tp_dump_log(p);
    tp_stop(p);
    return NULL;
}

static inline tp_proxy *tp_new(const char *binary, const char *pkg)
{
    tp_proxy *p;

    if (access(binary, X_OK) != 0) {
        fprintf(stderr, "proxies: %s missing (scripts/bootstrap installs %s)\n", binary, pkg);
        return NULL;
    }
    p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    snprintf(p->dir, sizeof p->dir, "/tmp/lmq-proxy-XXXXXX");
    p->port = tb_free_port(0);
    if (!mkdtemp(p->dir) || p->port < 0) {
        fprintf(stderr, "proxies: no temp dir or free port\n");
        free(p);
        return NULL;
    }
    return p;
}

/* Run proxy.sh (next to this file) with kind and the rest of argv. */
static inline tp_proxy *tp_run_script(tp_proxy *p, const char *kind, const char *user,
                                      const char *password, const char *const *more)
{
    char here[512], script[600], port[16];
    const char *argv[24];
    int n = 0;

    snprintf(here, sizeof here, "%s", __FILE__);
    snprintf(script, sizeof script, "%s/proxy.sh", dirname(here));
    snprintf(port, sizeof port, "%d", p->port);
    argv[n++] = "/bin/sh";
    argv[n++] = script;
    argv[n++] = kind;
    argv[n++] = p->dir;
    argv[n++] = port;
    argv[n++] = user ? user : "-";
    argv[n++] = password ? password : "-";
    for (int i = 0; more && more[i] && n < 23; i++)
        argv[n++] = more[i];
    argv[n] = NULL;
    return tp_spawn(p, argv);
}

/*
 * danted on a free port (tests/support/proxy.sh says how).  user NULL: no
 * authentication; else only the user name / password method, with that
 * one user.  deny_port > 0: CONNECTs to 127.0.0.1 on that port are refused
 * by a rule (SOCKS5 reply 2).
 */
static inline tp_proxy *tp_danted_start(const char *user, const char *password, int deny_port)
{
    tp_proxy *p = tp_new(TP_DANTED, "dante-server");
    char deny[16];
    const char *more[] = { deny, NULL };

    if (!p)
        return NULL;
    snprintf(p->log, sizeof p->log, "%s/danted.log", p->dir);
    snprintf(deny, sizeof deny, "%d", deny_port > 0 ? deny_port : 0);
    return tp_run_script(p, "danted", user, password, more);
}

/*
 * tinyproxy on a free port.  user NULL: no authentication; else Basic
 * credentials required (tinyproxy's configuration takes letters, digits,
 * '.', '-' and '_' in them).  CONNECT is allowed to the ports listed
 * (ended by 0) only.
 */
static inline tp_proxy *tp_tinyproxy_start(const char *user, const char *password,
                                           const int *ports)
{
    tp_proxy *p = tp_new(TP_TINYPROXY, "tinyproxy");
    char text[8][16];
    const char *more[9];
    int n = 0;

    if (!p)
        return NULL;
    snprintf(p->log, sizeof p->log, "%s/tinyproxy.log", p->dir);
    for (; ports && ports[n] && n < 8; n++) {
        snprintf(text[n], sizeof text[n], "%d", ports[n]);
        more[n] = text[n];
    }
    more[n] = NULL;
    return tp_run_script(p, "tinyproxy", user, password, more);
}

#endif /* LMQ_TEST_PROXIES_H */
