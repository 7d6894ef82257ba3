/* fuzz_util.h: what the fuzz targets share: the customers they sign with, the clock they
 * check against, and files in memory. Private to tests/fuzz/. */
#ifndef SYMTASK_TESTS_FUZZ_UTIL_H
#define SYMTASK_TESTS_FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The customers of tests/unit/core/test_auth.c: c1's key is the 16 bytes
 * 3311618e17ea3b1e9736165669b71608. */
#define FUZZ_SECRET_C1 "MxFhjhfqOx6XNhZWabcWCA=="
#define FUZZ_SECRET_C2 "ZQ36MO+m6Ydj35jvYyIH1g=="
#define FUZZ_CUSTOMERS "c1:" FUZZ_SECRET_C1 "\nc2:" FUZZ_SECRET_C2 "\n"
#define FUZZ_CID "c1"

/* 2026-11-28 13:55:08 UTC, the clock auth seeds are signed for. */
#define FUZZ_NOW ((time_t)1795874108)
#define FUZZ_DATE "2026-11-28 13:55:08;123456789"

/* The fields of a fuzz_auth input, in their order (see fuzz_auth.c). */
enum {
    F_METHOD,
    F_PATH,
    F_QUERY,
    F_PATH_CID,
    F_CUSTOMER_ID,
    F_SYM_DATE,
    F_CONTENT_MD5,
    F_AUTHORIZATION,
    F_BODY,
    F_COUNT
};

static const uint8_t fuzz_key_c1[16] = {0x33, 0x11, 0x61, 0x8e, 0x17, 0xea, 0x3b, 0x1e,
                                        0x97, 0x36, 0x16, 0x56, 0x69, 0xb7, 0x16, 0x08};

/* Setup that cannot fail in a working environment: stop the run instead of fuzzing
 * something else than intended. */
static inline void fuzz_die(const char *what)
{
    perror(what);
    abort();
}

/* An anonymous file of mode 0600 (the customers file must not be readable by others),
 * reachable by name through @path. */
static inline int fuzz_memfd_open(const char *name, char path[32])
{
    int fd = memfd_create(name, MFD_CLOEXEC);
    if (fd < 0 || fchmod(fd, 0600) != 0)
        fuzz_die("memfd_create");
    snprintf(path, 32, "/proc/self/fd/%d", fd);
    return fd;
}

/* Replaces the file's content with @data. */
static inline void fuzz_memfd_fill(int fd, const void *data, size_t size)
{
    const char *p = data;
    off_t off = 0;
    if (ftruncate(fd, 0) != 0)
        fuzz_die("ftruncate");
    while ((size_t)off < size) {
        ssize_t n = pwrite(fd, p + off, size - (size_t)off, off);
        if (n <= 0)
            fuzz_die("pwrite");
        off += n;
    }
}

/* A heap copy of exactly @size bytes (NUL-terminated when @nul), so that ASan sees a read
 * one byte past a field that the fuzzer's single buffer would hide. */
static inline char *fuzz_dup(const void *data, size_t size, int nul)
{
    /* malloc(0) is a distinct non-NULL pointer with glibc and ASan: an empty field stays
     * present, and reading it is reported. */
    char *out = malloc(size + (nul ? 1 : 0));
    if (out == NULL)
        fuzz_die("malloc");
    if (size > 0)
        memcpy(out, data, size);
    if (nul)
        out[size] = '\0';
    return out;
}

#endif
