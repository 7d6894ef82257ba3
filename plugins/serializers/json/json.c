/* json.c: the "json" serializer: each message value is one JSON object; features are read
 * from its top-level keys and the outputs are appended to the original bytes. */
#include <float.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "symtask/plugin.h"

/* Deepest nesting of objects and arrays accepted; the record's own object is level 1. */
#define JSON_MAX_DEPTH 64

/* What a top-level value turned out to be. */
typedef enum json_kind {
    JSON_KIND_ABSENT = 0,
    JSON_KIND_NULL,
    JSON_KIND_NUMBER,
    JSON_KIND_STRING,
    JSON_KIND_BOOL,
    JSON_KIND_OBJECT,
    JSON_KIND_ARRAY,
} json_kind_t;

typedef struct json_feature {
    const char *name;
    size_t len;
    size_t next_same; /* next feature of the same name, or SIZE_MAX */
    int repeat;       /* not the first feature of its name */
    /* The member's key as a record usually spells it, `"name":`, for decode's shortcut
     * (json_decode_fast), and its first 8 bytes as a word with a mask of those it has; none
     * (prefix_len 0) when the name is not plain ASCII. */
    char *prefix;
    size_t prefix_len;
    uint64_t prefix_word, prefix_mask;
    /* The last value the record gives, set by decode. */
    json_kind_t kind;
    const unsigned char *value;
    size_t value_len;
    int number_ready; /* number holds the value (else json_number() converts it) */
    double number;
} json_feature_t;

typedef struct json_output {
    const char *name;
    size_t len;
    char *member; /* `,"name":` with the name escaped */
    size_t member_len;
    char *quoted; /* `"name"` as raw bytes, for the collision pre-check */
    size_t quoted_len;
} json_output_t;

typedef struct json_state {
    const symtask_host_t *host;
    locale_t c_locale; /* strtod_l: numbers read the same whatever the process locale */
    json_feature_t *features;
    size_t n_features;
    uint32_t *table; /* open addressing: feature index + 1, 0 when empty */
    size_t table_mask;
    json_output_t *outputs;
    size_t n_outputs;
    char *key_buf; /* an escaped key, unescaped, when it may match a name */
    size_t key_cap;
    symtask_field_t *scratch; /* the fields decode_fields() gathers */
    size_t n_scratch, scratch_cap;
} json_state_t;

/* ---- The scanner ------------------------------------------------------------------------ */

/* Bytes that may appear unescaped in a string without a closer look. */
static const unsigned char json_plain[256] = {
    [0x20] = 1,
    [0x21] = 1,
    [0x23 ... 0x5b] = 1,
    [0x5d ... 0x7f] = 1,
};

#define JSON_WHY_UNEXPECTED ((const char *)1)

typedef struct json_scan {
    const unsigned char *base, *p, *end;
    const unsigned char *err_at;
    const char *why; /* JSON_WHY_UNEXPECTED: the byte at err_at is wrong */
} json_scan_t;

/* One member of the top-level object, as handed to a visitor. */
typedef struct json_member {
    const unsigned char *start; /* the key's opening quote */
    const unsigned char *key;   /* the key's raw bytes, without quotes */
    size_t key_len;
    int key_escaped;
    const unsigned char *value;
    size_t value_len;
    json_kind_t kind;
    int value_escaped; /* a string value with escapes */
    int number_ready;  /* a number whose value the scan already computed */
    double number;
} json_member_t;

typedef void (*json_visit_fn)(void *ctx, const json_member_t *member);

/* A visitor's shortcut for the member whose key opens at s->p: 1 when it scanned the member
 * itself, up to the end of its value (s->p past it), 0 when the scan should read the member
 * as usual (s->p unchanged), -1 on an error it set in @s, the one the usual scan would set. */
typedef int (*json_fast_fn)(void *ctx, json_scan_t *s);

static int json_fail(json_scan_t *s, const unsigned char *at, const char *why)
{
    s->err_at = at;
    s->why = why;
    return -1;
}

static inline const unsigned char *json_skip_ws(const unsigned char *p, const unsigned char *end)
{
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
}

static int json_hex4(const unsigned char *p, unsigned *cp)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= c - '0';
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
            v |= (c | 0x20) - 'a' + 10;
        else
            return -1;
    }
    *cp = v;
    return 0;
}

/* Length of the well-formed UTF-8 sequence at @p (Unicode table 3-7), 0 when ill-formed. */
static size_t json_utf8_len(const unsigned char *p, const unsigned char *end)
{
    unsigned char c = p[0];
    size_t n;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else
        return 0;
    if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return n;
}

/* Scans the string at s->p (its opening quote). */
static int json_scan_string(json_scan_t *s, int *escaped)
{
    const unsigned char *p = s->p + 1, *end = s->end;
    int esc = 0;
    for (;;) {
        while (p < end && json_plain[*p])
            p++;
        if (p == end)
            return json_fail(s, p, "unterminated string");
        unsigned char c = *p;
        if (c == '"')
            break;
        if (c == '\\') {
            esc = 1;
            if (end - p < 2)
                return json_fail(s, end, "unterminated string");
            switch (p[1]) {
            case '"':
            case '\\':
            case '/':
            case 'b':
            case 'f':
            case 'n':
            case 'r':
            case 't':
                p += 2;
                continue;
            case 'u':
                break;
            default:
                return json_fail(s, p, "invalid escape in string");
            }
            unsigned cp, lo;
            if (end - p < 6)
                return json_fail(s, end, "unterminated string");
            if (json_hex4(p + 2, &cp) < 0)
                return json_fail(s, p, "invalid \\u escape");
            if (cp >= 0xdc00 && cp <= 0xdfff)
                return json_fail(s, p, "unpaired surrogate in \\u escape");
            if (cp >= 0xd800 && cp <= 0xdbff) {
                /* A high surrogate needs a \u escape of a low one right after it. */
                if ((end - p > 6 && p[6] != '\\') || (end - p > 7 && p[7] != 'u'))
                    return json_fail(s, p, "unpaired surrogate in \\u escape");
                if (end - p < 12)
                    return json_fail(s, end, "unterminated string");
                if (json_hex4(p + 8, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
                    return json_fail(s, p, "unpaired surrogate in \\u escape");
                p += 6;
            }
            p += 6;
            continue;
        }
        if (c < 0x20)
            return json_fail(s, p, "control character in string");
        size_t n = json_utf8_len(p, end);
        if (n == 0)
            return json_fail(s, p, "invalid UTF-8 in string");
        p += n;
    }
    s->p = p + 1;
    *escaped = esc;
    return 0;
}

static inline int json_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* Whether @c opens a number. */
static inline int json_number_start(unsigned char c)
{
    return c == '-' || json_digit(c);
}

static inline int json_is_digit(const unsigned char *p, const unsigned char *end)
{
    return p < end && json_digit(*p);
}

static const double json_pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                    1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                    1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* json_scan_number()'s shortcut for the numbers most records hold: up to 7 digits, maybe a
 * '.' and up to 7 more, no exponent, with 16 bytes readable from @p (past the sign), so no
 * digit needs a bounds check. Sets *@after and *@v (the correctly rounded value: at most 14
 * digits and a power of ten up to 1e7, one exact division) and returns 1; returns 0 for any
 * other number or an invalid one, which the full scan then reads. The loops branch on each
 * byte rather than compute lengths from a word of them: lengths repeat from record to
 * record, so the branches are predicted and the next member's scan need not wait for this
 * one's arithmetic. */
static inline int json_short_decimal(const unsigned char *p, const unsigned char **after, double *v)
{
    const unsigned char *q = p, *frac;
    uint64_t mant = 0;
    while (q - p < 7 && json_digit(*q))
        mant = mant * 10 + (uint64_t)(*q++ - '0');
    if (q == p || (q - p > 1 && *p == '0') || json_digit(*q))
        return 0;
    int k = 0;
    if (*q == '.') {
        frac = ++q;
        while (q - frac < 7 && json_digit(*q))
            mant = mant * 10 + (uint64_t)(*q++ - '0');
        k = (int)(q - frac);
        if (k == 0 || json_digit(*q))
            return 0;
    }
    if ((*q | 0x20) == 'e')
        return 0;
    *after = q;
    *v = k ? (double)mant / json_pow10[k] : (double)mant;
    return 1;
}

/* Scans the number at s->p per RFC 8259's grammar. For a top-level value (@m set), which is
 * usually a feature, it also gathers the digits and, when they fit in a double and the power
 * of ten is exact, computes the value with Clinger's fast path (one correctly rounded
 * operation, so the result is the correctly rounded value, as strtod's), with no second
 * pass over the digits: sets m->number_ready and m->number when it can; json_number()
 * converts the others. */
static inline __attribute__((always_inline)) int json_scan_number(json_scan_t *s, json_member_t *m)
{
    const unsigned char *p = s->p, *end = s->end;
    uint64_t mant = 0;
    int digits = 0, exp10 = 0, neg = 0;
    if (*p == '-') {
        neg = 1;
        p++;
    }
#if FLT_EVAL_METHOD == 0
    double quick;
    if (m != NULL && end - p >= 16 && json_short_decimal(p, &s->p, &quick)) {
        m->number = neg ? -quick : quick;
        m->number_ready = 1;
        return 0;
    }
#endif
    if (!json_is_digit(p, end))
        return json_fail(s, p, "expected a digit");
    if (*p == '0') {
        p++;
        if (json_is_digit(p, end))
            return json_fail(s, p - 1, "leading zero in number");
    } else {
        for (; json_is_digit(p, end); p++, digits++)
            mant = mant * 10 + (uint64_t)(*p - '0'); /* wraps past 19 digits: not used then */
    }
    if (p < end && *p == '.') {
        p++;
        if (!json_is_digit(p, end))
            return json_fail(s, p, "expected a digit after '.'");
        for (; json_is_digit(p, end); p++, exp10--) {
            if (mant == 0 && *p == '0')
                continue; /* leading zeros of the fraction are not significant */
            mant = mant * 10 + (uint64_t)(*p - '0');
            digits++;
        }
    }
    if (p < end && (*p | 0x20) == 'e') {
        int e = 0, eneg = 0;
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            eneg = *p++ == '-';
        if (!json_is_digit(p, end))
            return json_fail(s, p, "expected a digit in exponent");
        for (; json_is_digit(p, end); p++)
            if (e < 100000)
                e = e * 10 + (*p - '0');
        exp10 += eneg ? -e : e;
    }
    s->p = p;
    if (m == NULL)
        return 0;
#if FLT_EVAL_METHOD == 0
    if (mant == 0 && digits == 0) {
        m->number = neg ? -0.0 : 0.0;
        m->number_ready = 1;
    } else if (digits <= 19 && mant <= (UINT64_C(1) << 53) && exp10 >= -22 && exp10 <= 22) {
        double v = (double)mant;
        v = exp10 < 0 ? v / json_pow10[-exp10] : v * json_pow10[exp10];
        m->number = neg ? -v : v;
        m->number_ready = 1;
    }
#endif
    return 0;
}

static int json_scan_literal(json_scan_t *s, const char *word, size_t len)
{
    const unsigned char *p = s->p;
    for (size_t i = 0; i < len; i++)
        if (p + i == s->end || p[i] != (unsigned char)word[i])
            return json_fail(s, p + i, p + i == s->end ? NULL : JSON_WHY_UNEXPECTED);
    s->p = p + len;
    return 0;
}

static int json_scan_value(json_scan_t *s, int depth, json_kind_t *kind);

/* Scans the object or array at s->p, whose nesting level is @depth. */
static int json_scan_container(json_scan_t *s, int depth)
{
    const unsigned char *end = s->end;
    unsigned char close = *s->p == '{' ? '}' : ']';
    json_kind_t kind;
    int escaped;
    if (depth > JSON_MAX_DEPTH)
        return json_fail(s, s->p, "nested deeper than 64 levels");
    s->p = json_skip_ws(s->p + 1, end);
    if (s->p < end && *s->p == close) {
        s->p++;
        return 0;
    }
    for (;;) {
        if (close == '}') {
            if (s->p == end || *s->p != '"')
                return json_fail(s, s->p, s->p == end ? NULL : "expected a string key");
            if (json_scan_string(s, &escaped) < 0)
                return -1;
            s->p = json_skip_ws(s->p, end);
            if (s->p == end || *s->p != ':')
                return json_fail(s, s->p, s->p == end ? NULL : "expected ':'");
            s->p = json_skip_ws(s->p + 1, end);
        }
        if (json_scan_value(s, depth, &kind) < 0)
            return -1;
        s->p = json_skip_ws(s->p, end);
        if (s->p == end)
            return json_fail(s, end, NULL);
        if (*s->p == close) {
            s->p++;
            return 0;
        }
        if (*s->p != ',')
            return json_fail(s, s->p, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
        s->p = json_skip_ws(s->p + 1, end);
    }
}

/* Scans the value at s->p, inside a container of level @depth. */
static int json_scan_value(json_scan_t *s, int depth, json_kind_t *kind)
{
    int escaped;
    if (s->p == s->end)
        return json_fail(s, s->p, NULL);
    switch (*s->p) {
    case '{':
        *kind = JSON_KIND_OBJECT;
        return json_scan_container(s, depth + 1);
    case '[':
        *kind = JSON_KIND_ARRAY;
        return json_scan_container(s, depth + 1);
    case '"':
        *kind = JSON_KIND_STRING;
        return json_scan_string(s, &escaped);
    case 't':
        *kind = JSON_KIND_BOOL;
        return json_scan_literal(s, "true", 4);
    case 'f':
        *kind = JSON_KIND_BOOL;
        return json_scan_literal(s, "false", 5);
    case 'n':
        *kind = JSON_KIND_NULL;
        return json_scan_literal(s, "null", 4);
    case '-':
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
    case '8':
    case '9':
        *kind = JSON_KIND_NUMBER;
        return json_scan_number(s, NULL);
    default:
        return json_fail(s, s->p, JSON_WHY_UNEXPECTED);
    }
}

/* Validates the whole value as one JSON object and calls @visit for each top-level member,
 * in order, or @fast first when set: a member @fast takes is not visited. Inlined into each
 * caller, so that the visitor is a direct, inlined call: this loop is most of the json
 * serializer's time per record (bench/README.md). */
static inline __attribute__((always_inline)) int
json_scan_record(json_scan_t *s, json_visit_fn visit, json_fast_fn fast, void *ctx)
{
    const unsigned char *end = s->end;
    json_member_t m;
    s->p = json_skip_ws(s->p, end);
    if (s->p == end || *s->p != '{')
        return json_fail(s, s->p, s->p == end ? NULL : JSON_WHY_UNEXPECTED);
    s->p = json_skip_ws(s->p + 1, end);
    if (s->p < end && *s->p == '}') {
        s->p++;
    } else {
        for (;;) {
            if (s->p == end || *s->p != '"')
                return json_fail(s, s->p, s->p == end ? NULL : "expected a string key");
            int taken = fast ? fast(ctx, s) : 0;
            if (taken < 0)
                return -1;
            if (!taken) {
                m.start = s->p;
                m.key = m.start + 1;
                /* Most keys are plain ASCII: end them here, the rest in json_scan_string(). */
                const unsigned char *q = m.key;
                while (q < end && json_plain[*q])
                    q++;
                if (q < end && *q == '"') {
                    m.key_escaped = 0;
                    s->p = q + 1;
                } else if (json_scan_string(s, &m.key_escaped) < 0) {
                    return -1;
                }
                m.key_len = (size_t)(s->p - 1 - m.key);
                s->p = json_skip_ws(s->p, end);
                if (s->p == end || *s->p != ':')
                    return json_fail(s, s->p, s->p == end ? NULL : "expected ':'");
                s->p = json_skip_ws(s->p + 1, end);
                m.value = s->p;
                m.number_ready = 0;
                m.value_escaped = 0;
                if (s->p < end && json_number_start(*s->p)) {
                    m.kind = JSON_KIND_NUMBER;
                    if (json_scan_number(s, &m) < 0)
                        return -1;
                } else if (s->p < end && *s->p == '"') {
                    m.kind = JSON_KIND_STRING;
                    if (json_scan_string(s, &m.value_escaped) < 0)
                        return -1;
                } else if (json_scan_value(s, 1, &m.kind) < 0) {
                    return -1;
                }
                m.value_len = (size_t)(s->p - m.value);
                visit(ctx, &m);
            }
            s->p = json_skip_ws(s->p, end);
            if (s->p == end)
                return json_fail(s, end, NULL);
            if (*s->p == '}') {
                s->p++;
                break;
            }
            if (*s->p != ',')
                return json_fail(s, s->p, "expected ',' or '}'");
            s->p = json_skip_ws(s->p + 1, end);
        }
    }
    s->p = json_skip_ws(s->p, end);
    if (s->p != end)
        return json_fail(s, s->p, "unexpected data after the object");
    return 0;
}

static const char *json_kind_name(json_kind_t kind)
{
    switch (kind) {
    case JSON_KIND_STRING:
        return "a string";
    case JSON_KIND_BOOL:
        return "a boolean";
    case JSON_KIND_OBJECT:
        return "an object";
    case JSON_KIND_ARRAY:
        return "an array";
    case JSON_KIND_NULL:
        return "null";
    default:
        return "a number";
    }
}

/* Writes the message of a failed scan. */
static void json_scan_error(const json_scan_t *s, char *errstr, size_t errstr_size)
{
    size_t at = (size_t)(s->err_at - s->base);
    if (s->err_at == s->end) {
        snprintf(errstr, errstr_size, "not valid JSON at byte %zu: %s", at,
                 s->why ? s->why : "unexpected end of value");
    } else if (s->why == JSON_WHY_UNEXPECTED || s->why == NULL) {
        unsigned char c = *s->err_at;
        if (at == 0 || s->err_at == json_skip_ws(s->base, s->end)) {
            /* The first byte: say what the value is when it is JSON but not an object. */
            const char *what = c == '['                               ? "an array"
                               : c == '"'                             ? "a string"
                               : c == 't'                             ? "true"
                               : c == 'f'                             ? "false"
                               : c == 'n'                             ? "null"
                               : (c == '-' || (c >= '0' && c <= '9')) ? "a number"
                                                                      : NULL;
            if (what) {
                snprintf(errstr, errstr_size, "not a JSON object: the value is %s", what);
                return;
            }
        }
        if (c >= 0x20 && c < 0x7f)
            snprintf(errstr, errstr_size, "not valid JSON at byte %zu: unexpected '%c'", at, c);
        else
            snprintf(errstr, errstr_size, "not valid JSON at byte %zu: unexpected byte 0x%02X", at,
                     c);
    } else {
        snprintf(errstr, errstr_size, "not valid JSON at byte %zu: %s", at, s->why);
    }
}

/* Unescapes the raw key @key (already validated) into @buf; returns its length, or SIZE_MAX
 * when it needs more than @cap bytes. */
static size_t json_unescape(const unsigned char *key, size_t len, char *buf, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        unsigned char c = key[i];
        char tmp[4];
        size_t k = 1;
        unsigned cp, lo;
        if (c != '\\') {
            tmp[0] = (char)c;
            i++;
        } else {
            c = key[i + 1];
            i += 2;
            switch (c) {
            case 'b':
                tmp[0] = '\b';
                break;
            case 'f':
                tmp[0] = '\f';
                break;
            case 'n':
                tmp[0] = '\n';
                break;
            case 'r':
                tmp[0] = '\r';
                break;
            case 't':
                tmp[0] = '\t';
                break;
            case 'u':
                json_hex4(key + i, &cp);
                i += 4;
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    json_hex4(key + i + 2, &lo);
                    i += 6;
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                }
                if (cp < 0x80) {
                    tmp[0] = (char)cp;
                } else if (cp < 0x800) {
                    tmp[0] = (char)(0xc0 | (cp >> 6));
                    tmp[1] = (char)(0x80 | (cp & 0x3f));
                    k = 2;
                } else if (cp < 0x10000) {
                    tmp[0] = (char)(0xe0 | (cp >> 12));
                    tmp[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
                    tmp[2] = (char)(0x80 | (cp & 0x3f));
                    k = 3;
                } else {
                    tmp[0] = (char)(0xf0 | (cp >> 18));
                    tmp[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
                    tmp[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
                    tmp[3] = (char)(0x80 | (cp & 0x3f));
                    k = 4;
                }
                break;
            default: /* '"', '\\', '/' */
                tmp[0] = (char)c;
                break;
            }
        }
        if (n + k > cap)
            return SIZE_MAX;
        memcpy(buf + n, tmp, k);
        n += k;
    }
    return n;
}

/* The key of @m as plain bytes: the raw bytes, or its unescaped form in the key buffer.
 * Returns 0 when it cannot match a bound name (longer than every one). */
static int json_member_key(json_state_t *st, const json_member_t *m, const char **key, size_t *len)
{
    if (!m->key_escaped) {
        *key = (const char *)m->key;
        *len = m->key_len;
        return 1;
    }
    *len = json_unescape(m->key, m->key_len, st->key_buf, st->key_cap);
    *key = st->key_buf;
    return *len != SIZE_MAX;
}

/* ---- Numbers ---------------------------------------------------------------------------- */

/* The value of the valid JSON number at @p, followed in memory by a byte that ends it, when
 * json_scan_number() could not compute it. */
static double json_number(const json_state_t *st, const unsigned char *p)
{
    return strtod_l((const char *)p, NULL, st->c_locale);
}

/* ---- The plugin ------------------------------------------------------------------------- */

static void json_destroy(void *state)
{
    json_state_t *st = state;
    if (!st)
        return;
    for (size_t i = 0; i < st->n_outputs; i++) {
        free(st->outputs[i].member);
        free(st->outputs[i].quoted);
    }
    free(st->outputs);
    for (size_t i = 0; i < st->n_features; i++)
        free(st->features[i].prefix);
    free(st->features);
    free(st->table);
    free(st->key_buf);
    free(st->scratch);
    if (st->c_locale)
        freelocale(st->c_locale);
    free(st);
}

static symtask_status_t json_create(const symtask_host_t *host, const symtask_params_t *params,
                                    void **state, char *errstr, size_t errstr_size)
{
    json_state_t *st = calloc(1, sizeof(*st));
    if (!st)
        goto nomem;
    st->host = host;
    st->c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    if (!st->c_locale)
        goto nomem;
    *state = st;
    return SYMTASK_OK;
nomem:
    json_destroy(st);
    snprintf(errstr, errstr_size, "json serializer: out of memory");
    return SYMTASK_ERR_FATAL;
}

/* memcmp(a, b, len) == 0 for the short names features have, without a call. */
static inline int json_same_bytes(const char *a, const char *b, size_t len)
{
    while (len > 0 && *a == *b)
        a++, b++, len--;
    return len == 0;
}

static uint32_t json_hash(const char *s, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

/* The first feature named (@key, @len), or NULL. */
static json_feature_t *json_feature_find(json_state_t *st, const char *key, size_t len)
{
    for (size_t i = json_hash(key, len) & st->table_mask; st->table[i];
         i = (i + 1) & st->table_mask) {
        json_feature_t *f = &st->features[st->table[i] - 1];
        if (f->len == len && memcmp(f->name, key, len) == 0)
            return f;
    }
    return NULL;
}

/* Appends @name as the body of a JSON string (without quotes) to @out; returns the new
 * length. @out has room for 6 bytes per byte of @name. */
static size_t json_escape(const char *name, char *out)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if (*p == '"' || *p == '\\') {
            out[n++] = '\\';
            out[n++] = (char)*p;
        } else if (*p < 0x20) {
            memcpy(out + n, "\\u00", 4);
            out[n + 4] = hex[*p >> 4];
            out[n + 5] = hex[*p & 15];
            n += 6;
        } else {
            out[n++] = (char)*p;
        }
    }
    return n;
}

/* Sets @f's prefix when its name is plain ASCII, which a record's key spells as it is: the
 * keys decode's shortcut can take without reading them as strings. -1: out of memory. */
static int json_feature_prefix(json_feature_t *f)
{
    unsigned char mask[8] = {0};
    for (size_t i = 0; i < f->len; i++)
        if (!json_plain[(unsigned char)f->name[i]])
            return 0;
    f->prefix_len = f->len + 3;
    if (!(f->prefix = calloc(1, f->prefix_len < 8 ? 8 : f->prefix_len)))
        return -1;
    f->prefix[0] = '"';
    memcpy(f->prefix + 1, f->name, f->len);
    memcpy(f->prefix + 1 + f->len, "\":", 2);
    memset(mask, 0xff, f->prefix_len < 8 ? f->prefix_len : 8);
    memcpy(&f->prefix_word, f->prefix, sizeof(f->prefix_word));
    memcpy(&f->prefix_mask, mask, sizeof(f->prefix_mask));
    return 0;
}

static symtask_status_t json_bind(void *state, const char *const *features, size_t n_features,
                                  const char *const *outputs, size_t n_outputs, char *errstr,
                                  size_t errstr_size)
{
    json_state_t *st = state;
    size_t table_size = 8, max_len = 0;
    while (table_size < 2 * n_features)
        table_size *= 2;
    st->features = calloc(n_features ? n_features : 1, sizeof(*st->features));
    st->table = calloc(table_size, sizeof(*st->table));
    st->outputs = calloc(n_outputs ? n_outputs : 1, sizeof(*st->outputs));
    if (!st->features || !st->table || !st->outputs)
        goto nomem;
    st->table_mask = table_size - 1;
    st->n_features = n_features;
    for (size_t i = 0; i < n_features; i++) {
        json_feature_t *f = &st->features[i];
        f->name = features[i];
        f->len = strlen(features[i]);
        f->next_same = SIZE_MAX;
        if (f->len > max_len)
            max_len = f->len;
        json_feature_t *first = json_feature_find(st, f->name, f->len);
        if (first) { /* a name listed twice: chain it, both get the value */
            while (first->next_same != SIZE_MAX)
                first = &st->features[first->next_same];
            first->next_same = i;
            f->repeat = 1;
            continue;
        }
        if (json_feature_prefix(f) < 0) /* decode notes a name from its first feature */
            goto nomem;
        size_t j = json_hash(f->name, f->len) & st->table_mask;
        while (st->table[j])
            j = (j + 1) & st->table_mask;
        st->table[j] = (uint32_t)(i + 1);
    }
    for (size_t i = 0; i < n_outputs; i++) {
        json_output_t *o = &st->outputs[i];
        o->name = outputs[i];
        o->len = strlen(outputs[i]);
        st->n_outputs = i + 1;
        for (const unsigned char *p = (const unsigned char *)o->name; *p;) {
            size_t n = *p < 0x80 ? 1 : json_utf8_len(p, p + strlen((const char *)p));
            if (n == 0) {
                snprintf(errstr, errstr_size, "output '%.64s' is not valid UTF-8", o->name);
                return SYMTASK_ERR_FATAL;
            }
            p += n;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(outputs[j], o->name) == 0) {
                snprintf(errstr, errstr_size, "output '%.64s' is listed twice", o->name);
                return SYMTASK_ERR_FATAL;
            }
        }
        if (o->len > max_len)
            max_len = o->len;
        o->member = malloc(6 * o->len + 5);
        o->quoted = malloc(o->len + 2);
        if (!o->member || !o->quoted)
            goto nomem;
        o->member[0] = ',';
        o->member[1] = '"';
        o->member_len = 2 + json_escape(o->name, o->member + 2);
        memcpy(o->member + o->member_len, "\":", 2);
        o->member_len += 2;
        o->quoted[0] = '"';
        memcpy(o->quoted + 1, o->name, o->len);
        o->quoted[o->len + 1] = '"';
        o->quoted_len = o->len + 2;
    }
    st->key_cap = max_len;
    st->key_buf = malloc(max_len + 1);
    if (!st->key_buf)
        goto nomem;
    return SYMTASK_OK;
nomem:
    snprintf(errstr, errstr_size, "json serializer: out of memory");
    return SYMTASK_ERR_FATAL;
}

/* Decode's visitor: notes the value of each feature key. */
typedef struct json_decode_ctx {
    json_state_t *st;
    json_feature_t *bad; /* the first feature whose value is not a number or null */
    json_kind_t bad_kind;
    size_t next; /* the feature the next key probably names */
} json_decode_ctx_t;

/* Notes @m as the value of the feature @f (and of those of the same name). */
static inline void json_decode_note(json_decode_ctx_t *dc, json_feature_t *f,
                                    const json_member_t *m)
{
    dc->next = (size_t)(f - dc->st->features) + 1;
    if (m->kind != JSON_KIND_NUMBER && m->kind != JSON_KIND_NULL && !dc->bad) {
        dc->bad = f;
        dc->bad_kind = m->kind;
    }
    for (;;) { /* a duplicate key: the last one wins */
        f->kind = m->kind;
        f->value = m->value;
        f->value_len = m->value_len;
        f->number_ready = m->number_ready;
        f->number = m->number;
        if (f->next_same == SIZE_MAX)
            break;
        f = &dc->st->features[f->next_same];
    }
}

static void json_decode_visit(void *ctx, const json_member_t *m)
{
    json_decode_ctx_t *dc = ctx;
    const char *key;
    size_t len;
    if (!json_member_key(dc->st, m, &key, &len))
        return;
    json_feature_t *f = NULL;
    /* Records usually list the features in bind() order: try the one after the last hit. */
    if (dc->next < dc->st->n_features) {
        f = &dc->st->features[dc->next];
        if (f->repeat || f->len != len || !json_same_bytes(f->name, key, len))
            f = NULL;
    }
    if (!f && !(f = json_feature_find(dc->st, key, len)))
        return;
    json_decode_note(dc, f, m);
}

/* Decode's shortcut: a member whose key is spelt as the prefix of the feature the next key
 * probably names, with a number for value, is that feature's, without reading the key as a
 * string or looking it up; any other member is read as usual. */
static inline int json_decode_fast(void *ctx, json_scan_t *s)
{
    json_decode_ctx_t *dc = ctx;
    const unsigned char *p = s->p, *end = s->end;
    if (dc->next >= dc->st->n_features)
        return 0;
    json_feature_t *f = &dc->st->features[dc->next];
    if (f->prefix_len == 0)
        return 0;
    if (end - p >= 8) {
        uint64_t w;
        memcpy(&w, p, sizeof(w));
        if ((w ^ f->prefix_word) & f->prefix_mask)
            return 0;
    }
    if ((size_t)(end - p) < f->prefix_len ||
        (f->prefix_len > 8 &&
         !json_same_bytes(f->prefix + 8, (const char *)p + 8, f->prefix_len - 8)) ||
        (end - p < 8 && !json_same_bytes(f->prefix, (const char *)p, f->prefix_len)))
        return 0;
    p = json_skip_ws(p + f->prefix_len, end);
    if (p == end || !json_number_start(*p))
        return 0;
    json_member_t m = {.value = p, .kind = JSON_KIND_NUMBER};
    s->p = p;
    if (json_scan_number(s, &m) < 0)
        return -1;
    m.value_len = (size_t)(s->p - p);
    json_decode_note(dc, f, &m);
    return 1;
}

static symtask_status_t json_decode(void *state, const symtask_record_t *record, double *features,
                                    char *errstr, size_t errstr_size)
{
    json_state_t *st = state;
    json_decode_ctx_t dc = {.st = st};
    json_scan_t s = {.base = record->value, .p = record->value};
    s.end = s.base + record->len;
    if (record->len == 0) {
        snprintf(errstr, errstr_size, "not valid JSON at byte 0: empty value");
        return SYMTASK_ERR_RECORD;
    }
    for (size_t i = 0; i < st->n_features; i++)
        st->features[i].kind = JSON_KIND_ABSENT;
    if (json_scan_record(&s, json_decode_visit, json_decode_fast, &dc) < 0) {
        json_scan_error(&s, errstr, errstr_size);
        return SYMTASK_ERR_RECORD;
    }
    if (dc.bad) {
        snprintf(errstr, errstr_size, "feature '%.64s' is %s, not a number", dc.bad->name,
                 json_kind_name(dc.bad_kind));
        return SYMTASK_ERR_RECORD;
    }
    for (size_t i = 0; i < st->n_features; i++) {
        json_feature_t *f = &st->features[i];
        if (f->kind != JSON_KIND_NUMBER) {
            features[i] = NAN;
            continue;
        }
        /* The object was validated up to its '}', so a byte that ends the number follows. */
        features[i] = f->number_ready ? f->number : json_number(st, f->value);
        if (!isfinite(features[i])) {
            snprintf(errstr, errstr_size, "feature '%.64s' is %.*s%s, not a finite number", f->name,
                     (int)(f->value_len > 32 ? 32 : f->value_len), f->value,
                     f->value_len > 32 ? "..." : "");
            return SYMTASK_ERR_RECORD;
        }
    }
    return SYMTASK_OK;
}

/* ---- Reading a record's fields ---------------------------------------------------------- */

typedef struct json_fields_ctx {
    json_state_t *st;
    symtask_arena_t *arena;
    const unsigned char *end; /* the record's */
    int failed;               /* out of memory */
} json_fields_ctx_t;

/* The bytes [@p, @p + @len) of a key or string known to be valid, unescaped when @escaped:
 * into the arena, which has room as escapes only shrink. */
static const char *json_text(json_fields_ctx_t *fc, const unsigned char *p, size_t *len,
                             int escaped)
{
    if (!escaped)
        return (const char *)p;
    char *buf = fc->st->host->arena_alloc(fc->arena, *len ? *len : 1);
    if (buf == NULL) {
        fc->failed = 1;
        return NULL;
    }
    *len = json_unescape(p, *len, buf, *len);
    return buf;
}

static void json_fields_visit(void *ctx, const json_member_t *m)
{
    json_fields_ctx_t *fc = ctx;
    json_state_t *st = fc->st;
    if (fc->failed)
        return;
    if (st->n_scratch == st->scratch_cap) {
        size_t cap = st->scratch_cap ? 2 * st->scratch_cap : 16;
        symtask_field_t *grown = realloc(st->scratch, cap * sizeof(*grown));
        if (!grown) {
            fc->failed = 1;
            return;
        }
        st->scratch = grown;
        st->scratch_cap = cap;
    }
    symtask_field_t *f = &st->scratch[st->n_scratch++];
    f->name_len = m->key_len;
    f->name = json_text(fc, m->key, &f->name_len, m->key_escaped);
    symtask_value_t *v = &f->value;
    *v = symtask_value_missing();
    switch (m->kind) {
    case JSON_KIND_NUMBER:
        v->type = SYMTASK_TYPE_NUMBER;
        /* Visited before the rest of the object is scanned: a byte that ends the number
         * follows it unless the record ends there, and then the scan fails anyway. */
        if (m->number_ready)
            v->number = m->number;
        else if (m->value + m->value_len < fc->end)
            v->number = json_number(st, m->value);
        v->text = (const char *)m->value;
        v->len = m->value_len;
        break;
    case JSON_KIND_STRING:
        v->type = SYMTASK_TYPE_STRING;
        v->len = m->value_len - 2;
        v->text = json_text(fc, m->value + 1, &v->len, m->value_escaped);
        break;
    case JSON_KIND_BOOL:
        *v = symtask_value_bool(m->value[0] == 't');
        break;
    case JSON_KIND_OBJECT:
    case JSON_KIND_ARRAY:
        v->type = SYMTASK_TYPE_NESTED;
        v->text = (const char *)m->value;
        v->len = m->value_len;
        break;
    default: /* null */
        break;
    }
}

static symtask_status_t json_decode_fields(void *state, const symtask_record_t *record,
                                           symtask_arena_t *arena, symtask_fields_t *fields,
                                           char *errstr, size_t errstr_size)
{
    json_state_t *st = state;
    json_scan_t s = {.base = record->value, .p = record->value};
    s.end = s.base + record->len;
    json_fields_ctx_t fc = {.st = st, .arena = arena, .end = s.end};
    if (record->len == 0) {
        snprintf(errstr, errstr_size, "not valid JSON at byte 0: empty value");
        return SYMTASK_ERR_RECORD;
    }
    st->n_scratch = 0;
    if (json_scan_record(&s, json_fields_visit, NULL, &fc) < 0) {
        json_scan_error(&s, errstr, errstr_size);
        return SYMTASK_ERR_RECORD;
    }
    fields->count = st->n_scratch;
    fields->items = NULL;
    if (!fc.failed && st->n_scratch > 0) {
        symtask_field_t *items = st->host->arena_alloc(arena, st->n_scratch * sizeof(*items));
        if (items)
            memcpy(items, st->scratch, st->n_scratch * sizeof(*items));
        fields->items = items;
        fc.failed = !items;
    }
    if (fc.failed) {
        snprintf(errstr, errstr_size, "json serializer: out of memory");
        return SYMTASK_ERR_FATAL;
    }
    return SYMTASK_OK;
}

/* ---- Writing ---------------------------------------------------------------------------- */

/* The names of the outputs an encode adds: the bound ones, or a row's. */
typedef struct json_names {
    const json_state_t *st;
    const symtask_fields_t *fields; /* NULL: the bound outputs */
} json_names_t;

static int json_names_has(const json_names_t *nm, const char *key, size_t len)
{
    if (!nm->fields) {
        for (size_t i = 0; i < nm->st->n_outputs; i++)
            if (nm->st->outputs[i].len == len && memcmp(nm->st->outputs[i].name, key, len) == 0)
                return 1;
        return 0;
    }
    for (size_t i = 0; i < nm->fields->count; i++) {
        const symtask_field_t *f = &nm->fields->items[i];
        if (f->name_len == len && memcmp(f->name, key, len) == 0)
            return 1;
    }
    return 0;
}

/* Whether @name appears in @data between quotes. */
static int json_quoted_in(const void *data, size_t len, const char *name, size_t name_len)
{
    const unsigned char *b = data, *p = b, *end = b + len;
    if (name_len == 0)
        return memmem(data, len, "\"\"", 2) != NULL;
    while ((p = memmem(p, (size_t)(end - p), name, name_len)) != NULL) {
        if (p > b && p[-1] == '"' && p + name_len < end && p[name_len] == '"')
            return 1;
        p++;
    }
    return 0;
}

/* Whether a top-level key of the record may be an output name: it would have to appear
 * quoted as is, or spelt with an escape, which needs a backslash. */
static int json_may_collide(const json_names_t *nm, const void *data, size_t len)
{
    const json_state_t *st = nm->st;
    if (memchr(data, '\\', len))
        return nm->fields ? nm->fields->count > 0 : st->n_outputs > 0;
    if (!nm->fields) {
        for (size_t i = 0; i < st->n_outputs; i++)
            if (memmem(data, len, st->outputs[i].quoted, st->outputs[i].quoted_len))
                return 1;
        return 0;
    }
    for (size_t i = 0; i < nm->fields->count; i++) {
        const symtask_field_t *f = &nm->fields->items[i];
        if (json_quoted_in(data, len, f->name, f->name_len))
            return 1;
    }
    return 0;
}

/* Encode's visitor for the slow path: does a top-level key equal an output name? */
typedef struct json_encode_ctx {
    json_state_t *st;
    const json_names_t *names;
    int collides;       /* some key is an output name */
    symtask_buf_t *out; /* when set, copy the members that are not outputs to it */
    int kept, failed;
} json_encode_ctx_t;

/* Whether the key of @m, which json_member_key() gave up on (escaped, and longer than every
 * bound name), names one of a row's outputs: those named at run time may be longer. */
static int json_long_key_named(json_encode_ctx_t *ec, const json_member_t *m)
{
    if (!ec->names->fields)
        return 0;
    char *key = malloc(m->key_len); /* escapes only shrink */
    if (!key) {
        ec->failed = 1;
        return 0;
    }
    int named = json_names_has(ec->names, key, json_unescape(m->key, m->key_len, key, m->key_len));
    free(key);
    return named;
}

static void json_encode_visit(void *ctx, const json_member_t *m)
{
    json_encode_ctx_t *ec = ctx;
    const char *key;
    size_t len;
    if (json_member_key(ec->st, m, &key, &len) ? json_names_has(ec->names, key, len)
                                               : json_long_key_named(ec, m)) {
        ec->collides = 1;
        return;
    }
    if (!ec->out)
        return;
    const symtask_host_t *host = ec->st->host;
    if ((ec->kept++ && host->buf_append(ec->out, ",", 1) < 0) ||
        host->buf_append(ec->out, m->start, (size_t)(m->value + m->value_len - m->start)) < 0)
        ec->failed = 1;
}

/* Appends the members of the object @record that @names does not name, without its closing
 * '}', and sets *@empty when none is left: the record's bytes up to its last member, or the
 * object rebuilt from its members when a key is an output's name. */
static symtask_status_t json_write_members(json_state_t *st, const json_names_t *names,
                                           const symtask_record_t *record, symtask_buf_t *out,
                                           int *empty, char *errstr, size_t errstr_size)
{
    const symtask_host_t *host = st->host;
    const unsigned char *b = record->value;
    size_t close = record->len, last;

    while (close > 0 && (b[close - 1] == ' ' || b[close - 1] == '\n' || b[close - 1] == '\r' ||
                         b[close - 1] == '\t'))
        close--;
    if (close < 2 || b[close - 1] != '}')
        goto invalid;
    last = close - 1;
    while (last > 0 && (b[last - 1] == ' ' || b[last - 1] == '\n' || b[last - 1] == '\r' ||
                        b[last - 1] == '\t'))
        last--;
    if (last == 0)
        goto invalid;
    *empty = b[last - 1] == '{';

    if (json_may_collide(names, b, record->len)) {
        /* Slow path: validate, then write the object again without the old output keys. */
        json_encode_ctx_t ec = {.st = st, .names = names};
        json_scan_t s = {.base = b, .p = b, .end = b + record->len};
        if (json_scan_record(&s, json_encode_visit, NULL, &ec) < 0) {
            json_scan_error(&s, errstr, errstr_size);
            return SYMTASK_ERR_RECORD;
        }
        if (ec.failed)
            goto nomem;
        if (ec.collides) {
            ec.out = out;
            s.p = b;
            if (host->buf_append(out, "{", 1) < 0)
                goto nomem;
            json_scan_record(&s, json_encode_visit, NULL, &ec);
            if (ec.failed)
                goto nomem;
            *empty = ec.kept == 0;
            return SYMTASK_OK;
        }
    }
    if (host->buf_append(out, b, last) < 0)
        goto nomem;
    return SYMTASK_OK;
invalid:
    snprintf(errstr, errstr_size, "not a JSON object: no closing '}'");
    return SYMTASK_ERR_RECORD;
nomem:
    snprintf(errstr, errstr_size, "json serializer: out of memory");
    return SYMTASK_ERR_FATAL;
}

static symtask_status_t json_encode(void *state, const symtask_record_t *record,
                                    const double *outputs, symtask_buf_t *out, char *errstr,
                                    size_t errstr_size)
{
    json_state_t *st = state;
    const symtask_host_t *host = st->host;
    json_names_t names = {.st = st};
    int empty;
    symtask_status_t status =
        json_write_members(st, &names, record, out, &empty, errstr, errstr_size);
    if (status != SYMTASK_OK)
        return status;
    for (size_t i = 0; i < st->n_outputs; i++) {
        const json_output_t *o = &st->outputs[i];
        size_t skip = empty && i == 0; /* no comma after '{' */
        if (host->buf_append(out, o->member + skip, o->member_len - skip) < 0 ||
            host->buf_append_number(out, outputs[i]) < 0)
            goto nomem;
    }
    if (host->buf_append(out, "}", 1) < 0)
        goto nomem;
    return SYMTASK_OK;
nomem:
    snprintf(errstr, errstr_size, "json serializer: out of memory");
    return SYMTASK_ERR_FATAL;
}

/* Up to 64 bytes of @f's name for a message, with bytes that are not printable UTF-8 as
 * '?'. */
static const char *json_shown_name(const symtask_field_t *f, char *buf, size_t size)
{
    const unsigned char *p = (const unsigned char *)f->name, *end = p + f->name_len;
    size_t n = 0;
    while (p < end && n + 5 < size && n < 64) {
        size_t k = *p < 0x80 ? 1 : json_utf8_len(p, end);
        if (k == 0 || (k == 1 && (*p < 0x20 || *p == 0x7f))) {
            buf[n++] = '?';
            p++;
            continue;
        }
        memcpy(buf + n, p, k);
        n += k;
        p += k;
    }
    if (p < end)
        buf[n++] = '.', buf[n++] = '.', buf[n++] = '.';
    buf[n] = '\0';
    return buf;
}

/* Appends @len bytes of UTF-8 at @s as a JSON string: '"', '\\' and control bytes (NUL
 * too) escaped, the rest as is. -1 when @s is not valid UTF-8. */
static int json_append_string(json_state_t *st, symtask_buf_t *out, const char *s, size_t len,
                              int *nomem)
{
    static const char hex[] = "0123456789abcdef";
    const symtask_host_t *host = st->host;
    const unsigned char *p = (const unsigned char *)s, *end = p + len, *run;
    if (host->buf_append(out, "\"", 1) < 0)
        goto nomem;
    for (run = p; p < end;) {
        unsigned char c = *p;
        if (c >= 0x80) {
            size_t n = json_utf8_len(p, end);
            if (n == 0)
                return -1;
            p += n;
            continue;
        }
        if (json_plain[c]) {
            p++;
            continue;
        }
        char esc[6] = {'\\', 0};
        size_t k = 2;
        switch (c) {
        case '"':
        case '\\':
            esc[1] = (char)c;
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            k = 6;
        }
        if (host->buf_append(out, run, (size_t)(p - run)) < 0 || host->buf_append(out, esc, k) < 0)
            goto nomem;
        run = ++p;
    }
    if (host->buf_append(out, run, (size_t)(p - run)) < 0 || host->buf_append(out, "\"", 1) < 0)
        goto nomem;
    return 0;
nomem:
    *nomem = 1;
    return -1;
}

/* Whether [@p, @p + @len) is exactly one JSON number, or (@nested) one object, array or
 * string (binary data, plugin.h) that fits in a record: inside the record's own level, 63
 * more at most, so that json reads back what it writes. */
static int json_is_text(const char *p, size_t len, int nested)
{
    json_scan_t s = {.base = (const unsigned char *)p, .p = (const unsigned char *)p};
    json_kind_t kind;
    s.end = s.base + len;
    if (!nested) {
        if (len == 0 || json_scan_number(&s, NULL) < 0)
            return 0;
        return s.p == s.end;
    }
    s.p = json_skip_ws(s.p, s.end);
    if (s.p == s.end || (*s.p != '{' && *s.p != '[' && *s.p != '"'))
        return 0;
    if (json_scan_value(&s, 1, &kind) < 0)
        return 0;
    return json_skip_ws(s.p, s.end) == s.end;
}

/* Appends `"name":value` for @f (with a comma first unless @first). */
static symtask_status_t json_append_field(json_state_t *st, symtask_buf_t *out,
                                          const symtask_field_t *f, int first, const char *what,
                                          char *errstr, size_t errstr_size)
{
    const symtask_host_t *host = st->host;
    const symtask_value_t *v = &f->value;
    char name[80];
    int nomem = 0, ok = 0;
    if ((!first && host->buf_append(out, ",", 1) < 0))
        goto nomem;
    if (json_append_string(st, out, f->name, f->name_len, &nomem) < 0) {
        if (nomem)
            goto nomem;
        snprintf(errstr, errstr_size, "%s name '%s' is not valid UTF-8", what,
                 json_shown_name(f, name, sizeof(name)));
        return SYMTASK_ERR_RECORD;
    }
    if (host->buf_append(out, ":", 1) < 0)
        goto nomem;
    switch (v->type) {
    case SYMTASK_TYPE_MISSING:
        ok = host->buf_append(out, "null", 4) == 0;
        break;
    case SYMTASK_TYPE_NUMBER:
        /* the source's spelling when it is JSON's (digits a double cannot hold survive) */
        if (v->text && json_is_text(v->text, v->len, 0))
            ok = host->buf_append(out, v->text, v->len) == 0;
        else
            ok = host->buf_append_number(out, v->number) == 0;
        break;
    case SYMTASK_TYPE_BOOL:
        ok = v->boolean ? host->buf_append(out, "true", 4) == 0
                        : host->buf_append(out, "false", 5) == 0;
        break;
    case SYMTASK_TYPE_STRING:
        if (json_append_string(st, out, v->text ? v->text : "", v->len, &nomem) < 0) {
            if (nomem)
                goto nomem;
            snprintf(errstr, errstr_size, "%s '%s' is a string that is not valid UTF-8", what,
                     json_shown_name(f, name, sizeof(name)));
            return SYMTASK_ERR_RECORD;
        }
        ok = 1;
        break;
    case SYMTASK_TYPE_NESTED:
        if (!v->text || !json_is_text(v->text, v->len, 1)) {
            snprintf(errstr, errstr_size,
                     "%s '%s' holds nested data that is not a JSON object, array or string (or "
                     "nests deeper than 64 levels with the record)",
                     what, json_shown_name(f, name, sizeof(name)));
            return SYMTASK_ERR_RECORD;
        }
        ok = host->buf_append(out, v->text, v->len) == 0;
        break;
    default:
        snprintf(errstr, errstr_size, "%s '%s' has a type (%d) the json serializer cannot write",
                 what, json_shown_name(f, name, sizeof(name)), (int)v->type);
        return SYMTASK_ERR_RECORD;
    }
    if (ok)
        return SYMTASK_OK;
nomem:
    snprintf(errstr, errstr_size, "json serializer: out of memory");
    return SYMTASK_ERR_FATAL;
}

static symtask_status_t json_encode_fields(void *state, const symtask_record_t *record,
                                           const symtask_fields_t *fields,
                                           const symtask_fields_t *outputs, symtask_arena_t *arena,
                                           symtask_buf_t *out, char *errstr, size_t errstr_size)
{
    json_state_t *st = state;
    json_names_t names = {.st = st, .fields = outputs};
    symtask_status_t status;
    int empty = 1;
    if (record) {
        /* the source is JSON: keep its bytes */
        status = json_write_members(st, &names, record, out, &empty, errstr, errstr_size);
        if (status != SYMTASK_OK)
            return status;
    } else {
        if (st->host->buf_append(out, "{", 1) < 0)
            goto nomem;
        for (size_t i = 0; i < fields->count; i++) {
            const symtask_field_t *f = &fields->items[i];
            if (json_names_has(&names, f->name, f->name_len))
                continue; /* the output of the same name replaces it */
            status = json_append_field(st, out, f, empty, "field", errstr, errstr_size);
            if (status != SYMTASK_OK)
                return status;
            empty = 0;
        }
    }
    for (size_t i = 0; i < outputs->count; i++) {
        status = json_append_field(st, out, &outputs->items[i], empty && i == 0, "output", errstr,
                                   errstr_size);
        if (status != SYMTASK_OK)
            return status;
    }
    if (st->host->buf_append(out, "}", 1) < 0)
        goto nomem;
    return SYMTASK_OK;
nomem:
    snprintf(errstr, errstr_size, "json serializer: out of memory");
    return SYMTASK_ERR_FATAL;
}

/* ---- The descriptor --------------------------------------------------------------------- */

static symtask_status_t json_bind_typed(void *state, const symtask_binding_t *binding, char *errstr,
                                        size_t errstr_size)
{
    size_t nf = binding->n_features, no = binding->n_outputs;
    const char **names = calloc(nf + no + 1, sizeof(*names));
    if (!names) {
        snprintf(errstr, errstr_size, "json serializer: out of memory");
        return SYMTASK_ERR_FATAL;
    }
    for (size_t i = 0; i < nf; i++)
        names[i] = binding->features[i].name;
    for (size_t i = 0; i < no; i++)
        names[nf + i] = binding->outputs[i].name;
    /* the names are the binding's, which outlive the instance; the array is not kept */
    symtask_status_t status = json_bind(state, names, nf, names + nf, no, errstr, errstr_size);
    free(names);
    return status;
}

static const symtask_plugin_t json_plugin = {
    SYMTASK_PLUGIN_HEAD(SYMTASK_PLUGIN_SERIALIZER),
    .name = "json",
    .version = "1.1.0",
    .description = "One JSON object per message; features from its top-level keys, outputs "
                   "added as keys",
    .options = NULL,
    .ops.serializer =
        {
            .create = json_create,
            .decode = json_decode,
            .encode = json_encode,
            .destroy = json_destroy,
            .bind_typed = json_bind_typed,
            .decode_fields = json_decode_fields,
            .encode_fields = json_encode_fields,
        },
};

SYMTASK_PLUGIN_EXPORT const symtask_plugin_t *symtask_plugin_entry(const symtask_host_t *host);

const symtask_plugin_t *symtask_plugin_entry(const symtask_host_t *host)
{
    return &json_plugin;
}
