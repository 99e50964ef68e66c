//! Schedules: sync runs that start on their own, stored in the database and claimed like
//! jobs, so that each firing runs once across all the instances sharing it.
//!
//! **What fires.** Each schedule has a five-field cron expression read in its time zone
//! (default `Asia/Shanghai`) and starts one kind of sync run ([`ScheduleKind`]):
//! - `stock` (default every 15 minutes): regional stock of the active supplier system
//!   where customers are ([`plan`]): counties by recent checkouts, products by recent
//!   demand, capped by `[schedules] stock_calls_per_firing`, every configured county
//!   covered at least once a day;
//! - `prices` (default hourly, at minute 7): the listing and prices, no stock;
//! - `catalog` (default daily at 03:20): the full catalog with prices and stock for the
//!   configured counties;
//! - `system_sync`: an incremental sync of one external system at the interval of its
//!   sync settings (`sync.interval_minutes`), kept in step when the system is saved.
//!
//! **Once across instances.** The scheduler of every `serve` claims due schedules in a
//! transaction (`FOR UPDATE SKIP LOCKED` on PostgreSQL, `BEGIN IMMEDIATE` on SQLite) that
//! also moves `next_run_at` and records the run it starts, so a firing is claimed by one
//! instance and starts at most one run. A supplier system has at most one active run (the
//! partial unique index of migration 0011): a firing that finds one active records
//! `skipped: run_… is active` and queues nothing. The run a firing starts names it in
//! its `scope`: `schedule`, `due_at` (the `next_run_at` it claimed; absent for a run-now)
//! and `fired_at` (when an instance got to it), so no two runs share a schedule and
//! `due_at`.
//!
//! **Missed firings run once.** `next_run_at` moves to the first time the expression names
//! *after the moment of the firing*, not after the missed one: a hub that was down for
//! five hours fires each overdue schedule once when it comes back, then keeps to the
//! expression. A firing whose run is skipped or fails is not retried before the next one.

pub mod http;
pub mod plan;
pub mod scheduler;

use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

pub use crate::status::{FiringOutcome, ScheduleKind};
pub use scheduler::{Fired, Scheduler};

use crate::types::UtcTime;

/// The time zone of a schedule that names none.
pub const DEFAULT_TIME_ZONE: &str = "Asia/Shanghai";

/// The longest cron expression taken, in characters.
pub const CRON_MAX_LEN: usize = 100;

/// The longest time zone name taken, in characters.
pub const TIME_ZONE_MAX_LEN: usize = 64;

/// Why a schedule's expression or time zone was refused; the message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CadenceError {
    /// The cron expression does not parse, or names no time.
    #[error("cron: {0}")]
    Cron(String),
    /// The time zone is not an IANA time zone name.
    #[error("time_zone: {0}")]
    TimeZone(String),
}

/// A parsed cron expression in its time zone: when a schedule fires.
#[derive(Debug, Clone)]
pub struct Cadence {
    cron: Cron,
    tz: jiff::tz::TimeZone,
}

fn shown(text: &str) -> String {
    text.chars().take(40).collect()
}

impl Cadence {
    /// Parses a five-field expression (minute hour day-of-month month day-of-week; names
    /// such as `MON` and `@daily` are taken, seconds and years are not) in the IANA time
    /// zone `time_zone`. An expression that names no time in the coming years is refused.
    pub fn parse(cron: &str, time_zone: &str) -> Result<Cadence, CadenceError> {
        if cron.chars().count() > CRON_MAX_LEN || cron.chars().any(char::is_control) {
            return Err(CadenceError::Cron(format!(
                "at most {CRON_MAX_LEN} characters, no control characters"
            )));
        }
        if time_zone.is_empty()
            || time_zone.chars().count() > TIME_ZONE_MAX_LEN
            || time_zone.chars().any(char::is_control)
        {
            return Err(CadenceError::TimeZone(format!(
                "1 to {TIME_ZONE_MAX_LEN} characters, no control characters"
            )));
        }
        let parsed = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .build()
            .parse(cron)
            .map_err(|e| CadenceError::Cron(format!("{:?}: {e}", shown(cron))))?;
        let tz = jiff::tz::TimeZone::get(time_zone).map_err(|_| {
            CadenceError::TimeZone(format!(
                "{:?} is not an IANA time zone name (such as Asia/Shanghai or UTC)",
                shown(time_zone)
            ))
        })?;
        let cadence = Cadence { cron: parsed, tz };
        if cadence.next_after(UtcTime::now()).is_none() {
            return Err(CadenceError::Cron(format!(
                "{:?} names no time that will come",
                shown(cron)
            )));
        }
        Ok(cadence)
    }

    /// The first time the expression names strictly after `t`; none when it names no
    /// later time.
    pub fn next_after(&self, t: UtcTime) -> Option<UtcTime> {
        let zoned = t.timestamp().to_zoned(self.tz.clone());
        self.cron
            .find_next_occurrence(&zoned, false)
            .ok()
            .map(|z| UtcTime::from(z.timestamp()))
    }
}

/// The cron expression of a system's sync interval: the coarsest expression that fires
/// at least as often as every `minutes` minutes, on round times (`*/15 * * * *` for 15
/// or 20 → `*/20`; 45 → `*/30`; 90 → hourly; 180 → `0 */3 * * *`; a day or more but less
/// than a week → daily at midnight; a week → Mondays at midnight). An operator who
/// wants another may set it with `PUT /api/v1/schedules/{id}`.
pub fn interval_cron(minutes: u32) -> String {
    const MINUTE_STEPS: [u32; 12] = [1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60];
    const HOUR_STEPS: [u32; 8] = [1, 2, 3, 4, 6, 8, 12, 24];
    let minutes = minutes.max(1);
    if minutes < 60 {
        let step = MINUTE_STEPS
            .iter()
            .copied()
            .filter(|s| *s <= minutes)
            .max()
            .unwrap_or(1);
        if step == 1 {
            "* * * * *".to_owned()
        } else {
            format!("*/{step} * * * *")
        }
    } else if minutes < 24 * 60 {
        let hours = minutes / 60;
        let step = HOUR_STEPS
            .iter()
            .copied()
            .filter(|s| *s <= hours)
            .max()
            .unwrap_or(1);
        if step == 1 {
            "0 * * * *".to_owned()
        } else {
            format!("0 */{step} * * *")
        }
    } else if minutes < 7 * 24 * 60 {
        "0 0 * * *".to_owned()
    } else {
        "0 0 * * 1".to_owned()
    }
}

/// Keeps the schedule of system `system_id` in step with its sync interval when the
/// system is saved: none removes the schedule; a new or changed interval creates it or
/// sets its expression to [`interval_cron`] (its time zone and enabled flag are kept); an
/// unchanged one keeps the expression an operator may have set. Its name follows the
/// system's.
pub async fn follow_system(
    db: &crate::store::Db,
    system_id: &str,
    name: &str,
    before: Option<u32>,
    after: Option<u32>,
) -> crate::store::StoreResult<()> {
    use crate::store::schedules as store;
    let Some(minutes) = after else {
        return store::delete_system_schedule(db, system_id).await;
    };
    let existing = store::schedule_of_system(db, system_id).await?;
    let cron = match &existing {
        Some(s) if before == Some(minutes) => s.cron.clone(),
        _ => interval_cron(minutes),
    };
    let time_zone = existing
        .as_ref()
        .map_or(DEFAULT_TIME_ZONE, |s| s.time_zone.as_str());
    let next = Cadence::parse(&cron, time_zone)
        .ok()
        .and_then(|c| c.next_after(UtcTime::now()));
    let id = existing
        .as_ref()
        .map_or_else(|| crate::store::new_id("sch"), |s| s.id.clone());
    let title: String = name.chars().take(100).collect();
    store::upsert_system_schedule(
        db,
        &id,
        &format!("Sync {title}"),
        system_id,
        &cron,
        time_zone,
        next,
    )
    .await
}

/// Removes the schedule of an archived system.
pub async fn forget_system(
    db: &crate::store::Db,
    system_id: &str,
) -> crate::store::StoreResult<()> {
    crate::store::schedules::delete_system_schedule(db, system_id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> UtcTime {
        UtcTime::from(text.parse::<jiff::Timestamp>().expect("instant"))
    }

    #[test]
    fn an_expression_is_read_in_its_time_zone() {
        // 03:20 in Shanghai is 19:20 UTC the day before.
        let daily = Cadence::parse("20 3 * * *", "Asia/Shanghai").expect("parses");
        assert_eq!(
            daily.next_after(at("2026-12-01T12:00:00Z")),
            Some(at("2026-12-01T19:20:00Z"))
        );
        let quarter = Cadence::parse("*/15 * * * *", "UTC").expect("parses");
        assert_eq!(
            quarter.next_after(at("2026-12-01T12:00:00Z")),
            Some(at("2026-12-01T12:15:00Z")),
            "strictly after"
        );
        assert_eq!(
            quarter.next_after(at("2026-12-01T12:07:31.5Z")),
            Some(at("2026-12-01T12:15:00Z"))
        );
    }

    #[test]
    fn bad_expressions_and_zones_are_named() {
        for bad in [
            "",
            "* * *",
            "61 * * * *",
            "0 0 30 2 *",
            "*/15 * * * * *",
            "nope",
        ] {
            match Cadence::parse(bad, "UTC") {
                Err(CadenceError::Cron(m)) => assert!(!m.is_empty()),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        for bad in ["Mars/Olympus", "", "Asia/Shanghai\n"] {
            assert!(
                matches!(
                    Cadence::parse("0 * * * *", bad),
                    Err(CadenceError::TimeZone(_))
                ),
                "{bad:?}"
            );
        }
        assert!(Cadence::parse("@daily", "Europe/Berlin").is_ok());
        assert!(Cadence::parse("0 9 * * MON-FRI", "Asia/Shanghai").is_ok());
    }

    #[test]
    fn intervals_become_expressions_that_fire_at_least_as_often() {
        assert_eq!(interval_cron(1), "* * * * *");
        assert_eq!(interval_cron(15), "*/15 * * * *");
        assert_eq!(interval_cron(45), "*/30 * * * *");
        assert_eq!(interval_cron(60), "0 * * * *");
        assert_eq!(interval_cron(90), "0 * * * *");
        assert_eq!(interval_cron(180), "0 */3 * * *");
        assert_eq!(interval_cron(300), "0 */4 * * *");
        assert_eq!(interval_cron(1440), "0 0 * * *");
        assert_eq!(interval_cron(10080), "0 0 * * 1");
        for m in [1, 7, 59, 61, 1439, 5000, 10080] {
            assert!(Cadence::parse(&interval_cron(m), "UTC").is_ok(), "{m}");
        }
    }
}
