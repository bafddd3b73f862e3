//! One file per subcommand.

pub mod assets;
pub mod compare;
pub mod doctor;
pub mod fleet;
pub mod image;
pub mod report;
pub mod run;
pub mod try_;
pub mod validate;

/// The git revision this binary was built from.
pub fn git_revision() -> Option<String> {
    option_env!("SANDBENCH_GIT_REV").filter(|s| !s.is_empty()).map(str::to_string)
}

/// Sets a flag on Ctrl-C / SIGTERM; a second Ctrl-C exits at once.
pub fn cancel_flag() -> std::sync::Arc<std::sync::atomic::AtomicBool> {
    use std::sync::atomic::{AtomicBool, Ordering};
    // One flag and one handler per process: `validate` runs many trials.
    static FLAG: std::sync::OnceLock<std::sync::Arc<AtomicBool>> = std::sync::OnceLock::new();
    if let Some(f) = FLAG.get() {
        return f.clone();
    }
    let flag = FLAG.get_or_init(|| std::sync::Arc::new(AtomicBool::new(false))).clone();
    let f = flag.clone();
    // SIGINT and SIGTERM alike (ctrlc's `termination` feature). A second signal does not cut
    // teardown short: every teardown command is bounded (sandbox::TEARDOWN_WAIT), so it ends.
    let _ = ctrlc::set_handler(move || {
        if f.swap(true, Ordering::SeqCst) {
            eprintln!("\nsandbench: still tearing down sandboxes; each step is bounded, it will end shortly");
        } else {
            eprintln!("\nsandbench: interrupted; tearing down sandboxes");
        }
    });
    flag
}
