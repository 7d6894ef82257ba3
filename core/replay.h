/* replay.h: refuses a verified request signature seen before within the Sym-date window
 * (API.md "Security", replay protection). Private to core/. */
#ifndef SYMTASK_CORE_REPLAY_H
#define SYMTASK_CORE_REPLAY_H

#include <stddef.h>
#include <time.h>

#include "auth.h"

/* A guard: a bounded set of signatures accepted within the date window. Not thread-safe:
 * one guard per event loop, or the caller serialises the calls. */
typedef struct replay replay_t;

enum {
    REPLAY_OK = 0,      /* new: accepted and remembered */
    REPLAY_SEEN = 1,    /* accepted before, and still remembered */
    REPLAY_TOO_OLD = 2, /* dated at or before the horizon, or outside the window: the guard
                         * cannot prove it new */
};

/* Seconds after its Sym-date that an accepted signature is remembered: as long as
 * auth_verify could still accept its date, plus one second of margin. An entry expires
 * when now > sym_date + REPLAY_TTL_S. */
#define REPLAY_TTL_S (AUTH_DATE_MAX_PAST_S + 1)

/* Creates a guard remembering at most @capacity signatures (1 to 2^30). Everything it
 * will ever use is allocated here; replay_check never allocates. Calls sodium_init().
 * NULL on a capacity out of range or out of memory. */
replay_t *replay_new(size_t capacity);

/* Frees @r; NULL is a no-op. */
void replay_free(replay_t *r);

/* Decides whether a request whose signature auth_verify has just verified may proceed.
 * @signature (@sig_len bytes, any content) is the request's Authorization value,
 * @sym_date its parsed Sym-date (sign_parse_date), @now the clock auth_verify used.
 *
 * First forgets every remembered entry that expired at @now. Then returns:
 * - REPLAY_SEEN when @signature is remembered (whatever @sym_date comes with it);
 * - REPLAY_TOO_OLD when @sym_date is at or before the horizon, or would already be
 *   expired at @now (auth_verify refuses such a date first, but remembering it would be
 *   pointless and accepting it unremembered would allow a replay);
 * - REPLAY_TOO_OLD when the guard is full and @sym_date is at or before the oldest
 *   remembered date: making room would raise the horizon over @sym_date anyway;
 * - otherwise REPLAY_OK, having remembered @signature until it expires. When the guard is
 *   full, the entry with the oldest date (the earliest accepted among equal dates) is
 *   evicted first and the horizon raised to its date, because a replay of that signature
 *   could no longer be recognised: from then on any request dated at or before the horizon
 *   is refused. So a signature is never accepted twice within the window, and under a
 *   flood of distinct valid requests some old-but-valid requests are refused instead. The
 *   horizon stops mattering once it falls out of the window.
 * Only a fixed-size keyed digest of @signature is kept; O(log capacity) per call. */
int replay_check(replay_t *r, const char *signature, size_t sig_len, time_t sym_date, time_t now);

/* How many signatures @r remembers, as of its last replay_check; at most its capacity. */
size_t replay_count(const replay_t *r);

#endif
