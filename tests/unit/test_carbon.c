/* Unit tests for user/carbon.c: intensity precedence, table figures, kg conversion, file override. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "carbon.h"

/*
 * Every expected figure below is worked out by hand from the public reference files
 * (CodeCarbon's data: global_energy_mix.json, usa_emissions.json, canada_energy_mix.json,
 * nordic_emissions.json, impact.csv, carbon_intensity_per_source.json), not from the code.
 */

static void assert_close(double got, double want, double tol)
{
	if (fabs(got - want) > tol)
		fail_msg("got %.12g, want %.12g (tolerance %g)", got, want, tol);
}

static struct carbon_query query(const char *country, const char *region)
{
	struct carbon_query q = { .force_g_per_kwh = -1, .country = country, .region = region };

	return q;
}

static void assert_contains(const char *haystack, const char *needle)
{
	if (!strstr(haystack, needle))
		fail_msg("\"%s\" does not contain \"%s\"", haystack, needle);
}

/* global_energy_mix.json FRA: carbon_intensity 56.039, year 2023. */
static void test_country_alpha3(void **state)
{
	struct carbon_query q = query("FRA", NULL);
	struct carbon_intensity ci;

	(void)state;
	assert_int_equal(carbon__lookup(&q, &ci), 0);
	assert_close(ci.g_per_kwh, 56.039, 1e-9);
	assert_string_equal(ci.country_iso3, "FRA");
	assert_string_equal(ci.country_name, "France");
	assert_string_equal(ci.region, "");
	assert_false(ci.is_world_default);
	assert_string_equal(ci.source,
			    "country FRA, Our World in Data via CodeCarbon global_energy_mix (2023)");
}

/* FR is France's ISO 3166-1 alpha-2 code; same row as FRA. Lower case works too. */
static void test_country_alpha2_any_case(void **state)
{
	struct carbon_query q = query("fr", NULL);
	struct carbon_intensity ci;

	(void)state;
	assert_int_equal(carbon__lookup(&q, &ci), 0);
	assert_close(ci.g_per_kwh, 56.039, 1e-9);
	assert_string_equal(ci.country_iso3, "FRA");

	/* DEU: 380.95 g/kWh in global_energy_mix.json. */
	q = query("De", NULL);
	assert_int_equal(carbon__lookup(&q, &ci), 0);
	assert_close(ci.g_per_kwh, 380.95, 1e-9);
	assert_string_equal(ci.country_iso3, "DEU");
}

/*
 * usa_emissions.json california: 452.541 lbs/MWh.
 * 1 lb = 453.59237 g, 1 MWh = 1000 kWh -> x 0.45359237:
 * 452.541 x 0.45359237 = 205.26914471217 g/kWh.
 */
static void test_us_state_by_name(void **state)
{
	struct carbon_query q = query("USA", "california");
	struct carbon_intensity ci;

	(void)state;
	assert_int_equal(carbon__lookup(&q, &ci), 0);
	assert_close(ci.g_per_kwh, 205.26914471217, 1e-9);
	assert_string_equal(ci.country_iso3, "USA");
	assert_string_equal(ci.region, "california");
	assert_false(ci.is_world_default);
	assert_contains(ci.source, "california");
	assert_contains(ci.source, "2016");
}

/* texas: 1049.527 lbs/MWh x 0.45359237 = 476.05743930899 g/kWh; postal code TX, alpha-2 US. */
static void test_us_state_by_code(void **state)
{
	struct carbon_query q = query("us", "tx");
	struct carbon_intensity ci;

	(void)state;
	assert_int_equal(carbon__lookup(&q, &ci), 0);
	assert_close(ci.g_per_kwh, 476.05743930899, 1e-9);
	assert_string_equal(ci.region, "texas");
}

/*
 * canada_energy_mix.json alberta: naturalGas 73.5, petroleum 0.02, coal 8.0, total 99.82 (%).
 * 73.5 x 743.8415916 = 54672.3569826
 * 0.02 x 816.6885263 =    16.333770526
 * 8.0  x 995.725971  =  7965.807768
 * sum = 62654.498521126; / 99.82 = 627.67479985 g/kWh (other sources count 0).
 */
static void test_canadian_province(void **state)
{
	struct carbon_query q = query("CAN", "alberta");
	struct carbon_intensity ci;

	(void)state;
	assert_int_equal(carbon__lookup(&q, &ci), 0);
	assert_close(ci.g_per_kwh, 627.67479985, 1e-6);
	assert_string_equal(ci.country_iso3, "CAN");
	assert_string_equal(ci.region, "alberta");
	assert_contains(ci.source, "2023");
}

/*
 * quebec: naturalGas 0.2, petroleum 0.3, coal 0.0, total 100.01.
 * (0.2 x 743.8415916 + 0.3 x 816.6885263) / 100.01 = (148.76831832 + 245.00655789) / 100.01
 * = 393.77487621 / 100.01 = 3.93735503 g/kWh. Name and code, any case, 'quebec' == 'QC'.
 */
static void test_region_case_insensitive(void **state)
{
	static const char *const spellings[] = { "quebec", "QUEBEC", "Quebec", "qc", "QC", "Qc" };
	struct carbon_intensity ci;

	(void)state;
	for (size_t i = 0; i < sizeof(spellings) / sizeof(spellings[0]); i++) {
		struct carbon_query q = query(i % 2 ? "ca" : "CAN", spellings[i]);

		assert_int_equal(carbon__lookup(&q, &ci), 0);
		assert_close(ci.g_per_kwh, 3.93735503, 1e-6);
		assert_string_equal(ci.region, "quebec");
		assert_string_equal(ci.country_iso3, "CAN");
	}
	/* new york: 464.02 lbs/MWh x 0.45359237 = 210.4759315274 g/kWh. */
	struct carbon_query q = query("USA", "NEW YORK");

	assert_int_equal(carbon__lookup(&q, &ci), 0);
	assert_close(ci.g_per_kwh, 210.4759315274, 1e-6);
	assert_string_equal(ci.region, "new york");
}

/* nordic_emissions.json: SE3 18.0 (2024), FI 72.0 (2025) gCO2eq/kWh. */
static void test_nordic_zones(void **state)
{
	struct carbon_query q = query("SWE", "se3");
	struct carbon_intensity ci;

	(void)state;
	assert_int_equal(carbon__lookup(&q, &ci), 0);
	assert_close(ci.g_per_kwh, 18.0, 1e-9);
	assert_string_equal(ci.region, "se3");
	assert_contains(ci.source, "2024");

	q = query("fin", "FI");
	assert_int_equal(carbon__lookup(&q, &ci), 0);
	assert_close(ci.g_per_kwh, 72.0, 1e-9);
	assert_string_equal(ci.country_iso3, "FIN");
	assert_contains(ci.source, "2025");

	/* NO4 belongs to Norway: asked for Sweden it is not a Swedish zone -> SWE 40.695. */
	q = query("SWE", "NO4");
	assert_int_equal(carbon__lookup(&q, &ci), -ENOENT);
	assert_close(ci.g_per_kwh, 40.695, 1e-9);
	assert_string_equal(ci.country_iso3, "SWE");
}

/* A region alone is used when it names one entry: SE3 -> Sweden, quebec -> Canada. */
static void test_region_without_country(void **state)
{
	struct carbon_query q = query(NULL, "SE3");
	struct carbon_intensity ci;

	(void)state;
	assert_int_equal(carbon__lookup(&q, &ci), 0);
	assert_close(ci.g_per_kwh, 18.0, 1e-9);
	assert_string_equal(ci.country_iso3, "SWE");
	assert_false(ci.is_world_default);

	q = query("", "Quebec");
	assert_int_equal(carbon__lookup(&q, &ci), 0);
	assert_close(ci.g_per_kwh, 3.93735503, 1e-6);
	assert_string_equal(ci.country_iso3, "CAN");

	q = query(NULL, "atlantis");
	assert_int_equal(carbon__lookup(&q, &ci), -ENOENT);
	assert_close(ci.g_per_kwh, 475.0, 1e-9);
	assert_true(ci.is_world_default);
}

/* Unknown region of a country with regional tables: country fallback (USA 369.473). */
static void test_unknown_region_falls_back_to_country(void **state)
{
	struct carbon_query q = query("USA", "atlantis");
	struct carbon_intensity ci;

	(void)state;
	assert_int_equal(carbon__lookup(&q, &ci), -ENOENT);
	assert_close(ci.g_per_kwh, 369.473, 1e-9);
	assert_string_equal(ci.country_iso3, "USA");
	assert_false(ci.is_world_default);

	/* France has no sub-national table: the region is not used, no error (FRA 56.039). */
	q = query("FRA", "ile-de-france");
	assert_int_equal(carbon__lookup(&q, &ci), 0);
	assert_close(ci.g_per_kwh, 56.039, 1e-9);
	assert_string_equal(ci.region, "");
}

/* impact.csv: gcp europe-west1, Belgium (BEL), impact 122 g/kWh. */
static void test_gcp_region(void **state)
{
	struct carbon_query q = query("FRA", "quebec");
	struct carbon_intensity ci;

	(void)state;
	q.cloud_provider = "GCP";
	q.cloud_region = "Europe-West1";
	assert_int_equal(carbon__lookup(&q, &ci), 0);
	assert_close(ci.g_per_kwh, 122.0, 1e-9);
	assert_string_equal(ci.country_iso3, "BEL");
	assert_string_equal(ci.region, "europe-west1");
	assert_contains(ci.source, "europe-west1");

	/* Unknown gcp region: -ENOENT, country fallback (FRA 56.039). */
	q = query("FRA", NULL);
	q.cloud_provider = "gcp";
	q.cloud_region = "mars-north1";
	assert_int_equal(carbon__lookup(&q, &ci), -ENOENT);
	assert_close(ci.g_per_kwh, 56.039, 1e-9);
}

/* AWS and Azure are private infrastructure for CodeCarbon: country used (DEU 380.95). */
static void test_aws_azure_fall_through(void **state)
{
	struct carbon_query q = query("DEU", NULL);
	struct carbon_intensity ci;

	(void)state;
	q.cloud_provider = "aws";
	q.cloud_region = "eu-central-1";
	assert_int_equal(carbon__lookup(&q, &ci), 0);
	assert_close(ci.g_per_kwh, 380.95, 1e-9);
	q.cloud_provider = "Azure";
	q.cloud_region = "germanywestcentral";
	assert_int_equal(carbon__lookup(&q, &ci), 0);
	assert_close(ci.g_per_kwh, 380.95, 1e-9);
}

/* A forced value wins over everything, even a known cloud region. */
static void test_forced(void **state)
{
	struct carbon_query q = query("FRA", NULL);
	struct carbon_intensity ci;

	(void)state;
	q.force_g_per_kwh = 123.5;
	q.cloud_provider = "gcp";
	q.cloud_region = "europe-west1";
	assert_int_equal(carbon__lookup(&q, &ci), 0);
	assert_close(ci.g_per_kwh, 123.5, 1e-12);
	assert_contains(ci.source, "forced");
	assert_false(ci.is_world_default);

	q.force_g_per_kwh = 0; /* 0 is a valid forced value (e.g. on-site renewables) */
	assert_int_equal(carbon__lookup(&q, &ci), 0);
	assert_close(ci.g_per_kwh, 0.0, 1e-12);
}

/* Unknown explicit country: -ENOENT, world average 475 (carbon_intensity_per_source.json). */
static void test_unknown_country(void **state)
{
	struct carbon_query q = query("ZZZ", NULL);
	struct carbon_intensity ci;

	(void)state;
	assert_int_equal(carbon__lookup(&q, &ci), -ENOENT);
	assert_close(ci.g_per_kwh, 475.0, 1e-12);
	assert_true(ci.is_world_default);
	assert_contains(ci.source, "world average 475 g/kWh");
}

/* Nothing known: world average, not an error. */
static void test_no_country(void **state)
{
	struct carbon_query q = query(NULL, NULL);
	struct carbon_intensity ci;

	(void)state;
	assert_int_equal(carbon__lookup(&q, &ci), 0);
	assert_close(ci.g_per_kwh, 475.0, 1e-12);
	assert_true(ci.is_world_default);
	assert_string_equal(ci.country_iso3, "");
	assert_contains(ci.source, "world average 475 g/kWh (no country known)");
	assert_close(CARBON_WORLD_AVERAGE_G_PER_KWH, 475.0, 0);
}

/*
 * CAF: carbon_intensity 0.0 in the file -> computed from the mix. Sources with a per-source
 * figure: coal 0, fossil 0, hydroelectricity 0.15, nuclear 0, solar 0, wind 0 TWh; they sum
 * to 0.15 == total_TWh 0.15, so the mix rule applies: 0.15 / 0.15 x 26 (hydro) = 26 g/kWh.
 */
static void test_zero_intensity_from_mix(void **state)
{
	struct carbon_query q = query("CAF", NULL);
	struct carbon_intensity ci;

	(void)state;
	assert_int_equal(carbon__lookup(&q, &ci), 0);
	assert_close(ci.g_per_kwh, 26.0, 1e-9);
	assert_false(ci.is_world_default);
	assert_contains(ci.source, "mix");
	assert_contains(ci.source, "2022");
}

/* 2 kWh at 56.039 g/kWh = 112.078 g = 0.112078 kg; 0 kWh is 0 kg. */
static void test_carbon_kg(void **state)
{
	(void)state;
	assert_close(carbon_kg(2.0, 56.039), 0.112078, 1e-12);
	assert_close(carbon_kg(0.0, 475.0), 0.0, 0);
	assert_close(carbon_kg(1000.0, 475.0), 475.0, 1e-9);
}

static char *write_tmp(const char *text)
{
	char *path = strdup("/tmp/test_carbon_XXXXXX");
	int fd;

	assert_non_null(path);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

/*
 * A user file overrides listed countries only. ZAF: mix coal 5 + wind 5 of total 10 TWh
 * -> 0.5 x 995 + 0.5 x 26 = 510.5 g/kWh. ESP: coal 5 of total 10 (sum 5 != 10) -> world 475.
 */
static void test_load_file(void **state)
{
	static const char json[] =
		"{\"FRA\": {\"country_name\": \"France\", \"iso_code\": \"FRA\", \"year\": 2025,"
		" \"carbon_intensity\": 50.5, \"total_TWh\": 1},"
		" \"zaf\": {\"carbon_intensity\": 0, \"year\": 2024, \"total_TWh\": 10,"
		" \"coal_TWh\": 5, \"wind_TWh\": 5},"
		" \"ESP\": {\"year\": 2024, \"total_TWh\": 10, \"coal_TWh\": 5}}";
	struct carbon_intensity ci;
	struct carbon_query q;
	char *path = write_tmp(json);

	(void)state;
	assert_int_equal(carbon__load_file(path), 0);

	q = query("fr", NULL);
	assert_int_equal(carbon__lookup(&q, &ci), 0);
	assert_close(ci.g_per_kwh, 50.5, 1e-12);
	assert_contains(ci.source, "2025");

	q = query("ZAF", NULL);
	assert_int_equal(carbon__lookup(&q, &ci), 0);
	assert_close(ci.g_per_kwh, 510.5, 1e-9);
	assert_string_equal(ci.country_iso3, "ZAF");

	q = query("ESP", NULL);
	assert_int_equal(carbon__lookup(&q, &ci), 0);
	assert_close(ci.g_per_kwh, 475.0, 1e-12);
	assert_true(ci.is_world_default);
	assert_string_equal(ci.country_iso3, "ESP");

	/* Not in the file: built-in figure (DEU 380.95). */
	q = query("DEU", NULL);
	assert_int_equal(carbon__lookup(&q, &ci), 0);
	assert_close(ci.g_per_kwh, 380.95, 1e-9);

	carbon__unload();
	q = query("FRA", NULL);
	assert_int_equal(carbon__lookup(&q, &ci), 0);
	assert_close(ci.g_per_kwh, 56.039, 1e-9);

	unlink(path);
	free(path);
}

static void test_load_file_errors(void **state)
{
	char *bad = write_tmp("{\"FRA\": ");
	char *empty = write_tmp("{\"note\": \"no countries\"}");

	(void)state;
	assert_int_equal(carbon__load_file("/nonexistent/carbonbpf/mix.json"), -ENOENT);
	assert_int_equal(carbon__load_file(bad), -EINVAL);
	assert_int_equal(carbon__load_file(empty), -EINVAL);
	unlink(bad);
	unlink(empty);
	free(bad);
	free(empty);
}

/* Which rule answered, for reports: one lookup per rule (figures as in the tests above). */
static void test_origin_per_rule(void **state)
{
	struct carbon_intensity ci;
	struct carbon_query q;

	(void)state;
	q = query("FRA", NULL);
	q.force_g_per_kwh = 10;
	assert_int_equal(carbon__lookup(&q, &ci), 0);
	assert_int_equal(ci.origin, CARBON_ORIGIN_FORCED);

	q = query(NULL, NULL);
	q.cloud_provider = "gcp";
	q.cloud_region = "europe-west1";
	assert_int_equal(carbon__lookup(&q, &ci), 0);
	assert_int_equal(ci.origin, CARBON_ORIGIN_CLOUD);

	q = query("USA", "texas");
	assert_int_equal(carbon__lookup(&q, &ci), 0);
	assert_int_equal(ci.origin, CARBON_ORIGIN_REGION);

	q = query("DE", NULL);
	assert_int_equal(carbon__lookup(&q, &ci), 0);
	assert_int_equal(ci.origin, CARBON_ORIGIN_COUNTRY);

	q = query("ZZZ", NULL);
	assert_int_equal(carbon__lookup(&q, &ci), -ENOENT);
	assert_int_equal(ci.origin, CARBON_ORIGIN_WORLD);
}

/* ISO 3166-1: France FRA/FR, Germany DEU/DE, Sweden SWE/SE; XYZ is no country. */
static void test_country_alpha2(void **state)
{
	char cc[3];

	(void)state;
	assert_int_equal(carbon__country_alpha2("FRA", cc), 0);
	assert_string_equal(cc, "FR");
	assert_int_equal(carbon__country_alpha2("deu", cc), 0);
	assert_string_equal(cc, "DE");
	assert_int_equal(carbon__country_alpha2("se", cc), 0);
	assert_string_equal(cc, "SE");
	assert_int_equal(carbon__country_alpha2("XYZ", cc), -ENOENT);
	assert_int_equal(carbon__country_alpha2("", cc), -ENOENT);
	assert_int_equal(carbon__country_alpha2(NULL, cc), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_country_alpha3),
		cmocka_unit_test(test_country_alpha2_any_case),
		cmocka_unit_test(test_us_state_by_name),
		cmocka_unit_test(test_us_state_by_code),
		cmocka_unit_test(test_canadian_province),
		cmocka_unit_test(test_region_case_insensitive),
		cmocka_unit_test(test_nordic_zones),
		cmocka_unit_test(test_region_without_country),
		cmocka_unit_test(test_unknown_region_falls_back_to_country),
		cmocka_unit_test(test_gcp_region),
		cmocka_unit_test(test_aws_azure_fall_through),
		cmocka_unit_test(test_forced),
		cmocka_unit_test(test_unknown_country),
		cmocka_unit_test(test_no_country),
		cmocka_unit_test(test_zero_intensity_from_mix),
		cmocka_unit_test(test_carbon_kg),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_load_file_errors),
		cmocka_unit_test(test_origin_per_rule),
		cmocka_unit_test(test_country_alpha2),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
