/**
 * `containerd.services.snapshots.v1.Snapshots`: namespaced snapshots over
 * the configured snapshotters, with `/snapshot/*` events.
 *
 * @module
 */
import { create } from "@bufbuild/protobuf";
import { EmptySchema } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  SnapshotCommitSchema,
  SnapshotPrepareSchema,
  SnapshotRemoveSchema,
} from "../gen/containerd/events/snapshot_pb.ts";
import {
  type Info,
  InfoSchema,
  Kind,
  ListSnapshotsResponseSchema,
  MountsResponseSchema,
  PrepareSnapshotResponseSchema,
  Snapshots,
  StatSnapshotResponseSchema,
  UpdateSnapshotResponseSchema,
  UsageResponseSchema,
  ViewSnapshotResponseSchema,
} from "../gen/containerd/services/snapshots/v1/snapshots_pb.ts";
import type { NamespacedSnapshotStore } from "../metadata/mod.ts";
import type { SnapshotInfo } from "../snapshots/mod.ts";
import { invalidArgument } from "../types/mod.ts";
import { toMountMessages, toTimestamp } from "./_convert.ts";
import { type EventPublisher, packEvent } from "./_events.ts";
import { leaseOf, requireNamespace } from "./_rpc.ts";

/** How many infos one List response carries. */
const LIST_BATCH = 100;

const KINDS = {
  view: Kind.VIEW,
  active: Kind.ACTIVE,
  committed: Kind.COMMITTED,
} as const;

function toInfo(info: SnapshotInfo): Info {
  return create(InfoSchema, {
    name: info.name,
    parent: info.parent,
    kind: KINDS[info.kind],
    createdAt: toTimestamp(info.createdAt),
    updatedAt: toTimestamp(info.updatedAt),
    labels: info.labels,
  });
}

function snapshotterOf(name: string): string {
  if (!name) throw invalidArgument("snapshotter argument missing");
  return name;
}

/** What the service asks of the namespaced snapshot store. */
export type SnapshotRecords =
  & Pick<
    NamespacedSnapshotStore,
    | "prepare"
    | "view"
    | "mounts"
    | "commit"
    | "remove"
    | "stat"
    | "update"
    | "list"
    | "usage"
    | "sweep"
  >
  // Only checks that the snapshotter exists (NotFound when not).
  & { snapshotter(name: string): unknown };

/** Options for {@linkcode snapshotsService}. */
export interface SnapshotsServiceOptions {
  /** The namespaced snapshot store. */
  store: SnapshotRecords;
  /** Where `/snapshot/*` events go. */
  events: EventPublisher;
}

/** The Snapshots service. */
export function snapshotsService(
  { store, events }: SnapshotsServiceOptions,
): ServiceImpl<typeof Snapshots> {
  const scope = (ctx: HandlerContext, snapshotter: string) => ({
    namespace: requireNamespace(ctx),
    snapshotter: snapshotterOf(snapshotter),
  });
  return {
    async prepare(req, ctx) {
      const { namespace, snapshotter } = scope(ctx, req.snapshotter);
      const mounts = await store.prepare(
        namespace,
        snapshotter,
        req.key,
        req.parent,
        { labels: req.labels, lease: leaseOf(ctx) },
      );
      events.publish(
        namespace,
        "/snapshot/prepare",
        packEvent(
          SnapshotPrepareSchema,
          create(SnapshotPrepareSchema, { key: req.key, parent: req.parent }),
        ),
      );
      return create(PrepareSnapshotResponseSchema, {
        mounts: toMountMessages(mounts),
      });
    },
    async view(req, ctx) {
      const { namespace, snapshotter } = scope(ctx, req.snapshotter);
      const mounts = await store.view(
        namespace,
        snapshotter,
        req.key,
        req.parent,
        { labels: req.labels, lease: leaseOf(ctx) },
      );
      return create(ViewSnapshotResponseSchema, {
        mounts: toMountMessages(mounts),
      });
    },
    async mounts(req, ctx) {
      const { namespace, snapshotter } = scope(ctx, req.snapshotter);
      const mounts = await store.mounts(namespace, snapshotter, req.key);
      return create(MountsResponseSchema, { mounts: toMountMessages(mounts) });
    },
    async commit(req, ctx) {
      const { namespace, snapshotter } = scope(ctx, req.snapshotter);
      await store.commit(namespace, snapshotter, req.name, req.key, {
        labels: req.labels,
        lease: leaseOf(ctx),
      });
      events.publish(
        namespace,
        "/snapshot/commit",
        packEvent(
          SnapshotCommitSchema,
          create(SnapshotCommitSchema, { key: req.key, name: req.name }),
        ),
      );
      return create(EmptySchema);
    },
    remove(req, ctx) {
      const { namespace, snapshotter } = scope(ctx, req.snapshotter);
      store.remove(namespace, snapshotter, req.key);
      events.publish(
        namespace,
        "/snapshot/remove",
        packEvent(
          SnapshotRemoveSchema,
          create(SnapshotRemoveSchema, { key: req.key }),
        ),
      );
      return create(EmptySchema);
    },
    stat(req, ctx) {
      const { namespace, snapshotter } = scope(ctx, req.snapshotter);
      return create(StatSnapshotResponseSchema, {
        info: toInfo(store.stat(namespace, snapshotter, req.key)),
      });
    },
    update(req, ctx) {
      const { namespace, snapshotter } = scope(ctx, req.snapshotter);
      if (!req.info) throw invalidArgument("info must be set");
      const info = store.update(
        namespace,
        snapshotter,
        { name: req.info.name, labels: req.info.labels },
        req.updateMask?.paths,
      );
      return create(UpdateSnapshotResponseSchema, { info: toInfo(info) });
    },
    async *list(req, ctx) {
      const { namespace, snapshotter } = scope(ctx, req.snapshotter);
      const infos = store.list(namespace, snapshotter, req.filters);
      for (let i = 0; i < infos.length; i += LIST_BATCH) {
        yield create(ListSnapshotsResponseSchema, {
          info: infos.slice(i, i + LIST_BATCH).map(toInfo),
        });
      }
    },
    async usage(req, ctx) {
      const { namespace, snapshotter } = scope(ctx, req.snapshotter);
      const usage = await store.usage(namespace, snapshotter, req.key);
      return create(UsageResponseSchema, {
        size: BigInt(usage.size),
        inodes: BigInt(usage.inodes),
      });
    },
    async cleanup(req, ctx) {
      requireNamespace(ctx);
      store.snapshotter(snapshotterOf(req.snapshotter));
      await store.sweep();
      return create(EmptySchema);
    },
  };
}

export { Snapshots };
