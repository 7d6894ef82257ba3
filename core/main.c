/* main.c: symtaskd, the daemon: configuration, listeners, signals and the event loop. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sodium.h>

#include "api.h"
#include "cluster.h"
#include "daemon.h"
#include "kafka_embedded.h"
#include "log.h"
#include "notify.h"
#include "replay.h"
#include "symtask_build.h"
#include "taskinfo.h"
#include "ui.h"
#include "validate.h"

static const char usage[] =
    "Usage: symtaskd -c FILE [--set KEY=VALUE]...\n"
    "Serves the SymetryML Tasks API and runs one symtask-worker process per running task.\n"
    "\n"
    "  -c, --config FILE      read the configuration from FILE (key = value lines)\n"
    "  -s, --set KEY=VALUE    override one key of the file (repeatable)\n"
    "  -t, --check            check the configuration and the stored tasks, then exit\n"
    "  -V, --version          print the version and exit\n"
    "  -h, --help             print this help and exit\n"
    "\n"
    "Signals: SIGTERM/SIGINT stop the workers and exit (tasks resume at the next start);\n"
    "SIGHUP reloads the customers file. Keys: docs/configuration.md.\n";

static volatile int quit_signal;

/* Decides where the worker program and the plugins are: the config's keys, else next to the
 * daemon in a build tree (build/core/symtaskd beside build/workers/), else the install
 * paths. */
static void locate_programs(daemon_t *d)
{
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    char build_root[4096] = "";
    if (n > 0) {
        exe[n] = '\0';
        char *dir = dirname(dirname(exe)); /* .../build */
        char probe[4200];
        snprintf(probe, sizeof(probe), "%s/workers/symtask-worker", dir);
        if (access(probe, X_OK) == 0)
            snprintf(build_root, sizeof(build_root), "%s", dir);
    }
    if (d->cfg->worker_path != NULL)
        snprintf(d->worker_path, sizeof(d->worker_path), "%s", d->cfg->worker_path);
    else if (build_root[0] != '\0')
        snprintf(d->worker_path, sizeof(d->worker_path), "%s/workers/symtask-worker", build_root);
    else
        snprintf(d->worker_path, sizeof(d->worker_path), "%s/symtask-worker", SYMTASK_LIBEXECDIR);

    if (d->cfg->plugin_dir != NULL)
        snprintf(d->plugin_dir, sizeof(d->plugin_dir), "%s", d->cfg->plugin_dir);
    else if (build_root[0] != '\0')
        snprintf(d->plugin_dir, sizeof(d->plugin_dir), "%s/plugins", build_root);
    else
        snprintf(d->plugin_dir, sizeof(d->plugin_dir), "%s", SYMTASK_PLUGINDIR);

    /* The page's files are not built: a build tree serves the source tree's, so that an edit
     * shows at the next reload. */
    if (d->cfg->ui_dir != NULL)
        snprintf(d->ui_dir, sizeof(d->ui_dir), "%s", d->cfg->ui_dir);
    else if (build_root[0] != '\0')
        snprintf(d->ui_dir, sizeof(d->ui_dir), "%s", SYMTASK_SOURCE_UIDIR);
    else
        snprintf(d->ui_dir, sizeof(d->ui_dir), "%s", SYMTASK_UIDIR);
}

/* Writes @text to @path atomically (temp file, fsync, rename). */
static int write_file_atomic(const char *path, const char *text, char *errstr, size_t errstr_size)
{
    char tmp[4300];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    size_t len = strlen(text);
    if (fd < 0 || write(fd, text, len) != (ssize_t)len || fsync(fd) != 0 || close(fd) != 0 ||
        rename(tmp, path) != 0) {
        snprintf(errstr, errstr_size, "cannot write %.900s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* Parses a `listen` value: "host:port", "[v6]:port" or ":port". */
static int open_listener(const char *spec, char *errstr, size_t errstr_size)
{
    char host[256] = "", port[16];
    const char *colon = strrchr(spec, ':');
    if (colon == NULL || strlen(colon + 1) >= sizeof(port)) {
        snprintf(errstr, errstr_size, "listen: '%s' is not host:port", spec);
        return -1;
    }
    size_t host_len = (size_t)(colon - spec);
    const char *h = spec;
    if (host_len >= 2 && spec[0] == '[' && spec[host_len - 1] == ']') {
        h++;
        host_len -= 2;
    }
    if (host_len >= sizeof(host)) {
        snprintf(errstr, errstr_size, "listen: host of '%s' is too long", spec);
        return -1;
    }
    memcpy(host, h, host_len);
    snprintf(port, sizeof(port), "%s", colon + 1);

    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res;
    int gai = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
    if (gai != 0) {
        snprintf(errstr, errstr_size, "listen: cannot resolve '%s': %s", spec, gai_strerror(gai));
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int on = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0) {
        snprintf(errstr, errstr_size, "listen: cannot listen on %s: %s", spec, strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

static h2o_accept_ctx_t accept_ctx;

static void on_accept(h2o_socket_t *listener, const char *err)
{
    if (err != NULL)
        return;
    h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
    if (sock != NULL)
        h2o_accept(&accept_ctx, sock);
}

/* Logs the address a listener got (useful with port 0). */
static void log_listener(int fd, const char *spec)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char host[128] = "?", port[16] = "?";
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
        getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host), port, sizeof(port),
                    NI_NUMERICHOST | NI_NUMERICSERV);
    log_info(NULL, "listening on %s%s%s:%s%s (listen = %s)", ss.ss_family == AF_INET6 ? "[" : "",
             host, ss.ss_family == AF_INET6 ? "]" : "", port,
             accept_ctx.ssl_ctx != NULL ? " with TLS" : "", spec);
}

static SSL_CTX *tls_context(const config_t *cfg, char *errstr, size_t errstr_size)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        snprintf(errstr, errstr_size, "TLS: cannot create a context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) != 1) {
        snprintf(errstr, errstr_size, "tls.cert: cannot load %s: %s", cfg->tls_cert,
                 ERR_reason_error_string(ERR_get_error()));
        goto error;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(errstr, errstr_size, "tls.key: cannot load %s or it does not match tls.cert: %s",
                 cfg->tls_key, ERR_reason_error_string(ERR_get_error()));
        goto error;
    }
    return ctx;
error:
    SSL_CTX_free(ctx);
    return NULL;
}

/* Loads one stored task into the registry. */
static int restore_task(const stored_task_t *st, void *arg)
{
    daemon_t *d = arg;
    task_t *task = tasks_add(d, st->cid, st->tid, st->taskinfo);
    if (task == NULL)
        return -1;
    task->desired_running = st->desired_running;
    task->desired_paused = st->desired_paused;
    task->created = st->created;
    task->updated = st->updated;
    if (st->last_error != NULL) {
        snprintf(task->last_error, sizeof(task->last_error), "%s", st->last_error);
        /* stored by a version that did not scrub worker errors yet */
        taskinfo_scrub(task->taskinfo, task->last_error, sizeof(task->last_error));
    }
    char errstr[256];
    if (poison_from_json(&task->poison, st->poison,
                         taskinfo_param(task->taskinfo, "sml.kstream.source.topic", ""), errstr,
                         sizeof(errstr)) != 0) {
        log_error(task->tag, "state of the task: %s", errstr);
        return -1;
    }
    return 0;
}

/* Starts the tasks whose desired state is running, up to sml.task.max. */
static void resume_tasks(daemon_t *d)
{
    unsigned started = 0;
    for (size_t i = 0; i < d->task_count; i++) {
        task_t *task = d->tasks[i];
        if (!task->desired_running)
            continue;
        if (started == d->cfg->task_max) {
            task->status = TASK_FAILED;
            task->failed = true;
            snprintf(task->last_error, sizeof(task->last_error),
                     "not resumed at daemon start: sml.task.max (%u) tasks already run",
                     d->cfg->task_max);
            log_warn(task->tag, "%s", task->last_error);
            continue;
        }
        sup_start(d, task);
        started++;
    }
    if (d->task_count > 0)
        log_info(NULL, "%zu task%s loaded, %u resumed", d->task_count,
                 d->task_count == 1 ? "" : "s", started);
}

/* Tells the service manager (systemd, Type=notify) about @state; a failure is logged, never
 * fatal: without a manager listening the daemon runs all the same. */
static void notify(const char *state)
{
    if (notify_send(state) < 0)
        log_warn(NULL, "cannot notify the service manager at NOTIFY_SOCKET=%s: %s",
                 getenv("NOTIFY_SOCKET"), strerror(errno));
}

static void on_signal(h2o_socket_t *sock, const char *err)
{
    daemon_t *d = sock->data;
    if (err != NULL)
        return;
    size_t n = sock->input->size / sizeof(struct signalfd_siginfo);
    for (size_t i = 0; i < n; i++) {
        struct signalfd_siginfo si;
        memcpy(&si, sock->input->bytes + i * sizeof(si), sizeof(si));
        switch (si.ssi_signo) {
        case SIGCHLD:
            sup_reap(d);
            break;
        case SIGHUP: {
            char errstr[512];
            customers_t *fresh = customers_load(d->cfg->customers_file, errstr, sizeof(errstr));
            if (fresh == NULL) {
                log_error(NULL, "SIGHUP: customers file not reloaded, the old one stays: %s",
                          errstr);
            } else {
                customers_free(d->customers);
                d->customers = fresh;
                log_info(NULL, "SIGHUP: customers file reloaded (%zu customers)",
                         customers_count(fresh));
            }
            break;
        }
        default:
            if (!quit_signal)
                log_info(NULL, "%s received: stopping", sigabbrev_np((int)si.ssi_signo));
            quit_signal = (int)si.ssi_signo;
            break;
        }
    }
    h2o_buffer_consume(&sock->input, n * sizeof(struct signalfd_siginfo));
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'}, {"set", required_argument, NULL, 's'},
        {"check", no_argument, NULL, 't'},        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    config_t cfg;
    daemon_t d = {.cfg = &cfg};
    char errstr[1024];
    const char *config_file = NULL;
    char **sets = calloc((size_t)argc, sizeof(*sets));
    size_t set_count = 0;
    bool check_only = false;
    int exit_code = 1;

    log_init(LOG_FORMAT_DAEMON, LOG_INFO);
    config_init(&cfg);

    int opt;
    while ((opt = getopt_long(argc, argv, "c:s:tVh", options, NULL)) != -1) {
        switch (opt) {
        case 'c':
            config_file = optarg;
            break;
        case 's':
            sets[set_count++] = optarg;
            break;
        case 't':
            check_only = true;
            break;
        case 'V':
            printf("symtaskd %s\n", SYMTASK_VERSION);
            exit_code = 0;
            goto out;
        case 'h':
            fputs(usage, stdout);
            exit_code = 0;
            goto out;
        default:
            fputs(usage, stderr);
            exit_code = 2;
            goto out;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "symtaskd: unexpected argument '%s'\n%s", argv[optind], usage);
        exit_code = 2;
        goto out;
    }
    if (config_file == NULL) {
        fprintf(stderr, "symtaskd: no configuration: use -c FILE (see --help)\n");
        exit_code = 2;
        goto out;
    }
    if (config_load_file(&cfg, config_file, errstr, sizeof(errstr)) != 0)
        goto config_error;
    for (size_t i = 0; i < set_count; i++) {
        char *eq = strchr(sets[i], '=');
        if (eq == NULL) {
            snprintf(errstr, sizeof(errstr), "--set '%s': use --set KEY=VALUE", sets[i]);
            goto config_error;
        }
        *eq = '\0';
        int rc = config_set(&cfg, sets[i], eq + 1, CONFIG_SRC_CLI, errstr, sizeof(errstr));
        *eq = '=';
        if (rc != 0)
            goto config_error;
    }
    if (config_check(&cfg, errstr, sizeof(errstr)) != 0)
        goto config_error;
    log_set_level((log_level_t)cfg.log_level);

    if (sodium_init() < 0) {
        log_error(NULL, "libsodium cannot be initialised");
        goto out;
    }
    locate_programs(&d);
    if ((d.customers = customers_load(cfg.customers_file, errstr, sizeof(errstr))) == NULL)
        goto fatal;
    if ((d.store = store_open(cfg.state_dir, errstr, sizeof(errstr))) == NULL)
        goto fatal;
    /* in cluster mode the tasks come from the cluster's config topic (cluster_open) */
    if (!cfg.cluster_enabled &&
        store_load_all(d.store, restore_task, &d, errstr, sizeof(errstr)) != 0)
        goto fatal;
    if (sup_init(&d, errstr, sizeof(errstr)) != 0)
        goto fatal;
    if (cfg.replay_protection && (d.replay = replay_new(cfg.replay_cache_size)) == NULL) {
        snprintf(errstr, sizeof(errstr), "out of memory for auth.replay_cache_size = %u",
                 cfg.replay_cache_size);
        goto fatal;
    }
    if (!cfg.replay_protection)
        log_warn(NULL, "auth.replay_protection = false: a signed request can be replayed "
                       "within its date window");
    if (check_only) {
        printf("symtaskd: configuration OK (%zu customers, %zu tasks)\n",
               customers_count(d.customers), d.task_count);
        exit_code = 0;
        goto out;
    }

    /* Signals arrive through a signalfd read by the event loop. */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);

    /* The API's sockets before the embedded cluster's: both take ports, and a listen port
     * chosen free a moment ago must not go to the cluster's randomly chosen one. */
    int listen_fds[CONFIG_LISTEN_MAX];
    size_t listen_fd_count = 0;
    for (size_t i = 0; i < cfg.listen_count; i++) {
        int fd = open_listener(cfg.listen[i], errstr, sizeof(errstr));
        if (fd < 0)
            goto fatal;
        log_listener(fd, cfg.listen[i]);
        listen_fds[listen_fd_count++] = fd;
    }

    if (cfg.kafka_embedded) {
        d.embedded = embedded_kafka_start(cfg.kafka_embedded_brokers, cfg.kafka_embedded_partitions,
                                          errstr, sizeof(errstr));
        if (d.embedded == NULL)
            goto fatal;
        char path[4200], text[1100];
        snprintf(path, sizeof(path), "%s/embedded-kafka.bootstrap", cfg.state_dir);
        snprintf(text, sizeof(text), "%s\n", embedded_kafka_bootstraps(d.embedded));
        if (write_file_atomic(path, text, errstr, sizeof(errstr)) != 0)
            goto fatal;
        log_info(NULL, "embedded Kafka bootstrap address written to %s", path);
    }
    if (cfg.kafka_bootstrap_servers != NULL)
        snprintf(d.default_bootstrap, sizeof(d.default_bootstrap), "%s",
                 cfg.kafka_bootstrap_servers);
    else if (d.embedded != NULL)
        snprintf(d.default_bootstrap, sizeof(d.default_bootstrap), "%s",
                 embedded_kafka_bootstraps(d.embedded));

    /* a node of a cluster serves once it has read every task of the config topic; before
     * the HTTP server is set up, so that a node that cannot join leaves nothing behind */
    d.loop = h2o_evloop_create();
    if (cfg.cluster_enabled && cluster_open(&d, errstr, sizeof(errstr)) != 0) {
        cluster_close(&d);
        h2o_evloop_destroy(d.loop);
        goto fatal;
    }

    h2o_globalconf_t globalconf;
    h2o_context_t ctx;
    h2o_socket_t *listeners[CONFIG_LISTEN_MAX];
    size_t listener_count = 0;
    h2o_config_init(&globalconf);
    /* Bodies up to a few times the limit reach the handler, which answers 413 in the API's
     * envelope; h2o itself refuses anything larger. */
    globalconf.max_request_entity_size = cfg.http_max_body * 4;
    h2o_hostconf_t *hostconf =
        h2o_config_register_host(&globalconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    ui_load(&d);
    ui_register(&d, hostconf);
    api_register(&d, hostconf);
    h2o_context_init(&ctx, d.loop, &globalconf);
    accept_ctx.ctx = &ctx;
    accept_ctx.hosts = globalconf.hosts;
    if (cfg.tls_cert != NULL) {
        accept_ctx.ssl_ctx = tls_context(&cfg, errstr, sizeof(errstr));
        if (accept_ctx.ssl_ctx == NULL)
            goto fatal;
    }
    for (size_t i = 0; i < listen_fd_count; i++) {
        listeners[listener_count] =
            h2o_evloop_socket_create(d.loop, listen_fds[i], H2O_SOCKET_FLAG_DONT_READ);
        h2o_socket_read_start(listeners[listener_count++], on_accept);
    }
    h2o_socket_t *sigsock = h2o_evloop_socket_create(d.loop, sfd, 0);
    sigsock->data = &d;
    h2o_socket_read_start(sigsock, on_signal);

    log_info(NULL, "symtaskd %s ready: %zu customers, sml.task.max = %u, worker %s",
             SYMTASK_VERSION, customers_count(d.customers), cfg.task_max, d.worker_path);
    char status[256];
    snprintf(status, sizeof(status), "READY=1\nSTATUS=ready: %zu customers, %zu tasks",
             customers_count(d.customers), d.task_count);
    notify(status);
    if (!cfg.cluster_enabled)
        resume_tasks(&d);

    while (!quit_signal) {
        h2o_evloop_run(d.loop, 100);
        sup_tick(&d);
        validate_tick(&d);
        cluster_tick(&d);
    }

    /* Graceful shutdown: workers finish their batch and commit; desired states stay stored. */
    notify("STOPPING=1\nSTATUS=stopping the workers");
    size_t alive = sup_shutdown(&d);
    if (alive > 0)
        log_info(NULL, "stopping %zu worker%s", alive, alive == 1 ? "" : "s");
    uint64_t give_up = daemon_now_ms() + cfg.stop_timeout_ms + 5000;
    for (;;) {
        sup_reap(&d);
        size_t left = 0;
        for (size_t i = 0; i < d.task_count; i++)
            left += task_alive_workers(d.tasks[i]);
        left += d.retired_count;
        if (left == 0 || daemon_now_ms() > give_up)
            break;
        h2o_evloop_run(d.loop, 50);
        sup_tick(&d);
    }
    cluster_close(&d);
    for (size_t i = 0; i < listener_count; i++)
        h2o_socket_close(listeners[i]);
    h2o_socket_close(sigsock);
    /* let the loop finish closing the sockets before the context goes */
    h2o_evloop_run(d.loop, 0);
    h2o_context_dispose(&ctx); /* leaves 88 bytes of its queue behind (libh2o 2.2.5) */
    h2o_config_dispose(&globalconf);
    h2o_evloop_destroy(d.loop);
    if (accept_ctx.ssl_ctx != NULL)
        SSL_CTX_free(accept_ctx.ssl_ctx);
    log_info(NULL, "stopped");
    exit_code = 0;
    goto out;

config_error:
    log_error(NULL, "configuration: %s", errstr);
    exit_code = 2;
    goto out;
fatal:
    log_error(NULL, "%s", errstr);
    exit_code = 1;
out:
    cluster_close(&d);
    for (size_t i = 0; i < d.task_count; i++)
        task_free(d.tasks[i]);
    free(d.tasks);
    free(d.retired);
    embedded_kafka_stop(d.embedded);
    replay_free(d.replay);
    ui_free(&d);
    if (d.store != NULL)
        store_close(d.store);
    if (d.customers != NULL)
        customers_free(d.customers);
    config_free(&cfg);
    free(sets);
    return exit_code;
}
