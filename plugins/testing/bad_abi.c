/* A plugin built for a plugin ABI major the engine does not have: the
 * loader must refuse it (LMQ_EPLUGIN_ABI) and name the file. */
#include "lunamq_plugin.h"

static int init(const lmq_plugin_api *api, const char *config, void **state)
{
    (void)api;
    (void)config;
    *state = 0;
    return 0;
}

static const lmq_plugin plugin = {
    .abi_version = (uint32_t)(LMQ_PLUGIN_ABI_MAJOR + 1) << 16,
    .struct_size = sizeof(lmq_plugin),
    .name = "bad_abi",
    .version = "0",
    .init = init,
};

LMQ_PLUGIN_EXPORT const lmq_plugin *lmq_plugin_entry(void);

LMQ_PLUGIN_EXPORT const lmq_plugin *lmq_plugin_entry(void)
{
    return &plugin;
}
