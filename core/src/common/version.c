/* version.c - the library's version at run time. */
#include "lunamq.h"

LMQ_API const char *lmq_version(void)
{
    return LMQ_VERSION_STRING;
}

LMQ_API int lmq_version_number(void)
{
    return LMQ_VERSION_NUMBER;
}
