/* test_harness.c: the harness itself: nothing a test starts outlives the test process,
 * however that process ends. */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

TestSuite(harness, .timeout = 90);

typedef struct victim_report {
    pid_t daemon;
    char dir[256];
} victim_report_t;

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Polls @gone (at most 10 s); true once it holds. */
static bool within_10_s(bool (*gone)(const victim_report_t *), const victim_report_t *v)
{
    for (int i = 0; i < 200; i++) {
        if (gone(v))
            return true;
        sleep_ms(50);
    }
    return gone(v);
}

static bool daemon_gone(const victim_report_t *v)
{
    return !h_pid_alive(v->daemon);
}

static bool dir_gone(const victim_report_t *v)
{
    struct stat sb;
    return stat(v->dir, &sb) != 0 && errno == ENOENT;
}

/* Forks a stand-in for a test process that calls h_setup, reports its daemon and dir, and
 * then ends as @end says, without h_teardown; checks that the daemon and the dir go. */
static void check_nothing_is_left(const char *how, void (*end)(pid_t self))
{
    int fds[2];
    /* What h_setup would assert, asserted here: an assertion in the child is no test's. */
    cr_assert(getenv("SYMTASKD") != NULL, "SYMTASKD (path of symtaskd) must be set");
    cr_assert(pipe(fds) == 0);
    pid_t victim = fork();
    cr_assert(victim >= 0);
    if (victim == 0) {
        static harness_t h;
        victim_report_t report = {0};
        close(fds[0]);
        h_setup(&h, NULL);
        report.daemon = h.pid;
        snprintf(report.dir, sizeof(report.dir), "%s", h.dir);
        if (write(fds[1], &report, sizeof(report)) != (ssize_t)sizeof(report))
            _exit(1);
        end(getpid());
        _exit(0);
    }
    close(fds[1]);
    victim_report_t v = {0};
    struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
    bool reported = poll(&pfd, 1, 30000) == 1 && read(fds[0], &v, sizeof(v)) == (ssize_t)sizeof(v);
    close(fds[0]);
    if (!reported)
        kill(victim, SIGKILL);
    int wstatus;
    cr_assert_eq(waitpid(victim, &wstatus, 0), victim);
    cr_assert(reported, "%s: the stand-in test process did not start its daemon", how);

    cr_assert(within_10_s(daemon_gone, &v), "%s: symtaskd %d outlived its test process", how,
              (int)v.daemon);
    if (getenv("SYMTASK_KEEP_TEST_DIRS") != NULL) {
        cr_log_info("%s: SYMTASK_KEEP_TEST_DIRS is set, %s is kept", how, v.dir);
        return;
    }
    cr_assert(within_10_s(dir_gone, &v), "%s: %s outlived its test process", how, v.dir);
}

static void end_sigkill(pid_t self)
{
    /* As criterion ends a test that ran out of time. */
    kill(self, SIGKILL);
}

static void end_exit(pid_t self)
{
    /* As cr_skip_test ends a test: exit(0), without the suite's .fini. */
    (void)self;
    exit(0);
}

static void end_abort(pid_t self)
{
    /* As a crash, or a failed assertion in .init, ends a test. */
    (void)self;
    signal(SIGABRT, SIG_DFL);
    abort();
}

Test(harness, a_test_killed_right_after_setup_leaves_no_daemon_and_no_dir)
{
    check_nothing_is_left("SIGKILL", end_sigkill);
}

Test(harness, a_test_that_exits_without_teardown_leaves_no_daemon_and_no_dir)
{
    check_nothing_is_left("exit(0)", end_exit);
}

Test(harness, a_test_that_aborts_leaves_no_daemon_and_no_dir)
{
    check_nothing_is_left("abort()", end_abort);
}

Test(harness, teardown_stops_the_daemon_and_removes_the_dir)
{
    static harness_t h;
    h_setup(&h, NULL);
    victim_report_t v = {.daemon = h.pid};
    snprintf(v.dir, sizeof(v.dir), "%s", h.dir);
    h_teardown(&h);
    cr_assert(daemon_gone(&v), "symtaskd %d runs after h_teardown", (int)v.daemon);
    if (getenv("SYMTASK_KEEP_TEST_DIRS") == NULL)
        cr_assert(dir_gone(&v), "%s is left after h_teardown", v.dir);
    cr_assert_eq(h.pid, 0);
}
