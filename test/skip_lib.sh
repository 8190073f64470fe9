# Sourced by the kernel tests: how a test that cannot run here says so.
#   skip REASON   exit 77 (ctest: skipped) with "SKIP: REASON"; under CI=true a
#                 failure instead: CI must never go green with its kernel tests
#                 skipped for want of root or of a tool scripts/install-deps installs.
# (A tool from ../shared that is absent, as in a user's clone, is a plain exit 77.)
skip() {
  if [[ ${CI:-} == true ]]; then
    echo "FAIL: cannot run under CI=true: $*"
    exit 1
  fi
  echo "SKIP: $*"
  exit 77
}
