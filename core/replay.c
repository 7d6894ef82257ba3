/* replay.c: remembers recently accepted signatures, a hash table to find them and a min-heap
 * on Sym-date to expire and evict them, in memory fixed at creation. */
#include "replay.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

/* 128 bits: two distinct signatures colliding, which would refuse the second, is
 * negligible, and the memory per entry does not depend on what the client sent. */
#define KEY_SIZE 16
/* Entry indices + 1 must fit the uint32_t table slots, with the table twice as large. */
#define CAPACITY_MAX ((size_t)1 << 30)
#define NO_SLOT SIZE_MAX

typedef struct replay_entry {
    unsigned char key[KEY_SIZE];
    time_t date;
    uint64_t seq; /* arrival order, so that which of equal dates is evicted is defined */
} replay_entry_t;

struct replay {
    size_t capacity;
    size_t count; /* entries in use, the length of heap */
    size_t mask;  /* table size - 1 */
    /* Entry index + 1, 0 when empty. Linear probing with backward-shift deletion: no
     * tombstones to accumulate under constant churn, so lookups never degrade. */
    uint32_t *table;
    replay_entry_t *entries;
    uint32_t *heap;   /* entries in use, a min-heap on (date, seq) */
    uint32_t *unused; /* entries not in use, a stack of capacity - count */
    uint64_t next_seq;
    bool has_horizon;
    time_t horizon;
    /* Keyed so that a customer, who can sign anything, cannot grind signatures that all
     * probe the same slots. */
    unsigned char hash_key[crypto_generichash_KEYBYTES];
};

static bool expired(time_t date, time_t now)
{
    time_t last;
    /* A date this close to the end of time never expires. */
    if (__builtin_add_overflow(date, (time_t)REPLAY_TTL_S, &last))
        return false;
    return now > last;
}

static size_t table_home(const replay_t *r, const unsigned char *key)
{
    uint64_t h;
    memcpy(&h, key, sizeof(h));
    return (size_t)h & r->mask;
}

/* The slot holding @key, or NO_SLOT and in @empty the slot where it would go. */
static size_t table_find(const replay_t *r, const unsigned char *key, size_t *empty)
{
    size_t i = table_home(r, key);
    /* The table is at most half full, so an empty slot ends every probe. */
    while (r->table[i] != 0) {
        if (memcmp(r->entries[r->table[i] - 1].key, key, KEY_SIZE) == 0)
            return i;
        i = (i + 1) & r->mask;
    }
    *empty = i;
    return NO_SLOT;
}

static void table_remove(replay_t *r, size_t hole)
{
    size_t j = hole;
    for (;;) {
        j = (j + 1) & r->mask;
        if (r->table[j] == 0)
            break;
        size_t home = table_home(r, r->entries[r->table[j] - 1].key);
        /* The entry at j may fill the hole only if its home is at or before the hole in
         * probe order; otherwise a lookup starting at its home would not reach it. */
        if (((j - home) & r->mask) >= ((j - hole) & r->mask)) {
            r->table[hole] = r->table[j];
            hole = j;
        }
    }
    r->table[hole] = 0;
}

static bool heap_before(const replay_t *r, uint32_t a, uint32_t b)
{
    const replay_entry_t *ea = &r->entries[a], *eb = &r->entries[b];
    return ea->date < eb->date || (ea->date == eb->date && ea->seq < eb->seq);
}

static void heap_sift_up(replay_t *r, size_t pos)
{
    uint32_t idx = r->heap[pos];
    while (pos > 0) {
        size_t parent = (pos - 1) / 2;
        if (!heap_before(r, idx, r->heap[parent]))
            break;
        r->heap[pos] = r->heap[parent];
        pos = parent;
    }
    r->heap[pos] = idx;
}

static void heap_sift_down(replay_t *r, size_t pos)
{
    uint32_t idx = r->heap[pos];
    for (;;) {
        size_t child = 2 * pos + 1;
        if (child >= r->count)
            break;
        if (child + 1 < r->count && heap_before(r, r->heap[child + 1], r->heap[child]))
            child++;
        if (!heap_before(r, r->heap[child], idx))
            break;
        r->heap[pos] = r->heap[child];
        pos = child;
    }
    r->heap[pos] = idx;
}

/* Forgets the entry with the oldest date. */
static void replay_forget_oldest(replay_t *r)
{
    uint32_t idx = r->heap[0];
    size_t empty;

    table_remove(r, table_find(r, r->entries[idx].key, &empty));
    r->count--;
    r->heap[0] = r->heap[r->count];
    if (r->count > 0)
        heap_sift_down(r, 0);
    r->unused[r->capacity - r->count - 1] = idx;
}

replay_t *replay_new(size_t capacity)
{
    replay_t *r;
    size_t table_size = 2, i;

    if (capacity == 0 || capacity > CAPACITY_MAX || sodium_init() < 0)
        return NULL;
    r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    /* At most half full: probes stay short and always end on an empty slot. */
    while (table_size < 2 * capacity)
        table_size *= 2;
    r->capacity = capacity;
    r->mask = table_size - 1;
    r->table = calloc(table_size, sizeof(*r->table));
    r->entries = calloc(capacity, sizeof(*r->entries));
    r->heap = calloc(capacity, sizeof(*r->heap));
    r->unused = calloc(capacity, sizeof(*r->unused));
    if (r->table == NULL || r->entries == NULL || r->heap == NULL || r->unused == NULL)
        goto error;
    for (i = 0; i < capacity; i++)
        r->unused[i] = (uint32_t)i;
    randombytes_buf(r->hash_key, sizeof(r->hash_key));
    return r;

error:
    replay_free(r);
    return NULL;
}

void replay_free(replay_t *r)
{
    if (r == NULL)
        return;
    free(r->table);
    free(r->entries);
    free(r->heap);
    free(r->unused);
    free(r);
}

int replay_check(replay_t *r, const char *signature, size_t sig_len, time_t sym_date, time_t now)
{
    unsigned char key[KEY_SIZE];
    size_t empty;
    uint32_t idx;

    crypto_generichash(key, sizeof(key), (const unsigned char *)signature, sig_len, r->hash_key,
                       sizeof(r->hash_key));
    while (r->count > 0 && expired(r->entries[r->heap[0]].date, now))
        replay_forget_oldest(r);
    if (table_find(r, key, &empty) != NO_SLOT)
        return REPLAY_SEEN;
    if ((r->has_horizon && sym_date <= r->horizon) || expired(sym_date, now))
        return REPLAY_TOO_OLD;
    if (r->count == r->capacity) {
        time_t oldest = r->entries[r->heap[0]].date;
        /* Evicting would set the horizon at or after @sym_date and refuse it anyway;
         * refusing without evicting keeps the horizon where it is. */
        if (sym_date <= oldest)
            return REPLAY_TOO_OLD;
        replay_forget_oldest(r);
        /* Every entry was dated after the horizon when accepted, so it only rises. */
        r->horizon = oldest;
        r->has_horizon = true;
        /* The removal may have shifted entries back into the probe sequence of @key. */
        table_find(r, key, &empty);
    }
    idx = r->unused[r->capacity - r->count - 1];
    memcpy(r->entries[idx].key, key, KEY_SIZE);
    r->entries[idx].date = sym_date;
    r->entries[idx].seq = r->next_seq++;
    r->table[empty] = idx + 1;
    r->heap[r->count] = idx;
    r->count++;
    heap_sift_up(r, r->count - 1);
    return REPLAY_OK;
}

size_t replay_count(const replay_t *r)
{
    return r->count;
}
