/* test_notify.c: unit tests of core/notify.c, the sd_notify protocol, against a datagram
 * socket bound in a temporary directory (and one in the abstract namespace). */
#include <criterion/criterion.h>

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "notify.h"

static char dir[64];
static char sock_path[128];
static int sock = -1;

/* Binds a datagram socket at @name: a path, or an abstract name when it starts with '@'. */
static int bind_dgram(const char *name)
{
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    cr_assert(fd >= 0, "socket: %s", strerror(errno));
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t len = strlen(name);
    cr_assert(len < sizeof(sa.sun_path));
    memcpy(sa.sun_path, name, len);
    socklen_t sa_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    if (name[0] == '@')
        sa.sun_path[0] = '\0';
    else
        sa_len++;
    cr_assert(bind(fd, (struct sockaddr *)&sa, sa_len) == 0, "bind %s: %s", name, strerror(errno));
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

/* Receives one datagram into @buf as a string. */
static void receive(int fd, char *buf, size_t size)
{
    ssize_t n = recv(fd, buf, size - 1, 0);
    cr_assert(n >= 0, "recv: %s", strerror(errno));
    buf[n] = '\0';
}

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/symtask-notify-XXXXXX");
    cr_assert(mkdtemp(dir) != NULL);
    snprintf(sock_path, sizeof(sock_path), "%s/notify", dir);
    sock = bind_dgram(sock_path);
    unsetenv("NOTIFY_SOCKET");
}

static void teardown(void)
{
    if (sock >= 0)
        close(sock);
    sock = -1;
    unlink(sock_path);
    rmdir(dir);
}

TestSuite(notify, .init = setup, .fini = teardown);

Test(notify, nothing_to_do_without_notify_socket)
{
    cr_assert_eq(notify_send("READY=1"), 0);
    setenv("NOTIFY_SOCKET", "", 1);
    cr_assert_eq(notify_send("READY=1"), 0);
}

Test(notify, ready_reaches_a_path_socket)
{
    setenv("NOTIFY_SOCKET", sock_path, 1);
    cr_assert_eq(notify_send("READY=1"), 1);
    char buf[256];
    receive(sock, buf, sizeof(buf));
    cr_assert_str_eq(buf, "READY=1");
}

Test(notify, several_assignments_in_one_datagram)
{
    setenv("NOTIFY_SOCKET", sock_path, 1);
    cr_assert_eq(notify_send("READY=1\nSTATUS=ready: 2 customers, 0 tasks"), 1);
    cr_assert_eq(notify_send("STOPPING=1"), 1);
    char buf[256];
    receive(sock, buf, sizeof(buf));
    cr_assert_str_eq(buf, "READY=1\nSTATUS=ready: 2 customers, 0 tasks");
    receive(sock, buf, sizeof(buf));
    cr_assert_str_eq(buf, "STOPPING=1");
}

Test(notify, abstract_namespace_with_at_sign)
{
    char name[96];
    snprintf(name, sizeof(name), "@symtask-test-notify-%ld-%d", (long)getpid(), rand());
    int fd = bind_dgram(name);
    setenv("NOTIFY_SOCKET", name, 1);
    cr_assert_eq(notify_send("READY=1"), 1);
    char buf[256];
    receive(fd, buf, sizeof(buf));
    cr_assert_str_eq(buf, "READY=1");
    close(fd);
}

Test(notify, no_socket_at_the_path_is_an_error)
{
    char missing[160];
    snprintf(missing, sizeof(missing), "%s/none", dir);
    setenv("NOTIFY_SOCKET", missing, 1);
    errno = 0;
    cr_assert_eq(notify_send("READY=1"), -1);
    cr_assert_eq(errno, ENOENT, "errno %d (%s)", errno, strerror(errno));
}

Test(notify, relative_or_overlong_address_is_refused)
{
    setenv("NOTIFY_SOCKET", "relative/notify", 1);
    errno = 0;
    cr_assert_eq(notify_send("READY=1"), -1);
    cr_assert_eq(errno, EINVAL);

    char longpath[200];
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[0] = '/';
    longpath[sizeof(longpath) - 1] = '\0';
    setenv("NOTIFY_SOCKET", longpath, 1);
    errno = 0;
    cr_assert_eq(notify_send("READY=1"), -1);
    cr_assert_eq(errno, EINVAL);

    setenv("NOTIFY_SOCKET", "@", 1);
    cr_assert_eq(notify_send("READY=1"), -1);
    cr_assert_eq(errno, EINVAL);
}
