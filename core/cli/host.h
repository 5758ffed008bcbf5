/*
 * host.h - `lunamq host`: the rule host, LuaJIT embedded in the program.
 */
#ifndef LUNAMQ_CLI_HOST_H
#define LUNAMQ_CLI_HOST_H

/* argv[0] is "host"; the rest goes to require("lunamq.host").main. */
int cli_host_main(int argc, char **argv);

#endif /* LUNAMQ_CLI_HOST_H */
