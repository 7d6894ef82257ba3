/* ui.c: serves the status page's static files and loads the API description. */
#include "ui.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define UI_OPENAPI_MAX (1024 * 1024)

void ui_load(daemon_t *d)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/index.html", d->ui_dir);
    if (access(path, R_OK) != 0)
        log_warn(NULL, "no status page: %s cannot be read (%s); set ui.dir to its directory", path,
                 strerror(errno));

    snprintf(path, sizeof(path), "%s/openapi.json", d->ui_dir);
    json_error_t jerr;
    json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL) {
        log_warn(NULL, "no API description at /openapi.json: %s: %s; set ui.dir to its directory",
                 path, jerr.text);
        return;
    }
    /* Kept as compact text: the answer is sent as it is, many times. */
    char *text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(doc);
    if (text == NULL || strlen(text) > UI_OPENAPI_MAX) {
        log_warn(NULL, "no API description at /openapi.json: %s is too large", path);
        free(text);
        return;
    }
    d->openapi = text;
    d->openapi_len = strlen(text);
}

void ui_free(daemon_t *d)
{
    free(d->openapi);
    d->openapi = NULL;
}

/* Header names h2o has no token for. */
static h2o_iovec_t ui_csp_name = {H2O_STRLIT("content-security-policy")};
static h2o_iovec_t ui_nosniff_name = {H2O_STRLIT("x-content-type-options")};
static h2o_iovec_t ui_frame_name = {H2O_STRLIT("x-frame-options")};
static h2o_iovec_t ui_referrer_name = {H2O_STRLIT("referrer-policy")};

/* The page loads only its own files and talks only to its own origin; nothing inline runs,
 * nothing frames it (docs/ui.md). */
#define UI_CSP                                                                                     \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "                    \
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

/* h2o decodes %00 into the file name it opens, where it ends the C string ("/ui/%00x" would
 * name the directory): such a path names no file of the page. */
static int ui_guard(h2o_handler_t *self, h2o_req_t *req)
{
    h2o_iovec_t path = req->path;
    for (size_t i = 0; i + 2 < path.len; i++)
        if (path.base[i] == '%' && path.base[i + 1] == '0' && path.base[i + 2] == '0') {
            req->res.status = 404;
            req->res.reason = "Not Found";
            h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                           H2O_STRLIT("text/plain; charset=utf-8"));
            h2o_send_inline(req, H2O_STRLIT("not found\n"));
            return 0;
        }
    return -1; /* the file handler's */
}

void ui_register(daemon_t *d, h2o_hostconf_t *hostconf)
{
    static const char *index_files[] = {"index.html", NULL};
    static h2o_headers_command_t cmds[6];
    cmds[0] = (h2o_headers_command_t){H2O_HEADERS_CMD_SET, &ui_csp_name, {H2O_STRLIT(UI_CSP)}};
    cmds[1] =
        (h2o_headers_command_t){H2O_HEADERS_CMD_SET, &ui_nosniff_name, {H2O_STRLIT("nosniff")}};
    cmds[2] = (h2o_headers_command_t){H2O_HEADERS_CMD_SET, &ui_frame_name, {H2O_STRLIT("DENY")}};
    cmds[3] = (h2o_headers_command_t){
        H2O_HEADERS_CMD_SET, &ui_referrer_name, {H2O_STRLIT("no-referrer")}};
    /* Revalidated each time (ETag, Last-Modified): an upgraded package shows at once. */
    cmds[4] = (h2o_headers_command_t){
        H2O_HEADERS_CMD_SET, &H2O_TOKEN_CACHE_CONTROL->buf, {H2O_STRLIT("no-cache")}};
    cmds[5] = (h2o_headers_command_t){H2O_HEADERS_CMD_NULL, NULL, {NULL, 0}};

    h2o_pathconf_t *pathconf = h2o_config_register_path(hostconf, "/ui", 0);
    h2o_headers_register(pathconf, cmds);
    /* No directory listing: only files are served; a missing one is a 404. */
    h2o_create_handler(pathconf, sizeof(h2o_handler_t))->on_req = ui_guard;
    h2o_mimemap_t *mimemap = h2o_mimemap_create();
    /* UTF-8 said in the header too, and JavaScript's registered type (RFC 9239) */
    h2o_mimemap_define_mimetype(mimemap, "html", "text/html; charset=utf-8", NULL);
    h2o_mimemap_define_mimetype(mimemap, "js", "text/javascript; charset=utf-8", NULL);
    h2o_mimemap_define_mimetype(mimemap, "css", "text/css; charset=utf-8", NULL);
    h2o_file_register(pathconf, d->ui_dir, index_files, mimemap, 0);
    h2o_mem_release_shared(mimemap);
}
