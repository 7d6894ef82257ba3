/* test_migrate.c: client/migrate.c, a properties file of SymetryML's Kafka stream
 * application as a TaskInfo: the params, the task id, and every note, warning and error. */
#include <criterion/criterion.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "migrate.h"

static migrate_t m;
static char dir[] = "/tmp/symtask-migrate-XXXXXX";

#define SOURCE_SINK "sml.kstream.source.topic = in\nsml.kstream.sink.topic = out\n"
#define REST                                                                                       \
    "sml.kstream.rest = true\n"                                                                    \
    "sml.kstream.rest.host = http://sml.example.com:8080\n"                                        \
    "sml.kstream.rest.user = c1\n"                                                                 \
    "sml.kstream.rest.secret = MDEyMzQ1Njc4OWFiY2RlZg==\n"                                         \
    "sml.kstream.project.id = p1\n"                                                                \
    "sml.kstream.model.id = m1\n"

#define SCHEDULE_NOTE                                                                              \
    "sml.kstream.schedule.ms is not set: symtask waits at most 20 ms for a batch to fill, where "  \
    "the original waited 5000 ms between batches; set it to keep the original's pace"

static void setup(void)
{
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
    migrate_free(&m);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    cr_expect_eq(system(cmd), 0);
}

TestSuite(migrate, .init = setup, .fini = teardown);

/* Migrates @text with --name @name (may be NULL). */
static void migrate(const char *text, const char *name)
{
    props_t props;
    char errstr[256];
    migrate_free(&m);
    cr_assert_eq(props_parse(text, strlen(text), &props, errstr, sizeof(errstr)), 0, "%s", errstr);
    cr_assert_eq(migrate_properties(&props, name, &m), 0);
    props_free(&props);
}

static const char *param(const char *key)
{
    cr_assert_not_null(m.taskinfo, "no TaskInfo; %zu errors, first: %s", m.errors,
                       m.count ? m.messages[0].text : "");
    return json_string_value(json_object_get(json_object_get(m.taskinfo, "params"), key));
}

/* Asserts that message @i is @text at @line with @level. */
static void expect_message(size_t i, migrate_level_t level, unsigned line, const char *text)
{
    cr_assert_lt(i, m.count, "only %zu messages, wanted: %s", m.count, text);
    cr_expect_str_eq(m.messages[i].text, text);
    cr_expect_eq(m.messages[i].level, level, "level of: %s", text);
    cr_expect_eq(m.messages[i].line, line, "line of: %s", text);
}

/* The one message at @level that contains @part; asserts there is one. */
static const migrate_message_t *find(migrate_level_t level, const char *part)
{
    const migrate_message_t *found = NULL;
    for (size_t i = 0; i < m.count; i++) {
        if (m.messages[i].level == level && strstr(m.messages[i].text, part) != NULL) {
            cr_assert_null(found, "twice: %s", part);
            found = &m.messages[i];
        }
    }
    cr_assert_not_null(found, "no message with: %s", part);
    return found;
}

static const char *write_file(const char *name, const char *text)
{
    static char path[4][256];
    static int next;
    char *p = path[next++ % 4];
    snprintf(p, sizeof(path[0]), "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    return p;
}

Test(migrate, a_rest_mode_file_becomes_its_params)
{
    migrate("# the original's task\n" SOURCE_SINK "sml.kstream.app.id = churn\n"
            "sml.kstream.record.poll.max = 200\n" REST "bootstrap.servers = k1:9092,k2:9092\n",
            NULL);
    cr_assert_eq(m.errors, 0);
    cr_expect_str_eq(json_string_value(json_object_get(m.taskinfo, "type")), "kstream");
    cr_expect_str_eq(json_string_value(json_object_get(m.taskinfo, "name")), "churn");
    json_t *params = json_object_get(m.taskinfo, "params");
    cr_expect_eq(json_object_size(params), 11, "the file's keys, no more");
    cr_expect_str_eq(param("sml.kstream.rest.secret"), "MDEyMzQ1Njc4OWFiY2RlZg==");
    cr_expect_str_eq(param("bootstrap.servers"), "k1:9092,k2:9092");
    cr_expect_str_eq(param("sml.kstream.record.poll.max"), "200");
    cr_expect_null(param("sml.predictor"), "the daemon makes rest = true the symetryml predictor");
    cr_assert_eq(m.count, 1);
    expect_message(0, MIGRATE_NOTE, 0, SCHEDULE_NOTE);
}

Test(migrate, the_schedule_note_only_when_the_file_leaves_it_out)
{
    migrate(SOURCE_SINK "sml.kstream.app.id = a\nsml.kstream.schedule.ms = 5000\n" REST, NULL);
    cr_expect_eq(m.count, 0, "%s", m.count ? m.messages[0].text : "");
    cr_expect_str_eq(param("sml.kstream.schedule.ms"), "5000");
}

Test(migrate, the_task_id_is_name_else_the_app_id)
{
    migrate(SOURCE_SINK "sml.kstream.app.id = churn.v2_x-1\n" REST, "other");
    cr_expect_str_eq(json_string_value(json_object_get(m.taskinfo, "name")), "other");
    cr_expect_str_eq(param("sml.kstream.app.id"), "churn.v2_x-1", "the consumer group stays");
    migrate(SOURCE_SINK "sml.kstream.app.id = churn.v2_x-1\n" REST, NULL);
    cr_expect_str_eq(json_string_value(json_object_get(m.taskinfo, "name")), "churn.v2_x-1");
    cr_expect_eq(m.count, 1, "a valid id is taken as it is, silently");
}

Test(migrate, an_app_id_that_is_no_id_is_made_into_one_and_said)
{
    migrate(SOURCE_SINK "\n\nsml.kstream.app.id = /churn app: été//v2\\ \n" REST, NULL);
    cr_expect_str_eq(json_string_value(json_object_get(m.taskinfo, "name")), "churn-app-t-v2");
    cr_expect_str_eq(param("sml.kstream.app.id"), "/churn app: été//v2 ");
    expect_message(0, MIGRATE_NOTE, 5,
                   "task id 'churn-app-t-v2', made from sml.kstream.app.id '/churn app: été//v2 ' "
                   "(ids are 1 to 128 of A-Z a-z 0-9 . _ -); --name TID chooses another, the "
                   "consumer group stays sml.kstream.app.id");
    char longer[1024] = SOURCE_SINK "sml.kstream.app.id = ";
    for (int i = 0; i < 200; i++)
        strcat(longer, "a");
    strcat(longer, "\n" REST);
    migrate(longer, NULL);
    cr_expect_eq(strlen(json_string_value(json_object_get(m.taskinfo, "name"))), 128);
}

Test(migrate, no_task_id_is_an_error)
{
    migrate(SOURCE_SINK REST, NULL);
    cr_expect_null(m.taskinfo);
    cr_assert_eq(m.errors, 1);
    cr_expect_str_eq(find(MIGRATE_ERROR, "")->text,
                     "no task id: give one with --name TID, or set sml.kstream.app.id");
    migrate(SOURCE_SINK "sml.kstream.app.id = ..\n" REST, NULL);
    cr_expect_null(m.taskinfo);
    const migrate_message_t *e = find(MIGRATE_ERROR, "");
    cr_expect_str_eq(e->text, "sml.kstream.app.id: '..' makes no task id (1 to 128 of A-Z a-z "
                              "0-9 . _ -): give one with --name TID");
    cr_expect_eq(e->line, 3);
    migrate(SOURCE_SINK "sml.kstream.app.id = ééé\n" REST, NULL);
    find(MIGRATE_ERROR, "sml.kstream.app.id: 'ééé' makes no task id");
    migrate(SOURCE_SINK "sml.kstream.app.id = a\n" REST, "no/such");
    cr_expect_null(m.taskinfo);
    cr_expect_str_eq(find(MIGRATE_ERROR, "")->text,
                     "--name 'no/such' is not a valid task id (1 to 128 of A-Z a-z 0-9 . _ -)");
}

Test(migrate, keys_without_effect_are_warned_about_and_left_out)
{
    static const char *const keys[][2] = {
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
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        char text[1024], want[512];
        snprintf(text, sizeof(text),
                 SOURCE_SINK "sml.kstream.app.id = a\nsml.kstream.schedule.ms = 20\n" REST
                             "%s = x.y.Z\n",
                 keys[i][0]);
        migrate(text, NULL);
        cr_assert_eq(m.errors, 0, "%s: %s", keys[i][0], m.messages[0].text);
        cr_expect_null(param(keys[i][0]), "%s is left out", keys[i][0]);
        cr_assert_eq(m.count, 1);
        snprintf(want, sizeof(want),
                 "%s: no effect here: %s; left out of the task (delete the line)", keys[i][0],
                 keys[i][1]);
        expect_message(0, MIGRATE_WARNING, 11, want);
    }
}

Test(migrate, a_model_file_in_rest_mode_has_no_effect)
{
    migrate(SOURCE_SINK "sml.kstream.app.id = a\nsml.kstream.model.b64file = /models/m.b64\n" REST,
            NULL);
    cr_assert_eq(m.errors, 0);
    cr_expect_null(param("sml.kstream.model.b64file"));
    expect_message(0, MIGRATE_WARNING, 4,
                   "sml.kstream.model.b64file: no effect here: with sml.kstream.rest = true the "
                   "model on the SymetryML server predicts; left out of the task (delete the "
                   "line)");
}

#define EXPORT_ERROR                                                                               \
    ": the file holds a model exported from a SymetryML server (a Base64 string), whose format "   \
    "is not published, so symtask cannot evaluate it: predict through the SymetryML server "       \
    "instead (sml.kstream.rest = true with sml.kstream.rest.host, sml.kstream.rest.user, "         \
    "sml.kstream.rest.secret, sml.kstream.project.id, sml.kstream.model.id), or name a model "     \
    "symtask reads (sml.predictor = linear and a linear or logistic model in JSON, or "            \
    "sml.predictor = xgboost and a model saved by XGBoost)"

Test(migrate, a_symetryml_export_is_an_error_that_says_what_to_do)
{
    const char *b64 = write_file("model.b64", "UEsDBBQAAAAIAGZ2o1gAAAAAAAAAAAAAAAAJAAAAbW9kZWwu\n"
                                              "eG1sbZBBb4MwDIXv+RVR7iOE3IZQtvWwSavUdtJ6Q4nL\n"
                                              "c2Vj==\n");
    char text[1024];
    snprintf(text, sizeof(text),
             SOURCE_SINK "sml.kstream.app.id = a\nsml.kstream.schedule.ms = 5000\n"
                         "sml.kstream.model.b64file = %s\n",
             b64);
    migrate(text, NULL);
    cr_expect_null(m.taskinfo);
    cr_assert_eq(m.count, 1, "the export's message only, not also the missing predictor's");
    expect_message(0, MIGRATE_ERROR, 5, "sml.kstream.model.b64file" EXPORT_ERROR);

    /* Under our own name for the model file too, with a predictor. */
    snprintf(text, sizeof(text),
             SOURCE_SINK "sml.kstream.app.id = a\nsml.kstream.schedule.ms = 5000\n"
                         "sml.predictor = linear\nsml.predictor.model = %s\n",
             b64);
    migrate(text, NULL);
    cr_assert_eq(m.count, 1);
    expect_message(0, MIGRATE_ERROR, 6, "sml.predictor.model" EXPORT_ERROR);
}

Test(migrate, a_model_symtask_reads_or_cannot_see_is_left_to_the_daemon)
{
    const char *json = write_file("model.json", "{\"kind\":\"linear\",\"features\":[\"x\"],"
                                                "\"weights\":[2],\"intercept\":1}");
    const char *short_text = write_file("short", "abc=\n");
    char text[1024];
    const char *paths[] = {json, short_text, "/nonexistent/model.b64", "model.b64", dir};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        snprintf(text, sizeof(text),
                 SOURCE_SINK "sml.kstream.app.id = a\nsml.kstream.schedule.ms = 5000\n"
                             "sml.predictor = linear\nsml.kstream.model.b64file = %s\n",
                 paths[i]);
        /* the relative path names a Base64 file in the current directory: not looked at */
        cr_assert_eq(chdir(dir), 0);
        write_file("model.b64", "UEsDBBQAAAAIAGZ2o1gAAAAAAAAAAAAAAAAJAAAAbW9kZWwu\n");
        migrate(text, NULL);
        cr_expect_eq(m.count, 0, "%s: %s", paths[i], m.count ? m.messages[0].text : "");
        cr_expect_str_eq(param("sml.kstream.model.b64file"), paths[i]);
    }
}

Test(migrate, no_predictor_says_how_to_predict)
{
    migrate(SOURCE_SINK "sml.kstream.app.id = a\nsml.kstream.schedule.ms = 5000\n", NULL);
    cr_expect_null(m.taskinfo);
    cr_assert_eq(m.count, 1);
    expect_message(0, MIGRATE_ERROR, 0,
                   "required key sml.predictor is missing: set sml.kstream.rest = true to predict "
                   "through a SymetryML server, or sml.predictor = linear or xgboost with "
                   "sml.kstream.model.b64file naming the model file");
    migrate(SOURCE_SINK "sml.kstream.app.id = a\nsml.kstream.rest = false\n", NULL);
    find(MIGRATE_ERROR, "required key sml.predictor is missing: set sml.kstream.rest = true");
}

Test(migrate, every_key_the_daemon_refuses_is_named_on_its_line)
{
    migrate(SOURCE_SINK "sml.kstream.app.id = a\n" REST
                        "sml.kstream.record.poll.max = 0\n"     /* line 10 */
                        "sml.kstream.scheduel.ms = 5000\n"      /* 11 */
                        "processing.guarantee = exactly_once\n" /* 12 */
                        "application.id = a\n"                  /* 13 */
                        "commit.interval.ms = 100\n"            /* 14 */
                        "linger.ms = soon\n"                    /* 15 */
                        "num.stream.threads = 2\n"              /* 16 */
                        "plugin.library.paths = /tmp/x.so\n",   /* 17 */
            NULL);
    cr_expect_null(m.taskinfo);
    cr_expect_eq(m.errors, 8);
    expect_message(0, MIGRATE_ERROR, 10,
                   "sml.kstream.record.poll.max: '0' is not a whole number from 1 to 1000000");
    expect_message(1, MIGRATE_ERROR, 11,
                   "sml.kstream.scheduel.ms: unknown sml.* key (check the spelling against the "
                   "TaskInfo parameters)");
    expect_message(2, MIGRATE_ERROR, 12,
                   "processing.guarantee: No such configuration property: "
                   "\"processing.guarantee\" (a setting of Kafka Streams; symtask's is "
                   "sml.kstream.guarantee, at_least_once or exactly_once)");
    expect_message(3, MIGRATE_ERROR, 13,
                   "application.id: No such configuration property: \"application.id\" (a "
                   "setting of Kafka Streams; symtask's is sml.kstream.app.id)");
    expect_message(4, MIGRATE_ERROR, 14,
                   "commit.interval.ms: No such configuration property: \"commit.interval.ms\" "
                   "(a setting of Kafka Streams; symtask's is sml.kstream.commit.interval.ms)");
    expect_message(5, MIGRATE_ERROR, 15,
                   "linger.ms: Invalid value for configuration property "
                   "\"queue.buffering.max.ms\"");
    expect_message(6, MIGRATE_ERROR, 16,
                   "num.stream.threads: No such configuration property: \"num.stream.threads\"");
    expect_message(7, MIGRATE_ERROR, 17,
                   "plugin.library.paths: not allowed in a task (it would load code into symtask)");
    expect_message(8, MIGRATE_NOTE, 0, SCHEDULE_NOTE);
}

Test(migrate, a_key_taken_out_is_not_reported_missing_again)
{
    migrate("sml.kstream.source.topic = in\nsml.kstream.sink.topic = in\n"
            "sml.kstream.app.id = a\n" REST,
            NULL);
    cr_assert_eq(m.errors, 1);
    expect_message(0, MIGRATE_ERROR, 2,
                   "sml.kstream.sink.topic: must differ from sml.kstream.source.topic (the task "
                   "would read its own output)");
    migrate("sml.kstream.sink.topic = out\nsml.kstream.app.id = a\n" REST, NULL);
    cr_assert_eq(m.errors, 1);
    cr_expect_str_eq(find(MIGRATE_ERROR, "")->text,
                     "required key sml.kstream.source.topic is missing");
    migrate(SOURCE_SINK "sml.kstream.app.id = a\n" REST "sml.predictor = linear\n", NULL);
    find(MIGRATE_ERROR, "sml.kstream.rest: true predicts through a SymetryML server (predictor "
                        "symetryml), but sml.predictor is linear: leave one of them out");
}

Test(migrate, secret_values_stay_out_of_the_messages)
{
    migrate(SOURCE_SINK "sml.kstream.app.id = a\n" REST
                        "ssl.endpoint.identification.algorithm = hunter2-secret\n"
                        "ssl.key.password = hunter3-secret  \n",
            NULL);
    for (size_t i = 0; i < m.count; i++) {
        cr_expect_null(strstr(m.messages[i].text, "hunter"), "%s", m.messages[i].text);
        cr_expect_null(strstr(m.messages[i].text, "MDEyMzQ1"), "%s", m.messages[i].text);
    }
    find(MIGRATE_ERROR, "ssl.endpoint.identification.algorithm: invalid value (not shown: secret)");
    find(MIGRATE_WARNING, "ssl.key.password: the value ends in whitespace");
}

Test(migrate, a_key_given_twice_counts_once_and_is_said)
{
    migrate(SOURCE_SINK "sml.kstream.app.id = a\n" REST "sml.kstream.record.poll.max = 10\n"
                        "sml.kstream.record.poll.max = 20\n",
            NULL);
    cr_expect_str_eq(param("sml.kstream.record.poll.max"), "20");
    expect_message(0, MIGRATE_WARNING, 11,
                   "sml.kstream.record.poll.max: also set on line 10: this last one counts, as in "
                   "Java; delete the other");
}

Test(migrate, trailing_whitespace_is_said)
{
    migrate(SOURCE_SINK "sml.kstream.app.id = a\n" REST "sml.kstream.schedule.ms = 100\n"
                        "bootstrap.servers = k:9092 \n"
                        "client.rack = r\\ \n",
            NULL);
    cr_assert_eq(m.count, 1, "an escaped space is meant");
    expect_message(0, MIGRATE_WARNING, 11,
                   "bootstrap.servers: the value ends in whitespace, which is part of it (as in "
                   "Java): delete it, or write it as '\\ ' if it is meant");
    cr_expect_str_eq(param("bootstrap.servers"), "k:9092 ");
    migrate(SOURCE_SINK "sml.kstream.app.id = a\n" REST "sml.kstream.schedule.ms = 100 \n", NULL);
    find(MIGRATE_WARNING, "sml.kstream.schedule.ms: the value ends in whitespace");
    find(MIGRATE_ERROR, "sml.kstream.schedule.ms: '100 ' is not a whole number");
}

Test(migrate, a_schema_registry_without_a_serializer_means_avro)
{
    migrate(SOURCE_SINK "sml.kstream.app.id = a\n" REST "sml.kstream.schedule.ms = 100\n"
                        "schema.registry.url = http://registry:8081\n",
            NULL);
    cr_assert_eq(m.errors, 0);
    cr_expect_str_eq(param("sml.serializer"), "avro");
    cr_expect_str_eq(param("schema.registry.url"), "http://registry:8081");
    cr_assert_eq(m.count, 1);
    expect_message(0, MIGRATE_NOTE, 11,
                   "sml.serializer is not set: the records are read as Avro through the schema "
                   "registry (sml.serializer = avro), as the original read them; symtask's "
                   "default is json");
    migrate(SOURCE_SINK "sml.kstream.app.id = a\n" REST "sml.kstream.schedule.ms = 100\n"
                        "schema.registry.url = http://registry:8081\nsml.serializer = json\n",
            NULL);
    cr_expect_str_eq(param("sml.serializer"), "json", "the file's choice stands");
    cr_expect_eq(m.count, 0);
}

Test(migrate, a_latin1_file_is_noted)
{
    migrate(SOURCE_SINK "sml.kstream.app.id = caf\xe9\nsml.kstream.schedule.ms = 1\n" REST, NULL);
    cr_expect_str_eq(param("sml.kstream.app.id"), "café");
    find(MIGRATE_NOTE, "not UTF-8: read as ISO 8859-1, as Java's Properties.load of a stream "
                       "reads it");
}

Test(migrate, messages_follow_the_lines_of_the_file)
{
    migrate("enable.auto.commit = true\n" SOURCE_SINK "sml.kstream.app.id = a b\n" REST
            "key.serializer = k\n",
            NULL);
    cr_assert_eq(m.count, 4);
    cr_expect_eq(m.messages[0].line, 1);
    cr_expect_eq(m.messages[1].line, 4);
    cr_expect_eq(m.messages[2].line, 11);
    cr_expect_eq(m.messages[3].line, 0, "the whole file's last");
}
