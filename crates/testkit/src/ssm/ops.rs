//! The operations: each reads its request shape, checks it as the service does, and
//! answers from the state.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::Notify;

use super::host::valid_instance_id;
use super::run;
use super::state::{Command, Invocation, InvocationStatus, Node, State};
use super::wire::{
    self, AwsError, INSTANCE_ID_PATTERN, Violations, epoch, first_chars, iso_duration, iso8601,
    list, plugin_output,
};
use super::{PingStatus, Shared};

/// The one document the endpoint runs.
pub(crate) const DOCUMENT: &str = "AWS-RunShellScript";
/// Its one plugin (schema 1.2: the plugin is the step).
pub(crate) const PLUGIN: &str = "aws:runShellScript";
/// `StandardOutputContent`: "the first 24,000 characters written by the plugin to stdout".
pub(crate) const STDOUT_LIMIT: usize = 24_000;
/// `StandardErrorContent`: "the first 8,000 characters written by the plugin to stderr".
pub(crate) const STDERR_LIMIT: usize = 8_000;
/// `CommandPlugin.Output`: at most 2,500 characters.
pub(crate) const PLUGIN_OUTPUT_LIMIT: usize = 2_500;
/// `InstanceIdList`: at most 50 ids.
pub(crate) const MAX_INSTANCE_IDS: usize = 50;
/// `TimeoutSeconds`: 30 to 2,592,000; 3,600 when absent.
pub(crate) const TIMEOUT_SECONDS: (i64, i64, u32) = (30, 2_592_000, 3_600);
/// `executionTimeout` of `AWS-RunShellScript`: 1 to 172,800 seconds; 3,600 by default.
pub(crate) const EXECUTION_TIMEOUT: (u32, u32, u32) = (1, 172_800, 3_600);
/// The agent version nodes report.
pub(crate) const AGENT_VERSION: &str = "3.3.1802.0";

/// A request body as the operation's input shape; a wrong type is a
/// `SerializationException`, as the service answers it.
fn parse<T: DeserializeOwned>(body: Value) -> Result<T, AwsError> {
    serde_json::from_value(body).map_err(|e| AwsError::serialization(e.to_string()))
}

/// `CommandId`: 36 characters.
fn check_command_id(v: &mut Violations, id: &str, member: &str) {
    let len = id.chars().count();
    if len > 36 {
        v.add(
            id,
            member,
            "Member must have length less than or equal to 36",
        );
    } else if len < 36 {
        v.add(
            id,
            member,
            "Member must have length greater than or equal to 36",
        );
    }
}

/// `InstanceId`: the pattern.
fn check_instance_id(v: &mut Violations, id: &str, member: &str) {
    if !valid_instance_id(id) {
        v.add(
            id,
            member,
            &format!("Member must satisfy regular expression pattern: {INSTANCE_ID_PATTERN}"),
        );
    }
}

/// `InstanceIdList`: at most 50, each of the pattern.
fn check_instance_ids(v: &mut Violations, ids: &[String], member: &str) {
    if ids.len() > MAX_INSTANCE_IDS {
        v.add(
            list(ids),
            member,
            &format!("Member must have length less than or equal to {MAX_INSTANCE_IDS}"),
        );
    }
    if ids.iter().any(|id| !valid_instance_id(id)) {
        v.add(
            list(ids),
            member,
            &format!(
                "Member must satisfy constraint: [Member must satisfy regular expression pattern: {INSTANCE_ID_PATTERN}]"
            ),
        );
    }
}

/// A page of `items` from `token` (the offset, as this endpoint writes it).
fn page<T>(
    items: Vec<T>,
    token: Option<&str>,
    max: usize,
) -> Result<(Vec<T>, Option<String>), AwsError> {
    let start = match token {
        None => 0,
        Some(t) => t
            .strip_prefix("fearless-ssm:")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| *n <= items.len())
            .ok_or_else(|| AwsError::new("InvalidNextToken", "The specified token isn't valid."))?,
    };
    let end = start.saturating_add(max).min(items.len());
    let next = (end < items.len()).then(|| format!("fearless-ssm:{end}"));
    let page = items.into_iter().skip(start).take(end - start).collect();
    Ok((page, next))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SendCommandRequest {
    instance_ids: Option<Vec<String>>,
    targets: Option<Vec<Value>>,
    document_name: Option<String>,
    document_version: Option<String>,
    timeout_seconds: Option<i64>,
    comment: Option<String>,
    parameters: Option<BTreeMap<String, Vec<String>>>,
    output_s3_region: Option<String>,
    output_s3_bucket_name: Option<String>,
    output_s3_key_prefix: Option<String>,
    max_concurrency: Option<String>,
    max_errors: Option<String>,
}

/// The script, its working directory and its execution timeout, from the parameters of
/// `AWS-RunShellScript` (`commands`, `workingDirectory`, `executionTimeout`).
fn run_shell_script(
    parameters: &BTreeMap<String, Vec<String>>,
) -> Result<(String, String, u32), AwsError> {
    let invalid = |m: String| AwsError::new("InvalidParameters", m);
    if let Some(unknown) = parameters.keys().find(|k| {
        !matches!(
            k.as_str(),
            "commands" | "workingDirectory" | "executionTimeout"
        )
    }) {
        return Err(invalid(format!(
            "Parameter \"{unknown}\" is not defined in document {DOCUMENT}."
        )));
    }
    let commands = parameters
        .get("commands")
        .map(Vec::as_slice)
        .unwrap_or_default();
    if commands.is_empty() {
        return Err(invalid(
            "Parameter \"commands\" is required and must have at least 1 item.".to_owned(),
        ));
    }
    let single = |name: &str| -> Result<Option<&str>, AwsError> {
        match parameters.get(name).map(Vec::as_slice) {
            None | Some([]) => Ok(None),
            Some([one]) => Ok(Some(one.as_str())),
            Some(_) => Err(invalid(format!("Parameter \"{name}\" takes one value."))),
        }
    };
    let (min, max, default) = EXECUTION_TIMEOUT;
    let execution_timeout = match single("executionTimeout")? {
        None => default,
        Some(value) => value
            .parse::<u32>()
            .ok()
            .filter(|n| (min..=max).contains(n) && !value.starts_with('0') && !value.starts_with('+'))
            .ok_or_else(|| {
                invalid(format!(
                    "Parameter \"executionTimeout\" has value \"{value}\" not matching the allowed pattern: a whole number of seconds from {min} to {max}."
                ))
            })?,
    };
    let working_directory = match single("workingDirectory")? {
        Some(dir) if dir.chars().count() > 4096 => {
            return Err(invalid(
                "Parameter \"workingDirectory\" is longer than 4096 characters.".to_owned(),
            ));
        }
        Some(dir) if !dir.is_empty() => dir.to_owned(),
        _ => "/".to_owned(),
    };
    Ok((commands.join("\n"), working_directory, execution_timeout))
}

/// `SendCommand`.
pub(crate) fn send_command(shared: &Arc<Shared>, body: Value) -> Result<Value, AwsError> {
    let req: SendCommandRequest = parse(body)?;
    let mut v = Violations::default();
    match &req.document_name {
        None => v.missing("documentName"),
        Some(name)
            if !(3..=128).contains(&name.len())
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-.:/".contains(&b)) =>
        {
            v.add(
                name,
                "documentName",
                r"Member must satisfy regular expression pattern: ^[a-zA-Z0-9_\-.:/]{3,128}$",
            );
        }
        Some(_) => {}
    }
    let ids = req.instance_ids.clone().unwrap_or_default();
    check_instance_ids(&mut v, &ids, "instanceIds");
    let (min, max, default_timeout) = TIMEOUT_SECONDS;
    if let Some(t) = req.timeout_seconds {
        if t < min {
            v.add(
                t,
                "timeoutSeconds",
                &format!("Member must have value greater than or equal to {min}"),
            );
        } else if t > max {
            v.add(
                t,
                "timeoutSeconds",
                &format!("Member must have value less than or equal to {max}"),
            );
        }
    }
    if let Some(comment) = &req.comment
        && comment.chars().count() > 100
    {
        v.add(
            comment,
            "comment",
            "Member must have length less than or equal to 100",
        );
    }
    if let Some(bucket) = &req.output_s3_bucket_name
        && !(3..=63).contains(&bucket.chars().count())
    {
        v.add(
            bucket,
            "outputS3BucketName",
            "Member must have length between 3 and 63",
        );
    }
    v.check()?;
    if req.targets.as_ref().is_some_and(|t| !t.is_empty()) {
        return Err(AwsError::new(
            "ValidationException",
            "Targets are not implemented by this test endpoint: send InstanceIds.",
        ));
    }
    if ids.is_empty() {
        return Err(AwsError::new(
            "ValidationException",
            "Either InstanceIds or Targets must be specified.",
        ));
    }
    let document = req.document_name.clone().unwrap_or_default();
    let document = document
        .rsplit("document/")
        .next()
        .unwrap_or(&document)
        .to_owned();
    if document != DOCUMENT {
        return Err(AwsError::new(
            "InvalidDocument",
            format!("Document with name {document} does not exist."),
        ));
    }
    let version = match req.document_version.as_deref() {
        None => "$DEFAULT".to_owned(),
        Some(v @ ("$DEFAULT" | "$LATEST" | "1")) => v.to_owned(),
        Some(other) => {
            return Err(AwsError::new(
                "InvalidDocumentVersion",
                format!("Document {DOCUMENT} has no version {other}."),
            ));
        }
    };
    let mut seen = std::collections::HashSet::new();
    if !ids.iter().all(|id| seen.insert(id.as_str())) {
        return Err(AwsError::bare("DuplicateInstanceId"));
    }
    let parameters = req.parameters.clone().unwrap_or_default();
    let (script, working_directory, execution_timeout) = run_shell_script(&parameters)?;
    let timeout_seconds = req
        .timeout_seconds
        .and_then(|t| u32::try_from(t).ok())
        .unwrap_or(default_timeout);
    let now = SystemTime::now();
    let instant = Instant::now();
    let delivery = shared
        .config
        .delivery_timeout
        .unwrap_or(Duration::from_secs(u64::from(timeout_seconds)));

    let mut state = shared.lock();
    if state.stopped {
        return Err(
            AwsError::new("ServiceUnavailable", "The endpoint has stopped.")
                .status(axum::http::StatusCode::SERVICE_UNAVAILABLE),
        );
    }
    let unknown: Vec<String> = ids
        .iter()
        .filter(|id| !state.node_index.contains_key(id.as_str()))
        .cloned()
        .collect();
    if !unknown.is_empty() {
        return Err(AwsError::new(
            "InvalidInstanceId",
            format!(
                "Instances [{}] not in a valid state for account {}",
                list(&unknown),
                shared.config.account
            ),
        ));
    }
    let invocations = ids
        .iter()
        .map(|id| Invocation {
            instance_id: id.clone(),
            node: state.node_index[id.as_str()],
            status: InvocationStatus::Pending,
            response_code: -1,
            started: None,
            ended: None,
            stdout: Vec::new(),
            stderr: Vec::new(),
            cancel: Arc::new(Notify::new()),
            pgid: None,
        })
        .collect();
    let command = Command {
        id: wire::uuid(),
        document_name: DOCUMENT.to_owned(),
        document_version: version,
        comment: req.comment.clone().unwrap_or_default(),
        parameters,
        script,
        working_directory,
        execution_timeout: Duration::from_secs(u64::from(execution_timeout)),
        timeout_seconds,
        delivery_deadline: instant + delivery,
        requested: now,
        visible_at: instant + shared.config.visible_after,
        output_s3_region: req
            .output_s3_region
            .clone()
            .unwrap_or_else(|| shared.config.region.clone()),
        output_s3_bucket: req.output_s3_bucket_name.clone().unwrap_or_default(),
        output_s3_prefix: req.output_s3_key_prefix.clone().unwrap_or_default(),
        max_concurrency: req
            .max_concurrency
            .clone()
            .unwrap_or_else(|| "50".to_owned()),
        max_errors: req.max_errors.clone().unwrap_or_else(|| "0".to_owned()),
        invocations,
    };
    let answer = json!({ "Command": command_json(&command) });
    let index = state.commands.len();
    state.command_index.insert(command.id.clone(), index);
    state.commands.push(command);
    state.tasks.retain(|t| !t.is_finished());
    for inv in 0..ids.len() {
        let task = tokio::spawn(run::drive(Arc::clone(shared), index, inv));
        state.tasks.push(task.abort_handle());
    }
    Ok(answer)
}

/// `Command` as `SendCommand` answers it.
fn command_json(c: &Command) -> Value {
    let ids: Vec<&str> = c
        .invocations
        .iter()
        .map(|i| i.instance_id.as_str())
        .collect();
    let count =
        |f: fn(InvocationStatus) -> bool| c.invocations.iter().filter(|i| f(i.status)).count();
    let expires =
        c.requested + Duration::from_secs(u64::from(c.timeout_seconds)) + c.execution_timeout;
    json!({
        "CommandId": c.id,
        "DocumentName": c.document_name,
        "DocumentVersion": c.document_version,
        "Comment": c.comment,
        "ExpiresAfter": epoch(expires),
        "Parameters": c.parameters,
        "InstanceIds": ids,
        "Targets": [],
        "RequestedDateTime": epoch(c.requested),
        "Status": "Pending",
        "StatusDetails": "Pending",
        "OutputS3Region": c.output_s3_region,
        "OutputS3BucketName": c.output_s3_bucket,
        "OutputS3KeyPrefix": c.output_s3_prefix,
        "MaxConcurrency": c.max_concurrency,
        "MaxErrors": c.max_errors,
        "TargetCount": c.invocations.len(),
        "CompletedCount": count(InvocationStatus::terminal),
        "ErrorCount": count(|s| matches!(s, InvocationStatus::Failed | InvocationStatus::ExecutionTimedOut)),
        "DeliveryTimedOutCount": count(|s| s == InvocationStatus::DeliveryTimedOut),
        "ServiceRole": "",
        "NotificationConfig": notification_config(),
        "CloudWatchOutputConfig": cloudwatch_config(),
        "TimeoutSeconds": c.timeout_seconds,
    })
}

fn notification_config() -> Value {
    json!({ "NotificationArn": "", "NotificationEvents": [], "NotificationType": "" })
}

fn cloudwatch_config() -> Value {
    json!({ "CloudWatchLogGroupName": "", "CloudWatchOutputEnabled": false })
}

/// The script's output as text, once the invocation has ended (empty before, as the
/// reference says of `StandardOutputContent`).
fn output(inv: &Invocation) -> (String, String) {
    if inv.status.terminal() && inv.started.is_some() {
        (
            String::from_utf8_lossy(&inv.stdout).into_owned(),
            String::from_utf8_lossy(&inv.stderr).into_owned(),
        )
    } else {
        (String::new(), String::new())
    }
}

/// The visible command `id`, if any.
fn visible<'a>(state: &'a State, id: &str) -> Option<&'a Command> {
    let c = &state.commands[*state.command_index.get(id)?];
    (Instant::now() >= c.visible_at).then_some(c)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetCommandInvocationRequest {
    command_id: Option<String>,
    instance_id: Option<String>,
    plugin_name: Option<String>,
}

/// `GetCommandInvocation`.
pub(crate) fn get_command_invocation(shared: &Shared, body: Value) -> Result<Value, AwsError> {
    let req: GetCommandInvocationRequest = parse(body)?;
    let mut v = Violations::default();
    match &req.command_id {
        None => v.missing("commandId"),
        Some(id) => check_command_id(&mut v, id, "commandId"),
    }
    match &req.instance_id {
        None => v.missing("instanceId"),
        Some(id) => check_instance_id(&mut v, id, "instanceId"),
    }
    if let Some(p) = &req.plugin_name
        && p.chars().count() < 4
    {
        v.add(
            p,
            "pluginName",
            "Member must have length greater than or equal to 4",
        );
    }
    v.check()?;
    let (command_id, instance_id) = (
        req.command_id.unwrap_or_default(),
        req.instance_id.unwrap_or_default(),
    );
    let state = shared.lock();
    let not_found = || AwsError::bare("InvocationDoesNotExist");
    let c = visible(&state, &command_id).ok_or_else(not_found)?;
    let inv = c
        .invocations
        .iter()
        .find(|i| i.instance_id == instance_id)
        .ok_or_else(not_found)?;
    if req.plugin_name.as_deref().is_some_and(|p| p != PLUGIN) {
        return Err(AwsError::bare("InvalidPluginName"));
    }
    let (stdout, stderr) = output(inv);
    let started = inv.started;
    let end = if inv.status.terminal() {
        inv.ended
    } else {
        None
    };
    let elapsed = started.map(|s| {
        end.unwrap_or_else(SystemTime::now)
            .duration_since(s)
            .unwrap_or_default()
    });
    Ok(json!({
        "CommandId": c.id,
        "InstanceId": inv.instance_id,
        "Comment": c.comment,
        "DocumentName": c.document_name,
        "DocumentVersion": c.document_version,
        "PluginName": PLUGIN,
        "ResponseCode": inv.response_code,
        "ExecutionStartDateTime": started.map(iso8601).unwrap_or_default(),
        "ExecutionElapsedTime": elapsed.map(iso_duration).unwrap_or_default(),
        "ExecutionEndDateTime": end.filter(|_| started.is_some()).map(iso8601).unwrap_or_default(),
        "Status": inv.status.status(),
        "StatusDetails": inv.status.details(),
        "StandardOutputContent": first_chars(&stdout, STDOUT_LIMIT),
        "StandardOutputUrl": "",
        "StandardErrorContent": first_chars(&stderr, STDERR_LIMIT),
        "StandardErrorUrl": "",
        "CloudWatchOutputConfig": cloudwatch_config(),
    }))
}

#[derive(Debug, Deserialize)]
struct CommandFilter {
    key: String,
    value: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListCommandInvocationsRequest {
    command_id: Option<String>,
    instance_id: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
    filters: Option<Vec<CommandFilter>>,
    #[serde(default)]
    details: bool,
}

/// `ListCommandInvocations`: newest command first, its invocations in the order of its
/// instance ids.
pub(crate) fn list_command_invocations(shared: &Shared, body: Value) -> Result<Value, AwsError> {
    let req: ListCommandInvocationsRequest = parse(body)?;
    let mut v = Violations::default();
    if let Some(id) = &req.command_id {
        check_command_id(&mut v, id, "commandId");
    }
    if let Some(id) = &req.instance_id {
        check_instance_id(&mut v, id, "instanceId");
    }
    if let Some(n) = req.max_results {
        if n < 1 {
            v.add(
                n,
                "maxResults",
                "Member must have value greater than or equal to 1",
            );
        } else if n > 50 {
            v.add(
                n,
                "maxResults",
                "Member must have value less than or equal to 50",
            );
        }
    }
    let filters = req.filters.unwrap_or_default();
    if filters.len() > 5 {
        v.add(
            filters.len(),
            "filters",
            "Member must have length less than or equal to 5",
        );
    }
    v.check()?;
    for f in &filters {
        // Status and DocumentName are implemented; InvokedAfter, InvokedBefore and
        // ExecutionStage are not (InvalidFilterKey, documented).
        if !matches!(f.key.as_str(), "Status" | "DocumentName") {
            return Err(AwsError::bare("InvalidFilterKey"));
        }
    }
    let max = req
        .max_results
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(50);
    let state = shared.lock();
    let now = Instant::now();
    let mut rows = Vec::new();
    for c in state.commands.iter().rev() {
        if now < c.visible_at || req.command_id.as_deref().is_some_and(|id| id != c.id) {
            continue;
        }
        for inv in &c.invocations {
            let wanted = req
                .instance_id
                .as_deref()
                .is_none_or(|id| id == inv.instance_id)
                && filters.iter().all(|f| match f.key.as_str() {
                    "Status" => f.value == inv.status.status(),
                    _ => f.value == c.document_name,
                });
            if wanted {
                rows.push((c, inv));
            }
        }
    }
    let (rows, next) = page(rows, req.next_token.as_deref(), max)?;
    let list: Vec<Value> = rows
        .into_iter()
        .map(|(c, inv)| invocation_json(c, inv, &state.nodes[inv.node], req.details))
        .collect();
    let mut answer = json!({ "CommandInvocations": list });
    if let Some(next) = next {
        answer["NextToken"] = Value::String(next);
    }
    Ok(answer)
}

/// A `CommandInvocation`, with its `CommandPlugins` when `details`.
fn invocation_json(c: &Command, inv: &Invocation, node: &Node, details: bool) -> Value {
    let plugins = if details {
        let (stdout, stderr) = output(inv);
        let mut plugin = json!({
            "Name": PLUGIN,
            "Status": inv.status.plugin_status(),
            "StatusDetails": inv.status.details(),
            "ResponseCode": inv.response_code,
            "Output": plugin_output(&stdout, &stderr, PLUGIN_OUTPUT_LIMIT),
            "StandardOutputUrl": "",
            "StandardErrorUrl": "",
            "OutputS3Region": c.output_s3_region,
            "OutputS3BucketName": c.output_s3_bucket,
            "OutputS3KeyPrefix": c.output_s3_prefix,
        });
        if let Some(started) = inv.started {
            plugin["ResponseStartDateTime"] = epoch(started);
            if let Some(ended) = inv.ended.filter(|_| inv.status.terminal()) {
                plugin["ResponseFinishDateTime"] = epoch(ended);
            }
        }
        vec![plugin]
    } else {
        Vec::new()
    };
    json!({
        "CommandId": c.id,
        "InstanceId": inv.instance_id,
        "InstanceName": node.name,
        "Comment": c.comment,
        "DocumentName": c.document_name,
        "DocumentVersion": c.document_version,
        "RequestedDateTime": epoch(c.requested),
        "Status": inv.status.status(),
        "StatusDetails": inv.status.details(),
        "TraceOutput": "",
        "StandardOutputUrl": "",
        "StandardErrorUrl": "",
        "CommandPlugins": plugins,
        "ServiceRole": "",
        "NotificationConfig": notification_config(),
        "CloudWatchOutputConfig": cloudwatch_config(),
    })
}

#[derive(Debug, Deserialize)]
struct InstanceInformationFilter {
    key: String,
    #[serde(rename = "valueSet")]
    value_set: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InstanceInformationStringFilter {
    key: String,
    values: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeInstanceInformationRequest {
    instance_information_filter_list: Option<Vec<InstanceInformationFilter>>,
    filters: Option<Vec<InstanceInformationStringFilter>>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

/// `DescribeInstanceInformation`.
pub(crate) fn describe_instance_information(
    shared: &Shared,
    body: Value,
) -> Result<Value, AwsError> {
    let req: DescribeInstanceInformationRequest = parse(body)?;
    let mut v = Violations::default();
    if let Some(n) = req.max_results {
        if n < 5 {
            v.add(
                n,
                "maxResults",
                "Member must have value greater than or equal to 5",
            );
        } else if n > 50 {
            v.add(
                n,
                "maxResults",
                "Member must have value less than or equal to 50",
            );
        }
    }
    let legacy = req.instance_information_filter_list.unwrap_or_default();
    let filters = req.filters.unwrap_or_default();
    for (i, f) in legacy.iter().enumerate() {
        if f.value_set.is_empty() || f.value_set.len() > 100 {
            v.add(
                list(&f.value_set),
                &format!("instanceInformationFilterList.{}.member.valueSet", i + 1),
                "Member must have length between 1 and 100",
            );
        }
    }
    for (i, f) in filters.iter().enumerate() {
        if f.values.is_empty() || f.values.len() > 100 {
            v.add(
                list(&f.values),
                &format!("filters.{}.member.values", i + 1),
                "Member must have length between 1 and 100",
            );
        }
    }
    v.check()?;
    if !legacy.is_empty() && !filters.is_empty() {
        return Err(AwsError::new(
            "InvalidInstanceInformationFilterValue",
            "InstanceInformationFilterList and Filters cannot be used together.",
        ));
    }
    let filters: Vec<(String, Vec<String>)> = legacy
        .into_iter()
        .map(|f| (f.key, f.value_set))
        .chain(filters.into_iter().map(|f| (f.key, f.values)))
        .collect();
    let state = shared.lock();
    for (key, values) in &filters {
        match key.as_str() {
            "InstanceIds" => {
                let bad: Vec<String> = values
                    .iter()
                    .filter(|id| {
                        !valid_instance_id(id) || !state.node_index.contains_key(id.as_str())
                    })
                    .cloned()
                    .collect();
                if !bad.is_empty() {
                    return Err(AwsError::new(
                        "InvalidInstanceId",
                        format!("Instances {} are not valid managed nodes.", list(&bad)),
                    ));
                }
            }
            "PingStatus" => {
                if let Some(bad) = values
                    .iter()
                    .find(|s| !matches!(s.as_str(), "Online" | "ConnectionLost" | "Inactive"))
                {
                    return Err(AwsError::new(
                        "InvalidInstanceInformationFilterValue",
                        format!("{bad} is not a valid PingStatus."),
                    ));
                }
            }
            "AgentVersion" | "PlatformTypes" | "ResourceType" | "ActivationIds" | "IamRole"
            | "AssociationStatus" | "tag-key" => {}
            k if k.starts_with("tag:") => {}
            _ => return Err(AwsError::bare("InvalidFilterKey")),
        }
    }
    let nodes: Vec<&Node> = state
        .nodes
        .iter()
        .filter(|n| filters.iter().all(|(k, values)| node_matches(n, k, values)))
        .collect();
    let max = req
        .max_results
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(10);
    let (nodes, next) = page(nodes, req.next_token.as_deref(), max)?;
    let list: Vec<Value> = nodes.into_iter().map(node_json).collect();
    let mut answer = json!({ "InstanceInformationList": list });
    if let Some(next) = next {
        answer["NextToken"] = Value::String(next);
    }
    Ok(answer)
}

/// `ResourceType` of a node: on-premises ids (`mi-`) are managed instances.
fn resource_type(node: &Node) -> &'static str {
    if node.id.starts_with("mi-") {
        "ManagedInstance"
    } else {
        "EC2Instance"
    }
}

/// Whether `node` passes one filter (tags: `Name` is the node's name, the only tag).
fn node_matches(node: &Node, key: &str, values: &[String]) -> bool {
    let any = |v: &str| values.iter().any(|x| x == v);
    match key {
        "InstanceIds" => any(&node.id),
        "PingStatus" => any(node.ping_status().as_str()),
        "AgentVersion" => any(AGENT_VERSION),
        "PlatformTypes" => any("Linux"),
        "ResourceType" => any(resource_type(node)),
        "tag:Name" => any(&node.name),
        "tag-key" => any("Name"),
        _ => false,
    }
}

/// An `InstanceInformation`.
fn node_json(node: &Node) -> Value {
    let ping = node.ping_status();
    let last_ping = if ping == PingStatus::Online {
        SystemTime::now()
    } else {
        node.last_ping
    };
    let source_type = if node.id.starts_with("mi-") {
        "AWS::SSM::ManagedInstance"
    } else {
        "AWS::EC2::Instance"
    };
    json!({
        "InstanceId": node.id,
        "PingStatus": ping.as_str(),
        "LastPingDateTime": epoch(last_ping),
        "AgentVersion": AGENT_VERSION,
        "IsLatestVersion": true,
        "PlatformType": "Linux",
        "PlatformName": node.facts.platform_name,
        "PlatformVersion": node.facts.platform_version,
        "ResourceType": resource_type(node),
        "Name": node.name,
        "IPAddress": node.address.to_string(),
        "ComputerName": node.name,
        "RegistrationDate": epoch(node.registered),
        "SourceId": node.id,
        "SourceType": source_type,
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CancelCommandRequest {
    command_id: Option<String>,
    instance_ids: Option<Vec<String>>,
}

/// `CancelCommand`: pending invocations are cancelled at once; running ones become
/// `Cancelling` until their process group is killed.
pub(crate) fn cancel_command(shared: &Shared, body: Value) -> Result<Value, AwsError> {
    let req: CancelCommandRequest = parse(body)?;
    let mut v = Violations::default();
    match &req.command_id {
        None => v.missing("commandId"),
        Some(id) => check_command_id(&mut v, id, "commandId"),
    }
    let ids = req.instance_ids.unwrap_or_default();
    check_instance_ids(&mut v, &ids, "instanceIds");
    v.check()?;
    let mut seen = std::collections::HashSet::new();
    if !ids.iter().all(|id| seen.insert(id.as_str())) {
        return Err(AwsError::bare("DuplicateInstanceId"));
    }
    let mut state = shared.lock();
    let index = *state
        .command_index
        .get(req.command_id.as_deref().unwrap_or_default())
        .ok_or_else(|| AwsError::bare("InvalidCommandId"))?;
    let command = &mut state.commands[index];
    if let Some(bad) = ids
        .iter()
        .find(|id| !command.invocations.iter().any(|i| &i.instance_id == *id))
    {
        return Err(AwsError::new(
            "InvalidInstanceId",
            format!("Instance {bad} is not a target of command {}.", command.id),
        ));
    }
    for inv in &mut command.invocations {
        if !ids.is_empty() && !ids.contains(&inv.instance_id) {
            continue;
        }
        match inv.status {
            InvocationStatus::Pending => {
                inv.status = InvocationStatus::Cancelled;
                inv.ended = Some(SystemTime::now());
                inv.cancel.notify_one();
            }
            InvocationStatus::InProgress => {
                inv.status = InvocationStatus::Cancelling;
                inv.cancel.notify_one();
            }
            _ => {}
        }
    }
    Ok(json!({}))
}
