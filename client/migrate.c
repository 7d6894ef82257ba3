/* migrate.c: a task of SymetryML's Kafka stream application as a TaskInfo (migrate.h). */
#include "migrate.h"
#include "redact.h"
#include "taskinfo.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHOWN_MAX 64
#define SHOWN_KEY_MAX 128 /* as common/taskinfo.c quotes keys */
#define EXPORT_PEEK 65536 /* bytes of a model file looked at */
#define EXPORT_MIN 16     /* the fewest Base64 characters taken for an export */

#define REST_PREDICTOR "symetryml"

/* Keys of the original's files that mean nothing to symtask, and why. */
static const struct no_effect {
    const char *key;
    const char *why;
} no_effect_keys[] = {
    {"enable.auto.commit",
     "symtask commits offsets itself once a batch's records are delivered, or in a "
     "transaction with sml.kstream.guarantee = exactly_once"},
    {"default.value.serde", "the record format is chosen by sml.serializer: json, csv or avro"},
    {"value.deserializer", "the record format is chosen by sml.serializer: json, csv or avro"},
    {"value.serializer", "the format written to the sink is chosen by sml.serializer.out"},
    {"default.key.serde", "symtask copies each record's key to the sink as it is"},
    {"key.deserializer", "symtask copies each record's key to the sink as it is"},
    {"key.serializer", "symtask copies each record's key to the sink as it is"},
};

/* Settings of Kafka Streams that librdkafka does not know, and symtask's names for them. */
static const char *const streams_keys[][2] = {
    {"application.id", "sml.kstream.app.id"},
    {"processing.guarantee", "sml.kstream.guarantee, at_least_once or exactly_once"},
    {"commit.interval.ms", "sml.kstream.commit.interval.ms"},
};

/* Params that may name a model file. */
static const char *const model_keys[] = {
    "sml.kstream.model.b64file",
    "sml.predictor.model",
};

static int say(migrate_t *m, migrate_level_t level, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int say(migrate_t *m, migrate_level_t level, unsigned line, const char *fmt, ...)
{
    migrate_message_t *grown = realloc(m->messages, (m->count + 1) * sizeof(*grown));
    if (grown == NULL)
        return -1;
    m->messages = grown;
    migrate_message_t *msg = &m->messages[m->count++];
    msg->level = level;
    msg->line = line;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg->text, sizeof(msg->text), fmt, ap);
    va_end(ap);
    if (level == MIGRATE_ERROR)
        m->errors++;
    return 0;
}

static const char *shown(char *out, const char *s, size_t max)
{
    return redact_shown(out, s, max);
}

static bool is_true(const char *s)
{
    return s != NULL && strcmp(s, "true") == 0;
}

/* The entry that counts for @key: the last one, as in Java; NULL when absent. */
static const props_entry_t *entry_of(const props_t *props, const char *key)
{
    for (size_t i = props->count; i-- > 0;)
        if (strcmp(props->entries[i].key, key) == 0)
            return &props->entries[i];
    return NULL;
}

static unsigned line_of(const props_t *props, const char *key)
{
    const props_entry_t *e = entry_of(props, key);
    return e != NULL ? e->line : 0;
}

static const struct no_effect *no_effect_of(const char *key)
{
    for (size_t i = 0; i < sizeof(no_effect_keys) / sizeof(no_effect_keys[0]); i++)
        if (strcmp(key, no_effect_keys[i].key) == 0)
            return &no_effect_keys[i];
    return NULL;
}

/* Whether the file at @path holds what SymetryML's model export gives, "a Base64 string"
 * (the format of what it encodes is not published), as far as this process can tell: a
 * relative path is the daemon's (its working directory is not ours) and a file that cannot
 * be read here may be on the daemon's machine, so both are left to the daemon. The models
 * symtask reads are JSON, UBJSON or XGBoost's binary: none is Base64 text. */
static bool holds_symetryml_export(const char *path)
{
    static unsigned char buf[EXPORT_PEEK];
    if (path[0] != '/')
        return false;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return false;
    size_t n = fread(buf, 1, sizeof(buf), f), chars = 0;
    fclose(f);
    bool padding = false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = buf[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
            continue;
        if (c == '=') {
            padding = true;
        } else if (padding || !(isascii(c) && (isalnum(c) || strchr("+/-_", c) != NULL))) {
            return false;
        }
        chars++;
    }
    return chars >= EXPORT_MIN;
}

/* A task id made from @s: each run of characters an id cannot hold becomes one '-' (none at
 * either end), cut at TASKINFO_ID_MAX. */
static void id_from(const char *s, char out[TASKINFO_ID_MAX + 1])
{
    size_t n = 0;
    bool dash = false;
    for (; *s != '\0' && n < TASKINFO_ID_MAX; s++) {
        unsigned char c = (unsigned char)*s;
        if (isascii(c) && (isalnum(c) || c == '.' || c == '_' || c == '-')) {
            out[n++] = (char)c;
            dash = false;
        } else if (!dash && n > 0) {
            out[n++] = '-';
            dash = true;
        }
    }
    if (dash)
        n--;
    out[n] = '\0';
}

/* The task id: --name, else sml.kstream.app.id made into an id (noted when changed). Returns
 * 0 with @tid set, 1 after an error message, -1 out of memory. */
static int task_id(const props_t *props, const char *name, migrate_t *m,
                   char tid[TASKINFO_ID_MAX + 1])
{
    char buf[SHOWN_MAX + 4], made[TASKINFO_ID_MAX + 1];
    if (name != NULL) {
        if (!taskinfo_id_valid(name, strlen(name)))
            return say(m, MIGRATE_ERROR, 0,
                       "--name '%s' is not a valid task id (1 to 128 of A-Z a-z 0-9 . _ -)",
                       shown(buf, name, SHOWN_MAX)) == 0
                       ? 1
                       : -1;
        snprintf(tid, TASKINFO_ID_MAX + 1, "%s", name);
        return 0;
    }
    const props_entry_t *app = entry_of(props, "sml.kstream.app.id");
    if (app == NULL)
        return say(m, MIGRATE_ERROR, 0,
                   "no task id: give one with --name TID, or set sml.kstream.app.id") == 0
                   ? 1
                   : -1;
    id_from(app->value, made);
    if (!taskinfo_id_valid(made, strlen(made)))
        return say(m, MIGRATE_ERROR, app->line,
                   "sml.kstream.app.id: '%s' makes no task id (1 to 128 of A-Z a-z 0-9 . _ -): "
                   "give one with --name TID",
                   shown(buf, app->value, SHOWN_MAX)) == 0
                   ? 1
                   : -1;
    if (strcmp(made, app->value) != 0 &&
        say(m, MIGRATE_NOTE, app->line,
            "task id '%s', made from sml.kstream.app.id '%s' (ids are 1 to 128 of A-Z a-z 0-9 "
            ". _ -); --name TID chooses another, the consumer group stays sml.kstream.app.id",
            made, shown(buf, app->value, SHOWN_MAX)) != 0)
        return -1;
    snprintf(tid, TASKINFO_ID_MAX + 1, "%s", made);
    return 0;
}

/* The key of @params that a taskinfo_validate message is about ("params.KEY: ..."), or NULL
 * when it names none of them. */
static const char *key_of(json_t *params, const char *message)
{
    const char *key, *found = NULL;
    json_t *value;
    if (strncmp(message, "params.", 7) != 0)
        return NULL;
    json_object_foreach (params, key, value) {
        char buf[SHOWN_KEY_MAX + 4];
        size_t n = strlen(shown(buf, key, SHOWN_KEY_MAX));
        if (strncmp(message + 7, buf, n) == 0 && strncmp(message + 7 + n, ": ", 2) == 0)
            found = key;
    }
    return found;
}

/* The daemon's message without its "params." or "params: ", which name the TaskInfo's
 * object, not anything of the file. */
static const char *file_message(const char *message)
{
    if (strncmp(message, "params: ", 8) == 0)
        return message + 8;
    if (strncmp(message, "params.", 7) == 0)
        return message + 7;
    return message;
}

/* Checks @doc with the daemon's checks and says what they refuse: after each refused key the
 * key is taken out and the rest checked again, so that every key gets its message; a key
 * missing because it was taken out is no news. */
static int validate(migrate_t *m, const props_t *props, json_t *doc, bool export_refused)
{
    json_t *params = json_object_get(doc, "params"), *removed = json_object();
    char errstr[1024];
    int rc = -1;
    if (removed == NULL)
        return -1;
    for (;;) {
        json_t *out = taskinfo_validate(doc, errstr, sizeof(errstr));
        if (out != NULL) {
            json_decref(out);
            break;
        }
        const char *found = key_of(params, errstr);
        if (found == NULL) {
            static const char missing[] = "params: required key ";
            const char *text = file_message(errstr);
            if (strncmp(errstr, missing, strlen(missing)) == 0) {
                char name[SHOWN_KEY_MAX];
                snprintf(name, sizeof(name), "%.*s", (int)strcspn(errstr + strlen(missing), " "),
                         errstr + strlen(missing));
                if (json_object_get(removed, name) != NULL)
                    break;
                if (strcmp(name, "sml.predictor") == 0) {
                    /* The export's message already says what to predict with. */
                    if (!export_refused &&
                        say(m, MIGRATE_ERROR, 0,
                            "%s: set sml.kstream.rest = true to predict through a SymetryML "
                            "server, or sml.predictor = linear or xgboost with "
                            "sml.kstream.model.b64file naming the model file",
                            text) != 0)
                        goto done;
                    break;
                }
            }
            if (say(m, MIGRATE_ERROR, 0, "%s", text) != 0)
                goto done;
            break;
        }
        /* a copy: deleting the param frees its key */
        char *key = strdup(found), hint[160] = "";
        if (key == NULL)
            goto done;
        for (size_t i = 0; i < sizeof(streams_keys) / sizeof(streams_keys[0]); i++)
            if (strcmp(key, streams_keys[i][0]) == 0)
                snprintf(hint, sizeof(hint), " (a setting of Kafka Streams; symtask's is %s)",
                         streams_keys[i][1]);
        int said = say(m, MIGRATE_ERROR, line_of(props, key), "%s%s", file_message(errstr), hint);
        if (said == 0)
            said = json_object_set_new(removed, key, json_true());
        json_object_del(params, key);
        free(key);
        if (said != 0)
            goto done;
    }
    rc = 0;
done:
    json_decref(removed);
    return rc;
}

/* Orders messages by line, those about the whole file last, keeping the order of each
 * line's. */
static void sort_messages(migrate_t *m)
{
    for (size_t i = 1; i < m->count; i++) {
        migrate_message_t msg = m->messages[i];
        unsigned key = msg.line ? msg.line : ~0u;
        size_t j = i;
        for (; j > 0 && (m->messages[j - 1].line ? m->messages[j - 1].line : ~0u) > key; j--)
            m->messages[j] = m->messages[j - 1];
        m->messages[j] = msg;
    }
}

int migrate_properties(const props_t *props, const char *name, migrate_t *out)
{
    char tid[TASKINFO_ID_MAX + 1], kbuf[SHOWN_KEY_MAX + 4];
    json_t *doc = NULL, *params = json_object();
    bool export_refused = false;
    int rc = -1;

    *out = (migrate_t){0};
    if (params == NULL)
        goto done;
    if (props->latin1 && say(out, MIGRATE_NOTE, 0,
                             "not UTF-8: read as ISO 8859-1, as Java's Properties.load of a "
                             "stream reads it") != 0)
        goto done;
    int id = task_id(props, name, out, tid);
    if (id < 0)
        goto done;

    const props_entry_t *rest = entry_of(props, "sml.kstream.rest");
    const props_entry_t *predictor = entry_of(props, "sml.predictor");
    bool rest_mode = (rest != NULL && is_true(rest->value)) ||
                     (predictor != NULL && strcmp(predictor->value, REST_PREDICTOR) == 0);
    for (size_t i = 0; i < props->count; i++) {
        const props_entry_t *e = &props->entries[i];
        const char *k = shown(kbuf, e->key, SHOWN_KEY_MAX);
        if (entry_of(props, e->key) != e) {
            /* said at the entry that counts, below */
            continue;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(props->entries[j].key, e->key) == 0) {
                if (say(out, MIGRATE_WARNING, e->line,
                        "%s: also set on line %u: this last one counts, as in Java; delete "
                        "the other",
                        k, props->entries[j].line) != 0)
                    goto done;
                break;
            }
        }
        const struct no_effect *ne = no_effect_of(e->key);
        if (ne != NULL) {
            if (say(out, MIGRATE_WARNING, e->line,
                    "%s: no effect here: %s; left out of the task (delete the line)", k,
                    ne->why) != 0)
                goto done;
            continue;
        }
        if (rest_mode && strcmp(e->key, "sml.kstream.model.b64file") == 0) {
            if (say(out, MIGRATE_WARNING, e->line,
                    "%s: no effect here: with sml.kstream.rest = true the model on the "
                    "SymetryML server predicts; left out of the task (delete the line)",
                    k) != 0)
                goto done;
            continue;
        }
        bool model = false;
        for (size_t j = 0; j < sizeof(model_keys) / sizeof(model_keys[0]); j++)
            model = model || strcmp(e->key, model_keys[j]) == 0;
        if (model && holds_symetryml_export(e->value)) {
            if (say(out, MIGRATE_ERROR, e->line,
                    "%s: the file holds a model exported from a SymetryML server (a Base64 "
                    "string), whose format is not published, so symtask cannot evaluate it: "
                    "predict through the SymetryML server instead (sml.kstream.rest = true "
                    "with sml.kstream.rest.host, sml.kstream.rest.user, "
                    "sml.kstream.rest.secret, sml.kstream.project.id, sml.kstream.model.id), "
                    "or name a model symtask reads (sml.predictor = linear and a linear or "
                    "logistic model in JSON, or sml.predictor = xgboost and a model saved by "
                    "XGBoost)",
                    k) != 0)
                goto done;
            export_refused = true;
            continue;
        }
        if (e->trailing_space &&
            say(out, MIGRATE_WARNING, e->line,
                "%s: the value ends in whitespace, which is part of it (as in Java): delete "
                "it, or write it as '\\ ' if it is meant",
                k) != 0)
            goto done;
        if (json_object_set_new(params, e->key, json_string(e->value)) != 0)
            goto done;
    }

    /* Defaults that differ from the original's, where they matter. */
    const props_entry_t *registry = entry_of(props, "schema.registry.url");
    if (registry != NULL && entry_of(props, "sml.serializer") == NULL) {
        if (say(out, MIGRATE_NOTE, registry->line,
                "sml.serializer is not set: the records are read as Avro through the schema "
                "registry (sml.serializer = avro), as the original read them; symtask's "
                "default is json") != 0 ||
            json_object_set_new(params, "sml.serializer", json_string("avro")) != 0)
            goto done;
    }
    if (entry_of(props, "sml.kstream.schedule.ms") == NULL &&
        say(out, MIGRATE_NOTE, 0,
            "sml.kstream.schedule.ms is not set: symtask waits at most 20 ms for a batch to "
            "fill, where the original waited 5000 ms between batches; set it to keep the "
            "original's pace") != 0)
        goto done;

    if (id == 0) {
        doc = json_pack("{s:s, s:s, s:O}", "type", "kstream", "name", tid, "params", params);
        if (doc == NULL || validate(out, props, doc, export_refused) != 0)
            goto done;
    }
    sort_messages(out);
    if (out->errors == 0) {
        out->taskinfo = doc;
        doc = NULL;
    }
    rc = 0;
done:
    json_decref(doc);
    json_decref(params);
    if (rc != 0)
        migrate_free(out);
    return rc;
}

void migrate_free(migrate_t *m)
{
    json_decref(m->taskinfo);
    free(m->messages);
    *m = (migrate_t){0};
}
