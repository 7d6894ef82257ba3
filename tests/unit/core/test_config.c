/* test_config.c: unit tests of core/config.c (keys, defaults, the file parser, listen). */
#include <criterion/criterion.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "symtask_build.h"

static char tmpdir[256];
static char path[512];
static config_t cfg;
static char err[512];

static void setup(void)
{
    strcpy(tmpdir, "/tmp/symtask-test-config-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
    config_init(&cfg);
    err[0] = '\0';
}

static void teardown(void)
{
    config_free(&cfg);
    DIR *dir = opendir(tmpdir);
    if (dir != NULL) {
        struct dirent *de;
        char p[600];
        while ((de = readdir(dir)) != NULL) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            snprintf(p, sizeof(p), "%s/%s", tmpdir, de->d_name);
            unlink(p);
        }
        closedir(dir);
    }
    rmdir(tmpdir);
}

TestSuite(config, .init = setup, .fini = teardown);

/* Writes @text to tmpdir/symtaskd.conf and leaves its name in `path`. */
static const char *write_conf(const char *text)
{
    snprintf(path, sizeof(path), "%s/symtaskd.conf", tmpdir);
    FILE *fp = fopen(path, "w");
    cr_assert_not_null(fp);
    fputs(text, fp);
    fclose(fp);
    return path;
}

static int set(const char *key, const char *value)
{
    return config_set(&cfg, key, value, CONFIG_SRC_FILE, err, sizeof(err));
}

static int set_cli(const char *key, const char *value)
{
    return config_set(&cfg, key, value, CONFIG_SRC_CLI, err, sizeof(err));
}

static int load(const char *text)
{
    return config_load_file(&cfg, write_conf(text), err, sizeof(err));
}

/* The message expected for a bad line, with the temp file's name before it. */
static const char *at_line(int line, const char *msg)
{
    static char buf[1024];
    snprintf(buf, sizeof(buf), "%s:%d: %s", path, line, msg);
    return buf;
}

/* ---- defaults ---- */

Test(config, defaults)
{
    cr_assert_eq(cfg.listen_count, 1);
    cr_assert_str_eq(cfg.listen[0], "127.0.0.1:8080");
    cr_assert_str_eq(cfg.state_dir, SYMTASK_STATEDIR);
    cr_assert_null(cfg.plugin_dir);
    cr_assert_null(cfg.worker_path);
    cr_assert_str_eq(cfg.customers_file, SYMTASK_SYSCONFDIR "/customers");
    cr_assert_null(cfg.kafka_bootstrap_servers);
    cr_assert_null(cfg.tls_cert);
    cr_assert_null(cfg.tls_key);
    cr_assert_eq(cfg.task_max, 4);
    cr_assert_eq(cfg.kafka_embedded, false);
    cr_assert_eq(cfg.kafka_embedded_brokers, 1);
    cr_assert_eq(cfg.kafka_embedded_partitions, 4);
    cr_assert_eq(cfg.allow_plaintext_taskinfo, false);
    cr_assert_eq(cfg.log_level, LOG_INFO);
    cr_assert_eq(cfg.http_max_body, 1024 * 1024);
    cr_assert_eq(cfg.stop_timeout_ms, 10000);
    cr_assert_eq(cfg.restart_backoff_ms, 1000);
    cr_assert_eq(cfg.restart_backoff_max_ms, 30000);
    cr_assert_eq(cfg.restart_max, 5);
    cr_assert_eq(cfg.heartbeat_timeout_ms, 30000);
    cr_assert_eq(cfg._cli_listen, false);
    cr_assert_eq(config_check(&cfg, err, sizeof(err)), 0);
}

Test(config, free_twice_is_harmless)
{
    config_free(&cfg);
    config_free(&cfg);
    cr_assert_null(cfg.state_dir);
    cr_assert_eq(cfg.listen_count, 0);
}

/* ---- number keys ---- */

typedef struct uint_key {
    const char *name;
    size_t offset;
    unsigned min, max;
} uint_key_t;

static const uint_key_t uint_keys[] = {
    {"kafka.embedded.brokers", offsetof(config_t, kafka_embedded_brokers), 1, 9},
    {"kafka.embedded.partitions", offsetof(config_t, kafka_embedded_partitions), 1, 256},
    {"sml.task.max", offsetof(config_t, task_max), 1, 1024},
    {"task.stop_timeout_ms", offsetof(config_t, stop_timeout_ms), 100, 600000},
    {"task.restart_backoff_ms", offsetof(config_t, restart_backoff_ms), 10, 600000},
    {"task.restart_backoff_max_ms", offsetof(config_t, restart_backoff_max_ms), 10, 3600000},
    {"task.restart_max", offsetof(config_t, restart_max), 1, 1000},
    {"task.heartbeat_timeout_ms", offsetof(config_t, heartbeat_timeout_ms), 1000, 3600000},
};

static unsigned uint_field(const uint_key_t *k)
{
    return *(unsigned *)((char *)&cfg + k->offset);
}

Test(config, number_keys_accept_their_range)
{
    char v[32];
    for (size_t i = 0; i < sizeof(uint_keys) / sizeof(uint_keys[0]); i++) {
        const uint_key_t *k = &uint_keys[i];
        snprintf(v, sizeof(v), "%u", k->min);
        cr_assert_eq(set(k->name, v), 0, "%s=%s: %s", k->name, v, err);
        cr_assert_eq(uint_field(k), k->min, "%s", k->name);
        snprintf(v, sizeof(v), "%u", k->max);
        cr_assert_eq(set(k->name, v), 0, "%s=%s: %s", k->name, v, err);
        cr_assert_eq(uint_field(k), k->max, "%s", k->name);
    }
}

Test(config, number_keys_refuse_values_out_of_range_or_not_numbers)
{
    char v[32], want[256];
    for (size_t i = 0; i < sizeof(uint_keys) / sizeof(uint_keys[0]); i++) {
        const uint_key_t *k = &uint_keys[i];
        unsigned before = uint_field(k);
        const char *bad[] = {"abc", "",     "-1",  "+5",  " 5",
                             "5 ",  "0x10", "1.5", "5ms", "99999999999999999999999"};
        char lo[16], hi[16];
        snprintf(lo, sizeof(lo), "%u", k->min - 1);
        snprintf(hi, sizeof(hi), "%u", k->max + 1);
        for (size_t j = 0; j < sizeof(bad) / sizeof(bad[0]) + 2; j++) {
            const char *val = j < sizeof(bad) / sizeof(bad[0])    ? bad[j]
                              : j == sizeof(bad) / sizeof(bad[0]) ? lo
                                                                  : hi;
            snprintf(v, sizeof(v), "%s", val);
            cr_assert_eq(set(k->name, v), -1, "%s='%s' accepted", k->name, v);
            snprintf(want, sizeof(want), "%s: '%s' is not a whole number between %u and %u",
                     k->name, v, k->min, k->max);
            cr_assert_str_eq(err, want);
            cr_assert_eq(uint_field(k), before, "%s changed by a bad value", k->name);
        }
    }
}

Test(config, number_error_message_matches_the_documented_form)
{
    cr_assert_eq(set("sml.task.max", "abc"), -1);
    cr_assert_str_eq(err, "sml.task.max: 'abc' is not a whole number between 1 and 1024");
}

/* ---- booleans ---- */

Test(config, bool_keys_accept_every_spelling)
{
    const char *keys[] = {"kafka.embedded", "auth.allow_plaintext_taskinfo"};
    const char *yes[] = {"true", "yes", "1", "on", "TRUE", "Yes", "On"};
    const char *no[] = {"false", "no", "0", "off", "False", "NO", "OFF"};
    for (size_t i = 0; i < 2; i++) {
        bool *field = i == 0 ? &cfg.kafka_embedded : &cfg.allow_plaintext_taskinfo;
        for (size_t j = 0; j < sizeof(yes) / sizeof(yes[0]); j++) {
            cr_assert_eq(set(keys[i], yes[j]), 0, "%s=%s: %s", keys[i], yes[j], err);
            cr_assert_eq(*field, true, "%s=%s", keys[i], yes[j]);
            cr_assert_eq(set(keys[i], no[j]), 0, "%s=%s: %s", keys[i], no[j], err);
            cr_assert_eq(*field, false, "%s=%s", keys[i], no[j]);
        }
    }
}

Test(config, bool_keys_refuse_other_values)
{
    const char *bad[] = {"maybe", "", "2", "t", "y", "enabled", "true "};
    for (size_t j = 0; j < sizeof(bad) / sizeof(bad[0]); j++) {
        cr_assert_eq(set("kafka.embedded", bad[j]), -1, "'%s' accepted", bad[j]);
        cr_assert(strstr(err, "kafka.embedded: '") == err, "%s", err);
        cr_assert(strstr(err, "true/false") != NULL, "%s", err);
        cr_assert_eq(set("auth.allow_plaintext_taskinfo", bad[j]), -1, "'%s' accepted", bad[j]);
    }
    cr_assert_eq(set("kafka.embedded", "maybe"), -1);
    cr_assert_str_eq(
        err, "kafka.embedded: 'maybe' is not a boolean (true/false, yes/no, on/off or 1/0)");
}

/* ---- strings and paths ---- */

Test(config, path_keys_are_stored_and_replaced)
{
    struct {
        const char *key;
        char **field;
    } keys[] = {
        {"state.dir", &cfg.state_dir},
        {"plugin.dir", &cfg.plugin_dir},
        {"worker.path", &cfg.worker_path},
        {"customers.file", &cfg.customers_file},
        {"tls.cert", &cfg.tls_cert},
        {"tls.key", &cfg.tls_key},
        {"kafka.bootstrap.servers", &cfg.kafka_bootstrap_servers},
    };
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        cr_assert_eq(set(keys[i].key, "/first"), 0, "%s: %s", keys[i].key, err);
        cr_assert_str_eq(*keys[i].field, "/first");
        /* setting twice frees the first value (valgrind watches) */
        cr_assert_eq(set_cli(keys[i].key, "/second value"), 0, "%s: %s", keys[i].key, err);
        cr_assert_str_eq(*keys[i].field, "/second value");
    }
}

Test(config, path_keys_refuse_an_empty_value)
{
    const char *keys[] = {"state.dir",      "plugin.dir", "worker.path",
                          "customers.file", "tls.cert",   "tls.key"};
    char want[128];
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        cr_assert_eq(set(keys[i], ""), -1, "%s accepted ''", keys[i]);
        snprintf(want, sizeof(want), "%s: '' is not a path (the value is empty)", keys[i]);
        cr_assert_str_eq(err, want);
    }
    cr_assert_str_eq(cfg.state_dir, SYMTASK_STATEDIR);
}

Test(config, empty_bootstrap_servers_means_none)
{
    cr_assert_eq(set("kafka.bootstrap.servers", "k1:9092,k2:9092"), 0, "%s", err);
    cr_assert_str_eq(cfg.kafka_bootstrap_servers, "k1:9092,k2:9092");
    cr_assert_eq(set("kafka.bootstrap.servers", ""), 0, "%s", err);
    cr_assert_null(cfg.kafka_bootstrap_servers);
}

/* ---- log.level ---- */

Test(config, log_level_accepts_the_four_levels)
{
    const char *names[] = {"error", "warn", "info", "debug"};
    const int levels[] = {LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG};
    for (size_t i = 0; i < 4; i++) {
        cr_assert_eq(set("log.level", names[i]), 0, "%s", err);
        cr_assert_eq(cfg.log_level, levels[i]);
    }
}

Test(config, log_level_refuses_others)
{
    cr_assert_eq(set("log.level", "verbose"), -1);
    cr_assert_str_eq(err, "log.level: 'verbose' is not one of error, warn, info, debug");
    cr_assert_eq(set("log.level", ""), -1);
    cr_assert_eq(set("log.level", "warning"), -1);
    cr_assert_eq(cfg.log_level, LOG_INFO);
}

/* ---- http.max_body and config_parse_size ---- */

Test(config, max_body_accepts_sizes_between_1k_and_64m)
{
    struct {
        const char *v;
        size_t want;
    } good[] = {{"1k", 1024},      {"1024", 1024},       {"512k", 512 * 1024},  {"1m", 1048576},
                {"64m", 64 << 20}, {"65536K", 64 << 20}, {"67108864", 64 << 20}};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        cr_assert_eq(set("http.max_body", good[i].v), 0, "%s: %s", good[i].v, err);
        cr_assert_eq(cfg.http_max_body, good[i].want, "%s", good[i].v);
    }
}

Test(config, max_body_refuses_other_sizes)
{
    const char *bad[] = {"1023", "0", "67108865", "65m", "1g", "abc", "", "1.5m", "1mb", "-1k"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(set("http.max_body", bad[i]), -1, "'%s' accepted", bad[i]);
        cr_assert(strstr(err, "http.max_body: '") == err, "%s", err);
        cr_assert(strstr(err, "between 1k and 64m") != NULL, "%s", err);
    }
    cr_assert_eq(cfg.http_max_body, 1024 * 1024);
}

Test(config, parse_size_good)
{
    struct {
        const char *s;
        size_t want;
    } good[] = {
        {"0", 0},
        {"1048576", 1048576},
        {"512k", 512 * 1024},
        {"512K", 512 * 1024},
        {"1m", 1 << 20},
        {"1024M", (size_t)1 << 30},
        {"2g", (size_t)2 << 30},
        {"2G", (size_t)2 << 30},
        {"007", 7},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        size_t out = 12345;
        cr_assert_eq(config_parse_size(good[i].s, &out), 0, "%s", good[i].s);
        cr_assert_eq(out, good[i].want, "%s: %zu", good[i].s, out);
    }
}

Test(config, parse_size_bad)
{
    const char *bad[] = {"",   "k",  "m",  "1.5m", "1mb", "1kb", "-1", "+1",
                         " 1", "1 ", "1t", "0x10", "1e6", "k1",  "1km"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t out = 12345;
        cr_assert_eq(config_parse_size(bad[i], &out), -1, "'%s' accepted", bad[i]);
        cr_assert_eq(out, 12345, "'%s' wrote the output", bad[i]);
    }
}

Test(config, parse_size_overflow)
{
    char s[64];
    size_t out;
    snprintf(s, sizeof(s), "%zu", (size_t)SIZE_MAX);
    cr_assert_eq(config_parse_size(s, &out), 0);
    cr_assert_eq(out, SIZE_MAX);
    /* SIZE_MAX + 1 */
    cr_assert_eq(
        config_parse_size(SIZE_MAX == UINT64_MAX ? "18446744073709551616" : "4294967296", &out),
        -1);
    cr_assert_eq(config_parse_size("99999999999999999999999999", &out), -1);
    snprintf(s, sizeof(s), "%zuk", (size_t)(SIZE_MAX >> 10));
    cr_assert_eq(config_parse_size(s, &out), 0);
    snprintf(s, sizeof(s), "%zuk", (size_t)(SIZE_MAX >> 10) + 1);
    cr_assert_eq(config_parse_size(s, &out), -1, "%s", s);
    snprintf(s, sizeof(s), "%zum", (size_t)(SIZE_MAX >> 20) + 1);
    cr_assert_eq(config_parse_size(s, &out), -1, "%s", s);
    snprintf(s, sizeof(s), "%zug", (size_t)(SIZE_MAX >> 30));
    cr_assert_eq(config_parse_size(s, &out), 0, "%s", s);
    snprintf(s, sizeof(s), "%zug", (size_t)(SIZE_MAX >> 30) + 1);
    cr_assert_eq(config_parse_size(s, &out), -1, "%s", s);
}

/* ---- listen values ---- */

Test(config, listen_accepts_host_port_v6_and_port_only)
{
    const char *good[] = {"127.0.0.1:8080",
                          "0.0.0.0:80",
                          ":8080",
                          ":0",
                          ":65535",
                          "localhost:443",
                          "my-host.example.com:1",
                          "[::1]:8080",
                          "[::]:0",
                          "[fe80::1%eth0]:80",
                          "[2001:db8::1]:65535"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        cr_assert_eq(set_cli("listen", good[i]), 0, "%s: %s", good[i], err);
        cr_assert_str_eq(cfg.listen[cfg.listen_count - 1], good[i]);
        if (cfg.listen_count == CONFIG_LISTEN_MAX) {
            config_free(&cfg);
            config_init(&cfg);
        }
    }
}

Test(config, listen_refuses_malformed_addresses)
{
    const char *bad[] = {"",         "8080",      "127.0.0.1", "127.0.0.1:", ":",
                         ":65536",   ":123456",   ":-1",       ":+80",       ": 80",
                         "::1:8080", "[::1]8080", "[::1]",     "[]:80",      "[zz]:80",
                         "[::1:80",  "a b:80",    "host:80 ",  "host:http",  "h/x:80"};
    char want[256];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(set("listen", bad[i]), -1, "'%s' accepted", bad[i]);
        snprintf(want, sizeof(want),
                 "listen: '%s' is not host:port, [v6]:port or :port with a port between 0 and "
                 "65535",
                 bad[i]);
        cr_assert_str_eq(err, want);
    }
    cr_assert_eq(cfg.listen_count, 1);
    cr_assert_str_eq(cfg.listen[0], "127.0.0.1:8080");
}

/* ---- unknown keys ---- */

Test(config, unknown_key_is_named)
{
    cr_assert_eq(set("foo", "bar"), -1);
    cr_assert_str_eq(err, "unknown key 'foo' (see docs/configuration.md for the keys)");
    cr_assert_eq(set_cli("Listen", "x"), -1);
    cr_assert_str_eq(err, "unknown key 'Listen' (see docs/configuration.md for the keys)");
}

Test(config, message_is_truncated_to_the_buffer)
{
    char small[16];
    memset(small, 'x', sizeof(small));
    cr_assert_eq(config_set(&cfg, "sml.task.max", "abc", CONFIG_SRC_FILE, small, sizeof(small)),
                 -1);
    cr_assert_eq(strlen(small), sizeof(small) - 1);
    cr_assert_eq(strncmp(small, "sml.task.max: '", sizeof(small) - 1), 0);
}

/* ---- the file ---- */

Test(config, file_sets_every_key)
{
    cr_assert_eq(load("listen = 0.0.0.0:9000\n"
                      "state.dir = /srv/state\n"
                      "plugin.dir = /srv/plugins\n"
                      "worker.path = /srv/bin/symtask-worker\n"
                      "customers.file = /srv/customers\n"
                      "kafka.bootstrap.servers = k1:9092\n"
                      "kafka.embedded = yes\n"
                      "kafka.embedded.brokers = 3\n"
                      "kafka.embedded.partitions = 8\n"
                      "sml.task.max = 16\n"
                      "auth.allow_plaintext_taskinfo = on\n"
                      "log.level = debug\n"
                      "tls.cert = /srv/cert.pem\n"
                      "tls.key = /srv/key.pem\n"
                      "http.max_body = 4m\n"
                      "task.stop_timeout_ms = 2000\n"
                      "task.restart_backoff_ms = 50\n"
                      "task.restart_backoff_max_ms = 500\n"
                      "task.restart_max = 7\n"
                      "task.heartbeat_timeout_ms = 5000\n"),
                 0, "%s", err);
    cr_assert_eq(cfg.listen_count, 1);
    cr_assert_str_eq(cfg.listen[0], "0.0.0.0:9000");
    cr_assert_str_eq(cfg.state_dir, "/srv/state");
    cr_assert_str_eq(cfg.plugin_dir, "/srv/plugins");
    cr_assert_str_eq(cfg.worker_path, "/srv/bin/symtask-worker");
    cr_assert_str_eq(cfg.customers_file, "/srv/customers");
    cr_assert_str_eq(cfg.kafka_bootstrap_servers, "k1:9092");
    cr_assert_eq(cfg.kafka_embedded, true);
    cr_assert_eq(cfg.kafka_embedded_brokers, 3);
    cr_assert_eq(cfg.kafka_embedded_partitions, 8);
    cr_assert_eq(cfg.task_max, 16);
    cr_assert_eq(cfg.allow_plaintext_taskinfo, true);
    cr_assert_eq(cfg.log_level, LOG_DEBUG);
    cr_assert_str_eq(cfg.tls_cert, "/srv/cert.pem");
    cr_assert_str_eq(cfg.tls_key, "/srv/key.pem");
    cr_assert_eq(cfg.http_max_body, 4 << 20);
    cr_assert_eq(cfg.stop_timeout_ms, 2000);
    cr_assert_eq(cfg.restart_backoff_ms, 50);
    cr_assert_eq(cfg.restart_backoff_max_ms, 500);
    cr_assert_eq(cfg.restart_max, 7);
    cr_assert_eq(cfg.heartbeat_timeout_ms, 5000);
    cr_assert_eq(config_check(&cfg, err, sizeof(err)), 0, "%s", err);
}

Test(config, file_quoting_comments_and_whitespace)
{
    cr_assert_eq(load("# a whole-line comment\n"
                      "   # an indented comment\n"
                      "\n"
                      "   \t  \n"
                      "state.dir = \"/a b/#c\"   # the # inside quotes stays\n"
                      "plugin.dir = /p#q\n"
                      "worker.path = /w x   # a trailing comment\n"
                      "sml.task.max=7\n"
                      "  log.level   =   \tdebug \t  \n"
                      "customers.file = \"  /spaced  \"\n"
                      "kafka.bootstrap.servers = \"\"\n"
                      "tls.cert = /c\r\n"
                      "tls.key=#k\n"
                      "kafka.embedded = \"true\"# not a comment but text\n"),
                 -1);
    /* the last line: text glued to the closing quote is an error */
    cr_assert_str_eq(err, at_line(14, "kafka.embedded: text after the value's closing '\"'"));
    cr_assert_str_eq(cfg.state_dir, "/a b/#c");
    cr_assert_str_eq(cfg.plugin_dir, "/p#q");
    cr_assert_str_eq(cfg.worker_path, "/w x");
    cr_assert_eq(cfg.task_max, 7);
    cr_assert_eq(cfg.log_level, LOG_DEBUG);
    cr_assert_str_eq(cfg.customers_file, "  /spaced  ");
    cr_assert_null(cfg.kafka_bootstrap_servers);
    cr_assert_str_eq(cfg.tls_cert, "/c");
    cr_assert_str_eq(cfg.tls_key, "#k");
}

Test(config, file_quoted_value_with_comment_after_it)
{
    cr_assert_eq(load("kafka.embedded = \"on\" # yes\nsml.task.max = \"9\"\t\n"), 0, "%s", err);
    cr_assert_eq(cfg.kafka_embedded, true);
    cr_assert_eq(cfg.task_max, 9);
}

Test(config, file_empty_and_comment_only)
{
    cr_assert_eq(load(""), 0, "%s", err);
    cr_assert_eq(load("# nothing\n\n"), 0, "%s", err);
    cr_assert_eq(cfg.listen_count, 1);
    cr_assert_str_eq(cfg.listen[0], "127.0.0.1:8080");
    cr_assert_eq(cfg.task_max, 4);
}

Test(config, file_last_line_without_newline)
{
    cr_assert_eq(load("sml.task.max = 3"), 0, "%s", err);
    cr_assert_eq(cfg.task_max, 3);
}

Test(config, file_line_without_equals)
{
    cr_assert_eq(load("sml.task.max = 3\n\n# c\nlog.level debug\n"), -1);
    cr_assert_str_eq(err, at_line(4, "this line has no '=' (expected key = value)"));
}

Test(config, file_line_without_key)
{
    cr_assert_eq(load(" = 3\n"), -1);
    cr_assert_str_eq(err, at_line(1, "no key before '=' (expected key = value)"));
}

Test(config, file_bad_value_names_file_line_key_and_value)
{
    cr_assert_eq(load("log.level = info\nsml.task.max = abc\n"), -1);
    cr_assert_str_eq(err,
                     at_line(2, "sml.task.max: 'abc' is not a whole number between 1 and 1024"));
}

Test(config, file_unknown_key)
{
    cr_assert_eq(load("# c\n\nfoo = 1\n"), -1);
    cr_assert_str_eq(err, at_line(3, "unknown key 'foo' (see docs/configuration.md for the keys)"));
}

Test(config, file_unclosed_quote)
{
    cr_assert_eq(load("state.dir = \"/x\n"), -1);
    cr_assert_str_eq(err, at_line(1, "state.dir: the value's opening '\"' is not closed"));
}

Test(config, file_text_after_closing_quote)
{
    cr_assert_eq(load("state.dir = \"/x\" y\n"), -1);
    cr_assert_str_eq(err, at_line(1, "state.dir: text after the value's closing '\"'"));
}

Test(config, file_empty_path_value)
{
    cr_assert_eq(load("state.dir =   # nothing\n"), -1);
    cr_assert_str_eq(err, at_line(1, "state.dir: '' is not a path (the value is empty)"));
}

Test(config, file_long_line)
{
    char *text = malloc(20000);
    cr_assert_not_null(text);
    strcpy(text, "state.dir = /");
    memset(text + 13, 'd', 10000);
    strcpy(text + 10013, "\n");
    cr_assert_eq(load(text), 0, "%s", err);
    cr_assert_eq(strlen(cfg.state_dir), 10001);
    free(text);
}

Test(config, missing_file)
{
    snprintf(path, sizeof(path), "%s/none.conf", tmpdir);
    cr_assert_eq(config_load_file(&cfg, path, err, sizeof(err)), -1);
    char want[700];
    snprintf(want, sizeof(want), "cannot read config file %s: No such file or directory", path);
    cr_assert_str_eq(err, want);
}

Test(config, directory_instead_of_file)
{
    cr_assert_eq(config_load_file(&cfg, tmpdir, err, sizeof(err)), -1);
    cr_assert(strstr(err, tmpdir) != NULL, "%s", err);
    cr_assert(strstr(err, "cannot read config file") == err, "%s", err);
}

/* ---- several listen values, file and command line ---- */

Test(config, file_first_listen_replaces_the_default)
{
    cr_assert_eq(load("listen = :9000\n"), 0, "%s", err);
    cr_assert_eq(cfg.listen_count, 1);
    cr_assert_str_eq(cfg.listen[0], ":9000");
}

Test(config, file_later_listen_lines_append)
{
    cr_assert_eq(load("listen = :9000\nsml.task.max = 2\nlisten = [::1]:9001\nlisten = "
                      "127.0.0.1:8080\n"),
                 0, "%s", err);
    cr_assert_eq(cfg.listen_count, 3);
    cr_assert_str_eq(cfg.listen[0], ":9000");
    cr_assert_str_eq(cfg.listen[1], "[::1]:9001");
    cr_assert_str_eq(cfg.listen[2], "127.0.0.1:8080");
}

Test(config, file_may_repeat_the_default_address)
{
    cr_assert_eq(load("listen = 127.0.0.1:8080\nlisten = [::1]:8080\n"), 0, "%s", err);
    cr_assert_eq(cfg.listen_count, 2);
    cr_assert_str_eq(cfg.listen[0], "127.0.0.1:8080");
    cr_assert_str_eq(cfg.listen[1], "[::1]:8080");
}

Test(config, file_too_many_listen_values)
{
    char text[1024] = "";
    for (int i = 0; i <= CONFIG_LISTEN_MAX; i++)
        snprintf(text + strlen(text), sizeof(text) - strlen(text), "listen = :%d\n", 9000 + i);
    cr_assert_eq(load(text), -1);
    char want[128];
    snprintf(want, sizeof(want), "listen: ':%d' is one address too many (at most %d)",
             9000 + CONFIG_LISTEN_MAX, CONFIG_LISTEN_MAX);
    cr_assert_str_eq(err, at_line(CONFIG_LISTEN_MAX + 1, want));
    cr_assert_eq(cfg.listen_count, CONFIG_LISTEN_MAX);
}

Test(config, file_bad_listen_keeps_the_default)
{
    cr_assert_eq(load("listen = nope\n"), -1);
    cr_assert_eq(cfg.listen_count, 1);
    cr_assert_str_eq(cfg.listen[0], "127.0.0.1:8080");
}

Test(config, cli_listen_replaces_every_file_value)
{
    cr_assert_eq(load("listen = :9000\nlisten = :9001\n"), 0, "%s", err);
    cr_assert_eq(set_cli("listen", ":7000"), 0, "%s", err);
    cr_assert_eq(cfg.listen_count, 1);
    cr_assert_str_eq(cfg.listen[0], ":7000");
    cr_assert_eq(cfg._cli_listen, true);
    cr_assert_eq(set_cli("listen", ":7001"), 0, "%s", err);
    cr_assert_eq(cfg.listen_count, 2);
    cr_assert_str_eq(cfg.listen[1], ":7001");
}

Test(config, cli_listen_replaces_the_default)
{
    cr_assert_eq(set_cli("listen", "[::]:1"), 0, "%s", err);
    cr_assert_eq(cfg.listen_count, 1);
    cr_assert_str_eq(cfg.listen[0], "[::]:1");
}

Test(config, file_read_after_cli_keeps_cli_listen)
{
    cr_assert_eq(set_cli("listen", ":7000"), 0, "%s", err);
    cr_assert_eq(load("listen = :9000\nlisten = :9001\nsml.task.max = 3\n"), 0, "%s", err);
    cr_assert_eq(cfg.listen_count, 1);
    cr_assert_str_eq(cfg.listen[0], ":7000");
    cr_assert_eq(cfg.task_max, 3);
    /* the file's values are still checked */
    cr_assert_eq(load("listen = nope\n"), -1);
    cr_assert_str_eq(err, at_line(1, "listen: 'nope' is not host:port, [v6]:port or :port with "
                                     "a port between 0 and 65535"));
}

Test(config, cli_too_many_listen_values)
{
    char v[16];
    for (int i = 0; i < CONFIG_LISTEN_MAX; i++) {
        snprintf(v, sizeof(v), ":%d", 7000 + i);
        cr_assert_eq(set_cli("listen", v), 0, "%s", err);
    }
    cr_assert_eq(set_cli("listen", ":1"), -1);
    cr_assert(strstr(err, "at most 8") != NULL, "%s", err);
    cr_assert_eq(cfg.listen_count, CONFIG_LISTEN_MAX);
}

Test(config, set_from_file_source_without_a_file)
{
    cr_assert_eq(set("listen", ":1"), 0, "%s", err);
    cr_assert_eq(set("listen", ":2"), 0, "%s", err);
    cr_assert_eq(cfg.listen_count, 2);
    cr_assert_str_eq(cfg.listen[0], ":1");
    cr_assert_str_eq(cfg.listen[1], ":2");
}

Test(config, cli_overrides_a_file_value)
{
    cr_assert_eq(load("sml.task.max = 5\nstate.dir = /file\n"), 0, "%s", err);
    cr_assert_eq(set_cli("sml.task.max", "9"), 0, "%s", err);
    cr_assert_eq(set_cli("state.dir", "/cli"), 0, "%s", err);
    cr_assert_eq(cfg.task_max, 9);
    cr_assert_str_eq(cfg.state_dir, "/cli");
}

/* ---- config_check ---- */

Test(config, check_tls_needs_cert_and_key)
{
    cr_assert_eq(set("tls.cert", "/c.pem"), 0);
    cr_assert_eq(config_check(&cfg, err, sizeof(err)), -1);
    cr_assert_str_eq(err, "tls.cert is set but tls.key is not: set both for HTTPS, or neither");
    cr_assert_eq(set("tls.key", "/k.pem"), 0);
    cr_assert_eq(config_check(&cfg, err, sizeof(err)), 0, "%s", err);
}

Test(config, check_tls_key_without_cert)
{
    cr_assert_eq(set("tls.key", "/k.pem"), 0);
    cr_assert_eq(config_check(&cfg, err, sizeof(err)), -1);
    cr_assert_str_eq(err, "tls.key is set but tls.cert is not: set both for HTTPS, or neither");
}

Test(config, check_backoff_max_not_below_backoff)
{
    cr_assert_eq(set("task.restart_backoff_ms", "5000"), 0);
    cr_assert_eq(set("task.restart_backoff_max_ms", "4999"), 0);
    cr_assert_eq(config_check(&cfg, err, sizeof(err)), -1);
    cr_assert_str_eq(
        err, "task.restart_backoff_max_ms (4999) is less than task.restart_backoff_ms (5000)");
    cr_assert_eq(set("task.restart_backoff_max_ms", "5000"), 0);
    cr_assert_eq(config_check(&cfg, err, sizeof(err)), 0, "%s", err);
}

Test(config, check_cluster_needs_its_keys)
{
    cr_assert_eq(set("cluster.enabled", "true"), 0);
    const char *const keys[][2] = {{"cluster.id", "prod"},
                                   {"cluster.node.id", "node-a"},
                                   {"cluster.key", "/etc/symtask/cluster.key"},
                                   {"kafka.bootstrap.servers", "k1:9092"}};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        cr_assert_eq(config_check(&cfg, err, sizeof(err)), -1);
        char want[128];
        snprintf(want, sizeof(want), "cluster.enabled = true needs %s (see docs/cluster.md)",
                 keys[i][0]);
        cr_assert_str_eq(err, want);
        cr_assert_eq(set(keys[i][0], keys[i][1]), 0);
    }
    cr_assert_eq(config_check(&cfg, err, sizeof(err)), 0, "%s", err);

    cr_assert_eq(set("cluster.node.id", "node a"), 0);
    cr_assert_eq(config_check(&cfg, err, sizeof(err)), -1);
    cr_assert_str_eq(err, "cluster.node.id: 'node a' is not a name (1 to 64 of A-Z a-z 0-9 . _ -)");
    cr_assert_eq(set("cluster.node.id", "node-a"), 0);
    cr_assert_eq(set("kafka.embedded", "true"), 0);
    cr_assert_eq(config_check(&cfg, err, sizeof(err)), -1);
    cr_assert(strstr(err, "cluster.enabled = true and kafka.embedded = true") != NULL, "%s", err);
    /* off, the cluster keys are not looked at */
    cr_assert_eq(set("cluster.enabled", "false"), 0);
    cr_assert_eq(config_check(&cfg, err, sizeof(err)), 0, "%s", err);
}
