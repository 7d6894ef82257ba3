/* poison.h: records that take workers down (docs/delivery.md "Records that crash the
 * worker"). Each worker says which source offsets it hands to the plugins and in which stage
 * (docs/worker-protocol.md: batch, stage, done); when a worker dies by a signal or is killed
 * for a missing heartbeat with a batch in hand, those offsets become suspect, counted per
 * record. The next worker handles suspect records one at a time; a record that was alone in
 * the hand of sml.kstream.poison.max dead workers is quarantined: the workers dead-letter it
 * without calling a plugin. Private to core/.
 *
 * A task holds one poison_t (its suspects and quarantined records, per partition of its
 * source topic, kept in the store); each of its workers one poison_hand_t. */
#ifndef SYMTASK_CORE_POISON_H
#define SYMTASK_CORE_POISON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hand.h"

/* Offsets @from to @to (inclusive) of one partition, as a worker's hand board names them. */
typedef hand_span_t poison_span_t;

/* Suspect offsets: each record of [from, to] was in the hand of @kills dead workers. */
typedef struct poison_suspect {
    poison_span_t span;
    unsigned kills;
} poison_suspect_t;

typedef struct poison_record {
    int32_t partition;
    int64_t offset;
    char stage[8];
    char error[160];
} poison_record_t;

typedef struct poison {
    char *topic; /* the source topic the offsets are of; NULL while nothing is kept */
    poison_suspect_t *suspects; /* sorted by partition and offset, disjoint */
    size_t n_suspects, cap_suspects;
    poison_record_t *quarantined; /* oldest first, at most POISON_KEEP */
    size_t n_quarantined, cap_quarantined;
    uint64_t quarantined_total; /* since the task was created */
} poison_t;

/* Quarantined records kept per task; an older one read again goes the suspect way again. */
#define POISON_KEEP 256

void poison_free(poison_t *p);

/* Handles a worker's message done (the suspect records that went through the plugins): 1
 * when @msg was one, 0 for any other message; a malformed one is logged with @tag and
 * changes nothing. */
int poison_on_message(poison_t *p, json_t *msg, const char *tag);

typedef enum poison_verdict {
    POISON_NONE,    /* the worker held nothing: the state is unchanged */
    POISON_SUSPECT, /* the state changed (save it); restart the worker */
    POISON_FAIL,    /* a record is quarantined and errors.tolerance = none: fail the task */
} poison_verdict_t;

/* A worker whose hand board is @board died: @cause says how ("worker killed by SIGSEGV",
 * "no heartbeat for 30000 ms"). Marks the offsets the board names suspect and quarantines the
 * record it held alone once it has taken down sml.kstream.poison.max workers of @taskinfo.
 * With POISON_FAIL, @message says which record and why (for lastError). A board that cannot
 * be read, or is malformed, is logged with @tag and taken as holding nothing. */
poison_verdict_t poison_on_death(poison_t *p, int board, json_t *taskinfo, const char *cause,
                                 const char *tag, char *message, size_t message_size);

/* The state for the store and for the workers (the "poison" field of the task message):
 * {"topic","suspects":[{"partition","from","to","kills"}],"quarantined":[{"partition",
 * "offset","stage","error"}],"quarantinedTotal"}; NULL when nothing is kept. New
 * reference. */
json_t *poison_to_json(const poison_t *p);

/* Takes back a state of poison_to_json() for a task reading @topic (a state of another
 * topic is dropped: the task's source changed). -1 with a message when @state is not one. */
int poison_from_json(poison_t *p, json_t *state, const char *topic, char *errstr,
                     size_t errstr_size);

#endif
