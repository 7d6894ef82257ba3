/* test_avro.c: the "avro" serializer plugin through the loader and the public ABI, against
 * the schema registry of the tests (tests/avro/registry.py), with records encoded and
 * decoded by Debian's python3-avro (tests/avro/records.py): every Avro type in the neutral
 * form, number features on the fast path, schema evolution, records that are no Confluent
 * Avro, the sink's schema and its subject, records of another format written as Avro, and a
 * registry that is down, failing or refusing the credentials. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "avro_util.h"
/* its helpers for records of text go unused here: Avro records are bytes */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "serializer_check.h"
#pragma GCC diagnostic warning "-Wunused-function"

static av_registry_t reg;
static char dir[256];

/* A new instance of the params in param_obj, bound to @columns (@nf features, then @no
 * outputs) for @roles. Returns bind's answer; create must succeed. */
static symtask_status_t avro_instance(const symtask_column_t *columns, size_t nf, size_t no,
                                      uint32_t roles)
{
    if (inst)
        ops->destroy(inst);
    inst = NULL;
    if (params)
        plugin_params_free(params);
    params = plugin_params_new(plugin, param_obj, errstr, sizeof(errstr));
    cr_assert_not_null(params, "plugin_params_new: %s", errstr);
    cr_assert_eq(ops->create(plugin_host(), params, &inst, errstr, sizeof(errstr)), SYMTASK_OK,
                 "create: %s", errstr);
    symtask_status_t s = serializer_bind_columns(columns, nf, no, 0);
    if (roles != (SYMTASK_ROLE_DECODE | SYMTASK_ROLE_ENCODE)) {
        /* bind again with the roles asked for */
        ops->destroy(inst);
        cr_assert_eq(ops->create(plugin_host(), params, &inst, errstr, sizeof(errstr)), SYMTASK_OK,
                     "create: %s", errstr);
        binding.roles = roles;
        errstr[0] = '\0';
        s = ops->bind_typed(inst, &binding, errstr, sizeof(errstr));
    }
    return s;
}

static const symtask_column_t numbers[] = {
    {"x1", SYMTASK_TYPE_NUMBER},
    {"x2", SYMTASK_TYPE_NUMBER},
    {"prediction", SYMTASK_TYPE_NUMBER},
};

static void set_param(const char *key, const char *value)
{
    if (value == NULL)
        json_object_del(param_obj, key);
    else
        json_object_set_new(param_obj, key, json_string(value));
}

static void avro_setup(void)
{
    serializer_load("avro");
    snprintf(dir, sizeof(dir), "/tmp/symtask-avro-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    avr_start(&reg, dir, 0, NULL);
    param_obj = json_object();
    set_param("schema.registry.url", reg.url);
    set_param("sml.kstream.sink.topic", "out");
    cr_assert_eq(avro_instance(numbers, 2, 1, SYMTASK_ROLE_DECODE | SYMTASK_ROLE_ENCODE),
                 SYMTASK_OK, "bind: %s", errstr);
}

static void avro_teardown(void)
{
    serializer_unload();
    inst = NULL;
    params = NULL;
    avr_stop(&reg);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
}

TestSuite(avro, .init = avro_setup, .fini = avro_teardown, .timeout = 120);

#define XY_SCHEMA                                                                                  \
    "{\"type\":\"record\",\"name\":\"XY\",\"namespace\":\"t\",\"fields\":[{\"name\":\"id\","       \
    "\"type\":\"string\"},{\"name\":\"x1\",\"type\":\"double\"},{\"name\":\"x2\",\"type\":"        \
    "[\"null\",\"long\"]}]}"

/* One record of @schema (registered under in-value) from the datum @json. */
static av_bytes_t one(const char *schema, const char *json)
{
    av_bytes_t rec[1];
    char line[8192];
    snprintf(line, sizeof(line), "%s\n", json);
    cr_assert_eq(avr_encode(&reg, "in-value", schema, line, rec, 1), 1);
    return rec[0];
}

static symtask_status_t decode_bytes(av_bytes_t b)
{
    return decode_n(b.data, b.len);
}

/* encode() of @b with @outputs; the record written, as bytes (malloc'd). */
static av_bytes_t encode_bytes(av_bytes_t b, const double *outputs, symtask_status_t *status)
{
    symtask_record_t record = {.value = b.data, .len = b.len};
    buf_reset(&out);
    errstr[0] = '\0';
    *status = ops->encode(inst, &record, outputs, &out, errstr, sizeof(errstr));
    av_bytes_t r = {malloc(out.len + 1), out.len};
    cr_assert_not_null(r.data);
    memcpy(r.data, out.data ? out.data : "", out.len);
    return r;
}

static uint32_t id_of(av_bytes_t b)
{
    cr_assert_geq(b.len, 5);
    return (uint32_t)b.data[1] << 24 | (uint32_t)b.data[2] << 16 | (uint32_t)b.data[3] << 8 |
           b.data[4];
}

/* ---- The descriptor --------------------------------------------------------------------- */

Test(avro, descriptor_and_options)
{
    const symtask_plugin_t *d = plugin_descriptor(plugin);
    cr_expect_str_eq(d->name, "avro");
    cr_expect_eq(d->kind, SYMTASK_PLUGIN_SERIALIZER);
    const char *want[] = {"schema.registry.url",
                          "schema.registry.basic.auth.user.info",
                          "schema.registry.ssl.ca.location",
                          "schema.registry.request.timeout.ms",
                          "sml.serializer.registry.check",
                          "sml.serializer.auto.register.schemas",
                          "sml.serializer.subject.name.strategy",
                          "sml.serializer.schema"};
    size_t n = 0;
    for (const symtask_option_t *o = d->options; o->name; o++, n++)
        cr_expect(n < 8 && strcmp(o->name, want[n]) == 0, "option %zu: %s", n, o->name);
    cr_expect_eq(n, 8);
    /* without a registry the task is refused before create() */
    json_t *none = json_object();
    cr_expect_null(plugin_params_new(plugin, none, errstr, sizeof(errstr)));
    cr_expect(strstr(errstr, "params.schema.registry.url: required by plugin avro") != NULL, "%s",
              errstr);
    json_decref(none);
}

/* ---- Reading: every type ----------------------------------------------------------------- */

#define ALL_SCHEMA                                                                                 \
    "{\"type\":\"record\",\"name\":\"All\",\"namespace\":\"t\",\"fields\":["                       \
    "{\"name\":\"i\",\"type\":\"int\"},{\"name\":\"l\",\"type\":\"long\"},"                        \
    "{\"name\":\"f\",\"type\":\"float\"},{\"name\":\"d\",\"type\":\"double\"},"                    \
    "{\"name\":\"b\",\"type\":\"boolean\"},{\"name\":\"s\",\"type\":\"string\"},"                  \
    "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"Color\",\"symbols\":[\"RED\","         \
    "\"GREEN\"]}},{\"name\":\"n\",\"type\":\"null\"},{\"name\":\"o\",\"type\":[\"null\","          \
    "\"string\"]},{\"name\":\"u\",\"type\":[\"null\",\"long\",\"string\"]},"                       \
    "{\"name\":\"dec\",\"type\":{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":"    \
    "20,\"scale\":3}},{\"name\":\"fdec\",\"type\":{\"type\":\"fixed\",\"name\":\"F8\",\"size\":"   \
    "8,\"logicalType\":\"decimal\",\"precision\":18,\"scale\":2}},"                                \
    "{\"name\":\"date\",\"type\":{\"type\":\"int\",\"logicalType\":\"date\"}},"                    \
    "{\"name\":\"tsm\",\"type\":{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"}},"        \
    "{\"name\":\"tsu\",\"type\":{\"type\":\"long\",\"logicalType\":\"timestamp-micros\"}},"        \
    "{\"name\":\"by\",\"type\":\"bytes\"},{\"name\":\"fx\",\"type\":{\"type\":\"fixed\","          \
    "\"name\":\"F2\",\"size\":2}},{\"name\":\"rec\",\"type\":{\"type\":\"record\",\"name\":"       \
    "\"Inner\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"},{\"name\":\"t\",\"type\":"            \
    "[\"null\",\"string\"]}]}},{\"name\":\"arr\",\"type\":{\"type\":\"array\",\"items\":"          \
    "\"double\"}},{\"name\":\"map\",\"type\":{\"type\":\"map\",\"values\":\"long\"}},"             \
    "{\"name\":\"uuid\",\"type\":{\"type\":\"string\",\"logicalType\":\"uuid\"}}]}"

#define ALL_DATUM                                                                                  \
    "{\"i\":-7,\"l\":9007199254740993,\"f\":0.1,\"d\":2.5,\"b\":true,"                             \
    "\"s\":\"caf\\u00e9 \\\"q\\\"\\u0000x\",\"e\":\"GREEN\",\"n\":null,\"o\":null,\"u\":"          \
    "\"text\",\"dec\":{\"$decimal\":\"-12345678901234.567\"},\"fdec\":{\"$decimal\":\"12.34\"},"   \
    "\"date\":{\"$date\":\"2024-02-29\"},\"tsm\":{\"$timestamp\":\"2024-02-29T12:00:00.123\"},"    \
    "\"tsu\":{\"$timestamp\":\"2024-02-29T12:00:00.123456\"},\"by\":{\"$bytes\":\"00ff41\"},"      \
    "\"fx\":{\"$bytes\":\"beef\"},\"rec\":{\"a\":1,\"t\":\"x\"},\"arr\":[1.5,-0.25],"              \
    "\"map\":{\"k\":3},\"uuid\":\"123e4567-e89b-12d3-a456-426614174000\"}"

static void expect_number_text(size_t i, const char *name, double number, const char *text)
{
    const symtask_value_t *v = expect_field(i, name, SYMTASK_TYPE_NUMBER);
    cr_expect_eq(v->number, number, "%s: %.17g, expected %.17g", name, v->number, number);
    if (text)
        expect_text(v, text, strlen(text));
    else
        cr_expect_null(v->text, "%s has a text", name);
}

static void expect_nested(size_t i, const char *name, const char *json)
{
    expect_text(expect_field(i, name, SYMTASK_TYPE_NESTED), json, strlen(json));
}

Test(avro, every_type_in_the_neutral_form)
{
    av_bytes_t rec = one(ALL_SCHEMA, ALL_DATUM);
    cr_assert_eq(decode_fields_n(rec.data, rec.len), SYMTASK_OK, "%s", errstr);
    cr_assert_eq(fields.count, 21);
    expect_number_text(0, "i", -7, "-7");
    /* a long keeps its digits for a text format, beyond what a double holds */
    expect_number_text(1, "l", 9007199254740992.0, "9007199254740993");
    expect_number_text(2, "f", (double)0.1f, "0.1");
    expect_number_text(3, "d", 2.5, NULL);
    cr_expect_eq(expect_field(4, "b", SYMTASK_TYPE_BOOL)->boolean, 1);
    expect_text(expect_field(5, "s", SYMTASK_TYPE_STRING), "caf\xc3\xa9 \"q\"\0x", 11);
    expect_text(expect_field(6, "e", SYMTASK_TYPE_STRING), "GREEN", 5);
    expect_field(7, "n", SYMTASK_TYPE_MISSING);
    expect_field(8, "o", SYMTASK_TYPE_MISSING);
    expect_text(expect_field(9, "u", SYMTASK_TYPE_STRING), "text", 4);
    expect_number_text(10, "dec", -12345678901234.567, "-12345678901234.567");
    expect_number_text(11, "fdec", 12.34, "12.34");
    /* logical types as numbers of their unit: days, milliseconds, microseconds */
    expect_number_text(12, "date", 19782, "19782");
    expect_number_text(13, "tsm", 1709208000123.0, "1709208000123");
    expect_number_text(14, "tsu", 1709208000123456.0, "1709208000123456");
    /* bytes and fixed: JSON strings of their bytes' code points, as Avro's JSON encoding */
    expect_nested(15, "by", "\"\\u0000\\u00ffA\"");
    expect_nested(16, "fx", "\"\\u00be\\u00ef\"");
    expect_nested(17, "rec", "{\"a\":1,\"t\":\"x\"}");
    expect_nested(18, "arr", "[1.5,-0.25]");
    expect_nested(19, "map", "{\"k\":3}");
    expect_text(expect_field(20, "uuid", SYMTASK_TYPE_STRING),
                "123e4567-e89b-12d3-a456-426614174000", 36);
    /* strings point into the record: no copy */
    const symtask_value_t *s = &fields.items[5].value;
    cr_expect((const unsigned char *)s->text > rec.data &&
                  (const unsigned char *)s->text < rec.data + rec.len,
              "the string was copied");
    avr_bytes_free(&rec, 1);
}

Test(avro, unions_of_several_types_and_nested_unions)
{
    const char *schema =
        "{\"type\":\"record\",\"name\":\"U\",\"fields\":[{\"name\":\"a\",\"type\":[\"int\","
        "\"string\",\"null\"]},{\"name\":\"b\",\"type\":[\"null\",{\"type\":\"array\",\"items\":"
        "[\"null\",\"string\"]}]},{\"name\":\"c\",\"type\":{\"type\":\"map\",\"values\":[\"null\","
        "{\"type\":\"record\",\"name\":\"P\",\"fields\":[{\"name\":\"z\",\"type\":\"boolean\"}]}]}}"
        "]}";
    av_bytes_t rec[3];
    cr_assert_eq(avr_encode(&reg, "in-value", schema,
                            "{\"a\":5,\"b\":[\"x\",null],\"c\":{\"k\":{\"z\":false},\"m\":null}}\n"
                            "{\"a\":\"five\",\"b\":null,\"c\":{}}\n"
                            "{\"a\":null,\"b\":[],\"c\":{}}\n",
                            rec, 3),
                 3);
    cr_assert_eq(decode_fields_n(rec[0].data, rec[0].len), SYMTASK_OK, "%s", errstr);
    expect_number_text(0, "a", 5, "5");
    expect_nested(1, "b", "[\"x\",null]");
    expect_nested(2, "c", "{\"k\":{\"z\":false},\"m\":null}");
    cr_assert_eq(decode_fields_n(rec[1].data, rec[1].len), SYMTASK_OK, "%s", errstr);
    expect_text(expect_field(0, "a", SYMTASK_TYPE_STRING), "five", 4);
    expect_field(1, "b", SYMTASK_TYPE_MISSING);
    expect_nested(2, "c", "{}");
    cr_assert_eq(decode_fields_n(rec[2].data, rec[2].len), SYMTASK_OK, "%s", errstr);
    expect_field(0, "a", SYMTASK_TYPE_MISSING);
    expect_nested(1, "b", "[]");
    avr_bytes_free(rec, 3);
}

/* ---- Reading: number features on the fast path ---------------------------------------------- */

Test(avro, number_features)
{
    const char *schema =
        "{\"type\":\"record\",\"name\":\"N\",\"fields\":[{\"name\":\"s\",\"type\":\"string\"},"
        "{\"name\":\"x2\",\"type\":{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":"
        "9,\"scale\":2}},{\"name\":\"x1\",\"type\":[\"null\",\"float\"]},{\"name\":\"t\",\"type\":"
        "{\"type\":\"array\",\"items\":\"string\"}}]}";
    av_bytes_t rec[3];
    cr_assert_eq(
        avr_encode(&reg, "in-value", schema,
                   "{\"s\":\"a\",\"x2\":{\"$decimal\":\"-1.25\"},\"x1\":0.5,\"t\":[\"q\"]}\n"
                   "{\"s\":\"b\",\"x2\":{\"$decimal\":\"0.00\"},\"x1\":null,\"t\":[]}\n"
                   "{\"s\":\"c\",\"x2\":{\"$decimal\":\"3\"},\"x1\":{\"$float\":\"nan\"},"
                   "\"t\":[]}\n",
                   rec, 3),
        3);
    cr_assert_eq(decode_bytes(rec[0]), SYMTASK_OK, "%s", errstr);
    cr_expect_eq(feat[0], 0.5);
    cr_expect_eq(feat[1], -1.25);
    cr_assert_eq(decode_bytes(rec[1]), SYMTASK_OK, "%s", errstr);
    cr_expect(isnan(feat[0]), "null is missing");
    cr_expect_eq(feat[1], 0);
    /* the worker's message of the neutral path */
    cr_assert_eq(decode_bytes(rec[2]), SYMTASK_ERR_RECORD);
    cr_expect_str_eq(errstr, "feature 'x1' is nan, not a finite number");
    avr_bytes_free(rec, 3);

    /* a feature of another type, as workers/fields.c says it */
    av_bytes_t s = one("{\"type\":\"record\",\"name\":\"S\",\"fields\":[{\"name\":\"x1\",\"type\":"
                       "\"string\"},{\"name\":\"x2\",\"type\":{\"type\":\"map\",\"values\":"
                       "\"int\"}}]}",
                       "{\"x1\":\"7\",\"x2\":{}}");
    cr_assert_eq(decode_bytes(s), SYMTASK_ERR_RECORD);
    cr_expect_str_eq(errstr, "feature 'x1' is a string, not a number");
    avr_bytes_free(&s, 1);
    av_bytes_t b = one("{\"type\":\"record\",\"name\":\"B\",\"fields\":[{\"name\":\"x2\",\"type\":"
                       "\"boolean\"}]}",
                       "{\"x2\":true}");
    cr_assert_eq(decode_bytes(b), SYMTASK_ERR_RECORD);
    cr_expect_str_eq(errstr, "feature 'x2' is a boolean, not a number");
    avr_bytes_free(&b, 1);
}

/* ---- Schema evolution -------------------------------------------------------------------- */

Test(avro, records_of_several_schema_ids_are_each_read_with_their_own)
{
    const char *v1 = "{\"type\":\"record\",\"name\":\"E\",\"fields\":[{\"name\":\"x1\",\"type\":"
                     "\"int\"}]}";
    const char *v2 = "{\"type\":\"record\",\"name\":\"E\",\"fields\":[{\"name\":\"note\",\"type\":"
                     "\"string\",\"default\":\"\"},{\"name\":\"x1\",\"type\":\"double\"},{\"name\":"
                     "\"x2\",\"type\":[\"null\",\"double\"],\"default\":null}]}";
    av_bytes_t a[2], b[2];
    cr_assert_eq(avr_encode(&reg, "in-value", v1, "{\"x1\":3}\n{\"x1\":4}\n", a, 2), 2);
    cr_assert_eq(avr_encode(&reg, "in-value", v2,
                            "{\"note\":\"hi\",\"x1\":0.5,\"x2\":8}\n{\"note\":\"\",\"x1\":1,\"x2\":"
                            "null}\n",
                            b, 2),
                 2);
    cr_assert_neq(id_of(a[0]), id_of(b[0]));
    for (int round = 0; round < 2; round++) {
        cr_assert_eq(decode_bytes(a[round]), SYMTASK_OK, "%s", errstr);
        cr_expect_eq(feat[0], 3 + round);
        cr_expect(isnan(feat[1]), "v1 has no x2: missing");
        cr_assert_eq(decode_bytes(b[round]), SYMTASK_OK, "%s", errstr);
        cr_expect_eq(feat[0], round == 0 ? 0.5 : 1);
        if (round == 0)
            cr_expect_eq(feat[1], 8);
    }
    /* each schema was fetched once */
    char get[64];
    snprintf(get, sizeof(get), "GET /schemas/ids/%u ", id_of(a[0]));
    cr_expect_eq(avr_count(&reg, get), 1, "%s", get);
    snprintf(get, sizeof(get), "GET /schemas/ids/%u ", id_of(b[0]));
    cr_expect_eq(avr_count(&reg, get), 1, "%s", get);
    avr_bytes_free(a, 2);
    avr_bytes_free(b, 2);
}

/* ---- Records that cannot be read --------------------------------------------------------- */

static void expect_bad(const void *data, size_t len, const char *msg)
{
    cr_assert_eq(decode_n(data, len), SYMTASK_ERR_RECORD, "accepted");
    cr_expect_str_eq(errstr, msg);
    cr_assert_eq(decode_fields_n(data, len), SYMTASK_ERR_RECORD, "decode_fields accepted");
    cr_expect_str_eq(errstr, msg);
}

Test(avro, records_that_are_no_confluent_avro_or_do_not_match_their_schema)
{
    av_bytes_t r = one(XY_SCHEMA, "{\"id\":\"abc\",\"x1\":1.5,\"x2\":7}");
    uint32_t id = id_of(r);
    char msg[512];

    expect_bad("", 0,
               "not a Confluent Avro record: 0 bytes, fewer than the 5 of its header (magic byte 0 "
               "and the schema id)");
    expect_bad("\0\0\0", 3,
               "not a Confluent Avro record: 3 bytes, fewer than the 5 of its header (magic byte 0 "
               "and the schema id)");
    unsigned char bad[64];
    memcpy(bad, r.data, r.len);
    bad[0] = '{';
    snprintf(msg, sizeof(msg),
             "not a Confluent Avro record: its magic byte is 0x7b, not 0 (the schema id after it "
             "would be %u)",
             id);
    expect_bad(bad, r.len, msg);
    snprintf(msg, sizeof(msg),
             "schema id %u: the record is truncated: field 'x1' goes past its end (12 bytes)", id);
    expect_bad(r.data, 12, msg); /* header 5, id 4, then 3 of x1's 8 bytes */
    snprintf(msg, sizeof(msg),
             "schema id %u: the record is truncated: field 'x2' goes past its end (17 bytes)", id);
    expect_bad(r.data, 17, msg);
    memcpy(bad, r.data, r.len);
    bad[r.len] = 0x01;
    snprintf(msg, sizeof(msg),
             "schema id %u: 1 byte after the end of the record (%zu bytes): it does not match its "
             "schema",
             id, r.len + 1);
    expect_bad(bad, r.len + 1, msg);
    memcpy(bad, r.data, r.len);
    bad[5 + 4 + 8] = 0x08; /* union branch 4 of x2's 2 */
    snprintf(msg, sizeof(msg),
             "schema id %u: field 'x2' holds a union branch out of range at byte 17 of %zu: the "
             "record does not match its schema",
             id, r.len);
    expect_bad(bad, r.len, msg);
    memcpy(bad, r.data, r.len);
    bad[5] = 0x01; /* a string of length -1 */
    snprintf(msg, sizeof(msg),
             "schema id %u: field 'id' holds a negative length at byte 5 of %zu: the record does "
             "not match its schema",
             id, r.len);
    expect_bad(bad, r.len, msg);

    /* an id the registry does not know, with the registry's own words and code */
    memcpy(bad, r.data, r.len);
    bad[1] = 0x7f;
    char want[256];
    snprintf(want, sizeof(want),
             "schema id %u is unknown: schema registry %s: Schema %u not found "
             "(404, error code 40403)",
             id_of((av_bytes_t){bad, r.len}), reg.url, id_of((av_bytes_t){bad, r.len}));
    expect_bad(bad, r.len, want);
    avr_bytes_free(&r, 1);
}

Test(avro, an_unknown_id_is_asked_again_only_after_a_while)
{
    unsigned char rec[6] = {0, 0, 0, 0x30, 0x39, 0};
    cr_assert_eq(decode_n(rec, 6), SYMTASK_ERR_RECORD);
    cr_assert_eq(decode_n(rec, 6), SYMTASK_ERR_RECORD);
    cr_expect(strstr(errstr, "schema id 12345 is unknown") != NULL, "%s", errstr);
    cr_expect_eq(avr_count(&reg, "GET /schemas/ids/12345 "), 1);
}

/* ---- Writing Avro from Avro ------------------------------------------------------------- */

Test(avro, the_sink_record_keeps_the_source_bytes_and_adds_an_optional_field)
{
    av_bytes_t in = one(XY_SCHEMA, "{\"id\":\"r\\u00e9c\",\"x1\":1.5,\"x2\":null}");
    cr_assert_eq(decode_bytes(in), SYMTASK_OK, "%s", errstr);
    symtask_status_t s;
    double outputs[2][1] = {{42.25}, {NAN}};
    av_bytes_t o[2];
    for (int i = 0; i < 2; i++) {
        o[i] = encode_bytes(in, outputs[i], &s);
        cr_assert_eq(s, SYMTASK_OK, "%s", errstr);
        /* every byte of the source body, then the output */
        cr_assert_geq(o[i].len, in.len);
        cr_expect(memcmp(o[i].data + 5, in.data + 5, in.len - 5) == 0, "the body changed");
    }
    cr_expect_eq(o[0].len, in.len + 9);
    cr_expect_eq(o[1].len, in.len + 1);
    cr_expect_eq(id_of(o[0]), id_of(o[1]));
    char *json = avr_decode(&reg, o, 2);
    char want[512];
    snprintf(
        want, sizeof(want),
        "{\"id\": %u, \"value\": {\"id\": \"r\\u00e9c\", \"prediction\": 42.25, \"x1\": 1.5, "
        "\"x2\": null}}\n{\"id\": %u, \"value\": {\"id\": \"r\\u00e9c\", \"prediction\": null, "
        "\"x1\": 1.5, \"x2\": null}}",
        id_of(o[0]), id_of(o[0]));
    cr_expect_str_eq(json, want);
    free(json);
    /* registered under {sink}-value: the source schema plus ["null","double"] with a default */
    cr_expect_eq(avr_count(&reg, "POST /subjects/out-value/versions 200"), 1);
    avr_bytes_free(o, 2);
    /* the output schema of an id is registered once */
    o[0] = encode_bytes(in, outputs[0], &s);
    cr_expect_eq(avr_count(&reg, "POST /subjects/out-value/versions "), 1);
    avr_bytes_free(o, 1);
    avr_bytes_free(&in, 1);
}

Test(avro, typed_and_run_time_outputs_and_an_output_that_replaces_a_field)
{
    static const symtask_column_t cols[] = {
        {"x1", SYMTASK_TYPE_NUMBER},
        {"x1", SYMTASK_TYPE_NUMBER}, /* the output of the field's name replaces it */
        {"label", SYMTASK_TYPE_STRING},
        {"ok", SYMTASK_TYPE_BOOL},
    };
    cr_assert_eq(avro_instance(cols, 1, 3, SYMTASK_ROLE_DECODE | SYMTASK_ROLE_ENCODE), SYMTASK_OK,
                 "%s", errstr);
    av_bytes_t in = one(XY_SCHEMA, "{\"id\":\"a\",\"x1\":1.5,\"x2\":3}");
    cr_assert_eq(decode_fields_n(in.data, in.len), SYMTASK_OK, "%s", errstr);
    symtask_field_t outs[4] = {
        {"x1", 2, symtask_value_number(-1)},
        {"label", 5, symtask_value_string("yes", 3)},
        {"ok", 2, symtask_value_missing()},
        {"extra_n", 7, symtask_value_number(7)}, /* named at run time */
    };
    symtask_fields_t outputs = {outs, 4};
    symtask_status_t s;
    symtask_record_t rec = {in.data, in.len};
    buf_reset(&out);
    s = ops->encode_fields(inst, &rec, &fields, &outputs, &arena, &out, errstr, sizeof(errstr));
    cr_assert_eq(s, SYMTASK_OK, "%s", errstr);
    av_bytes_t o = {(unsigned char *)out.data, out.len};
    char *json = avr_decode(&reg, &o, 1);
    cr_expect(strstr(json,
                     "\"value\": {\"extra_n\": 7.0, \"id\": \"a\", \"label\": \"yes\", \"ok\": "
                     "null, \"x1\": -1.0, \"x2\": 3}") != NULL,
              "%s", json);
    free(json);
    /* a run-time output without an Avro name goes to the dead letters */
    outs[3].name = "bad-name";
    outs[3].name_len = 8;
    s = ops->encode_fields(inst, &rec, &fields, &outputs, &arena, &out, errstr, sizeof(errstr));
    cr_expect_eq(s, SYMTASK_ERR_RECORD);
    cr_expect_str_eq(errstr, "output 'bad-name' is no Avro field name (letters, digits and _, not "
                             "a digit first)");
    avr_bytes_free(&in, 1);

    /* a declared output without an Avro name cannot be written at all */
    static const symtask_column_t bad[] = {{"x1", SYMTASK_TYPE_NUMBER},
                                           {"p.1", SYMTASK_TYPE_NUMBER}};
    cr_expect_eq(avro_instance(bad, 1, 1, SYMTASK_ROLE_DECODE | SYMTASK_ROLE_ENCODE),
                 SYMTASK_ERR_FATAL);
    cr_expect(strstr(errstr, "output 'p.1' is no Avro field name") != NULL, "%s", errstr);
}

static void expect_create_refused(const char *msg)
{
    symtask_params_t *p = plugin_params_new(plugin, param_obj, errstr, sizeof(errstr));
    cr_assert_not_null(p, "%s", errstr);
    void *x = NULL;
    cr_expect_eq(ops->create(plugin_host(), p, &x, errstr, sizeof(errstr)), SYMTASK_ERR_FATAL);
    cr_expect_str_eq(errstr, msg);
    plugin_params_free(p);
}

static void expect_subject(const char *strategy, const char *subject)
{
    set_param("sml.serializer.subject.name.strategy", strategy);
    cr_assert_eq(avro_instance(numbers, 2, 1, SYMTASK_ROLE_DECODE | SYMTASK_ROLE_ENCODE),
                 SYMTASK_OK, "%s", errstr);
    av_bytes_t in = one(XY_SCHEMA, "{\"id\":\"a\",\"x1\":1,\"x2\":2}");
    double p = 1;
    symtask_status_t s;
    cr_assert_eq(decode_bytes(in), SYMTASK_OK, "%s", errstr);
    av_bytes_t o = encode_bytes(in, &p, &s);
    cr_assert_eq(s, SYMTASK_OK, "%s", errstr);
    char want[256];
    snprintf(want, sizeof(want), "POST /subjects/%s/versions 200", subject);
    cr_expect_eq(avr_count(&reg, want), 1, "%s", want);
    avr_bytes_free(&o, 1);
    avr_bytes_free(&in, 1);
}

Test(avro, subject_name_strategies)
{
    expect_subject("RecordNameStrategy", "t.XY");
    expect_subject("io.confluent.kafka.serializers.subject.TopicRecordNameStrategy", "out-t.XY");
    set_param("sml.serializer.subject.name.strategy", "ByHand");
    expect_create_refused("params.sml.serializer.subject.name.strategy: 'ByHand' is none of "
                          "TopicNameStrategy, RecordNameStrategy, TopicRecordNameStrategy");
}

Test(avro, without_auto_register_the_subject_must_hold_the_schema)
{
    set_param("sml.serializer.auto.register.schemas", "false");
    cr_assert_eq(avro_instance(numbers, 2, 1, SYMTASK_ROLE_DECODE | SYMTASK_ROLE_ENCODE),
                 SYMTASK_OK, "%s", errstr);
    av_bytes_t in = one(XY_SCHEMA, "{\"id\":\"a\",\"x1\":1,\"x2\":2}");
    double p = 1;
    symtask_status_t s;
    cr_assert_eq(decode_bytes(in), SYMTASK_OK, "%s", errstr);
    av_bytes_t o = encode_bytes(in, &p, &s);
    cr_expect_eq(s, SYMTASK_ERR_RECORD);
    char want[512];
    snprintf(want, sizeof(want),
             "the sink's schema for records of schema id %u is not registered under subject "
             "out-value (schema "
             "registry %s: Subject 'out-value' not found. (404, error code 40401)); "
             "sml.serializer.auto.register.schemas is false: register it (the task's log shows "
             "it) or set it to true",
             id_of(in), reg.url);
    cr_expect_str_eq(errstr, want);
    cr_expect_eq(avr_count(&reg, "POST /subjects/out-value/versions"), 0, "registered anyway");
    avr_bytes_free(&o, 1);

    /* registered by hand, a new instance finds it */
    const char *with =
        "{\"type\":\"record\",\"name\":\"XY\",\"namespace\":\"t\",\"fields\":[{\"name\":\"id\","
        "\"type\":\"string\"},{\"name\":\"x1\",\"type\":\"double\"},{\"name\":\"x2\",\"type\":"
        "[\"null\",\"long\"]},{\"name\":\"prediction\",\"type\":[\"null\",\"double\"],"
        "\"default\":null}]}";
    int id = avr_register(&reg, "out-value", with);
    cr_assert_eq(avro_instance(numbers, 2, 1, SYMTASK_ROLE_DECODE | SYMTASK_ROLE_ENCODE),
                 SYMTASK_OK, "%s", errstr);
    cr_assert_eq(decode_bytes(in), SYMTASK_OK, "%s", errstr);
    o = encode_bytes(in, &p, &s);
    cr_assert_eq(s, SYMTASK_OK, "%s", errstr);
    cr_expect_eq(id_of(o), (uint32_t)id);
    avr_bytes_free(&o, 1);
    avr_bytes_free(&in, 1);
}

/* ---- Writing Avro from another format --------------------------------------------------- */

Test(avro, records_of_another_format_with_a_schema_derived_from_their_fields)
{
    cr_assert_eq(avro_instance(numbers + 2, 0, 1, SYMTASK_ROLE_ENCODE), SYMTASK_OK, "%s", errstr);
    symtask_field_t in[6] = {
        {"id", 2, symtask_value_string("caf\xc3\xa9\0!", 7)},
        {"x1", 2, symtask_value_number(0.1)},
        {"ok", 2, symtask_value_bool(1)},
        {"none", 4, symtask_value_missing()},
        {"tags", 4, {SYMTASK_TYPE_NESTED, 0, 0, "{\"a\": [1, 2]}", 13}},
        {"prediction", 10, symtask_value_number(3)}, /* the output replaces it */
    };
    symtask_field_t outs[1] = {{"prediction", 10, symtask_value_number(0.5)}};
    symtask_fields_t f = {in, 6}, o = {outs, 1};
    symtask_status_t s;
    cr_assert_not_null(encode_fields_with(NULL, &f, &o, &s), "%s", errstr);
    av_bytes_t rec = {(unsigned char *)out.data, out.len};
    char *json = avr_decode(&reg, &rec, 1);
    cr_expect(strstr(json, "\"value\": {\"id\": \"caf\\u00e9\\u0000!\", \"none\": null, \"ok\": "
                           "true, \"prediction\": 0.5, \"tags\": \"{\\\"a\\\": [1, 2]}\", \"x1\": "
                           "0.1}") != NULL,
              "%s", json);
    free(json);
    /* the same fields again: the same schema, registered once */
    cr_assert_not_null(encode_fields_with(NULL, &f, &o, &s), "%s", errstr);
    cr_expect_eq(avr_count(&reg, "POST /subjects/out-value/versions 200"), 1);
    /* a field name that Avro does not allow */
    in[2].name = "o k";
    in[2].name_len = 3;
    cr_expect_null(encode_fields_with(NULL, &f, &o, &s));
    cr_expect_eq(s, SYMTASK_ERR_RECORD);
    cr_expect(strstr(errstr, "field 'o k' is no Avro field name") != NULL, "%s", errstr);
}

Test(avro, records_of_another_format_with_a_schema_file)
{
    char path[400];
    snprintf(path, sizeof(path), "%s/sink.avsc", dir);
    FILE *fp = fopen(path, "w");
    cr_assert_not_null(fp);
    fputs("{\"type\":\"record\",\"name\":\"Sink\",\"namespace\":\"s\",\"fields\":["
          "{\"name\":\"n\",\"type\":\"long\"},{\"name\":\"c\",\"type\":{\"type\":\"enum\",\"name\":"
          "\"C\",\"symbols\":[\"A\",\"B\"]}},{\"name\":\"amount\",\"type\":{\"type\":\"bytes\","
          "\"logicalType\":\"decimal\",\"precision\":10,\"scale\":2}},{\"name\":\"when\",\"type\":"
          "{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"}},{\"name\":\"inner\",\"type\":"
          "{\"type\":\"record\",\"name\":\"I\",\"fields\":[{\"name\":\"k\",\"type\":{\"type\":"
          "\"array\",\"items\":\"int\"}},{\"name\":\"d\",\"type\":\"string\",\"default\":\"dflt\"}]"
          "}},"
          "{\"name\":\"raw\",\"type\":\"bytes\"},{\"name\":\"extra\",\"type\":[\"null\",\"int\"],"
          "\"default\":null},{\"name\":\"prediction\",\"type\":\"float\"}]}",
          fp);
    fclose(fp);
    set_param("sml.serializer.schema", path);
    cr_assert_eq(avro_instance(numbers + 2, 0, 1, SYMTASK_ROLE_ENCODE), SYMTASK_OK, "%s", errstr);
    symtask_field_t in[6] = {
        {"n", 1, {SYMTASK_TYPE_NUMBER, 0, 12345678901234567890.0, "1234567890123456789", 19}},
        {"c", 1, symtask_value_string("B", 1)},
        {"amount", 6, {SYMTASK_TYPE_NUMBER, 0, -3.5, "-3.50", 5}},
        {"when", 4, symtask_value_number(1709208000123.0)},
        {"inner", 5, {SYMTASK_TYPE_NESTED, 0, 0, "{\"k\":[1,2,3]}", 13}},
        {"raw", 3,
         symtask_value_string("\xc3\xbf"
                              "A",
                              3)}, /* U+00FF, 'A': two bytes */
    };
    symtask_field_t outs[1] = {{"prediction", 10, symtask_value_number(0.25)}};
    symtask_fields_t f = {in, 6}, o = {outs, 1};
    symtask_status_t s;
    cr_assert_not_null(encode_fields_with(NULL, &f, &o, &s), "%s", errstr);
    av_bytes_t rec = {(unsigned char *)out.data, out.len};
    char *json = avr_decode(&reg, &rec, 1);
    cr_expect(strstr(json, "\"value\": {\"amount\": {\"$decimal\": \"-3.50\"}, \"c\": \"B\", "
                           "\"extra\": null, \"inner\": {\"d\": \"dflt\", \"k\": [1, 2, 3]}, "
                           "\"n\": 1234567890123456789, \"prediction\": 0.25, \"raw\": "
                           "{\"$bytes\": \"ff41\"}, \"when\": {\"$timestamp\": "
                           "\"2024-02-29T12:00:00.123000\"}}") != NULL,
              "%s", json);
    free(json);
    cr_expect_eq(avr_count(&reg, "POST /subjects/out-value/versions 200"), 1);

    /* what the schema cannot hold goes to the dead letters, naming the field */
    in[1] = (symtask_field_t){"c", 1, symtask_value_string("Z", 1)};
    cr_expect_null(encode_fields_with(NULL, &f, &o, &s));
    cr_expect_eq(s, SYMTASK_ERR_RECORD);
    cr_expect_str_eq(errstr, "field 'c' is no symbol of enum s.C");
    in[1] = (symtask_field_t){"c", 1, symtask_value_string("A", 1)};
    in[2] = (symtask_field_t){"amount", 6, {SYMTASK_TYPE_NUMBER, 0, 0.125, "0.125", 5}};
    cr_expect_null(encode_fields_with(NULL, &f, &o, &s));
    cr_expect_str_eq(errstr, "field 'amount' has more decimal places than its scale (2)");
    in[2] = (symtask_field_t){"amount", 6, symtask_value_number(1)};
    in[0] = (symtask_field_t){"n", 1, symtask_value_number(1.5)};
    cr_expect_null(encode_fields_with(NULL, &f, &o, &s));
    cr_expect_str_eq(errstr, "field 'n' is a number that is no long (a whole number of 64 bits)");
    f.count = 1;
    in[0] = (symtask_field_t){"n", 1, symtask_value_number(1)};
    cr_expect_null(encode_fields_with(NULL, &f, &o, &s));
    cr_expect_str_eq(errstr, "field 'c' of the sink's schema is missing from the record, and the "
                             "schema gives it no default");

    /* a file that is no schema, or no record */
    fp = fopen(path, "w");
    fputs("{\"type\":\"recrod\"}", fp);
    fclose(fp);
    cr_expect_eq(avro_instance(numbers + 2, 0, 1, SYMTASK_ROLE_ENCODE), SYMTASK_ERR_FATAL);
    cr_expect(strstr(errstr, "params.sml.serializer.out.schema: ") != NULL &&
                  strstr(errstr, "is not a valid Avro schema (Apache Avro C: ") != NULL,
              "%s", errstr);
    /* the source is Avro: the file has no use */
    cr_expect_eq(avro_instance(numbers, 2, 1, SYMTASK_ROLE_DECODE | SYMTASK_ROLE_ENCODE),
                 SYMTASK_ERR_FATAL);
    cr_expect(strstr(errstr, "params.sml.serializer.schema: the source is Avro") != NULL, "%s",
              errstr);
}

/* ---- The registry: settings and faults ---------------------------------------------------- */

Test(avro, registry_settings)
{
    set_param("schema.registry.url", "ftp://r:1");
    expect_create_refused("params.schema.registry.url: 'ftp://r:1' is not an http:// or https:// "
                          "URL");
    set_param("schema.registry.url", "http://a:1, https://reader:pw@b:2/");
    expect_create_refused("params.schema.registry.url: a URL holds credentials (user:password@): "
                          "give them in schema.registry.basic.auth.user.info instead");
    set_param("schema.registry.url", reg.url);
    set_param("schema.registry.request.timeout.ms", "0");
    expect_create_refused("params.schema.registry.request.timeout.ms: '0' is not 1 to 25000");
    set_param("schema.registry.url", "http://a:1,http://b:2,http://c:3");
    set_param("schema.registry.request.timeout.ms", "10000");
    expect_create_refused("params.schema.registry.request.timeout.ms: 10000 ms for each of the 3 "
                          "URLs of schema.registry.url is more than 25 s, too long for one call "
                          "of the worker (task.heartbeat_timeout_ms): lower it");
    set_param("schema.registry.request.timeout.ms", NULL);
    set_param("schema.registry.url", reg.url);
    set_param("schema.registry.basic.auth.user.info", "nocolon");
    expect_create_refused("params.schema.registry.basic.auth.user.info: not of the form "
                          "user:password (the value is not shown: secret)");
}

Test(avro, a_registry_that_cannot_be_reached_at_bind_or_later)
{
    /* a URL that refuses connections, then the good one: the second answers */
    char urls[200];
    snprintf(urls, sizeof(urls), "http://127.0.0.1:1,%s", reg.url);
    set_param("schema.registry.url", urls);
    cr_assert_eq(avro_instance(numbers, 2, 1, SYMTASK_ROLE_DECODE | SYMTASK_ROLE_ENCODE),
                 SYMTASK_OK, "%s", errstr);
    av_bytes_t in = one(XY_SCHEMA, "{\"id\":\"a\",\"x1\":1,\"x2\":2}");
    cr_assert_eq(decode_bytes(in), SYMTASK_OK, "%s", errstr);

    /* only the dead one: bind answers RETRIABLE (the check at create refuses), naming it */
    set_param("schema.registry.url", "http://127.0.0.1:1");
    cr_expect_eq(avro_instance(numbers, 2, 1, SYMTASK_ROLE_DECODE | SYMTASK_ROLE_ENCODE),
                 SYMTASK_ERR_RETRIABLE);
    cr_expect(strncmp(errstr, "schema registry http://127.0.0.1:1 cannot be reached (", 54) == 0 &&
                  strstr(errstr, "): check schema.registry.url, or set "
                                 "sml.serializer.registry.check = false to create the task while "
                                 "the registry is down") != NULL,
              "%s", errstr);
    /* without the check the instance starts; its records wait */
    set_param("sml.serializer.registry.check", "false");
    cr_assert_eq(avro_instance(numbers, 2, 1, SYMTASK_ROLE_DECODE | SYMTASK_ROLE_ENCODE),
                 SYMTASK_OK, "%s", errstr);
    cr_expect_eq(decode_bytes(in), SYMTASK_ERR_RETRIABLE);
    cr_expect(strstr(errstr, "schema registry http://127.0.0.1:1 cannot be reached") != NULL, "%s",
              errstr);

    /* the registry stops and comes back on its port: a known id needs no registry; a new
     * schema waits for it */
    set_param("schema.registry.url", reg.url);
    cr_assert_eq(avro_instance(numbers, 2, 1, SYMTASK_ROLE_DECODE | SYMTASK_ROLE_ENCODE),
                 SYMTASK_OK, "%s", errstr);
    cr_assert_eq(decode_bytes(in), SYMTASK_OK, "%s", errstr);
    int port = reg.port;
    avr_stop(&reg);
    cr_expect_eq(decode_bytes(in), SYMTASK_OK, "%s", errstr);
    double p = 2;
    symtask_status_t s;
    av_bytes_t o = encode_bytes(in, &p, &s);
    cr_expect_eq(s, SYMTASK_ERR_RETRIABLE, "registering needs the registry");
    cr_expect(strstr(errstr, "cannot be reached") != NULL, "%s", errstr);
    avr_bytes_free(&o, 1);
    avr_start(&reg, dir, port, NULL); /* a new, empty registry on the same port */
    o = encode_bytes(in, &p, &s);
    cr_expect_eq(s, SYMTASK_OK, "%s", errstr);
    avr_bytes_free(&o, 1);
    avr_bytes_free(&in, 1);
}

Test(avro, a_registry_that_answers_5xx_is_a_passing_failure)
{
    av_bytes_t in = one(XY_SCHEMA, "{\"id\":\"a\",\"x1\":1,\"x2\":2}");
    avr_fault(&reg, "503");
    cr_expect_eq(decode_bytes(in), SYMTASK_ERR_RETRIABLE);
    char want[256];
    snprintf(want, sizeof(want),
             "schema registry %s answers 503 to GET /schemas/ids/%u (error code 50301: test "
             "registry told to answer 503)",
             reg.url, id_of(in));
    cr_expect_str_eq(errstr, want);
    avr_fault(&reg, NULL);
    cr_expect_eq(decode_bytes(in), SYMTASK_OK, "%s", errstr);
    avr_bytes_free(&in, 1);
}

Test(avro, credentials_and_a_registry_that_refuses_them)
{
    avr_stop(&reg);
    avr_start(&reg, dir, 0, "--user-info reader:s3cr3t");
    set_param("schema.registry.url", reg.url);
    /* no credentials: the check at create says so */
    cr_expect_eq(avro_instance(numbers, 2, 1, SYMTASK_ROLE_DECODE | SYMTASK_ROLE_ENCODE),
                 SYMTASK_ERR_FATAL);
    char want[256];
    snprintf(want, sizeof(want),
             "schema registry %s asks for credentials (401 to GET /subjects): set "
             "schema.registry.basic.auth.user.info",
             reg.url);
    cr_expect_str_eq(errstr, want);
    set_param("schema.registry.basic.auth.user.info", "reader:wrong");
    cr_expect_eq(avro_instance(numbers, 2, 1, SYMTASK_ROLE_DECODE | SYMTASK_ROLE_ENCODE),
                 SYMTASK_ERR_FATAL);
    cr_expect(strstr(errstr, "refuses the credentials of schema.registry.basic.auth.user.info (401 "
                             "to GET /subjects): correct them") != NULL &&
                  strstr(errstr, "wrong") == NULL,
              "%s", errstr);
    set_param("schema.registry.basic.auth.user.info", "reader:s3cr3t");
    cr_assert_eq(avro_instance(numbers, 2, 1, SYMTASK_ROLE_DECODE | SYMTASK_ROLE_ENCODE),
                 SYMTASK_OK, "%s", errstr);
    /* records.py registers without credentials: a registry of its own for it */
    av_registry_t open_reg;
    char open_dir[300];
    snprintf(open_dir, sizeof(open_dir), "%s/open", dir);
    cr_assert_eq(mkdir(open_dir, 0700), 0);
    avr_start(&open_reg, open_dir, 0, "--first-id 1");
    av_registry_t saved = reg;
    reg = open_reg;
    av_bytes_t in = one(XY_SCHEMA, "{\"id\":\"a\",\"x1\":1,\"x2\":2}");
    reg = saved;
    avr_stop(&open_reg);
    /* id 1 is unknown to the registry with credentials: it is asked, with them */
    cr_expect_eq(decode_bytes(in), SYMTASK_ERR_RECORD);
    cr_expect(strstr(errstr, "Schema 1 not found") != NULL, "%s", errstr);
    /* a 403 later fails the task, naming the URL and not the credentials */
    in.data[4] = 2;
    avr_fault(&reg, "403");
    cr_expect_eq(decode_bytes(in), SYMTASK_ERR_FATAL);
    snprintf(want, sizeof(want),
             "schema registry %s denies access (403 to GET /schemas/ids/2): give the user of "
             "schema.registry.basic.auth.user.info the right to it",
             reg.url);
    cr_expect_str_eq(errstr, want);
    cr_expect(strstr(errstr, "s3cr3t") == NULL);
    avr_bytes_free(&in, 1);
}

Test(avro, an_https_registry_checked_against_a_ca_file)
{
    if (system("command -v openssl >/dev/null 2>&1") != 0)
        cr_skip_test("the openssl command is not installed");
    char cmd[1024], cert[400], key[400];
    snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
    snprintf(key, sizeof(key), "%s/key.pem", dir);
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey rsa:2048 -nodes -keyout '%s' -out '%s' -days 1 -subj "
             "/CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1",
             key, cert);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    avr_stop(&reg);
    char args[1024];
    snprintf(args, sizeof(args), "--cert %s --key %s", cert, key);
    avr_start(&reg, dir, 0, args);
    set_param("schema.registry.url", reg.url);
    /* the system's CAs do not know it */
    cr_expect_eq(avro_instance(numbers, 2, 1, SYMTASK_ROLE_DECODE | SYMTASK_ROLE_ENCODE),
                 SYMTASK_ERR_RETRIABLE);
    cr_expect(strstr(errstr, "certificate") != NULL, "%s", errstr);
    set_param("schema.registry.ssl.ca.location", cert);
    cr_assert_eq(avro_instance(numbers, 2, 1, SYMTASK_ROLE_DECODE | SYMTASK_ROLE_ENCODE),
                 SYMTASK_OK, "%s", errstr);
    av_bytes_t in = one(XY_SCHEMA, "{\"id\":\"a\",\"x1\":1,\"x2\":2}");
    cr_assert_eq(decode_bytes(in), SYMTASK_OK, "%s", errstr);
    cr_expect_eq(feat[0], 1);
    avr_bytes_free(&in, 1);
}

Test(avro, a_url_that_names_no_registry_fails_the_check_and_the_task)
{
    char url[128];
    snprintf(url, sizeof(url), "%s/not-here", reg.url);
    set_param("schema.registry.url", url);
    cr_expect_eq(avro_instance(numbers, 2, 1, SYMTASK_ROLE_DECODE | SYMTASK_ROLE_ENCODE),
                 SYMTASK_ERR_FATAL);
    char want[512];
    snprintf(want, sizeof(want),
             "%s answers 404 to GET /subjects (error code 404: HTTP 404 Not Found: GET "
             "/not-here/subjects), as no schema registry does for it: check schema.registry.url",
             url);
    cr_expect_str_eq(errstr, want);
    /* created without the check, its first record fails the task */
    set_param("sml.serializer.registry.check", "false");
    cr_assert_eq(avro_instance(numbers, 2, 1, SYMTASK_ROLE_DECODE | SYMTASK_ROLE_ENCODE),
                 SYMTASK_OK, "%s", errstr);
    av_bytes_t in = one(XY_SCHEMA, "{\"id\":\"a\",\"x1\":1,\"x2\":2}");
    cr_expect_eq(decode_bytes(in), SYMTASK_ERR_FATAL);
    cr_expect(strstr(errstr, "answers 404 to GET /schemas/ids/") != NULL, "%s", errstr);
    avr_bytes_free(&in, 1);
}

Test(avro, a_registry_that_refuses_the_sinks_schema)
{
    av_bytes_t in = one(XY_SCHEMA, "{\"id\":\"a\",\"x1\":1,\"x2\":2}");
    cr_assert_eq(decode_bytes(in), SYMTASK_OK, "%s", errstr);
    avr_fault(&reg, "409");
    double p = 1;
    symtask_status_t s;
    av_bytes_t o = encode_bytes(in, &p, &s);
    cr_expect_eq(s, SYMTASK_ERR_RECORD);
    char want[512];
    snprintf(want, sizeof(want),
             "the sink's schema for records of schema id %u cannot be registered under out-value: "
             "schema registry %s: test registry told to answer 409 (409, error code 409)",
             id_of(in), reg.url);
    cr_expect_str_eq(errstr, want);
    avr_bytes_free(&o, 1);
    /* the refusal holds for a while, without asking the registry for each record */
    avr_fault(&reg, NULL);
    o = encode_bytes(in, &p, &s);
    cr_expect_eq(s, SYMTASK_ERR_RECORD);
    cr_expect_str_eq(errstr, want);
    cr_expect_eq(avr_count(&reg, "POST /subjects/out-value/versions "), 1);
    avr_bytes_free(&o, 1);
    avr_bytes_free(&in, 1);
}

Test(avro, a_registry_that_does_not_answer_in_time)
{
    set_param("schema.registry.request.timeout.ms", "300");
    cr_assert_eq(avro_instance(numbers, 2, 1, SYMTASK_ROLE_DECODE | SYMTASK_ROLE_ENCODE),
                 SYMTASK_OK, "%s", errstr);
    av_bytes_t in = one(XY_SCHEMA, "{\"id\":\"a\",\"x1\":1,\"x2\":2}");
    avr_fault(&reg, "hang 5");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cr_expect_eq(decode_bytes(in), SYMTASK_ERR_RETRIABLE);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double took = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    /* promptly: the worker waits, not the call (bounds are loose for a busy machine) */
    cr_expect(took < 3, "the call took %.1f s", took);
    cr_expect(strstr(errstr, "cannot be reached (Operation timed out after 3") != NULL, "%s",
              errstr);
    avr_fault(&reg, NULL);
    avr_bytes_free(&in, 1);
}

Test(avro, a_schema_that_is_no_record)
{
    av_bytes_t s = one("\"string\"", "\"just text\"");
    cr_expect_eq(decode_bytes(s), SYMTASK_ERR_RECORD);
    char want[256];
    snprintf(want, sizeof(want),
             "schema id %u is no record schema: the avro serializer reads records of fields",
             id_of(s));
    cr_expect_str_eq(errstr, want);
    avr_bytes_free(&s, 1);
}
