/* main.c: symtask-model-server, the test model server (model_server.h) as a program of its
 * own, for the bench: serves until SIGTERM or SIGINT.
 *
 *   symtask-model-server --customers FILE [--latency-ms N] [--port N]
 *
 * prints "listening on 127.0.0.1:PORT" once it serves. Loopback only; not installed. */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "model_server.h"

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"customers", required_argument, NULL, 'c'},
        {"latency-ms", required_argument, NULL, 'l'},
        {"port", required_argument, NULL, 'p'},
        {NULL, 0, NULL, 0},
    };
    ms_config_t cfg = {0};
    int latency = 0, opt;

    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            cfg.customers = optarg;
            break;
        case 'l':
            latency = atoi(optarg);
            break;
        case 'p':
            cfg.port = atoi(optarg);
            break;
        default:
            fprintf(stderr, "usage: %s --customers FILE [--latency-ms N] [--port N]\n", argv[0]);
            return 2;
        }
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    /* Blocked before the server's threads start, so that they inherit the mask. */
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    ms_t *ms = ms_start(&cfg);
    if (ms == NULL) {
        fprintf(stderr, "symtask-model-server: cannot start\n");
        return 1;
    }
    ms_set_latency(ms, latency);
    printf("listening on 127.0.0.1:%d\n", ms_port(ms));
    fflush(stdout);
    int sig;
    sigwait(&set, &sig);
    ms_stats_t s = ms_stats(ms);
    fprintf(stderr,
            "symtask-model-server: %lu requests, %lu predictions, %lu connections, %lu "
            "refused signatures, %lu bad requests\n",
            s.requests, s.predictions, s.connections, s.bad_signatures, s.bad_requests);
    ms_stop(ms);
    return 0;
}
