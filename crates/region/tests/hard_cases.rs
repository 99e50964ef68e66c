//! Every hard case of the region design notes (§4), each with its expected code.

use region::{Level, resolve};

const CASES: &str = include_str!("hard_cases.tsv");

#[test]
fn every_hard_case_resolves_as_expected() {
    let mut failures = Vec::new();
    let mut count = 0;
    for line in CASES
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let f: Vec<&str> = line.split('\t').collect();
        assert!(f.len() >= 5, "malformed case line {line:?}");
        let (text, code, level, flags) = (f[0], f[1], f[2], f[3]);
        let r = resolve(text);
        let got_code = r.code.map(|c| c.to_string()).unwrap_or_default();
        let got_level = match r.level {
            Level::County => "county",
            Level::City => "city",
            Level::Province => "province",
            Level::None => "none",
        };
        let ok = got_code == code
            && got_level == level
            && r.ambiguous == flags.contains('a')
            && r.conflict == flags.contains('c');
        if !ok {
            failures.push(format!(
                "{text:?}: expected {code} {level} {flags:?}, got {got_code} {got_level} ambiguous={} conflict={}",
                r.ambiguous, r.conflict
            ));
        }
        count += 1;
    }
    assert!(count >= 95, "only {count} cases");
    assert!(
        failures.is_empty(),
        "{} of {count} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn spans_point_into_the_original_text() {
    let text = "销售部：　北京市 朝阳区建国路１号";
    let r = resolve(text);
    assert_eq!(r.code.map(|c| c.get()), Some(110105));
    assert_eq!(r.spans.len(), 2);
    for s in &r.spans {
        assert_eq!(&text[s.start..s.end], s.text);
    }
    assert_eq!(r.spans[0].text, "北京市");
    assert_eq!(r.spans[1].text, "朝阳区");
    assert_eq!(r.province, Some("北京市"));
    assert_eq!(r.city, Some("北京市"));
    assert_eq!(r.county, Some("朝阳区"));
}
