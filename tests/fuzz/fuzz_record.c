/* fuzz_record.c: libFuzzer target for the serializer plugins' record decoding and encoding,
 * plugins/serializers/json/json.c and plugins/serializers/csv/csv.c. They are compiled into
 * the target with coverage feedback (tests/fuzz/meson.build) instead of dlopen()ed, and
 * driven through their descriptors as the worker's pipeline drives them: create and bind
 * once, then decode each record and encode the ones that decode. The host table is the
 * loader's (workers/loader.c).
 *
 * Input: one Kafka record value. It goes to a json instance and to two csv instances (','
 * and tab between fields), each bound to the features x1, x2, x3, "été" and the outputs
 * "prediction" and "score", which receive the decoded x1 and x2.
 *
 * The json serializer is compared with jansson, which reads numbers with strtod as the
 * plugin must: both take or refuse a record alike, but for the differences json/README.md
 * documents, and agree on each feature's bits. The csv serializer is compared with a reading
 * of csv/README.md written here. What encode writes is checked against both READMEs. The
 * typed calls of plugin ABI 1.1 (decode_fields, encode_fields) are fuzz_fields.c's. */
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtoa.h"
#include "fuzz_serializer.h"
#include "loader.h"

#define N_FEATURES 4
#define N_OUTPUTS 2
#define ERRSTR_SIZE 512

/* "été" is also matched by a key spelt with escapes ("\u00e9t\u00e9"). */
static const char *const features[N_FEATURES] = {"x1", "x2", "x3", "\xc3\xa9t\xc3\xa9"};
static const char *const outputs[N_OUTPUTS] = {"prediction", "score"};

/* The columns of the csv instances; features[i] is column csv_feature_column[i]. */
#define CSV_COLUMNS "id,x1,x2,x3,\xc3\xa9t\xc3\xa9,note"
#define CSV_N_COLUMNS 6
static const size_t csv_feature_column[N_FEATURES] = {1, 2, 3, 4};

/* One bound plugin instance. */
typedef struct fuzz_serializer {
    const char *what; /* for messages */
    const symtask_serializer_ops_t *ops;
    void *inst;
    unsigned char delim; /* csv only */
} fuzz_serializer_t;

static symtask_host_t host;
static fuzz_serializer_t json_ser = {.what = "json"};
static fuzz_serializer_t csv_comma = {.what = "csv ','", .delim = ','};
static fuzz_serializer_t csv_tab = {.what = "csv tab", .delim = '\t'};
static symtask_buf_t out; /* reused, as the pipeline reuses its buffer */

static void fail(const fuzz_serializer_t *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

static void fail(const fuzz_serializer_t *s, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "fuzz_record: %s: ", s->what);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

/* ---- Setup ----------------------------------------------------------------------------- */

/* The binding of every instance, as the worker makes it for a predictor of numbers. */
static symtask_column_t columns[N_FEATURES + N_OUTPUTS];
static symtask_binding_t binding;

static void open_serializer(fuzz_serializer_t *s, const fuzz_params_t *params)
{
    char errstr[ERRSTR_SIZE] = "";
    for (size_t i = 0; i < N_FEATURES; i++)
        columns[i] = (symtask_column_t){features[i], SYMTASK_TYPE_NUMBER};
    for (size_t i = 0; i < N_OUTPUTS; i++)
        columns[N_FEATURES + i] = (symtask_column_t){outputs[i], SYMTASK_TYPE_NUMBER};
    binding = (symtask_binding_t){
        .roles = SYMTASK_ROLE_DECODE | SYMTASK_ROLE_ENCODE,
        .features = columns,
        .n_features = N_FEATURES,
        .outputs = columns + N_FEATURES,
        .n_outputs = N_OUTPUTS,
    };
    s->ops = &params->plugin->ops.serializer;
    if (s->ops->create(&host, (const symtask_params_t *)params, &s->inst, errstr, sizeof(errstr)) !=
            SYMTASK_OK ||
        s->ops->bind_typed(s->inst, &binding, errstr, sizeof(errstr)) != SYMTASK_OK)
        fail(s, "setup: %s", errstr);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char *const no_pairs[] = {NULL};
    static const char *const comma_pairs[] = {"sml.serializer.columns", CSV_COLUMNS, NULL};
    static const char *const tab_pairs[] = {"sml.serializer.columns", CSV_COLUMNS,
                                            "sml.serializer.delimiter", "\t", NULL};
    static fuzz_params_t json_params, comma_params, tab_params;

    /* The loader's buffers, numbers and log; only the params are this target's. */
    host = *plugin_host();
    host.param = fuzz_param;
    json_params = (fuzz_params_t){json_plugin_entry(&host), no_pairs};
    comma_params = (fuzz_params_t){csv_plugin_entry(&host), comma_pairs};
    tab_params = (fuzz_params_t){csv_plugin_entry(&host), tab_pairs};
    open_serializer(&json_ser, &json_params);
    open_serializer(&csv_comma, &comma_params);
    open_serializer(&csv_tab, &tab_params);
    buf_init(&out);
    return 0;
}

/* ---- What every serializer must do ----------------------------------------------------- */

/* A NaN that no decode writes (theirs are the default NaN): a feature still holding it was
 * not written. */
static double unwritten(void)
{
    uint64_t bits = UINT64_C(0x7ff40000dead0001);
    double v;
    memcpy(&v, &bits, sizeof(v));
    return v;
}

/* Decodes @record: either OK with every feature written, or a record error with a message. */
static symtask_status_t decode(const fuzz_serializer_t *s, const symtask_record_t *record,
                               double feat[N_FEATURES], char errstr[ERRSTR_SIZE])
{
    symtask_status_t st;
    for (int i = 0; i < N_FEATURES; i++)
        feat[i] = unwritten();
    errstr[0] = '\0';
    st = s->ops->decode(s->inst, record, feat, errstr, ERRSTR_SIZE);
    if (st == SYMTASK_OK) {
        for (int i = 0; i < N_FEATURES; i++)
            if (same_bits(feat[i], unwritten()))
                fail(s, "decode did not write feature '%s'", features[i]);
    } else if (st != SYMTASK_ERR_RECORD) {
        fail(s, "decode returned %d, not OK or a record error: %s", st, errstr);
    } else if (errstr[0] == '\0') {
        fail(s, "decode refused the record without a message");
    }
    return st;
}

/* Encodes @record with the outputs @values into `out`; it decoded, so only running out of
 * memory may fail. */
static void encode(const fuzz_serializer_t *s, const symtask_record_t *record,
                   const double values[N_OUTPUTS])
{
    char errstr[ERRSTR_SIZE] = "";
    buf_reset(&out);
    if (s->ops->encode(s->inst, record, values, &out, errstr, sizeof(errstr)) != SYMTASK_OK)
        fail(s, "encode of a record that decoded: %s", errstr);
}

/* ---- json: jansson's reading ----------------------------------------------------------- */

/* Whether @errstr is decode's message for a feature's value, ending in @tail. */
static int feature_message(const char *errstr, const char *tail)
{
    size_t len = strlen(errstr), tail_len = strlen(tail);
    return strncmp(errstr, "feature '", 9) == 0 && len > tail_len &&
           strcmp(errstr + len - tail_len, tail) == 0;
}

/* Whether jansson finds a key given twice in one object, at any depth. */
static int has_duplicate_keys(const uint8_t *data, size_t size)
{
    json_error_t err;
    int overflows;
    json_t *doc = jansson_read(data, size, JSON_REJECT_DUPLICATES, &overflows, &err);
    json_decref(doc);
    return doc == NULL && json_error_code(&err) == json_error_duplicate_key;
}

/* ---- json ------------------------------------------------------------------------------ */

static int is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* The end of what encode writes: `"prediction":N,"score":N}` with the numbers as the host
 * writes them (JSON null for NaN). Returns its length. */
static size_t json_outputs_text(const double values[N_OUTPUTS], char *text, size_t cap)
{
    size_t n = 0;
    for (int i = 0; i < N_OUTPUTS; i++) {
        char number[DTOA_MAX];
        dtoa_shortest(values[i], number); /* "null" for NaN */
        n += (size_t)snprintf(text + n, cap - n, "%s\"%s\":%s", i > 0 ? "," : "", outputs[i],
                              number);
    }
    n += (size_t)snprintf(text + n, cap - n, "}");
    return n;
}

/* What encode wrote for the record @data (@doc as jansson read it, which this consumes) with
 * @values: valid JSON, the record with the outputs set, the outputs last; and, when no key is
 * an output name, the record's bytes up to its closing '}' kept as they were. */
static void json_check_encoded(const uint8_t *data, size_t size, json_t *doc,
                               const double values[N_OUTPUTS])
{
    char tail[256];
    size_t tail_len = json_outputs_text(values, tail, sizeof(tail));
    int overflows, collides = 0;
    json_error_t err;
    json_t *got;

    if (out.len < tail_len + 1 || memcmp(out.data + out.len - tail_len, tail, tail_len) != 0 ||
        (out.data[out.len - tail_len - 1] != ',' && out.data[out.len - tail_len - 1] != '{'))
        fail(&json_ser, "encode does not end with the outputs %s: %.*s", tail, (int)out.len,
             out.data);
    got = jansson_read(out.data, out.len, 0, &overflows, &err);
    if (got == NULL || !json_is_object(got))
        fail(&json_ser, "encode wrote what jansson refuses (%s at byte %d): %.*s", err.text,
             err.position, (int)out.len, out.data);
    for (int i = 0; i < N_OUTPUTS; i++) {
        json_t *v = json_object_get(got, outputs[i]);
        if (isfinite(values[i]) ? !json_is_real(v) || !same_bits(json_real_value(v), values[i])
                                : !json_is_null(v))
            fail(&json_ser, "output '%s' does not read back as %.17g", outputs[i], values[i]);
        collides |= json_object_get(doc, outputs[i]) != NULL;
        json_object_set_new(doc, outputs[i],
                            isfinite(values[i]) ? json_real(values[i]) : json_null());
    }
    if (!json_equal(doc, got))
        fail(&json_ser, "encode changed the record's members: %.*s", (int)out.len, out.data);
    json_decref(got);
    json_decref(doc);

    if (!collides) {
        /* json/README.md: whitespace before the closing '}' and anything after it dropped. */
        size_t last = size;
        while (last > 0 && is_ws(data[last - 1]))
            last--;
        last--; /* the '}' */
        while (last > 0 && is_ws(data[last - 1]))
            last--;
        size_t comma = data[last - 1] != '{';
        if (out.len != last + comma + tail_len || memcmp(out.data, data, last) != 0 ||
            (comma && out.data[last] != ','))
            fail(&json_ser, "encode did not keep the record's bytes: %.*s", (int)out.len, out.data);
    }
}

/* Decode took the record: jansson must read it as an object of the same feature values. */
static void json_accepted(const uint8_t *data, size_t size, const symtask_record_t *record,
                          json_t *doc, const json_error_t *err, const double feat[N_FEATURES])
{
    double values[N_OUTPUTS] = {feat[0], feat[1]};

    if (doc == NULL)
        fail(&json_ser, "decode takes what jansson refuses: %s at byte %d", err->text,
             err->position);
    if (!json_is_object(doc))
        fail(&json_ser, "decode takes a value that is not an object");
    if (depth_of(doc) > JSON_DEPTH_MAX)
        fail(&json_ser, "decode takes nesting deeper than %d levels", JSON_DEPTH_MAX);
    for (int i = 0; i < N_FEATURES; i++) {
        /* jansson keeps the last of a key given twice, as decode must. */
        json_t *v = json_object_get(doc, features[i]);
        if (v == NULL || json_is_null(v)) {
            if (!isnan(feat[i]))
                fail(&json_ser, "feature '%s' is %.17g, jansson finds none", features[i], feat[i]);
        } else if (!json_is_real(v)) {
            fail(&json_ser, "decode takes feature '%s', which is not a number", features[i]);
        } else if (!same_bits(feat[i], json_real_value(v))) {
            fail(&json_ser, "feature '%s' is %.17g, jansson (strtod) reads %.17g", features[i],
                 feat[i], json_real_value(v));
        }
    }
    encode(&json_ser, record, values);
    json_check_encoded(data, size, doc, values);
}

/* Decode refused the record. Where jansson reads it as an object, the refusal must be one of
 * the plugin's documented differences (json/README.md). */
static void json_refused(const uint8_t *data, size_t size, json_t *doc, int overflows,
                         const char *errstr)
{
    int bad_feature = 0;

    if (doc == NULL || !json_is_object(doc)) {
        json_decref(doc);
        return;
    }
    for (int i = 0; i < N_FEATURES; i++) {
        json_t *v = json_object_get(doc, features[i]);
        bad_feature |= v != NULL && !json_is_real(v) && !json_is_null(v);
    }
    /* jansson nests up to 2048 levels, the plugin 64. */
    if (depth_of(doc) > JSON_DEPTH_MAX) {
        if (strstr(errstr, "nested deeper than 64 levels") == NULL)
            fail(&json_ser, "too deep, but decode says: %s", errstr);
    } else if (feature_message(errstr, ", not a number")) {
        /* A feature's last value is not a number, or an earlier one of a key given twice
         * (every occurrence must be a number or null), which jansson does not keep. The
         * duplicates jansson reports may be elsewhere: the check is looser there. */
        if (!bad_feature && !has_duplicate_keys(data, size))
            fail(&json_ser, "decode refuses a feature that jansson reads as a number: %s", errstr);
    } else if (feature_message(errstr, ", not a finite number")) {
        /* Beyond the double range: only a number jansson could not read either. */
        if (overflows == 0)
            fail(&json_ser, "decode says a number jansson reads is not finite: %s", errstr);
    } else {
        fail(&json_ser, "decode refuses an object jansson reads: %s", errstr);
    }
    json_decref(doc);
}

static void check_json(const uint8_t *data, size_t size)
{
    char *value = fuzz_dup(data, size, 0);
    symtask_record_t record = {.value = value, .len = size};
    char errstr[ERRSTR_SIZE];
    double feat[N_FEATURES];
    json_error_t err;
    int overflows;
    json_t *doc = jansson_read(data, size, 0, &overflows, &err);

    if (decode(&json_ser, &record, feat, errstr) == SYMTASK_OK)
        json_accepted(data, size, &record, doc, &err, feat);
    else
        json_refused(data, size, doc, overflows, errstr);
    free(value);
}

/* ---- csv: csv/README.md's reading ------------------------------------------------------ */

/* The value of one feature field: 0 with *@value set (NaN when missing), or -1 when the
 * record must be refused. */
static int csv_reference_value(const unsigned char *line, const csv_field_t *f, double *value)
{
    const unsigned char *p = line + f->start, *end = line + f->end;

    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    if (p == end || csv_reference_nan(p, end)) {
        *value = NAN;
        return 0;
    }
    if (!csv_reference_number(p, end))
        return -1;
    *value = fuzz_strtod(p, (size_t)(end - p));
    return isfinite(*value) ? 0 : -1;
}

/* ---- csv ------------------------------------------------------------------------------- */

static void check_csv(const fuzz_serializer_t *s, const uint8_t *data, size_t size)
{
    char *value = fuzz_dup(data, size, 0);
    const unsigned char *line = (const unsigned char *)value;
    symtask_record_t record = {.value = value, .len = size};
    csv_field_t fields[CSV_N_COLUMNS];
    double feat[N_FEATURES], want[N_FEATURES];
    char errstr[ERRSTR_SIZE];
    size_t len = size;
    int ok;

    /* One trailing "\n" or "\r\n" is not part of the line. */
    if (len > 0 && line[len - 1] == '\n')
        len -= len > 1 && line[len - 2] == '\r' ? 2 : 1;
    ok = csv_reference_split(line, len, s->delim, fields, CSV_N_COLUMNS) == CSV_N_COLUMNS;
    for (int i = 0; ok && i < N_FEATURES; i++)
        ok = csv_reference_value(line, &fields[csv_feature_column[i]], &want[i]) == 0;

    if (decode(s, &record, feat, errstr) != SYMTASK_OK) {
        if (ok)
            fail(s, "decode refuses a line csv/README.md takes: %s", errstr);
        free(value);
        return;
    }
    if (!ok)
        fail(s, "decode takes a line csv/README.md refuses");
    for (int i = 0; i < N_FEATURES; i++)
        if (isnan(want[i]) ? !isnan(feat[i]) : !same_bits(feat[i], want[i]))
            fail(s, "feature '%s' is %.17g, strtod reads %.17g", features[i], feat[i], want[i]);

    /* csv/README.md: the line without its line break, then the delimiter and each output,
     * written as the host writes numbers, or nothing for NaN. */
    double values[N_OUTPUTS] = {feat[0], feat[1]};
    encode(s, &record, values);
    size_t n = len;
    if (out.len < len || memcmp(out.data, line, len) != 0)
        fail(s, "encode did not keep the line: %.*s", (int)out.len, out.data);
    for (int i = 0; i < N_OUTPUTS; i++) {
        char number[DTOA_MAX] = "";
        size_t number_len = isfinite(values[i]) ? dtoa_shortest(values[i], number) : 0;
        if (out.len < n + 1 + number_len || (unsigned char)out.data[n] != s->delim ||
            memcmp(out.data + n + 1, number, number_len) != 0)
            fail(s, "encode did not append output '%s' = %s: %.*s", outputs[i], number,
                 (int)out.len, out.data);
        n += 1 + number_len;
    }
    if (out.len != n)
        fail(s, "encode wrote more than the line and the outputs: %.*s", (int)out.len, out.data);
    free(value);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_json(data, size);
    check_csv(&csv_comma, data, size);
    check_csv(&csv_tab, data, size);
    return 0;
}
