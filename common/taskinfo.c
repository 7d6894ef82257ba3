/* taskinfo.c: ids and TaskInfo validation, so that a task the API accepted can start. */
#include "taskinfo.h"
#include "crypto.h"
#include "optkeys.h"
#include "redact.h"
#include "size.h"

#include <ctype.h>
#include <librdkafka/rdkafka.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define TOPIC_MAX 249
#define PLUGIN_NAME_MAX 64
#define KAFKA_ID_MAX 255
#define HEAP_MIN_BYTES (16ull << 20)
#define SHOWN_MAX 64      /* longest value quoted back in a message */
#define SHOWN_KEY_MAX 128 /* longest key quoted back in a message */

#define KAFKA_CONSUMER_PREFIX "kafka.consumer."
#define KAFKA_PRODUCER_PREFIX "kafka.producer."

static void fail(char *errstr, size_t errstr_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(char *errstr, size_t errstr_size, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(errstr, errstr_size, fmt, ap);
    va_end(ap);
}

static const char *shown(char *out, const char *s, size_t max)
{
    return redact_shown(out, s, max);
}

static bool id_char(unsigned char c)
{
    return isascii(c) && (isalnum(c) || c == '.' || c == '_' || c == '-');
}

bool taskinfo_id_valid(const char *s, size_t len)
{
    size_t i;

    if (len == 0 || len > TASKINFO_ID_MAX)
        return false;
    if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
        return false;
    for (i = 0; i < len; i++)
        if (!id_char((unsigned char)s[i]))
            return false;
    return true;
}

static bool has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool has_suffix(const char *s, const char *suffix)
{
    size_t len = strlen(s), slen = strlen(suffix);

    return len >= slen && strcmp(s + len - slen, suffix) == 0;
}

bool taskinfo_key_is_secret(const char *key)
{
    return redact_key_is_secret(key);
}

/* ---- sml.* parameters ------------------------------------------------------------------- */

typedef int (*param_check_fn)(const char *key, const char *value, char *errstr, size_t errstr_size);

static bool topic_valid(const char *s)
{
    size_t len = strlen(s), i;

    if (len == 0 || len > TOPIC_MAX || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return false;
    for (i = 0; i < len; i++)
        if (!id_char((unsigned char)s[i]))
            return false;
    return true;
}

static int check_topic(const char *key, const char *value, char *errstr, size_t errstr_size)
{
    char buf[SHOWN_MAX + 4];

    if (topic_valid(value))
        return 0;
    fail(errstr, errstr_size,
         "params.%s: '%s' is not a valid Kafka topic name (1 to 249 of A-Z a-z 0-9 . _ -, "
         "not . or ..)",
         key, shown(buf, value, SHOWN_MAX));
    return -1;
}

/* Group and client ids go to the brokers as they are: any printable text, but not empty. */
static int check_kafka_id(const char *key, const char *value, char *errstr, size_t errstr_size)
{
    size_t len = strlen(value), i;

    if (len == 0 || len > KAFKA_ID_MAX)
        goto error;
    for (i = 0; i < len; i++)
        if ((unsigned char)value[i] < 0x20 || value[i] == 0x7f)
            goto error;
    return 0;

error:
    fail(errstr, errstr_size, "params.%s: must be 1 to %d characters without control characters",
         key, KAFKA_ID_MAX);
    return -1;
}

static int check_nonempty(const char *key, const char *value, char *errstr, size_t errstr_size)
{
    if (value[0] != '\0')
        return 0;
    fail(errstr, errstr_size, "params.%s: must not be empty", key);
    return -1;
}

/* Plugin names become file names under plugin.dir. */
static int check_plugin(const char *key, const char *value, char *errstr, size_t errstr_size)
{
    char buf[SHOWN_MAX + 4];
    size_t len = strlen(value), i;

    if (len == 0 || len > PLUGIN_NAME_MAX)
        goto error;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)value[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            goto error;
    }
    return 0;

error:
    fail(errstr, errstr_size, "params.%s: '%s' is not a valid plugin name (1 to 64 of a-z 0-9 _ -)",
         key, shown(buf, value, SHOWN_MAX));
    return -1;
}

/* Plain decimal digits only: no sign, no spaces, no hex, no overflow. */
static bool parse_uint(const char *s, uint64_t *out)
{
    uint64_t v = 0;

    if (*s == '\0')
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, *s - '0', &v))
            return false;
    }
    *out = v;
    return true;
}

static int check_range(const char *key, const char *value, uint64_t min, uint64_t max, char *errstr,
                       size_t errstr_size)
{
    char buf[SHOWN_MAX + 4];
    uint64_t v;

    if (parse_uint(value, &v) && v >= min && v <= max)
        return 0;
    fail(errstr, errstr_size, "params.%s: '%s' is not a whole number from %llu to %llu", key,
         shown(buf, value, SHOWN_MAX), (unsigned long long)min, (unsigned long long)max);
    return -1;
}

static int check_poll_max(const char *key, const char *value, char *errstr, size_t errstr_size)
{
    return check_range(key, value, 1, 1000000, errstr, errstr_size);
}

static int check_schedule_ms(const char *key, const char *value, char *errstr, size_t errstr_size)
{
    return check_range(key, value, 0, 3600000, errstr, errstr_size);
}

static int check_commit_interval(const char *key, const char *value, char *errstr,
                                 size_t errstr_size)
{
    return check_range(key, value, 0, 3600000, errstr, errstr_size);
}

/* Workers a record may take down before it is quarantined (docs/delivery.md). */
static int check_poison_max(const char *key, const char *value, char *errstr, size_t errstr_size)
{
    return check_range(key, value, 1, 100, errstr, errstr_size);
}

/* Above the worker's heartbeat period (1 s) with room for a busy machine. */
static int check_heartbeat_timeout(const char *key, const char *value, char *errstr,
                                   size_t errstr_size)
{
    return check_range(key, value, 3000, 3600000, errstr, errstr_size);
}

static int check_tolerance(const char *key, const char *value, char *errstr, size_t errstr_size)
{
    char buf[SHOWN_MAX + 4];

    if (strcmp(value, "none") == 0 || strcmp(value, "all") == 0)
        return 0;
    fail(errstr, errstr_size, "params.%s: '%s' is not none or all", key,
         shown(buf, value, SHOWN_MAX));
    return -1;
}

static int check_bool(const char *key, const char *value, char *errstr, size_t errstr_size)
{
    char buf[SHOWN_MAX + 4];

    if (strcmp(value, "true") == 0 || strcmp(value, "false") == 0)
        return 0;
    fail(errstr, errstr_size, "params.%s: '%s' is not true or false", key,
         shown(buf, value, SHOWN_MAX));
    return -1;
}

static int check_guarantee(const char *key, const char *value, char *errstr, size_t errstr_size)
{
    char buf[SHOWN_MAX + 4];

    if (strcmp(value, "at_least_once") == 0 || strcmp(value, "exactly_once") == 0)
        return 0;
    fail(errstr, errstr_size, "params.%s: '%s' is not at_least_once or exactly_once", key,
         shown(buf, value, SHOWN_MAX));
    return -1;
}

/* sml.task.workers: "auto" (the node's cores) or 1..TASKINFO_WORKERS_MAX. */
static int check_workers(const char *key, const char *value, char *errstr, size_t errstr_size)
{
    char buf[SHOWN_MAX + 4];
    uint64_t v;

    if (strcmp(value, "auto") == 0 ||
        (parse_uint(value, &v) && v >= 1 && v <= TASKINFO_WORKERS_MAX))
        return 0;
    fail(errstr, errstr_size,
         "params.%s: '%s' is not auto or a whole number from 1 to %u (worker processes of the "
         "task on each node)",
         key, shown(buf, value, SHOWN_MAX), TASKINFO_WORKERS_MAX);
    return -1;
}

unsigned taskinfo_workers(json_t *taskinfo, unsigned cores)
{
    const char *value = taskinfo_param(taskinfo, "sml.task.workers", "1");
    uint64_t v;
    if (strcmp(value, "auto") == 0)
        v = cores;
    else if (!parse_uint(value, &v))
        v = 1; /* not reached for a validated TaskInfo */
    if (v < 1)
        v = 1;
    return v > TASKINFO_WORKERS_MAX ? TASKINFO_WORKERS_MAX : (unsigned)v;
}

static bool parse_size(const char *s, uint64_t *out)
{
    return size_parse(s, out) == 0;
}

static int check_heap(const char *key, const char *value, char *errstr, size_t errstr_size)
{
    char buf[SHOWN_MAX + 4];
    uint64_t bytes;

    if (!parse_size(value, &bytes)) {
        fail(errstr, errstr_size, "params.%s: '%s' is not a size (use 512m or 2g)", key,
             shown(buf, value, SHOWN_MAX));
        return -1;
    }
    if (bytes < HEAP_MIN_BYTES) {
        fail(errstr, errstr_size, "params.%s: '%s' is less than the minimum of 16m", key,
             shown(buf, value, SHOWN_MAX));
        return -1;
    }
    return 0;
}

/* The keys of API.md's TaskInfo table. Other sml.* keys are typos, except the plugins' own
 * sml.predictor.* and sml.serializer.* settings, which the plugins check. */
static const struct known_param {
    const char *key;
    param_check_fn check;
} known_params[] = {
    {"sml.kstream.source.topic", check_topic},
    {"sml.kstream.sink.topic", check_topic},
    {"sml.kstream.dlq.topic", check_topic},
    {"sml.kstream.app.id", check_kafka_id},
    {"sml.kstream.client.id", check_kafka_id},
    {"sml.kstream.record.poll.max", check_poll_max},
    {"sml.kstream.schedule.ms", check_schedule_ms},
    {"sml.kstream.model.b64file", check_nonempty},
    {"sml.kstream.errors.tolerance", check_tolerance},
    {"sml.kstream.guarantee", check_guarantee},
    {"sml.kstream.commit.interval.ms", check_commit_interval},
    {"sml.kstream.poison.max", check_poison_max},
    {"sml.task.heartbeat.timeout.ms", check_heartbeat_timeout},
    /* The original's REST mode (the symetryml predictor reads the rest; its checks are its
     * own). */
    {"sml.kstream.rest", check_bool},
    {"sml.kstream.rest.host", check_nonempty},
    {"sml.kstream.rest.user", check_nonempty},
    {"sml.kstream.rest.secret", check_nonempty},
    {"sml.kstream.project.id", check_nonempty},
    {"sml.kstream.model.id", check_nonempty},
    {"sml.predictor", check_plugin},
    {"sml.serializer", check_plugin},
    {"sml.serializer.out", check_plugin},
    {"sml.task.heap.min", check_heap},
    {"sml.task.heap.max", check_heap},
    {"sml.task.workers", check_workers},
};

static const char *const required_params[] = {
    "sml.kstream.source.topic",
    "sml.kstream.sink.topic",
};

/* The predictor of the original's REST mode (sml.kstream.rest = true). */
#define REST_PREDICTOR "symetryml"

static int check_sml_param(const char *key, const char *value, char *errstr, size_t errstr_size)
{
    char buf[SHOWN_KEY_MAX + 4];
    size_t i;

    for (i = 0; i < sizeof(known_params) / sizeof(known_params[0]); i++)
        if (strcmp(key, known_params[i].key) == 0)
            return known_params[i].check(key, value, errstr, errstr_size);
    if ((has_prefix(key, "sml.predictor.") && key[strlen("sml.predictor.")] != '\0') ||
        (has_prefix(key, "sml.serializer.") && key[strlen("sml.serializer.")] != '\0'))
        return 0;
    fail(errstr, errstr_size,
         "params.%s: unknown sml.* key (check the spelling against the TaskInfo parameters)",
         shown(buf, key, SHOWN_KEY_MAX));
    return -1;
}

/* ---- Kafka properties ------------------------------------------------------------------- */

/* Properties that make librdkafka load a shared object or run a shell command. */
static const char *const forbidden_props[] = {
    "plugin.library.paths",
    "sasl.kerberos.kinit.cmd",
    "ssl.engine.location",
    "ssl.providers",
};

/* librdkafka pastes these into the default sasl.kerberos.kinit.cmd, a shell command line. */
static const char *const kinit_props[] = {
    "sasl.kerberos.keytab",
    "sasl.kerberos.principal",
};

/* Consumer properties at-least-once and exactly-once delivery depend on (workers/kafka.c sets
 * them false): offsets are stored and committed by the worker once records are delivered. */
static const char *const offset_props[] = {
    "enable.auto.commit",
    "enable.auto.offset.store",
};

static bool prop_forbidden(const char *prop)
{
    size_t i;

    for (i = 0; i < sizeof(forbidden_props) / sizeof(forbidden_props[0]); i++)
        if (strcmp(prop, forbidden_props[i]) == 0)
            return true;
    return has_suffix(prop, ".cb") || has_suffix(prop, "_cb");
}

static bool shell_safe(const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (!(isascii(c) && (isalnum(c) || strchr("._/@+=:-", c))))
            return false;
    }
    return true;
}

static int check_kafka_param(rd_kafka_conf_t *conf, const char *key, const char *value,
                             char *errstr, size_t errstr_size)
{
    char kerr[256], kbuf[sizeof(kerr) + 4], buf[SHOWN_KEY_MAX + 4];
    const char *prop = key;
    rd_kafka_conf_res_t res;
    size_t i;

    if (has_prefix(key, KAFKA_CONSUMER_PREFIX))
        prop = key + strlen(KAFKA_CONSUMER_PREFIX);
    else if (has_prefix(key, KAFKA_PRODUCER_PREFIX))
        prop = key + strlen(KAFKA_PRODUCER_PREFIX);
    if (prop[0] == '\0') {
        fail(errstr, errstr_size, "params.%s: names no librdkafka property", key);
        return -1;
    }
    /* Checked before rd_kafka_conf_set, which loads plugin.library.paths right away. */
    if (prop_forbidden(prop)) {
        fail(errstr, errstr_size,
             "params.%s: not allowed in a task (it would load code into symtask)",
             shown(buf, key, SHOWN_KEY_MAX));
        return -1;
    }
    for (i = 0; i < sizeof(kinit_props) / sizeof(kinit_props[0]); i++) {
        if (strcmp(prop, kinit_props[i]) == 0 && !shell_safe(value)) {
            fail(errstr, errstr_size,
                 "params.%s: may only contain A-Z a-z 0-9 . _ / @ + = : - (librdkafka puts "
                 "it into the kinit shell command)",
                 key);
            return -1;
        }
    }
    kerr[0] = '\0';
    res = rd_kafka_conf_set(conf, prop, value, kerr, sizeof(kerr));
    if (res == RD_KAFKA_CONF_OK) {
        if (has_prefix(key, KAFKA_PRODUCER_PREFIX))
            return 0;
        for (i = 0; i < sizeof(offset_props) / sizeof(offset_props[0]); i++) {
            char now[8];
            size_t now_size = sizeof(now);
            /* read back: librdkafka takes true or 1 and answers true */
            if (strcmp(prop, offset_props[i]) == 0 &&
                rd_kafka_conf_get(conf, prop, now, &now_size) == RD_KAFKA_CONF_OK &&
                strcmp(now, "true") == 0) {
                fail(errstr, errstr_size,
                     "params.%s: must be false (or left out): symtask commits offsets itself "
                     "once a batch's records are delivered, or in a transaction with "
                     "sml.kstream.guarantee = exactly_once; committing earlier would lose "
                     "records when a worker dies",
                     key);
                return -1;
            }
        }
        return 0;
    }
    /* librdkafka's text may quote the value; an unknown property's text quotes the name. */
    if (res != RD_KAFKA_CONF_UNKNOWN && taskinfo_key_is_secret(key))
        fail(errstr, errstr_size, "params.%s: invalid value (not shown: secret)",
             shown(buf, key, SHOWN_KEY_MAX));
    else
        fail(errstr, errstr_size, "params.%s: %s", shown(buf, key, SHOWN_KEY_MAX),
             shown(kbuf, kerr, sizeof(kerr)));
    return -1;
}

/* ---- TaskInfo --------------------------------------------------------------------------- */

static const char *param(json_t *params, const char *key)
{
    return json_string_value(json_object_get(params, key));
}

/* The key that sets librdkafka property @prop for one side (@side_prefix) of the task's
 * clients, the side's own key first; NULL when neither is set. */
static const char *side_key(json_t *params, const char *side_prefix, const char *prop)
{
    static char key[128];
    snprintf(key, sizeof(key), "%s%s", side_prefix, prop);
    if (json_object_get(params, key) != NULL)
        return key;
    return json_object_get(params, prop) != NULL ? prop : NULL;
}

/* What exactly_once needs of the Kafka properties, and what only it allows. */
static int check_guarantee_props(json_t *params, char *errstr, size_t errstr_size)
{
    const char *guarantee = param(params, "sml.kstream.guarantee");
    bool eos = guarantee != NULL && strcmp(guarantee, "exactly_once") == 0;
    const char *key = side_key(params, KAFKA_PRODUCER_PREFIX, "transactional.id");

    if (!eos) {
        if (key != NULL) {
            fail(errstr, errstr_size,
                 "params.%s: a transactional producer needs sml.kstream.guarantee = "
                 "exactly_once",
                 key);
            return -1;
        }
        return 0;
    }
    key = side_key(params, KAFKA_CONSUMER_PREFIX, "isolation.level");
    if (key != NULL && strcmp(param(params, key), "read_committed") != 0) {
        fail(errstr, errstr_size,
             "params.%s: exactly_once reads committed records only (read_committed); leave it "
             "unset",
             key);
        return -1;
    }
    key = side_key(params, KAFKA_PRODUCER_PREFIX, "enable.idempotence");
    if (key != NULL && strcmp(param(params, key), "true") != 0) {
        fail(errstr, errstr_size,
             "params.%s: exactly_once needs an idempotent producer; leave it unset", key);
        return -1;
    }
    key = side_key(params, KAFKA_PRODUCER_PREFIX, "transactional.id");
    if (key != NULL && param(params, key)[0] == '\0') {
        fail(errstr, errstr_size,
             "params.%s: must not be empty with exactly_once (leave it unset for symtask's "
             "symtask-{cid}-{tid}-0)",
             key);
        return -1;
    }
    return 0;
}

/* Checks that involve more than one key, on a params object whose keys each passed. */
static int check_cross(json_t *params, char *errstr, size_t errstr_size)
{
    const char *source = param(params, "sml.kstream.source.topic");
    const char *sink = param(params, "sml.kstream.sink.topic");
    const char *dlq = param(params, "sml.kstream.dlq.topic");
    const char *tolerance = param(params, "sml.kstream.errors.tolerance");
    const char *heap_min = param(params, "sml.task.heap.min");
    const char *heap_max = param(params, "sml.task.heap.max");
    uint64_t min_bytes, max_bytes;

    if (check_guarantee_props(params, errstr, errstr_size) < 0)
        return -1;
    const char *rest = param(params, "sml.kstream.rest");
    const char *predictor = param(params, "sml.predictor");
    if (rest != NULL && strcmp(rest, "true") == 0) {
        if (predictor != NULL && strcmp(predictor, REST_PREDICTOR) != 0) {
            fail(errstr, errstr_size,
                 "params.sml.kstream.rest: true predicts through a SymetryML server (predictor "
                 "%s), but sml.predictor is %s: leave one of them out",
                 REST_PREDICTOR, predictor);
            return -1;
        }
    } else if (predictor == NULL) {
        fail(errstr, errstr_size, "params: required key sml.predictor is missing");
        return -1;
    }
    if (strcmp(source, sink) == 0) {
        fail(errstr, errstr_size,
             "params.sml.kstream.sink.topic: must differ from sml.kstream.source.topic (the "
             "task would read its own output)");
        return -1;
    }
    if (tolerance == NULL || strcmp(tolerance, "all") == 0) {
        /* The default dead-letter topic is {sink}.dlq: it must be a topic name too. */
        if (dlq == NULL && strlen(sink) + strlen(".dlq") > TOPIC_MAX) {
            fail(errstr, errstr_size,
                 "params.sml.kstream.sink.topic: too long to name the default dead-letter "
                 "topic {sink}.dlq; set sml.kstream.dlq.topic");
            return -1;
        }
        if ((dlq != NULL && strcmp(dlq, source) == 0) ||
            (dlq == NULL && strncmp(source, sink, strlen(sink)) == 0 &&
             strcmp(source + strlen(sink), ".dlq") == 0)) {
            fail(errstr, errstr_size,
                 "params.sml.kstream.dlq.topic: the dead-letter topic must differ from "
                 "sml.kstream.source.topic (bad records would be read again)");
            return -1;
        }
    }
    /* Only when both are given: a lone max below the default min (1024m) is meant to lower
     * the reservation too, not to be refused. */
    if (heap_min != NULL && heap_max != NULL && parse_size(heap_min, &min_bytes) &&
        parse_size(heap_max, &max_bytes) && min_bytes > max_bytes) {
        char a[SHOWN_MAX + 4], b[SHOWN_MAX + 4];
        fail(errstr, errstr_size,
             "params.sml.task.heap.min: '%s' is more than sml.task.heap.max '%s'",
             shown(a, heap_min, SHOWN_MAX), shown(b, heap_max, SHOWN_MAX));
        return -1;
    }
    return 0;
}

static int check_params(json_t *params, char *errstr, size_t errstr_size)
{
    char buf[SHOWN_KEY_MAX + 4];
    rd_kafka_conf_t *conf = NULL;
    const char *key;
    json_t *value;
    void *iter;
    size_t i;

    if (!json_is_object(params)) {
        fail(errstr, errstr_size, "params: %s",
             params == NULL ? "is missing (an object of string values)"
                            : "must be an object of string values");
        goto error;
    }
    for (iter = json_object_iter(params); iter; iter = json_object_iter_next(params, iter)) {
        key = json_object_iter_key(iter);
        value = json_object_iter_value(iter);
        if (!json_is_string(value)) {
            fail(errstr, errstr_size, "params.%s: must be a string",
                 shown(buf, key, SHOWN_KEY_MAX));
            goto error;
        }
        if (strlen(json_string_value(value)) != json_string_length(value)) {
            fail(errstr, errstr_size, "params.%s: must not contain NUL characters",
                 shown(buf, key, SHOWN_KEY_MAX));
            goto error;
        }
    }
    for (i = 0; i < sizeof(required_params) / sizeof(required_params[0]); i++) {
        if (json_object_get(params, required_params[i]) == NULL) {
            fail(errstr, errstr_size, "params: required key %s is missing", required_params[i]);
            goto error;
        }
    }
    for (iter = json_object_iter(params); iter; iter = json_object_iter_next(params, iter)) {
        const char *s = json_string_value(json_object_iter_value(iter));

        key = json_object_iter_key(iter);
        if (has_prefix(key, "sml.")) {
            if (check_sml_param(key, s, errstr, errstr_size) < 0)
                goto error;
            continue;
        }
        /* schema.registry.* and the like: the plugins' options, which they check */
        if (optkeys_is_plugin_option(key))
            continue;
        if (conf == NULL && (conf = rd_kafka_conf_new()) == NULL) {
            fail(errstr, errstr_size, "out of memory");
            goto error;
        }
        if (check_kafka_param(conf, key, s, errstr, errstr_size) < 0)
            goto error;
    }
    if (check_cross(params, errstr, errstr_size) < 0)
        goto error;
    if (conf != NULL)
        rd_kafka_conf_destroy(conf);
    return 0;

error:
    if (conf != NULL)
        rd_kafka_conf_destroy(conf);
    return -1;
}

json_t *taskinfo_validate(json_t *doc, char *errstr, size_t errstr_size)
{
    char buf[SHOWN_MAX + 4];
    json_t *type, *name, *params, *out = NULL;

    if (!json_is_object(doc)) {
        fail(errstr, errstr_size, "TaskInfo: must be a JSON object");
        goto error;
    }
    type = json_object_get(doc, "type");
    if (type == NULL) {
        fail(errstr, errstr_size, "type: is missing (must be \"kstream\")");
        goto error;
    }
    if (!json_is_string(type)) {
        fail(errstr, errstr_size, "type: must be a string (\"kstream\")");
        goto error;
    }
    if (strcmp(json_string_value(type), "kstream") != 0 ||
        json_string_length(type) != strlen("kstream")) {
        fail(errstr, errstr_size, "type: '%s' is not supported (must be kstream)",
             shown(buf, json_string_value(type), SHOWN_MAX));
        goto error;
    }
    name = json_object_get(doc, "name");
    if (name == NULL) {
        fail(errstr, errstr_size, "name: is missing (the task id)");
        goto error;
    }
    if (!json_is_string(name)) {
        fail(errstr, errstr_size, "name: must be a string (the task id)");
        goto error;
    }
    if (!taskinfo_id_valid(json_string_value(name), json_string_length(name))) {
        fail(errstr, errstr_size,
             "name: '%s' is not a valid task id (1 to 128 of A-Z a-z 0-9 . _ -)",
             shown(buf, json_string_value(name), SHOWN_MAX));
        goto error;
    }
    params = json_object_get(doc, "params");
    if (check_params(params, errstr, errstr_size) < 0)
        goto error;

    out = json_object();
    if (out == NULL || json_object_set_new(out, "type", json_string("kstream")) < 0 ||
        json_object_set_new(out, "name", json_string(json_string_value(name))) < 0 ||
        json_object_set_new(out, "params", json_deep_copy(params)) < 0) {
        fail(errstr, errstr_size, "out of memory");
        goto error;
    }
    /* The original's REST mode names its predictor here, once: the worker and the status
     * read sml.predictor only. */
    json_t *out_params = json_object_get(out, "params");
    if (json_object_get(out_params, "sml.predictor") == NULL &&
        json_object_set_new(out_params, "sml.predictor", json_string(REST_PREDICTOR)) < 0) {
        fail(errstr, errstr_size, "out of memory");
        goto error;
    }
    return out;

error:
    json_decref(out);
    return NULL;
}

/* A TaskInfo's JSON text, read the same way whatever form it came in. */
static json_t *load(const char *text, size_t len, json_error_t *jerr)
{
    return json_loadb(text, len, JSON_REJECT_DUPLICATES, jerr);
}

json_t *taskinfo_parse(const char *text, size_t len, char *errstr, size_t errstr_size)
{
    json_error_t jerr;
    json_t *doc, *out;
    char *near;

    doc = load(text, len, &jerr);
    if (doc == NULL) {
        /* jansson quotes the token it stopped at, which may be a secret value; a duplicate
         * key's token is only the key. */
        near = strstr(jerr.text, " near '");
        if (near != NULL && json_error_code(&jerr) != json_error_duplicate_key)
            *near = '\0';
        fail(errstr, errstr_size, "TaskInfo is not valid JSON: %s at line %d column %d", jerr.text,
             jerr.line, jerr.column);
        return NULL;
    }
    out = taskinfo_validate(doc, errstr, errstr_size);
    json_decref(doc);
    return out;
}

json_t *taskinfo_decrypt(const uint8_t key[16], const char *cid, const char *body, size_t len)
{
    size_t text_len = 0;
    char *text = crypto_is_sealed(body, len) ? crypto_sealed_decrypt(key, cid, body, len, &text_len)
                                             : crypto_legacy_decrypt(key, body, len, &text_len);
    json_t *doc = NULL;

    if (text == NULL)
        return NULL;
    /* Whether the text parses is as much an oracle as whether the padding is valid (for the
     * legacy form, about 1 in 256 random bodies decrypts): jansson's message (the byte it
     * stopped at, its column, a duplicate key) is not kept. */
    doc = load(text, text_len, NULL);
    /* The plaintext may hold credentials. */
    sodium_memzero(text, text_len);
    free(text);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

const char *taskinfo_param(json_t *taskinfo, const char *key, const char *def)
{
    const char *value =
        json_string_value(json_object_get(json_object_get(taskinfo, "params"), key));

    return value != NULL ? value : def;
}

uint64_t taskinfo_param_uint(json_t *taskinfo, const char *key, uint64_t def)
{
    const char *value = taskinfo_param(taskinfo, key, NULL);
    uint64_t v;

    return value != NULL && parse_uint(value, &v) ? v : def;
}

/* Replaces @len bytes at @at in @text (@size bytes) by @with; cuts what no longer fits. */
static void scrub_replace(char *text, size_t size, char *at, size_t len, const char *with)
{
    size_t with_len = strlen(with), tail = strlen(at + len), start = (size_t)(at - text);
    size_t room = size - 1 - start; /* bytes available from @at, NUL excluded */
    if (with_len > room)
        with_len = room;
    if (tail > room - with_len)
        tail = room - with_len;
    memmove(at + with_len, at + len, tail);
    memcpy(at, with, with_len);
    at[with_len + tail] = '\0';
}

void taskinfo_scrub(json_t *taskinfo, char *text, size_t size)
{
    json_t *params = json_object_get(taskinfo, "params");
    const char *key;
    json_t *value;
    if (text == NULL || size == 0)
        return;
    json_object_foreach (params, key, value) {
        const char *v = json_string_value(value);
        size_t key_len = strlen(key), v_len = v != NULL ? strlen(v) : 0;
        bool model = key_len >= 6 && strcmp(key + key_len - 6, ".model") == 0;
        if (v_len < 4 || !(model || taskinfo_key_is_secret(key)))
            continue;
        char with[80];
        snprintf(with, sizeof(with), "<%.64s>", key);
        size_t with_len = strlen(with);
        for (char *at = text; (at = strstr(at, v)) != NULL;) {
            scrub_replace(text, size, at, v_len, with);
            size_t left = strlen(at); /* the placeholder may have been cut at the end */
            at += with_len < left ? with_len : left;
        }
    }
}
