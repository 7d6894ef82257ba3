/* params.h: reading the params of the model-server plugins, the same way in each: lists,
 * ranges, ids that go into a URL path. Private to plugins/ (in the library of
 * http_client.h). */
#ifndef SYMTASK_PLUGINS_PARAMS_H
#define SYMTASK_PLUGINS_PARAMS_H

#include <stddef.h>

/* Splits a LIST param's value (comma-separated, none empty: the loader checked) into
 * malloc'd strings without the blanks around them. -1 when out of memory (what was split is
 * in *@out, *@n of them, to free with mp_strv_free). */
int mp_split_list(const char *value, char ***out, size_t *n);
void mp_strv_free(char **v, size_t n);

/* @v from @min to @max, else -1 with "params.KEY: V is not from MIN to MAX". */
int mp_range(const char *key, long v, long min, long max, char *errstr, size_t errstr_size);

/* An id that goes into a URL path: 1 to @max_len characters, no / ? # % \ or blanks; else -1
 * with a message naming @key. */
int mp_path_id(const char *key, const char *v, size_t max_len, char *errstr, size_t errstr_size);

#endif
