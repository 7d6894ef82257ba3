/* customers.h: the customers file, one `CID:BASE64SECRET` per line, `#` comments.
 * Private to core/. */
#ifndef SYMTASK_CORE_CUSTOMERS_H
#define SYMTASK_CORE_CUSTOMERS_H

#include <stddef.h>
#include <stdint.h>

#define CUSTOMER_KEY_SIZE 16

typedef struct customer {
    char cid[129];
    char secret_b64[64];            /* as written in the file, used in StringToSign */
    uint8_t key[CUSTOMER_KEY_SIZE]; /* base64-decoded secret */
} customer_t;

typedef struct customers customers_t;

/* Loads the file. Refuses a file readable or writable by group or others ("customers file
 * F is readable by other users (mode 0644); run: chmod 600 F"), any group or other
 * permission bit, an invalid customer id, a
 * secret that does not decode to 16 bytes, and a duplicate id; messages give FILE:LINE and
 * never print a secret. An empty file is valid (no customer can sign in). */
customers_t *customers_load(const char *path, char *errstr, size_t errstr_size);

/* Returns the customer or NULL. */
const customer_t *customers_find(const customers_t *customers, const char *cid, size_t cid_len);

size_t customers_count(const customers_t *customers);

void customers_free(customers_t *customers);

#endif
