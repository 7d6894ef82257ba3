/* test_properties.c: client/properties.c, Java's properties syntax case by case. Each
 * expectation is what java.util.Properties.load (OpenJDK 17) reads from the same text, but
 * where a test says otherwise: half a surrogate pair and NUL characters are refused (they
 * have no UTF-8), a byte order mark is dropped, text that is not UTF-8 is ISO 8859-1. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "properties.h"

static props_t p;
static char errstr[256];

static void parse_ok(const char *text, size_t len)
{
    props_free(&p);
    int rc = props_parse(text, len, &p, errstr, sizeof(errstr));
    cr_assert_eq(rc, 0, "%s", errstr);
}

#define PARSE(text) parse_ok(text, sizeof(text) - 1)

/* Asserts that entry @i is @key = @value. */
static void expect(size_t i, const char *key, const char *value)
{
    cr_assert_lt(i, p.count, "only %zu entries", p.count);
    cr_expect_str_eq(p.entries[i].key, key, "entry %zu", i);
    cr_expect_str_eq(p.entries[i].value, value, "entry %zu (key %s)", i, key);
}

static void parse_fails(const char *text, size_t len, const char *message)
{
    props_free(&p);
    cr_assert_eq(props_parse(text, len, &p, errstr, sizeof(errstr)), -1);
    cr_expect_str_eq(errstr, message);
    cr_expect_eq(p.count, 0, "no entries after an error");
}

#define FAILS(text, message) parse_fails(text, sizeof(text) - 1, message)

static void fini(void)
{
    props_free(&p);
}

TestSuite(properties, .fini = fini);

Test(properties, comments_start_with_a_hash_or_a_bang)
{
    PARSE("# a comment\n"
          "! another\n"
          "   # indented, still a comment\n"
          "a = 1#not a comment\n"
          "b = !neither\n"
          "# a comment's backslash continues nothing \\\n"
          "c = 3\n");
    cr_assert_eq(p.count, 3);
    expect(0, "a", "1#not a comment");
    expect(1, "b", "!neither");
    expect(2, "c", "3");
}

Test(properties, blank_lines_and_empty_files)
{
    PARSE("");
    cr_expect_eq(p.count, 0);
    PARSE("\n\n   \n\t\f\n# only comments\n");
    cr_expect_eq(p.count, 0);
}

Test(properties, equals_colon_or_whitespace_separate_key_and_value)
{
    PARSE("a=1\n"
          "b:2\n"
          "c 3\n"
          "d = 4\n"
          "e\t:\t5\n"
          "f      6\n"
          "   g=7\n"
          "h\f=\f8\n");
    cr_assert_eq(p.count, 8);
    expect(0, "a", "1");
    expect(1, "b", "2");
    expect(2, "c", "3");
    expect(3, "d", "4");
    expect(4, "e", "5");
    expect(5, "f", "6");
    expect(6, "g", "7");
    expect(7, "h", "8");
}

Test(properties, one_separator_only_the_rest_is_the_value)
{
    PARSE("a==x\n"
          "b : = y\n"
          "c = v=w:z\n"
          "d x = y\n"
          "url = http://host:8080/path\n");
    expect(0, "a", "=x");
    expect(1, "b", "= y");
    expect(2, "c", "v=w:z");
    expect(3, "d", "x = y");
    expect(4, "url", "http://host:8080/path");
}

Test(properties, empty_values_and_empty_keys)
{
    PARSE("alone\n"
          "equals=\n"
          "spaced =   \n"
          "=value of the empty key\n"
          ":also\n");
    cr_assert_eq(p.count, 5);
    expect(0, "alone", "");
    expect(1, "equals", "");
    expect(2, "spaced", "");
    expect(3, "", "value of the empty key");
    expect(4, "", "also");
    cr_expect(!p.entries[2].trailing_space, "no value, no trailing whitespace");
}

Test(properties, escaped_separators_belong_to_the_key)
{
    PARSE("my\\ key = v\n"
          "a\\=b = c\n"
          "x\\:y:z\n"
          "\\#not\\!comment = 1\n");
    expect(0, "my key", "v");
    expect(1, "a=b", "c");
    expect(2, "x:y", "z");
    expect(3, "#not!comment", "1");
}

Test(properties, a_backslash_at_the_end_continues_the_line)
{
    PARSE("list = one, \\\n"
          "       two, \\\n"
          "\t\tthree\n"
          "next = 1\n");
    cr_assert_eq(p.count, 2);
    expect(0, "list", "one, two, three");
    expect(1, "next", "1");
    cr_expect_eq(p.entries[0].line, 1);
    cr_expect_eq(p.entries[1].line, 4, "lines count natural lines");
}

Test(properties, an_even_number_of_backslashes_continues_nothing)
{
    PARSE("a = x\\\\\n"
          "b = y\\\\\\\n"
          "  z\n"
          "c = 3\n");
    cr_assert_eq(p.count, 3);
    expect(0, "a", "x\\");
    expect(1, "b", "y\\z");
    expect(2, "c", "3");
}

Test(properties, a_continued_line_is_never_a_comment_and_a_blank_one_ends_it)
{
    PARSE("a = 1\\\n"
          "   # part of a\n"
          "b = 2\\\n"
          "\n"
          "c = 3\\\n"
          "     \n"
          "d = 4\n");
    cr_assert_eq(p.count, 4);
    expect(0, "a", "1# part of a");
    expect(1, "b", "2");
    expect(2, "c", "3");
    expect(3, "d", "4");
    cr_expect_eq(p.entries[3].line, 7);
}

Test(properties, a_line_of_a_lone_backslash_continues_into_a_new_logical_line)
{
    /* Nothing was continued, so the next line starts afresh and may be a comment. */
    PARSE("\\\n"
          "# a comment\n"
          "  \\\n"
          "a = 1\n"
          "\\\n"
          "\\\n"
          "! a comment too\n"
          "b = 2\n");
    cr_assert_eq(p.count, 2);
    expect(0, "a", "1");
    cr_expect_eq(p.entries[0].line, 4);
    expect(1, "b", "2");
    /* Java 17 makes a lone backslash on the last line an entry of the empty key and value;
     * it holds nothing, and is no entry here. */
    PARSE("a = 1\n\\");
    cr_expect_eq(p.count, 1);
}

Test(properties, keys_and_separators_can_be_continued_too)
{
    PARSE("long\\\n"
          "   key = v\n"
          "k \\\n"
          "  = w\n");
    expect(0, "longkey", "v");
    expect(1, "k", "w");
}

Test(properties, a_backslash_at_the_end_of_the_text_is_dropped)
{
    PARSE("a = 1\\");
    cr_assert_eq(p.count, 1);
    expect(0, "a", "1");
    PARSE("a = 1\\\n");
    expect(0, "a", "1");
    PARSE("a = 1");
    expect(0, "a", "1");
}

Test(properties, crlf_and_cr_end_lines_too)
{
    PARSE("a = 1\r\n"
          "b = 2\r"
          "c = x\\\r\n"
          "    y\r\n"
          "# comment\r"
          "d = 4\\\r"
          "  z");
    cr_assert_eq(p.count, 4);
    expect(0, "a", "1");
    expect(1, "b", "2");
    expect(2, "c", "xy");
    expect(3, "d", "4z");
    cr_expect_eq(p.entries[2].line, 3);
    cr_expect_eq(p.entries[3].line, 6);
}

Test(properties, escapes_of_control_characters)
{
    PARSE("a = tab\\there\n"
          "b = line\\nbreak\\r\\f\n"
          "c = \\q\\w\\\\\n"
          "d = \\\"quoted\\\"\n");
    expect(0, "a", "tab\there");
    expect(1, "b", "line\nbreak\r\f");
    expect(2, "c", "qw\\");
    expect(3, "d", "\"quoted\"");
}

Test(properties, unicode_escapes_become_utf8)
{
    PARSE("caf\\u00e9 = \\u20AC 5\n"
          "smile = \\uD83D\\uDE00\n"
          "ascii = \\u0041\\u0062\n"
          "raw = été\n");
    expect(0, "café", "€ 5");
    expect(1, "smile", "\xf0\x9f\x98\x80");
    expect(2, "ascii", "Ab");
    expect(3, "raw", "été");
    cr_expect(!p.latin1);
}

Test(properties, malformed_unicode_escapes_are_errors_with_their_line)
{
    FAILS("a = 1\nb = \\u12\n", "line 2: malformed \\uXXXX escape: \\u must be followed by 4 "
                                "hex digits");
    FAILS("a = \\uZZZZ\n", "line 1: malformed \\uXXXX escape: \\u must be followed by 4 hex "
                           "digits");
    FAILS("\\u00g1 = x\n", "line 1: malformed \\uXXXX escape: \\u must be followed by 4 hex "
                           "digits");
    FAILS("\n\na = \\uD83D!\n",
          "line 3: \\uD83D is the first half of a UTF-16 surrogate pair, but no \\uDC00 to "
          "\\uDFFF follows it");
    FAILS("a = \\uDE00\n", "line 1: \\uDE00 is the second half of a UTF-16 surrogate pair, "
                           "without its first half (\\uD800 to \\uDBFF) before it");
}

Test(properties, nul_characters_are_refused)
{
    FAILS("a = 1\nb = x\\u0000y\n", "line 2: a NUL character (\\u0000 or a NUL byte) cannot "
                                    "be part of a key or a value");
    FAILS("a = x\0y\n", "line 1: a NUL character (\\u0000 or a NUL byte) cannot be part of a "
                        "key or a value");
}

Test(properties, trailing_whitespace_is_part_of_the_value)
{
    PARSE("a = v  \n"
          "b = v\\ \n"
          "c = v\\\\ \n"
          "d =    x\n"
          "e = \\ x\n"
          "f = v\t\n");
    expect(0, "a", "v  ");
    cr_expect(p.entries[0].trailing_space);
    expect(1, "b", "v ");
    cr_expect(!p.entries[1].trailing_space, "an escaped space is meant");
    expect(2, "c", "v\\ ");
    cr_expect(p.entries[2].trailing_space, "an escaped backslash, then a plain space");
    expect(3, "d", "x");
    cr_expect(!p.entries[3].trailing_space);
    expect(4, "e", " x");
    expect(5, "f", "v\t");
    cr_expect(p.entries[5].trailing_space);
}

Test(properties, whitespace_before_a_continuation_stays)
{
    PARSE("a = x   \\\n"
          "    y\n");
    expect(0, "a", "x   y");
    cr_expect(!p.entries[0].trailing_space);
}

Test(properties, text_that_is_not_utf8_is_latin1)
{
    PARSE("caf\xe9 = \xa3 5\n");
    cr_expect(p.latin1);
    expect(0, "café", "£ 5");
}

Test(properties, a_byte_order_mark_is_no_part_of_the_first_key)
{
    PARSE("\xef\xbb\xbfsml.kstream.app.id = a\n");
    expect(0, "sml.kstream.app.id", "a");
    cr_expect(!p.latin1);
}

Test(properties, a_key_given_twice_is_kept_twice_in_order)
{
    PARSE("a = 1\nb = 2\na = 3\n");
    cr_assert_eq(p.count, 3);
    expect(0, "a", "1");
    expect(2, "a", "3");
    cr_expect_eq(p.entries[2].line, 3);
}

Test(properties, a_symetryml_task_file)
{
    PARSE("# SymetryML Kafka stream application\n"
          "sml.kstream.source.topic=customers\n"
          "sml.kstream.sink.topic=churn\n"
          "sml.kstream.app.id=churn-app\n"
          "sml.kstream.rest=true\n"
          "sml.kstream.rest.host=http://sml.example.com:8080\n"
          "sml.kstream.rest.secret=MDEyMzQ1Njc4OWFiY2RlZg\\=\\=\n"
          "bootstrap.servers=kafka1:9092,\\\n"
          "                  kafka2:9092\n"
          "enable.auto.commit=false\n");
    cr_assert_eq(p.count, 8);
    expect(4, "sml.kstream.rest.host", "http://sml.example.com:8080");
    expect(5, "sml.kstream.rest.secret", "MDEyMzQ1Njc4OWFiY2RlZg==");
    expect(6, "bootstrap.servers", "kafka1:9092,kafka2:9092");
    cr_expect_eq(p.entries[7].line, 10);
}
