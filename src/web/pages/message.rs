//! The page for a missing server or user, or data not there yet.

use maud::html;

use super::{document, Settings};

/// A page for a missing server or user, or data not there yet.
pub fn message(s: &Settings, title: &str, text: &str) -> String {
    let body = html! {
        h1 { (title) }
        p { (text) }
        p { a href={ (s.prefix) "/users" } { "All users" } }
    };
    document(s, title, body)
}
