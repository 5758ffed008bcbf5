/* app.c - the frame of a one-client subcommand (see app.h). */
#include "app.h"

#include <signal.h>
#include <unistd.h>

int cli_app_open(cli_app *a, const cli_conn *conn, const char *id_prefix, lmq_event_fn on_event,
                 cli_signal_fn *on_signal, void *ud)
{
    char id[64];

    /* a write to a closed socket is an error return, not a death */
    signal(SIGPIPE, SIG_IGN);
    a->ev = ev_loop_new(EVFLAG_AUTO);
    a->loop = a->ev ? lmq_loop_wrap(a->ev) : NULL;
    a->c = lmq_client_new();
    if (!a->loop || !a->c) {
        cli_err(conn, "out of memory");
        return CLI_EXIT_FAIL;
    }
    snprintf(id, sizeof id, "%s-%ld", id_prefix, (long)getpid());
    if (cli_conn_apply(conn, a->c, id) < 0)
        return CLI_EXIT_USAGE;
    lmq_client_set_callback(a->c, on_event, ud, NULL);
    ev_signal_init(&a->sig_int, on_signal, SIGINT);
    ev_signal_init(&a->sig_term, on_signal, SIGTERM);
    a->sig_int.data = a->sig_term.data = ud;
    return 0;
}

int cli_app_run(cli_app *a, const cli_conn *conn)
{
    ev_signal_start(a->ev, &a->sig_int);
    ev_signal_start(a->ev, &a->sig_term);
    /* the signal watchers alone must not keep the loop running */
    ev_unref(a->ev);
    ev_unref(a->ev);
    a->signals_on = 1;
    if (lmq_client_attach(a->c, a->loop) < 0 || lmq_client_connect(a->c) < 0) {
        cli_err(conn, "cannot connect: %s", lmq_client_errmsg(a->c));
        return CLI_EXIT_FAIL;
    }
    lmq_loop_run(a->loop, 0);
    return 0;
}

void cli_app_close(cli_app *a)
{
    lmq_client_free(a->c);
    a->c = NULL;
    if (a->ev && a->signals_on) {
        ev_ref(a->ev);
        ev_ref(a->ev);
        ev_signal_stop(a->ev, &a->sig_int);
        ev_signal_stop(a->ev, &a->sig_term);
        a->signals_on = 0;
    }
    lmq_loop_free(a->loop);
    a->loop = NULL;
    if (a->ev)
        ev_loop_destroy(a->ev);
    a->ev = NULL;
}
