/* Temporary file trees for the unit tests: fake sysfs/procfs roots and scratch directories. */
#ifndef CB_TEST_TREE_H
#define CB_TEST_TREE_H

#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* Writes root/rel (printf-style contents), creating the directories on the way. 0 or -1. */
static inline int tree_put(const char *root, const char *rel, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static inline int tree_put(const char *root, const char *rel, const char *fmt, ...)
{
	char path[8192], *slash;
	va_list ap;
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (slash = strchr(path + strlen(root) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		mkdir(path, 0755);
		*slash = '/';
	}
	f = fopen(path, "w");
	if (!f)
		return -1;
	va_start(ap, fmt);
	ok = vfprintf(f, fmt, ap) >= 0;
	va_end(ap);
	return fclose(f) == 0 && ok ? 0 : -1;
}

static inline int tree_remove_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

/* Removes root and everything below it. 0 or -1. */
static inline int tree_remove(const char *root)
{
	return nftw(root, tree_remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
