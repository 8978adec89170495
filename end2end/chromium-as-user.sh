#!/usr/bin/env bash
# Chromium under an unprivileged uid, for the tests that cut one browser's network for real: netfilter
# tells that browser's packets from everyone else's by the owner of their sockets (tests/netcut.ts
# launches it and names the user in NETCUT_USER). Playwright passes it as `executablePath`; its
# --remote-debugging-pipe descriptors (3 and 4) survive the exec, and the --user-data-dir it made is
# root's, so it is handed to the user first (Playwright, as root, still removes it afterwards).
set -euo pipefail
user=${NETCUT_USER:?NETCUT_USER must name the user to run Chromium as (tests/netcut.ts sets it)}
profile=
for arg in "$@"; do
  case "$arg" in
    --user-data-dir=*) profile=${arg#--user-data-dir=} ;;
  esac
done
if [ -z "$profile" ]; then
  echo "$0: no --user-data-dir among the arguments; Playwright always passes one" >&2
  exit 2
fi
chown -R "$user:" "$profile"
# Root's home is not writable for the user; Chromium keeps its caches under HOME.
export HOME=$profile
exec setpriv --reuid="$user" --regid="$(id -g "$user")" --clear-groups -- "${CHROMIUM:-/usr/bin/chromium}" "$@"
