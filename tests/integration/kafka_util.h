/* kafka_util.h: a real Kafka client (librdkafka) for integration tests: produce records to
 * and read records from the daemon's embedded cluster. */
#ifndef SYMTASK_TESTS_KAFKA_UTIL_H
#define SYMTASK_TESTS_KAFKA_UTIL_H

#include <stddef.h>

#include "harness.h"

typedef struct kt_record {
    char *key; /* NUL-terminated copies, NULL when absent */
    char *value;
    size_t value_len; /* the value's bytes, which may hold NUL bytes (Avro) */
    int partition;
    long long offset;
    char *headers;       /* "name=value\n" lines, malloc'd */
    long long timestamp; /* ms since the epoch, -1 when it has none */
} kt_record_t;

/* The embedded cluster's bootstrap address (from state/embedded-kafka.bootstrap), or the one
 * given to kt_use_bootstrap(). */
const char *kt_bootstrap(harness_t *h);

/* Makes every kt_ call use the cluster at @bootstrap (NULL: the embedded one again). */
void kt_use_bootstrap(const char *bootstrap);

/* Produces @n records to @topic (keys may be NULL; @header "name=value" or NULL on each) and
 * waits until all are acknowledged. Asserts on failure. */
void kt_produce(harness_t *h, const char *topic, size_t n, const char *const *keys,
                const char *const *values, const char *header);

/* The same with timestamps: record i is stamped @first_ms + i (ms since the epoch). */
void kt_produce_at(harness_t *h, const char *topic, size_t n, const char *const *keys,
                   const char *const *values, const char *header, long long first_ms);

/* The same with values of @lens bytes each, which may hold NUL bytes. */
void kt_produce_bytes(harness_t *h, const char *topic, size_t n, const char *const *keys,
                      const void *const *values, const size_t *lens);

/* What kt_produce_many() produces: @n records {"id":i,"x1":i%100,"x2":1} keyed i, for i
 * from 0, to @topic. */
typedef struct kt_many {
    harness_t *h;
    const char *topic;
    int n;
} kt_many_t;

/* Produces the records of @arg (a kt_many_t) in slices of 5000, 20 ms apart, so that a
 * worker is busy for a while; a thread's start routine, returns @arg. */
void *kt_produce_many(void *arg);

/* Reads @topic from the beginning until @want records arrived or @timeout_ms passed; returns
 * how many were read into @out (at most @cap). */
size_t kt_consume(harness_t *h, const char *topic, size_t want, kt_record_t *out, size_t cap,
                  int timeout_ms);

/* Reads @topic from the beginning until no record arrived for @idle_ms (or @timeout_ms
 * passed); at most @cap are kept, all are read. */
size_t kt_consume_all(harness_t *h, const char *topic, kt_record_t *out, size_t cap, int idle_ms,
                      int timeout_ms);

void kt_records_free(kt_record_t *records, size_t n);

/* The value of header @name of @r, or NULL. Valid until the next call. */
const char *kt_header(const kt_record_t *r, const char *name);

#endif
