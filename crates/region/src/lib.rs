//! Chinese administrative divisions (GB/T 2260) and address resolution.
//!
//! No I/O and no async: the division table and the name tables are embedded at build
//! time. [`resolve`] turns a free-text address into a county code; [`resolve_parts`]
//! does the same for structured province / city / district fields. Both report the
//! level reached and never fall back silently to a default: when nothing matches, the
//! [`Resolution`] says so and the caller decides.
//!
//! Names come from the embedded division table (GB/T 2260, vintage [`VINTAGE`]), rule-made
//! short names, and the tables in `data/` built by `scripts/build_names.py` from registry
//! packages (aliases, legacy names with their successors, development zones, township
//! names; sources and licences in the repository's NOTICE).
//!
//! ```
//! let r = region::resolve("上海市浦东新区东明路街道三林路15号");
//! assert_eq!(r.code.map(|c| c.to_string()).as_deref(), Some("310115"));
//! assert_eq!(r.level, region::Level::County);
//! assert!(region::resolve("合作共赢").code.is_none());
//! ```

pub mod division;
mod index;
mod normalize;
mod resolve;
mod trie;

pub use division::{
    Division, DivisionCode, DivisionLevel, ParseCodeError, VINTAGE, division, divisions,
    stock_regions,
};
pub use index::NameKind;
pub use resolve::{
    CityFallback, ConfigError, DEFAULT_PRIORS, Field, Level, Resolution, Resolver, ResolverConfig,
    Span, name_of, resolve, resolve_parts,
};
