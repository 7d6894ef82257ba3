/* fuzz_dtoa.c: libFuzzer target for dtoa_shortest() (common/dtoa.c), which writes every
 * number the worker puts into a record.
 *
 * Input: bytes read as doubles. Every 8-byte window of the first WINDOW_BYTES bytes is one
 * double's bits (an input shorter than 8 bytes is padded with zeros), so that one mutated
 * byte moves several values. An input shorter than 64 bytes is also read by strtod(), so
 * that a decimal spelling, as some seeds are, reaches the doubles next to decimal
 * boundaries; when it holds a number, that double and its two neighbours are checked too.
 *
 * The checks compare with glibc's strtod() and printf(), which are exact. The target never
 * calls setlocale(), so both read and write '.' as dtoa.c does. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtoa.h"

/* The windows read are those of the first 16 bytes. Reading every window of a long input
 * checks most of them again after each mutation, which changes a few: measured over 60 s,
 * 16 bytes gave 1.5 times as many distinct doubles as the whole input, and more than 8. */
#define WINDOW_BYTES 16

/* The significant digits of a number's text and where they sit. */
typedef struct digits {
    char d[DTOA_MAX]; /* no leading or trailing zeros, NUL-terminated; "" for zero */
    int n;            /* strlen(d) */
    int x;            /* decimal exponent of d[0]: the value is 0.d * 10^(x + 1) */
} digits_t;

static void fail(double value, const char *text, const char *why)
{
    uint64_t bits;
    memcpy(&bits, &value, sizeof(bits));
    fprintf(stderr, "dtoa_shortest(%.17g, bits 0x%016llx) = \"%s\": %s\n", value,
            (unsigned long long)bits, text, why);
    abort();
}

static int same_bits(double a, double b)
{
    return memcmp(&a, &b, sizeof(a)) == 0;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Whether all of @s is one number of RFC 8259's grammar (section 6):
 * [ minus ] int [ frac ] [ exp ], int = zero / ( digit1-9 *DIGIT ). */
static int json_number(const char *s)
{
    if (*s == '-')
        s++;
    if (*s == '0')
        s++;
    else if (*s >= '1' && *s <= '9')
        while (is_digit(*s))
            s++;
    else
        return 0;
    if (*s == '.') {
        if (!is_digit(*++s))
            return 0;
        while (is_digit(*s))
            s++;
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-')
            s++;
        if (!is_digit(*s))
            return 0;
        while (is_digit(*s))
            s++;
    }
    return *s == '\0';
}

/* The significant digits of @text, a JSON number or printf's %e, which is one too. */
static digits_t significant(const char *text)
{
    digits_t sig = {.n = 0, .x = 0};
    char all[64];
    int k = 0, before_point = 0, point = 0, first, last;
    const char *p = text + (*text == '-');

    for (; *p != '\0' && *p != 'e' && *p != 'E'; p++) {
        if (*p == '.') {
            point = 1;
        } else if (k < (int)sizeof(all)) {
            all[k++] = *p;
            before_point += !point;
        }
    }
    for (first = 0; first < k && all[first] == '0'; first++)
        ;
    for (last = k - 1; last >= first && all[last] == '0'; last--)
        ;
    if (first == k)
        return sig; /* zero */
    sig.n = last - first + 1;
    if (sig.n >= (int)sizeof(sig.d))
        sig.n = (int)sizeof(sig.d) - 1; /* more than any shortest text has: fails the checks */
    memcpy(sig.d, all + first, (size_t)sig.n);
    sig.d[sig.n] = '\0';
    sig.x = before_point - 1 - first + (*p != '\0' ? atoi(p + 1) : 0);
    return sig;
}

/* Whether the decimal @m * 10^@e reads back as @magnitude. */
static int reads_back(double magnitude, uint64_t m, int e)
{
    char text[48];
    snprintf(text, sizeof(text), "%llue%d", (unsigned long long)m, e);
    return same_bits(strtod(text, NULL), magnitude);
}

/* No decimal of fewer than @sig->n significant digits reads back as @value.
 *
 * Checking n - 1 digits suffices: a shorter decimal is also one of n - 1 digits (pad it
 * with zeros). The decimals that strtod() reads as @value form an interval around it, so if
 * one of n - 1 digits lies in it, so does one of the two of n - 1 digits that bracket
 * @value: the nearest, which %e writes, or its neighbour on the other side, 1 unit of its
 * last digit away. When %e rounds up to a power of ten (9.96 to 1.0e+01 at 2 digits), the
 * neighbour below has a digit more after the point, 9.9. Trying every %.{p}e instead would
 * miss the neighbour that %e does not write, which is the one in the interval just below a
 * power of two, where the interval is narrower below than above. */
static void check_shortest(double value, const char *text, const digits_t *sig)
{
    double magnitude = fabs(value), back;
    char nearest[48];
    uint64_t m = 0, pow10 = 1;
    int scale, shorter;
    const char *p;

    if (sig->n > 17)
        fail(value, text, "more than 17 significant digits");
    if (sig->n < 2)
        return;
    snprintf(nearest, sizeof(nearest), "%.*e", sig->n - 2, magnitude);
    for (p = nearest; *p != 'e'; p++)
        if (is_digit(*p))
            m = m * 10 + (uint64_t)(*p - '0');
    scale = atoi(p + 1) - (sig->n - 2); /* nearest = m * 10^scale */
    for (int i = 0; i < sig->n - 2; i++)
        pow10 *= 10;
    /* strtod() is monotonic: where the nearest reads back tells on which side of @value it
     * lies, so only one neighbour needs reading. */
    back = strtod(nearest, NULL);
    if (back < magnitude)
        shorter = reads_back(magnitude, m + 1, scale);
    else if (back > magnitude)
        shorter = reads_back(magnitude, m - 1, scale) ||
                  (m == pow10 && reads_back(magnitude, 10 * m - 1, scale - 1));
    else
        shorter = 1;
    if (shorter)
        fail(value, text, "a decimal with fewer digits reads back as the same double");
}

/* Among the shortest decimals that read back, the closest to @value, ties to an even last
 * digit: printf's %e rounds the same way, so when its decimal of as many digits reads back,
 * that is the one. (It may not read back just below a power of two, where the interval is
 * narrower below @value than above; then the answer is the other neighbour.) */
static void check_closest(double value, const char *text, const digits_t *sig)
{
    char nearest[48];

    if (sig->n == 0)
        return;
    snprintf(nearest, sizeof(nearest), "%.*e", sig->n - 1, fabs(value));
    if (!same_bits(strtod(nearest, NULL), fabs(value)))
        return;
    digits_t want = significant(nearest);
    if (strcmp(want.d, sig->d) != 0 || want.x != sig->x) {
        char why[128];
        snprintf(why, sizeof(why), "%s is as short and closer", nearest);
        fail(value, text, why);
    }
}

/* Writes @sig as printf's %.{precision}g lays out a value of those significant digits
 * (C11 7.21.6.1): style e when their exponent X < -4 or X >= precision, else style f; then
 * no trailing zeros and no bare point; at least two digits of exponent. */
static void g_layout(const digits_t *sig, int precision, char *out)
{
    const char *d = sig->d;
    int n = sig->n, x = sig->x;

    if (x < -4 || x >= precision) { /* d.ddde+XX */
        *out++ = d[0];
        if (n > 1)
            out += sprintf(out, ".%s", d + 1);
        sprintf(out, "e%c%02d", x < 0 ? '-' : '+', x < 0 ? -x : x);
    } else if (x < 0) { /* 0.000ddd */
        out += sprintf(out, "0.");
        memset(out, '0', (size_t)(-x - 1));
        strcpy(out + (-x - 1), d);
    } else if (x < n - 1) { /* dd.ddd */
        sprintf(out, "%.*s.%s", x + 1, d, d + x + 1);
    } else { /* ddd000 */
        out += sprintf(out, "%s", d);
        memset(out, '0', (size_t)(x - (n - 1)));
        out[x - (n - 1)] = '\0';
    }
}

/* The layout is printf's, as dtoa.h promises: "%.0f" for integers up to 2^53, else "%.*g"
 * at precision max(15, digits) applied to the digits dtoa_shortest() chose. */
static void check_layout(double value, const char *text, const digits_t *sig)
{
    double magnitude = fabs(value);
    char want[64];

    if (magnitude <= 0x1p53 && magnitude == (double)(uint64_t)magnitude) {
        snprintf(want, sizeof(want), "%.0f", value);
    } else {
        want[0] = '-';
        g_layout(sig, sig->n > 15 ? sig->n : 15, want + (value < 0));
    }
    if (strcmp(want, text) != 0) {
        char why[128];
        snprintf(why, sizeof(why), "laid out as printf would: \"%s\"", want);
        fail(value, text, why);
    }
}

static void check(double value)
{
    char text[DTOA_MAX];
    char *end;
    size_t len = dtoa_shortest(value, text);

    if (len >= DTOA_MAX || len != strlen(text))
        fail(value, text, "the returned length is not that of the text");
    if (!isfinite(value)) {
        if (strcmp(text, "null") != 0)
            fail(value, text, "NaN and the infinities are written as null");
        return;
    }
    if (!json_number(text))
        fail(value, text, "not a JSON number");
    /* Bits, not ==: -0.0 must stay negative. */
    if (!same_bits(strtod(text, &end), value) || end != text + len)
        fail(value, text, "strtod does not read back the same double");
    digits_t sig = significant(text);
    if (value == 0 ? sig.n != 0 : sig.n == 0)
        fail(value, text, "zero and nonzero confused");
    check_shortest(value, text, &sig);
    check_closest(value, text, &sig);
    check_layout(value, text, &sig);
}

static double double_at(const uint8_t *data)
{
    double value;
    memcpy(&value, data, sizeof(value));
    return value;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char text[64], *end;
    double value;

    if (size < sizeof(double)) {
        uint8_t padded[sizeof(double)] = {0};
        if (size > 0)
            memcpy(padded, data, size);
        check(double_at(padded));
    }
    for (size_t i = 0; i + sizeof(double) <= size && i + sizeof(double) <= WINDOW_BYTES; i++)
        check(double_at(data + i));

    /* Short texts only: a long one is not a spelling. */
    if (size < sizeof(text)) {
        if (size > 0)
            memcpy(text, data, size);
        text[size] = '\0';
        value = strtod(text, &end);
        if (end == text)
            return 0; /* no number: the 0 strtod returns was checked often enough */
        check(value);
        check(nextafter(value, INFINITY));
        check(nextafter(value, -INFINITY));
    }
    return 0;
}
