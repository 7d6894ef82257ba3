/* test_api.c: every endpoint of the real symtaskd, its errors, limits, supervision and
 * restart, driven with signed requests over loopback. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define BASE "/symetry/rest/" H_CID1

static harness_t h;

static void setup(void)
{
    h_setup(&h, NULL);
}

static void teardown(void)
{
    h_teardown(&h);
}

static int call(const char *method, const char *path)
{
    h_response_t r = h_req(&h, method, path, NULL);
    int status = r.status;
    h_response_free(&r);
    return status;
}

TestSuite(api, .init = setup, .fini = teardown, .timeout = 120);
/* Tests that start the daemon themselves, with their own config lines. */
TestSuite(api_own_config, .fini = teardown, .timeout = 120);

Test(api, healthz_and_metrics_need_no_signature)
{
    h_response_t r = h_raw(&h, "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 0);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(h_status_code(&r), "OK");
    h_response_free(&r);
    r = h_raw(&h, "GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 0);
    cr_assert_eq(r.status, 200);
    cr_assert(strstr(r.body, "symtask_tasks_max 4\n") != NULL, "%s", r.body);
    h_response_free(&r);
}

Test(api, create_list_status_delete)
{
    h_create_task(&h, "t2", NULL);
    h_create_task(&h, "t1", NULL);

    h_response_t r = h_req(&h, "GET", BASE "/tasks", NULL);
    cr_assert_eq(r.status, 200);
    json_t *names =
        json_object_get(json_object_get(json_object_get(r.json, "values"), "stringList"), "values");
    cr_assert_eq(json_array_size(names), 2);
    cr_assert_str_eq(json_string_value(json_array_get(names, 0)), "t1");
    cr_assert_str_eq(json_string_value(json_array_get(names, 1)), "t2");
    h_response_free(&r);

    /* the seed's other spelling of the list */
    r = h_req(&h, "GET", "/" H_CID1 "/tasks", NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert(strstr(r.body, "\"t1\",\"t2\"") != NULL, "%s", r.body);
    h_response_free(&r);

    json_t *st = h_status(&h, "t1");
    cr_assert_not_null(st);
    cr_assert_str_eq(h_get(st, "status"), "stopped");
    cr_assert_str_eq(h_get(st, "processIsAlive"), "false");
    cr_assert_str_eq(h_get(st, "startDateTime"), "");
    cr_assert_str_eq(h_get(st, "lastError"), "");
    cr_assert_str_eq(h_get(st, "predictor"), "linear");
    cr_assert_str_eq(h_get(st, "serializer"), "json");
    cr_assert_str_eq(h_get(st, "serializerOut"), "json");
    json_decref(st);

    cr_assert_eq(call("DELETE", BASE "/tasks/t1"), 200);
    cr_assert_eq(call("GET", BASE "/tasks/t1"), 404);
    cr_assert_eq(call("DELETE", BASE "/tasks/t1"), 404);
    r = h_req(&h, "GET", BASE "/tasks", NULL);
    cr_assert(strstr(r.body, "[\"t2\"]") != NULL, "%s", r.body);
    h_response_free(&r);
}

Test(api, create_twice_is_409_and_force_replaces)
{
    h_create_task(&h, "t1", NULL);
    char *body = h_taskinfo("t1", "\"sml.kstream.record.poll.max\":\"10\"", H_SECRET1);
    h_response_t r = h_req(&h, "POST", BASE "/tasks/create", body);
    cr_assert_eq(r.status, 409, "%d %s", r.status, r.body);
    cr_assert_str_eq(h_status_code(&r), "CONFLICT");
    cr_assert_str_eq(h_status_string(&r),
                     "task [t1] already exists for customer [c1]; use force=true to replace it");
    h_response_free(&r);

    r = h_req(&h, "POST", BASE "/tasks/create?force=false", body);
    cr_assert_eq(r.status, 409);
    h_response_free(&r);
    r = h_req(&h, "POST", BASE "/tasks/create?force=maybe", body);
    cr_assert_eq(r.status, 400);
    cr_assert(strstr(h_status_string(&r), "force") != NULL);
    h_response_free(&r);
    r = h_req(&h, "POST", BASE "/tasks/create?force=true", body);
    cr_assert_eq(r.status, 202, "%s", r.body);
    h_response_free(&r);
    free(body);
}

Test(api, start_runs_a_worker_and_stop_ends_it)
{
    h_create_task(&h, "t1", NULL);
    cr_assert_eq(call("GET", BASE "/tasks/t1/start"), 200);
    cr_assert(h_wait_status(&h, "t1", "status", "running", 15000), "task never ran; see %s",
              h.log_path);
    json_t *st = h_status(&h, "t1");
    cr_assert_str_eq(h_get(st, "processIsAlive"), "true");
    cr_assert_neq(h_get(st, "startDateTime")[0], '\0');
    pid_t pid = (pid_t)atoi(h_get(st, "pid"));
    json_decref(st);
    cr_assert(pid > 0 && h_pid_alive(pid));

    /* start again is idempotent: the same worker keeps running */
    cr_assert_eq(call("POST", BASE "/tasks/t1/start"), 200);
    cr_assert_eq(h_task_pid(&h, "t1"), pid);

    cr_assert_eq(call("GET", BASE "/tasks/t1/stop"), 200);
    cr_assert(h_wait_status(&h, "t1", "status", "stopped", 10000));
    cr_assert_not(h_pid_alive(pid));
    cr_assert_eq(call("POST", BASE "/tasks/t1/stop"), 200);
    st = h_status(&h, "t1");
    cr_assert_str_eq(h_get(st, "processIsAlive"), "false");
    cr_assert_str_eq(h_get(st, "lastError"), "");
    json_decref(st);
}

Test(api, restart_gives_a_new_worker)
{
    h_create_task(&h, "t1", NULL);
    cr_assert_eq(call("GET", BASE "/tasks/t1/start"), 200);
    cr_assert(h_wait_status(&h, "t1", "status", "running", 15000));
    pid_t pid = h_task_pid(&h, "t1");
    cr_assert_eq(call("POST", BASE "/tasks/t1/restart"), 200);
    cr_assert_eq(call("GET", BASE "/tasks/t1/restart"), 405);
    for (int i = 0; i < 200 && h_task_pid(&h, "t1") == pid; i++)
        usleep(50000);
    cr_assert(h_wait_status(&h, "t1", "status", "running", 15000));
    cr_assert_neq(h_task_pid(&h, "t1"), pid);
    cr_assert_not(h_pid_alive(pid));
}

Test(api, force_on_a_running_task_restarts_it_with_the_new_definition)
{
    h_create_task(&h, "t1", NULL);
    cr_assert_eq(call("GET", BASE "/tasks/t1/start"), 200);
    cr_assert(h_wait_status(&h, "t1", "status", "running", 15000));
    pid_t pid = h_task_pid(&h, "t1");
    char *body = h_taskinfo("t1", "\"sml.kstream.record.poll.max\":\"7\"", H_SECRET1);
    h_response_t r = h_req(&h, "POST", BASE "/tasks/create?force=true", body);
    cr_assert_eq(r.status, 202, "%s", r.body);
    h_response_free(&r);
    free(body);
    for (int i = 0; i < 200 && h_task_pid(&h, "t1") == pid; i++)
        usleep(50000);
    cr_assert(h_wait_status(&h, "t1", "status", "running", 15000));
    cr_assert_neq(h_task_pid(&h, "t1"), pid);
}

Test(api, delete_stops_a_running_task)
{
    h_create_task(&h, "t1", NULL);
    cr_assert_eq(call("GET", BASE "/tasks/t1/start"), 200);
    cr_assert(h_wait_status(&h, "t1", "status", "running", 15000));
    pid_t pid = h_task_pid(&h, "t1");
    cr_assert_eq(call("DELETE", BASE "/tasks/t1"), 200);
    cr_assert_eq(call("GET", BASE "/tasks/t1"), 404);
    for (int i = 0; i < 200 && h_pid_alive(pid); i++)
        usleep(50000);
    cr_assert_not(h_pid_alive(pid), "the deleted task's worker still runs");
    /* the id is free again at once */
    h_create_task(&h, "t1", NULL);
}

Test(api, unknown_task_is_404_and_malformed_ids_400)
{
    h_response_t r = h_req(&h, "GET", BASE "/tasks/nope", NULL);
    cr_assert_eq(r.status, 404);
    cr_assert_str_eq(h_status_code(&r), "NOT_FOUND");
    cr_assert_str_eq(h_status_string(&r), "task [nope] does not exist for customer [c1]");
    h_response_free(&r);
    cr_assert_eq(call("GET", BASE "/tasks/nope/start"), 404);
    cr_assert_eq(call("GET", BASE "/tasks/nope/stop"), 404);
    cr_assert_eq(call("POST", BASE "/tasks/nope/restart"), 404);

    r = h_req(&h, "GET", BASE "/tasks/a%2Fb", NULL);
    cr_assert_eq(r.status, 400);
    cr_assert(strstr(h_status_string(&r), "task id 'a%2Fb' is malformed") != NULL, "%s", r.body);
    h_response_free(&r);
    cr_assert_eq(call("GET", BASE "/tasks/.."), 400);
    char longid[200];
    memset(longid, 'x', 129);
    longid[129] = '\0';
    char path[400];
    snprintf(path, sizeof(path), BASE "/tasks/%s", longid);
    cr_assert_eq(call("GET", path), 400);
    r = h_request(&h, "GET", "/symetry/rest/c*1/tasks", NULL, "c*1", H_SECRET1);
    cr_assert_eq(r.status, 400);
    cr_assert(strstr(h_status_string(&r), "customer id") != NULL, "%s", r.body);
    h_response_free(&r);
    cr_assert_eq(call("GET", "/symetry/rest/" H_CID1 "/nothing"), 404);
    /* raw bytes that are not UTF-8 are quoted safely in the JSON answer */
    r = h_raw(
        &h, "GET " BASE "/tasks/\xff\xfe\xc0 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 0);
    cr_assert_eq(r.status, 400, "%d %s", r.status, r.body);
    cr_assert_not_null(r.json, "not JSON: %s", r.body);
    cr_assert(strstr(h_status_string(&r), "task id '?\?\?' is malformed") != NULL, "%s", r.body);
    h_response_free(&r);
    cr_assert_eq(call("PUT", BASE "/tasks"), 405);
}

Test(api, invalid_taskinfo_names_the_field)
{
    char *body = h_taskinfo("t1", "\"sml.kstream.record.poll.max\":\"many\"", H_SECRET1);
    h_response_t r = h_req(&h, "POST", BASE "/tasks/create", body);
    free(body);
    cr_assert_eq(r.status, 400);
    cr_assert_str_eq(h_status_code(&r), "BAD_REQUEST");
    cr_assert(strstr(h_status_string(&r), "sml.kstream.record.poll.max") != NULL, "%s", r.body);
    h_response_free(&r);

    body = h_taskinfo("bad id", NULL, H_SECRET1);
    r = h_req(&h, "POST", BASE "/tasks/create", body);
    free(body);
    cr_assert_eq(r.status, 400);
    cr_assert(strstr(h_status_string(&r), "name") != NULL, "%s", r.body);
    h_response_free(&r);

    /* not encrypted with the customer's key: one message, whatever failed */
    body = h_taskinfo("t1", NULL, H_SECRET2);
    r = h_req(&h, "POST", BASE "/tasks/create", body);
    free(body);
    cr_assert_eq(r.status, 400);
    char first[512];
    snprintf(first, sizeof(first), "%s", h_status_string(&r));
    cr_assert(strstr(first, "could not be decrypted") != NULL, "%s", r.body);
    h_response_free(&r);
    r = h_req(&h, "POST", BASE "/tasks/create", "bm90IGEgY2lwaGVydGV4dA==");
    cr_assert_eq(r.status, 400);
    cr_assert_str_eq(h_status_string(&r), first);
    h_response_free(&r);

    /* plain JSON is refused unless the daemon allows it */
    r = h_req(&h, "POST", BASE "/tasks/create", "{\"type\":\"kstream\"}");
    cr_assert_eq(r.status, 400);
    cr_assert(strstr(h_status_string(&r), "auth.allow_plaintext_taskinfo") != NULL, "%s", r.body);
    h_response_free(&r);
    r = h_req(&h, "POST", BASE "/tasks/create", NULL);
    cr_assert_eq(r.status, 400);
    h_response_free(&r);
}

Test(api, oversized_body_is_413)
{
    size_t n = 1024 * 1024 + 10;
    char *body = malloc(n + 1);
    memset(body, 'A', n);
    body[n] = '\0';
    h_response_t r = h_req(&h, "POST", BASE "/tasks/create", body);
    free(body);
    cr_assert_eq(r.status, 413, "%d %s", r.status, r.body);
    cr_assert_str_eq(h_status_code(&r), "PAYLOAD_TOO_LARGE");
    cr_assert(strstr(h_status_string(&r), "http.max_body") != NULL);
    h_response_free(&r);
}

Test(api, signature_errors)
{
    h_response_t r = h_request(&h, "GET", BASE "/tasks", NULL, H_CID1, H_SECRET2);
    cr_assert_eq(r.status, 401);
    cr_assert_str_eq(h_status_string(&r), "Invalid Signature");
    const char *sts =
        json_string_value(json_object_get(json_object_get(r.json, "values"), "stringToSign"));
    cr_assert_not_null(sts, "%s", r.body);
    cr_assert(strstr(sts, "SECRETKEY") != NULL);
    cr_assert(strstr(sts, H_SECRET1) == NULL);
    cr_assert(strstr(r.body, H_SECRET2) == NULL);
    h_response_free(&r);

    r = h_request(&h, "GET", "/symetry/rest/nobody/tasks", NULL, "nobody", H_SECRET1);
    cr_assert_eq(r.status, 401);
    cr_assert_str_eq(h_status_string(&r), "Invalid User");
    h_response_free(&r);

    r = h_raw(&h,
              "GET " BASE "/tasks HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
              "Authorization: x\r\nCustomer-ID: c1\r\n\r\n",
              0);
    cr_assert_eq(r.status, 400);
    cr_assert_str_eq(h_status_string(&r), "sym-date header is null");
    h_response_free(&r);
    r = h_raw(&h,
              "GET " BASE "/tasks HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
              "Authorization: x\r\nSym-date: 2026-13-45 99:00:00;0\r\nCustomer-ID: c1\r\n\r\n",
              0);
    cr_assert_eq(r.status, 400);
    cr_assert_str_eq(h_status_string(&r), "Invalid Date Format");
    h_response_free(&r);
    r = h_raw(&h,
              "GET " BASE "/tasks HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
              "Authorization: x\r\nSym-date: 2001-01-01 00:00:00;0\r\nCustomer-ID: c1\r\n\r\n",
              0);
    cr_assert_eq(r.status, 400);
    cr_assert_str_eq(h_status_string(&r),
                     "Please update your server time, it is likely out of sync with UTC");
    h_response_free(&r);
}

Test(api, a_customer_never_sees_another_customers_tasks)
{
    h_create_task(&h, "t1", NULL);
    h_response_t r = h_request(&h, "GET", "/symetry/rest/c2/tasks", NULL, H_CID2, H_SECRET2);
    cr_assert_eq(r.status, 200);
    cr_assert(strstr(r.body, "\"values\":[]") != NULL, "%s", r.body);
    h_response_free(&r);
    static const char *const paths[][2] = {
        {"GET", "/symetry/rest/c2/tasks/t1"},      {"GET", "/symetry/rest/c2/tasks/t1/start"},
        {"GET", "/symetry/rest/c2/tasks/t1/stop"}, {"POST", "/symetry/rest/c2/tasks/t1/restart"},
        {"DELETE", "/symetry/rest/c2/tasks/t1"},
    };
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        r = h_request(&h, paths[i][0], paths[i][1], NULL, H_CID2, H_SECRET2);
        cr_assert_eq(r.status, 404, "%s %s: %d", paths[i][0], paths[i][1], r.status);
        h_response_free(&r);
    }
    /* c2 signing a request for c1's path: the Customer-ID must match the path */
    r = h_request(&h, "GET", BASE "/tasks/t1", NULL, H_CID2, H_SECRET2);
    cr_assert_eq(r.status, 401);
    cr_assert(strstr(r.body, "t1") == NULL || strstr(r.body, "stopped") == NULL);
    h_response_free(&r);
    json_t *st = h_status(&h, "t1");
    cr_assert_str_eq(h_get(st, "status"), "stopped");
    json_decref(st);
}

Test(api, a_killed_worker_is_restarted)
{
    h_create_task(&h, "t1", NULL);
    cr_assert_eq(call("GET", BASE "/tasks/t1/start"), 200);
    cr_assert(h_wait_status(&h, "t1", "status", "running", 15000));
    pid_t pid = h_task_pid(&h, "t1");
    kill(pid, SIGKILL);
    cr_assert(h_wait_status(&h, "t1", "restarts", "1", 10000), "no restart; see %s", h.log_path);
    cr_assert(h_wait_status(&h, "t1", "status", "running", 15000));
    json_t *st = h_status(&h, "t1");
    cr_assert(strstr(h_get(st, "lastError"), "signal 9") != NULL, "%s", h_get(st, "lastError"));
    cr_assert_neq(atoi(h_get(st, "pid")), pid);
    json_decref(st);
}

/* Concurrent starts never run more tasks than sml.task.max. */
typedef struct start_arg {
    char tid[16];
    int status;
} start_arg_t;

static void *start_thread(void *p)
{
    start_arg_t *a = p;
    char path[128];
    snprintf(path, sizeof(path), BASE "/tasks/%s/start", a->tid);
    a->status = call("GET", path);
    return NULL;
}

Test(api_own_config, task_limit_holds_under_concurrent_starts)
{
    h_setup(&h, "sml.task.max = 2");
    enum { N = 6 };
    start_arg_t args[N];
    pthread_t threads[N];
    for (int i = 0; i < N; i++) {
        snprintf(args[i].tid, sizeof(args[i].tid), "t%d", i);
        h_create_task(&h, args[i].tid, NULL);
    }
    for (int i = 0; i < N; i++)
        pthread_create(&threads[i], NULL, start_thread, &args[i]);
    int ok = 0, limited = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(threads[i], NULL);
        ok += args[i].status == 200;
        limited += args[i].status == 429;
    }
    cr_assert_eq(ok, 2);
    cr_assert_eq(limited, N - 2);

    const char *over = NULL;
    for (int i = 0; i < N && over == NULL; i++)
        if (args[i].status == 429)
            over = args[i].tid;
    char path[128];
    snprintf(path, sizeof(path), BASE "/tasks/%s/start", over);
    h_response_t r = h_req(&h, "GET", path, NULL);
    cr_assert_eq(r.status, 429);
    cr_assert_str_eq(h_status_code(&r), "TOO_MANY_REQUESTS");
    cr_assert(strstr(h_status_string(&r), "sml.task.max is 2") != NULL, "%s", r.body);
    h_response_free(&r);
}

Test(api, daemon_restart_gives_back_every_task, .timeout = 180)
{
    h_create_task(&h, "keep", NULL);
    h_create_task(&h, "run", NULL);
    cr_assert_eq(call("GET", BASE "/tasks/run/start"), 200);
    cr_assert(h_wait_status(&h, "run", "status", "running", 15000));
    pid_t pid = h_task_pid(&h, "run");

    int wstatus = h_stop(&h, SIGTERM);
    cr_assert(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0, "exit status %d", wstatus);
    cr_assert_not(h_pid_alive(pid), "a worker outlived its daemon");

    h_start(&h);
    h_response_t r = h_req(&h, "GET", BASE "/tasks", NULL);
    cr_assert(strstr(r.body, "[\"keep\",\"run\"]") != NULL, "%s", r.body);
    h_response_free(&r);
    cr_assert(h_wait_status(&h, "run", "status", "running", 15000));
    json_t *st = h_status(&h, "keep");
    cr_assert_str_eq(h_get(st, "status"), "stopped");
    json_decref(st);
}

Test(api, no_orphan_when_the_daemon_is_killed)
{
    h_create_task(&h, "t1", NULL);
    cr_assert_eq(call("GET", BASE "/tasks/t1/start"), 200);
    cr_assert(h_wait_status(&h, "t1", "status", "running", 15000));
    pid_t pid = h_task_pid(&h, "t1");
    h_stop(&h, SIGKILL);
    for (int i = 0; i < 100 && h_pid_alive(pid); i++)
        usleep(50000);
    cr_assert_not(h_pid_alive(pid), "worker %d outlived a SIGKILLed daemon", (int)pid);
}

Test(api, corrupt_state_file_stops_the_start_with_its_name)
{
    h_create_task(&h, "t1", NULL);
    h_stop(&h, SIGTERM);
    char path[512];
    snprintf(path, sizeof(path), "%s/state/tasks/c1/t1.task", h.dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("{\"format\":1,\"cid\":", f);
    fclose(f);

    int wstatus = h_run(&h);
    cr_assert(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) != 0);
    cr_assert(h_log_contains(&h, "t1.task is corrupt"));
    struct stat sb;
    cr_assert_eq(stat(path, &sb), 0, "the corrupt file must be kept");
}

Test(api_own_config, a_worker_that_keeps_crashing_ends_failed)
{
    /* a worker program that checks tasks like the real one but exits 1 when it should run
     * one */
    char script[256], conf[512];
    snprintf(script, sizeof(script), "/tmp/symtask-crash-%d.sh", (int)getpid());
    FILE *f = fopen(script, "w");
    cr_assert_not_null(f);
    fprintf(f, "#!/bin/sh\ncase \"$*\" in *--validate*) exec '%s' \"$@\";; esac\nexit 1\n",
            getenv("SYMTASK_WORKER"));
    fclose(f);
    chmod(script, 0755);
    snprintf(conf, sizeof(conf),
             "worker.path = %s\ntask.restart_backoff_ms = 20\ntask.restart_max = 3", script);
    h_setup(&h, conf);
    h_create_task(&h, "t1", NULL);
    cr_assert_eq(call("GET", BASE "/tasks/t1/start"), 200);
    cr_assert(h_wait_status(&h, "t1", "status", "failed", 10000), "see %s", h.log_path);
    json_t *st = h_status(&h, "t1");
    cr_assert(strstr(h_get(st, "lastError"), "gave up after 3 crashes") != NULL, "%s",
              h_get(st, "lastError"));
    cr_assert(strstr(h_get(st, "lastError"), "exited with code 1") != NULL);
    cr_assert_str_eq(h_get(st, "restarts"), "2");
    json_decref(st);
    /* a failed task gives its slot back; starting it again tries anew */
    h_response_t r = h_req(&h, "GET", "/metrics", NULL);
    cr_assert(strstr(r.body, "symtask_tasks_running 0\n") != NULL, "%s", r.body);
    cr_assert(strstr(r.body, "symtask_task_failed{customer=\"c1\",task=\"t1\"} 1\n") != NULL, "%s",
              r.body);
    h_response_free(&r);
    unlink(script);
}

/* The alert rules and the dashboard of examples/monitoring/ name only metrics that /metrics
 * serves: renaming one breaks this test, not a user's alerting at 3 a.m. */
Test(api, the_monitoring_examples_use_the_metrics_served)
{
    h_response_t r = h_raw(&h, "GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 0);
    cr_assert_eq(r.status, 200);
    const char *files[] = {"prometheus-alerts.yml", "grafana-dashboard.json"};
    for (size_t i = 0; i < 2; i++) {
        char path[600], text[65536];
        const char *root = getenv("SYMTASK_SOURCE_ROOT");
        cr_assert_not_null(root);
        snprintf(path, sizeof(path), "%s/examples/monitoring/%s", root, files[i]);
        FILE *f = fopen(path, "r");
        cr_assert_not_null(f, "%s", path);
        size_t n = fread(text, 1, sizeof(text) - 1, f);
        fclose(f);
        text[n] = '\0';
        size_t names = 0;
        for (const char *p = text; (p = strstr(p, "symtask_")) != NULL;) {
            if (p > text && (p[-1] == '_' || (p[-1] >= 'a' && p[-1] <= 'z'))) {
                p++;
                continue;
            }
            char name[128], type_line[160];
            size_t len = strspn(p, "abcdefghijklmnopqrstuvwxyz_");
            snprintf(name, sizeof(name), "%.*s", (int)len, p);
            p += len;
            /* a histogram's series are <name>_bucket, _sum, _count */
            size_t nl = strlen(name);
            if (nl > 7 && strcmp(name + nl - 7, "_bucket") == 0)
                name[nl - 7] = '\0';
            snprintf(type_line, sizeof(type_line), "# TYPE %s ", name);
            cr_expect(strstr(r.body, type_line) != NULL, "%s names %s, which /metrics lacks",
                      files[i], name);
            names++;
        }
        cr_expect_gt(names, 5, "%s names no metric", files[i]);
    }
    h_response_free(&r);
}

Test(api, embedded_bootstrap_file_is_written)
{
    char path[512], line[256] = "";
    snprintf(path, sizeof(path), "%s/state/embedded-kafka.bootstrap", h.dir);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    cr_assert_not_null(fgets(line, sizeof(line), f));
    fclose(f);
    cr_assert(strncmp(line, "127.0.0.1:", 10) == 0, "%s", line);
}

/* Sets *found to the path of the first file under @dir holding @needle. */
static void find_in_files(const char *dir, const char *needle, char *found, size_t found_size)
{
    char cmd[1024];
    FILE *p;

    found[0] = '\0';
    snprintf(cmd, sizeof(cmd), "grep -rlaF -- '%s' '%s' 2>/dev/null", needle, dir);
    p = popen(cmd, "r");
    cr_assert_not_null(p);
    if (fgets(found, (int)found_size, p) == NULL)
        found[0] = '\0';
    pclose(p);
}

Test(api, task_secrets_never_reach_the_state_dir_or_the_log, .timeout = 180)
{
    const char *marker = "MARKER-s3cr3t-value";
    char state[300], found[512];
    struct stat sb;

    h_create_task(&h, "secret", "\"sasl.password\":\"MARKER-s3cr3t-value\"");
    cr_assert_eq(call("GET", BASE "/tasks/secret/start"), 200);
    cr_assert(h_wait_status(&h, "secret", "status", "running", 15000), "see %s", h.log_path);
    cr_assert_eq(call("GET", BASE "/tasks/secret/stop"), 200);
    cr_assert(h_wait_status(&h, "secret", "status", "stopped", 10000));
    cr_assert_eq(call("POST", BASE "/tasks/secret/restart"), 200);
    cr_assert(h_wait_status(&h, "secret", "status", "running", 15000), "see %s", h.log_path);
    cr_assert_eq(call("GET", BASE "/tasks/secret/stop"), 200);
    cr_assert(h_wait_status(&h, "secret", "status", "stopped", 10000));
    int wstatus = h_stop(&h, SIGTERM);
    cr_assert(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0, "exit status %d", wstatus);

    snprintf(state, sizeof(state), "%s/state/store.key", h.dir);
    cr_assert_eq(stat(state, &sb), 0, "no key file %s", state);
    cr_expect_eq(sb.st_mode & 07777, 0600);
    snprintf(state, sizeof(state), "%s/state/tasks/c1/secret.task", h.dir);
    cr_assert_eq(stat(state, &sb), 0, "no state file %s", state);
    snprintf(state, sizeof(state), "%s/state", h.dir);
    /* the search does see what is in clear there */
    find_in_files(state, "\"tid\": \"secret\"", found, sizeof(found));
    cr_assert(strstr(found, "secret.task") != NULL, "grep found '%s'", found);
    find_in_files(state, marker, found, sizeof(found));
    cr_expect_str_empty(found, "the secret is in clear in %s", found);
    find_in_files(h.log_path, marker, found, sizeof(found));
    cr_expect_str_empty(found, "the secret is in the daemon log %s", h.log_path);
}
