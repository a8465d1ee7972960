/* Unit tests for energy_probe(): every source's verdict and the powercap zones, on fake trees. */
#include <errno.h>
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

#include "energy.h"
#include "topology.h"
#include "tree.h"

#define BIG_MAX 262143328850ULL

static char root[PATH_MAX];
static struct topology topo;

/* Writes root/rel, creating directories; fails the test when it cannot. */
#define put(rel, ...) assert_int_equal(tree_put(root, rel, __VA_ARGS__), 0)

/* A zone directory `dir`/`id` (relative to root) with name, energy_uj, max_energy_range_uj. */
static void zone_at(const char *dir, const char *id, const char *name, unsigned long long uj)
{
	char rel[PATH_MAX];

	snprintf(rel, sizeof(rel), "%s/%s/name", dir, id);
	put(rel, "%s\n", name);
	snprintf(rel, sizeof(rel), "%s/%s/energy_uj", dir, id);
	put(rel, "%llu\n", uj);
	snprintf(rel, sizeof(rel), "%s/%s/max_energy_range_uj", dir, id);
	put(rel, "%llu\n", BIG_MAX);
}

/* Two sockets (physical ids 0 and 1), two CPUs each; a CPU model not in the TDP table. */
static void two_sockets(void)
{
	char procfs[PATH_MAX + 8];

	for (int cpu = 0; cpu < 4; cpu++) {
		char rel[96];

		snprintf(rel, sizeof(rel), "devices/system/cpu/cpu%d/topology/physical_package_id",
			 cpu);
		put(rel, "%d\n", cpu / 2);
	}
	put("devices/system/cpu/possible", "0-3\n");
	put("devices/system/cpu/online", "0-3\n");
	put("proc/cpuinfo", "processor\t: 0\nmodel name\t: Made-up CPU 9000\n");
	put("proc/meminfo", "MemTotal:       16777216 kB\n");
	snprintf(procfs, sizeof(procfs), "%s/proc", root);
	assert_int_equal(topology__load(&topo, root, procfs), 0);
}

static struct energy_opts opts(void)
{
	struct energy_opts o;

	memset(&o, 0, sizeof(o));
	o.sysfs_root = root;
	o.dev_root = root; /* no cpu/N/msr here: the msr driver is "not loaded" */
	return o;
}

static const struct energy_probe_zone *zone_named(const struct energy_probe_result *r,
						  const char *id)
{
	for (int i = 0; i < r->n_zones; i++)
		if (!strcmp(r->zones[i].id, id))
			return &r->zones[i];
	fail_msg("zone %s not listed", id);
	return NULL;
}

static void assert_contains(const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		fail_msg("\"%s\" does not contain \"%s\"", hay, needle);
}

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/cb-probe-XXXXXX");
	if (!mkdtemp(root))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	topology__free(&topo);
	return tree_remove(root);
}

/*
 * Packages with dram and core subzones, nested like the kernel's tree (class links omitted:
 * the devices/virtual/powercap layout). Packages are read, dram is listed but left out
 * (rapl_include_dram false), core is never added; the other sources say why they fail.
 */
static void test_powercap_selected_zones_listed(void **state)
{
	struct energy_probe_result *r = calloc(1, sizeof(*r));
	struct energy_opts o = opts();
	struct energy_source *e;
	const struct energy_probe_zone *z;

	(void)state;
	assert_non_null(r);
	two_sockets();
	zone_at("devices/virtual/powercap/intel-rapl", "intel-rapl:0", "package-0", 1000);
	zone_at("devices/virtual/powercap/intel-rapl/intel-rapl:0", "intel-rapl:0:0", "core", 10);
	zone_at("devices/virtual/powercap/intel-rapl/intel-rapl:0", "intel-rapl:0:1", "dram", 20);
	zone_at("devices/virtual/powercap/intel-rapl", "intel-rapl:1", "package-1", 2000);

	assert_int_equal(energy_probe(&o, &topo, r), 0);
	assert_int_equal(r->selected, ENERGY_POWERCAP);
	assert_false(r->estimated);
	assert_int_equal(r->src[ENERGY_POWERCAP].status, ENERGY_PROBE_SELECTED);
	assert_int_equal(r->src[ENERGY_POWERCAP].n_domains, 2);
	assert_string_equal(r->src[ENERGY_POWERCAP].domains[0].name, "package-0");
	assert_string_equal(r->src[ENERGY_POWERCAP].domains[1].name, "package-1");
	assert_int_equal(r->src[ENERGY_POWERCAP].domains[1].pkg, 1);
	assert_string_equal(r->src[ENERGY_POWERCAP].name, "powercap");

	assert_int_equal(r->src[ENERGY_PERF].status, ENERGY_PROBE_REJECTED);
	assert_contains(r->src[ENERGY_PERF].reason, "injected");
	assert_int_equal(r->src[ENERGY_MSR].status, ENERGY_PROBE_REJECTED);
	assert_contains(r->src[ENERGY_MSR].reason, "msr module not loaded");
	assert_int_equal(r->src[ENERGY_MODEL].status, ENERGY_PROBE_AVAILABLE);
	/* Made-up CPU: CodeCarbon's 4 W x 2 CPUs per package = 8.0 W */
	assert_contains(r->model, "8.0 W");
	assert_contains(r->describe, "package-0 (intel-rapl:0)");

	assert_int_equal(r->n_zones, 4);
	assert_contains(r->powercap_dir, "/devices/virtual/powercap");
	z = zone_named(r, "intel-rapl:0");
	assert_true(z->used);
	assert_string_equal(z->name, "package-0");
	assert_int_equal(z->read_err, 0);
	assert_contains(z->path, "/intel-rapl/intel-rapl:0");
	z = zone_named(r, "intel-rapl:0:1");
	assert_false(z->used);
	assert_contains(z->note, "rapl_include_dram");
	z = zone_named(r, "intel-rapl:0:0");
	assert_false(z->used);
	assert_contains(z->note, "core");

	/* energy__open() reaches the same verdict: it shares the detection. */
	assert_int_equal(energy__open(&e, &o, &topo), 0);
	assert_int_equal(energy__kind(e), ENERGY_POWERCAP);
	energy__free(e);

	/* with rapl_include_dram the dram zone is read too */
	o.include_dram = true;
	assert_int_equal(energy_probe(&o, &topo, r), 0);
	assert_true(zone_named(r, "intel-rapl:0:1")->used);
	assert_int_equal(r->src[ENERGY_POWERCAP].n_domains, 3);
	free(r);
}

/* MSR and MMIO copies of one package are one counter: one used, the other a mirror. */
static void test_mirror_listed(void **state)
{
	struct energy_probe_result *r = calloc(1, sizeof(*r));
	struct energy_opts o = opts();
	const struct energy_probe_zone *msr, *mmio;

	(void)state;
	assert_non_null(r);
	two_sockets();
	zone_at("class/powercap", "intel-rapl:0", "package-0", 500);
	zone_at("class/powercap", "intel-rapl-mmio:0", "package-0", 500);
	assert_int_equal(energy_probe(&o, &topo, r), 0);
	assert_int_equal(r->src[ENERGY_POWERCAP].n_domains, 1);
	msr = zone_named(r, "intel-rapl:0");
	mmio = zone_named(r, "intel-rapl-mmio:0");
	assert_true(mmio->used); /* MMIO preferred, as CodeCarbon does */
	assert_false(msr->used);
	assert_contains(msr->note, "mirror of intel-rapl-mmio:0");
	free(r);
}

/* force_mode_cpu_load: the counter works, but the model is used; said so. */
static void test_forced_model(void **state)
{
	struct energy_probe_result *r = calloc(1, sizeof(*r));
	struct energy_opts o = opts();

	(void)state;
	assert_non_null(r);
	two_sockets();
	zone_at("class/powercap", "intel-rapl:0", "package-0", 500);
	o.force_model = true;
	assert_int_equal(energy_probe(&o, &topo, r), 0);
	assert_int_equal(r->selected, ENERGY_MODEL);
	assert_true(r->estimated);
	assert_int_equal(r->src[ENERGY_POWERCAP].status, ENERGY_PROBE_AVAILABLE);
	assert_contains(r->src[ENERGY_POWERCAP].reason, "force_mode_cpu_load");
	assert_int_equal(r->src[ENERGY_MODEL].status, ENERGY_PROBE_SELECTED);
	assert_contains(r->describe, "ESTIMATED");
	free(r);
}

/* No powercap at all (a VM): rejected with the reason, no zones, energy estimated. */
static void test_no_powercap(void **state)
{
	struct energy_probe_result *r = calloc(1, sizeof(*r));
	struct energy_opts o = opts();

	(void)state;
	assert_non_null(r);
	two_sockets();
	assert_int_equal(energy_probe(&o, &topo, r), 0);
	assert_int_equal(r->src[ENERGY_POWERCAP].status, ENERGY_PROBE_REJECTED);
	assert_int_equal(r->src[ENERGY_POWERCAP].err, -ENODEV);
	assert_contains(r->src[ENERGY_POWERCAP].reason, "no powercap");
	assert_string_equal(r->powercap_dir, "");
	assert_int_equal(r->n_zones, 0);
	assert_true(r->estimated);
	assert_int_equal(r->selected, ENERGY_MODEL);
	assert_int_equal(r->src[ENERGY_MODEL].n_domains, 2); /* one model entry per package */
	free(r);
}

/* Only core/uncore zones: powercap rejected, the zones still listed with the reason. */
static void test_no_package_domain(void **state)
{
	struct energy_probe_result *r = calloc(1, sizeof(*r));
	struct energy_opts o = opts();

	(void)state;
	assert_non_null(r);
	two_sockets();
	zone_at("class/powercap", "intel-rapl:0", "core", 5);
	assert_int_equal(energy_probe(&o, &topo, r), 0);
	assert_int_equal(r->src[ENERGY_POWERCAP].status, ENERGY_PROBE_REJECTED);
	assert_contains(r->src[ENERGY_POWERCAP].reason, "no package or psys domain");
	assert_int_equal(r->n_zones, 1);
	assert_false(r->zones[0].used);
	assert_true(r->estimated);
	free(r);
}

static void test_bad_args(void **state)
{
	struct energy_probe_result *r = calloc(1, sizeof(*r));
	struct energy_opts o = opts();

	(void)state;
	assert_non_null(r);
	two_sockets();
	o.force_cpu_power_w = -1;
	assert_int_equal(energy_probe(&o, &topo, r), -EINVAL);
	assert_int_equal(energy_probe(NULL, &topo, r), -EINVAL);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_powercap_selected_zones_listed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mirror_listed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forced_model, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_powercap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_package_domain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_args, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
