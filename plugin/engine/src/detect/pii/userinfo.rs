//! `user:password` pairs: in a URL (`https://user:password@host`) and after curl's `-u`
//! or `--user`. The pair is the entity, unless its secret half is a placeholder or a
//! variable (`${PASS}`, `<password>`, `user:pass`).

use super::assign::is_secret_value;
use super::hit::{Found, Hit};

/// `curl -u user:password` (or `--user`): the value after the flag.
pub const CURL_USER_PATTERN: &str = concat!(
    r#"(?:-u|--user)[ \t=]+"#,
    r#"(?:"(?u:[^"\n]){1,200}"|'(?u:[^'\n]){1,200}'"#,
    // A bare user with a quoted password (`kevin:'pRf7…'`).
    r#"|[A-Za-z0-9_.~+/=!@#$%^&*?-]{1,100}:(?:"(?u:[^"\n]){1,200}"|'(?u:[^'\n]){1,200}')"#,
    r#"|[A-Za-z0-9_.~+/=!@#$%^&*?:-]{1,200})"#,
);

/// Judges `curl -u user:password`: on a curl command line, a literal `user:password` whose
/// secret part (the password, or the user when it is an API key with an empty password)
/// is not a placeholder. The entity is the whole `user:password`.
pub fn curl_user(hit: Hit<'_>) -> Option<Found> {
    if hit.before(1).is_some_and(|b| !b.is_ascii_whitespace()) || !on_curl_line(&hit) {
        return None;
    }
    let text = hit.as_str();
    let value_at = text.find([' ', '\t', '='])?;
    let value = text.get(value_at..)?.trim_start_matches([' ', '\t', '=']);
    let offset = text.len() - value.len();
    let quoted = value.starts_with(['"', '\'']) && value.len() >= 2;
    let (offset, value) = if quoted {
        (offset + 1, value.get(1..value.len() - 1)?)
    } else {
        (offset, value)
    };
    let (user, password) = value.split_once(':')?;
    let password = password
        .strip_prefix(['"', '\''])
        .and_then(|p| p.strip_suffix(['"', '\'']))
        .unwrap_or(password);
    let secret = if password.is_empty() { user } else { password };
    let template = |part: &str| part.starts_with(['$', '{', '<', '[', '%']);
    if template(user) || template(password) || !is_secret_value(secret, true) {
        return None;
    }
    let start = hit.start + offset;
    Some(Found {
        start,
        end: start + value.len(),
        score: 0.8,
    })
}

/// Whether `curl` starts the command the hit is part of: on its line, or on an earlier one
/// continued with a trailing backslash, within a few hundred bytes.
fn on_curl_line(hit: &Hit<'_>) -> bool {
    let floor = hit.start.saturating_sub(400);
    let Some(before) = (floor..hit.start).find_map(|at| hit.text.get(at..hit.start)) else {
        return false;
    };
    let Some(curl) = before.rfind("curl") else {
        return false;
    };
    let command = before.get(curl..).unwrap_or_default();
    command.match_indices('\n').all(|(at, _)| {
        command
            .get(..at)
            .is_some_and(|s| s.trim_end().ends_with('\\'))
    })
}

/// The `user:password` of a URL such as `https://user:password@host`, unless the password
/// is a placeholder or a variable.
pub fn url_credentials(hit: Hit<'_>) -> Option<Found> {
    let text = hit.as_str();
    let scheme_end = text.find("://")? + 3;
    let at = text.rfind('@')?;
    let userinfo = text.get(scheme_end..at)?;
    let (user, password) = userinfo.split_once(':')?;
    let lower = password.to_ascii_lowercase();
    // An empty user is fine (`redis://:password@host`) when the password looks real.
    let placeholder = password.is_empty()
        || (user.is_empty() && !is_secret_value(password, true))
        || password.starts_with('$')
        || ["${", "{{", "<", ">", "****", "xxxx", "%s"]
            .iter()
            .any(|p| lower.contains(p))
        || password.bytes().all(|b| b == password.as_bytes()[0]);
    if placeholder {
        return None;
    }
    Some(Found {
        start: hit.start + scheme_end,
        end: hit.start + at,
        score: 0.9,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex::RegexBuilder;

    #[test]
    fn curl_users_are_credentials_unless_placeholders() {
        let users = |text: &'static str| -> Vec<&'static str> {
            let Ok(re) = RegexBuilder::new(CURL_USER_PATTERN).unicode(false).build() else {
                return vec!["<pattern does not compile>"];
            };
            re.find_iter(text)
                .filter_map(|m| {
                    curl_user(Hit {
                        text,
                        start: m.start(),
                        end: m.end(),
                    })
                })
                .filter_map(|f| text.get(f.start..f.end))
                .collect()
        };
        assert_eq!(
            users("curl -u elastic:P@ssw0rd$1 https://x"),
            ["elastic:P@ssw0rd$1"]
        );
        assert_eq!(
            users("curl --user 'api:d2LkV78zLx!t' https://x"),
            ["api:d2LkV78zLx!t"]
        );
        assert_eq!(
            users(r#"curl -u "d2LkV78zLx!t:" https://x"#),
            ["d2LkV78zLx!t:"]
        );
        assert_eq!(
            users("curl https://x \\\n  --user c28wlsos:qgsnai0xok"),
            ["c28wlsos:qgsnai0xok"]
        );
        assert!(
            users("curl https://x\n  --user c28wlsos:qgsnai0xok").is_empty(),
            "another command"
        );
        for text in [
            "curl -u username:password",
            "curl --user user:pass --digest",
            r#"curl -u "${_username}:${_password}""#,
            "curl --user neo4j:[PASSWORD] http://x",
            "sort -u data:2024-01-01-abc",
        ] {
            assert!(users(text).is_empty(), "{text}");
        }
    }

    #[test]
    fn url_credentials_cover_user_and_password() {
        let text = "https://cafebabe:deadbeef@gems.contribsys.com/";
        let found = url_credentials(Hit {
            text,
            start: 0,
            end: 46,
        });
        assert_eq!(
            found.and_then(|f| text.get(f.start..f.end)),
            Some("cafebabe:deadbeef")
        );
        let variable = "https://user:${PASS}@host.com";
        let hit = Hit {
            text: variable,
            start: 0,
            end: variable.len(),
        };
        assert!(url_credentials(hit).is_none());
    }
}
