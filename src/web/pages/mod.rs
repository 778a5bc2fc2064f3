//! The HTML pages of `serve` and `demo`: pure functions from snapshots and [`Settings`]
//! to a complete document. No script and no external resources (styles are inline),
//! so the pages work offline and under the strict Content-Security-Policy the handlers
//! send.
//!
//! The pages are maud templates: every interpolated value is HTML-escaped unless it is
//! wrapped in `PreEscaped` (only the CSS and the pictures, which are maud output too),
//! so a new field cannot be printed raw by forgetting a call. `document` is the one
//! way a page becomes a string, and it replaces bidirectional controls with U+FFFD.
//! Tautulli's API escapes nothing, and a sharer controls names, devices and titles.
//!
//! Links are path-absolute under the route prefix (the path of `--web.external-url`), so
//! they work both through the reverse proxy and when the exporter is reached directly.
//! Times are UTC, written as ISO 8601 with `Z`.
//!
//! This file holds the layout and what pages share; each page has its own file:
//! [`landing`](landing::landing), [`users`](users::users), [`user`](user::user) (one
//! function per section), [`accounts::accounts`] and
//! [`accounts::account`] (the account view across servers) and
//! [`message`](message::message).

use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::mask::IpView;
use crate::snapshot::{Health, Snapshot};

mod accounts;
mod landing;
mod message;
mod user;
mod users;

pub use accounts::{account, accounts};
pub use landing::landing;
pub use message::message;
pub use user::{user, user_on_servers};
pub use users::users;

/// What every page needs besides the data.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Route prefix (path of the external URL), "" for none; no trailing slash.
    pub prefix: String,
    /// Path of the metrics endpoint.
    pub telemetry_path: String,
    /// How addresses are shown (`--web.mask-ips`).
    pub ips: IpView,
    /// The flag threshold (`--min-score`), shown beside the score.
    pub min_score: f64,
    /// The impossible-travel speed (`--max-speed-kmh`), shown beside each jump.
    pub max_speed_kmh: f64,
}

/// One server as the pages see it.
#[derive(Debug, Clone, Copy)]
pub struct ServerView<'a> {
    /// Its name (the `server` label).
    pub name: &'a str,
    /// How its refreshes go.
    pub health: &'a Health,
    /// Its latest data, if any refresh succeeded yet.
    pub snapshot: Option<&'a Snapshot>,
}

const CSS: &str = r#"
:root{--fg:#1d232a;--muted:#5b6672;--line:#dde2e7;--alt:#f6f8fa;--accent:#1f5fa8;--red:#c62828}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--fg);background:#fff}
header{background:#1d232a}
header nav{max-width:78rem;margin:0 auto;padding:.65rem 1.2rem;display:flex;gap:1.5rem;align-items:baseline}
header a{color:#e8edf2;text-decoration:none}header a:hover{color:#fff;text-decoration:underline}
header a.brand{font-weight:700;color:#fff;margin-right:auto}
main{max-width:78rem;margin:0 auto;padding:.8rem 1.2rem 2rem}
a{color:var(--accent)}
h1{font-size:1.65rem;margin:.5rem 0 .2rem}
h2{font-size:1.2rem;margin:2.2rem 0 .7rem;padding-bottom:.3rem;border-bottom:2px solid var(--line)}
.sub,.muted{color:var(--muted)}
.crumbs{margin:.4rem 0 0;font-size:.9rem;color:var(--muted)}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.92rem}
th,td{padding:.38rem .55rem;text-align:left;border-bottom:1px solid var(--line);vertical-align:top}
thead th{background:var(--alt);font-weight:600;white-space:nowrap}
tbody tr:hover{background:#f9fbfd}
.nw{white-space:nowrap}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tfoot td{font-weight:700;border-top:2px solid var(--line)}
tr.date th{background:#eef2f6;font-weight:600}
.badge{display:inline-block;padding:.08rem .55rem;border-radius:1rem;font-size:.78rem;font-weight:700;vertical-align:middle;white-space:nowrap}
.flag{background:#fde8e8;color:var(--red)}.ok{background:#e7f3ea;color:#2e7d32}.warn{background:#fff4e0;color:#8a5300}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(7.6rem,1fr));gap:.7rem;margin:1rem 0 .5rem}
.card{border:1px solid var(--line);border-radius:.5rem;padding:.55rem .8rem;background:#fff}
.card .v{font-size:1.35rem;font-weight:700;font-variant-numeric:tabular-nums;white-space:nowrap}
.card .k{color:var(--muted);font-size:.83rem}
.card.hot .v{color:var(--red)}
td.user{min-width:11rem}td.score{font-weight:700}td.hot{color:var(--red)}
figure{margin:0}
svg{width:100%;height:auto;display:block;border:1px solid var(--line);border-radius:.4rem}
.legend{display:flex;flex-wrap:wrap;gap:.3rem 1.3rem;font-size:.85rem;color:var(--muted);margin:.55rem 0 0}
.sw{display:inline-block;width:.85rem;height:.85rem;border-radius:2px;vertical-align:-1px;margin-right:.35rem}
form.filter{margin:.7rem 0 1rem;display:flex;gap:.5rem;align-items:center;flex-wrap:wrap}
select,button{font:inherit;padding:.2rem .5rem}
details{margin-top:.8rem}summary{cursor:pointer;color:var(--accent)}
code{font-size:.86em;background:var(--alt);padding:0 .25rem;border-radius:3px}
footer{max-width:78rem;margin:0 auto;padding:.8rem 1.2rem 1.5rem;color:var(--muted);font-size:.84rem;border-top:1px solid var(--line)}
"#;

/// The whole document around `body`, as the handlers send it: the only way a page
/// becomes a string, so every page has its bidirectional controls replaced.
fn document(s: &Settings, title: &str, body: Markup) -> String {
    let p = &s.prefix;
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Plex Sharing Exporter" }
                link rel="icon" href="data:,";
                style { (PreEscaped(CSS)) }
            }
            body {
                header {
                    nav {
                        a class="brand" href={ (p) "/" } { "Plex Sharing Exporter" }
                        a href={ (p) "/users" } { "Users" }
                        a href={ (p) "/accounts" } { "Accounts" }
                        a href={ (p) (s.telemetry_path) } { "Metrics" }
                    }
                }
                main { (body) }
                footer { "Times are UTC (ISO 8601). plex-sharing-exporter " (env!("CARGO_PKG_VERSION")) "." }
            }
        }
    };
    crate::untrusted::without_bidi(&page.into_string()).into_owned()
}

/// A number as people write it: `242`, `12.5`.
fn num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// The link to a user's page.
fn user_href(s: &Settings, server: &str, user_id: i64) -> String {
    format!("{}/users/{server}/{user_id}", s.prefix)
}

/// A column of a table's head.
#[derive(Debug, Clone, Copy)]
struct Col {
    name: &'static str,
    /// Right-aligned tabular figures.
    num: bool,
    /// What the column counts, as a tooltip.
    title: Option<&'static str>,
}

impl Col {
    const fn text(name: &'static str) -> Col {
        Col {
            name,
            num: false,
            title: None,
        }
    }

    const fn num(name: &'static str) -> Col {
        Col {
            name,
            num: true,
            title: None,
        }
    }

    const fn titled(self, title: &'static str) -> Col {
        Col {
            title: Some(title),
            ..self
        }
    }
}

/// A table that scrolls sideways on narrow screens: its head, rows and optional foot.
fn table(class: Option<&str>, cols: &[Col], rows: Markup, foot: Option<Markup>) -> Markup {
    html! {
        div class="scroll" {
            table class=[class] {
                thead { tr { @for c in cols { th class=[c.num.then_some("num")] title=[c.title] { (c.name) } } } }
                tbody { (rows) }
                @if let Some(foot) = foot { tfoot { (foot) } }
            }
        }
    }
}

/// The red "flagged" badge.
fn flagged_badge() -> Markup {
    html! { span class="badge flag" { "flagged" } }
}

#[cfg(test)]
pub(crate) mod fixtures {
    use crate::detect::testing::Builder;
    use crate::detect::{analyze_user, Places, Rules, UserInfo};
    use crate::snapshot::Snapshot;

    /// Server "home" with one user, 7, called `name`, on two networks at once.
    pub(crate) fn snapshot(name: &str) -> Snapshot {
        let mut b = Builder::default();
        b.add(7, "tv", "81.1.1.1", 1000, 3600);
        b.add(7, "phone", "82.2.2.2", 2000, 3600);
        let info = UserInfo {
            user_id: 7,
            name: name.into(),
            username: "u<7>".into(),
        };
        let f = analyze_user(&info, &b.sorted(), &b.strings, &Places::new(), &Rules::default());
        Snapshot {
            server: "home".into(),
            findings: vec![std::sync::Arc::new(f)],
            window: (0, 86_400),
            ..Snapshot::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_without_needless_decimals() {
        for (v, shown) in [(242.0, "242"), (12.5, "12.5"), (0.0, "0"), (-3.0, "-3"), (0.25, "0.2")] {
            assert_eq!(num(v), shown);
        }
    }
}
