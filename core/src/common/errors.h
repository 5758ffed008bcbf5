/*
 * errors.h - what the library knows of an error code beyond lunamq.h
 * (errors.c, from errors.def).
 *
 * Internal to the library.
 */
#ifndef LMQ_COMMON_ERRORS_H
#define LMQ_COMMON_ERRORS_H

/* The reason code (0x81 malformed, 0x82 protocol error, 0x94, 0x95) a v5
 * client sends in DISCONNECT for an error from lmq_decode, or 0. */
int lmq_error_reason(int code);

#endif /* LMQ_COMMON_ERRORS_H */
