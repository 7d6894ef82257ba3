/* serializer_check.h: state and assertions shared by the serializer suites (test_json.c,
 * test_csv.c), which drive one plugin instance through the loader. Each suite's .init
 * loads its plugin with serializer_load() and builds the instance; .fini calls
 * serializer_unload(). */
#ifndef SYMTASK_TESTS_SERIALIZER_CHECK_H
#define SYMTASK_TESTS_SERIALIZER_CHECK_H

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "loader.h"

static plugin_t *plugin;
static const symtask_serializer_ops_t *ops;
static json_t *param_obj;
static symtask_params_t *params;
static void *inst;
static char errstr[512];
static double feat[256];
static symtask_buf_t out;

static const char *const default_features[] = {"x1", "x2"};
static const char *const default_outputs[] = {"prediction"};

static void serializer_load(const char *name)
{
    const char *dir = getenv("SYMTASK_PLUGIN_DIR");
    cr_assert_not_null(dir, "SYMTASK_PLUGIN_DIR is not set");
    plugin =
        plugin_load(dir, name, SYMTASK_PLUGIN_SERIALIZER, "sml.serializer", errstr, sizeof(errstr));
    cr_assert_not_null(plugin, "plugin_load: %s", errstr);
    ops = &plugin_descriptor(plugin)->ops.serializer;
    buf_init(&out);
}

static void serializer_unload(void)
{
    if (inst)
        ops->destroy(inst);
    inst = NULL;
    buf_free(&out);
    if (params)
        plugin_params_free(params);
    json_decref(param_obj);
    if (plugin)
        plugin_unload(plugin);
}

static symtask_status_t decode_n(const void *data, size_t len)
{
    symtask_record_t record = {.value = data, .len = len};
    errstr[0] = '\0';
    for (size_t i = 0; i < sizeof(feat) / sizeof(feat[0]); i++)
        feat[i] = 12345.0; /* decode must write every feature */
    return ops->decode(inst, &record, feat, errstr, sizeof(errstr));
}

static symtask_status_t decode(const char *s)
{
    return decode_n(s, strlen(s));
}

/* Asserts that @s decodes, with x1 and x2 as given (NAN: missing). */
static void expect_decoded(const char *s, double x1, double x2)
{
    cr_assert_eq(decode(s), SYMTASK_OK, "decode of [%s]: %s", s, errstr);
    if (isnan(x1))
        cr_expect(isnan(feat[0]), "x1 of [%s]: %g, expected missing", s, feat[0]);
    else
        cr_expect_eq(feat[0], x1, "x1 of [%s]: %.17g, expected %.17g", s, feat[0], x1);
    if (isnan(x2))
        cr_expect(isnan(feat[1]), "x2 of [%s]: %g, expected missing", s, feat[1]);
    else
        cr_expect_eq(feat[1], x2, "x2 of [%s]: %.17g, expected %.17g", s, feat[1], x2);
}

/* Asserts that @s is refused as a record with exactly the message @msg. */
static void expect_refused(const char *s, const char *msg)
{
    cr_assert_eq(decode(s), SYMTASK_ERR_RECORD, "decode of [%s] did not fail", s);
    cr_expect_str_eq(errstr, msg, "decode of [%s]: \"%s\", expected \"%s\"", s, errstr, msg);
}

/* Encodes @s with @outputs and returns the bytes written (valid until the next call). */
static const char *encode(const char *s, const double *outputs)
{
    symtask_record_t record = {.value = s, .len = strlen(s)};
    buf_reset(&out);
    cr_assert_eq(ops->encode(inst, &record, outputs, &out, errstr, sizeof(errstr)), SYMTASK_OK,
                 "encode of [%s]: %s", s, errstr);
    return out.data ? out.data : "";
}

#endif
