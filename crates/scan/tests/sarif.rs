//! The SARIF log of the Python corpus, checked against the structure SARIF 2.1.0 requires
//! (the required properties and enumerations of the OASIS schema that fearless writes, by
//! hand: the schema file itself could not be vendored offline) and snapshot-tested.

#![allow(clippy::unwrap_used)]

use std::path::Path;

use fearless_scan::{RuleSet, ScanOptions, sarif::sarif, scan};
use serde_json::Value;

#[test]
fn sarif_has_the_required_structure() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/python");
    let report = scan(&ScanOptions::new(vec![root], RuleSet::builtin().unwrap())).unwrap();
    let log = sarif(&report);
    assert_eq!(log["version"], "2.1.0");
    assert!(log["$schema"].as_str().unwrap().starts_with("https://"));
    let runs = log["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    let driver = &runs[0]["tool"]["driver"];
    assert_eq!(driver["name"], "fearless");
    let rules = driver["rules"].as_array().unwrap();
    let ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
    let mut unique = ids.clone();
    unique.dedup();
    assert_eq!(ids, unique);
    for r in rules {
        assert!(
            r["shortDescription"]["text"]
                .as_str()
                .is_some_and(|t| !t.is_empty())
        );
        let id = r["id"].as_str().unwrap();
        assert_eq!(r["helpUri"], format!("docs/rules/{id}.md"));
        assert!(
            ["none", "note", "warning", "error"]
                .contains(&r["defaultConfiguration"]["level"].as_str().unwrap())
        );
    }
    let results = runs[0]["results"].as_array().unwrap();
    assert_eq!(results.len(), report.findings.len());
    for res in results {
        assert!(
            res["message"]["text"]
                .as_str()
                .is_some_and(|t| !t.is_empty())
        );
        assert!(["none", "note", "warning", "error"].contains(&res["level"].as_str().unwrap()));
        let i = res["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[i]["id"], res["ruleId"]);
        let locs = res["locations"].as_array().unwrap();
        for loc in locs
            .iter()
            .chain(res["relatedLocations"].as_array().into_iter().flatten())
        {
            let pl = &loc["physicalLocation"];
            let uri = pl["artifactLocation"]["uri"].as_str().unwrap();
            assert!(!uri.is_empty() && !uri.contains(' '));
            let region = &pl["region"];
            assert!(region["startLine"].as_u64().unwrap() >= 1);
            assert!(region["startColumn"].as_u64().unwrap() >= 1);
            if let Some(end) = region["endLine"].as_u64() {
                assert!(end >= region["startLine"].as_u64().unwrap());
            }
        }
        assert!(res["partialFingerprints"]["fearless/v1"].is_string());
    }
    let lock_in: Vec<&Value> = results
        .iter()
        .filter(|r| r["ruleId"] == "lock-in")
        .collect();
    assert_eq!(lock_in.len(), 1);
    assert_eq!(lock_in[0]["relatedLocations"].as_array().unwrap().len(), 2);
    insta::assert_json_snapshot!("python_sarif", log);
}
