// Runs Verdaccio in a child process forked by scripts/lib/registry.mjs, through its programmatic API:
// listens on 127.0.0.1 with port 0 (no race for a free port) and reports the port over IPC. When the
// parent goes away — even SIGKILLed — the IPC channel closes and this process exits, so no registry
// outlives the rehearsal that started it.
const [verdaccioDir, configFile] = process.argv.slice(2);

process.on("disconnect", () => process.exit(0));
process.on("SIGTERM", () => process.exit(0));

(async () => {
  const { runServer } = require(verdaccioDir);
  const app = await runServer(configFile);
  const server = app.listen(0, "127.0.0.1", () => {
    process.send?.({ port: server.address().port });
  });
  server.on("error", (error) => {
    process.send?.({ error: error.message });
    process.exit(1);
  });
})().catch((error) => {
  process.send?.({ error: error instanceof Error ? error.message : String(error) });
  process.exit(1);
});
