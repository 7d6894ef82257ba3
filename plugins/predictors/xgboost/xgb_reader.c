/* xgb_reader.c: a pull reader of JSON and UBJSON documents in memory, for XGBoost's model
 * files (xgb_internal.h). Where XGBoost 1.7's own readers (src/common/json.cc) depart from
 * the formats, this one either reads as XGBoost does or refuses, so that a file it accepts
 * means the same to both engines:
 *   - JSON: an integer (no fraction, no exponent) and a float are different kinds, as in
 *     XGBoost, which refuses one where it expects the other; NaN, Infinity and -Infinity are
 *     floats; a float is the nearest 32-bit float to its digits (strtof, as XGBoost's
 *     from_chars); in strings XGBoost reads the escapes \" \\ \n \r \t, keeps \u and the
 *     four digits after it as they are, and refuses any other escape and a raw line break.
 *   - UBJSON: XGBoost reads false ('F') as true, so a false is refused; float64 ('D') and
 *     high-precision numbers ('H') are refused as XGBoost refuses them.
 * Both: nesting deeper than XGB_READER_DEPTH is refused (XGBoost recurses without bound), and
 * so is anything after the document but white space. */
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xgb_internal.h"

#define LEVEL(r) (&(r)->level[(r)->depth])

void xgb_reader_init(xgb_reader_t *r, const void *data, size_t len, int ubj)
{
    memset(r, 0, sizeof(*r));
    r->start = r->p = data;
    r->end = r->start + len;
    r->ubj = ubj;
    /* XGBoost reads numbers whatever the process's locale; strtof follows LC_NUMERIC. */
    if (!ubj)
        r->c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
}

void xgb_reader_free(xgb_reader_t *r)
{
    free(r->scratch);
    r->scratch = NULL;
    r->scratch_size = 0;
    if (r->c_locale != (locale_t)0)
        freelocale(r->c_locale);
    r->c_locale = (locale_t)0;
}

const char *xgb_reader_error(const xgb_reader_t *r)
{
    return r->error[0] != '\0' ? r->error : NULL;
}

size_t xgb_reader_offset(const xgb_reader_t *r)
{
    return (size_t)(r->p - r->start);
}

int xgb_reader_fail(xgb_reader_t *r, const char *fmt, ...)
{
    va_list ap;

    if (r->error[0] == '\0') {
        va_start(ap, fmt);
        vsnprintf(r->error, sizeof(r->error), fmt, ap);
        va_end(ap);
        if (r->error[0] == '\0')
            snprintf(r->error, sizeof(r->error), "unreadable");
    }
    return -1;
}

/* A syntax error: the file is not the encoding its name says. */
static int syntax(xgb_reader_t *r, const char *what)
{
    if (r->error[0] == '\0')
        r->syntax = 1;
    if (r->p >= r->end)
        return xgb_reader_fail(r, "not valid %s: it ends early, at byte %zu",
                               r->ubj ? "UBJSON" : "JSON", xgb_reader_offset(r));
    return xgb_reader_fail(r, "not valid %s: %s at byte %zu", r->ubj ? "UBJSON" : "JSON", what,
                           xgb_reader_offset(r));
}

static int scratch_reserve(xgb_reader_t *r, size_t size)
{
    char *s;

    if (size <= r->scratch_size)
        return 0;
    if (size < 256)
        size = 256;
    s = realloc(r->scratch, size);
    if (s == NULL)
        return xgb_reader_fail(r, "out of memory reading the model");
    r->scratch = s;
    r->scratch_size = size;
    return 0;
}

static const char *kind_name(xgb_value_t kind)
{
    switch (kind) {
    case XGB_VALUE_OBJECT:
        return "an object";
    case XGB_VALUE_ARRAY:
        return "an array";
    case XGB_VALUE_STRING:
        return "a string";
    case XGB_VALUE_INTEGER:
        return "an integer";
    case XGB_VALUE_FLOAT:
        return "a float";
    case XGB_VALUE_BOOL:
        return "a boolean";
    case XGB_VALUE_NULL:
        return "null";
    default:
        return "nothing";
    }
}

/* Fails for a value of @found where @want was expected (a type error: the file is valid, the
 * model is not). */
static int wrong_kind(xgb_reader_t *r, const char *want, xgb_value_t found)
{
    return xgb_reader_fail(r, "%s where XGBoost reads %s (at byte %zu)", kind_name(found), want,
                           xgb_reader_offset(r));
}

/* ---- JSON ---------------------------------------------------------------------------------- */

static void json_space(xgb_reader_t *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
        r->p++;
}

static int json_word(xgb_reader_t *r, const char *word)
{
    size_t n = strlen(word);

    if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0)
        return syntax(r, "unknown word");
    r->p += n;
    return 0;
}

/* Scans the number at r->p: its length, and whether it is a float. */
static size_t json_number_scan(const xgb_reader_t *r, int *is_float)
{
    const unsigned char *p = r->p, *e = r->end;

    *is_float = 0;
    if (p < e && *p == '-')
        p++;
    if (p < e && (*p == 'I' || *p == 'N')) {
        const char *word = *p == 'I' ? "Infinity" : "NaN";
        size_t n = strlen(word);

        if (*p == 'N' && p != r->p)
            return 0; /* -NaN is not XGBoost's */
        if ((size_t)(e - p) < n || memcmp(p, word, n) != 0)
            return 0;
        *is_float = 1;
        return (size_t)(p + n - r->p);
    }
    if (p >= e || *p < '0' || *p > '9')
        return 0;
    if (*p == '0') {
        p++;
    } else {
        while (p < e && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < e && *p == '.') {
        p++;
        if (p >= e || *p < '0' || *p > '9')
            return 0;
        while (p < e && *p >= '0' && *p <= '9')
            p++;
        *is_float = 1;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < e && (*p == '+' || *p == '-'))
            p++;
        if (p >= e || *p < '0' || *p > '9')
            return 0;
        while (p < e && *p >= '0' && *p <= '9')
            p++;
        *is_float = 1;
    }
    return (size_t)(p - r->p);
}

static xgb_value_t json_peek(xgb_reader_t *r)
{
    int is_float;

    json_space(r);
    if (r->p >= r->end)
        return XGB_VALUE_NONE;
    switch (*r->p) {
    case '{':
        return XGB_VALUE_OBJECT;
    case '[':
        return XGB_VALUE_ARRAY;
    case '"':
        return XGB_VALUE_STRING;
    case 't':
    case 'f':
        return XGB_VALUE_BOOL;
    case 'n':
        return XGB_VALUE_NULL;
    default:
        if (json_number_scan(r, &is_float) == 0)
            return XGB_VALUE_NONE;
        return is_float ? XGB_VALUE_FLOAT : XGB_VALUE_INTEGER;
    }
}

/* Reads the string at r->p (its opening quote) as XGBoost does. With @out, points *@out at
 * its bytes (in the input, or in the scratch buffer when it had escapes) and sets *@len. */
static int json_string(xgb_reader_t *r, const char **out, size_t *len)
{
    const unsigned char *p = r->p + 1, *s = p;
    size_t n = 0;
    int escapes = 0;

    /* First pass: the end, and whether the bytes can be used in place. */
    for (;; p++) {
        if (p >= r->end) {
            r->p = p;
            return syntax(r, "in a string");
        }
        if (*p == '"')
            break;
        if (*p == '\n' || *p == '\r') {
            r->p = p;
            return syntax(r, "a line break in a string");
        }
        if (*p == '\\') {
            escapes = 1;
            p++;
            if (p >= r->end) {
                r->p = p;
                return syntax(r, "in a string");
            }
            if (*p != '"' && *p != '\\' && *p != 'n' && *p != 'r' && *p != 't' && *p != 'u') {
                r->p = p - 1;
                return syntax(r, "an escape XGBoost does not read (only \\\" \\\\ \\n \\r \\t "
                                 "\\u)");
            }
            n += *p == 'u' ? 2 : 1;
        } else {
            n++;
        }
    }
    r->p = p + 1;
    if (out == NULL)
        return 0;
    if (!escapes) {
        *out = (const char *)s;
        *len = n;
        return 0;
    }
    if (scratch_reserve(r, n + 1) != 0)
        return -1;
    n = 0;
    for (; s < p; s++) {
        if (*s != '\\') {
            r->scratch[n++] = (char)*s;
            continue;
        }
        s++;
        switch (*s) {
        case 'n':
            r->scratch[n++] = '\n';
            break;
        case 'r':
            r->scratch[n++] = '\r';
            break;
        case 't':
            r->scratch[n++] = '\t';
            break;
        case 'u': /* kept as it is written, as XGBoost does */
            r->scratch[n++] = '\\';
            r->scratch[n++] = 'u';
            break;
        default:
            r->scratch[n++] = (char)*s;
            break;
        }
    }
    r->scratch[n] = '\0';
    *out = r->scratch;
    *len = n;
    return 0;
}

static int json_number(xgb_reader_t *r, int64_t *integer, float *real, int *is_float)
{
    size_t n = json_number_scan(r, is_float);
    const unsigned char *p = r->p;

    if (n == 0)
        return syntax(r, "not a value");
    if (*is_float) {
        char *end;

        if (scratch_reserve(r, n + 1) != 0)
            return -1;
        memcpy(r->scratch, p, n);
        r->scratch[n] = '\0';
        if (strcmp(r->scratch, "NaN") == 0) {
            *real = NAN;
        } else {
            /* ERANGE: ±inf or a tiny value rounded, as XGBoost's from_chars gives */
            *real = r->c_locale != (locale_t)0 ? strtof_l(r->scratch, &end, r->c_locale)
                                               : strtof(r->scratch, &end);
            if ((size_t)(end - r->scratch) != n)
                return syntax(r, "a number strtof cannot read");
        }
    } else {
        int negative = *p == '-';
        uint64_t v = 0, limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
        size_t i;

        for (i = negative; i < n; i++) {
            unsigned d = (unsigned)(p[i] - '0');

            if (v > (limit - d) / 10)
                return xgb_reader_fail(r, "an integer beyond 64 bits at byte %zu",
                                       xgb_reader_offset(r));
            v = v * 10 + d;
        }
        *integer = negative ? (int64_t)(0 - v) : (int64_t)v;
    }
    r->p += n;
    return 0;
}

/* ---- UBJSON -------------------------------------------------------------------------------- */

static size_t ubj_size(char type)
{
    switch (type) {
    case 'i':
    case 'U':
    case 'C':
        return 1;
    case 'I':
        return 2;
    case 'l':
    case 'd':
        return 4;
    case 'L':
        return 8;
    default:
        return 0;
    }
}

static xgb_value_t ubj_kind(char type)
{
    switch (type) {
    case '{':
        return XGB_VALUE_OBJECT;
    case '[':
        return XGB_VALUE_ARRAY;
    case 'S':
        return XGB_VALUE_STRING;
    case 'i':
    case 'U':
    case 'I':
    case 'l':
    case 'L':
    case 'C':
        return XGB_VALUE_INTEGER;
    case 'd':
        return XGB_VALUE_FLOAT;
    case 'T':
    case 'F':
        return XGB_VALUE_BOOL;
    case 'Z':
        return XGB_VALUE_NULL;
    default:
        return XGB_VALUE_NONE;
    }
}

/* The payload of a number of @type at r->p (big-endian). */
static int ubj_payload(xgb_reader_t *r, char type, int64_t *integer, float *real)
{
    size_t size = ubj_size(type), i;
    uint64_t v = 0;

    if (size == 0 || (size_t)(r->end - r->p) < size)
        return syntax(r, "in a number");
    for (i = 0; i < size; i++)
        v = v << 8 | r->p[i];
    r->p += size;
    switch (type) {
    case 'i':
        *integer = (int8_t)v;
        break;
    case 'C': /* XGBoost reads a char as a signed char */
        *integer = (signed char)v;
        break;
    case 'U':
        *integer = (uint8_t)v;
        break;
    case 'I':
        *integer = (int16_t)v;
        break;
    case 'l':
        *integer = (int32_t)v;
        break;
    case 'L':
        *integer = (int64_t)v;
        break;
    case 'd': {
        uint32_t bits = (uint32_t)v;
        memcpy(real, &bits, sizeof(*real));
        break;
    }
    }
    return 0;
}

/* A length or a count (@what, for messages): an integer with its marker, not negative. */
static int ubj_length(xgb_reader_t *r, int64_t *n, const char *what)
{
    char type;

    if (r->p >= r->end)
        return syntax(r, what);
    type = (char)*r->p;
    if (ubj_kind(type) != XGB_VALUE_INTEGER || type == 'C')
        return syntax(r, what);
    r->p++;
    if (ubj_payload(r, type, n, NULL) != 0)
        return -1;
    if (*n < 0)
        return syntax(r, "a negative length");
    return 0;
}

/* A string's length and bytes (after its 'S' marker, or a key: @what). */
static int ubj_string(xgb_reader_t *r, const char **out, size_t *len, const char *what)
{
    int64_t n;

    if (ubj_length(r, &n, what) != 0)
        return -1;
    if ((uint64_t)n > (uint64_t)(r->end - r->p))
        return syntax(r, "a string longer than the rest of the file");
    if (out != NULL) {
        *out = (const char *)r->p;
        *len = (size_t)n;
    }
    r->p += n;
    return 0;
}

/* In a typed array: the element type; else 0. */
static char ubj_typed(const xgb_reader_t *r)
{
    return r->depth > 0 ? r->level[r->depth].type : 0;
}

static xgb_value_t ubj_peek(xgb_reader_t *r)
{
    char typed = ubj_typed(r);

    if (typed != 0)
        return ubj_kind(typed);
    if (r->p >= r->end)
        return XGB_VALUE_NONE;
    return ubj_kind((char)*r->p);
}

/* ---- Both ------------------------------------------------------------------------------------ */

xgb_value_t xgb_reader_peek(xgb_reader_t *r)
{
    if (r->error[0] != '\0')
        return XGB_VALUE_NONE;
    return r->ubj ? ubj_peek(r) : json_peek(r);
}

/* Checks that the next value is of @kind; a type error otherwise. */
static int expect(xgb_reader_t *r, xgb_value_t kind, const char *want)
{
    xgb_value_t found = xgb_reader_peek(r);

    if (r->error[0] != '\0')
        return -1;
    if (found == kind)
        return 0;
    if (found == XGB_VALUE_NONE)
        return syntax(r, r->p >= r->end ? "where a value belongs" : "not a value");
    return wrong_kind(r, want, found);
}

static int enter(xgb_reader_t *r)
{
    if (r->depth >= XGB_READER_DEPTH)
        return xgb_reader_fail(r, "nested more than %d levels deep at byte %zu", XGB_READER_DEPTH,
                               xgb_reader_offset(r));
    r->depth++;
    LEVEL(r)->left = -1;
    LEVEL(r)->type = 0;
    LEVEL(r)->first = 1;
    return 0;
}

int xgb_reader_object(xgb_reader_t *r)
{
    if (expect(r, XGB_VALUE_OBJECT, "an object") != 0)
        return -1;
    r->p++;
    if (enter(r) != 0)
        return -1;
    if (r->ubj && r->p < r->end && (*r->p == '$' || *r->p == '#'))
        return syntax(r, "an optimized object, which XGBoost does not read");
    return 0;
}

int xgb_reader_key(xgb_reader_t *r, const char **key, size_t *len)
{
    if (r->error[0] != '\0')
        return -1;
    if (r->ubj) {
        if (r->p >= r->end)
            return syntax(r, "in an object");
        if (*r->p == '}') {
            r->p++;
            r->depth--;
            return 0;
        }
        return ubj_string(r, key, len, "expected a key (its length, then its bytes)") == 0 ? 1 : -1;
    }
    json_space(r);
    if (r->p < r->end && *r->p == '}') {
        r->p++;
        r->depth--;
        return 0;
    }
    if (!LEVEL(r)->first) {
        if (r->p >= r->end || *r->p != ',')
            return syntax(r, "expected ',' or '}'");
        r->p++;
        json_space(r);
    }
    if (r->p >= r->end || *r->p != '"')
        return syntax(r, "expected a key");
    if (json_string(r, key, len) != 0)
        return -1;
    json_space(r);
    if (r->p >= r->end || *r->p != ':')
        return syntax(r, "expected ':'");
    r->p++;
    LEVEL(r)->first = 0;
    return 1;
}

int xgb_reader_array(xgb_reader_t *r, int64_t *count)
{
    if (expect(r, XGB_VALUE_ARRAY, "an array") != 0)
        return -1;
    r->p++;
    if (enter(r) != 0)
        return -1;
    if (r->ubj && r->p < r->end && *r->p == '$') {
        char type;
        int64_t n;

        r->p++;
        if (r->p >= r->end)
            return syntax(r, "in an array's type");
        type = (char)*r->p;
        /* XGBoost's typed arrays: float32, uint8, int32, int64; int8 and int16 read alike */
        if (type != 'd' && type != 'U' && type != 'l' && type != 'L' && type != 'i' && type != 'I')
            return syntax(r, "a typed array of a type XGBoost does not read");
        r->p++;
        if (r->p >= r->end || *r->p != '#')
            return syntax(r, "a typed array without a count");
        r->p++;
        if (ubj_length(r, &n, "expected a typed array's count") != 0)
            return -1;
        if ((uint64_t)n > (uint64_t)(r->end - r->p) / ubj_size(type))
            return syntax(r, "an array longer than the rest of the file");
        LEVEL(r)->type = type;
        LEVEL(r)->left = n;
    } else if (r->ubj && r->p < r->end && *r->p == '#') {
        int64_t n;

        r->p++;
        if (ubj_length(r, &n, "expected an array's count") != 0)
            return -1;
        if ((uint64_t)n > (uint64_t)(r->end - r->p))
            return syntax(r, "an array longer than the rest of the file");
        LEVEL(r)->left = n;
    }
    if (count != NULL)
        *count = LEVEL(r)->left;
    return 0;
}

int xgb_reader_more(xgb_reader_t *r)
{
    if (r->error[0] != '\0')
        return -1;
    if (r->ubj) {
        if (LEVEL(r)->left >= 0) {
            if (LEVEL(r)->left == 0) {
                r->depth--;
                return 0;
            }
            LEVEL(r)->left--;
            return 1;
        }
        if (r->p >= r->end)
            return syntax(r, "in an array");
        if (*r->p == ']') {
            r->p++;
            r->depth--;
            return 0;
        }
        return 1;
    }
    json_space(r);
    if (r->p < r->end && *r->p == ']') {
        r->p++;
        r->depth--;
        return 0;
    }
    if (LEVEL(r)->first) {
        LEVEL(r)->first = 0;
        return 1;
    }
    if (r->p >= r->end || *r->p != ',')
        return syntax(r, "expected ',' or ']'");
    r->p++;
    return 1;
}

/* Reads a number of either kind (the caller has checked that one comes). */
static int number(xgb_reader_t *r, int64_t *integer, float *real)
{
    int is_float;
    char type = ubj_typed(r);

    if (!r->ubj)
        return json_number(r, integer, real, &is_float);
    if (type == 0) {
        type = (char)*r->p;
        r->p++;
    }
    return ubj_payload(r, type, integer, real);
}

int xgb_reader_integer(xgb_reader_t *r, int64_t *value)
{
    float unused;

    if (expect(r, XGB_VALUE_INTEGER, "an integer") != 0)
        return -1;
    return number(r, value, &unused);
}

int xgb_reader_float(xgb_reader_t *r, float *value)
{
    int64_t unused;

    if (expect(r, XGB_VALUE_FLOAT, "a float (a number with a fraction or an exponent)") != 0)
        return -1;
    return number(r, &unused, value);
}

int xgb_reader_flag(xgb_reader_t *r, int *value)
{
    xgb_value_t kind = xgb_reader_peek(r);
    int64_t v;

    if (kind == XGB_VALUE_INTEGER) {
        if (xgb_reader_integer(r, &v) != 0)
            return -1;
        *value = v == 1;
        return 0;
    }
    if (expect(r, XGB_VALUE_BOOL, "a boolean or an integer") != 0)
        return -1;
    if (r->ubj) {
        if (*r->p == 'F')
            return xgb_reader_fail(r,
                                   "a UBJSON false, which XGBoost 1.7 reads as true (at byte "
                                   "%zu)",
                                   xgb_reader_offset(r));
        r->p++;
        *value = 1;
        return 0;
    }
    *value = *r->p == 't';
    return json_word(r, *value ? "true" : "false");
}

int xgb_reader_string(xgb_reader_t *r, char **out, size_t *len)
{
    const char *s = NULL;
    size_t n = 0;

    if (expect(r, XGB_VALUE_STRING, "a string") != 0)
        return -1;
    if (r->ubj) {
        r->p++;
        if (ubj_string(r, &s, &n, "expected a string's length") != 0)
            return -1;
    } else if (json_string(r, &s, &n) != 0) {
        return -1;
    }
    *out = malloc(n + 1);
    if (*out == NULL)
        return xgb_reader_fail(r, "out of memory reading the model");
    memcpy(*out, s, n);
    (*out)[n] = '\0';
    *len = n;
    return 0;
}

/* Skips one scalar. */
static int skip_scalar(xgb_reader_t *r, xgb_value_t kind)
{
    int64_t i;
    float f;

    switch (kind) {
    case XGB_VALUE_STRING:
        if (r->ubj) {
            r->p++;
            return ubj_string(r, NULL, NULL, "expected a string's length");
        }
        return json_string(r, NULL, NULL);
    case XGB_VALUE_INTEGER:
    case XGB_VALUE_FLOAT:
        return number(r, &i, &f);
    case XGB_VALUE_BOOL:
        if (r->ubj) {
            r->p++;
            return 0;
        }
        return json_word(r, *r->p == 't' ? "true" : "false");
    case XGB_VALUE_NULL:
        if (r->ubj) {
            r->p++;
            return 0;
        }
        return json_word(r, "null");
    default:
        return syntax(r, r->p >= r->end ? "where a value belongs" : "not a value");
    }
}

int xgb_reader_skip(xgb_reader_t *r)
{
    int base = r->depth;
    /* Whether each level entered here is an object (keys) or an array. */
    unsigned char is_object[XGB_READER_DEPTH + 1];

    for (;;) {
        xgb_value_t kind = xgb_reader_peek(r);

        if (r->error[0] != '\0')
            return -1;
        if (kind == XGB_VALUE_OBJECT || kind == XGB_VALUE_ARRAY) {
            int64_t count;

            if (kind == XGB_VALUE_OBJECT ? xgb_reader_object(r) : xgb_reader_array(r, &count))
                return -1;
            is_object[r->depth] = kind == XGB_VALUE_OBJECT;
            /* A typed array's elements are skipped in one go. */
            if (r->ubj && LEVEL(r)->type != 0) {
                r->p += (size_t)LEVEL(r)->left * ubj_size(LEVEL(r)->type);
                LEVEL(r)->left = 0;
            }
        } else if (skip_scalar(r, kind) != 0) {
            return -1;
        }
        /* The next value to skip, or the end of what was entered. */
        for (;;) {
            const char *key;
            size_t len;
            int more;

            if (r->depth == base)
                return 0;
            more = is_object[r->depth] ? xgb_reader_key(r, &key, &len) : xgb_reader_more(r);
            if (more < 0)
                return -1;
            if (more > 0)
                break;
        }
    }
}

int xgb_reader_end(xgb_reader_t *r)
{
    if (r->error[0] != '\0')
        return -1;
    if (!r->ubj)
        json_space(r);
    if (r->p < r->end)
        return syntax(r, "more data after the model");
    return 0;
}
