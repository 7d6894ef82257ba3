/* test_dtoa.c: unit tests of common/dtoa.c, against the snprintf/strtod formatter it
 * replaced in workers/loader.c (kept below as the reference). */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtoa.h"

TestSuite(dtoa, .timeout = 60);

/* ---- The reference: workers/loader.c's host_buf_append_number before dtoa.c ------------ */

static int reference_format(double value, char text[40])
{
    int n, precision;

    if (fabs(value) <= 9007199254740992.0 && value == (double)(int64_t)value) {
        n = snprintf(text, 40, "%.0f", value);
    } else {
        for (precision = 15;; precision++) {
            n = snprintf(text, 40, "%.*g", precision, value);
            if (precision == 17 || strtod(text, NULL) == value)
                break;
        }
    }
    return n;
}

/* ---- Helpers ---------------------------------------------------------------------------- */

/* splitmix64 with a fixed seed per test, so that a failure reproduces. */
static uint64_t rng_state;

static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
    z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1), 53 random bits. */
static double rng_unit(void)
{
    return (double)(rng_next() >> 11) * 0x1p-53;
}

static uint64_t bits_of(double v)
{
    uint64_t bits;

    memcpy(&bits, &v, sizeof(bits));
    return bits;
}

static double double_of(uint64_t bits)
{
    double v;

    memcpy(&v, &bits, sizeof(v));
    return v;
}

/* 2^e for -1074 <= e <= 1023, built from its bits (no libm in this test). */
static double power_of_two(int e)
{
    if (e < -1022)
        return double_of(UINT64_C(1) << (e + 1074));
    return double_of((uint64_t)(e + 1023) << 52);
}

/* A decimal number as digits * 10^exp, with n digits in @digits (trailing zeros kept only
 * when parse_digits was asked to keep them). */
typedef struct decimal {
    uint64_t digits;
    int exp, n;
} decimal_t;

/* Reads the significant digits of a number as printf or dtoa writes it ("-0.00123",
 * "1.5e+20", "4500"). With @keep_zeros, trailing zeros count as digits (for "%.*e" text,
 * whose digit count is the precision asked for). */
static decimal_t parse_digits(const char *s, bool keep_zeros)
{
    decimal_t d = {0, 0, 0};
    bool point = false, started = false;

    if (*s == '-')
        s++;
    for (; *s != '\0' && *s != 'e'; s++) {
        if (*s == '.') {
            point = true;
            continue;
        }
        if (point)
            d.exp--;
        if (*s == '0' && !started)
            continue;
        started = true;
        d.digits = d.digits * 10 + (uint64_t)(*s - '0');
        d.n++;
    }
    if (*s == 'e')
        d.exp += atoi(s + 1);
    while (!keep_zeros && d.n > 1 && d.digits % 10 == 0) {
        d.digits /= 10;
        d.exp++;
        d.n--;
    }
    if (d.n == 0) /* zero */
        d.n = 1;
    return d;
}

static uint64_t pow10_u64(int n)
{
    uint64_t p = 1;

    while (n-- > 0)
        p *= 10;
    return p;
}

/* True if "%.{digits-1}e" of @v reads back as @v; its text goes to @text. */
static bool e_format_round_trips(double v, int digits, char text[40])
{
    snprintf(text, 40, "%.*e", digits - 1, v);
    return strtod(text, NULL) == v;
}

/* A power of two whose next double down is nearer than the next one up. */
static bool below_is_narrow(double v)
{
    uint64_t bits = bits_of(v) & ~(UINT64_C(1) << 63);

    return (bits & ((UINT64_C(1) << 52) - 1)) == 0 && (bits >> 52) > 1;
}

/* ---- The check of one value ------------------------------------------------------------- */

/* Totals of one test, logged at its end. The old formatter missed shorter digits in two
 * places: subnormals, whose precision is below the 15 digits it started with ("5e-324",
 * not "4.94065645841247e-324"), and powers of two, whose rounding interval reaches twice
 * as far above as below, so that a 16-digit string can read back where the correctly
 * rounded one does not. Anything else is counted apart and shown. */
static long checked, differing_subnormal, differing_power_of_two, differing_other;

/* For a @got that differs from the reference: it has as few digits as @ref or fewer, and
 * is the decimal of its length closest to @v in the values that read back as @v.
 *
 * The closest n-digit decimal to v is "%.{n-1}e" (glibc rounds correctly). If that reads
 * back as v, it is the answer. If not, every decimal on its side of v is farther and out
 * too, and the answer is the n-digit neighbour of v on the other side. That is also why an
 * output as long as the reference's can never differ from it: glibc already printed the
 * closest string of that length, and it reads back. */
static void check_difference(double v, const char *got, const char *ref)
{
    decimal_t mine = parse_digits(got, false), theirs = parse_digits(ref, false), nearest;
    decimal_t expected;
    char text[40];

    cr_assert_leq(mine.n, theirs.n, "%a: \"%s\" has more digits than the reference \"%s\"", v, got,
                  ref);
    cr_assert(!(fabs(v) <= 0x1p53 && v == (double)(int64_t)v),
              "%a: the integer \"%s\" differs from the reference \"%s\"", v, got, ref);

    bool nearest_reads_back = e_format_round_trips(v, mine.n, text);
    expected = nearest = parse_digits(text, true);
    if (!nearest_reads_back) {
        bool nearest_below = fabs(strtod(text, NULL)) < fabs(v);
        uint64_t smallest = pow10_u64(mine.n - 1), largest = pow10_u64(mine.n) - 1;

        if (nearest_below && nearest.digits == largest) { /* 9.99 -> 10.0 */
            expected.digits = smallest;
            expected.exp++;
        } else if (!nearest_below && nearest.digits == smallest) { /* 1.00 -> 0.999 */
            expected.digits = largest;
            expected.exp--;
        } else {
            expected.digits += nearest_below ? 1 : -1;
        }
    }
    cr_assert(mine.digits == expected.digits && mine.exp == expected.exp,
              "%a: \"%s\" is not the closest %d-digit decimal that reads back (%" PRIu64
              "e%d; the reference wrote \"%s\")",
              v, got, mine.n, expected.digits, expected.exp, ref);

#if LDBL_MANT_DIG >= 64
    /* The layout the reference would have given these digits: long double holds any
     * decimal of 17 digits closely enough for %Lg to print the same digits again. */
    int precision = mine.n > 15 ? mine.n : 15;
    snprintf(text, sizeof(text), "%.*Lg", precision, strtold(got, NULL));
    cr_assert_str_eq(got, text, "%a: \"%s\" is not laid out as printf would (\"%s\")", v, got,
                     text);
#endif
}

/* Formats @v with dtoa_shortest and checks the result: (a) it reads back as @v, bit for
 * bit; (b) it is the reference's text, or shorter, or as long and closer (see
 * check_difference); (c) no "%.{p}e" with fewer digits reads back as @v. */
static void check(double v)
{
    char got[DTOA_MAX + 8], ref[40], text[40], *end;
    size_t len;

    memset(got, '#', sizeof(got));
    len = dtoa_shortest(v, got);
    cr_assert(len < DTOA_MAX && strlen(got) == len, "%a: length %zu for \"%s\"", v, len, got);
    cr_assert(memcmp(got + DTOA_MAX, "########", 8) == 0, "%a: wrote past DTOA_MAX", v);

    double back = strtod(got, &end);
    cr_assert(*end == '\0' && bits_of(back) == bits_of(v),
              "%a: \"%s\" reads back as %a, not as the same double", v, got, back);

    reference_format(v, ref);
    if (strcmp(got, ref) != 0) {
        check_difference(v, got, ref);
        long *count = fabs(v) < DBL_MIN    ? &differing_subnormal
                      : below_is_narrow(v) ? &differing_power_of_two
                                           : &differing_other;
        if (*count < 3 || count == &differing_other)
            cr_log_info("differs: %a: \"%s\", the reference wrote \"%s\"", v, got, ref);
        (*count)++;
    }

    /* Away from powers of two the rounding interval is symmetric around v, so if the
     * closest p-digit decimal is out, the closest of fewer digits (as far or farther) is
     * out too: trying one digit fewer suffices. Below a power of two, try them all. */
    int n = parse_digits(got, false).n;
    for (int p = below_is_narrow(v) ? 1 : n - 1; p >= 1 && p < n; p++)
        cr_assert(!e_format_round_trips(v, p, text),
                  "%a: \"%s\" (%d digits) reads back, shorter than \"%s\"", v, text, p, got);
    checked++;
}

/* Checks v and -v. */
static void check_both_signs(double v)
{
    check(v);
    check(-v);
}

static void start_totals(void)
{
    checked = differing_subnormal = differing_power_of_two = differing_other = 0;
}

/* Logs the totals and fails the test on a difference outside subnormals and powers of two.
 * check_difference() has made sure that such a difference is still a better string, but
 * there should be none: for a normal double away from a power of two, the rounding interval
 * is symmetric and narrower than a unit of the 15th digit, so a 15-digit string reads back
 * only if the correctly rounded one does, and the old formatter then found the same
 * digits. */
static void end_totals(const char *what)
{
    cr_log_info("%s: %ld values, %ld differ from the old formatter: %ld subnormals, %ld powers "
                "of two, %ld others",
                what, checked, differing_subnormal + differing_power_of_two + differing_other,
                differing_subnormal, differing_power_of_two, differing_other);
    cr_expect_eq(differing_other, 0, "%s: %ld unexpected differences", what, differing_other);
}

/* ---- Tests -------------------------------------------------------------------------------- */

Test(dtoa, known_texts)
{
    static const struct {
        double value;
        const char *text;
    } cases[] = {
        {0.0, "0"},
        {-0.0, "-0"},
        {42, "42"},
        {-7, "-7"},
        {1e15, "1000000000000000"},
        {9007199254740992.0, "9007199254740992"},
        {-9007199254740992.0, "-9007199254740992"},
        {9007199254740994.0, "9007199254740994"},
        {1e16, "1e+16"},
        {1e20, "1e+20"},
        {1e23, "1e+23"},
        {123456789012345678.0, "1.2345678901234568e+17"},
        {1.0000000000000003e-05, "1.0000000000000003e-05"}, /* 1e-05 next up */
        {1e-05, "1e-05"},
        {0.0001, "0.0001"},
        {0.1, "0.1"},
        {0.2, "0.2"},
        {0.3, "0.3"},
        {0.1 + 0.2, "0.30000000000000004"},
        {1.0 / 3, "0.3333333333333333"},
        {2.0 / 3, "0.6666666666666666"},
        {123.456, "123.456"},
        {-2.5, "-2.5"},
        {23.456789012345677, "23.456789012345677"},
        {1e100, "1e+100"},
        {1.5e-300, "1.5e-300"},
        {DBL_MAX, "1.7976931348623157e+308"},
        {-DBL_MAX, "-1.7976931348623157e+308"},
        {DBL_MIN, "2.2250738585072014e-308"},
        {DBL_TRUE_MIN, "5e-324"},
        {2 * DBL_TRUE_MIN, "1e-323"},
        {0x1p-24, "5.960464477539063e-08"}, /* a power of two: 16 digits, not 17 */
        {NAN, "null"},
        {INFINITY, "null"},
        {-INFINITY, "null"},
    };
    char got[DTOA_MAX];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len = dtoa_shortest(cases[i].value, got);
        cr_assert_str_eq(got, cases[i].text, "%a: \"%s\", expected \"%s\"", cases[i].value, got,
                         cases[i].text);
        cr_assert_eq(len, strlen(cases[i].text));
    }
}

Test(dtoa, special_values)
{
    static const double values[] = {
        0.0,
        DBL_MIN,
        DBL_MAX,
        DBL_TRUE_MIN,
        DBL_EPSILON,
        5e-324,
        1e23,
        9007199254740993.0,
        9007199254740991.0,
        4503599627370496.5,
        0.1,
        0.2,
        0.3,
        0.1 + 0.2,
        1.0 / 3,
        2.0 / 3,
        1e21,
        1e22,
        1e-7,
        123456.789e3,
        5e-310,
        2.2250738585072009e-308, /* largest subnormal */
        2.2250738585072011e-308,
        1.7976931348623157e308,
        4.9406564584124654e-324,
        0.30000000000000004,
        100,
        1e15 + 0.3,
        1e14 + 0.5,
        299792458,
    };

    start_totals();
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
        for (int step = -3; step <= 3; step++)
            if (bits_of(values[i]) + step < (UINT64_C(0x7ff) << 52))
                check_both_signs(double_of(bits_of(values[i]) + (uint64_t)step));
    end_totals("special values and their neighbours");
}

Test(dtoa, random_bit_patterns)
{
    rng_state = 1;
    start_totals();
    while (checked < 600000) {
        double v = double_of(rng_next());
        if (isfinite(v))
            check(v);
    }
    end_totals("random 64-bit patterns");
}

Test(dtoa, random_ranges)
{
    /* Every decade alike, rather than mostly the largest as a uniform draw would give. */
    static const double decades[] = {1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 10, 100, 1e3, 1e4, 1e5};

    rng_state = 2;
    start_totals();
    for (int i = 0; i < 150000; i++) {
        check(10 * rng_unit());                                 /* [0, 10) */
        check(decades[rng_next() % 12] * (1 + 9 * rng_unit())); /* [1e-6, 1e6) */
        check_both_signs(power_of_two((int)(rng_next() % 64) - 32) * (1 + rng_unit()));
    }
    end_totals("random values in ranges");
}

/* The worker's real case: dot products of features 0.0-9.9 with weights such as 0.37 and
 * -1.2, values like 23.456789012345677. */
Test(dtoa, dot_products)
{
    rng_state = 3;
    start_totals();
    for (int i = 0; i < 500000; i++) {
        double sum = 0;
        int terms = 1 + (int)(rng_next() % 16);
        for (int t = 0; t < terms; t++) {
            double feature = (double)(rng_next() % 100) / 10;
            double weight = ((double)(rng_next() % 601) - 300) / 100;
            sum += feature * weight;
        }
        check(sum);
    }
    end_totals("dot products of short decimals");
}

Test(dtoa, integers)
{
    const double two53 = 9007199254740992.0;

    rng_state = 4;
    start_totals();
    /* Every double near 2^53, where spacing goes from 1 to 2, and near 2^54. */
    for (int step = -3000; step <= 3000; step++) {
        check_both_signs(double_of(bits_of(two53) + (uint64_t)step));
        check(double_of(bits_of(2 * two53) + (uint64_t)step));
    }
    for (int i = 0; i < 200000; i++) {
        check_both_signs((double)(rng_next() >> 11));                    /* below 2^53 */
        check((double)(rng_next() >> (rng_next() % 64)));                /* any size */
        check((double)(int64_t)(rng_next() % 2000000) + 1e15 - 1000000); /* near 1e15 */
    }
    for (int e = 0; e <= 22; e++) { /* the powers of ten a double holds exactly */
        char text[8];
        snprintf(text, sizeof(text), "1e%d", e);
        for (int step = -3; step <= 3; step++)
            check_both_signs(double_of(bits_of(strtod(text, NULL)) + (uint64_t)step));
    }
    end_totals("integers");
}

Test(dtoa, powers_of_two)
{
    start_totals();
    for (int e = -1074; e <= 1023; e++) {
        uint64_t bits = bits_of(power_of_two(e));
        for (int step = -4; step <= 4; step++)
            if (bits + step > 0 && bits + step < (UINT64_C(0x7ff) << 52))
                check_both_signs(double_of(bits + (uint64_t)step));
    }
    end_totals("powers of two and their neighbours");
}

Test(dtoa, subnormals)
{
    rng_state = 5;
    start_totals();
    for (uint64_t m = 1; m <= 20000; m++) /* the few-digit ones, where spacing is coarse */
        check(double_of(m));
    for (int i = 0; i < 100000; i++) {
        check_both_signs(double_of(rng_next() >> 12));                     /* any subnormal */
        check(double_of((rng_next() >> 12) >> (rng_next() % 52)));         /* any magnitude */
        check(double_of((UINT64_C(1) << 52) - 1 - (rng_next() % 100000))); /* near DBL_MIN */
    }
    end_totals("subnormals");
}

/* Values at every decimal exponent: 10^e and its neighbours, and random decimals of 1 to 17
 * digits, read by strtod as a user's input would be. */
Test(dtoa, decimal_exponents)
{
    char text[64];

    rng_state = 6;
    start_totals();
    for (int e = -324; e <= 308; e++) {
        snprintf(text, sizeof(text), "1e%d", e);
        double p = strtod(text, NULL);
        for (int step = -2; step <= 2; step++)
            if (bits_of(p) + step > 0 && bits_of(p) + step < (UINT64_C(0x7ff) << 52))
                check(double_of(bits_of(p) + (uint64_t)step));
        for (int i = 0; i < 400; i++) {
            int digits = 1 + (int)(rng_next() % 17);
            uint64_t mantissa = rng_next() % pow10_u64(digits);
            snprintf(text, sizeof(text), "%" PRIu64 "e%d", mantissa, e - digits + 1);
            double v = strtod(text, NULL);
            if (isfinite(v))
                check_both_signs(v);
            v = 10 * rng_unit() * p; /* and any double of that magnitude */
            if (isfinite(v))
                check(v);
        }
    }
    end_totals("decimal exponents -324 to 308");
}
