/* registry.h: a client of Confluent's Schema Registry REST API (libcurl), for the avro
 * serializer: schemas by id, registration and lookup under a subject. */
#ifndef SYMTASK_AVRO_REGISTRY_H
#define SYMTASK_AVRO_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

typedef struct registry registry_t;

/* What a call came to. Every call writes a message for users into its @msg: it names the
 * registry by its URL (never the credentials) and, for an answer, the registry's error code. */
typedef enum reg_result {
    REG_OK = 0,
    REG_NOT_FOUND, /* 404 with a registry error code: no such schema id, subject or schema */
    REG_REFUSED,   /* 409 or 422: the registry refuses the schema (incompatible, invalid) */
    REG_DOWN,      /* no registry answered, or each answered 5xx or 429: try again later */
    REG_DENIED,    /* 401 or 403: the credentials are wrong or lack the right */
    REG_BROKEN,    /* an answer that no registry gives: the URL names something else */
} reg_result_t;

/* A client for the comma-separated @urls (http:// or https://, tried in order, the one that
 * answered last first), with basic authentication when @user_info ("user:password") is set,
 * the CA certificates of @ca_file (NULL: the system's) for https, and @timeout_ms for each
 * request. NULL with a message naming the bad URL. */
registry_t *registry_new(const char *urls, const char *user_info, const char *ca_file,
                         long timeout_ms, char *errstr, size_t errstr_size);
void registry_free(registry_t *r);

/* How many URLs the client tries. */
size_t registry_url_count(const registry_t *r);

/* Whether a registry answers, and accepts the credentials (GET /subjects). */
reg_result_t registry_ping(registry_t *r, char *msg, size_t msg_size);

/* GET /schemas/ids/{id}: the schema's text (malloc'd) in *@schema. REG_BROKEN also for a
 * schema of another type than Avro (PROTOBUF, JSON) or one with references. */
reg_result_t registry_schema(registry_t *r, int32_t id, char **schema, char *msg, size_t msg_size);

/* POST /subjects/{subject}/versions: registers @schema under @subject, *@id gets its id. */
reg_result_t registry_register(registry_t *r, const char *subject, const char *schema, int32_t *id,
                               char *msg, size_t msg_size);

/* POST /subjects/{subject}: the id of @schema among @subject's versions. */
reg_result_t registry_lookup(registry_t *r, const char *subject, const char *schema, int32_t *id,
                             char *msg, size_t msg_size);

#endif
