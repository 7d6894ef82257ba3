/* pipeline.h: a task's prediction pipeline: consume a batch, decode, predict, encode,
 * produce, and commit offsets once every output of a batch is acknowledged.
 * Private to workers/. */
#ifndef SYMTASK_WORKERS_PIPELINE_H
#define SYMTASK_WORKERS_PIPELINE_H

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#include "hand.h"
#include "kafka.h"
#include "stages.h"

/* Upper bounds, in seconds, of the batch latency histogram's buckets (a last one, +Inf, is
 * implied): from a batch handed to the plugins to its last output acknowledged. */
#define PIPELINE_LATENCY_BUCKETS 12
extern const double pipeline_latency_bounds[PIPELINE_LATENCY_BUCKETS];

typedef struct pipeline_stats {
    int64_t records_in, records_out;
    int64_t consumer_lag; /* -1: unknown (no partition assigned, or no watermark yet) */
    int assigned_partitions;
    int group_stable;            /* 0 while waiting for the group to assign partitions */
    int64_t records_failed;      /* records that could not be handled, at any stage */
    int64_t records_dead_letter; /* of those, written to the dead-letter topic */
    char last_record_time[32];   /* ISO-8601 UTC, "" before the first record */
    uint64_t latency_counts[PIPELINE_LATENCY_BUCKETS + 1]; /* per bucket, not cumulative */
    double latency_sum;                                    /* seconds */
    uint64_t batches;
    uint64_t txn_commits, txn_aborts; /* exactly-once: transactions committed and aborted */
    uint64_t retries;                 /* plugin calls made again after they answered RETRIABLE */
    int retrying;                     /* 1 while a plugin call waits to be made again */
    int paused;                       /* 1 while paused (pipeline_set_paused) */
} pipeline_stats_t;

typedef struct pipeline pipeline_t;

/* What a pipeline is built from; borrowed during pipeline_new(). */
typedef struct pipeline_config {
    const char *tag;  /* of the log lines: "cid/tid", "cid/tid#index" with several workers */
    const char *task; /* "cid/tid", in the symtask.task header of the dead letters */
    json_t *params;   /* the task's params */
    const char *plugin_dir;
    /* Called at least every 100 ms while the pipeline waits on Kafka (a full producer queue,
     * unacknowledged batches): the worker heartbeats and checks for a stop; non-zero makes
     * the pipeline give up the wait (may be NULL). */
    int (*keepalive)(void *arg);
    /* Tells the user about a passing problem (lastError) while the task goes on: a plugin
     * that answered RETRIABLE, whose call is made again after a wait (may be NULL). */
    void (*report)(void *arg, const char *message);
    /* Sends the channel line @line (@len bytes, its newline included) to the daemon: which
     * records went through the plugins, while the worker holds suspect ones (suspects.h;
     * may be NULL). */
    void (*tell)(void *arg, const char *line, size_t len);
    /* Where the worker writes what the plugins are given, before they are (hand.h; NULL
     * when the daemon gave it no board). The pipeline does not own it. */
    hand_board_t *board;
    /* Sends the heartbeat when it is due; called between the records of a suspect batch,
     * which go to the plugins one at a time (may be NULL). */
    void (*heartbeat)(void *arg);
    void *keepalive_arg;
} pipeline_config_t;

/* Loads the plugins and prepares the batch buffers. -1 with a message on failure: the task
 * cannot run as defined. Connect it to Kafka with pipeline_attach(). */
pipeline_t *pipeline_new(const pipeline_config_t *cfg, char *errstr, size_t errstr_size);

/* The hooks to put into kafka_settings_t before the clients are built, and whether the
 * clients must be transactional. */
void pipeline_kafka_hooks(pipeline_t *p, kafka_settings_t *ks);

/* Subscribes to the source topic with the clients built from those settings. */
int pipeline_attach(pipeline_t *p, kafka_clients_t *kc, char *errstr, size_t errstr_size);

typedef enum pipeline_result {
    PIPELINE_OK = 0,
    PIPELINE_FAILED = 1,  /* the task cannot go on; a restart may help (Kafka, memory) */
    PIPELINE_REFUSED = 2, /* a record failed with errors.tolerance = none, or a plugin said
                             FATAL: restarting would fail the same way */
} pipeline_result_t;

/* Consumes for at most @max_wait_ms and handles a batch when it is full or its oldest
 * record waited sml.kstream.schedule.ms. On anything but PIPELINE_OK, @errstr says why. */
pipeline_result_t pipeline_step(pipeline_t *p, int max_wait_ms, char *errstr, size_t errstr_size);

/* Takes the daemon's suspect and quarantined records (the "poison" object of its task
 * message or of a "poison" message; NULL: none). -1 with a message when it is malformed. */
int pipeline_suspects_load(pipeline_t *p, json_t *state, char *errstr, size_t errstr_size);

/* Pauses (@paused 1) or resumes fetching from every partition the group gives the worker,
 * now and in later rebalances; the worker stays in its group. A pause first handles the
 * records in hand, waits for their outputs and commits them (as pipeline_drain(), at most
 * @timeout_ms); a resume goes on from the first record not consumed. 0 when a pause
 * committed everything (a resume: always). */
int pipeline_set_paused(pipeline_t *p, int paused, int timeout_ms);

/* 1 while paused. */
int pipeline_is_paused(const pipeline_t *p);

/* Counters for the heartbeat; the lag is read from the consumer's cached watermarks. */
void pipeline_get_stats(pipeline_t *p, pipeline_stats_t *stats);

/* Graceful end: handles the records already consumed, waits (at most @timeout_ms) until
 * every output is acknowledged and commits their offsets. 0 when everything was committed. */
int pipeline_drain(pipeline_t *p, int timeout_ms);

/* Lets go of every Kafka object (topic handles, consumed messages): call it before
 * kafka_clients_destroy(). Rebalances during the consumer's close then only unassign. */
void pipeline_detach(pipeline_t *p);

/* Frees the plugins and buffers; call after kafka_clients_destroy(). */
void pipeline_free(pipeline_t *p);

#endif
