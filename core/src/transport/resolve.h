/*
 * resolve.h - host name resolution that does not stall the loop.
 *
 * getaddrinfo() blocks, so a name is looked up on a small detached thread
 * that reports through a pipe: the loop watches lmq_resolver_fd() for
 * readable and then collects the result.  A numeric address needs no
 * lookup and is ready at once (no thread, no fd).  The client resolves
 * again on every (re)connect attempt, so a changed DNS record is seen.
 *
 * Internal to the library.
 */
#ifndef LMQ_RESOLVE_H
#define LMQ_RESOLVE_H

#include <netdb.h>

typedef struct lmq_resolver lmq_resolver;

/* Start resolving host:port for a stream socket.  *out gets the resolver
 * (free it with lmq_resolver_free whatever happens).  0 or LMQ_ENOMEM. */
int lmq_resolver_start(const char *host, int port, lmq_resolver **out);

/* The fd that turns readable when the lookup ends; -1 when it already has
 * (numeric address) or when no thread was needed. */
int lmq_resolver_fd(const lmq_resolver *r);

/*
 * 0 while the lookup runs.  When it has ended: 1 and *res the address list
 * (now the caller's: freeaddrinfo it), or LMQ_ERESOLVE with a message in
 * msg.  Call again after the fd turned readable.
 */
int lmq_resolver_result(lmq_resolver *r, struct addrinfo **res, char *msg, size_t msglen);

/* Give the resolver up; a lookup still running finishes on its own and
 * frees what it holds.  NULL is a no-op. */
void lmq_resolver_free(lmq_resolver *r);

#endif /* LMQ_RESOLVE_H */
