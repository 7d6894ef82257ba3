/* hand.h: what a worker has handed to the plugins, written on a board of memory it shares
 * with the daemon (docs/worker-protocol.md "The hand board"). The daemon makes the board (a
 * memfd) and passes it to the worker as fd 4; before each batch goes to the plugins the
 * worker writes the batch's source offsets on it, then the stage, then that it is done, with
 * plain stores: no system call, no message, nothing the daemon has to wake for. The daemon
 * reads the board only once the worker is gone (dead by a signal, or killed for a missing
 * heartbeat), when nothing writes it any more: what it finds there becomes suspect
 * (core/poison.c). Private to symtask. */
#ifndef SYMTASK_COMMON_HAND_H
#define SYMTASK_COMMON_HAND_H

#include <stddef.h>
#include <stdint.h>

/* The worker's fd of its board. */
#define HAND_WORKER_FD 4

/* Spans one board holds at most (one a partition of a batch: 98 KiB), as many as a task keeps
 * suspect spans (core/poison.c applies each to them); a board that claims more is malformed,
 * a batch of more partitions is not written. */
#define HAND_SPANS_MAX 4096

typedef enum hand_stage {
    HAND_IDLE = 0, /* nothing in hand */
    HAND_DECODE = 1,
    HAND_PREDICT = 2,
    HAND_ENCODE = 3,
} hand_stage_t;

/* Offsets @from to @to (inclusive) of one partition: every record of the batch from that
 * partition lies within. */
typedef struct hand_span {
    int32_t partition;
    int64_t from, to;
} hand_span_t;

/* "decode", "predict" or "encode"; "" for HAND_IDLE. */
const char *hand_stage_name(hand_stage_t stage);

/* ---- The daemon's side ------------------------------------------------------------------ */

/* A new board with nothing in hand: its fd (close-on-exec; the supervisor hands it to the
 * worker as HAND_WORKER_FD), or -1 with errno set. */
int hand_board_create(void);

/* What the board @fd says its worker had in hand, read once the worker is gone: *@stage
 * (HAND_IDLE: nothing, and *@spans NULL) and the batch's spans, malloc'd into *@spans (*@n of
 * them). -1 with a message when the board cannot be read or holds what no worker writes (a
 * plugin may scribble on any memory of its process): nothing is in hand then. */
int hand_board_read(int fd, hand_stage_t *stage, hand_span_t **spans, size_t *n, char *errstr,
                    size_t errstr_size);

/* ---- The worker's side ------------------------------------------------------------------ */

typedef struct hand_board hand_board_t;

/* Maps the board @fd. NULL with a message when it is not one. */
hand_board_t *hand_board_open(int fd, char *errstr, size_t errstr_size);
void hand_board_close(hand_board_t *b);

/* A batch of @n spans goes to the plugins, stage HAND_DECODE. The board grows when the spans
 * do not fit; -1 with errno when it cannot: the board then says nothing is in hand. */
int hand_board_begin(hand_board_t *b, const hand_span_t *spans, size_t n);

/* The batch goes on to @stage (HAND_PREDICT, HAND_ENCODE), or is done (HAND_IDLE). */
void hand_board_stage(hand_board_t *b, hand_stage_t stage);

#endif
