/* loader.c: loads plugins by name, checks them against the ABI, validates their params against
 * their option tables, and is the host table (include/symtask/plugin.h) they call back into. */
#include "loader.h"
#include "optkeys.h"
#include "redact.h"

#include <ctype.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dtoa.h"
#include "log.h"

#define PLUGIN_NAME_MAX 64
#define SHOWN_MAX 128   /* longest piece of user input quoted back in a message */
#define TAG_MAX 260     /* "cid/tid": two ids of at most 128 characters */
#define AVAILABLE_MAX 8 /* plugins named in a "no such plugin" message */

/* The minor this worker speaks. A test build sets it lower to play an older worker
 * (tests/plugins/meson.build): it then refuses newer plugins and offers the host table of
 * that minor, as that worker did. */
#ifndef LOADER_ABI_MINOR
#define LOADER_ABI_MINOR SYMTASK_PLUGIN_ABI_MINOR
#endif

/* Fields a descriptor of each minor of our major holds; a plugin of minor M must be at least
 * plugin_size_of_minor[M] bytes long. A new minor adds its size here. The ops of 1.1 took
 * free slots of the ops union, so the size did not change. */
static const size_t plugin_size_of_minor[SYMTASK_PLUGIN_ABI_MINOR + 1] = {
    sizeof(symtask_plugin_t), /* 1.0 */
    sizeof(symtask_plugin_t), /* 1.1 */
};

/* The host table of our minor ends after its last field. */
#if LOADER_ABI_MINOR == 0
#define LOADER_HOST_SIZE offsetof(symtask_host_t, arena_alloc)
#else
#define LOADER_HOST_SIZE sizeof(symtask_host_t)
#endif

#define SERIALIZER_PREFIX "sml.serializer."
#define SERIALIZER_OUT_PREFIX "sml.serializer.out."

struct plugin {
    void *handle;
    /* The plugin's descriptor copied up to its size and zero beyond, so that a field a later
     * minor adds reads as "not set" for an older plugin instead of past its end. */
    symtask_plugin_t desc;
    char path[];
};

struct symtask_params {
    const plugin_t *plugin;
    json_t *params; /* borrowed */
    /* An output instance reads its "sml.serializer.<x>" options from
     * "sml.serializer.out.<x>" (plugin_params_new_output). */
    int output;
};

static char host_tag[TAG_MAX];

static void fail(char *errstr, size_t errstr_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(char *errstr, size_t errstr_size, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(errstr, errstr_size, fmt, ap);
    va_end(ap);
}

static const char *shown(char *out, const char *s)
{
    return redact_shown(out, s, SHOWN_MAX);
}

static const char *kind_name(symtask_plugin_kind_t kind)
{
    switch (kind) {
    case SYMTASK_PLUGIN_PREDICTOR:
        return "predictor";
    case SYMTASK_PLUGIN_SERIALIZER:
        return "serializer";
    }
    return NULL;
}

/* ---- Buffers ----------------------------------------------------------------------------- */

void buf_init(symtask_buf_t *buf)
{
    buf->data = NULL;
    buf->len = buf->cap = 0;
}

void buf_reset(symtask_buf_t *buf)
{
    buf->len = 0;
    if (buf->data != NULL)
        buf->data[0] = '\0';
}

void buf_free(symtask_buf_t *buf)
{
    free(buf->data);
    buf_init(buf);
}

/* The data stays NUL-terminated past len, so that text formats can be read as C strings. */
static int host_buf_append(symtask_buf_t *buf, const void *data, size_t len)
{
    if (len == 0)
        return 0;
    if (len > SIZE_MAX / 2 - buf->len)
        return -1;
    if (buf->len + len + 1 > buf->cap) {
        size_t cap = buf->cap < 64 ? 64 : buf->cap;
        char *data_new;

        while (cap < buf->len + len + 1)
            cap *= 2;
        data_new = realloc(buf->data, cap);
        if (data_new == NULL)
            return -1;
        buf->data = data_new;
        buf->cap = cap;
    }
    memcpy(buf->data + buf->len, data, len);
    buf->len += len;
    buf->data[buf->len] = '\0';
    return 0;
}

/* ---- Arenas ------------------------------------------------------------------------------ */

/* Blocks of an arena: the first, of ARENA_BLOCK bytes, is kept across batches; the others
 * (more room, or one big allocation each) go at the next reset. */
#define ARENA_BLOCK (64 * 1024)
#define ARENA_ALIGN (_Alignof(max_align_t))

struct arena_block {
    struct arena_block *next;
    size_t size, used;
    max_align_t data[];
};

void arena_init(symtask_arena_t *arena)
{
    arena->blocks = NULL;
}

void arena_reset(symtask_arena_t *arena)
{
    struct arena_block *b = arena->blocks, *next, *kept = NULL;

    for (; b != NULL; b = next) {
        next = b->next;
        if (kept == NULL && b->size == ARENA_BLOCK) {
            kept = b;
            kept->used = 0;
            kept->next = NULL;
        } else {
            free(b);
        }
    }
    arena->blocks = kept;
}

void arena_free(symtask_arena_t *arena)
{
    struct arena_block *b = arena->blocks, *next;

    for (; b != NULL; b = next) {
        next = b->next;
        free(b);
    }
    arena->blocks = NULL;
}

static void *host_arena_alloc(symtask_arena_t *arena, size_t size)
{
    struct arena_block *b = arena->blocks;
    size_t need;

    if (size > SIZE_MAX - ARENA_ALIGN - sizeof(*b))
        return NULL;
    need = (size + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
    if (need == 0)
        need = ARENA_ALIGN;
    if (b == NULL || b->size - b->used < need) {
        size_t block = need > ARENA_BLOCK / 4 ? need : ARENA_BLOCK;

        b = malloc(sizeof(*b) + block);
        if (b == NULL)
            return NULL;
        b->size = block;
        b->used = 0;
        if (block == need && arena->blocks != NULL) {
            /* a big allocation gets a block of its own behind the current one, which keeps
             * its room for the small ones */
            b->next = arena->blocks->next;
            arena->blocks->next = b;
            b->used = need;
            return b->data;
        }
        b->next = arena->blocks;
        arena->blocks = b;
    }
    void *p = (char *)b->data + b->used;
    b->used += need;
    return p;
}

/* Integers that a double holds exactly are written whole (1e15 as 1000000000000000, not
 * 1e+15); anything else in the fewest significant digits that strtod reads back to the same
 * double, so 0.1 stays "0.1" rather than %.17g's "0.10000000000000001". */
static int host_buf_append_number(symtask_buf_t *buf, double value)
{
    char text[DTOA_MAX];

    if (!isfinite(value))
        return host_buf_append(buf, "null", 4);
    return host_buf_append(buf, text, dtoa_shortest(value, text));
}

/* ---- Host table -------------------------------------------------------------------------- */

static const symtask_option_t *option_find(const plugin_t *plugin, const char *key)
{
    const symtask_option_t *opt = plugin->desc.options;

    for (; opt != NULL && opt->name != NULL; opt++)
        if (strcmp(opt->name, key) == 0)
            return opt;
    return NULL;
}

/* Whether @key names a serializer option that an output instance reads under
 * "sml.serializer.out." instead. */
static int key_is_mapped(const symtask_params_t *params, const char *key)
{
    return params->output && strncmp(key, SERIALIZER_PREFIX, strlen(SERIALIZER_PREFIX)) == 0;
}

/* The task's value of option @key as the instance behind @params reads it, and in @shown
 * (of SHOWN_MAX + 4 bytes) the key it was read under, for messages. */
static json_t *param_lookup(const symtask_params_t *params, const char *key, char *shown_key)
{
    char local[256], *mapped = local;
    json_t *value;

    if (!key_is_mapped(params, key)) {
        if (shown_key != NULL)
            shown(shown_key, key);
        return json_object_get(params->params, key);
    }
    const char *rest = key + strlen(SERIALIZER_PREFIX);
    if (strlen(SERIALIZER_OUT_PREFIX) + strlen(rest) >= sizeof(local) &&
        asprintf(&mapped, "%s%s", SERIALIZER_OUT_PREFIX, rest) < 0) {
        if (shown_key != NULL)
            shown(shown_key, key);
        return NULL;
    }
    if (mapped == local)
        snprintf(local, sizeof(local), "%s%s", SERIALIZER_OUT_PREFIX, rest);
    value = json_object_get(params->params, mapped);
    if (shown_key != NULL)
        shown(shown_key, mapped);
    if (mapped != local)
        free(mapped);
    return value;
}

static const char *host_param(const symtask_params_t *params, const char *key)
{
    json_t *value = param_lookup(params, key, NULL);
    const symtask_option_t *opt;

    if (json_is_string(value))
        return json_string_value(value);
    opt = option_find(params->plugin, key);
    return opt != NULL ? opt->default_value : NULL;
}

static void host_log(symtask_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void host_log(symtask_log_level_t level, const char *fmt, ...)
{
    log_level_t ours;
    va_list ap;

    /* Spelled out rather than cast: the two enums are separate contracts. A level a later
     * ABI adds is logged as the most verbose we know. */
    switch (level) {
    case SYMTASK_LOG_ERROR:
        ours = LOG_ERROR;
        break;
    case SYMTASK_LOG_WARN:
        ours = LOG_WARN;
        break;
    case SYMTASK_LOG_INFO:
        ours = LOG_INFO;
        break;
    default:
        ours = LOG_DEBUG;
        break;
    }
    va_start(ap, fmt);
    log_vmsg(ours, host_tag[0] != '\0' ? host_tag : NULL, fmt, ap);
    va_end(ap);
}

static const symtask_host_t host = {
    .abi_major = SYMTASK_PLUGIN_ABI_MAJOR,
    .abi_minor = LOADER_ABI_MINOR,
    .size = LOADER_HOST_SIZE,
    .param = host_param,
    .log = host_log,
    .buf_append = host_buf_append,
    .buf_append_number = host_buf_append_number,
    .arena_alloc = host_arena_alloc,
};

unsigned plugin_abi_minor(void)
{
    return LOADER_ABI_MINOR;
}

const symtask_host_t *plugin_host(void)
{
    return &host;
}

void plugin_host_set_tag(const char *tag)
{
    snprintf(host_tag, sizeof(host_tag), "%s", tag != NULL ? tag : "");
}

/* ---- Option values ----------------------------------------------------------------------- */

/* Checks @value against @type. On failure returns -1 and writes into @why what is wrong with
 * the value, as a phrase that follows the value or "the value" ("is not a whole number"). */
static int option_value_check(symtask_option_type_t type, const char *value, char *why,
                              size_t why_size)
{
    struct stat st;
    char *end;
    const char *item;

    switch (type) {
    case SYMTASK_OPTION_STRING:
        return 0;
    case SYMTASK_OPTION_INT:
        /* strtoll skips leading blanks and reads "" as 0; an option value may do neither. */
        if (!isdigit((unsigned char)value[value[0] == '-' || value[0] == '+'])) {
            fail(why, why_size, "is not a whole number");
            return -1;
        }
        errno = 0;
        (void)strtoll(value, &end, 10);
        if (*end != '\0') {
            fail(why, why_size, "is not a whole number");
            return -1;
        }
        if (errno == ERANGE) {
            fail(why, why_size, "is out of range (-9223372036854775808 to 9223372036854775807)");
            return -1;
        }
        return 0;
    case SYMTASK_OPTION_DOUBLE: {
        double d;

        if (value[0] == '\0' || isspace((unsigned char)value[0])) {
            fail(why, why_size, "is not a number");
            return -1;
        }
        d = strtod(value, &end);
        if (*end != '\0') {
            fail(why, why_size, "is not a number");
            return -1;
        }
        if (!isfinite(d)) {
            fail(why, why_size, "is not a finite number");
            return -1;
        }
        return 0;
    }
    case SYMTASK_OPTION_BOOL:
        if (strcmp(value, "true") != 0 && strcmp(value, "false") != 0) {
            fail(why, why_size, "is not true or false");
            return -1;
        }
        return 0;
    case SYMTASK_OPTION_PATH:
        if (stat(value, &st) != 0) {
            if (errno == ENOENT)
                fail(why, why_size, "names no file");
            else
                fail(why, why_size, "cannot be read by symtask-worker (%s)", strerror(errno));
            return -1;
        }
        if (!S_ISREG(st.st_mode)) {
            fail(why, why_size, "is not a regular file");
            return -1;
        }
        if (access(value, R_OK) != 0) {
            fail(why, why_size, "cannot be read by symtask-worker (%s)", strerror(errno));
            return -1;
        }
        return 0;
    case SYMTASK_OPTION_LIST:
        for (item = value;; item++) {
            size_t n = strcspn(item, ","), i;

            for (i = 0; i < n && isspace((unsigned char)item[i]); i++)
                ;
            if (i == n) {
                fail(why, why_size, "has an empty item: give values separated by single commas");
                return -1;
            }
            item += n;
            if (*item == '\0')
                return 0;
        }
    }
    fail(why, why_size, "has an option type (%d) this symtask-worker does not know", (int)type);
    return -1;
}

static const char *option_type_name(symtask_option_type_t type)
{
    switch (type) {
    case SYMTASK_OPTION_STRING:
        return "string";
    case SYMTASK_OPTION_INT:
        return "int";
    case SYMTASK_OPTION_DOUBLE:
        return "double";
    case SYMTASK_OPTION_BOOL:
        return "bool";
    case SYMTASK_OPTION_PATH:
        return "path";
    case SYMTASK_OPTION_LIST:
        return "list";
    }
    return NULL;
}

/* ---- Loading ----------------------------------------------------------------------------- */

/* Appends @s to @out (of @out_size, holding @o bytes) and returns the new length. */
static size_t append(char *out, size_t out_size, size_t o, const char *s)
{
    if (o < out_size)
        o += (size_t)snprintf(out + o, out_size - o, "%s", s);
    return o;
}

static int name_valid(const char *name)
{
    size_t len = strlen(name), i;

    if (len == 0 || len > PLUGIN_NAME_MAX)
        return 0;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

static int name_compare(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Writes into @out the plugin names that @dir holds, sorted, for a "no such plugin" message:
 * "plugins there: csv, json, linear", or why there are none to name. */
static void list_available(const char *dir, char *out, size_t out_size)
{
    char **names = NULL, **grown;
    size_t n = 0, cap = 0, o, i;
    struct dirent *de;
    DIR *d = opendir(dir);

    if (d == NULL) {
        if (errno == ENOENT)
            fail(out, out_size,
                 "the plugin directory does not exist: check plugin.dir in "
                 "symtaskd's configuration");
        else
            fail(out, out_size, "the plugin directory cannot be read: %s", strerror(errno));
        return;
    }
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        char *name;

        if (len <= 3 || strcmp(de->d_name + len - 3, ".so") != 0)
            continue;
        name = strndup(de->d_name, len - 3);
        if (name == NULL || !name_valid(name)) {
            free(name);
            continue;
        }
        if (n == cap) {
            cap = cap == 0 ? 16 : cap * 2;
            grown = realloc(names, cap * sizeof(*names));
            if (grown == NULL) {
                free(name);
                break;
            }
            names = grown;
        }
        names[n++] = name;
    }
    closedir(d);
    if (n == 0) {
        fail(out, out_size, "the directory holds no plugin");
        free(names);
        return;
    }
    qsort(names, n, sizeof(names[0]), name_compare);
    o = (size_t)snprintf(out, out_size, "plugins there: ");
    for (i = 0; i < n; i++) {
        if (i < AVAILABLE_MAX) {
            o = append(out, out_size, o, i > 0 ? ", " : "");
            o = append(out, out_size, o, names[i]);
        }
        free(names[i]);
    }
    free(names);
    if (n > AVAILABLE_MAX && o < out_size)
        snprintf(out + o, out_size - o, " and %zu more", n - AVAILABLE_MAX);
}

/* An op that a later minor added sits in a slot of the ops union that an older plugin never
 * set: whatever its bytes hold, it is unset for that plugin. */
static void ops_guard(symtask_plugin_t *d)
{
    if (d->abi_minor >= 1)
        return;
    if (d->kind == SYMTASK_PLUGIN_PREDICTOR) {
        d->ops.predictor.signature = NULL;
    } else if (d->kind == SYMTASK_PLUGIN_SERIALIZER) {
        d->ops.serializer.bind_typed = NULL;
        d->ops.serializer.decode_fields = NULL;
        d->ops.serializer.encode_fields = NULL;
    }
}

static int ops_check(const plugin_t *plugin, char *errstr, size_t errstr_size)
{
    const symtask_plugin_t *d = &plugin->desc;
    const char *missing = NULL;

    if (d->kind == SYMTASK_PLUGIN_PREDICTOR) {
        const symtask_predictor_ops_t *ops = &d->ops.predictor;

        missing = ops->create == NULL                               ? "create"
                  : ops->describe == NULL && ops->signature == NULL ? "describe"
                  : ops->predict == NULL                            ? "predict"
                  : ops->destroy == NULL                            ? "destroy"
                                                                    : NULL;
        if (missing != NULL)
            fail(errstr, errstr_size,
                 "plugin %s sets no %s() in its predictor ops: a predictor must set create, "
                 "describe (or, from ABI 1.1, signature), predict and destroy; fix the plugin",
                 plugin->path, missing);
        return missing != NULL ? -1 : 0;
    }

    const symtask_serializer_ops_t *ops = &d->ops.serializer;
    int fields = ops->decode_fields != NULL || ops->encode_fields != NULL;

    if (fields)
        /* the 1.1 calls; bind, decode and encode are then optional shortcuts */
        missing = ops->create == NULL          ? "create"
                  : ops->decode_fields == NULL ? "decode_fields"
                  : ops->encode_fields == NULL ? "encode_fields"
                  : (ops->decode != NULL || ops->encode != NULL) && ops->bind == NULL &&
                          ops->bind_typed == NULL
                      ? "bind"
                  : ops->destroy == NULL ? "destroy"
                                         : NULL;
    else
        missing = ops->create == NULL    ? "create"
                  : ops->bind == NULL    ? "bind"
                  : ops->decode == NULL  ? "decode"
                  : ops->encode == NULL  ? "encode"
                  : ops->destroy == NULL ? "destroy"
                                         : NULL;
    if (missing != NULL)
        fail(errstr, errstr_size,
             "plugin %s sets no %s() in its serializer ops: a serializer must set create, "
             "destroy and either bind, decode and encode (numbers, one format) or, from ABI "
             "1.1, decode_fields and encode_fields (with bind or bind_typed when it also sets "
             "decode or encode); fix the plugin",
             plugin->path, missing);
    return missing != NULL ? -1 : 0;
}

/* The option table is the plugin's documentation and what plugin_params_new trusts, so it is
 * checked once here rather than found broken by a task. */
static int options_check(const plugin_t *plugin, char *errstr, size_t errstr_size)
{
    const symtask_option_t *opt, *other;
    char why[256], buf[SHOWN_MAX + 4];

    for (opt = plugin->desc.options; opt != NULL && opt->name != NULL; opt++) {
        size_t i = (size_t)(opt - plugin->desc.options);

        if (opt->name[0] == '\0') {
            fail(errstr, errstr_size,
                 "plugin %s: option %zu of its option table has an empty name; fix the plugin",
                 plugin->path, i);
            return -1;
        }
        if (option_type_name(opt->type) == NULL) {
            fail(errstr, errstr_size,
                 "plugin %s: option %s has type %d, which plugin ABI %d.%d does not know: use "
                 "a SYMTASK_OPTION_* type",
                 plugin->path, shown(buf, opt->name), (int)opt->type, SYMTASK_PLUGIN_ABI_MAJOR,
                 LOADER_ABI_MINOR);
            return -1;
        }
        if (opt->help == NULL || opt->help[0] == '\0') {
            fail(errstr, errstr_size,
                 "plugin %s: option %s has no help text: give it one sentence for users",
                 plugin->path, shown(buf, opt->name));
            return -1;
        }
        /* A default path is a property of the machine, not of the table. */
        if (opt->default_value != NULL && opt->type != SYMTASK_OPTION_PATH &&
            option_value_check(opt->type, opt->default_value, why, sizeof(why)) != 0) {
            fail(errstr, errstr_size, "plugin %s: option %s: its default %s; fix the plugin",
                 plugin->path, shown(buf, opt->name), why);
            return -1;
        }
        for (other = plugin->desc.options; other != opt; other++) {
            if (strcmp(other->name, opt->name) == 0) {
                fail(errstr, errstr_size,
                     "plugin %s: option %s is declared twice in its option table; fix the plugin",
                     plugin->path, shown(buf, opt->name));
                return -1;
            }
        }
    }
    return 0;
}

/* Checks the descriptor @d that the entry of @plugin returned and copies it into @plugin. */
static int descriptor_check(plugin_t *plugin, const symtask_plugin_t *d, const char *name,
                            symtask_plugin_kind_t kind, const char *role, char *errstr,
                            size_t errstr_size)
{
    char buf[SHOWN_MAX + 4];
    const char *want = kind_name(kind), *have;

    /* Only the head (major, minor, size) may be read before the size has been checked. */
    if (d->abi_major != SYMTASK_PLUGIN_ABI_MAJOR) {
        fail(errstr, errstr_size,
             "plugin %s was built for plugin ABI %u.%u but this symtask-worker speaks %d.%d: "
             "rebuild it against symtask %d.x headers",
             plugin->path, d->abi_major, d->abi_minor, SYMTASK_PLUGIN_ABI_MAJOR, LOADER_ABI_MINOR,
             SYMTASK_PLUGIN_ABI_MAJOR);
        return -1;
    }
    if (d->abi_minor > LOADER_ABI_MINOR) {
        fail(errstr, errstr_size,
             "plugin %s was built for plugin ABI %u.%u but this symtask-worker speaks only up "
             "to %d.%d: upgrade symtask, or rebuild the plugin against these headers",
             plugin->path, d->abi_major, d->abi_minor, SYMTASK_PLUGIN_ABI_MAJOR, LOADER_ABI_MINOR);
        return -1;
    }
    if (d->size < plugin_size_of_minor[d->abi_minor]) {
        fail(errstr, errstr_size,
             "plugin %s declares a descriptor size of %u bytes but plugin ABI %u.%u needs at "
             "least %zu: fill its head with SYMTASK_PLUGIN_HEAD() and rebuild it",
             plugin->path, d->size, d->abi_major, d->abi_minor, plugin_size_of_minor[d->abi_minor]);
        return -1;
    }
    memset(&plugin->desc, 0, sizeof(plugin->desc));
    memcpy(&plugin->desc, d, d->size < sizeof(plugin->desc) ? d->size : sizeof(plugin->desc));
    ops_guard(&plugin->desc);
    d = &plugin->desc;

    if (kind == PLUGIN_KIND_ANY && kind_name(d->kind) != NULL)
        want = kind_name(d->kind);
    else if (d->kind != kind) {
        have = kind_name(d->kind);
        if (have != NULL && want != NULL)
            fail(errstr, errstr_size, "plugin %s is a %s, not a %s: name a %s plugin in %s",
                 plugin->path, have, want, want, role);
        else
            fail(errstr, errstr_size,
                 "plugin %s declares kind %d, which is neither a predictor nor a serializer: "
                 "fix the plugin",
                 plugin->path, (int)d->kind);
        return -1;
    }
    if (d->name == NULL || strcmp(d->name, name) != 0) {
        fail(errstr, errstr_size,
             "plugin %s calls itself '%s' but was loaded as '%s': a plugin's file must be "
             "named after it; rename the file or fix the descriptor's name",
             plugin->path, d->name != NULL ? shown(buf, d->name) : "(null)", name);
        return -1;
    }
    if (d->version == NULL || d->description == NULL) {
        fail(errstr, errstr_size, "plugin %s has no %s in its descriptor: fix the plugin",
             plugin->path, d->version == NULL ? "version" : "description");
        return -1;
    }
    if (ops_check(plugin, errstr, errstr_size) != 0)
        return -1;
    return options_check(plugin, errstr, errstr_size);
}

plugin_t *plugin_load(const char *dir, const char *name, symtask_plugin_kind_t kind,
                      const char *role, char *errstr, size_t errstr_size)
{
    char buf[SHOWN_MAX + 4], available[512], why[1024];
    const symtask_plugin_t *d;
    symtask_plugin_entry_fn entry;
    plugin_t *plugin = NULL;
    struct stat st;
    size_t path_size;
    void *sym;

    /* Before the name goes into a path: it comes from a task's params. */
    if (!name_valid(name)) {
        fail(why, sizeof(why),
             "'%s' is not a plugin name: use 1 to %d characters of a-z, 0-9, _ and -",
             shown(buf, name), PLUGIN_NAME_MAX);
        goto error;
    }
    path_size = strlen(dir) + 1 + strlen(name) + sizeof(".so");
    plugin = calloc(1, sizeof(*plugin) + path_size);
    if (plugin == NULL) {
        fail(why, sizeof(why), "out of memory loading plugin %s", name);
        goto error;
    }
    snprintf(plugin->path, path_size, "%s/%s.so", dir, name);

    /* dlopen's message for a missing file would not say what there is instead. */
    if (stat(plugin->path, &st) != 0) {
        if (errno == ENOENT) {
            list_available(dir, available, sizeof(available));
            fail(why, sizeof(why),
                 "no %s plugin '%s': %s does not exist (%s); name an installed plugin or "
                 "install %s.so in %s",
                 kind != PLUGIN_KIND_ANY ? kind_name(kind) : "plugin", name, plugin->path,
                 available, name, dir);
        } else {
            fail(why, sizeof(why), "plugin %s cannot be read: %s", plugin->path, strerror(errno));
        }
        goto error;
    }
    plugin->handle = dlopen(plugin->path, RTLD_NOW | RTLD_LOCAL);
    if (plugin->handle == NULL) {
        fail(why, sizeof(why),
             "plugin %s cannot be loaded (%s): it must be a shared object built for this "
             "system against symtask %d.x headers",
             plugin->path, dlerror(), SYMTASK_PLUGIN_ABI_MAJOR);
        goto error;
    }
    dlerror();
    sym = dlsym(plugin->handle, SYMTASK_PLUGIN_ENTRY);
    if (sym == NULL) {
        fail(why, sizeof(why),
             "plugin %s exports no %s(): it is not a symtask plugin, or its entry function "
             "lacks SYMTASK_PLUGIN_EXPORT",
             plugin->path, SYMTASK_PLUGIN_ENTRY);
        goto error;
    }
    /* POSIX guarantees that a function's address survives the trip through void *. */
    memcpy(&entry, &sym, sizeof(entry));
    d = entry(&host);
    if (d == NULL) {
        fail(why, sizeof(why),
             "plugin %s returned no descriptor from %s(): it could not initialise; see its "
             "log lines",
             plugin->path, SYMTASK_PLUGIN_ENTRY);
        goto error;
    }
    if (descriptor_check(plugin, d, name, kind, role, why, sizeof(why)) != 0)
        goto error;
    log_debug(host_tag[0] != '\0' ? host_tag : NULL, "loaded %s plugin %s %s from %s",
              kind_name(plugin->desc.kind), name, plugin->desc.version, plugin->path);
    return plugin;

error:
    /* Every load error is a 400 on the param that named the plugin. */
    fail(errstr, errstr_size, "params.%s: %s", role, why);
    plugin_unload(plugin);
    return NULL;
}

const symtask_plugin_t *plugin_descriptor(const plugin_t *plugin)
{
    return &plugin->desc;
}

const char *plugin_path(const plugin_t *plugin)
{
    return plugin->path;
}

void plugin_unload(plugin_t *plugin)
{
    if (plugin == NULL)
        return;
    if (plugin->handle != NULL)
        dlclose(plugin->handle);
    free(plugin);
}

/* ---- Params ------------------------------------------------------------------------------ */

static symtask_params_t *params_new(const plugin_t *plugin, json_t *params, int output,
                                    char *errstr, size_t errstr_size)
{
    char why[256], kbuf[SHOWN_MAX + 4], vbuf[SHOWN_MAX + 4];
    const symtask_option_t *opt;
    symtask_params_t *view = malloc(sizeof(*view));

    if (view == NULL) {
        fail(errstr, errstr_size, "out of memory checking the params of plugin %s",
             plugin->desc.name);
        return NULL;
    }
    view->plugin = plugin;
    view->params = params;
    view->output = output;
    for (opt = plugin->desc.options; opt != NULL && opt->name != NULL; opt++) {
        json_t *value = param_lookup(view, opt->name, kbuf);

        if (value == NULL) {
            if (opt->required) {
                fail(errstr, errstr_size, "params.%s: required by plugin %s: %s", kbuf,
                     plugin->desc.name, opt->help);
                goto error;
            }
            continue;
        }
        if (!json_is_string(value)) {
            fail(errstr, errstr_size, "params.%s: must be a string", kbuf);
            goto error;
        }
        if (option_value_check(opt->type, json_string_value(value), why, sizeof(why)) != 0) {
            if (redact_key_is_secret(opt->name))
                fail(errstr, errstr_size, "params.%s: the value (not shown: secret) %s", kbuf, why);
            else
                fail(errstr, errstr_size, "params.%s: '%s' %s", kbuf,
                     shown(vbuf, json_string_value(value)), why);
            goto error;
        }
    }
    return view;

error:
    free(view);
    return NULL;
}

symtask_params_t *plugin_params_new(const plugin_t *plugin, json_t *params, char *errstr,
                                    size_t errstr_size)
{
    return params_new(plugin, params, 0, errstr, errstr_size);
}

symtask_params_t *plugin_params_new_output(const plugin_t *plugin, json_t *params, char *errstr,
                                           size_t errstr_size)
{
    return params_new(plugin, params, 1, errstr, errstr_size);
}

int plugin_params_have_output_options(json_t *params)
{
    const char *key;
    json_t *value;

    json_object_foreach (params, key, value)
        if (strncmp(key, SERIALIZER_OUT_PREFIX, strlen(SERIALIZER_OUT_PREFIX)) == 0)
            return 1;
    return 0;
}

void plugin_params_free(symtask_params_t *params)
{
    free(params);
}

/* A key that some plugin of the task must declare: under sml.predictor. or sml.serializer.,
 * or a plugin option outside sml.* (schema.registry.*). */
static int key_is_plugin_setting(const char *key)
{
    return ((strncmp(key, "sml.predictor.", strlen("sml.predictor.")) == 0 ||
             strncmp(key, SERIALIZER_PREFIX, strlen(SERIALIZER_PREFIX)) == 0) &&
            strcmp(key, "sml.serializer.out") != 0) ||
           optkeys_is_plugin_option(key);
}

static int key_is_output_setting(const char *key)
{
    return strncmp(key, SERIALIZER_OUT_PREFIX, strlen(SERIALIZER_OUT_PREFIX)) == 0;
}

/* Whether plugins[i] repeats an earlier one (json as both sml.serializer and .out), so that
 * a message names each plugin and option once. */
static int plugin_repeated(const plugin_t *const *plugins, size_t i)
{
    size_t j;

    for (j = 0; j < i; j++)
        if (strcmp(plugins[j]->desc.name, plugins[i]->desc.name) == 0)
            return 1;
    return 0;
}

/* Whether the output instance of @output reads @key ("sml.serializer.out.<x>"). */
static int output_reads(const plugin_t *output, const char *key)
{
    const symtask_option_t *opt;
    const char *rest = key + strlen(SERIALIZER_OUT_PREFIX);

    for (opt = output != NULL ? output->desc.options : NULL; opt != NULL && opt->name != NULL;
         opt++)
        if (strncmp(opt->name, SERIALIZER_PREFIX, strlen(SERIALIZER_PREFIX)) == 0 &&
            strcmp(opt->name + strlen(SERIALIZER_PREFIX), rest) == 0)
            return 1;
    return 0;
}

/* The message for @key, which no plugin reads: which plugins were asked and what they know. */
static void unknown_key(const char *key, const plugin_t *const *plugins, size_t n, int as_output,
                        char *errstr, size_t errstr_size)
{
    char buf[SHOWN_MAX + 4];
    const symtask_option_t *opt;
    size_t i, o, count = 0;

    o = (size_t)snprintf(errstr, errstr_size, "params.%s: not an option of %s", shown(buf, key),
                         n == 0 ? "a serializer writing the sink" : "plugin");
    for (i = 0; i < n; i++) {
        if (plugin_repeated(plugins, i))
            continue;
        o = append(errstr, errstr_size, o, i > 0 ? ", " : " ");
        o = append(errstr, errstr_size, o, plugins[i]->desc.name);
    }
    if (as_output && n > 0)
        o = append(errstr, errstr_size, o, " (the sink's serializer)");
    o = append(errstr, errstr_size, o, "; check the spelling against the options known: ");
    for (i = 0; i < n; i++) {
        if (plugin_repeated(plugins, i))
            continue;
        for (opt = plugins[i]->desc.options; opt != NULL && opt->name != NULL; opt++) {
            if (!key_is_plugin_setting(opt->name) ||
                (as_output && strncmp(opt->name, SERIALIZER_PREFIX, strlen(SERIALIZER_PREFIX))))
                continue;
            o = append(errstr, errstr_size, o, count++ > 0 ? ", " : "");
            if (as_output) {
                o = append(errstr, errstr_size, o, SERIALIZER_OUT_PREFIX);
                o = append(errstr, errstr_size, o, opt->name + strlen(SERIALIZER_PREFIX));
            } else {
                o = append(errstr, errstr_size, o, opt->name);
            }
        }
    }
    if (count == 0)
        append(errstr, errstr_size, o, "(none)");
}

int plugin_check_unknown_keys(json_t *params, const plugin_t *const *plugins, size_t n,
                              const plugin_t *output, char *errstr, size_t errstr_size)
{
    const char *key;
    json_t *value;
    size_t i;

    json_object_foreach (params, key, value) {
        if (!key_is_plugin_setting(key))
            continue;
        if (key_is_output_setting(key)) {
            if (output_reads(output, key))
                continue;
            unknown_key(key, &output, output != NULL, 1, errstr, errstr_size);
            return -1;
        }
        for (i = 0; i < n; i++)
            if (option_find(plugins[i], key) != NULL)
                break;
        if (i < n)
            continue;
        /* a key outside sml.* is read under its own name by the sink's serializer too */
        if (output != NULL && optkeys_is_plugin_option(key) && option_find(output, key) != NULL)
            continue;
        unknown_key(key, plugins, n, 0, errstr, errstr_size);
        return -1;
    }
    return 0;
}
