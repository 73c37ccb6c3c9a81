//! Ctrl-C and SIGTERM: the first asks the run to stop at the next safe point (the loop saves
//! `checkpoint_latest.hebb` and the command exits 130); a second one exits at once.

use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// True once a stop was requested.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// Asks the run to stop (what the signal handler does).
pub fn request() {
    REQUESTED.store(true, Ordering::SeqCst);
}

/// Installs the handler for SIGINT and SIGTERM (once per process; later calls do nothing).
pub fn install() {
    let _ = ctrlc::set_handler(|| {
        if REQUESTED.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
    });
}

/// Clears a stop request, so that a process that handled one (a notebook, a test) can train
/// again.
pub fn reset() {
    REQUESTED.store(false, Ordering::SeqCst);
}
