//! `supplyhub region resolve`: addresses to GB/T 2260 codes, one JSON object a line.

use std::io::{BufRead, Write};
use std::time::Instant;

use anyhow::{Context, bail};

use crate::http::RegionResolution;

/// Options of `supplyhub region`.
#[derive(Debug, clap::Args)]
pub struct RegionArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: RegionCommand,
}

/// Region commands.
#[derive(Debug, clap::Subcommand)]
pub enum RegionCommand {
    /// Resolve addresses to county codes: each ADDRESS, or one address a line from
    /// standard input with --stdin; one JSON object a line on standard output.
    Resolve(ResolveArgs),
}

/// Options of `supplyhub region resolve`.
#[derive(Debug, clap::Args)]
pub struct ResolveArgs {
    /// Free-text addresses.
    #[arg(value_name = "ADDRESS")]
    pub addresses: Vec<String>,
    /// Read one address a line from standard input; a throughput figure goes to stderr.
    #[arg(long, conflicts_with = "addresses")]
    pub stdin: bool,
    /// Structured input: the province field (with --city and --district).
    #[arg(long, conflicts_with_all = ["addresses", "stdin"])]
    pub province: Option<String>,
    /// Structured input: the city field.
    #[arg(long, conflicts_with_all = ["addresses", "stdin"])]
    pub city: Option<String>,
    /// Structured input: the district field.
    #[arg(long, conflicts_with_all = ["addresses", "stdin"])]
    pub district: Option<String>,
}

/// Runs `supplyhub region …` with `resolver`.
pub fn run(args: RegionArgs, resolver: &region::Resolver) -> anyhow::Result<()> {
    let RegionCommand::Resolve(args) = args.command;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let emit = |r: region::Resolution, out: &mut dyn Write| -> anyhow::Result<()> {
        serde_json::to_writer(&mut *out, &RegionResolution::from(r))?;
        out.write_all(b"\n")?;
        Ok(())
    };
    if args.stdin {
        let started = Instant::now();
        let mut count = 0u64;
        for line in std::io::stdin().lock().lines() {
            let line = line.context("cannot read standard input")?;
            emit(resolver.resolve(&line), &mut out)?;
            count += 1;
        }
        out.flush()?;
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "resolved {count} addresses in {secs:.3} s ({:.0} addresses/s)",
            count as f64 / secs.max(1e-9)
        );
    } else if args.province.is_some() || args.city.is_some() || args.district.is_some() {
        let r = resolver.resolve_parts(
            args.province.as_deref().unwrap_or(""),
            args.city.as_deref().unwrap_or(""),
            args.district.as_deref().unwrap_or(""),
        );
        emit(r, &mut out)?;
    } else if args.addresses.is_empty() {
        bail!("give one or more addresses, --stdin, or --province/--city/--district");
    } else {
        for a in &args.addresses {
            emit(resolver.resolve(a), &mut out)?;
        }
    }
    out.flush()?;
    Ok(())
}
