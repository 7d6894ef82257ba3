/* daemon.h: the daemon's state shared by the API handlers and the supervisor.
 * Private to core/. Everything here is owned by the event loop thread. */
#ifndef SYMTASK_CORE_DAEMON_H
#define SYMTASK_CORE_DAEMON_H

#include <h2o.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "channel.h"
#include "config.h"
#include "customers.h"
#include "poison.h"
#include "store.h"

typedef enum task_status {
    TASK_STOPPED,
    TASK_STARTING,   /* worker spawned, not yet ready */
    TASK_RUNNING,    /* worker reported ready */
    TASK_STOPPING,   /* SIGTERM sent, waiting for the exit */
    TASK_RESTARTING, /* worker exited unexpectedly, waiting for the backoff */
    TASK_FAILED,     /* gave up: too many crashes in a row, or a definition that cannot run */
    TASK_PAUSED,     /* the worker runs, stays in its group, fetches nothing */
} task_status_t;

const char *task_status_name(task_status_t status);

/* One line buffer for a worker's stderr. */
typedef struct line_buf {
    char data[4096];
    size_t len;
} line_buf_t;

struct task;

/* One worker process of a task: a task runs sml.task.workers of them on this node, each
 * supervised on its own (its own restart backoff, heartbeat timeout and stats). The task
 * holds them; sockets of the worker carry it as their data. */
typedef struct task_worker {
    struct task *task;
    unsigned index;       /* 0..worker_count-1: part of its group.instance.id */
    char tag[272];        /* "cid/tid" with one worker, "cid/tid#index" with several */
    task_status_t status; /* this worker's own state */

    /* the process; pid 0 when there is none */
    pid_t pid;
    h2o_socket_t *chan;
    channel_reader_t chan_reader;
    h2o_socket_t *err;
    line_buf_t err_line;
    time_t start_wall;   /* wall-clock time the worker was spawned */
    uint64_t started_ms; /* monotonic ms the worker was spawned */
    uint64_t last_heartbeat_ms;
    /* sml.task.heartbeat.timeout.ms of the definition it was spawned with (sup_spawn) */
    unsigned heartbeat_timeout_ms;
    uint64_t kill_at_ms;    /* while stopping: when to send SIGKILL; 0: none */
    uint64_t restart_at_ms; /* while restarting: when to spawn again */
    unsigned restarts;      /* restarts after crashes since the last start call */
    unsigned crashes_in_row;
    char worker_error[512]; /* last error this worker reported, or why it was killed */
    json_t *stats;          /* its last heartbeat, or NULL */
    unsigned hung_ms;       /* killed for no heartbeat in this many ms; 0: not */
    int hand_fd;            /* its hand board (hand.h), read when it dies; -1: none */
} task_worker_t;

typedef struct task {
    char cid[129];
    char tid[129];
    char tag[260]; /* "cid/tid" for logs */
    json_t *taskinfo;
    bool desired_running;
    bool desired_paused;  /* with desired_running: the workers run paused (docs/operations.md) */
    bool offsets_busy;    /* an offsets reset runs: the task may not start meanwhile */
    bool deleted;         /* no longer in the store; freed once its workers are gone */
    bool restart_now;     /* when the last worker exits, start them all again at once (restart,
                           * force replace) */
    bool failed;          /* a worker gave up; the others are stopped; cleared by a start */
    task_status_t status; /* of the task as a whole, from its workers (sup_update_status) */
    char last_error[1024];
    time_t created, updated;

    task_worker_t **workers; /* worker_count of them; sized at each start */
    unsigned worker_count;
    unsigned restarts;        /* the workers' restarts after crashes, summed */
    unsigned cluster_restart; /* cluster mode: restarts asked for, from the config topic */
    json_t *stats;            /* the workers' last heartbeats summed (counters, lag, histogram) */
    poison_t poison;          /* the task's suspect and quarantined records, kept in the store */
} task_t;

/* Workers of @task whose process exists right now. */
unsigned task_alive_workers(const task_t *task);

typedef struct daemon {
    config_t *cfg;
    store_t *store;
    customers_t *customers;
    h2o_evloop_t *loop;
    char worker_path[4096];
    char plugin_dir[4096];
    char ui_dir[4096]; /* ui.dir, or its default (main.c) */
    char *openapi;     /* ui.dir's openapi.json as compact JSON text, or NULL (ui.c) */
    size_t openapi_len;
    char default_bootstrap[1024]; /* kafka.bootstrap.servers or the embedded cluster's */
    struct embedded_kafka *embedded;
    struct replay *replay;   /* signatures already used; NULL with auth.replay_protection off */
    struct cluster *cluster; /* cluster mode (cluster.h); NULL when off */

    task_t **tasks; /* live tasks (not deleted), in no particular order */
    size_t task_count, task_cap;
    task_t **retired; /* deleted tasks whose worker is still stopping */
    size_t retired_count, retired_cap;

    bool shutting_down;
} daemon_t;

/* Monotonic milliseconds. */
uint64_t daemon_now_ms(void);

/* Task registry (tasks.c). */
task_t *tasks_find(daemon_t *d, const char *cid, const char *tid);
task_t *tasks_add(daemon_t *d, const char *cid, const char *tid, json_t *taskinfo);
/* Removes @task from the live list; frees it, or retires it while a worker of it runs. */
void tasks_remove(daemon_t *d, task_t *task);
/* Frees worker @w of a task (its process gone): its channel reader, stats and hand. */
void task_worker_free(task_worker_t *w);
void task_free(task_t *task);
/* Drops a retired task from the retired list once its worker has exited (then free it). */
void tasks_forget_retired(daemon_t *d, task_t *task);
/* Tasks that hold a slot of sml.task.max: desired running and not failed. */
unsigned tasks_running_count(const daemon_t *d);
/* Persists @task's definition and desired state. */
int tasks_save(daemon_t *d, task_t *task, char *errstr, size_t errstr_size);

/* Supervisor (supervisor.c). */
int sup_init(daemon_t *d, char *errstr, size_t errstr_size);
/* The node's cores for sml.task.workers = auto (the CPUs this process may run on). */
unsigned sup_cores(void);
/* Sets the task's desired state to running and spawns its workers if none runs. */
void sup_start(daemon_t *d, task_t *task);
/* Sets the desired state to stopped and asks the worker to stop. */
void sup_stop(daemon_t *d, task_t *task);
/* Stops every worker and starts them all again (at once if nothing runs). */
void sup_restart(daemon_t *d, task_t *task);
/* Sets the desired state to paused (or back to running) and tells the worker, which reports
 * it in its heartbeats: the status follows them. */
void sup_pause(daemon_t *d, task_t *task);
void sup_resume(daemon_t *d, task_t *task);
/* Called every ~100 ms: backoffs, stop timeouts, heartbeat timeouts. */
void sup_tick(daemon_t *d);
/* Reaps exited workers (on SIGCHLD). */
void sup_reap(daemon_t *d);
/* Asks every worker to stop and returns the number still alive. */
size_t sup_shutdown(daemon_t *d);
/* The message that hands a task to its worker (new reference). */
json_t *sup_task_message(daemon_t *d, const char *cid, const char *tid, json_t *taskinfo);
/* Forks a worker program run as `symtask-worker ... [@mode [@mode_arg]]` (@mode NULL: run a
 * task) and writes @msg (may be NULL) to its channel; @hand_fd (-1: none) becomes the
 * worker's hand board. Returns its pid and the daemon's ends of its channel and stderr, or
 * -1 with a message. */
pid_t sup_fork_worker(daemon_t *d, const char *mode, const char *mode_arg, json_t *msg, int hand_fd,
                      int *chan_fd, int *err_fd, char *errstr, size_t errstr_size);
/* Watches @fd (made non-blocking) in the event loop; @data becomes sock->data. */
h2o_socket_t *sup_watch_fd(daemon_t *d, int fd, void *data, h2o_socket_cb cb);
/* Logs the complete lines of a worker's stderr with @tag, with what taskinfo_scrub() hides
 * of @taskinfo (may be NULL) replaced; keeps the rest in @lb. */
void sup_feed_lines(line_buf_t *lb, const char *tag, json_t *taskinfo, const char *data,
                    size_t len);

#endif
