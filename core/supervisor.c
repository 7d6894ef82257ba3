/* supervisor.c: one symtask-worker process per running task: spawn, watch, stop, restart. */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
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

static void sup_on_exit(daemon_t *d, task_t *task, int wstatus);

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
    task_t *task = sock->data;
    if (err != NULL) {
        h2o_socket_close(sock);
        task->err = NULL;
        return;
    }
    sup_feed_lines(&task->err_line, task->tag, task->taskinfo, sock->input->bytes,
                   sock->input->size);
    h2o_buffer_consume(&sock->input, sock->input->size);
}

/* The status of a ready worker says what its last heartbeat said: paused only once the
 * worker has committed what it held. */
static void sup_follow_pause(task_t *task, bool paused)
{
    if (task->status == TASK_RUNNING && paused) {
        task->status = TASK_PAUSED;
        log_info(task->tag, "paused");
    } else if (task->status == TASK_PAUSED && !paused) {
        task->status = TASK_RUNNING;
        log_info(task->tag, "resumed");
    }
}

static void sup_handle_message(task_t *task, json_t *msg)
{
    const char *type = json_string_value(json_object_get(msg, "type"));
    if (type == NULL) {
        log_warn(task->tag, "worker sent a message without a type; ignored");
    } else if (strcmp(type, "heartbeat") == 0) {
        task->last_heartbeat_ms = daemon_now_ms();
        json_decref(task->stats);
        task->stats = json_incref(msg);
        sup_follow_pause(task, json_is_true(json_object_get(msg, "paused")));
    } else if (strcmp(type, "ready") == 0) {
        task->last_heartbeat_ms = daemon_now_ms();
        if (task->status == TASK_STARTING) {
            task->status = TASK_RUNNING;
            log_info(task->tag, "running (worker pid %d)", (int)task->pid);
        }
    } else if (strcmp(type, "error") == 0) {
        const char *message = json_string_value(json_object_get(msg, "message"));
        if (message == NULL)
            message = "(the worker reported an error without a message)";
        /* The status shows it and the log keeps it: no model path, no secret (API.md). */
        snprintf(task->worker_error, sizeof(task->worker_error), "%s", message);
        taskinfo_scrub(task->taskinfo, task->worker_error, sizeof(task->worker_error));
        set_last_error(task, "%s", task->worker_error);
    } else {
        log_warn(task->tag, "worker sent an unknown message type '%s'; ignored", type);
    }
}

static void sup_close_channel(task_t *task)
{
    if (task->chan != NULL) {
        h2o_socket_close(task->chan);
        task->chan = NULL;
    }
    channel_reader_free(&task->chan_reader);
}

/* Takes in @len bytes of the worker's channel and handles the complete messages; kills a
 * worker that breaks the protocol. Returns -1 then (the channel is closed). */
static int sup_channel_feed(task_t *task, const char *data, size_t len)
{
    if (channel_reader_feed(&task->chan_reader, data, len) != 0) {
        log_error(task->tag, "worker sent a message over %d bytes; killing it", CHANNEL_MSG_MAX);
        snprintf(task->worker_error, sizeof(task->worker_error),
                 "worker broke the channel protocol (message too long); killed");
        if (task->pid != 0)
            kill(task->pid, SIGKILL);
        sup_close_channel(task);
        return -1;
    }
    json_t *msg;
    int bad;
    while ((msg = channel_reader_next(&task->chan_reader, &bad)) != NULL || bad) {
        if (bad) {
            log_warn(task->tag, "worker sent a line that is not a JSON object; ignored");
            continue;
        }
        sup_handle_message(task, msg);
        json_decref(msg);
    }
    return 0;
}

static void sup_on_channel(h2o_socket_t *sock, const char *err)
{
    task_t *task = sock->data;
    if (err != NULL) {
        /* The worker closed its end: it is exiting or gone. Reap at once rather than wait
         * for SIGCHLD's turn in the loop. */
        sup_close_channel(task);
        sup_reap(sup_daemon);
        return;
    }
    size_t len = sock->input->size;
    if (sup_channel_feed(task, sock->input->bytes, len) == 0)
        h2o_buffer_consume(&sock->input, len);
}

/* Reads what is left on the worker's channel when its exit is seen first: its last message,
 * the error it stopped on, would be lost otherwise (and the status would only say that the
 * worker refused the task). */
static void sup_drain_channel(task_t *task)
{
    if (task->chan == NULL)
        return;
    h2o_socket_t *sock = task->chan;
    if (sock->input->size > 0) {
        size_t len = sock->input->size;
        if (sup_channel_feed(task, sock->input->bytes, len) != 0)
            return;
        h2o_buffer_consume(&sock->input, len);
    }
    int fd = h2o_socket_get_fd(sock);
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        if (sup_channel_feed(task, buf, (size_t)n) != 0)
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
static void sup_exec_worker(daemon_t *d, pid_t parent, int chan_fd, int err_fd, const char *mode,
                            const char *mode_arg)
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

    int devnull = open("/dev/null", O_RDONLY);
    if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(err_fd, 1) < 0 || dup2(err_fd, 2) < 0 ||
        dup2(chan_fd, CHANNEL_WORKER_FD) < 0)
        _exit(127);
    close_range(CHANNEL_WORKER_FD + 1, ~0U, 0);

    static const char *const levels[] = {"error", "warn", "info", "debug"};
    execl(d->worker_path, "symtask-worker", "--channel-fd", "3", "--log-level",
          levels[log_get_level()], mode, mode_arg, (char *)NULL);
    dprintf(2, "ERROR cannot run the worker program %s: %s\n", d->worker_path, strerror(errno));
    _exit(127);
}

json_t *sup_task_message(daemon_t *d, const char *cid, const char *tid, json_t *taskinfo)
{
    return json_pack("{s:s, s:s, s:s, s:O, s:s, s:s}", "type", "task", "cid", cid, "tid", tid,
                     "taskInfo", taskinfo, "bootstrap.servers", d->default_bootstrap, "pluginDir",
                     d->plugin_dir);
}

pid_t sup_fork_worker(daemon_t *d, const char *mode, const char *mode_arg, json_t *msg,
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
        sup_exec_worker(d, parent, sv[1], ep[1], mode, mode_arg);
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

/* Spawns the worker of @task and hands it its definition. */
static int sup_spawn(daemon_t *d, task_t *task)
{
    sup_prepare_embedded_topics(d, task);

    int chan_fd, err_fd;
    json_t *msg = sup_task_message(d, task->cid, task->tid, task->taskinfo);
    if (msg != NULL && task->desired_paused)
        json_object_set_new(msg, "paused", json_true());
    pid_t pid = sup_fork_worker(d, NULL, NULL, msg, &chan_fd, &err_fd, task->last_error,
                                sizeof(task->last_error));
    json_decref(msg);
    if (pid < 0) {
        task->status = TASK_FAILED;
        log_error(task->tag, "%s", task->last_error);
        return -1;
    }
    task->pid = pid;
    task->start_wall = time(NULL);
    task->started_ms = task->last_heartbeat_ms = daemon_now_ms();
    task->kill_at_ms = 0;
    task->worker_error[0] = '\0';
    task->status = TASK_STARTING;
    json_decref(task->stats);
    task->stats = NULL;
    channel_reader_init(&task->chan_reader);
    task->chan = sup_watch_fd(d, chan_fd, task, sup_on_channel);
    task->err_line.len = 0;
    task->err = sup_watch_fd(d, err_fd, task, sup_on_stderr);
    log_info(task->tag, "worker started (pid %d)", (int)pid);
    return 0;
}

static void sup_signal(task_t *task, int sig)
{
    if (task->pid > 0)
        kill(task->pid, sig);
}

/* Sends SIGTERM and arms the SIGKILL timeout. */
static void sup_terminate(daemon_t *d, task_t *task, task_status_t status)
{
    if (task->kill_at_ms == 0) {
        sup_signal(task, SIGTERM);
        task->kill_at_ms = daemon_now_ms() + d->cfg->stop_timeout_ms;
    }
    task->status = status;
}

void sup_start(daemon_t *d, task_t *task)
{
    task->desired_running = true;
    task->crashes_in_row = 0;
    task->restarts = 0;
    if (task->pid != 0) {
        if (task->status == TASK_STOPPING || task->kill_at_ms != 0) {
            task->restart_now = true;
            task->status = TASK_RESTARTING;
        }
        return;
    }
    task->restart_now = false;
    task->last_error[0] = '\0';
    sup_spawn(d, task);
}

void sup_stop(daemon_t *d, task_t *task)
{
    task->desired_running = false;
    task->desired_paused = false; /* a stop clears a pause (docs/operations.md) */
    task->restart_now = false;
    if (task->pid != 0)
        sup_terminate(d, task, TASK_STOPPING);
    else
        task->status = TASK_STOPPED;
}

void sup_restart(daemon_t *d, task_t *task)
{
    if (task->pid == 0) {
        sup_start(d, task);
        return;
    }
    task->desired_running = true;
    task->crashes_in_row = 0;
    task->restart_now = true;
    sup_terminate(d, task, TASK_RESTARTING);
}

/* Writes @type ("pause", "resume") to the task's worker, if one runs; a worker spawned later
 * learns the desired state from its task message. */
static void sup_tell_worker(task_t *task, const char *type)
{
    if (task->chan == NULL || task->kill_at_ms != 0)
        return;
    json_t *msg = json_pack("{s:s}", "type", type);
    if (msg == NULL || channel_send(h2o_socket_get_fd(task->chan), msg) != 0)
        log_warn(task->tag, "cannot tell the worker to %s: %s", type, strerror(errno));
    json_decref(msg);
}

void sup_pause(daemon_t *d, task_t *task)
{
    (void)d;
    task->desired_paused = true;
    sup_tell_worker(task, "pause");
}

void sup_resume(daemon_t *d, task_t *task)
{
    (void)d;
    task->desired_paused = false;
    sup_tell_worker(task, "resume");
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
static void sup_drain_stderr(task_t *task)
{
    if (task->err == NULL)
        return;
    int fd = h2o_socket_get_fd(task->err);
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        sup_feed_lines(&task->err_line, task->tag, task->taskinfo, buf, (size_t)n);
    if (task->err_line.len > 0)
        sup_feed_lines(&task->err_line, task->tag, task->taskinfo, "\n", 1);
    h2o_socket_close(task->err);
    task->err = NULL;
}

static void sup_on_exit(daemon_t *d, task_t *task, int wstatus)
{
    char how[128];
    describe_exit(wstatus, how, sizeof(how));
    uint64_t ran_ms = daemon_now_ms() - task->started_ms;

    sup_drain_stderr(task);
    sup_drain_channel(task);
    sup_close_channel(task);
    task->pid = 0;
    task->kill_at_ms = 0;

    if (task->deleted) {
        log_info(task->tag, "worker of the deleted task %s", how);
        tasks_forget_retired(d, task);
        task_free(task);
        return;
    }
    bool clean = WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0;
    if (!task->desired_running || d->shutting_down) {
        if (task->status != TASK_FAILED)
            task->status = TASK_STOPPED;
        log_info(task->tag, "stopped (worker %s)", how);
        /* SIGTERM is how a stop is asked for; it can end a worker before its handler is set */
        bool asked = WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGTERM;
        if (!clean && !asked && !d->shutting_down)
            set_last_error(task, "worker %s while stopping", how);
        return;
    }
    if (task->restart_now) {
        task->restart_now = false;
        log_info(task->tag, "restarting (worker %s)", how);
        sup_spawn(d, task);
        return;
    }

    /* An exit nobody asked for. */
    if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 2) {
        task->status = TASK_FAILED;
        set_last_error(task, "%s",
                       task->worker_error[0] ? task->worker_error
                                             : "the worker refused the task's definition");
        log_error(task->tag, "failed: %s (worker exited with code 2: not restarted)",
                  task->last_error);
        return;
    }
    if (ran_ms >= SUP_STABLE_MS)
        task->crashes_in_row = 0;
    task->crashes_in_row++;
    if (task->worker_error[0] != '\0')
        set_last_error(task, "worker %s; last error: %s", how, task->worker_error);
    else
        set_last_error(task, "worker %s", how);

    if (task->crashes_in_row >= d->cfg->restart_max) {
        task->status = TASK_FAILED;
        char last[sizeof(task->last_error)];
        memcpy(last, task->last_error, sizeof(last));
        set_last_error(task, "gave up after %u crashes in a row: %s", task->crashes_in_row, last);
        log_error(task->tag, "failed: %s", task->last_error);
        return;
    }
    uint64_t delay = sup_backoff_ms(d->cfg, task->crashes_in_row);
    task->status = TASK_RESTARTING;
    task->restart_at_ms = daemon_now_ms() + delay;
    task->restarts++;
    log_warn(task->tag, "%s; restarting in %llu ms (crash %u of %u)", task->last_error,
             (unsigned long long)delay, task->crashes_in_row, d->cfg->restart_max);
}

static task_t *sup_find_pid(daemon_t *d, pid_t pid)
{
    for (size_t i = 0; i < d->task_count; i++)
        if (d->tasks[i]->pid == pid)
            return d->tasks[i];
    for (size_t i = 0; i < d->retired_count; i++)
        if (d->retired[i]->pid == pid)
            return d->retired[i];
    return NULL;
}

void sup_reap(daemon_t *d)
{
    int wstatus;
    pid_t pid;
    while ((pid = waitpid(-1, &wstatus, WNOHANG)) > 0) {
        task_t *task = sup_find_pid(d, pid);
        if (task != NULL)
            sup_on_exit(d, task, wstatus);
        else
            validate_on_exit(d, pid, wstatus);
    }
}

static void sup_tick_task(daemon_t *d, task_t *task, uint64_t now)
{
    if (task->pid == 0) {
        if (task->status == TASK_RESTARTING && task->desired_running && !d->shutting_down &&
            now >= task->restart_at_ms)
            sup_spawn(d, task);
        return;
    }
    if (task->kill_at_ms != 0 && now >= task->kill_at_ms) {
        log_warn(task->tag, "worker did not stop within %u ms; sending SIGKILL",
                 d->cfg->stop_timeout_ms);
        sup_signal(task, SIGKILL);
        task->kill_at_ms = UINT64_MAX; /* sent; wait for the exit */
        return;
    }
    if (task->kill_at_ms == 0 && now - task->last_heartbeat_ms > d->cfg->heartbeat_timeout_ms) {
        snprintf(task->worker_error, sizeof(task->worker_error),
                 "no heartbeat for %u ms; the worker was killed", d->cfg->heartbeat_timeout_ms);
        log_error(task->tag, "%s", task->worker_error);
        sup_signal(task, SIGKILL);
        task->kill_at_ms = UINT64_MAX;
    }
}

void sup_tick(daemon_t *d)
{
    uint64_t now = daemon_now_ms();
    for (size_t i = 0; i < d->task_count; i++)
        sup_tick_task(d, d->tasks[i], now);
    for (size_t i = 0; i < d->retired_count; i++)
        sup_tick_task(d, d->retired[i], now);
}

size_t sup_shutdown(daemon_t *d)
{
    d->shutting_down = true;
    size_t alive = 0;
    for (size_t i = 0; i < d->task_count; i++) {
        task_t *task = d->tasks[i];
        if (task->pid != 0) {
            sup_terminate(d, task, TASK_STOPPING);
            alive++;
        }
    }
    for (size_t i = 0; i < d->retired_count; i++) {
        sup_terminate(d, d->retired[i], TASK_STOPPING);
        alive++;
    }
    return alive;
}
