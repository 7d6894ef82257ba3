/* size.h: byte sizes as users write them ("512k", "1024m", "2g", "16777216"). Private. */
#ifndef SYMTASK_COMMON_SIZE_H
#define SYMTASK_COMMON_SIZE_H

#include <stdint.h>

/* Parses digits with an optional k/m/g suffix (either case, powers of 1024). Returns 0, or
 * -1 for anything else, a sign, spaces, or a value over UINT64_MAX. */
int size_parse(const char *s, uint64_t *out);

#endif
