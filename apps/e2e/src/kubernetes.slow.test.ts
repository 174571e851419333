import { existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, posix } from "node:path";
import { agentHomeDir } from "@molecule/auth";
import { loadConfig, resolveSettings, type WorkspaceConfig } from "@molecule/config";
import { StatefulSet } from "kubernetes-models/apps/v1";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1";
import { ConfigMap, Service } from "kubernetes-models/v1";
import { beforeAll, describe, expect, it } from "vitest";
import { findKubectl, type KubeObject, kustomize, quantity, resolveEnv } from "./support/kustomize.js";

// deploy/kubernetes rendered with `kubectl kustomize`, each object validated offline against the
// Kubernetes schemas (kubernetes-models 4.5.1, Kubernetes 1.27), and the wiring checked against how
// the daemon reads its settings (@molecule/config): ports, probes, grace, where every directory is.

const ROOT = join(import.meta.dirname, "..", "..", "..");
const DEPLOY = join(ROOT, "deploy", "kubernetes");
/**
 * Peak working set of daemon + agent CLI during a turn in the agent's image, measured by
 * `pnpm image:test --agent all` (Claude Code's turn also runs the Bash tool and a shell).
 */
const MEASURED_TURN_BYTES: Record<string, number> = { "claude-code": 181e6, codex: 73e6, "gemini-cli": 248e6 };
/** The daemon's shutdown budget when --grace is not given (RuntimeOptions.graceMs). */
const DEFAULT_GRACE_S = 10;
const NAMESPACE = "molecule-test";

const MODELS: Record<string, { new (data: never): { validate(): void } }> = {
  StatefulSet: StatefulSet as never,
  Service: Service as never,
  ConfigMap: ConfigMap as never,
  NetworkPolicy: NetworkPolicy as never,
};

interface Rendered {
  objects: KubeObject[];
  sts: KubeObject;
  svc: KubeObject;
  cm: KubeObject;
  policy: KubeObject;
}

let kubectl: string;
const rendered: Record<string, Rendered> = {};

beforeAll(() => {
  kubectl = findKubectl();
  for (const dir of ["base", "overlays/example"]) {
    const objects = kustomize(kubectl, join(DEPLOY, dir));
    const one = (kind: string) => {
      const found = objects.filter((o) => o.kind === kind);
      expect(found, `${dir}: one ${kind}`).toHaveLength(1);
      return found[0] as KubeObject;
    };
    rendered[dir] = {
      objects,
      sts: one("StatefulSet"),
      svc: one("Service"),
      cm: one("ConfigMap"),
      policy: one("NetworkPolicy"),
    };
  }
}, 300_000);

/** Lays the ConfigMap out as the kubelet mounts it (items or every key) and loads it as the daemon does. */
async function mountedConfig(r: Rendered, volume: { configMap: { items?: Array<{ key: string; path: string }> } }) {
  const dir = await mkdtemp(join(tmpdir(), "molecule-k8s-config-"));
  try {
    const data = r.cm.data ?? {};
    const items = volume.configMap.items ?? Object.keys(data).map((key) => ({ key, path: key }));
    for (const item of items) {
      expect(data, `ConfigMap key ${item.key}`).toHaveProperty([item.key]);
      await mkdir(dirname(join(dir, item.path)), { recursive: true });
      await writeFile(join(dir, item.path), data[item.key] ?? "");
    }
    const { config } = await loadConfig(dir, { env: {} });
    const missing = [
      ...(config.prompt_files ?? []),
      ...(config.skills ?? []).map((s) => posix.join("skills", s, "SKILL.md")),
    ].filter((file) => !existsSync(join(dir, file)));
    return { config, missing };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe.each(["base", "overlays/example"])("deploy/kubernetes/%s", (dir) => {
  const r = () => rendered[dir] as Rendered;
  const pod = () => r().sts.spec.template.spec;
  const container = () => pod().containers[0];
  const env = () => resolveEnv(container().env, { "metadata.namespace": NAMESPACE });
  const volumeAt = (path: string) => {
    const mounts = [...container().volumeMounts].sort(
      (a: { mountPath: string }, b: { mountPath: string }) => b.mountPath.length - a.mountPath.length,
    );
    const mount = mounts.find((m: { mountPath: string }) => path === m.mountPath || path.startsWith(`${m.mountPath}/`));
    expect(mount, `a volume mounted at ${path}`).toBeDefined();
    const volume = pod().volumes?.find((v: { name: string }) => v.name === mount.name);
    const claim = r().sts.spec.volumeClaimTemplates?.find(
      (c: { metadata: { name: string } }) => c.metadata.name === mount.name,
    );
    return { mount, volume, claim };
  };
  let config: WorkspaceConfig;

  beforeAll(async () => {
    const mounted = await mountedConfig(r(), volumeAt(env().WORKSPACE_CONFIG_PATH ?? "").volume);
    expect(mounted.missing, "files config.yaml names that the ConfigMap does not mount").toEqual([]);
    config = mounted.config;
  });

  it("renders objects that validate against the Kubernetes schemas, and no PodDisruptionBudget", () => {
    for (const obj of r().objects) {
      const Model = MODELS[obj.kind];
      expect(Model, `a model for ${obj.kind}`).toBeDefined();
      expect(() => new (Model as NonNullable<typeof Model>)(obj as never).validate()).not.toThrow();
    }
    expect(
      r()
        .objects.map((o) => o.kind)
        .sort(),
    ).toEqual(["ConfigMap", "NetworkPolicy", "Service", "StatefulSet"]);
  });

  it("a2a.auth: none is deliberate: the pod opts in, and a NetworkPolicy admits one namespace to the A2A port only", () => {
    expect(config.a2a.auth).toBe("none");
    expect(env().MOLECULE_A2A_ALLOW_UNAUTHENTICATED).toBe("1");
    const { spec } = r().policy;
    expect(r().sts.spec.template.metadata.labels).toMatchObject(spec.podSelector.matchLabels);
    expect(spec.policyTypes).toEqual(["Ingress"]);
    expect(spec.ingress).toHaveLength(1);
    const [rule] = spec.ingress;
    expect(rule.ports).toEqual([{ port: config.a2a.port, protocol: "TCP" }]);
    // Only a labelled namespace: no pod selector, no IP block, never an empty selector (= every namespace).
    expect(rule.from).toHaveLength(1);
    expect(Object.keys(rule.from[0])).toEqual(["namespaceSelector"]);
    expect(Object.keys(rule.from[0].namespaceSelector.matchLabels ?? {}).length).toBeGreaterThan(0);
  });

  it("one replica behind a headless Service that selects only its pod and publishes it before Ready", () => {
    const { sts, svc } = r();
    expect(sts.spec.replicas).toBe(1);
    expect(sts.metadata.name.length).toBeLessThanOrEqual(52); // controller-revision-hash label limit
    expect(svc.spec.clusterIP).toBe("None");
    expect(svc.spec.publishNotReadyAddresses).toBe(true);
    expect(sts.spec.serviceName).toBe(svc.metadata.name);
    expect(sts.spec.template.metadata.labels).toMatchObject(svc.spec.selector);
    expect(sts.spec.template.metadata.labels).toMatchObject(sts.spec.selector.matchLabels);
    expect(container().image).toMatch(/:[\w][\w.-]*$/);
    expect(container().image).not.toMatch(/:latest$/);
  });

  it("the A2A port of config.yaml is the container's and the Service's; its probe port the probes' and Prometheus's", () => {
    const port = config.a2a.port;
    const probePort = config.a2a.probe_port;
    const a2a = container().ports.find((p: { name: string }) => p.name === "a2a");
    const probes = container().ports.find((p: { name: string }) => p.name === "probes");
    expect(a2a.containerPort).toBe(port);
    expect(probes.containerPort).toBe(probePort);
    expect(probePort).not.toBe(port);
    expect(r().svc.spec.ports).toEqual([expect.objectContaining({ port, targetPort: "a2a" })]);
    const portOf = (p: number | string) => (p === "probes" ? probes.containerPort : p);
    const { startupProbe, livenessProbe, readinessProbe } = container();
    // On the probe listener: the probes answer when every A2A connection is taken.
    expect([startupProbe, livenessProbe, readinessProbe].map((p) => portOf(p.httpGet.port))).toEqual([
      probePort,
      probePort,
      probePort,
    ]);
    expect(startupProbe.httpGet.path).toBe("/livez"); // served before register: never tied to the platform
    expect(livenessProbe.httpGet.path).toBe("/livez");
    expect(readinessProbe.httpGet.path).toBe("/readyz");
    expect(startupProbe.periodSeconds * startupProbe.failureThreshold).toBeGreaterThanOrEqual(60);
    expect(r().sts.spec.template.metadata.annotations).toMatchObject({
      "prometheus.io/scrape": "true",
      "prometheus.io/port": String(probePort),
      "prometheus.io/path": "/metrics",
    });
    const expose = /^EXPOSE (\d+)$/m.exec(readFileSync(join(ROOT, "Dockerfile"), "utf8"))?.[1];
    expect(Number(expose)).toBe(port);
  });

  it("runs the image's own command with the image's directories (a docker run and a pod agree)", () => {
    const dockerfile = readFileSync(join(ROOT, "Dockerfile"), "utf8");
    const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(dockerfile)?.[1] ?? "[]") as string[];
    expect(cmd.length).toBeGreaterThan(0);
    expect(container().args.slice(0, cmd.length)).toEqual(cmd);
    const vars = env();
    for (const name of ["MOLECULE_STATE_DIR", "CLAUDE_CONFIG_DIR", "HOME"]) {
      const imageDefault = new RegExp(`\\b${name}=(\\S+)`).exec(dockerfile)?.[1];
      expect(vars[name], `${name}: the manifest and the Dockerfile's ENV`).toBe(imageDefault);
    }
  });

  it("terminationGracePeriodSeconds exceeds the daemon's grace budget", () => {
    const args: string[] = container().args;
    const i = args.indexOf("--grace");
    const grace = i >= 0 ? Number(args[i + 1]) : DEFAULT_GRACE_S;
    expect(args[0]).toBe("molecule-runtime");
    expect(pod().terminationGracePeriodSeconds).toBeGreaterThan(grace);
  });

  it("settings resolve the way the daemon reads them, advertising the Service's DNS name", () => {
    const vars = env();
    const { settings, issues } = resolveSettings(vars);
    expect(issues).toEqual([]);
    expect(settings.advertiseUrl).toBe(
      `http://${r().svc.metadata.name}.${NAMESPACE}.svc.cluster.local:${config.a2a.port}`,
    );
  });

  it("every directory is mounted where the daemon reads it", () => {
    const vars = env();
    const { settings } = resolveSettings(vars);
    const token = volumeAt(settings.configsDir);
    expect(token.mount.mountPath).toBe(settings.configsDir);
    expect(token.mount.readOnly).toBe(true);
    expect(token.volume.secret).toMatchObject({ defaultMode: 0o400 });
    expect(token.volume.secret.optional ?? false).toBe(false);
    expect(pod().securityContext.fsGroup).toBe(1000); // 0400 → 0440 root:1000, readable by uid 1000
    const cfg = volumeAt(settings.configPath);
    expect(cfg.mount.mountPath).toBe(settings.configPath);
    expect(cfg.mount.readOnly).toBe(true);
    expect(cfg.volume.configMap.name).toBe(r().cm.metadata.name);
    const args: string[] = container().args;
    const workspace = args[args.indexOf("--workspace-dir") + 1] ?? "";
    for (const path of [settings.stateDir, vars.CLAUDE_CONFIG_DIR ?? "", workspace]) {
      expect(volumeAt(path).claim, `${path} on the PersistentVolumeClaim`).toBeDefined();
    }
    for (const path of [vars.HOME ?? "", "/tmp"]) {
      expect(volumeAt(path).volume?.emptyDir, `${path} on an emptyDir`).toBeDefined();
    }
  });

  it("the codex and gemini-cli homes (their sessions) are on the PVC, where the daemon places them", () => {
    const vars = env();
    const { settings } = resolveSettings(vars);
    for (const agent of ["codex", "gemini-cli"]) {
      // CODEX_HOME / GEMINI_CLI_HOME when the manifest sets them, else <MOLECULE_STATE_DIR>/agents/<id>.
      const home = agentHomeDir(agent, { env: vars, stateDir: settings.stateDir, home: vars.HOME ?? "" });
      expect(home, `${agent}'s home`).toBe(posix.join(settings.stateDir, "agents", agent));
      expect(volumeAt(home ?? "").claim, `${agent}'s home ${home} on the PersistentVolumeClaim`).toBeDefined();
    }
  });

  it("runs as uid 1000, read-only root, no privilege escalation, no capabilities", () => {
    expect(pod().securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000 });
    expect(container().securityContext).toMatchObject({
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
    });
    expect(pod().automountServiceAccountToken).toBe(false);
  });

  it("memory requests cover the measured turn with headroom; the limit is above the request", () => {
    const { requests, limits } = container().resources;
    // The agent config.yaml runs (the image built for it).
    const measured = MEASURED_TURN_BYTES[config.runtime];
    expect(measured, `a measured turn for runtime ${config.runtime}`).toBeDefined();
    expect(quantity(requests.memory)).toBeGreaterThanOrEqual((measured ?? 0) * 1.25);
    expect(quantity(limits.memory)).toBeGreaterThan(quantity(requests.memory));
    expect(quantity(requests.cpu)).toBeGreaterThan(0);
  });
});

describe("the example overlay stamps out one workspace", () => {
  it("names, selector label, WORKSPACE_ID, token Secret and config are its own", () => {
    const { sts, svc, cm } = rendered["overlays/example"] as Rendered;
    const base = rendered.base as Rendered;
    expect(sts.metadata.name).toBe("ws-example-molecule-workspace");
    expect(svc.metadata.name).toBe("ws-example-molecule-workspace");
    expect(sts.spec.selector.matchLabels["molecule.dev/workspace"]).toBe("example");
    expect(svc.spec.selector["molecule.dev/workspace"]).toBe("example");
    const spec = sts.spec.template.spec;
    const vars = resolveEnv(spec.containers[0].env, { "metadata.namespace": NAMESPACE });
    expect(resolveSettings(vars).settings.workspaceId).not.toBe(
      resolveSettings(resolveEnv(base.sts.spec.template.spec.containers[0].env, {})).settings.workspaceId,
    );
    expect(spec.volumes.find((v: { name: string }) => v.name === "token").secret.secretName).toBe("ws-example-token");
    expect(cm.metadata.name).toMatch(/^ws-example-molecule-workspace-config-[a-z0-9]+$/);
    expect(cm.data?.["config.yaml"]).toContain("name: Example Engineer");
  });

  it("its NetworkPolicy selects only its pod and admits the namespace of its PLATFORM_URL", () => {
    const { sts, policy } = rendered["overlays/example"] as Rendered;
    expect(policy.spec.podSelector.matchLabels["molecule.dev/workspace"]).toBe("example");
    const vars = resolveEnv(sts.spec.template.spec.containers[0].env, { "metadata.namespace": NAMESPACE });
    const platformNamespace = new URL(vars.PLATFORM_URL ?? "").hostname.split(".")[1];
    expect(policy.spec.ingress[0].from[0].namespaceSelector.matchLabels).toEqual({
      "kubernetes.io/metadata.name": platformNamespace,
    });
  });
});
