import { readFile } from "node:fs/promises";
import { isAbsolute, resolve } from "node:path";
import { defineCheck } from "./run.js";
import type { CheckIssue } from "./types.js";

/** The env var that allows `a2a.auth: none` beyond loopback (the runtime's binding name). */
const ALLOW_ENV = "MOLECULE_A2A_ALLOW_UNAUTHENTICATED";
/** The runtime accepts no shorter token. */
const MIN_TOKEN_LENGTH = 16;

/**
 * `a2a.auth`: with `bearer`, the token file holds at least one token (one a line, at least 16
 * characters), and a platform is warned about (its proxy sends no token); with `none` allowed
 * beyond loopback (`a2a.allow_unauthenticated` or the env var), a warning that only the network
 * (a NetworkPolicy) keeps callers out. Never reads a token into a message.
 */
export const a2aAuthCheck = defineCheck({
  name: "a2a-auth",
  async run({ config, configDir, env, settings }) {
    const a2a = config.a2a;
    if (a2a.auth === "none") {
      const allowed = a2a.allow_unauthenticated || env[ALLOW_ENV] === "1";
      if (!allowed) return { detail: "none (loopback only)" };
      const by = a2a.allow_unauthenticated ? "a2a.allow_unauthenticated: true" : `${ALLOW_ENV}=1`;
      return {
        detail: `none, allowed beyond loopback by ${by}`,
        issues: [
          {
            severity: "warn",
            code: "W_A2A_UNAUTHENTICATED",
            title: "A2A accepts unauthenticated callers",
            detail: `a2a.auth is none and ${by} lets the daemon serve beyond loopback: anyone who reaches the A2A port runs the agent, so only a NetworkPolicy (or firewall) keeps callers out`,
            fix: "Keep the port behind a NetworkPolicy that admits only the platform (deploy/kubernetes ships one) or a firewall; or set a2a.auth: bearer with a2a.auth_token_file.",
          },
        ],
      };
    }
    const issues: CheckIssue[] = [];
    const file = a2a.auth_token_file;
    const tokenFail = (detail: string): CheckIssue => ({
      severity: "fail",
      code: "E_A2A_AUTH_TOKEN_FILE",
      title: "A2A token file unusable",
      detail,
      fix: `Put the accepted tokens in a file (one a line, at least ${MIN_TOKEN_LENGTH} characters, e.g. \`openssl rand -base64 32\`) and name it in a2a.auth_token_file (relative to the config dir, or absolute: a mounted Secret).`,
    });
    let path = "(unset)";
    if (file === undefined) issues.push(tokenFail("a2a.auth is bearer but a2a.auth_token_file is not set"));
    else {
      path = isAbsolute(file) ? file : resolve(configDir, file);
      try {
        const lines = (await readFile(path, "utf8"))
          .split(/\r?\n/)
          .map((line) => line.trim())
          .filter((line) => line !== "");
        const short = lines.filter((line) => line.length < MIN_TOKEN_LENGTH).length;
        if (lines.length === 0) issues.push(tokenFail(`a2a.auth_token_file ${path} holds no token`));
        else if (short > 0) {
          issues.push(
            tokenFail(`${short} of ${lines.length} line(s) of ${path} are shorter than ${MIN_TOKEN_LENGTH} characters`),
          );
        }
      } catch (error) {
        const code = error instanceof Error && "code" in error ? String(error.code) : "unknown error";
        issues.push(
          tokenFail(
            code === "ENOENT" ? `a2a.auth_token_file ${path} does not exist` : `${path} cannot be read (${code})`,
          ),
        );
      }
    }
    if (settings.platformUrl) {
      issues.push({
        severity: "warn",
        code: "W_A2A_PLATFORM_NO_TOKEN",
        title: "The platform's proxy sends no A2A token",
        detail: `a2a.auth is bearer and PLATFORM_URL is set, but the platform's A2A proxy sends no Authorization header: its calls will be refused with 401`,
        fix: "Use a2a.auth: none with a2a.allow_unauthenticated behind a NetworkPolicy while the platform dispatches to this workspace; keep bearer for direct callers only.",
      });
    }
    return { detail: `bearer (${path})`, issues };
  },
});
