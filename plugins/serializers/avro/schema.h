/* schema.h: Avro schemas as the avro serializer reads and writes records with them.
 *
 * A schema's text is parsed twice: by Apache Avro C (avro_schema_from_json_length), which
 * validates it and resolves its named types, and by jansson, which keeps what Avro C 1.11
 * drops (logical types, field defaults, other properties). The two are walked together into
 * a tree of nodes that the binary reader and writer below follow: Avro C's generic values
 * allocate per value, where a serializer on the hot path only needs to walk the bytes. */
#ifndef SYMTASK_AVRO_SCHEMA_H
#define SYMTASK_AVRO_SCHEMA_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "symtask/plugin.h"

/* Deepest nesting of records, arrays, maps and unions a record may have. */
#define AVS_MAX_DEPTH 64

typedef enum avs_kind {
    AVS_NULL,
    AVS_BOOLEAN,
    AVS_INT,
    AVS_LONG,
    AVS_FLOAT,
    AVS_DOUBLE,
    AVS_BYTES,
    AVS_STRING,
    AVS_RECORD,
    AVS_ENUM,
    AVS_ARRAY,
    AVS_MAP,
    AVS_UNION,
    AVS_FIXED,
} avs_kind_t;

/* The logical types the serializer reads as numbers (or, uuid, as a string), and the
 * serializer's own annotation of a string that holds JSON text ("symtask.json": true). */
typedef enum avs_logical {
    AVS_PLAIN = 0,
    AVS_DECIMAL,          /* bytes or fixed */
    AVS_DATE,             /* int: days since 1970-01-01 */
    AVS_TIME_MILLIS,      /* int: milliseconds after midnight */
    AVS_TIME_MICROS,      /* long: microseconds after midnight */
    AVS_TIMESTAMP_MILLIS, /* long: milliseconds since 1970-01-01T00:00:00Z */
    AVS_TIMESTAMP_MICROS, /* long: microseconds since then */
    AVS_LOCAL_TS_MILLIS,  /* long: local-timestamp-millis */
    AVS_LOCAL_TS_MICROS,  /* long: local-timestamp-micros */
    AVS_UUID,             /* string */
    AVS_JSON,             /* string holding JSON text: a nested value of another format */
} avs_logical_t;

typedef struct avs_node avs_node_t;

typedef struct avs_field {
    const char *name;
    size_t name_len;
    avs_node_t *type;
    json_t *default_value; /* the field's "default" (borrowed from the schema's JSON), or NULL */
} avs_field_t;

struct avs_node {
    avs_kind_t kind;
    avs_logical_t logical;
    int precision, scale; /* decimal */
    int64_t size;         /* fixed */
    const char *fullname; /* record, enum, fixed */
    avs_field_t *fields;  /* record */
    size_t n_fields;
    const char **symbols; /* enum */
    size_t *symbol_lens;
    size_t n_symbols;
    avs_node_t *items;     /* array items, map values */
    avs_node_t **branches; /* union */
    size_t n_branches;
    int null_branch;  /* union: the index of its null branch, or -1 */
    avs_node_t *next; /* every node of a schema, for freeing */
};

typedef struct avs_schema {
    char *text;   /* as given */
    json_t *json; /* parsed by jansson */
    avs_node_t *root;
    avs_node_t *nodes;
    void *avro; /* avro_schema_t of Apache Avro C */
} avs_schema_t;

/* Parses and compiles the schema @text. NULL with a message in @errstr when it is no valid
 * Avro schema. */
avs_schema_t *avs_schema_parse(const char *text, size_t len, char *errstr, size_t errstr_size);
void avs_schema_free(avs_schema_t *schema);

/* The record's full name ("namespace.name"), or NULL for a schema that is no record. */
const char *avs_record_fullname(const avs_schema_t *schema);

/* Whether @name is an Avro name: [A-Za-z_][A-Za-z0-9_]*. */
int avs_name_valid(const char *name, size_t len);

/* ---- Reading ----------------------------------------------------------------------------- */

/* A position in a record's Avro binary encoding. On failure, why says what went wrong and
 * at names the byte. */
typedef struct avs_reader {
    const uint8_t *base, *p, *end;
    const char *why;
    const uint8_t *at;
} avs_reader_t;

/* Read and skip one value of @node; -1 on failure (r->why). */
int avs_read_long(avs_reader_t *r, int64_t *v);
int avs_skip(avs_reader_t *r, const avs_node_t *node, int depth);

/* Reads one value of @node as a number feature: 0 with *@v; 2 for null (*@v NaN); -1 with
 * r->why for malformed bytes; 1 when the value is no number, with *@kind saying what it is
 * ("a string", "a boolean", "an object", "an array", "a nested value", as workers/fields.c
 * words it). */
int avs_read_number(avs_reader_t *r, const avs_node_t *node, double *v, const char **kind);

/* Growable bytes of the serializer's own. */
typedef struct avs_buf {
    char *data;
    size_t len, cap;
} avs_buf_t;

int avs_buf_add(avs_buf_t *b, const void *data, size_t len);
void avs_buf_free(avs_buf_t *b);

/* Reads one top-level value of @node into @value, typed as plugin.h's neutral form says
 * (see the serializer's README): bytes of strings point into the record, other text is
 * allocated from @arena; nested values are rendered as JSON into @scratch first. -1 with
 * r->why on malformed bytes, -2 when out of memory. */
int avs_read_value(avs_reader_t *r, const avs_node_t *node, const symtask_host_t *host,
                   symtask_arena_t *arena, avs_buf_t *scratch, symtask_value_t *value);

/* ---- Writing ----------------------------------------------------------------------------- */

int avs_write_long(avs_buf_t *b, int64_t v);
int avs_write_double(avs_buf_t *b, double v);

/* Appends the Avro encoding of @value as a value of @node. 0; -1 when the value does not
 * fit the type, with a message in @why (phrase after "field 'x' "); -2 when out of memory. */
int avs_write_value(avs_buf_t *b, const avs_node_t *node, const symtask_value_t *value, char *why,
                    size_t why_size);

/* The same for a JSON value (a nested value's text parsed, or a field's default). */
int avs_write_json(avs_buf_t *b, const avs_node_t *node, json_t *value, int depth, char *why,
                   size_t why_size);

/* ---- Helpers ----------------------------------------------------------------------------- */

/* The shortest text of @v that reads back as the same double (or float, @single), in JSON's
 * grammar; "null" for NaN and infinities. Returns the length written to @out (32 bytes). */
size_t avs_format_double(double v, int single, char *out);

#endif
