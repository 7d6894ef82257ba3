/* config.c: the daemon's configuration: defaults, one table of keys, the file parser. */
#include "config.h"
#include "size.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "symtask_build.h"

#define CONFIG_LISTEN_DEFAULT "127.0.0.1:8080"

typedef enum key_type {
    KEY_LISTEN,
    KEY_PATH,     /* a string that may not be empty */
    KEY_OPTIONAL, /* a string; empty means unset (NULL) */
    KEY_BOOL,
    KEY_UINT,
    KEY_SIZE,
    KEY_LOG_LEVEL,
} key_type_t;

typedef struct key_def {
    const char *name;
    key_type_t type;
    size_t offset; /* of the field in config_t */
    unsigned long long min, max;
} key_def_t;

#define FIELD(f) offsetof(config_t, f)

/* Every key; docs/configuration.md describes the same list. */
static const key_def_t key_defs[] = {
    {"listen", KEY_LISTEN, 0, 0, 0},
    {"state.dir", KEY_PATH, FIELD(state_dir), 0, 0},
    {"plugin.dir", KEY_PATH, FIELD(plugin_dir), 0, 0},
    {"worker.path", KEY_PATH, FIELD(worker_path), 0, 0},
    {"ui.dir", KEY_PATH, FIELD(ui_dir), 0, 0},
    {"customers.file", KEY_PATH, FIELD(customers_file), 0, 0},
    {"kafka.bootstrap.servers", KEY_OPTIONAL, FIELD(kafka_bootstrap_servers), 0, 0},
    {"kafka.embedded", KEY_BOOL, FIELD(kafka_embedded), 0, 0},
    {"kafka.embedded.brokers", KEY_UINT, FIELD(kafka_embedded_brokers), 1, 9},
    {"kafka.embedded.partitions", KEY_UINT, FIELD(kafka_embedded_partitions), 1, 256},
    {"sml.task.max", KEY_UINT, FIELD(task_max), 1, 1024},
    {"auth.allow_plaintext_taskinfo", KEY_BOOL, FIELD(allow_plaintext_taskinfo), 0, 0},
    {"auth.replay_protection", KEY_BOOL, FIELD(replay_protection), 0, 0},
    {"auth.replay_cache_size", KEY_UINT, FIELD(replay_cache_size), 1000, 10000000},
    {"log.level", KEY_LOG_LEVEL, FIELD(log_level), 0, 0},
    {"tls.cert", KEY_PATH, FIELD(tls_cert), 0, 0},
    {"tls.key", KEY_PATH, FIELD(tls_key), 0, 0},
    {"http.max_body", KEY_SIZE, FIELD(http_max_body), 1024, 64 * 1024 * 1024},
    {"task.stop_timeout_ms", KEY_UINT, FIELD(stop_timeout_ms), 100, 600000},
    {"task.restart_backoff_ms", KEY_UINT, FIELD(restart_backoff_ms), 10, 600000},
    {"task.restart_backoff_max_ms", KEY_UINT, FIELD(restart_backoff_max_ms), 10, 3600000},
    {"task.restart_max", KEY_UINT, FIELD(restart_max), 1, 1000},
    {"task.heartbeat_timeout_ms", KEY_UINT, FIELD(heartbeat_timeout_ms), 1000, 3600000},
    {"cluster.enabled", KEY_BOOL, FIELD(cluster_enabled), 0, 0},
    {"cluster.id", KEY_OPTIONAL, FIELD(cluster_id), 0, 0},
    {"cluster.node.id", KEY_OPTIONAL, FIELD(cluster_node_id), 0, 0},
    {"cluster.config.topic", KEY_OPTIONAL, FIELD(cluster_config_topic), 0, 0},
    {"cluster.status.topic", KEY_OPTIONAL, FIELD(cluster_status_topic), 0, 0},
    {"cluster.key", KEY_PATH, FIELD(cluster_key), 0, 0},
};

void config_init(config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->listen[0] = strdup(CONFIG_LISTEN_DEFAULT);
    cfg->listen_count = cfg->listen[0] != NULL;
    cfg->state_dir = strdup(SYMTASK_STATEDIR);
    cfg->customers_file = strdup(SYMTASK_SYSCONFDIR "/customers");
    cfg->task_max = 4;
    cfg->replay_protection = true;
    cfg->replay_cache_size = 100000;
    cfg->kafka_embedded_brokers = 1;
    cfg->kafka_embedded_partitions = 4;
    cfg->log_level = LOG_INFO;
    cfg->http_max_body = 1024 * 1024;
    cfg->stop_timeout_ms = 10000;
    cfg->restart_backoff_ms = 1000;
    cfg->restart_backoff_max_ms = 30000;
    cfg->restart_max = 5;
    cfg->heartbeat_timeout_ms = 30000;
}

void config_free(config_t *cfg)
{
    for (size_t i = 0; i < cfg->listen_count; i++)
        free(cfg->listen[i]);
    free(cfg->state_dir);
    free(cfg->plugin_dir);
    free(cfg->worker_path);
    free(cfg->ui_dir);
    free(cfg->customers_file);
    free(cfg->kafka_bootstrap_servers);
    free(cfg->tls_cert);
    free(cfg->tls_key);
    free(cfg->cluster_id);
    free(cfg->cluster_node_id);
    free(cfg->cluster_config_topic);
    free(cfg->cluster_status_topic);
    free(cfg->cluster_key);
    memset(cfg, 0, sizeof(*cfg));
}

/* Parses digits only: no sign, no space, no base prefix, which strtoull would accept. */
static int parse_uint(const char *s, unsigned long long *out)
{
    if (*s == '\0')
        return -1;
    unsigned long long v = 0;
    for (; *s != '\0'; s++) {
        if (!isdigit((unsigned char)*s))
            return -1;
        unsigned digit = (unsigned)(*s - '0');
        if (v > (ULLONG_MAX - digit) / 10)
            return -1;
        v = v * 10 + digit;
    }
    *out = v;
    return 0;
}

int config_parse_size(const char *s, size_t *out)
{
    uint64_t v;
    if (size_parse(s, &v) != 0 || v > SIZE_MAX)
        return -1;
    *out = (size_t)v;
    return 0;
}

static int parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "yes", "1", "on"};
    static const char *const no[] = {"false", "no", "0", "off"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

/* "host:port", "[v6]:port" or ":port"; the host is a name or an IPv4 address. */
static bool listen_valid(const char *s)
{
    const char *colon;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL || close[1] != ':')
            return false;
        size_t n = (size_t)(close - s - 1);
        const char *zone = memchr(s + 1, '%', n);
        if (zone != NULL)
            n = (size_t)(zone - s - 1); /* a zone ("%eth0") is left to getaddrinfo */
        char addr[INET6_ADDRSTRLEN];
        struct in6_addr in6;
        if (n == 0 || n >= sizeof(addr))
            return false;
        memcpy(addr, s + 1, n);
        addr[n] = '\0';
        if (inet_pton(AF_INET6, addr, &in6) != 1)
            return false;
        colon = close + 1;
    } else {
        colon = strchr(s, ':');
        if (colon == NULL)
            return false;
        for (const char *p = s; p < colon; p++)
            if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-' && *p != '_')
                return false;
    }
    unsigned long long port;
    return strlen(colon + 1) <= 5 && parse_uint(colon + 1, &port) == 0 && port <= 65535;
}

static int set_listen(config_t *cfg, const char *value, config_source_t source, bool replace,
                      char *errstr, size_t errstr_size)
{
    if (!listen_valid(value)) {
        snprintf(errstr, errstr_size,
                 "listen: '%s' is not host:port, [v6]:port or :port with a port between 0 and "
                 "65535",
                 value);
        return -1;
    }
    if (source == CONFIG_SRC_FILE && cfg->_cli_listen)
        return 0; /* the command line already replaced every value from the file */
    if (source == CONFIG_SRC_CLI && !cfg->_cli_listen)
        replace = true;
    if (!replace && cfg->listen_count == CONFIG_LISTEN_MAX) {
        snprintf(errstr, errstr_size, "listen: '%s' is one address too many (at most %d)", value,
                 CONFIG_LISTEN_MAX);
        return -1;
    }
    char *copy = strdup(value);
    if (copy == NULL) {
        snprintf(errstr, errstr_size, "listen: out of memory");
        return -1;
    }
    if (replace) {
        for (size_t i = 0; i < cfg->listen_count; i++) {
            free(cfg->listen[i]);
            cfg->listen[i] = NULL;
        }
        cfg->listen_count = 0;
    }
    cfg->listen[cfg->listen_count++] = copy;
    if (source == CONFIG_SRC_CLI)
        cfg->_cli_listen = true;
    return 0;
}

/* True while `listen` holds only the default, so that a file's first value replaces it. */
static bool listen_is_default(const config_t *cfg)
{
    return cfg->listen_count == 1 && strcmp(cfg->listen[0], CONFIG_LISTEN_DEFAULT) == 0;
}

/* config_set, with the file parser's knowledge of whether this is the file's first `listen`
 * (-1: not known, guess from the current values). */
static int config_set_internal(config_t *cfg, const char *key, const char *value,
                               config_source_t source, int first_listen, char *errstr,
                               size_t errstr_size)
{
    const key_def_t *def = NULL;
    for (size_t i = 0; i < sizeof(key_defs) / sizeof(key_defs[0]); i++) {
        if (strcmp(key, key_defs[i].name) == 0) {
            def = &key_defs[i];
            break;
        }
    }
    if (def == NULL) {
        snprintf(errstr, errstr_size, "unknown key '%s' (see docs/configuration.md for the keys)",
                 key);
        return -1;
    }

    void *field = (char *)cfg + def->offset;
    unsigned long long num;
    size_t size;
    bool b;
    int level;
    switch (def->type) {
    case KEY_LISTEN:
        if (first_listen < 0)
            first_listen = listen_is_default(cfg);
        return set_listen(cfg, value, source, first_listen, errstr, errstr_size);
    case KEY_PATH:
    case KEY_OPTIONAL: {
        char *copy = NULL;
        if (*value == '\0' && def->type == KEY_PATH) {
            snprintf(errstr, errstr_size, "%s: '' is not a path (the value is empty)", def->name);
            return -1;
        }
        if (*value != '\0' && (copy = strdup(value)) == NULL) {
            snprintf(errstr, errstr_size, "%s: out of memory", def->name);
            return -1;
        }
        free(*(char **)field);
        *(char **)field = copy;
        return 0;
    }
    case KEY_BOOL:
        if (parse_bool(value, &b) != 0) {
            snprintf(errstr, errstr_size,
                     "%s: '%s' is not a boolean (true/false, yes/no, on/off or 1/0)", def->name,
                     value);
            return -1;
        }
        *(bool *)field = b;
        return 0;
    case KEY_UINT:
        if (parse_uint(value, &num) != 0 || num < def->min || num > def->max) {
            snprintf(errstr, errstr_size, "%s: '%s' is not a whole number between %llu and %llu",
                     def->name, value, def->min, def->max);
            return -1;
        }
        *(unsigned *)field = (unsigned)num;
        return 0;
    case KEY_SIZE:
        if (config_parse_size(value, &size) != 0 || size < def->min || size > def->max) {
            snprintf(errstr, errstr_size,
                     "%s: '%s' is not a size between 1k and 64m (bytes, or a number followed by "
                     "k, m or g)",
                     def->name, value);
            return -1;
        }
        *(size_t *)field = size;
        return 0;
    case KEY_LOG_LEVEL:
        if ((level = log_level_parse(value)) < 0) {
            snprintf(errstr, errstr_size, "%s: '%s' is not one of error, warn, info, debug",
                     def->name, value);
            return -1;
        }
        *(int *)field = level;
        return 0;
    }
    return -1;
}

int config_set(config_t *cfg, const char *key, const char *value, config_source_t source,
               char *errstr, size_t errstr_size)
{
    return config_set_internal(cfg, key, value, source, -1, errstr, errstr_size);
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t len = strlen(s);
    while (len > 0 && isspace((unsigned char)s[len - 1]))
        s[--len] = '\0';
    return s;
}

/* Splits one line into key and value in place. Returns 1 for a key/value, 0 for a blank or
 * comment line, -1 with a message for a malformed line. */
static int parse_line(char *line, char **key, char **value, char *errstr, size_t errstr_size)
{
    char *s = trim(line);
    if (*s == '\0' || *s == '#')
        return 0;
    char *eq = strchr(s, '=');
    if (eq == NULL) {
        snprintf(errstr, errstr_size, "this line has no '=' (expected key = value)");
        return -1;
    }
    *eq = '\0';
    *key = trim(s);
    if (**key == '\0') {
        snprintf(errstr, errstr_size, "no key before '=' (expected key = value)");
        return -1;
    }
    char *v = eq + 1;
    while (isspace((unsigned char)*v))
        v++;
    if (*v == '"') {
        char *close = strchr(v + 1, '"');
        if (close == NULL) {
            snprintf(errstr, errstr_size, "%s: the value's opening '\"' is not closed", *key);
            return -1;
        }
        *close = '\0';
        char *rest = close + 1;
        while (isspace((unsigned char)*rest))
            rest++;
        if (*rest != '\0' && !(*rest == '#' && rest > close + 1)) {
            snprintf(errstr, errstr_size, "%s: text after the value's closing '\"'", *key);
            return -1;
        }
        *value = v + 1;
        return 1;
    }
    /* A comment starts at '#' after whitespace; *eq is now NUL, not space, so "key=#x" has
     * the value "#x" while "key = #x" has an empty one. */
    for (char *p = v; *p != '\0'; p++) {
        if (*p == '#' && isspace((unsigned char)p[-1])) {
            *p = '\0';
            break;
        }
    }
    *value = trim(v);
    return 1;
}

int config_load_file(config_t *cfg, const char *path, char *errstr, size_t errstr_size)
{
    char *line = NULL;
    size_t line_cap = 0;
    unsigned lineno = 0;
    bool seen_listen = false;
    char msg[512];

    FILE *fp = fopen(path, "re");
    if (fp == NULL) {
        snprintf(errstr, errstr_size, "cannot read config file %s: %s", path, strerror(errno));
        goto error;
    }
    for (;;) {
        errno = 0;
        if (getline(&line, &line_cap, fp) < 0) {
            if (ferror(fp)) {
                snprintf(errstr, errstr_size, "cannot read config file %s: %s", path,
                         strerror(errno));
                goto error;
            }
            break;
        }
        lineno++;
        char *key, *value;
        int rc = parse_line(line, &key, &value, msg, sizeof(msg));
        if (rc == 0)
            continue;
        if (rc > 0) {
            bool is_listen = strcmp(key, "listen") == 0;
            rc = config_set_internal(cfg, key, value, CONFIG_SRC_FILE, is_listen && !seen_listen,
                                     msg, sizeof(msg));
            if (rc == 0 && is_listen)
                seen_listen = true;
        }
        if (rc < 0) {
            snprintf(errstr, errstr_size, "%s:%u: %s", path, lineno, msg);
            goto error;
        }
    }
    free(line);
    fclose(fp);
    return 0;

error:
    free(line);
    if (fp != NULL)
        fclose(fp);
    return -1;
}

/* A name that goes into Kafka ids and topic names. */
static bool cluster_name_valid(const char *s)
{
    size_t len = strlen(s);
    return len > 0 && len <= 64 &&
           strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == len;
}

static int config_check_cluster(const config_t *cfg, char *errstr, size_t errstr_size)
{
    if (!cfg->cluster_enabled)
        return 0;
    static const char names[] = "1 to 64 of A-Z a-z 0-9 . _ -";
    const char *missing = cfg->cluster_id == NULL                ? "cluster.id"
                          : cfg->cluster_node_id == NULL         ? "cluster.node.id"
                          : cfg->cluster_key == NULL             ? "cluster.key"
                          : cfg->kafka_bootstrap_servers == NULL ? "kafka.bootstrap.servers"
                                                                 : NULL;
    if (missing != NULL) {
        snprintf(errstr, errstr_size, "cluster.enabled = true needs %s (see docs/cluster.md)",
                 missing);
        return -1;
    }
    if (!cluster_name_valid(cfg->cluster_id) || !cluster_name_valid(cfg->cluster_node_id)) {
        snprintf(errstr, errstr_size, "%s: '%s' is not a name (%s)",
                 cluster_name_valid(cfg->cluster_id) ? "cluster.node.id" : "cluster.id",
                 cluster_name_valid(cfg->cluster_id) ? cfg->cluster_node_id : cfg->cluster_id,
                 names);
        return -1;
    }
    if (cfg->kafka_embedded) {
        snprintf(errstr, errstr_size,
                 "cluster.enabled = true and kafka.embedded = true: the nodes of a cluster share "
                 "a Kafka cluster of their own (kafka.bootstrap.servers); the embedded one lives "
                 "in one daemon");
        return -1;
    }
    return 0;
}

int config_check(const config_t *cfg, char *errstr, size_t errstr_size)
{
    if ((cfg->tls_cert == NULL) != (cfg->tls_key == NULL)) {
        snprintf(errstr, errstr_size, "%s is set but %s is not: set both for HTTPS, or neither",
                 cfg->tls_cert != NULL ? "tls.cert" : "tls.key",
                 cfg->tls_cert != NULL ? "tls.key" : "tls.cert");
        return -1;
    }
    if (cfg->restart_backoff_max_ms < cfg->restart_backoff_ms) {
        snprintf(errstr, errstr_size,
                 "task.restart_backoff_max_ms (%u) is less than task.restart_backoff_ms (%u)",
                 cfg->restart_backoff_max_ms, cfg->restart_backoff_ms);
        return -1;
    }
    return config_check_cluster(cfg, errstr, errstr_size);
}
