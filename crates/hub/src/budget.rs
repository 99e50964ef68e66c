//! This instance's request budgets, one per supplier account it calls.
//!
//! The supplier's rate limit belongs to the account, not to a client object: every
//! client this instance builds for an account (the live supplier's, the scheduler's, the
//! registry's operator tools, `supplyhub sync`) paces its requests by the one
//! [`haier::Budget`] of that account given here, so that they add up to the limit rather
//! than each spending all of it. An account is named by the service and its base URL.
//!
//! Across instances, [`crate::instances`] counts the live ones and sets the share: each
//! takes `limit / live instances` ([`Budgets::set_share`]). Sync runs leave
//! `[sync] checkout_reserve` of it to calls a customer waits on.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

/// The budgets of this instance (see the module documentation). Cheap to clone: clones
/// share the budgets.
#[derive(Clone)]
pub struct Budgets {
    inner: Arc<Mutex<State>>,
}

struct State {
    share: NonZeroU32,
    reserve: f64,
    /// By (service, base URL).
    accounts: BTreeMap<(&'static str, String), haier::Budget>,
}

impl Default for Budgets {
    /// Undivided budgets with the default checkout reserve.
    fn default() -> Self {
        Budgets::new(crate::config::SyncConfig::default().checkout_reserve)
    }
}

impl std::fmt::Debug for Budgets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        f.debug_struct("Budgets")
            .field("share", &state.share)
            .field("reserve", &state.reserve)
            .field("accounts", &state.accounts.len())
            .finish()
    }
}

impl Budgets {
    /// Undivided budgets whose sync runs leave `reserve` (0 to
    /// [`haier::budget::MAX_RESERVE`]) of each to foreground calls.
    pub fn new(reserve: f64) -> Budgets {
        Budgets {
            inner: Arc::new(Mutex::new(State {
                share: NonZeroU32::MIN,
                reserve,
                accounts: BTreeMap::new(),
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The budget of the account of `service` (`haier_open_platform`, `ylh`) at
    /// `base_url`, whose limit is `limit` requests a second: made on first use, its limit
    /// updated after. `None` for a limit of 0 (the client's configuration refuses it).
    pub fn account(
        &self,
        service: &'static str,
        base_url: &str,
        limit: u32,
    ) -> Option<haier::Budget> {
        let limit = NonZeroU32::new(limit)?;
        let mut state = self.lock();
        let (share, reserve) = (state.share, state.reserve);
        let budget = state
            .accounts
            .entry((service, base_url.trim_end_matches('/').to_owned()))
            .or_insert_with(|| {
                let b = haier::Budget::new(limit);
                b.set_share(share);
                b.set_reserve(reserve);
                b
            });
        budget.set_limit(limit);
        crate::metrics::supplier_budget(service, budget.per_second());
        Some(budget.clone())
    }

    /// The number of instances the budgets are divided between.
    pub fn share(&self) -> NonZeroU32 {
        self.lock().share
    }

    /// Divides every budget, present and future, between `share` instances.
    pub fn set_share(&self, share: NonZeroU32) {
        let mut state = self.lock();
        state.share = share;
        for ((service, _), budget) in &state.accounts {
            budget.set_share(share);
            crate::metrics::supplier_budget(service, budget.per_second());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_budget_per_account_divided_by_the_share() {
        let budgets = Budgets::new(0.25);
        let a = budgets
            .account("haier_open_platform", "http://h:1/", 100)
            .unwrap();
        let again = budgets
            .account("haier_open_platform", "http://h:1", 100)
            .unwrap();
        let ylh = budgets.account("ylh", "http://h:1", 40).unwrap();
        // The same account is the same budget: a change through one is seen by the other.
        again.set_share(NonZeroU32::new(7).unwrap());
        assert_eq!(a.share().get(), 7);
        assert_eq!(ylh.share().get(), 1);
        budgets.set_share(NonZeroU32::new(4).unwrap());
        assert_eq!(a.per_second(), 25.0);
        assert_eq!(ylh.per_second(), 10.0);
        assert_eq!(a.reserve(), 0.25);
        // A budget made after the share was set starts divided.
        let late = budgets
            .account("haier_open_platform", "http://other", 100)
            .unwrap();
        assert_eq!(late.per_second(), 25.0);
        // A changed limit is applied to the existing budget.
        budgets
            .account("haier_open_platform", "http://h:1", 60)
            .unwrap();
        assert_eq!(a.per_second(), 15.0);
        assert!(budgets.account("ylh", "http://h:1", 0).is_none());
    }
}
