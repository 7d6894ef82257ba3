/* channel.c: newline-delimited JSON messages between symtaskd and its workers. */
#include "channel.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Writes all of @buf. send() with MSG_NOSIGNAL so that a peer that went away is an EPIPE
 * for the caller, not a SIGPIPE that kills it; write() for fds that are not sockets. A
 * non-blocking fd is waited on, so the call blocks as promised either way. */
static int channel_write_all(int fd, const char *buf, size_t len)
{
    int is_socket = 1;
    size_t off = 0;
    while (off < len) {
        ssize_t n = is_socket ? send(fd, buf + off, len - off, MSG_NOSIGNAL)
                              : write(fd, buf + off, len - off);
        if (n >= 0) {
            off += (size_t)n;
            continue;
        }
        if (errno == ENOTSOCK && is_socket) {
            is_socket = 0;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};
            if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
                return -1;
        } else if (errno != EINTR) {
            return -1;
        }
    }
    return 0;
}

int channel_send(int fd, json_t *msg)
{
    if (!json_is_object(msg)) {
        errno = EINVAL;
        return -1;
    }
    char *text = json_dumps(msg, JSON_COMPACT);
    if (text == NULL) {
        errno = ENOMEM;
        return -1;
    }
    size_t len = strlen(text);
    text[len] = '\n'; /* jansson's string ends with NUL: replace it, write len + 1 */
    int ret = channel_write_all(fd, text, len + 1);
    int saved = errno;
    free(text);
    errno = saved;
    return ret;
}

int channel_send_line(int fd, const char *line, size_t len)
{
    if (len == 0 || line[len - 1] != '\n' || memchr(line, '\n', len - 1) != NULL) {
        errno = EINVAL;
        return -1;
    }
    return channel_write_all(fd, line, len);
}

void channel_reader_init(channel_reader_t *r)
{
    r->buf = NULL;
    r->len = r->cap = 0;
}

void channel_reader_free(channel_reader_t *r)
{
    free(r->buf);
    channel_reader_init(r);
}

int channel_reader_feed(channel_reader_t *r, const void *data, size_t n)
{
    if (n == 0)
        return 0;

    /* Complete lines may be pending too (the caller drains them later), so the limit applies
     * to each line, not to the buffer: start from the unterminated tail already held. */
    const char *last_nl = r->len ? memrchr(r->buf, '\n', r->len) : NULL;
    size_t line = last_nl ? r->len - (size_t)(last_nl + 1 - r->buf) : r->len;
    const char *p = data, *end = p + n;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        line += (size_t)((nl ? nl : end) - p);
        if (line > CHANNEL_MSG_MAX) {
            errno = EMSGSIZE;
            return -1;
        }
        if (nl == NULL)
            break;
        line = 0;
        p = nl + 1;
    }

    if (r->len + n > r->cap) {
        size_t cap = r->cap ? r->cap : 4096;
        while (cap < r->len + n)
            cap *= 2;
        char *buf = realloc(r->buf, cap);
        if (buf == NULL) {
            errno = ENOMEM;
            return -1;
        }
        r->buf = buf;
        r->cap = cap;
    }
    memcpy(r->buf + r->len, data, n);
    r->len += n;
    return 0;
}

json_t *channel_reader_next(channel_reader_t *r, int *bad)
{
    *bad = 0;
    char *nl = r->len ? memchr(r->buf, '\n', r->len) : NULL;
    if (nl == NULL)
        return NULL;
    size_t line_len = (size_t)(nl - r->buf);
    json_t *msg = json_loadb(r->buf, line_len, 0, NULL);
    if (msg != NULL && !json_is_object(msg)) {
        json_decref(msg);
        msg = NULL;
    }
    if (msg == NULL)
        *bad = 1;
    memmove(r->buf, nl + 1, r->len - line_len - 1);
    r->len -= line_len + 1;
    return msg;
}
