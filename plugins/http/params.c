/* params.c: the params of the model-server plugins (params.h). */
#include "params.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int mp_split_list(const char *value, char ***out, size_t *n)
{
    size_t count = 1;
    for (const char *p = value; *p; p++)
        count += *p == ',';
    *n = 0;
    *out = calloc(count, sizeof(**out));
    if (*out == NULL)
        return -1;
    for (const char *p = value;;) {
        size_t len = strcspn(p, ",");
        const char *start = p;
        while (len > 0 && (*start == ' ' || *start == '\t')) {
            start++;
            len--;
        }
        while (len > 0 && (start[len - 1] == ' ' || start[len - 1] == '\t'))
            len--;
        if (((*out)[*n] = strndup(start, len)) == NULL)
            return -1;
        (*n)++;
        p += strcspn(p, ",");
        if (*p != ',')
            break;
        p++;
    }
    return 0;
}

void mp_strv_free(char **v, size_t n)
{
    for (size_t i = 0; v != NULL && i < n; i++)
        free(v[i]);
    free(v);
}

int mp_range(const char *key, long v, long min, long max, char *errstr, size_t errstr_size)
{
    if (v >= min && v <= max)
        return 0;
    snprintf(errstr, errstr_size, "params.%s: %ld is not from %ld to %ld", key, v, min, max);
    return -1;
}

int mp_path_id(const char *key, const char *v, size_t max_len, char *errstr, size_t errstr_size)
{
    size_t len = strlen(v);
    if (len == 0 || len > max_len) {
        snprintf(errstr, errstr_size, "params.%s: must be 1 to %zu characters", key, max_len);
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c <= ' ' || c == 0x7f || strchr("/?#%\\", c) != NULL) {
            snprintf(errstr, errstr_size,
                     "params.%s: '%.64s' cannot be part of a URL path (no / ? # %% \\ or blanks)",
                     key, v);
            return -1;
        }
    }
    return 0;
}
