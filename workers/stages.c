/* stages.c: a task's plugins bound together, and a batch of records through them: decode
 * each record (numbers straight into the feature matrix when that is all the predictor
 * reads, else the record's fields), predict the batch, encode each row in the sink's
 * format. */
#include "stages.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fields.h"

#define STAGES_ERR_SIZE 512

struct stages {
    /* The reader decodes the source; the writer encodes the sink. When the sink has the
     * source's format and no options of its own, one instance does both (own_writer 0). */
    plugin_t *predictor, *reader, *writer;
    symtask_params_t *predictor_params, *reader_params, *writer_params;
    void *predictor_state, *reader_state, *writer_state;
    const symtask_predictor_ops_t *pred;
    const symtask_serializer_ops_t *rd, *wr;
    void *wr_state; /* writer_state, or reader_state without a writer of its own */
    int own_writer;
    int checking; /* the check at create (symtask-worker --validate), not a task's worker */

    symtask_signature_t sig;
    symtask_column_t *described; /* the signature's columns, built from a 1.0 describe() */
    const char **feature_names, **output_names;
    size_t *output_name_lens;
    symtask_binding_t reader_binding, writer_binding;
    feature_index_t *index;

    int numbers_in;  /* the features travel as doubles */
    int numbers_out; /* the declared outputs travel as doubles */
    int need_fields; /* every record is decoded into its fields */
    int fast_decode; /* decode() fills the feature matrix */
    int fast_encode; /* encode() writes the sink record */

    size_t max_rows, rows;
    double *features;
    symtask_value_t *values;
    symtask_fields_t *records;
    double *outputs;
    symtask_value_t *output_values;
    symtask_fields_t *row_outputs;
    symtask_status_t *row_status;
    char *row_errors;
    symtask_field_t *out_fields; /* one row's declared outputs as fields */
    symtask_arena_t arena;
    char summary[512];
};

static const char *param_or(json_t *params, const char *key, const char *def)
{
    const char *v = json_string_value(json_object_get(params, key));
    return v != NULL && v[0] != '\0' ? v : def;
}

/* ---- Opening ----------------------------------------------------------------------------- */

static int open_one(plugin_t **plugin, symtask_params_t **pp, void **state, json_t *params,
                    const char *dir, const char *name, symtask_plugin_kind_t kind, const char *role,
                    int output, char *errstr, size_t errstr_size)
{
    *plugin = plugin_load(dir, name, kind, role, errstr, errstr_size);
    if (*plugin == NULL)
        return -1;
    *pp = output ? plugin_params_new_output(*plugin, params, errstr, errstr_size)
                 : plugin_params_new(*plugin, params, errstr, errstr_size);
    if (*pp == NULL)
        return -1;
    const symtask_plugin_t *desc = plugin_descriptor(*plugin);
    char perr[STAGES_ERR_SIZE] = "";
    symtask_status_t st =
        kind == SYMTASK_PLUGIN_PREDICTOR
            ? desc->ops.predictor.create(plugin_host(), *pp, state, perr, sizeof(perr))
            : desc->ops.serializer.create(plugin_host(), *pp, state, perr, sizeof(perr));
    if (st != SYMTASK_OK) {
        *state = NULL;
        snprintf(errstr, errstr_size, "%s %s: %s", role, name,
                 perr[0] ? perr : "create failed without saying why");
        return -1;
    }
    return 0;
}

/* The predictor's signature, from signature() or, for a 1.0 predictor, describe(). */
static int stages_signature(stages_t *st, char *errstr, size_t errstr_size)
{
    if (st->pred->signature != NULL) {
        memset(&st->sig, 0, sizeof(st->sig));
        st->pred->signature(st->predictor_state, &st->sig);
        return 0;
    }
    const char *const *features, *const *outputs;
    size_t nf = 0, no = 0;
    st->pred->describe(st->predictor_state, &features, &nf, &outputs, &no);
    st->described = calloc(nf + no + 1, sizeof(*st->described));
    if (st->described == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < nf; i++)
        st->described[i] = (symtask_column_t){features[i], SYMTASK_TYPE_NUMBER};
    for (size_t i = 0; i < no; i++)
        st->described[nf + i] = (symtask_column_t){outputs[i], SYMTASK_TYPE_NUMBER};
    st->sig = (symtask_signature_t){
        .features = nf > 0 ? st->described : NULL,
        .n_features = nf,
        .outputs = no > 0 ? st->described + nf : NULL,
        .n_outputs = no,
    };
    if ((nf > 0 && features == NULL) || (no > 0 && outputs == NULL)) {
        snprintf(errstr, errstr_size,
                 "sml.predictor %s: describe() gives a count without its names: fix the plugin",
                 plugin_descriptor(st->predictor)->name);
        return -1;
    }
    return 0;
}

/* What a signature may say: a plugin's declarations are checked once, here, rather than
 * trusted record after record. */
static int signature_check(const stages_t *st, char *errstr, size_t errstr_size)
{
    const symtask_signature_t *sig = &st->sig;
    const char *name = plugin_descriptor(st->predictor)->name;
    const uint32_t known = SYMTASK_SIGNATURE_ALL_FIELDS | SYMTASK_SIGNATURE_DYNAMIC_OUTPUTS;

    if (sig->flags & ~known) {
        snprintf(errstr, errstr_size,
                 "sml.predictor %s: its signature has flags (0x%x) this symtask-worker does not "
                 "know: fix the plugin",
                 name, (unsigned)(sig->flags & ~known));
        return -1;
    }
    if ((sig->n_features > 0 && sig->features == NULL) ||
        (sig->n_outputs > 0 && sig->outputs == NULL)) {
        snprintf(errstr, errstr_size,
                 "sml.predictor %s: its signature gives a count without its columns: fix the "
                 "plugin",
                 name);
        return -1;
    }
    if ((sig->flags & SYMTASK_SIGNATURE_ALL_FIELDS) && sig->n_features > 0) {
        snprintf(errstr, errstr_size,
                 "sml.predictor %s: it asks for whole records and declares %zu features too: "
                 "fix the plugin",
                 name, sig->n_features);
        return -1;
    }
    for (size_t i = 0; i < sig->n_features; i++) {
        const symtask_column_t *c = &sig->features[i];
        if (c->name == NULL || c->name[0] == '\0') {
            snprintf(errstr, errstr_size, "sml.predictor %s: feature %zu has no name", name, i + 1);
            return -1;
        }
        if (type_name(c->type) == NULL) {
            snprintf(errstr, errstr_size,
                     "sml.predictor %s: feature '%.64s' has type %d: a feature is a number, a "
                     "string, a boolean or of any type",
                     name, c->name, (int)c->type);
            return -1;
        }
    }
    if (sig->n_outputs == 0 && !(sig->flags & SYMTASK_SIGNATURE_DYNAMIC_OUTPUTS)) {
        snprintf(errstr, errstr_size, "sml.predictor %s declares no output", name);
        return -1;
    }
    for (size_t i = 0; i < sig->n_outputs; i++) {
        const symtask_column_t *c = &sig->outputs[i];
        if (c->name == NULL || c->name[0] == '\0') {
            snprintf(errstr, errstr_size, "sml.predictor %s: output %zu has no name", name, i + 1);
            return -1;
        }
        if (c->type != SYMTASK_TYPE_NUMBER && c->type != SYMTASK_TYPE_STRING &&
            c->type != SYMTASK_TYPE_BOOL) {
            snprintf(errstr, errstr_size,
                     "sml.predictor %s: output '%.64s' has type %d: an output is a number, a "
                     "string or a boolean",
                     name, c->name, (int)c->type);
            return -1;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(sig->outputs[j].name, c->name) == 0) {
                snprintf(errstr, errstr_size, "sml.predictor %s: output '%.64s' is listed twice",
                         name, c->name);
                return -1;
            }
        }
    }
    return 0;
}

/* The first feature that is not a number, or NULL. */
static const symtask_column_t *first_typed(const symtask_column_t *cols, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (cols[i].type != SYMTASK_TYPE_NUMBER)
            return &cols[i];
    return NULL;
}

/* Chooses how records flow and refuses what a 1.0 serializer cannot do. */
static int stages_plan(stages_t *st, char *errstr, size_t errstr_size)
{
    const symtask_signature_t *sig = &st->sig;
    const char *reader = plugin_descriptor(st->reader)->name;
    const char *writer = plugin_descriptor(st->writer != NULL ? st->writer : st->reader)->name;
    const char *predictor = plugin_descriptor(st->predictor)->name;
    const symtask_column_t *typed_in = first_typed(sig->features, sig->n_features);
    const symtask_column_t *typed_out = first_typed(sig->outputs, sig->n_outputs);
    int all_fields = (sig->flags & SYMTASK_SIGNATURE_ALL_FIELDS) != 0;
    int dynamic = (sig->flags & SYMTASK_SIGNATURE_DYNAMIC_OUTPUTS) != 0;

    st->numbers_in = !all_fields && typed_in == NULL;
    st->numbers_out = typed_out == NULL;
    st->need_fields = all_fields || st->own_writer || !st->numbers_in || st->rd->decode == NULL;
    st->fast_decode = !st->need_fields;
    st->fast_encode = !st->own_writer && st->numbers_out && !dynamic && st->rd->encode != NULL;

    if (st->need_fields && st->rd->decode_fields == NULL) {
        if (st->own_writer)
            snprintf(errstr, errstr_size,
                     "params.sml.serializer.out: serializer %s reads only the numbers a predictor "
                     "needs (plugin ABI 1.0), so its records can be written only in its own "
                     "format: leave sml.serializer.out and sml.serializer.out.* unset, or use a "
                     "serializer built for ABI 1.1",
                     reader);
        else if (all_fields)
            snprintf(errstr, errstr_size,
                     "params.sml.serializer: predictor %s reads whole records, which serializer "
                     "%s cannot give (plugin ABI 1.0): use a serializer built for ABI 1.1",
                     predictor, reader);
        else
            snprintf(errstr, errstr_size,
                     "params.sml.serializer: predictor %s reads feature '%.64s' as %s, but "
                     "serializer %s reads only numbers (plugin ABI 1.0): use a serializer built "
                     "for ABI 1.1",
                     predictor, typed_in->name, type_name(typed_in->type), reader);
        return -1;
    }
    if (!st->fast_encode && st->wr->encode_fields == NULL) {
        if (st->own_writer)
            snprintf(errstr, errstr_size,
                     "params.sml.serializer.out: serializer %s writes only records it read "
                     "itself (plugin ABI 1.0): name a serializer built for ABI 1.1, or leave "
                     "sml.serializer.out and sml.serializer.out.* unset",
                     writer);
        else if (typed_out != NULL)
            snprintf(errstr, errstr_size,
                     "params.sml.serializer: predictor %s writes output '%.64s' as %s, but "
                     "serializer %s writes only numbers (plugin ABI 1.0): use a serializer built "
                     "for ABI 1.1",
                     predictor, typed_out->name, type_name(typed_out->type), writer);
        else
            snprintf(errstr, errstr_size,
                     "params.sml.serializer: predictor %s names its outputs at run time, which "
                     "serializer %s cannot write (plugin ABI 1.0): use a serializer built for "
                     "ABI 1.1",
                     predictor, writer);
        return -1;
    }
    return 0;
}

static int bind_one(const symtask_serializer_ops_t *ops, void *state, symtask_binding_t *b,
                    const stages_t *st, const char *role, const char *name, char *errstr,
                    size_t errstr_size)
{
    char perr[STAGES_ERR_SIZE] = "";
    symtask_status_t status = SYMTASK_OK;

    if (ops->bind_typed != NULL)
        status = ops->bind_typed(state, b, perr, sizeof(perr));
    else if (ops->bind != NULL)
        status = ops->bind(state, b->n_features > 0 ? st->feature_names : NULL, b->n_features,
                           st->output_names, b->n_outputs, perr, sizeof(perr));
    /* A server the instance needs does not answer (a schema registry): the check at create
     * refuses the task with the plugin's message; a task's worker goes on, and its record
     * calls answer RETRIABLE until the server is back (the records wait). */
    if (status == SYMTASK_ERR_RETRIABLE && !st->checking) {
        plugin_host()->log(SYMTASK_LOG_WARN, "%s %s: %s (starting anyway: the records wait)", role,
                           name, perr[0] ? perr : "a passing failure");
        return 0;
    }
    if (status != SYMTASK_OK) {
        snprintf(errstr, errstr_size, "%s %s: %s", role, name,
                 perr[0] ? perr : "cannot serve the predictor's features and outputs");
        return -1;
    }
    return 0;
}

static int stages_bind(stages_t *st, char *errstr, size_t errstr_size)
{
    const symtask_signature_t *sig = &st->sig;

    st->feature_names = calloc(sig->n_features + 1, sizeof(*st->feature_names));
    st->output_names = calloc(sig->n_outputs + 1, sizeof(*st->output_names));
    st->output_name_lens = calloc(sig->n_outputs + 1, sizeof(*st->output_name_lens));
    st->index = feature_index_new(sig->features, sig->n_features);
    if (st->feature_names == NULL || st->output_names == NULL || st->output_name_lens == NULL ||
        st->index == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < sig->n_features; i++)
        st->feature_names[i] = sig->features[i].name;
    for (size_t i = 0; i < sig->n_outputs; i++) {
        st->output_names[i] = sig->outputs[i].name;
        st->output_name_lens[i] = strlen(sig->outputs[i].name);
    }
    st->reader_binding = (symtask_binding_t){
        .roles = SYMTASK_ROLE_DECODE | (st->own_writer ? 0 : SYMTASK_ROLE_ENCODE),
        .flags = sig->flags,
        .features = sig->features,
        .n_features = sig->n_features,
        .outputs = sig->outputs,
        .n_outputs = sig->n_outputs,
    };
    if (bind_one(st->rd, st->reader_state, &st->reader_binding, st, "sml.serializer",
                 plugin_descriptor(st->reader)->name, errstr, errstr_size) != 0)
        return -1;
    if (!st->own_writer)
        return 0;
    st->writer_binding = st->reader_binding;
    st->writer_binding.roles = SYMTASK_ROLE_ENCODE;
    st->writer_binding.features = NULL;
    st->writer_binding.n_features = 0;
    return bind_one(st->wr, st->writer_state, &st->writer_binding, st, "sml.serializer.out",
                    plugin_descriptor(st->writer)->name, errstr, errstr_size);
}

static int stages_alloc(stages_t *st, char *errstr, size_t errstr_size)
{
    size_t rows = st->max_rows, nf = st->sig.n_features, no = st->sig.n_outputs;
    int dynamic = (st->sig.flags & SYMTASK_SIGNATURE_DYNAMIC_OUTPUTS) != 0;

    if (st->numbers_in)
        st->features = calloc(rows * (nf ? nf : 1), sizeof(*st->features));
    else if (!(st->sig.flags & SYMTASK_SIGNATURE_ALL_FIELDS))
        st->values = calloc(rows * (nf ? nf : 1), sizeof(*st->values));
    if (st->need_fields)
        st->records = calloc(rows, sizeof(*st->records));
    if (st->numbers_out)
        st->outputs = calloc(rows * (no ? no : 1), sizeof(*st->outputs));
    else
        st->output_values = calloc(rows * no, sizeof(*st->output_values));
    if (dynamic)
        st->row_outputs = calloc(rows, sizeof(*st->row_outputs));
    st->out_fields = calloc(no ? no : 1, sizeof(*st->out_fields));
    st->row_status = calloc(rows, sizeof(*st->row_status));
    st->row_errors = calloc(rows, STAGES_ERR_SIZE);
    if ((st->numbers_in && st->features == NULL) ||
        (!st->numbers_in && !(st->sig.flags & SYMTASK_SIGNATURE_ALL_FIELDS) &&
         st->values == NULL) ||
        (st->need_fields && st->records == NULL) || (st->numbers_out && st->outputs == NULL) ||
        (!st->numbers_out && st->output_values == NULL) || (dynamic && st->row_outputs == NULL) ||
        st->out_fields == NULL || st->row_status == NULL || st->row_errors == NULL) {
        snprintf(errstr, errstr_size,
                 "out of memory for batches of %zu records (sml.kstream.record.poll.max)", rows);
        return -1;
    }
    return 0;
}

static void stages_summarize(stages_t *st)
{
    const symtask_signature_t *sig = &st->sig;
    const char *out = plugin_descriptor(st->writer != NULL ? st->writer : st->reader)->name;
    char in_what[64], out_what[64];

    if (sig->flags & SYMTASK_SIGNATURE_ALL_FIELDS)
        snprintf(in_what, sizeof(in_what), "whole records");
    else
        snprintf(in_what, sizeof(in_what), "%zu feature%s%s", sig->n_features,
                 sig->n_features == 1 ? "" : "s", st->numbers_in ? " (numbers)" : " (typed)");
    snprintf(out_what, sizeof(out_what), "%zu output%s%s%s", sig->n_outputs,
             sig->n_outputs == 1 ? "" : "s", st->numbers_out ? " (numbers)" : " (typed)",
             sig->flags & SYMTASK_SIGNATURE_DYNAMIC_OUTPUTS ? " and outputs named at run time"
                                                            : "");
    snprintf(st->summary, sizeof(st->summary), "%s -> %s -> %s: %s, %s",
             plugin_descriptor(st->reader)->name, plugin_descriptor(st->predictor)->name, out,
             in_what, out_what);
}

stages_t *stages_open(json_t *params, const char *plugin_dir, size_t max_rows, char *errstr,
                      size_t errstr_size)
{
    const char *predictor = param_or(params, "sml.predictor", NULL);
    const char *serializer = param_or(params, "sml.serializer", "json");
    const char *serializer_out = param_or(params, "sml.serializer.out", serializer);
    stages_t *st;

    if (predictor == NULL) {
        snprintf(errstr, errstr_size, "params: required key sml.predictor is missing");
        return NULL;
    }
    if (plugin_dir == NULL || plugin_dir[0] == '\0') {
        snprintf(errstr, errstr_size, "no plugin directory: set plugin.dir in symtaskd's config");
        return NULL;
    }
    st = calloc(1, sizeof(*st));
    if (st == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    st->max_rows = max_rows > 0 ? max_rows : 1;
    /* the one signal of the check at create, which the plugins read too */
    st->checking = strcmp(param_or(params, PLUGIN_VALIDATE_PARAM, ""), "true") == 0;
    arena_init(&st->arena);

    if (open_one(&st->predictor, &st->predictor_params, &st->predictor_state, params, plugin_dir,
                 predictor, SYMTASK_PLUGIN_PREDICTOR, "sml.predictor", 0, errstr, errstr_size) != 0)
        goto error;
    if (open_one(&st->reader, &st->reader_params, &st->reader_state, params, plugin_dir, serializer,
                 SYMTASK_PLUGIN_SERIALIZER, "sml.serializer", 0, errstr, errstr_size) != 0)
        goto error;
    /* The sink in another format, or with options of its own: a second instance writes it. */
    st->own_writer =
        strcmp(serializer_out, serializer) != 0 || plugin_params_have_output_options(params);
    if (st->own_writer && open_one(&st->writer, &st->writer_params, &st->writer_state, params,
                                   plugin_dir, serializer_out, SYMTASK_PLUGIN_SERIALIZER,
                                   "sml.serializer.out", 1, errstr, errstr_size) != 0)
        goto error;
    const plugin_t *loaded[2] = {st->predictor, st->reader};
    if (plugin_check_unknown_keys(params, loaded, 2, st->writer, errstr, errstr_size) != 0)
        goto error;

    st->pred = &plugin_descriptor(st->predictor)->ops.predictor;
    st->rd = &plugin_descriptor(st->reader)->ops.serializer;
    st->wr = st->own_writer ? &plugin_descriptor(st->writer)->ops.serializer : st->rd;
    st->wr_state = st->own_writer ? st->writer_state : st->reader_state;
    if (stages_signature(st, errstr, errstr_size) != 0 ||
        signature_check(st, errstr, errstr_size) != 0 ||
        stages_plan(st, errstr, errstr_size) != 0 || stages_bind(st, errstr, errstr_size) != 0 ||
        stages_alloc(st, errstr, errstr_size) != 0)
        goto error;
    stages_summarize(st);
    return st;

error:
    stages_close(st);
    return NULL;
}

static void close_one(plugin_t *plugin, symtask_params_t *pp, void *state)
{
    if (plugin == NULL)
        return;
    if (state != NULL) {
        const symtask_plugin_t *desc = plugin_descriptor(plugin);
        if (desc->kind == SYMTASK_PLUGIN_PREDICTOR)
            desc->ops.predictor.destroy(state);
        else
            desc->ops.serializer.destroy(state);
    }
    if (pp != NULL)
        plugin_params_free(pp);
    plugin_unload(plugin);
}

void stages_close(stages_t *st)
{
    if (st == NULL)
        return;
    close_one(st->writer, st->writer_params, st->writer_state);
    close_one(st->reader, st->reader_params, st->reader_state);
    close_one(st->predictor, st->predictor_params, st->predictor_state);
    feature_index_free(st->index);
    free(st->described);
    free(st->feature_names);
    free(st->output_names);
    free(st->output_name_lens);
    free(st->features);
    free(st->values);
    free(st->records);
    free(st->outputs);
    free(st->output_values);
    free(st->row_outputs);
    free(st->out_fields);
    free(st->row_status);
    free(st->row_errors);
    arena_free(&st->arena);
    free(st);
}

const char *stages_summary(const stages_t *st)
{
    return st->summary;
}

size_t stages_n_features(const stages_t *st)
{
    return st->sig.n_features;
}

size_t stages_n_outputs(const stages_t *st)
{
    return st->sig.n_outputs;
}

/* ---- A batch ------------------------------------------------------------------------------ */

void stages_begin(stages_t *st)
{
    st->rows = 0;
    arena_reset(&st->arena);
}

symtask_status_t stages_decode(stages_t *st, const symtask_record_t *record, size_t *row,
                               char *errstr, size_t errstr_size)
{
    size_t r = st->rows, nf = st->sig.n_features;
    symtask_status_t status;

    if (st->fast_decode) {
        status =
            st->rd->decode(st->reader_state, record, st->features + r * nf, errstr, errstr_size);
    } else {
        symtask_fields_t *fields = &st->records[r];
        fields->items = NULL;
        fields->count = 0;
        status = st->rd->decode_fields(st->reader_state, record, &st->arena, fields, errstr,
                                       errstr_size);
        if (status == SYMTASK_OK && fields->count > 0 && fields->items == NULL) {
            snprintf(errstr, errstr_size,
                     "decode_fields() gave %zu fields without their items: fix the plugin",
                     fields->count);
            status = SYMTASK_ERR_FATAL;
        }
        if (status == SYMTASK_OK && !(st->sig.flags & SYMTASK_SIGNATURE_ALL_FIELDS))
            status = fields_pick(st->index, fields, st->numbers_in ? st->features + r * nf : NULL,
                                 st->numbers_in ? NULL : st->values + r * nf, errstr, errstr_size);
    }
    if (status == SYMTASK_OK) {
        *row = r;
        st->rows++;
    }
    return status;
}

/* Checks the typed and run-time outputs of each predicted row. */
static symtask_status_t stages_check_outputs(stages_t *st, char *errstr, size_t errstr_size)
{
    size_t no = st->sig.n_outputs;

    for (size_t r = 0; r < st->rows; r++) {
        if (st->row_status[r] != SYMTASK_OK)
            continue;
        if (!st->numbers_out && outputs_check(st->sig.outputs, no, st->output_values + r * no,
                                              errstr, errstr_size) != 0)
            return SYMTASK_ERR_FATAL;
        if (st->row_outputs != NULL &&
            row_outputs_check(st->sig.outputs, no, &st->row_outputs[r],
                              st->row_errors + r * STAGES_ERR_SIZE, STAGES_ERR_SIZE) != 0)
            st->row_status[r] = SYMTASK_ERR_RECORD;
    }
    return SYMTASK_OK;
}

symtask_status_t stages_predict(stages_t *st, char *errstr, size_t errstr_size)
{
    size_t rows = st->rows, no = st->sig.n_outputs;
    symtask_batch_t batch = {
        .rows = rows,
        .n_features = st->sig.n_features,
        .features = st->features,
        .n_outputs = no,
        .outputs = st->outputs,
        .row_status = st->row_status,
        .row_errors = st->row_errors,
        .row_error_size = STAGES_ERR_SIZE,
        .values = st->values,
        .output_values = st->output_values,
        .records = (st->sig.flags & SYMTASK_SIGNATURE_ALL_FIELDS) ? st->records : NULL,
        .row_outputs = st->row_outputs,
        .arena = &st->arena,
    };
    symtask_status_t status;

    if (rows == 0)
        return SYMTASK_OK;
    for (size_t r = 0; r < rows; r++) {
        st->row_status[r] = SYMTASK_OK;
        st->row_errors[r * STAGES_ERR_SIZE] = '\0';
        if (st->row_outputs != NULL)
            st->row_outputs[r] = (symtask_fields_t){NULL, 0};
    }
    for (size_t i = 0; st->output_values != NULL && i < rows * no; i++)
        st->output_values[i] = symtask_value_missing();
    errstr[0] = '\0';
    status = st->pred->predict(st->predictor_state, &batch, errstr, errstr_size);
    if (status != SYMTASK_OK) {
        if (errstr[0] == '\0')
            snprintf(errstr, errstr_size, "predict failed without saying why");
        return status == SYMTASK_ERR_RETRIABLE ? SYMTASK_ERR_RETRIABLE : SYMTASK_ERR_FATAL;
    }
    return stages_check_outputs(st, errstr, errstr_size);
}

const char *stages_row_error(const stages_t *st, size_t row)
{
    if (st->row_status[row] == SYMTASK_OK)
        return NULL;
    return st->row_errors[row * STAGES_ERR_SIZE] ? st->row_errors + row * STAGES_ERR_SIZE
                                                 : "the model rejected the record";
}

symtask_status_t stages_encode(stages_t *st, size_t row, const symtask_record_t *record,
                               symtask_buf_t *out, char *errstr, size_t errstr_size)
{
    size_t no = st->sig.n_outputs;

    if (st->fast_encode)
        return st->rd->encode(st->reader_state, record, st->outputs + row * no, out, errstr,
                              errstr_size);

    /* The row's outputs as fields: the declared ones, then those named at run time. */
    const symtask_fields_t *extra = st->row_outputs != NULL ? &st->row_outputs[row] : NULL;
    size_t n = no + (extra != NULL ? extra->count : 0);
    symtask_field_t *items = st->out_fields;
    if (extra != NULL && extra->count > 0) {
        items = plugin_host()->arena_alloc(&st->arena, n * sizeof(*items));
        if (items == NULL) {
            snprintf(errstr, errstr_size, "out of memory");
            return SYMTASK_ERR_FATAL;
        }
        memcpy(items + no, extra->items, extra->count * sizeof(*items));
    }
    for (size_t o = 0; o < no; o++) {
        items[o].name = st->output_names[o];
        items[o].name_len = st->output_name_lens[o];
        items[o].value = st->numbers_out ? symtask_value_number(st->outputs[row * no + o])
                                         : st->output_values[row * no + o];
    }
    symtask_fields_t outputs = {items, n};
    return st->wr->encode_fields(st->wr_state, st->own_writer ? NULL : record,
                                 st->need_fields ? &st->records[row] : NULL, &outputs, &st->arena,
                                 out, errstr, errstr_size);
}
