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
static symtask_arena_t arena;   /* the batch memory of decode_fields and encode_fields */
static symtask_fields_t fields; /* what decode_fields() gave */

static const char *const default_features[] = {"x1", "x2"};
static const char *const default_outputs[] = {"prediction"};

/* What the instance is bound to: it outlives the instance, as the worker's does. */
static symtask_column_t bound_columns[1024];
static symtask_binding_t binding;

/* Binds the instance to the features and outputs of @columns (n_features, then n_outputs),
 * for reading and writing, through bind_typed() when the plugin has it, as the worker does.
 * Returns the plugin's answer. */
static symtask_status_t serializer_bind_columns(const symtask_column_t *columns, size_t n_features,
                                                size_t n_outputs, uint32_t flags)
{
    cr_assert_leq(n_features + n_outputs, sizeof(bound_columns) / sizeof(bound_columns[0]));
    memcpy(bound_columns, columns, (n_features + n_outputs) * sizeof(*columns));
    binding = (symtask_binding_t){
        .roles = SYMTASK_ROLE_DECODE | SYMTASK_ROLE_ENCODE,
        .flags = flags,
        .features = bound_columns,
        .n_features = n_features,
        .outputs = bound_columns + n_features,
        .n_outputs = n_outputs,
    };
    errstr[0] = '\0';
    if (ops->bind_typed)
        return ops->bind_typed(inst, &binding, errstr, sizeof(errstr));
    const char *names[1024];
    for (size_t i = 0; i < n_features + n_outputs; i++)
        names[i] = columns[i].name;
    return ops->bind(inst, names, n_features, names + n_features, n_outputs, errstr,
                     sizeof(errstr));
}

/* The same with numbers only, named by @features and @outputs. */
static symtask_status_t serializer_bind(const char *const *features, size_t n_features,
                                        const char *const *outputs, size_t n_outputs)
{
    symtask_column_t columns[1024];
    cr_assert_leq(n_features + n_outputs, sizeof(columns) / sizeof(columns[0]));
    for (size_t i = 0; i < n_features; i++)
        columns[i] = (symtask_column_t){features[i], SYMTASK_TYPE_NUMBER};
    for (size_t i = 0; i < n_outputs; i++)
        columns[n_features + i] = (symtask_column_t){outputs[i], SYMTASK_TYPE_NUMBER};
    return serializer_bind_columns(columns, n_features, n_outputs, 0);
}

static void serializer_load(const char *name)
{
    const char *dir = getenv("SYMTASK_PLUGIN_DIR");
    cr_assert_not_null(dir, "SYMTASK_PLUGIN_DIR is not set");
    plugin =
        plugin_load(dir, name, SYMTASK_PLUGIN_SERIALIZER, "sml.serializer", errstr, sizeof(errstr));
    cr_assert_not_null(plugin, "plugin_load: %s", errstr);
    ops = &plugin_descriptor(plugin)->ops.serializer;
    buf_init(&out);
    arena_init(&arena);
}

static void serializer_unload(void)
{
    if (inst)
        ops->destroy(inst);
    inst = NULL;
    buf_free(&out);
    arena_free(&arena);
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

/* ---- The neutral form (ABI 1.1) ---------------------------------------------------------- */

/* decode_fields() of @len bytes at @data into `fields` (in the arena, reset first). */
static symtask_status_t decode_fields_n(const void *data, size_t len)
{
    symtask_record_t record = {.value = data, .len = len};
    arena_reset(&arena);
    errstr[0] = '\0';
    fields = (symtask_fields_t){NULL, 0};
    return ops->decode_fields(inst, &record, &arena, &fields, errstr, sizeof(errstr));
}

/* Asserts that field @i of `fields` is named @name and has type @type; returns it. */
static const symtask_value_t *expect_field(size_t i, const char *name, symtask_type_t type)
{
    cr_assert_lt(i, fields.count, "field %zu of %zu", i, fields.count);
    const symtask_field_t *f = &fields.items[i];
    cr_expect(f->name_len == strlen(name) && memcmp(f->name, name, f->name_len) == 0,
              "field %zu is '%.*s', expected '%s'", i, (int)f->name_len, f->name, name);
    cr_expect_eq(f->value.type, type, "field %zu ('%s'): type %d, expected %d", i, name,
                 (int)f->value.type, (int)type);
    return &f->value;
}

/* Asserts that @v's text is the @len bytes at @text. */
static void expect_text(const symtask_value_t *v, const char *text, size_t len)
{
    cr_expect(v->len == len && (len == 0 || memcmp(v->text, text, len) == 0),
              "text '%.*s' (%zu bytes), expected '%.*s' (%zu bytes)", (int)v->len,
              v->text ? v->text : "", v->len, (int)len, text, len);
}

/* encode_fields() of @record (the source, or NULL) with @in (the record's fields, or NULL)
 * and @outs; returns the bytes written (valid until the next call) or NULL with errstr set,
 * *@status telling what encode_fields answered. */
static const char *encode_fields_with(const char *record, const symtask_fields_t *in,
                                      const symtask_fields_t *outs, symtask_status_t *status)
{
    symtask_record_t rec = {.value = record, .len = record ? strlen(record) : 0};
    buf_reset(&out);
    errstr[0] = '\0';
    *status = ops->encode_fields(inst, record ? &rec : NULL, in, outs, &arena, &out, errstr,
                                 sizeof(errstr));
    return *status == SYMTASK_OK ? (out.data ? out.data : "") : NULL;
}

#endif
