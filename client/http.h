/* http.h: one HTTP/1.1 request over TCP or TLS, for the symtask client. Private to client/. */
#ifndef SYMTASK_CLIENT_HTTP_H
#define SYMTASK_CLIENT_HTTP_H

#include <stdbool.h>
#include <stddef.h>

/* A server URL, http:// or https://, split into its parts. */
typedef struct http_url {
    bool tls;
    char host[256];      /* without the brackets of an IPv6 literal */
    char port[8];        /* "80" / "443" when the URL names none */
    char prefix[1024];   /* path prefix without trailing '/', "" for none */
    char authority[300]; /* host[:port] as written, for the Host header */
} http_url_t;

/* Parses @text into @url. Only http and https URLs without user info, query or fragment are
 * accepted. Returns 0, or -1 with the reason in @errstr. */
int http_url_parse(const char *text, http_url_t *url, char *errstr, size_t errstr_size);

/* TLS settings; ignored for http:// URLs. */
typedef struct http_tls {
    bool insecure;      /* skip certificate verification */
    const char *cacert; /* PEM file of the CA to trust instead of the system's, or NULL */
} http_tls_t;

typedef struct http_header {
    const char *name;
    const char *value;
} http_header_t;

typedef struct http_request {
    const char *method;
    const char *target; /* path and query as sent, e.g. /symetry/rest/c1/tasks */
    const http_header_t *headers;
    size_t header_count;
    const char *body; /* may be NULL when body_len is 0 */
    size_t body_len;
} http_request_t;

typedef struct http_response {
    int status;
    char reason[64];
    char *body; /* malloc'd, NUL-terminated, the decoded body; freed by http_response_free */
    size_t body_len;
} http_response_t;

/* How a request failed. */
typedef enum http_error {
    HTTP_E_OK = 0,
    HTTP_E_SETUP,    /* a local setting is unusable (e.g. the --cacert file) */
    HTTP_E_RESOLVE,  /* the host name does not resolve */
    HTTP_E_CONNECT,  /* no address of the host accepts a connection */
    HTTP_E_TLS,      /* the TLS handshake or the certificate check failed */
    HTTP_E_IO,       /* the connection broke or timed out after it was made */
    HTTP_E_PROTOCOL, /* the answer is not HTTP/1.x as we understand it */
} http_error_t;

/* Seconds a connect, send or receive may wait. */
#define HTTP_TIMEOUT_S 30

/* Sends @req to @url with "Connection: close" and reads the whole answer into @res. The Host,
 * Content-Length and Connection headers are added here. Returns HTTP_E_OK, or the kind of
 * failure with a message in @errstr (the caller adds which server it was). */
http_error_t http_send(const http_url_t *url, const http_tls_t *tls, const http_request_t *req,
                       http_response_t *res, char *errstr, size_t errstr_size);

void http_response_free(http_response_t *res);

#endif
