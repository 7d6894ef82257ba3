/* offsets.h: the body of POST /tasks/{tid}/offsets, checked before any Kafka call
 * (docs/operations.md). Private to core/. */
#ifndef SYMTASK_CORE_OFFSETS_H
#define SYMTASK_CORE_OFFSETS_H

#include <jansson.h>
#include <stddef.h>

/* Most partitions one reset may list. */
#define OFFSETS_PARTITIONS_MAX 10000

/* Parses @body ({"to":"earliest"|"latest"|{"timestamp":MS}|{"partitions":[{"partition":N,
 * "offset":N},...]}}) and returns its "to" (a new reference), or NULL with a message naming
 * the field and saying what is expected. Partitions and offsets that Kafka must judge (does
 * the partition exist, does the offset lie in the log) are left to the reset itself. */
json_t *offsets_request_parse(const char *body, size_t len, char *errstr, size_t errstr_size);

#endif
