//! Characters in outside text that must not reach a terminal or a page as they are.
//!
//! User, device, player and platform names, titles and places come from Plex clients
//! (through Tautulli) or GeoIP, and a sharer controls them. Two kinds of character in
//! them act on the viewer rather than being shown:
//! - terminal controls (C0 including TAB and newline, DEL, C1): escape sequences that set
//!   the clipboard (OSC 52), the window title, clear the screen, or break a report's
//!   columns and lines;
//! - bidirectional controls (Unicode's `Bidi_Control` set): overrides, embeddings,
//!   isolates and marks that reorder the text around a name ("Trojan Source" spoofing).
//!
//! Both are replaced by U+FFFD REPLACEMENT CHARACTER: it is visible (the owner sees that
//! something was there, unlike silent removal), one column wide like the characters the
//! padded report columns count, and it cannot be mistaken for part of a real name the
//! way an escaped form such as `^[` or `\x1b` could. Ordinary names pass unchanged.
//! Nothing here depends on the rest of the crate: both `report` and `web` use it.

use std::borrow::Cow;
use std::fmt;

/// What every neutralised character becomes.
pub const REPLACEMENT: char = '\u{FFFD}';

/// C0 controls (U+0000–U+001F, TAB and newline included), DEL (U+007F) and C1 controls
/// (U+0080–U+009F, which some terminals obey as 8-bit CSI/OSC).
pub fn is_terminal_control(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}')
}

/// Unicode's `Bidi_Control` characters: the marks U+061C, U+200E, U+200F, the
/// embeddings and overrides U+202A–U+202E and the isolates U+2066–U+2069.
pub fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
    )
}

/// `s` with every terminal and bidirectional control replaced by [`REPLACEMENT`];
/// borrowed when there is none.
pub fn for_terminal(s: &str) -> Cow<'_, str> {
    replace(s, |c| is_terminal_control(c) || is_bidi_control(c))
}

/// `s` with every bidirectional control replaced by [`REPLACEMENT`] and everything else,
/// newlines included, kept; borrowed when there is none. Every web page passes through
/// it whole: none of the pages' own markup contains such a control.
pub fn without_bidi(s: &str) -> Cow<'_, str> {
    replace(s, is_bidi_control)
}

/// `s` with each character that is `unsafe_char` replaced by [`REPLACEMENT`].
fn replace(s: &str, unsafe_char: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !s.chars().any(&unsafe_char) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.chars()
            .map(|c| if unsafe_char(c) { REPLACEMENT } else { c })
            .collect(),
    )
}

/// Outside text formatted for a terminal through [`for_terminal`]; honours width and
/// alignment (`{:<16}`), so report columns wrap it where they interpolate it.
#[derive(Debug, Clone, Copy)]
pub struct Shown<'a>(pub &'a str);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&for_terminal(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_names_pass_unchanged_and_borrowed() {
        for name in ["Sam Sharer", "Zoë & \"Friends\" <test>", "Ünïcödé 名前 🎬", "עִבְרִית", ""] {
            assert!(matches!(for_terminal(name), Cow::Borrowed(n) if n == name), "{name}");
        }
    }

    #[test]
    fn every_terminal_control_is_replaced() {
        let all: String = ('\u{0}'..='\u{a0}').collect();
        let shown = for_terminal(&all);
        // 32 C0, DEL and 32 C1 replaced; space to '~' and U+00A0 kept.
        assert_eq!(shown.chars().filter(|&c| c == REPLACEMENT).count(), 65);
        let kept: String = shown.chars().filter(|&c| c != REPLACEMENT).collect();
        assert_eq!(kept, (' '..='~').chain(['\u{a0}']).collect::<String>());
    }

    #[test]
    fn escape_sequences_lose_their_escape() {
        let osc52 = "tv\u{1b}]52;c;aGVsbG8=\u{7}\u{1b}[2J\u{9b}31m\u{7f}";
        assert_eq!(
            for_terminal(osc52),
            "tv\u{fffd}]52;c;aGVsbG8=\u{fffd}\u{fffd}[2J\u{fffd}31m\u{fffd}"
        );
    }

    #[test]
    fn bidi_controls_are_replaced_and_neighbours_kept() {
        for c in [
            '\u{61c}', '\u{200e}', '\u{200f}', '\u{202a}', '\u{202e}', '\u{2066}', '\u{2069}',
        ] {
            assert!(is_bidi_control(c), "{c:?}");
            assert_eq!(for_terminal(&format!("a{c}b")), "a\u{fffd}b");
        }
        // The neighbours of the ranges are ordinary text.
        for c in ['\u{200d}', '\u{2029}', '\u{202f}', '\u{2065}', '\u{206a}'] {
            assert!(!is_bidi_control(c), "{c:?}");
        }
    }

    #[test]
    fn pages_keep_newlines_and_lose_bidi_controls() {
        assert_eq!(without_bidi("a\n\tb\u{202e}c"), "a\n\tb\u{fffd}c");
        assert!(matches!(without_bidi("<p>\n"), Cow::Borrowed(_)));
    }

    #[test]
    fn shown_pads_the_replaced_text() {
        assert_eq!(format!("[{:<6}]", Shown("a\u{1b}b")), "[a\u{fffd}b   ]");
        assert_eq!(format!("[{:>4}]", Shown("ok")), "[  ok]");
    }
}
