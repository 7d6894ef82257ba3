/* fuzz_fields.c: libFuzzer target for the typed paths of plugin ABI 1.1: the serializers'
 * decode_fields and encode_fields (plugins/serializers/json/json.c, csv/csv.c) and the
 * worker's picking of features out of a record's fields (workers/fields.c), all compiled in
 * with coverage feedback (tests/fuzz/meson.build), with the loader's host table and arena
 * (workers/loader.c). The calls are made as workers/stages.c makes them; stages.c itself,
 * which loads plugins from files, is not linked. fuzz_record.c covers the 1.0 calls.
 *
 * Input: one Kafka record value, read as a JSON record and as a CSV line over the columns
 * id,x1,x2,x3,été,note. Every record a decoder is handed (the input, and each record a writer
 * wrote) ends where a page nobody may read begins, and the bytes before it are poisoned for
 * ASan: a read one byte past or before the record crashes, even inside libc (strtod_l, which
 * ASan does not watch).
 *
 * Instances, bound once as stages.c binds them. "num" is x1, x2, x3, été and x1 again, all
 * NUMBER; "typed" is x1:NUMBER, x2:STRING, x3:BOOL, été:ANY, note:ANY. Every instance that
 * encodes declares the outputs prediction:NUMBER, score:NUMBER, label:STRING, flag:BOOL.
 *   json rw          json, decodes and encodes (the sink in the source's format): num
 *   json out         json, encodes only (the sink of another format)
 *   csv num          csv ',', num
 *   csv perm         csv tab, été, x3, x2, x1 (not in the columns' order)
 *   csv typed        csv ',', typed
 *   csv whole        csv ',', no feature: every column typed by its look
 *   csv out          csv ',' and csv tab, encode only, no column list
 *   csv out columns  csv ';', encode only, columns x1, prediction, id, absent, label, été
 * and, for each line a csv writer wrote, a reader (csv, the writer's delimiter, decode only)
 * over as many columns c0, c1, ... as the line must hold, every column typed by its look.
 *
 * Outputs of a record of fields F: prediction = F's first number (with its spelling), score =
 * F's last number without a spelling (NaN when none), label = F's first string, flag = whether
 * F has an odd count; missing when F has no such field. The JSON checks run again with one
 * output named at run time added, after row_outputs_check() takes it as the worker does:
 * F's first name with F's last value (a field giving way to an output); "raw", a string of
 * the input's last 8 bytes (perhaps not UTF-8); the input's last 8 bytes as a name, with
 * true; "first", nested, the JSON text of F's first member (perhaps a scalar); "tail",
 * nested, the input's last 8 bytes (mostly not JSON). The CSV writers get the first two.
 *
 * E(F, O), what a writer must write for fields F and outputs O: the fields of F whose name is
 * no output's, in order, then O in order. For csv out columns: each column's output, else
 * the last field of its name, else missing; then the outputs that are no column.
 *
 * Properties (a failed one aborts, saying what differs):
 *  J1 json decode_fields takes a record iff jansson (json_loadb, JSON_DECODE_ANY off,
 *     duplicate keys allowed, with fuzz_serializer.h's workarounds: \u0000 and numbers beyond
 *     the double range) reads it as an object at most 64 levels deep. Its refusal is a record
 *     error with json decode()'s message, word for word.
 *  J2 Its fields are the object's members in order, duplicates included, each key and value
 *     read by jansson on its own (JSON_DECODE_ANY, JSON_DISABLE_EOF_CHECK, JSON_ALLOW_NUL):
 *     names as jansson unescapes them, NUL bytes included; a number is NUMBER with the bits
 *     of jansson's double (strtod's ±inf beyond the range) and its source spelling as
 *     `text`; a string is STRING with jansson's bytes; true and false are BOOL; null is
 *     MISSING with no text; an object or array is NESTED, whose text jansson reads as a value
 *     equal to the member's.
 *  J3 fields_pick of the num features over them gives json decode()'s status and message,
 *     and its doubles bit for bit. fields_pick of the typed features follows symtask/plugin.h
 *     as ref_pick restates it: the first field named like a feature that is of another type
 *     than the feature (neither MISSING nor ANY) is refused, naming both types; else the first
 *     NUMBER feature, in order, whose value is a number that is not finite; else each feature
 *     gets the value of the last field of its name, or MISSING.
 *  J4 json out from the fields (record NULL: the cross-format path) writes what jansson reads
 *     as an object whose members (J1 and J2 applied to it) are E(F, O) under the JSON
 *     mapping: a number with a spelling in JSON's grammar keeps it and its bits, one without
 *     is written in its shortest form (common/dtoa.h) when finite and as null otherwise;
 *     strings keep their bytes; a nested value is written as its text, which jansson reads as
 *     it reads the member; missing is null. Unless a name or a string is not UTF-8, or a
 *     nested text is not JSON (jansson's reading): then it is refused with a record error.
 *  J5 json rw with the source record (the same format) writes E(F, O) as J4 says, the same
 *     bytes whether it is handed F or not; when no member is named like an output, the
 *     record's bytes up to its last member are kept and the outputs follow a ','.
 *     encode() with the outputs as doubles writes the bytes encode_fields() writes for them
 *     as NUMBER without spelling.
 *  J6 Each csv writer writes, from json's fields, one line that its reader reads back (C1
 *     applied to it) as E(F, O) under the CSV mapping: missing stays missing; a number with a
 *     spelling in JSON's grammar keeps it; one without is written in its shortest form when
 *     finite, else as an empty field (missing); booleans stay booleans; a string comes back
 *     with the same bytes: it is quoted when it would read as something else (empty, true or
 *     false in any case, a JSON number) or holds the delimiter, a quote or a line break; a
 *     nested value comes back as a string of its JSON text. CSV has no names: the reader's
 *     are its own.
 *  C1 Each csv instance's decode_fields reads the line as ref_csv restates csv/README.md:
 *     one trailing line break dropped; well-formed (RFC 4180), else "not valid CSV at byte
 *     ..."; one field per column, else "N fields, expected M columns"; else, for the first
 *     wrong column in the line's order, "column 'NAME' is '...', not WHAT" (the quoted value
 *     unchecked). A column typed by its look: quoted is a
 *     string (quotes undoubled); empty is missing; true or false in any case is a boolean; a
 *     number in JSON's grammar is NUMBER with strtod's value and the field as its spelling;
 *     anything else is a string. A NUMBER feature's column, trimmed of spaces and tabs: empty
 *     or NaN is missing, else a finite number of csv/README.md's grammar, with its spelling
 *     when that is JSON's; a BOOL feature's, trimmed: empty is missing, else true or false in
 *     any case; a STRING feature's: a string, missing only when unquoted and empty.
 *  C2 csv num and csv perm: decode() gives the status, message and doubles of decode_fields()
 *     and fields_pick(). csv typed: fields_pick of its features gives the columns' values.
 *  C3 json out from csv typed's and csv whole's fields writes E(F, O) as J4 says, or refuses
 *     it with a record error when a string is not UTF-8, which CSV allows and JSON does not.
 *  C4 csv whole with its source line writes the line without its line break, then each
 *     output after a delimiter: read over the columns plus the outputs' names, the line's
 *     fields come back as they were and the outputs under the CSV mapping. encode() with the
 *     outputs as doubles writes the bytes encode_fields() writes.
 * And every status is OK or a record error, and every record error has a message.
 *
 * Not checked: messages beyond those above (their wording for names that are not UTF-8),
 * running out of memory, other options (delimiters, column lists) than these instances'. */
#include <math.h>
#include <sanitizer/asan_interface.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dtoa.h"
#include "fields.h"
#include "fuzz_serializer.h"
#include "loader.h"

#define ERRSTR_SIZE 512
#define ETE "\xc3\xa9t\xc3\xa9"

#define N_NUM 5
static const symtask_column_t num_features[N_NUM] = {
    {"x1", SYMTASK_TYPE_NUMBER}, {"x2", SYMTASK_TYPE_NUMBER}, {"x3", SYMTASK_TYPE_NUMBER},
    {ETE, SYMTASK_TYPE_NUMBER},  {"x1", SYMTASK_TYPE_NUMBER},
};
#define N_PERM 4
static const symtask_column_t perm_features[N_PERM] = {
    {ETE, SYMTASK_TYPE_NUMBER},
    {"x3", SYMTASK_TYPE_NUMBER},
    {"x2", SYMTASK_TYPE_NUMBER},
    {"x1", SYMTASK_TYPE_NUMBER},
};
#define N_TYPED 5
static const symtask_column_t typed_features[N_TYPED] = {
    {"x1", SYMTASK_TYPE_NUMBER}, {"x2", SYMTASK_TYPE_STRING}, {"x3", SYMTASK_TYPE_BOOL},
    {ETE, SYMTASK_TYPE_ANY},     {"note", SYMTASK_TYPE_ANY},
};
#define N_OUT 4
static const symtask_column_t out_columns[N_OUT] = {
    {"prediction", SYMTASK_TYPE_NUMBER},
    {"score", SYMTASK_TYPE_NUMBER},
    {"label", SYMTASK_TYPE_STRING},
    {"flag", SYMTASK_TYPE_BOOL},
};

#define CSV_COLUMNS "id,x1,x2,x3," ETE ",note"
#define CSV_N_COLUMNS 6
static const char *const csv_names[CSV_N_COLUMNS + N_OUT] = {
    "id", "x1", "x2", "x3", ETE, "note", "prediction", "score", "label", "flag"};

/* Room for the fields of one record, for the checks' own arrays. */
#define MAX_FIELDS 4096

/* One bound instance. */
typedef struct ser {
    const char *what; /* for messages */
    const symtask_serializer_ops_t *ops;
    void *inst;
    fuzz_params_t params; /* for the instance's life */
    symtask_binding_t binding;
    feature_index_t *index; /* over binding.features */
    /* csv: what ref_csv needs */
    unsigned char delim;
    size_t n_columns;
    const char *const *names;
    symtask_type_t types[MAX_FIELDS + 8]; /* MISSING: typed by its look */
} ser_t;

static symtask_host_t host;
static const symtask_plugin_t *json_plugin, *csv_plugin;
static ser_t json_rw = {.what = "json rw"}, json_out = {.what = "json out"};
static ser_t csv_num = {.what = "csv num", .delim = ','};
static ser_t csv_perm = {.what = "csv perm", .delim = '\t'};
static ser_t csv_typed = {.what = "csv typed", .delim = ','};
static ser_t csv_whole = {.what = "csv whole", .delim = ','};
static ser_t csv_whole_out = {.what = "csv whole read back", .delim = ','};
static ser_t csv_out[3] = {{.what = "csv out ','", .delim = ','},
                           {.what = "csv out tab", .delim = '\t'},
                           {.what = "csv out columns", .delim = ';'}};

/* The columns of csv out columns: fields, outputs, and a name no record has. */
#define OUT_N_COLUMNS 6
static const char *const out_column_names[OUT_N_COLUMNS] = {"x1",     "prediction", "id",
                                                            "absent", "label",      ETE};
static symtask_arena_t arena;
static feature_index_t *typed_index; /* over typed_features */

static void fail(const char *what, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

static void fail(const char *what, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "fuzz_fields: %s: ", what);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

static int same_bytes(const void *a, size_t a_len, const void *b, size_t b_len)
{
    return a_len == b_len && (a_len == 0 || memcmp(a, b, a_len) == 0);
}

static int ends_with(const char *s, const char *tail)
{
    size_t len = strlen(s), tail_len = strlen(tail);
    return len >= tail_len && strcmp(s + len - tail_len, tail) == 0;
}

static int starts_with(const char *s, const char *head)
{
    return strncmp(s, head, strlen(head)) == 0;
}

/* Whether the @len bytes at @p are UTF-8 (jansson's check: json_stringn takes NUL bytes). */
static int is_utf8(const char *p, size_t len)
{
    json_t *s = json_stringn(len ? p : "", len);
    json_decref(s);
    return s != NULL;
}

static const char *type_word(symtask_type_t t)
{
    static const char *const words[] = {"MISSING", "NUMBER", "STRING", "BOOL", "NESTED"};
    return (unsigned)t < 5 ? words[t] : "?";
}

/* A value for messages (into @buf). */
static const char *shown(const symtask_value_t *v, char *buf, size_t size)
{
    int n = snprintf(buf, size, "%s", type_word(v->type));
    if (v->type == SYMTASK_TYPE_NUMBER)
        n += snprintf(buf + n, size - (size_t)n, " %.17g", v->number);
    if (v->type == SYMTASK_TYPE_BOOL)
        snprintf(buf + n, size - (size_t)n, " %d", v->boolean);
    else if (v->text != NULL)
        snprintf(buf + n, size - (size_t)n, " [%.*s] (%zu bytes)", (int)(v->len > 64 ? 64 : v->len),
                 v->text, v->len);
    return buf;
}

/* Whether @a and @b are the same value: type, bits, spelling and bytes. */
static int same_value(const symtask_value_t *a, const symtask_value_t *b)
{
    if (a->type != b->type)
        return 0;
    switch (a->type) {
    case SYMTASK_TYPE_MISSING:
        return 1;
    case SYMTASK_TYPE_BOOL:
        return a->boolean == b->boolean;
    case SYMTASK_TYPE_NUMBER:
        if (!same_bits(a->number, b->number))
            return 0;
        break;
    default:
        break;
    }
    if ((a->text == NULL) != (b->text == NULL))
        return 0;
    return a->text == NULL ? a->len == b->len : same_bytes(a->text, a->len, b->text, b->len);
}

static void fail_value(const char *what, const char *about, const symtask_value_t *want,
                       const symtask_value_t *got) __attribute__((noreturn));

static void fail_value(const char *what, const char *about, const symtask_value_t *want,
                       const symtask_value_t *got)
{
    char a[160], b[160];
    fail(what, "%s: want %s, got %s", about, shown(want, a, sizeof(a)), shown(got, b, sizeof(b)));
}

/* ---- Records that end at a page nobody may read ----------------------------------------- */

typedef struct guard {
    char *base;
    size_t cap; /* readable bytes before the guard page */
} guard_t;

static guard_t record_guard, written_guard;

/* A copy of @data that ends where a PROT_NONE page begins, with the bytes before it poisoned
 * for ASan. Valid until the next call with @g. */
static const char *guard_copy(guard_t *g, const void *data, size_t size)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    if (size > g->cap || g->base == NULL) {
        if (g->base != NULL) {
            ASAN_UNPOISON_MEMORY_REGION(g->base, g->cap);
            munmap(g->base, g->cap + page);
        }
        g->cap = (size + page) / page * page;
        g->base =
            mmap(NULL, g->cap + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (g->base == MAP_FAILED || mprotect(g->base + g->cap, page, PROT_NONE) != 0)
            fuzz_die("mmap");
    }
    ASAN_UNPOISON_MEMORY_REGION(g->base, g->cap);
    char *p = g->base + g->cap - size;
    if (size > 0)
        memcpy(p, data, size);
    ASAN_POISON_MEMORY_REGION(g->base, g->cap - size);
    return p;
}

/* ---- Setup ----------------------------------------------------------------------------- */

static void open_ser(ser_t *s, const symtask_plugin_t *plugin, const char *const *pairs,
                     uint32_t roles, const symtask_column_t *features, size_t n_features,
                     size_t n_outputs)
{
    char errstr[ERRSTR_SIZE] = "";
    s->params = (fuzz_params_t){plugin, pairs};
    s->ops = &plugin->ops.serializer;
    s->binding = (symtask_binding_t){
        .roles = roles,
        .features = features,
        .n_features = n_features,
        .outputs = out_columns,
        .n_outputs = n_outputs,
    };
    if (s->ops->create(&host, (const symtask_params_t *)&s->params, &s->inst, errstr,
                       sizeof(errstr)) != SYMTASK_OK ||
        s->ops->bind_typed(s->inst, &s->binding, errstr, sizeof(errstr)) != SYMTASK_OK)
        fail(s->what, "setup: %s", errstr);
    s->index = feature_index_new(features, n_features);
    if (s->index == NULL)
        fuzz_die("feature_index_new");
    /* For ref_csv: a feature's column has the feature's type. */
    for (size_t f = 0; f < n_features && s->names != NULL; f++)
        for (size_t c = 0; c < s->n_columns; c++)
            if (strcmp(s->names[c], features[f].name) == 0)
                s->types[c] = features[f].type;
}

static void open_csv(ser_t *s, const char *const *pairs, uint32_t roles, size_t n_columns,
                     const symtask_column_t *features, size_t n_features, size_t n_outputs)
{
    s->n_columns = n_columns;
    s->names = n_columns > 0 ? csv_names : NULL;
    open_ser(s, csv_plugin, pairs, roles, features, n_features, n_outputs);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char *const no_pairs[] = {NULL};
    static const char *const comma[] = {"sml.serializer.columns", CSV_COLUMNS, NULL};
    static const char *const tab[] = {"sml.serializer.columns", CSV_COLUMNS,
                                      "sml.serializer.delimiter", "\t", NULL};
    static const char *const comma_back[] = {"sml.serializer.columns",
                                             CSV_COLUMNS ",prediction,score,label,flag", NULL};
    static const char *const tab_out[] = {"sml.serializer.delimiter", "\t", NULL};
    static const char *const columns_out[] = {"sml.serializer.columns",
                                              "x1, prediction,id,absent ,label," ETE,
                                              "sml.serializer.delimiter", ";", NULL};
    const uint32_t rw = SYMTASK_ROLE_DECODE | SYMTASK_ROLE_ENCODE;

    /* The loader's buffers, numbers, log and arena; only the params are this target's. */
    host = *plugin_host();
    host.param = fuzz_param;
    json_plugin = json_plugin_entry(&host);
    csv_plugin = csv_plugin_entry(&host);
    open_ser(&json_rw, json_plugin, no_pairs, rw, num_features, N_NUM, N_OUT);
    open_ser(&json_out, json_plugin, no_pairs, SYMTASK_ROLE_ENCODE, NULL, 0, N_OUT);
    open_csv(&csv_num, comma, rw, CSV_N_COLUMNS, num_features, N_NUM, N_OUT);
    open_csv(&csv_perm, tab, rw, CSV_N_COLUMNS, perm_features, N_PERM, N_OUT);
    open_csv(&csv_typed, comma, rw, CSV_N_COLUMNS, typed_features, N_TYPED, N_OUT);
    open_csv(&csv_whole, comma, rw, CSV_N_COLUMNS, NULL, 0, N_OUT);
    open_csv(&csv_whole_out, comma_back, SYMTASK_ROLE_DECODE, CSV_N_COLUMNS + N_OUT, NULL, 0, 0);
    open_csv(&csv_out[0], no_pairs, SYMTASK_ROLE_ENCODE, 0, NULL, 0, N_OUT);
    open_csv(&csv_out[1], tab_out, SYMTASK_ROLE_ENCODE, 0, NULL, 0, N_OUT);
    open_csv(&csv_out[2], columns_out, SYMTASK_ROLE_ENCODE, 0, NULL, 0, N_OUT);
    typed_index = feature_index_new(typed_features, N_TYPED);
    if (typed_index == NULL)
        fuzz_die("feature_index_new");
    arena_init(&arena);
    return 0;
}

/* ---- Calls, with what every call must do ------------------------------------------------- */

static void check_status(const char *what, const char *call, symtask_status_t st,
                         const char *errstr)
{
    if (st != SYMTASK_OK && st != SYMTASK_ERR_RECORD)
        fail(what, "%s returned %d, not OK or a record error: %s", call, st, errstr);
    if (st == SYMTASK_ERR_RECORD && errstr[0] == '\0')
        fail(what, "%s refused the record without a message", call);
}

/* A NaN that no decode writes: a feature still holding it was not written. */
static double unwritten(void)
{
    uint64_t bits = UINT64_C(0x7ff40000dead0001);
    double v;
    memcpy(&v, &bits, sizeof(v));
    return v;
}

static symtask_status_t call_decode(const ser_t *s, const char *rec, size_t size, double *numbers,
                                    char *errstr)
{
    symtask_record_t record = {rec, size};
    size_t n = s->binding.n_features;
    for (size_t i = 0; i < n; i++)
        numbers[i] = unwritten();
    errstr[0] = '\0';
    symtask_status_t st = s->ops->decode(s->inst, &record, numbers, errstr, ERRSTR_SIZE);
    check_status(s->what, "decode", st, errstr);
    for (size_t i = 0; st == SYMTASK_OK && i < n; i++)
        if (same_bits(numbers[i], unwritten()))
            fail(s->what, "decode did not write feature %zu", i);
    return st;
}

static symtask_status_t call_decode_fields(const ser_t *s, const char *rec, size_t size,
                                           symtask_fields_t *fields, char *errstr)
{
    symtask_record_t record = {rec, size};
    *fields = (symtask_fields_t){NULL, 0};
    errstr[0] = '\0';
    symtask_status_t st =
        s->ops->decode_fields(s->inst, &record, &arena, fields, errstr, ERRSTR_SIZE);
    check_status(s->what, "decode_fields", st, errstr);
    if (st == SYMTASK_OK && fields->count > 0 && fields->items == NULL)
        fail(s->what, "decode_fields gave %zu fields without items", fields->count);
    if (st == SYMTASK_OK && fields->count > MAX_FIELDS)
        fail(s->what, "more fields (%zu) than this target has room for", fields->count);
    for (size_t i = 0; st == SYMTASK_OK && i < fields->count; i++) {
        const symtask_value_t *v = &fields->items[i].value;
        if ((v->type == SYMTASK_TYPE_MISSING || v->type == SYMTASK_TYPE_BOOL) && v->text != NULL)
            fail(s->what, "field %zu is %s with a text", i, type_word(v->type));
        if ((v->type == SYMTASK_TYPE_STRING || v->type == SYMTASK_TYPE_NESTED) && v->text == NULL)
            fail(s->what, "field %zu is %s without a text", i, type_word(v->type));
        if (fields->items[i].name == NULL && fields->items[i].name_len > 0)
            fail(s->what, "field %zu has a length but no name", i);
    }
    return st;
}

/* encode_fields into @out (reset first). */
static symtask_status_t call_encode_fields(const ser_t *s, const char *rec, size_t size,
                                           const symtask_fields_t *fields,
                                           const symtask_fields_t *outputs, symtask_buf_t *out,
                                           char *errstr)
{
    symtask_record_t record = {rec, size};
    buf_reset(out);
    errstr[0] = '\0';
    symtask_status_t st = s->ops->encode_fields(s->inst, rec != NULL ? &record : NULL, fields,
                                                outputs, &arena, out, errstr, ERRSTR_SIZE);
    check_status(s->what, "encode_fields", st, errstr);
    return st;
}

/* ---- jansson's reading of each member --------------------------------------------------- */

/* A member of an object as jansson reads it. */
typedef struct member {
    json_t *name;      /* a string, NUL bytes kept */
    json_t *value;     /* NULL for a number beyond the double range */
    size_t start, len; /* the value's bytes */
} member_t;

typedef struct members {
    member_t items[MAX_FIELDS];
    size_t count;
} members_t;

static members_t members_a, members_b;

static void members_clear(members_t *ms)
{
    for (size_t i = 0; i < ms->count; i++) {
        json_decref(ms->items[i].name);
        json_decref(ms->items[i].value);
    }
    ms->count = 0;
}

static size_t skip_ws(const char *p, size_t i, size_t size)
{
    while (i < size && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r'))
        i++;
    return i;
}

static const size_t ONE_VALUE = JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK | JSON_ALLOW_NUL;

/* jansson's reading of the text of a nested value (whole), with the workarounds. */
static json_t *jansson_nested(const char *text, size_t len)
{
    json_error_t err;
    int overflows = 0;
    if (memchr(text, '\0', len) != NULL)
        return NULL;
    char *copy = fuzz_dup(text, len, 0);
    hide_nul_escapes(copy, len);
    json_t *v = jansson_read_in_place(copy, len, JSON_DECODE_ANY, &overflows, &err);
    free(copy);
    return v;
}

/* The members of the object @data, each key and value read by jansson on its own; the bytes
 * between them (whitespace, '{', ':', ',', '}') are RFC 8259's. -1 when it is not one object
 * (or holds more members than there is room for). A number beyond the double range has no
 * jansson value. */
static int jansson_members(const char *data, size_t size, members_t *ms)
{
    /* scalars and keys from a copy as is; containers from one with the workarounds */
    char *raw = fuzz_dup(data, size, 0), *fixed = fuzz_dup(data, size, 0);
    json_error_t err;
    size_t i;
    int ok = 0;

    members_clear(ms);
    hide_nul_escapes(fixed, size);
    if (memchr(data, '\0', size) != NULL)
        goto done;
    i = skip_ws(data, 0, size);
    if (i == size || data[i] != '{')
        goto done;
    i = skip_ws(data, i + 1, size);
    if (i < size && data[i] == '}') {
        i++;
    } else {
        for (;;) {
            member_t *m;
            if (i == size || data[i] != '"' || ms->count == MAX_FIELDS)
                goto done;
            m = &ms->items[ms->count];
            m->value = NULL;
            m->name = json_loadb(raw + i, size - i, ONE_VALUE, &err);
            if (m->name == NULL)
                goto done;
            ms->count++;
            i = skip_ws(data, i + (size_t)err.position, size);
            if (i == size || data[i] != ':')
                goto done;
            i = skip_ws(data, i + 1, size);
            if (i == size)
                goto done;
            m->start = i;
            if (data[i] == '{' || data[i] == '[') {
                int overflows = 0;
                m->value = jansson_read_in_place(fixed + i, size - i, ONE_VALUE, &overflows, &err);
            } else {
                m->value = json_loadb(raw + i, size - i, ONE_VALUE | JSON_DECODE_INT_AS_REAL, &err);
                if (m->value == NULL && json_error_code(&err) != json_error_numeric_overflow)
                    goto done;
            }
            if (m->value == NULL && (data[i] == '{' || data[i] == '['))
                goto done;
            if (err.position <= 0)
                goto done;
            m->len = (size_t)err.position;
            i = skip_ws(data, i + m->len, size);
            if (i == size)
                goto done;
            if (data[i] == '}') {
                i++;
                break;
            }
            if (data[i] != ',')
                goto done;
            i = skip_ws(data, i + 1, size);
        }
    }
    ok = skip_ws(data, i, size) == size;
done:
    free(raw);
    free(fixed);
    return ok ? 0 : -1;
}

/* J1, J2: @fields, which json decode_fields gave for the record @data, are its members. */
static void check_json_fields(const char *what, const char *data, size_t size,
                              const symtask_fields_t *fields, members_t *ms)
{
    json_error_t err;
    int overflows;
    json_t *doc = jansson_read(data, size, 0, &overflows, &err);

    if (doc == NULL)
        fail(what, "decode_fields takes what jansson refuses: %s at byte %d", err.text,
             err.position);
    if (!json_is_object(doc))
        fail(what, "decode_fields takes a value that is not an object");
    if (depth_of(doc) > JSON_DEPTH_MAX)
        fail(what, "decode_fields takes nesting deeper than %d levels", JSON_DEPTH_MAX);
    json_decref(doc);
    if (jansson_members(data, size, ms) != 0)
        fail(what, "jansson reads an object whose members this target cannot walk");
    if (fields->count != ms->count)
        fail(what, "%zu fields for %zu members", fields->count, ms->count);
    for (size_t i = 0; i < ms->count; i++) {
        const member_t *m = &ms->items[i];
        const symtask_field_t *f = &fields->items[i];
        const symtask_value_t *v = &f->value;
        const char *src = data + m->start;
        symtask_value_t want = symtask_value_missing();
        char about[64];

        snprintf(about, sizeof(about), "member %zu", i);
        if (!same_bytes(f->name, f->name_len, json_string_value(m->name),
                        json_string_length(m->name)))
            fail(what, "%s: name [%.*s] (%zu bytes), jansson reads [%s] (%zu bytes)", about,
                 (int)f->name_len, f->name, f->name_len, json_string_value(m->name),
                 json_string_length(m->name));
        if (m->value == NULL) { /* beyond the double range */
            want = symtask_value_number(fuzz_strtod(src, m->len));
            want.text = src, want.len = m->len;
        } else if (json_is_real(m->value)) {
            want = symtask_value_number(json_real_value(m->value));
            want.text = src, want.len = m->len;
        } else if (json_is_string(m->value)) {
            want = symtask_value_string(json_string_value(m->value), json_string_length(m->value));
        } else if (json_is_boolean(m->value)) {
            want = symtask_value_bool(json_is_true(m->value));
        } else if (json_is_object(m->value) || json_is_array(m->value)) {
            json_t *got = v->type == SYMTASK_TYPE_NESTED ? jansson_nested(v->text, v->len) : NULL;
            int equal = got != NULL && json_equal(got, m->value);
            json_decref(got);
            if (!equal)
                fail(what, "%s: %s [%.*s] is not the nested value [%.*s]", about,
                     type_word(v->type), (int)v->len, v->text ? v->text : "", (int)m->len, src);
            continue;
        }
        if (!same_value(&want, v))
            fail_value(what, about, &want, v);
    }
}

/* ---- fields_pick against plugin.h's rules ------------------------------------------------ */

/* What fields.c's value_kind says of @v. */
static const char *ref_kind(const symtask_value_t *v)
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
    default:
        for (size_t i = 0; i < v->len; i++)
            if (v->text[i] == '{' || v->text[i] == '[')
                return v->text[i] == '{' ? "an object" : "an array";
        return "a nested value";
    }
}

static const char *ref_type(symtask_type_t t)
{
    return t == SYMTASK_TYPE_NUMBER   ? "a number"
           : t == SYMTASK_TYPE_STRING ? "a string"
           : t == SYMTASK_TYPE_BOOL   ? "a boolean"
                                      : "any type";
}

/* The rules of J3 for the @n features @cols over @fields: the status, the message, and
 * each feature's value. Feature names in one list differ in type only when listed once. */
static symtask_status_t ref_pick(const symtask_column_t *cols, size_t n,
                                 const symtask_fields_t *fields, symtask_value_t *values,
                                 char *errstr)
{
    const symtask_value_t *last[16] = {0};
    for (size_t i = 0; i < fields->count; i++) {
        const symtask_field_t *f = &fields->items[i];
        int first = 1;
        for (size_t c = 0; c < n; c++) {
            if (!same_bytes(f->name, f->name_len, cols[c].name, strlen(cols[c].name)))
                continue;
            if (first && f->value.type != SYMTASK_TYPE_MISSING &&
                cols[c].type != SYMTASK_TYPE_ANY && f->value.type != cols[c].type) {
                snprintf(errstr, ERRSTR_SIZE, "feature '%s' is %s, not %s", cols[c].name,
                         ref_kind(&f->value), ref_type(cols[c].type));
                return SYMTASK_ERR_RECORD;
            }
            first = 0;
            last[c] = &f->value;
        }
    }
    for (size_t c = 0; c < n; c++) {
        const symtask_value_t *v = last[c];
        if (v != NULL && v->type == SYMTASK_TYPE_NUMBER && !isfinite(v->number) &&
            cols[c].type == SYMTASK_TYPE_NUMBER) {
            if (v->text != NULL)
                snprintf(errstr, ERRSTR_SIZE, "feature '%s' is %.*s%s, not a finite number",
                         cols[c].name, (int)(v->len > 32 ? 32 : v->len), v->text,
                         v->len > 32 ? "..." : "");
            else
                snprintf(errstr, ERRSTR_SIZE, "feature '%s' is %g, not a finite number",
                         cols[c].name, v->number);
            return SYMTASK_ERR_RECORD;
        }
        values[c] = v != NULL ? *v : symtask_value_missing();
    }
    return SYMTASK_OK;
}

/* fields_pick over @fields of the typed features of @s (x1:NUMBER, x2:STRING, x3:BOOL,
 * été:ANY, note:ANY), into typed values: as ref_pick. */
static void check_typed_pick(const ser_t *s, const symtask_fields_t *fields)
{
    const symtask_column_t *cols = typed_features;
    size_t n = N_TYPED;
    symtask_value_t want[16], got[16];
    char want_err[ERRSTR_SIZE] = "", got_err[ERRSTR_SIZE] = "";
    symtask_status_t ws = ref_pick(cols, n, fields, want, want_err);
    symtask_status_t gs = fields_pick(typed_index, fields, NULL, got, got_err, ERRSTR_SIZE);

    if (ws != gs || (ws != SYMTASK_OK && strcmp(want_err, got_err) != 0))
        fail(s->what, "fields_pick: want %d '%s', got %d '%s'", ws, want_err, gs, got_err);
    for (size_t c = 0; ws == SYMTASK_OK && c < n; c++)
        if (!same_value(&want[c], &got[c]))
            fail_value(s->what, cols[c].name, &want[c], &got[c]);
}

/* J3, C2: decode() and decode_fields() + fields_pick() of number features agree. */
static void check_fast_decode(const ser_t *s, const char *rec, size_t size,
                              const symtask_fields_t *fields, symtask_status_t fields_st,
                              const char *fields_err)
{
    double fast[16], picked[16];
    char fast_err[ERRSTR_SIZE], pick_err[ERRSTR_SIZE] = "";
    size_t n = s->binding.n_features;
    symtask_status_t fs = call_decode(s, rec, size, fast, fast_err);
    symtask_status_t ps = fields_st;

    if (ps == SYMTASK_OK)
        ps = fields_pick(s->index, fields, picked, NULL, pick_err, ERRSTR_SIZE);
    else
        snprintf(pick_err, sizeof(pick_err), "%s", fields_err);
    if (fs != ps || (fs != SYMTASK_OK && strcmp(fast_err, pick_err) != 0))
        fail(s->what, "decode gives %d '%s', decode_fields and fields_pick %d '%s'", fs, fast_err,
             ps, pick_err);
    for (size_t i = 0; fs == SYMTASK_OK && i < n; i++)
        if (!same_bits(fast[i], picked[i]))
            fail(s->what, "feature %zu: decode reads %.17g, decode_fields and fields_pick %.17g", i,
                 fast[i], picked[i]);
}

/* ---- CSV as csv/README.md reads it ------------------------------------------------------- */

/* The field's bytes with "" read as ", into @buf (room for f's bytes). */
static size_t csv_undouble(const unsigned char *line, const csv_field_t *f, char *buf)
{
    size_t n = 0;
    for (size_t i = f->start; i < f->end; i++) {
        buf[n++] = (char)line[i];
        if (f->quoted && line[i] == '"')
            i++;
    }
    return n;
}

static int csv_bool(const unsigned char *p, const unsigned char *end, int *value)
{
    static const char *const words[2] = {"false", "true"};
    for (int b = 0; b < 2; b++) {
        size_t len = strlen(words[b]), i = 0;
        if ((size_t)(end - p) != len)
            continue;
        while (i < len && (p[i] | 0x20) == words[b][i])
            i++;
        if (i == len)
            return *value = b, 1;
    }
    return 0;
}

/* C1's reading of field @f of a column of type @type: 0 with *@v (text in @line or in
 * @buf), or -1 with *@why the words after "not ". */
static int ref_csv_value(symtask_type_t type, const unsigned char *line, const csv_field_t *f,
                         char *buf, symtask_value_t *v, const char **why)
{
    const unsigned char *p = line + f->start, *end = line + f->end;
    int boolean;
    *v = symtask_value_missing();
    if (type == SYMTASK_TYPE_NUMBER || type == SYMTASK_TYPE_BOOL) {
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        if (p == end)
            return 0;
    }
    switch (type) {
    case SYMTASK_TYPE_NUMBER:
        if (csv_reference_nan(p, end))
            return 0;
        if (!csv_reference_number(p, end))
            return *why = "a number", -1;
        *v = symtask_value_number(fuzz_strtod(p, (size_t)(end - p)));
        if (!isfinite(v->number))
            return *why = "a finite number", -1;
        if (json_number((const char *)p, (const char *)end))
            v->text = (const char *)p, v->len = (size_t)(end - p);
        return 0;
    case SYMTASK_TYPE_BOOL:
        if (!csv_bool(p, end, &boolean))
            return *why = "a boolean (true or false)", -1;
        *v = symtask_value_bool(boolean);
        return 0;
    case SYMTASK_TYPE_STRING:
        if (!f->quoted && p == end)
            return 0;
        break;
    default:
        if (f->quoted)
            break;
        if (p == end)
            return 0;
        if (csv_bool(p, end, &boolean)) {
            *v = symtask_value_bool(boolean);
            return 0;
        }
        if (json_number((const char *)p, (const char *)end)) {
            *v = symtask_value_number(fuzz_strtod(p, (size_t)(end - p)));
            v->text = (const char *)p, v->len = (size_t)(end - p);
            return 0;
        }
        break;
    }
    *v = symtask_value_string(buf, csv_undouble(line, f, buf));
    return 0;
}

static csv_field_t csv_fields[MAX_FIELDS];

/* C1: what @s's decode_fields gave for @line (@status, @fields, @errstr) is what ref_csv
 * reads. */
static void check_csv_fields(const ser_t *s, const char *rec, size_t size, symtask_status_t status,
                             const symtask_fields_t *fields, const char *errstr)
{
    const unsigned char *line = (const unsigned char *)rec;
    size_t len = size;
    char want_err[ERRSTR_SIZE] = "";
    char *buf = malloc(size + 1);
    long n;

    if (buf == NULL)
        fuzz_die("malloc");
    if (len > 0 && line[len - 1] == '\n')
        len -= len > 1 && line[len - 2] == '\r' ? 2 : 1;
    n = csv_reference_split(line, len, s->delim, csv_fields, MAX_FIELDS);
    if (n < 0) {
        if (status != SYMTASK_ERR_RECORD || !starts_with(errstr, "not valid CSV at byte "))
            fail(s->what, "the line is not well-formed CSV, yet decode_fields says %d '%s'", status,
                 errstr);
        goto done;
    }
    if ((size_t)n != s->n_columns) {
        snprintf(want_err, sizeof(want_err), "%ld field%s, expected %zu column%s", n,
                 n == 1 ? "" : "s", s->n_columns, s->n_columns == 1 ? "" : "s");
        if (status != SYMTASK_ERR_RECORD || strcmp(errstr, want_err) != 0)
            fail(s->what, "want '%s', decode_fields says %d '%s'", want_err, status, errstr);
        goto done;
    }
    for (size_t c = 0; c < s->n_columns; c++) {
        symtask_value_t want;
        const char *why = NULL;
        char *text = buf + csv_fields[c].start; /* room for the field's bytes */
        if (ref_csv_value(s->types[c], line, &csv_fields[c], text, &want, &why) < 0) {
            char head[128], tail[64];
            snprintf(head, sizeof(head), "column '%s' is '", s->names[c]);
            snprintf(tail, sizeof(tail), "', not %s", why);
            if (status != SYMTASK_ERR_RECORD || !starts_with(errstr, head) ||
                !ends_with(errstr, tail))
                fail(s->what, "want '%s...%s', decode_fields says %d '%s'", head, tail, status,
                     errstr);
            goto done;
        }
        if (status != SYMTASK_OK)
            continue; /* failed: the column that fails is later, or the check fails below */
        if (fields->count != s->n_columns)
            fail(s->what, "%zu fields for %zu columns", fields->count, s->n_columns);
        if (!same_bytes(fields->items[c].name, fields->items[c].name_len, s->names[c],
                        strlen(s->names[c])))
            fail(s->what, "field %zu is named [%.*s], not [%s]", c, (int)fields->items[c].name_len,
                 fields->items[c].name, s->names[c]);
        if (!same_value(&want, &fields->items[c].value))
            fail_value(s->what, s->names[c], &want, &fields->items[c].value);
    }
    if (status != SYMTASK_OK)
        fail(s->what, "decode_fields refuses a line csv/README.md takes: %s", errstr);
done:
    free(buf);
}

/* ---- What writers must write ------------------------------------------------------------- */

/* Up to MAX_FIELDS + a few, for E(F, O). */
static symtask_field_t expected_items[MAX_FIELDS + 8];

/* E(F, O). */
static symtask_fields_t expected(const symtask_fields_t *fields, const symtask_fields_t *outputs)
{
    size_t n = 0;
    for (size_t i = 0; i < fields->count; i++) {
        const symtask_field_t *f = &fields->items[i];
        int named = 0;
        for (size_t o = 0; o < outputs->count && !named; o++)
            named = same_bytes(f->name, f->name_len, outputs->items[o].name,
                               outputs->items[o].name_len);
        if (!named)
            expected_items[n++] = *f;
    }
    for (size_t o = 0; o < outputs->count; o++)
        expected_items[n++] = outputs->items[o];
    return (symtask_fields_t){expected_items, n};
}

/* E(F, O) for a csv writer with the columns @cols: for each column, the output of its name,
 * else the last field of its name, else missing; then the outputs of no column's name. */
static symtask_fields_t expected_in_columns(const symtask_fields_t *fields,
                                            const symtask_fields_t *outputs,
                                            const char *const *cols, size_t n_cols)
{
    static const symtask_field_t absent = {"", 0, {SYMTASK_TYPE_MISSING, 0, 0.0, NULL, 0}};
    size_t n = 0;
    for (size_t c = 0; c < n_cols; c++) {
        const symtask_field_t *got = NULL;
        size_t len = strlen(cols[c]);
        for (size_t o = 0; o < outputs->count && got == NULL; o++)
            if (same_bytes(outputs->items[o].name, outputs->items[o].name_len, cols[c], len))
                got = &outputs->items[o];
        for (size_t i = fields->count; i > 0 && got == NULL; i--)
            if (same_bytes(fields->items[i - 1].name, fields->items[i - 1].name_len, cols[c], len))
                got = &fields->items[i - 1];
        expected_items[n++] = got != NULL ? *got : absent;
    }
    for (size_t o = 0; o < outputs->count; o++) {
        int placed = 0;
        for (size_t c = 0; c < n_cols && !placed; c++)
            placed = same_bytes(outputs->items[o].name, outputs->items[o].name_len, cols[c],
                                strlen(cols[c]));
        if (!placed)
            expected_items[n++] = outputs->items[o];
    }
    return (symtask_fields_t){expected_items, n};
}

/* The outputs of F (see the header) in @items: N_OUT of them, and @extra (NULL: none). */
static symtask_fields_t outputs_of(const symtask_fields_t *fields, symtask_field_t *items,
                                   const symtask_field_t *extra)
{
    const symtask_value_t *first_number = NULL, *last_number = NULL, *first_string = NULL;
    for (size_t i = 0; i < fields->count; i++) {
        const symtask_value_t *v = &fields->items[i].value;
        if (v->type == SYMTASK_TYPE_NUMBER) {
            first_number = first_number ? first_number : v;
            last_number = v;
        }
        if (v->type == SYMTASK_TYPE_STRING && first_string == NULL)
            first_string = v;
    }
    for (size_t o = 0; o < N_OUT; o++) {
        items[o].name = out_columns[o].name;
        items[o].name_len = strlen(out_columns[o].name);
    }
    items[0].value = first_number ? *first_number : symtask_value_missing();
    items[1].value = symtask_value_number(last_number ? last_number->number : NAN);
    items[2].value = first_string ? *first_string : symtask_value_missing();
    items[3].value = symtask_value_bool(fields->count % 2 == 1);
    if (extra != NULL)
        items[N_OUT] = *extra;
    return (symtask_fields_t){items, N_OUT + (extra != NULL)};
}

/* The doubles of outputs that are all NUMBER, for encode(). */
static void outputs_as_numbers(const symtask_fields_t *outputs, double numbers[N_OUT],
                               symtask_field_t items[N_OUT])
{
    for (size_t o = 0; o < N_OUT; o++) {
        const symtask_value_t *v = &outputs->items[o].value;
        numbers[o] = v->type == SYMTASK_TYPE_NUMBER ? v->number
                     : v->type == SYMTASK_TYPE_BOOL ? v->boolean
                                                    : NAN;
        items[o] = outputs->items[o];
        items[o].value = symtask_value_number(numbers[o]);
    }
}

/* Whether json can write every value of @e: names and strings UTF-8, nested values an object,
 * array or string that keeps the record within json's 64 levels (the record is one). */
static int json_writable(const symtask_fields_t *e)
{
    for (size_t i = 0; i < e->count; i++) {
        const symtask_field_t *f = &e->items[i];
        if (!is_utf8(f->name, f->name_len) ||
            (f->value.type == SYMTASK_TYPE_STRING && !is_utf8(f->value.text, f->value.len)))
            return 0;
        if (f->value.type == SYMTASK_TYPE_NESTED) {
            json_t *v = jansson_nested(f->value.text, f->value.len);
            int fits = v != NULL && (json_is_string(v) || depth_of(v) >= 1) &&
                       depth_of(v) <= JSON_DEPTH_MAX - 1;
            json_decref(v);
            if (!fits)
                return 0;
        }
    }
    return 1;
}

/* The shortest spelling of @number as the host writes it. */
static symtask_value_t shortest(double number)
{
    static char texts[4][DTOA_MAX];
    static int next;
    char *text = texts[next++ % 4];
    symtask_value_t v = symtask_value_number(number);
    v.len = dtoa_shortest(number, text);
    v.text = text;
    return v;
}

/* What @e reads back as from a JSON writer (JSON mapping, J4). NESTED is compared apart. */
static symtask_value_t json_mapped(const symtask_value_t *e)
{
    if (e->type != SYMTASK_TYPE_NUMBER ||
        (e->text != NULL && json_number(e->text, e->text + e->len)))
        return *e;
    return isfinite(e->number) ? shortest(e->number) : symtask_value_missing();
}

/* What @e reads back as from a CSV writer, every column typed by its look (J6). */
static symtask_value_t csv_mapped(const symtask_value_t *e)
{
    if (e->type == SYMTASK_TYPE_NESTED)
        return symtask_value_string(e->text, e->len);
    return json_mapped(e);
}

static symtask_buf_t written; /* what the check at hand wrote */

/* J4: @out, which a json writer wrote for @e, is a JSON object whose members are @e's. */
static void check_written_json(const char *what, const char *out, size_t len,
                               const symtask_fields_t *e)
{
    symtask_fields_t got;
    char errstr[ERRSTR_SIZE];
    const char *copy = guard_copy(&written_guard, out, len);

    if (call_decode_fields(&json_rw, copy, len, &got, errstr) != SYMTASK_OK)
        fail(what, "wrote what json cannot read (%s): %.*s", errstr, (int)len, out);
    check_json_fields(what, copy, len, &got, &members_b);
    if (got.count != e->count)
        fail(what, "wrote %zu members for %zu fields and outputs: %.*s", got.count, e->count,
             (int)len, out);
    for (size_t i = 0; i < e->count; i++) {
        const symtask_field_t *want = &e->items[i], *g = &got.items[i];
        char about[96];
        snprintf(about, sizeof(about), "member %zu [%.*s]", i,
                 (int)(want->name_len > 32 ? 32 : want->name_len), want->name);
        if (!same_bytes(want->name, want->name_len, g->name, g->name_len))
            fail(what, "%s: written as [%.*s]", about, (int)g->name_len, g->name);
        if (want->value.type == SYMTASK_TYPE_NESTED) {
            /* written as its text: jansson reads the member as it reads the text */
            const member_t *m = &members_b.items[i];
            json_t *a = jansson_nested(want->value.text, want->value.len);
            json_t *b = jansson_nested(copy + m->start, m->len);
            int equal = a != NULL && b != NULL && json_equal(a, b);
            json_decref(a);
            json_decref(b);
            if (!equal)
                fail_value(what, about, &want->value, &g->value);
            continue;
        }
        symtask_value_t mapped = json_mapped(&want->value);
        if (!same_value(&mapped, &g->value))
            fail_value(what, about, &mapped, &g->value);
    }
}

/* A csv reader over @n columns c0, c1, ... with @delim, every column typed by its look. */
static char reader_columns[MAX_FIELDS * 8];
static const char *reader_names[MAX_FIELDS + 8];
static char reader_name_text[MAX_FIELDS + 8][8];

static void open_reader(ser_t *r, unsigned char delim, size_t n)
{
    static char delim_text[2];
    static const char *pairs[5];
    size_t k = 0;
    for (size_t c = 0; c < n; c++) {
        snprintf(reader_name_text[c], sizeof(reader_name_text[c]), "c%zu", c);
        reader_names[c] = reader_name_text[c];
        k += (size_t)snprintf(reader_columns + k, sizeof(reader_columns) - k, "%s%s", c ? "," : "",
                              reader_name_text[c]);
    }
    delim_text[0] = (char)delim;
    pairs[0] = "sml.serializer.columns", pairs[1] = reader_columns;
    pairs[2] = "sml.serializer.delimiter", pairs[3] = delim_text, pairs[4] = NULL;
    memset(r, 0, sizeof(*r));
    r->what = "csv reader";
    r->delim = delim;
    r->n_columns = n;
    r->names = reader_names;
    open_ser(r, csv_plugin, pairs, SYMTASK_ROLE_DECODE, NULL, 0, 0);
}

static void close_reader(ser_t *r)
{
    r->ops->destroy(r->inst);
    feature_index_free(r->index);
}

/* J6: a csv writer with @delim wrote @out for @e; a reader of every column by its look
 * reads @e back under the CSV mapping. */
static void check_written_csv(const char *what, unsigned char delim, const char *out, size_t len,
                              const symtask_fields_t *e)
{
    ser_t reader;
    symtask_fields_t got;
    char errstr[ERRSTR_SIZE];
    const char *copy = guard_copy(&written_guard, out, len);

    open_reader(&reader, delim, e->count);
    symtask_status_t st = call_decode_fields(&reader, copy, len, &got, errstr);
    check_csv_fields(&reader, copy, len, st, &got, errstr);
    if (st != SYMTASK_OK)
        fail(what, "wrote a line of %zu fields that does not read back (%s): %.*s", e->count,
             errstr, (int)len, out);
    for (size_t i = 0; i < e->count; i++) {
        symtask_value_t mapped = csv_mapped(&e->items[i].value);
        char about[96];
        snprintf(about, sizeof(about), "field %zu [%.*s]", i,
                 (int)(e->items[i].name_len > 32 ? 32 : e->items[i].name_len), e->items[i].name);
        if (!same_value(&mapped, &got.items[i].value))
            fail_value(what, about, &mapped, &got.items[i].value);
    }
    close_reader(&reader);
}

/* ---- JSON ------------------------------------------------------------------------------- */

#define N_EXTRA 5

/* The run-time output @k (0 to N_EXTRA - 1; see the header) for @fields of the record @rec,
 * whose members jansson read into members_a. */
static int extra_output(int k, const symtask_fields_t *fields, const char *rec, size_t size,
                        symtask_field_t *extra)
{
    const char *tail = rec + (size > 8 ? size - 8 : 0);
    size_t tail_len = size > 8 ? 8 : size;
    switch (k) {
    case 0:
        if (fields->count == 0)
            return -1;
        extra->name = fields->items[0].name;
        extra->name_len = fields->items[0].name_len;
        extra->value = fields->items[fields->count - 1].value;
        break;
    case 1:
        extra->name = "raw";
        extra->name_len = 3;
        extra->value = symtask_value_string(tail, tail_len);
        break;
    case 2:
        extra->name = tail;
        extra->name_len = tail_len;
        extra->value = symtask_value_bool(1);
        break;
    case 3:
        if (members_a.count == 0)
            return -1;
        extra->name = "first";
        extra->name_len = 5;
        extra->value = (symtask_value_t){SYMTASK_TYPE_NESTED, 0, 0.0,
                                         rec + members_a.items[0].start, members_a.items[0].len};
        break;
    default:
        extra->name = "tail";
        extra->name_len = 4;
        extra->value = (symtask_value_t){SYMTASK_TYPE_NESTED, 0, 0.0, tail, tail_len};
        break;
    }
    /* as the worker checks a predictor's run-time outputs */
    char errstr[ERRSTR_SIZE];
    symtask_fields_t row = {extra, 1};
    return row_outputs_check(out_columns, N_OUT, &row, errstr, sizeof(errstr));
}

/* J5: what json rw wrote from the record @rec and @outputs keeps the record's bytes when no
 * member of @fields is named like an output. */
static void check_kept_bytes(const char *rec, size_t size, const symtask_fields_t *fields,
                             const symtask_fields_t *outputs, const char *out, size_t len)
{
    for (size_t i = 0; i < fields->count; i++)
        for (size_t o = 0; o < outputs->count; o++)
            if (same_bytes(fields->items[i].name, fields->items[i].name_len, outputs->items[o].name,
                           outputs->items[o].name_len))
                return;
    /* json/README.md: whitespace before the closing '}' and anything after it dropped */
    size_t last = size;
    while (last > 0 && strchr(" \t\r\n", rec[last - 1]) != NULL)
        last--;
    last--; /* the '}' */
    while (last > 0 && strchr(" \t\r\n", rec[last - 1]) != NULL)
        last--;
    int comma = rec[last - 1] != '{';
    if (len < last + 1 || memcmp(out, rec, last) != 0 || (comma && out[last] != ','))
        fail("json rw", "encode_fields did not keep the record's bytes: %.*s", (int)len, out);
}

/* J4, J5 for one set of outputs. */
static void check_json_outputs(const char *rec, size_t size, const symtask_fields_t *fields,
                               const symtask_fields_t *outputs)
{
    static symtask_buf_t other;
    symtask_fields_t e = expected(fields, outputs);
    int writable = json_writable(&e);
    char errstr[ERRSTR_SIZE];

    /* J4: from the fields, as another format's sink */
    symtask_status_t st = call_encode_fields(&json_out, NULL, 0, fields, outputs, &written, errstr);
    if (!writable) {
        if (st != SYMTASK_ERR_RECORD)
            fail(json_out.what, "wrote a name or string that is not UTF-8: %.*s", (int)written.len,
                 written.data);
    } else if (st != SYMTASK_OK) {
        fail(json_out.what, "refused fields it can write: %s", errstr);
    } else {
        check_written_json(json_out.what, written.data, written.len, &e);
    }

    /* J5: from the record, the same format; with and without the fields */
    buf_init(&other);
    symtask_status_t st2 = call_encode_fields(&json_rw, rec, size, NULL, outputs, &other, errstr);
    st = call_encode_fields(&json_rw, rec, size, fields, outputs, &written, errstr);
    if (st != st2 ||
        (st == SYMTASK_OK && !same_bytes(written.data, written.len, other.data, other.len)))
        fail(json_rw.what, "encode_fields with the fields (%d: %.*s) and without them (%d: %.*s)",
             st, (int)written.len, written.data, st2, (int)other.len, other.data);
    buf_free(&other);
    if (!writable) {
        if (st != SYMTASK_ERR_RECORD)
            fail(json_rw.what, "wrote an output that is not UTF-8: %.*s", (int)written.len,
                 written.data);
        return;
    }
    if (st != SYMTASK_OK)
        fail(json_rw.what, "refused outputs it can write: %s", errstr);
    check_written_json(json_rw.what, written.data, written.len, &e);
    check_kept_bytes(rec, size, fields, outputs, written.data, written.len);
}

/* J6 for one set of outputs. */
static void check_csv_outputs(const symtask_fields_t *fields, const symtask_fields_t *outputs)
{
    char errstr[ERRSTR_SIZE];
    for (int w = 0; w < 3; w++) {
        symtask_fields_t e =
            w < 2 ? expected(fields, outputs)
                  : expected_in_columns(fields, outputs, out_column_names, OUT_N_COLUMNS);
        if (call_encode_fields(&csv_out[w], NULL, 0, fields, outputs, &written, errstr) !=
            SYMTASK_OK)
            fail(csv_out[w].what, "refused fields: %s", errstr);
        check_written_csv(csv_out[w].what, csv_out[w].delim, written.data, written.len, &e);
    }
}

/* J5's last: encode() and encode_fields() of number outputs write the same bytes. */
static void check_fast_encode(const ser_t *s, const char *rec, size_t size,
                              const symtask_fields_t *outputs)
{
    static symtask_buf_t fast;
    double numbers[N_OUT];
    symtask_field_t items[N_OUT];
    symtask_fields_t as_numbers = {items, N_OUT};
    symtask_record_t record = {rec, size};
    char errstr[ERRSTR_SIZE] = "";

    outputs_as_numbers(outputs, numbers, items);
    buf_init(&fast);
    if (s->ops->encode(s->inst, &record, numbers, &fast, errstr, sizeof(errstr)) != SYMTASK_OK)
        fail(s->what, "encode of a record that decoded: %s", errstr);
    if (call_encode_fields(s, rec, size, NULL, &as_numbers, &written, errstr) != SYMTASK_OK)
        fail(s->what, "encode_fields of number outputs: %s", errstr);
    if (!same_bytes(fast.data, fast.len, written.data, written.len))
        fail(s->what, "encode wrote %.*s, encode_fields %.*s", (int)fast.len, fast.data,
             (int)written.len, written.data);
    buf_free(&fast);
}

static void check_json(const uint8_t *data, size_t size)
{
    const char *rec = guard_copy(&record_guard, data, size);
    symtask_fields_t fields;
    symtask_field_t items[N_OUT + 1], extra;
    char errstr[ERRSTR_SIZE], fast_err[ERRSTR_SIZE];
    double fast[N_NUM];
    symtask_status_t st = call_decode_fields(&json_rw, rec, size, &fields, errstr);

    if (st != SYMTASK_OK) {
        /* J1: refused by both calls alike, and by jansson */
        json_error_t err;
        int overflows;
        json_t *doc = jansson_read(data, size, 0, &overflows, &err);
        int readable = doc != NULL && json_is_object(doc) && depth_of(doc) <= JSON_DEPTH_MAX;
        json_decref(doc);
        if (readable)
            fail(json_rw.what, "decode_fields refuses an object jansson reads: %s", errstr);
        if (call_decode(&json_rw, rec, size, fast, fast_err) == SYMTASK_OK ||
            strcmp(fast_err, errstr) != 0)
            fail(json_rw.what, "decode_fields says '%s', decode '%s'", errstr, fast_err);
        return;
    }
    check_json_fields(json_rw.what, rec, size, &fields, &members_a);
    check_fast_decode(&json_rw, rec, size, &fields, st, errstr);
    check_typed_pick(&json_rw, &fields);

    symtask_fields_t outputs = outputs_of(&fields, items, NULL);
    check_json_outputs(rec, size, &fields, &outputs);
    check_fast_encode(&json_rw, rec, size, &outputs);
    check_csv_outputs(&fields, &outputs);
    for (int k = 0; k < N_EXTRA; k++) {
        if (extra_output(k, &fields, rec, size, &extra) != 0)
            continue;
        outputs = outputs_of(&fields, items, &extra);
        check_json_outputs(rec, size, &fields, &outputs);
        if (k != 2 && k != 3) /* names do not travel; csv writes nested text as a string */
            check_csv_outputs(&fields, &outputs);
    }
}

/* ---- CSV -------------------------------------------------------------------------------- */

/* C3: json out from csv's fields. */
static void check_csv_to_json(const ser_t *s, const symtask_fields_t *fields)
{
    symtask_field_t items[N_OUT];
    symtask_fields_t outputs = outputs_of(fields, items, NULL);
    symtask_fields_t e = expected(fields, &outputs);
    char errstr[ERRSTR_SIZE];
    symtask_status_t st =
        call_encode_fields(&json_out, NULL, 0, fields, &outputs, &written, errstr);
    if (!json_writable(&e)) {
        if (st != SYMTASK_ERR_RECORD)
            fail(s->what, "json out wrote a string that is not UTF-8: %.*s", (int)written.len,
                 written.data);
        return;
    }
    if (st != SYMTASK_OK)
        fail(s->what, "json out refused fields it can write: %s", errstr);
    check_written_json(s->what, written.data, written.len, &e);
}

/* C4: csv whole with its own line. */
static void check_csv_same_format(const char *rec, size_t size, const symtask_fields_t *fields)
{
    symtask_field_t items[N_OUT];
    symtask_fields_t outputs = outputs_of(fields, items, NULL), got;
    char errstr[ERRSTR_SIZE];
    size_t line = size;

    if (line > 0 && rec[line - 1] == '\n')
        line -= line > 1 && rec[line - 2] == '\r' ? 2 : 1;
    if (call_encode_fields(&csv_whole, rec, size, fields, &outputs, &written, errstr) != SYMTASK_OK)
        fail(csv_whole.what, "encode_fields of its own line: %s", errstr);
    if (written.len < line || memcmp(written.data, rec, line) != 0)
        fail(csv_whole.what, "encode_fields did not keep the line: %.*s", (int)written.len,
             written.data);
    const char *copy = guard_copy(&written_guard, written.data, written.len);
    symtask_status_t st = call_decode_fields(&csv_whole_out, copy, written.len, &got, errstr);
    check_csv_fields(&csv_whole_out, copy, written.len, st, &got, errstr);
    if (st != SYMTASK_OK)
        fail(csv_whole.what, "wrote a line that does not read back (%s): %.*s", errstr,
             (int)written.len, written.data);
    for (size_t c = 0; c < CSV_N_COLUMNS; c++)
        if (!same_value(&fields->items[c].value, &got.items[c].value))
            fail_value(csv_whole.what, csv_names[c], &fields->items[c].value, &got.items[c].value);
    for (size_t o = 0; o < N_OUT; o++) {
        symtask_value_t mapped = csv_mapped(&outputs.items[o].value);
        if (!same_value(&mapped, &got.items[CSV_N_COLUMNS + o].value))
            fail_value(csv_whole.what, csv_names[CSV_N_COLUMNS + o], &mapped,
                       &got.items[CSV_N_COLUMNS + o].value);
    }
    check_fast_encode(&csv_whole, rec, size, &outputs);
}

static void check_csv(const uint8_t *data, size_t size)
{
    const char *rec = guard_copy(&record_guard, data, size);
    symtask_fields_t fields;
    char errstr[ERRSTR_SIZE];
    symtask_status_t st;

    /* C1, C2: number features */
    ser_t *const number_sers[] = {&csv_num, &csv_perm};
    for (int i = 0; i < 2; i++) {
        st = call_decode_fields(number_sers[i], rec, size, &fields, errstr);
        check_csv_fields(number_sers[i], rec, size, st, &fields, errstr);
        check_fast_decode(number_sers[i], rec, size, &fields, st, errstr);
    }

    /* C1, C2, C3: typed features */
    st = call_decode_fields(&csv_typed, rec, size, &fields, errstr);
    check_csv_fields(&csv_typed, rec, size, st, &fields, errstr);
    if (st == SYMTASK_OK) {
        check_typed_pick(&csv_typed, &fields);
        check_csv_to_json(&csv_typed, &fields);
    }

    /* C1, C3, C4: whole records */
    st = call_decode_fields(&csv_whole, rec, size, &fields, errstr);
    check_csv_fields(&csv_whole, rec, size, st, &fields, errstr);
    if (st == SYMTASK_OK) {
        check_csv_to_json(&csv_whole, &fields);
        check_csv_same_format(rec, size, &fields);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (written.data == NULL)
        buf_init(&written);
    arena_reset(&arena);
    check_json(data, size);
    check_csv(data, size);
    members_clear(&members_a);
    members_clear(&members_b);
    return 0;
}
