// What is in the image, layer by layer: sizes (for the report) and proof that no planted canary
// reached any layer (by file name, and by the canary's bytes anywhere in a layer's content).
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { CANARY_MARK, isCanaryPath } from "./context.mjs";
import { fail, mb, run } from "./util.mjs";

/**
 * Saves `tag` as a docker-archive in `dir`, extracts it, and returns one row per layer:
 * { index, diffId, file, bytes, createdBy, entries, agent, canaries: string[], markHits: number }
 * (`agent`: the layer holds `agentPackage`, the agent CLI's npm package).
 */
export async function inspectLayers(engine, tag, dir, agentPackage) {
  mkdirSync(dir, { recursive: true });
  const archive = join(dir, "image.tar");
  await engine.saveImage(tag, archive);
  const root = join(dir, "x");
  mkdirSync(root);
  run("tar", ["-xf", archive, "-C", root]);
  const manifest = JSON.parse(readFileSync(join(root, "manifest.json"), "utf8"))[0];
  if (!manifest?.Layers?.length) fail("the saved image has no layers in manifest.json");
  const config = JSON.parse(readFileSync(join(root, manifest.Config), "utf8"));
  const history = (config.history ?? []).filter((h) => !h.empty_layer);
  const diffIds = config.rootfs?.diff_ids ?? [];
  const agentFile = new RegExp(
    `(^|/)usr/local/lib/node_modules/${agentPackage.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}/package\\.json$`,
  );
  return manifest.Layers.map((layer, index) => {
    const file = join(root, layer);
    const listing = run("tar", ["-tvf", file, "--numeric-owner"]).stdout.split("\n").filter(Boolean);
    const pathOf = (line) => {
      const rest = line.split(/\s+/).slice(5).join(" ");
      return rest.split(" -> ")[0]?.split(" link to ")[0] ?? rest;
    };
    const paths = listing.map(pathOf);
    const filePaths = listing.filter((line) => !line.startsWith("d")).map(pathOf);
    // Every file's bytes, streamed through grep: the canary text anywhere (any name, any path).
    const grep = spawnSync("sh", ["-c", `tar -xOf '${file}' | grep -F -c -a -- '${CANARY_MARK}' || true`], {
      encoding: "utf8",
      maxBuffer: 16 * 1024 * 1024,
    });
    return {
      index,
      diffId: diffIds[index] ?? layer,
      file,
      bytes: statSync(file).size,
      createdBy: String(history[index]?.created_by ?? "").replace(/\s+/g, " "),
      entries: paths.length,
      files: filePaths.length,
      where: commonDir(filePaths),
      agent: filePaths.some((p) => agentFile.test(p)),
      canaries: paths.filter(isCanaryPath),
      markHits: Number(grep.stdout.trim() || "0"),
    };
  });
}

/** The deepest directory holding every path of a layer ("/opt/molecule"), "/" when they spread. */
function commonDir(paths) {
  const split = paths
    .map((p) =>
      p
        .replace(/^\.?\//, "")
        .replace(/\/$/, "")
        .split("/"),
    )
    .filter((p) => p[0] !== "");
  if (split.length === 0) return "/";
  const first = split[0] ?? [];
  let depth = 0;
  while (depth < first.length - 1 && split.every((p) => p.length > depth + 1 && p[depth] === first[depth])) depth += 1;
  return `/${first.slice(0, depth).join("/")}`;
}

/** A short label for a layer's step ("COPY /opt/molecule", "RUN apt-get …"). */
export function layerLabel(createdBy) {
  const text = createdBy
    .replace(/^\/bin\/sh -c #\(nop\)\s*/, "")
    .replace(/^\|\d+ [^ ]+( [A-Z_]+=[^ ]*)* \/bin\/sh -c /, "RUN ")
    .replace(/^\/bin\/sh -c /, "RUN ")
    .replace(/COPY (dir|file):[0-9a-f]+/, "COPY");
  return text.length > 70 ? `${text.slice(0, 69)}…` : text;
}

/** Prints the per-layer split and returns { total, base, agent, ours }. */
export function printLayers(layers, baseLayerCount, agentLabel) {
  let base = 0;
  let agent = 0;
  let ours = 0;
  process.stdout.write("  layer sizes (uncompressed tar):\n");
  for (const layer of layers) {
    const isBase = layer.index < baseLayerCount;
    const isAgent = !isBase && layer.agent;
    if (isBase) base += layer.bytes;
    else if (isAgent) agent += layer.bytes;
    else ours += layer.bytes;
    const kind = isBase ? "base  " : isAgent ? "agent " : "ours  ";
    process.stdout.write(
      `    ${String(layer.index).padStart(2)} ${kind} ${mb(layer.bytes).padStart(10)}  ${String(layer.files).padStart(6)} files  ${isBase ? "(base image)" : `${layer.where.padEnd(14)} ${layerLabel(layer.createdBy)}`}\n`,
    );
  }
  const total = base + agent + ours;
  process.stdout.write(
    `  image ${mb(total)} = base ${mb(base)} + ${agentLabel} ${mb(agent)} + ours ${mb(ours)} (runtime, CLI, deps, tini, user)\n`,
  );
  return { total, base, agent, ours };
}
