/* test_store.c: unit tests of core/store.c (atomic task files, loading, corruption, the key
 * file and encryption at rest). */
#include <criterion/criterion.h>

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"
#include "taskinfo.h"

static char root_dir[64];
static char state_dir[128];
static char errstr[2048];
static store_t *store;

/* What the visitor saw, copied out of the call. */
typedef struct seen {
    char cid[129];
    char tid[129];
    json_t *taskinfo;
    bool desired_running;
    bool desired_paused;
    char *last_error;
    json_t *poison;
    time_t created;
    time_t updated;
} seen_t;

typedef struct visit {
    seen_t tasks[300];
    size_t count;
    int stop_at; /* return 7 at this visit (1-based); 0 never */
} visit_t;

static visit_t visit;

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    chmod(path, 0700);
    return remove(path);
}

static void setup(void)
{
    snprintf(root_dir, sizeof(root_dir), "/tmp/symtask-store-XXXXXX");
    cr_assert_not_null(mkdtemp(root_dir));
    snprintf(state_dir, sizeof(state_dir), "%s/state", root_dir);
    store = store_open(state_dir, errstr, sizeof(errstr));
    cr_assert_not_null(store, "%s", errstr);
    memset(&visit, 0, sizeof(visit));
}

static void clear_visit(void)
{
    size_t i;

    for (i = 0; i < visit.count; i++) {
        json_decref(visit.tasks[i].taskinfo);
        json_decref(visit.tasks[i].poison);
        free(visit.tasks[i].last_error);
    }
    memset(&visit, 0, sizeof(visit));
}

static void teardown(void)
{
    clear_visit();
    store_close(store);
    nftw(root_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(store, .init = setup, .fini = teardown);

static int collect(const stored_task_t *task, void *arg)
{
    visit_t *v = arg;
    seen_t *s = &v->tasks[v->count++];

    snprintf(s->cid, sizeof(s->cid), "%s", task->cid);
    snprintf(s->tid, sizeof(s->tid), "%s", task->tid);
    s->taskinfo = json_incref(task->taskinfo);
    s->desired_running = task->desired_running;
    s->desired_paused = task->desired_paused;
    s->last_error = task->last_error ? strdup(task->last_error) : NULL;
    s->poison = task->poison ? json_deep_copy(task->poison) : NULL;
    s->created = task->created;
    s->updated = task->updated;
    return (int)v->count == v->stop_at ? 7 : 0;
}

static int load(void)
{
    clear_visit();
    return store_load_all(store, collect, &visit, errstr, sizeof(errstr));
}

/* A valid TaskInfo whose sasl.password is @password. */
static json_t *make_taskinfo_pw(const char *tid, const char *predictor, const char *password)
{
    char text[512];
    json_t *ti;

    snprintf(text, sizeof(text),
             "{\"type\":\"kstream\",\"name\":\"%s\",\"params\":{"
             "\"sml.kstream.source.topic\":\"in\",\"sml.kstream.sink.topic\":\"out\","
             "\"sml.predictor\":\"%s\",\"sasl.password\":\"%s\"}}",
             tid, predictor, password);
    ti = taskinfo_parse(text, strlen(text), errstr, sizeof(errstr));
    cr_assert_not_null(ti, "%s", errstr);
    return ti;
}

static json_t *make_taskinfo(const char *tid, const char *predictor)
{
    return make_taskinfo_pw(tid, predictor, "pw");
}

static void put_pw(const char *cid, const char *tid, bool running, const char *last_error, time_t t,
                   const char *password)
{
    stored_task_t task;

    memset(&task, 0, sizeof(task));
    snprintf(task.cid, sizeof(task.cid), "%s", cid);
    snprintf(task.tid, sizeof(task.tid), "%s", tid);
    task.taskinfo = make_taskinfo_pw(tid, "linear", password);
    task.desired_running = running;
    task.last_error = last_error;
    task.created = t;
    task.updated = t + 60;
    cr_assert_eq(store_put(store, &task, errstr, sizeof(errstr)), 0, "%s", errstr);
    json_decref(task.taskinfo);
}

static void put(const char *cid, const char *tid, bool running, const char *last_error, time_t t)
{
    put_pw(cid, tid, running, last_error, t, "pw");
}

static char *task_path(const char *cid, const char *tid, const char *suffix)
{
    static char path[512];

    snprintf(path, sizeof(path), "%s/tasks/%s/%s%s", state_dir, cid, tid, suffix);
    return path;
}

static char *dir_path(const char *cid)
{
    static char path[512];

    snprintf(path, sizeof(path), "%s/tasks/%s", state_dir, cid);
    return path;
}

static void write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "w");

    cr_assert_not_null(f, "%s", path);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf = calloc(1, 1 << 16);
    size_t n;

    cr_assert_not_null(f, "%s", path);
    n = fread(buf, 1, (1 << 16) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static bool exists(const char *path)
{
    struct stat st;

    return lstat(path, &st) == 0;
}

static size_t count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t n = 0;

    cr_assert_not_null(d, "%s", dir);
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

/* A plaintext state file as earlier versions wrote it (format 1). */
static char *plain_text(const char *cid, const char *tid, const char *last_error,
                        const char *password)
{
    json_t *doc =
        json_pack("{s:i, s:s, s:s, s:o, s:s, s:s, s:s}", "format", 1, "cid", cid, "tid", tid,
                  "taskInfo", make_taskinfo_pw(tid, "linear", password), "desired", "running",
                  "created", "2026-11-28T13:55:08Z", "updated", "2026-11-28T13:56:08Z");
    char *text;

    cr_assert_not_null(doc);
    if (last_error != NULL)
        json_object_set_new(doc, "lastError", json_string(last_error));
    text = json_dumps(doc, JSON_INDENT(2));
    json_decref(doc);
    return text;
}

static void put_plain(const char *cid, const char *tid, const char *last_error,
                      const char *password)
{
    char *text = plain_text(cid, tid, last_error, password);

    mkdir(dir_path(cid), 0700);
    write_file(task_path(cid, tid, ".task"), text, strlen(text));
    free(text);
}

/* The state file c1/t1 (@plain: format 1, else as store_put writes it) whose one field is
 * replaced by @field = @json (NULL removes it). */
static char *edited(bool plain, const char *field, const char *json)
{
    json_t *doc, *value;
    char *text;

    if (plain) {
        text = plain_text("c1", "t1", NULL, "pw");
    } else {
        put("c1", "t1", true, NULL, 1000);
        text = read_text(task_path("c1", "t1", ".task"));
    }
    doc = json_loads(text, 0, NULL);
    free(text);
    cr_assert_not_null(doc);
    if (json == NULL) {
        json_object_del(doc, field);
    } else {
        value = json_loads(json, JSON_DECODE_ANY, NULL);
        cr_assert_not_null(value, "%s", json);
        json_object_set_new(doc, field, value);
    }
    text = json_dumps(doc, 0);
    json_decref(doc);
    return text;
}

static char *edited_file(const char *field, const char *json)
{
    return edited(false, field, json);
}

static void expect_corrupt(const char *data, size_t len, const char *reason)
{
    const char *path = task_path("c1", "t1", ".task");
    char needle[600];

    mkdir(dir_path("c1"), 0700);
    write_file(path, data, len);
    cr_expect_eq(load(), -1, "loaded %.*s", (int)len, data);
    snprintf(needle, sizeof(needle), "state file %s is corrupt: ", path);
    cr_expect(strstr(errstr, needle) != NULL, "'%s' lacks '%s'", errstr, needle);
    cr_expect(strstr(errstr, reason) != NULL, "'%s' lacks '%s'", errstr, reason);
    cr_expect(strstr(errstr, "; move it aside or restore it from a backup (symtaskd does not "
                             "start without it)") != NULL,
              "%s", errstr);
    cr_expect(exists(path), "the corrupt file was removed");
    cr_expect_eq(visit.count, 0);
}

static void expect_corrupt_field(const char *field, const char *json, const char *reason)
{
    char *text = edited_file(field, json);

    expect_corrupt(text, strlen(text), reason);
    free(text);
}

static void expect_corrupt_plain_field(const char *field, const char *json, const char *reason)
{
    char *text = edited(true, field, json);

    expect_corrupt(text, strlen(text), reason);
    free(text);
}

Test(store, open_creates_private_dirs)
{
    struct stat st;
    char path[256];

    cr_expect_str_eq(store_dir(store), state_dir);
    cr_assert_eq(stat(state_dir, &st), 0);
    cr_expect_eq(st.st_mode & 07777, 0700);
    snprintf(path, sizeof(path), "%s/tasks", state_dir);
    cr_assert_eq(stat(path, &st), 0);
    cr_expect_eq(st.st_mode & 07777, 0700);
    cr_expect_eq(load(), 0, "%s", errstr);
    cr_expect_eq(visit.count, 0);
}

Test(store, open_again_keeps_tasks)
{
    put("c1", "t1", true, NULL, 1000);
    store_close(store);
    store = store_open(state_dir, errstr, sizeof(errstr));
    cr_assert_not_null(store, "%s", errstr);
    cr_expect_eq(load(), 0, "%s", errstr);
    cr_expect_eq(visit.count, 1);
}

Test(store, open_refuses_a_file_or_missing_parent)
{
    char path[256];

    snprintf(path, sizeof(path), "%s/file", root_dir);
    write_file(path, "x", 1);
    cr_expect_null(store_open(path, errstr, sizeof(errstr)));
    cr_expect(strstr(errstr, path) != NULL, "%s", errstr);
    cr_expect(strstr(errstr, "Not a directory") != NULL, "%s", errstr);

    snprintf(path, sizeof(path), "%s/no/such/dir", root_dir);
    cr_expect_null(store_open(path, errstr, sizeof(errstr)));
    cr_expect(strstr(errstr, path) != NULL, "%s", errstr);
    cr_expect(strstr(errstr, "No such file or directory") != NULL, "%s", errstr);
}

Test(store, open_refuses_an_unwritable_dir)
{
    char path[256];

    /* root may write anywhere; the check can only be seen by another user. */
    if (geteuid() == 0) {
        teardown(); /* criterion does not run .fini for a skipped test */
        cr_skip_test("running as root: access() grants root write permission");
    }
    snprintf(path, sizeof(path), "%s/ro", root_dir);
    cr_assert_eq(mkdir(path, 0500), 0);
    cr_expect_null(store_open(path, errstr, sizeof(errstr)));
    cr_expect(strstr(errstr, path) != NULL, "%s", errstr);
}

Test(store, round_trip)
{
    const char *cids[] = {"zeta", "alpha", "c.1"};
    const char *tids[] = {"t2", "T1", "t-3"};
    time_t t = 1795874108; /* 2026-11-28T13:55:08Z */
    size_t i, j, k;
    char *text;

    for (i = 0; i < 3; i++)
        for (j = 0; j < 3; j++)
            put(cids[i], tids[j], (i + j) % 2 == 0, j == 1 ? "exit 3: model not found" : NULL,
                t + (time_t)(i * 10 + j));
    cr_assert_eq(load(), 0, "%s", errstr);
    cr_assert_eq(visit.count, 9);
    /* Sorted by customer, then task (byte order). */
    {
        const char *order_c[] = {"alpha", "c.1", "zeta"};
        const char *order_t[] = {"T1", "t-3", "t2"};
        for (k = 0; k < 9; k++) {
            cr_expect_str_eq(visit.tasks[k].cid, order_c[k / 3]);
            cr_expect_str_eq(visit.tasks[k].tid, order_t[k % 3]);
        }
    }
    for (k = 0; k < 9; k++) {
        seen_t *s = &visit.tasks[k];
        json_t *want = make_taskinfo(s->tid, "linear");
        for (i = 0; strcmp(cids[i], s->cid) != 0; i++)
            ;
        for (j = 0; strcmp(tids[j], s->tid) != 0; j++)
            ;
        cr_expect(json_equal(s->taskinfo, want), "taskinfo of %s/%s", s->cid, s->tid);
        cr_expect_eq(s->taskinfo->refcount, 1); /* ours only */
        cr_expect_eq(s->desired_running, (i + j) % 2 == 0);
        if (j == 1)
            cr_expect_str_eq(s->last_error, "exit 3: model not found");
        else
            cr_expect_null(s->last_error);
        cr_expect_eq(s->created, t + (time_t)(i * 10 + j));
        cr_expect_eq(s->updated, t + (time_t)(i * 10 + j) + 60);
        json_decref(want);
    }
    text = read_text(task_path("alpha", "T1", ".task"));
    cr_expect(strstr(text, "\"created\": \"2026-11-28T13:55:19Z\"") != NULL, "%s", text);
    cr_expect(strstr(text, "\"updated\": \"2026-11-28T13:56:19Z\"") != NULL, "%s", text);
    cr_expect(strstr(text, "\"format\": 2") != NULL, "%s", text);
    cr_expect(strstr(text, "\"sealedTaskInfo\": \"") != NULL, "%s", text);
    cr_expect_null(strstr(text, "taskInfo\":"), "%s", text);
    cr_expect_null(strstr(text, "lastError"), "%s", text);
    cr_expect(strstr(text, "\"desired\": \"running\"") != NULL, "%s", text);
    free(text);
}

/* The suspect records of a task (core/poison.c) are kept in clear beside the sealed part:
 * offsets and the daemon's words, no secret. */
Test(store, poison_round_trip_and_a_bad_one_is_corrupt)
{
    stored_task_t task;
    json_t *poison = json_loads("{\"topic\":\"in\",\"suspects\":[{\"partition\":1,\"from\":4,"
                                "\"to\":9,\"kills\":1}],\"quarantined\":[],"
                                "\"quarantinedTotal\":0}",
                                0, NULL);
    cr_assert_not_null(poison);
    memset(&task, 0, sizeof(task));
    snprintf(task.cid, sizeof(task.cid), "c1");
    snprintf(task.tid, sizeof(task.tid), "t1");
    task.taskinfo = make_taskinfo("t1", "linear");
    task.poison = poison;
    task.created = task.updated = 1000;
    cr_assert_eq(store_put(store, &task, errstr, sizeof(errstr)), 0, "%s", errstr);
    json_decref(task.taskinfo);
    char *text = read_text(task_path("c1", "t1", ".task"));
    cr_expect(strstr(text, "\"poison\"") != NULL && strstr(text, "\"kills\": 1") != NULL, "%s",
              text);
    free(text);
    cr_assert_eq(load(), 0, "%s", errstr);
    cr_assert_eq(visit.count, 1);
    cr_expect(json_equal(visit.tasks[0].poison, poison));
    json_decref(poison);
    /* a task without any has none */
    put("c1", "t2", false, NULL, 1000);
    cr_assert_eq(load(), 0, "%s", errstr);
    for (size_t i = 0; i < visit.count; i++)
        if (strcmp(visit.tasks[i].tid, "t2") == 0)
            cr_expect_null(visit.tasks[i].poison);
    unlink(task_path("c1", "t2", ".task"));
    expect_corrupt_field("poison", "[1]", "\"poison\" is not an object");
}

Test(store, many_tasks)
{
    char tid[16];
    int i;

    for (i = 0; i < 250; i++) {
        snprintf(tid, sizeof(tid), "t%03d", (i * 7) % 250);
        put("c1", tid, true, NULL, 1000);
    }
    cr_assert_eq(load(), 0, "%s", errstr);
    cr_assert_eq(visit.count, 250);
    for (i = 0; i < 250; i++) {
        snprintf(tid, sizeof(tid), "t%03d", i);
        cr_expect_str_eq(visit.tasks[i].tid, tid);
    }
}

Test(store, overwrite)
{
    put("c1", "t1", true, NULL, 1000);
    put("c1", "t1", false, "killed by signal 9 (heap max 2g exceeded)", 2000);
    cr_assert_eq(load(), 0, "%s", errstr);
    cr_assert_eq(visit.count, 1);
    cr_expect_not(visit.tasks[0].desired_running);
    cr_expect_str_eq(visit.tasks[0].last_error, "killed by signal 9 (heap max 2g exceeded)");
    cr_expect_eq(visit.tasks[0].created, 2000);
    cr_expect_eq(count_entries(dir_path("c1")), 1);
}

Test(store, last_error_not_utf8)
{
    put("c1", "t1", true, "bad \xff byte \n newline", 1000);
    cr_assert_eq(load(), 0, "%s", errstr);
    cr_expect_str_eq(visit.tasks[0].last_error, "bad ? byte \n newline");
}

Test(store, put_refuses_and_keeps_the_old_file)
{
    stored_task_t task;
    char *before, *after;

    put("c1", "t1", true, NULL, 1000);
    before = read_text(task_path("c1", "t1", ".task"));

    memset(&task, 0, sizeof(task));
    strcpy(task.cid, "c1");
    strcpy(task.tid, "t1");
    task.taskinfo = json_pack("{s:s, s:s, s:{}}", "type", "kstream", "name", "t1", "params");
    cr_expect_eq(store_put(store, &task, errstr, sizeof(errstr)), -1);
    cr_expect(strstr(errstr, "required key") != NULL, "%s", errstr);
    json_decref(task.taskinfo);

    task.taskinfo = make_taskinfo("other", "linear");
    cr_expect_eq(store_put(store, &task, errstr, sizeof(errstr)), -1);
    cr_expect(strstr(errstr, "name differs") != NULL, "%s", errstr);
    json_decref(task.taskinfo);

    task.taskinfo = make_taskinfo("t1", "linear");
    strcpy(task.cid, "..");
    cr_expect_eq(store_put(store, &task, errstr, sizeof(errstr)), -1);
    strcpy(task.cid, "c/1");
    cr_expect_eq(store_put(store, &task, errstr, sizeof(errstr)), -1);
    strcpy(task.cid, "c1");
    strcpy(task.tid, "");
    cr_expect_eq(store_put(store, &task, errstr, sizeof(errstr)), -1);
    json_decref(task.taskinfo);

    after = read_text(task_path("c1", "t1", ".task"));
    cr_expect_str_eq(after, before);
    cr_expect_eq(count_entries(dir_path("c1")), 1);
    cr_expect_eq(count_entries(dir_path("")), 1);
    free(before);
    free(after);
}

Test(store, put_keeps_the_old_file_when_the_write_fails)
{
    stored_task_t task;
    char *before, *after;

    put("c1", "t1", true, NULL, 1000);
    before = read_text(task_path("c1", "t1", ".task"));
    /* A directory where the temporary file goes makes the write fail. */
    cr_assert_eq(mkdir(task_path("c1", "t1", ".task.tmp"), 0700), 0);
    memset(&task, 0, sizeof(task));
    strcpy(task.cid, "c1");
    strcpy(task.tid, "t1");
    task.taskinfo = make_taskinfo("t1", "other");
    cr_expect_eq(store_put(store, &task, errstr, sizeof(errstr)), -1);
    cr_expect(strstr(errstr, task_path("c1", "t1", ".task.tmp")) != NULL, "%s", errstr);
    json_decref(task.taskinfo);
    after = read_text(task_path("c1", "t1", ".task"));
    cr_expect_str_eq(after, before);
    free(before);
    free(after);
}

Test(store, sensitive_modes)
{
    struct stat st;

    umask(0);
    put("c1", "t1", true, NULL, 1000);
    cr_assert_eq(stat(dir_path("c1"), &st), 0);
    cr_expect_eq(st.st_mode & 07777, 0700);
    cr_assert_eq(stat(task_path("c1", "t1", ".task"), &st), 0);
    cr_expect_eq(st.st_mode & 07777, 0600);
    umask(0277);
    put("c2", "t1", true, NULL, 1000);
    cr_assert_eq(stat(task_path("c2", "t1", ".task"), &st), 0);
    cr_expect_eq(st.st_mode & 07777, 0600);
    umask(022);
}

Test(store, delete)
{
    put("c1", "t1", true, NULL, 1000);
    put("c1", "t2", true, NULL, 1000);
    put("c2", "t1", true, NULL, 1000);
    cr_expect_eq(store_delete(store, "c1", "t1", errstr, sizeof(errstr)), 0, "%s", errstr);
    cr_expect_not(exists(task_path("c1", "t1", ".task")));
    cr_expect(exists(dir_path("c1")));
    cr_expect_eq(store_delete(store, "c1", "t2", errstr, sizeof(errstr)), 0, "%s", errstr);
    cr_expect_not(exists(dir_path("c1")), "the empty customer dir stays");
    /* Absent tasks and customers are not errors. */
    cr_expect_eq(store_delete(store, "c1", "t2", errstr, sizeof(errstr)), 0, "%s", errstr);
    cr_expect_eq(store_delete(store, "c9", "t9", errstr, sizeof(errstr)), 0, "%s", errstr);
    cr_expect_eq(store_delete(store, "c2", "t9", errstr, sizeof(errstr)), 0, "%s", errstr);
    cr_expect(exists(task_path("c2", "t1", ".task")));
    /* Ids are never paths. */
    cr_expect_eq(store_delete(store, "..", "t1", errstr, sizeof(errstr)), -1);
    cr_expect_eq(store_delete(store, "c2", "../c2/t1", errstr, sizeof(errstr)), -1);
    cr_expect(exists(task_path("c2", "t1", ".task")));
    cr_assert_eq(load(), 0, "%s", errstr);
    cr_assert_eq(visit.count, 1);
    cr_expect_str_eq(visit.tasks[0].cid, "c2");
}

Test(store, no_tmp_after_put_and_leftover_removed)
{
    char tmp[512];

    put("c1", "t1", true, NULL, 1000);
    cr_expect_eq(count_entries(dir_path("c1")), 1);
    cr_expect_not(exists(task_path("c1", "t1", ".task.tmp")));
    /* An interrupted write leaves a temporary file, whole or not. */
    snprintf(tmp, sizeof(tmp), "%s", task_path("c1", "t1", ".task.tmp"));
    write_file(tmp, "{\"format\":1,\"ci", 15);
    write_file(task_path("c1", "t2", ".task.tmp"), "", 0);
    cr_assert_eq(load(), 0, "%s", errstr);
    cr_expect_eq(visit.count, 1);
    cr_expect_not(exists(tmp));
    cr_expect_not(exists(task_path("c1", "t2", ".task.tmp")));
    cr_expect_eq(count_entries(dir_path("c1")), 1);
}

Test(store, visitor_stops_the_walk)
{
    put("c1", "t1", true, NULL, 1000);
    put("c1", "t2", true, NULL, 1000);
    put("c2", "t1", true, NULL, 1000);
    clear_visit();
    visit.stop_at = 2;
    cr_expect_eq(store_load_all(store, collect, &visit, errstr, sizeof(errstr)), 7);
    cr_expect_eq(visit.count, 2);
    cr_expect(strstr(errstr, task_path("c1", "t2", ".task")) != NULL, "%s", errstr);
}

Test(store, corrupt_truncated)
{
    char *text;
    size_t len;

    put("c1", "t1", true, NULL, 1000);
    text = read_text(task_path("c1", "t1", ".task"));
    len = strlen(text);
    expect_corrupt(text, len / 2, "not valid JSON");
    expect_corrupt(text, len - 3, "not valid JSON");
    free(text);
}

Test(store, corrupt_never_quotes_secrets)
{
    char *text, *cut;

    /* Only a plaintext file of an earlier version has the secret in clear to quote. */
    text = plain_text("c1", "t1", NULL, "pw");
    cut = strstr(text, "\"pw\"");
    cr_assert_not_null(cut, "%s", text);
    expect_corrupt(text, (size_t)(cut - text) + 3, "not valid JSON (premature end of input");
    cr_expect_null(strstr(errstr, "pw"), "%s", errstr);
    free(text);
}

Test(store, corrupt_garbage_and_empty)
{
    expect_corrupt("", 0, "not valid JSON");
    expect_corrupt("\xff\xfe\x00\x01garbage", 11, "not valid JSON");
    expect_corrupt("[]", 2, "not a JSON object");
    expect_corrupt("null", 4, "not valid JSON");
    expect_corrupt("{\"format\":1,\"format\":1}", 23, "not valid JSON (duplicate object key");
}

Test(store, corrupt_fields)
{
    expect_corrupt_field("format", "3", "\"format\" is not 1 or 2");
    expect_corrupt_field("format", "\"2\"", "\"format\" is not 1 or 2");
    expect_corrupt_field("format", NULL, "\"format\" is not 1 or 2");
    expect_corrupt_plain_field("format", "0", "\"format\" is not 1 or 2");
    expect_corrupt_field("cid", "\"c2\"", "\"cid\" does not match its directory c1");
    expect_corrupt_field("cid", "1", "\"cid\" does not match");
    expect_corrupt_field("tid", "\"t2\"", "\"tid\" does not match its file name t1");
    expect_corrupt_field("tid", NULL, "\"tid\" does not match");
    expect_corrupt_field("desired", "\"paused\"", "\"desired\" is not \"running\" or \"stopped\"");
    expect_corrupt_field("desired", "true", "\"desired\"");
    expect_corrupt_plain_field("lastError", "5", "\"lastError\" is not a string");
    expect_corrupt_field("created", "\"yesterday\"", "\"created\" is not a time");
    expect_corrupt_field("created", "\"2026-02-30T00:00:00Z\"", "\"created\" is not a time");
    expect_corrupt_field("updated", "\"2026-11-28 13:55:08\"", "\"updated\" is not a time");
    expect_corrupt_field("updated", "1795874108", "\"updated\" is not a time");
    expect_corrupt_plain_field("taskInfo", NULL,
                               "invalid taskInfo (TaskInfo: must be a JSON object)");
    expect_corrupt_plain_field(
        "taskInfo",
        "{\"type\":\"kstream\",\"name\":\"t1\",\"params\":{"
        "\"sml.kstream.source.topic\":\"in\",\"sml.kstream.sink.topic\":\"out\"}}",
        "invalid taskInfo (params: required key sml.predictor is missing)");
    expect_corrupt_plain_field(
        "taskInfo",
        "{\"type\":\"kstream\",\"name\":\"t9\",\"params\":{"
        "\"sml.kstream.source.topic\":\"in\",\"sml.kstream.sink.topic\":\"out\","
        "\"sml.predictor\":\"linear\"}}",
        "taskInfo name does not match its file name t1");
}

Test(store, normalised_taskinfo_on_load)
{
    char *text = edited(true, "taskInfo",
                        "{\"type\":\"kstream\",\"name\":\"t1\",\"old\":true,\"params\":{"
                        "\"sml.kstream.source.topic\":\"in\",\"sml.kstream.sink.topic\":"
                        "\"out\",\"sml.predictor\":\"linear\"}}");

    mkdir(dir_path("c1"), 0700);
    write_file(task_path("c1", "t1", ".task"), text, strlen(text));
    free(text);
    cr_assert_eq(load(), 0, "%s", errstr);
    cr_assert_eq(visit.count, 1);
    cr_expect_null(json_object_get(visit.tasks[0].taskinfo, "old"));
    cr_expect_eq(json_object_size(visit.tasks[0].taskinfo), 3);
}

Test(store, unexpected_entries)
{
    char path[512];

    put("c1", "t1", true, NULL, 1000);

    /* A file where customer directories live. */
    snprintf(path, sizeof(path), "%s/tasks/README", state_dir);
    write_file(path, "x", 1);
    cr_expect_eq(load(), -1);
    cr_expect(strstr(errstr, path) != NULL, "%s", errstr);
    cr_expect(exists(path));
    unlink(path);

    /* A symbolic link is not a customer directory either. */
    snprintf(path, sizeof(path), "%s/tasks/c0", state_dir);
    cr_assert_eq(symlink(dir_path("c1"), path), 0);
    cr_expect_eq(load(), -1);
    cr_expect(strstr(errstr, path) != NULL, "%s", errstr);
    unlink(path);

    /* A directory whose name is no customer id. */
    snprintf(path, sizeof(path), "%s/tasks/bad name", state_dir);
    cr_assert_eq(mkdir(path, 0700), 0);
    cr_expect_eq(load(), -1);
    cr_expect(strstr(errstr, path) != NULL, "%s", errstr);
    rmdir(path);

    /* A file that is not {tid}.task in a customer directory. */
    snprintf(path, sizeof(path), "%s", task_path("c1", "notes", ".txt"));
    write_file(path, "x", 1);
    cr_expect_eq(load(), -1);
    cr_expect(strstr(errstr, path) != NULL, "%s", errstr);
    cr_expect(exists(path));
    unlink(path);

    snprintf(path, sizeof(path), "%s", task_path("c1", "bad id", ".task"));
    write_file(path, "x", 1);
    cr_expect_eq(load(), -1);
    cr_expect(strstr(errstr, path) != NULL, "%s", errstr);
    unlink(path);

    snprintf(path, sizeof(path), "%s", task_path("c1", "", ".task"));
    write_file(path, "x", 1);
    cr_expect_eq(load(), -1);
    cr_expect(strstr(errstr, path) != NULL, "%s", errstr);
    unlink(path);

    cr_expect_eq(load(), 0, "%s", errstr);
    cr_expect_eq(visit.count, 1);
}

/* Tests run as root, so chmod 000 would not stop the read: a directory where the file is
 * expected makes it unreadable for anyone. */
Test(store, unreadable_file)
{
    char needle[600];

    cr_assert_eq(mkdir(dir_path("c1"), 0700), 0);
    cr_assert_eq(mkdir(task_path("c1", "t1", ".task"), 0700), 0);
    cr_expect_eq(load(), -1);
    snprintf(needle, sizeof(needle), "cannot read state file %s: Is a directory",
             task_path("c1", "t1", ".task"));
    cr_expect_str_eq(errstr, needle);
    cr_expect(exists(task_path("c1", "t1", ".task")));
}

Test(store, symlinked_state_file)
{
    char target[512];

    put("c1", "t1", true, NULL, 1000);
    snprintf(target, sizeof(target), "%s/elsewhere", root_dir);
    cr_assert_eq(rename(task_path("c1", "t1", ".task"), target), 0);
    cr_assert_eq(symlink(target, task_path("c1", "t1", ".task")), 0);
    cr_expect_eq(load(), -1);
    cr_expect(strstr(errstr, "cannot read state file") != NULL, "%s", errstr);
}

/* ---- key file and encryption at rest ---------------------------------------------------- */

static char *key_path(void)
{
    static char path[256];

    snprintf(path, sizeof(path), "%s/store.key", state_dir);
    return path;
}

static void read_key(unsigned char key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES])
{
    FILE *f = fopen(key_path(), "r");

    cr_assert_not_null(f);
    cr_assert_eq(fread(key, 1, crypto_aead_xchacha20poly1305_ietf_KEYBYTES, f),
                 crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
    fclose(f);
}

/* Reopens the store on the same state dir; returns whether that worked. */
static bool reopen(void)
{
    store_close(store);
    store = store_open(state_dir, errstr, sizeof(errstr));
    return store != NULL;
}

/* The sealedTaskInfo of @doc, decoded into @blob (nonce || ciphertext || tag). */
static size_t sealed_blob(json_t *doc, unsigned char *blob, size_t size)
{
    const char *b64 = json_string_value(json_object_get(doc, "sealedTaskInfo"));
    size_t len;

    cr_assert_not_null(b64);
    cr_assert_eq(sodium_base642bin(blob, size, b64, strlen(b64), NULL, &len, NULL,
                                   sodium_base64_VARIANT_ORIGINAL),
                 0);
    return len;
}

static void set_sealed_blob(json_t *doc, const unsigned char *blob, size_t len)
{
    char b64[8192];

    sodium_bin2base64(b64, sizeof(b64), blob, len, sodium_base64_VARIANT_ORIGINAL);
    json_object_set_new(doc, "sealedTaskInfo", json_string(b64));
}

/* Seals @plain for c1/t1 as the store does (see docs/security.md), with the key file. */
static char *sealed_file(const char *plain)
{
    unsigned char key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES], blob[4096];
    size_t len = strlen(plain);
    json_t *doc;
    char *text = edited_file("format", "2");

    doc = json_loads(text, 0, NULL);
    free(text);
    read_key(key);
    randombytes_buf(blob, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
    crypto_aead_xchacha20poly1305_ietf_encrypt(blob + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
                                               NULL, (const unsigned char *)plain, len,
                                               (const unsigned char *)"c1/t1", 5, NULL, blob, key);
    set_sealed_blob(doc, blob,
                    crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + len +
                        crypto_aead_xchacha20poly1305_ietf_ABYTES);
    text = json_dumps(doc, 0);
    json_decref(doc);
    return text;
}

static const char *marker;
static char marker_found[512];

static int find_marker(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    char *data;
    FILE *f;
    size_t n;

    if (flag != FTW_F)
        return 0;
    data = malloc((size_t)st->st_size + 1);
    f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    n = fread(data, 1, (size_t)st->st_size, f);
    fclose(f);
    if (memmem(data, n, marker, strlen(marker)) != NULL)
        snprintf(marker_found, sizeof(marker_found), "%s", path);
    free(data);
    return 0;
}

/* Whether @m appears in any byte of any file under the temp dir (state dir included). */
static bool marker_on_disk(const char *m)
{
    marker = m;
    marker_found[0] = '\0';
    cr_assert_eq(nftw(root_dir, find_marker, 16, FTW_PHYS), 0);
    return marker_found[0] != '\0';
}

Test(store, key_file_created_private)
{
    unsigned char key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES],
        again[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
    struct stat st;
    char other[256];
    store_t *second;

    cr_assert_eq(lstat(key_path(), &st), 0);
    cr_expect(S_ISREG(st.st_mode));
    cr_expect_eq(st.st_mode & 07777, 0600);
    cr_expect_eq(st.st_size, 32);
    read_key(key);
    cr_assert(reopen(), "%s", errstr);
    read_key(again);
    cr_expect_eq(memcmp(key, again, sizeof(key)), 0, "reopening made a new key");

    /* Any umask: the daemon can read its key, nobody else can. */
    snprintf(other, sizeof(other), "%s/other", root_dir);
    cr_assert_eq(mkdir(other, 0700), 0);
    snprintf(other, sizeof(other), "%s/other/tasks", root_dir);
    cr_assert_eq(mkdir(other, 0700), 0);
    snprintf(other, sizeof(other), "%s/other", root_dir);
    umask(0277);
    second = store_open(other, errstr, sizeof(errstr));
    umask(022);
    cr_assert_not_null(second, "%s", errstr);
    store_close(second);
    snprintf(other, sizeof(other), "%s/other/store.key", root_dir);
    cr_assert_eq(stat(other, &st), 0);
    cr_expect_eq(st.st_mode & 07777, 0600);
    cr_expect_eq(st.st_size, 32);
}

Test(store, key_file_refused_when_others_may_read_it)
{
    char want[1024];

    cr_assert_eq(chmod(key_path(), 0644), 0);
    cr_expect_not(reopen());
    snprintf(want, sizeof(want),
             "key file %s is readable by other users (mode 0644); run: chmod 600 %s", key_path(),
             key_path());
    cr_expect_str_eq(errstr, want);

    cr_assert_eq(chmod(key_path(), 0640), 0);
    cr_expect_not(reopen());
    cr_expect(strstr(errstr, "is readable by other users (mode 0640)") != NULL, "%s", errstr);

    cr_assert_eq(chmod(key_path(), 0602), 0);
    cr_expect_not(reopen());
    cr_expect(strstr(errstr, "is writable by other users (mode 0602)") != NULL, "%s", errstr);

    cr_assert_eq(chmod(key_path(), 0600), 0);
    cr_expect(reopen(), "%s", errstr);
}

Test(store, key_file_of_the_wrong_size_refused)
{
    unsigned char bytes[64] = {0};
    size_t sizes[] = {0, 31, 33, 64};
    char needle[300];
    size_t i;

    put("c1", "t1", true, NULL, 1000);
    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        write_file(key_path(), (const char *)bytes, sizes[i]);
        cr_expect_not(reopen(), "a key file of %zu bytes was taken", sizes[i]);
        snprintf(needle, sizeof(needle), "key file %s has ", key_path());
        cr_expect(strstr(errstr, needle) != NULL, "%s", errstr);
        cr_expect(strstr(errstr, "bytes, not 32") != NULL, "%s", errstr);
    }
    cr_assert_eq(unlink(key_path()), 0);
    cr_assert_eq(mkdir(key_path(), 0700), 0);
    cr_expect_not(reopen());
    cr_expect(strstr(errstr, key_path()) != NULL, "%s", errstr);
    rmdir(key_path());
}

Test(store, missing_key_with_encrypted_tasks_refused)
{
    put("c1", "t1", true, NULL, 1000);
    put("c2", "t1", true, NULL, 1000);
    cr_assert_eq(unlink(key_path()), 0);
    cr_expect_not(reopen());
    cr_expect(strstr(errstr, key_path()) != NULL, "%s", errstr);
    cr_expect(strstr(errstr, task_path("c1", "t1", ".task")) != NULL, "%s", errstr);
    cr_expect(strstr(errstr, "is missing") != NULL, "%s", errstr);
    cr_expect_not(exists(key_path()), "a new key was made for tasks sealed with the old one");

    /* Only a file the old key did not seal may stay: then a new key is made. */
    cr_assert_eq(unlink(task_path("c1", "t1", ".task")), 0);
    cr_assert_eq(unlink(task_path("c2", "t1", ".task")), 0);
    put_plain("c1", "t1", NULL, "pw");
    cr_expect(reopen(), "%s", errstr);
    cr_expect(exists(key_path()));
    cr_expect_eq(load(), 0, "%s", errstr);
    cr_expect_eq(visit.count, 1);
}

Test(store, round_trip_across_reopen)
{
    put_pw("c1", "t1", true, "exit 1: sasl failed", 1000, "s3cr3t");
    cr_assert(reopen(), "%s", errstr);
    cr_assert_eq(load(), 0, "%s", errstr);
    cr_assert_eq(visit.count, 1);
    cr_expect_str_eq(json_string_value(json_object_get(
                         json_object_get(visit.tasks[0].taskinfo, "params"), "sasl.password")),
                     "s3cr3t");
    cr_expect_str_eq(visit.tasks[0].last_error, "exit 1: sasl failed");
    cr_expect(visit.tasks[0].desired_running);
    cr_expect_eq(visit.tasks[0].created, 1000);
    cr_expect_eq(visit.tasks[0].updated, 1060);
}

Test(store, secrets_never_on_disk_in_clear)
{
    put_pw("c1", "t1", true, "plugin said: MARKER-lastError-77", 1000, "hunter2-MARKER");
    put_pw("c1", "t2", false, NULL, 1000, "hunter2-MARKER");
    put_pw("c1", "t2", true, "again MARKER-lastError-77", 2000, "hunter2-MARKER");
    put_plain("c2", "t1", "old MARKER-lastError-77", "hunter2-MARKER");
    cr_assert(marker_on_disk("hunter2-MARKER"), "the plaintext file holds it before migration");
    cr_assert_eq(load(), 0, "%s", errstr);
    cr_assert_eq(visit.count, 3);
    cr_expect_str_eq(visit.tasks[0].last_error, "plugin said: MARKER-lastError-77");
    cr_expect_not(marker_on_disk("hunter2-MARKER"), "found in %s", marker_found);
    cr_expect_not(marker_on_disk("MARKER-lastError-77"), "found in %s", marker_found);
    cr_expect_not(marker_on_disk("sasl.password"), "found in %s", marker_found);
}

Test(store, sealed_part_moved_to_another_task_refused)
{
    json_t *from, *to;
    char *text;

    put("c1", "t1", true, NULL, 1000);
    put("c1", "t2", true, NULL, 1000);
    put("c2", "t1", true, NULL, 1000);
    text = read_text(task_path("c1", "t1", ".task"));
    from = json_loads(text, 0, NULL);
    free(text);

    /* Into another customer's task of the same name: only the sealing can tell. */
    text = read_text(task_path("c2", "t1", ".task"));
    to = json_loads(text, 0, NULL);
    free(text);
    json_object_set(to, "sealedTaskInfo", json_object_get(from, "sealedTaskInfo"));
    text = json_dumps(to, 0);
    write_file(task_path("c2", "t1", ".task"), text, strlen(text));
    free(text);
    json_decref(to);
    cr_expect_eq(load(), -1);
    cr_expect(strstr(errstr, task_path("c2", "t1", ".task")) != NULL, "%s", errstr);
    cr_expect(strstr(errstr, "cannot be decrypted with store.key") != NULL, "%s", errstr);
    cr_assert_eq(unlink(task_path("c2", "t1", ".task")), 0);

    /* Into another task of the same customer. */
    text = read_text(task_path("c1", "t2", ".task"));
    to = json_loads(text, 0, NULL);
    free(text);
    json_object_set(to, "sealedTaskInfo", json_object_get(from, "sealedTaskInfo"));
    text = json_dumps(to, 0);
    write_file(task_path("c1", "t2", ".task"), text, strlen(text));
    free(text);
    json_decref(to);
    cr_expect_eq(load(), -1);
    cr_expect(strstr(errstr, task_path("c1", "t2", ".task")) != NULL, "%s", errstr);
    cr_expect(strstr(errstr, "cannot be decrypted with store.key") != NULL, "%s", errstr);
    cr_assert_eq(unlink(task_path("c1", "t2", ".task")), 0);

    /* The whole file under another customer, its clear cid edited to match. */
    json_object_set_new(from, "cid", json_string("c2"));
    text = json_dumps(from, 0);
    write_file(task_path("c2", "t1", ".task"), text, strlen(text));
    free(text);
    json_decref(from);
    cr_expect_eq(load(), -1);
    cr_expect(strstr(errstr, "cannot be decrypted with store.key") != NULL, "%s", errstr);
}

Test(store, bit_flip_refused)
{
    unsigned char blob[4096];
    size_t len, positions[3], i;
    char *text, *orig;
    json_t *doc;

    put("c1", "t1", true, "some error", 1000);
    orig = read_text(task_path("c1", "t1", ".task"));
    doc = json_loads(orig, 0, NULL);
    len = sealed_blob(doc, blob, sizeof(blob));
    positions[0] = 3;                                                /* nonce */
    positions[1] = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + 5; /* ciphertext */
    positions[2] = len - 1;                                          /* tag */
    for (i = 0; i < 3; i++) {
        blob[positions[i]] ^= 0x10;
        set_sealed_blob(doc, blob, len);
        blob[positions[i]] ^= 0x10;
        text = json_dumps(doc, 0);
        write_file(task_path("c1", "t1", ".task"), text, strlen(text));
        free(text);
        cr_expect_eq(load(), -1, "a flip at byte %zu was not seen", positions[i]);
        cr_expect(strstr(errstr, "cannot be decrypted with store.key") != NULL, "%s", errstr);
    }
    json_decref(doc);
    write_file(task_path("c1", "t1", ".task"), orig, strlen(orig));
    free(orig);
    cr_expect_eq(load(), 0, "%s", errstr);
}

Test(store, another_key_refused)
{
    unsigned char other[32];
    char needle[600];

    put("c1", "t1", true, NULL, 1000);
    randombytes_buf(other, sizeof(other));
    write_file(key_path(), (const char *)other, sizeof(other));
    cr_assert(reopen(), "%s", errstr);
    cr_expect_eq(load(), -1);
    snprintf(needle, sizeof(needle),
             "state file %s is corrupt: \"sealedTaskInfo\" cannot be "
             "decrypted with store.key",
             task_path("c1", "t1", ".task"));
    cr_expect(strstr(errstr, needle) != NULL, "%s", errstr);
    cr_expect(exists(task_path("c1", "t1", ".task")));
}

Test(store, corrupt_sealed_part)
{
    char *text;

    expect_corrupt_field("sealedTaskInfo", NULL, "\"sealedTaskInfo\" is missing or not a string");
    expect_corrupt_field("sealedTaskInfo", "{}", "\"sealedTaskInfo\" is missing or not a string");
    expect_corrupt_field("sealedTaskInfo", "\"not base64!\"", "\"sealedTaskInfo\" is not base64");
    expect_corrupt_field("sealedTaskInfo", "\"AAAA\"", "\"sealedTaskInfo\" is too short");
    expect_corrupt_field("sealedTaskInfo", "\"\"", "\"sealedTaskInfo\" is too short");
    expect_corrupt_field("taskInfo", "{}", "\"taskInfo\" or \"lastError\" in clear");
    expect_corrupt_field("lastError", "\"x\"", "\"taskInfo\" or \"lastError\" in clear");

    text = sealed_file("[1,2]");
    expect_corrupt(text, strlen(text), "the sealed part is not a JSON object");
    free(text);
    text = sealed_file("{\"taskInfo\": \"hunter2");
    expect_corrupt(text, strlen(text), "the sealed part is not a JSON object");
    cr_expect_null(strstr(errstr, "hunter2"), "%s", errstr);
    free(text);
    text = sealed_file("{\"taskInfo\":{}}");
    expect_corrupt(text, strlen(text), "invalid taskInfo");
    free(text);
    text = sealed_file("{\"taskInfo\":{\"type\":\"kstream\",\"name\":\"t1\",\"params\":{"
                       "\"sml.kstream.source.topic\":\"in\",\"sml.kstream.sink.topic\":\"out\","
                       "\"sml.predictor\":\"linear\"}},\"lastError\":5}");
    expect_corrupt(text, strlen(text), "\"lastError\" is not a string");
    free(text);
    text = sealed_file("{\"taskInfo\":{\"type\":\"kstream\",\"name\":\"t9\",\"params\":{"
                       "\"sml.kstream.source.topic\":\"in\",\"sml.kstream.sink.topic\":\"out\","
                       "\"sml.predictor\":\"linear\"}}}");
    expect_corrupt(text, strlen(text), "taskInfo name does not match its file name t1");
    free(text);

    /* What the test seals as the store does loads: the format is the one documented. */
    text = sealed_file("{\"taskInfo\":{\"type\":\"kstream\",\"name\":\"t1\",\"params\":{"
                       "\"sml.kstream.source.topic\":\"in\",\"sml.kstream.sink.topic\":\"out\","
                       "\"sml.predictor\":\"linear\"}},\"lastError\":\"e\"}");
    write_file(task_path("c1", "t1", ".task"), text, strlen(text));
    free(text);
    cr_expect_eq(load(), 0, "%s", errstr);
    cr_expect_str_eq(visit.tasks[0].last_error, "e");
}

Test(store, format_1_file_migrated_to_format_2)
{
    char *before, *after;
    json_t *doc;

    put_plain("c1", "t1", "exit 3: model not found", "pw-MARKER-1");
    before = read_text(task_path("c1", "t1", ".task"));
    cr_assert_eq(load(), 0, "%s", errstr);
    cr_assert_eq(visit.count, 1);
    cr_expect_str_eq(visit.tasks[0].last_error, "exit 3: model not found");
    cr_expect(visit.tasks[0].desired_running);
    cr_expect_eq(visit.tasks[0].created, 1795874108);
    cr_expect_eq(visit.tasks[0].updated, 1795874168);

    after = read_text(task_path("c1", "t1", ".task"));
    cr_expect_str_neq(after, before);
    doc = json_loads(after, 0, NULL);
    cr_assert_not_null(doc, "%s", after);
    cr_expect_eq(json_integer_value(json_object_get(doc, "format")), 2);
    cr_expect_null(json_object_get(doc, "taskInfo"));
    cr_expect_null(json_object_get(doc, "lastError"));
    cr_expect_str_eq(json_string_value(json_object_get(doc, "created")), "2026-11-28T13:55:08Z");
    cr_expect_str_eq(json_string_value(json_object_get(doc, "updated")), "2026-11-28T13:56:08Z");
    json_decref(doc);
    cr_expect_not(marker_on_disk("pw-MARKER-1"), "found in %s", marker_found);
    cr_expect_eq(count_entries(dir_path("c1")), 1);

    /* and it loads again, now without a rewrite */
    cr_assert(reopen(), "%s", errstr);
    cr_assert_eq(load(), 0, "%s", errstr);
    cr_assert_eq(visit.count, 1);
    cr_expect_str_eq(json_string_value(json_object_get(
                         json_object_get(visit.tasks[0].taskinfo, "params"), "sasl.password")),
                     "pw-MARKER-1");
    cr_expect_str_eq(visit.tasks[0].last_error, "exit 3: model not found");
    free(before);
    before = read_text(task_path("c1", "t1", ".task"));
    cr_expect_str_eq(before, after, "a format 2 file was rewritten on load");
    free(before);
    free(after);
}

Test(store, key_file_may_be_a_link_to_a_private_file)
{
    char target[256];

    put("c1", "t1", true, NULL, 1000);
    snprintf(target, sizeof(target), "%s/elsewhere.key", root_dir);
    cr_assert_eq(rename(key_path(), target), 0);
    cr_assert_eq(symlink(target, key_path()), 0);
    cr_assert(reopen(), "%s", errstr);
    cr_expect_eq(load(), 0, "%s", errstr);
    cr_assert_eq(chmod(target, 0644), 0);
    cr_expect_not(reopen());
    cr_expect(strstr(errstr, "is readable by other users (mode 0644)") != NULL, "%s", errstr);
}

/* A paused task's file says "paused": true beside "desired": "running" (an earlier version
 * reads it as running); a running or stopped one has no "paused" at all. */
Test(store, a_pause_is_kept_and_read_back)
{
    stored_task_t task;
    memset(&task, 0, sizeof(task));
    snprintf(task.cid, sizeof(task.cid), "c1");
    snprintf(task.tid, sizeof(task.tid), "t1");
    task.taskinfo = make_taskinfo("t1", "linear");
    task.desired_running = true;
    task.desired_paused = true;
    task.created = task.updated = 1000;
    cr_assert_eq(store_put(store, &task, errstr, sizeof(errstr)), 0, "%s", errstr);
    char *text = read_text(task_path("c1", "t1", ".task"));
    cr_assert(strstr(text, "\"desired\": \"running\"") != NULL ||
                  strstr(text, "\"desired\":\"running\"") != NULL,
              "%s", text);
    cr_assert(strstr(text, "\"paused\"") != NULL, "%s", text);
    free(text);
    cr_assert_eq(load(), 0, "%s", errstr);
    cr_assert_eq(visit.count, 1);
    cr_assert(visit.tasks[0].desired_running && visit.tasks[0].desired_paused);

    task.desired_paused = false;
    cr_assert_eq(store_put(store, &task, errstr, sizeof(errstr)), 0, "%s", errstr);
    text = read_text(task_path("c1", "t1", ".task"));
    cr_assert_null(strstr(text, "\"paused\""), "%s", text);
    free(text);
    cr_assert_eq(load(), 0, "%s", errstr);
    cr_assert(visit.tasks[0].desired_running && !visit.tasks[0].desired_paused);
    json_decref(task.taskinfo);

    expect_corrupt_field("paused", "\"yes\"", "\"paused\" is not true or false");
}

/* "paused" only counts with desired running: a stopped task is never paused. */
Test(store, paused_beside_stopped_is_not_a_pause)
{
    put("c1", "t1", false, NULL, 1000);
    char *text = edited_file("paused", "true");
    /* edited_file() stores a running task first; make it stopped */
    json_t *doc = json_loads(text, 0, NULL);
    free(text);
    json_object_set_new(doc, "desired", json_string("stopped"));
    text = json_dumps(doc, 0);
    json_decref(doc);
    write_file(task_path("c1", "t1", ".task"), text, strlen(text));
    free(text);
    cr_assert_eq(load(), 0, "%s", errstr);
    cr_assert(!visit.tasks[0].desired_running && !visit.tasks[0].desired_paused);
}
