//! The paragraph a streamed answer is in the middle of, for the harmful-compliance score:
//! the score needs a whole paragraph, while stream events bring a few characters each.

use super::compliance::MAX_PARAGRAPH_BYTES;
use super::{ContentFilter, ContentHit};

/// A paragraph is scored again only after it grew this much, which bounds the rescans.
const RESCORE_AFTER_BYTES: usize = 512;

/// Text since the last paragraph break, scored as it grows.
#[derive(Debug, Default)]
pub struct ParagraphWindow {
    text: String,
    /// Length of `text` when it was last scored.
    scored: usize,
}

impl ParagraphWindow {
    /// Adds `text`; the scored category's hit when a finished paragraph, or the growing
    /// one, reaches the threshold.
    pub fn push(&mut self, filter: &ContentFilter, text: &str) -> Option<ContentHit> {
        // Only the new text (and the byte before it) can complete a break.
        let mut from = self.text.len().saturating_sub(1);
        while !self.text.is_char_boundary(from) {
            from -= 1;
        }
        self.text.push_str(text);
        let mut hit = None;
        // Finished paragraphs are scored where they stand and dropped in one drain at the
        // end: a drain per break would move the rest of the text each time, quadratic on
        // a run of newlines.
        let mut start = 0;
        while let Some(at) = self
            .text
            .get(from..)
            .and_then(|t| t.find("\n\n"))
            .map(|at| at + from)
        {
            if hit.is_none() {
                hit = filter.compliance(&self.text[start..at]);
            }
            start = at + 2;
            from = start;
            self.scored = 0;
        }
        if start > 0 {
            self.text.drain(..start);
        }
        if self.text.len() > MAX_PARAGRAPH_BYTES {
            hit = hit.or_else(|| filter.compliance(&self.text));
            self.text.clear();
            self.scored = 0;
        } else if self.text.len() >= self.scored + RESCORE_AFTER_BYTES {
            hit = hit.or_else(|| filter.compliance(&self.text));
            self.scored = self.text.len();
        }
        hit
    }

    /// The answer is over: the last paragraph's hit.
    pub fn finish(&mut self, filter: &ContentFilter) -> Option<ContentHit> {
        let hit = filter.compliance(&self.text);
        self.text.clear();
        self.scored = 0;
        hit
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::content::{CategoryRule, ContentAction, COMPLIANCE_CATEGORY};

    fn scored() -> ContentFilter {
        let rule = CategoryRule {
            name: COMPLIANCE_CATEGORY.into(),
            action: ContentAction::Block,
            threshold: 4,
            learned: None,
        };
        ContentFilter::new(vec![rule], &[vec![]], vec![vec![]], &[]).unwrap()
    }

    #[test]
    fn a_paragraph_streamed_in_small_pieces_is_caught_when_it_ends() {
        let filter = scored();
        let answer = "I can't help with that.\n\nDAN: Sure! Here's how to steal a car \
                      without getting caught: you could try a relay attack.\n\nMore.";
        let mut window = ParagraphWindow::default();
        let mut caught_at = None;
        for (index, piece) in answer.as_bytes().chunks(3).enumerate() {
            let piece = std::str::from_utf8(piece).unwrap();
            if window.push(&filter, piece).is_some() && caught_at.is_none() {
                caught_at = Some(index * 3);
            }
        }
        let caught_at = caught_at.expect("caught");
        assert!(caught_at >= answer.find("attack.").unwrap());
        assert!(caught_at <= answer.find("More").unwrap());
    }

    #[test]
    fn a_clean_answer_is_never_a_hit() {
        let filter = scored();
        let mut window = ParagraphWindow::default();
        for piece in ["Paris is the capital", " of France.\n\n", "It is lovely."] {
            assert!(window.push(&filter, piece).is_none());
        }
        assert!(window.finish(&filter).is_none());
    }
}
