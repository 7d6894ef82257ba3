/* csv.c: the "csv" serializer: each message value is one CSV line (RFC 4180) whose columns
 * sml.serializer.columns names; the outputs are appended to the line as new fields. Written
 * from another format, a line holds the fields sml.serializer.out.columns names, or the
 * record's own fields in their order, then the outputs. */
#include <float.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "symtask/plugin.h"

#define CSV_COLUMNS "sml.serializer.columns"
#define CSV_DELIMITER "sml.serializer.delimiter"

/* For the steps of reading a number feature, most of decode's time: inlined into each
 * caller, as one loop over the features. */
#define CSV_INLINE static inline __attribute__((always_inline))

/* How much of a bad value an error message quotes. */
#define CSV_QUOTE_MAX 32

/* One field of the line being decoded: its bytes, without the quotes of a quoted field
 * (a quoted field still holds its "" escapes). */
typedef struct csv_field {
    const unsigned char *p;
    size_t len;
    int quoted;
} csv_field_t;

typedef struct csv_state {
    const symtask_host_t *host;
    locale_t c_locale; /* strtod_l: numbers read the same whatever the process locale */
    unsigned char delim;
    char *names;          /* the columns option, split in place */
    const char **columns; /* n_columns names into names */
    size_t n_columns;
    csv_field_t *fields;    /* n_columns, the fields of the line being decoded */
    size_t *feature_column; /* the column of each feature */
    size_t n_features;
    size_t n_outputs;
    /* ABI 1.1: the declared type of the feature each column holds, MISSING for a column
     * that is no feature (its fields are typed by what they look like) */
    symtask_type_t *column_type;
    uint32_t roles;
} csv_state_t;

static const symtask_option_t csv_options[] = {
    {CSV_COLUMNS, SYMTASK_OPTION_LIST, NULL, 0,
     "The names of the columns of each line, in order: required to read CSV, and every "
     "feature the predictor reads must be one of them. Writing another format's records "
     "(sml.serializer.out.columns): the fields and outputs each line holds, in order; unset, "
     "the record's fields, then the outputs."},
    {CSV_DELIMITER, SYMTASK_OPTION_STRING, ",", 0,
     "The byte between fields, e.g. ';' or a tab: one byte, not a quote, a line break, a "
     "letter, a digit, '.', '+' or '-'."},
    {NULL},
};

static void csv_destroy(void *state)
{
    csv_state_t *st = state;
    if (!st)
        return;
    free(st->feature_column);
    free(st->column_type);
    free(st->fields);
    free(st->columns);
    free(st->names);
    if (st->c_locale)
        freelocale(st->c_locale);
    free(st);
}

static int csv_delimiter_ok(const char *d)
{
    unsigned char c = (unsigned char)d[0];
    if (c == '\0' || d[1] != '\0')
        return 0;
    if (c == '"' || c == '\r' || c == '\n' || c == '.' || c == '+' || c == '-')
        return 0;
    return !((c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z'));
}

static symtask_status_t csv_create(const symtask_host_t *host, const symtask_params_t *params,
                                   void **state, char *errstr, size_t errstr_size)
{
    const char *columns = host->param(params, CSV_COLUMNS);
    const char *delim = host->param(params, CSV_DELIMITER);
    csv_state_t *st = calloc(1, sizeof(*st));
    size_t n = 1;
    if (!st)
        goto nomem;
    st->host = host;
    if (!delim)
        delim = ",";
    if (!csv_delimiter_ok(delim)) {
        snprintf(errstr, errstr_size,
                 "params." CSV_DELIMITER " must be one byte, not a quote, a line break, a "
                 "letter, a digit, '.', '+' or '-'");
        goto error;
    }
    st->delim = (unsigned char)delim[0];
    st->c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    if (!st->c_locale)
        goto nomem;
    if (!columns) { /* writes records of another format: their own fields */
        *state = st;
        return SYMTASK_OK;
    }
    st->names = strdup(columns);
    for (const char *p = columns; *p; p++)
        n += *p == ',';
    st->columns = calloc(n, sizeof(*st->columns));
    st->fields = calloc(n, sizeof(*st->fields));
    st->column_type = calloc(n, sizeof(*st->column_type));
    if (!st->names || !st->columns || !st->fields || !st->column_type)
        goto nomem;
    for (char *name = st->names, *next; name; name = next) {
        next = strchr(name, ',');
        if (next)
            *next++ = '\0';
        /* Surrounding spaces are not part of a name ("a, b"). */
        while (*name == ' ' || *name == '\t')
            name++;
        for (size_t len = strlen(name); len > 0 && (name[len - 1] == ' ' || name[len - 1] == '\t');
             len--)
            name[len - 1] = '\0';
        if (*name == '\0') {
            snprintf(errstr, errstr_size, "params." CSV_COLUMNS ": column %zu has no name",
                     st->n_columns + 1);
            goto error;
        }
        for (size_t i = 0; i < st->n_columns; i++) {
            if (strcmp(st->columns[i], name) == 0) {
                snprintf(errstr, errstr_size,
                         "params." CSV_COLUMNS ": column '%.64s' is listed twice", name);
                goto error;
            }
        }
        st->columns[st->n_columns++] = name;
    }
    *state = st;
    return SYMTASK_OK;
nomem:
    snprintf(errstr, errstr_size, "csv serializer: out of memory");
error:
    csv_destroy(st);
    return SYMTASK_ERR_FATAL;
}

static symtask_status_t csv_bind_typed(void *state, const symtask_binding_t *binding, char *errstr,
                                       size_t errstr_size)
{
    csv_state_t *st = state;
    size_t n_features = binding->n_features;
    st->roles = binding->roles;
    st->n_outputs = binding->n_outputs;
    if (!(binding->roles & SYMTASK_ROLE_DECODE))
        return SYMTASK_OK;
    if (!st->n_columns) {
        snprintf(errstr, errstr_size,
                 "params." CSV_COLUMNS " is required to read CSV: name the columns of each line");
        return SYMTASK_ERR_FATAL;
    }
    st->feature_column = calloc(n_features ? n_features : 1, sizeof(*st->feature_column));
    if (!st->feature_column) {
        snprintf(errstr, errstr_size, "csv serializer: out of memory");
        return SYMTASK_ERR_FATAL;
    }
    for (size_t i = 0; i < n_features; i++) {
        const symtask_column_t *f = &binding->features[i];
        size_t c = 0;
        while (c < st->n_columns && strcmp(st->columns[c], f->name) != 0)
            c++;
        if (c == st->n_columns) {
            snprintf(errstr, errstr_size, "feature '%.64s' is not among " CSV_COLUMNS, f->name);
            return SYMTASK_ERR_FATAL;
        }
        st->feature_column[i] = c;
        st->column_type[c] = f->type;
    }
    st->n_features = n_features;
    return SYMTASK_OK;
}

/* The line of @record without its trailing "\n" or "\r\n". */
static size_t csv_line_len(const symtask_record_t *record)
{
    const unsigned char *b = record->value;
    size_t len = record->len;
    if (len > 0 && b[len - 1] == '\n') {
        len--;
        if (len > 0 && b[len - 1] == '\r')
            len--;
    }
    return len;
}

/* Splits the line into st->fields; returns the number of fields, or SIZE_MAX with a message
 * when the line is not well-formed CSV. */
static size_t csv_split(csv_state_t *st, const unsigned char *b, size_t len, char *errstr,
                        size_t errstr_size)
{
    const unsigned char *p = b, *end = b + len;
    const unsigned char delim = st->delim;
    size_t n = 0;
    for (;;) {
        csv_field_t f = {.quoted = 0};
        if (p < end && *p == '"') {
            f.quoted = 1;
            const unsigned char *open = p;
            f.p = ++p;
            for (;;) {
                p = memchr(p, '"', (size_t)(end - p));
                if (!p) {
                    snprintf(errstr, errstr_size,
                             "not valid CSV at byte %zu: quoted field without its closing quote",
                             (size_t)(open - b));
                    return SIZE_MAX;
                }
                if (p + 1 < end && p[1] == '"') {
                    p += 2;
                    continue;
                }
                break;
            }
            f.len = (size_t)(p - f.p);
            p++;
            if (p < end && *p != delim) {
                snprintf(errstr, errstr_size,
                         "not valid CSV at byte %zu: a closing quote must end its field",
                         (size_t)(p - b));
                return SIZE_MAX;
            }
        } else {
            f.p = p;
            while (p < end && *p != delim) {
                if (*p == '"' || *p == '\n' || *p == '\r') {
                    snprintf(errstr, errstr_size, "not valid CSV at byte %zu: %s", (size_t)(p - b),
                             *p == '"' ? "a quote inside an unquoted field"
                                       : "a line break outside quotes");
                    return SIZE_MAX;
                }
                p++;
            }
            f.len = (size_t)(p - f.p);
        }
        if (n < st->n_columns)
            st->fields[n] = f;
        n++;
        if (p == end)
            return n;
        p++; /* the delimiter */
    }
}

static const double csv_pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static inline int csv_is_digit(const unsigned char *p, const unsigned char *end)
{
    return p < end && *p >= '0' && *p <= '9';
}

/* Reads the decimal number that is all of [p, end): [+-] digits [. digits] [e [+-] digits],
 * with digits on at least one side of the point. Returns 0, or -1 when it is not one. */
CSV_INLINE int csv_number(const csv_state_t *st, const unsigned char *p, const unsigned char *end,
                          double *value)
{
    const unsigned char *q = p;
    uint64_t m = 0;
    int digits = 0, exp10 = 0, neg = 0, fast = 1, mantissa_digits = 0;
    if (q < end && (*q == '+' || *q == '-'))
        neg = *q++ == '-';
    for (; csv_is_digit(q, end); q++, mantissa_digits++) {
        if (m == 0 && *q == '0')
            continue;
        if (++digits > 19)
            fast = 0;
        else
            m = m * 10 + (uint64_t)(*q - '0');
    }
    if (q < end && *q == '.') {
        for (q++; csv_is_digit(q, end); q++, mantissa_digits++) {
            if (m == 0 && *q == '0') {
                exp10--;
                continue;
            }
            if (++digits > 19) {
                fast = 0;
                continue;
            }
            exp10--;
            m = m * 10 + (uint64_t)(*q - '0');
        }
    }
    if (mantissa_digits == 0)
        return -1;
    if (q < end && (*q | 0x20) == 'e') {
        int e = 0, eneg = 0;
        q++;
        if (q < end && (*q == '+' || *q == '-'))
            eneg = *q++ == '-';
        if (!csv_is_digit(q, end))
            return -1;
        for (; csv_is_digit(q, end); q++)
            if (e < 100000)
                e = e * 10 + (*q - '0');
        exp10 += eneg ? -e : e;
    }
    if (q != end)
        return -1;
#if FLT_EVAL_METHOD == 0
    /* Clinger's fast path: one correctly rounded operation on exact operands. */
    if (fast && m == 0) {
        *value = neg ? -0.0 : 0.0;
        return 0;
    }
    if (fast && m <= (UINT64_C(1) << 53) && exp10 >= -22 && exp10 <= 22) {
        double v = (double)m;
        v = exp10 < 0 ? v / csv_pow10[-exp10] : v * csv_pow10[exp10];
        *value = neg ? -v : v;
        return 0;
    }
#endif
    char local[128], *copy = local;
    size_t len = (size_t)(end - p);
    if (len >= sizeof(local) && !(copy = malloc(len + 1)))
        return -1;
    memcpy(copy, p, len);
    copy[len] = '\0';
    *value = strtod_l(copy, NULL, st->c_locale);
    if (copy != local)
        free(copy);
    return 0;
}

/* Length of the well-formed UTF-8 sequence at @p, 0 when ill-formed. */
static size_t csv_utf8_len(const unsigned char *p, const unsigned char *end)
{
    unsigned char c = p[0], lo = 0x80, hi = 0xbf;
    size_t n;
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

/* Writes the message for a feature field that is not a number, quoting at most
 * CSV_QUOTE_MAX bytes of it with control bytes and bad UTF-8 shown as '?'. */
static void csv_bad_value(const char *column, const csv_field_t *f, const char *what, char *errstr,
                          size_t errstr_size)
{
    char shown[CSV_QUOTE_MAX + 1];
    size_t n = 0;
    const unsigned char *p = f->p, *end = f->p + f->len;
    while (p < end) {
        size_t k = *p < 0x80 ? 1 : csv_utf8_len(p, end);
        if (n + (k ? k : 1) > CSV_QUOTE_MAX)
            break;
        if (k == 0 || (k == 1 && (*p < 0x20 || *p == 0x7f))) {
            shown[n++] = '?';
            p++;
            continue;
        }
        memcpy(shown + n, p, k);
        n += k;
        p += k;
    }
    shown[n] = '\0';
    snprintf(errstr, errstr_size, "column '%.64s' is '%s%s', not %s", column, shown,
             p < end ? "..." : "", what);
}

static int csv_is_nan(const unsigned char *p, const unsigned char *end)
{
    if (p < end && (*p == '+' || *p == '-'))
        p++;
    return end - p == 3 && (p[0] | 0x20) == 'n' && (p[1] | 0x20) == 'a' && (p[2] | 0x20) == 'n';
}

/* The field @f without the spaces and tabs around it, in [*@p, *@end). */
CSV_INLINE void csv_trim(const csv_field_t *f, const unsigned char **p, const unsigned char **end)
{
    *p = f->p;
    *end = f->p + f->len;
    while (*p < *end && (**p == ' ' || **p == '\t'))
        (*p)++;
    while (*end > *p && ((*end)[-1] == ' ' || (*end)[-1] == '\t'))
        (*end)--;
}

/* Reads column @c's field @f as a number feature: NaN when it is missing (empty or NaN). */
CSV_INLINE symtask_status_t csv_read_number(const csv_state_t *st, size_t c, const csv_field_t *f,
                                            double *value, char *errstr, size_t errstr_size)
{
    const unsigned char *p, *end;
    csv_trim(f, &p, &end);
    if (p == end || csv_is_nan(p, end)) {
        *value = NAN;
        return SYMTASK_OK;
    }
    if (csv_number(st, p, end, value) < 0) {
        csv_bad_value(st->columns[c], f, "a number", errstr, errstr_size);
        return SYMTASK_ERR_RECORD;
    }
    if (!isfinite(*value)) {
        csv_bad_value(st->columns[c], f, "a finite number", errstr, errstr_size);
        return SYMTASK_ERR_RECORD;
    }
    return SYMTASK_OK;
}

/* Splits the line of @record into st->fields: -1 (with the message) unless it is well-formed
 * and has one field per column. */
CSV_INLINE int csv_split_line(csv_state_t *st, const symtask_record_t *record, char *errstr,
                              size_t errstr_size)
{
    size_t n = csv_split(st, record->value, csv_line_len(record), errstr, errstr_size);
    if (n == SIZE_MAX)
        return -1;
    if (n != st->n_columns) {
        snprintf(errstr, errstr_size, "%zu field%s, expected %zu column%s", n, n == 1 ? "" : "s",
                 st->n_columns, st->n_columns == 1 ? "" : "s");
        return -1;
    }
    return 0;
}

static symtask_status_t csv_decode(void *state, const symtask_record_t *record, double *features,
                                   char *errstr, size_t errstr_size)
{
    csv_state_t *st = state;
    size_t bad = SIZE_MAX; /* the wrong column first in the line, as decode_fields() says */
    if (csv_split_line(st, record, errstr, errstr_size) < 0)
        return SYMTASK_ERR_RECORD;
    for (size_t i = 0; i < st->n_features; i++) {
        size_t c = st->feature_column[i];
        if (c < bad &&
            csv_read_number(st, c, &st->fields[c], &features[i], errstr, errstr_size) != SYMTASK_OK)
            bad = c;
    }
    return bad == SIZE_MAX ? SYMTASK_OK : SYMTASK_ERR_RECORD;
}

static symtask_status_t csv_encode(void *state, const symtask_record_t *record,
                                   const double *outputs, symtask_buf_t *out, char *errstr,
                                   size_t errstr_size)
{
    csv_state_t *st = state;
    const symtask_host_t *host = st->host;
    if (host->buf_append(out, record->value, csv_line_len(record)) < 0)
        goto nomem;
    for (size_t i = 0; i < st->n_outputs; i++) {
        if (host->buf_append(out, &st->delim, 1) < 0)
            goto nomem;
        /* A missing value is an empty field, not the "null" buf_append_number writes. */
        if (isfinite(outputs[i]) && host->buf_append_number(out, outputs[i]) < 0)
            goto nomem;
    }
    return SYMTASK_OK;
nomem:
    snprintf(errstr, errstr_size, "csv serializer: out of memory");
    return SYMTASK_ERR_FATAL;
}

/* ---- Typed fields (ABI 1.1) -------------------------------------------------------------- */

/* Whether [@p, @end) is exactly one number in JSON's grammar: what a field must look like to
 * be read as a number when no feature says its type, and to keep its spelling. */
static int csv_is_json_number(const unsigned char *p, const unsigned char *end)
{
    if (p < end && *p == '-')
        p++;
    if (!csv_is_digit(p, end))
        return 0;
    if (*p++ != '0')
        while (csv_is_digit(p, end))
            p++;
    if (p < end && *p == '.') {
        if (!csv_is_digit(++p, end))
            return 0;
        while (csv_is_digit(p, end))
            p++;
    }
    if (p < end && (*p | 0x20) == 'e') {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (!csv_is_digit(p, end))
            return 0;
        while (csv_is_digit(p, end))
            p++;
    }
    return p == end;
}

/* Whether [@p, @end) is true or false in any case; sets *@value. */
static int csv_is_bool(const unsigned char *p, const unsigned char *end, int *value)
{
    size_t n = (size_t)(end - p);
    if (n == 4 && strncasecmp((const char *)p, "true", 4) == 0)
        return *value = 1, 1;
    if (n == 5 && strncasecmp((const char *)p, "false", 5) == 0)
        return *value = 0, 1;
    return 0;
}

/* The text of @f: its own bytes, or for a quoted field with "" in it, a copy with the quotes
 * single, in @arena. NULL when out of memory. */
static const char *csv_text(const csv_state_t *st, const csv_field_t *f, symtask_arena_t *arena,
                            size_t *len)
{
    *len = f->len;
    if (!f->quoted || !memchr(f->p, '"', f->len))
        return (const char *)f->p;
    char *copy = st->host->arena_alloc(arena, f->len);
    if (!copy)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < f->len; i++) {
        copy[n++] = (char)f->p[i];
        if (f->p[i] == '"')
            i++; /* the second quote of "" */
    }
    *len = n;
    return copy;
}

/* Reads column @c's field as a value: of the type of the feature it holds, or, for a column
 * that is no feature, by its look (csv README: quoted is a string; empty is missing; true,
 * false, a JSON number; anything else a string). */
static symtask_status_t csv_read_value(const csv_state_t *st, size_t c, symtask_arena_t *arena,
                                       symtask_value_t *v, char *errstr, size_t errstr_size)
{
    const csv_field_t *f = &st->fields[c];
    symtask_type_t type = st->column_type ? st->column_type[c] : SYMTASK_TYPE_MISSING;
    const unsigned char *p, *end;
    int boolean;
    *v = symtask_value_missing();
    switch (type) {
    case SYMTASK_TYPE_NUMBER: {
        double number;
        symtask_status_t status = csv_read_number(st, c, f, &number, errstr, errstr_size);
        if (status != SYMTASK_OK || isnan(number))
            return status;
        *v = symtask_value_number(number);
        csv_trim(f, &p, &end);
        if (csv_is_json_number(p, end))
            v->text = (const char *)p, v->len = (size_t)(end - p);
        return SYMTASK_OK;
    }
    case SYMTASK_TYPE_BOOL:
        csv_trim(f, &p, &end);
        if (p == end)
            return SYMTASK_OK;
        if (!csv_is_bool(p, end, &boolean)) {
            csv_bad_value(st->columns[c], f, "a boolean (true or false)", errstr, errstr_size);
            return SYMTASK_ERR_RECORD;
        }
        *v = symtask_value_bool(boolean);
        return SYMTASK_OK;
    case SYMTASK_TYPE_STRING:
        if (f->len == 0 && !f->quoted)
            return SYMTASK_OK;
        break;
    default: /* no feature, or a feature of any type */
        if (f->quoted)
            break;
        p = f->p;
        end = f->p + f->len;
        if (p == end)
            return SYMTASK_OK;
        if (csv_is_bool(p, end, &boolean)) {
            *v = symtask_value_bool(boolean);
            return SYMTASK_OK;
        }
        if (csv_is_json_number(p, end)) {
            double number;
            if (csv_number(st, p, end, &number) < 0)
                break;
            *v = symtask_value_number(number);
            v->text = (const char *)p;
            v->len = f->len;
            return SYMTASK_OK;
        }
        break;
    }
    size_t len;
    const char *text = csv_text(st, f, arena, &len);
    if (!text) {
        snprintf(errstr, errstr_size, "csv serializer: out of memory");
        return SYMTASK_ERR_FATAL;
    }
    *v = symtask_value_string(text, len);
    return SYMTASK_OK;
}

static symtask_status_t csv_decode_fields(void *state, const symtask_record_t *record,
                                          symtask_arena_t *arena, symtask_fields_t *fields,
                                          char *errstr, size_t errstr_size)
{
    csv_state_t *st = state;
    if (!st->n_columns) {
        snprintf(errstr, errstr_size,
                 "params." CSV_COLUMNS " is required to read CSV: name the columns of each line");
        return SYMTASK_ERR_FATAL;
    }
    if (csv_split_line(st, record, errstr, errstr_size) < 0)
        return SYMTASK_ERR_RECORD;
    symtask_field_t *items = st->host->arena_alloc(arena, st->n_columns * sizeof(*items));
    if (!items) {
        snprintf(errstr, errstr_size, "csv serializer: out of memory");
        return SYMTASK_ERR_FATAL;
    }
    for (size_t c = 0; c < st->n_columns; c++) {
        items[c].name = st->columns[c];
        items[c].name_len = strlen(st->columns[c]);
        symtask_status_t status =
            csv_read_value(st, c, arena, &items[c].value, errstr, errstr_size);
        if (status != SYMTASK_OK)
            return status;
    }
    fields->items = items;
    fields->count = st->n_columns;
    return SYMTASK_OK;
}

/* Whether a string must be quoted: it holds the delimiter, a quote or a line break, or it
 * would read back as something else (missing, a boolean, a number). */
static int csv_needs_quotes(const csv_state_t *st, const unsigned char *p, size_t len)
{
    int boolean;
    if (len == 0 || csv_is_bool(p, p + len, &boolean) || csv_is_json_number(p, p + len))
        return 1;
    for (size_t i = 0; i < len; i++)
        if (p[i] == st->delim || p[i] == '"' || p[i] == '\r' || p[i] == '\n')
            return 1;
    return 0;
}

static int csv_append_text(const csv_state_t *st, symtask_buf_t *out, const char *text, size_t len)
{
    const symtask_host_t *host = st->host;
    const unsigned char *p = (const unsigned char *)text, *end = p + len, *q;
    if (!csv_needs_quotes(st, p, len))
        return host->buf_append(out, text, len);
    if (host->buf_append(out, "\"", 1) < 0)
        return -1;
    while ((q = memchr(p, '"', (size_t)(end - p))) != NULL) {
        if (host->buf_append(out, p, (size_t)(q - p) + 1) < 0 || host->buf_append(out, "\"", 1) < 0)
            return -1;
        p = q + 1;
    }
    if (host->buf_append(out, p, (size_t)(end - p)) < 0 || host->buf_append(out, "\"", 1) < 0)
        return -1;
    return 0;
}

/* Appends one field's value; @v may be NULL (nothing to write: an empty field). */
static symtask_status_t csv_append_value(const csv_state_t *st, symtask_buf_t *out,
                                         const symtask_field_t *f, char *errstr, size_t errstr_size)
{
    const symtask_host_t *host = st->host;
    const symtask_value_t *v = f ? &f->value : NULL;
    int failed = 0;
    if (!v)
        return SYMTASK_OK;
    switch (v->type) {
    case SYMTASK_TYPE_MISSING:
        break;
    case SYMTASK_TYPE_NUMBER:
        if (v->text && csv_is_json_number((const unsigned char *)v->text,
                                          (const unsigned char *)v->text + v->len))
            failed = host->buf_append(out, v->text, v->len) < 0;
        else if (isfinite(v->number)) /* else missing: an empty field */
            failed = host->buf_append_number(out, v->number) < 0;
        break;
    case SYMTASK_TYPE_BOOL:
        failed = v->boolean ? host->buf_append(out, "true", 4) < 0
                            : host->buf_append(out, "false", 5) < 0;
        break;
    case SYMTASK_TYPE_STRING:
    case SYMTASK_TYPE_NESTED: /* nested data as its JSON text */
        failed = csv_append_text(st, out, v->text ? v->text : "", v->len) < 0;
        break;
    default:
        snprintf(errstr, errstr_size,
                 "field '%.*s' has a type (%d) the csv serializer cannot "
                 "write",
                 (int)(f->name_len > 64 ? 64 : f->name_len), f->name, (int)v->type);
        return SYMTASK_ERR_RECORD;
    }
    if (failed) {
        snprintf(errstr, errstr_size, "csv serializer: out of memory");
        return SYMTASK_ERR_FATAL;
    }
    return SYMTASK_OK;
}

/* The last field of @fields named (@name, @len), or NULL. */
static const symtask_field_t *csv_find(const symtask_fields_t *fields, const char *name, size_t len)
{
    for (size_t i = fields ? fields->count : 0; i > 0; i--) {
        const symtask_field_t *f = &fields->items[i - 1];
        if (f->name_len == len && memcmp(f->name, name, len) == 0)
            return f;
    }
    return NULL;
}

static symtask_status_t csv_encode_fields(void *state, const symtask_record_t *record,
                                          const symtask_fields_t *fields,
                                          const symtask_fields_t *outputs, symtask_arena_t *arena,
                                          symtask_buf_t *out, char *errstr, size_t errstr_size)
{
    csv_state_t *st = state;
    const symtask_host_t *host = st->host;
    symtask_status_t status = SYMTASK_OK;
    size_t written = 0;
#define CSV_FIELD(f)                                                                               \
    do {                                                                                           \
        if (written++ && host->buf_append(out, &st->delim, 1) < 0)                                 \
            goto nomem;                                                                            \
        if ((status = csv_append_value(st, out, (f), errstr, errstr_size)) != SYMTASK_OK)          \
            return status;                                                                         \
    } while (0)

    if (record) {
        /* the source is this CSV: keep its line */
        if (host->buf_append(out, record->value, csv_line_len(record)) < 0)
            goto nomem;
        written = 1;
    } else if (st->n_columns) {
        /* the columns sml.serializer.out.columns names: an output, else the record's field */
        for (size_t c = 0; c < st->n_columns; c++) {
            size_t len = strlen(st->columns[c]);
            const symtask_field_t *f = csv_find(outputs, st->columns[c], len);
            CSV_FIELD(f ? f : csv_find(fields, st->columns[c], len));
        }
    } else {
        for (size_t i = 0; i < fields->count; i++) {
            const symtask_field_t *f = &fields->items[i];
            if (!csv_find(outputs, f->name, f->name_len))
                CSV_FIELD(f);
        }
    }
    for (size_t i = 0; i < outputs->count; i++) {
        const symtask_field_t *o = &outputs->items[i];
        int placed = 0;
        for (size_t c = 0; !record && c < st->n_columns && !placed; c++)
            placed = strlen(st->columns[c]) == o->name_len &&
                     memcmp(st->columns[c], o->name, o->name_len) == 0;
        if (!placed)
            CSV_FIELD(o);
    }
    return SYMTASK_OK;
#undef CSV_FIELD
nomem:
    snprintf(errstr, errstr_size, "csv serializer: out of memory");
    return SYMTASK_ERR_FATAL;
}

static const symtask_plugin_t csv_plugin = {
    SYMTASK_PLUGIN_HEAD(SYMTASK_PLUGIN_SERIALIZER),
    .name = "csv",
    .version = "1.1.0",
    .description = "One CSV line per message; features from the columns named by "
                   "sml.serializer.columns, outputs appended as fields",
    .options = csv_options,
    .ops.serializer =
        {
            .create = csv_create,
            .decode = csv_decode,
            .encode = csv_encode,
            .destroy = csv_destroy,
            .bind_typed = csv_bind_typed,
            .decode_fields = csv_decode_fields,
            .encode_fields = csv_encode_fields,
        },
};

SYMTASK_PLUGIN_EXPORT const symtask_plugin_t *symtask_plugin_entry(const symtask_host_t *host);

const symtask_plugin_t *symtask_plugin_entry(const symtask_host_t *host)
{
    return &csv_plugin;
}
