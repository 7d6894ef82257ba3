/* store.c: task definitions and desired states as one JSON file per task under state.dir,
 * the TaskInfo and last error sealed with the key in {state.dir}/store.key. */
#include "store.h"

#include "log.h"
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

#include <sodium.h>

#define STORE_FORMAT_PLAIN 1 /* earlier versions: TaskInfo and lastError in clear */
#define STORE_FORMAT 2       /* TaskInfo and lastError sealed, see docs/security.md */
#define KEY_FILE "store.key"
#define KEY_SIZE crypto_aead_xchacha20poly1305_ietf_KEYBYTES
#define NONCE_SIZE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_SIZE crypto_aead_xchacha20poly1305_ietf_ABYTES
#define AD_MAX (2 * TASKINFO_ID_MAX + 2) /* "cid/tid" */
#define STATE_FILE_MAX (64u << 20)       /* far above any TaskInfo the API accepts */
#define TASK_SUFFIX ".task"
#define TMP_SUFFIX ".tmp"

/* The mutex serialises writers, so that a put and a delete in one customer directory
 * cannot race between its mkdir and its rmdir. store_load_all runs at startup before any
 * writer and does not take it, so that its visitor may call store_put. */
struct store {
    char *dir;
    char *tasks_dir;
    char *key_path;
    unsigned char *key; /* KEY_SIZE bytes; sodium_malloc: locked, left out of core dumps */
    pthread_mutex_t lock;
};

static int key_load(store_t *store, char *errstr, size_t errstr_size);

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

/* Frees a buffer that held a TaskInfo or a last error in clear. */
static void wipe_free(void *buf, size_t len)
{
    if (buf == NULL)
        return;
    sodium_memzero(buf, len);
    free(buf);
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

    if (sodium_init() < 0) {
        fail(errstr, errstr_size, "cannot initialise libsodium");
        return NULL;
    }
    store = calloc(1, sizeof(*store));
    if (store == NULL) {
        fail(errstr, errstr_size, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&store->lock, NULL);
    store->dir = strdup(state_dir);
    store->tasks_dir = path_fmt("%s/tasks", state_dir);
    store->key_path = path_fmt("%s/" KEY_FILE, state_dir);
    store->key = sodium_malloc(KEY_SIZE);
    if (store->dir == NULL || store->tasks_dir == NULL || store->key_path == NULL ||
        store->key == NULL) {
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
    if (key_load(store, errstr, errstr_size) < 0)
        goto error;
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
    sodium_free(store->key); /* zeroes it */
    free(store->key_path);
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

/* ---- sealing ---------------------------------------------------------------------------- */

/* The additional data of a sealed part: "cid/tid", so that a sealed part copied into another
 * task's file does not open there. Ids never hold a '/'. */
static size_t seal_ad(const char *cid, const char *tid, char ad[AD_MAX + 1])
{
    return (size_t)snprintf(ad, AD_MAX + 1, "%s/%s", cid, tid);
}

/* base64(nonce || XChaCha20-Poly1305(@plain, key, additional data "cid/tid")) as a new JSON
 * string, or NULL when out of memory. */
static json_t *seal_with(const unsigned char *key, const char *cid, const char *tid,
                         const char *plain, size_t plain_len)
{
    size_t blob_len = NONCE_SIZE + plain_len + TAG_SIZE, b64_size, ad_len;
    unsigned char *blob = NULL;
    char ad[AD_MAX + 1], *b64 = NULL;
    json_t *sealed = NULL;

    b64_size = sodium_base64_ENCODED_LEN(blob_len, sodium_base64_VARIANT_ORIGINAL);
    blob = malloc(blob_len);
    b64 = malloc(b64_size);
    if (blob == NULL || b64 == NULL)
        goto out;
    ad_len = seal_ad(cid, tid, ad);
    randombytes_buf(blob, NONCE_SIZE);
    crypto_aead_xchacha20poly1305_ietf_encrypt(blob + NONCE_SIZE, NULL,
                                               (const unsigned char *)plain, plain_len,
                                               (const unsigned char *)ad, ad_len, NULL, blob, key);
    sodium_bin2base64(b64, b64_size, blob, blob_len, sodium_base64_VARIANT_ORIGINAL);
    sealed = json_string(b64);

out:
    free(blob);
    free(b64);
    return sealed;
}

/* Opens a sealed part into a new NUL-terminated buffer (to be wiped with wipe_free). 0 on
 * success; -1 with @reason when it is not a sealed part of this file under this key; -2 when
 * out of memory. */
static int unseal_with(const unsigned char *key, const char *key_name, const char *cid,
                       const char *tid, const char *b64, char **plain_out, size_t *plain_len,
                       char *reason, size_t reason_size)
{
    size_t b64_len = strlen(b64), blob_max = b64_len / 4 * 3 + 3, blob_len, ad_len;
    unsigned long long len;
    unsigned char *blob = NULL, *plain = NULL;
    char ad[AD_MAX + 1];
    int rc = -2;

    blob = malloc(blob_max);
    if (blob == NULL)
        goto out;
    if (sodium_base642bin(blob, blob_max, b64, b64_len, NULL, &blob_len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0) {
        snprintf(reason, reason_size, "\"sealedTaskInfo\" is not base64");
        rc = -1;
        goto out;
    }
    if (blob_len < NONCE_SIZE + TAG_SIZE) {
        snprintf(reason, reason_size, "\"sealedTaskInfo\" is too short to be sealed");
        rc = -1;
        goto out;
    }
    plain = malloc(blob_len - NONCE_SIZE - TAG_SIZE + 1);
    if (plain == NULL)
        goto out;
    ad_len = seal_ad(cid, tid, ad);
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, &len, NULL, blob + NONCE_SIZE,
                                                   blob_len - NONCE_SIZE, (const unsigned char *)ad,
                                                   ad_len, blob, key) != 0) {
        snprintf(reason, reason_size,
                 "\"sealedTaskInfo\" cannot be decrypted with %s"
                 " (another key, or the file was altered or copied from another task)",
                 key_name);
        rc = -1;
        goto out;
    }
    plain[len] = '\0';
    *plain_out = (char *)plain;
    *plain_len = (size_t)len;
    plain = NULL;
    rc = 0;

out:
    free(blob);
    free(plain); /* nothing was decrypted into it */
    return rc;
}

static json_t *seal(const store_t *store, const char *cid, const char *tid, const char *plain,
                    size_t plain_len)
{
    return seal_with(store->key, cid, tid, plain, plain_len);
}

static int unseal(const store_t *store, const char *cid, const char *tid, const char *b64,
                  char **plain_out, size_t *plain_len, char *reason, size_t reason_size)
{
    return unseal_with(store->key, KEY_FILE, cid, tid, b64, plain_out, plain_len, reason,
                       reason_size);
}

json_t *store_seal(const unsigned char key[STORE_KEY_SIZE], const char *cid, const char *tid,
                   const char *plain, size_t plain_len)
{
    return seal_with(key, cid, tid, plain, plain_len);
}

int store_unseal(const unsigned char key[STORE_KEY_SIZE], const char *key_name, const char *cid,
                 const char *tid, const char *b64, char **plain, size_t *plain_len, char *reason,
                 size_t reason_size)
{
    return unseal_with(key, key_name, cid, tid, b64, plain, plain_len, reason, reason_size);
}

void store_wipe_free(char *plain, size_t len)
{
    wipe_free(plain, len);
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
    wipe_free(copy, strlen(copy));
    return s;
}

/* The format 2 file of @task: the TaskInfo and the last error (plugins' messages may quote
 * secrets) are sealed, the rest is in clear. */
static json_t *task_to_json(store_t *store, const stored_task_t *task, json_t *taskinfo,
                            char *errstr, size_t errstr_size)
{
    char created[32], updated[32], *plain = NULL;
    json_t *root = NULL, *secret = NULL, *sealed = NULL;

    if (time_format(task->created, created, sizeof(created)) < 0 ||
        time_format(task->updated, updated, sizeof(updated)) < 0) {
        fail(errstr, errstr_size, "task %s/%s: created or updated time out of range", task->cid,
             task->tid);
        return NULL;
    }
    secret = json_pack("{s:O}", "taskInfo", taskinfo);
    if (secret == NULL ||
        (task->last_error != NULL &&
         json_object_set_new(secret, "lastError", text_to_json(task->last_error)) < 0))
        goto nomem;
    plain = json_dumps(secret, JSON_COMPACT);
    if (plain == NULL)
        goto nomem;
    sealed = seal(store, task->cid, task->tid, plain, strlen(plain));
    if (sealed == NULL)
        goto nomem;
    root = json_pack("{s:i, s:s, s:s, s:o, s:s, s:s, s:s}", "format", STORE_FORMAT, "cid",
                     task->cid, "tid", task->tid, "sealedTaskInfo", sealed, "desired",
                     task->desired_running ? "running" : "stopped", "created", created, "updated",
                     updated);
    /* only when set: a daemon of an earlier version reads the file as desired running */
    if (root != NULL && task->desired_paused &&
        json_object_set_new(root, "paused", json_true()) < 0)
        goto nomem;
    if (root == NULL)
        goto nomem;
    /* source offsets and what the daemon wrote about them: no secret */
    if (task->poison != NULL && json_object_set(root, "poison", task->poison) < 0) {
        json_decref(root);
        root = NULL;
        goto nomem;
    }
    wipe_free(plain, strlen(plain));
    json_decref(secret);
    return root;

nomem:
    fail(errstr, errstr_size, "out of memory");
    if (plain != NULL)
        wipe_free(plain, strlen(plain));
    json_decref(secret);
    return NULL;
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
    root = task_to_json(store, task, checked, errstr, errstr_size);
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

/* Reads the whole file into a NUL-terminated buffer (to be freed with wipe_free: a format 1
 * file holds secrets in clear). */
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
            /* not realloc: the old buffer is wiped before it goes */
            nbuf = malloc(cap * 2);
            if (nbuf == NULL)
                goto nomem;
            memcpy(nbuf, buf, n);
            wipe_free(buf, n);
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
    wipe_free(buf, n);
    return NULL;
}

/* Parses and checks one state file into @task; @task->taskinfo is then a new reference and
 * @keep_out a reference that keeps @task->last_error alive. @format_out tells a format 1 file
 * (to migrate) from a format 2 one. */
static int load_file(const store_t *store, const char *path, const char *cid, const char *tid,
                     stored_task_t *task, json_t **keep_out, int *format_out, char *errstr,
                     size_t errstr_size)
{
    char reason[768], verr[512], *text, *near, *plain;
    const char *desired, *s;
    json_t *root = NULL, *body = NULL, *v;
    json_error_t jerr;
    size_t len, plain_len;
    int format, rc;

    text = read_file(path, &len, errstr, errstr_size);
    if (text == NULL)
        return -1;
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    wipe_free(text, len);
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
    if (!json_is_integer(v) ||
        (json_integer_value(v) != STORE_FORMAT_PLAIN && json_integer_value(v) != STORE_FORMAT)) {
        snprintf(reason, sizeof(reason), "\"format\" is not %d or %d", STORE_FORMAT_PLAIN,
                 STORE_FORMAT);
        goto corrupt;
    }
    format = (int)json_integer_value(v);
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
    v = json_object_get(root, "paused");
    if (v != NULL && !json_is_boolean(v)) {
        snprintf(reason, sizeof(reason), "\"paused\" is not true or false");
        goto corrupt;
    }
    task->desired_paused = json_is_true(v) && strcmp(desired, "running") == 0;
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

    /* The secret part: the file itself in format 1, the opened "sealedTaskInfo" in format 2. */
    if (format == STORE_FORMAT_PLAIN) {
        body = json_incref(root);
    } else {
        if (json_object_get(root, "taskInfo") != NULL ||
            json_object_get(root, "lastError") != NULL) {
            snprintf(reason, sizeof(reason),
                     "\"taskInfo\" or \"lastError\" in clear in a format %d file", STORE_FORMAT);
            goto corrupt;
        }
        s = json_string_value(json_object_get(root, "sealedTaskInfo"));
        if (s == NULL) {
            snprintf(reason, sizeof(reason), "\"sealedTaskInfo\" is missing or not a string");
            goto corrupt;
        }
        rc = unseal(store, cid, tid, s, &plain, &plain_len, reason, sizeof(reason));
        if (rc == -2) {
            fail(errstr, errstr_size, "out of memory");
            json_decref(root);
            return -1;
        }
        if (rc < 0)
            goto corrupt;
        /* no error text: jansson would quote the plaintext */
        body = json_loadb(plain, plain_len, JSON_REJECT_DUPLICATES, NULL);
        wipe_free(plain, plain_len);
        if (!json_is_object(body)) {
            snprintf(reason, sizeof(reason), "the sealed part is not a JSON object");
            goto corrupt;
        }
    }
    v = json_object_get(body, "lastError");
    if (v != NULL && !json_is_string(v)) {
        snprintf(reason, sizeof(reason), "\"lastError\" is not a string");
        goto corrupt;
    }
    task->last_error = json_string_value(v);
    v = json_object_get(root, "poison");
    if (v != NULL && !json_is_object(v)) {
        snprintf(reason, sizeof(reason), "\"poison\" is not an object");
        goto corrupt;
    }
    /* kept alive by @keep_out with the rest */
    if (v != NULL && json_object_set(body, "poison", v) == 0)
        task->poison = v;
    task->taskinfo = taskinfo_validate(json_object_get(body, "taskInfo"), verr, sizeof(verr));
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
    *keep_out = body;
    *format_out = format;
    json_decref(root);
    return 0;

corrupt:
    corrupt(errstr, errstr_size, path, reason);
    json_decref(body);
    json_decref(root);
    return -1;
}

static int load_customer(store_t *store, const char *cid, store_visit_cb cb, void *arg,
                         size_t *migrated, char *errstr, size_t errstr_size)
{
    char *cid_dir = NULL, *path = NULL, tid[TASKINFO_ID_MAX + 1], msg[1024];
    name_list_t names = {0};
    stored_task_t task;
    json_t *keep;
    size_t i, len;
    int rc = -1, format;

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
        if (load_file(store, path, cid, tid, &task, &keep, &format, errstr, errstr_size) < 0)
            goto out;
        /* A plaintext file of an earlier version is sealed as soon as it is read. */
        if (format == STORE_FORMAT_PLAIN) {
            if (store_put(store, &task, msg, sizeof(msg)) < 0) {
                fail(errstr, errstr_size, "cannot encrypt state file %s: %s", path, msg);
                json_decref(task.taskinfo);
                json_decref(keep);
                goto out;
            }
            (*migrated)++;
        }
        rc = cb(&task, arg);
        json_decref(task.taskinfo);
        json_decref(keep);
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
    size_t i, migrated = 0;
    struct stat st;
    char *path = NULL;
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
        rc = load_customer(store, cid, cb, arg, &migrated, errstr, errstr_size);
        if (rc != 0)
            goto out;
        rc = -1;
    }
    rc = 0;

out:
    if (migrated > 0)
        log_info(NULL, "%zu plaintext state file%s (format %d) encrypted with %s (format %d)",
                 migrated, migrated == 1 ? "" : "s", STORE_FORMAT_PLAIN, store->key_path,
                 STORE_FORMAT);
    name_list_free(&cids);
    free(path);
    return rc;
}

/* ---- key file --------------------------------------------------------------------------- */

/* True when @path is a plaintext task file (format 1), which needs no key. */
static bool is_plain_task_file(const char *path)
{
    char ignored[512], *text;
    json_t *root, *v;
    size_t len;
    bool plain;

    text = read_file(path, &len, ignored, sizeof(ignored));
    if (text == NULL)
        return false;
    root = json_loadb(text, len, 0, NULL);
    wipe_free(text, len);
    v = json_object_get(root, "format");
    plain = json_is_integer(v) && json_integer_value(v) == STORE_FORMAT_PLAIN;
    json_decref(root);
    return plain;
}

/* Looks for a task file that may be sealed (any but a readable format 1 file): 1 and its path
 * in @found (malloc'd) when there is one, 0 when there is none, -1 on error. */
static int find_sealed_file(store_t *store, char **found, char *errstr, size_t errstr_size)
{
    name_list_t cids = {0}, names = {0};
    char *path = NULL;
    struct stat st;
    size_t i, j;
    int rc = -1;

    if (list_dir(store->tasks_dir, &cids, errstr, errstr_size) < 0)
        return -1;
    for (i = 0; i < cids.count; i++) {
        free(path);
        path = path_fmt("%s/%s", store->tasks_dir, cids.names[i]);
        if (path == NULL)
            goto nomem;
        /* Anything else there stops store_load_all with its own message. */
        if (lstat(path, &st) < 0 || !S_ISDIR(st.st_mode))
            continue;
        name_list_free(&names);
        if (list_dir(path, &names, errstr, errstr_size) < 0)
            goto out;
        for (j = 0; j < names.count; j++) {
            if (!has_suffix(names.names[j], TASK_SUFFIX))
                continue;
            *found = path_fmt("%s/%s", path, names.names[j]);
            if (*found == NULL)
                goto nomem;
            if (!is_plain_task_file(*found)) {
                rc = 1;
                goto out;
            }
            free(*found);
            *found = NULL;
        }
    }
    rc = 0;
    goto out;

nomem:
    fail(errstr, errstr_size, "out of memory");
out:
    name_list_free(&names);
    name_list_free(&cids);
    free(path);
    return rc;
}

/* Creates the key file with a new random key: 0 on success, 1 when it appeared meanwhile
 * (another symtaskd on the same state dir), -1 on error. */
static int key_create(store_t *store, char *errstr, size_t errstr_size)
{
    int fd;

    fd = open(store->key_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 && errno == EEXIST)
        return 1;
    if (fd < 0) {
        fail(errstr, errstr_size, "cannot create key file %s: %s", store->key_path,
             strerror(errno));
        return -1;
    }
    randombytes_buf(store->key, KEY_SIZE);
    /* fchmod: a umask like 0277 would leave the daemon a key file it cannot read */
    if (fchmod(fd, 0600) < 0 || write_all(fd, (const char *)store->key, KEY_SIZE) < 0 ||
        fsync(fd) < 0) {
        fail(errstr, errstr_size, "cannot write key file %s: %s", store->key_path, strerror(errno));
        close(fd);
        goto error;
    }
    if (close(fd) < 0) {
        fail(errstr, errstr_size, "cannot write key file %s: %s", store->key_path, strerror(errno));
        goto error;
    }
    if (sync_dir(store->dir, errstr, errstr_size) < 0)
        goto error;
    log_info(NULL,
             "created key file %s: task files cannot be read without it; back it up apart from "
             "the state dir",
             store->key_path);
    return 0;

error:
    unlink(store->key_path);
    sodium_memzero(store->key, KEY_SIZE);
    return -1;
}

/* Reads the key from the open key file @fd after checking its type, mode and size. */
static int key_read(store_t *store, int fd, char *errstr, size_t errstr_size)
{
    unsigned char buf[KEY_SIZE + 1];
    const char *path = store->key_path;
    size_t n = 0;
    struct stat st;
    ssize_t r;
    int rc = -1;

    /* fstat the open file, so that the mode checked is the mode of the file read */
    if (fstat(fd, &st) < 0) {
        fail(errstr, errstr_size, "cannot read key file %s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        fail(errstr, errstr_size, "cannot read key file %s: %s", path,
             S_ISDIR(st.st_mode) ? strerror(EISDIR) : "not a regular file");
        return -1;
    }
    if ((st.st_mode & 077) != 0) {
        fail(errstr, errstr_size, "key file %s is %s by other users (mode %04o); run: chmod 600 %s",
             path,
             (st.st_mode & 044)   ? "readable"
             : (st.st_mode & 022) ? "writable"
                                  : "accessible",
             (unsigned)(st.st_mode & 07777), path);
        return -1;
    }
    /* read one byte more than a key, so that a file grown since fstat is seen too */
    while (n < sizeof(buf)) {
        r = read(fd, buf + n, sizeof(buf) - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            fail(errstr, errstr_size, "cannot read key file %s: %s", path, strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    if (n != KEY_SIZE) {
        fail(errstr, errstr_size,
             "key file %s has %s%zu bytes, not %u: it is no key of symtaskd; restore it from a "
             "backup (symtaskd does not start without it)",
             path, n > KEY_SIZE ? "more than " : "", n > KEY_SIZE ? (size_t)KEY_SIZE : n,
             (unsigned)KEY_SIZE);
        goto out;
    }
    memcpy(store->key, buf, KEY_SIZE);
    rc = 0;

out:
    sodium_memzero(buf, sizeof(buf));
    return rc;
}

int store_key_read(const char *path, unsigned char key[STORE_KEY_SIZE], char *errstr,
                   size_t errstr_size)
{
    store_t tmp = {.key_path = (char *)path, .key = key};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fail(errstr, errstr_size, "cannot read key file %s: %s", path, strerror(errno));
        return -1;
    }
    int rc = key_read(&tmp, fd, errstr, errstr_size);
    close(fd);
    return rc;
}

/* Reads {state_dir}/store.key, or creates it on the first start. A new key is never made while
 * task files that may be sealed with the old one exist: they could not be read any more. */
static int key_load(store_t *store, char *errstr, size_t errstr_size)
{
    char *found = NULL;
    int fd, rc, attempt;

    for (attempt = 0; attempt < 2; attempt++) {
        fd = open(store->key_path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            rc = key_read(store, fd, errstr, errstr_size);
            close(fd);
            return rc;
        }
        if (errno != ENOENT) {
            fail(errstr, errstr_size, "cannot read key file %s: %s", store->key_path,
                 strerror(errno));
            return -1;
        }
        rc = find_sealed_file(store, &found, errstr, errstr_size);
        if (rc < 0)
            return -1;
        if (rc > 0) {
            fail(errstr, errstr_size,
                 "key file %s is missing but state file %s is encrypted with it (or is not a "
                 "plaintext task file); restore the key file from a backup (symtaskd does not "
                 "make a new key while task files need the old one)",
                 store->key_path, found);
            free(found);
            return -1;
        }
        rc = key_create(store, errstr, errstr_size);
        if (rc <= 0)
            return rc;
    }
    fail(errstr, errstr_size, "cannot read key file %s: %s", store->key_path, strerror(ENOENT));
    return -1;
}
