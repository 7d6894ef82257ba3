/* suspects.h: the worker's side of records that take workers down (docs/delivery.md
 * "Records that crash the worker"). The daemon hands a worker, in the "poison" field of its
 * task message or in a later "poison" message, the source offsets that were in the hand of a
 * worker that died (suspect: handle them one at a time) and the records that took down
 * sml.kstream.poison.max workers (quarantined: dead-letter them without calling a plugin).
 * The worker writes what it hands to the plugins on its hand board (hand.h), as the spans
 * built here. Private to workers/. */
#ifndef SYMTASK_WORKERS_SUSPECTS_H
#define SYMTASK_WORKERS_SUSPECTS_H

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#include "hand.h"

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

/* The spans of the records of @msgs that carry one, one a partition (from its first offset
 * to its last), for the hand board (hand.h): into *@spans, which has room for *@cap and is
 * grown with realloc when that is not enough. The number of spans, or -1 out of memory. */
long suspects_batch_spans(rd_kafka_message_t *const *msgs, size_t n, hand_span_t **spans,
                          size_t *cap);

/* {"type":"done","offsets":[[partition, first, last], ...]} for @spans as a channel line
 * (malloc'd, *@len its length; NULL out of memory): a worker that holds suspect records says
 * which records went through the plugins, so that the daemon clears them. */
char *suspects_done_line(const hand_span_t *spans, size_t n, size_t *len);

#endif
