/* optkeys.c: task params outside sml.* that are options of plugins (optkeys.h). */
#include "optkeys.h"

#include <string.h>

/* The one list: prefixes of keys outside sml.* that belong to plugins. */
static const char *const plugin_option_prefixes[] = {
    "schema.registry.",
};

bool optkeys_is_plugin_option(const char *key)
{
    for (size_t i = 0; i < sizeof(plugin_option_prefixes) / sizeof(plugin_option_prefixes[0]);
         i++) {
        size_t len = strlen(plugin_option_prefixes[i]);
        if (strncmp(key, plugin_option_prefixes[i], len) == 0 && key[len] != '\0')
            return true;
    }
    return false;
}
