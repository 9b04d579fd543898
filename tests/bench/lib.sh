# Shared by the benchmark scripts (sourced, not run): logging, and installing a missing tool
# with apt-get when running as root.

log() { printf '%s\n' "$*" >&2; }

# need COMMAND PACKAGE: COMMAND is on PATH (or an executable path), or PACKAGE is installed.
need() {
    local cmd=$1 pkg=$2
    if [ -x "$cmd" ] || command -v "$cmd" >/dev/null 2>&1; then
        return
    fi
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        log "error: $cmd is missing; install the $pkg package"
        exit 2
    fi
    log "installing $pkg..."
    apt-get install -y "$pkg" >/dev/null 2>&1 ||
        { apt-get update >/dev/null 2>&1 && apt-get install -y "$pkg" >/dev/null 2>&1; } ||
        { log "error: cannot install $pkg"; exit 2; }
}
