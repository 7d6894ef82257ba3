/* body.c: request bodies and lenient answers of the model-server plugins. */
#include "body.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtoa.h"

void body_reset(body_t *b)
{
    b->len = 0;
    b->failed = 0;
    if (b->data != NULL)
        b->data[0] = '\0';
}

void body_free(body_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void body_append(body_t *b, const void *data, size_t len)
{
    if (b->failed)
        return;
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + len + 1)
            cap *= 2;
        char *grown = realloc(b->data, cap);
        if (grown == NULL) {
            b->failed = 1;
            return;
        }
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void body_puts(body_t *b, const char *s)
{
    body_append(b, s, strlen(s));
}

void body_json_string(body_t *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t start = 0;

    body_append(b, "\"", 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        body_append(b, s + start, i - start);
        start = i + 1;
        if (c == '"')
            body_append(b, "\\\"", 2);
        else if (c == '\\')
            body_append(b, "\\\\", 2);
        else if (c == '\n')
            body_append(b, "\\n", 2);
        else if (c == '\t')
            body_append(b, "\\t", 2);
        else if (c == '\r')
            body_append(b, "\\r", 2);
        else {
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            body_append(b, u, 6);
        }
    }
    body_append(b, s + start, len - start);
    body_append(b, "\"", 1);
}

void body_json_number(body_t *b, double d)
{
    char text[DTOA_MAX];
    size_t n = dtoa_shortest(d, text);
    body_append(b, text, n);
}

void body_value_text(body_t *b, const symtask_value_t *v)
{
    switch (v->type) {
    case SYMTASK_TYPE_NUMBER:
        if (!isfinite(v->number))
            return;
        if (v->text != NULL && v->len > 0)
            body_append(b, v->text, v->len);
        else
            body_json_number(b, v->number);
        return;
    case SYMTASK_TYPE_BOOL:
        body_puts(b, v->boolean ? "true" : "false");
        return;
    case SYMTASK_TYPE_STRING:
    case SYMTASK_TYPE_NESTED:
        body_append(b, v->text != NULL ? v->text : "", v->text != NULL ? v->len : 0);
        return;
    default:
        return;
    }
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

int body_is_json_number(const char *s, size_t len)
{
    size_t i = 0;

    if (i < len && s[i] == '-')
        i++;
    if (i >= len)
        return 0;
    if (s[i] == '0')
        i++;
    else if (is_digit(s[i]))
        while (i < len && is_digit(s[i]))
            i++;
    else
        return 0;
    if (i < len && s[i] == '.') {
        i++;
        if (i >= len || !is_digit(s[i]))
            return 0;
        while (i < len && is_digit(s[i]))
            i++;
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= len || !is_digit(s[i]))
            return 0;
        while (i < len && is_digit(s[i]))
            i++;
    }
    return i == len;
}

static int word_at(const char *text, size_t len, size_t i, const char *word)
{
    size_t n = strlen(word);
    return len - i >= n && memcmp(text + i, word, n) == 0;
}

char *body_lenient_json(const char *text, size_t len, size_t *out_len)
{
    /* "null" is at most one byte longer than what it replaces ("NaN"). */
    char *out = malloc(len + len / 3 + 2);
    size_t o = 0;
    int in_string = 0;

    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (in_string) {
            out[o++] = c;
            if (c == '\\' && i + 1 < len)
                out[o++] = text[++i];
            else if (c == '"')
                in_string = 0;
            continue;
        }
        if (c == '"')
            in_string = 1;
        else if (word_at(text, len, i, "-Infinity")) {
            memcpy(out + o, "null", 4);
            o += 4;
            i += 8;
            continue;
        } else if (word_at(text, len, i, "Infinity")) {
            memcpy(out + o, "null", 4);
            o += 4;
            i += 7;
            continue;
        } else if (word_at(text, len, i, "NaN")) {
            memcpy(out + o, "null", 4);
            o += 4;
            i += 2;
            continue;
        }
        out[o++] = c;
    }
    out[o] = '\0';
    *out_len = o;
    return out;
}
