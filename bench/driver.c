/* driver.c: the benchmark's load generator and stopwatch, on librdkafka alone.
 *
 *   driver records FORMAT N       print records 0..N-1 (json, csv or avro as hex), one a line
 *   driver model FEATURES SEED    print a linear model (JSON) for FEATURES features
 *   driver load BOOTSTRAP SOURCE SINK FORMAT N
 *       creates SOURCE and SINK (the cluster's default partitions) and produces records
 *       0..N-1 to SOURCE, record i to partition i % partitions, keyed by its number
 *   driver measure BOOTSTRAP SOURCE SINK FORMAT WARMUP N CYCLES T0_NS PID RATE SECONDS
 *       to run as soon as the processor PID was started (at T0_NS, CLOCK_REALTIME) on a
 *       SOURCE that holds the WARMUP records 0..WARMUP-1:
 *       1. waits for the warm-up outputs in SINK: time from T0_NS to the first output, and
 *          the RSS of PID before it (idle: started, group not yet joined);
 *       2. 1 + CYCLES times: stops PID (SIGSTOP), loads the next N records, lets PID go
 *          on (SIGCONT) and times it from there to the N-th output, read from SINK's end
 *          offsets every 2 ms; its throughput is the records of the last CYCLES cycles over
 *          their times (the first warms up). The processor is warm (group joined,
 *          connections up), finds all N records waiting, and nothing else of the benchmark
 *          runs meanwhile; cycles= lists each cycle's records/s, the warm-up's first;
 *       3. produces RATE records/s for SECONDS seconds to SOURCE and consumes SINK,
 *          matching outputs to inputs by key: latency from the produce call to the
 *          output's arrival at this consumer, p50 and p99 (RATE 0: skipped);
 *       4. the peak RSS of PID (VmHWM).
 *       Prints one line of key=value pairs.
 *
 * A record is a JSON object (or CSV line, or Avro record) of 16 numeric features x0..x15
 * with values 0.0 to 9.9 drawn from the record's number, so every run and every format
 * carries the same records: about 150 bytes as JSON, 63 as CSV, 133 as Avro (Confluent's
 * framing: magic byte 0 and the schema id of BENCH_AVRO_SCHEMA_ID, which bench/run
 * registers; then 16 doubles, the schema being a record of 16 fields of type double). */
#include <errno.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "records.h"

#define FEATURES RECORD_FEATURES
#define MAX_PARTITIONS 256

static void die(const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "driver: ");
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
    exit(1);
}

static int64_t now_ns(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

enum { FORMAT_JSON, FORMAT_CSV, FORMAT_AVRO };

/* Record @id as JSON ({"x0":3.4,...}), CSV (3.4,...) or Avro into @out; returns its
 * length. */
static size_t make_record(char *out, uint64_t id, int format)
{
    size_t n = 0;
    if (format == FORMAT_AVRO) {
        static long schema_id = -1;
        if (schema_id < 0) {
            const char *env = getenv("BENCH_AVRO_SCHEMA_ID");
            if (env == NULL || (schema_id = atol(env)) <= 0)
                die("avro records need BENCH_AVRO_SCHEMA_ID (the id of their schema)%s%s", "", "");
        }
        out[n++] = 0;
        for (int b = 3; b >= 0; b--)
            out[n++] = (char)((unsigned long)schema_id >> (8 * b));
        for (int f = 0; f < FEATURES; f++) {
            unsigned v = record_tenths(id, (uint64_t)f, FEATURES);
            double d = v / 10.0; /* the double that "%u.%u" reads as */
            uint64_t u;
            memcpy(&u, &d, sizeof(u));
            for (int b = 0; b < 8; b++)
                out[n++] = (char)(u >> (8 * b));
        }
        return n;
    }
    return record_text(out, id, format == FORMAT_CSV);
}

static int format_of(const char *format)
{
    if (strcmp(format, "json") == 0)
        return FORMAT_JSON;
    if (strcmp(format, "csv") == 0)
        return FORMAT_CSV;
    if (strcmp(format, "avro") == 0)
        return FORMAT_AVRO;
    die("format %s: json, csv or avro%s", format, "");
    return 0;
}

static atomic_long delivery_failures;

static void count_failure(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    if (m->err != 0)
        atomic_fetch_add(&delivery_failures, 1);
}

static rd_kafka_t *client(rd_kafka_type_t type, const char *bootstrap, const char *const *kv)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof(err)) != 0)
        die("%s%s", err, "");
    for (; kv != NULL && kv[0] != NULL; kv += 2)
        if (rd_kafka_conf_set(conf, kv[0], kv[1], err, sizeof(err)) != 0)
            die("%s%s", err, "");
    if (type == RD_KAFKA_PRODUCER)
        rd_kafka_conf_set_dr_msg_cb(conf, count_failure);
    rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof(err));
    if (rk == NULL)
        die("%s%s", err, "");
    return rk;
}

/* Partitions of @topic; a producer's metadata request creates it with the cluster's default
 * partitions when it does not exist. */
static int topic_partitions(rd_kafka_t *rk, const char *topic)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    for (int tries = 0; tries < 100; tries++) {
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, 5000);
        int n = 0;
        if (err == 0 && md->topic_cnt == 1 && md->topics[0].err == 0)
            n = md->topics[0].partition_cnt;
        if (md != NULL)
            rd_kafka_metadata_destroy(md);
        if (n > 0) {
            rd_kafka_topic_destroy(rkt);
            return n > MAX_PARTITIONS ? MAX_PARTITIONS : n;
        }
        usleep(100000);
    }
    die("topic %s does not come into being%s", topic, "");
    return 0;
}

static void produce_one(rd_kafka_t *rk, rd_kafka_topic_t *rkt, int32_t partition, uint64_t id,
                        int format)
{
    char value[512], key[24];
    size_t len = make_record(value, id, format);
    int klen = snprintf(key, sizeof(key), "%" PRIu64, id);
    while (rd_kafka_produce(rkt, partition, RD_KAFKA_MSG_F_COPY, value, len, key, (size_t)klen,
                            NULL) != 0) {
        if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            die("produce: %s%s", rd_kafka_err2str(rd_kafka_last_error()), "");
        rd_kafka_poll(rk, 5);
    }
}

/* Produces records @first .. @first + @n - 1 to @source, record i to partition i % its
 * partitions, and waits until all are acknowledged. Creates @sink too (when not NULL). */
static void load(const char *bootstrap, const char *source, const char *sink, int format,
                 long first, long n)
{
    static const char *const kv[] = {"queue.buffering.max.messages", "1000000", "linger.ms", "20",
                                     NULL};
    rd_kafka_t *rk = client(RD_KAFKA_PRODUCER, bootstrap, kv);
    int parts = topic_partitions(rk, source);
    if (sink != NULL)
        topic_partitions(rk, sink);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, source, NULL);
    for (long i = first; i < first + n; i++) {
        produce_one(rk, rkt, (int32_t)(i % parts), (uint64_t)i, format);
        if (i % 1000 == 0)
            rd_kafka_poll(rk, 0);
    }
    rd_kafka_resp_err_t err = rd_kafka_flush(rk, 60000);
    if (err != 0)
        die("flush: %s%s", rd_kafka_err2str(err), "");
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    if (atomic_load(&delivery_failures) > 0)
        die("some records were not delivered%s%s", "", "");
}

/* Sum of @topic's end offsets (its record count, for a topic that started empty). */
static int64_t end_offsets(rd_kafka_t *rk, const char *topic, int parts)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(parts);
    for (int p = 0; p < parts; p++)
        rd_kafka_topic_partition_list_add(l, topic, p)->offset = RD_KAFKA_OFFSET_END;
    rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(rk, l, 5000);
    int64_t sum = 0;
    for (int p = 0; err == 0 && p < l->cnt; p++) {
        if (l->elems[p].err != 0 || l->elems[p].offset < 0) {
            err = l->elems[p].err ? l->elems[p].err : RD_KAFKA_RESP_ERR__BAD_MSG;
            break;
        }
        sum += l->elems[p].offset;
    }
    rd_kafka_topic_partition_list_destroy(l);
    return err == 0 ? sum : -1;
}

/* The processor's processes: one, or a task's workers ("PID,PID,..."); none when empty. */
typedef struct pids {
    long pid[64];
    int n;
} pids_t;

static pids_t pids_parse(const char *s)
{
    pids_t p = {.n = 0};
    char *end;
    while (*s != '\0' && p.n < 64) {
        long v = strtol(s, &end, 10);
        if (end == s)
            break;
        if (v > 0)
            p.pid[p.n++] = v;
        s = *end == ',' ? end + 1 : end;
    }
    return p;
}

/* Sends @sig to every process of @p; -1 when one is gone. */
static int pids_kill(const pids_t *p, int sig)
{
    for (int i = 0; i < p->n; i++)
        if (kill((pid_t)p->pid[i], sig) != 0)
            return -1;
    return 0;
}

static long proc_kib(long pid, const char *field);

/* VmRSS or VmHWM of the processes of @p in KiB, summed; -1 if none or one is gone. */
static long pids_kib(const pids_t *p, const char *field)
{
    long sum = 0;
    for (int i = 0; i < p->n; i++) {
        long v = proc_kib(p->pid[i], field);
        if (v < 0)
            return -1;
        sum += v;
    }
    return p->n > 0 ? sum : -1;
}

/* VmRSS or VmHWM of @pid in KiB; -1 if gone. */
static long proc_kib(long pid, const char *field)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%ld/status", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    long v = -1;
    size_t flen = strlen(field);
    while (fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, field, flen) == 0 && line[flen] == ':') {
            v = strtol(line + flen + 1, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

/* Waits until @topic holds @target records, sampling every 2 ms. Sets *rss_idle to the last
 * RSS of @pid seen before the topic held any record, *first_real to when it first did
 * (CLOCK_REALTIME), *end_mono to when it held @target (CLOCK_MONOTONIC). -1 when @pid dies
 * or nothing moves for a minute. */
static int wait_for(rd_kafka_t *rk, const char *topic, int parts, long target, const pids_t *pid,
                    long *rss_idle, int64_t *first_real, int64_t *end_mono)
{
    int64_t last_progress = now_ns(CLOCK_MONOTONIC), last_count = -1;
    for (;;) {
        long rss = pid->n > 0 && rss_idle != NULL ? pids_kib(pid, "VmRSS") : 0;
        int64_t count = end_offsets(rk, topic, parts);
        int64_t mono = now_ns(CLOCK_MONOTONIC);
        if (count < 0)
            die("cannot read the end offsets of %s%s", topic, "");
        if (count == 0 && rss_idle != NULL)
            *rss_idle = rss;
        if (count > 0 && first_real != NULL && *first_real == 0)
            *first_real = now_ns(CLOCK_REALTIME);
        if (count >= target) {
            if (end_mono != NULL)
                *end_mono = mono;
            return 0;
        }
        if (count != last_count) {
            last_count = count;
            last_progress = mono;
        } else if (mono - last_progress > 60 * (int64_t)1000000000) {
            fprintf(stderr, "driver: %s: %" PRId64 " of %ld records after 60 s without progress\n",
                    topic, count, target);
            return -1;
        }
        if (pids_kill(pid, 0) != 0) {
            fprintf(stderr, "driver: a process of the processor is gone\n");
            return -1;
        }
        usleep(2000);
    }
}

/* ---- latency ---- */

typedef struct latency_run {
    const char *bootstrap, *source, *sink;
    int format, parts_src, parts_sink;
    long first_id, count;
    double rate;
    int64_t *sent_ns; /* CLOCK_MONOTONIC of each produce call, 0 until produced */
    int64_t *lat_ns;  /* per record, 0 until its output arrives */
    atomic_int producing_done;
} latency_run_t;

static void *latency_producer(void *arg)
{
    latency_run_t *lr = arg;
    /* librdkafka's default producer (linger.ms = 5): latency counts from the produce call */
    static const char *const kv[] = {NULL};
    rd_kafka_t *rk = client(RD_KAFKA_PRODUCER, lr->bootstrap, kv);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, lr->source, NULL);
    int64_t start = now_ns(CLOCK_MONOTONIC);
    for (long i = 0; i < lr->count; i++) {
        int64_t due = start + (int64_t)((double)i * 1e9 / lr->rate);
        int64_t now = now_ns(CLOCK_MONOTONIC);
        if (due > now + 200000) { /* sleep in steps of at least 0.2 ms, produce what is due */
            struct timespec ts = {0, (long)(due - now)};
            nanosleep(&ts, NULL);
        }
        uint64_t id = (uint64_t)(lr->first_id + i);
        lr->sent_ns[i] = now_ns(CLOCK_MONOTONIC);
        produce_one(rk, rkt, (int32_t)(id % (uint64_t)lr->parts_src), id, lr->format);
        rd_kafka_poll(rk, 0);
    }
    rd_kafka_flush(rk, 30000);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    atomic_store(&lr->producing_done, 1);
    return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Latency at a fixed rate: produces lr->count records at lr->rate records/s to the source
 * while consuming the sink from its current end; fills lr->lat_ns. Returns the number of
 * outputs matched to their input, and counts duplicates in *dup. */
static long measure_latency(rd_kafka_t *rk, latency_run_t *lr, long *dup)
{
    static const char *const ckv[] = {
        "group.id", "bench-latency", "enable.auto.commit", "false", "fetch.wait.max.ms", "5", NULL};
    rd_kafka_t *c = client(RD_KAFKA_CONSUMER, lr->bootstrap, ckv);
    rd_kafka_poll_set_consumer(c);

    /* start exactly at the sink's current end, before anything new is produced */
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(lr->parts_sink);
    for (int p = 0; p < lr->parts_sink; p++)
        rd_kafka_topic_partition_list_add(l, lr->sink, p)->offset = RD_KAFKA_OFFSET_END;
    if (rd_kafka_offsets_for_times(rk, l, 5000) != 0)
        die("cannot read the end offsets of %s%s", lr->sink, "");
    rd_kafka_assign(c, l);
    rd_kafka_topic_partition_list_destroy(l);
    /* let the consumer connect and start fetching */
    for (int i = 0; i < 50; i++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 10);
        if (m != NULL)
            rd_kafka_message_destroy(m);
    }

    pthread_t th;
    pthread_create(&th, NULL, latency_producer, lr);
    long got = 0;
    int64_t deadline = 0;
    *dup = 0;
    while (got < lr->count) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 10);
        int64_t now = now_ns(CLOCK_MONOTONIC);
        if (m != NULL) {
            if (m->err == 0 && m->key != NULL && m->key_len < 24) {
                char key[24];
                memcpy(key, m->key, m->key_len);
                key[m->key_len] = '\0';
                long i = strtol(key, NULL, 10) - lr->first_id;
                if (i >= 0 && i < lr->count && lr->sent_ns[i] != 0) {
                    if (lr->lat_ns[i] == 0) {
                        lr->lat_ns[i] = now - lr->sent_ns[i];
                        got++;
                    } else {
                        (*dup)++;
                    }
                }
            }
            rd_kafka_message_destroy(m);
        }
        if (atomic_load(&lr->producing_done)) {
            if (deadline == 0)
                deadline = now + 30 * (int64_t)1000000000;
            else if (now > deadline)
                break;
        }
    }
    pthread_join(th, NULL);
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    return got;
}

static int cmd_measure(const char *bootstrap, const char *source, const char *sink, int format,
                       long warmup, long n, long cycles, int64_t t0_ns, const char *pid_list,
                       double rate, double seconds)
{
    pids_t pids = pids_parse(pid_list);
    const pids_t *pid = &pids;
    static const char *const pkv[] = {NULL};
    rd_kafka_t *rk = client(RD_KAFKA_PRODUCER, bootstrap, pkv);
    int parts_src = topic_partitions(rk, source);
    int parts_sink = topic_partitions(rk, sink);

    /* 1. start to first output, idle RSS: the processor handles the warm-up records */
    int64_t first_real = 0;
    long rss_idle = -1;
    if (wait_for(rk, sink, parts_sink, warmup, pid, &rss_idle, &first_real, NULL) != 0)
        return 1;
    double start_s = t0_ns > 0 ? (double)(first_real - t0_ns) / 1e9 : -1;

    /* 2. throughput: with the processor stopped (SIGSTOP), its group joined and its
     * connections up, N records are loaded; then it goes on (SIGCONT) and the time from
     * there to the N-th output counts. One cycle to warm up (the first backlog grows the
     * processor's buffers), then CYCLES that count: the cluster keeps too little for one
     * long run, and short ones are at the mercy of the scheduler. */
    int64_t busy_ns = 0;
    char per_cycle[256] = "";
    size_t pc_len = 0;
    for (long c = 0; c <= cycles; c++) {
        if (pids_kill(pid, SIGSTOP) != 0)
            die("cannot stop the processor%s%s", "", "");
        load(bootstrap, source, NULL, format, warmup + c * n, n);
        int64_t cont = now_ns(CLOCK_MONOTONIC), end = 0;
        if (pids_kill(pid, SIGCONT) != 0)
            die("cannot continue the processor%s%s", "", "");
        if (wait_for(rk, sink, parts_sink, warmup + (c + 1) * n, pid, NULL, NULL, &end) != 0)
            return 1;
        if (c > 0)
            busy_ns += end - cont;
        if (pc_len < sizeof(per_cycle) - 16)
            pc_len += (size_t)snprintf(per_cycle + pc_len, sizeof(per_cycle) - pc_len, "%s%.0f",
                                       c == 0   ? ""
                                       : c == 1 ? "/"
                                                : ",",
                                       (double)n / ((double)(end - cont) / 1e9));
    }
    double tput = (double)(cycles * n) / ((double)busy_ns / 1e9);

    /* 3. latency at a fixed rate (skipped when RATE is 0) */
    double p50 = -1, p99 = -1, pmax = -1;
    long got = 0, dup = 0, count = rate > 0 ? (long)(rate * seconds) : 0;
    if (count > 0) {
        latency_run_t lr = {.bootstrap = bootstrap,
                            .source = source,
                            .sink = sink,
                            .format = format,
                            .parts_src = parts_src,
                            .parts_sink = parts_sink,
                            .first_id = warmup + (cycles + 1) * n,
                            .count = count,
                            .rate = rate};
        lr.sent_ns = calloc((size_t)count, sizeof(int64_t));
        lr.lat_ns = calloc((size_t)count, sizeof(int64_t));
        int64_t *lat = malloc((size_t)count * sizeof(int64_t));
        if (lr.sent_ns == NULL || lr.lat_ns == NULL || lat == NULL)
            die("out of memory%s%s", "", "");
        got = measure_latency(rk, &lr, &dup);
        long k = 0;
        for (long i = 0; i < count; i++)
            if (lr.lat_ns[i] != 0)
                lat[k++] = lr.lat_ns[i];
        qsort(lat, (size_t)k, sizeof(int64_t), cmp_i64);
        if (k > 0) {
            p50 = (double)lat[(k - 1) * 50 / 100] / 1e6;
            p99 = (double)lat[(k - 1) * 99 / 100] / 1e6;
            pmax = (double)lat[k - 1] / 1e6;
        }
        free(lat);
        free(lr.sent_ns);
        free(lr.lat_ns);
    }

    /* 4. memory: the peak covers every phase */
    long hwm = pids_kib(pid, "VmHWM");

    printf("tput=%.0f cycles=%s start_s=%.3f rss_idle_kib=%ld rss_hwm_kib=%ld "
           "lat_p50_ms=%.2f lat_p99_ms=%.2f lat_max_ms=%.2f lat_n=%ld lat_missing=%ld "
           "lat_dup=%ld lat_rate=%.0f\n",
           tput, per_cycle, start_s, rss_idle, hwm, p50, p99, pmax, got, count - got, dup, rate);
    rd_kafka_destroy(rk);
    return got == count ? 0 : 1;
}

static int cmd_model(int features, unsigned seed)
{
    printf("{\"kind\": \"linear\", \"features\": [");
    for (int f = 0; f < features; f++)
        printf("%s\"x%d\"", f ? ", " : "", f);
    printf("], \"weights\": [");
    for (int f = 0; f < features; f++) {
        double w = (double)(splitmix64(seed * 1000003u + (unsigned)f) % 200001) / 100000.0 - 1.0;
        printf("%s%.5f", f ? ", " : "", w);
    }
    printf("], \"intercept\": 0.25}\n");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && strcmp(argv[1], "records") == 0) {
        int format = format_of(argv[2]);
        long n = atol(argv[3]);
        char rec[512];
        for (long i = 0; i < n; i++) {
            size_t len = make_record(rec, (uint64_t)i, format);
            if (format != FORMAT_AVRO) {
                puts(rec);
                continue;
            }
            for (size_t k = 0; k < len; k++)
                printf("%02x", (unsigned char)rec[k]);
            putchar('\n');
        }
        return 0;
    }
    if (argc == 4 && strcmp(argv[1], "model") == 0)
        return cmd_model(atoi(argv[2]), (unsigned)atoi(argv[3]));
    if (argc == 7 && strcmp(argv[1], "load") == 0) {
        load(argv[2], argv[3], argv[4], format_of(argv[5]), 0, atol(argv[6]));
        return 0;
    }
    if (argc == 13 && strcmp(argv[1], "measure") == 0)
        return cmd_measure(argv[2], argv[3], argv[4], format_of(argv[5]), atol(argv[6]),
                           atol(argv[7]), atol(argv[8]), atoll(argv[9]), argv[10], atof(argv[11]),
                           atof(argv[12]));
    fprintf(stderr,
            "usage: driver records FORMAT N | model FEATURES SEED |\n"
            "       load BOOTSTRAP SOURCE SINK FORMAT N |\n"
            "       measure BOOTSTRAP SOURCE SINK FORMAT WARMUP N CYCLES T0_NS PID[,PID...] RATE "
            "SECONDS\n");
    return 2;
}
