//! The lab's OSV feed (`lab/osv/`, embedded): written into `DIR/osv/` by `up`, so that
//! `fearless vulns --feed DIR/osv` and `fearless patch --fixes` run offline on the lab.

use std::path::Path;

use crate::error::Result;
use crate::sys;

/// The records, by file name.
const RECORDS: &[(&str, &str)] = &[
    (
        "ACME-2099-0001.json",
        include_str!("../../../lab/osv/ACME-2099-0001.json"),
    ),
    (
        "ACME-2099-0002.json",
        include_str!("../../../lab/osv/ACME-2099-0002.json"),
    ),
    (
        "ACME-2099-0003.json",
        include_str!("../../../lab/osv/ACME-2099-0003.json"),
    ),
    (
        "ACME-2099-0004.json",
        include_str!("../../../lab/osv/ACME-2099-0004.json"),
    ),
];

/// Write the feed into `DIR/osv/`.
pub(crate) fn write(dir: &Path) -> Result<()> {
    let osv = dir.join("osv");
    sys::create_dir_all(&osv)?;
    for (name, text) in RECORDS {
        sys::write_atomic(&osv.join(name), text.as_bytes(), 0o644)?;
    }
    Ok(())
}
