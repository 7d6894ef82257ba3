/* tasks.c: the registry of tasks held by the daemon. */
#include "daemon.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

static const char *const status_names[] = {
    [TASK_STOPPED] = "stopped",   [TASK_STARTING] = "starting",     [TASK_RUNNING] = "running",
    [TASK_STOPPING] = "stopping", [TASK_RESTARTING] = "restarting", [TASK_FAILED] = "failed",
    [TASK_PAUSED] = "paused",
};

const char *task_status_name(task_status_t status)
{
    return status_names[status];
}

uint64_t daemon_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

task_t *tasks_find(daemon_t *d, const char *cid, const char *tid)
{
    for (size_t i = 0; i < d->task_count; i++) {
        task_t *task = d->tasks[i];
        if (strcmp(task->cid, cid) == 0 && strcmp(task->tid, tid) == 0)
            return task;
    }
    return NULL;
}

/* Appends @task to a growable array of task pointers. */
static void task_array_push(task_t ***array, size_t *count, size_t *cap, task_t *task)
{
    if (*count == *cap) {
        size_t new_cap = *cap ? *cap * 2 : 16;
        task_t **grown = realloc(*array, new_cap * sizeof(*grown));
        if (grown == NULL) {
            log_error(NULL, "out of memory growing the task table");
            abort();
        }
        *array = grown;
        *cap = new_cap;
    }
    (*array)[(*count)++] = task;
}

static void task_array_remove(task_t **array, size_t *count, task_t *task)
{
    for (size_t i = 0; i < *count; i++) {
        if (array[i] == task) {
            array[i] = array[--*count];
            return;
        }
    }
}

task_t *tasks_add(daemon_t *d, const char *cid, const char *tid, json_t *taskinfo)
{
    task_t *task = calloc(1, sizeof(*task));
    if (task == NULL)
        return NULL;
    snprintf(task->cid, sizeof(task->cid), "%s", cid);
    snprintf(task->tid, sizeof(task->tid), "%s", tid);
    snprintf(task->tag, sizeof(task->tag), "%s/%s", cid, tid);
    task->taskinfo = json_incref(taskinfo);
    task->status = TASK_STOPPED;
    task_array_push(&d->tasks, &d->task_count, &d->task_cap, task);
    return task;
}

void tasks_remove(daemon_t *d, task_t *task)
{
    task_array_remove(d->tasks, &d->task_count, task);
    task->deleted = true;
    if (task_alive_workers(task) > 0)
        task_array_push(&d->retired, &d->retired_count, &d->retired_cap, task);
    else
        task_free(task);
}

void tasks_forget_retired(daemon_t *d, task_t *task)
{
    task_array_remove(d->retired, &d->retired_count, task);
}

void task_worker_free(task_worker_t *w)
{
    json_decref(w->stats);
    channel_reader_free(&w->chan_reader);
    if (w->hand_fd >= 0)
        close(w->hand_fd);
    free(w);
}

void task_free(task_t *task)
{
    json_decref(task->taskinfo);
    json_decref(task->stats);
    for (unsigned i = 0; i < task->worker_count; i++)
        task_worker_free(task->workers[i]);
    free(task->workers);
    poison_free(&task->poison);
    free(task);
}

unsigned task_alive_workers(const task_t *task)
{
    unsigned n = 0;
    for (unsigned i = 0; i < task->worker_count; i++)
        n += task->workers[i]->pid != 0;
    return n;
}

unsigned tasks_running_count(const daemon_t *d)
{
    unsigned n = 0;
    for (size_t i = 0; i < d->task_count; i++)
        if (d->tasks[i]->desired_running && d->tasks[i]->status != TASK_FAILED)
            n++;
    return n;
}

int tasks_save(daemon_t *d, task_t *task, char *errstr, size_t errstr_size)
{
    json_t *poison = poison_to_json(&task->poison);
    stored_task_t st = {
        .poison = poison,
        .taskinfo = task->taskinfo,
        .desired_running = task->desired_running,
        .desired_paused = task->desired_running && task->desired_paused,
        .last_error = task->last_error[0] ? task->last_error : NULL,
        .created = task->created,
        .updated = task->updated,
    };
    memcpy(st.cid, task->cid, sizeof(st.cid));
    memcpy(st.tid, task->tid, sizeof(st.tid));
    int rc = store_put(d->store, &st, errstr, errstr_size);
    json_decref(poison);
    return rc;
}
