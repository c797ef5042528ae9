# Beacon. `make demo` and `make test` do all set-up on a fresh Debian 12 machine (as root):
# Debian packages, npm dependencies, the TypeScript build and the control plane (built once
# from pinned Go modules and cached in ~/.cache/beacon).

SHELL := /bin/bash
.DEFAULT_GOAL := help
export npm_config_nodedir := /usr
export npm_config_update_notifier := false
export npm_config_fund := false
export npm_config_audit := false

# Debian packages the build, the tests and the network lab use.
DEB_PACKAGES := openssl iproute2 iputils-ping iputils-arping ndisc6 tcpdump bird2 frr socat curl make g++ python3 stress-ng
JEST := node --experimental-vm-modules --no-warnings=ExperimentalWarning node_modules/jest/bin/jest.js
STAMP := node_modules/.beacon-deps

.PHONY: help deps debs build check lint format test test-unit test-integration test-e2e bench \
        control-plane test-scale testenv-up testenv-down lab-up lab-down lab-status demo demo-bgp demo-down fuzz clean

help:
	@echo "make demo          run Beacon on the embedded lab (control plane + network namespaces)"
	@echo "make test          run every test (installs what it needs first)"
	@echo "make demo-bgp      the same Service in BGP mode: ECMP from three nodes via BIRD (make demo-down stops either)"
	@echo "make check         type check, lint and format check"
	@echo "make bench         benchmarks, printed as ratios against baselines from the same run"
	@echo "make test-scale    layer 2 at full size: 3 speakers, 10,000 Services, a CPU hog (SCALE_* settings)"
	@echo "make fuzz          1,000,000 mutated BGP messages through decoder and session (FUZZ_COUNT, FUZZ_SEED)"
	@echo "make testenv-up    start a control plane; kubeconfig in .testenv/kubeconfig"
	@echo "make testenv-down  stop it"
	@echo "make lab-up        create the network lab (namespaces bcn-*); make lab-down removes it"

# Debian packages: installed only when one is missing (needs root, as CI has).
debs:
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages: $$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

$(STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

deps: debs $(STAMP)

build: deps
	speaker/native/build.sh
	npx tsc -p tsconfig.build.json
	@chmod +x dist/controller/main.js dist/speaker/main.js

check: deps
	npx tsc --noEmit -p tsconfig.json
	npx eslint .
	npx prettier --check .

lint: check

format: deps
	npx prettier --write .

control-plane:
	@test/env/build-control-plane.sh >/dev/null

test: build control-plane
	$(JEST)

test-unit: build
	$(JEST) --selectProjects unit

test-integration: build control-plane
	$(JEST) --selectProjects integration

test-e2e: build control-plane
	$(JEST) --selectProjects e2e

testenv-up: build control-plane
	@node dist/test/env/cli.js up

testenv-down:
	@if [ -f dist/test/env/cli.js ]; then node dist/test/env/cli.js down; fi

lab-up: build
	@node dist/test/e2e/lab-cli.js up

lab-down:
	@if [ -f dist/test/e2e/lab-cli.js ]; then node dist/test/e2e/lab-cli.js down; fi

lab-status:
	@node dist/test/e2e/lab-cli.js status

demo: build control-plane
	@node dist/test/demo.js up

# The layer 2 example's Service in BGP mode: the three nodes announce it to BIRD in the router namespace.
demo-bgp: build control-plane
	@node dist/test/demo.js up-bgp

demo-down:
	@if [ -f dist/test/demo.js ]; then node dist/test/demo.js down; fi

bench: build control-plane
	@node --expose-gc dist/test/bench/run.js

# Layer 2 at full size on the lab: figures, not a pass/fail test. SCALE_SERVICES (10000),
# SCALE_SAMPLE (300), SCALE_PROBE_MS (100), SCALE_MINUTES (10), SCALE_HOG_CPUS (2).
test-scale: build control-plane
	@node dist/test/scale/l2-scale-run.js

# A million generated and mutated BGP messages through the framer, decoder and session FSM;
# failing inputs are saved to speaker/bgp/wire/testdata/malformed/, which the unit tests replay.
fuzz: build
	@node dist/test/fuzz/bgp-fuzz.js $(or $(FUZZ_COUNT),1000000) $(or $(FUZZ_SEED),1)

clean:
	rm -rf dist coverage .testenv
