/* notify.h: readiness and status notifications to the service manager (systemd's sd_notify
 * protocol, without libsystemd). Used by symtaskd under `Type=notify`. */
#ifndef SYMTASK_CORE_NOTIFY_H
#define SYMTASK_CORE_NOTIFY_H

/* Sends @state, newline-separated VAR=VALUE assignments such as "READY=1",
 * "STOPPING=1" or "STATUS=...", to the socket named by $NOTIFY_SOCKET: a path, or an
 * abstract socket name when it starts with '@'. Returns 1 when sent, 0 when
 * $NOTIFY_SOCKET is unset or empty (not run by a service manager: nothing to do), -1 on
 * an error (errno set; EINVAL for an address that is neither a path nor '@name'). */
int notify_send(const char *state);

#endif
