/**
 * What the service wrote to one Redis server and how each command ended, seen through ioredis's
 * `ioredis:command` tracing channel (a command is traced once it is written to the socket). Tests of a
 * frozen Redis assert on this order of events instead of on how long requests took, which a loaded
 * machine decides.
 */
import { tracingChannel } from "node:diagnostics_channel";
import type { CommandTraceContext } from "ioredis";

/** One command written to the server. */
export interface WrittenCommand {
  readonly name: string;
  /** Position among the traced events (writes and ends), not a time. */
  readonly writtenAt: number;
  ended?: { readonly at: number; readonly error: string | undefined };
}

type Context = CommandTraceContext & { error?: unknown };

/** Records, until stopped, every command written to the server on `port` and how it ended. */
export function traceCommands(port: number): { readonly commands: WrittenCommand[]; stop(): void } {
  const channel = tracingChannel<unknown, Context>("ioredis:command");
  const byContext = new Map<object, WrittenCommand>();
  const commands: WrittenCommand[] = [];
  let events = 0;
  const ignore = (): void => {};
  const subscribers = {
    start: (context: Context): void => {
      if (context.serverPort !== port) return;
      const command: WrittenCommand = { name: context.command.toLowerCase(), writtenAt: events++ };
      byContext.set(context, command);
      commands.push(command);
    },
    asyncEnd: (context: Context): void => {
      const command = byContext.get(context);
      if (command === undefined) return;
      command.ended = {
        at: events++,
        error: context.error instanceof Error ? context.error.name : undefined,
      };
    },
    end: ignore,
    asyncStart: ignore,
    error: ignore,
  };
  channel.subscribe(subscribers);
  return { commands, stop: () => channel.unsubscribe(subscribers) };
}

/** The service's own commands: the health watch's PINGs stand apart, no request waits on them. */
export function requestCommands(commands: readonly WrittenCommand[]): WrittenCommand[] {
  return commands.filter((command) => command.name !== "ping");
}

/** The commands written after the first one that ended at its deadline (DeadlineExceeded). */
export function writtenAfterFirstDeadline(commands: readonly WrittenCommand[]): string[] {
  const first = Math.min(
    ...commands.map((command) => (command.ended?.error === "DeadlineExceeded" ? command.ended.at : Infinity)),
  );
  return commands.filter((command) => command.writtenAt > first).map((command) => command.name);
}
