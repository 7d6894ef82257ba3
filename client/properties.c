/* properties.c: Java properties files, as java.util.Properties.load reads them (see
 * properties.h). */
#include "properties.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct buf {
    char *data;
    size_t len, cap;
} buf_t;

static void fail(char *errstr, size_t errstr_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(char *errstr, size_t errstr_size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errstr, errstr_size, fmt, ap);
    va_end(ap);
}

static int buf_add(buf_t *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *grown = malloc(cap);
        if (grown == NULL)
            return -1;
        /* no realloc: the old copy may hold a secret and is wiped first */
        if (b->data != NULL) {
            memcpy(grown, b->data, b->len);
            sodium_memzero(b->data, b->cap);
            free(b->data);
        }
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

static void buf_wipe(buf_t *b)
{
    if (b->data != NULL)
        sodium_memzero(b->data, b->cap);
    free(b->data);
    *b = (buf_t){0};
}

/* Java's whitespace between and around keys and values. */
static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\f';
}

static bool is_eol(char c)
{
    return c == '\n' || c == '\r';
}

/* Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF. */
static bool utf8_valid(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t n;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            n = 1, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (i + n >= len)
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n + 1;
    }
    return true;
}

/* Writes code point @cp as UTF-8 into @out (4 bytes of room); returns the bytes written. */
static size_t utf8_put(char *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* ISO 8859-1 maps each byte to the code point of its value. */
static int latin1_to_utf8(const char *s, size_t len, buf_t *out)
{
    for (size_t i = 0; i < len; i++) {
        char u[4];
        if (buf_add(out, u, utf8_put(u, (unsigned char)s[i])) != 0)
            return -1;
    }
    return 0;
}

/* Steps over the line terminator at *pos (\r\n is one). */
static void skip_eol(const char *t, size_t len, size_t *pos)
{
    if (t[*pos] == '\r' && *pos + 1 < len && t[*pos + 1] == '\n')
        (*pos)++;
    (*pos)++;
}

/* Reads the next logical line from *pos into @line as it is written (escapes kept, line
 * continuations and the whitespace that starts a continued line removed), stepping over
 * blank lines and comments. *lineno counts the natural lines consumed; *start gets the one
 * the logical line starts on. Returns 1, 0 at the end of the text, -1 out of memory. */
static int next_line(const char *t, size_t len, size_t *pos, unsigned *lineno, unsigned *start,
                     buf_t *line)
{
    for (;;) {
        while (*pos < len && is_ws(t[*pos]))
            (*pos)++;
        if (*pos >= len)
            return 0;
        if (is_eol(t[*pos])) {
            skip_eol(t, len, pos);
            (*lineno)++;
            continue;
        }
        if (t[*pos] == '#' || t[*pos] == '!') {
            /* a comment is one natural line: a backslash at its end continues nothing */
            while (*pos < len && !is_eol(t[*pos]))
                (*pos)++;
            if (*pos < len)
                skip_eol(t, len, pos);
            (*lineno)++;
            continue;
        }
        *start = *lineno;
        line->len = 0;
        if (buf_add(line, "", 0) != 0)
            return -1;
        for (;;) {
            size_t from = *pos;
            while (*pos < len && !is_eol(t[*pos]))
                (*pos)++;
            size_t end = *pos, backslashes = 0;
            while (end - backslashes > from && t[end - backslashes - 1] == '\\')
                backslashes++;
            bool continued = backslashes % 2 == 1;
            /* A continuation's backslash goes, also before the end of the text. */
            if (buf_add(line, t + from, end - from - (continued ? 1 : 0)) != 0)
                return -1;
            if (*pos < len) {
                skip_eol(t, len, pos);
                (*lineno)++;
            }
            /* A line that continues nothing yet (a lone backslash) leaves a new logical line
             * to start on the next one, which may be a comment (as in Java 9 and later). */
            if (!continued || *pos >= len || line->len == 0)
                break;
            while (*pos < len && is_ws(t[*pos]))
                (*pos)++;
            /* a continuation onto a blank line ends the logical line there */
            if (*pos < len && is_eol(t[*pos])) {
                skip_eol(t, len, pos);
                (*lineno)++;
                break;
            }
        }
        /* Nothing but continuations is no entry. */
        if (line->len > 0)
            return 1;
    }
}

static int hex4(const char *s, size_t n, uint32_t *out)
{
    uint32_t v = 0;
    if (n < 4)
        return -1;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return -1;
        v = v << 4 | (uint32_t)d;
    }
    *out = v;
    return 0;
}

/* Resolves the escapes of @raw (@n bytes) into a new string in *out. Returns 0, -1 with the
 * reason in @errstr, -2 out of memory. */
static int unescape(const char *raw, size_t n, unsigned lineno, char **out, char *errstr,
                    size_t errstr_size)
{
    buf_t b = {0};
    int rc = -2;
    if (buf_add(&b, "", 0) != 0)
        goto error;
    for (size_t i = 0; i < n; i++) {
        char c = raw[i], u[4];
        size_t ulen = 1;
        if (c != '\\') {
            u[0] = c;
        } else if (++i == n) {
            break; /* cannot happen: an odd backslash at the end continued the line */
        } else if (raw[i] == 'u') {
            uint32_t cp, low;
            if (hex4(raw + i + 1, n - i - 1, &cp) != 0) {
                fail(errstr, errstr_size,
                     "line %u: malformed \\uXXXX escape: \\u must be followed by 4 hex digits",
                     lineno);
                rc = -1;
                goto error;
            }
            i += 4;
            if (cp >= 0xd800 && cp <= 0xdbff) {
                if (i + 2 < n && raw[i + 1] == '\\' && raw[i + 2] == 'u' &&
                    hex4(raw + i + 3, n - i - 3, &low) == 0 && low >= 0xdc00 && low <= 0xdfff) {
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
                    i += 6;
                } else {
                    fail(errstr, errstr_size,
                         "line %u: \\u%04X is the first half of a UTF-16 surrogate pair, but no "
                         "\\uDC00 to \\uDFFF follows it",
                         lineno, (unsigned)cp);
                    rc = -1;
                    goto error;
                }
            } else if (cp >= 0xdc00 && cp <= 0xdfff) {
                fail(errstr, errstr_size,
                     "line %u: \\u%04X is the second half of a UTF-16 surrogate pair, without "
                     "its first half (\\uD800 to \\uDBFF) before it",
                     lineno, (unsigned)cp);
                rc = -1;
                goto error;
            }
            ulen = utf8_put(u, cp);
        } else {
            switch (raw[i]) {
            case 't':
                u[0] = '\t';
                break;
            case 'n':
                u[0] = '\n';
                break;
            case 'r':
                u[0] = '\r';
                break;
            case 'f':
                u[0] = '\f';
                break;
            default:
                u[0] = raw[i]; /* \= \: \# \! \\ \<space> and any other: the character */
            }
        }
        if (buf_add(&b, u, ulen) != 0)
            goto error;
    }
    if (memchr(b.data, '\0', b.len) != NULL) {
        fail(errstr, errstr_size,
             "line %u: a NUL character (\\u0000 or a NUL byte) cannot be part of a key or a "
             "value",
             lineno);
        rc = -1;
        goto error;
    }
    *out = b.data;
    return 0;

error:
    buf_wipe(&b);
    return rc;
}

/* Splits logical line @line into an entry as Java does: the key ends at the first '=', ':'
 * or whitespace that is not escaped. */
static int split_entry(const buf_t *line, unsigned lineno, props_entry_t *e, char *errstr,
                       size_t errstr_size)
{
    const char *l = line->data;
    size_t n = line->len, k, value_at = n;
    bool escaped = false, separator = false;
    for (k = 0; k < n; k++) {
        char c = l[k];
        if (!escaped && (c == '=' || c == ':')) {
            separator = true;
            value_at = k + 1;
            break;
        }
        if (!escaped && is_ws(c)) {
            value_at = k + 1;
            break;
        }
        escaped = c == '\\' && !escaped;
    }
    while (value_at < n) {
        char c = l[value_at];
        if (!is_ws(c)) {
            if (separator || (c != '=' && c != ':'))
                break;
            separator = true;
        }
        value_at++;
    }
    e->line = lineno;
    /* Whitespace at the end of the value is kept, as Java keeps it, but it is seldom meant:
     * the caller says so. Escaped ("\ ") it is meant. */
    if (value_at < n && is_ws(l[n - 1])) {
        size_t j = n - 1, backslashes = 0;
        while (j > value_at && l[j - 1] == '\\') {
            j--;
            backslashes++;
        }
        e->trailing_space = backslashes % 2 == 0;
    }
    int rc = unescape(l, k, lineno, &e->key, errstr, errstr_size);
    if (rc == 0)
        rc = unescape(l + value_at, n - value_at, lineno, &e->value, errstr, errstr_size);
    return rc;
}

int props_parse(const char *text, size_t len, props_t *out, char *errstr, size_t errstr_size)
{
    buf_t converted = {0}, line = {0};
    size_t pos = 0, cap = 0;
    unsigned lineno = 1, start = 1;
    int rc = -1;

    *out = (props_t){0};
    /* Java keeps a byte order mark as part of the first key; an editor's BOM is no key. */
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
        text += 3;
        len -= 3;
    }
    if (!utf8_valid((const unsigned char *)text, len)) {
        if (latin1_to_utf8(text, len, &converted) != 0)
            goto oom;
        text = converted.data;
        len = converted.len;
        out->latin1 = true;
    }
    for (;;) {
        int got = next_line(text, len, &pos, &lineno, &start, &line);
        if (got < 0)
            goto oom;
        if (got == 0)
            break;
        if (out->count == cap) {
            cap = cap ? cap * 2 : 16;
            props_entry_t *grown = realloc(out->entries, cap * sizeof(*grown));
            if (grown == NULL)
                goto oom;
            out->entries = grown;
        }
        props_entry_t *e = &out->entries[out->count];
        *e = (props_entry_t){0};
        int split = split_entry(&line, start, e, errstr, errstr_size);
        out->count++; /* freed with the others, also when half made */
        if (split == -2)
            goto oom;
        if (split != 0)
            goto error;
    }
    rc = 0;
    goto done;

oom:
    fail(errstr, errstr_size, "out of memory");
error:
    props_free(out);
done:
    buf_wipe(&converted);
    buf_wipe(&line);
    return rc;
}

static void wipe_free(char *s)
{
    if (s != NULL)
        sodium_memzero(s, strlen(s));
    free(s);
}

void props_free(props_t *props)
{
    for (size_t i = 0; i < props->count; i++) {
        wipe_free(props->entries[i].key);
        wipe_free(props->entries[i].value);
    }
    free(props->entries);
    *props = (props_t){0};
}
