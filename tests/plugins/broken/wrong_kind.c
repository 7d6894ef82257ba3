/* wrong_kind.c: a correct serializer, which the loader must refuse where a predictor is wanted. */
#include "symtask/plugin.h"

static symtask_status_t wrong_kind_create(const symtask_host_t *host,
                                          const symtask_params_t *params, void **state,
                                          char *errstr, size_t errstr_size)
{
    *state = NULL;
    return SYMTASK_OK;
}

static symtask_status_t wrong_kind_bind(void *state, const char *const *features, size_t n_features,
                                        const char *const *outputs, size_t n_outputs, char *errstr,
                                        size_t errstr_size)
{
    return SYMTASK_OK;
}

static symtask_status_t wrong_kind_decode(void *state, const symtask_record_t *record,
                                          double *features, char *errstr, size_t errstr_size)
{
    return SYMTASK_OK;
}

static symtask_status_t wrong_kind_encode(void *state, const symtask_record_t *record,
                                          const double *outputs, symtask_buf_t *out, char *errstr,
                                          size_t errstr_size)
{
    return SYMTASK_OK;
}

static void wrong_kind_destroy(void *state)
{
}

static const symtask_plugin_t wrong_kind_plugin = {
    SYMTASK_PLUGIN_HEAD(SYMTASK_PLUGIN_SERIALIZER),
    .name = "wrong_kind",
    .version = "0.0.1",
    .description = "A serializer, for the loader tests that load it as a predictor.",
    .ops.serializer =
        {
            .create = wrong_kind_create,
            .bind = wrong_kind_bind,
            .decode = wrong_kind_decode,
            .encode = wrong_kind_encode,
            .destroy = wrong_kind_destroy,
        },
};

SYMTASK_PLUGIN_EXPORT const symtask_plugin_t *symtask_plugin_entry(const symtask_host_t *host)
{
    return &wrong_kind_plugin;
}
