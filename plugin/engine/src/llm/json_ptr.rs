//! JSON pointers (RFC 6901) for error bodies and segment locations.

/// Escapes one reference token: `~` → `~0`, `/` → `~1`.
pub fn pointer_escape(token: &str) -> String {
    if token.contains(['~', '/']) {
        token.replace('~', "~0").replace('/', "~1")
    } else {
        token.to_string()
    }
}
