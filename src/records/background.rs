//! CPU-heavy work that must not hold up the serial parts of the system. A batch's parse and
//! checks (~10 ms of CPU for 100 documents, on every core) ran at the same priority as SQLite's
//! one writer thread and as every other request; on a two-core machine the writer then waited
//! for a core while holding the write lock, and every batch behind it waited for the writer
//! (`benches/ingest.rs`, `INGEST_PROFILE=batch`: the write lock held ~10 % longer).

/// How much lower than normal (nice 0) the work runs: it still gets the CPU nobody else wants.
const NICE: i32 = 10;

/// Runs `work` on a thread of its own at a lower CPU priority and returns its result. Threads
/// that `work` starts inherit the priority (Linux keeps the nice value per thread and copies it
/// to new ones). A fresh thread because an unprivileged process cannot raise a priority back:
/// a pool thread would stay lowered for whatever it ran next. Where lowering fails (another
/// system, a sandbox), the work runs at normal priority.
pub fn run<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(|| {
            lower();
            work()
        })
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

#[cfg(target_os = "linux")]
fn lower() {
    let me = rustix::thread::gettid();
    if let Err(e) = rustix::process::setpriority_process(Some(me), NICE) {
        tracing::debug!("cannot lower the priority of a background thread: {e}");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn x5_work_runs_lowered_and_its_threads_too_and_the_caller_stays_as_it_was() {
        let before = rustix::process::getpriority_process(None).expect("own priority");
        let (outer, inner) = run(|| {
            let me = rustix::process::getpriority_process(Some(rustix::thread::gettid()))
                .expect("priority");
            let child = std::thread::spawn(|| {
                rustix::process::getpriority_process(Some(rustix::thread::gettid()))
                    .expect("priority")
            })
            .join()
            .expect("child");
            (me, child)
        });
        assert_eq!(outer, (before + NICE).min(19));
        assert_eq!(
            inner, outer,
            "a thread started by the work inherits its priority"
        );
        let after = rustix::process::getpriority_process(Some(rustix::thread::gettid()))
            .expect("own priority");
        assert_eq!(after, before, "the calling thread keeps its priority");
    }

    #[test]
    fn x5_the_work_answer_comes_back() {
        assert_eq!(run(|| 6 * 7), 42);
    }
}
