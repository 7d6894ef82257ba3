/* notify.c: the sd_notify protocol without libsystemd: one datagram of VAR=VALUE lines to
 * the AF_UNIX socket named by $NOTIFY_SOCKET. */
#include "notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int notify_send(const char *state)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (path == NULL || path[0] == '\0')
        return 0;

    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    size_t len = strlen(path);
    /* "@name" is an abstract socket: a leading NUL and no terminating one. */
    if ((path[0] != '/' && path[0] != '@') || len < 2 || len > sizeof(sa.sun_path) - 1) {
        errno = EINVAL;
        return -1;
    }
    memcpy(sa.sun_path, path, len);
    socklen_t sa_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    if (path[0] == '@')
        sa.sun_path[0] = '\0';
    else
        sa_len++; /* the path's NUL */

    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    size_t size = strlen(state);
    ssize_t sent = sendto(fd, state, size, MSG_NOSIGNAL, (struct sockaddr *)&sa, sa_len);
    int saved = errno;
    close(fd);
    if (sent != (ssize_t)size) {
        errno = sent < 0 ? saved : EMSGSIZE;
        return -1;
    }
    return 1;
}
