//! Masking for one exchange: finds entities, applies each one's action, and keeps the
//! restore map. The map lives in the exchange, so it lives per stream, dies with it, and is
//! never shared between streams or VMs; nothing here is ever logged, only counted.

use super::action::{label, partial, placeholder, pseudonym, redacted, PiiAction, MAX_TOKEN_LEN};
use super::detect::{Entity, EntityKind};
use super::settings::{Direction, PiiSettings};
use std::collections::{BTreeSet, HashMap, HashSet};

/// How many entities of one type were found going one way, and what was done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityTally {
    pub type_name: String,
    pub class: &'static str,
    pub sensitivity: &'static str,
    pub direction: Direction,
    pub action: PiiAction,
    pub count: u32,
}

/// Per-exchange masking state.
#[derive(Debug, Default)]
pub struct Masker {
    /// Mask → original, for placeholders and pseudonyms that may be restored.
    restore: Vec<(String, String)>,
    /// (label, value) → placeholder, so a value repeated in a request keeps its index.
    assigned: HashMap<(String, String), String>,
    next_index: HashMap<String, usize>,
    tallies: Vec<EntityTally>,
    blocked: BTreeSet<(Direction, String)>,
    /// Placeholder look-alikes the client typed itself: never issued, so never restored.
    typed: HashSet<String>,
}

impl Masker {
    /// `text` with every entity that `settings` acts on in `direction` masked, or `None` when
    /// nothing changed. Entities whose action is `block` are left in place and remembered:
    /// the caller refuses the whole message (see [`Masker::blocked`]).
    pub fn mask(
        &mut self,
        settings: &PiiSettings,
        direction: Direction,
        text: &str,
    ) -> Option<String> {
        let entities = settings.scanner.find(text);
        self.mask_found(settings, direction, text, &entities)
    }

    /// [`Masker::mask`] with the entities already found in `text` by `settings.scanner`.
    pub fn mask_found(
        &mut self,
        settings: &PiiSettings,
        direction: Direction,
        text: &str,
        entities: &[Entity],
    ) -> Option<String> {
        if entities.is_empty() {
            return None;
        }
        let mut out = String::with_capacity(text.len());
        let mut copied = 0;
        for entity in entities {
            let (Some(value), Some(before)) = (
                text.get(entity.start..entity.end),
                text.get(copied..entity.start),
            ) else {
                continue;
            };
            let action = settings.action(direction, entity.kind);
            self.tally(settings, direction, entity.kind, action);
            let type_name = settings.scanner.name(entity.kind);
            let mask = match action {
                PiiAction::Allow => continue,
                PiiAction::Block => {
                    self.blocked.insert((direction, type_name.to_string()));
                    continue;
                }
                PiiAction::Redact => redacted(&label(type_name)),
                PiiAction::Partial => partial(type_name, value),
                PiiAction::Placeholder => self.placeholder(type_name, value, settings.restore),
                PiiAction::Pseudonymize => {
                    let key = settings.pseudonym_key.as_deref().unwrap_or_default();
                    let mask = pseudonym(key, type_name, &label(type_name), value);
                    if settings.restore && !self.restore.iter().any(|(m, _)| *m == mask) {
                        self.restore.push((mask.clone(), value.to_string()));
                    }
                    mask
                }
            };
            out.push_str(before);
            out.push_str(&mask);
            copied = entity.end;
        }
        if copied == 0 {
            return None;
        }
        out.push_str(text.get(copied..).unwrap_or_default());
        Some(out)
    }

    /// Remembers every placeholder look-alike (`[EMAIL_1]`) in `text`, which the client
    /// sent: the filter then issues other indices, so a look-alike the model echoes stays
    /// text and never turns into a value the system prompt or a tool result held. Reads
    /// bytes (a look-alike is ASCII), so a raw body needs no UTF-8 pass first.
    pub fn reserve_typed(&mut self, text: &[u8]) {
        let mut from = 0;
        while let Some(offset) = memchr::memchr(b'[', &text[from..]) {
            let start = from + offset;
            let mut end = start + 1;
            while end < text.len()
                && end - start <= MAX_TOKEN_LEN
                && (text[end].is_ascii_uppercase()
                    || text[end].is_ascii_digit()
                    || text[end] == b'_')
            {
                end += 1;
            }
            if text.get(end) == Some(&b']') && end > start + 1 {
                if let Ok(candidate) = std::str::from_utf8(&text[start..=end]) {
                    self.typed.insert(candidate.to_string());
                }
            }
            from = start + 1;
        }
    }

    fn placeholder(&mut self, type_name: &str, value: &str, restorable: bool) -> String {
        let label = label(type_name);
        let key = (label.clone(), value.to_string());
        if let Some(mask) = self.assigned.get(&key) {
            return mask.clone();
        }
        let index = self.next_index.entry(label.clone()).or_insert(0);
        *index += 1;
        let mut mask = placeholder(&label, *index);
        while self.typed.contains(&mask) {
            *index += 1;
            mask = placeholder(&label, *index);
        }
        if restorable {
            self.restore.push((mask.clone(), value.to_string()));
        }
        self.assigned.insert(key, mask.clone());
        mask
    }

    fn tally(
        &mut self,
        settings: &PiiSettings,
        direction: Direction,
        kind: EntityKind,
        action: PiiAction,
    ) {
        let type_name = settings.scanner.name(kind);
        if let Some(tally) = self
            .tallies
            .iter_mut()
            .find(|t| t.direction == direction && t.type_name == type_name)
        {
            tally.count += 1;
            return;
        }
        let class = settings.scanner.class(kind);
        self.tallies.push(EntityTally {
            type_name: type_name.to_string(),
            class: class.as_str(),
            sensitivity: class.sensitivity().as_str(),
            direction,
            action,
            count: 1,
        });
    }

    /// The types whose `block` action fired going `direction`, sorted.
    pub fn blocked(&self, direction: Direction) -> Vec<&str> {
        self.blocked
            .iter()
            .filter(|(d, _)| *d == direction)
            .map(|(_, name)| name.as_str())
            .collect()
    }

    pub fn tallies(&self) -> &[EntityTally] {
        &self.tallies
    }

    /// Whether any mask can be restored.
    pub fn can_restore(&self) -> bool {
        !self.restore.is_empty()
    }

    /// `text` with the masks of this exchange put back, or `None` when it has none.
    pub fn restore(&self, text: &str) -> Option<String> {
        if self.restore.is_empty() || !text.contains(['[', '<']) {
            return None;
        }
        let mut out = String::with_capacity(text.len());
        let mut copied = 0;
        let mut at = 0;
        while let Some(offset) = text.get(at..).and_then(|rest| rest.find(['[', '<'])) {
            let start = at + offset;
            let rest = text.get(start..).unwrap_or_default();
            match self
                .restore
                .iter()
                .find(|(mask, _)| rest.starts_with(mask.as_str()))
            {
                Some((mask, original)) => {
                    out.push_str(text.get(copied..start).unwrap_or_default());
                    out.push_str(original);
                    copied = start + mask.len();
                    at = copied;
                }
                None => at = start + 1,
            }
        }
        if copied == 0 {
            return None;
        }
        out.push_str(text.get(copied..).unwrap_or_default());
        Some(out)
    }

    /// Whether a restorable mask in `text` runs across byte `at`.
    pub fn mask_spans(&self, text: &str, at: usize) -> bool {
        self.restore.iter().any(|(mask, _)| {
            text.match_indices(mask.as_str())
                .any(|(start, _)| start < at && at < start + mask.len())
        })
    }

    /// Where a tail that may be the start of a restorable mask begins (`text.len()` if none).
    pub fn mask_tail(&self, text: &str) -> usize {
        if self.restore.is_empty() {
            return text.len();
        }
        let window = text.len().saturating_sub(MAX_TOKEN_LEN);
        let Some(start) = text.rfind(['[', '<']).filter(|s| *s >= window) else {
            return text.len();
        };
        let tail = text.get(start..).unwrap_or_default();
        let could_be_mask = self
            .restore
            .iter()
            .any(|(mask, _)| mask.len() > tail.len() && mask.starts_with(tail));
        if could_be_mask {
            start
        } else {
            text.len()
        }
    }
}
