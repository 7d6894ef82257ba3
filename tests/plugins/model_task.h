/* model_task.h: what the tests of the model-server plugins share (model_task.c): a plugin
 * dir, the test model server with a customers file of c1 and c2 (sign_vectors.h), a task's
 * stages opened from params, and batches of json records run through them. */
#ifndef SYMTASK_TESTS_MODEL_TASK_H
#define SYMTASK_TESTS_MODEL_TASK_H

#include <jansson.h>

#include "model_server.h"
#include "stages.h"

#define ROWS 64

typedef struct result {
    char *out;         /* the sink record (malloc'd), or NULL */
    const char *stage; /* where it failed, or NULL */
    char error[1024];
} result_t;

extern char dir[256];
extern stages_t *st;
extern json_t *params;
extern ms_t *ms;
extern char errstr[1024];
extern result_t results[ROWS];
/* Requests whose SymetryML signature the server may refuse (a test's wrong secret); any
 * other is a failure of the plugin's signing. */
extern unsigned long bad_signatures_allowed;
/* The params of every task of a test file, as JSON with one %s for the server's URL: each
 * test file defines it. */
extern const char *const mt_base_params;

void mt_setup(void);
void mt_teardown(void);
/* Starts the model server again, with @with's settings (NULL: none) and the customers. */
void mt_restart_server(const ms_config_t *with);

/* mt_base_params with @fragment ("k":"v",...) added or overriding. */
json_t *task_params(const char *fragment);
stages_t *try_open(const char *fragment);
void open_task(const char *fragment);
/* The task is refused with @needle in the message, which never shows a secret. */
void expect_refused(const char *fragment, const char *needle);
/* Runs @n records as one batch; returns predict's status (its message in errstr) and leaves
 * in results[i] what became of each record. */
symtask_status_t run(const char *const *records, size_t n);
void run_ok(const char *const *records, size_t n);
/* Record @i came out as @want. */
void expect_out(size_t i, const char *want);

#endif
