/* main.c: symtask-worker, one process per running task: takes its task from symtaskd over the
 * channel (docs/worker-protocol.md), runs it, and reports readiness, heartbeats and errors. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "channel.h"
#include "kafka.h"
#include "log.h"
#include "offsets.h"
#include "pipeline.h"
#include "size.h"
#include "symtask_build.h"

#ifdef SYMTASK_JEMALLOC
#include <jemalloc/jemalloc.h>

/* jemalloc's settings for the worker, read when it starts; MALLOC_CONF in the environment
 * overrides them. Freed pages go back to the system after a second (the default is ten), so
 * that a worker's resident size, which sml.task.heap.max is checked against, follows its
 * load. "Muzzy" pages, given back lazily (MADV_FREE), stay resident until the kernel is
 * short of memory and would make the worker look larger than it is: none are kept
 * (docs/delivery.md, "Memory limit"). */
const char *malloc_conf = "dirty_decay_ms:1000,muzzy_decay_ms:0";
#endif

/* symtaskd writes the task right after spawning us: a silent channel means something broke. */
#define WORKER_TASK_WAIT_MS 10000
#define WORKER_HEARTBEAT_MS 1000
/* Longest sleep of the main loop: bounds how late a stop or a heartbeat can be. */
#define WORKER_TICK_MS 100

enum {
    WORKER_EXIT_STOPPED = 0, /* stopped on request, or symtaskd went away */
    WORKER_EXIT_CRASH = 1,   /* something failed that a restart may fix */
    WORKER_EXIT_CONFIG = 2,  /* the task cannot run as defined: restarting would not help */
    WORKER_EXIT_MEMORY = 3,  /* resident memory went over sml.task.heap.max */
};

/* sml.task.heap.max when the task does not set it (the seed's default). */
#define WORKER_HEAP_MAX_DEFAULT "2048m"

typedef enum worker_kafka_state {
    WORKER_KAFKA_UNKNOWN,
    WORKER_KAFKA_UP,
    WORKER_KAFKA_DOWN,
} worker_kafka_state_t;

/* The task message; the fields point into @msg, which owns them. */
typedef struct worker_task {
    json_t *msg;
    const char *cid, *tid;
    json_t *params;
    const char *bootstrap; /* symtaskd's default bootstrap.servers, may be NULL */
    const char *plugin_dir;
    unsigned worker_index, workers; /* this worker's index among the task's workers on the node */
    const char *node;               /* cluster mode: the node's id, part of the member ids */
    int paused;                     /* start paused: the task's desired state is paused */
    char tag[272]; /* "cid/tid" on every log line ("cid/tid#index" with several workers) */
} worker_task_t;

typedef struct worker {
    int chan_fd, sig_fd;
    int hand_fd;         /* --hand-fd: the hand board's fd, -1 without one */
    hand_board_t *board; /* the hand board, mapped (hand.h) */
    channel_reader_t reader;
    worker_task_t task;
    const char *tag; /* task.tag once the task is known, else NULL */
    kafka_clients_t *kafka;
    pipeline_t *pipeline;
    worker_kafka_state_t kafka_state;
    int ready;
    int want_paused;      /* what symtaskd asked for last: pause (1) or resume (0) */
    int validate_only;    /* --validate: check the task's plugins and params, then exit */
    int offsets_only;     /* --offsets: read or reset the task's offsets, then exit */
    const char *list_dir; /* --list-plugins DIR: describe DIR's plugins, then exit */
    uint64_t heap_max;    /* sml.task.heap.max in bytes */
    int64_t next_memory_check_ms;
    int64_t start_ms, next_heartbeat_ms;
    const char *stop; /* why the worker stops, NULL while it runs */
    int exit_code;
} worker_t;

static int64_t worker_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void worker_usage(FILE *out)
{
    fprintf(out,
            "Usage: symtask-worker [--channel-fd N] [--hand-fd N] [--log-level LEVEL]\n"
            "\n"
            "Runs one symtask task. Started by symtaskd, not by hand: the task definition\n"
            "arrives as a JSON line on the channel fd (docs/worker-protocol.md).\n"
            "\n"
            "  --channel-fd N       the daemon's Unix socket (default %d)\n"
            "  --hand-fd N          the board the worker writes the batch in hand on, for the\n"
            "                       daemon to find after a crash (none by default)\n"
            "  --log-level LEVEL    error, warn, info (default) or debug\n"
            "  --validate           load the task's plugins, check its params, answer\n"
            "                       {\"type\":\"valid\"} or {\"type\":\"invalid\"} and exit\n"
            "  --list-plugins DIR   describe every plugin in DIR on the channel and exit\n"
            "  --offsets            read (or, with \"offsets\":{\"to\":...} in the task\n"
            "                       message, reset) the task's committed offsets, answer\n"
            "                       {\"type\":\"offsets\",...} and exit\n"
            "  --help               show this help\n"
            "  --version            show the version\n"
            "\n"
            "Exit status: 0 stopped on request, 2 the task cannot run as defined,\n"
            "anything else a failure worth a restart.\n",
            CHANNEL_WORKER_FD);
}

/* The fd of option --@name (@arg): 0, or -1 with a message. */
static int worker_parse_fd(const char *name, const char *arg, int *fd)
{
    char *end;
    errno = 0;
    long v = strtol(arg, &end, 10);
    if (errno != 0 || end == arg || *end != '\0' || v < 0 || v > 65535) {
        fprintf(stderr, "symtask-worker: --%s: not a file descriptor: %s\n", name, arg);
        return -1;
    }
    *fd = (int)v;
    return 0;
}

/* The allocator the worker runs on, for --version. */
static const char *worker_allocator(void)
{
#ifdef SYMTASK_JEMALLOC
    static char name[64];
    const char *version = NULL;
    size_t len = sizeof(version);
    if (mallctl("version", &version, &len, NULL, 0) == 0 && version != NULL) {
        /* "5.3.0-0-g54eaed1d8b56b1aa528be3bdd1877e59c56fa90c": the release is enough */
        snprintf(name, sizeof(name), "jemalloc %.*s", (int)strcspn(version, "-"), version);
        return name;
    }
    return "jemalloc";
#else
    return "glibc malloc";
#endif
}

/* Gives the pages the allocator holds free back to the system, so that the resident size
 * read next is what the worker uses. Called after the plugins load: a model's loader frees
 * most of what it parsed, and a model that fits must not look like one that does not. */
static void worker_release_memory(void)
{
#ifdef SYMTASK_JEMALLOC
    char cmd[64];
    snprintf(cmd, sizeof(cmd), "arena.%u.purge", (unsigned)MALLCTL_ARENAS_ALL);
    mallctl(cmd, NULL, NULL, NULL, 0);
#else
    malloc_trim(0);
#endif
}

/* Returns -1 to go on, else the exit status. */
static int worker_parse_args(int argc, char **argv, int *chan_fd, int *hand_fd, log_level_t *level,
                             int *validate_only, int *offsets_only, const char **list_dir)
{
    static const struct option options[] = {
        {"channel-fd", required_argument, NULL, 'c'},
        {"hand-fd", required_argument, NULL, 'H'},
        {"validate", no_argument, NULL, 'v'},
        {"offsets", no_argument, NULL, 'o'},
        {"list-plugins", required_argument, NULL, 'L'},
        {"log-level", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'c':
            if (worker_parse_fd("channel-fd", optarg, chan_fd) != 0)
                return WORKER_EXIT_CONFIG;
            break;
        case 'H':
            if (worker_parse_fd("hand-fd", optarg, hand_fd) != 0)
                return WORKER_EXIT_CONFIG;
            break;
        case 'l': {
            int l = log_level_parse(optarg);
            if (l < 0) {
                fprintf(stderr, "symtask-worker: --log-level: not error, warn, info or debug: %s\n",
                        optarg);
                return WORKER_EXIT_CONFIG;
            }
            *level = (log_level_t)l;
            break;
        }
        case 'v':
            *validate_only = 1;
            break;
        case 'o':
            *offsets_only = 1;
            break;
        case 'L':
            *list_dir = optarg;
            break;
        case 'h':
            worker_usage(stdout);
            return WORKER_EXIT_STOPPED;
        case 'V':
            printf("symtask-worker %s (librdkafka %s, %s)\n", SYMTASK_VERSION,
                   rd_kafka_version_str(), worker_allocator());
            return WORKER_EXIT_STOPPED;
        default:
            worker_usage(stderr);
            return WORKER_EXIT_CONFIG;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "symtask-worker: unexpected argument: %s\n", argv[optind]);
        return WORKER_EXIT_CONFIG;
    }
    return -1;
}

/* Sends @msg (reference stolen). A channel that fails means symtaskd is gone: stop. */
static void worker_send(worker_t *w, json_t *msg)
{
    if (msg == NULL) {
        log_error(w->tag, "out of memory building a channel message");
        return;
    }
    if (channel_send(w->chan_fd, msg) < 0 && w->stop == NULL) {
        log_info(w->tag, "channel to symtaskd failed (%s): stopping", strerror(errno));
        w->stop = "channel to symtaskd failed";
    }
    json_decref(msg);
}

static void worker_send_error(worker_t *w, int fatal, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void worker_send_error(worker_t *w, int fatal, const char *fmt, ...)
{
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    log_msg(fatal ? LOG_ERROR : LOG_WARN, w->tag, "%s", message);
    worker_send(w,
                json_pack("{s:s, s:s, s:b}", "type", "error", "message", message, "fatal", fatal));
}

static void worker_heartbeat(worker_t *w)
{
    pipeline_stats_t st = {0};
    if (w->pipeline != NULL)
        pipeline_get_stats(w->pipeline, &st);
    /* the batch latency histogram, cumulative as Prometheus wants it */
    json_t *le = json_array(), *counts = json_array();
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= PIPELINE_LATENCY_BUCKETS; i++) {
        cumulative += st.latency_counts[i];
        if (i < PIPELINE_LATENCY_BUCKETS)
            json_array_append_new(le, json_real(pipeline_latency_bounds[i]));
        json_array_append_new(counts, json_integer((json_int_t)cumulative));
    }
    /* the lag is null while unknown (no partition assigned) */
    json_t *lag = st.consumer_lag >= 0 ? json_integer((json_int_t)st.consumer_lag) : json_null();
    worker_send(
        w,
        json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:o, s:i, s:s, s:I, s:I, s:I, s:i, s:s, "
                  "s:{s:o, s:o, s:f, s:I}, s:b}",
                  "type", "heartbeat", "kafka", w->kafka_state == WORKER_KAFKA_UP ? "up" : "down",
                  "recordsIn", (json_int_t)st.records_in, "recordsOut", (json_int_t)st.records_out,
                  "recordsFailed", (json_int_t)st.records_failed, "recordsDeadLetter",
                  (json_int_t)st.records_dead_letter, "consumerLag", lag, "assignedPartitions",
                  st.assigned_partitions, "groupState", st.group_stable ? "stable" : "joining",
                  "transactionsCommitted", (json_int_t)st.txn_commits, "transactionsAborted",
                  (json_int_t)st.txn_aborts, "retries", (json_int_t)st.retries, "retrying",
                  st.retrying, "lastRecordDateTime", st.last_record_time, "batchLatency", "le", le,
                  "counts", counts, "sum", st.latency_sum, "count", (json_int_t)st.batches,
                  "paused", st.paused));
}

/* Reads what the channel holds into the reader. 1 when the channel is still open, 0 at end
 * of file or on error (symtaskd is gone), -1 when a line is too long. */
static int worker_channel_read(worker_t *w)
{
    char buf[65536];
    ssize_t n = read(w->chan_fd, buf, sizeof(buf));
    if (n < 0)
        return errno == EINTR || errno == EAGAIN ? 1 : 0;
    if (n == 0)
        return 0;
    return channel_reader_feed(&w->reader, buf, (size_t)n) < 0 ? -1 : 1;
}

static const char *worker_signal_read(worker_t *w)
{
    struct signalfd_siginfo si;
    if (read(w->sig_fd, &si, sizeof(si)) != (ssize_t)sizeof(si))
        return NULL;
    return si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM";
}

/* A message of symtaskd after the task (a stop is a signal): pause and resume are applied
 * by the main loop, between two steps of the pipeline; "poison" brings the records to handle
 * one at a time and those to set aside. Anything else is drained so that it cannot pile up,
 * and logged, since it means a protocol mismatch. */
static void worker_handle_message(worker_t *w, json_t *msg, int bad)
{
    const char *type = json_string_value(json_object_get(msg, "type"));
    if (!bad && type != NULL && strcmp(type, "pause") == 0) {
        w->want_paused = 1;
        return;
    }
    if (!bad && type != NULL && strcmp(type, "resume") == 0) {
        w->want_paused = 0;
        return;
    }
    if (!bad && type != NULL && strcmp(type, "poison") == 0 && w->pipeline != NULL) {
        char errstr[256];
        if (pipeline_suspects_load(w->pipeline, msg, errstr, sizeof(errstr)) != 0)
            log_warn(w->tag, "ignored the suspect records from symtaskd: %s", errstr);
        return;
    }
    log_warn(w->tag, "ignored %s from symtaskd: %s",
             bad ? "a line that is not a JSON object" : "a message",
             type != NULL ? type : "(no type)");
}

/* Handles what poll() found for worker_wait(). */
static void worker_wait_handle(worker_t *w, const struct pollfd *pfd)
{
    if (pfd[0].revents & POLLIN) {
        const char *sig = worker_signal_read(w);
        if (sig != NULL && w->stop == NULL) {
            log_info(w->tag, "%s received: stopping", sig);
            w->stop = sig;
        }
    }
    if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) {
        int r = worker_channel_read(w);
        if (r == 0 && w->stop == NULL) {
            log_info(w->tag, "channel closed by symtaskd: stopping");
            w->stop = "channel closed";
        } else if (r < 0) {
            log_warn(w->tag, "message from symtaskd longer than %d bytes: dropped",
                     CHANNEL_MSG_MAX);
            channel_reader_free(&w->reader);
        }
    }
}

/* Waits up to @timeout_ms for a signal, channel input or a Kafka probe result, and handles
 * the first two: sets w->stop on
 * SIGTERM/SIGINT or when the channel closes. */
static void worker_wait(worker_t *w, int timeout_ms)
{
    struct pollfd pfd[3] = {
        {.fd = w->sig_fd, .events = POLLIN},
        {.fd = w->chan_fd, .events = POLLIN},
        {.fd = kafka_clients_event_fd(w->kafka), .events = POLLIN},
    };
    int n = poll(pfd, 3, timeout_ms);
    if (n > 0)
        worker_wait_handle(w, pfd);
    /* also what came with the task message, already read: the fd has nothing new for it */
    json_t *msg;
    int bad;
    while ((msg = channel_reader_next(&w->reader, &bad)) != NULL || bad) {
        worker_handle_message(w, msg, bad);
        json_decref(msg);
    }
}

static int worker_id_valid(const char *id)
{
    size_t len = strlen(id);
    if (len == 0 || len > 128)
        return 0;
    return strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == len;
}

/* Checks the task message and points @t into it (takes the reference). Messages name fields
 * and params keys, never values. */
static int worker_task_parse(worker_task_t *t, json_t *msg, char *errstr, size_t errstr_size)
{
    t->msg = msg;
    const char *type = json_string_value(json_object_get(msg, "type"));
    if (type == NULL || strcmp(type, "task") != 0) {
        snprintf(errstr, errstr_size, "first message is not {\"type\":\"task\",...}");
        return -1;
    }
    t->cid = json_string_value(json_object_get(msg, "cid"));
    t->tid = json_string_value(json_object_get(msg, "tid"));
    if (t->cid == NULL || !worker_id_valid(t->cid) || t->tid == NULL || !worker_id_valid(t->tid)) {
        snprintf(errstr, errstr_size, "cid and tid must be 1 to 128 characters of [A-Za-z0-9._-]");
        return -1;
    }
    snprintf(t->tag, sizeof(t->tag), "%s/%s", t->cid, t->tid);

    json_t *info = json_object_get(msg, "taskInfo");
    if (!json_is_object(info)) {
        snprintf(errstr, errstr_size, "taskInfo is not an object");
        return -1;
    }
    const char *info_type = json_string_value(json_object_get(info, "type"));
    if (info_type == NULL || strcmp(info_type, "kstream") != 0) {
        snprintf(errstr, errstr_size, "taskInfo.type must be \"kstream\"");
        return -1;
    }
    t->params = json_object_get(info, "params");
    if (!json_is_object(t->params)) {
        snprintf(errstr, errstr_size, "taskInfo.params is not an object");
        return -1;
    }
    const char *key;
    json_t *value;
    json_object_foreach (t->params, key, value) {
        if (!json_is_string(value)) {
            snprintf(errstr, errstr_size, "taskInfo.params key \"%.200s\" is not a string", key);
            return -1;
        }
    }

    json_t *bootstrap = json_object_get(msg, "bootstrap.servers");
    json_t *plugin_dir = json_object_get(msg, "pluginDir");
    if ((bootstrap != NULL && !json_is_null(bootstrap) && !json_is_string(bootstrap)) ||
        (plugin_dir != NULL && !json_is_null(plugin_dir) && !json_is_string(plugin_dir))) {
        snprintf(errstr, errstr_size, "bootstrap.servers and pluginDir must be strings");
        return -1;
    }
    t->bootstrap = json_string_value(bootstrap);
    t->plugin_dir = json_string_value(plugin_dir);

    /* absent: the only worker (a daemon of before sml.task.workers) */
    json_t *index = json_object_get(msg, "workerIndex"), *workers = json_object_get(msg, "workers");
    t->worker_index = 0;
    t->workers = 1;
    if (index != NULL || workers != NULL) {
        if (!json_is_integer(index) || !json_is_integer(workers) ||
            json_integer_value(workers) < 1 || json_integer_value(workers) > 1024 ||
            json_integer_value(index) < 0 ||
            json_integer_value(index) >= json_integer_value(workers)) {
            snprintf(errstr, errstr_size,
                     "workerIndex and workers must be whole numbers, 0 <= workerIndex < workers");
            return -1;
        }
        t->worker_index = (unsigned)json_integer_value(index);
        t->workers = (unsigned)json_integer_value(workers);
    }
    json_t *node = json_object_get(msg, "node");
    t->node = json_string_value(node);
    if (node != NULL && (t->node == NULL || strlen(t->node) > 64 || !worker_id_valid(t->node))) {
        snprintf(errstr, errstr_size, "node must be 1 to 64 characters of [A-Za-z0-9._-]");
        return -1;
    }
    if (t->workers > 1)
        snprintf(t->tag, sizeof(t->tag), "%s/%s#%u", t->cid, t->tid, t->worker_index);
    t->paused = json_is_true(json_object_get(msg, "paused"));
    return 0;
}

/* Waits for the task message. Returns -1 with w->task filled, else the exit status. */
static int worker_receive_task(worker_t *w)
{
    int64_t deadline = w->start_ms + WORKER_TASK_WAIT_MS;
    char errstr[512];

    for (;;) {
        int bad;
        json_t *msg = channel_reader_next(&w->reader, &bad);
        if (msg != NULL) {
            if (worker_task_parse(&w->task, msg, errstr, sizeof(errstr)) < 0)
                goto invalid;
            w->tag = w->task.tag;
            return -1;
        }
        if (bad) {
            snprintf(errstr, sizeof(errstr), "first message is not a JSON object");
            goto invalid;
        }

        int64_t left = deadline - worker_now_ms();
        if (left <= 0) {
            worker_send_error(w, 1, "no task message from symtaskd within %d s",
                              WORKER_TASK_WAIT_MS / 1000);
            return WORKER_EXIT_CONFIG;
        }
        struct pollfd pfd[2] = {
            {.fd = w->sig_fd, .events = POLLIN},
            {.fd = w->chan_fd, .events = POLLIN},
        };
        if (poll(pfd, 2, (int)left) < 0 && errno != EINTR) {
            log_error(NULL, "poll: %s", strerror(errno));
            return WORKER_EXIT_CRASH;
        }
        if (pfd[0].revents & POLLIN) {
            log_info(NULL, "%s received before the task: exiting", worker_signal_read(w));
            return WORKER_EXIT_STOPPED;
        }
        if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) {
            int r = worker_channel_read(w);
            if (r == 0) {
                log_error(NULL, "channel closed before the task message arrived");
                return WORKER_EXIT_CONFIG;
            }
            if (r < 0) {
                snprintf(errstr, sizeof(errstr), "task message longer than %d bytes",
                         CHANNEL_MSG_MAX);
                goto invalid;
            }
        }
    }

invalid:
    worker_send_error(w, 1, "invalid task message: %s", errstr);
    return WORKER_EXIT_CONFIG;
}

/* Follows Kafka's health: sends "ready" when the cluster first answers, and one error on
 * each transition to down. */
static void worker_check_kafka(worker_t *w)
{
    char reason[600];
    int r = kafka_clients_check(w->kafka, reason, sizeof(reason));
    if (r == 1) {
        if (w->kafka_state == WORKER_KAFKA_DOWN)
            log_info(w->tag, "Kafka is up again");
        w->kafka_state = WORKER_KAFKA_UP;
        if (!w->ready) {
            w->ready = 1;
            log_info(w->tag, "ready in %lld ms: Kafka cluster reached",
                     (long long)(worker_now_ms() - w->start_ms));
            worker_send(w, json_pack("{s:s}", "type", "ready"));
        }
    } else if (r == 0 && w->kafka_state != WORKER_KAFKA_DOWN) {
        w->kafka_state = WORKER_KAFKA_DOWN;
        worker_send_error(w, 0, "Kafka: %s", reason);
    }
}

/* Resident memory of this process in bytes, or 0 if unknown. */
static uint64_t worker_rss(void)
{
    unsigned long long size, resident;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL)
        return 0;
    int n = fscanf(f, "%llu %llu", &size, &resident);
    fclose(f);
    return n == 2 ? (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE) : 0;
}

/* Stops the worker when its resident memory is over sml.task.heap.max. */
static void worker_check_memory(worker_t *w)
{
    /* Reading /proc costs a few microseconds: once a tick is enough, not every batch (the
     * check right after the plugins load runs with next_memory_check_ms still 0). */
    int64_t now = worker_now_ms();
    if (now < w->next_memory_check_ms)
        return;
    w->next_memory_check_ms = now + WORKER_TICK_MS;
    uint64_t rss = worker_rss();
    if (rss <= w->heap_max || w->stop != NULL)
        return;
    const char *limit = json_string_value(json_object_get(w->task.params, "sml.task.heap.max"));
    worker_send_error(
        w, 1, "memory limit hit: the worker uses %llu MiB, more than sml.task.heap.max = %s",
        (unsigned long long)(rss >> 20), limit ? limit : WORKER_HEAP_MAX_DEFAULT);
    w->stop = "memory limit";
    w->exit_code = WORKER_EXIT_MEMORY;
}

/* Sends the heartbeat when it is due. */
static void worker_heartbeat_if_due(worker_t *w)
{
    int64_t now = worker_now_ms();
    if (now < w->next_heartbeat_ms)
        return;
    worker_heartbeat(w);
    w->next_heartbeat_ms += WORKER_HEARTBEAT_MS;
    if (w->next_heartbeat_ms <= now) /* we fell behind: do not burst */
        w->next_heartbeat_ms = now + WORKER_HEARTBEAT_MS;
}

/* The pipeline's keepalive while it waits on Kafka: heartbeats go on, they say whether
 * Kafka answers, and a stop is seen. */
static int worker_keepalive(void *arg)
{
    worker_t *w = arg;
    if (w->kafka != NULL)
        worker_check_kafka(w);
    worker_heartbeat_if_due(w);
    worker_wait(w, 0);
    return w->stop != NULL;
}

/* The pipeline's word on the suspect records that went through the plugins (suspects.h). */
static void worker_tell(void *arg, const char *line, size_t len)
{
    worker_t *w = arg;
    if (channel_send_line(w->chan_fd, line, len) < 0 && w->stop == NULL) {
        log_info(w->tag, "channel to symtaskd failed (%s): stopping", strerror(errno));
        w->stop = "channel to symtaskd failed";
    }
}

/* The pipeline's heartbeat between the records of a suspect batch. */
static void worker_heartbeat_cb(void *arg)
{
    worker_heartbeat_if_due(arg);
}

/* The pipeline's report of a passing problem: the user sees it in lastError. */
static void worker_report(void *arg, const char *message)
{
    worker_send_error(arg, 0, "%s", message);
}

/* Pauses or resumes the pipeline as symtaskd asked; the heartbeat that says so goes at once,
 * once a pause has committed the records in hand. */
static void worker_apply_pause(worker_t *w)
{
    if (pipeline_is_paused(w->pipeline) == w->want_paused)
        return;
    pipeline_set_paused(w->pipeline, w->want_paused, KAFKA_FLUSH_MS);
    worker_heartbeat(w);
}

/* The main loop: one tick at most WORKER_TICK_MS long, until a stop. */
static void worker_run(worker_t *w)
{
    w->next_heartbeat_ms = worker_now_ms();
    while (w->stop == NULL) {
        worker_heartbeat_if_due(w);

        int64_t wait = w->next_heartbeat_ms - worker_now_ms();
        wait = wait < 0 ? 0 : wait > WORKER_TICK_MS ? WORKER_TICK_MS : wait;
        /* The pipeline waits in the consumer for at most a tick; signals and the channel are
         * then looked at without waiting. */
        char errstr[1024];
        pipeline_result_t r = pipeline_step(w->pipeline, (int)wait, errstr, sizeof(errstr));
        if (r != PIPELINE_OK && w->stop != NULL)
            break; /* a stop arrived while the pipeline waited on Kafka */
        if (r != PIPELINE_OK) {
            worker_send_error(w, 1, "%s", errstr);
            w->stop = "pipeline error";
            w->exit_code = r == PIPELINE_REFUSED ? WORKER_EXIT_CONFIG : WORKER_EXIT_CRASH;
            break;
        }
        worker_wait(w, 0);
        if (w->stop != NULL)
            break;
        worker_apply_pause(w);
        worker_check_memory(w);

        kafka_clients_poll(w->kafka);
        char reason[600];
        if (kafka_clients_fatal(w->kafka, reason, sizeof(reason))) {
            worker_send_error(w, 1, "Kafka: %s", reason);
            w->stop = "Kafka fatal error";
            w->exit_code = WORKER_EXIT_CRASH;
            break;
        }
        worker_check_kafka(w);
    }
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static const char *option_type_name(symtask_option_type_t type)
{
    static const char *const names[] = {"string", "int", "double", "bool", "path", "list"};
    return (unsigned)type < sizeof(names) / sizeof(names[0]) ? names[type] : "?";
}

/* Describes one plugin file of @dir (name without ".so") for the listing. */
static json_t *worker_describe_plugin(const char *dir, const char *name)
{
    char errstr[1024];
    plugin_t *plugin = plugin_load(dir, name, PLUGIN_KIND_ANY, "plugin", errstr, sizeof(errstr));
    if (plugin == NULL)
        return json_pack("{s:s, s:s}", "name", name, "error", errstr);
    const symtask_plugin_t *d = plugin_descriptor(plugin);
    json_t *options = json_array();
    for (const symtask_option_t *o = d->options; o != NULL && o->name != NULL; o++)
        json_array_append_new(options,
                              json_pack("{s:s, s:s, s:s?, s:b, s:s}", "name", o->name, "type",
                                        option_type_name(o->type), "default", o->default_value,
                                        "required", o->required != 0, "help", o->help));
    char abi[32];
    snprintf(abi, sizeof(abi), "%u.%u", d->abi_major, d->abi_minor);
    json_t *desc =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "name", d->name, "kind",
                  d->kind == SYMTASK_PLUGIN_PREDICTOR ? "predictor" : "serializer", "version",
                  d->version, "description", d->description, "abi", abi, "options", options);
    plugin_unload(plugin);
    return desc;
}

/* --list-plugins: loads every plugin of @dir (in this throwaway process, so that a faulty one
 * cannot harm symtaskd) and sends their descriptions, sorted by name. */
static int worker_list_plugins(worker_t *w, const char *dir)
{
    json_t *list = json_array();
    DIR *dp = opendir(dir);
    if (dp == NULL) {
        worker_send(w, json_pack("{s:s, s:s, s:o}", "type", "plugins", "error", strerror(errno),
                                 "plugins", list));
        return WORKER_EXIT_STOPPED;
    }
    char *names[1024];
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(dp)) != NULL && n < sizeof(names) / sizeof(names[0])) {
        size_t len = strlen(de->d_name);
        if (len > 3 && strcmp(de->d_name + len - 3, ".so") == 0)
            names[n++] = strndup(de->d_name, len - 3);
    }
    closedir(dp);
    qsort(names, n, sizeof(names[0]), cmp_names);
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(list, worker_describe_plugin(dir, names[i]));
        free(names[i]);
    }
    worker_send(w, json_pack("{s:s, s:o}", "type", "plugins", "plugins", list));
    return WORKER_EXIT_STOPPED;
}

/* --validate: loads the task's plugins and builds their instances (a model that cannot be
 * loaded, or params a plugin refuses, show here), answers on the channel and returns the
 * exit status. Runs in its own process so that a faulty plugin cannot harm symtaskd. */
static int worker_validate(worker_t *w)
{
    char errstr[1024];
    /* Tells the plugins that this is the check at create (docs/plugins.md): one that calls a
     * server checks it now, and not at every start of a task, when the server may be away
     * for a while. */
    json_object_set_new(w->task.params, PLUGIN_VALIDATE_PARAM, json_string("true"));
    stages_t *st = stages_open(w->task.params, w->task.plugin_dir, 1, errstr, sizeof(errstr));
    if (st == NULL) {
        worker_send(w, json_pack("{s:s, s:s}", "type", "invalid", "message", errstr));
        return WORKER_EXIT_STOPPED;
    }
    worker_release_memory();
    uint64_t rss = worker_rss();
    if (rss > w->heap_max) {
        const char *limit = json_string_value(json_object_get(w->task.params, "sml.task.heap.max"));
        snprintf(errstr, sizeof(errstr),
                 "params.sml.task.heap.max: the plugins need %llu MiB once loaded, more than %s",
                 (unsigned long long)(rss >> 20), limit ? limit : WORKER_HEAP_MAX_DEFAULT);
        worker_send(w, json_pack("{s:s, s:s}", "type", "invalid", "message", errstr));
    } else {
        worker_send(w, json_pack("{s:s, s:i, s:i}", "type", "valid", "features",
                                 (int)stages_n_features(st), "outputs", (int)stages_n_outputs(st)));
    }
    stages_close(st);
    return WORKER_EXIT_STOPPED;
}

/* --offsets: reads or resets the task's committed offsets with a consumer that never joins
 * the group, answers on the channel and returns the exit status. */
static int worker_offsets(worker_t *w, char *errstr, size_t errstr_size)
{
    kafka_settings_t ks = {
        .cid = w->task.cid,
        .tid = w->task.tid,
        .task = w->tag,
        .params = w->task.params,
        .bootstrap_default = w->task.bootstrap,
        .no_membership = 1,
    };
    w->kafka = kafka_clients_new(&ks, errstr, errstr_size);
    if (w->kafka == NULL) {
        worker_send(w, json_pack("{s:s, s:s, s:s}", "type", "offsets", "status", "unavailable",
                                 "message", errstr));
        return WORKER_EXIT_STOPPED;
    }
    json_t *answer = offsets_run(w->kafka, w->task.params, kafka_clients_group_id(w->kafka),
                                 json_object_get(w->task.msg, "offsets"));
    worker_send(w, answer);
    return WORKER_EXIT_STOPPED;
}

/* SIGTERM/SIGINT go to a signalfd, blocked before librdkafka starts its threads so that
 * they inherit the mask and the main loop sees every stop request. */
static int worker_signals_init(void)
{
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
        return -1;
    /* a closed channel or stderr pipe is an error to handle, not a reason to die */
    signal(SIGPIPE, SIG_IGN);
    return signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
}

int main(int argc, char **argv)
{
    worker_t w = {.chan_fd = CHANNEL_WORKER_FD, .sig_fd = -1, .hand_fd = -1};
    log_level_t level = LOG_INFO;
    int ret = worker_parse_args(argc, argv, &w.chan_fd, &w.hand_fd, &level, &w.validate_only,
                                &w.offsets_only, &w.list_dir);
    if (ret >= 0)
        return ret;
    log_init(LOG_FORMAT_CHILD, level);
    w.start_ms = worker_now_ms();
    channel_reader_init(&w.reader);

    w.sig_fd = worker_signals_init();
    if (w.sig_fd < 0) {
        log_error(NULL, "signals: %s", strerror(errno));
        ret = WORKER_EXIT_CRASH;
        goto out;
    }
    /* symtaskd sets this before exec too; again here so that no way of starting us leaves
     * an orphan (the channel's end of file covers a parent that died before this line) */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (fcntl(w.chan_fd, F_SETFD, FD_CLOEXEC) < 0) {
        log_error(NULL, "channel fd %d: %s", w.chan_fd, strerror(errno));
        ret = WORKER_EXIT_CONFIG;
        goto out;
    }

    if (w.list_dir != NULL) {
        ret = worker_list_plugins(&w, w.list_dir);
        goto out;
    }
    ret = worker_receive_task(&w);
    if (ret >= 0)
        goto out;
    /* before any later message is read: a resume sent while we start must win */
    w.want_paused = w.task.paused;
    const char *heap_max = json_string_value(json_object_get(w.task.params, "sml.task.heap.max"));
    if (size_parse(heap_max ? heap_max : WORKER_HEAP_MAX_DEFAULT, &w.heap_max) != 0) {
        worker_send_error(&w, 1, "params.sml.task.heap.max: not a size (use 512m or 2g)");
        ret = WORKER_EXIT_CONFIG;
        goto out;
    }
    if (w.validate_only) {
        ret = worker_validate(&w);
        goto out;
    }

    char errstr[1024];
    if (w.offsets_only) {
        ret = worker_offsets(&w, errstr, sizeof(errstr));
        goto out;
    }
    if (w.hand_fd >= 0) {
        w.board = hand_board_open(w.hand_fd, errstr, sizeof(errstr));
        if (w.board == NULL) {
            log_warn(w.tag, "%s: a crash will leave no record suspect", errstr);
            close(w.hand_fd);
        }
    }
    char task_name[sizeof(w.task.tag)];
    snprintf(task_name, sizeof(task_name), "%s/%s", w.task.cid, w.task.tid);
    pipeline_config_t pc = {
        .tag = w.tag,
        .task = task_name,
        .params = w.task.params,
        .plugin_dir = w.task.plugin_dir,
        .keepalive = worker_keepalive,
        .report = worker_report,
        .tell = worker_tell,
        .board = w.board,
        .heartbeat = worker_heartbeat_cb,
        .keepalive_arg = &w,
    };
    w.pipeline = pipeline_new(&pc, errstr, sizeof(errstr));
    if (w.pipeline == NULL) {
        worker_send_error(&w, 1, "%s", errstr);
        ret = WORKER_EXIT_CONFIG;
        goto out;
    }
    /* before any record is read: which to handle one at a time, which to set aside */
    if (pipeline_suspects_load(w.pipeline, json_object_get(w.task.msg, "poison"), errstr,
                               sizeof(errstr)) != 0)
        log_warn(w.tag, "ignored the suspect records from symtaskd: %s", errstr);
    /* a model larger than the limit is caught before any record is read */
    worker_release_memory();
    worker_check_memory(&w);
    if (w.stop != NULL) {
        ret = w.exit_code;
        goto out;
    }
    log_info(w.tag, "plugins loaded, connecting to Kafka");

    kafka_settings_t ks = {
        .cid = w.task.cid,
        .tid = w.task.tid,
        .task = w.tag,
        .params = w.task.params,
        .bootstrap_default = w.task.bootstrap,
        .worker_index = w.task.worker_index,
        .workers = w.task.workers,
        .node = w.task.node,
    };
    pipeline_kafka_hooks(w.pipeline, &ks);
    w.kafka = kafka_clients_new(&ks, errstr, sizeof(errstr));
    if (w.kafka == NULL) {
        ret = errno == EINVAL ? WORKER_EXIT_CONFIG : WORKER_EXIT_CRASH;
        worker_send_error(&w, 1, "%s", errstr);
        goto out;
    }
    const char *member = kafka_clients_instance_id(w.kafka);
    if (member[0] != '\0')
        log_info(w.tag, "consumer group member with group.instance.id %s", member);
    else
        log_info(w.tag, "consumer group member without group.instance.id (dynamic membership)");
    if (pipeline_attach(w.pipeline, w.kafka, errstr, sizeof(errstr)) != 0) {
        /* a stop while the transactional producer waited for Kafka is no failure */
        if (w.stop != NULL) {
            log_info(w.tag, "stopped (%s) before the pipeline started: %s", w.stop, errstr);
            ret = WORKER_EXIT_STOPPED;
            goto out;
        }
        worker_send_error(&w, 1, "%s", errstr);
        ret = WORKER_EXIT_CRASH;
        goto out;
    }

    worker_run(&w);
    int64_t stop_ms = worker_now_ms();
    /* Graceful end: the batch in hand is finished, every output acknowledged and its offsets
     * committed before the consumer leaves the group. */
    if (w.exit_code != WORKER_EXIT_MEMORY)
        pipeline_drain(w.pipeline, KAFKA_FLUSH_MS);
    ret = w.exit_code;
    log_info(w.tag, "stopped (%s) in %lld ms", w.stop, (long long)(worker_now_ms() - stop_ms));

out:
    if (w.pipeline != NULL)
        pipeline_detach(w.pipeline);
    kafka_clients_destroy(w.kafka);
    pipeline_free(w.pipeline);
    hand_board_close(w.board);
    json_decref(w.task.msg);
    channel_reader_free(&w.reader);
    if (w.sig_fd >= 0)
        close(w.sig_fd);
    return ret;
}
