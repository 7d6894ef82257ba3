/* dtoa.h: doubles as the shortest JSON number text that reads back as the same double.
 * Private to symtask (not installed). */
#ifndef SYMTASK_COMMON_DTOA_H
#define SYMTASK_COMMON_DTOA_H

#include <stddef.h>

/* Bytes dtoa_shortest() may write, NUL included: the longest text is 24 characters, as in
 * "-2.2250738585072014e-308". */
#define DTOA_MAX 25

/* Writes @value to @out as NUL-terminated text and returns its length without the NUL.
 *
 * The digits are the fewest that strtod() reads back as exactly @value; among several such
 * strings, the one closest to @value (ties to an even last digit). The layout is that of
 * printf, so that it matches what symtask wrote before with snprintf:
 *  - integers of magnitude up to 2^53 as "%.0f" does: "0", "-0", "42", "9007199254740992";
 *  - anything else as "%.*g" does with precision P = max(15, number of digits): fixed
 *    notation when the first digit's decimal exponent X is in -4 <= X < P ("0.0001",
 *    "123.456"), else "1e+20", "1.0000000000000001e-05", "-2.5e-300".
 * NaN and the infinities have no JSON number; they are written as "null".
 * Exact integer arithmetic only: no allocation, no locale, safe to call from any thread. */
size_t dtoa_shortest(double value, char out[DTOA_MAX]);

#endif
