//! A character trie that finds every pattern occurrence in a short text.
//!
//! Addresses are short and the patterns are CJK names, so walking the trie from each
//! position (stopping at the first missing edge) is cheaper than a byte automaton
//! over ~50k patterns: characters map to dense ids through a table, the first step is
//! one array read, and deeper nodes have few children.
//!
//! Measured and not kept (resolve_bench, same inputs): a sorted per-first-character
//! list searched by bisection instead of the pair hash (15 % slower), a pair table
//! at a higher load (slower), screening each block of 64 starts into a bit mask
//! without branches before any lookup (fewer mispredictions, no faster).

use std::collections::HashMap;

const CJK_START: u32 = 0x4e00;
const CJK_END: u32 = 0x9fff;
const CJK_LEN: usize = (CJK_END - CJK_START + 1) as usize;

/// Size of the pair filter in bits (64 KiB: about 5 % false positives for the 24k pairs;
/// a 32 KiB filter measured 2-3 % slower overall).
const PAIR_BITS: usize = 1 << 19;

/// Payload bit (first word): the pattern is hot (laid out first).
pub(crate) const HOT: u32 = 1 << 9;

/// Header bit: a pattern ends at this node.
const TERMINAL: u32 = 1 << 31;

/// No pattern ends at this node.
const NO_PATTERN: u32 = u32::MAX;

#[derive(Debug)]
pub(crate) struct Trie {
    /// Dense id of each CJK unified ideograph (0: in no pattern).
    cjk: Box<[u16; CJK_LEN]>,
    /// Dense id of each ASCII character (0: in no pattern).
    ascii: [u16; 128],
    /// Ids of other characters found in patterns, sorted by character.
    other: Vec<(char, u16)>,
    /// Node reached from the root by each pair of character ids (one-character patterns
    /// are never reported): open addressing on `(first << 16) | second`, key 0 empty.
    pairs: Vec<(u32, u32)>,
    pair_mask: usize,
    /// A bit per hashed pair of ids that starts some pattern: most pairs in a text
    /// start none, and this answers them from a small table.
    pair_bits: Box<[u64; PAIR_BITS / 64]>,
    /// Nodes of depth two and more, each laid out with its children next to it (depth
    /// first, so a walk mostly stays in one cache line): at offset `o`, the number of
    /// children `k` (with [`TERMINAL`] set if a pattern ends there, followed then by
    /// the pattern and its two payload words), then `k` pairs (character id, child
    /// offset) sorted by id.
    arena: Vec<u32>,
}

impl Trie {
    /// Builds the trie; pattern `i` of `patterns` is reported as `i` with its two
    /// payload words, stored next to its node so a match costs no further lookup.
    pub(crate) fn build<'a>(patterns: impl IntoIterator<Item = (&'a str, [u32; 2])>) -> Trie {
        let mut t = Trie {
            cjk: Box::new([0; CJK_LEN]),
            ascii: [0; 128],
            other: Vec::new(),
            pairs: Vec::new(),
            pair_mask: 0,
            pair_bits: Box::new([0; PAIR_BITS / 64]),
            arena: Vec::new(),
        };
        let mut next_id: u16 = 1;
        // Build with a map of edges, then flatten.
        let mut children: HashMap<(u32, u16), u32> = HashMap::new();
        let mut pattern: Vec<u32> = vec![NO_PATTERN]; // node 0 is the root
        let mut other: HashMap<char, u16> = HashMap::new();
        let mut payloads: Vec<[u32; 2]> = Vec::new();
        let mut hot: Vec<bool> = vec![true];
        for (pi, (p, payload)) in patterns.into_iter().enumerate() {
            payloads.push(payload);
            let is_hot = payload[0] & HOT != 0;
            let mut node = 0u32;
            for c in p.chars() {
                let id = match c as u32 {
                    n @ CJK_START..=CJK_END => {
                        let slot = &mut t.cjk[(n - CJK_START) as usize];
                        if *slot == 0 {
                            *slot = next_id;
                            next_id = next_id.saturating_add(1);
                        }
                        *slot
                    }
                    _ => *other.entry(c).or_insert_with(|| {
                        let id = next_id;
                        next_id = next_id.saturating_add(1);
                        id
                    }),
                };
                let len = pattern.len() as u32;
                node = *children.entry((node, id)).or_insert_with(|| {
                    pattern.push(NO_PATTERN);
                    hot.push(false);
                    len
                });
                if is_hot {
                    hot[node as usize] = true;
                }
            }
            if node != 0 && pattern[node as usize] == NO_PATTERN {
                pattern[node as usize] = pi as u32;
            }
        }
        for (&c, &id) in &other {
            if let Some(slot) = t.ascii.get_mut(c as usize) {
                *slot = id;
            }
        }
        t.other = other.into_iter().filter(|&(c, _)| !c.is_ascii()).collect();
        t.other.sort_unstable();
        let mut by_parent: Vec<Vec<(u16, u32)>> = vec![Vec::new(); pattern.len()];
        for (&(parent, id), &child) in &children {
            by_parent[parent as usize].push((id, child));
        }
        for kids in &mut by_parent {
            kids.sort_unstable();
        }
        // Lay out every node of depth two or more, depth first.
        let mut offset = vec![u32::MAX; pattern.len()];
        let mut order = Vec::new();
        let mut stack: Vec<u32> = Vec::new();
        for &(_, first) in &by_parent[0] {
            for &(_, second) in by_parent[first as usize].iter().rev() {
                stack.push(second);
            }
            while let Some(n) = stack.pop() {
                order.push(n);
                for &(_, c) in by_parent[n as usize].iter().rev() {
                    stack.push(c);
                }
            }
        }
        // Nodes on the paths of hot patterns (division names, read in nearly every
        // address) first, so they share a few cache-friendly pages.
        order.sort_by_key(|&n| !hot[n as usize]);
        let mut at = 0u32;
        for &n in &order {
            offset[n as usize] = at;
            let terminal = pattern[n as usize] != NO_PATTERN;
            at += 1 + if terminal { 3 } else { 0 } + 2 * by_parent[n as usize].len() as u32;
        }
        t.arena = Vec::with_capacity(at as usize);
        for &n in &order {
            let kids = &by_parent[n as usize];
            let p = pattern[n as usize];
            if p == NO_PATTERN {
                t.arena.push(kids.len() as u32);
            } else {
                t.arena.push(kids.len() as u32 | TERMINAL);
                let [a, b] = payloads.get(p as usize).copied().unwrap_or_default();
                t.arena.extend_from_slice(&[p, a, b]);
            }
            for &(id, c) in kids {
                t.arena.push(u32::from(id));
                t.arena.push(offset[c as usize]);
            }
        }
        let mut pairs = Vec::new();
        for &(a, first) in &by_parent[0] {
            for &(b, second) in &by_parent[first as usize] {
                pairs.push(((u32::from(a) << 16) | u32::from(b), offset[second as usize]));
            }
        }
        let size = (pairs.len() * 2).next_power_of_two().max(16);
        t.pair_mask = size - 1;
        t.pairs = vec![(0, 0); size];
        for (key, node) in pairs {
            let b = hash(key) & (PAIR_BITS - 1);
            t.pair_bits[b / 64] |= 1 << (b % 64);
            let mut i = hash(key) & t.pair_mask;
            while t.pairs[i].0 != 0 {
                i = (i + 1) & t.pair_mask;
            }
            t.pairs[i] = (key, node);
        }
        t
    }

    /// The dense id of a character (0 when no pattern contains it).
    #[inline]
    pub(crate) fn id(&self, c: char) -> u16 {
        let n = c as u32;
        if let Some(&id) = self.ascii.get(n as usize) {
            id
        } else if let Some(id) = self.cjk_id(n) {
            id
        } else {
            self.other
                .binary_search_by_key(&c, |&(k, _)| k)
                .map_or(0, |i| self.other[i].1)
        }
    }

    /// The dense id of an ASCII character, given as its byte.
    #[inline]
    pub(crate) fn ascii_id(&self, b: u8) -> u16 {
        self.ascii.get(usize::from(b)).copied().unwrap_or(0)
    }

    /// The dense id of the code point `n` if it is a CJK unified ideograph
    /// (U+4E00..=U+9FFF), else `None`.
    #[inline]
    pub(crate) fn cjk_id(&self, n: u32) -> Option<u16> {
        self.cjk.get(n.wrapping_sub(CJK_START) as usize).copied()
    }

    /// The child offset for character id `id` among `kids`, a node's (id, offset)
    /// pairs sorted by id.
    #[inline]
    fn child(kids: &[u32], id: u16) -> Option<u32> {
        let id = u32::from(id);
        let k = kids.len() / 2;
        if k <= 8 {
            // Sorted by id: stop at the first that is not smaller.
            let e = kids.chunks_exact(2).find(|e| e[0] >= id)?;
            (e[0] == id).then_some(e[1])
        } else {
            let (mut lo, mut hi) = (0, k);
            while lo < hi {
                let mid = (lo + hi) / 2;
                match kids[2 * mid].cmp(&id) {
                    std::cmp::Ordering::Less => lo = mid + 1,
                    std::cmp::Ordering::Greater => hi = mid,
                    std::cmp::Ordering::Equal => return Some(kids[2 * mid + 1]),
                }
            }
            None
        }
    }

    #[inline]
    fn pair(&self, a: u16, b: u16) -> Option<u32> {
        let key = (u32::from(a) << 16) | u32::from(b);
        let h = hash(key);
        let bit = h & (PAIR_BITS - 1);
        if self.pair_bits[bit / 64] & (1 << (bit % 64)) == 0 {
            return None;
        }
        let mut i = h & self.pair_mask;
        loop {
            let &(k, node) = self.pairs.get(i)?;
            if k == key {
                return Some(node);
            }
            if k == 0 {
                return None;
            }
            i = (i + 1) & self.pair_mask;
        }
    }

    /// Calls `found(start, end, pattern, payload)` for every occurrence in `text`, in
    /// order of start then end, where `start..end` are indices into `text` and `id`
    /// gives the character id of one element.
    pub(crate) fn find_all<T>(
        &self,
        text: &[T],
        id: impl Fn(&T) -> u16,
        mut found: impl FnMut(usize, usize, u32, [u32; 2]),
    ) {
        for (start, pair) in text.windows(2).enumerate() {
            let (a, b) = (id(&pair[0]), id(&pair[1]));
            if a == 0 || b == 0 {
                continue;
            }
            let Some(node) = self.pair(a, b) else {
                continue;
            };
            let mut end = start + 2;
            let mut o = node as usize;
            // Walk down while the text goes on along an edge: at offset `o`, the
            // header, the pattern and its payload if one ends there, then the children.
            while let Some(&h) = self.arena.get(o) {
                let terminal = h & TERMINAL != 0;
                let mut first = o + 1;
                if terminal {
                    if let Some(&[p, a, b]) = self.arena.get(first..first + 3) {
                        found(start, end, p, [a, b]);
                    }
                    first += 3;
                }
                let k = (h & !TERMINAL) as usize;
                if k == 0 {
                    break;
                }
                let next = text.get(end).map_or(0, &id);
                if next == 0 {
                    break;
                }
                let Some(kids) = self.arena.get(first..first + 2 * k) else {
                    break;
                };
                match Trie::child(kids, next) {
                    Some(c) => o = c as usize,
                    None => break,
                }
                end += 1;
            }
        }
    }
}

#[inline]
fn hash(key: u32) -> usize {
    let h = key.wrapping_mul(0x9e37_79b1);
    (h ^ (h >> 15)) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_overlapping_occurrence() {
        let names = ["北京", "北京市", "京市", "朝阳区", "A1", "京"];
        let t = Trie::build(
            names
                .iter()
                .enumerate()
                .map(|(i, n)| (*n, [i as u32 * 10, 7])),
        );
        let text: Vec<u16> = "在北京市朝阳区A1".chars().map(|c| t.id(c)).collect();
        let mut got = Vec::new();
        t.find_all(&text, |&id| id, |s, e, p, w| got.push((s, e, p, w[0])));
        assert_eq!(
            got,
            vec![
                (1, 3, 0, 0),
                (1, 4, 1, 10),
                (2, 4, 2, 20),
                (4, 7, 3, 30),
                (7, 9, 4, 40)
            ]
        );
    }
}
