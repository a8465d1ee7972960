/* `carbonbpf config`: show the effective configuration, set one key, list the known keys. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "commands.h"
#include "config.h"

#define ERRLEN 512
#define VALUE_COLUMN_MAX 44

static void usage(FILE *f)
{
	fprintf(f, "usage: carbonbpf config                          print the effective configuration\n"
		   "       carbonbpf config --set KEY=VALUE [--global]  write KEY into ./.codecarbon.config\n"
		   "                                                    (--global: ~/.codecarbon.config)\n"
		   "       carbonbpf config --keys                   print the known keys (Markdown)\n");
}

static const char *type_text(const struct cfg_key *k, char *buf, size_t len)
{
	switch (k->type) {
	case CFG_T_BOOL:
		return "bool";
	case CFG_T_INT:
		return "int";
	case CFG_T_DOUBLE:
		return "number";
	case CFG_T_ENUM:
		snprintf(buf, len, "one of %s", k->allowed);
		return buf;
	case CFG_T_LIST:
		snprintf(buf, len, "comma list of %s", k->allowed);
		return buf;
	case CFG_T_STRING:
		break;
	}
	return "string";
}

static int print_keys(void)
{
	const struct cfg_key *keys;
	char buf[160], type[160];
	size_t n;

	keys = config_keys(&n);
	printf("| Key | Default | Type | carbonbpf | Meaning |\n|---|---|---|---|---|\n");
	for (size_t i = 0; i < n; i++) {
		const struct cfg_key *k = &keys[i];
		char def[160];

		if (k->def && *k->def)
			snprintf(def, sizeof(def), "`%s`", k->def);
		else
			snprintf(def, sizeof(def), "%s", k->def ? "\"\"" : "unset");
		snprintf(type, sizeof(type), "%s", type_text(k, buf, sizeof(buf)));
		/* Markdown tables use '|' as the column separator. */
		for (char *p = type; *p; p++)
			if (*p == '|')
				*p = '/';
		printf("| %s | %s | %s | %s | %s |\n", k->name, def, type,
		       (k->flags & CFG_F_OWN) ? "own key" : (k->flags & CFG_F_USED) ? "used" : "ignored",
		       k->help);
	}
	return 0;
}

static int print_effective(void)
{
	char err[ERRLEN], val[256];
	const struct cfg_key *keys;
	struct config *c;
	size_t n, wkey = 0, wval = 0;
	int ret;

	ret = config__load(&c, NULL, NULL, NULL, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "carbonbpf: config: %s\n", *err ? err : strerror(-ret));
		return ret == -EINVAL ? 2 : 1; /* a configuration error, as monitor and detect say */
	}
	keys = config_keys(&n);
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(keys[i].name);

		config__format_value(&keys[i], config__get(c, keys[i].name, NULL), val, sizeof(val));
		wkey = l > wkey ? l : wkey;
		l = strlen(val);
		if (l > wval && l <= VALUE_COLUMN_MAX)
			wval = l;
	}
	for (size_t i = 0; i < n; i++) {
		struct cfg_where where;
		const char *v = config__get(c, keys[i].name, &where);

		config__format_value(&keys[i], v, val, sizeof(val));
		printf("%-*s  %-*s  %s%s\n", (int)wkey, keys[i].name, (int)wval, val, where.text,
		       (keys[i].flags & CFG_F_USED) ? "" : "  (ignored by carbonbpf)");
	}
	config__free(c);
	return 0;
}

/* After a write, says when a higher layer still overrides the key just written. */
static void note_override(const char *key, enum cfg_origin written)
{
	char err[ERRLEN];
	struct cfg_where where;
	struct config *c;

	if (config__load(&c, NULL, NULL, NULL, err, sizeof(err)))
		return;
	if (config__get(c, key, &where) && where.origin > written)
		fprintf(stderr, "carbonbpf: config: note: %s overrides it\n", where.text);
	config__free(c);
}

static int set_key(const char *arg, bool global)
{
	char path[PATH_MAX], err[ERRLEN] = "", val[256], *key;
	const struct cfg_key *k;
	const char *eq = strchr(arg, '=');
	int ret;

	if (!eq || eq == arg) {
		fprintf(stderr, "carbonbpf: config: --set expects KEY=VALUE, got '%s'\n", arg);
		usage(stderr);
		return 2;
	}
	key = strndup(arg, (size_t)(eq - arg));
	if (!key) {
		fprintf(stderr, "carbonbpf: config: out of memory\n");
		return 1;
	}
	if (global) {
		ret = config__global_path(path, sizeof(path), NULL);
		if (ret) {
			fprintf(stderr, "carbonbpf: config: cannot find the home directory: %s\n",
				strerror(-ret));
			free(key);
			return 1;
		}
	} else {
		snprintf(path, sizeof(path), "./.codecarbon.config");
	}
	ret = config__write_key(path, key, eq + 1, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "carbonbpf: config: %s\n", *err ? err : strerror(-ret));
		free(key);
		return ret == -EINVAL ? 2 : 1;
	}
	k = config_key_find(key);
	config__format_value(k, eq + 1, val, sizeof(val));
	printf("%s: %s = %s\n", path, k->name, val);
	note_override(k->name, global ? CFG_GLOBAL_FILE : CFG_LOCAL_FILE);
	free(key);
	return 0;
}

int cmd_config(int argc, char **argv)
{
	const char *set = NULL;
	bool global = false, list = false;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--set") || !strncmp(a, "--set=", 6)) {
			if (set) {
				fprintf(stderr, "carbonbpf: config: only one --set at a time\n");
				return 2;
			}
			if (a[5] == '=') {
				set = a + 6;
			} else if (i + 1 < argc) {
				set = argv[++i];
			} else {
				fprintf(stderr, "carbonbpf: config: --set needs KEY=VALUE\n");
				usage(stderr);
				return 2;
			}
		} else if (!strcmp(a, "--global")) {
			global = true;
		} else if (!strcmp(a, "--keys")) {
			list = true;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "carbonbpf: config: unknown argument '%s'\n", a);
			usage(stderr);
			return 2;
		}
	}
	if ((global && !set) || (list && (set || global))) {
		usage(stderr);
		return 2;
	}
	if (list)
		return print_keys();
	if (set)
		return set_key(set, global);
	return print_effective();
}
