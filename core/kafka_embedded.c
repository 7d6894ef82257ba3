/* kafka_embedded.c: the in-process loopback Kafka cluster (librdkafka's mock cluster). */
#include "kafka_embedded.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"

struct embedded_kafka {
    rd_kafka_t *rk; /* the handle the mock cluster lives in */
    rd_kafka_mock_cluster_t *mcluster;
    unsigned partitions;
    unsigned replication;
};

embedded_kafka_t *embedded_kafka_start(unsigned brokers, unsigned partitions, char *errstr,
                                       size_t errstr_size)
{
    embedded_kafka_t *ek = calloc(1, sizeof(*ek));
    char rkerr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (ek == NULL || conf == NULL)
        goto error;
    /* The handle only hosts the cluster; keep its own logging quiet. */
    rd_kafka_conf_set(conf, "log_level", "3", NULL, 0);
    ek->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, rkerr, sizeof(rkerr));
    if (ek->rk == NULL) {
        snprintf(errstr, errstr_size, "embedded Kafka: cannot create a client: %s", rkerr);
        goto error; /* rd_kafka_new takes the conf only on success */
    }
    conf = NULL; /* owned by ek->rk now */
    ek->mcluster = rd_kafka_mock_cluster_new(ek->rk, (int)brokers);
    if (ek->mcluster == NULL) {
        snprintf(errstr, errstr_size, "embedded Kafka: cannot start a %u-broker cluster", brokers);
        goto error;
    }
    ek->partitions = partitions;
    ek->replication = brokers < 3 ? brokers : 3;
    log_info(NULL, "embedded Kafka cluster (%u broker%s) listening on %s", brokers,
             brokers == 1 ? "" : "s", rd_kafka_mock_cluster_bootstraps(ek->mcluster));
    return ek;

error:
    if (conf != NULL)
        rd_kafka_conf_destroy(conf);
    embedded_kafka_stop(ek);
    return NULL;
}

const char *embedded_kafka_bootstraps(const embedded_kafka_t *ek)
{
    return rd_kafka_mock_cluster_bootstraps(ek->mcluster);
}

int embedded_kafka_topic_create(embedded_kafka_t *ek, const char *topic, char *errstr,
                                size_t errstr_size)
{
    rd_kafka_resp_err_t err =
        rd_kafka_mock_topic_create(ek->mcluster, topic, (int)ek->partitions, (int)ek->replication);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
        return 0;
    snprintf(errstr, errstr_size, "embedded Kafka: cannot create topic %s: %s", topic,
             rd_kafka_err2str(err));
    return -1;
}

void embedded_kafka_stop(embedded_kafka_t *ek)
{
    if (ek == NULL)
        return;
    if (ek->mcluster != NULL)
        rd_kafka_mock_cluster_destroy(ek->mcluster);
    if (ek->rk != NULL)
        rd_kafka_destroy(ek->rk);
    free(ek);
}
