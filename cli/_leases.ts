/**
 * The leases ctr takes for its work: a day long, expiry in Go's RFC 3339.
 *
 * @module
 */
import { LEASE_HEADER } from "../src/client/core.ts";
import { LEASE_EXPIRE_LABEL } from "../src/client/leases.ts";
import { Leases } from "../src/gen/containerd/services/leases/v1/leases_pb.ts";
import type { Connection } from "./_client.ts";
import { formatRFC3339 } from "./_format.ts";

/** An expiry label one day from now, as ctr gives the leases of its work. */
export function expiresInADay(): Record<string, string> {
  return {
    [LEASE_EXPIRE_LABEL]: formatRFC3339(new Date(Date.now() + 24 * 3600_000)),
  };
}

/**
 * Creates lease `id` expiring in a day (plus `labels`); returns the call
 * options that put what later calls create under it.
 */
export async function temporaryLease(
  conn: Connection,
  id: string,
  labels: Record<string, string> = {},
): Promise<{ signal: AbortSignal; headers: Record<string, string> }> {
  await conn.client(Leases).create(
    { id, labels: { ...expiresInADay(), ...labels } },
    { signal: conn.signal },
  );
  return { signal: conn.signal, headers: { [LEASE_HEADER]: id } };
}
