/* test_cluster.c: three symtaskd nodes on loopback in cluster mode, against one Kafka cluster
 * that a separate process owns (symtask-test-kafka): a change sent to any node is applied by
 * every node, a node that starts late reads every task first, a SIGKILLed node leaves its
 * partitions to the others with nothing lost, concurrent conflicting requests end in one
 * order everywhere, and the config topic holds no definition in clear. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "kafka_util.h"

#define BASE "/symetry/rest/" H_CID1
#define NODES 3

static harness_t node[NODES];
static pid_t kafka_pid;
static FILE *kafka_in, *kafka_out;
static char bootstrap[256];
static char key_path[NODES][300];
static harness_t key_dir; /* a test dir of its own for the nodes' key files, removed with it */

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Starts the Kafka cluster's process and reads its bootstrap servers. */
static void kafka_start(void)
{
    const char *exe = getenv("SYMTASK_TEST_KAFKA");
    cr_assert(exe != NULL, "SYMTASK_TEST_KAFKA (path of symtask-test-kafka) must be set");
    int in[2], out[2];
    cr_assert(pipe(in) == 0 && pipe(out) == 0);
    pid_t parent = getpid();
    kafka_pid = fork();
    cr_assert(kafka_pid >= 0);
    if (kafka_pid == 0) {
        h_die_with_parent(parent);
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[1]);
        close(out[0]);
        execl(exe, "symtask-test-kafka", "1", (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    kafka_in = fdopen(in[1], "w");
    kafka_out = fdopen(out[0], "r");
    cr_assert(fgets(bootstrap, sizeof(bootstrap), kafka_out) != NULL, "no bootstrap servers");
    bootstrap[strcspn(bootstrap, "\n")] = '\0';
    kt_use_bootstrap(bootstrap);
}

static void topic(const char *name, int partitions)
{
    char line[400];
    fprintf(kafka_in, "%s %d\n", name, partitions);
    fflush(kafka_in);
    cr_assert(fgets(line, sizeof(line), kafka_out) != NULL);
    cr_assert(strncmp(line, "ok ", 3) == 0, "topic %s: %s", name, line);
}

static const unsigned char cluster_key[32] = "0123456789abcdef0123456789abcdef";

/* The config lines of node @i (its key file in its own dir, as each host holds one). */
static void node_conf(int i, char *out, size_t size, const char *extra)
{
    snprintf(out, size,
             "kafka.embedded = false\n"
             "kafka.bootstrap.servers = %s\n"
             "cluster.enabled = true\n"
             "cluster.id = it\n"
             "cluster.node.id = n%d\n"
             "cluster.key = %s\n"
             "%s",
             bootstrap, i + 1, key_path[i], extra ? extra : "");
}

/* h_setup with the key file written first: the harness makes the dir, then starts. */
static void node_start(int i, const char *extra)
{
    char path[300];
    snprintf(path, sizeof(path), "%s/cluster-%d.key", key_dir.dir, i);
    snprintf(key_path[i], sizeof(key_path[i]), "%s", path);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert(fd >= 0);
    cr_assert(write(fd, cluster_key, sizeof(cluster_key)) == (ssize_t)sizeof(cluster_key));
    close(fd);
    char conf[2048];
    node_conf(i, conf, sizeof(conf), extra);
    h_setup(&node[i], conf);
}

static void setup(void)
{
    h_make_dir(&key_dir);
    kafka_start();
    topic("symtask-it-config", 1);
    topic("symtask-it-status", 1);
}

static void teardown(void)
{
    for (int i = 0; i < NODES; i++)
        h_teardown(&node[i]);
    h_teardown(&key_dir);
    if (kafka_in != NULL)
        fclose(kafka_in);
    if (kafka_pid > 0) {
        kill(kafka_pid, SIGTERM);
        waitpid(kafka_pid, NULL, 0);
    }
}

TestSuite(cluster, .init = setup, .fini = teardown, .timeout = 300);

static void task_topics(const char *tid)
{
    char name[200];
    snprintf(name, sizeof(name), "in-%s", tid);
    topic(name, 4);
    snprintf(name, sizeof(name), "out-%s", tid);
    topic(name, 4);
    snprintf(name, sizeof(name), "out-%s.dlq", tid);
    topic(name, 1);
}

static h_response_t create_on(int i, const char *tid, const char *extra)
{
    char *body = h_taskinfo(tid, extra, H_SECRET1);
    h_response_t r = h_req(&node[i], "POST", BASE "/tasks/create", body);
    free(body);
    return r;
}

static int call(int i, const char *method, const char *tid, const char *action)
{
    char path[256];
    snprintf(path, sizeof(path), BASE "/tasks/%s%s%s", tid, action ? "/" : "",
             action ? action : "");
    h_response_t r = h_req(&node[i], method, path, NULL);
    int status = r.status;
    cr_log_info("node %d %s %s: %d %s", i + 1, method, path, r.status, r.body);
    h_response_free(&r);
    return status;
}

/* Produces @n records with keys "{prefix}{k}" to @topic_name. */
static void produce(const char *topic_name, const char *prefix, int first, int n)
{
    char **keys = malloc((size_t)n * sizeof(*keys)), **values = malloc((size_t)n * sizeof(*values));
    for (int k = 0; k < n; k++) {
        cr_assert(asprintf(&keys[k], "%s%d", prefix, first + k) > 0);
        cr_assert(asprintf(&values[k], "{\"x1\":%d,\"x2\":1}", k) > 0);
    }
    kt_produce(&node[0], topic_name, (size_t)n, (const char *const *)keys,
               (const char *const *)values, NULL);
    for (int k = 0; k < n; k++) {
        free(keys[k]);
        free(values[k]);
    }
    free(keys);
    free(values);
}

/* Distinct keys "{prefix}{0..n-1}" read from @topic_name, duplicates allowed: reads until
 * every key came, or no new key came for @idle_ms (a group that lost a member, or still
 * settles its members, is silent until the member's session expires, about 6 s, and the
 * group joined again). */
static long n_out_at_ms; /* when distinct_out() last saw @n records (with any duplicates) */

static int distinct_out(const char *topic_name, const char *prefix, int n, int idle_ms)
{
    kt_record_t *out = calloc((size_t)n * 3, sizeof(*out));
    size_t got = kt_consume(&node[0], topic_name, (size_t)n, out, (size_t)n * 3, 120000);
    n_out_at_ms = now_ms();
    kt_records_free(out, got);
    char *seen = calloc((size_t)n, 1);
    size_t plen = strlen(prefix);
    int best = 0;
    for (long last_new = now_ms(); best < n && now_ms() - last_new < idle_ms;) {
        /* the whole topic again: a pass ends after a second without a record */
        got = kt_consume_all(&node[0], topic_name, out, (size_t)n * 3, 1000, 180000);
        memset(seen, 0, (size_t)n);
        int distinct = 0;
        for (size_t k = 0; k < got; k++) {
            if (out[k].key == NULL || strncmp(out[k].key, prefix, plen) != 0)
                continue;
            int id = atoi(out[k].key + plen);
            if (id >= 0 && id < n && !seen[id]) {
                seen[id] = 1;
                distinct++;
            }
        }
        kt_records_free(out, got);
        if (distinct > best) {
            best = distinct;
            last_new = now_ms();
        }
    }
    free(out);
    free(seen);
    return best;
}

Test(cluster, a_change_on_any_node_is_applied_by_every_node)
{
    task_topics("t1");
    for (int i = 0; i < NODES; i++)
        node_start(i, NULL);

    long t0 = now_ms();
    h_response_t r = create_on(0, "t1", NULL);
    cr_assert_eq(r.status, 202, "%s", r.body);
    h_response_free(&r);
    long answered = now_ms();
    /* the creating node answers once it applied the record itself */
    cr_assert(h_wait_status(&node[0], "t1", "status", "stopped", 1000));
    for (int i = 1; i < NODES; i++)
        cr_assert(h_wait_status(&node[i], "t1", "status", "stopped", 10000), "node %d", i + 1);
    /* figures for docs/cluster.md (the polls above see a change within 50 ms) */
    fprintf(stderr, "cluster: a create answered in %ld ms, known to all 3 nodes after %ld ms\n",
            answered - t0, now_ms() - t0);

    /* a second create of the same task without force is refused, on any node */
    r = create_on(2, "t1", NULL);
    cr_expect_eq(r.status, 409, "%s", r.body);
    h_response_free(&r);

    t0 = now_ms();
    cr_assert_eq(call(1, "GET", "t1", "start"), 200);
    for (int i = 0; i < NODES; i++)
        cr_assert(h_wait_status(&node[i], "t1", "status", "running", 30000), "node %d; see %s",
                  i + 1, node[i].log_path);
    fprintf(stderr,
            "cluster: a start sent to node 2 had every node's worker running after %ld ms\n",
            now_ms() - t0);

    /* every node runs a worker; node 3 sees all three through the status topic */
    cr_assert(h_wait_status(&node[2], "t1", "clusterWorkers", "3", 20000), "see %s",
              node[2].log_path);
    json_t *st = h_status(&node[2], "t1");
    cr_expect_str_eq(h_get(st, "nodes"), "3");
    cr_expect_str_eq(h_get(st, "node"), "n3");
    cr_expect_str_eq(h_get(st, "node.n1.workers"), "1");
    cr_expect_str_eq(h_get(st, "node.n2.worker.0.processIsAlive"), "true");
    json_decref(st);
    /* no two members of the group share an id: the node's id is in each */
    for (int i = 0; i < NODES; i++) {
        char want[64];
        snprintf(want, sizeof(want), "group.instance.id symtask-c1-t1-n%d-0", i + 1);
        cr_expect(h_log_contains(&node[i], want), "node %d: see %s", i + 1, node[i].log_path);
    }

    enum { N = 600 };
    produce("in-t1", "a", 0, N);
    int got = distinct_out("out-t1", "a", N, 15000);
    cr_assert_eq(got, N, "%d of %d records came out", got, N);

    /* a stop on node 3 stops the workers of every node; a delete on node 1 removes it */
    cr_assert_eq(call(2, "GET", "t1", "stop"), 200);
    for (int i = 0; i < NODES; i++)
        cr_assert(h_wait_status(&node[i], "t1", "status", "stopped", 30000), "node %d", i + 1);
    cr_assert_eq(call(0, "DELETE", "t1", NULL), 200);
    for (int i = 0; i < NODES; i++) {
        bool gone = false;
        for (int waited = 0; waited < 10000 && !gone; waited += 100) {
            gone = call(i, "GET", "t1", NULL) == 404;
            if (!gone)
                usleep(100000);
        }
        cr_expect(gone, "node %d still has the task", i + 1);
    }
}

Test(cluster, a_node_started_late_knows_every_task_before_it_serves)
{
    task_topics("t2");
    task_topics("t3");
    node_start(0, NULL);
    node_start(1, NULL);
    h_response_t r = create_on(0, "t2", NULL);
    cr_assert_eq(r.status, 202, "%s", r.body);
    h_response_free(&r);
    r = create_on(1, "t3", NULL);
    cr_assert_eq(r.status, 202, "%s", r.body);
    h_response_free(&r);
    cr_assert_eq(call(1, "GET", "t2", "start"), 200);
    cr_assert_eq(call(0, "POST", "t3", "restart"), 200);
    cr_assert_eq(call(0, "GET", "t3", "stop"), 200);

    node_start(2, NULL);
    /* its first answer already knows both tasks and their desired states */
    json_t *st = h_status(&node[2], "t2");
    cr_assert_not_null(st, "node 3 serves without task t2");
    cr_expect(strcmp(h_get(st, "status"), "starting") == 0 ||
                  strcmp(h_get(st, "status"), "running") == 0,
              "t2 on node 3: %s", h_get(st, "status"));
    json_decref(st);
    st = h_status(&node[2], "t3");
    cr_assert_not_null(st, "node 3 serves without task t3");
    cr_expect_str_eq(h_get(st, "status"), "stopped");
    json_decref(st);
    cr_assert(h_wait_status(&node[2], "t2", "status", "running", 30000));
}

/* The config topic holds no TaskInfo in clear: neither the model path nor a topic name. */
Test(cluster, definitions_are_encrypted_in_the_config_topic)
{
    task_topics("t4");
    node_start(0, NULL);
    h_response_t r = create_on(0, "t4", "\"sasl.password\":\"hunter2-secret\"");
    cr_assert_eq(r.status, 202, "%s", r.body);
    h_response_free(&r);
    kt_record_t out[16];
    size_t n = kt_consume(&node[0], "symtask-it-config", 1, out, 16, 10000);
    cr_assert(n >= 1, "nothing in the config topic");
    for (size_t i = 0; i < n; i++) {
        cr_expect(strstr(out[i].value, "in-t4") == NULL, "clear text: %s", out[i].value);
        cr_expect(strstr(out[i].value, "hunter2") == NULL, "clear text: %s", out[i].value);
        cr_expect(strstr(out[i].value, "model.json") == NULL, "clear text: %s", out[i].value);
        cr_expect(strstr(out[i].value, "sealedTaskInfo") != NULL, "%s", out[i].value);
    }
    kt_records_free(out, n);
}

typedef struct flip {
    int node;
    const char *action;
    int rounds;
} flip_t;

static void *flip_many(void *arg)
{
    flip_t *f = arg;
    for (int k = 0; k < f->rounds; k++)
        call(f->node, "GET", "t5", f->action);
    return NULL;
}

Test(cluster, concurrent_conflicting_requests_end_in_one_order_everywhere)
{
    task_topics("t5");
    node_start(0, NULL);
    node_start(1, NULL);
    h_response_t r = create_on(0, "t5", NULL);
    cr_assert_eq(r.status, 202, "%s", r.body);
    h_response_free(&r);
    cr_assert(h_wait_status(&node[1], "t5", "status", "stopped", 10000));

    flip_t a = {.node = 0, .action = "start", .rounds = 15};
    flip_t b = {.node = 1, .action = "stop", .rounds = 15};
    pthread_t ta, tb;
    pthread_create(&ta, NULL, flip_many, &a);
    pthread_create(&tb, NULL, flip_many, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);

    /* the last record of the topic decides on both nodes */
    kt_record_t out[128];
    size_t n = kt_consume_all(&node[0], "symtask-it-config", out, 128, 2000, 20000);
    const char *last = NULL;
    for (size_t i = 0; i < n; i++)
        if (out[i].key != NULL && strcmp(out[i].key, "state/" H_CID1 "/t5") == 0)
            last = out[i].value;
    cr_assert_not_null(last);
    const char *want = strstr(last, "\"desired\":\"running\"") ? "running" : "stopped";
    kt_records_free(out, n);
    for (int i = 0; i < 2; i++)
        cr_expect(h_wait_status(&node[i], "t5", "status", want, 30000), "node %d is not %s", i + 1,
                  want);
}

Test(cluster, a_sigkilled_node_leaves_its_partitions_to_the_others)
{
    task_topics("t6");
    for (int i = 0; i < NODES; i++)
        node_start(i, NULL);
    h_response_t r = create_on(0, "t6", "\"sml.kstream.record.poll.max\":\"100\"");
    cr_assert_eq(r.status, 202, "%s", r.body);
    h_response_free(&r);
    cr_assert_eq(call(0, "GET", "t6", "start"), 200);
    for (int i = 0; i < NODES; i++)
        cr_assert(h_wait_status(&node[i], "t6", "status", "running", 30000));
    cr_assert(h_wait_status(&node[0], "t6", "clusterWorkers", "3", 20000));

    /* the node to be killed holds partitions of the source topic */
    bool holds = false;
    for (int waited = 0; waited < 30000 && !holds; waited += 200) {
        json_t *st = h_status(&node[1], "t6");
        holds = atoi(h_get(st, "assignedPartitions")) > 0;
        json_decref(st);
        if (!holds)
            usleep(200000);
    }
    cr_assert(holds, "node 2 got no partition; see %s", node[1].log_path);

    enum { N = 3000 };
    produce("in-t6", "k", 0, N / 2);
    long killed = now_ms();
    h_stop(&node[1], SIGKILL);
    produce("in-t6", "k", N / 2, N / 2);
    int got = distinct_out("out-t6", "k", N, 20000);
    cr_assert_eq(got, N, "%d of %d records came out after node 2 was killed", got, N);
    fprintf(stderr,
            "cluster: the sink held %d records %ld ms after a node holding partitions was "
            "SIGKILLed (all %d of them distinct)\n",
            N, n_out_at_ms - killed, got);
}

Test(cluster, bad_cluster_settings_stop_the_daemon_with_a_reason)
{
    harness_t h = {0};
    h_make_dir(&h);
    h.port = 1;
    char conf[1024];
    snprintf(conf, sizeof(conf),
             "listen = 127.0.0.1:0\nstate.dir = %s/state\ncustomers.file = %s/customers\n"
             "kafka.bootstrap.servers = %s\ncluster.enabled = true\ncluster.node.id = n1\n"
             "cluster.key = /nonexistent\n",
             h.dir, h.dir, bootstrap);
    FILE *f = fopen(h.conf_path, "w");
    fputs(conf, f);
    fclose(f);
    char path[400];
    snprintf(path, sizeof(path), "%s/customers", h.dir);
    f = fopen(path, "w");
    fputs(H_CID1 ":" H_SECRET1 "\n", f);
    fclose(f);
    chmod(path, 0600);
    int ws = h_run(&h);
    cr_expect(WIFEXITED(ws) && WEXITSTATUS(ws) != 0);
    cr_expect(h_log_contains(&h, "cluster.enabled = true needs cluster.id"), "see %s", h.log_path);

    /* a config topic of several partitions has no one order */
    topic("symtask-four-config", 4);
    topic("symtask-four-status", 1);
    char key[400];
    snprintf(key, sizeof(key), "%s/cluster.key", h.dir);
    int fd = open(key, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert(write(fd, cluster_key, sizeof(cluster_key)) == (ssize_t)sizeof(cluster_key));
    close(fd);
    f = fopen(h.conf_path, "a");
    fprintf(f, "cluster.id = four\ncluster.key = %s\n", key);
    fclose(f);
    ws = h_run(&h);
    cr_expect(WIFEXITED(ws) && WEXITSTATUS(ws) != 0);
    cr_expect(h_log_contains(&h, "cluster.config.topic = symtask-four-config has 4 partitions: it "
                                 "must have exactly one"),
              "see %s", h.log_path);
    h_teardown(&h);
}

/* Sends @method @path (a body may be NULL) to node 1 and asserts a 409 that says @what is
 * not available in cluster mode. */
static void expect_refused(const char *method, const char *path, const char *body, const char *what)
{
    h_response_t r = h_req(&node[0], method, path, body);
    cr_log_info("node 1 %s %s: %d %s", method, path, r.status, r.body);
    cr_expect_eq(r.status, 409, "%s %s: %d %s", method, path, r.status, r.body);
    cr_expect_str_eq(h_status_code(&r), "CONFLICT", "%s", r.body);
    char want[128];
    snprintf(want, sizeof(want), "%s is not available in cluster mode yet", what);
    cr_expect(strstr(h_status_string(&r), want) != NULL, "%s %s: '%s' not in %s", method, path,
              want, r.body);
    h_response_free(&r);
}

/* What the config topic cannot carry yet (docs/cluster.md): pause and resume, an offsets
 * reset, the restart of many tasks and start=true on create answer 409 and change nothing;
 * the offsets are listed as on a single node. */
Test(cluster, operations_not_carried_by_the_config_topic_are_refused)
{
    task_topics("t7");
    node_start(0, NULL);
    h_response_t r = create_on(0, "t7", NULL);
    cr_assert_eq(r.status, 202, "%s", r.body);
    h_response_free(&r);
    cr_assert_eq(call(0, "POST", "t7", "start"), 200);
    cr_assert(h_wait_status(&node[0], "t7", "status", "running", 30000), "see %s",
              node[0].log_path);
    json_t *st = h_status(&node[0], "t7");
    pid_t pid = atoi(h_get(st, "pid"));
    json_decref(st);
    cr_assert(pid > 0);

    expect_refused("POST", BASE "/tasks/t7/pause", NULL, "pause");
    expect_refused("POST", BASE "/tasks/t7/resume", NULL, "resume");
    expect_refused("POST", BASE "/tasks/t7/offsets", "{\"to\":\"earliest\"}", "an offsets reset");
    expect_refused("POST", BASE "/tasks/restart", NULL, "restart of many tasks");
    expect_refused("POST", BASE "/tasks/restart?onlyFailed=true", NULL, "restart of many tasks");
    char *body = h_taskinfo("t8", NULL, H_SECRET1);
    expect_refused("POST", BASE "/tasks/create?start=true", body, "start=true on create");
    free(body);
    cr_expect_eq(call(0, "GET", "t8", NULL), 404, "a refused create?start=true made the task");

    /* none of them touched the task: still running, the same worker, never paused */
    sleep(2);
    st = h_status(&node[0], "t7");
    cr_expect_str_eq(h_get(st, "status"), "running");
    cr_expect_eq(atoi(h_get(st, "pid")), pid, "the task was restarted");
    json_decref(st);

    /* listing the offsets reads the group of the task */
    produce("in-t7", "o", 0, 10);
    cr_assert_eq(distinct_out("out-t7", "o", 10, 2000), 10);
    bool committed = false;
    for (int waited = 0; waited < 30000 && !committed; waited += 500) {
        r = h_req(&node[0], "GET", BASE "/tasks/t7/offsets", NULL);
        cr_assert_eq(r.status, 200, "%s", r.body);
        const char *said = h_status_string(&r);
        cr_assert(strstr(said, "task [t7] has 4 partitions on topic [in-t7]") != NULL, "%s",
                  r.body);
        committed = strstr(said, "; lag 0") != NULL;
        json_t *parts = json_object_get(
            json_object_get(json_object_get(r.json, "values"), "offsets"), "partitions");
        cr_assert_eq(json_array_size(parts), 4, "%s", r.body);
        json_int_t sum = 0;
        size_t i;
        json_t *p;
        json_array_foreach (parts, i, p)
            sum += json_integer_value(json_object_get(p, "committed"));
        committed = committed && sum == 10;
        h_response_free(&r);
        if (!committed)
            usleep(500000);
    }
    cr_expect(committed, "the offsets never showed the 10 records committed; see %s",
              node[0].log_path);
}
