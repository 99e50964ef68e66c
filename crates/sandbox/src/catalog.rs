//! The platform's product catalog: deterministic generation from a seed, and churn.
//!
//! Everything here is integer arithmetic over [`Rng`], so one seed gives the same
//! catalog on every machine and every version that keeps these tables.

use std::collections::{BTreeMap, HashSet};

use crate::money::Money;
use crate::rng::Rng;

/// Why a product cannot be ordered (`noSalesReason`); the first is the vendor's usual one.
const NO_SALES_REASONS: &[&str] = &["商品暂不可采", "已停产", "暂停供货"];
const NO_SALES_WEIGHTS: &[u64] = &[60, 30, 10];

/// The rebate types the vendor names under `stockRebatePolicy` when it is a string.
const REBATE_TYPES: &[&str] = &["COM", "FHQ", "BF", "DTDBF"];

/// The image host: a reserved `.invalid` name, so nothing ever fetches from it.
pub(crate) const IMAGE_HOST: &str = "https://img.haier-sandbox.invalid";

/// Brands, with the factor applied to a group's base price.
const BRANDS: &[(&str, u64)] = &[("海尔", 100), ("卡萨帝", 230), ("统帅", 75)];

/// One kind of appliance: its product group (`productGroupNamd`), its share of the
/// catalog, the supply price range in yuan for the 海尔 brand, the first letter of its
/// product codes, which brands sell it (weights over [`BRANDS`]) and its model names.
struct Kind {
    group: &'static str,
    weight: u64,
    price: (u64, u64),
    code_letter: u8,
    brand_weights: [u64; 3],
    model: fn(&mut Rng, &str) -> String,
}

const KINDS: &[Kind] = &[
    Kind {
        group: "冰箱",
        weight: 22,
        price: (1300, 8200),
        code_letter: b'B',
        brand_weights: [70, 15, 15],
        model: fridge_model,
    },
    Kind {
        group: "洗衣机",
        weight: 20,
        price: (900, 6200),
        code_letter: b'C',
        brand_weights: [70, 15, 15],
        model: washer_model,
    },
    Kind {
        group: "空调",
        weight: 16,
        price: (1800, 7400),
        code_letter: b'A',
        brand_weights: [75, 10, 15],
        model: aircon_model,
    },
    Kind {
        group: "热水器",
        weight: 12,
        price: (500, 3400),
        code_letter: b'G',
        brand_weights: [75, 10, 15],
        model: heater_model,
    },
    Kind {
        group: "厨电",
        weight: 14,
        price: (500, 5800),
        code_letter: b'J',
        brand_weights: [75, 15, 10],
        model: kitchen_model,
    },
    Kind {
        group: "冷柜",
        weight: 6,
        price: (800, 3600),
        code_letter: b'D',
        brand_weights: [80, 0, 20],
        model: freezer_model,
    },
    Kind {
        group: "电视",
        weight: 6,
        price: (1000, 8800),
        code_letter: b'T',
        brand_weights: [60, 0, 40],
        model: tv_model,
    },
    Kind {
        group: "净水器",
        weight: 4,
        price: (700, 4400),
        code_letter: b'K',
        brand_weights: [85, 0, 15],
        model: purifier_model,
    },
];

fn fridge_model(r: &mut Rng, brand: &str) -> String {
    let cap = r.pick(&[
        205, 216, 258, 272, 300, 310, 335, 406, 425, 470, 500, 510, 535, 550, 575, 601, 618, 650,
    ]);
    let series = if brand == "卡萨帝" {
        r.pick(&["LCTS9GQ", "LCTS90", "GCFDM7", "LCM7DBU"])
    } else {
        r.pick(&[
            "GHTDE9S9", "GHSS95B9", "DEDB9", "GHFD59BS", "STPT", "DPD", "GHC4R9S6", "GHTD79G9",
            "GHFA9BSU", "DCD",
        ])
    };
    let cooling = if r.chance(850) { "W" } else { "" };
    let suffix = r.pick(&["U1", "U1", "", "TU1"]);
    format!("BCD-{cap}{cooling}{series}{suffix}")
}

fn washer_model(r: &mut Rng, brand: &str) -> String {
    let cap = r.pick(&[80, 90, 100, 120]);
    match brand {
        "卡萨帝" => format!("C1 D{cap}W{}ELU1", r.range(1, 9)),
        "统帅" => format!("TQG{cap}-B{}", r.range(1001, 1299)),
        _ => match r.below(4) {
            0 => format!(
                "EG{cap}{}{}{}",
                r.pick(&["MATE", "PRO", "BD", "HB"]),
                r.range(10, 89),
                r.pick(&["S", "W", "GU1", "BU1"])
            ),
            1 => format!(
                "XQB{cap}-{}{}",
                r.pick(&["Z", "M", "BZ"]),
                r.range(106, 899)
            ),
            2 => format!("EG{cap}{}HB{}GU1", r.range(10, 19), r.range(30, 69)),
            _ => format!("GBN{cap}-{}", r.range(600, 699)),
        },
    }
}

fn aircon_model(r: &mut Rng, brand: &str) -> String {
    if r.chance(700) {
        let cap = r.pick(&[26, 35, 50]);
        let series = if brand == "卡萨帝" {
            r.pick(&["A1HAA81", "B1HCA81"])
        } else {
            r.pick(&[
                "B1KTA81", "05EDS81", "06KHA83", "20MCA81", "A1KGA81", "07EDS83",
            ])
        };
        format!("KFR-{cap}GW/{series}U1")
    } else {
        let cap = r.pick(&[50, 72]);
        let series = r.pick(&["81@U1-Ub", "07EDS81U1", "28MCA81U1", "A1KBB81U1"]);
        format!("KFR-{cap}LW/{series}")
    }
}

fn heater_model(r: &mut Rng, _brand: &str) -> String {
    match r.below(3) {
        0 => format!(
            "EC{}0{}-{}",
            r.pick(&[50, 60, 80]),
            r.range(1, 9),
            r.pick(&["HT3", "MC3", "GA", "JT3", "PA5", "TK1"])
        ),
        1 => format!(
            "ES{}H-{}{}",
            r.pick(&[50, 60, 80]),
            r.pick(&["GD", "MJ", "LP"]),
            r.range(3, 9)
        ),
        _ => format!(
            "JSQ{}-{}{}(12T)",
            r.pick(&[25, 30, 31]),
            r.pick(&[13, 16]),
            r.pick(&["WN5S", "UTS", "KL3", "WD5"])
        ),
    }
}

fn kitchen_model(r: &mut Rng, _brand: &str) -> String {
    match r.below(4) {
        0 => format!(
            "CXW-{}-{}",
            r.pick(&[200, 219, 238, 260]),
            r.pick(&["E900C2S", "C6(Y)", "ET902", "EC900", "E900T6"])
        ),
        1 => format!(
            "{}-{}({})",
            r.pick(&["JZT", "JZY"]),
            r.pick(&["Q2BE", "QE5B0", "Q63BE", "Q2BE5"]),
            r.pick(&["12T", "20Y"])
        ),
        2 => format!(
            "{}{}-{}",
            r.pick(&["ZQD", "ZTD"]),
            r.pick(&[90, 100, 110]),
            r.pick(&["E60S1", "12LCS", "E60"])
        ),
        _ => format!(
            "EYW{}{}{}",
            r.pick(&[13, 15]),
            r.range(21, 39),
            r.pick(&["CS", "BK", "W"])
        ),
    }
}

fn freezer_model(r: &mut Rng, _brand: &str) -> String {
    format!(
        "BC/BD-{}{}",
        r.pick(&[145, 200, 220, 318, 429, 519]),
        r.pick(&["HTD", "HD", "GHZ", "HCZ", "GHDT"])
    )
}

fn tv_model(r: &mut Rng, brand: &str) -> String {
    let size = r.pick(&[32, 43, 50, 55, 65, 75, 85]);
    if brand == "统帅" {
        format!("LE{size}A{}", r.pick(&[31, 51, 71]))
    } else if r.chance(500) {
        format!("LU{size}{}", r.pick(&["C51", "X5", "J71", "H31"]))
    } else {
        format!("{size}R{}", r.range(3, 9))
    }
}

fn purifier_model(r: &mut Rng, _brand: &str) -> String {
    if r.chance(500) {
        format!(
            "HRO{}H{}-{}U1",
            r.pick(&[4, 6, 10]),
            r.pick(&[66, 88, 98]),
            r.range(2, 3)
        )
    } else {
        format!(
            "HKC{}-R{}D2U1",
            r.pick(&[1800, 2400, 3000]),
            r.pick(&[793, 896, 591])
        )
    }
}

/// `stockRebatePolicy`: the vendor lists it once as a decimal direct discount and once as
/// a rebate type; the platform answers with one or the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RebatePolicy {
    /// A direct discount rate in hundredths (`Money(3)` is `0.03`); zero if none.
    Direct(Money),
    /// A rebate type (COM, FHQ, BF, DTDBF); the discount is then zero.
    Type(&'static str),
}

/// The prices behind H2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pricing {
    /// `supplyPrice`.
    pub(crate) supply: Money,
    /// `rebateMoney`: the per-unit rebate, zero if none.
    pub(crate) rebate: Money,
    /// `stockRebatePolicy`.
    pub(crate) policy: RebatePolicy,
}

impl Pricing {
    /// `invoicePrice` = supply × (1 − direct discount) − rebate, rounded half up to fen.
    pub(crate) fn invoice(&self) -> Money {
        let discount = match self.policy {
            RebatePolicy::Direct(d) => d.0,
            RebatePolicy::Type(_) => 0,
        };
        let discounted = (self.supply.0 * (100 - discount) + 50).div_euclid(100);
        Money(discounted - self.rebate.0)
    }
}

/// One product as the platform knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Product {
    /// `productCode`: nine upper-case alphanumerics, unique forever.
    pub(crate) code: String,
    /// `productModel`.
    pub(crate) model: String,
    /// `productGroupNamd`.
    pub(crate) group: &'static str,
    /// `productBrandName`.
    pub(crate) brand: &'static str,
    /// `productImageUrl`.
    pub(crate) image_url: String,
    /// `productLageUrls`.
    pub(crate) page_urls: Vec<String>,
    /// `None` if procurable (`isSales` "1"), else the `noSalesReason`.
    pub(crate) no_sales_reason: Option<&'static str>,
    /// The prices; `None` while the price is not effective ("价格未生效"). Kept while
    /// the product is not procurable, but then not shown.
    pub(crate) pricing: Option<Pricing>,
}

impl Product {
    /// `isSales == "1"`.
    pub(crate) fn procurable(&self) -> bool {
        self.no_sales_reason.is_none()
    }
}

/// One change made by [`Catalog::churn`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ChangeKind {
    /// The supply price (and so the invoice price) changed.
    Price,
    /// `isSales` flipped.
    Procurability,
    /// A new product appeared.
    Added,
    /// The product disappeared from the platform.
    Removed,
}

/// The catalog, keyed and ordered by product code.
#[derive(Debug)]
pub(crate) struct Catalog {
    products: BTreeMap<String, Product>,
    /// Every code ever handed out, so a removed product's code is never reused.
    issued: HashSet<String>,
    /// Draws for generation and churn, continued across churns.
    rng: Rng,
}

const CODE_ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const LETTERS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";

impl Catalog {
    /// The catalog of `count` products for `seed`.
    pub(crate) fn generate(seed: u64, count: usize) -> Self {
        let mut catalog = Catalog {
            products: BTreeMap::new(),
            issued: HashSet::with_capacity(count),
            rng: Rng::new(seed, 0xCA7A_1065),
        };
        for _ in 0..count {
            let p = catalog.new_product(true);
            catalog.products.insert(p.code.clone(), p);
        }
        catalog
    }

    /// The products, ordered by code.
    pub(crate) fn products(&self) -> impl Iterator<Item = &Product> {
        self.products.values()
    }

    /// Drops `code` from the catalog (the platform stops carrying it); whether it was
    /// there.
    pub(crate) fn remove(&mut self, code: &str) -> bool {
        self.products.remove(code).is_some()
    }

    /// The product with this code, if the platform knows it.
    pub(crate) fn get(&self, code: &str) -> Option<&Product> {
        self.products.get(code)
    }

    /// How many products the platform knows.
    pub(crate) fn len(&self) -> usize {
        self.products.len()
    }

    fn new_code(&mut self, letter: u8) -> String {
        loop {
            let mut code = Vec::with_capacity(9);
            code.push(letter);
            code.push(*self.rng.pick(LETTERS));
            code.push(b'0' + self.rng.below(10) as u8);
            for _ in 0..6 {
                // The vendor's codes are rich in zeros ("GA0SZC00U", "BS01U000N").
                let c = if self.rng.chance(300) {
                    b'0'
                } else {
                    *self.rng.pick(CODE_ALPHABET)
                };
                code.push(c);
            }
            let code = String::from_utf8_lossy(&code).into_owned();
            if self.issued.insert(code.clone()) {
                return code;
            }
        }
    }

    fn new_pricing(&mut self, kind: &Kind, brand_factor: u64) -> Pricing {
        let r = &mut self.rng;
        let base = r.range(kind.price.0, kind.price.1) * brand_factor / 100;
        let cents = if r.chance(150) { 50 } else { 0 };
        let supply = Money(base as i64 * 100 + cents);
        let rebate_choices = [20, 30, 50, 80, 100, 150, 200, 300];
        let rebate = |r: &mut Rng| {
            let y = *r.pick(&rebate_choices);
            // A rebate stays within a tenth of the price, in whole tens of yuan.
            Money::yuan(y.min((base / 100 * 10).max(10) as i64))
        };
        let (policy, rebate) = if r.chance(80) {
            {
                let rebate_type = *r.pick::<&'static str>(REBATE_TYPES);
                (RebatePolicy::Type(rebate_type), rebate(r))
            }
        } else {
            let discount = if r.chance(600) {
                0
            } else {
                r.range(1, 8) as i64
            };
            let rebate = if r.chance(350) { rebate(r) } else { Money(0) };
            (RebatePolicy::Direct(Money(discount)), rebate)
        };
        Pricing {
            supply,
            rebate,
            policy,
        }
    }

    /// A fresh product. At generation a few percent are not procurable and a few
    /// procurable ones have no effective price; products added by churn are procurable.
    fn new_product(&mut self, initial: bool) -> Product {
        let weights: Vec<u64> = KINDS.iter().map(|k| k.weight).collect();
        let kind = &KINDS[self.rng.weighted(&weights)];
        let (brand, factor) = BRANDS[self.rng.weighted(&kind.brand_weights)];
        let model = (kind.model)(&mut self.rng, brand);
        let code = self.new_code(kind.code_letter);
        let image_url = format!("{IMAGE_HOST}/goods/{code}/main.jpg");
        let pages = self.rng.range(1, 4);
        let page_urls = (1..=pages)
            .map(|i| format!("{IMAGE_HOST}/goods/{code}/detail-{i}.jpg"))
            .collect();
        let no_sales_reason = if initial && self.rng.chance(40) {
            Some(NO_SALES_REASONS[self.rng.weighted(NO_SALES_WEIGHTS)])
        } else {
            None
        };
        let pricing = self.new_pricing(kind, factor);
        let pricing = if initial && self.rng.chance(20) {
            None
        } else {
            Some(pricing)
        };
        Product {
            code,
            model,
            group: kind.group,
            brand,
            image_url,
            page_urls,
            no_sales_reason,
            pricing,
        }
    }

    fn change_price(&mut self, code: &str) {
        let Some(product) = self.products.get(code) else {
            return;
        };
        let (kind, factor) = kind_of(product);
        let new = match product.pricing {
            Some(old) => {
                let pct = self.rng.range(3, 15) as i64;
                let up = self.rng.chance(450);
                let delta = (old.supply.0 * pct / 100 / 100).max(1) * 100;
                let supply = if up || old.supply.0 - delta <= 100 {
                    Money(old.supply.0 + delta)
                } else {
                    Money(old.supply.0 - delta)
                };
                let rebate = Money(old.rebate.0.min(supply.0 / 10_000 * 1000));
                Pricing {
                    supply,
                    rebate,
                    ..old
                }
            }
            None => self.new_pricing(kind, factor),
        };
        if let Some(p) = self.products.get_mut(code) {
            p.pricing = Some(new);
        }
    }

    fn flip_procurability(&mut self, code: &str) {
        let reason = NO_SALES_REASONS[self.rng.weighted(NO_SALES_WEIGHTS)];
        if let Some(p) = self.products.get_mut(code) {
            p.no_sales_reason = match p.no_sales_reason {
                Some(_) => None,
                None => Some(reason),
            };
        }
    }

    /// Changes `count` distinct products at random and says what changed. Price changes
    /// go to procurable products (so that H2 shows them); when no product is left to
    /// change, the rest are additions.
    pub(crate) fn churn(&mut self, count: usize) -> Vec<(String, ChangeKind)> {
        let mut candidates: Vec<String> = self.products.keys().cloned().collect();
        let mut changed = Vec::with_capacity(count);
        for _ in 0..count {
            let mut kind = match self.rng.weighted(&[45, 25, 15, 15]) {
                0 => ChangeKind::Price,
                1 => ChangeKind::Procurability,
                2 => ChangeKind::Added,
                _ => ChangeKind::Removed,
            };
            if candidates.is_empty() {
                kind = ChangeKind::Added;
            }
            if kind == ChangeKind::Added {
                let p = self.new_product(false);
                changed.push((p.code.clone(), kind));
                self.products.insert(p.code.clone(), p);
                continue;
            }
            let i = self.rng.below(candidates.len() as u64) as usize;
            let code = candidates.swap_remove(i);
            let procurable = self.products.get(&code).is_some_and(Product::procurable);
            if kind == ChangeKind::Price && !procurable {
                kind = ChangeKind::Procurability;
            }
            match kind {
                ChangeKind::Price => self.change_price(&code),
                ChangeKind::Procurability => self.flip_procurability(&code),
                ChangeKind::Removed => {
                    self.products.remove(&code);
                }
                ChangeKind::Added => {}
            }
            changed.push((code, kind));
        }
        changed
    }
}

/// The kind and brand price factor of an existing product.
fn kind_of(p: &Product) -> (&'static Kind, u64) {
    let kind = KINDS
        .iter()
        .find(|k| k.group == p.group)
        .unwrap_or(&KINDS[0]);
    let factor = BRANDS
        .iter()
        .find(|(b, _)| *b == p.brand)
        .map_or(100, |(_, f)| *f);
    (kind, factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_nine_unique_upper_alphanumerics() {
        let c = Catalog::generate(1, 5000);
        assert_eq!(c.len(), 5000);
        for p in c.products() {
            assert_eq!(p.code.len(), 9, "{}", p.code);
            assert!(
                p.code
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
            );
            assert!((1..=4).contains(&p.page_urls.len()));
            assert!(p.image_url.starts_with("https://") && p.image_url.contains(".invalid/"));
        }
    }

    #[test]
    fn mix_of_procurability_prices_and_policies() {
        let c = Catalog::generate(1, 5000);
        let not_sales = c.products().filter(|p| !p.procurable()).count();
        assert!((50..=400).contains(&not_sales), "{not_sales}");
        let no_price = c.products().filter(|p| p.pricing.is_none()).count();
        assert!((20..=250).contains(&no_price), "{no_price}");
        let typed = c
            .products()
            .filter(|p| {
                matches!(
                    p.pricing,
                    Some(Pricing {
                        policy: RebatePolicy::Type(_),
                        ..
                    })
                )
            })
            .count();
        assert!((100..=800).contains(&typed), "{typed}");
        for p in c.products() {
            if let Some(pr) = p.pricing {
                assert!(pr.supply.0 > 0 && pr.invoice().0 > 0, "{p:?}");
                assert!(pr.invoice() <= pr.supply);
            }
        }
        for group in [
            "冰箱",
            "洗衣机",
            "空调",
            "热水器",
            "厨电",
            "冷柜",
            "电视",
            "净水器",
        ] {
            assert!(c.products().any(|p| p.group == group), "{group}");
        }
    }

    #[test]
    fn invoice_applies_discount_then_rebate() {
        let p = Pricing {
            supply: Money(283_600),
            rebate: Money(5_000),
            policy: RebatePolicy::Direct(Money(3)),
        };
        // 2836.00 × 0.97 = 2750.92, minus 50.00.
        assert_eq!(p.invoice(), Money(270_092));
        let t = Pricing {
            policy: RebatePolicy::Type("FHQ"),
            ..p
        };
        assert_eq!(t.invoice(), Money(278_600));
    }

    #[test]
    fn the_generator_is_pinned() {
        // Changing these values changes every seed's catalog: a deliberate, visible act.
        let c = Catalog::generate(1, 3);
        let firsts: Vec<(&str, &str)> = c
            .products()
            .map(|p| (p.code.as_str(), p.model.as_str()))
            .collect();
        assert_eq!(firsts, PINNED);
        let c = Catalog::generate(1, 5000);
        let mut text = String::new();
        for p in c.products() {
            let pr = p.pricing.map(|pr| (pr.supply, pr.rebate, pr.policy));
            text += &format!(
                "{}|{}|{}|{}|{:?}|{:?}|{:?}\n",
                p.code,
                p.model,
                p.group,
                p.brand,
                p.no_sales_reason,
                pr,
                p.page_urls.len()
            );
        }
        assert_eq!(
            crate::rng::fnv1a(text.as_bytes()),
            3_385_982_323_696_818_678
        );
    }

    const PINNED: [(&str, &str); 3] = [
        ("BH600DQDX", "BCD-406WDPDU1"),
        ("BL4BUE7AN", "BCD-500WLCM7DBU"),
        ("BR0V00S00", "BCD-500WGHFD59BSU1"),
    ];

    #[test]
    fn churn_touches_distinct_products() {
        let mut c = Catalog::generate(9, 200);
        let before: BTreeMap<String, Product> = c.products.clone();
        let changed = c.churn(150);
        assert_eq!(changed.len(), 150);
        let codes: HashSet<&String> = changed.iter().map(|(c, _)| c).collect();
        assert_eq!(codes.len(), 150);
        for (code, kind) in &changed {
            let (old, new) = (before.get(code), c.get(code));
            match kind {
                ChangeKind::Added => assert!(old.is_none() && new.is_some()),
                ChangeKind::Removed => assert!(old.is_some() && new.is_none()),
                ChangeKind::Procurability => {
                    assert_ne!(old.map(Product::procurable), new.map(Product::procurable))
                }
                ChangeKind::Price => assert_ne!(
                    old.and_then(|p| p.pricing).map(|p| p.supply),
                    new.and_then(|p| p.pricing).map(|p| p.supply)
                ),
            }
        }
        let untouched = before.keys().filter(|k| !codes.contains(k));
        for k in untouched {
            assert_eq!(before.get(k), c.get(k));
        }
    }
}
