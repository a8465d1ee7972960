/*
 * Live carbon intensity from the Electricity Maps API (GET /v3/carbon-intensity/latest),
 * fetched once at the start of a run. libcurl and cJSON stay inside this module.
 */
#ifndef CB_ELECTRICITYMAPS_H
#define CB_ELECTRICITYMAPS_H

#include <stddef.h>

/* Whole-request bound (connect + transfer), milliseconds: CodeCarbon's API client budget. */
#define ELECTRICITYMAPS_TIMEOUT_MS 2000

struct em_latest {
	double g_per_kwh;  /* carbonIntensity, g CO2eq/kWh, finite and >= 0 */
	char zone[32];     /* the zone the answer is for ("FR"); the country asked when absent */
	char datetime[40]; /* the figure's time as sent ("2026-08-08T12:00:00.000Z"); "" if absent */
};

/*
 * Pure: reads a response body of len bytes (need not be NUL-terminated): a JSON object
 * whose `carbonIntensity` is a number >= 0; `zone` and `datetime` strings are optional.
 * Returns 0, or -EINVAL with a short reason in why.
 */
int electricitymaps_parse(const char *body, size_t len, struct em_latest *out, char *why,
			  size_t whylen);

/*
 * GET <endpoint>/v3/carbon-intensity/latest?countryCode=<country2> with header
 * `auth-token: <token>`, bounded by timeout_ms in total (<= 0: ELECTRICITYMAPS_TIMEOUT_MS).
 * endpoint: base URL, http or https, a trailing '/' allowed; country2: ISO 3166 alpha-2.
 * Returns 0 with *out filled, or -errno with a one-line reason in why that never contains
 * the token: -EINVAL bad arguments or malformed answer, -ETIMEDOUT, -ECONNREFUSED or -EIO
 * (transport), -EACCES (HTTP 401/403: token refused), -ENOENT (HTTP 404: zone unknown),
 * -EPROTO (other HTTP status), -EMSGSIZE (answer over 64 KiB), -ENOMEM. Logs nothing.
 */
int electricitymaps_latest(const char *endpoint, const char *token, const char *country2,
			   long timeout_ms, struct em_latest *out, char *why, size_t whylen);

#endif
