/* test_cli.c: symtaskd's command line: config errors name the key and exit non-zero; the
 * worker's fd options name a bad value, and its --version names its allocator. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

/* Runs the program of environment variable @env (as @name) with @args (NULL-terminated),
 * returns its exit status and its output. */
static int run_program(const char *env, const char *name, char *out, size_t out_size,
                       const char *const *args)
{
    int pipefd[2];
    cr_assert(pipe(pipefd) == 0);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        h_die_with_parent(parent);
        dup2(pipefd[1], 1);
        dup2(pipefd[1], 2);
        close(pipefd[0]);
        const char *argv[16] = {name};
        for (int i = 0; args[i] != NULL && i < 14; i++)
            argv[i + 1] = args[i];
        execv(getenv(env), (char *const *)argv);
        _exit(127);
    }
    close(pipefd[1]);
    size_t got = 0;
    ssize_t n;
    while (got + 1 < out_size && (n = read(pipefd[0], out + got, out_size - got - 1)) > 0)
        got += (size_t)n;
    out[got] = '\0';
    /* what does not fit is read and dropped: a program blocked on a full pipe never exits */
    char rest[4096];
    while (read(pipefd[0], rest, sizeof(rest)) > 0)
        ;
    close(pipefd[0]);
    int wstatus;
    waitpid(pid, &wstatus, 0);
    cr_assert(WIFEXITED(wstatus), "%s did not exit normally", name);
    return WEXITSTATUS(wstatus);
}

static int run_daemon(char *out, size_t out_size, const char *const *args)
{
    return run_program("SYMTASKD", "symtaskd", out, out_size, args);
}

/* Only its dir (and guardian): the daemons here exit by themselves. */
static harness_t h;
static const char *const dir = h.dir, *const conf = h.conf_path;

static void setup(void)
{
    h_make_dir(&h);
    char customers[300];
    snprintf(customers, sizeof(customers), "%s/customers", dir);
    int fd = open(customers, O_WRONLY | O_CREAT, 0600);
    cr_assert(write(fd, "c1:MDEyMzQ1Njc4OWFiY2RlZg==\n", 28) == 28);
    close(fd);
    FILE *f = fopen(conf, "w");
    fprintf(f, "state.dir = %s/state\ncustomers.file = %s\nlisten = 127.0.0.1:0\n", dir, customers);
    fclose(f);
}

static void teardown(void)
{
    h_teardown(&h);
}

TestSuite(cli, .init = setup, .fini = teardown, .timeout = 30);

Test(cli, version_and_help)
{
    char out[4096];
    cr_assert_eq(run_daemon(out, sizeof(out), (const char *[]){"--version", NULL}), 0);
    cr_assert(strncmp(out, "symtaskd ", 9) == 0, "%s", out);
    cr_assert_eq(run_daemon(out, sizeof(out), (const char *[]){"--help", NULL}), 0);
    cr_assert(strstr(out, "--set KEY=VALUE") != NULL, "%s", out);
}

Test(cli, check_accepts_a_good_config)
{
    char out[4096];
    cr_assert_eq(run_daemon(out, sizeof(out), (const char *[]){"-c", conf, "--check", NULL}), 0,
                 "%s", out);
    cr_assert(strstr(out, "configuration OK") != NULL, "%s", out);
}

Test(cli, unknown_key_is_named)
{
    char out[4096];
    int code = run_daemon(out, sizeof(out),
                          (const char *[]){"-c", conf, "--set", "sml.task.maxx=3", NULL});
    cr_assert_neq(code, 0);
    cr_assert(strstr(out, "sml.task.maxx") != NULL, "%s", out);
}

Test(cli, bad_value_is_named)
{
    char out[4096];
    int code = run_daemon(out, sizeof(out),
                          (const char *[]){"-c", conf, "--set", "sml.task.max=lots", NULL});
    cr_assert_neq(code, 0);
    cr_assert(strstr(out, "sml.task.max") != NULL && strstr(out, "lots") != NULL, "%s", out);
}

Test(cli, missing_config_and_bad_set)
{
    char out[4096];
    cr_assert_neq(run_daemon(out, sizeof(out), (const char *[]){NULL}), 0);
    cr_assert(strstr(out, "-c FILE") != NULL, "%s", out);
    cr_assert_neq(run_daemon(out, sizeof(out), (const char *[]){"-c", "/nonexistent.conf", NULL}),
                  0);
    cr_assert(strstr(out, "/nonexistent.conf") != NULL, "%s", out);
    cr_assert_neq(run_daemon(out, sizeof(out), (const char *[]){"-c", conf, "--set", "x", NULL}),
                  0);
    cr_assert(strstr(out, "KEY=VALUE") != NULL, "%s", out);
}

Test(cli, customers_file_readable_by_others_is_refused)
{
    char customers[300], out[4096];
    snprintf(customers, sizeof(customers), "%s/customers", dir);
    chmod(customers, 0644);
    cr_assert_neq(run_daemon(out, sizeof(out), (const char *[]){"-c", conf, NULL}), 0);
    cr_assert(strstr(out, "chmod 600") != NULL, "%s", out);
}

Test(cli, tls_key_without_cert_is_refused)
{
    char out[4096];
    cr_assert_neq(
        run_daemon(out, sizeof(out), (const char *[]){"-c", conf, "--set", "tls.key=/x.pem", NULL}),
        0);
    cr_assert(strstr(out, "tls.cert") != NULL, "%s", out);
}

Test(cli, the_workers_fd_options_name_a_bad_value)
{
    static const struct {
        const char *option, *value, *says;
    } cases[] = {
        {"--hand-fd", "four", "symtask-worker: --hand-fd: not a file descriptor: four"},
        {"--hand-fd", "-1", "symtask-worker: --hand-fd: not a file descriptor: -1"},
        {"--channel-fd", "70000", "symtask-worker: --channel-fd: not a file descriptor: 70000"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[4096];
        int rc = run_program("SYMTASK_WORKER", "symtask-worker", out, sizeof(out),
                             (const char *[]){cases[i].option, cases[i].value, NULL});
        cr_expect_eq(rc, 2, "%s %s: %s", cases[i].option, cases[i].value, out);
        cr_expect(strstr(out, cases[i].says) != NULL, "%s", out);
    }
}

/* The worker names its allocator, and a jemalloc build runs with the settings main.c gives
 * it: freed pages back to the system after a second, none kept "muzzy" (docs/delivery.md). */
Test(cli, the_worker_runs_on_the_allocator_the_build_chose)
{
    const char *allocator = getenv("SYMTASK_WORKER_ALLOCATOR");
    cr_assert(allocator != NULL, "SYMTASK_WORKER_ALLOCATOR is not set (tests/meson.build)");
    static char out[65536];
    cr_assert_eq(run_program("SYMTASK_WORKER", "symtask-worker", out, sizeof(out),
                             (const char *[]){"--version", NULL}),
                 0, "%s", out);
    char says[64];
    snprintf(says, sizeof(says), ", %s", allocator);
    cr_assert(strncmp(out, "symtask-worker ", 15) == 0 && strstr(out, says) != NULL,
              "expected %s in: %s", says, out);
    if (strcmp(allocator, "jemalloc") != 0)
        return;
    /* jemalloc prints its options at exit when asked to; the worker's own settings show in
     * them, merged with the environment's */
    setenv("MALLOC_CONF", "stats_print:true,stats_print_opts:mdablxeh", 1);
    int rc = run_program("SYMTASK_WORKER", "symtask-worker", out, sizeof(out),
                         (const char *[]){"--version", NULL});
    unsetenv("MALLOC_CONF");
    cr_assert_eq(rc, 0, "%s", out);
    cr_assert(strstr(out, "Begin jemalloc statistics") != NULL, "%s", out);
    cr_expect(strstr(out, "opt.dirty_decay_ms: 1000 ") != NULL, "%s", out);
    cr_expect(strstr(out, "opt.muzzy_decay_ms: 0 ") != NULL, "%s", out);
}
