/* test_ui.c: the status page's files as symtaskd serves them (content types, security and
 * cache headers, 304, 404, no way out of ui.dir, no CORS), and /openapi.json: served, and
 * every operation it describes reaches its handler on the live daemon. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "harness.h"

static harness_t h;

static void setup(void)
{
    h_setup(&h, NULL);
}

static void teardown(void)
{
    h_teardown(&h);
}

TestSuite(ui, .init = setup, .fini = teardown, .timeout = 120);

/* GET @path (sent as it is, not normalised) with @extra header lines. */
static h_response_t get(const char *path, const char *extra)
{
    char req[2048];
    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s\r\n",
             path, extra ? extra : "");
    return h_raw(&h, req, 0);
}

/* The value of header @name in @r (case-insensitive), copied into @out; NULL when absent. */
static const char *header(const h_response_t *r, const char *name, char *out, size_t size)
{
    size_t n = strlen(name);
    for (const char *line = strstr(r->headers, "\r\n"); line != NULL;
         line = strstr(line + 2, "\r\n")) {
        const char *l = line + 2;
        if (strncasecmp(l, name, n) == 0 && l[n] == ':') {
            const char *v = l + n + 1;
            while (*v == ' ')
                v++;
            size_t len = strcspn(v, "\r");
            snprintf(out, size, "%.*s", (int)len, v);
            return out;
        }
    }
    return NULL;
}

#define CSP                                                                                        \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "                    \
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

static void assert_page_headers(const h_response_t *r, const char *what)
{
    char v[512];
    cr_assert_not_null(header(r, "content-security-policy", v, sizeof(v)), "%s: no CSP", what);
    cr_assert_str_eq(v, CSP, "%s", what);
    cr_assert_str_eq(header(r, "x-content-type-options", v, sizeof(v)), "nosniff", "%s", what);
    cr_assert_str_eq(header(r, "x-frame-options", v, sizeof(v)), "DENY", "%s", what);
    cr_assert_str_eq(header(r, "referrer-policy", v, sizeof(v)), "no-referrer", "%s", what);
    cr_assert_str_eq(header(r, "cache-control", v, sizeof(v)), "no-cache", "%s", what);
    cr_assert_null(header(r, "access-control-allow-origin", v, sizeof(v)), "%s: CORS", what);
}

Test(ui, the_page_files_have_their_types_and_headers)
{
    static const struct {
        const char *path, *type, *contains;
    } files[] = {
        {"/ui/", "text/html; charset=utf-8", "<script src=\"app.js\" defer></script>"},
        {"/ui/index.html", "text/html; charset=utf-8", "id=\"signin\""},
        {"/ui/app.js", "text/javascript; charset=utf-8", "crypto.subtle.sign('HMAC'"},
        {"/ui/style.css", "text/css; charset=utf-8", "canvas.chart"},
        {"/ui/openapi.json", "application/json", "\"openapi\""},
    };
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        h_response_t r = get(files[i].path, NULL);
        char v[256];
        cr_assert_eq(r.status, 200, "%s: %d", files[i].path, r.status);
        cr_assert_str_eq(header(&r, "content-type", v, sizeof(v)), files[i].type, "%s",
                         files[i].path);
        cr_assert_not_null(strstr(r.body, files[i].contains), "%s", files[i].path);
        assert_page_headers(&r, files[i].path);
        h_response_free(&r);
    }
}

Test(ui, a_file_seen_before_is_revalidated_with_its_etag)
{
    h_response_t r = get("/ui/app.js", NULL);
    char etag[128], line[200];
    cr_assert_not_null(header(&r, "etag", etag, sizeof(etag)));
    cr_assert_not_null(header(&r, "last-modified", line, sizeof(line)));
    h_response_free(&r);
    snprintf(line, sizeof(line), "If-None-Match: %s\r\n", etag);
    r = get("/ui/app.js", line);
    cr_assert_eq(r.status, 304, "%s", r.headers);
    cr_assert_str_eq(r.body, "");
    h_response_free(&r);
}

Test(ui, ui_without_its_slash_is_redirected)
{
    h_response_t r = get("/ui", NULL);
    char v[128];
    cr_assert_eq(r.status, 301);
    cr_assert_str_eq(header(&r, "location", v, sizeof(v)), "/ui/");
    h_response_free(&r);
}

Test(ui, a_missing_file_is_404_and_nothing_outside_ui_dir_is_served)
{
    static const char *const paths[] = {
        "/ui/nope.html",
        "/ui/app.js/",
        "/ui/../core/api.c",
        "/ui/%2e%2e/core/api.c",
        "/ui/..%2fcore%2fapi.c",
        "/ui/%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/ui/../../../../etc/passwd",
        "/ui/./../meson.build",
        "/ui//etc/passwd",
        "/ui/%00index.html",
        "/ui/%00/index.html",
    };
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        h_response_t r = get(paths[i], NULL);
        cr_assert(r.status == 404 || r.status == 400, "%s: %d %s", paths[i], r.status, r.body);
        cr_assert_null(strstr(r.body, "root:"), "%s served /etc/passwd", paths[i]);
        cr_assert_null(strstr(r.body, "#include"), "%s served a source file", paths[i]);
        cr_assert_null(strstr(r.body, "project("), "%s served meson.build", paths[i]);
        h_response_free(&r);
    }
    /* and no listing of the directory */
    h_response_t r = get("/ui/?dir", NULL);
    cr_assert_null(strstr(r.body, "app.js</a>"));
    h_response_free(&r);
}

Test(ui, the_api_answers_no_cross_origin_request)
{
    /* A page of another origin cannot send signed requests: the preflight of the signing
     * headers gets no Access-Control-Allow-Origin, and neither does any answer. */
    static const char preflight[] =
        "OPTIONS /symetry/rest/c1/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        "Origin: http://evil.example\r\nAccess-Control-Request-Method: GET\r\n"
        "Access-Control-Request-Headers: authorization, sym-date, customer-id\r\n\r\n";
    h_response_t r = h_raw(&h, preflight, 0);
    char v[256];
    cr_assert_eq(r.status, 405, "%d %s", r.status, r.body);
    cr_assert_null(header(&r, "access-control-allow-origin", v, sizeof(v)));
    h_response_free(&r);
    r = h_req(&h, "GET", "/symetry/rest/c1/tasks", NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_null(header(&r, "access-control-allow-origin", v, sizeof(v)));
    h_response_free(&r);
}

/* @template with {cid} and {tid} filled in. */
static void fill(const char *template, char *out, size_t size)
{
    size_t o = 0;
    for (const char *p = template; *p != '\0' && o + 8 < size;) {
        if (strncmp(p, "{cid}", 5) == 0) {
            o += (size_t)snprintf(out + o, size - o, "c1");
            p += 5;
        } else if (strncmp(p, "{tid}", 5) == 0) {
            o += (size_t)snprintf(out + o, size - o, "t1");
            p += 5;
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
}

Test(ui, openapi_json_is_served_and_every_operation_reaches_its_handler)
{
    h_response_t r = get("/openapi.json", NULL);
    char v[128];
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(header(&r, "content-type", v, sizeof(v)), "application/json");
    cr_assert_not_null(r.json, "not JSON: %.200s", r.body);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "openapi")), "3.0.3");
    json_t *doc = json_incref(r.json);
    h_response_free(&r);

    const char *path;
    json_t *item;
    size_t checked = 0;
    json_object_foreach (json_object_get(doc, "paths"), path, item) {
        const char *method;
        json_t *op;
        json_object_foreach (item, method, op) {
            if (strcmp(method, "parameters") == 0 ||
                json_object_get(op, "x-symtask-pending") != NULL)
                continue;
            char filled[512], upper[16], req[1024];
            fill(path, filled, sizeof(filled));
            size_t i = 0;
            for (; method[i] != '\0' && i + 1 < sizeof(upper); i++)
                upper[i] = (char)(method[i] - ('a' - 'A'));
            upper[i] = '\0';
            /* unsigned: a signed route answers that the signature is missing, which it
             * checks only once the path and the method were found */
            snprintf(req, sizeof(req),
                     "%s %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
                     upper, filled);
            h_response_t a = h_raw(&h, req, 0);
            bool is_signed = json_array_size(json_object_get(op, "security")) > 0;
            if (is_signed) {
                cr_expect_eq(a.status, 400, "%s %s: %d %s", upper, filled, a.status, a.body);
                cr_expect_str_eq(h_status_string(&a), "Authentication header is null", "%s %s: %s",
                                 upper, filled, a.body);
            } else {
                cr_expect_eq(a.status, 200, "%s %s: %d %s", upper, filled, a.status, a.body);
            }
            h_response_free(&a);
            checked++;
        }
    }
    cr_assert_geq(checked, 14, "only %zu operations checked", checked);
    json_decref(doc);
}

Test(ui_own_config, a_missing_ui_dir_is_said_and_the_api_still_serves, .timeout = 60)
{
    h_setup(&h, "ui.dir = /nonexistent/symtask-ui");
    h_response_t r = get("/ui/", NULL);
    cr_assert_eq(r.status, 404);
    h_response_free(&r);
    r = get("/openapi.json", NULL);
    cr_assert_eq(r.status, 404);
    cr_assert_str_eq(h_status_string(&r),
                     "the API description is not installed: /nonexistent/symtask-ui/openapi.json "
                     "cannot be read; set ui.dir to the directory of the status page and "
                     "openapi.json");
    h_response_free(&r);
    r = get("/healthz", NULL);
    cr_assert_eq(r.status, 200);
    h_response_free(&r);
    cr_assert(h_log_contains(&h, "no status page: /nonexistent/symtask-ui/index.html cannot be "
                                 "read (No such file or directory); set ui.dir"));
    h_teardown(&h);
}
