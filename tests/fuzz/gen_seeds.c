/* gen_seeds.c: writes the seed corpus of the fuzz targets (tests/fuzz/corpus/), signing and
 * encrypting with the keys of fuzz_util.h. Run by hand when an input format changes:
 *   build-fuzz/tests/fuzz/gen_seeds tests/fuzz/corpus
 * Sealed seeds differ on each run (random nonces). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "auth.h"
#include "crypto.h"
#include "fuzz_util.h"

static const char *outdir;

static void write_seed(const char *sub, const char *name, const void *data, size_t size)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", outdir, sub);
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        fuzz_die(path);
    snprintf(path, sizeof(path), "%s/%s/%s", outdir, sub, name);
    FILE *fp = fopen(path, "wb");
    if (fp == NULL || fwrite(data, 1, size, fp) != size || fclose(fp) != 0)
        fuzz_die(path);
}

/* ---- auth: absent-mask, then fields separated by '\n' (see fuzz_auth.c) ---------------- */

typedef struct seed_req {
    const char *f[F_COUNT]; /* NULL: absent */
} seed_req_t;

static void write_auth(const char *name, const seed_req_t *r)
{
    char buf[4096];
    unsigned absent = 0;
    size_t n = 2;
    for (int i = 0; i < F_COUNT; i++) {
        const char *s = r->f[i] != NULL ? r->f[i] : "";
        if (r->f[i] == NULL)
            absent |= 1u << i;
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s", s, i < F_BODY ? "\n" : "");
    }
    buf[0] = (char)(absent & 0xff);
    buf[1] = (char)(absent >> 8);
    write_seed("auth", name, buf, n);
}

/* Fills Content-MD5 and a valid Authorization for customer c1. */
static void sign(seed_req_t *r, char md5[25], char sig[45])
{
    const char *body = r->f[F_BODY];
    md5[0] = '\0';
    if (body != NULL && body[0] != '\0') {
        crypto_md5_b64(body, strlen(body), md5);
        r->f[F_CONTENT_MD5] = md5;
    }
    char *sts = auth_string_to_sign(r->f[F_METHOD], r->f[F_CONTENT_MD5], FUZZ_SECRET_C1,
                                    r->f[F_SYM_DATE], r->f[F_CUSTOMER_ID], body,
                                    body != NULL ? strlen(body) : 0, r->f[F_PATH], r->f[F_QUERY]);
    crypto_hmac_sha256_b64(fuzz_key_c1, 16, sts, strlen(sts), sig);
    free(sts);
    r->f[F_AUTHORIZATION] = sig;
}

#define TI_MINIMAL                                                                                 \
    "{\"type\":\"kstream\",\"name\":\"t1\",\"params\":{\"sml.kstream.source.topic\":\"in\","       \
    "\"sml.kstream.sink.topic\":\"out\",\"sml.predictor\":\"linear\"}}"

static void auth_seeds(void)
{
    char md5[25], sig[45];
    seed_req_t get = {{"GET", "/symetry/rest/c1/tasks", NULL, "c1", "c1", FUZZ_DATE}};
    sign(&get, md5, sig);
    write_auth("get_valid", &get);

    seed_req_t post = {{"POST", "/symetry/rest/c1/tasks/create", "force=true", "c1", "c1",
                        FUZZ_DATE, NULL, NULL, TI_MINIMAL}};
    sign(&post, md5, sig);
    write_auth("post_valid", &post);

    seed_req_t r = post;
    r.f[F_AUTHORIZATION] = "IlbrmFHWCEwF525gTrJS3s44nOCZikg8JZ3YhShLIcw=";
    write_auth("post_bad_signature", &r);
    r = post;
    r.f[F_CONTENT_MD5] = "FYXiypiYi9tE8Jn5WjYZ+Q==";
    write_auth("post_bad_md5", &r);
    r = get;
    r.f[F_SYM_DATE] = "2026-11-28 13:55:08";
    write_auth("date_no_nanos", &r);
    r.f[F_SYM_DATE] = "2026-11-28 13:45:08;0";
    write_auth("date_too_old", &r);
    r.f[F_SYM_DATE] = "2024-02-29 23:59:59;999999999";
    write_auth("date_leap", &r);
    r = get;
    r.f[F_CUSTOMER_ID] = "c2";
    write_auth("cid_mismatch", &r);
    r = get;
    r.f[F_AUTHORIZATION] = NULL;
    write_auth("no_authorization", &r);
    r = get;
    r.f[F_SYM_DATE] = NULL;
    write_auth("no_date", &r);
    write_seed("auth", "raw_date", FUZZ_DATE, strlen(FUZZ_DATE));
}

/* ---- taskinfo: request bodies, plain and in both encrypted forms ----------------------- */

static const struct {
    const char *name, *json;
    int encrypt;
} taskinfos[] = {
    {"minimal", TI_MINIMAL, 1},
    {"full",
     "{\"type\":\"kstream\",\"name\":\"fraud-score.v2\",\"params\":{"
     "\"sml.kstream.source.topic\":\"tx\",\"sml.kstream.sink.topic\":\"scores\","
     "\"sml.kstream.dlq.topic\":\"tx.bad\",\"sml.kstream.app.id\":\"fraud app\","
     "\"sml.kstream.client.id\":\"c-1\",\"sml.kstream.record.poll.max\":\"500\","
     "\"sml.kstream.schedule.ms\":\"1000\",\"sml.kstream.model.b64file\":\"bW9kZWw=\","
     "\"sml.kstream.errors.tolerance\":\"all\",\"sml.kstream.guarantee\":\"at_least_once\","
     "\"sml.predictor\":\"linear\",\"sml.predictor.threshold\":\"0.5\","
     "\"sml.serializer\":\"json\",\"sml.serializer.out\":\"json\","
     "\"sml.task.heap.min\":\"512m\",\"sml.task.heap.max\":\"2g\","
     "\"bootstrap.servers\":\"127.0.0.1:9092\",\"security.protocol\":\"sasl_ssl\","
     "\"sasl.mechanism\":\"PLAIN\",\"sasl.username\":\"u\",\"sasl.password\":\"hunter2\","
     "\"kafka.consumer.auto.offset.reset\":\"earliest\",\"kafka.producer.linger.ms\":\"5\"}}",
     1},
    {"exactly_once",
     "{\"type\":\"kstream\",\"name\":\"t1\",\"params\":{\"sml.kstream.source.topic\":\"in\","
     "\"sml.kstream.sink.topic\":\"out\",\"sml.predictor\":\"linear\","
     "\"sml.kstream.guarantee\":\"exactly_once\"}}",
     1},
    {"forbidden_prop",
     "{\"type\":\"kstream\",\"name\":\"t1\",\"params\":{\"sml.kstream.source.topic\":\"in\","
     "\"sml.kstream.sink.topic\":\"out\",\"sml.predictor\":\"linear\","
     "\"kafka.consumer.plugin.library.paths\":\"/tmp/x.so\"}}",
     0},
    {"bad_values",
     "{\"type\":\"kstream\",\"name\":\"t 1\",\"params\":{\"sml.kstream.source.topic\":\"in\","
     "\"sml.kstream.sink.topic\":\"in\",\"sml.predictor\":\"Linear\","
     "\"sml.task.heap.max\":\"12q\",\"sasl.kerberos.keytab\":\"$(id)\"}}",
     0},
    {"nul_and_dup",
     "{\"type\":\"kstream\",\"name\":\"t1\",\"name\":\"t2\",\"params\":{"
     "\"sml.kstream.source.topic\":\"a\\u0000b\"}}",
     0},
    {"not_object", "[\"kstream\", 1, 2.5e300, null, true, {\"a\": {}}]", 0},
};

static void taskinfo_seeds(void)
{
    char name[64];
    for (size_t i = 0; i < sizeof(taskinfos) / sizeof(taskinfos[0]); i++) {
        const char *json = taskinfos[i].json;
        snprintf(name, sizeof(name), "%s.json", taskinfos[i].name);
        write_seed("taskinfo", name, json, strlen(json));
        if (!taskinfos[i].encrypt)
            continue;
        char *wire = crypto_legacy_encrypt(fuzz_key_c1, json, strlen(json));
        snprintf(name, sizeof(name), "%s.legacy", taskinfos[i].name);
        write_seed("taskinfo", name, wire, strlen(wire));
        free(wire);
        wire = crypto_sealed_encrypt(fuzz_key_c1, FUZZ_CID, json, strlen(json));
        snprintf(name, sizeof(name), "%s.sealed", taskinfos[i].name);
        write_seed("taskinfo", name, wire, strlen(wire));
        free(wire);
    }
}

/* ---- config: config files and customers files ----------------------------------------- */

static const struct {
    const char *name, *text;
} configs[] = {
    {"full.conf", "# symtaskd.conf\n"
                  "listen = 127.0.0.1:8080\n"
                  "listen = [::1]:8443\n"
                  "listen=:9000\n"
                  "state.dir = /var/lib/symtask\n"
                  "plugin.dir = \"/usr/lib/symtask/plugins\"  # quoted\n"
                  "worker.path = /usr/libexec/symtask/symtask-worker\n"
                  "customers.file = /etc/symtask/customers\n"
                  "kafka.bootstrap.servers = \n"
                  "kafka.embedded = yes\n"
                  "kafka.embedded.brokers = 3\n"
                  "kafka.embedded.partitions = 4\n"
                  "sml.task.max = 16\n"
                  "auth.allow_plaintext_taskinfo = off\n"
                  "log.level = debug\n"
                  "tls.cert = /etc/symtask/cert.pem\n"
                  "tls.key = /etc/symtask/key.pem\n"
                  "http.max_body = 512k\n"
                  "task.stop_timeout_ms = 10000\n"
                  "task.restart_backoff_ms = 1000\n"
                  "task.restart_backoff_max_ms = 30000\n"
                  "task.restart_max = 5\n"
                  "task.heartbeat_timeout_ms = 30000\n"},
    {"cli_listen.conf", "listen=[fe80::1%eth0]:80\nlisten = a.b-c_d:65535\n"},
    {"bad_quote.conf", "state.dir = \"/var/lib/symtask\n"},
    {"bad_after_quote.conf", "state.dir = \"/x\" y\n"},
    {"no_equals.conf", "listen 127.0.0.1:8080\n"},
    {"bad_number.conf", "sml.task.max = 1025\nhttp.max_body = 99999999999999999999g\n"},
    {"too_many_listen.conf", "listen=:1\nlisten=:2\nlisten=:3\nlisten=:4\nlisten=:5\n"
                             "listen=:6\nlisten=:7\nlisten=:8\nlisten=:9\n"},
    {"size", "1024M"},
    {"customers", "# customers\nc1:" FUZZ_SECRET_C1 "\n  c2 : " FUZZ_SECRET_C2 "  # second\n"},
    {"customers_bad", "c1:" FUZZ_SECRET_C1 "\nc1:" FUZZ_SECRET_C2 "\n..:" FUZZ_SECRET_C1
                      "\nc3:MxFhjhfqOx6XNhZWabcW\nc4:not base64!\n"},
};

static void config_seeds(void)
{
    for (size_t i = 0; i < sizeof(configs) / sizeof(configs[0]); i++)
        write_seed("config", configs[i].name, configs[i].text, strlen(configs[i].text));
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    outdir = argv[1];
    auth_seeds();
    taskinfo_seeds();
    config_seeds();
    return 0;
}
