/*
 * certs.h - certificates for the TLS tests, made once per test process.
 *
 * tc_certs_dir() runs make_certs.sh (next to this file) into a fresh
 * temporary directory the first time it is called and removes it at exit;
 * tc_file("ca.crt") is the full path of one of its files.  Header-only so
 * a test needs nothing but the include.
 */
#ifndef LMQ_TEST_CERTS_H
#define LMQ_TEST_CERTS_H

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tc_dir[64];

static void tc_remove(void)
{
    char cmd[128];

    if (tc_dir[0] && !getenv("LMQ_KEEP_CERTS")) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tc_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "certs: could not remove %s\n", tc_dir);
    }
}

/* The directory holding the certificates, or NULL (reason on stderr). */
static inline const char *tc_certs_dir(void)
{
    char here[512], cmd[800];

    if (tc_dir[0])
        return tc_dir;
    snprintf(tc_dir, sizeof tc_dir, "/tmp/lmq-certs-XXXXXX");
    if (!mkdtemp(tc_dir)) {
        perror("certs: mkdtemp");
        tc_dir[0] = '\0';
        return NULL;
    }
    atexit(tc_remove);
    snprintf(here, sizeof here, "%s", __FILE__);
    snprintf(cmd, sizeof cmd, "sh '%s/make_certs.sh' '%s' >'%s/make_certs.log' 2>&1",
             dirname(here), tc_dir, tc_dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "certs: %s failed (is openssl installed? run scripts/bootstrap)\n",
                cmd);
        snprintf(cmd, sizeof cmd, "cat '%s/make_certs.log' >&2", tc_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "certs: no log\n");
        return NULL;
    }
    return tc_dir;
}

/* The path of a file in the certificate directory: a few can be held at
 * once (a ring of buffers). */
static inline const char *tc_file(const char *name)
{
    static char ring[8][128];
    static int next;
    char *p = ring[next++ % 8];
    const char *d = tc_certs_dir();

    snprintf(p, sizeof ring[0], "%s/%s", d ? d : "/nonexistent", name);
    return p;
}

#endif /* LMQ_TEST_CERTS_H */
