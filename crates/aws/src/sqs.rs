//! The Amazon SQS operations fearless calls (AWS JSON 1.0, `AmazonSQS.*`): the `sqs` check
//! kind's round trip and queue inspection, and the `sqs` event sink's `SendMessage`.

use crate::{AwsError, Client};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The JSON protocol's target prefix.
const TARGET: &str = "AmazonSQS";

/// A string message attribute (`DataType: String`), the only kind fearless sends or reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Attribute {
    /// `String`, `Number`, `Binary`, or a custom `String.x`.
    pub data_type: String,
    /// The value, for string and number types.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string_value: Option<String>,
}

impl Attribute {
    /// A `String` attribute.
    pub fn string(value: impl Into<String>) -> Self {
        Self {
            data_type: "String".into(),
            string_value: Some(value.into()),
        }
    }
}

/// `SendMessage`'s input.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SendMessage {
    /// The queue's URL.
    pub queue_url: String,
    /// The body (at most 256 KiB).
    pub message_body: String,
    /// Message attributes by name.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub message_attributes: BTreeMap<String, Attribute>,
    /// FIFO queues: the message group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_group_id: Option<String>,
    /// FIFO queues: the deduplication id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_deduplication_id: Option<String>,
}

/// `ReceiveMessage`'s input.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReceiveMessage {
    /// The queue's URL.
    pub queue_url: String,
    /// 1–10.
    pub max_number_of_messages: u8,
    /// Long poll, 0–20 s.
    pub wait_time_seconds: u32,
    /// How long received messages stay hidden.
    pub visibility_timeout: u32,
    /// Message attributes to return.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub message_attribute_names: Vec<String>,
    /// System attributes to return (`SentTimestamp`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub message_system_attribute_names: Vec<String>,
}

/// A received message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Message {
    /// SQS's id of the message.
    pub message_id: Option<String>,
    /// What deletes it or changes its visibility.
    pub receipt_handle: Option<String>,
    /// The body.
    pub body: Option<String>,
    /// System attributes asked for (`SentTimestamp`: milliseconds since the epoch).
    pub attributes: BTreeMap<String, String>,
    /// Message attributes asked for.
    pub message_attributes: BTreeMap<String, Attribute>,
}

impl Message {
    /// A string message attribute's value.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.message_attributes.get(name)?.string_value.as_deref()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct QueueUrlOutput {
    queue_url: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct ReceiveOutput {
    messages: Vec<Message>,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct AttributesOutput {
    attributes: BTreeMap<String, String>,
}

/// Anything SQS answers that fearless does not read.
#[derive(Deserialize)]
struct Ignored {}

/// An SQS client: [`Client`] for the `sqs` service.
#[derive(Debug)]
pub struct Sqs {
    client: Client,
}

impl Sqs {
    /// Wrap a client made for the `sqs` service.
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// The client underneath (region, endpoint, calls).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// `GetQueueUrl` of `name`, owned by `account` when given. `Ok(None)`: SQS answered
    /// without a URL.
    pub async fn get_queue_url(
        &self,
        name: &str,
        account: Option<&str>,
    ) -> Result<Option<String>, AwsError> {
        #[derive(Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct Req<'a> {
            queue_name: &'a str,
            #[serde(
                rename = "QueueOwnerAWSAccountId",
                skip_serializing_if = "Option::is_none"
            )]
            account: Option<&'a str>,
        }
        let out: QueueUrlOutput = self
            .client
            .json_1_0(
                TARGET,
                "GetQueueUrl",
                &Req {
                    queue_name: name,
                    account,
                },
            )
            .await?;
        Ok(out.queue_url)
    }

    /// `SendMessage`.
    pub async fn send_message(&self, req: &SendMessage) -> Result<(), AwsError> {
        let _: Ignored = self.client.json_1_0(TARGET, "SendMessage", req).await?;
        Ok(())
    }

    /// `ReceiveMessage`: the messages received (none when the poll ended empty).
    pub async fn receive_message(&self, req: &ReceiveMessage) -> Result<Vec<Message>, AwsError> {
        let out: ReceiveOutput = self.client.json_1_0(TARGET, "ReceiveMessage", req).await?;
        Ok(out.messages)
    }

    /// `DeleteMessage`.
    pub async fn delete_message(
        &self,
        queue_url: &str,
        receipt_handle: &str,
    ) -> Result<(), AwsError> {
        #[derive(Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct Req<'a> {
            queue_url: &'a str,
            receipt_handle: &'a str,
        }
        let _: Ignored = self
            .client
            .json_1_0(
                TARGET,
                "DeleteMessage",
                &Req {
                    queue_url,
                    receipt_handle,
                },
            )
            .await?;
        Ok(())
    }

    /// `ChangeMessageVisibility` (0: visible again at once).
    pub async fn change_message_visibility(
        &self,
        queue_url: &str,
        receipt_handle: &str,
        visibility_timeout: u32,
    ) -> Result<(), AwsError> {
        #[derive(Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct Req<'a> {
            queue_url: &'a str,
            receipt_handle: &'a str,
            visibility_timeout: u32,
        }
        let _: Ignored = self
            .client
            .json_1_0(
                TARGET,
                "ChangeMessageVisibility",
                &Req {
                    queue_url,
                    receipt_handle,
                    visibility_timeout,
                },
            )
            .await?;
        Ok(())
    }

    /// `GetQueueAttributes` of `names` (`ApproximateNumberOfMessages`, `RedrivePolicy`, …):
    /// those the queue has, by name.
    pub async fn get_queue_attributes(
        &self,
        queue_url: &str,
        names: &[&str],
    ) -> Result<BTreeMap<String, String>, AwsError> {
        #[derive(Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct Req<'a> {
            queue_url: &'a str,
            attribute_names: &'a [&'a str],
        }
        let out: AttributesOutput = self
            .client
            .json_1_0(
                TARGET,
                "GetQueueAttributes",
                &Req {
                    queue_url,
                    attribute_names: names,
                },
            )
            .await?;
        Ok(out.attributes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_the_json_sqs_expects() {
        let mut req = SendMessage {
            queue_url: "http://q/1/orders".into(),
            message_body: "hi".into(),
            ..SendMessage::default()
        };
        req.message_attributes
            .insert("type".into(), Attribute::string("fearless.rollout.started"));
        assert_eq!(
            serde_json::to_value(&req).expect("serialises"),
            serde_json::json!({
                "QueueUrl": "http://q/1/orders",
                "MessageBody": "hi",
                "MessageAttributes": {"type": {"DataType": "String", "StringValue": "fearless.rollout.started"}}
            })
        );
    }

    #[test]
    fn answers_are_read_with_what_is_missing_left_empty() {
        let out: ReceiveOutput = serde_json::from_str(
            r#"{"Messages":[{"MessageId":"m","ReceiptHandle":"h","Body":"b",
                "Attributes":{"SentTimestamp":"1700000000000"},
                "MessageAttributes":{"fearless-check":{"DataType":"String","StringValue":"t"}}}]}"#,
        )
        .expect("parses");
        assert_eq!(out.messages[0].attribute("fearless-check"), Some("t"));
        assert_eq!(out.messages[0].attributes["SentTimestamp"], "1700000000000");
        let empty: ReceiveOutput = serde_json::from_str("{}").expect("parses");
        assert!(empty.messages.is_empty());
    }
}
