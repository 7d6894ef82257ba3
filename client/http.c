/* http.c: one HTTP/1.1 request over TCP, or TLS with OpenSSL, for the symtask client. */
#include "http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

/* Longest answer we keep in memory; the API's answers are a few KiB. */
#define HTTP_MAX_RESPONSE (64u * 1024 * 1024)

#define HTTP_STR_(x) #x
#define HTTP_STR(x) HTTP_STR_(x)

int http_url_parse(const char *text, http_url_t *url, char *errstr, size_t errstr_size)
{
    memset(url, 0, sizeof(*url));
    const char *p;
    if (strncasecmp(text, "http://", 7) == 0) {
        p = text + 7;
    } else if (strncasecmp(text, "https://", 8) == 0) {
        url->tls = true;
        p = text + 8;
    } else {
        snprintf(errstr, errstr_size, "only http:// and https:// URLs are supported");
        return -1;
    }
    for (const char *c = text; *c != '\0'; c++) {
        if ((unsigned char)*c <= ' ' || *c == 0x7f) {
            snprintf(errstr, errstr_size, "a URL holds no spaces or control characters");
            return -1;
        }
    }
    size_t auth_len = strcspn(p, "/?#");
    const char *path = p + auth_len;
    if (memchr(p, '@', auth_len) != NULL) {
        snprintf(errstr, errstr_size, "user info (user@host) is not supported in the URL");
        return -1;
    }
    if (strpbrk(path, "?#") != NULL) {
        snprintf(errstr, errstr_size, "the URL may hold a path prefix but no query or fragment");
        return -1;
    }
    if (auth_len == 0 || auth_len >= sizeof(url->authority)) {
        snprintf(errstr, errstr_size, "the URL names no host");
        return -1;
    }
    memcpy(url->authority, p, auth_len);

    const char *host = p, *port = NULL;
    size_t host_len;
    if (*p == '[') {
        const char *close = memchr(p, ']', auth_len);
        if (close == NULL) {
            snprintf(errstr, errstr_size, "unclosed '[' in the URL's host");
            return -1;
        }
        host = p + 1;
        host_len = (size_t)(close - host);
        if (close + 1 < p + auth_len) {
            if (close[1] != ':') {
                snprintf(errstr, errstr_size, "unexpected text after ']' in the URL");
                return -1;
            }
            port = close + 2;
        }
    } else {
        const char *colon = memchr(p, ':', auth_len);
        host_len = colon != NULL ? (size_t)(colon - p) : auth_len;
        if (colon != NULL)
            port = colon + 1;
    }
    if (host_len == 0 || host_len >= sizeof(url->host)) {
        snprintf(errstr, errstr_size, "the URL names no host");
        return -1;
    }
    memcpy(url->host, host, host_len);
    if (port != NULL) {
        size_t port_len = (size_t)(p + auth_len - port);
        unsigned long n = 0;
        for (size_t i = 0; i < port_len; i++) {
            if (!isdigit((unsigned char)port[i]) ||
                (n = n * 10 + (unsigned)(port[i] - '0')) > 65535)
                port_len = 0;
        }
        if (port_len == 0 || n == 0) {
            snprintf(errstr, errstr_size, "the URL's port must be a number from 1 to 65535");
            return -1;
        }
        snprintf(url->port, sizeof(url->port), "%lu", n);
    } else {
        snprintf(url->port, sizeof(url->port), "%s", url->tls ? "443" : "80");
    }
    size_t path_len = strlen(path);
    while (path_len > 0 && path[path_len - 1] == '/')
        path_len--;
    if (path_len >= sizeof(url->prefix)) {
        snprintf(errstr, errstr_size, "the URL's path is too long");
        return -1;
    }
    memcpy(url->prefix, path, path_len);
    return 0;
}

/* One open connection: a socket and, for https, its TLS session. */
typedef struct conn {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
} conn_t;

static void conn_close(conn_t *conn)
{
    if (conn->ssl != NULL) {
        SSL_shutdown(conn->ssl);
        SSL_free(conn->ssl);
    }
    SSL_CTX_free(conn->ctx);
    if (conn->fd >= 0)
        close(conn->fd);
    conn->ssl = NULL;
    conn->ctx = NULL;
    conn->fd = -1;
}

/* Connects to the first address of @url that answers. */
static http_error_t conn_tcp(conn_t *conn, const http_url_t *url, char *errstr, size_t errstr_size)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *list;
    int rc = getaddrinfo(url->host, url->port, &hints, &list);
    if (rc != 0) {
        snprintf(errstr, errstr_size, "cannot resolve %s: %s", url->host,
                 rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
        return HTTP_E_RESOLVE;
    }
    int err = 0;
    struct timeval tv = {HTTP_TIMEOUT_S, 0};
    for (struct addrinfo *ai = list; ai != NULL; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        /* On Linux SO_SNDTIMEO also bounds connect(). */
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            conn->fd = fd;
            freeaddrinfo(list);
            return HTTP_E_OK;
        }
        err = errno == EINPROGRESS || errno == EAGAIN ? ETIMEDOUT : errno;
        close(fd);
    }
    freeaddrinfo(list);
    snprintf(errstr, errstr_size, "%s", strerror(err));
    return HTTP_E_CONNECT;
}

/* The last OpenSSL error as text (or @fallback), clearing the queue. */
static const char *tls_error(const char *fallback)
{
    static char buf[256];
    unsigned long e = ERR_get_error();
    ERR_clear_error();
    if (e == 0)
        return fallback;
    ERR_error_string_n(e, buf, sizeof(buf));
    return buf;
}

static http_error_t conn_tls(conn_t *conn, const http_url_t *url, const http_tls_t *tls,
                             char *errstr, size_t errstr_size)
{
    conn->ctx = SSL_CTX_new(TLS_client_method());
    if (conn->ctx == NULL) {
        snprintf(errstr, errstr_size, "TLS: %s", tls_error("cannot create a context"));
        return HTTP_E_SETUP;
    }
    SSL_CTX_set_min_proto_version(conn->ctx, TLS1_2_VERSION);
    /* The answer ends with the connection: a peer closing without close_notify is not an
     * error for us, since the framing (Content-Length or chunks) is checked. */
    SSL_CTX_set_options(conn->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    if (!tls->insecure) {
        SSL_CTX_set_verify(conn->ctx, SSL_VERIFY_PEER, NULL);
        if (tls->cacert != NULL) {
            if (access(tls->cacert, R_OK) != 0) {
                snprintf(errstr, errstr_size, "--cacert %s: %s", tls->cacert, strerror(errno));
                return HTTP_E_SETUP;
            }
            if (SSL_CTX_load_verify_locations(conn->ctx, tls->cacert, NULL) != 1) {
                snprintf(errstr, errstr_size, "--cacert %s: cannot load it: %s", tls->cacert,
                         tls_error("not a PEM certificate file"));
                return HTTP_E_SETUP;
            }
        } else if (SSL_CTX_set_default_verify_paths(conn->ctx) != 1) {
            snprintf(errstr, errstr_size, "TLS: cannot load the system's CA certificates: %s",
                     tls_error("unknown error"));
            return HTTP_E_SETUP;
        }
    }
    conn->ssl = SSL_new(conn->ctx);
    if (conn->ssl == NULL || SSL_set_fd(conn->ssl, conn->fd) != 1) {
        snprintf(errstr, errstr_size, "TLS: %s", tls_error("cannot create a session"));
        return HTTP_E_SETUP;
    }
    unsigned char addr[16];
    bool is_ip =
        inet_pton(AF_INET, url->host, addr) == 1 || inet_pton(AF_INET6, url->host, addr) == 1;
    if (is_ip) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(conn->ssl), url->host);
    } else {
        SSL_set_tlsext_host_name(conn->ssl, url->host);
        SSL_set1_host(conn->ssl, url->host);
    }
    errno = 0;
    if (SSL_connect(conn->ssl) != 1) {
        long verify = SSL_get_verify_result(conn->ssl);
        if (!tls->insecure && verify != X509_V_OK)
            snprintf(errstr, errstr_size,
                     "TLS certificate verification failed: %s (use --cacert FILE to trust a "
                     "private CA, or --insecure to skip the check)",
                     X509_verify_cert_error_string(verify));
        else if (ERR_GET_REASON(ERR_peek_error()) == SSL_R_WRONG_VERSION_NUMBER)
            snprintf(errstr, errstr_size,
                     "TLS handshake failed: %s (does the server speak TLS? try an http:// URL)",
                     tls_error("wrong version number"));
        else
            snprintf(errstr, errstr_size, "TLS handshake failed: %s",
                     tls_error(errno != 0 ? strerror(errno) : "the server closed the connection"));
        return HTTP_E_TLS;
    }
    return HTTP_E_OK;
}

static int conn_write_all(conn_t *conn, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n;
        if (conn->ssl != NULL) {
            int w = SSL_write(conn->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
            n = w > 0 ? w : -1;
        } else {
            n = send(conn->fd, buf, len, MSG_NOSIGNAL);
        }
        if (n < 0 && conn->ssl == NULL && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Reads some bytes: > 0 read, 0 end of stream, -1 error (errno set). */
static ssize_t conn_read(conn_t *conn, char *buf, size_t cap)
{
    if (conn->ssl == NULL) {
        ssize_t n;
        do
            n = recv(conn->fd, buf, cap, 0);
        while (n < 0 && errno == EINTR);
        return n;
    }
    int n = SSL_read(conn->ssl, buf, cap > INT32_MAX ? INT32_MAX : (int)cap);
    if (n > 0)
        return n;
    int err = SSL_get_error(conn->ssl, n);
    if (err == SSL_ERROR_ZERO_RETURN)
        return 0;
    if (err != SSL_ERROR_SYSCALL || errno == 0)
        errno = EPROTO;
    return -1;
}

/* Case-insensitive compare of header name [name, name + len) with @want. */
static bool header_is(const char *name, size_t len, const char *want)
{
    return strlen(want) == len && strncasecmp(name, want, len) == 0;
}

/* Decodes a chunked body from [p, end) into @out (malloc'd). Returns 1 complete, 0 more bytes
 * needed, -1 malformed. */
static int decode_chunked(const char *p, const char *end, char **out, size_t *out_len)
{
    size_t cap = 256, len = 0;
    char *body = malloc(cap);
    if (body == NULL)
        return -1;
    for (;;) {
        const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
        if (eol == NULL)
            goto more;
        char *stop;
        errno = 0;
        unsigned long long size = strtoull(p, &stop, 16);
        if (stop == p || errno != 0 || (*stop != ';' && *stop != ' ' && stop != eol) ||
            size > HTTP_MAX_RESPONSE)
            goto malformed;
        p = eol + 2;
        if (size == 0) {
            /* Trailers, then an empty line. */
            for (;;) {
                eol = memmem(p, (size_t)(end - p), "\r\n", 2);
                if (eol == NULL)
                    goto more;
                if (eol == p)
                    break;
                p = eol + 2;
            }
            body[len] = '\0';
            *out = body;
            *out_len = len;
            return 1;
        }
        if ((size_t)(end - p) < size + 2)
            goto more;
        if (p[size] != '\r' || p[size + 1] != '\n' || len + size > HTTP_MAX_RESPONSE)
            goto malformed;
        if (len + size + 1 > cap) {
            while (len + size + 1 > cap)
                cap *= 2;
            char *grown = realloc(body, cap);
            if (grown == NULL)
                goto malformed;
            body = grown;
        }
        memcpy(body + len, p, size);
        len += size;
        p += size + 2;
    }
more:
    free(body);
    return 0;
malformed:
    free(body);
    return -1;
}

/* Parses what was read so far, [buf, buf + len). Returns 1 when the answer is complete (and
 * fills @res), 0 when more bytes are needed, -1 when it is malformed. @eof: nothing more will
 * come, so an answer framed by the end of the connection is complete. */
static int parse_response(const char *buf, size_t len, bool eof, bool tls, http_response_t *res,
                          char *errstr, size_t errstr_size)
{
    const char *end = buf + len;
    for (;;) {
        const char *head_end = memmem(buf, (size_t)(end - buf), "\r\n\r\n", 4);
        if (head_end == NULL) {
            if (eof && len == 0)
                snprintf(errstr, errstr_size,
                         "the server closed the connection without an answer%s",
                         tls ? "" : " (if it serves https, use an https:// URL)");
            else if (eof)
                snprintf(errstr, errstr_size, "the answer is not HTTP/1.x");
            return eof ? -1 : 0;
        }
        int status, reason_at = 0;
        if (sscanf(buf, "HTTP/1.%*1[01] %3d %n", &status, &reason_at) != 1 || status < 100 ||
            status > 999 || reason_at == 0) {
            snprintf(errstr, errstr_size, "the answer is not HTTP/1.x");
            return -1;
        }
        const char *line_end = memmem(buf, (size_t)(head_end + 2 - buf), "\r\n", 2);
        if (buf + reason_at > line_end)
            reason_at = (int)(line_end - buf);
        snprintf(res->reason, sizeof(res->reason), "%.*s", (int)(line_end - buf - reason_at),
                 buf + reason_at);
        res->status = status;

        long long content_length = -1;
        bool chunked = false;
        for (const char *h = line_end + 2; h < head_end + 2;) {
            const char *eol = memmem(h, (size_t)(head_end + 2 - h), "\r\n", 2);
            const char *colon = memchr(h, ':', (size_t)(eol - h));
            if (colon != NULL) {
                const char *v = colon + 1;
                while (v < eol && (*v == ' ' || *v == '\t'))
                    v++;
                size_t vlen = (size_t)(eol - v);
                if (header_is(h, (size_t)(colon - h), "content-length")) {
                    char *stop;
                    content_length = strtoll(v, &stop, 10);
                    if (stop == v || content_length < 0) {
                        snprintf(errstr, errstr_size, "the answer has a bad Content-Length");
                        return -1;
                    }
                } else if (header_is(h, (size_t)(colon - h), "transfer-encoding")) {
                    chunked = memmem(v, vlen, "chunked", 7) != NULL;
                }
            }
            h = eol + 2;
        }
        const char *body = head_end + 4;
        /* An interim 1xx answer precedes the real one. */
        if (status < 200) {
            buf = body;
            continue;
        }
        if (chunked) {
            int rc = decode_chunked(body, end, &res->body, &res->body_len);
            if (rc == 0 && eof)
                snprintf(errstr, errstr_size, "the answer was cut short");
            else if (rc < 0)
                snprintf(errstr, errstr_size, "the answer's chunked body is malformed");
            return rc == 0 && eof ? -1 : rc;
        }
        size_t have = (size_t)(end - body), want = have;
        if (content_length >= 0) {
            if ((unsigned long long)content_length > have) {
                if (eof)
                    snprintf(errstr, errstr_size, "the answer was cut short");
                return eof ? -1 : 0;
            }
            want = (size_t)content_length;
        } else if (!eof) {
            return 0;
        }
        res->body = malloc(want + 1);
        if (res->body == NULL) {
            snprintf(errstr, errstr_size, "out of memory");
            return -1;
        }
        memcpy(res->body, body, want);
        res->body[want] = '\0';
        res->body_len = want;
        return 1;
    }
}

/* Writes the request head and body. */
static int send_request(conn_t *conn, const http_url_t *url, const http_request_t *req)
{
    size_t cap = 1024 + strlen(req->target) + strlen(url->authority);
    for (size_t i = 0; i < req->header_count; i++)
        cap += strlen(req->headers[i].name) + strlen(req->headers[i].value) + 4;
    char *head = malloc(cap);
    if (head == NULL)
        return -1;
    int n = snprintf(head, cap, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n", req->method,
                     req->target, url->authority);
    for (size_t i = 0; i < req->header_count; i++)
        n += snprintf(head + n, cap - (size_t)n, "%s: %s\r\n", req->headers[i].name,
                      req->headers[i].value);
    n += snprintf(head + n, cap - (size_t)n, "Content-Length: %zu\r\n\r\n", req->body_len);
    int rc = conn_write_all(conn, head, (size_t)n);
    free(head);
    if (rc == 0 && req->body_len > 0)
        rc = conn_write_all(conn, req->body, req->body_len);
    return rc;
}

static const char *io_error(int err)
{
    if (err == EAGAIN || err == EWOULDBLOCK)
        return "no answer within " HTTP_STR(HTTP_TIMEOUT_S) " seconds";
    return strerror(err);
}

http_error_t http_send(const http_url_t *url, const http_tls_t *tls, const http_request_t *req,
                       http_response_t *res, char *errstr, size_t errstr_size)
{
    memset(res, 0, sizeof(*res));
    conn_t conn = {.fd = -1};
    char *buf = NULL;
    http_error_t rc = conn_tcp(&conn, url, errstr, errstr_size);
    if (rc == HTTP_E_OK && url->tls)
        rc = conn_tls(&conn, url, tls, errstr, errstr_size);
    if (rc != HTTP_E_OK)
        goto done;

    errno = 0;
    if (send_request(&conn, url, req) != 0) {
        snprintf(errstr, errstr_size, "sending the request failed: %s",
                 conn.ssl != NULL && errno == 0 ? tls_error("TLS error") : io_error(errno));
        rc = HTTP_E_IO;
        goto done;
    }
    size_t cap = 16384, len = 0;
    buf = malloc(cap);
    if (buf == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        rc = HTTP_E_SETUP;
        goto done;
    }
    for (;;) {
        if (len + 1 == cap) {
            char *grown = cap < HTTP_MAX_RESPONSE ? realloc(buf, cap * 2) : NULL;
            if (grown == NULL) {
                snprintf(errstr, errstr_size, "the answer is larger than %u bytes",
                         HTTP_MAX_RESPONSE);
                rc = HTTP_E_PROTOCOL;
                goto done;
            }
            buf = grown;
            cap *= 2;
        }
        errno = 0;
        ssize_t n = conn_read(&conn, buf + len, cap - len - 1);
        if (n < 0) {
            snprintf(errstr, errstr_size, "reading the answer failed: %s",
                     conn.ssl != NULL && errno == EPROTO ? tls_error("TLS error")
                                                         : io_error(errno));
            rc = HTTP_E_IO;
            goto done;
        }
        len += (size_t)n;
        buf[len] = '\0'; /* parse_response's sscanf needs an end */
        int parsed = parse_response(buf, len, n == 0, url->tls, res, errstr, errstr_size);
        if (parsed < 0) {
            rc = HTTP_E_PROTOCOL;
            goto done;
        }
        if (parsed > 0)
            break;
    }
done:
    free(buf);
    conn_close(&conn);
    if (rc != HTTP_E_OK)
        http_response_free(res);
    return rc;
}

void http_response_free(http_response_t *res)
{
    free(res->body);
    res->body = NULL;
    res->body_len = 0;
}
