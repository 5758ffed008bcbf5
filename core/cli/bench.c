/* bench.c - placeholder while written */
#include "cli.h"
int cli_bench_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return CLI_EXIT_USAGE;
}
