/* test_customers.c: unit tests of core/customers.c (loading the file, refusals, lookup). */
#include <criterion/criterion.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "customers.h"

/* bytes 0..15, and a second 16-byte secret */
#define SECRET_A "AAECAwQFBgcICQoLDA0ODw=="
#define SECRET_B "q83vASNFZ4mrze8BI0VniQ=="

static char tmpdir[256];
static char path[512];
static char err[512];
static customers_t *customers;

static void setup(void)
{
    strcpy(tmpdir, "/tmp/symtask-test-customers-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
    snprintf(path, sizeof(path), "%s/customers", tmpdir);
    customers = NULL;
    err[0] = '\0';
}

static void teardown(void)
{
    customers_free(customers);
    DIR *dir = opendir(tmpdir);
    if (dir != NULL) {
        struct dirent *de;
        char p[600];
        while ((de = readdir(dir)) != NULL) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            snprintf(p, sizeof(p), "%s/%s", tmpdir, de->d_name);
            unlink(p);
        }
        closedir(dir);
    }
    rmdir(tmpdir);
}

TestSuite(customers, .init = setup, .fini = teardown);

/* Writes @text to `path` with @mode (whatever the umask) and loads it. */
static customers_t *load_mode(const char *text, mode_t mode)
{
    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    cr_assert_eq(fchmod(fd, mode), 0);
    close(fd);
    customers = customers_load(path, err, sizeof(err));
    return customers;
}

static customers_t *load(const char *text)
{
    return load_mode(text, 0600);
}

/* The message expected for a bad line, with the temp file's name before it. */
static const char *at_line(int line, const char *msg)
{
    static char buf[1024];
    snprintf(buf, sizeof(buf), "%s:%d: %s", path, line, msg);
    return buf;
}

/* Loads a file that must be refused at line 1, and checks that @secret is not echoed. */
static void refused(const char *text, const char *secret, const char *msg)
{
    cr_assert_null(load(text), "accepted: %s", text);
    cr_assert_str_eq(err, at_line(1, msg));
    if (secret != NULL && *secret != '\0')
        cr_assert_null(strstr(err, secret), "the message shows the secret: %s", err);
}

Test(customers, good_file)
{
    cr_assert_not_null(load("# customers of the test\n"
                            "\n"
                            "alice:" SECRET_A "\n"
                            "   \t\n"
                            "  bob.smith_2-x : " SECRET_B "  \n"
                            "   # indented comment\n"
                            "carol:" SECRET_A "   # trailing comment\r\n"),
                       "%s", err);
    cr_assert_eq(customers_count(customers), 3);

    const customer_t *c = customers_find(customers, "alice", 5);
    cr_assert_not_null(c);
    cr_assert_str_eq(c->cid, "alice");
    cr_assert_str_eq(c->secret_b64, SECRET_A);
    for (int i = 0; i < CUSTOMER_KEY_SIZE; i++)
        cr_assert_eq(c->key[i], i);

    c = customers_find(customers, "bob.smith_2-x", 13);
    cr_assert_not_null(c);
    cr_assert_str_eq(c->secret_b64, SECRET_B);
    static const uint8_t key_b[] = {0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89,
                                    0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89};
    cr_assert_eq(memcmp(c->key, key_b, sizeof(key_b)), 0);

    c = customers_find(customers, "carol", 5);
    cr_assert_not_null(c);
    cr_assert_str_eq(c->secret_b64, SECRET_A);
}

Test(customers, many_customers)
{
    char *text = malloc(100 * 64);
    cr_assert_not_null(text);
    text[0] = '\0';
    for (int i = 0; i < 100; i++)
        sprintf(text + strlen(text), "c%d:%s\n", i, SECRET_B);
    cr_assert_not_null(load(text), "%s", err);
    free(text);
    cr_assert_eq(customers_count(customers), 100);
    cr_assert_not_null(customers_find(customers, "c0", 2));
    cr_assert_not_null(customers_find(customers, "c99", 3));
    cr_assert_null(customers_find(customers, "c100", 4));
}

Test(customers, empty_file)
{
    cr_assert_not_null(load(""), "%s", err);
    cr_assert_eq(customers_count(customers), 0);
    cr_assert_null(customers_find(customers, "alice", 5));
}

Test(customers, comments_only)
{
    cr_assert_not_null(load("# nobody yet\n\n   # alice:" SECRET_A "\n"), "%s", err);
    cr_assert_eq(customers_count(customers), 0);
    cr_assert_null(customers_find(customers, "alice", 5));
}

Test(customers, last_line_without_newline)
{
    cr_assert_not_null(load("alice:" SECRET_A), "%s", err);
    cr_assert_eq(customers_count(customers), 1);
}

Test(customers, mode_0644_refused)
{
    cr_assert_null(load_mode("alice:" SECRET_A "\n", 0644));
    char want[1400];
    snprintf(want, sizeof(want),
             "customers file %s is readable by other users (mode 0644); run: chmod 600 %s", path,
             path);
    cr_assert_str_eq(err, want);
}

Test(customers, group_or_other_bits_refused)
{
    const mode_t bad[] = {0640, 0604, 0620, 0602, 0610, 0601, 0660, 0666};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_null(load_mode("alice:" SECRET_A "\n", bad[i]), "mode %o accepted", bad[i]);
        cr_assert(strstr(err, "by other users") != NULL, "%s", err);
        cr_assert(strstr(err, "chmod 600") != NULL, "%s", err);
        cr_assert_null(strstr(err, SECRET_A));
    }
    cr_assert_null(load_mode("alice:" SECRET_A "\n", 0620));
    cr_assert(strstr(err, "is writable by other users (mode 0620)") != NULL, "%s", err);
}

Test(customers, owner_only_modes_accepted)
{
    const mode_t good[] = {0600, 0400, 0700};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        cr_assert_not_null(load_mode("alice:" SECRET_A "\n", good[i]), "mode %o: %s", good[i], err);
        customers_free(customers);
        customers = NULL;
    }
}

Test(customers, missing_file)
{
    snprintf(path, sizeof(path), "%s/none", tmpdir);
    cr_assert_null(customers_load(path, err, sizeof(err)));
    char want[700];
    snprintf(want, sizeof(want), "cannot read customers file %s: No such file or directory", path);
    cr_assert_str_eq(err, want);
}

Test(customers, directory_refused)
{
    cr_assert_eq(chmod(tmpdir, 0700), 0);
    cr_assert_null(customers_load(tmpdir, err, sizeof(err)));
    cr_assert(strstr(err, "cannot read customers file") == err, "%s", err);
    cr_assert(strstr(err, "Is a directory") != NULL, "%s", err);
}

Test(customers, bad_base64)
{
    refused("alice:!!!!notbase64!!!!\n", "!!!!notbase64!!!!",
            "the secret of customer 'alice' is not valid base64 (standard alphabet, with '=' "
            "padding)");
    /* the URL-safe alphabet is not the standard one */
    refused("alice:q83vASNFZ4mrze8BI0Vni-_=\n", "q83vASNFZ4mrze8BI0Vni-_=",
            "the secret of customer 'alice' is not valid base64 (standard alphabet, with '=' "
            "padding)");
    /* padding is required */
    refused("alice:AAECAwQFBgcICQoLDA0ODw\n", "AAECAwQFBgcICQoLDA0ODw",
            "the secret of customer 'alice' is not valid base64 (standard alphabet, with '=' "
            "padding)");
    /* a space inside the secret */
    refused("alice:AAECAwQFBgcI CQoLDA0ODw==\n", "AAECAwQFBgcI",
            "the secret of customer 'alice' is not valid base64 (standard alphabet, with '=' "
            "padding)");
}

Test(customers, wrong_length)
{
    refused("alice:AAECAwQFBgcICQoLDA0O\n", "AAECAwQFBgcICQoLDA0O",
            "the secret of customer 'alice' decodes to 15 bytes, not 16");
    refused("alice:AAECAwQFBgcICQoLDA0ODxA=\n", "AAECAwQFBgcICQoLDA0ODxA=",
            "the secret of customer 'alice' decodes to 17 bytes, not 16");
    refused("alice:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
            "the secret of customer 'alice' decodes to 32 bytes, not 16");
    refused("alice:"
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7"
            "\n",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7",
            "the secret of customer 'alice' is too long (it must decode to 16 bytes)");
}

Test(customers, empty_secret)
{
    refused("alice:\n", NULL, "the secret of customer 'alice' is empty");
    refused("alice:   # no secret\n", NULL, "the secret of customer 'alice' is empty");
}

Test(customers, line_without_colon)
{
    refused("alice " SECRET_A "\n", SECRET_A, "expected CID:BASE64SECRET (no ':' in this line)");
}

Test(customers, bad_cid)
{
    const char *chars = "the customer id has a character other than A-Z a-z 0-9 . _ -";
    refused(":" SECRET_A "\n", SECRET_A, "the customer id is empty");
    refused(".:" SECRET_A "\n", SECRET_A, "the customer id may not be '.' or '..'");
    refused("..:" SECRET_A "\n", SECRET_A, "the customer id may not be '.' or '..'");
    refused("a/b:" SECRET_A "\n", SECRET_A, chars);
    refused("a b:" SECRET_A "\n", SECRET_A, chars);
    refused("al\xc3\xaf"
            "ce:" SECRET_A "\n",
            SECRET_A, chars);
    /* secret and id swapped (a 16-byte secret always ends in "=="): the id check must not
     * echo the secret */
    refused(SECRET_B ":alice\n", SECRET_B, chars);

    char text[300];
    memset(text, 'a', 129);
    strcpy(text + 129, ":" SECRET_A "\n");
    refused(text, SECRET_A, "the customer id is longer than 128 characters");
}

Test(customers, cid_of_128_characters)
{
    char text[300];
    memset(text, 'a', 128);
    strcpy(text + 128, ":" SECRET_A "\n");
    cr_assert_not_null(load(text), "%s", err);
    cr_assert_not_null(customers_find(customers, text, 128));
    cr_assert_null(customers_find(customers, text, 127));
    cr_assert_null(customers_find(customers, text, 129));
}

Test(customers, dotted_cids_other_than_dot_and_dotdot)
{
    cr_assert_not_null(load("...:" SECRET_A "\n.a:" SECRET_A "\na..:" SECRET_A "\n"), "%s", err);
    cr_assert_eq(customers_count(customers), 3);
}

Test(customers, duplicate_cid)
{
    cr_assert_null(load("alice:" SECRET_A "\nbob:" SECRET_B "\n# c\n alice :" SECRET_B "\n"));
    cr_assert_str_eq(err, at_line(4, "customer id 'alice' appears twice"));
    cr_assert_null(strstr(err, SECRET_A));
    cr_assert_null(strstr(err, SECRET_B));
}

Test(customers, error_line_number_counts_comments_and_blanks)
{
    cr_assert_null(load("# header\n\nalice:" SECRET_A "\n   \nbob:no!pe\n"));
    cr_assert_str_eq(err, at_line(5, "the secret of customer 'bob' is not valid base64 (standard "
                                     "alphabet, with '=' padding)"));
}

Test(customers, lookup_with_unterminated_cid)
{
    cr_assert_not_null(load("alice:" SECRET_A "\nbob:" SECRET_B "\nal:" SECRET_B "\n"), "%s", err);
    const char buf[] = {'a', 'l', 'i', 'c', 'e', 'b', 'o', 'b'}; /* no NUL */
    const customer_t *c = customers_find(customers, buf, 5);
    cr_assert_not_null(c);
    cr_assert_str_eq(c->cid, "alice");
    c = customers_find(customers, buf + 5, 3);
    cr_assert_not_null(c);
    cr_assert_str_eq(c->cid, "bob");
    c = customers_find(customers, buf, 2);
    cr_assert_not_null(c);
    cr_assert_str_eq(c->cid, "al");
    cr_assert_null(customers_find(customers, buf, 3));
    cr_assert_null(customers_find(customers, buf, 4));
    cr_assert_null(customers_find(customers, buf, 6));
    cr_assert_null(customers_find(customers, buf, 8));
    cr_assert_null(customers_find(customers, buf, 0));
    cr_assert_null(customers_find(customers, NULL, 0));
    cr_assert_null(customers_find(customers, "Alice", 5));
    /* an embedded NUL is not the end of the id */
    cr_assert_null(customers_find(customers, "al\0ce", 5));
    cr_assert_null(customers_find(customers, "bob\0", 4));
    /* a length beyond the longest possible id is not read */
    cr_assert_null(customers_find(customers, buf, (size_t)-1));
}

Test(customers, free_null)
{
    customers_free(NULL);
}
