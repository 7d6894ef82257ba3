/* loader.h: finds, checks and loads plugins (include/symtask/plugin.h) and is their host.
 * Private to workers/ (the plugin tests link it too). */
#ifndef SYMTASK_WORKERS_LOADER_H
#define SYMTASK_WORKERS_LOADER_H

#include <jansson.h>
#include <stddef.h>

#include "symtask/plugin.h"

/* The host's byte buffer behind symtask_buf_t. */
struct symtask_buf {
    char *data;
    size_t len, cap;
};

void buf_init(symtask_buf_t *buf);
void buf_reset(symtask_buf_t *buf); /* len = 0, keeps the memory */
void buf_free(symtask_buf_t *buf);

/* The host's per-batch memory behind symtask_arena_t (host->arena_alloc). */
struct symtask_arena {
    struct arena_block *blocks;
};

void arena_init(symtask_arena_t *arena);
void arena_reset(symtask_arena_t *arena); /* frees what was allocated; keeps one block */
void arena_free(symtask_arena_t *arena);

/* The plugin ABI minor this worker speaks (SYMTASK_PLUGIN_ABI_MINOR, or less in a test build
 * that plays an older worker). */
unsigned plugin_abi_minor(void);

/* A loaded plugin. */
typedef struct plugin plugin_t;

/* Loads "{dir}/{name}.so" and checks it: @name is 1 to 64 of [a-z0-9_-]; the file exists;
 * dlopen succeeds; it exports SYMTASK_PLUGIN_ENTRY; the descriptor's ABI major equals ours
 * and its minor is not newer; its size covers the fields of its minor; kind is @kind; name
 * equals @name; the ops of its kind are all set. Each failure writes a message naming the
 * file and what to do, e.g. "plugin /x/linear.so was built for plugin ABI 2.0 but this
 * symtask-worker speaks 1.0: rebuild it against symtask 1.x headers". @role names the
 * param that chose the plugin ("sml.predictor"), for messages. */
/* A @kind for plugin_load() that accepts a predictor or a serializer (the plugin listing). */
#define PLUGIN_KIND_ANY ((symtask_plugin_kind_t)0)

plugin_t *plugin_load(const char *dir, const char *name, symtask_plugin_kind_t kind,
                      const char *role, char *errstr, size_t errstr_size);

/* The checked descriptor (valid until plugin_unload). */
const symtask_plugin_t *plugin_descriptor(const plugin_t *plugin);
const char *plugin_path(const plugin_t *plugin);

/* dlclose()s the plugin. Every instance must have been destroyed. */
void plugin_unload(plugin_t *plugin);

/* A plugin instance's view of the task's params: checks @params (a TaskInfo params object)
 * against the plugin's option table (required options set; INT, DOUBLE, BOOL, PATH, LIST
 * values well-formed; messages "params.KEY: ..." without the value when the key looks
 * secret) and serves symtask_host_t.param with the table's defaults. Borrows @params. */
symtask_params_t *plugin_params_new(const plugin_t *plugin, json_t *params, char *errstr,
                                    size_t errstr_size);
/* The same for the instance of a serializer that writes the sink while another reads the
 * source: each option "sml.serializer.<x>" of its table is read from
 * "sml.serializer.out.<x>" (checks, messages and host_param alike). */
symtask_params_t *plugin_params_new_output(const plugin_t *plugin, json_t *params, char *errstr,
                                           size_t errstr_size);
void plugin_params_free(symtask_params_t *params);

/* Whether @params sets some "sml.serializer.out.<x>": options of an output instance. */
int plugin_params_have_output_options(json_t *params);

/* Checks that every key of @params under "sml.predictor." or "sml.serializer." is an option
 * of one of @plugins, and every key under "sml.serializer.out." an option of @output (the
 * serializer of the sink's own instance, or NULL when there is none) once that prefix is
 * read as "sml.serializer."; a plugin option outside sml.* (optkeys.h: schema.registry.*)
 * must be an option of one of @plugins or of @output. Names the first unknown key and the
 * options known. */
int plugin_check_unknown_keys(json_t *params, const plugin_t *const *plugins, size_t n,
                              const plugin_t *output, char *errstr, size_t errstr_size);

/* The param the check at create (symtask-worker --validate) sets to "true" for the plugins
 * (host->param); no task sets it: keys outside sml.* are librdkafka's, which has no such
 * property. */
#define PLUGIN_VALIDATE_PARAM "symtask.validate"

/* The host table handed to every plugin. @tag ("cid/tid") prefixes plugin log lines. */
const symtask_host_t *plugin_host(void);
void plugin_host_set_tag(const char *tag);

#endif
