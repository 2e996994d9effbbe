#!/usr/bin/env bash
# Installs each package of a dist directory into a clean environment — a fresh venv, a fresh
# npm project, a scratch cargo project depending on the unpacked .crate — and runs a small
# example of each against `turnout sim`. Offline: pip takes the wheel alone (the package has no
# dependencies), npm the tarball, cargo the workspace's lock and registry cache.
#
#   bash tests/dist/check.sh DIST_DIR       # what `make dist` wrote
#   bash tests/dist/check.sh --quick        # packs from the builds `make test` already made
#
# Environment: TURNOUT_BIN (the simulator; default target/debug/turnout), PYTHON (python3).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
TURNOUT_BIN="${TURNOUT_BIN:-$ROOT/target/debug/turnout}"
PYTHON="${PYTHON:-python3}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

WORK="$(mktemp -d)"
SIM_PID=""
cleanup() {
    [ -n "$SIM_PID" ] && kill "$SIM_PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

if [ "${1:-}" = "--quick" ]; then
    DIST="$WORK/dist"
    mkdir -p "$DIST"
    cargo package -q -p turnout-llm --allow-dirty --no-verify
    cp "$CARGO_TARGET_DIR"/package/turnout-llm-*.crate "$DIST/"
    cp target/wheels/turnout-*.whl "$DIST/"
    (cd bindings-node && npm pack --silent --pack-destination "$DIST" >/dev/null)
else
    DIST="$(cd "${1:?usage: check.sh DIST_DIR | --quick}" && pwd)"
fi

"$TURNOUT_BIN" sim --port 0 --name dist > "$WORK/sim.log" 2>&1 &
SIM_PID=$!
for _ in $(seq 100); do
    URL="$(grep -o 'http://[^ ]*/v1' "$WORK/sim.log" || true)"
    [ -n "$URL" ] && break
    sleep 0.1
done
[ -n "$URL" ] || { echo "turnout sim did not start" >&2; exit 1; }
export TURNOUT_DIST_URL="$URL"

echo "== Python: a fresh venv with $(basename "$DIST"/turnout-*.whl)"
"$PYTHON" -m venv "$WORK/venv"
"$WORK/venv/bin/pip" install -q --no-index --disable-pip-version-check "$DIST"/turnout-*.whl
(cd "$WORK" && "$WORK/venv/bin/python" - <<'PY'
import os

import turnout

url = os.environ["TURNOUT_DIST_URL"]
with turnout.Client(blue=turnout.Environment(url), green=turnout.Environment(url), canary_weight=50.0) as client:
    resp = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert resp.choices[0].message.content == "Echo: hi", resp
    print("python:", resp.route.environment, resp.choices[0].message.content)
PY
)

echo "== Node: a fresh npm project with $(basename "$DIST"/turnout-*.tgz)"
mkdir "$WORK/npm"
(cd "$WORK/npm" && npm init -y >/dev/null && npm install --silent --offline --no-audit --no-fund "$DIST"/turnout-*.tgz \
  && node -e "
const { Client } = require('turnout')
const url = process.env.TURNOUT_DIST_URL
const client = new Client({ blue: { baseUrl: url }, green: { baseUrl: url }, canaryWeight: 50 })
client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }).then((resp) => {
  if (resp.choices[0].message.content !== 'Echo: hi') throw new Error(JSON.stringify(resp))
  console.log('node:', resp.route.environment, resp.choices[0].message.content)
  client.close()
})")

echo "== Rust: a scratch project depending on $(basename "$DIST"/turnout-llm-*.crate)"
tar xzf "$DIST"/turnout-llm-*.crate -C "$WORK"
CRATE="$(ls -d "$WORK"/turnout-llm-*/)"
mkdir -p "$WORK/app/src"
cat > "$WORK/app/Cargo.toml" <<TOML
[package]
name = "dist-check"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
turnout = { package = "turnout-llm", path = "$CRATE" }
tokio = { version = "1", features = ["macros", "rt-multi-thread"] }

[workspace]
TOML
cat > "$WORK/app/src/main.rs" <<'RS'
use turnout::protocol::{ChatCompletionRequest, ChatMessage};
use turnout::{ApiKey, Client, Environment};

#[tokio::main]
async fn main() -> turnout::Result<()> {
    let url = std::env::var("TURNOUT_DIST_URL").expect("TURNOUT_DIST_URL");
    let client = Client::builder()
        .blue(Environment::new(url.as_str(), ApiKey::new("sk-dist")))
        .green(Environment::new(url.as_str(), ApiKey::new("sk-dist")))
        .canary_weight(50.0)
        .build()?;
    let request = ChatCompletionRequest::new("gpt-4o-mini", vec![ChatMessage::user("hi")]);
    let resp = client.chat().create(request).await?;
    assert_eq!(resp.choices[0].message.text(), Some("Echo: hi"));
    println!("rust: {} {:?}", resp.route.environment, resp.choices[0].message.text());
    Ok(())
}
RS
# The workspace's lock: the same versions, all in the local registry cache.
cp Cargo.lock "$WORK/app/Cargo.lock"
(cd "$WORK/app" && cargo run -q --offline)
echo "dist check: the crate, the wheel and the npm tarball install and run"
