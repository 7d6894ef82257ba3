/* poison.c: suspect offsets and quarantined records of a task (see poison.h). */
#include "poison.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "taskinfo.h"

/* Suspect spans a task keeps: the spans of adjacent records with equal counts merge, so only
 * a worker dying on ever new scattered offsets could reach it; the oldest are dropped then. */
#define POISON_SUSPECTS_MAX 4096
/* Spans one done message may name (one per partition of a batch). */
#define POISON_DONE_MAX HAND_SPANS_MAX

static void *grow(void *array, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return array;
    size_t cap2 = *cap ? *cap * 2 : 8;
    while (cap2 < need)
        cap2 *= 2;
    void *grown = realloc(array, cap2 * size);
    if (grown == NULL) {
        log_error(NULL, "out of memory for the suspect records of a task");
        abort();
    }
    *cap = cap2;
    return grown;
}

void poison_free(poison_t *p)
{
    free(p->topic);
    free(p->suspects);
    free(p->quarantined);
    memset(p, 0, sizeof(*p));
}

/* ---- The suspect spans ---------------------------------------------------------------- */

static int suspect_cmp(const void *a, const void *b)
{
    const poison_span_t *x = &((const poison_suspect_t *)a)->span;
    const poison_span_t *y = &((const poison_suspect_t *)b)->span;
    if (x->partition != y->partition)
        return x->partition < y->partition ? -1 : 1;
    return x->from < y->from ? -1 : x->from > y->from;
}

static void suspect_push(poison_t *p, int32_t partition, int64_t from, int64_t to, unsigned kills)
{
    if (from > to || kills == 0)
        return;
    p->suspects = grow(p->suspects, &p->cap_suspects, p->n_suspects + 1, sizeof(*p->suspects));
    p->suspects[p->n_suspects++] = (poison_suspect_t){{partition, from, to}, kills};
}

/* Sorts and merges adjacent spans of equal counts; drops the oldest past the limit. */
static void suspects_tidy(poison_t *p)
{
    qsort(p->suspects, p->n_suspects, sizeof(*p->suspects), suspect_cmp);
    size_t out = 0;
    for (size_t i = 0; i < p->n_suspects; i++) {
        poison_suspect_t *s = &p->suspects[i];
        poison_suspect_t *last = out > 0 ? &p->suspects[out - 1] : NULL;
        if (last != NULL && last->span.partition == s->span.partition && last->kills == s->kills &&
            last->span.to + 1 == s->span.from)
            last->span.to = s->span.to;
        else
            p->suspects[out++] = *s;
    }
    p->n_suspects = out;
    if (p->n_suspects > POISON_SUSPECTS_MAX) {
        size_t drop = p->n_suspects - POISON_SUSPECTS_MAX;
        memmove(p->suspects, p->suspects + drop, POISON_SUSPECTS_MAX * sizeof(*p->suspects));
        p->n_suspects = POISON_SUSPECTS_MAX;
    }
}

/* Adds @add (0 or 1) to the count of every record of @span: with 0 the span is taken out of
 * the suspects (its records were handled), with 1 it is in the hand of one more dead
 * worker. */
static void suspects_apply(poison_t *p, const poison_span_t *span, unsigned add)
{
    size_t n = p->n_suspects;
    int64_t cursor = span->from; /* first record of @span not yet covered by a suspect */
    for (size_t i = 0; i < n; i++) {
        poison_suspect_t s = p->suspects[i];
        if (s.span.partition != span->partition || s.span.to < span->from || s.span.from > span->to)
            continue;
        /* the parts of s outside @span keep their count; the part inside gets @add more,
         * or goes */
        p->suspects[i].kills = 0; /* dropped by the compaction below */
        suspect_push(p, s.span.partition, s.span.from, span->from - 1, s.kills);
        suspect_push(p, s.span.partition, span->to + 1, s.span.to, s.kills);
        int64_t lo = s.span.from > span->from ? s.span.from : span->from;
        int64_t hi = s.span.to < span->to ? s.span.to : span->to;
        if (add > 0) {
            suspect_push(p, span->partition, lo, hi, s.kills + add);
            if (lo > cursor)
                suspect_push(p, span->partition, cursor, lo - 1, add);
        }
        if (hi + 1 > cursor)
            cursor = hi + 1;
    }
    /* the spans are sorted and disjoint: what is left past the cursor is new */
    if (add > 0 && cursor <= span->to)
        suspect_push(p, span->partition, cursor, span->to, add);
    size_t out = 0;
    for (size_t i = 0; i < p->n_suspects; i++)
        if (p->suspects[i].kills > 0)
            p->suspects[out++] = p->suspects[i];
    p->n_suspects = out;
    suspects_tidy(p);
}

static unsigned suspects_kills(const poison_t *p, int32_t partition, int64_t offset)
{
    for (size_t i = 0; i < p->n_suspects; i++) {
        const poison_span_t *s = &p->suspects[i].span;
        if (s->partition == partition && s->from <= offset && offset <= s->to)
            return p->suspects[i].kills;
    }
    return 0;
}

static void quarantine(poison_t *p, int32_t partition, int64_t offset, const char *stage,
                       const char *error)
{
    if (p->n_quarantined == POISON_KEEP) {
        memmove(p->quarantined, p->quarantined + 1, (POISON_KEEP - 1) * sizeof(*p->quarantined));
        p->n_quarantined--;
    }
    p->quarantined =
        grow(p->quarantined, &p->cap_quarantined, p->n_quarantined + 1, sizeof(*p->quarantined));
    poison_record_t *r = &p->quarantined[p->n_quarantined++];
    r->partition = partition;
    r->offset = offset;
    snprintf(r->stage, sizeof(r->stage), "%s", stage);
    snprintf(r->error, sizeof(r->error), "%s", error);
    p->quarantined_total++;
}

/* ---- Worker messages and deaths ---------------------------------------------------------- */

static bool stage_valid(const char *stage)
{
    return stage != NULL && (strcmp(stage, "decode") == 0 || strcmp(stage, "predict") == 0 ||
                             strcmp(stage, "encode") == 0);
}

/* Whether @offsets is [[partition, from, to], ...], at most POISON_DONE_MAX of them. */
static bool spans_valid(json_t *offsets)
{
    if (!json_is_array(offsets) || json_array_size(offsets) > POISON_DONE_MAX)
        return false;
    size_t i;
    json_t *v;
    json_array_foreach (offsets, i, v) {
        json_t *part = json_array_get(v, 0), *from = json_array_get(v, 1),
               *to = json_array_get(v, 2);
        if (json_array_size(v) != 3 || !json_is_integer(part) || !json_is_integer(from) ||
            !json_is_integer(to) || json_integer_value(part) < 0 ||
            json_integer_value(part) > INT32_MAX || json_integer_value(from) < 0 ||
            json_integer_value(to) < json_integer_value(from))
            return false;
    }
    return true;
}

int poison_on_message(poison_t *p, json_t *msg, const char *tag)
{
    const char *type = json_string_value(json_object_get(msg, "type"));
    if (type == NULL || strcmp(type, "done") != 0)
        return 0;
    json_t *offsets = json_object_get(msg, "offsets");
    if (!spans_valid(offsets)) {
        log_warn(tag, "worker sent a malformed done message; ignored");
        return 1;
    }
    /* these records went through every stage: whatever took a worker down, not them */
    size_t i;
    json_t *v;
    json_array_foreach (offsets, i, v) {
        if (p->n_suspects == 0)
            break;
        poison_span_t span = {(int32_t)json_integer_value(json_array_get(v, 0)),
                              json_integer_value(json_array_get(v, 1)),
                              json_integer_value(json_array_get(v, 2))};
        suspects_apply(p, &span, 0);
    }
    return 1;
}

static const char *stage_verb(hand_stage_t stage)
{
    return stage == HAND_DECODE ? "decoding" : stage == HAND_ENCODE ? "encoding" : "predicting";
}

poison_verdict_t poison_on_death(poison_t *p, int board, json_t *taskinfo, const char *cause,
                                 const char *tag, char *message, size_t message_size)
{
    message[0] = '\0';
    hand_stage_t stage = HAND_IDLE;
    poison_span_t *spans = NULL;
    size_t n = 0;
    char errstr[256];
    if (board < 0)
        return POISON_NONE;
    if (hand_board_read(board, &stage, &spans, &n, errstr, sizeof(errstr)) != 0) {
        log_warn(tag, "%s: no record is suspect", errstr);
        return POISON_NONE;
    }
    if (stage == HAND_IDLE)
        return POISON_NONE;
    const char *topic = taskinfo_param(taskinfo, "sml.kstream.source.topic", "");
    if (p->topic == NULL || strcmp(p->topic, topic) != 0) {
        poison_free(p);
        p->topic = strdup(topic);
        if (p->topic == NULL) {
            log_error(tag, "out of memory for the suspect records");
            abort();
        }
    }
    for (size_t i = 0; i < n; i++)
        suspects_apply(p, &spans[i], 1);

    uint64_t max =
        taskinfo_param_uint(taskinfo, "sml.kstream.poison.max", TASKINFO_POISON_MAX_DEFAULT);
    poison_verdict_t verdict = POISON_SUSPECT;
    const poison_span_t *s = &spans[0];
    unsigned kills = n == 1 && s->from == s->to ? suspects_kills(p, s->partition, s->from) : 0;
    if (kills >= max) {
        char error[160];
        snprintf(error, sizeof(error), "%s while %s this record", cause, stage_verb(stage));
        suspects_apply(p, s, 0);
        quarantine(p, s->partition, s->from, hand_stage_name(stage), error);
        bool none =
            strcmp(taskinfo_param(taskinfo, "sml.kstream.errors.tolerance", "all"), "none") == 0;
        if (none) {
            snprintf(message, message_size,
                     "record %s[%" PRId32 "]@%" PRId64 " took down %u workers (%s); "
                     "sml.kstream.errors.tolerance = none stops the task",
                     topic, s->partition, s->from, kills, error);
            verdict = POISON_FAIL;
        } else {
            log_warn(tag,
                     "record %s[%" PRId32 "]@%" PRId64 " took down %u workers (%s): "
                     "quarantined, the next worker sends it to the dead letters",
                     topic, s->partition, s->from, kills, error);
        }
    } else {
        log_warn(tag,
                 "%s while %s %s[%" PRId32 "]@%" PRId64 "..%" PRId64 "%s: %s suspect, the next "
                 "worker handles %s one record at a time",
                 cause, stage_verb(stage), topic, s->partition, s->from, s->to,
                 n > 1 ? " and more" : "",
                 n > 1 || s->from != s->to ? "these records are" : "this record is",
                 n > 1 || s->from != s->to ? "them" : "it");
    }
    free(spans);
    return verdict;
}

/* ---- The state as JSON -------------------------------------------------------------------- */

json_t *poison_to_json(const poison_t *p)
{
    if (p->topic == NULL && p->quarantined_total == 0)
        return NULL;
    json_t *suspects = json_array(), *quarantined = json_array();
    for (size_t i = 0; i < p->n_suspects; i++) {
        const poison_suspect_t *s = &p->suspects[i];
        json_array_append_new(suspects,
                              json_pack("{s:i, s:I, s:I, s:i}", "partition", (int)s->span.partition,
                                        "from", (json_int_t)s->span.from, "to",
                                        (json_int_t)s->span.to, "kills", (int)s->kills));
    }
    for (size_t i = 0; i < p->n_quarantined; i++) {
        const poison_record_t *r = &p->quarantined[i];
        json_array_append_new(
            quarantined, json_pack("{s:i, s:I, s:s, s:s}", "partition", (int)r->partition, "offset",
                                   (json_int_t)r->offset, "stage", r->stage, "error", r->error));
    }
    return json_pack("{s:s, s:o, s:o, s:I}", "topic", p->topic ? p->topic : "", "suspects",
                     suspects, "quarantined", quarantined, "quarantinedTotal",
                     (json_int_t)p->quarantined_total);
}

static bool int_in(json_t *v, json_int_t lo, json_int_t hi)
{
    return json_is_integer(v) && json_integer_value(v) >= lo && json_integer_value(v) <= hi;
}

int poison_from_json(poison_t *p, json_t *state, const char *topic, char *errstr,
                     size_t errstr_size)
{
    poison_free(p);
    if (state == NULL)
        return 0;
    const char *st_topic = json_string_value(json_object_get(state, "topic"));
    json_t *suspects = json_object_get(state, "suspects");
    json_t *quarantined = json_object_get(state, "quarantined");
    json_t *total = json_object_get(state, "quarantinedTotal");
    if (!json_is_object(state) || st_topic == NULL || !json_is_array(suspects) ||
        !json_is_array(quarantined) || !int_in(total, 0, INT64_MAX)) {
        snprintf(errstr, errstr_size,
                 "\"poison\" is not {\"topic\",\"suspects\",\"quarantined\",\"quarantinedTotal\"}");
        return -1;
    }
    size_t i;
    json_t *v;
    json_array_foreach (suspects, i, v) {
        json_t *from = json_object_get(v, "from");
        if (!int_in(json_object_get(v, "partition"), 0, INT32_MAX) || !int_in(from, 0, INT64_MAX) ||
            !int_in(json_object_get(v, "to"), json_integer_value(from), INT64_MAX) ||
            !int_in(json_object_get(v, "kills"), 1, 1000000)) {
            snprintf(errstr, errstr_size,
                     "\"poison\": suspect %zu is not {partition,from,to,kills}", i);
            poison_free(p);
            return -1;
        }
        suspect_push(p, (int32_t)json_integer_value(json_object_get(v, "partition")),
                     json_integer_value(from), json_integer_value(json_object_get(v, "to")),
                     (unsigned)json_integer_value(json_object_get(v, "kills")));
    }
    json_array_foreach (quarantined, i, v) {
        const char *stage = json_string_value(json_object_get(v, "stage"));
        const char *error = json_string_value(json_object_get(v, "error"));
        if (!int_in(json_object_get(v, "partition"), 0, INT32_MAX) ||
            !int_in(json_object_get(v, "offset"), 0, INT64_MAX) || !stage_valid(stage) ||
            error == NULL) {
            snprintf(errstr, errstr_size,
                     "\"poison\": quarantined record %zu is not {partition,offset,stage,error}", i);
            poison_free(p);
            return -1;
        }
        quarantine(p, (int32_t)json_integer_value(json_object_get(v, "partition")),
                   json_integer_value(json_object_get(v, "offset")), stage, error);
    }
    p->quarantined_total = (uint64_t)json_integer_value(total);
    if (strcmp(st_topic, topic) != 0) {
        /* the task reads another topic now: those offsets say nothing about it */
        uint64_t kept_total = p->quarantined_total;
        poison_free(p);
        p->quarantined_total = kept_total;
        return 0;
    }
    suspects_tidy(p);
    p->topic = strdup(st_topic);
    if (p->topic == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    return 0;
}
