/* The final terminal breakdown: top processes, totals, energy source and carbon intensity. */
#ifndef CB_REPORT_H
#define CB_REPORT_H

#include <stdbool.h>
#include <stdio.h>
#include "accounting.h"
#include "carbon.h"

struct report_info {
	bool tracking;              /* a tracked tree: rows are its processes */
	uint64_t scope_mask;        /* which scope bits make a process tracked */
	const char *experiment_id;
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
 * Prints the breakdown of the run held in `a`. Displayed figures are rounded so that the
 * rows add up exactly to the totals shown (largest remainder), shares to 100.0%.
 * Returns 0 or -ENOMEM.
 */
int report_write(FILE *f, const struct accounting *a, const struct report_info *ri);

#endif
