/* avro_util.c: the schema registry of the tests and python3-avro's records (avro_util.h). */
#include "avro_util.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PYTHON "/usr/bin/python3"

static const char *avr_script(const char *name)
{
    static char path[2][600];
    static int which;
    const char *root = getenv("SYMTASK_SOURCE_ROOT");
    cr_assert(root != NULL && root[0] != '\0',
              "SYMTASK_SOURCE_ROOT is not set (meson test sets it)");
    which ^= 1;
    snprintf(path[which], sizeof(path[which]), "%s/tests/avro/%s", root, name);
    return path[which];
}

void avr_start(av_registry_t *r, const char *dir, int port, const char *extra_args)
{
    char port_file[300], cmd[2048];
    snprintf(r->dir, sizeof(r->dir), "%s", dir);
    snprintf(r->control, sizeof(r->control), "%s/registry.control", dir);
    snprintf(r->log, sizeof(r->log), "%s/registry.log", dir);
    snprintf(port_file, sizeof(port_file), "%s/registry.port", dir);
    unlink(port_file);
    snprintf(cmd, sizeof(cmd), "exec %s %s --port %d --port-file '%s' --control '%s' --log '%s' %s",
             PYTHON, avr_script("registry.py"), port, port_file, r->control, r->log,
             extra_args ? extra_args : "");
    pid_t parent = getpid();
    pid_t pid = fork();
    cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
            _exit(127);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    r->pid = pid;
    for (int i = 0; i < 200; i++) {
        FILE *f = fopen(port_file, "r");
        if (f != NULL) {
            int ok = fscanf(f, "%d", &r->port) == 1;
            fclose(f);
            if (ok) {
                const char *cert = extra_args ? strstr(extra_args, "--cert ") : NULL;
                r->ca[0] = '\0';
                if (cert != NULL)
                    sscanf(cert + 7, "%299s", r->ca);
                snprintf(r->url, sizeof(r->url), "%s://127.0.0.1:%d", cert ? "https" : "http",
                         r->port);
                return;
            }
        }
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            r->pid = 0;
            cr_assert_fail("the registry (%s) ended at its start", cmd);
        }
        usleep(50000);
    }
    avr_stop(r);
    cr_assert_fail("the registry did not start within 10 s: %s", cmd);
}

void avr_stop(av_registry_t *r)
{
    if (r->pid <= 0)
        return;
    kill(r->pid, SIGTERM);
    for (int i = 0; i < 100; i++) {
        if (waitpid(r->pid, NULL, WNOHANG) == r->pid) {
            r->pid = 0;
            return;
        }
        usleep(50000);
    }
    kill(r->pid, SIGKILL);
    waitpid(r->pid, NULL, 0);
    r->pid = 0;
}

void avr_fault(av_registry_t *r, const char *fault)
{
    if (fault == NULL) {
        unlink(r->control);
        return;
    }
    char tmp[320];
    snprintf(tmp, sizeof(tmp), "%s.tmp", r->control);
    FILE *f = fopen(tmp, "w");
    cr_assert_not_null(f);
    fprintf(f, "%s\n", fault);
    fclose(f);
    cr_assert_eq(rename(tmp, r->control), 0);
}

int avr_count(const av_registry_t *r, const char *prefix)
{
    FILE *f = fopen(r->log, "r");
    char line[1024];
    int n = 0;
    if (f == NULL)
        return 0;
    while (fgets(line, sizeof(line), f) != NULL)
        n += strncmp(line, prefix, strlen(prefix)) == 0;
    fclose(f);
    return n;
}

static int avr_hex(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Runs @cmd with @input on its stdin (through a file) and returns its stdout, malloc'd. */
static char *avr_run(const av_registry_t *r, const char *cmd, const char *input)
{
    char in_path[320], full[4096];
    static int seq;
    snprintf(in_path, sizeof(in_path), "%s/records-%d-%d.in", r->dir, (int)getpid(), seq++);
    FILE *f = fopen(in_path, "w");
    cr_assert_not_null(f, "%s", in_path);
    fputs(input, f);
    fclose(f);
    /* python's urllib trusts what SSL_CERT_FILE names */
    snprintf(full, sizeof(full), "%s%s%s%s < '%s'", r->ca[0] ? "SSL_CERT_FILE='" : "", r->ca,
             r->ca[0] ? "' " : "", cmd, in_path);
    FILE *p = popen(full, "r");
    cr_assert_not_null(p, "%s", full);
    size_t cap = 4096, len = 0;
    char *out = malloc(cap);
    cr_assert_not_null(out);
    size_t n;
    while ((n = fread(out + len, 1, cap - len - 1, p)) > 0) {
        len += n;
        if (cap - len < 2) {
            cap *= 2;
            out = realloc(out, cap);
            cr_assert_not_null(out);
        }
    }
    out[len] = '\0';
    int status = pclose(p);
    unlink(in_path);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s failed (%d): %s", full, status,
              out);
    return out;
}

static char *avr_quote(const char *s)
{
    /* single quotes for sh: ' becomes '\'' */
    size_t n = 3;
    for (const char *p = s; *p; p++)
        n += *p == '\'' ? 4 : 1;
    char *q = malloc(n), *o = q;
    cr_assert_not_null(q);
    *o++ = '\'';
    for (const char *p = s; *p; p++) {
        if (*p == '\'') {
            memcpy(o, "'\\''", 4);
            o += 4;
        } else {
            *o++ = *p;
        }
    }
    *o++ = '\'';
    *o = '\0';
    return q;
}

size_t avr_encode(const av_registry_t *r, const char *subject, const char *schema,
                  const char *jsonl, av_bytes_t *out, size_t cap)
{
    char *qs = avr_quote(schema), *qsub = avr_quote(subject);
    size_t cmd_len = strlen(qs) + strlen(qsub) + 1024;
    char *cmd = malloc(cmd_len);
    cr_assert_not_null(cmd);
    snprintf(cmd, cmd_len, "%s %s encode %s %s %s", PYTHON, avr_script("records.py"), r->url, qsub,
             qs);
    char *hex = avr_run(r, cmd, jsonl);
    free(cmd);
    free(qs);
    free(qsub);
    size_t n = 0;
    for (char *line = hex; *line != '\0';) {
        char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        if (len > 0) {
            cr_assert_lt(n, cap, "more records than room for them");
            cr_assert_eq(len % 2, 0, "odd hex line: %.*s", (int)len, line);
            out[n].len = len / 2;
            out[n].data = malloc(out[n].len + 1);
            cr_assert_not_null(out[n].data);
            for (size_t i = 0; i < out[n].len; i++)
                out[n].data[i] =
                    (unsigned char)(avr_hex(line[2 * i]) << 4 | avr_hex(line[2 * i + 1]));
            out[n].data[out[n].len] = '\0';
            n++;
        }
        if (nl == NULL)
            break;
        line = nl + 1;
    }
    free(hex);
    return n;
}

char *avr_decode(const av_registry_t *r, const av_bytes_t *records, size_t n)
{
    size_t cap = 16, len = 0;
    for (size_t i = 0; i < n; i++)
        cap += 2 * records[i].len + 1;
    char *in = malloc(cap);
    cr_assert_not_null(in);
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < records[i].len; k++)
            len += (size_t)snprintf(in + len, cap - len, "%02x", records[i].data[k]);
        in[len++] = '\n';
    }
    in[len] = '\0';
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "%s %s decode %s", PYTHON, avr_script("records.py"), r->url);
    char *out = avr_run(r, cmd, in);
    free(in);
    size_t l = strlen(out);
    while (l > 0 && out[l - 1] == '\n')
        out[--l] = '\0';
    return out;
}

int avr_register(const av_registry_t *r, const char *subject, const char *schema)
{
    char *qs = avr_quote(schema), *qsub = avr_quote(subject);
    size_t cmd_len = strlen(qs) + strlen(qsub) + 1024;
    char *cmd = malloc(cmd_len);
    cr_assert_not_null(cmd);
    snprintf(cmd, cmd_len, "%s %s register %s %s %s", PYTHON, avr_script("records.py"), r->url,
             qsub, qs);
    char *out = avr_run(r, cmd, "");
    int id = atoi(out);
    free(out);
    free(cmd);
    free(qs);
    free(qsub);
    return id;
}

void avr_bytes_free(av_bytes_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(b[i].data);
        b[i].data = NULL;
    }
}
