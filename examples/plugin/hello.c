/*
 * hello - the smallest useful lunamq plugin: it logs every message the
 * application publishes and refuses those whose topic starts with the
 * prefix given as "deny=PREFIX" (default "secret/").
 *
 * Build it out of tree against the installed header (no library to link:
 * a plugin reaches the engine only through the table init is handed):
 *
 *   cc -shared -fPIC $(pkg-config --cflags lunamq) hello.c -o hello.so
 *
 * and load it: lmq_client_load_plugin(c, "./hello.so", "deny=private/").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lunamq_plugin.h>

typedef struct hello {
    const lmq_plugin_api *api;
    char deny[64];
} hello;

static int hello_init(const lmq_plugin_api *api, const char *config, void **state)
{
    hello *h = calloc(1, sizeof *h);
    if (!h) {
        api->set_error(api, "out of memory");
        return -1;
    }
    h->api = api;
    const char *d = strstr(config, "deny=");
    snprintf(h->deny, sizeof h->deny, "%.*s", d ? (int)strcspn(d + 5, " ") : 7,
             d ? d + 5 : "secret/");
    *state = h;
    return 0;
}

static void hello_shutdown(void *state)
{
    free(state);
}

static int hello_publish(void *state, lmq_plugin_msg *msg)
{
    hello *h = state;
    char line[160];
    size_t n = strlen(h->deny);

    snprintf(line, sizeof line, "publish to %.*s (%d bytes, qos %d)", (int)msg->topic_len,
             msg->topic, (int)msg->payload_len, (int)msg->qos);
    h->api->log(h->api, 3 /* LMQ_LOG_INFO */, line);
    if ((size_t)msg->topic_len >= n && memcmp(msg->topic, h->deny, n) == 0)
        return LMQ_PLUGIN_DROP;
    return LMQ_PLUGIN_CONTINUE;
}

static const lmq_plugin hello_plugin = {
    .abi_version = LMQ_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(lmq_plugin),
    .name = "hello",
    .version = "1.0",
    .init = hello_init,
    .shutdown = hello_shutdown,
    .on_publish_out = hello_publish,
};

LMQ_PLUGIN_EXPORT const lmq_plugin *lmq_plugin_entry(void);

LMQ_PLUGIN_EXPORT const lmq_plugin *lmq_plugin_entry(void)
{
    return &hello_plugin;
}
