/* model_task.c: a task's stages (json records in and out, as a worker runs them) against
 * the test model server (tests/modelserver/), for the tests of the plugins that call a model
 * server (model_task.h). */
#include "model_task.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../unit/common/sign_vectors.h"

char dir[256];
static char customers[300];
stages_t *st;
json_t *params;
ms_t *ms;
char errstr[1024];
/* Requests whose signature the server may refuse (a test's wrong secret); any other is a
 * failure of the plugin's signing. */
unsigned long bad_signatures_allowed;

result_t results[ROWS];

static void link_plugins(const char *from)
{
    DIR *d = opendir(from);
    cr_assert_not_null(d, "%s", from);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len < 4 || strcmp(de->d_name + len - 3, ".so") != 0)
            continue;
        char src[600], dst[600];
        snprintf(src, sizeof(src), "%s/%s", from, de->d_name);
        snprintf(dst, sizeof(dst), "%s/%s", dir, de->d_name);
        cr_assert_eq(symlink(src, dst), 0, "symlink %s", dst);
    }
    closedir(d);
}

void mt_setup(void)
{
    const char *plugins = getenv("SYMTASK_PLUGIN_DIR");
    cr_assert_not_null(plugins, "SYMTASK_PLUGIN_DIR is not set (meson test sets it)");
    snprintf(dir, sizeof(dir), "/tmp/symtask-symetryml-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    link_plugins(plugins);
    snprintf(customers, sizeof(customers), "%s/customers", dir);
    int fd = open(customers, O_WRONLY | O_CREAT | O_EXCL, 0600);
    cr_assert_geq(fd, 0);
    static const char lines[] = "c1:" SECRET_C1 "\nc2:" SECRET_C2 "\n";
    cr_assert_eq(write(fd, lines, sizeof(lines) - 1), (ssize_t)(sizeof(lines) - 1));
    close(fd);
    mt_restart_server(NULL);
}

void mt_restart_server(const ms_config_t *with)
{
    ms_config_t cfg = with != NULL ? *with : (ms_config_t){0};
    cfg.customers = customers;
    ms_stop(ms);
    ms = ms_start(&cfg);
    cr_assert_not_null(ms, "the model server does not start");
}

void mt_teardown(void)
{
    stages_close(st);
    st = NULL;
    json_decref(params);
    params = NULL;
    ms_stop(ms);
    ms = NULL;
    bad_signatures_allowed = 0;
    for (size_t i = 0; i < ROWS; i++) {
        free(results[i].out);
        results[i].out = NULL;
    }
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
}

json_t *task_params(const char *fragment)
{
    char text[4096];
    snprintf(text, sizeof(text), mt_base_params, ms_url(ms));
    json_t *p = json_loads(text, 0, NULL);
    cr_assert_not_null(p);
    if (fragment[0] != '\0') {
        snprintf(text, sizeof(text), "{%s}", fragment);
        json_error_t e;
        json_t *more = json_loads(text, 0, &e);
        cr_assert_not_null(more, "%s: %s", text, e.text);
        json_object_update(p, more);
        json_decref(more);
    }
    return p;
}

stages_t *try_open(const char *fragment)
{
    json_decref(params);
    params = task_params(fragment);
    errstr[0] = '\0';
    return stages_open(params, dir, ROWS, errstr, sizeof(errstr));
}

void open_task(const char *fragment)
{
    st = try_open(fragment);
    cr_assert_not_null(st, "%s", errstr);
}

void expect_refused(const char *fragment, const char *needle)
{
    stages_t *s = try_open(fragment);
    cr_assert_null(s, "[%s] was accepted", fragment);
    cr_expect(strstr(errstr, needle) != NULL, "[%s]: '%s' lacks '%s'", fragment, errstr, needle);
    cr_expect(strstr(errstr, SECRET_C1) == NULL, "the secret is shown: %s", errstr);
}

/* Runs @n records as one batch; returns predict's status (its message in errstr) and leaves
 * in results[i] what became of each record. */
symtask_status_t run(const char *const *records, size_t n)
{
    size_t rows[ROWS];
    symtask_buf_t out;
    cr_assert_leq(n, ROWS);
    buf_init(&out);
    stages_begin(st);
    for (size_t i = 0; i < n; i++) {
        free(results[i].out);
        results[i] = (result_t){0};
        symtask_record_t rec = {records[i], strlen(records[i])};
        cr_assert_eq(stages_decode(st, &rec, &rows[i], results[i].error, sizeof(results[i].error)),
                     SYMTASK_OK, "decode: %s", results[i].error);
    }
    symtask_status_t status = stages_predict(st, errstr, sizeof(errstr));
    ms_stats_t s = ms_stats(ms);
    cr_expect_leq(s.bad_signatures, bad_signatures_allowed, "a request was refused: %s",
                  s.last_error);
    if (status != SYMTASK_OK) {
        buf_free(&out);
        cr_expect(strstr(errstr, SECRET_C1) == NULL, "the secret is shown: %s", errstr);
        return status;
    }
    for (size_t i = 0; i < n; i++) {
        const char *refused = stages_row_error(st, rows[i]);
        if (refused) {
            results[i].stage = "predict";
            snprintf(results[i].error, sizeof(results[i].error), "%s", refused);
            continue;
        }
        buf_reset(&out);
        symtask_record_t rec = {records[i], strlen(records[i])};
        cr_assert_eq(
            stages_encode(st, rows[i], &rec, &out, results[i].error, sizeof(results[i].error)),
            SYMTASK_OK, "encode: %s", results[i].error);
        results[i].out = strndup(out.data ? out.data : "", out.len);
    }
    buf_free(&out);
    return status;
}

void run_ok(const char *const *records, size_t n)
{
    cr_assert_eq(run(records, n), SYMTASK_OK, "predict: %s", errstr);
}

void expect_out(size_t i, const char *want)
{
    cr_assert_null(results[i].stage, "record %zu failed at %s: %s", i, results[i].stage,
                   results[i].error);
    cr_expect_str_eq(results[i].out, want, "record %zu: %s", i, results[i].out);
}
