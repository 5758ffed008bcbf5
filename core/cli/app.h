/*
 * app.h - the frame of a one-client subcommand (pub, sub): its own libev
 * loop shared with the library, the client configured from the connection
 * flags, and SIGINT / SIGTERM watchers that do not keep the loop alive.
 *
 * Order: cli_app_open, then the subcommand's own watchers, cli_app_run,
 * the subcommand stops its watchers, cli_app_close.
 */
#ifndef LUNAMQ_CLI_APP_H
#define LUNAMQ_CLI_APP_H

#include <ev.h>

#include "cli.h"

typedef struct cli_app {
    struct ev_loop *ev;
    lmq_loop *loop;
    lmq_client *c;
    ev_signal sig_int, sig_term;
    int signals_on;             /* the two watchers started (and unref'd) */
} cli_app;

typedef void cli_signal_fn(struct ev_loop *loop, ev_signal *w, int revents);

/* Make the loop and the client, apply the flags (client id
 * "<id_prefix>-<pid>" unless -i / -I), set the event callback and the
 * signal watchers (w->data = ud).  0, or a CLI_EXIT_* code with the reason
 * printed. */
int cli_app_open(cli_app *a, const cli_conn *conn, const char *id_prefix, lmq_event_fn on_event,
                 cli_signal_fn *on_signal, void *ud);
/* Start the signal watchers, connect and run the loop until it stops.
 * 0, or CLI_EXIT_FAIL when the connect cannot even start. */
int cli_app_run(cli_app *a, const cli_conn *conn);
/* Free the client, the watchers and the loop; the subcommand has stopped
 * its own watchers.  Safe on a zeroed or half-opened app. */
void cli_app_close(cli_app *a);

#endif
