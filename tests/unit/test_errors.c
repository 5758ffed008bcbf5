/* Error codes: names and messages come from errors.def, the version from
 * the build. */
#include "check.h"
#include "codec/codec.h"

static void test_every_code_has_a_name_and_message(void)
{
    static const int codes[] = {
#define X(name, value, reason, msg) value,
#include "common/errors.def"
#undef X
    };
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        CHECK(lmq_errname(codes[i]) != NULL);
        CHECK(strcmp(lmq_strerror(codes[i]), "unknown error") != 0);
        for (size_t j = 0; j < i; j++)
            CHECK(codes[i] != codes[j]);    /* no value used twice */
    }
}

static void test_unknown_codes_are_named_as_unknown(void)
{
    CHECK(strcmp(lmq_strerror(-9999), "unknown error") == 0);
    CHECK(lmq_errname(-9999) == NULL);
    CHECK(strcmp(lmq_strerror(0), "success") == 0);
    CHECK(strcmp(lmq_errname(0), "LMQ_OK") == 0);
    CHECK(strcmp(lmq_errname(LMQ_EMAL_FLAGS), "LMQ_EMAL_FLAGS") == 0);
}

static void test_malformed_input_maps_to_v5_disconnect_reasons(void)
{
    CHECK_INT(lmq_error_reason(LMQ_EMAL_FLAGS), 0x81);       /* malformed */
    CHECK_INT(lmq_error_reason(LMQ_EMAL_PROP_TWICE), 0x82);  /* protocol */
    CHECK_INT(lmq_error_reason(LMQ_EMAL_TOO_LARGE), 0x95);   /* too large */
    CHECK_INT(lmq_error_reason(LMQ_EINVAL), 0);
}

static void test_version_matches_the_build(void)
{
    CHECK(strcmp(lmq_version(), LMQ_PROJECT_VERSION) == 0);
    CHECK_INT(lmq_version_number(), LMQ_VERSION_NUMBER);
    CHECK_INT(LMQ_VERSION_NUMBER, LMQ_VERSION_MAJOR * 1000000 +
              LMQ_VERSION_MINOR * 1000 + LMQ_VERSION_PATCH);
}

int main(void)
{
    RUN(test_every_code_has_a_name_and_message);
    RUN(test_unknown_codes_are_named_as_unknown);
    RUN(test_malformed_input_maps_to_v5_disconnect_reasons);
    RUN(test_version_matches_the_build);
    return check_done();
}
