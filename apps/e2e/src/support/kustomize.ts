import { spawnSync } from "node:child_process";
import { parseAllDocuments } from "yaml";

/** A rendered Kubernetes object (plain data). */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  // biome-ignore lint/suspicious/noExplicitAny: rendered manifests are checked field by field
  spec?: any;
  data?: Record<string, string>;
}

const works = (command: string) => spawnSync(command, ["version", "--client"], { stdio: "ignore" }).status === 0;

/**
 * The kubectl to render with: $KUBECTL, else `kubectl` on PATH, else Debian's `kubernetes-client`
 * package installed with apt-get (kubectl 1.20 with kustomize v2: the manifests are written for it
 * too). Throws with the fix when none can be had.
 */
export function findKubectl(): string {
  const candidates = [process.env.KUBECTL, "kubectl"].filter((c): c is string => Boolean(c));
  const found = candidates.find(works);
  if (found) return found;
  const root = typeof process.getuid === "function" && process.getuid() === 0;
  if (root && spawnSync("apt-get", ["--version"], { stdio: "ignore" }).status === 0) {
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    spawnSync("apt-get", ["update", "-qq"], { env, stdio: "inherit", timeout: 300_000 });
    spawnSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", "kubernetes-client"], {
      env,
      stdio: "inherit",
      timeout: 300_000,
    });
    if (works("kubectl")) return "kubectl";
  }
  throw new Error(
    "kubectl is not installed and could not be installed: `apt-get install kubernetes-client` (Debian) or install kubectl 1.14 or later, then run the tests again (or point $KUBECTL at it)",
  );
}

/** `kubectl kustomize <dir>`, parsed. Throws with kubectl's own message when it fails. */
export function kustomize(kubectl: string, dir: string): KubeObject[] {
  const run = spawnSync(kubectl, ["kustomize", dir], { encoding: "utf8", timeout: 60_000 });
  if (run.status !== 0) throw new Error(`kubectl kustomize ${dir} exited ${run.status}: ${run.stderr}`);
  return parseAllDocuments(run.stdout)
    .map((doc) => doc.toJS() as KubeObject | null)
    .filter((obj): obj is KubeObject => obj !== null);
}

/** A Kubernetes quantity ("256Mi", "1Gi", "500M", "250m") in base units. */
export function quantity(value: string | number): number {
  if (typeof value === "number") return value;
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T|m)?$/.exec(value);
  if (!m) throw new Error(`not a quantity: ${value}`);
  const units: Record<string, number> = {
    Ki: 1024,
    Mi: 1024 ** 2,
    Gi: 1024 ** 3,
    Ti: 1024 ** 4,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
    m: 1e-3,
  };
  return Number(m[1]) * (m[2] ? (units[m[2]] ?? 1) : 1);
}

/**
 * The container's env as the kubelet resolves it: each `$(NAME)` replaced by an entry defined
 * *earlier* in the list (later or unknown names stay as written); `fieldRef`s take `fields`.
 */
export function resolveEnv(
  env: ReadonlyArray<{ name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }>,
  fields: Readonly<Record<string, string>>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of env) {
    const raw = entry.valueFrom?.fieldRef ? (fields[entry.valueFrom.fieldRef.fieldPath] ?? "") : (entry.value ?? "");
    out[entry.name] = raw.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (all, name: string) => out[name] ?? all);
  }
  return out;
}
