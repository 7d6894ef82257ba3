/* test_poison.c: core/poison.c, the suspect and quarantined records of a task: what a dead
 * worker's hand board leaves suspect, when a record is quarantined, what a done message
 * clears, and the state's JSON for the store and the workers. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hand.h"
#include "log.h"
#include "poison.h"

static json_t *taskinfo_with(const char *params_json)
{
    char text[1024];
    snprintf(text, sizeof(text),
             "{\"type\":\"kstream\",\"name\":\"t\",\"params\":{\"sml.kstream.source.topic\":"
             "\"in\"%s%s}}",
             params_json[0] ? "," : "", params_json);
    json_t *doc = json_loads(text, 0, NULL);
    cr_assert_not_null(doc);
    return doc;
}

/* The task of each test: its poison state, its worker's hand board (the daemon's fd and the
 * worker's mapping), its TaskInfo (the test sets it) and the message of the last death; fini
 * frees them. */
static poison_t p;
static int board_fd = -1;
static hand_board_t *board;
static json_t *ti;
static char message[512];

/* Feeds one worker message given as JSON text. */
static int feed(const char *text)
{
    json_t *msg = json_loads(text, 0, NULL);
    cr_assert_not_null(msg, "%s", text);
    int r = poison_on_message(&p, msg, "c/t");
    json_decref(msg);
    return r;
}

/* The worker writes a batch of @n spans (partition, from, to, ...) on its board, in @stage. */
static void hold(hand_stage_t stage, size_t n, ...)
{
    hand_span_t spans[8];
    cr_assert_leq(n, 8);
    va_list ap;
    va_start(ap, n);
    for (size_t i = 0; i < n; i++) {
        spans[i].partition = va_arg(ap, int);
        spans[i].from = va_arg(ap, int);
        spans[i].to = va_arg(ap, int);
    }
    va_end(ap);
    cr_assert_eq(hand_board_begin(board, spans, n), 0);
    hand_board_stage(board, stage);
}

/* The plugins came back for the batch in hand (the worker held suspects: it says which). */
static void done(const char *offsets)
{
    hand_board_stage(board, HAND_IDLE);
    char text[256];
    snprintf(text, sizeof(text), "{\"type\":\"done\",\"offsets\":%s}", offsets);
    cr_expect_eq(feed(text), 1, "%s", text);
}

/* The worker died of @cause: the daemon reads its board. */
static poison_verdict_t die(const char *cause)
{
    return poison_on_death(&p, board_fd, ti, cause, "c/t", message, sizeof(message));
}

static void init(void)
{
    log_init(LOG_FORMAT_CHILD, LOG_ERROR);
    board_fd = hand_board_create();
    cr_assert_geq(board_fd, 0);
    char errstr[256];
    board = hand_board_open(dup(board_fd), errstr, sizeof(errstr));
    cr_assert_not_null(board, "%s", errstr);
}

static void fini(void)
{
    json_decref(ti);
    hand_board_close(board);
    close(board_fd);
    poison_free(&p);
}

TestSuite(poison, .init = init, .fini = fini);

Test(poison, a_batch_in_hand_at_a_death_becomes_suspect_and_its_culprit_is_quarantined)
{
    ti = taskinfo_with("");

    hold(HAND_PREDICT, 2, 2, 40, 60, 0, 7, 9);
    cr_expect_eq(die("worker killed by SIGSEGV"), POISON_SUSPECT);
    cr_assert_eq(p.n_suspects, 2);
    cr_expect_eq(p.suspects[0].span.partition, 0);
    cr_expect_eq(p.suspects[1].span.from, 40);
    cr_expect_eq(p.suspects[1].span.to, 60);
    cr_expect_eq(p.suspects[1].kills, 1);
    cr_expect_eq(p.n_quarantined, 0);

    /* the next worker: 40 to 44 one at a time, then 45 takes it down */
    for (int o = 40; o < 45; o++) {
        char offsets[64];
        hold(HAND_ENCODE, 1, 2, o, o);
        snprintf(offsets, sizeof(offsets), "[[2,%d,%d]]", o, o);
        done(offsets);
    }
    cr_assert_eq(p.n_suspects, 2);
    cr_expect_eq(p.suspects[1].span.from, 45, "handled records are no longer suspect");
    hold(HAND_PREDICT, 1, 2, 45, 45);
    cr_expect_eq(die("worker killed by SIGSEGV"), POISON_SUSPECT);
    cr_assert_eq(p.n_quarantined, 1);
    cr_expect_eq(p.quarantined[0].partition, 2);
    cr_expect_eq(p.quarantined[0].offset, 45);
    cr_expect_str_eq(p.quarantined[0].stage, "predict");
    cr_expect_str_eq(p.quarantined[0].error,
                     "worker killed by SIGSEGV while predicting this record");
    cr_expect_eq(p.quarantined_total, 1);
    /* 46 to 60 stay suspect, once */
    cr_assert_eq(p.n_suspects, 2);
    cr_expect_eq(p.suspects[1].span.from, 46);
    cr_expect_eq(p.suspects[1].span.to, 60);
    cr_expect_eq(p.suspects[1].kills, 1);
}

Test(poison, the_stage_is_named_truthfully)
{
    static const struct {
        hand_stage_t in;
        const char *stage, *error;
    } cases[] = {
        {HAND_DECODE, "decode", "no heartbeat for 30000 ms while decoding this record"},
        {HAND_PREDICT, "predict", "no heartbeat for 30000 ms while predicting this record"},
        {HAND_ENCODE, "encode", "no heartbeat for 30000 ms while encoding this record"},
    };
    ti = taskinfo_with("\"sml.kstream.poison.max\":\"1\"");
    for (size_t i = 0; i < 3; i++) {
        hold(cases[i].in, 1, 0, 5, 5);
        /* poison.max 1 and the record alone in hand: quarantined at once */
        cr_expect_eq(die("no heartbeat for 30000 ms"), POISON_SUSPECT);
        cr_assert_eq(p.n_quarantined, 1);
        cr_expect_str_eq(p.quarantined[0].stage, cases[i].stage);
        cr_expect_str_eq(p.quarantined[0].error, cases[i].error);
        cr_expect_eq(p.n_suspects, 0);
        /* the next stage starts afresh */
        poison_free(&p);
    }
}

Test(poison, a_record_is_quarantined_only_when_it_was_alone_in_hand)
{
    ti = taskinfo_with("\"sml.kstream.poison.max\":\"1\"");
    for (int i = 0; i < 3; i++) {
        hold(HAND_DECODE, 1, 0, 1, 2);
        cr_expect_eq(die("worker killed by SIGKILL"), POISON_SUSPECT);
    }
    cr_expect_eq(p.n_quarantined, 0);
    cr_assert_eq(p.n_suspects, 1);
    cr_expect_eq(p.suspects[0].kills, 3);
    /* two partitions of one record each: not alone either */
    hold(HAND_DECODE, 2, 0, 1, 1, 1, 1, 1);
    die("worker killed by SIGKILL");
    cr_expect_eq(p.n_quarantined, 0);
}

Test(poison, overlapping_deaths_count_per_record)
{
    ti = taskinfo_with("");
    hold(HAND_DECODE, 2, 0, 0, 10, 0, 20, 30);
    die("worker killed by SIGSEGV");
    hold(HAND_DECODE, 1, 0, 5, 25);
    die("worker killed by SIGSEGV");
    static const struct {
        int64_t from, to;
        unsigned kills;
    } want[] = {{0, 4, 1}, {5, 10, 2}, {11, 19, 1}, {20, 25, 2}, {26, 30, 1}};
    cr_assert_eq(p.n_suspects, 5);
    for (size_t i = 0; i < 5; i++) {
        cr_expect_eq(p.suspects[i].span.from, want[i].from, "span %zu", i);
        cr_expect_eq(p.suspects[i].span.to, want[i].to, "span %zu", i);
        cr_expect_eq(p.suspects[i].kills, want[i].kills, "span %zu", i);
    }
    /* a finished batch over all of it clears every count */
    hold(HAND_ENCODE, 1, 0, 0, 30);
    done("[[0,0,30]]");
    cr_expect_eq(p.n_suspects, 0);
}

Test(poison, with_tolerance_none_the_verdict_fails_the_task_naming_the_record)
{
    ti = taskinfo_with("\"sml.kstream.errors.tolerance\":\"none\"");
    for (int i = 0; i < 2; i++) {
        hold(HAND_PREDICT, 1, 3, 41, 41);
        poison_verdict_t v = die("worker killed by SIGABRT");
        cr_expect_eq(v, i == 0 ? POISON_SUSPECT : POISON_FAIL);
    }
    cr_expect_str_eq(message, "record in[3]@41 took down 2 workers (worker killed by SIGABRT "
                              "while predicting this record); sml.kstream.errors.tolerance = "
                              "none stops the task");
    cr_expect_eq(p.n_quarantined, 1, "kept: a start as it is stops at the record again");
}

Test(poison, nothing_in_hand_changes_nothing)
{
    ti = taskinfo_with("");
    cr_expect_eq(die("worker killed by SIGKILL"), POISON_NONE);
    hold(HAND_ENCODE, 1, 0, 1, 2);
    done("[[0,1,2]]");
    cr_expect_eq(die("worker killed by SIGKILL"), POISON_NONE);
    cr_expect_eq(
        poison_on_death(&p, -1, ti, "worker killed by SIGKILL", "c/t", message, sizeof(message)),
        POISON_NONE, "a worker without a board");
    cr_expect_null(poison_to_json(&p), "nothing to keep");
    /* other messages are not this module's */
    cr_expect_eq(feed("{\"type\":\"heartbeat\"}"), 0);
    cr_expect_eq(feed("{\"no\":\"type\"}"), 0);
}

Test(poison, malformed_done_messages_clear_nothing)
{
    static const char *const bad[] = {
        "{\"type\":\"done\",\"offsets\":[[0,5,4]]}",
        "{\"type\":\"done\",\"offsets\":[[-1,1,2]]}",
        "{\"type\":\"done\",\"offsets\":[[0,1]]}",
        "{\"type\":\"done\",\"offsets\":[[0,\"1\",2]]}",
        "{\"type\":\"done\",\"offsets\":{}}",
        "{\"type\":\"done\"}",
    };
    ti = taskinfo_with("");
    hold(HAND_DECODE, 1, 0, 1, 9);
    die("worker killed by SIGSEGV");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_expect_eq(feed(bad[i]), 1, "%s", bad[i]);
        cr_assert_eq(p.n_suspects, 1, "%s", bad[i]);
        cr_expect_eq(p.suspects[0].span.from, 1, "%s", bad[i]);
        cr_expect_eq(p.suspects[0].span.to, 9, "%s", bad[i]);
    }
}

Test(poison, a_board_no_worker_wrote_leaves_nothing_suspect)
{
    ti = taskinfo_with("");
    hold(HAND_PREDICT, 1, 0, 1, 9);
    uint32_t stage = 9; /* the stage word of the board (hand.c) */
    cr_assert_eq(pwrite(board_fd, &stage, sizeof(stage), 8), (ssize_t)sizeof(stage));
    cr_expect_eq(die("worker killed by SIGSEGV"), POISON_NONE);
    cr_expect_eq(p.n_suspects, 0);
}

Test(poison, the_state_goes_through_json)
{
    poison_t q = {0};
    ti = taskinfo_with("");
    char errstr[256];
    hold(HAND_DECODE, 1, 1, 10, 20);
    die("worker killed by SIGSEGV");
    hold(HAND_ENCODE, 1, 1, 12, 12);
    die("worker killed by SIGSEGV");
    json_t *state = poison_to_json(&p);
    cr_assert_not_null(state);
    cr_assert_eq(poison_from_json(&q, state, "in", errstr, sizeof(errstr)), 0, "%s", errstr);
    json_t *again = poison_to_json(&q);
    cr_expect(json_equal(state, again));
    cr_expect_eq(q.quarantined_total, 1);
    cr_expect_str_eq(q.quarantined[0].error, "worker killed by SIGSEGV while encoding this record");
    json_decref(again);

    /* a task that reads another topic now keeps no offset, only the count */
    cr_assert_eq(poison_from_json(&q, state, "other", errstr, sizeof(errstr)), 0);
    cr_expect_eq(q.n_suspects, 0);
    cr_expect_eq(q.n_quarantined, 0);
    cr_expect_eq(q.quarantined_total, 1);

    json_object_set_new(
        state, "suspects",
        json_pack("[{s:i, s:i, s:i, s:i}]", "partition", 0, "from", 5, "to", 4, "kills", 1));
    cr_expect_eq(poison_from_json(&q, state, "in", errstr, sizeof(errstr)), -1);
    cr_expect_str_eq(errstr, "\"poison\": suspect 0 is not {partition,from,to,kills}");
    json_decref(state);
    state = json_pack("{s:s}", "topic", "in");
    cr_expect_eq(poison_from_json(&q, state, "in", errstr, sizeof(errstr)), -1);
    json_decref(state);
    poison_free(&q);
}

Test(poison, quarantined_records_kept_are_bounded)
{
    ti = taskinfo_with("\"sml.kstream.poison.max\":\"1\"");
    for (int o = 0; o < POISON_KEEP + 10; o++) {
        hold(HAND_DECODE, 1, 0, o, o);
        die("worker killed by SIGSEGV");
    }
    cr_expect_eq(p.n_quarantined, POISON_KEEP);
    cr_expect_eq(p.quarantined[0].offset, 10, "the oldest go first");
    cr_expect_eq(p.quarantined_total, POISON_KEEP + 10);
}
