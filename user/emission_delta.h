/*
 * Pure: turns a run's cumulative totals into the next CodeCarbon API emission delta
 * (CODECARBON.md 1.5): integer durations > 0 without drift, non-negative differences.
 */
#ifndef CB_EMISSION_DELTA_H
#define CB_EMISSION_DELTA_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Cumulative figures of one run (one scope / experiment) at a measurement. Energies and
 * emissions only grow. Powers and utilisations are means since the run start, as
 * CodeCarbon reports them; a NaN power is sent as null, a NaN utilisation is omitted.
 */
struct emission_totals {
	int64_t measured_at_us;         /* wall-clock time of the measurement, unix microseconds */
	double elapsed_s;               /* seconds since the run start (monotonic clock) */
	double cpu_energy_kwh, gpu_energy_kwh, ram_energy_kwh;
	double energy_consumed_kwh;     /* PUE applied, as CodeCarbon */
	double emissions_kg;
	double cpu_power_w, gpu_power_w, ram_power_w;
	double cpu_utilization_percent, gpu_utilization_percent, ram_utilization_percent;
	double wue_l_per_kwh;           /* configured WUE; NaN: omitted */
};

/* What has already been turned into deltas: start from all zeros (emission_state_init). */
struct emission_state {
	int64_t sent_s;                 /* sum of the durations of the deltas made */
	double cpu_energy_kwh, gpu_energy_kwh, ram_energy_kwh;
	double energy_consumed_kwh;
	double emissions_kg;
	bool closed;                    /* the final delta was made */
};

/* One POST /emissions body, run_id aside. Units as CodeCarbon's. */
struct emission_delta {
	int64_t timestamp_us;           /* measurement time, unix microseconds */
	int64_t duration_s;             /* > 0 */
	double emissions_kg;            /* emissions_sum */
	double emissions_rate_kg_s;     /* emissions_kg / duration_s */
	double cpu_power_w, gpu_power_w, ram_power_w;       /* means since start; NaN: null */
	double cpu_energy_kwh, gpu_energy_kwh, ram_energy_kwh;
	double energy_consumed_kwh;
	double cpu_utilization_percent, gpu_utilization_percent, ram_utilization_percent; /* NaN: omitted */
	double wue_l_per_kwh;           /* NaN: omitted */
};

/* Sets *s to the state of a run from which nothing was sent yet. */
void emission_state_init(struct emission_state *s);

/*
 * Makes the delta between the state `prev` and the totals `now`:
 *  - periodic (final false): duration = floor(elapsed) - prev->sent_s. When that is 0 no
 *    delta is made (-EAGAIN): the energy stays in the totals and goes into the next one.
 *    So the durations of a run sum to floor(elapsed) of its last delta, fractions carried.
 *  - final (final true): duration = ceil(elapsed) - prev->sent_s, so the durations of a
 *    run sum to ceil(elapsed at stop) exactly (the partial last second counts as one; the
 *    server rejects 0 and dropping it would drop its energy). Only when elapsed is a whole
 *    number of seconds already sent: with energy or emissions left, duration 1 (sum one
 *    more); with nothing left, -ENODATA (nothing to send).
 *  Energies and emissions are now - prev; a difference below 0 (float noise, or a total
 *  that went down) is sent as 0 and the state keeps the larger value, so a sum of deltas
 *  never counts anything twice. Powers, utilisations (clamped to 0-100) and wue are
 *  copied from `now`; negative powers become 0, non-finite ones NaN (null).
 *  emissions_rate = emissions / duration.
 * On success fills *out and *next (the state to keep once the delta is safely queued;
 * prev may equal next) and returns 0. -EINVAL: NULL argument, a non-finite or negative
 * elapsed or total, elapsed going back, or a closed state.
 */
int emission_delta_make(const struct emission_state *prev, const struct emission_totals *now,
			bool final, struct emission_delta *out, struct emission_state *next);

#endif
