/* ui.h: the status page (ui.dir served at /ui/) and the API description (/openapi.json).
 * Private to core/. */
#ifndef SYMTASK_CORE_UI_H
#define SYMTASK_CORE_UI_H

#include <h2o.h>

#include "daemon.h"

/* Reads {ui.dir}/openapi.json into d->openapi; when it is missing or not JSON, logs a
 * warning that names the file and the key, and /openapi.json answers 404 saying so. */
void ui_load(daemon_t *d);

/* Serves the files of d->ui_dir under /ui/ with their security and cache headers. Call
 * before api_register(): h2o takes the first path that matches. */
void ui_register(daemon_t *d, h2o_hostconf_t *hostconf);

void ui_free(daemon_t *d);

#endif
