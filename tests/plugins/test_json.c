/* test_json.c: the "json" serializer plugin through the loader and the public ABI. */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "serializer_check.h"

/* Destroys the instance, if any, and makes a new one bound to @features and @outputs. */
static void json_bind_to(const char *const *features, size_t n_features, const char *const *outputs,
                         size_t n_outputs)
{
    if (inst)
        ops->destroy(inst);
    inst = NULL;
    cr_assert_eq(ops->create(plugin_host(), params, &inst, errstr, sizeof(errstr)), SYMTASK_OK,
                 "create: %s", errstr);
    cr_assert_eq(serializer_bind(features, n_features, outputs, n_outputs), SYMTASK_OK, "bind: %s",
                 errstr);
}

static void json_setup(void)
{
    serializer_load("json");
    param_obj = json_object();
    params = plugin_params_new(plugin, param_obj, errstr, sizeof(errstr));
    cr_assert_not_null(params, "plugin_params_new: %s", errstr);
    json_bind_to(default_features, 2, default_outputs, 1);
}

static void json_teardown(void)
{
    serializer_unload();
}

TestSuite(json, .init = json_setup, .fini = json_teardown, .timeout = 60);

static void expect_encoded(const char *s, double prediction, const char *want)
{
    double outputs[1] = {prediction};
    cr_expect_str_eq(encode(s, outputs), want, "encode of %s", s);
}

/* ---- The descriptor --------------------------------------------------------------------- */

Test(json, descriptor)
{
    const symtask_plugin_t *d = plugin_descriptor(plugin);
    cr_expect_str_eq(d->name, "json");
    cr_expect_str_eq(d->version, "1.1.0");
    cr_expect_eq(d->kind, SYMTASK_PLUGIN_SERIALIZER);
    cr_expect(d->options == NULL || d->options[0].name == NULL, "json takes no options");
    cr_expect_eq(d->abi_major, SYMTASK_PLUGIN_ABI_MAJOR);
}

/* ---- Decoding features ------------------------------------------------------------------ */

Test(json, every_feature)
{
    expect_decoded("{\"x1\":1.5,\"x2\":-2}", 1.5, -2);
    expect_decoded("{\"x2\":3,\"x1\":4}", 4, 3);
    expect_decoded(" \t\r\n{ \"x1\" : 1 , \"x2\" :\n2 } \n", 1, 2);
}

Test(json, other_fields_of_any_type)
{
    expect_decoded("{\"a\":\"s\",\"x1\":1,\"b\":[1,{\"c\":null},[]],\"d\":{\"e\":true,\"f\":{}},"
                   "\"x2\":2,\"g\":false,\"h\":null,\"i\":-1.5e-3,\"x10\":\"no\",\"x\":[]}",
                   1, 2);
}

Test(json, missing_features)
{
    expect_decoded("{}", NAN, NAN);
    expect_decoded("{\"x1\":1}", 1, NAN);
    expect_decoded("{\"x1\":null,\"x2\":7}", NAN, 7);
    expect_decoded("{\"X1\":1,\"x1 \":2,\"x\":3,\"x12\":4}", NAN, NAN);
}

Test(json, wrong_types)
{
    expect_refused("{\"x1\":\"1.5\",\"x2\":2}", "feature 'x1' is a string, not a number");
    expect_refused("{\"x1\":1,\"x2\":true}", "feature 'x2' is a boolean, not a number");
    expect_refused("{\"x1\":false}", "feature 'x1' is a boolean, not a number");
    expect_refused("{\"x1\":[1]}", "feature 'x1' is an array, not a number");
    expect_refused("{\"x2\":{\"v\":1}}", "feature 'x2' is an object, not a number");
    expect_refused("{\"x2\":{},\"x1\":\"a\"}", "feature 'x2' is an object, not a number");
}

Test(json, duplicate_keys_last_one_wins)
{
    expect_decoded("{\"x1\":1,\"x2\":2,\"x1\":3}", 3, 2);
    expect_decoded("{\"x1\":1,\"x1\":null}", NAN, NAN);
    expect_decoded("{\"x1\":null,\"x1\":5}", 5, NAN);
    /* Every occurrence must be a number or null. */
    expect_refused("{\"x1\":\"a\",\"x1\":5}", "feature 'x1' is a string, not a number");
}

Test(json, feature_listed_twice_gets_its_value_twice)
{
    const char *const features[] = {"x1", "x2", "x1"};
    json_bind_to(features, 3, default_outputs, 1);
    cr_assert_eq(decode("{\"x1\":1,\"x2\":2}"), SYMTASK_OK, "%s", errstr);
    cr_expect_eq(feat[0], 1);
    cr_expect_eq(feat[1], 2);
    cr_expect_eq(feat[2], 1);
    cr_assert_eq(decode("{\"x2\":2,\"x1\":3}"), SYMTASK_OK, "%s", errstr);
    cr_expect_eq(feat[0], 3);
    cr_expect_eq(feat[1], 2);
    cr_expect_eq(feat[2], 3);
}

Test(json, many_features)
{
    const char *names[200];
    char storage[200][16], rec[8192];
    size_t n = 0;
    for (int i = 0; i < 200; i++) {
        snprintf(storage[i], sizeof(storage[i]), "f%d", i);
        names[i] = storage[i];
    }
    json_bind_to(names, 200, default_outputs, 1);
    n += (size_t)snprintf(rec + n, sizeof(rec) - n, "{");
    for (int i = 199; i >= 0; i--)
        if (i % 7 != 3)
            n += (size_t)snprintf(rec + n, sizeof(rec) - n, "%s\"f%d\":%d", n > 1 ? "," : "", i,
                                  i * 10);
    snprintf(rec + n, sizeof(rec) - n, "}");
    cr_assert_eq(decode(rec), SYMTASK_OK, "%s", errstr);
    for (int i = 0; i < 200; i++) {
        if (i % 7 == 3)
            cr_expect(isnan(feat[i]), "f%d", i);
        else
            cr_expect_eq(feat[i], i * 10, "f%d", i);
    }
}

/* A key spelt as the bound name, where bind's order expects it, is read by decode's shortcut
 * (json.c: json_decode_fast); it must read what the usual path reads, for names that fit its
 * 8-byte word and longer ones, whatever the order, and refuse the same records. */
Test(json, keys_in_bind_order_read_as_any_other)
{
    const char *const features[] = {"x1", "a_longer_feature_name", "x2", "x10"};
    json_bind_to(features, 4, default_outputs, 1);
    const char *rec = "{\"x1\":1.5,\"a_longer_feature_name\":-2e3,\"x2\":7,\"x10\":0.25}";
    const double want[] = {1.5, -2000, 7, 0.25};
    size_t len = strlen(rec);
    cr_assert_eq(decode(rec), SYMTASK_OK, "%s", errstr);
    for (size_t i = 0; i < 4; i++)
        cr_expect_eq(feat[i], want[i], "%s", features[i]);

    /* Out of order, a name that extends another, a cut name, the shortcut's key followed by
     * space or a value that is not a number. */
    cr_assert_eq(decode("{\"x10\":5,\"x1\":6,\"a_longer_feature_nam\":12,\"x2\" :2}"), SYMTASK_OK,
                 "%s", errstr);
    cr_expect(feat[0] == 6 && isnan(feat[1]) && feat[2] == 2 && feat[3] == 5);
    cr_assert_eq(decode("{\"x1\": 3,\"a_longer_feature_name\":null,\"x2\":\n4}"), SYMTASK_OK, "%s",
                 errstr);
    cr_expect(feat[0] == 3 && isnan(feat[1]) && feat[2] == 4 && isnan(feat[3]));
    expect_refused("{\"x1\":1,\"a_longer_feature_name\":\"2\"}",
                   "feature 'a_longer_feature_name' is a string, not a number");
    expect_refused("{\"x1\":1,\"a_longer_feature_name\":1.}",
                   "not valid JSON at byte 34: expected a digit after '.'");
    expect_refused("{\"x1\":1,\"x1\":-}", "not valid JSON at byte 14: expected a digit");

    /* Every proper prefix is refused, read from a buffer of exactly its size (so that
     * valgrind and ASan see a read past it), and the record then decodes again. */
    for (size_t n = 0; n < len; n++) {
        char *copy = malloc(n ? n : 1);
        memcpy(copy, rec, n);
        cr_expect_eq(decode_n(copy, n), SYMTASK_ERR_RECORD, "prefix of %zu bytes accepted", n);
        free(copy);
    }
    char *copy = malloc(len);
    memcpy(copy, rec, len);
    cr_assert_eq(decode_n(copy, len), SYMTASK_OK, "%s", errstr);
    cr_expect_eq(feat[3], 0.25);
    free(copy);
}
Test(json, no_features)
{
    json_bind_to(NULL, 0, default_outputs, 1);
    cr_expect_eq(decode("{\"x1\":\"a\"}"), SYMTASK_OK, "%s", errstr);
    cr_expect_eq(decode("{\"x1\":"), SYMTASK_ERR_RECORD);
}

/* ---- Unicode ---------------------------------------------------------------------------- */

Test(json, unicode_keys_match_raw_or_escaped)
{
    const char *const features[] = {"\xc3\xa9t\xc3\xa9", "\xf0\x9f\x98\x80", "a\"b\\c/d\n"};
    json_bind_to(features, 3, default_outputs, 1);
    const char *records[] = {
        "{\"\xc3\xa9t\xc3\xa9\":1,\"\xf0\x9f\x98\x80\":2,\"a\\\"b\\\\c/d\\n\":3}",
        "{\"\\u00e9t\\u00E9\":1,\"\\ud83d\\ude00\":2,\"a\\u0022b\\u005cc\\/d\\u000a\":3}",
        "{\"\\u00e9t\xc3\xa9\":1,\"\\uD83D\\uDE00\":2,\"\\u0061\\\"b\\\\c/d\\n\":3}",
    };
    for (size_t i = 0; i < sizeof(records) / sizeof(records[0]); i++) {
        cr_assert_eq(decode(records[i]), SYMTASK_OK, "%s: %s", records[i], errstr);
        cr_expect_eq(feat[0], 1, "%s", records[i]);
        cr_expect_eq(feat[1], 2, "%s", records[i]);
        cr_expect_eq(feat[2], 3, "%s", records[i]);
    }
    /* A longer escaped key than any name never matches (and does not overflow). */
    cr_assert_eq(decode("{\"\\u00e9t\\u00e9\\u00e9\\u00e9\\u00e9\\ud83d\\ude00\":1}"), SYMTASK_OK);
    cr_expect(isnan(feat[0]));
}

Test(json, unicode_values_kept)
{
    const char *rec = "{\"name\":\"caf\xc3\xa9 \\u00e9 \\ud83d\\ude00 \xf0\x9f\x98\x80\","
                      "\"\xe2\x82\xac\":\"\xef\xbf\xbf\",\"x1\":1}";
    cr_assert_eq(decode(rec), SYMTASK_OK, "%s", errstr);
    expect_encoded(rec, 0.25,
                   "{\"name\":\"caf\xc3\xa9 \\u00e9 \\ud83d\\ude00 \xf0\x9f\x98\x80\","
                   "\"\xe2\x82\xac\":\"\xef\xbf\xbf\",\"x1\":1,\"prediction\":0.25}");
}

Test(json, invalid_utf8)
{
    expect_refused("{\"a\":\"\xff\"}", "not valid JSON at byte 6: invalid UTF-8 in string");
    const char *bad[] = {
        "{\"a\":\"\xc0\x80\"}",         /* overlong NUL */
        "{\"a\":\"\xc1\xbf\"}",         /* overlong */
        "{\"a\":\"\xe0\x9f\xbf\"}",     /* overlong 3-byte */
        "{\"a\":\"\xed\xa0\x80\"}",     /* a surrogate, UTF-8 encoded */
        "{\"a\":\"\xf4\x90\x80\x80\"}", /* past U+10FFFF */
        "{\"a\":\"\xf5\x80\x80\x80\"}",
        "{\"a\":\"\xc3\"}", /* cut short */
        "{\"a\":\"\xe2\x82\"}",
        "{\"a\":\"\x80\"}",   /* a lone continuation byte */
        "{\"\xc3\x28\":1}",   /* in a key */
        "{\"a\":[\"\xfe\"]}", /* nested */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_expect_eq(decode(bad[i]), SYMTASK_ERR_RECORD, "record %zu accepted", i);
        cr_expect(strstr(errstr, "invalid UTF-8") != NULL, "record %zu: %s", i, errstr);
    }
    expect_refused("{\"a\":1,\xc3\xa9:1}", "not valid JSON at byte 7: expected a string key");
    expect_refused("\xef\xbb\xbf{}", "not valid JSON at byte 0: unexpected byte 0xEF");
}

Test(json, escapes)
{
    expect_decoded("{\"s\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0000\\uFFFF\",\"x1\":1}", 1, NAN);
    expect_refused("{\"s\":\"\\x\"}", "not valid JSON at byte 6: invalid escape in string");
    expect_refused("{\"s\":\"\\u12g4\"}", "not valid JSON at byte 6: invalid \\u escape");
    expect_refused("{\"s\":\"\\ud800\"}",
                   "not valid JSON at byte 6: unpaired surrogate in \\u escape");
    expect_refused("{\"s\":\"\\ud800\\u0041\"}",
                   "not valid JSON at byte 6: unpaired surrogate in \\u escape");
    expect_refused("{\"s\":\"\\udc00\\ud800\"}",
                   "not valid JSON at byte 6: unpaired surrogate in \\u escape");
    expect_refused("{\"s\":\"a\tb\"}", "not valid JSON at byte 7: control character in string");
    expect_refused("{\"s\":\"a\nb\"}", "not valid JSON at byte 7: control character in string");
}

/* ---- Malformed values ------------------------------------------------------------------- */

Test(json, empty_and_not_an_object)
{
    cr_expect_eq(decode_n("", 0), SYMTASK_ERR_RECORD);
    cr_expect_str_eq(errstr, "not valid JSON at byte 0: empty value");
    expect_refused(" \n", "not valid JSON at byte 2: unexpected end of value");
    expect_refused("[1,2]", "not a JSON object: the value is an array");
    expect_refused(" \"x1\"", "not a JSON object: the value is a string");
    expect_refused("1", "not a JSON object: the value is a number");
    expect_refused("null", "not a JSON object: the value is null");
    expect_refused("true", "not a JSON object: the value is true");
    expect_refused("x1=1", "not valid JSON at byte 0: unexpected 'x'");
}

Test(json, syntax_errors_name_the_byte)
{
    expect_refused("{\"x1\" 1}", "not valid JSON at byte 6: expected ':'");
    expect_refused("{\"x1\":1,}", "not valid JSON at byte 8: expected a string key");
    expect_refused("{\"x1\":1 \"x2\":2}", "not valid JSON at byte 8: expected ',' or '}'");
    expect_refused("{'x1':1}", "not valid JSON at byte 1: expected a string key");
    expect_refused("{x1:1}", "not valid JSON at byte 1: expected a string key");
    expect_refused("{\"x1\":1}}", "not valid JSON at byte 8: unexpected data after the object");
    expect_refused("{\"x1\":1} {}", "not valid JSON at byte 9: unexpected data after the object");
    expect_refused("{\"a\":[1,]}", "not valid JSON at byte 8: unexpected ']'");
    expect_refused("{\"a\":[1 2]}", "not valid JSON at byte 8: expected ',' or ']'");
    expect_refused("{\"a\":tru}", "not valid JSON at byte 8: unexpected '}'");
    expect_refused("{\"a\":NaN}", "not valid JSON at byte 5: unexpected 'N'");
    expect_refused("{\"a\":undefined}", "not valid JSON at byte 5: unexpected 'u'");
    expect_refused("{\"a\":\x01}", "not valid JSON at byte 5: unexpected byte 0x01");
    expect_refused("{\"a\":1\x01}", "not valid JSON at byte 6: expected ',' or '}'");
    expect_refused("{\"a\":\"x\"", "not valid JSON at byte 8: unexpected end of value");
    expect_refused("{\"a\":\"x", "not valid JSON at byte 7: unterminated string");
}

Test(json, number_grammar)
{
    expect_refused("{\"x1\":01}", "not valid JSON at byte 6: leading zero in number");
    expect_refused("{\"x1\":-01}", "not valid JSON at byte 7: leading zero in number");
    expect_refused("{\"x1\":00}", "not valid JSON at byte 6: leading zero in number");
    expect_refused("{\"x1\":1.}", "not valid JSON at byte 8: expected a digit after '.'");
    expect_refused("{\"x1\":.5}", "not valid JSON at byte 6: unexpected '.'");
    expect_refused("{\"x1\":+1}", "not valid JSON at byte 6: unexpected '+'");
    expect_refused("{\"x1\":-}", "not valid JSON at byte 7: expected a digit");
    expect_refused("{\"x1\":1e}", "not valid JSON at byte 8: expected a digit in exponent");
    expect_refused("{\"x1\":1e+}", "not valid JSON at byte 9: expected a digit in exponent");
    expect_refused("{\"x1\":0x10}", "not valid JSON at byte 7: expected ',' or '}'");
    expect_refused("{\"x1\":Infinity}", "not valid JSON at byte 6: unexpected 'I'");
    expect_refused("{\"x1\":-Infinity}", "not valid JSON at byte 7: expected a digit");
    expect_decoded("{\"x1\":0,\"x2\":-0.0e0}", 0, -0.0);
    expect_decoded("{\"x1\":1E2,\"x2\":1e-2}", 100, 0.01);
    expect_decoded("{\"x1\":1E+2,\"x2\":10.50}", 100, 10.5);
}

/* The same grammar where 16 bytes or more follow the number (json.c's short decimals). */
Test(json, number_grammar_with_more_to_come)
{
    static const struct {
        const char *number, *error; /* error NULL: valid */
    } cases[] = {
        {"0", NULL},
        {"-0", NULL},
        {"-0.0", NULL},
        {"0.5", NULL},
        {"1234567", NULL},
        {"12345678", NULL},
        {"1234567.1234567", NULL},
        {"1234567.12345678", NULL},
        {"0.0000001", NULL},
        {"9.999999", NULL},
        {"123e2", NULL},
        {"1.5E-3", NULL},
        {"9007199254740993", NULL},
        {"01", "not valid JSON at byte 6: leading zero in number"},
        {"-01", "not valid JSON at byte 7: leading zero in number"},
        {"00.5", "not valid JSON at byte 6: leading zero in number"},
        {"1.", "not valid JSON at byte 8: expected a digit after '.'"},
        {"1.e5", "not valid JSON at byte 8: expected a digit after '.'"},
        {"1234567.", "not valid JSON at byte 14: expected a digit after '.'"},
        {"-", "not valid JSON at byte 7: expected a digit"},
        {"-.5", "not valid JSON at byte 7: expected a digit"},
        {"1e", "not valid JSON at byte 8: expected a digit in exponent"},
        {"1.5x", "not valid JSON at byte 9: expected ',' or '}'"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char rec[128];
        snprintf(rec, sizeof(rec), "{\"x1\":%s,\"pad\":\"0123456789abcdef\"}", cases[i].number);
        if (cases[i].error) {
            expect_refused(rec, cases[i].error);
            continue;
        }
        cr_assert_eq(decode(rec), SYMTASK_OK, "%s: %s", rec, errstr);
        double want = strtod(cases[i].number, NULL);
        cr_expect_eq(memcmp(&feat[0], &want, sizeof(want)), 0, "%s: %.17g, strtod %.17g", rec,
                     feat[0], want);
    }
}

Test(json, every_truncation_is_refused)
{
    const char *rec = " {\"x1\" : -1.25e+2, \"x2\":null, \"s\":\"a\\\"\\u00e9\\ud83d\\ude00\xc3\xa9"
                      "\xe2\x82\xac\xf0\x9f\x98\x80\", \"n\":[1, {\"k\":[true,false,null]}, "
                      "{}], \"o\":{}} \n";
    size_t len = strlen(rec);
    expect_decoded(rec, -125, NAN);
    /* Every proper prefix up to the closing brace is an error, never a crash. */
    const char *close = strrchr(rec, '}');
    for (size_t n = 0; n <= (size_t)(close - rec); n++) {
        char *copy = malloc(n ? n : 1); /* exactly n bytes, so valgrind sees any overread */
        memcpy(copy, rec, n);
        cr_expect_eq(decode_n(copy, n), SYMTASK_ERR_RECORD, "prefix of %zu bytes accepted", n);
        cr_expect(errstr[0] != '\0', "prefix of %zu bytes: no message", n);
        free(copy);
    }
    for (size_t n = (size_t)(close - rec) + 1; n <= len; n++)
        cr_expect_eq(decode_n(rec, n), SYMTASK_OK, "prefix of %zu bytes: %s", n, errstr);
}

Test(json, nesting_limit)
{
    char rec[1024];
    size_t n;

    /* The record's object is level 1, so 63 more levels are accepted. */
    n = (size_t)sprintf(rec, "{\"x1\":1,\"a\":");
    for (int i = 0; i < 63; i++)
        rec[n++] = '[';
    for (int i = 0; i < 63; i++)
        rec[n++] = ']';
    rec[n++] = '}';
    rec[n] = '\0';
    expect_decoded(rec, 1, NAN);

    n = (size_t)sprintf(rec, "{\"x2\":2,\"a\":");
    for (int i = 0; i < 63; i++)
        n += (size_t)sprintf(rec + n, "{\"k\":");
    n += (size_t)sprintf(rec + n, "0");
    for (int i = 0; i < 64; i++)
        rec[n++] = '}';
    rec[n] = '\0';
    expect_decoded(rec, NAN, 2);

    n = (size_t)sprintf(rec, "{\"a\":");
    for (int i = 0; i < 64; i++)
        rec[n++] = '[';
    for (int i = 0; i < 64; i++)
        rec[n++] = ']';
    rec[n++] = '}';
    rec[n] = '\0';
    expect_refused(rec, "not valid JSON at byte 68: nested deeper than 64 levels");
}

Test(json, huge_records)
{
    size_t size = 1 << 20;
    char *rec = malloc(size + 64);
    cr_assert_not_null(rec);

    /* 1 MiB of '[': refused at the limit, without recursing further. */
    memcpy(rec, "{\"a\":", 5);
    memset(rec + 5, '[', size);
    cr_expect_eq(decode_n(rec, size + 5), SYMTASK_ERR_RECORD);
    cr_expect_str_eq(errstr, "not valid JSON at byte 68: nested deeper than 64 levels");

    /* A 1 MiB string between two features, kept byte for byte. */
    size_t n = (size_t)sprintf(rec, "{\"x1\":1,\"big\":\"");
    memset(rec + n, 'z', size);
    n += size;
    n += (size_t)sprintf(rec + n, "\",\"x2\":2}");
    expect_decoded(rec, 1, 2);
    double outputs[1] = {3};
    const char *got = encode(rec, outputs);
    cr_expect_eq(strlen(got), n + strlen(",\"prediction\":3"));
    cr_expect_str_eq(got + n - 1, ",\"prediction\":3}");
    cr_expect_eq(memcmp(got, rec, n - 1), 0);
    free(rec);
}

/* ---- Numbers ---------------------------------------------------------------------------- */

Test(json, special_numbers)
{
    expect_decoded("{\"x1\":-0,\"x2\":1e308}", -0.0, 1e308);
    cr_expect(signbit(feat[0]), "-0 lost its sign");
    expect_decoded("{\"x1\":1.7976931348623157e308,\"x2\":-1.7976931348623157E308}",
                   1.7976931348623157e308, -1.7976931348623157e308);
    expect_decoded("{\"x1\":5e-324,\"x2\":1e-400}", 5e-324, 0);
    expect_decoded("{\"x1\":0e999999999999,\"x2\":123456789012345678901234567890}", 0,
                   123456789012345678901234567890.0);
    expect_refused("{\"x1\":1e309}", "feature 'x1' is 1e309, not a finite number");
    expect_refused("{\"x2\":-1.8e308,\"x1\":1}", "feature 'x2' is -1.8e308, not a finite number");
    expect_refused("{\"x1\":1000000000000000000000000000000000000000000000000000000000000e999}",
                   "feature 'x1' is 10000000000000000000000000000000..., not a finite number");
}

Test(json, exact_values)
{
    expect_decoded("{\"x1\":0.1,\"x2\":0.3}", 0.1, 0.3);
    expect_decoded("{\"x1\":9007199254740993,\"x2\":9007199254740992}", 9007199254740992.0,
                   9007199254740992.0);
    expect_decoded("{\"x1\":2.2250738585072011e-308,\"x2\":2.2250738585072014e-308}",
                   2.2250738585072011e-308, 2.2250738585072014e-308);
    expect_decoded("{\"x1\":0.000000000000000000000000000001,\"x2\":12345678901234567890}", 1e-30,
                   12345678901234567890.0);
}

/* Decodes many printed doubles and compares them bit for bit with strtod (in the C locale
 * the test runs in), across the fast path's edges. */
/* Every number reads as strtod reads it, both where fewer than 16 bytes follow it and where
 * more do (json.c reads the short decimals of the latter without bounds checks). */
Test(json, exact_like_strtod)
{
    uint64_t x = 88172645463325252ull;
    const char *formats[] = {"%.17g", "%.16g", "%.15g", "%.6g", "%.3e",
                             "%.20g", "%.0f",  "%.1f",  "%.4f", "%.7f"};
    const int n_formats = (int)(sizeof(formats) / sizeof(formats[0]));
    for (int i = 0; i < 60000; i++) {
        double v;
        char text[64], rec[128];
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        switch (i % 3) {
        case 0: /* any finite double */
            memcpy(&v, &x, sizeof(v));
            if (!isfinite(v))
                continue;
            break;
        case 1: /* everyday magnitudes */
            v = (double)(x >> 11) / 9007199254740992.0;
            for (int e = (int)(x % 40) - 20; e != 0; e += e < 0 ? 1 : -1)
                v = e < 0 ? v / 10 : v * 10;
            break;
        default: /* integers around 2^53 */
            v = (double)((x >> 10) % 20000000000000000ull);
            break;
        }
        snprintf(text, sizeof(text), formats[i % n_formats], v);
        if (strlen(text) > 40)
            continue;
        if (strchr(text, 'n') || strchr(text, 'i'))
            continue;
        double want = strtod(text, NULL);
        for (int padded = 0; padded < 2; padded++) {
            snprintf(rec, sizeof(rec), "{\"x1\":%s%s}", text,
                     padded ? ",\"pad\":\"0123456789abcdef\"" : "");
            cr_assert_eq(decode(rec), SYMTASK_OK, "%s: %s", rec, errstr);
            cr_assert_eq(memcmp(&feat[0], &want, sizeof(want)), 0, "%s: %.17g, strtod %.17g", rec,
                         feat[0], want);
        }
    }
}

/* ---- Encoding --------------------------------------------------------------------------- */

Test(json, encode_appends_outputs)
{
    expect_encoded("{\"a\":1,\"x1\":2}", 0.5, "{\"a\":1,\"x1\":2,\"prediction\":0.5}");
    expect_encoded("{\"a\":1}", 1, "{\"a\":1,\"prediction\":1}");
    expect_encoded("{\"a\":1}", -0.1, "{\"a\":1,\"prediction\":-0.1}");
    expect_encoded("{\"a\":1}", NAN, "{\"a\":1,\"prediction\":null}");
    expect_encoded("{\"a\":{\"b\":[1,2]},\"c\":\"}\"}", 2,
                   "{\"a\":{\"b\":[1,2]},\"c\":\"}\",\"prediction\":2}");
}

Test(json, encode_whitespace_and_empty)
{
    expect_encoded("{\"a\":1 \n\t}", 0.5, "{\"a\":1,\"prediction\":0.5}");
    expect_encoded("{\"a\":1} \r\n", 0.5, "{\"a\":1,\"prediction\":0.5}");
    expect_encoded("  { \"a\" : 1 }", 0.5, "  { \"a\" : 1,\"prediction\":0.5}");
    expect_encoded("{}", 0.5, "{\"prediction\":0.5}");
    expect_encoded("{ \n }\n", 0.5, "{\"prediction\":0.5}");
}

Test(json, encode_output_name_collision)
{
    /* The old key is dropped and the output written at the end. */
    expect_encoded("{\"prediction\":1,\"a\":2}", 0.5, "{\"a\":2,\"prediction\":0.5}");
    expect_encoded("{\"a\":2, \"prediction\" : \"x\" , \"b\" : [1] }", 0.5,
                   "{\"a\":2,\"b\" : [1],\"prediction\":0.5}");
    expect_encoded("{\"prediction\":1}", 0.5, "{\"prediction\":0.5}");
    expect_encoded("{\"prediction\":1,\"prediction\":2}", 0.5, "{\"prediction\":0.5}");
    expect_encoded("{\"predicti\\u006fn\":1,\"a\":\"\\n\"}", 0.5,
                   "{\"a\":\"\\n\",\"prediction\":0.5}");
    /* The name as a value or a nested key is no collision. */
    expect_encoded("{\"a\":\"prediction\"}", 0.5, "{\"a\":\"prediction\",\"prediction\":0.5}");
    expect_encoded("{\"a\":{\"prediction\":1}}", 0.5,
                   "{\"a\":{\"prediction\":1},\"prediction\":0.5}");
    expect_encoded("{\"a\":\"\\\"\"}", 0.5, "{\"a\":\"\\\"\",\"prediction\":0.5}");
}

Test(json, encode_several_outputs)
{
    const char *const outputs[] = {"prediction", "probability", "a\"b\\\x01"};
    json_bind_to(default_features, 2, outputs, 3);
    double values[3] = {1, 0.75, 1e300};
    cr_expect_str_eq(
        encode("{\"x1\":1}", values),
        "{\"x1\":1,\"prediction\":1,\"probability\":0.75,\"a\\\"b\\\\\\u0001\":1e+300}");
    cr_expect_str_eq(encode("{}", values),
                     "{\"prediction\":1,\"probability\":0.75,\"a\\\"b\\\\\\u0001\":1e+300}");
    cr_expect_str_eq(
        encode("{\"probability\":0,\"x1\":1}", values),
        "{\"x1\":1,\"prediction\":1,\"probability\":0.75,\"a\\\"b\\\\\\u0001\":1e+300}");
}

Test(json, bind_refuses_duplicate_outputs)
{
    const char *const outputs[] = {"prediction", "prediction"};
    ops->destroy(inst);
    inst = NULL;
    cr_assert_eq(ops->create(plugin_host(), params, &inst, errstr, sizeof(errstr)), SYMTASK_OK);
    cr_expect_eq(serializer_bind(default_features, 2, outputs, 2), SYMTASK_ERR_FATAL);
    cr_expect_str_eq(errstr, "output 'prediction' is listed twice");
}

Test(json, encode_of_a_non_object)
{
    symtask_record_t record = {.value = "[1]", .len = 3};
    double outputs[1] = {1};
    cr_expect_eq(ops->encode(inst, &record, outputs, &out, errstr, sizeof(errstr)),
                 SYMTASK_ERR_RECORD);
}

/* ---- The record's fields (ABI 1.1) ------------------------------------------------------- */

#define FIELD(n, v) ((symtask_field_t){(n), sizeof(n) - 1, (v)})

Test(json, decode_fields_types_every_member_as_json_has_it)
{
    static const char rec[] = "{\"n\":-0.50,\"s\":\"a\\\"b\\u00e9\\u0000\\ud83d\\ude00\","
                              "\"b\":true,\"f\":false,\"z\":null,\"o\":{\"k\":[1]},\"a\":[ ],"
                              "\"\\u00e9\":12345678901234567890,\"e\":\"\"}";
    cr_assert_eq(decode_fields_n(rec, sizeof(rec) - 1), SYMTASK_OK, "%s", errstr);
    cr_assert_eq(fields.count, 9);
    const symtask_value_t *v = expect_field(0, "n", SYMTASK_TYPE_NUMBER);
    cr_expect_eq(v->number, -0.5);
    expect_text(v, "-0.50", 5);
    expect_text(expect_field(1, "s", SYMTASK_TYPE_STRING), "a\"b\xc3\xa9\0\xf0\x9f\x98\x80", 10);
    cr_expect_eq(expect_field(2, "b", SYMTASK_TYPE_BOOL)->boolean, 1);
    cr_expect_eq(expect_field(3, "f", SYMTASK_TYPE_BOOL)->boolean, 0);
    expect_field(4, "z", SYMTASK_TYPE_MISSING);
    expect_text(expect_field(5, "o", SYMTASK_TYPE_NESTED), "{\"k\":[1]}", 9);
    expect_text(expect_field(6, "a", SYMTASK_TYPE_NESTED), "[ ]", 3);
    v = expect_field(7, "\xc3\xa9", SYMTASK_TYPE_NUMBER);
    expect_text(v, "12345678901234567890", 20);
    cr_expect_eq(v->number, 12345678901234567890.0);
    expect_text(expect_field(8, "e", SYMTASK_TYPE_STRING), "", 0);
}

Test(json, decode_fields_keeps_a_key_given_twice_and_refuses_what_decode_refuses)
{
    cr_assert_eq(decode_fields_n("{\"x\":1,\"x\":\"2\"}", 15), SYMTASK_OK, "%s", errstr);
    cr_assert_eq(fields.count, 2);
    expect_field(0, "x", SYMTASK_TYPE_NUMBER);
    expect_field(1, "x", SYMTASK_TYPE_STRING);
    cr_assert_eq(decode_fields_n("{}", 2), SYMTASK_OK);
    cr_expect_eq(fields.count, 0);
    static const char *const bad[] = {"", "{\"a\" 1}", "[1]", "{\"a\":\"\\ud800\"}", "{} x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char want[512];
        cr_assert_eq(decode(bad[i]), SYMTASK_ERR_RECORD, "%s", bad[i]);
        snprintf(want, sizeof(want), "%s", errstr);
        cr_expect_eq(decode_fields_n(bad[i], strlen(bad[i])), SYMTASK_ERR_RECORD, "%s", bad[i]);
        cr_expect_str_eq(errstr, want, "[%s]", bad[i]);
    }
}

Test(json, encode_fields_writes_every_type)
{
    const symtask_field_t in[] = {
        FIELD("n", symtask_value_number(0.1)),
        FIELD("t", ((symtask_value_t){SYMTASK_TYPE_NUMBER, 0, 5.0, "5.000", 5})),
        FIELD("dot", ((symtask_value_t){SYMTASK_TYPE_NUMBER, 0, 0.5, ".5", 2})),
        FIELD("inf", symtask_value_number(INFINITY)),
        FIELD("s", symtask_value_string("q\"\\\n\x01\0\xc3\xa9/", 9)),
        FIELD("b", symtask_value_bool(1)),
        FIELD("m", symtask_value_missing()),
        FIELD("o", ((symtask_value_t){SYMTASK_TYPE_NESTED, 0, 0, "{\"k\": [1, {}]}", 14})),
        FIELD("na\"me", symtask_value_bool(0)),
    };
    const symtask_field_t outs[] = {FIELD("label", symtask_value_string("x", 1)),
                                    FIELD("p", symtask_value_number(1))};
    symtask_fields_t f = {in, sizeof(in) / sizeof(in[0])}, o = {outs, 2};
    symtask_status_t st;
    const char *got = encode_fields_with(NULL, &f, &o, &st);
    cr_assert_eq(st, SYMTASK_OK, "%s", errstr);
    cr_expect_str_eq(got, "{\"n\":0.1,\"t\":5.000,\"dot\":0.5,\"inf\":null,"
                          "\"s\":\"q\\\"\\\\\\n\\u0001\\u0000\xc3\xa9/\",\"b\":true,\"m\":null,"
                          "\"o\":{\"k\": [1, {}]},\"na\\\"me\":false,\"label\":\"x\",\"p\":1}");
    /* a field with an output's name gives way to it; no fields, no comma */
    const symtask_field_t clash[] = {FIELD("p", symtask_value_number(7))};
    f = (symtask_fields_t){clash, 1};
    cr_expect_str_eq(encode_fields_with(NULL, &f, &o, &st), "{\"label\":\"x\",\"p\":1}");
    f = (symtask_fields_t){NULL, 0};
    o = (symtask_fields_t){NULL, 0};
    cr_expect_str_eq(encode_fields_with(NULL, &f, &o, &st), "{}");
}

Test(json, encode_fields_refuses_what_json_cannot_hold)
{
    struct {
        symtask_field_t field;
        const char *message;
    } cases[] = {
        {FIELD("s", symtask_value_string("a\xff", 2)),
         "field 's' is a string that is not valid UTF-8"},
        {FIELD("s", symtask_value_string("\xed\xa0\x80", 3)),
         "field 's' is a string that is not valid UTF-8"},
        {FIELD("a\xc3", symtask_value_bool(1)), "field name 'a?' is not valid UTF-8"},
        {FIELD("o", ((symtask_value_t){SYMTASK_TYPE_NESTED, 0, 0, "{\"k\":", 5})),
         "field 'o' holds nested data that is not a JSON object, array or string (or nests deeper "
         "than 64 levels with the record)"},
        {FIELD("o", ((symtask_value_t){SYMTASK_TYPE_NESTED, 0, 0, "[] []", 5})),
         "field 'o' holds nested data that is not a JSON object, array or string (or nests deeper "
         "than 64 levels with the record)"},
        {FIELD("o", ((symtask_value_t){SYMTASK_TYPE_NESTED, 0, 0, " 1", 2})),
         "field 'o' holds nested data that is not a JSON object, array or string (or nests deeper "
         "than 64 levels with the record)"},
        {FIELD("w", ((symtask_value_t){(symtask_type_t)9, 0, 0, NULL, 0})),
         "field 'w' has a type (9) the json serializer cannot write"},
    };
    symtask_fields_t o = {NULL, 0};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        symtask_fields_t f = {&cases[i].field, 1};
        symtask_status_t st;
        cr_expect_null(encode_fields_with(NULL, &f, &o, &st), "case %zu", i);
        cr_expect_eq(st, SYMTASK_ERR_RECORD, "case %zu", i);
        cr_expect_str_eq(errstr, cases[i].message, "case %zu", i);
    }
    /* an output too, on the path that keeps the source's bytes */
    const symtask_field_t bad[] = {FIELD("label", symtask_value_string("\xc0\xaf", 2))};
    o = (symtask_fields_t){bad, 1};
    symtask_status_t st;
    cr_expect_null(encode_fields_with("{\"x\":1}", NULL, &o, &st));
    cr_expect_str_eq(errstr, "output 'label' is a string that is not valid UTF-8");
}

Test(json, encode_fields_keeps_the_source_bytes_with_typed_outputs)
{
    const symtask_field_t outs[] = {FIELD("label", symtask_value_string("caf\xc3\xa9", 5)),
                                    FIELD("ok", symtask_value_bool(0)),
                                    FIELD("none", symtask_value_missing())};
    symtask_fields_t o = {outs, 3};
    symtask_status_t st;
    cr_expect_str_eq(encode_fields_with("{ \"x\" : 1.50 } ", NULL, &o, &st),
                     "{ \"x\" : 1.50,\"label\":\"caf\xc3\xa9\",\"ok\":false,\"none\":null}");
    cr_expect_str_eq(encode_fields_with("{\"label\":\"old\",\"x\":1}", NULL, &o, &st),
                     "{\"x\":1,\"label\":\"caf\xc3\xa9\",\"ok\":false,\"none\":null}");
    /* an escaped key of the same name is found too */
    cr_expect_str_eq(encode_fields_with("{\"\\u006cabel\":1}", NULL, &o, &st),
                     "{\"label\":\"caf\xc3\xa9\",\"ok\":false,\"none\":null}");
    cr_expect_null(encode_fields_with("[]", NULL, &o, &st));
    cr_expect_eq(st, SYMTASK_ERR_RECORD);
}

/* ---- Reading and writing past the fast path: what fuzzing found --------------------------- */

/* Room for a record that ends where a page nobody may read begins: a read past the record
 * crashes the test, even inside strtod. */
typedef struct page_end {
    char *map;
    size_t page;
} page_end_t;

static page_end_t page_end_new(void)
{
    page_end_t pe = {.page = (size_t)sysconf(_SC_PAGESIZE)};
    pe.map = mmap(NULL, 2 * pe.page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(pe.map, MAP_FAILED);
    cr_assert_eq(mprotect(pe.map + pe.page, pe.page, PROT_NONE), 0);
    return pe;
}

/* The @len bytes at @s, moved to end at the unreadable page. */
static const char *page_end_put(page_end_t *pe, const char *s, size_t len)
{
    cr_assert_leq(len, pe->page);
    memcpy(pe->map + pe->page - len, s, len);
    return pe->map + pe->page - len;
}

Test(json, decode_fields_reads_nothing_past_a_truncated_record)
{
    /* numbers the scan cannot compute itself (strtod reads them), each last in a prefix */
    const char *whole = "{\"x1\":12345678901234567890123,\"x2\":1e400,\"x3\":0.1e-400}";
    size_t len = strlen(whole);
    page_end_t pe = page_end_new();
    symtask_arena_t own_arena;
    arena_init(&own_arena);
    for (size_t n = 1; n <= len; n++) {
        symtask_record_t record = {page_end_put(&pe, whole, n), n};
        symtask_fields_t got = {NULL, 0};
        errstr[0] = '\0';
        symtask_status_t st =
            ops->decode_fields(inst, &record, &own_arena, &got, errstr, sizeof(errstr));
        if (n < len) {
            cr_expect_eq(st, SYMTASK_ERR_RECORD, "prefix of %zu bytes", n);
            cr_expect(errstr[0] != '\0', "prefix of %zu bytes: no message", n);
        } else {
            cr_assert_eq(st, SYMTASK_OK, "%s", errstr);
            cr_assert_eq(got.count, 3);
            cr_expect_eq(got.items[0].value.number, 12345678901234567890123.0);
            cr_expect(isinf(got.items[1].value.number));
            cr_expect_eq(got.items[2].value.number, 0);
        }
        arena_reset(&own_arena);
    }
    arena_free(&own_arena);
    munmap(pe.map, 2 * pe.page);
}

Test(json, encode_fields_replaces_a_long_escaped_key_named_like_a_run_time_output)
{
    /* longer than every bound name (x1, x2, prediction), and spelt with an escape */
    const char *rec = "{\"run_time_outpu\\u0074\":1,\"x1\":2}";
    symtask_record_t record = {rec, strlen(rec)};
    symtask_field_t items[2] = {
        {"prediction", 10, symtask_value_number(0.5)},
        {"run_time_output", 15, symtask_value_bool(1)},
    };
    symtask_fields_t outputs = {items, 2};
    symtask_arena_t own_arena;
    arena_init(&own_arena);
    buf_reset(&out);
    cr_assert_eq(
        ops->encode_fields(inst, &record, NULL, &outputs, &own_arena, &out, errstr, sizeof(errstr)),
        SYMTASK_OK, "%s", errstr);
    cr_expect_str_eq(out.data, "{\"x1\":2,\"prediction\":0.5,\"run_time_output\":true}");
    arena_free(&own_arena);
}

Test(json, nested_output_fits_the_record_it_goes_into)
{
    /* the record is level 1: nested data may add 63 levels, so that json reads it back */
    char deep[200];
    symtask_fields_t none = {NULL, 0};
    for (int levels = 63; levels <= 64; levels++) {
        memset(deep, '[', (size_t)levels);
        memset(deep + levels, ']', (size_t)levels);
        symtask_field_t f =
            FIELD("o", ((symtask_value_t){SYMTASK_TYPE_NESTED, 0, 0, deep, 2 * (size_t)levels}));
        symtask_fields_t in = {&f, 1};
        symtask_status_t st;
        const char *got = encode_fields_with(NULL, &in, &none, &st);
        if (levels == 63) {
            cr_assert_eq(st, SYMTASK_OK, "%s", errstr);
            cr_expect_eq(decode_n(got, strlen(got)), SYMTASK_OK, "json cannot read back %s: %s",
                         got, errstr);
        } else {
            cr_expect_eq(st, SYMTASK_ERR_RECORD, "%d levels were written", levels);
        }
    }
}
