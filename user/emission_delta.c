/* Pure: cumulative run totals -> the next CodeCarbon API emission delta. */
#include <errno.h>
#include <math.h>
#include <string.h>
#include "emission_delta.h"

void emission_state_init(struct emission_state *s)
{
	memset(s, 0, sizeof(*s));
}

static bool bad_total(double v)
{
	return !isfinite(v) || v < 0;
}

/* now - *sent, never negative; *sent becomes the larger of the two. */
static double diff(double now, double *sent)
{
	double d = now - *sent;

	if (d <= 0)
		return 0;
	*sent = now;
	return d;
}

static double power(double w)
{
	if (!isfinite(w))
		return NAN;
	return w < 0 ? 0 : w;
}

static double percent(double p)
{
	if (!isfinite(p))
		return NAN;
	return p < 0 ? 0 : p > 100 ? 100 : p;
}

int emission_delta_make(const struct emission_state *prev, const struct emission_totals *now,
			bool final, struct emission_delta *out, struct emission_state *next)
{
	struct emission_state st;
	struct emission_delta d;
	int64_t whole_s;

	if (!prev || !now || !out || !next || prev->closed)
		return -EINVAL;
	if (bad_total(now->elapsed_s) || now->elapsed_s >= 9e15 || bad_total(now->cpu_energy_kwh) ||
	    bad_total(now->gpu_energy_kwh) || bad_total(now->ram_energy_kwh) ||
	    bad_total(now->energy_consumed_kwh) || bad_total(now->emissions_kg))
		return -EINVAL;
	if ((int64_t)floor(now->elapsed_s) < prev->sent_s)
		return -EINVAL;
	/* Periodic deltas cover the whole seconds elapsed; the final one the partial last second. */
	whole_s = (int64_t)(final ? ceil(now->elapsed_s) : floor(now->elapsed_s));

	st = *prev;
	memset(&d, 0, sizeof(d));
	d.timestamp_us = now->measured_at_us;
	d.duration_s = whole_s - prev->sent_s;
	d.cpu_energy_kwh = diff(now->cpu_energy_kwh, &st.cpu_energy_kwh);
	d.gpu_energy_kwh = diff(now->gpu_energy_kwh, &st.gpu_energy_kwh);
	d.ram_energy_kwh = diff(now->ram_energy_kwh, &st.ram_energy_kwh);
	d.energy_consumed_kwh = diff(now->energy_consumed_kwh, &st.energy_consumed_kwh);
	d.emissions_kg = diff(now->emissions_kg, &st.emissions_kg);
	if (d.duration_s == 0) {
		bool left = d.cpu_energy_kwh > 0 || d.gpu_energy_kwh > 0 || d.ram_energy_kwh > 0 ||
			    d.energy_consumed_kwh > 0 || d.emissions_kg > 0;

		if (!final)
			return -EAGAIN;
		if (!left)
			return -ENODATA;
		/* Elapsed is a whole second already sent: the server rejects 0, the energy left
		 * must not be dropped. */
		d.duration_s = 1;
	}
	st.sent_s = prev->sent_s + d.duration_s;
	st.closed = final;

	d.emissions_rate_kg_s = d.emissions_kg / (double)d.duration_s;
	d.cpu_power_w = power(now->cpu_power_w);
	d.gpu_power_w = power(now->gpu_power_w);
	d.ram_power_w = power(now->ram_power_w);
	d.cpu_utilization_percent = percent(now->cpu_utilization_percent);
	d.gpu_utilization_percent = percent(now->gpu_utilization_percent);
	d.ram_utilization_percent = percent(now->ram_utilization_percent);
	d.wue_l_per_kwh = isfinite(now->wue_l_per_kwh) && now->wue_l_per_kwh >= 0 ?
				  now->wue_l_per_kwh : NAN;
	*out = d;
	*next = st;
	return 0;
}
