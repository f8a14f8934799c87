/**
 * An HTTP/2 server: serves the connections it is handed (sockets whose
 * first bytes may already have been read) and closes them all at once.
 *
 * @module
 */
import type * as net from "node:net";
import { type ConnectionOptions, H2Connection } from "./connection.ts";

/** Options for {@linkcode H2Server}: those of every connection. */
export type ServerOptions = Omit<ConnectionOptions, "onClose">;

/** The HTTP/2 connections of one listener. */
export class H2Server {
  #options: ServerOptions;
  #connections = new Set<H2Connection>();

  /** A server handing each request stream to `options.onStream`. */
  constructor(options: ServerOptions) {
    this.#options = options;
  }

  /** Serves `socket`; `head` are bytes already read from it. */
  serve(socket: net.Socket, head?: Uint8Array): H2Connection {
    const connection: H2Connection = new H2Connection(socket, {
      ...this.#options,
      onClose: () => this.#connections.delete(connection),
    }, head);
    this.#connections.add(connection);
    return connection;
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
