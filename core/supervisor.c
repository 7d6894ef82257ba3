/* supervisor.c: sml.task.workers symtask-worker processes per running task: spawn, watch,
 * stop, restart, each worker on its own. */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kafka_embedded.h"
#include "log.h"
#include "taskinfo.h"
#include "validate.h"

/* A worker that ran this long before crashing starts a new series of crashes. */
#define SUP_STABLE_MS 60000

/* The event callbacks of h2o sockets carry no user argument but the socket's data field
 * (the task); the daemon is one per process. */
static daemon_t *sup_daemon;

static void sup_on_exit(daemon_t *d, task_worker_t *w, int wstatus);

int sup_init(daemon_t *d, char *errstr, size_t errstr_size)
{
    sup_daemon = d;
    if (access(d->worker_path, X_OK) != 0) {
        snprintf(errstr, errstr_size,
                 "cannot run the worker program %s: %s (set worker.path in the config)",
                 d->worker_path, strerror(errno));
        return -1;
    }
    return 0;
}

static void set_last_error(task_t *task, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set_last_error(task_t *task, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(task->last_error, sizeof(task->last_error), fmt, ap);
    va_end(ap);
}

/* Logs one line a worker wrote to stderr with the daemon's time and the task's tag. A worker
 * writes "LEVEL [tag] message" (LOG_FORMAT_CHILD); anything else (a plugin's printf, a crash
 * message of the C library) is logged as it is, at INFO. */
static void sup_log_worker_line(const char *tag, char *line)
{
    static const struct {
        const char *prefix;
        log_level_t level;
    } levels[] = {
        {"ERROR ", LOG_ERROR}, {"WARN ", LOG_WARN}, {"INFO ", LOG_INFO}, {"DEBUG ", LOG_DEBUG}};
    log_level_t level = LOG_INFO;
    for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
        size_t n = strlen(levels[i].prefix);
        if (strncmp(line, levels[i].prefix, n) == 0) {
            level = levels[i].level;
            line += n;
            break;
        }
    }
    if (line[0] == '[') {
        char *end = strstr(line, "] ");
        if (end != NULL)
            line = end + 2;
    }
    log_msg(level, tag, "worker: %s", line);
}

void sup_feed_lines(line_buf_t *lb, const char *tag, json_t *taskinfo, const char *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (data[i] == '\n' || lb->len == sizeof(lb->data) - 1) {
            lb->data[lb->len] = '\0';
            /* A plugin may name its model file or quote a secret (API.md: never logged). */
            taskinfo_scrub(taskinfo, lb->data, sizeof(lb->data));
            sup_log_worker_line(tag, lb->data);
            lb->len = 0;
            if (data[i] == '\n')
                continue;
        }
        lb->data[lb->len++] = data[i];
    }
}

static void sup_on_stderr(h2o_socket_t *sock, const char *err)
{
    task_worker_t *w = sock->data;
    if (err != NULL) {
        h2o_socket_close(sock);
        w->err = NULL;
        return;
    }
    sup_feed_lines(&w->err_line, w->tag, w->task->taskinfo, sock->input->bytes, sock->input->size);
    h2o_buffer_consume(&sock->input, sock->input->size);
}

/* A ready worker's status says what its last heartbeat said: paused only once the worker
 * has committed what it held. */
static void sup_follow_pause(task_worker_t *w, bool paused)
{
    if (w->status == TASK_RUNNING && paused) {
        w->status = TASK_PAUSED;
        log_info(w->tag, "paused");
    } else if (w->status == TASK_PAUSED && !paused) {
        w->status = TASK_RUNNING;
        log_info(w->tag, "resumed");
    }
}

/* Adds the integer @key of @from to @into's (both heartbeat objects). */
static void stats_add_int(json_t *into, json_t *from, const char *key)
{
    json_t *a = json_object_get(into, key), *b = json_object_get(from, key);
    if (!json_is_integer(b))
        return;
    json_int_t sum = json_integer_value(b) + (json_is_integer(a) ? json_integer_value(a) : 0);
    json_object_set_new(into, key, json_integer(sum));
}

/* The task's stats from its workers' last heartbeats (NULL when none reported): counters
 * and partitions summed, the lag summed over the workers that know theirs (null when none
 * does), Kafka "up" only when every reporting worker reached it, the group "stable" only
 * when every one is, the latest record time, the latency histograms added bucket by bucket.
 * A worker that exited keeps its last heartbeat until it is spawned again, as one worker's
 * counters stay in the status of a stopped task.
 * The metrics and the status's task-wide keys read it as they read one worker's heartbeat. */
static void sup_aggregate_stats(task_t *task)
{
    static const char *const sums[] = {"recordsIn",
                                       "recordsOut",
                                       "recordsFailed",
                                       "recordsDeadLetter",
                                       "consumerLag",
                                       "assignedPartitions",
                                       "transactionsCommitted",
                                       "transactionsAborted",
                                       "retries",
                                       "retrying"};
    json_t *agg = NULL;
    for (unsigned i = 0; i < task->worker_count; i++) {
        json_t *st = task->workers[i]->stats;
        if (st == NULL)
            continue;
        if (agg == NULL) {
            agg = json_deep_copy(st);
            if (agg == NULL)
                break;
            continue;
        }
        for (size_t k = 0; k < sizeof(sums) / sizeof(sums[0]); k++)
            stats_add_int(agg, st, sums[k]);
        const char *kafka = json_string_value(json_object_get(st, "kafka"));
        if (kafka != NULL && strcmp(kafka, "up") != 0)
            json_object_set_new(agg, "kafka", json_string(kafka));
        const char *group = json_string_value(json_object_get(st, "groupState"));
        if (group != NULL && strcmp(group, "stable") != 0)
            json_object_set_new(agg, "groupState", json_string(group));
        const char *last = json_string_value(json_object_get(st, "lastRecordDateTime"));
        const char *mine = json_string_value(json_object_get(agg, "lastRecordDateTime"));
        if (last != NULL && (mine == NULL || strcmp(last, mine) > 0)) /* ISO 8601 UTC */
            json_object_set_new(agg, "lastRecordDateTime", json_string(last));
        json_t *ha = json_object_get(agg, "batchLatency"),
               *hb = json_object_get(st, "batchLatency");
        json_t *ca = json_object_get(ha, "counts"), *cb = json_object_get(hb, "counts");
        if (json_is_array(ca) && json_is_array(cb) && json_array_size(ca) == json_array_size(cb)) {
            for (size_t k = 0; k < json_array_size(ca); k++)
                json_array_set_new(ca, k,
                                   json_integer(json_integer_value(json_array_get(ca, k)) +
                                                json_integer_value(json_array_get(cb, k))));
            json_object_set_new(ha, "sum",
                                json_real(json_number_value(json_object_get(ha, "sum")) +
                                          json_number_value(json_object_get(hb, "sum"))));
            stats_add_int(ha, hb, "count");
        }
    }
    json_decref(task->stats);
    task->stats = agg;
}

/* The task's status, restarts and stats from its workers'. */
static void sup_update_status(task_t *task)
{
    unsigned alive = 0, running = 0, paused = 0, starting = 0, restarting = 0;
    task->restarts = 0;
    for (unsigned i = 0; i < task->worker_count; i++) {
        task_worker_t *w = task->workers[i];
        alive += w->pid != 0;
        running += w->status == TASK_RUNNING;
        paused += w->status == TASK_PAUSED;
        starting += w->status == TASK_STARTING;
        restarting += w->status == TASK_RESTARTING;
        task->restarts += w->restarts;
    }
    if (task->failed)
        task->status = TASK_FAILED;
    else if (!task->desired_running)
        task->status = alive > 0 ? TASK_STOPPING : TASK_STOPPED;
    else if (task->restart_now || restarting > 0)
        task->status = TASK_RESTARTING;
    else if (starting > 0 || running + paused < task->worker_count)
        task->status = TASK_STARTING;
    else /* paused once every worker has paused; while some have, still running */
        task->status = paused == task->worker_count ? TASK_PAUSED : TASK_RUNNING;
    sup_aggregate_stats(task);
}

static void sup_handle_message(task_worker_t *w, json_t *msg)
{
    task_t *task = w->task;
    const char *type = json_string_value(json_object_get(msg, "type"));
    if (poison_on_message(&task->poison, msg, w->tag))
        return; /* done: suspect records that went through the plugins (poison.c) */
    if (type == NULL) {
        log_warn(w->tag, "worker sent a message without a type; ignored");
    } else if (strcmp(type, "heartbeat") == 0) {
        w->last_heartbeat_ms = daemon_now_ms();
        json_decref(w->stats);
        w->stats = json_incref(msg);
        sup_follow_pause(w, json_is_true(json_object_get(msg, "paused")));
        sup_update_status(task);
    } else if (strcmp(type, "ready") == 0) {
        w->last_heartbeat_ms = daemon_now_ms();
        if (w->status == TASK_STARTING) {
            w->status = TASK_RUNNING;
            log_info(w->tag, "running (worker pid %d)", (int)w->pid);
            sup_update_status(task);
        }
    } else if (strcmp(type, "error") == 0) {
        const char *message = json_string_value(json_object_get(msg, "message"));
        if (message == NULL)
            message = "(the worker reported an error without a message)";
        /* The status shows it and the log keeps it: no model path, no secret (API.md). */
        snprintf(w->worker_error, sizeof(w->worker_error), "%s", message);
        taskinfo_scrub(task->taskinfo, w->worker_error, sizeof(w->worker_error));
        if (task->worker_count > 1)
            set_last_error(task, "worker %u: %s", w->index, w->worker_error);
        else
            set_last_error(task, "%s", w->worker_error);
    } else {
        log_warn(w->tag, "worker sent an unknown message type '%s'; ignored", type);
    }
}

static void sup_close_channel(task_worker_t *w)
{
    if (w->chan != NULL) {
        h2o_socket_close(w->chan);
        w->chan = NULL;
    }
    channel_reader_free(&w->chan_reader);
}

/* Takes in @len bytes of the worker's channel and handles the complete messages; kills a
 * worker that breaks the protocol. Returns -1 then (the channel is closed). */
static int sup_channel_feed(task_worker_t *w, const char *data, size_t len)
{
    if (channel_reader_feed(&w->chan_reader, data, len) != 0) {
        log_error(w->tag, "worker sent a message over %d bytes; killing it", CHANNEL_MSG_MAX);
        snprintf(w->worker_error, sizeof(w->worker_error),
                 "worker broke the channel protocol (message too long); killed");
        if (w->pid != 0)
            kill(w->pid, SIGKILL);
        sup_close_channel(w);
        return -1;
    }
    json_t *msg;
    int bad;
    while ((msg = channel_reader_next(&w->chan_reader, &bad)) != NULL || bad) {
        if (bad) {
            log_warn(w->tag, "worker sent a line that is not a JSON object; ignored");
            continue;
        }
        sup_handle_message(w, msg);
        json_decref(msg);
    }
    return 0;
}

static void sup_on_channel(h2o_socket_t *sock, const char *err)
{
    task_worker_t *w = sock->data;
    if (err != NULL) {
        /* The worker closed its end: it is exiting or gone. Reap at once rather than wait
         * for SIGCHLD's turn in the loop. */
        sup_close_channel(w);
        sup_reap(sup_daemon);
        return;
    }
    size_t len = sock->input->size;
    if (sup_channel_feed(w, sock->input->bytes, len) == 0)
        h2o_buffer_consume(&sock->input, len);
}

/* Reads what is left on the worker's channel when its exit is seen first: its last message,
 * the error it stopped on, would be lost otherwise (and the status would only say that the
 * worker refused the task). */
static void sup_drain_channel(task_worker_t *w)
{
    if (w->chan == NULL)
        return;
    h2o_socket_t *sock = w->chan;
    if (sock->input->size > 0) {
        size_t len = sock->input->size;
        if (sup_channel_feed(w, sock->input->bytes, len) != 0)
            return;
        h2o_buffer_consume(&sock->input, len);
    }
    int fd = h2o_socket_get_fd(sock);
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        if (sup_channel_feed(w, buf, (size_t)n) != 0)
            return;
}

/* Creates the task's topics on the embedded cluster when the task runs there. */
static void sup_prepare_embedded_topics(daemon_t *d, task_t *task)
{
    if (d->embedded == NULL || taskinfo_param(task->taskinfo, "bootstrap.servers", NULL) != NULL)
        return;
    const char *sink = taskinfo_param(task->taskinfo, "sml.kstream.sink.topic", "");
    char dlq[300];
    snprintf(dlq, sizeof(dlq), "%s.dlq", sink);
    const char *topics[] = {
        taskinfo_param(task->taskinfo, "sml.kstream.source.topic", ""),
        sink,
        taskinfo_param(task->taskinfo, "sml.kstream.dlq.topic", dlq),
    };
    for (size_t i = 0; i < 3; i++) {
        char errstr[512];
        if (embedded_kafka_topic_create(d->embedded, topics[i], errstr, sizeof(errstr)) != 0)
            log_warn(task->tag, "%s", errstr);
    }
}

h2o_socket_t *sup_watch_fd(daemon_t *d, int fd, void *data, h2o_socket_cb cb)
{
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    h2o_socket_t *sock = h2o_evloop_socket_create(d->loop, fd, 0);
    sock->data = data;
    h2o_socket_read_start(sock, cb);
    return sock;
}

/* In the forked child: becomes the worker program. Never returns. */
static void sup_exec_worker(daemon_t *d, pid_t parent, int chan_fd, int hand_fd, int err_fd,
                            const char *mode, const char *mode_arg)
{
    /* Die with the daemon, even when it is SIGKILLed; and if it is already gone, stop now. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
        _exit(1);
    /* Ctrl-C on the daemon's terminal reaches the daemon only; it stops workers in order. */
    setpgid(0, 0);

    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);

    /* out of the way of the fds they become, whatever their numbers */
    chan_fd = fcntl(chan_fd, F_DUPFD, 10);
    if (hand_fd >= 0)
        hand_fd = fcntl(hand_fd, F_DUPFD, 10);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull < 0 || chan_fd < 0 || dup2(devnull, 0) < 0 || dup2(err_fd, 1) < 0 ||
        dup2(err_fd, 2) < 0 || dup2(chan_fd, CHANNEL_WORKER_FD) < 0 ||
        (hand_fd >= 0 && dup2(hand_fd, HAND_WORKER_FD) < 0))
        _exit(127);
    close_range(hand_fd >= 0 ? HAND_WORKER_FD + 1 : CHANNEL_WORKER_FD + 1, ~0U, 0);

    static const char *const levels[] = {"error", "warn", "info", "debug"};
    const char *argv[12] = {"symtask-worker", "--channel-fd", "3"};
    size_t argc = 3;
    if (hand_fd >= 0) {
        argv[argc++] = "--hand-fd";
        argv[argc++] = "4";
    }
    argv[argc++] = "--log-level";
    argv[argc++] = levels[log_get_level()];
    argv[argc++] = mode;
    argv[argc++] = mode_arg;
    execv(d->worker_path, (char *const *)argv);
    dprintf(2, "ERROR cannot run the worker program %s: %s\n", d->worker_path, strerror(errno));
    _exit(127);
}

json_t *sup_task_message(daemon_t *d, const char *cid, const char *tid, json_t *taskinfo)
{
    return json_pack("{s:s, s:s, s:s, s:O, s:s, s:s}", "type", "task", "cid", cid, "tid", tid,
                     "taskInfo", taskinfo, "bootstrap.servers", d->default_bootstrap, "pluginDir",
                     d->plugin_dir);
}

pid_t sup_fork_worker(daemon_t *d, const char *mode, const char *mode_arg, json_t *msg, int hand_fd,
                      int *chan_fd, int *err_fd, char *errstr, size_t errstr_size)
{
    int sv[2] = {-1, -1}, ep[2] = {-1, -1};
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0 || pipe2(ep, O_CLOEXEC) != 0) {
        snprintf(errstr, errstr_size, "cannot start a worker: %s", strerror(errno));
        goto error;
    }
    /* The definition is written in one go below; a roomy buffer keeps that from waiting on
     * the worker even for the largest accepted TaskInfo. */
    int sndbuf = 2 * CHANNEL_MSG_MAX;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));

    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(errstr, errstr_size, "cannot start a worker: fork: %s", strerror(errno));
        goto error;
    }
    if (pid == 0)
        sup_exec_worker(d, parent, sv[1], hand_fd, ep[1], mode, mode_arg);
    close(sv[1]);
    close(ep[1]);

    if (msg != NULL && channel_send(sv[0], msg) != 0)
        log_warn(NULL, "cannot write to worker %d: %s", (int)pid, strerror(errno));
    *chan_fd = sv[0];
    *err_fd = ep[0];
    return pid;

error:
    for (int i = 0; i < 2; i++) {
        if (sv[i] >= 0)
            close(sv[i]);
        if (ep[i] >= 0)
            close(ep[i]);
    }
    return -1;
}

unsigned sup_cores(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
        return (unsigned)CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

/* Gives @task @count fresh workers; only while none of its workers runs. */
static int sup_size_workers(task_t *task, unsigned count)
{
    task_worker_t **workers = calloc(count, sizeof(*workers));
    if (workers == NULL)
        return -1;
    for (unsigned i = 0; i < count; i++) {
        workers[i] = calloc(1, sizeof(*workers[i]));
        if (workers[i] == NULL) {
            while (i-- > 0)
                free(workers[i]);
            free(workers);
            return -1;
        }
        workers[i]->task = task;
        workers[i]->index = i;
        workers[i]->status = TASK_STOPPED;
        workers[i]->hand_fd = -1;
        channel_reader_init(&workers[i]->chan_reader);
        if (count == 1)
            snprintf(workers[i]->tag, sizeof(workers[i]->tag), "%s", task->tag);
        else
            snprintf(workers[i]->tag, sizeof(workers[i]->tag), "%s#%u", task->tag, i);
    }
    for (unsigned i = 0; i < task->worker_count; i++)
        task_worker_free(task->workers[i]);
    free(task->workers);
    task->workers = workers;
    task->worker_count = count;
    json_decref(task->stats);
    task->stats = NULL;
    return 0;
}

static void sup_signal(task_worker_t *w, int sig)
{
    if (w->pid > 0)
        kill(w->pid, sig);
}

/* Sends SIGTERM and arms the SIGKILL timeout. */
static void sup_terminate(daemon_t *d, task_worker_t *w, task_status_t status)
{
    if (w->kill_at_ms == 0) {
        sup_signal(w, SIGTERM);
        w->kill_at_ms = daemon_now_ms() + d->cfg->stop_timeout_ms;
    }
    w->status = status;
}

/* Asks every live worker of @task to stop; the others are stopped (or stay failed). */
static void sup_stop_workers(daemon_t *d, task_t *task)
{
    for (unsigned i = 0; i < task->worker_count; i++) {
        task_worker_t *w = task->workers[i];
        if (w->pid != 0)
            sup_terminate(d, w, TASK_STOPPING);
        else if (w->status != TASK_FAILED)
            w->status = TASK_STOPPED;
    }
}

/* The task cannot go on: marks it failed (it gives back its slot of sml.task.max) and stops
 * its other workers, so that a failed task runs nothing, whatever its worker count. */
static void sup_fail_task(daemon_t *d, task_t *task)
{
    task->failed = true;
    task->restart_now = false;
    sup_stop_workers(d, task);
    log_error(task->tag, "failed: %s", task->last_error);
}

/* Spawns worker @w of its task and hands it its definition. */
static int sup_spawn(daemon_t *d, task_worker_t *w)
{
    task_t *task = w->task;
    sup_prepare_embedded_topics(d, task);

    int chan_fd, err_fd;
    json_t *msg = sup_task_message(d, task->cid, task->tid, task->taskinfo);
    /* the records to handle one at a time and those to set aside (poison.h) */
    json_t *poison = poison_to_json(&task->poison);
    if (poison != NULL)
        json_object_set_new(msg, "poison", poison);
    json_object_set_new(msg, "workerIndex", json_integer(w->index));
    json_object_set_new(msg, "workers", json_integer(task->worker_count));
    if (d->cfg->cluster_enabled) /* workers of every node in one group need distinct ids */
        json_object_set_new(msg, "node", json_string(d->cfg->cluster_node_id));
    if (msg != NULL && task->desired_paused)
        json_object_set_new(msg, "paused", json_true());
    /* where the worker writes what it hands to the plugins, for after a crash (hand.h);
     * without one a crash leaves no record suspect, and the task still runs */
    if (w->hand_fd >= 0)
        close(w->hand_fd);
    w->hand_fd = hand_board_create();
    if (w->hand_fd < 0)
        log_warn(w->tag,
                 "cannot make the worker's hand board (%s): a crash will leave no record "
                 "suspect",
                 strerror(errno));
    pid_t pid = sup_fork_worker(d, NULL, NULL, msg, w->hand_fd, &chan_fd, &err_fd, task->last_error,
                                sizeof(task->last_error));
    json_decref(msg);
    if (pid < 0) {
        w->status = TASK_FAILED;
        sup_fail_task(d, task);
        return -1;
    }
    w->pid = pid;
    w->start_wall = time(NULL);
    w->started_ms = w->last_heartbeat_ms = daemon_now_ms();
    w->kill_at_ms = 0;
    w->worker_error[0] = '\0';
    w->hung_ms = 0;
    /* a task whose plugins legitimately take long sets its own (docs/delivery.md) */
    w->heartbeat_timeout_ms = (unsigned)taskinfo_param_uint(
        task->taskinfo, "sml.task.heartbeat.timeout.ms", d->cfg->heartbeat_timeout_ms);
    w->status = TASK_STARTING;
    json_decref(w->stats);
    w->stats = NULL;
    channel_reader_init(&w->chan_reader);
    w->chan = sup_watch_fd(d, chan_fd, w, sup_on_channel);
    w->err_line.len = 0;
    w->err = sup_watch_fd(d, err_fd, w, sup_on_stderr);
    log_info(w->tag, "worker started (pid %d)", (int)pid);
    return 0;
}

/* Starts every worker of @task afresh, as many as its definition asks for on this node;
 * only while none runs. */
static void sup_spawn_all(daemon_t *d, task_t *task)
{
    task->restart_now = false;
    task->failed = false;
    if (sup_size_workers(task, taskinfo_workers(task->taskinfo, sup_cores())) != 0) {
        set_last_error(task, "cannot start the task's workers: out of memory");
        task->failed = true;
        log_error(task->tag, "%s", task->last_error);
        return;
    }
    for (unsigned i = 0; i < task->worker_count && !task->failed; i++)
        sup_spawn(d, task->workers[i]);
}

void sup_start(daemon_t *d, task_t *task)
{
    task->desired_running = true;
    for (unsigned i = 0; i < task->worker_count; i++)
        task->workers[i]->crashes_in_row = task->workers[i]->restarts = 0;
    if (task_alive_workers(task) > 0) {
        /* some are still stopping (a stop, or the others of a failed worker): all start
         * again together once the last has exited */
        bool stopping = task->failed;
        for (unsigned i = 0; i < task->worker_count; i++)
            stopping |= task->workers[i]->kill_at_ms != 0;
        if (stopping)
            task->restart_now = true;
        task->failed = false;
        sup_update_status(task);
        return;
    }
    task->last_error[0] = '\0';
    sup_spawn_all(d, task);
    sup_update_status(task);
}

void sup_stop(daemon_t *d, task_t *task)
{
    task->desired_running = false;
    task->desired_paused = false; /* a stop clears a pause (docs/operations.md) */
    task->restart_now = false;
    sup_stop_workers(d, task);
    sup_update_status(task);
}

void sup_restart(daemon_t *d, task_t *task)
{
    if (task_alive_workers(task) == 0) {
        sup_start(d, task);
        return;
    }
    task->desired_running = true;
    task->failed = false;
    task->restart_now = true;
    for (unsigned i = 0; i < task->worker_count; i++) {
        task_worker_t *w = task->workers[i];
        w->crashes_in_row = 0;
        if (w->pid != 0)
            sup_terminate(d, w, TASK_RESTARTING);
        else
            w->status = TASK_RESTARTING;
    }
    sup_update_status(task);
}

/* Writes @msg to every worker of the task that runs and is not being killed; a worker spawned
 * later learns the desired state from its task message. */
static void sup_tell_workers(task_t *task, json_t *msg)
{
    const char *type = json_string_value(json_object_get(msg, "type"));
    for (unsigned i = 0; i < task->worker_count; i++) {
        task_worker_t *w = task->workers[i];
        if (w->chan == NULL || w->kill_at_ms != 0)
            continue;
        if (channel_send(h2o_socket_get_fd(w->chan), msg) != 0)
            log_warn(w->tag, "cannot send the worker its %s message: %s", type, strerror(errno));
    }
}

static void sup_tell_workers_type(task_t *task, const char *type)
{
    json_t *msg = json_pack("{s:s}", "type", type);
    if (msg == NULL) {
        log_warn(task->tag, "cannot tell the workers to %s: out of memory", type);
        return;
    }
    sup_tell_workers(task, msg);
    json_decref(msg);
}

void sup_pause(daemon_t *d, task_t *task)
{
    (void)d;
    task->desired_paused = true;
    sup_tell_workers_type(task, "pause");
}

void sup_resume(daemon_t *d, task_t *task)
{
    (void)d;
    task->desired_paused = false;
    sup_tell_workers_type(task, "resume");
}

/* Describes a wait status for lastError and the log. */
static void describe_exit(int wstatus, char *buf, size_t size)
{
    if (WIFEXITED(wstatus))
        snprintf(buf, size, "exited with code %d", WEXITSTATUS(wstatus));
    else if (WIFSIGNALED(wstatus))
        snprintf(buf, size, "killed by signal %d (SIG%s)%s", WTERMSIG(wstatus),
                 sigabbrev_np(WTERMSIG(wstatus)) ? sigabbrev_np(WTERMSIG(wstatus)) : "?",
                 WCOREDUMP(wstatus) ? ", core dumped" : "");
    else
        snprintf(buf, size, "ended with wait status %d", wstatus);
}

static uint64_t sup_backoff_ms(const config_t *cfg, unsigned crashes)
{
    uint64_t ms = cfg->restart_backoff_ms;
    for (unsigned i = 1; i < crashes && ms < cfg->restart_backoff_max_ms; i++)
        ms *= 2;
    return ms < cfg->restart_backoff_max_ms ? ms : cfg->restart_backoff_max_ms;
}

/* Reads what is left in the worker's stderr pipe, so that its last words (a crash message)
 * reach the log before the task's state changes. */
static void sup_drain_stderr(task_worker_t *w)
{
    if (w->err == NULL)
        return;
    int fd = h2o_socket_get_fd(w->err);
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        sup_feed_lines(&w->err_line, w->tag, w->task->taskinfo, buf, (size_t)n);
    if (w->err_line.len > 0)
        sup_feed_lines(&w->err_line, w->tag, w->task->taskinfo, "\n", 1);
    h2o_socket_close(w->err);
    w->err = NULL;
}

/* A worker that died by a signal, or was killed for a missing heartbeat, with records in
 * hand: they become suspect, or the one it held alone is quarantined (poison.c). Returns
 * non-zero when that failed the task (errors.tolerance = none). */
static int sup_poison_on_death(daemon_t *d, task_worker_t *w, int wstatus, int board)
{
    task_t *task = w->task;
    char cause[64], message[512], errstr[512];
    if (w->hung_ms != 0)
        snprintf(cause, sizeof(cause), "no heartbeat for %u ms", w->hung_ms);
    else if (WIFSIGNALED(wstatus))
        snprintf(cause, sizeof(cause), "worker killed by SIG%s",
                 sigabbrev_np(WTERMSIG(wstatus)) ? sigabbrev_np(WTERMSIG(wstatus)) : "?");
    else
        return 0; /* an exit of its own: the worker said why, the records are not to blame */
    poison_verdict_t v = poison_on_death(&task->poison, board, task->taskinfo, cause, w->tag,
                                         message, sizeof(message));
    if (v == POISON_NONE)
        return 0;
    /* a daemon restart keeps them; a failure to write is logged, the memory still holds them */
    if (tasks_save(d, task, errstr, sizeof(errstr)) != 0)
        log_error(task->tag, "cannot keep the suspect records in the store: %s", errstr);
    if (v == POISON_FAIL) {
        w->status = TASK_FAILED;
        set_last_error(task, "%s", message);
        sup_fail_task(d, task);
        return 1;
    }
    /* the task's other workers may be given the dead one's partitions: they learn the
     * suspect records now, as the restarted worker does from its task message */
    json_t *state = poison_to_json(&task->poison);
    if (state != NULL) {
        json_object_set_new(state, "type", json_string("poison"));
        sup_tell_workers(task, state);
        json_decref(state);
    }
    return 0;
}

/* What happens after worker @w exited unasked (not stopping, not restarting): fail the task
 * on a definition that cannot run or on too many crashes in a row, else restart @w alone
 * after its backoff. */
static void sup_on_crash(daemon_t *d, task_worker_t *w, int wstatus, int board, const char *how,
                         uint64_t ran_ms)
{
    task_t *task = w->task;
    char who[32] = "";
    if (task->worker_count > 1)
        snprintf(who, sizeof(who), "worker %u: ", w->index);
    if (sup_poison_on_death(d, w, wstatus, board) != 0)
        return;
    if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 2) {
        w->status = TASK_FAILED;
        set_last_error(task, "%s%s", who,
                       w->worker_error[0] ? w->worker_error
                                          : "the worker refused the task's definition");
        log_error(w->tag, "worker exited with code 2: the definition cannot run; not restarted");
        sup_fail_task(d, task);
        return;
    }
    if (ran_ms >= SUP_STABLE_MS)
        w->crashes_in_row = 0;
    w->crashes_in_row++;
    if (w->worker_error[0] != '\0')
        set_last_error(task, "%sworker %s; last error: %s", who, how, w->worker_error);
    else
        set_last_error(task, "%sworker %s", who, how);

    if (w->crashes_in_row >= d->cfg->restart_max) {
        w->status = TASK_FAILED;
        char last[sizeof(task->last_error)];
        memcpy(last, task->last_error, sizeof(last));
        set_last_error(task, "gave up after %u crashes in a row: %s", w->crashes_in_row, last);
        sup_fail_task(d, task);
        return;
    }
    uint64_t delay = sup_backoff_ms(d->cfg, w->crashes_in_row);
    w->status = TASK_RESTARTING;
    w->restart_at_ms = daemon_now_ms() + delay;
    w->restarts++;
    log_warn(w->tag, "%s; restarting in %llu ms (crash %u of %u)", task->last_error,
             (unsigned long long)delay, w->crashes_in_row, d->cfg->restart_max);
}

/* What sup_on_exit() does, the dead worker's hand board being @board. */
static void sup_handle_exit(daemon_t *d, task_worker_t *w, int wstatus, int board)
{
    task_t *task = w->task;
    char how[128];
    describe_exit(wstatus, how, sizeof(how));
    uint64_t ran_ms = daemon_now_ms() - w->started_ms;

    sup_drain_stderr(w);
    sup_drain_channel(w);
    sup_close_channel(w);
    w->pid = 0;
    w->kill_at_ms = 0;

    if (task->deleted) {
        log_info(w->tag, "worker of the deleted task %s", how);
        if (task_alive_workers(task) == 0) {
            tasks_forget_retired(d, task);
            task_free(task);
        }
        return;
    }
    bool clean = WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0;
    if (!task->desired_running || d->shutting_down || task->failed) {
        if (w->status != TASK_FAILED)
            w->status = TASK_STOPPED;
        log_info(w->tag, "stopped (worker %s)", how);
        /* SIGTERM is how a stop is asked for; it can end a worker before its handler is set */
        bool asked = WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGTERM;
        if (!clean && !asked && !d->shutting_down && !task->failed)
            set_last_error(task, "worker %s while stopping", how);
    } else if (task->restart_now) {
        w->status = TASK_RESTARTING;
        log_info(w->tag, "restarting (worker %s)", how);
        if (task_alive_workers(task) == 0)
            sup_spawn_all(d, task);
    } else {
        sup_on_crash(d, w, wstatus, board, how, ran_ms);
    }
    sup_update_status(task);
}

/* The one path every worker's death takes, whatever ended it (asked or not). The worker's
 * hand board is read there, if at all, then closed: a stopped task holds no fd. */
static void sup_on_exit(daemon_t *d, task_worker_t *w, int wstatus)
{
    int board = w->hand_fd;
    w->hand_fd = -1;
    sup_handle_exit(d, w, wstatus, board); /* may free @w */
    if (board >= 0)
        close(board);
}

static task_worker_t *sup_find_pid_in(task_t **tasks, size_t count, pid_t pid)
{
    for (size_t i = 0; i < count; i++)
        for (unsigned k = 0; k < tasks[i]->worker_count; k++)
            if (tasks[i]->workers[k]->pid == pid)
                return tasks[i]->workers[k];
    return NULL;
}

void sup_reap(daemon_t *d)
{
    int wstatus;
    pid_t pid;
    while ((pid = waitpid(-1, &wstatus, WNOHANG)) > 0) {
        task_worker_t *w = sup_find_pid_in(d->tasks, d->task_count, pid);
        if (w == NULL)
            w = sup_find_pid_in(d->retired, d->retired_count, pid);
        if (w != NULL)
            sup_on_exit(d, w, wstatus);
        else
            validate_on_exit(d, pid, wstatus);
    }
}

static void sup_tick_worker(daemon_t *d, task_worker_t *w, uint64_t now)
{
    task_t *task = w->task;
    if (w->pid == 0) {
        if (w->status == TASK_RESTARTING && task->desired_running && !task->restart_now &&
            !task->failed && !d->shutting_down && now >= w->restart_at_ms) {
            sup_spawn(d, w);
            sup_update_status(task);
        }
        return;
    }
    if (w->kill_at_ms != 0 && now >= w->kill_at_ms) {
        log_warn(w->tag, "worker did not stop within %u ms; sending SIGKILL",
                 d->cfg->stop_timeout_ms);
        sup_signal(w, SIGKILL);
        w->kill_at_ms = UINT64_MAX; /* sent; wait for the exit */
        return;
    }
    if (w->kill_at_ms == 0 && now - w->last_heartbeat_ms > w->heartbeat_timeout_ms) {
        snprintf(w->worker_error, sizeof(w->worker_error),
                 "no heartbeat for %u ms; the worker was killed", w->heartbeat_timeout_ms);
        log_error(w->tag, "%s", w->worker_error);
        sup_signal(w, SIGKILL);
        w->kill_at_ms = UINT64_MAX;
        w->hung_ms = w->heartbeat_timeout_ms;
    }
}

static void sup_tick_tasks(daemon_t *d, task_t **tasks, size_t count, uint64_t now)
{
    /* a spawn failure can fail the task but never frees it: the array stays as it is */
    for (size_t i = 0; i < count; i++)
        for (unsigned k = 0; k < tasks[i]->worker_count; k++)
            sup_tick_worker(d, tasks[i]->workers[k], now);
}

void sup_tick(daemon_t *d)
{
    uint64_t now = daemon_now_ms();
    sup_tick_tasks(d, d->tasks, d->task_count, now);
    sup_tick_tasks(d, d->retired, d->retired_count, now);
}

size_t sup_shutdown(daemon_t *d)
{
    d->shutting_down = true;
    size_t alive = 0;
    task_t **lists[2] = {d->tasks, d->retired};
    size_t counts[2] = {d->task_count, d->retired_count};
    for (size_t l = 0; l < 2; l++) {
        for (size_t i = 0; i < counts[l]; i++) {
            task_t *task = lists[l][i];
            for (unsigned k = 0; k < task->worker_count; k++) {
                if (task->workers[k]->pid != 0) {
                    sup_terminate(d, task->workers[k], TASK_STOPPING);
                    alive++;
                }
            }
            sup_update_status(task);
        }
    }
    return alive;
}
