# Sourced by .ci/run: tools some tests need that are not on a fresh machine.

# Debian's Chromium, driven by playwright-core in web/e2e.int.test.ts (Playwright's own browser
# downloads are not used). That test fails, rather than skips, when Chromium is missing.
ensure_chromium() {
  [ -x /usr/bin/chromium ] && return 0
  log "installing chromium (for the web client's browser test)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 || log "chromium could not be installed"
}

ensure_compose
ensure_chromium
