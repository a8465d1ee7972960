/* Unit tests for the energy sources: fake powercap/msr trees through energy__open/energy__read. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
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
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include "cpu_tdp.h"
#include "energy.h"
#include "log.h"
#include "topology.h"
#include "tree.h"

#define SEC_NS 1000000000ULL
#define BIG_MAX 262143328850ULL
/* RAM in every fake meminfo: 24683664 kB = 23.5 GiB -> 4 DIMMs x 5 W = 20 W (CODECARBON.md 6.3) */
#define RAM_MODEL_UJ_PER_S 20000000ULL

static char root[PATH_MAX];
static struct topology topo;

/* ---- fake tree helpers ---- */

/* Writes root/rel, creating directories; fails the test when it cannot. */
#define put(rel, ...) assert_int_equal(tree_put(root, rel, __VA_ARGS__), 0)

/* A zone under dir (relative to root); max 0 leaves max_energy_range_uj out. */
static void zone_at(const char *dir, const char *id, const char *name, uint64_t energy_uj,
		    uint64_t max_uj)
{
	char rel[PATH_MAX];

	snprintf(rel, sizeof(rel), "%s/%s/name", dir, id);
	put(rel, "%s\n", name);
	snprintf(rel, sizeof(rel), "%s/%s/energy_uj", dir, id);
	put(rel, "%llu\n", (unsigned long long)energy_uj);
	if (max_uj) {
		snprintf(rel, sizeof(rel), "%s/%s/max_energy_range_uj", dir, id);
		put(rel, "%llu\n", (unsigned long long)max_uj);
	}
}

/* A zone in the flat /sys/class/powercap layout. */
static void zone(const char *id, const char *name, uint64_t energy_uj, uint64_t max_uj)
{
	zone_at("class/powercap", id, name, energy_uj, max_uj);
}

static void set_uj(const char *id, uint64_t energy_uj)
{
	char rel[PATH_MAX];

	snprintf(rel, sizeof(rel), "class/powercap/%s/energy_uj", id);
	put(rel, "%llu\n", (unsigned long long)energy_uj);
}

/* Topology: ncpus_per CPUs on each of the given physical packages, plus cpuinfo/meminfo. */
static void make_topology(int npkg, const int *phys, int ncpus_per, const char *model)
{
	char rel[128], procfs[PATH_MAX + 8];
	int cpu = 0;

	for (int p = 0; p < npkg; p++) {
		for (int i = 0; i < ncpus_per; i++, cpu++) {
			snprintf(rel, sizeof(rel), "devices/system/cpu/cpu%d/topology/physical_package_id",
				 cpu);
			put(rel, "%d\n", phys[p]);
		}
	}
	put("devices/system/cpu/possible", "0-%d\n", cpu - 1);
	put("devices/system/cpu/online", "0-%d\n", cpu - 1);
	put("proc/cpuinfo", "processor\t: 0\nmodel name\t: %s\n", model);
	put("proc/meminfo", "MemTotal:       24683664 kB\n");
	snprintf(procfs, sizeof(procfs), "%s/proc", root);
	topology__free(&topo);
	assert_int_equal(topology__load(&topo, root, procfs), 0);
}

static void two_sockets(void)
{
	static const int phys[] = { 0, 1 };

	make_topology(2, phys, 2, "Intel(R) Xeon(R) Processor");
}

static struct energy_opts base_opts(void)
{
	struct energy_opts o;

	memset(&o, 0, sizeof(o));
	o.sysfs_root = root;
	o.dev_root = root; /* no cpu/N/msr here: the MSR source is absent */
	return o;
}

static const struct energy_reading *find(const struct energy_sample *s, const char *name, int pkg)
{
	for (int i = 0; i < s->n; i++)
		if (!strcmp(s->r[i].name, name) && s->r[i].pkg == pkg)
			return &s->r[i];
	return NULL;
}

static uint64_t expect_reading(const struct energy_sample *s, const char *name, int pkg,
			       bool is_ram)
{
	const struct energy_reading *r = find(s, name, pkg);

	if (!r)
		fail_msg("no reading %s (pkg %d)", name, pkg);
	assert_int_equal(r->is_ram, is_ram);
	return r->energy_uj;
}

static uint64_t cpu_total(const struct energy_sample *s)
{
	uint64_t sum = 0;

	for (int i = 0; i < s->n; i++)
		if (!s->r[i].is_ram)
			sum += s->r[i].energy_uj;
	return sum;
}

static int setup(void **state)
{
	(void)state;
	memset(&topo, 0, sizeof(topo));
	snprintf(root, sizeof(root), "%s/cbenergy.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(root))
		return -1;
	return chmod(root, 0755); /* traversable by the unprivileged child of the EACCES test */
}

static int teardown(void **state)
{
	(void)state;
	topology__free(&topo);
	log_set_level(LOG_WARNING);
	return tree_remove(root);
}

/* ---- pure functions ---- */

static void test_model_formulas(void **state)
{
	(void)state;
	/* P = Pmax (0.1 + 0.9 load^3): 100 (0.1 + 0.9 x 0.125) = 21.25 */
	assert_float_equal(energy_cpu_model_w(100, 0.5), 21.25, 1e-9);
	assert_float_equal(energy_cpu_model_w(100, 0), 10, 1e-9);
	assert_float_equal(energy_cpu_model_w(100, 1), 100, 1e-9);
	assert_float_equal(energy_cpu_model_w(85, 2.0), 85, 1e-9);  /* load clamped to 1 */
	assert_float_equal(energy_cpu_model_w(100, -1), 10, 1e-9);  /* and to 0 */
	/* RAM (x86): 5 W per DIMM, 90 % for DIMMs 5-8, 80 % for 9-16, floor 10 W */
	assert_float_equal(energy_ram_model_w(24), 20, 1e-9);   /* 4 DIMMs */
	assert_float_equal(energy_ram_model_w(8), 10, 1e-9);    /* 2 DIMMs */
	assert_float_equal(energy_ram_model_w(2), 10, 1e-9);    /* 1 DIMM, floor */
	assert_float_equal(energy_ram_model_w(32), 20, 1e-9);
	assert_float_equal(energy_ram_model_w(128), 38, 1e-9);  /* 4 x 5 + 4 x 4.5 */
	assert_float_equal(energy_ram_model_w(1024), 38, 1e-9); /* 8 x 128 GiB */
	assert_float_equal(energy_ram_model_w(2048), 70, 1e-9); /* 16 x 128: 20 + 18 + 8 x 4 */
}

static void test_counter_delta(void **state)
{
	uint64_t d = 0;

	(void)state;
	assert_int_equal(energy_counter_delta(10, 30, 0, &d), 0);
	assert_true(d == 20);
	assert_int_equal(energy_counter_delta(90, 10, 100, &d), 0); /* 100 - 90 + 10 */
	assert_true(d == 20);
	assert_int_equal(energy_counter_delta(90, 10, 0, &d), -ERANGE);
	assert_int_equal(energy_counter_delta(5, 5, 0, &d), 0);
	assert_true(d == 0);
}

static void test_cpu_tdp_lookup(void **state)
{
	char m[128];
	double w = 0;

	(void)state;
	/* cpu_power.csv: "Intel Core i7-8700,65"; "AMD EPYC 7763,280" */
	assert_int_equal(cpu_tdp_lookup("Intel(R) Core(TM) i7-8700 CPU @ 3.20GHz", &w, m, sizeof(m)), 0);
	assert_float_equal(w, 65, 1e-9);
	assert_string_equal(m, "intel core i7-8700");
	assert_int_equal(cpu_tdp_lookup("intel core i7-8700", &w, NULL, 0), 0);
	assert_float_equal(w, 65, 1e-9);
	assert_int_equal(cpu_tdp_lookup("AMD EPYC 7763 64-Core Processor", &w, m, sizeof(m)), 0);
	assert_float_equal(w, 280, 1e-9);
	assert_int_equal(cpu_tdp_lookup("Intel(R) Xeon(R) Processor", &w, m, sizeof(m)), -ENOENT);
	assert_int_equal(cpu_tdp_lookup("Quantum Flux 9000", &w, m, sizeof(m)), -ENOENT);
	assert_int_equal(cpu_tdp_lookup("", &w, m, sizeof(m)), -EINVAL);
}

/* ---- powercap ---- */

/* (a) intel-rapl:0 package-0, intel-rapl:1 psys, intel-rapl:2 package-1. */
static void test_two_sockets_psys_between(void **state)
{
	struct energy_opts o = base_opts();
	struct energy_source *e;
	struct energy_sample s;

	(void)state;
	two_sockets();
	zone("intel-rapl:0", "package-0", 1000000, BIG_MAX);
	zone("intel-rapl:1", "psys", 5000000, BIG_MAX);
	zone("intel-rapl:2", "package-1", 3000000, BIG_MAX);

	assert_int_equal(energy__open(&e, &o, &topo), 0);
	assert_int_equal(energy__kind(e), ENERGY_POWERCAP);
	assert_false(energy__estimated(e));
	set_uj("intel-rapl:0", 1600000);
	set_uj("intel-rapl:1", 9000000);
	set_uj("intel-rapl:2", 3250000);
	assert_int_equal(energy__read(e, NULL, SEC_NS, &s), 0);
	assert_int_equal(s.n, 3);
	assert_true(expect_reading(&s, "package-0", 0, false) == 600000);
	assert_true(expect_reading(&s, "package-1", 1, false) == 250000);
	assert_true(expect_reading(&s, "ram-model", -1, true) == RAM_MODEL_UJ_PER_S);
	assert_null(find(&s, "psys", -1));
	energy__free(e);

	o.prefer_psys = true;
	assert_int_equal(energy__open(&e, &o, &topo), 0);
	set_uj("intel-rapl:0", 1700000);
	set_uj("intel-rapl:1", 10000000);
	assert_int_equal(energy__read(e, NULL, SEC_NS, &s), 0);
	assert_int_equal(s.n, 2);
	assert_true(expect_reading(&s, "psys", -1, false) == 1000000);
	assert_true(cpu_total(&s) == 1000000);
	energy__free(e);
}

static void test_psys_when_no_package(void **state)
{
	struct energy_opts o = base_opts();
	struct energy_source *e;
	struct energy_sample s;

	(void)state;
	two_sockets();
	zone("intel-rapl:0", "psys", 100, BIG_MAX);
	assert_int_equal(energy__open(&e, &o, &topo), 0);
	set_uj("intel-rapl:0", 700);
	assert_int_equal(energy__read(e, NULL, SEC_NS, &s), 0);
	assert_true(expect_reading(&s, "psys", -1, false) == 600);
	assert_true(cpu_total(&s) == 600);
	energy__free(e);
}

/* (b) dram subzone intel-rapl:0:2 and a top-level dram in the nested devices/virtual layout. */
static void test_dram_only_when_included(void **state)
{
	struct energy_opts o = base_opts();
	struct energy_source *e;
	struct energy_sample s;

	(void)state;
	two_sockets();
	zone("intel-rapl:0", "package-0", 1000000, BIG_MAX);
	zone("intel-rapl:0:0", "core", 500000, BIG_MAX);
	zone("intel-rapl:0:2", "dram", 2000000, BIG_MAX);

	assert_int_equal(energy__open(&e, &o, &topo), 0);
	set_uj("intel-rapl:0", 1100000);
	set_uj("intel-rapl:0:2", 2040000);
	assert_int_equal(energy__read(e, NULL, SEC_NS, &s), 0);
	assert_int_equal(s.n, 2);
	assert_true(expect_reading(&s, "package-0", 0, false) == 100000);
	assert_true(expect_reading(&s, "ram-model", -1, true) == RAM_MODEL_UJ_PER_S);
	assert_null(find(&s, "dram", 0));
	energy__free(e);

	o.include_dram = true;
	assert_int_equal(energy__open(&e, &o, &topo), 0);
	set_uj("intel-rapl:0", 1200000);
	set_uj("intel-rapl:0:2", 2070000);
	assert_int_equal(energy__read(e, NULL, SEC_NS, &s), 0);
	assert_int_equal(s.n, 2); /* measured dram replaces the RAM model */
	assert_true(expect_reading(&s, "package-0", 0, false) == 100000);
	assert_true(expect_reading(&s, "dram", 0, true) == 30000);
	assert_null(find(&s, "ram-model", -1));
	energy__free(e);
}

static void test_top_level_dram_virtual_layout(void **state)
{
	const char *v = "devices/virtual/powercap/intel-rapl";
	struct energy_opts o = base_opts();
	struct energy_source *e;
	struct energy_sample s;

	(void)state;
	two_sockets();
	zone_at(v, "intel-rapl:0", "package-0", 1000, BIG_MAX);
	zone_at("devices/virtual/powercap/intel-rapl/intel-rapl:0", "intel-rapl:0:0", "core", 10,
		BIG_MAX);
	zone_at(v, "intel-rapl:1", "dram", 5000, BIG_MAX);
	o.include_dram = true;
	assert_int_equal(energy__open(&e, &o, &topo), 0);
	assert_int_equal(energy__kind(e), ENERGY_POWERCAP);
	put("devices/virtual/powercap/intel-rapl/intel-rapl:0/energy_uj", "4000\n");
	put("devices/virtual/powercap/intel-rapl/intel-rapl:0/intel-rapl:0:0/energy_uj", "2010\n");
	put("devices/virtual/powercap/intel-rapl/intel-rapl:1/energy_uj", "5500\n");
	assert_int_equal(energy__read(e, NULL, SEC_NS, &s), 0);
	assert_int_equal(s.n, 2);
	assert_true(expect_reading(&s, "package-0", 0, false) == 3000);
	assert_true(expect_reading(&s, "dram", -1, true) == 500);
	energy__free(e);
}

/* (c) the MSR and MMIO interfaces to one package counter. */
static void test_msr_mmio_copies_counted_once(void **state)
{
	struct energy_opts o = base_opts();
	struct energy_source *e;
	struct energy_sample s;

	(void)state;
	two_sockets();
	zone("intel-rapl:0", "package-0", 7000000, BIG_MAX);
	zone("intel-rapl-mmio:0", "package-0", 7000000, BIG_MAX);
	assert_int_equal(energy__open(&e, &o, &topo), 0);
	set_uj("intel-rapl:0", 7300000);
	set_uj("intel-rapl-mmio:0", 7300000);
	assert_int_equal(energy__read(e, NULL, SEC_NS, &s), 0);
	assert_int_equal(s.n, 2);
	assert_true(expect_reading(&s, "package-0", 0, false) == 300000);
	assert_true(cpu_total(&s) == 300000);
	/* the MMIO copy is the one kept */
	assert_non_null(strstr(energy__describe(e), "(intel-rapl-mmio:0)"));
	assert_null(strstr(energy__describe(e), "(intel-rapl:0)"));
	energy__free(e);
}

/* (d) dies repeating one package counter count once; dies with their own counters each count. */
static void test_dies_mirroring_one_counter(void **state)
{
	struct energy_opts o = base_opts();
	struct energy_source *e;
	struct energy_sample s;

	(void)state;
	two_sockets();
	zone("intel-rapl:0", "package-0-die-0", 4000000, BIG_MAX);
	zone("intel-rapl:1", "package-0-die-1", 4000000, BIG_MAX);
	assert_int_equal(energy__open(&e, &o, &topo), 0);
	set_uj("intel-rapl:0", 4500000);
	set_uj("intel-rapl:1", 4500000);
	assert_int_equal(energy__read(e, NULL, SEC_NS, &s), 0);
	assert_int_equal(s.n, 2);
	assert_true(cpu_total(&s) == 500000);
	assert_true(expect_reading(&s, "package-0", 0, false) == 500000);
	energy__free(e);

	/* same name twice, equal readings: one counter */
	zone("intel-rapl:1", "package-0", 4500000, BIG_MAX);
	zone("intel-rapl:0", "package-0", 4500000, BIG_MAX);
	assert_int_equal(energy__open(&e, &o, &topo), 0);
	set_uj("intel-rapl:0", 4600000);
	set_uj("intel-rapl:1", 4600000);
	assert_int_equal(energy__read(e, NULL, SEC_NS, &s), 0);
	assert_int_equal(s.n, 2);
	assert_true(expect_reading(&s, "package-0", 0, false) == 100000);
	energy__free(e);
}

static void test_dies_with_own_counters(void **state)
{
	struct energy_opts o = base_opts();
	struct energy_source *e;
	struct energy_sample s;

	(void)state;
	two_sockets();
	zone("intel-rapl:0", "package-0-die-0", 4000000, BIG_MAX);
	zone("intel-rapl:1", "package-0-die-1", 9000000, BIG_MAX);
	assert_int_equal(energy__open(&e, &o, &topo), 0);
	set_uj("intel-rapl:0", 4500000);
	set_uj("intel-rapl:1", 9700000);
	assert_int_equal(energy__read(e, NULL, SEC_NS, &s), 0);
	assert_int_equal(s.n, 3);
	assert_true(expect_reading(&s, "package-0-die-0", 0, false) == 500000);
	assert_true(expect_reading(&s, "package-0-die-1", 0, false) == 700000);
	energy__free(e);
}

/* (e) each domain wraps at its own max_energy_range_uj. */
static void test_wrap_per_domain(void **state)
{
	struct energy_opts o = base_opts();
	struct energy_source *e;
	struct energy_sample s;

	(void)state;
	two_sockets();
	zone("intel-rapl:0", "package-0", 900000, 1000000);
	zone("intel-rapl:1", "package-1", 4900000, 5000000);
	assert_int_equal(energy__open(&e, &o, &topo), 0);
	set_uj("intel-rapl:0", 100000);  /* 1000000 - 900000 + 100000 */
	set_uj("intel-rapl:1", 400000);  /* 5000000 - 4900000 + 400000 */
	assert_int_equal(energy__read(e, NULL, SEC_NS, &s), 0);
	assert_true(expect_reading(&s, "package-0", 0, false) == 200000);
	assert_true(expect_reading(&s, "package-1", 1, false) == 500000);
	set_uj("intel-rapl:0", 150000);
	set_uj("intel-rapl:1", 400001);
	assert_int_equal(energy__read(e, NULL, SEC_NS, &s), 0);
	assert_true(expect_reading(&s, "package-0", 0, false) == 50000);
	assert_true(expect_reading(&s, "package-1", 1, false) == 1);
	energy__free(e);
}

/* (f) a wrap with no max_energy_range_uj drops that domain's sample only. */
static void test_wrap_unknown_max_dropped(void **state)
{
	struct energy_opts o = base_opts();
	struct energy_source *e;
	struct energy_sample s;

	(void)state;
	two_sockets();
	zone("intel-rapl:0", "package-0", 900000, 0);
	zone("intel-rapl:1", "package-1", 1000000, 5000000);
	assert_int_equal(energy__open(&e, &o, &topo), 0);
	set_uj("intel-rapl:0", 100000);
	set_uj("intel-rapl:1", 1300000);
	assert_int_equal(energy__read(e, NULL, SEC_NS, &s), 0);
	assert_null(find(&s, "package-0", 0));
	assert_true(expect_reading(&s, "package-1", 1, false) == 300000);
	assert_true(expect_reading(&s, "ram-model", -1, true) == RAM_MODEL_UJ_PER_S);
	assert_int_equal(s.n, 2);
	/* counted again from the reading after the wrap */
	set_uj("intel-rapl:0", 180000);
	assert_int_equal(energy__read(e, NULL, SEC_NS, &s), 0);
	assert_true(expect_reading(&s, "package-0", 0, false) == 80000);
	assert_true(expect_reading(&s, "package-1", 1, false) == 0);
	energy__free(e);
}

/* (h) core and uncore are parts of the package: never added. */
static void test_core_uncore_not_added(void **state)
{
	struct energy_opts o = base_opts();
	struct energy_source *e;
	struct energy_sample s;

	(void)state;
	two_sockets();
	zone("intel-rapl:0", "package-0", 1000000, BIG_MAX);
	zone("intel-rapl:0:0", "core", 500000, BIG_MAX);
	zone("intel-rapl:0:1", "uncore", 200000, BIG_MAX);
	o.include_dram = true; /* no dram here: the RAM model stays */
	assert_int_equal(energy__open(&e, &o, &topo), 0);
	set_uj("intel-rapl:0", 2000000);
	set_uj("intel-rapl:0:0", 1300000);
	set_uj("intel-rapl:0:1", 350000);
	assert_int_equal(energy__read(e, NULL, SEC_NS, &s), 0);
	assert_int_equal(s.n, 2);
	assert_true(expect_reading(&s, "package-0", 0, false) == 1000000);
	assert_true(cpu_total(&s) == 1000000);
	assert_non_null(find(&s, "ram-model", -1));
	energy__free(e);
}

/* package-N names the physical id: package-7 has no CPU here (pkg -1), package-1 is index 0. */
static void test_package_by_physical_id(void **state)
{
	static const int phys[] = { 1 };
	struct energy_opts o = base_opts();
	struct energy_source *e;
	struct energy_sample s;

	(void)state;
	make_topology(1, phys, 2, "x");
	zone("intel-rapl:0", "package-7", 10, BIG_MAX);
	zone("intel-rapl:1", "package-1", 10, BIG_MAX);
	assert_int_equal(energy__open(&e, &o, &topo), 0);
	set_uj("intel-rapl:0", 20);
	set_uj("intel-rapl:1", 40);
	assert_int_equal(energy__read(e, NULL, SEC_NS, &s), 0);
	assert_true(expect_reading(&s, "package-7", -1, false) == 10);
	assert_true(expect_reading(&s, "package-1", 0, false) == 30);
	energy__free(e);
}

/* (g) the check run by the (possibly unprivileged) child; exit code says what went wrong. */
static int unreadable_child(int log_fd, bool drop_root)
{
	struct energy_opts o = base_opts();
	struct energy_source *e;
	struct energy_sample s;
	int rc = 0;

	if (dup2(log_fd, STDERR_FILENO) < 0)
		return 10;
	if (drop_root && (setgroups(0, NULL) || setgid(65534) || setuid(65534)))
		return 77;
	log_set_level(LOG_INFO);
	if (energy__open(&e, &o, &topo))
		return 11;
	if (energy__kind(e) != ENERGY_MODEL || !energy__estimated(e))
		rc = 12;
	else if (energy__read(e, NULL, SEC_NS, &s) || !find(&s, "cpu-model", 0))
		rc = 13;
	energy__free(e);
	return rc;
}

static int count_in(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static void test_unreadable_energy_falls_back(void **state)
{
	char path[PATH_MAX + 64], log[16384];
	bool as_root = geteuid() == 0;
	int fd, status;
	ssize_t got;
	pid_t pid;

	(void)state;
	two_sockets();
	zone("intel-rapl:0", "package-0", 1000, BIG_MAX);
	zone("intel-rapl:1", "package-1", 1000, BIG_MAX);
	/* root reads anything: the child drops to nobody, for whom 0600 root files are closed */
	snprintf(path, sizeof(path), "%s/class/powercap/intel-rapl:1/energy_uj", root);
	assert_int_equal(chmod(path, as_root ? 0600 : 0), 0);
	snprintf(path, sizeof(path), "%s/class/powercap/intel-rapl:0/energy_uj", root);
	assert_int_equal(chmod(path, as_root ? 0600 : 0), 0);
	snprintf(path, sizeof(path), "%s/stderr.log", root);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(unreadable_child(fd, as_root));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77) {
		close(fd);
		skip();
	}
	got = pread(fd, log, sizeof(log) - 1, 0);
	close(fd);
	assert_true(got >= 0);
	log[got] = '\0';
	assert_int_equal(WEXITSTATUS(status), 0);
	/* one clear diagnostic, however many files are closed, then the next sources */
	assert_int_equal(count_in(log, "chmod a+r"), 1);
	assert_int_equal(count_in(log, "Permission denied"), 1);
	assert_non_null(strstr(log, "run carbonbpf as root"));
	assert_non_null(strstr(log, "modprobe msr"));
	assert_non_null(strstr(log, "CPU-load model"));
}

/* ---- MSR through a fake <dev>/cpu/N/msr (a sparse file read at the register offset) ---- */

static void put_msr(int fd, uint32_t reg, uint64_t v)
{
	assert_int_equal(pwrite(fd, &v, sizeof(v), reg), (ssize_t)sizeof(v));
}

static void test_msr_fake_device(void **state)
{
	static const int phys[] = { 0 };
	struct energy_opts o = base_opts();
	struct energy_source *e;
	struct energy_sample s;
	char path[PATH_MAX + 32];
	int fd;

	(void)state;
	make_topology(1, phys, 2, "Intel(R) Xeon(R) Processor");
	put("cpu/0/msr", "%s", "");
	snprintf(path, sizeof(path), "%s/cpu/0/msr", root);
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	/* ESU (bits 12:8) = 14: 1/16384 J = 61.03515625 uJ per count */
	put_msr(fd, 0x606, 0x000a0e03);
	/* high half is reserved: only the low 32 bits count */
	put_msr(fd, 0x611, 0xdead0000fffff000ULL);

	assert_int_equal(energy__open(&e, &o, &topo), 0);
	assert_int_equal(energy__kind(e), ENERGY_MSR);
	/* wrap at 2^32: 0x1000 to the top + 0x1000 = 8192 counts = 0.5 J */
	put_msr(fd, 0x611, 0x1000);
	assert_int_equal(energy__read(e, NULL, SEC_NS, &s), 0);
	assert_true(expect_reading(&s, "package-0", 0, false) == 500000);
	/* 16384 counts = 1 J */
	put_msr(fd, 0x611, 0x5000);
	assert_int_equal(energy__read(e, NULL, SEC_NS, &s), 0);
	assert_true(expect_reading(&s, "package-0", 0, false) == 1000000);
	/* single counts: 61.035 uJ each, fractions carried so 3 counts give floor(183.1) = 183 */
	put_msr(fd, 0x611, 0x5001);
	assert_int_equal(energy__read(e, NULL, SEC_NS, &s), 0);
	assert_true(expect_reading(&s, "package-0", 0, false) == 61);
	put_msr(fd, 0x611, 0x5003);
	assert_int_equal(energy__read(e, NULL, SEC_NS, &s), 0);
	assert_true(expect_reading(&s, "package-0", 0, false) == 122);
	energy__free(e);

	/* a counter that reads 0 is no energy source */
	put_msr(fd, 0x611, 0);
	assert_int_equal(energy__open(&e, &o, &topo), 0);
	assert_int_equal(energy__kind(e), ENERGY_MODEL);
	energy__free(e);
	close(fd);
}

/* ---- CPU-load model ---- */

/* (i) Pmax 100 W, load 0.5 -> 21.25 W; 23.5 GiB of RAM -> 20 W. */
static void test_model_forced_power(void **state)
{
	static const int phys1[] = { 0 }, phys2[] = { 0, 1 };
	struct energy_opts o = base_opts();
	struct energy_source *e;
	struct energy_sample s;
	uint64_t busy[2];

	(void)state;
	make_topology(1, phys1, 4, "Intel(R) Xeon(R) Processor");
	zone("intel-rapl:0", "package-0", 1, BIG_MAX); /* force_cpu_power skips hardware */
	o.force_cpu_power_w = 100;
	assert_int_equal(energy__open(&e, &o, &topo), 0);
	assert_int_equal(energy__kind(e), ENERGY_MODEL);
	assert_true(energy__estimated(e));
	assert_non_null(strstr(energy__describe(e), "force_cpu_power"));
	busy[0] = 4 * SEC_NS; /* 4 CPUs x 2 s x load 0.5 */
	assert_int_equal(energy__read(e, busy, 2 * SEC_NS, &s), 0);
	assert_int_equal(s.n, 2);
	assert_true(expect_reading(&s, "cpu-model", 0, false) == 42500000); /* 21.25 W x 2 s */
	assert_true(expect_reading(&s, "ram-model", -1, true) == 40000000); /* 20 W x 2 s */
	/* no load figures: CodeCarbon's constant mode, Pmax / 2 */
	assert_int_equal(energy__read(e, NULL, SEC_NS, &s), 0);
	assert_true(expect_reading(&s, "cpu-model", 0, false) == 50000000);
	energy__free(e);

	/* two sockets: the forced machine power is shared by CPU count, 50 W each */
	make_topology(2, phys2, 2, "Intel(R) Xeon(R) Processor");
	o.force_ram_power_w = 7.5;
	assert_int_equal(energy__open(&e, &o, &topo), 0);
	busy[0] = 2 * SEC_NS; /* load 1 */
	busy[1] = 0;          /* load 0 */
	assert_int_equal(energy__read(e, busy, SEC_NS, &s), 0);
	assert_int_equal(s.n, 3);
	assert_true(expect_reading(&s, "cpu-model", 0, false) == 50000000);
	assert_true(expect_reading(&s, "cpu-model", 1, false) == 5000000);
	assert_true(expect_reading(&s, "ram-model", -1, true) == 7500000);
	energy__free(e);
}

/* Unknown CPU with no counters: 4 W x logical CPUs (CodeCarbon); a known one: its TDP. */
static void test_model_tdp_and_unknown_cpu(void **state)
{
	static const int phys[] = { 0 };
	struct energy_opts o = base_opts();
	struct energy_source *e;
	struct energy_sample s;
	uint64_t busy[1];

	(void)state;
	make_topology(1, phys, 4, "Intel(R) Xeon(R) Processor");
	assert_int_equal(energy__open(&e, &o, &topo), 0); /* no powercap, no msr: model */
	assert_int_equal(energy__kind(e), ENERGY_MODEL);
	assert_non_null(strstr(energy__describe(e), "4 W x 4 logical CPUs"));
	busy[0] = 4 * SEC_NS; /* full load: Pmax = 16 W */
	assert_int_equal(energy__read(e, busy, SEC_NS, &s), 0);
	assert_true(expect_reading(&s, "cpu-model", 0, false) == 16000000);
	energy__free(e);

	make_topology(1, phys, 4, "Intel(R) Core(TM) i7-8700 CPU @ 3.20GHz");
	o.force_model = true;
	zone("intel-rapl:0", "package-0", 1, BIG_MAX); /* ignored: force_mode_cpu_load */
	assert_int_equal(energy__open(&e, &o, &topo), 0);
	assert_int_equal(energy__kind(e), ENERGY_MODEL);
	assert_non_null(strstr(energy__describe(e), "65.0 W"));
	busy[0] = 0; /* idle: 65 W x 0.1 */
	assert_int_equal(energy__read(e, busy, SEC_NS, &s), 0);
	assert_true(expect_reading(&s, "cpu-model", 0, false) == 6500000);
	energy__free(e);
}

static void test_open_bad_args(void **state)
{
	struct energy_opts o = base_opts();
	struct energy_source *e;

	(void)state;
	two_sockets();
	o.force_cpu_power_w = -1;
	assert_int_equal(energy__open(&e, &o, &topo), -EINVAL);
	assert_int_equal(energy__open(&e, NULL, &topo), -EINVAL);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_model_formulas),
		cmocka_unit_test(test_counter_delta),
		cmocka_unit_test(test_cpu_tdp_lookup),
		T(test_two_sockets_psys_between),
		T(test_psys_when_no_package),
		T(test_dram_only_when_included),
		T(test_top_level_dram_virtual_layout),
		T(test_msr_mmio_copies_counted_once),
		T(test_dies_mirroring_one_counter),
		T(test_dies_with_own_counters),
		T(test_wrap_per_domain),
		T(test_wrap_unknown_max_dropped),
		T(test_core_uncore_not_added),
		T(test_package_by_physical_id),
		T(test_unreadable_energy_falls_back),
		T(test_msr_fake_device),
		T(test_model_forced_power),
		T(test_model_tdp_and_unknown_cpu),
		T(test_open_bad_args),
	};
#undef T
	int n = (int)(sizeof(tests) / sizeof(tests[0]));
	int failed = cmocka_run_group_tests(tests, NULL, NULL);

	printf("%d passed, %d failed\n", n - failed, failed);
	return failed ? 1 : 0;
}
