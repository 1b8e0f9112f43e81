//! `inventory.ec2`: the instances a source's filters select, as hosts.
//!
//! [`fetch`] asks EC2 (and, when the source leaves the transport to the instance, SSM's
//! `DescribeInstanceInformation`, to know which instances are managed nodes); [`hosts`]
//! turns what was fetched into inventory hosts, purely — so a cached fetch gives the same
//! hosts. A host name or address that the inventory's rules refuse is not guessed at: the
//! instance is left out and the reason noted.

use crate::ec2::{self, Filter, Instance};
use crate::ssm::Ssm;
use crate::{AwsError, Client, ClientOptions};
use fearless_config::{
    Ec2Address, Ec2Source, Host, HostSource, NamePart, SsmOptions, TransportKind,
};
use std::collections::{BTreeMap, BTreeSet};

/// What one source found: its instances, and which are SSM managed nodes (asked only when
/// the source leaves the transport to the instance).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Fetched {
    /// The instances, in EC2's order.
    pub instances: Vec<Instance>,
    /// Ids of the managed nodes among them (`Online` or not), when asked.
    pub managed: Option<BTreeSet<String>>,
}

/// Ask EC2 for the source's instances (every page) and, when its transport is left to the
/// instance, SSM for which of them are managed nodes.
pub async fn fetch(source: &Ec2Source, ssm: &SsmOptions) -> Result<Fetched, AwsError> {
    let mut options = ClientOptions::new(source.region.clone());
    options.profile.clone_from(&source.profile);
    options.endpoint_url.clone_from(&source.endpoint_url);
    let client = Client::new("ec2", options)?;
    let filters: Vec<Filter> = source
        .filters
        .iter()
        .map(|(name, values)| Filter {
            name: name.clone(),
            values: values.clone(),
        })
        .collect();
    let instances = ec2::describe_instances(&client, &filters).await?;
    let managed = if source.transport.is_none() && !instances.is_empty() {
        let mut options = ClientOptions::new(source.region.clone());
        options.profile = ssm.profile.clone().or_else(|| source.profile.clone());
        options.endpoint_url = ssm
            .endpoint_url
            .clone()
            .or_else(|| source.endpoint_url.clone());
        let ssm = Ssm::new(Client::new("ssm", options)?);
        let ids: Vec<String> = instances.iter().map(|i| i.id.clone()).collect();
        let infos = ssm.describe_instance_information(&ids).await?;
        Some(infos.into_iter().map(|i| i.instance_id).collect())
    } else {
        None
    };
    Ok(Fetched { instances, managed })
}

/// Hosts made from a fetch, and the instances left out with why.
#[derive(Debug, Clone, Default)]
pub struct Made {
    /// The hosts, in EC2's order.
    pub hosts: Vec<Host>,
    /// `(instance id, why it is not a host)`.
    pub skipped: Vec<(String, String)>,
}

/// The hosts of a fetch, by the source's rules. Pure.
pub fn hosts(source: &Ec2Source, fetched: &Fetched) -> Made {
    let mut made = Made::default();
    for inst in &fetched.instances {
        match host_of(source, fetched, inst) {
            Ok(h) => made.hosts.push(h),
            Err(why) => made.skipped.push((inst.id.clone(), why)),
        }
    }
    made
}

fn host_of(source: &Ec2Source, fetched: &Fetched, inst: &Instance) -> Result<Host, String> {
    let name = match &source.name {
        Some(parts) => render_name(parts, source, inst)?,
        None => inst
            .tags
            .get("Name")
            .filter(|n| fearless_config::check_host_name(n).is_ok())
            .cloned()
            .unwrap_or_else(|| inst.id.clone()),
    };
    fearless_config::check_host_name(&name).map_err(|e| format!("its name `{name}`: {e}"))?;
    let transport = match source.transport {
        Some(t) => t,
        None if fetched
            .managed
            .as_ref()
            .is_some_and(|m| m.contains(&inst.id)) =>
        {
            TransportKind::Ssm
        }
        None => TransportKind::Ssh,
    };
    let address = match source.address {
        Ec2Address::PrivateIp => inst.private_ip.clone(),
        Ec2Address::PublicIp => inst.public_ip.clone(),
        Ec2Address::PrivateDns => inst.private_dns.clone(),
    };
    let address = match (address, transport) {
        (Some(a), _) => a,
        // Run Command needs no address: the name stands in for it.
        (None, TransportKind::Ssm) => name.clone(),
        (None, _) => {
            return Err(format!(
                "it has no {} (state {})",
                match source.address {
                    Ec2Address::PrivateIp => "private IP address",
                    Ec2Address::PublicIp => "public IP address",
                    Ec2Address::PrivateDns => "private DNS name",
                },
                inst.state
            ));
        }
    };
    fearless_config::check_address(&address).map_err(|e| format!("its address: {e}"))?;
    let mut labels: BTreeMap<String, String> = source.defaults.labels.clone();
    for (k, v) in &inst.tags {
        if k.starts_with("aws:") || k.chars().chain(v.chars()).any(char::is_control) {
            continue;
        }
        labels.insert(k.clone(), v.clone());
    }
    for (k, v) in [
        ("az", &inst.az),
        ("instance-type", &inst.instance_type),
        ("image-id", &inst.image_id),
        ("platform", &inst.platform),
    ] {
        if let Some(v) = v {
            labels.insert(k.to_owned(), v.clone());
        }
    }
    labels.insert("region".to_owned(), source.region.clone());
    labels.insert("instance-id".to_owned(), inst.id.clone());
    Ok(Host {
        name,
        address,
        port: source.defaults.port.unwrap_or(22),
        user: source
            .defaults
            .user
            .clone()
            .unwrap_or_else(|| "root".into()),
        become_: source.defaults.become_,
        transport,
        package_manager: source.defaults.package_manager,
        labels,
        instance: Some(inst.id.clone()),
        region: Some(source.region.clone()),
        source: HostSource::Ec2 {
            index: source.index,
            region: source.region.clone(),
        },
    })
}

fn render_name(parts: &[NamePart], source: &Ec2Source, inst: &Instance) -> Result<String, String> {
    let mut out = String::new();
    for p in parts {
        match p {
            NamePart::Text(t) => out.push_str(t),
            NamePart::Id => out.push_str(&inst.id),
            NamePart::Region => out.push_str(&source.region),
            NamePart::Az => out.push_str(inst.az.as_deref().ok_or("it has no availability zone")?),
            NamePart::PrivateIp => out.push_str(
                &inst
                    .private_ip
                    .as_deref()
                    .ok_or("it has no private IP address")?
                    .replace('.', "-"),
            ),
            NamePart::Tag(k) => out.push_str(
                inst.tags
                    .get(k)
                    .ok_or_else(|| format!("it has no tag `{k}` for its name"))?,
            ),
        }
    }
    Ok(out)
}
