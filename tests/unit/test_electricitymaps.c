/* Unit tests for user/electricitymaps.c: response parsing and argument checks (no network). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "electricitymaps.h"

/* An answer shaped like the documented v3 /carbon-intensity/latest example. */
static void test_parse_ok(void **state)
{
	static const char body[] =
		"{\"zone\":\"DE\",\"carbonIntensity\":302,\"datetime\":\"2019-05-21T00:00:00.000Z\","
		"\"updatedAt\":\"2019-05-20T23:58:39.000Z\",\"emissionFactorType\":\"lifecycle\","
		"\"isEstimated\":false}";
	struct em_latest r;
	char why[128] = "";

	(void)state;
	assert_int_equal(electricitymaps_parse(body, strlen(body), &r, why, sizeof(why)), 0);
	assert_true(r.g_per_kwh == 302.0);
	assert_string_equal(r.zone, "DE");
	assert_string_equal(r.datetime, "2019-05-21T00:00:00.000Z");
}

/* Only carbonIntensity is required; a fraction is kept; len bounds the text read. */
static void test_parse_minimal_and_len(void **state)
{
	static const char body[] = "{\"carbonIntensity\": 12.25}trailing garbage";
	struct em_latest r;
	char why[128];

	(void)state;
	assert_int_equal(electricitymaps_parse(body, strlen("{\"carbonIntensity\": 12.25}"), &r,
					       why, sizeof(why)),
			 0);
	assert_true(r.g_per_kwh == 12.25);
	assert_string_equal(r.zone, "");
	assert_string_equal(r.datetime, "");
}

static void test_parse_malformed(void **state)
{
	static const char *const bad[] = {
		"",                                   /* empty */
		"<html>502 Bad Gateway</html>",       /* not JSON */
		"{\"carbonIntensity\": 3",            /* cut short */
		"[302]",                              /* not an object */
		"{\"zone\":\"FR\"}",                  /* no figure */
		"{\"carbonIntensity\": null}",        /* no data for the zone */
		"{\"carbonIntensity\": \"302\"}",     /* a string */
		"{\"carbonIntensity\": -5}",          /* negative */
	};
	struct em_latest r;
	char why[128];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		if (electricitymaps_parse(bad[i], strlen(bad[i]), &r, why, sizeof(why)) != -EINVAL)
			fail_msg("accepted '%s'", bad[i]);
		assert_true(why[0] != '\0');
	}
}

/* Arguments are checked before any request: nothing here touches the network. */
static void test_bad_arguments(void **state)
{
	struct em_latest r;
	char why[256];

	(void)state;
	assert_int_equal(electricitymaps_latest("http://127.0.0.1:9", "tok", "FRA", 100, &r, why,
						sizeof(why)),
			 -EINVAL);
	assert_non_null(strstr(why, "alpha-2"));
	assert_int_equal(electricitymaps_latest("http://127.0.0.1:9", "", "FR", 100, &r, why,
						sizeof(why)),
			 -EINVAL);
	assert_int_equal(electricitymaps_latest("", "tok", "FR", 100, &r, why, sizeof(why)),
			 -EINVAL);
	/* a token with a line break would inject a header: refused, and not echoed */
	assert_int_equal(electricitymaps_latest("http://127.0.0.1:9", "abc\r\nX-Evil: 1", "FR",
						100, &r, why, sizeof(why)),
			 -EINVAL);
	assert_null(strstr(why, "Evil"));
	/* a scheme other than http(s) is refused by libcurl before connecting */
	assert_int_equal(electricitymaps_latest("file:///etc", "tok-file-1234", "FR", 100, &r, why,
						sizeof(why)),
			 -EINVAL);
	assert_null(strstr(why, "tok-file"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ok),
		cmocka_unit_test(test_parse_minimal_and_len),
		cmocka_unit_test(test_parse_malformed),
		cmocka_unit_test(test_bad_arguments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
