# Lookout: `make run` serves it, `make test` proves it. Both install what is missing first.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := run

include scripts/versions.env

export PATH := $(CURDIR)/.cache/tools/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)
export LOOKOUT_ORT_LIBRARY ?= $(CURDIR)/.cache/onnxruntime/libonnxruntime.so.$(ORT_VERSION)
# The site (WASM, CSS, samples) is served from here, whatever the working directory.
export LEPTOS_SITE_ROOT ?= $(CURDIR)/target/site

# CI builds everything once from a clean clone on a disk of unknown size: incremental caches
# (~1.4 GB) and debug info (~180 MB in each test binary, ~2.5 GB in all) only cost space there.
# Panics still name file and line; only backtraces lose their line numbers.
ifdef CI
export CARGO_INCREMENTAL := 0
export CARGO_PROFILE_DEV_DEBUG := false
endif

ADDR ?= 127.0.0.1:3000
ARGS ?=
E2E_ADDR ?= 127.0.0.1:3917

.PHONY: run run-coco test setup setup-lint setup-test site lint unit e2e bench image image-test shapes-model coco-model coco-zoo-model clean help

help:
	@echo "make run        build the release site and serve Lookout on http://$(ADDR)"
	@echo "make run-coco   the same, serving the COCO FasterRCNN-12 (pulled first if missing) beside the demo model"
	@echo "make test       fmt, clippy, every Rust test and the browser tests"
	@echo "make bench      benchmarks (see bench/README.md)"
	@echo "make shapes-model  retrain the bundled demo model (~15 min on 2 cores)"
	@echo "make coco-model    export torchvision's COCO Faster R-CNN (needs the PyTorch venv, ~5 GB, and download.pytorch.org)"
	@echo "make coco-zoo-model  download the ONNX model zoo's COCO FasterRCNN-12 (169 MB, sha256-verified, no PyTorch)"
	@echo "                     from the Hugging Face Hub, then GitHub LFS: needs huggingface.co (HF_ENDPOINT for a"
	@echo "                     Hub mirror) or ARGS=\"--url MIRROR\""
	@echo "make export-model ARGS=\"CKPT --arch ARCH --labels FILE\"  your own checkpoint to ONNX (models/README.md)"
	@echo "make check-export  tests of the model export scripts (needs the ~5 GB torch venv)"

setup:
	@scripts/ensure.sh build

setup-lint:
	@scripts/ensure.sh lint

setup-test:
	@scripts/ensure.sh test

# --precompress: brotli and gzip copies of the site's files, served as they are.
site: setup
	cargo leptos build --release --precompress

run: site
	"$${CARGO_TARGET_DIR:-target}/release/lookout" --addr $(ADDR) $(ARGS)

# Real objects: the ONNX model zoo's COCO Faster R-CNN as the default model, the demo model beside
# it. pull-model leaves a verified copy alone (it only hashes it), so this downloads only once;
# PULL_ARGS="--url MIRROR" fetches the same pinned file from elsewhere.
PULL_ARGS ?=
run-coco: site
	"$${CARGO_TARGET_DIR:-target}/release/lookout" pull-model coco-zoo --dir models $(PULL_ARGS)
	"$${CARGO_TARGET_DIR:-target}/release/lookout" --addr $(ADDR) \
	  --model coco=models/FasterRCNN-12.onnx --model shapes=models/shapes.onnx --default-model coco $(ARGS)

# The host crates (everything the server binary is built from), in the server binary's features
# (the app with `ssr`; --no-default-features keeps the app's set the one the server asks for).
# They are linted while their tests are built: RUSTC_WORKSPACE_WRAPPER has cargo compile the
# workspace's own crates with clippy-driver (rustc plus clippy's lints; CLIPPY_ARGS carries
# `-D warnings`, as `cargo clippy -- -D warnings` does), and the dependencies with rustc. So every
# dependency is compiled once, for the tests. `cargo clippy` would compile each one a second time
# in check mode (metadata only, which a test build cannot use): from nothing, lint's and unit's
# compiling took 697 CPU-seconds that way (five clippy runs, two test builds), 400 this way.
# `make unit` runs cargo with the same settings and compiles nothing again. (A plain `cargo test`
# afterwards rebuilds only the workspace's crates: cargo keys them on the wrapper.)
CLIPPY_BUILD := RUSTC_WORKSPACE_WRAPPER=clippy-driver CLIPPY_ARGS=-Dwarnings
HOST_CRATES := -p wire -p detector -p pull -p server -p app --no-default-features --features app/ssr

lint: setup-lint
	cargo fmt --all --check
	# Unused dependencies; one used only for its features is listed, with the reason, under
	# [package.metadata.cargo-machete] in its Cargo.toml.
	cargo machete
	# No import circles between a crate's modules (scripts/import-cycles.py says what counts).
	python3 scripts/import-cycles.py detector server app wire pull
	# Each crate is linted in the configurations it is really built in: the host crates as the
	# server binary and the tests build them (every target: tests, benches, examples; see
	# CLIPPY_BUILD); wire also alone, without `schema`, as the page's WebAssembly has it; the
	# page's crates for wasm32. A workspace-wide run would unify the app's `ssr` and `hydrate`
	# features into a build that never ships.
	$(CLIPPY_BUILD) cargo test $(HOST_CRATES) --all-targets --no-run
	cargo clippy -p wire --all-targets -- -D warnings
	cargo clippy -p app -p frontend --no-default-features --features app/hydrate --target wasm32-unknown-unknown -- -D warnings
	scripts/validate-deploy.sh

# The export tests (app, server: API and CLI) read every export back with pycocotools, globox
# and PyYAML from the readers' venv. One cargo run for every crate, built as `lint` built it (so a
# lint warning fails `make unit` too): a second run for the app alone unified the features
# differently and compiled ~60 of its dependencies again.
# The Open Inference Protocol test (server/tests/oip) also drives the server with tritonclient
# from PyPI (scripts/oip/venv.sh makes its venv once).
unit: setup
	LOOKOUT_PYREADERS="$${LOOKOUT_PYREADERS:-$$(scripts/pyreaders/venv.sh)}" \
	LOOKOUT_TRITONCLIENT="$${LOOKOUT_TRITONCLIENT:-$$(scripts/oip/venv.sh)}" \
	  $(CLIPPY_BUILD) cargo test $(HOST_CRATES)

e2e: setup-test site
	end2end/run.sh $(E2E_ADDR)

test: setup-test lint unit e2e

bench: setup
	bench/run.sh

shapes-model:
	models/shapes/make.sh

coco-model:
	models/export_coco.sh $(ARGS)

# The ONNX model zoo's COCO Faster R-CNN, models/FasterRCNN-12.onnx, pinned by sha256 and size,
# resumable: no PyTorch. From the Hugging Face Hub (HF_ENDPOINT: a mirror of it), then GitHub LFS;
# ARGS="--url MIRROR" tries that first (the pin still applies).
coco-zoo-model:
	cargo build --release -p server --bin lookout
	"$${CARGO_TARGET_DIR:-target}/release/lookout" pull-model coco-zoo --dir models $(ARGS)

.PHONY: export-model check-export

# A torchvision detection checkpoint (or the shapes architecture) to an ONNX model Lookout serves:
# make export-model ARGS="path/to/checkpoint.pth --arch fasterrcnn_resnet50_fpn --labels labels.txt"
export-model:
	python=$$(models/venv.sh) && "$$python" models/export.py $(ARGS)

# Tests of models/export.py, export_coco.py and stamp_metadata.py (a few minutes, offline). Not part
# of `make test`: they need the models venv with torch (~5 GB, made by models/venv.sh on first use).
check-export:
	python=$$(models/venv.sh) && "$$python" models/tests/test_export.py

clean:
	cargo clean

.PHONY: deploy-check

# The container image, built and proven with podman (see deploy/README.md). Not part of `make test`:
# run `make image-test` whenever the Dockerfile, the Makefile or the dependencies change.
image:
	scripts/image.sh build

image-test: image
	scripts/image.sh test

# The Kubernetes manifests in deploy/kubernetes/, validated offline (also run by `make lint`).
deploy-check:
	scripts/validate-deploy.sh
