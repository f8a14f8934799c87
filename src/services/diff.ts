/**
 * `containerd.services.diff.v1.Diff`: Apply a layer from the content store
 * onto mounts, and Diff two mounts into a new layer in the content store.
 *
 * @module
 */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  ApplyResponseSchema,
  Diff,
  DiffResponseSchema,
} from "../gen/containerd/services/diff/v1/diff_pb.ts";
import type { DiffContent, WalkingDiffer } from "../diff/mod.ts";
import type { NamespacedContentStore } from "../metadata/mod.ts";
import { BerthError, Code } from "../types/mod.ts";
import {
  fromDescriptorMessage,
  fromMountMessages,
  toDescriptorMessage,
} from "./_convert.ts";
import { leaseOf, requireNamespace } from "./_rpc.ts";

/** What the service asks of the namespaced content store. */
export type DiffContentRecords = Pick<
  NamespacedContentStore,
  "read" | "info" | "writer" | "abort"
>;

/** The content store as the differ sees it, in one namespace and lease. */
function diffContent(
  store: DiffContentRecords,
  namespace: string,
  lease: string | undefined,
): DiffContent {
  return {
    read: (digest) => store.read(namespace, digest),
    labels: (digest) => store.info(namespace, digest).labels,
    async write(ref, stream, labels) {
      const writer = await store.writer(namespace, { ref, lease });
      let size = 0;
      try {
        for await (const chunk of stream) {
          await writer.write(chunk);
          size += chunk.byteLength;
        }
        const digest = await writer.commit({ labels: await labels });
        return { digest, size };
      } catch (err) {
        // The same layer made before: it is there, and that is success.
        if (BerthError.is(err, Code.AlreadyExists)) {
          return { digest: writer.digest(), size };
        }
        await writer.close();
        await store.abort(namespace, ref).catch(() => {});
        throw err;
      } finally {
        await writer.close();
      }
    },
  };
}

/** Options for {@linkcode diffService}. */
export interface DiffServiceOptions {
  /** The namespaced content store. */
  content: DiffContentRecords;
  /** The differ. */
  differ: Pick<WalkingDiffer, "apply" | "compare">;
}

/** The Diff service. */
export function diffService(
  { content, differ }: DiffServiceOptions,
): ServiceImpl<typeof Diff> {
  return {
    async apply(req, ctx) {
      const namespace = requireNamespace(ctx);
      const applied = await differ.apply(
        diffContent(content, namespace, leaseOf(ctx)),
        fromDescriptorMessage(req.diff, "diff descriptor"),
        fromMountMessages(req.mounts),
        { signal: ctx.signal },
      );
      return create(ApplyResponseSchema, {
        applied: toDescriptorMessage(applied),
      });
    },
    async diff(req, ctx) {
      const namespace = requireNamespace(ctx);
      const made = await differ.compare(
        diffContent(content, namespace, leaseOf(ctx)),
        fromMountMessages(req.left),
        fromMountMessages(req.right),
        { mediaType: req.mediaType, ref: req.ref, labels: req.labels },
      );
      return create(DiffResponseSchema, { diff: toDescriptorMessage(made) });
    },
  };
}

export { Diff };
