/* offsets.c: the body of an offsets reset, checked in the daemon. */
#include "offsets.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OFFSETS_TO_EXPECTED                                                                        \
    "to: expected \"earliest\", \"latest\", {\"timestamp\":MS} or "                                \
    "{\"partitions\":[{\"partition\":N,\"offset\":N}]}"

static int offsets_nonnegative(json_t *v)
{
    return json_is_integer(v) && json_integer_value(v) >= 0;
}

static int offsets_cmp(const void *a, const void *b)
{
    json_int_t x = *(const json_int_t *)a, y = *(const json_int_t *)b;
    return x < y ? -1 : x > y;
}

/* Checks {"partitions":[...]}: 0 or -1 with a message. */
static int offsets_check_partitions(json_t *list, char *errstr, size_t errstr_size)
{
    if (!json_is_array(list) || json_array_size(list) == 0) {
        snprintf(errstr, errstr_size,
                 "to.partitions: expected a non-empty array of "
                 "{\"partition\":N,\"offset\":N}");
        return -1;
    }
    if (json_array_size(list) > OFFSETS_PARTITIONS_MAX) {
        snprintf(errstr, errstr_size, "to.partitions: more than %d partitions",
                 OFFSETS_PARTITIONS_MAX);
        return -1;
    }
    size_t n = json_array_size(list);
    json_int_t *seen = malloc(n * sizeof(*seen));
    if (seen == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    size_t i;
    json_t *entry;
    json_array_foreach (list, i, entry) {
        if (!json_is_object(entry) || json_object_size(entry) != 2) {
            snprintf(errstr, errstr_size,
                     "to.partitions[%zu]: expected {\"partition\":N,\"offset\":N}", i);
            goto error;
        }
        static const char *const keys[] = {"partition", "offset"};
        for (size_t k = 0; k < 2; k++) {
            if (!offsets_nonnegative(json_object_get(entry, keys[k]))) {
                snprintf(errstr, errstr_size, "to.partitions[%zu].%s: not a non-negative integer",
                         i, keys[k]);
                goto error;
            }
        }
        seen[i] = json_integer_value(json_object_get(entry, "partition"));
        if (seen[i] > INT32_MAX) {
            snprintf(errstr, errstr_size, "to.partitions[%zu].partition: too large", i);
            goto error;
        }
    }
    /* sorted, a partition listed twice stands beside itself: no quadratic walk on the loop */
    qsort(seen, n, sizeof(*seen), offsets_cmp);
    for (size_t k = 1; k < n; k++) {
        if (seen[k] == seen[k - 1]) {
            snprintf(errstr, errstr_size,
                     "to.partitions: partition %" JSON_INTEGER_FORMAT " listed twice", seen[k]);
            goto error;
        }
    }
    free(seen);
    return 0;

error:
    free(seen);
    return -1;
}

json_t *offsets_request_parse(const char *body, size_t len, char *errstr, size_t errstr_size)
{
    if (body == NULL || len == 0) {
        snprintf(errstr, errstr_size, "the request has no body: send {\"to\":...}");
        return NULL;
    }
    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(root)) {
        snprintf(errstr, errstr_size, "the body is not a JSON object%s%s", root == NULL ? ": " : "",
                 root == NULL ? jerr.text : "");
        json_decref(root);
        return NULL;
    }
    json_t *to = json_object_get(root, "to");
    if (to == NULL || json_object_size(root) != 1) {
        snprintf(errstr, errstr_size, "%s", OFFSETS_TO_EXPECTED);
        goto error;
    }
    const char *word = json_string_value(to);
    if (word != NULL && (strcmp(word, "earliest") == 0 || strcmp(word, "latest") == 0))
        goto ok;
    if (json_is_object(to) && json_object_size(to) == 1) {
        json_t *ts = json_object_get(to, "timestamp");
        if (ts != NULL) {
            if (!offsets_nonnegative(ts)) {
                snprintf(errstr, errstr_size,
                         "to.timestamp: not a non-negative integer (ms "
                         "since the epoch)");
                goto error;
            }
            goto ok;
        }
        json_t *list = json_object_get(to, "partitions");
        if (list != NULL) {
            if (offsets_check_partitions(list, errstr, errstr_size) != 0)
                goto error;
            goto ok;
        }
    }
    snprintf(errstr, errstr_size, "%s", OFFSETS_TO_EXPECTED);
error:
    json_decref(root);
    return NULL;
ok:
    json_incref(to);
    json_decref(root);
    return to;
}
