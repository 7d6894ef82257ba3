/* kafka_embedded.h: the in-process loopback Kafka cluster (librdkafka's mock cluster) for
 * development, demos and tests. Private to core/. Not for data you keep: it holds about
 * 5 MiB or 100,000 message sets per partition and silently drops older data. */
#ifndef SYMTASK_CORE_KAFKA_EMBEDDED_H
#define SYMTASK_CORE_KAFKA_EMBEDDED_H

#include <stddef.h>

typedef struct embedded_kafka embedded_kafka_t;

/* Starts a cluster of @brokers brokers on 127.0.0.1 (ephemeral ports). New topics the
 * daemon creates get @partitions partitions. */
embedded_kafka_t *embedded_kafka_start(unsigned brokers, unsigned partitions, char *errstr,
                                       size_t errstr_size);

/* "127.0.0.1:PORT,..." (valid until stop). */
const char *embedded_kafka_bootstraps(const embedded_kafka_t *ek);

/* Creates @topic unless it exists. 0 on success or when it exists. */
int embedded_kafka_topic_create(embedded_kafka_t *ek, const char *topic, char *errstr,
                                size_t errstr_size);

void embedded_kafka_stop(embedded_kafka_t *ek);

#endif
