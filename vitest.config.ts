import { defineConfig } from "vitest/config";

// Every package and app is its own vitest project (its vitest.config.ts).
export default defineConfig({
  test: {
    projects: ["packages/*", "apps/*", "examples/adapter"],
  },
});
