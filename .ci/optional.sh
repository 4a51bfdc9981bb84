# Sourced by .ci/run: tools some tests need that are not on a fresh machine.
ensure_compose
