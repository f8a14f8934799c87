/**
 * An HTTP/2 server: serves the connections it is handed (`Deno.Conn`s
 * whose first bytes may already have been read), and shuts them down
 * gracefully or closes them all at once.
 *
 * @module
 */
import {
  type ConnectionOptions,
  H2Connection,
  type Transport,
} from "./connection.ts";
import { SYSTEM_CLOCK } from "./_limits.ts";

/** Options for {@linkcode H2Server}: those of every connection. */
export type ServerOptions = Omit<ConnectionOptions, "onClose">;

/** The HTTP/2 connections of one listener. */
export class H2Server {
  #options: ServerOptions;
  #connections = new Set<H2Connection>();
  /** Settles once shut down (see `shutdown`); undefined before. */
  #shutdown: Promise<void> | undefined;
  /** Called once the last connection has closed. */
  #onIdle: (() => void) | undefined;

  /** A server handing each request stream to `options.onStream`. */
  constructor(options: ServerOptions) {
    this.#options = options;
  }

  /** Serves `conn`; `head` are bytes already read from it. */
  serve(conn: Transport, head?: Uint8Array): H2Connection {
    const connection: H2Connection = new H2Connection(conn, {
      ...this.#options,
      onClose: () => {
        this.#connections.delete(connection);
        if (this.#connections.size === 0) this.#onIdle?.();
      },
    }, head);
    this.#connections.add(connection);
    if (this.#shutdown) connection.shutdown();
    return connection;
  }

  /**
   * Shuts every connection down gracefully (see
   * {@linkcode H2Connection.shutdown}), now and as they come; resolves
   * once all have closed. Those still open after `graceMs` are closed.
   */
  shutdown(graceMs: number): Promise<void> {
    if (this.#shutdown) return this.#shutdown;
    for (const connection of this.#connections) connection.shutdown();
    if (this.#connections.size === 0) {
      this.#shutdown = Promise.resolve();
      return this.#shutdown;
    }
    const clock = this.#options.clock ?? SYSTEM_CLOCK;
    this.#shutdown = new Promise((resolve) => {
      const deadline = clock.setTimeout(() => this.close(), graceMs);
      this.#onIdle = () => {
        clock.clearTimeout(deadline);
        this.#onIdle = undefined;
        resolve();
      };
    });
    return this.#shutdown;
  }

  /** Connections open now. */
  get connectionCount(): number {
    return this.#connections.size;
  }

  /** Closes every connection (see {@linkcode H2Connection.close}). */
  close(): void {
    for (const connection of this.#connections) connection.close();
  }
}
