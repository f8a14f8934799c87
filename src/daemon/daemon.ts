/**
 * The daemon: wires components and services to the socket from the config.
 *
 * Start-up takes an exclusive lock on the root, so a second daemon on the
 * same root refuses to start instead of corrupting it.
 *
 * @module
 */
import type { ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import * as fs from "node:fs/promises";
import { dirname, join } from "node:path";
import { Exchange } from "../events/mod.ts";
import { log, type Logger } from "../log/mod.ts";
import { LocalContentStore } from "../content/mod.ts";
import {
  type Runtime,
  type ShimCommand,
  type ShimGrouping,
  TaskManager,
} from "../runtime/mod.ts";
import { TtrpcServer } from "../ttrpc/mod.ts";
import { WalkingDiffer } from "../diff/mod.ts";
import { cleanupTempMounts } from "../mount/mod.ts";
import { GcScheduler } from "../gc/mod.ts";
import { AttachmentManager, CniRuntime } from "../cni/mod.ts";
import { NetnsManager } from "../netns/mod.ts";
import {
  AttachmentStore,
  collectGarbage,
  containerGcSource,
  ContainerStore,
  contentGcSource,
  imageGcSource,
  ImageStore,
  LeaseStore,
  MetadataDB,
  NamespacedContentStore,
  NamespacedSnapshotStore,
  NamespaceStore,
  NetnsStore,
  snapshotGcSource,
} from "../metadata/mod.ts";
import {
  NATIVE_PLUGIN_DIR,
  NativeSnapshotter,
  OVERLAY_PLUGIN_DIR,
  OverlaySnapshotter,
  type Snapshotter,
} from "../snapshots/mod.ts";
import { parseDuration } from "../types/mod.ts";
import {
  errorInterceptor,
  eventsTtrpcHandlers,
  jsonAnyInterceptor,
  jsonRegistry,
  type PluginInfo,
  publishNetworkChange,
  readEventField,
  registerServices,
  toConnectError,
  TtrpcEvents,
} from "../services/mod.ts";
import type { H2Stream } from "../h2/mod.ts";
import { acquireLock, type LockFile, LockHeldError } from "../sys/mod.ts";
import { closeOnExecAll } from "../sys/fdio.ts";
import { REVISION, VERSION } from "../version.ts";
import { type Config, DEFAULT_RUNTIME } from "./config.ts";
import { GrpcServer } from "./grpc.ts";
import { listen, type Listener } from "./listener.ts";
import { MemoryHousekeeping } from "./_memory.ts";

/** Where the metadata database lives under the root. */
export const METADATA_DIR = "io.containerd.metadata.v1.sqlite";
/** Where temporary mounts (layer apply, diff) live under the root. */
export const TEMP_MOUNTS_DIR = "tmpmounts";
/** Where blobs and ingests live under the root, as in containerd. */
export const CONTENT_DIR = "io.containerd.content.v1.content";

/** A running daemon. */
export interface Daemon {
  /** The socket it serves. */
  readonly address: string;
  /** Stops serving, closes the database and releases the root. */
  close(): Promise<void>;
}

/**
 * `berth shim` as a command: this binary itself when compiled, else Deno
 * running this program's entry point.
 */
function builtinShim(): ShimCommand {
  // Shims are mostly idle: V8 without its optimizing tiers
  // and with a small young generation saves ~3 MB of each.
  const env = { DENO_V8_FLAGS: "--lite-mode,--max-semi-space-size=1" };
  const program = Deno.execPath();
  if (!/(^|\/)deno$/.test(program)) {
    return { command: program, args: ["shim"], builtin: true, env };
  }
  return {
    command: program,
    args: [
      "run",
      "-A",
      new URL("../../mod.ts", import.meta.url).pathname,
      "shim",
    ],
    builtin: true,
    env,
  };
}

/** The configured runtimes, with the OCI runtime root defaulted. */
function runtimesOf(config: Config): Record<string, Runtime> {
  const runtimes: Record<string, Runtime> = {};
  for (const [name, r] of Object.entries(config.runtimes)) {
    runtimes[name] = {
      shim: r.shim ? { command: r.shim, logFifo: true } : builtinShim(),
      runcBinary: r.runc_binary,
      runcRoot: r.runc_root || join(config.state, "runc"),
      shimGroup: r.shim_group as ShimGrouping,
      shimMaxTasks: r.shim_max_tasks,
      shimLingerMs: parseDuration(r.shim_linger),
    };
  }
  return runtimes;
}

/** The host's architecture as OCI names it. */
function hostArchitecture(): string {
  const arch = Deno.build.arch;
  return arch === "x86_64" ? "amd64" : arch === "aarch64" ? "arm64" : arch;
}

/** Reads the UUID kept under `root`, making one on first start. */
async function serverUUID(root: string): Promise<string> {
  const path = join(root, "uuid");
  try {
    return (await Deno.readTextFile(path)).trim();
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  const uuid = crypto.randomUUID();
  await Deno.writeTextFile(path, uuid, { mode: 0o644 });
  return uuid;
}

function pluginList(root: string, serviceIds: readonly string[]): PluginInfo[] {
  return [
    {
      type: "io.containerd.content.v1",
      id: "content",
      exports: { root: join(root, CONTENT_DIR) },
    },
    {
      type: "io.containerd.differ.v1",
      id: "walking",
      platforms: [{ os: "linux", architecture: hostArchitecture() }],
    },
    { type: "io.containerd.event.v1", id: "exchange" },
    {
      type: "io.containerd.gc.v1",
      id: "scheduler",
      requires: ["io.containerd.metadata.v1"],
    },
    {
      type: "io.containerd.snapshotter.v1",
      id: "native",
      exports: { root: join(root, NATIVE_PLUGIN_DIR) },
    },
    {
      type: "io.containerd.snapshotter.v1",
      id: "overlayfs",
      exports: { root: join(root, OVERLAY_PLUGIN_DIR) },
    },
    {
      type: "io.containerd.metadata.v1",
      id: "sqlite",
      requires: ["io.containerd.content.v1", "io.containerd.snapshotter.v1"],
      exports: { path: join(root, METADATA_DIR, "meta.db") },
    },
    {
      type: "io.containerd.runtime.v2",
      id: "task",
      platforms: [{ os: "linux", architecture: hostArchitecture() }],
      requires: ["io.containerd.event.v1", "io.containerd.metadata.v1"],
    },
    ...serviceIds.map((id) => ({
      type: "io.containerd.grpc.v1",
      id,
      requires: [
          "namespaces",
          "content",
          "leases",
          "snapshots",
          "images",
          "containers",
          "transfer",
        ].includes(id)
        ? ["io.containerd.event.v1", "io.containerd.metadata.v1"]
        : undefined,
    })),
  ];
}

/** How long an owner may stay missing before its network is released. */
const ORPHAN_GRACE_MS = 60_000;

/** The network components and their housekeeping. */
interface NetworkParts {
  netns: NetnsManager;
  attachments: AttachmentManager;
  /**
   * Undoes interrupted attaches and releases what containers that do not
   * exist owned, before serving, then periodically; resolves to the stop
   * function.
   */
  reconcile(logger: Logger): Promise<() => void>;
  /** Detaches a deleted container's attachments, removes its netns. */
  releaseOwner(logger: Logger, namespace: string, id: string): Promise<void>;
}

/** Makes the netns and CNI components. */
function startNetwork(
  { config, db, namespaces, containers, events }: {
    config: Config;
    db: MetadataDB;
    namespaces: NamespaceStore;
    containers: ContainerStore;
    events: Exchange;
  },
): NetworkParts {
  const netnsStore = new NetnsStore(db, namespaces);
  const netns = new NetnsManager({
    store: netnsStore,
    dir: config.network.netns_dir || join(config.state, "netns"),
    etcDir: join(config.state, "netns-etc"),
  });
  const cacheDir = config.network.cni_cache_dir || join(config.root, "cni");
  const attachments = new AttachmentManager({
    store: new AttachmentStore(db, namespaces),
    netns,
    cni: new CniRuntime({
      confDir: config.network.cni_conf_dir,
      binDirs: config.network.cni_bin_dirs,
      cacheDir,
      timeoutMs: parseDuration(config.network.plugin_timeout),
      defaultNetwork: {
        name: config.network.default_network,
        bridge: config.network.default_bridge,
        subnet: config.network.default_subnet,
        ipamDataDir: join(cacheDir, "networks"),
      },
    }),
    defaultNetwork: config.network.default_network,
    onChange: publishNetworkChange(events),
  });
  const exists = (namespace: string, id: string) => {
    try {
      containers.get(namespace, id);
      return true;
    } catch {
      return false;
    }
  };
  return {
    netns,
    attachments,
    async reconcile(logger) {
      const sweep = async (before: Date) => {
        const netns = netnsStore.listAll();
        for (
          const error of await attachments.releaseOrphans(exists, netns, before)
        ) logger.warn("releasing an orphan's network", { error });
      };
      for (const error of await attachments.releaseStale()) {
        logger.warn("releasing a stale attachment", { error });
      }
      await sweep(new Date());
      // A client that dies between making a container's netns and the
      // container leaves an owner that never comes: swept after a grace.
      const timer = setInterval(
        () => sweep(new Date(Date.now() - ORPHAN_GRACE_MS)),
        ORPHAN_GRACE_MS,
      );
      Deno.unrefTimer(timer);
      return () => clearInterval(timer);
    },
    releaseOwner: (logger, namespace, id) =>
      attachments.releaseOwner(namespace, id).catch((error) =>
        logger.warn("releasing a deleted container's network", {
          container: id,
          error,
        })
      ),
  };
}

/** A router that also registers every service on `grpc`. */
function teeRouter(router: ConnectRouter, grpc: GrpcServer): ConnectRouter {
  return {
    ...router,
    service(service, impl, options) {
      grpc.register(service, impl);
      router.service(service, impl, options);
      return this;
    },
  };
}

/**
 * Answers an HTTP/2 request that is not gRPC: the Connect protocol is
 * served over HTTP/1.1 only.
 */
function refuseStream(stream: H2Stream) {
  stream.respond([[":status", "415"], ["content-type", "text/plain"]]);
  stream.write(REFUSAL);
  stream.end();
}

const REFUSAL = new TextEncoder().encode(
  "HTTP/2 serves gRPC only; use HTTP/1.1 for the Connect protocol\n",
);

/** Starts a daemon for `config`; resolves once the socket accepts calls. */
export async function startDaemon(
  config: Config,
  logger: Logger = log,
): Promise<Daemon> {
  await fs.mkdir(config.root, { recursive: true, mode: 0o711 });
  await fs.mkdir(config.state, { recursive: true, mode: 0o711 });
  await fs.mkdir(dirname(config.grpc.address), {
    recursive: true,
    mode: 0o711,
  });

  let lock: LockFile;
  try {
    lock = acquireLock(join(config.root, "berth.lock"));
  } catch (err) {
    if (err instanceof LockHeldError) {
      throw new Error(
        `another berth daemon is running on root ${config.root} (${err.message})`,
      );
    }
    throw err;
  }

  const cleanups: (() => void | Promise<void>)[] = [() => lock.release()];
  const unwind = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  };
  try {
    const uuid = await serverUUID(config.root);
    await fs.mkdir(join(config.root, METADATA_DIR), {
      recursive: true,
      mode: 0o700,
    });
    // Mounts a crash left behind go before anything mounts anew.
    const tempMounts = join(config.root, TEMP_MOUNTS_DIR);
    await fs.mkdir(tempMounts, { recursive: true, mode: 0o700 });
    await cleanupTempMounts(tempMounts);
    const db = MetadataDB.open(join(config.root, METADATA_DIR, "meta.db"));
    cleanups.push(() => db.close());
    const namespaces = new NamespaceStore(db);
    const leases = new LeaseStore(db, namespaces);
    const blobs = new LocalContentStore({
      root: join(config.root, CONTENT_DIR),
    });
    cleanups.push(() => blobs.close());
    const content = new NamespacedContentStore({
      db,
      blobs,
      namespaces,
      leases,
    });
    const snapshotters = new Map<string, Snapshotter>([
      [
        "overlayfs",
        new OverlaySnapshotter({ root: join(config.root, OVERLAY_PLUGIN_DIR) }),
      ],
      [
        "native",
        new NativeSnapshotter({ root: join(config.root, NATIVE_PLUGIN_DIR) }),
      ],
    ]);
    cleanups.push(async () => {
      for (const snapshotter of snapshotters.values()) {
        await snapshotter.close();
      }
    });
    const snapshots = new NamespacedSnapshotStore({
      db,
      snapshotters,
      namespaces,
      leases,
    });
    const gcLog = logger.with({ component: "gc" });
    const gc = new GcScheduler({
      collect: async () => {
        const result = await collectGarbage({
          db,
          sources: [
            contentGcSource(db),
            snapshotGcSource(db),
            imageGcSource(db),
            containerGcSource(db),
          ],
          content,
          snapshots,
        });
        if (result.records.length || result.blobs.length || result.snapshots) {
          gcLog.debug("collected", {
            records: result.records.length,
            blobs: result.blobs.length,
            snapshots: result.snapshots,
          });
        }
      },
      pauseThreshold: config.gc.pause_threshold,
      deletionThreshold: config.gc.deletion_threshold,
      mutationThreshold: config.gc.mutation_threshold,
      scheduleDelayMs: parseDuration(config.gc.schedule_delay),
      startupDelayMs: parseDuration(config.gc.startup_delay),
      onError: (err) => gcLog.error("collection failed", { error: err }),
    });
    cleanups.push(() => gc.close());
    db.onMutation((dirty) => gc.mutated(dirty));
    const differ = new WalkingDiffer({ tempRoot: tempMounts, worker: true });
    cleanups.push(() => differ.close());
    const events = new Exchange({ eventField: readEventField });
    // The grpc plugins are the services registered below.
    let serviceIds: readonly string[] = [];
    const images = new ImageStore(db, namespaces);
    const containers = new ContainerStore(db, namespaces);
    // Shims forward their task events over ttrpc, beside the API socket.
    const ttrpcAddress = `${config.grpc.address}.ttrpc`;
    const ttrpc = new TtrpcServer();
    ttrpc.register(TtrpcEvents.typeName, eventsTtrpcHandlers(events));
    ttrpc.listen(ttrpcAddress, 0o660);
    await fs.chown(ttrpcAddress, config.grpc.uid, config.grpc.gid);
    cleanups.push(async () => {
      await ttrpc.close();
      await fs.rm(ttrpcAddress, { force: true });
    });
    const networkLog = logger.with({ component: "network" });
    const network = startNetwork({
      config,
      db,
      namespaces,
      containers,
      events,
    });
    const tasks = new TaskManager({
      state: config.state,
      runtimes: runtimesOf(config),
      defaultRuntime: config.runtimes[DEFAULT_RUNTIME]
        ? DEFAULT_RUNTIME
        : Object.keys(config.runtimes)[0],
      daemonAddress: config.grpc.address,
      ttrpcAddress,
      events,
    });
    // Tasks outlive the daemon: find the shims that are still running.
    await tasks.reconnect();
    cleanups.push(() => tasks.close());

    const { max_recv_message_size, max_send_message_size } = config.grpc;
    const grpc = new GrpcServer({
      maxRecvMessageSize: max_recv_message_size,
      maxSendMessageSize: max_send_message_size,
      toError: (err) => toConnectError(err, logger),
      onCallEnd: (method, ms) => {
        // Built only for a line that is written: ctr content get alone
        // makes thousands of calls.
        if (!logger.enabled("debug")) return;
        logger.debug("rpc", {
          method: `${method.parent.typeName}/${method.name}`,
          ms: Math.round(ms),
        });
      },
    });
    // gRPC over HTTP/2 takes the direct path; connect-node's adapter
    // answers the Connect protocol over HTTP/1.1 (curl with JSON), from
    // the same service implementations.
    const connect = connectNodeAdapter({
      // Layers are compressed already and the socket is local: compressing
      // responses only burns CPU (gzip of a layer runs at ~50 MB/s).
      acceptCompression: [],
      readMaxBytes: max_recv_message_size,
      writeMaxBytes: max_send_message_size,
      interceptors: [errorInterceptor(logger), jsonAnyInterceptor],
      // Every message berth puts in an Any, for calls in JSON.
      jsonOptions: { registry: jsonRegistry },
      routes: (router) => {
        serviceIds = registerServices(teeRouter(router, grpc), {
          version: { version: VERSION, revision: REVISION },
          uuid,
          plugins: () => pluginList(config.root, serviceIds),
          namespaces,
          events,
          content,
          leases,
          snapshots,
          differ,
          images,
          containers,
          tasks,
          netns: network.netns,
          attachments: network.attachments,
          onContainerDeleted: (namespace, id) =>
            network.releaseOwner(networkLog, namespace, id),
          beforeTaskCreate: (namespace, id) =>
            network.attachments.unpark(namespace, id),
          afterTaskDelete: (namespace, id) =>
            network.attachments.park(namespace, id).catch((error) =>
              networkLog.warn("parking a deleted task's network", {
                container: id,
                error,
              })
            ),
          registry: {
            hostsDir: config.registry.config_path,
            maxConcurrentDownloads: config.registry.max_concurrent_downloads,
          },
          runGc: () => gc.runNow(),
        });
      },
    });
    await gc.started;
    // Before serving: nobody sees an attachment a crash left half-made.
    cleanups.push(await network.reconcile(networkLog));
    const memory = new MemoryHousekeeping({ logger });
    cleanups.push(() => memory.close());
    const listener: Listener = await listen({
      path: config.grpc.address,
      streams: (stream) => {
        memory.touch();
        if (GrpcServer.accepts(stream)) grpc.handle(stream);
        else refuseStream(stream);
      },
      requests: (request, response) => {
        memory.touch();
        connect(request, response);
      },
      uid: config.grpc.uid,
      gid: config.grpc.gid,
    });
    cleanups.push(() => listener.close());
    // First of all (cleanups run last to first): subscriptions end, so the
    // listener's grace goes to calls that do end.
    cleanups.push(() => events.close());
    // Shims and the programs they start must not hold the API socket.
    closeOnExecAll();
    logger.info("serving", { address: config.grpc.address, root: config.root });
  } catch (err) {
    await unwind();
    throw err;
  }

  let closing: Promise<void> | undefined;
  return {
    address: config.grpc.address,
    close: () => closing ??= unwind(),
  };
}
