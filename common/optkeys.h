/* optkeys.h: task params outside sml.* that are options of plugins, not librdkafka
 * properties. Private to symtask. */
#ifndef SYMTASK_COMMON_OPTKEYS_H
#define SYMTASK_COMMON_OPTKEYS_H

#include <stdbool.h>

/* True for a key that plugins declare and read although it lies outside sml.*: the schema
 * registry's settings, named as Confluent's Kafka clients name them (`schema.registry.*`,
 * e.g. schema.registry.url). common/taskinfo.c does not check such a key with librdkafka,
 * workers/kafka.c does not hand it to the Kafka clients, and the worker's loader refuses
 * one that no plugin of the task declares. */
bool optkeys_is_plugin_option(const char *key);

#endif
