/* Unit tests of process-tree discovery from (pid, ppid) pairs (descendants_of, user/monitor.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>
#include "monitor.h"

static int has(const pid_t *set, size_t n, pid_t p)
{
	for (size_t i = 0; i < n; i++)
		if (set[i] == p)
			return 1;
	return 0;
}

static void tree_in_any_pid_order(void **state)
{
	/* 10 -> 30000 -> 5 (pid wrapped) -> 7; 10 -> 11; 20 is unrelated; 1 is init. */
	const pid_t pid[] = { 1, 7, 5, 11, 20, 30000, 10 };
	const pid_t ppid[] = { 0, 5, 30000, 10, 1, 10, 1 };
	const pid_t root = 10;
	pid_t *set;
	size_t n;

	(void)state;
	assert_int_equal(descendants_of(&root, 1, pid, ppid, 7, &set, &n), 0);
	assert_int_equal(n, 5);
	assert_true(has(set, n, 10) && has(set, n, 30000) && has(set, n, 5) && has(set, n, 7) &&
		    has(set, n, 11));
	assert_false(has(set, n, 20) || has(set, n, 1));
	free(set);
}

static void parent_and_child_named_count_once(void **state)
{
	const pid_t pid[] = { 10, 11 };
	const pid_t ppid[] = { 1, 10 };
	const pid_t roots[] = { 10, 11, 10 };
	pid_t *set;
	size_t n;

	(void)state;
	assert_int_equal(descendants_of(roots, 3, pid, ppid, 2, &set, &n), 0);
	assert_int_equal(n, 2);
	free(set);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(tree_in_any_pid_order),
		cmocka_unit_test(parent_and_child_named_count_once),
	};
	return cmocka_run_group_tests_name("descendants", tests, NULL, NULL);
}
