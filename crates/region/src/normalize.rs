//! Input normalisation that remembers where each character came from.
//!
//! NFKC per character (full-width digits and letters become ASCII, compatibility
//! ideographs become unified ones), whitespace and control characters removed. Every
//! kept character records its byte range in the original field, so spans can be
//! reported against the caller's text, and its trie id, so matching needs no second
//! pass.

use unicode_normalization::UnicodeNormalization;

use crate::trie::Trie;

/// One normalised character, with its trie id and where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unit {
    pub c: char,
    /// Byte range in the original field.
    pub start: u32,
    pub end: u32,
    /// The trie id (0 when no pattern contains the character).
    pub id: u16,
    /// Which input field it came from (0 for free text; 1..=3 for structured parts;
    /// `u8::MAX` for a separator between fields).
    pub field: u8,
}

/// A normalised text: one [`Unit`] per character.
#[derive(Debug, Default)]
pub(crate) struct Normalized {
    pub units: Vec<Unit>,
    /// The positions of the cut characters ([`is_cut`]), in order.
    pub cuts: Vec<u32>,
}

/// Characters that end one address and start another: only the first is read.
pub(crate) fn is_cut(c: char) -> bool {
    matches!(c, ';' | '|' | '\n')
}

impl Normalized {
    pub fn clear(&mut self) {
        self.units.clear();
        self.cuts.clear();
    }

    /// The number of characters.
    pub fn len(&self) -> usize {
        self.units.len()
    }

    /// The characters `[s, e)`.
    pub fn chars(&self, s: usize, e: usize) -> impl Iterator<Item = char> + '_ {
        self.units.get(s..e).unwrap_or(&[]).iter().map(|u| u.c)
    }

    /// Drops everything from character `n` on.
    pub fn truncate(&mut self, n: usize) {
        self.units.truncate(n);
        while self.cuts.last().is_some_and(|&c| c as usize >= n) {
            self.cuts.pop();
        }
    }

    /// Appends one field. A newline inside the field is kept as a cut mark.
    ///
    /// One pass over the bytes. Two kinds of character, nearly all of a real address,
    /// take a fast path with no decoding table and no normalisation call, because NFKC
    /// leaves them unchanged: ASCII (printable characters and the newline are kept;
    /// every other ASCII character is a space or a control character and is dropped),
    /// and the CJK unified ideographs U+4E00..=U+9FFF (three-byte sequences with a lead
    /// byte E4..=E9). Everything else is decoded and goes through [`Self::push_other`].
    pub fn push_field(&mut self, field: u8, input: &str, trie: &Trie) {
        self.units.reserve(input.len());
        let mut rest = input.as_bytes();
        while let [b, tail @ ..] = rest {
            let at = input.len() - rest.len();
            let b = *b;
            if b < 0x80 {
                if (0x21..=0x7e).contains(&b) || b == b'\n' {
                    let c = char::from(b);
                    if is_cut(c) {
                        self.cuts.push(self.units.len() as u32);
                    }
                    self.push(c, trie.ascii_id(b), at, at + 1, field);
                }
                rest = tail;
                continue;
            }
            if let [b1, b2, tail @ ..] = tail {
                // The input is a `str`, so this is a valid three-byte sequence for
                // U+4000..=U+9FFF when the lead byte is E4..=E9.
                let n = (u32::from(b & 0x0f) << 12)
                    | (u32::from(b1 & 0x3f) << 6)
                    | u32::from(b2 & 0x3f);
                if (0xe4..=0xe9).contains(&b)
                    && let Some(id) = trie.cjk_id(n)
                    && let Some(c) = char::from_u32(n)
                {
                    self.push(c, id, at, at + 3, field);
                    rest = tail;
                    continue;
                }
            }
            let Some(c) = input.get(at..).and_then(|s| s.chars().next()) else {
                break;
            };
            self.push_other(c, at, at + c.len_utf8(), field, trie);
            rest = rest.get(c.len_utf8()..).unwrap_or(&[]);
        }
    }

    /// The general path: one character that is neither ASCII nor a CJK unified
    /// ideograph. Kept out of line so that the fast loop of [`Self::push_field`] keeps
    /// its values in registers.
    #[inline(never)]
    fn push_other(&mut self, c: char, start: usize, end: usize, field: u8, trie: &Trie) {
        let mut push = |n: char| {
            if is_cut(n) {
                self.cuts.push(self.units.len() as u32);
            }
            self.push(n, trie.id(n), start, end, field);
        };
        match c as u32 {
            // Full-width ASCII.
            0xff01..=0xff5e => push(char::from_u32(c as u32 - 0xfee0).unwrap_or(c)),
            _ if c.is_whitespace() || c.is_control() => {}
            0x3001 | 0xff64 => push(','),
            0x3002 | 0xff61 => push('.'),
            // General and CJK punctuation other than spaces: NFKC keeps them.
            0x2010..=0x2023
            | 0x2027
            | 0x2030..=0x2032
            | 0x2035
            | 0x2038..=0x203b
            | 0x3003..=0x303f => push(c),
            _ => {
                for n in std::iter::once(c).nfkc() {
                    if !(n.is_whitespace() || n.is_control()) {
                        push(n);
                    }
                }
            }
        }
    }

    /// Appends a separator that belongs to no field (and starts no name).
    pub fn push_separator(&mut self, c: char) {
        let at = self.units.last().map_or(0, |u| u.end as usize);
        if is_cut(c) {
            self.cuts.push(self.units.len() as u32);
        }
        self.push(c, 0, at, at, u8::MAX);
    }

    /// Appends one character (the caller records a cut).
    #[inline]
    fn push(&mut self, c: char, id: u16, start: usize, end: usize, field: u8) {
        self.units.push(Unit {
            c,
            start: start as u32,
            end: end as u32,
            id,
            field,
        });
    }

    /// The original range (field, start, end) of the normalised characters `[s, e)`.
    pub fn original(&self, s: usize, e: usize) -> Option<(u8, usize, usize)> {
        if s >= e {
            return None;
        }
        let a = self.units.get(s)?;
        let b = self.units.get(e.checked_sub(1)?)?;
        Some((a.field, a.start as usize, b.end.max(a.start) as usize))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trie() -> Trie {
        Trie::build([("北京市", [0, 0]), ("A1", [0, 0])])
    }

    #[test]
    fn full_width_and_spaces_are_normalised_with_origins() {
        let mut n = Normalized::default();
        let t = trie();
        n.push_field(0, "北京 市１号　Ａ", &t);
        assert_eq!(n.chars(0, n.len()).collect::<String>(), "北京市1号A");
        // "市" is character 2 and original bytes 7..10.
        assert_eq!(n.original(2, 3), Some((0, 7, 10)));
        assert_eq!(n.original(0, 3), Some((0, 0, 10)));
        assert_eq!(n.original(3, 3), None);
        assert!(n.units.iter().all(|u| u.id == t.id(u.c)));
        assert_ne!(n.units[0].id, 0);
        assert_eq!(n.units[4].id, 0, "号 is in no pattern");
    }

    #[test]
    fn the_fast_paths_agree_with_nfkc() {
        let t = trie();
        // Every ASCII character, the edges of the CJK block and of the E4..=E9 lead
        // bytes, compatibility ideographs, full-width and half-width forms, and text
        // that NFKC expands.
        let mut text: String = (0u8..0x80).map(char::from).collect();
        text.push_str("\u{4000}\u{4dff}\u{4e00}\u{9fff}\u{a000}\u{f900}\u{fa0a}ＡＺ０９ｶﾞ㍿①²ﬁ\u{3000}\u{a0}\u{85}");
        let mut n = Normalized::default();
        n.push_field(0, &text, &t);
        let mut want = Vec::new();
        for c in text.chars() {
            match c as u32 {
                0xff01..=0xff5e => want.extend(std::iter::once(c).nfkc()),
                _ if c.is_whitespace() || c.is_control() => {
                    if c == '\n' {
                        want.push(c);
                    }
                }
                _ => want.extend(
                    std::iter::once(c)
                        .nfkc()
                        .filter(|n| !(n.is_whitespace() || n.is_control())),
                ),
            }
        }
        assert_eq!(n.chars(0, n.len()).collect::<Vec<_>>(), want);
        assert!(n.units.iter().all(|u| u.id == t.id(u.c)));
        let cuts: Vec<u32> = (0..n.len() as u32)
            .filter(|&i| is_cut(n.units[i as usize].c))
            .collect();
        assert_eq!(cuts.len(), 3);
        assert_eq!(n.cuts, cuts);
    }
}
