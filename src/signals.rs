//! The signals that end a run early: Ctrl-C (SIGINT) and SIGTERM. One
//! watcher, installed once, counts them for the whole process: the first
//! stops the run at its next step (artifacts, analysis, tarball and cleanup
//! still happen), a second is ignored so that teardown can finish, and a
//! third ends the process at once.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use tokio::sync::Notify;

static RECEIVED: AtomicU32 = AtomicU32::new(0);
static FIRST: OnceLock<&'static str> = OnceLock::new();
static INSTALLED: OnceLock<()> = OnceLock::new();

fn notify() -> &'static Notify {
    static NOTIFY: OnceLock<Notify> = OnceLock::new();
    NOTIFY.get_or_init(Notify::new)
}

/// Starts watching SIGINT and SIGTERM for the rest of the process (once;
/// needs a Tokio runtime). From then on a signal no longer kills the process:
/// [`termination`] reports it.
pub fn install() {
    INSTALLED.get_or_init(|| {
        tokio::spawn(async {
            let mut signals = Listeners::new();
            loop {
                let name = signals.next().await;
                let _ = FIRST.set(name);
                let count = RECEIVED.fetch_add(1, Ordering::SeqCst) + 1;
                notify().notify_waiters();
                if count >= 3 {
                    crate::progress::Reporter::plain().line(format!("{name} a third time: exiting at once"));
                    std::process::exit(130);
                }
                if count == 2 {
                    crate::progress::Reporter::plain()
                        .line(format!("{name} again: finishing the cleanup (a third signal exits at once)"));
                }
            }
        });
    });
}

/// Resolves when SIGINT or SIGTERM has arrived (now or before this call),
/// with the first one's name.
pub async fn termination() -> &'static str {
    install();
    loop {
        let notified = notify().notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if RECEIVED.load(Ordering::SeqCst) > 0 {
            return FIRST.get().copied().unwrap_or("a signal");
        }
        notified.await;
    }
}

/// `future`, unless SIGINT or SIGTERM comes first (`Err` with its name).
pub async fn or_signal<F: std::future::Future>(future: F) -> Result<F::Output, &'static str> {
    tokio::select! {
        output = future => Ok(output),
        signal = termination() => Err(signal),
    }
}

/// The first signal's name (`SIGINT`, `SIGTERM`), once one has arrived.
pub fn first() -> &'static str {
    FIRST.get().copied().unwrap_or("a signal")
}

/// Whether a signal has arrived.
pub fn received() -> bool {
    RECEIVED.load(Ordering::SeqCst) > 0
}

/// SIGINT and SIGTERM listeners, made once so that no signal falls between two.
struct Listeners {
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
}

impl Listeners {
    #[cfg(unix)]
    fn new() -> Self {
        use tokio::signal::unix::{signal, SignalKind};
        Listeners {
            interrupt: signal(SignalKind::interrupt()).ok(),
            terminate: signal(SignalKind::terminate()).ok(),
        }
    }

    #[cfg(unix)]
    async fn next(&mut self) -> &'static str {
        async fn recv(signal: &mut Option<tokio::signal::unix::Signal>) {
            match signal {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending().await,
            }
        }
        tokio::select! {
            () = recv(&mut self.interrupt) => "SIGINT",
            () = recv(&mut self.terminate) => "SIGTERM",
        }
    }

    #[cfg(not(unix))]
    fn new() -> Self {
        Listeners {}
    }

    #[cfg(not(unix))]
    async fn next(&mut self) -> &'static str {
        match tokio::signal::ctrl_c().await {
            Ok(()) => "SIGINT",
            Err(_) => std::future::pending().await,
        }
    }
}
