/* batch.c: one batch of rows through a model server (batch.h). */
#include "batch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int mb_reserve(mb_t *mb, size_t parts, size_t rows)
{
    if (parts > mb->cap) {
        mb_part_t *p = realloc(mb->parts, parts * sizeof(*p));
        if (p == NULL)
            return -1;
        memset(p + mb->cap, 0, (parts - mb->cap) * sizeof(*p));
        mb->parts = p;
        unsigned char *s = realloc(mb->state, parts);
        if (s == NULL)
            return -1;
        mb->state = s;
        mb->cap = parts;
    }
    if (rows > mb->rows_cap) {
        size_t *r = realloc(mb->rows, rows * sizeof(*r));
        if (r == NULL)
            return -1;
        mb->rows = r;
        mb->rows_cap = rows;
    }
    return 0;
}

void mb_request(mb_part_t *part, const char *method, const char *target)
{
    hc_request_t *req = &part->req;
    char *answer = req->answer;
    size_t cap = req->answer_cap;
    memset(req, 0, sizeof(*req));
    req->answer = answer;
    req->answer_cap = cap;
    req->method = method;
    req->target = target;
    if (strcmp(method, "POST") == 0) {
        req->body = part->body.data != NULL ? part->body.data : "";
        req->body_len = part->body.len;
    }
}

/* Parts of even size over mb->rows[0, n): 500 rows at 128 a request are 4 of 125. */
static size_t mb_cut(mb_t *mb, size_t n, size_t per)
{
    size_t parts = (n + per - 1) / per, base = n / parts, extra = n % parts, first = 0;
    for (size_t i = 0; i < parts; i++) {
        mb->parts[i].rows = mb->rows + first;
        mb->parts[i].n = base + (i < extra);
        first += mb->parts[i].n;
    }
    return parts;
}

static long elapsed_ms(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

symtask_status_t mb_run(mb_t *mb, hc_t *hc, const size_t *rows, size_t n_rows, size_t per_request,
                        const mb_ops_t *ops, void *ctx, char *errstr, size_t errstr_size)
{
    char first_retry[1024] = "";
    struct timespec t0;
    int retry = 0;

    if (n_rows == 0)
        return SYMTASK_OK;
    if (per_request == 0)
        per_request = 1;
    size_t most = (n_rows + per_request - 1) / per_request;
    /* A second round sends rows one by one: room for each. */
    if (mb_reserve(mb, most > n_rows ? most : n_rows, 2 * n_rows) != 0)
        goto oom;
    memcpy(mb->rows, rows, n_rows * sizeof(*rows));
    size_t n = mb_cut(mb, n_rows, per_request);
    clock_gettime(CLOCK_MONOTONIC, &t0);

    for (int round = 0; round < 2 && n > 0; round++) {
        hc_request_t *reqs = NULL;
        for (size_t i = 0; i < n; i++)
            if (ops->build(ctx, &mb->parts[i]) != 0)
                goto oom;
        /* hc_run takes an array of requests: gather them, then hand the answers back. */
        reqs = malloc(n * sizeof(*reqs));
        if (reqs == NULL)
            goto oom;
        for (size_t i = 0; i < n; i++)
            reqs[i] = mb->parts[i].req;
        long spent = elapsed_ms(&t0);
        hc_run(hc, reqs, n, spent < MB_CALL_BUDGET_MS ? MB_CALL_BUDGET_MS - spent : 0);
        for (size_t i = 0; i < n; i++)
            mb->parts[i].req = reqs[i];
        free(reqs);

        size_t split = 0;
        for (size_t i = 0; i < n; i++) {
            char why[1024] = "";
            mb->state[i] = (unsigned char)ops->read(ctx, &mb->parts[i], why, sizeof(why));
            if (mb->state[i] == MB_FATAL) {
                snprintf(errstr, errstr_size, "%s", why);
                return SYMTASK_ERR_FATAL;
            }
            if (mb->state[i] == MB_RETRY && !retry) {
                retry = 1;
                snprintf(first_retry, sizeof(first_retry), "%s", why);
            }
            if (mb->state[i] == MB_SPLIT)
                split += mb->parts[i].n;
        }
        if (retry || split == 0)
            break;
        /* The rows of the parts to split, after those of this round, one part each. */
        size_t *next = mb->rows + n_rows, k = 0;
        for (size_t i = 0; i < n; i++)
            if (mb->state[i] == MB_SPLIT)
                for (size_t r = 0; r < mb->parts[i].n; r++)
                    next[k++] = mb->parts[i].rows[r];
        for (size_t i = 0; i < k; i++) {
            mb->parts[i].rows = next + i;
            mb->parts[i].n = 1;
        }
        n = k;
    }
    if (retry) {
        snprintf(errstr, errstr_size, "%s", first_retry);
        return SYMTASK_ERR_RETRIABLE;
    }
    return SYMTASK_OK;

oom:
    snprintf(errstr, errstr_size, "out of memory");
    return SYMTASK_ERR_FATAL;
}

void mb_free(mb_t *mb)
{
    for (size_t i = 0; i < mb->cap; i++) {
        body_free(&mb->parts[i].body);
        hc_request_free(&mb->parts[i].req);
    }
    free(mb->parts);
    free(mb->rows);
    free(mb->state);
    memset(mb, 0, sizeof(*mb));
}
