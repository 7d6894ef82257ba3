/* test_client.c: the symtask command-line client, run as a program against the real symtaskd
 * (and against small fake servers for HTTP details): every command, its output for people and
 * for scripts, settings and their precedence, errors and exit statuses; tasks of SymetryML's
 * Kafka stream application created from their properties files (create --properties). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pty.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "crypto.h"
#include "sign.h"
#include "harness.h"
#include "kafka_util.h"
#include "model_server.h"

static harness_t h;
static char url[64];

/* What one run of the client gave. */
typedef struct run {
    int code; /* exit status, or -1 if it did not exit normally */
    char out[65536];
    char err[16384];
} run_t;

static run_t r;

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Runs symtask with @args (NULL-terminated) and exactly the environment @env (NULL-terminated
 * "K=V" strings) plus PATH and HOME (the harness dir, so that no user config applies); feeds
 * @input (may be NULL) on stdin. Fills r and returns the exit status. */
static int run_client(const char *const *env, const char *input, const char *const *args)
{
    const char *exe = getenv("SYMTASK");
    cr_assert(exe != NULL, "SYMTASK (path of the symtask client) must be set");
    int out[2], err[2], in[2];
    cr_assert(pipe(out) == 0 && pipe(err) == 0 && pipe(in) == 0);
    char home[300];
    snprintf(home, sizeof(home), "HOME=%s", h.dir[0] ? h.dir : "/nonexistent");
    pid_t parent = getpid();
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        h_die_with_parent(parent);
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(err[1], 2);
        close(in[1]);
        close(out[0]);
        close(err[0]);
        const char *argv[32] = {"symtask"};
        for (int i = 0; args[i] != NULL && i < 30; i++)
            argv[i + 1] = args[i];
        const char *envp[32] = {"PATH=/usr/bin:/bin", home};
        for (int i = 0; env != NULL && env[i] != NULL && i < 29; i++)
            envp[i + 2] = env[i];
        execve(exe, (char *const *)argv, (char *const *)envp);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    close(err[1]);
    if (input != NULL)
        cr_assert(write(in[1], input, strlen(input)) == (ssize_t)strlen(input));
    close(in[1]);
    size_t got_out = 0, got_err = 0;
    struct pollfd fds[2] = {{.fd = out[0], .events = POLLIN}, {.fd = err[0], .events = POLLIN}};
    int open_fds = 2;
    while (open_fds > 0) {
        cr_assert(poll(fds, 2, -1) > 0);
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || fds[i].revents == 0)
                continue;
            char *buf = i == 0 ? r.out : r.err;
            size_t *got = i == 0 ? &got_out : &got_err;
            size_t cap = i == 0 ? sizeof(r.out) : sizeof(r.err);
            char scratch[4096];
            bool full = *got + 1 >= cap;
            ssize_t n = read(fds[i].fd, full ? scratch : buf + *got,
                             full ? sizeof(scratch) : cap - *got - 1);
            if (n <= 0) {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_fds--;
            } else if (!full) {
                *got += (size_t)n;
            }
        }
    }
    r.out[got_out] = '\0';
    r.err[got_err] = '\0';
    int wstatus;
    cr_assert(waitpid(pid, &wstatus, 0) == pid);
    r.code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
    return r.code;
}

/* Runs symtask as customer c1 of the harness daemon with the given arguments. */
static int symtask(const char *first, ...)
{
    const char *args[32] = {first};
    va_list ap;
    va_start(ap, first);
    for (int i = 1; i < 31 && (args[i] = va_arg(ap, const char *)) != NULL; i++)
        ;
    va_end(ap);
    args[31] = NULL;
    char url_env[128];
    snprintf(url_env, sizeof(url_env), "SYMTASK_URL=%s", url);
    const char *env[] = {url_env, "SYMTASK_CID=" H_CID1, "SYMTASK_SECRET=" H_SECRET1, NULL};
    return run_client(env, NULL, args);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    cr_assert(f != NULL, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
    cr_assert(chmod(path, mode) == 0);
}

/* Writes a linear model into the harness dir; returns its path (static). */
static const char *model_file(void)
{
    static char path[400];
    snprintf(path, sizeof(path), "%s/client-model.json", h.dir);
    write_file(path,
               "{\"kind\":\"linear\",\"features\":[\"x1\"],\"weights\":[2.0],\"intercept\":1.0}",
               0644);
    return path;
}

/* A valid plain TaskInfo for @tid into @json. */
static void taskinfo_json(const char *tid, char *json, size_t size)
{
    snprintf(json, size,
             "{\n  \"type\": \"kstream\",\n  \"name\": \"%s\",\n  \"params\": {\n"
             "    \"sml.kstream.source.topic\": \"in-%s\",\n"
             "    \"sml.kstream.sink.topic\": \"out-%s\",\n"
             "    \"sml.predictor\": \"linear\",\n"
             "    \"sml.predictor.model\": \"%s\"\n  }\n}\n",
             tid, tid, tid, model_file());
}

/* Writes a plain TaskInfo for @tid into the harness dir; returns its path (static). */
static const char *taskinfo_file(const char *tid)
{
    static char path[400];
    char json[2048];
    taskinfo_json(tid, json, sizeof(json));
    snprintf(path, sizeof(path), "%s/%s.json", h.dir, tid);
    write_file(path, json, 0644);
    return path;
}

/* Parses the client's stdout as one line of JSON; asserts it is one. New reference. */
static json_t *out_json(void)
{
    size_t len = strlen(r.out);
    cr_assert(len > 0 && r.out[len - 1] == '\n', "no line on stdout: [%s]", r.out);
    cr_assert_null(memchr(r.out, '\n', len - 1), "more than one line: [%s]", r.out);
    json_error_t jerr;
    json_t *j = json_loads(r.out, 0, &jerr);
    cr_assert_not_null(j, "stdout is not JSON (%s): %s", jerr.text, r.out);
    return j;
}

/* The status of task @tid as the client reports it in --json mode ("" if none). */
static void task_status(const char *tid, char *out, size_t size)
{
    out[0] = '\0';
    if (symtask("--json", "status", tid, NULL) != 0)
        return;
    json_t *j = out_json();
    json_t *map = json_array_get(
        json_object_get(json_object_get(json_object_get(j, "values"), "KSVSMap"), "values"), 0);
    snprintf(out, size, "%s", json_string_value(json_object_get(map, "status")) ?: "");
    json_decref(j);
}

static bool wait_task_status(const char *tid, const char *want, int timeout_ms)
{
    char status[64];
    for (int waited = 0; waited <= timeout_ms; waited += 100) {
        task_status(tid, status, sizeof(status));
        if (strcmp(status, want) == 0)
            return true;
        sleep_ms(100);
    }
    return false;
}

static void setup(void)
{
    h_setup(&h, NULL);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", h.port);
}

static void teardown(void)
{
    h_teardown(&h);
}

TestSuite(client, .init = setup, .fini = teardown, .timeout = 120);

Test(client, create_from_a_file_then_list_and_status)
{
    /* t1 in the default sealed form, t2 in the legacy SymetryML form. */
    cr_assert_eq(symtask("create", taskinfo_file("t1"), NULL), 0, "%s", r.err);
    cr_assert_str_eq(r.out, "task [t1] created for customer [c1]\n");
    cr_assert_eq(symtask("create", taskinfo_file("t2"), "--legacy", NULL), 0, "%s", r.err);
    cr_assert_eq(symtask("list", NULL), 0, "%s", r.err);
    cr_assert_str_eq(r.out, "t1\nt2\n");

    cr_assert_eq(symtask("status", "t1", NULL), 0, "%s", r.err);
    /* An aligned two-column table: every value starts in the same column. */
    int column = -1, lines = 0;
    bool saw_status = false;
    for (char *line = strtok(r.out, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        lines++;
        size_t key_len = strcspn(line, " ");
        size_t value_at = key_len + strspn(line + key_len, " ");
        if (line[value_at] == '\0')
            continue; /* an empty value */
        cr_assert_geq(value_at, key_len + 2, "[%s]", line);
        if (column < 0)
            column = (int)value_at;
        cr_assert_eq((int)value_at, column, "misaligned: [%s]", line);
        if (strncmp(line, "status ", 7) == 0) {
            saw_status = true;
            cr_assert_str_eq(line + value_at, "stopped");
        }
    }
    cr_assert(saw_status && lines >= 4);
}

Test(client, create_reads_stdin_and_checks_the_json)
{
    const char *env[] = {"SYMTASK_CID=" H_CID1, "SYMTASK_SECRET=" H_SECRET1, NULL};
    char url_env[128];
    snprintf(url_env, sizeof(url_env), "SYMTASK_URL=%s", url);
    const char *full_env[] = {url_env, env[0], env[1], NULL};
    const char *args[] = {"create", "-", NULL};
    char json[1024];
    snprintf(json, sizeof(json),
             "{\"type\":\"kstream\",\"name\":\"s1\",\"params\":{"
             "\"sml.kstream.source.topic\":\"a\",\"sml.kstream.sink.topic\":\"b\","
             "\"sml.predictor\":\"linear\",\"sml.predictor.model\":\"%s\"}}",
             model_file());
    cr_assert_eq(run_client(full_env, json, args), 0, "%s", r.err);
    cr_assert_eq(symtask("list", NULL), 0);
    cr_assert_str_eq(r.out, "s1\n");

    /* A syntax error is found before anything is sent, and its place is named. */
    char path[400];
    snprintf(path, sizeof(path), "%s/bad.json", h.dir);
    write_file(path, "{\n  \"type\": \"kstream\",\n  \"name\": \"b1\"\n  \"params\": {}\n}\n",
               0644);
    cr_assert_eq(symtask("create", path, NULL), 2);
    char where[420];
    snprintf(where, sizeof(where), "%s:4:", path);
    cr_assert_not_null(strstr(r.err, where), "%s", r.err);
    cr_assert_eq(run_client(full_env, "[1, 2", args), 2);
    cr_assert_not_null(strstr(r.err, "<stdin>:"), "%s", r.err);
    cr_assert_eq(symtask("list", NULL), 0);
    cr_assert_str_eq(r.out, "s1\n");

    /* An invalid TaskInfo is the server's 400, naming the field. */
    write_file(path, "{\"type\":\"kstream\",\"name\":\"b1\",\"params\":{}}", 0644);
    cr_assert_eq(symtask("create", path, NULL), 1);
    cr_assert_not_null(strstr(r.err, "symtask: HTTP 400 BAD_REQUEST: "), "%s", r.err);
}

Test(client, create_twice_conflicts_and_force_replaces)
{
    const char *file = taskinfo_file("t1");
    cr_assert_eq(symtask("create", file, NULL), 0, "%s", r.err);
    cr_assert_eq(symtask("create", file, NULL), 1);
    cr_assert_not_null(strstr(r.err, "symtask: HTTP 409 CONFLICT: "), "%s", r.err);
    cr_assert_str_eq(r.out, "");
    cr_assert_eq(symtask("create", file, "--force", NULL), 0, "%s", r.err);
    cr_assert_eq(symtask("--force", "create", file, NULL), 0, "%s", r.err);
    cr_assert_eq(symtask("start", "t1", "--force", NULL), 2, "--force is for create only");
}

Test(client, start_stop_restart_delete)
{
    cr_assert_eq(symtask("create", taskinfo_file("t1"), NULL), 0, "%s", r.err);
    cr_assert_eq(symtask("start", "t1", NULL), 0, "%s", r.err);
    cr_assert_not_null(strstr(r.out, "task [t1]"), "%s", r.out);
    cr_assert(wait_task_status("t1", "running", 15000), "task never ran; see %s", h.log_path);
    cr_assert_eq(symtask("status", "t1", NULL), 0);
    cr_assert_not_null(strstr(r.out, "processIsAlive"), "%s", r.out);

    cr_assert_eq(symtask("restart", "t1", NULL), 0, "%s", r.err);
    cr_assert(wait_task_status("t1", "running", 15000), "task never ran again; see %s", h.log_path);
    cr_assert_eq(symtask("stop", "t1", NULL), 0, "%s", r.err);
    cr_assert(wait_task_status("t1", "stopped", 15000));
    cr_assert_eq(symtask("delete", "t1", NULL), 0, "%s", r.err);
    cr_assert_str_eq(r.out, "task [t1] deleted\n");
    cr_assert_eq(symtask("list", NULL), 0);
    cr_assert_str_eq(r.out, "");

    cr_assert_eq(symtask("status", "t1", NULL), 1);
    cr_assert_not_null(strstr(r.err, "symtask: HTTP 404 NOT_FOUND: "), "%s", r.err);
    cr_assert_eq(symtask("start", "no/such", NULL), 2, "a malformed id is refused locally");
}

Test(client, json_output_is_the_envelope_on_one_line)
{
    cr_assert_eq(symtask("--json", "create", taskinfo_file("t1"), NULL), 0, "%s", r.err);
    json_t *j = out_json();
    cr_assert_str_eq(json_string_value(json_object_get(j, "statusCode")), "CREATED");
    json_decref(j);

    cr_assert_eq(symtask("list", "--json", NULL), 0);
    j = out_json();
    json_t *names =
        json_object_get(json_object_get(json_object_get(j, "values"), "stringList"), "values");
    cr_assert_eq(json_array_size(names), 1);
    cr_assert_str_eq(json_string_value(json_array_get(names, 0)), "t1");
    json_decref(j);

    cr_assert_eq(symtask("--json", "status", "t1", NULL), 0);
    j = out_json();
    cr_assert_not_null(json_object_get(json_object_get(j, "values"), "KSVSMap"));
    json_decref(j);

    /* Errors too: the envelope on stdout, the message on stderr, exit 1. */
    cr_assert_eq(symtask("--json", "create", taskinfo_file("t1"), NULL), 1);
    j = out_json();
    cr_assert_str_eq(json_string_value(json_object_get(j, "statusCode")), "CONFLICT");
    json_decref(j);
    cr_assert_not_null(strstr(r.err, "CONFLICT"), "%s", r.err);

    cr_assert_eq(symtask("--json", "stop", "t1", NULL), 0);
    json_decref(out_json());
    cr_assert_eq(symtask("--json", "delete", "t1", NULL), 0);
    json_decref(out_json());
}

Test(client, plugins_prints_each_plugin_and_its_options)
{
    cr_assert_eq(symtask("plugins", NULL), 0, "%s", r.err);
    cr_assert_not_null(strstr(r.out, "linear       predictor  1.1.0    "), "%s", r.out);
    cr_assert_not_null(strstr(r.out, "json         serializer 1.1.0    "), "%s", r.out);
    cr_assert_not_null(strstr(r.out, "  sml.serializer.columns (list)\n      "), "%s", r.out);
    cr_assert_not_null(strstr(r.out, "  sml.predictor.missing (string, default error)\n"), "%s",
                       r.out);
    cr_assert_eq(symtask("--json", "plugins", NULL), 0, "%s", r.err);
    json_t *env = out_json();
    cr_assert(json_array_size(json_object_get(json_object_get(env, "values"), "plugins")) >= 3);
    json_decref(env);
}

Test(client, keygen_prints_a_fresh_16_byte_secret)
{
    char first[64];
    const char *args[] = {"keygen", NULL};
    cr_assert_eq(run_client(NULL, NULL, args), 0, "%s", r.err);
    size_t len = strlen(r.out);
    cr_assert(len > 1 && r.out[len - 1] == '\n');
    r.out[len - 1] = '\0';
    size_t key_len;
    uint8_t *key = crypto_b64_decode(r.out, strlen(r.out), &key_len);
    cr_assert_not_null(key, "not base64: %s", r.out);
    cr_assert_eq(key_len, 16);
    free(key);
    snprintf(first, sizeof(first), "%s", r.out);
    cr_assert_eq(run_client(NULL, NULL, args), 0);
    cr_assert_str_neq(r.out, first);
    cr_assert_eq(strlen(r.out), strlen(first) + 1);
}

Test(client, missing_cid_is_a_usage_error_with_the_three_ways)
{
    char url_env[128];
    snprintf(url_env, sizeof(url_env), "SYMTASK_URL=%s", url);
    const char *env[] = {url_env, "SYMTASK_SECRET=" H_SECRET1, NULL};
    const char *args[] = {"list", NULL};
    cr_assert_eq(run_client(env, NULL, args), 2);
    cr_assert_not_null(strstr(r.err, "--cid"), "%s", r.err);
    cr_assert_not_null(strstr(r.err, "SYMTASK_CID"), "%s", r.err);
    cr_assert_not_null(strstr(r.err, "cid = "), "%s", r.err);
    cr_assert_null(strstr(r.err, H_SECRET1));
}

Test(client, wrong_secret_is_an_invalid_signature_and_is_never_printed)
{
    char url_arg[128];
    snprintf(url_arg, sizeof(url_arg), "--url=%s", url);
    const char *args[] = {"--verbose", url_arg,   "--cid", H_CID1,
                          "--secret",  H_SECRET2, "list",  NULL};
    cr_assert_eq(run_client(NULL, NULL, args), 1);
    cr_assert_not_null(strstr(r.err, "symtask: HTTP 401 UNAUTHORIZED: Invalid Signature"), "%s",
                       r.err);
    cr_assert_not_null(strstr(r.err, "> GET /symetry/rest/c1/tasks"), "%s", r.err);
    cr_assert_null(strstr(r.err, H_SECRET2), "%s", r.err);
    cr_assert_null(strstr(r.out, H_SECRET2), "%s", r.out);

    /* A secret that is not base64 of 16 bytes never reaches the server, nor the output. */
    const char *bad[] = {
        url_arg, "--cid", H_CID1, "--secret", "c2VjcmV0LXRoYXQtaXMtbG9uZw==", "list", NULL};
    cr_assert_eq(run_client(NULL, NULL, bad), 2);
    cr_assert_null(strstr(r.err, "c2VjcmV0"), "%s", r.err);
}

Test(client, server_down_is_exit_3)
{
    h_stop(&h, SIGTERM);
    cr_assert_eq(symtask("list", NULL), 3, "%s", r.err);
    char want[160];
    snprintf(want, sizeof(want), "symtask: cannot connect to %s: Connection refused", url);
    cr_assert_not_null(strstr(r.err, want), "%s", r.err);
    cr_assert_not_null(strstr(r.err, "is symtaskd running?"), "%s", r.err);
}

/* Which customer a run acted as: each customer has one task named after it. */
static const char *acted_as(void)
{
    if (strcmp(r.out, "only-c1\n") == 0)
        return H_CID1;
    if (strcmp(r.out, "only-c2\n") == 0)
        return H_CID2;
    return r.out;
}

Test(client, flags_win_over_environment_over_config_file)
{
    char *body = h_taskinfo("only-c1", NULL, H_SECRET1);
    h_response_t res =
        h_request(&h, "POST", "/symetry/rest/c1/tasks/create", body, H_CID1, H_SECRET1);
    cr_assert_eq(res.status, 202);
    h_response_free(&res);
    free(body);
    body = h_taskinfo("only-c2", NULL, H_SECRET2);
    res = h_request(&h, "POST", "/symetry/rest/c2/tasks/create", body, H_CID2, H_SECRET2);
    cr_assert_eq(res.status, 202);
    h_response_free(&res);
    free(body);

    /* The default config file ~/.config/symtask/client.conf (HOME is the harness dir). */
    char path[400], text[512], url_env[128], bad_url_env[128], url_arg[128];
    snprintf(path, sizeof(path), "%s/.config", h.dir);
    cr_assert(mkdir(path, 0700) == 0);
    snprintf(path, sizeof(path), "%s/.config/symtask", h.dir);
    cr_assert(mkdir(path, 0700) == 0);
    snprintf(path, sizeof(path), "%s/.config/symtask/client.conf", h.dir);
    snprintf(text, sizeof(text), "# test\nurl = %s\ncid = %s\n\nsecret = %s\n", url, H_CID2,
             H_SECRET2);
    write_file(path, text, 0600);
    snprintf(url_env, sizeof(url_env), "SYMTASK_URL=%s", url);
    snprintf(bad_url_env, sizeof(bad_url_env), "SYMTASK_URL=http://127.0.0.1:1");
    snprintf(url_arg, sizeof(url_arg), "--url=%s", url);

    const char *list[] = {"list", NULL};
    cr_assert_eq(run_client(NULL, NULL, list), 0, "%s", r.err);
    cr_assert_str_eq(acted_as(), H_CID2, "config file alone");

    const char *env_c1[] = {"SYMTASK_CID=" H_CID1, "SYMTASK_SECRET=" H_SECRET1, NULL};
    cr_assert_eq(run_client(env_c1, NULL, list), 0, "%s", r.err);
    cr_assert_str_eq(acted_as(), H_CID1, "environment over config file");

    const char *flags_c2[] = {"--cid", H_CID2, "--secret", H_SECRET2, "list", NULL};
    cr_assert_eq(run_client(env_c1, NULL, flags_c2), 0, "%s", r.err);
    cr_assert_str_eq(acted_as(), H_CID2, "flags over environment");

    /* The URL: a wrong one in the environment beats the file's; a right flag beats both. */
    const char *env_bad_url[] = {bad_url_env, NULL};
    cr_assert_eq(run_client(env_bad_url, NULL, list), 3, "%s", r.err);
    const char *flag_url[] = {url_arg, "list", NULL};
    cr_assert_eq(run_client(env_bad_url, NULL, flag_url), 0, "%s", r.err);
    cr_assert_str_eq(acted_as(), H_CID2);

    /* --config names another file, which replaces the default one. */
    char other[400];
    snprintf(other, sizeof(other), "%s/other.conf", h.dir);
    snprintf(text, sizeof(text), "cid = %s\nsecret = %s\n", H_CID1, H_SECRET1);
    write_file(other, text, 0600);
    const char *with_config[] = {"--config", other, "list", NULL};
    const char *env_url[] = {url_env, NULL};
    cr_assert_eq(run_client(env_url, NULL, with_config), 0, "%s", r.err);
    cr_assert_str_eq(acted_as(), H_CID1);
}

Test(client, config_file_with_a_secret_readable_by_others_is_refused)
{
    char path[400], text[512], url_env[128];
    snprintf(url_env, sizeof(url_env), "SYMTASK_URL=%s", url);
    snprintf(path, sizeof(path), "%s/client.conf", h.dir);
    snprintf(text, sizeof(text), "cid = %s\nsecret = %s\n", H_CID1, H_SECRET1);
    write_file(path, text, 0644);
    const char *env[] = {url_env, NULL};
    const char *args[] = {"--config", path, "list", NULL};
    cr_assert_eq(run_client(env, NULL, args), 2);
    cr_assert_not_null(strstr(r.err, "chmod 600"), "%s", r.err);
    cr_assert_null(strstr(r.err, H_SECRET1), "%s", r.err);

    /* Even when the secret comes from elsewhere: the file exposes it all the same. */
    const char *env_secret[] = {url_env, "SYMTASK_SECRET=" H_SECRET1, NULL};
    cr_assert_eq(run_client(env_secret, NULL, args), 2);

    /* Without a secret the file may be readable. */
    snprintf(text, sizeof(text), "url = %s\n", url);
    write_file(path, text, 0644);
    const char *env_auth[] = {"SYMTASK_CID=" H_CID1, "SYMTASK_SECRET=" H_SECRET1, NULL};
    cr_assert_eq(run_client(env_auth, NULL, args), 0, "%s", r.err);

    /* An unknown key is named with its line. */
    write_file(path, "# x\nsecrets = abc\n", 0600);
    cr_assert_eq(run_client(env_auth, NULL, args), 2);
    cr_assert_not_null(strstr(r.err, ":2: unknown key 'secrets'"), "%s", r.err);
}

Test(client, usage_errors_are_exit_2)
{
    const char *none[] = {NULL};
    cr_assert_eq(run_client(NULL, NULL, none), 2);
    const char *unknown[] = {"frobnicate", NULL};
    cr_assert_eq(run_client(NULL, NULL, unknown), 2);
    const char *no_tid[] = {"start", NULL};
    cr_assert_eq(run_client(NULL, NULL, no_tid), 2);
    const char *both[] = {"create", "x.json", "--legacy", "--plain", NULL};
    cr_assert_eq(run_client(NULL, NULL, both), 2);
    const char *scheme[] = {"--url",    "ftp://127.0.0.1", "--cid", "c1",
                            "--secret", H_SECRET1,         "list",  NULL};
    cr_assert_eq(run_client(NULL, NULL, scheme), 2);
    cr_assert_not_null(strstr(r.err, "http"), "%s", r.err);
    const char *help[] = {"help", NULL};
    cr_assert_eq(run_client(NULL, NULL, help), 0);
    cr_assert_not_null(strstr(r.out, "Usage: symtask"));
    const char *version[] = {"--version", NULL};
    cr_assert_eq(run_client(NULL, NULL, version), 0);
    cr_assert(strncmp(r.out, "symtask ", 8) == 0, "%s", r.out);
}

/* The customer's 16-byte secret of @secret_b64 into @key. */
static void secret_key(const char *secret_b64, uint8_t key[16])
{
    size_t len;
    uint8_t *raw = crypto_b64_decode(secret_b64, strlen(secret_b64), &len);
    cr_assert(raw != NULL && len == 16);
    memcpy(key, raw, 16);
    free(raw);
}

/* POSTs @body as c1's TaskInfo; returns the HTTP status and the statusString into @out. */
static int create_as_c1(const char *body, char *out, size_t size)
{
    h_response_t res =
        h_request(&h, "POST", "/symetry/rest/c1/tasks/create", body, H_CID1, H_SECRET1);
    snprintf(out, size, "%s", h_status_string(&res));
    int status = res.status;
    h_response_free(&res);
    return status;
}

Test(client, every_unreadable_taskinfo_gets_one_answer)
{
    uint8_t key1[16], key2[16];
    secret_key(H_SECRET1, key1);
    secret_key(H_SECRET2, key2);
    char json[2048], first[1024], answer[1024];
    taskinfo_json("u1", json, sizeof(json));

    /* The control: sealed for c1 with c1's key, the server opens it. */
    char *good = crypto_sealed_encrypt(key1, H_CID1, json, strlen(json));
    cr_assert_not_null(good);
    cr_assert_eq(create_as_c1(good, answer, sizeof(answer)), 202, "%s", answer);

    /* Garbage first: its answer is the one every other failure must give. */
    cr_assert_eq(create_as_c1("this is no TaskInfo", first, sizeof(first)), 400);
    cr_assert_not_null(strstr(first, "could not be decrypted"), "%s", first);

    const char *what[16];
    char *bodies[16];
    size_t n = 0;
    /* The good body with one bit flipped in the nonce, the ciphertext and the tag. */
    size_t raw_len;
    uint8_t *raw = crypto_b64_decode(good + 5, strlen(good) - 5, &raw_len);
    cr_assert_not_null(raw);
    const size_t flips[] = {0, 24 + 10, raw_len - 1};
    const char *const flip_names[] = {"a bit flipped in the nonce",
                                      "a bit flipped in the ciphertext",
                                      "a bit flipped in the tag"};
    for (size_t i = 0; i < 3; i++) {
        raw[flips[i]] ^= 0x04;
        char *b64 = crypto_b64_encode(raw, raw_len);
        cr_assert_not_null(b64);
        bodies[n] = malloc(strlen(b64) + 6);
        sprintf(bodies[n], "sym1.%s", b64);
        what[n++] = flip_names[i];
        free(b64);
        raw[flips[i]] ^= 0x04;
    }
    free(raw);
    what[n] = "sealed with another customer's key";
    bodies[n++] = crypto_sealed_encrypt(key2, H_CID1, json, strlen(json));
    what[n] = "sealed for another customer (replayed)";
    bodies[n++] = crypto_sealed_encrypt(key1, H_CID2, json, strlen(json));
    what[n] = "the legacy form with the wrong key";
    bodies[n++] = crypto_legacy_encrypt(key2, json, strlen(json));
    what[n] = "the sealed prefix and garbage";
    bodies[n++] = strdup("sym1.this is no TaskInfo");
    what[n] = "a sealed body cut short";
    bodies[n++] = strndup(good, strlen(good) - 8);
    for (size_t i = 0; i < n; i++) {
        cr_assert_not_null(bodies[i]);
        cr_assert_eq(create_as_c1(bodies[i], answer, sizeof(answer)), 400, "%s: %s", what[i],
                     answer);
        cr_assert_str_eq(answer, first, "%s", what[i]);
        free(bodies[i]);
    }
    free(good);

    /* Nothing but the control was created. */
    cr_assert_eq(symtask("list", NULL), 0, "%s", r.err);
    cr_assert_str_eq(r.out, "u1\n");
}

Test(client, plain_taskinfo_needs_the_daemons_consent)
{
    cr_assert_eq(symtask("create", taskinfo_file("p1"), "--plain", NULL), 1);
    cr_assert_not_null(strstr(r.err, "allow_plaintext_taskinfo"), "%s", r.err);
}

TestSuite(client_own_config, .fini = teardown, .timeout = 120);

Test(client_own_config, plain_taskinfo_when_allowed)
{
    h_setup(&h, "auth.allow_plaintext_taskinfo = true");
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", h.port);
    cr_assert_eq(symtask("create", taskinfo_file("p1"), "--plain", NULL), 0, "%s", r.err);
    cr_assert_eq(symtask("list", NULL), 0);
    cr_assert_str_eq(r.out, "p1\n");
}

/* https: the daemon with a self-signed certificate for 127.0.0.1 (made with the openssl
 * command). h_setup checks the daemon over plain HTTP, so this test starts it itself. */
Test(client_own_config, https_verifies_the_certificate)
{
    if (system("command -v openssl >/dev/null 2>&1") != 0)
        cr_skip_test("the openssl command is not installed");
    h_make_dir(&h);
    char cmd[2048], path[400], conf[2048];
    snprintf(cmd, sizeof(cmd),
             "cd '%s' && openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out "
             "cert.pem -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 "
             ">/dev/null 2>&1 && chmod 600 key.pem",
             h.dir);
    cr_assert_eq(system(cmd), 0, "openssl could not make a certificate");
    snprintf(path, sizeof(path), "%s/customers", h.dir);
    write_file(path, H_CID1 ":" H_SECRET1 "\n", 0600);

    h.port = h_free_port();
    snprintf(conf, sizeof(conf),
             "listen = 127.0.0.1:%d\nstate.dir = %s/state\ncustomers.file = %s/customers\n"
             "tls.cert = %s/cert.pem\ntls.key = %s/key.pem\n",
             h.port, h.dir, h.dir, h.dir, h.dir);
    write_file(h.conf_path, conf, 0644);
    h_spawn(&h);

    snprintf(url, sizeof(url), "https://127.0.0.1:%d", h.port);
    char cacert[400];
    snprintf(cacert, sizeof(cacert), "%s/cert.pem", h.dir);
    bool up = false;
    for (int i = 0; i < 200 && !up; i++) {
        up = symtask("--cacert", cacert, "list", NULL) == 0;
        if (!up)
            sleep_ms(50);
    }
    cr_assert(up, "no answer over https: %s; see %s", r.err, h.log_path);
    cr_assert_eq(symtask("--insecure", "list", NULL), 0, "%s", r.err);

    /* The system's CAs do not know this certificate. */
    cr_assert_eq(symtask("list", NULL), 3);
    cr_assert_not_null(strstr(r.err, "certificate verification failed"), "%s", r.err);
    cr_assert_not_null(strstr(r.err, "--cacert"), "%s", r.err);
}

/* A fake server that answers one request with a canned response and keeps the request. */
typedef struct fake {
    int fd;
    int port;
    const char *answer;
    char request[8192];
} fake_t;

static void *fake_serve(void *arg)
{
    fake_t *f = arg;
    int conn = accept(f->fd, NULL, NULL);
    if (conn < 0)
        return NULL;
    size_t got = 0;
    for (;;) {
        ssize_t n = recv(conn, f->request + got, sizeof(f->request) - got - 1, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
        f->request[got] = '\0';
        char *end = strstr(f->request, "\r\n\r\n");
        char *cl = strcasestr(f->request, "\r\ncontent-length:");
        if (end != NULL && (cl == NULL || cl > end ||
                            got >= (size_t)(end + 4 - f->request) + strtoul(cl + 17, NULL, 10)))
            break;
    }
    send(conn, f->answer, strlen(f->answer), MSG_NOSIGNAL);
    close(conn);
    return NULL;
}

/* Listens on loopback (@family AF_INET or AF_INET6); false if that family is unavailable. */
static bool fake_start(fake_t *f, int family, const char *answer, pthread_t *thread)
{
    memset(f, 0, sizeof(*f));
    f->answer = answer;
    f->fd = socket(family, SOCK_STREAM, 0);
    if (f->fd < 0)
        return false;
    struct sockaddr_storage ss = {0};
    socklen_t len;
    if (family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        sin->sin_family = AF_INET;
        sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof(*sin);
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_addr = in6addr_loopback;
        len = sizeof(*sin6);
    }
    if (bind(f->fd, (struct sockaddr *)&ss, len) != 0 || listen(f->fd, 1) != 0 ||
        getsockname(f->fd, (struct sockaddr *)&ss, &len) != 0) {
        close(f->fd);
        return false;
    }
    f->port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                      : ((struct sockaddr_in6 *)&ss)->sin6_port);
    cr_assert(pthread_create(thread, NULL, fake_serve, f) == 0);
    return true;
}

static void fake_stop(fake_t *f, pthread_t thread)
{
    pthread_join(thread, NULL);
    close(f->fd);
}

/* Value of header @name in the kept request ("" if absent), into @out. */
static void fake_header(const fake_t *f, const char *name, char *out, size_t size)
{
    char needle[64];
    snprintf(needle, sizeof(needle), "\r\n%s:", name);
    const char *p = strcasestr(f->request, needle);
    out[0] = '\0';
    if (p == NULL)
        return;
    p += strlen(needle);
    while (*p == ' ')
        p++;
    snprintf(out, size, "%.*s", (int)strcspn(p, "\r"), p);
}

TestSuite(client_http, .timeout = 60);

Test(client_http, chunked_answer_and_signed_path_prefix)
{
    static const char answer[] =
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        "19\r\n{\"statusCode\":\"OK\",\"statu\r\n"
        "2C;ext=1\r\nsString\":\"1 task\",\"values\":{\"stringList\":{\"v\r\n"
        "11\r\nalues\":[\"t9\"]}}}\n\r\n"
        "0\r\n\r\n";
    fake_t f;
    pthread_t thread;
    cr_assert(fake_start(&f, AF_INET, answer, &thread));
    char url_arg[128];
    snprintf(url_arg, sizeof(url_arg), "--url=http://127.0.0.1:%d/pre/fix/", f.port);
    const char *args[] = {url_arg, "--cid", H_CID1, "--secret", H_SECRET1, "list", NULL};
    cr_assert_eq(run_client(NULL, NULL, args), 0, "%s", r.err);
    fake_stop(&f, thread);
    cr_assert_str_eq(r.out, "t9\n");

    cr_assert(strncmp(f.request, "GET /pre/fix/symetry/rest/c1/tasks HTTP/1.1\r\n", 45) == 0, "%s",
              f.request);
    char date[64], sig[64], md5[64], cid[64];
    fake_header(&f, "Sym-date", date, sizeof(date));
    fake_header(&f, "Authorization", sig, sizeof(sig));
    fake_header(&f, "Content-MD5", md5, sizeof(md5));
    fake_header(&f, "Customer-ID", cid, sizeof(cid));
    cr_assert_str_eq(cid, H_CID1);
    cr_assert_str_eq(md5, "");
    cr_assert_not_null(strcasestr(f.request, "\r\nConnection: close\r\n"));
    /* The signature covers the full path as sent, prefix included. */
    sign_parts_t parts = {
        .method = {"GET", 3},
        .content_md5 = {"", 0},
        .sym_date = {date, strlen(date)},
        .cid = {H_CID1, strlen(H_CID1)},
        .path = {"/pre/fix/symetry/rest/c1/tasks", strlen("/pre/fix/symetry/rest/c1/tasks")},
    };
    size_t key_len;
    uint8_t *key = crypto_b64_decode(H_SECRET1, strlen(H_SECRET1), &key_len);
    char want[SIGN_AUTHORIZATION_SIZE];
    cr_assert_eq(
        sign_authorization(&parts, (sign_str_t){H_SECRET1, strlen(H_SECRET1)}, key, key_len, want),
        0);
    free(key);
    cr_assert_str_eq(sig, want);
    cr_assert_null(strstr(f.request, H_SECRET1), "the secret itself is never sent");
}

Test(client_http, ipv6_and_an_error_answer_without_json)
{
    static const char answer[] = "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 11\r\n\r\n"
                                 "upstream ko";
    fake_t f;
    pthread_t thread;
    if (!fake_start(&f, AF_INET6, answer, &thread))
        cr_skip_test("no IPv6 loopback");
    char url_arg[128];
    snprintf(url_arg, sizeof(url_arg), "--url=http://[::1]:%d", f.port);
    const char *args[] = {url_arg, "--cid", H_CID1, "--secret", H_SECRET1, "status", "t1", NULL};
    cr_assert_eq(run_client(NULL, NULL, args), 1, "%s", r.err);
    fake_stop(&f, thread);
    cr_assert_not_null(strstr(r.err, "symtask: HTTP 502 BAD_GATEWAY: upstream ko"), "%s", r.err);
    char host[64];
    fake_header(&f, "Host", host, sizeof(host));
    char want[64];
    snprintf(want, sizeof(want), "[::1]:%d", f.port);
    cr_assert_str_eq(host, want);
}

Test(client_http, create_sends_the_sealed_form_by_default)
{
    static const char answer[] =
        "HTTP/1.1 202 Accepted\r\nContent-Length: 58\r\n\r\n"
        "{\"statusCode\":\"CREATED\",\"statusString\":\"made\",\"values\":{}}";
    fake_t f;
    pthread_t thread;
    cr_assert(fake_start(&f, AF_INET, answer, &thread));
    char url_arg[128];
    snprintf(url_arg, sizeof(url_arg), "--url=http://127.0.0.1:%d", f.port);
    const char *args[] = {url_arg, "--cid", H_CID1, "--secret", H_SECRET1, "create", "-", NULL};
    static const char json[] = "{\"type\":\"kstream\",\"name\":\"t1\",\"params\":{}}";
    cr_assert_eq(run_client(NULL, json, args), 0, "%s", r.err);
    fake_stop(&f, thread);
    cr_assert_str_eq(r.out, "made\n");
    cr_assert(strncmp(f.request, "POST /symetry/rest/c1/tasks/create HTTP/1.1\r\n", 45) == 0, "%s",
              f.request);
    const char *body = strstr(f.request, "\r\n\r\n") + 4;
    cr_assert(strncmp(body, "sym1.", 5) == 0, "the body is not the sealed form: %s", body);
    char md5[64], want_md5[25], type[64];
    fake_header(&f, "Content-MD5", md5, sizeof(md5));
    crypto_md5_b64(body, strlen(body), want_md5);
    cr_assert_str_eq(md5, want_md5);
    fake_header(&f, "Content-Type", type, sizeof(type));
    cr_assert_str_eq(type, "text/plain");
    const uint8_t *key = (const uint8_t *)"0123456789abcdef";
    size_t len;
    char *plain = crypto_sealed_decrypt(key, H_CID1, body, strlen(body), &len);
    cr_assert_not_null(plain, "the body does not open for c1: %s", body);
    cr_assert_eq(len, strlen(json));
    cr_assert_str_eq(plain, json);
    free(plain);
    /* Bound to the customer: the same key with another customer id does not open it. */
    cr_assert_null(crypto_sealed_decrypt(key, H_CID2, body, strlen(body), &len));
}

Test(client_http, create_legacy_sends_the_symetryml_form_signed_with_its_md5)
{
    static const char answer[] =
        "HTTP/1.1 202 Accepted\r\nContent-Length: 58\r\n\r\n"
        "{\"statusCode\":\"CREATED\",\"statusString\":\"made\",\"values\":{}}";
    fake_t f;
    pthread_t thread;
    cr_assert(fake_start(&f, AF_INET, answer, &thread));
    char url_arg[128];
    snprintf(url_arg, sizeof(url_arg), "--url=http://127.0.0.1:%d", f.port);
    const char *args[] = {url_arg,  "--cid", H_CID1,    "--secret", H_SECRET1,
                          "create", "-",     "--force", "--legacy", NULL};
    static const char json[] = "{\"type\":\"kstream\",\"name\":\"t1\",\"params\":{}}";
    cr_assert_eq(run_client(NULL, json, args), 0, "%s", r.err);
    fake_stop(&f, thread);
    cr_assert_str_eq(r.out, "made\n");
    cr_assert(
        strncmp(f.request, "POST /symetry/rest/c1/tasks/create?force=true HTTP/1.1\r\n", 56) == 0,
        "%s", f.request);
    const char *body = strstr(f.request, "\r\n\r\n") + 4;
    char md5[64], want_md5[25], type[64];
    fake_header(&f, "Content-MD5", md5, sizeof(md5));
    crypto_md5_b64(body, strlen(body), want_md5);
    cr_assert_str_eq(md5, want_md5);
    fake_header(&f, "Content-Type", type, sizeof(type));
    cr_assert_str_eq(type, "text/plain");
    size_t len;
    char *plain =
        crypto_legacy_decrypt((const uint8_t *)"0123456789abcdef", body, strlen(body), &len);
    cr_assert_not_null(plain, "the body is not the legacy form: %s", body);
    cr_assert_str_eq(plain, json);
    free(plain);
}

/* ---- create --properties: tasks of SymetryML's Kafka stream application -------------------- */

TestSuite(client_properties, .init = setup, .fini = teardown, .timeout = 180);

#define SCHEDULE_NOTE                                                                              \
    "note: sml.kstream.schedule.ms is not set: symtask waits at most 20 ms for a batch to fill, "  \
    "where the original waited 5000 ms between batches; set it to keep the original's pace\n"
#define AUTO_COMMIT_WARNING                                                                        \
    "warning: enable.auto.commit: no effect here: symtask commits offsets itself once a batch's "  \
    "records are delivered, or in a transaction with sml.kstream.guarantee = exactly_once; left "  \
    "out of the task (delete the line)\n"

/* Copies examples/tasks/@example into the harness dir with the values of the keys of
 * @overrides ({key, value} pairs, ended by NULL) replaced, each key asserted to be on a line
 * of its own in the example. Returns the copy's path (static). */
static const char *example_copy(const char *example, const char *const *overrides)
{
    static char path[400];
    char src[512], line[1024];
    snprintf(src, sizeof(src), "%s/examples/tasks/%s", getenv("SYMTASK_SOURCE_ROOT"), example);
    snprintf(path, sizeof(path), "%s/%s", h.dir, example);
    FILE *in = fopen(src, "r"), *out = fopen(path, "w");
    cr_assert(in != NULL && out != NULL, "%s", src);
    bool found[16] = {false};
    while (fgets(line, sizeof(line), in) != NULL) {
        bool replaced = false;
        for (size_t i = 0; overrides[i] != NULL; i += 2) {
            size_t n = strlen(overrides[i]);
            if (strncmp(line, overrides[i], n) == 0 && strncmp(line + n, " = ", 3) == 0) {
                fprintf(out, "%s = %s\n", overrides[i], overrides[i + 1]);
                found[i / 2] = replaced = true;
            }
        }
        if (!replaced)
            fputs(line, out);
    }
    fclose(in);
    fclose(out);
    for (size_t i = 0; overrides[i] != NULL; i += 2)
        cr_assert(found[i / 2], "%s has no line %s = ...", example, overrides[i]);
    return path;
}

/* Asserts that README.md shows examples/tasks/@example as it is, and the lines of @said. */
static void expect_in_readme(const char *example, const char *said)
{
    char path[512];
    size_t len;
    snprintf(path, sizeof(path), "%s/README.md", getenv("SYMTASK_SOURCE_ROOT"));
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    static char readme[1 << 20], file[8192];
    len = fread(readme, 1, sizeof(readme) - 1, f);
    readme[len] = '\0';
    fclose(f);
    snprintf(path, sizeof(path), "%s/examples/tasks/%s", getenv("SYMTASK_SOURCE_ROOT"), example);
    f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    len = fread(file, 1, sizeof(file) - 1, f);
    file[len] = '\0';
    fclose(f);
    cr_expect_not_null(strstr(readme, file), "README.md does not show %s as it is", example);
    /* each line of it, indented as a code block */
    for (const char *line = said; *line != '\0';) {
        size_t n = strcspn(line, "\n");
        char indented[1024];
        snprintf(indented, sizeof(indented), "    %.*s\n", (int)n, line);
        cr_expect_not_null(strstr(readme, indented),
                           "README.md does not show what the client says: %s", indented);
        line += n + (line[n] == '\n');
    }
}

/* The records of examples/data/customers.jsonl, keyed by their customer; returns how many. */
static size_t example_customers(char *keys[32], char *values[32])
{
    char path[512], line[1024];
    snprintf(path, sizeof(path), "%s/examples/data/customers.jsonl", getenv("SYMTASK_SOURCE_ROOT"));
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    size_t n = 0;
    while (n < 32 && fgets(line, sizeof(line), f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        json_t *j = json_loads(line, 0, NULL);
        cr_assert_not_null(j, "%s", line);
        keys[n] = strdup(json_string_value(json_object_get(j, "customer")));
        values[n++] = strdup(line);
        json_decref(j);
    }
    fclose(f);
    return n;
}

static void free_all(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
}

/* Produces the example customers to "customers", starts @tid and reads its predictions from
 * "churn-predictions" into @out (as many as the customers: asserted). */
static size_t run_example_task(const char *tid, kt_record_t *out, size_t cap)
{
    char *keys[32], *values[32];
    size_t n = example_customers(keys, values);
    kt_produce(&h, "customers", n, (const char *const *)keys, (const char *const *)values, NULL);
    free_all(keys, n);
    free_all(values, n);
    cr_assert_eq(symtask("start", tid, NULL), 0, "%s", r.err);
    cr_assert(wait_task_status(tid, "running", 20000), "see %s", h.log_path);
    size_t got = kt_consume(&h, "churn-predictions", n, out, cap, 60000);
    cr_assert_eq(got, n, "%zu predictions for %zu customers; see %s", got, n, h.log_path);
    return got;
}

Test(client_properties, the_embedded_model_file_of_the_readme_end_to_end)
{
    char model[512];
    snprintf(model, sizeof(model), "%s/examples/models/churn-logistic.json",
             getenv("SYMTASK_SOURCE_ROOT"));
    const char *overrides[] = {"sml.kstream.model.b64file", model, "bootstrap.servers",
                               kt_bootstrap(&h), NULL};
    const char *file = example_copy("churn.properties", overrides);
    cr_assert_eq(symtask("create", "--properties", file, NULL), 0, "%s", r.err);
    cr_expect_str_eq(r.out, "task [churn] created for customer [c1]\n");
    char want[2048];
    snprintf(want, sizeof(want),
             "symtask: %s:13: " AUTO_COMMIT_WARNING "symtask: %s: " SCHEDULE_NOTE, file, file);
    cr_expect_str_eq(r.err, want);
    snprintf(want, sizeof(want),
             "symtask: examples/tasks/churn.properties:13: " AUTO_COMMIT_WARNING
             "symtask: examples/tasks/churn.properties: " SCHEDULE_NOTE);
    expect_in_readme("churn.properties", want);

    kt_record_t out[32];
    size_t n = run_example_task("churn", out, 32);
    bool saw = false;
    for (size_t i = 0; i < n; i++) {
        json_t *j = json_loads(out[i].value, 0, NULL);
        cr_assert_not_null(j, "%s", out[i].value);
        cr_expect_str_eq(json_string_value(json_object_get(j, "customer")), out[i].key);
        double p = json_real_value(json_object_get(j, "probability"));
        json_int_t prediction = json_integer_value(json_object_get(j, "prediction"));
        cr_expect(p > 0 && p < 1 && prediction == (p >= 0.5), "%s", out[i].value);
        if (strcmp(out[i].key, "C1000") == 0) {
            /* 1/(1+e^-z), z = -2.2 - 0.045*42 + 0.028*114.79 + 0.62*3 - 0.9*2 */
            cr_expect_float_eq(p, 0.306638920730655, 1e-12, "%s", out[i].value);
            saw = true;
        }
        json_decref(j);
    }
    cr_expect(saw, "no prediction for C1000");
    kt_records_free(out, n);

    /* Once more: a conflict, unless --force (in the legacy form this time). */
    cr_assert_eq(symtask("create", "--properties", file, NULL), 1);
    cr_expect_not_null(strstr(r.err, "symtask: HTTP 409 CONFLICT: "), "%s", r.err);
    cr_assert_eq(symtask("create", "--properties", file, "--force", "--legacy", NULL), 0, "%s",
                 r.err);
}

/* The SymetryML server of the REST file: the test model server, knowing the file's user. */
static ms_t *start_model_server(void)
{
    char path[400];
    snprintf(path, sizeof(path), "%s/sml-customers", h.dir);
    write_file(path, "acme:c3ltbWV0cnltbC1rZXkxMg==\n", 0600);
    ms_config_t cfg = {.customers = path};
    ms_t *ms = ms_start(&cfg);
    cr_assert_not_null(ms);
    return ms;
}

Test(client_properties, the_rest_mode_file_of_the_readme_end_to_end)
{
    char plugin[512];
    snprintf(plugin, sizeof(plugin), "%s/symetryml.so", getenv("SYMTASK_PLUGIN_DIR"));
    if (access(plugin, R_OK) != 0)
        cr_skip_test("the symetryml plugin is not built (libcurl missing): %s", plugin);
    ms_t *ms = start_model_server();
    /* The model server predicts project p1's model m1: res = the sum of a row's numbers,
     * label = its strings. */
    const char *overrides[] = {"sml.kstream.rest.host",
                               ms_url(ms),
                               "sml.kstream.project.id",
                               "p1",
                               "sml.kstream.model.id",
                               "m1",
                               "bootstrap.servers",
                               kt_bootstrap(&h),
                               NULL};
    const char *file = example_copy("churn-rest.properties", overrides);
    cr_assert_eq(symtask("create", "--properties", file, "--legacy", NULL), 0, "%s", r.err);
    cr_expect_str_eq(r.out, "task [churn-rest] created for customer [c1]\n");
    char want[2048];
    snprintf(want, sizeof(want), "symtask: %s:15: " AUTO_COMMIT_WARNING, file);
    cr_expect_str_eq(r.err, want);
    expect_in_readme("churn-rest.properties",
                     "symtask: examples/tasks/churn-rest.properties:15: " AUTO_COMMIT_WARNING);

    kt_record_t out[32];
    size_t n = run_example_task("churn-rest", out, 32);
    for (size_t i = 0; i < n; i++) {
        json_t *j = json_loads(out[i].value, 0, NULL);
        cr_assert_not_null(j, "%s", out[i].value);
        double sum = json_number_value(json_object_get(j, "tenure_months")) +
                     json_number_value(json_object_get(j, "monthly_charges")) +
                     json_number_value(json_object_get(j, "support_calls")) +
                     json_number_value(json_object_get(j, "contract_years"));
        cr_expect_float_eq(json_number_value(json_object_get(j, "res")), sum, 1e-9, "%s",
                           out[i].value);
        cr_expect_str_eq(json_string_value(json_object_get(j, "label")), out[i].key);
        json_decref(j);
    }
    kt_records_free(out, n);
    json_t *st = h_status(&h, "churn-rest");
    cr_expect_str_eq(h_get(st, "predictor"), "symetryml");
    json_decref(st);
    cr_expect_eq(ms_stats(ms).bad_signatures, 0, "%s", ms_stats(ms).last_error);
    cr_expect_geq(ms_stats(ms).predictions, n);
    cr_expect(!h_log_contains(&h, "c3ltbWV0cnltbC1rZXkxMg=="), "the secret is in %s", h.log_path);
    ms_stop(ms);
}

Test(client_properties, dry_run_prints_the_taskinfo_masked_and_needs_no_server)
{
    const char *overrides[] = {"bootstrap.servers", "k1:9092", NULL};
    const char *file = example_copy("churn-rest.properties", overrides);
    const char *args[] = {"create", "--dry-run", "--properties", file, NULL};
    cr_assert_eq(run_client(NULL, NULL, args), 0, "%s", r.err);
    json_t *j = json_loads(r.out, 0, NULL);
    cr_assert_not_null(j, "%s", r.out);
    json_t *params = json_object_get(j, "params");
    cr_expect_str_eq(json_string_value(json_object_get(j, "name")), "churn-rest");
    cr_expect_str_eq(json_string_value(json_object_get(params, "sml.kstream.rest.secret")),
                     "********");
    cr_expect_str_eq(json_string_value(json_object_get(params, "sml.kstream.rest.user")), "acme");
    cr_expect_str_eq(json_string_value(json_object_get(params, "bootstrap.servers")), "k1:9092");
    cr_expect_null(json_object_get(params, "enable.auto.commit"), "left out");
    cr_expect_eq(json_object_size(params), 12);
    json_decref(j);
    cr_expect_null(strstr(r.out, "c3ltbWV0"), "%s", r.out);
    cr_expect_not_null(strstr(r.err, AUTO_COMMIT_WARNING), "%s", r.err);

    /* --name, and a TaskInfo file's dry run. */
    const char *named[] = {"create", "--properties", file, "--name", "t9", "--dry-run", NULL};
    cr_assert_eq(run_client(NULL, NULL, named), 0, "%s", r.err);
    cr_expect_not_null(strstr(r.out, "\"name\": \"t9\""), "%s", r.out);
    char path[400];
    snprintf(path, sizeof(path), "%s/secret.json", h.dir);
    write_file(
        path,
        "{\"type\":\"kstream\",\"name\":\"s\",\"params\":{\"sml.kstream.source.topic\":\"a\","
        "\"sml.kstream.sink.topic\":\"b\",\"sml.predictor\":\"linear\","
        "\"sasl.password\":\"hunter2\"}}",
        0600);
    const char *json_run[] = {"create", path, "--dry-run", NULL};
    cr_assert_eq(run_client(NULL, NULL, json_run), 0, "%s", r.err);
    cr_expect_not_null(strstr(r.out, "\"sasl.password\": \"********\""), "%s", r.out);
    cr_expect_null(strstr(r.out, "hunter2"), "%s", r.out);
    cr_assert_eq(symtask("list", NULL), 0);
    cr_expect_str_eq(r.out, "", "a dry run sends nothing");
}

Test(client_properties, what_the_daemon_would_refuse_is_refused_before_sending)
{
    char path[400], want[4096];
    snprintf(path, sizeof(path), "%s/bad.properties", h.dir);
    write_file(path,
               "sml.kstream.source.topic = in\n"
               "sml.kstream.sink.topic = out\n"
               "sml.kstream.app.id = bad task\n"
               "sml.kstream.schedule.ms = soon\n"
               "sml.predictor = linear\n"
               "sml.kstream.model.b64file = /models/m.json\n"
               "default.value.serde = io.confluent.kafka.streams.serdes.avro.GenericAvroSerde\n"
               "processing.guarantee = exactly_once\n",
               0644);
    cr_assert_eq(symtask("create", "--properties", path, NULL), 2);
    snprintf(want, sizeof(want),
             "symtask: %s:3: note: task id 'bad-task', made from sml.kstream.app.id 'bad task' "
             "(ids are 1 to 128 of A-Z a-z 0-9 . _ -); --name TID chooses another, the consumer "
             "group stays sml.kstream.app.id\n"
             "symtask: %s:4: sml.kstream.schedule.ms: 'soon' is not a whole number from 0 to "
             "3600000\n"
             "symtask: %s:7: warning: default.value.serde: no effect here: the record format is "
             "chosen by sml.serializer: json, csv or avro; left out of the task (delete the "
             "line)\n"
             "symtask: %s:8: processing.guarantee: No such configuration property: "
             "\"processing.guarantee\" (a setting of Kafka Streams; symtask's is "
             "sml.kstream.guarantee, at_least_once or exactly_once)\n"
             "symtask: %s: 2 errors: nothing sent\n",
             path, path, path, path, path);
    cr_expect_str_eq(r.err, want);
    cr_expect_str_eq(r.out, "");
    cr_assert_eq(symtask("list", NULL), 0);
    cr_expect_str_eq(r.out, "");

    /* A syntax error names its line. */
    write_file(path, "sml.kstream.source.topic = in\nsml.kstream.sink.topic = caf\\u00g9\n", 0644);
    cr_assert_eq(symtask("create", "--properties", path, NULL), 2);
    snprintf(want, sizeof(want),
             "symtask: %s:2: malformed \\uXXXX escape: \\u must be followed by 4 hex digits\n",
             path);
    cr_expect_str_eq(r.err, want);
    cr_assert_eq(symtask("create", "--properties", "/nonexistent.properties", NULL), 2);
    cr_expect_str_eq(r.err, "symtask: cannot read /nonexistent.properties: No such file or "
                            "directory\n");
}

Test(client_properties, what_only_the_daemon_can_check_is_left_to_it)
{
    /* The model file is the daemon's to read: the client says nothing of it, the daemon's
     * check at create refuses it. */
    char path[400];
    snprintf(path, sizeof(path), "%s/m.properties", h.dir);
    write_file(path,
               "sml.kstream.source.topic = in\nsml.kstream.sink.topic = out\n"
               "sml.kstream.app.id = m\nsml.kstream.schedule.ms = 20\nsml.predictor = linear\n"
               "sml.kstream.model.b64file = /nonexistent/churn.json\n",
               0644);
    cr_assert_eq(symtask("create", "--properties", path, NULL), 1);
    cr_expect_str_eq(r.err, "symtask: HTTP 400 BAD_REQUEST: invalid TaskInfo: "
                            "params.sml.kstream.model.b64file: '/nonexistent/churn.json' names "
                            "no file\n");

    /* An export the client cannot look at (here: sent as a TaskInfo) is the predictor's
     * "not JSON" (docs/plugins.md, SymetryML migration). */
    char model[400], json[1024];
    snprintf(model, sizeof(model), "%s/churn.b64", h.dir);
    write_file(model, "UEsDBBQAAAAIAGZ2o1gAAAAAAAAAAAAAAAAJAAAAbW9kZWwu\n", 0644);
    snprintf(path, sizeof(path), "%s/export.json", h.dir);
    snprintf(json, sizeof(json),
             "{\"type\":\"kstream\",\"name\":\"e\",\"params\":{\"sml.kstream.source.topic\":"
             "\"in\",\"sml.kstream.sink.topic\":\"out\",\"sml.predictor\":\"linear\","
             "\"sml.kstream.model.b64file\":\"%s\"}}",
             model);
    write_file(path, json, 0644);
    cr_assert_eq(symtask("create", path, NULL), 1);
    char want[1024];
    snprintf(want, sizeof(want),
             "symtask: HTTP 400 BAD_REQUEST: invalid TaskInfo: sml.predictor linear: "
             "params.sml.kstream.model.b64file: model file %s is not valid JSON",
             model);
    cr_expect(strncmp(r.err, want, strlen(want)) == 0, "%s", r.err);
    /* The same file through --properties: the client knows it. */
    snprintf(path, sizeof(path), "%s/export.properties", h.dir);
    snprintf(json, sizeof(json),
             "sml.kstream.source.topic = in\nsml.kstream.sink.topic = out\n"
             "sml.kstream.app.id = e\nsml.kstream.schedule.ms = 20\n"
             "sml.kstream.model.b64file = %s\n",
             model);
    write_file(path, json, 0644);
    cr_assert_eq(symtask("create", "--properties", path, NULL), 2);
    snprintf(want, sizeof(want),
             "symtask: %s:5: sml.kstream.model.b64file: the file holds a model exported from a "
             "SymetryML server (a Base64 string), whose format is not published, so symtask "
             "cannot evaluate it: predict through the SymetryML server instead",
             path);
    cr_expect(strncmp(r.err, want, strlen(want)) == 0, "%s", r.err);
}

Test(client_properties, stdin_and_usage_errors)
{
    char url_env[128], model[512], text[1024];
    snprintf(url_env, sizeof(url_env), "SYMTASK_URL=%s", url);
    snprintf(model, sizeof(model), "%s/examples/models/churn-logistic.json",
             getenv("SYMTASK_SOURCE_ROOT"));
    snprintf(text, sizeof(text),
             "sml.kstream.source.topic = in\nsml.kstream.sink.topic = out\n"
             "sml.kstream.schedule.ms = 20\nsml.predictor = linear\n"
             "sml.kstream.model.b64file = %s\n",
             model);
    const char *env[] = {url_env, "SYMTASK_CID=" H_CID1, "SYMTASK_SECRET=" H_SECRET1, NULL};
    const char *from_stdin[] = {"create", "--properties", "-", "--name", "s1", NULL};
    cr_assert_eq(run_client(env, text, from_stdin), 0, "%s", r.err);
    cr_expect_str_eq(r.err, "");
    const char *no_name[] = {"create", "--properties", "-", NULL};
    cr_assert_eq(run_client(env, text, no_name), 2);
    cr_expect_str_eq(r.err, "symtask: <stdin>: no task id: give one with --name TID, or set "
                            "sml.kstream.app.id\nsymtask: <stdin>: 1 error: nothing sent\n");
    cr_assert_eq(symtask("list", NULL), 0);
    cr_expect_str_eq(r.out, "s1\n");

    const char *name_alone[] = {"create", "x.json", "--name", "t", NULL};
    cr_assert_eq(run_client(NULL, NULL, name_alone), 2);
    cr_expect_not_null(strstr(r.err, "--name applies to create --properties only"), "%s", r.err);
    const char *operand[] = {"create", "--properties", "a.properties", "b", NULL};
    cr_assert_eq(run_client(NULL, NULL, operand), 2);
    cr_expect_not_null(strstr(r.err, "create --properties FILE takes no other operand"), "%s",
                       r.err);
    const char *dry_start[] = {"start", "t", "--dry-run", NULL};
    cr_assert_eq(run_client(NULL, NULL, dry_start), 2);
    cr_expect_not_null(strstr(r.err, "--dry-run applies to create only"), "%s", r.err);
    const char *props_list[] = {"list", "--properties", "a.properties", NULL};
    cr_assert_eq(run_client(NULL, NULL, props_list), 2);
    cr_expect_not_null(strstr(r.err, "--properties applies to create only"), "%s", r.err);

    /* A properties file given as a TaskInfo: the way to read it is said. */
    char path[400];
    snprintf(path, sizeof(path), "%s/task.properties", h.dir);
    write_file(path, text, 0644);
    cr_assert_eq(symtask("create", path, NULL), 2);
    cr_expect_not_null(strstr(r.err, "(a properties file of SymetryML's Kafka stream "
                                     "application is read with create --properties FILE)"),
                       "%s", r.err);
}

/* ---- pause, resume, offsets, restart of many, watch (docs/operations.md) ----------------- */

Test(client, create_start_pause_resume_and_restart_of_many)
{
    cr_assert_eq(symtask("create", "--start", taskinfo_file("t1"), NULL), 0, "%s", r.err);
    cr_assert_str_eq(r.out, "task [t1] created for customer [c1] and starting\n");
    cr_assert(wait_task_status("t1", "running", 20000), "see %s", h.log_path);
    cr_assert_eq(symtask("pause", "t1", NULL), 0, "%s", r.err);
    cr_assert_str_eq(r.out, "task [t1] is pausing\n");
    cr_assert(wait_task_status("t1", "paused", 20000), "see %s", h.log_path);
    cr_assert_eq(symtask("resume", "t1", NULL), 0, "%s", r.err);
    cr_assert_str_eq(r.out, "task [t1] is resuming\n");
    cr_assert(wait_task_status("t1", "running", 20000));
    cr_assert_eq(symtask("restart", "--failed", NULL), 0, "%s", r.err);
    cr_assert_str_eq(r.out, "0 failed tasks restarted\n");
    cr_assert_eq(symtask("restart", "--all", NULL), 0, "%s", r.err);
    cr_assert_str_eq(r.out, "1 task restarted\n");
    cr_assert(wait_task_status("t1", "running", 20000));
    cr_assert_eq(symtask("stop", "t1", NULL), 0, "%s", r.err);
    cr_assert(wait_task_status("t1", "stopped", 20000));
    cr_assert_eq(symtask("pause", "t1", NULL), 1);
    cr_assert_str_eq(r.err, "symtask: HTTP 409 CONFLICT: task [t1] is stopped: only a started "
                            "task can be paused; start it first\n");
    /* usage */
    cr_assert_eq(symtask("pause", NULL), 2);
    cr_assert_eq(symtask("restart", "t1", "--all", NULL), 2);
    cr_assert_not_null(strstr(r.err, "restart --all takes no TID"), "%s", r.err);
    cr_assert_eq(symtask("status", "t1", "--reset", "earliest", NULL), 2);
    cr_assert_not_null(strstr(r.err, "--reset applies to offsets only"), "%s", r.err);
    cr_assert_eq(symtask("start", "t1", "--start", NULL), 2);
    cr_assert_eq(symtask("list", "--count", "2", NULL), 2);
}

Test(client, offsets_lists_and_resets)
{
    cr_assert_eq(symtask("create", "--start", taskinfo_file("t1"), NULL), 0, "%s", r.err);
    cr_assert(wait_task_status("t1", "running", 20000), "see %s", h.log_path);
    cr_assert_eq(symtask("offsets", "t1", "--reset", "earliest", NULL), 1);
    cr_assert_not_null(strstr(r.err, "HTTP 409 CONFLICT: task [t1] is running"), "%s", r.err);
    cr_assert_eq(symtask("stop", "t1", NULL), 0, "%s", r.err);
    cr_assert(wait_task_status("t1", "stopped", 20000));

    cr_assert_eq(symtask("offsets", "t1", NULL), 0, "%s", r.err);
    cr_assert(strncmp(r.out, "task [t1] has 4 partitions on topic [in-t1]; lag 0\n", 51) == 0, "%s",
              r.out);
    cr_assert_not_null(strstr(r.out, "PARTITION      COMMITTED      LOG-START        LOG-END"),
                       "%s", r.out);
    cr_assert_eq(symtask("offsets", "t1", "--reset", "latest", NULL), 0, "%s", r.err);
    cr_assert_not_null(strstr(r.out, "offsets of task [t1] reset on 4 partitions of topic"), "%s",
                       r.out);
    cr_assert_not_null(strstr(r.out, "PREVIOUS"), "%s", r.out);
    cr_assert_eq(symtask("offsets", "t1", "--reset", "0=0,1=0", NULL), 0, "%s", r.err);
    cr_assert_not_null(strstr(r.out, "reset on 2 partitions"), "%s", r.out);
    cr_assert_eq(symtask("offsets", "t1", "--reset", "timestamp=0", NULL), 0, "%s", r.err);
    cr_assert_eq(symtask("--json", "offsets", "t1", "--reset", "earliest", NULL), 0, "%s", r.err);
    json_t *j = out_json();
    cr_assert_eq(json_array_size(json_object_get(
                     json_object_get(json_object_get(j, "values"), "offsets"), "partitions")),
                 4);
    json_decref(j);
    /* refused before sending */
    cr_assert_eq(symtask("offsets", "t1", "--reset", "middle", NULL), 2);
    cr_assert_not_null(strstr(r.err, "--reset middle: expected earliest, latest, timestamp=MS or "
                                     "PARTITION=OFFSET"),
                       "%s", r.err);
    cr_assert_eq(symtask("offsets", "t1", "--reset", "timestamp=soon", NULL), 2);
    cr_assert_eq(symtask("offsets", "t1", "--reset", "0=1,", NULL), 2);
    /* refused by the server */
    cr_assert_eq(symtask("offsets", "t1", "--reset", "9=0", NULL), 1);
    cr_assert_not_null(strstr(r.err, "HTTP 400 BAD_REQUEST: the offsets of task [t1] were not "
                                     "reset: to.partitions: partition 9 is not a partition"),
                       "%s", r.err);
    cr_assert_eq(symtask("offsets", "nope", NULL), 1);
    cr_assert_not_null(strstr(r.err, "HTTP 404 NOT_FOUND"), "%s", r.err);
}

Test(client, watch_prints_plain_lines_when_stdout_is_not_a_terminal)
{
    cr_assert_eq(symtask("create", "--start", taskinfo_file("t1"), NULL), 0, "%s", r.err);
    cr_assert_eq(symtask("create", taskinfo_file("t2"), NULL), 0, "%s", r.err);
    cr_assert(wait_task_status("t1", "running", 20000), "see %s", h.log_path);
    cr_assert_eq(symtask("watch", "--count", "2", NULL), 0, "%s", r.err);
    /* two refreshes of two tasks; rates are known from the second on */
    char *lines[8] = {0};
    int n = 0;
    for (char *save, *line = strtok_r(r.out, "\n", &save); line != NULL && n < 8;
         line = strtok_r(NULL, "\n", &save))
        lines[n++] = line;
    cr_assert_eq(n, 4, "%d lines", n);
    cr_assert_not_null(strstr(lines[0], "Z t1 status=running in/s=- out/s=- lag="), "%s", lines[0]);
    cr_assert_not_null(strstr(lines[1], "Z t2 status=stopped in/s=- out/s=- lag=0 deadLetters=0 "
                                        "lastError=\"\""),
                       "%s", lines[1]);
    cr_assert_not_null(strstr(lines[2], "Z t1 status=running in/s=0.0 out/s=0.0 "), "%s", lines[2]);
    cr_assert(strlen(lines[0]) > 20 && lines[0][4] == '-' && lines[0][10] == 'T', "%s", lines[0]);

    cr_assert_eq(symtask("watch", "t2", "--count", "1", NULL), 0, "%s", r.err);
    cr_assert_not_null(strstr(r.out, " t2 status=stopped "), "%s", r.out);
    cr_assert_null(strstr(r.out, " t1 "), "%s", r.out);
    cr_assert_eq(symtask("watch", "nope", "--count", "1", NULL), 1);
    cr_assert_not_null(strstr(r.err, "HTTP 404: task [nope] does not exist"), "%s", r.err);
    cr_assert_eq(symtask("watch", "--count", "0", NULL), 2);
}

/* Runs `symtask watch` on a pseudo-terminal, waits for its table, then types @keys; returns
 * the exit status and what it drew in @out. */
static int watch_on_pty(const char *keys, char *out, size_t size)
{
    char url_env[128];
    snprintf(url_env, sizeof(url_env), "SYMTASK_URL=%s", url);
    int master;
    struct winsize ws = {.ws_row = 24, .ws_col = 100};
    pid_t parent = getpid();
    pid_t pid = forkpty(&master, NULL, NULL, &ws);
    cr_assert(pid >= 0);
    if (pid == 0) {
        h_die_with_parent(parent);
        const char *argv[] = {"symtask", "watch", NULL};
        const char *envp[] = {"PATH=/usr/bin:/bin",        url_env,      "SYMTASK_CID=" H_CID1,
                              "SYMTASK_SECRET=" H_SECRET1, "TERM=xterm", NULL};
        execve(getenv("SYMTASK"), (char *const *)argv, (char *const *)envp);
        _exit(127);
    }
    size_t got = 0;
    bool typed = false, hung_up = false;
    int wstatus = 0;
    out[0] = '\0';
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec > 20)
            break;
        /* once the child closed its side, the master only hangs up: wait for the exit */
        if (!hung_up) {
            struct pollfd pfd = {.fd = master, .events = POLLIN};
            if (poll(&pfd, 1, 50) > 0) {
                ssize_t n = read(master, out + got, size - got - 1);
                if (n > 0)
                    got += (size_t)n;
                else
                    hung_up = true;
                out[got] = '\0';
            }
        } else {
            sleep_ms(50);
        }
        if (!typed && strstr(out, "LAST ERROR") != NULL && strstr(out, "t1") != NULL) {
            cr_assert(write(master, keys, strlen(keys)) == (ssize_t)strlen(keys));
            typed = true;
        }
        if (typed && waitpid(pid, &wstatus, WNOHANG) == pid) {
            /* what it wrote last */
            struct pollfd pfd2 = {.fd = master, .events = POLLIN};
            while (!hung_up && poll(&pfd2, 1, 100) > 0) {
                ssize_t n = read(master, out + got, size - got - 1);
                if (n <= 0)
                    break;
                got += (size_t)n;
            }
            out[got] = '\0';
            close(master);
            return WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
        }
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    close(master);
    cr_assert_fail("watch did not %s within 20 s; it drew: %s", typed ? "end" : "draw", out);
    return -1;
}

Test(client, watch_on_a_terminal_draws_and_quits_on_q_or_ctrl_c)
{
    cr_assert_eq(symtask("create", "--start", taskinfo_file("t1"), NULL), 0, "%s", r.err);
    cr_assert(wait_task_status("t1", "running", 20000), "see %s", h.log_path);
    static char out[65536];
    cr_assert_eq(watch_on_pty("q", out, sizeof(out)), 0, "%s", out);
    cr_assert_not_null(strstr(out, "\x1b[?1049h"), "no alternate screen: %s", out);
    cr_assert_not_null(strstr(out, "symtask watch  c1 at http://127.0.0.1:"), "%s", out);
    cr_assert_not_null(strstr(out, "running"), "%s", out);
    /* the terminal is given back: cursor shown, the shell's screen restored, at the end */
    const char *leave = strstr(out, "\x1b[?25h\x1b[?1049l");
    cr_assert_not_null(leave, "the screen was not restored: %s", out);
    cr_assert_null(strstr(leave + 1, "TASK"), "drawn after the end");
    /* Ctrl-C: the pty's line discipline turns it into SIGINT */
    cr_assert_eq(watch_on_pty("\x03", out, sizeof(out)), 0, "%s", out);
    cr_assert_not_null(strstr(out, "\x1b[?25h\x1b[?1049l"), "not restored after Ctrl-C: %s", out);
}
