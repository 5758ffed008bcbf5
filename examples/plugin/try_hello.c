/*
 * try_hello - load hello.so into a client and show what it does, without
 * a broker: publishing while offline queues the message, and the publish
 * hook runs at the call.  Exit status 0 when the plugin behaved.
 *
 *   cc $(pkg-config --cflags lunamq) try_hello.c -o try_hello $(pkg-config --libs lunamq)
 *   ./try_hello ./hello.so
 */
#include <stdio.h>
#include <string.h>

#include <lunamq.h>

int main(int argc, char **argv)
{
    lmq_event ev[16];
    int ok = 1, logged = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: %s PLUGIN.so\n", argv[0]);
        return 2;
    }
    lmq_client *c = lmq_client_new();
    lmq_client_set_int(c, LMQ_OPT_LOG_LEVEL, LMQ_LOG_INFO);
    if (lmq_client_load_plugin(c, argv[1], "deny=secret/") != 0) {
        fprintf(stderr, "%s\n", lmq_client_errmsg(c));
        lmq_client_free(c);
        return 1;
    }
    int id = lmq_client_publish(c, "home/hello", -1, "hi", -1, 0, 0, NULL);
    int denied = lmq_client_publish(c, "secret/plans", -1, "no", -1, 0, 0, NULL);
    printf("home/hello -> %d, secret/plans -> %s\n", id, lmq_errname(denied));
    ok = id > 0 && denied == LMQ_EPLUGIN_DROP;
    int n = lmq_client_events(c, ev, 16, sizeof(lmq_event));
    for (int i = 0; i < n; i++) {
        if (ev[i].type != LMQ_EV_LOG)
            continue;
        printf("log: %s\n", ev[i].text);
        logged += strstr(ev[i].text, "[hello] publish to") != NULL;
    }
    ok = ok && logged == 2;
    lmq_client_free(c);
    return ok ? 0 : 1;
}
