/* stages.h: the plugin stages of a batch: a task's serializers and predictor, loaded and
 * bound to each other, and the records of one batch through decode, predict and encode.
 * The Kafka side of a batch is pipeline.c's. Private to workers/. */
#ifndef SYMTASK_WORKERS_STAGES_H
#define SYMTASK_WORKERS_STAGES_H

#include <jansson.h>
#include <stddef.h>

#include "loader.h"

typedef struct stages stages_t;

/* Loads the plugins that @params name from @plugin_dir (sml.predictor, sml.serializer and
 * sml.serializer.out), checks their params, builds their instances and binds them: the
 * predictor's features and outputs, their types, and which serializer writes the sink. Room
 * for batches of up to @max_rows records. NULL with a message naming the param or the file
 * when the task cannot run as defined (nothing left allocated). */
stages_t *stages_open(json_t *params, const char *plugin_dir, size_t max_rows, char *errstr,
                      size_t errstr_size);
/* The check at create (symtask-worker --validate) sets PLUGIN_VALIDATE_PARAM in @params: a
 * serializer whose bind answers RETRIABLE (a server it needs does not answer) then refuses
 * the task with its message, where a task's worker logs it and goes on. */
void stages_close(stages_t *st);

/* One line for the log: formats, predictor, features and outputs. */
const char *stages_summary(const stages_t *st);
size_t stages_n_features(const stages_t *st);
size_t stages_n_outputs(const stages_t *st); /* declared ones */

/* Starts a batch: no rows, the batch memory of the last one freed. */
void stages_begin(stages_t *st);

/* Decodes @record into the batch's next row, which *@row names on SYMTASK_OK. RECORD: this
 * record cannot be decoded (@errstr says why); RETRIABLE: not now (call again later); FATAL:
 * the serializer cannot go on. @record's bytes must stay valid until the batch is encoded. */
symtask_status_t stages_decode(stages_t *st, const symtask_record_t *record, size_t *row,
                               char *errstr, size_t errstr_size);

/* Predicts every decoded row and checks what the predictor wrote. Not SYMTASK_OK: nothing of
 * the batch can be written yet (RETRIABLE: a passing failure, call again later; FATAL: it
 * would fail the same way). */
symtask_status_t stages_predict(stages_t *st, char *errstr, size_t errstr_size);

/* NULL when @row was predicted, else why the predictor refused it. */
const char *stages_row_error(const stages_t *st, size_t row);

/* Appends to @out the sink record of @row, whose source record is @record. RECORD: this one
 * cannot be written; RETRIABLE: not now (empty @out, call again later); FATAL: the serializer
 * cannot go on. */
symtask_status_t stages_encode(stages_t *st, size_t row, const symtask_record_t *record,
                               symtask_buf_t *out, char *errstr, size_t errstr_size);

#endif
