//! Reads addresses (one per line) on stdin and writes one answer per line on stdout:
//! `code<TAB>level<TAB>ambiguous` (`code` empty when nothing matched). With `--json`,
//! writes the whole resolution as JSON instead.
//!
//! Then, unless `--no-time`, resolves the whole input again in a loop on this one
//! thread for at least `--seconds` (default 2) and reports `addresses/s` on stderr.
//! Start-up (building the index) and I/O are outside the timed loop. `--rounds N`
//! runs exactly N passes over the input instead (for instruction counts under a
//! profiler, which must not depend on the clock).
//!
//! `cargo run --release -p region --example resolve_bench < addresses.txt`

use std::io::{BufRead, Write};
use std::time::{Duration, Instant};

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let json = args.iter().any(|a| a == "--json");
    let time = !args.iter().any(|a| a == "--no-time");
    let seconds: f64 = args
        .iter()
        .position(|a| a == "--seconds")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0);
    let rounds: Option<usize> = args
        .iter()
        .position(|a| a == "--rounds")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok());
    let lines: Vec<String> = std::io::stdin().lock().lines().collect::<Result<_, _>>()?;
    let resolver = region::Resolver::default();
    let _ = resolver.resolve("北京市朝阳区"); // builds the shared index
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for line in &lines {
        let r = resolver.resolve(line);
        if json {
            writeln!(
                out,
                "{}",
                serde_json::to_string(&r).map_err(std::io::Error::other)?
            )?;
        } else {
            let code = r.code.map(|c| c.to_string()).unwrap_or_default();
            let level = match r.level {
                region::Level::County => "county",
                region::Level::City => "city",
                region::Level::Province => "province",
                region::Level::None => "none",
            };
            writeln!(out, "{code}\t{level}\t{}", r.ambiguous)?;
        }
    }
    out.flush()?;
    if time && !lines.is_empty() {
        let budget = Duration::from_secs_f64(seconds);
        let start = Instant::now();
        let mut done = 0usize;
        let mut sink = 0u64;
        while rounds.map_or(start.elapsed() < budget, |n| done < n * lines.len()) {
            for line in &lines {
                let r = resolver.resolve(line);
                sink = sink.wrapping_add(r.code.map_or(0, |c| u64::from(c.get())));
            }
            done += lines.len();
        }
        let secs = start.elapsed().as_secs_f64();
        eprintln!(
            "supplyhub: {done} addresses in {secs:.3} s = {:.0} addresses/s (checksum {sink})",
            done as f64 / secs
        );
    }
    Ok(())
}
