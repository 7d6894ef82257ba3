/* dtoa.c: shortest round-trip text for doubles, with exact 64/128-bit integer arithmetic.
 *
 * The method is Raffaello Giulietti's Schubfach ("The Schubfach way to render doubles",
 * 2020), written afresh for symtask. A finite double v = c * 2^q stands for every real that
 * strtod() rounds to it: its rounding interval R, reaching half a unit 2^q on each side (a
 * quarter below a power of two, where the next double down is closer). We pick the decimal
 * exponent k with 10^k <= |R| < 10^(k+1), so that R holds at least one multiple of 10^k
 * and at most one multiple of 10^(k+1). Then:
 *  - if R holds a multiple of 10^(k+1), it is the only one, and no shorter decimal lies
 *    in R: that is the answer. (An equally short one can lie in R only for the double
 *    9.88e-324, where 9e-324 is as short as 1e-323 but farther.)
 *  - otherwise the shortest decimals in R are its multiples of 10^k, and the closest of
 *    them to v is one of the two that bracket v.
 * Deciding this needs v and the ends of R divided by 10^k, to the exact integer part plus
 * whether a fraction remains; scripts/gen-dtoa-table.py proves that the 128-bit powers of
 * ten in dtoa_pow10.h give exactly that for every double. */
#include "dtoa.h"
#include "dtoa_pow10.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* Significand, exponent and sign fields of an IEEE 754 binary64. */
#define MANTISSA_BITS 52
#define EXPONENT_MASK 0x7ff
#define SIGN_BIT (UINT64_C(1) << 63)
#define HIDDEN_BIT (UINT64_C(1) << MANTISSA_BITS)
#define Q_MIN (-1074) /* exponent of subnormals and of the smallest normals */

/* Integers up to here are written whole, as the old "%.0f" branch did. */
#define INTEGER_MAX 9007199254740992.0 /* 2^53 */

/* %g switches to exponent notation at this many digits or more before the point (at the
 * precision the old code started with, 15, or more when more digits are needed). */
#define FIXED_PRECISION_MIN 15

/* A decimal digits * 10^exp. */
typedef struct decimal {
    uint64_t digits;
    int exp;
} decimal_t;

/* The high 64 bits of a * b; the low ones go to *lo. */
static uint64_t mul_64x64(uint64_t a, uint64_t b, uint64_t *lo)
{
#ifdef __SIZEOF_INT128__
    unsigned __int128 product = (unsigned __int128)a * b;

    *lo = (uint64_t)product;
    return (uint64_t)(product >> 64);
#else
    /* 32-bit targets (Debian builds for any architecture): schoolbook on 32-bit halves. */
    uint64_t a_lo = (uint32_t)a, a_hi = a >> 32, b_lo = (uint32_t)b, b_hi = b >> 32;
    uint64_t ll = a_lo * b_lo, lh = a_lo * b_hi, hl = a_hi * b_lo, hh = a_hi * b_hi;
    uint64_t mid = (ll >> 32) + (uint32_t)lh + (uint32_t)hl; /* < 3 * 2^32: no overflow */

    *lo = (mid << 32) | (uint32_t)ll;
    return hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
#endif
}

/* x * 2^q / 10^k rounded down, with the lowest bit set when that dropped a fraction, for
 * @pow10 = 10^-k from the table and @x_shifted = x << h (h = 1 + q + floor(-k log2 10)).
 * The 192-bit product x_shifted * pow10 then has the integer part in its top 64 bits.
 * Setting the low bit ("round to odd") keeps every comparison with an even integer exact:
 * a quotient strictly between 2m and 2m + 2 becomes 2m + 1. The table entry is rounded
 * up, so the product's fraction is at most 2^60 units of 2^-128 too large: a fraction
 * counts only from 2^60 on (the generator has checked that none lies below that). */
static uint64_t scale_to_odd(const struct dtoa_pow10 *pow10, uint64_t x_shifted)
{
    uint64_t lo_lo, lo_hi = mul_64x64(x_shifted, pow10->lo, &lo_lo);
    uint64_t hi_lo, hi_hi = mul_64x64(x_shifted, pow10->hi, &hi_lo);
    uint64_t mid = hi_lo + lo_hi;
    uint64_t integer = hi_hi + (mid < hi_lo); /* the carry out of the middle word */
    bool fraction = mid != 0 || lo_lo >> 60 != 0;

    return integer | fraction;
}

/* The shortest decimal in the rounding interval of c * 2^q (c > 0), the closest to it when
 * several are as short; its digits may end in zeros. See the top of the file. */
static decimal_t shortest(uint64_t c, int q)
{
    /* Below a power of two the next double down is half as far as the next one up. */
    bool narrow_below = c == HIDDEN_BIT && q > Q_MIN;
    /* Both macros shift a negative int right; GCC and Clang shift arithmetically (floor). */
    int k = narrow_below ? DTOA_FLOOR_LOG10_3_4_POW2(q) : DTOA_FLOOR_LOG10_POW2(q);
    int h = 1 + q + DTOA_FLOOR_LOG2_POW10(-k);
    const struct dtoa_pow10 *pow10 = &DTOA_POW10[-k - DTOA_POW10_E_MIN];

    /* v and the ends of its rounding interval, in units of 10^k / 4: the quarters make the
     * ends (half or a quarter of 2^q away) integers before scaling. */
    uint64_t c4 = c << 2;
    uint64_t vb = scale_to_odd(pow10, c4 << h);
    uint64_t lower = scale_to_odd(pow10, (c4 - (narrow_below ? 1 : 2)) << h);
    uint64_t upper = scale_to_odd(pow10, (c4 + 2) << h);
    /* strtod() rounds a tie to the even significand: the ends belong to v's interval when c
     * is even. Adding 1 to the left side makes "<=" a "<" for odd c. */
    uint64_t open = c & 1;

    uint64_t s = vb >> 2; /* v / 10^k rounded down */

    /* The multiples of 10^(k+1) bracketing v: at most one of them is in the interval. */
    uint64_t s10 = s / 10 * 10, t10 = s10 + 10;
    bool s10_in = lower + open <= s10 << 2;
    bool t10_in = (t10 << 2) + open <= upper;
    if (s10_in != t10_in)
        return (decimal_t){s10_in ? s10 : t10, k};

    /* The multiples of 10^k bracketing v: at least one of them is in the interval. */
    uint64_t t = s + 1;
    bool s_in = lower + open <= s << 2;
    bool t_in = (t << 2) + open <= upper;
    if (s_in != t_in)
        return (decimal_t){s_in ? s : t, k};

    /* Both: the closer one, compared through the midpoint 4s + 2; a tie goes to even. */
    uint64_t mid = (s << 2) + 2;
    bool take_s = vb < mid || (vb == mid && (s & 1) == 0);
    return (decimal_t){take_s ? s : t, k};
}

/* Short values such as 0.1 come out of shortest() as 10000000000000000e-17. */
static decimal_t drop_trailing_zeros(decimal_t d)
{
    if (d.digits % 100000000 == 0) {
        d.digits /= 100000000;
        d.exp += 8;
    }
    while (d.digits % 10 == 0) {
        d.digits /= 10;
        d.exp++;
    }
    return d;
}

static const char DIGIT_PAIRS[] = "00010203040506070809"
                                  "10111213141516171819"
                                  "20212223242526272829"
                                  "30313233343536373839"
                                  "40414243444546474849"
                                  "50515253545556575859"
                                  "60616263646566676869"
                                  "70717273747576777879"
                                  "80818283848586878889"
                                  "90919293949596979899";

/* Writes the 8 digits of @n < 10^8, with leading zeros, at @p. */
static void eight_digits(char *p, uint32_t n)
{
    uint32_t high = n / 10000, low = n % 10000;

    memcpy(p, &DIGIT_PAIRS[2 * (high / 100)], 2);
    memcpy(p + 2, &DIGIT_PAIRS[2 * (high % 100)], 2);
    memcpy(p + 4, &DIGIT_PAIRS[2 * (low / 100)], 2);
    memcpy(p + 6, &DIGIT_PAIRS[2 * (low % 100)], 2);
}

/* Writes the decimal digits of @n < 10^17 so that they end just before @end; returns their
 * start. Dividing one long chain by 100 was the slowest step of dtoa_shortest(); cut into
 * 32-bit pieces, the divisions are cheaper and the processor can overlap them. */
static char *digits_before(char *end, uint64_t n)
{
    uint32_t high;

    if (n >= 100000000) {
        end -= 8;
        eight_digits(end, (uint32_t)(n % 100000000));
        n /= 100000000;
    }
    high = (uint32_t)n; /* below 10^9 */
    while (high >= 100) {
        end -= 2;
        memcpy(end, &DIGIT_PAIRS[2 * (high % 100)], 2);
        high /= 100;
    }
    if (high >= 10) {
        end -= 2;
        memcpy(end, &DIGIT_PAIRS[2 * high], 2);
    } else {
        *--end = (char)('0' + high);
    }
    return end;
}

/* Writes @n zeros; returns the end. */
static char *zeros(char *p, int n)
{
    memset(p, '0', (size_t)n);
    return p + n;
}

/* Lays out the @n digits @digits (no sign; the first nonzero unless n == 1) whose first
 * digit has decimal exponent @x, as printf's %g does: fixed notation without trailing
 * zeros or point, or d.ddde+XX. @whole forces fixed notation (the old %.0f branch).
 * Returns the end of the text. */
static char *lay_out(char *p, const char *digits, int n, int x, bool whole)
{
    int precision = n > FIXED_PRECISION_MIN ? n : FIXED_PRECISION_MIN;

    if (whole || (x >= -4 && x < precision)) {
        if (x < 0) { /* 0.000ddd */
            *p++ = '0';
            *p++ = '.';
            p = zeros(p, -x - 1);
        } else if (x < n - 1) { /* dd.ddd */
            memcpy(p, digits, (size_t)x + 1);
            p += x + 1;
            *p++ = '.';
            digits += x + 1;
            n -= x + 1;
        } else { /* ddd000 */
            memcpy(p, digits, (size_t)n);
            return zeros(p + n, x - (n - 1));
        }
        memcpy(p, digits, (size_t)n);
        return p + n;
    }

    *p++ = digits[0];
    if (n > 1) {
        *p++ = '.';
        memcpy(p, digits + 1, (size_t)n - 1);
        p += n - 1;
    }
    *p++ = 'e';
    *p++ = x < 0 ? '-' : '+';
    if (x < 0)
        x = -x;
    if (x >= 100) {
        *p++ = (char)('0' + x / 100);
        x %= 100;
    }
    memcpy(p, &DIGIT_PAIRS[2 * x], 2); /* at least two digits, as printf writes them */
    return p + 2;
}

size_t dtoa_shortest(double value, char out[DTOA_MAX])
{
    uint64_t bits;
    char digit_buf[20], *digits_end = digit_buf + sizeof(digit_buf), *digits;
    char *p = out;
    double magnitude;
    decimal_t d;
    bool whole;

    memcpy(&bits, &value, sizeof(bits));
    unsigned biased_exp = (unsigned)(bits >> MANTISSA_BITS) & EXPONENT_MASK;
    uint64_t mantissa = bits & (HIDDEN_BIT - 1);

    if (biased_exp == EXPONENT_MASK) {
        memcpy(out, "null", 5);
        return 4;
    }
    if (bits & SIGN_BIT)
        *p++ = '-'; /* also for -0.0, as "%.0f" writes it */
    bits &= ~SIGN_BIT;
    memcpy(&magnitude, &bits, sizeof(magnitude));

    whole = magnitude <= INTEGER_MAX && magnitude == (double)(uint64_t)magnitude;
    if (whole) {
        d = (decimal_t){(uint64_t)magnitude, 0};
    } else if (biased_exp == 0) { /* subnormal: no hidden bit, exponent of the smallest */
        d = drop_trailing_zeros(shortest(mantissa, Q_MIN));
    } else {
        d = drop_trailing_zeros(
            shortest(mantissa | HIDDEN_BIT, (int)biased_exp - 1075 /* bias + 52 */));
    }

    digits = digits_before(digits_end, d.digits);
    int n = (int)(digits_end - digits);
    p = lay_out(p, digits, n, n - 1 + d.exp, whole);
    *p = '\0';
    return (size_t)(p - out);
}
