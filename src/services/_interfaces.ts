/**
 * The interface RPCs of `berth.services.network.v1.Network` (ListInterfaces,
 * CreateInterface, UpdateInterface, DeleteInterface) over `src/netlink/`.
 * Mutations publish `/interfaces/create|update|delete`.
 *
 * A request names its netns as a berth netns name (resolved in the caller's
 * tenant namespace), an absolute path, or `host` / empty for the daemon's.
 *
 * @module
 */
import { create } from "@bufbuild/protobuf";
import { EmptySchema } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  InterfaceCreateSchema,
  InterfaceDeleteSchema,
  InterfaceUpdateSchema,
} from "../gen/berth/events/network_pb.ts";
import {
  AddressSchema,
  CreateInterfaceResponseSchema,
  type Interface as InterfaceMessage,
  InterfaceSchema,
  ListInterfacesResponseSchema,
  type Network,
  type Route as RouteMessage,
  RouteSchema,
  UpdateInterfaceResponseSchema,
} from "../gen/berth/services/network/v1/network_pb.ts";
import type * as netlink from "../netlink/mod.ts";
import type { Interface, InterfaceKind, RouteSpec } from "../netlink/mod.ts";
import { invalidArgument, notFound } from "../types/mod.ts";
import { type EventPublisher, packEvent } from "./_events.ts";
import { requireNamespace } from "./_rpc.ts";

/** Finds a berth netns's file by name (the netns manager does). */
export interface NetnsPaths {
  /** Netns `name` of tenant `namespace`; NotFound when there is none. */
  get(namespace: string, name: string): { path: string };
}

/**
 * The netlink calls the interface RPCs make, named as `src/netlink/` names
 * them: the daemon passes that module, tests a fake.
 */
export type InterfaceLinks = Pick<
  typeof netlink,
  | "listNetnsInterfaces"
  | "createInterface"
  | "updateInterface"
  | "deleteInterface"
>;

/** Options for {@linkcode interfaceHandlers}. */
export interface InterfaceHandlerOptions {
  /** Resolves berth netns names. */
  netns: NetnsPaths;
  /** Lists, creates, changes and deletes interfaces. */
  links: InterfaceLinks;
  /** Where events go. */
  events: EventPublisher;
}

type InterfaceRpcs = Pick<
  ServiceImpl<typeof Network>,
  "listInterfaces" | "createInterface" | "updateInterface" | "deleteInterface"
>;

function toMessage(link: Interface): InterfaceMessage {
  return create(InterfaceSchema, {
    name: link.name,
    index: link.index,
    type: link.kind ||
      (link.flags.includes("LOOPBACK") ? "loopback" : "device"),
    mtu: link.mtu,
    mac: link.mac,
    up: link.up,
    operState: link.operState.toLowerCase(),
    master: link.master,
    linkIndex: link.parentIndex,
    vlanId: link.vlanId,
    mode: link.mode,
    addresses: link.addresses.map((a) =>
      create(AddressSchema, { cidr: a.address, scope: a.scope })
    ),
    routes: link.routes.map((r) =>
      create(RouteSchema, {
        destination: r.destination,
        gateway: r.gateway,
        device: link.name,
        metric: r.metric,
        scope: r.scope,
        source: r.source,
      })
    ),
  });
}

function toRouteSpec(route: RouteMessage): RouteSpec {
  return { destination: route.destination, gateway: route.gateway };
}

/** The interface RPCs, for the Network service to serve. */
export function interfaceHandlers(
  { netns, links, events }: InterfaceHandlerOptions,
): InterfaceRpcs {
  /** The netns file a request names; undefined for the host's. */
  function netnsPath(namespace: string, named: string): string | undefined {
    if (named === "" || named === "host") return undefined;
    if (named.includes("/")) {
      if (!named.startsWith("/")) {
        throw invalidArgument(
          `netns path ${JSON.stringify(named)}: not absolute`,
        );
      }
      return named;
    }
    return netns.get(namespace, named).path;
  }

  return {
    listInterfaces(req, ctx) {
      const namespace = requireNamespace(ctx);
      const found = links.listNetnsInterfaces(netnsPath(namespace, req.netns));
      const chosen = req.name === ""
        ? found
        : found.filter((link) => link.name === req.name);
      if (req.name !== "" && chosen.length === 0) {
        throw notFound(`interface ${JSON.stringify(req.name)}`);
      }
      return create(ListInterfacesResponseSchema, {
        interfaces: chosen.map(toMessage),
      });
    },
    createInterface(req, ctx) {
      const namespace = requireNamespace(ctx);
      const path = netnsPath(namespace, req.netns);
      const peerNetns = req.peerNetns === ""
        ? undefined
        : netnsPath(namespace, req.peerNetns) ?? null;
      const link = links.createInterface(path, {
        name: req.name,
        kind: req.type as InterfaceKind,
        peer: req.peerName || undefined,
        peerNetns,
        parent: req.parent || undefined,
        vlanId: req.type === "vlan" ? req.vlanId : undefined,
        mode: req.mode || undefined,
        mtu: req.mtu || undefined,
        mac: req.mac || undefined,
      });
      events.publish(
        namespace,
        "/interfaces/create",
        packEvent(
          InterfaceCreateSchema,
          create(InterfaceCreateSchema, {
            netns: req.netns,
            name: link.name,
            type: link.kind,
          }),
        ),
      );
      return create(CreateInterfaceResponseSchema, {
        interface: toMessage(link),
      });
    },
    updateInterface(req, ctx) {
      const namespace = requireNamespace(ctx);
      const path = netnsPath(namespace, req.netns);
      const moveTo = req.moveToNetns === ""
        ? undefined
        : netnsPath(namespace, req.moveToNetns) ?? null;
      const link = links.updateInterface(path, req.name, {
        up: req.up,
        mtu: req.mtu || undefined,
        mac: req.mac || undefined,
        rename: req.rename || undefined,
        master: req.master === "none" ? "" : req.master || undefined,
        moveTo,
        addAddresses: req.addAddresses,
        delAddresses: req.delAddresses,
        addRoutes: req.addRoutes.map(toRouteSpec),
        delRoutes: req.delRoutes.map(toRouteSpec),
      });
      events.publish(
        namespace,
        "/interfaces/update",
        packEvent(
          InterfaceUpdateSchema,
          create(InterfaceUpdateSchema, {
            netns: req.moveToNetns || req.netns,
            name: link.name,
          }),
        ),
      );
      return create(UpdateInterfaceResponseSchema, {
        interface: toMessage(link),
      });
    },
    deleteInterface(req, ctx) {
      const namespace = requireNamespace(ctx);
      links.deleteInterface(netnsPath(namespace, req.netns), req.name);
      events.publish(
        namespace,
        "/interfaces/delete",
        packEvent(
          InterfaceDeleteSchema,
          create(InterfaceDeleteSchema, { netns: req.netns, name: req.name }),
        ),
      );
      return create(EmptySchema);
    },
  };
}
