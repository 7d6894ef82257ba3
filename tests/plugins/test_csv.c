/* test_csv.c: the "csv" serializer plugin through the loader and the public ABI. */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdio.h>

#include "serializer_check.h"

/* Makes a new instance from the params "sml.serializer.columns" = @columns and, unless
 * NULL, "sml.serializer.delimiter" = @delim; returns create()'s status. */
static symtask_status_t csv_create_with(const char *columns, const char *delim)
{
    if (inst)
        ops->destroy(inst);
    inst = NULL;
    if (params)
        plugin_params_free(params);
    json_decref(param_obj);
    param_obj = json_pack("{ss}", "sml.serializer.columns", columns);
    if (delim)
        json_object_set_new(param_obj, "sml.serializer.delimiter", json_string(delim));
    params = plugin_params_new(plugin, param_obj, errstr, sizeof(errstr));
    cr_assert_not_null(params, "plugin_params_new: %s", errstr);
    errstr[0] = '\0';
    return ops->create(plugin_host(), params, &inst, errstr, sizeof(errstr));
}

/* A bound instance over the columns @columns. */
static void csv_open(const char *columns, const char *delim, const char *const *features,
                     size_t n_features, const char *const *outputs, size_t n_outputs)
{
    cr_assert_eq(csv_create_with(columns, delim), SYMTASK_OK, "create: %s", errstr);
    cr_assert_eq(serializer_bind(features, n_features, outputs, n_outputs), SYMTASK_OK, "bind: %s",
                 errstr);
}

static void csv_setup(void)
{
    serializer_load("csv");
    csv_open("a,x1,x2,b", NULL, default_features, 2, default_outputs, 1);
}

static void csv_teardown(void)
{
    serializer_unload();
}

TestSuite(csv, .init = csv_setup, .fini = csv_teardown, .timeout = 60);

/* ---- The descriptor and options --------------------------------------------------------- */

Test(csv, descriptor)
{
    const symtask_plugin_t *d = plugin_descriptor(plugin);
    cr_expect_str_eq(d->name, "csv");
    cr_expect_str_eq(d->version, "1.1.0");
    cr_expect_eq(d->kind, SYMTASK_PLUGIN_SERIALIZER);
    cr_assert_not_null(d->options);
    cr_expect_str_eq(d->options[0].name, "sml.serializer.columns");
    cr_expect_eq(d->options[0].type, SYMTASK_OPTION_LIST);
    cr_expect_not(d->options[0].required, "only reading needs columns: checked at bind");
    cr_expect_str_eq(d->options[1].name, "sml.serializer.delimiter");
    cr_expect_eq(d->options[1].type, SYMTASK_OPTION_STRING);
    cr_expect_str_eq(d->options[1].default_value, ",");
    cr_expect_not(d->options[1].required);
    cr_expect_null(d->options[2].name);
}

Test(csv, columns_are_required_to_read)
{
    /* an instance that only writes takes the record's own fields: no columns needed */
    json_t *empty = json_object();
    symtask_params_t *p = plugin_params_new(plugin, empty, errstr, sizeof(errstr));
    cr_assert_not_null(p, "%s", errstr);
    void *writer = NULL;
    cr_assert_eq(ops->create(plugin_host(), p, &writer, errstr, sizeof(errstr)), SYMTASK_OK, "%s",
                 errstr);
    symtask_binding_t encode_only = {.roles = SYMTASK_ROLE_ENCODE};
    cr_expect_eq(ops->bind_typed(writer, &encode_only, errstr, sizeof(errstr)), SYMTASK_OK, "%s",
                 errstr);
    ops->destroy(writer);
    writer = NULL;
    /* reading does */
    cr_assert_eq(ops->create(plugin_host(), p, &writer, errstr, sizeof(errstr)), SYMTASK_OK);
    symtask_binding_t reads = {.roles = SYMTASK_ROLE_DECODE | SYMTASK_ROLE_ENCODE};
    cr_expect_eq(ops->bind_typed(writer, &reads, errstr, sizeof(errstr)), SYMTASK_ERR_FATAL);
    cr_expect_str_eq(errstr, "params.sml.serializer.columns is required to read CSV: name the "
                             "columns of each line");
    ops->destroy(writer);
    plugin_params_free(p);
    json_decref(empty);

    json_t *bad = json_pack("{ss}", "sml.serializer.columns", "a,,b");
    p = plugin_params_new(plugin, bad, errstr, sizeof(errstr));
    cr_expect_null(p, "an empty column name was accepted");
    json_decref(bad);
}

Test(csv, column_listed_twice)
{
    cr_expect_eq(csv_create_with("a,x1,b,x1", NULL), SYMTASK_ERR_FATAL);
    cr_expect_str_eq(errstr, "params.sml.serializer.columns: column 'x1' is listed twice");
}

Test(csv, column_names_are_trimmed)
{
    csv_open(" a , x2,x1 ", NULL, default_features, 2, default_outputs, 1);
    expect_decoded("0,2,1", 1, 2);
}

Test(csv, feature_not_a_column)
{
    const char *const features[] = {"x1", "x9"};
    cr_assert_eq(csv_create_with("a,x1,x2,b", NULL), SYMTASK_OK, "%s", errstr);
    cr_expect_eq(serializer_bind(features, 2, default_outputs, 1), SYMTASK_ERR_FATAL);
    cr_expect_str_eq(errstr, "feature 'x9' is not among sml.serializer.columns");
}

Test(csv, delimiters)
{
    csv_open("a,x1,x2,b", ";", default_features, 2, default_outputs, 1);
    expect_decoded("a,b;1.5;2;\"c;d\"", 1.5, 2);
    expect_refused("a;1,5;2", "3 fields, expected 4 columns");
    csv_open("a,x1,x2,b", "\t", default_features, 2, default_outputs, 1);
    expect_decoded("a b\t 1.5\t2\t\"c\td\"\n", 1.5, 2);
    double outputs[1] = {0.5};
    cr_expect_str_eq(encode("a\t1\t2\tb\r\n", outputs), "a\t1\t2\tb\t0.5");
    csv_open("a,x1,x2,b", "|", default_features, 2, default_outputs, 1);
    expect_decoded("a|1|2|b", 1, 2);
}

Test(csv, invalid_delimiters)
{
    const char *bad[] = {"", ";;", "\"", "\n", "\r", "a", "Z", "0", ".", "-", "+", "\xc2\xa7"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_expect_eq(csv_create_with("a,b", bad[i]), SYMTASK_ERR_FATAL, "delimiter %zu", i);
        cr_expect_str_eq(errstr,
                         "params.sml.serializer.delimiter must be one byte, not a quote, a line "
                         "break, a letter, a digit, '.', '+' or '-'");
        cr_expect_null(inst, "create failed but set an instance");
    }
}

/* ---- Decoding --------------------------------------------------------------------------- */

Test(csv, plain_lines)
{
    expect_decoded("foo,1.5,-2,bar", 1.5, -2);
    expect_decoded("foo,1.5,-2,bar\n", 1.5, -2);
    expect_decoded("foo,1.5,-2,bar\r\n", 1.5, -2);
    expect_decoded(",1,2,", 1, 2);
    expect_decoded("x, 1 ,\t2\t,y", 1, 2);
    expect_decoded("x,+1e3,.5,y", 1000, 0.5);
    expect_decoded("x,007,5.,y", 7, 5);
    expect_decoded("x,-0,0e99999,y", -0.0, 0);
    cr_expect(signbit(feat[0]));
}

Test(csv, quoted_fields)
{
    expect_decoded("\"a, \"\"quoted\"\"\",1,2,\"line\nbreak\r\nand, comma\"", 1, 2);
    expect_decoded("\"\",\"1.5\",\" 2 \",\"\"\"\"", 1.5, 2);
    expect_decoded("a,\"\",\"\",b\n", NAN, NAN);
    expect_refused("a,\"1\"\"2\",2,b", "column 'x1' is '1\"\"2', not a number");
}

Test(csv, missing_values)
{
    expect_decoded("a,,,b", NAN, NAN);
    expect_decoded("a,  ,2,b", NAN, 2);
    expect_decoded("a,NaN,nan,b", NAN, NAN);
    expect_decoded("a,NAN,-nan,b", NAN, NAN);
    expect_decoded("a,+NaN,\"nan\",b", NAN, NAN);
}

Test(csv, field_count)
{
    expect_refused("a,1,2", "3 fields, expected 4 columns");
    expect_refused("a,1,2,b,c", "5 fields, expected 4 columns");
    expect_refused("a,1,2,b,", "5 fields, expected 4 columns");
    expect_refused("", "1 field, expected 4 columns");
    expect_refused("\n", "1 field, expected 4 columns");
    expect_refused("\"a,1,2,b\"", "1 field, expected 4 columns");
    const char *const features[] = {"x"};
    csv_open("x", NULL, features, 1, default_outputs, 1);
    cr_expect_eq(decode(""), SYMTASK_OK, "%s", errstr);
    cr_expect(isnan(feat[0]));
    expect_refused("1,2", "2 fields, expected 1 column");
}

Test(csv, not_numbers)
{
    expect_refused("a,abc,2,b", "column 'x1' is 'abc', not a number");
    expect_refused("a,1,1.2.3,b", "column 'x2' is '1.2.3', not a number");
    expect_refused("a,0x10,2,b", "column 'x1' is '0x10', not a number");
    expect_refused("a,inf,2,b", "column 'x1' is 'inf', not a number");
    expect_refused("a,1e,2,b", "column 'x1' is '1e', not a number");
    expect_refused("a,.,2,b", "column 'x1' is '.', not a number");
    expect_refused("a,1 2,2,b", "column 'x1' is '1 2', not a number");
    expect_refused("a,1,\"2\n\",b", "column 'x2' is '2?', not a number");
    expect_refused("a,1e309,2,b", "column 'x1' is '1e309', not a finite number");
    expect_refused("a,1,-1e999,b", "column 'x2' is '-1e999', not a finite number");
    expect_refused("a,0123456789012345678901234567890123456789x,2,b",
                   "column 'x1' is '01234567890123456789012345678901...', not a number");
    /* Not cut inside a UTF-8 sequence: 31 bytes then a 2-byte character. */
    expect_refused("a,1234567890123456789012345678901\xc3\xa9z,2,b",
                   "column 'x1' is '1234567890123456789012345678901...', not a number");
    expect_refused("a,\xff\xc3\xa9,2,b", "column 'x1' is '?\xc3\xa9', not a number");
}

Test(csv, malformed_lines)
{
    expect_refused("a,\"1,2,b", "not valid CSV at byte 2: quoted field without its closing quote");
    expect_refused("a,\"1\"x,2,b", "not valid CSV at byte 5: a closing quote must end its field");
    expect_refused("a,1\"2,2,b", "not valid CSV at byte 3: a quote inside an unquoted field");
    expect_refused("a,1,2,b\r", "not valid CSV at byte 7: a line break outside quotes");
    expect_refused("a,1\n,2,b", "not valid CSV at byte 3: a line break outside quotes");
    expect_refused("a,1,2,b\n\n", "not valid CSV at byte 7: a line break outside quotes");
}

Test(csv, exact_values)
{
    expect_decoded("a,0.1,0.3,b", 0.1, 0.3);
    expect_decoded("a,9007199254740993,1.7976931348623157e308,b", 9007199254740992.0,
                   1.7976931348623157e308);
    expect_decoded("a,5e-324,123456789012345678901234567890,b", 5e-324,
                   123456789012345678901234567890.0);
    char line[512];
    snprintf(line, sizeof(line), "a,0.%0200d1,1,b", 0);
    expect_decoded(line, 1e-201, 1);
    uint64_t x = 88172645463325252ull;
    const char *formats[] = {"%.17g", "%.16g", "%.15g", "%.6g", "%.3e", "%.20g"};
    for (int i = 0; i < 30000; i++) {
        double v;
        char text[64];
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        memcpy(&v, &x, sizeof(v));
        if (i % 2)
            v = (double)(x >> 11) / 9007199254740992.0 * (double)(x % 100000);
        if (!isfinite(v))
            continue;
        snprintf(text, sizeof(text), formats[i % 6], v);
        snprintf(line, sizeof(line), "a,%s,0,b", text);
        cr_assert_eq(decode(line), SYMTASK_OK, "%s: %s", line, errstr);
        double want = strtod(text, NULL);
        cr_assert_eq(memcmp(&feat[0], &want, sizeof(want)), 0, "%s: %.17g, strtod %.17g", text,
                     feat[0], want);
    }
}

Test(csv, every_truncation_is_safe)
{
    const char *line = "\"a,\"\"b\"\"\n\",1.5,\" -2 \",\"\"\r\n";
    size_t len = strlen(line);
    expect_decoded(line, 1.5, -2);
    for (size_t n = 0; n < len; n++) {
        char *copy = malloc(n ? n : 1);
        memcpy(copy, line, n);
        symtask_status_t status = decode_n(copy, n);
        cr_expect(status == SYMTASK_OK || status == SYMTASK_ERR_RECORD, "prefix %zu", n);
        if (status == SYMTASK_ERR_RECORD)
            cr_expect(errstr[0] != '\0', "prefix %zu: no message", n);
        free(copy);
    }
}

Test(csv, the_wrong_column_first_in_the_line_is_named_whatever_the_features_order)
{
    const char *const features[] = {"x2", "x1"};
    csv_open("a,x1,x2,b", NULL, features, 2, default_outputs, 1);
    expect_refused("a,p,q,b", "column 'x1' is 'p', not a number");
    expect_refused("a,1e999,q,b", "column 'x1' is '1e999', not a finite number");
    expect_refused("a,1,q,b", "column 'x2' is 'q', not a number");
    expect_decoded("a,1,2,b", 2, 1);
    /* as decode_fields(), which reads the line column by column, names it */
    symtask_record_t record = {"a,p,q,b", 7};
    cr_expect_eq(decode_fields_n(record.value, record.len), SYMTASK_ERR_RECORD);
    cr_expect_str_eq(errstr, "column 'x1' is 'p', not a number");
}

/* ---- Encoding --------------------------------------------------------------------------- */

Test(csv, encode_appends_fields)
{
    double one[1] = {0.5};
    cr_expect_str_eq(encode("a,1,2,b\n", one), "a,1,2,b,0.5");
    cr_expect_str_eq(encode("a,1,2,b\r\n", one), "a,1,2,b,0.5");
    cr_expect_str_eq(encode("\"a,\"\"x\"\"\",1,2,\"b\nc\"", one),
                     "\"a,\"\"x\"\"\",1,2,\"b\nc\",0.5");
    one[0] = NAN;
    cr_expect_str_eq(encode("a,1,2,b", one), "a,1,2,b,");
    one[0] = 3;
    cr_expect_str_eq(encode("a,1,2,b", one), "a,1,2,b,3");

    const char *const outputs[] = {"prediction", "probability"};
    csv_open("a,x1,x2,b", ";", default_features, 2, outputs, 2);
    double two[2] = {1, 0.125};
    cr_expect_str_eq(encode("a;1;2;b\n", two), "a;1;2;b;1;0.125");
    two[0] = INFINITY;
    cr_expect_str_eq(encode("a;1;2;b", two), "a;1;2;b;;0.125");
}

/* ---- The line's fields (ABI 1.1) --------------------------------------------------------- */

#define FIELD(n, v) ((symtask_field_t){(n), sizeof(n) - 1, (v)})

/* A bound instance of @columns that reads and writes, whose features are @features (with
 * their types) and which writes one output, "label", a string. */
static void csv_open_typed(const char *columns, const symtask_column_t *features, size_t n)
{
    symtask_column_t cols[16];
    cr_assert_lt(n, 15);
    if (n > 0)
        memcpy(cols, features, n * sizeof(*cols));
    cols[n] = (symtask_column_t){"label", SYMTASK_TYPE_STRING};
    cr_assert_eq(csv_create_with(columns, NULL), SYMTASK_OK, "create: %s", errstr);
    cr_assert_eq(serializer_bind_columns(cols, n, 1, 0), SYMTASK_OK, "bind: %s", errstr);
}

Test(csv, decode_fields_types_a_field_by_its_look)
{
    static const char line[] = "7,\"7\",,TRUE,02134, x ,-1e2,\"a \"\"q\"\"\",+1,.5,nan,\"\"\r\n";
    csv_open_typed("a,b,c,d,e,f,g,h,i,j,k,l", NULL, 0);
    cr_assert_eq(decode_fields_n(line, sizeof(line) - 1), SYMTASK_OK, "%s", errstr);
    cr_assert_eq(fields.count, 12);
    const symtask_value_t *v = expect_field(0, "a", SYMTASK_TYPE_NUMBER);
    cr_expect_eq(v->number, 7);
    expect_text(v, "7", 1);
    expect_text(expect_field(1, "b", SYMTASK_TYPE_STRING), "7", 1);
    expect_field(2, "c", SYMTASK_TYPE_MISSING);
    cr_expect_eq(expect_field(3, "d", SYMTASK_TYPE_BOOL)->boolean, 1);
    expect_text(expect_field(4, "e", SYMTASK_TYPE_STRING), "02134", 5);
    expect_text(expect_field(5, "f", SYMTASK_TYPE_STRING), " x ", 3);
    v = expect_field(6, "g", SYMTASK_TYPE_NUMBER);
    cr_expect_eq(v->number, -100);
    expect_text(v, "-1e2", 4);
    expect_text(expect_field(7, "h", SYMTASK_TYPE_STRING), "a \"q\"", 5);
    expect_text(expect_field(8, "i", SYMTASK_TYPE_STRING), "+1", 2);
    expect_text(expect_field(9, "j", SYMTASK_TYPE_STRING), ".5", 2);
    expect_text(expect_field(10, "k", SYMTASK_TYPE_STRING), "nan", 3);
    expect_text(expect_field(11, "l", SYMTASK_TYPE_STRING), "", 0);
}

Test(csv, decode_fields_reads_a_feature_as_declared)
{
    const symtask_column_t features[] = {{"n", SYMTASK_TYPE_NUMBER},
                                         {"s", SYMTASK_TYPE_STRING},
                                         {"b", SYMTASK_TYPE_BOOL},
                                         {"x", SYMTASK_TYPE_ANY}};
    csv_open_typed("n,s,b,x", features, 4);
    cr_assert_eq(decode_fields_n(" +.5 ,12, false ,1", 18), SYMTASK_OK, "%s", errstr);
    const symtask_value_t *v = expect_field(0, "n", SYMTASK_TYPE_NUMBER);
    cr_expect_eq(v->number, 0.5);
    cr_expect_null(v->text, "+.5 is not spelt as JSON spells numbers");
    expect_text(expect_field(1, "s", SYMTASK_TYPE_STRING), "12", 2);
    cr_expect_eq(expect_field(2, "b", SYMTASK_TYPE_BOOL)->boolean, 0);
    expect_field(3, "x", SYMTASK_TYPE_NUMBER);
    cr_assert_eq(decode_fields_n("NaN,,,", 6), SYMTASK_OK, "%s", errstr);
    expect_field(0, "n", SYMTASK_TYPE_MISSING);
    expect_field(1, "s", SYMTASK_TYPE_MISSING);
    expect_field(2, "b", SYMTASK_TYPE_MISSING);
    cr_expect_eq(decode_fields_n("1,2,yes,4", 9), SYMTASK_ERR_RECORD);
    cr_expect_str_eq(errstr, "column 'b' is 'yes', not a boolean (true or false)");
    cr_expect_eq(decode_fields_n("x,2,true,4", 10), SYMTASK_ERR_RECORD);
    cr_expect_str_eq(errstr, "column 'n' is 'x', not a number");
    cr_expect_eq(decode_fields_n("1,2,true", 8), SYMTASK_ERR_RECORD);
    cr_expect_str_eq(errstr, "3 fields, expected 4 columns");
}

Test(csv, encode_fields_quotes_what_would_read_back_as_something_else)
{
    /* writes another format's records: no column list, one instance that only encodes */
    json_t *empty = json_object();
    symtask_params_t *p = plugin_params_new(plugin, empty, errstr, sizeof(errstr));
    cr_assert_not_null(p, "%s", errstr);
    ops->destroy(inst);
    inst = NULL;
    cr_assert_eq(ops->create(plugin_host(), p, &inst, errstr, sizeof(errstr)), SYMTASK_OK);
    symtask_binding_t encode_only = {.roles = SYMTASK_ROLE_ENCODE};
    cr_assert_eq(ops->bind_typed(inst, &encode_only, errstr, sizeof(errstr)), SYMTASK_OK);
    const symtask_field_t in[] = {
        FIELD("n", ((symtask_value_t){SYMTASK_TYPE_NUMBER, 0, 0.5, "0.50", 4})),
        FIELD("d", symtask_value_number(1.0 / 3)),
        FIELD("nan", symtask_value_number(NAN)),
        FIELD("s", symtask_value_string("plain text", 10)),
        FIELD("q", symtask_value_string("a,\"b\"\n", 6)),
        FIELD("num", symtask_value_string("-1.5e3", 6)),
        FIELD("t", symtask_value_string("True", 4)),
        FIELD("e", symtask_value_string("", 0)),
        FIELD("z", symtask_value_string("a\0b", 3)),
        FIELD("b", symtask_value_bool(1)),
        FIELD("m", symtask_value_missing()),
        FIELD("o", ((symtask_value_t){SYMTASK_TYPE_NESTED, 0, 0, "{\"k\":[1,2]}", 11})),
        FIELD("label", symtask_value_string("old", 3)),
    };
    const symtask_field_t outs[] = {FIELD("label", symtask_value_string("new", 3))};
    symtask_fields_t f = {in, sizeof(in) / sizeof(in[0])}, o = {outs, 1};
    symtask_status_t st;
    encode_fields_with(NULL, &f, &o, &st);
    cr_assert_eq(st, SYMTASK_OK, "%s", errstr);
    static const char want[] = "0.50,0.3333333333333333,,plain text,\"a,\"\"b\"\"\n\","
                               "\"-1.5e3\",\"True\",\"\",a\0b,true,,\"{\"\"k\"\":[1,2]}\",new";
    cr_expect_eq(out.len, sizeof(want) - 1, "%zu bytes: %s", out.len, out.data);
    cr_expect_eq(memcmp(out.data, want, sizeof(want) - 1), 0, "%s", out.data);
    plugin_params_free(p);
    json_decref(empty);
}

Test(csv, encode_fields_keeps_the_source_line_with_typed_outputs)
{
    csv_open_typed("a,x1,x2,b", NULL, 0);
    const symtask_field_t outs[] = {FIELD("label", symtask_value_string("x;y,z", 5)),
                                    FIELD("ok", symtask_value_bool(0))};
    symtask_fields_t o = {outs, 2};
    symtask_status_t st;
    cr_expect_str_eq(encode_fields_with("\"q\",1, 2 ,\r\n", NULL, &o, &st),
                     "\"q\",1, 2 ,,\"x;y,z\",false");
}
