/* store.h: task definitions and desired states kept under state.dir, one file per task,
 * written atomically (write temp, fsync, rename, fsync dir), the TaskInfo and last error
 * encrypted with {state.dir}/store.key (docs/security.md "Encryption at rest"). Private to
 * core/. */
#ifndef SYMTASK_CORE_STORE_H
#define SYMTASK_CORE_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

typedef struct store store_t;

/* One stored task. The file is {state.dir}/tasks/{cid}/{tid}.task holding JSON:
 * {"format":2,"cid":..,"tid":..,"sealedTaskInfo":"base64","desired":"running"|"stopped",
 *  ["paused":true,] "created":"ISO-8601","updated":"ISO-8601","poison":{..}} ("paused" only with desired
 * running: a started task that fetches nothing; absent means false), where sealedTaskInfo =
 * base64(nonce(24) || XChaCha20-Poly1305 of {"taskInfo":{..},"lastError":".."} with store.key and
 * additional data "cid/tid"). Format 1, of earlier versions, held "taskInfo" and "lastError" in
 * clear. */
typedef struct stored_task {
    char cid[129];
    char tid[129];
    json_t *taskinfo; /* normalised TaskInfo (see taskinfo.h); borrowed on put, owned by
                         the visitor's argument on load (the callback must incref to keep) */
    bool desired_running;
    bool desired_paused;    /* with desired_running: paused (docs/operations.md) */
    const char *last_error; /* may be NULL */
    json_t *poison; /* suspect and quarantined records (core/poison.h), in clear, or NULL;
                       borrowed, like taskinfo */
    time_t created;
    time_t updated;
} stored_task_t;

/* Opens (creating with mode 0700 if needed) {state_dir} and {state_dir}/tasks, and reads the
 * 32-byte key {state_dir}/store.key, creating it (mode 0600) on the first start. Refuses a
 * state dir it cannot write, a key file other users may access ("run: chmod 600 F") or of
 * another size, and a missing key file while task files it may have sealed exist (a new key
 * could not read them); the message names the path and the reason. */
store_t *store_open(const char *state_dir, char *errstr, size_t errstr_size);

typedef int (*store_visit_cb)(const stored_task_t *task, void *arg);

/* Calls @cb for every stored task. A format 1 (plaintext) file is rewritten encrypted before
 * its @cb, and one line logs how many were. Any unreadable, unparseable or invalid file (wrong
 * format, cid/tid not matching its path, a sealed part that store.key cannot decrypt there,
 * TaskInfo failing taskinfo_validate) stops the load with -1 and a message naming the file and
 * the reason ("state file F is corrupt: ...; move it aside or restore it, symtaskd will not
 * start without it"): a file is never skipped or deleted. Leftover *.tmp files from an
 * interrupted write are removed. A non-zero return of @cb stops the walk and is returned. */
int store_load_all(store_t *store, store_visit_cb cb, void *arg, char *errstr, size_t errstr_size);

/* Writes one task atomically, creating its customer directory. -1 with a message on failure;
 * the previous version of the file is then untouched. */
int store_put(store_t *store, const stored_task_t *task, char *errstr, size_t errstr_size);

/* Removes a task's file (and its customer directory when empty). Removing a task that is not
 * stored is not an error. */
int store_delete(store_t *store, const char *cid, const char *tid, char *errstr,
                 size_t errstr_size);

const char *store_dir(const store_t *store);

/* The store's sealing with another key (the cluster key, docs/cluster.md). */
#define STORE_KEY_SIZE 32
/* base64(nonce || XChaCha20-Poly1305(@plain, @key, additional data "cid/tid")), a new JSON
 * string, or NULL when out of memory. */
json_t *store_seal(const unsigned char key[STORE_KEY_SIZE], const char *cid, const char *tid,
                   const char *plain, size_t plain_len);
/* Opens what store_seal made for the same cid/tid into a new NUL-terminated @plain (free it
 * with store_wipe_free). 0; -1 with @reason (naming @key_name) when it does not open; -2 when
 * out of memory. */
int store_unseal(const unsigned char key[STORE_KEY_SIZE], const char *key_name, const char *cid,
                 const char *tid, const char *b64, char **plain, size_t *plain_len, char *reason,
                 size_t reason_size);
void store_wipe_free(char *plain, size_t len);
/* Reads a key file of STORE_KEY_SIZE bytes that only its owner may access (the checks of
 * store.key). */
int store_key_read(const char *path, unsigned char key[STORE_KEY_SIZE], char *errstr,
                   size_t errstr_size);

void store_close(store_t *store);

#endif
