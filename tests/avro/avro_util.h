/* avro_util.h: what the avro serializer's tests share: the schema registry of the tests
 * (tests/avro/registry.py) as a child process, and Avro records encoded and decoded by an
 * independent implementation (Debian's python3-avro, tests/avro/records.py). */
#ifndef SYMTASK_TESTS_AVRO_UTIL_H
#define SYMTASK_TESTS_AVRO_UTIL_H

#include <stddef.h>
#include <sys/types.h>

typedef struct av_registry {
    char dir[256];     /* where its port file, log and control file live */
    char url[64];      /* http://127.0.0.1:PORT (https:// with TLS) */
    char control[300]; /* write a status ("503", "401") here to make it answer with it */
    char log[300];     /* "METHOD PATH STATUS" per request */
    char ca[300];      /* the certificate it serves (--cert), which clients must trust */
    int port;
    pid_t pid; /* 0 when not running */
} av_registry_t;

/* A record: bytes and length (malloc'd). */
typedef struct av_bytes {
    unsigned char *data;
    size_t len;
} av_bytes_t;

/* Starts the registry with its files in @dir (which must exist) and @extra_args (may be
 * NULL; e.g. "--user-info u:p"), on @port (0: a free one); asserts it serves within 10 s.
 * It dies with the calling thread. */
void avr_start(av_registry_t *r, const char *dir, int port, const char *extra_args);

/* Stops it (SIGTERM, then waits); a no-op when it is not running. */
void avr_stop(av_registry_t *r);

/* Sets the control file: @fault ("503", "401", "hang 30") or NULL to answer normally. */
void avr_fault(av_registry_t *r, const char *fault);

/* How many requests of the log start with @prefix ("GET /schemas/ids/1 "). */
int avr_count(const av_registry_t *r, const char *prefix);

/* Encodes the datums @jsonl (one JSON datum a line, records.py's conventions) with @schema
 * (JSON text), registering it under @subject; fills @out (at most @cap) and returns how
 * many. Asserts on failure. */
size_t avr_encode(const av_registry_t *r, const char *subject, const char *schema,
                  const char *jsonl, av_bytes_t *out, size_t cap);

/* Decodes @n records with the schemas the registry gives for their ids; returns one line of
 * JSON per record ({"id": N, "value": ...} or {"error": ...}) joined by '\n', malloc'd. */
char *avr_decode(const av_registry_t *r, const av_bytes_t *records, size_t n);

/* Registers @schema under @subject by hand; returns its id. */
int avr_register(const av_registry_t *r, const char *subject, const char *schema);

void avr_bytes_free(av_bytes_t *b, size_t n);

#endif
