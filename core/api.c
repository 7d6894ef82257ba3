/* api.c: the REST API handlers: dispatch on the route table (routes.c), authentication, the
 * JSON envelope. */
#include "api.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "cluster.h"
#include "log.h"
#include "offsets.h"
#include "replay.h"
#include "routes.h"
#include "taskinfo.h"
#include "text.h"
#include "validate.h"

static const struct {
    const char *name;
    int code;
    const char *reason;
} api_statuses[] = {
#define API_STATUS_ROW(name, code, reason) {#name, code, reason},
    API_STATUS_MAP(API_STATUS_ROW)
#undef API_STATUS_ROW
};

int api_status_code(api_status_t status)
{
    return api_statuses[status].code;
}

const char *api_status_name(api_status_t status)
{
    return api_statuses[status].name;
}

/* The handler struct h2o calls, with the daemon beside it. */
typedef struct api_handler {
    h2o_handler_t super;
    daemon_t *d;
} api_handler_t;

typedef struct api_call {
    h2o_req_t *req;
    daemon_t *d;
    route_id_t route;
    h2o_iovec_t path;  /* raw path without the query */
    h2o_iovec_t query; /* after '?', base NULL when none */
    h2o_iovec_t cid, tid;
    char cid_str[TASKINFO_ID_MAX + 1];
    char tid_str[TASKINFO_ID_MAX + 1];
    json_t *scrub; /* a TaskInfo whose model paths and secrets the log must not show */
} api_call_t;

/* Sends @body, which h2o copies into the request's pool. */
static void api_send_body(h2o_req_t *req, int code, const char *reason, const char *content_type,
                          const char *body, size_t len)
{
    req->res.status = code;
    req->res.reason = reason;
    req->res.content_length = len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, content_type,
                   strlen(content_type));
    h2o_send_inline(req, body, len);
}

/* Answers with the envelope {"statusCode","statusString","values"} around @values, the JSON
 * text of the values (NULL for {}). Returns 0 for h2o. */
static int api_send_envelope(api_call_t *call, api_status_t status, const text_t *values,
                             const char *message)
{
    char buf[2048];
    text_t t;
    text_init(&t, buf, sizeof(buf));
    text_puts(&t, "{\"statusCode\":\"");
    text_puts(&t, api_statuses[status].name);
    text_puts(&t, "\",\"statusString\":");
    text_json_string(&t, message, strlen(message));
    text_puts(&t, ",\"values\":");
    if (values != NULL)
        text_append(&t, values->data, values->len);
    else
        text_puts(&t, "{}");
    text_puts(&t, "}");
    if (t.failed || (values != NULL && values->failed)) {
        static const char oom[] = "{\"statusCode\":\"INTERNAL_SERVER_ERROR\",\"statusString\":"
                                  "\"the answer could not be built\",\"values\":{}}";
        text_free(&t);
        api_send_body(call->req, 500, "Internal Server Error", "application/json", oom,
                      sizeof(oom) - 1);
        return 0;
    }
    if (status != API_OK && status != API_CREATED) {
        /* The client may read its own model path back; the log may not (API.md). */
        char logged[2048];
        snprintf(logged, sizeof(logged), "%s", message);
        taskinfo_scrub(call->scrub, logged, sizeof(logged));
        log_debug(call->cid_str[0] ? call->cid_str : NULL, "%.*s %.*s -> %d %s",
                  (int)call->req->method.len, call->req->method.base, (int)call->path.len,
                  call->path.base, api_statuses[status].code, logged);
    }
    api_send_body(call->req, api_statuses[status].code, api_statuses[status].reason,
                  "application/json", t.data, t.len);
    text_free(&t);
    return 0;
}

/* Answers with the envelope; takes @values (may be NULL). Returns 0 for h2o. */
static int api_reply(api_call_t *call, api_status_t status, json_t *values, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int api_reply(api_call_t *call, api_status_t status, json_t *values, const char *fmt, ...)
{
    char message[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);

    if (values == NULL)
        return api_send_envelope(call, status, NULL, message);
    char buf[1024];
    text_t t;
    text_init(&t, buf, sizeof(buf));
    text_json_value(&t, values);
    json_decref(values);
    api_send_envelope(call, status, &t, message);
    text_free(&t);
    return 0;
}

static bool iovec_eq(h2o_iovec_t v, const char *s)
{
    size_t n = strlen(s);
    return v.len == n && memcmp(v.base, s, n) == 0;
}

static h2o_iovec_t api_header(h2o_req_t *req, const char *name)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, name, strlen(name), -1);
    if (i < 0)
        return h2o_iovec_init(NULL, 0);
    return req->headers.entries[i].value;
}

static auth_str_t auth_str(h2o_iovec_t v)
{
    return (auth_str_t){v.base, v.len};
}

/* A verified signature is accepted once (API.md, Security): answers 401 to a replay. */
static int api_check_replay(api_call_t *call, const auth_request_t *ar, time_t now)
{
    if (call->d->replay == NULL)
        return 0;
    time_t date;
    if (sign_parse_date(ar->sym_date.ptr, ar->sym_date.len, &date) != 0)
        return 0; /* cannot happen: auth_verify parsed it */
    int r = replay_check(call->d->replay, ar->authorization.ptr, ar->authorization.len, date, now);
    if (r == REPLAY_OK)
        return 0;
    const char *why = r == REPLAY_SEEN
                          ? "Replayed request: this signature was used already; sign every "
                            "request anew (a new Sym-date)"
                          : "Request too old to be checked for replay; sign it anew";
    log_warn(NULL, "refused %.*s %.*s for customer [%s]: %s", (int)call->req->method.len,
             call->req->method.base, (int)call->path.len, call->path.base, call->cid_str, why);
    api_reply(call, API_UNAUTHORIZED, NULL, "%s", why);
    return -1;
}

/* Verifies the signature of a customer request; answers and returns -1 when it fails. */
static int api_authenticate(api_call_t *call)
{
    h2o_req_t *req = call->req;
    auth_request_t ar = {
        .method = auth_str(req->method),
        .path = auth_str(call->path),
        .query = auth_str(call->query),
        .body = auth_str(req->entity),
        .path_cid = auth_str(call->cid),
        .authorization = auth_str(api_header(req, "authorization")),
        .sym_date = auth_str(api_header(req, "sym-date")),
        .customer_id = auth_str(api_header(req, "customer-id")),
        .content_md5 = auth_str(api_header(req, "content-md5")),
    };
    auth_result_t res;
    time_t now = time(NULL);
    if (auth_verify(call->d->customers, &ar, now, &res) == 0) {
        auth_result_clear(&res);
        return api_check_replay(call, &ar, now);
    }
    json_t *values = NULL;
    if (res.string_to_sign != NULL)
        values = json_pack("{s:s}", "stringToSign", res.string_to_sign);
    log_info(NULL, "refused %.*s %.*s for customer [%s]: %s", (int)req->method.len,
             req->method.base, (int)call->path.len, call->path.base, call->cid_str, res.message);
    api_reply(call, res.status == 401 ? API_UNAUTHORIZED : API_BAD_REQUEST, values, "%s",
              res.message);
    auth_result_clear(&res);
    return -1;
}

/* Reads query parameter @name; returns 1 and its value when present, else 0. */
static int api_query_param(api_call_t *call, const char *name, h2o_iovec_t *value)
{
    size_t name_len = strlen(name);
    const char *p = call->query.base, *end = p + call->query.len;
    while (p != NULL && p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        const char *key_end = eq ? eq : stop;
        if ((size_t)(key_end - p) == name_len && memcmp(p, name, name_len) == 0) {
            *value = eq ? h2o_iovec_init(eq + 1, (size_t)(stop - eq - 1)) : h2o_iovec_init("", 0);
            return 1;
        }
        p = amp ? amp + 1 : NULL;
    }
    return 0;
}

/* Reads boolean query parameter @name: true or false in any case, false when absent.
 * Answers 400 and returns -1 for anything else. */
static int api_query_bool(api_call_t *call, const char *name, bool *out)
{
    h2o_iovec_t v;
    *out = false;
    if (!api_query_param(call, name, &v))
        return 0;
    if (v.len == 4 && strncasecmp(v.base, "true", 4) == 0) {
        *out = true;
        return 0;
    }
    if (v.len == 5 && strncasecmp(v.base, "false", 5) == 0)
        return 0;
    api_reply(call, API_BAD_REQUEST, NULL, "%s: '%.*s' is neither true nor false", name,
              (int)(v.len > 32 ? 32 : v.len), v.base);
    return -1;
}

static json_t *string_list(json_t *names)
{
    return json_pack("{s:{s:o}}", "stringList", "values", names);
}

static int cmp_task_tid(const void *a, const void *b)
{
    return strcmp((*(task_t *const *)a)->tid, (*(task_t *const *)b)->tid);
}

/* The customer's tasks sorted by id (an array to free), or NULL out of memory. */
static task_t **api_customer_tasks(api_call_t *call, size_t *count)
{
    daemon_t *d = call->d;
    task_t **tasks = malloc((d->task_count + 1) * sizeof(*tasks));
    if (tasks == NULL)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < d->task_count; i++)
        if (strcmp(d->tasks[i]->cid, call->cid_str) == 0)
            tasks[n++] = d->tasks[i];
    qsort(tasks, n, sizeof(*tasks), cmp_task_tid);
    *count = n;
    return tasks;
}

static void status_map(text_t *t, daemon_t *d, task_t *task, bool named);

static int api_list(api_call_t *call)
{
    h2o_iovec_t expand;
    bool expanded = api_query_param(call, "expand", &expand);
    if (expanded && !iovec_eq(expand, "status"))
        return api_reply(call, API_BAD_REQUEST, NULL, "expand: '%.*s' is not status",
                         (int)(expand.len > 32 ? 32 : expand.len), expand.base);
    size_t n;
    task_t **tasks = api_customer_tasks(call, &n);
    if (tasks == NULL)
        return api_reply(call, API_INTERNAL_SERVER_ERROR, NULL, "out of memory");
    if (!expanded) {
        json_t *list = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(list, json_string(tasks[i]->tid));
        free(tasks);
        return api_reply(call, API_OK, string_list(list), "%zu task%s", n, n == 1 ? "" : "s");
    }
    /* expand=status: the names as above, and each task's status map in the same order */
    text_t t;
    text_init(&t, NULL, 0);
    text_puts(&t, "{\"stringList\":{\"values\":[");
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            text_puts(&t, ",");
        text_json_string(&t, tasks[i]->tid, strlen(tasks[i]->tid));
    }
    text_puts(&t, "]},\"KSVSMap\":{\"values\":[");
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            text_puts(&t, ",");
        status_map(&t, call->d, tasks[i], true);
    }
    text_puts(&t, "]}}");
    free(tasks);
    char message[32];
    snprintf(message, sizeof(message), "%zu task%s", n, n == 1 ? "" : "s");
    api_send_envelope(call, API_OK, &t, message);
    text_free(&t);
    return 0;
}

static void format_iso8601(time_t t, char out[32])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Appends "key":"value" to the status map, after a comma unless it is the first. */
static void status_field(text_t *t, const char *key, const char *value)
{
    if (t->len > 0 && t->data[t->len - 1] != '{')
        text_append(t, ",", 1);
    text_json_string(t, key, strlen(key));
    text_append(t, ":", 1);
    text_json_string(t, value, strlen(value));
}

/* Copies a counter of the last heartbeat into the status map, as a string. */
static void status_counter(text_t *t, json_t *stats, const char *key)
{
    json_t *v = stats ? json_object_get(stats, key) : NULL;
    char buf[32] = "0";
    if (json_is_integer(v))
        snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_string(v))
        return status_field(t, key, json_string_value(v));
    else if (key[0] == 'l' || json_is_null(v)) /* lastRecordDateTime: none yet; null: unknown */
        buf[0] = '\0';
    status_field(t, key, buf);
}

/* Appends the status keys of worker @w ("worker.{index}.{key}"). */
static void status_worker(text_t *t, const task_worker_t *w)
{
    char key[48], value[32];
    snprintf(key, sizeof(key), "worker.%u.status", w->index);
    status_field(t, key, task_status_name(w->status));
    snprintf(key, sizeof(key), "worker.%u.processIsAlive", w->index);
    status_field(t, key, w->pid != 0 ? "true" : "false");
    snprintf(key, sizeof(key), "worker.%u.pid", w->index);
    value[0] = '\0';
    if (w->pid != 0)
        snprintf(value, sizeof(value), "%d", (int)w->pid);
    status_field(t, key, value);
    snprintf(key, sizeof(key), "worker.%u.startDateTime", w->index);
    value[0] = '\0';
    if (w->pid != 0)
        format_iso8601(w->start_wall, value);
    status_field(t, key, value);
    snprintf(key, sizeof(key), "worker.%u.restarts", w->index);
    snprintf(value, sizeof(value), "%u", w->restarts);
    status_field(t, key, value);
    const char *group =
        w->stats ? json_string_value(json_object_get(w->stats, "groupState")) : NULL;
    snprintf(key, sizeof(key), "worker.%u.groupState", w->index);
    status_field(t, key, group != NULL ? group : "");
    static const char *const counters[] = {"assignedPartitions", "recordsIn", "recordsOut",
                                           "recordsFailed", "consumerLag"};
    for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
        json_t *v = w->stats ? json_object_get(w->stats, counters[i]) : NULL;
        snprintf(key, sizeof(key), "worker.%u.%s", w->index, counters[i]);
        value[0] = '\0';
        if (json_is_integer(v))
            snprintf(value, sizeof(value), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        else if (!json_is_null(v) && strcmp(counters[i], "consumerLag") != 0)
            snprintf(value, sizeof(value), "0");
        status_field(t, key, value);
    }
}

/* Writes the status map of @task, {"status":..,...}, with "name" first when @named. The
 * task-wide keys sum up its workers (docs/scaling.md): the process is alive when every
 * worker is, pid lists the live workers' pids, startDateTime is the earliest start of a live
 * worker. */
static void status_map(text_t *t, daemon_t *d, task_t *task, bool named)
{
    char started[32] = "", pid[TASKINFO_WORKERS_MAX * 12] = "", restarts[16], workers[16];
    /* A worker is reaped the moment it exits (SIGCHLD, end of file on its channel), so a
     * pid means a live process; kill(pid, 0) would say no more (a zombie answers it too). */
    unsigned alive = task_alive_workers(task);
    time_t first = 0;
    size_t pid_len = 0;
    for (unsigned i = 0; i < task->worker_count; i++) {
        const task_worker_t *w = task->workers[i];
        if (w->pid == 0)
            continue;
        if (first == 0 || w->start_wall < first)
            first = w->start_wall;
        pid_len += (size_t)snprintf(pid + pid_len, sizeof(pid) - pid_len, "%s%d",
                                    pid_len > 0 ? "," : "", (int)w->pid);
    }
    if (first != 0)
        format_iso8601(first, started);
    snprintf(restarts, sizeof(restarts), "%u", task->restarts);
    snprintf(workers, sizeof(workers), "%u",
             task->worker_count > 0 ? task->worker_count
                                    : taskinfo_workers(task->taskinfo, sup_cores()));
    const char *kafka =
        task->stats ? json_string_value(json_object_get(task->stats, "kafka")) : NULL;

    text_puts(t, "{");
    if (named)
        status_field(t, "name", task->tid);
    status_field(t, "status", task_status_name(task->status));
    status_field(t, "startDateTime", started);
    status_field(t, "processIsAlive", alive > 0 && alive == task->worker_count ? "true" : "false");
    status_field(t, "lastError", task->last_error);
    status_field(t, "pid", pid);
    status_field(t, "restarts", restarts);
    status_field(t, "workers", workers);
    status_field(t, "predictor", taskinfo_param(task->taskinfo, "sml.predictor", ""));
    const char *serializer = taskinfo_param(task->taskinfo, "sml.serializer", "json");
    status_field(t, "serializer", serializer);
    status_field(t, "serializerOut",
                 taskinfo_param(task->taskinfo, "sml.serializer.out", serializer));
    status_field(t, "kafka", kafka != NULL ? kafka : "");
    /* "joining": a worker waits for the consumer group to give it partitions */
    const char *group =
        task->stats ? json_string_value(json_object_get(task->stats, "groupState")) : NULL;
    status_field(t, "groupState", group != NULL ? group : "");
    static const char *const counters[] = {
        "recordsIn",   "recordsOut",         "recordsFailed",         "recordsDeadLetter",
        "consumerLag", "assignedPartitions", "transactionsCommitted", "transactionsAborted",
        "retries",     "retrying",           "lastRecordDateTime"};
    for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
        status_counter(t, task->stats, counters[i]);
    for (unsigned i = 0; i < task->worker_count; i++)
        status_worker(t, task->workers[i]);
    json_t *cluster = cluster_task_status(d, task); /* the other nodes' workers */
    const char *key;
    json_t *value;
    json_object_foreach (cluster, key, value)
        status_field(t, key, json_string_value(value));
    json_decref(cluster);
    /* kept by the daemon across workers: records that took workers down (poison.h) */
    char quarantined[24];
    snprintf(quarantined, sizeof(quarantined), "%llu",
             (unsigned long long)task->poison.quarantined_total);
    status_field(t, "recordsQuarantined", quarantined);
    text_puts(t, "}");
}

/* The status is the API's hot path (clients poll it): its JSON is written straight into a
 * stack buffer rather than built as a jansson tree and dumped (bench/README.md). */
static int api_status(api_call_t *call, task_t *task)
{
    char buf[4096];
    text_t t;
    text_init(&t, buf, sizeof(buf));
    text_puts(&t, "{\"KSVSMap\":{\"values\":[");
    status_map(&t, call->d, task, false);
    text_puts(&t, "]}}");
    if (t.failed) {
        text_free(&t);
        return api_reply(call, API_INTERNAL_SERVER_ERROR, NULL, "out of memory");
    }

    char message[2 * TASKINFO_ID_MAX + 64];
    snprintf(message, sizeof(message), "task [%s] is %s", task->tid,
             task_status_name(task->status));
    api_send_envelope(call, API_OK, &t, message);
    text_free(&t);
    return 0;
}

/* Cluster mode: the answer once this node applied what the request wrote (cluster.h). */
static void api_cluster_done(daemon_t *d, h2o_req_t *req, api_status_t status, const char *message)
{
    if (req == NULL)
        return;
    api_call_t call = {.req = req, .d = d, .path = req->input.path};
    api_reply(&call, status, NULL, "%s", message);
}

/* Cluster mode: writes @op to the cluster's config topic; the answer comes once applied. */
static int api_cluster_submit(api_call_t *call, cluster_op_t op, const char *cid, const char *tid,
                              json_t *taskinfo, bool force)
{
    char errstr[512];
    if (cluster_submit(call->d, call->req, op, cid, tid, taskinfo, force, api_cluster_done, errstr,
                       sizeof(errstr)) != 0)
        return api_reply(call, API_SERVICE_UNAVAILABLE, NULL, "%s; nothing was changed", errstr);
    return 0;
}

static int api_save_or_fail(api_call_t *call, task_t *task)
{
    char errstr[512];
    task->updated = time(NULL);
    if (tasks_save(call->d, task, errstr, sizeof(errstr)) == 0)
        return 0;
    log_error(task->tag, "cannot save the task: %s", errstr);
    api_reply(call, API_INTERNAL_SERVER_ERROR, NULL,
              "task [%s] could not be saved (%s); the change was not made", task->tid, errstr);
    return -1;
}

/* Whether @task (NULL: a new one) may start: it holds a slot already, or one is free. */
static bool api_start_fits(daemon_t *d, const task_t *task)
{
    bool holds_slot = task != NULL && task->desired_running && task->status != TASK_FAILED;
    return holds_slot || tasks_running_count(d) < d->cfg->task_max;
}

static void api_reply_limit(api_call_t *call, const char *tid)
{
    daemon_t *d = call->d;
    api_reply(call, API_TOO_MANY_REQUESTS, NULL,
              "cannot start task [%s]: %u tasks are running, the limit sml.task.max is %u; stop a "
              "task first",
              tid, tasks_running_count(d), d->cfg->task_max);
}

/* Answers 429 unless one more task may run. */
static int api_check_limit(api_call_t *call, task_t *task)
{
    if (api_start_fits(call->d, task))
        return 0;
    api_reply_limit(call, task->tid);
    return -1;
}

static int api_reply_offsets_busy(api_call_t *call, task_t *task)
{
    return api_reply(call, API_CONFLICT, NULL,
                     "task [%s]: its offsets are being reset; start it when that is done",
                     task->tid);
}

/* What cluster mode does not do yet (docs/cluster.md): the nodes share definitions and
 * desired running states only. */
static int api_refuse_in_cluster(api_call_t *call, const char *what, const char *todo)
{
    return api_reply(call, API_CONFLICT, NULL,
                     "%s is not available in cluster mode yet (docs/cluster.md): %s", what, todo);
}

static int api_start(api_call_t *call, task_t *task, bool restart)
{
    if (task->offsets_busy)
        return api_reply_offsets_busy(call, task);
    if (api_check_limit(call, task) != 0)
        return 0;
    if (call->d->cluster != NULL)
        return api_cluster_submit(call, restart ? CLUSTER_RESTART : CLUSTER_START, task->cid,
                                  task->tid, NULL, false);
    bool was_desired = task->desired_running;
    if (!was_desired) {
        task->desired_running = true;
        if (api_save_or_fail(call, task) != 0) {
            task->desired_running = false;
            return 0;
        }
    }
    if (restart)
        sup_restart(call->d, task);
    else if (!(was_desired && task_alive_workers(task) > 0 && task->status != TASK_FAILED))
        sup_start(call->d, task);
    log_info(task->tag, "%s requested", restart ? "restart" : "start");
    return api_reply(call, API_OK, NULL, "task [%s] is %s", task->tid,
                     task_status_name(task->status));
}

static int api_stop(api_call_t *call, task_t *task)
{
    if (call->d->cluster != NULL)
        return api_cluster_submit(call, CLUSTER_STOP, task->cid, task->tid, NULL, false);
    if (task->desired_running) {
        task->desired_running = false;
        if (api_save_or_fail(call, task) != 0) {
            task->desired_running = true;
            return 0;
        }
        log_info(task->tag, "stop requested");
    }
    sup_stop(call->d, task);
    return api_reply(call, API_OK, NULL, "task [%s] is %s", task->tid,
                     task_status_name(task->status));
}

static int api_delete(api_call_t *call, task_t *task)
{
    if (call->d->cluster != NULL)
        return api_cluster_submit(call, CLUSTER_DELETE, task->cid, task->tid, NULL, false);
    char errstr[512];
    if (store_delete(call->d->store, task->cid, task->tid, errstr, sizeof(errstr)) != 0) {
        log_error(task->tag, "cannot delete the task: %s", errstr);
        return api_reply(call, API_INTERNAL_SERVER_ERROR, NULL,
                         "task [%s] could not be deleted: %s", task->tid, errstr);
    }
    log_info(task->tag, "deleted");
    sup_stop(call->d, task);
    char tid[sizeof(task->tid)];
    memcpy(tid, task->tid, sizeof(tid));
    tasks_remove(call->d, task);
    return api_reply(call, API_OK, NULL, "task [%s] deleted", tid);
}

/* Pause (@pause) or resume: only a started task, one with a worker or a worker to come, can
 * be paused; resuming a task that is not paused is a no-op, as a start of a running one. */
static int api_pause(api_call_t *call, task_t *task, bool pause)
{
    const char *state = task_status_name(task->status);
    if (call->d->cluster != NULL)
        return api_refuse_in_cluster(call, pause ? "pause" : "resume",
                                     "stop the task to stop its processing on every node");
    if (!task->desired_running || task->status == TASK_FAILED) {
        const char *todo = task->status == TASK_FAILED ? "restart it first" : "start it first";
        if (pause)
            return api_reply(call, API_CONFLICT, NULL,
                             "task [%s] is %s: only a started task can be paused; %s", task->tid,
                             state, todo);
        return api_reply(call, API_CONFLICT, NULL, "task [%s] is %s, not paused: %s", task->tid,
                         state, task->status == TASK_FAILED ? "restart it" : "start it");
    }
    if (task->desired_paused != pause) {
        task->desired_paused = pause;
        if (api_save_or_fail(call, task) != 0) {
            task->desired_paused = !pause;
            return 0;
        }
        log_info(task->tag, "%s requested", pause ? "pause" : "resume");
        if (pause)
            sup_pause(call->d, task);
        else
            sup_resume(call->d, task);
    }
    /* the status follows the worker's heartbeat: paused once it committed what it held */
    const char *now = state;
    if (pause && task->status != TASK_PAUSED)
        now = "pausing";
    else if (!pause && task->status == TASK_PAUSED)
        now = "resuming";
    return api_reply(call, API_OK, NULL, "task [%s] is %s", task->tid, now);
}

/* POST /tasks/restart[?onlyFailed=true]: every started task of the customer (or only the
 * failed ones), all or none when the failed ones would go over sml.task.max. */
static int api_restart_all(api_call_t *call)
{
    daemon_t *d = call->d;
    bool only_failed;
    if (api_query_bool(call, "onlyFailed", &only_failed) != 0)
        return 0;
    if (d->cluster != NULL)
        return api_refuse_in_cluster(call, "restart of many tasks",
                                     "restart each task with POST /tasks/{tid}/restart");
    size_t n, chosen = 0;
    unsigned failed = 0;
    task_t **tasks = api_customer_tasks(call, &n);
    if (tasks == NULL)
        return api_reply(call, API_INTERNAL_SERVER_ERROR, NULL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        task_t *task = tasks[i];
        if (!task->desired_running || (only_failed && task->status != TASK_FAILED))
            continue;
        if (task->offsets_busy) {
            api_reply_offsets_busy(call, task);
            free(tasks);
            return 0;
        }
        failed += task->status == TASK_FAILED;
        tasks[chosen++] = task;
    }
    unsigned running = tasks_running_count(d);
    if (running + failed > d->cfg->task_max) {
        free(tasks);
        return api_reply(call, API_TOO_MANY_REQUESTS, NULL,
                         "restarting %u failed task%s would run %u tasks; the limit "
                         "sml.task.max is %u; stop a task first",
                         failed, failed == 1 ? "" : "s", running + failed, d->cfg->task_max);
    }
    json_t *names = json_array();
    for (size_t i = 0; i < chosen; i++) {
        log_info(tasks[i]->tag, "restart requested (of %s tasks)", only_failed ? "failed" : "all");
        sup_restart(d, tasks[i]);
        json_array_append_new(names, json_string(tasks[i]->tid));
    }
    free(tasks);
    return api_reply(call, API_OK, string_list(names), "%zu %stask%s restarted", chosen,
                     only_failed ? "failed " : "", chosen == 1 ? "" : "s");
}

/* The worker's answer to an offsets listing or reset, in the envelope. */
static void api_offsets_done(daemon_t *d, h2o_req_t *req, const char *cid, const char *tid,
                             bool reset, json_t *answer, const char *error)
{
    task_t *task = tasks_find(d, cid, tid);
    if (reset && task != NULL)
        task->offsets_busy = false;
    if (req == NULL)
        return;
    api_call_t call = {.req = req, .d = d, .path = req->input.path};
    snprintf(call.cid_str, sizeof(call.cid_str), "%s", cid);
    const char *verb = reset ? "reset" : "read";
    const char *status = json_string_value(json_object_get(answer, "status"));
    const char *message = json_string_value(json_object_get(answer, "message"));
    if (answer == NULL || status == NULL) {
        api_reply(&call, API_INTERNAL_SERVER_ERROR, NULL,
                  "the offsets of task [%s] cannot be %s: %s", tid, verb,
                  error != NULL ? error : "the worker answered nonsense");
        return;
    }
    if (strcmp(status, "bad_request") == 0) {
        api_reply(&call, API_BAD_REQUEST, NULL, "the offsets of task [%s] were not reset: %s", tid,
                  message ? message : "?");
        return;
    }
    json_t *offsets = json_object_get(answer, "offsets");
    json_t *parts = json_object_get(offsets, "partitions");
    const char *topic = json_string_value(json_object_get(offsets, "topic"));
    if (strcmp(status, "ok") != 0 || !json_is_array(parts) || topic == NULL) {
        api_reply(&call, API_SERVICE_UNAVAILABLE, NULL, "the offsets of task [%s] cannot be %s: %s",
                  tid, verb, message ? message : "?");
        return;
    }
    size_t n = json_array_size(parts);
    json_t *values = json_pack("{s:O}", "offsets", offsets);
    if (reset) {
        api_reply(&call, API_OK, values,
                  "offsets of task [%s] reset on %zu partition%s of topic [%s]", tid, n,
                  n == 1 ? "" : "s", topic);
        return;
    }
    json_int_t lag = 0;
    size_t i;
    json_t *p;
    json_array_foreach (parts, i, p)
        lag += json_integer_value(json_object_get(p, "lag"));
    api_reply(&call, API_OK, values,
              "task [%s] has %zu partition%s on topic [%s]; lag %" JSON_INTEGER_FORMAT, tid, n,
              n == 1 ? "" : "s", topic, lag);
}

/* Starts the offsets worker, or answers 503 when it cannot run now. */
static int api_offsets_spawn(api_call_t *call, task_t *task, json_t *to)
{
    char errstr[512];
    if (validate_pending() >= VALIDATE_MAX) {
        h2o_add_header(&call->req->pool, &call->req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL,
                       H2O_STRLIT("1"));
        return api_reply(call, API_SERVICE_UNAVAILABLE, NULL,
                         "too many checks under way; retry in a moment");
    }
    if (validate_offsets(call->d, call->req, task->cid, task->tid, task->taskinfo, to,
                         api_offsets_done, errstr, sizeof(errstr)) != 0)
        return api_reply(call, API_SERVICE_UNAVAILABLE, NULL,
                         "the offsets of task [%s] cannot be read now: %s", task->tid, errstr);
    if (to != NULL)
        task->offsets_busy = true;
    log_info(task->tag, "offsets %s requested", to != NULL ? "reset" : "listing");
    return 0;
}

static int api_offsets_list(api_call_t *call, task_t *task)
{
    return api_offsets_spawn(call, task, NULL);
}

/* Only while no worker runs and none is to run: the group must have no member. */
static int api_offsets_reset(api_call_t *call, task_t *task)
{
    if (call->d->cluster != NULL)
        return api_refuse_in_cluster(call, "an offsets reset",
                                     "stop the task, then reset its offsets with a Kafka tool "
                                     "(kafka-consumer-groups --reset-offsets)");
    if (task_alive_workers(task) != 0 || (task->desired_running && task->status != TASK_FAILED))
        return api_reply(call, API_CONFLICT, NULL,
                         "task [%s] is %s: offsets can be reset only while it is stopped; stop "
                         "it first",
                         task->tid, task_status_name(task->status));
    if (task->offsets_busy)
        return api_reply(call, API_CONFLICT, NULL,
                         "task [%s]: an offsets reset is under way; retry when it is done",
                         task->tid);
    char errstr[512];
    json_t *to = offsets_request_parse(call->req->entity.base, call->req->entity.len, errstr,
                                       sizeof(errstr));
    if (to == NULL)
        return api_reply(call, API_BAD_REQUEST, NULL, "%s", errstr);
    int r = api_offsets_spawn(call, task, to);
    json_decref(to);
    return r;
}

/* One message for every encrypted body that does not decrypt and parse to a JSON object,
 * whatever failed (base64, length, padding, tag, UTF-8, JSON), so that the answer tells an
 * attacker nothing about padding or plaintext (docs/security.md). */
#define API_TASKINFO_UNREADABLE                                                                    \
    "TaskInfo could not be decrypted to a JSON object: encrypt the TaskInfo's JSON with the "      \
    "customer's secret key (see API.md, Security)"

/* Turns the request body into a validated TaskInfo (a new reference), or answers 400 and
 * returns NULL. */
static json_t *api_taskinfo_read(api_call_t *call, const customer_t *customer)
{
    h2o_iovec_t body = call->req->entity;
    char errstr[1024];
    json_t *doc, *taskinfo;
    if (body.base == NULL || body.len == 0) {
        api_reply(call, API_BAD_REQUEST, NULL, "the request has no body: send a TaskInfo");
        return NULL;
    }
    size_t i = 0;
    while (i < body.len && (body.base[i] == ' ' || body.base[i] == '\n' || body.base[i] == '\r' ||
                            body.base[i] == '\t'))
        i++;
    if (i < body.len && body.base[i] == '{') {
        if (!call->d->cfg->allow_plaintext_taskinfo) {
            api_reply(call, API_BAD_REQUEST, NULL,
                      "TaskInfo must be encrypted; plain JSON is accepted only when "
                      "auth.allow_plaintext_taskinfo = true");
            return NULL;
        }
        /* Plain JSON is the sender's own text: where it is not JSON is worth saying. */
        taskinfo = taskinfo_parse(body.base, body.len, errstr, sizeof(errstr));
    } else {
        doc = taskinfo_decrypt(customer->key, call->cid_str, body.base, body.len);
        if (doc == NULL) {
            api_reply(call, API_BAD_REQUEST, NULL, API_TASKINFO_UNREADABLE);
            return NULL;
        }
        taskinfo = taskinfo_validate(doc, errstr, sizeof(errstr));
        json_decref(doc);
    }
    if (taskinfo == NULL)
        api_reply(call, API_BAD_REQUEST, NULL, "invalid TaskInfo: %s", errstr);
    return taskinfo;
}

static void api_reply_conflict(api_call_t *call, const char *tid)
{
    api_reply(call, API_CONFLICT, NULL,
              "task [%s] already exists for customer [%s]; use force=true to replace it", tid,
              call->cid_str);
}

/* Stores a TaskInfo the plugins accepted, or answers why they did not. */
static void api_create_checked(daemon_t *d, h2o_req_t *req, const char *cid, bool force, bool start,
                               json_t *taskinfo, const char *invalid)
{
    char tid[TASKINFO_ID_MAX + 1];
    snprintf(tid, sizeof(tid), "%s", json_string_value(json_object_get(taskinfo, "name")));
    if (req == NULL) {
        log_info(NULL, "task %s/%s not created: the client went away during the check", cid, tid);
        return;
    }
    api_call_t call = {.req = req, .d = d, .path = req->input.path, .scrub = taskinfo};
    snprintf(call.cid_str, sizeof(call.cid_str), "%s", cid);
    if (invalid != NULL) {
        api_reply(&call, API_BAD_REQUEST, NULL, "invalid TaskInfo: %s", invalid);
        return;
    }

    /* Checked again: another create may have landed while the plugins were checked. */
    task_t *task = tasks_find(d, cid, tid);
    if (task != NULL && !force) {
        api_reply_conflict(&call, tid);
        return;
    }
    if (d->cluster != NULL) { /* start=true was refused before the check (api_create) */
        api_cluster_submit(&call, CLUSTER_PUT, cid, tid, taskinfo, force);
        return;
    }
    /* and the limit: other tasks may have started meanwhile */
    if (start && !api_start_fits(d, task)) {
        api_reply_limit(&call, tid);
        return;
    }
    if (task != NULL && start && !task->desired_running) {
        if (task->offsets_busy) {
            api_reply_offsets_busy(&call, task);
            return;
        }
        /* replaced and started: as a create of a new task with start=true */
        json_t *old = task->taskinfo;
        task->taskinfo = json_incref(taskinfo);
        task->desired_running = true;
        if (api_save_or_fail(&call, task) != 0) {
            json_decref(task->taskinfo);
            task->taskinfo = old;
            task->desired_running = false;
            return;
        }
        json_decref(old);
        log_info(task->tag, "definition replaced; starting");
        sup_start(d, task);
        api_reply(&call, API_CREATED, NULL, "task [%s] replaced and starting", tid);
        return;
    }
    if (task != NULL) {
        json_t *old = task->taskinfo;
        task->taskinfo = json_incref(taskinfo);
        if (api_save_or_fail(&call, task) != 0) {
            json_decref(task->taskinfo);
            task->taskinfo = old;
            return;
        }
        json_decref(old);
        log_info(task->tag, "definition replaced");
        if (task->desired_running && task->status != TASK_FAILED)
            sup_restart(d, task); /* rolling update: the new definition takes over */
        api_reply(&call, API_CREATED, NULL, "task [%s] replaced%s", tid,
                  task->desired_running ? " and restarting" : "");
        return;
    }

    task = tasks_add(d, cid, tid, taskinfo);
    if (task == NULL) {
        api_reply(&call, API_INTERNAL_SERVER_ERROR, NULL, "out of memory");
        return;
    }
    task->created = time(NULL);
    task->desired_running = start;
    if (api_save_or_fail(&call, task) != 0) {
        tasks_remove(d, task);
        return;
    }
    log_info(task->tag, "created%s", start ? "; starting" : "");
    if (start)
        sup_start(d, task);
    api_reply(&call, API_CREATED, NULL, "task [%s] created for customer [%s]%s", tid, cid,
              start ? " and starting" : "");
}

static int api_create(api_call_t *call)
{
    daemon_t *d = call->d;
    bool force, start;
    if (api_query_bool(call, "force", &force) != 0 || api_query_bool(call, "start", &start) != 0)
        return 0;
    /* before the plugins' check: a worker loading a model for a request refused anyway */
    if (start && d->cluster != NULL)
        return api_refuse_in_cluster(call, "start=true on create", "create it, then start it");

    const customer_t *customer = customers_find(d->customers, call->cid.base, call->cid.len);
    json_t *taskinfo = api_taskinfo_read(call, customer);
    if (taskinfo == NULL)
        return 0;

    const char *tid = json_string_value(json_object_get(taskinfo, "name"));
    task_t *existing = tasks_find(d, call->cid_str, tid);
    if (existing != NULL && !force) {
        api_reply_conflict(call, tid);
        json_decref(taskinfo);
        return 0;
    }
    if (start && !api_start_fits(d, existing)) {
        api_reply_limit(call, tid);
        json_decref(taskinfo);
        return 0;
    }
    /* Each check is a process that loads a model: a flood of creates must not exhaust the
     * machine. */
    if (validate_pending() >= VALIDATE_MAX) {
        json_decref(taskinfo);
        h2o_add_header(&call->req->pool, &call->req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL,
                       H2O_STRLIT("1"));
        return api_reply(call, API_SERVICE_UNAVAILABLE, NULL,
                         "%d task definitions are being checked already; retry in a moment",
                         VALIDATE_MAX);
    }
    /* The plugins check their own params in a short-lived worker; the answer comes from
     * api_create_checked(). */
    char errstr[1024];
    if (validate_start(d, call->req, call->cid_str, force, start, taskinfo, api_create_checked,
                       errstr, sizeof(errstr)) != 0) {
        json_decref(taskinfo);
        return api_reply(call, API_SERVICE_UNAVAILABLE, NULL,
                         "the task's plugins cannot be checked right now: %s", errstr);
    }
    json_decref(taskinfo);
    return 0;
}

static void api_plugins_listed(daemon_t *d, h2o_req_t *req, json_t *plugins, const char *error)
{
    if (req == NULL)
        return;
    api_call_t call = {.req = req, .d = d, .path = req->input.path};
    if (plugins == NULL) {
        api_reply(&call, API_INTERNAL_SERVER_ERROR, NULL, "%s", error);
        return;
    }
    size_t n = json_array_size(plugins);
    api_reply(&call, API_OK, json_pack("{s:O}", "plugins", plugins), "%zu plugin%s installed", n,
              n == 1 ? "" : "s");
}

/* Each plugin describes itself by running its own code: that happens in a short-lived
 * worker, answered by api_plugins_listed(). */
static int api_plugins(api_call_t *call)
{
    char errstr[512];
    if (validate_pending() >= VALIDATE_MAX) {
        h2o_add_header(&call->req->pool, &call->req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL,
                       H2O_STRLIT("1"));
        return api_reply(call, API_SERVICE_UNAVAILABLE, NULL,
                         "too many plugin checks under way; retry in a moment");
    }
    if (validate_list_plugins(call->d, call->req, api_plugins_listed, errstr, sizeof(errstr)) != 0)
        return api_reply(call, API_SERVICE_UNAVAILABLE, NULL, "plugins cannot be listed: %s",
                         errstr);
    return 0;
}

/* One metric of every task, from the last heartbeat of its worker. */
static void metrics_per_task(text_t *t, daemon_t *d, const char *name, const char *type,
                             const char *help, const char *key)
{
    text_printf(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
    for (size_t i = 0; i < d->task_count; i++) {
        task_t *task = d->tasks[i];
        json_t *v = task->stats ? json_object_get(task->stats, key) : NULL;
        if (json_is_null(v))
            continue; /* unknown (a lag while no partition is assigned): no sample */
        text_printf(t, "%s{customer=\"%s\",task=\"%s\"} %" JSON_INTEGER_FORMAT "\n", name,
                    task->cid, task->tid, json_is_integer(v) ? json_integer_value(v) : 0);
    }
}

static void metrics_latency(text_t *t, daemon_t *d)
{
    static const char name[] = "symtask_batch_latency_seconds";
    text_printf(t,
                "# HELP %s Time from a batch handed to the plugins to its last output "
                "acknowledged by Kafka.\n# TYPE %s histogram\n",
                name, name);
    for (size_t i = 0; i < d->task_count; i++) {
        task_t *task = d->tasks[i];
        json_t *h = task->stats ? json_object_get(task->stats, "batchLatency") : NULL;
        json_t *le = json_object_get(h, "le"), *counts = json_object_get(h, "counts");
        if (!json_is_array(le) || !json_is_array(counts) ||
            json_array_size(counts) != json_array_size(le) + 1)
            continue;
        for (size_t k = 0; k < json_array_size(counts); k++) {
            char bound[32] = "+Inf";
            if (k < json_array_size(le))
                snprintf(bound, sizeof(bound), "%g", json_number_value(json_array_get(le, k)));
            text_printf(
                t, "%s_bucket{customer=\"%s\",task=\"%s\",le=\"%s\"} %" JSON_INTEGER_FORMAT "\n",
                name, task->cid, task->tid, bound, json_integer_value(json_array_get(counts, k)));
        }
        text_printf(t, "%s_sum{customer=\"%s\",task=\"%s\"} %.9g\n", name, task->cid, task->tid,
                    json_number_value(json_object_get(h, "sum")));
        text_printf(t, "%s_count{customer=\"%s\",task=\"%s\"} %" JSON_INTEGER_FORMAT "\n", name,
                    task->cid, task->tid, json_integer_value(json_object_get(h, "count")));
    }
}

/* Prometheus text format. Task metrics carry customer and task ids only; a worker's counters
 * start again from 0 when it restarts, which Prometheus reads as a counter reset. */
static int api_metrics(api_call_t *call)
{
    daemon_t *d = call->d;
    text_t t;
    text_init(&t, NULL, 0);
    text_printf(&t,
                "# HELP symtask_tasks Tasks defined.\n# TYPE symtask_tasks gauge\n"
                "symtask_tasks %zu\n"
                "# HELP symtask_tasks_running Tasks whose desired state is running (and not "
                "failed): they hold a slot of sml.task.max.\n"
                "# TYPE symtask_tasks_running gauge\nsymtask_tasks_running %u\n"
                "# HELP symtask_tasks_max The limit sml.task.max.\n"
                "# TYPE symtask_tasks_max gauge\nsymtask_tasks_max %u\n",
                d->task_count, tasks_running_count(d), d->cfg->task_max);
    text_printf(&t, "# HELP symtask_task_up 1 when the task's worker runs and reached Kafka.\n"
                    "# TYPE symtask_task_up gauge\n");
    for (size_t i = 0; i < d->task_count; i++)
        text_printf(&t, "symtask_task_up{customer=\"%s\",task=\"%s\"} %d\n", d->tasks[i]->cid,
                    d->tasks[i]->tid,
                    d->tasks[i]->status == TASK_RUNNING || d->tasks[i]->status == TASK_PAUSED);
    text_printf(&t, "# HELP symtask_task_failed 1 when the task gave up (status failed: too many "
                    "crashes in a row, or a definition that cannot run); lastError says why.\n"
                    "# TYPE symtask_task_failed gauge\n");
    for (size_t i = 0; i < d->task_count; i++)
        text_printf(&t, "symtask_task_failed{customer=\"%s\",task=\"%s\"} %d\n", d->tasks[i]->cid,
                    d->tasks[i]->tid, d->tasks[i]->status == TASK_FAILED);
    text_printf(&t, "# HELP symtask_task_paused 1 while the task is paused (its worker stays in "
                    "its consumer group and fetches nothing).\n"
                    "# TYPE symtask_task_paused gauge\n");
    for (size_t i = 0; i < d->task_count; i++)
        text_printf(&t, "symtask_task_paused{customer=\"%s\",task=\"%s\"} %d\n", d->tasks[i]->cid,
                    d->tasks[i]->tid, d->tasks[i]->status == TASK_PAUSED);
    text_printf(&t, "# HELP symtask_worker_restarts_total Restarts of the task's worker after a "
                    "crash, since the task was last started.\n"
                    "# TYPE symtask_worker_restarts_total counter\n");
    for (size_t i = 0; i < d->task_count; i++)
        text_printf(&t, "symtask_worker_restarts_total{customer=\"%s\",task=\"%s\"} %u\n",
                    d->tasks[i]->cid, d->tasks[i]->tid, d->tasks[i]->restarts);
    text_printf(&t, "# HELP symtask_records_quarantined_total Records that took down "
                    "sml.kstream.poison.max workers, set aside in the dead letters.\n"
                    "# TYPE symtask_records_quarantined_total counter\n");
    for (size_t i = 0; i < d->task_count; i++)
        text_printf(&t, "symtask_records_quarantined_total{customer=\"%s\",task=\"%s\"} %llu\n",
                    d->tasks[i]->cid, d->tasks[i]->tid,
                    (unsigned long long)d->tasks[i]->poison.quarantined_total);
    metrics_per_task(&t, d, "symtask_records_in_total", "counter",
                     "Records consumed from the source topic.", "recordsIn");
    metrics_per_task(&t, d, "symtask_records_out_total", "counter",
                     "Records with their prediction acknowledged on the sink topic.", "recordsOut");
    metrics_per_task(&t, d, "symtask_records_failed_total", "counter",
                     "Records that could not be decoded, predicted or encoded.", "recordsFailed");
    metrics_per_task(&t, d, "symtask_records_dead_letter_total", "counter",
                     "Failed records acknowledged on the dead-letter topic.", "recordsDeadLetter");
    metrics_per_task(&t, d, "symtask_consumer_lag", "gauge",
                     "Records of the source topic not yet consumed by the task's worker.",
                     "consumerLag");
    metrics_per_task(&t, d, "symtask_transactions_committed_total", "counter",
                     "Kafka transactions committed (sml.kstream.guarantee = exactly_once).",
                     "transactionsCommitted");
    metrics_per_task(&t, d, "symtask_transactions_aborted_total", "counter",
                     "Kafka transactions aborted; their records are read again.",
                     "transactionsAborted");
    metrics_per_task(&t, d, "symtask_plugin_retries_total", "counter",
                     "Plugin calls made again after a passing failure (a model server or "
                     "registry that cannot be reached); the records waited.",
                     "retries");
    metrics_per_task(&t, d, "symtask_plugin_retrying", "gauge",
                     "1 while a plugin call waits to be made again.", "retrying");
    metrics_per_task(&t, d, "symtask_assigned_partitions", "gauge",
                     "Partitions of the source topic the consumer group gave the task's worker.",
                     "assignedPartitions");
    metrics_latency(&t, d);
    if (t.failed) {
        text_free(&t);
        return api_reply(call, API_INTERNAL_SERVER_ERROR, NULL, "out of memory");
    }
    /* h2o copies an inline body into the request's pool. */
    api_send_body(call->req, 200, "OK", "text/plain; version=0.0.4", t.data, t.len);
    text_free(&t);
    return 0;
}

/* The API description (ui/openapi.json), read at start (ui.c); not signed, like the page. */
static int api_openapi(api_call_t *call)
{
    daemon_t *d = call->d;
    if (d->openapi == NULL)
        return api_reply(call, API_NOT_FOUND, NULL,
                         "the API description is not installed: %s/openapi.json cannot be read; "
                         "set ui.dir to the directory of the status page and openapi.json",
                         d->ui_dir);
    h2o_add_header(&call->req->pool, &call->req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL,
                   H2O_STRLIT("no-cache"));
    api_send_body(call->req, 200, "OK", "application/json", d->openapi, d->openapi_len);
    return 0;
}

static int api_dispatch(api_call_t *call)
{
    daemon_t *d = call->d;
    h2o_req_t *req = call->req;

    route_match_t match;
    route_result_t found =
        routes_match(req->method.base, req->method.len, call->path.base, call->path.len, &match);
    if (found == ROUTE_NOT_FOUND)
        return api_reply(call, API_NOT_FOUND, NULL, "no such endpoint: %.*s %.*s",
                         (int)req->method.len, req->method.base,
                         (int)(call->path.len > 256 ? 256 : call->path.len), call->path.base);
    if (found == ROUTE_NOT_ALLOWED) {
        const char *allow = match.allow;
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL,
                       h2o_strdup(&req->pool, allow, SIZE_MAX).base, strlen(allow));
        return api_reply(call, API_METHOD_NOT_ALLOWED, NULL, "%.*s is not allowed here; use %s",
                         (int)req->method.len, req->method.base, allow);
    }
    call->route = match.route->id;
    call->cid = h2o_iovec_init(match.cid, match.cid_len);
    call->tid = h2o_iovec_init(match.tid, match.tid_len);
    if (!match.route->is_signed) {
        switch (call->route) {
        case ROUTE_HEALTHZ:
            return api_reply(call, API_OK, NULL, "symtaskd is serving");
        case ROUTE_METRICS:
            return api_metrics(call);
        case ROUTE_OPENAPI:
            return api_openapi(call);
        default:
            return api_reply(call, API_NOT_FOUND, NULL, "no such endpoint");
        }
    }

    if (!taskinfo_id_valid(call->cid.base, call->cid.len))
        return api_reply(call, API_BAD_REQUEST, NULL,
                         "customer id '%.*s' is malformed: use 1 to 128 of A-Z a-z 0-9 . _ -",
                         (int)(call->cid.len > 140 ? 140 : call->cid.len), call->cid.base);
    memcpy(call->cid_str, call->cid.base, call->cid.len);
    call->cid_str[call->cid.len] = '\0';
    if (call->tid.base != NULL) {
        if (!taskinfo_id_valid(call->tid.base, call->tid.len))
            return api_reply(call, API_BAD_REQUEST, NULL,
                             "task id '%.*s' is malformed: use 1 to 128 of A-Z a-z 0-9 . _ -",
                             (int)(call->tid.len > 140 ? 140 : call->tid.len), call->tid.base);
        memcpy(call->tid_str, call->tid.base, call->tid.len);
        call->tid_str[call->tid.len] = '\0';
    }
    if (req->entity.len > d->cfg->http_max_body)
        return api_reply(call, API_PAYLOAD_TOO_LARGE, NULL,
                         "the request body has %zu bytes; the limit http.max_body is %zu",
                         req->entity.len, d->cfg->http_max_body);
    if (api_authenticate(call) != 0)
        return 0;

    switch (call->route) {
    case ROUTE_LIST:
        return api_list(call);
    case ROUTE_CREATE:
        return api_create(call);
    case ROUTE_PLUGINS:
        return api_plugins(call);
    case ROUTE_RESTART_ALL:
        return api_restart_all(call);
    default:
        break;
    }

    task_t *task = tasks_find(d, call->cid_str, call->tid_str);
    if (task == NULL)
        return api_reply(call, API_NOT_FOUND, NULL, "task [%s] does not exist for customer [%s]",
                         call->tid_str, call->cid_str);
    switch (call->route) {
    case ROUTE_TASK:
        return iovec_eq(req->method, "DELETE") ? api_delete(call, task) : api_status(call, task);
    case ROUTE_START:
        return api_start(call, task, false);
    case ROUTE_RESTART:
        return api_start(call, task, true);
    case ROUTE_STOP:
        return api_stop(call, task);
    case ROUTE_PAUSE:
        return api_pause(call, task, true);
    case ROUTE_RESUME:
        return api_pause(call, task, false);
    case ROUTE_OFFSETS:
        return iovec_eq(req->method, "POST") ? api_offsets_reset(call, task)
                                             : api_offsets_list(call, task);
    default:
        return api_reply(call, API_NOT_FOUND, NULL, "no such endpoint");
    }
}

static int api_on_req(h2o_handler_t *self, h2o_req_t *req)
{
    api_call_t call = {.req = req, .d = ((api_handler_t *)self)->d};
    h2o_iovec_t path = req->input.path;
    size_t query_at = req->input.query_at;
    if (query_at != SIZE_MAX) {
        call.path = h2o_iovec_init(path.base, query_at);
        call.query = h2o_iovec_init(path.base + query_at + 1, path.len - query_at - 1);
    } else {
        call.path = path;
        call.query = h2o_iovec_init(NULL, 0);
    }
    return api_dispatch(&call);
}

void api_register(daemon_t *d, h2o_hostconf_t *hostconf)
{
    h2o_pathconf_t *pathconf = h2o_config_register_path(hostconf, "/", 0);
    api_handler_t *handler = (api_handler_t *)h2o_create_handler(pathconf, sizeof(*handler));
    handler->super.on_req = api_on_req;
    handler->d = d;
}
