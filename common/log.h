/* log.h: one-line-per-event logging to stderr, shared by symtaskd and symtask-worker.
 * Private to symtask (not installed). */
#ifndef SYMTASK_COMMON_LOG_H
#define SYMTASK_COMMON_LOG_H

#include <stdarg.h>

typedef enum log_level {
    LOG_ERROR = 0,
    LOG_WARN = 1,
    LOG_INFO = 2,
    LOG_DEBUG = 3,
} log_level_t;

/* How lines are written.
 * LOG_FORMAT_DAEMON: "2026-11-28T13:55:08.123Z INFO  [c1/t1] message"; under systemd
 *   (JOURNAL_STREAM set) the time is left to journald and a "<6>" priority prefix is used.
 * LOG_FORMAT_CHILD: "INFO message", read back by the daemon, which adds time and task. */
typedef enum log_format {
    LOG_FORMAT_DAEMON,
    LOG_FORMAT_CHILD,
} log_format_t;

void log_init(log_format_t format, log_level_t level);
void log_set_level(log_level_t level);
log_level_t log_get_level(void);

/* Parses "error", "warn", "info", "debug"; returns -1 for anything else. */
int log_level_parse(const char *name);
const char *log_level_name(log_level_t level);

/* Writes one line. @task is "cid/tid" or NULL for daemon-wide events. Newlines and
 * control characters in the message are escaped so that one event is one line. */
void log_msg(log_level_t level, const char *task, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void log_vmsg(log_level_t level, const char *task, const char *fmt, va_list ap);

#define log_error(task, ...) log_msg(LOG_ERROR, task, __VA_ARGS__)
#define log_warn(task, ...) log_msg(LOG_WARN, task, __VA_ARGS__)
#define log_info(task, ...) log_msg(LOG_INFO, task, __VA_ARGS__)
#define log_debug(task, ...) log_msg(LOG_DEBUG, task, __VA_ARGS__)

#endif
