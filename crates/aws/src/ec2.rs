//! EC2 `DescribeInstances` (Query protocol, API version 2016-11-15): the instances a set
//! of filters selects, every page of them, read from the XML answer by a pure parser.

use crate::{AwsError, Client};
use std::collections::BTreeMap;

/// The EC2 API version fearless speaks.
pub const VERSION: &str = "2016-11-15";

/// Instances asked for per page (EC2 takes 5 to 1000).
pub const PAGE: u32 = 1000;

/// One EC2 instance, as much of it as discovery uses.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Instance {
    /// `i-0123456789abcdef0`.
    pub id: String,
    /// `running`, `stopped`, …
    pub state: String,
    /// The private IPv4 address.
    pub private_ip: Option<String>,
    /// The public IPv4 address.
    pub public_ip: Option<String>,
    /// The private DNS name.
    pub private_dns: Option<String>,
    /// The availability zone.
    pub az: Option<String>,
    /// `t3.micro`, …
    pub instance_type: Option<String>,
    /// The AMI.
    pub image_id: Option<String>,
    /// `Linux/UNIX`, `Red Hat Enterprise Linux`, `Windows`, … (`platformDetails`, else
    /// `platform`).
    pub platform: Option<String>,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
}

/// One EC2 filter: a name (`tag:role`, `instance-state-name`) and the values any of
/// which matches (`*` and `?` wildcards as EC2 reads them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// The filter's name.
    pub name: String,
    /// Its values.
    pub values: Vec<String>,
}

/// Every instance the filters select, following `nextToken` through every page.
pub async fn describe_instances(
    client: &Client,
    filters: &[Filter],
) -> Result<Vec<Instance>, AwsError> {
    describe_instances_paged(client, filters, PAGE).await
}

/// [`describe_instances`] asking `page` instances a call (EC2 takes 5 to 1000).
pub async fn describe_instances_paged(
    client: &Client,
    filters: &[Filter],
    page: u32,
) -> Result<Vec<Instance>, AwsError> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut params = Vec::new();
        for (i, f) in filters.iter().enumerate() {
            params.push((format!("Filter.{}.Name", i + 1), f.name.clone()));
            for (j, v) in f.values.iter().enumerate() {
                params.push((format!("Filter.{}.Value.{}", i + 1, j + 1), v.clone()));
            }
        }
        params.push(("MaxResults".into(), page.clamp(5, 1000).to_string()));
        if let Some(t) = &token {
            params.push(("NextToken".into(), t.clone()));
        }
        let xml = client.query("DescribeInstances", VERSION, &params).await?;
        let page = parse_describe_instances(&xml).map_err(|detail| AwsError::Parse {
            service: "ec2",
            operation: "DescribeInstances",
            detail,
        })?;
        out.extend(page.instances);
        match page.next_token {
            Some(t) if Some(&t) != token.as_ref() => token = Some(t),
            _ => break,
        }
    }
    Ok(out)
}

/// One page of `DescribeInstances`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The instances of every reservation of the page.
    pub instances: Vec<Instance>,
    /// The next page's token, when there is one.
    pub next_token: Option<String>,
}

/// Read one `DescribeInstancesResponse`. Pure; never panics.
pub fn parse_describe_instances(xml: &str) -> Result<Page, String> {
    let doc = roxmltree::Document::parse(xml).map_err(|e| e.to_string())?;
    let root = doc.root_element();
    if !root.has_tag_name("DescribeInstancesResponse") {
        return Err(format!(
            "expected DescribeInstancesResponse, found {}",
            root.tag_name().name()
        ));
    }
    let mut instances = Vec::new();
    for reservation in items(child(root, "reservationSet")) {
        for inst in items(child(reservation, "instancesSet")) {
            let text = |name: &str| {
                child(inst, name)
                    .and_then(|n| n.text())
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned)
            };
            let Some(id) = text("instanceId") else {
                return Err("an instance without instanceId".into());
            };
            let state = child(inst, "instanceState")
                .and_then(|s| child(Some(s), "name"))
                .and_then(|n| n.text())
                .unwrap_or_default()
                .to_owned();
            let az = child(inst, "placement")
                .and_then(|p| child(Some(p), "availabilityZone"))
                .and_then(|n| n.text())
                .map(str::to_owned);
            let tags = items(child(inst, "tagSet"))
                .filter_map(|t| {
                    let k = child(Some(t), "key")?.text()?.to_owned();
                    let v = child(Some(t), "value")
                        .and_then(|n| n.text())
                        .unwrap_or_default()
                        .to_owned();
                    Some((k, v))
                })
                .collect();
            instances.push(Instance {
                state,
                private_ip: text("privateIpAddress"),
                public_ip: text("ipAddress"),
                private_dns: text("privateDnsName"),
                az,
                instance_type: text("instanceType"),
                image_id: text("imageId"),
                platform: text("platformDetails").or_else(|| text("platform")),
                tags,
                id,
            });
        }
    }
    let next_token = child(Some(root), "nextToken")
        .and_then(|n| n.text())
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned);
    Ok(Page {
        instances,
        next_token,
    })
}

fn child<'a, 'i>(
    node: impl Into<Option<roxmltree::Node<'a, 'i>>>,
    name: &str,
) -> Option<roxmltree::Node<'a, 'i>> {
    node.into()?
        .children()
        .find(|c| c.is_element() && c.tag_name().name() == name)
}

fn items<'a, 'i>(
    set: Option<roxmltree::Node<'a, 'i>>,
) -> impl Iterator<Item = roxmltree::Node<'a, 'i>> {
    set.into_iter()
        .flat_map(|s| s.children())
        .filter(|c| c.is_element() && c.tag_name().name() == "item")
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE_XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>r</requestId>
  <reservationSet>
    <item>
      <reservationId>r-1</reservationId>
      <instancesSet>
        <item>
          <instanceId>i-0abc</instanceId>
          <imageId>ami-1</imageId>
          <instanceState><code>16</code><name>running</name></instanceState>
          <privateDnsName>ip-10-0-0-5.ec2.internal</privateDnsName>
          <dnsName></dnsName>
          <instanceType>t3.micro</instanceType>
          <placement><availabilityZone>eu-west-1a</availabilityZone></placement>
          <privateIpAddress>10.0.0.5</privateIpAddress>
          <platformDetails>Linux/UNIX</platformDetails>
          <tagSet>
            <item><key>Name</key><value>web-1</value></item>
            <item><key>role</key><value>web</value></item>
            <item><key>empty</key></item>
          </tagSet>
          <blockDeviceMapping><item><deviceName>/dev/xvda</deviceName></item></blockDeviceMapping>
        </item>
      </instancesSet>
    </item>
  </reservationSet>
  <nextToken>tok2</nextToken>
</DescribeInstancesResponse>"#;

    #[test]
    fn a_page_is_read() {
        let page = parse_describe_instances(PAGE_XML).expect("parses");
        assert_eq!(page.next_token.as_deref(), Some("tok2"));
        let i = &page.instances[0];
        assert_eq!(i.id, "i-0abc");
        assert_eq!(i.state, "running");
        assert_eq!(i.private_ip.as_deref(), Some("10.0.0.5"));
        assert_eq!(i.public_ip, None);
        assert_eq!(i.az.as_deref(), Some("eu-west-1a"));
        assert_eq!(i.platform.as_deref(), Some("Linux/UNIX"));
        assert_eq!(i.tags.get("role").map(String::as_str), Some("web"));
        assert_eq!(i.tags.get("empty").map(String::as_str), Some(""));
        assert_eq!(i.tags.len(), 3, "block device items are not tags");
    }

    #[test]
    fn bad_answers_are_errors_not_panics() {
        assert!(parse_describe_instances("").is_err());
        assert!(parse_describe_instances("<Other/>").is_err());
        assert!(
            parse_describe_instances(
                "<DescribeInstancesResponse><reservationSet><item><instancesSet><item/></instancesSet></item></reservationSet></DescribeInstancesResponse>"
            )
            .is_err()
        );
        let empty = parse_describe_instances("<DescribeInstancesResponse/>").expect("empty");
        assert!(empty.instances.is_empty() && empty.next_token.is_none());
    }
}
