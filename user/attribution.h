/* Pure split of one domain's interval energy over processes by on-CPU time, conserved exactly. */
#ifndef CB_ATTRIBUTION_H
#define CB_ATTRIBUTION_H

#include <stddef.h>
#include <stdint.h>

enum idle_policy {
	IDLE_POLICY_BUSY,     /* E_i = E * t_i / B: all energy goes to the processes that ran */
	IDLE_POLICY_CAPACITY, /* E_i = E * t_i / C: the unused capacity's share goes to idle */
};

/* Parses "busy" or "capacity"; returns 0 or -EINVAL. */
int idle_policy_parse(const char *s, enum idle_policy *out);
const char *idle_policy_name(enum idle_policy p);

/*
 * Splits energy_uj over n entries weighted by on_cpu_ns[i] (the busy time B is their sum).
 * IDLE_POLICY_CAPACITY divides by capacity_ns (CPUs x interval; raised to B if smaller)
 * and gives the unused share to *idle_uj; IDLE_POLICY_BUSY gives idle nothing unless B is
 * 0, when all of it goes to idle. Each share is the floor of the exact quotient; the few
 * microjoules left over go one each to the largest remainders (ties: lower index, idle
 * last), so sum(out_uj) + *idle_uj == energy_uj always. out_uj has n slots.
 * Returns 0 or -ENOMEM.
 */
int attribution_split(uint64_t energy_uj, const uint64_t *on_cpu_ns, size_t n,
		      enum idle_policy policy, uint64_t capacity_ns, uint64_t *out_uj,
		      uint64_t *idle_uj);

#endif
