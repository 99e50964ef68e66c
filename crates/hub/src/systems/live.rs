//! The supplier the hub talks to right now: one holder of the Open Platform client, the
//! YLH client and the callback credentials, built from the active Haier supplier system
//! when one exists, else from the configuration (`[haier]`, `[ylh]`, `[haier_callback]`).
//!
//! Every user of those clients — the checkout's stock checks, live logistics and photos,
//! the outbox worker's pushes, the callback verification — asks [`LiveSupplier::current`]
//! at the moment of use, so a change of the active system takes effect on the next call
//! without a restart:
//! - this instance's registry calls [`LiveSupplier::refresh`] after it writes a system
//!   (create, PUT, PATCH, DELETE, test), which rebuilds the clients at once when the
//!   active system changed;
//! - a change made by another instance sharing the database is noticed by a cheap
//!   revision check (the active system's id and `updated_at`), made at most every
//!   [`REVISION_CHECK_EVERY`] by whichever call comes first.
//!
//! While the revision does not change the clients are reused: their cached tokens, rate
//! limiters, breakers and counters live on. Every Open Platform client built reports its
//! HTTP attempts to the one call log it was given, so calls stay attributed (to the sync
//! run or order they were made for) across rebuilds.

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use super::health::HealthWatch;
use crate::budget::Budgets;
use crate::calllog::CallLog;
use crate::config::CallbackConfig;
use crate::store::Db;
use crate::store::systems as store;
use crate::types::UtcTime;

use super::crypto::KeyRing;

/// How often, at most, a call checks whether another instance changed the active
/// supplier system.
pub const REVISION_CHECK_EVERY: Duration = Duration::from_secs(3);

/// The supplier settings of the hub's configuration: the fallback when no supplier
/// system is active, and the sections an active system does not set.
#[derive(Debug, Clone, Default)]
pub struct SupplierSettings {
    /// The Open Platform (`[haier]`).
    pub open_platform: Option<haier::OpenPlatformConfig>,
    /// The YLH order centre (`[ylh]`).
    pub ylh: Option<haier::ylh::YlhConfig>,
    /// The signed callbacks (`[haier_callback]`).
    pub callback: Option<CallbackConfig>,
}

impl SupplierSettings {
    /// The supplier sections of `config`.
    pub fn from_config(config: &crate::config::Config) -> SupplierSettings {
        SupplierSettings {
            open_platform: config.haier.clone(),
            ylh: config.ylh.clone(),
            callback: config.haier_callback.clone(),
        }
    }
}

/// The clients of one revision of the supplier settings. Cheap to hold: each is shared.
#[derive(Clone, Default)]
pub struct SupplierClients {
    /// The Haier Open Platform (stock checks, H4 logistics); `None` when not configured.
    pub open_platform: Option<Arc<haier::OpenPlatform>>,
    /// The YLH order centre (pushes, cancels, reschedules, Y4/Y5); `None` when not
    /// configured.
    pub ylh: Option<Arc<haier::Ylh>>,
    /// The callback credentials; callbacks are refused without them.
    pub callback: Option<Arc<CallbackConfig>>,
    /// The active supplier system they come from (id, name); `None`: the configuration.
    pub system: Option<(String, String)>,
}

impl std::fmt::Debug for SupplierClients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SupplierClients")
            .field("open_platform", &self.open_platform.is_some())
            .field("ylh", &self.ylh.is_some())
            .field("callback", &self.callback.is_some())
            .field("system", &self.system)
            .finish()
    }
}

/// Which settings the clients were built from: the active system's id and when it last
/// changed, or `None` for the configuration alone.
type Revision = Option<(String, UtcTime)>;

/// Holds the current supplier clients (see the module documentation). Cheap to clone:
/// clones share the clients and the revision.
#[derive(Clone)]
pub struct LiveSupplier {
    inner: Arc<Inner>,
}

struct Inner {
    current: RwLock<Arc<SupplierClients>>,
    /// The request budgets every client built here paces itself by.
    budgets: Budgets,
    /// Where every client built for a system reports its attempts.
    health: HealthWatch,
    /// `None`: fixed clients that never change.
    registry: Option<Registry>,
}

struct Registry {
    db: Db,
    ring: Arc<KeyRing>,
    fallback: SupplierSettings,
    budgets: Budgets,
    health: HealthWatch,
    log: Option<Arc<CallLog>>,
    retry_delays: Option<(Duration, Duration)>,
    check_every: Duration,
    /// When the revision was last read; `None` before the first read.
    checked_at: Mutex<Option<Instant>>,
    /// The revision the current clients were built from.
    revision: Mutex<Revision>,
    /// One check at a time: the others wait for it and then see its result.
    checking: tokio::sync::Mutex<()>,
}

/// Options of [`LiveSupplier::from_registry`].
#[derive(Clone, Default)]
pub struct LiveOptions {
    /// The call log every Open Platform client reports its attempts to.
    pub log: Option<Arc<CallLog>>,
    /// Retry delays of the clients (first, cap); default the clients' own.
    pub retry_delays: Option<(Duration, Duration)>,
    /// How often, at most, the revision is read; default [`REVISION_CHECK_EVERY`].
    pub check_every: Option<Duration>,
    /// The instance's request budgets, which every client built paces itself by; default
    /// budgets of these clients' own.
    pub budgets: Option<Budgets>,
    /// The failure-rate monitor every client built for a system reports its attempts
    /// to; default a watch of these clients' own.
    pub health: Option<HealthWatch>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl LiveSupplier {
    /// Fixed clients that never change (a hub without a registry, and unit tests).
    pub fn fixed(clients: SupplierClients) -> LiveSupplier {
        LiveSupplier {
            inner: Arc::new(Inner {
                current: RwLock::new(Arc::new(clients)),
                budgets: Budgets::default(),
                health: HealthWatch::default(),
                registry: None,
            }),
        }
    }

    /// No supplier at all.
    pub fn none() -> LiveSupplier {
        LiveSupplier::fixed(SupplierClients::default())
    }

    /// Clients that follow the active Haier supplier system of the registry in `db`
    /// (its secrets opened with `ring`), falling back to `fallback`. Reads the registry
    /// now; fails when the active system's settings cannot make a client, naming the
    /// system and the setting (never a secret value).
    pub async fn from_registry(
        db: Db,
        ring: Arc<KeyRing>,
        fallback: SupplierSettings,
        options: LiveOptions,
    ) -> anyhow::Result<LiveSupplier> {
        let budgets = options.budgets.unwrap_or_default();
        let health = options.health.unwrap_or_default();
        let registry = Registry {
            db,
            ring,
            fallback,
            budgets: budgets.clone(),
            health: health.clone(),
            log: options.log,
            retry_delays: options.retry_delays,
            check_every: options.check_every.unwrap_or(REVISION_CHECK_EVERY),
            checked_at: Mutex::new(None),
            revision: Mutex::new(None),
            checking: tokio::sync::Mutex::new(()),
        };
        let (revision, clients) = registry.build().await?;
        *lock(&registry.revision) = revision;
        *lock(&registry.checked_at) = Some(Instant::now());
        Ok(LiveSupplier {
            inner: Arc::new(Inner {
                current: RwLock::new(Arc::new(clients)),
                budgets,
                health,
                registry: Some(registry),
            }),
        })
    }

    /// The clients to use for the call about to be made. Reads the revision first when
    /// the last read is older than the check interval, and rebuilds the clients when it
    /// changed.
    pub async fn current(&self) -> Arc<SupplierClients> {
        if let Some(registry) = &self.inner.registry
            && registry.due()
        {
            self.check(false).await;
        }
        self.snapshot()
    }

    /// The request budgets of this instance, which every supplier client it builds
    /// (these and others: the scheduler's, the operator tools') paces itself by.
    pub fn budgets(&self) -> &Budgets {
        &self.inner.budgets
    }

    /// The failure-rate monitor of this instance, which every supplier client it builds
    /// for a system reports to.
    pub fn health(&self) -> &HealthWatch {
        &self.inner.health
    }

    /// The clients held now, without a check.
    pub fn snapshot(&self) -> Arc<SupplierClients> {
        self.inner
            .current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Reads the revision now (this instance changed a system) and rebuilds the clients
    /// when the active supplier system changed.
    pub async fn refresh(&self) {
        self.check(true).await;
    }

    async fn check(&self, force: bool) {
        let Some(registry) = &self.inner.registry else {
            return;
        };
        let _one = registry.checking.lock().await;
        // Another call checked while this one waited.
        if !force && !registry.due() {
            return;
        }
        let read = store::active_supplier_revision(&registry.db).await;
        *lock(&registry.checked_at) = Some(Instant::now());
        let revision = match read {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = ?e, "cannot read the active supplier system; keeping the current clients");
                return;
            }
        };
        if revision == *lock(&registry.revision) {
            return;
        }
        match registry.build().await {
            Ok((built_from, clients)) => {
                match &clients.system {
                    Some((id, name)) => tracing::info!(
                        system = %id, name = %name,
                        "supplier clients rebuilt from the active supplier system"
                    ),
                    None => tracing::info!(
                        "no supplier system is active: supplier clients rebuilt from the configuration"
                    ),
                }
                *lock(&registry.revision) = built_from;
                *self
                    .inner
                    .current
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(clients);
            }
            Err(e) => {
                // The settings were checked when written, so this is rare (a URL the
                // client refuses, say): without usable settings there is no supplier,
                // rather than the previous one's credentials.
                tracing::warn!(error = %e, "the active supplier system cannot make clients; the supplier is unavailable until it is fixed");
                *lock(&registry.revision) = revision;
                *self
                    .inner
                    .current
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) =
                    Arc::new(SupplierClients::default());
            }
        }
    }
}

impl Registry {
    fn due(&self) -> bool {
        lock(&self.checked_at).is_none_or(|t| t.elapsed() >= self.check_every)
    }

    /// The settings of the active system over the fallback, and the clients they make.
    async fn build(&self) -> anyhow::Result<(Revision, SupplierClients)> {
        let mut settings = self.fallback.clone();
        let row = store::active_supplier(&self.db).await?;
        let mut system = None;
        let revision = match &row {
            Some(row) => {
                let secrets = super::http::open_with(&self.ring, row).map_err(|e| {
                    anyhow::anyhow!("the active supplier system {} ({}): {e}", row.name, row.id)
                })?;
                let json: serde_json::Value = serde_json::from_str(&row.settings)?;
                let (op, ylh, callback) = super::haier_configs(&json, &secrets).map_err(|e| {
                    anyhow::anyhow!("the active supplier system {} ({}): {e}", row.name, row.id)
                })?;
                // Each section the system sets replaces the configuration's.
                if op.is_some() {
                    settings.open_platform = op;
                }
                if ylh.is_some() {
                    settings.ylh = ylh;
                }
                if callback.is_some() {
                    settings.callback = callback;
                }
                system = Some((row.id.clone(), row.name.clone()));
                Some((row.id.clone(), row.updated_at))
            }
            None => None,
        };
        let clients = self.clients(settings, system).map_err(|e| match &row {
            Some(r) => anyhow::anyhow!("the active supplier system {} ({}): {e}", r.name, r.id),
            None => e,
        })?;
        Ok((revision, clients))
    }

    fn clients(
        &self,
        settings: SupplierSettings,
        system: Option<(String, String)>,
    ) -> anyhow::Result<SupplierClients> {
        let open_platform = match settings.open_platform {
            Some(c) => {
                let budget =
                    self.budgets
                        .account(crate::calllog::OPEN_PLATFORM, &c.base_url, c.rate_limit);
                let mut b = haier::OpenPlatform::builder(c);
                if let Some(budget) = budget {
                    b = b.budget(budget);
                }
                let log = self
                    .log
                    .clone()
                    .map(|log| -> Arc<dyn haier::CallObserver> { log });
                let observer = match &system {
                    Some((id, _)) => Some(self.health.tee(id, log)),
                    None => log,
                };
                if let Some(observer) = observer {
                    b = b.observer(observer);
                }
                if let Some((min, max)) = self.retry_delays {
                    b = b.retry_delays(min, max);
                }
                Some(Arc::new(b.build().map_err(|e| {
                    anyhow::anyhow!("the Haier client configuration is invalid: {e}")
                })?))
            }
            None => None,
        };
        let ylh = match settings.ylh {
            Some(c) => {
                let budget =
                    self.budgets
                        .account(crate::calllog::YLH, &c.auth_base_url, c.rate_limit);
                // Its calls are recorded whole, with their order, by their callers; each
                // attempt is counted in the metrics.
                let counted: Arc<dyn haier::CallObserver> =
                    Arc::new(crate::metrics::SupplierAttempts(crate::calllog::YLH));
                let mut b = haier::Ylh::builder(c).observer(match &system {
                    Some((id, _)) => self.health.tee(id, Some(counted)),
                    None => counted,
                });
                if let Some(budget) = budget {
                    b = b.budget(budget);
                }
                if let Some((min, max)) = self.retry_delays {
                    b = b.retry_delays(min, max);
                }
                Some(Arc::new(b.build().map_err(|e| {
                    anyhow::anyhow!("the YLH client configuration is invalid: {e}")
                })?))
            }
            None => None,
        };
        Ok(SupplierClients {
            open_platform,
            ylh,
            callback: settings.callback.map(Arc::new),
            system,
        })
    }
}
