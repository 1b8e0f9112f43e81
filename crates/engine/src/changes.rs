//! Change records through their life: `fearless-change` decides every transition, the
//! store writes the record and its journal entry in one transaction (optimistic locking on
//! the version read), and the configured sinks are told after the commit.

use fearless_change::{Applied, ChangeNumber, ChangeRecord, Command, NewChange, Policy};
use fearless_store::Stored;

use crate::{Engine, EngineError};

/// The number of `CHG-12` (or `12`).
pub fn number(id: &str) -> Result<u64, EngineError> {
    id.parse::<ChangeNumber>()
        .map(|n| n.0)
        .map_err(|e| EngineError::bad_input(e, Some("write CHG-12 or 12")))
}

/// A stored change document, decoded.
pub fn decode(stored: &Stored) -> Result<ChangeRecord, EngineError> {
    serde_json::from_value(stored.record.clone())
        .map_err(|e| EngineError::corrupt(format!("change CHG-{}", stored.number), e))
}

impl Engine<'_> {
    /// The change `id`; one that does not exist is bad input.
    pub async fn change(&self, id: &str) -> Result<(Stored, ChangeRecord), EngineError> {
        let number = number(id)?;
        let stored = self.store.get_change(number).await?.ok_or_else(|| {
            EngineError::bad_input(
                format!("unknown change CHG-{number}"),
                Some("list changes with `fearless change list`"),
            )
        })?;
        let record = decode(&stored)?;
        Ok((stored, record))
    }

    /// Every change record, by number.
    pub async fn changes(&self) -> Result<Vec<ChangeRecord>, EngineError> {
        self.store
            .list_changes()
            .await?
            .iter()
            .map(decode)
            .collect()
    }

    /// Create a change from `spec`: validated fully before the store assigns a number, so
    /// nothing is written on bad input.
    pub async fn create_change(&self, spec: NewChange) -> Result<ChangeRecord, EngineError> {
        let draft = ChangeRecord::new(spec, 0, self.actor.name, self.clock.now(), self.config)
            .map_err(EngineError::from_change)?;
        let actor = self.actor;
        let stored = self
            .store
            .insert_change_with(|number| {
                let mut record = draft;
                record.number = number;
                let state = record.state.as_str().to_owned();
                let applied = record.created();
                let value =
                    serde_json::to_value(&applied.record).unwrap_or(serde_json::Value::Null);
                (
                    state,
                    value,
                    crate::record::event_of(actor, applied.kind, "", &applied.payload),
                )
            })
            .await?;
        let record = decode(&stored)?;
        self.announce(
            "change.created",
            &record,
            serde_json::json!({ "number": record.id().to_string(), "title": record.title }),
        )
        .await;
        Ok(record)
    }

    /// Apply `command` to a loaded change and store the new record with its journal entry
    /// (a lost race on the version writes nothing), then tell the sinks.
    pub async fn advance(
        &self,
        stored: &Stored,
        record: &ChangeRecord,
        command: Command,
    ) -> Result<Applied, EngineError> {
        let others: Vec<ChangeRecord> = self
            .store
            .list_changes()
            .await?
            .iter()
            .filter(|s| s.number != stored.number)
            .map(decode)
            .collect::<Result<_, _>>()?;
        let applied = fearless_change::apply(
            record,
            command,
            self.actor.name,
            self.clock.now(),
            &Policy::from_config(self.config),
            &others,
        )
        .map_err(EngineError::from_change)?;
        let value = serde_json::to_value(&applied.record)
            .map_err(|e| EngineError::corrupt(format!("change CHG-{}", stored.number), e))?;
        self.store
            .update_change(
                stored.number,
                stored.version,
                applied.record.state.as_str(),
                &value,
                crate::record::event_of(
                    self.actor,
                    applied.kind,
                    format!("CHG-{}", stored.number),
                    &applied.payload,
                ),
            )
            .await?;
        self.announce(applied.kind, &applied.record, applied.payload.clone())
            .await;
        Ok(applied)
    }

    /// [`Engine::advance`] on the change as the store holds it now.
    pub async fn advance_id(&self, id: &str, command: Command) -> Result<Applied, EngineError> {
        let (stored, record) = self.change(id).await?;
        self.advance(&stored, &record, command).await
    }

    /// Tell the sinks, after the record and its journal entry are committed.
    async fn announce(&self, kind: &str, record: &ChangeRecord, payload: serde_json::Value) {
        let event = fearless_events::Event::for_change(
            format!("fearless.{kind}.v1"),
            fearless_events::local_source(),
            &record.id().to_string(),
            payload,
        );
        self.emit(&event).await;
    }
}
