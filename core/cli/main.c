/*
 * main.c - the `lunamq` program: one subcommand per file, chosen here.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "host.h"

static const struct cli_cmd {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} cli_cmds[] = {
    { "pub", cli_pub_main, "publish messages (mosquitto_pub's flags)" },
    { "sub", cli_sub_main, "subscribe and print messages (mosquitto_sub's flags)" },
    { "bench", cli_bench_main, "load-test a broker: conn, pub and sub modes" },
    { "host", cli_host_main, "run Lua rule scripts from a directory (reloaded live)" },
};

static void usage(FILE *f)
{
    fprintf(f, "lunamq %s - MQTT 3.1, 3.1.1 and 5.0 from the command line\n\n"
               "Usage: lunamq <command> [options]\n\nCommands:\n", lmq_version());
    for (size_t i = 0; i < sizeof cli_cmds / sizeof cli_cmds[0]; i++)
        fprintf(f, "  %-6s %s\n", cli_cmds[i].name, cli_cmds[i].summary);
    fprintf(f, "\n'lunamq <command> --help' lists a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("lunamq %s\n", lmq_version());
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof cli_cmds / sizeof cli_cmds[0]; i++)
        if (!strcmp(argv[1], cli_cmds[i].name))
            return cli_cmds[i].run(argc - 1, argv + 1);
    fprintf(stderr, "lunamq: unknown command '%s' (try 'lunamq --help')\n", argv[1]);
    return CLI_EXIT_USAGE;
}
