/* records.h: the benchmark's records, the same in every program that makes them
 * (driver.c, stages.c, xgb_micro.c): feature f of record id is splitmix64(id * n + f) mod
 * 100 tenths, 0.0 to 9.9. Private to bench/. */
#ifndef SYMTASK_BENCH_RECORDS_H
#define SYMTASK_BENCH_RECORDS_H

#include <stdint.h>
#include <stdio.h>

#define RECORD_FEATURES 16
#define RECORD_TEXT_MAX 256 /* room for a JSON or CSV record and its NUL */

static inline uint64_t splitmix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* Feature @f of record @id of @n features, in tenths (0 to 99). */
static inline unsigned record_tenths(uint64_t id, uint64_t f, uint64_t n)
{
    return (unsigned)(splitmix64(id * n + f) % 100);
}

/* Record @id of RECORD_FEATURES features as JSON ({"x0":3.4,...}) or, when @csv, a CSV line
 * (3.4,...) into @out (RECORD_TEXT_MAX bytes), NUL-terminated; returns its length. */
static inline size_t record_text(char *out, uint64_t id, int csv)
{
    size_t n = 0;
    if (!csv)
        out[n++] = '{';
    for (int f = 0; f < RECORD_FEATURES; f++) {
        unsigned v = record_tenths(id, (uint64_t)f, RECORD_FEATURES);
        if (f > 0)
            out[n++] = ',';
        if (!csv)
            n += (size_t)sprintf(out + n, "\"x%d\":", f);
        n += (size_t)sprintf(out + n, "%u.%u", v / 10, v % 10);
    }
    if (!csv)
        out[n++] = '}';
    out[n] = '\0';
    return n;
}

#endif
