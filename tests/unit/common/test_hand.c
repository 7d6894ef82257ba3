/* test_hand.c: common/hand.c, the board a worker writes what it hands to the plugins on and
 * the daemon reads after the worker died: what the worker's side writes, the daemon's side
 * reads back; a batch of many partitions grows the board; a board no worker wrote (a plugin
 * scribbled on it, a board of another build) is refused with a message, never trusted. The
 * corruption cases write the board's layout (hand.c) by hand. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hand.h"

/* The daemon's fd of the board and the worker's mapping of it (through a dup of the fd). */
static int fd = -1;
static hand_board_t *board;

static void init(void)
{
    fd = hand_board_create();
    cr_assert_geq(fd, 0, "hand_board_create: %s", strerror(errno));
    char errstr[256];
    board = hand_board_open(dup(fd), errstr, sizeof(errstr));
    cr_assert_not_null(board, "%s", errstr);
}

static void fini(void)
{
    hand_board_close(board);
    if (fd >= 0)
        close(fd);
}

TestSuite(hand, .init = init, .fini = fini);

/* Reads the board as the daemon does; the spans are freed by the caller. */
static int read_board(hand_stage_t *stage, hand_span_t **spans, size_t *n, char *errstr,
                      size_t errstr_size)
{
    *stage = HAND_DECODE; /* overwritten: whatever the outcome, the board says something */
    *spans = (hand_span_t *)&fd;
    *n = 99;
    return hand_board_read(fd, stage, spans, n, errstr, errstr_size);
}

/* Reads the board, which must hold @want_n spans in stage @want: the spans (the caller frees
 * them; NULL for none). */
static hand_span_t *expect_board(hand_stage_t want, size_t want_n)
{
    hand_stage_t stage;
    hand_span_t *spans;
    size_t n;
    char errstr[256] = "";
    cr_assert_eq(read_board(&stage, &spans, &n, errstr, sizeof(errstr)), 0, "%s", errstr);
    cr_expect_eq(stage, want);
    cr_assert_eq(n, want_n);
    if (n == 0)
        cr_expect_null(spans);
    return spans;
}

Test(hand, a_new_board_holds_nothing)
{
    expect_board(HAND_IDLE, 0);
}

Test(hand, what_the_worker_writes_the_daemon_reads)
{
    const hand_span_t batch[] = {{2, 40, 60}, {0, 7, 9}};
    cr_assert_eq(hand_board_begin(board, batch, 2), 0);
    static const hand_stage_t stages[] = {HAND_DECODE, HAND_PREDICT, HAND_ENCODE};
    for (size_t i = 0; i < 3; i++) {
        if (i > 0)
            hand_board_stage(board, stages[i]);
        hand_span_t *spans = expect_board(stages[i], 2);
        cr_expect_eq(spans[0].partition, 2);
        cr_expect_eq(spans[0].from, 40);
        cr_expect_eq(spans[0].to, 60);
        cr_expect_eq(spans[1].partition, 0);
        cr_expect_eq(spans[1].from, 7);
        cr_expect_eq(spans[1].to, 9);
        free(spans);
    }
    cr_expect_str_eq(hand_stage_name(HAND_PREDICT), "predict");
    cr_expect_str_eq(hand_stage_name(HAND_IDLE), "");

    /* done: nothing in hand, whatever spans are still written */
    hand_board_stage(board, HAND_IDLE);
    expect_board(HAND_IDLE, 0);
    /* a batch of no record names nothing */
    cr_assert_eq(hand_board_begin(board, batch, 2), 0);
    cr_expect_eq(hand_board_begin(board, batch, 0), 0);
    expect_board(HAND_IDLE, 0);
}

Test(hand, a_batch_of_many_partitions_grows_the_board)
{
    enum { N = 4000 };
    static hand_span_t batch[N];
    for (int i = 0; i < N; i++)
        batch[i] = (hand_span_t){i, 1000 + i, 2000 + i};
    struct stat before, after;
    cr_assert_eq(fstat(fd, &before), 0);
    cr_assert_eq(hand_board_begin(board, batch, N), 0, "%s", strerror(errno));
    cr_assert_eq(fstat(fd, &after), 0);
    cr_expect_gt(after.st_size, before.st_size);

    hand_span_t *spans = expect_board(HAND_DECODE, N);
    for (int i = 0; i < N; i++)
        cr_assert_eq(spans[i].to, 2000 + i, "span %d", i);
    free(spans);

    /* past what the daemon would read: refused, and the board names nothing */
    errno = 0;
    cr_expect_eq(hand_board_begin(board, batch, (size_t)HAND_SPANS_MAX + 1), -1);
    cr_expect_eq(errno, E2BIG);
    expect_board(HAND_IDLE, 0);
}

/* The board's layout (hand.c): magic, version, stage, a reserved word, the span count (8
 * bytes), then spans of 24 bytes (partition, 4 bytes of padding, from, to). */
#define AT_MAGIC 0
#define AT_VERSION 4
#define AT_STAGE 8
#define AT_N 16
#define AT_SPANS 24

static void poke32(off_t at, uint32_t v)
{
    cr_assert_eq(pwrite(fd, &v, sizeof(v), at), (ssize_t)sizeof(v));
}

static void poke64(off_t at, uint64_t v)
{
    cr_assert_eq(pwrite(fd, &v, sizeof(v), at), (ssize_t)sizeof(v));
}

/* The board must be refused with a message that contains @says. */
static void expect_refused(const char *says)
{
    hand_stage_t stage;
    hand_span_t *spans;
    size_t n;
    char errstr[256] = "";
    cr_expect_eq(read_board(&stage, &spans, &n, errstr, sizeof(errstr)), -1, "%s", says);
    cr_expect_eq(stage, HAND_IDLE, "%s", says);
    cr_expect_null(spans, "%s", says);
    cr_expect_eq(n, 0, "%s", says);
    cr_expect(strstr(errstr, says) != NULL, "'%s' does not say '%s'", errstr, says);
}

Test(hand, what_no_worker_writes_is_refused)
{
    const hand_span_t batch[] = {{1, 10, 20}, {2, 30, 40}};
    cr_assert_eq(hand_board_begin(board, batch, 2), 0);

    poke32(AT_STAGE, 4);
    expect_refused("names stage 4, not one");
    poke32(AT_STAGE, HAND_PREDICT);

    poke64(AT_N, 0);
    expect_refused("claims 0 spans");
    poke64(AT_N, 1000); /* a 4096-byte board has room for 169 */
    expect_refused("claims 1000 spans (room for 169");
    poke64(AT_N, 2);

    poke64(AT_SPANS + 24 + 8, 50); /* the second span from 50 to 40 */
    expect_refused("span 1 of the worker's hand board is not one (partition 2, offsets 50 to 40)");
    poke64(AT_SPANS + 24 + 8, 30);
    poke32(AT_SPANS, (uint32_t)-3);
    expect_refused("span 0 of the worker's hand board is not one (partition -3");
    poke32(AT_SPANS, 1);

    poke32(AT_VERSION, 7);
    expect_refused("not begin as one of this build (magic 64685453, version 7)");
    poke32(AT_VERSION, 1);
    poke32(AT_MAGIC, 0);
    expect_refused("magic 00000000");
    poke32(AT_MAGIC, 0x64685453u);

    /* repaired, it reads again */
    free(expect_board(HAND_PREDICT, 2));

    /* cut short under its header */
    cr_assert_eq(ftruncate(fd, 10), 0);
    expect_refused("cannot read the worker's hand board");
}

Test(hand, the_worker_refuses_what_is_not_a_board)
{
    char errstr[256] = "";
    int p[2];
    cr_assert_eq(pipe(p), 0);
    cr_expect_null(hand_board_open(p[0], errstr, sizeof(errstr)));
    cr_expect(strstr(errstr, "not a board") != NULL, "%s", errstr);
    close(p[0]);
    close(p[1]);

    int zeros = memfd_create("zeros", MFD_CLOEXEC);
    cr_assert_geq(zeros, 0);
    cr_assert_eq(ftruncate(zeros, 4096), 0);
    cr_expect_null(hand_board_open(zeros, errstr, sizeof(errstr)));
    cr_expect(strstr(errstr, "not a board of this build") != NULL, "%s", errstr);
    close(zeros);

    cr_expect_null(hand_board_open(zeros, errstr, sizeof(errstr)), "a closed fd");
    cr_expect(strstr(errstr, "Bad file descriptor") != NULL, "%s", errstr);
}
