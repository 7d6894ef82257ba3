/* test_replay.c: unit tests of core/replay.c, including a randomized run against a naive model. */
#include <criterion/criterion.h>

#include <inttypes.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "replay.h"

/* An arbitrary clock; every test passes time explicitly, none sleeps. */
#define T ((time_t)1795874108)

static replay_t *r;

static void teardown(void)
{
    replay_free(r);
    r = NULL;
}

/* Checks the signature named @name, dated @date, at @now. */
static int check(const char *name, time_t date, time_t now)
{
    return replay_check(r, name, strlen(name), date, now);
}

/* A distinct 44-character signature per @id, shaped like a base64 HMAC-SHA256. */
static void sig_of(uint64_t id, char out[45])
{
    snprintf(out, 45, "%043" PRIu64 "=", id);
}

static int check_id(uint64_t id, time_t date, time_t now)
{
    char sig[45];
    sig_of(id, sig);
    return replay_check(r, sig, strlen(sig), date, now);
}

TestSuite(replay, .fini = teardown);

Test(replay, new_refuses_a_capacity_out_of_range)
{
    cr_assert_null(replay_new(0));
    cr_assert_null(replay_new(((size_t)1 << 30) + 1));
    replay_free(NULL);
}

Test(replay, accepts_once_then_refuses_as_seen)
{
    r = replay_new(16);
    cr_assert_not_null(r);
    cr_assert_eq(check("sigA", T, T), REPLAY_OK);
    cr_assert_eq(check("sigA", T, T), REPLAY_SEEN);
    cr_assert_eq(check("sigA", T, T + 300), REPLAY_SEEN);
    /* Whatever date it comes with: the signature is what was accepted. */
    cr_assert_eq(check("sigA", T + 5, T + 5), REPLAY_SEEN);
    cr_assert_eq(replay_count(r), 1);
}

Test(replay, compares_every_byte_of_the_signature)
{
    static const char a[] = "same\0prefix-a", b[] = "same\0prefix-b";
    r = replay_new(16);
    cr_assert_eq(replay_check(r, a, sizeof(a) - 1, T, T), REPLAY_OK);
    cr_assert_eq(replay_check(r, b, sizeof(b) - 1, T, T), REPLAY_OK);
    cr_assert_eq(replay_check(r, a, 4, T, T), REPLAY_OK);
    cr_assert_eq(replay_check(r, "", 0, T, T), REPLAY_OK);
    cr_assert_eq(replay_check(r, b, sizeof(b) - 1, T, T), REPLAY_SEEN);
    cr_assert_eq(replay_check(r, "", 0, T, T), REPLAY_SEEN);
}

Test(replay, accepts_distinct_signatures_up_to_capacity)
{
    uint64_t i;
    r = replay_new(1000);
    for (i = 0; i < 1000; i++)
        cr_assert_eq(check_id(i, T, T), REPLAY_OK, "signature %" PRIu64, i);
    cr_assert_eq(replay_count(r), 1000);
    for (i = 0; i < 1000; i++)
        cr_assert_eq(check_id(i, T, T + 1), REPLAY_SEEN, "signature %" PRIu64, i);
    cr_assert_eq(replay_count(r), 1000);
}

Test(replay, forgets_a_signature_once_its_date_is_out_of_the_window)
{
    r = replay_new(16);
    cr_assert_eq(check("sigA", T, T), REPLAY_OK);
    /* Remembered up to sym_date + AUTH_DATE_MAX_PAST_S + 1 included. */
    cr_assert_eq(REPLAY_TTL_S, AUTH_DATE_MAX_PAST_S + 1);
    cr_assert_eq(check("sigA", T, T + REPLAY_TTL_S), REPLAY_SEEN);
    /* Past that, a request with that date cannot be remembered, so it is refused... */
    cr_assert_eq(check("sigA", T, T + REPLAY_TTL_S + 1), REPLAY_TOO_OLD);
    cr_assert_eq(replay_count(r), 0);
    /* ...but the same bytes dated in the window are new again. */
    cr_assert_eq(check("sigA", T + REPLAY_TTL_S + 1, T + REPLAY_TTL_S + 1), REPLAY_OK);
    cr_assert_eq(check("sigA", T + REPLAY_TTL_S + 1, T + REPLAY_TTL_S + 1), REPLAY_SEEN);
    cr_assert_eq(replay_count(r), 1);
}

Test(replay, expires_by_date_not_by_arrival)
{
    r = replay_new(16);
    /* Dates out of order, all in the window at T + 60 (up to 60 s ahead is accepted). */
    cr_assert_eq(check("a", T + 40, T), REPLAY_OK);
    cr_assert_eq(check("b", T - 200, T), REPLAY_OK);
    cr_assert_eq(check("c", T + 60, T), REPLAY_OK);
    cr_assert_eq(check("d", T - 100, T), REPLAY_OK);
    cr_assert_eq(check("e", T, T), REPLAY_OK);
    cr_assert_eq(replay_count(r), 5);

    /* b, then d, then e, a, c, whatever the order they came in. */
    cr_assert_eq(check("x", T + 10, T - 200 + REPLAY_TTL_S + 1), REPLAY_OK);
    cr_assert_eq(replay_count(r), 5);
    cr_assert_eq(check("d", T - 100, T - 100 + REPLAY_TTL_S), REPLAY_SEEN);
    cr_assert_eq(check("a", T + 40, T - 100 + REPLAY_TTL_S + 1), REPLAY_SEEN);
    cr_assert_eq(replay_count(r), 4);
    cr_assert_eq(check("c", T + 60, T + REPLAY_TTL_S + 1), REPLAY_SEEN);
    cr_assert_eq(replay_count(r), 3); /* a, c, x */
    cr_assert_eq(check("c", T + 60, T + 60 + REPLAY_TTL_S + 1), REPLAY_TOO_OLD);
    cr_assert_eq(replay_count(r), 0);
}

Test(replay, evicts_the_oldest_date_when_full_and_raises_the_horizon)
{
    r = replay_new(3);
    cr_assert_eq(check("a", T - 100, T), REPLAY_OK);
    cr_assert_eq(check("b", T - 300, T), REPLAY_OK);
    cr_assert_eq(check("c", T - 50, T), REPLAY_OK);

    /* Full: d evicts b, the oldest date; b's replay could no longer be recognised. */
    cr_assert_eq(check("d", T - 200, T), REPLAY_OK);
    cr_assert_eq(replay_count(r), 3);
    cr_assert_eq(check("b", T - 300, T), REPLAY_TOO_OLD);
    /* Any other request dated at or before the horizon might be an evicted one too. */
    cr_assert_eq(check("never-seen", T - 300, T), REPLAY_TOO_OLD);

    /* Older than every entry: evicting d would put the horizon over it anyway, so it is
     * refused without losing d. */
    cr_assert_eq(check("e", T - 250, T), REPLAY_TOO_OLD);
    cr_assert_eq(check("e", T - 200, T), REPLAY_TOO_OLD);
    cr_assert_eq(check("d", T - 200, T), REPLAY_SEEN);
    cr_assert_eq(check("a", T - 100, T), REPLAY_SEEN);
    cr_assert_eq(check("c", T - 50, T), REPLAY_SEEN);

    /* Newer than d: evicts it, the horizon moves to d's date. */
    cr_assert_eq(check("f", T - 199, T), REPLAY_OK);
    cr_assert_eq(check("d", T - 200, T), REPLAY_TOO_OLD);
    cr_assert_eq(check("g", T - 200, T + 1), REPLAY_TOO_OLD);
    cr_assert_eq(check("a", T - 100, T), REPLAY_SEEN);
    cr_assert_eq(check("c", T - 50, T), REPLAY_SEEN);
    cr_assert_eq(check("f", T - 199, T), REPLAY_SEEN);
}

Test(replay, evicts_the_earliest_accepted_of_equal_dates)
{
    r = replay_new(2);
    cr_assert_eq(check("a", T, T), REPLAY_OK);
    cr_assert_eq(check("b", T, T), REPLAY_OK);
    cr_assert_eq(check("c", T, T), REPLAY_TOO_OLD);
    cr_assert_eq(check("d", T + 1, T + 1), REPLAY_OK);
    /* a went, b stayed: one is refused by the horizon, the other as seen. */
    cr_assert_eq(check("a", T, T + 1), REPLAY_TOO_OLD);
    cr_assert_eq(check("b", T, T + 1), REPLAY_SEEN);
    cr_assert_eq(check("d", T + 1, T + 1), REPLAY_SEEN);
}

Test(replay, horizon_stops_mattering_once_out_of_the_window)
{
    r = replay_new(1);
    cr_assert_eq(check("a", T, T), REPLAY_OK);
    cr_assert_eq(check("b", T + 1, T + 1), REPLAY_OK); /* horizon T */
    cr_assert_eq(check("c", T, T + 1), REPLAY_TOO_OLD);
    /* Later, everything dated in the window is after the horizon. */
    cr_assert_eq(check("c", T + 2, T + REPLAY_TTL_S + 2), REPLAY_OK);
    cr_assert_eq(replay_count(r), 1);
}

Test(replay, survives_dates_at_the_ends_of_time)
{
    time_t max = (time_t)INT64_MAX, min = (time_t)INT64_MIN;
    r = replay_new(4);
    cr_assert_eq(check("late", max, max), REPLAY_OK);
    cr_assert_eq(check("late", max, max), REPLAY_SEEN);
    cr_assert_eq(check("early", min, max), REPLAY_TOO_OLD);
    cr_assert_eq(check("early", min, min), REPLAY_OK);
    cr_assert_eq(check("early", min, min + REPLAY_TTL_S), REPLAY_SEEN);
}

/* Bytes malloc has handed out and not taken back. */
static size_t heap_in_use(void)
{
    return mallinfo2().uordblks;
}

Test(replay, flood_of_distinct_requests_keeps_memory_fixed_and_never_accepts_twice)
{
    const uint64_t n = 100000;
    size_t before, after, max_count = 0;
    uint64_t i;
    int refused = 0;

    r = replay_new(1000);
    before = heap_in_use();
    /* 100 requests a second for 1000 s: ten seconds of them fit. */
    for (i = 0; i < n; i++) {
        time_t date = T + (time_t)(i / 100);
        if (check_id(i, date, date) != REPLAY_OK)
            refused++;
        if (replay_count(r) > max_count)
            max_count = replay_count(r);
    }
    after = heap_in_use();
    cr_assert_eq(refused, 0);
    cr_assert_eq(max_count, 1000);
    cr_assert_eq(replay_count(r), 1000);
    cr_assert_eq(after, before, "replay_check allocated: %zu bytes before, %zu after", before,
                 after);

    /* Now T + 999; the last 1000 requests (dated T + 990 on) are remembered, and the
     * horizon is T + 989. */
    time_t now = T + 999;
    cr_assert_eq(check_id(n - 1, now, now), REPLAY_SEEN);
    cr_assert_eq(check_id(n - 1000, T + 990, now), REPLAY_SEEN);
    /* Evicted while still in the date window: its replay is refused. */
    cr_assert_eq(check_id(n - 1001, T + 989, now), REPLAY_TOO_OLD);
    cr_assert_eq(check_id(n - 20000, T + 800, now), REPLAY_TOO_OLD);
    /* Out of the window: auth_verify would refuse it, and so does the guard. */
    cr_assert_eq(check_id(0, T, now), REPLAY_TOO_OLD);
    /* An old-but-valid fresh request is refused under the flood: the price of exactness. */
    cr_assert_eq(check_id(n + 1, T + 900, now), REPLAY_TOO_OLD);
    /* A fresh request dated after the horizon is accepted. */
    cr_assert_eq(check_id(n + 2, now, now), REPLAY_OK);
    cr_assert_eq(check_id(n + 3, T + 995, now), REPLAY_OK);
    cr_assert_eq(check_id(n + 2, now, now), REPLAY_SEEN);
    cr_assert_eq(replay_count(r), 1000);
}

/* The contract of replay.h written the obvious way: a flat array, linear scans. */
#define MODEL_CAPACITY_MAX 64

typedef struct model_entry {
    uint64_t id;
    time_t date;
    uint64_t seq;
} model_entry_t;

typedef struct model {
    size_t capacity, count;
    model_entry_t entries[MODEL_CAPACITY_MAX];
    uint64_t next_seq;
    int has_horizon;
    time_t horizon;
} model_t;

static int model_expired(time_t date, time_t now)
{
    return now - date > REPLAY_TTL_S;
}

static size_t model_oldest(const model_t *m)
{
    size_t i, o = 0;
    for (i = 1; i < m->count; i++)
        if (m->entries[i].date < m->entries[o].date ||
            (m->entries[i].date == m->entries[o].date && m->entries[i].seq < m->entries[o].seq))
            o = i;
    return o;
}

static void model_remove(model_t *m, size_t i)
{
    m->entries[i] = m->entries[--m->count];
}

static int model_check(model_t *m, uint64_t id, time_t date, time_t now)
{
    size_t i;
    for (i = 0; i < m->count;) {
        if (model_expired(m->entries[i].date, now))
            model_remove(m, i);
        else
            i++;
    }
    for (i = 0; i < m->count; i++)
        if (m->entries[i].id == id)
            return REPLAY_SEEN;
    if ((m->has_horizon && date <= m->horizon) || model_expired(date, now))
        return REPLAY_TOO_OLD;
    if (m->count == m->capacity) {
        size_t o = model_oldest(m);
        if (date <= m->entries[o].date)
            return REPLAY_TOO_OLD;
        m->horizon = m->entries[o].date;
        m->has_horizon = 1;
        model_remove(m, o);
    }
    m->entries[m->count++] = (model_entry_t){id, date, m->next_seq++};
    return REPLAY_OK;
}

static uint64_t rng_state;

static uint64_t rng(void)
{
    /* xorshift64*: reproducible across libcs, unlike rand(). */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}

static uint64_t below(uint64_t n)
{
    return rng() % n;
}

/* @ops random requests, fresh ones and replays of recent ones, under a clock that mostly
 * advances, sometimes jumps and sometimes steps back; every answer and count compared. */
static void run_against_model(size_t capacity, long ops, uint64_t seed)
{
    static model_t m;
    struct {
        uint64_t id;
        time_t date;
    } history[48];
    size_t history_len = 0;
    long counts[3] = {0, 0, 0}, op;
    uint64_t next_id = 0;
    time_t now = T;

    memset(&m, 0, sizeof(m));
    m.capacity = capacity;
    rng_state = seed;
    r = replay_new(capacity);
    cr_assert_not_null(r);
    for (op = 0; op < ops; op++) {
        uint64_t id, roll = below(1000);
        time_t date;
        if (roll < 250)
            now += 1;
        else if (roll < 252)
            now += (time_t)below(2 * REPLAY_TTL_S);
        else if (roll < 254)
            now -= (time_t)below(5);

        if (history_len == 0 || below(2) == 0) {
            uint64_t kind = below(10);
            id = next_id++;
            if (kind < 6)
                date = now - (time_t)below(8); /* clustered: many equal dates */
            else if (kind < 9)
                date = now - (time_t)below(REPLAY_TTL_S + 10); /* some out of window */
            else
                date = now + (time_t)below(AUTH_DATE_MAX_FUTURE_S + 1);
            size_t h = history_len < 48 ? history_len++ : below(48);
            history[h].id = id;
            history[h].date = date;
        } else {
            size_t h = below(history_len);
            id = history[h].id;
            date = history[h].date;
        }

        int want = model_check(&m, id, date, now);
        int got = check_id(id, date, now);
        cr_assert_eq(got, want, "seed %" PRIu64 " op %ld: id %" PRIu64 " date %lld now %lld", seed,
                     op, id, (long long)date, (long long)now);
        cr_assert_eq(replay_count(r), m.count, "seed %" PRIu64 " op %ld", seed, op);
        counts[got]++;
    }
    /* Every outcome and eviction happened often enough to mean something. */
    cr_assert_gt(counts[REPLAY_OK], ops / 200);
    cr_assert_gt(counts[REPLAY_SEEN], ops / 200);
    cr_assert_gt(counts[REPLAY_TOO_OLD], ops / 200);
    cr_assert(m.has_horizon);
}

Test(replay, matches_a_naive_model_over_a_million_random_requests, .timeout = 100)
{
    run_against_model(16, 1000000, 0x9E3779B97F4A7C15ULL);
}

Test(replay, matches_a_naive_model_at_capacity_one, .timeout = 100)
{
    run_against_model(1, 200000, 42);
}

Test(replay, matches_a_naive_model_at_an_odd_capacity, .timeout = 100)
{
    run_against_model(MODEL_CAPACITY_MAX - 1, 300000, 7);
}
