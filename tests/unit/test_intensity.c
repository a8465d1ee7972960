/* Unit tests for user/intensity.c: the run's intensity from a configuration (no network). */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "carbon.h"
#include "config.h"
#include "intensity.h"

/*
 * Expected figures come from the public reference files, worked out by hand:
 * global_energy_mix.json FRA carbon_intensity 56.039 (2023), DEU 380.95;
 * carbon_intensity_per_source.json world_average 475;
 * data files below are made up here, so their figures are ours.
 */

static char dir[] = "/tmp/cb-intensity-XXXXXX";
static char missing_cfg[300];

static void assert_close(double got, double want, double tol)
{
	if (fabs(got - want) > tol)
		fail_msg("got %.12g, want %.12g", got, want);
}

static void assert_contains(const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		fail_msg("\"%s\" does not contain \"%s\"", hay, needle);
}

static void assert_lacks(const char *hay, const char *needle)
{
	if (strstr(hay, needle))
		fail_msg("\"%s\" contains \"%s\"", hay, needle);
}

static char *write_file(const char *name, const char *text)
{
	char *path;
	FILE *f;

	assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	return path;
}

/* A configuration from env lines only (both files absent). */
static struct config *load_env(char **envp)
{
	struct config *c = NULL;
	char err[512] = "";
	char *empty[] = { NULL };

	if (config__load(&c, missing_cfg, missing_cfg, envp ? envp : empty, err, sizeof(err)))
		fail_msg("config__load: %s", err);
	return c;
}

/*
 * Runs intensity_from_config with stderr captured into log (what it logs), so that a
 * warning can be checked. Returns its result.
 */
static int resolve(const struct config *c, bool *flag, struct carbon_intensity *ci, char *err,
		   size_t errlen, char *log, size_t loglen)
{
	char path[320];
	int saved, fd, r;
	ssize_t got;

	snprintf(path, sizeof(path), "%s/stderr.log", dir);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(saved >= 0 && fd >= 0);
	assert_true(dup2(fd, STDERR_FILENO) >= 0);
	r = intensity_from_config(c, flag, ci, err, errlen);
	fflush(stderr);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	got = pread(fd, log, loglen - 1, 0);
	close(fd);
	assert_true(got >= 0);
	log[got] = '\0';
	return r;
}

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(dir))
		return -1;
	snprintf(missing_cfg, sizeof(missing_cfg), "%s/no-such.config", dir);
	return 0;
}

static int teardown(void **state)
{
	char cmd[400];

	(void)state;
	carbon__unload();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Country from the environment, alpha-3 and alpha-2 key. */
static void test_country_from_config(void **state)
{
	char *env3[] = { "CODECARBON_COUNTRY_ISO_CODE=FRA", NULL };
	char *env2[] = { "CODECARBON_COUNTRY_2LETTER_ISO_CODE=de", NULL };
	struct carbon_intensity ci;
	char err[512], log[4096];
	struct config *c;
	bool flag = true;

	(void)state;
	c = load_env(env3);
	assert_int_equal(resolve(c, &flag, &ci, err, sizeof(err), log, sizeof(log)), 0);
	assert_false(flag);
	assert_close(ci.g_per_kwh, 56.039, 1e-9);
	assert_int_equal(ci.origin, CARBON_ORIGIN_COUNTRY);
	assert_string_equal(ci.country_iso3, "FRA");
	assert_string_equal(log, "");
	config__free(c);

	c = load_env(env2);
	assert_int_equal(resolve(c, &flag, &ci, err, sizeof(err), log, sizeof(log)), 0);
	assert_close(ci.g_per_kwh, 380.95, 1e-9);
	assert_string_equal(ci.country_iso3, "DEU");
	config__free(c);
}

/*
 * Acceptance 3, unknown country: on the command line a clear error (the caller stops);
 * from configuration the world average 475 with a warning message.
 */
static void test_unknown_country_flag_vs_config(void **state)
{
	char *env[] = { "CODECARBON_COUNTRY_ISO_CODE=XYZ", NULL };
	struct carbon_intensity ci;
	char err[512], log[4096];
	struct config *c;
	bool flag = true;

	(void)state;
	c = load_env(env);
	assert_int_equal(resolve(c, &flag, &ci, err, sizeof(err), log, sizeof(log)), -ENOENT);
	assert_false(flag);
	assert_close(ci.g_per_kwh, 475.0, 1e-12);
	assert_true(ci.is_world_default);
	assert_int_equal(ci.origin, CARBON_ORIGIN_WORLD);
	assert_contains(err, "unknown country 'XYZ'");
	assert_contains(err, "using world average 475");

	assert_int_equal(config__set_flag(c, "country_iso_code", "QQ", "--country-iso-code"), 0);
	assert_int_equal(resolve(c, &flag, &ci, err, sizeof(err), log, sizeof(log)), -ENOENT);
	assert_true(flag);
	assert_contains(err, "unknown country 'QQ'");
	assert_contains(err, "alpha-3 or alpha-2");
	assert_lacks(err, "using"); /* an error, not a fallback */
	config__free(c);
}

/* A region the tables do not know, from a flag, names the region (country is fine). */
static void test_unknown_region_flag(void **state)
{
	char *env[] = { "CODECARBON_COUNTRY_ISO_CODE=USA", NULL };
	struct carbon_intensity ci;
	char err[512], log[4096];
	struct config *c;
	bool flag = false;

	(void)state;
	c = load_env(env);
	assert_int_equal(config__set_flag(c, "region", "atlantis", "--region"), 0);
	assert_int_equal(resolve(c, &flag, &ci, err, sizeof(err), log, sizeof(log)), -ENOENT);
	assert_true(flag);
	assert_contains(err, "unknown region 'atlantis'");
	assert_lacks(err, "unknown country");
	config__free(c);
}

/* Nothing known: world average, no error (the caller may warn). */
static void test_no_country(void **state)
{
	struct carbon_intensity ci;
	char err[512], log[4096];
	struct config *c = load_env(NULL);
	bool flag = true;

	(void)state;
	assert_int_equal(resolve(c, &flag, &ci, err, sizeof(err), log, sizeof(log)), 0);
	assert_false(flag);
	assert_close(ci.g_per_kwh, 475.0, 1e-12);
	assert_true(ci.is_world_default);
	config__free(c);
}

/* A forced value wins, and with it no Electricity Maps request is made (nothing logged). */
static void test_forced_skips_live(void **state)
{
	char *env[] = { "CODECARBON_COUNTRY_ISO_CODE=FRA",
			"CODECARBON_FORCE_CARBON_INTENSITY_G_CO2E_KWH=12.5",
			"CODECARBON_ELECTRICITYMAPS_API_TOKEN=tok-forced-1234",
			"CODECARBON_ELECTRICITYMAPS_API_ENDPOINT=ftp://127.0.0.1:9", NULL };
	struct carbon_intensity ci;
	char err[512], log[4096];
	struct config *c = load_env(env);

	(void)state;
	assert_int_equal(resolve(c, NULL, &ci, err, sizeof(err), log, sizeof(log)), 0);
	assert_close(ci.g_per_kwh, 12.5, 1e-12);
	assert_int_equal(ci.origin, CARBON_ORIGIN_FORCED);
	assert_string_equal(log, "");
	config__free(c);
}

/*
 * Live lookup that fails (an endpoint libcurl refuses at once: no network involved): the
 * table figure stays, one warning names the reason, and the token is never shown.
 */
static void test_live_failure_falls_back(void **state)
{
	char *env[] = { "CODECARBON_COUNTRY_ISO_CODE=FRA",
			"CODECARBON_ELECTRICITYMAPS_API_TOKEN=tok-secret-5678",
			"CODECARBON_ELECTRICITYMAPS_API_ENDPOINT=ftp://127.0.0.1:9", NULL };
	char *old[] = { "CODECARBON_COUNTRY_ISO_CODE=FRA",
			"CODECARBON_CO2_SIGNAL_API_TOKEN=tok-old-name-9999",
			"CODECARBON_ELECTRICITYMAPS_API_ENDPOINT=ftp://127.0.0.1:9", NULL };
	struct carbon_intensity ci;
	char err[512], log[4096];
	struct config *c = load_env(env);

	(void)state;
	assert_int_equal(resolve(c, NULL, &ci, err, sizeof(err), log, sizeof(log)), 0);
	assert_close(ci.g_per_kwh, 56.039, 1e-9);
	assert_int_equal(ci.origin, CARBON_ORIGIN_COUNTRY);
	assert_contains(log, "warning: Electricity Maps");
	assert_contains(log, "country FRA");
	assert_lacks(log, "tok-secret");
	assert_lacks(log, "5678");
	config__free(c);

	/* co2_signal_api_token is the old name of the same key: it is tried too. */
	c = load_env(old);
	assert_int_equal(resolve(c, NULL, &ci, err, sizeof(err), log, sizeof(log)), 0);
	assert_contains(log, "Electricity Maps");
	assert_lacks(log, "tok-old-name");
	config__free(c);
}

/* A token but no country: cannot ask, says so, world average stays. */
static void test_live_without_country(void **state)
{
	char *env[] = { "CODECARBON_ELECTRICITYMAPS_API_TOKEN=tok-x-0000", NULL };
	struct carbon_intensity ci;
	char err[512], log[4096];
	struct config *c = load_env(env);

	(void)state;
	assert_int_equal(resolve(c, NULL, &ci, err, sizeof(err), log, sizeof(log)), 0);
	assert_close(ci.g_per_kwh, 475.0, 1e-12);
	assert_contains(log, "no country is known");
	config__free(c);
}

/* carbon_data_file: its figures replace the built-in ones; unset again, built-in return. */
static void test_data_file(void **state)
{
	char *path = write_file("mix.json",
				"{\"FRA\": {\"country_name\": \"France\", \"year\": 2025,"
				" \"carbon_intensity\": 50.5, \"total_TWh\": 1}}");
	char *env[] = { "CODECARBON_COUNTRY_ISO_CODE=FR", NULL, NULL };
	struct carbon_intensity ci;
	char err[512], log[4096], line[400];
	struct config *c;

	(void)state;
	snprintf(line, sizeof(line), "CODECARBON_CARBON_DATA_FILE=%s", path);
	env[1] = line;
	c = load_env(env);
	assert_int_equal(resolve(c, NULL, &ci, err, sizeof(err), log, sizeof(log)), 0);
	assert_close(ci.g_per_kwh, 50.5, 1e-12);
	assert_contains(ci.source, "mix.json");
	assert_contains(ci.source, "2025");
	config__free(c);

	env[1] = NULL;
	c = load_env(env);
	assert_int_equal(resolve(c, NULL, &ci, err, sizeof(err), log, sizeof(log)), 0);
	assert_close(ci.g_per_kwh, 56.039, 1e-9);
	config__free(c);
	free(path);
}

/* A bad data file: one error naming the file and where it was set; missing likewise. */
static void test_bad_data_file(void **state)
{
	char *bad = write_file("broken.json", "{\"FRA\": {");
	char *env[] = { "CODECARBON_COUNTRY_ISO_CODE=FRA", NULL, NULL };
	struct carbon_intensity ci;
	char err[512], log[4096], line[400];
	struct config *c;

	(void)state;
	snprintf(line, sizeof(line), "CODECARBON_CARBON_DATA_FILE=%s", bad);
	env[1] = line;
	c = load_env(env);
	assert_int_equal(resolve(c, NULL, &ci, err, sizeof(err), log, sizeof(log)), -EINVAL);
	assert_contains(err, bad);
	assert_contains(err, "CODECARBON_CARBON_DATA_FILE");
	assert_contains(err, "global_energy_mix.json");
	config__free(c);

	snprintf(line, sizeof(line), "CODECARBON_CARBON_DATA_FILE=%s/absent.json", dir);
	c = load_env(env);
	assert_int_equal(resolve(c, NULL, &ci, err, sizeof(err), log, sizeof(log)), -EINVAL);
	assert_contains(err, "absent.json");
	assert_contains(err, "No such file");
	config__free(c);
	free(bad);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_country_from_config),
		cmocka_unit_test(test_unknown_country_flag_vs_config),
		cmocka_unit_test(test_unknown_region_flag),
		cmocka_unit_test(test_no_country),
		cmocka_unit_test(test_forced_skips_live),
		cmocka_unit_test(test_live_failure_falls_back),
		cmocka_unit_test(test_live_without_country),
		cmocka_unit_test(test_data_file),
		cmocka_unit_test(test_bad_data_file),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
