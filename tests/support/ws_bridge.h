/*
 * ws_bridge.h - start and stop ws_bridge.py (the WebSocket server the
 * WebSocket tests put in front of mosquitto), header-only.
 *
 * tbr_start() runs the bridge with /usr/bin/python3 (Debian's, which has
 * python3-websockets) and waits for its "READY <port>" line; the bridge's
 * later lines (SUBPROTOCOL, PONG, CLIENT_CLOSE ...) are read with
 * tbr_expect().  The bridge dies with the test (PR_SET_PDEATHSIG) even
 * when the test is killed.
 */
#ifndef LMQ_TEST_WS_BRIDGE_H
#define LMQ_TEST_WS_BRIDGE_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TBR_PYTHON "/usr/bin/python3"

typedef struct tbr_bridge {
    pid_t pid;
    int out;                /* the bridge's stdout */
    int port;
    char buf[4096];         /* lines read, not yet matched */
    size_t len;
} tbr_bridge;

static inline int64_t tbr_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for a line starting with `prefix`; copy it to line (may be NULL).
 * Lines before it are dropped.  0 found, -1 deadline or the bridge died.
 * `pump` runs between reads (drive the clients meanwhile), may be NULL. */
static inline int tbr_expect_pumping(tbr_bridge *b, const char *prefix, char *line,
                                     size_t linelen, int timeout_ms, void (*pump)(int))
{
    int64_t until = tbr_now_ms() + timeout_ms;

    for (;;) {
        char *nl;
        while ((nl = memchr(b->buf, '\n', b->len)) != NULL) {
            size_t n = (size_t)(nl - b->buf);
            int hit = strncmp(b->buf, prefix, strlen(prefix)) == 0;
            if (hit && line) {
                size_t k = n < linelen - 1 ? n : linelen - 1;
                memcpy(line, b->buf, k);
                line[k] = '\0';
            }
            memmove(b->buf, nl + 1, b->len - n - 1);
            b->len -= n + 1;
            if (hit)
                return 0;
        }
        int64_t left = until - tbr_now_ms();
        if (left <= 0)
            break;
        if (pump)
            pump(left < 20 ? (int)left : 20);
        struct pollfd p = {b->out, POLLIN, 0};
        if (poll(&p, 1, pump ? 0 : (int)left) > 0) {
            ssize_t r = read(b->out, b->buf + b->len, sizeof b->buf - 1 - b->len);
            if (r <= 0)
                break;
            b->len += (size_t)r;
        }
    }
    fprintf(stderr, "ws_bridge: no \"%s\" line within %d ms\n", prefix, timeout_ms);
    return -1;
}

static inline int tbr_expect(tbr_bridge *b, const char *prefix, char *line, size_t linelen,
                             int timeout_ms)
{
    return tbr_expect_pumping(b, prefix, line, linelen, timeout_ms, NULL);
}

static inline void tbr_stop(tbr_bridge *b)
{
    if (!b)
        return;
    if (b->pid > 0) {
        kill(b->pid, SIGTERM);
        int64_t until = tbr_now_ms() + 3000;
        while (waitpid(b->pid, NULL, WNOHANG) == 0) {
            if (tbr_now_ms() > until) {
                kill(b->pid, SIGKILL);
                waitpid(b->pid, NULL, 0);
                break;
            }
            poll(NULL, 0, 10);
        }
    }
    if (b->out >= 0)
        close(b->out);
    free(b);
}

/* Start the bridge to 127.0.0.1:target_port with more arguments (a
 * NULL-terminated list); NULL on failure, the reason on stderr. */
static inline tbr_bridge *tbr_start(int target_port, const char *const *extra)
{
    char here[512], script[600], port[16];
    const char *argv[40];
    int n = 0, fds[2];
    tbr_bridge *b;

    if (access(TBR_PYTHON, X_OK) != 0) {
        fprintf(stderr, "ws_bridge: %s missing (scripts/bootstrap installs "
                        "python3-websockets)\n", TBR_PYTHON);
        return NULL;
    }
    snprintf(here, sizeof here, "%s", __FILE__);
    snprintf(script, sizeof script, "%s/ws_bridge.py", dirname(here));
    snprintf(port, sizeof port, "%d", target_port);
    argv[n++] = TBR_PYTHON;
    argv[n++] = script;
    argv[n++] = "--target-port";
    argv[n++] = port;
    for (int i = 0; extra && extra[i] && n < 38; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    if (pipe2(fds, O_CLOEXEC) != 0)
        return NULL;
    b = calloc(1, sizeof *b);
    if (!b) {
        close(fds[0]);
        close(fds[1]);
        return NULL;
    }
    b->out = fds[0];
    pid_t parent = getpid();
    b->pid = fork();
    if (b->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        dup2(fds[1], 1);
        execv(TBR_PYTHON, (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    if (b->pid < 0) {
        b->pid = 0;
        tbr_stop(b);
        return NULL;
    }
    char line[64];
    if (tbr_expect(b, "READY ", line, sizeof line, 10000) != 0 ||
        sscanf(line, "READY %d", &b->port) != 1) {
        fprintf(stderr, "ws_bridge: did not start (python3-websockets installed?)\n");
        tbr_stop(b);
        return NULL;
    }
    return b;
}

#endif /* LMQ_TEST_WS_BRIDGE_H */
