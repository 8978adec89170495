#!/usr/bin/env bash
# Runs the app: installs what is missing, builds (release), and serves http://127.0.0.1:5000 with the
# embedded media server and the demo accounts (publisher1, publisher2, subscriber, moderator; password "pass").
# Extra arguments go to the server, e.g. `scripts/run.sh --https --listen 0.0.0.0:5000
# --public-url https://192.168.1.20:5000 --media-public-ip 192.168.1.20 --media-udp 0.0.0.0:0`.
set -euo pipefail
cd "$(dirname "$0")/.."
server=${CARGO_TARGET_DIR:-target}/release/server
# The server's own help needs no fresh build when there is one already.
for arg in "$@"; do
  if [[ $arg == -h || $arg == --help ]] && [ -x "$server" ]; then exec "$server" --help; fi
done
scripts/build-app.sh --release
exec "$server" --site-root target/site "$@"
