/*
 * The carbon intensity a run uses, from the configuration: carbon_data_file, the forced
 * value, cloud region, Electricity Maps (when a token is configured), region, country,
 * world average. Shared by `carbonbpf monitor` and `carbonbpf detect`.
 */
#ifndef CB_INTENSITY_H
#define CB_INTENSITY_H

#include <stdbool.h>
#include <stddef.h>
#include "carbon.h"
#include "config.h"

/*
 * Resolves the intensity in effect for configuration c, once, at the start of a run:
 *  1. carbon_data_file, when set, is loaded with carbon__load_file() (replacing any file
 *     loaded before); when unset, the built-in country table is used.
 *  2. carbon__lookup() with force_carbon_intensity_g_co2e_kwh, cloud_provider/cloud_region,
 *     country_iso_code (else country_2letter_iso_code) and region.
 *  3. Unless the value is forced or a cloud region matched: with electricitymaps_api_token
 *     (or its old name co2_signal_api_token) set and the country known, the latest figure
 *     from <electricitymaps_api_endpoint>/v3/carbon-intensity/latest?countryCode=<alpha-2>
 *     replaces the table's (origin CARBON_ORIGIN_LIVE, source "Electricity Maps live, zone
 *     FR, <datetime>"), bounded by ELECTRICITYMAPS_TIMEOUT_MS. On any failure, or with no
 *     country known, the table figure stays and one warning naming the reason (never the
 *     token) is logged with pr_warn: the only thing this function logs.
 * Returns:
 *  0        *out is the intensity to use.
 *  -ENOENT  a country_iso_code/region (or cloud region) not in the tables: *out still holds
 *           the fallback (world average or the country) and err a one-line message naming
 *           the value. *from_flag (may be NULL) is set true when the unknown value came
 *           from a command-line flag (the caller should stop with a usage error), false
 *           when from a file or the environment (the caller should warn and go on).
 *  -EINVAL  unusable configuration, message in err: carbon_data_file missing or not a
 *           CodeCarbon global_energy_mix.json file (named), or a malformed forced value.
 *  -ENOMEM
 * *from_flag is false on every return but -ENOENT.
 */
int intensity_from_config(const struct config *c, bool *from_flag, struct carbon_intensity *out,
			  char *err, size_t errlen);

#endif
