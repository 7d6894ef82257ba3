/* customers.c: loads the customers file (CID:BASE64SECRET lines) and looks customers up. */
#include "customers.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#define CID_MAX (sizeof(((customer_t *)0)->cid) - 1)

struct customers {
    customer_t *items;
    size_t count, cap;
};

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t len = strlen(s);
    while (len > 0 && isspace((unsigned char)s[len - 1]))
        s[--len] = '\0';
    return s;
}

/* Says what is wrong with @cid, or NULL. The id itself is not repeated: on a garbled line
 * (secret and id swapped) it may be the secret. */
static const char *cid_problem(const char *cid)
{
    size_t len = strlen(cid);
    if (len == 0)
        return "the customer id is empty";
    if (len > CID_MAX)
        return "the customer id is longer than 128 characters";
    if (strcmp(cid, ".") == 0 || strcmp(cid, "..") == 0)
        return "the customer id may not be '.' or '..'";
    for (const char *p = cid; *p != '\0'; p++)
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-')
            return "the customer id has a character other than A-Z a-z 0-9 . _ -";
    return NULL;
}

/* Fills @c from one line that is not blank or a comment; on error writes what is wrong
 * (without the secret) to @errstr. */
static int parse_customer(char *s, customer_t *c, char *errstr, size_t errstr_size)
{
    uint8_t bin[CUSTOMER_KEY_SIZE * 3];
    size_t bin_len = 0;
    const char *end = NULL;
    int ret = -1;

    char *colon = strchr(s, ':');
    if (colon == NULL) {
        snprintf(errstr, errstr_size, "expected CID:BASE64SECRET (no ':' in this line)");
        goto error;
    }
    *colon = '\0';
    char *cid = trim(s);
    char *secret = trim(colon + 1);
    const char *problem = cid_problem(cid);
    if (problem != NULL) {
        snprintf(errstr, errstr_size, "%s", problem);
        goto error;
    }
    size_t secret_len = strlen(secret);
    if (secret_len == 0) {
        snprintf(errstr, errstr_size, "the secret of customer '%s' is empty", cid);
        goto error;
    }
    if (secret_len >= sizeof(c->secret_b64)) {
        snprintf(errstr, errstr_size,
                 "the secret of customer '%s' is too long (it must decode to %d bytes)", cid,
                 CUSTOMER_KEY_SIZE);
        goto error;
    }
    if (sodium_base642bin(bin, sizeof(bin), secret, secret_len, NULL, &bin_len, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        end != secret + secret_len) {
        snprintf(errstr, errstr_size,
                 "the secret of customer '%s' is not valid base64 (standard alphabet, with '=' "
                 "padding)",
                 cid);
        goto error;
    }
    if (bin_len != CUSTOMER_KEY_SIZE) {
        snprintf(errstr, errstr_size, "the secret of customer '%s' decodes to %zu bytes, not %d",
                 cid, bin_len, CUSTOMER_KEY_SIZE);
        goto error;
    }
    memset(c, 0, sizeof(*c));
    memcpy(c->cid, cid, strlen(cid) + 1);
    memcpy(c->secret_b64, secret, secret_len + 1);
    memcpy(c->key, bin, CUSTOMER_KEY_SIZE);
    ret = 0;

error:
    sodium_memzero(bin, sizeof(bin));
    return ret;
}

static const customer_t *find(const customers_t *customers, const char *cid, size_t cid_len)
{
    if (cid_len == 0 || cid_len > CID_MAX)
        return NULL;
    for (size_t i = 0; i < customers->count; i++) {
        const customer_t *c = &customers->items[i];
        if (strlen(c->cid) == cid_len && memcmp(c->cid, cid, cid_len) == 0)
            return c;
    }
    return NULL;
}

static int append(customers_t *customers, const customer_t *c)
{
    if (customers->count == customers->cap) {
        size_t cap = customers->cap ? customers->cap * 2 : 16;
        customer_t *items = calloc(cap, sizeof(*items));
        if (items == NULL)
            return -1;
        /* copied by hand rather than realloc'd so that no freed block keeps a secret */
        if (customers->count > 0)
            memcpy(items, customers->items, customers->count * sizeof(*items));
        sodium_memzero(customers->items, customers->cap * sizeof(*items));
        free(customers->items);
        customers->items = items;
        customers->cap = cap;
    }
    customers->items[customers->count++] = *c;
    return 0;
}

customers_t *customers_load(const char *path, char *errstr, size_t errstr_size)
{
    customers_t *customers = NULL;
    int fd = -1;
    FILE *fp = NULL;
    char *line = NULL;
    size_t line_cap = 0;
    unsigned lineno = 0;
    customer_t c;
    char msg[256];
    struct stat st;

    if (sodium_init() < 0) {
        snprintf(errstr, errstr_size, "cannot initialise libsodium");
        goto error;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(errstr, errstr_size, "cannot read customers file %s: %s", path, strerror(errno));
        goto error;
    }
    /* fstat the open file, so that the mode checked is the mode of the file read */
    if (fstat(fd, &st) != 0) {
        snprintf(errstr, errstr_size, "cannot read customers file %s: %s", path, strerror(errno));
        goto error;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(errstr, errstr_size, "cannot read customers file %s: %s", path,
                 S_ISDIR(st.st_mode) ? strerror(EISDIR) : "not a regular file");
        goto error;
    }
    if ((st.st_mode & 077) != 0) {
        snprintf(errstr, errstr_size,
                 "customers file %s is %s by other users (mode %04o); run: chmod 600 %s", path,
                 (st.st_mode & 044)   ? "readable"
                 : (st.st_mode & 022) ? "writable"
                                      : "accessible",
                 (unsigned)(st.st_mode & 07777), path);
        goto error;
    }
    fp = fdopen(fd, "r");
    if (fp == NULL) {
        snprintf(errstr, errstr_size, "cannot read customers file %s: %s", path, strerror(errno));
        goto error;
    }
    fd = -1; /* now closed with fp */
    customers = calloc(1, sizeof(*customers));
    if (customers == NULL) {
        snprintf(errstr, errstr_size, "cannot load customers file %s: out of memory", path);
        goto error;
    }
    for (;;) {
        errno = 0;
        if (getline(&line, &line_cap, fp) < 0) {
            if (ferror(fp)) {
                snprintf(errstr, errstr_size, "cannot read customers file %s: %s", path,
                         strerror(errno));
                goto error;
            }
            break;
        }
        lineno++;
        char *s = trim(line);
        /* a comment is a whole line, or starts after whitespace (base64 has no '#') */
        for (char *p = s; *p != '\0'; p++) {
            if (*p == '#' && (p == s || isspace((unsigned char)p[-1]))) {
                *p = '\0';
                break;
            }
        }
        s = trim(s);
        if (*s == '\0')
            continue;
        if (parse_customer(s, &c, msg, sizeof(msg)) != 0) {
            snprintf(errstr, errstr_size, "%s:%u: %s", path, lineno, msg);
            goto error;
        }
        if (find(customers, c.cid, strlen(c.cid)) != NULL) {
            snprintf(errstr, errstr_size, "%s:%u: customer id '%s' appears twice", path, lineno,
                     c.cid);
            goto error;
        }
        if (append(customers, &c) != 0) {
            snprintf(errstr, errstr_size, "cannot load customers file %s: out of memory", path);
            goto error;
        }
    }
    sodium_memzero(&c, sizeof(c));
    if (line != NULL)
        sodium_memzero(line, line_cap);
    free(line);
    fclose(fp);
    return customers;

error:
    sodium_memzero(&c, sizeof(c));
    if (line != NULL)
        sodium_memzero(line, line_cap);
    free(line);
    if (fp != NULL)
        fclose(fp);
    if (fd >= 0)
        close(fd);
    customers_free(customers);
    return NULL;
}

const customer_t *customers_find(const customers_t *customers, const char *cid, size_t cid_len)
{
    return find(customers, cid, cid_len);
}

size_t customers_count(const customers_t *customers)
{
    return customers->count;
}

void customers_free(customers_t *customers)
{
    if (customers == NULL)
        return;
    if (customers->items != NULL)
        sodium_memzero(customers->items, customers->cap * sizeof(*customers->items));
    free(customers->items);
    free(customers);
}
