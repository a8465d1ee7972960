/* Carbon intensity lookup (forced > cloud > region > country > world) and kWh -> kg CO2eq. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "carbon.h"
#include "carbon_tables.h"

#define LOAD_MAX_BYTES (16u << 20)

/* Country figures from carbon__load_file(); each row owns its strings. NULL when none. */
static struct carbon_country *loaded;
static size_t loaded_len;
static struct carbon_table_info loaded_info;
static char loaded_source[96];

struct region_table {
	const struct carbon_region *rows;
	const size_t *len;
	const struct carbon_table_info *info;
	const char *kind;
};

static const struct region_table region_tables[] = {
	{ carbon_us_states, &carbon_us_states_len, &carbon_us_states_info, "US state" },
	{ carbon_ca_provinces, &carbon_ca_provinces_len, &carbon_ca_provinces_info,
	  "Canadian province" },
	{ carbon_nordic_zones, &carbon_nordic_zones_len, &carbon_nordic_zones_info,
	  "Nordic zone" },
};
#define N_REGION_TABLES (sizeof(region_tables) / sizeof(region_tables[0]))

static bool given(const char *s)
{
	return s && *s;
}

static void copy_str(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

static void copy_lower(char *dst, size_t size, const char *src)
{
	size_t i;

	for (i = 0; i + 1 < size && src[i]; i++)
		dst[i] = (char)tolower((unsigned char)src[i]);
	dst[i] = '\0';
}

static bool code_matches(const char *code, const char *iso3, const char *iso2)
{
	size_t n = strlen(code);

	return (n == 3 && !strcasecmp(code, iso3)) || (n == 2 && *iso2 && !strcasecmp(code, iso2));
}

static const struct carbon_iso_country *find_iso(const char *code)
{
	for (size_t i = 0; i < carbon_iso_countries_len; i++) {
		const struct carbon_iso_country *c = &carbon_iso_countries[i];

		if (code_matches(code, c->iso3, c->iso2))
			return c;
	}
	return NULL;
}

/* Loaded figures first, then built-in ones; *info says which table the row came from. */
static const struct carbon_country *find_country(const char *code,
						 const struct carbon_table_info **info)
{
	for (size_t i = 0; i < loaded_len; i++) {
		if (code_matches(code, loaded[i].iso3, loaded[i].iso2)) {
			*info = &loaded_info;
			return &loaded[i];
		}
	}
	for (size_t i = 0; i < carbon_countries_len; i++) {
		if (code_matches(code, carbon_countries[i].iso3, carbon_countries[i].iso2)) {
			*info = &carbon_countries_info;
			return &carbon_countries[i];
		}
	}
	return NULL;
}

static bool country_has_regions(const char *iso3)
{
	for (size_t t = 0; t < N_REGION_TABLES; t++)
		for (size_t i = 0; i < *region_tables[t].len; i++)
			if (!strcmp(region_tables[t].rows[i].country, iso3))
				return true;
	return false;
}

/*
 * Finds @name (region name or code, any case) in the regions of @iso3, or of any country when
 * @iso3 is NULL; NULL when absent or, without a country, when more than one entry matches.
 */
static const struct carbon_region *find_region(const char *iso3, const char *name,
					       const struct region_table **table)
{
	const struct carbon_region *hit = NULL;

	for (size_t t = 0; t < N_REGION_TABLES; t++) {
		for (size_t i = 0; i < *region_tables[t].len; i++) {
			const struct carbon_region *r = &region_tables[t].rows[i];

			if (iso3 && strcmp(r->country, iso3))
				continue;
			if (strcasecmp(name, r->name) && strcasecmp(name, r->code))
				continue;
			if (hit && hit != r)
				return NULL;
			hit = r;
			*table = &region_tables[t];
		}
	}
	return hit;
}

static const struct carbon_cloud_region *find_cloud(const char *provider, const char *region)
{
	for (size_t i = 0; i < carbon_cloud_regions_len; i++) {
		const struct carbon_cloud_region *c = &carbon_cloud_regions[i];

		if (!strcasecmp(provider, c->provider) && !strcasecmp(region, c->region))
			return c;
	}
	return NULL;
}

static void set_country(struct carbon_intensity *out, const char *iso3)
{
	const struct carbon_table_info *info;
	const struct carbon_country *c = find_country(iso3, &info);
	const struct carbon_iso_country *iso = find_iso(iso3);

	copy_str(out->country_iso3, sizeof(out->country_iso3), iso3);
	if (c && *c->name)
		copy_str(out->country_name, sizeof(out->country_name), c->name);
	else if (iso)
		copy_str(out->country_name, sizeof(out->country_name), iso->name);
}

static void use_world(struct carbon_intensity *out, const char *why)
{
	out->g_per_kwh = carbon_world_average_g_per_kwh;
	out->origin = CARBON_ORIGIN_WORLD;
	out->is_world_default = true;
	snprintf(out->source, sizeof(out->source), "world average %g g/kWh (%s), %s (%d)",
		 carbon_world_average_g_per_kwh, why, carbon_world_average_info.source,
		 carbon_world_average_info.year);
}

static void use_country(struct carbon_intensity *out, const struct carbon_country *c,
			const struct carbon_table_info *info)
{
	char why[96];

	set_country(out, c->iso3);
	switch (c->basis) {
	case CARBON_BASIS_REPORTED:
		out->origin = CARBON_ORIGIN_COUNTRY;
		out->g_per_kwh = c->g_per_kwh;
		snprintf(out->source, sizeof(out->source), "country %s, %s (%d)", c->iso3,
			 info->source, c->year);
		break;
	case CARBON_BASIS_MIX:
		out->origin = CARBON_ORIGIN_COUNTRY;
		out->g_per_kwh = c->g_per_kwh;
		snprintf(out->source, sizeof(out->source),
			 "country %s, computed from its mix x per-source g/kWh, %s (%d)", c->iso3,
			 info->source, c->year);
		break;
	case CARBON_BASIS_WORLD:
		snprintf(why, sizeof(why), "no usable figures for %s", c->iso3);
		use_world(out, why);
		break;
	}
}

static void use_region(struct carbon_intensity *out, const struct carbon_region *r,
		       const struct region_table *t)
{
	set_country(out, r->country);
	copy_lower(out->region, sizeof(out->region), r->name);
	out->origin = CARBON_ORIGIN_REGION;
	out->g_per_kwh = r->g_per_kwh;
	snprintf(out->source, sizeof(out->source), "%s %s (%s), %s (%d)", t->kind, r->name,
		 r->code, t->info->source, r->year);
}

static void use_cloud(struct carbon_intensity *out, const struct carbon_cloud_region *c)
{
	const struct carbon_table_info *info = &carbon_cloud_regions_info;

	set_country(out, c->country);
	if (!*out->country_name)
		copy_str(out->country_name, sizeof(out->country_name), c->country_name);
	copy_lower(out->region, sizeof(out->region), c->region);
	out->origin = CARBON_ORIGIN_CLOUD;
	out->g_per_kwh = c->g_per_kwh;
	if (info->year)
		snprintf(out->source, sizeof(out->source), "cloud %s %s, %s (%d)", c->provider,
			 c->region, info->source, info->year);
	else
		snprintf(out->source, sizeof(out->source), "cloud %s %s, %s (year not stated)",
			 c->provider, c->region, info->source);
}

int carbon__lookup(const struct carbon_query *q, struct carbon_intensity *out)
{
	const struct carbon_table_info *info = NULL;
	const struct carbon_country *country = NULL;
	const struct carbon_region *region = NULL;
	const struct region_table *table = NULL;
	const struct carbon_iso_country *iso = NULL;
	bool country_given = given(q->country);
	int err = 0;

	memset(out, 0, sizeof(*out));
	if (country_given) {
		country = find_country(q->country, &info);
		iso = country ? NULL : find_iso(q->country);
		if (country)
			set_country(out, country->iso3);
		else if (iso)
			set_country(out, iso->iso3);
	}

	if (q->force_g_per_kwh >= 0) {
		out->origin = CARBON_ORIGIN_FORCED;
		out->g_per_kwh = q->force_g_per_kwh;
		snprintf(out->source, sizeof(out->source), "forced %g g/kWh (configuration)",
			 q->force_g_per_kwh);
		return 0;
	}

	if (given(q->cloud_provider) && given(q->cloud_region) &&
	    strcasecmp(q->cloud_provider, "aws") && strcasecmp(q->cloud_provider, "azure")) {
		const struct carbon_cloud_region *c = find_cloud(q->cloud_provider, q->cloud_region);

		if (c) {
			memset(out, 0, sizeof(*out));
			use_cloud(out, c);
			return 0;
		}
		err = -ENOENT;
	}

	if (given(q->region)) {
		if (country && country_has_regions(country->iso3)) {
			region = find_region(country->iso3, q->region, &table);
			if (!region)
				err = -ENOENT;
		} else if (!country_given) {
			region = find_region(NULL, q->region, &table);
			if (!region)
				err = -ENOENT;
		}
		if (region) {
			use_region(out, region, table);
			return err;
		}
	}

	if (country) {
		use_country(out, country, info);
		return err;
	}
	if (country_given) {
		char why[64];

		snprintf(why, sizeof(why), "no figures for country %.8s", q->country);
		use_world(out, why);
		return -ENOENT;
	}
	use_world(out, "no country known");
	return err;
}

int carbon__country_alpha2(const char *code, char out[3])
{
	const struct carbon_iso_country *iso = code ? find_iso(code) : NULL;

	if (!iso || strlen(iso->iso2) != 2)
		return -ENOENT;
	memcpy(out, iso->iso2, 3);
	return 0;
}

double carbon_kg(double kwh, double g_per_kwh)
{
	return kwh * g_per_kwh / 1000.0;
}

static void free_rows(struct carbon_country *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free((char *)rows[i].iso3);
		free((char *)rows[i].iso2);
		free((char *)rows[i].name);
	}
	free(rows);
}

void carbon__unload(void)
{
	free_rows(loaded, loaded_len);
	loaded = NULL;
	loaded_len = 0;
}

static double source_g_per_kwh(const char *source, size_t len)
{
	for (size_t i = 0; i < carbon_source_intensities_len; i++) {
		const char *s = carbon_source_intensities[i].source;

		if (strlen(s) == len && !strncmp(s, source, len))
			return carbon_source_intensities[i].g_per_kwh;
	}
	return 0;
}

/* CODECARBON.md 6.5 step 4, the same rule tools/gen_carbon_tables.py applies. */
static void mix_intensity(const cJSON *entry, double *g_per_kwh, enum carbon_basis *basis)
{
	const cJSON *ci = cJSON_GetObjectItemCaseSensitive(entry, "carbon_intensity");
	const cJSON *total = cJSON_GetObjectItemCaseSensitive(entry, "total_TWh");
	double total_twh = cJSON_IsNumber(total) ? total->valuedouble : 0;
	double summed = 0, g = 0;
	const cJSON *it;

	if (cJSON_IsNumber(ci) && ci->valuedouble > 0) {
		*g_per_kwh = ci->valuedouble;
		*basis = CARBON_BASIS_REPORTED;
		return;
	}
	cJSON_ArrayForEach(it, entry) {
		size_t n = it->string ? strlen(it->string) : 0;
		double src_g;

		if (n <= 4 || strcmp(it->string + n - 4, "_TWh") || !cJSON_IsNumber(it))
			continue;
		src_g = source_g_per_kwh(it->string, n - 4);
		if (src_g == 0)
			continue;
		summed += it->valuedouble;
		if (total_twh > 0)
			g += it->valuedouble / total_twh * src_g;
	}
	/* CodeCarbon compares exactly; the tolerance only forgives rounding in the sum. */
	if (total_twh <= 0 || summed - total_twh > 1e-9 * total_twh ||
	    total_twh - summed > 1e-9 * total_twh) {
		*g_per_kwh = carbon_world_average_g_per_kwh;
		*basis = CARBON_BASIS_WORLD;
	} else {
		*g_per_kwh = g;
		*basis = CARBON_BASIS_MIX;
	}
}

static int read_file(const char *path, char **buf_out)
{
	size_t len = 0, cap = 0;
	char *buf = NULL, *nbuf;
	FILE *f = fopen(path, "rb");
	int err = 0;

	if (!f)
		return -errno;
	for (;;) {
		size_t n;

		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 65536;
			if (cap > LOAD_MAX_BYTES + 1)
				cap = LOAD_MAX_BYTES + 1;
			if (cap - len < 2) {
				err = -EFBIG;
				goto out;
			}
			nbuf = realloc(buf, cap);
			if (!nbuf) {
				err = -ENOMEM;
				goto out;
			}
			buf = nbuf;
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
		if (n == 0) {
			if (ferror(f))
				err = -EIO;
			break;
		}
	}
	buf[len] = '\0';
out:
	fclose(f);
	if (err) {
		free(buf);
		return err;
	}
	*buf_out = buf;
	return 0;
}

static bool is_alpha3(const char *s)
{
	return s && strlen(s) == 3 && isalpha((unsigned char)s[0]) &&
	       isalpha((unsigned char)s[1]) && isalpha((unsigned char)s[2]);
}

int carbon__load_file(const char *path)
{
	struct carbon_country *rows = NULL;
	size_t n = 0, cap;
	cJSON *root = NULL;
	const cJSON *entry;
	char *text = NULL;
	const char *base;
	int err;

	err = read_file(path, &text);
	if (err)
		return err;
	root = cJSON_Parse(text);
	if (!cJSON_IsObject(root)) {
		err = -EINVAL;
		goto cleanup;
	}
	cap = (size_t)cJSON_GetArraySize(root);
	rows = calloc(cap ? cap : 1, sizeof(*rows));
	if (!rows) {
		err = -ENOMEM;
		goto cleanup;
	}
	cJSON_ArrayForEach(entry, root) {
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(entry, "country_name");
		const cJSON *year = cJSON_GetObjectItemCaseSensitive(entry, "year");
		const char *key = entry->string;
		const struct carbon_iso_country *iso;
		struct carbon_country *c = &rows[n];
		char iso3[4];

		if (!cJSON_IsObject(entry) || !is_alpha3(key))
			continue; /* not a country record */
		for (int i = 0; i < 4; i++)
			iso3[i] = (char)toupper((unsigned char)key[i]);
		iso = find_iso(iso3);
		mix_intensity(entry, &c->g_per_kwh, &c->basis);
		c->year = cJSON_IsNumber(year) ? year->valueint : 0;
		c->iso3 = strdup(iso3);
		c->iso2 = strdup(iso ? iso->iso2 : "");
		c->name = strdup(cJSON_IsString(name) ? name->valuestring : iso ? iso->name : "");
		n++;
		if (!c->iso3 || !c->iso2 || !c->name) {
			err = -ENOMEM;
			goto cleanup;
		}
	}
	if (n == 0) {
		err = -EINVAL;
		goto cleanup;
	}
	carbon__unload();
	loaded = rows;
	loaded_len = n;
	rows = NULL;
	n = 0;
	base = strrchr(path, '/');
	snprintf(loaded_source, sizeof(loaded_source), "file %.80s", base ? base + 1 : path);
	loaded_info.source = loaded_source;
	loaded_info.year = 0;
	for (size_t i = 0; i < loaded_len; i++)
		if (loaded[i].year > loaded_info.year)
			loaded_info.year = loaded[i].year;
cleanup:
	free_rows(rows, n);
	cJSON_Delete(root);
	free(text);
	return err;
}
