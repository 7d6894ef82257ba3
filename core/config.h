/* config.h: the daemon's configuration (symtaskd -c FILE --set KEY=VALUE).
 * Private to core/. Keys and defaults are documented in docs/configuration.md. */
#ifndef SYMTASK_CORE_CONFIG_H
#define SYMTASK_CORE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#define CONFIG_LISTEN_MAX 8

/* Where a value comes from: a value from the command line replaces every value of that
 * key from the file (for the multi-valued `listen` too). */
typedef enum config_source {
    CONFIG_SRC_FILE,
    CONFIG_SRC_CLI,
} config_source_t;

typedef struct config {
    char *
        listen[CONFIG_LISTEN_MAX]; /* "host:port", "[v6]:port" or ":port"; default 127.0.0.1:8080 */
    size_t listen_count;
    char *state_dir;      /* default /var/lib/symtask */
    char *plugin_dir;     /* NULL: next to the binary in a build tree, else the install dir */
    char *worker_path;    /* NULL: same rule as plugin_dir */
    char *ui_dir;         /* NULL: the source tree's ui/ from a build tree, else the install dir */
    char *customers_file; /* default /etc/symtask/customers */
    char *kafka_bootstrap_servers;      /* NULL: none; tasks must name bootstrap.servers */
    char *tls_cert, *tls_key;           /* both NULL or both set */
    unsigned task_max;                  /* sml.task.max, default 4, 1..1024 */
    bool kafka_embedded;                /* default false */
    unsigned kafka_embedded_brokers;    /* default 1, 1..9 */
    unsigned kafka_embedded_partitions; /* partitions of topics the daemon creates, default 4 */
    bool allow_plaintext_taskinfo;      /* auth.allow_plaintext_taskinfo, default false */
    bool replay_protection;             /* auth.replay_protection, default true */
    unsigned replay_cache_size;         /* auth.replay_cache_size, default 100000 */
    int log_level;                      /* log.level: a log_level_t, default LOG_INFO */
    size_t http_max_body;               /* http.max_body bytes, default 1 MiB; accepts 512k, 1m */
    unsigned stop_timeout_ms;           /* task.stop_timeout_ms, default 10000 */
    unsigned restart_backoff_ms;        /* task.restart_backoff_ms, first delay, default 1000 */
    unsigned restart_backoff_max_ms;    /* task.restart_backoff_max_ms, default 30000 */
    unsigned restart_max; /* task.restart_max: crashes in a row before `failed`, default 5 */
    unsigned heartbeat_timeout_ms; /* task.heartbeat_timeout_ms, default 30000 */
    /* cluster mode (docs/cluster.md): every node of cluster.id shares the definitions and
     * desired states of the config topic */
    bool cluster_enabled;       /* cluster.enabled, default false */
    char *cluster_id;           /* cluster.id: the cluster's name, an id of [A-Za-z0-9._-] */
    char *cluster_node_id;      /* cluster.node.id: this node's name, unique in the cluster */
    char *cluster_config_topic; /* cluster.config.topic, default symtask-{id}-config */
    char *cluster_status_topic; /* cluster.status.topic, default symtask-{id}-status */
    char *cluster_key;          /* cluster.key: the key file every node holds */

    /* internal: which keys were set from the command line */
    bool _cli_listen;
} config_t;

/* Fills every field with its default. */
void config_init(config_t *cfg);

/* Sets one key. Unknown key or bad value: returns -1 and writes a message naming the key,
 * the value and what is accepted (e.g. "sml.task.max: 'abc' is not a whole number between 1 and
 * 1024"). */
int config_set(config_t *cfg, const char *key, const char *value, config_source_t source,
               char *errstr, size_t errstr_size);

/* Reads a file of `key = value` lines; `#` starts a comment (whole line or after
 * whitespace); blank lines ignored; values may be wrapped in double quotes. Errors carry
 * "FILE:LINE: " before the message of config_set, or say why the file cannot be read. */
int config_load_file(config_t *cfg, const char *path, char *errstr, size_t errstr_size);

/* Checks the whole configuration after every source has been applied (tls.cert without
 * tls.key, ...). */
int config_check(const config_t *cfg, char *errstr, size_t errstr_size);

void config_free(config_t *cfg);

/* Parses a byte size: "1048576", "512k", "1m", "2g", "1024M" (k/m/g, either case, powers of
 * 1024). Returns -1 for anything else or an overflow. */
int config_parse_size(const char *s, size_t *out);

#endif
