/* test_taskinfo.c: unit tests of common/taskinfo.c (ids, TaskInfo validation, secret keys). */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto.h"
#include "taskinfo.h"

static char errstr[1024];

/* The smallest valid TaskInfo, as a document the tests change one key at a time. */
static json_t *minimal(void)
{
    json_t *doc = json_pack("{s:s, s:s, s:{s:s, s:s, s:s}}", "type", "kstream", "name", "t1",
                            "params", "sml.kstream.source.topic", "in", "sml.kstream.sink.topic",
                            "out", "sml.predictor", "linear");
    cr_assert_not_null(doc);
    return doc;
}

static json_t *params_of(json_t *doc)
{
    return json_object_get(doc, "params");
}

static json_t *with_param(const char *key, const char *value)
{
    json_t *doc = minimal();

    json_object_set_new(params_of(doc), key, json_string(value));
    return doc;
}

/* Both entry points must agree: validate on the document and parse on its text. */
static void expect_invalid(json_t *doc, const char *needle)
{
    char *text = json_dumps(doc, 0);
    json_t *out;

    out = taskinfo_validate(doc, errstr, sizeof(errstr));
    cr_expect_null(out, "accepted %s", text);
    cr_expect(strstr(errstr, needle) != NULL, "validate of %s: '%s' lacks '%s'", text, errstr,
              needle);
    json_decref(out);
    out = taskinfo_parse(text, strlen(text), errstr, sizeof(errstr));
    cr_expect_null(out, "parse accepted %s", text);
    cr_expect(strstr(errstr, needle) != NULL, "parse of %s: '%s' lacks '%s'", text, errstr, needle);
    json_decref(out);
    free(text);
    json_decref(doc);
}

static void expect_valid(json_t *doc)
{
    json_t *out = taskinfo_validate(doc, errstr, sizeof(errstr));

    cr_expect_not_null(out, "refused: %s", errstr);
    json_decref(out);
    json_decref(doc);
}

static void expect_param_invalid(const char *key, const char *value, const char *needle)
{
    expect_invalid(with_param(key, value), needle);
}

static void expect_parse_error(const char *text, const char *needle)
{
    json_t *out = taskinfo_parse(text, strlen(text), errstr, sizeof(errstr));

    cr_expect_null(out, "accepted %s", text);
    cr_expect(strstr(errstr, needle) != NULL, "'%s': '%s' lacks '%s'", text, errstr, needle);
    json_decref(out);
}

static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);

    cr_assert_not_null(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

Test(taskinfo, id_valid)
{
    char *s128 = repeat('a', 128), *s129 = repeat('a', 129);

    cr_expect(taskinfo_id_valid("t1", 2));
    cr_expect(taskinfo_id_valid("A-Z_a.z-09", 10));
    cr_expect(taskinfo_id_valid("...", 3));
    cr_expect(taskinfo_id_valid(".hidden", 7));
    cr_expect(taskinfo_id_valid(s128, 128));
    cr_expect_not(taskinfo_id_valid(s129, 129));
    cr_expect_not(taskinfo_id_valid("", 0));
    cr_expect_not(taskinfo_id_valid(".", 1));
    cr_expect_not(taskinfo_id_valid("..", 2));
    cr_expect_not(taskinfo_id_valid("a/b", 3));
    cr_expect_not(taskinfo_id_valid("../x", 4));
    cr_expect_not(taskinfo_id_valid("t 1", 3));
    cr_expect_not(taskinfo_id_valid("t\n", 2));
    cr_expect_not(taskinfo_id_valid("t\0x", 3));
    cr_expect_not(taskinfo_id_valid("t\xc3\xa2", 3));
    cr_expect(taskinfo_id_valid("ab/", 2)); /* only @len bytes count */
    free(s128);
    free(s129);
}

Test(taskinfo, key_is_secret)
{
    const char *secret[] = {"sasl.password",
                            "sasl.username",
                            "sasl.mechanisms",
                            "ssl.key.password",
                            "ssl.ca.location",
                            "SSL.CA.LOCATION",
                            "Sasl.Username",
                            "kafka.consumer.sasl.username",
                            "kafka.producer.ssl.ca.location",
                            "KAFKA.CONSUMER.SSL.CA.LOCATION",
                            "sml.predictor.apiKey",
                            "sml.predictor.PASSWORD",
                            "MySecretThing",
                            "keystore",
                            "sml.serializer.key.column",
                            "sml.predictor.token",
                            "sml.predictor.AccessToken",
                            "sml.kstream.rest.secret",
                            "schema.registry.basic.auth.user.info",
                            "basic.auth.user.info"};
    const char *plain[] = {"bootstrap.servers",
                           "security.protocol",
                           "sml.kstream.source.topic",
                           "sml.predictor",
                           "kafka.consumer.group.id",
                           "kafka.consumer.xsasl.foo",
                           "xssl.foo",
                           "kafka.other.sasl.x",
                           "sml.kstream.rest.user",
                           "sml.kstream.rest.host",
                           ""};
    size_t i;

    for (i = 0; i < sizeof(secret) / sizeof(secret[0]); i++)
        cr_expect(taskinfo_key_is_secret(secret[i]), "%s", secret[i]);
    for (i = 0; i < sizeof(plain) / sizeof(plain[0]); i++)
        cr_expect_not(taskinfo_key_is_secret(plain[i]), "%s", plain[i]);
}

Test(taskinfo, minimal_valid_and_normalised)
{
    const char *text = "{\"type\":\"kstream\",\"name\":\"t1\",\"extra\":[1,2],\"params\":{"
                       "\"sml.kstream.source.topic\":\"in\",\"sml.kstream.sink.topic\":\"out\","
                       "\"sml.predictor\":\"linear\"}}";
    json_t *out = taskinfo_parse(text, strlen(text), errstr, sizeof(errstr));

    cr_assert_not_null(out, "%s", errstr);
    cr_expect_eq(json_object_size(out), 3);
    cr_expect_str_eq(json_string_value(json_object_get(out, "type")), "kstream");
    cr_expect_str_eq(json_string_value(json_object_get(out, "name")), "t1");
    cr_expect_null(json_object_get(out, "extra"));
    cr_expect_eq(json_object_size(json_object_get(out, "params")), 3);
    cr_expect_str_eq(taskinfo_param(out, "sml.predictor", NULL), "linear");
    cr_expect_str_eq(taskinfo_param(out, "sml.serializer", "json"), "json");
    cr_expect_null(taskinfo_param(out, "sml.serializer", NULL));
    cr_expect_eq(out->refcount, 1);
    json_decref(out);
}

Test(taskinfo, validate_returns_a_copy)
{
    json_t *doc = minimal(), *before, *out;

    json_object_set_new(doc, "extra", json_true());
    before = json_deep_copy(doc);
    out = taskinfo_validate(doc, errstr, sizeof(errstr));
    cr_assert_not_null(out, "%s", errstr);
    cr_expect_neq(out, doc);
    cr_expect_eq(doc->refcount, 1);
    cr_expect(json_equal(doc, before), "input changed");
    /* A deep copy: changing the result leaves the input alone. */
    json_object_set_new(json_object_get(out, "params"), "sml.predictor", json_string("other"));
    cr_expect_str_eq(json_string_value(json_object_get(params_of(doc), "sml.predictor")), "linear");
    json_decref(out);
    json_decref(before);
    json_decref(doc);
}

Test(taskinfo, full_valid)
{
    const char *text =
        "{\"type\":\"kstream\",\"name\":\"fraud-scoring.v2\",\"params\":{"
        "\"sml.kstream.source.topic\":\"payments\",\"sml.kstream.sink.topic\":\"scores\","
        "\"sml.kstream.app.id\":\"my app\",\"sml.kstream.client.id\":\"client-1\","
        "\"sml.kstream.record.poll.max\":\"1000000\",\"sml.kstream.schedule.ms\":\"0\","
        "\"sml.kstream.model.b64file\":\"/models/m\xc3\xa9.json\","
        "\"sml.predictor\":\"linear\",\"sml.predictor.model\":\"/m.json\","
        "\"sml.predictor.missing\":\"zero\",\"sml.serializer\":\"csv\","
        "\"sml.serializer.out\":\"json\",\"sml.serializer.columns\":\"a,b\","
        "\"sml.kstream.errors.tolerance\":\"none\",\"sml.kstream.dlq.topic\":\"bad\","
        "\"sml.kstream.guarantee\":\"at_least_once\",\"sml.task.heap.min\":\"16m\","
        "\"sml.task.heap.max\":\"2G\",\"bootstrap.servers\":\"k1:9092,k2:9092\","
        "\"security.protocol\":\"sasl_ssl\",\"sasl.mechanisms\":\"PLAIN\","
        "\"sasl.username\":\"u\",\"sasl.password\":\"p\",\"group.id\":\"g\","
        "\"client.id\":\"c\",\"sasl.kerberos.principal\":\"kafka/host@EXAMPLE.COM\","
        "\"kafka.consumer.auto.offset.reset\":\"earliest\",\"kafka.producer.acks\":\"all\","
        "\"kafka.producer.linger.ms\":\"5\"}}";
    json_t *out = taskinfo_parse(text, strlen(text), errstr, sizeof(errstr));
    json_t *doc = json_loads(text, 0, NULL);

    cr_assert_not_null(out, "%s", errstr);
    cr_expect(json_equal(out, doc));
    json_decref(doc);
    json_decref(out);
}

Test(taskinfo, valid_values)
{
    char *t249 = repeat('x', 249), *p64 = repeat('p', 64);

    expect_valid(with_param("sml.kstream.record.poll.max", "1"));
    expect_valid(with_param("sml.kstream.schedule.ms", "3600000"));
    expect_valid(with_param("sml.task.heap.min", "16777216"));
    expect_valid(with_param("sml.task.heap.max", "1024M"));
    expect_valid(with_param("sml.task.heap.max", "16384K"));
    expect_valid(with_param("sml.task.heap.max", "8g"));
    expect_valid(with_param("sml.kstream.source.topic", t249));
    expect_valid(with_param("sml.kstream.source.topic", "a.b_c-D9"));
    expect_valid(with_param("sml.predictor", p64));
    expect_valid(with_param("sml.predictor", "xg-boost_2"));
    expect_valid(with_param("sml.kstream.errors.tolerance", "all"));
    expect_valid(with_param("sml.kstream.poison.max", "1"));
    expect_valid(with_param("sml.kstream.poison.max", "100"));
    expect_valid(with_param("sml.task.heartbeat.timeout.ms", "3000"));
    expect_valid(with_param("sml.task.heartbeat.timeout.ms", "3600000"));
    /* A lone max below the default min is allowed: the default min does not apply to it. */
    expect_valid(with_param("sml.task.heap.max", "512m"));
    /* errors.tolerance none: no dead-letter topic, so its default name does not matter. */
    {
        json_t *doc = with_param("sml.kstream.errors.tolerance", "none");
        json_object_set_new(params_of(doc), "sml.kstream.sink.topic", json_string(t249));
        expect_valid(doc);
    }
    free(t249);
    free(p64);
}

Test(taskinfo, poison_max_and_heartbeat_timeout_ranges)
{
    expect_param_invalid("sml.kstream.poison.max", "0",
                         "params.sml.kstream.poison.max: '0' is not a whole number from 1 to 100");
    expect_param_invalid("sml.kstream.poison.max", "101", "from 1 to 100");
    expect_param_invalid("sml.kstream.poison.max", "two", "from 1 to 100");
    expect_param_invalid("sml.task.heartbeat.timeout.ms", "2999",
                         "params.sml.task.heartbeat.timeout.ms: '2999' is not a whole number "
                         "from 3000 to 3600000");
    expect_param_invalid("sml.task.heartbeat.timeout.ms", "-5000", "from 3000 to 3600000");

    json_t *doc = with_param("sml.kstream.poison.max", "7");
    cr_expect_eq(taskinfo_param_uint(doc, "sml.kstream.poison.max", 2), 7);
    cr_expect_eq(taskinfo_param_uint(doc, "sml.task.heartbeat.timeout.ms", 30000), 30000);
    json_decref(doc);
}

Test(taskinfo, not_json)
{
    expect_parse_error("", "TaskInfo is not valid JSON: ");
    expect_parse_error("{", "at line 1 column 1");
    expect_parse_error("{\"type\":\"kstream\",}", "TaskInfo is not valid JSON: ");
    expect_parse_error("{} trailing", "TaskInfo is not valid JSON: end of file expected");
    expect_parse_error("\"kstream\"", "TaskInfo is not valid JSON: ");
    expect_parse_error("{\"a\":\"\xff\"}", "TaskInfo is not valid JSON: ");
    expect_parse_error("{\"a\":\"x\\u0000y\"}", "TaskInfo is not valid JSON: ");
    expect_parse_error("{\n\"type\":\n kstream}", "at line 3 column");
}

Test(taskinfo, json_error_never_quotes_values)
{
    expect_parse_error("{\"params\":{\"sasl.password\":\"SEKRET-MARKER",
                       "TaskInfo is not valid JSON: premature end of input at line 1");
    cr_expect_null(strstr(errstr, "MARKER"), "%s", errstr);
    expect_parse_error("{\"params\":{\"sasl.password\": SEKRET-MARKER}}",
                       "TaskInfo is not valid JSON: invalid token at line 1");
    cr_expect_null(strstr(errstr, "MARKER"), "%s", errstr);
}

Test(taskinfo, duplicate_keys)
{
    expect_parse_error("{\"type\":\"kstream\",\"type\":\"kstream\",\"name\":\"t1\"}",
                       "duplicate object key near '\"type\"'");
    expect_parse_error("{\"type\":\"kstream\",\"name\":\"t1\",\"params\":{"
                       "\"sml.predictor\":\"a\",\"sml.predictor\":\"b\"}}",
                       "duplicate object key");
}

Test(taskinfo, document_shape)
{
    json_t *doc;

    expect_parse_error("[]", "TaskInfo: must be a JSON object");
    cr_expect_null(taskinfo_validate(NULL, errstr, sizeof(errstr)));
    cr_expect_str_eq(errstr, "TaskInfo: must be a JSON object");

    doc = minimal();
    json_object_del(doc, "type");
    expect_invalid(doc, "type: is missing");
    doc = minimal();
    json_object_set_new(doc, "type", json_integer(5));
    expect_invalid(doc, "type: must be a string");
    doc = minimal();
    json_object_set_new(doc, "type", json_null());
    expect_invalid(doc, "type: must be a string");
    doc = minimal();
    json_object_set_new(doc, "type", json_string("kstreams"));
    expect_invalid(doc, "type: 'kstreams' is not supported (must be kstream)");
    doc = minimal();
    json_object_set_new(doc, "type", json_stringn("kstream\0x", 9));
    cr_expect_null(taskinfo_validate(doc, errstr, sizeof(errstr)));
    json_decref(doc);

    doc = minimal();
    json_object_del(doc, "name");
    expect_invalid(doc, "name: is missing");
    doc = minimal();
    json_object_set_new(doc, "name", json_array());
    expect_invalid(doc, "name: must be a string");
    doc = minimal();
    json_object_set_new(doc, "name", json_string("t 1"));
    expect_invalid(doc, "name: 't 1' is not a valid task id (1 to 128 of A-Z a-z 0-9 . _ -)");
    doc = minimal();
    json_object_set_new(doc, "name", json_string(""));
    expect_invalid(doc, "name: '' is not a valid task id");
    doc = minimal();
    json_object_set_new(doc, "name", json_string(".."));
    expect_invalid(doc, "name: '..' is not a valid task id");
    doc = minimal();
    json_object_set_new(doc, "name", json_string("../../etc/passwd"));
    expect_invalid(doc, "is not a valid task id");
    doc = minimal();
    json_object_set_new(doc, "name", json_string("t\xc3\xa2\x63he"));
    expect_invalid(doc, "name: 't\xc3\xa2\x63he' is not a valid task id");
    doc = minimal();
    json_object_set_new(doc, "name", json_string("t\n1"));
    expect_invalid(doc, "name: 't?1' is not a valid task id");

    doc = minimal();
    json_object_del(doc, "params");
    expect_invalid(doc, "params: is missing");
    doc = minimal();
    json_object_set_new(doc, "params", json_array());
    expect_invalid(doc, "params: must be an object of string values");
    doc = minimal();
    json_object_set_new(doc, "params", json_string("x"));
    expect_invalid(doc, "params: must be an object");
    doc = minimal();
    json_object_set_new(doc, "params", json_null());
    expect_invalid(doc, "params: must be an object");
}

Test(taskinfo, param_values_must_be_strings)
{
    json_t *values[] = {json_integer(5), json_real(1.5), json_true(),  json_false(),
                        json_null(),     json_array(),   json_object()};
    size_t i;

    for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        json_t *doc = minimal();
        json_object_set(params_of(doc), "sml.kstream.record.poll.max", values[i]);
        expect_invalid(doc, "params.sml.kstream.record.poll.max: must be a string");
        doc = minimal();
        json_object_set(params_of(doc), "bootstrap.servers", values[i]);
        expect_invalid(doc, "params.bootstrap.servers: must be a string");
        json_decref(values[i]);
    }
    {
        json_t *doc = minimal();
        json_object_set_new(params_of(doc), "sml.predictor.model", json_stringn("a\0b", 3));
        /* Only a built document can hold NUL: the parser refuses \u0000 itself. */
        cr_expect_null(taskinfo_validate(doc, errstr, sizeof(errstr)));
        cr_expect_str_eq(errstr, "params.sml.predictor.model: must not contain NUL characters");
        json_decref(doc);
    }
}

Test(taskinfo, required_keys)
{
    const char *keys[] = {"sml.kstream.source.topic", "sml.kstream.sink.topic", "sml.predictor"};
    char needle[128];
    size_t i;

    for (i = 0; i < 3; i++) {
        json_t *doc = minimal();
        json_object_del(params_of(doc), keys[i]);
        snprintf(needle, sizeof(needle), "params: required key %s is missing", keys[i]);
        expect_invalid(doc, needle);
    }
    {
        json_t *doc = minimal();
        json_object_clear(params_of(doc));
        expect_invalid(doc, "params: required key sml.kstream.source.topic is missing");
    }
}

Test(taskinfo, topics)
{
    const char *keys[] = {"sml.kstream.source.topic", "sml.kstream.sink.topic",
                          "sml.kstream.dlq.topic"};
    char *t250 = repeat('x', 250), needle[128];
    size_t i;

    for (i = 0; i < 3; i++) {
        snprintf(needle, sizeof(needle), "params.%s: 'a b' is not a valid Kafka topic name",
                 keys[i]);
        expect_param_invalid(keys[i], "a b", needle);
        snprintf(needle, sizeof(needle), "params.%s: '' is not a valid Kafka topic name", keys[i]);
        expect_param_invalid(keys[i], "", needle);
        expect_param_invalid(keys[i], ".", "is not a valid Kafka topic name");
        expect_param_invalid(keys[i], "..", "is not a valid Kafka topic name");
        expect_param_invalid(keys[i], t250, "is not a valid Kafka topic name");
        expect_param_invalid(keys[i], "t\xc3\xb6pic", "is not a valid Kafka topic name");
        expect_param_invalid(keys[i], "a/b", "is not a valid Kafka topic name");
    }
    free(t250);
}

Test(taskinfo, source_sink_and_dlq_differ)
{
    char *t246 = repeat('s', 246);
    json_t *doc;

    expect_param_invalid("sml.kstream.sink.topic", "in",
                         "params.sml.kstream.sink.topic: must differ from "
                         "sml.kstream.source.topic");
    expect_param_invalid("sml.kstream.dlq.topic", "in",
                         "params.sml.kstream.dlq.topic: the dead-letter topic must differ from "
                         "sml.kstream.source.topic");
    /* The default dead-letter topic {sink}.dlq would be the source. */
    doc = with_param("sml.kstream.source.topic", "out.dlq");
    expect_invalid(doc, "params.sml.kstream.dlq.topic: the dead-letter topic must differ");
    /* The default dead-letter topic name would be too long. */
    expect_param_invalid("sml.kstream.sink.topic", t246,
                         "params.sml.kstream.sink.topic: too long to name the default "
                         "dead-letter topic");
    doc = with_param("sml.kstream.sink.topic", t246);
    json_object_set_new(params_of(doc), "sml.kstream.dlq.topic", json_string("dead"));
    expect_valid(doc);
    free(t246);
}

Test(taskinfo, numbers)
{
    const char *bad_poll[] = {"0",
                              "1000001",
                              "abc",
                              "-1",
                              "+5",
                              " 5",
                              "5 ",
                              "1e3",
                              "0x10",
                              "",
                              "99999999999999999999999999"};
    const char *bad_sched[] = {"3600001", "", "-0", "1.5", "ms"};
    size_t i;

    for (i = 0; i < sizeof(bad_poll) / sizeof(bad_poll[0]); i++)
        expect_param_invalid("sml.kstream.record.poll.max", bad_poll[i],
                             "params.sml.kstream.record.poll.max: '");
    expect_param_invalid("sml.kstream.record.poll.max", "0",
                         "params.sml.kstream.record.poll.max: '0' is not a whole number from 1 "
                         "to 1000000");
    for (i = 0; i < sizeof(bad_sched) / sizeof(bad_sched[0]); i++)
        expect_param_invalid("sml.kstream.schedule.ms", bad_sched[i],
                             "is not a whole number from 0 to 3600000");
}

Test(taskinfo, heap_sizes)
{
    const char *not_sizes[] = {"12q",         "",    "k",   "1.5g", "2gb",
                               "-1g",         " 1g", "1 g", "g1",   "99999999999999999999g",
                               "17179869184g"};
    size_t i;

    expect_param_invalid("sml.task.heap.max", "12q",
                         "params.sml.task.heap.max: '12q' is not a size (use 512m or 2g)");
    for (i = 0; i < sizeof(not_sizes) / sizeof(not_sizes[0]); i++) {
        expect_param_invalid("sml.task.heap.min", not_sizes[i], "params.sml.task.heap.min: '");
        cr_expect(strstr(errstr, "is not a size") != NULL, "%s: %s", not_sizes[i], errstr);
    }
    expect_param_invalid("sml.task.heap.min", "1m",
                         "params.sml.task.heap.min: '1m' is less than the minimum of 16m");
    expect_param_invalid("sml.task.heap.max", "16383k", "is less than the minimum of 16m");
    expect_param_invalid("sml.task.heap.max", "0", "is less than the minimum of 16m");
    {
        json_t *doc = with_param("sml.task.heap.min", "4g");
        json_object_set_new(params_of(doc), "sml.task.heap.max", json_string("2048m"));
        expect_invalid(doc, "params.sml.task.heap.min: '4g' is more than sml.task.heap.max "
                            "'2048m'");
    }
    {
        json_t *doc = with_param("sml.task.heap.min", "2g");
        json_object_set_new(params_of(doc), "sml.task.heap.max", json_string("2048m"));
        expect_valid(doc);
    }
}

/* taskinfo_workers() of a validated TaskInfo with sml.task.workers = @value (NULL: unset). */
static unsigned workers_of(const char *value, unsigned cores)
{
    json_t *doc = value != NULL ? with_param("sml.task.workers", value) : minimal();
    json_t *out = taskinfo_validate(doc, errstr, sizeof(errstr));
    cr_assert_not_null(out, "%s", errstr);
    unsigned n = taskinfo_workers(out, cores);
    json_decref(out);
    json_decref(doc);
    return n;
}

Test(taskinfo, worker_counts)
{
    const char *bad[] = {
        "0", "65", "", "two", "-1", " 2", "2 ", "AUTO", "1.5", "0x2", "99999999999999999999"};
    size_t i;

    expect_valid(with_param("sml.task.workers", "1"));
    expect_valid(with_param("sml.task.workers", "64"));
    expect_valid(with_param("sml.task.workers", "auto"));
    expect_param_invalid("sml.task.workers", "0",
                         "params.sml.task.workers: '0' is not auto or a whole number from 1 to "
                         "64 (worker processes of the task on each node)");
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_param_invalid("sml.task.workers", bad[i], "params.sml.task.workers: '");

    /* what the supervisor spawns: unset 1, auto the cores, within 1..64 */
    cr_expect_eq(workers_of("3", 8), 3);
    cr_expect_eq(workers_of("auto", 2), 2);
    cr_expect_eq(workers_of("auto", 0), 1);
    cr_expect_eq(workers_of("auto", 512), 64);
    cr_expect_eq(workers_of(NULL, 8), 1);
}

Test(taskinfo, enums)
{
    expect_param_invalid("sml.kstream.errors.tolerance", "some",
                         "params.sml.kstream.errors.tolerance: 'some' is not none or all");
    expect_param_invalid("sml.kstream.errors.tolerance", "ALL", "is not none or all");
    expect_valid(with_param("sml.kstream.guarantee", "exactly_once"));
    expect_valid(with_param("sml.kstream.guarantee", "at_least_once"));
    expect_param_invalid("sml.kstream.guarantee", "at_most_once",
                         "params.sml.kstream.guarantee: 'at_most_once' is not at_least_once or "
                         "exactly_once");
    expect_param_invalid("sml.kstream.guarantee", "EXACTLY_ONCE", "is not at_least_once or");
}

Test(taskinfo, commit_interval)
{
    expect_valid(with_param("sml.kstream.commit.interval.ms", "0"));
    expect_valid(with_param("sml.kstream.commit.interval.ms", "3600000"));
    expect_param_invalid("sml.kstream.commit.interval.ms", "3600001",
                         "params.sml.kstream.commit.interval.ms: '3600001' is not a whole number "
                         "from 0 to 3600000");
    expect_param_invalid("sml.kstream.commit.interval.ms", "-1", "is not a whole number");
    expect_param_invalid("sml.kstream.commit.interval.ms", "100ms", "is not a whole number");
}

static json_t *eos_with(const char *key, const char *value)
{
    json_t *doc = with_param("sml.kstream.guarantee", "exactly_once");

    json_object_set_new(params_of(doc), key, json_string(value));
    return doc;
}

/* exactly_once needs transactions, read_committed and idempotence; only it may set a
 * transactional.id. */
Test(taskinfo, exactly_once_kafka_properties)
{
    expect_valid(eos_with("isolation.level", "read_committed"));
    expect_valid(eos_with("kafka.producer.transactional.id", "my-task-host-a"));
    expect_valid(eos_with("enable.idempotence", "true"));
    expect_invalid(eos_with("kafka.consumer.isolation.level", "read_uncommitted"),
                   "params.kafka.consumer.isolation.level: exactly_once reads committed records "
                   "only (read_committed); leave it unset");
    expect_invalid(eos_with("isolation.level", "read_uncommitted"),
                   "params.isolation.level: exactly_once reads committed");
    expect_invalid(eos_with("kafka.producer.enable.idempotence", "false"),
                   "params.kafka.producer.enable.idempotence: exactly_once needs an idempotent "
                   "producer");
    expect_invalid(eos_with("transactional.id", ""),
                   "params.transactional.id: must not be empty with exactly_once");
    expect_param_invalid("kafka.producer.transactional.id", "x",
                         "params.kafka.producer.transactional.id: a transactional producer needs "
                         "sml.kstream.guarantee = exactly_once");
    expect_param_invalid("transactional.id", "x", "params.transactional.id: a transactional");
    /* the side's own key decides */
    json_t *doc = eos_with("isolation.level", "read_uncommitted");
    json_object_set_new(params_of(doc), "kafka.consumer.isolation.level",
                        json_string("read_committed"));
    expect_valid(doc);
}

Test(taskinfo, plugin_names)
{
    const char *keys[] = {"sml.predictor", "sml.serializer", "sml.serializer.out"};
    const char *bad[] = {"Linear", "../x", "a/b", "a.b", "", "li near", "x\xc3\xa9"};
    char *p65 = repeat('p', 65), needle[128];
    size_t i, j;

    for (i = 0; i < 3; i++) {
        for (j = 0; j < sizeof(bad) / sizeof(bad[0]); j++) {
            snprintf(needle, sizeof(needle),
                     "params.%s: '%s' is not a valid plugin name (1 to "
                     "64 of a-z 0-9 _ -)",
                     keys[i], bad[j]);
            expect_param_invalid(keys[i], bad[j], needle);
        }
        expect_param_invalid(keys[i], p65, "is not a valid plugin name");
    }
    free(p65);
}

Test(taskinfo, other_sml_keys)
{
    expect_param_invalid("sml.kstream.sourc.topic", "in",
                         "params.sml.kstream.sourc.topic: unknown sml.* key");
    expect_param_invalid("sml.task.max", "4", "params.sml.task.max: unknown sml.* key");
    expect_param_invalid("sml.predictor.", "x", "params.sml.predictor.: unknown sml.* key");
    expect_param_invalid("sml.predictorx", "x", "params.sml.predictorx: unknown sml.* key");
    expect_param_invalid("sml.pr\xc3\xa9\x64ictor.x", "x", "unknown sml.* key");
    expect_param_invalid("sml.kstream.app.id", "", "params.sml.kstream.app.id: must be 1 to 255");
    expect_param_invalid("sml.kstream.client.id", "a\tb", "params.sml.kstream.client.id:");
    expect_param_invalid("sml.kstream.model.b64file", "",
                         "params.sml.kstream.model.b64file: must not be empty");
    expect_valid(with_param("sml.predictor.anything.at.all", ""));
    expect_valid(with_param("sml.serializer.columns", "a,b,c"));
    expect_valid(with_param("sml.serializer.out.extra", "1"));
}

Test(taskinfo, kafka_properties)
{
    expect_valid(with_param("bootstrap.servers", "localhost:9092"));
    expect_valid(with_param("kafka.consumer.fetch.min.bytes", "1"));
    expect_valid(with_param("group.id", "mine"));
    expect_param_invalid("bogus.property", "1",
                         "params.bogus.property: No such configuration property: "
                         "\"bogus.property\"");
    expect_param_invalid("kafka.consumer.bogus", "1",
                         "params.kafka.consumer.bogus: No such configuration property");
    expect_param_invalid("kafka.bootstrap.servers", "x", "params.kafka.bootstrap.servers: No such");
    expect_param_invalid("SML.predictor", "x", "params.SML.predictor: No such");
    expect_param_invalid("acks", "bogus", "params.acks: Invalid value");
    expect_param_invalid("kafka.producer.acks", "bogus", "params.kafka.producer.acks: Invalid");
    expect_param_invalid("kafka.consumer.auto.offset.reset", "sideways",
                         "params.kafka.consumer.auto.offset.reset: ");
    expect_param_invalid("message.max.bytes", "-1", "params.message.max.bytes: ");
    expect_param_invalid("kafka.producer.", "x",
                         "params.kafka.producer.: names no librdkafka property");
    expect_param_invalid("kafka.consumer.", "x", "names no librdkafka property");
    expect_param_invalid("", "x", "params.: names no librdkafka property");
    expect_param_invalid("dr_msg_cb", "x", "params.dr_msg_cb: not allowed in a task");
    expect_param_invalid("opaque", "x", "params.opaque: ");
    expect_param_invalid("interceptors", "x", "params.interceptors: ");
    /* the schema registry's settings are plugins' options (common/optkeys.c), which the worker
     * checks against the plugins' tables; "schema.registry." alone names nothing */
    expect_valid(with_param("schema.registry.url", "http://registry:8081"));
    expect_valid(with_param("schema.registry.anything", "x"));
    expect_param_invalid("schema.registry.", "x", "params.schema.registry.: No such");
    expect_param_invalid("kafka.consumer.schema.registry.url", "x",
                         "params.kafka.consumer.schema.registry.url: No such");
}

Test(taskinfo, properties_that_load_code)
{
    const char *keys[] = {"plugin.library.paths",
                          "kafka.consumer.plugin.library.paths",
                          "kafka.producer.plugin.library.paths",
                          "sasl.kerberos.kinit.cmd",
                          "kafka.consumer.sasl.kerberos.kinit.cmd",
                          "ssl.engine.location",
                          "ssl.providers",
                          "error_cb",
                          "ssl.certificate.verify_cb",
                          "whatever.cb"};
    char needle[256];
    size_t i;

    for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        snprintf(needle, sizeof(needle),
                 "params.%s: not allowed in a task (it would load code into symtask)", keys[i]);
        expect_param_invalid(keys[i], "/tmp/evil.so", needle);
    }
    /* librdkafka pastes these into its default kinit shell command. */
    expect_param_invalid("sasl.kerberos.principal", "x; touch /tmp/pwned",
                         "params.sasl.kerberos.principal: may only contain");
    cr_expect_null(strstr(errstr, "pwned"));
    expect_param_invalid("kafka.consumer.sasl.kerberos.keytab", "/k/$(id).keytab",
                         "params.kafka.consumer.sasl.kerberos.keytab: may only contain");
    expect_valid(with_param("sasl.kerberos.keytab", "/etc/krb5/kafka_client.keytab"));
}

Test(taskinfo, offsets_are_committed_by_symtask_only)
{
    const char *keys[] = {"enable.auto.commit", "kafka.consumer.enable.auto.commit",
                          "enable.auto.offset.store", "kafka.consumer.enable.auto.offset.store"};
    const char *trues[] = {"true", "1"};
    char needle[256];
    size_t i, j;

    for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        snprintf(needle, sizeof(needle), "params.%s: must be false (or left out): symtask commits",
                 keys[i]);
        for (j = 0; j < sizeof(trues) / sizeof(trues[0]); j++)
            expect_param_invalid(keys[i], trues[j], needle);
        expect_valid(with_param(keys[i], "false"));
    }
    /* the producer has no offsets to commit */
    expect_valid(with_param("kafka.producer.enable.auto.commit", "true"));
}

Test(taskinfo, secret_values_never_shown)
{
    /* librdkafka quotes an invalid enum value in its message; for ssl.* it must not show. */
    expect_param_invalid("ssl.endpoint.identification.algorithm", "SEKRET-MARKER",
                         "params.ssl.endpoint.identification.algorithm: invalid value (not "
                         "shown: secret)");
    cr_expect_null(strstr(errstr, "MARKER"), "%s", errstr);
    expect_param_invalid("kafka.consumer.ssl.endpoint.identification.algorithm", "SEKRET-MARKER",
                         "invalid value (not shown: secret)");
    cr_expect_null(strstr(errstr, "MARKER"), "%s", errstr);
    expect_param_invalid("sasl.kerberos.min.time.before.relogin", "SEKRET-MARKER",
                         "params.sasl.kerberos.min.time.before.relogin: invalid value (not "
                         "shown: secret)");
    cr_expect_null(strstr(errstr, "MARKER"), "%s", errstr);
    /* Without a secret-looking key librdkafka's text goes through as it is. */
    expect_param_invalid("security.protocol", "plain-MARKER", "plain-MARKER");
    /* Unknown secret-looking keys: the message names the key only. */
    expect_param_invalid("ssl.bogus.password", "SEKRET-MARKER",
                         "params.ssl.bogus.password: No such configuration property");
    cr_expect_null(strstr(errstr, "MARKER"), "%s", errstr);
    /* Good secret values pass. */
    expect_valid(with_param("sasl.password", "SEKRET-MARKER"));
    expect_valid(with_param("ssl.key.password", "SEKRET-MARKER"));
}

Test(taskinfo, huge_inputs)
{
    char *big = repeat('a', 1 << 20), *bigkey = repeat('k', 100000);
    json_t *doc, *out;
    char key[64];
    int i;

    /* A megabyte value the plugin checks later is fine. */
    expect_valid(with_param("sml.predictor.model", big));
    /* A megabyte name or topic: refused, and the message stays short. */
    doc = minimal();
    json_object_set_new(doc, "name", json_string(big));
    expect_invalid(doc, "name: 'aaaa");
    cr_expect(strlen(errstr) < 300, "%zu", strlen(errstr));
    cr_expect(strstr(errstr, "...' is not a valid task id") != NULL, "%s", errstr);
    expect_param_invalid("sml.kstream.source.topic", big, "...' is not a valid Kafka topic");
    cr_expect(strlen(errstr) < 300);
    expect_param_invalid("bootstrap.servers.x", "v", "params.bootstrap.servers.x: No such");
    expect_param_invalid(bigkey, "v", "params.kkkk");
    cr_expect(strlen(errstr) < 600, "%zu", strlen(errstr));
    /* Ten thousand plugin settings. */
    doc = minimal();
    for (i = 0; i < 10000; i++) {
        snprintf(key, sizeof(key), "sml.predictor.k%d", i);
        json_object_set_new(params_of(doc), key, json_string("v"));
    }
    out = taskinfo_validate(doc, errstr, sizeof(errstr));
    cr_expect_not_null(out, "%s", errstr);
    cr_expect_eq(json_object_size(json_object_get(out, "params")), 10003);
    json_decref(out);
    json_decref(doc);
    free(big);
    free(bigkey);
}

Test(taskinfo, unicode)
{
    const char *text = "{\"type\":\"kstream\",\"name\":\"t1\",\"params\":{"
                       "\"sml.kstream.source.topic\":\"in\",\"sml.kstream.sink.topic\":\"out\","
                       "\"sml.predictor\":\"linear\",\"sml.predictor.label\":"
                       "\"\\u00e9t\\u00e9 \\ud83d\\ude00 \xe6\x97\xa5\\u672c\"}}";
    json_t *out = taskinfo_parse(text, strlen(text), errstr, sizeof(errstr));

    cr_assert_not_null(out, "%s", errstr);
    cr_expect_str_eq(taskinfo_param(out, "sml.predictor.label", NULL),
                     "\xc3\xa9t\xc3\xa9 \xf0\x9f\x98\x80 \xe6\x97\xa5\xe6\x9c\xac");
    json_decref(out);
    /* A long multi-byte name is cut on a character boundary in the message. */
    {
        char name[400] = "";
        json_t *doc = minimal();
        int i;
        for (i = 0; i < 100; i++)
            strcat(name, "\xc3\xa9");
        json_object_set_new(doc, "name", json_string(name));
        expect_invalid(doc, "...' is not a valid task id");
        json_t *msg = json_string(errstr);
        cr_expect_not_null(msg, "message is not UTF-8: %s", errstr);
        json_decref(msg);
    }
}

Test(taskinfo, small_error_buffer)
{
    char small[8];
    json_t *doc = with_param("sml.kstream.guarantee", "exactly_twice");

    memset(small, 'x', sizeof(small));
    cr_expect_null(taskinfo_validate(doc, small, sizeof(small)));
    cr_expect_str_eq(small, "params.");
    json_decref(doc);
}

/* API.md: model paths and secret values never reach logs or status; worker text is scrubbed. */
Test(taskinfo, scrub_hides_model_paths_and_secrets)
{
    json_t *ti = json_pack("{s:{s:s, s:s, s:s, s:s, s:s}}", "params", "sml.predictor.model",
                           "/srv/models/churn.json", "kafka.sasl.password", "hunter22",
                           "sml.kstream.source.topic", "in-topic", "kafka.ssl.key.password", "abc",
                           "schema.registry.basic.auth.user.info", "reader:s3cr3t");
    char text[256] = "params.sml.predictor.model: model file /srv/models/churn.json: No such "
                     "file; again /srv/models/churn.json; auth hunter22 failed on in-topic; abc";
    taskinfo_scrub(ti, text, sizeof(text));
    cr_assert_str_eq(text, "params.sml.predictor.model: model file <sml.predictor.model>: No such "
                           "file; again <sml.predictor.model>; auth <kafka.sasl.password> "
                           "failed on in-topic; abc");
    char registry[128] = "registry login reader:s3cr3t refused";
    taskinfo_scrub(ti, registry, sizeof(registry));
    cr_assert_str_eq(registry, "registry login <schema.registry.basic.auth.user.info> refused");

    /* A placeholder longer than the value: what no longer fits is cut, still terminated. */
    char small[32] = "x /srv/models/churn.json y";
    taskinfo_scrub(ti, small, sizeof(small));
    cr_assert_str_eq(small, "x <sml.predictor.model> y");
    char tiny[16] = "/srv/models/chu";
    taskinfo_scrub(ti, tiny, sizeof(tiny));
    cr_assert_str_eq(tiny, "/srv/models/chu", "a partial path is not the value");
    char cut[12] = "hunter22 zz";
    taskinfo_scrub(ti, cut, sizeof(cut));
    cr_assert_str_eq(cut, "<kafka.sasl");

    /* No params, or no text: nothing happens. */
    char same[] = "nothing here";
    taskinfo_scrub(NULL, same, sizeof(same));
    cr_assert_str_eq(same, "nothing here");
    taskinfo_scrub(ti, NULL, 0);
    json_decref(ti);
}

/* An encrypted body: what opens is a JSON object; whatever does not open, or opens to
 * something else, is one NULL. */
static const uint8_t key_c1[16] = "0123456789abcdef";
static const uint8_t key_c2[16] = "fedcba9876543210";

static char *legacy(const char *plain)
{
    char *body = crypto_legacy_encrypt(key_c1, plain, strlen(plain));
    cr_assert_not_null(body);
    return body;
}

static char *sealed(const char *plain)
{
    char *body = crypto_sealed_encrypt(key_c1, "c1", plain, strlen(plain));
    cr_assert_not_null(body);
    return body;
}

static void expect_no_object(char *body, const char *what)
{
    json_t *doc = taskinfo_decrypt(key_c1, "c1", body, strlen(body));
    cr_expect_null(doc, "%s: opened", what);
    json_decref(doc);
    free(body);
}

Test(taskinfo, decrypt_opens_both_forms_to_an_object)
{
    json_t *want = minimal();
    char *text = json_dumps(want, 0);
    char *bodies[] = {legacy(text), sealed(text)};
    for (size_t i = 0; i < 2; i++) {
        json_t *doc = taskinfo_decrypt(key_c1, "c1", bodies[i], strlen(bodies[i]));
        cr_assert_not_null(doc, "%s", bodies[i]);
        cr_expect(json_equal(doc, want));
        json_decref(doc);
        free(bodies[i]);
    }
    free(text);
    json_decref(want);
    /* Not validated yet: the fields are taskinfo_validate's to judge, with their messages. */
    char *body = legacy("{\"name\":7}");
    json_t *doc = taskinfo_decrypt(key_c1, "c1", body, strlen(body));
    cr_assert_not_null(doc);
    cr_expect_null(taskinfo_validate(doc, errstr, sizeof(errstr)));
    cr_expect(strstr(errstr, "type: is missing") != NULL, "%s", errstr);
    json_decref(doc);
    free(body);
}

Test(taskinfo, decrypt_refuses_what_is_no_json_object)
{
    /* Each plaintext is encrypted correctly, so the legacy padding is valid: only the
     * parse tells them apart from a body that does not decrypt. */
    static const char *const plains[] = {
        "not JSON at all",
        "",
        "[1,2]",
        "\"kstream\"",
        "12",
        "null",
        "{\"type\":\"kstream\"",             /* cut short */
        "{\"type\":\"kstream\"} trailing",   /* more after the object */
        "{\"type\":\"k\xdf\"}",              /* not UTF-8 */
        "{\"name\":\"a\",\"name\":\"b\"}",   /* a duplicate key */
        "\xef\xbb\xbf{\"type\":\"kstream\"}" /* a byte order mark */
    };
    for (size_t i = 0; i < sizeof(plains) / sizeof(plains[0]); i++) {
        expect_no_object(legacy(plains[i]), plains[i]);
        expect_no_object(sealed(plains[i]), plains[i]);
    }
    /* Bodies that do not decrypt. */
    json_t *doc = minimal();
    char *text = json_dumps(doc, 0);
    json_decref(doc);
    expect_no_object(crypto_legacy_encrypt(key_c2, text, strlen(text)), "legacy, another key");
    expect_no_object(crypto_sealed_encrypt(key_c2, "c1", text, strlen(text)),
                     "sealed, another key");
    expect_no_object(crypto_sealed_encrypt(key_c1, "c2", text, strlen(text)),
                     "sealed for another customer");
    expect_no_object(strdup("bm90IGEgY2lwaGVydGV4dA=="), "one block of bad padding");
    expect_no_object(strdup("not base64!"), "not base64");
    expect_no_object(strdup("AAAAAAAAAAAAAAAAAAAA"), "15 bytes, no whole block");
    expect_no_object(strdup("sym1.AAAA"), "sealed, too short");
    free(text);
}

Test(taskinfo, decrypt_random_bodies_open_to_nothing)
{
    /* About 1 in 256 random ciphertexts ends in valid PKCS#7 padding and decrypts: those
     * must be refused exactly like the others. */
    size_t padded = 0;
    for (int i = 0; i < 4096; i++) {
        uint8_t cipher[16 * 8];
        size_t cipher_len = 16 * (1 + randombytes_uniform(8));
        randombytes_buf(cipher, cipher_len);
        char *body = crypto_b64_encode(cipher, cipher_len);
        cr_assert_not_null(body);
        size_t len;
        char *plain = crypto_legacy_decrypt(key_c1, body, strlen(body), &len);
        padded += plain != NULL;
        free(plain);
        json_t *doc = taskinfo_decrypt(key_c1, "c1", body, strlen(body));
        cr_assert_null(doc, "%s opened", body);
        free(body);
    }
    cr_expect_gt(padded, 0, "no random body had valid padding: the test proves nothing");
}

/* The original's REST mode: sml.kstream.rest = true predicts through a SymetryML server. */
Test(taskinfo, rest_mode_names_its_predictor)
{
    json_t *doc = minimal();
    json_object_del(params_of(doc), "sml.predictor");
    json_t *p = params_of(doc);
    json_object_set_new(p, "sml.kstream.rest", json_string("true"));
    json_object_set_new(p, "sml.kstream.rest.host", json_string("http://server:8080"));
    json_object_set_new(p, "sml.kstream.rest.user", json_string("c1"));
    json_object_set_new(p, "sml.kstream.rest.secret", json_string("MxFhjhfqOx6XNhZWabcWCA=="));
    json_object_set_new(p, "sml.kstream.project.id", json_string("p1"));
    json_object_set_new(p, "sml.kstream.model.id", json_string("m1"));
    json_t *out = taskinfo_validate(doc, errstr, sizeof(errstr));
    cr_assert_not_null(out, "%s", errstr);
    cr_assert_str_eq(taskinfo_param(out, "sml.predictor", ""), "symetryml");
    json_decref(out);

    /* Named twice, the same way: fine. */
    json_object_set_new(p, "sml.predictor", json_string("symetryml"));
    out = taskinfo_validate(doc, errstr, sizeof(errstr));
    cr_assert_not_null(out, "%s", errstr);
    json_decref(out);

    /* Named twice, two ways: refused. */
    json_object_set_new(p, "sml.predictor", json_string("linear"));
    expect_invalid(json_deep_copy(doc),
                   "params.sml.kstream.rest: true predicts through a SymetryML server (predictor "
                   "symetryml), but sml.predictor is linear");

    /* rest = false is the embedded model of the original: a predictor is needed. */
    json_object_del(p, "sml.predictor");
    json_object_set_new(p, "sml.kstream.rest", json_string("false"));
    expect_invalid(json_deep_copy(doc), "params: required key sml.predictor is missing");
    json_decref(doc);
}

Test(taskinfo, rest_mode_params_are_checked)
{
    expect_param_invalid("sml.kstream.rest", "yes",
                         "params.sml.kstream.rest: 'yes' is not true or false");
    expect_param_invalid("sml.kstream.rest.host", "",
                         "params.sml.kstream.rest.host: must not be empty");
    expect_param_invalid("sml.kstream.model.id", "",
                         "params.sml.kstream.model.id: must not be empty");
    expect_param_invalid("sml.kstream.rest.hots", "x",
                         "params.sml.kstream.rest.hots: unknown sml.* key");
    /* The secret is never quoted back. */
    expect_param_invalid("sml.kstream.rest.secret", "",
                         "params.sml.kstream.rest.secret: must not be empty");
    expect_valid(with_param("sml.kstream.rest", "false"));
    expect_valid(with_param("sml.kstream.project.id", "p1"));
}

Test(taskinfo, scrub_hides_tokens)
{
    json_t *ti = with_param("sml.predictor.token", "tok-1234567890");
    char text[256] = "401 with Authorization: Bearer tok-1234567890 at http://h";
    taskinfo_scrub(ti, text, sizeof(text));
    cr_assert_str_eq(text, "401 with Authorization: Bearer <sml.predictor.token> at http://h");
    json_decref(ti);
}
