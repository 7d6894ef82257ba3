/* suspects.c: the suspect and quarantined records a worker is given (see suspects.h). */
#include "suspects.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct suspect_span {
    int32_t partition;
    int64_t from, to;
} suspect_span_t;

typedef struct quarantined {
    int32_t partition;
    int64_t offset;
    char *stage, *error;
} quarantined_t;

struct suspects {
    suspect_span_t *spans;
    size_t n_spans;
    quarantined_t *records;
    size_t n_records;
};

suspects_t *suspects_new(void)
{
    return calloc(1, sizeof(suspects_t));
}

static void suspects_clear(suspects_t *s)
{
    for (size_t i = 0; i < s->n_records; i++) {
        free(s->records[i].stage);
        free(s->records[i].error);
    }
    free(s->records);
    free(s->spans);
    memset(s, 0, sizeof(*s));
}

void suspects_free(suspects_t *s)
{
    if (s == NULL)
        return;
    suspects_clear(s);
    free(s);
}

static int int_in(json_t *v, json_int_t lo, json_int_t hi)
{
    return json_is_integer(v) && json_integer_value(v) >= lo && json_integer_value(v) <= hi;
}

int suspects_load(suspects_t *s, json_t *state, const char *topic, char *errstr, size_t errstr_size)
{
    suspects_clear(s);
    if (state == NULL || json_is_null(state))
        return 0;
    const char *st_topic = json_string_value(json_object_get(state, "topic"));
    json_t *spans = json_object_get(state, "suspects");
    json_t *records = json_object_get(state, "quarantined");
    if (st_topic == NULL || !json_is_array(spans) || !json_is_array(records)) {
        snprintf(errstr, errstr_size, "poison: not {\"topic\",\"suspects\",\"quarantined\"}");
        return -1;
    }
    if (strcmp(st_topic, topic) != 0)
        return 0; /* offsets of a topic the task no longer reads */
    s->spans = calloc(json_array_size(spans) + 1, sizeof(*s->spans));
    s->records = calloc(json_array_size(records) + 1, sizeof(*s->records));
    if (s->spans == NULL || s->records == NULL) {
        snprintf(errstr, errstr_size, "poison: out of memory");
        suspects_clear(s);
        return -1;
    }
    size_t i;
    json_t *v;
    json_array_foreach (spans, i, v) {
        json_t *part = json_object_get(v, "partition"), *from = json_object_get(v, "from"),
               *to = json_object_get(v, "to");
        if (!int_in(part, 0, INT32_MAX) || !int_in(from, 0, INT64_MAX) ||
            !int_in(to, json_integer_value(from), INT64_MAX)) {
            snprintf(errstr, errstr_size, "poison: suspect %zu is not {partition,from,to}", i);
            suspects_clear(s);
            return -1;
        }
        s->spans[s->n_spans++] = (suspect_span_t){(int32_t)json_integer_value(part),
                                                  json_integer_value(from), json_integer_value(to)};
    }
    json_array_foreach (records, i, v) {
        json_t *part = json_object_get(v, "partition"), *off = json_object_get(v, "offset");
        const char *stage = json_string_value(json_object_get(v, "stage"));
        const char *error = json_string_value(json_object_get(v, "error"));
        if (!int_in(part, 0, INT32_MAX) || !int_in(off, 0, INT64_MAX) || stage == NULL ||
            error == NULL) {
            snprintf(errstr, errstr_size,
                     "poison: quarantined record %zu is not {partition,offset,stage,error}", i);
            suspects_clear(s);
            return -1;
        }
        quarantined_t *q = &s->records[s->n_records++];
        q->partition = (int32_t)json_integer_value(part);
        q->offset = json_integer_value(off);
        q->stage = strdup(stage);
        q->error = strdup(error);
        if (q->stage == NULL || q->error == NULL) {
            snprintf(errstr, errstr_size, "poison: out of memory");
            suspects_clear(s);
            return -1;
        }
    }
    return 0;
}

int suspects_any(const suspects_t *s)
{
    return s->n_spans > 0 || s->n_records > 0;
}

int suspects_is_suspect(const suspects_t *s, int32_t partition, int64_t offset)
{
    for (size_t i = 0; i < s->n_spans; i++)
        if (s->spans[i].partition == partition && s->spans[i].from <= offset &&
            offset <= s->spans[i].to)
            return 1;
    return 0;
}

int suspects_quarantined(const suspects_t *s, int32_t partition, int64_t offset, const char **stage,
                         const char **error)
{
    for (size_t i = 0; i < s->n_records; i++) {
        if (s->records[i].partition == partition && s->records[i].offset == offset) {
            *stage = s->records[i].stage;
            *error = s->records[i].error;
            return 1;
        }
    }
    return 0;
}

/* Appends the span [partition, from, to] to the line being built. */
static int line_add(char **buf, size_t *len, size_t *cap, const hand_span_t *span, int first)
{
    if (*cap - *len < 80) {
        size_t cap2 = *cap * 2;
        char *grown = realloc(*buf, cap2);
        if (grown == NULL)
            return -1;
        *buf = grown;
        *cap = cap2;
    }
    *len += (size_t)snprintf(*buf + *len, *cap - *len, "%s[%" PRId32 ",%" PRId64 ",%" PRId64 "]",
                             first ? "" : ",", span->partition, span->from, span->to);
    return 0;
}

long suspects_batch_spans(rd_kafka_message_t *const *msgs, size_t n, hand_span_t **spans,
                          size_t *cap)
{
    /* a batch holds few partitions, and records of one partition come in runs, so the last
     * one found is tried first */
    size_t n_parts = 0, last = 0;
    for (size_t i = 0; i < n; i++) {
        const rd_kafka_message_t *m = msgs[i];
        if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR)
            continue;
        hand_span_t *parts = *spans;
        size_t k = last < n_parts && parts[last].partition == m->partition ? last : 0;
        while (k < n_parts && parts[k].partition != m->partition)
            k++;
        if (k == n_parts) {
            if (n_parts == *cap) {
                size_t cap2 = *cap ? 2 * *cap : 16;
                hand_span_t *grown = realloc(*spans, cap2 * sizeof(*grown));
                if (grown == NULL)
                    return -1;
                *spans = parts = grown;
                *cap = cap2;
            }
            parts[n_parts++] = (hand_span_t){m->partition, m->offset, m->offset};
        }
        last = k;
        if (m->offset < parts[k].from)
            parts[k].from = m->offset;
        if (m->offset > parts[k].to)
            parts[k].to = m->offset;
    }
    return (long)n_parts;
}

char *suspects_done_line(const hand_span_t *spans, size_t n, size_t *len)
{
    static const char head[] = "{\"type\":\"done\",\"offsets\":[";
    size_t cap = 256;
    char *buf = malloc(cap);
    if (buf == NULL)
        return NULL;
    memcpy(buf, head, sizeof(head) - 1);
    *len = sizeof(head) - 1;
    for (size_t j = 0; j < n; j++)
        if (line_add(&buf, len, &cap, &spans[j], j == 0) != 0)
            goto nomem;
    if (cap - *len < 4) {
        char *grown = realloc(buf, cap + 4);
        if (grown == NULL)
            goto nomem;
        buf = grown;
    }
    memcpy(buf + *len, "]}\n", 4);
    *len += 3;
    return buf;

nomem:
    free(buf);
    return NULL;
}
