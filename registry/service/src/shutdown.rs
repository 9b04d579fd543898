//! Stopping: the signals that end a service (SIGTERM from Kubernetes, SIGINT from a
//! terminal), and the flag its tasks watch to finish their work and return.
//!
//! A handler that cannot be installed is logged, not fatal: the service still stops on
//! the other signal (or when killed), which is better than refusing to start.

use tokio::sync::watch;

/// Resolves on the first SIGTERM or SIGINT. The handlers are installed when this is
/// called, not when it is first polled, so a signal that arrives in between still counts.
/// Must be called inside a Tokio runtime.
pub fn signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::SignalKind;
        let term = one(SignalKind::terminate(), "SIGTERM");
        let int = one(SignalKind::interrupt(), "SIGINT");
        async move {
            tokio::select! {
                () = term => {}
                () = int => {}
            }
        }
    }
    #[cfg(not(unix))]
    async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(unix)]
fn one(
    kind: tokio::signal::unix::SignalKind,
    name: &'static str,
) -> impl Future<Output = ()> + Send + 'static {
    let installed = tokio::signal::unix::signal(kind);
    async move {
        match installed {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for {name}");
                std::future::pending::<()>().await;
            }
        }
    }
}

/// A stop flag that turns true on the first signal (see [`signal`]), for the tasks of a
/// service to watch with [`stopped`]; `on_signal` runs when it does (to log, say).
pub fn flag_on_signal(on_signal: impl FnOnce() + Send + 'static) -> watch::Receiver<bool> {
    let (stop, flag) = watch::channel(false);
    let signal = signal();
    tokio::spawn(async move {
        signal.await;
        on_signal();
        let _ = stop.send(true);
    });
    flag
}

/// Resolves once `flag` is true, or once its sender is gone, which also means "stop".
pub async fn stopped(flag: &mut watch::Receiver<bool>) {
    // The guard wait_for returns is dropped here: holding it across an await would make
    // the caller's future !Send.
    let _ = flag.wait_for(|stop| *stop).await;
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn stopped_waits_for_true_or_a_dropped_sender() {
        let (stop, mut flag) = watch::channel(false);
        let early = tokio::time::timeout(Duration::from_millis(20), stopped(&mut flag)).await;
        assert!(early.is_err(), "false is not stopped");
        stop.send(true).unwrap();
        stopped(&mut flag).await;
        let (stop, mut flag) = watch::channel(false);
        drop(stop);
        stopped(&mut flag).await;
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn sigterm_raises_the_flag() {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let mut flag = flag_on_signal(move || {
            let _ = tx.send(());
        });
        // The handler is already installed, so this SIGTERM is caught, not fatal.
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &std::process::id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        tokio::time::timeout(Duration::from_secs(5), stopped(&mut flag))
            .await
            .expect("the flag turns true");
        assert!(*flag.borrow());
        rx.await.expect("on_signal ran");
    }
}
