/* test_text.c: unit tests of core/text.c, the buffer the daemon writes its answers into:
 * growth from the caller's buffer to the heap, and JSON strings escaped exactly as jansson's
 * compact dump escapes them (the envelope used to be dumped by jansson). */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

/* jansson's compact text of the string @s of @len bytes (valid UTF-8). */
static char *jansson_string(const char *s, size_t len)
{
    json_t *j = json_stringn(s, len);
    cr_assert_not_null(j, "jansson refuses the string");
    char *text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(j);
    cr_assert_not_null(text);
    return text;
}

static void assert_escaped(const char *s, size_t len, const char *want)
{
    text_t t;
    text_init(&t, NULL, 0);
    text_json_string(&t, s, len);
    cr_assert(!t.failed);
    cr_assert_eq(t.len, strlen(want), "length %zu, want %zu: %s", t.len, strlen(want), t.data);
    cr_assert_str_eq(t.data, want);
    text_free(&t);
}

Test(text, grows_from_the_callers_buffer_to_the_heap)
{
    char buf[8];
    text_t t;
    text_init(&t, buf, sizeof(buf));
    text_puts(&t, "abc");
    cr_assert_eq(t.data, buf, "a short text stays in the caller's buffer");
    cr_assert(!t.on_heap);
    text_printf(&t, "%s-%d", "defghij", 42);
    cr_assert_neq(t.data, buf, "a longer one moves to the heap");
    cr_assert(t.on_heap);
    cr_assert_str_eq(t.data, "abcdefghij-42");
    cr_assert_eq(t.len, 13);
    for (int i = 0; i < 1000; i++)
        text_append(&t, "0123456789", 10);
    cr_assert_eq(t.len, 10013);
    cr_assert_eq(memcmp(t.data + 10003, "0123456789", 10), 0);
    cr_assert_eq(t.data[t.len], '\0');
    text_free(&t);
    cr_assert_null(t.data);
}

Test(text, fits_exactly_with_its_terminator)
{
    char buf[4];
    text_t t;
    text_init(&t, buf, sizeof(buf));
    text_puts(&t, "abc"); /* 3 bytes and the NUL: exactly the buffer */
    cr_assert_eq(t.data, buf);
    text_puts(&t, "d");
    cr_assert(t.on_heap);
    cr_assert_str_eq(t.data, "abcd");
    text_free(&t);
}

Test(text, escapes_as_jansson)
{
    assert_escaped("", 0, "\"\"");
    assert_escaped("task [a] is running", 19, "\"task [a] is running\"");
    assert_escaped("q\"b\\s/", 6, "\"q\\\"b\\\\s/\"");
    assert_escaped("\b\f\n\r\t\x01\x1f\x7f", 8, "\"\\b\\f\\n\\r\\t\\u0001\\u001F\x7f\"");
    assert_escaped("nul\0inside", 10, "\"nul\\u0000inside\"");
    assert_escaped("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14,
                   "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");

    /* Every byte and every pair of bytes that form valid UTF-8, against jansson. */
    char s[2];
    for (int a = 0; a < 256; a++) {
        for (int b = -1; b < 256; b++) {
            s[0] = (char)a;
            s[1] = (char)b;
            size_t len = b < 0 ? 1 : 2;
            json_t *j = json_stringn(s, len);
            if (j == NULL)
                continue; /* not UTF-8: checked below */
            json_decref(j);
            char *want = jansson_string(s, len);
            assert_escaped(s, len, want);
            free(want);
        }
    }
}

Test(text, replaces_bytes_that_are_not_utf8)
{
    assert_escaped("a\xff"
                   "b",
                   3, "\"a?b\"");
    assert_escaped("\xc3", 1, "\"?\"");                /* truncated */
    assert_escaped("\xc0\xaf", 2, "\"??\"");           /* overlong '/' */
    assert_escaped("\xe0\x80\xaf", 3, "\"???\"");      /* overlong, 3 bytes */
    assert_escaped("\xed\xa0\x80", 3, "\"???\"");      /* a surrogate */
    assert_escaped("\xf4\x90\x80\x80", 4, "\"????\""); /* above U+10FFFF */
    assert_escaped("\xe2\x82"
                   "x",
                   3, "\"??x\""); /* cut short by an ASCII byte */

    /* Random bytes: the result is always a JSON string jansson reads back. */
    srand(7);
    char s[64];
    for (int round = 0; round < 20000; round++) {
        size_t len = (size_t)(rand() % (int)sizeof(s));
        for (size_t i = 0; i < len; i++)
            s[i] = (char)(rand() % 4 == 0 ? 0x80 | rand() : rand());
        text_t t;
        text_init(&t, NULL, 0);
        text_json_string(&t, s, len);
        json_error_t err;
        json_t *back = json_loadb(t.data, t.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
        cr_assert_not_null(back, "round %d: %s: %s", round, err.text, t.data);
        cr_assert(json_is_string(back));
        /* Valid input comes back unchanged. */
        json_t *direct = json_stringn(s, len);
        if (direct != NULL)
            cr_assert(json_equal(direct, back), "round %d", round);
        json_decref(direct);
        json_decref(back);
        text_free(&t);
    }
}

Test(text, dumps_a_value)
{
    json_t *v = json_pack("{s:[i,s,b,n]}", "k", 1, "\n", 1);
    text_t t;
    text_init(&t, NULL, 0);
    text_puts(&t, "x=");
    text_json_value(&t, v);
    json_decref(v);
    cr_assert(!t.failed);
    cr_assert_str_eq(t.data, "x={\"k\":[1,\"\\n\",true,null]}");
    text_free(&t);
}

/* A text that cannot grow is marked failed, and stays so: the answer is not sent half-built. */
Test(text, a_failure_sticks)
{
    char buf[16];
    text_t t;
    text_init(&t, buf, sizeof(buf));
    text_puts(&t, "ok");
    text_json_string(&t, "x", SIZE_MAX / 2); /* refused before a byte is read */
    cr_assert(t.failed);
    text_puts(&t, "more");
    text_printf(&t, "%d", 42);
    cr_assert(t.failed);
    cr_assert_eq(t.len, 2, "nothing is added after a failure");
    text_free(&t);
}

Test(text, printf_grows_when_needed)
{
    char buf[8];
    text_t t;
    text_init(&t, buf, sizeof(buf));
    text_printf(&t, "%s", "1234567"); /* fills the buffer exactly, with its NUL */
    cr_assert_eq(t.data, buf);
    text_printf(&t, "%05d|%s", 42, "a longer tail than the room left");
    cr_assert_str_eq(t.data, "123456700042|a longer tail than the room left");
    cr_assert_eq(t.len, strlen(t.data));
    text_free(&t);
}
