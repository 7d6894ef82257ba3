/* watch.c: `symtask watch`: the tasks' status, rates, lag, dead letters and last error,
 * refreshed every second. */
#include "watch.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

/* The alternate screen keeps the shell's screen for afterwards; the cursor is hidden while
 * the view draws. */
#define ANSI_ENTER "\x1b[?1049h\x1b[?25l"
#define ANSI_LEAVE "\x1b[?25h\x1b[?1049l"
#define ANSI_HOME_CLEAR "\x1b[H\x1b[2J"
#define ANSI_BOLD "\x1b[1m"
#define ANSI_RED "\x1b[31m"
#define ANSI_RESET "\x1b[0m"

#define WATCH_ROWS_MAX 1024

static volatile sig_atomic_t watch_stop_signal;
static volatile sig_atomic_t watch_resized;

static void watch_on_signal(int sig)
{
    watch_stop_signal = sig;
}

static void watch_on_winch(int sig)
{
    (void)sig;
    watch_resized = 1;
}

static int64_t watch_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *map_get(json_t *map, const char *key)
{
    const char *s = json_string_value(json_object_get(map, key));
    return s != NULL ? s : "";
}

static json_t *find_by_name(json_t *maps, const char *name)
{
    size_t i;
    json_t *m;
    json_array_foreach (maps, i, m)
        if (strcmp(map_get(m, "name"), name) == 0)
            return m;
    return NULL;
}

/* Records/s of counter @key between two maps of one worker; -1 when unknown (no earlier
 * map, another worker since: its counters started again). */
static double rate(json_t *now, json_t *before, const char *key, int64_t elapsed_ms)
{
    if (before == NULL || elapsed_ms <= 0 || strcmp(map_get(now, "pid"), map_get(before, "pid")))
        return -1;
    long long a = atoll(map_get(before, key)), b = atoll(map_get(now, key));
    return b >= a ? (double)(b - a) * 1000.0 / (double)elapsed_ms : -1;
}

size_t watch_rows(json_t *maps, json_t *previous, int64_t elapsed_ms, watch_row_t *rows, size_t cap)
{
    size_t n = 0, i;
    json_t *m;
    json_array_foreach (maps, i, m) {
        if (n == cap)
            break;
        watch_row_t *r = &rows[n++];
        json_t *before = find_by_name(previous, map_get(m, "name"));
        snprintf(r->name, sizeof(r->name), "%s", map_get(m, "name"));
        snprintf(r->status, sizeof(r->status), "%s", map_get(m, "status"));
        r->in_rate = rate(m, before, "recordsIn", elapsed_ms);
        r->out_rate = rate(m, before, "recordsOut", elapsed_ms);
        snprintf(r->lag, sizeof(r->lag), "%s", map_get(m, "consumerLag"));
        snprintf(r->dead_letters, sizeof(r->dead_letters), "%s", map_get(m, "recordsDeadLetter"));
        /* one line per task: a multi-line error would break the table */
        snprintf(r->last_error, sizeof(r->last_error), "%s", map_get(m, "lastError"));
        for (char *p = r->last_error; *p != '\0'; p++)
            if (*p == '\n' || *p == '\r' || *p == '\t' || (unsigned char)*p < 0x20)
                *p = ' ';
    }
    return n;
}

static void format_rate(double r, char *out, size_t size)
{
    if (r < 0)
        snprintf(out, size, "-");
    else
        snprintf(out, size, "%.1f", r);
}

void watch_print_lines(FILE *out, const char *time_iso, const watch_row_t *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const watch_row_t *r = &rows[i];
        char in[32], outr[32];
        format_rate(r->in_rate, in, sizeof(in));
        format_rate(r->out_rate, outr, sizeof(outr));
        json_t *quoted = json_string(r->last_error);
        char *err = quoted != NULL ? json_dumps(quoted, JSON_ENCODE_ANY) : NULL;
        json_decref(quoted);
        /* json_string() of a non-UTF-8 error is NULL: print it empty rather than nothing */
        fprintf(out, "%s %s status=%s in/s=%s out/s=%s lag=%s deadLetters=%s lastError=%s\n",
                time_iso, r->name, r->status, in, outr, r->lag[0] ? r->lag : "-",
                r->dead_letters[0] ? r->dead_letters : "0", err != NULL ? err : "\"\"");
        free(err);
    }
    fflush(out);
}

static int terminal_width(void)
{
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    return 80;
}

/* The table on a terminal, each line cut at the terminal's width. */
static void watch_draw(const watch_config_t *cfg, const char *time_iso, const watch_row_t *rows,
                       size_t n, const char *problem)
{
    int width = terminal_width();
    char line[4096];
    fputs(ANSI_HOME_CLEAR, stdout);
    snprintf(line, sizeof(line), "symtask watch  %s  %s  (q quits)", cfg->title, time_iso);
    printf(ANSI_BOLD "%.*s" ANSI_RESET "\r\n\r\n", width, line);
    snprintf(line, sizeof(line), "%-24s %-11s %9s %9s %9s %9s  %s", "TASK", "STATUS", "IN/S",
             "OUT/S", "LAG", "DLQ", "LAST ERROR");
    printf(ANSI_BOLD "%.*s" ANSI_RESET "\r\n", width, line);
    for (size_t i = 0; i < n; i++) {
        const watch_row_t *r = &rows[i];
        char in[32], out[32];
        format_rate(r->in_rate, in, sizeof(in));
        format_rate(r->out_rate, out, sizeof(out));
        snprintf(line, sizeof(line), "%-24.24s %-11s %9s %9s %9s %9s  %s", r->name, r->status, in,
                 out, r->lag[0] ? r->lag : "-", r->dead_letters[0] ? r->dead_letters : "0",
                 r->last_error);
        bool bad = strcmp(r->status, "failed") == 0;
        printf("%s%.*s%s\r\n", bad ? ANSI_RED : "", width, line, bad ? ANSI_RESET : "");
    }
    if (n == 0)
        printf("(no tasks)\r\n");
    if (problem != NULL)
        printf("\r\n" ANSI_RED "%.*s" ANSI_RESET "\r\n", width, problem);
    fflush(stdout);
}

/* Waits up to @ms for a key on @in_fd (-1: none); true when it was q. */
static bool watch_wait_key(int in_fd, int ms)
{
    struct pollfd pfd = {.fd = in_fd, .events = POLLIN};
    int64_t until = watch_now_ms() + ms;
    for (;;) {
        int64_t left = until - watch_now_ms();
        if (left <= 0 || watch_stop_signal || watch_resized)
            return false;
        int r = poll(in_fd >= 0 ? &pfd : NULL, in_fd >= 0 ? 1 : 0, (int)left);
        if (r < 0 && errno != EINTR)
            return false;
        if (r > 0) {
            char c;
            ssize_t got = read(in_fd, &c, 1);
            if (got == 1 && (c == 'q' || c == 'Q'))
                return true;
            if (got == 0) /* stdin closed: keep refreshing, without it */
                in_fd = -1;
        }
    }
}

int watch_run(const watch_config_t *cfg)
{
    bool tty = isatty(STDOUT_FILENO);
    int in_fd = tty && isatty(STDIN_FILENO) ? STDIN_FILENO : -1;
    struct termios saved;
    bool raw = false;

    struct sigaction sa = {.sa_handler = watch_on_signal}, old_int, old_term, old_hup, old_winch;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    sigaction(SIGHUP, &sa, &old_hup);
    struct sigaction wa = {.sa_handler = watch_on_winch};
    sigemptyset(&wa.sa_mask);
    sigaction(SIGWINCH, &wa, &old_winch);

    if (in_fd >= 0 && tcgetattr(in_fd, &saved) == 0) {
        /* keys arrive one by one, unechoed; Ctrl-C still raises SIGINT (ISIG stays on) */
        struct termios t = saved;
        t.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
        t.c_cc[VMIN] = 1;
        t.c_cc[VTIME] = 0;
        raw = tcsetattr(in_fd, TCSANOW, &t) == 0;
    }
    if (tty) {
        fputs(ANSI_ENTER, stdout);
        fflush(stdout);
    }

    int rc = 0;
    json_t *previous = NULL;
    int64_t previous_ms = 0;
    watch_row_t *rows = calloc(WATCH_ROWS_MAX, sizeof(*rows));
    size_t n = 0;
    char problem[1200] = "";
    for (int done = 0; rows != NULL && !watch_stop_signal;) {
        char errstr[1024];
        int fatal = 0;
        json_t *maps = cfg->fetch(cfg->arg, &fatal, errstr, sizeof(errstr));
        int64_t now = watch_now_ms();
        char time_iso[32];
        time_t wall = time(NULL);
        struct tm tm;
        gmtime_r(&wall, &tm);
        strftime(time_iso, sizeof(time_iso), "%Y-%m-%dT%H:%M:%SZ", &tm);
        if (maps == NULL) {
            if (fatal) {
                snprintf(problem, sizeof(problem), "%s", errstr);
                rc = 1;
                break;
            }
            /* a daemon that restarts: show the last figures and why they are old */
            snprintf(problem, sizeof(problem), "%s: %s", time_iso, errstr);
            if (!tty)
                fprintf(stderr, "symtask: %s\n", errstr);
        } else {
            problem[0] = '\0';
            n = watch_rows(maps, previous, now - previous_ms, rows, WATCH_ROWS_MAX);
            json_decref(previous);
            previous = maps;
            previous_ms = now;
            if (!tty)
                watch_print_lines(stdout, time_iso, rows, n);
        }
        if (tty)
            watch_draw(cfg, time_iso, rows, n, problem[0] ? problem : NULL);
        if (cfg->count > 0 && ++done >= cfg->count)
            break;
        /* redraw at once after a resize, then wait the rest of the interval */
        for (;;) {
            int64_t left = previous_ms + cfg->interval_ms - watch_now_ms();
            if (maps == NULL)
                left = cfg->interval_ms - (watch_now_ms() - now);
            if (left <= 0 || watch_stop_signal)
                break;
            if (watch_wait_key(in_fd, (int)left)) {
                watch_stop_signal = -1;
                break;
            }
            if (watch_resized) {
                watch_resized = 0;
                if (tty)
                    watch_draw(cfg, time_iso, rows, n, problem[0] ? problem : NULL);
            }
        }
    }
    if (tty) {
        fputs(ANSI_LEAVE, stdout);
        fflush(stdout);
    }
    if (raw)
        tcsetattr(in_fd, TCSANOW, &saved);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGHUP, &old_hup, NULL);
    sigaction(SIGWINCH, &old_winch, NULL);
    if (rc != 0)
        fprintf(stderr, "symtask: %s\n", problem);
    if (rows == NULL) {
        fprintf(stderr, "symtask: out of memory\n");
        rc = 1;
    }
    json_decref(previous);
    free(rows);
    return rc;
}
