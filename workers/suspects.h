/* suspects.h: the worker's side of records that take workers down (docs/delivery.md
 * "Records that crash the worker"). The daemon hands a worker, in the "poison" field of its
 * task message or in a later "poison" message, the source offsets that were in the hand of a
 * worker that died (suspect: handle them one at a time) and the records that took down
 * sml.kstream.poison.max workers (quarantined: dead-letter them without calling a plugin).
 * The worker tells the daemon what it hands to the plugins: the messages built here.
 * Private to workers/. */
#ifndef SYMTASK_WORKERS_SUSPECTS_H
#define SYMTASK_WORKERS_SUSPECTS_H

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

typedef struct suspects suspects_t;

suspects_t *suspects_new(void);
void suspects_free(suspects_t *s);

/* Replaces the set with @state (the daemon's "poison" object; NULL: empty) for a task
 * reading @topic: offsets of another topic are left out. -1 with a message when @state is
 * malformed (the set is then empty). */
int suspects_load(suspects_t *s, json_t *state, const char *topic, char *errstr,
                  size_t errstr_size);

/* Whether the set holds anything (a worker with nothing to avoid takes its fast path). */
int suspects_any(const suspects_t *s);

/* Whether record @offset of @partition was in the hand of a worker that died. */
int suspects_is_suspect(const suspects_t *s, int32_t partition, int64_t offset);

/* The record's quarantine, NULL when it is not quarantined: @stage and @error for its
 * dead-letter headers. */
int suspects_quarantined(const suspects_t *s, int32_t partition, int64_t offset, const char **stage,
                         const char **error);

/* {"type":"batch","stage":"decode","offsets":[[partition, first, last], ...]} for the
 * records of @msgs that carry one (new reference; NULL when none does). */
json_t *suspects_batch_msg(rd_kafka_message_t *const *msgs, size_t n);

/* {"type":"stage","stage":@stage} and {"type":"done"} (new references). */
json_t *suspects_stage_msg(const char *stage);
json_t *suspects_done_msg(void);

#endif
