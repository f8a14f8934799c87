/**
 * `containerd.services.images.v1.Images`: named references to manifests
 * and indexes. Delete with `sync` waits for the garbage collection that
 * frees the image's content.
 *
 * @module
 */
import { create } from "@bufbuild/protobuf";
import { EmptySchema } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  ImageCreateSchema,
  ImageDeleteSchema,
  ImageUpdateSchema,
} from "../gen/containerd/events/image_pb.ts";
import {
  CreateImageResponseSchema,
  GetImageResponseSchema,
  type Image as ImageMessage,
  Images,
  ImageSchema,
  ListImagesResponseSchema,
  UpdateImageResponseSchema,
} from "../gen/containerd/services/images/v1/images_pb.ts";
import type { Image, ImageInput, ImageStore } from "../metadata/mod.ts";
import { invalidArgument } from "../types/mod.ts";
import {
  fromDescriptorMessage,
  toDescriptorMessage,
  toTimestamp,
} from "./_convert.ts";
import { type EventPublisher, packEvent } from "./_events.ts";
import { requireNamespace } from "./_rpc.ts";

function toImage(image: Image): ImageMessage {
  return create(ImageSchema, {
    name: image.name,
    labels: image.labels,
    target: toDescriptorMessage(image.target),
    createdAt: toTimestamp(image.createdAt),
    updatedAt: toTimestamp(image.updatedAt),
  });
}

function fromImage(image: ImageMessage | undefined): ImageInput {
  if (!image?.name) throw invalidArgument("Image.Name required");
  return {
    name: image.name,
    labels: image.labels,
    target: fromDescriptorMessage(image.target, "Image.Target"),
  };
}

/** Options for {@linkcode imagesService}. */
export interface ImagesServiceOptions {
  /** Image records. */
  store: Pick<ImageStore, "get" | "list" | "create" | "update" | "delete">;
  /** Where `/images/*` events go. */
  events: EventPublisher;
  /** Collects now; resolves when done. */
  runGc: () => Promise<void>;
}

/** The Images service. */
export function imagesService(
  { store, events, runGc }: ImagesServiceOptions,
): ServiceImpl<typeof Images> {
  return {
    get(req, ctx) {
      return create(GetImageResponseSchema, {
        image: toImage(store.get(requireNamespace(ctx), req.name)),
      });
    },
    list(req, ctx) {
      return create(ListImagesResponseSchema, {
        images: store.list(requireNamespace(ctx), req.filters).map(toImage),
      });
    },
    create(req, ctx) {
      const namespace = requireNamespace(ctx);
      const image = store.create(namespace, fromImage(req.image));
      events.publish(
        namespace,
        "/images/create",
        packEvent(
          ImageCreateSchema,
          create(ImageCreateSchema, { name: image.name, labels: image.labels }),
        ),
      );
      return create(CreateImageResponseSchema, { image: toImage(image) });
    },
    update(req, ctx) {
      const namespace = requireNamespace(ctx);
      const image = store.update(
        namespace,
        fromImage(req.image),
        req.updateMask?.paths,
      );
      events.publish(
        namespace,
        "/images/update",
        packEvent(
          ImageUpdateSchema,
          create(ImageUpdateSchema, { name: image.name, labels: image.labels }),
        ),
      );
      return create(UpdateImageResponseSchema, { image: toImage(image) });
    },
    async delete(req, ctx) {
      const namespace = requireNamespace(ctx);
      store.delete(namespace, req.name);
      events.publish(
        namespace,
        "/images/delete",
        packEvent(
          ImageDeleteSchema,
          create(ImageDeleteSchema, { name: req.name }),
        ),
      );
      if (req.sync) await runGc();
      return create(EmptySchema);
    },
  };
}

export { Images };
