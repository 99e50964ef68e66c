//! Regional stock: which warehouses serve a county, and how much of a product each holds.
//!
//! Stock exists for every product in every stock region (2,848 × thousands of
//! products), so it is computed from (seed, product code, county code) on demand instead
//! of stored; explicit overrides, set through `/_sandbox/stock`, take precedence.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::clock::civil_from_days;
use crate::rng::{fnv1a, mix};

/// `warehouseGrade`: own (本级仓, "0") or upper-level (上级仓, "1") warehouse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Grade {
    /// "0".
    Own,
    /// "1".
    Upper,
}

impl Grade {
    pub(crate) fn wire(self) -> &'static str {
        match self {
            Grade::Own => "0",
            Grade::Upper => "1",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "0" => Some(Grade::Own),
            "1" => Some(Grade::Upper),
            _ => None,
        }
    }
}

/// One warehouse's answer for a product in a county.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Warehouse {
    /// `secCode`.
    pub(crate) sec_code: String,
    /// `stock` (sent as a string).
    pub(crate) stock: u32,
    /// `warehouseGrade`.
    pub(crate) grade: Grade,
    /// `timelinessData.cutTime`, e.g. "18:00".
    pub(crate) cut_time: &'static str,
    /// `timelinessData.hour`: promised delivery hours.
    pub(crate) hours: u32,
}

impl Warehouse {
    /// `timelinessData.isTranfer`: goods from an upper-level warehouse are transferred.
    pub(crate) fn transfer(&self) -> bool {
        self.grade == Grade::Upper
    }

    /// Default timeliness for a warehouse of this grade (used by overrides).
    pub(crate) fn with_default_timeliness(sec_code: String, stock: u32, grade: Grade) -> Self {
        let (cut_time, hours) = match grade {
            Grade::Own => ("18:00", 24),
            Grade::Upper => ("16:00", 72),
        };
        Warehouse {
            sec_code,
            stock,
            grade,
            cut_time,
            hours,
        }
    }
}

/// A warehouse code such as "HFR2": three letters and a digit, derived from a key.
fn sec_code(key: u64) -> String {
    const L: &[u8] = b"ABCDEFGHJKLMNPQRSTWXYZ";
    let h = mix(key);
    let pick = |shift: u32| L[((h >> shift) % L.len() as u64) as usize] as char;
    format!("{}{}{}{}", pick(0), pick(8), pick(16), (h >> 24) % 9 + 1)
}

/// The computed warehouses for a product in a stock region (one to three).
///
/// The warehouse network (codes, grades) depends only on the county; the quantities
/// depend on the seed and the product too.
pub(crate) fn computed(seed: u64, product_code: &str, county: u32) -> Vec<Warehouse> {
    let h = mix(seed ^ mix(fnv1a(product_code.as_bytes()) ^ u64::from(county)));
    let count = match h % 100 {
        0..35 => 1,
        35..80 => 2,
        _ => 3,
    };
    let prefecture = u64::from(county / 100);
    let province = u64::from(county / 10_000);
    let network = [
        ((0x0A11_u64 << 32) | prefecture, Grade::Own),
        ((0x0B22_u64 << 32) | province, Grade::Upper),
        ((0x0C33_u64 << 32) | (province % 7), Grade::Upper),
    ];
    network
        .iter()
        .take(count)
        .enumerate()
        .map(|(i, &(key, grade))| {
            let r = mix(h ^ (i as u64 + 1));
            let stock = if r % 100 < 8 {
                0
            } else {
                match grade {
                    Grade::Own => 1 + (r >> 8) % 80,
                    Grade::Upper => 20 + (r >> 8) % 380,
                }
            };
            let cut_time = ["18:00", "18:00", "16:00", "12:00"][((r >> 20) % 4) as usize];
            let hours = match grade {
                Grade::Own => [24, 48][((r >> 24) % 2) as usize],
                Grade::Upper => [48, 72, 96][((r >> 24) % 3) as usize],
            };
            Warehouse {
                sec_code: sec_code(key),
                stock: stock as u32,
                grade,
                cut_time,
                hours,
            }
        })
        .collect()
}

/// `achieveUserOrderCut`: the promised date and cut-off time ("2026-11-23 18:00"). An
/// order placed in China (UTC+8) before today's cut-off leaves today, else tomorrow; it
/// arrives the delivery hours later, rounded up to whole days.
pub(crate) fn promised(w: &Warehouse) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        + 8 * 3600;
    let (today, minute_of_day) = (now / 86_400, now % 86_400 / 60);
    let past_cut = minute_of_day >= cut_minutes(w.cut_time);
    let days = today + u64::from(past_cut) + u64::from(w.hours.div_ceil(24));
    let (y, m, d) = civil_from_days(days as i64);
    format!("{y:04}-{m:02}-{d:02} {}", w.cut_time)
}

/// Minutes after midnight of an "HH:MM" cut-off (end of day if unreadable).
fn cut_minutes(cut: &str) -> u64 {
    cut.split_once(':')
        .and_then(|(h, m)| Some(h.parse::<u64>().ok()? * 60 + m.parse::<u64>().ok()?))
        .unwrap_or(24 * 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_offs_parse() {
        assert_eq!(cut_minutes("18:00"), 1080);
        assert_eq!(cut_minutes("12:30"), 750);
        assert_eq!(cut_minutes("bad"), 1440);
    }

    #[test]
    fn computed_stock_is_stable_and_shaped() {
        let a = computed(1, "GA0SZC00U", 110_101);
        assert_eq!(a, computed(1, "GA0SZC00U", 110_101));
        assert!((1..=3).contains(&a.len()));
        assert_eq!(a[0].grade, Grade::Own);
        assert!(a[1..].iter().all(|w| w.grade == Grade::Upper));
        assert!(a.iter().all(|w| w.sec_code.len() == 4));
        // Across many products the counts and seeds vary.
        let lens: std::collections::HashSet<usize> = (0..100)
            .map(|i| computed(1, &format!("P{i}"), 110_101).len())
            .collect();
        assert_eq!(lens.len(), 3);
        let differs = (0..50).any(|i| {
            let code = format!("P{i}");
            computed(1, &code, 320_106) != computed(2, &code, 320_106)
        });
        assert!(differs);
    }
}
