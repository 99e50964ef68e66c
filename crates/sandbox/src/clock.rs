//! Wall-clock time as the vendor writes it: milliseconds since the epoch on the wire,
//! and calendar dates and times in China (UTC+8, no daylight saving) for order numbers,
//! callback time stamps and record times.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds in a day.
pub(crate) const DAY_MS: i64 = 86_400_000;
/// China's offset from UTC, in milliseconds.
const CHINA_OFFSET_MS: i64 = 8 * 3_600_000;

/// Now, in milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's algorithm).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// A moment as a calendar date and time of day in China.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ChinaTime {
    year: i64,
    month: u32,
    day: u32,
    /// Seconds after local midnight.
    second_of_day: u32,
}

impl ChinaTime {
    /// The China time of `ms` milliseconds since the epoch.
    pub(crate) fn from_ms(ms: i64) -> Self {
        let local = ms.saturating_add(CHINA_OFFSET_MS);
        let (year, month, day) = civil_from_days(local.div_euclid(DAY_MS));
        let second_of_day = (local.rem_euclid(DAY_MS) / 1000) as u32;
        ChinaTime {
            year,
            month,
            day,
            second_of_day,
        }
    }

    /// Now in China.
    pub(crate) fn now() -> Self {
        ChinaTime::from_ms(now_ms())
    }

    /// Seconds after local midnight.
    pub(crate) fn second_of_day(&self) -> u32 {
        self.second_of_day
    }

    fn hms(&self) -> (u32, u32, u32) {
        let s = self.second_of_day;
        (s / 3600, s / 60 % 60, s % 60)
    }

    /// `yyyyMMdd`, as in order numbers.
    pub(crate) fn date_compact(&self) -> String {
        format!("{:04}{:02}{:02}", self.year, self.month, self.day)
    }

    /// `yyyyMMddHHmmss`, as in a callback's `TimeStamp`.
    pub(crate) fn compact(&self) -> String {
        let (h, m, s) = self.hms();
        format!("{}{h:02}{m:02}{s:02}", self.date_compact())
    }

    /// `yyyy-MM-dd HH:mm:ss`, as in record times.
    pub(crate) fn display(&self) -> String {
        let (h, m, s) = self.hms();
        format!(
            "{:04}-{:02}-{:02} {h:02}:{m:02}:{s:02}",
            self.year, self.month, self.day
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_780), (2026, 11, 23));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
    }

    #[test]
    fn china_time_is_utc_plus_eight() {
        // 2023-09-12 03:35:28 UTC is 11:35:28 in China.
        let t = ChinaTime::from_ms(1_694_489_728_000);
        assert_eq!(t.compact(), "20230912113528");
        assert_eq!(t.display(), "2023-09-12 11:35:28");
        assert_eq!(t.date_compact(), "20230912");
        // 16:00 UTC is already the next day in China.
        let t = ChinaTime::from_ms(1_694_534_400_000);
        assert_eq!(t.display(), "2023-09-13 00:00:00");
        assert_eq!(
            ChinaTime::from_ms(1_694_534_399_999).second_of_day(),
            86_399
        );
    }
}
