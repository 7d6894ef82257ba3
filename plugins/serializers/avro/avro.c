/* avro.c: the "avro" serializer: Avro records in Confluent's wire format (magic byte 0, the
 * writer schema's id in 4 bytes big-endian, the Avro binary encoding), with the schemas in
 * a Confluent Schema Registry. Records of several schema ids in one topic are each read with
 * their own writer schema (fetched once per id); the sink's records have the source record's
 * schema plus one optional field per output, registered under the sink's subject (one id per
 * source schema id), and keep the source record's bytes. Records of another format are
 * written with a schema given as a file, or derived from their fields. See README.md. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "registry.h"
#include "schema.h"
#include "symtask/plugin.h"

/* How long a schema id the registry does not know (or an output schema it refuses) is
 * answered from memory before the registry is asked again. */
#define AV_RETRY_MS 10000
/* Schemas held at most, of each kind: ids read, output schemas. */
#define AV_CACHE_MAX 10000
/* A call must answer well within task.heartbeat_timeout_ms (30 s), whatever the registry. */
#define AV_CALL_MAX_MS 25000

typedef enum av_strategy {
    AV_TOPIC_NAME,
    AV_RECORD_NAME,
    AV_TOPIC_RECORD_NAME,
} av_strategy_t;

/* An output schema: the source schema (or the schema file, or one derived from the fields)
 * with the outputs added, registered under the sink's subject. */
typedef struct av_out {
    char *key; /* what it is for (the map's key) */
    size_t key_len;
    char *text;
    avs_schema_t *schema;
    char *subject;
    int32_t id;    /* -1 until registered or found */
    char *failure; /* why it cannot be used, until retry_at_ms */
    int64_t retry_at_ms;
    size_t n_outputs; /* its last n_outputs fields are the outputs (of Avro records) */
} av_out_t;

/* A writer schema of the source, by its registry id. */
typedef struct av_writer {
    int32_t id;
    avs_schema_t *schema; /* NULL: failure says why records of this id cannot be read */
    char *failure;
    int64_t retry_at_ms;
    int32_t *slot;    /* per top-level field: the first feature of its name, or -1 */
    uint8_t *dropped; /* per top-level field: 1 when a declared output takes its name */
    int collides;     /* some field is dropped */
    av_out_t *out;    /* the output schema of the declared outputs */
} av_writer_t;

/* A map from keys (an id, or a string) to entries, open addressing. */
typedef struct av_map {
    uint64_t *hashes; /* 0: empty */
    void **values;
    size_t mask, count;
} av_map_t;

typedef struct av_state {
    const symtask_host_t *host;
    registry_t *registry;
    int check, auto_register;
    av_strategy_t strategy;
    const char *sink;
    const char *schema_path;
    uint32_t roles;
    avs_schema_t *file_schema; /* sml.serializer.schema, for records of another format */

    const symtask_column_t *features;
    size_t n_features;
    int32_t *feature_next; /* the next feature of the same name, or -1 */
    const symtask_column_t *outputs;
    size_t n_outputs;

    av_map_t writers, outs, names; /* names: feature name → first feature index + 1 */
    av_writer_t *last;             /* the writer of the last record */
    avs_buf_t scratch, body, key;  /* nested JSON, a record being written, a cache key */
} av_state_t;

/* ---- Small things ------------------------------------------------------------------------- */

static int64_t av_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t av_hash(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h | 1; /* never 0, which marks an empty slot */
}

static int av_map_grow(av_map_t *m)
{
    size_t size = m->mask ? (m->mask + 1) * 2 : 16;
    uint64_t *hashes = calloc(size, sizeof(*hashes));
    void **values = calloc(size, sizeof(*values));
    if (hashes == NULL || values == NULL) {
        free(hashes);
        free(values);
        return -1;
    }
    for (size_t i = 0; m->mask && i <= m->mask; i++) {
        if (m->hashes[i] == 0)
            continue;
        size_t k = m->hashes[i] & (size - 1);
        while (hashes[k] != 0)
            k = (k + 1) & (size - 1);
        hashes[k] = m->hashes[i];
        values[k] = m->values[i];
    }
    free(m->hashes);
    free(m->values);
    m->hashes = hashes;
    m->values = values;
    m->mask = size - 1;
    return 0;
}

/* The value of @hash for which @same(value, key) holds, or NULL. */
static void *av_map_find(const av_map_t *m, uint64_t hash, int (*same)(const void *, const void *),
                         const void *key)
{
    if (m->mask == 0)
        return NULL;
    for (size_t k = hash & m->mask; m->hashes[k] != 0; k = (k + 1) & m->mask)
        if (m->hashes[k] == hash && same(m->values[k], key))
            return m->values[k];
    return NULL;
}

static int av_map_put(av_map_t *m, uint64_t hash, void *value)
{
    if ((m->count + 1) * 2 > m->mask + 1 && av_map_grow(m) != 0)
        return -1;
    size_t k = hash & m->mask;
    while (m->hashes[k] != 0)
        k = (k + 1) & m->mask;
    m->hashes[k] = hash;
    m->values[k] = value;
    m->count++;
    return 0;
}

static void av_map_free(av_map_t *m, void (*free_value)(void *))
{
    for (size_t i = 0; m->mask && i <= m->mask; i++)
        if (m->hashes[i] != 0 && free_value != NULL)
            free_value(m->values[i]);
    free(m->hashes);
    free(m->values);
    memset(m, 0, sizeof(*m));
}

static int av_writer_is(const void *value, const void *key)
{
    return ((const av_writer_t *)value)->id == *(const int32_t *)key;
}

/* The key of an output schema: bytes (field names may hold NUL bytes). */
typedef struct av_key {
    const char *data;
    size_t len;
} av_key_t;

static int av_out_is(const void *value, const void *key)
{
    const av_out_t *o = value;
    const av_key_t *k = key;
    return o->key_len == k->len && memcmp(o->key, k->data, k->len) == 0;
}

/* names map: values are feature index + 1 cast to a pointer, keys (name, len) */
typedef struct av_name_key {
    const char *name;
    size_t len;
    const symtask_column_t *features;
} av_name_key_t;

static int av_name_is(const void *value, const void *key)
{
    const av_name_key_t *k = key;
    const char *name = k->features[(uintptr_t)value - 1].name;
    return strlen(name) == k->len && memcmp(name, k->name, k->len) == 0;
}

static int32_t av_feature_of(const av_state_t *st, const char *name, size_t len)
{
    av_name_key_t key = {name, len, st->features};
    void *v = av_map_find(&st->names, av_hash(name, len), av_name_is, &key);
    return v != NULL ? (int32_t)((uintptr_t)v - 1) : -1;
}

static int av_is_output(const av_state_t *st, const char *name, size_t len)
{
    for (size_t o = 0; o < st->n_outputs; o++)
        if (strlen(st->outputs[o].name) == len && memcmp(st->outputs[o].name, name, len) == 0)
            return 1;
    return 0;
}

static void av_out_free(void *value)
{
    av_out_t *o = value;
    free(o->key);
    free(o->text);
    avs_schema_free(o->schema);
    free(o->subject);
    free(o->failure);
    free(o);
}

static void av_writer_free(void *value)
{
    av_writer_t *w = value;
    avs_schema_free(w->schema);
    free(w->failure);
    free(w->slot);
    free(w->dropped);
    free(w);
}

/* Up to 64 bytes of a name for a message. */
static int av_shown_len(size_t len)
{
    return (int)(len > 64 ? 64 : len);
}

static symtask_status_t av_nomem(char *errstr, size_t errstr_size)
{
    snprintf(errstr, errstr_size, "avro serializer: out of memory");
    return SYMTASK_ERR_FATAL;
}

/* What a registry result means for a record: RETRIABLE while no registry answers, FATAL
 * when it refuses the credentials or is none, RECORD otherwise. */
static symtask_status_t av_status_of(reg_result_t res)
{
    switch (res) {
    case REG_OK:
        return SYMTASK_OK;
    case REG_DOWN:
        return SYMTASK_ERR_RETRIABLE;
    case REG_DENIED:
    case REG_BROKEN:
        return SYMTASK_ERR_FATAL;
    default:
        return SYMTASK_ERR_RECORD;
    }
}

/* ---- Reading records ---------------------------------------------------------------------- */

/* The header of a Confluent Avro record: *@id, and @r over the Avro body. */
static symtask_status_t av_frame(const symtask_record_t *record, int32_t *id, avs_reader_t *r,
                                 char *errstr, size_t errstr_size)
{
    const uint8_t *b = record->value;
    if (record->len < 5) {
        snprintf(errstr, errstr_size,
                 "not a Confluent Avro record: %zu byte%s, fewer than the 5 of its header (magic "
                 "byte 0 and the schema id)",
                 record->len, record->len == 1 ? "" : "s");
        return SYMTASK_ERR_RECORD;
    }
    *id = (int32_t)((uint32_t)b[1] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 8 | b[4]);
    if (b[0] != 0) {
        snprintf(errstr, errstr_size,
                 "not a Confluent Avro record: its magic byte is 0x%02x, not 0 (the schema id "
                 "after it would be %ld)",
                 b[0], (long)*id);
        return SYMTASK_ERR_RECORD;
    }
    *r = (avs_reader_t){.base = b, .p = b + 5, .end = b + record->len};
    return SYMTASK_OK;
}

/* The message of a record whose bytes @r could not read in @field (NULL: after the last). */
static symtask_status_t av_malformed(const av_writer_t *w, const avs_field_t *field,
                                     const avs_reader_t *r, char *errstr, size_t errstr_size)
{
    size_t at = (size_t)(r->at - r->base), len = (size_t)(r->end - r->base);
    if (strcmp(r->why, "truncated") == 0)
        snprintf(errstr, errstr_size,
                 "schema id %ld: the record is truncated: field '%.*s' goes past its end (%zu "
                 "bytes)",
                 (long)w->id, av_shown_len(field->name_len), field->name, len);
    else
        snprintf(errstr, errstr_size,
                 "schema id %ld: field '%.*s' holds %s at byte %zu of %zu: the record does not "
                 "match its schema",
                 (long)w->id, av_shown_len(field->name_len), field->name, r->why, at, len);
    return SYMTASK_ERR_RECORD;
}

static symtask_status_t av_trailing(const av_writer_t *w, const avs_reader_t *r, char *errstr,
                                    size_t errstr_size)
{
    snprintf(errstr, errstr_size,
             "schema id %ld: %zu byte%s after the end of the record (%zu bytes): it does not "
             "match its schema",
             (long)w->id, (size_t)(r->end - r->p), r->end - r->p == 1 ? "" : "s",
             (size_t)(r->end - r->base));
    return SYMTASK_ERR_RECORD;
}

/* Which bound feature each top-level field of @w is, and which fields the declared outputs
 * replace. */
static int av_writer_bind(av_state_t *st, av_writer_t *w)
{
    const avs_node_t *root = w->schema->root;
    size_t n = root->n_fields;
    w->slot = malloc((n ? n : 1) * sizeof(*w->slot));
    w->dropped = calloc(n ? n : 1, sizeof(*w->dropped));
    if (w->slot == NULL || w->dropped == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const avs_field_t *f = &root->fields[i];
        w->slot[i] = av_feature_of(st, f->name, f->name_len);
        w->dropped[i] = (uint8_t)av_is_output(st, f->name, f->name_len);
        w->collides |= w->dropped[i];
    }
    return 0;
}

/* The writer schema of id @id: from memory, or from the registry. */
static symtask_status_t av_writer_get(av_state_t *st, int32_t id, av_writer_t **out, char *errstr,
                                      size_t errstr_size)
{
    av_writer_t *w = st->last;
    if (w == NULL || w->id != id)
        w = av_map_find(&st->writers, av_hash(&id, sizeof(id)), av_writer_is, &id);
    if (w != NULL && w->schema != NULL) {
        *out = st->last = w;
        return SYMTASK_OK;
    }
    if (w != NULL && av_now_ms() < w->retry_at_ms) {
        snprintf(errstr, errstr_size, "%s", w->failure);
        return SYMTASK_ERR_RECORD;
    }
    if (w == NULL) {
        if (st->writers.count >= AV_CACHE_MAX) {
            snprintf(errstr, errstr_size,
                     "schema id %ld: the topic's records have more than %d schema ids, more than "
                     "this serializer holds",
                     (long)id, AV_CACHE_MAX);
            return SYMTASK_ERR_RECORD;
        }
        if ((w = calloc(1, sizeof(*w))) == NULL)
            return av_nomem(errstr, errstr_size);
        w->id = id;
        if (av_map_put(&st->writers, av_hash(&id, sizeof(id)), w) != 0) {
            free(w);
            return av_nomem(errstr, errstr_size);
        }
    }

    char msg[1024], why[512];
    char *text = NULL;
    reg_result_t res = registry_schema(st->registry, id, &text, msg, sizeof(msg));
    if (res == REG_OK) {
        avs_schema_t *s = avs_schema_parse(text, strlen(text), why, sizeof(why));
        free(text);
        if (s == NULL) {
            snprintf(msg, sizeof(msg), "schema id %ld from the registry is %s", (long)id, why);
            res = REG_NOT_FOUND;
        } else if (s->root->kind != AVS_RECORD) {
            snprintf(msg, sizeof(msg),
                     "schema id %ld is no record schema: the avro serializer reads records of "
                     "fields",
                     (long)id);
            avs_schema_free(s);
            res = REG_NOT_FOUND;
        } else {
            w->schema = s;
            if (av_writer_bind(st, w) != 0)
                return av_nomem(errstr, errstr_size);
            free(w->failure);
            w->failure = NULL;
            *out = st->last = w;
            return SYMTASK_OK;
        }
    } else if (res == REG_NOT_FOUND) {
        char reason[900];
        snprintf(reason, sizeof(reason), "%.899s", msg);
        snprintf(msg, sizeof(msg), "schema id %ld is unknown: %s", (long)id, reason);
    }
    symtask_status_t status = av_status_of(res);
    snprintf(errstr, errstr_size, "%s", msg);
    if (status == SYMTASK_ERR_RECORD) {
        free(w->failure);
        w->failure = strdup(msg);
        w->retry_at_ms = av_now_ms() + AV_RETRY_MS;
        if (w->failure == NULL)
            return av_nomem(errstr, errstr_size);
    }
    return status;
}

static symtask_status_t av_decode(void *state, const symtask_record_t *record, double *features,
                                  char *errstr, size_t errstr_size)
{
    av_state_t *st = state;
    avs_reader_t r;
    int32_t id;
    av_writer_t *w;
    symtask_status_t status = av_frame(record, &id, &r, errstr, errstr_size);
    if (status != SYMTASK_OK || (status = av_writer_get(st, id, &w, errstr, errstr_size)) != 0)
        return status;

    const avs_node_t *root = w->schema->root;
    const avs_field_t *fields = root->fields;
    const char *bad_kind = NULL;
    size_t bad_field = 0, nonfinite = SIZE_MAX;
    for (size_t f = 0; f < st->n_features; f++)
        features[f] = NAN;
    for (size_t i = 0; i < root->n_fields; i++) {
        int32_t slot = w->slot[i];
        if (slot < 0) {
            if (avs_skip(&r, fields[i].type, 0) != 0)
                return av_malformed(w, &fields[i], &r, errstr, errstr_size);
            continue;
        }
        double v;
        const char *kind;
        int rc = avs_read_number(&r, fields[i].type, &v, &kind);
        if (rc < 0)
            return av_malformed(w, &fields[i], &r, errstr, errstr_size);
        if (rc == 1) {
            if (bad_kind == NULL)
                bad_kind = kind, bad_field = i;
            continue;
        }
        if (rc == 0 && !isfinite(v) && (size_t)slot < nonfinite)
            nonfinite = (size_t)slot;
        for (; slot >= 0; slot = st->feature_next[slot])
            features[slot] = v;
    }
    if (r.p != r.end)
        return av_trailing(w, &r, errstr, errstr_size);
    /* the worker's messages for the same record read through decode_fields() */
    if (bad_kind != NULL) {
        snprintf(errstr, errstr_size, "feature '%.64s' is %s, not a number",
                 st->features[w->slot[bad_field]].name, bad_kind);
        return SYMTASK_ERR_RECORD;
    }
    if (nonfinite != SIZE_MAX) {
        snprintf(errstr, errstr_size, "feature '%.64s' is %g, not a finite number",
                 st->features[nonfinite].name, features[nonfinite]);
        return SYMTASK_ERR_RECORD;
    }
    return SYMTASK_OK;
}

static symtask_status_t av_decode_fields(void *state, const symtask_record_t *record,
                                         symtask_arena_t *arena, symtask_fields_t *fields,
                                         char *errstr, size_t errstr_size)
{
    av_state_t *st = state;
    avs_reader_t r;
    int32_t id;
    av_writer_t *w;
    symtask_status_t status = av_frame(record, &id, &r, errstr, errstr_size);
    if (status != SYMTASK_OK || (status = av_writer_get(st, id, &w, errstr, errstr_size)) != 0)
        return status;

    const avs_node_t *root = w->schema->root;
    symtask_field_t *items =
        st->host->arena_alloc(arena, (root->n_fields ? root->n_fields : 1) * sizeof(*items));
    if (items == NULL)
        return av_nomem(errstr, errstr_size);
    for (size_t i = 0; i < root->n_fields; i++) {
        const avs_field_t *f = &root->fields[i];
        items[i].name = f->name;
        items[i].name_len = f->name_len;
        int rc = avs_read_value(&r, f->type, st->host, arena, &st->scratch, &items[i].value);
        if (rc == -2)
            return av_nomem(errstr, errstr_size);
        if (rc != 0)
            return av_malformed(w, f, &r, errstr, errstr_size);
    }
    if (r.p != r.end)
        return av_trailing(w, &r, errstr, errstr_size);
    *fields = (symtask_fields_t){items, root->n_fields};
    return SYMTASK_OK;
}

/* ---- Output schemas ----------------------------------------------------------------------- */

/* The Avro type of an output field holding values of @type. */
static json_t *av_output_type(symtask_type_t type)
{
    switch (type) {
    case SYMTASK_TYPE_NUMBER:
        return json_string("double");
    case SYMTASK_TYPE_BOOL:
        return json_string("boolean");
    case SYMTASK_TYPE_NESTED:
        return json_pack("{s:s, s:b}", "type", "string", "symtask.json", 1);
    default:
        return json_string("string");
    }
}

/* {"name": name, "type": ["null", T], "default": null}: optional, so that consumers of the
 * schema without it read records with it and the other way round. */
static json_t *av_optional_field(const char *name, size_t len, json_t *type)
{
    json_t *f = json_object(), *u = json_array();
    if (f == NULL || u == NULL || type == NULL ||
        json_object_set_new(f, "name", json_stringn(name, len)) ||
        json_array_append_new(u, json_string("null")) || json_array_append_new(u, type) ||
        json_object_set_new(f, "type", u) || json_object_set_new(f, "default", json_null())) {
        json_decref(f);
        json_decref(u);
        return NULL;
    }
    return f;
}

/* The letter of a value type in a key. */
static char av_type_letter(symtask_type_t type)
{
    switch (type) {
    case SYMTASK_TYPE_NUMBER:
        return 'n';
    case SYMTASK_TYPE_BOOL:
        return 'b';
    case SYMTASK_TYPE_STRING:
        return 's';
    case SYMTASK_TYPE_NESTED:
        return 'j';
    default:
        return '0';
    }
}

/* Appends to the key in st->key the outputs beyond the declared ones: ",name:t" each. */
static int av_key_dynamic(av_state_t *st, const symtask_fields_t *outputs)
{
    for (size_t i = st->n_outputs; outputs != NULL && i < outputs->count; i++) {
        const symtask_field_t *f = &outputs->items[i];
        char t[3] = {':', av_type_letter(f->value.type), '|'};
        if (avs_buf_add(&st->key, f->name, f->name_len) != 0 || avs_buf_add(&st->key, t, 3) != 0)
            return -1;
    }
    return avs_buf_add(&st->key, "", 1); /* its NUL */
}

/* The subject of output schema @o (named by its record's full name @fullname). */
static char *av_subject(const av_state_t *st, const char *fullname)
{
    char *s = NULL;
    int rc = -1;
    switch (st->strategy) {
    case AV_TOPIC_NAME:
        rc = asprintf(&s, "%s-value", st->sink);
        break;
    case AV_RECORD_NAME:
        rc = asprintf(&s, "%s", fullname);
        break;
    case AV_TOPIC_RECORD_NAME:
        rc = asprintf(&s, "%s-%s", st->sink, fullname);
        break;
    }
    return rc < 0 ? NULL : s;
}

/* Registers (or, with auto-register off, looks up) output schema @o. */
static symtask_status_t av_out_resolve(av_state_t *st, av_out_t *o, const char *source,
                                       char *errstr, size_t errstr_size)
{
    char msg[1024];
    if (o->id >= 0)
        return SYMTASK_OK;
    if (o->failure != NULL && av_now_ms() < o->retry_at_ms) {
        snprintf(errstr, errstr_size, "%s", o->failure);
        return SYMTASK_ERR_RECORD;
    }
    reg_result_t res =
        st->auto_register
            ? registry_register(st->registry, o->subject, o->text, &o->id, msg, sizeof(msg))
            : registry_lookup(st->registry, o->subject, o->text, &o->id, msg, sizeof(msg));
    if (res == REG_OK) {
        st->host->log(SYMTASK_LOG_INFO, "avro: the sink's records for %s have schema id %ld (%s)",
                      source, (long)o->id, o->subject);
        free(o->failure);
        o->failure = NULL;
        return SYMTASK_OK;
    }
    o->id = -1;
    char full[1400];
    if (res == REG_NOT_FOUND && !st->auto_register) {
        snprintf(full, sizeof(full),
                 "the sink's schema for %s is not registered under subject %s (%s); "
                 "sml.serializer.auto.register.schemas is false: register it (the task's log "
                 "shows it) or set it to true",
                 source, o->subject, msg);
        st->host->log(SYMTASK_LOG_WARN, "avro: the sink's schema for %s, to register under %s: %s",
                      source, o->subject, o->text);
    } else if (res == REG_REFUSED || res == REG_NOT_FOUND) {
        snprintf(full, sizeof(full), "the sink's schema for %s cannot be registered under %s: %s",
                 source, o->subject, msg);
    } else {
        snprintf(full, sizeof(full), "%s", msg);
    }
    snprintf(errstr, errstr_size, "%s", full);
    symtask_status_t status = av_status_of(res);
    if (status == SYMTASK_ERR_RECORD) {
        free(o->failure);
        if ((o->failure = strdup(full)) == NULL)
            return av_nomem(errstr, errstr_size);
        o->retry_at_ms = av_now_ms() + AV_RETRY_MS;
    }
    return status;
}

/* The output schema for the key in st->key (with its NUL): @base (a schema's JSON, a new
 * reference) with @fields_json as its fields, when the key is new. */
static symtask_status_t av_out_get(av_state_t *st, json_t *fields_json, json_t *base,
                                   size_t n_outputs, av_out_t **out, char *errstr,
                                   size_t errstr_size)
{
    av_key_t key = {st->key.data, st->key.len - 1};
    uint64_t h = av_hash(key.data, key.len);
    av_out_t *o = av_map_find(&st->outs, h, av_out_is, &key);
    if (o != NULL) {
        json_decref(base);
        *out = o;
        return SYMTASK_OK;
    }
    if (st->outs.count >= AV_CACHE_MAX) {
        json_decref(base);
        snprintf(errstr, errstr_size,
                 "more than %d output schemas: the records' fields vary too much for schemas "
                 "derived from them; give one (sml.serializer.out.schema)",
                 AV_CACHE_MAX);
        return SYMTASK_ERR_RECORD;
    }
    char why[512];
    o = calloc(1, sizeof(*o));
    if (o == NULL || (o->key = malloc(st->key.len)) == NULL) {
        free(o);
        json_decref(base);
        return av_nomem(errstr, errstr_size);
    }
    memcpy(o->key, st->key.data, st->key.len);
    o->key_len = key.len;
    o->id = -1;
    o->n_outputs = n_outputs;
    json_object_set(base, "fields", fields_json);
    o->text = json_dumps(base, JSON_COMPACT);
    json_decref(base);
    if (o->text == NULL) {
        av_out_free(o);
        return av_nomem(errstr, errstr_size);
    }
    /* Avro C checks what we built, as the registry will */
    o->schema = avs_schema_parse(o->text, strlen(o->text), why, sizeof(why));
    if (o->schema == NULL) {
        snprintf(errstr, errstr_size, "the output schema is %s: %.300s", why, o->text);
        av_out_free(o);
        return SYMTASK_ERR_RECORD;
    }
    o->subject = av_subject(st, avs_record_fullname(o->schema));
    if (o->subject == NULL || av_map_put(&st->outs, h, o) != 0) {
        av_out_free(o);
        return av_nomem(errstr, errstr_size);
    }
    *out = o;
    return SYMTASK_OK;
}

/* Checks that the outputs beyond the declared ones have Avro names. */
static symtask_status_t av_check_dynamic(const av_state_t *st, const symtask_fields_t *outputs,
                                         char *errstr, size_t errstr_size)
{
    for (size_t i = st->n_outputs; i < outputs->count; i++) {
        const symtask_field_t *f = &outputs->items[i];
        if (!avs_name_valid(f->name, f->name_len)) {
            snprintf(errstr, errstr_size,
                     "output '%.*s' is no Avro field name (letters, digits and _, not a digit "
                     "first)",
                     av_shown_len(f->name_len), f->name);
            return SYMTASK_ERR_RECORD;
        }
    }
    return SYMTASK_OK;
}

/* The outputs as fields of a schema, appended to @fields (a JSON array), skipping those
 * @skip already holds. */
static int av_append_outputs(const av_state_t *st, json_t *fields, const symtask_fields_t *outputs,
                             size_t n, const avs_schema_t *skip)
{
    for (size_t i = 0; i < n; i++) {
        const char *name = i < st->n_outputs ? st->outputs[i].name : outputs->items[i].name;
        size_t len = i < st->n_outputs ? strlen(name) : outputs->items[i].name_len;
        if (skip != NULL) {
            const avs_node_t *root = skip->root;
            size_t k = 0;
            while (k < root->n_fields && !(root->fields[k].name_len == len &&
                                           memcmp(root->fields[k].name, name, len) == 0))
                k++;
            if (k < root->n_fields)
                continue;
        }
        symtask_type_t type =
            i < st->n_outputs ? st->outputs[i].type : outputs->items[i].value.type;
        json_t *f = av_optional_field(name, len, av_output_type(type));
        if (f == NULL || json_array_append_new(fields, f) != 0)
            return -1;
    }
    return 0;
}

/* The output schema of records of writer @w with @outputs (NULL: the declared ones only). */
static symtask_status_t av_out_of_writer(av_state_t *st, av_writer_t *w,
                                         const symtask_fields_t *outputs, av_out_t **out,
                                         char *errstr, size_t errstr_size)
{
    int dynamic = outputs != NULL && outputs->count > st->n_outputs;
    if (!dynamic && w->out != NULL && w->out->id >= 0) {
        *out = w->out; /* the usual case: known and registered */
        return SYMTASK_OK;
    }
    char source[64];
    snprintf(source, sizeof(source), "records of schema id %ld", (long)w->id);
    if (!dynamic && w->out != NULL) {
        *out = w->out;
        return av_out_resolve(st, w->out, source, errstr, errstr_size);
    }
    if (dynamic && av_check_dynamic(st, outputs, errstr, errstr_size) != SYMTASK_OK)
        return SYMTASK_ERR_RECORD;
    char head[32];
    size_t n = dynamic ? outputs->count : st->n_outputs;
    st->key.len = 0;
    snprintf(head, sizeof(head), "w%ld|", (long)w->id);
    if (avs_buf_add(&st->key, head, strlen(head)) != 0 ||
        av_key_dynamic(st, dynamic ? outputs : NULL) != 0)
        return av_nomem(errstr, errstr_size);
    av_key_t key = {st->key.data, st->key.len - 1};
    av_out_t *known = av_map_find(&st->outs, av_hash(key.data, key.len), av_out_is, &key);
    if (known != NULL) { /* outputs named at run time, as a record before had them */
        *out = known;
        return av_out_resolve(st, known, source, errstr, errstr_size);
    }
    json_t *base = json_deep_copy(w->schema->json), *fields = json_array();
    if (base == NULL || fields == NULL) {
        json_decref(base);
        json_decref(fields);
        return av_nomem(errstr, errstr_size);
    }
    /* the source's fields but those an output replaces, then the outputs */
    size_t i;
    json_t *f;
    json_array_foreach (json_object_get(base, "fields"), i, f) {
        const char *name = json_string_value(json_object_get(f, "name"));
        int replaced = name != NULL && av_is_output(st, name, strlen(name));
        for (size_t k = st->n_outputs; !replaced && dynamic && k < outputs->count; k++)
            replaced = name != NULL && strlen(name) == outputs->items[k].name_len &&
                       memcmp(name, outputs->items[k].name, outputs->items[k].name_len) == 0;
        if (!replaced && json_array_append(fields, f) != 0)
            goto nomem;
    }
    if (av_append_outputs(st, fields, outputs, n, NULL) != 0)
        goto nomem;
    symtask_status_t status = av_out_get(st, fields, base, n, out, errstr, errstr_size);
    json_decref(fields);
    if (status != SYMTASK_OK)
        return status;
    if (!dynamic)
        w->out = *out;
    return av_out_resolve(st, *out, source, errstr, errstr_size);
nomem:
    json_decref(base);
    json_decref(fields);
    return av_nomem(errstr, errstr_size);
}

/* ---- Writing records ---------------------------------------------------------------------- */

static int av_add(av_state_t *st, symtask_buf_t *out, const void *data, size_t len)
{
    return st->host->buf_append(out, data, len);
}

static int av_header(av_state_t *st, symtask_buf_t *out, int32_t id)
{
    uint8_t h[5] = {0, (uint8_t)((uint32_t)id >> 24), (uint8_t)((uint32_t)id >> 16),
                    (uint8_t)((uint32_t)id >> 8), (uint8_t)id};
    return av_add(st, out, h, 5);
}

/* The source record's body, without the fields an output replaces. */
static symtask_status_t av_copy_body(av_state_t *st, const av_writer_t *w, avs_reader_t *r,
                                     const symtask_fields_t *outputs, symtask_buf_t *out,
                                     char *errstr, size_t errstr_size)
{
    int dynamic = outputs != NULL && outputs->count > st->n_outputs;
    if (!w->collides && !dynamic) {
        if (av_add(st, out, r->p, (size_t)(r->end - r->p)) != 0)
            return av_nomem(errstr, errstr_size);
        return SYMTASK_OK;
    }
    const avs_node_t *root = w->schema->root;
    for (size_t i = 0; i < root->n_fields; i++) {
        const avs_field_t *f = &root->fields[i];
        const uint8_t *start = r->p;
        if (avs_skip(r, f->type, 0) != 0)
            return av_malformed(w, f, r, errstr, errstr_size);
        int replaced = w->dropped[i];
        for (size_t k = st->n_outputs; !replaced && dynamic && k < outputs->count; k++)
            replaced = f->name_len == outputs->items[k].name_len &&
                       memcmp(f->name, outputs->items[k].name, f->name_len) == 0;
        if (!replaced && av_add(st, out, start, (size_t)(r->p - start)) != 0)
            return av_nomem(errstr, errstr_size);
    }
    if (r->p != r->end)
        return av_trailing(w, r, errstr, errstr_size);
    return SYMTASK_OK;
}

static symtask_status_t av_encode(void *state, const symtask_record_t *record,
                                  const double *outputs, symtask_buf_t *out, char *errstr,
                                  size_t errstr_size)
{
    av_state_t *st = state;
    avs_reader_t r;
    int32_t id;
    av_writer_t *w;
    av_out_t *o;
    symtask_status_t status = av_frame(record, &id, &r, errstr, errstr_size);
    if (status != SYMTASK_OK || (status = av_writer_get(st, id, &w, errstr, errstr_size)) != 0 ||
        (status = av_out_of_writer(st, w, NULL, &o, errstr, errstr_size)) != 0)
        return status;
    if (av_header(st, out, o->id) != 0)
        return av_nomem(errstr, errstr_size);
    if ((status = av_copy_body(st, w, &r, NULL, out, errstr, errstr_size)) != SYMTASK_OK)
        return status;
    /* each output: ["null", "double"], branch 1 (zigzag 2) and the double, or null */
    uint8_t tail[9 * 64];
    size_t n = 0;
    for (size_t i = 0; i < st->n_outputs; i++) {
        if (n + 9 > sizeof(tail)) {
            if (av_add(st, out, tail, n) != 0)
                return av_nomem(errstr, errstr_size);
            n = 0;
        }
        double v = outputs[i];
        if (!isfinite(v)) {
            tail[n++] = 0;
            continue;
        }
        uint64_t u;
        memcpy(&u, &v, sizeof(u));
        tail[n++] = 2;
        for (int b = 0; b < 8; b++)
            tail[n++] = (uint8_t)(u >> (8 * b));
    }
    if (av_add(st, out, tail, n) != 0)
        return av_nomem(errstr, errstr_size);
    return SYMTASK_OK;
}

/* Appends the encoding of the outputs, the last fields of @o. */
static symtask_status_t av_write_outputs(av_state_t *st, const av_out_t *o,
                                         const symtask_fields_t *outputs, symtask_buf_t *out,
                                         char *errstr, size_t errstr_size)
{
    const avs_node_t *root = o->schema->root;
    char why[512];
    st->body.len = 0;
    for (size_t i = 0; i < outputs->count; i++) {
        const symtask_field_t *f = &outputs->items[i];
        const avs_field_t *field = &root->fields[root->n_fields - o->n_outputs + i];
        symtask_value_t v = f->value;
        if (v.type == SYMTASK_TYPE_NUMBER && !isfinite(v.number))
            v = symtask_value_missing();
        int rc = avs_write_value(&st->body, field->type, &v, why, sizeof(why));
        if (rc == -2)
            return av_nomem(errstr, errstr_size);
        if (rc != 0) {
            snprintf(errstr, errstr_size, "output '%.*s' %s", av_shown_len(f->name_len), f->name,
                     why);
            return SYMTASK_ERR_RECORD;
        }
    }
    if (av_add(st, out, st->body.data, st->body.len) != 0)
        return av_nomem(errstr, errstr_size);
    return SYMTASK_OK;
}

/* The sanitized sink topic: the name of a record derived from fields. */
static json_t *av_derived_base(const av_state_t *st)
{
    char name[256];
    size_t n = 0;
    const char *sink = st->sink != NULL ? st->sink : "record";
    if (!((sink[0] >= 'A' && sink[0] <= 'Z') || (sink[0] >= 'a' && sink[0] <= 'z') ||
          sink[0] == '_'))
        name[n++] = '_';
    for (size_t i = 0; sink[i] != '\0' && n + 1 < sizeof(name); i++)
        name[n++] =
            avs_name_valid(sink + i, 1) || (sink[i] >= '0' && sink[i] <= '9') ? sink[i] : '_';
    name[n] = '\0';
    return json_pack("{s:s, s:s, s:s}", "type", "record", "name", name, "namespace", "symtask");
}

/* Whether field @i of @fields is the last of its name and no output takes its name. */
static int av_field_kept(const av_state_t *st, const symtask_fields_t *fields, size_t i,
                         const symtask_fields_t *outputs)
{
    const symtask_field_t *f = &fields->items[i];
    for (size_t k = i + 1; k < fields->count; k++)
        if (fields->items[k].name_len == f->name_len &&
            memcmp(fields->items[k].name, f->name, f->name_len) == 0)
            return 0;
    for (size_t k = 0; k < outputs->count; k++)
        if (outputs->items[k].name_len == f->name_len &&
            memcmp(outputs->items[k].name, f->name, f->name_len) == 0)
            return 0;
    return 1;
}

/* The output schema of records of another format: the schema file with the outputs it lacks,
 * or one derived from the fields' names and types. */
static symtask_status_t av_out_of_fields(av_state_t *st, const symtask_fields_t *fields,
                                         const symtask_fields_t *outputs, av_out_t **out,
                                         char *errstr, size_t errstr_size)
{
    int dynamic = outputs->count > st->n_outputs;
    if (dynamic && av_check_dynamic(st, outputs, errstr, errstr_size) != SYMTASK_OK)
        return SYMTASK_ERR_RECORD;
    /* the key: the file's and the outputs' beyond the declared ones, or each field's name
     * and type too */
    st->key.len = 0;
    if (avs_buf_add(&st->key, st->file_schema != NULL ? "f|" : "d|", 2) != 0)
        return av_nomem(errstr, errstr_size);
    for (size_t i = 0; st->file_schema == NULL && i < fields->count; i++) {
        const symtask_field_t *f = &fields->items[i];
        if (!av_field_kept(st, fields, i, outputs))
            continue;
        char t[2] = {':', av_type_letter(f->value.type)};
        if (avs_buf_add(&st->key, f->name, f->name_len) != 0 || avs_buf_add(&st->key, t, 2) != 0 ||
            avs_buf_add(&st->key, ",", 1) != 0)
            return av_nomem(errstr, errstr_size);
    }
    if (avs_buf_add(&st->key, "|", 1) != 0 || av_key_dynamic(st, outputs) != 0)
        return av_nomem(errstr, errstr_size);
    av_key_t key = {st->key.data, st->key.len - 1};
    av_out_t *known = av_map_find(&st->outs, av_hash(key.data, key.len), av_out_is, &key);
    if (known != NULL) {
        *out = known;
        return av_out_resolve(st, known, "records of another format", errstr, errstr_size);
    }

    json_t *base, *schema_fields = json_array();
    if (schema_fields == NULL)
        return av_nomem(errstr, errstr_size);
    if (st->file_schema != NULL) {
        base = json_deep_copy(st->file_schema->json);
        if (base == NULL ||
            json_array_extend(schema_fields, json_object_get(base, "fields")) != 0 ||
            av_append_outputs(st, schema_fields, outputs, outputs->count, st->file_schema) != 0) {
            json_decref(base);
            goto nomem;
        }
    } else {
        for (size_t i = 0; i < fields->count; i++) {
            const symtask_field_t *f = &fields->items[i];
            if (!av_field_kept(st, fields, i, outputs))
                continue;
            if (!avs_name_valid(f->name, f->name_len)) {
                json_decref(schema_fields);
                snprintf(errstr, errstr_size,
                         "field '%.*s' is no Avro field name (letters, digits and _, not a digit "
                         "first): give the sink's schema as a file (sml.serializer.out.schema), "
                         "or name the field so",
                         av_shown_len(f->name_len), f->name);
                return SYMTASK_ERR_RECORD;
            }
            json_t *type = f->value.type == SYMTASK_TYPE_MISSING ? json_string("null")
                                                                 : av_output_type(f->value.type);
            json_t *jf = f->value.type == SYMTASK_TYPE_MISSING
                             ? json_pack("{s:s#, s:o, s:n}", "name", f->name, f->name_len, "type",
                                         type, "default")
                             : av_optional_field(f->name, f->name_len, type);
            if (jf == NULL || json_array_append_new(schema_fields, jf) != 0)
                goto nomem;
        }
        if (av_append_outputs(st, schema_fields, outputs, outputs->count, NULL) != 0)
            goto nomem;
        base = av_derived_base(st);
        if (base == NULL)
            goto nomem;
    }
    /* written field by field by name (av_write_fields), outputs or not */
    symtask_status_t status = av_out_get(st, schema_fields, base, 0, out, errstr, errstr_size);
    json_decref(schema_fields);
    if (status != SYMTASK_OK)
        return status;
    return av_out_resolve(st, *out, "records of another format", errstr, errstr_size);
nomem:
    json_decref(schema_fields);
    return av_nomem(errstr, errstr_size);
}

/* The value of field @name for a record of another format: an output, else the record's
 * last field of that name; NULL when neither has it. */
static const symtask_value_t *av_value_of(const symtask_fields_t *fields,
                                          const symtask_fields_t *outputs, const avs_field_t *f)
{
    for (size_t k = 0; k < outputs->count; k++)
        if (outputs->items[k].name_len == f->name_len &&
            memcmp(outputs->items[k].name, f->name, f->name_len) == 0)
            return &outputs->items[k].value;
    for (size_t k = fields->count; k-- > 0;)
        if (fields->items[k].name_len == f->name_len &&
            memcmp(fields->items[k].name, f->name, f->name_len) == 0)
            return &fields->items[k].value;
    return NULL;
}

/* Writes a record of another format's fields with output schema @o. */
static symtask_status_t av_write_fields(av_state_t *st, const av_out_t *o,
                                        const symtask_fields_t *fields,
                                        const symtask_fields_t *outputs, symtask_buf_t *out,
                                        char *errstr, size_t errstr_size)
{
    const avs_node_t *root = o->schema->root;
    char why[512];
    st->body.len = 0;
    for (size_t i = 0; i < root->n_fields; i++) {
        const avs_field_t *f = &root->fields[i];
        const symtask_value_t *v = av_value_of(fields, outputs, f);
        symtask_value_t missing = symtask_value_missing(), finite;
        int rc;
        if (v != NULL && v->type == SYMTASK_TYPE_NUMBER && !isfinite(v->number) &&
            f->type->kind == AVS_UNION) {
            finite = symtask_value_missing(); /* a non-finite output or field is missing */
            v = &finite;
        }
        if (v == NULL && f->default_value != NULL)
            rc = avs_write_json(&st->body, f->type, f->default_value, 0, why, sizeof(why));
        else
            rc = avs_write_value(&st->body, f->type, v != NULL ? v : &missing, why, sizeof(why));
        if (rc == -2)
            return av_nomem(errstr, errstr_size);
        if (rc != 0) {
            if (v == NULL && f->default_value == NULL)
                snprintf(errstr, errstr_size,
                         "field '%.*s' of the sink's schema is missing from the record, and the "
                         "schema gives it no default",
                         av_shown_len(f->name_len), f->name);
            else
                snprintf(errstr, errstr_size, "field '%.*s' %s", av_shown_len(f->name_len), f->name,
                         why);
            return SYMTASK_ERR_RECORD;
        }
    }
    if (av_header(st, out, o->id) != 0 || av_add(st, out, st->body.data, st->body.len) != 0)
        return av_nomem(errstr, errstr_size);
    return SYMTASK_OK;
}

static symtask_status_t av_encode_fields(void *state, const symtask_record_t *record,
                                         const symtask_fields_t *fields,
                                         const symtask_fields_t *outputs, symtask_arena_t *arena,
                                         symtask_buf_t *out, char *errstr, size_t errstr_size)
{
    av_state_t *st = state;
    av_out_t *o;
    symtask_status_t status;

    if (record == NULL) {
        status = av_out_of_fields(st, fields, outputs, &o, errstr, errstr_size);
        if (status != SYMTASK_OK)
            return status;
        return av_write_fields(st, o, fields, outputs, out, errstr, errstr_size);
    }
    /* the source is Avro, read by this instance: its bytes, then the outputs */
    avs_reader_t r;
    int32_t id;
    av_writer_t *w;
    if ((status = av_frame(record, &id, &r, errstr, errstr_size)) != SYMTASK_OK ||
        (status = av_writer_get(st, id, &w, errstr, errstr_size)) != SYMTASK_OK ||
        (status = av_out_of_writer(st, w, outputs, &o, errstr, errstr_size)) != SYMTASK_OK)
        return status;
    if (av_header(st, out, o->id) != 0)
        return av_nomem(errstr, errstr_size);
    if ((status = av_copy_body(st, w, &r, outputs, out, errstr, errstr_size)) != SYMTASK_OK)
        return status;
    return av_write_outputs(st, o, outputs, out, errstr, errstr_size);
}

/* ---- The instance ------------------------------------------------------------------------- */

static const symtask_option_t av_options[] = {
    {"schema.registry.url", SYMTASK_OPTION_LIST, NULL, 1,
     "The schema registry's URLs (http:// or https://), comma-separated, tried in order: "
     "records' schemas are fetched from it and the sink's registered in it."},
    {"schema.registry.basic.auth.user.info", SYMTASK_OPTION_STRING, NULL, 0,
     "user:password for HTTP basic authentication with the registry (secret: never shown)."},
    {"schema.registry.ssl.ca.location", SYMTASK_OPTION_PATH, NULL, 0,
     "CA certificates (PEM file) that an https registry's certificate must chain to; default: "
     "the system's."},
    {"schema.registry.request.timeout.ms", SYMTASK_OPTION_INT, "5000", 0,
     "How long one request to the registry may take, 1 to 25000 ms; a registry that does not "
     "answer in time is tried again with backoff, the records waiting."},
    {"sml.serializer.registry.check", SYMTASK_OPTION_BOOL, "true", 0,
     "Check at create that the registry answers (400 when it does not); false creates the task "
     "while the registry is down."},
    {"sml.serializer.auto.register.schemas", SYMTASK_OPTION_BOOL, "true", 0,
     "Register the sink's schemas under their subject; false: each must be registered already "
     "(a record whose schema is not goes to the dead letters)."},
    {"sml.serializer.subject.name.strategy", SYMTASK_OPTION_STRING, "TopicNameStrategy", 0,
     "The subject of the sink's schemas: TopicNameStrategy ({sink}-value), RecordNameStrategy "
     "(the record's full name) or TopicRecordNameStrategy ({sink}-{full name})."},
    {"sml.serializer.schema", SYMTASK_OPTION_PATH, NULL, 0,
     "Avro schema (a JSON file, a record) of the sink's records when the source is in another "
     "format (as sml.serializer.out.schema); default: derived from each record's fields."},
    {NULL},
};

static void av_destroy(void *state)
{
    av_state_t *st = state;
    if (st == NULL)
        return;
    registry_free(st->registry);
    avs_schema_free(st->file_schema);
    av_map_free(&st->writers, av_writer_free);
    av_map_free(&st->outs, av_out_free);
    av_map_free(&st->names, NULL);
    free(st->feature_next);
    avs_buf_free(&st->scratch);
    avs_buf_free(&st->body);
    avs_buf_free(&st->key);
    free(st);
}

static int av_strategy_of(const char *s, av_strategy_t *out)
{
    static const char prefix[] = "io.confluent.kafka.serializers.subject.";
    if (strncmp(s, prefix, sizeof(prefix) - 1) == 0)
        s += sizeof(prefix) - 1;
    if (strcmp(s, "TopicNameStrategy") == 0)
        *out = AV_TOPIC_NAME;
    else if (strcmp(s, "RecordNameStrategy") == 0)
        *out = AV_RECORD_NAME;
    else if (strcmp(s, "TopicRecordNameStrategy") == 0)
        *out = AV_TOPIC_RECORD_NAME;
    else
        return -1;
    return 0;
}

static symtask_status_t av_create(const symtask_host_t *host, const symtask_params_t *params,
                                  void **state, char *errstr, size_t errstr_size)
{
    av_state_t *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return av_nomem(errstr, errstr_size);
    st->host = host;
    st->check = strcmp(host->param(params, "sml.serializer.registry.check"), "true") == 0;
    st->auto_register =
        strcmp(host->param(params, "sml.serializer.auto.register.schemas"), "true") == 0;
    st->sink = host->param(params, "sml.kstream.sink.topic");
    st->schema_path = host->param(params, "sml.serializer.schema");
    const char *strategy = host->param(params, "sml.serializer.subject.name.strategy");
    if (av_strategy_of(strategy, &st->strategy) != 0) {
        snprintf(errstr, errstr_size,
                 "params.sml.serializer.subject.name.strategy: '%.64s' is none of "
                 "TopicNameStrategy, RecordNameStrategy, TopicRecordNameStrategy",
                 strategy);
        goto error;
    }
    if (st->strategy != AV_RECORD_NAME && (st->sink == NULL || st->sink[0] == '\0')) {
        snprintf(errstr, errstr_size,
                 "params.sml.kstream.sink.topic: the sink's subject is named after it (%s)",
                 strategy);
        goto error;
    }
    char *end;
    const char *timeout = host->param(params, "schema.registry.request.timeout.ms");
    long timeout_ms = strtol(timeout, &end, 10);
    if (timeout_ms < 1 || timeout_ms > AV_CALL_MAX_MS) {
        snprintf(errstr, errstr_size,
                 "params.schema.registry.request.timeout.ms: '%.32s' is not 1 to %d", timeout,
                 AV_CALL_MAX_MS);
        goto error;
    }
    st->registry = registry_new(host->param(params, "schema.registry.url"),
                                host->param(params, "schema.registry.basic.auth.user.info"),
                                host->param(params, "schema.registry.ssl.ca.location"), timeout_ms,
                                errstr, errstr_size);
    if (st->registry == NULL)
        goto error;
    size_t n_urls = registry_url_count(st->registry);
    if ((long)n_urls * timeout_ms > AV_CALL_MAX_MS) {
        snprintf(errstr, errstr_size,
                 "params.schema.registry.request.timeout.ms: %ld ms for each of the %zu URLs of "
                 "schema.registry.url is more than %d s, too long for one call of the worker "
                 "(task.heartbeat_timeout_ms): lower it",
                 timeout_ms, n_urls, AV_CALL_MAX_MS / 1000);
        goto error;
    }
    *state = st;
    return SYMTASK_OK;
error:
    av_destroy(st);
    return SYMTASK_ERR_FATAL;
}

/* Reads the schema file for the records of another format. */
static symtask_status_t av_load_schema_file(av_state_t *st, const char *key, char *errstr,
                                            size_t errstr_size)
{
    FILE *f = fopen(st->schema_path, "r");
    char why[512];
    avs_buf_t text = {0};
    if (f == NULL) {
        snprintf(errstr, errstr_size, "params.%s: %s cannot be read (%s)", key, st->schema_path,
                 strerror(errno));
        return SYMTASK_ERR_FATAL;
    }
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        if (avs_buf_add(&text, chunk, n) != 0) {
            fclose(f);
            avs_buf_free(&text);
            return av_nomem(errstr, errstr_size);
        }
    fclose(f);
    st->file_schema = avs_schema_parse(text.data ? text.data : "", text.len, why, sizeof(why));
    avs_buf_free(&text);
    if (st->file_schema == NULL) {
        snprintf(errstr, errstr_size, "params.%s: %s is %s", key, st->schema_path, why);
        return SYMTASK_ERR_FATAL;
    }
    if (st->file_schema->root->kind != AVS_RECORD) {
        snprintf(errstr, errstr_size,
                 "params.%s: %s is no record schema: the sink's records are records of fields", key,
                 st->schema_path);
        return SYMTASK_ERR_FATAL;
    }
    return SYMTASK_OK;
}

static symtask_status_t av_bind_typed(void *state, const symtask_binding_t *binding, char *errstr,
                                      size_t errstr_size)
{
    av_state_t *st = state;
    st->roles = binding->roles;
    st->features = binding->features;
    st->n_features = binding->n_features;
    st->outputs = binding->outputs;
    st->n_outputs = binding->n_outputs;
    st->feature_next = malloc((st->n_features ? st->n_features : 1) * sizeof(*st->feature_next));
    if (st->feature_next == NULL)
        return av_nomem(errstr, errstr_size);
    for (size_t f = 0; f < st->n_features; f++) {
        const char *name = st->features[f].name;
        size_t len = strlen(name);
        st->feature_next[f] = -1;
        int32_t first = av_feature_of(st, name, len);
        if (first >= 0) { /* a name listed twice: both get the value */
            while (st->feature_next[first] >= 0)
                first = st->feature_next[first];
            st->feature_next[first] = (int32_t)f;
        } else if (av_map_put(&st->names, av_hash(name, len), (void *)(uintptr_t)(f + 1)) != 0) {
            return av_nomem(errstr, errstr_size);
        }
    }
    if (binding->roles & SYMTASK_ROLE_ENCODE) {
        for (size_t o = 0; o < st->n_outputs; o++) {
            const char *name = st->outputs[o].name;
            if (!avs_name_valid(name, strlen(name))) {
                snprintf(errstr, errstr_size,
                         "output '%.64s' is no Avro field name (letters, digits and _, not a "
                         "digit first), and the avro serializer writes each output as a field",
                         name);
                return SYMTASK_ERR_FATAL;
            }
        }
    }
    /* one instance that reads and writes Avro: the sink's schema is the source's, extended */
    const char *key = binding->roles & SYMTASK_ROLE_DECODE ? "sml.serializer.schema"
                                                           : "sml.serializer.out.schema";
    if (st->schema_path != NULL) {
        if (binding->roles & SYMTASK_ROLE_DECODE) {
            snprintf(errstr, errstr_size,
                     "params.%s: the source is Avro, and the sink's schema is each record's own "
                     "with the outputs added: leave it unset (it is for a source of another "
                     "format, as sml.serializer.out.schema)",
                     key);
            return SYMTASK_ERR_FATAL;
        }
        symtask_status_t status = av_load_schema_file(st, key, errstr, errstr_size);
        if (status != SYMTASK_OK)
            return status;
    }
    if (!st->check)
        return SYMTASK_OK;
    char msg[1024];
    reg_result_t res = registry_ping(st->registry, msg, sizeof(msg));
    if (res == REG_OK)
        return SYMTASK_OK;
    if (res == REG_DOWN)
        snprintf(errstr, errstr_size,
                 "%s: check schema.registry.url, or set sml.serializer.registry.check = false to "
                 "create the task while the registry is down",
                 msg);
    else
        snprintf(errstr, errstr_size, "%s", msg);
    return res == REG_DOWN ? SYMTASK_ERR_RETRIABLE : SYMTASK_ERR_FATAL;
}

static const symtask_plugin_t avro_plugin = {
    SYMTASK_PLUGIN_HEAD(SYMTASK_PLUGIN_SERIALIZER),
    .name = "avro",
    .version = "1.0.0",
    .description = "Avro records in Confluent's wire format, schemas in a Confluent Schema "
                   "Registry; outputs added as optional fields",
    .options = av_options,
    .ops.serializer =
        {
            .create = av_create,
            .decode = av_decode,
            .encode = av_encode,
            .destroy = av_destroy,
            .bind_typed = av_bind_typed,
            .decode_fields = av_decode_fields,
            .encode_fields = av_encode_fields,
        },
};

SYMTASK_PLUGIN_EXPORT const symtask_plugin_t *symtask_plugin_entry(const symtask_host_t *host);

const symtask_plugin_t *symtask_plugin_entry(const symtask_host_t *host)
{
    return &avro_plugin;
}
