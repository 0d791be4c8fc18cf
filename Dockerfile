# Lookout's container image.
#
#   scripts/image.sh build      (make image: podman, on machines with no Docker engine/registry)
#   docker build -t lookout:latest .
#   docker run --rm -p 8080:8080 lookout:latest       # then open http://127.0.0.1:8080
#
# The COCO model baked in (169 MB more; the build needs huggingface.co, or HF_ENDPOINT a mirror of
# the Hub), served as the default with the demo model beside it:
#   docker build --build-arg LOOKOUT_PULL_MODELS=coco-zoo \
#     --build-arg LOOKOUT_MODEL=coco=/app/models/FasterRCNN-12.onnx,shapes=/app/models/shapes.onnx \
#     -t lookout:coco .
#
# Two stages:
# - builder: Debian 12 with rustup's Rust and the SAME pinned tools as `make` (cargo-leptos,
#   wasm-bindgen-cli, wasm-opt, the onnxruntime library), installed by the same script,
#   scripts/ensure.sh, at the versions in scripts/versions.env. Then `cargo leptos build --release`.
# - runtime: debian:bookworm-slim with only the server binary, the site (WASM/JS/CSS/assets), the
#   onnxruntime shared library and the demo model; non-root (uid 10001), listening on 0.0.0.0:8080.
#
# Written for buildah 1.28 (Debian 12's podman) as well as BuildKit: no RUN heredocs, no
# COPY --link. Build with `--format docker` under podman, or the HEALTHCHECK is dropped (OCI image
# configs have no health check). x86_64 only: the pinned onnxruntime build is x86_64.

ARG DEBIAN_IMAGE=debian:bookworm-slim

########################################################################################### builder
FROM ${DEBIAN_IMAGE} AS builder

# Rust itself is not in scripts/versions.env (the Makefile uses whatever rustup provides); the
# project is measured on 1.95. rustup-init is fetched from static.rust-lang.org and checked.
ARG RUST_VERSION=1.95.0
ARG RUSTUP_VERSION=1.29.0
ARG RUSTUP_SHA256=4acc9acc76d5079515b46346a485974457b5a79893cfb01112423c89aeb5aa10

# node/npm use their own CA list unless told: NODE_EXTRA_CA_CERTS keeps HTTPS working behind a TLS
# proxy whose CA is in the system store (harmless elsewhere: it is the system store).
ENV DEBIAN_FRONTEND=noninteractive \
    NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
    CARGO_TERM_COLOR=never \
    CARGO_INCREMENTAL=0 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# What scripts/ensure.sh needs: curl, a C toolchain, python3 + pip (onnxruntime from PyPI),
# node + npm (wasm-opt from npm's binaryen).
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates curl build-essential pkg-config python3 python3-pip nodejs npm \
 && rm -rf /var/lib/apt/lists/*

RUN curl --proto '=https' --tlsv1.2 -sSfL -o /tmp/rustup-init \
      "https://static.rust-lang.org/rustup/archive/${RUSTUP_VERSION}/x86_64-unknown-linux-gnu/rustup-init" \
 && echo "${RUSTUP_SHA256}  /tmp/rustup-init" | sha256sum -c - \
 && chmod 0755 /tmp/rustup-init \
 && /tmp/rustup-init -y --no-modify-path --profile minimal \
      --default-toolchain "${RUST_VERSION}" --target wasm32-unknown-unknown \
 && rm /tmp/rustup-init \
 && /root/.cargo/bin/rustc --version

WORKDIR /src
ENV PATH=/src/.cache/tools/node_modules/.bin:/root/.cargo/bin:${PATH}

# The pinned tools, in a layer of their own so that it is rebuilt only when scripts/ensure.sh or
# scripts/versions.env change (cargo-leptos alone compiles for ~11 minutes). ensure.sh checks that
# Cargo.lock's wasm-bindgen equals the pin: a one-entry stub lock with the pinned version stands in
# for it here, and the real Cargo.lock is checked by the same script in the build step below.
COPY scripts/ensure.sh scripts/versions.env scripts/
RUN --mount=type=cache,id=lookout-cargo-registry,target=/root/.cargo/registry,sharing=locked \
    --mount=type=cache,id=lookout-cargo-git,target=/root/.cargo/git,sharing=locked \
    . scripts/versions.env \
 && printf '[[package]]\nname = "wasm-bindgen"\nversion = "%s"\n' "$WASM_BINDGEN_VERSION" > Cargo.lock \
 && scripts/ensure.sh build \
 && rm Cargo.lock \
 && cargo leptos --version && wasm-bindgen --version && wasm-opt --version

# The release build. cargo's registry and target/ live in cache mounts, so a rebuild after a
# source change recompiles only what changed; the artefacts are copied out of the mount into /out.
# The mounts are shared, not locked, here: buildah 1.28 holds the tools step's locks until the
# build ends, and a second RUN that locks the same cache id deadlocks.
COPY . .
RUN --mount=type=cache,id=lookout-cargo-registry,target=/root/.cargo/registry \
    --mount=type=cache,id=lookout-cargo-git,target=/root/.cargo/git \
    --mount=type=cache,id=lookout-target,target=/src/target \
    scripts/ensure.sh build \
 && rm -rf target/site \
 && cargo leptos build --release --precompress \
 && . scripts/versions.env \
 && mkdir -p /out/lib /out/site \
 && cp target/release/lookout /out/lookout \
 && cp target/release/hash.txt /out/hash.txt \
 && strip /out/lookout \
 && cp -R target/site/. /out/site/ \
 && cp ".cache/onnxruntime/libonnxruntime.so.${ORT_VERSION}" /out/lib/ \
 && ln -s "libonnxruntime.so.${ORT_VERSION}" /out/lib/libonnxruntime.so \
 && cp deploy/container/healthcheck /out/healthcheck \
 && ls -lR /out

########################################################################################### runtime
FROM ${DEBIAN_IMAGE} AS runtime

# onnxruntime needs libstdc++6 and libgcc-s1 (already in the base through apt; listed to say so);
# ca-certificates for the https image URLs the server fetches (reqwest also carries webpki roots).
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libstdc++6 libgcc-s1 \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log \
 && groupadd --gid 10001 lookout \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin lookout

# Everything is owned by root and read-only to the server: it needs no writable path at all.
COPY --from=builder /out/ /app/
COPY models/shapes.onnx /app/models/shapes.onnx

# Catalogue models to bake into the image (`lookout pull-model --list`), comma-separated, e.g.
# coco-zoo. Each is downloaded here, at build time, into /app/models and verified against its
# sha256 and size pin before it is kept; a source that fails or serves other bytes fails the
# build. Empty (the default): nothing is downloaded and the build needs no network here.
# HF_ENDPOINT names a mirror of the Hugging Face Hub for this step only. No token is taken as a
# build argument (it would stay in the image's history): the catalogue's files are public.
ARG LOOKOUT_PULL_MODELS=""
ARG HF_ENDPOINT=""
RUN set -eu; \
    for name in $(echo "${LOOKOUT_PULL_MODELS}" | tr ',' ' '); do \
      HF_ENDPOINT="${HF_ENDPOINT}" /app/lookout pull-model "$name" --dir /app/models --progress lines; \
    done; \
    ls -l /app/models

# What the server loads: `PATH` or `NAME=PATH`, comma-separated (the first is the default).
ARG LOOKOUT_MODEL=/app/models/shapes.onnx

ENV LOOKOUT_ADDR=0.0.0.0:8080 \
    LOOKOUT_MODEL=${LOOKOUT_MODEL} \
    LOOKOUT_ORT_LIBRARY=/app/lib/libonnxruntime.so \
    LEPTOS_SITE_ROOT=/app/site \
    LEPTOS_ENV=PROD

LABEL org.opencontainers.image.title="lookout" \
      org.opencontainers.image.description="Object detection on the web: an upload page and an HTTP API running an ONNX Faster R-CNN through onnxruntime" \
      org.opencontainers.image.licenses="MIT"

WORKDIR /app
USER 10001:10001
# 8080: HTTP (the page, /v1, /v2); 8001: gRPC when started with --grpc-addr 0.0.0.0:8001.
EXPOSE 8080 8001
# The server drains in-flight requests on SIGTERM for up to LOOKOUT_SHUTDOWN_GRACE_SECS (30 s);
# give `docker stop -t`/`podman stop -t` (default 10 s) at least that long under load.
STOPSIGNAL SIGTERM
# Healthy = ready for traffic (model loaded, not shutting down). bash's /dev/tcp, no curl needed.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 CMD ["/app/healthcheck", "/readyz"]
ENTRYPOINT ["/app/lookout"]
