/* api.h: the REST API (API.md) served by h2o. Private to core/. */
#ifndef SYMTASK_CORE_API_H
#define SYMTASK_CORE_API_H

#include <h2o.h>

#include "daemon.h"

/* The statuses the API answers with: HTTP code, statusCode of the envelope, reason phrase. */
#define API_STATUS_MAP(X)                                                                          \
    X(OK, 200, "OK")                                                                               \
    X(CREATED, 202, "Created")                                                                     \
    X(BAD_REQUEST, 400, "Bad Request")                                                             \
    X(UNAUTHORIZED, 401, "Unauthorized")                                                           \
    X(NOT_FOUND, 404, "Not Found")                                                                 \
    X(METHOD_NOT_ALLOWED, 405, "Method Not Allowed")                                               \
    X(CONFLICT, 409, "Conflict")                                                                   \
    X(PAYLOAD_TOO_LARGE, 413, "Payload Too Large")                                                 \
    X(TOO_MANY_REQUESTS, 429, "Too Many Requests")                                                 \
    X(INTERNAL_SERVER_ERROR, 500, "Internal Server Error")                                         \
    X(SERVICE_UNAVAILABLE, 503, "Service Unavailable")

typedef enum api_status {
#define API_STATUS_ENUM(name, code, reason) API_##name,
    API_STATUS_MAP(API_STATUS_ENUM)
#undef API_STATUS_ENUM
} api_status_t;

int api_status_code(api_status_t status);
const char *api_status_name(api_status_t status);

/* Registers the API's handler on @hostconf's root path. */
void api_register(daemon_t *d, h2o_hostconf_t *hostconf);

#endif
