/* watch.h: `symtask watch`, a live view of tasks refreshed every second: plain ANSI on a
 * terminal (so it works over ssh), plain lines otherwise. Private to client/. */
#ifndef SYMTASK_CLIENT_WATCH_H
#define SYMTASK_CLIENT_WATCH_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

/* Fetches the tasks to show: a JSON array of status maps (GET /tasks/{tid}'s keys, plus
 * "name"), a new reference; or NULL with the reason in @errstr and *@fatal set when going on
 * cannot help (a task that does not exist, a bad secret). */
typedef json_t *(*watch_fetch_fn)(void *arg, int *fatal, char *errstr, size_t errstr_size);

typedef struct watch_config {
    watch_fetch_fn fetch;
    void *arg;
    const char *title; /* the first line on a terminal: "c1 at http://..." */
    int count;         /* refreshes before the end; 0: until q or Ctrl-C */
    int interval_ms;   /* between refreshes (1000) */
} watch_config_t;

/* Runs the view on stdout until q (read from a terminal stdin), Ctrl-C, SIGTERM or @count
 * refreshes; the terminal is restored whichever ends it. Returns the exit status: 0, or 1
 * after a fatal fetch error (printed on stderr). */
int watch_run(const watch_config_t *cfg);

/* One task's figures between two refreshes, for both views. */
typedef struct watch_row {
    char name[129];
    char status[32];
    double in_rate, out_rate; /* records/s; < 0: not known yet (first refresh) */
    char lag[32];             /* "" while unknown */
    char dead_letters[32];
    char last_error[1024];
} watch_row_t;

/* Turns @maps (a fetch's answer) into rows, the rates from the counters of @previous (the
 * last refresh's maps, may be NULL) over @elapsed_ms. Returns the row count; @rows holds at
 * most @cap. */
size_t watch_rows(json_t *maps, json_t *previous, int64_t elapsed_ms, watch_row_t *rows,
                  size_t cap);

/* One plain line per row: "TIME TASK status=.. in/s=.. out/s=.. lag=.. deadLetters=..
 * lastError="..."" (lastError JSON-quoted). */
void watch_print_lines(FILE *out, const char *time_iso, const watch_row_t *rows, size_t n);

#endif
