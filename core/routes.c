/* routes.c: the table of endpoints and the matcher core/api.c dispatches with. */
#include "routes.h"

#include <string.h>

#define ROUTE_SEGMENTS_MAX 8

/* ui/openapi.json describes each row; a row added here needs its operation there (the
 * core_routes test fails until both agree). */
const route_t routes[] = {
    {"/healthz", "GET", ROUTE_HEALTHZ, false},
    {"/metrics", "GET", ROUTE_METRICS, false},
    {"/openapi.json", "GET", ROUTE_OPENAPI, false},
    {"/symetry/rest/{cid}/tasks", "GET", ROUTE_LIST, true},
    /* "create" is both an action and a possible task name: POST creates, the methods of
     * the next row address the task called "create". */
    {"/symetry/rest/{cid}/tasks/create", "POST", ROUTE_CREATE, true},
    /* likewise "restart": POST restarts many tasks (docs/operations.md) */
    {"/symetry/rest/{cid}/tasks/restart", "POST", ROUTE_RESTART_ALL, true},
    {"/symetry/rest/{cid}/tasks/{tid}", "GET, DELETE", ROUTE_TASK, true},
    {"/symetry/rest/{cid}/tasks/{tid}/start", "GET, POST", ROUTE_START, true},
    {"/symetry/rest/{cid}/tasks/{tid}/stop", "GET, POST", ROUTE_STOP, true},
    {"/symetry/rest/{cid}/tasks/{tid}/restart", "POST", ROUTE_RESTART, true},
    {"/symetry/rest/{cid}/tasks/{tid}/pause", "POST", ROUTE_PAUSE, true},
    {"/symetry/rest/{cid}/tasks/{tid}/resume", "POST", ROUTE_RESUME, true},
    {"/symetry/rest/{cid}/tasks/{tid}/offsets", "GET, POST", ROUTE_OFFSETS, true},
    {"/symetry/rest/{cid}/plugins", "GET", ROUTE_PLUGINS, true},
    /* the seed also spells the list so */
    {"/{cid}/tasks", "GET", ROUTE_LIST, true},
};
const size_t routes_count = sizeof(routes) / sizeof(routes[0]);

typedef struct seg {
    const char *p;
    size_t len;
} seg_t;

/* Splits "/a/b/c" into at most @max segments; returns the count, or -1 when there are more,
 * or an empty segment (a doubled or trailing slash) stands anywhere. */
static int split(const char *path, size_t len, seg_t *segs, int max)
{
    if (len == 0 || path[0] != '/')
        return -1;
    int n = 0;
    size_t i = 1;
    while (i <= len) {
        size_t start = i;
        while (i < len && path[i] != '/')
            i++;
        if (i == start || n == max)
            return -1;
        segs[n].p = path + start;
        segs[n++].len = i - start;
        i++;
    }
    return n;
}

/* Matches @pattern against the segments; fills the ids of @m. */
static bool pattern_matches(const char *pattern, const seg_t *segs, int n, route_match_t *m)
{
    seg_t pat[ROUTE_SEGMENTS_MAX];
    if (split(pattern, strlen(pattern), pat, ROUTE_SEGMENTS_MAX) != n)
        return false;
    const char *cid = NULL, *tid = NULL;
    size_t cid_len = 0, tid_len = 0;
    for (int i = 0; i < n; i++) {
        if (pat[i].len == 5 && memcmp(pat[i].p, "{cid}", 5) == 0) {
            cid = segs[i].p;
            cid_len = segs[i].len;
        } else if (pat[i].len == 5 && memcmp(pat[i].p, "{tid}", 5) == 0) {
            tid = segs[i].p;
            tid_len = segs[i].len;
        } else if (pat[i].len != segs[i].len || memcmp(pat[i].p, segs[i].p, segs[i].len) != 0) {
            return false;
        }
    }
    m->cid = cid;
    m->cid_len = cid_len;
    m->tid = tid;
    m->tid_len = tid_len;
    return true;
}

bool routes_method_in(const char *methods, const char *method, size_t method_len)
{
    for (const char *p = methods; *p != '\0';) {
        size_t len = strcspn(p, ",");
        if (len == method_len && memcmp(p, method, len) == 0)
            return true;
        p += len;
        while (*p == ',' || *p == ' ')
            p++;
    }
    return false;
}

/* Adds the methods of @methods that @allow does not hold yet. */
static void allow_add(char *allow, size_t size, const char *methods)
{
    for (const char *p = methods; *p != '\0';) {
        size_t len = strcspn(p, ",");
        if (!routes_method_in(allow, p, len)) {
            size_t used = strlen(allow);
            if (used + len + 3 <= size) {
                if (used > 0) {
                    memcpy(allow + used, ", ", 2);
                    used += 2;
                }
                memcpy(allow + used, p, len);
                allow[used + len] = '\0';
            }
        }
        p += len;
        while (*p == ',' || *p == ' ')
            p++;
    }
}

route_result_t routes_match(const char *method, size_t method_len, const char *path,
                            size_t path_len, route_match_t *match)
{
    seg_t segs[ROUTE_SEGMENTS_MAX];
    memset(match, 0, sizeof(*match));
    int n = split(path, path_len, segs, ROUTE_SEGMENTS_MAX);
    if (n < 0)
        return ROUTE_NOT_FOUND;
    bool path_known = false;
    for (size_t i = 0; i < routes_count; i++) {
        route_match_t m = {0};
        if (!pattern_matches(routes[i].pattern, segs, n, &m))
            continue;
        if (routes_method_in(routes[i].methods, method, method_len)) {
            m.route = &routes[i];
            *match = m;
            return ROUTE_MATCHED;
        }
        path_known = true;
        allow_add(match->allow, sizeof(match->allow), routes[i].methods);
    }
    return path_known ? ROUTE_NOT_ALLOWED : ROUTE_NOT_FOUND;
}
