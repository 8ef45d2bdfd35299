/*
 * mock-worker.c - command-line wrapper of the test stand-in worker
 * (mockworker.h), so shell tests can run bb-load against it:
 *
 *   mock-worker --listen ADDR [--http [--chunked]] [--fault-every N]
 *               [--skew-every N] [--worker-id N] [--duration S]
 *
 * It prints "listening on ADDR port P" once bound, then serves until the
 * duration (default 60 s) ends or it gets SIGTERM / SIGINT.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mockworker.h"

int main(int argc, char **argv)
{
    mock_opts_t o = { .listen = NULL, .duration_s = 60 };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--listen") == 0 && v) {
            o.listen = v;
            i++;
        } else if (strcmp(a, "--http") == 0) {
            o.http = true;
        } else if (strcmp(a, "--chunked") == 0) {
            o.chunked = true;
        } else if (strcmp(a, "--fault-every") == 0 && v) {
            o.fault_every = atoi(v);
            i++;
        } else if (strcmp(a, "--skew-every") == 0 && v) {
            o.skew_every = atoi(v);
            i++;
        } else if (strcmp(a, "--worker-id") == 0 && v) {
            o.worker_id = atoi(v);
            i++;
        } else if (strcmp(a, "--duration") == 0 && v) {
            o.duration_s = atof(v);
            i++;
        } else {
            fprintf(stderr, "usage: mock-worker --listen ADDR [--http [--chunked]] [--fault-every N] "
                            "[--skew-every N] [--worker-id N] [--duration S]\n");
            return 2;
        }
    }
    if (!o.listen) {
        fprintf(stderr, "mock-worker: --listen is required\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    mock_t *m = mock_new(&o);
    if (!m)
        return 1;
    printf("listening on %s port %d\n", o.listen, mock_port(m));
    fflush(stdout);
    mock_run(m);
    mock_destroy(m);
    return 0;
}
