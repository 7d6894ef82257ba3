/* main.c: symtask, the command-line client of the SymetryML Tasks API: settings, signed
 * requests, commands and their output. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "crypto.h"
#include "redact.h"
#include "sign.h"
#include "taskinfo.h"
#include "http.h"
#include "migrate.h"
#include "properties.h"
#include "watch.h"
#include "symtask_build.h"

/* Exit statuses besides EXIT_SUCCESS. */
#define EXIT_SERVER_ERROR 1 /* the server answered with an error status */
#define EXIT_USAGE 2        /* bad command line, settings or input file */
#define EXIT_UNREACHABLE 3  /* the server cannot be reached */

#define DEFAULT_URL "http://127.0.0.1:8080"
#define SECRET_BYTES 16
#define ID_MAX TASKINFO_ID_MAX

static const char usage[] =
    "Usage: symtask [OPTIONS] COMMAND [ARGS]\n"
    "Command-line client of symtaskd (the SymetryML Tasks API): signs each request with the\n"
    "customer's secret key and prints the answer.\n"
    "\n"
    "Commands:\n"
    "  create FILE [--force]  create a task from a TaskInfo JSON file (- reads stdin), sent\n"
    "                         sealed with the secret key (see --legacy and --plain);\n"
    "                         --force replaces an existing task (a running one restarts)\n"
    "  create --properties FILE [--name TID] [--force]\n"
    "                         create a task from a properties file of SymetryML's Kafka\n"
    "                         stream application: its keys become the params, the task id\n"
    "                         is --name or else sml.kstream.app.id; keys symtask does not\n"
    "                         use are reported, and what the server would refuse is\n"
    "                         refused before sending\n"
    "  create FILE --start    create the task and start it (429 and nothing created when\n"
    "                         sml.task.max tasks run)\n"
    "  start TID              start a task\n"
    "  stop TID               stop a task\n"
    "  restart TID            restart a task\n"
    "  restart --all          restart every started task of the customer (stopped ones\n"
    "                         stay stopped); --failed: only the failed ones\n"
    "  pause TID              pause a task: its worker finishes and commits what it holds,\n"
    "                         then fetches nothing, keeping its place in the group\n"
    "  resume TID             resume a paused task where it stopped\n"
    "  offsets TID            show the task's committed offsets, log end offsets and lag\n"
    "  offsets TID --reset TO reset them, only while the task is stopped; TO is earliest,\n"
    "                         latest, timestamp=MS (ms since the epoch) or\n"
    "                         PARTITION=OFFSET[,PARTITION=OFFSET...]\n"
    "  watch [TID]            live view of the tasks (or one): status, records/s in and\n"
    "                         out, lag, dead letters, last error, every second; q or\n"
    "                         Ctrl-C quits; plain lines when stdout is not a terminal;\n"
    "                         --count N stops after N refreshes\n"
    "  list                   list the customer's tasks, one per line\n"
    "  status TID             show a task's status\n"
    "  delete TID             delete a task (a running task is stopped first)\n"
    "  plugins                list the plugins installed on the server\n"
    "  keygen                 print a new random secret key for the daemon's customers file\n"
    "  help                   print this help\n"
    "\n"
    "Options:\n"
    "  --url URL        server, http:// or https://, may end with a path prefix\n"
    "                   (default " DEFAULT_URL ")\n"
    "  --cid CID        customer id\n"
    "  --secret SECRET  the customer's secret key (base64); prefer the environment or the\n"
    "                   config file: other users can see command lines\n"
    "  --config FILE    config file (default ~/.config/symtask/client.conf when it exists,\n"
    "                   or $XDG_CONFIG_HOME/symtask/client.conf when that is set)\n"
    "  --json           print the server's JSON answer as is, on one line\n"
    "  --legacy         create: encrypt TaskInfo in the SymetryML AES-128-CBC form, for\n"
    "                   servers that do not take the sealed form (by default TaskInfo is\n"
    "                   sealed: XChaCha20-Poly1305, authenticated, bound to the customer)\n"
    "  --plain          create: send TaskInfo unencrypted (the daemon needs\n"
    "                   auth.allow_plaintext_taskinfo = true)\n"
    "  --dry-run        create: print the TaskInfo that would be sent, secret values\n"
    "                   masked, and send nothing (needs no server settings)\n"
    "  --insecure       https: do not verify the server's certificate\n"
    "  --cacert FILE    https: trust the CA certificates in FILE instead of the system's\n"
    "  -v, --verbose    print each request line and answer status to stderr\n"
    "  -V, --version    print the version and exit\n"
    "  -h, --help       print this help and exit\n"
    "\n"
    "Settings come from the options, else the environment (SYMTASK_URL, SYMTASK_CID,\n"
    "SYMTASK_SECRET), else the config file: `key = value` lines with the keys url, cid and\n"
    "secret, `#` comments; a file holding a secret must not be readable by other users.\n"
    "\n"
    "Exit status: 0 done, 1 the server answered with an error, 2 usage or settings error,\n"
    "3 the server cannot be reached.\n";

/* How a TaskInfo body travels: sealed (the default, docs/security.md), the SymetryML form
 * (--legacy) or plain JSON (--plain). */
typedef enum taskinfo_form {
    FORM_SEALED,
    FORM_LEGACY,
    FORM_PLAIN,
} taskinfo_form_t;

/* One setting and where it came from, for messages: "--cid", "SYMTASK_CID", "FILE:3". */
typedef struct setting {
    char *value; /* malloc'd; NULL when unset */
    char source[PATH_MAX + 16];
} setting_t;

typedef struct client {
    setting_t url, cid, secret;
    const char *config_path; /* --config, or NULL for the default */
    const char *cacert;
    const char *properties; /* create --properties FILE, or NULL */
    const char *name;       /* create --name TID, or NULL */
    bool json, verbose, force, insecure, dry_run;
    bool start;            /* create --start */
    bool all, only_failed; /* restart --all, --failed */
    const char *reset;     /* offsets --reset TO, or NULL */
    int count;             /* watch --count N; 0: until q */
    bool form_given;
    taskinfo_form_t form;
    http_url_t server;
    uint8_t key[SECRET_BYTES];
} client_t;

/* Prints "symtask: " and the message to stderr. */
static void error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("symtask: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void setting_set(setting_t *s, const char *value, size_t len, const char *source)
{
    free(s->value);
    s->value = strndup(value, len);
    if (s->value == NULL) {
        error("out of memory");
        exit(EXIT_FAILURE);
    }
    snprintf(s->source, sizeof(s->source), "%s", source);
}

static void setting_clear(setting_t *s)
{
    if (s->value != NULL)
        sodium_memzero(s->value, strlen(s->value));
    free(s->value);
    s->value = NULL;
}

/* Ids are what the server accepts (common/taskinfo.c). */
static bool id_valid(const char *id)
{
    return taskinfo_id_valid(id, strlen(id));
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

/* The default config file, $XDG_CONFIG_HOME/symtask/client.conf or
 * ~/.config/symtask/client.conf, into @out; false if there is no home to look in. */
static bool default_config_path(char *out, size_t out_size)
{
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    if (xdg != NULL && xdg[0] == '/')
        snprintf(out, out_size, "%s/symtask/client.conf", xdg);
    else if (home != NULL && home[0] != '\0')
        snprintf(out, out_size, "%s/.config/symtask/client.conf", home);
    else
        return false;
    return true;
}

/* Reads the config file and fills the settings still unset. Returns 0, or an exit status
 * after printing why. A missing default file is no error; a missing --config file is. */
static int config_load(client_t *c)
{
    char path[PATH_MAX];
    if (c->config_path != NULL)
        snprintf(path, sizeof(path), "%s", c->config_path);
    else if (!default_config_path(path, sizeof(path)))
        return 0;
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        if (errno == ENOENT && c->config_path == NULL)
            return 0;
        error("cannot read the config file %s: %s", path, strerror(errno));
        return EXIT_USAGE;
    }
    static const char *const keys[] = {"url", "cid", "secret"};
    setting_t found[3] = {{0}};
    int rc = 0;
    char *line = NULL;
    size_t cap = 0;
    unsigned lineno = 0;
    while (getline(&line, &cap, f) >= 0) {
        lineno++;
        char *text = trim(line);
        if (text[0] == '\0' || text[0] == '#')
            continue;
        char *eq = strchr(text, '=');
        if (eq == NULL) {
            error("%s:%u: expected `key = value`", path, lineno);
            rc = EXIT_USAGE;
            goto done;
        }
        *eq = '\0';
        char *key = trim(text), *value = trim(eq + 1);
        size_t k = 0;
        while (k < 3 && strcmp(key, keys[k]) != 0)
            k++;
        if (k == 3) {
            error("%s:%u: unknown key '%.64s' (the keys are url, cid, secret)", path, lineno, key);
            rc = EXIT_USAGE;
            goto done;
        }
        char source[PATH_MAX + 16];
        snprintf(source, sizeof(source), "%s:%u", path, lineno);
        setting_set(&found[k], value, strlen(value), source);
    }
    if (ferror(f)) {
        error("cannot read the config file %s: %s", path, strerror(errno));
        rc = EXIT_USAGE;
        goto done;
    }
    struct stat st;
    if (found[2].value != NULL && fstat(fileno(f), &st) == 0 && (st.st_mode & 077) != 0) {
        error("the config file %s holds a secret but is %s by other users (mode %04o); run: "
              "chmod 600 %s",
              path, (st.st_mode & 044) ? "readable" : "writable", (unsigned)(st.st_mode & 07777),
              path);
        rc = EXIT_USAGE;
        goto done;
    }
    setting_t *targets[3] = {&c->url, &c->cid, &c->secret};
    for (size_t k = 0; k < 3; k++) {
        if (targets[k]->value == NULL && found[k].value != NULL) {
            *targets[k] = found[k];
            found[k].value = NULL;
        }
    }
done:
    for (size_t k = 0; k < 3; k++)
        setting_clear(&found[k]);
    if (line != NULL)
        sodium_memzero(line, cap);
    free(line);
    fclose(f);
    return rc;
}

/* Resolves url, cid and secret (options, then environment, then config file) and checks
 * them. Returns 0, or an exit status after printing why. */
static int settings_load(client_t *c)
{
    static const struct {
        const char *name;
        size_t offset;
    } envs[] = {
        {"SYMTASK_URL", offsetof(client_t, url)},
        {"SYMTASK_CID", offsetof(client_t, cid)},
        {"SYMTASK_SECRET", offsetof(client_t, secret)},
    };
    for (size_t i = 0; i < sizeof(envs) / sizeof(envs[0]); i++) {
        setting_t *s = (setting_t *)((char *)c + envs[i].offset);
        const char *v = getenv(envs[i].name);
        if (s->value == NULL && v != NULL && v[0] != '\0')
            setting_set(s, v, strlen(v), envs[i].name);
    }
    int rc = config_load(c);
    if (rc != 0)
        return rc;
    if (c->url.value == NULL)
        setting_set(&c->url, DEFAULT_URL, strlen(DEFAULT_URL), "the default");

    char errstr[256];
    if (http_url_parse(c->url.value, &c->server, errstr, sizeof(errstr)) != 0) {
        error("the URL %s (from %s) is not usable: %s", c->url.value, c->url.source, errstr);
        return EXIT_USAGE;
    }
    if (c->cid.value == NULL || c->secret.value == NULL) {
        char path[PATH_MAX] = "~/.config/symtask/client.conf";
        if (c->config_path != NULL)
            snprintf(path, sizeof(path), "%s", c->config_path);
        else
            default_config_path(path, sizeof(path));
        if (c->cid.value == NULL && c->secret.value == NULL)
            error("no customer id and no secret key: set them with --cid and --secret, the "
                  "environment variables SYMTASK_CID and SYMTASK_SECRET, or `cid = CID` and "
                  "`secret = SECRET` lines in the config file %s",
                  path);
        else if (c->cid.value == NULL)
            error("no customer id: set it with --cid, the environment variable SYMTASK_CID, or "
                  "a `cid = CID` line in the config file %s",
                  path);
        else
            error("no secret key: set it with --secret, the environment variable "
                  "SYMTASK_SECRET, or a `secret = SECRET` line in the config file %s",
                  path);
        return EXIT_USAGE;
    }
    if (!id_valid(c->cid.value)) {
        error("the customer id from %s is malformed: use 1 to 128 of A-Z a-z 0-9 . _ -",
              c->cid.source);
        return EXIT_USAGE;
    }
    size_t key_len = 0;
    uint8_t *key = crypto_b64_decode(c->secret.value, strlen(c->secret.value), &key_len);
    if (key == NULL || key_len != SECRET_BYTES) {
        error("the secret key from %s is not base64 of %d bytes (as `symtask keygen` prints)",
              c->secret.source, SECRET_BYTES);
        if (key != NULL)
            sodium_memzero(key, key_len);
        free(key);
        return EXIT_USAGE;
    }
    memcpy(c->key, key, SECRET_BYTES);
    sodium_memzero(key, key_len);
    free(key);
    return 0;
}

/* Prints the answer of a successful request for people. */
typedef void (*print_fn)(json_t *envelope);

static const char *envelope_string(json_t *envelope, const char *key)
{
    const char *s = json_string_value(json_object_get(envelope, key));
    return s != NULL ? s : "";
}

static void print_message(json_t *envelope)
{
    puts(envelope_string(envelope, "statusString"));
}

/* One map as an aligned key/value table. */
static void print_table(json_t *map)
{
    const char *key;
    json_t *value;
    int width = 0;
    json_object_foreach (map, key, value) {
        if ((int)strlen(key) > width)
            width = (int)strlen(key);
    }
    json_object_foreach (map, key, value) {
        const char *text = json_string_value(value);
        char *dumped = text == NULL ? json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        if (text == NULL)
            text = dumped != NULL ? dumped : "";
        if (text[0] == '\0')
            printf("%s\n", key);
        else
            printf("%-*s  %s\n", width, key, text);
        free(dumped);
    }
}

/* values as the API's entities: StringList one per line, KSVSMap as tables, anything else
 * as indented JSON; no values at all: the statusString. */
/* The plugin listing for people: one line per plugin, its options indented below. */
static void print_plugins(json_t *envelope)
{
    json_t *plugins = json_object_get(json_object_get(envelope, "values"), "plugins");
    size_t i, k;
    json_t *p, *o;
    json_array_foreach (plugins, i, p) {
        const char *name = json_string_value(json_object_get(p, "name"));
        const char *error = json_string_value(json_object_get(p, "error"));
        if (i > 0)
            putchar('\n');
        if (error != NULL) {
            printf("%-12s cannot be loaded: %s\n", name ? name : "?", error);
            continue;
        }
        printf("%-12s %-10s %-8s %s\n", name ? name : "?",
               json_string_value(json_object_get(p, "kind")) ?: "",
               json_string_value(json_object_get(p, "version")) ?: "",
               json_string_value(json_object_get(p, "description")) ?: "");
        json_array_foreach (json_object_get(p, "options"), k, o) {
            const char *def = json_string_value(json_object_get(o, "default"));
            printf("  %s (%s%s%s%s)\n      %s\n",
                   json_string_value(json_object_get(o, "name")) ?: "?",
                   json_string_value(json_object_get(o, "type")) ?: "?",
                   json_is_true(json_object_get(o, "required")) ? ", required" : "",
                   def ? ", default " : "", def ? def : "",
                   json_string_value(json_object_get(o, "help")) ?: "");
        }
    }
}

static void print_values(json_t *envelope)
{
    json_t *values = json_object_get(envelope, "values");
    json_t *list = json_object_get(json_object_get(values, "stringList"), "values");
    json_t *maps = json_object_get(json_object_get(values, "KSVSMap"), "values");
    size_t i;
    json_t *item;
    if (json_is_array(list)) {
        json_array_foreach (list, i, item) {
            const char *s = json_string_value(item);
            if (s != NULL)
                puts(s);
        }
    } else if (json_is_array(maps)) {
        json_array_foreach (maps, i, item) {
            if (i > 0)
                putchar('\n');
            print_table(item);
        }
    } else if (json_is_object(values) && json_object_size(values) > 0) {
        char *text = json_dumps(values, JSON_INDENT(2));
        if (text != NULL)
            puts(text);
        free(text);
    } else {
        print_message(envelope);
    }
}

/* The statusCode of an error answer, or the HTTP reason in its style ("NOT_FOUND"). */
static void status_code_of(json_t *envelope, const http_response_t *res, char *out, size_t size)
{
    const char *code = json_string_value(json_object_get(envelope, "statusCode"));
    if (code != NULL) {
        snprintf(out, size, "%s", code);
        return;
    }
    size_t n = 0;
    for (const char *p = res->reason; *p != '\0' && n + 1 < size; p++)
        out[n++] = *p == ' ' ? '_' : (char)toupper((unsigned char)*p);
    out[n] = '\0';
}

/* Reports an error answer on stderr. */
static void report_error(const client_t *c, json_t *envelope, const http_response_t *res)
{
    char code[64];
    status_code_of(envelope, res, code, sizeof(code));
    const char *message = json_string_value(json_object_get(envelope, "statusString"));
    if (message != NULL)
        error("HTTP %d %s: %s", res->status, code, message);
    else
        error("HTTP %d %s: %.200s", res->status, code,
              res->body_len > 0 ? res->body : "(the answer has no body)");
    /* The server's StringToSign, its copy of the secret masked, shows a signing mismatch. */
    const char *sts =
        json_string_value(json_object_get(json_object_get(envelope, "values"), "stringToSign"));
    if (c->verbose && sts != NULL) {
        fputs("symtask: the server's StringToSign: ", stderr);
        for (const char *p = sts; *p != '\0'; p++) {
            if (*p == '\n')
                fputs("\\n", stderr);
            else
                fputc(*p, stderr);
        }
        fputc('\n', stderr);
    }
}

/* --json: the answer as is, or compacted if the server spread it over several lines. */
static void print_json_line(json_t *envelope, const http_response_t *res)
{
    size_t len = res->body_len;
    while (len > 0 && isspace((unsigned char)res->body[len - 1]))
        len--;
    if (memchr(res->body, '\n', len) == NULL) {
        fwrite(res->body, 1, len, stdout);
        putchar('\n');
        return;
    }
    char *line = json_dumps(envelope, JSON_COMPACT);
    puts(line != NULL ? line : "");
    free(line);
}

/* Sends a signed request to /symetry/rest/{cid}@rest (@query may be NULL) and reads the
 * answer into @res. Returns 0, or an exit status after printing why no answer came (@res is
 * then empty). */
static int client_request(client_t *c, const char *method, const char *rest, const char *query,
                          const char *body, size_t body_len, const char *content_type,
                          http_response_t *res)
{
    char path[2048], target[2200];
    snprintf(path, sizeof(path), "%s/symetry/rest/%s%s", c->server.prefix, c->cid.value, rest);
    snprintf(target, sizeof(target), "%s%s%s", path, query ? "?" : "", query ? query : "");

    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    sign_headers_t sh;
    if (sign_request(method, path, query, body, body_len, c->cid.value, c->secret.value, c->key,
                     SECRET_BYTES, &now, &sh) != 0) {
        error("out of memory");
        return EXIT_FAILURE;
    }

    http_header_t headers[8] = {
        {"Authorization", sh.authorization}, {"Sym-date", sh.sym_date},
        {"Customer-ID", c->cid.value},       {"Content-MD5", sh.content_md5},
        {"Accept", "application/json"},      {"User-Agent", "symtask/" SYMTASK_VERSION},
    };
    size_t header_count = 6;
    if (body_len > 0)
        headers[header_count++] = (http_header_t){"Content-Type", content_type};
    http_request_t req = {
        .method = method,
        .target = target,
        .headers = headers,
        .header_count = header_count,
        .body = body,
        .body_len = body_len,
    };
    http_tls_t tls = {.insecure = c->insecure, .cacert = c->cacert};
    if (c->verbose)
        fprintf(stderr, "> %s %s HTTP/1.1 (%s)\n", method, target, c->url.value);

    char errstr[512];
    switch (http_send(&c->server, &tls, &req, res, errstr, sizeof(errstr))) {
    case HTTP_E_OK:
        break;
    case HTTP_E_SETUP:
        error("%s", errstr);
        return EXIT_USAGE;
    case HTTP_E_CONNECT:
        error("cannot connect to %s: %s — is symtaskd running?", c->url.value, errstr);
        return EXIT_UNREACHABLE;
    case HTTP_E_RESOLVE:
    case HTTP_E_TLS:
        error("cannot connect to %s: %s", c->url.value, errstr);
        return EXIT_UNREACHABLE;
    case HTTP_E_IO:
        error("no answer from %s: %s", c->url.value, errstr);
        return EXIT_UNREACHABLE;
    case HTTP_E_PROTOCOL:
        error("unexpected answer from %s: %s", c->url.value, errstr);
        return EXIT_FAILURE;
    }
    if (c->verbose)
        fprintf(stderr, "< HTTP/1.1 %d %s\n", res->status, res->reason);
    return 0;
}

/* Sends a signed request to /symetry/rest/{cid}@rest (@query may be NULL) and prints the
 * answer: --json as is, else with @print on success; errors go to stderr. Returns the exit
 * status. */
static int client_call(client_t *c, const char *method, const char *rest, const char *query,
                       const char *body, size_t body_len, const char *content_type, print_fn print)
{
    http_response_t res;
    int sent = client_request(c, method, rest, query, body, body_len, content_type, &res);
    if (sent != 0)
        return sent;

    bool ok = res.status >= 200 && res.status < 300;
    json_error_t jerr;
    json_t *envelope = json_loadb(res.body, res.body_len, 0, &jerr);
    int rc = ok ? EXIT_SUCCESS : EXIT_SERVER_ERROR;
    if (c->json && envelope != NULL)
        print_json_line(envelope, &res);
    if (!ok) {
        report_error(c, envelope, &res);
    } else if (envelope == NULL) {
        error("the answer of %s is not JSON (%s): %.200s", c->url.value, jerr.text, res.body);
        rc = EXIT_FAILURE;
    } else if (!c->json) {
        print(envelope);
    }
    json_decref(envelope);
    http_response_free(&res);
    if (fflush(stdout) != 0 && rc == EXIT_SUCCESS) {
        error("cannot write the output: %s", strerror(errno));
        rc = EXIT_FAILURE;
    }
    return rc;
}

/* Reads all of @path ("-": stdin) into a malloc'd NUL-terminated buffer. */
static char *read_input(const char *path, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf != NULL) {
        if (n + 1 == cap) {
            char *grown = realloc(buf, cap *= 2);
            if (grown == NULL) {
                free(buf);
                buf = NULL;
                errno = ENOMEM;
                break;
            }
            buf = grown;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                int err = errno;
                free(buf);
                buf = NULL;
                errno = err;
            }
            break;
        }
    }
    if (f != stdin)
        fclose(f);
    if (buf != NULL) {
        buf[n] = '\0';
        *len = n;
    }
    return buf;
}

/* A copy of @taskinfo for people to read: the values of secret params masked. */
static json_t *taskinfo_masked(json_t *taskinfo)
{
    json_t *copy = json_deep_copy(taskinfo), *value;
    json_t *params = json_object_get(copy, "params");
    const char *key;
    void *tmp;
    json_object_foreach_safe (params, tmp, key, value) {
        if (redact_key_is_secret(key))
            json_object_set_new(params, key, json_string("********"));
    }
    return copy;
}

/* --dry-run: the TaskInfo, masked, on stdout. */
static int print_dry_run(json_t *taskinfo)
{
    json_t *masked = taskinfo_masked(taskinfo);
    char *text = masked != NULL ? json_dumps(masked, JSON_INDENT(2)) : NULL;
    json_decref(masked);
    if (text == NULL) {
        error("out of memory");
        return EXIT_FAILURE;
    }
    puts(text);
    free(text);
    if (fflush(stdout) != 0) {
        error("cannot write the output: %s", strerror(errno));
        return EXIT_FAILURE;
    }
    return EXIT_SUCCESS;
}

/* Sends the TaskInfo @text (@len bytes) in the client's form. */
static int send_taskinfo(client_t *c, const char *text, size_t len)
{
    const char *body = text, *content_type = "application/json";
    char *sealed = NULL;
    if (c->form != FORM_PLAIN) {
        sealed = c->form == FORM_SEALED ? crypto_sealed_encrypt(c->key, c->cid.value, text, len)
                                        : crypto_legacy_encrypt(c->key, text, len);
        if (sealed == NULL) {
            error("cannot encrypt the TaskInfo");
            return EXIT_FAILURE;
        }
        body = sealed;
        len = strlen(sealed);
        content_type = "text/plain";
    }
    const char *query = c->force && c->start ? "force=true&start=true"
                        : c->force           ? "force=true"
                        : c->start           ? "start=true"
                                             : NULL;
    int rc = client_call(c, "POST", "/tasks/create", query, body, len, content_type, print_message);
    free(sealed);
    return rc;
}

static bool has_suffix(const char *s, const char *suffix)
{
    size_t len = strlen(s), n = strlen(suffix);
    return len >= n && strcmp(s + len - n, suffix) == 0;
}

static int create_from_json(client_t *c, const char *file)
{
    const char *name = strcmp(file, "-") == 0 ? "<stdin>" : file;
    size_t len;
    char *text = read_input(file, &len);
    if (text == NULL) {
        error("cannot read %s: %s", name, strerror(errno));
        return EXIT_USAGE;
    }
    json_error_t jerr;
    json_t *taskinfo = json_loadb(text, len, 0, &jerr);
    int rc = EXIT_USAGE;
    if (taskinfo == NULL || !json_is_object(taskinfo)) {
        if (taskinfo == NULL)
            error("%s:%d:%d: not valid JSON: %s%s", name, jerr.line, jerr.column, jerr.text,
                  has_suffix(name, ".properties")
                      ? " (a properties file of SymetryML's Kafka stream application is read "
                        "with create --properties FILE)"
                      : "");
        else
            error("%s: a TaskInfo is a JSON object: "
                  "{\"type\":\"kstream\",\"name\":\"TID\",\"params\":{...}}",
                  name);
    } else if (c->dry_run) {
        rc = print_dry_run(taskinfo);
    } else {
        rc = send_taskinfo(c, text, len);
    }
    json_decref(taskinfo);
    sodium_memzero(text, len);
    free(text);
    return rc;
}

static void print_migrate_messages(const char *file, const migrate_t *m)
{
    static const char *const level[] = {
        [MIGRATE_NOTE] = "note: ", [MIGRATE_WARNING] = "warning: ", [MIGRATE_ERROR] = ""};
    for (size_t i = 0; i < m->count; i++) {
        const migrate_message_t *msg = &m->messages[i];
        if (msg->line > 0)
            fprintf(stderr, "symtask: %s:%u: %s%s\n", file, msg->line, level[msg->level],
                    msg->text);
        else
            fprintf(stderr, "symtask: %s: %s%s\n", file, level[msg->level], msg->text);
    }
}

/* create --properties FILE: a task of SymetryML's Kafka stream application (migrate.h). */
static int create_from_properties(client_t *c, const char *file)
{
    const char *name = strcmp(file, "-") == 0 ? "<stdin>" : file;
    char errstr[256];
    size_t len;
    props_t props;
    migrate_t m;
    char *text = read_input(file, &len);
    if (text == NULL) {
        error("cannot read %s: %s", name, strerror(errno));
        return EXIT_USAGE;
    }
    int parsed = props_parse(text, len, &props, errstr, sizeof(errstr));
    sodium_memzero(text, len);
    free(text);
    if (parsed != 0) {
        error("%s:%s", name, errstr + (strncmp(errstr, "line ", 5) == 0 ? 5 : 0));
        return EXIT_USAGE;
    }
    int built = migrate_properties(&props, c->name, &m);
    props_free(&props);
    if (built != 0) {
        error("out of memory");
        return EXIT_FAILURE;
    }
    print_migrate_messages(name, &m);
    int rc;
    if (m.errors > 0) {
        error("%s: %zu error%s: nothing %s", name, m.errors, m.errors == 1 ? "" : "s",
              c->dry_run ? "would be sent" : "sent");
        rc = EXIT_USAGE;
    } else if (c->dry_run) {
        rc = print_dry_run(m.taskinfo);
    } else {
        char *json = json_dumps(m.taskinfo, JSON_COMPACT);
        if (json == NULL) {
            error("out of memory");
            rc = EXIT_FAILURE;
        } else {
            rc = send_taskinfo(c, json, strlen(json));
            sodium_memzero(json, strlen(json));
            free(json);
        }
    }
    migrate_free(&m);
    return rc;
}

static int cmd_create(client_t *c, const char *file)
{
    return c->properties != NULL ? create_from_properties(c, c->properties)
                                 : create_from_json(c, file);
}

/* Checks a task id operand; returns 0 or EXIT_USAGE after printing why. */
static int check_tid(const char *tid)
{
    if (id_valid(tid))
        return 0;
    error("task id '%.140s' is malformed: use 1 to 128 of A-Z a-z 0-9 . _ -", tid);
    return EXIT_USAGE;
}

static int task_call(client_t *c, const char *method, const char *tid, const char *action,
                     print_fn print)
{
    if (check_tid(tid) != 0)
        return EXIT_USAGE;
    char rest[ID_MAX + 64];
    snprintf(rest, sizeof(rest), "/tasks/%s%s", tid, action);
    return client_call(c, method, rest, NULL, NULL, 0, NULL, print);
}

static int cmd_start(client_t *c, const char *tid)
{
    return task_call(c, "POST", tid, "/start", print_message);
}

static int cmd_stop(client_t *c, const char *tid)
{
    return task_call(c, "POST", tid, "/stop", print_message);
}

static int cmd_restart(client_t *c, const char *tid)
{
    if (tid == NULL)
        return client_call(c, "POST", "/tasks/restart", c->only_failed ? "onlyFailed=true" : NULL,
                           NULL, 0, NULL, print_message);
    return task_call(c, "POST", tid, "/restart", print_message);
}

static int cmd_pause(client_t *c, const char *tid)
{
    return task_call(c, "POST", tid, "/pause", print_message);
}

static int cmd_resume(client_t *c, const char *tid)
{
    return task_call(c, "POST", tid, "/resume", print_message);
}

static void print_offset_cell(json_t *v)
{
    if (json_is_integer(v))
        printf(" %14" JSON_INTEGER_FORMAT, json_integer_value(v));
    else
        printf(" %14s", "-");
}

/* The offsets listing or a reset's changes as a table, under the statusString. */
static void print_offsets(json_t *envelope)
{
    json_t *offsets = json_object_get(json_object_get(envelope, "values"), "offsets");
    json_t *parts = json_object_get(offsets, "partitions");
    bool reset = json_object_get(json_array_get(parts, 0), "previous") != NULL;
    puts(envelope_string(envelope, "statusString"));
    if (reset)
        printf("%9s %14s %14s\n", "PARTITION", "PREVIOUS", "OFFSET");
    else
        printf("%9s %14s %14s %14s %14s\n", "PARTITION", "COMMITTED", "LOG-START", "LOG-END",
               "LAG");
    size_t i;
    json_t *p;
    static const char *const listed[] = {"committed", "logStartOffset", "logEndOffset", "lag"};
    static const char *const changed[] = {"previous", "offset"};
    json_array_foreach (parts, i, p) {
        printf("%9" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(p, "partition")));
        for (size_t k = 0; k < (reset ? 2 : 4); k++)
            print_offset_cell(json_object_get(p, reset ? changed[k] : listed[k]));
        putchar('\n');
    }
}

/* offsets --reset TO as the body {"to":...}: 0, or EXIT_USAGE after saying why. */
static int reset_body(const char *spec, char **body)
{
    json_t *to = NULL;
    if (strcmp(spec, "earliest") == 0 || strcmp(spec, "latest") == 0) {
        to = json_string(spec);
    } else if (strncmp(spec, "timestamp=", 10) == 0) {
        char *end;
        errno = 0;
        long long ms = strtoll(spec + 10, &end, 10);
        if (errno != 0 || end == spec + 10 || *end != '\0' || ms < 0) {
            error("--reset %s: the timestamp is not a number of ms since the epoch", spec);
            return EXIT_USAGE;
        }
        to = json_pack("{s:I}", "timestamp", (json_int_t)ms);
    } else {
        json_t *list = json_array();
        const char *p = spec;
        while (*p != '\0') {
            char *end;
            errno = 0;
            long long part = strtoll(p, &end, 10);
            if (errno != 0 || end == p || *end != '=' || part < 0)
                break;
            const char *o = end + 1;
            long long offset = strtoll(o, &end, 10);
            if (errno != 0 || end == o || (*end != ',' && *end != '\0') || offset < 0)
                break;
            json_array_append_new(list, json_pack("{s:I, s:I}", "partition", (json_int_t)part,
                                                  "offset", (json_int_t)offset));
            p = *end == ',' ? end + 1 : end;
            if (*end == '\0')
                to = json_pack("{s:o}", "partitions", json_incref(list));
        }
        json_decref(list);
        if (to == NULL) {
            error("--reset %s: expected earliest, latest, timestamp=MS or "
                  "PARTITION=OFFSET[,PARTITION=OFFSET...]",
                  spec);
            return EXIT_USAGE;
        }
    }
    json_t *root = json_pack("{s:o}", "to", to);
    *body = root != NULL ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    if (*body == NULL) {
        error("out of memory");
        return EXIT_FAILURE;
    }
    return 0;
}

static int cmd_offsets(client_t *c, const char *tid)
{
    if (check_tid(tid) != 0)
        return EXIT_USAGE;
    char rest[ID_MAX + 64];
    snprintf(rest, sizeof(rest), "/tasks/%s/offsets", tid);
    if (c->reset == NULL)
        return client_call(c, "GET", rest, NULL, NULL, 0, NULL, print_offsets);
    char *body;
    int rc = reset_body(c->reset, &body);
    if (rc != 0)
        return rc;
    rc = client_call(c, "POST", rest, NULL, body, strlen(body), "application/json", print_offsets);
    free(body);
    return rc;
}

/* watch's source: GET /tasks?expand=status, or GET /tasks/{tid} for one task. */
typedef struct watch_source {
    client_t *c;
    const char *tid;
} watch_source_t;

static json_t *watch_fetch(void *arg, int *fatal, char *errstr, size_t errstr_size)
{
    watch_source_t *src = arg;
    char rest[ID_MAX + 64];
    if (src->tid != NULL)
        snprintf(rest, sizeof(rest), "/tasks/%s", src->tid);
    else
        snprintf(rest, sizeof(rest), "/tasks");
    http_response_t res;
    /* the transport's own message went to stderr: on a terminal it would be drawn over */
    int sent = client_request(src->c, "GET", rest, src->tid != NULL ? NULL : "expand=status", NULL,
                              0, NULL, &res);
    if (sent != 0) {
        snprintf(errstr, errstr_size, "no answer from %s; retrying", src->c->url.value);
        *fatal = sent == EXIT_USAGE;
        return NULL;
    }
    json_t *envelope = json_loadb(res.body, res.body_len, 0, NULL);
    json_t *maps =
        json_object_get(json_object_get(json_object_get(envelope, "values"), "KSVSMap"), "values");
    json_t *out = NULL;
    if (res.status != 200 || !json_is_array(maps)) {
        const char *message = json_string_value(json_object_get(envelope, "statusString"));
        snprintf(errstr, errstr_size, "HTTP %d: %s", res.status,
                 message != NULL ? message : "the answer holds no status");
        /* a task that is not there, or a secret the server refuses, stays so */
        *fatal = res.status == 404 || res.status == 401 || res.status == 400;
    } else {
        out = json_deep_copy(maps);
        if (src->tid != NULL)
            json_object_set_new(json_array_get(out, 0), "name", json_string(src->tid));
    }
    json_decref(envelope);
    http_response_free(&res);
    return out;
}

static int cmd_watch(client_t *c, const char *tid)
{
    if (tid != NULL && check_tid(tid) != 0)
        return EXIT_USAGE;
    watch_source_t src = {.c = c, .tid = tid};
    char title[1400];
    snprintf(title, sizeof(title), "%s at %s", c->cid.value, c->url.value);
    watch_config_t cfg = {
        .fetch = watch_fetch, .arg = &src, .title = title, .count = c->count, .interval_ms = 1000};
    return watch_run(&cfg) == 0 ? EXIT_SUCCESS : EXIT_SERVER_ERROR;
}

static int cmd_status(client_t *c, const char *tid)
{
    return task_call(c, "GET", tid, "", print_values);
}

static int cmd_delete(client_t *c, const char *tid)
{
    return task_call(c, "DELETE", tid, "", print_message);
}

static int cmd_list(client_t *c, const char *unused)
{
    return client_call(c, "GET", "/tasks", NULL, NULL, 0, NULL, print_values);
}

static int cmd_plugins(client_t *c, const char *unused)
{
    return client_call(c, "GET", "/plugins", NULL, NULL, 0, NULL, print_plugins);
}

static int cmd_keygen(client_t *c, const char *unused)
{
    if (sodium_init() < 0) {
        error("libsodium cannot be initialised");
        return EXIT_FAILURE;
    }
    uint8_t key[SECRET_BYTES];
    randombytes_buf(key, sizeof(key));
    char *b64 = crypto_b64_encode(key, sizeof(key));
    sodium_memzero(key, sizeof(key));
    if (b64 == NULL) {
        error("out of memory");
        return EXIT_FAILURE;
    }
    puts(b64);
    sodium_memzero(b64, strlen(b64));
    free(b64);
    return fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

static int cmd_help(client_t *c, const char *unused)
{
    fputs(usage, stdout);
    return EXIT_SUCCESS;
}

typedef struct command {
    const char *name;
    const char *operand; /* name of its one operand for messages, NULL when it takes none */
    bool optional;       /* the operand may be left out */
    bool needs_server;   /* needs url, cid and secret */
    int (*run)(client_t *c, const char *operand);
} command_t;

static const command_t commands[] = {
    {"create", "FILE", false, true, cmd_create},  {"start", "TID", false, true, cmd_start},
    {"stop", "TID", false, true, cmd_stop},       {"restart", "TID", false, true, cmd_restart},
    {"pause", "TID", false, true, cmd_pause},     {"resume", "TID", false, true, cmd_resume},
    {"offsets", "TID", false, true, cmd_offsets}, {"watch", "TID", true, true, cmd_watch},
    {"list", NULL, false, true, cmd_list},        {"status", "TID", false, true, cmd_status},
    {"delete", "TID", false, true, cmd_delete},   {"plugins", NULL, false, true, cmd_plugins},
    {"keygen", NULL, false, false, cmd_keygen},   {"help", NULL, false, false, cmd_help},
};

enum {
    OPT_URL = 256,
    OPT_CID,
    OPT_SECRET,
    OPT_CONFIG,
    OPT_JSON,
    OPT_LEGACY,
    OPT_PLAIN,
    OPT_FORCE,
    OPT_INSECURE,
    OPT_CACERT,
    OPT_PROPERTIES,
    OPT_NAME,
    OPT_DRY_RUN,
    OPT_START,
    OPT_ALL,
    OPT_FAILED,
    OPT_RESET,
    OPT_COUNT,
};

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("symtask: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\nTry 'symtask help'.\n", stderr);
    va_end(ap);
    return EXIT_USAGE;
}

/* Parses the command line into @c; returns the command or NULL (*rc: exit status). */
static const command_t *parse_args(client_t *c, int argc, char **argv, const char **operand,
                                   int *rc)
{
    static const struct option options[] = {
        {"url", required_argument, NULL, OPT_URL},
        {"cid", required_argument, NULL, OPT_CID},
        {"secret", required_argument, NULL, OPT_SECRET},
        {"config", required_argument, NULL, OPT_CONFIG},
        {"json", no_argument, NULL, OPT_JSON},
        {"legacy", no_argument, NULL, OPT_LEGACY},
        {"plain", no_argument, NULL, OPT_PLAIN},
        {"force", no_argument, NULL, OPT_FORCE},
        {"insecure", no_argument, NULL, OPT_INSECURE},
        {"cacert", required_argument, NULL, OPT_CACERT},
        {"properties", required_argument, NULL, OPT_PROPERTIES},
        {"name", required_argument, NULL, OPT_NAME},
        {"dry-run", no_argument, NULL, OPT_DRY_RUN},
        {"start", no_argument, NULL, OPT_START},
        {"all", no_argument, NULL, OPT_ALL},
        {"failed", no_argument, NULL, OPT_FAILED},
        {"reset", required_argument, NULL, OPT_RESET},
        {"count", required_argument, NULL, OPT_COUNT},
        {"verbose", no_argument, NULL, 'v'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *rc = EXIT_USAGE;
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, ":vVh", options, NULL)) != -1) {
        switch (opt) {
        case OPT_URL:
            setting_set(&c->url, optarg, strlen(optarg), "--url");
            break;
        case OPT_CID:
            setting_set(&c->cid, optarg, strlen(optarg), "--cid");
            break;
        case OPT_SECRET:
            setting_set(&c->secret, optarg, strlen(optarg), "--secret");
            /* Shortens the time other users can read it in /proc/PID/cmdline. */
            memset(optarg, '*', strlen(optarg));
            break;
        case OPT_CONFIG:
            c->config_path = optarg;
            break;
        case OPT_JSON:
            c->json = true;
            break;
        case OPT_LEGACY:
        case OPT_PLAIN:
            if (c->form_given && c->form != (opt == OPT_PLAIN ? FORM_PLAIN : FORM_LEGACY)) {
                usage_error("--legacy and --plain exclude each other");
                return NULL;
            }
            c->form_given = true;
            c->form = opt == OPT_PLAIN ? FORM_PLAIN : FORM_LEGACY;
            break;
        case OPT_FORCE:
            c->force = true;
            break;
        case OPT_INSECURE:
            c->insecure = true;
            break;
        case OPT_CACERT:
            c->cacert = optarg;
            break;
        case OPT_PROPERTIES:
            c->properties = optarg;
            break;
        case OPT_NAME:
            c->name = optarg;
            break;
        case OPT_DRY_RUN:
            c->dry_run = true;
            break;
        case OPT_START:
            c->start = true;
            break;
        case OPT_ALL:
            c->all = true;
            break;
        case OPT_FAILED:
            c->only_failed = true;
            break;
        case OPT_RESET:
            c->reset = optarg;
            break;
        case OPT_COUNT: {
            char *end;
            errno = 0;
            long n = strtol(optarg, &end, 10);
            if (errno != 0 || end == optarg || *end != '\0' || n < 1 || n > INT_MAX) {
                usage_error("--count %.64s: not a number of refreshes (1 or more)", optarg);
                return NULL;
            }
            c->count = (int)n;
            break;
        }
        case 'v':
            c->verbose = true;
            break;
        case 'V':
            printf("symtask %s\n", SYMTASK_VERSION);
            *rc = EXIT_SUCCESS;
            return NULL;
        case 'h':
            fputs(usage, stdout);
            *rc = EXIT_SUCCESS;
            return NULL;
        case ':':
            usage_error("%s needs a value", argv[optind - 1]);
            return NULL;
        default:
            if (optopt != 0)
                usage_error("unknown option -%c", optopt);
            else
                usage_error("unknown option %s", argv[optind - 1]);
            return NULL;
        }
    }
    if (optind == argc) {
        fputs(usage, stderr);
        return NULL;
    }
    const char *name = argv[optind++];
    const command_t *cmd = NULL;
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(name, commands[i].name) == 0)
            cmd = &commands[i];
    if (cmd == NULL) {
        usage_error("unknown command '%.64s'", name);
        return NULL;
    }
    /* create --properties FILE names its file with the option */
    bool from_properties = cmd->run == cmd_create && c->properties != NULL;
    /* restart --all / --failed restarts many tasks: no TID */
    bool many = cmd->run == cmd_restart && (c->all || c->only_failed);
    int want = cmd->operand != NULL && !from_properties && !many ? 1 : 0;
    if (cmd->optional && argc - optind == 0)
        want = 0;
    if (argc - optind != want) {
        if (from_properties)
            usage_error("create --properties FILE takes no other operand");
        else if (many)
            usage_error("restart %s takes no TID", c->only_failed ? "--failed" : "--all");
        else if (want == 1 && argc == optind)
            usage_error("%s needs %s", cmd->name, cmd->operand);
        else
            usage_error("%s takes %s", cmd->name, want == 1 ? "one operand" : "no operands");
        return NULL;
    }
    *operand = want == 1 ? argv[optind] : NULL;
    if (cmd->run != cmd_create &&
        (c->force || c->form_given || c->dry_run || c->properties != NULL)) {
        usage_error("%s applies to create only",
                    c->force        ? "--force"
                    : c->form_given ? (c->form == FORM_PLAIN ? "--plain" : "--legacy")
                    : c->dry_run    ? "--dry-run"
                                    : "--properties");
        return NULL;
    }
    /* the options of one command each */
    const struct {
        bool given;
        const char *option, *owner;
        int (*run)(client_t *, const char *);
    } only_for[] = {
        {c->start, "--start", "create", cmd_create},
        {c->all, "--all", "restart", cmd_restart},
        {c->only_failed, "--failed", "restart", cmd_restart},
        {c->reset != NULL, "--reset", "offsets", cmd_offsets},
        {c->count > 0, "--count", "watch", cmd_watch},
    };
    for (size_t i = 0; i < sizeof(only_for) / sizeof(only_for[0]); i++) {
        if (only_for[i].given && cmd->run != only_for[i].run) {
            usage_error("%s applies to %s only", only_for[i].option, only_for[i].owner);
            return NULL;
        }
    }
    if (c->name != NULL && !from_properties) {
        usage_error("--name applies to create --properties only (a TaskInfo file names its "
                    "task)");
        return NULL;
    }
    *rc = EXIT_SUCCESS;
    return cmd;
}

int main(int argc, char **argv)
{
    /* A closed connection must be an error of the write, not the death of the client. */
    signal(SIGPIPE, SIG_IGN);
    client_t c = {.form = FORM_SEALED};
    const char *operand = NULL;
    int rc;
    const command_t *cmd = parse_args(&c, argc, argv, &operand, &rc);
    if (cmd != NULL) {
        /* a dry run sends nothing, so it needs no server */
        rc = cmd->needs_server && !c.dry_run ? settings_load(&c) : 0;
        if (rc == 0)
            rc = cmd->run(&c, operand);
    }
    setting_clear(&c.url);
    setting_clear(&c.cid);
    setting_clear(&c.secret);
    sodium_memzero(c.key, sizeof(c.key));
    return rc;
}
