//! A real `moto_server` (moto from PyPI: faithful EC2, SQS, S3) on a free loopback port,
//! started for a test and killed with it. A missing moto is a failed test, never a skip:
//! `scripts/test.sh` installs it.

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running moto server.
#[derive(Debug)]
pub struct Moto {
    child: Child,
    port: u16,
}

impl Moto {
    /// Start `python3 -m moto.server` on 127.0.0.1 and wait (at most 30 s) until it
    /// accepts connections. Panics when it cannot start: the test needs it.
    pub fn start() -> Self {
        let port = crate::free_port("127.0.0.1");
        let child = Command::new("python3")
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 -m moto.server (pip install 'moto[server]')");
        let mut moto = Self { child, port };
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = moto.child.try_wait() {
                panic!("moto_server exited at start ({status}): is moto[server] installed?");
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "moto_server did not listen on 127.0.0.1:{port} within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        moto
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Run a Python script with boto3 against this server (`ENDPOINT` in the environment,
    /// test credentials, region eu-west-1); its stdout, or a panic with its stderr.
    pub fn python(&self, script: &str) -> String {
        let out = Command::new("python3")
            .args(["-c", script])
            .env("ENDPOINT", self.url())
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_DEFAULT_REGION", "eu-west-1")
            .output()
            .expect("python3");
        assert!(
            out.status.success(),
            "python against moto failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A boto3 prelude for [`Moto::python`]: `ec2`, `ssm` and `sqs` clients, and
/// `run(n, tags, az, state='running')` → instance ids.
pub const BOTO3_PRELUDE: &str = r#"
import os, boto3
ep = os.environ['ENDPOINT']
ec2 = boto3.client('ec2', endpoint_url=ep, region_name='eu-west-1')
ssm = boto3.client('ssm', endpoint_url=ep, region_name='eu-west-1')
sqs = boto3.client('sqs', endpoint_url=ep, region_name='eu-west-1')
image = ec2.describe_images()['Images'][0]['ImageId']
def run(n, tags, az, state='running'):
    spec = [{'ResourceType': 'instance', 'Tags': [{'Key': k, 'Value': v} for k, v in tags.items()]}] if tags else []
    r = ec2.run_instances(ImageId=image, MinCount=n, MaxCount=n, InstanceType='t3.micro',
                          Placement={'AvailabilityZone': az}, TagSpecifications=spec)
    ids = [i['InstanceId'] for i in r['Instances']]
    if state == 'stopped':
        ec2.stop_instances(InstanceIds=ids)
    return ids
"#;
