/* Leveled logging to stderr. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <strings.h>
#include "log.h"

static enum log_level threshold = LOG_WARNING;
static const char *const names[] = { "debug", "info", "warning", "error", "critical" };

void log_set_level(enum log_level level)
{
	threshold = level;
}

int log_parse_level(const char *s, enum log_level *out)
{
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcasecmp(s, names[i])) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	if (level < threshold)
		return;
	fprintf(stderr, "carbonbpf: %s: ", names[level]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
