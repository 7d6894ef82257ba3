/* validate.c: a TaskInfo's plugins checked in a short-lived worker process. */
#include "validate.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"

typedef struct validation {
    struct validation *next;
    daemon_t *d;
    h2o_req_t *req;  /* NULL once the request is gone */
    void **req_link; /* our slot in the request's pool: cleared with it */
    char cid[129];
    char tag[300];
    bool force;
    bool start;       /* create: start the task once stored (?start=true) */
    json_t *taskinfo; /* NULL for a plugin listing */
    validate_done_cb cb;
    validate_plugins_cb plugins_cb;
    json_t *plugins; /* the listing's answer */
    validate_offsets_cb offsets_cb;
    char tid[129];  /* offsets: the task */
    bool reset;     /* offsets: a reset, not a listing */
    json_t *answer; /* offsets: the worker's answer */

    pid_t pid;
    h2o_socket_t *chan, *err;
    channel_reader_t reader;
    line_buf_t err_line;
    uint64_t deadline_ms;
    bool answered;      /* the worker said valid or invalid */
    char message[1024]; /* why it is invalid; "" when valid */
} validation_t;

static validation_t *validations;
static size_t pending;

size_t validate_pending(void)
{
    return pending;
}

/* The request's pool is being cleared: the client is gone or it was answered. */
static void validate_on_req_dispose(void *p)
{
    validation_t **slot = p;
    if (*slot != NULL)
        (*slot)->req = NULL;
}

static void validate_close_fds(validation_t *v)
{
    if (v->chan != NULL) {
        h2o_socket_close(v->chan);
        v->chan = NULL;
    }
    if (v->err != NULL) {
        if (v->err_line.len > 0)
            sup_feed_lines(&v->err_line, v->tag, v->taskinfo, "\n", 1);
        h2o_socket_close(v->err);
        v->err = NULL;
    }
    channel_reader_free(&v->reader);
}

/* Answers, unlinks and frees @v. */
static void validate_finish(validation_t *v, const char *message)
{
    for (validation_t **pp = &validations; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == v) {
            *pp = v->next;
            break;
        }
    }
    pending--;
    validate_close_fds(v);
    if (v->req_link != NULL && v->req != NULL)
        *v->req_link = NULL;
    if (v->plugins_cb != NULL)
        v->plugins_cb(v->d, v->req, message == NULL ? v->plugins : NULL, message);
    else if (v->offsets_cb != NULL)
        v->offsets_cb(v->d, v->req, v->cid, v->tid, v->reset, message == NULL ? v->answer : NULL,
                      message);
    else
        v->cb(v->d, v->req, v->cid, v->force, v->start, v->taskinfo, message);
    json_decref(v->taskinfo);
    json_decref(v->plugins);
    json_decref(v->answer);
    free(v);
}

static void validate_on_stderr(h2o_socket_t *sock, const char *err)
{
    validation_t *v = sock->data;
    if (err != NULL) {
        h2o_socket_close(sock);
        v->err = NULL;
        return;
    }
    sup_feed_lines(&v->err_line, v->tag, v->taskinfo, sock->input->bytes, sock->input->size);
    h2o_buffer_consume(&sock->input, sock->input->size);
}

/* Takes in what the checker answered. */
static void validate_read_messages(validation_t *v)
{
    json_t *msg;
    int bad;
    while ((msg = channel_reader_next(&v->reader, &bad)) != NULL || bad) {
        const char *type = json_string_value(json_object_get(msg, "type"));
        const char *message = json_string_value(json_object_get(msg, "message"));
        if (type == NULL) {
            /* not an answer */
        } else if (strcmp(type, "valid") == 0) {
            v->answered = true;
            v->message[0] = '\0';
        } else if (strcmp(type, "plugins") == 0) {
            v->answered = true;
            json_decref(v->plugins);
            v->plugins = json_incref(json_object_get(msg, "plugins"));
            message = json_string_value(json_object_get(msg, "error"));
            snprintf(v->message, sizeof(v->message), "%s", message ? message : "");
        } else if (strcmp(type, "offsets") == 0) {
            v->answered = true;
            v->message[0] = '\0';
            json_decref(v->answer);
            v->answer = json_incref(msg);
        } else if (strcmp(type, "invalid") == 0 || strcmp(type, "error") == 0) {
            v->answered = true;
            snprintf(v->message, sizeof(v->message), "%s",
                     message ? message : "the plugins refused the task");
        }
        json_decref(msg);
    }
}

static void validate_on_channel(h2o_socket_t *sock, const char *err)
{
    validation_t *v = sock->data;
    if (err != NULL) {
        h2o_socket_close(sock);
        v->chan = NULL;
        return;
    }
    channel_reader_feed(&v->reader, sock->input->bytes, sock->input->size);
    h2o_buffer_consume(&sock->input, sock->input->size);
    validate_read_messages(v);
}

/* Starts a checker process: `symtask-worker @mode [@mode_arg]` with @msg on its channel. */
static validation_t *validate_spawn(daemon_t *d, h2o_req_t *req, const char *tag, const char *mode,
                                    const char *mode_arg, json_t *msg, char *errstr,
                                    size_t errstr_size)
{
    validation_t *v = calloc(1, sizeof(*v));
    if (v == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    v->d = d;
    v->req = req;
    snprintf(v->tag, sizeof(v->tag), "%s", tag);
    channel_reader_init(&v->reader);
    int chan_fd, err_fd;
    v->pid = sup_fork_worker(d, mode, mode_arg, msg, -1, &chan_fd, &err_fd, errstr, errstr_size);
    if (v->pid < 0) {
        free(v);
        return NULL;
    }
    v->deadline_ms = daemon_now_ms() + VALIDATE_TIMEOUT_MS;
    v->chan = sup_watch_fd(d, chan_fd, v, validate_on_channel);
    v->err = sup_watch_fd(d, err_fd, v, validate_on_stderr);
    v->req_link = h2o_mem_alloc_shared(&req->pool, sizeof(validation_t *), validate_on_req_dispose);
    *v->req_link = v;
    v->next = validations;
    validations = v;
    pending++;
    return v;
}

int validate_list_plugins(daemon_t *d, h2o_req_t *req, validate_plugins_cb cb, char *errstr,
                          size_t errstr_size)
{
    validation_t *v = validate_spawn(d, req, "plugin listing", "--list-plugins", d->plugin_dir,
                                     NULL, errstr, errstr_size);
    if (v == NULL)
        return -1;
    v->plugins_cb = cb;
    return 0;
}

int validate_start(daemon_t *d, h2o_req_t *req, const char *cid, bool force, bool start,
                   json_t *taskinfo, validate_done_cb cb, char *errstr, size_t errstr_size)
{
    const char *tid = json_string_value(json_object_get(taskinfo, "name"));
    char tag[300];
    snprintf(tag, sizeof(tag), "%s/%s (validation)", cid, tid);
    json_t *msg = sup_task_message(d, cid, tid, taskinfo);
    validation_t *v = validate_spawn(d, req, tag, "--validate", NULL, msg, errstr, errstr_size);
    json_decref(msg);
    if (v == NULL)
        return -1;
    snprintf(v->cid, sizeof(v->cid), "%s", cid);
    v->force = force;
    v->start = start;
    v->cb = cb;
    v->taskinfo = json_incref(taskinfo);
    return 0;
}

int validate_offsets(daemon_t *d, h2o_req_t *req, const char *cid, const char *tid,
                     json_t *taskinfo, json_t *to, validate_offsets_cb cb, char *errstr,
                     size_t errstr_size)
{
    char tag[300];
    snprintf(tag, sizeof(tag), "%s/%s (offsets)", cid, tid);
    json_t *msg = sup_task_message(d, cid, tid, taskinfo);
    if (msg != NULL && to != NULL)
        json_object_set_new(msg, "offsets", json_pack("{s:O}", "to", to));
    validation_t *v = validate_spawn(d, req, tag, "--offsets", NULL, msg, errstr, errstr_size);
    json_decref(msg);
    if (v == NULL)
        return -1;
    snprintf(v->cid, sizeof(v->cid), "%s", cid);
    snprintf(v->tid, sizeof(v->tid), "%s", tid);
    v->reset = to != NULL;
    v->offsets_cb = cb;
    v->taskinfo = json_incref(taskinfo);
    return 0;
}

/* Reads what is left of the worker's channel and stderr after it exited. */
static void validate_drain(validation_t *v)
{
    char buf[4096];
    ssize_t n;
    if (v->chan != NULL) {
        int fd = h2o_socket_get_fd(v->chan);
        while ((n = read(fd, buf, sizeof(buf))) > 0)
            channel_reader_feed(&v->reader, buf, (size_t)n);
        validate_read_messages(v);
    }
    if (v->err != NULL) {
        int fd = h2o_socket_get_fd(v->err);
        while ((n = read(fd, buf, sizeof(buf))) > 0)
            sup_feed_lines(&v->err_line, v->tag, v->taskinfo, buf, (size_t)n);
    }
}

void validate_on_exit(daemon_t *d, pid_t pid, int wstatus)
{
    validation_t *v = validations;
    while (v != NULL && v->pid != pid)
        v = v->next;
    if (v == NULL)
        return;
    validate_drain(v);
    if (v->answered) {
        validate_finish(v, v->message[0] ? v->message : NULL);
        return;
    }
    char message[1200];
    if (v->offsets_cb != NULL) {
        snprintf(message, sizeof(message),
                 "the offsets worker ended without an answer (%s %d); see symtaskd's log",
                 WIFSIGNALED(wstatus) ? "signal" : "exit code",
                 WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : WEXITSTATUS(wstatus));
        validate_finish(v, message);
        return;
    }
    if (v->plugins_cb != NULL) {
        snprintf(message, sizeof(message),
                 "listing the plugins of %.900s failed (a faulty plugin?); see symtaskd's log",
                 d->plugin_dir);
        validate_finish(v, message);
        return;
    }
    const char *predictor =
        json_string_value(json_object_get(json_object_get(v->taskinfo, "params"), "sml.predictor"));
    if (WIFSIGNALED(wstatus))
        snprintf(message, sizeof(message),
                 "checking the task's plugins crashed the checker (signal %d, SIG%s): a plugin "
                 "(sml.predictor %s or a serializer) is faulty; see symtaskd's log",
                 WTERMSIG(wstatus),
                 sigabbrev_np(WTERMSIG(wstatus)) ? sigabbrev_np(WTERMSIG(wstatus)) : "?",
                 predictor ? predictor : "?");
    else
        snprintf(message, sizeof(message),
                 "the task's plugins could not be checked (the checker exited with code %d "
                 "without an answer); see symtaskd's log",
                 WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1);
    validate_finish(v, message);
}

void validate_tick(daemon_t *d)
{
    uint64_t now = daemon_now_ms();
    for (validation_t *v = validations; v != NULL; v = v->next) {
        if (now > v->deadline_ms && v->pid > 0) {
            log_warn(v->tag, "the check takes over %d ms: killing it", VALIDATE_TIMEOUT_MS);
            if (v->offsets_cb != NULL)
                snprintf(v->message, sizeof(v->message),
                         "the Kafka cluster did not answer within %d s",
                         VALIDATE_TIMEOUT_MS / 1000);
            else
                snprintf(v->message, sizeof(v->message),
                         "checking the task's plugins took longer than %d s (a model too large or "
                         "a plugin that hangs)",
                         VALIDATE_TIMEOUT_MS / 1000);
            v->answered = true;
            kill(v->pid, SIGKILL);
            v->deadline_ms = UINT64_MAX;
        }
    }
}
