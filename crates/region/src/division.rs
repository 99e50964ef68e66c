//! The GB/T 2260 division table, embedded at build time.
//!
//! Source: `data/divisions.tsv`, built by `scripts/build_divisions.py` from npm
//! `china-division@2.7.0` (NBS 2023, cut-off 2023-06-30), vintage [`VINTAGE`].

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

/// The vintage of the embedded table: the MCA list of this year.
pub const VINTAGE: &str = "2023";

const DATA: &str = include_str!("../data/divisions.tsv");

/// A six-digit GB/T 2260 code (province `xx0000`, prefecture `xxxx00`, county `xxxxxx`).
///
/// Parsing accepts exactly six ASCII digits; it does not check that the code exists
/// (use [`division`] for that).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DivisionCode(u32);

impl DivisionCode {
    /// A code from a number known to be six digits (crate-internal constants).
    pub(crate) const fn from_u32(n: u32) -> DivisionCode {
        DivisionCode(n)
    }

    /// The code as a number, e.g. `110105`.
    pub fn get(self) -> u32 {
        self.0
    }

    /// The code of the province this code lies in (`xx0000`).
    pub fn province(self) -> DivisionCode {
        DivisionCode(self.0 / 10000 * 10000)
    }

    /// The code with its last two digits zeroed (`xxxx00`): a prefecture, or one of the
    /// NBS pseudo-cities (`1101`, `4290`…) for counties that have no prefecture.
    pub fn prefecture_prefix(self) -> DivisionCode {
        DivisionCode(self.0 / 100 * 100)
    }
}

impl fmt::Display for DivisionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:06}", self.0)
    }
}

/// Why a string is not a division code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a division code is six ASCII digits, got {0:?}")]
pub struct ParseCodeError(pub String);

impl FromStr for DivisionCode {
    type Err = ParseCodeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 6 || !s.bytes().all(|b| b.is_ascii_digit()) || s.starts_with('0') {
            return Err(ParseCodeError(s.chars().take(32).collect()));
        }
        s.parse::<u32>()
            .map(DivisionCode)
            .map_err(|_| ParseCodeError(s.to_owned()))
    }
}

impl serde::Serialize for DivisionCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for DivisionCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The level of a division.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DivisionLevel {
    /// 省级: province, autonomous region, municipality, SAR (34).
    Province,
    /// 地级: prefecture-level city, prefecture, league, autonomous prefecture (333).
    Prefecture,
    /// 县级: district, county, county-level city, banner… (2,844).
    County,
}

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Division {
    /// The code.
    pub code: DivisionCode,
    /// The full official name, e.g. `朝阳区`.
    pub name: &'static str,
    /// The level.
    pub level: DivisionLevel,
    /// The parent: the prefecture, or the province for municipalities' districts and
    /// province-direct county units; `None` for provinces.
    pub parent: Option<DivisionCode>,
}

struct Table {
    rows: Vec<Division>,
    by_code: HashMap<DivisionCode, usize>,
}

static TABLE: LazyLock<Table> = LazyLock::new(|| {
    let mut rows = Vec::with_capacity(3300);
    for line in DATA.lines() {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let mut f = line.split('\t');
        let (Some(code), Some(name), Some(level), parent) =
            (f.next(), f.next(), f.next(), f.next())
        else {
            unreachable!("malformed embedded division row: {line}");
        };
        let level = match level {
            "province" => DivisionLevel::Province,
            "prefecture" => DivisionLevel::Prefecture,
            "county" => DivisionLevel::County,
            other => unreachable!("unknown level {other} in embedded division table"),
        };
        let parse = |s: &str| -> DivisionCode {
            s.parse()
                .unwrap_or_else(|e| unreachable!("embedded division table: {e}"))
        };
        rows.push(Division {
            code: parse(code),
            name,
            level,
            parent: parent.filter(|p| !p.is_empty()).map(parse),
        });
    }
    let by_code = rows.iter().enumerate().map(|(i, d)| (d.code, i)).collect();
    Table { rows, by_code }
});

/// Every division, sorted by code.
pub fn divisions() -> &'static [Division] {
    &TABLE.rows
}

/// The division with this code, if the table has it.
pub fn division(code: DivisionCode) -> Option<&'static Division> {
    TABLE.by_code.get(&code).map(|&i| &TABLE.rows[i])
}

/// The codes that key regional stock: every county-level division plus the four
/// prefectures that have no counties (东莞 441900, 中山 442000, 儋州 460400, 嘉峪关 620200),
/// which answer with their own code. 2,848 codes, sorted.
pub fn stock_regions() -> impl Iterator<Item = &'static Division> {
    let table = &*TABLE;
    table.rows.iter().filter(move |d| match d.level {
        DivisionLevel::County => true,
        DivisionLevel::Prefecture => !table.rows.iter().any(|c| c.parent == Some(d.code)),
        DivisionLevel::Province => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_has_the_mca_counts() {
        let count = |l| divisions().iter().filter(|d| d.level == l).count();
        assert_eq!(count(DivisionLevel::Province), 34);
        assert_eq!(count(DivisionLevel::Prefecture), 333);
        assert_eq!(count(DivisionLevel::County), 2844);
    }

    #[test]
    fn stock_regions_add_the_four_prefectures_without_counties() {
        let regions: Vec<_> = stock_regions().map(|d| d.code.to_string()).collect();
        assert_eq!(regions.len(), 2848);
        for code in ["441900", "442000", "460400", "620200", "110105"] {
            assert!(regions.iter().any(|c| c == code), "{code}");
        }
        assert!(!regions.iter().any(|c| c == "441800"), "清远 has counties");
    }

    #[test]
    fn codes_parse_strictly() {
        assert_eq!(
            "110105".parse::<DivisionCode>().map(|c| c.get()),
            Ok(110105)
        );
        for bad in ["11010", "1101050", "11010x", "", "011010", "１１０１０５"] {
            assert!(bad.parse::<DivisionCode>().is_err(), "{bad}");
        }
        let code: DivisionCode = "429004".parse().unwrap();
        assert_eq!(division(code).map(|d| d.name), Some("仙桃市"));
        assert_eq!(code.province().to_string(), "420000");
    }
}
