#!/usr/bin/env python3
"""Generates user/gen/carbon_tables.c, carbonbpf's carbon intensity tables, from public figures.

Usage: tools/gen_carbon_tables.py [DATA_DIR] [-o OUT] [--iso-codes FILE] [--check]

DATA_DIR holds CodeCarbon's data files in their published formats (default: the reference
copies in /work/shared/reference/codecarbon-data): global_energy_mix.json,
carbon_intensity_per_source.json, usa_emissions.json, canada_energy_mix.json,
nordic_emissions.json, impact.csv. Country alpha-2 codes and names come from Debian's
iso-codes package (apt-get install iso-codes), read here only, never at run time.
--check compares instead of writing and exits 1 when the committed file is stale.
"""

import argparse
import csv
import json
import os
import re
import sys

DEFAULT_DATA_DIR = "/work/shared/reference/codecarbon-data"
DEFAULT_ISO_CODES = "/usr/share/iso-codes/json/iso_3166-1.json"
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO_ROOT, "user", "gen", "carbon_tables.c")

# 1 lb = 453.59237 g (exact, international pound), 1 MWh = 1000 kWh.
G_PER_KWH_PER_LBS_PER_MWH = 0.45359237

# CodeCarbon publishes these files in year-named directories (private_infra/2016/,
# private_infra/2023/); the files themselves carry no year.
USA_YEAR = 2016
CANADA_YEAR = 2023

# Fossil intensities CodeCarbon applies to Canada's provincial mix, from the energy-usage
# project it builds on; in g/kWh (CodeCarbon states them in kg/kWh). Other sources count 0.
CANADA_SOURCE_G_PER_KWH = {
    "coal": 995.725971,
    "petroleum": 816.6885263,
    "naturalGas": 743.8415916,
}

US_POSTAL_CODES = {
    "alabama": "AL", "alaska": "AK", "arizona": "AZ", "arkansas": "AR",
    "california": "CA", "colorado": "CO", "connecticut": "CT", "delaware": "DE",
    "district of columbia": "DC", "florida": "FL", "georgia": "GA", "hawaii": "HI",
    "idaho": "ID", "illinois": "IL", "indiana": "IN", "iowa": "IA", "kansas": "KS",
    "kentucky": "KY", "louisiana": "LA", "maine": "ME", "maryland": "MD",
    "massachusetts": "MA", "michigan": "MI", "minnesota": "MN", "mississippi": "MS",
    "missouri": "MO", "montana": "MT", "nebraska": "NE", "nevada": "NV",
    "new hampshire": "NH", "new jersey": "NJ", "new mexico": "NM", "new york": "NY",
    "north carolina": "NC", "north dakota": "ND", "ohio": "OH", "oklahoma": "OK",
    "oregon": "OR", "pennsylvania": "PA", "rhode island": "RI", "south carolina": "SC",
    "south dakota": "SD", "tennessee": "TN", "texas": "TX", "utah": "UT", "vermont": "VT",
    "virginia": "VA", "washington": "WA", "west virginia": "WV", "wisconsin": "WI",
    "wyoming": "WY",
}

CA_PROVINCE_CODES = {
    "alberta": "AB", "british columbia": "BC", "manitoba": "MB", "new brunswick": "NB",
    "newfoundland and labrador": "NL", "northwest territories": "NT", "nova scotia": "NS",
    "nunavut": "NU", "ontario": "ON", "prince edward island": "PE", "quebec": "QC",
    "saskatchewan": "SK", "yukon": "YT",
}

# Nordic bidding zone prefix -> country.
NORDIC_COUNTRY = {"SE": "SWE", "NO": "NOR", "FI": "FIN"}

# impact.csv spells Doha's region "me-cenrtal1"; Google's name is me-central1. Both are kept.
CLOUD_REGION_ALIASES = {("gcp", "me-cenrtal1"): "me-central1"}


class DataError(Exception):
    pass


def load_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: {e}") from e


def year_in(text):
    m = re.search(r"\b(19|20)\d\d\b", text or "")
    return int(m.group(0)) if m else 0


def mix_intensity(entry, per_source, world):
    """CODECARBON.md 6.5 step 4: reported value, else share-weighted mix, else world."""
    ci = entry.get("carbon_intensity")
    if isinstance(ci, (int, float)) and ci > 0:
        return float(ci), "CARBON_BASIS_REPORTED"
    total = entry.get("total_TWh") or 0.0
    summed = 0.0
    g = 0.0
    for key, twh in entry.items():
        if not key.endswith("_TWh") or not isinstance(twh, (int, float)):
            continue
        src_g = per_source.get(key[: -len("_TWh")])
        if not isinstance(src_g, (int, float)) or src_g == 0:
            continue  # total_TWh and sources without a figure
        summed += twh
        if total > 0:
            g += twh / total * src_g
    # CodeCarbon compares the sums exactly; a relative tolerance only forgives rounding.
    if total <= 0 or abs(summed - total) > 1e-9 * total:
        return float(world), "CARBON_BASIS_WORLD"
    return g, "CARBON_BASIS_MIX"


def read_iso(path):
    data = load_json(path)
    rows = []
    for c in data.get("3166-1", []):
        rows.append((c["alpha_3"].upper(), c.get("alpha_2", "").upper(), c["name"]))
    if not rows:
        raise DataError(f"{path}: no 3166-1 entries")
    return sorted(rows)


def read_countries(data_dir, iso):
    per_source = load_json(os.path.join(data_dir, "carbon_intensity_per_source.json"))
    world = per_source.get("world_average")
    if not isinstance(world, (int, float)) or world <= 0:
        raise DataError("carbon_intensity_per_source.json: no world_average")
    sources = sorted((k, float(v)) for k, v in per_source.items()
                     if isinstance(v, (int, float)) and k != "world_average")
    mix = load_json(os.path.join(data_dir, "global_energy_mix.json"))
    iso2_of = {i3: i2 for i3, i2, _ in iso}
    rows = []
    for key, entry in sorted(mix.items()):
        iso3 = key.upper()
        if len(iso3) != 3:
            raise DataError(f"global_energy_mix.json: key {key!r} is not alpha-3")
        g, basis = mix_intensity(entry, per_source, world)
        rows.append((iso3, iso2_of.get(iso3, ""), entry.get("country_name", ""), g,
                     int(entry.get("year") or 0), basis))
    return rows, sources, float(world), per_source.get("world_average_source", "")


def read_usa(data_dir):
    data = load_json(os.path.join(data_dir, "usa_emissions.json"))
    rows = []
    for name, entry in sorted(data.items()):
        if name.startswith("_") or name == "usa":
            continue  # units record; national 2016 average (the country table is newer)
        code = US_POSTAL_CODES.get(name.lower())
        if code is None:
            raise DataError(f"usa_emissions.json: no postal code known for {name!r}")
        given = entry.get("regionCode")
        if given and given.upper() != code:
            raise DataError(f"usa_emissions.json: {name!r} has code {given}, expected {code}")
        rows.append((name.lower(), code, "USA",
                     entry["emissions"] * G_PER_KWH_PER_LBS_PER_MWH, USA_YEAR))
    return rows


def read_canada(data_dir):
    data = load_json(os.path.join(data_dir, "canada_energy_mix.json"))
    rows = []
    for name, mix in sorted(data.items()):
        code = CA_PROVINCE_CODES.get(name.lower())
        if code is None:
            raise DataError(f"canada_energy_mix.json: no province code known for {name!r}")
        total = mix.get("total")
        if not isinstance(total, (int, float)) or total <= 0:
            raise DataError(f"canada_energy_mix.json: {name!r} has no total")
        g = sum(mix.get(src, 0.0) / total * g_src
                for src, g_src in CANADA_SOURCE_G_PER_KWH.items())
        rows.append((name.lower(), code, "CAN", g, CANADA_YEAR))
    return rows


def read_nordic(data_dir):
    data = load_json(os.path.join(data_dir, "nordic_emissions.json"))
    rows = []
    for zone, entry in sorted(data.get("data", {}).items()):
        country = NORDIC_COUNTRY.get(zone[:2].upper())
        if country is None:
            raise DataError(f"nordic_emissions.json: unknown zone {zone!r}")
        unit = entry.get("unit", "")
        if unit.lower().replace(".", "") != "gco2eq/kwh":
            raise DataError(f"nordic_emissions.json: {zone}: unexpected unit {unit!r}")
        rows.append((zone.lower(), zone.upper(), country,
                     float(entry["emission_factor"]), int(entry.get("year") or 0)))
    if not rows:
        raise DataError("nordic_emissions.json: no zones")
    meta = data.get("metadata", {})
    return rows, meta.get("source", "")


def read_cloud(data_dir):
    path = os.path.join(data_dir, "impact.csv")
    rows = []
    # The file starts with a UTF-8 byte-order mark: utf-8-sig drops it from "provider".
    with open(path, encoding="utf-8-sig", newline="") as f:
        for r in csv.DictReader(f):
            provider = r["provider"].strip().lower()
            region = r["region"].strip().lower()
            if not provider or not region:
                continue
            try:
                g = float(r["impact"])
            except ValueError as e:
                raise DataError(f"impact.csv: {provider}/{region}: {e}") from e
            row = (provider, region, r["countryIsoCode"].strip().upper(),
                   r["country_name"].strip(), g)
            rows.append(row)
            alias = CLOUD_REGION_ALIASES.get((provider, region))
            if alias:
                rows.append((provider, alias) + row[2:])
    if not rows:
        raise DataError("impact.csv: no rows")
    return sorted(rows)


def c_str(s):
    out = []
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20:
            out.append("\\%03o" % ord(ch))
        else:
            out.append(ch)  # UTF-8 passes through unchanged
    return '"' + "".join(out) + '"'


def c_double(x):
    r = repr(float(x))  # shortest text that reads back as the same double
    return r if ("." in r or "e" in r) else r + ".0"


def emit_info(lines, name, source, year):
    lines.append(f"const struct carbon_table_info {name} = {{ {c_str(source)}, {year} }};")


def emit_regions(lines, name, rows):
    lines.append(f"const struct carbon_region {name}[] = {{")
    for rname, code, country, g, year in rows:
        lines.append(f"\t{{ {c_str(rname)}, {c_str(code)}, {c_str(country)}, "
                     f"{c_double(g)}, {year} }},")
    lines.append("};")
    lines.append(f"const size_t {name}_len = sizeof({name}) / sizeof({name}[0]);")


def generate(data_dir, iso_path):
    iso = read_iso(iso_path)
    countries, sources, world, world_src = read_countries(data_dir, iso)
    usa = read_usa(data_dir)
    canada = read_canada(data_dir)
    nordic, nordic_meta = read_nordic(data_dir)
    cloud = read_cloud(data_dir)

    country_year = max(r[4] for r in countries)
    nordic_year = max(r[4] for r in nordic)
    world_year = year_in(world_src)
    n_mix = sum(1 for r in countries if r[5] == "CARBON_BASIS_MIX")
    n_world = sum(1 for r in countries if r[5] == "CARBON_BASIS_WORLD")

    L = []
    L.append("/* Carbon intensity tables (g CO2eq/kWh); generated by tools/gen_carbon_tables.py. */")
    L.append("/*")
    L.append(" * Do not edit: rerun tools/gen_carbon_tables.py [DATA_DIR] to update.")
    L.append(" * Figures derived from CodeCarbon's data files (github.com/mlco2/codecarbon, MIT),")
    L.append(" * country figures from Our World in Data (CC BY).")
    L.append(" */")
    L.append('#include "carbon_tables.h"')
    L.append("")
    L.append("/*")
    L.append(" * Countries: global_energy_mix.json, Our World in Data electricity data,")
    L.append(f" * years {min(r[4] for r in countries)}..{country_year} (per row). carbon_intensity as")
    L.append(" * published; where missing or 0, the share-weighted per-source intensity")
    L.append(" * (carbon_intensity_per_source.json), or the world average when the source TWh")
    L.append(f" * do not add up to total_TWh. {len(countries)} countries, {n_mix} from the mix,")
    L.append(f" * {n_world} world average. Alpha-2 codes from ISO 3166-1 (Debian iso-codes).")
    L.append(" */")
    emit_info(L, "carbon_countries_info", "Our World in Data via CodeCarbon global_energy_mix",
              country_year)
    L.append("const struct carbon_country carbon_countries[] = {")
    for iso3, iso2, name, g, year, basis in countries:
        L.append(f"\t{{ {c_str(iso3)}, {c_str(iso2)}, {c_str(name)}, {c_double(g)}, "
                 f"{year}, {basis} }},")
    L.append("};")
    L.append("const size_t carbon_countries_len = "
             "sizeof(carbon_countries) / sizeof(carbon_countries[0]);")
    L.append("")
    L.append("/* ISO 3166-1 countries (Debian iso-codes): alpha-3, alpha-2, name. */")
    L.append("const struct carbon_iso_country carbon_iso_countries[] = {")
    for iso3, iso2, name in iso:
        L.append(f"\t{{ {c_str(iso3)}, {c_str(iso2)}, {c_str(name)} }},")
    L.append("};")
    L.append("const size_t carbon_iso_countries_len = "
             "sizeof(carbon_iso_countries) / sizeof(carbon_iso_countries[0]);")
    L.append("")
    L.append(f"/* US states: usa_emissions.json ({USA_YEAR}), lbs/MWh x "
             f"{G_PER_KWH_PER_LBS_PER_MWH} = g/kWh. */")
    emit_info(L, "carbon_us_states_info", "CodeCarbon usa_emissions, lbs/MWh x 0.45359237",
              USA_YEAR)
    emit_regions(L, "carbon_us_states", usa)
    L.append("")
    L.append(f"/* Canadian provinces: canada_energy_mix.json ({CANADA_YEAR}), share of total x")
    L.append(" * {coal 995.725971, petroleum 816.6885263, natural gas 743.8415916} g/kWh. */")
    emit_info(L, "carbon_ca_provinces_info", "CodeCarbon canada_energy_mix, fossil shares",
              CANADA_YEAR)
    emit_regions(L, "carbon_ca_provinces", canada)
    L.append("")
    L.append(f"/* Nordic bidding zones: nordic_emissions.json ({nordic_meta}),")
    L.append(f" * years {min(r[4] for r in nordic)}..{nordic_year} (per row). */")
    emit_info(L, "carbon_nordic_zones_info", "ENTSO-E averages via CodeCarbon nordic_emissions",
              nordic_year)
    emit_regions(L, "carbon_nordic_zones", nordic)
    L.append("")
    L.append("/* Cloud regions: impact.csv (Google Cloud region carbon data; the file states")
    L.append(" * no year). gcp me-cenrtal1 is also listed as me-central1. */")
    emit_info(L, "carbon_cloud_regions_info", "Google Cloud region data via CodeCarbon impact", 0)
    L.append("const struct carbon_cloud_region carbon_cloud_regions[] = {")
    for provider, region, country, cname, g in cloud:
        L.append(f"\t{{ {c_str(provider)}, {c_str(region)}, {c_str(country)}, "
                 f"{c_str(cname)}, {c_double(g)} }},")
    L.append("};")
    L.append("const size_t carbon_cloud_regions_len = "
             "sizeof(carbon_cloud_regions) / sizeof(carbon_cloud_regions[0]);")
    L.append("")
    L.append("/* Per-source intensities and world average: carbon_intensity_per_source.json")
    L.append(f" * (world average: {world_src}). */")
    L.append("const struct carbon_source_intensity carbon_source_intensities[] = {")
    for src, g in sources:
        L.append(f"\t{{ {c_str(src)}, {c_double(g)} }},")
    L.append("};")
    L.append("const size_t carbon_source_intensities_len = "
             "sizeof(carbon_source_intensities) / sizeof(carbon_source_intensities[0]);")
    L.append(f"const double carbon_world_average_g_per_kwh = {c_double(world)};")
    emit_info(L, "carbon_world_average_info", "IEA via CodeCarbon carbon_intensity_per_source",
              world_year)
    return "\n".join(L) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data_dir", nargs="?", default=DEFAULT_DATA_DIR)
    ap.add_argument("-o", "--out", default=DEFAULT_OUT)
    ap.add_argument("--iso-codes", default=DEFAULT_ISO_CODES,
                    help="iso_3166-1.json from Debian's iso-codes package")
    ap.add_argument("--check", action="store_true",
                    help="exit 1 if OUT differs from what would be generated")
    args = ap.parse_args()
    try:
        text = generate(args.data_dir, args.iso_codes)
    except (DataError, KeyError, TypeError) as e:
        print(f"gen_carbon_tables: {e}", file=sys.stderr)
        return 1
    if args.check:
        try:
            with open(args.out, encoding="utf-8") as f:
                same = f.read() == text
        except OSError as e:
            print(f"gen_carbon_tables: {e}", file=sys.stderr)
            return 1
        if not same:
            print(f"gen_carbon_tables: {args.out} is stale; rerun the tool", file=sys.stderr)
            return 1
        return 0
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp = args.out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
