//! Phases of a trial as it runs (`model_loaded`, `first_inference`): a workload marks them, and
//! the agent, which installs the hook around each trial, sends them to the host at once as
//! `phase` messages, so the host's clock times them. Without a hook (tests, `try` in-process)
//! marks do nothing.

use std::cell::RefCell;

/// What receives a trial's phase marks.
pub type Hook = Box<dyn FnMut(&str)>;

thread_local! {
    static HOOK: RefCell<Option<Hook>> = const { RefCell::new(None) };
}

/// The model is loaded and ready.
pub const MODEL_LOADED: &str = "model_loaded";
/// The first input's result exists.
pub const FIRST_INFERENCE: &str = "first_inference";

/// Runs `f` with `hook` receiving this thread's marks.
pub fn with_hook<T>(hook: Hook, f: impl FnOnce() -> T) -> T {
    HOOK.with(|h| *h.borrow_mut() = Some(hook));
    let out = f();
    HOOK.with(|h| *h.borrow_mut() = None);
    out
}

/// Marks a phase of the running trial.
pub fn mark(name: &str) {
    HOOK.with(|h| {
        if let Some(hook) = h.borrow_mut().as_mut() {
            hook(name);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn marks_reach_the_hook_only_while_it_is_installed() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        mark("before");
        with_hook(Box::new(move |n| s.lock().unwrap().push(n.to_string())), || {
            mark(MODEL_LOADED);
            mark(FIRST_INFERENCE);
        });
        mark("after");
        assert_eq!(*seen.lock().unwrap(), vec!["model_loaded", "first_inference"]);
    }
}
