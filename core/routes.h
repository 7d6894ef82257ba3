/* routes.h: every endpoint symtaskd serves, as one table of path templates and methods.
 * Private to core/. The table is what core/api.c dispatches on and what the test of
 * ui/openapi.json compares the API description with (tests/unit/core/test_routes.c). */
#ifndef SYMTASK_CORE_ROUTES_H
#define SYMTASK_CORE_ROUTES_H

#include <stdbool.h>
#include <stddef.h>

/* Which handler answers. */
typedef enum route_id {
    ROUTE_NONE,
    ROUTE_HEALTHZ,
    ROUTE_METRICS,
    ROUTE_OPENAPI,
    ROUTE_LIST,
    ROUTE_CREATE,
    ROUTE_TASK, /* status (GET), delete (DELETE) */
    ROUTE_START,
    ROUTE_STOP,
    ROUTE_RESTART,
    ROUTE_PLUGINS,
    ROUTE_PAUSE,
    ROUTE_RESUME,
    ROUTE_OFFSETS,     /* list (GET), reset (POST) */
    ROUTE_RESTART_ALL, /* POST /tasks/restart */
} route_id_t;

typedef struct route {
    /* An OpenAPI path template: literal segments, and {cid} or {tid} for one segment that
     * holds a customer or a task id, e.g. "/symetry/rest/{cid}/tasks/{tid}/start". */
    const char *pattern;
    const char *methods; /* the methods this route answers, "GET, POST" (the Allow form) */
    route_id_t id;
    bool is_signed; /* a customer's request, signed (API.md, Security) */
} route_t;

/* The table, in the order routes are tried: a literal segment comes before a template that
 * would also match it ("tasks/create" before "tasks/{tid}"). */
extern const route_t routes[];
extern const size_t routes_count;

typedef enum route_result {
    ROUTE_MATCHED,     /* @match->route answers the method */
    ROUTE_NOT_ALLOWED, /* some route has this path, none the method: @match->allow lists them */
    ROUTE_NOT_FOUND,
} route_result_t;

typedef struct route_match {
    const route_t *route;
    const char *cid, *tid; /* within the path; NULL when the route has none */
    size_t cid_len, tid_len;
    char allow[64]; /* with ROUTE_NOT_ALLOWED: every method of the path, "POST, GET, DELETE" */
} route_match_t;

/* Finds the route of @method on @path (the path of the URL without the query, not decoded).
 * A doubled or trailing slash matches nothing. */
route_result_t routes_match(const char *method, size_t method_len, const char *path,
                            size_t path_len, route_match_t *match);

/* Whether @methods ("GET, DELETE") holds @method. HEAD is never implied: every answer of
 * this API has a body. */
bool routes_method_in(const char *methods, const char *method, size_t method_len);

#endif
