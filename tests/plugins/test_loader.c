/* test_loader.c: workers/loader.c with real shared objects: every built-in plugin's descriptor,
 * the broken plugins it must refuse, params checked against option tables, the host table. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <criterion/redirect.h>

#include <ctype.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loader.h"
#include "log.h"

static char errstr[1024];

static const char *env_dir(const char *var)
{
    const char *dir = getenv(var);

    cr_assert_not_null(dir, "%s is not set: run the tests with meson test", var);
    return dir;
}

#define BUILTIN_DIR env_dir("SYMTASK_PLUGIN_DIR")
#define BROKEN_DIR env_dir("SYMTASK_BROKEN_PLUGIN_DIR")

static int contains(const char *haystack, const char *needle)
{
    return strstr(haystack, needle) != NULL;
}

/* ---- Built-in plugins -------------------------------------------------------------------- */

/* Criterion hands the parameters to a freshly started test process, where pointers into the
 * parent (string literals included, under ASLR) are not valid: the name is held inline. */
typedef struct builtin {
    char name[16];
    symtask_plugin_kind_t kind;
} builtin_t;

ParameterizedTestParameters(builtin, descriptor)
{
    static builtin_t builtins[] = {
        {"linear", SYMTASK_PLUGIN_PREDICTOR},
        {"json", SYMTASK_PLUGIN_SERIALIZER},
        {"csv", SYMTASK_PLUGIN_SERIALIZER},
#ifdef SYMTASK_HAVE_XGBOOST
        {"xgboost", SYMTASK_PLUGIN_PREDICTOR},
#endif
    };

    return cr_make_param_array(builtin_t, builtins, sizeof(builtins) / sizeof(builtins[0]));
}

static int version_valid(const char *v)
{
    int parts = 0;

    /* MAJOR.MINOR.PATCH, digits only: the listing and users compare them. */
    for (;;) {
        if (!isdigit((unsigned char)*v))
            return 0;
        while (isdigit((unsigned char)*v))
            v++;
        parts++;
        if (*v == '\0')
            return parts == 3;
        if (*v++ != '.')
            return 0;
    }
}

ParameterizedTest(builtin_t *b, builtin, descriptor)
{
    plugin_t *plugin;
    const symtask_plugin_t *d;
    const symtask_option_t *opt, *other;
    const char *role = b->kind == SYMTASK_PLUGIN_PREDICTOR ? "sml.predictor" : "sml.serializer";

    plugin = plugin_load(BUILTIN_DIR, b->name, b->kind, role, errstr, sizeof(errstr));
    cr_assert_not_null(plugin, "%s: %s", b->name, errstr);
    d = plugin_descriptor(plugin);

    cr_expect_eq(d->abi_major, SYMTASK_PLUGIN_ABI_MAJOR);
    cr_expect_eq(d->abi_minor, SYMTASK_PLUGIN_ABI_MINOR);
    cr_expect_eq(d->size, sizeof(symtask_plugin_t));
    cr_expect_eq(d->kind, b->kind);
    cr_expect_str_eq(d->name, b->name);
    cr_expect(version_valid(d->version), "%s: version '%s' is not MAJOR.MINOR.PATCH", b->name,
              d->version);
    cr_expect(strlen(d->description) > 10 && strlen(d->description) <= 200,
              "%s: description '%s' is not one short line", b->name, d->description);
    cr_expect_null(strchr(d->description, '\n'), "%s: description spans lines", b->name);
    cr_expect(contains(plugin_path(plugin), b->name), "%s: path %s", b->name, plugin_path(plugin));

    for (opt = d->options; opt != NULL && opt->name != NULL; opt++) {
        cr_expect(strncmp(opt->name, "sml.", 4) == 0, "%s: option %s is not an sml.* key", b->name,
                  opt->name);
        cr_expect(opt->type >= SYMTASK_OPTION_STRING && opt->type <= SYMTASK_OPTION_LIST,
                  "%s: option %s has type %d", b->name, opt->name, (int)opt->type);
        cr_expect(opt->help != NULL && strlen(opt->help) > 10, "%s: option %s lacks help", b->name,
                  opt->name);
        if (opt->help != NULL)
            cr_expect(opt->help[strlen(opt->help) - 1] == '.',
                      "%s: help of %s is not a sentence: '%s'", b->name, opt->name, opt->help);
        cr_expect(!(opt->required && opt->default_value != NULL),
                  "%s: option %s is required yet has a default", b->name, opt->name);
        for (other = d->options; other != opt; other++)
            cr_expect_str_neq(other->name, opt->name, "%s: option declared twice", b->name);
    }
    plugin_unload(plugin);
}

/* ---- Broken plugins ---------------------------------------------------------------------- */

static void expect_refused(const char *dir, const char *name, symtask_plugin_kind_t kind,
                           const char *needle)
{
    plugin_t *plugin = plugin_load(dir, name, kind, "sml.predictor", errstr, sizeof(errstr));

    cr_expect_null(plugin, "%s was loaded", name);
    cr_expect(strncmp(errstr, "params.sml.predictor: ", 22) == 0,
              "%s: message does not name the param: '%s'", name, errstr);
    cr_expect(contains(errstr, needle), "%s: '%s' lacks '%s'", name, errstr, needle);
    plugin_unload(plugin);
}

/* A refusal names the file, so that the user knows which one to fix or replace. */
static void expect_broken(const char *name, const char *needle)
{
    char path[4096];

    snprintf(path, sizeof(path), "%s/%s.so", BROKEN_DIR, name);
    expect_refused(BROKEN_DIR, name, SYMTASK_PLUGIN_PREDICTOR, needle);
    cr_expect(contains(errstr, path), "%s: message does not name %s: '%s'", name, path, errstr);
}

Test(broken, wrong_major)
{
    expect_broken("wrong_major", "was built for plugin ABI 99.0 but this symtask-worker speaks "
                                 "1.1: rebuild it against symtask 1.x headers");
}

Test(broken, newer_minor)
{
    expect_broken("newer_minor", "built for plugin ABI 1.99 but this symtask-worker speaks only "
                                 "up to 1.1: upgrade symtask");
}

Test(broken, small_size)
{
    expect_broken("small_size", "declares a descriptor size of 8 bytes");
}

Test(broken, no_entry)
{
    expect_broken("no_entry", "exports no symtask_plugin_entry()");
}

Test(broken, null_entry)
{
    expect_broken("null_entry", "returned no descriptor");
}

Test(broken, wrong_kind)
{
    plugin_t *plugin;

    expect_broken("wrong_kind", "is a serializer, not a predictor: name a predictor plugin in "
                                "sml.predictor");
    /* Only its kind is wrong: as a serializer it loads. */
    plugin = plugin_load(BROKEN_DIR, "wrong_kind", SYMTASK_PLUGIN_SERIALIZER, "sml.serializer",
                         errstr, sizeof(errstr));
    cr_expect_not_null(plugin, "%s", errstr);
    plugin_unload(plugin);
}

Test(broken, name_mismatch)
{
    expect_broken("name_mismatch", "calls itself 'someone_else' but was loaded as 'name_mismatch'");
}

Test(broken, null_ops)
{
    expect_broken("null_ops", "sets no predict() in its predictor ops");
}

Test(broken, option_without_help)
{
    expect_broken("bad_option_help", "option sml.predictor.depth has no help text");
}

Test(broken, option_of_unknown_type)
{
    expect_broken("bad_option_type", "option sml.predictor.mode has type 42");
}

Test(broken, option_with_bad_default)
{
    expect_broken("bad_option_default", "option sml.predictor.depth: its default is not a whole "
                                        "number");
}

/* The loader accepts crash_init; the abort in create() kills only the process calling it
 * (here the test's, in the worker the task's). */
Test(broken, crash_in_create, .signal = SIGABRT)
{
    plugin_t *plugin;
    symtask_params_t *params;
    void *state = NULL;

    plugin = plugin_load(BROKEN_DIR, "crash_init", SYMTASK_PLUGIN_PREDICTOR, "sml.predictor",
                         errstr, sizeof(errstr));
    cr_assert_not_null(plugin, "%s", errstr);
    params = plugin_params_new(plugin, NULL, errstr, sizeof(errstr));
    cr_assert_not_null(params, "%s", errstr);
    plugin_descriptor(plugin)->ops.predictor.create(plugin_host(), params, &state, errstr,
                                                    sizeof(errstr));
    cr_assert_fail("create() returned");
}

Test(broken, missing_file)
{
    expect_broken("nonexistent", "nonexistent.so does not exist");
    cr_expect(contains(errstr, "plugins there: all_options, bad_option_default"), "%s", errstr);
}

Test(broken, missing_dir)
{
    expect_refused("/nonexistent-symtask-dir", "linear", SYMTASK_PLUGIN_PREDICTOR,
                   "the plugin directory does not exist: check plugin.dir");
}

Test(broken, not_a_shared_object)
{
    char dir[] = "/tmp/symtask-loader-XXXXXX", path[64];
    FILE *f;

    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/fake.so", dir);
    f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("#!/bin/sh\necho this is not an ELF file, but long enough to have a header\n", f);
    fclose(f);
    expect_refused(dir, "fake", SYMTASK_PLUGIN_PREDICTOR, "cannot be loaded (");
    cr_expect(contains(errstr, "it must be a shared object"), "%s", errstr);
    unlink(path);
    rmdir(dir);
}

Test(broken, bad_names)
{
    static const char *const names[] = {
        "",
        "../linear",
        "Linear",
        "lin ear",
        "linear.so",
        "a/b",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", /* 65 */
    };
    size_t i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        expect_refused(BUILTIN_DIR, names[i], SYMTASK_PLUGIN_PREDICTOR, "is not a plugin name");
}

/* ---- Params ------------------------------------------------------------------------------ */

static plugin_t *all_options;
static json_t *params_doc;

static void params_setup(void)
{
    all_options = plugin_load(BROKEN_DIR, "all_options", SYMTASK_PLUGIN_PREDICTOR, "sml.predictor",
                              errstr, sizeof(errstr));
    cr_assert_not_null(all_options, "%s", errstr);
    params_doc = json_pack("{s:s}", "sml.predictor.label", "l");
}

static void params_teardown(void)
{
    json_decref(params_doc);
    plugin_unload(all_options);
}

static void expect_param_refused(const char *key, const char *value, const char *needle)
{
    symtask_params_t *params;

    json_object_set_new(params_doc, key, json_string(value));
    params = plugin_params_new(all_options, params_doc, errstr, sizeof(errstr));
    cr_expect_null(params, "%s = '%s' accepted", key, value);
    cr_expect(contains(errstr, needle), "%s = '%s': '%s' lacks '%s'", key, value, errstr, needle);
    plugin_params_free(params);
    json_object_del(params_doc, key);
}

static void expect_param_accepted(const char *key, const char *value)
{
    symtask_params_t *params;

    json_object_set_new(params_doc, key, json_string(value));
    params = plugin_params_new(all_options, params_doc, errstr, sizeof(errstr));
    cr_expect_not_null(params, "%s = '%s' refused: %s", key, value, errstr);
    plugin_params_free(params);
    json_object_del(params_doc, key);
}

TestSuite(params, .init = params_setup, .fini = params_teardown);

Test(params, required)
{
    json_object_del(params_doc, "sml.predictor.label");
    cr_expect_null(plugin_params_new(all_options, params_doc, errstr, sizeof(errstr)));
    cr_expect_str_eq(errstr,
                     "params.sml.predictor.label: required by plugin all_options: A required "
                     "string.");
}

Test(params, not_a_string)
{
    json_object_set_new(params_doc, "sml.predictor.depth", json_integer(3));
    cr_expect_null(plugin_params_new(all_options, params_doc, errstr, sizeof(errstr)));
    cr_expect_str_eq(errstr, "params.sml.predictor.depth: must be a string");
}

Test(params, int)
{
    expect_param_accepted("sml.predictor.depth", "42");
    expect_param_accepted("sml.predictor.depth", "-7");
    expect_param_accepted("sml.predictor.depth", "+7");
    expect_param_accepted("sml.predictor.depth", "9223372036854775807");
    expect_param_refused("sml.predictor.depth", "abc",
                         "params.sml.predictor.depth: 'abc' is not a whole number");
    expect_param_refused("sml.predictor.depth", "", "is not a whole number");
    expect_param_refused("sml.predictor.depth", " 3", "is not a whole number");
    expect_param_refused("sml.predictor.depth", "3x", "is not a whole number");
    expect_param_refused("sml.predictor.depth", "1.5", "is not a whole number");
    expect_param_refused("sml.predictor.depth", "-", "is not a whole number");
    expect_param_refused("sml.predictor.depth", "9223372036854775808", "is out of range");
}

Test(params, double)
{
    expect_param_accepted("sml.predictor.rate", "0.5");
    expect_param_accepted("sml.predictor.rate", "-1e-3");
    expect_param_accepted("sml.predictor.rate", "7");
    expect_param_refused("sml.predictor.rate", "abc", "'abc' is not a number");
    expect_param_refused("sml.predictor.rate", "", "is not a number");
    expect_param_refused("sml.predictor.rate", " 1", "is not a number");
    expect_param_refused("sml.predictor.rate", "1,5", "is not a number");
    expect_param_refused("sml.predictor.rate", "nan", "is not a finite number");
    expect_param_refused("sml.predictor.rate", "-inf", "is not a finite number");
    expect_param_refused("sml.predictor.rate", "1e999", "is not a finite number");
}

Test(params, boolean)
{
    expect_param_accepted("sml.predictor.verbose", "true");
    expect_param_accepted("sml.predictor.verbose", "false");
    expect_param_refused("sml.predictor.verbose", "yes", "'yes' is not true or false");
    expect_param_refused("sml.predictor.verbose", "True", "is not true or false");
    expect_param_refused("sml.predictor.verbose", "", "is not true or false");
}

Test(params, list)
{
    expect_param_accepted("sml.predictor.columns", "a");
    expect_param_accepted("sml.predictor.columns", "a,b,c");
    expect_param_refused("sml.predictor.columns", "a,,b", "has an empty item");
    expect_param_refused("sml.predictor.columns", ",a", "has an empty item");
    expect_param_refused("sml.predictor.columns", "a,", "has an empty item");
    expect_param_refused("sml.predictor.columns", "a, ,b", "has an empty item");
    expect_param_refused("sml.predictor.columns", "", "has an empty item");
}

Test(params, path)
{
    char dir[] = "/tmp/symtask-params-XXXXXX", file[64], missing[64];
    FILE *f;

    cr_assert_not_null(mkdtemp(dir));
    snprintf(file, sizeof(file), "%s/model.json", dir);
    snprintf(missing, sizeof(missing), "%s/none.json", dir);
    f = fopen(file, "w");
    cr_assert_not_null(f);
    fclose(f);

    expect_param_accepted("sml.predictor.file", file);
    expect_param_refused("sml.predictor.file", missing, "names no file");
    cr_expect(contains(errstr, missing), "%s", errstr);
    expect_param_refused("sml.predictor.file", dir, "is not a regular file");
    expect_param_refused("sml.predictor.file", "", "names no file");
    /* root reads any file: the permission check cannot fail for it. */
    if (geteuid() != 0) {
        chmod(file, 0);
        expect_param_refused("sml.predictor.file", file, "cannot be read by symtask-worker");
    }
    unlink(file);
    rmdir(dir);
}

Test(params, secret_values_not_shown)
{
    expect_param_refused("sml.predictor.key.file", "/very/secret/place",
                         "params.sml.predictor.key.file: the value (not shown: secret) names no "
                         "file");
    cr_expect(!contains(errstr, "/very/secret/place"), "%s", errstr);
    expect_param_refused("sml.predictor.password.rounds", "hunter2",
                         "params.sml.predictor.password.rounds: the value (not shown: secret) "
                         "is not a whole number");
    cr_expect(!contains(errstr, "hunter2"), "%s", errstr);
}

Test(params, long_values_cut)
{
    char value[1000];

    memset(value, 'x', sizeof(value) - 1);
    value[sizeof(value) - 1] = '\0';
    expect_param_refused("sml.predictor.depth", value, "xxx...' is not a whole number");
}

Test(params, values_and_defaults)
{
    const symtask_host_t *host = plugin_host();
    symtask_params_t *params;

    json_object_set_new(params_doc, "sml.predictor.depth", json_string("9"));
    json_object_set_new(params_doc, "sml.kstream.source.topic", json_string("in"));
    params = plugin_params_new(all_options, params_doc, errstr, sizeof(errstr));
    cr_assert_not_null(params, "%s", errstr);
    cr_expect_str_eq(host->param(params, "sml.predictor.label"), "l");
    cr_expect_str_eq(host->param(params, "sml.predictor.depth"), "9");
    cr_expect_str_eq(host->param(params, "sml.predictor.rate"), "0.5");
    cr_expect_str_eq(host->param(params, "sml.predictor.columns"), "a,b");
    cr_expect_null(host->param(params, "sml.predictor.file"));
    /* Params outside the table are readable too (the seed's sml.kstream.model.b64file). */
    cr_expect_str_eq(host->param(params, "sml.kstream.source.topic"), "in");
    cr_expect_null(host->param(params, "sml.kstream.sink.topic"));
    plugin_params_free(params);
}

Test(params, unknown_keys)
{
    plugin_t *linear;
    const plugin_t *plugins[3];

    linear = plugin_load(BUILTIN_DIR, "linear", SYMTASK_PLUGIN_PREDICTOR, "sml.predictor", errstr,
                         sizeof(errstr));
    cr_assert_not_null(linear, "%s", errstr);
    plugins[0] = linear;
    plugins[1] = all_options;
    plugins[2] = linear;

    json_object_set_new(params_doc, "sml.predictor.model", json_string("/m.json"));
    json_object_set_new(params_doc, "sml.serializer.out", json_string("csv"));
    json_object_set_new(params_doc, "sml.kstream.source.topic", json_string("in"));
    json_object_set_new(params_doc, "bootstrap.servers", json_string("localhost:9092"));
    cr_expect_eq(plugin_check_unknown_keys(params_doc, plugins, 3, NULL, errstr, sizeof(errstr)), 0,
                 "%s", errstr);

    json_object_set_new(params_doc, "sml.predictor.modle", json_string("/m.json"));
    cr_expect_eq(plugin_check_unknown_keys(params_doc, plugins, 3, NULL, errstr, sizeof(errstr)),
                 -1);
    cr_expect(contains(errstr, "params.sml.predictor.modle: not an option of plugin linear, "
                               "all_options; check the spelling"),
              "%s", errstr);
    cr_expect(contains(errstr, "sml.predictor.model, sml.predictor.missing, sml.predictor.label"),
              "%s", errstr);
    /* linear is named once though it came twice */
    cr_expect(strstr(strstr(errstr, "linear") + 1, "linear") == NULL, "%s", errstr);
    json_object_del(params_doc, "sml.predictor.modle");

    json_object_del(params_doc, "sml.predictor.label");
    json_object_set_new(params_doc, "sml.serializer.columns", json_string("a,b"));
    cr_expect_eq(plugin_check_unknown_keys(params_doc, plugins, 1, NULL, errstr, sizeof(errstr)),
                 -1);
    cr_expect(contains(errstr, "params.sml.serializer.columns: not an option of plugin linear;"),
              "%s", errstr);
    json_object_del(params_doc, "sml.serializer.columns");

    /* schema.registry.* lies outside sml.* but belongs to plugins: one must declare it */
    json_object_set_new(params_doc, "schema.registry.url", json_string("http://r:8081"));
    cr_expect_eq(plugin_check_unknown_keys(params_doc, plugins, 3, linear, errstr, sizeof(errstr)),
                 -1);
    cr_expect(contains(errstr, "params.schema.registry.url: not an option of plugin linear, "
                               "all_options; check the spelling"),
              "%s", errstr);
    plugin_unload(linear);
}

/* ---- Host table -------------------------------------------------------------------------- */

Test(host, version)
{
    const symtask_host_t *host = plugin_host();

    cr_expect_eq(host->abi_major, SYMTASK_PLUGIN_ABI_MAJOR);
    cr_expect_eq(host->abi_minor, SYMTASK_PLUGIN_ABI_MINOR);
    cr_expect_eq(host->size, sizeof(symtask_host_t));
    cr_expect(host->param != NULL && host->log != NULL && host->buf_append != NULL &&
              host->buf_append_number != NULL);
}

static void redirect(void)
{
    cr_redirect_stderr();
}

Test(host, log_with_tag, .init = redirect)
{
    const symtask_host_t *host = plugin_host();

    log_init(LOG_FORMAT_CHILD, LOG_INFO);
    plugin_host_set_tag("c1/t1");
    host->log(SYMTASK_LOG_WARN, "hello %d", 42);
    host->log(SYMTASK_LOG_DEBUG, "not shown at INFO");
    host->log(SYMTASK_LOG_ERROR, "two\nlines");
    plugin_host_set_tag(NULL);
    host->log(SYMTASK_LOG_INFO, "untagged");
    fflush(stderr);
    cr_expect_stderr_eq_str("WARN [c1/t1] hello 42\nERROR [c1/t1] two\\nlines\nINFO untagged\n");
}

Test(host, buf_append)
{
    const symtask_host_t *host = plugin_host();
    symtask_buf_t buf;
    char big[5000];

    buf_init(&buf);
    cr_expect_eq(host->buf_append(&buf, "ab", 2), 0);
    cr_expect_eq(host->buf_append(&buf, "", 0), 0);
    cr_expect_eq(host->buf_append(&buf, "c", 1), 0);
    cr_expect_eq(buf.len, 3);
    cr_expect_str_eq(buf.data, "abc");
    memset(big, 'z', sizeof(big));
    cr_expect_eq(host->buf_append(&buf, big, sizeof(big)), 0);
    cr_expect_eq(buf.len, 3 + sizeof(big));
    cr_expect_eq(buf.data[buf.len], '\0');
    buf_reset(&buf);
    cr_expect_eq(buf.len, 0);
    cr_expect_eq(host->buf_append(&buf, "d", 1), 0);
    cr_expect_str_eq(buf.data, "d");
    buf_free(&buf);
    cr_expect_null(buf.data);
    buf_free(&buf);
}

static void expect_number(double value, const char *text)
{
    symtask_buf_t buf;

    buf_init(&buf);
    cr_assert_eq(plugin_host()->buf_append_number(&buf, value), 0);
    cr_expect_str_eq(buf.data, text, "%.17g written as '%s', want '%s'", value, buf.data, text);
    buf_free(&buf);
}

Test(host, buf_append_number)
{
    expect_number(1, "1");
    expect_number(0, "0");
    expect_number(-0.0, "-0");
    expect_number(-42, "-42");
    expect_number(0.1, "0.1");
    expect_number(0.1 + 0.2, "0.30000000000000004");
    expect_number(1.0 / 3, "0.3333333333333333");
    expect_number(2.5e-8, "2.5e-08");
    expect_number(1e15, "1000000000000000");
    expect_number(9007199254740992.0, "9007199254740992");
    expect_number(18014398509481984.0, "18014398509481984");
    expect_number(1e17, "1e+17");
    expect_number(1e300, "1e+300");
    expect_number(-1.7976931348623157e308, "-1.7976931348623157e+308");
    expect_number(5e-324, "5e-324"); /* shortest: subnormals have fewer than 15 digits */
    expect_number(0x1p-24, "5.960464477539063e-08"); /* shorter above a power of two */
    expect_number(NAN, "null");
    expect_number(INFINITY, "null");
    expect_number(-INFINITY, "null");
}

/* Whatever is written reads back as the same double. */
Test(host, buf_append_number_round_trips)
{
    symtask_buf_t buf;
    unsigned long long bits = 0x9e3779b97f4a7c15ull;
    double value;
    int i;

    buf_init(&buf);
    for (i = 0; i < 100000; i++) {
        bits ^= bits << 13;
        bits ^= bits >> 7;
        bits ^= bits << 17;
        memcpy(&value, &bits, sizeof(value));
        if (!isfinite(value))
            continue;
        buf_reset(&buf);
        cr_assert_eq(plugin_host()->buf_append_number(&buf, value), 0);
        cr_assert(strtod(buf.data, NULL) == value, "%.17g written as %s", value, buf.data);
    }
    buf_free(&buf);
}
