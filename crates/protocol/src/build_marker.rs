//! What an agent binary was built with, readable from its bytes without running it (an aarch64
//! agent on an x86 host too): the agent embeds [`ENGINES_MARKER`] followed by `yes` or `no` and
//! `;`, and the host finds it with [`agent_has_engines`].

/// The bytes before the answer.
pub const ENGINES_MARKER: &str = "@@sandbench-agent-engines:";

/// The marker an agent built with the inference engines embeds.
pub const WITH_ENGINES: &str = "@@sandbench-agent-engines:yes;";
/// The marker an agent built without them embeds.
pub const WITHOUT_ENGINES: &str = "@@sandbench-agent-engines:no;";

/// Whether the agent binary `bytes` has the inference engines (the AI kinds): `Some(true)` or
/// `Some(false)` from its marker, `None` when it has none (an agent older than the marker,
/// which always had them, or not an agent at all).
pub fn agent_has_engines(bytes: &[u8]) -> Option<bool> {
    // The prefix may also stand alone in the binary (the agent uses it to print `--version`):
    // the answer is at the occurrence followed by one.
    let marker = ENGINES_MARKER.as_bytes();
    bytes.windows(marker.len()).enumerate().filter(|(_, w)| *w == marker).find_map(|(at, _)| {
        let rest = &bytes[at + marker.len()..];
        if rest.starts_with(b"yes;") {
            Some(true)
        } else if rest.starts_with(b"no;") {
            Some(false)
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_either_answer_inside_other_bytes() {
        let mut with = b"\x7fELF....".to_vec();
        with.extend_from_slice(WITH_ENGINES.as_bytes());
        with.extend_from_slice(b"more");
        assert_eq!(agent_has_engines(&with), Some(true));
        let without = [b"xx".as_slice(), WITHOUT_ENGINES.as_bytes(), b"yy"].concat();
        assert_eq!(agent_has_engines(&without), Some(false));
        // The bare prefix first (as the agent's `--version` code keeps it), the answer later.
        let both = [ENGINES_MARKER.as_bytes(), b"\0\0", WITHOUT_ENGINES.as_bytes()].concat();
        assert_eq!(agent_has_engines(&both), Some(false));
    }

    #[test]
    fn no_or_garbled_marker_is_none() {
        assert_eq!(agent_has_engines(b"\x7fELF no marker"), None);
        let garbled = [ENGINES_MARKER.as_bytes(), b"maybe;"].concat();
        assert_eq!(agent_has_engines(&garbled), None);
        // A marker cut off at the end of the file.
        assert_eq!(agent_has_engines(&ENGINES_MARKER.as_bytes()[..10]), None);
    }
}
