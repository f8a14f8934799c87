/**
 * `containerd.services.leases.v1.Leases`: holds on resources against
 * garbage collection. Delete with `sync` waits for a collection.
 *
 * @module
 */
import { create } from "@bufbuild/protobuf";
import { EmptySchema } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  CreateResponseSchema,
  type Lease as LeaseMessage,
  Leases,
  LeaseSchema,
  ListResourcesResponseSchema,
  ListResponseSchema,
} from "../gen/containerd/services/leases/v1/leases_pb.ts";
import type { Lease, LeaseStore } from "../metadata/mod.ts";
import { invalidArgument } from "../types/mod.ts";
import { requireNamespace } from "./_rpc.ts";
import { toTimestamp } from "./_convert.ts";

function toLease(lease: Lease): LeaseMessage {
  return create(LeaseSchema, {
    id: lease.id,
    createdAt: toTimestamp(lease.createdAt),
    labels: lease.labels,
  });
}

/** An id like containerd's random ones: `<nanoseconds>-<base64url of 3 bytes>`. */
function randomLeaseId(): string {
  const random = crypto.getRandomValues(new Uint8Array(3));
  const text = btoa(String.fromCharCode(...random)).replace(/\+/g, "-")
    .replace(/\//g, "_");
  const nanos = Math.floor((performance.timeOrigin + performance.now()) * 1e6) %
    1e9;
  return `${nanos}-${text}`;
}

/** Options for {@linkcode leasesService}. */
export interface LeasesServiceOptions {
  /** Lease records. */
  store: Pick<
    LeaseStore,
    | "create"
    | "delete"
    | "list"
    | "addResource"
    | "deleteResource"
    | "listResources"
  >;
  /** Collects now; resolves when done. */
  runGc: () => Promise<void>;
}

/** The Leases service. */
export function leasesService(
  { store, runGc }: LeasesServiceOptions,
): ServiceImpl<typeof Leases> {
  const resourceOf = (resource: { id: string; type: string } | undefined) => {
    if (!resource) throw invalidArgument("resource must be set");
    return { id: resource.id, type: resource.type };
  };
  return {
    create(req, ctx) {
      const lease = store.create(requireNamespace(ctx), {
        id: req.id || randomLeaseId(),
        labels: req.labels,
      });
      return create(CreateResponseSchema, { lease: toLease(lease) });
    },
    async delete(req, ctx) {
      store.delete(requireNamespace(ctx), req.id);
      if (req.sync) await runGc();
      return create(EmptySchema);
    },
    list(req, ctx) {
      return create(ListResponseSchema, {
        leases: store.list(requireNamespace(ctx), req.filters).map(toLease),
      });
    },
    addResource(req, ctx) {
      store.addResource(
        requireNamespace(ctx),
        req.id,
        resourceOf(req.resource),
      );
      return create(EmptySchema);
    },
    deleteResource(req, ctx) {
      store.deleteResource(
        requireNamespace(ctx),
        req.id,
        resourceOf(req.resource),
      );
      return create(EmptySchema);
    },
    listResources(req, ctx) {
      return create(ListResourcesResponseSchema, {
        resources: store.listResources(requireNamespace(ctx), req.id),
      });
    },
  };
}

export { Leases };
