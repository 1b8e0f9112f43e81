//! A lab fleet reached only through AWS Systems Manager Run Command: the test kit's local
//! SSM endpoint runs each script inside its lab host (its namespaces and root), and every
//! host's sshd is stopped. `check` and `packages` answer as over ssh; a rollout killed
//! mid-apply resumes to every host verified once; bad-libacme fails the canary, which is
//! rolled back and bisected to libacme — the same ends as over ssh. Needs root.

use super::lab_patch::{approved, json, kill_when, patch, resume, version_on};
use super::{TestLab, exits, fearless, stdout};
use fearless_testkit::ssm::{Instance, Operation, Runner, SsmEndpoint, SsmOptions};

/// The lab's hosts as SSM instances (scripts run inside each host's init namespaces).
fn endpoint(rt: &tokio::runtime::Runtime, dir: &str) -> SsmEndpoint {
    let status: serde_json::Value = serde_json::from_str(&stdout(&fearless(&[
        "lab", "status", "--dir", dir, "--format", "json",
    ])))
    .expect("lab status");
    let instances = status["hosts"]
        .as_array()
        .expect("hosts")
        .iter()
        .map(|h| {
            let pid = h["init_pid"]
                .as_u64()
                .and_then(|p| u32::try_from(p).ok())
                .expect("init pid");
            Instance::named(h["name"].as_str().expect("name"), Runner::Namespace { pid })
        })
        .collect();
    rt.block_on(SsmEndpoint::start(
        instances,
        SsmOptions::new().region("eu-west-1"),
    ))
    .expect("endpoint")
}

/// The lab's config with every host on the `ssm` transport through `endpoint`.
fn ssm_config(lab: &TestLab, endpoint: &SsmEndpoint) -> String {
    lab.config_variant("ssm", |text| {
        let mut out = String::new();
        for line in text.lines() {
            let trimmed = line.trim_start();
            if trimmed.starts_with("defaults:") && line.starts_with("  defaults:") {
                out.push_str(
                    "  defaults: { user: root, port: 22, transport: ssm, region: eu-west-1 }\n",
                );
                out.push_str(&format!(
                    "  ssm: {{ endpoint_url: \"{}\" }}\n",
                    endpoint.url()
                ));
                continue;
            }
            let host = trimmed.split(':').next().unwrap_or_default();
            if line.starts_with("    ")
                && !line.starts_with("     ")
                && let Some(id) = endpoint.instance_id(host)
            {
                out.push_str(&line.replacen("{ ", &format!("{{ instance: {id}, "), 1));
                out.push('\n');
                continue;
            }
            out.push_str(line);
            out.push('\n');
        }
        out
    })
}

#[test]
fn an_ssm_only_fleet_checks_patches_rolls_back_bisects_and_resumes_as_over_ssh() {
    let lab = TestLab::up(&["--hosts", "2"]);
    let (d, c) = (lab.dir.clone(), lab.config.clone());
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let ep = endpoint(&rt, &d);
    let s = ssm_config(&lab, &ep);

    // What ssh sees, before sshd stops; SSM reaches the hosts too.
    let over_ssh = json(&c, &["packages"]);
    let check_ssh = json(&c, &["check"]);
    let status: serde_json::Value = serde_json::from_str(&stdout(&fearless(&[
        "lab", "status", "--dir", &d, "--format", "json",
    ])))
    .expect("lab status");
    for h in status["hosts"].as_array().expect("hosts") {
        let pid = h["init_pid"].as_u64().expect("pid").to_string();
        let out = std::process::Command::new("nsenter")
            .args([
                "-t", &pid, "-m", "-u", "-i", "-p", "-r", "--wd=/", "--", "pkill", "-x", "sshd",
            ])
            .output()
            .expect("nsenter");
        assert!(
            out.status.success(),
            "stop sshd: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // ssh reaches nobody now.
    exits(1, &["hosts", "ping", "-c", &c]);
    let (ping, _) = exits(0, &["hosts", "ping", "-c", &s, "--format", "json"]);
    let ping: serde_json::Value = serde_json::from_str(&ping).expect("json");
    for h in ping["hosts"].as_array().expect("hosts") {
        assert_eq!(h["reachable"], true, "{h}");
    }

    // The test plan and the package inventory answer as over ssh.
    let check_ssm = json(&s, &["check"]);
    let statuses = |v: &serde_json::Value| -> Vec<(String, String, String)> {
        let mut all: Vec<_> = v["results"]
            .as_array()
            .expect("results")
            .iter()
            .map(|r| {
                (
                    r["check"].to_string(),
                    r["host"].to_string(),
                    r["status"].to_string(),
                )
            })
            .collect();
        all.sort();
        all
    };
    assert_eq!(statuses(&check_ssm), statuses(&check_ssh));
    assert_eq!(json(&s, &["packages"])["hosts"], over_ssh["hosts"]);

    // Killed while the canary applies: resume ends with every host verified on the
    // manifest (the transaction ran on, detached, on the host).
    lab.publish("routine");
    let first = approved(&s, "routine over ssm");
    kill_when(&s, &first, 1, "rollout.host.applying");
    let resumed = resume(&s, "R-1", 0);
    assert_eq!(resumed["state"], "completed", "{resumed}");
    for h in json(&s, &["rollout", "show", "R-1"])["hosts"]
        .as_array()
        .expect("hosts")
    {
        assert_eq!(h["state"], "verified", "{h}");
    }
    for host in ["web-1", "web-2"] {
        assert_eq!(version_on(&s, host, "acme-api"), "1.1", "{host}");
    }

    // bad-libacme: the canary fails, is rolled back and bisected to libacme; web-2 is
    // never touched.
    lab.publish("bad-libacme");
    let second = approved(&s, "libacme 2 over ssm");
    let failed = patch(&s, &second, "1,100%", "1s", 1);
    assert_eq!(failed["state"], "backed-out", "{failed}");
    let hosts = failed["result"]["hosts"].as_array().expect("hosts");
    assert_eq!(hosts.len(), 1, "only the canary: {hosts:?}");
    assert_eq!(hosts[0]["state"], "rolled-back");
    let inc = failed["result"]["incident"].as_str().expect("incident");
    let incident = json(&s, &["incident", "show", inc]);
    assert_eq!(
        incident["record"]["bisect"]["report"]["verdict"]["packages"],
        serde_json::json!(["libacme"]),
        "{incident}"
    );
    assert_eq!(version_on(&s, "web-1", "libacme"), "1.0");
    assert_eq!(version_on(&s, "web-2", "libacme"), "1.0");

    // Batching: identical scripts to both hosts went in shared SendCommands.
    let calls = ep.calls();
    assert!(
        calls.get(Operation::SendCommand) < calls.get(Operation::GetCommandInvocation),
        "{:?}",
        calls.iter().collect::<Vec<_>>()
    );
}
