/* Unit tests for user/topology.c: CPU list parsing and topology from a fake sysfs/procfs. */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "topology.h"
#include "tree.h"

static void expect_list(const char *text, const int *want, int nwant)
{
	int *cpus = NULL, n = -1;

	assert_int_equal(cpulist_parse(text, &cpus, &n), 0);
	assert_int_equal(n, nwant);
	for (int i = 0; i < nwant; i++)
		assert_int_equal(cpus[i], want[i]);
	free(cpus);
}

static void test_cpulist_valid(void **state)
{
	static const int r1[] = { 0, 1, 2, 3, 6 }, r2[] = { 0 }, r3[] = { 0, 1 },
			 r4[] = { 1, 2, 3, 8 }, r5[] = { 4, 5, 6 };

	(void)state;
	expect_list("0-3,6", r1, 5);
	expect_list("0", r2, 1);
	expect_list("0-1\n", r3, 2);
	expect_list("8,1-3\n", r4, 4);  /* out of order in, ascending out */
	expect_list("4-6,5", r5, 3);    /* overlap counted once */
	expect_list("\n", NULL, 0);     /* the kernel's empty list */
}

static void test_cpulist_garbage(void **state)
{
	static const char *const bad[] = { "abc", "1-", "3-1", "1,,2", "-1", "1 2", "0-3,x",
					   "1,", "0x3", "99999999999" };
	int *cpus = (int *)1, n = 7;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(cpulist_parse(bad[i], &cpus, &n), -EINVAL);
		assert_null(cpus);
		assert_int_equal(n, 0);
	}
	assert_int_equal(cpulist_parse(NULL, &cpus, &n), -EINVAL);
}

static char root[PATH_MAX];

/* Writes root/rel, creating directories; fails the test when it cannot. */
#define put(rel, text) assert_int_equal(tree_put(root, rel, "%s", text), 0)

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "%s/cbtopo.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	return mkdtemp(root) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return tree_remove(root);
}

/*
 * CPUs 0-5 possible, 4 offline. Physical ids: cpu0,1 -> 3; cpu2,3 -> 0; cpu4 -> 3 (offline);
 * cpu5 has no topology file (-> 0). So package 0 = phys 0 = {2,3,5}, package 1 = phys 3 = {0,1}.
 */
static void test_topology_two_packages(void **state)
{
	char procfs[PATH_MAX + 8];
	struct topology t;
	static const int pkg_of[] = { 1, 1, 0, 0, -1, 0 };

	(void)state;
	put("devices/system/cpu/possible", "0-5\n");
	put("devices/system/cpu/online", "0-3,5\n");
	put("devices/system/cpu/cpu0/topology/physical_package_id", "3\n");
	put("devices/system/cpu/cpu1/topology/physical_package_id", "3\n");
	put("devices/system/cpu/cpu2/topology/physical_package_id", "0\n");
	put("devices/system/cpu/cpu3/topology/physical_package_id", "0\n");
	put("devices/system/cpu/cpu4/topology/physical_package_id", "3\n");
	put("proc/cpuinfo", "processor\t: 0\nvendor_id\t: GenuineIntel\n"
			    "model name\t: Intel(R) Xeon(R) Processor  \nflags\t: fpu\n\n"
			    "processor\t: 1\nmodel name\t: Other\n");
	put("proc/meminfo", "MemTotal:       24683664 kB\nMemFree:         1000 kB\n");
	snprintf(procfs, sizeof(procfs), "%s/proc", root);

	assert_int_equal(topology__load(&t, root, procfs), 0);
	assert_int_equal(t.n_possible, 6);
	assert_int_equal(t.n_online, 5);
	assert_int_equal(t.online[4], 5);
	assert_int_equal(t.max_cpu, 5);
	assert_int_equal(t.n_pkgs, 2);
	assert_int_equal(t.pkg_phys_id[0], 0);
	assert_int_equal(t.pkg_phys_id[1], 3);
	assert_int_equal(t.pkg_ncpus[0], 3);
	assert_int_equal(t.pkg_ncpus[1], 2);
	for (int c = 0; c < 6; c++)
		assert_int_equal(t.pkg_of_cpu[c], pkg_of[c]);
	assert_string_equal(t.cpu_model, "Intel(R) Xeon(R) Processor");
	assert_true(t.ram_total_bytes == 24683664ULL * 1024);
	topology__free(&t);
}

/* Only the possible file: everything online, one package, no procfs. */
static void test_topology_minimal(void **state)
{
	struct topology t;
	char procfs[PATH_MAX + 8];

	(void)state;
	put("devices/system/cpu/possible", "0-3\n");
	snprintf(procfs, sizeof(procfs), "%s/noproc", root);
	assert_int_equal(topology__load(&t, root, procfs), 0);
	assert_int_equal(t.n_online, 4);
	assert_int_equal(t.n_pkgs, 1);
	assert_int_equal(t.pkg_ncpus[0], 4);
	assert_int_equal(t.pkg_phys_id[0], 0);
	assert_string_equal(t.cpu_model, "");
	assert_true(t.ram_total_bytes == 0);
	topology__free(&t);

	put("devices/system/cpu/possible", "zz\n");
	assert_int_equal(topology__load(&t, root, procfs), -EINVAL);
}

static void test_topology_missing_root(void **state)
{
	struct topology t;

	(void)state;
	assert_int_equal(topology__load(&t, root, root), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cpulist_valid),
		cmocka_unit_test(test_cpulist_garbage),
		cmocka_unit_test_setup_teardown(test_topology_two_packages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_topology_minimal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_topology_missing_root, setup, teardown),
	};
	int n = (int)(sizeof(tests) / sizeof(tests[0]));
	int failed = cmocka_run_group_tests(tests, NULL, NULL);

	printf("%d passed, %d failed\n", n - failed, failed);
	return failed ? 1 : 0;
}
