/* CodeCarbon-compatible configuration: key table, INI parsing, layering, validation, edits. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include "config.h"
#include "log.h"
#include "util.h"

extern char **environ;

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define CFG_MAX_FILE_BYTES (1 << 20)
/* configparser's BasicInterpolation gives up beyond this many nested references. */
#define CFG_MAX_INTERP_DEPTH 10
#define CC_SECTION "codecarbon"
#define DEFAULT_SECTION "DEFAULT"

#define U CFG_F_USED
static const struct cfg_key keys[] = {
	/* CodeCarbon 3.3's keys (CODECARBON.md section 4), with its defaults. */
	{ "experiment_id", "5b0fa12a-3dd7-45bb-9766-cc326314d9f1", CFG_T_STRING, NULL, U,
	  "API experiment UUID runs are created under" },
	{ "api_endpoint", "https://api.codecarbon.io", CFG_T_STRING, NULL, U,
	  "API base URL (no trailing slash)" },
	{ "api_key", "api_key", CFG_T_STRING, NULL, U | CFG_F_SECRET,
	  "project token sent as x-api-token" },
	{ "output_methods", NULL, CFG_T_LIST, "csv|api|logger|prometheus|logfire|boamps",
	  U | CFG_F_ICASE, "comma list of outputs; when set, save_to_* are ignored" },
	{ "save_to_file", "true", CFG_T_BOOL, NULL, U, "write emissions.csv (deprecated flag)" },
	{ "save_to_api", "false", CFG_T_BOOL, NULL, U, "upload to the API (deprecated flag)" },
	{ "save_to_logger", "false", CFG_T_BOOL, NULL, 0, "Python logger output" },
	{ "save_to_prometheus", "false", CFG_T_BOOL, NULL, 0, "Prometheus pushgateway output" },
	{ "save_to_logfire", "false", CFG_T_BOOL, NULL, 0, "Logfire output" },
	{ "emissions_endpoint", NULL, CFG_T_STRING, NULL, 0,
	  "extra HTTP POST target of the total record" },
	{ "output_dir", ".", CFG_T_STRING, NULL, U, "directory of emissions.csv (must exist)" },
	{ "output_file", "emissions.csv", CFG_T_STRING, NULL, U, "emissions CSV file name" },
	{ "on_csv_write", "append", CFG_T_ENUM, "append|update", U,
	  "append a row, or update the row of the same run_id" },
	{ "measure_power_secs", "15", CFG_T_DOUBLE, NULL, U | CFG_F_POSITIVE,
	  "measurement interval, seconds" },
	{ "api_call_interval", "8", CFG_T_INT, NULL, U,
	  "measurements per API upload; -1: only at the end" },
	{ "project_name", "codecarbon", CFG_T_STRING, NULL, U, "project_name CSV column" },
	{ "experiment_name", "base", CFG_T_STRING, NULL, 0, "experiment label" },
	{ "tracking_mode", "machine", CFG_T_ENUM, "machine|process", 0,
	  "machine or process; carbonbpf reports process for a scope, machine without one" },
	{ "log_level", "info", CFG_T_ENUM, "debug|info|warning|error|critical", U | CFG_F_ICASE,
	  "log threshold" },
	{ "logger_preamble", "", CFG_T_STRING, NULL, 0, "log message prefix" },
	{ "gpu_ids", NULL, CFG_T_STRING, NULL, 0, "comma list of GPU indices or UUID prefixes" },
	{ "force_cpu_power", NULL, CFG_T_DOUBLE, NULL, U | CFG_F_NONNEG,
	  "CPU power in W for the load model; disables RAPL" },
	{ "force_ram_power", NULL, CFG_T_DOUBLE, NULL, U | CFG_F_NONNEG, "RAM power in W" },
	{ "force_mode_cpu_load", "false", CFG_T_BOOL, NULL, U,
	  "use the CPU-load model even where RAPL exists" },
	{ "force_carbon_intensity_g_co2e_kwh", NULL, CFG_T_DOUBLE, NULL, U | CFG_F_NONNEG,
	  "carbon intensity in g/kWh, overrides every source" },
	{ "pue", "1.0", CFG_T_DOUBLE, NULL, U | CFG_F_NONNEG, "power usage effectiveness" },
	{ "wue", "0", CFG_T_DOUBLE, NULL, U | CFG_F_NONNEG, "water usage, litres per kWh" },
	{ "electricitymaps_api_token", NULL, CFG_T_STRING, NULL, U | CFG_F_SECRET,
	  "Electricity Maps token for live intensity" },
	{ "co2_signal_api_token", NULL, CFG_T_STRING, NULL, U | CFG_F_SECRET,
	  "old name of electricitymaps_api_token" },
	{ "allow_multiple_runs", "true", CFG_T_BOOL, NULL, 0, "false: one tracker at a time" },
	{ "rapl_include_dram", "false", CFG_T_BOOL, NULL, U, "add the dram RAPL domain" },
	{ "rapl_prefer_psys", "false", CFG_T_BOOL, NULL, U, "use the psys RAPL domain only" },
	{ "prometheus_url", "localhost:9091", CFG_T_STRING, NULL, 0, "Prometheus pushgateway" },
	{ "country_iso_code", NULL, CFG_T_STRING, NULL, U, "ISO 3166 alpha-3 country code" },
	{ "region", NULL, CFG_T_STRING, NULL, U, "sub-national region (US state, province, zone)" },
	{ "cloud_provider", NULL, CFG_T_STRING, NULL, U, "cloud provider (gcp, aws, azure)" },
	{ "cloud_region", NULL, CFG_T_STRING, NULL, U, "cloud region (e.g. europe-west1)" },
	{ "country_2letter_iso_code", NULL, CFG_T_STRING, NULL, U,
	  "ISO 3166 alpha-2 code for Electricity Maps" },
	{ "organization_id", NULL, CFG_T_STRING, NULL, 0, "written by `codecarbon config`" },
	{ "project_id", NULL, CFG_T_STRING, NULL, 0, "written by `codecarbon config`" },
	/* carbonbpf's own keys. */
	{ "idle_policy", "busy", CFG_T_ENUM, "busy|capacity", U | CFG_F_OWN,
	  "split package energy by busy time, or by capacity with an idle entry" },
	{ "processes_file", "processes.csv", CFG_T_STRING, NULL, U | CFG_F_OWN,
	  "per-process CSV file name" },
	{ "sysfs_root", "/sys", CFG_T_STRING, NULL, U | CFG_F_OWN, "where sysfs is mounted" },
	{ "procfs_root", "/proc", CFG_T_STRING, NULL, U | CFG_F_OWN, "where procfs is mounted" },
	{ "spool_dir", "/var/lib/carbonbpf/spool", CFG_T_STRING, NULL, U | CFG_F_OWN,
	  "on-disk queue of API deltas not yet accepted" },
	{ "api_ca_file", NULL, CFG_T_STRING, NULL, U | CFG_F_OWN,
	  "CA bundle for the API's TLS certificate" },
	{ "api_timeout_secs", "2", CFG_T_INT, NULL, U | CFG_F_OWN | CFG_F_POSITIVE,
	  "API request timeout, seconds" },
	{ "electricitymaps_api_endpoint", "https://api.electricitymaps.com", CFG_T_STRING, NULL,
	  U | CFG_F_OWN, "Electricity Maps API base URL" },
	{ "carbon_data_file", NULL, CFG_T_STRING, NULL, U | CFG_F_OWN,
	  "newer country intensity data in CodeCarbon's global_energy_mix.json format" },
};
#undef U

#define NKEYS ARRAY_SIZE(keys)

/* One key/value read from a file or the environment. */
struct src {
	char *section;
	char *key;   /* lower case */
	char *raw;   /* as written, before `%` interpolation */
	char *value; /* interpolated */
	struct cfg_where where;
};

struct cfg_val {
	char *text; /* NULL: unset */
	struct cfg_where where;
};

struct config {
	struct cfg_val vals[NKEYS];
	struct src *srcs; /* every source entry, in reading order */
	size_t nsrc;
	size_t *win; /* indices into srcs of each (section, key)'s winner, first-seen order */
	size_t nwin, wincap;
};

/* One parsed line of an INI text. */
struct ini_item {
	char *section;
	char *key;
	char *value;
	int line;
	size_t value_off, value_end; /* byte range of the trimmed value */
	size_t line_end;             /* end of the line's content, before its EOL */
	size_t next_line;            /* start of the following line */
};

struct ini_section {
	char *name;
	int line;
	size_t next_line;
};

struct ini {
	struct ini_item *items;
	size_t n, cap;
	struct ini_section *secs;
	size_t nsec, seccap;
};

static void errf(char *errbuf, int errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void errf(char *errbuf, int errlen, const char *fmt, ...)
{
	va_list ap;

	if (!errbuf || errlen <= 0)
		return;
	va_start(ap, fmt);
	vsnprintf(errbuf, (size_t)errlen, fmt, ap);
	va_end(ap);
}

static bool is_ws(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\f' || ch == '\v';
}

static void lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

static char *dup_range(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (!p)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/* A trimmed copy of s (all ASCII whitespace, as Python's float() and strip()). */
static char *dup_trim(const char *s)
{
	size_t n;

	while (*s && isspace((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	return dup_range(s, n);
}

const struct cfg_key *config_keys(size_t *n)
{
	if (n)
		*n = NKEYS;
	return keys;
}

static int key_index(const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (!strcasecmp(keys[i].name, name))
			return (int)i;
	return -1;
}

const struct cfg_key *config_key_find(const char *name)
{
	int i = name ? key_index(name) : -1;

	return i < 0 ? NULL : &keys[i];
}

/* Edit distance with '-', '.' and ' ' counted as '_', case ignored. */
static size_t key_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t row[64], prev, tmp;

	if (lb >= ARRAY_SIZE(row))
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		char ca = (char)tolower((unsigned char)a[i - 1]);

		if (ca == '-' || ca == '.' || ca == ' ')
			ca = '_';
		prev = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t best = prev + (ca != b[j - 1]);

			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			tmp = row[j];
			row[j] = best;
			prev = tmp;
		}
	}
	return row[lb];
}

const char *config_key_suggest(const char *name)
{
	size_t best = SIZE_MAX, limit = strlen(name) / 3;
	const char *found = NULL;

	if (limit < 2)
		limit = 2;
	for (size_t i = 0; i < NKEYS; i++) {
		size_t d = key_distance(name, keys[i].name);

		if (d < best) {
			best = d;
			found = keys[i].name;
		}
	}
	return best <= limit ? found : NULL;
}

static void unknown_key_msg(const char *where, const char *key, char *errbuf, int errlen)
{
	const char *near = config_key_suggest(key);

	if (near)
		errf(errbuf, errlen, "%s: unknown key '%s' (did you mean %s?)", where, key, near);
	else
		errf(errbuf, errlen, "%s: unknown key '%s' (`carbonbpf config --keys` lists them)",
		     where, key);
}

static int parse_bool(const char *s, bool *out)
{
	static const char *const t[] = { "true", "yes", "1" }, *const f[] = { "false", "no", "0" };

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		if (!strcasecmp(s, t[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(s, f[i])) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

static int parse_long(const char *s, long *out)
{
	char *end;
	long v;

	if (!*s)
		return -EINVAL;
	for (const char *p = (*s == '-' || *s == '+') ? s + 1 : s; *p; p++)
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_double(const char *s, double *out)
{
	char *end;
	double v;

	/* strtod also reads hex, inf and nan; a measurement setting is none of these. */
	if (!*s || strpbrk(s, "xXnN"))
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || end == s || !isfinite(v))
		return -EINVAL;
	*out = v;
	return 0;
}

/* Whether item (len n) is one of the '|'-separated values of allowed. */
static bool allowed_has(const char *allowed, const char *item, size_t n, bool icase)
{
	const char *p = allowed;

	while (*p) {
		size_t l = strcspn(p, "|");

		if (l == n && !(icase ? strncasecmp(p, item, n) : strncmp(p, item, n)))
			return true;
		p += l;
		if (*p == '|')
			p++;
	}
	return false;
}

/* Validates a trimmed value t of key k; message prefix where/key. */
static int check_trimmed(const struct cfg_key *k, const char *t, const char *where, char *errbuf,
			 int errlen)
{
	bool icase = k->flags & CFG_F_ICASE, b;
	double d = 0;
	long l;

	if (!*t)
		return 0;
	switch (k->type) {
	case CFG_T_STRING:
		return 0;
	case CFG_T_BOOL:
		if (parse_bool(t, &b)) {
			errf(errbuf, errlen, "%s: key '%s': '%s' is not a boolean (true/false/yes/no/1/0)",
			     where, k->name, t);
			return -EINVAL;
		}
		return 0;
	case CFG_T_INT:
		if (parse_long(t, &l)) {
			errf(errbuf, errlen, "%s: key '%s': '%s' is not an integer", where, k->name, t);
			return -EINVAL;
		}
		d = (double)l;
		break;
	case CFG_T_DOUBLE:
		if (parse_double(t, &d)) {
			errf(errbuf, errlen, "%s: key '%s': '%s' is not a number", where, k->name, t);
			return -EINVAL;
		}
		break;
	case CFG_T_ENUM:
		if (!allowed_has(k->allowed, t, strlen(t), icase)) {
			errf(errbuf, errlen, "%s: key '%s': '%s' is not one of %s", where, k->name, t,
			     k->allowed);
			return -EINVAL;
		}
		return 0;
	case CFG_T_LIST:
		for (const char *p = t;;) {
			size_t n = strcspn(p, ","), a = 0, z = n;

			while (a < z && isspace((unsigned char)p[a]))
				a++;
			while (z > a && isspace((unsigned char)p[z - 1]))
				z--;
			if (!allowed_has(k->allowed, p + a, z - a, icase)) {
				errf(errbuf, errlen, "%s: key '%s': '%.*s' is not one of %s", where,
				     k->name, (int)(z - a), p + a, k->allowed);
				return -EINVAL;
			}
			if (!p[n])
				break;
			p += n + 1;
		}
		return 0;
	}
	if ((k->flags & CFG_F_NONNEG) && d < 0) {
		errf(errbuf, errlen, "%s: key '%s': '%s' must not be negative", where, k->name, t);
		return -EINVAL;
	}
	if ((k->flags & CFG_F_POSITIVE) && d <= 0) {
		errf(errbuf, errlen, "%s: key '%s': '%s' must be greater than 0", where, k->name, t);
		return -EINVAL;
	}
	return 0;
}

static int check_known(const struct cfg_key *k, const char *value, const char *where,
		       char *errbuf, int errlen)
{
	char *t = dup_trim(value);
	int err;

	if (!t)
		return -ENOMEM;
	err = check_trimmed(k, t, where, errbuf, errlen);
	free(t);
	return err;
}

int config__check_value(const char *key, const char *value, const char *where, char *errbuf,
			int errlen)
{
	const struct cfg_key *k = config_key_find(key);

	if (!where)
		where = "config";
	if (!k) {
		unknown_key_msg(where, key, errbuf, errlen);
		return -EINVAL;
	}
	return check_known(k, value, where, errbuf, errlen);
}

/* ---- INI text parsing (configparser's rules, strict mode) ---- */

static void ini_free(struct ini *ini)
{
	for (size_t i = 0; i < ini->n; i++) {
		free(ini->items[i].section);
		free(ini->items[i].key);
		free(ini->items[i].value);
	}
	for (size_t i = 0; i < ini->nsec; i++)
		free(ini->secs[i].name);
	free(ini->items);
	free(ini->secs);
	memset(ini, 0, sizeof(*ini));
}

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
	size_t ncap;
	void *np;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 16;
	while (ncap < need)
		ncap *= 2;
	np = realloc(*p, ncap * size);
	if (!np)
		return -ENOMEM;
	*p = np;
	*cap = ncap;
	return 0;
}

static size_t bom_len(const char *text, size_t len)
{
	return len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3) ? 3 : 0;
}

/*
 * Parses text into sections and key/value items. Line endings \n, \r\n and \r (Python's
 * universal newlines); a leading UTF-8 BOM is skipped. name prefixes messages.
 */
static int ini_parse(const char *text, size_t len, const char *name, struct ini *ini,
		     char *errbuf, int errlen)
{
	size_t pos = 0, opt_indent = 0;
	const struct ini_section *cur = NULL;
	const struct ini_item *opt = NULL; /* the current section's last key */
	int line = 0, err = -EINVAL;

	memset(ini, 0, sizeof(*ini));
	pos = bom_len(text, len);
	while (pos < len) {
		size_t start = pos, end = pos, next, a, z, indent = 0;

		while (end < len && text[end] != '\n' && text[end] != '\r') {
			if (!text[end]) {
				errf(errbuf, errlen, "%s:%d: NUL byte in a text file", name, line + 1);
				goto fail;
			}
			end++;
		}
		next = end;
		if (next < len)
			next += (text[next] == '\r' && next + 1 < len && text[next + 1] == '\n') ? 2 : 1;
		pos = next;
		line++;

		while (start + indent < end && is_ws(text[start + indent]))
			indent++;
		a = start + indent;
		z = end;
		while (z > a && is_ws(text[z - 1]))
			z--;
		if (a == z || text[a] == '#' || text[a] == ';')
			continue;
		if (opt && indent > opt_indent) {
			errf(errbuf, errlen,
			     "%s:%d: indented line continues the value of '%s' (line %d); multi-line values are not supported, put the value on one line",
			     name, line, opt->key, opt->line);
			goto fail;
		}
		if (text[a] == '[') {
			size_t rb = z - 1;

			while (rb > a && text[rb] != ']')
				rb--;
			if (rb > a + 1) {
				char *sec = dup_range(text + a + 1, rb - a - 1), *t;
				struct ini_section *s;

				if (!sec) {
					err = -ENOMEM;
					goto fail;
				}
				for (size_t i = 0; i < ini->nsec; i++) {
					if (!strcmp(ini->secs[i].name, sec)) {
						errf(errbuf, errlen,
						     "%s:%d: duplicate section [%s] (first on line %d)",
						     name, line, sec, ini->secs[i].line);
						free(sec);
						goto fail;
					}
				}
				t = dup_trim(sec);
				if (t && strcmp(sec, CC_SECTION) && !strcasecmp(t, CC_SECTION)) {
					errf(errbuf, errlen,
					     "%s:%d: section [%s] is not [codecarbon] (section names are case-sensitive; CodeCarbon would ignore it)",
					     name, line, sec);
					free(t);
					free(sec);
					goto fail;
				}
				free(t);
				if (grow((void **)&ini->secs, &ini->seccap, ini->nsec + 1,
					 sizeof(*ini->secs))) {
					free(sec);
					err = -ENOMEM;
					goto fail;
				}
				s = &ini->secs[ini->nsec++];
				s->name = sec;
				s->line = line;
				s->next_line = next;
				cur = s;
				opt = NULL;
				continue;
			}
		}
		{
			size_t d = a, ka, kz, va;
			struct ini_item *it;

			while (d < z && text[d] != '=' && text[d] != ':')
				d++;
			if (d == z) {
				errf(errbuf, errlen,
				     "%s:%d: expected 'key = value', '[section]' or a comment, got '%.*s'",
				     name, line, (int)(z - a), text + a);
				goto fail;
			}
			ka = a;
			kz = d;
			while (kz > ka && is_ws(text[kz - 1]))
				kz--;
			if (kz == ka) {
				errf(errbuf, errlen, "%s:%d: empty key before '%c'", name, line, text[d]);
				goto fail;
			}
			if (!cur) {
				errf(errbuf, errlen,
				     "%s:%d: missing section header: key '%.*s' before any [section] (expected [codecarbon])",
				     name, line, (int)(kz - ka), text + ka);
				goto fail;
			}
			va = d + 1;
			while (va < z && is_ws(text[va]))
				va++;
			if (grow((void **)&ini->items, &ini->cap, ini->n + 1, sizeof(*ini->items))) {
				err = -ENOMEM;
				goto fail;
			}
			it = &ini->items[ini->n];
			memset(it, 0, sizeof(*it));
			it->section = strdup(cur->name);
			it->key = dup_range(text + ka, kz - ka);
			it->value = dup_range(text + va, z - va);
			it->line = line;
			it->value_off = va;
			it->value_end = z;
			it->line_end = end;
			it->next_line = next;
			ini->n++;
			if (!it->section || !it->key || !it->value) {
				err = -ENOMEM;
				goto fail;
			}
			lower(it->key);
			for (size_t i = 0; i + 1 < ini->n; i++) {
				const struct ini_item *o = &ini->items[i];

				if (!strcmp(o->section, it->section) && !strcmp(o->key, it->key)) {
					errf(errbuf, errlen,
					     "%s:%d: duplicate key '%s' in [%s] (first set on line %d)",
					     name, line, it->key, it->section, o->line);
					goto fail;
				}
			}
			opt = it;
			opt_indent = indent;
		}
	}
	return 0;
fail:
	ini_free(ini);
	return err;
}

/* Reads a whole file; -ENOENT when missing. *out NUL-terminated, caller frees. */
static int read_file(const char *path, char **out, size_t *out_len, struct stat *st)
{
	size_t len = 0, cap;
	char *buf;
	ssize_t r;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, st)) {
		err = -errno;
		close(fd);
		return err;
	}
	if (S_ISDIR(st->st_mode)) {
		close(fd);
		return -EISDIR;
	}
	cap = 4096;
	buf = malloc(cap);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	for (;;) {
		if (len + 1 >= cap) {
			char *nb;

			if (cap >= CFG_MAX_FILE_BYTES) {
				free(buf);
				close(fd);
				return -EFBIG;
			}
			nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				close(fd);
				return -ENOMEM;
			}
			buf = nb;
			cap *= 2;
		}
		r = read(fd, buf + len, cap - len - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			free(buf);
			close(fd);
			return err;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	buf[len] = '\0';
	*out = buf;
	*out_len = len;
	return 0;
}

/* ---- loading ---- */

struct sbuf {
	char *p;
	size_t len, cap;
};

static int sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (grow((void **)&b->p, &b->cap, b->len + n + 1, 1))
		return -ENOMEM;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

static const struct src *winner(const struct config *c, const char *section, const char *key)
{
	for (size_t i = 0; i < c->nwin; i++) {
		const struct src *s = &c->srcs[c->win[i]];

		if (!strcmp(s->section, section) && !strcmp(s->key, key))
			return s;
	}
	return NULL;
}

/*
 * configparser's BasicInterpolation: `%%` is `%`, `%(name)s` the value of name in the same
 * section or [DEFAULT] (itself interpolated), any other `%` an error.
 */
static int interpolate(const struct config *c, const struct src *s, const char *raw, int depth,
		       struct sbuf *out, char *errbuf, int errlen)
{
	const char *p = raw;

	if (depth > CFG_MAX_INTERP_DEPTH) {
		errf(errbuf, errlen, "%s: key '%s': `%%(...)s` references nest deeper than %d",
		     s->where.text, s->key, CFG_MAX_INTERP_DEPTH);
		return -EINVAL;
	}
	while (*p) {
		const char *pct = strchr(p, '%'), *close;
		const struct src *ref;
		char *name;
		int err;

		if (!pct)
			return sb_add(out, p, strlen(p));
		if (sb_add(out, p, (size_t)(pct - p)))
			return -ENOMEM;
		if (pct[1] == '%') {
			if (sb_add(out, "%", 1))
				return -ENOMEM;
			p = pct + 2;
			continue;
		}
		if (pct[1] != '(') {
			errf(errbuf, errlen,
			     "%s: key '%s': '%%' must be followed by '%%' or '(', found '%s' (write a literal %% as %%%%)",
			     s->where.text, s->key, pct);
			return -EINVAL;
		}
		close = strchr(pct + 2, ')');
		if (!close || close == pct + 2 || close[1] != 's') {
			errf(errbuf, errlen, "%s: key '%s': bad interpolation reference '%s'",
			     s->where.text, s->key, pct);
			return -EINVAL;
		}
		name = dup_range(pct + 2, (size_t)(close - pct - 2));
		if (!name)
			return -ENOMEM;
		lower(name);
		ref = winner(c, s->section, name);
		if (!ref)
			ref = winner(c, DEFAULT_SECTION, name);
		if (!ref) {
			errf(errbuf, errlen, "%s: key '%s': '%%(%s)s' refers to a key not set in [%s]",
			     s->where.text, s->key, name, s->section);
			free(name);
			return -EINVAL;
		}
		free(name);
		err = interpolate(c, ref, ref->raw, depth + 1, out, errbuf, errlen);
		if (err)
			return err;
		p = close + 2;
	}
	return 0;
}

static int add_src(struct config *c, size_t *cap, const char *section, const char *key,
		   const char *raw, const struct cfg_where *where)
{
	struct src *s;
	size_t idx;

	if (grow((void **)&c->srcs, cap, c->nsrc + 1, sizeof(*c->srcs)))
		return -ENOMEM;
	s = &c->srcs[c->nsrc];
	memset(s, 0, sizeof(*s));
	s->section = strdup(section);
	s->key = strdup(key);
	s->raw = strdup(raw);
	s->where = *where;
	idx = c->nsrc++;
	if (!s->section || !s->key || !s->raw)
		return -ENOMEM;
	for (size_t i = 0; i < c->nwin; i++) {
		const struct src *w = &c->srcs[c->win[i]];

		if (!strcmp(w->section, section) && !strcmp(w->key, key)) {
			c->win[i] = idx;
			return 0;
		}
	}
	if (grow((void **)&c->win, &c->wincap, c->nwin + 1, sizeof(*c->win)))
		return -ENOMEM;
	c->win[c->nwin++] = idx;
	return 0;
}

static int load_file(struct config *c, size_t *cap, const char *path, enum cfg_origin origin,
		     char *errbuf, int errlen)
{
	struct ini ini;
	struct stat st;
	char *text;
	size_t len;
	int err;

	err = read_file(path, &text, &len, &st);
	if (err == -ENOENT)
		return 0;
	if (err == -EACCES && stat(path, &st) && errno == EACCES) {
		/* A directory on the way cannot be searched (HOME of another user): whether the
		 * file exists cannot be told, so it is skipped as CodeCarbon would, but said. */
		pr_warn("cannot look for %s (%s): skipped", path, strerror(EACCES));
		return 0;
	}
	if (err) {
		errf(errbuf, errlen, "%s: cannot read: %s", path, strerror(-err));
		return err;
	}
	err = ini_parse(text, len, path, &ini, errbuf, errlen);
	free(text);
	if (err)
		return err;
	for (size_t i = 0; i < ini.n && !err; i++) {
		const struct ini_item *it = &ini.items[i];
		struct cfg_where w = { .origin = origin };
		const struct cfg_key *k;

		snprintf(w.text, sizeof(w.text), "%s:%d", path, it->line);
		if (!strcmp(it->section, CC_SECTION) || !strcmp(it->section, DEFAULT_SECTION)) {
			k = config_key_find(it->key);
			if (!k) {
				unknown_key_msg(w.text, it->key, errbuf, errlen);
				err = -EINVAL;
				break;
			}
		}
		err = add_src(c, cap, it->section, it->key, it->value, &w);
	}
	ini_free(&ini);
	return err;
}

static int load_env(struct config *c, size_t *cap, char *const *envp, char *errbuf, int errlen)
{
	static const char prefix[] = "codecarbon_";
	const size_t plen = sizeof(prefix) - 1;
	size_t first = c->nsrc;

	for (; *envp; envp++) {
		const char *e = *envp, *eq = strchr(e, '=');
		struct cfg_where w = { .origin = CFG_ENV };
		char *key;
		int err;

		if (!eq || (size_t)(eq - e) < plen || strncasecmp(e, prefix, plen))
			continue;
		snprintf(w.text, sizeof(w.text), "env %.*s", (int)(eq - e), e);
		key = dup_range(e + plen, (size_t)(eq - e) - plen);
		if (!key)
			return -ENOMEM;
		lower(key);
		if (!config_key_find(key)) {
			unknown_key_msg(w.text, key, errbuf, errlen);
			free(key);
			return -EINVAL;
		}
		for (size_t i = first; i < c->nsrc; i++) {
			if (!strcmp(c->srcs[i].key, key)) {
				errf(errbuf, errlen, "%s: key '%s' is also set by %s", w.text, key,
				     c->srcs[i].where.text);
				free(key);
				return -EINVAL;
			}
		}
		err = add_src(c, cap, CC_SECTION, key, eq + 1, &w);
		free(key);
		if (err)
			return err;
	}
	return 0;
}

static const char *env_get(char *const *envp, const char *name)
{
	size_t n = strlen(name);

	for (; envp && *envp; envp++)
		if (!strncmp(*envp, name, n) && (*envp)[n] == '=')
			return *envp + n + 1;
	return NULL;
}

int config__global_path(char *buf, size_t len, char *const *envp)
{
	const char *home = env_get(envp ? envp : environ, "HOME");
	int n;

	if (!home || !*home) {
		struct passwd *pw = getpwuid(getuid());

		home = pw ? pw->pw_dir : NULL;
	}
	if (!home || !*home)
		return -ENOENT;
	n = snprintf(buf, len, "%s/.codecarbon.config", home);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int set_val(struct cfg_val *v, const char *text, const struct cfg_where *where)
{
	char *t = NULL;

	if (text) {
		t = strdup(text);
		if (!t)
			return -ENOMEM;
	}
	free(v->text);
	v->text = t;
	v->where = *where;
	return 0;
}

int config__load(struct config **out, const char *global_path, const char *local_path,
		 char *const *envp, char *errbuf, int errlen)
{
	char gpath[PATH_MAX];
	struct config *c;
	size_t cap = 0;
	int err = 0;

	*out = NULL;
	if (errbuf && errlen > 0)
		errbuf[0] = '\0';
	if (!envp)
		envp = environ;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	for (size_t i = 0; i < NKEYS && !err; i++) {
		struct cfg_where w = { .origin = CFG_DEFAULT, .text = "default" };

		err = set_val(&c->vals[i], keys[i].def, &w);
	}
	if (err)
		goto fail;
	if (!global_path && !config__global_path(gpath, sizeof(gpath), envp))
		global_path = gpath;
	if (!local_path)
		local_path = "./.codecarbon.config";
	if (global_path)
		err = load_file(c, &cap, global_path, CFG_GLOBAL_FILE, errbuf, errlen);
	if (!err)
		err = load_file(c, &cap, local_path, CFG_LOCAL_FILE, errbuf, errlen);
	if (!err)
		err = load_env(c, &cap, envp, errbuf, errlen);
	if (err)
		goto fail;

	/* Every entry is interpolated and checked, even one a later layer overrides. */
	for (size_t i = 0; i < c->nsrc; i++) {
		struct src *s = &c->srcs[i];
		struct sbuf b = { 0 };
		const struct cfg_key *k;

		err = interpolate(c, s, s->raw, 1, &b, errbuf, errlen);
		if (!err && !b.p)
			err = sb_add(&b, "", 0);
		if (err) {
			free(b.p);
			goto fail;
		}
		s->value = b.p;
		k = config_key_find(s->key);
		if (k && (!strcmp(s->section, CC_SECTION) || !strcmp(s->section, DEFAULT_SECTION))) {
			err = check_known(k, s->value, s->where.text, errbuf, errlen);
			if (err)
				goto fail;
		}
	}
	for (size_t i = 0; i < NKEYS; i++) {
		const struct src *s = winner(c, CC_SECTION, keys[i].name);

		if (!s)
			s = winner(c, DEFAULT_SECTION, keys[i].name);
		if (s && (err = set_val(&c->vals[i], s->value, &s->where)))
			goto fail;
	}
	*out = c;
	return 0;
fail:
	config__free(c);
	return err;
}

int config__set_flag(struct config *c, const char *key, const char *value, const char *flag)
{
	struct cfg_where w = { .origin = CFG_FLAG };
	int i = key ? key_index(key) : -1;

	if (i < 0 || !value || check_known(&keys[i], value, flag ? flag : "flag", NULL, 0))
		return -EINVAL;
	snprintf(w.text, sizeof(w.text), "%s", flag ? flag : "flag");
	return set_val(&c->vals[i], value, &w);
}

const char *config__get(const struct config *c, const char *key, struct cfg_where *where)
{
	int i = key ? key_index(key) : -1;

	if (i < 0) {
		errno = EINVAL;
		return NULL;
	}
	if (where)
		*where = c->vals[i].where;
	return c->vals[i].text;
}

/* The trimmed text of a set, non-empty value, or an error code; *k set. */
static int typed_text(const struct config *c, const char *key, const struct cfg_key **k,
		      char **t, char *errbuf, int errlen)
{
	int i = key ? key_index(key) : -1;

	if (i < 0) {
		errf(errbuf, errlen, "unknown key '%s'", key ? key : "(null)");
		return -EINVAL;
	}
	*k = &keys[i];
	if (!c->vals[i].text)
		return -ENOENT;
	*t = dup_trim(c->vals[i].text);
	if (!*t)
		return -ENOMEM;
	if (!**t) {
		free(*t);
		return -ENOENT;
	}
	return 0;
}

/* A typed getter: the key's text through parse, or one message naming where it came from. */
static int get_typed(const struct config *c, const char *key, int (*parse)(const char *, void *),
		     void *out, const char *what, char *errbuf, int errlen)
{
	const struct cfg_key *k;
	char *t;
	int err = typed_text(c, key, &k, &t, errbuf, errlen);

	if (err)
		return err;
	err = parse(t, out);
	if (err)
		errf(errbuf, errlen, "%s: key '%s': '%s' is not %s", c->vals[k - keys].where.text,
		     k->name, t, what);
	free(t);
	return err;
}

static int parse_bool_any(const char *s, void *out)
{
	return parse_bool(s, out);
}

static int parse_double_any(const char *s, void *out)
{
	return parse_double(s, out);
}

static int parse_long_any(const char *s, void *out)
{
	return parse_long(s, out);
}

int config__get_bool(const struct config *c, const char *key, bool *out, char *errbuf, int errlen)
{
	return get_typed(c, key, parse_bool_any, out, "a boolean (true/false/yes/no/1/0)", errbuf, errlen);
}

int config__get_double(const struct config *c, const char *key, double *out, char *errbuf, int errlen)
{
	return get_typed(c, key, parse_double_any, out, "a number", errbuf, errlen);
}

int config__get_int(const struct config *c, const char *key, long *out, char *errbuf, int errlen)
{
	return get_typed(c, key, parse_long_any, out, "an integer", errbuf, errlen);
}

int config__sections(const struct config *c, config_section_fn fn, void *arg)
{
	for (size_t i = 0; i < c->nwin; i++) {
		const struct src *s = &c->srcs[c->win[i]];
		int ret;

		if (!strcmp(s->section, CC_SECTION) || !strcmp(s->section, DEFAULT_SECTION))
			continue;
		ret = fn(s->section, s->key, s->value, &s->where, arg);
		if (ret)
			return ret;
	}
	return 0;
}

void config__format_value(const struct cfg_key *k, const char *value, char *buf, size_t len)
{
	size_t n;

	if (!len)
		return;
	if (!value) {
		snprintf(buf, len, "(unset)");
		return;
	}
	if (!*value) {
		snprintf(buf, len, "\"\"");
		return;
	}
	n = strlen(value);
	if (k && (k->flags & CFG_F_SECRET))
		snprintf(buf, len, "****%s", n > 4 ? value + n - 4 : "");
	else
		snprintf(buf, len, "%s", value);
}

void config__free(struct config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < NKEYS; i++)
		free(c->vals[i].text);
	for (size_t i = 0; i < c->nsrc; i++) {
		free(c->srcs[i].section);
		free(c->srcs[i].key);
		free(c->srcs[i].raw);
		free(c->srcs[i].value);
	}
	free(c->srcs);
	free(c->win);
	free(c);
}

/* ---- editing ---- */

/* Appends "key = value" and the line end (escaped value; "key =" when it is empty). */
static int add_key_line(struct sbuf *b, const char *key, const struct sbuf *esc, const char *eol)
{
	int err = sb_add(b, key, strlen(key));

	if (!err)
		err = sb_add(b, esc->len ? " = " : " =", esc->len ? 3 : 2);
	if (!err)
		err = sb_add(b, esc->p, esc->len);
	if (!err)
		err = sb_add(b, eol, strlen(eol));
	return err;
}

/* The line ending of the line ending at `end`, or the file's first one, or "\n". */
static const char *eol_at(const char *text, size_t len, size_t end)
{
	if (end < len)
		return text[end] == '\n' ? "\n" : (end + 1 < len && text[end + 1] == '\n') ? "\r\n" : "\r";
	for (size_t i = 0; i < len; i++)
		if (text[i] == '\n' || text[i] == '\r')
			return eol_at(text, len, i);
	return "\n";
}

int config__edit_text(const char *text, size_t len, const char *name, const char *key,
		      const char *value, char **out, size_t *out_len, char *errbuf, int errlen)
{
	const struct ini_item *found = NULL, *last = NULL;
	const struct ini_section *sec = NULL;
	const struct cfg_key *k;
	struct sbuf esc = { 0 }, b = { 0 };
	struct ini ini;
	size_t vlen = strlen(value);
	int err;

	*out = NULL;
	err = config__check_value(key, value, "--set", errbuf, errlen);
	if (err)
		return err;
	k = config_key_find(key);
	if (strpbrk(value, "\r\n") || (vlen && (isspace((unsigned char)value[0]) ||
						isspace((unsigned char)value[vlen - 1])))) {
		errf(errbuf, errlen,
		     "--set: key '%s': a value with line breaks or surrounding spaces cannot be stored",
		     k->name);
		return -EINVAL;
	}
	err = ini_parse(text, len, name, &ini, errbuf, errlen);
	if (err)
		return err;
	for (const char *p = value; *p; p++)
		if ((err = sb_add(&esc, p, 1)) || (*p == '%' && (err = sb_add(&esc, "%", 1))))
			goto out;
	if (!esc.p && (err = sb_add(&esc, "", 0)))
		goto out;
	for (size_t i = 0; i < ini.nsec; i++)
		if (!strcmp(ini.secs[i].name, CC_SECTION))
			sec = &ini.secs[i];
	for (size_t i = 0; i < ini.n; i++) {
		if (strcmp(ini.items[i].section, CC_SECTION))
			continue;
		last = &ini.items[i];
		if (!strcmp(ini.items[i].key, k->name))
			found = last;
	}
	if (found) {
		size_t at = found->value_off;
		/* "key =" with no value: keep one space between delimiter and value. */
		bool space = vlen && at == found->value_end && at > 0 &&
			     (text[at - 1] == '=' || text[at - 1] == ':');

		err = sb_add(&b, text, at);
		if (!err && space)
			err = sb_add(&b, " ", 1);
		if (!err)
			err = sb_add(&b, esc.p, esc.len);
		if (!err)
			err = sb_add(&b, text + found->value_end, len - found->value_end);
	} else if (sec) {
		size_t end = last ? last->line_end : 0, at = last ? last->next_line : sec->next_line;
		const char *eol;

		if (!last) {
			/* The header's own line end: it is just before next_line. */
			end = at;
			while (end > 0 && (text[end - 1] == '\n' || text[end - 1] == '\r'))
				end--;
		}
		eol = eol_at(text, len, end);
		err = sb_add(&b, text, at);
		if (!err && at == end)
			err = sb_add(&b, eol, strlen(eol));
		if (!err)
			err = add_key_line(&b, k->name, &esc, eol);
		if (!err)
			err = sb_add(&b, text + at, len - at);
	} else {
		const char *eol = eol_at(text, len, len);
		bool content = false;

		for (size_t i = bom_len(text, len); i < len; i++)
			if (!isspace((unsigned char)text[i]))
				content = true;
		err = sb_add(&b, text, len);
		if (!err && len && text[len - 1] != '\n' && text[len - 1] != '\r')
			err = sb_add(&b, eol, strlen(eol));
		if (!err && content)
			err = sb_add(&b, eol, strlen(eol));
		if (!err)
			err = sb_add(&b, "[" CC_SECTION "]", strlen(CC_SECTION) + 2);
		if (!err)
			err = sb_add(&b, eol, strlen(eol));
		if (!err)
			err = add_key_line(&b, k->name, &esc, eol);
	}
	if (err)
		goto out;
	*out = b.p;
	*out_len = b.len;
	b.p = NULL;
out:
	free(esc.p);
	free(b.p);
	ini_free(&ini);
	return err;
}

int config__write_key(const char *path, const char *key, const char *value, char *errbuf,
		      int errlen)
{
	char real[PATH_MAX], *tmp = NULL, *text = NULL, *out = NULL;
	size_t len = 0, out_len = 0;
	bool exists = true;
	struct stat st;
	int err, fd = -1;

	/* Write through a symlink to its target rather than replacing the link. */
	if (realpath(path, real))
		path = real;
	err = read_file(path, &text, &len, &st);
	if (err == -ENOENT) {
		exists = false;
		err = 0;
	}
	if (err) {
		errf(errbuf, errlen, "%s: cannot read: %s", path, strerror(-err));
		return err;
	}
	err = config__edit_text(text ? text : "", len, path, key, value, &out, &out_len, errbuf,
				errlen);
	if (err)
		goto out;
	if (asprintf(&tmp, "%s.XXXXXX", path) < 0) {
		tmp = NULL;
		err = -ENOMEM;
		goto out;
	}
	fd = mkostemp(tmp, O_CLOEXEC); /* created 0600 */
	if (fd < 0) {
		err = -errno;
		errf(errbuf, errlen, "%s: cannot create a temporary file: %s", tmp, strerror(-err));
		free(tmp);
		tmp = NULL;
		goto out;
	}
	if (exists) {
		if (fchmod(fd, st.st_mode & 07777)) {
			err = -errno;
			errf(errbuf, errlen, "%s: cannot set mode: %s", tmp, strerror(-err));
			goto out;
		}
		/* Keep the owner when root edits someone's file; harmless if not permitted. */
		if (fchown(fd, st.st_uid, st.st_gid))
			(void)0;
	}
	err = write_all(fd, out, out_len);
	if (!err && fsync(fd))
		err = -errno;
	if (!err && close(fd))
		err = -errno;
	fd = -1;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err)
		errf(errbuf, errlen, "%s: cannot write: %s", path, strerror(-err));
out:
	if (fd >= 0)
		close(fd);
	if (err && tmp)
		unlink(tmp);
	free(tmp);
	free(text);
	free(out);
	return err;
}
