/* channel.h: the daemon<->worker channel, newline-delimited JSON messages over a Unix
 * stream socket (the worker's fd 3). Private to symtask. Protocol: docs/worker-protocol.md */
#ifndef SYMTASK_COMMON_CHANNEL_H
#define SYMTASK_COMMON_CHANNEL_H

#include <jansson.h>
#include <stddef.h>

/* The worker's end of the channel. */
#define CHANNEL_WORKER_FD 3

/* Longest message accepted; a longer line is a protocol error. */
#define CHANNEL_MSG_MAX (1024 * 1024)

/* Writes the object @msg as one compact JSON line; blocks until written (retrying EINTR,
 * partial writes and EAGAIN on a non-blocking fd). 0 on success, -1 with errno set (EPIPE
 * when the peer is gone: never a SIGPIPE; EINVAL when @msg is not an object); after a
 * failure part of the line may have been written, so the channel is no longer usable.
 * Does not take ownership of @msg. */
int channel_send(int fd, json_t *msg);

/* Writes @len bytes of @line, one message already written as compact JSON and ending with
 * its newline (a message sent often, built without jansson); otherwise as channel_send. */
int channel_send_line(int fd, const char *line, size_t len);

/* Accumulates bytes and hands back complete lines. */
typedef struct channel_reader {
    char *buf;
    size_t len, cap;
} channel_reader_t;

void channel_reader_init(channel_reader_t *r);
void channel_reader_free(channel_reader_t *r);

/* Appends @n bytes. -1 with errno EMSGSIZE if a line (complete or not, without its newline)
 * would exceed CHANNEL_MSG_MAX bytes, ENOMEM if out of memory; nothing is appended then. */
int channel_reader_feed(channel_reader_t *r, const void *data, size_t n);

/* Returns the next complete message parsed as JSON (new reference; caller decrefs), NULL when
 * no complete line is pending. A line that is not a JSON object is returned as NULL with
 * *bad set to 1 (and skipped), so the caller can log it. */
json_t *channel_reader_next(channel_reader_t *r, int *bad);

#endif
