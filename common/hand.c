/* hand.c: the hand board (see hand.h). */
#include "hand.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* The board's first bytes; its spans follow. Both sides are built together (one package),
 * so the layout is the host's; the magic and version catch a board of another build. */
typedef struct hand_page {
    uint32_t magic;
    uint32_t version;
    uint32_t stage; /* hand_stage_t, stored last (after the spans and their count) */
    uint32_t reserved;
    uint64_t n; /* spans of the batch in hand */
} hand_page_t;

#define HAND_MAGIC 0x64685453u /* "SThd" */
#define HAND_VERSION 1u
#define HAND_SIZE_MIN 4096

struct hand_board {
    int fd;
    hand_page_t *page;
    size_t size;
};

static hand_span_t *page_spans(hand_page_t *page)
{
    return (hand_span_t *)(page + 1);
}

const char *hand_stage_name(hand_stage_t stage)
{
    switch (stage) {
    case HAND_DECODE:
        return "decode";
    case HAND_PREDICT:
        return "predict";
    case HAND_ENCODE:
        return "encode";
    default:
        return "";
    }
}

/* ---- The daemon's side ------------------------------------------------------------------ */

int hand_board_create(void)
{
    int fd = memfd_create("symtask-hand", MFD_CLOEXEC);
    if (fd < 0)
        return -1;
    hand_page_t page = {.magic = HAND_MAGIC, .version = HAND_VERSION, .stage = HAND_IDLE};
    if (ftruncate(fd, HAND_SIZE_MIN) != 0 || pwrite(fd, &page, sizeof(page), 0) != sizeof(page)) {
        int e = errno != 0 ? errno : EIO;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static int read_at(int fd, void *buf, size_t len, off_t at)
{
    for (size_t done = 0; done < len;) {
        ssize_t r = pread(fd, (char *)buf + done, len - done, at + (off_t)done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r == 0)
                errno = EIO; /* shorter than its own size says */
            return -1;
        }
        done += (size_t)r;
    }
    return 0;
}

int hand_board_read(int fd, hand_stage_t *stage, hand_span_t **spans, size_t *n, char *errstr,
                    size_t errstr_size)
{
    *stage = HAND_IDLE;
    *spans = NULL;
    *n = 0;
    struct stat st;
    hand_page_t page;
    if (fstat(fd, &st) != 0 || read_at(fd, &page, sizeof(page), 0) != 0) {
        snprintf(errstr, errstr_size, "cannot read the worker's hand board: %s", strerror(errno));
        return -1;
    }
    if (page.magic != HAND_MAGIC || page.version != HAND_VERSION) {
        snprintf(errstr, errstr_size,
                 "the worker's hand board does not begin as one of this build (magic %08x, "
                 "version %u)",
                 page.magic, page.version);
        return -1;
    }
    if (page.stage == HAND_IDLE)
        return 0;
    if (page.stage > HAND_ENCODE) {
        snprintf(errstr, errstr_size, "the worker's hand board names stage %u, not one",
                 page.stage);
        return -1;
    }
    size_t room = ((size_t)st.st_size - sizeof(page)) / sizeof(hand_span_t);
    if (page.n == 0 || page.n > HAND_SPANS_MAX || page.n > room) {
        snprintf(errstr, errstr_size,
                 "the worker's hand board claims %llu spans (room for %zu, at most %d)",
                 (unsigned long long)page.n, room, HAND_SPANS_MAX);
        return -1;
    }
    hand_span_t *s = malloc((size_t)page.n * sizeof(*s));
    if (s == NULL) {
        snprintf(errstr, errstr_size, "out of memory for the %llu spans of a hand board",
                 (unsigned long long)page.n);
        return -1;
    }
    if (read_at(fd, s, (size_t)page.n * sizeof(*s), sizeof(page)) != 0) {
        snprintf(errstr, errstr_size, "cannot read the worker's hand board: %s", strerror(errno));
        free(s);
        return -1;
    }
    for (size_t i = 0; i < page.n; i++) {
        if (s[i].partition < 0 || s[i].from < 0 || s[i].to < s[i].from) {
            snprintf(errstr, errstr_size,
                     "span %zu of the worker's hand board is not one (partition %d, offsets %lld "
                     "to %lld)",
                     i, (int)s[i].partition, (long long)s[i].from, (long long)s[i].to);
            free(s);
            return -1;
        }
    }
    *stage = (hand_stage_t)page.stage;
    *spans = s;
    *n = (size_t)page.n;
    return 0;
}

/* ---- The worker's side ------------------------------------------------------------------ */

hand_board_t *hand_board_open(int fd, char *errstr, size_t errstr_size)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        snprintf(errstr, errstr_size, "hand board fd %d: %s", fd, strerror(errno));
        return NULL;
    }
    if (!S_ISREG(st.st_mode) || (size_t)st.st_size < sizeof(hand_page_t)) {
        snprintf(errstr, errstr_size, "hand board fd %d: not a board (%lld bytes)", fd,
                 (long long)st.st_size);
        return NULL;
    }
    hand_board_t *b = calloc(1, sizeof(*b));
    if (b == NULL) {
        snprintf(errstr, errstr_size, "out of memory for the hand board");
        return NULL;
    }
    b->fd = fd;
    b->size = (size_t)st.st_size;
    b->page = mmap(NULL, b->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (b->page == MAP_FAILED) {
        snprintf(errstr, errstr_size, "hand board fd %d: mmap: %s", fd, strerror(errno));
        free(b);
        return NULL;
    }
    if (b->page->magic != HAND_MAGIC || b->page->version != HAND_VERSION) {
        snprintf(errstr, errstr_size, "hand board fd %d: not a board of this build", fd);
        munmap(b->page, b->size);
        free(b);
        return NULL;
    }
    fcntl(fd, F_SETFD, FD_CLOEXEC); /* no plugin's child inherits it */
    hand_board_stage(b, HAND_IDLE);
    return b;
}

void hand_board_close(hand_board_t *b)
{
    if (b == NULL)
        return;
    munmap(b->page, b->size);
    close(b->fd);
    free(b);
}

/* Makes room for @n spans: doubles the board (a memfd: the daemon reads its new size). */
static int board_grow(hand_board_t *b, size_t n)
{
    size_t need = sizeof(hand_page_t) + n * sizeof(hand_span_t), size = b->size;
    while (size < need)
        size *= 2;
    if (ftruncate(b->fd, (off_t)size) != 0)
        return -1;
    void *p = mremap(b->page, b->size, size, MREMAP_MAYMOVE);
    if (p == MAP_FAILED)
        return -1;
    b->page = p;
    b->size = size;
    return 0;
}

int hand_board_begin(hand_board_t *b, const hand_span_t *spans, size_t n)
{
    hand_board_stage(b, HAND_IDLE);
    if (n == 0)
        return 0;
    if (n > HAND_SPANS_MAX) {
        errno = E2BIG;
        return -1;
    }
    if (sizeof(hand_page_t) + n * sizeof(hand_span_t) > b->size && board_grow(b, n) != 0)
        return -1;
    memcpy(page_spans(b->page), spans, n * sizeof(*spans));
    b->page->n = n;
    /* the daemon reads the board only when this process is gone: at whatever instruction it
     * stopped, a stage other than idle follows complete spans */
    hand_board_stage(b, HAND_DECODE);
    return 0;
}

void hand_board_stage(hand_board_t *b, hand_stage_t stage)
{
    __atomic_store_n(&b->page->stage, (uint32_t)stage, __ATOMIC_RELEASE);
}
