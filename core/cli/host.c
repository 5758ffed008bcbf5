/*
 * host.c - `lunamq host [DIR]`: the rule host.  The host itself is Lua
 * (lua/lunamq/host.lua on the LuaJIT binding); this file only embeds
 * LuaJIT, finds the lua/ tree and hands over the arguments.
 *
 * The engine is linked into this program and its lmq_* symbols are
 * exported (see CMakeLists.txt), so the binding's ffi.C finds the very
 * engine the program was built with; the cdef text made from the same
 * header is embedded too (lmq_host_cdef) and preloaded as
 * package.loaded["lunamq.cdef"], which also tells the binding to use the
 * process's symbols rather than a liblunamq.so found elsewhere.
 *
 * Where lua/ is looked for, first match wins (a directory that holds
 * lunamq/host.lua; paths.c does the looking, as for the plugins):
 *   1. $LUNAMQ_LUA_PATH
 *   2. LMQ_LUA_REL relative to the executable (../share/lunamq/lua once
 *      installed), so an installed tree can be moved as a whole
 *   3. LMQ_LUA_SOURCE_DIR, the checkout this binary was built from
 *   4. LMQ_LUA_INSTALL_DIR, the configured install location
 */
#define _GNU_SOURCE  /* readlink, PATH_MAX */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "cli.h"
#include "host.h"

#ifdef LMQ_HAVE_LUAJIT

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

extern const char lmq_host_cdef[];

/* dir holds lunamq/host.lua. */
static int lua_dir_ok(const char *dir, void *ud)
{
    char path[PATH_MAX];
    struct stat st;

    (void)ud;
    if (!dir || !*dir)
        return 0;
    if ((size_t)snprintf(path, sizeof path, "%s/lunamq/host.lua", dir) >= sizeof path)
        return 0;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The lua/ directory into buf (the search order above: paths.c's). */
static int find_lua_dir(char *buf, size_t size)
{
    return cli_find_dir(buf, size, "LUNAMQ_LUA_PATH", LMQ_LUA_REL, LMQ_LUA_SOURCE_DIR,
                        LMQ_LUA_INSTALL_DIR, lua_dir_ok, NULL);
}

/* package.path = dir/?.lua;dir/?/init.lua;<the default>, and the cdef. */
static void setup_package(lua_State *L, const char *dir)
{
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "path");
    lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;%s", dir, dir, lua_tostring(L, -1));
    lua_setfield(L, -3, "path");
    lua_pop(L, 1);
    lua_getfield(L, -1, "loaded");
    lua_pushstring(L, lmq_host_cdef);
    lua_setfield(L, -2, "lunamq.cdef");
    lua_pop(L, 2);
}

/* The message of an error that escaped, with a traceback. */
static int traceback(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);

    luaL_traceback(L, L, msg ? msg : "(error object is not a string)", 1);
    return 1;
}

/* require("lunamq.host").main({ argv[1], ... }) -> its integer result. */
static int run_main(lua_State *L, int argc, char **argv)
{
    int rc;

    lua_pushcfunction(L, traceback);
    lua_getglobal(L, "require");
    lua_pushstring(L, "lunamq.host");
    if (lua_pcall(L, 1, 1, 1) != 0) {
        fprintf(stderr, "lunamq host: %s\n", lua_tostring(L, -1));
        return CLI_EXIT_FAIL;
    }
    lua_getfield(L, -1, "main");
    lua_createtable(L, argc, 0);
    for (int i = 1; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i);
    }
    if (lua_pcall(L, 1, 1, 1) != 0) {
        fprintf(stderr, "lunamq host: %s\n", lua_tostring(L, -1));
        return CLI_EXIT_FAIL;
    }
    rc = lua_isnumber(L, -1) ? (int)lua_tointeger(L, -1) : CLI_EXIT_OK;
    return rc;
}

int cli_host_main(int argc, char **argv)
{
    char dir[PATH_MAX];
    lua_State *L;
    int rc;

    if (find_lua_dir(dir, sizeof dir) < 0) {
        fprintf(stderr, "lunamq host: the Lua runtime (lunamq/host.lua) is not in %s\n",
                getenv("LUNAMQ_LUA_PATH") && *getenv("LUNAMQ_LUA_PATH")
                    ? "$LUNAMQ_LUA_PATH" : LMQ_LUA_REL ", " LMQ_LUA_SOURCE_DIR " or "
                      LMQ_LUA_INSTALL_DIR " (set LUNAMQ_LUA_PATH)");
        return CLI_EXIT_FAIL;
    }
    L = luaL_newstate();
    if (!L) {
        fprintf(stderr, "lunamq host: cannot create a Lua state\n");
        return CLI_EXIT_FAIL;
    }
    luaL_openlibs(L);
    setup_package(L, dir);
    rc = run_main(L, argc, argv);
    lua_close(L);
    return rc;
}

#else /* !LMQ_HAVE_LUAJIT */

int cli_host_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "lunamq host: this lunamq was built without LuaJIT "
                    "(install libluajit-5.1-dev and rebuild)\n");
    return CLI_EXIT_FAIL;
}

#endif
