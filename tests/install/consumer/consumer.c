/* A user's program: includes the installed header, links the library. */
#include <stdio.h>
#include <string.h>

#include <lunamq.h>

int main(void)
{
    if (lmq_version_number() != LMQ_VERSION_NUMBER) {
        fprintf(stderr, "header and library versions differ\n");
        return 1;
    }
    if (lmq_topic_matches("home/+/temp", -1, "home/kitchen/temp", -1) != 1) {
        fprintf(stderr, "lmq_topic_matches failed\n");
        return 1;
    }
    printf("lunamq %s linked\n", lmq_version());
    return 0;
}
