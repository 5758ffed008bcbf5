/* A shared object without lmq_plugin_entry: the loader must refuse it
 * (LMQ_EPLUGIN_SYMBOL) and name the file. */
#include "lunamq_plugin.h"

LMQ_PLUGIN_EXPORT int lmq_plugin_entry_misspelt(void);

LMQ_PLUGIN_EXPORT int lmq_plugin_entry_misspelt(void)
{
    return 0;
}
