/**
 * A raw API client for the integration tests' calls that the client library
 * (`src/client/`, which always carries a namespace) cannot make: calls with
 * no `containerd-namespace` header at all. It goes over the library's own
 * transport; everything else goes through the library's `Client`.
 *
 * @module
 */
import type { DescService } from "@bufbuild/protobuf";
import { type Client, createClient } from "@connectrpc/connect";
import { unixTransport } from "../src/client/mod.ts";

/**
 * A client for `service` over the daemon's socket at `address` whose calls
 * carry no namespace header.
 */
export function noNamespaceClient<S extends DescService>(
  service: S,
  address: string,
): Client<S> {
  return createClient(service, unixTransport(address));
}
