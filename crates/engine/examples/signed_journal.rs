//! Writes a journal of N state changes for `bench/sign.sh`: each a `change.approved` by
//! `alice`, vouched for by her SSH key and — given a private key file — signed in-process
//! with it (the same signature `ssh-keygen -Y sign` makes, without a process per entry, so
//! 100,000 entries take a minute rather than half an hour).
//!
//! Usage: signed_journal STORE_URL N [PRIVATE_KEY]

use std::sync::Arc;

use fearless_engine::identity::{Vouch, Who};
use fearless_engine::record::event_of;
use fearless_store::Store;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(url), Some(n)) = (args.next(), args.next()) else {
        return Err("usage: signed_journal STORE_URL N [PRIVATE_KEY]".into());
    };
    let n: u64 = n.parse()?;
    let mut store = Store::open(&url).await?;
    let by = match args.next() {
        Some(key) => {
            store.set_signer(Arc::new(fearless_sign::KeyFileSigner::new(key.as_ref())?));
            Some(Vouch::SshKey)
        }
        None => Some(Vouch::OsAccount),
    };
    let who = Who {
        name: "alice",
        vouched_by: by,
    };
    for i in 0..n {
        let payload = serde_json::json!({ "approval": i, "reason": "bench" });
        store
            .append(event_of(
                who,
                "change.approved",
                format!("CHG-{i}"),
                &payload,
            ))
            .await?;
    }
    store.close().await;
    Ok(())
}
