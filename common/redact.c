/* redact.c: what user input and param keys may appear in messages. */
#include "redact.h"

#include <string.h>
#include <strings.h>

const char *redact_shown(char *out, const char *s, size_t max)
{
    size_t len = strlen(s), n = len, i;

    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--;
    }
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    if (n < len) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
    return out;
}

static bool has_prefix_ci(const char *s, const char *prefix)
{
    return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

bool redact_key_is_secret(const char *key)
{
    if (strcasestr(key, "password") || strcasestr(key, "secret") || strcasestr(key, "key") ||
        strcasestr(key, "token") || strcasestr(key, "user.info"))
        return true;
    if (has_prefix_ci(key, "kafka.consumer."))
        key += strlen("kafka.consumer.");
    else if (has_prefix_ci(key, "kafka.producer."))
        key += strlen("kafka.producer.");
    return has_prefix_ci(key, "sasl.") || has_prefix_ci(key, "ssl.");
}
