/* text.h: a growing text buffer for answers the daemon writes itself (the API's JSON
 * envelope, the metrics page), so that the hot request path needs no JSON tree and, for
 * answers that fit the caller's stack buffer, no malloc. Private to core/. */
#ifndef SYMTASK_CORE_TEXT_H
#define SYMTASK_CORE_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

typedef struct text {
    char *data;
    size_t len, cap;
    bool on_heap; /* data was malloc'ed by text_* (else it is the caller's buffer) */
    bool failed;  /* out of memory: the text is incomplete and must not be sent */
} text_t;

/* Starts @t on the caller's @buf of @size bytes (may be NULL, 0); it moves to the heap when
 * it outgrows it. text_free() releases what it allocated. */
void text_init(text_t *t, char *buf, size_t size);
void text_free(text_t *t);

void text_append(text_t *t, const char *s, size_t len);
void text_puts(text_t *t, const char *s);
void text_printf(text_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends @s as a JSON string, quoted and escaped as jansson's compact dump does; a byte
 * that is not part of valid UTF-8 becomes '?' (messages may quote raw bytes of a request,
 * and JSON text must be UTF-8). */
void text_json_string(text_t *t, const char *s, size_t len);

/* Appends the compact JSON text of @value. */
void text_json_value(text_t *t, const json_t *value);

#endif
