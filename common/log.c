/* log.c: one-line-per-event logging to stderr. */
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static log_format_t log_format = LOG_FORMAT_DAEMON;
static log_level_t log_level = LOG_INFO;
static int log_journald;

static const char *const level_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
/* syslog priorities for journald's "<N>" prefix: err, warning, info, debug */
static const int level_syslog[] = {3, 4, 6, 7};

void log_init(log_format_t format, log_level_t level)
{
    log_format = format;
    log_level = level;
    log_journald = format == LOG_FORMAT_DAEMON && getenv("JOURNAL_STREAM") != NULL;
}

void log_set_level(log_level_t level)
{
    log_level = level;
}

log_level_t log_get_level(void)
{
    return log_level;
}

int log_level_parse(const char *name)
{
    static const char *const lower[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++)
        if (strcmp(name, lower[i]) == 0)
            return i;
    return -1;
}

const char *log_level_name(log_level_t level)
{
    return level_names[level];
}

/* Copies @src to @dst escaping control characters, so that one event stays one line. */
static void escape_line(char *dst, size_t dst_size, const char *src)
{
    size_t o = 0;
    for (; *src != '\0' && o + 5 < dst_size; src++) {
        unsigned char c = (unsigned char)*src;
        if (c == '\n') {
            dst[o++] = '\\';
            dst[o++] = 'n';
        } else if (c < 0x20 || c == 0x7f) {
            o += (size_t)snprintf(dst + o, dst_size - o, "\\x%02x", c);
        } else {
            dst[o++] = (char)c;
        }
    }
    dst[o] = '\0';
}

void log_vmsg(log_level_t level, const char *task, const char *fmt, va_list ap)
{
    if (level > log_level)
        return;

    char raw[4096], msg[4096];
    vsnprintf(raw, sizeof(raw), fmt, ap);
    escape_line(msg, sizeof(msg), raw);

    char prefix[320] = "";
    if (task != NULL) {
        char esc[300];
        escape_line(esc, sizeof(esc), task);
        snprintf(prefix, sizeof(prefix), "[%s] ", esc);
    }

    if (log_format == LOG_FORMAT_CHILD) {
        fprintf(stderr, "%s %s%s\n", level_names[level], prefix, msg);
    } else if (log_journald) {
        fprintf(stderr, "<%d>%-5s %s%s\n", level_syslog[level], level_names[level], prefix, msg);
    } else {
        struct timeval tv;
        struct tm tm;
        char when[32];
        gettimeofday(&tv, NULL);
        gmtime_r(&tv.tv_sec, &tm);
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
        fprintf(stderr, "%s.%03dZ %-5s %s%s\n", when, (int)(tv.tv_usec / 1000), level_names[level],
                prefix, msg);
    }
    fflush(stderr);
}

void log_msg(log_level_t level, const char *task, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(level, task, fmt, ap);
    va_end(ap);
}
