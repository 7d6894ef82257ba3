/* xgb_micro.c: rows per second of the xgboost plugin's native engine against XGBoost's
 * XGBoosterPredictFromDense, on the same batches, one thread each (bench/README.md).
 *
 * Usage: xgb_micro MODEL.json|MODEL.ubj [BATCH_ROWS] [SECONDS] [ROUNDS]
 *
 * Rows are the benchmark's records: every feature 0.0 to 9.9 in steps of 0.1, drawn from the
 * row's number (the same generator as driver.c), 1/32 of them missing in a second batch set.
 * Before timing, every prediction of both engines on every batch is compared bit for bit.
 * Then rounds alternate the two engines, each predicting batch after batch for SECONDS;
 * prints one line per round, which bench/run reads, and the medians:
 *   round=1 native_rps=... xgboost_rps=... ratio=...
 * Also prints the model's compiled size and the resident memory the compiled forest costs
 * (VmRSS before and after compiling, the file's bytes and the trees' arrays freed). */
#include <inttypes.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xgboost/c_api.h>

#include "../plugins/predictors/xgboost/xgb_internal.h"
#include "records.h"

#define PREDICT_CONFIG                                                                             \
    "{\"type\":0,\"training\":false,\"iteration_begin\":0,\"iteration_end\":0,"                    \
    "\"strict_shape\":false,\"cache_id\":0,\"missing\":NaN}"
#define BATCHES 64

static double now(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static long rss_kib(void)
{
    char line[256];
    long kib = -1;
    FILE *f = fopen("/proc/self/status", "r");

    while (f != NULL && fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    if (f != NULL)
        fclose(f);
    return kib;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
    const char *path;
    size_t rows, nf, per_row, len, i, b;
    double seconds, t0, *x, *native_rps, *xgb_rps, *ratio;
    int rounds, round, ubj;
    unsigned char *data;
    float *xf, *out;
    long rss_before, rss_after;
    char why[512], values[256];
    xgb_model_t model;
    xgb_forest_t *forest;
    xgb_forest_stats_t stats;
    BoosterHandle booster;
    FILE *f;

    if (argc < 2) {
        fprintf(stderr, "usage: %s MODEL.json|MODEL.ubj [BATCH_ROWS] [SECONDS] [ROUNDS]\n",
                argv[0]);
        return 2;
    }
    path = argv[1];
    rows = argc > 2 ? (size_t)atol(argv[2]) : 500;
    seconds = argc > 3 ? atof(argv[3]) : 2.0;
    rounds = argc > 4 ? atoi(argv[4]) : 5;
    len = strlen(path);
    ubj = len > 4 && strcmp(path + len - 4, ".ubj") == 0;

    f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    len = (size_t)ftell(f);
    rewind(f);
    data = malloc(len);
    if (data == NULL || fread(data, 1, len, f) != len) {
        fprintf(stderr, "%s: cannot read\n", path);
        return 1;
    }
    fclose(f);

    /* The native engine, as the plugin builds it. */
    malloc_trim(0);
    rss_before = rss_kib();
    if (xgb_model_read(data, len, ubj, &model, why, sizeof(why)) != 0 ||
        xgb_model_check(&model, why, sizeof(why)) != 0) {
        fprintf(stderr, "%s: %s\n", path, why);
        return 1;
    }
    forest = xgb_forest_compile(&model, why, sizeof(why));
    if (forest == NULL) {
        fprintf(stderr, "%s: %s\n", path, why);
        return 1;
    }
    nf = (size_t)model.num_feature;
    xgb_model_free(&model);
    malloc_trim(0);
    rss_after = rss_kib();
    xgb_forest_stats(forest, &stats);
    per_row = xgb_forest_per_row(forest);

    /* XGBoost, one thread. */
    if (XGBoosterCreate(NULL, 0, &booster) != 0 ||
        XGBoosterSetParam(booster, "nthread", "1") != 0 ||
        XGBoosterLoadModelFromBuffer(booster, data, len) != 0) {
        fprintf(stderr, "%s: XGBoost: %s\n", path, XGBGetLastError());
        return 1;
    }
    free(data);

    x = malloc(BATCHES * rows * nf * sizeof(*x));
    xf = malloc(BATCHES * rows * nf * sizeof(*xf));
    out = malloc(rows * per_row * sizeof(*out));
    native_rps = calloc((size_t)rounds, sizeof(double));
    xgb_rps = calloc((size_t)rounds, sizeof(double));
    ratio = calloc((size_t)rounds, sizeof(double));
    if (x == NULL || xf == NULL || out == NULL || native_rps == NULL || xgb_rps == NULL ||
        ratio == NULL) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    for (i = 0; i < BATCHES * rows * nf; i++) {
        uint64_t id = i / nf, feature = i % nf;
        unsigned v = record_tenths(id, feature, nf);

        x[i] = v / 10.0;
        /* the second half of the batches: 1/32 of the values missing */
        if (id >= BATCHES / 2 * rows && splitmix64(~i) % 32 == 0)
            x[i] = NAN;
        xf[i] = (float)x[i];
    }

    /* Both engines agree on every batch, bit for bit. */
    for (b = 0; b < BATCHES; b++) {
        const bst_ulong *shape;
        const float *ref;
        bst_ulong dim;

        snprintf(values, sizeof(values),
                 "{\"data\":[%" PRIuPTR ",true],\"shape\":[%zu,%zu],\"typestr\":\"<f4\","
                 "\"version\":3}",
                 (uintptr_t)(xf + b * rows * nf), rows, nf);
        if (XGBoosterPredictFromDense(booster, values, PREDICT_CONFIG, NULL, &shape, &dim, &ref) !=
            0) {
            fprintf(stderr, "XGBoost: %s\n", XGBGetLastError());
            return 1;
        }
        xgb_forest_predict(forest, x + b * rows * nf, rows, out);
        if (memcmp(ref, out, rows * per_row * sizeof(float)) != 0) {
            for (i = 0; i < rows * per_row; i++)
                if (memcmp(&ref[i], &out[i], sizeof(float)) != 0)
                    break;
            fprintf(stderr, "batch %zu value %zu: native %.9g, XGBoost %.9g\n", b, i,
                    (double)out[i], (double)ref[i]);
            return 1;
        }
    }

    printf("model %s: %zu features, %zu trees (%zu complete, %zu sparse, %zu general), %zu "
           "nodes, depth up to %u\n",
           path, nf, stats.trees, stats.complete, stats.sparse, stats.general, stats.nodes,
           stats.max_depth);
    printf("compiled: %.1f KiB; file %.1f KiB; RSS %ld -> %ld KiB (+%ld KiB)\n",
           (double)stats.bytes / 1024, (double)len / 1024, rss_before, rss_after,
           rss_after - rss_before);
    printf("batches of %zu rows, %.1f s per engine per round, %d rounds; outputs identical\n", rows,
           seconds, rounds);
    for (round = 0; round < rounds; round++) {
        size_t done = 0;

        t0 = now();
        for (b = 0; now() - t0 < seconds; b = (b + 1) % BATCHES, done += rows)
            xgb_forest_predict(forest, x + b * rows * nf, rows, out);
        native_rps[round] = (double)done / (now() - t0);

        done = 0;
        t0 = now();
        for (b = 0; now() - t0 < seconds; b = (b + 1) % BATCHES, done += rows) {
            const bst_ulong *shape;
            const float *ref;
            bst_ulong dim;

            /* converting the batch is part of the plugin's work with XGBoost too */
            for (i = 0; i < rows * nf; i++)
                xf[b * rows * nf + i] = (float)x[b * rows * nf + i];
            snprintf(values, sizeof(values),
                     "{\"data\":[%" PRIuPTR ",true],\"shape\":[%zu,%zu],\"typestr\":\"<f4\","
                     "\"version\":3}",
                     (uintptr_t)(xf + b * rows * nf), rows, nf);
            XGBoosterPredictFromDense(booster, values, PREDICT_CONFIG, NULL, &shape, &dim, &ref);
        }
        xgb_rps[round] = (double)done / (now() - t0);
        ratio[round] = native_rps[round] / xgb_rps[round];
        printf("round=%d native_rps=%.0f xgboost_rps=%.0f ratio=%.3f\n", round + 1,
               native_rps[round], xgb_rps[round], ratio[round]);
    }
    printf("median: native rows/s=%.0f (%.3f us/row) xgboost rows/s=%.0f (%.3f us/row) "
           "ratio=%.2f\n",
           median(native_rps, rounds), 1e6 / median(native_rps, rounds), median(xgb_rps, rounds),
           1e6 / median(xgb_rps, rounds), median(ratio, rounds));
    XGBoosterFree(booster);
    xgb_forest_free(forest);
    free(x);
    free(xf);
    free(out);
    free(native_rps);
    free(xgb_rps);
    free(ratio);
    return 0;
}
