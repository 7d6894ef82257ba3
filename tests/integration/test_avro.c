/* test_avro.c: Avro tasks end to end: the real daemon and workers, the embedded cluster, a
 * real Kafka client, the schema registry of the tests (tests/avro/registry.py) and records
 * encoded and decoded by Debian's python3-avro. Avro to Avro across schema evolution with
 * every source byte kept, Avro to JSON, JSON to Avro and back, records that are no Confluent
 * Avro in the dead letters, a registry down or failing (the records wait), a registry that
 * refuses the credentials (the task fails), and the check at create. */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "avro_util.h"
#include "harness.h"
#include "kafka_util.h"

#define BASE "/symetry/rest/" H_CID1

static harness_t h;
static av_registry_t reg;
static char state_arg[400];

static void setup(void)
{
    h_setup(&h, NULL);
    /* its schemas survive a stop and start (an outage) */
    snprintf(state_arg, sizeof(state_arg), "--state %s/registry.state", h.dir);
    avr_start(&reg, h.dir, 0, state_arg);
}

static void teardown(void)
{
    avr_stop(&reg);
    h_teardown(&h);
}

TestSuite(avro, .init = setup, .fini = teardown, .timeout = 300);

/* POSTs the TaskInfo of task @tid reading @source, writing @sink, with the params @params
 * (a JSON fragment) and the linear model of the harness unless they name a predictor.
 * Returns the response. */
static h_response_t create(const char *tid, const char *source, const char *sink,
                           const char *params)
{
    char json[8192];
    snprintf(json, sizeof(json),
             "{\"type\":\"kstream\",\"name\":\"%s\",\"params\":{\"sml.kstream.source.topic\":"
             "\"%s\",\"sml.kstream.sink.topic\":\"%s\",\"sml.predictor\":\"linear\","
             "\"sml.predictor.model\":\"%s/model.json\",%s}}",
             tid, source, sink, h.dir, params);
    char *sealed = h_seal(json, H_SECRET1);
    h_response_t r = h_req(&h, "POST", BASE "/tasks/create", sealed);
    free(sealed);
    return r;
}

static void create_and_start(const char *tid, const char *source, const char *sink,
                             const char *params)
{
    h_response_t r = create(tid, source, sink, params);
    cr_assert_eq(r.status, 202, "%s", r.body);
    h_response_free(&r);
    h_start_task(&h, tid);
}

/* "sml.serializer":"avro" and the registry's URL. */
static const char *avro_params(void)
{
    static char p[256];
    snprintf(p, sizeof(p), "\"sml.serializer\":\"avro\",\"schema.registry.url\":\"%s\"", reg.url);
    return p;
}

static void produce(const char *topic, const av_bytes_t *recs, size_t n, size_t first_key)
{
    char *keys[32];
    const void *values[32];
    size_t lens[32];
    cr_assert_leq(n, 32);
    for (size_t i = 0; i < n; i++) {
        cr_assert(asprintf(&keys[i], "%zu", first_key + i) > 0);
        values[i] = recs[i].data;
        lens[i] = recs[i].len;
    }
    kt_produce_bytes(&h, topic, n, (const char *const *)keys, values, lens);
    for (size_t i = 0; i < n; i++)
        free(keys[i]);
}

/* The records of @topic, @n of them, ordered by their keys 0..n-1. */
static void consume_by_key(const char *topic, kt_record_t *out, size_t n)
{
    kt_record_t got[32];
    size_t k = kt_consume(&h, topic, n, got, 32, 30000);
    cr_assert_eq(k, n, "%zu of %zu records in %s; see %s", k, n, topic, h.log_path);
    for (size_t i = 0; i < n; i++) {
        size_t key = (size_t)atoi(got[i].key);
        cr_assert_lt(key, n);
        out[key] = got[i];
    }
}

static uint32_t id_of(const void *data)
{
    const unsigned char *b = data;
    return (uint32_t)b[1] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 8 | b[4];
}

/* ---- Avro to Avro ---------------------------------------------------------------------- */

#define V1                                                                                         \
    "{\"type\":\"record\",\"name\":\"Customer\",\"namespace\":\"acme\",\"fields\":["               \
    "{\"name\":\"id\",\"type\":\"string\"},{\"name\":\"x1\",\"type\":\"double\"},"                 \
    "{\"name\":\"x2\",\"type\":\"int\"},{\"name\":\"tags\",\"type\":{\"type\":\"array\","          \
    "\"items\":\"string\"}},{\"name\":\"raw\",\"type\":\"bytes\"}]}"
#define V2                                                                                         \
    "{\"type\":\"record\",\"name\":\"Customer\",\"namespace\":\"acme\",\"fields\":["               \
    "{\"name\":\"id\",\"type\":\"string\"},{\"name\":\"x1\",\"type\":\"double\"},"                 \
    "{\"name\":\"x2\",\"type\":\"int\"},{\"name\":\"tags\",\"type\":{\"type\":\"array\","          \
    "\"items\":\"string\"}},{\"name\":\"raw\",\"type\":\"bytes\"},{\"name\":\"seen\",\"type\":"    \
    "{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"},\"default\":0},{\"name\":"           \
    "\"note\",\"type\":[\"null\",\"string\"],\"default\":null}]}"

Test(avro, avro_to_avro_keeps_every_byte_across_schema_evolution)
{
    av_bytes_t in[4];
    cr_assert_eq(
        avr_encode(&reg, "in-t1-value", V1,
                   "{\"id\":\"a\",\"x1\":1.5,\"x2\":2,\"tags\":[\"x\"],\"raw\":"
                   "{\"$bytes\":\"00ff\"}}\n"
                   "{\"id\":\"b\",\"x1\":-1,\"x2\":0,\"tags\":[],\"raw\":{\"$bytes\":\"\"}}\n",
                   in, 2),
        2);
    cr_assert_eq(
        avr_encode(&reg, "in-t1-value", V2,
                   "{\"id\":\"c\",\"x1\":0.25,\"x2\":1,\"tags\":[\"y\",\"z\"],\"raw\":"
                   "{\"$bytes\":\"41\"},\"seen\":{\"$timestamp\":\"2024-02-29T12:00:00\"},"
                   "\"note\":\"caf\\u00e9\"}\n"
                   "{\"id\":\"d\",\"x1\":2,\"x2\":-3,\"tags\":[],\"raw\":{\"$bytes\":\"\"},"
                   "\"seen\":{\"$timestamp\":\"1970-01-01T00:00:00\"},\"note\":null}\n",
                   in + 2, 2),
        2);
    cr_assert_neq(id_of(in[0].data), id_of(in[2].data));
    create_and_start("t1", "in-t1", "out-t1", avro_params());
    produce("in-t1", in, 4, 0);
    kt_record_t out[4];
    consume_by_key("out-t1", out, 4);
    av_bytes_t got[4];
    for (int i = 0; i < 4; i++) {
        /* the source record's body, bit for bit, then the prediction (9 bytes) */
        cr_assert_eq(out[i].value_len, in[i].len + 9, "record %d", i);
        cr_expect(memcmp(out[i].value + 5, in[i].data + 5, in[i].len - 5) == 0,
                  "record %d: the source's bytes changed", i);
        got[i] = (av_bytes_t){(unsigned char *)out[i].value, out[i].value_len};
    }
    /* one output schema per source schema */
    cr_expect_eq(id_of(out[0].value), id_of(out[1].value));
    cr_expect_eq(id_of(out[2].value), id_of(out[3].value));
    cr_expect_neq(id_of(out[0].value), id_of(out[2].value));
    char *json = avr_decode(&reg, got, 4);
    char want[2048];
    snprintf(want, sizeof(want),
             "{\"id\": %u, \"value\": {\"id\": \"a\", \"prediction\": 10.0, \"raw\": {\"$bytes\": "
             "\"00ff\"}, \"tags\": [\"x\"], \"x1\": 1.5, \"x2\": 2}}\n"
             "{\"id\": %u, \"value\": {\"id\": \"b\", \"prediction\": -1.0, \"raw\": {\"$bytes\": "
             "\"\"}, \"tags\": [], \"x1\": -1.0, \"x2\": 0}}\n"
             "{\"id\": %u, \"value\": {\"id\": \"c\", \"note\": \"caf\\u00e9\", \"prediction\": "
             "4.5, \"raw\": {\"$bytes\": \"41\"}, \"seen\": {\"$timestamp\": "
             "\"2024-02-29T12:00:00\"}, \"tags\": [\"y\", \"z\"], \"x1\": 0.25, \"x2\": 1}}\n"
             "{\"id\": %u, \"value\": {\"id\": \"d\", \"note\": null, \"prediction\": -4.0, "
             "\"raw\": {\"$bytes\": \"\"}, \"seen\": {\"$timestamp\": \"1970-01-01T00:00:00\"}, "
             "\"tags\": [], \"x1\": 2.0, \"x2\": -3}}",
             id_of(out[0].value), id_of(out[1].value), id_of(out[2].value), id_of(out[3].value));
    cr_expect_str_eq(json, want);
    free(json);
    kt_records_free(out, 4);
    cr_expect_eq(avr_count(&reg, "POST /subjects/out-t1-value/versions 200"), 2);
    cr_expect(h_wait_number(&h, "t1", "recordsOut", 4, 10000));
    json_t *st = h_status(&h, "t1");
    cr_expect_str_eq(h_get(st, "serializer"), "avro");
    json_decref(st);
    avr_bytes_free(in, 4);
}

/* ---- Avro to JSON, JSON to Avro and back ------------------------------------------------- */

Test(avro, avro_to_json_writes_a_plain_object)
{
    const char *schema =
        "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"id\",\"type\":\"string\"},"
        "{\"name\":\"x1\",\"type\":\"float\"},{\"name\":\"x2\",\"type\":\"long\"},{\"name\":"
        "\"big\",\"type\":\"long\"},{\"name\":"
        "\"when\",\"type\":{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"}},{\"name\":"
        "\"amount\",\"type\":{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":6,"
        "\"scale\":2}},{\"name\":\"color\",\"type\":{\"type\":\"enum\",\"name\":\"C\",\"symbols\":"
        "[\"RED\"]}},{\"name\":\"maybe\",\"type\":[\"null\",\"string\"]},{\"name\":\"inner\","
        "\"type\":{\"type\":\"record\",\"name\":\"I\",\"fields\":[{\"name\":\"a\",\"type\":"
        "\"boolean\"}]}},{\"name\":\"raw\",\"type\":\"bytes\"}]}";
    av_bytes_t in[1];
    cr_assert_eq(avr_encode(&reg, "in-t1-value", schema,
                            "{\"id\":\"caf\\u00e9\",\"x1\":0.1,\"x2\":5,\"big\":"
                            "9007199254740993,\"when\":"
                            "{\"$timestamp\":\"2024-02-29T12:00:00.123\"},\"amount\":{\"$decimal\":"
                            "\"-12.50\"},\"color\":\"RED\",\"maybe\":null,\"inner\":{\"a\":true},"
                            "\"raw\":{\"$bytes\":\"00ff\"}}\n",
                            in, 1),
                 1);
    char params[512];
    snprintf(params, sizeof(params), "%s,\"sml.serializer.out\":\"json\"", avro_params());
    create_and_start("t1", "in-t1", "out-t1", params);
    produce("in-t1", in, 1, 0);
    kt_record_t out[1];
    consume_by_key("out-t1", out, 1);
    /* a float as short as it reads back, a long with all its digits, the logical types as
     * numbers; prediction = 1 + 2 * 0.1f + 3 * 5 */
    cr_expect_str_eq(out[0].value,
                     "{\"id\":\"caf\xc3\xa9\",\"x1\":0.1,\"x2\":5,\"big\":9007199254740993,"
                     "\"when\":1709208000123,\"amount\":-12.50,\"color\":\"RED\",\"maybe\":null,"
                     "\"inner\":{\"a\":true},\"raw\":\"\\u0000\\u00ff\",\"prediction\":"
                     "16.200000002980232}");
    kt_records_free(out, 1);
    json_t *st = h_status(&h, "t1");
    cr_expect_str_eq(h_get(st, "serializerOut"), "json");
    json_decref(st);
    avr_bytes_free(in, 1);
}

Test(avro, json_to_avro_and_back_keeps_every_field)
{
    /* json in, Avro out with a schema derived from the fields; then Avro in, json out */
    const char *in[] = {
        "{\"id\":\"caf\xc3\xa9 \\\"q\\\"\",\"x1\":1,\"x2\":2,\"tags\":{\"k\":[1,2.5,\"s\"]},"
        "\"ok\":true,\"none\":null}",
        "{\"x1\":-0.5,\"x2\":0.25,\"id\":\"b\"}",
    };
    char params[512];
    snprintf(params, sizeof(params),
             "\"sml.serializer\":\"json\",\"sml.serializer.out\":\"avro\",\"schema.registry.url\":"
             "\"%s\"",
             reg.url);
    create_and_start("ja", "in-ja", "out-ja", params);
    snprintf(params, sizeof(params), "%s,\"sml.serializer.out\":\"json\"", avro_params());
    create_and_start("aj", "out-ja", "back-aj", params);
    char *keys[] = {"0", "1"};
    kt_produce(&h, "in-ja", 2, (const char *const *)keys, in, NULL);

    kt_record_t avro[2], back[2];
    consume_by_key("out-ja", avro, 2);
    av_bytes_t got[2] = {{(unsigned char *)avro[0].value, avro[0].value_len},
                         {(unsigned char *)avro[1].value, avro[1].value_len}};
    char *json = avr_decode(&reg, got, 2);
    char want[1024];
    snprintf(want, sizeof(want),
             "{\"id\": %u, \"value\": {\"id\": \"caf\\u00e9 \\\"q\\\"\", \"none\": null, \"ok\": "
             "true, \"prediction\": 9.0, \"tags\": \"{\\\"k\\\":[1,2.5,\\\"s\\\"]}\", \"x1\": 1.0, "
             "\"x2\": 2.0}}\n{\"id\": %u, \"value\": {\"id\": \"b\", \"prediction\": 0.75, \"x1\": "
             "-0.5, \"x2\": 0.25}}",
             id_of(avro[0].value), id_of(avro[1].value));
    cr_expect_str_eq(json, want);
    free(json);
    /* the derived schemas, under the sink's subject */
    cr_expect_eq(avr_count(&reg, "POST /subjects/out-ja-value/versions 200"), 2);

    /* back to JSON: every field as the source had it, the prediction made again */
    consume_by_key("back-aj", back, 2);
    cr_expect_str_eq(back[0].value,
                     "{\"id\":\"caf\xc3\xa9 \\\"q\\\"\",\"x1\":1,\"x2\":2,\"tags\":{\"k\":[1,2.5,"
                     "\"s\"]},\"ok\":true,\"none\":null,\"prediction\":9}");
    cr_expect_str_eq(back[1].value, "{\"x1\":-0.5,\"x2\":0.25,\"id\":\"b\",\"prediction\":0.75}");
    kt_records_free(avro, 2);
    kt_records_free(back, 2);
}

Test(avro, json_to_avro_with_the_sinks_schema_in_a_file)
{
    char path[400];
    snprintf(path, sizeof(path), "%s/sink.avsc", h.dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("{\"type\":\"record\",\"name\":\"Scored\",\"namespace\":\"acme\",\"fields\":[{\"name\":"
          "\"id\",\"type\":\"string\"},{\"name\":\"x1\",\"type\":\"int\"},{\"name\":\"x2\","
          "\"type\":\"float\"},{\"name\":\"region\",\"type\":\"string\",\"default\":\"eu\"}]}",
          f);
    fclose(f);
    char params[1024];
    snprintf(params, sizeof(params),
             "\"sml.serializer.out\":\"avro\",\"schema.registry.url\":\"%s\","
             "\"sml.serializer.out.schema\":\"%s\",\"sml.serializer.out.subject.name.strategy\":"
             "\"RecordNameStrategy\"",
             reg.url, path);
    create_and_start("jf", "in-jf", "out-jf", params);
    const char *in[] = {"{\"id\":\"a\",\"x1\":3,\"x2\":0.5,\"dropped\":[1]}",
                        "{\"id\":\"b\",\"x1\":3.5,\"x2\":0}"};
    char *keys[] = {"0", "1"};
    kt_produce(&h, "in-jf", 2, (const char *const *)keys, in, NULL);
    kt_record_t out[1], dlq[1];
    cr_assert_eq(kt_consume(&h, "out-jf", 1, out, 1, 30000), 1, "see %s", h.log_path);
    av_bytes_t got = {(unsigned char *)out[0].value, out[0].value_len};
    char *json = avr_decode(&reg, &got, 1);
    cr_expect(strstr(json, "\"value\": {\"id\": \"a\", \"prediction\": 8.5, \"region\": \"eu\", "
                           "\"x1\": 3, \"x2\": 0.5}") != NULL,
              "%s", json);
    free(json);
    cr_expect_eq(avr_count(&reg, "POST /subjects/acme.Scored/versions 200"), 1);
    /* 3.5 is no int: that record goes to the dead letters at encode */
    cr_assert_eq(kt_consume(&h, "out-jf.dlq", 1, dlq, 1, 30000), 1);
    cr_expect_str_eq(kt_header(&dlq[0], "symtask.stage"), "encode");
    cr_expect_str_eq(kt_header(&dlq[0], "symtask.error"),
                     "field 'x1' is a number that is no int (a whole number of 32 bits)");
    kt_records_free(out, 1);
    kt_records_free(dlq, 1);
}

/* ---- Faults ------------------------------------------------------------------------------ */

Test(avro, records_that_cannot_be_read_go_to_the_dead_letters_naming_why_and_the_id)
{
    av_bytes_t good[1];
    cr_assert_eq(
        avr_encode(&reg, "in-t1-value", V1,
                   "{\"id\":\"a\",\"x1\":1,\"x2\":1,\"tags\":[],\"raw\":{\"$bytes\":\"\"}}\n", good,
                   1),
        1);
    uint32_t id = id_of(good[0].data);
    unsigned char magic[32], unknown[32];
    memcpy(magic, good[0].data, good[0].len);
    magic[0] = 1;
    memcpy(unknown, good[0].data, good[0].len);
    unknown[1] = 0x10; /* id + 2^28 */
    av_bytes_t in[4] = {
        {magic, good[0].len},
        {good[0].data, good[0].len - 4}, /* truncated in x1 */
        {unknown, good[0].len},
        good[0],
    };
    create_and_start("t1", "in-t1", "out-t1", avro_params());
    produce("in-t1", in, 4, 0);
    kt_record_t out[1], dlq[3];
    cr_assert_eq(kt_consume(&h, "out-t1", 1, out, 1, 30000), 1, "see %s", h.log_path);
    consume_by_key("out-t1.dlq", dlq, 3);
    char want[3][512];
    snprintf(want[0], sizeof(want[0]),
             "not a Confluent Avro record: its magic byte is 0x01, not 0 (the schema id after it "
             "would be %u)",
             id);
    snprintf(want[1], sizeof(want[1]),
             "schema id %u: the record is truncated: field 'x1' goes past its end (%zu bytes)", id,
             good[0].len - 4);
    snprintf(want[2], sizeof(want[2]),
             "schema id %u is unknown: schema registry %s: Schema %u not found (404, error code "
             "40403)",
             id + (1u << 28), reg.url, id + (1u << 28));
    for (int i = 0; i < 3; i++) {
        cr_expect_str_eq(kt_header(&dlq[i], "symtask.stage"), "decode");
        cr_expect_str_eq(kt_header(&dlq[i], "symtask.error"), want[i]);
        /* the source's bytes */
        cr_expect(dlq[i].value_len == in[i].len && memcmp(dlq[i].value, in[i].data, in[i].len) == 0,
                  "dead letter %d", i);
    }
    kt_records_free(out, 1);
    kt_records_free(dlq, 3);
    avr_bytes_free(good, 1);
}

static void expect_retrying(const char *tid, const char *needle)
{
    cr_assert(h_wait_number(&h, tid, "retries", 2, 30000), "no retries; see %s", h.log_path);
    json_t *st = h_status(&h, tid);
    cr_expect_str_eq(h_get(st, "status"), "running");
    cr_expect_str_eq(h_get(st, "retrying"), "1");
    cr_expect(strstr(h_get(st, "lastError"), needle) != NULL &&
                  strstr(h_get(st, "lastError"), "trying again; the records wait") != NULL,
              "%s", h_get(st, "lastError"));
    json_decref(st);
    h_response_t r = h_raw(&h, "GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 0);
    char want[128];
    snprintf(want, sizeof(want), "symtask_plugin_retrying{customer=\"c1\",task=\"%s\"} 1", tid);
    cr_expect(strstr(r.body, want) != NULL, "%s", r.body);
    h_response_free(&r);
}

Test(avro, a_registry_that_is_down_or_answers_5xx_holds_the_records)
{
    create_and_start("t1", "in-t1", "out-t1", avro_params());
    av_bytes_t a[3], b[3];
    cr_assert_eq(
        avr_encode(&reg, "in-t1-value", V1,
                   "{\"id\":\"a\",\"x1\":1,\"x2\":1,\"tags\":[],\"raw\":{\"$bytes\":\"\"}}\n"
                   "{\"id\":\"b\",\"x1\":2,\"x2\":1,\"tags\":[],\"raw\":{\"$bytes\":\"\"}}\n"
                   "{\"id\":\"c\",\"x1\":3,\"x2\":1,\"tags\":[],\"raw\":{\"$bytes\":\"\"}}\n",
                   a, 3),
        3);
    cr_assert_eq(avr_encode(&reg, "in-t1-value", V2,
                            "{\"id\":\"d\",\"x1\":1,\"x2\":1,\"tags\":[],\"raw\":{\"$bytes\":\"\"},"
                            "\"seen\":{\"$timestamp\":\"1970-01-01T00:00:00\"},\"note\":null}\n"
                            "{\"id\":\"e\",\"x1\":2,\"x2\":1,\"tags\":[],\"raw\":{\"$bytes\":\"\"},"
                            "\"seen\":{\"$timestamp\":\"1970-01-01T00:00:00\"},\"note\":null}\n"
                            "{\"id\":\"f\",\"x1\":3,\"x2\":1,\"tags\":[],\"raw\":{\"$bytes\":\"\"},"
                            "\"seen\":{\"$timestamp\":\"1970-01-01T00:00:00\"},\"note\":null}\n",
                            b, 3),
                 3);
    /* down: nothing listens on its port; the worker has not seen these ids yet. A worker
     * that starts meanwhile starts anyway (the check at create is past) */
    int port = reg.port;
    avr_stop(&reg);
    h_response_t r = h_req(&h, "POST", BASE "/tasks/t1/restart", NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    h_response_free(&r);
    cr_assert(h_wait_status(&h, "t1", "status", "running", 20000), "see %s", h.log_path);
    produce("in-t1", a, 3, 0);
    char needle[128];
    snprintf(needle, sizeof(needle), "sml.serializer: schema registry %s cannot be reached",
             reg.url);
    expect_retrying("t1", needle);
    cr_expect(h_log_contains(&h, "cannot be reached") &&
                  h_log_contains(&h, "(starting anyway: the records wait)"),
              "see %s", h.log_path);
    avr_start(&reg, h.dir, port, state_arg);
    cr_assert(h_wait_number(&h, "t1", "recordsOut", 3, 30000), "see %s", h.log_path);

    /* 5xx: a new schema id waits too */
    avr_fault(&reg, "503");
    produce("in-t1", b, 3, 3);
    snprintf(needle, sizeof(needle), "sml.serializer: schema registry %s answers 503", reg.url);
    json_t *st = NULL;
    for (int waited = 0; waited < 30000; waited += 100) {
        json_decref(st);
        st = h_status(&h, "t1");
        if (strstr(h_get(st, "lastError"), needle) != NULL &&
            strcmp(h_get(st, "retrying"), "1") == 0)
            break;
        usleep(100000);
    }
    cr_expect(strstr(h_get(st, "lastError"), needle) != NULL, "%s", h_get(st, "lastError"));
    cr_expect_str_eq(h_get(st, "retrying"), "1");
    json_decref(st);
    avr_fault(&reg, NULL);
    cr_assert(h_wait_number(&h, "t1", "recordsOut", 6, 30000), "see %s", h.log_path);

    kt_record_t out[6], dlq[1];
    consume_by_key("out-t1", out, 6);
    cr_expect_eq(kt_consume(&h, "out-t1.dlq", 1, dlq, 1, 2000), 0, "a record was dead-lettered");
    st = h_status(&h, "t1");
    cr_expect_str_eq(h_get(st, "retrying"), "0");
    cr_expect_str_eq(h_get(st, "restarts"), "0");
    cr_expect_str_eq(h_get(st, "recordsFailed"), "0");
    json_decref(st);
    kt_records_free(out, 6);
    avr_bytes_free(a, 3);
    avr_bytes_free(b, 3);
}

Test(avro, a_registry_that_refuses_the_credentials_fails_the_task)
{
    av_registry_t locked;
    char dir[400];
    snprintf(dir, sizeof(dir), "%s/locked", h.dir);
    cr_assert_eq(mkdir(dir, 0700), 0);
    avr_start(&locked, dir, 0, "--user-info reader:s3cr3t-pw");
    char params[1024];
    /* at create: a 400 that names the registry */
    snprintf(params, sizeof(params),
             "\"sml.serializer\":\"avro\",\"schema.registry.url\":\"%s\","
             "\"schema.registry.basic.auth.user.info\":\"reader:wr0ng-pw\"",
             locked.url);
    h_response_t r = create("t1", "in-t1", "out-t1", params);
    cr_expect_eq(r.status, 400);
    char want[256];
    snprintf(want, sizeof(want),
             "schema registry %s refuses the credentials of schema.registry.basic.auth.user.info",
             locked.url);
    cr_expect(strstr(r.body, want) != NULL && strstr(r.body, "wr0ng") == NULL, "%s", r.body);
    h_response_free(&r);

    /* created without the check, the task fails at its start */
    snprintf(params + strlen(params), sizeof(params) - strlen(params),
             ",\"sml.serializer.registry.check\":\"false\"");
    create_and_start("t1", "in-t1", "out-t1", params);
    av_bytes_t in[1];
    cr_assert_eq(
        avr_encode(&reg, "in-t1-value", V1,
                   "{\"id\":\"a\",\"x1\":1,\"x2\":1,\"tags\":[],\"raw\":{\"$bytes\":\"\"}}\n", in,
                   1),
        1);
    produce("in-t1", in, 1, 0);
    cr_assert(h_wait_status(&h, "t1", "status", "failed", 30000), "see %s", h.log_path);
    json_t *st = h_status(&h, "t1");
    cr_expect(strstr(h_get(st, "lastError"), want) != NULL, "%s", h_get(st, "lastError"));
    json_decref(st);
    cr_expect(!h_log_contains(&h, "wr0ng-pw"), "the password reached the log: %s", h.log_path);
    avr_stop(&locked);
    avr_bytes_free(in, 1);
}

Test(avro, the_check_at_create)
{
    /* a registry that cannot be reached is a 400 that says so */
    h_response_t r = create("t1", "in-t1", "out-t1",
                            "\"sml.serializer\":\"avro\",\"schema.registry.url\":"
                            "\"http://127.0.0.1:1\"");
    cr_expect_eq(r.status, 400);
    cr_expect(strstr(r.body, "schema registry http://127.0.0.1:1 cannot be reached") != NULL &&
                  strstr(r.body, "set sml.serializer.registry.check = false") != NULL,
              "%s", r.body);
    h_response_free(&r);
    /* unless the task says to start anyway */
    r = create("t1", "in-t1", "out-t1",
               "\"sml.serializer\":\"avro\",\"schema.registry.url\":\"http://127.0.0.1:1\","
               "\"sml.serializer.registry.check\":\"false\"");
    cr_expect_eq(r.status, 202, "%s", r.body);
    h_response_free(&r);
    /* the registry's settings belong to a plugin that reads them */
    char params[512];
    snprintf(params, sizeof(params), "\"schema.registry.url\":\"%s\"", reg.url);
    r = create("t2", "in-t2", "out-t2", params);
    cr_expect_eq(r.status, 400);
    cr_expect(strstr(r.body, "params.schema.registry.url: not an option of plugin linear, json") !=
                  NULL,
              "%s", r.body);
    h_response_free(&r);
    snprintf(params, sizeof(params), "%s,\"schema.registry.bogus\":\"1\"", avro_params());
    r = create("t2", "in-t2", "out-t2", params);
    cr_expect_eq(r.status, 400);
    cr_expect(strstr(r.body, "params.schema.registry.bogus: not an option of plugin") != NULL, "%s",
              r.body);
    h_response_free(&r);
}
