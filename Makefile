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
# prometheus: promtool for the alerting rules' unit tests and the metrics lint, and the server the
# monitoring lab test starts itself on a free loopback port (the package's own service is not used).
# stress-ng: the CPU hog beside the scale and churn tests and benchmarks.
# nftables: nft, which the control-plane lab test uses to cut one node off at the bridge (a partition).
DEB_PACKAGES := openssl iproute2 iputils-ping iputils-arping ndisc6 tcpdump bird2 frr socat curl make g++ python3 prometheus stress-ng keepalived haproxy psmisc nftables
# Image and install: `make image` builds IMAGE offline with Podman (see image/build.sh).
VERSION := $(shell node -p "require('./package.json').version" 2>/dev/null)
IMAGE ?= localhost/beacon:$(VERSION)
IMAGE_DEB_PACKAGES := mmdebstrap podman runc
HELM = $$(test/env/build-helm.sh)
KUBECTL = $$(test/env/build-control-plane.sh)/kubectl
JEST := node --experimental-vm-modules --no-warnings=ExperimentalWarning node_modules/jest/bin/jest.js
STAMP := node_modules/.beacon-deps

.PHONY: help deps debs build check lint format test test-unit test-integration test-e2e bench \
        control-plane testenv-up testenv-down lab-up lab-down lab-status demo demo-lab demo-bgp demo-control-plane demo-down fuzz clean metallb bench-peers test-scale \
        monitoring image helm chart chart-golden manifests cluster-deps test-cluster demo-cluster

help:
	@echo "make demo          Beacon as Pods on a real 3-node cluster: the layer 2 example, curl through its IP (KEEP=1 keeps it up)"
	@echo "make demo-lab      the same example on the process-based lab, left running (make demo-down stops it)"
	@echo "make test          run every test, the real-cluster scenarios last (installs what it needs first)"
	@echo "make demo-bgp      the same Service in BGP mode: ECMP from three nodes via BIRD (make demo-down stops either)"
	@echo "make demo-control-plane  one VIP for three kube-apiservers on the lab: kubectl through it, a kill, the VIP on another node (make demo-down stops it)"
	@echo "make check         type check, lint and format check"
	@echo "make bench         benchmarks, printed as ratios against baselines from the same run"
	@echo "make bench-peers   Beacon next to MetalLB itself (built once from its Go module), p50/p99 and ratios"
	@echo "make test-scale    layer 2 at full size: 3 speakers, 10,000 Services, a CPU hog (SCALE_* settings)"
	@echo "make fuzz          1,000,000 mutated BGP messages through decoder and session (FUZZ_COUNT, FUZZ_SEED)"
	@echo "make testenv-up    start a control plane; kubeconfig in .testenv/kubeconfig"
	@echo "make testenv-down  stop it"
	@echo "make image         build the Beacon image ($(IMAGE)) offline with Podman"
	@echo "make manifests     render the one-file install dist/manifests/beacon-native.yaml (IMAGE=...)"
	@echo "make chart         sync charts/beacon (CRDs, alerts) and helm lint it"
	@echo "make demo-cluster  the layer 2 example on a real 3-node cluster (kubelets, kube-proxy), Beacon installed with Helm"
	@echo "make test-cluster  rolling update, failover and helm upgrade/uninstall scenarios on that cluster"
	@echo "make lab-up        create the network lab (namespaces bcn-*); make lab-down removes it"
	@echo "make monitoring    regenerate the Grafana dashboard ConfigMap from monitoring/dashboard.json"

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

# The image: Dockerfile built with no network; bases and the OCI archive cached in
# ~/.cache/beacon/image. Prints the image's size.
image: deps
	@$(MAKE) --no-print-directory debs DEB_PACKAGES="$(IMAGE_DEB_PACKAGES)"
	@image/build.sh $(IMAGE) >/dev/null

# MetalLB's controller and speaker, the peer that bench-peers and the migration test run
# against: built from the Go module pinned in test/peers/metallb/ and cached in ~/.cache/beacon.
metallb:
	@test/peers/build-metallb.sh >/dev/null

helm:
	@test/env/build-helm.sh >/dev/null

# The chart's CRDs are copies of crds/ (and its alerting rules of monitoring/alerts.yaml, once
# that exists): one source, checked by test/unit/chart.test.ts.
chart: helm
	@rm -rf charts/beacon/crds && mkdir -p charts/beacon/crds && cp crds/*.yaml charts/beacon/crds/
	@if [ -f monitoring/alerts.yaml ]; then mkdir -p charts/beacon/files && cp monitoring/alerts.yaml charts/beacon/files/alerts.yaml; fi
	@$(HELM) lint --strict --quiet charts/beacon

# Regenerates the golden files test/unit/chart.test.ts compares `helm template` with.
chart-golden: build chart
	@BEACON_WRITE_GOLDEN=1 $(JEST) test/unit/chart.test.ts --selectProjects unit

# One file for `kubectl apply -f`: kustomization.yaml (CRDs + manifests/) with IMAGE in place of
# its localhost/beacon, through a temporary overlay (kustomize takes the base by a relative
# path, from outside it).
manifests: control-plane
	@mkdir -p dist/manifests
	@img='$(IMAGE)' && tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	  printf 'resources: [%s]\nimages: [{name: localhost/beacon, newName: %s, newTag: "%s"}]\n' \
	    "$$(realpath --relative-to="$$tmp" "$(CURDIR)")" "$${img%:*}" "$${img##*:}" >"$$tmp/kustomization.yaml" && \
	  { echo "# Beacon $(VERSION), image $(IMAGE): kubectl apply --server-side -f beacon-native.yaml"; \
	    $(KUBECTL) kustomize "$$tmp"; } >dist/manifests/beacon-native.yaml.tmp && \
	  mv dist/manifests/beacon-native.yaml.tmp dist/manifests/beacon-native.yaml
	@echo "dist/manifests/beacon-native.yaml ($(IMAGE))"

# The real-cluster scenarios run last, on their own (each brings up a three-node cluster; about
# 7 minutes on a loaded 2-core machine once the node binaries and the images are cached).
test: build control-plane chart metallb cluster-deps
	$(JEST) --selectProjects unit integration e2e
	$(JEST) --selectProjects cluster --runInBand

test-unit: build chart
	$(JEST) --selectProjects unit

test-integration: build control-plane metallb
	$(JEST) --selectProjects integration

test-e2e: build control-plane metallb
	$(JEST) --selectProjects e2e

# Beacon's image on a real three-node cluster (kubelets, kube-proxy; root): a rolling update
# of the speakers under a client request loop, failovers, helm upgrade and uninstall, with
# kube-proxy in iptables mode (BEACON_KUBE_PROXY_MODE=nftables runs those in nftables mode);
# then the nftables scenarios and the IPVS one (strictARP), each where the kernel supports the
# mode, saying why it is skipped elsewhere.
# ipset: kube-proxy's IPVS mode needs the tool (it checks its version before anything else).
CLUSTER_DEB_PACKAGES := containerd runc containernetworking-plugins iptables nftables ipset mmdebstrap podman
cluster-deps: build chart image
	@$(MAKE) --no-print-directory debs DEB_PACKAGES="$(CLUSTER_DEB_PACKAGES)"
	@test/env/build-control-plane.sh --with-nodes >/dev/null
	@test/cluster/build-images.sh >/dev/null

test-cluster: cluster-deps
	$(JEST) --selectProjects cluster --runInBand

# The layer 2 example on the real cluster: Beacon installed with Helm from the image just built, three
# real Pods behind kube-proxy, curl from the client. Tears down at the end (KEEP=1: on Ctrl-C).
demo-cluster: cluster-deps
	@node dist/test/cluster/demo.js $(if $(KEEP),--keep)

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

# `make demo`: Beacon installed as Pods on the real three-node cluster (see demo-cluster).
demo: demo-cluster

# The same example on the process-based lab (no kubelets; faster): left running until make demo-down.
demo-lab: build control-plane
	@node dist/test/demo.js up

# The layer 2 example's Service in BGP mode: the three nodes announce it to BIRD in the router namespace.
demo-bgp: build control-plane
	@node dist/test/demo.js up-bgp

# `beacon-speaker control-plane` on the lab: the API server VIP of three control-plane nodes.
demo-control-plane: build control-plane debs
	@node dist/test/demo/control-plane-demo.js up

demo-down:
	@if [ -f dist/test/demo.js ]; then node dist/test/demo.js down; fi
	@if [ -f dist/test/demo/control-plane-demo.js ]; then node dist/test/demo/control-plane-demo.js down; fi

bench: build control-plane
	@node --expose-gc dist/test/bench/run.js

bench-peers: build control-plane metallb
	@node --expose-gc dist/test/bench/peers.js

# Layer 2 at full size on the lab: figures, not a pass/fail test. SCALE_SERVICES (10000),
# SCALE_SAMPLE (300), SCALE_PROBE_MS (100), SCALE_MINUTES (10), SCALE_HOG_CPUS (2).
test-scale: build control-plane
	@node dist/test/scale/l2-scale-run.js

# A million generated and mutated BGP messages through the framer, decoder and session FSM;
# failing inputs are saved to speaker/bgp/wire/testdata/malformed/, which the unit tests replay.
fuzz: build
	@node dist/test/fuzz/bgp-fuzz.js $(or $(FUZZ_COUNT),1000000) $(or $(FUZZ_SEED),1)

# The Grafana dashboard's ConfigMap, from monitoring/dashboard.json (the one source).
monitoring:
	node monitoring/dashboard-configmap.mjs

clean:
	rm -rf dist coverage .testenv
