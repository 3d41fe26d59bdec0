/**
 * A listen error as the one line an operator can act on, instead of a stack trace: shared by
 * `npm start` (main.ts) and `npm run dev`.
 */

/** The line for a listen error this service can explain; undefined for any other error. */
export function listenFailure(error: unknown, host: string, port: number): string | undefined {
  const code = error instanceof Error && "code" in error ? error.code : undefined;
  const why =
    code === "EADDRINUSE"
      ? "is already in use: stop the other process or set PORT"
      : code === "EACCES"
        ? "needs privileges this process lacks: use a port above 1023 or set PORT"
        : code === "EADDRNOTAVAIL"
          ? "is not an address of this machine: check HOST"
          : undefined;
  return why === undefined ? undefined : `Cannot listen on ${host}:${port}: the address ${why}.`;
}
