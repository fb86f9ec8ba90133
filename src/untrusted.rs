//! Text taken from a capture (names, headers, comments) is untrusted: it may
//! hold bytes that are not UTF-8, terminal escape sequences that would repaint
//! or retitle the terminal of whoever reads a text report, or bidirectional
//! overrides that make a name read as another. Every string capdoc takes from
//! capture bytes goes through [`text`] (or [`clean`] for strings a parser
//! already decoded), so no report format ever carries them:
//!
//! - bytes that are not UTF-8 become U+FFFD, the replacement character
//!   (the marker of lossy decoding, as in `String::from_utf8_lossy`);
//! - C0 and C1 control characters and DEL become `\xNN`;
//! - bidirectional embedding, override and isolate characters become `\u{NNNN}`.

use std::borrow::Cow;
use std::fmt::Write;

/// Whether `c` must not reach a report as itself.
fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Appends `c`, escaped when it is a control or bidirectional formatting character.
pub fn push_char(out: &mut String, c: char) {
    if !needs_escape(c) {
        out.push(c);
    } else if (c as u32) < 0x100 {
        // Writing to a String cannot fail.
        let _ = write!(out, "\\x{:02x}", c as u32);
    } else {
        let _ = write!(out, "\\u{{{:04x}}}", c as u32);
    }
}

/// Capture bytes as printable text.
pub fn text(bytes: &[u8]) -> String {
    text_ref(bytes).into_owned()
}

/// [`text`], borrowed from `bytes` when they are printable as they are: a
/// parser that keeps only part of the text, or none, copies nothing else.
pub fn text_ref(bytes: &[u8]) -> Cow<'_, str> {
    // Host names and header lines almost always are valid UTF-8, and then
    // clean as they are.
    if let Ok(valid) = std::str::from_utf8(bytes) {
        return clean(valid);
    }
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            push_char(&mut out, c);
        }
        if !chunk.invalid().is_empty() {
            out.push(char::REPLACEMENT_CHARACTER);
        }
    }
    Cow::Owned(out)
}

/// A string decoded from capture bytes by a parser (an X.509 name, say), made printable.
pub fn clean(s: &str) -> Cow<'_, str> {
    // Printable ASCII, nearly every string, is told apart a byte at a time.
    if s.bytes().all(|b| (0x20..0x7f).contains(&b)) || !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        push_char(&mut out, c);
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_escapes_become_visible() {
        assert_eq!(
            text(b"a\x1b[31mred\x1b]0;title\x07\r\n"),
            "a\\x1b[31mred\\x1b]0;title\\x07\\x0d\\x0a"
        );
        assert_eq!(text(b"\x00\x7f"), "\\x00\\x7f");
        // C1 controls arrive as UTF-8 (U+009B is a one-character CSI on some terminals).
        assert_eq!(text("x\u{9b}31m".as_bytes()), "x\\x9b31m");
    }

    #[test]
    fn bytes_that_are_not_utf8_are_marked() {
        assert_eq!(text(b"ab\xff\xfecd"), "ab\u{fffd}\u{fffd}cd");
        assert_eq!(text("caf\u{e9}".as_bytes()), "caf\u{e9}");
    }

    #[test]
    fn bidirectional_overrides_are_shown_not_applied() {
        assert_eq!(
            text("evil\u{202e}ten.msappproxy.net".as_bytes()),
            "evil\\u{202e}ten.msappproxy.net"
        );
        assert_eq!(clean("a\u{2066}b"), "a\\u{2066}b");
    }

    #[test]
    fn clean_text_is_not_copied() {
        assert!(matches!(clean("contoso.msappproxy.net"), Cow::Borrowed(_)));
    }
}
