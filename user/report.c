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

static int by_energy(const void *x, const void *y)
{
	const struct proc_rec *a = *(const struct proc_rec *const *)x;
	const struct proc_rec *b = *(const struct proc_rec *const *)y;
	uint64_t ea = a->cpu_uj + a->ram_uj, eb = b->cpu_uj + b->ram_uj;

	if (ea != eb)
		return ea < eb ? 1 : -1;
	if (a->total_ns != b->total_ns)
		return a->total_ns < b->total_ns ? 1 : -1;
	return a->key.tgid < b->key.tgid ? -1 : a->key.tgid > b->key.tgid;
}

/* Rounds parts of `total` (given in display units) so they add up to it exactly. */
static int round_parts(uint64_t total_units, const uint64_t *weights, size_t n, uint64_t *out)
{
	uint64_t idle;

	return attribution_split(total_units, weights, n, IDLE_POLICY_BUSY, 0, out, &idle);
}

int report_write(FILE *f, const struct accounting *a, const struct report_info *ri)
{
	const struct proc_rec **sel = malloc((a->n_procs + 1) * sizeof(*sel));
	struct row *rows = calloc((size_t)ri->top + 4, sizeof(*rows));
	uint64_t *w = calloc((size_t)ri->top + 4, sizeof(uint64_t));
	uint64_t *cs = calloc((size_t)ri->top + 4, sizeof(uint64_t)); /* centi-seconds */
	uint64_t *mj = calloc((size_t)ri->top + 4, sizeof(uint64_t)); /* millijoules */
	uint64_t *pm = calloc((size_t)ri->top + 4, sizeof(uint64_t)); /* 0.1% units */
	uint64_t *ug = calloc((size_t)ri->top + 4, sizeof(uint64_t)); /* micrograms CO2eq */
	uint64_t total_uj = 0, total_ns = 0, machine_uj = a->total_idle_uj + a->total_unattributed_uj;
	double g_per_uj = ri->intensity->g_per_kwh * ri->pue / UJ_PER_KWH;
	size_t n_sel = 0, n_rows = 0, others = 0;
	int err = -ENOMEM;

	if (!sel || !rows || !w || !cs || !mj || !pm || !ug)
		goto out;
	for (size_t i = 0; i < a->n_procs; i++) {
		const struct proc_rec *p = a->procs[i];

		machine_uj += p->cpu_uj + p->ram_uj;
		if (ri->tracking && !(p->info.scope_mask & ri->scope_mask))
			continue;
		if (!p->total_ns && !p->cpu_uj && !p->ram_uj)
			continue;
		sel[n_sel++] = p;
	}
	qsort(sel, n_sel, sizeof(*sel), by_energy);
	for (size_t i = 0; i < n_sel; i++) {
		const struct proc_rec *p = sel[i];
		struct row *r;

		if ((int)i < ri->top) {
			r = &rows[n_rows++];
			r->pid = p->key.tgid;
			snprintf(r->label, sizeof(r->label), "%s", p->has_info ? p->info.comm : "?");
		} else {
			if (!others) {
				r = &rows[n_rows++];
				r->pid = -1;
			}
			r = &rows[n_rows - 1];
			others++;
		}
		r->on_cpu_ns += p->total_ns;
		r->energy_uj += p->cpu_uj + p->ram_uj;
	}
	if (others)
		snprintf(rows[n_rows - 1].label, sizeof(rows[0].label), "(%zu others)", others);
	if (!ri->tracking) {
		struct row *r = &rows[n_rows++];

		r->pid = -1;
		snprintf(r->label, sizeof(r->label), "(idle)");
		r->energy_uj = a->total_idle_uj;
		if (a->total_unattributed_uj) {
			r = &rows[n_rows++];
			r->pid = -1;
			snprintf(r->label, sizeof(r->label), "(unattributed)");
			r->energy_uj = a->total_unattributed_uj;
		}
	}
	for (size_t i = 0; i < n_rows; i++) {
		total_uj += rows[i].energy_uj;
		total_ns += rows[i].on_cpu_ns;
	}
	for (size_t i = 0; i < n_rows; i++)
		w[i] = rows[i].on_cpu_ns;
	if ((err = round_parts((total_ns + 5000000) / 10000000, w, n_rows, cs)))
		goto out;
	for (size_t i = 0; i < n_rows; i++)
		w[i] = rows[i].energy_uj;
	if ((err = round_parts((total_uj + 500) / 1000, w, n_rows, mj)) ||
	    (err = round_parts(total_uj ? 1000 : 0, w, n_rows, pm)) ||
	    (err = round_parts((uint64_t)llround((double)total_uj * g_per_uj * 1e6), w, n_rows, ug)))
		goto out;

	fprintf(f, "\ncarbonbpf %s: %.1f s, %s\n", ri->tracking ? "process tree" : "whole machine",
		ri->duration_s,
		ri->tracking ? "tracking_mode process" : "tracking_mode machine");
	if (ri->experiment_id)
		fprintf(f, "experiment: %s\n", ri->experiment_id);
	fprintf(f, "energy:     %s\n", ri->energy_source);
	if (ri->estimated)
		fprintf(f, "            ENERGY IS ESTIMATED: no hardware energy counter reads real "
			   "energy on this machine; figures come from the model above\n");
	fprintf(f, "split:      on-CPU time from sched_switch (BPF %s), idle policy %s\n",
		ri->attach_mode, idle_policy_name(ri->idle_policy));
	fprintf(f, "carbon:     %.3f g CO2eq/kWh, %s%s\n", ri->intensity->g_per_kwh,
		ri->intensity->source, ri->pue != 1.0 ? " (PUE applied)" : "");
	fprintf(f, "\n%8s  %-16s %10s %12s %7s %14s\n", "PID", "COMMAND", "CPU s", "ENERGY J",
		"SHARE", "CO2eq g");
	for (size_t i = 0; i < n_rows; i++) {
		char pid[24] = "";

		if (rows[i].pid >= 0)
			snprintf(pid, sizeof(pid), "%ld", rows[i].pid);
		fprintf(f, "%8s  %-16s %10.2f %12.3f %6.1f%% %14.6f\n", pid, rows[i].label,
			(double)cs[i] / 100, (double)mj[i] / 1000, (double)pm[i] / 10,
			(double)ug[i] / 1e6);
	}
	fprintf(f, "%8s  %-16s %10.2f %12.3f %6.1f%% %14.6f\n", "", ri->tracking ? "TRACKED TOTAL" : "TOTAL",
		(double)((total_ns + 5000000) / 10000000) / 100, (double)((total_uj + 500) / 1000) / 1000,
		total_uj ? 100.0 : 0.0, (double)llround((double)total_uj * g_per_uj * 1e6) / 1e6);
	if (ri->tracking)
		fprintf(f, "%8s  %-16s %10s %12.3f %6.1f%% of the machine's energy\n", "", "machine", "",
			(double)machine_uj / 1e6,
			machine_uj ? 100.0 * (double)total_uj / (double)machine_uj : 0.0);
	if (ri->drops)
		fprintf(f, "warning: %llu kernel map inserts failed; that time is unattributed\n",
			(unsigned long long)ri->drops);
	fprintf(f, "\nwritten: %s/%s, %s/%s\n", ri->output_dir, ri->output_file, ri->output_dir,
		ri->processes_file);
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
