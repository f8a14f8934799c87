/**
 * `berth.services.network.v1.Network`: named network namespaces, CNI
 * networks and attachments (`src/netns/`, `src/cni/`), interfaces
 * (`src/netlink/`, in `_interfaces.ts`). Mutations publish
 * `/netns/*` and `/network/*` events.
 *
 * @module
 */
import { create } from "@bufbuild/protobuf";
import { EmptySchema, timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  NetnsCreateSchema,
  NetnsDeleteSchema,
  NetnsUpdateSchema,
  NetworkAttachSchema,
  NetworkDetachSchema,
} from "../gen/berth/events/network_pb.ts";
import {
  type Attachment,
  AttachmentSchema,
  AttachResponseSchema,
  CreateNamespaceResponseSchema,
  GetNamespaceResponseSchema,
  ListAttachmentsResponseSchema,
  ListNamespacesResponseSchema,
  ListNetworksResponseSchema,
  Network,
  NetworkInfoSchema,
  type NetworkNamespace as NetworkNamespaceMessage,
  NetworkNamespaceSchema,
  PortMappingSchema,
  UpdateNamespaceResponseSchema,
} from "../gen/berth/services/network/v1/network_pb.ts";
import {
  attachmentIPs,
  type AttachmentManager,
  capabilitiesOf,
  type NetworkChange,
} from "../cni/mod.ts";
import type { AttachmentRecord } from "../metadata/mod.ts";
import type { NetnsManager, NetworkNamespace } from "../netns/mod.ts";
import { invalidArgument } from "../types/mod.ts";
import { type EventPublisher, packEvent } from "./_events.ts";
import { interfaceHandlers, type InterfaceLinks } from "./_interfaces.ts";
import { requireNamespace } from "./_rpc.ts";

/** Options for {@linkcode networkService}. */
export interface NetworkServiceOptions {
  /** Named network namespaces. */
  netns: Pick<NetnsManager, "create" | "get" | "list" | "updateLabels">;
  /** CNI attachments. */
  attachments: Pick<
    AttachmentManager,
    "networks" | "list" | "attach" | "check" | "detach" | "deleteNetns"
  >;
  /** Interfaces (`src/netlink/` on the daemon). */
  links: InterfaceLinks;
  /** Where events go. */
  events: EventPublisher;
}

function toNetnsMessage(ns: NetworkNamespace): NetworkNamespaceMessage {
  return create(NetworkNamespaceSchema, {
    name: ns.name,
    path: ns.path,
    labels: ns.labels,
    createdAt: timestampFromDate(ns.createdAt),
    updatedAt: timestampFromDate(ns.updatedAt),
    owner: ns.owner,
    status: ns.status,
    resolvConfPath: ns.resolvConfPath,
    hostsPath: ns.hostsPath,
  });
}

function toAttachmentMessage(a: AttachmentRecord): Attachment {
  return create(AttachmentSchema, {
    id: a.id,
    network: a.network,
    netns: a.netns,
    netnsPath: a.netnsPath,
    interface: a.ifname,
    containerId: a.containerId,
    portMappings: a.portMappings.map((p) =>
      create(PortMappingSchema, {
        hostPort: p.hostPort,
        containerPort: p.containerPort,
        protocol: p.protocol,
        hostIp: p.hostIP,
      })
    ),
    result: a.result ?? "",
    ips: attachmentIPs(a),
    state: a.parked ? "parked" : "attached",
    labels: a.labels,
    args: a.args,
    createdAt: timestampFromDate(a.createdAt),
  });
}

/**
 * Publishes what the attachment manager changed by itself (detaches when
 * an owner container goes), as the service publishes its own changes.
 */
export function publishNetworkChange(
  events: EventPublisher,
): (namespace: string, change: NetworkChange) => void {
  return (namespace, change) => {
    switch (change.topic) {
      case "/network/attach":
        events.publish(
          namespace,
          change.topic,
          packEvent(
            NetworkAttachSchema,
            create(NetworkAttachSchema, {
              id: change.attachment.id,
              network: change.attachment.network,
              netnsPath: change.attachment.netnsPath,
              interface: change.attachment.ifname,
              containerId: change.attachment.containerId,
              ips: change.ips,
            }),
          ),
        );
        break;
      case "/network/detach":
        events.publish(
          namespace,
          change.topic,
          packEvent(
            NetworkDetachSchema,
            create(NetworkDetachSchema, {
              id: change.attachment.id,
              network: change.attachment.network,
              containerId: change.attachment.containerId,
            }),
          ),
        );
        break;
      case "/netns/create":
        events.publish(
          namespace,
          change.topic,
          packEvent(
            NetnsCreateSchema,
            create(NetnsCreateSchema, {
              name: change.netns.name,
              path: change.netns.path,
              labels: change.netns.labels,
            }),
          ),
        );
        break;
      case "/netns/delete":
        events.publish(
          namespace,
          change.topic,
          packEvent(
            NetnsDeleteSchema,
            create(NetnsDeleteSchema, { name: change.name }),
          ),
        );
        break;
    }
  };
}

/** The Network service. */
export function networkService(
  { netns, attachments, links, events }: NetworkServiceOptions,
): ServiceImpl<typeof Network> {
  const publish = publishNetworkChange(events);
  return {
    createNamespace(req, ctx) {
      const namespace = requireNamespace(ctx);
      if (!req.namespace) throw invalidArgument("namespace must be set");
      const created = netns.create(namespace, {
        name: req.namespace.name,
        labels: req.namespace.labels,
        owner: req.namespace.owner,
      });
      publish(namespace, { topic: "/netns/create", netns: created });
      return create(CreateNamespaceResponseSchema, {
        namespace: toNetnsMessage(created),
      });
    },
    getNamespace(req, ctx) {
      return create(GetNamespaceResponseSchema, {
        namespace: toNetnsMessage(netns.get(requireNamespace(ctx), req.name)),
      });
    },
    listNamespaces(req, ctx) {
      return create(ListNamespacesResponseSchema, {
        namespaces: netns.list(requireNamespace(ctx), req.filters).map(
          toNetnsMessage,
        ),
      });
    },
    updateNamespace(req, ctx) {
      const namespace = requireNamespace(ctx);
      if (!req.namespace) throw invalidArgument("namespace must be set");
      const paths = req.updateMask?.paths ?? [];
      const updated = netns.updateLabels(
        namespace,
        req.namespace.name,
        req.namespace.labels,
        paths,
      );
      events.publish(
        namespace,
        "/netns/update",
        packEvent(
          NetnsUpdateSchema,
          create(NetnsUpdateSchema, {
            name: updated.name,
            labels: updated.labels,
          }),
        ),
      );
      return create(UpdateNamespaceResponseSchema, {
        namespace: toNetnsMessage(updated),
      });
    },
    async deleteNamespace(req, ctx) {
      await attachments.deleteNetns(requireNamespace(ctx), req.name, req.force);
      return create(EmptySchema);
    },
    ...interfaceHandlers({ netns, links, events }),
    listNetworks(req) {
      const filtered = attachments.networks(req.filters);
      return create(ListNetworksResponseSchema, {
        networks: filtered.map((n) =>
          create(NetworkInfoSchema, {
            name: n.name,
            cniVersion: n.cniVersion,
            plugins: n.plugins.map((p) => p.type),
            source: n.source,
            config: n.bytes,
            capabilities: capabilitiesOf(n),
          })
        ),
      });
    },
    async attach(req, ctx) {
      const attachment = await attachments.attach(requireNamespace(ctx), {
        network: req.network,
        netns: req.netns,
        ifname: req.interface,
        containerId: req.containerId,
        portMappings: req.portMappings.map((p) => ({
          hostPort: p.hostPort,
          containerPort: p.containerPort,
          protocol: p.protocol,
          hostIP: p.hostIp,
        })),
        labels: req.labels,
        args: req.args,
      });
      return create(AttachResponseSchema, {
        attachment: toAttachmentMessage(attachment),
      });
    },
    async check(req, ctx) {
      await attachments.check(requireNamespace(ctx), req.id);
      return create(EmptySchema);
    },
    async detach(req, ctx) {
      await attachments.detach(requireNamespace(ctx), req.id);
      return create(EmptySchema);
    },
    listAttachments(req, ctx) {
      return create(ListAttachmentsResponseSchema, {
        attachments: attachments.list(requireNamespace(ctx), req.filters).map(
          toAttachmentMessage,
        ),
      });
    },
  };
}

export { Network };
