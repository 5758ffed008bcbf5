/*
 * resolve.c - getaddrinfo on a detached worker thread, reported by a pipe.
 *
 * The resolver is shared by the thread and the client (a reference count
 * under a mutex): whichever lets go last frees it, so the client may give
 * up on a slow lookup (timeout, disconnect, free) without waiting for it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lunamq.h"
#include "transport/resolve.h"

struct lmq_resolver {
    pthread_mutex_t mu;
    int refs;
    int pipefd[2];
    int done;
    int gai_err;            /* getaddrinfo's return, 0 on success */
    struct addrinfo *res;
    char *host;
    char port[8];
};

static void resolver_unref(lmq_resolver *r)
{
    int last;

    pthread_mutex_lock(&r->mu);
    last = --r->refs == 0;
    pthread_mutex_unlock(&r->mu);
    if (!last)
        return;
    if (r->res)
        freeaddrinfo(r->res);
    if (r->pipefd[0] >= 0)
        close(r->pipefd[0]);
    if (r->pipefd[1] >= 0)
        close(r->pipefd[1]);
    pthread_mutex_destroy(&r->mu);
    free(r->host);
    free(r);
}

static void resolver_hints(struct addrinfo *h, int flags)
{
    memset(h, 0, sizeof *h);
    h->ai_family = AF_UNSPEC;
    h->ai_socktype = SOCK_STREAM;
    h->ai_flags = flags;
}

static void *resolver_main(void *arg)
{
    lmq_resolver *r = arg;
    struct addrinfo hints, *res = NULL;
    int rc;
    char one = 1;

    /* AI_ADDRCONFIG: no IPv6 addresses on a host without IPv6. */
    resolver_hints(&hints, AI_ADDRCONFIG);
    rc = getaddrinfo(r->host, r->port, &hints, &res);
    pthread_mutex_lock(&r->mu);
    r->gai_err = rc;
    r->res = rc == 0 ? res : NULL;
    r->done = 1;
    pthread_mutex_unlock(&r->mu);
    /* The pipe is non-blocking and holds one byte at most: never stalls. */
    if (write(r->pipefd[1], &one, 1) < 0) {
        /* nothing to do: the reader also checks `done` on timeouts */
    }
    resolver_unref(r);
    return NULL;
}

/* A numeric address resolves without a lookup, hence without a thread. */
static int resolver_numeric(lmq_resolver *r)
{
    struct addrinfo hints, *res = NULL;

    resolver_hints(&hints, AI_NUMERICHOST | AI_NUMERICSERV);
    if (getaddrinfo(r->host, r->port, &hints, &res) != 0)
        return 0;
    r->res = res;
    r->done = 1;
    return 1;
}

int lmq_resolver_start(const char *host, int port, lmq_resolver **out)
{
    lmq_resolver *r;
    pthread_t tid;
    pthread_attr_t attr;
    int rc;

    *out = NULL;
    r = calloc(1, sizeof *r);
    if (!r)
        return LMQ_ENOMEM;
    pthread_mutex_init(&r->mu, NULL);
    r->refs = 1;
    r->pipefd[0] = r->pipefd[1] = -1;
    r->host = strdup(host);
    if (!r->host)
        goto nomem;
    snprintf(r->port, sizeof r->port, "%d", port);
    *out = r;
    if (resolver_numeric(r))
        return 0;
    if (pipe2(r->pipefd, O_CLOEXEC | O_NONBLOCK) != 0)
        goto fail_thread;
    r->refs = 2;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    rc = pthread_create(&tid, &attr, resolver_main, r);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        r->refs = 1;
        goto fail_thread;
    }
    return 0;

fail_thread:
    /* No thread: say so as a failed lookup rather than an API error, so the
     * client handles it like any other (retry with backoff). */
    r->done = 1;
    r->gai_err = EAI_SYSTEM;
    return 0;
nomem:
    pthread_mutex_destroy(&r->mu);
    free(r);
    return LMQ_ENOMEM;
}

int lmq_resolver_fd(const lmq_resolver *r)
{
    return r->pipefd[0];
}

int lmq_resolver_result(lmq_resolver *r, struct addrinfo **res, char *msg, size_t msglen)
{
    int rc = 0;

    *res = NULL;
    pthread_mutex_lock(&r->mu);
    if (!r->done)
        goto out;
    if (r->res) {
        *res = r->res;
        r->res = NULL;
        rc = 1;
        goto out;
    }
    snprintf(msg, msglen, "cannot resolve %s: %s", r->host,
             r->gai_err ? gai_strerror(r->gai_err) : "no address");
    rc = LMQ_ERESOLVE;
out:
    pthread_mutex_unlock(&r->mu);
    return rc;
}

void lmq_resolver_free(lmq_resolver *r)
{
    if (r)
        resolver_unref(r);
}
