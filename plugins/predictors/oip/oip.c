/* oip.c: the "oip" predictor plugin: predicts through a server of the Open Inference
 * Protocol (KServe v2: Triton, MLServer, KServe, Seldon), its model's inputs read from the
 * record fields of their names, or one FP64 matrix of chosen fields (see README.md). */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "body.h"
#include "http_client.h"
#include "params.h"
#include "symtask/plugin.h"

#define OIP_URL "sml.predictor.url"
#define OIP_MODEL "sml.predictor.model.name"
#define OIP_VERSION "sml.predictor.model.version"
#define OIP_LAYOUT "sml.predictor.input.layout"
#define OIP_INPUT "sml.predictor.input.name"
#define OIP_FEATURES "sml.predictor.features"
#define OIP_OUTPUTS "sml.predictor.outputs"
#define OIP_PREFIX "sml.predictor.output.prefix"
#define OIP_TOKEN "sml.predictor.token"
#define OIP_USER "sml.predictor.user"
#define OIP_PASSWORD "sml.predictor.password"
#define OIP_CA "sml.predictor.ca.file"
#define OIP_CONCURRENCY "sml.predictor.concurrency"
#define OIP_TIMEOUT "sml.predictor.timeout.ms"
#define OIP_ROWS "sml.predictor.request.rows"
#define OIP_CHECK "sml.predictor.check"
/* Set by the worker while the daemon checks a task at create (docs/plugins.md). */
#define OIP_VALIDATING "symtask.validate"

static const symtask_option_t oip_options[] = {
    {OIP_URL, SYMTASK_OPTION_STRING, NULL, 1,
     "URL of the inference server, e.g. http://triton:8000 (a path prefix is allowed)."},
    {OIP_MODEL, SYMTASK_OPTION_STRING, NULL, 1, "The model's name on the server."},
    {OIP_VERSION, SYMTASK_OPTION_STRING, NULL, 0,
     "The model's version; unset: the server's choice."},
    {OIP_LAYOUT, SYMTASK_OPTION_STRING, "columns", 0,
     "columns: one input tensor per model input, from the record field of its name; matrix: "
     "one FP64 tensor of shape [rows, features] from sml.predictor.features."},
    {OIP_INPUT, SYMTASK_OPTION_STRING, NULL, 0,
     "matrix: the name the model's one input must have; unset: whatever its name."},
    {OIP_FEATURES, SYMTASK_OPTION_LIST, NULL, 0,
     "matrix: the record fields of the matrix's columns, in order (required for matrix)."},
    {OIP_OUTPUTS, SYMTASK_OPTION_LIST, NULL, 0,
     "The output tensors asked for and written; unset: every output the server answers."},
    {OIP_PREFIX, SYMTASK_OPTION_STRING, "", 0,
     "Put before each output tensor's name to name the output field, e.g. pred_."},
    {OIP_TOKEN, SYMTASK_OPTION_STRING, NULL, 0,
     "A bearer token sent with every request (Authorization: Bearer)."},
    {OIP_USER, SYMTASK_OPTION_STRING, NULL, 0, "User name for HTTP basic authentication."},
    {OIP_PASSWORD, SYMTASK_OPTION_STRING, NULL, 0, "Password for HTTP basic authentication."},
    {OIP_CA, SYMTASK_OPTION_PATH, NULL, 0,
     "PEM file of the CAs that sign an https server's certificate; unset: the system's."},
    {OIP_CONCURRENCY, SYMTASK_OPTION_INT, "4", 0,
     "How many requests of a batch run at once, each on a connection kept alive (1 to 64)."},
    {OIP_TIMEOUT, SYMTASK_OPTION_INT, "10000", 0,
     "Milliseconds one request may take, connection included (100 to 20000); then the batch "
     "is tried again later."},
    {OIP_ROWS, SYMTASK_OPTION_INT, "128", 0,
     "The most records in one request: a bigger batch is cut into requests of even size (1 to "
     "100000)."},
    {OIP_CHECK, SYMTASK_OPTION_BOOL, "true", 0,
     "At create, read the model's metadata (the server answers, the model exists, its inputs "
     "suit the task); false: create the task without asking the server."},
    {NULL},
};

/* What a tensor's elements are. */
typedef enum oip_kind {
    OIP_FLOAT,
    OIP_INT,
    OIP_BOOL,
    OIP_BYTES,
} oip_kind_t;

/* One input tensor of a request: from the record field of the same name (columns), or the
 * matrix of the features. */
typedef struct oip_input {
    char *name;
    char datatype[16];
    oip_kind_t kind;
    int column; /* columns layout: shape [-1, 1] rather than [-1] */
} oip_input_t;

typedef struct oip {
    const symtask_host_t *host;
    hc_t *hc;
    char *model;
    char *target_meta, *target_infer;
    int matrix;
    const char *input_name; /* matrix: as set, or NULL */
    char **features;        /* matrix: the columns */
    size_t n_features;
    char **outputs; /* asked for, or NULL: all */
    size_t n_outputs;
    const char *prefix;
    size_t prefix_len;
    size_t request_rows;
    int resolved; /* the metadata was read: inputs known */
    oip_input_t *inputs;
    size_t n_inputs;
    mb_t mb;
    size_t *good; /* the rows of a batch whose features are all there */
    size_t good_cap;
    symtask_batch_t *batch;
} oip_t;

static void oip_free(oip_t *o)
{
    if (o == NULL)
        return;
    hc_free(o->hc);
    free(o->model);
    free(o->target_meta);
    free(o->target_infer);
    mp_strv_free(o->features, o->n_features);
    mp_strv_free(o->outputs, o->n_outputs);
    for (size_t i = 0; i < o->n_inputs; i++)
        free(o->inputs[i].name);
    free(o->inputs);
    mb_free(&o->mb);
    free(o->good);
    free(o);
}

/* ---- Metadata ---------------------------------------------------------------------------- */

static int kind_of(const char *datatype, oip_kind_t *kind)
{
    static const char *const floats[] = {"FP16", "FP32", "FP64", "BF16"};
    static const char *const ints[] = {"INT8",  "INT16",  "INT32",  "INT64",
                                       "UINT8", "UINT16", "UINT32", "UINT64"};
    for (size_t i = 0; i < sizeof(floats) / sizeof(floats[0]); i++)
        if (strcmp(datatype, floats[i]) == 0)
            return *kind = OIP_FLOAT, 0;
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
        if (strcmp(datatype, ints[i]) == 0)
            return *kind = OIP_INT, 0;
    if (strcmp(datatype, "BOOL") == 0)
        return *kind = OIP_BOOL, 0;
    if (strcmp(datatype, "BYTES") == 0)
        return *kind = OIP_BYTES, 0;
    return -1;
}

static json_t *answer_json(const hc_request_t *req)
{
    size_t len = 0;
    if (req->answer == NULL || req->answer_len == 0)
        return NULL;
    char *text = body_lenient_json(req->answer, req->answer_len, &len);
    if (text == NULL)
        return NULL;
    json_t *doc = json_loadb(text, len, JSON_DISABLE_EOF_CHECK, NULL);
    free(text);
    return doc;
}

/* What a failed answer says: KServe's {"error": "..."}. */
static void said_of(const hc_request_t *req, char *out, size_t size)
{
    json_t *doc = answer_json(req);
    const char *s = json_string_value(json_object_get(doc, "error"));
    snprintf(out, size, "%s", s != NULL ? s : "");
    json_decref(doc);
}

static void shape_text(json_t *shape, char *out, size_t size)
{
    char *text = json_dumps(shape, JSON_COMPACT | JSON_ENCODE_ANY);
    snprintf(out, size, "%s", text != NULL ? text : "?");
    free(text);
}

static int add_input(oip_t *o, const char *name, const char *datatype, oip_kind_t kind, int column)
{
    oip_input_t *grown = realloc(o->inputs, (o->n_inputs + 1) * sizeof(*grown));
    if (grown == NULL)
        return -1;
    o->inputs = grown;
    oip_input_t *in = &o->inputs[o->n_inputs];
    if ((in->name = strdup(name)) == NULL)
        return -1;
    snprintf(in->datatype, sizeof(in->datatype), "%s", datatype);
    in->kind = kind;
    in->column = column;
    o->n_inputs++;
    return 0;
}

/* Reads the model's metadata into o->inputs and checks that the task suits it. On failure
 * FATAL (the metadata does not suit the task) or RETRIABLE (the server cannot answer now)
 * with a message. */
static symtask_status_t oip_resolve(oip_t *o, char *errstr, size_t errstr_size)
{
    mb_part_t part = {0};
    hc_request_t *req = &part.req;
    json_t *doc = NULL;
    char said[512] = "", what[1024];
    symtask_status_t status = SYMTASK_ERR_FATAL;

    mb_request(&part, "GET", o->target_meta);
    hc_run(o->hc, req, 1, MB_CALL_BUDGET_MS);
    hc_class_t c = hc_classify(req);
    if (c != HC_OK) {
        if (c != HC_UNREACHABLE)
            said_of(req, said, sizeof(said));
        hc_describe(o->hc, req, said, what, sizeof(what));
        if (c == HC_NOT_FOUND)
            snprintf(errstr, errstr_size, "params.%s: model '%s' not found: %s", OIP_MODEL,
                     o->model, what);
        else
            snprintf(errstr, errstr_size, "%s", what);
        status = hc_status(c);
        goto out;
    }
    doc = answer_json(req);
    json_t *inputs = json_object_get(doc, "inputs");
    if (!json_is_array(inputs) || json_array_size(inputs) == 0) {
        snprintf(errstr, errstr_size,
                 "model server %s: the metadata of model '%s' lists no inputs: is %s an Open "
                 "Inference Protocol server?",
                 hc_url(o->hc), o->model, OIP_URL);
        goto out;
    }
    if (o->matrix && json_array_size(inputs) != 1) {
        /* Every input of a request is required: one tensor cannot serve several. */
        snprintf(errstr, errstr_size,
                 "params.%s: model '%s' has %zu inputs, and the matrix layout sends one tensor: "
                 "use the columns layout",
                 OIP_LAYOUT, o->model, json_array_size(inputs));
        goto out;
    }
    for (size_t i = 0; i < json_array_size(inputs); i++) {
        json_t *in = json_array_get(inputs, i), *shape = json_object_get(in, "shape");
        const char *name = json_string_value(json_object_get(in, "name"));
        const char *dt = json_string_value(json_object_get(in, "datatype"));
        oip_kind_t kind;
        char shown[128];
        shape_text(shape, shown, sizeof(shown));
        if (name == NULL || dt == NULL || !json_is_array(shape)) {
            snprintf(errstr, errstr_size,
                     "model server %s: input %zu of model '%s' has no name, datatype or shape",
                     hc_url(o->hc), i, o->model);
            goto out;
        }
        if (kind_of(dt, &kind) != 0) {
            snprintf(errstr, errstr_size,
                     "model '%s': input '%.64s' has datatype %.16s, which "
                     "symtask cannot send",
                     o->model, name, dt);
            goto out;
        }
        size_t rank = json_array_size(shape);
        long first = (long)json_integer_value(json_array_get(shape, 0));
        long second = rank > 1 ? (long)json_integer_value(json_array_get(shape, 1)) : 0;
        if (!o->matrix) {
            /* One tensor per input: [rows] or [rows, 1]. */
            if (first != -1 || rank > 2 || (rank == 2 && second != 1)) {
                snprintf(errstr, errstr_size,
                         "model '%s': input '%.64s' has shape %s: in the columns layout each "
                         "input is [-1] or [-1, 1] (a batch of single values); see %s",
                         o->model, name, shown, OIP_LAYOUT);
                goto out;
            }
            if (add_input(o, name, dt, kind, rank == 2) != 0)
                goto oom;
            continue;
        }
        if (o->input_name != NULL && strcmp(name, o->input_name) != 0)
            continue;
        if (kind != OIP_FLOAT) {
            snprintf(errstr, errstr_size,
                     "model '%s': input '%.64s' has datatype %s: the matrix layout sends "
                     "numbers (FP16, FP32 or FP64)",
                     o->model, name, dt);
            goto out;
        }
        if (first != -1 || rank != 2 || (second != -1 && second != (long)o->n_features)) {
            snprintf(errstr, errstr_size,
                     "model '%s': input '%.64s' has shape %s, not [-1, %zu] (a row of the %zu "
                     "fields of %s per record)",
                     o->model, name, shown, o->n_features, o->n_features, OIP_FEATURES);
            goto out;
        }
        if (add_input(o, name, dt, kind, 0) != 0)
            goto oom;
    }
    if (o->matrix && o->n_inputs != 1) {
        snprintf(errstr, errstr_size, "params.%s: model '%s' has no input '%.64s'", OIP_INPUT,
                 o->model, o->input_name);
        goto out;
    }
    o->resolved = 1;
    status = SYMTASK_OK;
    goto out;

oom:
    snprintf(errstr, errstr_size, "out of memory");
out:
    if (status != SYMTASK_OK) {
        for (size_t i = 0; i < o->n_inputs; i++)
            free(o->inputs[i].name);
        o->n_inputs = 0;
    }
    json_decref(doc);
    hc_request_free(req);
    body_free(&part.body);
    return status;
}

/* ---- Requests ---------------------------------------------------------------------------- */

static const symtask_value_t *field_of(const symtask_fields_t *rec, const char *name)
{
    const symtask_value_t *found = NULL;
    size_t len = strlen(name);
    for (size_t i = 0; i < rec->count; i++)
        if (rec->items[i].name_len == len && memcmp(rec->items[i].name, name, len) == 0)
            found = &rec->items[i].value;
    return found;
}

static const char *type_phrase(symtask_type_t t)
{
    switch (t) {
    case SYMTASK_TYPE_NUMBER:
        return "a number";
    case SYMTASK_TYPE_STRING:
        return "a string";
    case SYMTASK_TYPE_BOOL:
        return "a boolean";
    case SYMTASK_TYPE_NESTED:
        return "an object or array";
    default:
        return "missing";
    }
}

/* Whether @v can go into a tensor of @kind; the reason in @why otherwise. */
static int value_fits(const char *field, const symtask_value_t *v, oip_kind_t kind,
                      const char *datatype, char *why, size_t why_size)
{
    if (v == NULL || v->type == SYMTASK_TYPE_MISSING) {
        snprintf(why, why_size,
                 "feature '%.64s' is missing (a tensor holds a value for every "
                 "record)",
                 field);
        return 0;
    }
    symtask_type_t want = kind == OIP_BOOL    ? SYMTASK_TYPE_BOOL
                          : kind == OIP_BYTES ? SYMTASK_TYPE_STRING
                                              : SYMTASK_TYPE_NUMBER;
    if (v->type != want) {
        snprintf(why, why_size, "feature '%.64s' is %s, not %s (input %s)", field,
                 type_phrase(v->type), type_phrase(want), datatype);
        return 0;
    }
    if (want == SYMTASK_TYPE_NUMBER && !isfinite(v->number)) {
        snprintf(why, why_size, "feature '%.64s' is not a finite number", field);
        return 0;
    }
    if (kind == OIP_INT &&
        (v->number != floor(v->number) || fabs(v->number) > 9007199254740992.0)) {
        snprintf(why, why_size, "feature '%.64s' is %.17g, not a whole number (input %s)", field,
                 v->number, datatype);
        return 0;
    }
    return 1;
}

static void put_value(body_t *b, const symtask_value_t *v, oip_kind_t kind)
{
    char text[32];
    switch (kind) {
    case OIP_BOOL:
        body_puts(b, v->boolean ? "true" : "false");
        break;
    case OIP_BYTES:
        body_json_string(b, v->text != NULL ? v->text : "", v->text != NULL ? v->len : 0);
        break;
    case OIP_INT:
        snprintf(text, sizeof(text), "%lld", (long long)v->number);
        body_puts(b, text);
        break;
    default:
        if (v->text != NULL && v->len > 0)
            body_append(b, v->text, v->len);
        else
            body_json_number(b, v->number);
    }
}

static void put_shape(body_t *b, size_t rows, size_t cols)
{
    char text[64];
    if (cols > 0)
        snprintf(text, sizeof(text), "[%zu,%zu]", rows, cols);
    else
        snprintf(text, sizeof(text), "[%zu]", rows);
    body_puts(b, text);
}

static int oip_build(void *ctx, mb_part_t *part)
{
    oip_t *o = ctx;
    const symtask_fields_t *records = o->batch->records;
    body_t *b = &part->body;

    body_reset(b);
    body_puts(b, "{\"inputs\":[");
    for (size_t i = 0; i < o->n_inputs; i++) {
        const oip_input_t *in = &o->inputs[i];
        body_puts(b, i > 0 ? ",{\"name\":" : "{\"name\":");
        body_json_string(b, in->name, strlen(in->name));
        body_puts(b, ",\"shape\":");
        put_shape(b, part->n, o->matrix ? o->n_features : (size_t)in->column);
        body_puts(b, ",\"datatype\":\"");
        body_puts(b, in->datatype);
        body_puts(b, "\",\"data\":[");
        for (size_t r = 0; r < part->n; r++) {
            const symtask_fields_t *rec = &records[part->rows[r]];
            if (o->matrix) {
                for (size_t f = 0; f < o->n_features; f++) {
                    body_puts(b, r > 0 || f > 0 ? "," : "");
                    put_value(b, field_of(rec, o->features[f]), in->kind);
                }
            } else {
                body_puts(b, r > 0 ? "," : "");
                put_value(b, field_of(rec, in->name), in->kind);
            }
        }
        body_puts(b, "]}");
    }
    body_puts(b, "]");
    if (o->n_outputs > 0) {
        body_puts(b, ",\"outputs\":[");
        for (size_t i = 0; i < o->n_outputs; i++) {
            body_puts(b, i > 0 ? ",{\"name\":" : "{\"name\":");
            body_json_string(b, o->outputs[i], strlen(o->outputs[i]));
            body_puts(b, "}");
        }
        body_puts(b, "]");
    }
    body_puts(b, "}");
    if (b->failed)
        return -1;
    mb_request(part, "POST", o->target_infer);
    return 0;
}

/* ---- Answers ----------------------------------------------------------------------------- */

/* Appends the elements of @data, flattened (a server may nest them by shape), to @flat. */
static int flatten(json_t *data, json_t *flat)
{
    if (!json_is_array(data))
        return json_array_append(flat, data);
    for (size_t i = 0; i < json_array_size(data); i++)
        if (flatten(json_array_get(data, i), flat) != 0)
            return -1;
    return 0;
}

static char *arena_name(oip_t *o, const char *name, long index)
{
    char suffix[24] = "";
    if (index >= 0)
        snprintf(suffix, sizeof(suffix), "_%ld", index);
    size_t len = o->prefix_len + strlen(name) + strlen(suffix);
    char *out = o->host->arena_alloc(o->batch->arena, len + 1);
    if (out != NULL)
        snprintf(out, len + 1, "%s%s%s", o->prefix, name, suffix);
    return out;
}

/* One element of an output tensor as a typed value (strings and spellings in the arena). */
static int element_value(oip_t *o, json_t *e, const char *datatype, symtask_value_t *v)
{
    if (json_is_boolean(e)) {
        *v = symtask_value_bool(json_is_true(e));
    } else if (json_is_string(e)) {
        size_t len = json_string_length(e);
        char *text = o->host->arena_alloc(o->batch->arena, len + 1);
        if (text == NULL)
            return -1;
        memcpy(text, json_string_value(e), len + 1);
        *v = symtask_value_string(text, len);
    } else if (json_is_number(e)) {
        double d = json_number_value(e);
        if (strcmp(datatype, "BOOL") == 0) {
            *v = symtask_value_bool(d != 0);
            return 0;
        }
        *v = symtask_value_number(d);
        if (strcmp(datatype, "FP32") == 0 || strcmp(datatype, "FP16") == 0) {
            /* The double of the shortest text that reads back as the same float, so that an
             * FP32 0.1 is written 0.1, not as the double nearest to the float nearest 0.1. */
            float f = (float)d;
            char text[32];
            for (int p = 1; p <= 9; p++) {
                snprintf(text, sizeof(text), "%.*g", p, (double)f);
                if ((float)strtod(text, NULL) == f)
                    break;
            }
            v->number = strtod(text, NULL);
        }
    } else {
        *v = symtask_value_missing();
    }
    return 0;
}

static int oip_read(void *ctx, mb_part_t *part, char *errstr, size_t errstr_size)
{
    oip_t *o = ctx;
    symtask_batch_t *batch = o->batch;
    hc_request_t *req = &part->req;
    hc_class_t c = hc_classify(req);
    char said[512] = "";
    json_t *doc = NULL, *flats = NULL;
    int result = MB_FATAL;

    if (c != HC_OK) {
        if (c != HC_UNREACHABLE)
            said_of(req, said, sizeof(said));
        if (c == HC_REFUSED && part->n > 1)
            return MB_SPLIT;
        if (c == HC_REFUSED) {
            snprintf(symtask_batch_row_error(batch, part->rows[0]), batch->row_error_size,
                     "the model server refused this record (HTTP %ld): %s", req->status,
                     said[0] ? said : "no message");
            batch->row_status[part->rows[0]] = SYMTASK_ERR_RECORD;
            return MB_DONE;
        }
        hc_describe(o->hc, req, said, errstr, errstr_size);
        return hc_status(c) == SYMTASK_ERR_RETRIABLE ? MB_RETRY : MB_FATAL;
    }
    doc = answer_json(req);
    json_t *outputs = json_object_get(doc, "outputs");
    if (!json_is_array(outputs)) {
        snprintf(errstr, errstr_size, "model server %s answered no outputs array", hc_url(o->hc));
        goto out;
    }
    /* The tensors to write: those asked for, in that order, or every one answered. */
    size_t n_out = o->n_outputs > 0 ? o->n_outputs : json_array_size(outputs);
    json_t *picked[64];
    size_t width[64], fields = 0;
    if (n_out > 64) {
        snprintf(errstr, errstr_size, "model server %s answered %zu outputs: 64 at most",
                 hc_url(o->hc), n_out);
        goto out;
    }
    flats = json_array();
    for (size_t i = 0; i < n_out; i++) {
        json_t *t = NULL;
        if (o->n_outputs == 0)
            t = json_array_get(outputs, i);
        for (size_t j = 0; t == NULL && j < json_array_size(outputs); j++) {
            const char *name =
                json_string_value(json_object_get(json_array_get(outputs, j), "name"));
            if (name != NULL && strcmp(name, o->outputs[i]) == 0)
                t = json_array_get(outputs, j);
        }
        if (t == NULL) {
            snprintf(errstr, errstr_size, "model server %s answered no output '%.64s' (see %s)",
                     hc_url(o->hc), o->outputs[i], OIP_OUTPUTS);
            goto out;
        }
        json_t *flat = json_array();
        json_array_append_new(flats, flat);
        const char *name = json_string_value(json_object_get(t, "name"));
        json_t *shape = json_object_get(t, "shape");
        if (name == NULL || flatten(json_object_get(t, "data"), flat) != 0 ||
            json_integer_value(json_array_get(shape, 0)) != (json_int_t)part->n || part->n == 0 ||
            json_array_size(flat) % part->n != 0) {
            char shown[128];
            shape_text(shape, shown, sizeof(shown));
            snprintf(errstr, errstr_size,
                     "model server %s answered output '%.64s' of shape %s with %zu values for "
                     "%zu records",
                     hc_url(o->hc), name ? name : "?", shown, json_array_size(flat), part->n);
            goto out;
        }
        picked[i] = t;
        width[i] = json_array_size(flat) / part->n;
        fields += width[i];
    }
    for (size_t r = 0; r < part->n; r++) {
        size_t row = part->rows[r], k = 0;
        symtask_field_t *items = o->host->arena_alloc(batch->arena, fields * sizeof(*items));
        if (items == NULL && fields > 0)
            goto oom;
        for (size_t i = 0; i < n_out; i++) {
            const char *name = json_string_value(json_object_get(picked[i], "name"));
            const char *dt = json_string_value(json_object_get(picked[i], "datatype"));
            json_t *flat = json_array_get(flats, i);
            for (size_t j = 0; j < width[i]; j++) {
                symtask_field_t *f = &items[k++];
                f->name = arena_name(o, name, width[i] > 1 ? (long)j : -1);
                if (f->name == NULL || element_value(o, json_array_get(flat, r * width[i] + j),
                                                     dt ? dt : "", &f->value) != 0)
                    goto oom;
                f->name_len = strlen(f->name);
            }
        }
        batch->row_outputs[row] = (symtask_fields_t){items, fields};
    }
    result = MB_DONE;
    goto out;

oom:
    snprintf(errstr, errstr_size, "out of memory");
out:
    json_decref(flats);
    json_decref(doc);
    return result;
}

/* ---- Calls ------------------------------------------------------------------------------- */

static const mb_ops_t oip_ops = {oip_build, oip_read};

static symtask_status_t oip_predict(void *state, symtask_batch_t *batch, char *errstr,
                                    size_t errstr_size)
{
    oip_t *o = state;

    if (!o->resolved) {
        symtask_status_t st = oip_resolve(o, errstr, errstr_size);
        if (st != SYMTASK_OK)
            return st;
        o->host->log(SYMTASK_LOG_INFO, "oip: model %s at %s: %zu input tensor%s", o->model,
                     hc_url(o->hc), o->n_inputs, o->n_inputs == 1 ? "" : "s");
    }
    if (batch->rows > o->good_cap) {
        size_t *g = realloc(o->good, batch->rows * sizeof(*g));
        if (g == NULL) {
            snprintf(errstr, errstr_size, "out of memory");
            return SYMTASK_ERR_FATAL;
        }
        o->good = g;
        o->good_cap = batch->rows;
    }
    /* Rows whose fields cannot fill the tensors go to the dead letters; the others go. */
    size_t n_good = 0;
    for (size_t r = 0; r < batch->rows; r++) {
        const symtask_fields_t *rec = &batch->records[r];
        char *why = symtask_batch_row_error(batch, r);
        int fits = 1;
        if (o->matrix)
            for (size_t f = 0; fits && f < o->n_features; f++)
                fits = value_fits(o->features[f], field_of(rec, o->features[f]), o->inputs[0].kind,
                                  o->inputs[0].datatype, why, batch->row_error_size);
        else
            for (size_t i = 0; fits && i < o->n_inputs; i++)
                fits = value_fits(o->inputs[i].name, field_of(rec, o->inputs[i].name),
                                  o->inputs[i].kind, o->inputs[i].datatype, why,
                                  batch->row_error_size);
        if (fits)
            o->good[n_good++] = r;
        else
            batch->row_status[r] = SYMTASK_ERR_RECORD;
    }
    o->batch = batch;
    symtask_status_t st =
        mb_run(&o->mb, o->hc, o->good, n_good, o->request_rows, &oip_ops, o, errstr, errstr_size);
    o->batch = NULL;
    return st;
}

static symtask_status_t oip_create(const symtask_host_t *host, const symtask_params_t *params,
                                   void **state, char *errstr, size_t errstr_size)
{
    oip_t *o = calloc(1, sizeof(*o));
    const char *url = host->param(params, OIP_URL);
    const char *model = host->param(params, OIP_MODEL);
    const char *version = host->param(params, OIP_VERSION);
    const char *layout = host->param(params, OIP_LAYOUT);
    const char *features = host->param(params, OIP_FEATURES);
    const char *outputs = host->param(params, OIP_OUTPUTS);
    const char *token = host->param(params, OIP_TOKEN);
    const char *user = host->param(params, OIP_USER);
    const char *password = host->param(params, OIP_PASSWORD);
    const char *validating = host->param(params, OIP_VALIDATING);
    long concurrency = strtol(host->param(params, OIP_CONCURRENCY), NULL, 10);
    long timeout = strtol(host->param(params, OIP_TIMEOUT), NULL, 10);
    long rows = strtol(host->param(params, OIP_ROWS), NULL, 10);

    if (o == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return SYMTASK_ERR_FATAL;
    }
    o->host = host;
    if (strcmp(layout, "columns") != 0 && strcmp(layout, "matrix") != 0) {
        snprintf(errstr, errstr_size, "params.%s: '%.64s' is not columns or matrix", OIP_LAYOUT,
                 layout);
        goto error;
    }
    o->matrix = strcmp(layout, "matrix") == 0;
    if (mp_path_id(OIP_MODEL, model, 255, errstr, errstr_size) != 0 ||
        (version != NULL && mp_path_id(OIP_VERSION, version, 255, errstr, errstr_size) != 0) ||
        mp_range(OIP_CONCURRENCY, concurrency, 1, HC_CONCURRENCY_MAX, errstr, errstr_size) != 0 ||
        mp_range(OIP_TIMEOUT, timeout, 100, HC_TIMEOUT_MAX_MS, errstr, errstr_size) != 0 ||
        mp_range(OIP_ROWS, rows, 1, 100000, errstr, errstr_size) != 0)
        goto error;
    if (o->matrix && features == NULL) {
        snprintf(errstr, errstr_size,
                 "params.%s: required with %s = matrix: the record fields of the matrix's "
                 "columns, in order",
                 OIP_FEATURES, OIP_LAYOUT);
        goto error;
    }
    if (!o->matrix && (features != NULL || host->param(params, OIP_INPUT) != NULL)) {
        snprintf(errstr, errstr_size,
                 "params.%s: only with %s = matrix (in the columns layout each model input is "
                 "read from the record field of its name)",
                 features != NULL ? OIP_FEATURES : OIP_INPUT, OIP_LAYOUT);
        goto error;
    }
    if (token != NULL && user != NULL) {
        snprintf(errstr, errstr_size, "params.%s: set a token or a user (basic), not both",
                 OIP_TOKEN);
        goto error;
    }
    if (password != NULL && user == NULL) {
        snprintf(errstr, errstr_size, "params.%s: a password needs its %s", OIP_PASSWORD, OIP_USER);
        goto error;
    }
    o->input_name = host->param(params, OIP_INPUT);
    o->prefix = host->param(params, OIP_PREFIX);
    o->prefix_len = strlen(o->prefix);
    o->request_rows = (size_t)rows;
    o->model = strdup(model);
    if (o->model == NULL ||
        (features != NULL && mp_split_list(features, &o->features, &o->n_features) != 0) ||
        (outputs != NULL && mp_split_list(outputs, &o->outputs, &o->n_outputs) != 0))
        goto oom;
    if (o->n_outputs > 64) {
        snprintf(errstr, errstr_size, "params.%s: 64 outputs at most", OIP_OUTPUTS);
        goto error;
    }
    char base[600];
    snprintf(base, sizeof(base), "/v2/models/%s%s%s", model, version ? "/versions/" : "",
             version ? version : "");
    o->target_meta = strdup(base);
    o->target_infer = malloc(strlen(base) + sizeof("/infer"));
    if (o->target_meta == NULL || o->target_infer == NULL)
        goto oom;
    sprintf(o->target_infer, "%s/infer", base);

    hc_config_t cfg = {
        .url = url,
        .param = OIP_URL,
        .timeout_ms = timeout,
        .concurrency = (int)concurrency,
        .ca_file = host->param(params, OIP_CA),
        .bearer_token = token,
        .user = user,
        .password = password,
    };
    o->hc = hc_new(&cfg, errstr, errstr_size);
    if (o->hc == NULL)
        goto error;
    /* At create the metadata is read and checked; at a task's start it is read with the
     * first batch, so that a server away then makes the batch wait instead of failing. */
    if (validating != NULL && strcmp(validating, "true") == 0 &&
        strcmp(host->param(params, OIP_CHECK), "true") == 0) {
        char why[1024];
        symtask_status_t st = oip_resolve(o, why, sizeof(why));
        if (st != SYMTASK_OK) {
            snprintf(errstr, errstr_size, "%s%s", why,
                     st == SYMTASK_ERR_RETRIABLE
                         ? " (set sml.predictor.check = false to create the task while it is "
                           "away)"
                         : "");
            goto error;
        }
    }
    *state = o;
    return SYMTASK_OK;

oom:
    snprintf(errstr, errstr_size, "out of memory");
error:
    oip_free(o);
    return SYMTASK_ERR_FATAL;
}

static void oip_signature(void *state, symtask_signature_t *sig)
{
    /* The inputs are known once the metadata is read: records whole, outputs by name. */
    sig->flags = SYMTASK_SIGNATURE_ALL_FIELDS | SYMTASK_SIGNATURE_DYNAMIC_OUTPUTS;
}

static void oip_destroy(void *state)
{
    oip_free(state);
}

static const symtask_plugin_t oip_plugin = {
    SYMTASK_PLUGIN_HEAD(SYMTASK_PLUGIN_PREDICTOR),
    .name = "oip",
    .version = "1.0.0",
    .description = "Predicts through an Open Inference Protocol (KServe v2) server: Triton, "
                   "MLServer, KServe, Seldon.",
    .options = oip_options,
    .ops.predictor =
        {
            .create = oip_create,
            .predict = oip_predict,
            .destroy = oip_destroy,
            .signature = oip_signature,
        },
};

SYMTASK_PLUGIN_EXPORT const symtask_plugin_t *symtask_plugin_entry(const symtask_host_t *host)
{
    return &oip_plugin;
}
