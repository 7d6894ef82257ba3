/* store.c: task definitions and desired states as one JSON file per task under state.dir. */
#include "store.h"

#include "taskinfo.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STORE_FORMAT 1
#define STATE_FILE_MAX (64u << 20) /* far above any TaskInfo the API accepts */
#define TASK_SUFFIX ".task"
#define TMP_SUFFIX ".tmp"

/* The mutex serialises writers, so that a put and a delete in one customer directory
 * cannot race between its mkdir and its rmdir. store_load_all runs at startup before any
 * writer and does not take it, so that its visitor may call store_put. */
struct store {
    char *dir;
    char *tasks_dir;
    pthread_mutex_t lock;
};

static void fail(char *errstr, size_t errstr_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(char *errstr, size_t errstr_size, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(errstr, errstr_size, fmt, ap);
    va_end(ap);
}

static char *path_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A new string, or NULL when out of memory. */
static char *path_fmt(const char *fmt, ...)
{
    va_list ap;
    char *p;
    int n;

    va_start(ap, fmt);
    n = vasprintf(&p, fmt, ap);
    va_end(ap);
    return n < 0 ? NULL : p;
}

static bool has_suffix(const char *s, const char *suffix)
{
    size_t len = strlen(s), slen = strlen(suffix);

    return len >= slen && strcmp(s + len - slen, suffix) == 0;
}

/* Creates @path (0700) unless it is already a directory. */
static int make_dir(const char *path, bool *created, char *errstr, size_t errstr_size)
{
    struct stat st;

    *created = false;
    if (mkdir(path, 0700) == 0) {
        *created = true;
        return 0;
    }
    if (errno != EEXIST) {
        fail(errstr, errstr_size, "cannot create directory %s: %s", path, strerror(errno));
        return -1;
    }
    if (stat(path, &st) < 0) {
        fail(errstr, errstr_size, "cannot use directory %s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        fail(errstr, errstr_size, "cannot use directory %s: %s", path, strerror(ENOTDIR));
        return -1;
    }
    return 0;
}

/* Makes a rename, creation or removal in directory @path durable. */
static int sync_dir(const char *path, char *errstr, size_t errstr_size)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd < 0 || fsync(fd) < 0) {
        fail(errstr, errstr_size, "cannot sync directory %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

store_t *store_open(const char *state_dir, char *errstr, size_t errstr_size)
{
    store_t *store;
    bool created;

    store = calloc(1, sizeof(*store));
    if (store == NULL) {
        fail(errstr, errstr_size, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&store->lock, NULL);
    store->dir = strdup(state_dir);
    store->tasks_dir = path_fmt("%s/tasks", state_dir);
    if (store->dir == NULL || store->tasks_dir == NULL) {
        fail(errstr, errstr_size, "out of memory");
        goto error;
    }
    if (make_dir(store->dir, &created, errstr, errstr_size) < 0 ||
        make_dir(store->tasks_dir, &created, errstr, errstr_size) < 0)
        goto error;
    if (access(store->dir, W_OK | X_OK) < 0) {
        fail(errstr, errstr_size, "cannot write state dir %s: %s", store->dir, strerror(errno));
        goto error;
    }
    if (access(store->tasks_dir, W_OK | X_OK) < 0) {
        fail(errstr, errstr_size, "cannot write state dir %s: %s", store->tasks_dir,
             strerror(errno));
        goto error;
    }
    return store;

error:
    store_close(store);
    return NULL;
}

const char *store_dir(const store_t *store)
{
    return store->dir;
}

void store_close(store_t *store)
{
    if (store == NULL)
        return;
    pthread_mutex_destroy(&store->lock);
    free(store->tasks_dir);
    free(store->dir);
    free(store);
}

/* ---- times ------------------------------------------------------------------------------ */

/* "2026-11-28T13:55:08Z"; @buf holds at least 21 bytes. */
static int time_format(time_t t, char *buf, size_t size)
{
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) != 20)
        return -1;
    return 0;
}

/* Accepts exactly what time_format writes: the round trip rejects "2026-02-30T..." too. */
static int time_parse(const char *s, time_t *out)
{
    char again[32];
    struct tm tm;
    char *end;

    memset(&tm, 0, sizeof(tm));
    end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (end == NULL || *end != '\0')
        return -1;
    *out = timegm(&tm);
    if (time_format(*out, again, sizeof(again)) < 0 || strcmp(again, s) != 0)
        return -1;
    return 0;
}

/* ---- put and delete --------------------------------------------------------------------- */

/* Worker error text may carry bytes that are not UTF-8, which JSON strings cannot. */
static json_t *text_to_json(const char *text)
{
    json_t *s = json_string(text);
    char *copy, *p;

    if (s != NULL || (copy = strdup(text)) == NULL)
        return s;
    for (p = copy; *p; p++)
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    s = json_string(copy);
    free(copy);
    return s;
}

static json_t *task_to_json(const stored_task_t *task, json_t *taskinfo, char *errstr,
                            size_t errstr_size)
{
    char created[32], updated[32];
    json_t *root;

    if (time_format(task->created, created, sizeof(created)) < 0 ||
        time_format(task->updated, updated, sizeof(updated)) < 0) {
        fail(errstr, errstr_size, "task %s/%s: created or updated time out of range", task->cid,
             task->tid);
        return NULL;
    }
    root = json_pack("{s:i, s:s, s:s, s:O, s:s, s:s, s:s}", "format", STORE_FORMAT, "cid",
                     task->cid, "tid", task->tid, "taskInfo", taskinfo, "desired",
                     task->desired_running ? "running" : "stopped", "created", created, "updated",
                     updated);
    if (root == NULL ||
        (task->last_error != NULL &&
         json_object_set_new(root, "lastError", text_to_json(task->last_error)) < 0)) {
        fail(errstr, errstr_size, "out of memory");
        json_decref(root);
        return NULL;
    }
    return root;
}

static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

int store_put(store_t *store, const stored_task_t *task, char *errstr, size_t errstr_size)
{
    char *cid_dir = NULL, *path = NULL, *tmp = NULL, *text = NULL, verr[512];
    json_t *root = NULL, *checked = NULL;
    bool created, locked = false, tmp_made = false;
    int fd = -1;

    if (!taskinfo_id_valid(task->cid, strlen(task->cid)) ||
        !taskinfo_id_valid(task->tid, strlen(task->tid))) {
        fail(errstr, errstr_size, "cannot store task: invalid customer or task id");
        goto error;
    }
    /* store_load_all refuses to start on an invalid TaskInfo: never write one. */
    checked = taskinfo_validate(task->taskinfo, verr, sizeof(verr));
    if (checked == NULL) {
        fail(errstr, errstr_size, "cannot store task %s/%s: %s", task->cid, task->tid, verr);
        goto error;
    }
    if (strcmp(json_string_value(json_object_get(checked, "name")), task->tid) != 0) {
        fail(errstr, errstr_size, "cannot store task %s/%s: its TaskInfo name differs", task->cid,
             task->tid);
        goto error;
    }
    root = task_to_json(task, checked, errstr, errstr_size);
    if (root == NULL)
        goto error;
    text = json_dumps(root, JSON_INDENT(2));
    cid_dir = path_fmt("%s/%s", store->tasks_dir, task->cid);
    path = path_fmt("%s/%s/%s" TASK_SUFFIX, store->tasks_dir, task->cid, task->tid);
    tmp = path_fmt("%s/%s/%s" TASK_SUFFIX TMP_SUFFIX, store->tasks_dir, task->cid, task->tid);
    if (text == NULL || cid_dir == NULL || path == NULL || tmp == NULL) {
        fail(errstr, errstr_size, "out of memory");
        goto error;
    }

    pthread_mutex_lock(&store->lock);
    locked = true;
    if (make_dir(cid_dir, &created, errstr, errstr_size) < 0)
        goto error;
    if (created && sync_dir(store->tasks_dir, errstr, errstr_size) < 0)
        goto error;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        fail(errstr, errstr_size, "cannot write state file %s: %s", tmp, strerror(errno));
        goto error;
    }
    tmp_made = true;
    if (fchmod(fd, 0600) < 0 || write_all(fd, text, strlen(text)) < 0 ||
        write_all(fd, "\n", 1) < 0 || fsync(fd) < 0) {
        fail(errstr, errstr_size, "cannot write state file %s: %s", tmp, strerror(errno));
        goto error;
    }
    if (close(fd) < 0) {
        fd = -1;
        fail(errstr, errstr_size, "cannot write state file %s: %s", tmp, strerror(errno));
        goto error;
    }
    fd = -1;
    if (rename(tmp, path) < 0) {
        fail(errstr, errstr_size, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        goto error;
    }
    tmp_made = false;
    if (sync_dir(cid_dir, errstr, errstr_size) < 0)
        goto error;
    pthread_mutex_unlock(&store->lock);

    json_decref(checked);
    json_decref(root);
    free(text);
    free(cid_dir);
    free(path);
    free(tmp);
    return 0;

error:
    if (fd >= 0)
        close(fd);
    if (tmp_made)
        unlink(tmp);
    if (locked)
        pthread_mutex_unlock(&store->lock);
    json_decref(checked);
    json_decref(root);
    free(text);
    free(cid_dir);
    free(path);
    free(tmp);
    return -1;
}

int store_delete(store_t *store, const char *cid, const char *tid, char *errstr, size_t errstr_size)
{
    char *cid_dir = NULL, *path = NULL;
    bool locked = false;

    if (!taskinfo_id_valid(cid, strlen(cid)) || !taskinfo_id_valid(tid, strlen(tid))) {
        fail(errstr, errstr_size, "cannot delete task: invalid customer or task id");
        goto error;
    }
    cid_dir = path_fmt("%s/%s", store->tasks_dir, cid);
    path = path_fmt("%s/%s/%s" TASK_SUFFIX, store->tasks_dir, cid, tid);
    if (cid_dir == NULL || path == NULL) {
        fail(errstr, errstr_size, "out of memory");
        goto error;
    }

    pthread_mutex_lock(&store->lock);
    locked = true;
    if (unlink(path) < 0) {
        if (errno != ENOENT && errno != ENOTDIR) {
            fail(errstr, errstr_size, "cannot remove state file %s: %s", path, strerror(errno));
            goto error;
        }
    } else if (sync_dir(cid_dir, errstr, errstr_size) < 0) {
        goto error;
    }
    /* The customer's last task takes its directory with it; a non-empty one stays. */
    if (rmdir(cid_dir) == 0) {
        if (sync_dir(store->tasks_dir, errstr, errstr_size) < 0)
            goto error;
    } else if (errno != ENOTEMPTY && errno != EEXIST && errno != ENOENT && errno != ENOTDIR) {
        fail(errstr, errstr_size, "cannot remove directory %s: %s", cid_dir, strerror(errno));
        goto error;
    }
    pthread_mutex_unlock(&store->lock);
    free(cid_dir);
    free(path);
    return 0;

error:
    if (locked)
        pthread_mutex_unlock(&store->lock);
    free(cid_dir);
    free(path);
    return -1;
}

/* ---- load ------------------------------------------------------------------------------- */

typedef struct name_list {
    char **names;
    size_t count;
} name_list_t;

static void name_list_free(name_list_t *list)
{
    size_t i;

    for (i = 0; i < list->count; i++)
        free(list->names[i]);
    free(list->names);
    list->names = NULL;
    list->count = 0;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The entries of @path but . and .., sorted, so that loading is deterministic. */
static int list_dir(const char *path, name_list_t *list, char *errstr, size_t errstr_size)
{
    size_t cap = 0;
    struct dirent *de;
    DIR *dir;

    list->names = NULL;
    list->count = 0;
    dir = opendir(path);
    if (dir == NULL) {
        fail(errstr, errstr_size, "cannot read directory %s: %s", path, strerror(errno));
        return -1;
    }
    for (errno = 0; (de = readdir(dir)) != NULL; errno = 0) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (list->count == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            char **names = realloc(list->names, ncap * sizeof(*names));
            if (names == NULL)
                goto nomem;
            list->names = names;
            cap = ncap;
        }
        list->names[list->count] = strdup(de->d_name);
        if (list->names[list->count] == NULL)
            goto nomem;
        list->count++;
    }
    if (errno != 0) {
        fail(errstr, errstr_size, "cannot read directory %s: %s", path, strerror(errno));
        goto error;
    }
    closedir(dir);
    if (list->count > 0)
        qsort(list->names, list->count, sizeof(*list->names), name_cmp);
    return 0;

nomem:
    fail(errstr, errstr_size, "out of memory");
error:
    closedir(dir);
    name_list_free(list);
    return -1;
}

static void corrupt(char *errstr, size_t errstr_size, const char *path, const char *reason)
{
    fail(errstr, errstr_size,
         "state file %s is corrupt: %s; move it aside or restore it from a backup (symtaskd "
         "does not start without it)",
         path, reason);
}

/* Reads the whole file into a NUL-terminated buffer. */
static char *read_file(const char *path, size_t *len, char *errstr, size_t errstr_size)
{
    size_t cap = 4096, n = 0;
    char *buf = NULL, *nbuf;
    ssize_t r;
    int fd;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        goto read_error;
    buf = malloc(cap);
    if (buf == NULL)
        goto nomem;
    for (;;) {
        if (n + 1 == cap) {
            if (cap >= STATE_FILE_MAX) {
                corrupt(errstr, errstr_size, path, "larger than 64 MiB");
                goto error;
            }
            nbuf = realloc(buf, cap * 2);
            if (nbuf == NULL)
                goto nomem;
            buf = nbuf;
            cap *= 2;
        }
        r = read(fd, buf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            goto read_error;
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    *len = n;
    return buf;

read_error:
    fail(errstr, errstr_size, "cannot read state file %s: %s", path, strerror(errno));
    goto error;
nomem:
    fail(errstr, errstr_size, "out of memory");
error:
    if (fd >= 0)
        close(fd);
    free(buf);
    return NULL;
}

/* Parses and checks one state file into @task; @task->taskinfo is then a new reference. */
static int load_file(const char *path, const char *cid, const char *tid, stored_task_t *task,
                     json_t **root_out, char *errstr, size_t errstr_size)
{
    char reason[768], verr[512];
    const char *desired, *s;
    json_error_t jerr;
    json_t *root = NULL, *v;
    char *text, *near;
    size_t len;

    text = read_file(path, &len, errstr, errstr_size);
    if (text == NULL)
        return -1;
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    if (root == NULL) {
        /* jansson quotes the token it stopped at, which may be part of a secret. */
        near = strstr(jerr.text, " near '");
        if (near != NULL)
            *near = '\0';
        snprintf(reason, sizeof(reason), "not valid JSON (%s at line %d column %d)", jerr.text,
                 jerr.line, jerr.column);
        goto corrupt;
    }
    if (!json_is_object(root)) {
        snprintf(reason, sizeof(reason), "not a JSON object");
        goto corrupt;
    }
    v = json_object_get(root, "format");
    if (!json_is_integer(v) || json_integer_value(v) != STORE_FORMAT) {
        snprintf(reason, sizeof(reason), "\"format\" is not %d", STORE_FORMAT);
        goto corrupt;
    }
    s = json_string_value(json_object_get(root, "cid"));
    if (s == NULL || strcmp(s, cid) != 0) {
        snprintf(reason, sizeof(reason), "\"cid\" does not match its directory %s", cid);
        goto corrupt;
    }
    s = json_string_value(json_object_get(root, "tid"));
    if (s == NULL || strcmp(s, tid) != 0) {
        snprintf(reason, sizeof(reason), "\"tid\" does not match its file name %s", tid);
        goto corrupt;
    }
    desired = json_string_value(json_object_get(root, "desired"));
    if (desired == NULL || (strcmp(desired, "running") != 0 && strcmp(desired, "stopped") != 0)) {
        snprintf(reason, sizeof(reason), "\"desired\" is not \"running\" or \"stopped\"");
        goto corrupt;
    }
    v = json_object_get(root, "lastError");
    if (v != NULL && !json_is_string(v)) {
        snprintf(reason, sizeof(reason), "\"lastError\" is not a string");
        goto corrupt;
    }
    task->last_error = json_string_value(v);
    s = json_string_value(json_object_get(root, "created"));
    if (s == NULL || time_parse(s, &task->created) < 0) {
        snprintf(reason, sizeof(reason), "\"created\" is not a time like 2026-11-28T13:55:08Z");
        goto corrupt;
    }
    s = json_string_value(json_object_get(root, "updated"));
    if (s == NULL || time_parse(s, &task->updated) < 0) {
        snprintf(reason, sizeof(reason), "\"updated\" is not a time like 2026-11-28T13:55:08Z");
        goto corrupt;
    }
    task->taskinfo = taskinfo_validate(json_object_get(root, "taskInfo"), verr, sizeof(verr));
    if (task->taskinfo == NULL) {
        snprintf(reason, sizeof(reason), "invalid taskInfo (%s)", verr);
        goto corrupt;
    }
    if (strcmp(json_string_value(json_object_get(task->taskinfo, "name")), tid) != 0) {
        json_decref(task->taskinfo);
        task->taskinfo = NULL;
        snprintf(reason, sizeof(reason), "taskInfo name does not match its file name %s", tid);
        goto corrupt;
    }
    snprintf(task->cid, sizeof(task->cid), "%s", cid);
    snprintf(task->tid, sizeof(task->tid), "%s", tid);
    task->desired_running = strcmp(desired, "running") == 0;
    *root_out = root; /* keeps last_error alive */
    return 0;

corrupt:
    corrupt(errstr, errstr_size, path, reason);
    json_decref(root);
    return -1;
}

static int load_customer(store_t *store, const char *cid, store_visit_cb cb, void *arg,
                         char *errstr, size_t errstr_size)
{
    char *cid_dir = NULL, *path = NULL, tid[TASKINFO_ID_MAX + 1];
    name_list_t names = {0};
    stored_task_t task;
    json_t *root;
    size_t i, len;
    int rc = -1;

    cid_dir = path_fmt("%s/%s", store->tasks_dir, cid);
    if (cid_dir == NULL) {
        fail(errstr, errstr_size, "out of memory");
        goto out;
    }
    if (list_dir(cid_dir, &names, errstr, errstr_size) < 0)
        goto out;
    for (i = 0; i < names.count; i++) {
        const char *name = names.names[i];

        free(path);
        path = path_fmt("%s/%s", cid_dir, name);
        if (path == NULL) {
            fail(errstr, errstr_size, "out of memory");
            goto out;
        }
        /* Left by a write that did not reach its rename: the .task file is still whole. */
        if (has_suffix(name, TMP_SUFFIX)) {
            if (unlink(path) < 0) {
                fail(errstr, errstr_size, "cannot remove leftover %s: %s", path, strerror(errno));
                goto out;
            }
            continue;
        }
        len = strlen(name);
        if (!has_suffix(name, TASK_SUFFIX) || len - strlen(TASK_SUFFIX) > TASKINFO_ID_MAX ||
            !taskinfo_id_valid(name, len - strlen(TASK_SUFFIX))) {
            fail(errstr, errstr_size,
                 "unexpected file %s in the state dir (only {tid}.task files belong there); "
                 "move it aside (symtaskd does not start with it)",
                 path);
            goto out;
        }
        memcpy(tid, name, len - strlen(TASK_SUFFIX));
        tid[len - strlen(TASK_SUFFIX)] = '\0';
        memset(&task, 0, sizeof(task));
        if (load_file(path, cid, tid, &task, &root, errstr, errstr_size) < 0)
            goto out;
        rc = cb(&task, arg);
        json_decref(task.taskinfo);
        json_decref(root);
        if (rc != 0) {
            fail(errstr, errstr_size, "loading the state stopped at %s (the task was refused)",
                 path);
            goto out;
        }
        rc = -1;
    }
    rc = 0;

out:
    name_list_free(&names);
    free(path);
    free(cid_dir);
    return rc;
}

int store_load_all(store_t *store, store_visit_cb cb, void *arg, char *errstr, size_t errstr_size)
{
    name_list_t cids = {0};
    struct stat st;
    char *path = NULL;
    size_t i;
    int rc = -1;

    if (list_dir(store->tasks_dir, &cids, errstr, errstr_size) < 0)
        goto out;
    for (i = 0; i < cids.count; i++) {
        const char *cid = cids.names[i];

        free(path);
        path = path_fmt("%s/%s", store->tasks_dir, cid);
        if (path == NULL) {
            fail(errstr, errstr_size, "out of memory");
            goto out;
        }
        if (lstat(path, &st) < 0) {
            fail(errstr, errstr_size, "cannot read %s: %s", path, strerror(errno));
            goto out;
        }
        if (!S_ISDIR(st.st_mode) || !taskinfo_id_valid(cid, strlen(cid))) {
            fail(errstr, errstr_size,
                 "unexpected entry %s in the state dir (only customer directories belong "
                 "there); move it aside (symtaskd does not start with it)",
                 path);
            goto out;
        }
        rc = load_customer(store, cid, cb, arg, errstr, errstr_size);
        if (rc != 0)
            goto out;
        rc = -1;
    }
    rc = 0;

out:
    name_list_free(&cids);
    free(path);
    return rc;
}
