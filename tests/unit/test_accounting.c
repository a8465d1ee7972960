/* Unit tests of per-interval accounting from made-up BPF snapshots (user/accounting.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "accounting.h"

/* Two slots (CPU 0 in package 0, CPU 1 in package 1). */
static const int slot_pkg[2] = { 0, 1 };
static const int pkg_ncpus[2] = { 1, 1 };

struct fake {
	struct tracer_snapshot s;
	struct tracer_proc procs[4];
	uint64_t ns[4][2];
	uint64_t lost[2];
};

static void fake_init(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	f->s.procs = f->procs;
	f->s.lost_ns = f->lost;
	for (int i = 0; i < 4; i++) {
		f->procs[i].key.tgid = (uint32_t)(100 + i);
		f->procs[i].key.start_ns = 1000u + (uint64_t)i;
		f->procs[i].on_cpu_ns = f->ns[i];
		f->procs[i].has_info = true;
	}
	f->s.n = 2;
}

static void update(struct accounting *a, struct fake *f, uint64_t mono, size_t want_forget)
{
	struct cb_task_key *forget;
	size_t n;

	f->s.mono_ns = mono;
	assert_int_equal(accounting__update(a, &f->s, &forget, &n), 0);
	assert_int_equal(n, want_forget);
	free(forget);
}

static void deltas_per_package(void **state)
{
	struct accounting a;
	struct fake f;

	(void)state;
	fake_init(&f);
	assert_int_equal(accounting__init(&a, 2, slot_pkg, 2, pkg_ncpus), 0);
	f.ns[0][0] = 500; /* history before the baseline is not this run's */
	update(&a, &f, 1000000000, 0);
	assert_int_equal(a.n_active, 0);
	f.ns[0][0] = 800;
	f.ns[0][1] = 200;
	f.ns[1][1] = 700;
	update(&a, &f, 2000000000, 0);
	assert_int_equal(a.iv_wall_ns, 1000000000);
	assert_int_equal(a.n_active, 2);
	assert_int_equal(accounting__find(&a, &f.procs[0].key)->iv_pkg_ns[0], 300);
	assert_int_equal(accounting__find(&a, &f.procs[0].key)->iv_pkg_ns[1], 200);
	assert_int_equal(accounting__find(&a, &f.procs[1].key)->iv_ns, 700);
	assert_int_equal(accounting__busy_ns(&a)[0], 300);
	assert_int_equal(accounting__busy_ns(&a)[1], 900);
	accounting__free(&a);
}

static void split_per_package_conserves(void **state)
{
	struct energy_sample e = { .n = 3 };
	struct accounting a;
	struct fake f;

	(void)state;
	fake_init(&f);
	assert_int_equal(accounting__init(&a, 2, slot_pkg, 2, pkg_ncpus), 0);
	update(&a, &f, 1000, 0);
	f.ns[0][0] = 300; /* pkg 0: only proc 100 */
	f.ns[0][1] = 100; /* pkg 1: 100 vs 300 */
	f.ns[1][1] = 300;
	f.lost[1] = 100;  /* pkg 1 also had 100 ns the kernel could not charge */
	update(&a, &f, 2000, 0);
	e.r[0] = (struct energy_reading){ .name = "package-0", .pkg = 0, .energy_uj = 1001 };
	e.r[1] = (struct energy_reading){ .name = "package-1", .pkg = 1, .energy_uj = 1000 };
	e.r[2] = (struct energy_reading){ .name = "ram", .pkg = -1, .is_ram = true, .energy_uj = 70 };
	assert_int_equal(accounting__attribute(&a, &e, IDLE_POLICY_BUSY), 0);
	/* package-1: 1000 uJ over 100/300/100 ns -> 200, 600, 200 unattributed. */
	assert_int_equal(accounting__find(&a, &f.procs[0].key)->iv_cpu_uj, 1001 + 200);
	assert_int_equal(accounting__find(&a, &f.procs[1].key)->iv_cpu_uj, 600);
	assert_int_equal(a.splits[1].unattributed_uj, 200);
	/* ram over all CPUs: 400 vs 300 vs 100 lost of 70 uJ -> 35, 26.25, 8.75. */
	assert_int_equal(accounting__find(&a, &f.procs[0].key)->iv_ram_uj, 35);
	assert_int_equal(accounting__find(&a, &f.procs[1].key)->iv_ram_uj, 26);
	assert_int_equal(a.splits[2].unattributed_uj, 9);
	for (int i = 0; i < 3; i++)
		assert_int_equal(a.splits[i].attributed_uj + a.splits[i].unattributed_uj + a.splits[i].idle_uj,
				 e.r[i].energy_uj);
	accounting__free(&a);
}

static void exited_process_forgotten_one_snapshot_later(void **state)
{
	struct accounting a;
	struct fake f;

	(void)state;
	fake_init(&f);
	assert_int_equal(accounting__init(&a, 2, slot_pkg, 2, pkg_ncpus), 0);
	update(&a, &f, 1000, 0);
	f.ns[1][0] = 5000;
	f.procs[1].info.flags = CB_TASK_EXITED;
	update(&a, &f, 2000, 0);     /* first seen exited: its final figures are harvested */
	assert_int_equal(accounting__find(&a, &f.procs[1].key)->iv_ns, 5000);
	f.ns[1][0] = 5100;           /* the last slice after the exit tracepoint */
	update(&a, &f, 3000, 1);     /* now it may go */
	assert_int_equal(accounting__find(&a, &f.procs[1].key)->total_ns, 5100);
	/* A reused pid is another key: a new record, the old totals untouched. */
	f.procs[1].key.start_ns = 99999;
	f.procs[1].info.flags = 0;
	f.ns[1][0] = 10;
	update(&a, &f, 4000, 0);
	assert_int_equal(accounting__find(&a, &f.procs[1].key)->total_ns, 10);
	assert_int_equal(a.n_procs, 3);
	accounting__free(&a);
}

static void many_processes_grow_the_table(void **state)
{
	struct accounting a;
	struct tracer_snapshot s = { 0 };
	uint64_t lost[2] = { 0 };
	struct cb_task_key *forget;
	size_t n;
	enum { N = 5000 };
	uint64_t *ns = calloc(N * 2, sizeof(uint64_t));

	(void)state;
	s.procs = calloc(N, sizeof(*s.procs));
	s.lost_ns = lost;
	s.n = N;
	assert_int_equal(accounting__init(&a, 2, slot_pkg, 2, pkg_ncpus), 0);
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < N; i++) {
			s.procs[i].key.tgid = (uint32_t)i + 1;
			s.procs[i].key.start_ns = (uint64_t)i * 7;
			ns[i * 2] = (uint64_t)round * (uint64_t)(i + 1);
			s.procs[i].on_cpu_ns = &ns[i * 2];
		}
		s.mono_ns = 1000u * (unsigned)(round + 1);
		assert_int_equal(accounting__update(&a, &s, &forget, &n), 0);
		free(forget);
	}
	assert_int_equal(a.n_procs, N);
	assert_int_equal(a.n_active, N);
	for (int i = 0; i < N; i++)
		assert_int_equal(accounting__find(&a, &s.procs[i].key)->iv_ns, (uint64_t)i + 1);
	accounting__free(&a);
	free(s.procs);
	free(ns);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(deltas_per_package),
		cmocka_unit_test(split_per_package_conserves),
		cmocka_unit_test(exited_process_forgotten_one_snapshot_later),
		cmocka_unit_test(many_processes_grow_the_table),
	};
	return cmocka_run_group_tests_name("accounting", tests, NULL, NULL);
}
