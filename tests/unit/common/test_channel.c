/* test_channel.c: unit tests of common/channel.c, the daemon<->worker line protocol. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "channel.h"

static int sv[2];
static channel_reader_t reader;

static void channel_setup(void)
{
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    channel_reader_init(&reader);
}

static void channel_teardown(void)
{
    channel_reader_free(&reader);
    if (sv[0] >= 0)
        close(sv[0]);
    if (sv[1] >= 0)
        close(sv[1]);
}

TestSuite(channel, .init = channel_setup, .fini = channel_teardown, .timeout = 20);

/* Reads what is available on @fd (the writer has finished) into a NUL-terminated buffer. */
static char *read_available(int fd, size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    cr_assert_not_null(buf);
    cr_assert_eq(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
    for (;;) {
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
            cr_assert_not_null(buf);
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Feeds a C string and asserts it is accepted. */
static void feed(const char *s)
{
    cr_assert_eq(channel_reader_feed(&reader, s, strlen(s)), 0, "feed of \"%s\" refused", s);
}

/* A line of @len bytes of JSON: a string of padding, so it parses only as a whole. */
static char *json_line_of(size_t len)
{
    char *line = malloc(len + 1);
    cr_assert_not_null(line);
    memcpy(line, "{\"p\":\"", 6);
    memset(line + 6, 'x', len - 8);
    memcpy(line + len - 2, "\"}", 2);
    line[len] = '\0';
    return line;
}

Test(channel, send_writes_one_compact_line)
{
    json_t *msg = json_pack("{s:s, s:i, s:{s:s}}", "type", "heartbeat", "n", 42, "o", "k", "v");
    cr_assert_eq(channel_send(sv[0], msg), 0);
    json_decref(msg);

    size_t len;
    char *text = read_available(sv[1], &len);
    cr_assert_gt(len, 0);
    cr_assert_eq(text[len - 1], '\n');
    cr_assert_null(memchr(text, '\n', len - 1), "one line only: %s", text);
    cr_assert_null(strchr(text, ' '), "compact: %s", text);
    cr_assert_null(memchr(text, '\0', len));
    free(text);
}

Test(channel, send_escapes_newlines_inside_strings)
{
    json_t *msg = json_pack("{s:s}", "message", "line one\nline two\r\n");
    cr_assert_eq(channel_send(sv[0], msg), 0);
    json_decref(msg);

    size_t len;
    char *text = read_available(sv[1], &len);
    cr_assert_null(memchr(text, '\n', len - 1), "a message stays one line: %s", text);
    cr_assert_eq(channel_reader_feed(&reader, text, len), 0);
    int bad;
    json_t *back = channel_reader_next(&reader, &bad);
    cr_assert_not_null(back);
    cr_assert_str_eq(json_string_value(json_object_get(back, "message")), "line one\nline two\r\n");
    json_decref(back);
    free(text);
}

Test(channel, send_refuses_what_is_not_an_object)
{
    json_t *arr = json_array();
    errno = 0;
    cr_assert_eq(channel_send(sv[0], arr), -1);
    cr_assert_eq(errno, EINVAL);
    json_decref(arr);
    cr_assert_eq(channel_send(sv[0], NULL), -1);
}

Test(channel, send_line_writes_a_prebuilt_line_and_refuses_anything_else)
{
    const char line[] = "{\"type\":\"done\"}\n";
    cr_assert_eq(channel_send_line(sv[0], line, strlen(line)), 0);
    size_t len;
    char *text = read_available(sv[1], &len);
    cr_assert_eq(len, strlen(line));
    cr_assert_eq(memcmp(text, line, len), 0);
    free(text);
    static const char *const bad[] = {"{\"type\":\"done\"}", "{}\n{}\n", ""};
    for (size_t i = 0; i < 3; i++) {
        errno = 0;
        cr_expect_eq(channel_send_line(sv[0], bad[i], strlen(bad[i])), -1, "%s", bad[i]);
        cr_expect_eq(errno, EINVAL);
    }
    close(sv[1]);
    sv[1] = -1;
    errno = 0;
    cr_expect_eq(channel_send_line(sv[0], line, strlen(line)), -1);
    cr_expect_eq(errno, EPIPE, "a closed peer is EPIPE, not SIGPIPE");
}

Test(channel, send_to_a_closed_peer_is_epipe_not_sigpipe)
{
    /* criterion runs the test in its own process: a SIGPIPE would fail it */
    close(sv[1]);
    sv[1] = -1;
    json_t *msg = json_pack("{s:s}", "type", "ready");
    errno = 0;
    cr_assert_eq(channel_send(sv[0], msg), -1);
    cr_assert_eq(errno, EPIPE);
    json_decref(msg);
}

Test(channel, send_to_a_bad_fd_fails)
{
    json_t *msg = json_pack("{s:s}", "type", "ready");
    errno = 0;
    cr_assert_eq(channel_send(-1, msg), -1);
    cr_assert_eq(errno, EBADF);
    json_decref(msg);
}

Test(channel, send_works_on_a_pipe)
{
    int p[2];
    cr_assert_eq(pipe(p), 0);
    json_t *msg = json_pack("{s:s}", "type", "ready");
    cr_assert_eq(channel_send(p[1], msg), 0);
    json_decref(msg);
    size_t len;
    char *text = read_available(p[0], &len);
    cr_assert_str_eq(text, "{\"type\":\"ready\"}\n");
    free(text);
    close(p[0]);
    close(p[1]);
}

struct drain {
    int fd;
    channel_reader_t *r;
    json_t *msg;
    int bad;
};

/* Reads from the far end until one message arrives, so that a large send can complete. */
static void *drain_one(void *arg)
{
    struct drain *d = arg;
    char buf[4096];
    while (d->msg == NULL && !d->bad) {
        ssize_t n = read(d->fd, buf, sizeof(buf));
        if (n <= 0)
            break;
        if (channel_reader_feed(d->r, buf, (size_t)n) < 0)
            break;
        d->msg = channel_reader_next(d->r, &d->bad);
    }
    return NULL;
}

Test(channel, large_message_round_trip_through_a_small_buffer)
{
    /* Small buffers and a non-blocking writer: exercises partial writes and EAGAIN. */
    int size = 4096;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
    setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    cr_assert_eq(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);

    char *big = malloc(CHANNEL_MSG_MAX / 2);
    memset(big, 'a', CHANNEL_MSG_MAX / 2 - 1);
    big[CHANNEL_MSG_MAX / 2 - 1] = '\0';
    json_t *msg = json_pack("{s:s, s:s}", "type", "task", "blob", big);

    struct drain d = {.fd = sv[1], .r = &reader};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, drain_one, &d), 0);
    cr_assert_eq(channel_send(sv[0], msg), 0);
    pthread_join(th, NULL);

    cr_assert_not_null(d.msg);
    cr_assert(json_equal(d.msg, msg));
    json_decref(d.msg);
    json_decref(msg);
    free(big);
}

Test(channel, reader_returns_a_complete_line)
{
    feed("{\"type\":\"ready\"}\n");
    int bad = -1;
    json_t *msg = channel_reader_next(&reader, &bad);
    cr_assert_not_null(msg);
    cr_assert_eq(bad, 0);
    cr_assert_str_eq(json_string_value(json_object_get(msg, "type")), "ready");
    json_decref(msg);

    cr_assert_null(channel_reader_next(&reader, &bad));
    cr_assert_eq(bad, 0);
}

Test(channel, reader_on_empty_input_has_nothing)
{
    int bad = -1;
    cr_assert_null(channel_reader_next(&reader, &bad));
    cr_assert_eq(bad, 0);
    cr_assert_eq(channel_reader_feed(&reader, "", 0), 0);
    cr_assert_null(channel_reader_next(&reader, &bad));
    cr_assert_eq(bad, 0);
}

Test(channel, reader_joins_a_line_fed_byte_by_byte)
{
    const char *text = "{\"type\":\"heartbeat\",\"recordsIn\":7}\n";
    int bad;
    for (size_t i = 0; text[i] != '\0'; i++) {
        cr_assert_null(channel_reader_next(&reader, &bad), "no line before its newline");
        cr_assert_eq(bad, 0);
        cr_assert_eq(channel_reader_feed(&reader, text + i, 1), 0);
    }
    json_t *msg = channel_reader_next(&reader, &bad);
    cr_assert_not_null(msg);
    cr_assert_eq(json_integer_value(json_object_get(msg, "recordsIn")), 7);
    json_decref(msg);
}

Test(channel, reader_returns_several_lines_in_order)
{
    feed("{\"n\":1}\n{\"n\":2}\n{\"n\":");
    int bad;
    for (int n = 1; n <= 2; n++) {
        json_t *msg = channel_reader_next(&reader, &bad);
        cr_assert_not_null(msg);
        cr_assert_eq(json_integer_value(json_object_get(msg, "n")), n);
        json_decref(msg);
    }
    cr_assert_null(channel_reader_next(&reader, &bad));
    cr_assert_eq(bad, 0);
    feed("3}\n");
    json_t *msg = channel_reader_next(&reader, &bad);
    cr_assert_not_null(msg);
    cr_assert_eq(json_integer_value(json_object_get(msg, "n")), 3);
    json_decref(msg);
}

Test(channel, reader_flags_and_skips_bad_lines)
{
    feed("not json\n[1,2]\n42\n\n{\"a\":1} {\"b\":2}\n{\"ok\":true}\n");
    int bad;
    for (int i = 0; i < 5; i++) {
        cr_assert_null(channel_reader_next(&reader, &bad));
        cr_assert_eq(bad, 1, "line %d should be flagged", i);
    }
    json_t *msg = channel_reader_next(&reader, &bad);
    cr_assert_not_null(msg);
    cr_assert_eq(bad, 0);
    cr_assert(json_is_true(json_object_get(msg, "ok")));
    json_decref(msg);
}

Test(channel, reader_refuses_a_nul_byte_in_a_line)
{
    cr_assert_eq(channel_reader_feed(&reader, "{\"a\":\"x\0y\"}\n", 12), 0);
    int bad;
    cr_assert_null(channel_reader_next(&reader, &bad));
    cr_assert_eq(bad, 1);
}

Test(channel, reader_accepts_a_line_of_exactly_the_maximum)
{
    char *line = json_line_of(CHANNEL_MSG_MAX);
    feed(line);
    feed("\n");
    int bad;
    json_t *msg = channel_reader_next(&reader, &bad);
    cr_assert_not_null(msg);
    cr_assert_eq(json_string_length(json_object_get(msg, "p")), CHANNEL_MSG_MAX - 8);
    json_decref(msg);
    free(line);
}

Test(channel, reader_refuses_an_unterminated_line_over_the_maximum)
{
    char *line = json_line_of(CHANNEL_MSG_MAX);
    feed(line);
    errno = 0;
    cr_assert_eq(channel_reader_feed(&reader, "x", 1), -1);
    cr_assert_eq(errno, EMSGSIZE);
    /* nothing was appended: the newline still completes the maximal line */
    feed("\n");
    int bad;
    json_t *msg = channel_reader_next(&reader, &bad);
    cr_assert_not_null(msg);
    json_decref(msg);
    free(line);
}

Test(channel, reader_refuses_a_complete_line_over_the_maximum)
{
    size_t len = CHANNEL_MSG_MAX + 1;
    char *line = malloc(len + 1);
    memset(line, 'x', len);
    line[len] = '\n';
    cr_assert_eq(channel_reader_feed(&reader, line, len + 1), -1);
    cr_assert_eq(errno, EMSGSIZE);
    free(line);
}

Test(channel, reader_limit_is_per_line_not_per_buffer)
{
    /* A nearly full line followed by more lines in the same read is valid input. */
    char *line = json_line_of(CHANNEL_MSG_MAX - 10);
    feed(line);
    feed("\n{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n");
    int bad;
    json_t *msg = channel_reader_next(&reader, &bad);
    cr_assert_not_null(msg);
    json_decref(msg);
    for (int n = 1; n <= 3; n++) {
        msg = channel_reader_next(&reader, &bad);
        cr_assert_not_null(msg, "line %d", n);
        cr_assert_eq(json_integer_value(json_object_get(msg, "n")), n);
        json_decref(msg);
    }
    free(line);
}

Test(channel, reader_free_then_reuse)
{
    feed("{\"n\":1}\n{\"partial");
    channel_reader_free(&reader);
    int bad;
    cr_assert_null(channel_reader_next(&reader, &bad));
    feed("{\"n\":2}\n");
    json_t *msg = channel_reader_next(&reader, &bad);
    cr_assert_not_null(msg);
    cr_assert_eq(json_integer_value(json_object_get(msg, "n")), 2);
    json_decref(msg);
}
