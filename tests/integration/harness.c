/* harness.c: runs the real symtaskd for integration tests and signs requests to it. */
#include "harness.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "crypto.h"
#include "sign.h"

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int h_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    cr_assert(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    cr_assert(getsockname(fd, (struct sockaddr *)&sa, &len) == 0);
    close(fd);
    return ntohs(sa.sin_port);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    cr_assert(fd >= 0, "cannot write %s: %s", path, strerror(errno));
    cr_assert(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    fchmod(fd, mode);
    close(fd);
}

void h_die_with_parent(pid_t parent)
{
    /* The signal is armed from here on; a parent that ended before is seen in getppid(). */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
        _exit(127);
}

/* The guardian, in the child forked by h_make_dir. It reads from @fd the process group of
 * the running daemon (a pid_t; 0 once it is reaped) until end of file, which comes when the
 * test process closes its end (h_teardown) or ends, however it ends. Then it kills that
 * group and removes @dir, unless @keep. Forked from a process with threads (criterion's),
 * it calls only async-signal-safe functions up to the exec of rm. */
__attribute__((noreturn)) static void h_guard(int fd, const char *dir, bool keep)
{
    pid_t group = 0, msg;
    for (;;) {
        ssize_t n = read(fd, &msg, sizeof(msg));
        if (n == (ssize_t)sizeof(msg))
            group = msg;
        else if (n < 0 && errno == EINTR)
            continue;
        else
            break;
    }
    if (group > 0) {
        kill(-group, SIGKILL);
        /* Once it is gone (or a zombie) nothing of it writes into the dir any more. */
        for (int i = 0; i < 200 && h_pid_alive(group); i++)
            sleep_ms(50);
    }
    if (keep)
        _exit(0);
    execl("/bin/rm", "rm", "-rf", "--", dir, (char *)NULL);
    _exit(127);
}

static void h_tell_guardian(harness_t *h, pid_t group)
{
    cr_assert(send(h->guardian_fd, &group, sizeof(group), MSG_NOSIGNAL) == (ssize_t)sizeof(group),
              "cannot reach the guardian of %s: %s", h->dir, strerror(errno));
}

void h_make_dir(harness_t *h)
{
    cr_assert(h->pid == 0 && h->guardian == 0,
              "this harness is in use (daemon %d, dir %s): h_teardown it first", (int)h->pid,
              h->dir);
    memset(h, 0, sizeof(*h));
    snprintf(h->dir, sizeof(h->dir), "/tmp/symtask-it-XXXXXX");
    cr_assert(mkdtemp(h->dir) != NULL);
    snprintf(h->conf_path, sizeof(h->conf_path), "%s/symtaskd.conf", h->dir);
    snprintf(h->log_path, sizeof(h->log_path), "%s/daemon.log", h->dir);

    int fds[2];
    bool keep = getenv("SYMTASK_KEEP_TEST_DIRS") != NULL;
    /* Messages keep their bounds; close-on-exec, so that no program the test starts holds
     * the test's end open after the test ends. */
    cr_assert(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) == 0);
    pid_t guardian = fork();
    cr_assert(guardian >= 0);
    if (guardian == 0) {
        close(fds[1]);
        if (dup2(fds[0], 0) < 0)
            _exit(127);
        close_range(3, ~0U, 0);
        h_guard(0, h->dir, keep);
    }
    close(fds[0]);
    h->guardian = guardian;
    h->guardian_fd = fds[1];

    /* scripts/check-leftovers finds the dirs of its run by this file. */
    const char *run = getenv("SYMTASK_TEST_RUN");
    if (run != NULL) {
        char path[400], text[300];
        snprintf(path, sizeof(path), "%s/test-run", h->dir);
        snprintf(text, sizeof(text), "%s\n", run);
        write_file(path, text, 0644);
    }
}

/* The model every h_taskinfo() task predicts with, written by h_setup(). */
static char h_model_path[300];

/* Links every .so of @from into @to. */
static void link_plugins(const char *from, const char *to)
{
    DIR *d = opendir(from);
    cr_assert_not_null(d, "cannot read plugin dir %s", from);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len < 4 || strcmp(de->d_name + len - 3, ".so") != 0)
            continue;
        char src[600], dst[600];
        snprintf(src, sizeof(src), "%s/%s", from, de->d_name);
        snprintf(dst, sizeof(dst), "%s/%s", to, de->d_name);
        cr_assert_eq(symlink(src, dst), 0, "symlink %s: %s", dst, strerror(errno));
    }
    closedir(d);
}

static void setup(harness_t *h, const char *extra_conf, const char *const *plugin_dirs)
{
    h_make_dir(h);
    h->port = h_free_port();

    char path[400], conf[4096], plugins[440] = "";
    if (plugin_dirs != NULL) {
        snprintf(path, sizeof(path), "%s/plugins", h->dir);
        cr_assert_eq(mkdir(path, 0755), 0, "mkdir %s", path);
        for (size_t i = 0; plugin_dirs[i] != NULL; i++)
            link_plugins(plugin_dirs[i], path);
        snprintf(plugins, sizeof(plugins), "plugin.dir = %s\n", path);
    }
    snprintf(path, sizeof(path), "%s/customers", h->dir);
    write_file(path, H_CID1 ":" H_SECRET1 "\n" H_CID2 ":" H_SECRET2 "\n", 0600);
    snprintf(h_model_path, sizeof(h_model_path), "%s/model.json", h->dir);
    write_file(h_model_path, H_MODEL_JSON, 0644);
    snprintf(conf, sizeof(conf),
             "listen = 127.0.0.1:%d\n"
             "state.dir = %s/state\n"
             "customers.file = %s/customers\n"
             "kafka.embedded = true\n"
             "task.stop_timeout_ms = 5000\n"
             "log.level = debug\n"
             "%s%s\n",
             h->port, h->dir, h->dir, plugins, extra_conf ? extra_conf : "");
    write_file(h->conf_path, conf, 0644);
    h_start(h);
}

void h_setup(harness_t *h, const char *extra_conf)
{
    setup(h, extra_conf, NULL);
}

void h_setup_plugins(harness_t *h, const char *const *plugin_dirs, const char *extra_conf)
{
    setup(h, extra_conf, plugin_dirs);
}

void h_spawn(harness_t *h)
{
    const char *daemon = getenv("SYMTASKD");
    cr_assert(daemon != NULL, "SYMTASKD (path of symtaskd) must be set");
    cr_assert(h->guardian != 0, "no test dir: h_make_dir first");
    cr_assert(h->pid == 0, "symtaskd %d still runs: h_stop it first", (int)h->pid);
    pid_t parent = getpid();
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        h_die_with_parent(parent);
        setpgid(0, 0);
        int fd = open(h->log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(fd, 2);
        dup2(fd, 1);
        execl(daemon, "symtaskd", "-c", h->conf_path, (char *)NULL);
        _exit(127);
    }
    /* Made by whichever of the two calls comes first: the group exists from here on. */
    setpgid(pid, pid);
    h->pid = pid;
    h_tell_guardian(h, pid);
}

/* Whether the daemon exited within @timeout_ms. It is left a zombie: until it is reaped,
 * its pid, and so its process group's id, cannot name another process. */
static bool h_exited(harness_t *h, int timeout_ms)
{
    for (int waited = 0;; waited += 50) {
        siginfo_t si = {0};
        if (waitid(P_PID, (id_t)h->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
            si.si_pid == h->pid)
            return true;
        if (waited >= timeout_ms)
            return false;
        sleep_ms(50);
    }
}

/* Kills what is left of the daemon's process group (the daemon too, if it still runs) and
 * reaps it; returns its wait status. */
static int h_reap(harness_t *h)
{
    int wstatus = -1;
    kill(-h->pid, SIGKILL);
    h_tell_guardian(h, 0);
    waitpid(h->pid, &wstatus, 0);
    h->pid = 0;
    return wstatus;
}

void h_start(harness_t *h)
{
    h_spawn(h);
    for (int i = 0; i < 200; i++) {
        if (h_exited(h, 0)) {
            int wstatus = h_reap(h);
            cr_assert_fail("symtaskd exited at start (status %d); see %s", wstatus, h->log_path);
        }
        h_response_t r =
            h_raw(h, "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 0);
        int status = r.status;
        h_response_free(&r);
        if (status == 200)
            return;
        sleep_ms(50);
    }
    cr_assert_fail("symtaskd does not serve on port %d within 10 s; see %s", h->port, h->log_path);
}

int h_run(harness_t *h)
{
    h_spawn(h);
    bool exited = h_exited(h, 30000);
    int wstatus = h_reap(h);
    cr_assert(exited, "symtaskd did not exit within 30 s; see %s", h->log_path);
    return wstatus;
}

int h_stop(harness_t *h, int sig)
{
    if (h->pid == 0)
        return -1;
    kill(h->pid, sig);
    bool exited = h_exited(h, 30000);
    int wstatus = h_reap(h);
    cr_assert(exited, "symtaskd did not exit within 30 s of signal %d", sig);
    return wstatus;
}

void h_teardown(harness_t *h)
{
    if (h->pid != 0)
        h_stop(h, SIGTERM);
    if (h->guardian == 0)
        return;
    /* The end of file tells the guardian to remove the dir; wait for it to be done. */
    close(h->guardian_fd);
    int wstatus;
    for (int i = 0; i < 600 && waitpid(h->guardian, &wstatus, WNOHANG) == 0; i++)
        sleep_ms(50);
    h->guardian = 0;
}

h_response_t h_raw(harness_t *h, const char *request, size_t len)
{
    h_response_t r = {.status = -1};
    if (len == 0)
        len = strlen(request);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)h->port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    /* beyond the daemon's own bounds: an offsets call may take its 10 s Kafka budget and
     * more (core/api.c kills that worker after 30 s), and its answer must still be read */
    struct timeval tv = {40, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        r.body = strdup("");
        return r;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t n = send(fd, request + off, len - off, MSG_NOSIGNAL);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    size_t cap = 65536, got = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (got + 1 == cap)
            buf = realloc(buf, cap *= 2);
        ssize_t n = recv(fd, buf + got, cap - got - 1, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    char *head_end = strstr(buf, "\r\n\r\n");
    if (sscanf(buf, "HTTP/1.%*d %d", &r.status) != 1 || head_end == NULL) {
        r.status = -1;
        r.body = buf;
        return r;
    }
    size_t head_len = (size_t)(head_end - buf);
    snprintf(r.headers, sizeof(r.headers), "%.*s", (int)head_len, buf);
    r.body = strdup(head_end + 4);
    free(buf);
    r.json = json_loads(r.body, 0, NULL);
    return r;
}

h_response_t h_request(harness_t *h, const char *method, const char *path, const char *body,
                       const char *cid, const char *secret_b64)
{
    size_t body_len = body ? strlen(body) : 0;
    /* every request signs anew: the daemon refuses a signature it saw before */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char raw_path[2048];
    snprintf(raw_path, sizeof(raw_path), "%s", path);
    char *q = strchr(raw_path, '?');
    const char *query = NULL;
    if (q != NULL) {
        *q = '\0';
        query = q + 1;
    }
    size_t key_len;
    uint8_t *key = crypto_b64_decode(secret_b64, strlen(secret_b64), &key_len);
    sign_headers_t sh;
    cr_assert_eq(sign_request(method, raw_path, query, body, body_len, cid, secret_b64, key,
                              key_len, &ts, &sh),
                 0);
    free(key);
    const char *md5 = sh.content_md5, *date = sh.sym_date, *sig = sh.authorization;

    size_t cap = body_len + 4096;
    char *req = malloc(cap);
    int n = snprintf(req, cap,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                     "Authorization: %s\r\nSym-date: %s\r\nCustomer-ID: %s\r\n"
                     "Content-MD5: %s\r\nContent-Length: %zu\r\n\r\n",
                     method, path, sig, date, cid, md5, body_len);
    memcpy(req + n, body ? body : "", body_len);
    h_response_t r = h_raw(h, req, (size_t)n + body_len);
    free(req);
    return r;
}

h_response_t h_req(harness_t *h, const char *method, const char *path, const char *body)
{
    return h_request(h, method, path, body, H_CID1, H_SECRET1);
}

void h_response_free(h_response_t *r)
{
    free(r->body);
    json_decref(r->json);
    r->body = NULL;
    r->json = NULL;
}

char *h_seal(const char *json, const char *secret_b64)
{
    size_t key_len;
    uint8_t *key = crypto_b64_decode(secret_b64, strlen(secret_b64), &key_len);
    char *sealed = crypto_legacy_encrypt(key, json, strlen(json));
    free(key);
    return sealed;
}

char *h_taskinfo_params(const char *tid, const char *params, const char *secret_b64)
{
    char json[16384];
    bool more = params != NULL && params[0] != '\0';
    snprintf(json, sizeof(json),
             "{\"type\":\"kstream\",\"name\":\"%s\",\"params\":{"
             "\"sml.kstream.source.topic\":\"in-%s\",\"sml.kstream.sink.topic\":\"out-%s\"%s%s}}",
             tid, tid, tid, more ? "," : "", more ? params : "");
    return h_seal(json, secret_b64);
}

char *h_taskinfo(const char *tid, const char *extra_params, const char *secret_b64)
{
    char params[8192];
    snprintf(params, sizeof(params),
             "\"sml.predictor\":\"linear\",\"sml.predictor.model\":\"%s\"%s%s", h_model_path,
             extra_params ? "," : "", extra_params ? extra_params : "");
    return h_taskinfo_params(tid, params, secret_b64);
}

void h_create_task(harness_t *h, const char *tid, const char *extra_params)
{
    char *body = h_taskinfo(tid, extra_params, H_SECRET1);
    h_response_t r = h_req(h, "POST", "/symetry/rest/" H_CID1 "/tasks/create", body);
    free(body);
    cr_assert_eq(r.status, 202, "create %s: %d %s", tid, r.status, r.body);
    cr_assert_str_eq(h_status_code(&r), "CREATED");
    h_response_free(&r);
}

void h_start_task(harness_t *h, const char *tid)
{
    char path[512];
    snprintf(path, sizeof(path), "/symetry/rest/" H_CID1 "/tasks/%s/start", tid);
    h_response_t r = h_req(h, "GET", path, NULL);
    cr_assert_eq(r.status, 200, "start %s: %d %s", tid, r.status, r.body);
    h_response_free(&r);
    cr_assert(h_wait_status(h, tid, "status", "running", 30000), "task %s never ran; see %s", tid,
              h->log_path);
}

const char *h_status_code(const h_response_t *r)
{
    const char *s = json_string_value(json_object_get(r->json, "statusCode"));
    return s ? s : "";
}

const char *h_status_string(const h_response_t *r)
{
    const char *s = json_string_value(json_object_get(r->json, "statusString"));
    return s ? s : "";
}

json_t *h_status(harness_t *h, const char *tid)
{
    char path[512];
    snprintf(path, sizeof(path), "/symetry/rest/" H_CID1 "/tasks/%s", tid);
    h_response_t r = h_req(h, "GET", path, NULL);
    json_t *map = NULL;
    if (r.status == 200)
        map = json_incref(json_array_get(
            json_object_get(json_object_get(json_object_get(r.json, "values"), "KSVSMap"),
                            "values"),
            0));
    h_response_free(&r);
    return map;
}

const char *h_get(json_t *status, const char *key)
{
    const char *v = json_string_value(json_object_get(status, key));
    return v ? v : "";
}

long h_status_number(harness_t *h, const char *tid, const char *key)
{
    json_t *st = h_status(h, tid);
    long v = atol(h_get(st, key));
    json_decref(st);
    return v;
}

bool h_wait_number(harness_t *h, const char *tid, const char *key, long n, int timeout_ms)
{
    for (int waited = 0; waited < timeout_ms; waited += 100) {
        if (h_status_number(h, tid, key) >= n)
            return true;
        sleep_ms(100);
    }
    return false;
}

pid_t h_task_pid(harness_t *h, const char *tid)
{
    json_t *st = h_status(h, tid);
    pid_t pid = (pid_t)atoi(h_get(st, "pid"));
    json_decref(st);
    return pid;
}

bool h_wait_status(harness_t *h, const char *tid, const char *key, const char *value,
                   int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 50) {
        json_t *st = h_status(h, tid);
        bool met = st != NULL && strcmp(h_get(st, key), value) == 0;
        json_decref(st);
        if (met)
            return true;
        sleep_ms(50);
    }
    return false;
}

bool h_log_contains(harness_t *h, const char *needle)
{
    FILE *f = fopen(h->log_path, "r");
    if (f == NULL)
        return false;
    char line[8192];
    bool found = false;
    while (!found && fgets(line, sizeof(line), f) != NULL)
        found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

bool h_pid_alive(pid_t pid)
{
    /* Async-signal-safe (no stdio, no malloc): the guardian calls it after fork. */
    char path[32], buf[512];
    size_t at = sizeof(path) - sizeof("/stat");
    memcpy(path + at, "/stat", sizeof("/stat"));
    for (unsigned v = (unsigned)pid; v > 0 || at == sizeof(path) - sizeof("/stat"); v /= 10)
        path[--at] = (char)('0' + v % 10);
    at -= sizeof("/proc/") - 1;
    memcpy(path + at, "/proc/", sizeof("/proc/") - 1);
    int fd = open(path + at, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    char *paren = strrchr(buf, ')');
    return paren != NULL && paren[1] == ' ' && paren[2] != 'Z' && paren[2] != 'X';
}
