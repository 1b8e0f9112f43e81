//! The `file` sink: one JSON line per event, appended and fsynced.

use super::{Capabilities, Sink, SinkError};
use crate::Event;
use std::path::PathBuf;
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;

/// Appends each event as one line of JSON to a file, and fsyncs before returning.
#[derive(Debug)]
pub struct FileSink {
    path: PathBuf,
    file: Mutex<Option<tokio::fs::File>>,
}

impl FileSink {
    /// A sink writing to `path` (created with its parent directories on first use).
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            file: Mutex::new(None),
        }
    }

    fn io(&self, e: &std::io::Error) -> SinkError {
        SinkError::Io {
            path: self.path.display().to_string(),
            message: e.to_string(),
        }
    }

    async fn open(&self) -> Result<tokio::fs::File, SinkError> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| self.io(&e))?;
        }
        tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .await
            .map_err(|e| self.io(&e))
    }
}

impl Sink for FileSink {
    async fn send(&self, event: &Event) -> Result<(), SinkError> {
        let mut line = event.to_json();
        line.push(b'\n');
        let mut guard = self.file.lock().await;
        let file = match guard.as_mut() {
            Some(f) => f,
            None => guard.insert(self.open().await?),
        };
        // One write of the whole line: with O_APPEND, concurrent writers never interleave.
        let written = async {
            file.write_all(&line).await?;
            file.sync_data().await
        }
        .await;
        if let Err(e) = written {
            // Reopen next time (the file may have been rotated or its disk remounted).
            *guard = None;
            return Err(self.io(&e));
        }
        Ok(())
    }

    async fn probe(&self) -> Result<(), SinkError> {
        self.open().await.map(drop)
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            acknowledged: true,
            durable: true,
            max_bytes: None,
        }
    }
}
