//! Arbitrary UTF-8 never panics, and the answers are deterministic and well formed,
//! for free text and for structured fields.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let a = region::resolve(text);
    assert_eq!(a, region::resolve(text), "non-deterministic for {text:?}");
    assert_eq!(a.code.is_none(), a.level == region::Level::None);
    for span in &a.spans {
        assert!(
            text.get(span.start..span.end).is_some(),
            "bad span {span:?}"
        );
    }
    // The same bytes split into three structured fields.
    let mut cuts = text.char_indices().map(|(i, _)| i).step_by(3);
    let (i, j) = (
        cuts.nth(1).unwrap_or(text.len()),
        cuts.next().unwrap_or(text.len()),
    );
    let (p, c, d) = (&text[..i], &text[i..j.max(i)], &text[j.max(i)..]);
    let b = region::resolve_parts(p, c, d);
    assert_eq!(b, region::resolve_parts(p, c, d));
    for span in &b.spans {
        let field = match span.field {
            region::Field::Province => p,
            region::Field::City => c,
            region::Field::District => d,
            region::Field::Text => panic!("text span from structured fields"),
        };
        assert!(
            field.get(span.start..span.end).is_some(),
            "bad span {span:?}"
        );
    }
});
