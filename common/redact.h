/* redact.h: what user input and param keys may appear in messages. Private to symtask. */
#ifndef SYMTASK_COMMON_REDACT_H
#define SYMTASK_COMMON_REDACT_H

#include <stdbool.h>
#include <stddef.h>

/* Copies at most @max bytes of user input @s into @out (@max + 4 bytes) for a message:
 * control characters become '?' so that one error is one line, and longer input is cut on a
 * UTF-8 boundary and marked with "...". Returns @out. */
const char *redact_shown(char *out, const char *s, size_t max);

/* True for param keys whose values must never be shown: *password*, *secret*, *key*,
 * *token* (any case: a model server's bearer token), *user.info* (basic auth's
 * "user:password", e.g. schema.registry.basic.auth.user.info; any case), sasl.*, ssl.*, also
 * after a kafka.consumer. / kafka.producer. prefix. */
bool redact_key_is_secret(const char *key);

#endif
