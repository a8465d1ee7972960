/* Unit tests of the CodeCarbon-compatible configuration (user/config.c, user/cmd_config.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "commands.h"
#include "config.h"
#include "tree.h"

extern char **environ;

static char tmp[256];  /* per-test scratch directory */
static char home[300]; /* $HOME during the tests */
static char oldcwd[4096];

static int setup(void **state)
{
	(void)state;
	snprintf(tmp, sizeof(tmp), "/tmp/cb_test_config.XXXXXX");
	if (!mkdtemp(tmp))
		return -1;
	snprintf(home, sizeof(home), "%s/home", tmp);
	if (mkdir(home, 0700))
		return -1;
	/* Never the real ~/.codecarbon.config, nor a CODECARBON_* of the caller's shell. */
	setenv("HOME", home, 1);
	for (int again = 1; again;) {
		again = 0;
		for (char **e = environ; *e; e++) {
			if (!strncasecmp(*e, "codecarbon_", 11)) {
				char name[256];

				snprintf(name, sizeof(name), "%.*s", (int)(strcspn(*e, "=")), *e);
				unsetenv(name);
				again = 1;
				break;
			}
		}
	}
	if (!getcwd(oldcwd, sizeof(oldcwd)) || chdir(tmp))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (chdir(oldcwd))
		return -1;
	return tree_remove(tmp);
}

static void path_in(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmp, name);
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = calloc(1, 65536);
	size_t n;

	assert_non_null(f);
	assert_non_null(buf);
	n = fread(buf, 1, 65535, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* ---- precedence ---- */

#define L_GLOBAL 1u
#define L_LOCAL 2u
#define L_ENV 4u
#define L_FLAG 8u

/* The winner is the highest layer set: default < global < local < env < flag (CODECARBON.md 4). */
static const struct {
	unsigned layers;
	const char *project_name;
	enum cfg_origin origin;
	double measure_power_secs;
} prec[16] = {
	{ 0, "codecarbon", CFG_DEFAULT, 15 },
	{ L_GLOBAL, "from_global", CFG_GLOBAL_FILE, 20 },
	{ L_LOCAL, "from_local", CFG_LOCAL_FILE, 30 },
	{ L_GLOBAL | L_LOCAL, "from_local", CFG_LOCAL_FILE, 30 },
	{ L_ENV, "from_env", CFG_ENV, 40 },
	{ L_GLOBAL | L_ENV, "from_env", CFG_ENV, 40 },
	{ L_LOCAL | L_ENV, "from_env", CFG_ENV, 40 },
	{ L_GLOBAL | L_LOCAL | L_ENV, "from_env", CFG_ENV, 40 },
	{ L_FLAG, "from_flag", CFG_FLAG, 50 },
	{ L_GLOBAL | L_FLAG, "from_flag", CFG_FLAG, 50 },
	{ L_LOCAL | L_FLAG, "from_flag", CFG_FLAG, 50 },
	{ L_GLOBAL | L_LOCAL | L_FLAG, "from_flag", CFG_FLAG, 50 },
	{ L_ENV | L_FLAG, "from_flag", CFG_FLAG, 50 },
	{ L_GLOBAL | L_ENV | L_FLAG, "from_flag", CFG_FLAG, 50 },
	{ L_LOCAL | L_ENV | L_FLAG, "from_flag", CFG_FLAG, 50 },
	{ L_GLOBAL | L_LOCAL | L_ENV | L_FLAG, "from_flag", CFG_FLAG, 50 },
};

static void precedence_every_combination(void **state)
{
	char gpath[512], lpath[512], missing[512], err[512], want[600];

	(void)state;
	path_in(gpath, sizeof(gpath), "global.config");
	path_in(lpath, sizeof(lpath), "local.config");
	path_in(missing, sizeof(missing), "does-not-exist.config");
	write_text(gpath, "[codecarbon]\nproject_name = from_global\nmeasure_power_secs = 20\n");
	write_text(lpath, "[codecarbon]\nmeasure_power_secs: 30\nproject_name: from_local\n");

	for (size_t i = 0; i < 16; i++) {
		char *envp[4] = { "PATH=/usr/bin", NULL, NULL, NULL };
		unsigned l = prec[i].layers;
		struct cfg_where where;
		struct config *c;
		double mps = -1;

		if (l & L_ENV) {
			envp[1] = "CODECARBON_PROJECT_NAME=from_env";
			envp[2] = "CODECARBON_MEASURE_POWER_SECS=40";
		}
		assert_int_equal(config__load(&c, (l & L_GLOBAL) ? gpath : missing,
					      (l & L_LOCAL) ? lpath : missing, envp, err, sizeof(err)),
				 0);
		if (l & L_FLAG) {
			assert_int_equal(config__set_flag(c, "project_name", "from_flag", "--project-name"), 0);
			assert_int_equal(config__set_flag(c, "MEASURE_POWER_SECS", "50", "--measure-power-secs"), 0);
		}
		assert_string_equal(config__get(c, "project_name", &where), prec[i].project_name);
		assert_int_equal(where.origin, prec[i].origin);
		switch (prec[i].origin) {
		case CFG_DEFAULT:
			snprintf(want, sizeof(want), "default");
			break;
		case CFG_GLOBAL_FILE:
			snprintf(want, sizeof(want), "%s:2", gpath);
			break;
		case CFG_LOCAL_FILE:
			snprintf(want, sizeof(want), "%s:3", lpath);
			break;
		case CFG_ENV:
			snprintf(want, sizeof(want), "env CODECARBON_PROJECT_NAME");
			break;
		case CFG_FLAG:
			snprintf(want, sizeof(want), "--project-name");
			break;
		}
		assert_string_equal(where.text, want);
		assert_int_equal(config__get_double(c, "measure_power_secs", &mps, err, sizeof(err)), 0);
		assert_true(mps == prec[i].measure_power_secs);
		config__free(c);
	}
}

/* configparser merges both files: a [codecarbon] key beats a [DEFAULT] one of a later file. */
static void default_section_is_a_fallback(void **state)
{
	char gpath[512], lpath[512], err[512];
	char *envp[] = { NULL };
	struct cfg_where where;
	struct config *c;
	double v;

	(void)state;
	path_in(gpath, sizeof(gpath), "g.config");
	path_in(lpath, sizeof(lpath), "l.config");
	write_text(gpath, "[codecarbon]\npue = 1.2\n");
	write_text(lpath, "[DEFAULT]\npue = 1.5\nwue = 0.5\n[codecarbon]\n");
	assert_int_equal(config__load(&c, gpath, lpath, envp, err, sizeof(err)), 0);
	assert_int_equal(config__get_double(c, "pue", &v, err, sizeof(err)), 0);
	assert_true(v == 1.2);
	assert_int_equal(config__get_double(c, "wue", &v, err, sizeof(err)), 0);
	assert_true(v == 0.5);
	assert_non_null(config__get(c, "wue", &where));
	assert_int_equal(where.origin, CFG_LOCAL_FILE);
	config__free(c);
}

/* ---- parsing ---- */

struct seen {
	int n;
	char text[512];
};

static int collect(const char *section, const char *key, const char *value,
		   const struct cfg_where *where, void *arg)
{
	struct seen *s = arg;
	size_t l = strlen(s->text);

	s->n++;
	snprintf(s->text + l, sizeof(s->text) - l, "[%s] %s=%s @%s;", section, key, value,
		 strrchr(where->text, ':'));
	return 0;
}

static void parses_crlf_bom_comments_capitals_percent_empty(void **state)
{
	char lpath[512], missing[512], err[512], want[600];
	char *envp[] = { NULL };
	struct cfg_where where;
	struct seen seen = { 0 };
	struct config *c;
	bool b = true;
	double d;

	(void)state;
	path_in(lpath, sizeof(lpath), "crlf.config");
	path_in(missing, sizeof(missing), "none.config");
	write_text(lpath, "\xEF\xBB\xBF# a comment\r\n"
			  "; another comment\r\n"
			  "[codecarbon]\r\n"
			  "PROJECT_NAME = Big Project  \r\n"
			  "Api_Endpoint: http://localhost:8000\r\n"
			  "logger_preamble =\r\n"
			  "output_file = run_100%%.csv\r\n"
			  "    # indented comment\r\n"
			  "SAVE_TO_API = YES\r\n"
			  "force_cpu_power =\r\n"
			  "experiment_name = %(project_name)s v2\r\n"
			  "\r\n"
			  "[scope build]\r\n"
			  "Comm = make\r\n");
	assert_int_equal(config__load(&c, missing, lpath, envp, err, sizeof(err)), 0);
	assert_string_equal(config__get(c, "project_name", &where), "Big Project");
	snprintf(want, sizeof(want), "%s:4", lpath);
	assert_string_equal(where.text, want);
	assert_string_equal(config__get(c, "api_endpoint", NULL), "http://localhost:8000");
	assert_string_equal(config__get(c, "logger_preamble", &where), "");
	assert_int_equal(where.origin, CFG_LOCAL_FILE);
	assert_string_equal(config__get(c, "output_file", &where), "run_100%.csv");
	snprintf(want, sizeof(want), "%s:7", lpath);
	assert_string_equal(where.text, want);
	assert_int_equal(config__get_bool(c, "save_to_api", &b, err, sizeof(err)), 0);
	assert_true(b);
	/* An empty number is unset, like CodeCarbon's failed float(""). */
	assert_string_equal(config__get(c, "force_cpu_power", NULL), "");
	assert_int_equal(config__get_double(c, "force_cpu_power", &d, err, sizeof(err)), -ENOENT);
	assert_string_equal(config__get(c, "experiment_name", NULL), "Big Project v2");
	assert_int_equal(config__sections(c, collect, &seen), 0);
	assert_int_equal(seen.n, 1);
	assert_string_equal(seen.text, "[scope build] comm=make @:14;");
	config__free(c);
}

static void parses_environment(void **state)
{
	char missing[512], err[512];
	char *envp[] = { "codecarbon_api_call_interval=-1", "CodeCarbon_Output_File=50%%.csv",
			 "CODECARBON_LOGGER_PREAMBLE=", "NOTCODECARBON_X=1", "HOME=/nonexistent", NULL };
	struct cfg_where where;
	struct config *c;
	long v = 0;

	(void)state;
	path_in(missing, sizeof(missing), "none.config");
	assert_int_equal(config__load(&c, missing, missing, envp, err, sizeof(err)), 0);
	assert_int_equal(config__get_int(c, "api_call_interval", &v, err, sizeof(err)), 0);
	assert_int_equal(v, -1);
	assert_string_equal(config__get(c, "output_file", &where), "50%.csv");
	assert_string_equal(where.text, "env CodeCarbon_Output_File");
	assert_int_equal(where.origin, CFG_ENV);
	assert_string_equal(config__get(c, "logger_preamble", &where), "");
	assert_int_equal(where.origin, CFG_ENV);
	config__free(c);
}

static void typed_defaults(void **state)
{
	char missing[512], err[512];
	char *envp[] = { NULL };
	struct config *c;
	bool b;
	double d;
	long l;

	(void)state;
	path_in(missing, sizeof(missing), "none.config");
	assert_int_equal(config__load(&c, missing, missing, envp, err, sizeof(err)), 0);
	assert_int_equal(config__get_bool(c, "save_to_file", &b, err, sizeof(err)), 0);
	assert_true(b);
	assert_int_equal(config__get_bool(c, "save_to_api", &b, err, sizeof(err)), 0);
	assert_false(b);
	assert_int_equal(config__get_bool(c, "allow_multiple_runs", &b, err, sizeof(err)), 0);
	assert_true(b);
	assert_int_equal(config__get_int(c, "api_call_interval", &l, err, sizeof(err)), 0);
	assert_int_equal(l, 8);
	assert_int_equal(config__get_int(c, "api_timeout_secs", &l, err, sizeof(err)), 0);
	assert_int_equal(l, 2);
	assert_int_equal(config__get_double(c, "measure_power_secs", &d, err, sizeof(err)), 0);
	assert_true(d == 15.0);
	assert_int_equal(config__get_double(c, "pue", &d, err, sizeof(err)), 0);
	assert_true(d == 1.0);
	assert_int_equal(config__get_double(c, "wue", &d, err, sizeof(err)), 0);
	assert_true(d == 0.0);
	assert_int_equal(config__get_double(c, "force_carbon_intensity_g_co2e_kwh", &d, err, sizeof(err)),
			 -ENOENT);
	assert_null(config__get(c, "output_methods", NULL));
	assert_string_equal(config__get(c, "idle_policy", NULL), "busy");
	assert_string_equal(config__get(c, "api_key", NULL), "api_key");
	assert_string_equal(config__get(c, "experiment_id", NULL), "5b0fa12a-3dd7-45bb-9766-cc326314d9f1");
	assert_string_equal(config__get(c, "api_endpoint", NULL), "https://api.codecarbon.io");
	assert_string_equal(config__get(c, "prometheus_url", NULL), "localhost:9091");
	assert_string_equal(config__get(c, "spool_dir", NULL), "/var/lib/carbonbpf/spool");
	assert_int_equal(config__get_bool(c, "no_such_key", &b, err, sizeof(err)), -EINVAL);
	config__free(c);
}

static void booleans_in_any_case(void **state)
{
	static const struct {
		const char *text;
		bool want;
	} cases[] = { { "true", true }, { "TRUE", true }, { "Yes", true }, { "1", true },
		      { "false", false }, { "No", false }, { "0", false }, { "FaLsE", false } };
	char missing[512], err[512], env[64];

	(void)state;
	path_in(missing, sizeof(missing), "none.config");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *envp[] = { env, NULL };
		struct config *c;
		bool b = !cases[i].want;

		snprintf(env, sizeof(env), "CODECARBON_RAPL_INCLUDE_DRAM=%s", cases[i].text);
		assert_int_equal(config__load(&c, missing, missing, envp, err, sizeof(err)), 0);
		assert_int_equal(config__get_bool(c, "rapl_include_dram", &b, err, sizeof(err)), 0);
		assert_int_equal(b, cases[i].want);
		config__free(c);
	}
}

/* Each bad input: -EINVAL and one line naming where, with every `want` fragment in it. */
static const struct {
	const char *text; /* local file; NULL: none */
	const char *env[3];
	const char *want[3];
} bad[] = {
	{ "pue = 1.2\n[codecarbon]\n", { 0 }, { ":1:", "missing section header", "'pue'" } },
	{ "[codecarbon]\npue = 1\n# c\nPUE = 2\n", { 0 }, { ":4:", "duplicate key 'pue'", "line 2" } },
	{ "[codecarbon]\rpue = 1\rpue = 2\r", { 0 }, { ":3:", "duplicate key 'pue'", "line 2" } },
	{ "[codecarbon]\r\n\r\nsave_to_api = maybe\r\n", { 0 }, { ":3:", "'save_to_api'", "'maybe'" } },
	{ "[codecarbon]\nproject_name = x\nmeasure_power_secs = fast\n", { 0 },
	  { ":3:", "'measure_power_secs'", "not a number" } },
	{ "[codecarbon]\napi_call_interval = 8.5\n", { 0 }, { ":2:", "'api_call_interval'", "integer" } },
	{ "[codecarbon]\nexperiment-id = 123\n", { 0 }, { ":2:", "'experiment-id'", "did you mean experiment_id" } },
	{ "[codecarbon]\noutput_file = 100%.csv\n", { 0 }, { ":2:", "'output_file'", "'%' must be followed" } },
	{ "[codecarbon]\nexperiment_name = %(nothing)s\n", { 0 }, { ":2:", "'experiment_name'", "nothing" } },
	{ "[codecarbon]\nidle_policy = lazy\n", { 0 }, { ":2:", "'idle_policy'", "busy|capacity" } },
	{ "[codecarbon]\nmeasure_power_secs = 0\n", { 0 }, { ":2:", "'measure_power_secs'", "greater than 0" } },
	{ "[codecarbon]\npue = -1\n", { 0 }, { ":2:", "'pue'", "negative" } },
	{ "[codecarbon]\noutput_methods = csv, pigeon\n", { 0 }, { ":2:", "'output_methods'", "pigeon" } },
	{ "[codecarbon]\nproject_name = a\n  b\n", { 0 }, { ":3:", "'project_name'", "line 2" } },
	{ "[CodeCarbon]\npue = 1\n", { 0 }, { ":1:", "[CodeCarbon]", "case-sensitive" } },
	{ "[codecarbon]\n[codecarbon]\n", { 0 }, { ":2:", "duplicate section", "line 1" } },
	{ "[codecarbon]\njust words\n", { 0 }, { ":2:", "expected 'key = value'", "just words" } },
	{ "[DEFAULT]\nexperimentid = x\n[codecarbon]\n", { 0 }, { ":2:", "'experimentid'", "experiment_id" } },
	{ NULL, { "CODECARBON_EXPERIMENTID=x" }, { "env CODECARBON_EXPERIMENTID", "did you mean experiment_id" } },
	{ NULL, { "CODECARBON_PUE=high" }, { "env CODECARBON_PUE", "'pue'", "not a number" } },
	{ NULL, { "CODECARBON_SAVE_TO_FILE=maybe" }, { "env CODECARBON_SAVE_TO_FILE", "'maybe'" } },
	{ NULL, { "CODECARBON_PUE=1", "codecarbon_pue=2" }, { "env codecarbon_pue", "CODECARBON_PUE" } },
	{ NULL, { "CODECARBON_OUTPUT_FILE=5%.csv" }, { "env CODECARBON_OUTPUT_FILE", "'%' must be followed" } },
};

static void rejects_bad_input_naming_the_line(void **state)
{
	char lpath[512], missing[512], err[512];

	(void)state;
	path_in(lpath, sizeof(lpath), "bad.config");
	path_in(missing, sizeof(missing), "none.config");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *envp[4] = { 0 };
		struct config *c = (struct config *)&c;

		for (int j = 0; j < 3; j++)
			envp[j] = (char *)bad[i].env[j];
		if (bad[i].text)
			write_text(lpath, bad[i].text);
		err[0] = '\0';
		assert_int_equal(config__load(&c, missing, bad[i].text ? lpath : missing, envp, err,
					      sizeof(err)),
				 -EINVAL);
		assert_null(c);
		if (bad[i].text)
			assert_non_null(strstr(err, lpath));
		assert_null(strchr(err, '\n'));
		for (int j = 0; j < 3 && bad[i].want[j]; j++) {
			if (!strstr(err, bad[i].want[j]))
				fail_msg("case %zu: '%s' not in '%s'", i, bad[i].want[j], err);
		}
	}
}

static void flags_are_validated(void **state)
{
	char missing[512], err[512];
	char *envp[] = { NULL };
	struct config *c;

	(void)state;
	path_in(missing, sizeof(missing), "none.config");
	assert_int_equal(config__load(&c, missing, missing, envp, err, sizeof(err)), 0);
	assert_int_equal(config__set_flag(c, "experiment-id", "x", "--experiment-id"), -EINVAL);
	assert_int_equal(config__set_flag(c, "pue", "abc", "--pue"), -EINVAL);
	assert_string_equal(config__get(c, "pue", NULL), "1.0");
	/* Flags are literal: no `%` unescaping. */
	assert_int_equal(config__set_flag(c, "output_file", "5%.csv", "--output-file"), 0);
	assert_string_equal(config__get(c, "output_file", NULL), "5%.csv");
	config__free(c);
	assert_int_equal(config__check_value("pue", "abc", "--pue", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "--pue: key 'pue': 'abc' is not a number");
	assert_int_equal(config__check_value("api_timeout_secs", "10", "--x", err, sizeof(err)), 0);
}

/* ---- key table ---- */

static void key_table_covers_codecarbon(void **state)
{
	/* CODECARBON.md section 4, typed in by hand, with the defaults it gives. */
	static const char *const cc[][2] = {
		{ "experiment_id", "5b0fa12a-3dd7-45bb-9766-cc326314d9f1" },
		{ "api_endpoint", "https://api.codecarbon.io" }, { "api_key", "api_key" },
		{ "output_methods", NULL }, { "save_to_file", "true" }, { "save_to_api", "false" },
		{ "save_to_logger", "false" }, { "save_to_prometheus", "false" },
		{ "save_to_logfire", "false" }, { "emissions_endpoint", NULL }, { "output_dir", "." },
		{ "output_file", "emissions.csv" }, { "on_csv_write", "append" },
		{ "measure_power_secs", "15" }, { "api_call_interval", "8" },
		{ "project_name", "codecarbon" }, { "experiment_name", "base" },
		{ "tracking_mode", "machine" }, { "log_level", "info" }, { "logger_preamble", "" },
		{ "gpu_ids", NULL }, { "force_cpu_power", NULL }, { "force_ram_power", NULL },
		{ "force_mode_cpu_load", "false" }, { "force_carbon_intensity_g_co2e_kwh", NULL },
		{ "pue", "1.0" }, { "wue", "0" }, { "electricitymaps_api_token", NULL },
		{ "co2_signal_api_token", NULL }, { "allow_multiple_runs", "true" },
		{ "rapl_include_dram", "false" }, { "rapl_prefer_psys", "false" },
		{ "prometheus_url", "localhost:9091" }, { "country_iso_code", NULL }, { "region", NULL },
		{ "cloud_provider", NULL }, { "cloud_region", NULL }, { "country_2letter_iso_code", NULL },
		{ "organization_id", NULL }, { "project_id", NULL },
		/* carbonbpf's own. */
		{ "idle_policy", "busy" }, { "processes_file", "processes.csv" }, { "sysfs_root", "/sys" },
		{ "procfs_root", "/proc" }, { "spool_dir", "/var/lib/carbonbpf/spool" },
		{ "api_ca_file", NULL }, { "api_timeout_secs", "2" },
		{ "electricitymaps_api_endpoint", "https://api.electricitymaps.com" },
		{ "carbon_data_file", NULL },
	};
	const size_t ncc = sizeof(cc) / sizeof(cc[0]);
	const struct cfg_key *keys;
	size_t n;

	(void)state;
	keys = config_keys(&n);
	assert_int_equal(n, ncc);
	for (size_t i = 0; i < ncc; i++) {
		const struct cfg_key *k = config_key_find(cc[i][0]);

		assert_non_null(k);
		if (cc[i][1])
			assert_string_equal(k->def, cc[i][1]);
		else
			assert_null(k->def);
	}
	for (size_t i = 0; i < n; i++) {
		char err[256];

		for (size_t j = i + 1; j < n; j++)
			assert_string_not_equal(keys[i].name, keys[j].name);
		if (keys[i].def)
			assert_int_equal(config__check_value(keys[i].name, keys[i].def, "default", err,
							     sizeof(err)),
					 0);
	}
	assert_ptr_equal(config_key_find("API_KEY"), config_key_find("api_key"));
	assert_true(config_key_find("api_key")->flags & CFG_F_SECRET);
	assert_true(config_key_find("electricitymaps_api_token")->flags & CFG_F_SECRET);
	assert_true(config_key_find("co2_signal_api_token")->flags & CFG_F_SECRET);
	assert_false(config_key_find("gpu_ids")->flags & CFG_F_USED);
}

static void suggestions_and_masking(void **state)
{
	const struct cfg_key *api_key = config_key_find("api_key");
	char buf[64];

	(void)state;
	assert_string_equal(config_key_suggest("experiment-id"), "experiment_id");
	assert_string_equal(config_key_suggest("mesure_power_secs"), "measure_power_secs");
	assert_string_equal(config_key_suggest("Rapl-Include-Dram"), "rapl_include_dram");
	assert_null(config_key_suggest("colour"));

	config__format_value(api_key, "cpt_0123456789abcd", buf, sizeof(buf));
	assert_string_equal(buf, "****abcd");
	config__format_value(api_key, "abc", buf, sizeof(buf));
	assert_string_equal(buf, "****");
	config__format_value(api_key, NULL, buf, sizeof(buf));
	assert_string_equal(buf, "(unset)");
	config__format_value(config_key_find("project_name"), "", buf, sizeof(buf));
	assert_string_equal(buf, "\"\"");
	config__format_value(config_key_find("project_name"), "demo", buf, sizeof(buf));
	assert_string_equal(buf, "demo");
}

/* ---- editing ---- */

static const char commented[] = "# global settings\r\n"
				"[codecarbon]\r\n"
				"; the token\r\n"
				"API_KEY = cpt_old\r\n"
				"project_name: demo   \r\n"
				"\r\n"
				"[scope web]\r\n"
				"comm = nginx\r\n";

static void edit(const char *in, const char *key, const char *value, const char *want)
{
	char err[512], *out = NULL;
	size_t len = 0;

	assert_int_equal(config__edit_text(in, strlen(in), "t", key, value, &out, &len, err, sizeof(err)), 0);
	assert_int_equal(len, strlen(want));
	assert_string_equal(out, want);
	free(out);
}

static void edit_text_keeps_every_other_byte(void **state)
{
	(void)state;
	edit(commented, "api_key", "cpt_new",
	     "# global settings\r\n[codecarbon]\r\n; the token\r\nAPI_KEY = cpt_new\r\n"
	     "project_name: demo   \r\n\r\n[scope web]\r\ncomm = nginx\r\n");
	edit(commented, "Project_Name", "x",
	     "# global settings\r\n[codecarbon]\r\n; the token\r\nAPI_KEY = cpt_old\r\n"
	     "project_name: x   \r\n\r\n[scope web]\r\ncomm = nginx\r\n");
	edit(commented, "pue", "1.2",
	     "# global settings\r\n[codecarbon]\r\n; the token\r\nAPI_KEY = cpt_old\r\n"
	     "project_name: demo   \r\npue = 1.2\r\n\r\n[scope web]\r\ncomm = nginx\r\n");
	edit(commented, "output_file", "100%.csv",
	     "# global settings\r\n[codecarbon]\r\n; the token\r\nAPI_KEY = cpt_old\r\n"
	     "project_name: demo   \r\noutput_file = 100%%.csv\r\n\r\n[scope web]\r\ncomm = nginx\r\n");
	edit("", "pue", "1.2", "[codecarbon]\npue = 1.2\n");
	edit("[codecarbon]", "pue", "1.2", "[codecarbon]\npue = 1.2\n");
	edit("[codecarbon]\npue =\n", "pue", "1.3", "[codecarbon]\npue = 1.3\n");
	edit("[codecarbon]\npue = 1.3\n", "pue", "", "[codecarbon]\npue = \n");
	edit("[other]\nx = 1", "pue", "1.2", "[other]\nx = 1\n\n[codecarbon]\npue = 1.2\n");
	edit("[codecarbon]\nwue = 1\n[other]\npue = 9\n", "pue", "1.2",
	     "[codecarbon]\nwue = 1\npue = 1.2\n[other]\npue = 9\n");
}

static void edit_text_rejects(void **state)
{
	char err[512], *out = NULL;
	size_t len;

	(void)state;
	assert_int_equal(config__edit_text("", 0, "t", "experiment-id", "x", &out, &len, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "did you mean experiment_id"));
	assert_int_equal(config__edit_text("", 0, "t", "save_to_api", "maybe", &out, &len, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "'maybe'"));
	assert_int_equal(config__edit_text("", 0, "t", "project_name", " x", &out, &len, err, sizeof(err)), -EINVAL);
	assert_int_equal(config__edit_text("pue = 1\n", 8, "t", "pue", "2", &out, &len, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "t:1:"));
	assert_null(out);
}

/* ---- cmd_config ---- */

static int run(int argc, const char **argv)
{
	return cmd_config(argc, (char **)argv);
}

/* Runs cmd_config with stdout sent to a file; returns the exit code, *out the text. */
static int run_captured(int argc, const char **argv, char **out)
{
	char path[512];
	int saved, fd, ret;

	path_in(path, sizeof(path), "stdout.txt");
	fflush(stdout);
	saved = dup(1);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(saved >= 0 && fd >= 0);
	assert_int_equal(dup2(fd, 1), 1);
	close(fd);
	ret = run(argc, argv);
	fflush(stdout);
	assert_int_equal(dup2(saved, 1), 1);
	close(saved);
	*out = read_text(path);
	return ret;
}

static void cmd_set_creates_file_0600(void **state)
{
	const char *argv[] = { "config", "--set", "output_file=100%.csv" };
	struct stat st;
	char *text;

	(void)state;
	assert_int_equal(run(3, argv), 0);
	assert_int_equal(stat(".codecarbon.config", &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	text = read_text(".codecarbon.config");
	assert_string_equal(text, "[codecarbon]\noutput_file = 100%%.csv\n");
	free(text);
	/* The global file was not touched. */
	assert_int_equal(access(".codecarbon.config", F_OK), 0);
	assert_int_not_equal(stat("home/.codecarbon.config", &st), 0);
}

static void cmd_set_round_trip(void **state)
{
	const char *argv[] = { "config", "--set=api_key=cpt_new" };
	const char *bad_key[] = { "config", "--set", "experiment-id=x" };
	const char *bad_val[] = { "config", "--set", "pue=lots" };
	const char *want = "# global settings\r\n[codecarbon]\r\n; the token\r\nAPI_KEY = cpt_new\r\n"
			   "project_name: demo   \r\n\r\n[scope web]\r\ncomm = nginx\r\n";
	struct config *c;
	struct stat st;
	char err[512], *text;

	(void)state;
	write_text(".codecarbon.config", commented);
	assert_int_equal(chmod(".codecarbon.config", 0640), 0);
	assert_int_equal(run(2, argv), 0);
	text = read_text(".codecarbon.config");
	assert_string_equal(text, want);
	free(text);
	assert_int_equal(stat(".codecarbon.config", &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);

	/* A bad key or value is a usage error (2), as monitor and detect say. */
	assert_int_equal(run(3, bad_key), 2);
	assert_int_equal(run(3, bad_val), 2);
	text = read_text(".codecarbon.config");
	assert_string_equal(text, want);
	free(text);

	/* What was written reads back. */
	assert_int_equal(config__load(&c, "home/.codecarbon.config", NULL, (char *[]){ NULL }, err,
				      sizeof(err)),
			 0);
	assert_string_equal(config__get(c, "api_key", NULL), "cpt_new");
	config__free(c);
}

static void cmd_set_global_uses_home(void **state)
{
	const char *argv[] = { "config", "--global", "--set", "pue=1.25" };
	char path[512], *text;
	struct stat st;

	(void)state;
	assert_int_equal(run(4, argv), 0);
	snprintf(path, sizeof(path), "%s/.codecarbon.config", home);
	text = read_text(path);
	assert_string_equal(text, "[codecarbon]\npue = 1.25\n");
	free(text);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_not_equal(access(".codecarbon.config", F_OK), 0);
}

static void cmd_usage_errors(void **state)
{
	const char *a1[] = { "config", "--bogus" };
	const char *a2[] = { "config", "--set", "no_equals_sign" };
	const char *a3[] = { "config", "--global" };
	const char *a4[] = { "config", "--set" };

	(void)state;
	assert_int_equal(run(2, a1), 2);
	assert_int_equal(run(3, a2), 2);
	assert_int_equal(run(2, a3), 2);
	assert_int_equal(run(2, a4), 2);
	assert_int_not_equal(access(".codecarbon.config", F_OK), 0);
}

static const char *line_of(const char *text, const char *key)
{
	size_t n = strlen(key);

	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, key, n) && p[n] == ' ')
			return p;
	return NULL;
}

static void cmd_prints_effective_config_masked(void **state)
{
	const char *argv[] = { "config" };
	char *out, want[600];
	const char *l;

	(void)state;
	write_text(".codecarbon.config", "[codecarbon]\nproject_name = demo\n");
	setenv("CODECARBON_API_KEY", "cpt_secretwxyz", 1);
	assert_int_equal(run_captured(1, argv, &out), 0);
	unsetenv("CODECARBON_API_KEY");
	assert_null(strstr(out, "cpt_secret"));
	l = line_of(out, "api_key");
	assert_non_null(l);
	assert_non_null(strstr(l, "****wxyz"));
	assert_true(strstr(l, "env CODECARBON_API_KEY") < strchr(l, '\n'));
	l = line_of(out, "project_name");
	assert_non_null(l);
	snprintf(want, sizeof(want), "./.codecarbon.config:2");
	assert_non_null(strstr(l, want));
	assert_true(strstr(l, want) < strchr(l, '\n'));
	l = line_of(out, "measure_power_secs");
	assert_non_null(l);
	assert_true(strstr(l, "15") && strstr(l, "default") < strchr(l, '\n'));
	assert_non_null(line_of(out, "spool_dir"));
	free(out);

	/* A bad local file: exit 2, as monitor and detect. */
	write_text(".codecarbon.config", "[codecarbon]\npue = abc\n");
	assert_int_equal(run_captured(1, argv, &out), 2);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(precedence_every_combination, setup, teardown),
		cmocka_unit_test_setup_teardown(default_section_is_a_fallback, setup, teardown),
		cmocka_unit_test_setup_teardown(parses_crlf_bom_comments_capitals_percent_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(parses_environment, setup, teardown),
		cmocka_unit_test_setup_teardown(typed_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(booleans_in_any_case, setup, teardown),
		cmocka_unit_test_setup_teardown(rejects_bad_input_naming_the_line, setup, teardown),
		cmocka_unit_test_setup_teardown(flags_are_validated, setup, teardown),
		cmocka_unit_test(key_table_covers_codecarbon),
		cmocka_unit_test(suggestions_and_masking),
		cmocka_unit_test(edit_text_keeps_every_other_byte),
		cmocka_unit_test(edit_text_rejects),
		cmocka_unit_test_setup_teardown(cmd_set_creates_file_0600, setup, teardown),
		cmocka_unit_test_setup_teardown(cmd_set_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(cmd_set_global_uses_home, setup, teardown),
		cmocka_unit_test_setup_teardown(cmd_usage_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(cmd_prints_effective_config_masked, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
