# The Molecule workspace image: the daemon (`molecule-runtime`), the `molecule` CLI and one pinned agent
# CLI on Node, running as uid 1000 under tini. AGENT picks the agent CLI: claude-code (the default),
# codex or gemini-cli. The image only carries it: config.yaml's `runtime:` names the agent the
# daemon runs, as everywhere else (the image's label ai.molecule.agent says which one is inside).
#
#   docker build -t molecule-runtime .
#   docker build --build-arg AGENT=codex -t molecule-runtime:codex .
#   docker build --build-arg AGENT=gemini-cli -t molecule-runtime:gemini-cli .
#   docker build --build-arg BASE_IMAGE=node:20-bookworm-slim -t molecule-runtime:node20 .
#
# The three images share every layer below the agent CLI's (the base and the tini/user step). Builds
# under BuildKit and under buildah 1.28 alike: no heredocs, no COPY --link, no `FROM stage-${ARG}`
# (buildah 1.28 does not resolve it to a stage). Build with `--format docker` under buildah/podman,
# which otherwise drop the HEALTHCHECK (OCI has no such field).
# Run it: see "Run it in a container" in apps/runtime/README.md.

ARG BASE_IMAGE=node:22-bookworm-slim
ARG AGENT=claude-code

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

# ---- agent: the one agent CLI AGENT names, into /layers/agent, which becomes one layer of the image.
# It changes only with its pin, so a new release of ours ships (and a node pulls) only the small layers
# after it. One step for the three agents (a builder with a warm cache reinstalls the chosen CLI when
# any of the three pins changes). The pins are checked against the repository's — the root's Claude
# Code devDependency and @molecule/auth's `testedVersion` — by `pnpm image:test`.
# - claude-code: its postinstall runs (it links the native binary into bin/claude.exe).
# - codex: a Node launcher and its native binary for this platform (~420 MB: only in this image).
# - gemini-cli: a JavaScript bundle (~100 MB). Its optional natives' install scripts (keytar,
#   node-pty) would try node-gyp: skipped, it keeps secrets in its encrypted file and uses the
#   prebuilt pty.
FROM ${BASE_IMAGE} AS agent
ARG AGENT
ARG NODE_EXTRA_CA_CERTS
ARG CLAUDE_CODE_VERSION=2.1.197
ARG CODEX_VERSION=0.169.0
ARG GEMINI_CLI_VERSION=0.61.0
ENV npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false
RUN --mount=type=cache,id=molecule-npm-cache,target=/root/.npm,sharing=locked \
    prefix=/layers/agent/usr/local \
    && case "${AGENT}" in \
      claude-code) npm install --global --prefix "$prefix" "@anthropic-ai/claude-code@${CLAUDE_CODE_VERSION}" \
        && "$prefix/bin/claude" --version ;; \
      codex) npm install --global --prefix "$prefix" --ignore-scripts "@openai/codex@${CODEX_VERSION}" \
        && "$prefix/bin/codex" --version ;; \
      gemini-cli) npm install --global --prefix "$prefix" --ignore-scripts "@google/gemini-cli@${GEMINI_CLI_VERSION}" \
        && GEMINI_CLI_HOME=/tmp/gemini-version "$prefix/bin/gemini" --version && rm -rf /tmp/gemini-version ;; \
      *) echo "AGENT=${AGENT}: build with --build-arg AGENT=claude-code, codex or gemini-cli" >&2; exit 1 ;; \
    esac

# ---- the image. Everything up to the agent CLI's layer is the same for every AGENT (nothing
# agent- or release-specific comes before it), so the three images share those layers.
FROM ${BASE_IMAGE}
# tini reaps the agent's orphaned grandchildren; the node user (uid 1000) gets no login shell. The
# image keeps /bin/sh and bash: the agent's tools run commands through them. /configs (config.yaml
# and the platform token) and /var/lib/molecule (daemon state, the agent's home and transcripts, its
# working tree: the one directory to persist) belong to uid 1000, so a new Docker volume mounted
# there does too.
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini \
    && rm -rf /var/lib/apt/lists/* \
    && usermod --shell /usr/sbin/nologin node \
    && mkdir -p /configs /var/lib/molecule/workspace \
    && chown node:node /configs /var/lib/molecule /var/lib/molecule/workspace
COPY --from=agent /layers/agent/ /
COPY --from=build /opt/molecule/ /opt/molecule/
ARG AGENT
ARG VERSION=0.0.0
ARG REVISION=unknown
ARG SOURCE=https://github.com/molecule-ai/molecule-runtime
LABEL org.opencontainers.image.title="molecule-runtime" \
      org.opencontainers.image.description="Molecule workspace daemon with the ${AGENT} agent CLI" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="MIT" \
      ai.molecule.agent="${AGENT}"
# The codex and gemini-cli homes need no variable: the daemon puts them at
# $MOLECULE_STATE_DIR/agents/<agent> (CODEX_HOME / GEMINI_CLI_HOME override it), on the volume.
# Claude Code's is CLAUDE_CONFIG_DIR. Gemini CLI runs without its self-relaunch everywhere in the
# image, as the daemon's turns run it (its --version at preflight takes half the time); the other
# agents ignore the variable. MOLECULE_A2A_ALLOW_UNAUTHENTICATED=1: the container listens on
# 0.0.0.0 and a2a.auth defaults to none (the platform's proxy sends no token), so the image allows it
# deliberately; keep the port behind a NetworkPolicy or firewall, or set a2a.auth: bearer.
ENV PATH=/opt/molecule/bin:$PATH \
    NODE_ENV=production \
    MOLECULE_A2A_ALLOW_UNAUTHENTICATED=1 \
    HOME=/home/node \
    WORKSPACE_CONFIG_PATH=/configs \
    MOLECULE_STATE_DIR=/var/lib/molecule/state \
    CLAUDE_CONFIG_DIR=/var/lib/molecule/claude \
    DISABLE_AUTOUPDATER=1 \
    GEMINI_CLI_NO_RELAUNCH=true
WORKDIR /home/node
USER 1000:1000
EXPOSE 8000
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 CMD ["molecule-runtime", "healthcheck"]
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["molecule-runtime", "--workspace-dir", "/var/lib/molecule/workspace"]
