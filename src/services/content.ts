/**
 * `containerd.services.content.v1.Content`: the namespaced content store
 * over gRPC, including the resumable Write stream (STAT, WRITE, COMMIT).
 *
 * @module
 */
import { create } from "@bufbuild/protobuf";
import { EmptySchema } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { ContentDeleteSchema } from "../gen/containerd/events/content_pb.ts";
import {
  Content,
  type Info,
  InfoResponseSchema,
  InfoSchema,
  ListContentResponseSchema,
  ListStatusesResponseSchema,
  ReadContentResponseSchema,
  type Status,
  StatusResponseSchema,
  StatusSchema,
  UpdateResponseSchema,
  WriteAction,
  WriteContentResponseSchema,
} from "../gen/containerd/services/content/v1/content_pb.ts";
import type { IngestStatus } from "../content/mod.ts";
import { validateDigest } from "../content/mod.ts";
import type { ContentInfo, NamespacedContentStore } from "../metadata/mod.ts";
import { BerthError, Code, invalidArgument } from "../types/mod.ts";
import { type EventPublisher, packEvent } from "./_events.ts";
import { leaseOf, requireNamespace } from "./_rpc.ts";
import { toTimestamp } from "./_convert.ts";

/** How many infos one List response carries, as containerd batches them. */
const LIST_BATCH = 100;

function toInfo(info: ContentInfo): Info {
  return create(InfoSchema, {
    digest: info.digest,
    size: BigInt(info.size),
    createdAt: toTimestamp(info.createdAt),
    updatedAt: toTimestamp(info.updatedAt),
    labels: info.labels,
  });
}

function toStatus(status: IngestStatus): Status {
  return create(StatusSchema, {
    ref: status.ref,
    offset: BigInt(status.offset),
    total: BigInt(status.total),
    expected: status.expected,
    startedAt: toTimestamp(status.startedAt),
    updatedAt: toTimestamp(status.updatedAt),
  });
}

/** A non-negative int64 from the wire as a safe number, or InvalidArgument. */
function toSize(value: bigint, what: string): number {
  if (value < 0n || value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw invalidArgument(`${what} ${value} is out of range`);
  }
  return Number(value);
}

/** What the service asks of the namespaced content store. */
export type ContentRecords = Pick<
  NamespacedContentStore,
  | "info"
  | "update"
  | "list"
  | "delete"
  | "read"
  | "status"
  | "listStatuses"
  | "writer"
  | "abort"
>;

/** Options for {@linkcode contentService}. */
export interface ContentServiceOptions {
  /** The namespaced content store. */
  store: ContentRecords;
  /** Where `/content/delete` goes. */
  events: EventPublisher;
}

/** The Content service. */
export function contentService(
  { store, events }: ContentServiceOptions,
): ServiceImpl<typeof Content> {
  return {
    info(req, ctx) {
      const info = store.info(requireNamespace(ctx), req.digest);
      return create(InfoResponseSchema, { info: toInfo(info) });
    },
    update(req, ctx) {
      const namespace = requireNamespace(ctx);
      if (!req.info) throw invalidArgument("info must be set");
      const info = store.update(
        namespace,
        { digest: req.info.digest, labels: req.info.labels },
        req.updateMask?.paths,
      );
      return create(UpdateResponseSchema, { info: toInfo(info) });
    },
    async *list(req, ctx) {
      const infos = store.list(requireNamespace(ctx), req.filters);
      for (let i = 0; i < infos.length; i += LIST_BATCH) {
        yield create(ListContentResponseSchema, {
          info: infos.slice(i, i + LIST_BATCH).map(toInfo),
        });
      }
    },
    delete(req, ctx) {
      const namespace = requireNamespace(ctx);
      store.delete(namespace, req.digest);
      events.publish(
        namespace,
        "/content/delete",
        packEvent(
          ContentDeleteSchema,
          create(ContentDeleteSchema, { digest: req.digest }),
        ),
      );
      return create(EmptySchema);
    },
    async *read(req, ctx) {
      const namespace = requireNamespace(ctx);
      validateDigest(req.digest);
      // As containerd: a negative offset reads from 0, a size of 0 or one
      // past the end reads to the end, an offset past the end is an error
      // (OutOfRange from the store, which checks ownership and the size:
      // one lookup, not two, for each of ctr's 32 KiB reads).
      const offset = req.offset < 0n ? 0 : Number(req.offset);
      const size = req.size <= 0n ? 0 : Number(req.size);
      let position = offset;
      for await (
        const data of store.read(namespace, req.digest, {
          offset,
          size,
        })
      ) {
        yield create(ReadContentResponseSchema, {
          offset: BigInt(position),
          data,
        });
        position += data.length;
      }
    },
    async status(req, ctx) {
      const status = await store.status(requireNamespace(ctx), req.ref);
      return create(StatusResponseSchema, { status: toStatus(status) });
    },
    async listStatuses(req, ctx) {
      const statuses = await store.listStatuses(
        requireNamespace(ctx),
        req.filters,
      );
      return create(ListStatusesResponseSchema, {
        statuses: statuses.map(toStatus),
      });
    },
    async *write(requests, ctx) {
      const namespace = requireNamespace(ctx);
      const iterator = requests[Symbol.asyncIterator]();
      let next = await iterator.next();
      if (next.done) return;
      let req = next.value;
      if (!req.ref) {
        throw invalidArgument("first message must have a reference");
      }
      let total = toSize(req.total, "total");
      let expected = req.expected;
      const writer = await store.writer(namespace, {
        ref: req.ref,
        total,
        expected,
        lease: leaseOf(ctx),
      });
      try {
        while (true) {
          const status = await writer.status();
          let offset = status.offset;
          if (req.expected) {
            expected = req.expected;
            validateDigest(expected);
          }
          if (req.total > 0n) total = toSize(req.total, "total");
          const response = create(WriteContentResponseSchema, {
            action: req.action,
            offset: BigInt(offset),
          });
          if (req.action === WriteAction.STAT) {
            response.digest = writer.digest();
            response.startedAt = toTimestamp(status.startedAt);
            response.updatedAt = toTimestamp(status.updatedAt);
            response.total = BigInt(total);
          } else if (
            req.action === WriteAction.WRITE ||
            req.action === WriteAction.COMMIT
          ) {
            const at = toSize(req.offset, "offset");
            if (at > 0 && at !== offset) {
              throw new BerthError(
                Code.OutOfRange,
                `write @${at} must occur at current offset ${offset}`,
              );
            }
            if (at === 0 && offset > 0) {
              await writer.truncate(0);
              offset = 0;
            }
            if (total > 0 && offset + req.data.length > total) {
              throw new BerthError(
                Code.OutOfRange,
                `write of ${req.data.length} bytes at offset ${offset} passes total ${total}`,
              );
            }
            if (req.data.length > 0) {
              await writer.write(req.data);
              offset += req.data.length;
            }
            response.offset = BigInt(offset);
            if (req.action === WriteAction.COMMIT) {
              await writer.commit({
                size: total,
                expected,
                labels: req.labels,
              });
            }
            response.digest = writer.digest();
          } else {
            throw invalidArgument(`unknown write action ${req.action}`);
          }
          yield response;
          if (req.action === WriteAction.COMMIT) return;
          next = await iterator.next();
          if (next.done) return;
          req = next.value;
        }
      } finally {
        await writer.close();
      }
    },
    async abort(req, ctx) {
      await store.abort(requireNamespace(ctx), req.ref);
      return create(EmptySchema);
    },
  };
}

export { Content };
