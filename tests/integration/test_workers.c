/* test_workers.c: a task of sml.task.workers = N runs N worker processes on one node, members
 * of one consumer group: each gets partitions, each is supervised on its own (a SIGKILLed one
 * is restarted, the others go on), none loses a record, and the status shows each. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "kafka_util.h"

#define BASE "/symetry/rest/" H_CID1

static harness_t h;

static void teardown(void)
{
    h_teardown(&h);
}

/* The embedded cluster's topics have 4 partitions: two workers get some each. A long
 * restart backoff keeps a killed worker down long enough to see the task without it. */
static void setup(void)
{
    h_setup(&h, "kafka.embedded.partitions = 4\n"
                "task.restart_backoff_ms = 3000\n");
}

TestSuite(workers, .init = setup, .fini = teardown, .timeout = 300);

static void create_and_start(const char *tid, const char *extra)
{
    h_create_task(&h, tid, extra);
    h_start_task(&h, tid);
}

static const char *wkey(unsigned index, const char *key)
{
    static char buf[64];
    snprintf(buf, sizeof(buf), "worker.%u.%s", index, key);
    return buf;
}

/* Waits until each of the @n workers of @tid holds partitions and together they hold all 4. */
static bool wait_partitions_spread(const char *tid, unsigned n, int timeout_ms)
{
    for (int waited = 0; waited < timeout_ms; waited += 100) {
        json_t *st = h_status(&h, tid);
        int total = 0, each = 1;
        for (unsigned i = 0; i < n; i++) {
            int p = atoi(h_get(st, wkey(i, "assignedPartitions")));
            total += p;
            each &= p > 0;
        }
        bool spread = each && total == 4 && atoi(h_get(st, "assignedPartitions")) == 4;
        json_decref(st);
        if (spread)
            return true;
        usleep(100000);
    }
    return false;
}

Test(workers, each_worker_gets_partitions_and_the_status_shows_them)
{
    create_and_start("t1", "\"sml.task.workers\":\"2\"");
    json_t *st = h_status(&h, "t1");
    cr_assert_str_eq(h_get(st, "workers"), "2");
    pid_t p0 = atoi(h_get(st, wkey(0, "pid"))), p1 = atoi(h_get(st, wkey(1, "pid")));
    cr_assert(p0 > 0 && p1 > 0 && p0 != p1, "two processes: %d, %d", p0, p1);
    cr_assert(h_pid_alive(p0) && h_pid_alive(p1));
    char pids[64];
    snprintf(pids, sizeof(pids), "%d,%d", p0, p1);
    cr_expect_str_eq(h_get(st, "pid"), pids);
    cr_expect_str_eq(h_get(st, "processIsAlive"), "true");
    cr_expect_str_eq(h_get(st, wkey(0, "processIsAlive")), "true");
    cr_expect_str_eq(h_get(st, wkey(1, "status")), "running");
    json_decref(st);
    cr_assert(wait_partitions_spread("t1", 2, 60000),
              "the two workers did not share the 4 partitions; see %s", h.log_path);
    /* each with its own static membership id, by index */
    cr_expect(h_log_contains(&h, "group.instance.id symtask-c1-t1-0"), "see %s", h.log_path);
    cr_expect(h_log_contains(&h, "group.instance.id symtask-c1-t1-1"), "see %s", h.log_path);

    /* both predict: records on every partition come out, counted by the worker that had them */
    enum { N = 400 };
    char *keys[N], *values[N];
    for (int i = 0; i < N; i++) {
        cr_assert(asprintf(&keys[i], "k%d", i) > 0);
        cr_assert(asprintf(&values[i], "{\"x1\":%d,\"x2\":1}", i) > 0);
    }
    kt_produce(&h, "in-t1", N, (const char *const *)keys, (const char *const *)values, NULL);
    kt_record_t out[N];
    size_t n = kt_consume(&h, "out-t1", N, out, N, 60000);
    cr_assert_eq(n, N, "%zu of %d records came out; see %s", n, N, h.log_path);
    kt_records_free(out, n);
    for (int i = 0; i < N; i++) {
        free(keys[i]);
        free(values[i]);
    }
    bool both = false;
    for (int waited = 0; waited < 10000 && !both; waited += 100) {
        st = h_status(&h, "t1");
        int o0 = atoi(h_get(st, wkey(0, "recordsOut"))),
            o1 = atoi(h_get(st, wkey(1, "recordsOut")));
        both = o0 > 0 && o1 > 0 && o0 + o1 == N && atoi(h_get(st, "recordsOut")) == N;
        json_decref(st);
        if (!both)
            usleep(100000);
    }
    cr_expect(both, "each worker counts its own records and the task sums them");

    /* a stop ends every worker */
    h_response_t r = h_req(&h, "GET", BASE "/tasks/t1/stop", NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    h_response_free(&r);
    cr_assert(h_wait_status(&h, "t1", "status", "stopped", 30000));
    cr_expect(!h_pid_alive(p0) && !h_pid_alive(p1));
    st = h_status(&h, "t1");
    cr_expect_str_eq(h_get(st, "processIsAlive"), "false");
    cr_expect_str_eq(h_get(st, "pid"), "");
    cr_expect_str_eq(h_get(st, wkey(1, "status")), "stopped");
    json_decref(st);
}

enum { KILL_N = 60000 };

Test(workers, a_sigkilled_worker_is_restarted_alone_and_no_record_is_lost)
{
    create_and_start("t2", "\"sml.task.workers\":\"2\",\"sml.kstream.record.poll.max\":\"200\"");
    cr_assert(wait_partitions_spread("t2", 2, 60000), "see %s", h.log_path);
    pthread_t producer;
    kt_many_t many = {&h, "in-t2", KILL_N};
    pthread_create(&producer, NULL, kt_produce_many, &many);

    pid_t p0 = 0, p1 = 0;
    for (int waited = 0; waited < 30000 && p1 == 0; waited += 20) {
        json_t *st = h_status(&h, "t2");
        if (atoi(h_get(st, wkey(1, "recordsOut"))) > 0) {
            p0 = atoi(h_get(st, wkey(0, "pid")));
            p1 = atoi(h_get(st, wkey(1, "pid")));
        }
        json_decref(st);
        usleep(20000);
    }
    cr_assert(p0 > 0 && p1 > 0, "worker 1 wrote nothing; see %s", h.log_path);
    kill(p1, SIGKILL);

    /* the task without one worker: not every process is alive, the other goes on */
    cr_assert(h_wait_status(&h, "t2", "worker.1.status", "restarting", 10000));
    json_t *st = h_status(&h, "t2");
    cr_expect_str_eq(h_get(st, "processIsAlive"), "false");
    cr_expect_str_eq(h_get(st, "status"), "restarting");
    cr_expect_str_eq(h_get(st, wkey(0, "processIsAlive")), "true");
    cr_expect_eq(atoi(h_get(st, wkey(0, "pid"))), p0);
    cr_expect(strstr(h_get(st, "lastError"), "worker 1: worker killed by signal 9") != NULL,
              "lastError: %s", h_get(st, "lastError"));
    json_decref(st);

    /* worker 1 alone comes back, after its backoff */
    cr_assert(h_wait_status(&h, "t2", "worker.1.restarts", "1", 20000));
    cr_assert(h_wait_status(&h, "t2", "status", "running", 30000), "see %s", h.log_path);
    st = h_status(&h, "t2");
    pid_t again = atoi(h_get(st, wkey(1, "pid")));
    cr_expect(again > 0 && again != p1 && h_pid_alive(again));
    cr_expect_eq(atoi(h_get(st, wkey(0, "pid"))), p0, "worker 0 was not restarted");
    cr_expect_str_eq(h_get(st, wkey(0, "restarts")), "0");
    cr_expect_str_eq(h_get(st, "restarts"), "1");
    cr_expect_str_eq(h_get(st, "processIsAlive"), "true");
    json_decref(st);
    pthread_join(producer, NULL);

    kt_record_t *out = calloc(KILL_N * 2, sizeof(*out));
    /* the dead worker's partitions are silent until its session expires (6 s) and the group
     * joins again: wait for longer than that before calling the sink complete */
    size_t n = kt_consume_all(&h, "out-t2", out, KILL_N * 2, 15000, 180000);
    char *seen = calloc(KILL_N, 1);
    size_t distinct = 0;
    for (size_t i = 0; i < n; i++) {
        int id = atoi(out[i].key);
        if (id >= 0 && id < KILL_N && !seen[id]) {
            distinct++;
            seen[id] = 1;
        }
    }
    cr_assert_eq(distinct, KILL_N, "%zu of %d records came out; see %s", distinct, KILL_N,
                 h.log_path);
    kt_records_free(out, n);
    free(out);
    free(seen);
}

Test(workers, auto_runs_one_worker_per_core)
{
    cpu_set_t set;
    cr_assert_eq(sched_getaffinity(0, sizeof(set), &set), 0);
    int cores = CPU_COUNT(&set);
    create_and_start("t3", "\"sml.task.workers\":\"auto\"");
    json_t *st = h_status(&h, "t3");
    cr_expect_eq(atoi(h_get(st, "workers")), cores > 64 ? 64 : cores);
    cr_expect(atoi(h_get(st, wkey((unsigned)(cores > 64 ? 63 : cores - 1), "pid"))) > 0);
    json_decref(st);
}

Test(workers, bad_counts_are_refused_at_create)
{
    const char *bad[] = {"0", "65", "two", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char extra[64];
        snprintf(extra, sizeof(extra), "\"sml.task.workers\":\"%s\"", bad[i]);
        char *body = h_taskinfo("t4", extra, H_SECRET1);
        h_response_t r = h_req(&h, "POST", BASE "/tasks/create", body);
        free(body);
        cr_expect_eq(r.status, 400, "%s: %s", bad[i], r.body);
        cr_expect(strstr(r.body, "params.sml.task.workers") != NULL &&
                      strstr(r.body, "is not auto or a whole number from 1 to 64") != NULL,
                  "%s", r.body);
        h_response_free(&r);
    }
}

Test(workers, a_task_of_several_workers_takes_one_slot_of_task_max)
{
    h_teardown(&h);
    h_setup(&h, "sml.task.max = 1\n");
    create_and_start("t5", "\"sml.task.workers\":\"3\"");
    char *body = h_taskinfo("t6", NULL, H_SECRET1);
    h_response_t r = h_req(&h, "POST", BASE "/tasks/create", body);
    free(body);
    cr_assert_eq(r.status, 202, "%s", r.body);
    h_response_free(&r);
    r = h_req(&h, "GET", BASE "/tasks/t6/start", NULL);
    cr_expect_eq(r.status, 429, "%s", r.body);
    cr_expect(strstr(r.body, "1 tasks are running, the limit sml.task.max is 1") != NULL, "%s",
              r.body);
    h_response_free(&r);
    json_t *st = h_status(&h, "t5");
    cr_expect_str_eq(h_get(st, "workers"), "3");
    cr_expect_str_eq(h_get(st, "processIsAlive"), "true");
    json_decref(st);
}

Test(workers, a_given_group_instance_id_gets_the_index_appended)
{
    create_and_start("t7",
                     "\"sml.task.workers\":\"2\",\"kafka.consumer.group.instance.id\":\"mine\"");
    cr_expect(h_log_contains(&h, "group.instance.id mine-0"), "see %s", h.log_path);
    cr_expect(h_log_contains(&h, "group.instance.id mine-1"), "see %s", h.log_path);
}

/* A worker that cannot go on (exit code 2: a bad record with errors.tolerance = none) fails
 * the whole task: the other worker is stopped too, the task gives its slot back, and
 * lastError names the worker. */
Test(workers, a_worker_that_fails_for_good_fails_the_task_and_stops_the_others)
{
    create_and_start("t8", "\"sml.task.workers\":\"2\",\"sml.kstream.errors.tolerance\":\"none\"");
    cr_assert(wait_partitions_spread("t8", 2, 60000), "see %s", h.log_path);
    json_t *st = h_status(&h, "t8");
    pid_t p0 = atoi(h_get(st, wkey(0, "pid"))), p1 = atoi(h_get(st, wkey(1, "pid")));
    json_decref(st);
    /* bad records on every partition: whichever worker reads one first fails */
    const char *values[] = {"{broken", "{broken", "{broken", "{broken",
                            "{broken", "{broken", "{broken", "{broken"};
    const char *keys[] = {"a", "b", "c", "d", "e", "f", "g", "h"};
    kt_produce(&h, "in-t8", 8, keys, values, NULL);
    cr_assert(h_wait_status(&h, "t8", "status", "failed", 30000), "see %s", h.log_path);
    cr_assert(h_wait_status(&h, "t8", "processIsAlive", "false", 30000));
    for (int waited = 0; waited < 15000 && (h_pid_alive(p0) || h_pid_alive(p1)); waited += 100)
        usleep(100000);
    cr_expect(!h_pid_alive(p0) && !h_pid_alive(p1), "a worker of the failed task still runs");
    st = h_status(&h, "t8");
    cr_expect(strncmp(h_get(st, "lastError"), "worker ", 7) == 0 &&
                  strstr(h_get(st, "lastError"), "sml.kstream.errors.tolerance = none") != NULL,
              "lastError: %s", h_get(st, "lastError"));
    cr_expect_str_eq(h_get(st, "pid"), "");
    json_decref(st);
    /* the failed task holds no slot: a start tries again, with both workers */
    h_response_t r = h_req(&h, "GET", BASE "/tasks/t8/start", NULL);
    cr_expect_eq(r.status, 200, "%s", r.body);
    h_response_free(&r);
    cr_expect(h_wait_status(&h, "t8", "workers", "2", 5000));
}

/* The sink's records, read from the start until none came for 3 s. */
static size_t sink_count(const char *topic, size_t cap)
{
    kt_record_t *out = calloc(cap, sizeof(*out));
    size_t n = kt_consume_all(&h, topic, out, cap, 3000, 60000);
    kt_records_free(out, n < cap ? n : cap);
    free(out);
    return n;
}

/* Produces @n records keyed "{first}".."{first + n - 1}", spread over the 4 partitions. */
static void produce_keyed(const char *topic, int first, int n)
{
    char *keys[64], *values[64];
    cr_assert(n <= 64);
    for (int i = 0; i < n; i++) {
        cr_assert(asprintf(&keys[i], "%d", first + i) > 0);
        cr_assert(asprintf(&values[i], "{\"x1\":%d,\"x2\":1}", first + i) > 0);
    }
    kt_produce(&h, topic, (size_t)n, (const char *const *)keys, (const char *const *)values, NULL);
    for (int i = 0; i < n; i++) {
        free(keys[i]);
        free(values[i]);
    }
}

/* A pause goes to every worker (docs/operations.md): the task is paused once each of them
 * has paused, not before; both stay up and in the group; nothing is produced while paused;
 * a resume lets every held record through. Worker 1 is held with SIGSTOP so that the task is
 * seen with worker 0 paused and worker 1 not yet. */
Test(workers, a_pause_reaches_every_worker_and_the_task_is_paused_once_all_are)
{
    create_and_start("t9", "\"sml.task.workers\":\"2\"");
    cr_assert(wait_partitions_spread("t9", 2, 60000), "see %s", h.log_path);
    produce_keyed("in-t9", 0, 20);
    kt_record_t first[20];
    size_t n = kt_consume(&h, "out-t9", 20, first, 20, 60000);
    kt_records_free(first, n);
    cr_assert_eq(n, 20, "%zu of 20 records came out before the pause; see %s", n, h.log_path);
    json_t *st = h_status(&h, "t9");
    pid_t p0 = atoi(h_get(st, wkey(0, "pid"))), p1 = atoi(h_get(st, wkey(1, "pid")));
    json_decref(st);
    cr_assert(p0 > 0 && p1 > 0);

    cr_assert_eq(kill(p1, SIGSTOP), 0);
    h_response_t r = h_req(&h, "POST", BASE "/tasks/t9/pause", NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert(strstr(r.body, "task [t9] is pausing") != NULL, "%s", r.body);
    h_response_free(&r);
    cr_assert(h_wait_status(&h, "t9", wkey(0, "status"), "paused", 15000),
              "worker 0 never paused; see %s", h.log_path);
    /* worker 1 cannot read the pause: the task is not paused while it runs (held for less
     * than the consumer's session.timeout.ms of 6 s, so that the group keeps it) */
    for (int i = 0; i < 2; i++) {
        st = h_status(&h, "t9");
        cr_assert_str_eq(h_get(st, wkey(1, "status")), "running");
        cr_assert_str_eq(h_get(st, "status"), "running", "paused with worker 1 still running");
        json_decref(st);
        if (i == 0)
            sleep(1);
    }
    r = h_req(&h, "POST", BASE "/tasks/t9/pause", NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert(strstr(r.body, "task [t9] is pausing") != NULL, "%s", r.body);
    h_response_free(&r);
    cr_assert_eq(kill(p1, SIGCONT), 0);
    cr_assert(h_wait_status(&h, "t9", "status", "paused", 15000), "never paused; see %s",
              h.log_path);
    st = h_status(&h, "t9");
    cr_assert_str_eq(h_get(st, wkey(0, "status")), "paused");
    cr_assert_str_eq(h_get(st, wkey(1, "status")), "paused");
    cr_assert_str_eq(h_get(st, "processIsAlive"), "true");
    cr_assert_eq(atoi(h_get(st, wkey(0, "pid"))), p0, "worker 0 must stay up while paused");
    cr_assert_eq(atoi(h_get(st, wkey(1, "pid"))), p1, "worker 1 must stay up while paused");
    json_decref(st);
    cr_assert(h_pid_alive(p0) && h_pid_alive(p1));

    /* records that arrive while paused wait: the lag shows them, the sink does not move */
    produce_keyed("in-t9", 20, 20);
    cr_assert(h_wait_status(&h, "t9", "consumerLag", "20", 20000),
              "the lag never showed the new records; see %s", h.log_path);
    cr_assert_eq(sink_count("out-t9", 64), 20, "records came out while paused");
    sleep(3);
    cr_assert_eq(sink_count("out-t9", 64), 20, "records came out while paused");
    st = h_status(&h, "t9");
    cr_assert_str_eq(h_get(st, "status"), "paused");
    cr_assert_str_eq(h_get(st, "recordsIn"), "20");
    cr_assert_str_eq(h_get(st, "assignedPartitions"), "4", "both keep their partitions");
    cr_assert_str_eq(h_get(st, wkey(0, "groupState")), "stable");
    cr_assert_str_eq(h_get(st, wkey(1, "groupState")), "stable");
    json_decref(st);

    r = h_req(&h, "POST", BASE "/tasks/t9/resume", NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert(strstr(r.body, "task [t9] is resuming") != NULL, "%s", r.body);
    h_response_free(&r);
    cr_assert(h_wait_status(&h, "t9", "status", "running", 15000), "see %s", h.log_path);
    kt_record_t out[80];
    n = kt_consume(&h, "out-t9", 40, out, 80, 60000);
    bool seen[40] = {false};
    size_t distinct = 0;
    for (size_t i = 0; i < n; i++) {
        int k = atoi(out[i].key);
        if (k >= 0 && k < 40 && !seen[k])
            seen[k] = true, distinct++;
    }
    kt_records_free(out, n);
    cr_assert_eq(distinct, 40, "%zu of 40 records came out after the resume; see %s", distinct,
                 h.log_path);
    cr_assert(h_wait_status(&h, "t9", "consumerLag", "0", 20000));
    st = h_status(&h, "t9");
    cr_expect_str_eq(h_get(st, wkey(0, "status")), "running");
    cr_expect_str_eq(h_get(st, wkey(1, "status")), "running");
    cr_expect_eq(atoi(h_get(st, wkey(0, "pid"))), p0);
    cr_expect_eq(atoi(h_get(st, wkey(1, "pid"))), p1);
    cr_expect_str_eq(h_get(st, "restarts"), "0");
    json_decref(st);
}

/* A worker of a paused task that dies is started again paused (its task message says so):
 * the task is paused again once it is back, and it reads nothing until the resume. */
Test(workers, a_worker_restarted_while_the_task_is_paused_comes_back_paused)
{
    create_and_start("t10", "\"sml.task.workers\":\"2\"");
    cr_assert(wait_partitions_spread("t10", 2, 60000), "see %s", h.log_path);
    h_response_t r = h_req(&h, "POST", BASE "/tasks/t10/pause", NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    h_response_free(&r);
    cr_assert(h_wait_status(&h, "t10", "status", "paused", 15000), "see %s", h.log_path);
    json_t *st = h_status(&h, "t10");
    pid_t p0 = atoi(h_get(st, wkey(0, "pid"))), p1 = atoi(h_get(st, wkey(1, "pid")));
    json_decref(st);
    cr_assert_eq(kill(p1, SIGKILL), 0);
    cr_assert(h_wait_status(&h, "t10", wkey(1, "restarts"), "1", 20000), "see %s", h.log_path);
    cr_assert(h_wait_status(&h, "t10", "status", "paused", 30000),
              "the task did not come back paused; see %s", h.log_path);
    st = h_status(&h, "t10");
    pid_t again = atoi(h_get(st, wkey(1, "pid")));
    cr_expect(again > 0 && again != p1);
    cr_expect_eq(atoi(h_get(st, wkey(0, "pid"))), p0, "worker 0 was not restarted");
    cr_expect_str_eq(h_get(st, wkey(1, "status")), "paused");
    json_decref(st);

    produce_keyed("in-t10", 0, 12);
    cr_assert(h_wait_status(&h, "t10", "consumerLag", "12", 30000),
              "the lag never showed the new records; see %s", h.log_path);
    cr_assert_eq(sink_count("out-t10", 64), 0, "records came out while paused");
    st = h_status(&h, "t10");
    cr_expect_str_eq(h_get(st, "recordsIn"), "0");
    json_decref(st);
    r = h_req(&h, "POST", BASE "/tasks/t10/resume", NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    h_response_free(&r);
    kt_record_t out[64];
    size_t n = kt_consume(&h, "out-t10", 12, out, 64, 60000);
    kt_records_free(out, n);
    cr_assert_geq(n, 12, "%zu of 12 records came out after the resume; see %s", n, h.log_path);
}
