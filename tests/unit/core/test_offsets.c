/* test_offsets.c: the body of POST /tasks/{tid}/offsets (core/offsets.c). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "offsets.h"

static char errstr[512];

static json_t *parse(const char *body)
{
    errstr[0] = '\0';
    return offsets_request_parse(body, body != NULL ? strlen(body) : 0, errstr, sizeof(errstr));
}

Test(offsets, the_four_forms_are_accepted_as_they_are)
{
    static const char *const good[][2] = {
        {"{\"to\":\"earliest\"}", "\"earliest\""},
        {"{\"to\":\"latest\"}", "\"latest\""},
        {"{\"to\":{\"timestamp\":1700000000000}}", "{\"timestamp\":1700000000000}"},
        {"{\"to\":{\"partitions\":[{\"partition\":0,\"offset\":42},{\"offset\":0,\"partition\":3}]}"
         "}",
         "{\"partitions\":[{\"partition\":0,\"offset\":42},{\"offset\":0,\"partition\":3}]}"},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        json_t *to = parse(good[i][0]);
        cr_assert_not_null(to, "%s: %s", good[i][0], errstr);
        json_t *want = json_loads(good[i][1], JSON_DECODE_ANY, NULL);
        cr_assert(json_equal(to, want), "%s", good[i][0]);
        json_decref(want);
        json_decref(to);
    }
}

Test(offsets, every_bad_body_names_the_field)
{
    static const char *const bad[][2] = {
        {NULL, "the request has no body"},
        {"", "the request has no body"},
        {"{", "the body is not a JSON object: "},
        {"\"earliest\"", "the body is not a JSON object"},
        {"{\"to\":\"earliest\",\"to\":\"latest\"}", "the body is not a JSON object"},
        {"{\"from\":\"earliest\"}", "to: expected"},
        {"{\"to\":\"Earliest\"}", "to: expected"},
        {"{\"to\":42}", "to: expected"},
        {"{\"to\":{\"timestamp\":1,\"partitions\":[]}}", "to: expected"},
        {"{\"to\":{\"timestamp\":1.5}}", "to.timestamp: not a non-negative integer"},
        {"{\"to\":{\"partitions\":{}}}", "to.partitions: expected a non-empty array"},
        {"{\"to\":{\"partitions\":[1]}}", "to.partitions[0]: expected"},
        {"{\"to\":{\"partitions\":[{\"partition\":0,\"offset\":1,\"x\":2}]}}",
         "to.partitions[0]: expected"},
        {"{\"to\":{\"partitions\":[{\"partition\":-1,\"offset\":1}]}}",
         "to.partitions[0].partition: not a non-negative integer"},
        {"{\"to\":{\"partitions\":[{\"partition\":0,\"offset\":\"1\"}]}}",
         "to.partitions[0].offset: not a non-negative integer"},
        {"{\"to\":{\"partitions\":[{\"partition\":4294967296,\"offset\":1}]}}",
         "to.partitions[0].partition: too large"},
        {"{\"to\":{\"partitions\":[{\"partition\":1,\"offset\":1},{\"partition\":1,\"offset\":2}]}"
         "}",
         "to.partitions: partition 1 listed twice"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *to = parse(bad[i][0]);
        cr_assert_null(to, "accepted %s", bad[i][0] ? bad[i][0] : "(none)");
        cr_assert(strstr(errstr, bad[i][1]) != NULL, "%s: '%s' lacks '%s'",
                  bad[i][0] ? bad[i][0] : "(none)", errstr, bad[i][1]);
    }
}

/* The largest list is checked at once (no quadratic walk on the daemon's loop); one more is
 * refused. */
Test(offsets, ten_thousand_partitions_and_no_more)
{
    json_t *list = json_array();
    for (int i = 0; i < OFFSETS_PARTITIONS_MAX; i++)
        json_array_append_new(list, json_pack("{s:i, s:i}", "partition",
                                              OFFSETS_PARTITIONS_MAX - 1 - i, "offset", i));
    json_t *body = json_pack("{s:{s:O}}", "to", "partitions", list);
    char *text = json_dumps(body, JSON_COMPACT);
    json_t *to = parse(text);
    cr_assert_not_null(to, "%s", errstr);
    json_decref(to);
    free(text);
    json_array_append_new(list, json_pack("{s:i, s:i}", "partition", 0, "offset", 0));
    json_decref(body);
    body = json_pack("{s:{s:O}}", "to", "partitions", list);
    text = json_dumps(body, JSON_COMPACT);
    cr_assert_null(parse(text));
    cr_assert_str_eq(errstr, "to.partitions: more than 10000 partitions");
    free(text);
    json_decref(body);
    json_decref(list);
}
