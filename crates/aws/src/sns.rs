//! The Amazon SNS operations the `sns` event sink calls (Query protocol, API 2010-03-31):
//! `Publish` and, to probe the topic, `GetTopicAttributes`.

use crate::{AwsError, Client};

const VERSION: &str = "2010-03-31";

/// An SNS client: [`Client`] for the `sns` service.
#[derive(Debug)]
pub struct Sns {
    client: Client,
}

impl Sns {
    /// Wrap a client made for the `sns` service.
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// The client underneath.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// `Publish` `message` to `topic_arn` with string message attributes.
    pub async fn publish(
        &self,
        topic_arn: &str,
        message: &str,
        attributes: &[(&str, &str)],
    ) -> Result<(), AwsError> {
        self.client
            .query(
                "Publish",
                VERSION,
                &publish_params(topic_arn, message, attributes),
            )
            .await
            .map(|_| ())
    }

    /// `GetTopicAttributes`: whether the topic exists and may be read.
    pub async fn get_topic_attributes(&self, topic_arn: &str) -> Result<(), AwsError> {
        self.client
            .query(
                "GetTopicAttributes",
                VERSION,
                &[("TopicArn".to_owned(), topic_arn.to_owned())],
            )
            .await
            .map(|_| ())
    }
}

/// `Publish`'s form parameters: attributes as `MessageAttributes.entry.N.*`.
fn publish_params(
    topic_arn: &str,
    message: &str,
    attributes: &[(&str, &str)],
) -> Vec<(String, String)> {
    let mut params = vec![
        ("TopicArn".to_owned(), topic_arn.to_owned()),
        ("Message".to_owned(), message.to_owned()),
    ];
    for (i, (name, value)) in attributes.iter().enumerate() {
        let entry = format!("MessageAttributes.entry.{}", i + 1);
        params.push((format!("{entry}.Name"), (*name).to_owned()));
        params.push((format!("{entry}.Value.DataType"), "String".to_owned()));
        params.push((format!("{entry}.Value.StringValue"), (*value).to_owned()));
    }
    params
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_numbered_entries() {
        let p = publish_params("arn:aws:sns:us-east-1:1:t", "{}", &[("type", "x.y")]);
        let get = |k: &str| p.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("TopicArn"), Some("arn:aws:sns:us-east-1:1:t"));
        assert_eq!(get("MessageAttributes.entry.1.Name"), Some("type"));
        assert_eq!(
            get("MessageAttributes.entry.1.Value.DataType"),
            Some("String")
        );
        assert_eq!(
            get("MessageAttributes.entry.1.Value.StringValue"),
            Some("x.y")
        );
    }
}
