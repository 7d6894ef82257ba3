/* fuzz_config.c: libFuzzer target for the configuration file parser (core/config.c) and
 * the customers file parser (core/customers.c), which read the same kind of text.
 *
 * Input: a file's content. It is loaded as a config file and as a customers file; its
 * first line, split at the first '=', is then given to config_set as a --set from the
 * command line, and the whole input, cut at its first NUL, to config_parse_size. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "customers.h"
#include "fuzz_util.h"

static int fd = -1;
static char path[32];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fd = fuzz_memfd_open("config", path);
    return 0;
}

static void check_config(const config_t *cfg)
{
    char errstr[512];
    if (cfg->listen_count < 1 || cfg->listen_count > CONFIG_LISTEN_MAX)
        abort();
    for (size_t i = 0; i < cfg->listen_count; i++)
        if (cfg->listen[i] == NULL)
            abort();
    (void)config_check(cfg, errstr, sizeof(errstr));
}

/* As symtaskd does: the file, then the first line as `--set key=value`. */
static void load_config(const uint8_t *data, size_t size)
{
    char errstr[512];
    config_t cfg;

    config_init(&cfg);
    errstr[0] = '\0';
    if (config_load_file(&cfg, path, errstr, sizeof(errstr)) != 0) {
        /* The message starts with the file's name: "FILE:LINE: " or "cannot read ...". */
        if (strstr(errstr, path) == NULL)
            abort();
    }
    char *line = fuzz_dup(data, size, 1);
    char *eq = strchr(line, '=');
    char *nl = strchr(line, '\n');
    if (eq != NULL && (nl == NULL || eq < nl)) {
        if (nl != NULL)
            *nl = '\0';
        *eq = '\0';
        /* A listen from the command line replaces every listen of the file. */
        if (config_set(&cfg, line, eq + 1, CONFIG_SRC_CLI, errstr, sizeof(errstr)) == 0 &&
            strcmp(line, "listen") == 0 &&
            (cfg.listen_count != 1 || strcmp(cfg.listen[0], eq + 1) != 0))
            abort();
    }
    free(line);
    check_config(&cfg);
    config_free(&cfg);
}

static int b64_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/' || c == '=';
}

/* Whether @needle occurs in the text before the first ':' of any line of @data. */
static int in_some_id(const char *data, size_t size, const char *needle, size_t needle_len)
{
    for (size_t off = 0; off < size;) {
        const char *line = data + off;
        const char *nl = memchr(line, '\n', size - off);
        size_t len = nl != NULL ? (size_t)(nl - line) : size - off;
        const char *colon = memchr(line, ':', len);
        if (memmem(line, colon != NULL ? (size_t)(colon - line) : len, needle, needle_len))
            return 1;
        off += len + 1;
    }
    return 0;
}

/* customers_load never prints a secret: no run of 16 or more base64 characters after a
 * line's ':' shows up in its message, unless the input also has it before a ':' (ids are
 * printed, and a garbled file may use a secret as an id). */
static void check_no_secret(const char *data, size_t size, const char *errstr)
{
    /* Past the "FILE:" every message starts with. */
    const char *msg = strncmp(errstr, path, strlen(path)) == 0 ? errstr + strlen(path) : errstr;
    for (size_t off = 0; off < size;) {
        const char *line = data + off;
        const char *nl = memchr(line, '\n', size - off);
        size_t len = nl != NULL ? (size_t)(nl - line) : size - off;
        const char *end = line + len, *colon = memchr(line, ':', len);
        off += len + 1;
        if (colon == NULL)
            continue;
        const char *p = colon + 1;
        while (p < end && !b64_char(*p))
            p++;
        const char *q = p;
        while (q < end && b64_char(*q))
            q++;
        if (q - p < 16 || in_some_id(data, size, p, (size_t)(q - p)))
            continue;
        if (memmem(msg, strlen(msg), p, (size_t)(q - p)) != NULL) {
            fprintf(stderr, "customers_load printed a secret: %s\n", errstr);
            abort();
        }
    }
}

static void load_customers(const uint8_t *data, size_t size)
{
    char errstr[512];
    errstr[0] = '\0';
    customers_t *customers = customers_load(path, errstr, sizeof(errstr));
    if (customers == NULL) {
        check_no_secret((const char *)data, size, errstr);
        return;
    }
    (void)customers_count(customers);
    customers_free(customers);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_dup(data, size, 1);
    size_t bytes;
    (void)config_parse_size(s, &bytes);
    free(s);

    fuzz_memfd_fill(fd, data, size);
    load_config(data, size);
    load_customers(data, size);
    return 0;
}
