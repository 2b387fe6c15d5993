//! The shipped term lists (`policies/lists/*.txt`), compiled into the module: the filter
//! runs inside a proxy that gives it no file system.

/// Every built-in category, by the name policies use.
pub const CATEGORIES: [&str; 7] = [
    "self_harm",
    "violence",
    "sexual_minors",
    "hate",
    "weapons",
    "drugs",
    "malware",
];

const LISTS: [(&str, &str); 7] = [
    (
        "self_harm",
        include_str!("../../../../../policies/lists/self_harm.txt"),
    ),
    (
        "violence",
        include_str!("../../../../../policies/lists/violence.txt"),
    ),
    (
        "sexual_minors",
        include_str!("../../../../../policies/lists/sexual_minors.txt"),
    ),
    (
        "hate",
        include_str!("../../../../../policies/lists/hate.txt"),
    ),
    (
        "weapons",
        include_str!("../../../../../policies/lists/weapons.txt"),
    ),
    (
        "drugs",
        include_str!("../../../../../policies/lists/drugs.txt"),
    ),
    (
        "malware",
        include_str!("../../../../../policies/lists/malware.txt"),
    ),
];

const COMPLIANCE_CUES: [(&str, &str); 5] = [
    (
        "comply",
        include_str!("../../../../../policies/lists/harmful_compliance/comply.txt"),
    ),
    (
        "harm",
        include_str!("../../../../../policies/lists/harmful_compliance/harm.txt"),
    ),
    (
        "persona",
        include_str!("../../../../../policies/lists/harmful_compliance/persona.txt"),
    ),
    (
        "refuse",
        include_str!("../../../../../policies/lists/harmful_compliance/refuse.txt"),
    ),
    (
        "abuse",
        include_str!("../../../../../policies/lists/harmful_compliance/abuse.txt"),
    ),
];

/// The cue phrases of one list of the harmful-compliance scorer.
pub fn compliance_cues(list: &str) -> Vec<&'static str> {
    entries(&COMPLIANCE_CUES, list)
}

/// The terms of a built-in category (empty for an unknown one): one per line, `#` comments
/// and blank lines skipped.
pub fn category_terms(category: &str) -> Vec<&'static str> {
    entries(&LISTS, category)
}

fn entries(lists: &[(&str, &'static str)], wanted: &str) -> Vec<&'static str> {
    lists
        .iter()
        .filter(|(name, _)| *name == wanted)
        .flat_map(|(_, list)| list.lines())
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_category_has_terms_and_no_comment_leaks_in() {
        for category in CATEGORIES {
            let terms = category_terms(category);
            assert!(terms.len() >= 8, "{category}");
            assert!(terms
                .iter()
                .all(|t| !t.starts_with('#') && *t == t.to_lowercase()));
        }
        assert!(category_terms("nope").is_empty());
        for list in ["comply", "harm", "persona", "refuse", "abuse"] {
            assert!(compliance_cues(list).len() >= 10, "{list}");
        }
    }
}
