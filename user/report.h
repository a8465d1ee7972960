/* The final terminal breakdown: top processes, totals, energy source and carbon intensity. */
#ifndef CB_REPORT_H
#define CB_REPORT_H

#include <stdbool.h>
#include <stdio.h>
#include "accounting.h"
#include "carbon.h"
#include "scope.h"

struct report_info {
	const struct scopes *scopes; /* no experiment: one machine table; else one per experiment */
	const char *machine_experiment_id;
	double duration_s;
	const char *energy_source;  /* energy__describe() */
	bool estimated;
	const char *attach_mode;    /* "tp_btf" / "raw_tp" */
	const struct carbon_intensity *intensity;
	double pue;
	enum idle_policy idle_policy;
	int top;                    /* rows before "others" */
	const char *output_dir, *output_file, *processes_file;
	uint64_t drops;
};

/*
 * Prints the breakdown of the run held in `a`: the whole machine's processes with idle,
 * or each experiment's processes (proc_rec.scope_mask) and the machine's total. Displayed
 * figures are rounded so that the rows add up exactly to the totals shown (largest
 * remainder), shares to 100.0%. Returns 0 or -ENOMEM.
 */
int report_write(FILE *f, const struct accounting *a, const struct report_info *ri);

#endif
