/* The final per-process breakdown printed by `carbonbpf monitor`. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "report.h"

#define UJ_PER_KWH 3.6e12

struct row {
	char label[40];
	long pid;              /* -1: not a process row */
	uint64_t on_cpu_ns, energy_uj;
};

/* A process's figures in one table: over the run, or while it was in the experiment. */
struct entry {
	const struct proc_rec *p;
	uint64_t uj, ns;
};

static int by_energy(const void *x, const void *y)
{
	const struct entry *a = x, *b = y;

	if (a->uj != b->uj)
		return a->uj < b->uj ? 1 : -1;
	if (a->ns != b->ns)
		return a->ns < b->ns ? 1 : -1;
	return a->p->key.tgid < b->p->key.tgid ? -1 : a->p->key.tgid > b->p->key.tgid;
}

/* Rounds parts of `total` (given in display units) so they add up to it exactly. */
static int round_parts(uint64_t total_units, const uint64_t *weights, size_t n, uint64_t *out)
{
	uint64_t idle;

	return attribution_split(total_units, weights, n, IDLE_POLICY_BUSY, 0, out, &idle);
}

static uint64_t machine_energy_uj(const struct accounting *a)
{
	uint64_t uj = a->total_idle_uj + a->total_unattributed_uj;

	for (size_t i = 0; i < a->n_procs; i++)
		uj += a->procs[i]->cpu_uj + a->procs[i]->ram_uj;
	return uj;
}

/*
 * One table: processes of experiment bit `bit` (bit < 0: every process, plus idle and
 * unattributed rows), the top ones by energy, the rest as "others", then the total.
 * Returns the total energy shown in *total_uj.
 */
static int print_table(FILE *f, const struct accounting *a, const struct report_info *ri, int bit,
		       uint64_t *total_uj_out)
{
	size_t cap = (size_t)ri->top + 4, n_sel = 0, n_rows = 0, others = 0;
	struct entry *sel = malloc((a->n_procs + 1) * sizeof(*sel));
	struct row *rows = calloc(cap, sizeof(*rows));
	uint64_t *w = calloc(cap, sizeof(uint64_t)), *cs = calloc(cap, sizeof(uint64_t));
	uint64_t *mj = calloc(cap, sizeof(uint64_t)), *pm = calloc(cap, sizeof(uint64_t));
	uint64_t *ug = calloc(cap, sizeof(uint64_t));
	uint64_t total_uj = 0, total_ns = 0, total_ug;
	double g_per_uj = ri->intensity->g_per_kwh * ri->pue / UJ_PER_KWH;
	int err = -ENOMEM;

	if (!sel || !rows || !w || !cs || !mj || !pm || !ug)
		goto out;
	for (size_t i = 0; i < a->n_procs; i++) {
		const struct proc_rec *p = a->procs[i];
		struct entry e = { p, p->cpu_uj + p->ram_uj, p->total_ns };

		if (bit >= 0) {
			if (!p->exp_uj)
				continue;
			e.uj = p->exp_uj[bit];
			e.ns = p->exp_ns[bit];
		}
		if (e.uj || e.ns)
			sel[n_sel++] = e;
	}
	qsort(sel, n_sel, sizeof(*sel), by_energy);
	for (size_t i = 0; i < n_sel; i++) {
		struct row *r;

		if ((int)i < ri->top) {
			r = &rows[n_rows++];
			r->pid = sel[i].p->key.tgid;
			snprintf(r->label, sizeof(r->label), "%s", sel[i].p->has_info ? sel[i].p->info.comm : "?");
		} else {
			if (!others++) {
				rows[n_rows].pid = -1;
				n_rows++;
			}
			r = &rows[n_rows - 1];
		}
		r->on_cpu_ns += sel[i].ns;
		r->energy_uj += sel[i].uj;
	}
	if (others)
		snprintf(rows[n_rows - 1].label, sizeof(rows[0].label), "(%zu other%s)", others,
			 others == 1 ? "" : "s");
	if (bit < 0) {
		rows[n_rows].pid = -1;
		snprintf(rows[n_rows].label, sizeof(rows[0].label), "(idle)");
		rows[n_rows++].energy_uj = a->total_idle_uj;
		if (a->total_unattributed_uj) {
			rows[n_rows].pid = -1;
			snprintf(rows[n_rows].label, sizeof(rows[0].label), "(unattributed)");
			rows[n_rows++].energy_uj = a->total_unattributed_uj;
		}
	}
	for (size_t i = 0; i < n_rows; i++) {
		total_uj += rows[i].energy_uj;
		total_ns += rows[i].on_cpu_ns;
	}
	total_ug = (uint64_t)llround((double)total_uj * g_per_uj * 1e6);
	for (size_t i = 0; i < n_rows; i++)
		w[i] = rows[i].on_cpu_ns;
	if ((err = round_parts((total_ns + 5000000) / 10000000, w, n_rows, cs)))
		goto out;
	for (size_t i = 0; i < n_rows; i++)
		w[i] = rows[i].energy_uj;
	if ((err = round_parts((total_uj + 500) / 1000, w, n_rows, mj)) ||
	    (err = round_parts(total_uj ? 1000 : 0, w, n_rows, pm)) ||
	    (err = round_parts(total_ug, w, n_rows, ug)))
		goto out;

	fprintf(f, "\n%8s  %-16s %10s %12s %7s %14s\n", "PID", "COMMAND", "CPU s", "ENERGY J",
		"SHARE", "CO2eq g");
	for (size_t i = 0; i < n_rows; i++) {
		char pid[24] = "";

		if (rows[i].pid >= 0)
			snprintf(pid, sizeof(pid), "%ld", rows[i].pid);
		fprintf(f, "%8s  %-16s %10.2f %12.3f %6.1f%% %14.6f\n", pid, rows[i].label,
			(double)cs[i] / 100, (double)mj[i] / 1000, (double)pm[i] / 10, (double)ug[i] / 1e6);
	}
	fprintf(f, "%8s  %-16s %10.2f %12.3f %6.1f%% %14.6f\n", "", bit >= 0 ? "EXPERIMENT TOTAL" : "TOTAL",
		(double)((total_ns + 5000000) / 10000000) / 100, (double)((total_uj + 500) / 1000) / 1000,
		total_uj ? 100.0 : 0.0, (double)total_ug / 1e6);
	*total_uj_out = total_uj;
	err = 0;
out:
	free(sel);
	free(rows);
	free(w);
	free(cs);
	free(mj);
	free(pm);
	free(ug);
	return err;
}

int report_write(FILE *f, const struct accounting *a, const struct report_info *ri)
{
	const struct scopes *s = ri->scopes;
	uint64_t machine_uj = machine_energy_uj(a), shown;
	int err;

	fprintf(f, "\ncarbonbpf: %.1f s, %s\n", ri->duration_s,
		s->n_exp ? "tracking_mode process" : "whole machine, tracking_mode machine");
	fprintf(f, "energy:     %s\n", ri->energy_source);
	if (ri->estimated)
		fprintf(f, "            ENERGY IS ESTIMATED: no hardware energy counter reads real "
			   "energy on this machine; figures come from the model above\n");
	fprintf(f, "split:      on-CPU time from sched_switch (BPF %s), idle policy %s\n",
		ri->attach_mode, idle_policy_name(ri->idle_policy));
	fprintf(f, "carbon:     %.3f g CO2eq/kWh, %s%s\n", ri->intensity->g_per_kwh,
		ri->intensity->source, ri->pue != 1.0 ? " (PUE applied)" : "");
	if (!s->n_exp) {
		fprintf(f, "\nexperiment %s (whole machine)", ri->machine_experiment_id);
		if ((err = print_table(f, a, ri, -1, &shown)))
			return err;
	}
	for (int b = 0; b < s->n_exp; b++) {
		fprintf(f, "\nexperiment %s:", s->experiments[b]);
		for (int i = 0; i < s->n_sel; i++)
			if (s->sel[i].bit == b)
				fprintf(f, " --%s %s", scope_kind_name(s->sel[i].kind), s->sel[i].value);
		if ((err = print_table(f, a, ri, b, &shown)))
			return err;
		fprintf(f, "%8s  %-16s %10s %12s %6.1f%% of the machine's %.3f J\n", "", "", "", "",
			machine_uj ? 100.0 * (double)shown / (double)machine_uj : 0.0, (double)machine_uj / 1e6);
	}
	if (ri->drops)
		fprintf(f, "warning: %llu kernel map inserts failed; that time is unattributed\n",
			(unsigned long long)ri->drops);
	fprintf(f, "\nwritten: %s/%s, %s/%s\n", ri->output_dir, ri->output_file, ri->output_dir,
		ri->processes_file);
	return 0;
}
