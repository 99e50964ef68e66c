//! Address → county code.
//!
//! 1. Normalise (NFKC per character, whitespace removed, origins kept).
//! 2. Find every mention of every name with the character trie; drop mentions that
//!    lie inside a longer, uncontested one (`科尔沁` inside `科尔沁左翼后旗`).
//! 3. Score each meaning of each mention: full names over aliases over short names over
//!    townships; short names directly followed by a road or building word (`山西北路`,
//!    `吉林大学`) or standing in text with no address evidence (`洛阳纸贵`) are dropped;
//!    ordinary-word short names (`合作`) count only next to a consistent parent.
//! 4. Pick the best chain province ⊃ city ⊃ county ⊃ township: every meaning is tried as
//!    the deepest link and joined with the best mentions of its own ancestors.
//! 5. Ties are broken by the configured priors, then by the higher level, then by the
//!    ancestor all candidates share, and the result is marked ambiguous. A strong
//!    mention that contradicts the answer marks it as a conflict.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use crate::division::{DivisionCode, DivisionLevel, division};
use crate::index::{Index, NEEDS_SUPPORT, NameKind, Target, Tier};
use crate::normalize::{Normalized, Unit, is_cut};

static INDEX: LazyLock<Index> = LazyLock::new(Index::build);
static DEFAULT: LazyLock<Resolver> = LazyLock::new(Resolver::default);

/// The level an answer reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// A stock-region code: a county-level division, or one of the four prefectures
    /// without counties (东莞 441900, 中山 442000, 儋州 460400, 嘉峪关 620200).
    County,
    /// A prefecture-level city (or a municipality's city fallback, e.g. `110100`).
    City,
    /// A province only (when [`ResolverConfig::allow_province`] is on).
    Province,
    /// Nothing usable: the caller decides (its configured default, or an error).
    None,
}

/// Which input a span points into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// The free-text address given to [`Resolver::resolve`].
    Text,
    /// The province field of [`Resolver::resolve_parts`].
    Province,
    /// The city field of [`Resolver::resolve_parts`].
    City,
    /// The district field of [`Resolver::resolve_parts`].
    District,
}

/// One matched piece of the input that the answer rests on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Span {
    /// The input it lies in.
    pub field: Field,
    /// Byte offset of the first matched character in the original input field.
    pub start: usize,
    /// Byte offset just past the last matched character in the original input field.
    pub end: usize,
    /// The name as matched, after normalisation (`北京市` for an input `北 京 市`);
    /// the original text is `&input[start..end]`.
    pub text: &'static str,
    /// The division this mention was read as (a township's county; a zone's city;
    /// a legacy name's successor).
    pub code: DivisionCode,
    /// The official name of that division.
    pub name: &'static str,
    /// How the text names it.
    pub kind: NameKind,
}

/// The answer for one address. Never a silent default: when nothing matched,
/// `code` is `None` and `level` is [`Level::None`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resolution {
    /// The code reached: a county (or county-less prefecture), a city, or a province;
    /// `None` when nothing usable matched or the candidates share no ancestor.
    pub code: Option<DivisionCode>,
    /// The level of `code`.
    pub level: Level,
    /// The province's official name, when known.
    pub province: Option<&'static str>,
    /// The city's official name, when known (a municipality's own name for its
    /// districts; `None` for province-direct county units).
    pub city: Option<&'static str>,
    /// The county's official name, when the answer is at county level.
    pub county: Option<&'static str>,
    /// The city code by the configured fallbacks (a prefecture; for municipalities
    /// `xx0100` or the province; for province-direct units the province or `xx9000`).
    pub city_code: Option<DivisionCode>,
    /// True when several divisions fitted equally well and a prior, the higher level
    /// or a shared ancestor decided (or nothing could).
    pub ambiguous: bool,
    /// True when the text also names a division that contradicts the answer
    /// (`广东省雁塔区`): a case for review, not a silent fix.
    pub conflict: bool,
    /// The mentions the answer rests on, in text order.
    pub spans: Vec<Span>,
}

impl Resolution {
    fn none() -> Resolution {
        Resolution {
            code: None,
            level: Level::None,
            province: None,
            city: None,
            county: None,
            city_code: None,
            ambiguous: false,
            conflict: false,
            spans: Vec::new(),
        }
    }
}

/// Which code stands for the city of a county that has no prefecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CityFallback {
    /// The NBS pseudo-city: `xx0100` for municipalities, `xx9000` for province-direct
    /// county units.
    Pseudo,
    /// The province code.
    Province,
}

/// Settings of a [`Resolver`]; every field has a default, so an empty table works.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResolverConfig {
    /// Preferred code for a bare ambiguous name (`朝阳区` → `110105`), keyed by the
    /// name as written. Replaces the built-in table when given.
    pub priors: BTreeMap<String, DivisionCode>,
    /// City code for the districts of 北京, 天津, 上海, 重庆: `pseudo` (110100…, the
    /// default) or `province` (110000…).
    pub municipality_city: CityFallback,
    /// City code for province-direct county units (仙桃 429004, 石河子 659001…):
    /// `province` (the default) or `pseudo` (429000…).
    pub direct_county_city: CityFallback,
    /// Whether a province-only answer is returned (default true); when false such an
    /// answer has level [`Level::None`] and no code, but keeps the province name.
    pub allow_province: bool,
}

/// The built-in priors: for a bare county name shared by several counties, the one
/// with the larger population (7th census, 2020), plus 江干区 (split in 2021) → 上城区.
/// Names with no clear leader (`城区`, `郊区`) have none and stay ambiguous.
pub const DEFAULT_PRIORS: [(&str, u32); 19] = [
    ("朝阳区", 110105),
    ("通州区", 110112),
    ("西湖区", 330106),
    ("普陀区", 310107),
    ("宝山区", 310113),
    ("江北区", 500105),
    ("南山区", 440305),
    ("鼓楼区", 320106),
    ("市中区", 370103),
    ("新华区", 130105),
    ("铁西区", 210106),
    ("和平区", 210102),
    ("长安区", 610116),
    ("白云区", 440111),
    ("青山区", 420107),
    ("龙华区", 440309),
    ("桥西区", 130104),
    ("江干区", 330102),
    ("永定区", 430802),
];

impl Default for ResolverConfig {
    fn default() -> Self {
        ResolverConfig {
            priors: DEFAULT_PRIORS
                .iter()
                .map(|&(n, c)| (n.to_owned(), DivisionCode::from_u32(c)))
                .collect(),
            municipality_city: CityFallback::Pseudo,
            direct_county_city: CityFallback::Province,
            allow_province: true,
        }
    }
}

/// Why a [`ResolverConfig`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A prior names a code that is not in the embedded table.
    #[error("prior {name:?}: {code} is not a division in the {vintage} table")]
    UnknownPrior {
        /// The prior's key.
        name: String,
        /// The unknown code.
        code: DivisionCode,
        /// The table's vintage.
        vintage: &'static str,
    },
}

/// Turns addresses into GB/T 2260 codes. Build once and share: resolving takes `&self`
/// and allocates only the answer and a few small buffers.
#[derive(Debug, Clone)]
pub struct Resolver {
    config: ResolverConfig,
    priors: Vec<(Vec<char>, u16)>,
}

impl Default for Resolver {
    /// The resolver with [`ResolverConfig::default`].
    fn default() -> Self {
        Resolver::new(ResolverConfig::default())
            .unwrap_or_else(|e| unreachable!("the built-in priors are valid: {e}"))
    }
}

/// A mention of a pattern: characters `s..e` of the normalised text.
#[derive(Debug, Clone, Copy)]
struct Mention {
    s: u32,
    e: u32,
    pat: u32,
    seg: u16,
    whole_field: bool,
    /// The pattern's length in characters, strength and number of meanings.
    chars: u8,
    strong: bool,
    n_targets: u16,
    /// The meaning when there is only one, packed ([`Target::pack`]).
    single: u32,
}

impl Mention {
    /// The meanings of the mentioned pattern (a single one unpacked into `single`).
    fn targets<'a>(&self, index: &'a Index, single: &'a mut Option<Target>) -> &'a [Target] {
        if self.n_targets == 1 {
            std::slice::from_ref(single.insert(Target::unpack(self.single)))
        } else {
            index.targets(&index.patterns[self.pat as usize])
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Item {
    m: u16,
    node: u16,
    tier: Tier,
    kind: NameKind,
    score: i32,
    needs_support: bool,
}

/// A candidate answer with the items of its chain (by tier).
type Chain = (u16, [u16; 4]);

/// No item at this tier of a chain.
const NONE: u16 = u16::MAX;

/// Buffers reused between calls on one thread.
#[derive(Default)]
struct Scratch {
    norm: Normalized,
    mentions: Vec<Mention>,
    kept: Vec<Mention>,
    items: Vec<Item>,
    best: Vec<Chain>,
    /// Per mention: [`CONTESTED`], [`INSIDE`].
    flags: Vec<u8>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Runs `f` with this thread's scratch buffers (fresh ones if they are in use).
fn with_scratch<T>(f: impl FnOnce(&mut Scratch) -> T) -> T {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut s) => f(&mut s),
        Err(_) => f(&mut Scratch::default()),
    })
}

const AGREE: i32 = 25;
/// A name with more meanings than this is read only next to an ancestor.
const WIDE: usize = 8;
const MAX_MENTIONS: usize = 256;
const MAX_ITEMS: usize = 512;
const MUNICIPALITIES: [u32; 4] = [110000, 120000, 310000, 500000];
const PLACEHOLDERS: [&str; 9] = [
    "市辖区",
    "县",
    "省直辖县级行政区划",
    "自治区直辖县级行政区划",
    "省直辖行政单位",
    "直辖县级",
    "市辖县",
    "其他",
    "其它",
];

/// Characters that close a name: a short name followed by one of these is a name.
fn is_closer(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            ',' | '.'
                | ';'
                | ':'
                | '('
                | ')'
                | '['
                | ']'
                | '-'
                | '#'
                | '/'
                | '_'
                | '~'
                | '省'
                | '市'
                | '区'
                | '县'
                | '州'
                | '旗'
                | '盟'
                | '镇'
                | '乡'
                | '村'
                | '路'
                | '街'
                | '道'
                | '巷'
                | '弄'
                | '号'
                | '楼'
                | '栋'
                | '室'
        )
}

/// True if the text looks like an address at all: a digit, or a street, building or
/// village word.
fn has_evidence(text: &[Unit]) -> bool {
    text.iter().enumerate().any(|(i, u)| {
        let c = u.c;
        c.is_ascii_digit()
            || matches!(
                c,
                '路' | '街' | '巷' | '号' | '楼' | '栋' | '室' | '村' | '镇' | '乡' | '厦' | '碑'
            )
            || matches!(
                (c, text.get(i + 1).map(|u| u.c)),
                ('大' | '小', Some('学' | '区'))
                    | ('学', Some('院'))
                    | ('医', Some('院'))
                    | ('公', Some('司'))
                    | ('广', Some('场'))
                    | ('中', Some('心'))
                    | ('社', Some('区'))
                    | ('花', Some('园'))
                    | ('园', Some('区'))
                    | ('工', Some('业'))
                    | ('新' | '经' | '城', Some('区'))
                    | ('开', Some('发'))
                    | ('市', Some('场'))
                    | ('商', Some('场' | '城'))
            )
    })
}

/// True if the next characters (`'\0'` past the end of the text, which never holds a
/// NUL) start a road or building word (`路`, `北路`, `大学`…), the sign that the name
/// before them is part of a street or building name.
fn road_follows([a, b, c]: [char; 3]) -> bool {
    let after_direction = matches!(a, '东' | '西' | '南' | '北' | '中') && road_word([b, c]);
    after_direction || road_word([a, b])
}

/// True if a road or building word starts with these two characters.
fn road_word(cs: [char; 2]) -> bool {
    matches!(
        cs,
        ['路' | '街' | '巷' | '弄' | '道', _]
            | ['大', '道' | '街' | '路' | '厦' | '学' | '楼' | '酒']
            | ['学', '院']
            | ['广', '场']
            | ['公', '司' | '园']
            | ['花', '园']
            | ['中', '学' | '心']
            | ['小', '学' | '区']
            | ['医', '院']
            | ['宾', '馆']
            | ['酒', '店']
            | ['饭', '店']
            | ['商', '场' | '城']
            | ['银', '行']
            | ['机', '场']
            | ['市', '场']
            | ['新', '村']
    )
}

impl Resolver {
    /// A resolver with these settings. The name index is built once per process and
    /// shared, so this is cheap after the first call.
    ///
    /// # Errors
    /// [`ConfigError::UnknownPrior`] when a prior's code is not in the table.
    pub fn new(config: ResolverConfig) -> Result<Resolver, ConfigError> {
        let index = &*INDEX;
        let mut priors = Vec::with_capacity(config.priors.len());
        for (name, code) in &config.priors {
            let node =
                index
                    .by_code
                    .get(code)
                    .copied()
                    .ok_or_else(|| ConfigError::UnknownPrior {
                        name: name.clone(),
                        code: *code,
                        vintage: crate::division::VINTAGE,
                    })?;
            let mut n = Normalized::default();
            n.push_field(0, name, &index.trie);
            priors.push((n.chars(0, n.len()).collect(), node));
        }
        Ok(Resolver { config, priors })
    }

    /// The settings this resolver was built with.
    pub fn config(&self) -> &ResolverConfig {
        &self.config
    }

    /// Resolves one free-text address (any length; only the first address of a field
    /// holding several, split at `;`, `；`, `|` or a newline, is read). Never panics;
    /// the same input always gives the same answer.
    pub fn resolve(&self, address: &str) -> Resolution {
        with_scratch(|sc| {
            sc.norm.clear();
            sc.norm.push_field(0, address, &INDEX.trie);
            self.run(sc, &[])
        })
    }

    /// Resolves structured fields. Each may be empty or hold a placeholder (`市辖区`,
    /// `县`, `省直辖县级行政区划`), which is ignored; a county name in the city field is
    /// accepted. A field that is exactly a name counts as that name even when it would
    /// be too short to trust in free text. Never panics.
    pub fn resolve_parts(&self, province: &str, city: &str, district: &str) -> Resolution {
        let fields = [province, city, district];
        with_scratch(|sc| {
            sc.norm.clear();
            let mut bounds = [(0u32, 0u32); 3];
            for (i, f) in fields.iter().enumerate() {
                let before = sc.norm.len();
                sc.norm.push_field(i as u8 + 1, f, &INDEX.trie);
                let after = sc.norm.len();
                let placeholder = PLACEHOLDERS
                    .iter()
                    .any(|p| p.chars().eq(sc.norm.chars(before, after)));
                if placeholder || sc.norm.chars(before, after).any(is_cut) {
                    sc.norm.truncate(before);
                }
                bounds[i] = (before as u32, sc.norm.len() as u32);
                sc.norm.push_separator(',');
            }
            self.run(sc, &bounds)
        })
    }

    fn run(&self, sc: &mut Scratch, fields: &[(u32, u32)]) -> Resolution {
        let index = &*INDEX;
        if sc.norm.units.is_empty() {
            return Resolution::none();
        }
        find_mentions(&sc.norm, fields, &mut sc.mentions);
        if sc.mentions.is_empty() {
            return Resolution::none();
        }
        keep_outermost(&mut sc.mentions, &mut sc.flags, &mut sc.kept);
        let Scratch {
            norm,
            kept: mentions,
            items,
            best,
            ..
        } = sc;
        let text = norm.units.as_slice();
        let mentions = &*mentions;
        score_meanings(text, mentions, items);
        if items.is_empty() {
            return Resolution::none();
        }
        // Only the first segment that names anything is read (with no cut, there is
        // only one).
        if !norm.cuts.is_empty()
            && let Some(first_seg) = items.iter().map(|it| mentions[it.m as usize].seg).min()
        {
            items.retain(|it| mentions[it.m as usize].seg == first_seg);
        }
        let items = &*items;
        let unplaced_full = best_chains(items, mentions, best);
        if best.is_empty() {
            let mut r = Resolution::none();
            r.ambiguous = unplaced_full;
            return r;
        }

        // 5. Ties.
        let mut ambiguous = false;
        let (answer, chain) = if best.len() == 1 {
            (Some(best[0].0), best[0].1)
        } else {
            ambiguous = true;
            self.break_tie(best, items, mentions, norm)
        };

        // The chain's items in text order (at most four, never two on one mention, so
        // the starts differ): an insertion sort.
        let mut used_buf = [0usize; 4];
        let mut n_used = 0;
        for &c in chain.iter().filter(|&&c| c != NONE) {
            let start = |i: usize| mentions[items[i].m as usize].s;
            let mut at = n_used;
            while at > 0 && start(used_buf[at - 1]) > start(c as usize) {
                used_buf[at] = used_buf[at - 1];
                at -= 1;
            }
            used_buf[at] = c as usize;
            n_used += 1;
        }
        let used = &used_buf[..n_used];
        let overlaps = |a: u16, b: u16| {
            let (x, y) = (&mentions[a as usize], &mentions[b as usize]);
            x.s < y.e && y.s < x.e
        };
        // A conflict needs an item outside the chain (an item in it overlaps itself).
        let conflict = used.len() < items.len()
            && answer.is_some_and(|a| {
                items.iter().any(|it| {
                    matches!(it.kind, NameKind::Full | NameKind::Alias | NameKind::Legacy)
                        && !it.needs_support
                        && it.tier != Tier::Town
                        && !used.iter().any(|&u| overlaps(items[u].m, it.m))
                        && !items.iter().any(|o| {
                            o.m == it.m
                                && (index.is_ancestor_or_self(o.node, a)
                                    || index.is_ancestor_or_self(a, o.node))
                        })
                })
            });

        let mut r = self.answer(answer);
        r.ambiguous = ambiguous || answer.is_none();
        r.conflict = conflict;
        r.spans = Vec::with_capacity(used.len());
        for &u in used {
            let it = &items[u];
            let m = &mentions[it.m as usize];
            let Some((field, s, e)) = norm.original(m.s as usize, m.e as usize) else {
                continue;
            };
            let node = &index.nodes[it.node as usize];
            r.spans.push(Span {
                field: match field {
                    1 => Field::Province,
                    2 => Field::City,
                    3 => Field::District,
                    _ => Field::Text,
                },
                start: s,
                end: e,
                text: index.names.get(m.pat as usize).map_or("", |n| &**n),
                code: node.code,
                name: node.name,
                kind: it.kind,
            });
        }
        r
    }

    /// Chooses among equally good answers: a prior, else the single highest level,
    /// else the ancestor they share.
    fn break_tie(
        &self,
        best: &[Chain],
        items: &[Item],
        mentions: &[Mention],
        norm: &Normalized,
    ) -> (Option<u16>, [u16; 4]) {
        let index = &*INDEX;
        // Priors, by the text of the deepest mention.
        for (answer, chain) in best {
            let Some(&deepest) = chain.iter().rev().find(|&&c| c != NONE) else {
                continue;
            };
            let m = &mentions[items[deepest as usize].m as usize];
            for (name, node) in &self.priors {
                if name
                    .iter()
                    .copied()
                    .eq(norm.chars(m.s as usize, m.e as usize))
                    && (*node == *answer || index.is_ancestor_or_self(*answer, *node))
                {
                    return (Some(*node), *chain);
                }
            }
        }
        // The single highest level.
        let level = |a: u16| index.nodes[a as usize].level;
        let top = best.iter().map(|(a, _)| level(*a)).min();
        let at_top: Vec<_> = best
            .iter()
            .filter(|(a, _)| Some(level(*a)) == top)
            .collect();
        if let [only] = at_top.as_slice() {
            return (Some(only.0), only.1);
        }
        // The shared ancestor.
        let first = best[0].0;
        let city = index.nodes[first as usize]
            .city
            .or_else(|| (level(first) == DivisionLevel::Prefecture).then_some(first));
        let city_of = |a: u16| {
            index.nodes[a as usize]
                .city
                .or_else(|| (level(a) == DivisionLevel::Prefecture).then_some(a))
        };
        if city.is_some() && best.iter().all(|(a, _)| city_of(*a) == city) {
            return (city, [NONE; 4]);
        }
        let province = index.nodes[first as usize].province;
        if best
            .iter()
            .all(|(a, _)| index.nodes[*a as usize].province == province)
        {
            return (Some(province), [NONE; 4]);
        }
        (None, best[0].1)
    }

    /// The resolution for an answer node, with the configured fallbacks.
    fn answer(&self, answer: Option<u16>) -> Resolution {
        let index = &*INDEX;
        let Some(a) = answer else {
            return Resolution::none();
        };
        let node = &index.nodes[a as usize];
        let province = &index.nodes[node.province as usize];
        let muni = MUNICIPALITIES.contains(&province.code.get());
        let fallback_city = |direct: bool| -> DivisionCode {
            let p = province.code.get();
            let pseudo = if direct { p + 9000 } else { p + 100 };
            let mode = if direct {
                self.config.direct_county_city
            } else {
                self.config.municipality_city
            };
            match mode {
                CityFallback::Pseudo => DivisionCode::from_u32(pseudo),
                CityFallback::Province => province.code,
            }
        };
        let mut r = Resolution::none();
        r.province = Some(province.name);
        match node.level {
            DivisionLevel::County => {
                r.code = Some(node.code);
                r.level = Level::County;
                r.county = Some(node.name);
                match node.city {
                    Some(c) => {
                        let c = &index.nodes[c as usize];
                        r.city = Some(c.name);
                        r.city_code = Some(c.code);
                    }
                    None if muni => {
                        r.city = Some(province.name);
                        r.city_code = Some(fallback_city(false));
                    }
                    None => r.city_code = Some(fallback_city(true)),
                }
            }
            DivisionLevel::Prefecture => {
                r.code = Some(node.code);
                r.city = Some(node.name);
                r.city_code = Some(node.code);
                if node.leaf_city {
                    r.level = Level::County;
                    r.county = Some(node.name);
                } else {
                    r.level = Level::City;
                }
            }
            DivisionLevel::Province if muni => {
                let c = fallback_city(false);
                r.code = Some(c);
                r.level = Level::City;
                r.city = Some(province.name);
                r.city_code = Some(c);
            }
            DivisionLevel::Province => {
                if self.config.allow_province {
                    r.code = Some(node.code);
                    r.level = Level::Province;
                }
            }
        }
        r
    }
}

/// Step 1: every mention of every pattern, with the segment it lies in.
fn find_mentions(norm: &Normalized, fields: &[(u32, u32)], mentions: &mut Vec<Mention>) {
    let index = &*INDEX;
    mentions.clear();
    index.trie.find_all(
        &norm.units,
        |u| u.id,
        |s, e, pat, [meta, single]| {
            if mentions.len() < MAX_MENTIONS {
                mentions.push(Mention {
                    s: s as u32,
                    e: e as u32,
                    pat,
                    seg: 0,
                    whole_field: false,
                    chars: (meta & 0xff) as u8,
                    strong: meta & 0x100 != 0,
                    n_targets: (meta >> 16) as u16,
                    single,
                });
            }
        },
    );
    // The segment of a mention is the number of cuts before it (mentions are sorted by
    // start).
    if !norm.cuts.is_empty() {
        let mut cuts_before = 0usize;
        for m in mentions.iter_mut() {
            while norm.cuts.get(cuts_before).is_some_and(|&c| c < m.s) {
                cuts_before += 1;
            }
            m.seg = cuts_before.min(usize::from(u16::MAX)) as u16;
        }
    }
    if !fields.is_empty() {
        for m in mentions.iter_mut() {
            m.whole_field = fields.iter().any(|&(a, b)| a == m.s && b == m.e);
        }
    }
}

/// A mention partly overlaps another one (starts inside it and ends after it, or the
/// other way round).
const CONTESTED: u8 = 1;
/// A mention lies inside a longer, uncontested one.
const INSIDE: u8 = 2;

/// Step 2: the mentions not inside a longer one (`科尔沁` inside `科尔沁左翼后旗`), unless that
/// one is itself contested by a mention it only partly overlaps (`西城区` in `山西城区`
/// leaves `城区` in play).
///
/// `mentions` are sorted by start, then end (as the trie reports them), so both checks
/// look only at the run of mentions that start inside the one at hand.
fn keep_outermost(mentions: &mut Vec<Mention>, flags: &mut Vec<u8>, kept: &mut Vec<Mention>) {
    // No two mentions overlap (each starts at or after the end of the one before): all
    // are kept.
    if mentions.windows(2).all(|w| w[1].s >= w[0].e) {
        std::mem::swap(mentions, kept);
        return;
    }
    let n = mentions.len();
    flags.clear();
    flags.resize(n, 0);
    for (i, a) in mentions.iter().enumerate() {
        for (j, b) in mentions.iter().enumerate().skip(i + 1) {
            if b.s >= a.e {
                break;
            }
            if b.s > a.s && b.e > a.e {
                flags[i] |= CONTESTED;
                flags[j] |= CONTESTED;
            }
        }
    }
    for (k, b) in mentions.iter().enumerate() {
        if flags[k] & CONTESTED != 0 {
            continue;
        }
        // The mentions that start with `b` or inside it: those with the same start
        // and a shorter end come just before it.
        let mut first = k;
        while first > 0 && mentions[first - 1].s == b.s {
            first -= 1;
        }
        for (a, m) in mentions.iter().enumerate().skip(first) {
            if m.s >= b.e {
                break;
            }
            if m.e <= b.e && b.e - b.s > m.e - m.s {
                flags[a] |= INSIDE;
            }
        }
    }
    kept.clear();
    kept.extend(
        mentions
            .iter()
            .zip(flags.iter())
            .filter(|&(_, &f)| f & INSIDE == 0)
            .map(|(m, _)| *m),
    );
}

/// True if a short name at mention `m` reads as part of a street or building name
/// (`山西北路`), or stands in text with no sign of an address (`洛阳纸贵`): such a name
/// loses its score unless it is a whole field. `evidence` caches [`has_evidence`].
fn weak_reading(
    text: &[Unit],
    mentions: &[Mention],
    m: &Mention,
    evidence: &mut Option<bool>,
) -> bool {
    let rest = text.get(m.e as usize..).unwrap_or(&[]);
    // Another kept name (a strong one) starts right after it; one ends right before it.
    let followed_by_name = mentions.iter().any(|n| n.strong && n.s == m.e);
    let at = |i: usize| rest.get(i).map_or('\0', |u| u.c);
    if !followed_by_name && road_follows([at(0), at(1), at(2)]) {
        return true;
    }
    let after_name = mentions.iter().any(|n| n.e == m.s);
    // The end of the text closes a name only if the name is the whole text or follows
    // another one (`青海西宁`, but not `天下太平`).
    let closed = match rest.first() {
        None => m.s == 0 || after_name,
        Some(u) => is_closer(u.c),
    };
    !(closed
        || followed_by_name
        || after_name
        || *evidence.get_or_insert_with(|| has_evidence(text)))
}

/// The score of one meaning of a mention, or `None` when it does not count. `weak`
/// gives [`weak_reading`] for the mention, computed on first use: most meanings (full
/// names, aliases, townships) never need it.
fn score_target(t: &Target, m: &Mention, weak: &mut impl FnMut() -> bool) -> Option<i32> {
    let shortish = t.kind == NameKind::Short
        || (t.kind == NameKind::Legacy && m.chars <= 2)
        || (t.flags & NEEDS_SUPPORT != 0);
    // Administrative prefixes come first: later mentions lose a little.
    let late = (m.s / 4).min(10) as i32;
    let mut score = match t.kind {
        NameKind::Full => 30,
        NameKind::Alias => 28,
        NameKind::Legacy => 27,
        NameKind::Zone => 26,
        NameKind::Short => 20,
        NameKind::Township => 16,
    } + 3 * i32::from(m.chars)
        - late;
    if m.whole_field {
        score += 10;
    } else if shortish && weak() {
        score -= 60;
    }
    if t.tier == Tier::Province && t.kind == NameKind::Full {
        score += 10;
    }
    (score > 0).then_some(score)
}

/// Step 3: every meaning of every mention, scored. Names shared by many places (common
/// township names) are read only where the text also names one of their ancestors,
/// in a second pass that runs only when there is such a name.
fn score_meanings(text: &[Unit], mentions: &[Mention], items: &mut Vec<Item>) {
    let index = &*INDEX;
    let mut evidence: Option<bool> = None;
    items.clear();
    let mut wide = false;
    for (mi, m) in mentions.iter().enumerate() {
        let mut single = None;
        let targets = m.targets(index, &mut single);
        if targets.len() > WIDE {
            wide = true;
            continue;
        }
        let mut weak_cache = None;
        let mut weak =
            || *weak_cache.get_or_insert_with(|| weak_reading(text, mentions, m, &mut evidence));
        for t in targets {
            if items.len() >= MAX_ITEMS {
                break;
            }
            let Some(score) = score_target(t, m, &mut weak) else {
                continue;
            };
            items.push(Item {
                m: mi as u16,
                node: t.node,
                tier: t.tier,
                kind: t.kind,
                score,
                needs_support: t.flags & NEEDS_SUPPORT != 0 && !m.whole_field,
            });
        }
    }
    if !wide {
        return;
    }
    let context_end = items.len();
    for (mi, m) in mentions.iter().enumerate() {
        let mut single = None;
        let targets = m.targets(index, &mut single);
        if targets.len() <= WIDE {
            continue;
        }
        let before = items.len();
        // Only the targets under a context item: targets are sorted by node and a
        // division's descendants follow it.
        let mut ranges = [(0usize, 0usize); 4];
        let mut n_ranges = 0;
        for c in &items[..context_end] {
            if c.m == mi as u16 || c.tier == Tier::Town || n_ranges == ranges.len() {
                continue;
            }
            let (lo, hi) = (c.node, index.nodes[c.node as usize].subtree_end);
            let a = targets.partition_point(|t| t.node < lo);
            let b = targets.partition_point(|t| t.node < hi);
            if a < b && !ranges[..n_ranges].contains(&(a, b)) {
                ranges[n_ranges] = (a, b);
                n_ranges += 1;
            }
        }
        let selected = ranges[..n_ranges]
            .iter()
            .flat_map(|&(a, b)| targets.get(a..b).unwrap_or(&[]).iter());
        let mut weak_cache = None;
        let mut weak =
            || *weak_cache.get_or_insert_with(|| weak_reading(text, mentions, m, &mut evidence));
        for t in selected {
            if items.len() >= MAX_ITEMS {
                break;
            }
            if !items[..context_end]
                .iter()
                .any(|c| c.m != mi as u16 && index.is_context_for(c.node, t.node))
            {
                continue;
            }
            if items[before..].iter().any(|i| i.node == t.node) {
                continue;
            }
            let Some(score) = score_target(t, m, &mut weak) else {
                continue;
            };
            items.push(Item {
                m: mi as u16,
                node: t.node,
                tier: t.tier,
                kind: t.kind,
                score,
                needs_support: t.flags & NEEDS_SUPPORT != 0 && !m.whole_field,
            });
        }
        if items.len() - before > WIDE {
            items.truncate(before);
        }
    }
}

/// The tiers by number.
const TIERS: [Tier; 4] = [Tier::Province, Tier::City, Tier::County, Tier::Town];

/// Step 4: the best chains. Every item is tried as the deepest link and joined with the
/// best item of each of its ancestors (county, city, province) whose mention does not
/// overlap the chain's. Returns whether a full name that needs a parent had none.
fn best_chains(items: &[Item], mentions: &[Mention], best: &mut Vec<Chain>) -> bool {
    let index = &*INDEX;
    let overlaps = |a: u16, b: u16| {
        let (x, y) = (&mentions[a as usize], &mentions[b as usize]);
        x.s < y.e && y.s < x.e
    };
    // The tiers that have items at all: a chain looks for ancestors only there.
    let present = items.iter().fold(0u8, |p, it| p | 1 << it.tier as u8);
    let mut best_score = i32::MIN;
    best.clear();
    // A full name that fits several places and has no parent here (`城区`).
    let mut unplaced_full = false;
    for (xi, x) in items.iter().enumerate() {
        let mut total = x.score;
        let mut chain = [NONE; 4];
        chain[x.tier as usize] = xi as u16;
        let mut supported = false;
        // The tiers above the item's that have items, deepest first.
        let mut above = present & ((1u8 << x.tier as u8) - 1);
        while above != 0 {
            let bit = 7 - above.leading_zeros() as u8;
            above &= !(1 << bit);
            let tier = TIERS[usize::from(bit)];
            let Some(a) = index.ancestor(x.node, tier) else {
                continue;
            };
            if a == x.node && x.tier != Tier::Town {
                continue;
            }
            // The first best-scoring item of that ancestor, in text order.
            let mut pick: Option<usize> = None;
            for (yi, y) in items.iter().enumerate() {
                if y.tier != tier || y.node != a {
                    continue;
                }
                if chain.iter().any(|&c| {
                    c != NONE && (items[c as usize].m == y.m || overlaps(items[c as usize].m, y.m))
                }) {
                    continue;
                }
                if pick.is_none_or(|p| items[p].score < y.score) {
                    pick = Some(yi);
                }
            }
            if let Some(p) = pick {
                total += items[p].score + AGREE;
                chain[tier as usize] = p as u16;
                supported = true;
            }
        }
        if x.needs_support && !supported {
            unplaced_full |= x.kind == NameKind::Full;
            continue;
        }
        if total > best_score {
            best_score = total;
            best.clear();
        }
        if total == best_score && !best.iter().any(|(a, _)| *a == x.node) {
            best.push((x.node, chain));
        }
    }
    unplaced_full
}

/// [`Resolver::resolve`] on a default resolver built on first use.
pub fn resolve(address: &str) -> Resolution {
    DEFAULT.resolve(address)
}

/// [`Resolver::resolve_parts`] on a default resolver built on first use.
pub fn resolve_parts(province: &str, city: &str, district: &str) -> Resolution {
    DEFAULT.resolve_parts(province, city, district)
}

/// The division a code names, for callers holding a [`Resolution`] code (`None` for
/// fallback pseudo-codes such as `110100`).
pub fn name_of(code: DivisionCode) -> Option<&'static str> {
    division(code).map(|d| d.name)
}
