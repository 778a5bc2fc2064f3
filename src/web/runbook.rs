//! `/runbook`: docs/runbook.md as one HTML page, so every alert's `runbook_url` can point
//! at the exporter that raised it (`<external URL>/runbook#<alert name in lower case>`).
//!
//! The markdown is compiled in and rendered once. Raw HTML in it is shown as text and
//! only in-page (`#...`) and `http(s)` links stay links, so the page is escaped by
//! construction whatever the markdown says. Headings get the anchors GitHub gives them
//! (lower case, spaces to `-`, punctuation dropped), which the alerts' links name.

use std::collections::HashMap;
use std::sync::OnceLock;

use axum::http::StatusCode;
use axum::response::Response;
use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, TagEnd};

use super::html;

/// The runbook as shipped with this binary.
const RUNBOOK_MD: &str = include_str!("../../docs/runbook.md");

/// `GET /runbook`.
pub async fn page() -> Response {
    static PAGE: OnceLock<String> = OnceLock::new();
    html(StatusCode::OK, PAGE.get_or_init(|| render(RUNBOOK_MD)).clone())
}

/// The whole HTML page for a markdown document.
pub fn render(markdown: &str) -> String {
    let body = body(markdown);
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>plex-sharing-exporter runbook</title>\n<style>{STYLE}</style>\n</head>\n\
         <body>\n<main>\n{body}</main>\n</body>\n</html>\n"
    )
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;line-height:1.5;margin:0;color:#222}\
main{max-width:60rem;margin:0 auto;padding:1rem 1.5rem}\
table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left}\
code{background:#f3f3f3;padding:0 .2rem}pre{background:#f3f3f3;padding:.5rem;overflow-x:auto}\
h2{border-bottom:1px solid #ddd;margin-top:2rem}:target{background:#fff6d5}";

/// The HTML of the document's body.
fn body(markdown: &str) -> String {
    let events: Vec<Event<'_>> = Parser::new_ext(markdown, Options::ENABLE_TABLES).collect();
    let mut out = Vec::with_capacity(events.len());
    let mut seen: HashMap<String, usize> = HashMap::new();
    // Inside a link that is dropped: its End is dropped too.
    let mut dropped_links = Vec::new();
    for (i, event) in events.iter().enumerate() {
        let event = match event.clone() {
            Event::Start(Tag::Heading {
                level, classes, attrs, ..
            }) => {
                let slug = unique(&mut seen, slug(&heading_text(&events[i + 1..])));
                Event::Start(Tag::Heading {
                    level,
                    id: Some(CowStr::from(slug)),
                    classes,
                    attrs,
                })
            }
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            }) => {
                let keep =
                    dest_url.starts_with('#') || dest_url.starts_with("https://") || dest_url.starts_with("http://");
                dropped_links.push(!keep);
                if !keep {
                    continue;
                }
                Event::Start(Tag::Link {
                    link_type,
                    dest_url,
                    title,
                    id,
                })
            }
            Event::End(TagEnd::Link) => {
                if dropped_links.pop().unwrap_or(false) {
                    continue;
                }
                Event::End(TagEnd::Link)
            }
            // Images would load from elsewhere (the CSP forbids it anyway): show the text.
            Event::Start(Tag::Image { .. }) | Event::End(TagEnd::Image) => continue,
            // Comments (the generator's markers) are left out; other raw HTML is shown,
            // not interpreted.
            Event::Html(s) | Event::InlineHtml(s) if is_comment(&s) => continue,
            Event::Html(s) | Event::InlineHtml(s) => Event::Text(s),
            e => e,
        };
        out.push(event);
    }
    let mut html = String::with_capacity(markdown.len() * 2);
    pulldown_cmark::html::push_html(&mut html, out.into_iter());
    html
}

/// A whole HTML comment, as markdown hands it over (one line of an HTML block).
fn is_comment(s: &str) -> bool {
    let s = s.trim();
    s.starts_with("<!--") && s.ends_with("-->")
}

/// The plain text of the heading whose Start precedes `rest`.
fn heading_text(rest: &[Event<'_>]) -> String {
    let mut text = String::new();
    for e in rest {
        match e {
            Event::End(TagEnd::Heading(_)) => break,
            Event::Text(t) | Event::Code(t) => text.push_str(t),
            _ => {}
        }
    }
    text
}

/// GitHub's heading anchor: lower case, punctuation but `-` and `_` dropped, spaces to `-`.
pub fn slug(text: &str) -> String {
    text.trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// A repeated anchor gets `-1`, `-2`, ... as on GitHub.
fn unique(seen: &mut HashMap<String, usize>, slug: String) -> String {
    let n = seen.entry(slug.clone()).or_insert(0);
    *n += 1;
    if *n == 1 {
        slug
    } else {
        format!("{slug}-{}", *n - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_get_github_anchors_and_repeats_are_numbered() {
        let page = body("# Plex runbook\n\n## PlexSharingHighScore\n\n## Before you act on a sharing alert\n\n## A `code` (thing)\n\n## PlexSharingHighScore\n");
        assert!(page.contains("<h2 id=\"plexsharinghighscore\">"), "{page}");
        assert!(page.contains("<h2 id=\"before-you-act-on-a-sharing-alert\">"), "{page}");
        assert!(page.contains("<h2 id=\"a-code-thing\">"), "{page}");
        assert!(page.contains("<h2 id=\"plexsharinghighscore-1\">"), "{page}");
    }

    #[test]
    fn raw_html_and_foreign_links_do_not_pass_through() {
        let page = body(
            "<!-- a marker -->\n<script>alert(1)</script>\n\nText <b onclick=x>bold</b> [js](javascript:alert(1)) \
             [file](../deploy/x.yml) [in](#here) [out](https://example.com/a?b=1&c=2)\n",
        );
        assert!(!page.contains("<script"), "{page}");
        assert!(!page.contains("marker"), "{page}");
        assert!(!page.contains("<b "), "{page}");
        assert!(!page.contains("javascript:"), "{page}");
        assert!(!page.contains("../deploy"), "{page}");
        assert!(page.contains("&lt;script&gt;"), "{page}");
        assert!(page.contains("<a href=\"#here\">in</a>"), "{page}");
        assert!(
            page.contains("<a href=\"https://example.com/a?b=1&amp;c=2\">out</a>"),
            "{page}"
        );
        assert!(page.contains("js"), "{page}");
    }

    #[test]
    fn the_shipped_runbook_has_a_section_per_alert_anchor() {
        let page = render(RUNBOOK_MD);
        assert!(page.contains("id=\"plexsharinghighscore\""));
        assert!(page.contains("<table>"));
    }
}
