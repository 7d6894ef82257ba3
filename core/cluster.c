/* cluster.c: cluster mode: task definitions and desired states in a compacted Kafka topic
 * that every node applies in order; the workers of every node in a status topic. */
#include "cluster.h"

#include <errno.h>
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "taskinfo.h"

#define CLUSTER_STATUS_MS 2000
/* a node whose status is older than this is left out of a task's status */
#define CLUSTER_STATUS_STALE_MS 10000
#define CLUSTER_CATCH_UP_MS 60000
#define CLUSTER_RECORD_VERSION 1

typedef struct pending {
    struct pending *next;
    struct cluster *cl;
    h2o_req_t *req;
    void **req_link;
    cluster_done_cb cb;
    int64_t offset;   /* of the record to apply before answering; -1 until acknowledged */
    unsigned records; /* records still to be acknowledged */
    bool failed;
    char message[512];
    api_status_t status;
} pending_t;

typedef struct node_status {
    char id[65];
    json_t *tasks; /* "cid/tid" -> {"workers":[...]} */
    uint64_t seen_ms;
} node_status_t;

struct cluster {
    daemon_t *d;
    rd_kafka_t *producer, *consumer;
    char config_topic[250], status_topic[250];
    unsigned char key[STORE_KEY_SIZE];
    int64_t applied;  /* next offset of the config topic to apply */
    bool catching_up; /* reading the topic to its end at start: states only, no workers yet */
    pending_t *pending;
    node_status_t *nodes;
    size_t node_count;
    uint64_t next_status_ms;
    int pipes[2][2];
    h2o_socket_t *watch[2];
    /* the answer of the record being applied, for the request that wrote it */
    api_status_t result;
    char result_message[512];
    /* the answers of the last records applied: a delivery report may come after the record
     * was read back and applied */
    struct {
        int64_t offset;
        api_status_t status;
        char message[512];
    } results[64];
};

/* ---- records ---------------------------------------------------------------------------- */

/* Keys: "task/{cid}/{tid}" holds the sealed definition, "state/{cid}/{tid}" the desired state
 * and the restart count; a null value deletes (compaction keeps the last of each key). */
static void record_key(char *out, size_t size, const char *kind, const char *cid, const char *tid)
{
    snprintf(out, size, "%s/%s/%s", kind, cid, tid);
}

static void set_result(struct cluster *cl, api_status_t status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_result(struct cluster *cl, api_status_t status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cl->result_message, sizeof(cl->result_message), fmt, ap);
    va_end(ap);
    cl->result = status;
}

static void apply_definition(struct cluster *cl, const char *cid, const char *tid, json_t *value)
{
    daemon_t *d = cl->d;
    task_t *task = tasks_find(d, cid, tid);
    if (value == NULL) {
        if (task == NULL) {
            set_result(cl, API_NOT_FOUND, "task [%s] does not exist", tid);
            return;
        }
        log_info(task->tag, "deleted (cluster)");
        sup_stop(d, task);
        tasks_remove(d, task);
        set_result(cl, API_OK, "task [%s] deleted", tid);
        return;
    }
    const char *sealed = json_string_value(json_object_get(value, "sealedTaskInfo"));
    char *plain = NULL, reason[256] = "";
    size_t len = 0;
    json_t *taskinfo = NULL;
    char errstr[512] = "";
    if (sealed == NULL || store_unseal(cl->key, "cluster.key", cid, tid, sealed, &plain, &len,
                                       reason, sizeof(reason)) != 0) {
        log_error(NULL, "%s: record of task %s/%s ignored: %s", cl->config_topic, cid, tid,
                  reason[0] ? reason : "no sealedTaskInfo");
        set_result(cl, API_INTERNAL_SERVER_ERROR,
                   "the cluster's record of task [%s] cannot be "
                   "read with cluster.key",
                   tid);
        return;
    }
    json_t *doc = json_loadb(plain, len, JSON_REJECT_DUPLICATES, NULL);
    store_wipe_free(plain, len);
    if (doc != NULL)
        taskinfo = taskinfo_validate(doc, errstr, sizeof(errstr));
    json_decref(doc);
    if (taskinfo == NULL) {
        log_error(NULL, "%s: record of task %s/%s ignored: not a valid TaskInfo: %s",
                  cl->config_topic, cid, tid, errstr);
        set_result(cl, API_INTERNAL_SERVER_ERROR, "the cluster's record of task [%s] is invalid",
                   tid);
        return;
    }
    bool force = json_is_true(json_object_get(value, "force"));
    if (task != NULL && !force) {
        set_result(cl, API_CONFLICT,
                   "task [%s] already exists for customer [%s]; use force=true to replace it", tid,
                   cid);
    } else if (task != NULL) {
        json_decref(task->taskinfo);
        task->taskinfo = json_incref(taskinfo);
        task->updated = time(NULL);
        log_info(task->tag, "definition replaced (cluster)");
        if (task->desired_running && task->status != TASK_FAILED && !cl->catching_up)
            sup_restart(d, task);
        set_result(cl, API_CREATED, "task [%s] replaced%s", tid,
                   task->desired_running ? " and restarting" : "");
    } else if ((task = tasks_add(d, cid, tid, taskinfo)) == NULL) {
        set_result(cl, API_INTERNAL_SERVER_ERROR, "out of memory");
    } else {
        task->created = task->updated = time(NULL);
        log_info(task->tag, "created (cluster)");
        set_result(cl, API_CREATED, "task [%s] created for customer [%s]", tid, cid);
    }
    json_decref(taskinfo);
}

static void apply_state(struct cluster *cl, const char *cid, const char *tid, json_t *value)
{
    daemon_t *d = cl->d;
    task_t *task = tasks_find(d, cid, tid);
    if (task == NULL) {
        set_result(cl, API_NOT_FOUND, "task [%s] does not exist", tid);
        return;
    }
    if (value == NULL) /* written just before the definition's deletion */
        return;
    const char *desired = json_string_value(json_object_get(value, "desired"));
    const char *op = json_string_value(json_object_get(value, "op"));
    json_int_t restart = json_integer_value(json_object_get(value, "restart"));
    if (desired == NULL || op == NULL) {
        log_error(task->tag, "%s: a state record without desired or op; ignored", cl->config_topic);
        return;
    }
    if (cl->catching_up) { /* what the topic says in the end counts, not each step */
        task->desired_running = strcmp(desired, "running") == 0;
        task->cluster_restart = (unsigned)restart;
        return;
    }
    if (strcmp(desired, "running") != 0) {
        if (task->desired_running)
            log_info(task->tag, "stop (cluster)");
        sup_stop(d, task);
        set_result(cl, API_OK, "task [%s] is %s", tid, task_status_name(task->status));
        return;
    }
    bool holds_slot = task->desired_running && task->status != TASK_FAILED;
    if (!holds_slot && tasks_running_count(d) >= d->cfg->task_max) {
        task->desired_running = true;
        task->failed = true;
        task->status = TASK_FAILED;
        snprintf(task->last_error, sizeof(task->last_error),
                 "not started: sml.task.max (%u) tasks already run on this node", d->cfg->task_max);
        log_warn(task->tag, "%s", task->last_error);
        set_result(cl, API_TOO_MANY_REQUESTS,
                   "cannot start task [%s]: %u tasks are running, the limit sml.task.max is %u; "
                   "stop a task first",
                   tid, tasks_running_count(d), d->cfg->task_max);
        return;
    }
    bool restart_asked = (unsigned)restart != task->cluster_restart;
    task->cluster_restart = (unsigned)restart;
    bool was = task->desired_running;
    task->desired_running = true;
    if (restart_asked && was) {
        log_info(task->tag, "restart (cluster)");
        sup_restart(d, task);
    } else if (!(was && task_alive_workers(task) > 0 && task->status != TASK_FAILED)) {
        log_info(task->tag, "start (cluster)");
        sup_start(d, task);
    }
    set_result(cl, API_OK, "task [%s] is %s", tid, task_status_name(task->status));
}

/* Applies one record of the config topic, in the topic's order. */
static void cluster_apply(struct cluster *cl, const rd_kafka_message_t *m)
{
    set_result(cl, API_OK, "done");
    char key[300];
    if (m->key == NULL || m->key_len >= sizeof(key)) {
        log_warn(NULL, "%s: offset %lld: a record without a key of ours; ignored", cl->config_topic,
                 (long long)m->offset);
        return;
    }
    memcpy(key, m->key, m->key_len);
    key[m->key_len] = '\0';
    char *cid = strchr(key, '/'), *tid = cid ? strchr(cid + 1, '/') : NULL;
    if (cid == NULL || tid == NULL) {
        log_warn(NULL, "%s: offset %lld: key '%s' is not ours; ignored", cl->config_topic,
                 (long long)m->offset, key);
        return;
    }
    *cid++ = '\0';
    *tid++ = '\0';
    if (!taskinfo_id_valid(cid, strlen(cid)) || !taskinfo_id_valid(tid, strlen(tid)))
        return;
    json_t *value = NULL;
    if (m->payload != NULL) {
        value = json_loadb(m->payload, m->len, 0, NULL);
        if (!json_is_object(value) ||
            json_integer_value(json_object_get(value, "v")) != CLUSTER_RECORD_VERSION) {
            log_warn(NULL, "%s: offset %lld: not a record of this version; ignored",
                     cl->config_topic, (long long)m->offset);
            json_decref(value);
            return;
        }
    }
    if (strcmp(key, "task") == 0)
        apply_definition(cl, cid, tid, value);
    else if (strcmp(key, "state") == 0)
        apply_state(cl, cid, tid, value);
    json_decref(value);
}

/* ---- answers ---------------------------------------------------------------------------- */

static void pending_on_req_dispose(void *p)
{
    pending_t **slot = p;
    if (*slot != NULL)
        (*slot)->req = NULL;
}

static void pending_finish(struct cluster *cl, pending_t *p)
{
    pending_t **pp = &cl->pending;
    while (*pp != p)
        pp = &(*pp)->next;
    *pp = p->next;
    if (p->req_link != NULL && p->req != NULL)
        *p->req_link = NULL;
    p->cb(cl->d, p->req, p->status, p->message);
    free(p);
}

/* Answers the requests whose records this node has applied, and those whose write failed. */
static void pending_check(struct cluster *cl)
{
    pending_t *p = cl->pending, *next;
    for (; p != NULL; p = next) {
        next = p->next;
        if (p->failed) {
            pending_finish(cl, p);
        } else if (p->records == 0 && p->offset >= 0 && p->offset < cl->applied) {
            size_t slot = (size_t)p->offset % (sizeof(cl->results) / sizeof(cl->results[0]));
            if (cl->results[slot].offset == p->offset) {
                p->status = cl->results[slot].status;
                snprintf(p->message, sizeof(p->message), "%s", cl->results[slot].message);
            }
            pending_finish(cl, p);
        }
    }
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    pending_t *p = m->_private;
    if (p == NULL)
        return;
    if (m->err != 0) {
        p->failed = true;
        p->status = API_SERVICE_UNAVAILABLE;
        snprintf(p->message, sizeof(p->message),
                 "the change could not be written to the cluster's topic %s (%s); try again",
                 p->cl->config_topic, rd_kafka_err2str(m->err));
    } else if (m->offset > p->offset) {
        p->offset = m->offset;
    }
    if (p->records > 0)
        p->records--;
}

/* ---- Kafka clients ---------------------------------------------------------------------- */

static rd_kafka_t *client_new(daemon_t *d, rd_kafka_type_t type, char *errstr, size_t errstr_size)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char group[200], client_id[200];
    snprintf(group, sizeof(group), "symtask-cluster-%s-%s", d->cfg->cluster_id,
             d->cfg->cluster_node_id);
    snprintf(client_id, sizeof(client_id), "symtaskd-%s-%s", d->cfg->cluster_id,
             d->cfg->cluster_node_id);
    bool producer = type == RD_KAFKA_PRODUCER;
    const char *settings[][2] = {
        {"bootstrap.servers", d->cfg->kafka_bootstrap_servers},
        {"client.id", client_id},
        /* the producer: each change written once, acknowledged by every in-sync replica,
         * and a node cut off from Kafka answers 503 within 10 s, not librdkafka's 300 s */
        {producer ? "acks" : "group.id", producer ? "all" : group},
        {producer ? "enable.idempotence" : "enable.auto.commit", producer ? "true" : "false"},
        {producer ? "linger.ms" : "fetch.wait.max.ms", producer ? "0" : "50"},
        {producer ? "message.timeout.ms" : "enable.partition.eof", producer ? "10000" : "false"},
    };
    for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++) {
        char why[256];
        if (rd_kafka_conf_set(conf, settings[i][0], settings[i][1], why, sizeof(why)) !=
            RD_KAFKA_CONF_OK) {
            snprintf(errstr, errstr_size, "cluster: %s: %s", settings[i][0], why);
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    }
    if (type == RD_KAFKA_PRODUCER)
        rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    char why[512];
    rd_kafka_t *rk = rd_kafka_new(type, conf, why, sizeof(why));
    if (rk == NULL) {
        snprintf(errstr, errstr_size, "cluster: cannot create a Kafka client: %s", why);
        rd_kafka_conf_destroy(conf);
    }
    return rk;
}

/* The partitions of @topic, or -1 with a message. */
static int topic_partitions(rd_kafka_t *rk, const char *topic, const char *key, char *errstr,
                            size_t errstr_size)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
    int n = -1;
    if (err != 0) {
        snprintf(errstr, errstr_size, "cluster: cannot read the metadata of %s = %s: %s", key,
                 topic, rd_kafka_err2str(err));
    } else if (md->topic_cnt != 1 || md->topics[0].err != 0) {
        snprintf(errstr, errstr_size,
                 "cluster: %s = %s: %s; create it (docs/cluster.md: one partition for the config "
                 "topic, cleanup.policy=compact for both)",
                 key, topic,
                 md->topic_cnt == 1 ? rd_kafka_err2str(md->topics[0].err) : "no such topic");
    } else {
        n = md->topics[0].partition_cnt;
    }
    if (md != NULL)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return n;
}

static void cluster_on_status(struct cluster *cl, const rd_kafka_message_t *m)
{
    if (m->key == NULL || m->key_len == 0 || m->key_len > 64)
        return;
    char id[65];
    memcpy(id, m->key, m->key_len);
    id[m->key_len] = '\0';
    if (strcmp(id, cl->d->cfg->cluster_node_id) == 0)
        return;
    node_status_t *ns = NULL;
    for (size_t i = 0; i < cl->node_count; i++)
        if (strcmp(cl->nodes[i].id, id) == 0)
            ns = &cl->nodes[i];
    if (ns == NULL) {
        node_status_t *grown = realloc(cl->nodes, (cl->node_count + 1) * sizeof(*grown));
        if (grown == NULL)
            return;
        cl->nodes = grown;
        ns = &cl->nodes[cl->node_count++];
        memset(ns, 0, sizeof(*ns));
        snprintf(ns->id, sizeof(ns->id), "%s", id);
    }
    json_t *value = m->payload ? json_loadb(m->payload, m->len, 0, NULL) : NULL;
    json_decref(ns->tasks);
    ns->tasks = json_incref(json_object_get(value, "tasks"));
    ns->seen_ms = daemon_now_ms();
    json_decref(value);
}

static void cluster_consume(struct cluster *cl)
{
    rd_kafka_message_t *m;
    while ((m = rd_kafka_consumer_poll(cl->consumer, 0)) != NULL) {
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        } else if (m->err != 0) {
            log_warn(NULL, "cluster: %s", rd_kafka_message_errstr(m));
        } else if (strcmp(rd_kafka_topic_name(m->rkt), cl->config_topic) == 0) {
            if (m->offset >= cl->applied) {
                cluster_apply(cl, m);
                cl->applied = m->offset + 1;
                size_t slot = (size_t)m->offset % (sizeof(cl->results) / sizeof(cl->results[0]));
                cl->results[slot].offset = m->offset;
                cl->results[slot].status = cl->result;
                snprintf(cl->results[slot].message, sizeof(cl->results[slot].message), "%s",
                         cl->result_message);
            }
        } else {
            cluster_on_status(cl, m);
        }
        rd_kafka_message_destroy(m);
    }
}

static void cluster_on_event(h2o_socket_t *sock, const char *err)
{
    struct cluster *cl = sock->data;
    h2o_buffer_consume(&sock->input, sock->input->size);
    if (err == NULL)
        cluster_tick(cl->d);
}

static int cluster_watch_queue(struct cluster *cl, int i, rd_kafka_queue_t *q)
{
    if (pipe2(cl->pipes[i], O_NONBLOCK | O_CLOEXEC) != 0)
        return -1;
    rd_kafka_queue_io_event_enable(q, cl->pipes[i][1], "1", 1);
    rd_kafka_queue_destroy(q);
    cl->watch[i] = h2o_evloop_socket_create(cl->d->loop, cl->pipes[i][0], 0);
    cl->watch[i]->data = cl;
    h2o_socket_read_start(cl->watch[i], cluster_on_event);
    return 0;
}

int cluster_open(daemon_t *d, char *errstr, size_t errstr_size)
{
    const config_t *cfg = d->cfg;
    struct cluster *cl = calloc(1, sizeof(*cl));
    if (cl == NULL) {
        snprintf(errstr, errstr_size, "cluster: out of memory");
        return -1;
    }
    cl->d = d;
    d->cluster = cl;
    for (size_t i = 0; i < sizeof(cl->results) / sizeof(cl->results[0]); i++)
        cl->results[i].offset = -1;
    if (cfg->cluster_config_topic != NULL)
        snprintf(cl->config_topic, sizeof(cl->config_topic), "%s", cfg->cluster_config_topic);
    else
        snprintf(cl->config_topic, sizeof(cl->config_topic), "symtask-%s-config", cfg->cluster_id);
    if (cfg->cluster_status_topic != NULL)
        snprintf(cl->status_topic, sizeof(cl->status_topic), "%s", cfg->cluster_status_topic);
    else
        snprintf(cl->status_topic, sizeof(cl->status_topic), "symtask-%s-status", cfg->cluster_id);
    if (store_key_read(cfg->cluster_key, cl->key, errstr, errstr_size) != 0)
        return -1;
    if ((cl->producer = client_new(d, RD_KAFKA_PRODUCER, errstr, errstr_size)) == NULL ||
        (cl->consumer = client_new(d, RD_KAFKA_CONSUMER, errstr, errstr_size)) == NULL)
        return -1;
    int parts = topic_partitions(cl->producer, cl->config_topic, "cluster.config.topic", errstr,
                                 errstr_size);
    if (parts < 0)
        return -1;
    if (parts != 1) {
        snprintf(errstr, errstr_size,
                 "cluster: cluster.config.topic = %s has %d partitions: it must have exactly one, "
                 "so that every node applies the changes in one order",
                 cl->config_topic, parts);
        return -1;
    }
    int status_parts = topic_partitions(cl->producer, cl->status_topic, "cluster.status.topic",
                                        errstr, errstr_size);
    if (status_parts < 0)
        return -1;

    int64_t low = 0, high = 0;
    rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(cl->consumer, cl->config_topic, 0, &low, &high, 10000);
    if (err != 0) {
        snprintf(errstr, errstr_size, "cluster: cannot read the end of %s: %s", cl->config_topic,
                 rd_kafka_err2str(err));
        return -1;
    }
    rd_kafka_topic_partition_list_t *parts_list =
        rd_kafka_topic_partition_list_new(1 + status_parts);
    rd_kafka_topic_partition_list_add(parts_list, cl->config_topic, 0)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
    for (int i = 0; i < status_parts; i++)
        rd_kafka_topic_partition_list_add(parts_list, cl->status_topic, i)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
    err = rd_kafka_assign(cl->consumer, parts_list);
    rd_kafka_topic_partition_list_destroy(parts_list);
    if (err != 0) {
        snprintf(errstr, errstr_size, "cluster: cannot read %s: %s", cl->config_topic,
                 rd_kafka_err2str(err));
        return -1;
    }
    rd_kafka_poll_set_consumer(cl->consumer);

    /* Read to the end before serving: this node must know every task first. */
    uint64_t give_up = daemon_now_ms() + CLUSTER_CATCH_UP_MS;
    cl->applied = low;
    cl->catching_up = true;
    while (cl->applied < high) {
        if (daemon_now_ms() > give_up) {
            snprintf(errstr, errstr_size,
                     "cluster: read %s to offset %lld of %lld in %d s; is Kafka reachable?",
                     cl->config_topic, (long long)cl->applied, (long long)high,
                     CLUSTER_CATCH_UP_MS / 1000);
            return -1;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(cl->consumer, 100);
        if (m == NULL)
            continue;
        if (m->err == 0 && strcmp(rd_kafka_topic_name(m->rkt), cl->config_topic) == 0) {
            if (m->offset >= cl->applied) {
                cluster_apply(cl, m);
                cl->applied = m->offset + 1;
            }
        } else if (m->err == 0) {
            cluster_on_status(cl, m);
        }
        rd_kafka_message_destroy(m);
    }
    cl->catching_up = false;
    /* then the tasks the topic wants running start, up to sml.task.max, in no particular
     * order (as at a single node's start) */
    unsigned started = 0;
    for (size_t i = 0; i < d->task_count; i++) {
        task_t *task = d->tasks[i];
        if (!task->desired_running)
            continue;
        if (started == cfg->task_max) {
            task->status = TASK_FAILED;
            task->failed = true;
            snprintf(task->last_error, sizeof(task->last_error),
                     "not started: sml.task.max (%u) tasks already run on this node",
                     cfg->task_max);
            log_warn(task->tag, "%s", task->last_error);
            continue;
        }
        sup_start(d, task);
        started++;
    }
    log_info(NULL, "cluster %s: node %s read %s to its end (%lld records): %zu tasks, %u started",
             cfg->cluster_id, cfg->cluster_node_id, cl->config_topic, (long long)(high - low),
             d->task_count, started);
    if (cluster_watch_queue(cl, 0, rd_kafka_queue_get_consumer(cl->consumer)) != 0 ||
        cluster_watch_queue(cl, 1, rd_kafka_queue_get_main(cl->producer)) != 0) {
        snprintf(errstr, errstr_size, "cluster: pipe: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* ---- writes ----------------------------------------------------------------------------- */

static int produce(struct cluster *cl, const char *key, json_t *value, pending_t *p, char *errstr,
                   size_t errstr_size)
{
    char *text = value ? json_dumps(value, JSON_COMPACT) : NULL;
    if (value != NULL && text == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    rd_kafka_resp_err_t err = rd_kafka_producev(
        cl->producer, RD_KAFKA_V_TOPIC(cl->config_topic), RD_KAFKA_V_PARTITION(0),
        RD_KAFKA_V_KEY(key, strlen(key)), RD_KAFKA_V_VALUE(text, text ? strlen(text) : 0),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE), RD_KAFKA_V_OPAQUE(p), RD_KAFKA_V_END);
    if (err != 0) {
        free(text);
        snprintf(errstr, errstr_size, "the change could not be written to %s: %s", cl->config_topic,
                 rd_kafka_err2str(err));
        return -1;
    }
    p->records++;
    return 0;
}

int cluster_submit(daemon_t *d, h2o_req_t *req, cluster_op_t op, const char *cid, const char *tid,
                   json_t *taskinfo, bool force, cluster_done_cb cb, char *errstr,
                   size_t errstr_size)
{
    struct cluster *cl = d->cluster;
    pending_t *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    p->cl = cl;
    p->cb = cb;
    p->offset = -1;
    p->status = API_OK;
    snprintf(p->message, sizeof(p->message), "done");
    char key[300];
    int rc = 0;
    task_t *task = tasks_find(d, cid, tid);
    if (op == CLUSTER_PUT) {
        char *plain = json_dumps(taskinfo, JSON_COMPACT);
        json_t *sealed = plain ? store_seal(cl->key, cid, tid, plain, strlen(plain)) : NULL;
        if (plain != NULL) {
            sodium_memzero(plain, strlen(plain));
            free(plain);
        }
        json_t *value = json_pack("{s:i, s:s, s:s, s:o, s:b}", "v", CLUSTER_RECORD_VERSION, "cid",
                                  cid, "tid", tid, "sealedTaskInfo", sealed, "force", force);
        record_key(key, sizeof(key), "task", cid, tid);
        rc = value ? produce(cl, key, value, p, errstr, errstr_size) : -1;
        json_decref(value);
    } else if (op == CLUSTER_DELETE) {
        record_key(key, sizeof(key), "state", cid, tid);
        rc = produce(cl, key, NULL, p, errstr, errstr_size);
        record_key(key, sizeof(key), "task", cid, tid);
        if (rc == 0)
            rc = produce(cl, key, NULL, p, errstr, errstr_size);
    } else {
        bool running = op != CLUSTER_STOP;
        unsigned restart = task ? task->cluster_restart : 0;
        if (op == CLUSTER_RESTART)
            restart++;
        static const char *const ops[] = {
            [CLUSTER_START] = "start", [CLUSTER_STOP] = "stop", [CLUSTER_RESTART] = "restart"};
        json_t *value =
            json_pack("{s:i, s:s, s:s, s:s, s:s, s:i}", "v", CLUSTER_RECORD_VERSION, "cid", cid,
                      "tid", tid, "desired", running ? "running" : "stopped", "op", ops[op],
                      "restart", (json_int_t)restart);
        record_key(key, sizeof(key), "state", cid, tid);
        rc = value ? produce(cl, key, value, p, errstr, errstr_size) : -1;
        json_decref(value);
    }
    if (rc != 0 && p->records == 0) {
        free(p);
        return -1;
    }
    if (rc != 0) { /* the first of two went out: answer when it is applied, with the error */
        p->failed = true;
        p->status = API_SERVICE_UNAVAILABLE;
        snprintf(p->message, sizeof(p->message), "%s", errstr);
    }
    p->req = req;
    p->req_link = h2o_mem_alloc_shared(&req->pool, sizeof(pending_t *), pending_on_req_dispose);
    *p->req_link = p;
    p->next = cl->pending;
    cl->pending = p;
    return 0;
}

/* ---- status ----------------------------------------------------------------------------- */

static void cluster_publish_status(struct cluster *cl, bool final)
{
    daemon_t *d = cl->d;
    json_t *tasks = json_object();
    for (size_t i = 0; i < d->task_count && !final; i++) {
        task_t *task = d->tasks[i];
        json_t *workers = json_array();
        for (unsigned k = 0; k < task->worker_count; k++) {
            task_worker_t *w = task->workers[k];
            json_t *st = w->stats;
            json_int_t parts = json_integer_value(json_object_get(st, "assignedPartitions"));
            json_int_t out = json_integer_value(json_object_get(st, "recordsOut"));
            json_array_append_new(
                workers, json_pack("{s:i, s:s, s:i, s:b, s:I, s:I}", "index", w->index, "status",
                                   task_status_name(w->status), "pid", (int)w->pid, "alive",
                                   w->pid != 0, "assignedPartitions", parts, "recordsOut", out));
        }
        char name[300];
        snprintf(name, sizeof(name), "%s/%s", task->cid, task->tid);
        json_object_set_new(
            tasks, name,
            json_pack("{s:s, s:o}", "status", task_status_name(task->status), "workers", workers));
    }
    json_t *value = json_pack("{s:i, s:s, s:o}", "v", CLUSTER_RECORD_VERSION, "node",
                              d->cfg->cluster_node_id, "tasks", tasks);
    char *text = json_dumps(value, JSON_COMPACT);
    json_decref(value);
    if (text == NULL)
        return;
    const char *node = d->cfg->cluster_node_id;
    rd_kafka_resp_err_t err =
        rd_kafka_producev(cl->producer, RD_KAFKA_V_TOPIC(cl->status_topic),
                          RD_KAFKA_V_KEY(node, strlen(node)), RD_KAFKA_V_VALUE(text, strlen(text)),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE), RD_KAFKA_V_END);
    if (err != 0) {
        free(text);
        log_warn(NULL, "cluster: cannot publish this node's status to %s: %s", cl->status_topic,
                 rd_kafka_err2str(err));
    }
}

void cluster_tick(daemon_t *d)
{
    struct cluster *cl = d->cluster;
    if (cl == NULL)
        return;
    rd_kafka_poll(cl->producer, 0);
    cluster_consume(cl);
    pending_check(cl);
    uint64_t now = daemon_now_ms();
    if (now >= cl->next_status_ms && !d->shutting_down) {
        cl->next_status_ms = now + CLUSTER_STATUS_MS;
        cluster_publish_status(cl, false);
    }
}

json_t *cluster_task_status(daemon_t *d, const task_t *task)
{
    struct cluster *cl = d->cluster;
    if (cl == NULL)
        return NULL;
    json_t *out = json_object();
    char name[300], key[128], value[32];
    snprintf(name, sizeof(name), "%s/%s", task->cid, task->tid);
    unsigned nodes = task->worker_count > 0, total = task->worker_count;
    uint64_t now = daemon_now_ms();
    for (size_t i = 0; i < cl->node_count; i++) {
        node_status_t *ns = &cl->nodes[i];
        json_t *workers = json_object_get(json_object_get(ns->tasks, name), "workers");
        if (now - ns->seen_ms > CLUSTER_STATUS_STALE_MS || json_array_size(workers) == 0)
            continue;
        nodes++;
        total += (unsigned)json_array_size(workers);
        snprintf(key, sizeof(key), "node.%s.workers", ns->id);
        snprintf(value, sizeof(value), "%zu", json_array_size(workers));
        json_object_set_new(out, key, json_string(value));
        size_t k;
        json_t *w;
        json_array_foreach (workers, k, w) {
            static const char *const fields[] = {"status", "pid", "alive", "assignedPartitions",
                                                 "recordsOut"};
            for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++) {
                json_t *v = json_object_get(w, fields[f]);
                if (json_is_string(v))
                    snprintf(value, sizeof(value), "%s", json_string_value(v));
                else if (json_is_boolean(v))
                    snprintf(value, sizeof(value), "%s", json_is_true(v) ? "true" : "false");
                else
                    snprintf(value, sizeof(value), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
                snprintf(key, sizeof(key), "node.%s.worker.%zu.%s", ns->id, k,
                         strcmp(fields[f], "alive") == 0 ? "processIsAlive" : fields[f]);
                json_object_set_new(out, key, json_string(value));
            }
        }
    }
    snprintf(value, sizeof(value), "%u", nodes);
    json_object_set_new(out, "nodes", json_string(value));
    snprintf(value, sizeof(value), "%u", total);
    json_object_set_new(out, "clusterWorkers", json_string(value));
    json_object_set_new(out, "node", json_string(d->cfg->cluster_node_id));
    return out;
}

void cluster_close(daemon_t *d)
{
    struct cluster *cl = d->cluster;
    if (cl == NULL)
        return;
    if (cl->producer != NULL) {
        cluster_publish_status(cl, true);
        rd_kafka_flush(cl->producer, 3000);
    }
    while (cl->pending != NULL) {
        cl->pending->failed = true;
        cl->pending->status = API_SERVICE_UNAVAILABLE;
        snprintf(cl->pending->message, sizeof(cl->pending->message), "symtaskd is stopping");
        pending_finish(cl, cl->pending);
    }
    for (int i = 0; i < 2; i++)
        if (cl->watch[i] != NULL)
            h2o_socket_close(cl->watch[i]);
    if (cl->consumer != NULL) {
        rd_kafka_consumer_close(cl->consumer);
        rd_kafka_destroy(cl->consumer);
    }
    if (cl->producer != NULL)
        rd_kafka_destroy(cl->producer);
    for (int i = 0; i < 2; i++)
        if (cl->pipes[i][1] > 0)
            close(cl->pipes[i][1]);
    for (size_t i = 0; i < cl->node_count; i++)
        json_decref(cl->nodes[i].tasks);
    free(cl->nodes);
    sodium_memzero(cl->key, sizeof(cl->key));
    free(cl);
    d->cluster = NULL;
}
