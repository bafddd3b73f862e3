//! Which agent binary a campaign's guest carries: the static one (runs anywhere, no C library
//! needed) unless the campaign needs what only the dynamically linked one has: the onnxruntime
//! engine (a static program cannot load `libonnxruntime.so`), or the inference engines at all
//! when the static agent was built without them (scripts/build-agent.sh builds it so, in about
//! a minute, and the dynamic agent with the engines, once, in the profile the tests share).

use crate::RunError;
use std::path::{Path, PathBuf};

/// What the campaign needs of its agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Needs {
    /// An AI kind runs.
    pub engines: bool,
    /// A workload's engine is `onnxruntime` or `auto` (and a library is pinned for this arch).
    pub wants_ort: bool,
    /// A workload names `onnxruntime` itself: `auto` may fall back to tract, this may not.
    pub insists_ort: bool,
}

/// The agent picked, and whether the onnxruntime library stays out of the image (`auto`
/// falls back to tract in the static agent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Choice {
    pub agent: PathBuf,
    pub drop_ort: bool,
}

/// Whether the agent at `path` has the inference engines, from its build marker (an agent
/// without a marker predates it, and always had them).
fn has_engines(path: &Path) -> bool {
    std::fs::read(path).ok().and_then(|b| sandbench_protocol::agent_has_engines(&b)).unwrap_or(true)
}

/// Picks the agent for `needs` from the static one and the dynamic one, when built.
pub(crate) fn choose(needs: Needs, static_agent: &Path, dynamic: Option<&Path>) -> Result<Choice, RunError> {
    let dynamic = dynamic.filter(|d| !needs.engines || has_engines(d));
    let static_ok = !needs.engines || has_engines(static_agent);
    pick(needs, static_ok, dynamic)
        .map(|(agent, drop_ort)| Choice { agent: agent.unwrap_or(static_agent).into(), drop_ort })
}

/// The rule, on facts: `None` is the static agent.
fn pick(needs: Needs, static_ok: bool, dynamic: Option<&Path>) -> Result<(Option<&Path>, bool), RunError> {
    match (needs.wants_ort, dynamic) {
        (true, Some(d)) => Ok((Some(d), false)),
        (true, None) if needs.insists_ort => Err(RunError::NeedsDynamicAgent),
        // `auto` then runs tract in the static agent, and the record says why.
        (true, None) if static_ok => Ok((None, true)),
        (false, _) if static_ok => Ok((None, false)),
        (false, Some(d)) => Ok((Some(d), false)),
        (_, None) => Err(RunError::NeedsEngines),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "/dyn";
    fn needs(engines: bool, wants_ort: bool, insists_ort: bool) -> Needs {
        Needs { engines, wants_ort, insists_ort }
    }
    fn run(n: Needs, static_ok: bool, dynamic: bool) -> Result<(Option<&'static Path>, bool), String> {
        pick(n, static_ok, dynamic.then_some(Path::new(D))).map_err(|e| e.to_string())
    }

    #[test]
    fn no_ai_kind_takes_the_static_agent_even_without_engines() {
        assert_eq!(run(needs(false, false, false), true, true), Ok((None, false)));
    }

    #[test]
    fn tract_and_candle_take_the_dynamic_agent_when_the_static_one_lacks_the_engines() {
        assert_eq!(run(needs(true, false, false), false, true), Ok((Some(Path::new(D)), false)));
        assert_eq!(run(needs(true, false, false), true, true), Ok((None, false)));
        let err = run(needs(true, false, false), false, false).unwrap_err();
        assert!(err.contains("scripts/build-agent.sh"), "{err}");
    }

    #[test]
    fn onnxruntime_takes_the_dynamic_agent_or_falls_back_only_when_auto() {
        assert_eq!(run(needs(true, true, true), false, true), Ok((Some(Path::new(D)), false)));
        assert_eq!(run(needs(true, true, false), true, false), Ok((None, true)));
        assert!(run(needs(true, true, true), true, false).unwrap_err().contains("dynamically linked"));
        assert!(run(needs(true, true, false), false, false).unwrap_err().contains("built with the inference engines"));
    }

    #[test]
    fn a_file_without_a_marker_counts_as_having_the_engines() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("old-agent");
        std::fs::write(&old, b"\x7fELF an agent from before the marker").unwrap();
        assert!(has_engines(&old));
        let lite = dir.path().join("lite-agent");
        std::fs::write(&lite, [b"\x7fELF".as_slice(), sandbench_protocol::WITHOUT_ENGINES.as_bytes()].concat())
            .unwrap();
        assert!(!has_engines(&lite));
        let c = choose(needs(true, false, false), &lite, Some(&old)).unwrap();
        assert_eq!(c, Choice { agent: old.clone(), drop_ort: false });
    }
}
