/* Unit tests for user/detect.c: cgroup mode from mountinfo, CapEff parsing, CPU lists. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "detect.h"

/* mountinfo lines in the kernel's format (proc(5)), as systemd sets up each layout. */
#define ROOT_LINE "22 1 259:2 / / rw,relatime shared:1 - ext4 /dev/root rw\n"
#define V2_UNIFIED "30 22 0:26 / /sys/fs/cgroup rw,nosuid,nodev shared:4 - cgroup2 cgroup2 rw,nsdelegate\n"
#define V2_HYBRID "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
#define V1_TMPFS "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
#define V1_CPU "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
#define V1_SYSTEMD "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime shared:7 - cgroup cgroup rw,name=systemd\n"

static void test_cgroup_v2(void **state)
{
	char mnt[256];

	(void)state;
	assert_int_equal(detect_cgroup_mode(ROOT_LINE V2_UNIFIED, mnt, sizeof(mnt)),
			 CGROUP_MODE_V2);
	assert_string_equal(mnt, "/sys/fs/cgroup");
	assert_string_equal(detect_cgroup_mode_name(CGROUP_MODE_V2), "v2");
}

static void test_cgroup_v1(void **state)
{
	char mnt[256] = "stale";

	(void)state;
	assert_int_equal(detect_cgroup_mode(ROOT_LINE V1_TMPFS V1_CPU V1_SYSTEMD, mnt, sizeof(mnt)),
			 CGROUP_MODE_V1);
	assert_string_equal(mnt, "");
	assert_string_equal(detect_cgroup_mode_name(CGROUP_MODE_V1), "v1");
}

/* systemd's hybrid layout: v1 controllers and the unified hierarchy beside them. */
static void test_cgroup_hybrid(void **state)
{
	char mnt[256];

	(void)state;
	assert_int_equal(detect_cgroup_mode(ROOT_LINE V1_TMPFS V1_CPU V1_SYSTEMD V2_HYBRID, mnt,
					    sizeof(mnt)),
			 CGROUP_MODE_HYBRID);
	assert_string_equal(mnt, "/sys/fs/cgroup/unified");
	assert_string_equal(detect_cgroup_mode_name(CGROUP_MODE_HYBRID), "hybrid");
}

/* No cgroup fs; a line without " - ", optional fields and no trailing newline all parse. */
static void test_cgroup_none_and_odd_lines(void **state)
{
	char mnt[256];

	(void)state;
	assert_int_equal(detect_cgroup_mode(ROOT_LINE "garbage line\n", mnt, sizeof(mnt)),
			 CGROUP_MODE_NONE);
	assert_string_equal(detect_cgroup_mode_name(CGROUP_MODE_NONE), "none");
	assert_int_equal(detect_cgroup_mode("", mnt, sizeof(mnt)), CGROUP_MODE_NONE);
	/* fstype "cgroup2" must match exactly: "cgroup2fake" is not one */
	assert_int_equal(detect_cgroup_mode("1 1 0:1 / /x rw - cgroup2fake none rw", mnt,
					    sizeof(mnt)),
			 CGROUP_MODE_NONE);
	assert_int_equal(detect_cgroup_mode("1 1 0:1 / /cg rw shared:1 master:2 - cgroup2 cgroup2 rw",
					    mnt, sizeof(mnt)),
			 CGROUP_MODE_V2);
	assert_string_equal(mnt, "/cg");
}

/* CapEff of a root shell on 6.x: 0x000001ffffffffff -> bits 0..40 set (CAP_BPF is 39). */
static void test_capeff(void **state)
{
	const char *status = "Name:\tbash\nCapInh:\t0000000000000000\nCapPrm:\t000001ffffffffff\n"
			     "CapEff:\t000001ffffffffff\nCapBnd:\t000001ffffffffff\n";
	uint64_t m = 0;

	(void)state;
	assert_int_equal(detect_parse_capeff(status, &m), 0);
	assert_true(m == 0x1ffffffffffULL);
	assert_true((m >> 39) & 1);

	/* an unprivileged process: nothing */
	assert_int_equal(detect_parse_capeff("CapEff:\t0000000000000000\n", &m), 0);
	assert_true(m == 0);

	/* CAP_PERFMON (38) and CAP_BPF (39) only: 2^38 + 2^39 = 0xc000000000 */
	assert_int_equal(detect_parse_capeff("Name:\tx\nCapEff:\t000000c000000000\n", &m), 0);
	assert_true(m == 0xc000000000ULL);

	assert_int_equal(detect_parse_capeff("Name:\tx\nCapPrm:\t1\n", &m), -ENOENT);
	assert_int_equal(detect_parse_capeff("CapEff:\tzz\n", &m), -ENOENT);
	/* "XCapEff:" in the middle of a line is not the field */
	assert_int_equal(detect_parse_capeff("Name:\tXCapEff: 1\n", &m), -ENOENT);
}

static void test_effective_caps_runs(void **state)
{
	uint64_t m = 0;

	(void)state;
	assert_int_equal(detect_effective_caps("/proc", &m), 0);
}

static void test_cpulist(void **state)
{
	static const int a[] = { 0, 1, 2, 3, 6, 8, 9 };
	static const int one[] = { 5 };
	char buf[64];

	(void)state;
	detect_format_cpulist(a, 7, buf, sizeof(buf));
	assert_string_equal(buf, "0-3,6,8-9");
	detect_format_cpulist(one, 1, buf, sizeof(buf));
	assert_string_equal(buf, "5");
	detect_format_cpulist(NULL, 0, buf, sizeof(buf));
	assert_string_equal(buf, "");
	detect_format_cpulist(a, 7, buf, 4); /* truncated, still terminated */
	assert_string_equal(buf, "0-3");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cgroup_v2),
		cmocka_unit_test(test_cgroup_v1),
		cmocka_unit_test(test_cgroup_hybrid),
		cmocka_unit_test(test_cgroup_none_and_odd_lines),
		cmocka_unit_test(test_capeff),
		cmocka_unit_test(test_effective_caps_runs),
		cmocka_unit_test(test_cpulist),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
