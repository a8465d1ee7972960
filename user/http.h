/* libcurl pieces shared by the modules that speak HTTP (api.c, electricitymaps.c). */
#ifndef CB_HTTP_H
#define CB_HTTP_H

#include <stdbool.h>
#include <stddef.h>

/* A response body collected by http_body_write; p is NUL-terminated, owned by the caller. */
struct http_body {
	char *p;
	size_t len, cap;
	size_t max;       /* longest body accepted, bytes; a longer one aborts the transfer */
	bool too_big;     /* the transfer was aborted for that */
};

/* CURLOPT_WRITEFUNCTION collecting into the struct http_body given as CURLOPT_WRITEDATA. */
size_t http_body_write(char *data, size_t size, size_t nmemb, void *arg);

/* -errno for a CURLcode (given as int, to keep curl's types out of this header). */
int http_curl_errno(int curl_code);

#endif
