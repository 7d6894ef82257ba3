/* test_plugin_kit.c: the plugin author's kit end to end: the headers and symtask.pc installed
 * from this build (meson install into a temp dir), the tutorial plugin of
 * examples/predictor-plugin/ built out of tree with its Makefile and pkg-config alone,
 * installed with `make install`, and run in a task by the real daemon; a plugin built for
 * another ABI major is refused at create with a message that says to rebuild it. */
#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../include/symtask/plugin.h"
#include "harness.h"
#include "kafka_util.h"

#define BASE "/symetry/rest/" H_CID1

static harness_t h;
static char kit[256];        /* temp dir: dest/ (the install), src/ (the example), logs */
static char plugin_dir[600]; /* the installed plugindir, with json.so and wrong_major.so */

static const char *env(const char *name)
{
    const char *value = getenv(name);

    cr_assert(value != NULL && value[0] != '\0', "%s must be set (meson test sets it)", name);
    return value;
}

/* Runs the shell command @cmd with its output in @log (in the kit dir); asserts exit 0 and
 * shows the output when not. */
static void run(const char *log, const char *cmd)
{
    char *line, path[400], text[8192] = "";
    FILE *f;
    size_t n = 0;
    int status;

    snprintf(path, sizeof(path), "%s/%s", kit, log);
    cr_assert(asprintf(&line, "(%s) >'%s' 2>&1", cmd, path) > 0);
    status = system(line);
    free(line);
    if (status == 0)
        return;
    f = fopen(path, "r");
    if (f != NULL) {
        n = fread(text, 1, sizeof(text) - 1, f);
        fclose(f);
    }
    text[n] = '\0';
    cr_assert_fail("command failed (status %d): %s\n%s", status, cmd, text);
}

/* The directory of the symtask.pc found under the install, for nftw(). */
static char pc_dir[600];

static int find_pc(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    size_t len = strlen(path);

    if (type == FTW_F && len > 11 && strcmp(path + len - 11, "/symtask.pc") == 0) {
        snprintf(pc_dir, sizeof(pc_dir), "%.*s", (int)(len - 11), path);
        return 1;
    }
    return 0;
}

/* Captures the first line of @cmd's output into @out. */
static void capture(const char *cmd, char *out, size_t out_size)
{
    FILE *p = popen(cmd, "r");

    cr_assert_not_null(p);
    if (fgets(out, (int)out_size, p) == NULL)
        out[0] = '\0';
    out[strcspn(out, "\n")] = '\0';
    cr_assert_eq(pclose(p), 0, "%s failed", cmd);
}

static void setup(void)
{
    char cmd[2048], dest[300], want[400], got[600], conf[700];

    snprintf(kit, sizeof(kit), "/tmp/symtask-kit-XXXXXX");
    cr_assert(mkdtemp(kit) != NULL);
    snprintf(dest, sizeof(dest), "%s/dest", kit);

    /* The kit as `meson install` lays it out (tag devel: the header and symtask.pc), from
     * this build, without rebuilding anything. */
    snprintf(cmd, sizeof(cmd), "meson install -C '%s' --no-rebuild --tags devel --destdir '%s'",
             env("SYMTASK_BUILD_ROOT"), dest);
    run("install.log", cmd);
    cr_assert_eq(nftw(dest, find_pc, 16, FTW_PHYS), 1, "no symtask.pc installed under %s", dest);
    /* Everything pkg-config answers now points into the temp install. */
    setenv("PKG_CONFIG_PATH", pc_dir, 1);
    setenv("PKG_CONFIG_LIBDIR", pc_dir, 1);
    setenv("PKG_CONFIG_SYSROOT_DIR", dest, 1);
    capture("pkg-config --cflags symtask", got, sizeof(got));
    snprintf(want, sizeof(want), "-I%s/", dest);
    cr_assert(strncmp(got, want, strlen(want)) == 0, "pkg-config --cflags symtask: %s", got);
    capture("pkg-config --variable=plugindir symtask", plugin_dir, sizeof(plugin_dir));
    cr_assert(strncmp(plugin_dir, dest, strlen(dest)) == 0 &&
                  strstr(plugin_dir, "/symtask/plugins") != NULL,
              "pkg-config --variable=plugindir symtask: %s", plugin_dir);

    /* The example, out of the source tree, built and installed by its own Makefile: the
     * only way it can find symtask/plugin.h is pkg-config. */
    snprintf(cmd, sizeof(cmd),
             "cp -R '%s/examples/predictor-plugin' '%s/src' && make -C '%s/src' CFLAGS='-O2 -g "
             "-Wall -Wextra -Werror' && make -C '%s/src' install",
             env("SYMTASK_SOURCE_ROOT"), kit, kit, kit);
    run("make.log", cmd);
    snprintf(cmd, sizeof(cmd), "%s/threshold.so", plugin_dir);
    cr_assert(access(cmd, R_OK) == 0, "make install put no threshold.so in %s", plugin_dir);

    /* The serializer the tasks use, and a plugin built for ABI 99.x (tests/plugins/broken). */
    snprintf(cmd, sizeof(cmd), "ln -s '%s/json.so' '%s/json.so' && cp '%s/wrong_major.so' '%s/'",
             env("SYMTASK_PLUGIN_DIR"), plugin_dir, env("SYMTASK_BROKEN_PLUGIN_DIR"), plugin_dir);
    run("plugins.log", cmd);

    snprintf(conf, sizeof(conf), "plugin.dir = %s", plugin_dir);
    h_setup(&h, conf);
}

static void teardown(void)
{
    char cmd[400];

    h_teardown(&h);
    if (getenv("SYMTASK_KEEP_TEST_DIRS") == NULL && kit[0] != '\0') {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", kit);
        if (system(cmd) != 0)
            fprintf(stderr, "cannot remove %s\n", kit);
    }
}

TestSuite(plugin_kit, .init = setup, .fini = teardown, .timeout = 240);

/* POSTs task @tid (in-@tid to out-@tid, json) with @params ("k":"v",... JSON fragment),
 * encrypted as c1 in the legacy form. */
static h_response_t create(const char *tid, const char *params)
{
    char *sealed = h_taskinfo_params(tid, params, H_SECRET1);
    h_response_t r = h_req(&h, "POST", BASE "/tasks/create", sealed);

    free(sealed);
    return r;
}

Test(plugin_kit, the_example_plugin_built_from_the_kit_predicts_in_a_task)
{
    h_response_t r = create("t1", "\"sml.predictor\":\"threshold\","
                                  "\"sml.predictor.feature\":\"x1\","
                                  "\"sml.predictor.threshold\":\"2\"");
    cr_assert_eq(r.status, 202, "%s", r.body);
    h_response_free(&r);
    r = h_req(&h, "GET", BASE "/tasks/t1/start", NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    h_response_free(&r);
    cr_assert(h_wait_status(&h, "t1", "status", "running", 20000), "see %s", h.log_path);

    const char *keys[] = {"a", "b", "c", "d", "e"};
    const char *values[] = {
        "{\"id\":1,\"x1\":3}",    /* above: 1, margin 1 */
        "{\"id\":2,\"x1\":0.5}",  /* below: 0, margin -1.5 */
        "{\"id\":3,\"x1\":2}",    /* equal: 1, margin 0 */
        "{\"id\":4,\"x2\":7}",    /* x1 missing: dead-letter topic */
        "{\"id\":5,\"x1\":null}", /* null is missing too */
    };
    const char *expect[] = {
        "{\"id\":1,\"x1\":3,\"prediction\":1,\"margin\":1,\"label\":\"above\"}",
        "{\"id\":2,\"x1\":0.5,\"prediction\":0,\"margin\":-1.5,\"label\":\"below\"}",
        "{\"id\":3,\"x1\":2,\"prediction\":1,\"margin\":0,\"label\":\"above\"}",
    };
    kt_produce(&h, "in-t1", 5, keys, values, NULL);

    kt_record_t out[5], dlq[5];
    size_t n = kt_consume(&h, "out-t1", 3, out, 5, 30000);
    size_t nd = kt_consume(&h, "out-t1.dlq", 2, dlq, 5, 30000);
    cr_assert_eq(n, 3, "%zu predictions; see %s", n, h.log_path);
    cr_assert_eq(nd, 2, "%zu dead letters; see %s", nd, h.log_path);
    for (size_t i = 0; i < n; i++) {
        int k = out[i].key[0] - 'a';
        cr_assert(k >= 0 && k < 3, "unexpected key %s", out[i].key);
        cr_assert_str_eq(out[i].value, expect[k]);
    }
    for (size_t i = 0; i < nd; i++) {
        cr_assert(strcmp(dlq[i].key, "d") == 0 || strcmp(dlq[i].key, "e") == 0, "%s", dlq[i].key);
        cr_assert_str_eq(dlq[i].value, values[dlq[i].key[0] - 'a']);
        cr_assert_str_eq(kt_header(&dlq[i], "symtask.stage"), "predict");
        cr_assert_str_eq(kt_header(&dlq[i], "symtask.error"), "feature 'x1' is missing");
    }
    kt_records_free(out, n);
    kt_records_free(dlq, nd);
    cr_assert(h_wait_status(&h, "t1", "recordsFailed", "2", 5000));
    /* the plugin's host->log() line, tagged with its task */
    cr_assert(h_log_contains(&h, "[c1/t1] worker: threshold: feature x1 compared to 2"), "see %s",
              h.log_path);
}

Test(plugin_kit, the_options_table_is_enforced_at_create)
{
    h_response_t r = create("t1", "\"sml.predictor\":\"threshold\"");
    cr_assert_eq(r.status, 400, "%s", r.body);
    cr_assert(strstr(h_status_string(&r), "params.sml.predictor.feature: required by plugin "
                                          "threshold: Name of the feature compared to the "
                                          "threshold.") != NULL,
              "%s", r.body);
    h_response_free(&r);

    r = create("t1", "\"sml.predictor\":\"threshold\",\"sml.predictor.feature\":\"x1\","
                     "\"sml.predictor.threshold\":\"high\"");
    cr_assert_eq(r.status, 400, "%s", r.body);
    cr_assert(strstr(h_status_string(&r),
                     "params.sml.predictor.threshold: 'high' is not a number") != NULL,
              "%s", r.body);
    h_response_free(&r);

    /* create() itself refuses what the table cannot say */
    r = create("t1", "\"sml.predictor\":\"threshold\",\"sml.predictor.feature\":\"\"");
    cr_assert_eq(r.status, 400, "%s", r.body);
    cr_assert(strstr(h_status_string(&r), "params.sml.predictor.feature: empty") != NULL, "%s",
              r.body);
    h_response_free(&r);
}

Test(plugin_kit, a_plugin_built_for_another_abi_major_is_refused_at_create)
{
    char want[256];
    h_response_t r = create("t1", "\"sml.predictor\":\"wrong_major\"");
    const char *s = h_status_string(&r);

    cr_assert_eq(r.status, 400, "%s", r.body);
    /* which param, which file, both ABI versions, and what to do */
    cr_assert(strstr(s, "params.sml.predictor: plugin ") != NULL, "%s", s);
    cr_assert(strstr(s, "/wrong_major.so was built for plugin ABI 99.0") != NULL, "%s", s);
    snprintf(want, sizeof(want), "this symtask-worker speaks %d.%d", SYMTASK_PLUGIN_ABI_MAJOR,
             SYMTASK_PLUGIN_ABI_MINOR);
    cr_assert(strstr(s, want) != NULL, "%s", s);
    snprintf(want, sizeof(want), "rebuild it against symtask %d.x headers",
             SYMTASK_PLUGIN_ABI_MAJOR);
    cr_assert(strstr(s, want) != NULL, "%s", s);
    h_response_free(&r);

    r = h_req(&h, "GET", BASE "/tasks", NULL);
    cr_assert(strstr(r.body, "\"values\":[]") != NULL, "nothing may be stored: %s", r.body);
    h_response_free(&r);
    /* the daemon is unharmed: a good plugin from the same directory is accepted */
    r = create("t1", "\"sml.predictor\":\"threshold\",\"sml.predictor.feature\":\"x1\"");
    cr_assert_eq(r.status, 202, "%s", r.body);
    h_response_free(&r);
}
