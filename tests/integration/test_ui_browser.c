/* test_ui_browser.c: the status page in headless Chromium (tests/ui/browser.mjs, driven by
 * playwright-core): sign in, a wrong secret refused, a running task's counters move, Stop
 * stops it. Skipped (exit 77, meson's SKIP) when chromium or tests/ui/node_modules is absent,
 * unless SYMTASK_REQUIRE_BROWSER is set (.ci/run sets it): then that is a failure. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "kafka_util.h"

#define BASE "/symetry/rest/" H_CID1

static const char *chromium(void)
{
    const char *c = getenv("CHROMIUM");
    return c != NULL ? c : "/usr/bin/chromium";
}

/* What the browser test needs, or why it cannot run: "" when everything is there. */
static const char *missing(char *buf, size_t size)
{
    const char *src = getenv("SYMTASK_SOURCE_ROOT");
    char path[1024];
    if (src == NULL)
        return "SYMTASK_SOURCE_ROOT is not set (run it through meson test)";
    if (access(chromium(), X_OK) != 0) {
        snprintf(buf, size, "%s is not installed (apt-get install chromium; scripts/install-deps)",
                 chromium());
        return buf;
    }
    snprintf(path, sizeof(path), "%s/tests/ui/node_modules/playwright-core/package.json", src);
    if (access(path, R_OK) != 0) {
        snprintf(buf, size, "%s is missing (npm ci in tests/ui; scripts/install-deps)", path);
        return buf;
    }
    if (system("node --version >/dev/null 2>&1") != 0)
        return "node is not installed";
    return "";
}

static harness_t h;
static atomic_bool producing;

/* Records keep arriving, so that the page sees the counters move. Bounded: 10 minutes. */
static void *produce(void *arg)
{
    (void)arg;
    char *values[20];
    for (int i = 0; i < 20; i++)
        cr_assert(asprintf(&values[i], "{\"x1\":%d,\"x2\":1}", i) > 0);
    for (int round = 0; round < 3000 && atomic_load(&producing); round++) {
        kt_produce(&h, "in-t1", 20, NULL, (const char *const *)values, NULL);
        struct timespec ts = {0, 200 * 1000000L};
        nanosleep(&ts, NULL);
    }
    for (int i = 0; i < 20; i++)
        free(values[i]);
    return NULL;
}

/* Runs browser.mjs; returns its wait status, killing it after @timeout_s. */
static int run_browser(const char *screenshot, int timeout_s)
{
    char url[128], port[16];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/ui/", h.port);
    snprintf(port, sizeof(port), "%d", h.port);
    char script[1024];
    snprintf(script, sizeof(script), "%s/tests/ui/browser.mjs", getenv("SYMTASK_SOURCE_ROOT"));
    pid_t parent = getpid();
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        h_die_with_parent(parent);
        setpgid(0, 0);
        setenv("SYMTASK_UI_URL", url, 1);
        setenv("SYMTASK_UI_CID", H_CID1, 1);
        setenv("SYMTASK_UI_SECRET", H_SECRET1, 1);
        setenv("SYMTASK_UI_WRONG_SECRET", H_SECRET2, 1);
        setenv("SYMTASK_UI_TASK", "t1", 1);
        setenv("SYMTASK_UI_SCREENSHOT", screenshot, 1);
        setenv("CHROMIUM", chromium(), 1);
        execlp("node", "node", script, (char *)NULL);
        _exit(127);
    }
    setpgid(pid, pid);
    int wstatus = -1;
    for (int waited = 0; waited < timeout_s * 10; waited++) {
        if (waitpid(pid, &wstatus, WNOHANG) == pid) {
            kill(-pid, SIGKILL); /* whatever of its group is left */
            return wstatus;
        }
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
    /* playwright closes its browser on SIGTERM */
    kill(-pid, SIGTERM);
    sleep(5);
    kill(-pid, SIGKILL);
    waitpid(pid, &wstatus, 0);
    cr_assert_fail("browser.mjs did not finish within %d s", timeout_s);
    return wstatus;
}

Test(ui_browser, sign_in_watch_the_counters_move_and_stop_the_task, .timeout = 300)
{
    h_setup(&h, NULL);
    char *body = h_taskinfo("t1", NULL, H_SECRET1);
    h_response_t r = h_req(&h, "POST", BASE "/tasks/create", body);
    free(body);
    cr_assert_eq(r.status, 202, "%s", r.body);
    h_response_free(&r);
    r = h_req(&h, "POST", BASE "/tasks/t1/start", NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    h_response_free(&r);
    cr_assert(h_wait_status(&h, "t1", "status", "running", 30000), "see %s", h.log_path);

    atomic_store(&producing, true);
    pthread_t producer;
    cr_assert_eq(pthread_create(&producer, NULL, produce, NULL), 0);

    char screenshot[400];
    const char *keep = getenv("SYMTASK_UI_SCREENSHOT");
    snprintf(screenshot, sizeof(screenshot), "%s", keep ? keep : "");
    if (keep == NULL)
        snprintf(screenshot, sizeof(screenshot), "%s/ui.png", h.dir);
    int wstatus = run_browser(screenshot, 240);
    atomic_store(&producing, false);
    pthread_join(producer, NULL);
    cr_assert(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0,
              "browser.mjs failed (status %d; its output above; daemon log %s)", wstatus,
              h.log_path);

    /* what the page did, seen through the API: stopped, and it stays so */
    json_t *st = h_status(&h, "t1");
    cr_assert_not_null(st);
    cr_assert_str_eq(h_get(st, "status"), "stopped");
    cr_assert_str_eq(h_get(st, "processIsAlive"), "false");
    json_decref(st);
    cr_assert(h_log_contains(&h, "stop requested"), "the page's Stop reached the daemon");
    h_teardown(&h);
}

int main(int argc, char *argv[])
{
    char buf[1200];
    const char *why = missing(buf, sizeof(buf));
    if (why[0] != '\0') {
        if (getenv("SYMTASK_REQUIRE_BROWSER") != NULL) {
            fprintf(stderr, "ui_browser: cannot run, and SYMTASK_REQUIRE_BROWSER is set: %s\n",
                    why);
            return 1;
        }
        printf("SKIP: ui_browser: %s\n", why);
        return 77;
    }
    struct criterion_test_set *tests = criterion_initialize();
    int result = 0;
    if (criterion_handle_args(argc, argv, true))
        result = !criterion_run_all_tests(tests);
    criterion_finalize(tests);
    return result;
}
