/* Small file and string helpers shared by the userspace modules. */
#ifndef CB_UTIL_H
#define CB_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define CARBONBPF_VERSION "0.1.0"

/* Reads a whole small file into buf (NUL-terminated, truncated to len-1). Returns bytes read or -errno. */
long read_text_file(const char *path, char *buf, size_t len);
/* The same from an open descriptor (not closed), retrying on EINTR. */
long read_fd_text(int fd, char *buf, size_t len);
/* Writes all n bytes, retrying short writes and EINTR. Returns 0 or -errno. */
int write_all(int fd, const char *p, size_t n);
/* Reads one integer (decimal) from a file. Returns 0 or -errno (-EINVAL: not a number). */
int read_ll_file(const char *path, long long *out);
/* CLOCK_MONOTONIC in ns. */
uint64_t mono_ns(void);
/* Writes a random UUID4 string (37 bytes with NUL). Returns 0 or -errno. */
int uuid4(char out[37]);

#endif
