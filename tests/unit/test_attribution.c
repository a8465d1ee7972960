/* Unit tests of the exact energy split (user/attribution.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>
#include "attribution.h"

static void busy_split_rounds_to_largest_remainder(void **state)
{
	/* 10 uJ over three equal weights: 3.33 each, the 1 uJ left goes to the first. */
	uint64_t w[3] = { 5, 5, 5 }, out[3], idle = 99;

	(void)state;
	assert_int_equal(attribution_split(10, w, 3, IDLE_POLICY_BUSY, 0, out, &idle), 0);
	assert_int_equal(out[0], 4);
	assert_int_equal(out[1], 3);
	assert_int_equal(out[2], 3);
	assert_int_equal(idle, 0);
}

static void busy_split_is_proportional(void **state)
{
	/* 1000 uJ, 750 ns vs 250 ns: 750 and 250 exactly. */
	uint64_t w[2] = { 750, 250 }, out[2], idle;

	(void)state;
	assert_int_equal(attribution_split(1000, w, 2, IDLE_POLICY_BUSY, 5000, out, &idle), 0);
	assert_int_equal(out[0], 750);
	assert_int_equal(out[1], 250);
	assert_int_equal(idle, 0);
}

static void capacity_split_gives_unused_share_to_idle(void **state)
{
	/* 2 CPUs x 1 s = 2e9 ns capacity; 0.5 s + 0.25 s busy -> 25% and 12.5% of 800 uJ. */
	uint64_t w[2] = { 500000000, 250000000 }, out[2], idle;

	(void)state;
	assert_int_equal(attribution_split(800, w, 2, IDLE_POLICY_CAPACITY, 2000000000ull, out, &idle), 0);
	assert_int_equal(out[0], 200);
	assert_int_equal(out[1], 100);
	assert_int_equal(idle, 500);
}

static void capacity_below_busy_is_raised(void **state)
{
	/* Timer jitter can make B exceed C slightly: then nothing is idle. */
	uint64_t w[2] = { 600, 600 }, out[2], idle;

	(void)state;
	assert_int_equal(attribution_split(100, w, 2, IDLE_POLICY_CAPACITY, 1000, out, &idle), 0);
	assert_int_equal(out[0], 50);
	assert_int_equal(out[1], 50);
	assert_int_equal(idle, 0);
}

static void no_busy_time_goes_to_idle(void **state)
{
	uint64_t w[2] = { 0, 0 }, out[2] = { 7, 7 }, idle;

	(void)state;
	assert_int_equal(attribution_split(123, w, 2, IDLE_POLICY_BUSY, 1000, out, &idle), 0);
	assert_int_equal(out[0], 0);
	assert_int_equal(out[1], 0);
	assert_int_equal(idle, 123);
	assert_int_equal(attribution_split(123, NULL, 0, IDLE_POLICY_CAPACITY, 1000, out, &idle), 0);
	assert_int_equal(idle, 123);
}

static void huge_values_do_not_overflow(void **state)
{
	/* E * t exceeds 64 bits: 2^62 uJ split 3:1. */
	uint64_t w[2] = { 3ull << 60, 1ull << 60 }, out[2], idle;

	(void)state;
	assert_int_equal(attribution_split(1ull << 62, w, 2, IDLE_POLICY_BUSY, 0, out, &idle), 0);
	assert_true(out[0] == 3ull << 60);
	assert_true(out[1] == 1ull << 60);
}

static void random_splits_conserve_and_stay_within_one(void **state)
{
	enum { N = 50 };
	uint64_t w[N], out[N], idle;

	(void)state;
	srand(12345);
	for (int round = 0; round < 2000; round++) {
		size_t n = (size_t)(rand() % N) + 1;
		uint64_t e = ((uint64_t)rand() << 20) ^ (uint64_t)rand();
		uint64_t cap = 0, sum = idle = 0;
		long double b = 0;
		enum idle_policy pol = round & 1 ? IDLE_POLICY_CAPACITY : IDLE_POLICY_BUSY;

		for (size_t i = 0; i < n; i++) {
			w[i] = rand() % 4 ? (uint64_t)rand() * 1000 : 0;
			b += w[i];
			cap += w[i];
		}
		cap += (uint64_t)rand() * 100;
		assert_int_equal(attribution_split(e, w, n, pol, cap, out, &idle), 0);
		for (size_t i = 0; i < n; i++) {
			long double exact = b == 0 ? 0 :
				(long double)e * w[i] / (pol == IDLE_POLICY_CAPACITY ? (long double)cap : b);
			assert_true((long double)out[i] >= exact - 1.0001L && (long double)out[i] <= exact + 1.0001L);
			sum += out[i];
		}
		assert_true(sum + idle == e);
	}
}

static void policy_names_parse(void **state)
{
	enum idle_policy p;

	(void)state;
	assert_int_equal(idle_policy_parse("capacity", &p), 0);
	assert_int_equal(p, IDLE_POLICY_CAPACITY);
	assert_int_equal(idle_policy_parse("busy", &p), 0);
	assert_int_equal(p, IDLE_POLICY_BUSY);
	assert_int_equal(idle_policy_parse("idle", &p), -22);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(busy_split_rounds_to_largest_remainder),
		cmocka_unit_test(busy_split_is_proportional),
		cmocka_unit_test(capacity_split_gives_unused_share_to_idle),
		cmocka_unit_test(capacity_below_busy_is_raised),
		cmocka_unit_test(no_busy_time_goes_to_idle),
		cmocka_unit_test(huge_values_do_not_overflow),
		cmocka_unit_test(random_splits_conserve_and_stay_within_one),
		cmocka_unit_test(policy_names_parse),
	};
	return cmocka_run_group_tests_name("attribution", tests, NULL, NULL);
}
