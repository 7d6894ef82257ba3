/* stages.c: the plugin stages of a worker's main thread without Kafka (bench/README.md):
 * batches of the benchmark's JSON records through workers/stages.c as the pipeline runs
 * them (decode each record, predict the batch, encode each record), timed by the thread's
 * CPU clock, best of the rounds. The records are driver.c's (records.h).
 *
 * Usage: stages PLUGIN_DIR PREDICTOR MODEL [RECORDS] [ROUNDS] [decode]
 *   prints: stages predictor=... mode=all|decode ns_per_record=... (best of ROUNDS)
 * With "decode" only the records' decoding is timed (no predict, no encode). */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "records.h"
#include "stages.h"

#define BATCH 500
#define BATCHES 40 /* distinct records: 20000, cycled */

static double thread_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: stages PLUGIN_DIR PREDICTOR MODEL [RECORDS] [ROUNDS] [decode]\n");
        return 2;
    }
    long n = argc > 4 ? atol(argv[4]) : 200000, rounds = argc > 5 ? atol(argv[5]) : 9;
    int decode_only = argc > 6 && strcmp(argv[6], "decode") == 0;
    char errstr[1024];
    json_t *params = json_pack("{s:s,s:s,s:s,s:s,s:s}", "sml.serializer", "json", "sml.predictor",
                               argv[2], "sml.predictor.model", argv[3], "sml.kstream.source.topic",
                               "in", "sml.kstream.sink.topic", "out");
    stages_t *st = stages_open(params, argv[1], BATCH, errstr, sizeof(errstr));
    if (st == NULL) {
        fprintf(stderr, "stages: %s\n", errstr);
        return 1;
    }
    static char text[BATCH * BATCHES][RECORD_TEXT_MAX];
    static symtask_record_t records[BATCH * BATCHES];
    for (size_t i = 0; i < BATCH * BATCHES; i++)
        records[i] = (symtask_record_t){.value = text[i], .len = record_text(text[i], i, 0)};
    symtask_buf_t out;
    buf_init(&out);
    double best = 0;
    size_t written = 0;
    for (long r = 0; r < rounds; r++) {
        double t0 = thread_ns();
        for (long done = 0; done < n; done += BATCH) {
            const symtask_record_t *batch = records + (done / BATCH % BATCHES) * BATCH;
            size_t row;
            stages_begin(st);
            for (size_t i = 0; i < BATCH; i++)
                if (stages_decode(st, &batch[i], &row, errstr, sizeof(errstr)) != SYMTASK_OK) {
                    fprintf(stderr, "stages: decode: %s\n", errstr);
                    return 1;
                }
            if (decode_only)
                continue;
            if (stages_predict(st, errstr, sizeof(errstr)) != SYMTASK_OK) {
                fprintf(stderr, "stages: predict: %s\n", errstr);
                return 1;
            }
            for (size_t i = 0; i < BATCH; i++) {
                buf_reset(&out);
                if (stages_encode(st, i, &batch[i], &out, errstr, sizeof(errstr)) != SYMTASK_OK) {
                    fprintf(stderr, "stages: encode: %s\n", errstr);
                    return 1;
                }
                written += out.len;
            }
        }
        double ns = (thread_ns() - t0) / (double)n;
        if (r == 0 || ns < best)
            best = ns;
    }
    printf("stages predictor=%s mode=%s ns_per_record=%.1f (best of %ld rounds of %ld; %zu bytes "
           "out)\n",
           argv[2], decode_only ? "decode" : "all", best, rounds, n, written);
    buf_free(&out);
    stages_close(st);
    json_decref(params);
    return 0;
}
