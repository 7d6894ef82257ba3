/* test_host10.c: a worker that speaks only plugin ABI 1.0 (the loader built with
 * LOADER_ABI_MINOR=0) refuses plugins of 1.1 with a message that says what to do, and still
 * loads plugins of 1.0, offering them the host table of 1.0. */
#include <criterion/criterion.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "loader.h"

static char errstr[1024];

static const char *dir(const char *name)
{
    const char *d = getenv(name);
    cr_assert(d != NULL && d[0] != '\0', "%s is not set (meson test sets it)", name);
    return d;
}

TestSuite(host10, .timeout = 60);

Test(host10, refuses_plugins_of_abi_1_1)
{
    const char *names[] = {"json", "csv", "linear"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        symtask_plugin_kind_t kind = i < 2 ? SYMTASK_PLUGIN_SERIALIZER : SYMTASK_PLUGIN_PREDICTOR;
        plugin_t *p =
            plugin_load(dir("SYMTASK_PLUGIN_DIR"), names[i], kind,
                        i < 2 ? "sml.serializer" : "sml.predictor", errstr, sizeof(errstr));
        cr_expect_null(p, "%s was loaded", names[i]);
        cr_expect(strstr(errstr, "was built for plugin ABI 1.1 but this symtask-worker speaks "
                                 "only up to 1.0: upgrade symtask, or rebuild the plugin "
                                 "against these headers") != NULL,
                  "%s", errstr);
        cr_expect(
            strncmp(errstr,
                    i < 2 ? "params.sml.serializer: plugin " : "params.sml.predictor: plugin ",
                    i < 2 ? 30 : 29) == 0,
            "%s", errstr);
        plugin_unload(p);
    }
}

Test(host10, loads_plugins_of_abi_1_0_with_the_host_table_of_1_0)
{
    plugin_t *p = plugin_load(dir("SYMTASK_ABI10_PLUGIN_DIR"), "threshold",
                              SYMTASK_PLUGIN_PREDICTOR, "sml.predictor", errstr, sizeof(errstr));
    cr_assert_not_null(p, "%s", errstr);
    cr_expect_eq(plugin_descriptor(p)->abi_minor, 0);
    cr_expect_eq(plugin_abi_minor(), 0);
    cr_expect_eq(plugin_host()->abi_minor, 0);
    cr_expect_eq(plugin_host()->size, offsetof(symtask_host_t, arena_alloc));
    plugin_unload(p);
}
