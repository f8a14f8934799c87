/**
 * The gRPC adapters: each file turns one containerd service's messages into
 * calls on components. {@linkcode registerServices} mounts them all.
 *
 * @module
 */
import type { ConnectRouter, ServiceImpl } from "@connectrpc/connect";
import type { DescService } from "@bufbuild/protobuf";
import type { Exchange } from "../events/mod.ts";
import type {
  ContainerStore,
  ImageStore,
  LeaseStore,
  NamespacedContentStore,
  NamespacedSnapshotStore,
  NamespaceStore,
} from "../metadata/mod.ts";
import type { WalkingDiffer } from "../diff/mod.ts";
import { Containers, containersService } from "./containers.ts";
import { Tasks, tasksService } from "./tasks.ts";
import type { TaskManager } from "../runtime/mod.ts";
import { Content, contentService } from "./content.ts";
import { Diff, diffService } from "./diff.ts";
import { Images, imagesService } from "./images.ts";
import { Leases, leasesService } from "./leases.ts";
import { Snapshots, snapshotsService } from "./snapshots.ts";
import { Transfer, transferService } from "./transfer.ts";
import { Events, eventsService } from "./events.ts";
import { Health, healthService } from "./health.ts";
import {
  Introspection,
  introspectionService,
  type PluginInfo,
} from "./introspection.ts";
import { Namespaces, namespacesService } from "./namespaces.ts";
import { Network, networkService } from "./network.ts";
import type { NetnsManager } from "../netns/mod.ts";
import type { AttachmentManager } from "../cni/mod.ts";
import * as netlink from "../netlink/mod.ts";
import { storeTransfers } from "../transfer/mod.ts";
import { Version, type VersionInfo, versionService } from "./version.ts";

export { errorInterceptor, NAMESPACE_HEADER, toConnectError } from "./_rpc.ts";
export { readEventField } from "./_events.ts";
export { encodeAnswer } from "./_kept_answers.ts";
export { jsonAnyInterceptor, jsonRegistry } from "./_json.ts";
export { publishNetworkChange } from "./network.ts";
export { eventsTtrpcHandlers, TtrpcEvents } from "./events.ts";
export type { PluginInfo, VersionInfo };

/** The components the services adapt. */
export interface ServiceDeps {
  /** Reported by Version. */
  version: VersionInfo;
  /** The daemon's persistent UUID. */
  uuid: string;
  /** The daemon's components, for Introspection. */
  plugins: () => readonly PluginInfo[];
  /** Namespace records. */
  namespaces: NamespaceStore;
  /** The event exchange. */
  events: Exchange;
  /** Namespaced content. */
  content: NamespacedContentStore;
  /** Leases. */
  leases: LeaseStore;
  /** Namespaced snapshots. */
  snapshots: NamespacedSnapshotStore;
  /** The differ. */
  differ: WalkingDiffer;
  /** Image records. */
  images: ImageStore;
  /** Container records. */
  containers: ContainerStore;
  /** Running tasks. */
  tasks: TaskManager;
  /** Named network namespaces. */
  netns: NetnsManager;
  /** CNI attachments. */
  attachments: AttachmentManager;
  /** Releases what a deleted container owned (its network). */
  onContainerDeleted?: (namespace: string, id: string) => Promise<void>;
  /** Attaches a container's parked network before its task is made. */
  beforeTaskCreate?: (namespace: string, id: string) => Promise<void>;
  /** Parks a container's network after its task is deleted. */
  afterTaskDelete?: (namespace: string, id: string) => Promise<void>;
  /** Registry defaults for transfers. */
  registry: { hostsDir?: string; maxConcurrentDownloads: number };
  /** Collects garbage now; resolves when done. */
  runGc: () => Promise<void>;
}

/**
 * The introspection plugin id of a gRPC service, as containerd names its
 * grpc plugins: `containerd.services.<id>.v1.X` is `<id>`; gRPC health is
 * `healthcheck`.
 */
export function servicePluginId(service: DescService): string {
  if (service.typeName === "grpc.health.v1.Health") return "healthcheck";
  const parts = service.typeName.split(".");
  return parts[parts.length - 3];
}

/**
 * Mounts every service on `router`; returns their introspection plugin
 * ids (sorted), so that `Introspection.Plugins` lists what is served.
 */
export function registerServices(
  router: ConnectRouter,
  deps: ServiceDeps,
): string[] {
  const ids: string[] = [];
  const serve = <S extends DescService>(
    service: S,
    impl: Partial<ServiceImpl<S>>,
  ) => {
    router.service(service, impl);
    ids.push(servicePluginId(service));
  };
  serve(Version, versionService(deps.version));
  serve(
    Introspection,
    introspectionService({ plugins: deps.plugins, uuid: deps.uuid }),
  );
  serve(
    Namespaces,
    namespacesService({ store: deps.namespaces, events: deps.events }),
  );
  serve(Events, eventsService(deps.events));
  serve(
    Network,
    networkService({
      netns: deps.netns,
      attachments: deps.attachments,
      links: netlink,
      events: deps.events,
    }),
  );
  serve(Health, healthService());
  serve(
    Content,
    contentService({
      store: deps.content,
      events: deps.events,
    }),
  );
  serve(
    Snapshots,
    snapshotsService({
      store: deps.snapshots,
      events: deps.events,
    }),
  );
  serve(
    Diff,
    diffService({ content: deps.content, differ: deps.differ }),
  );
  serve(
    Images,
    imagesService({
      store: deps.images,
      events: deps.events,
      runGc: deps.runGc,
    }),
  );
  serve(
    Containers,
    containersService({
      store: deps.containers,
      events: deps.events,
      onDeleted: deps.onContainerDeleted,
    }),
  );
  serve(
    Transfer,
    transferService({
      transfers: storeTransfers({
        content: deps.content,
        snapshots: deps.snapshots,
        images: deps.images,
        leases: deps.leases,
        differ: deps.differ,
      }),
      hostsDir: deps.registry.hostsDir,
      maxConcurrentDownloads: deps.registry.maxConcurrentDownloads,
    }),
  );
  serve(
    Tasks,
    tasksService({
      tasks: deps.tasks,
      containers: deps.containers,
      snapshots: deps.snapshots,
      beforeCreate: deps.beforeTaskCreate,
      afterDelete: deps.afterTaskDelete,
    }),
  );
  serve(
    Leases,
    leasesService({
      store: deps.leases,
      runGc: deps.runGc,
    }),
  );
  return ids.sort();
}
