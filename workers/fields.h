/* fields.h: the worker's side of typed values (symtask/plugin.h, ABI 1.1): picking a
 * predictor's declared features out of a record's fields, checking what a predictor wrote,
 * and the words messages use for types. One place for these rules, whichever serializer
 * read the record. Private to workers/. */
#ifndef SYMTASK_WORKERS_FIELDS_H
#define SYMTASK_WORKERS_FIELDS_H

#include <stddef.h>

#include "symtask/plugin.h"

/* "a number", "a string", "a boolean", "missing", "an object", "an array": what @value is,
 * for messages ("feature 'x' is a string, not a number"). */
const char *value_kind(const symtask_value_t *value);

/* "a number", "a string", "a boolean", "any type": a declared type, for messages; NULL for a
 * type this worker does not know. */
const char *type_name(symtask_type_t type);

/* The declared features by name, for picking them out of records. */
typedef struct feature_index feature_index_t;

/* Indexes @features (borrowed: they must outlive the index); NULL when out of memory. */
feature_index_t *feature_index_new(const symtask_column_t *features, size_t n_features);
void feature_index_free(feature_index_t *index);

/* Picks the indexed features out of @fields. Into @numbers (NaN for a missing feature) when
 * it is set, which needs every feature to be a NUMBER; else into @values, each of its
 * declared type or MISSING. A field named twice: the last one counts, and each must be of
 * the feature's type. SYMTASK_ERR_RECORD with the message a user sees when a feature has
 * another type, or a NUMBER is not finite. Uses work space of @index: one call at a time. */
symtask_status_t fields_pick(feature_index_t *index, const symtask_fields_t *fields,
                             double *numbers, symtask_value_t *values, char *errstr,
                             size_t errstr_size);

/* Checks one row's declared outputs against their types: each is of its declared type or
 * MISSING. -1 with a message naming the output when not (a predictor's bug). */
int outputs_check(const symtask_column_t *outputs, size_t n_outputs, const symtask_value_t *values,
                  char *errstr, size_t errstr_size);

/* Checks one row's run-time outputs (SYMTASK_SIGNATURE_DYNAMIC_OUTPUTS): names not empty and
 * differing from each other and from the declared outputs, types that a record can hold.
 * -1 with a message for the row's dead letter when not. */
int row_outputs_check(const symtask_column_t *declared, size_t n_declared,
                      const symtask_fields_t *row, char *errstr, size_t errstr_size);

#endif
