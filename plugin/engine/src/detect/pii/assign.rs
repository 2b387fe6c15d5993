//! Credentials given by name: `password=…`, `"api_key": "…"`, `secret: …`, `Authorization:
//! Bearer …`. The value is the entity, not the name.
//! Names are matched on their words (`db_pass`, `clientSecret`), and values that are
//! placeholders, variables, code or plain settings (`${PASS}`, `<password>`, `true`,
//! `X25519.secret_length`) are left alone.

use super::hit::{Found, Hit};

/// The pattern: a name with a credential word, an assignment or comparison, and a quoted or
/// bare value (an auth scheme such as `Bearer` may precede it).
pub const PATTERN: &str = concat!(
    r#"(?i)[a-z0-9_.-]{0,40}(?:pass|pwd|secret|token|key|auth|credential)[a-z0-9_.-]{0,30}"#,
    r#"["']?[ \t]{0,3}(?::=|=>|==|!=|=|:)[ \t]{0,3}"#,
    r#"(?:(?:bearer|basic|token|digest|api-?token|api-?key|key|jwt)[ \t]+)?"#,
    r#"(?:"(?-i:(?u:[^"\n])){1,200}"|'(?-i:(?u:[^'\n])){1,200}'|[a-z0-9_.~+/=!@#$%^&*?-]{1,200})"#,
);

/// Credential words a name may contain, once its separators are removed.
const NAME_WORDS: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "accesskey",
    "secretkey",
    "privatekey",
    "credential",
    "authorization",
];

/// Credential words too short to find inside others (`bypass`, `authentication`): they
/// count only as words of their own.
const NAME_SHORT_WORDS: &[&str] = &["pass", "pwd", "pw", "auth"];

/// Words that make the next word `key` a credential (`DD_APP_KEY`, `AccountKey`,
/// `signingKey`); matched as whole words, so `master-keying` is not one.
const KEY_QUALIFIERS: &[&str] = &[
    "app",
    "account",
    "master",
    "signing",
    "encryption",
    "license",
    "hmac",
    "shared",
];

/// Names that contain a credential word but name something that is not a secret.
const NOT_SECRET_NAMES: &[&str] = &[
    "public",
    "csrf",
    "xsrf",
    "authenticity",
    "nexttoken",
    "pagetoken",
    "continuationtoken",
    "cancellationtoken",
    "synctoken",
    "tokenizer",
    "keyword",
];

/// Name endings that describe a secret rather than hold it (`password_length`).
const NOT_SECRET_SUFFIXES: &[&str] = &[
    "name",
    "id",
    "type",
    "length",
    "len",
    "size",
    "url",
    "uri",
    "endpoint",
    "file",
    "path",
    "dir",
    "field",
    "label",
    "hint",
    "policy",
    "format",
    "version",
    "count",
    "min",
    "max",
    "timeout",
    "expiry",
    "expires",
    "expiration",
    "ttl",
    "enabled",
    "required",
    "header",
    "prefix",
    "suffix",
    "param",
    "env",
    "var",
    "ref",
    "mode",
    "store",
    "vault",
    "manager",
];

/// Values that hold no secret: placeholders and plain settings.
const NOT_SECRET_VALUES: &[&str] = &[
    "true",
    "false",
    "null",
    "none",
    "nil",
    "undefined",
    "empty",
    "string",
    "password",
    "secret",
    "token",
    "required",
    "optional",
    "default",
    "hidden",
    "masked",
    "redacted",
    "changeme",
    "change_me",
    "example",
    "test",
    "xxx",
];

/// Fragments that mark a value as a placeholder.
const PLACEHOLDER_PARTS: &[&str] = &[
    "example",
    "placeholder",
    "changeme",
    "change_me",
    "your_",
    "your-",
    "yourpass",
    "dummy",
    "redacted",
    "fake",
    "sample",
    "insert",
    "replace",
    "xxxx",
    "****",
    "....",
];

/// Openings and closings of a value that is a template or a variable as a whole:
/// `${PASS}`, `{{ .Values.password }}`, `<password>`, `%(pw)s`, `$(cat file)`.
const TEMPLATES: &[(&str, &str)] = &[
    ("${", "}"),
    ("{{", "}}"),
    ("<", ">"),
    ("%(", "s"),
    ("%s", ""),
    ("$(", ")"),
    ("#{", "}"),
    ("[", "]"),
    ("{", "}"),
];

/// Openings of keys that have their own detector.
const KEY_PREFIXES: &[&str] = &[
    "xox",
    "xapp-",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "glpat-",
    "AKIA",
    "ASIA",
    "AIza",
    "sk-",
    "sk_live_",
    "sk_test_",
    "rk_live_",
    "rk_test_",
    "eyJ",
    "-----BEGIN",
];

/// Whether a name such as `DB_PASSWORD`, `clientSecret` or `X-Api-Key` names a credential.
pub fn is_secret_name(name: &str) -> bool {
    let words: Vec<String> = split_words(name);
    let joined: String = words.concat();
    // "author" is not "auth"; "authorization" is.
    let author = words
        .iter()
        .any(|w| w.starts_with("author") && !w.starts_with("authoriz"));
    if author || NOT_SECRET_NAMES.iter().any(|n| joined.contains(n)) {
        return false;
    }
    if words
        .last()
        .is_some_and(|w| NOT_SECRET_SUFFIXES.contains(&w.as_str()))
    {
        return false;
    }
    let qualified_key = words.windows(2).any(|pair| {
        KEY_QUALIFIERS.contains(&pair[0].as_str()) && matches!(pair[1].as_str(), "key" | "keys")
    }) || words.iter().any(|w| {
        w.strip_suffix("key")
            .is_some_and(|qualifier| KEY_QUALIFIERS.contains(&qualifier))
    });
    qualified_key
        || words.iter().any(|w| NAME_SHORT_WORDS.contains(&w.as_str()))
        || NAME_WORDS.iter().any(|w| joined.contains(w))
}

/// Lower-case words of an identifier, split at separators and camelCase humps.
fn split_words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut previous_lower = false;
    for c in name.chars() {
        if !c.is_ascii_alphanumeric() {
            if !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            previous_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && previous_lower && !word.is_empty() {
            words.push(std::mem::take(&mut word));
        }
        previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        word.push(c.to_ascii_lowercase());
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// Whether a value could be a secret rather than a placeholder, a variable or code.
pub fn is_secret_value(value: &str, quoted: bool) -> bool {
    let lower = value.to_ascii_lowercase();
    if value.chars().count() < 6
        || value.chars().any(char::is_whitespace)
        || NOT_SECRET_VALUES.contains(&lower.as_str())
        || PLACEHOLDER_PARTS.iter().any(|p| lower.contains(p))
        || TEMPLATES
            .iter()
            .any(|(open, close)| value.starts_with(open) && value.ends_with(close))
        || (!quoted && value.starts_with(['$', '%', '{', '<', '[']))
        || lower.contains("://")
    {
        return false;
    }
    // A value that opens like a known key is for that key's own detector to judge.
    if KEY_PREFIXES.iter().any(|p| value.starts_with(p)) {
        return false;
    }
    // Elided ("ops_eyJzaWdu..."), or a run of one character or of a sequence ("1111…",
    // "123456789"): an example, not a secret.
    let bytes = value.as_bytes();
    let (mut same, mut step, mut longest) = (1, 1, 1);
    for pair in bytes.windows(2) {
        same = if pair[0] == pair[1] { same + 1 } else { 1 };
        step = if pair[1] == pair[0].wrapping_add(1) {
            step + 1
        } else {
            1
        };
        longest = longest.max(same).max(step);
    }
    if value.ends_with("..") || longest >= 8 || bytes.iter().all(|&b| b == bytes[0]) {
        return false;
    }
    let digits = bytes.iter().filter(|b| b.is_ascii_digit()).count();
    if digits == bytes.len() && digits < 10 {
        return false; // a count or a port, not a secret
    }
    if quoted {
        return true;
    }
    // Unquoted, a word or a dotted path is a variable or a setting (`getpass`,
    // `X25519.secret_length`); a secret has a digit or a symbol among its letters.
    let identifier = bytes
        .iter()
        .all(|&b| b.is_ascii_alphabetic() || b == b'_' || b == b'.' || b == b'-');
    let dotted_path = value.contains('.')
        && value
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        && value
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic());
    // A dotted value with a long random part is a token (`s.ZC9Ecf4M5g9o34Q6RkzGsj0z`).
    let random_part = value.split('.').any(|p| {
        p.len() >= 16
            && p.bytes().any(|b| b.is_ascii_digit())
            && p.bytes().any(|b| b.is_ascii_uppercase())
            && p.bytes().any(|b| b.is_ascii_lowercase())
    });
    !identifier && (!dotted_path || random_part)
}

/// Judges `name = value`: the entity is the value.
pub fn assignment(hit: Hit<'_>) -> Option<Found> {
    let text = hit.as_str();
    // The name runs to the first quote, space or assignment sign.
    let name_len = text
        .find(['"', '\'', ' ', '\t', ':', '=', '!'])
        .unwrap_or(text.len());
    if !is_secret_name(text.get(..name_len)?) {
        return None;
    }
    let after_name = text.get(name_len..)?;
    let value_at = name_len
        + after_name
            .find(|c: char| !matches!(c, '"' | '\'' | ':' | '=' | '>' | '!' | ' ' | '\t'))
            .unwrap_or(after_name.len());
    // The value keeps its opening quote, which the search above skipped.
    let value_at = if matches!(
        text.as_bytes().get(value_at.wrapping_sub(1)),
        Some(b'"' | b'\'')
    ) && value_at > name_len + 1
    {
        value_at - 1
    } else {
        value_at
    };
    let raw = text.get(value_at..)?;
    let quoted = raw.starts_with(['"', '\'']) && raw.len() >= 2;
    let (mut offset, mut value) = if quoted {
        (value_at + 1, raw.get(1..raw.len() - 1)?)
    } else {
        (value_at, raw)
    };
    // An auth scheme is part of the header, not of the secret.
    if let Some((scheme, token)) = value.split_once([' ', '\t']) {
        let scheme = scheme.to_ascii_lowercase();
        let schemes = [
            "bearer",
            "basic",
            "token",
            "digest",
            "apitoken",
            "api-token",
            "apikey",
            "api-key",
            "key",
            "jwt",
        ];
        if schemes.contains(&scheme.as_str()) {
            let token = token.trim_start();
            offset += value.len() - token.len();
            value = token;
        }
    }
    if !is_secret_value(value, quoted) {
        return None;
    }
    let start = hit.start + offset;
    Some(Found {
        start,
        end: start + value.len(),
        score: if quoted { 0.7 } else { 0.6 },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(text: &str) -> Vec<&str> {
        crate::detect::pii::hit::judged(PATTERN, assignment, text)
    }

    #[test]
    fn names_are_read_by_their_words() {
        for name in [
            "password",
            "DB_PASS",
            "clientSecret",
            "X-Api-Key",
            "aws_secret_access_key",
            "user_auth",
            "apikey",
            "DD_APP_KEY",
            "AccountKey",
            "signingKey",
        ] {
            assert!(is_secret_name(name), "{name}");
        }
        for name in [
            "bypass",
            "Authentication-Results",
            "password_length",
            "LLM_SECRET_NAME",
            "publicToken",
            "csrf-token",
            "keyword",
            "author",
            "sequenceKey",
            "monkey",
            "minisat-master-keying",
            "primary_key",
        ] {
            assert!(!is_secret_name(name), "{name}");
        }
    }

    #[test]
    fn the_value_is_the_entity() {
        assert_eq!(values("password=hunter22"), vec!["hunter22"]);
        assert_eq!(
            values(r#""api_key": "c4ed6c21-9dd5-4a05""#),
            vec!["c4ed6c21-9dd5-4a05"]
        );
        assert_eq!(values("export DB_PASS='s3cr3t!pw'"), vec!["s3cr3t!pw"]);
        assert_eq!(
            values(r#"-H "Authorization: Bearer cfcabd11c7ed9a41b1a3e063c32d5114""#),
            vec!["cfcabd11c7ed9a41b1a3e063c32d5114"]
        );
        assert_eq!(
            values(r#"if (secret == "m{{h}o)p${e]nob")"#),
            vec!["m{{h}o)p${e]nob"]
        );
        assert_eq!(
            values(r#""Authorization": "Bearer aB3dE9fG2hJ7kL""#),
            vec!["aB3dE9fG2hJ7kL"]
        );
        assert_eq!(
            values(r#"if (db_pass != "Zx8!pQ2wLm")"#),
            vec!["Zx8!pQ2wLm"]
        );
        assert_eq!(
            values("client-secret: \"t028Q~-aLbmQuinnZtzbgtlEAYstnBWEmGPAoBm\""),
            vec!["t028Q~-aLbmQuinnZtzbgtlEAYstnBWEmGPAoBm"]
        );
        // A dotted value with a long random part is a token, not a setting's path.
        assert_eq!(
            values("VAULT_TOKEN=s.ZC9Ecf4M5g9o34Q6RkzGsj0z"),
            vec!["s.ZC9Ecf4M5g9o34Q6RkzGsj0z"]
        );
    }

    #[test]
    fn placeholders_variables_and_settings_are_left() {
        for text in [
            "password = ${link}",
            r#"api_key = """#,
            r#"password = "<password>""#,
            "password: changeme",
            "PuttyPassword=0",
            "secret_length = X25519.secret_length",
            "password = getpass",
            r#"LLM_SECRET_NAME = "NEXUS-GPT4-API-KEY""#,
            "token_url='https://github.com/login/oauth/access_token'",
            r#"password = "somefakekey""#,
            "SUMO_ACCESS_KEY={SumoAccessKey}",
            "signing_key = config.signing.secret_key_path",
        ] {
            assert!(values(text).is_empty(), "{text}");
        }
    }
}
