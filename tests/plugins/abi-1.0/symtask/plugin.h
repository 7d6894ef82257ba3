/* symtask/plugin.h: the plugin ABI of symtask, for predictor and serializer plugins.
 *
 * A plugin is a shared object exporting one function, SYMTASK_PLUGIN_ENTRY
 * ("symtask_plugin_entry"), that returns a pointer to a static symtask_plugin_t. The worker
 * (symtask-worker) loads it with dlopen() from the plugin directory as "<name>.so", where
 * <name> is what a task's params give in `sml.predictor`, `sml.serializer` or
 * `sml.serializer.out`.
 *
 * Versioning rule
 *   - The descriptor starts with abi_major, abi_minor and size, and never moves them.
 *   - SYMTASK_PLUGIN_ABI_MAJOR changes when anything already published changes its layout
 *     or meaning. The loader refuses a plugin of another major.
 *   - SYMTASK_PLUGIN_ABI_MINOR grows when a field is added at the end of a struct (structs
 *     only grow at the end). The loader refuses a plugin whose minor is newer than its own,
 *     and reads a descriptor only up to its `size`, so older plugins keep working.
 *   - symtask_host_t follows the same rule in the other direction: a plugin checks
 *     host->size before it uses a field added in a later minor.
 *
 * Threads: the worker calls a plugin from one thread. Instances never share state: a
 * plugin keeps no global mutable state, only what its create() returns.
 *
 * Errors: every call that can fail returns a symtask_status_t and writes a message a user
 * can act on into (errstr, errstr_size). The message goes to the task's lastError and to
 * the headers of dead-letter records, so it never holds secret values.
 */
#ifndef SYMTASK_PLUGIN_H
#define SYMTASK_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SYMTASK_PLUGIN_ABI_MAJOR 1
#define SYMTASK_PLUGIN_ABI_MINOR 0

/* Name of the one symbol a plugin exports. */
#define SYMTASK_PLUGIN_ENTRY "symtask_plugin_entry"

#if defined(__GNUC__)
#define SYMTASK_PLUGIN_EXPORT __attribute__((visibility("default")))
#define SYMTASK_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define SYMTASK_PLUGIN_EXPORT
#define SYMTASK_PRINTF(fmt, args)
#endif

/* What a call reports. */
typedef enum symtask_status {
    SYMTASK_OK = 0,
    /* This record cannot be handled (unparseable, a feature missing or not a number): it goes
     * to the dead-letter topic and the task goes on. */
    SYMTASK_ERR_RECORD = 1,
    /* A passing failure (a resource busy): the worker retries the same call later. */
    SYMTASK_ERR_RETRIABLE = 2,
    /* The instance cannot go on (bad configuration, model unusable): the task fails. */
    SYMTASK_ERR_FATAL = 3,
} symtask_status_t;

typedef enum symtask_plugin_kind {
    SYMTASK_PLUGIN_PREDICTOR = 1,
    SYMTASK_PLUGIN_SERIALIZER = 2,
} symtask_plugin_kind_t;

/* ---- Options --------------------------------------------------------------------------- */

typedef enum symtask_option_type {
    SYMTASK_OPTION_STRING = 0,
    SYMTASK_OPTION_INT = 1,    /* a whole number (strtoll, base 10) */
    SYMTASK_OPTION_DOUBLE = 2, /* a finite number */
    SYMTASK_OPTION_BOOL = 3,   /* true or false */
    SYMTASK_OPTION_PATH = 4,   /* a file that must exist and be readable */
    SYMTASK_OPTION_LIST = 5,   /* comma-separated strings, none empty */
} symtask_option_type_t;

/* One param a plugin reads, declared in a table ended by an entry whose name is NULL. The
 * loader checks presence and type before create() runs, so create() only checks what a
 * table cannot say; the table is also the plugin's documentation in the plugin listing. */
typedef struct symtask_option {
    const char *name; /* full key, e.g. "sml.predictor.model" */
    symtask_option_type_t type;
    const char *default_value; /* as a param string; NULL: no default */
    int required;              /* non-zero: the task must set it */
    const char *help;          /* one sentence for users */
} symtask_option_t;

/* ---- What the host offers ---------------------------------------------------------------- */

typedef struct symtask_params symtask_params_t; /* a task's params, read-only */

typedef enum symtask_log_level {
    SYMTASK_LOG_ERROR = 0,
    SYMTASK_LOG_WARN = 1,
    SYMTASK_LOG_INFO = 2,
    SYMTASK_LOG_DEBUG = 3,
} symtask_log_level_t;

/* A growable byte buffer owned by the host; plugins append to it. */
typedef struct symtask_buf symtask_buf_t;

typedef struct symtask_host {
    uint32_t abi_major, abi_minor; /* the worker's ABI */
    uint32_t size;                 /* sizeof(symtask_host_t) of the worker */

    /* The value of param @key, or NULL when the task does not set it and the plugin's
     * option table gives no default. Valid for the life of the instance. */
    const char *(*param)(const symtask_params_t *params, const char *key);

    /* Logs one line with the task's tag. Never log param values that may be secret. */
    void (*log)(symtask_log_level_t level, const char *fmt, ...) SYMTASK_PRINTF(2, 3);

    /* Appends @len bytes to @buf. Returns 0, or -1 when out of memory. */
    int (*buf_append)(symtask_buf_t *buf, const void *data, size_t len);
    /* Appends a number as JSON and CSV write it: the shortest form that reads back as the
     * same double, integers without a fraction. NaN and infinities are written as JSON's
     * null; a format without null checks isfinite() first and writes its own. */
    int (*buf_append_number)(symtask_buf_t *buf, double value);
} symtask_host_t;

/* ---- Predictors ------------------------------------------------------------------------ */

/* A batch of rows to predict. Features are in the order the predictor declared, row-major;
 * NaN marks a missing value. */
typedef struct symtask_batch {
    size_t rows;
    size_t n_features;
    const double *features; /* rows × n_features */
    size_t n_outputs;
    double *outputs; /* rows × n_outputs, written by predict() */
    /* Set row_status[i] to SYMTASK_ERR_RECORD and write a message into row_error(i) to send
     * row i to the dead-letter topic; every row starts as SYMTASK_OK. */
    symtask_status_t *row_status;
    char *row_errors; /* rows × row_error_size bytes */
    size_t row_error_size;
} symtask_batch_t;

/* The message buffer of row @i of @batch. */
static inline char *symtask_batch_row_error(symtask_batch_t *batch, size_t i)
{
    return batch->row_errors + i * batch->row_error_size;
}

typedef struct symtask_predictor_ops {
    /* Builds an instance from @params (loads the model). On success sets *@state and returns
     * SYMTASK_OK; on failure returns SYMTASK_ERR_FATAL with a message (naming the param key
     * and the file when a model cannot be loaded) and leaves nothing allocated. */
    symtask_status_t (*create)(const symtask_host_t *host, const symtask_params_t *params,
                               void **state, char *errstr, size_t errstr_size);

    /* The features the model reads and the output fields it writes, in batch order. The
     * arrays and strings belong to the instance and live as long as it does. */
    void (*describe)(void *state, const char *const **features, size_t *n_features,
                     const char *const **outputs, size_t *n_outputs);

    /* Predicts every row of @batch. Per-row problems go in batch->row_status; a return other
     * than SYMTASK_OK concerns the whole batch (RETRIABLE: called again with the same batch;
     * FATAL: the task fails). */
    symtask_status_t (*predict)(void *state, symtask_batch_t *batch, char *errstr,
                                size_t errstr_size);

    /* Frees the instance. */
    void (*destroy)(void *state);
} symtask_predictor_ops_t;

/* ---- Serializers ------------------------------------------------------------------------ */

/* One Kafka record's value as a serializer sees it. */
typedef struct symtask_record {
    const void *value;
    size_t len;
} symtask_record_t;

typedef struct symtask_serializer_ops {
    /* Builds an instance from @params. Same contract as the predictor's create(). */
    symtask_status_t (*create)(const symtask_host_t *host, const symtask_params_t *params,
                               void **state, char *errstr, size_t errstr_size);

    /* Tells the instance which features to decode and which outputs to encode, once, after
     * create() and before any record. The arrays live as long as the instance. FATAL when
     * the format cannot provide them (e.g. a csv column list without a feature). */
    symtask_status_t (*bind)(void *state, const char *const *features, size_t n_features,
                             const char *const *outputs, size_t n_outputs, char *errstr,
                             size_t errstr_size);

    /* Decodes @record into @features (n_features values in bind() order; NaN for a feature
     * the record does not hold). SYMTASK_ERR_RECORD when the record is unparseable or a
     * feature is not a number. */
    symtask_status_t (*decode)(void *state, const symtask_record_t *record, double *features,
                               char *errstr, size_t errstr_size);

    /* Appends to @out the record to write to the sink: @record (in this serializer's format)
     * with @outputs (n_outputs values in bind() order) added. */
    symtask_status_t (*encode)(void *state, const symtask_record_t *record, const double *outputs,
                               symtask_buf_t *out, char *errstr, size_t errstr_size);

    /* Frees the instance. */
    void (*destroy)(void *state);
} symtask_serializer_ops_t;

/* ---- The descriptor --------------------------------------------------------------------- */

typedef struct symtask_plugin {
    uint32_t abi_major; /* SYMTASK_PLUGIN_ABI_MAJOR the plugin was built with */
    uint32_t abi_minor; /* SYMTASK_PLUGIN_ABI_MINOR the plugin was built with */
    uint32_t size;      /* sizeof(symtask_plugin_t) the plugin was built with */
    symtask_plugin_kind_t kind;
    const char *name;                /* equal to the file name without ".so" */
    const char *version;             /* the plugin's own version, e.g. "1.2.0" */
    const char *description;         /* one line */
    const symtask_option_t *options; /* ended by {NULL}; may be NULL when there are none */
    union {
        symtask_predictor_ops_t predictor;
        symtask_serializer_ops_t serializer;
        /* Room for ops added by later minors, so that the union, and every field after it,
         * keeps its size and place. */
        void (*reserved[16])(void);
    } ops;
} symtask_plugin_t;

/* Fills the fixed head of a descriptor: SYMTASK_PLUGIN_HEAD(SYMTASK_PLUGIN_PREDICTOR). */
#define SYMTASK_PLUGIN_HEAD(kind_)                                                                 \
    .abi_major = SYMTASK_PLUGIN_ABI_MAJOR, .abi_minor = SYMTASK_PLUGIN_ABI_MINOR,                  \
    .size = sizeof(symtask_plugin_t), .kind = (kind_)

/* The entry point: returns the plugin's static descriptor. @host is valid for as long as the
 * plugin is loaded. Called once, before anything else. */
typedef const symtask_plugin_t *(*symtask_plugin_entry_fn)(const symtask_host_t *host);

#ifdef __cplusplus
}
#endif

#endif
