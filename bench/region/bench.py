#!/usr/bin/env python3
"""Runs supplyhub (region crate), cpca 0.5.5 and jionlp 1.5.31 on the same labelled
inputs and prints accuracy, false positives and throughput. Called by run.sh.

Label files are TSV: text, county, city_key, province (see build_sets.py), or the
hard-case format of crates/region/tests/hard_cases.tsv (text, code, level, flags, case).

Scoring, the same for all three:
  county accuracy  rows with a county label: the answer's code equals it exactly
                   (an obsolete code such as 330104 is wrong);
  city accuracy    rows with a city label: the answer lies in that city;
  false positives  rows with no label at all (not addresses): any answer is one.
Peer names are mapped to codes with crates/region/data/divisions.tsv. Throughput is
measured inside each process on one thread, start-up excluded.
"""
import argparse
import math
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MUNI = {"11", "12", "31", "50"}


def load_divisions():
    divs = {}
    with open(os.path.join(ROOT, "crates", "region", "data", "divisions.tsv"), encoding="utf-8") as f:
        for line in f:
            if not line.startswith("#"):
                code, name, level, parent = line.rstrip("\n").split("\t")
                divs[code] = (name, level, parent)
    return divs


DIVS = load_divisions()


def city_key(code):
    if not code or len(code) != 6 or not code.isdigit():
        return ""
    if code[:2] in MUNI:
        return code[:2] + "0000"
    if code.endswith("0000"):
        return ""
    if code[2:4] == "90":
        return code
    return code[:4] + "00"


def load_set(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        hard = False
        for line in f:
            p = line.rstrip("\n").split("\t")
            if len(p) >= 5 and p[2] in ("county", "city", "province", "none"):
                hard = True
            if line.startswith("#") or not line.strip("\n"):
                continue
            p = line.rstrip("\n").split("\t")
            if hard:
                text, code, level = p[0], p[1], p[2]
                county = code if level == "county" else ""
                rows.append((text, county, city_key(code), code[:2] + "0000" if code else ""))
            else:
                rows.append((p[0], p[1], p[2], p[3]))
    return rows


# ---- name → code for jionlp ------------------------------------------------------
NAME_INDEX = {}
for code, (name, level, parent) in DIVS.items():
    NAME_INDEX.setdefault(name, []).append(code)


def names_to_code(province, city, county):
    prov = [c for c in NAME_INDEX.get(province or "", []) if DIVS[c][1] == "province"]
    if not prov:
        return None
    p2 = prov[0][:2]
    city_code = None
    if city and city != province:
        hits = [c for c in NAME_INDEX.get(city, []) if c.startswith(p2) and DIVS[c][1] == "prefecture"]
        city_code = hits[0] if len(hits) == 1 else None
    if county:
        within = city_code[:4] if city_code else p2
        hits = [c for c in NAME_INDEX.get(county, []) if c.startswith(within) and DIVS[c][1] == "county"]
        if len(hits) == 1:
            return hits[0]
        # A county-level city outside prefectures, or a county-less prefecture.
        hits = [c for c in NAME_INDEX.get(county, []) if c.startswith(p2) and DIVS[c][1] != "province"]
        if len(hits) == 1:
            return hits[0]
    if city_code:
        return city_code
    if city:
        hits = [c for c in NAME_INDEX.get(city, []) if c.startswith(p2) and DIVS[c][1] != "province"]
        if len(hits) == 1:
            return hits[0]
    if p2 in MUNI:
        return p2 + "0100"
    return prov[0]


# ---- contenders ------------------------------------------------------------------
def run_supplyhub(binary, texts, cache):
    inp = os.path.join(cache, "all_inputs.txt")
    with open(inp, "w", encoding="utf-8") as f:
        f.write("\n".join(texts) + "\n")
    with open(inp, encoding="utf-8") as f:
        out = subprocess.run([binary, "--seconds", "3"], stdin=f, capture_output=True, text=True, check=True)
    preds = [l.split("\t")[0] or None for l in out.stdout.splitlines()]
    assert len(preds) == len(texts), (len(preds), len(texts))
    rate = float(out.stderr.split("=")[1].split()[0])
    return preds, rate


def run_cpca(texts):
    import cpca
    cpca.transform(texts[:10])  # loads its data
    best = math.inf
    for _ in range(3):
        t = time.perf_counter()
        df = cpca.transform(texts)
        best = min(best, time.perf_counter() - t)
    preds = []
    for v in df["adcode"].tolist():
        s = str(v) if v is not None and not (isinstance(v, float) and math.isnan(v)) else ""
        preds.append(s[:6] if s and s[:6].isdigit() else None)
    return preds, len(texts) / best


def run_jionlp(texts):
    import io
    import contextlib
    with contextlib.redirect_stdout(io.StringIO()):
        import jionlp as jio
        jio.parse_location("北京市朝阳区", town_village=False, change2new=True)  # loads its data
    preds = []
    t = time.perf_counter()
    for s in texts:
        try:
            r = jio.parse_location(s, town_village=False, change2new=True)
            preds.append(names_to_code(r.get("province"), r.get("city"), r.get("county")))
        except Exception:  # a peer's failure is a miss, not a crash of the benchmark
            preds.append(None)
    return preds, len(texts) / (time.perf_counter() - t)


# ---- scoring ---------------------------------------------------------------------
def score(rows, preds):
    county_n = county_ok = city_n = city_ok = neg_n = fp = 0
    for (text, county, city, prov), pred in zip(rows, preds):
        if county:
            county_n += 1
            county_ok += pred == county
        if city:
            city_n += 1
            city_ok += bool(pred) and city_key(pred) == city
        if not county and not city and not prov:
            neg_n += 1
            fp += pred is not None
    return {"county": (county_ok, county_n), "city": (city_ok, city_n), "fp": (fp, neg_n)}


def pct(ok_n):
    ok, n = ok_n
    return f"{100.0 * ok / n:5.1f}% ({ok}/{n})" if n else "      –"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--cache", required=True)
    ap.add_argument("sets", nargs="+")
    a = ap.parse_args()
    sets = [(os.path.basename(p).rsplit(".", 1)[0], load_set(p)) for p in a.sets]
    texts = [r[0] for _, rows in sets for r in rows]
    print(f"{len(texts)} inputs in {len(sets)} sets; one thread each, start-up excluded\n")
    results = {}
    results["supplyhub"] = run_supplyhub(a.bin, texts, a.cache)
    results["cpca 0.5.5"] = run_cpca(texts)
    results["jionlp 1.5.31"] = run_jionlp(texts)
    names = list(results)
    with open(os.path.join(a.cache, "predictions.tsv"), "w", encoding="utf-8") as f:
        f.write("text\t" + "\t".join(names) + "\n")
        for i, t in enumerate(texts):
            f.write(t + "\t" + "\t".join(results[n][0][i] or "" for n in names) + "\n")

    w = 22
    print(f"{'set':<10} {'metric':<16}" + "".join(f"{n:>{w}}" for n in names))
    offset = 0
    totals = {n: {"county": [0, 0], "city": [0, 0], "fp": [0, 0]} for n in names}
    for set_name, rows in sets:
        per = {}
        for n in names:
            per[n] = score(rows, results[n][0][offset:offset + len(rows)])
            for k in totals[n]:
                totals[n][k][0] += per[n][k][0]
                totals[n][k][1] += per[n][k][1]
        offset += len(rows)
        for metric, label in (("county", "county accuracy"), ("city", "city accuracy"), ("fp", "false positives")):
            if per[names[0]][metric][1] == 0:
                continue
            print(f"{set_name:<10} {label:<16}" + "".join(f"{pct(per[n][metric]):>{w}}" for n in names))
    print()
    for metric, label in (("county", "county accuracy"), ("city", "city accuracy"), ("fp", "false positives")):
        base = totals[names[0]][metric]
        cells = []
        for n in names:
            ok, cnt = totals[n][metric]
            ratio = (ok / cnt) / (base[0] / base[1]) if cnt and base[0] else float("nan")
            cells.append(f"{pct((ok, cnt))}" + ("" if n == names[0] else f" ×{ratio:.2f}"))
        print(f"{'all':<10} {label:<16}" + "".join(f"{c:>{w + 8}}" for c in cells))
    rates = [results[n][1] for n in names]
    print(f"{'all':<10} {'addresses/s':<16}" + "".join(
        f"{r:>{w}.0f}" + ("" if i == 0 else f" ×{r / rates[0]:.4f}") for i, r in enumerate(rates)))
    print("\nratios (×) are the peer's figure divided by supplyhub's; predictions in .cache/predictions.tsv")


if __name__ == "__main__":
    sys.exit(main())
