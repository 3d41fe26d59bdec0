/**
 * A raw TCP connection to the service, for clients no HTTP library will be: ones that trickle a body,
 * pipeline without reading, or hold a connection open. It records everything the service sends and
 * whether the service, not the test, ended the connection.
 */
import { once } from "node:events";
import { connect, type Socket } from "node:net";

/** The head of a POST to /graphql declaring `length` bytes of JSON body. */
export function postHead(length: number, headers: Readonly<Record<string, string>> = {}): string {
  const extra = Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join("");
  return `POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n${extra}\r\n`;
}

export class RawConnection {
  readonly socket: Socket;
  /** Resolves when the connection has ended, whoever ended it. */
  readonly closed: Promise<void>;
  #received = "";
  #endedByTest = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => {
      this.#received += chunk;
    });
    // A reset is the service ending the connection too; what matters is that it ended.
    socket.on("error", () => {});
    this.closed = new Promise((resolve) => socket.once("close", () => resolve()));
  }

  /** Opens a connection to `port` on 127.0.0.1, from `localAddress` (another loopback address) if given. */
  static async open(port: number, localAddress?: string): Promise<RawConnection> {
    const socket = connect({ port, host: "127.0.0.1", localAddress });
    const connection = new RawConnection(socket);
    await once(socket, "connect");
    return connection;
  }

  /** Opens a connection and writes `text` on it; resolves once the text is handed to the system. */
  static async sending(port: number, text: string, localAddress?: string): Promise<RawConnection> {
    const connection = await RawConnection.open(port, localAddress);
    await connection.write(text);
    return connection;
  }

  /** Everything the service has sent so far, as latin1 text. */
  get received(): string {
    return this.#received;
  }

  /** Whether the connection ended without the test ending it. */
  get endedByService(): boolean {
    return this.socket.closed && !this.#endedByTest;
  }

  /** Writes `text`; resolves once it is handed to the system (false if the connection is gone). */
  write(text: string): Promise<boolean> {
    if (this.socket.destroyed) return Promise.resolve(false);
    return new Promise((resolve) => this.socket.write(text, "latin1", (error) => resolve(!error)));
  }

  /** Resolves once the service has sent `count` answers (status lines), or the connection has ended. */
  async answers(count = 1): Promise<string[]> {
    while (statusLines(this.#received).length < count && !this.socket.closed) {
      await Promise.race([once(this.socket, "data").catch(() => undefined), this.closed]);
    }
    return statusLines(this.#received);
  }

  /** Ends the connection from the test's side. */
  destroy(): void {
    this.#endedByTest = !this.socket.closed;
    this.socket.destroy();
  }
}

/** The status codes of every answer in `text`, in order. */
function statusLines(text: string): string[] {
  return [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((match) => match[1] ?? "");
}

/** The `extensions.code` of every GraphQL-shaped error body in `text`, in order. */
export function errorCodes(text: string): string[] {
  return [...text.matchAll(/"extensions":\{"code":"([A-Z_]+)"/g)].map((match) => match[1] ?? "");
}

/** The value of one series in a Prometheus exposition, 0 when absent (a counter never incremented). */
export function sample(exposition: string, series: string): number {
  const line = exposition.split("\n").find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}
