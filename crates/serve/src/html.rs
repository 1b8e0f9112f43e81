//! The page around every page: navigation, who is logged in, a banner when the store does
//! not answer; the small pieces pages share (a status badge, an age).

use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::error::PageError;
use crate::viewer::Viewer;

/// A rendered page.
#[derive(Debug)]
pub(crate) struct Page(pub(crate) Markup);

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        Html(self.0.into_string()).into_response()
    }
}

const STYLE: &str = r#"
:root{--pass:#1a7f37;--degraded:#9a6700;--fail:#cf222e;--error:#8250df;--skipped:#6e7781;--unknown:#6e7781;--bg:#fff;--fg:#1f2328;--muted:#656d76;--line:#d0d7de}
*{box-sizing:border-box}body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);background:var(--bg)}
header{display:flex;flex-wrap:wrap;gap:.25rem .9rem;align-items:center;padding:.6rem 1rem;border-bottom:1px solid var(--line);background:#f6f8fa}
header b{margin-right:.5rem}header a{color:var(--fg);text-decoration:none}header a.on{font-weight:600;text-decoration:underline}
header .who{margin-left:auto;color:var(--muted)}header form{display:inline}header button{padding:.1rem .5rem;font-size:.85rem}
main{padding:1rem;max-width:1200px}h1{font-size:1.35rem;margin:.2rem 0 .8rem}h2{font-size:1.1rem;margin:1.4rem 0 .5rem}
table{border-collapse:collapse;width:100%;margin:.4rem 0}th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
th{font-weight:600;color:var(--muted);font-size:.85rem}th:has(+ td){width:1%;white-space:nowrap;padding-right:1.5rem}.scroll{overflow-x:auto}
.badge{display:inline-block;padding:0 .45rem;border-radius:1rem;font-size:.8rem;font-weight:600;color:#fff;background:var(--unknown)}
.pass,.completed,.closed,.verified{background:var(--pass)}.degraded,.paused,.mitigated{background:var(--degraded)}.fail,.failed,.open,.backed-out,.rolled-back{background:var(--fail)}
.error,.aborting,.rollback-failed{background:var(--error)}.skipped{background:var(--skipped)}.running,.authorize,.scheduled,.implement,.applying,.applied,.verifying{background:#0969da}
.cell{min-width:4.5rem;text-align:center}.suspect{outline:3px solid var(--fail);outline-offset:-3px}.mark{font-size:.75rem;font-weight:600}
.banner{padding:.7rem 1rem;background:#ffebe9;border:1px solid var(--fail);border-radius:6px;margin:.5rem 0}
.ok{padding:.7rem 1rem;background:#dafbe1;border:1px solid var(--pass);border-radius:6px;margin:.5rem 0}
.note{color:var(--muted)}.timeline{display:flex;gap:1px}.timeline span{flex-basis:4px;min-width:4px;height:18px;border-radius:2px;background:var(--unknown)}
.timeline span.pass{background:var(--pass)}.timeline span.degraded{background:var(--degraded)}.timeline span.fail{background:var(--fail)}.timeline span.error{background:var(--error)}
form.act{display:inline-flex;gap:.4rem;margin:.3rem .6rem .3rem 0;flex-wrap:wrap}input,button{font:inherit;padding:.3rem .6rem}button{cursor:pointer}
.report{border-top:1px solid var(--line);margin-top:1rem}pre{white-space:pre-wrap;word-break:break-word}
svg{max-width:100%;height:auto}
"#;

/// The navigation: path and name.
const NAV: [(&str, &str); 7] = [
    ("/", "Overview"),
    ("/map", "Map"),
    ("/checks", "Checks"),
    ("/changes", "Changes"),
    ("/rollouts", "Rollouts"),
    ("/incidents", "Incidents"),
    ("/journal", "Journal"),
];

/// A whole page: `here` is the navigation entry it belongs to.
#[expect(clippy::needless_pass_by_value, reason = "pages hand their body over")]
pub(crate) fn page(title: &str, here: &str, viewer: &Viewer, body: Markup) -> Page {
    Page(html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · fearless" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    b { "fearless" }
                    @for (path, name) in NAV {
                        a href=(path) class=[(path == here).then_some("on")] { (name) }
                    }
                    span.who {
                        @match viewer.user() {
                            Some(user) => {
                                (user) " · "
                                form method="post" action="/logout" {
                                    @if let Some(csrf) = viewer.csrf() { input type="hidden" name="csrf" value=(csrf); }
                                    button type="submit" { "log out" }
                                }
                            }
                            None => a href="/login" { "log in" },
                        }
                    }
                }
                main { (body) }
            }
        }
    })
}

/// The page of a request that failed: the banner says what, and what to do.
pub(crate) fn error_page(e: &PageError) -> Markup {
    let title = if e.is_unavailable() {
        "The store does not answer"
    } else {
        e.status.canonical_reason().unwrap_or("Error")
    };
    page(title, "", &Viewer::Anonymous, html! {
        div.banner role="alert" {
            strong { (title) } ": " (e.message)
            @if let Some(h) = &e.hint { br; span.note { (h) } }
        }
        @if e.is_unavailable() {
            p.note { "This page shows again once the store answers; " a href="/readyz" { "/readyz" } " says when." }
        }
    })
    .0
}

/// A status as a coloured badge.
pub(crate) fn badge(status: &str) -> Markup {
    html! { span class={"badge " (status)} { (status) } }
}

/// How long ago `t` was, in words ("35 s ago", "4 min ago", "2 h ago", "3 d ago").
pub(crate) fn ago(t: jiff::Timestamp) -> String {
    let secs = jiff::Timestamp::now().as_second() - t.as_second();
    let secs = secs.max(0);
    match secs {
        0..120 => format!("{secs} s ago"),
        120..7200 => format!("{} min ago", secs / 60),
        7200..172_800 => format!("{} h ago", secs / 3600),
        _ => format!("{} d ago", secs / 86_400),
    }
}

/// A time as UTC to the second.
pub(crate) fn at(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M:%SZ").to_string()
}

/// A form that posts an action, with the session's CSRF token; shown only to a logged-in
/// viewer (the server checks again).
pub(crate) fn action(viewer: &Viewer, path: &str, label: &str, with_reason: bool) -> Markup {
    html! {
        @if let Some(csrf) = viewer.csrf() {
            form.act method="post" action=(path) {
                input type="hidden" name="csrf" value=(csrf);
                @if with_reason { input type="text" name="reason" placeholder="reason (optional)" aria-label="reason"; }
                button type="submit" name="do" value=(label) { (label) }
            }
        }
    }
}
