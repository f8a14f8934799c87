/**
 * `containerd.services.namespaces.v1.Namespaces`: tenants and their labels.
 * Every mutation publishes its `/namespaces/*` event.
 *
 * @module
 */
import { create } from "@bufbuild/protobuf";
import { EmptySchema } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  NamespaceCreateSchema,
  NamespaceDeleteSchema,
  NamespaceUpdateSchema,
} from "../gen/containerd/events/namespace_pb.ts";
import {
  CreateNamespaceResponseSchema,
  GetNamespaceResponseSchema,
  ListNamespacesResponseSchema,
  Namespaces,
  NamespaceSchema,
  UpdateNamespaceResponseSchema,
} from "../gen/containerd/services/namespaces/v1/namespace_pb.ts";
import type { NamespaceStore } from "../metadata/mod.ts";
import { invalidArgument } from "../types/mod.ts";
import { type EventPublisher, packEvent } from "./_events.ts";

/** Options for {@linkcode namespacesService}. */
export interface NamespacesServiceOptions {
  /** Where namespaces are kept. */
  store: Pick<NamespaceStore, "get" | "list" | "create" | "update" | "delete">;
  /** Where their events go. */
  events: EventPublisher;
}

/** The Namespaces service. */
export function namespacesService(
  { store, events }: NamespacesServiceOptions,
): ServiceImpl<typeof Namespaces> {
  return {
    get(req) {
      return create(GetNamespaceResponseSchema, {
        namespace: create(NamespaceSchema, store.get(req.name)),
      });
    },
    list() {
      return create(ListNamespacesResponseSchema, {
        namespaces: store.list().map((ns) => create(NamespaceSchema, ns)),
      });
    },
    create(req) {
      if (!req.namespace) throw invalidArgument("namespace must be set");
      const created = store.create(req.namespace);
      events.publish(
        created.name,
        "/namespaces/create",
        packEvent(
          NamespaceCreateSchema,
          create(NamespaceCreateSchema, created),
        ),
      );
      return create(CreateNamespaceResponseSchema, {
        namespace: create(NamespaceSchema, created),
      });
    },
    update(req) {
      if (!req.namespace) throw invalidArgument("namespace must be set");
      const updated = store.update(req.namespace, req.updateMask?.paths);
      events.publish(
        updated.name,
        "/namespaces/update",
        packEvent(
          NamespaceUpdateSchema,
          create(NamespaceUpdateSchema, updated),
        ),
      );
      return create(UpdateNamespaceResponseSchema, {
        namespace: create(NamespaceSchema, updated),
      });
    },
    delete(req) {
      store.delete(req.name);
      events.publish(
        req.name,
        "/namespaces/delete",
        packEvent(
          NamespaceDeleteSchema,
          create(NamespaceDeleteSchema, { name: req.name }),
        ),
      );
      return create(EmptySchema);
    },
  };
}

export { Namespaces };
