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
 *     only grow at the end; each added field says "ABI 1.N" in its comment). The loader
 *     refuses a plugin whose minor is newer than its own, and reads a descriptor only up to
 *     its `size`, so older plugins keep working without a rebuild.
 *   - Fields the plugin fills (the descriptor and its ops): the worker reads a field added
 *     in minor N only from a plugin of minor N or later, and treats it as unset (NULL, 0)
 *     for an older plugin. Ops added by a minor take free slots of the ops union, so the
 *     descriptor keeps its size.
 *   - Fields the worker fills (symtask_host_t, symtask_batch_t, symtask_binding_t,
 *     symtask_signature_t: structs the worker allocates): a plugin runs only on a worker
 *     whose minor is at least its own, so every field of the plugin's minor is there; a
 *     field of a later minor is simply unknown to it. host->abi_minor says which minor the
 *     worker speaks.
 *   - symtask_value_t, symtask_field_t, symtask_fields_t and symtask_column_t are elements
 *     of arrays that one side allocates and the other indexes: they never change within a
 *     major. A later minor may add a value type (symtask_type_t); the worker hands a plugin
 *     of an older minor such a value as a string of its `text`, or as missing when it has
 *     none.
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
#define SYMTASK_PLUGIN_ABI_MINOR 1

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
    /* This record cannot be handled (unparseable, a feature missing or of the wrong type): it
     * goes to the dead-letter topic and the task goes on. */
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
 * table cannot say; the table is also the plugin's documentation in the plugin listing.
 *
 * A serializer names its options "sml.serializer.<x>". When it writes the sink in another
 * instance than the one reading the source (`sml.serializer.out` names another plugin, or
 * the task sets some "sml.serializer.out.<x>"), that output instance reads each of its
 * options from "sml.serializer.out.<x>" instead: the plugin asks for "sml.serializer.<x>"
 * either way. */
typedef struct symtask_option {
    const char *name; /* full key, e.g. "sml.predictor.model" */
    symtask_option_type_t type;
    const char *default_value; /* as a param string; NULL: no default */
    int required;              /* non-zero: the task must set it */
    const char *help;          /* one sentence for users */
} symtask_option_t;

/* ---- Typed values (ABI 1.1) ---------------------------------------------------------------
 *
 * A feature, an output and a field of a record is one of these. */
typedef enum symtask_type {
    SYMTASK_TYPE_MISSING = 0, /* no value: an absent key, null, an empty CSV field */
    SYMTASK_TYPE_NUMBER = 1,  /* a double (NaN and infinities are possible) */
    SYMTASK_TYPE_STRING = 2,  /* UTF-8 text of a given length, NUL bytes allowed */
    SYMTASK_TYPE_BOOL = 3,    /* true or false */
    /* An object, array or map of the record, or binary data (Avro's bytes and fixed: a JSON
     * string of one code point per byte, as Avro's JSON encoding writes them), carried as
     * its JSON text (RFC 8259). Only in records: never a declared feature or output type. */
    SYMTASK_TYPE_NESTED = 4,
    /* Only in declarations of features: the feature is handed over typed as the record has
     * it, whatever that is. */
    SYMTASK_TYPE_ANY = 15,
} symtask_type_t;

/* A typed value. Read the member its type names; `text` is never NUL-terminated for sure:
 * use `len`. Whoever fills a value owns the bytes at `text` (see each call for how long
 * they live). */
typedef struct symtask_value {
    symtask_type_t type;
    int boolean;   /* BOOL: 0 or 1 */
    double number; /* NUMBER: the value */
    /* STRING: the UTF-8 bytes. NESTED: the JSON text. NUMBER: how the source record spelt
     * the number, in JSON's number grammar, so that a text format can write it unchanged
     * (digits beyond a double's precision survive); NULL when there is no such spelling,
     * e.g. for a computed number. MISSING, BOOL: NULL. */
    const char *text;
    size_t len; /* bytes at text */
} symtask_value_t;

/* A named value: one field of a record, or one output of a row. */
typedef struct symtask_field {
    const char *name; /* UTF-8, not NUL-terminated for sure: use name_len */
    size_t name_len;
    symtask_value_t value;
} symtask_field_t;

/* An ordered list of fields: a record in the neutral form every 1.1 serializer reads and
 * writes, or the outputs of one row. */
typedef struct symtask_fields {
    const symtask_field_t *items;
    size_t count;
} symtask_fields_t;

/* A declared feature or output: its name (NUL-terminated) and type. */
typedef struct symtask_column {
    const char *name;
    symtask_type_t type;
} symtask_column_t;

static inline symtask_value_t symtask_value_missing(void)
{
    symtask_value_t v = {SYMTASK_TYPE_MISSING, 0, 0.0, NULL, 0};
    return v;
}

static inline symtask_value_t symtask_value_number(double number)
{
    symtask_value_t v = {SYMTASK_TYPE_NUMBER, 0, number, NULL, 0};
    return v;
}

/* @text must outlive the value's use (see the call that takes it). */
static inline symtask_value_t symtask_value_string(const char *text, size_t len)
{
    symtask_value_t v = {SYMTASK_TYPE_STRING, 0, 0.0, text, len};
    return v;
}

static inline symtask_value_t symtask_value_bool(int boolean)
{
    symtask_value_t v = {SYMTASK_TYPE_BOOL, boolean != 0, 0.0, NULL, 0};
    return v;
}

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

/* Memory owned by the host for one batch of records (ABI 1.1): what a plugin allocates
 * from it lives until the worker has written the batch's last record, and is freed by the
 * worker. */
typedef struct symtask_arena symtask_arena_t;

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

    /* ABI 1.1: @size bytes from @arena, aligned for any type, or NULL when out of memory.
     * Never free them: the worker frees the arena after the batch. */
    void *(*arena_alloc)(symtask_arena_t *arena, size_t size);
} symtask_host_t;

/* ---- Predictors ------------------------------------------------------------------------ */

/* Flags of a signature (ABI 1.1). */
enum {
    /* The predictor reads whole records: batch->records gives every top-level field of each
     * row, typed as the record has it, instead of declared features (a predictor that
     * forwards records to a model server). Its features list must then be empty. */
    SYMTASK_SIGNATURE_ALL_FIELDS = 1u << 0,
    /* Output names are known only at run time (the keys a model server answers): predict()
     * gives each row its own outputs in batch->row_outputs, after the declared ones. */
    SYMTASK_SIGNATURE_DYNAMIC_OUTPUTS = 1u << 1,
};

/* What a predictor reads and writes (ABI 1.1), filled by its signature() call in a struct
 * the worker zeroed. The arrays and names belong to the instance and live as long as it
 * does. */
typedef struct symtask_signature {
    /* The features, in batch order. A type is NUMBER, STRING, BOOL or ANY. */
    const symtask_column_t *features;
    size_t n_features;
    /* The declared outputs, in batch order. A type is NUMBER, STRING or BOOL: each value
     * predict() writes is of that type, or missing. Names differ from each other. */
    const symtask_column_t *outputs;
    size_t n_outputs;
    uint32_t flags; /* SYMTASK_SIGNATURE_* */
} symtask_signature_t;

/* A batch of rows to predict. Which members are set depends on the predictor's signature:
 *
 *   every feature NUMBER        features (doubles, NaN for missing)
 *   some feature of another type values (typed; ABI 1.1)
 *   SYMTASK_SIGNATURE_ALL_FIELDS records (ABI 1.1)
 *   every output NUMBER         outputs (doubles)
 *   some output of another type output_values (ABI 1.1)
 *   DYNAMIC_OUTPUTS             row_outputs as well (ABI 1.1)
 *
 * and the others are NULL. A predictor without a signature() (ABI 1.0) always gets
 * features and outputs. */
typedef struct symtask_batch {
    size_t rows;
    size_t n_features;
    /* rows × n_features, row-major, in the declared order; NaN marks a missing value. */
    const double *features;
    size_t n_outputs;
    double *outputs; /* rows × n_outputs, written by predict() */
    /* Set row_status[i] to SYMTASK_ERR_RECORD and write a message into row_error(i) to send
     * row i to the dead-letter topic; every row starts as SYMTASK_OK. */
    symtask_status_t *row_status;
    char *row_errors; /* rows × row_error_size bytes */
    size_t row_error_size;

    /* ABI 1.1. rows × n_features typed features, row-major. Each is of its declared type or
     * MISSING (a feature declared ANY: of any type but ANY). Valid during the call. */
    const symtask_value_t *values;
    /* ABI 1.1. rows × n_outputs, all MISSING on entry, written by predict(). The bytes of a
     * string must live until the next predict() or destroy() of the instance: static text,
     * the instance's own memory, or the arena. */
    symtask_value_t *output_values;
    /* ABI 1.1. rows: the fields of each row's record, in the record's order. Valid during
     * the call. */
    const symtask_fields_t *records;
    /* ABI 1.1. rows, all empty on entry: predict() points row_outputs[i] at row i's outputs
     * (names and values, of any type but ANY), living as long as output_values' strings. */
    symtask_fields_t *row_outputs;
    /* ABI 1.1. Memory for this batch (host->arena_alloc), freed after it is written. */
    symtask_arena_t *arena;
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

    /* The features the model reads and the output fields it writes, in batch order, all
     * numbers. The arrays and strings belong to the instance and live as long as it does.
     * May be NULL (ABI 1.1) when signature() is set. */
    void (*describe)(void *state, const char *const **features, size_t *n_features,
                     const char *const **outputs, size_t *n_outputs);

    /* Predicts every row of @batch. Per-row problems go in batch->row_status; a return other
     * than SYMTASK_OK concerns the whole batch (RETRIABLE: called again with the same batch;
     * FATAL: the task fails). */
    symtask_status_t (*predict)(void *state, symtask_batch_t *batch, char *errstr,
                                size_t errstr_size);

    /* Frees the instance. */
    void (*destroy)(void *state);

    /* ABI 1.1, optional: the typed features and outputs and the flags, in place of
     * describe(). Called once, after create(). */
    void (*signature)(void *state, symtask_signature_t *signature);
} symtask_predictor_ops_t;

/* ---- Serializers ------------------------------------------------------------------------ */

/* One Kafka record's value as a serializer sees it. */
typedef struct symtask_record {
    const void *value;
    size_t len;
} symtask_record_t;

/* What an instance does for the task (ABI 1.1). */
enum {
    SYMTASK_ROLE_DECODE = 1u << 0, /* reads the source topic's records */
    SYMTASK_ROLE_ENCODE = 1u << 1, /* writes the sink topic's records */
};

/* What a serializer instance is bound to (ABI 1.1), handed to bind_typed() in a struct the
 * worker fills; it and its arrays live as long as the instance. */
typedef struct symtask_binding {
    uint32_t roles; /* SYMTASK_ROLE_*: both when one instance reads and writes */
    uint32_t flags; /* the predictor's SYMTASK_SIGNATURE_* flags */
    /* What the predictor reads; empty for an instance that only encodes. */
    const symtask_column_t *features;
    size_t n_features;
    const symtask_column_t *outputs; /* the declared outputs */
    size_t n_outputs;
} symtask_binding_t;

/* A serializer implements the 1.0 calls (bind, decode, encode: numbers only, and the sink in
 * the source's format), or the 1.1 calls (decode_fields, encode_fields: every type, any
 * format to any format), or both: then the worker uses decode and encode where numbers and
 * one format suffice, for speed, and the 1.1 calls elsewhere. */
typedef struct symtask_serializer_ops {
    /* Builds an instance from @params. Same contract as the predictor's create(). */
    symtask_status_t (*create)(const symtask_host_t *host, const symtask_params_t *params,
                               void **state, char *errstr, size_t errstr_size);

    /* Tells the instance which features to decode and which outputs to encode, once, after
     * create() and before any record. The arrays live as long as the instance. FATAL when
     * the format cannot provide them (e.g. a csv column list without a feature). Not called
     * when bind_typed() is set. */
    symtask_status_t (*bind)(void *state, const char *const *features, size_t n_features,
                             const char *const *outputs, size_t n_outputs, char *errstr,
                             size_t errstr_size);

    /* Decodes @record into @features (n_features values in bind() order; NaN for a feature
     * the record does not hold). SYMTASK_ERR_RECORD when the record is unparseable or a
     * feature is not a number. Used only when every feature is a NUMBER. */
    symtask_status_t (*decode)(void *state, const symtask_record_t *record, double *features,
                               char *errstr, size_t errstr_size);

    /* Appends to @out the record to write to the sink: @record (in this serializer's format)
     * with @outputs (n_outputs values in bind() order) added. Used only when this instance
     * also decoded the record and every output is a NUMBER. */
    symtask_status_t (*encode)(void *state, const symtask_record_t *record, const double *outputs,
                               symtask_buf_t *out, char *errstr, size_t errstr_size);

    /* Frees the instance. */
    void (*destroy)(void *state);

    /* ABI 1.1, optional: bind() with types, flags and the instance's roles. Called once,
     * after create() and before any record, in place of bind(). RETRIABLE when a server the
     * instance needs does not answer (a schema registry down): the check at create refuses
     * the task with the message, a task's worker logs it and starts, and the record calls
     * answer RETRIABLE themselves until the server is back. */
    symtask_status_t (*bind_typed)(void *state, const symtask_binding_t *binding, char *errstr,
                                   size_t errstr_size);

    /* ABI 1.1: the record's top-level fields in its order, into @fields. Each field is typed
     * as the record has it (nested values as NESTED); a format whose values carry no type of
     * their own (CSV) types a field that is a bound feature as the feature is declared (and
     * fails the record when it cannot). Names and values may point into @record or into
     * @arena, which both live until the batch is written, or into memory of the instance
     * that stays unchanged while it lives (its column names). SYMTASK_ERR_RECORD when the
     * record cannot be read. */
    symtask_status_t (*decode_fields)(void *state, const symtask_record_t *record,
                                      symtask_arena_t *arena, symtask_fields_t *fields,
                                      char *errstr, size_t errstr_size);

    /* ABI 1.1: appends to @out the record to write to the sink, with @outputs added (a field
     * of the record with an output's name gives way to the output). @record is the source
     * record when this instance decoded it (the sink has the source's format): keep its
     * bytes where the format allows. @fields is the record's fields when the worker has
     * them: always when another serializer read the source (@record is NULL then); when it
     * is NULL, decode @record yourself if you need fields (@arena serves for that).
     * SYMTASK_ERR_RECORD when this record cannot be written in this format. */
    symtask_status_t (*encode_fields)(void *state, const symtask_record_t *record,
                                      const symtask_fields_t *fields,
                                      const symtask_fields_t *outputs, symtask_arena_t *arena,
                                      symtask_buf_t *out, char *errstr, size_t errstr_size);
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
