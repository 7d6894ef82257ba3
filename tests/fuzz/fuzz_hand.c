/* fuzz_hand.c: libFuzzer target for hand_board_read() (common/hand.c), the daemon's reading
 * of a dead worker's hand board: memory its plugins could have scribbled on, so any bytes.
 *
 * Input: the board's bytes, as a memfd of exactly that size. Whatever they are, the read
 * must not crash, and what it accepts must be what a worker could have written: a known
 * stage, nothing for idle, else 1 to HAND_SPANS_MAX spans that fit the board, each a
 * partition and offsets in order; a refusal says why and leaves nothing. An accepted batch
 * written again by the worker's side onto a new board reads back the same. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hand.h"

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "hand_board_read: %s\n", what);
        abort();
    }
}

static int board_of(const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz-hand", MFD_CLOEXEC);
    check(fd >= 0, "memfd_create failed");
    check(ftruncate(fd, (off_t)size) == 0, "ftruncate failed");
    check(size == 0 || pwrite(fd, data, size, 0) == (ssize_t)size, "pwrite failed");
    return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 24 + 24 * (HAND_SPANS_MAX + 8))
        return 0;
    int fd = board_of(data, size);
    hand_stage_t stage;
    hand_span_t *spans;
    size_t n;
    char errstr[256] = "";
    int r = hand_board_read(fd, &stage, &spans, &n, errstr, sizeof(errstr));
    close(fd);
    if (r != 0) {
        check(r == -1, "returned neither 0 nor -1");
        check(stage == HAND_IDLE && spans == NULL && n == 0, "a refusal left something");
        check(errstr[0] != '\0', "a refusal without a message");
        return 0;
    }
    check(stage <= HAND_ENCODE, "an unknown stage accepted");
    if (stage == HAND_IDLE) {
        check(spans == NULL && n == 0, "spans for an idle board");
        return 0;
    }
    check(spans != NULL && n >= 1 && n <= HAND_SPANS_MAX, "a span count out of bounds");
    check(24 + 24 * n <= size, "more spans than the board holds");
    for (size_t i = 0; i < n; i++)
        check(spans[i].partition >= 0 && spans[i].from >= 0 && spans[i].from <= spans[i].to,
              "a span that is not one");

    /* what the worker's side writes of it reads back the same */
    int again = hand_board_create();
    check(again >= 0, "hand_board_create failed");
    hand_board_t *b = hand_board_open(dup(again), errstr, sizeof(errstr));
    check(b != NULL, "a new board does not open");
    check(hand_board_begin(b, spans, n) == 0, "an accepted batch cannot be written");
    hand_board_stage(b, stage);
    hand_stage_t stage2;
    hand_span_t *spans2;
    size_t n2;
    check(hand_board_read(again, &stage2, &spans2, &n2, errstr, sizeof(errstr)) == 0,
          "the batch written again is refused");
    check(stage2 == stage && n2 == n, "the batch written again reads back otherwise");
    for (size_t i = 0; i < n; i++)
        check(spans2[i].partition == spans[i].partition && spans2[i].from == spans[i].from &&
                  spans2[i].to == spans[i].to,
              "a span written again reads back otherwise");
    free(spans2);
    hand_board_close(b);
    close(again);
    free(spans);
    return 0;
}
