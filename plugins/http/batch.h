/* batch.h: one batch of rows through a model server, the same way for every plugin that
 * calls one: cut into requests of at most N rows, of even size, sent up to the concurrency
 * at once (http_client.h), a request to be split (the server refused it, or predicts one row
 * per request) sent again row by row, and what the answers mean for the batch. The plugin
 * writes the bodies and reads the answers. Private to plugins/. */
#ifndef SYMTASK_PLUGINS_BATCH_H
#define SYMTASK_PLUGINS_BATCH_H

#include <stddef.h>

#include "body.h"
#include "http_client.h"

/* One request: the batch rows it carries, its body and its answer. */
typedef struct mb_part {
    const size_t *rows; /* indices of the batch's rows */
    size_t n;
    body_t body;
    hc_request_t req;
    char headers[4][320]; /* room for the plugin's headers (req.headers point here) */
} mb_part_t;

/* What read() makes of a part's answer. */
enum {
    MB_DONE = 0,  /* its rows have their outputs, or a row error each */
    MB_SPLIT = 1, /* send its rows again, one per request */
    MB_RETRY = 2, /* the server cannot answer now: the batch waits (RETRIABLE) */
    MB_FATAL = 3, /* the task cannot go on */
};

typedef struct mb_ops {
    /* Writes part->body and sets part->req's method, target, body and headers. -1: out of
     * memory. */
    int (*build)(void *ctx, mb_part_t *part);
    /* Reads part->req's answer into the batch, or says what to do (MB_*), with a message in
     * @errstr for MB_RETRY and MB_FATAL. */
    int (*read)(void *ctx, mb_part_t *part, char *errstr, size_t errstr_size);
} mb_ops_t;

typedef struct mb {
    mb_part_t *parts;
    size_t cap;
    size_t *rows; /* the rows of every part, in order */
    size_t rows_cap;
    unsigned char *state;
} mb_t;

/* How long one call may send requests: with the last request's own timeout (at most 20 s)
 * it stays within the worker's heartbeat timeout (30 s by default). */
#define MB_CALL_BUDGET_MS 8000

/* Sends the batch rows @rows (@n_rows of them) in requests of at most @per_request rows and
 * reads the answers. SYMTASK_OK when every part is done; RETRIABLE or FATAL (message in
 * @errstr) as the first part that says so. */
symtask_status_t mb_run(mb_t *mb, hc_t *hc, const size_t *rows, size_t n_rows, size_t per_request,
                        const mb_ops_t *ops, void *ctx, char *errstr, size_t errstr_size);

/* Fills part->req for a request of @method to @target with part->body (when @method is
 * POST), keeping the answer's buffer. */
void mb_request(mb_part_t *part, const char *method, const char *target);

void mb_free(mb_t *mb);

#endif
