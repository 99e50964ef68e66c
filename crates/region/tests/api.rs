//! The public API: structured fields, configuration, fallbacks and serialisation.

use region::{
    CityFallback, ConfigError, DivisionCode, Field, Level, NameKind, Resolver, ResolverConfig,
    resolve, resolve_parts,
};

fn code(r: &region::Resolution) -> String {
    r.code.map(|c| c.to_string()).unwrap_or_default()
}

#[test]
fn structured_fields_tolerate_placeholders_and_counties_in_the_city_field() {
    let cases = [
        (("北京市", "市辖区", "朝阳区"), "110105"),
        (("重庆市", "县", "城口县"), "500229"),
        (("湖北省", "省直辖县级行政区划", "仙桃市"), "429004"),
        (("浙江省", "余杭区", ""), "330110"),
        (("", "杭州", "西湖区"), "330106"),
        (("广东省", "东莞市", "市辖区"), "441900"),
        (("江苏省", "南京市", "鼓楼区"), "320106"),
        (("福建省", "福州市", "鼓楼区"), "350102"),
        (("吉林省", "长春市", "朝阳区"), "220104"),
        (("", "", "涉县"), "130426"),
        (("内蒙古", "呼市", "新城区"), "150102"),
    ];
    for ((p, c, d), want) in cases {
        let r = resolve_parts(p, c, d);
        assert_eq!(code(&r), want, "{p}/{c}/{d}: {r:?}");
        assert_eq!(r.level, Level::County, "{p}/{c}/{d}");
    }
}

#[test]
fn structured_spans_name_their_field() {
    let r = resolve_parts("北京市", "市辖区", " 朝阳区");
    assert_eq!(r.spans.len(), 2);
    assert_eq!(r.spans[0].field, Field::Province);
    assert_eq!((r.spans[0].start, r.spans[0].end), (0, 9));
    assert_eq!(r.spans[1].field, Field::District);
    assert_eq!((r.spans[1].start, r.spans[1].end), (1, 10));
    assert_eq!(r.spans[1].kind, NameKind::Full);
}

#[test]
fn a_whole_field_counts_even_when_free_text_would_not_trust_it() {
    // `城区` alone in free text is too generic; as the district of 阳泉 it is a name.
    assert_eq!(code(&resolve_parts("山西省", "阳泉市", "城区")), "140302");
    assert!(resolve("城区").code.is_none());
}

#[test]
fn nothing_matched_is_said_not_defaulted() {
    for text in ["", "   ", "hello world", "合作共赢", "12345", "；；；"] {
        let r = resolve(text);
        assert_eq!(r.code, None, "{text:?}");
        assert_eq!(r.level, Level::None, "{text:?}");
        assert!(r.spans.is_empty(), "{text:?}");
    }
    let r = resolve_parts("", "", "");
    assert_eq!(r.level, Level::None);
}

#[test]
fn city_fallbacks_follow_the_configuration() {
    let default = Resolver::default();
    let r = default.resolve("北京市");
    assert_eq!((code(&r), r.level), ("110100".to_owned(), Level::City));
    let r = default.resolve("湖北省仙桃市");
    assert_eq!(r.city_code.map(|c| c.get()), Some(420000));
    let r = default.resolve("北京市朝阳区");
    assert_eq!(r.city_code.map(|c| c.get()), Some(110100));

    let custom = Resolver::new(ResolverConfig {
        municipality_city: CityFallback::Province,
        direct_county_city: CityFallback::Pseudo,
        ..ResolverConfig::default()
    })
    .expect("valid config");
    let r = custom.resolve("北京市");
    assert_eq!((code(&r), r.level), ("110000".to_owned(), Level::City));
    assert_eq!(
        custom.resolve("湖北省仙桃市").city_code.map(|c| c.get()),
        Some(429000)
    );
    assert_eq!(
        custom.resolve("北京市朝阳区").city_code.map(|c| c.get()),
        Some(110000)
    );
}

#[test]
fn province_only_answers_can_be_refused() {
    let r = resolve("浙江省");
    assert_eq!((code(&r), r.level), ("330000".to_owned(), Level::Province));
    let strict = Resolver::new(ResolverConfig {
        allow_province: false,
        ..ResolverConfig::default()
    })
    .expect("valid config");
    let r = strict.resolve("浙江省");
    assert_eq!(r.code, None);
    assert_eq!(r.level, Level::None);
    assert_eq!(r.province, Some("浙江省"));
    assert!(!r.ambiguous);
}

#[test]
fn priors_decide_bare_ambiguous_names_and_can_be_replaced() {
    let r = resolve("鼓楼区中山路1号");
    assert_eq!(code(&r), "320106");
    assert!(r.ambiguous);

    let fuzhou = Resolver::new(ResolverConfig {
        priors: [("鼓楼区".to_owned(), "350102".parse().expect("code"))].into(),
        ..ResolverConfig::default()
    })
    .expect("valid config");
    assert_eq!(code(&fuzhou.resolve("鼓楼区中山路1号")), "350102");

    // With no priors, four 鼓楼区 in four provinces share no ancestor.
    let none = Resolver::new(ResolverConfig {
        priors: Default::default(),
        ..ResolverConfig::default()
    })
    .expect("valid config");
    let r = none.resolve("鼓楼区中山路1号");
    assert_eq!(r.code, None);
    assert!(r.ambiguous);
    // …but two 城区 of Shanxi share their province.
    let r = none.resolve("山西城区人民路1号");
    assert_eq!(code(&r), "140000");
    assert!(r.ambiguous);
}

#[test]
fn unknown_prior_codes_are_refused() {
    let err = Resolver::new(ResolverConfig {
        priors: [("朝阳区".to_owned(), "110199".parse().expect("code"))].into(),
        ..ResolverConfig::default()
    })
    .expect_err("110199 is not a division");
    assert!(matches!(err, ConfigError::UnknownPrior { ref name, .. } if name == "朝阳区"));
    assert!(err.to_string().contains("110199"));
}

#[test]
fn config_deserialises_with_defaults() {
    let c: ResolverConfig = serde_json::from_str("{}").expect("empty config");
    assert_eq!(c, ResolverConfig::default());
    let c: ResolverConfig = serde_json::from_str(
        r#"{"municipality_city":"province","allow_province":false,"priors":{"朝阳区":"220104"}}"#,
    )
    .expect("config");
    assert_eq!(c.municipality_city, CityFallback::Province);
    assert!(!c.allow_province);
    assert_eq!(c.priors.len(), 1);
    assert_eq!(c.direct_county_city, CityFallback::Province);
    assert!(serde_json::from_str::<ResolverConfig>(r#"{"prior":{}}"#).is_err());
    assert!(serde_json::from_str::<ResolverConfig>(r#"{"priors":{"朝阳区":"11010"}}"#).is_err());
}

#[test]
fn resolutions_serialise_to_json() {
    let r = resolve("上海市浦东新区张江路1号");
    let v = serde_json::to_value(&r).expect("json");
    assert_eq!(v["code"], "310115");
    assert_eq!(v["level"], "county");
    assert_eq!(v["province"], "上海市");
    assert_eq!(v["county"], "浦东新区");
    assert_eq!(v["ambiguous"], false);
    assert_eq!(v["spans"][1]["kind"], "full");
    assert_eq!(v["spans"][1]["code"], "310115");
    let none = serde_json::to_value(resolve("合作共赢")).expect("json");
    assert_eq!(none["code"], serde_json::Value::Null);
    assert_eq!(none["level"], "none");
}

#[test]
fn legacy_names_answer_with_their_successor() {
    let r = resolve("上海市闸北区天目中路1号");
    assert_eq!(code(&r), "310106");
    assert_eq!(r.county, Some("静安区"));
    assert_eq!(r.spans[1].kind, NameKind::Legacy);
    assert_eq!(r.spans[1].text, "闸北区");
}

#[test]
fn townships_imply_their_county() {
    let r = resolve("苏州市东山镇人民路1号");
    assert_eq!(code(&r), "320506");
    assert_eq!(r.spans.last().map(|s| s.kind), Some(NameKind::Township));
    let _: DivisionCode = r.code.expect("code");
}

#[test]
fn every_county_resolves_from_its_full_chain_in_text_and_fields() {
    use region::{DivisionLevel, division, divisions};
    let mut failures = Vec::new();
    for county in divisions()
        .iter()
        .filter(|d| d.level == DivisionLevel::County)
    {
        let parent = county.parent.and_then(division);
        let (province, city) = match parent {
            Some(p) if p.level == DivisionLevel::Prefecture => {
                (p.parent.and_then(division).map_or("", |d| d.name), p.name)
            }
            Some(p) => (p.name, ""),
            None => ("", ""),
        };
        let text = format!("{province}{city}{}人民路1号", county.name);
        let free = resolve(&text);
        let parts = resolve_parts(province, city, county.name);
        if free.code != Some(county.code) || parts.code != Some(county.code) {
            failures.push(format!("{text}: {:?} / {:?}", free.code, parts.code));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
