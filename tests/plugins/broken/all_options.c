/* all_options.c: a correct predictor declaring an option of every type, so that the params
 * tests can reach each of the loader's value checks (no built-in plugin uses them all). */
#include "symtask/plugin.h"

static symtask_status_t all_options_create(const symtask_host_t *host,
                                           const symtask_params_t *params, void **state,
                                           char *errstr, size_t errstr_size)
{
    *state = NULL;
    return SYMTASK_OK;
}

static void all_options_describe(void *state, const char *const **features, size_t *n_features,
                                 const char *const **outputs, size_t *n_outputs)
{
    static const char *const names[] = {"x"};

    *features = names;
    *n_features = 1;
    *outputs = names;
    *n_outputs = 1;
}

static symtask_status_t all_options_predict(void *state, symtask_batch_t *batch, char *errstr,
                                            size_t errstr_size)
{
    return SYMTASK_OK;
}

static void all_options_destroy(void *state)
{
}

static const symtask_option_t all_options_options[] = {
    {"sml.predictor.label", SYMTASK_OPTION_STRING, NULL, 1, "A required string."},
    {"sml.predictor.depth", SYMTASK_OPTION_INT, "3", 0, "A whole number."},
    {"sml.predictor.rate", SYMTASK_OPTION_DOUBLE, "0.5", 0, "A finite number."},
    {"sml.predictor.verbose", SYMTASK_OPTION_BOOL, "false", 0, "true or false."},
    {"sml.predictor.file", SYMTASK_OPTION_PATH, NULL, 0, "A readable file."},
    {"sml.predictor.columns", SYMTASK_OPTION_LIST, "a,b", 0, "Comma-separated names."},
    {"sml.predictor.key.file", SYMTASK_OPTION_PATH, NULL, 0, "A file whose path is secret."},
    {"sml.predictor.password.rounds", SYMTASK_OPTION_INT, NULL, 0, "A secret number."},
    {NULL},
};

static const symtask_plugin_t all_options_plugin = {
    SYMTASK_PLUGIN_HEAD(SYMTASK_PLUGIN_PREDICTOR),
    .name = "all_options",
    .version = "0.0.1",
    .description = "A predictor with an option of every type, for the params tests.",
    .options = all_options_options,
    .ops.predictor =
        {
            .create = all_options_create,
            .describe = all_options_describe,
            .predict = all_options_predict,
            .destroy = all_options_destroy,
        },
};

SYMTASK_PLUGIN_EXPORT const symtask_plugin_t *symtask_plugin_entry(const symtask_host_t *host)
{
    return &all_options_plugin;
}
