/* migrate.h: a task of SymetryML's Kafka stream application (its properties file) as a
 * TaskInfo: which keys symtask takes, and what it says of the others. Private to client/. */
#ifndef SYMTASK_CLIENT_MIGRATE_H
#define SYMTASK_CLIENT_MIGRATE_H

#include <jansson.h>
#include <stddef.h>

#include "properties.h"

typedef enum migrate_level {
    MIGRATE_NOTE,    /* a default or a choice that differs from the original's */
    MIGRATE_WARNING, /* a key without effect here, left out; the task is still made */
    MIGRATE_ERROR,   /* the daemon would refuse the task: nothing is sent */
} migrate_level_t;

typedef struct migrate_message {
    migrate_level_t level;
    unsigned line; /* the line of the key it is about; 0: about the whole file */
    char text[768];
} migrate_message_t;

typedef struct migrate {
    json_t *taskinfo;            /* {"type":"kstream","name":TID,"params":{...}} to send; NULL after
                                  * an error */
    migrate_message_t *messages; /* ordered by line, those about the whole file last */
    size_t count;
    size_t errors;
} migrate_t;

/* Builds the TaskInfo of the entries of @props: the task id is @name (--name) when it is not
 * NULL, else made from sml.kstream.app.id; the params are the file's keys, but those that
 * have no effect in symtask (warned about), and sml.serializer = avro when the file names a
 * schema registry but no serializer (noted). The TaskInfo is checked with taskinfo_validate
 * (common/taskinfo.c), the daemon's own checks, key by key, so that every refused key gets
 * its message; what only the plugins can check (their options, model files) is left to the
 * daemon, but for a model file the client can read that holds a model exported from a
 * SymetryML server. Returns 0 (errors are messages), -1 out of memory. */
int migrate_properties(const props_t *props, const char *name, migrate_t *out);

void migrate_free(migrate_t *m);

#endif
