/* taskinfo.h: ids and TaskInfo validation (API.md "TaskInfo"). Private to symtask. */
#ifndef SYMTASK_COMMON_TASKINFO_H
#define SYMTASK_COMMON_TASKINFO_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TASKINFO_ID_MAX 128

/* A customer or task id: 1 to 128 characters of [A-Za-z0-9._-], and not "." or ".." (ids
 * name directories of the state dir). */
bool taskinfo_id_valid(const char *s, size_t len);

/* Parses and validates a TaskInfo document. On success returns a new reference to a
 * normalised object {"type":"kstream","name":"t1","params":{...}} (params a string→string
 * map) and 0. On failure returns NULL and writes into @errstr a message naming the field and
 * what is wrong, e.g. "params.sml.task.heap.max: '12q' is not a size (use 512m or 2g)",
 * "name: 't 1' is not a valid task id (1 to 128 of A-Z a-z 0-9 . _ -)", "params: required
 * key sml.kstream.source.topic is missing". Checks: JSON object; type == "kstream"; name a
 * valid id; params an object whose values are all strings; required keys
 * (sml.kstream.source.topic, sml.kstream.sink.topic, sml.predictor unless sml.kstream.rest
 * is true, which means sml.predictor symetryml and is normalised to it); numeric keys
 * (record.poll.max 1..1000000, schedule.ms 0..3600000); heap sizes; errors.tolerance
 * none|all; guarantee at_least_once (exactly_once: "not supported yet" message); every
 * key not starting with "sml." (and every kafka.consumer.X / kafka.producer.X) accepted by
 * librdkafka's rd_kafka_conf_set, with plugin.library.paths and interceptor-style keys
 * refused because they would load code into the daemon. Messages never quote the value of
 * a key that looks secret (*password*, *secret*, *key*, *token*, sasl.*, ssl.*). */
json_t *taskinfo_parse(const char *text, size_t len, char *errstr, size_t errstr_size);

/* Opens an encrypted TaskInfo body of customer @cid (whose 16-byte secret is @key), in
 * either form (docs/security.md): the sealed form when crypto_is_sealed(), else the legacy
 * one. Returns a new reference to the JSON object it holds, not yet validated (see
 * taskinfo_validate), or NULL when the body does not decrypt (base64, length, padding, tag)
 * or what it decrypts to is not a JSON object (UTF-8, syntax, duplicate keys, another
 * type), without saying which: every such body gets one answer, so that the answer is no
 * padding oracle. The plaintext is wiped before it is freed. */
json_t *taskinfo_decrypt(const uint8_t key[16], const char *cid, const char *body, size_t len);

/* The same checks on an already parsed document (used when loading the store). */
json_t *taskinfo_validate(json_t *doc, char *errstr, size_t errstr_size);

/* Most worker processes of one task on one node (sml.task.workers). */
#define TASKINFO_WORKERS_MAX 64

/* The number of worker processes a validated TaskInfo asks for on a node of @cores cores:
 * sml.task.workers, 1 when unset, @cores for "auto", within 1..TASKINFO_WORKERS_MAX. */
unsigned taskinfo_workers(json_t *taskinfo, unsigned cores);

/* Looks up params[key] of a normalised TaskInfo, or @def. */
const char *taskinfo_param(json_t *taskinfo, const char *key, const char *def);

/* params[key] as a whole number (checked by taskinfo_validate), or @def when unset. */
uint64_t taskinfo_param_uint(json_t *taskinfo, const char *key, uint64_t def);

/* sml.kstream.poison.max when unset: workers a record may take down before it is
 * quarantined (docs/delivery.md). */
#define TASKINFO_POISON_MAX_DEFAULT 2

/* True for keys whose values must never be shown: *password*, *secret*, *key*, *token*
 * (any case), sasl.*, ssl.*. */
bool taskinfo_key_is_secret(const char *key);

/* Replaces in @text (a NUL-terminated string in a buffer of @size bytes), in place, every
 * occurrence of a value API.md says never to show: the values of secret params
 * (taskinfo_key_is_secret) and model paths (params whose key ends in ".model"), each by
 * "<KEY>". For text that comes from a worker (its log lines, its errors) before it reaches
 * the daemon's log or a task's status. Values shorter than 4 bytes are left alone: they
 * would match ordinary words. Text that no longer fits is cut. */
void taskinfo_scrub(json_t *taskinfo, char *text, size_t size);

#endif
