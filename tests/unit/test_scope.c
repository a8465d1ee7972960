/* Unit tests of scope selectors, experiment bits, rule matching and container ids (user/scope.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "scope.h"

static void experiments_share_bits(void **state)
{
	struct scopes s = { 0 };
	char err[256];

	(void)state;
	assert_int_equal(scopes__add(&s, SCOPE_PID, "100", "default", err, sizeof(err)), 0);
	assert_int_equal(scopes__add(&s, SCOPE_PID, "200=exp-a", "default", err, sizeof(err)), 0);
	assert_int_equal(scopes__add(&s, SCOPE_COMM, "python=exp-a", "default", err, sizeof(err)), 0);
	assert_int_equal(scopes__add(&s, SCOPE_CGROUP, "system.slice/x.service/=exp-b", "default", err, sizeof(err)), 0);
	assert_int_equal(s.n_exp, 3);
	assert_string_equal(s.experiments[0], "default");
	assert_int_equal(s.sel[1].bit, s.sel[2].bit);
	assert_int_equal(s.sel[1].pid, 200);
	assert_string_equal(s.sel[3].value, "/system.slice/x.service");
	assert_true(scopes__tree_bits(&s) == 0x3);
	assert_true(scopes__has_rules(&s));
}

static void bad_selectors_are_rejected(void **state)
{
	struct scopes s = { 0 };
	char err[256];

	(void)state;
	assert_int_equal(scopes__add(&s, SCOPE_PID, "12x", "d", err, sizeof(err)), -22);
	assert_non_null(strstr(err, "--pid 12x"));
	assert_int_equal(scopes__add(&s, SCOPE_PID, "0", "d", err, sizeof(err)), -22);
	assert_int_equal(scopes__add(&s, SCOPE_UID, "root", "d", err, sizeof(err)), -22);
	assert_int_equal(scopes__add(&s, SCOPE_COMM, "a-very-long-command-name", "d", err, sizeof(err)), -22);
	assert_non_null(strstr(err, "15"));
	assert_int_equal(scopes__add(&s, SCOPE_CGROUP, "/a/../b", "d", err, sizeof(err)), -22);
	assert_int_equal(scopes__add(&s, SCOPE_PID, "5=", "d", err, sizeof(err)), -22);
	assert_int_equal(scopes__add(&s, SCOPE_PID, "5", "", err, sizeof(err)), -22);
	assert_int_equal(s.n_sel, 0);
}

static void rules_match(void **state)
{
	struct scopes s = { 0 };
	char err[256], ids[256];

	(void)state;
	scopes__add(&s, SCOPE_CGROUP, "/a=cg", "d", err, sizeof(err));
	scopes__add(&s, SCOPE_COMM, "nginx=web", "d", err, sizeof(err));
	scopes__add(&s, SCOPE_UID, "1000=user", "d", err, sizeof(err));
	assert_true(scopes__match_rules(&s, "/a", "x", 0) == 0x1);
	assert_true(scopes__match_rules(&s, "/a/b/c", "x", 0) == 0x1);
	assert_true(scopes__match_rules(&s, "/ab", "x", 0) == 0);
	assert_true(scopes__match_rules(&s, "/a/b", "nginx", 1000) == 0x7);
	assert_true(scopes__match_rules(&s, "/", "nginx2", 1001) == 0);
	scopes__ids(&s, 0x5, ids, sizeof(ids));
	assert_string_equal(ids, "cg;user");
	scopes__ids(&s, 0, ids, sizeof(ids));
	assert_string_equal(ids, "");
}

#define ID64 "3f6c4b0d9e2a1c5b7d8e9f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e"

/* Real-world /proc/PID/cgroup lines (cgroup v2 "0::PATH") of each runtime and driver. */
static const struct {
	const char *line, *runtime, *id;
} cases[] = {
	{ "0::/docker/" ID64, "docker", ID64 },                                   /* docker, cgroupfs */
	{ "0::/system.slice/docker-" ID64 ".scope", "docker", ID64 },             /* docker, systemd */
	{ "0::/system.slice/containerd.service/cri-containerd-" ID64 ".scope", "containerd", ID64 },
	{ "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1a2b3c4d_5e6f_7a8b_9c0d_1e2f3a4b5c6d.slice/cri-containerd-" ID64 ".scope",
	  "containerd", ID64 },                                                   /* k8s, systemd driver */
	{ "0::/kubepods/burstable/pod1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d/" ID64, "kubepods", ID64 }, /* k8s, cgroupfs */
	{ "0::/kubepods/besteffort/pod1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d/" ID64, "kubepods", ID64 },
	{ "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1a2b3c4d_5e6f.slice/crio-" ID64 ".scope",
	  "cri-o", ID64 },                                                        /* CRI-O */
	{ "0::/machine.slice/libpod-" ID64 ".scope", "podman", ID64 },            /* podman rootful */
	{ "0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" ID64 ".scope", "podman", ID64 },
	{ "0::/machine.slice/libpod-" ID64 ".scope/container", "podman", ID64 },  /* podman with systemd inside */
	{ "0::/machine.slice/machine-debian\\x2dbookworm.scope", "machine", "debian\\x2dbookworm" }, /* nspawn */
	{ "0::/system.slice/nginx.service", NULL, NULL },                         /* not a container */
	{ "0::/user.slice/user-1000.slice/session-3.scope", NULL, NULL },
	{ "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1a2b.slice/crio-conmon-" ID64 ".scope", NULL, NULL },
	{ "0::/", NULL, NULL },
	{ "0::/docker/123", NULL, NULL },                                          /* too short */
};

static void container_ids(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *path = strstr(cases[i].line, "::") + 2;
		char rt[32] = "", id[80] = "";
		int r = container_id_from_cgroup(path, rt, sizeof(rt), id, sizeof(id));

		if (!cases[i].runtime) {
			if (r != -2)
				fail_msg("case %zu (%s): expected no container, got %s %s", i, path, rt, id);
			continue;
		}
		if (r != 0 || strcmp(rt, cases[i].runtime) || strcmp(id, cases[i].id))
			fail_msg("case %zu (%s): got %d %s %s", i, path, r, rt, id);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(experiments_share_bits),
		cmocka_unit_test(bad_selectors_are_rejected),
		cmocka_unit_test(rules_match),
		cmocka_unit_test(container_ids),
	};
	return cmocka_run_group_tests_name("scope", tests, NULL, NULL);
}
