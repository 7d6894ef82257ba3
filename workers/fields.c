/* fields.c: picking declared features out of a record's fields and checking a predictor's
 * outputs, with the type rules of symtask/plugin.h in one place. */
#include "fields.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How much of a bad number a message quotes. */
#define QUOTE_MAX 32
/* Run-time outputs of a row compared pairwise up to this many; a hash table beyond. */
#define PAIRWISE_MAX 32

struct feature_index {
    const symtask_column_t *features;
    size_t n_features;
    size_t *next_same; /* the next feature of the same name, or SIZE_MAX */
    size_t *lens;
    uint32_t *table; /* open addressing: first feature of a name + 1, 0 when empty */
    size_t mask;
    const symtask_value_t **last; /* fields_pick's work space: each feature's last value */
};

const char *value_kind(const symtask_value_t *value)
{
    switch (value->type) {
    case SYMTASK_TYPE_MISSING:
        return "missing";
    case SYMTASK_TYPE_NUMBER:
        return "a number";
    case SYMTASK_TYPE_STRING:
        return "a string";
    case SYMTASK_TYPE_BOOL:
        return "a boolean";
    case SYMTASK_TYPE_NESTED:
        for (size_t i = 0; value->text != NULL && i < value->len; i++) {
            if (value->text[i] == '{')
                return "an object";
            if (value->text[i] == '[')
                return "an array";
        }
        return "a nested value";
    case SYMTASK_TYPE_ANY:
        break;
    }
    return "of an unknown type";
}

const char *type_name(symtask_type_t type)
{
    switch (type) {
    case SYMTASK_TYPE_NUMBER:
        return "a number";
    case SYMTASK_TYPE_STRING:
        return "a string";
    case SYMTASK_TYPE_BOOL:
        return "a boolean";
    case SYMTASK_TYPE_ANY:
        return "any type";
    case SYMTASK_TYPE_MISSING:
    case SYMTASK_TYPE_NESTED:
        break;
    }
    return NULL;
}

/* ---- Picking features ------------------------------------------------------------------- */

static uint32_t name_hash(const char *s, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

/* The first feature named (@name, @len), or SIZE_MAX. */
static size_t index_find(const feature_index_t *ix, const char *name, size_t len)
{
    for (size_t i = name_hash(name, len) & ix->mask; ix->table[i] != 0; i = (i + 1) & ix->mask) {
        size_t f = ix->table[i] - 1;
        if (ix->lens[f] == len && memcmp(ix->features[f].name, name, len) == 0)
            return f;
    }
    return SIZE_MAX;
}

feature_index_t *feature_index_new(const symtask_column_t *features, size_t n_features)
{
    feature_index_t *ix = calloc(1, sizeof(*ix));
    size_t size = 8;

    if (ix == NULL)
        return NULL;
    while (size < 2 * n_features)
        size *= 2;
    ix->features = features;
    ix->n_features = n_features;
    ix->mask = size - 1;
    ix->table = calloc(size, sizeof(*ix->table));
    ix->next_same = calloc(n_features ? n_features : 1, sizeof(*ix->next_same));
    ix->lens = calloc(n_features ? n_features : 1, sizeof(*ix->lens));
    ix->last = calloc(n_features ? n_features : 1, sizeof(*ix->last));
    if (ix->table == NULL || ix->next_same == NULL || ix->lens == NULL || ix->last == NULL) {
        feature_index_free(ix);
        return NULL;
    }
    for (size_t f = 0; f < n_features; f++) {
        ix->lens[f] = strlen(features[f].name);
        ix->next_same[f] = SIZE_MAX;
        size_t first = index_find(ix, features[f].name, ix->lens[f]);
        if (first != SIZE_MAX) { /* a name listed twice: both get the value */
            while (ix->next_same[first] != SIZE_MAX)
                first = ix->next_same[first];
            ix->next_same[first] = f;
            continue;
        }
        size_t i = name_hash(features[f].name, ix->lens[f]) & ix->mask;
        while (ix->table[i] != 0)
            i = (i + 1) & ix->mask;
        ix->table[i] = (uint32_t)(f + 1);
    }
    return ix;
}

void feature_index_free(feature_index_t *ix)
{
    if (ix == NULL)
        return;
    free(ix->table);
    free(ix->next_same);
    free(ix->lens);
    free(ix->last);
    free(ix);
}

/* Whether @value may stand for a feature declared @type. */
static int value_fits(symtask_type_t type, const symtask_value_t *value)
{
    return value->type == SYMTASK_TYPE_MISSING || type == SYMTASK_TYPE_ANY || value->type == type;
}

symtask_status_t fields_pick(feature_index_t *ix, const symtask_fields_t *fields, double *numbers,
                             symtask_value_t *values, char *errstr, size_t errstr_size)
{
    const symtask_value_t **last = ix->last;
    size_t n = ix->n_features;

    /* the value each feature ends with: the record's last field of its name */
    for (size_t f = 0; f < n; f++)
        last[f] = NULL;
    for (size_t i = 0; i < fields->count; i++) {
        const symtask_field_t *field = &fields->items[i];
        size_t f = index_find(ix, field->name, field->name_len);
        if (f == SIZE_MAX)
            continue;
        if (!value_fits(ix->features[f].type, &field->value)) {
            snprintf(errstr, errstr_size, "feature '%.64s' is %s, not %s", ix->features[f].name,
                     value_kind(&field->value), type_name(ix->features[f].type));
            return SYMTASK_ERR_RECORD;
        }
        for (; f != SIZE_MAX; f = ix->next_same[f])
            last[f] = &field->value;
    }

    symtask_status_t status = SYMTASK_OK;
    for (size_t f = 0; f < n; f++) {
        const symtask_value_t *v = last[f];
        if (v != NULL && v->type == SYMTASK_TYPE_NUMBER && !isfinite(v->number) &&
            ix->features[f].type == SYMTASK_TYPE_NUMBER) {
            if (v->text != NULL)
                snprintf(errstr, errstr_size, "feature '%.64s' is %.*s%s, not a finite number",
                         ix->features[f].name, (int)(v->len > QUOTE_MAX ? QUOTE_MAX : v->len),
                         v->text, v->len > QUOTE_MAX ? "..." : "");
            else
                snprintf(errstr, errstr_size, "feature '%.64s' is %g, not a finite number",
                         ix->features[f].name, v->number);
            status = SYMTASK_ERR_RECORD;
            break;
        }
        if (numbers != NULL)
            numbers[f] = v != NULL && v->type == SYMTASK_TYPE_NUMBER ? v->number : NAN;
        else
            values[f] = v != NULL ? *v : symtask_value_missing();
    }
    return status;
}

/* ---- Checking outputs ------------------------------------------------------------------- */

int outputs_check(const symtask_column_t *outputs, size_t n_outputs, const symtask_value_t *values,
                  char *errstr, size_t errstr_size)
{
    for (size_t o = 0; o < n_outputs; o++) {
        const symtask_value_t *v = &values[o];
        if (v->type == SYMTASK_TYPE_MISSING || v->type == outputs[o].type)
            continue;
        snprintf(errstr, errstr_size,
                 "the predictor wrote %s to output '%.64s', which it declares as %s: fix the "
                 "plugin",
                 value_kind(v), outputs[o].name, type_name(outputs[o].type));
        return -1;
    }
    return 0;
}

static int name_is(const symtask_field_t *field, const char *name)
{
    return strlen(name) == field->name_len && memcmp(field->name, name, field->name_len) == 0;
}

static int same_name(const symtask_field_t *a, const symtask_field_t *b)
{
    return a->name_len == b->name_len && memcmp(a->name, b->name, a->name_len) == 0;
}

/* Whether two of @row's fields have the same name, using a table for long rows. -1 when out of
 * memory, else the index of the second of the first pair found, or SIZE_MAX. */
static int find_repeat(const symtask_fields_t *row, size_t *second)
{
    *second = SIZE_MAX;
    if (row->count <= PAIRWISE_MAX) {
        for (size_t i = 1; i < row->count; i++)
            for (size_t j = 0; j < i; j++)
                if (same_name(&row->items[i], &row->items[j])) {
                    *second = i;
                    return 0;
                }
        return 0;
    }
    size_t size = 64;
    while (size < 2 * row->count)
        size *= 2;
    size_t *table = calloc(size, sizeof(*table));
    if (table == NULL)
        return -1;
    for (size_t i = 0; i < row->count && *second == SIZE_MAX; i++) {
        const symtask_field_t *f = &row->items[i];
        size_t k = name_hash(f->name, f->name_len) & (size - 1);
        for (; table[k] != 0; k = (k + 1) & (size - 1))
            if (same_name(&row->items[table[k] - 1], f)) {
                *second = i;
                break;
            }
        table[k] = i + 1;
    }
    free(table);
    return 0;
}

int row_outputs_check(const symtask_column_t *declared, size_t n_declared,
                      const symtask_fields_t *row, char *errstr, size_t errstr_size)
{
    if (row->count > 0 && row->items == NULL) {
        snprintf(errstr, errstr_size,
                 "the predictor gave %zu outputs without their fields: fix the plugin", row->count);
        return -1;
    }
    for (size_t i = 0; i < row->count; i++) {
        const symtask_field_t *f = &row->items[i];
        if (f->name == NULL || f->name_len == 0) {
            snprintf(errstr, errstr_size, "the predictor gave output %zu of this record no name",
                     i + 1);
            return -1;
        }
        switch (f->value.type) {
        case SYMTASK_TYPE_MISSING:
        case SYMTASK_TYPE_NUMBER:
        case SYMTASK_TYPE_BOOL:
            break;
        case SYMTASK_TYPE_STRING:
        case SYMTASK_TYPE_NESTED:
            if (f->value.text == NULL && f->value.len > 0) {
                snprintf(errstr, errstr_size, "the predictor gave output '%.*s' no text",
                         (int)(f->name_len > 64 ? 64 : f->name_len), f->name);
                return -1;
            }
            break;
        default:
            snprintf(errstr, errstr_size,
                     "the predictor gave output '%.*s' a type (%d) a record "
                     "cannot hold",
                     (int)(f->name_len > 64 ? 64 : f->name_len), f->name, (int)f->value.type);
            return -1;
        }
        for (size_t d = 0; d < n_declared; d++) {
            if (name_is(f, declared[d].name)) {
                snprintf(errstr, errstr_size,
                         "the predictor gave output '%.64s' twice (declared and at run time)",
                         declared[d].name);
                return -1;
            }
        }
    }
    size_t second;
    if (find_repeat(row, &second) != 0) {
        snprintf(errstr, errstr_size, "out of memory checking the outputs of this record");
        return -1;
    }
    if (second != SIZE_MAX) {
        const symtask_field_t *f = &row->items[second];
        snprintf(errstr, errstr_size, "the predictor gave output '%.*s' twice for this record",
                 (int)(f->name_len > 64 ? 64 : f->name_len), f->name);
        return -1;
    }
    return 0;
}
