/* Electricity Maps client: one bounded GET of the latest carbon intensity of a country. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "electricitymaps.h"
#include "http.h"
#include "util.h"

#define EM_MAX_BODY (64u << 10)
#define EM_PATH "/v3/carbon-intensity/latest"

int electricitymaps_parse(const char *body, size_t len, struct em_latest *out, char *why,
			  size_t whylen)
{
	const cJSON *ci, *zone, *dt;
	cJSON *root;
	int err = -EINVAL;

	memset(out, 0, sizeof(*out));
	root = cJSON_ParseWithLength(body, len);
	if (!cJSON_IsObject(root)) {
		snprintf(why, whylen, "answer is not a JSON object");
		goto out;
	}
	ci = cJSON_GetObjectItemCaseSensitive(root, "carbonIntensity");
	if (!cJSON_IsNumber(ci)) {
		snprintf(why, whylen, "answer has no numeric carbonIntensity");
		goto out;
	}
	if (!isfinite(ci->valuedouble) || ci->valuedouble < 0) {
		snprintf(why, whylen, "answer has carbonIntensity %g, not a figure >= 0",
			 ci->valuedouble);
		goto out;
	}
	out->g_per_kwh = ci->valuedouble;
	zone = cJSON_GetObjectItemCaseSensitive(root, "zone");
	if (cJSON_IsString(zone))
		snprintf(out->zone, sizeof(out->zone), "%s", zone->valuestring);
	dt = cJSON_GetObjectItemCaseSensitive(root, "datetime");
	if (cJSON_IsString(dt))
		snprintf(out->datetime, sizeof(out->datetime), "%s", dt->valuestring);
	err = 0;
out:
	cJSON_Delete(root);
	return err;
}

static bool printable(const char *s)
{
	for (; *s; s++)
		if (iscntrl((unsigned char)*s))
			return false;
	return true;
}

int electricitymaps_latest(const char *endpoint, const char *token, const char *country2,
			   long timeout_ms, struct em_latest *out, char *why, size_t whylen)
{
	char errbuf[CURL_ERROR_SIZE] = "", *url = NULL, *auth = NULL;
	struct curl_slist *headers = NULL, *h;
	struct http_body b = { .max = EM_MAX_BODY };
	size_t elen;
	long status = 0;
	CURL *curl = NULL;
	CURLcode rc;
	int err;

	if (!endpoint || !*endpoint || !token || !*token || !country2 || !out) {
		snprintf(why, whylen, "no endpoint, token or country");
		return -EINVAL;
	}
	if (strlen(country2) != 2 || !isalpha((unsigned char)country2[0]) ||
	    !isalpha((unsigned char)country2[1])) {
		snprintf(why, whylen, "'%s' is not an ISO 3166 alpha-2 country code", country2);
		return -EINVAL;
	}
	if (!printable(token) || !printable(endpoint)) {
		snprintf(why, whylen, "the token or endpoint contains control characters");
		return -EINVAL;
	}
	if (timeout_ms <= 0)
		timeout_ms = ELECTRICITYMAPS_TIMEOUT_MS;
	elen = strlen(endpoint);
	while (elen > 0 && endpoint[elen - 1] == '/')
		elen--;
	if (asprintf(&url, "%.*s" EM_PATH "?countryCode=%c%c", (int)elen, endpoint,
		     toupper((unsigned char)country2[0]), toupper((unsigned char)country2[1])) < 0) {
		url = NULL;
		err = -ENOMEM;
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	if (asprintf(&auth, "auth-token: %s", token) < 0) {
		auth = NULL;
		err = -ENOMEM;
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	curl = curl_easy_init();
	if (!curl) {
		err = -ENOMEM;
		snprintf(why, whylen, "cannot start libcurl");
		goto out;
	}
	h = curl_slist_append(headers, auth);
	if (h)
		headers = h;
	h = h ? curl_slist_append(headers, "Accept: application/json") : NULL;
	if (!h) {
		err = -ENOMEM;
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	headers = h;
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "carbonbpf/" CARBONBPF_VERSION);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, http_body_write);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);

	rc = curl_easy_perform(curl);
	if (b.too_big) {
		err = -EMSGSIZE;
		snprintf(why, whylen, "answer larger than %u KiB", EM_MAX_BODY >> 10);
		goto out;
	}
	if (rc != CURLE_OK) {
		err = http_curl_errno(rc);
		if (err == -ETIMEDOUT)
			snprintf(why, whylen, "no answer within %ld ms", timeout_ms);
		else
			snprintf(why, whylen, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
		goto out;
	}
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200) {
		if (status == 401 || status == 403) {
			err = -EACCES;
			snprintf(why, whylen, "HTTP %ld: the API token was refused", status);
		} else if (status == 404) {
			err = -ENOENT;
			snprintf(why, whylen, "HTTP 404: no data for country %c%c",
				 toupper((unsigned char)country2[0]),
				 toupper((unsigned char)country2[1]));
		} else {
			err = -EPROTO;
			snprintf(why, whylen, "HTTP %ld", status);
		}
		goto out;
	}
	err = electricitymaps_parse(b.p ? b.p : "", b.len, out, why, whylen);
	if (!err && !out->zone[0])
		snprintf(out->zone, sizeof(out->zone), "%c%c", toupper((unsigned char)country2[0]),
			 toupper((unsigned char)country2[1]));
out:
	curl_slist_free_all(headers);
	if (curl)
		curl_easy_cleanup(curl);
	free(auth);
	free(url);
	free(b.p);
	return err;
}
