/* properties.h: Java properties files, read as java.util.Properties reads them, for the
 * tasks of SymetryML's Kafka stream application. Private to client/. */
#ifndef SYMTASK_CLIENT_PROPERTIES_H
#define SYMTASK_CLIENT_PROPERTIES_H

#include <stdbool.h>
#include <stddef.h>

/* One key = value entry, in the order of the file. */
typedef struct props_entry {
    char *key;           /* UTF-8, NUL-terminated, malloc'd; may be empty ("= v" is the key "") */
    char *value;         /* the same */
    unsigned line;       /* the line the entry starts on, from 1 */
    bool trailing_space; /* the value ends in whitespace that was not escaped, which Java
                          * keeps as part of the value (and so does this parser) */
} props_entry_t;

typedef struct props {
    props_entry_t *entries; /* every entry, a key given twice twice (the last one counts) */
    size_t count;
    bool latin1; /* the file is not UTF-8 and was read as ISO 8859-1 (Java's
                  * Properties.load(InputStream)) */
} props_t;

/* Parses the @len bytes at @text into @out (empty on entry). The syntax is Java's: logical
 * lines that a line terminator (\n, \r or \r\n) preceded by an odd number of backslashes
 * continues (the next line's leading whitespace dropped); comment lines whose first
 * non-whitespace character is '#' or '!' (never continued); the key up to the first
 * unescaped '=', ':' or whitespace (space, tab, form feed), then whitespace and at most one
 * '=' or ':' and whitespace; the value is the rest, its trailing whitespace included;
 * escapes \t \n \r \f, \uXXXX (UTF-16, pairs of surrogates joined) and \c for any other
 * c. Text that is valid UTF-8 is read as UTF-8, anything else as ISO 8859-1. Returns 0, or
 * -1 with "line N: what is wrong" in @errstr (never quoting a value): a malformed \uXXXX,
 * half a surrogate pair, a NUL character. */
int props_parse(const char *text, size_t len, props_t *out, char *errstr, size_t errstr_size);

/* Frees the entries, wiping them first (values may be secrets). */
void props_free(props_t *props);

#endif
