/**
 * A `Deno.Conn` as the `node:stream` Duplex `node:http` serves on: any
 * Duplex may be handed to its server's "connection" event.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { Duplex } from "node:stream";

/** Bytes read at once. */
const READ_SIZE = 64 << 10;

/** One accepted connection served by `node:http`; see the module doc. */
export class ConnDuplex extends Duplex {
  #conn: Deno.Conn;
  #buffer = new Uint8Array(READ_SIZE);

  /** Wraps `conn`, of which `head` was read already. */
  constructor(conn: Deno.Conn, head: Uint8Array) {
    super();
    this.#conn = conn;
    if (head.length > 0) this.push(Buffer.from(head));
  }

  override _read(): void {
    this.#conn.read(this.#buffer).then((n) => {
      if (n === null) {
        this.push(null);
        return;
      }
      this.push(Buffer.from(this.#buffer.subarray(0, n)));
    }, () => this.push(null));
  }

  override async _write(
    chunk: Uint8Array,
    _encoding: string,
    callback: (error?: Error | null) => void,
  ): Promise<void> {
    try {
      for (let offset = 0; offset < chunk.length;) {
        offset += await this.#conn.write(chunk.subarray(offset));
      }
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#conn.closeWrite().then(() => callback(), () => callback());
  }

  override _destroy(
    error: Error | null,
    callback: (error?: Error | null) => void,
  ): void {
    try {
      this.#conn.close();
    } catch {
      // Closed already.
    }
    callback(error);
  }
}
