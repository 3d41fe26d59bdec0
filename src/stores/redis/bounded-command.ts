/**
 * The one way a command reaches Redis: inside a deadline that no client behaviour can stretch. A
 * command past its caller's deadline is rejected as a Command, not only abandoned by the caller, so
 * nothing sends it later: a standalone or Sentinel client has no offline queue, and a cluster's
 * per-node connections (which ioredis always gives one) are guarded by guardClusterNode.
 */
import { type Cluster, Command, type Redis } from "ioredis";

/** A connection to the shared store: one Redis (standalone or through Sentinel) or a Redis Cluster. */
export type SharedClient = Redis | Cluster;

/** Sends one command inside the current deadline; what every shared-store operation is written with. */
export type Send = (name: string, args: readonly (string | number)[]) => Promise<unknown>;

/** A command (or a run of them) outlived its deadline; it was withdrawn, or is on the wire already. */
export class DeadlineExceeded extends Error {
  override readonly name = "DeadlineExceeded";
}

/**
 * Runs `operation` with a Send whose commands all end within `deadlineMs`: past it, every command
 * still without a reply is rejected and later sends are refused, so a cluster redirection, a retry
 * after a failover or a slow reconnect cannot run one after the caller gave up. A command already
 * written to the socket still runs when the server reads it (nothing can recall it): callers keep
 * such writes harmless (owner ids, short leases, idempotent writes).
 */
export function runBounded<T>(
  client: SharedClient,
  deadlineMs: number,
  operation: (send: Send) => Promise<T>,
): Promise<T> {
  const pending = new Set<Command>();
  let expired = false;
  const send: Send = (name, args) => {
    if (expired) return Promise.reject(new DeadlineExceeded("shared store command deadline"));
    const command = new Command(name, [...args], { replyEncoding: "utf8" });
    pending.add(command);
    const done = (): void => {
      pending.delete(command);
    };
    command.promise.then(done, done);
    return client.sendCommand(command) as Promise<unknown>;
  };
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      // A reply already in the socket buffer is read in the poll phase, after the timers: look once
      // more before giving up, so a busy event loop is not mistaken for a slow Redis.
      setImmediate(() => {
        if (settled) return;
        settled = true;
        expired = true;
        const error = new DeadlineExceeded("shared store command deadline");
        for (const command of pending) command.reject(error);
        reject(error);
      });
    }, deadlineMs);
    operation(send).then(
      (value) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/**
 * Makes one of a cluster's per-node connections as strict as the others: ioredis creates them with an
 * offline queue (a command for a node that is still connecting, or gone, waits and runs whenever it
 * comes back), and its redirection and failover retries resend a command whatever became of its
 * caller. Here a command that cannot be written now fails at once, a withdrawn one is never written,
 * and the connection is opened now rather than by the first command.
 */
export function guardClusterNode(node: Redis): void {
  node.options.enableOfflineQueue = false;
  const send = node.sendCommand.bind(node);
  node.sendCommand = (command, stream) => (command.isSettled ? command.promise : send(command, stream));
  if (node.status === "wait") node.connect().catch(() => {});
}
