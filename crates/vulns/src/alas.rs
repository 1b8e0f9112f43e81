//! Amazon Linux ALAS as its repositories publish it: a yum `updateinfo.xml`
//! (`<updates><update type="security"><id>ALAS2-2024-2500</id>… <references><reference
//! type="cve" id="CVE-…"/>… <pkglist><collection short="amazon-linux-2"><package name=
//! epoch= version= release= arch=/>`). ALAS lists the **binary** RPMs an update fixes, so its
//! entries match binary names, each fixed at its package's `epoch:version-release`. The
//! release comes from the collection (`amazon-linux-2`, `amazon-linux-2--…` extras,
//! `amazon-linux-2023`), else the id (`ALAS2023-`, `ALAS2-`); the original Amazon Linux
//! AMI (`ALAS-`) is counted, not matched. Updates that are not `type="security"` are
//! counted.

use fearless_pkg::version::Kind;

use crate::error::FeedError;
use crate::model::{Advisory, Affected, By, FeedSource, Rule, Scope, version};

/// Read an updateinfo document (`text`, from `at`) into `out`.
pub(crate) fn parse(
    text: &str,
    at: &str,
    source: usize,
    src: &mut FeedSource,
    out: &mut Vec<Advisory>,
) -> Result<(), FeedError> {
    let doc = roxmltree::Document::parse(text).map_err(|e| {
        let p = e.pos();
        let message = e.to_string();
        // roxmltree ends its messages with " at L:C": the location goes in front.
        let message = match message.rfind(" at ") {
            Some(i) => message[..i].to_owned(),
            None => message,
        };
        FeedError::new(format!("{at}:{}:{}", p.row, p.col), message)
    })?;
    let root = doc.root_element();
    let located = |node: roxmltree::Node<'_, '_>, message: String| {
        let p = doc.text_pos_at(node.range().start);
        FeedError::new(format!("{at}:{}:{}", p.row, p.col), message)
    };
    if root.tag_name().name() != "updates" {
        return Err(located(
            root,
            format!(
                "<{}>: an updateinfo document is <updates>",
                root.tag_name().name()
            ),
        ));
    }
    for update in root.children().filter(|n| n.has_tag_name("update")) {
        src.records += 1;
        let child_text = |name: &str| {
            update
                .children()
                .find(|n| n.has_tag_name(name))
                .and_then(|n| n.text())
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty())
        };
        let Some(id) = child_text("id") else {
            return Err(located(update, "<update> without an <id>".into()));
        };
        if update.attribute("type") != Some("security") {
            src.unmatched(format!(
                "{} update",
                update.attribute("type").unwrap_or("untyped")
            ));
            continue;
        }
        let aliases: Vec<String> = update
            .descendants()
            .filter(|n| n.has_tag_name("reference") && n.attribute("type") == Some("cve"))
            .filter_map(|n| n.attribute("id").map(str::to_owned))
            .collect();
        let mut affected: Vec<Affected> = Vec::new();
        for collection in update
            .descendants()
            .filter(|n| n.has_tag_name("collection"))
        {
            let Some(scope) = scope(collection.attribute("short"), &id) else {
                src.unmatched("Amazon Linux AMI (1)");
                continue;
            };
            for p in collection.children().filter(|n| n.has_tag_name("package")) {
                let attr = |a: &str| p.attribute(a).map(str::trim).filter(|v| !v.is_empty());
                let (Some(name), Some(v)) = (attr("name"), attr("version")) else {
                    return Err(located(
                        p,
                        format!("{id}: a <package> needs name and version"),
                    ));
                };
                let mut evr = String::new();
                if let Some(e) = attr("epoch").filter(|e| *e != "0") {
                    evr.push_str(e);
                    evr.push(':');
                }
                evr.push_str(v);
                if let Some(r) = attr("release") {
                    evr.push('-');
                    evr.push_str(r);
                }
                let fixed = version(Kind::Rpm, &evr)
                    .map_err(|m| located(p, format!("{id}: package {name}: {m}")))?;
                if affected
                    .iter()
                    .any(|a| &*a.package == name && a.scope == scope)
                {
                    // The same package for another architecture.
                    continue;
                }
                *src.scopes.entry(scope.to_string()).or_default() += 1;
                affected.push(Affected {
                    scope: scope.clone(),
                    by: By::Binary,
                    package: name.into(),
                    rule: Rule::FixedIn(fixed),
                    status: None,
                });
            }
        }
        if affected.is_empty() {
            continue;
        }
        out.push(Advisory {
            summary: child_text("title").map(Into::into),
            severity: child_text("severity").map(Into::into),
            id: id.into(),
            aliases: aliases.into(),
            source,
            affected,
        });
    }
    Ok(())
}

/// The release of a collection (`short`), else of the advisory id.
fn scope(short: Option<&str>, id: &str) -> Option<Scope> {
    let al = |c: &str| Some(Scope::new("amazon-linux", c));
    match short {
        Some(s) if s.starts_with("amazon-linux-2023") => al("2023"),
        Some(s) if s == "amazon-linux-2" || s.starts_with("amazon-linux-2-") => al("2"),
        _ if id.starts_with("ALAS2023") => al("2023"),
        _ if id.starts_with("ALAS2") => al("2"),
        _ => None,
    }
}
