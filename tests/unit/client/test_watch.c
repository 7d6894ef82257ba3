/* test_watch.c: the rows and plain lines of `symtask watch` (client/watch.c). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "watch.h"

static json_t *maps(const char *text)
{
    json_t *j = json_loads(text, 0, NULL);
    cr_assert_not_null(j, "%s", text);
    return j;
}

Test(watch, rates_come_from_the_counters_of_the_same_worker)
{
    json_t *before = maps("[{\"name\":\"t1\",\"status\":\"running\",\"pid\":\"10\","
                          "\"recordsIn\":\"100\",\"recordsOut\":\"90\",\"consumerLag\":\"5\","
                          "\"recordsDeadLetter\":\"1\",\"lastError\":\"\"},"
                          "{\"name\":\"t2\",\"status\":\"running\",\"pid\":\"11\","
                          "\"recordsIn\":\"50\",\"recordsOut\":\"50\"}]");
    json_t *now = maps("[{\"name\":\"t1\",\"status\":\"running\",\"pid\":\"10\","
                       "\"recordsIn\":\"300\",\"recordsOut\":\"190\",\"consumerLag\":\"7\","
                       "\"recordsDeadLetter\":\"2\",\"lastError\":\"a\\nb\"},"
                       "{\"name\":\"t2\",\"status\":\"restarting\",\"pid\":\"12\","
                       "\"recordsIn\":\"3\",\"recordsOut\":\"3\"},"
                       "{\"name\":\"t3\",\"status\":\"stopped\",\"pid\":\"\"}]");
    watch_row_t rows[4];
    size_t n = watch_rows(now, before, 2000, rows, 4);
    cr_assert_eq(n, 3);
    cr_assert_float_eq(rows[0].in_rate, 100.0, 1e-9);
    cr_assert_float_eq(rows[0].out_rate, 50.0, 1e-9);
    cr_assert_str_eq(rows[0].lag, "7");
    cr_assert_str_eq(rows[0].dead_letters, "2");
    cr_assert_str_eq(rows[0].last_error, "a b", "one line per task");
    /* another worker: its counters started again, no rate */
    cr_assert(rows[1].in_rate < 0);
    /* no earlier map */
    cr_assert(rows[2].in_rate < 0);
    cr_assert_eq(watch_rows(now, NULL, 1000, rows, 4), 3);
    cr_assert(rows[0].in_rate < 0);
    cr_assert_eq(watch_rows(now, before, 1000, rows, 2), 2, "at most cap rows");
    json_decref(before);
    json_decref(now);
}

Test(watch, plain_lines_quote_the_error)
{
    watch_row_t row = {.name = "t1",
                       .status = "failed",
                       .in_rate = -1,
                       .out_rate = 2.5,
                       .lag = "",
                       .dead_letters = "3",
                       .last_error = "bad \"x\""};
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    watch_print_lines(f, "2026-12-02T10:00:00Z", &row, 1);
    fclose(f);
    cr_assert_str_eq(buf, "2026-12-02T10:00:00Z t1 status=failed in/s=- out/s=2.5 lag=- "
                          "deadLetters=3 lastError=\"bad \\\"x\\\"\"\n");
    free(buf);
}
