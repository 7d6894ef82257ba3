/* kafka_util.c: a real Kafka client for integration tests. */
#include "kafka_util.h"

#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char kt_override[512];

void kt_use_bootstrap(const char *bootstrap)
{
    snprintf(kt_override, sizeof(kt_override), "%s", bootstrap ? bootstrap : "");
}

const char *kt_bootstrap(harness_t *h)
{
    static char addr[256];
    if (kt_override[0] != '\0')
        return kt_override;
    char path[400];
    snprintf(path, sizeof(path), "%s/state/embedded-kafka.bootstrap", h->dir);
    /* symtaskd serves before its embedded cluster is up (it opens its listeners first): the
     * file comes a moment later, longer under a sanitizer */
    FILE *f = NULL;
    for (int waited = 0; (f = fopen(path, "r")) == NULL && waited < 10000; waited += 50)
        usleep(50000);
    cr_assert_not_null(f, "no %s within 10 s", path);
    cr_assert_not_null(fgets(addr, sizeof(addr), f));
    fclose(f);
    addr[strcspn(addr, "\n")] = '\0';
    return addr;
}

static rd_kafka_t *kt_client(harness_t *h, rd_kafka_type_t type)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    cr_assert_eq(
        rd_kafka_conf_set(conf, "bootstrap.servers", kt_bootstrap(h), errstr, sizeof(errstr)),
        RD_KAFKA_CONF_OK);
    rd_kafka_conf_set(conf, "log_level", "3", NULL, 0);
    if (type == RD_KAFKA_CONSUMER) {
        char group[64];
        snprintf(group, sizeof(group), "test-reader-%d-%ld", (int)getpid(), (long)random());
        rd_kafka_conf_set(conf, "group.id", group, NULL, 0);
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", NULL, 0);
        rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", NULL, 0);
        /* what a reader of an exactly-once task's sink must set (librdkafka's default) */
        rd_kafka_conf_set(conf, "isolation.level", "read_committed", NULL, 0);
    }
    rd_kafka_t *rk = rd_kafka_new(type, conf, errstr, sizeof(errstr));
    cr_assert_not_null(rk, "%s", errstr);
    return rk;
}

/* Record i is stamped @first_ms + i, or with the time of writing when @first_ms is 0. */
static void kt_produce_n(harness_t *h, const char *topic, size_t n, const char *const *keys,
                         const void *const *values, const size_t *lens, const char *header,
                         long long first_ms)
{
    rd_kafka_t *rk = kt_client(h, RD_KAFKA_PRODUCER);
    for (size_t i = 0; i < n; i++) {
        rd_kafka_headers_t *hdrs = NULL;
        if (header != NULL) {
            const char *eq = strchr(header, '=');
            hdrs = rd_kafka_headers_new(1);
            rd_kafka_header_add(hdrs, header, eq - header, eq + 1, -1);
        }
        const char *key = keys ? keys[i] : NULL;
        rd_kafka_resp_err_t err;
        do {
            err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
                                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                    RD_KAFKA_V_VALUE((void *)values[i], lens[i]),
                                    RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
                                    RD_KAFKA_V_TIMESTAMP(first_ms ? first_ms + (long long)i : 0),
                                    RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END);
            if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                rd_kafka_poll(rk, 50);
        } while (err == RD_KAFKA_RESP_ERR__QUEUE_FULL);
        cr_assert_eq(err, RD_KAFKA_RESP_ERR_NO_ERROR, "produce: %s", rd_kafka_err2str(err));
    }
    cr_assert_eq(rd_kafka_flush(rk, 30000), RD_KAFKA_RESP_ERR_NO_ERROR, "records not acknowledged");
    rd_kafka_destroy(rk);
}

void kt_produce_at(harness_t *h, const char *topic, size_t n, const char *const *keys,
                   const char *const *values, const char *header, long long first_ms)
{
    size_t *lens = calloc(n ? n : 1, sizeof(*lens));
    cr_assert_not_null(lens);
    for (size_t i = 0; i < n; i++)
        lens[i] = strlen(values[i]);
    kt_produce_n(h, topic, n, keys, (const void *const *)values, lens, header, first_ms);
    free(lens);
}

void kt_produce(harness_t *h, const char *topic, size_t n, const char *const *keys,
                const char *const *values, const char *header)
{
    kt_produce_at(h, topic, n, keys, values, header, 0);
}

void kt_produce_bytes(harness_t *h, const char *topic, size_t n, const char *const *keys,
                      const void *const *values, const size_t *lens)
{
    kt_produce_n(h, topic, n, keys, values, lens, NULL, 0);
}

static int64_t kt_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads until @want records, @timeout_ms in all, or (@idle_ms > 0) that long without a
 * record. */
static size_t kt_read(harness_t *h, const char *topic, size_t want, kt_record_t *out, size_t cap,
                      int idle_ms, int timeout_ms)
{
    rd_kafka_t *rk = kt_client(h, RD_KAFKA_CONSUMER);
    /* Partitions come from the cluster, read from the beginning without a group. */
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    cr_assert_eq(rd_kafka_metadata(rk, 0, rkt, &md, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(8);
    for (int i = 0; i < md->topics[0].partition_cnt; i++)
        rd_kafka_topic_partition_list_add(parts, topic, md->topics[0].partitions[i].id)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    cr_assert_eq(rd_kafka_assign(rk, parts), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(parts);

    size_t n = 0;
    int64_t deadline = kt_now_ms() + timeout_ms, last = kt_now_ms();
    while (n < want && kt_now_ms() < deadline && (idle_ms <= 0 || kt_now_ms() - last < idle_ms)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (m == NULL)
            continue;
        last = kt_now_ms();
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && n < cap) {
            kt_record_t *r = &out[n++];
            memset(r, 0, sizeof(*r));
            r->value = malloc(m->len + 1);
            cr_assert_not_null(r->value);
            if (m->len > 0)
                memcpy(r->value, m->payload, m->len);
            r->value[m->len] = '\0';
            r->value_len = m->len;
            if (m->key != NULL)
                r->key = strndup(m->key, m->key_len);
            r->partition = (int)m->partition;
            r->offset = (long long)m->offset;
            r->timestamp = (long long)rd_kafka_message_timestamp(m, NULL);
            char headers[2048] = "";
            rd_kafka_headers_t *hdrs;
            if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
                const char *name;
                const void *val;
                size_t size, off = 0;
                for (size_t i = 0; off < sizeof(headers) &&
                                   rd_kafka_header_get_all(hdrs, i, &name, &val, &size) ==
                                       RD_KAFKA_RESP_ERR_NO_ERROR;
                     i++)
                    off += (size_t)snprintf(headers + off, sizeof(headers) - off, "%s=%.*s\n", name,
                                            (int)size, (const char *)val);
            }
            r->headers = strdup(headers);
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return n;
}

size_t kt_consume(harness_t *h, const char *topic, size_t want, kt_record_t *out, size_t cap,
                  int timeout_ms)
{
    return kt_read(h, topic, want, out, cap, 0, timeout_ms);
}

size_t kt_consume_all(harness_t *h, const char *topic, kt_record_t *out, size_t cap, int idle_ms,
                      int timeout_ms)
{
    return kt_read(h, topic, SIZE_MAX, out, cap, idle_ms, timeout_ms);
}

void kt_records_free(kt_record_t *records, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(records[i].key);
        free(records[i].value);
        free(records[i].headers);
    }
}

const char *kt_header(const kt_record_t *r, const char *name)
{
    static char value[512];
    size_t len = strlen(name);
    for (const char *line = r->headers; *line != '\0';) {
        const char *nl = strchr(line, '\n');
        if (nl == NULL)
            break;
        if (strncmp(line, name, len) == 0 && line[len] == '=') {
            snprintf(value, sizeof(value), "%.*s", (int)(nl - line - len - 1), line + len + 1);
            return value;
        }
        line = nl + 1;
    }
    return NULL;
}

void *kt_produce_many(void *arg)
{
    const kt_many_t *many = arg;
    char **values = malloc((size_t)many->n * sizeof(*values));
    char **keys = malloc((size_t)many->n * sizeof(*keys));
    for (int i = 0; i < many->n; i++) {
        cr_assert(asprintf(&values[i], "{\"id\":%d,\"x1\":%d,\"x2\":1}", i, i % 100) > 0);
        cr_assert(asprintf(&keys[i], "%d", i) > 0);
    }
    for (int off = 0; off < many->n; off += 5000) {
        int slice = many->n - off < 5000 ? many->n - off : 5000;
        kt_produce(many->h, many->topic, (size_t)slice, (const char *const *)keys + off,
                   (const char *const *)values + off, NULL);
        usleep(20000);
    }
    for (int i = 0; i < many->n; i++) {
        free(values[i]);
        free(keys[i]);
    }
    free(values);
    free(keys);
    return arg;
}
