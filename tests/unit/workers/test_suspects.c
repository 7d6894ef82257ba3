/* test_suspects.c: workers/suspects.c, the worker's side of records that take workers down:
 * the daemon's suspect and quarantined records as the worker reads them, the spans of a batch
 * for the hand board and the done message it sends while it holds suspect records. */
#include <criterion/criterion.h>
#include <string.h>

#include "suspects.h"

static json_t *state(const char *text)
{
    json_t *v = json_loads(text, 0, NULL);
    cr_assert_not_null(v, "%s", text);
    return v;
}

#define STATE                                                                                      \
    "{\"topic\":\"in\",\"suspects\":[{\"partition\":2,\"from\":40,\"to\":60,\"kills\":1}],"        \
    "\"quarantined\":[{\"partition\":2,\"offset\":45,\"stage\":\"predict\",\"error\":\"worker "    \
    "killed by SIGSEGV while predicting this record\"}],\"quarantinedTotal\":1}"

Test(suspects, the_daemons_records_are_looked_up_per_partition)
{
    suspects_t *s = suspects_new();
    char errstr[256];
    cr_expect_eq(suspects_any(s), 0);
    json_t *st = state(STATE);
    cr_assert_eq(suspects_load(s, st, "in", errstr, sizeof(errstr)), 0, "%s", errstr);
    cr_expect_eq(suspects_any(s), 1);
    cr_expect_eq(suspects_is_suspect(s, 2, 40), 1);
    cr_expect_eq(suspects_is_suspect(s, 2, 60), 1);
    cr_expect_eq(suspects_is_suspect(s, 2, 61), 0);
    cr_expect_eq(suspects_is_suspect(s, 1, 50), 0, "another partition");
    const char *stage, *error;
    cr_assert_eq(suspects_quarantined(s, 2, 45, &stage, &error), 1);
    cr_expect_str_eq(stage, "predict");
    cr_expect_str_eq(error, "worker killed by SIGSEGV while predicting this record");
    cr_expect_eq(suspects_quarantined(s, 2, 46, &stage, &error), 0);

    /* a task that reads another topic now: nothing applies */
    cr_assert_eq(suspects_load(s, st, "other", errstr, sizeof(errstr)), 0);
    cr_expect_eq(suspects_any(s), 0);
    /* none at all */
    cr_assert_eq(suspects_load(s, NULL, "in", errstr, sizeof(errstr)), 0);
    cr_expect_eq(suspects_any(s), 0);
    json_decref(st);
    suspects_free(s);
}

Test(suspects, a_malformed_state_is_refused_and_leaves_nothing)
{
    static const char *const bad[] = {
        "{\"topic\":\"in\",\"suspects\":{},\"quarantined\":[]}",
        "{\"suspects\":[],\"quarantined\":[]}",
        "{\"topic\":\"in\",\"suspects\":[{\"partition\":0,\"from\":5,\"to\":4}],\"quarantined\":[]"
        "}",
        "{\"topic\":\"in\",\"suspects\":[],\"quarantined\":[{\"partition\":0,\"offset\":1}]}",
    };
    suspects_t *s = suspects_new();
    char errstr[256];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *st = state(STATE);
        cr_assert_eq(suspects_load(s, st, "in", errstr, sizeof(errstr)), 0);
        json_decref(st);
        st = state(bad[i]);
        cr_expect_eq(suspects_load(s, st, "in", errstr, sizeof(errstr)), -1, "%s", bad[i]);
        cr_expect(strncmp(errstr, "poison: ", 8) == 0, "%s", errstr);
        cr_expect_eq(suspects_any(s), 0, "%s", bad[i]);
        json_decref(st);
    }
    suspects_free(s);
}

Test(suspects, a_batch_is_one_span_per_partition)
{
    rd_kafka_message_t m[6] = {0}, *pm[6];
    const int parts[] = {0, 1, 0, 1, 0, 3};
    const int64_t offs[] = {7, 100, 8, 101, 9, 5};
    for (int i = 0; i < 6; i++) {
        m[i].partition = parts[i];
        m[i].offset = offs[i];
        pm[i] = &m[i];
    }
    m[5].err = RD_KAFKA_RESP_ERR__PARTITION_EOF; /* an event, not a record */
    hand_span_t *spans = NULL;
    size_t cap = 0;
    cr_assert_eq(suspects_batch_spans(pm, 6, &spans, &cap), 2);
    cr_expect_eq(spans[0].partition, 0);
    cr_expect_eq(spans[0].from, 7);
    cr_expect_eq(spans[0].to, 9);
    cr_expect_eq(spans[1].partition, 1);
    cr_expect_eq(spans[1].from, 100);
    cr_expect_eq(spans[1].to, 101);
    cr_expect_eq(suspects_batch_spans(pm + 5, 1, &spans, &cap), 0, "no record, no span");

    size_t len;
    char *line = suspects_done_line(spans, 2, &len);
    cr_assert_not_null(line);
    cr_expect_eq(len, strlen(line));
    cr_expect_str_eq(line, "{\"type\":\"done\",\"offsets\":[[0,7,9],[1,100,101]]}\n");
    free(line);
    free(spans);
}

Test(suspects, a_batch_of_many_partitions_names_each_once)
{
    enum { P = 200 };
    static rd_kafka_message_t m[2 * P];
    static rd_kafka_message_t *pm[2 * P];
    for (int i = 0; i < 2 * P; i++) {
        m[i].partition = i % P;
        m[i].offset = 1000000000000LL + i;
        pm[i] = &m[i];
    }
    hand_span_t *spans = NULL;
    size_t cap = 0;
    long n = suspects_batch_spans(pm, 2 * P, &spans, &cap);
    cr_assert_eq(n, P);
    cr_expect_geq(cap, P);
    int64_t covered = 0;
    for (long i = 0; i < n; i++)
        covered += spans[i].to - spans[i].from + 1;
    cr_expect_eq(covered, (int64_t)P * (P + 1), "each partition from its first to its last record");

    /* the done line of them all is valid JSON naming each */
    size_t len;
    char *line = suspects_done_line(spans, (size_t)n, &len);
    cr_assert_not_null(line);
    cr_expect_eq(line[len - 1], '\n');
    json_t *msg = json_loadb(line, len - 1, 0, NULL);
    cr_assert_not_null(msg, "%s", line);
    cr_expect_eq(json_array_size(json_object_get(msg, "offsets")), P);
    json_decref(msg);
    free(line);
    free(spans);
}
