//! Custom entities from a policy: a pattern, an optional checksum, context words and a
//! score. Patterns get the built-ins' ASCII semantics (`\d`, `\w`, `(?i)` are ASCII; the
//! crate is built without Unicode tables); a pattern that needs Unicode mode, such as one
//! using `.` or a negated class, is compiled in that mode instead. Patterns that could
//! match the empty string, or that compile too large, are refused.

use super::context::{self, OwnedWords};
use super::detect::{CustomEntity, CustomValidator};
use super::hit::Found;
use super::validate;
use regex::Regex;

/// What the context boost adds to a custom entity's score.
const CONTEXT_BOOST: f32 = 0.35;

/// Texts on which a pattern that can match the empty string does so: every empty path is
/// a chain of `^`, `$`, `\b` and `\B`, and one of these satisfies any satisfiable chain.
const EMPTY_PROBES: [&str; 7] = ["", "a", " ", "a a", "\n", "a\n", "\na"];

/// A compiled custom entity.
#[derive(Debug)]
pub struct CustomDetector {
    regex: Regex,
    validator: CustomValidator,
    context: OwnedWords,
    score: f32,
}

/// Compiles `entity`, or says in a sentence why it cannot be used.
pub fn compile(entity: &CustomEntity) -> Result<CustomDetector, String> {
    let regex = crate::policy::user_regex::compile(&entity.pattern)?;
    let matches_empty = EMPTY_PROBES
        .iter()
        .any(|probe| regex.find_iter(probe).any(|m| m.is_empty()));
    if matches_empty {
        return Err("the pattern can match an empty string; it must always match some text".into());
    }
    Ok(CustomDetector {
        regex,
        validator: entity.validator,
        context: OwnedWords::new(&entity.context),
        score: entity.score,
    })
}

/// The last line of a regex error ("error: unclosed group"), as a sentence.
impl CustomDetector {
    /// Every validated match in `text`, scored.
    pub fn find(&self, text: &str) -> Vec<Found> {
        self.regex
            .find_iter(text)
            .filter(|m| match self.validator {
                CustomValidator::None => true,
                CustomValidator::Luhn => validate::luhn(m.as_str()),
                CustomValidator::Mod97 => validate::mod97(m.as_str()),
            })
            .map(|m| {
                let near = !self.context.is_empty()
                    && context::around(text, m.start(), m.end(), &self.context);
                let boost = if near { CONTEXT_BOOST } else { 0.0 };
                Found {
                    start: m.start(),
                    end: m.end(),
                    score: (self.score + boost).min(1.0),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entity(pattern: &str) -> CustomEntity {
        CustomEntity {
            name: "employee_id".into(),
            pattern: pattern.into(),
            validator: CustomValidator::None,
            context: vec!["employee".into()],
            score: 0.4,
        }
    }

    #[test]
    fn compiles_ascii_and_unicode_patterns_and_refuses_bad_ones() {
        assert!(compile(&entity(r"EMP-\d{6}")).is_ok());
        assert!(
            compile(&entity(r"Kunden-Nr\. .{4}")).is_ok(),
            "Unicode mode for `.`"
        );
        assert!(compile(&entity(r"Straße \d+")).is_ok());
        for (pattern, reason) in [
            ("", "empty"),
            ("(unclosed", "does not compile"),
            (r"\d*", "empty string"),
            (r"\b", "empty string"),
            ("x|", "empty string"),
            (r"(?m)^$", "empty string"),
            (r"(?:\w{1000}){100}", "too large"),
        ] {
            let error = compile(&entity(pattern)).err().unwrap_or_default();
            assert!(error.contains(reason), "{pattern}: {error}");
        }
    }

    #[test]
    fn context_and_validators_shape_the_score() {
        let detector = compile(&entity(r"EMP-\d{6}")).unwrap();
        let text = "employee EMP-123456, and then, well past the reach of that word, EMP-654321";
        let found = detector.find(text);
        assert_eq!(found.len(), 2);
        assert!((found[0].score - 0.75).abs() < 1e-6);
        assert!((found[1].score - 0.4).abs() < 1e-6);
        let card = CustomEntity {
            validator: CustomValidator::Luhn,
            ..entity(r"\d{16}")
        };
        let detector = compile(&card).unwrap();
        assert_eq!(detector.find("4111111111111111 4111111111111112").len(), 1);
        let reference = CustomEntity {
            validator: CustomValidator::Mod97,
            ..entity(r"RF\d{2}[A-Z0-9]{1,21}")
        };
        let detector = compile(&reference).unwrap();
        assert_eq!(detector.find("RF18539007547034 RF19539007547034").len(), 1);
    }
}
