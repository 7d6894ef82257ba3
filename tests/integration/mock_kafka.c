/* mock_kafka.c: a Kafka cluster of its own for the cluster tests, in a process apart from
 * every symtaskd node (librdkafka's mock cluster). Prints its bootstrap servers on the first
 * line of stdout, then creates the topics named on stdin ("NAME PARTITIONS" lines, answered
 * "ok NAME" or "error NAME: ..."), and exits at end of file on stdin or on SIGTERM.
 *
 *     symtask-test-kafka [BROKERS]
 */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <signal.h>

int main(int argc, char **argv)
{
    int brokers = argc > 1 ? atoi(argv[1]) : 1;
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", NULL, 0);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (rk == NULL) {
        fprintf(stderr, "mock_kafka: %s\n", errstr);
        return 1;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, brokers < 1 ? 1 : brokers);
    if (mc == NULL) {
        fprintf(stderr, "mock_kafka: cannot start the mock cluster\n");
        return 1;
    }
    printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
    fflush(stdout);
    char line[512];
    while (fgets(line, sizeof(line), stdin) != NULL) {
        char name[300];
        int parts;
        if (sscanf(line, "%299s %d", name, &parts) != 2 || parts < 1) {
            printf("error: expected NAME PARTITIONS\n");
        } else {
            rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mc, name, parts, 1);
            if (err != 0 && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
                printf("error %s: %s\n", name, rd_kafka_err2str(err));
            else
                printf("ok %s\n", name);
        }
        fflush(stdout);
    }
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return 0;
}
