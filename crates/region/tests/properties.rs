//! Properties: no input panics, answers are deterministic, and free text agrees with
//! structured fields.

use proptest::prelude::*;
use region::{DivisionLevel, divisions, resolve, resolve_parts};

/// Strings mixing division names, their pieces, punctuation and arbitrary text.
fn addressish() -> impl Strategy<Value = String> {
    let names: Vec<&'static str> = divisions().iter().map(|d| d.name).collect();
    let piece = prop_oneof![
        proptest::sample::select(names).prop_map(str::to_owned),
        proptest::sample::select(vec![
            "路", "1号", "街道", "镇", "；", "/", " ", "　", "\n", "（", "）", "-", "市", "区",
            "县", "省", "大学", "ａ１", "\u{0}", "\u{301}", "\u{fffd}",
        ])
        .prop_map(str::to_owned),
        "\\PC{0,4}",
    ];
    proptest::collection::vec(piece, 0..8).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_text_never_panics_and_is_deterministic(s in "\\PC*") {
        let a = resolve(&s);
        let b = resolve(&s);
        prop_assert_eq!(&a, &b);
        for span in &a.spans {
            prop_assert!(span.start < span.end && span.end <= s.len());
            prop_assert!(s.is_char_boundary(span.start) && s.is_char_boundary(span.end));
        }
        prop_assert_eq!(a.code.is_none(), a.level == region::Level::None);
    }

    #[test]
    fn addressish_text_never_panics_and_is_deterministic(s in addressish()) {
        let a = resolve(&s);
        prop_assert_eq!(&a, &resolve(&s));
        for span in &a.spans {
            prop_assert!(s.get(span.start..span.end).is_some());
        }
    }

    #[test]
    fn structured_fields_never_panic(p in addressish(), c in addressish(), d in addressish()) {
        let a = resolve_parts(&p, &c, &d);
        prop_assert_eq!(&a, &resolve_parts(&p, &c, &d));
        for span in &a.spans {
            let field = match span.field {
                region::Field::Province => &p,
                region::Field::City => &c,
                region::Field::District => &d,
                region::Field::Text => return Err(TestCaseError::fail("text span in parts")),
            };
            prop_assert!(field.get(span.start..span.end).is_some());
        }
    }

    #[test]
    fn free_text_and_structured_fields_agree(i in 0usize..10_000) {
        let counties: Vec<_> = divisions()
            .iter()
            .filter(|d| d.level == DivisionLevel::County)
            .collect();
        let county = counties[i % counties.len()];
        let parent = county.parent.and_then(region::division);
        let (province, city) = match parent {
            Some(p) if p.level == DivisionLevel::Prefecture => {
                (p.parent.and_then(region::division).map_or("", |d| d.name), p.name)
            }
            Some(p) => (p.name, "市辖区"),
            None => ("", ""),
        };
        let structured = resolve_parts(province, city, county.name);
        let city_text = if city == "市辖区" { "" } else { city };
        let free = resolve(&format!("{province}{city_text}{}", county.name));
        prop_assert_eq!(structured.code, Some(county.code), "{}", county.name);
        prop_assert_eq!(free.code, structured.code, "{}", county.name);
    }
}
