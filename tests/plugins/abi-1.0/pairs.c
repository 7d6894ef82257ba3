/* pairs.c: a serializer built against the frozen ABI 1.0 header (abi-1.0/symtask/plugin.h),
 * as a third party wrote one before ABI 1.1: records are "name=number" pairs separated by
 * ';', and the outputs are appended as more pairs. It must load and work on today's worker
 * without a rebuild, and be refused cleanly where it cannot serve (typed values, another
 * output format). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <symtask/plugin.h>

typedef struct pairs {
    const symtask_host_t *host;
    const char *const *features, *const *outputs;
    size_t n_features, n_outputs;
} pairs_t;

static symtask_status_t pairs_create(const symtask_host_t *host, const symtask_params_t *params,
                                     void **state, char *errstr, size_t errstr_size)
{
    pairs_t *p = calloc(1, sizeof(*p));
    if (!p) {
        snprintf(errstr, errstr_size, "pairs: out of memory");
        return SYMTASK_ERR_FATAL;
    }
    p->host = host;
    *state = p;
    return SYMTASK_OK;
}

static symtask_status_t pairs_bind(void *state, const char *const *features, size_t n_features,
                                   const char *const *outputs, size_t n_outputs, char *errstr,
                                   size_t errstr_size)
{
    pairs_t *p = state;
    p->features = features;
    p->n_features = n_features;
    p->outputs = outputs;
    p->n_outputs = n_outputs;
    return SYMTASK_OK;
}

static symtask_status_t pairs_decode(void *state, const symtask_record_t *record, double *features,
                                     char *errstr, size_t errstr_size)
{
    pairs_t *p = state;
    const char *s = record->value, *end = s + record->len;
    for (size_t i = 0; i < p->n_features; i++)
        features[i] = NAN;
    while (s < end) {
        const char *semi = memchr(s, ';', (size_t)(end - s)), *eq;
        const char *stop = semi ? semi : end;
        char value[64];
        if (!(eq = memchr(s, '=', (size_t)(stop - s))) || (size_t)(stop - eq) >= sizeof(value)) {
            snprintf(errstr, errstr_size, "not name=number pairs");
            return SYMTASK_ERR_RECORD;
        }
        memcpy(value, eq + 1, (size_t)(stop - eq - 1));
        value[stop - eq - 1] = '\0';
        for (size_t i = 0; i < p->n_features; i++) {
            if (strlen(p->features[i]) == (size_t)(eq - s) &&
                memcmp(p->features[i], s, (size_t)(eq - s)) == 0) {
                char *tail;
                features[i] = strtod(value, &tail);
                if (*tail != '\0') {
                    snprintf(errstr, errstr_size, "%s is not a number", p->features[i]);
                    return SYMTASK_ERR_RECORD;
                }
            }
        }
        s = semi ? semi + 1 : end;
    }
    return SYMTASK_OK;
}

static symtask_status_t pairs_encode(void *state, const symtask_record_t *record,
                                     const double *outputs, symtask_buf_t *out, char *errstr,
                                     size_t errstr_size)
{
    pairs_t *p = state;
    if (p->host->buf_append(out, record->value, record->len) < 0)
        return SYMTASK_ERR_FATAL;
    for (size_t i = 0; i < p->n_outputs; i++)
        if (p->host->buf_append(out, ";", 1) < 0 ||
            p->host->buf_append(out, p->outputs[i], strlen(p->outputs[i])) < 0 ||
            p->host->buf_append(out, "=", 1) < 0 || p->host->buf_append_number(out, outputs[i]) < 0)
            return SYMTASK_ERR_FATAL;
    return SYMTASK_OK;
}

static void pairs_destroy(void *state)
{
    free(state);
}

static const symtask_plugin_t pairs_plugin = {
    SYMTASK_PLUGIN_HEAD(SYMTASK_PLUGIN_SERIALIZER),
    .name = "pairs",
    .version = "1.0.0",
    .description = "name=number pairs separated by ';' (a plugin of ABI 1.0, for tests).",
    .ops.serializer = {pairs_create, pairs_bind, pairs_decode, pairs_encode, pairs_destroy},
};

SYMTASK_PLUGIN_EXPORT const symtask_plugin_t *symtask_plugin_entry(const symtask_host_t *host)
{
    return &pairs_plugin;
}
