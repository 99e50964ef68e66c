//! Same answers as the committed golden file, for a large deterministic corpus: every
//! division's full name, short form and full chain (as free text and as structured
//! fields), every embedded township name with its city, the hard cases, the peers'
//! labelled set, and seeded random mixtures of names, punctuation, spaces, full-width
//! and other characters that NFKC rewrites.
//!
//! `golden.txt` holds, per chunk of [`CHUNK`] queries, a hash of every answer in full
//! (code, level, flags, names, city code, spans), and, for every [`SAMPLE`]-th query,
//! the code, level and flags in clear. A change to any answer fails the test.
//!
//! To regenerate after an intended change of answers:
//! `REGION_GOLDEN_WRITE=1 cargo test -p region --test golden`. To write every answer in
//! full to a file (for a diff between two versions): `REGION_GOLDEN_DUMP=path`.

use std::fmt::Write as _;

use region::{DivisionLevel, Level, Resolution, divisions, resolve, resolve_parts};

const GOLDEN: &str = "tests/golden.txt";
const CHUNK: usize = 512;
const SAMPLE: usize = 41;

const HARD: &str = include_str!("hard_cases.tsv");
const PEERS: &str = include_str!("../../../bench/region/data/peers.tsv");
const TOWNS: &str = include_str!("../data/towns.tsv");

/// Pieces mixed into the random queries: separators, spaces, road and building words,
/// full-width forms, and characters that NFKC rewrites, composes or drops.
#[rustfmt::skip]
const BITS: [&str; 79] = [
    "路", "1号", "街道", "镇", "乡", "村", "；", ";", "/", "|", " ", "　", "\n", "\t", "（", "）", "(",
    ")", "-", "—", "、", "。", "，", ",", "市", "区", "县", "省", "州", "旗", "大学", "公司", "广场", "北路",
    "大道", "中心", "ａ１", "Ａ", "１２", "号楼", "室", "\u{0}", "\u{301}", "\u{fffd}", "\u{200b}",
    "\u{3000}", "\u{a0}", "\u{ff61}", "\u{ff64}", "\u{f900}", "\u{fa0a}", "\u{2f00}",
    "\u{2e9f}", "\u{3192}", "①", "²", "ﬁ", "ｶ", "ﾞ", "한", "가\u{11a8}", "㍿", "㈱", "℃", "№", "Ⅻ",
    "\u{1d400}", "🙂", "é", "e\u{301}", "∶", "﹔", "︔", "；；", "合作", "城区", "朝阳", "鼓楼", "南山",
];

/// One query: free text, or structured fields.
enum Query {
    Text(String),
    Parts(String, String, String),
}

/// A small deterministic generator (xorshift64*), so the corpus never changes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[self.below(v.len())]
    }
}

/// A plain short form: the name less one administrative suffix.
fn short(name: &str) -> &str {
    for suffix in [
        "特别行政区",
        "自治区",
        "自治州",
        "自治县",
        "地区",
        "省",
        "市",
        "区",
        "县",
        "旗",
        "盟",
    ] {
        if let Some(rest) = name.strip_suffix(suffix)
            && rest.chars().count() >= 2
        {
            return rest;
        }
    }
    name
}

fn corpus() -> Vec<Query> {
    let mut q = Vec::new();
    for line in HARD.lines().chain(PEERS.lines()) {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        if let Some(text) = line.split('\t').next() {
            q.push(Query::Text(text.to_owned()));
        }
    }
    let divs = divisions();
    let name_of = |c| region::division(c).map_or("", |d| d.name);
    for d in divs {
        q.push(Query::Text(d.name.to_owned()));
        q.push(Query::Text(short(d.name).to_owned()));
        let parent = d.parent.and_then(region::division);
        let (province, city) = match parent {
            Some(p) if p.level == DivisionLevel::Prefecture => {
                (p.parent.map_or("", name_of), p.name)
            }
            Some(p) => (p.name, ""),
            None => ("", ""),
        };
        q.push(Query::Text(format!("{province}{city}{}人民路1号", d.name)));
        q.push(Query::Text(format!(
            "{}{}{}",
            short(province),
            short(city),
            short(d.name)
        )));
        q.push(Query::Parts(
            province.to_owned(),
            if city.is_empty() { "市辖区" } else { city }.to_owned(),
            d.name.to_owned(),
        ));
    }
    // Every township name, with its city's short name, its province, or alone.
    let roads = ["人民路", "中山路", "解放大道", "建设街", "文化路"];
    for line in TOWNS.lines() {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let Some((code, names)) = line.split_once('\t') else {
            continue;
        };
        let Some(county) = code.parse().ok().and_then(region::division) else {
            continue;
        };
        let city = county.parent.map_or("", name_of);
        let province = name_of(county.code.province());
        for (i, town) in names.split(' ').enumerate() {
            let road = roads[i % roads.len()];
            q.push(Query::Text(match i % 4 {
                0 | 1 => format!("{}{town}{road}1号", short(city)),
                2 => format!("{province}{town}{road}"),
                _ => format!("{town}{road}{}号", i % 97),
            }));
        }
    }
    // Random mixtures: names and their pieces, separators, spaces, full-width forms,
    // characters that NFKC rewrites or drops, and arbitrary ideographs.
    let names: Vec<&str> = divs.iter().map(|d| d.name).collect();
    let shorts: Vec<&str> = divs.iter().map(|d| short(d.name)).collect();
    let towns: Vec<&str> = TOWNS
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('\t'))
        .flat_map(|(_, n)| n.split(' '))
        .collect();
    let bits = BITS;
    let mut rng = Rng(0x2260_2023_0517_0001);
    for i in 0..24_000 {
        let parts = 1 + rng.below(7);
        let mut s = String::new();
        for _ in 0..parts {
            match rng.below(10) {
                0..=2 => s.push_str(rng.pick(&names)),
                3 | 4 => s.push_str(rng.pick(&shorts)),
                5 => s.push_str(rng.pick(&towns)),
                6 | 7 => s.push_str(rng.pick(&bits)),
                _ => {
                    for _ in 0..1 + rng.below(3) {
                        let c = match rng.below(4) {
                            0 => char::from_u32(0x4e00 + rng.below(0x5200) as u32),
                            1 => char::from_u32(0x20 + rng.below(0x5f) as u32),
                            2 => char::from_u32(0xff01 + rng.below(0x5e) as u32),
                            _ => char::from_u32(rng.below(0x3_0000) as u32),
                        };
                        s.push(c.unwrap_or('?'));
                    }
                }
            }
        }
        if i % 8 == 7 {
            let cut = |s: &str, k: usize| {
                let n = s.chars().count();
                s.char_indices()
                    .nth(k % (n + 1))
                    .map_or(s.len(), |(b, _)| b)
            };
            let a = cut(&s, rng.below(16));
            let b = a + cut(&s[a..], rng.below(16));
            q.push(Query::Parts(
                s[..a].to_owned(),
                s[a..b].to_owned(),
                s[b..].to_owned(),
            ));
        } else {
            q.push(Query::Text(s));
        }
    }
    q
}

/// Every part of an answer, on one line.
fn full(r: &Resolution) -> String {
    let mut s = format!(
        "{:?}|{:?}|{}|{}|{:?}|{:?}|{:?}|{:?}",
        r.code.map(|c| c.get()),
        r.level,
        r.ambiguous,
        r.conflict,
        r.province,
        r.city,
        r.county,
        r.city_code.map(|c| c.get()),
    );
    for sp in &r.spans {
        let _ = write!(
            s,
            "|{:?},{},{},{},{},{},{:?}",
            sp.field,
            sp.start,
            sp.end,
            sp.text,
            sp.code.get(),
            sp.name,
            sp.kind
        );
    }
    s
}

/// Code, level and flags: `110105c-`, `-n--`.
fn brief(r: &Resolution) -> String {
    let code = r.code.map_or_else(|| "-".to_owned(), |c| c.to_string());
    let level = match r.level {
        Level::County => 'c',
        Level::City => 't',
        Level::Province => 'p',
        Level::None => 'n',
    };
    let a = if r.ambiguous { 'a' } else { '-' };
    let c = if r.conflict { 'x' } else { '-' };
    format!("{code}{level}{a}{c}")
}

/// FNV-1a, 64 bits: stable across platforms and releases.
fn fnv(h: &mut u64, bytes: &[u8]) {
    for &b in bytes {
        *h ^= u64::from(b);
        *h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
}

fn describe(q: &Query) -> String {
    match q {
        Query::Text(t) => format!("{t:?}"),
        Query::Parts(p, c, d) => format!("parts {p:?} / {c:?} / {d:?}"),
    }
}

#[test]
fn answers_match_the_golden_file() {
    let queries = corpus();
    let answers: Vec<Resolution> = queries
        .iter()
        .map(|q| match q {
            Query::Text(t) => resolve(t),
            Query::Parts(p, c, d) => resolve_parts(p, c, d),
        })
        .collect();
    let lines: Vec<String> = answers.iter().map(full).collect();
    if let Ok(path) = std::env::var("REGION_GOLDEN_DUMP") {
        let mut out = String::new();
        for (q, l) in queries.iter().zip(&lines) {
            let _ = writeln!(out, "{}\t{l}", describe(q));
        }
        std::fs::write(&path, out).unwrap();
    }
    let mut got = format!(
        "# Golden answers of the region resolver; see tests/golden.rs ({} queries).\n",
        queries.len()
    );
    for (i, chunk) in lines.chunks(CHUNK).enumerate() {
        let mut h = 0xcbf2_9ce4_8422_2325u64;
        for l in chunk {
            fnv(&mut h, l.as_bytes());
            fnv(&mut h, b"\n");
        }
        let _ = writeln!(got, "h {i} {h:016x}");
    }
    for (i, r) in answers.iter().enumerate().step_by(SAMPLE) {
        let _ = writeln!(got, "{i} {}", brief(r));
    }
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(GOLDEN);
    if std::env::var_os("REGION_GOLDEN_WRITE").is_some() {
        std::fs::write(&path, &got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap();
    if want == got {
        return;
    }
    // Say which lines differ; a differing hash names its chunk's queries.
    let mut report = Vec::new();
    for (w, g) in want.lines().zip(got.lines()) {
        if w == g {
            continue;
        }
        if let Some(rest) = g.strip_prefix("h ") {
            let chunk: usize = rest.split(' ').next().unwrap().parse().unwrap();
            report.push(format!(
                "chunk {chunk} (queries {}..{}) changed",
                chunk * CHUNK,
                ((chunk + 1) * CHUNK).min(queries.len())
            ));
        } else {
            let i: usize = g.split(' ').next().unwrap().parse().unwrap();
            report.push(format!(
                "query {i} {}: want {w:?}, got {g:?} ({})",
                describe(&queries[i]),
                lines[i]
            ));
        }
        if report.len() >= 40 {
            break;
        }
    }
    assert_eq!(
        want.lines().count(),
        got.lines().count(),
        "corpus size changed"
    );
    panic!(
        "answers differ from {GOLDEN}:\n{}\nrun with REGION_GOLDEN_DUMP=path on both versions and diff",
        report.join("\n")
    );
}
