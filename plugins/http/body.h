/* body.h: what the model-server plugins write and read besides HTTP: a growable byte buffer
 * with JSON strings and numbers, the JSON number grammar, and an answer made parseable when
 * a server writes NaN or Infinity. Private to plugins/ (in the library of http_client.h). */
#ifndef SYMTASK_PLUGINS_BODY_H
#define SYMTASK_PLUGINS_BODY_H

#include <stddef.h>

#include "symtask/plugin.h"

typedef struct body {
    char *data; /* NUL-terminated while not failed */
    size_t len, cap;
    int failed; /* out of memory: every later append is a no-op */
} body_t;

void body_reset(body_t *b); /* len 0, keeps the memory */
void body_free(body_t *b);
void body_append(body_t *b, const void *data, size_t len);
void body_puts(body_t *b, const char *s);
/* @len bytes as a JSON string, quotes included (", \ and control characters escaped). */
void body_json_string(body_t *b, const char *s, size_t len);
/* A finite double as the shortest JSON number that reads back the same. */
void body_json_number(body_t *b, double d);
/* A value's text, as the SymetryML DataFrame's strings hold it: a number as the record spelt
 * it (or its shortest form), a boolean as true or false, a string or nested value as its
 * text, missing (and a non-finite number) as the empty string. Unquoted. */
void body_value_text(body_t *b, const symtask_value_t *v);

/* Whether @s (@len bytes) is a number in JSON's grammar. */
int body_is_json_number(const char *s, size_t len);

/* @text with every NaN, Infinity and -Infinity outside strings made null, so that jansson
 * reads what some servers write; malloc'd, NULL when out of memory. */
char *body_lenient_json(const char *text, size_t len, size_t *out_len);

#endif
