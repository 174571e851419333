# The Molecule workspace image: the daemon (`molecule-runtime`), the `molecule` CLI and the pinned
# Claude Code CLI on Node, running as uid 1000 under tini.
#
#   docker build -t molecule-runtime .
#   docker build --build-arg BASE_IMAGE=node:20-bookworm-slim -t molecule-runtime:node20 .
#
# Builds under BuildKit and under buildah 1.28 alike: no heredocs, no COPY --link. Build with
# `--format docker` under buildah/podman, which otherwise drop the HEALTHCHECK (OCI has no such field).
# Run it: see "Run it in a container" in apps/runtime/README.md.

ARG BASE_IMAGE=node:22-bookworm-slim

# ---- build: install what the runtime and the CLI need, build them, deploy one self-contained folder
FROM ${BASE_IMAGE} AS build
ARG PNPM_VERSION=10.34.8
# Behind a TLS-intercepting proxy, npm and pnpm need its CA: mount the file into the build (buildah
# `-v`, or a BuildKit secret) and pass its path here. A build-stage ARG: never in the final image.
ARG NODE_EXTRA_CA_CERTS
ENV CI=true \
    PNPM_HOME=/pnpm \
    npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false
RUN npm install --global --no-audit --no-fund "pnpm@${PNPM_VERSION}"
# The pinned Claude Code CLI, its postinstall run (it links the native binary into bin/claude.exe),
# into a tree of its own that becomes one layer of the image: it changes only with this pin, so a new
# release of ours ships (and a node pulls) only the small layers after it.
ARG CLAUDE_CODE_VERSION=2.1.197
RUN --mount=type=cache,id=molecule-npm-cache,target=/root/.npm,sharing=locked \
    npm install --global --prefix /layers/claude/usr/local --no-audit --no-fund \
        "@anthropic-ai/claude-code@${CLAUDE_CODE_VERSION}" \
    && /layers/claude/usr/local/bin/claude --version
WORKDIR /src
COPY . .
# Only the runtime, the CLI and what they depend on (the root's build tools come along: tsup,
# typescript), built, then `pnpm deploy --legacy --prod`: the CLI with its production dependencies
# (the runtime among them) as a real node_modules, no workspace links; `molecule` and
# `molecule-runtime` linked from one bin dir. One step, the workspace's node_modules removed at its
# end: everything after `COPY . .` reruns on any change anyway, and a small layer commits fast.
RUN --mount=type=cache,id=molecule-pnpm-store,target=/pnpm-store,sharing=locked \
    pnpm config set store-dir /pnpm-store --location project \
    && pnpm install --frozen-lockfile --filter "@molecule/runtime..." --filter "@molecule/cli..." \
    && pnpm --filter "@molecule/runtime..." --filter "@molecule/cli..." run build \
    && pnpm --filter @molecule/cli deploy --legacy --prod /opt/molecule \
    && find /opt/molecule -name "*.map" -type f -delete \
    && rm -rf /opt/molecule/node_modules/.bin \
    && mkdir -p /opt/molecule/bin \
    && ln -s ../dist/bin.js /opt/molecule/bin/molecule \
    && ln -s ../node_modules/@molecule/runtime/dist/bin.js /opt/molecule/bin/molecule-runtime \
    && /opt/molecule/bin/molecule --version \
    && /opt/molecule/bin/molecule-runtime --version \
    && find /src -name node_modules -type d -prune -exec rm -rf {} +

# ---- the image
FROM ${BASE_IMAGE}
ARG VERSION=0.0.0
ARG REVISION=unknown
ARG SOURCE=https://github.com/molecule-ai/molecule-runtime
LABEL org.opencontainers.image.title="molecule-runtime" \
      org.opencontainers.image.description="Molecule workspace daemon with the Claude Code CLI" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="MIT"
# tini reaps the agent's orphaned grandchildren; the node user (uid 1000) gets no login shell. The
# image keeps /bin/sh and bash: the agent's tools run commands through them. /configs (config.yaml
# and the platform token) and /var/lib/molecule (daemon state, the agent's transcripts and working
# tree: the one directory to persist) belong to uid 1000, so a new Docker volume mounted there does too.
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini \
    && rm -rf /var/lib/apt/lists/* \
    && usermod --shell /usr/sbin/nologin node \
    && mkdir -p /configs /var/lib/molecule/workspace \
    && chown node:node /configs /var/lib/molecule /var/lib/molecule/workspace
COPY --from=build /layers/claude/ /
COPY --from=build /opt/molecule/ /opt/molecule/
ENV PATH=/opt/molecule/bin:$PATH \
    NODE_ENV=production \
    HOME=/home/node \
    WORKSPACE_CONFIG_PATH=/configs \
    MOLECULE_STATE_DIR=/var/lib/molecule/state \
    CLAUDE_CONFIG_DIR=/var/lib/molecule/claude \
    DISABLE_AUTOUPDATER=1
WORKDIR /home/node
USER 1000:1000
EXPOSE 8000
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 CMD ["molecule-runtime", "healthcheck"]
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["molecule-runtime", "--workspace-dir", "/var/lib/molecule/workspace"]
