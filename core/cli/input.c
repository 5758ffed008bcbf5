/*
 * input.c - stdin read line by line without taking more of it than was
 * used (see cli.h cli_input).
 *
 * `lunamq pub -l` publishes a line, then consumes it.  Whatever it has
 * looked at but not published stays in the input, so a program that
 * exits (a lost connection, a signal, the end of a --count) leaves the
 * rest to the next reader of the same pipe or file: a restart loop
 * `producer | while :; do lunamq pub -l ...; done` loses and splits
 * nothing.  How to look without taking depends on what stdin is:
 *
 *   pipe   tee(2) copies the pipe's head into a private pipe without
 *          consuming it; a line is consumed with read(2) once used.
 *   file   read, then lseek(2) back; a used line moves the offset on.
 *   other  (tty, socket) one byte per read(2) up to the newline: only the
 *          line in hand is taken.
 *
 * buf[0..owned) is taken from the fd already (byte mode, or a pipe line
 * longer than the pipe holds); buf[owned..len) mirrors the fd's head.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#define IN_CHUNK 65536

enum { IN_PIPE = 1, IN_FILE = 2, IN_BYTES = 3 };

int cli_input_open(cli_input *r, int fd)
{
    struct stat st;

    memset(r, 0, sizeof *r);
    r->fd = fd;
    r->peek[0] = r->peek[1] = -1;
    if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) && pipe2(r->peek, O_CLOEXEC) == 0) {
        r->mode = IN_PIPE;
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    } else if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
               lseek(fd, 0, SEEK_CUR) >= 0) {
        r->mode = IN_FILE;
    } else {
        r->mode = IN_BYTES;
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    }
    return 0;
}

void cli_input_close(cli_input *r)
{
    if (r->peek[0] >= 0)
        close(r->peek[0]);
    if (r->peek[1] >= 0)
        close(r->peek[1]);
    r->peek[0] = r->peek[1] = -1;
    cli_buf_free(&r->buf);
}

static int grow(cli_input *r, size_t n)
{
    if (r->buf.cap - r->buf.len >= n)
        return 0;
    size_t cap = r->buf.cap ? r->buf.cap : IN_CHUNK;
    while (cap - r->buf.len < n)
        cap *= 2;
    char *p = realloc(r->buf.p, cap);
    if (!p)
        return -1;
    r->buf.p = p;
    r->buf.cap = cap;
    return 0;
}

/* Take n bytes off the fd for good (they are in buf already). */
static int take(cli_input *r, size_t n)
{
    char junk[4096];

    if (r->mode == IN_FILE)
        return lseek(r->fd, (off_t)n, SEEK_CUR) < 0 ? -1 : 0;
    while (n > 0) {
        ssize_t k = read(r->fd, junk, n < sizeof junk ? n : sizeof junk);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;          /* cannot happen: the bytes were peeked */
        n -= (size_t)k;
    }
    return 0;
}

/* Pipe: copy the head of the pipe past what buf mirrors already. */
static int fill_pipe(cli_input *r)
{
    size_t have = r->buf.len - r->owned;
    ssize_t n = tee(r->fd, r->peek[1], have + IN_CHUNK, SPLICE_F_NONBLOCK);

    if (n < 0)
        return errno == EAGAIN ? 0 : -2;
    if (n == 0)
        return -1;              /* empty and no writer left */
    /* the copy starts at the pipe's head: skip what buf has */
    size_t skip = have, fresh = (size_t)n > have ? (size_t)n - have : 0;
    if (grow(r, fresh) < 0)
        return -2;
    while (skip + fresh > 0) {
        char tmp[4096];
        size_t want = skip ? (skip < sizeof tmp ? skip : sizeof tmp)
                           : (fresh < IN_CHUNK ? fresh : IN_CHUNK);
        ssize_t k = read(r->peek[0], skip ? tmp : r->buf.p + r->buf.len, want);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -2;
        if (skip)
            skip -= (size_t)k;
        else {
            r->buf.len += (size_t)k;
            fresh -= (size_t)k;
        }
    }
    if ((size_t)n > have)
        return 1;
    /* Nothing new: the writer has not written more yet, has closed the
     * pipe (what is left is a last line without a newline), or the pipe
     * is full of one line longer than it holds (take it, so the writer
     * can go on). */
    struct pollfd pf = { r->fd, POLLIN, 0 };
    if (poll(&pf, 1, 0) == 1 && (pf.revents & POLLHUP) && !(pf.revents & POLLIN))
        return -1;
    int cap = fcntl(r->fd, F_GETPIPE_SZ);
    if (cap > 0 && have >= (size_t)cap) {
        if (take(r, have) < 0)
            return -2;
        r->owned = r->buf.len;
        return 1;
    }
    if (poll(&pf, 1, 0) == 1 && (pf.revents & POLLHUP))
        return -1;
    r->stalled = 1;             /* look again later (cli_input_fill's caller) */
    return 0;
}

static int fill_file(cli_input *r)
{
    size_t have = r->buf.len - r->owned;

    if (grow(r, IN_CHUNK) < 0)
        return -2;
    ssize_t n = pread(r->fd, r->buf.p + r->buf.len, IN_CHUNK,
                      lseek(r->fd, 0, SEEK_CUR) + (off_t)have);
    if (n < 0)
        return errno == EINTR ? 0 : -2;
    if (n == 0)
        return -1;
    r->buf.len += (size_t)n;
    return 1;
}

/* One byte at a time: never past the newline. */
static int fill_bytes(cli_input *r)
{
    for (;;) {
        char ch;
        ssize_t n = read(r->fd, &ch, 1);
        if (n < 0)
            return errno == EAGAIN ? 0 : errno == EINTR ? 0 : -2;
        if (n == 0)
            return -1;
        if (cli_buf_addc(&r->buf, ch) < 0)
            return -2;
        r->owned = r->buf.len;
        if (ch == '\n')
            return 1;
    }
}

int cli_input_fill(cli_input *r)
{
    r->stalled = 0;
    if (r->eof)
        return -1;
    int rc = r->mode == IN_PIPE ? fill_pipe(r) : r->mode == IN_FILE ? fill_file(r)
                                                                    : fill_bytes(r);
    if (rc == -1)
        r->eof = 1;
    return rc;
}

int cli_input_line(cli_input *r, const char **line, size_t *n)
{
    const char *nl = r->buf.len ? memchr(r->buf.p, '\n', r->buf.len) : NULL;

    if (nl) {
        *line = r->buf.p;
        *n = (size_t)(nl - r->buf.p);
        r->line_len = *n + 1;
        return 1;
    }
    if (r->eof && r->buf.len) {         /* a last line without a newline */
        *line = r->buf.p;
        *n = r->buf.len;
        r->line_len = r->buf.len;
        return 1;
    }
    return r->eof ? -1 : 0;
}

int cli_input_used(cli_input *r)
{
    size_t k = r->line_len;

    r->line_len = 0;
    if (k > r->owned && take(r, k - r->owned) < 0)
        return -1;
    r->owned = k > r->owned ? 0 : r->owned - k;
    memmove(r->buf.p, r->buf.p + k, r->buf.len - k);
    r->buf.len -= k;
    return 0;
}

int cli_input_fd(const cli_input *r)
{
    return r->mode == IN_FILE ? -1 : r->fd;
}
