# turnout — two commands matter: `make demo` and `make test`. Both work on a fresh machine.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

VENV       ?= .venv
PY         := $(VENV)/bin/python
CARGO      ?= cargo
PRISM      := tests/prism/node_modules/.bin/prism

.PHONY: demo test setup setup-system setup-python setup-node setup-prism lint rust-test spec-test \
        python-test node-test dist-test dist bench loadtest clean deny fuzz

## The main job: a live progressive rollout on the embedded simulator (no keys needed).
demo:
	$(CARGO) run -q --release -p turnout-cli -- demo

## Every test of every language, plus formatting and lints.
test: setup lint deny rust-test spec-test python-test node-test dist-test
	@echo "make test: all suites passed"

setup: setup-system setup-python setup-node setup-prism

## Debian packages the tests use: redis-server (shared state tests), prometheus (the Argo,
## Flagger and Grafana examples are run by a real Prometheus in cli/tests/prometheus.rs).
setup-system:
	@command -v redis-server >/dev/null && command -v prometheus >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq redis-server prometheus >/dev/null; }

setup-python: $(VENV)/.installed
$(VENV)/.installed: bindings-python/requirements-dev.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r bindings-python/requirements-dev.txt
	touch $@

setup-node: bindings-node/node_modules/.package-lock.json
# `npm install`, not `npm ci`: the lock was made where the registry lacks some of
# @napi-rs/cli's optional per-platform packages, which `npm ci` counts as out of sync. With an
# up-to-date lock, `npm install` installs exactly what it pins and leaves it unchanged.
bindings-node/node_modules/.package-lock.json: bindings-node/package-lock.json
	cd bindings-node && npm install --no-audit --no-fund

setup-prism: tests/prism/node_modules/.package-lock.json
tests/prism/node_modules/.package-lock.json: tests/prism/package-lock.json
	cd tests/prism && npm ci --no-audit --no-fund

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	# The lean build (no YAML/TOML parser, no HTTP server) keeps compiling, and its tests pass.
	$(CARGO) clippy -p turnout-llm --no-default-features --lib -- -D warnings
	$(CARGO) test -p turnout-llm --no-default-features --lib -q
	# The API docs build without a broken or private link (what docs.rs and `cargo doc` show).
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps -q -p turnout-llm -p turnout-cli -p turnout-sim
	# A default written `[true]` or `[false]` in a doc comment resolves, silently, to a link to
	# `bool`'s page; such defaults are escaped (`\[true\]`).
	! grep -rnP '^\s*//[/!].*(?<!\\)\[(true|false)\]' core/src cli/src bindings-python/src bindings-node/src

# `cargo test --workspace` also builds target/debug/turnout (the CLI's tests run it), which the
# Python and Node suites then use as their simulator: one build, one feature set.
TURNOUT_BIN := $(CURDIR)/target/debug/turnout

rust-test:
	$(CARGO) test --workspace --exclude turnout-node

spec-test: setup-prism
	TURNOUT_PRISM_BIN=$(CURDIR)/$(PRISM) $(CARGO) test -p turnout-llm --test openai_spec -- --ignored

python-test: setup-python
	PROFILE=debug VENV=$(VENV) bash bindings-python/scripts/build.sh
	TURNOUT_BIN=$(TURNOUT_BIN) VENV=$(VENV) bash bindings-python/scripts/test.sh

node-test: setup-node
	bash bindings-node/scripts/build.sh
	TURNOUT_BIN=$(TURNOUT_BIN) bash bindings-node/scripts/test.sh

## Supply chain: `cargo deny check` (advisories, licences, duplicate crates, sources; deny.toml),
## offline, against the advisory-database snapshot in ../shared/advisory-db.
ADVISORY_SNAPSHOT ?= ../shared/advisory-db
CARGO_DENY_VERSION := 0.20.2
CARGO_FUZZ_VERSION := 0.13.2
CARGO_BIN          := $(HOME)/.cargo/bin
# cargo-deny opens <db-path>/advisory-db-<hash of the database URL> as a git repository.
ADVISORY_DB        := target/advisory-dbs/advisory-db-3157b0e258782691

deny: $(ADVISORY_DB)/.snapshot
	@$(CARGO_BIN)/cargo-deny --version 2>/dev/null | grep -qx 'cargo-deny $(CARGO_DENY_VERSION)' || \
	  $(MAKE) --no-print-directory cargo-tool TOOL=cargo-deny VERSION=$(CARGO_DENY_VERSION)
	$(CARGO_BIN)/cargo-deny --offline --locked check

$(ADVISORY_DB)/.snapshot: $(ADVISORY_SNAPSHOT)/SNAPSHOT.md
	rm -rf $(ADVISORY_DB) && mkdir -p $(dir $(ADVISORY_DB))
	cp -R $(ADVISORY_SNAPSHOT) $(ADVISORY_DB) && chmod -R u+w $(ADVISORY_DB)
	cd $(ADVISORY_DB) && git init -q && git add -A && \
	  git -c user.name=turnout -c user.email=turnout@localhost commit -q -m "snapshot"
	touch $@

# A cargo subcommand as the prebuilt binary PyPI ships (seconds; `cargo install` compiles for
# minutes on 2 cores), kept in ~/.cargo/bin so that the next run finds it.
.PHONY: cargo-tool
cargo-tool:
	rm -rf target/tools-venv && python3 -m venv target/tools-venv
	target/tools-venv/bin/pip install -q astral-dev-toolchain-$(TOOL)==$(VERSION)
	install -D -m 755 target/tools-venv/bin/$(TOOL) $(CARGO_BIN)/$(TOOL)

## Fuzzing (not part of `make test`): each target of fuzz/ for FUZZ_SECONDS (libFuzzer, through
## cargo fuzz; RUSTC_BOOTSTRAP lets the stable toolchain take its instrumentation flags).
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= sse config error_body retry_after
fuzz:
	@$(CARGO_BIN)/cargo-fuzz --version 2>/dev/null | grep -qx 'cargo-fuzz $(CARGO_FUZZ_VERSION)' || \
	  $(MAKE) --no-print-directory cargo-tool TOOL=cargo-fuzz VERSION=$(CARGO_FUZZ_VERSION)
	for t in $(FUZZ_TARGETS); do \
	  mkdir -p fuzz/corpus/$$t && \
	  RUSTC_BOOTSTRAP=1 $(CARGO_BIN)/cargo-fuzz run --fuzz-dir fuzz --target-dir fuzz/target \
	    --sanitizer none --debug-assertions $$t fuzz/corpus/$$t fuzz/seeds/$$t \
	    -- -max_total_time=$(FUZZ_SECONDS) -max_len=8192 -timeout=10 -rss_limit_mb=2048 || exit 1; \
	done

# The packages a user installs, each into a clean environment, packed from the builds above.
dist-test: python-test node-test
	TURNOUT_BIN=$(TURNOUT_BIN) bash tests/dist/check.sh --quick

## The packages, into dist/: the crate (turnout-llm), the abi3 manylinux wheel and the sdist,
## the npm tarball; then each is installed into a clean environment and run.
DIST := dist
dist: setup-python setup-node
	rm -rf $(DIST) && mkdir -p $(DIST)
	$(CARGO) package -p turnout-llm --allow-dirty
	cp target/package/turnout-llm-*.crate $(DIST)/
	$(VENV)/bin/maturin build --profile dist -m bindings-python/Cargo.toml --out $(DIST)
	$(VENV)/bin/maturin sdist -m bindings-python/Cargo.toml --out $(DIST)
	bash bindings-node/scripts/build.sh
	cd bindings-node && npm pack --pack-destination ../$(DIST)
	$(CARGO) build -q -p turnout-cli
	TURNOUT_BIN=$(TURNOUT_BIN) bash tests/dist/check.sh $(DIST)
	@ls -l $(DIST)

## Benchmarks (not tests): writes BENCHMARKS.md.
bench:
	bash bench/run.sh

## 500 rps for 10 s, open loop, against `turnout sim` with 5 % errors, in a release build
## (docs/pipeline.md shows its output).
loadtest:
	$(CARGO) build -q --release -p turnout-cli
	bash cli/scripts/loadtest-sim.sh

clean:
	$(CARGO) clean
	rm -rf $(VENV) $(DIST) bindings-node/node_modules tests/prism/node_modules
