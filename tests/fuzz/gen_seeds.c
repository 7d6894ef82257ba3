/* gen_seeds.c: writes the seed corpus of the fuzz targets (tests/fuzz/corpus/), signing and
 * encrypting with the keys of fuzz_util.h. Run by hand when an input format changes:
 *   build-fuzz/tests/fuzz/gen_seeds tests/fuzz/corpus
 * Sealed seeds differ on each run (random nonces). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "auth.h"
#include "crypto.h"
#include "sign.h"
#include "fuzz_util.h"

static const char *outdir;

static void write_seed(const char *sub, const char *name, const void *data, size_t size)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", outdir, sub);
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        fuzz_die(path);
    snprintf(path, sizeof(path), "%s/%s/%s", outdir, sub, name);
    FILE *fp = fopen(path, "wb");
    if (fp == NULL || fwrite(data, 1, size, fp) != size || fclose(fp) != 0)
        fuzz_die(path);
}

/* ---- auth: absent-mask, then fields separated by '\n' (see fuzz_auth.c) ---------------- */

typedef struct seed_req {
    const char *f[F_COUNT]; /* NULL: absent */
} seed_req_t;

static void write_auth(const char *name, const seed_req_t *r)
{
    char buf[4096];
    unsigned absent = 0;
    size_t n = 2;
    for (int i = 0; i < F_COUNT; i++) {
        const char *s = r->f[i] != NULL ? r->f[i] : "";
        if (r->f[i] == NULL)
            absent |= 1u << i;
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s", s, i < F_BODY ? "\n" : "");
    }
    buf[0] = (char)(absent & 0xff);
    buf[1] = (char)(absent >> 8);
    write_seed("auth", name, buf, n);
}

/* Fills Content-MD5 and a valid Authorization for customer c1. */
static void sign(seed_req_t *r, char md5[25], char sig[45])
{
    const char *body = r->f[F_BODY];
    md5[0] = '\0';
    if (body != NULL && body[0] != '\0') {
        crypto_md5_b64(body, strlen(body), md5);
        r->f[F_CONTENT_MD5] = md5;
    }
#define STR(s) ((sign_str_t){(s), (s) != NULL ? strlen(s) : 0})
    sign_parts_t parts = {
        .method = STR(r->f[F_METHOD]),
        .content_md5 = STR(r->f[F_CONTENT_MD5]),
        .sym_date = STR(r->f[F_SYM_DATE]),
        .cid = STR(r->f[F_CUSTOMER_ID]),
        .body = STR(body),
        .path = STR(r->f[F_PATH]),
        .query = STR(r->f[F_QUERY]),
    };
    sign_authorization(&parts, STR(FUZZ_SECRET_C1), fuzz_key_c1, 16, sig);
#undef STR
    r->f[F_AUTHORIZATION] = sig;
}

#define TI_MINIMAL                                                                                 \
    "{\"type\":\"kstream\",\"name\":\"t1\",\"params\":{\"sml.kstream.source.topic\":\"in\","       \
    "\"sml.kstream.sink.topic\":\"out\",\"sml.predictor\":\"linear\"}}"

static void auth_seeds(void)
{
    char md5[25], sig[45];
    seed_req_t get = {{"GET", "/symetry/rest/c1/tasks", NULL, "c1", "c1", FUZZ_DATE}};
    sign(&get, md5, sig);
    write_auth("get_valid", &get);

    seed_req_t post = {{"POST", "/symetry/rest/c1/tasks/create", "force=true", "c1", "c1",
                        FUZZ_DATE, NULL, NULL, TI_MINIMAL}};
    sign(&post, md5, sig);
    write_auth("post_valid", &post);

    seed_req_t r = post;
    r.f[F_AUTHORIZATION] = "IlbrmFHWCEwF525gTrJS3s44nOCZikg8JZ3YhShLIcw=";
    write_auth("post_bad_signature", &r);
    r = post;
    r.f[F_CONTENT_MD5] = "FYXiypiYi9tE8Jn5WjYZ+Q==";
    write_auth("post_bad_md5", &r);
    r = get;
    r.f[F_SYM_DATE] = "2026-11-28 13:55:08";
    write_auth("date_no_nanos", &r);
    r.f[F_SYM_DATE] = "2026-11-28 13:45:08;0";
    write_auth("date_too_old", &r);
    r.f[F_SYM_DATE] = "2024-02-29 23:59:59;999999999";
    write_auth("date_leap", &r);
    r = get;
    r.f[F_CUSTOMER_ID] = "c2";
    write_auth("cid_mismatch", &r);
    r = get;
    r.f[F_AUTHORIZATION] = NULL;
    write_auth("no_authorization", &r);
    r = get;
    r.f[F_SYM_DATE] = NULL;
    write_auth("no_date", &r);
    write_seed("auth", "raw_date", FUZZ_DATE, strlen(FUZZ_DATE));
}

/* ---- taskinfo: request bodies, plain and in both encrypted forms ----------------------- */

static const struct {
    const char *name, *json;
    int encrypt;
} taskinfos[] = {
    {"minimal", TI_MINIMAL, 1},
    {"full",
     "{\"type\":\"kstream\",\"name\":\"fraud-score.v2\",\"params\":{"
     "\"sml.kstream.source.topic\":\"tx\",\"sml.kstream.sink.topic\":\"scores\","
     "\"sml.kstream.dlq.topic\":\"tx.bad\",\"sml.kstream.app.id\":\"fraud app\","
     "\"sml.kstream.client.id\":\"c-1\",\"sml.kstream.record.poll.max\":\"500\","
     "\"sml.kstream.schedule.ms\":\"1000\",\"sml.kstream.model.b64file\":\"bW9kZWw=\","
     "\"sml.kstream.errors.tolerance\":\"all\",\"sml.kstream.guarantee\":\"at_least_once\","
     "\"sml.predictor\":\"linear\",\"sml.predictor.threshold\":\"0.5\","
     "\"sml.serializer\":\"json\",\"sml.serializer.out\":\"json\","
     "\"sml.task.heap.min\":\"512m\",\"sml.task.heap.max\":\"2g\","
     "\"bootstrap.servers\":\"127.0.0.1:9092\",\"security.protocol\":\"sasl_ssl\","
     "\"sasl.mechanism\":\"PLAIN\",\"sasl.username\":\"u\",\"sasl.password\":\"hunter2\","
     "\"kafka.consumer.auto.offset.reset\":\"earliest\",\"kafka.producer.linger.ms\":\"5\"}}",
     1},
    {"exactly_once",
     "{\"type\":\"kstream\",\"name\":\"t1\",\"params\":{\"sml.kstream.source.topic\":\"in\","
     "\"sml.kstream.sink.topic\":\"out\",\"sml.predictor\":\"linear\","
     "\"sml.kstream.guarantee\":\"exactly_once\"}}",
     1},
    {"forbidden_prop",
     "{\"type\":\"kstream\",\"name\":\"t1\",\"params\":{\"sml.kstream.source.topic\":\"in\","
     "\"sml.kstream.sink.topic\":\"out\",\"sml.predictor\":\"linear\","
     "\"kafka.consumer.plugin.library.paths\":\"/tmp/x.so\"}}",
     0},
    {"bad_values",
     "{\"type\":\"kstream\",\"name\":\"t 1\",\"params\":{\"sml.kstream.source.topic\":\"in\","
     "\"sml.kstream.sink.topic\":\"in\",\"sml.predictor\":\"Linear\","
     "\"sml.task.heap.max\":\"12q\",\"sasl.kerberos.keytab\":\"$(id)\"}}",
     0},
    {"nul_and_dup",
     "{\"type\":\"kstream\",\"name\":\"t1\",\"name\":\"t2\",\"params\":{"
     "\"sml.kstream.source.topic\":\"a\\u0000b\"}}",
     0},
    {"not_object", "[\"kstream\", 1, 2.5e300, null, true, {\"a\": {}}]", 0},
};

static void taskinfo_seeds(void)
{
    char name[64];
    for (size_t i = 0; i < sizeof(taskinfos) / sizeof(taskinfos[0]); i++) {
        const char *json = taskinfos[i].json;
        snprintf(name, sizeof(name), "%s.json", taskinfos[i].name);
        write_seed("taskinfo", name, json, strlen(json));
        if (!taskinfos[i].encrypt)
            continue;
        char *wire = crypto_legacy_encrypt(fuzz_key_c1, json, strlen(json));
        snprintf(name, sizeof(name), "%s.legacy", taskinfos[i].name);
        write_seed("taskinfo", name, wire, strlen(wire));
        free(wire);
        wire = crypto_sealed_encrypt(fuzz_key_c1, FUZZ_CID, json, strlen(json));
        snprintf(name, sizeof(name), "%s.sealed", taskinfos[i].name);
        write_seed("taskinfo", name, wire, strlen(wire));
        free(wire);
    }
}

/* ---- config: config files and customers files ----------------------------------------- */

static const struct {
    const char *name, *text;
} configs[] = {
    {"full.conf", "# symtaskd.conf\n"
                  "listen = 127.0.0.1:8080\n"
                  "listen = [::1]:8443\n"
                  "listen=:9000\n"
                  "state.dir = /var/lib/symtask\n"
                  "plugin.dir = \"/usr/lib/symtask/plugins\"  # quoted\n"
                  "worker.path = /usr/libexec/symtask/symtask-worker\n"
                  "customers.file = /etc/symtask/customers\n"
                  "kafka.bootstrap.servers = \n"
                  "kafka.embedded = yes\n"
                  "kafka.embedded.brokers = 3\n"
                  "kafka.embedded.partitions = 4\n"
                  "sml.task.max = 16\n"
                  "auth.allow_plaintext_taskinfo = off\n"
                  "log.level = debug\n"
                  "tls.cert = /etc/symtask/cert.pem\n"
                  "tls.key = /etc/symtask/key.pem\n"
                  "http.max_body = 512k\n"
                  "task.stop_timeout_ms = 10000\n"
                  "task.restart_backoff_ms = 1000\n"
                  "task.restart_backoff_max_ms = 30000\n"
                  "task.restart_max = 5\n"
                  "task.heartbeat_timeout_ms = 30000\n"},
    {"cli_listen.conf", "listen=[fe80::1%eth0]:80\nlisten = a.b-c_d:65535\n"},
    {"bad_quote.conf", "state.dir = \"/var/lib/symtask\n"},
    {"bad_after_quote.conf", "state.dir = \"/x\" y\n"},
    {"no_equals.conf", "listen 127.0.0.1:8080\n"},
    {"bad_number.conf", "sml.task.max = 1025\nhttp.max_body = 99999999999999999999g\n"},
    {"too_many_listen.conf", "listen=:1\nlisten=:2\nlisten=:3\nlisten=:4\nlisten=:5\n"
                             "listen=:6\nlisten=:7\nlisten=:8\nlisten=:9\n"},
    {"size", "1024M"},
    {"customers", "# customers\nc1:" FUZZ_SECRET_C1 "\n  c2 : " FUZZ_SECRET_C2 "  # second\n"},
    {"customers_bad", "c1:" FUZZ_SECRET_C1 "\nc1:" FUZZ_SECRET_C2 "\n..:" FUZZ_SECRET_C1
                      "\nc3:MxFhjhfqOx6XNhZWabcW\nc4:not base64!\n"},
};

static void config_seeds(void)
{
    for (size_t i = 0; i < sizeof(configs) / sizeof(configs[0]); i++)
        write_seed("config", configs[i].name, configs[i].text, strlen(configs[i].text));
}

/* ---- dtoa: doubles as 8 bytes of bits, and decimal spellings (see fuzz_dtoa.c) --------- */

static const struct {
    const char *name;
    uint64_t bits;
} dtoa_doubles[] = {
    {"zero", 0x0000000000000000},
    {"neg_zero", 0x8000000000000000},
    {"one", 0x3ff0000000000000},
    {"one_next", 0x3ff0000000000001},          /* 1.0000000000000002: 17 digits */
    {"one_prev", 0x3fefffffffffffff},          /* 0.9999999999999999 */
    {"tenth", 0x3fb999999999999a},             /* 0.1 */
    {"tenth_plus_fifth", 0x3fd3333333333334},  /* 0.30000000000000004 */
    {"min_subnormal", 0x0000000000000001},     /* 5e-324 */
    {"two_min_subnormal", 0x0000000000000002}, /* 1e-323; 9e-324 is as short (dtoa.c) */
    {"max_subnormal", 0x000fffffffffffff},     /* 2.225073858507201e-308 */
    {"min_normal", 0x0010000000000000},        /* 2.2250738585072014e-308, narrow below */
    {"max", 0x7fefffffffffffff},               /* 1.7976931348623157e+308 */
    {"pow2_53", 0x4340000000000000},           /* 9007199254740992, the last written whole */
    {"pow2_53_next", 0x4340000000000001},      /* 9007199254740994: %g from here */
    {"below_pow2_52", 0x432fffffffffffff},     /* 4503599627370495.5 */
    {"above_pow2_52", 0x4330000000000001},     /* 4503599627370497 */
    {"e15", 0x430c6bf526340000},               /* 1e15 */
    {"e16", 0x4341c37937e08000},               /* 1e16: above 2^53, "1e+16" */
    {"e22", 0x4480f0cf064dd592},               /* 1e22, the last exact power of ten */
    {"e23", 0x44b52d02c7e14af6},               /* 1e23, whose double lies below 10^23 */
    {"e23_next", 0x44b52d02c7e14af7},          /* 1.0000000000000001e+23 */
    {"e_minus_5", 0x3ee4f8b588e368f1},         /* 1e-05: the first in exponent notation */
    {"e_minus_4", 0x3f1a36e2eb1c432d},         /* 0.0001: the last in fixed notation */
    {"min_normal_next", 0x0010000000000001},   /* 2.225073858507202e-308 */
    {"pow2_1023", 0x7fe0000000000000},         /* 8.98846567431158e+307, narrow below */
    {"pow2_minus_1000", 0x0170000000000000},   /* 9.332636185032189e-302, narrow below */
    {"nan", 0x7ff8000000000000},
    {"neg_nan_payload", 0xfff0000000000001},
    {"inf", 0x7ff0000000000000},
    {"neg_inf", 0xfff0000000000000},
    {"neg_big", 0xc7efffffffffffff}, /* -3.4028236692093843e+38 */
};

static const char *const dtoa_texts[][2] = {
    {"text_e23", "1e23"},
    {"text_2p53_plus_1", "9007199254740993"},
    {"text_min_subnormal", "0x1p-1074"},
    {"text_max_subnormal", "2.2250738585072011e-308"},
    {"text_tie", "9.8813129168249309e-324"},
    {"text_long", "123456789012345678901"},
};

static void dtoa_seeds(void)
{
    /* Two doubles in a row: 9 windows, 7 of them straddling both (fuzz_dtoa reads the
     * windows of the first 16 bytes). */
    const double pair[2] = {2.2250738585072014e-308, 0.1};
    for (size_t i = 0; i < sizeof(dtoa_doubles) / sizeof(dtoa_doubles[0]); i++) {
        /* The host's byte order, as fuzz_dtoa reads them. */
        double v;
        memcpy(&v, &dtoa_doubles[i].bits, sizeof(v));
        write_seed("dtoa", dtoa_doubles[i].name, &v, sizeof(v));
    }
    write_seed("dtoa", "windows", pair, sizeof(pair));
    for (size_t i = 0; i < sizeof(dtoa_texts) / sizeof(dtoa_texts[0]); i++)
        write_seed("dtoa", dtoa_texts[i][0], dtoa_texts[i][1], strlen(dtoa_texts[i][1]));
}

/* ---- record: JSON and CSV record values (see fuzz_record.c) ---------------------------- */

/* CSV lines are over the columns id,x1,x2,x3,été,note of fuzz_record.c. */
static const struct {
    const char *name, *value;
} records[] = {
    /* JSON */
    {"minimal.json", "{\"x1\":1.5,\"x2\":-2,\"x3\":null}"},
    {"empty.json", "{}"},
    {"empty_spaced.json", " { \n } \n"},
    {"spacing.json", " \t\r\n{ \"x1\" : 1 ,\n\t\"x2\":\r\n2 , \"\xc3\xa9t\xc3\xa9\" :3 } \r\n"},
    {"other_types.json", "{\"a\":\"s\",\"x1\":1,\"b\":[1,{\"c\":null},[]],\"d\":{\"e\":true,"
                         "\"f\":{}},\"x2\":2,\"g\":false,\"x10\":\"no\"}"},
    {"escapes.json", "{\"s\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0000\\uFFFF\\ud83d\\ude00\","
                     "\"\\u00e9t\\u00e9\":3,\"x\\u0031\":4,\"caf\xc3\xa9\":\"\xe2\x82\xac\"}"},
    {"nul_key.json", "{\"\\u0000\":1,\"x1\":2}"},
    {"duplicates.json", "{\"x1\":1,\"x2\":2,\"x1\":3,\"x2\":null}"},
    {"duplicate_string.json", "{\"x1\":\"a\",\"x1\":5}"},
    {"wrong_type.json", "{\"x1\":\"1.5\",\"x2\":true,\"x3\":[1]}"},
    {"collision.json", "{\"prediction\":1,\"a\":2, \"score\" : \"x\" ,\"x1\":0.5}"},
    {"collision_escaped.json", "{\"predicti\\u006fn\":1,\"a\":\"\\n\"}"},
    {"nested.json", "{\"a\":[[[[[[[[[[{\"b\":{\"c\":[1,2,{\"d\":[]}]}}]]]]]]]]]],\"x2\":0.5}"},
    {"clinger_edges.json", "{\"x1\":9007199254740993,\"x2\":9007199254740992,\"x3\":1e22,"
                           "\"\xc3\xa9t\xc3\xa9\":1e23}"},
    {"clinger_scaled.json", "{\"x1\":9007199254740993e-22,\"x2\":9007199254740992e-22,"
                            "\"x3\":1e-22,\"\xc3\xa9t\xc3\xa9\":1e-23}"},
    {"decimals.json", "{\"x1\":0.1,\"x2\":0.3,\"x3\":0.1e-5,\"\xc3\xa9t\xc3\xa9\":-0}"},
    {"long_integers.json", "{\"x1\":123456789012345678901,\"x2\":12345678901234567890,"
                           "\"x3\":1234567890123456789}"},
    {"range_edges.json", "{\"x1\":1e308,\"x2\":5e-324,\"x3\":2.2250738585072011e-308,"
                         "\"\xc3\xa9t\xc3\xa9\":1.7976931348623157e308}"},
    {"underflow.json", "{\"x1\":1e-400,\"x2\":0e999999999,\"x3\":-0.0e0}"},
    {"overflow_other.json", "{\"big\":1e309,\"x1\":2,\"n\":[-1e400]}"},
    {"overflow_feature.json", "{\"x1\":1e309}"},
    {"leading_zero.json", "{\"x1\":01}"},
    {"array.json", "[1,2]"},
    {"bad_utf8.json", "{\"a\":\"\xc3\x28\",\"x1\":1}"},
    {"truncated.json", "{\"x1\":1.5,\"s\":\"a"},
    {"after_object.json", "{\"x1\":1} {}"},
    /* CSV */
    {"line.csv", "c-17,0.5,,1e5,-0,\"says \"\"hi\"\", twice\"\n"},
    {"crlf.csv", "a,1,2,3,4,b\r\n"},
    {"tabs.csv", "a\t1.5\t2\t3\t4\tb"},
    {"missing.csv", "a, 1.5 ,NaN,-nan,,\"x\""},
    {"quoted_numbers.csv", "a,\"1.5\",.5,5.,+7,z"},
    {"quoted_newline.csv", "\"a\nb\",1,2,3,4,\"c,d\""},
    {"clinger.csv", "a,9007199254740993,1e23,0.000000000000000000000000001,"
                    "12345678901234567890123,z"},
    {"not_finite.csv", "a,1e999,2,3,4,z"},
    {"not_number.csv", "a,0x10,inf,1,000,z"},
    {"quote_inside.csv", "a,1\"2,3,4,5,z"},
    {"field_count.csv", "a,1,2"},
};

/* An object holding x1 and arrays nested to @levels containers in all. */
static void deep_record(const char *name, int levels)
{
    char value[256];
    size_t n = (size_t)snprintf(value, sizeof(value), "{\"x1\":1,\"a\":");
    memset(value + n, '[', (size_t)levels - 1);
    n += (size_t)levels - 1;
    memset(value + n, ']', (size_t)levels - 1);
    n += (size_t)levels - 1;
    value[n++] = '}';
    write_seed("record", name, value, n);
}

static void record_seeds(void)
{
    for (size_t i = 0; i < sizeof(records) / sizeof(records[0]); i++)
        write_seed("record", records[i].name, records[i].value, strlen(records[i].value));
    /* The json serializer's nesting limit, 64 levels, and one more. */
    deep_record("depth_64.json", 64);
    deep_record("depth_65.json", 65);
}

/* ---- fields: the same record values, and typed ones (see fuzz_fields.c) ---------------- */

/* Values of every type for the typed paths: strings that look like something else, that need
 * quotes or escapes; booleans, nulls, nested values; outputs' names in the record; the typed
 * features x1:NUMBER, x2:STRING, x3:BOOL, été:ANY, note:ANY right and wrong. CSV lines are
 * over the columns id,x1,x2,x3,été,note, with ',' (csv typed, csv whole) or a tab (csv
 * perm). */
static const struct {
    const char *name, *value;
} typed_records[] = {
    /* JSON */
    {"look_alike_strings.json",
     "{\"s\":\"true\",\"b\":\"FALSE\",\"n\":\"12\",\"e\":\"\",\"sp\":\" x \",\"nan\":\"NaN\","
     "\"z\":\"02134\",\"x1\":1}"},
    {"quoting_strings.json",
     "{\"d\":\"a,b\",\"t\":\"a\\tb\",\"q\":\"say \\\"hi\\\"\",\"nl\":\"a\\nb\",\"cr\":\"\\r\","
     "\"nul\":\"a\\u0000b\",\"u\":\"caf\\u00e9 \\ud83d\\ude00\",\"bs\":\"\\\\\\/\"}"},
    {"every_type.json",
     "{\"t\":true,\"f\":false,\"n\":null,\"a\":[1,\"a\",{\"k\":null}],\"o\":{\"k\":[true]},"
     "\"s\":\"x\",\"x2\":-0.0}"},
    {"spellings.json", "{\"x1\":1E400,\"x2\":-0,\"x3\":12345678901234567890123,"
                       "\"\xc3\xa9t\xc3\xa9\":0.1e-400,\"note\":1.50}"},
    {"typed_features.json", "{\"x1\":1,\"x2\":\"s\",\"x3\":true,\"\xc3\xa9t\xc3\xa9\":[1],"
                            "\"note\":null}"},
    {"typed_wrong.json", "{\"x1\":1,\"x2\":\"s\",\"x3\":\"true\",\"note\":{}}"},
    {"typed_not_finite.json", "{\"x2\":\"s\",\"\xc3\xa9t\xc3\xa9\":1e999,\"x1\":-1e999}"},
    {"outputs_in_record.json", "{\"prediction\":\"old\",\"label\":1,\"flag\":null,\"a\":2,"
                               "\"score\":{}}"},
    {"long_escaped_key.json", "{\"a_long_first_nam\\u0065\":1,\"b\":[1]}"},
    {"first_key_nested.json", "{\"k\":{\"a\":[1,2]},\"last\":{\"b\":\"\\u0000\"}}"},
    {"not_utf8_tail.json", "{\"x1\":1} \xff\xfe"},
    {"truncated_number.json", "{\"x1\":1e400"},
    {"truncated_digits.json", "{\"x1\":\"a\",\"x2\":12345678901234567890123"},
    /* CSV */
    {"typed.csv", "c-17,+1,\"x,y\",TRUE,\"[1]\",-1e2"},
    {"typed_empty.csv", ",,,,,"},
    {"typed_quoted_empty.csv", "\"\",\"\",\"\",\"\",\"\",\"\""},
    {"typed_spaces.csv", "a, 1.5 , s , tRuE ,02134,false"},
    {"typed_bad_bool.csv", "a,1,s,maybe,x,y"},
    {"typed_nan.csv", "a,-NaN,\"q\"\"q\",,1e999,\"a\nb\"\r\n"},
    {"not_utf8.csv", "\xff,1,\xc3\x28,false,\"\xed\xa0\x80\",x"},
    {"tabs_typed.csv", "a\t1\t\"x\ty\"\tTRUE\t-0\t"},
    {"perm_two_wrong.csv", "a\tp\tq\t1\ts\tb"},
    {"perm_two_wrong_comma.csv", "a,p,q,1,s,b"},
};

static void fields_seeds(void)
{
    for (size_t i = 0; i < sizeof(records) / sizeof(records[0]); i++)
        write_seed("fields", records[i].name, records[i].value, strlen(records[i].value));
    for (size_t i = 0; i < sizeof(typed_records) / sizeof(typed_records[0]); i++)
        write_seed("fields", typed_records[i].name, typed_records[i].value,
                   strlen(typed_records[i].value));
    /* NUL bytes, which CSV takes as any other byte */
    static const char nul[] = "a,1,b\0c,true,x,\0";
    write_seed("fields", "nul.csv", nul, sizeof(nul) - 1);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    outdir = argv[1];
    auth_seeds();
    taskinfo_seeds();
    config_seeds();
    dtoa_seeds();
    record_seeds();
    fields_seeds();
    return 0;
}
