/*
 * test_reasons - MQTT 5 reason code names and which packets may carry them
 * (spec section 2.4, Table 2-6, and each packet's reason code list).
 */
#include "check.h"
#include "codec/codec.h"

static void check_name(int type, int reason, const char *want)
{
    const char *got = lmq_reason_name(type, reason);
    CHECK(got != NULL);
    if (got && strcmp(got, want) != 0) {
        fprintf(stderr, "type %d reason 0x%02X: \"%s\" != \"%s\"\n", type,
                reason, got, want);
        check_failed_now = 1;
    }
}

/* Every code in `codes` is valid for `type` and no other code is. */
static void check_exact_set(uint8_t type, const uint8_t *codes, size_t n)
{
    for (unsigned r = 0; r < 256; r++) {
        int want = 0;
        for (size_t i = 0; i < n; i++)
            want |= codes[i] == r;
        if (lmq_reason_valid(type, (uint8_t)r) != want) {
            fprintf(stderr, "type %u reason 0x%02X: valid should be %d\n",
                    type, r, want);
            check_failed_now = 1;
        }
        /* The name and the validity come from one table. */
        CHECK((lmq_reason_name(type, (int)r) != NULL) == want);
    }
}

static void test_zero_is_named_by_packet_type(void)
{
    check_name(LMQ_CONNACK, 0x00, "Success");
    check_name(LMQ_PUBACK, 0x00, "Success");
    check_name(LMQ_PUBREL, 0x00, "Success");
    check_name(LMQ_UNSUBACK, 0x00, "Success");
    check_name(LMQ_AUTH, 0x00, "Success");
    check_name(LMQ_DISCONNECT, 0x00, "Normal disconnection");
    check_name(LMQ_SUBACK, 0x00, "Granted QoS 0");
}

static void test_success_side_codes_have_their_names(void)
{
    check_name(LMQ_SUBACK, 0x01, "Granted QoS 1");
    check_name(LMQ_SUBACK, 0x02, "Granted QoS 2");
    check_name(LMQ_DISCONNECT, 0x04, "Disconnect with Will Message");
    check_name(LMQ_PUBACK, 0x10, "No matching subscribers");
    check_name(LMQ_PUBREC, 0x10, "No matching subscribers");
    check_name(LMQ_UNSUBACK, 0x11, "No subscription existed");
    check_name(LMQ_AUTH, 0x18, "Continue authentication");
    check_name(LMQ_AUTH, 0x19, "Re-authenticate");
}

static void test_error_codes_have_their_names(void)
{
    check_name(LMQ_CONNACK, 0x80, "Unspecified error");
    check_name(LMQ_DISCONNECT, 0x81, "Malformed Packet");
    check_name(LMQ_DISCONNECT, 0x82, "Protocol Error");
    check_name(LMQ_SUBACK, 0x83, "Implementation specific error");
    check_name(LMQ_CONNACK, 0x84, "Unsupported Protocol Version");
    check_name(LMQ_CONNACK, 0x85, "Client Identifier not valid");
    check_name(LMQ_CONNACK, 0x86, "Bad User Name or Password");
    check_name(LMQ_PUBACK, 0x87, "Not authorized");
    check_name(LMQ_CONNACK, 0x88, "Server unavailable");
    check_name(LMQ_DISCONNECT, 0x89, "Server busy");
    check_name(LMQ_CONNACK, 0x8A, "Banned");
    check_name(LMQ_DISCONNECT, 0x8B, "Server shutting down");
    check_name(LMQ_CONNACK, 0x8C, "Bad authentication method");
    check_name(LMQ_DISCONNECT, 0x8D, "Keep Alive timeout");
    check_name(LMQ_DISCONNECT, 0x8E, "Session taken over");
    check_name(LMQ_UNSUBACK, 0x8F, "Topic Filter invalid");
    check_name(LMQ_PUBREC, 0x90, "Topic Name invalid");
    check_name(LMQ_SUBACK, 0x91, "Packet Identifier in use");
    check_name(LMQ_PUBCOMP, 0x92, "Packet Identifier not found");
    check_name(LMQ_DISCONNECT, 0x93, "Receive Maximum exceeded");
    check_name(LMQ_DISCONNECT, 0x94, "Topic Alias invalid");
    check_name(LMQ_CONNACK, 0x95, "Packet too large");
    check_name(LMQ_DISCONNECT, 0x96, "Message rate too high");
    check_name(LMQ_PUBACK, 0x97, "Quota exceeded");
    check_name(LMQ_DISCONNECT, 0x98, "Administrative action");
    check_name(LMQ_PUBACK, 0x99, "Payload format invalid");
    check_name(LMQ_CONNACK, 0x9A, "Retain not supported");
    check_name(LMQ_CONNACK, 0x9B, "QoS not supported");
    check_name(LMQ_CONNACK, 0x9C, "Use another server");
    check_name(LMQ_DISCONNECT, 0x9D, "Server moved");
    check_name(LMQ_SUBACK, 0x9E, "Shared Subscriptions not supported");
    check_name(LMQ_CONNACK, 0x9F, "Connection rate exceeded");
    check_name(LMQ_DISCONNECT, 0xA0, "Maximum connect time");
    check_name(LMQ_SUBACK, 0xA1, "Subscription Identifiers not supported");
    check_name(LMQ_SUBACK, 0xA2, "Wildcard Subscriptions not supported");
}

static void test_connack_accepts_exactly_its_reason_codes(void)
{
    /* 3.2.2.2 */
    static const uint8_t codes[] = {
        0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
        0x8A, 0x8C, 0x90, 0x95, 0x97, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F
    };
    check_exact_set(LMQ_CONNACK, codes, sizeof codes);
}

static void test_puback_and_pubrec_accept_exactly_their_reason_codes(void)
{
    /* 3.4.2.1 and 3.5.2.1 [MQTT-3.4.2-1] [MQTT-3.5.2-1] */
    static const uint8_t codes[] = {
        0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99
    };
    check_exact_set(LMQ_PUBACK, codes, sizeof codes);
    check_exact_set(LMQ_PUBREC, codes, sizeof codes);
}

static void test_pubrel_and_pubcomp_accept_only_success_and_id_not_found(void)
{
    /* 3.6.2.1 and 3.7.2.1 [MQTT-3.6.2-1] [MQTT-3.7.2-1] */
    static const uint8_t codes[] = { 0x00, 0x92 };
    check_exact_set(LMQ_PUBREL, codes, sizeof codes);
    check_exact_set(LMQ_PUBCOMP, codes, sizeof codes);
}

static void test_suback_accepts_exactly_its_reason_codes(void)
{
    /* 3.9.3 */
    static const uint8_t codes[] = {
        0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2
    };
    check_exact_set(LMQ_SUBACK, codes, sizeof codes);
}

static void test_unsuback_accepts_exactly_its_reason_codes(void)
{
    /* 3.11.3 [MQTT-3.11.3-1] */
    static const uint8_t codes[] = { 0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91 };
    check_exact_set(LMQ_UNSUBACK, codes, sizeof codes);
}

static void test_disconnect_accepts_exactly_its_reason_codes(void)
{
    /* 3.14.2.1 [MQTT-3.14.2-1] */
    static const uint8_t codes[] = {
        0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8C, 0x8D,
        0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A,
        0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2
    };
    check_exact_set(LMQ_DISCONNECT, codes, sizeof codes);
}

static void test_auth_accepts_only_success_continue_and_reauthenticate(void)
{
    /* 3.15.2.1 [MQTT-3.15.2-1] */
    static const uint8_t codes[] = { 0x00, 0x18, 0x19 };
    check_exact_set(LMQ_AUTH, codes, sizeof codes);
}

static void test_packets_without_reason_codes_have_none(void)
{
    static const uint8_t none[1] = { 0 };
    check_exact_set(LMQ_CONNECT, none, 0);
    check_exact_set(LMQ_PUBLISH, none, 0);
    check_exact_set(LMQ_SUBSCRIBE, none, 0);
    check_exact_set(LMQ_UNSUBSCRIBE, none, 0);
    check_exact_set(LMQ_PINGREQ, none, 0);
    check_exact_set(LMQ_PINGRESP, none, 0);
    /* type 0 is reserved (and is the will bit in the property table) */
    check_exact_set(0, none, 0);
}

static void test_a_code_of_another_packet_has_no_name_here(void)
{
    CHECK(lmq_reason_name(LMQ_PUBACK, 0x04) == NULL);      /* DISCONNECT's */
    CHECK(lmq_reason_name(LMQ_CONNACK, 0x10) == NULL);     /* PUBACK's */
    CHECK(lmq_reason_name(LMQ_SUBACK, 0x11) == NULL);      /* UNSUBACK's */
    CHECK(lmq_reason_name(LMQ_DISCONNECT, 0x18) == NULL);  /* AUTH's */
    CHECK(lmq_reason_name(LMQ_PUBREL, 0x80) == NULL);
    CHECK(lmq_reason_name(LMQ_CONNACK, 0x8B) == NULL);
    CHECK(lmq_reason_name(LMQ_UNSUBACK, 0x97) == NULL);
}

static void test_out_of_range_arguments_have_no_name(void)
{
    CHECK(lmq_reason_name(-1, 0) == NULL);
    CHECK(lmq_reason_name(16, 0) == NULL);
    CHECK(lmq_reason_name(LMQ_DISCONNECT, -1) == NULL);
    CHECK(lmq_reason_name(LMQ_DISCONNECT, 0x100) == NULL);
    CHECK(lmq_reason_name(LMQ_DISCONNECT, 0x180) == NULL);  /* not 0x80 */
    CHECK_INT(lmq_reason_valid(16, 0), 0);
    CHECK_INT(lmq_reason_valid(255, 0x80), 0);
}

int main(void)
{
    RUN(test_zero_is_named_by_packet_type);
    RUN(test_success_side_codes_have_their_names);
    RUN(test_error_codes_have_their_names);
    RUN(test_connack_accepts_exactly_its_reason_codes);
    RUN(test_puback_and_pubrec_accept_exactly_their_reason_codes);
    RUN(test_pubrel_and_pubcomp_accept_only_success_and_id_not_found);
    RUN(test_suback_accepts_exactly_its_reason_codes);
    RUN(test_unsuback_accepts_exactly_its_reason_codes);
    RUN(test_disconnect_accepts_exactly_its_reason_codes);
    RUN(test_auth_accepts_only_success_continue_and_reauthenticate);
    RUN(test_packets_without_reason_codes_have_none);
    RUN(test_a_code_of_another_packet_has_no_name_here);
    RUN(test_out_of_range_arguments_have_no_name);
    return check_done();
}
