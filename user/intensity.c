/* The run's carbon intensity from the configuration: data file, tables, Electricity Maps. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "electricitymaps.h"
#include "intensity.h"
#include "log.h"

/* A key's text, "" when unset. */
static const char *text(const struct config *c, const char *key)
{
	const char *v = config__get(c, key, NULL);

	return v ? v : "";
}

static bool set_by_flag(const struct config *c, const char *key)
{
	struct cfg_where w;
	const char *v = config__get(c, key, &w);

	return v && *v && w.origin == CFG_FLAG;
}

static int load_data_file(const struct config *c, char *err, size_t errlen)
{
	struct cfg_where w = { .text = "" };
	const char *path = config__get(c, "carbon_data_file", &w);
	const char *why;
	int r;

	if (!path || !*path) {
		carbon__unload();
		return 0;
	}
	r = carbon__load_file(path);
	switch (r) {
	case 0:
		return 0;
	case -ENOMEM:
		snprintf(err, errlen, "out of memory loading carbon_data_file %s", path);
		return -ENOMEM;
	case -EINVAL:
		why = "not a CodeCarbon global_energy_mix.json file (bad JSON, or no country "
		      "record keyed by ISO alpha-3)";
		break;
	case -EFBIG:
		why = "larger than 16 MiB";
		break;
	default:
		why = strerror(-r);
		break;
	}
	snprintf(err, errlen, "carbon_data_file %s (set in %s): %s", path,
		 w.text[0] ? w.text : "configuration", why);
	return -EINVAL;
}

/* Electricity Maps over the table figure in *out; on failure *out is left alone and warned. */
static void try_live(const struct config *c, struct carbon_intensity *out)
{
	const char *token = text(c, "electricitymaps_api_token");
	const char *endpoint = text(c, "electricitymaps_api_endpoint");
	struct em_latest live;
	char cc[3], why[256];
	int r;

	if (!*token)
		token = text(c, "co2_signal_api_token");
	if (!*token)
		return;
	if (!out->country_iso3[0] || carbon__country_alpha2(out->country_iso3, cc)) {
		pr_warn("Electricity Maps: a token is configured but no country is known (set "
			"country_iso_code): using %s",
			out->source);
		return;
	}
	r = electricitymaps_latest(endpoint, token, cc, ELECTRICITYMAPS_TIMEOUT_MS, &live, why,
				   sizeof(why));
	if (r) {
		pr_warn("Electricity Maps: no live intensity for %s (%s): using %s", cc, why,
			out->source);
		return;
	}
	out->g_per_kwh = live.g_per_kwh;
	out->origin = CARBON_ORIGIN_LIVE;
	out->is_world_default = false;
	out->region[0] = '\0';
	snprintf(out->source, sizeof(out->source), "Electricity Maps live, zone %s, %s", live.zone,
		 live.datetime[0] ? live.datetime : "time not given");
}

/* Names the parts of q the tables do not know (carbon__lookup said -ENOENT). */
static void unknown_message(const struct carbon_query *q, char *err, size_t errlen)
{
	struct carbon_query one = { .force_g_per_kwh = -1 };
	struct carbon_intensity tmp;
	size_t n = 0;

	err[0] = '\0';
	if (*q->country) {
		one.country = q->country;
		if (carbon__lookup(&one, &tmp) == -ENOENT)
			n += (size_t)snprintf(err + n, errlen - n,
					      "unknown country '%s': use an ISO 3166 alpha-3 or "
					      "alpha-2 code (e.g. FRA or FR)",
					      q->country);
	}
	if (n < errlen && *q->region) {
		one.country = q->country;
		one.region = q->region;
		if (carbon__lookup(&one, &tmp) == -ENOENT && !n)
			n += (size_t)snprintf(err + n, errlen - n,
					      "unknown region '%s'%s%s: use a US state, Canadian "
					      "province or Nordic zone (name or code)",
					      q->region, *q->country ? " in " : "", q->country);
	}
	if (n < errlen && *q->cloud_provider && *q->cloud_region) {
		one = (struct carbon_query){ .force_g_per_kwh = -1,
					     .cloud_provider = q->cloud_provider,
					     .cloud_region = q->cloud_region };
		if (carbon__lookup(&one, &tmp) == -ENOENT)
			n += (size_t)snprintf(err + n, errlen - n,
					      "%sunknown cloud region '%s' of '%s' (the region "
					      "table covers gcp)",
					      n ? "; " : "", q->cloud_region, q->cloud_provider);
	}
	if (!n)
		snprintf(err, errlen, "unknown country or region");
}

int intensity_from_config(const struct config *c, bool *from_flag, struct carbon_intensity *out,
			  char *err, size_t errlen)
{
	struct carbon_query q = { .force_g_per_kwh = -1 };
	char gerr[512] = "";
	bool flag = false;
	double d;
	int r;

	if (from_flag)
		*from_flag = false;
	if (errlen)
		err[0] = '\0';
	memset(out, 0, sizeof(*out));
	r = load_data_file(c, err, errlen);
	if (r)
		return r;

	r = config__get_double(c, "force_carbon_intensity_g_co2e_kwh", &d, gerr, sizeof(gerr));
	if (r == 0) {
		q.force_g_per_kwh = d;
	} else if (r != -ENOENT) {
		snprintf(err, errlen, "%s", gerr[0] ? gerr : "bad force_carbon_intensity_g_co2e_kwh");
		return -EINVAL;
	}
	q.cloud_provider = text(c, "cloud_provider");
	q.cloud_region = text(c, "cloud_region");
	q.country = text(c, "country_iso_code");
	if (!*q.country)
		q.country = text(c, "country_2letter_iso_code");
	q.region = text(c, "region");

	r = carbon__lookup(&q, out);
	if (r == -ENOENT) {
		flag = set_by_flag(c, "country_iso_code") || set_by_flag(c, "region") ||
		       set_by_flag(c, "country_2letter_iso_code") ||
		       set_by_flag(c, "cloud_provider") || set_by_flag(c, "cloud_region");
		unknown_message(&q, err, errlen);
		if (from_flag)
			*from_flag = flag;
		if (flag)
			return r; /* the run stops: no point asking Electricity Maps */
	} else if (r) {
		snprintf(err, errlen, "carbon intensity lookup failed: %s", strerror(-r));
		return r;
	}
	if (out->origin != CARBON_ORIGIN_FORCED && out->origin != CARBON_ORIGIN_CLOUD)
		try_live(c, out);
	if (r == -ENOENT) {
		size_t n = strlen(err);

		if (n < errlen)
			snprintf(err + n, errlen - n, "; using %s", out->source);
	}
	return r;
}
