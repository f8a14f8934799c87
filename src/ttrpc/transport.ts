/**
 * A connect-es `Transport` over a ttrpc connection, so that a generated
 * service descriptor gives a typed client with connect's `createClient`:
 *
 * ```ts
 * const shim = createClient(Task, ttrpcTransport(await TtrpcClient.connect(path)));
 * await shim.state({ id });
 * ```
 *
 * ttrpc has no headers or trailers (they come back empty) and berth's
 * client no streams: streaming methods answer `Unimplemented`. Errors are
 * the ttrpc client's {@linkcode BerthError}s, unchanged.
 *
 * @module
 */
import type {
  DescMessage,
  DescMethodStreaming,
  DescMethodUnary,
  MessageInitShape,
} from "@bufbuild/protobuf";
import type {
  StreamResponse,
  Transport,
  UnaryResponse,
} from "@connectrpc/connect";
import { BerthError, Code } from "../types/errors.ts";
import type { TtrpcClient } from "./client.ts";

/** A transport whose unary calls go over `client`. */
export function ttrpcTransport(client: TtrpcClient): Transport {
  return {
    async unary<I extends DescMessage, O extends DescMessage>(
      method: DescMethodUnary<I, O>,
      signal: AbortSignal | undefined,
      timeoutMs: number | undefined,
      _header: HeadersInit | undefined,
      input: MessageInitShape<I>,
    ): Promise<UnaryResponse<I, O>> {
      const message = await client.call(
        method.parent.typeName,
        method.name,
        method.input,
        input,
        method.output,
        { signal, timeoutMs },
      );
      return {
        stream: false,
        service: method.parent,
        method,
        header: new Headers(),
        message,
        trailer: new Headers(),
      };
    },
    stream<I extends DescMessage, O extends DescMessage>(
      method: DescMethodStreaming<I, O>,
    ): Promise<StreamResponse<I, O>> {
      return Promise.reject(
        new BerthError(
          Code.Unimplemented,
          `ttrpc: streaming method ${method.parent.typeName}/${method.name}`,
        ),
      );
    },
  };
}
