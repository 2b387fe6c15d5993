//! JSON pointers (RFC 6901) for error bodies and segment locations.

/// Appends `/` and the escaped `token` to `pointer`, without an allocation for the usual
/// token that needs no escape: this runs for every member of every parsed stream event.
pub fn push_token(pointer: &mut String, token: &str) {
    pointer.push('/');
    if token.contains(['~', '/']) {
        pointer.push_str(&pointer_escape(token));
    } else {
        pointer.push_str(token);
    }
}

/// Appends `/` and an array index to `pointer`.
pub fn push_index(pointer: &mut String, index: usize) {
    use std::fmt::Write as _;
    let _ = write!(pointer, "/{index}");
}

/// Escapes one reference token: `~` → `~0`, `/` → `~1`.
pub fn pointer_escape(token: &str) -> String {
    if token.contains(['~', '/']) {
        token.replace('~', "~0").replace('/', "~1")
    } else {
        token.to_string()
    }
}
