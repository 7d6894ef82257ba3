/* test_routes.c: the route table core/api.c dispatches on, and ui/openapi.json against it:
 * the document describes exactly the routes the daemon serves. */
#include <criterion/criterion.h>
#include <ctype.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "routes.h"

static route_result_t match(const char *method, const char *path, route_match_t *m)
{
    return routes_match(method, strlen(method), path, strlen(path), m);
}

static bool id_is(const char *got, size_t len, const char *want)
{
    return got != NULL && len == strlen(want) && memcmp(got, want, len) == 0;
}

Test(routes, finds_the_route_and_the_ids)
{
    route_match_t m;
    cr_assert_eq(match("GET", "/symetry/rest/c1/tasks/t1/start", &m), ROUTE_MATCHED);
    cr_assert_eq(m.route->id, ROUTE_START);
    cr_assert(id_is(m.cid, m.cid_len, "c1"));
    cr_assert(id_is(m.tid, m.tid_len, "t1"));
    cr_assert_eq(match("POST", "/symetry/rest/c1/tasks/t1/start", &m), ROUTE_MATCHED);
    cr_assert_eq(match("GET", "/symetry/rest/c1/tasks", &m), ROUTE_MATCHED);
    cr_assert_eq(m.route->id, ROUTE_LIST);
    cr_assert_null(m.tid);
    cr_assert_eq(match("GET", "/c2/tasks", &m), ROUTE_MATCHED, "the seed's spelling");
    cr_assert_eq(m.route->id, ROUTE_LIST);
    cr_assert(id_is(m.cid, m.cid_len, "c2"));
    cr_assert_eq(match("GET", "/healthz", &m), ROUTE_MATCHED);
    cr_assert_not(m.route->is_signed);
    cr_assert_eq(match("GET", "/openapi.json", &m), ROUTE_MATCHED);
    cr_assert_eq(m.route->id, ROUTE_OPENAPI);
    cr_assert_eq(match("GET", "/symetry/rest/c1/plugins", &m), ROUTE_MATCHED);
    cr_assert(m.route->is_signed);
}

Test(routes, create_is_an_action_for_post_and_a_task_for_the_rest)
{
    route_match_t m;
    cr_assert_eq(match("POST", "/symetry/rest/c1/tasks/create", &m), ROUTE_MATCHED);
    cr_assert_eq(m.route->id, ROUTE_CREATE);
    cr_assert_null(m.tid, "create names no task in its path");
    cr_assert_eq(match("GET", "/symetry/rest/c1/tasks/create", &m), ROUTE_MATCHED);
    cr_assert_eq(m.route->id, ROUTE_TASK);
    cr_assert(id_is(m.tid, m.tid_len, "create"));
    cr_assert_eq(match("DELETE", "/symetry/rest/c1/tasks/create", &m), ROUTE_MATCHED);
    cr_assert_eq(m.route->id, ROUTE_TASK);
}

Test(routes, a_known_path_with_another_method_lists_the_allowed_ones)
{
    route_match_t m;
    cr_assert_eq(match("GET", "/symetry/rest/c1/tasks/t1/restart", &m), ROUTE_NOT_ALLOWED);
    cr_assert_str_eq(m.allow, "POST");
    cr_assert_eq(match("PUT", "/symetry/rest/c1/tasks", &m), ROUTE_NOT_ALLOWED);
    cr_assert_str_eq(m.allow, "GET");
    cr_assert_eq(match("PUT", "/symetry/rest/c1/tasks/create", &m), ROUTE_NOT_ALLOWED);
    cr_assert_str_eq(m.allow, "POST, GET, DELETE");
    cr_assert_eq(match("HEAD", "/healthz", &m), ROUTE_NOT_ALLOWED, "HEAD is never implied");
}

Test(routes, anything_else_is_not_found)
{
    static const char *const paths[] = {
        "",
        "healthz",
        "/",
        "/healthz/",
        "//healthz",
        "/symetry/rest/c1/tasks/",
        "/symetry/rest//tasks",
        "/symetry/rest/c1/tasks/t1/start/now",
        "/symetry/rest/c1/tasks/t1/launch",
        "/symetry/rest/c1",
        "/a/b/c/d/e/f/g/h/i",
        "/ui/",
    };
    route_match_t m;
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
        cr_assert_eq(match("GET", paths[i], &m), ROUTE_NOT_FOUND, "%s", paths[i]);
}

/* The API description and the table ----------------------------------------------------- */

static json_t *load_document(void)
{
    json_error_t err;
    json_t *doc = json_load_file(SYMTASK_OPENAPI_PATH, JSON_REJECT_DUPLICATES, &err);
    cr_assert_not_null(doc, "%s:%d: %s", SYMTASK_OPENAPI_PATH, err.line, err.text);
    return doc;
}

static const char *const http_methods[] = {"get",     "put",  "post",  "delete",
                                           "options", "head", "patch", "trace"};

static void upper(const char *s, char *out, size_t size)
{
    size_t i = 0;
    for (; s[i] != '\0' && i + 1 < size; i++)
        out[i] = (char)toupper((unsigned char)s[i]);
    out[i] = '\0';
}

/* The table's methods of @pattern, "GET, DELETE", or NULL when no row has it. */
static const route_t *table_row(const char *pattern)
{
    for (size_t i = 0; i < routes_count; i++)
        if (strcmp(routes[i].pattern, pattern) == 0)
            return &routes[i];
    return NULL;
}

/* What the description and the table disagree on, one sentence each. */
typedef struct mismatches {
    char text[32][320];
    size_t count;
} mismatches_t;

__attribute__((format(printf, 2, 3))) static void mismatch(mismatches_t *out, const char *fmt, ...)
{
    cr_assert_lt(out->count, sizeof(out->text) / sizeof(out->text[0]), "too many mismatches");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->text[out->count++], sizeof(out->text[0]), fmt, ap);
    va_end(ap);
}

/* Compares the "paths" of an API description with the route table. An operation marked
 * "x-symtask-pending" is described before this build serves it (docs/ui.md): it must not
 * be served, so that the merge that serves it fails here until the mark is removed. */
static void compare(json_t *paths, mismatches_t *out)
{
    const char *path;
    json_t *item;
    json_object_foreach (paths, path, item) {
        const route_t *row = table_row(path);
        for (size_t i = 0; i < sizeof(http_methods) / sizeof(http_methods[0]); i++) {
            json_t *op = json_object_get(item, http_methods[i]);
            if (op == NULL)
                continue;
            char method[16];
            upper(http_methods[i], method, sizeof(method));
            bool in_table = row != NULL && routes_method_in(row->methods, method, strlen(method));
            if (json_object_get(op, "x-symtask-pending") != NULL) {
                if (in_table)
                    mismatch(out,
                             "%s %s is served now but marked pending; once the branch that "
                             "serves it is merged, remove every \"x-symtask-pending\" key of "
                             "ui/openapi.json",
                             method, path);
                continue;
            }
            if (!in_table) {
                mismatch(out,
                         "ui/openapi.json describes %s %s, which symtaskd does not serve "
                         "(core/routes.c)",
                         method, path);
                continue;
            }
            /* signed routes declare the signature; the others declare none */
            json_t *security = json_object_get(op, "security");
            if (!json_is_array(security))
                mismatch(out, "%s %s: no security", method, path);
            else if ((json_array_size(security) > 0) != row->is_signed)
                mismatch(out, "%s %s: its security does not say whether it is signed", method,
                         path);
            json_t *responses = json_object_get(op, "responses");
            if (row->is_signed && json_object_get(responses, "401") == NULL)
                mismatch(out, "%s %s: no 401", method, path);
            if (json_object_get(responses, "405") == NULL)
                mismatch(out, "%s %s: no 405", method, path);
        }
    }

    /* and the other way: every method of every row is in the document */
    for (size_t i = 0; i < routes_count; i++) {
        const route_t *row = &routes[i];
        json_t *described = json_object_get(paths, row->pattern);
        for (const char *p = row->methods; *p != '\0';) {
            size_t len = strcspn(p, ",");
            char lower[16];
            snprintf(lower, sizeof(lower), "%.*s", (int)len, p);
            for (char *c = lower; *c; c++)
                *c = (char)tolower((unsigned char)*c);
            if (described == NULL || json_object_get(described, lower) == NULL)
                mismatch(out,
                         "symtaskd serves %.*s %s (core/routes.c), which ui/openapi.json "
                         "does not describe",
                         (int)len, p, row->pattern);
            p += len;
            while (*p == ',' || *p == ' ')
                p++;
        }
    }
}

Test(openapi, the_document_describes_exactly_the_routes_served)
{
    json_t *doc = load_document();
    cr_assert_str_eq(json_string_value(json_object_get(doc, "openapi")), "3.0.3");
    json_t *paths = json_object_get(doc, "paths");
    cr_assert(json_is_object(paths));
    mismatches_t found = {0};
    compare(paths, &found);
    for (size_t i = 0; i < found.count; i++)
        cr_expect_fail("%s", found.text[i]);
    json_decref(doc);
}

Test(openapi, an_operation_not_served_yet_is_allowed_only_while_marked_pending)
{
    json_t *doc = load_document();
    json_t *paths = json_object_get(doc, "paths");
    mismatches_t found = {0};

    /* described ahead of the branch that serves it */
    json_object_set_new(paths, "/symetry/rest/{cid}/tasks/{tid}/rewind",
                        json_pack("{s:{s:b}}", "post", "x-symtask-pending", 1));
    compare(paths, &found);
    cr_expect_eq(found.count, 0, "%s", found.count > 0 ? found.text[0] : "");

    /* the same without the mark */
    json_object_del(
        json_object_get(json_object_get(paths, "/symetry/rest/{cid}/tasks/{tid}/rewind"), "post"),
        "x-symtask-pending");
    found.count = 0;
    compare(paths, &found);
    cr_assert_eq(found.count, 1);
    cr_expect_str_eq(found.text[0], "ui/openapi.json describes POST "
                                    "/symetry/rest/{cid}/tasks/{tid}/rewind, which symtaskd "
                                    "does not serve (core/routes.c)");
    json_object_del(paths, "/symetry/rest/{cid}/tasks/{tid}/rewind");

    /* the branch that serves it is merged, the mark is still there */
    json_t *op =
        json_object_get(json_object_get(paths, "/symetry/rest/{cid}/tasks/{tid}/pause"), "post");
    cr_assert_not_null(op);
    json_object_set_new(op, "x-symtask-pending", json_true());
    found.count = 0;
    compare(paths, &found);
    cr_assert_eq(found.count, 1);
    cr_expect_str_eq(found.text[0], "POST /symetry/rest/{cid}/tasks/{tid}/pause is served now "
                                    "but marked pending; once the branch that serves it is "
                                    "merged, remove every \"x-symtask-pending\" key of "
                                    "ui/openapi.json");
    json_decref(doc);
}

/* Every $ref names something the document holds, and every operation answers with the
 * envelope or says what it answers instead. */
static void check_refs(json_t *doc, json_t *node, const char *where)
{
    if (json_is_object(node)) {
        const char *key;
        json_t *v;
        json_object_foreach (node, key, v) {
            if (strcmp(key, "$ref") == 0) {
                const char *ref = json_string_value(v);
                cr_assert(ref != NULL && strncmp(ref, "#/", 2) == 0, "%s: $ref %s", where, ref);
                json_t *at = doc;
                char buf[256];
                snprintf(buf, sizeof(buf), "%s", ref + 2);
                for (char *part = strtok(buf, "/"); part != NULL; part = strtok(NULL, "/"))
                    at = json_object_get(at, part);
                cr_expect_not_null(at, "%s: $ref %s names nothing", where, ref);
            } else {
                check_refs(doc, v, where);
            }
        }
    } else if (json_is_array(node)) {
        size_t i;
        json_t *v;
        json_array_foreach (node, i, v)
            check_refs(doc, v, where);
    }
}

Test(openapi, every_reference_resolves)
{
    json_t *doc = load_document();
    check_refs(doc, doc, SYMTASK_OPENAPI_PATH);
    json_decref(doc);
}
