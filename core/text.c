/* text.c: a growing text buffer, and the JSON writing the daemon's answers need. */
#include "text.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void text_init(text_t *t, char *buf, size_t size)
{
    *t = (text_t){.data = buf, .cap = buf != NULL ? size : 0};
}

void text_free(text_t *t)
{
    if (t->on_heap)
        free(t->data);
    *t = (text_t){0};
}

/* Makes room for @more bytes and a NUL after them; false when out of memory. */
static bool text_reserve(text_t *t, size_t more)
{
    if (t->failed)
        return false;
    if (more < t->cap - t->len)
        return true;
    size_t cap = t->cap > 0 ? t->cap : 256;
    while (cap - t->len <= more) {
        if (cap > SIZE_MAX / 2) {
            t->failed = true;
            return false;
        }
        cap *= 2;
    }
    char *grown = t->on_heap ? realloc(t->data, cap) : malloc(cap);
    if (grown == NULL) {
        t->failed = true;
        return false;
    }
    if (!t->on_heap && t->len > 0)
        memcpy(grown, t->data, t->len);
    t->data = grown;
    t->cap = cap;
    t->on_heap = true;
    return true;
}

void text_append(text_t *t, const char *s, size_t len)
{
    if (!text_reserve(t, len))
        return;
    memcpy(t->data + t->len, s, len);
    t->len += len;
    t->data[t->len] = '\0';
}

void text_puts(text_t *t, const char *s)
{
    text_append(t, s, strlen(s));
}

void text_printf(text_t *t, const char *fmt, ...)
{
    /* Formatted into the room there is; formatted again only when that was too small. */
    for (int tries = 0; tries < 2 && !t->failed; tries++) {
        size_t room = t->cap - t->len;
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(room > 0 ? t->data + t->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = true;
            return;
        }
        if ((size_t)n < room) {
            t->len += (size_t)n;
            return;
        }
        text_reserve(t, (size_t)n);
    }
}

/* Length of the valid UTF-8 sequence at @p (at most @left bytes), 0 when it is not one:
 * no overlong forms, surrogates or code points above U+10FFFF, as jansson checks. */
static size_t utf8_sequence(const unsigned char *p, size_t left)
{
    size_t n;
    unsigned cp;
    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        n = 2, cp = p[0] & 0x1f;
    else if (p[0] >= 0xe0 && p[0] <= 0xef)
        n = 3, cp = p[0] & 0x0f;
    else if (p[0] >= 0xf0 && p[0] <= 0xf4)
        n = 4, cp = p[0] & 0x07;
    else
        return 0;
    if (n > left)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

void text_json_string(text_t *t, const char *s, size_t len)
{
    /* The worst case is 6 bytes (\u00XX) per byte, plus the quotes. */
    if (len > (SIZE_MAX - 2) / 6) {
        t->failed = true;
        return;
    }
    if (!text_reserve(t, len * 6 + 2))
        return;
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    char *o = t->data + t->len;
    *o++ = '"';
    while (p < end) {
        unsigned char c = *p;
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            *o++ = (char)c;
            p++;
            continue;
        }
        if (c >= 0x80) {
            size_t n = utf8_sequence(p, (size_t)(end - p));
            if (n == 0) {
                *o++ = '?';
                p++;
            } else {
                memcpy(o, p, n);
                o += n;
                p += n;
            }
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"':
        case '\\':
            *o++ = (char)c;
            break;
        case '\b':
            *o++ = 'b';
            break;
        case '\f':
            *o++ = 'f';
            break;
        case '\n':
            *o++ = 'n';
            break;
        case '\r':
            *o++ = 'r';
            break;
        case '\t':
            *o++ = 't';
            break;
        default:
            memcpy(o, "u00", 3);
            o[3] = hex[c >> 4];
            o[4] = hex[c & 15];
            o += 5;
        }
        p++;
    }
    *o++ = '"';
    t->len = (size_t)(o - t->data);
    t->data[t->len] = '\0';
}

static int text_dump_callback(const char *buffer, size_t size, void *data)
{
    text_t *t = data;
    text_append(t, buffer, size);
    return t->failed ? -1 : 0;
}

void text_json_value(text_t *t, const json_t *value)
{
    if (json_dump_callback(value, text_dump_callback, t, JSON_COMPACT | JSON_ENCODE_ANY) != 0)
        t->failed = true;
}
