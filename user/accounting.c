/* Per-interval, per-process on-CPU time and energy from cumulative BPF snapshots. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "accounting.h"

static size_t key_hash(const struct cb_task_key *k)
{
	uint64_t h = ((uint64_t)k->tgid * 0x9e3779b97f4a7c15ull) ^ (k->start_ns * 0xc2b2ae3d27d4eb4full);

	return (size_t)(h ^ (h >> 31));
}

static bool key_eq(const struct cb_task_key *a, const struct cb_task_key *b)
{
	return a->tgid == b->tgid && a->start_ns == b->start_ns;
}

int accounting__init(struct accounting *a, int n_slots, const int *slot_pkg, int n_pkgs,
		     const int *pkg_ncpus)
{
	memset(a, 0, sizeof(*a));
	a->n_slots = n_slots;
	a->n_pkgs = n_pkgs;
	a->slot_pkg = malloc(sizeof(int) * (size_t)n_slots);
	a->pkg_ncpus = malloc(sizeof(int) * (size_t)n_pkgs);
	a->prev_lost_ns = calloc((size_t)n_slots, sizeof(uint64_t));
	a->iv_lost_pkg_ns = calloc((size_t)n_pkgs, sizeof(uint64_t));
	a->iv_busy_pkg_ns = calloc((size_t)n_pkgs, sizeof(uint64_t));
	a->table_cap = 1024;
	a->table = calloc(a->table_cap, sizeof(size_t));
	if (!a->slot_pkg || !a->pkg_ncpus || !a->prev_lost_ns || !a->iv_lost_pkg_ns || !a->iv_busy_pkg_ns || !a->table) {
		accounting__free(a);
		return -ENOMEM;
	}
	memcpy(a->slot_pkg, slot_pkg, sizeof(int) * (size_t)n_slots);
	memcpy(a->pkg_ncpus, pkg_ncpus, sizeof(int) * (size_t)n_pkgs);
	for (int i = 0; i < n_pkgs; i++)
		a->n_online += pkg_ncpus[i];
	return 0;
}

void accounting__free(struct accounting *a)
{
	for (size_t i = 0; i < a->n_procs; i++) {
		free(a->procs[i]->prev_ns);
		free(a->procs[i]->iv_pkg_ns);
		free(a->procs[i]->exp_uj);
		free(a->procs[i]->exp_ns);
		free(a->procs[i]);
	}
	free(a->procs);
	free(a->active);
	free(a->exited);
	free(a->table);
	free(a->slot_pkg);
	free(a->pkg_ncpus);
	free(a->prev_lost_ns);
	free(a->iv_lost_pkg_ns);
	free(a->iv_busy_pkg_ns);
	memset(a, 0, sizeof(*a));
}

struct proc_rec *accounting__find(const struct accounting *a, const struct cb_task_key *key)
{
	size_t mask = a->table_cap - 1;

	for (size_t i = key_hash(key) & mask;; i = (i + 1) & mask) {
		size_t v = a->table[i];

		if (!v)
			return NULL;
		if (key_eq(&a->procs[v - 1]->key, key))
			return a->procs[v - 1];
	}
}

static void table_put(size_t *table, size_t cap, const struct cb_task_key *key, size_t idx)
{
	size_t mask = cap - 1, i = key_hash(key) & mask;

	while (table[i])
		i = (i + 1) & mask;
	table[i] = idx + 1;
}

static struct proc_rec *add_proc(struct accounting *a, const struct cb_task_key *key)
{
	struct proc_rec *p;

	if ((a->n_procs + 1) * 10 > a->table_cap * 7) {
		size_t ncap = a->table_cap * 2;
		size_t *nt = calloc(ncap, sizeof(size_t));

		if (!nt)
			return NULL;
		for (size_t i = 0; i < a->n_procs; i++)
			table_put(nt, ncap, &a->procs[i]->key, i);
		free(a->table);
		a->table = nt;
		a->table_cap = ncap;
	}
	if (a->n_procs == a->cap_procs) {
		size_t ncap = a->cap_procs ? a->cap_procs * 2 : 256;
		struct proc_rec **np = realloc(a->procs, ncap * sizeof(*np));

		if (!np)
			return NULL;
		a->procs = np;
		a->cap_procs = ncap;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->prev_ns = calloc((size_t)a->n_slots, sizeof(uint64_t));
	p->iv_pkg_ns = calloc((size_t)(a->n_pkgs ? a->n_pkgs : 1), sizeof(uint64_t));
	if (!p->prev_ns || !p->iv_pkg_ns) {
		free(p->prev_ns);
		free(p->iv_pkg_ns);
		free(p);
		return NULL;
	}
	p->key = *key;
	a->procs[a->n_procs] = p;
	table_put(a->table, a->table_cap, key, a->n_procs);
	a->n_procs++;
	return p;
}

/* Cumulative counters only grow; a smaller value means the entry was re-created. */
static uint64_t counter_step(uint64_t prev, uint64_t now)
{
	return now >= prev ? now - prev : now;
}

int accounting__update(struct accounting *a, const struct tracer_snapshot *s,
		       struct cb_task_key **forget, size_t *n_forget)
{
	bool baseline = a->last_mono_ns == 0;
	struct cb_task_key *forget_keys = a->exited;
	size_t nf = a->n_exited;

	*forget = NULL;
	*n_forget = 0;
	/* This update's forget list is the last one's exits; a new list starts. */
	a->exited = NULL;
	a->n_exited = a->cap_exited = 0;
	free(a->active);
	a->active = calloc(s->n + 1, sizeof(*a->active));
	if (!a->active) {
		free(forget_keys);
		return -ENOMEM;
	}
	a->n_active = 0;
	a->n_splits = 0;
	a->iv_wall_ns = baseline ? 0 : s->mono_ns - a->last_mono_ns;
	a->last_mono_ns = s->mono_ns;
	a->drops = s->drops;
	a->iv_lost_ns = 0;
	memset(a->iv_lost_pkg_ns, 0, sizeof(uint64_t) * (size_t)a->n_pkgs);
	memset(a->iv_busy_pkg_ns, 0, sizeof(uint64_t) * (size_t)a->n_pkgs);
	for (int slot = 0; slot < a->n_slots; slot++) {
		uint64_t lost = counter_step(a->prev_lost_ns[slot], s->lost_ns[slot]);
		int pkg = a->slot_pkg[slot];

		a->prev_lost_ns[slot] = s->lost_ns[slot];
		if (baseline)
			continue;
		a->iv_lost_ns += lost;
		if (pkg >= 0) {
			a->iv_lost_pkg_ns[pkg] += lost;
			a->iv_busy_pkg_ns[pkg] += lost;
		}
	}
	for (size_t i = 0; i < s->n; i++) {
		const struct tracer_proc *sp = &s->procs[i];
		struct proc_rec *p = accounting__find(a, &sp->key);

		if (!p && !(p = add_proc(a, &sp->key))) {
			free(forget_keys);
			return -ENOMEM;
		}
		p->forgotten = false;
		if (sp->has_info) {
			p->info = sp->info;
			p->has_info = true;
		}
		p->iv_ns = p->iv_cpu_uj = p->iv_ram_uj = 0;
		memset(p->iv_pkg_ns, 0, sizeof(uint64_t) * (size_t)a->n_pkgs);
		for (int slot = 0; sp->on_cpu_ns && slot < a->n_slots; slot++) {
			uint64_t d = counter_step(p->prev_ns[slot], sp->on_cpu_ns[slot]);
			int pkg = a->slot_pkg[slot];

			p->prev_ns[slot] = sp->on_cpu_ns[slot];
			if (baseline || !d)
				continue;
			p->iv_ns += d;
			if (pkg >= 0) {
				p->iv_pkg_ns[pkg] += d;
				a->iv_busy_pkg_ns[pkg] += d;
			}
		}
		p->total_ns += p->iv_ns;
		if (p->iv_ns)
			a->active[a->n_active++] = p;
		if (p->has_info && (p->info.flags & CB_TASK_EXITED) && !p->exit_seen) {
			if (a->n_exited == a->cap_exited) {
				size_t ncap = a->cap_exited ? a->cap_exited * 2 : 64;
				struct cb_task_key *ne = realloc(a->exited, ncap * sizeof(*ne));

				if (!ne) {
					free(forget_keys);
					return -ENOMEM;
				}
				a->exited = ne;
				a->cap_exited = ncap;
			}
			a->exited[a->n_exited++] = p->key;
			p->exit_seen = true;
		}
	}
	/* Those seen exited last time have been read once more: they may go now. */
	for (size_t i = 0; i < nf; i++) {
		struct proc_rec *p = accounting__find(a, &forget_keys[i]);

		if (p) {
			p->forgotten = true;
			memset(p->prev_ns, 0, sizeof(uint64_t) * (size_t)a->n_slots);
		}
	}
	*forget = forget_keys;
	*n_forget = nf;
	return 0;
}

const uint64_t *accounting__busy_ns(const struct accounting *a)
{
	return a->iv_busy_pkg_ns;
}

int accounting__attribute(struct accounting *a, const struct energy_sample *e,
			  enum idle_policy policy)
{
	size_t n = a->n_active;
	uint64_t *w = malloc((n + 1) * sizeof(uint64_t));
	uint64_t *out = malloc((n + 1) * sizeof(uint64_t));
	int err = 0;

	if (!w || !out) {
		err = -ENOMEM;
		goto out;
	}
	a->n_splits = 0;
	for (int r = 0; r < e->n && r < ENERGY_MAX_READINGS; r++) {
		const struct energy_reading *rd = &e->r[r];
		struct domain_split *ds = &a->splits[a->n_splits++];
		int ncpus = rd->pkg >= 0 && rd->pkg < a->n_pkgs ? a->pkg_ncpus[rd->pkg] : a->n_online;
		uint64_t idle_uj, sum = 0;

		memset(ds, 0, sizeof(*ds));
		ds->reading = *rd;
		for (size_t i = 0; i < n; i++) {
			w[i] = rd->pkg >= 0 && rd->pkg < a->n_pkgs ? a->active[i]->iv_pkg_ns[rd->pkg]
								  : a->active[i]->iv_ns;
		}
		/* The last weight is the time the kernel could not charge to a process. */
		w[n] = rd->pkg >= 0 && rd->pkg < a->n_pkgs ? a->iv_lost_pkg_ns[rd->pkg] : a->iv_lost_ns;
		for (size_t i = 0; i <= n; i++)
			ds->busy_ns += w[i];
		ds->capacity_ns = (uint64_t)ncpus * a->iv_wall_ns;
		err = attribution_split(rd->energy_uj, w, n + 1, policy, ds->capacity_ns, out, &idle_uj);
		if (err)
			goto out;
		for (size_t i = 0; i < n; i++) {
			struct proc_rec *p = a->active[i];

			if (rd->is_ram) {
				p->iv_ram_uj += out[i];
				p->ram_uj += out[i];
			} else {
				p->iv_cpu_uj += out[i];
				p->cpu_uj += out[i];
			}
			sum += out[i];
		}
		ds->attributed_uj = sum;
		ds->unattributed_uj = out[n];
		ds->idle_uj = idle_uj;
		a->total_idle_uj += idle_uj;
		a->total_unattributed_uj += out[n];
		/* attribution_split guarantees it; a failure here is a bug worth stopping for. */
		if (sum + out[n] + idle_uj != rd->energy_uj) {
			err = -EPROTO;
			goto out;
		}
	}
out:
	free(w);
	free(out);
	return err;
}
