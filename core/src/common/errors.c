/* errors.c - names and messages for the LMQ_E* codes, from errors.def. */
#include <stddef.h>

#include "lunamq.h"
#include "common/errors.h"

/* Every entry of the list must be declared in lunamq.h with the same value. */
#define X(name, value, reason, msg) \
    _Static_assert(name == (value), #name " differs between errors.def and lunamq.h");
#include "common/errors.def"
#undef X

struct lmq_error_entry {
    int code;
    int reason;
    const char *name;
    const char *msg;
};

static const struct lmq_error_entry lmq_errors[] = {
#define X(name, value, reason, msg) { value, reason, #name, msg },
#include "common/errors.def"
#undef X
};

static const struct lmq_error_entry *lmq_error_find(int code)
{
    for (size_t i = 0; i < sizeof lmq_errors / sizeof lmq_errors[0]; i++)
        if (lmq_errors[i].code == code)
            return &lmq_errors[i];
    return NULL;
}

LMQ_API const char *lmq_strerror(int code)
{
    if (code >= 0)
        return "success";
    const struct lmq_error_entry *e = lmq_error_find(code);
    return e ? e->msg : "unknown error";
}

LMQ_API const char *lmq_errname(int code)
{
    if (code == 0)
        return "LMQ_OK";
    const struct lmq_error_entry *e = lmq_error_find(code);
    return e ? e->name : NULL;
}

int lmq_error_reason(int code)
{
    const struct lmq_error_entry *e = lmq_error_find(code);
    return e ? e->reason : 0;
}
