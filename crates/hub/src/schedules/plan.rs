//! Where the stock schedule spends the supplier's budget: the counties and products of
//! one firing, and why each was chosen.
//!
//! - **Products** by recent demand: units ordered in the last `demand_days` days (supplier
//!   lines of procurable products), most first. When nothing was ordered, the procurable
//!   products by code, so that coverage still checks something.
//! - **Counties** by recent checkouts: orders of the last `demand_days` days with a supplier
//!   line, counted per county, most first (reason `demand: N orders`); and every
//!   configured county not covered by a stock sync for [`COVERAGE_DUE_AFTER`] (reason
//!   `daily coverage`), the longest uncovered first.
//! - **Budget**: one stock call per product and county, at most
//!   `[schedules] stock_calls_per_firing`. The products are cut first to what one county
//!   can afford; the counties then share what is left. Counties due for coverage are
//!   given up to half the county slots when there is demand (all of them when there is
//!   none); demand takes the rest, and a county left out is due again at the next
//!   firing. A county is covered once its run ends `success` or `partial`, so each one is
//!   due only about once a day and demand has the other firings.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::store::{Db, StoreResult};
use crate::types::UtcTime;

/// A configured county not covered by a stock sync for this long is due. Less than a
/// day, so that firings up to an hour apart still cover it within one.
pub const COVERAGE_DUE_AFTER: std::time::Duration = std::time::Duration::from_secs(23 * 3600);

/// Counties and products read as demand, at most.
const DEMAND_ROWS: u32 = 10_000;

/// What the plan starts from.
#[derive(Debug, Clone, Default)]
pub struct Demand {
    /// Counties by recent checkouts, most first: (county code, orders).
    pub counties: Vec<(String, i64)>,
    /// Products by recent demand, most first: (product code, units).
    pub products: Vec<(String, i64)>,
    /// Procurable products by code, used when `products` is empty.
    pub fallback_products: Vec<String>,
    /// When each county was last covered.
    pub coverage: HashMap<String, UtcTime>,
}

/// A county chosen, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChosenCounty {
    /// GB/T 2260 county code.
    pub county: String,
    /// `demand: N orders` or `daily coverage`.
    pub reason: String,
}

/// A product chosen, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChosenProduct {
    /// Product code.
    pub code: String,
    /// `demand: N units` or `no recent demand: procurable`.
    pub reason: String,
}

/// One firing's choice: stock for each product in each county.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StockPlan {
    /// The counties, those chosen for demand first.
    pub counties: Vec<ChosenCounty>,
    /// The products, most demanded first.
    pub products: Vec<ChosenProduct>,
    /// Stock calls the plan makes: products × counties.
    pub stock_calls: u64,
    /// The most it could make (`[schedules] stock_calls_per_firing`).
    pub budget: u32,
    /// Configured counties due for coverage that did not fit (due again next firing).
    pub deferred: Vec<String>,
}

/// Chooses the counties and products of one stock firing at `now` within `budget`
/// calls; `configured` are the counties that must be covered daily.
pub fn plan_stock(demand: &Demand, configured: &[String], budget: u32, now: UtcTime) -> StockPlan {
    let budget_calls = u64::from(budget.max(1));
    let mut products: Vec<ChosenProduct> = if demand.products.is_empty() {
        demand
            .fallback_products
            .iter()
            .map(|code| ChosenProduct {
                code: code.clone(),
                reason: "no recent demand: procurable".to_owned(),
            })
            .collect()
    } else {
        demand
            .products
            .iter()
            .map(|(code, units)| ChosenProduct {
                code: code.clone(),
                reason: format!("demand: {units} units"),
            })
            .collect()
    };
    products.truncate(usize::try_from(budget_calls).unwrap_or(usize::MAX));
    if products.is_empty() {
        return StockPlan {
            counties: Vec::new(),
            products,
            stock_calls: 0,
            budget,
            deferred: Vec::new(),
        };
    }
    let slots = usize::try_from(budget_calls / products.len() as u64)
        .unwrap_or(usize::MAX)
        .max(1);

    let due_before =
        now.as_micros() - i64::try_from(COVERAGE_DUE_AFTER.as_micros()).unwrap_or(i64::MAX / 2);
    let mut due: Vec<(&String, Option<UtcTime>)> = configured
        .iter()
        .map(|c| (c, demand.coverage.get(c).copied()))
        .filter(|(_, covered)| covered.is_none_or(|t| t.as_micros() <= due_before))
        .collect();
    due.sort_by_key(|(c, covered)| (covered.map(UtcTime::as_micros), (*c).clone()));
    let mut seen = HashSet::new();
    due.retain(|(c, _)| seen.insert((*c).clone()));

    let reserved = if demand.counties.is_empty() {
        due.len().min(slots)
    } else {
        due.len().min((slots / 2).max(1))
    };
    let mut counties: Vec<ChosenCounty> = demand
        .counties
        .iter()
        .take(slots - reserved)
        .map(|(county, orders)| ChosenCounty {
            county: county.clone(),
            reason: format!(
                "demand: {orders} order{}",
                if *orders == 1 { "" } else { "s" }
            ),
        })
        .collect();
    let mut deferred = Vec::new();
    for (county, _) in due {
        if counties.iter().any(|c| &c.county == county) {
            continue;
        }
        if counties.len() < slots {
            counties.push(ChosenCounty {
                county: county.clone(),
                reason: "daily coverage".to_owned(),
            });
        } else {
            deferred.push(county.clone());
        }
    }
    let stock_calls = products.len() as u64 * counties.len() as u64;
    StockPlan {
        counties,
        products,
        stock_calls,
        budget,
        deferred,
    }
}

/// Reads what [`plan_stock`] starts from: demand since `since`, the fallback products
/// (at most `budget`), and the coverage of every county.
pub async fn read_demand(db: &Db, since: UtcTime, budget: u32) -> StoreResult<Demand> {
    use crate::store::schedules as store;
    let counties = store::county_demand(db, since, DEMAND_ROWS)
        .await?
        .into_iter()
        .filter(|(c, _)| crate::catalog::parse_stock_region(c).is_ok())
        .collect();
    let products = store::product_demand(db, since, budget.clamp(1, DEMAND_ROWS)).await?;
    let fallback_products = if products.is_empty() {
        store::procurable_codes(db, budget.clamp(1, DEMAND_ROWS)).await?
    } else {
        Vec::new()
    };
    let coverage = store::stock_coverage(db).await?.into_iter().collect();
    Ok(Demand {
        counties,
        products,
        fallback_products,
        coverage,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> UtcTime {
        UtcTime::from(
            "2026-12-02T06:00:00Z"
                .parse::<jiff::Timestamp>()
                .expect("t"),
        )
    }

    fn hours_ago(h: i64) -> UtcTime {
        UtcTime::from_micros(now().as_micros() - h * 3_600_000_000).expect("t")
    }

    fn demand() -> Demand {
        Demand {
            counties: vec![("110101".into(), 5), ("370212".into(), 2)],
            products: vec![("P1".into(), 9), ("P2".into(), 4)],
            fallback_products: vec![],
            coverage: HashMap::new(),
        }
    }

    fn counties(plan: &StockPlan) -> Vec<(&str, &str)> {
        plan.counties
            .iter()
            .map(|c| (c.county.as_str(), c.reason.as_str()))
            .collect()
    }

    #[test]
    fn demand_first_then_configured_counties_due_for_coverage() {
        let configured = vec!["370212".to_owned(), "440305".to_owned()];
        let plan = plan_stock(&demand(), &configured, 100, now());
        assert_eq!(
            counties(&plan),
            vec![
                ("110101", "demand: 5 orders"),
                ("370212", "demand: 2 orders"),
                ("440305", "daily coverage"),
            ]
        );
        assert_eq!(plan.stock_calls, 6);
        assert_eq!(plan.products[0].reason, "demand: 9 units");

        // Covered an hour ago: not due; covered a day ago: due.
        let mut d = demand();
        d.coverage.insert("440305".into(), hours_ago(1));
        let plan = plan_stock(&d, &configured, 100, now());
        assert_eq!(plan.counties.len(), 2);
        d.coverage.insert("440305".into(), hours_ago(24));
        let plan = plan_stock(&d, &configured, 100, now());
        assert_eq!(plan.counties[2].county, "440305");
    }

    #[test]
    fn the_budget_caps_calls_and_keeps_a_share_for_coverage() {
        let configured = vec!["440305".to_owned(), "320102".to_owned()];
        // 2 products, 4 calls: 2 county slots; one goes to coverage.
        let plan = plan_stock(&demand(), &configured, 4, now());
        assert_eq!(
            counties(&plan),
            vec![("110101", "demand: 5 orders"), ("320102", "daily coverage")]
        );
        assert_eq!(plan.deferred, vec!["440305".to_owned()]);
        assert!(plan.stock_calls <= 4);
        // 1 call: one product, one county.
        let plan = plan_stock(&demand(), &configured, 1, now());
        assert_eq!((plan.products.len(), plan.counties.len()), (1, 1));
        assert_eq!(plan.stock_calls, 1);
    }

    #[test]
    fn without_demand_the_procurable_products_cover_the_configured_counties() {
        let d = Demand {
            fallback_products: vec!["A".into(), "B".into()],
            ..Demand::default()
        };
        let plan = plan_stock(&d, &["370212".to_owned()], 10, now());
        assert_eq!(counties(&plan), vec![("370212", "daily coverage")]);
        assert_eq!(plan.products[1].reason, "no recent demand: procurable");
        let none = plan_stock(&Demand::default(), &["370212".to_owned()], 10, now());
        assert!(none.counties.is_empty() && none.stock_calls == 0);
    }
}
