/* Exact integer split of a domain's energy over processes (largest-remainder method). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "attribution.h"

int idle_policy_parse(const char *s, enum idle_policy *out)
{
	if (!strcmp(s, "busy"))
		*out = IDLE_POLICY_BUSY;
	else if (!strcmp(s, "capacity"))
		*out = IDLE_POLICY_CAPACITY;
	else
		return -EINVAL;
	return 0;
}

const char *idle_policy_name(enum idle_policy p)
{
	return p == IDLE_POLICY_CAPACITY ? "capacity" : "busy";
}

struct rem {
	uint64_t r;  /* remainder of energy * weight / denominator */
	size_t idx;  /* entry index; n stands for idle */
};

static int rem_cmp(const void *a, const void *b)
{
	const struct rem *x = a, *y = b;

	if (x->r != y->r)
		return x->r < y->r ? 1 : -1; /* largest remainder first */
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

int attribution_split(uint64_t energy_uj, const uint64_t *on_cpu_ns, size_t n,
		      enum idle_policy policy, uint64_t capacity_ns, uint64_t *out_uj,
		      uint64_t *idle_uj)
{
	unsigned __int128 busy_ns = 0, denom;
	uint64_t idle_w, given = 0, left;
	struct rem *rems;

	for (size_t i = 0; i < n; i++)
		busy_ns += on_cpu_ns[i];
	if (busy_ns == 0) {
		memset(out_uj, 0, n * sizeof(*out_uj));
		*idle_uj = energy_uj;
		return 0;
	}
	denom = busy_ns;
	if (policy == IDLE_POLICY_CAPACITY && capacity_ns > busy_ns)
		denom = capacity_ns;
	idle_w = (uint64_t)(denom - busy_ns);

	rems = malloc((n + 1) * sizeof(*rems));
	if (!rems)
		return -ENOMEM;
	for (size_t i = 0; i <= n; i++) {
		uint64_t w = i < n ? on_cpu_ns[i] : idle_w;
		unsigned __int128 num = (unsigned __int128)energy_uj * w;
		uint64_t q = (uint64_t)(num / denom);

		rems[i].r = (uint64_t)(num % denom);
		rems[i].idx = i;
		if (i < n)
			out_uj[i] = q;
		else
			*idle_uj = q;
		given += q;
	}
	/* The floors lose less than one microjoule per entry: at most n + 1 in all. */
	left = energy_uj - given;
	if (left) {
		qsort(rems, n + 1, sizeof(*rems), rem_cmp);
		for (size_t k = 0; k < left; k++) {
			if (rems[k].idx < n)
				out_uj[rems[k].idx]++;
			else
				(*idle_uj)++;
		}
	}
	free(rems);
	return 0;
}
