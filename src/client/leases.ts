/**
 * Leases from the client: a lease holds what calls made under it create
 * (blobs, snapshots) until it is deleted, so that the garbage collector
 * never takes a half-made image or container.
 *
 * @module
 */
import { Leases } from "../gen/containerd/services/leases/v1/leases_pb.ts";
import type { CoreClient as Client } from "./core.ts";

/**
 * The label holding a lease's expiry time (RFC 3339), as containerd's.
 *
 * @example
 * ```ts
 * import { LEASE_EXPIRE_LABEL } from "@berth/berth/client";
 * console.log(LEASE_EXPIRE_LABEL); // "containerd.io/gc.expire"
 * ```
 */
export const LEASE_EXPIRE_LABEL = "containerd.io/gc.expire";

/**
 * Options of {@linkcode createLease}.
 *
 * @example
 * ```ts
 * import { Client, type LeaseOptions } from "@berth/berth/client";
 * const client = new Client({ address: "/run/berth/berth.sock" });
 * const options: LeaseOptions = { expiresInMs: 60_000 };
 * await client.withLease(async (leased) => {}, options);
 * ```
 */
export interface LeaseOptions {
  /** The lease's id (default: a random one). */
  id?: string;
  /** Milliseconds until the collector may remove it (default 24 h). */
  expiresInMs?: number;
  /** More labels. */
  labels?: Record<string, string>;
}

/**
 * Creates a lease; returns its id.
 *
 * @example
 * ```ts
 * import { Client, createLease } from "@berth/berth/client";
 * const client = new Client({ address: "/run/berth/berth.sock" });
 * const id = await createLease(client, { expiresInMs: 60_000 });
 * ```
 */
export async function createLease(
  client: Client,
  options: LeaseOptions = {},
): Promise<string> {
  const id = options.id ?? `berth-client-${crypto.randomUUID()}`;
  const expires = new Date(Date.now() + (options.expiresInMs ?? 86_400_000));
  await client.service(Leases).create({
    id,
    labels: {
      [LEASE_EXPIRE_LABEL]: expires.toISOString().replace(/\.\d+Z$/, "Z"),
      ...options.labels,
    },
  });
  return id;
}

/**
 * Runs `fn` with a client whose calls carry a new lease, then deletes the
 * lease (whatever `fn` made stays only if something else references it).
 *
 * @example
 * ```ts
 * import { Client, withLease } from "@berth/berth/client";
 * const client = new Client({ address: "/run/berth/berth.sock" });
 * await withLease(client, async (leased) => {
 *   await leased.pull("docker.io/library/busybox:latest", { unpack: true });
 * });
 * ```
 */
export async function withLease<C extends Client, T>(
  client: C,
  fn: (leased: C) => Promise<T>,
  options: LeaseOptions = {},
): Promise<T> {
  if (client.context.lease) return await fn(client);
  const id = await createLease(client, options);
  try {
    return await fn(client.with({ lease: id }));
  } finally {
    await client.service(Leases).delete({ id }).catch(() => {});
  }
}
