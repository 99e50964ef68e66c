//! The name index, built once: every way a division is written, with what it means.
//!
//! Patterns: full names, rule-made short names (never one character), curated aliases,
//! legacy names with their successors, development zones (answering with their city)
//! and township names (answering with their county). One character trie over
//! all of them finds every mention.

use std::collections::HashMap;

use crate::division::{DivisionCode, DivisionLevel, divisions};
use crate::trie::Trie;

const NAMES: &str = include_str!("../data/names.tsv");
const TOWNS: &str = include_str!("../data/towns.tsv");

/// How a pattern names its division.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NameKind {
    /// The full official name (`朝阳区`).
    Full,
    /// A rule-made short name (`朝阳`).
    Short,
    /// A curated alias (`呼市`).
    Alias,
    /// A name no longer in use, answering with its successor (`闸北区` → 静安区).
    Legacy,
    /// A development zone or new area, answering with its city (`苏州工业园区`).
    Zone,
    /// A township (`小榄镇`), answering with its county.
    Township,
}

/// The level of a node in the tree used for scoring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Tier {
    Province = 0,
    City = 1,
    County = 2,
    Town = 3,
}

/// One division, with its ancestors as indices into [`Index::nodes`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Node {
    pub code: DivisionCode,
    pub name: &'static str,
    pub level: DivisionLevel,
    pub province: u16,
    /// The prefecture, if the division lies in one (not for municipalities' districts
    /// or province-direct county units).
    pub city: Option<u16>,
    /// True for the four prefectures without counties.
    pub leaf_city: bool,
    /// One past the last descendant: nodes are sorted by code, so a division's
    /// descendants are the nodes right after it.
    pub subtree_end: u16,
}

impl Target {
    /// The target in one word (node, kind, tier, flags), as stored in the trie.
    pub(crate) fn pack(self) -> u32 {
        let kind = match self.kind {
            NameKind::Full => 0,
            NameKind::Short => 1,
            NameKind::Alias => 2,
            NameKind::Legacy => 3,
            NameKind::Zone => 4,
            NameKind::Township => 5,
        };
        u32::from(self.node)
            | (kind << 16)
            | ((self.tier as u32) << 20)
            | (u32::from(self.flags) << 24)
    }

    /// The inverse of [`Target::pack`].
    pub(crate) fn unpack(w: u32) -> Target {
        let kind = match (w >> 16) & 0xf {
            0 => NameKind::Full,
            1 => NameKind::Short,
            2 => NameKind::Alias,
            3 => NameKind::Legacy,
            4 => NameKind::Zone,
            _ => NameKind::Township,
        };
        let tier = match (w >> 20) & 0x3 {
            0 => Tier::Province,
            1 => Tier::City,
            2 => Tier::County,
            _ => Tier::Town,
        };
        Target {
            node: (w & 0xffff) as u16,
            kind,
            tier,
            flags: (w >> 24) as u8,
        }
    }
}

/// Bit flags on a target.
pub(crate) const NEEDS_SUPPORT: u8 = 1;

/// One meaning of a pattern.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Target {
    pub node: u16,
    pub kind: NameKind,
    /// The tier it scores at (a township at [`Tier::Town`], else its division's level).
    pub tier: Tier,
    pub flags: u8,
}

/// One pattern: its length in characters and where its meanings are.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pattern {
    pub chars: u8,
    /// True if a name may start right after a road word here (`路桥区` after `浙江`):
    /// three characters or more, or a meaning that is not a short name.
    pub strong: bool,
    start: u32,
    len: u32,
}

pub(crate) struct Index {
    pub trie: Trie,
    /// The text of each pattern.
    pub names: Vec<Box<str>>,
    pub patterns: Vec<Pattern>,
    targets: Vec<Target>,
    pub nodes: Vec<Node>,
    pub by_code: HashMap<DivisionCode, u16>,
}

/// Suffixes stripped to make short names, longest first.
const SUFFIXES: [&str; 15] = [
    "特别行政区",
    "自治区",
    "自治州",
    "自治县",
    "自治旗",
    "地区",
    "林区",
    "新区",
    "矿区",
    "省",
    "市",
    "区",
    "县",
    "旗",
    "盟",
];

/// Ethnic names stripped after `自治…` (`黔南布依族苗族自治州` → `黔南`).
const ETHNIC: [&str; 60] = [
    "蒙古族",
    "回族",
    "藏族",
    "维吾尔族",
    "苗族",
    "彝族",
    "壮族",
    "布依族",
    "朝鲜族",
    "满族",
    "侗族",
    "瑶族",
    "白族",
    "土家族",
    "哈尼族",
    "哈萨克族",
    "傣族",
    "黎族",
    "傈僳族",
    "佤族",
    "畲族",
    "拉祜族",
    "水族",
    "东乡族",
    "纳西族",
    "景颇族",
    "柯尔克孜族",
    "土族",
    "达斡尔族",
    "仫佬族",
    "羌族",
    "布朗族",
    "撒拉族",
    "毛南族",
    "仡佬族",
    "锡伯族",
    "阿昌族",
    "普米族",
    "塔吉克族",
    "怒族",
    "乌孜别克族",
    "俄罗斯族",
    "鄂温克族",
    "德昂族",
    "保安族",
    "裕固族",
    "京族",
    "塔塔尔族",
    "独龙族",
    "鄂伦春族",
    "赫哲族",
    "门巴族",
    "珞巴族",
    "基诺族",
    "各族",
    "蒙古",
    "维吾尔",
    "哈萨克",
    "柯尔克孜",
    "回族",
];

/// Short names that are ordinary words or too generic to stand alone: they count only
/// next to a consistent parent (`甘南合作` yes, `合作共赢` no).
const STOP_SHORTS: [&str; 40] = [
    "合作", "通道", "东方", "城中", "城东", "城西", "城北", "城南", "和平", "新华", "长安", "安定",
    "开放", "富裕", "大方", "吉利", "友好", "平安", "永和", "江南", "江北", "河东", "河西", "城关",
    "新城", "白云", "青山", "红旗", "工农", "光明", "中原", "向阳", "市中", "南城", "北城", "新市",
    "城厢", "新兴", "和顺", "龙华",
];

/// The rule-made short form of a name, if it differs and has two characters or more.
pub(crate) fn short_name(name: &str) -> Option<String> {
    let mut s = name;
    for suffix in SUFFIXES {
        if let Some(rest) = s.strip_suffix(suffix)
            && rest.chars().count() >= 2
        {
            s = rest;
            break;
        }
    }
    if name.ends_with("自治州")
        || name.ends_with("自治县")
        || name.ends_with("自治旗")
        || name.ends_with("自治区")
    {
        loop {
            let before = s;
            for e in ETHNIC {
                if let Some(rest) = s.strip_suffix(e)
                    && rest.chars().count() >= 2
                {
                    s = rest;
                }
            }
            if s == before {
                break;
            }
        }
    }
    (s != name && s.chars().count() >= 2).then(|| s.to_owned())
}

/// Two-character full names that are ordinary words (`城区`, `矿区`, `郊区`, `东区`…).
fn generic_full(name: &str) -> bool {
    let mut cs = name.chars();
    matches!(
        (cs.next(), cs.next(), cs.next()),
        (Some(a), Some(_), None) if "城矿郊东西南北中新".contains(a)
    )
}

impl Index {
    pub(crate) fn build() -> Index {
        let divs = divisions();
        let by_code: HashMap<DivisionCode, u16> = divs
            .iter()
            .enumerate()
            .map(|(i, d)| (d.code, i as u16))
            .collect();
        let has_children: std::collections::HashSet<DivisionCode> =
            divs.iter().filter_map(|d| d.parent).collect();
        let idx = |c: DivisionCode| by_code.get(&c).copied();
        let nodes: Vec<Node> = divs
            .iter()
            .map(|d| {
                let province = idx(d.code.province()).unwrap_or(0);
                let city = match d.level {
                    DivisionLevel::Province => None,
                    DivisionLevel::Prefecture => idx(d.code),
                    DivisionLevel::County => {
                        d.parent.filter(|p| p.get() % 10000 != 0).and_then(&idx)
                    }
                };
                Node {
                    code: d.code,
                    name: d.name,
                    level: d.level,
                    province,
                    city,
                    leaf_city: d.level == DivisionLevel::Prefecture
                        && !has_children.contains(&d.code),
                    subtree_end: 0,
                }
            })
            .collect();
        let mut nodes = nodes;
        for i in 0..nodes.len() {
            let code = nodes[i].code.get();
            let span = match nodes[i].level {
                DivisionLevel::Province => 10000,
                DivisionLevel::Prefecture => 100,
                DivisionLevel::County => 1,
            };
            let mut j = i + 1;
            while j < nodes.len() && nodes[j].code.get() / span == code / span {
                j += 1;
            }
            nodes[i].subtree_end = j as u16;
        }
        let mut by_name: HashMap<&'static str, Vec<u16>> = HashMap::new();
        for (i, d) in divs.iter().enumerate() {
            by_name.entry(d.name).or_default().push(i as u16);
        }

        let mut map: HashMap<String, Vec<Target>> = HashMap::new();
        let add = |map: &mut HashMap<String, Vec<Target>>,
                   name: &str,
                   node: u16,
                   kind: NameKind,
                   flags: u8| {
            let tier = if kind == NameKind::Township {
                Tier::Town
            } else {
                match nodes[node as usize].level {
                    DivisionLevel::Province => Tier::Province,
                    DivisionLevel::Prefecture => Tier::City,
                    DivisionLevel::County => Tier::County,
                }
            };
            let v = map.entry(name.to_owned()).or_default();
            if !v.iter().any(|t| t.node == node) {
                v.push(Target {
                    node,
                    kind,
                    tier,
                    flags,
                });
            }
        };
        for (i, d) in divs.iter().enumerate() {
            let i = i as u16;
            let generic = d.level == DivisionLevel::County
                && (generic_full(d.name) || by_name.get(d.name).is_some_and(|v| v.len() > 2))
                && d.name.chars().count() == 2;
            add(
                &mut map,
                d.name,
                i,
                NameKind::Full,
                if generic { NEEDS_SUPPORT } else { 0 },
            );
            if let Some(s) = short_name(d.name) {
                let stop = STOP_SHORTS.contains(&s.as_str());
                add(
                    &mut map,
                    &s,
                    i,
                    NameKind::Short,
                    if stop { NEEDS_SUPPORT } else { 0 },
                );
            }
        }
        // A short name shared by a prefecture and one of its own counties means the
        // prefecture (`湘潭` is 湘潭市, not 湘潭县).
        for targets in map.values_mut() {
            let cities: Vec<u16> = targets
                .iter()
                .filter(|t| {
                    t.kind == NameKind::Short
                        && nodes[t.node as usize].level == DivisionLevel::Prefecture
                })
                .map(|t| t.node)
                .collect();
            if !cities.is_empty() {
                targets.retain(|t| {
                    !(t.kind == NameKind::Short
                        && nodes[t.node as usize].level == DivisionLevel::County
                        && nodes[t.node as usize]
                            .city
                            .is_some_and(|c| cities.contains(&c)))
                });
            }
        }
        let current: std::collections::HashSet<String> = map.keys().cloned().collect();
        for line in NAMES.lines() {
            if line.starts_with('#') || line.is_empty() {
                continue;
            }
            let mut f = line.split('\t');
            let (Some(name), Some(kind), Some(codes)) = (f.next(), f.next(), f.next()) else {
                continue;
            };
            let kind = match kind {
                "alias" => NameKind::Alias,
                "legacy" => NameKind::Legacy,
                _ => NameKind::Zone,
            };
            for code in codes.split(',') {
                let Some(node) = code.parse().ok().and_then(idx) else {
                    continue;
                };
                add(&mut map, name, node, kind, 0);
                // Legacy names also go by their short form when it is free
                // (`闸北` for 闸北区).
                if kind == NameKind::Legacy
                    && let Some(s) = short_name(name)
                    && !current.contains(&s)
                    && !STOP_SHORTS.contains(&s.as_str())
                {
                    add(&mut map, &s, node, NameKind::Legacy, 0);
                }
            }
        }
        for line in TOWNS.lines() {
            if line.starts_with('#') || line.is_empty() {
                continue;
            }
            let Some((code, names)) = line.split_once('\t') else {
                continue;
            };
            let Some(node) = code.parse().ok().and_then(idx) else {
                continue;
            };
            for name in names.split(' ') {
                if current.contains(name) {
                    continue;
                }
                add(&mut map, name, node, NameKind::Township, 0);
            }
        }

        let mut keys: Vec<(String, Vec<Target>)> = map.into_iter().collect();
        keys.sort_by(|a, b| a.0.cmp(&b.0));
        let mut all_targets = Vec::new();
        let mut patterns = Vec::with_capacity(keys.len());
        for (k, targets) in &mut keys {
            targets.sort_by_key(|t| t.node);
            let chars = k.chars().count().min(255) as u8;
            patterns.push(Pattern {
                chars,
                strong: chars >= 3 || targets.iter().any(|t| t.kind != NameKind::Short),
                start: all_targets.len() as u32,
                len: targets.len() as u32,
            });
            all_targets.extend(targets.iter().copied());
        }
        let trie = Trie::build(keys.iter().zip(&patterns).map(|((k, targets), p)| {
            let hot = targets.iter().any(|t| t.kind != NameKind::Township);
            let meta = u32::from(p.chars)
                | (u32::from(p.strong) << 8)
                | if hot { crate::trie::HOT } else { 0 }
                | ((targets.len().min(0xffff) as u32) << 16);
            let single = targets.first().map_or(0, |t| t.pack());
            (k.as_str(), [meta, single])
        }));
        let names: Vec<Box<str>> = keys.iter().map(|(k, _)| k.as_str().into()).collect();
        Index {
            trie,
            names,
            patterns,
            targets: all_targets,
            nodes,
            by_code,
        }
    }

    /// The meanings of a pattern.
    pub(crate) fn targets(&self, p: &Pattern) -> &[Target] {
        let a = p.start as usize;
        self.targets.get(a..a + p.len as usize).unwrap_or(&[])
    }

    /// The ancestor of `node` at `tier` (province or city or county), or `node` itself.
    pub(crate) fn ancestor(&self, node: u16, tier: Tier) -> Option<u16> {
        let n = &self.nodes[node as usize];
        match tier {
            Tier::Province => Some(n.province),
            Tier::City => n.city,
            Tier::County => (n.level == DivisionLevel::County).then_some(node),
            Tier::Town => None,
        }
    }

    /// True if a mention of `c` makes `t` a plausible reading of a common name: `c` is
    /// `t`'s county or city, or its province when `t` lies in no prefecture.
    pub(crate) fn is_context_for(&self, c: u16, t: u16) -> bool {
        let nt = &self.nodes[t as usize];
        c == t || nt.city == Some(c) || (nt.city.is_none() && nt.province == c)
    }

    /// True if `a` is `b` or one of `b`'s ancestors.
    pub(crate) fn is_ancestor_or_self(&self, a: u16, b: u16) -> bool {
        let nb = &self.nodes[b as usize];
        a == b || a == nb.province || nb.city == Some(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_follow_the_rules() {
        assert_eq!(short_name("黔南布依族苗族自治州").as_deref(), Some("黔南"));
        assert_eq!(short_name("广西壮族自治区").as_deref(), Some("广西"));
        assert_eq!(short_name("新疆维吾尔自治区").as_deref(), Some("新疆"));
        assert_eq!(
            short_name("巴音郭楞蒙古自治州").as_deref(),
            Some("巴音郭楞")
        );
        assert_eq!(short_name("浦东新区").as_deref(), Some("浦东"));
        assert_eq!(short_name("神农架林区").as_deref(), Some("神农架"));
        assert_eq!(short_name("赵县"), None, "never one character");
        assert_eq!(short_name("城区"), None);
        assert_eq!(short_name("香港特别行政区").as_deref(), Some("香港"));
    }
}
