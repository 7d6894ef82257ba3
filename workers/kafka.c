/* kafka.c: the worker's Kafka clients, their configuration from a task, and a background
 * probe that tells whether the cluster answers. */
#include "kafka.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "optkeys.h"

/* A metadata request for no topic is the cheapest question every broker answers. It runs in
 * its own thread because, while the cluster is down, it blocks for the whole timeout; the
 * main loop must keep heartbeating and react to a stop within a tick. */
#define KAFKA_PROBE_TIMEOUT_MS 1000
#define KAFKA_PROBE_INTERVAL_MS 1000
/* After a failed round the question is only whether a broker is back; librdkafka reconnects
 * in the background whatever our timeout, and a connected broker answers in milliseconds.
 * Short, so that a stop while Kafka is down does not wait long for the probe. */
#define KAFKA_PROBE_RETRY_TIMEOUT_MS 200
/* Failed probes in a row before Kafka counts as down: one slow answer is not an outage. Lost
 * connections are known sooner, from librdkafka's ALL_BROKERS_DOWN event. */
#define KAFKA_PROBE_FAILURES_DOWN 2
/* Kafka refuses longer group.instance.id values (and topic names). */
#define KAFKA_MEMBER_ID_MAX 249
/* How long a stopping static member waits for its LeaveGroup to be sent. */
#define KAFKA_LEAVE_MS 3000

enum { KAFKA_CONSUMER = 0, KAFKA_PRODUCER = 1, KAFKA_SIDES = 2 };

/* One librdkafka client; its address is the client's opaque, so callbacks know the side. */
typedef struct kafka_client {
    kafka_clients_t *kc;
    const char *name;
    rd_kafka_t *rk;
    /* What the error callback last said since the cluster last answered: a better reason for
     * "down" than the probe's own "timed out". Main thread only (error_cb is served by
     * rd_kafka_poll()). */
    char reason[512];
    int has_reason;
} kafka_client_t;

struct kafka_clients {
    char task[300];
    char instance_id[KAFKA_MEMBER_ID_MAX + 1];      /* "" when static membership is off */
    char transactional_id[KAFKA_MEMBER_ID_MAX + 1]; /* "" unless exactly-once */
    char group_id[512];
    kafka_client_t side[KAFKA_SIDES];
    int fatal;
    char fatal_reason[512];

    pthread_t probe_thread;
    int probe_running;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int event_fd; /* the probe thread's "new result" signal to the main loop */
    /* guarded by lock */
    int probe_stop;
    unsigned probe_round; /* rounds started */
    unsigned done_round;  /* the round whose result is in probe_err */
    rd_kafka_resp_err_t probe_err[KAFKA_SIDES];
    /* main thread */
    unsigned seen_round;
    int probe_failures;
    /* A round that started before the brokers went down may still report success: only a
     * later one proves they are back. */
    unsigned down_round;
    kafka_client_t *down_side; /* the client that reported ALL_BROKERS_DOWN, not yet told */

    /* the pipeline's hooks (kafka_settings_t) */
    void (*on_delivery)(void *app, const rd_kafka_message_t *msg);
    void (*on_rebalance)(void *app, rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *partitions);
    void *app;
    rd_kafka_queue_t *consumer_queue; /* set once the consumer's callbacks are redirected */
};

static void kafka_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    kafka_client_t *c = opaque;
    c->kc->on_delivery(c->kc->app, msg);
}

static void kafka_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                               rd_kafka_topic_partition_list_t *partitions, void *opaque)
{
    kafka_client_t *c = opaque;
    c->kc->on_rebalance(c->kc->app, rk, err, partitions);
}

/* Consumer settings at-least-once delivery depends on, and a session timeout short enough
 * that a restarted worker gets its partitions back in seconds rather than after the 45 s
 * default; max.poll.interval.ms is also the rebalance timeout, the longest a broker waits
 * for a member that does not rejoin: the worker polls at least every tick, also while it
 * waits on Kafka, and blocks only for one batch or one rebalance (docs/delivery.md). Params
 * come after these and may override the timeouts. */
static const char *const kafka_consumer_defaults[][2] = {
    {"enable.auto.commit", "false"},   {"enable.auto.offset.store", "false"},
    {"auto.offset.reset", "earliest"}, {"session.timeout.ms", "6000"},
    {"heartbeat.interval.ms", "1000"}, {"enable.partition.eof", "false"},
    {"max.poll.interval.ms", "30000"},
};

/* librdkafka levels are syslog's: 0-3 errors, 4 warning, 5-6 notice/info, 7 debug. */
static log_level_t kafka_log_level(int level)
{
    if (level <= 3)
        return LOG_ERROR;
    if (level == 4)
        return LOG_WARN;
    if (level <= 6)
        return LOG_INFO;
    return LOG_DEBUG;
}

/* Runs on librdkafka's own threads; log_msg() writes each line with one stdio call. */
static void kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    const kafka_client_t *c = rd_kafka_opaque(rk);
    log_msg(kafka_log_level(level), c->kc->task, "librdkafka %s %s: %s", rd_kafka_name(rk), fac,
            buf);
}

static void kafka_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    kafka_client_t *c = opaque;
    kafka_clients_t *kc = c->kc;

    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char why[400];
        rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, why, sizeof(why));
        if (!kc->fatal) {
            kc->fatal = 1;
            snprintf(kc->fatal_reason, sizeof(kc->fatal_reason), "%s: %s: %s", c->name,
                     rd_kafka_err2name(orig), why);
        }
        log_error(kc->task, "Kafka %s fatal error: %s: %s", c->name, rd_kafka_err2name(orig), why);
        return;
    }
    log_debug(kc->task, "Kafka %s error %s: %s", c->name, rd_kafka_err2name(err), reason);
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
        pthread_mutex_lock(&kc->lock);
        kc->down_round = kc->probe_round;
        pthread_mutex_unlock(&kc->lock);
        kc->down_side = c;
        /* "1/1 brokers are down" says less than the connect failure that caused it */
        if (c->has_reason)
            return;
    }
    snprintf(c->reason, sizeof(c->reason), "%s", reason);
    c->has_reason = 1;
}

static int kafka_has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Sets one property; the error names the params @key, never the value (it may be a
 * password, and librdkafka's own message quotes it). */
static int kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *prop,
                          const char *value, char *errstr, size_t errstr_size)
{
    char rderr[512];
    rd_kafka_conf_res_t res = rd_kafka_conf_set(conf, prop, value, rderr, sizeof(rderr));
    if (res == RD_KAFKA_CONF_OK)
        return 0;
    snprintf(errstr, errstr_size, "params key \"%s\": %s", key,
             res == RD_KAFKA_CONF_UNKNOWN ? "not a librdkafka property"
                                          : "invalid value for this librdkafka property");
    return -1;
}

/* The value the params give to librdkafka property @prop on one side's client (the side's
 * own key, @side_prefix + @prop, first), or NULL. */
static const char *kafka_param(json_t *params, const char *side_prefix, const char *prop)
{
    char key[256];
    snprintf(key, sizeof(key), "%s%s", side_prefix, prop);
    const char *v = json_string_value(json_object_get(params, key));
    return v != NULL ? v : json_string_value(json_object_get(params, prop));
}

/* One side's configuration. Precedence, lowest first: our defaults (group.id, client.id,
 * group.instance.id, and for exactly-once isolation.level and transactional.id), params for
 * both sides, params for this side (kafka.consumer.X / kafka.producer.X), so the most
 * specific setting wins whatever the order of the params object. */

static rd_kafka_conf_t *kafka_conf_build(const kafka_settings_t *s, kafka_client_t *c,
                                         const char *group_id, const char *client_id, char *errstr,
                                         size_t errstr_size)
{
    static const char *const side_prefix[KAFKA_SIDES] = {"kafka.consumer.", "kafka.producer."};
    int side = c == &c->kc->side[KAFKA_CONSUMER] ? KAFKA_CONSUMER : KAFKA_PRODUCER;
    const char *own = side_prefix[side];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();

    if (side == KAFKA_CONSUMER &&
        kafka_conf_set(conf, "sml.kstream.app.id", "group.id", group_id, errstr, errstr_size))
        goto error;
    if (kafka_conf_set(conf, "sml.kstream.client.id", "client.id", client_id, errstr, errstr_size))
        goto error;
    if (side == KAFKA_CONSUMER) {
        for (size_t i = 0; i < sizeof(kafka_consumer_defaults) / sizeof(kafka_consumer_defaults[0]);
             i++)
            if (kafka_conf_set(conf, kafka_consumer_defaults[i][0], kafka_consumer_defaults[i][0],
                               kafka_consumer_defaults[i][1], errstr, errstr_size))
                goto error;
        /* static membership: a restarted worker takes its partitions back at once */
        if (c->kc->instance_id[0] != '\0' &&
            kafka_conf_set(conf, "group.instance.id", "group.instance.id", c->kc->instance_id,
                           errstr, errstr_size))
            goto error;
        if (s->exactly_once && kafka_conf_set(conf, "isolation.level", "isolation.level",
                                              "read_committed", errstr, errstr_size))
            goto error;
        if (c->kc->on_rebalance != NULL)
            rd_kafka_conf_set_rebalance_cb(conf, kafka_rebalance_cb);
    } else {
        if (s->exactly_once && kafka_conf_set(conf, "transactional.id", "transactional.id",
                                              c->kc->transactional_id, errstr, errstr_size))
            goto error;
        if (c->kc->on_delivery != NULL)
            rd_kafka_conf_set_dr_msg_cb(conf, kafka_dr_cb);
    }

    for (int pass = 0; pass < 2; pass++) {
        const char *key;
        json_t *value;
        json_object_foreach (s->params, key, value) {
            const char *prop = key;
            /* the worker's own ids, set above: a given one with this worker's "-{index}"
             * (kafka_given_id), an empty group.instance.id left out, as librdkafka would
             * send the empty id, which brokers refuse */
            const char *bare = key + (kafka_has_prefix(key, own) ? strlen(own) : 0);
            if ((side == KAFKA_CONSUMER && strcmp(bare, "group.instance.id") == 0) ||
                (side == KAFKA_PRODUCER && s->exactly_once &&
                 strcmp(bare, "transactional.id") == 0))
                continue;
            if (pass == 0) {
                if (kafka_has_prefix(key, "sml.") || kafka_has_prefix(key, side_prefix[0]) ||
                    kafka_has_prefix(key, side_prefix[1]) || optkeys_is_plugin_option(key))
                    continue;
            } else {
                if (!kafka_has_prefix(key, own))
                    continue;
                prop = key + strlen(own);
            }
            if (kafka_conf_set(conf, key, prop, json_string_value(value), errstr, errstr_size))
                goto error;
        }
    }

    /* what the consumer joins with, as librdkafka holds it: the id the worker logs */
    if (side == KAFKA_CONSUMER) {
        size_t id_size = sizeof(c->kc->instance_id);
        if (rd_kafka_conf_get(conf, "group.instance.id", c->kc->instance_id, &id_size) !=
            RD_KAFKA_CONF_OK)
            c->kc->instance_id[0] = '\0';
    }

    /* bootstrap.servers (or its alias metadata.broker.list) from the params, else the
     * daemon's default */
    size_t size = 0;
    rd_kafka_conf_get(conf, "bootstrap.servers", NULL, &size);
    if (size <= 1) {
        if (s->bootstrap_default == NULL || s->bootstrap_default[0] == '\0') {
            snprintf(errstr, errstr_size,
                     "no bootstrap.servers: set it in the task's params or "
                     "kafka.bootstrap.servers/kafka.embedded in symtaskd's config");
            goto error;
        }
        if (kafka_conf_set(conf, "bootstrap.servers", "bootstrap.servers", s->bootstrap_default,
                           errstr, errstr_size))
            goto error;
    }

    rd_kafka_conf_set_opaque(conf, c);
    rd_kafka_conf_set_log_cb(conf, kafka_log_cb);
    rd_kafka_conf_set_error_cb(conf, kafka_error_cb);
    return conf;

error:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

static int kafka_probe_stopping(kafka_clients_t *kc)
{
    pthread_mutex_lock(&kc->lock);
    int stop = kc->probe_stop;
    pthread_mutex_unlock(&kc->lock);
    return stop;
}

static void *kafka_probe_main(void *arg)
{
    kafka_clients_t *kc = arg;
    int failed = 0;

    for (;;) {
        pthread_mutex_lock(&kc->lock);
        int stop = kc->probe_stop;
        unsigned round = ++kc->probe_round;
        pthread_mutex_unlock(&kc->lock);
        if (stop)
            break;

        struct timespec next;
        clock_gettime(CLOCK_MONOTONIC, &next);
        next.tv_sec += KAFKA_PROBE_INTERVAL_MS / 1000;
        next.tv_nsec += (KAFKA_PROBE_INTERVAL_MS % 1000) * 1000000L;
        if (next.tv_nsec >= 1000000000L) {
            next.tv_sec++;
            next.tv_nsec -= 1000000000L;
        }

        rd_kafka_resp_err_t err[KAFKA_SIDES];
        int timeout = failed ? KAFKA_PROBE_RETRY_TIMEOUT_MS : KAFKA_PROBE_TIMEOUT_MS;
        failed = 0;
        for (int i = 0; i < KAFKA_SIDES; i++) {
            const struct rd_kafka_metadata *md = NULL;
            err[i] = rd_kafka_metadata(kc->side[i].rk, 0, NULL, &md, timeout);
            if (md != NULL)
                rd_kafka_metadata_destroy(md);
            failed |= err[i] != RD_KAFKA_RESP_ERR_NO_ERROR;
            if (kafka_probe_stopping(kc))
                return NULL;
        }

        pthread_mutex_lock(&kc->lock);
        memcpy(kc->probe_err, err, sizeof(err));
        kc->done_round = round;
        /* cannot fail short of a counter overflow; the main loop reads the round anyway */
        uint64_t one = 1;
        ssize_t n = write(kc->event_fd, &one, sizeof(one));
        (void)n;
        while (!kc->probe_stop && pthread_cond_timedwait(&kc->wake, &kc->lock, &next) != ETIMEDOUT)
            ;
        pthread_mutex_unlock(&kc->lock);
    }
    return NULL;
}

void kafka_member_id(const char *cid, const char *tid, const char *node, unsigned index, char *out,
                     size_t out_size)
{
    char full[600];
    int len = node != NULL
                  ? snprintf(full, sizeof(full), "symtask-%s-%s-%s-%u", cid, tid, node, index)
                  : snprintf(full, sizeof(full), "symtask-%s-%s-%u", cid, tid, index);
    if (len >= 0 && (size_t)len <= KAFKA_MEMBER_ID_MAX) {
        snprintf(out, out_size, "%s", full);
        return;
    }
    /* FNV-1a: stable across runs and builds, which is all an id needs */
    uint64_t hash = 14695981039346656037ull;
    for (const char *c = full; *c != '\0'; c++)
        hash = (hash ^ (unsigned char)*c) * 1099511628211ull;
    char suffix[40];
    int n = snprintf(suffix, sizeof(suffix), "-%016llx-%u", (unsigned long long)hash, index);
    snprintf(out, out_size, "%.*s%s", KAFKA_MEMBER_ID_MAX - n, full, suffix);
}

/* An id the task gives (group.instance.id, transactional.id) into @out (KAFKA_MEMBER_ID_MAX
 * + 1 bytes): as given with one worker; with several, "{id}-{index}", as two members with one
 * id fence each other; in cluster mode "{id}-{node}-{index}". An empty id (static membership
 * off) stays empty. */
static int kafka_given_id(const char *given, const kafka_settings_t *s, const char *prop, char *out,
                          char *errstr, size_t errstr_size)
{
    int len;
    if (given[0] != '\0' && s->node != NULL) /* cluster mode: one member per node too */
        len = snprintf(out, KAFKA_MEMBER_ID_MAX + 1, "%s-%s-%u", given, s->node, s->worker_index);
    else if (s->workers <= 1 || given[0] == '\0')
        len = snprintf(out, KAFKA_MEMBER_ID_MAX + 1, "%s", given);
    else
        len = snprintf(out, KAFKA_MEMBER_ID_MAX + 1, "%s-%u", given, s->worker_index);
    if (len >= 0 && len <= KAFKA_MEMBER_ID_MAX)
        return 0;
    snprintf(errstr, errstr_size,
             "params: %s is too long for worker %u of %u: with several workers each gets "
             "\"-{index}\" appended, and Kafka takes at most %d characters; shorten it",
             prop, s->worker_index, s->workers, KAFKA_MEMBER_ID_MAX);
    return -1;
}

const char *kafka_clients_group_id(const kafka_clients_t *kc)
{
    return kc->group_id;
}

const char *kafka_clients_instance_id(const kafka_clients_t *kc)
{
    return kc->instance_id;
}

const char *kafka_clients_transactional_id(const kafka_clients_t *kc)
{
    return kc->transactional_id;
}

kafka_clients_t *kafka_clients_new(const kafka_settings_t *s, char *errstr, size_t errstr_size)
{
    kafka_clients_t *kc = calloc(1, sizeof(*kc));
    if (kc == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        errno = ENOMEM;
        return NULL;
    }
    int saved_errno = EINVAL;
    snprintf(kc->task, sizeof(kc->task), "%s", s->task);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&kc->wake, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_init(&kc->lock, NULL);
    kc->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (kc->event_fd < 0) {
        snprintf(errstr, errstr_size, "eventfd: %s", strerror(errno));
        saved_errno = errno;
        goto error;
    }
    kc->on_delivery = s->on_delivery;
    kc->on_rebalance = s->on_rebalance;
    kc->app = s->app;
    kc->side[KAFKA_CONSUMER] = (kafka_client_t){.kc = kc, .name = "consumer"};
    kc->side[KAFKA_PRODUCER] = (kafka_client_t){.kc = kc, .name = "producer"};

    const char *instance_id = kafka_param(s->params, "kafka.consumer.", "group.instance.id");
    if (s->no_membership) {
        kc->instance_id[0] = '\0';
    } else if (instance_id != NULL) {
        if (kafka_given_id(instance_id, s, "group.instance.id", kc->instance_id, errstr,
                           errstr_size) != 0)
            goto error;
    } else {
        kafka_member_id(s->cid, s->tid, s->node, s->worker_index, kc->instance_id,
                        sizeof(kc->instance_id));
    }
    if (s->exactly_once) {
        const char *txn_id = kafka_param(s->params, "kafka.producer.", "transactional.id");
        if (txn_id != NULL && txn_id[0] != '\0') {
            if (kafka_given_id(txn_id, s, "transactional.id", kc->transactional_id, errstr,
                               errstr_size) != 0)
                goto error;
        } else {
            kafka_member_id(s->cid, s->tid, s->node, s->worker_index, kc->transactional_id,
                            sizeof(kc->transactional_id));
        }
    }

    char *group_id = kc->group_id, client_id[600];
    const char *app_id = json_string_value(json_object_get(s->params, "sml.kstream.app.id"));
    if (app_id != NULL && app_id[0] != '\0')
        snprintf(group_id, sizeof(kc->group_id), "%s", app_id);
    else
        snprintf(group_id, sizeof(kc->group_id), "symtask-%s-%s", s->cid, s->tid);
    const char *cl_id = json_string_value(json_object_get(s->params, "sml.kstream.client.id"));
    if (cl_id != NULL && cl_id[0] != '\0')
        snprintf(client_id, sizeof(client_id), "%s", cl_id);
    else
        snprintf(client_id, sizeof(client_id), "%s-%s", group_id, s->tid);

    static const rd_kafka_type_t types[KAFKA_SIDES] = {RD_KAFKA_CONSUMER, RD_KAFKA_PRODUCER};
    for (int i = 0; i < KAFKA_SIDES; i++) {
        kafka_client_t *c = &kc->side[i];
        rd_kafka_conf_t *conf = kafka_conf_build(s, c, group_id, client_id, errstr, errstr_size);
        if (conf == NULL)
            goto error;
        char rderr[512];
        c->rk = rd_kafka_new(types[i], conf, rderr, sizeof(rderr));
        if (c->rk == NULL) {
            rd_kafka_conf_destroy(conf);
            snprintf(errstr, errstr_size, "Kafka %s: %s", c->name, rderr);
            goto error;
        }
    }

    int err = pthread_create(&kc->probe_thread, NULL, kafka_probe_main, kc);
    if (err != 0) {
        snprintf(errstr, errstr_size, "cannot start the Kafka probe thread: %s", strerror(err));
        saved_errno = err;
        goto error;
    }
    kc->probe_running = 1;
    return kc;

error:
    kafka_clients_destroy(kc);
    errno = saved_errno;
    return NULL;
}

void kafka_clients_poll(kafka_clients_t *kc)
{
    /* The consumer's errors wait on its main queue until the pipeline redirects that queue
     * with rd_kafka_poll_set_consumer(); from then on rd_kafka_consumer_poll() serves them. */
    for (int i = 0; i < KAFKA_SIDES; i++)
        if (i != KAFKA_CONSUMER || kc->consumer_queue == NULL)
            rd_kafka_poll(kc->side[i].rk, 0);
}

int kafka_clients_event_fd(kafka_clients_t *kc)
{
    return kc->event_fd;
}

/* Why @c cannot reach the cluster: its error callback's words if it had any since the
 * cluster last answered, else the probe's error. */
static void kafka_reason(const kafka_client_t *c, rd_kafka_resp_err_t err, int name_side,
                         char *reason, size_t reason_size)
{
    const char *why = c->has_reason ? c->reason : rd_kafka_err2str(err);
    if (name_side)
        snprintf(reason, reason_size, "%s: %s", c->name, why);
    else
        snprintf(reason, reason_size, "%s", why);
}

int kafka_clients_check(kafka_clients_t *kc, char *reason, size_t reason_size)
{
    /* drain the wake-up; EAGAIN (none pending) is fine: the round decides */
    uint64_t count;
    ssize_t n = read(kc->event_fd, &count, sizeof(count));
    (void)n;

    if (kc->down_side != NULL) {
        kafka_reason(kc->down_side, RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, 0, reason, reason_size);
        kc->down_side = NULL;
        kc->probe_failures = KAFKA_PROBE_FAILURES_DOWN;
        return 0;
    }

    rd_kafka_resp_err_t err[KAFKA_SIDES];
    pthread_mutex_lock(&kc->lock);
    unsigned round = kc->done_round;
    unsigned down_round = kc->down_round;
    memcpy(err, kc->probe_err, sizeof(err));
    pthread_mutex_unlock(&kc->lock);
    if (round == kc->seen_round)
        return -1;
    kc->seen_round = round;

    for (int i = 0; i < KAFKA_SIDES; i++) {
        if (err[i] == RD_KAFKA_RESP_ERR_NO_ERROR)
            continue;
        if (++kc->probe_failures < KAFKA_PROBE_FAILURES_DOWN)
            return -1;
        /* both sides talk to the same cluster: name the side only when it alone fails */
        int alone = err[KAFKA_SIDES - 1 - i] == RD_KAFKA_RESP_ERR_NO_ERROR;
        kafka_reason(&kc->side[i], err[i], alone, reason, reason_size);
        return 0;
    }
    if (round <= down_round)
        return -1;
    kc->probe_failures = 0;
    for (int i = 0; i < KAFKA_SIDES; i++)
        kc->side[i].has_reason = 0;
    return 1;
}

int kafka_clients_fatal(kafka_clients_t *kc, char *reason, size_t reason_size)
{
    if (kc->fatal)
        snprintf(reason, reason_size, "%s", kc->fatal_reason);
    return kc->fatal;
}

rd_kafka_t *kafka_clients_consumer(kafka_clients_t *kc)
{
    return kc->side[KAFKA_CONSUMER].rk;
}

rd_kafka_queue_t *kafka_clients_consumer_queue(kafka_clients_t *kc)
{
    if (kc->consumer_queue == NULL) {
        rd_kafka_poll_set_consumer(kc->side[KAFKA_CONSUMER].rk);
        kc->consumer_queue = rd_kafka_queue_get_consumer(kc->side[KAFKA_CONSUMER].rk);
    }
    return kc->consumer_queue;
}

rd_kafka_t *kafka_clients_producer(kafka_clients_t *kc)
{
    return kc->side[KAFKA_PRODUCER].rk;
}

/* A static member does not leave the group when it closes (KIP-345): its partitions would
 * wait for it until its session expires. Unsubscribing does leave, once the partitions are
 * given back; librdkafka forgets the member id when it sends the LeaveGroup, which is what
 * the loop waits for. The rebalance hook serves the revocation (the pipeline committed
 * already); records consumed meanwhile are dropped: they were not committed. */
static void kafka_leave_group(kafka_clients_t *kc)
{
    rd_kafka_t *consumer = kc->side[KAFKA_CONSUMER].rk;
    rd_kafka_resp_err_t err = rd_kafka_unsubscribe(consumer);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        log_warn(kc->task, "cannot leave the consumer group: %s", rd_kafka_err2str(err));
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t deadline = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + KAFKA_LEAVE_MS;
    for (;;) {
        char *member = rd_kafka_memberid(consumer);
        int left = member == NULL || member[0] == '\0';
        rd_kafka_mem_free(consumer, member);
        if (left) {
            log_debug(kc->task, "left the consumer group (group.instance.id %s)", kc->instance_id);
            return;
        }
        clock_gettime(CLOCK_MONOTONIC, &ts);
        if ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 >= deadline)
            break;
        rd_kafka_message_t *msgs[16];
        ssize_t n = rd_kafka_consume_batch_queue(kc->consumer_queue, 50, msgs, 16);
        for (ssize_t i = 0; i < n; i++)
            rd_kafka_message_destroy(msgs[i]);
    }
    log_warn(kc->task,
             "the consumer group was not left within %d ms: its partitions wait for this "
             "member until session.timeout.ms",
             KAFKA_LEAVE_MS);
}

void kafka_clients_destroy(kafka_clients_t *kc)
{
    if (kc == NULL)
        return;

    /* Ask the probe to stop first: it finishes its request while we close and flush. */
    pthread_mutex_lock(&kc->lock);
    kc->probe_stop = 1;
    pthread_cond_broadcast(&kc->wake);
    pthread_mutex_unlock(&kc->lock);

    rd_kafka_t *consumer = kc->side[KAFKA_CONSUMER].rk;
    rd_kafka_t *producer = kc->side[KAFKA_PRODUCER].rk;
    if (consumer != NULL && kc->consumer_queue != NULL && kc->instance_id[0] != '\0')
        kafka_leave_group(kc);
    if (kc->consumer_queue != NULL)
        rd_kafka_queue_destroy(kc->consumer_queue);
    if (consumer != NULL) {
        rd_kafka_resp_err_t err = rd_kafka_consumer_close(consumer);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
            log_warn(kc->task, "closing the Kafka consumer: %s", rd_kafka_err2str(err));
    }
    if (producer != NULL) {
        rd_kafka_flush(producer, KAFKA_FLUSH_MS);
        int left = rd_kafka_outq_len(producer);
        if (left > 0)
            log_warn(kc->task, "%d Kafka messages or requests not delivered after %d ms", left,
                     KAFKA_FLUSH_MS);
    }
    /* rd_kafka_destroy() must not run while the probe uses the handle */
    if (kc->probe_running)
        pthread_join(kc->probe_thread, NULL);
    if (consumer != NULL)
        rd_kafka_destroy(consumer);
    if (producer != NULL)
        rd_kafka_destroy(producer);
    pthread_cond_destroy(&kc->wake);
    pthread_mutex_destroy(&kc->lock);
    if (kc->event_fd >= 0)
        close(kc->event_fd);
    free(kc);
}
