/*
 * abi_dump.c - print the layout of the public structs as the C compiler
 * lays them out, one "name value" line each, for test_ffi.py to compare
 * with the ctypes mirror in python/lunamq/_ffi.py.
 */
#include <stddef.h>
#include <stdio.h>

#include <lunamq.h>

#define SIZE(t) printf("sizeof %s %zu\n", #t, sizeof(t))
#define OFF(t, f) printf("offsetof %s.%s %zu\n", #t, #f, offsetof(t, f))

int main(void)
{
    SIZE(lmq_event);
    OFF(lmq_event, struct_size);
    OFF(lmq_event, type);
    OFF(lmq_event, error);
    OFF(lmq_event, reason);
    OFF(lmq_event, msg_id);
    OFF(lmq_event, packet_id);
    OFF(lmq_event, qos);
    OFF(lmq_event, retain);
    OFF(lmq_event, dup);
    OFF(lmq_event, session_present);
    OFF(lmq_event, ack_id);
    OFF(lmq_event, log_level);
    OFF(lmq_event, topic_len);
    OFF(lmq_event, payload_len);
    OFF(lmq_event, n_reasons);
    OFF(lmq_event, props_len);
    OFF(lmq_event, topic);
    OFF(lmq_event, payload);
    OFF(lmq_event, reasons);
    OFF(lmq_event, props);
    OFF(lmq_event, text);
    SIZE(lmq_subscription);
    OFF(lmq_subscription, filter);
    OFF(lmq_subscription, filter_len);
    OFF(lmq_subscription, options);
    return 0;
}
