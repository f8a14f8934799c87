/**
 * `containerd.services.containers.v1.Containers`: container metadata
 * records (no running state). Deleting one lets the garbage collector free
 * its snapshot once nothing else holds it.
 *
 * @module
 */
import { create } from "@bufbuild/protobuf";
import { type Any, AnySchema, EmptySchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import {
  ContainerCreate_RuntimeSchema,
  ContainerCreateSchema,
  ContainerDeleteSchema,
  ContainerUpdateSchema,
} from "../gen/containerd/events/container_pb.ts";
import {
  type Container as ContainerMessage,
  Container_RuntimeSchema,
  Containers,
  ContainerSchema,
  CreateContainerResponseSchema,
  type GetContainerResponse,
  GetContainerResponseSchema,
  ListContainerMessageSchema,
  ListContainersResponseSchema,
  UpdateContainerResponseSchema,
} from "../gen/containerd/services/containers/v1/containers_pb.ts";
import type {
  Container,
  ContainerInput,
  ContainerStore,
  TypedValue,
} from "../metadata/mod.ts";
import { type EventPublisher, packEvent } from "./_events.ts";
import { requireNamespace } from "./_rpc.ts";
import { toTimestamp } from "./_convert.ts";
import { KeptAnswers } from "./_kept_answers.ts";

/**
 * How many containers' Get answers are kept (each holds its spec, a few
 * KB, twice: as a message and encoded).
 */
const KEPT_GET_ANSWERS = 256;

function toAny(value: TypedValue | undefined): Any | undefined {
  return value && create(AnySchema, value);
}

function fromAny(value: Any | undefined): TypedValue | undefined {
  return value && { typeUrl: value.typeUrl, value: value.value };
}

function toContainer(container: Container): ContainerMessage {
  return create(ContainerSchema, {
    id: container.id,
    labels: container.labels,
    image: container.image,
    runtime: create(Container_RuntimeSchema, {
      name: container.runtime.name,
      options: toAny(container.runtime.options),
    }),
    spec: toAny(container.spec),
    snapshotter: container.snapshotter,
    snapshotKey: container.snapshotKey,
    createdAt: toTimestamp(container.createdAt),
    updatedAt: toTimestamp(container.updatedAt),
    extensions: Object.fromEntries(
      Object.entries(container.extensions).map((
        [name, ext],
      ) => [name, create(AnySchema, ext)]),
    ),
  });
}

/** A missing container reads as an empty one, as in containerd. */
function fromContainer(
  container: ContainerMessage | undefined,
): ContainerInput {
  return {
    id: container?.id ?? "",
    labels: container?.labels ?? {},
    image: container?.image ?? "",
    runtime: {
      name: container?.runtime?.name ?? "",
      options: fromAny(container?.runtime?.options),
    },
    spec: fromAny(container?.spec),
    snapshotter: container?.snapshotter ?? "",
    snapshotKey: container?.snapshotKey ?? "",
    extensions: Object.fromEntries(
      Object.entries(container?.extensions ?? {}).map((
        [name, ext],
      ) => [name, fromAny(ext)!]),
    ),
  };
}

/** Options for {@linkcode containersService}. */
export interface ContainersServiceOptions {
  /** Container records. */
  store: Pick<ContainerStore, "get" | "list" | "create" | "update" | "delete">;
  /** Where `/containers/*` events go. */
  events: EventPublisher;
  /**
   * Runs after a container's record is gone, before Delete answers: what
   * it owned elsewhere (its network) is released. Failures are its own.
   */
  onDeleted?: (namespace: string, id: string) => Promise<void>;
}

/**
 * The Containers service. A container's Get answer is made once and kept
 * until the container is updated or deleted (`ctr tasks exec` asks for it
 * twice, each a SQLite read, a conversion and an encoding of its spec):
 * its record changes only through this service (the store is the
 * database's one writer, and this service its one caller that writes
 * containers).
 */
export function containersService(
  { store, events, onDeleted }: ContainersServiceOptions,
): ServiceImpl<typeof Containers> {
  const answers = new KeptAnswers<GetContainerResponse>({
    max: KEPT_GET_ANSWERS,
  });
  const answerKey = (namespace: string, id: string) => `${namespace}\0${id}`;
  return {
    get(req, ctx) {
      const namespace = requireNamespace(ctx);
      const key = answerKey(namespace, req.id);
      return answers.get(key) ?? answers.keep(
        key,
        create(GetContainerResponseSchema, {
          container: toContainer(store.get(namespace, req.id)),
        }),
      );
    },
    list(req, ctx) {
      return create(ListContainersResponseSchema, {
        containers: store.list(requireNamespace(ctx), req.filters).map(
          toContainer,
        ),
      });
    },
    async *listStream(req, ctx) {
      const containers = store.list(requireNamespace(ctx), req.filters);
      for (const container of containers) {
        yield create(ListContainerMessageSchema, {
          container: toContainer(container),
        });
      }
    },
    create(req, ctx) {
      const namespace = requireNamespace(ctx);
      const container = store.create(namespace, fromContainer(req.container));
      events.publish(
        namespace,
        "/containers/create",
        packEvent(
          ContainerCreateSchema,
          create(ContainerCreateSchema, {
            id: container.id,
            image: container.image,
            runtime: create(ContainerCreate_RuntimeSchema, {
              name: container.runtime.name,
              options: toAny(container.runtime.options),
            }),
          }),
        ),
      );
      return create(CreateContainerResponseSchema, {
        container: toContainer(container),
      });
    },
    update(req, ctx) {
      if (!req.container?.id) {
        // containerd answers without the usual class suffix here.
        throw new ConnectError("Container.ID required", Code.InvalidArgument);
      }
      const namespace = requireNamespace(ctx);
      // Forgotten first: an update that fails leaves only a miss.
      answers.forget(answerKey(namespace, req.container.id));
      const container = store.update(
        namespace,
        fromContainer(req.container),
        req.updateMask?.paths,
      );
      events.publish(
        namespace,
        "/containers/update",
        packEvent(
          ContainerUpdateSchema,
          create(ContainerUpdateSchema, {
            id: container.id,
            image: container.image,
            labels: container.labels,
            snapshotKey: container.snapshotKey,
          }),
        ),
      );
      return create(UpdateContainerResponseSchema, {
        container: toContainer(container),
      });
    },
    async delete(req, ctx) {
      const namespace = requireNamespace(ctx);
      answers.forget(answerKey(namespace, req.id));
      store.delete(namespace, req.id);
      await onDeleted?.(namespace, req.id);
      events.publish(
        namespace,
        "/containers/delete",
        packEvent(
          ContainerDeleteSchema,
          create(ContainerDeleteSchema, { id: req.id }),
        ),
      );
      return create(EmptySchema);
    },
  };
}

export { Containers };
