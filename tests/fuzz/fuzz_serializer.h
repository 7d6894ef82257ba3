/* fuzz_serializer.h: what the serializer targets (fuzz_record.c, fuzz_fields.c) share: the
 * plugins compiled in and their params, jansson's reading of JSON with its workarounds, and
 * csv/README.md's reading of a CSV line. Private to tests/fuzz/. */
#ifndef SYMTASK_TESTS_FUZZ_SERIALIZER_H
#define SYMTASK_TESTS_FUZZ_SERIALIZER_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fuzz_util.h"
#include "symtask/plugin.h"

/* Both plugin sources define symtask_plugin_entry; the build renames them
 * (-Dsymtask_plugin_entry=json_plugin_entry, tests/fuzz/meson.build). */
const symtask_plugin_t *json_plugin_entry(const symtask_host_t *host);
const symtask_plugin_t *csv_plugin_entry(const symtask_host_t *host);

/* The json serializer's nesting limit (json/README.md): the record's object is level 1. */
#define JSON_DEPTH_MAX 64

/* A task's params as the targets serve them: key, value pairs ended by a NULL key. The
 * loader's own (plugin_params_new) need a plugin_t, which only plugin_load() makes from a
 * .so; these plugins are linked in. */
typedef struct fuzz_params {
    const symtask_plugin_t *plugin;
    const char *const *pairs;
} fuzz_params_t;

/* host->param: the task's value, else the option table's default, as the loader serves it. */
static inline const char *fuzz_param(const symtask_params_t *params, const char *key)
{
    const fuzz_params_t *fp = (const fuzz_params_t *)params;
    for (const char *const *kv = fp->pairs; kv[0] != NULL; kv += 2)
        if (strcmp(kv[0], key) == 0)
            return kv[1];
    for (const symtask_option_t *opt = fp->plugin->options; opt != NULL && opt->name != NULL; opt++)
        if (strcmp(opt->name, key) == 0)
            return opt->default_value;
    return NULL;
}

static inline int same_bits(double a, double b)
{
    return memcmp(&a, &b, sizeof(a)) == 0;
}

static inline int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* ---- JSON as jansson reads it ------------------------------------------------------------ */

static inline int is_number_byte(unsigned char c)
{
    return is_digit(c) || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

/* Whether [p, end) is one number of RFC 8259's grammar. */
static inline int json_number(const char *p, const char *end)
{
    if (p < end && *p == '-')
        p++;
    if (p == end || !is_digit((unsigned char)*p))
        return 0;
    if (*p++ != '0')
        while (p < end && is_digit((unsigned char)*p))
            p++;
    if (p < end && *p == '.') {
        if (++p == end || !is_digit((unsigned char)*p))
            return 0;
        while (p < end && is_digit((unsigned char)*p))
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        if (++p < end && (*p == '+' || *p == '-'))
            p++;
        if (p == end || !is_digit((unsigned char)*p))
            return 0;
        while (p < end && is_digit((unsigned char)*p))
            p++;
    }
    return p == end;
}

/* Replaces the number that ends at @end with 0 or -0 and spaces, which keep every offset
 * and the tokens around it. Returns -1 when no number ends there. The number is the longest
 * run of number bytes before @end that is one number: in an invalid record such as
 * {"a":2.25-1e999}, which jansson reads as two numbers and must go on refusing, that is
 * -1e999, and -0 keeps it a second number. */
static inline int blank_number(char *text, size_t end)
{
    size_t start = end, sign;
    while (start > 0 && is_number_byte((unsigned char)text[start - 1]))
        start--;
    while (start < end && !json_number(text + start, text + end))
        start++;
    if (start == end)
        return -1;
    sign = text[start] == '-';
    text[start + sign] = '0';
    memset(text + start + sign + 1, ' ', end - start - sign - 1);
    return 0;
}

/* Reads \u0000 escapes in @text as \u0001 (see jansson_read). */
static inline void hide_nul_escapes(char *text, size_t size)
{
    for (size_t i = 0; i + 6 <= size; i++)
        if (memcmp(text + i, "\\u0000", 6) == 0)
            text[i + 5] = '1';
}

/* jansson's reading of @size bytes of the mutable @text with @flags, numbers as reals, each
 * number beyond the double range blanked in @text (blank_number) and counted in *@overflows.
 * @text holds no raw NUL byte. */
static inline json_t *jansson_read_in_place(char *text, size_t size, size_t flags, int *overflows,
                                            json_error_t *err)
{
    json_t *doc;
    for (;;) {
        doc = json_loadb(text, size, flags | JSON_DECODE_INT_AS_REAL, err);
        if (doc != NULL || json_error_code(err) != json_error_numeric_overflow ||
            err->position < 0 || (size_t)err->position > size ||
            blank_number(text, (size_t)err->position) < 0)
            return doc;
        ++*overflows;
    }
}

/* jansson's reading of @size bytes with @flags, numbers as reals (strtod, as the plugin must
 * read them; as integers jansson would refuse 20 digits and drop the sign of -0).
 *
 * A raw NUL byte is refused here: jansson skips one that follows a token it looked past (its
 * stream takes a NUL in the look-ahead buffer for an empty buffer), so it takes {"x1":1\0},
 * yet RFC 8259 allows a NUL nowhere unescaped.
 *
 * Two of jansson's refusals concern valid JSON and are worked around on a copy, so that the
 * comparison still covers the rest of the record:
 *  - a \u0000 escape: refused in a string without JSON_ALLOW_NUL and in a key always. It is
 *    read as \u0001, which no feature or output name holds either, so no key starts or stops
 *    matching one (a "\\u0000" that is not an escape changes text only).
 *  - a number beyond the double range (json_error_numeric_overflow), which the plugin refuses
 *    only as a feature's value: it becomes 0, counted in *@overflows. */
static inline json_t *jansson_read(const void *data, size_t size, size_t flags, int *overflows,
                                   json_error_t *err)
{
    char *copy;
    json_t *doc;

    *overflows = 0;
    if (memchr(data, '\0', size) != NULL) {
        memset(err, 0, sizeof(*err));
        snprintf(err->text, sizeof(err->text), "a raw NUL byte");
        err->position = (int)((const char *)memchr(data, '\0', size) - (const char *)data);
        return NULL;
    }
    copy = fuzz_dup(data, size, 0);
    hide_nul_escapes(copy, size);
    doc = jansson_read_in_place(copy, size, flags, overflows, err);
    free(copy);
    return doc;
}

/* Nesting of containers: 1 for an object of scalars, 0 for a scalar. */
static inline int depth_of(json_t *v)
{
    int max = 0, d;
    size_t i;
    const char *key;
    json_t *child;

    if (json_is_object(v)) {
        json_object_foreach (v, key, child)
            if ((d = depth_of(child)) > max)
                max = d;
    } else if (json_is_array(v)) {
        json_array_foreach (v, i, child)
            if ((d = depth_of(child)) > max)
                max = d;
    } else {
        return 0;
    }
    return 1 + max;
}

/* ---- CSV as csv/README.md reads it ------------------------------------------------------- */

typedef struct csv_field {
    size_t start, end; /* the field's bytes, without the quotes of a quoted one */
    int quoted;
} csv_field_t;

/* The fields of @line as csv/README.md reads it (RFC 4180: a quote opens a field and its
 * closing quote ends it, "" is a quote inside, no quote in an unquoted field, no line break
 * outside quotes). Stores the first @cap; returns how many there are, or -1 when the line is
 * not well-formed. */
static inline long csv_reference_split(const unsigned char *line, size_t len, unsigned char delim,
                                       csv_field_t *fields, size_t cap)
{
    size_t i = 0;
    long n = 0;
    for (;;) {
        csv_field_t f = {.quoted = 0};
        if (i < len && line[i] == '"') {
            f.quoted = 1;
            f.start = ++i;
            while (i < len && (line[i] != '"' || (i + 1 < len && line[i + 1] == '"')))
                i += line[i] == '"' ? 2 : 1;
            if (i >= len)
                return -1;
            f.end = i++;
            if (i < len && line[i] != delim)
                return -1;
        } else {
            f.start = i;
            for (; i < len && line[i] != delim; i++)
                if (line[i] == '"' || line[i] == '\n' || line[i] == '\r')
                    return -1;
            f.end = i;
        }
        if ((size_t)n < cap)
            fields[n] = f;
        n++;
        if (i == len)
            return n;
        i++; /* the delimiter */
    }
}

/* Whether [p, end) is a number as csv/README.md defines one: an optional sign, digits with an
 * optional decimal point and at least one digit, an optional exponent. */
static inline int csv_reference_number(const unsigned char *p, const unsigned char *end)
{
    int digits = 0;
    if (p < end && (*p == '+' || *p == '-'))
        p++;
    for (; p < end && is_digit(*p); p++)
        digits++;
    if (p < end && *p == '.')
        for (p++; p < end && is_digit(*p); p++)
            digits++;
    if (digits == 0)
        return 0;
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p == end || !is_digit(*p))
            return 0;
        while (p < end && is_digit(*p))
            p++;
    }
    return p == end;
}

/* Whether [p, end) is NaN in any case, optionally signed: a missing value. */
static inline int csv_reference_nan(const unsigned char *p, const unsigned char *end)
{
    if (p < end && (*p == '+' || *p == '-'))
        p++;
    return end - p == 3 && (p[0] | 0x20) == 'n' && (p[1] | 0x20) == 'a' && (p[2] | 0x20) == 'n';
}

/* strtod of the @len bytes at @p, which hold a number. */
static inline double fuzz_strtod(const void *p, size_t len)
{
    char text[512], *copy = text;
    double v;
    if (len >= sizeof(text))
        copy = fuzz_dup(p, len, 1);
    else {
        memcpy(text, p, len);
        text[len] = '\0';
    }
    v = strtod(copy, NULL);
    if (copy != text)
        free(copy);
    return v;
}

#endif
