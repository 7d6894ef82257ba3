/* outage.c: a serializer for tests of passing failures (ABI 1.1, the neutral calls only):
 * a record is a number, read as the field "x"; a sink record is "x=<x>" and ";name=value"
 * for each output. While the file sml.serializer.down names exists, decode_fields() (or,
 * with sml.serializer.when = encode, encode_fields(); with bind, bind_typed()) answers
 * RETRIABLE, as a serializer whose schema registry cannot be reached: the worker must make
 * the call again later (and the check at create refuses the task when bind_typed() does). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "symtask/plugin.h"

typedef struct outage {
    const symtask_host_t *host;
    const char *down;
    int on_encode;
    int on_bind;
    const char *crash_on;
    int crash_in_encode;
} outage_t;

static const symtask_option_t outage_options[] = {
    {"sml.serializer.down", SYMTASK_OPTION_STRING, NULL, 1,
     "A file whose presence makes the serializer answer RETRIABLE."},
    {"sml.serializer.when", SYMTASK_OPTION_STRING, "decode", 0,
     "Which call fails while the file exists: decode, encode or bind."},
    {"sml.serializer.crash_on", SYMTASK_OPTION_STRING, NULL, 0,
     "A record (its text) whose decoding kills the worker."},
    {"sml.serializer.crash_in", SYMTASK_OPTION_STRING, "decode", 0,
     "Where crash_on kills the worker: decode or encode."},
    {NULL},
};

static symtask_status_t outage_create(const symtask_host_t *host, const symtask_params_t *params,
                                      void **state, char *errstr, size_t errstr_size)
{
    outage_t *o = calloc(1, sizeof(*o));
    if (!o)
        return SYMTASK_ERR_FATAL;
    o->host = host;
    o->down = host->param(params, "sml.serializer.down");
    o->on_encode = strcmp(host->param(params, "sml.serializer.when"), "encode") == 0;
    o->on_bind = strcmp(host->param(params, "sml.serializer.when"), "bind") == 0;
    o->crash_on = host->param(params, "sml.serializer.crash_on");
    o->crash_in_encode = strcmp(host->param(params, "sml.serializer.crash_in"), "encode") == 0;
    *state = o;
    return SYMTASK_OK;
}

static void outage_destroy(void *state)
{
    free(state);
}

/* Dies on the record crash_on in the call @encoding names. */
static void outage_maybe_crash(const outage_t *o, const symtask_record_t *record, int encoding)
{
    if (o->crash_on != NULL && o->crash_in_encode == encoding &&
        record->len == strlen(o->crash_on) &&
        memcmp(record->value, o->crash_on, record->len) == 0) {
        signal(SIGSEGV, SIG_DFL); /* past a sanitizer's handler: killed by the signal */
        raise(SIGSEGV);
    }
}

static int outage_now(const outage_t *o, int encoding, char *errstr, size_t errstr_size)
{
    if (o->on_bind || o->on_encode != encoding || access(o->down, F_OK) != 0)
        return 0;
    snprintf(errstr, errstr_size, "outage: the registry is down (%s exists)", o->down);
    return 1;
}

static symtask_status_t outage_decode_fields(void *state, const symtask_record_t *record,
                                             symtask_arena_t *arena, symtask_fields_t *fields,
                                             char *errstr, size_t errstr_size)
{
    outage_t *o = state;
    outage_maybe_crash(o, record, 0);
    if (outage_now(o, 0, errstr, errstr_size))
        return SYMTASK_ERR_RETRIABLE;
    char text[64], *end;
    if (record->len == 0 || record->len >= sizeof(text)) {
        snprintf(errstr, errstr_size, "outage: not a number");
        return SYMTASK_ERR_RECORD;
    }
    memcpy(text, record->value, record->len);
    text[record->len] = '\0';
    double x = strtod(text, &end);
    if (*end != '\0') {
        snprintf(errstr, errstr_size, "outage: not a number");
        return SYMTASK_ERR_RECORD;
    }
    symtask_field_t *f = o->host->arena_alloc(arena, sizeof(*f));
    if (!f)
        return SYMTASK_ERR_FATAL;
    *f = (symtask_field_t){"x", 1, symtask_value_number(x)};
    *fields = (symtask_fields_t){f, 1};
    return SYMTASK_OK;
}

static symtask_status_t outage_encode_fields(void *state, const symtask_record_t *record,
                                             const symtask_fields_t *fields,
                                             const symtask_fields_t *outputs,
                                             symtask_arena_t *arena, symtask_buf_t *out,
                                             char *errstr, size_t errstr_size)
{
    outage_t *o = state;
    outage_maybe_crash(o, record, 1);
    if (outage_now(o, 1, errstr, errstr_size))
        return SYMTASK_ERR_RETRIABLE;
    symtask_fields_t own;
    if (!fields) {
        if (outage_decode_fields(state, record, arena, &own, errstr, errstr_size) != SYMTASK_OK)
            return SYMTASK_ERR_RECORD;
        fields = &own;
    }
    if (o->host->buf_append(out, "x=", 2) < 0 ||
        o->host->buf_append_number(out, fields->items[0].value.number) < 0)
        return SYMTASK_ERR_FATAL;
    for (size_t i = 0; i < outputs->count; i++) {
        const symtask_field_t *f = &outputs->items[i];
        if (o->host->buf_append(out, ";", 1) < 0 ||
            o->host->buf_append(out, f->name, f->name_len) < 0 ||
            o->host->buf_append(out, "=", 1) < 0 ||
            o->host->buf_append_number(out, f->value.number) < 0)
            return SYMTASK_ERR_FATAL;
    }
    return SYMTASK_OK;
}

static symtask_status_t outage_bind_typed(void *state, const symtask_binding_t *binding,
                                          char *errstr, size_t errstr_size)
{
    outage_t *o = state;
    if (!o->on_bind || access(o->down, F_OK) != 0)
        return SYMTASK_OK;
    snprintf(errstr, errstr_size, "outage: the registry cannot be reached (%s exists)", o->down);
    return SYMTASK_ERR_RETRIABLE;
}

static const symtask_plugin_t outage_plugin = {
    SYMTASK_PLUGIN_HEAD(SYMTASK_PLUGIN_SERIALIZER),
    .name = "outage",
    .version = "1.0.0",
    .description = "A number per record, with outages on demand (tests).",
    .options = outage_options,
    .ops.serializer =
        {
            .create = outage_create,
            .destroy = outage_destroy,
            .bind_typed = outage_bind_typed,
            .decode_fields = outage_decode_fields,
            .encode_fields = outage_encode_fields,
        },
};

SYMTASK_PLUGIN_EXPORT const symtask_plugin_t *symtask_plugin_entry(const symtask_host_t *host)
{
    return &outage_plugin;
}
