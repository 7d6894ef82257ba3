/* schema.c: Avro schemas compiled into nodes, and values read from and written to Avro's
 * binary encoding by them (schema.h). */
#include "schema.h"

#include <avro.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Decimals are read and written up to this many bytes of unscaled value (308 digits). */
#define AVS_DECIMAL_MAX_BYTES 128
/* An array or map block of items that take no bytes (nulls) holds at most this many. */
#define AVS_EMPTY_ITEMS_MAX (1 << 20)

/* ---- Compiling ----------------------------------------------------------------------------- */

typedef struct avs_memo {
    avro_schema_t avro;
    avs_node_t *node;
} avs_memo_t;

typedef struct avs_compile {
    avs_schema_t *schema;
    avs_memo_t *memo;
    size_t n_memo, cap_memo;
    char *errstr;
    size_t errstr_size;
} avs_compile_t;

static avs_node_t *avs_node_new(avs_compile_t *c, avs_kind_t kind)
{
    avs_node_t *n = calloc(1, sizeof(*n));
    if (n == NULL)
        return NULL;
    n->kind = kind;
    n->null_branch = -1;
    n->next = c->schema->nodes;
    c->schema->nodes = n;
    return n;
}

static int avs_memo_add(avs_compile_t *c, avro_schema_t a, avs_node_t *n)
{
    if (c->n_memo == c->cap_memo) {
        size_t cap = c->cap_memo ? c->cap_memo * 2 : 8;
        avs_memo_t *m = realloc(c->memo, cap * sizeof(*m));
        if (m == NULL)
            return -1;
        c->memo = m;
        c->cap_memo = cap;
    }
    c->memo[c->n_memo++] = (avs_memo_t){a, n};
    return 0;
}

static avs_node_t *avs_memo_find(const avs_compile_t *c, avro_schema_t a)
{
    for (size_t i = 0; i < c->n_memo; i++)
        if (c->memo[i].avro == a)
            return c->memo[i].node;
    return NULL;
}

static const char *avs_json_str(json_t *obj, const char *key)
{
    return json_is_object(obj) ? json_string_value(json_object_get(obj, key)) : NULL;
}

/* A decimal's precision and scale, when they make it one (the spec: an invalid decimal is
 * read as its underlying type). */
static void avs_decimal(avs_node_t *n, json_t *obj, const char *logical)
{
    if (logical == NULL || strcmp(logical, "decimal") != 0)
        return;
    json_t *p = json_object_get(obj, "precision"), *s = json_object_get(obj, "scale");
    json_int_t precision = json_is_integer(p) ? json_integer_value(p) : 0;
    json_int_t scale = s == NULL ? 0 : json_is_integer(s) ? json_integer_value(s) : -1;
    if (precision < 1 || scale < 0 || scale > precision || precision > 2 * AVS_DECIMAL_MAX_BYTES)
        return;
    if (n->kind == AVS_FIXED && (double)precision > floor(log10(2) * (8 * n->size - 1)))
        return;
    n->logical = AVS_DECIMAL;
    n->precision = (int)precision;
    n->scale = (int)scale;
}

static char *avs_fullname(avro_schema_t a)
{
    const char *name = avro_schema_name(a), *space = avro_schema_namespace(a);
    char *full;
    if (space == NULL || space[0] == '\0' || strchr(name, '.') != NULL)
        return strdup(name);
    if (asprintf(&full, "%s.%s", space, name) < 0)
        return NULL;
    return full;
}

static avs_node_t *avs_compile(avs_compile_t *c, avro_schema_t a, json_t *j, int depth);

static int avs_compile_fail(avs_compile_t *c, const char *why)
{
    snprintf(c->errstr, c->errstr_size, "%s", why);
    return -1;
}

static avs_node_t *avs_compile_record(avs_compile_t *c, avs_node_t *n, avro_schema_t a, json_t *j,
                                      int depth)
{
    json_t *jfields = json_object_get(j, "fields");
    size_t count = avro_schema_record_size(a);
    n->fields = calloc(count ? count : 1, sizeof(*n->fields));
    if (n->fields == NULL)
        return NULL;
    n->n_fields = count;
    for (size_t i = 0; i < count; i++) {
        avs_field_t *f = &n->fields[i];
        json_t *jf = json_array_get(jfields, i);
        f->name = avro_schema_record_field_name(a, (int)i);
        f->name_len = strlen(f->name);
        f->default_value = json_object_get(jf, "default");
        f->type = avs_compile(c, avro_schema_record_field_get_by_index(a, (int)i),
                              json_object_get(jf, "type"), depth + 1);
        if (f->type == NULL)
            return NULL;
    }
    return n;
}

static avs_node_t *avs_compile(avs_compile_t *c, avro_schema_t a, json_t *j, int depth)
{
    if (depth > AVS_MAX_DEPTH) {
        avs_compile_fail(c, "nested deeper than 64 levels");
        return NULL;
    }
    if (is_avro_link(a))
        a = avro_schema_link_target(a);
    if (is_avro_named_type(a)) {
        avs_node_t *known = avs_memo_find(c, a);
        if (known != NULL)
            return known;
    }
    json_t *obj = json_is_object(j) ? j : NULL;
    const char *logical = avs_json_str(obj, "logicalType");
    avs_node_t *n;

#define LOGICAL(name) (logical != NULL && strcmp(logical, name) == 0)
    switch (avro_typeof(a)) {
    case AVRO_NULL:
        return avs_node_new(c, AVS_NULL);
    case AVRO_BOOLEAN:
        return avs_node_new(c, AVS_BOOLEAN);
    case AVRO_FLOAT:
        return avs_node_new(c, AVS_FLOAT);
    case AVRO_DOUBLE:
        return avs_node_new(c, AVS_DOUBLE);
    case AVRO_STRING:
        if ((n = avs_node_new(c, AVS_STRING)) == NULL)
            return NULL;
        if (LOGICAL("uuid"))
            n->logical = AVS_UUID;
        else if (json_is_true(json_object_get(obj, "symtask.json")))
            n->logical = AVS_JSON;
        return n;
    case AVRO_BYTES:
        if ((n = avs_node_new(c, AVS_BYTES)) == NULL)
            return NULL;
        avs_decimal(n, obj, logical);
        return n;
    case AVRO_INT32:
        if ((n = avs_node_new(c, AVS_INT)) == NULL)
            return NULL;
        n->logical = LOGICAL("date") ? AVS_DATE : LOGICAL("time-millis") ? AVS_TIME_MILLIS : 0;
        return n;
    case AVRO_INT64:
        if ((n = avs_node_new(c, AVS_LONG)) == NULL)
            return NULL;
        n->logical = LOGICAL("time-micros")              ? AVS_TIME_MICROS
                     : LOGICAL("timestamp-millis")       ? AVS_TIMESTAMP_MILLIS
                     : LOGICAL("timestamp-micros")       ? AVS_TIMESTAMP_MICROS
                     : LOGICAL("local-timestamp-millis") ? AVS_LOCAL_TS_MILLIS
                     : LOGICAL("local-timestamp-micros") ? AVS_LOCAL_TS_MICROS
                                                         : 0;
        return n;
    case AVRO_FIXED:
        if ((n = avs_node_new(c, AVS_FIXED)) == NULL || avs_memo_add(c, a, n) != 0 ||
            (n->fullname = avs_fullname(a)) == NULL)
            return NULL;
        n->size = avro_schema_fixed_size(a);
        avs_decimal(n, obj, logical);
        return n;
    case AVRO_ENUM:
        if ((n = avs_node_new(c, AVS_ENUM)) == NULL || avs_memo_add(c, a, n) != 0 ||
            (n->fullname = avs_fullname(a)) == NULL)
            return NULL;
        n->n_symbols = (size_t)avro_schema_enum_number_of_symbols(a);
        n->symbols = calloc(n->n_symbols ? n->n_symbols : 1, sizeof(*n->symbols));
        n->symbol_lens = calloc(n->n_symbols ? n->n_symbols : 1, sizeof(*n->symbol_lens));
        if (n->symbols == NULL || n->symbol_lens == NULL)
            return NULL;
        for (size_t i = 0; i < n->n_symbols; i++) {
            n->symbols[i] = avro_schema_enum_get(a, (int)i);
            n->symbol_lens[i] = strlen(n->symbols[i]);
        }
        return n;
    case AVRO_RECORD:
        if ((n = avs_node_new(c, AVS_RECORD)) == NULL || avs_memo_add(c, a, n) != 0 ||
            (n->fullname = avs_fullname(a)) == NULL)
            return NULL;
        return avs_compile_record(c, n, a, obj, depth);
    case AVRO_ARRAY:
    case AVRO_MAP: {
        int array = avro_typeof(a) == AVRO_ARRAY;
        if ((n = avs_node_new(c, array ? AVS_ARRAY : AVS_MAP)) == NULL)
            return NULL;
        n->items = avs_compile(c, array ? avro_schema_array_items(a) : avro_schema_map_values(a),
                               json_object_get(obj, array ? "items" : "values"), depth + 1);
        return n->items != NULL ? n : NULL;
    }
    case AVRO_UNION:
        if ((n = avs_node_new(c, AVS_UNION)) == NULL)
            return NULL;
        n->n_branches = avro_schema_union_size(a);
        n->branches = calloc(n->n_branches ? n->n_branches : 1, sizeof(*n->branches));
        if (n->branches == NULL)
            return NULL;
        for (size_t i = 0; i < n->n_branches; i++) {
            n->branches[i] = avs_compile(c, avro_schema_union_branch(a, (int)i),
                                         json_is_array(j) ? json_array_get(j, i) : NULL, depth + 1);
            if (n->branches[i] == NULL)
                return NULL;
            if (n->branches[i]->kind == AVS_NULL && n->null_branch < 0)
                n->null_branch = (int)i;
        }
        return n;
    default:
        avs_compile_fail(c, "a type Apache Avro C does not know");
        return NULL;
    }
#undef LOGICAL
}

avs_schema_t *avs_schema_parse(const char *text, size_t len, char *errstr, size_t errstr_size)
{
    avs_schema_t *s = calloc(1, sizeof(*s));
    avs_compile_t c = {.schema = s, .errstr = errstr, .errstr_size = errstr_size};
    json_error_t jerr;
    avro_schema_t a;

    errstr[0] = '\0';
    if (s == NULL || (s->text = strndup(text, len)) == NULL)
        goto nomem;
    s->json = json_loadb(text, len, JSON_DECODE_ANY, &jerr);
    if (s->json == NULL) {
        snprintf(errstr, errstr_size, "not JSON (%s)", jerr.text);
        goto error;
    }
    if (avro_schema_from_json_length(s->text, len, &a) != 0) {
        const char *why = avro_strerror();
        size_t n = strlen(why);
        while (n > 0 && (why[n - 1] == '\n' || why[n - 1] == ' '))
            n--;
        snprintf(errstr, errstr_size, "not a valid Avro schema (Apache Avro C: %.*s)", (int)n, why);
        goto error;
    }
    s->avro = a;
    s->root = avs_compile(&c, a, s->json, 0);
    free(c.memo);
    if (s->root == NULL) {
        if (errstr[0] == '\0')
            goto nomem;
        goto error;
    }
    return s;
nomem:
    snprintf(errstr, errstr_size, "out of memory");
error:
    avs_schema_free(s);
    return NULL;
}

void avs_schema_free(avs_schema_t *s)
{
    if (s == NULL)
        return;
    for (avs_node_t *n = s->nodes, *next; n != NULL; n = next) {
        next = n->next;
        free((char *)n->fullname);
        free(n->fields);
        free(n->symbols);
        free(n->symbol_lens);
        free(n->branches);
        free(n);
    }
    if (s->avro != NULL)
        avro_schema_decref(s->avro);
    json_decref(s->json);
    free(s->text);
    free(s);
}

const char *avs_record_fullname(const avs_schema_t *s)
{
    return s->root != NULL && s->root->kind == AVS_RECORD ? s->root->fullname : NULL;
}

int avs_name_valid(const char *name, size_t len)
{
    if (len == 0)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)name[i];
        int alpha = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || ch == '_';
        if (!alpha && !(i > 0 && ch >= '0' && ch <= '9'))
            return 0;
    }
    return 1;
}

/* ---- Reading ------------------------------------------------------------------------------- */

static int avs_fail(avs_reader_t *r, const uint8_t *at, const char *why)
{
    r->at = at;
    r->why = why;
    return -1;
}

int avs_read_long(avs_reader_t *r, int64_t *v)
{
    const uint8_t *p = r->p, *end = r->end;
    uint64_t u = 0;
    for (int shift = 0;; shift += 7) {
        if (p == end)
            return avs_fail(r, p, "truncated");
        uint8_t b = *p++;
        if (shift == 63 && (b & 0x7e))
            return avs_fail(r, p - 1, "a varint of more than 64 bits");
        u |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            break;
        if (shift == 63)
            return avs_fail(r, p - 1, "a varint of more than 10 bytes");
    }
    r->p = p;
    *v = (int64_t)((u >> 1) ^ (~(u & 1) + 1));
    return 0;
}

static inline int avs_read_int(avs_reader_t *r, int64_t *v)
{
    const uint8_t *start = r->p;
    if (avs_read_long(r, v) != 0)
        return -1;
    if (*v < INT32_MIN || *v > INT32_MAX)
        return avs_fail(r, start, "an int out of range");
    return 0;
}

static inline int avs_take(avs_reader_t *r, size_t n, const uint8_t **bytes)
{
    if ((size_t)(r->end - r->p) < n)
        return avs_fail(r, r->end, "truncated");
    *bytes = r->p;
    r->p += n;
    return 0;
}

/* A length (bytes, string) and the bytes it counts. */
static inline int avs_read_bytes(avs_reader_t *r, const uint8_t **bytes, size_t *len)
{
    const uint8_t *start = r->p;
    int64_t n;
    if (avs_read_long(r, &n) != 0)
        return -1;
    if (n < 0)
        return avs_fail(r, start, "a negative length");
    if ((uint64_t)n > (uint64_t)(r->end - r->p))
        return avs_fail(r, r->end, "truncated");
    *bytes = r->p;
    *len = (size_t)n;
    r->p += n;
    return 0;
}

static int avs_read_branch(avs_reader_t *r, const avs_node_t *u, const avs_node_t **branch)
{
    const uint8_t *start = r->p;
    int64_t i;
    if (avs_read_long(r, &i) != 0)
        return -1;
    if (i < 0 || (uint64_t)i >= u->n_branches)
        return avs_fail(r, start, "a union branch out of range");
    *branch = u->branches[i];
    return 0;
}

/* Whether a value of @n may take no bytes at all. */
static int avs_empty(const avs_node_t *n, int depth)
{
    if (depth > AVS_MAX_DEPTH)
        return 0;
    switch (n->kind) {
    case AVS_NULL:
        return 1;
    case AVS_FIXED:
        return n->size == 0;
    case AVS_RECORD:
        for (size_t i = 0; i < n->n_fields; i++)
            if (!avs_empty(n->fields[i].type, depth + 1))
                return 0;
        return 1;
    default:
        return 0;
    }
}

/* The item count of the next block of an array or map; 0 ends it. A negative count is
 * followed by the block's size in bytes, which *@size gets (else -1). */
static int avs_read_block(avs_reader_t *r, const avs_node_t *items, int64_t *count, int64_t *size)
{
    const uint8_t *start = r->p;
    if (avs_read_long(r, count) != 0)
        return -1;
    *size = -1;
    if (*count < 0) {
        if (*count == INT64_MIN)
            return avs_fail(r, start, "a block count out of range");
        *count = -*count;
        if (avs_read_long(r, size) != 0)
            return -1;
        if (*size < 0)
            return avs_fail(r, start, "a negative block size");
    }
    /* every item takes a byte at least, unless its type can take none */
    if (*count > r->end - r->p &&
        (!avs_empty(items, 0) || *count > AVS_EMPTY_ITEMS_MAX || *size > 0))
        return avs_fail(r, start, "a block of more items than the record has bytes");
    return 0;
}

int avs_skip(avs_reader_t *r, const avs_node_t *n, int depth)
{
    const uint8_t *bytes;
    size_t len;
    int64_t v;

    if (depth > AVS_MAX_DEPTH)
        return avs_fail(r, r->p, "nested deeper than 64 levels");
    switch (n->kind) {
    case AVS_NULL:
        return 0;
    case AVS_BOOLEAN:
        if (avs_take(r, 1, &bytes) != 0)
            return -1;
        return *bytes > 1 ? avs_fail(r, bytes, "a boolean other than 0 or 1") : 0;
    case AVS_INT:
        return avs_read_int(r, &v);
    case AVS_LONG:
        return avs_read_long(r, &v);
    case AVS_FLOAT:
        return avs_take(r, 4, &bytes);
    case AVS_DOUBLE:
        return avs_take(r, 8, &bytes);
    case AVS_FIXED:
        return avs_take(r, (size_t)n->size, &bytes);
    case AVS_BYTES:
    case AVS_STRING:
        return avs_read_bytes(r, &bytes, &len);
    case AVS_ENUM: {
        const uint8_t *start = r->p;
        if (avs_read_int(r, &v) != 0)
            return -1;
        return v < 0 || (uint64_t)v >= n->n_symbols
                   ? avs_fail(r, start, "an enum index out of range")
                   : 0;
    }
    case AVS_RECORD:
        for (size_t i = 0; i < n->n_fields; i++)
            if (avs_skip(r, n->fields[i].type, depth + 1) != 0)
                return -1;
        return 0;
    case AVS_ARRAY:
    case AVS_MAP:
        for (;;) {
            int64_t count, size;
            if (avs_read_block(r, n->items, &count, &size) != 0)
                return -1;
            if (count == 0)
                return 0;
            if (size >= 0) {
                if (avs_take(r, (size_t)size, &bytes) != 0)
                    return -1;
                continue;
            }
            for (int64_t i = 0; i < count; i++)
                if ((n->kind == AVS_MAP && avs_read_bytes(r, &bytes, &len) != 0) ||
                    avs_skip(r, n->items, depth + 1) != 0)
                    return -1;
        }
    case AVS_UNION: {
        const avs_node_t *b;
        if (avs_read_branch(r, n, &b) != 0)
            return -1;
        return avs_skip(r, b, depth + 1);
    }
    }
    return avs_fail(r, r->p, "a type this serializer does not know");
}

static float avs_float_le(const uint8_t *p)
{
    uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    float f;
    memcpy(&f, &u, sizeof(f));
    return f;
}

static double avs_double_le(const uint8_t *p)
{
    uint64_t u = 0;
    for (int i = 7; i >= 0; i--)
        u = u << 8 | p[i];
    double d;
    memcpy(&d, &u, sizeof(d));
    return d;
}

/* The exact decimal text of the two's complement big-endian @bytes scaled by @scale, into
 * @out (at least 2 * AVS_DECIMAL_MAX_BYTES + 8 bytes... see AVS_DECIMAL_TEXT). */
#define AVS_DECIMAL_TEXT (3 * AVS_DECIMAL_MAX_BYTES + 8)
static int avs_decimal_text(const uint8_t *bytes, size_t len, int scale, char *out, size_t *out_len)
{
    uint32_t limbs[AVS_DECIMAL_MAX_BYTES / 3 + 2]; /* base 1e9, least significant first */
    size_t n_limbs = 0;
    int neg = len > 0 && (bytes[0] & 0x80);

    if (len > AVS_DECIMAL_MAX_BYTES)
        return -1;
    for (size_t i = 0; i < len; i++) {
        uint64_t carry = neg ? (uint8_t)~bytes[i] : bytes[i];
        for (size_t k = 0; k < n_limbs; k++) {
            uint64_t x = (uint64_t)limbs[k] * 256 + carry;
            limbs[k] = (uint32_t)(x % 1000000000u);
            carry = x / 1000000000u;
        }
        while (carry > 0) {
            limbs[n_limbs++] = (uint32_t)(carry % 1000000000u);
            carry /= 1000000000u;
        }
    }
    if (neg) { /* ~x + 1 */
        uint64_t carry = 1;
        for (size_t k = 0; k < n_limbs && carry; k++) {
            uint64_t x = (uint64_t)limbs[k] + carry;
            limbs[k] = (uint32_t)(x % 1000000000u);
            carry = x / 1000000000u;
        }
        if (carry)
            limbs[n_limbs++] = (uint32_t)carry;
    }
    char digits[AVS_DECIMAL_TEXT];
    size_t nd = 0;
    if (n_limbs == 0)
        digits[nd++] = '0';
    else {
        nd = (size_t)snprintf(digits, sizeof(digits), "%u", limbs[n_limbs - 1]);
        for (size_t k = n_limbs - 1; k-- > 0;)
            nd += (size_t)snprintf(digits + nd, sizeof(digits) - nd, "%09u", limbs[k]);
    }
    size_t o = 0;
    if (neg)
        out[o++] = '-';
    if ((size_t)scale >= nd) {
        out[o++] = '0';
        if (scale > 0) {
            out[o++] = '.';
            for (size_t i = nd; i < (size_t)scale; i++)
                out[o++] = '0';
            memcpy(out + o, digits, nd);
            o += nd;
        }
    } else {
        memcpy(out + o, digits, nd - (size_t)scale);
        o += nd - (size_t)scale;
        if (scale > 0) {
            out[o++] = '.';
            memcpy(out + o, digits + nd - scale, (size_t)scale);
            o += (size_t)scale;
        }
    }
    out[o] = '\0';
    *out_len = o;
    return 0;
}

/* What workers/fields.c calls a value of @n that is no number. */
static const char *avs_kind_word(const avs_node_t *n, const uint8_t *text, size_t len)
{
    switch (n->kind) {
    case AVS_BOOLEAN:
        return "a boolean";
    case AVS_STRING:
        if (n->logical == AVS_JSON)
            for (size_t i = 0; i < len; i++) {
                if (text[i] == '{')
                    return "an object";
                if (text[i] == '[')
                    return "an array";
            }
        return "a string";
    case AVS_ENUM:
        return "a string";
    case AVS_RECORD:
    case AVS_MAP:
        return "an object";
    case AVS_ARRAY:
        return "an array";
    default:
        return "a nested value";
    }
}

int avs_read_number(avs_reader_t *r, const avs_node_t *n, double *v, const char **kind)
{
    const uint8_t *bytes = NULL;
    size_t len = 0;
    int64_t i;

    for (int depth = 0;; depth++) {
        switch (n->kind) {
        case AVS_NULL:
            *v = NAN;
            return 2;
        case AVS_INT:
            if (avs_read_int(r, &i) != 0)
                return -1;
            *v = (double)i;
            return 0;
        case AVS_LONG:
            if (avs_read_long(r, &i) != 0)
                return -1;
            *v = (double)i;
            return 0;
        case AVS_FLOAT:
            if (avs_take(r, 4, &bytes) != 0)
                return -1;
            *v = (double)avs_float_le(bytes);
            return 0;
        case AVS_DOUBLE:
            if (avs_take(r, 8, &bytes) != 0)
                return -1;
            *v = avs_double_le(bytes);
            return 0;
        case AVS_UNION:
            if (depth > AVS_MAX_DEPTH)
                return avs_fail(r, r->p, "nested deeper than 64 levels");
            if (avs_read_branch(r, n, &n) != 0)
                return -1;
            continue;
        case AVS_BYTES:
        case AVS_FIXED:
            if (n->logical == AVS_DECIMAL) {
                char text[AVS_DECIMAL_TEXT];
                size_t tlen;
                if ((n->kind == AVS_BYTES ? avs_read_bytes(r, &bytes, &len)
                                          : avs_take(r, len = (size_t)n->size, &bytes)) != 0)
                    return -1;
                if (avs_decimal_text(bytes, len, n->scale, text, &tlen) != 0)
                    return avs_fail(r, bytes, "a decimal of more than 128 bytes");
                *v = strtod(text, NULL);
                return 0;
            }
            /* fall through */
        default: {
            const uint8_t *start = r->p;
            if (avs_skip(r, n, depth) != 0)
                return -1;
            if (n->kind == AVS_STRING) {
                avs_reader_t s = {.base = r->base, .p = start, .end = r->p};
                avs_read_bytes(&s, &bytes, &len);
                *kind = avs_kind_word(n, bytes, len);
            } else {
                *kind = avs_kind_word(n, NULL, 0);
            }
            return 1;
        }
        }
    }
}

/* ---- Text of values ------------------------------------------------------------------------ */

int avs_buf_add(avs_buf_t *b, const void *data, size_t len)
{
    if (len > b->cap - b->len) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < len) {
            if (cap > SIZE_MAX / 2)
                return -1;
            cap *= 2;
        }
        char *d = realloc(b->data, cap);
        if (d == NULL)
            return -1;
        b->data = d;
        b->cap = cap;
    }
    if (len > 0)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    return 0;
}

void avs_buf_free(avs_buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

size_t avs_format_double(double v, int single, char *out)
{
    if (!isfinite(v)) {
        memcpy(out, "null", 5);
        return 4;
    }
    if (v == floor(v) && fabs(v) < 1e15)
        return (size_t)snprintf(out, 32, "%.0f", v);
    for (int prec = single ? 6 : 15; prec <= 17; prec++) {
        int n = snprintf(out, 32, "%.*g", prec, v);
        if (single ? strtof(out, NULL) == (float)v : strtod(out, NULL) == v)
            return (size_t)n;
    }
    return (size_t)snprintf(out, 32, "%.17g", v);
}

/* Length of the well-formed UTF-8 sequence at @p, 0 when ill-formed. */
static size_t avs_utf8_len(const uint8_t *p, const uint8_t *end)
{
    uint8_t c = p[0], lo = 0x80, hi = 0xbf;
    size_t n;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        lo = c == 0xe0 ? 0xa0 : 0x80;
        hi = c == 0xed ? 0x9f : 0xbf;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        lo = c == 0xf0 ? 0x90 : 0x80;
        hi = c == 0xf4 ? 0x8f : 0xbf;
    } else
        return 0;
    if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return n;
}

/* Appends @len bytes as a JSON string: as UTF-8 text (ill-formed bytes as U+FFFD), or with
 * @code_points, each byte as the code point of its value (Avro's JSON form of bytes). */
static int avs_json_string(avs_buf_t *b, const uint8_t *s, size_t len, int code_points)
{
    static const char hex[] = "0123456789abcdef";
    const uint8_t *p = s, *end = s + len;
    if (avs_buf_add(b, "\"", 1) != 0)
        return -1;
    while (p < end) {
        uint8_t c = *p;
        size_t n = code_points ? 1 : avs_utf8_len(p, end);
        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x7f) {
            if (avs_buf_add(b, p, 1) != 0)
                return -1;
        } else if (!code_points && n > 1) {
            if (avs_buf_add(b, p, n) != 0)
                return -1;
        } else if (!code_points && n == 0) {
            if (avs_buf_add(b, "\\ufffd", 6) != 0)
                return -1;
            n = 1;
        } else {
            char esc[7] = {'\\', 0};
            size_t k = 2;
            switch (c) {
            case '"':
            case '\\':
                esc[1] = (char)c;
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
            if (avs_buf_add(b, esc, k) != 0)
                return -1;
        }
        p += n;
    }
    return avs_buf_add(b, "\"", 1);
}

static int avs_json_is_text(const uint8_t *text, size_t len)
{
    json_error_t e;
    json_t *v = json_loadb((const char *)text, len, JSON_DECODE_ANY, &e);
    json_decref(v);
    return v != NULL;
}

/* Renders the value of @n at r->p as JSON into @b. -1 on malformed bytes, -2 out of memory. */
static int avs_render(avs_reader_t *r, const avs_node_t *n, avs_buf_t *b, int depth)
{
    const uint8_t *bytes;
    size_t len;
    int64_t i;
    char text[AVS_DECIMAL_TEXT];
    size_t tlen;

#define ADD(data, size)                                                                            \
    do {                                                                                           \
        if (avs_buf_add(b, (data), (size)) != 0)                                                   \
            return -2;                                                                             \
    } while (0)
    if (depth > AVS_MAX_DEPTH)
        return avs_fail(r, r->p, "nested deeper than 64 levels");
    switch (n->kind) {
    case AVS_NULL:
        ADD("null", 4);
        return 0;
    case AVS_BOOLEAN:
        if (avs_take(r, 1, &bytes) != 0)
            return -1;
        if (*bytes > 1)
            return avs_fail(r, bytes, "a boolean other than 0 or 1");
        ADD(*bytes ? "true" : "false", *bytes ? 4 : 5);
        return 0;
    case AVS_INT:
    case AVS_LONG:
        if ((n->kind == AVS_INT ? avs_read_int(r, &i) : avs_read_long(r, &i)) != 0)
            return -1;
        tlen = (size_t)snprintf(text, sizeof(text), "%lld", (long long)i);
        ADD(text, tlen);
        return 0;
    case AVS_FLOAT:
    case AVS_DOUBLE:
        if (avs_take(r, n->kind == AVS_FLOAT ? 4 : 8, &bytes) != 0)
            return -1;
        tlen = n->kind == AVS_FLOAT ? avs_format_double(avs_float_le(bytes), 1, text)
                                    : avs_format_double(avs_double_le(bytes), 0, text);
        ADD(text, tlen);
        return 0;
    case AVS_STRING:
        if (avs_read_bytes(r, &bytes, &len) != 0)
            return -1;
        if (n->logical == AVS_JSON && avs_json_is_text(bytes, len))
            ADD(bytes, len);
        else if (avs_json_string(b, bytes, len, 0) != 0)
            return -2;
        return 0;
    case AVS_BYTES:
    case AVS_FIXED:
        if ((n->kind == AVS_BYTES ? avs_read_bytes(r, &bytes, &len)
                                  : avs_take(r, len = (size_t)n->size, &bytes)) != 0)
            return -1;
        if (n->logical == AVS_DECIMAL) {
            if (avs_decimal_text(bytes, len, n->scale, text, &tlen) != 0)
                return avs_fail(r, bytes, "a decimal of more than 128 bytes");
            ADD(text, tlen);
        } else if (avs_json_string(b, bytes, len, 1) != 0) {
            return -2;
        }
        return 0;
    case AVS_ENUM: {
        const uint8_t *start = r->p;
        if (avs_read_int(r, &i) != 0)
            return -1;
        if (i < 0 || (uint64_t)i >= n->n_symbols)
            return avs_fail(r, start, "an enum index out of range");
        if (avs_json_string(b, (const uint8_t *)n->symbols[i], n->symbol_lens[i], 0) != 0)
            return -2;
        return 0;
    }
    case AVS_RECORD:
        ADD("{", 1);
        for (size_t f = 0; f < n->n_fields; f++) {
            if (f > 0)
                ADD(",", 1);
            if (avs_json_string(b, (const uint8_t *)n->fields[f].name, n->fields[f].name_len, 0) !=
                0)
                return -2;
            ADD(":", 1);
            int rc = avs_render(r, n->fields[f].type, b, depth + 1);
            if (rc != 0)
                return rc;
        }
        ADD("}", 1);
        return 0;
    case AVS_ARRAY:
    case AVS_MAP: {
        int first = 1;
        ADD(n->kind == AVS_ARRAY ? "[" : "{", 1);
        for (;;) {
            int64_t count, size;
            if (avs_read_block(r, n->items, &count, &size) != 0)
                return -1;
            if (count == 0)
                break;
            for (int64_t k = 0; k < count; k++) {
                if (!first)
                    ADD(",", 1);
                first = 0;
                if (n->kind == AVS_MAP) {
                    if (avs_read_bytes(r, &bytes, &len) != 0)
                        return -1;
                    if (avs_json_string(b, bytes, len, 0) != 0)
                        return -2;
                    ADD(":", 1);
                }
                int rc = avs_render(r, n->items, b, depth + 1);
                if (rc != 0)
                    return rc;
            }
        }
        ADD(n->kind == AVS_ARRAY ? "]" : "}", 1);
        return 0;
    }
    case AVS_UNION: {
        const avs_node_t *branch;
        if (avs_read_branch(r, n, &branch) != 0)
            return -1;
        return avs_render(r, branch, b, depth + 1);
    }
    }
#undef ADD
    return avs_fail(r, r->p, "a type this serializer does not know");
}

/* A copy of @len bytes at @data in @arena, or NULL. */
static char *avs_arena_copy(const symtask_host_t *host, symtask_arena_t *arena, const void *data,
                            size_t len)
{
    char *copy = host->arena_alloc(arena, len ? len : 1);
    if (copy != NULL && len > 0)
        memcpy(copy, data, len);
    return copy;
}

int avs_read_value(avs_reader_t *r, const avs_node_t *n, const symtask_host_t *host,
                   symtask_arena_t *arena, avs_buf_t *scratch, symtask_value_t *value)
{
    const uint8_t *bytes;
    size_t len;
    int64_t i;
    char text[AVS_DECIMAL_TEXT];
    size_t tlen;

    for (int depth = 0; n->kind == AVS_UNION; depth++) {
        if (depth > AVS_MAX_DEPTH)
            return avs_fail(r, r->p, "nested deeper than 64 levels");
        if (avs_read_branch(r, n, &n) != 0)
            return -1;
    }
    switch (n->kind) {
    case AVS_NULL:
        *value = symtask_value_missing();
        return 0;
    case AVS_BOOLEAN:
        if (avs_take(r, 1, &bytes) != 0)
            return -1;
        if (*bytes > 1)
            return avs_fail(r, bytes, "a boolean other than 0 or 1");
        *value = symtask_value_bool(*bytes);
        return 0;
    case AVS_INT:
    case AVS_LONG: {
        if ((n->kind == AVS_INT ? avs_read_int(r, &i) : avs_read_long(r, &i)) != 0)
            return -1;
        tlen = (size_t)snprintf(text, sizeof(text), "%lld", (long long)i);
        *value = symtask_value_number((double)i);
        /* the digits, so that a long beyond 2^53 is written whole by a text format */
        if ((value->text = avs_arena_copy(host, arena, text, tlen)) == NULL)
            return -2;
        value->len = tlen;
        return 0;
    }
    case AVS_FLOAT:
        if (avs_take(r, 4, &bytes) != 0)
            return -1;
        *value = symtask_value_number((double)avs_float_le(bytes));
        if (isfinite(value->number)) {
            /* 0.1f is 0.100000001490116...: its shortest text as a float is 0.1 */
            tlen = avs_format_double(value->number, 1, text);
            if ((value->text = avs_arena_copy(host, arena, text, tlen)) == NULL)
                return -2;
            value->len = tlen;
        }
        return 0;
    case AVS_DOUBLE:
        if (avs_take(r, 8, &bytes) != 0)
            return -1;
        *value = symtask_value_number(avs_double_le(bytes));
        return 0;
    case AVS_STRING:
        if (avs_read_bytes(r, &bytes, &len) != 0)
            return -1;
        *value = symtask_value_string((const char *)bytes, len);
        if (n->logical == AVS_JSON && avs_json_is_text(bytes, len))
            value->type = SYMTASK_TYPE_NESTED;
        return 0;
    case AVS_ENUM: {
        const uint8_t *start = r->p;
        if (avs_read_int(r, &i) != 0)
            return -1;
        if (i < 0 || (uint64_t)i >= n->n_symbols)
            return avs_fail(r, start, "an enum index out of range");
        *value = symtask_value_string(n->symbols[i], n->symbol_lens[i]);
        return 0;
    }
    case AVS_BYTES:
    case AVS_FIXED:
        if (n->logical == AVS_DECIMAL) {
            if ((n->kind == AVS_BYTES ? avs_read_bytes(r, &bytes, &len)
                                      : avs_take(r, len = (size_t)n->size, &bytes)) != 0)
                return -1;
            if (avs_decimal_text(bytes, len, n->scale, text, &tlen) != 0)
                return avs_fail(r, bytes, "a decimal of more than 128 bytes");
            *value = symtask_value_number(strtod(text, NULL));
            if ((value->text = avs_arena_copy(host, arena, text, tlen)) == NULL)
                return -2;
            value->len = tlen;
            return 0;
        }
        /* bytes are a JSON string of their code points */
        __attribute__((fallthrough));
    default: {
        scratch->len = 0;
        int rc = avs_render(r, n, scratch, 0);
        if (rc != 0)
            return rc;
        char *copy = avs_arena_copy(host, arena, scratch->data, scratch->len);
        if (copy == NULL)
            return -2;
        value->type = SYMTASK_TYPE_NESTED;
        value->boolean = 0;
        value->number = 0;
        value->text = copy;
        value->len = scratch->len;
        return 0;
    }
    }
}

/* ---- Writing ------------------------------------------------------------------------------- */

int avs_write_long(avs_buf_t *b, int64_t v)
{
    uint8_t out[10];
    uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    size_t n = 0;
    while (u >= 0x80) {
        out[n++] = (uint8_t)(u | 0x80);
        u >>= 7;
    }
    out[n++] = (uint8_t)u;
    return avs_buf_add(b, out, n);
}

int avs_write_double(avs_buf_t *b, double v)
{
    uint64_t u;
    uint8_t out[8];
    memcpy(&u, &v, sizeof(u));
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)(u >> (8 * i));
    return avs_buf_add(b, out, 8);
}

static int avs_write_float(avs_buf_t *b, float v)
{
    uint32_t u;
    uint8_t out[4];
    memcpy(&u, &v, sizeof(u));
    for (int i = 0; i < 4; i++)
        out[i] = (uint8_t)(u >> (8 * i));
    return avs_buf_add(b, out, 4);
}

static const char *avs_type_word(const avs_node_t *n)
{
    static const char *const words[] = {
        [AVS_NULL] = "null",   [AVS_BOOLEAN] = "boolean", [AVS_INT] = "int",
        [AVS_LONG] = "long",   [AVS_FLOAT] = "float",     [AVS_DOUBLE] = "double",
        [AVS_BYTES] = "bytes", [AVS_STRING] = "string",   [AVS_RECORD] = "record",
        [AVS_ENUM] = "enum",   [AVS_ARRAY] = "array",     [AVS_MAP] = "map",
        [AVS_UNION] = "union", [AVS_FIXED] = "fixed",
    };
    if (n->logical == AVS_DECIMAL)
        return "decimal";
    return words[n->kind];
}

static int avs_why(char *why, size_t why_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int avs_why(char *why, size_t why_size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, why_size, fmt, ap);
    va_end(ap);
    return -1;
}

/* The whole number that @text (JSON's grammar) spells, when it is one and fits in 64 bits. */
static int avs_text_integer(const char *text, size_t len, int64_t *v)
{
    char buf[32], *end;
    if (len == 0 || len >= sizeof(buf) || memchr(text, '.', len) || memchr(text, 'e', len) ||
        memchr(text, 'E', len))
        return -1;
    memcpy(buf, text, len);
    buf[len] = '\0';
    errno = 0;
    long long x = strtoll(buf, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *v = x;
    return 0;
}

static int avs_number_integer(const symtask_value_t *v, int64_t *out)
{
    if (v->text != NULL && avs_text_integer(v->text, v->len, out) == 0)
        return 0;
    if (!isfinite(v->number) || v->number != floor(v->number) || v->number < -0x1p63 ||
        v->number >= 0x1p63)
        return -1;
    *out = (int64_t)v->number;
    return 0;
}

/* The unscaled value of decimal @text (JSON's grammar) at @scale, as the two's complement
 * big-endian bytes of @size (0: as few as it takes). */
static int avs_decimal_bytes(const char *text, size_t len, const avs_node_t *n, uint8_t *out,
                             size_t *out_len, char *why, size_t why_size)
{
    char digits[2 * AVS_DECIMAL_MAX_BYTES + 8];
    size_t nd = 0, i = 0;
    long exp10 = 0;
    int neg = 0, frac = 0;

    if (i < len && text[i] == '-')
        neg = 1, i++;
    for (; i < len && ((text[i] >= '0' && text[i] <= '9') || text[i] == '.'); i++) {
        if (text[i] == '.') {
            frac = 1;
            continue;
        }
        if (nd == 0 && text[i] == '0') {
            if (frac)
                exp10--;
            continue;
        }
        if (nd + 1 >= sizeof(digits))
            return avs_why(why, why_size, "has more digits than a decimal of 128 bytes holds");
        digits[nd++] = text[i];
        if (frac)
            exp10--;
    }
    if (i < len && (text[i] == 'e' || text[i] == 'E')) {
        char *end;
        char ebuf[16];
        size_t el = len - i - 1 < sizeof(ebuf) - 1 ? len - i - 1 : sizeof(ebuf) - 1;
        memcpy(ebuf, text + i + 1, el);
        ebuf[el] = '\0';
        exp10 += strtol(ebuf, &end, 10);
    }
    /* value = digits × 10^exp10; unscaled = value × 10^scale */
    long shift = exp10 + n->scale;
    while (shift < 0 && nd > 0 && digits[nd - 1] == '0')
        nd--, shift++;
    if (shift < 0 && nd > 0)
        return avs_why(why, why_size, "has more decimal places than its scale (%d)", n->scale);
    if (nd == 0)
        shift = 0;
    if ((long)nd + shift > n->precision)
        return avs_why(why, why_size, "has more digits than its precision (%d)", n->precision);
    while (shift-- > 0 && nd > 0)
        digits[nd++] = '0';
    /* decimal digits to bytes, big-endian */
    uint8_t mag[AVS_DECIMAL_MAX_BYTES];
    size_t nb = 0;
    for (size_t k = 0; k < nd; k++) {
        unsigned carry = (unsigned)(digits[k] - '0');
        for (size_t j = 0; j < nb; j++) {
            unsigned x = mag[AVS_DECIMAL_MAX_BYTES - 1 - j] * 10u + carry;
            mag[AVS_DECIMAL_MAX_BYTES - 1 - j] = (uint8_t)x;
            carry = x >> 8;
        }
        while (carry) {
            if (nb == AVS_DECIMAL_MAX_BYTES)
                return avs_why(why, why_size, "has more digits than a decimal of 128 bytes holds");
            mag[AVS_DECIMAL_MAX_BYTES - 1 - nb++] = (uint8_t)carry;
            carry >>= 8;
        }
    }
    uint8_t *m = mag + AVS_DECIMAL_MAX_BYTES - nb;
    if (neg && nb > 0) { /* two's complement of the magnitude */
        unsigned carry = 1;
        for (size_t j = nb; j-- > 0;) {
            unsigned x = (uint8_t)~m[j] + carry;
            m[j] = (uint8_t)x;
            carry = x >> 8;
        }
    }
    /* one more byte when the top bit does not say the sign */
    size_t need = nb + (nb == 0 || ((m[0] & 0x80) != 0) != (neg && nb > 0));
    size_t size = n->kind == AVS_FIXED ? (size_t)n->size : need;
    if (need > size)
        return avs_why(why, why_size, "does not fit in %lld bytes", (long long)n->size);
    uint8_t fill = neg && nb > 0 ? 0xff : 0x00;
    memset(out, fill, size - nb);
    memcpy(out + size - nb, m, nb);
    *out_len = size;
    return 0;
}

static int avs_write_decimal(avs_buf_t *b, const avs_node_t *n, const char *text, size_t len,
                             char *why, size_t why_size)
{
    uint8_t bytes[AVS_DECIMAL_MAX_BYTES + 1];
    size_t nb = 0;
    if (avs_decimal_bytes(text, len, n, bytes, &nb, why, why_size) != 0)
        return -1;
    if (n->kind == AVS_BYTES && avs_write_long(b, (int64_t)nb) != 0)
        return -2;
    return avs_buf_add(b, bytes, nb) != 0 ? -2 : 0;
}

/* Bytes from a string of code points U+0000 to U+00FF (Avro's JSON form of bytes). */
static int avs_write_code_points(avs_buf_t *b, const avs_node_t *n, const uint8_t *s, size_t len,
                                 char *why, size_t why_size)
{
    avs_buf_t tmp = {0};
    for (size_t i = 0; i < len;) {
        unsigned cp;
        if (s[i] < 0x80)
            cp = s[i++];
        else if (i + 1 < len && (s[i] & 0xe0) == 0xc0 && (s[i + 1] & 0xc0) == 0x80 &&
                 (cp = (unsigned)(s[i] & 0x1f) << 6 | (s[i + 1] & 0x3f)) <= 0xff) {
            i += 2;
        } else {
            avs_buf_free(&tmp);
            return avs_why(why, why_size,
                           "is a string with characters beyond U+00FF, which %s cannot hold "
                           "(Avro's JSON form of bytes has one character a byte)",
                           avs_type_word(n));
        }
        uint8_t byte = (uint8_t)cp;
        if (avs_buf_add(&tmp, &byte, 1) != 0) {
            avs_buf_free(&tmp);
            return -2;
        }
    }
    int rc = 0;
    if (n->kind == AVS_FIXED && tmp.len != (size_t)n->size) {
        rc = avs_why(why, why_size, "is not %lld bytes long, as its fixed type is",
                     (long long)n->size);
    } else if ((n->kind == AVS_BYTES && avs_write_long(b, (int64_t)tmp.len) != 0) ||
               avs_buf_add(b, tmp.data, tmp.len) != 0) {
        rc = -2;
    }
    avs_buf_free(&tmp);
    return rc;
}

static const char *avs_value_word(const symtask_value_t *v)
{
    switch (v->type) {
    case SYMTASK_TYPE_MISSING:
        return "missing";
    case SYMTASK_TYPE_NUMBER:
        return "a number";
    case SYMTASK_TYPE_STRING:
        return "a string";
    case SYMTASK_TYPE_BOOL:
        return "a boolean";
    case SYMTASK_TYPE_NESTED:
        return "a nested value";
    default:
        return "of an unknown type";
    }
}

static int avs_write_nested(avs_buf_t *b, const avs_node_t *n, const symtask_value_t *v, char *why,
                            size_t why_size)
{
    json_error_t e;
    json_t *j = json_loadb(v->text ? v->text : "", v->len, JSON_DECODE_ANY, &e);
    if (j == NULL)
        return avs_why(why, why_size, "holds nested data that is not valid JSON (%s)", e.text);
    int rc = avs_write_json(b, n, j, 0, why, why_size);
    json_decref(j);
    return rc;
}

int avs_write_value(avs_buf_t *b, const avs_node_t *n, const symtask_value_t *v, char *why,
                    size_t why_size)
{
    int64_t i;
    const char *want = avs_type_word(n);

    switch (n->kind) {
    case AVS_UNION: {
        if (v->type == SYMTASK_TYPE_MISSING) {
            if (n->null_branch < 0)
                return avs_why(why, why_size, "is missing, and its union has no null");
            return avs_write_long(b, n->null_branch) != 0 ? -2 : 0;
        }
        size_t at = b->len;
        for (size_t k = 0; k < n->n_branches; k++) {
            if ((int)k == n->null_branch)
                continue;
            if (avs_write_long(b, (int64_t)k) != 0)
                return -2;
            int rc = avs_write_value(b, n->branches[k], v, why, why_size);
            if (rc == 0 || rc == -2)
                return rc;
            b->len = at;
        }
        return avs_why(why, why_size, "is %s, which no branch of its union holds",
                       avs_value_word(v));
    }
    case AVS_NULL:
        if (v->type == SYMTASK_TYPE_MISSING)
            return 0;
        return avs_why(why, why_size, "is %s, not null", avs_value_word(v));
    case AVS_BOOLEAN:
        if (v->type != SYMTASK_TYPE_BOOL)
            break;
        return avs_buf_add(b, v->boolean ? "\1" : "\0", 1) != 0 ? -2 : 0;
    case AVS_INT:
    case AVS_LONG:
        if (v->type != SYMTASK_TYPE_NUMBER)
            break;
        if (avs_number_integer(v, &i) != 0 ||
            (n->kind == AVS_INT && (i < INT32_MIN || i > INT32_MAX)))
            return avs_why(why, why_size, "is a number that is no %s%s", want,
                           n->kind == AVS_INT ? " (a whole number of 32 bits)"
                                              : " (a whole number of 64 bits)");
        return avs_write_long(b, i) != 0 ? -2 : 0;
    case AVS_FLOAT:
        if (v->type != SYMTASK_TYPE_NUMBER)
            break;
        return avs_write_float(b, (float)v->number) != 0 ? -2 : 0;
    case AVS_DOUBLE:
        if (v->type != SYMTASK_TYPE_NUMBER)
            break;
        return avs_write_double(b, v->number) != 0 ? -2 : 0;
    case AVS_STRING:
        if (v->type == SYMTASK_TYPE_STRING || v->type == SYMTASK_TYPE_NESTED) {
            /* a nested value becomes its JSON text, as in a format without nesting */
            if (avs_write_long(b, (int64_t)v->len) != 0 ||
                avs_buf_add(b, v->text ? v->text : "", v->len) != 0)
                return -2;
            return 0;
        }
        break;
    case AVS_ENUM:
        if (v->type != SYMTASK_TYPE_STRING)
            break;
        for (size_t k = 0; k < n->n_symbols; k++)
            if (n->symbol_lens[k] == v->len && memcmp(n->symbols[k], v->text, v->len) == 0)
                return avs_write_long(b, (int64_t)k) != 0 ? -2 : 0;
        return avs_why(why, why_size, "is no symbol of enum %s", n->fullname);
    case AVS_BYTES:
    case AVS_FIXED:
        if (n->logical == AVS_DECIMAL) {
            char text[40];
            if (v->type != SYMTASK_TYPE_NUMBER)
                break;
            if (v->text != NULL)
                return avs_write_decimal(b, n, v->text, v->len, why, why_size);
            if (!isfinite(v->number))
                return avs_why(why, why_size,
                               "is not a finite number, which a decimal cannot hold");
            /* the shortest text of the double: 0.1, not 0.10000000000000001 */
            size_t len = avs_format_double(v->number, 0, text);
            return avs_write_decimal(b, n, text, len, why, why_size);
        }
        if (v->type == SYMTASK_TYPE_STRING)
            return avs_write_code_points(b, n, (const uint8_t *)v->text, v->len, why, why_size);
        if (v->type == SYMTASK_TYPE_NESTED)
            return avs_write_nested(b, n, v, why, why_size);
        break;
    case AVS_RECORD:
    case AVS_ARRAY:
    case AVS_MAP:
        if (v->type != SYMTASK_TYPE_NESTED)
            break;
        return avs_write_nested(b, n, v, why, why_size);
    }
    return avs_why(why, why_size, "is %s, which its type %s cannot hold", avs_value_word(v), want);
}

static const char *avs_json_word(json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

int avs_write_json(avs_buf_t *b, const avs_node_t *n, json_t *j, int depth, char *why,
                   size_t why_size)
{
    const char *want = avs_type_word(n);
    char text[40];
    size_t len;

    if (depth > AVS_MAX_DEPTH)
        return avs_why(why, why_size, "is nested deeper than 64 levels");
    switch (n->kind) {
    case AVS_UNION: {
        size_t at = b->len;
        for (size_t k = 0; k < n->n_branches; k++) {
            if (avs_write_long(b, (int64_t)k) != 0)
                return -2;
            int rc = avs_write_json(b, n->branches[k], j, depth + 1, why, why_size);
            if (rc == 0 || rc == -2)
                return rc;
            b->len = at;
        }
        return avs_why(why, why_size, "holds %s, which no branch of its union holds",
                       avs_json_word(j));
    }
    case AVS_NULL:
        if (json_is_null(j))
            return 0;
        break;
    case AVS_BOOLEAN:
        if (!json_is_boolean(j))
            break;
        return avs_buf_add(b, json_is_true(j) ? "\1" : "\0", 1) != 0 ? -2 : 0;
    case AVS_INT:
    case AVS_LONG: {
        symtask_value_t v;
        if (json_is_integer(j)) {
            len = (size_t)snprintf(text, sizeof(text), "%" JSON_INTEGER_FORMAT,
                                   json_integer_value(j));
            v = symtask_value_number((double)json_integer_value(j));
            v.text = text;
            v.len = len;
        } else if (json_is_real(j)) {
            v = symtask_value_number(json_real_value(j));
        } else {
            break;
        }
        return avs_write_value(b, n, &v, why, why_size);
    }
    case AVS_FLOAT:
        if (!json_is_number(j))
            break;
        return avs_write_float(b, (float)json_number_value(j)) != 0 ? -2 : 0;
    case AVS_DOUBLE:
        if (!json_is_number(j))
            break;
        return avs_write_double(b, json_number_value(j)) != 0 ? -2 : 0;
    case AVS_STRING: {
        if (json_is_string(j)) {
            if (avs_write_long(b, (int64_t)json_string_length(j)) != 0 ||
                avs_buf_add(b, json_string_value(j), json_string_length(j)) != 0)
                return -2;
            return 0;
        }
        if (n->logical != AVS_JSON)
            break;
        char *dump = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
        if (dump == NULL)
            return -2;
        len = strlen(dump);
        int rc = avs_write_long(b, (int64_t)len) != 0 || avs_buf_add(b, dump, len) != 0 ? -2 : 0;
        free(dump);
        return rc;
    }
    case AVS_ENUM: {
        if (!json_is_string(j))
            break;
        symtask_value_t v = symtask_value_string(json_string_value(j), json_string_length(j));
        return avs_write_value(b, n, &v, why, why_size);
    }
    case AVS_BYTES:
    case AVS_FIXED:
        if (n->logical == AVS_DECIMAL) {
            if (json_is_integer(j))
                len = (size_t)snprintf(text, sizeof(text), "%" JSON_INTEGER_FORMAT,
                                       json_integer_value(j));
            else if (json_is_real(j))
                len = avs_format_double(json_real_value(j), 0, text);
            else
                break;
            return avs_write_decimal(b, n, text, len, why, why_size);
        }
        if (!json_is_string(j))
            break;
        return avs_write_code_points(b, n, (const uint8_t *)json_string_value(j),
                                     json_string_length(j), why, why_size);
    case AVS_RECORD:
        if (!json_is_object(j))
            break;
        for (size_t f = 0; f < n->n_fields; f++) {
            const avs_field_t *field = &n->fields[f];
            json_t *v = json_object_getn(j, field->name, field->name_len);
            if (v == NULL)
                v = field->default_value;
            if (v == NULL)
                return avs_why(why, why_size, "lacks member '%s', which has no default",
                               field->name);
            int rc = avs_write_json(b, field->type, v, depth + 1, why, why_size);
            if (rc != 0)
                return rc;
        }
        return 0;
    case AVS_ARRAY:
        if (!json_is_array(j))
            break;
        if (json_array_size(j) > 0) {
            size_t k;
            json_t *item;
            if (avs_write_long(b, (int64_t)json_array_size(j)) != 0)
                return -2;
            json_array_foreach (j, k, item) {
                int rc = avs_write_json(b, n->items, item, depth + 1, why, why_size);
                if (rc != 0)
                    return rc;
            }
        }
        return avs_buf_add(b, "\0", 1) != 0 ? -2 : 0;
    case AVS_MAP:
        if (!json_is_object(j))
            break;
        if (json_object_size(j) > 0) {
            const char *key;
            size_t key_len;
            json_t *item;
            if (avs_write_long(b, (int64_t)json_object_size(j)) != 0)
                return -2;
            json_object_keylen_foreach(j, key, key_len, item)
            {
                if (avs_write_long(b, (int64_t)key_len) != 0 || avs_buf_add(b, key, key_len) != 0)
                    return -2;
                int rc = avs_write_json(b, n->items, item, depth + 1, why, why_size);
                if (rc != 0)
                    return rc;
            }
        }
        return avs_buf_add(b, "\0", 1) != 0 ? -2 : 0;
    }
    return avs_why(why, why_size, "holds %s, which its type %s cannot hold", avs_json_word(j),
                   want);
}
