/* Unit tests of emission_delta: integer durations without drift, non-negative deltas, final merge. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "emission_delta.h"

/* cmocka 1.1 has no double comparison. */
static void assert_double_equal(double got, double want, double tol)
{
	if (!(fabs(got - want) <= tol))
		fail_msg("got %.17g, want %.17g (tolerance %g)", got, want, tol);
}

static struct emission_totals totals(double elapsed_s, double cpu_kwh, double ram_kwh, double kg)
{
	struct emission_totals t = {
		.measured_at_us = 1700000000000000 + (int64_t)(elapsed_s * 1e6),
		.elapsed_s = elapsed_s,
		.cpu_energy_kwh = cpu_kwh,
		.ram_energy_kwh = ram_kwh,
		.energy_consumed_kwh = cpu_kwh + ram_kwh,
		.emissions_kg = kg,
		.cpu_power_w = 40,
		.gpu_power_w = NAN,
		.ram_power_w = 10,
		.cpu_utilization_percent = 50,
		.gpu_utilization_percent = NAN,
		.ram_utilization_percent = 20,
		.wue_l_per_kwh = 0,
	};
	return t;
}

/* 1000 intervals of 1.3 s starting at 0.37 s: durations are whole seconds summing to floor(elapsed). */
static void test_no_drift_over_many_intervals(void **state)
{
	struct emission_state st, next;
	struct emission_delta d;
	double cpu = 0, ram = 0, kg = 0, sum_cpu = 0, sum_ram = 0, sum_kg = 0, sum_total = 0;
	double elapsed = 0;
	int64_t sum_s = 0;
	int made = 0, held = 0;

	(void)state;
	emission_state_init(&st);
	for (int i = 0; i < 1000; i++) {
		struct emission_totals t;
		int ret;

		elapsed = 0.37 + 1.3 * i;
		/* 40 W CPU, 10 W RAM for 1.3 s each, in kWh; 475 g/kWh. */
		cpu += 40 * 1.3 / 3.6e6;
		ram += 10 * 1.3 / 3.6e6;
		kg += (40 + 10) * 1.3 / 3.6e6 * 0.475;
		t = totals(elapsed, cpu, ram, kg);
		ret = emission_delta_make(&st, &t, false, &d, &next);
		if (ret == -EAGAIN) {
			held++;
			continue;
		}
		assert_int_equal(ret, 0);
		assert_true(d.duration_s > 0);
		assert_true(d.cpu_energy_kwh >= 0 && d.ram_energy_kwh >= 0 && d.emissions_kg >= 0);
		assert_true(d.energy_consumed_kwh >= 0 && d.emissions_rate_kg_s >= 0);
		sum_s += d.duration_s;
		sum_cpu += d.cpu_energy_kwh;
		sum_ram += d.ram_energy_kwh;
		sum_kg += d.emissions_kg;
		sum_total += d.energy_consumed_kwh;
		/* After each delta the durations cover exactly the whole seconds elapsed. */
		assert_int_equal(sum_s, (int64_t)floor(elapsed));
		st = next;
		made++;
	}
	/* elapsed 0.37 (i = 0) is the only sample below 1 s: held once. */
	assert_int_equal(held, 1);
	assert_int_equal(made, 999);
	/* Last elapsed 0.37 + 1.3 * 999 = 1299.07 s. */
	assert_int_equal(sum_s, 1299);
	assert_true(fabs(sum_cpu - 40 * 1.3 * 1000 / 3.6e6) <= 1e-12 * sum_cpu);
	assert_true(fabs(sum_ram - 10 * 1.3 * 1000 / 3.6e6) <= 1e-12 * sum_ram);
	assert_true(fabs(sum_total - 50 * 1.3 * 1000 / 3.6e6) <= 1e-12 * sum_total);
	assert_true(fabs(sum_kg - 50 * 1.3 * 1000 / 3.6e6 * 0.475) <= 1e-12 * sum_kg);

	/* Stop at 1299.5 s after 0.43 s more: the durations then sum to ceil(1299.5) = 1300. */
	{
		struct emission_totals t = totals(1299.5, cpu + 40 * 0.43 / 3.6e6,
						  ram + 10 * 0.43 / 3.6e6, kg);

		assert_int_equal(emission_delta_make(&st, &t, true, &d, &next), 0);
		assert_int_equal(sum_s + d.duration_s, 1300);
		assert_true(fabs(sum_cpu + d.cpu_energy_kwh - 40 * (1.3 * 1000 + 0.43) / 3.6e6) <=
			    1e-12 * sum_cpu);
	}
}

/* Sub-second intervals: held until a whole second has passed, energy carried, never lost. */
static void test_held_until_a_whole_second(void **state)
{
	struct emission_state st, next;
	struct emission_delta d;
	struct emission_totals t;
	int64_t sum_s = 0;
	double sum_kwh = 0;

	(void)state;
	emission_state_init(&st);
	t = totals(0.4, 0.001, 0, 0.0005);
	assert_int_equal(emission_delta_make(&st, &t, false, &d, &next), -EAGAIN);
	t = totals(0.8, 0.002, 0, 0.001);
	assert_int_equal(emission_delta_make(&st, &t, false, &d, &next), -EAGAIN);
	t = totals(1.2, 0.003, 0, 0.0015);
	assert_int_equal(emission_delta_make(&st, &t, false, &d, &next), 0);
	assert_int_equal(d.duration_s, 1);
	assert_double_equal(d.cpu_energy_kwh, 0.003, 1e-15);
	assert_double_equal(d.emissions_kg, 0.0015, 1e-15);
	st = next;
	sum_s += d.duration_s;
	sum_kwh += d.cpu_energy_kwh;
	/* 0.25 s intervals from 1.2 s to 3.95 s: deltas at 2.2 and 3.2 only. */
	for (int i = 1; i <= 11; i++) {
		int ret;

		t = totals(1.2 + 0.25 * i, 0.003 + 0.001 * i, 0, 0.0015 + 0.0005 * i);
		ret = emission_delta_make(&st, &t, false, &d, &next);
		if (i == 4 || i == 8) {
			assert_int_equal(ret, 0);
			assert_int_equal(d.duration_s, 1);
			/* Four quarter-second samples of 0.001 kWh each. */
			assert_double_equal(d.cpu_energy_kwh, 0.004, 1e-12);
			st = next;
			sum_s += d.duration_s;
			sum_kwh += d.cpu_energy_kwh;
		} else {
			assert_int_equal(ret, -EAGAIN);
		}
	}
	/* Final at 3.95 s: ceil is 4, 3 already sent; 0.003 kWh left. */
	assert_int_equal(emission_delta_make(&st, &t, true, &d, &next), 0);
	assert_int_equal(d.duration_s, 1);
	assert_double_equal(d.cpu_energy_kwh, 0.003, 1e-12);
	assert_true(next.closed);
	sum_s += d.duration_s;
	sum_kwh += d.cpu_energy_kwh;
	assert_int_equal(sum_s, 4);
	assert_double_equal(sum_kwh, 0.014, 1e-12);
	/* Nothing can follow a final delta. */
	assert_int_equal(emission_delta_make(&next, &t, true, &d, &st), -EINVAL);
}

/* The final delta covers the partial last second: durations sum to ceil(elapsed). */
static void test_final_rounds_the_last_second_up(void **state)
{
	struct emission_state st, next;
	struct emission_delta d;
	struct emission_totals t;

	(void)state;
	emission_state_init(&st);
	t = totals(10.2, 0.01, 0.002, 0.006);
	assert_int_equal(emission_delta_make(&st, &t, false, &d, &next), 0);
	assert_int_equal(d.duration_s, 10);
	st = next;
	t = totals(12.9, 0.013, 0.0026, 0.0078);
	assert_int_equal(emission_delta_make(&st, &t, true, &d, &next), 0);
	/* ceil(12.9) = 13, 10 already sent. */
	assert_int_equal(d.duration_s, 3);
	assert_double_equal(d.cpu_energy_kwh, 0.003, 1e-12);
	assert_double_equal(d.ram_energy_kwh, 0.0006, 1e-12);
	assert_double_equal(d.energy_consumed_kwh, 0.0036, 1e-12);
	assert_double_equal(d.emissions_kg, 0.0018, 1e-12);
	/* 0.0018 kg over 3 s. */
	assert_double_equal(d.emissions_rate_kg_s, 0.0006, 1e-12);
	assert_int_equal(next.sent_s, 13);
	assert_true(next.closed);
}

static void test_final_edge_cases(void **state)
{
	struct emission_state st, next;
	struct emission_delta d;
	struct emission_totals t;

	(void)state;
	/* Nothing new since the last delta, partial second left: sent, 1 s of zeros. */
	emission_state_init(&st);
	t = totals(5.5, 0.01, 0, 0.005);
	assert_int_equal(emission_delta_make(&st, &t, false, &d, &next), 0);
	assert_int_equal(d.duration_s, 5);
	st = next;
	t.elapsed_s = 5.9;
	assert_int_equal(emission_delta_make(&st, &t, true, &d, &next), 0);
	assert_int_equal(d.duration_s, 1);
	assert_true(d.cpu_energy_kwh == 0 && d.emissions_kg == 0);
	/* Elapsed a whole second already sent, nothing left: nothing to send. */
	emission_state_init(&st);
	t = totals(6.0, 0.01, 0, 0.005);
	assert_int_equal(emission_delta_make(&st, &t, false, &d, &next), 0);
	st = next;
	assert_int_equal(emission_delta_make(&st, &t, true, &d, &next), -ENODATA);
	/* ... the same with energy left: 1 s more rather than losing it. */
	t.cpu_energy_kwh = 0.011;
	assert_int_equal(emission_delta_make(&st, &t, true, &d, &next), 0);
	assert_int_equal(d.duration_s, 1);
	assert_double_equal(d.cpu_energy_kwh, 0.001, 1e-15);
	assert_int_equal(next.sent_s, 7);
	/* A run shorter than a second: one delta of 1 s. */
	emission_state_init(&st);
	t = totals(0.3, 0.0001, 0, 0.00005);
	assert_int_equal(emission_delta_make(&st, &t, true, &d, &next), 0);
	assert_int_equal(d.duration_s, 1);
	assert_double_equal(d.emissions_rate_kg_s, 0.00005, 1e-15);
}

/* A total that dips by float noise gives 0, and the dip is not counted twice afterwards. */
static void test_negative_noise_clamped(void **state)
{
	struct emission_state st, next;
	struct emission_delta d;
	struct emission_totals t;

	(void)state;
	emission_state_init(&st);
	t = totals(3.0, 0.5, 0.1, 0.2);
	assert_int_equal(emission_delta_make(&st, &t, false, &d, &next), 0);
	st = next;
	t = totals(4.0, 0.5 - 1e-17, 0.1, 0.2 - 1e-17);
	assert_int_equal(emission_delta_make(&st, &t, false, &d, &next), 0);
	assert_true(d.cpu_energy_kwh == 0 && !signbit(d.cpu_energy_kwh));
	assert_true(d.emissions_kg == 0 && !signbit(d.emissions_kg));
	assert_true(d.emissions_rate_kg_s == 0);
	st = next;
	t = totals(5.0, 0.75, 0.1, 0.3);
	assert_int_equal(emission_delta_make(&st, &t, false, &d, &next), 0);
	assert_double_equal(d.cpu_energy_kwh, 0.25, 1e-15);
	assert_double_equal(d.emissions_kg, 0.1, 1e-15);
}

static void test_powers_and_utilisation(void **state)
{
	struct emission_state st, next;
	struct emission_delta d;
	struct emission_totals t;

	(void)state;
	emission_state_init(&st);
	t = totals(2.5, 0.001, 0.0005, 0.0004);
	t.cpu_power_w = 42.5;
	t.ram_power_w = -1;
	t.cpu_utilization_percent = 120;
	t.ram_utilization_percent = -5;
	t.wue_l_per_kwh = NAN;
	t.measured_at_us = 1234567;
	assert_int_equal(emission_delta_make(&st, &t, false, &d, &next), 0);
	assert_int_equal(d.timestamp_us, 1234567);
	assert_double_equal(d.cpu_power_w, 42.5, 0);
	assert_double_equal(d.ram_power_w, 0, 0);
	assert_true(isnan(d.gpu_power_w));
	assert_double_equal(d.cpu_utilization_percent, 100, 0);
	assert_double_equal(d.ram_utilization_percent, 0, 0);
	assert_true(isnan(d.gpu_utilization_percent));
	assert_true(isnan(d.wue_l_per_kwh));
}

static void test_invalid_input(void **state)
{
	struct emission_state st, next;
	struct emission_delta d;
	struct emission_totals t;

	(void)state;
	emission_state_init(&st);
	t = totals(NAN, 0, 0, 0);
	assert_int_equal(emission_delta_make(&st, &t, false, &d, &next), -EINVAL);
	t = totals(3, -0.1, 0, 0);
	assert_int_equal(emission_delta_make(&st, &t, false, &d, &next), -EINVAL);
	t = totals(3, INFINITY, 0, 0);
	assert_int_equal(emission_delta_make(&st, &t, false, &d, &next), -EINVAL);
	t = totals(7.5, 1, 0, 0);
	assert_int_equal(emission_delta_make(&st, &t, false, &d, &next), 0);
	st = next;
	/* Elapsed going back below what was sent. */
	t = totals(6.5, 1, 0, 0);
	assert_int_equal(emission_delta_make(&st, &t, false, &d, &next), -EINVAL);
	assert_int_equal(emission_delta_make(NULL, &t, false, &d, &next), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_drift_over_many_intervals),
		cmocka_unit_test(test_held_until_a_whole_second),
		cmocka_unit_test(test_final_rounds_the_last_second_up),
		cmocka_unit_test(test_final_edge_cases),
		cmocka_unit_test(test_negative_noise_clamped),
		cmocka_unit_test(test_powers_and_utilisation),
		cmocka_unit_test(test_invalid_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
