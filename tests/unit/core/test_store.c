/* test_store.c: unit tests of core/store.c (atomic task files, loading, corruption). */
#include <criterion/criterion.h>

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
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
    char *last_error;
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
    s->last_error = task->last_error ? strdup(task->last_error) : NULL;
    s->created = task->created;
    s->updated = task->updated;
    return (int)v->count == v->stop_at ? 7 : 0;
}

static int load(void)
{
    clear_visit();
    return store_load_all(store, collect, &visit, errstr, sizeof(errstr));
}

static json_t *make_taskinfo(const char *tid, const char *predictor)
{
    char text[512];
    json_t *ti;

    snprintf(text, sizeof(text),
             "{\"type\":\"kstream\",\"name\":\"%s\",\"params\":{"
             "\"sml.kstream.source.topic\":\"in\",\"sml.kstream.sink.topic\":\"out\","
             "\"sml.predictor\":\"%s\",\"sasl.password\":\"pw\"}}",
             tid, predictor);
    ti = taskinfo_parse(text, strlen(text), errstr, sizeof(errstr));
    cr_assert_not_null(ti, "%s", errstr);
    return ti;
}

static void put(const char *cid, const char *tid, bool running, const char *last_error, time_t t)
{
    stored_task_t task;

    memset(&task, 0, sizeof(task));
    snprintf(task.cid, sizeof(task.cid), "%s", cid);
    snprintf(task.tid, sizeof(task.tid), "%s", tid);
    task.taskinfo = make_taskinfo(tid, "linear");
    task.desired_running = running;
    task.last_error = last_error;
    task.created = t;
    task.updated = t + 60;
    cr_assert_eq(store_put(store, &task, errstr, sizeof(errstr)), 0, "%s", errstr);
    json_decref(task.taskinfo);
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

/* A state file whose one field is replaced by @field = @json (NULL removes it). */
static char *edited_file(const char *field, const char *json)
{
    json_t *doc, *value;
    char *text;

    put("c1", "t1", true, NULL, 1000);
    text = read_text(task_path("c1", "t1", ".task"));
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
    if (geteuid() == 0)
        cr_skip_test("running as root: access() grants root write permission");
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
    cr_expect(strstr(text, "\"format\": 1") != NULL, "%s", text);
    cr_expect(strstr(text, "\"desired\": \"running\"") != NULL, "%s", text);
    free(text);
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

    put("c1", "t1", true, NULL, 1000);
    text = read_text(task_path("c1", "t1", ".task"));
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
    expect_corrupt_field("format", "2", "\"format\" is not 1");
    expect_corrupt_field("format", "\"1\"", "\"format\" is not 1");
    expect_corrupt_field("format", NULL, "\"format\" is not 1");
    expect_corrupt_field("cid", "\"c2\"", "\"cid\" does not match its directory c1");
    expect_corrupt_field("cid", "1", "\"cid\" does not match");
    expect_corrupt_field("tid", "\"t2\"", "\"tid\" does not match its file name t1");
    expect_corrupt_field("tid", NULL, "\"tid\" does not match");
    expect_corrupt_field("desired", "\"paused\"", "\"desired\" is not \"running\" or \"stopped\"");
    expect_corrupt_field("desired", "true", "\"desired\"");
    expect_corrupt_field("lastError", "5", "\"lastError\" is not a string");
    expect_corrupt_field("created", "\"yesterday\"", "\"created\" is not a time");
    expect_corrupt_field("created", "\"2026-02-30T00:00:00Z\"", "\"created\" is not a time");
    expect_corrupt_field("updated", "\"2026-11-28 13:55:08\"", "\"updated\" is not a time");
    expect_corrupt_field("updated", "1795874108", "\"updated\" is not a time");
    expect_corrupt_field("taskInfo", NULL, "invalid taskInfo (TaskInfo: must be a JSON object)");
    expect_corrupt_field("taskInfo",
                         "{\"type\":\"kstream\",\"name\":\"t1\",\"params\":{"
                         "\"sml.kstream.source.topic\":\"in\",\"sml.kstream.sink.topic\":\"out\"}}",
                         "invalid taskInfo (params: required key sml.predictor is missing)");
    expect_corrupt_field("taskInfo",
                         "{\"type\":\"kstream\",\"name\":\"t9\",\"params\":{"
                         "\"sml.kstream.source.topic\":\"in\",\"sml.kstream.sink.topic\":\"out\","
                         "\"sml.predictor\":\"linear\"}}",
                         "taskInfo name does not match its file name t1");
}

Test(store, normalised_taskinfo_on_load)
{
    char *text =
        edited_file("taskInfo", "{\"type\":\"kstream\",\"name\":\"t1\",\"old\":true,\"params\":{"
                                "\"sml.kstream.source.topic\":\"in\",\"sml.kstream.sink.topic\":"
                                "\"out\",\"sml.predictor\":\"linear\"}}");

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
