/**
 * Preloaded into the memory scenario's server (`node --expose-gc --import`): on SIGUSR2 it runs a full
 * garbage collection and says so on stderr, so the bench reads the live heap, not the garbage the
 * fill left behind. Nothing else in the service changes.
 */
process.on("SIGUSR2", () => {
  // Twice: the first pass may only schedule finalisation of what the second frees.
  globalThis.gc?.();
  globalThis.gc?.();
  process.stderr.write("bench:gc-done\n");
});
