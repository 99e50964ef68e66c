//! What the HTTP benchmarks share: latency percentiles, and running one benchmark on
//! SQLite, then on a scratch PostgreSQL database with a non-C collation.

use std::future::Future;
use std::time::Duration;

use supplyhub::store::Db;

/// The `p` quantile (0 to 1) of `sorted`, nearest rank. `sorted` is not empty.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Runs `run(label, database_url)` on a SQLite file in a temporary directory, then on a
/// PostgreSQL database created for it at `SUPPLYHUB_BENCH_POSTGRES_URL` (default
/// `postgres://postgres@127.0.0.1:5432/postgres`) and dropped after; PostgreSQL is
/// skipped when it is not reachable. The database is created with the ICU `en-US`
/// collation, not bytewise, as many installations have, so the bench runs the queries a
/// customer's database runs.
pub async fn on_both_backends<F, Fut>(name_prefix: &str, mut run: F) -> anyhow::Result<()>
where
    F: FnMut(&'static str, String) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let dir = tempfile::tempdir()?;
    run(
        "SQLite",
        format!("sqlite://{}", dir.path().join("bench.db").display()),
    )
    .await?;

    let admin = std::env::var("SUPPLYHUB_BENCH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let Ok(Db::Postgres(pool)) = Db::connect(&admin).await else {
        println!("PostgreSQL   not reachable at {admin}: skipped");
        return Ok(());
    };
    let name = format!("{name_prefix}_{}", std::process::id());
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE DATABASE {name} TEMPLATE template0 \
         LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
    )))
    .execute(&pool)
    .await?;
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    let result = run("PostgreSQL", format!("{base}/{name}")).await;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&pool)
    .await?;
    result
}
