/*
 * paths.c - where the program finds what ships with it: the rule host's
 * lua/ tree and the C plugins a short --plugin name stands for.  Both are
 * looked for in the same places, first match wins:
 *   1. an environment variable's directories (colon-separated); when it is
 *      set, only there: a wrong value is an error, not a fallback
 *   2. a directory relative to the executable (where an installed tree
 *      keeps it), so an installed tree can be moved as a whole
 *   3. the build tree this binary was built in
 *   4. the configured install location
 */
#define _GNU_SOURCE  /* readlink, PATH_MAX */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "cli.h"

int cli_find_dir(char *buf, size_t size, const char *env_var, const char *rel_to_exe,
                 const char *build_dir, const char *install_dir, cli_dir_ok *ok, void *ud)
{
    const char *env = getenv(env_var);
    char exe[PATH_MAX];
    ssize_t n;

    if (env && *env) {
        for (const char *p = env; *p;) {
            size_t len = strcspn(p, ":");
            if (len < size) {
                memcpy(buf, p, len);
                buf[len] = '\0';
                if (len && ok(buf, ud))
                    return 0;
            }
            p += len + (p[len] == ':');
        }
        return -1;
    }
    n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0 && rel_to_exe) {
        char *slash;

        exe[n] = '\0';
        slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            if ((size_t)snprintf(buf, size, "%s/%s", exe, rel_to_exe) < size && ok(buf, ud))
                return 0;
        }
    }
    const char *fixed[2] = { build_dir, install_dir };
    for (int i = 0; i < 2; i++)
        if (fixed[i] && (size_t)snprintf(buf, size, "%s", fixed[i]) < size && ok(buf, ud))
            return 0;
    return -1;
}

/* ---------------------------------------------------------------- plugins */

typedef struct plugin_probe {
    const char *name;
    char path[PATH_MAX];
} plugin_probe;

static int is_file(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* dir/lunamq_NAME.so, or dir/NAME/lunamq_NAME.so (the build tree). */
static int plugin_in(const char *dir, void *ud)
{
    plugin_probe *pr = ud;

    if ((size_t)snprintf(pr->path, sizeof pr->path, "%s/lunamq_%s.so", dir, pr->name) <
            sizeof pr->path && is_file(pr->path))
        return 1;
    return (size_t)snprintf(pr->path, sizeof pr->path, "%s/%s/lunamq_%s.so", dir, pr->name,
                            pr->name) < sizeof pr->path && is_file(pr->path);
}

#ifndef LMQ_PLUGIN_REL
#define LMQ_PLUGIN_REL NULL
#endif
#ifndef LMQ_PLUGIN_BUILD_DIR
#define LMQ_PLUGIN_BUILD_DIR NULL
#endif
#ifndef LMQ_PLUGIN_INSTALL_DIR
#define LMQ_PLUGIN_INSTALL_DIR NULL
#endif

int cli_plugin_path(const char *name, char *out, size_t size)
{
    plugin_probe pr;
    char dir[PATH_MAX];

    /* a path (a '/' or a .so file name) is taken as it is */
    if (strchr(name, '/') || (strlen(name) > 3 && !strcmp(name + strlen(name) - 3, ".so"))) {
        if ((size_t)snprintf(out, size, "%s", name) >= size)
            return -1;
        return 0;
    }
    pr.name = name;
    if (cli_find_dir(dir, sizeof dir, "LUNAMQ_PLUGIN_PATH", LMQ_PLUGIN_REL, LMQ_PLUGIN_BUILD_DIR,
                     LMQ_PLUGIN_INSTALL_DIR, plugin_in, &pr) < 0)
        return -1;
    return (size_t)snprintf(out, size, "%s", pr.path) < size ? 0 : -1;
}

const char *cli_plugin_dirs(void)
{
    static char text[PATH_MAX + 128];
    const char *env = getenv("LUNAMQ_PLUGIN_PATH");

    if (env && *env)
        return "$LUNAMQ_PLUGIN_PATH";
    snprintf(text, sizeof text, "%s%s%s%s (or set LUNAMQ_PLUGIN_PATH)",
             LMQ_PLUGIN_REL ? "beside the program, " : "", "",
             LMQ_PLUGIN_BUILD_DIR ? "the build tree, " : "",
             LMQ_PLUGIN_INSTALL_DIR ? LMQ_PLUGIN_INSTALL_DIR : "");
    return text;
}
