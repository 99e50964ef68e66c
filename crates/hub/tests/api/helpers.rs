//! Test fixtures: per-test databases on both backends, an in-process sandbox supplier,
//! and a `TestApp` serving the hub on 127.0.0.1:0.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use supplyhub::calllog::CallLog;
use supplyhub::config::Config;
use supplyhub::http::{AppState, router};
use supplyhub::store::Db;
use supplyhub::sync::Syncer;
use supplyhub::systems::live::{LiveSupplier, SupplierClients};
use tokio::net::TcpListener;

/// The server that hosts per-test PostgreSQL databases (trust auth on this machine and CI).
fn postgres_admin_url() -> String {
    std::env::var("SUPPLYHUB_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// Creates `name` with a collation that is not bytewise, as many installations have by
/// default: under ICU `en-US`, `'run_01' < 'run_~'` is false, so a query that relies on
/// the database's collation for ordering or paging fails here as it would there. A
/// server built without ICU gets an `en_US.UTF-8` libc locale instead (also not C).
async fn create_database(pool: &sqlx::PgPool, name: &str) {
    let icu = format!(
        "CREATE DATABASE {name} TEMPLATE template0 \
         LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
    );
    let Err(icu_error) = sqlx::query(sqlx::AssertSqlSafe(icu)).execute(pool).await else {
        return;
    };
    let libc = format!("CREATE DATABASE {name} TEMPLATE template0 LOCALE 'en_US.UTF-8'");
    if let Err(libc_error) = sqlx::query(sqlx::AssertSqlSafe(libc)).execute(pool).await {
        panic!(
            "create test database with a non-C collation: ICU: {icu_error}; \
             en_US.UTF-8: {libc_error}"
        );
    }
}

/// A fresh, migrated database that is removed by [`TestDb::cleanup`].
pub struct TestDb {
    pub db: Db,
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    File(tempfile::TempDir),
    Postgres { admin: String, name: String },
}

impl TestDb {
    pub async fn sqlite() -> TestDb {
        crate::leaks::install();
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("hub.db").display());
        let db = Db::connect(&url).await.expect("open sqlite");
        db.migrate().await.expect("migrate sqlite");
        TestDb {
            db,
            url,
            cleanup: Cleanup::File(dir),
        }
    }

    pub async fn postgres() -> TestDb {
        crate::leaks::install();
        let admin = postgres_admin_url();
        let name = format!("supplyhub_test_{}", uuid::Uuid::now_v7().simple());
        let admin_db = Db::connect(&admin)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL is required for these tests at {admin}: {e}"));
        if let Db::Postgres(pool) = &admin_db {
            create_database(pool, &name).await;
        }
        admin_db.close().await;
        let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
        let url = format!("{base}/{name}");
        let db = Db::connect(&url).await.expect("open postgres");
        db.migrate().await.expect("migrate postgres");
        TestDb {
            db,
            url,
            cleanup: Cleanup::Postgres { admin, name },
        }
    }

    pub async fn cleanup(self) {
        crate::leaks::assert_clean();
        self.db.close().await;
        match self.cleanup {
            Cleanup::File(dir) => drop(dir),
            Cleanup::Postgres { admin, name } => {
                if let Ok(Db::Postgres(pool)) = Db::connect(&admin).await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&pool)
                    .await;
                    pool.close().await;
                }
            }
        }
    }
}

/// Runs a test body once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident => $body:ident;)*) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let t = $crate::helpers::TestDb::sqlite().await;
                    super::$body(&t.db).await;
                    t.cleanup().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let t = $crate::helpers::TestDb::postgres().await;
                    super::$body(&t.db).await;
                    t.cleanup().await;
                }
            )*
        }
    };
}

/// A full run of the catalog (and prices when `prices`), without stock.
pub fn catalog_only(prices: bool) -> supplyhub::sync::SyncOptions {
    supplyhub::sync::SyncOptions {
        kind: supplyhub::sync::RunKind::Full,
        product_codes: vec![],
        category: None,
        brand: None,
        prices,
        stock: false,
        counties: vec![],
    }
}

/// An in-process sandbox supplier with a small catalog and a generous rate limit.
pub struct TestSandbox {
    pub sandbox: sandbox::Sandbox,
    pub http: reqwest::Client,
}

impl TestSandbox {
    pub async fn start(products: usize, seed: u64) -> TestSandbox {
        Self::start_with(sandbox::SandboxConfig {
            products,
            seed,
            rate_limit: 2000,
            ..sandbox::SandboxConfig::default()
        })
        .await
    }

    pub async fn start_with(config: sandbox::SandboxConfig) -> TestSandbox {
        crate::leaks::install();
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind sandbox");
        let sandbox = sandbox::start(config, listener)
            .await
            .expect("start sandbox");
        crate::leaks::learn_settings(&sandbox.env());
        TestSandbox {
            sandbox,
            http: reqwest::Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sandbox.base_url())
    }

    /// The hub configuration pointing at this sandbox, with `extra` settings on top.
    pub fn config(&self, extra: &[(&str, &str)]) -> Config {
        let mut settings = self.sandbox.env();
        settings.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        Config::from_settings(&settings).expect("test config")
    }

    /// A syncer on `db` through a client with short retry delays, for `config`.
    pub fn syncer(&self, db: &Db, config: &Config) -> Syncer {
        let haier = config.haier.clone().expect("haier settings");
        let client = haier::OpenPlatform::builder(haier)
            .retry_delays(Duration::from_millis(5), Duration::from_millis(50))
            .build()
            .expect("client");
        Syncer::new(db.clone(), Arc::new(client), config.sync.concurrency)
    }

    /// Like [`TestSandbox::syncer`], with every attempt recorded in a call log.
    pub fn logged_syncer(&self, db: &Db, config: &Config) -> (Syncer, Arc<CallLog>) {
        let log = CallLog::start(db.clone(), supplyhub::calllog::OPEN_PLATFORM);
        let haier = config.haier.clone().expect("haier settings");
        let observer: Arc<dyn haier::CallObserver> = log.clone();
        let client = haier::OpenPlatform::builder(haier)
            .retry_delays(Duration::from_millis(5), Duration::from_millis(50))
            .observer(observer)
            .build()
            .expect("client");
        let syncer = Syncer::new(db.clone(), Arc::new(client), config.sync.concurrency);
        (syncer, log)
    }

    /// The YLH client for `config`, with short retry delays.
    pub fn ylh(&self, config: &Config) -> Arc<haier::Ylh> {
        let ylh = config.ylh.clone().expect("ylh settings");
        Arc::new(
            haier::Ylh::builder(ylh)
                .retry_delays(Duration::from_millis(5), Duration::from_millis(50))
                .build()
                .expect("ylh client"),
        )
    }

    /// The Open Platform client for `config`, with short retry delays.
    pub fn open_platform(&self, config: &Config) -> Arc<haier::OpenPlatform> {
        let haier = config.haier.clone().expect("haier settings");
        Arc::new(
            haier::OpenPlatform::builder(haier)
                .retry_delays(Duration::from_millis(5), Duration::from_millis(50))
                .build()
                .expect("client"),
        )
    }

    /// Fixed supplier clients for `config` (Open Platform, YLH, callbacks), with short
    /// retry delays.
    pub fn live(&self, config: &Config) -> LiveSupplier {
        LiveSupplier::fixed(SupplierClients {
            open_platform: Some(self.open_platform(config)),
            ylh: Some(self.ylh(config)),
            callback: config.haier_callback.clone().map(Arc::new),
            system: None,
        })
    }

    /// A full application state wired to this sandbox: orders, YLH, callbacks.
    pub fn app_state(&self, db: &Db, config: &Config) -> AppState {
        let mut state = AppState::new(db.clone()).with_supplier(self.live(config));
        state.orders = supplyhub::orders::OrderService::new(
            db.clone(),
            Arc::clone(&state.resolver),
            state.supplier.clone(),
            config.orders.clone(),
        );
        state
    }

    /// An outbox worker wired to this sandbox.
    pub fn worker(&self, db: &Db, config: &Config) -> supplyhub::jobs::Worker {
        supplyhub::jobs::Worker::new(
            db.clone(),
            self.live(config),
            config.orders.clone(),
            "test-worker",
        )
    }

    pub async fn get(&self, path: &str) -> Value {
        self.http
            .get(self.url(path))
            .send()
            .await
            .expect("sandbox request")
            .error_for_status()
            .expect("sandbox status")
            .json()
            .await
            .expect("sandbox json")
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        self.http
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .expect("sandbox request")
            .error_for_status()
            .expect("sandbox status")
            .json()
            .await
            .expect("sandbox json")
    }

    /// Every product the sandbox knows, by code.
    pub async fn truth(&self) -> std::collections::BTreeMap<String, Value> {
        let catalog = self.get("/_sandbox/catalog").await;
        catalog["products"]
            .as_array()
            .expect("products")
            .iter()
            .map(|p| {
                (
                    p["productCode"].as_str().expect("code").to_owned(),
                    p.clone(),
                )
            })
            .collect()
    }

    pub async fn stats(&self) -> Value {
        self.get("/_sandbox/stats").await
    }

    /// A product the sandbox sells (`isSales` 1), given `units` in one warehouse of
    /// `county`; its code.
    pub async fn saleable_with_stock(&self, county: &str, units: u64) -> String {
        let sku = self
            .truth()
            .await
            .into_iter()
            .find(|(_, p)| p["isSales"] == "1")
            .map(|(c, _)| c)
            .expect("a saleable product");
        self.post(
            "/_sandbox/stock",
            serde_json::json!({"productCode": sku, "countyCode": county,
                "warehouses": [{"secCode": "NJ01", "stock": units, "warehouseGrade": "0"}]}),
        )
        .await;
        sku
    }
}

/// The hub's HTTP API served on 127.0.0.1:0 over a database, behind the secret guard
/// ([`crate::leaks`]): a test fails when its hub answered or logged a secret.
pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    token: Option<String>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        crate::leaks::assert_clean();
    }
}

impl TestApp {
    pub async fn spawn(db: &Db, admin_token: Option<&str>) -> TestApp {
        let mut state = AppState::new(db.clone());
        state.admin_token =
            admin_token.map(|t| Arc::new(secrecy::SecretString::from(t.to_owned())));
        Self::spawn_state(state, admin_token).await
    }

    /// The app with the supplier's callbacks configured (and no admin token).
    pub async fn spawn_with_callback(
        db: &Db,
        callback: supplyhub::config::CallbackConfig,
    ) -> TestApp {
        let state = AppState::new(db.clone()).with_supplier(LiveSupplier::fixed(SupplierClients {
            callback: Some(Arc::new(callback)),
            ..SupplierClients::default()
        }));
        Self::spawn_state(state, None).await
    }

    /// The app over any state.
    pub async fn spawn_state(state: AppState, admin_token: Option<&str>) -> TestApp {
        Self::spawn_state_with_http(state, admin_token, supplyhub::http::HttpConfig::default())
            .await
    }

    /// The app over any state, served with `http` limits and timeouts, as `serve` does.
    pub async fn spawn_state_with_http(
        mut state: AppState,
        admin_token: Option<&str>,
        http: supplyhub::http::HttpConfig,
    ) -> TestApp {
        state.http = http;
        crate::leaks::install();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind app");
        let addr = listener.local_addr().expect("addr");
        let app = router(state).layer(axum::middleware::from_fn(crate::leaks::guard));
        tokio::spawn(supplyhub::http::serve(
            listener,
            app,
            http,
            std::future::pending(),
        ));
        TestApp {
            base: format!("http://{addr}"),
            http: reqwest::Client::new(),
            token: admin_token.map(str::to_owned),
        }
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let mut req = self.http.post(format!("{}{path}", self.base)).json(&body);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.expect("app request");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn get_raw(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("app request")
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let resp = self.get_raw(path, self.token.as_deref()).await;
        let status = resp.status().as_u16();
        (status, resp.json().await.expect("json body"))
    }

    pub async fn list_products(&self, query: &str) -> (u16, Value) {
        self.get(&format!("/api/v1/products{query}")).await
    }

    pub async fn get_product(&self, code: &str) -> (u16, Value) {
        self.get(&format!("/api/v1/products/{code}")).await
    }

    pub async fn list_sync_runs(&self, query: &str) -> (u16, Value) {
        self.get(&format!("/api/v1/sync-runs{query}")).await
    }

    pub async fn get_sync_run(&self, id: &str) -> (u16, Value) {
        self.get(&format!("/api/v1/sync-runs/{id}")).await
    }
}

/// A JSON request to `app` with the bearer token it was spawned with: the status and the
/// body (JSON, or the text as a JSON string).
pub async fn call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = app.http.request(method, format!("{}{path}", app.base));
    if let Some(t) = &app.token {
        req = req.bearer_auth(t);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// A state over `db` whose credentials are always required: `admin_token` as the
/// bootstrap admin, `ring` sealing the systems' secrets.
pub fn guarded_state(
    db: &Db,
    ring: supplyhub::systems::crypto::KeyRing,
    admin_token: &str,
) -> AppState {
    let mut state = AppState::new(db.clone());
    state.admin_token = Some(Arc::new(secrecy::SecretString::from(
        admin_token.to_owned(),
    )));
    state.access =
        supplyhub::access::AccessState::new(supplyhub::config::AccessConfig::default(), true);
    state.secrets = Arc::new(ring);
    state
}

/// The Python of `scripts/python-venv.sh`, with the official Standard Webhooks library and
/// the Prometheus client's parser installed (on first use).
pub fn python() -> std::path::PathBuf {
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/python-venv.sh");
    let out = std::process::Command::new(&script)
        .output()
        .expect("run scripts/python-venv.sh");
    assert!(
        out.status.success(),
        "scripts/python-venv.sh failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::path::PathBuf::from(String::from_utf8(out.stdout).expect("path").trim())
}

/// Runs `code` with the venv's Python, `input` on its standard input; its standard
/// output.
pub fn run_python(code: &str, input: &[u8]) -> String {
    use std::io::Write as _;
    let mut child = std::process::Command::new(python())
        .arg("-c")
        .arg(code)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start python");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("write to python");
    let out = child.wait_with_output().expect("python ran");
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// A port of 127.0.0.1 free when asked, for a process the test starts at once.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The hub's binary, run with no `supplyhub.toml` of the working directory and none of
/// the test environment's `SUPPLYHUB_` settings.
pub fn supplyhub_command() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_supplyhub"));
    cmd.current_dir(std::env::temp_dir());
    for (name, _) in std::env::vars() {
        if name.starts_with("SUPPLYHUB_") {
            cmd.env_remove(name);
        }
    }
    cmd
}
