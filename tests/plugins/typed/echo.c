/* echo.c: a predictor for tests of typed values (ABI 1.1): it gives back what it was given,
 * so that a test sees exactly what reached the predictor and what a serializer writes.
 *
 *   sml.predictor.features = "a:number,b:string,c:bool,d:any"
 *       declares those features; outputs "<name>_out" of the same type (for any: a string
 *       naming the type received) hold each row's value.
 *   sml.predictor.whole = true
 *       reads whole records (no features) and names its outputs at run time: for every field
 *       "<name>" of a record, an output "echo_<name>" with the same value.
 *   sml.predictor.fail_on = "<text>"
 *       a row whose first string feature (or field) equals <text> goes to the dead letters.
 *   sml.predictor.lie = true
 *       writes a number into the first string output: the worker must refuse that.
 *   sml.predictor.outage = "<path>"
 *       while that file exists, predict() answers RETRIABLE, as a plugin whose model server
 *       cannot be reached: the worker must make the call again later, losing nothing.
 *
 * Strings travel through the batch arena, as a plugin must copy what outlives the call. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "symtask/plugin.h"

#define MAX_FEATURES 32

typedef struct echo {
    const symtask_host_t *host;
    char *spec; /* the features option, split in place */
    symtask_column_t features[MAX_FEATURES], outputs[MAX_FEATURES];
    char out_names[MAX_FEATURES][80];
    size_t n;
    int whole, lie;
    const char *fail_on, *outage;
} echo_t;

static const symtask_option_t echo_options[] = {
    {"sml.predictor.features", SYMTASK_OPTION_LIST, NULL, 0,
     "Features as name:type (number, string, bool or any)."},
    {"sml.predictor.whole", SYMTASK_OPTION_BOOL, "false", 0,
     "Read whole records and echo every field as an output named at run time."},
    {"sml.predictor.fail_on", SYMTASK_OPTION_STRING, NULL, 0,
     "A string value that sends its row to the dead letters."},
    {"sml.predictor.lie", SYMTASK_OPTION_BOOL, "false", 0,
     "Write a number into the first string output."},
    {"sml.predictor.outage", SYMTASK_OPTION_STRING, NULL, 0,
     "A file whose presence makes predict() answer RETRIABLE."},
    {NULL},
};

static void echo_destroy(void *state)
{
    echo_t *e = state;
    if (e)
        free(e->spec);
    free(e);
}

static int echo_type(const char *name, symtask_type_t *type)
{
    static const struct {
        const char *name;
        symtask_type_t type;
    } types[] = {{"number", SYMTASK_TYPE_NUMBER},
                 {"string", SYMTASK_TYPE_STRING},
                 {"bool", SYMTASK_TYPE_BOOL},
                 {"any", SYMTASK_TYPE_ANY}};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (strcmp(name, types[i].name) == 0)
            return *type = types[i].type, 0;
    return -1;
}

static symtask_status_t echo_create(const symtask_host_t *host, const symtask_params_t *params,
                                    void **state, char *errstr, size_t errstr_size)
{
    const char *spec = host->param(params, "sml.predictor.features");
    echo_t *e = calloc(1, sizeof(*e));
    if (!e)
        return SYMTASK_ERR_FATAL;
    e->host = host;
    e->whole = strcmp(host->param(params, "sml.predictor.whole"), "true") == 0;
    e->lie = strcmp(host->param(params, "sml.predictor.lie"), "true") == 0;
    e->fail_on = host->param(params, "sml.predictor.fail_on");
    e->outage = host->param(params, "sml.predictor.outage");
    if (spec && !(e->spec = strdup(spec)))
        goto error;
    for (char *item = e->spec, *next; item; item = next) {
        next = strchr(item, ',');
        if (next)
            *next++ = '\0';
        char *colon = strchr(item, ':');
        if (!colon || e->n == MAX_FEATURES || echo_type(colon + 1, &e->features[e->n].type) < 0) {
            snprintf(errstr, errstr_size, "params.sml.predictor.features: '%s' is not name:type",
                     item);
            goto error;
        }
        *colon = '\0';
        e->features[e->n].name = item;
        snprintf(e->out_names[e->n], sizeof(e->out_names[e->n]),
                 e->features[e->n].type == SYMTASK_TYPE_ANY ? "%s_kind" : "%s_out", item);
        e->outputs[e->n].name = e->out_names[e->n];
        e->outputs[e->n].type = e->features[e->n].type == SYMTASK_TYPE_ANY ? SYMTASK_TYPE_STRING
                                                                           : e->features[e->n].type;
        e->n++;
    }
    *state = e;
    return SYMTASK_OK;
error:
    echo_destroy(e);
    return SYMTASK_ERR_FATAL;
}

static void echo_signature(void *state, symtask_signature_t *sig)
{
    echo_t *e = state;
    if (e->whole) {
        sig->flags = SYMTASK_SIGNATURE_ALL_FIELDS | SYMTASK_SIGNATURE_DYNAMIC_OUTPUTS;
        return;
    }
    sig->features = e->features;
    sig->n_features = e->n;
    sig->outputs = e->outputs;
    sig->n_outputs = e->n;
}

static const char *type_word(symtask_type_t type)
{
    switch (type) {
    case SYMTASK_TYPE_MISSING:
        return "missing";
    case SYMTASK_TYPE_NUMBER:
        return "number";
    case SYMTASK_TYPE_STRING:
        return "string";
    case SYMTASK_TYPE_BOOL:
        return "bool";
    case SYMTASK_TYPE_NESTED:
        return "nested";
    default:
        return "unknown";
    }
}

/* @v with its text copied into the arena: it must outlive the call. */
static int echo_copy(const echo_t *e, symtask_arena_t *arena, symtask_value_t *v)
{
    if (!v->text)
        return 0;
    char *copy = e->host->arena_alloc(arena, v->len ? v->len : 1);
    if (!copy)
        return -1;
    memcpy(copy, v->text, v->len);
    v->text = copy;
    return 0;
}

static int echo_fails(const echo_t *e, const symtask_value_t *v)
{
    return e->fail_on && v->type == SYMTASK_TYPE_STRING && v->len == strlen(e->fail_on) &&
           memcmp(v->text, e->fail_on, v->len) == 0;
}

static symtask_status_t echo_whole(echo_t *e, symtask_batch_t *batch, size_t row)
{
    const symtask_fields_t *rec = &batch->records[row];
    symtask_field_t *outs = e->host->arena_alloc(batch->arena, (rec->count + 1) * sizeof(*outs));
    if (!outs)
        return SYMTASK_ERR_FATAL;
    for (size_t i = 0; i < rec->count; i++) {
        const symtask_field_t *f = &rec->items[i];
        if (echo_fails(e, &f->value)) {
            batch->row_status[row] = SYMTASK_ERR_RECORD;
            snprintf(symtask_batch_row_error(batch, row), batch->row_error_size,
                     "echo: refused field '%.*s'", (int)f->name_len, f->name);
            return SYMTASK_OK;
        }
        char *name = e->host->arena_alloc(batch->arena, f->name_len + 5);
        if (!name)
            return SYMTASK_ERR_FATAL;
        memcpy(name, "echo_", 5);
        memcpy(name + 5, f->name, f->name_len);
        outs[i].name = name;
        outs[i].name_len = f->name_len + 5;
        outs[i].value = f->value;
        if (echo_copy(e, batch->arena, &outs[i].value) < 0)
            return SYMTASK_ERR_FATAL;
    }
    batch->row_outputs[row] = (symtask_fields_t){outs, rec->count};
    return SYMTASK_OK;
}

static symtask_status_t echo_predict(void *state, symtask_batch_t *batch, char *errstr,
                                     size_t errstr_size)
{
    echo_t *e = state;
    if (e->outage && access(e->outage, F_OK) == 0) {
        snprintf(errstr, errstr_size, "echo: the model server is down (%s exists)", e->outage);
        return SYMTASK_ERR_RETRIABLE;
    }
    for (size_t row = 0; row < batch->rows; row++) {
        if (e->whole) {
            if (echo_whole(e, batch, row) != SYMTASK_OK)
                return SYMTASK_ERR_FATAL;
            continue;
        }
        for (size_t f = 0; f < e->n; f++) {
            /* numbers only: the worker hands doubles; else typed values */
            symtask_value_t v = batch->values
                                    ? batch->values[row * e->n + f]
                                    : symtask_value_number(batch->features[row * e->n + f]);
            if (echo_fails(e, &v)) {
                batch->row_status[row] = SYMTASK_ERR_RECORD;
                snprintf(symtask_batch_row_error(batch, row), batch->row_error_size,
                         "echo: refused '%s'", e->fail_on);
                break;
            }
            if (e->features[f].type == SYMTASK_TYPE_ANY) {
                const char *word = type_word(v.type);
                v = symtask_value_string(word, strlen(word));
            } else if (echo_copy(e, batch->arena, &v) < 0) {
                return SYMTASK_ERR_FATAL;
            }
            if (e->lie && e->outputs[f].type == SYMTASK_TYPE_STRING)
                v = symtask_value_number(1);
            if (batch->output_values)
                batch->output_values[row * e->n + f] = v;
            else
                batch->outputs[row * e->n + f] = v.number;
        }
    }
    return SYMTASK_OK;
}

static const symtask_plugin_t echo_plugin = {
    SYMTASK_PLUGIN_HEAD(SYMTASK_PLUGIN_PREDICTOR),
    .name = "echo",
    .version = "1.0.0",
    .description = "Gives back the typed values it reads (tests).",
    .options = echo_options,
    .ops.predictor =
        {
            .create = echo_create,
            .predict = echo_predict,
            .destroy = echo_destroy,
            .signature = echo_signature,
        },
};

SYMTASK_PLUGIN_EXPORT const symtask_plugin_t *symtask_plugin_entry(const symtask_host_t *host)
{
    return &echo_plugin;
}
