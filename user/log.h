/* Leveled logging to stderr; the only place userspace prints diagnostics. */
#ifndef CB_LOG_H
#define CB_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERROR, LOG_CRITICAL };

/* Sets the threshold; messages below it are not printed. Default LOG_WARNING. */
void log_set_level(enum log_level level);
/* Parses debug|info|warning|error|critical (any case); returns 0 or -EINVAL. */
int log_parse_level(const char *s, enum log_level *out);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define pr_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define pr_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define pr_warn(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define pr_err(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
