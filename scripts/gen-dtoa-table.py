#!/usr/bin/python3
"""gen-dtoa-table.py: writes common/dtoa_pow10.h, the powers of ten common/dtoa.c scales by.

Usage: scripts/gen-dtoa-table.py > common/dtoa_pow10.h

Everything is computed with Python's exact integers and fractions. Besides the table, the
script proves (by checking every binary exponent a double can have) the facts dtoa.c
relies on, and refuses to write anything if one of them does not hold:

  1. The multiply-and-shift approximations of floor(q * log10(2)),
     floor(q * log10(2) + log10(3/4)) and floor(e * log2(10)) are exact over the ranges
     dtoa.c uses them on, and cannot overflow an int32.
  2. Scaling by the 128-bit table entries gives the exact integer part of
     x * 2^q / 10^k, and tells exactly whether it is an integer, for every integer x
     dtoa.c scales (see check_scaling below for the argument).
"""
import math
import sys
from fractions import Fraction

# Exponents of a finite nonzero double c * 2^q (c the integer significand).
Q_MIN, Q_MAX = -1074, 971
C_MIN = 1 << 52  # smallest significand of a normal double

# dtoa.c computes 4 * v / 10^k (and the same for the ends of the rounding interval) for
# x = 4c - 2, 4c - 1, 4c, 4c + 2: all below this bound.
X_MAX = 4 * (2 * C_MIN - 1) + 2

# It marks a scaled value as "not an integer" when the 128-bit fraction it computed is at
# least 2^FRACTION_THRESHOLD_BITS (dtoa.c tests the top 68 bits of the fraction).
FRACTION_THRESHOLD_BITS = 60

G_BITS = 128  # table entries g satisfy 2^127 <= g < 2^128


def require(condition, *detail):
    """Stops without writing anything when a checked fact does not hold (unlike assert,
    not skipped under python3 -O)."""
    if not condition:
        sys.exit(f"gen-dtoa-table: check failed {detail}")


def floor_log10(fr):
    """Exact floor(log10(fr)) for a positive Fraction."""
    k = math.floor(math.log10(fr.numerator) - math.log10(fr.denominator))
    while Fraction(10) ** k > fr:
        k -= 1
    while Fraction(10) ** (k + 1) <= fr:
        k += 1
    return k


def floor_log2(fr):
    """Exact floor(log2(fr)) for a positive Fraction."""
    r = fr.numerator.bit_length() - fr.denominator.bit_length()
    while Fraction(2) ** r > fr:
        r -= 1
    while Fraction(2) ** (r + 1) <= fr:
        r += 1
    return r


def find_mul_shift(targets, estimate):
    """Smallest shift s with a multiplier m and offsets b_i such that
    (x * m + b_i) >> s == target_i(x) for every x of each (target_i, xs_i, offset_i) in
    targets, all products within an int32 (offset_i estimates b_i / 2^s)."""
    for s in range(10, 31):
        for m in (math.floor(estimate * 2**s), math.ceil(estimate * 2**s)):
            offsets = []
            for target, xs, offset in targets:
                b0 = round(offset * 2**s)
                found = None
                for b in range(b0 - 2, b0 + 3) if offset else (0,):
                    if max(abs(x * m + b) for x in (xs[0], xs[-1])) >= 2**31:
                        continue
                    if all((x * m + b) >> s == target(x) for x in xs):
                        found = b
                        break
                if found is None:
                    break
                offsets.append(found)
            else:
                return m, offsets, s
    sys.exit("gen-dtoa-table: no multiply-and-shift approximation found")


def k_regular(q):
    """Decimal exponent for a double away from a power of two: 10^k <= 2^q < 10^(k+1)."""
    return floor_log10(Fraction(2) ** q)


def k_boundary(q):
    """Same, for the narrower interval below a power of two: 10^k <= 3/4 * 2^q."""
    return floor_log10(Fraction(3, 4) * Fraction(2) ** q)


def min_distance_to_integer(alpha, n):
    """Smallest distance from x * alpha to the nearest integer over 1 <= x <= n, leaving out
    the x for which x * alpha is an integer.

    By the best-approximation property of continued fractions, for x below the next
    convergent denominator q_(i+1), ||x * alpha|| >= ||q_i * alpha||; so the minimum is
    reached at the last convergent denominator not above n. When alpha = a/b exactly with
    b <= n, the values x * alpha hit every multiple of 1/b, and the minimum is 1/b."""
    if alpha.denominator <= n:
        return Fraction(1, alpha.denominator)
    h_prev, h = 1, 0  # convergent denominators q_(i-1), q_i
    rest = alpha
    last = None
    while True:
        a = rest.numerator // rest.denominator
        h_prev, h = h, a * h + h_prev
        if h > n:
            break
        last = h
        rest = rest - a
        if rest == 0:
            break
        rest = 1 / rest
    prod = last * alpha
    frac = prod - math.floor(prod)
    return min(frac, 1 - frac)


def table_entry(e):
    """10^e = g * 2^r with g the 128-bit integer just above (or equal to) the exact value."""
    p = Fraction(10) ** e
    r = floor_log2(p) - (G_BITS - 1)
    g = math.ceil(p / Fraction(2) ** r)
    require(2 ** (G_BITS - 1) <= g < 2**G_BITS)
    return g, r


def check_scaling(q, k, g, r, xs=None):
    """dtoa.c computes, for an integer x, ((x << h) * g) as 192 bits and reads the top 64 as
    floor(x * 2^q / 10^k), the rest as the fraction. With g = G + t (G = 10^-k / 2^r the
    exact value, 0 <= t < 1) the fraction is overestimated by (x << h) * t < 2^60 units of
    2^-128. That is harmless if every non-integer x * 2^q / 10^k is at least 2^-68 from an
    integer: the integer part cannot be pushed up, an integer gets a fraction below the
    threshold, and a non-integer one at least 2^-68 (2^60 units) above it.

    Regular doubles: every x up to X_MAX is covered by the continued-fraction bound.
    Next to a power of two (xs given): the three values of x are simulated exactly."""
    h = G_BITS + q + r
    require(1 <= h and (X_MAX << h) < 2**64, (q, h))
    alpha = Fraction(2) ** q / Fraction(10) ** k
    if xs is None:
        error = Fraction(X_MAX << h, 2**128)
        threshold = Fraction(2**FRACTION_THRESHOLD_BITS, 2**128)
        dist = min_distance_to_integer(alpha, X_MAX)
        require(error <= threshold <= dist, (q, k, float(dist)))
        require(X_MAX * alpha < 2**64, q)
        return h, dist
    for x in xs:
        prod = (x << h) * g
        integer, fraction = prod >> 128, prod & (2**128 - 1)
        exact = x * alpha
        require(integer == math.floor(exact), (q, x))
        require((fraction >> FRACTION_THRESHOLD_BITS != 0) == (exact.denominator != 1), (q, x))
        require(integer < 2**64)
    return h, None


def main():
    qs = range(Q_MIN, Q_MAX + 1)
    qs_boundary = range(Q_MIN + 1, Q_MAX + 1)  # the smallest exponent has no narrow side

    ks = {q: k_regular(q) for q in qs}
    kbs = {q: k_boundary(q) for q in qs_boundary}
    e_min = -max(max(ks.values()), max(kbs.values()))
    e_max = -min(min(ks.values()), min(kbs.values()))

    # One multiplier for both decimal-exponent formulas, so they differ only in the offset.
    m10, (_, b10b), s10 = find_mul_shift(
        [(k_regular, qs, 0.0), (k_boundary, qs_boundary, math.log10(0.75))], math.log10(2)
    )
    pow10s = range(e_min, e_max + 1)
    m2, _, s2 = find_mul_shift(
        [(lambda e: floor_log2(Fraction(10) ** e), pow10s, 0.0)], math.log2(10)
    )

    entries = {e: table_entry(e) for e in pow10s}

    worst = 1
    for q in qs:
        g, r = entries[-ks[q]]
        h, dist = check_scaling(q, ks[q], g, r)
        require(h == 1 + q + ((-ks[q] * m2) >> s2))
        worst = min(worst, dist)
    for q in qs_boundary:
        g, r = entries[-kbs[q]]
        xs = (4 * C_MIN - 1, 4 * C_MIN, 4 * C_MIN + 2)
        h, _ = check_scaling(q, kbs[q], g, r, xs)
        require(h == 1 + q + ((-kbs[q] * m2) >> s2))

    out = sys.stdout
    out.write(
        f"""/* dtoa_pow10.h: GENERATED by scripts/gen-dtoa-table.py -- do not edit; rerun:
 *   /usr/bin/python3 scripts/gen-dtoa-table.py > common/dtoa_pow10.h
 * Private to common/dtoa.c, the only file that includes it.
 *
 * DTOA_POW10[e - DTOA_POW10_E_MIN] is 10^e rounded up to 128 significant bits:
 * 10^e <= (hi * 2^64 + lo) * 2^r < 10^e + 2^r, with 2^127 <= hi * 2^64 + lo < 2^128 and
 * r = floor(e * log2(10)) - 127. The generator has checked, for every exponent a double
 * can have, that scaling with these entries as dtoa.c does is exact (closest non-integer
 * scaled value found: {float(worst):.3g} from an integer, where 2^-{128 - FRACTION_THRESHOLD_BITS} would do), and
 * that the DTOA_FLOOR_* multiply-and-shift formulas below equal the exact floors. */
#ifndef SYMTASK_COMMON_DTOA_POW10_H
#define SYMTASK_COMMON_DTOA_POW10_H

#include <stdint.h>

/* floor(q * log10(2)) for -1074 <= q <= 971. */
#define DTOA_FLOOR_LOG10_POW2(q) (({m10} * (q)) >> {s10})
/* floor(q * log10(2) + log10(3/4)) for -1073 <= q <= 971. */
#define DTOA_FLOOR_LOG10_3_4_POW2(q) (({b10b} + {m10} * (q)) >> {s10})
/* floor(e * log2(10)) for DTOA_POW10_E_MIN <= e <= DTOA_POW10_E_MAX. */
#define DTOA_FLOOR_LOG2_POW10(e) (({m2} * (e)) >> {s2})

#define DTOA_POW10_E_MIN ({e_min})
#define DTOA_POW10_E_MAX {e_max}

static const struct dtoa_pow10 {{
    uint64_t hi, lo;
}} DTOA_POW10[DTOA_POW10_E_MAX - DTOA_POW10_E_MIN + 1] = {{
"""
    )
    for e in pow10s:
        g, _ = entries[e]
        out.write(f"    {{0x{g >> 64:016x}, 0x{g & (2**64 - 1):016x}}}, /* 1e{e} */\n")
    out.write("};\n\n#endif\n")


if __name__ == "__main__":
    main()
