//! What every service does first: logs to stderr, and one TLS provider for the process.

/// Logs at `level` and above go to stderr, without colour (they end up in a pod's log, not a
/// terminal); stdout is left to what a service prints for scripts (the bound address).
/// The process's TLS provider is ring, chosen here rather than by whichever crate asks first:
/// reqwest is built without a default one, and kube would otherwise pick its own.
/// Calling this twice keeps the first set-up.
pub fn init(level: tracing::Level) {
    let _ = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
    let _ = rustls::crypto::ring::default_provider().install_default();
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_tls_provider_is_installed_once() {
        super::init(tracing::Level::INFO);
        super::init(tracing::Level::DEBUG);
        assert!(rustls::crypto::CryptoProvider::get_default().is_some());
        assert!(tracing::enabled!(tracing::Level::INFO));
        assert!(
            !tracing::enabled!(tracing::Level::DEBUG),
            "the first level holds"
        );
    }
}
