/**
 * Attachments: a named netns (or a netns path) joined to a CNI network,
 * recorded in metadata before the chain runs so that a crash mid-ADD is
 * undone at the next start. An attachment may name an owning container:
 * when that container is deleted, its attachments are detached and the
 * netns it owns removed ({@linkcode AttachmentManager.releaseOwner}).
 *
 * @module
 */
import * as fs from "node:fs";
import {
  fieldsAdaptor,
  type Filter,
  FilterSyntaxError,
  parseFilters,
} from "../filters/mod.ts";
import type {
  AttachmentRecord,
  AttachmentStore,
  PortMapping,
} from "../metadata/mod.ts";
import {
  hostsFile,
  isNetns,
  type NetnsManager,
  type NetworkNamespace,
} from "../netns/mod.ts";
import {
  alreadyExists,
  BerthError,
  Code,
  failedPrecondition,
  invalidArgument,
  notFound,
  validateIdentifier,
} from "../types/mod.ts";
import { capabilitiesOf, type NetworkConfig } from "./config.ts";
import { PluginError, PluginNotFoundError } from "./exec.ts";
import {
  type CniResult,
  type CniRuntime,
  NetworkNotFoundError,
  type RuntimeArgs,
} from "./runtime.ts";

/** A change the manager made, for events. */
export type NetworkChange =
  | { topic: "/network/attach"; attachment: AttachmentRecord; ips: string[] }
  | { topic: "/network/detach"; attachment: AttachmentRecord }
  | { topic: "/netns/create"; netns: NetworkNamespace }
  | { topic: "/netns/delete"; name: string };

/** What a caller asks to attach. */
export interface AttachInput {
  /** The network; "" for the default. */
  network?: string;
  /** A berth netns name or a path; "" to make one owned by `containerId`. */
  netns?: string;
  /** CNI_IFNAME; default eth0, or the next free ethN. */
  ifname?: string;
  /** The owning container. */
  containerId?: string;
  /** Ports to publish. */
  portMappings?: PortMapping[];
  /** Labels. */
  labels?: Record<string, string>;
  /** CNI_ARGS pairs. */
  args?: Record<string, string>;
}

/** Options for {@linkcode AttachmentManager}. */
export interface AttachmentManagerOptions {
  /** The records. */
  store: AttachmentStore;
  /** Named network namespaces. */
  netns: NetnsManager;
  /** The CNI runtime. */
  cni: CniRuntime;
  /** The network an attach without one joins. */
  defaultNetwork: string;
  /** Told of every change, for events. */
  onChange?: (namespace: string, change: NetworkChange) => void;
}

/** The longest interface name Linux takes (IFNAMSIZ - 1). */
export const MAX_IFNAME_BYTES = 15;

/** Checks an interface name as the kernel does; InvalidArgument if bad. */
export function validateIfname(name: string): void {
  const bytes = new TextEncoder().encode(name).length;
  if (bytes === 0 || bytes > MAX_IFNAME_BYTES) {
    throw invalidArgument(
      `interface name ${
        JSON.stringify(name)
      } must be 1 to ${MAX_IFNAME_BYTES} bytes (it is ${bytes})`,
    );
  }
  if (name === "." || name === ".." || /[/\s:]/.test(name)) {
    throw invalidArgument(
      `interface name ${
        JSON.stringify(name)
      } must not be "." or ".." or hold "/", ":" or spaces`,
    );
  }
}

/** Parsed filters; InvalidArgument when they do not parse. */
function parseFilterList(filters: readonly string[]): Filter {
  try {
    return parseFilters(filters);
  } catch (err) {
    if (!(err instanceof FilterSyntaxError)) throw err;
    throw invalidArgument(`${err.message}: invalid argument`);
  }
}

/** A CNI failure as a gRPC error naming the network. */
function cniError(network: string, err: unknown): Error {
  if (err instanceof BerthError) return err;
  if (err instanceof NetworkNotFoundError) return notFound(err.message);
  if (err instanceof PluginNotFoundError) {
    return failedPrecondition(
      `network ${JSON.stringify(network)}: ${err.message}`,
    );
  }
  if (err instanceof PluginError) {
    return new BerthError(
      Code.Unknown,
      `network ${JSON.stringify(network)}: ${err.message}`,
    );
  }
  return err as Error;
}

/** The addresses (CIDR) a CNI result assigned. */
export function resultIPs(result: CniResult | undefined): string[] {
  return (result?.ips ?? []).map((ip) => ip.address);
}

/** The addresses (CIDR) attachment `a` got. */
export function attachmentIPs(a: AttachmentRecord): string[] {
  return resultIPs(a.result ? JSON.parse(a.result) : undefined);
}

/** Attaches network namespaces to CNI networks. */
export class AttachmentManager {
  readonly #store: AttachmentStore;
  readonly #netns: NetnsManager;
  readonly #cni: CniRuntime;
  readonly #defaultNetwork: string;
  readonly #onChange: (namespace: string, change: NetworkChange) => void;

  /** Creates the manager. */
  constructor(options: AttachmentManagerOptions) {
    this.#store = options.store;
    this.#netns = options.netns;
    this.#cni = options.cni;
    this.#defaultNetwork = options.defaultNetwork;
    this.#onChange = options.onChange ?? (() => {});
  }

  /** The CNI runtime (for listing networks). */
  get cni(): CniRuntime {
    return this.#cni;
  }

  /** The valid networks matching any of `filters` (name, plugins, source). */
  networks(filters: readonly string[] = []): NetworkConfig[] {
    const filter = parseFilterList(filters);
    return this.#cni.networks().networks.filter((n) =>
      filter.match(fieldsAdaptor({
        name: n.name,
        plugins: n.plugins.map((p) => p.type).join(","),
        source: n.source,
        cniVersion: n.cniVersion,
      }))
    );
  }

  /** The attachment `id`, or NotFound. */
  get(namespace: string, id: string): AttachmentRecord {
    return this.#store.get(namespace, id);
  }

  /** The attachments of `namespace` matching any of `filters`. */
  list(namespace: string, filters: readonly string[] = []): AttachmentRecord[] {
    const filter = parseFilterList(filters);
    return this.#store.list(namespace).filter((a) =>
      filter.match(fieldsAdaptor({
        id: a.id,
        network: a.network,
        netns: a.netns || undefined,
        netns_path: a.netnsPath,
        interface: a.ifname,
        container_id: a.containerId || undefined,
        labels: a.labels,
      }))
    );
  }

  /**
   * What the chain gets for attachment `a` of tenant `namespace`. The CNI
   * container id is prefixed with the tenant, as ctr's is: plugins key
   * leases, rules and cache entries by it, and two tenants may both have a
   * container "web".
   */
  #runtimeArgs(namespace: string, a: AttachmentRecord): RuntimeArgs {
    return {
      containerId: `${namespace}-${
        a.containerId || a.netns || a.id.replaceAll("/", "-")
      }`,
      netns: a.netnsPath,
      ifname: a.ifname,
      args: a.args,
      capabilityArgs: a.portMappings.length
        ? {
          portMappings: a.portMappings.map((p) => ({
            hostPort: p.hostPort,
            containerPort: p.containerPort,
            protocol: p.protocol,
            ...(p.hostIP ? { hostIP: p.hostIP } : {}),
          })),
        }
        : undefined,
    };
  }

  /** Checks ports and finds the interface name; then records the attachment. */
  #reserve(
    namespace: string,
    input: AttachInput,
    network: string,
    netnsName: string,
    netnsPath: string,
    capabilities: string[],
  ): AttachmentRecord {
    const ports = (input.portMappings ?? []).map((p) => ({
      hostPort: p.hostPort,
      containerPort: p.containerPort,
      protocol: (p.protocol || "tcp").toLowerCase(),
      hostIP: p.hostIP ?? "",
    }));
    for (const p of ports) {
      if (
        !Number.isInteger(p.hostPort) || p.hostPort < 1 || p.hostPort > 65535 ||
        !Number.isInteger(p.containerPort) || p.containerPort < 1 ||
        p.containerPort > 65535
      ) {
        throw invalidArgument(
          `port mapping ${p.hostPort}:${p.containerPort}: ports must be 1 to 65535`,
        );
      }
      if (p.protocol !== "tcp" && p.protocol !== "udp") {
        throw invalidArgument(
          `port mapping ${p.hostPort}:${p.containerPort}/${p.protocol}: protocol must be tcp or udp`,
        );
      }
    }
    if (ports.length && !capabilities.includes("portMappings")) {
      throw invalidArgument(
        `network ${
          JSON.stringify(network)
        } cannot publish ports: no plugin of its chain declares the portMappings capability`,
      );
    }
    const everyone = this.#store.listAll();
    for (const p of ports) {
      const holder = everyone.find((a) =>
        a.portMappings.some((q) =>
          q.hostPort === p.hostPort && q.protocol === p.protocol &&
          (!q.hostIP || !p.hostIP || q.hostIP === p.hostIP)
        )
      );
      if (holder) {
        throw alreadyExists(
          `host port ${p.hostPort}/${p.protocol} is already published by attachment ${
            JSON.stringify(holder.id)
          } in namespace ${JSON.stringify(holder.namespace)}`,
        );
      }
    }
    const inNetns = everyone.filter((a) => a.netnsPath === netnsPath);
    let ifname = input.ifname;
    if (ifname) {
      validateIfname(ifname);
    } else {
      let n = 0;
      while (inNetns.some((a) => a.ifname === `eth${n}`)) n++;
      ifname = `eth${n}`;
    }
    const taken = inNetns.find((a) => a.ifname === ifname);
    if (taken) {
      throw alreadyExists(
        `interface ${
          JSON.stringify(ifname)
        } of ${netnsPath} is already attached (${taken.id})`,
      );
    }
    const id = `${network}/${
      netnsName || input.containerId || netnsPath.replaceAll("/", "_")
    }/${ifname}`;
    return this.#store.create(namespace, {
      id,
      network,
      netns: netnsName,
      netnsPath,
      ifname,
      containerId: input.containerId ?? "",
      portMappings: ports,
      labels: input.labels ?? {},
      args: input.args ?? {},
    });
  }

  /**
   * Attaches: resolves the network and netns (making one owned by the
   * container when none is named), records the attachment, runs the chain.
   * On failure nothing remains: no record, cache entry, veth, lease, rule
   * or netns made here.
   */
  async attach(
    namespace: string,
    input: AttachInput,
  ): Promise<AttachmentRecord> {
    const networkName = input.network || this.#defaultNetwork;
    if (input.containerId) validateIdentifier(input.containerId);
    if (input.ifname) validateIfname(input.ifname);
    for (const [key, value] of Object.entries(input.args ?? {})) {
      if (!/^[A-Za-z0-9_.-]+$/.test(key) || value.includes(";")) {
        throw invalidArgument(
          `CNI argument ${
            JSON.stringify(`${key}=${value}`)
          }: keys are letters, digits, "_", "." or "-", values hold no ";"`,
        );
      }
    }
    let network;
    try {
      network = this.#cni.network(networkName);
      await this.#cni.preflight(network);
    } catch (err) {
      throw cniError(networkName, err);
    }
    let netnsName = "";
    let netnsPath: string;
    let madeNetns = false;
    if (!input.netns) {
      if (!input.containerId) {
        throw invalidArgument("attach needs a netns or an owning container");
      }
      netnsName = input.containerId;
      try {
        netnsPath = this.#netns.get(namespace, netnsName).path;
      } catch (err) {
        if (!(err instanceof BerthError) || err.code !== Code.NotFound) {
          throw err;
        }
        const made = this.#netns.create(namespace, {
          name: netnsName,
          owner: input.containerId,
        });
        netnsPath = made.path;
        madeNetns = true;
        this.#onChange(namespace, { topic: "/netns/create", netns: made });
      }
    } else if (input.netns.includes("/")) {
      netnsPath = input.netns;
      if (!fs.existsSync(netnsPath)) {
        throw notFound(`netns path ${JSON.stringify(netnsPath)}`);
      }
    } else {
      netnsName = input.netns;
      const ns = this.#netns.get(namespace, netnsName);
      if (ns.status !== "ready") {
        throw failedPrecondition(
          `network namespace ${
            JSON.stringify(netnsName)
          } is missing its file ${ns.path}`,
        );
      }
      netnsPath = ns.path;
    }
    let record: AttachmentRecord;
    try {
      // Synchronous: the checks and the record happen with no other
      // attach in between.
      record = this.#reserve(
        namespace,
        input,
        networkName,
        netnsName,
        netnsPath,
        capabilitiesOf(network),
      );
    } catch (err) {
      if (madeNetns) this.#removeNetns(namespace, netnsName);
      throw err;
    }
    let result: CniResult;
    try {
      result = await this.#cni.add(
        network,
        this.#runtimeArgs(namespace, record),
      );
    } catch (err) {
      this.#store.delete(namespace, record.id);
      if (madeNetns) this.#removeNetns(namespace, netnsName);
      throw cniError(networkName, err);
    }
    const done = this.#store.complete(
      namespace,
      record.id,
      JSON.stringify(result),
    );
    const ips = resultIPs(result);
    if (netnsName) this.#writeHosts(namespace, netnsName, ips);
    this.#onChange(namespace, {
      topic: "/network/attach",
      attachment: done,
      ips,
    });
    return done;
  }

  /** Removes a netns regardless of users, and says so. */
  #removeNetns(namespace: string, name: string): void {
    this.#netns.delete(namespace, name, { force: true });
    this.#onChange(namespace, { topic: "/netns/delete", name });
  }

  /** Puts the netns's addresses into its hosts file under its name. */
  #writeHosts(namespace: string, netnsName: string, ips: string[]): void {
    try {
      const ns = this.#netns.get(namespace, netnsName);
      const all = this.#store.list(namespace).filter((a) =>
        a.netns === netnsName
      )
        .flatMap(attachmentIPs);
      fs.writeFileSync(
        ns.hostsPath,
        hostsFile(
          ns.owner || ns.name,
          [...new Set([...all, ...ips])].map((ip) => ip.split("/")[0]),
        ),
      );
    } catch {
      // The netns went away meanwhile: nothing to name.
    }
  }

  /** Runs CNI CHECK for attachment `id`. */
  async check(namespace: string, id: string): Promise<void> {
    const a = this.#store.get(namespace, id);
    if (a.parked) {
      throw failedPrecondition(
        `attachment ${
          JSON.stringify(id)
        } is parked until its container's next task`,
      );
    }
    try {
      await this.#cni.check(a.network, this.#runtimeArgs(namespace, a));
    } catch (err) {
      throw cniError(a.network, err);
    }
  }

  /** Runs CNI DEL for attachment `id` (unless parked) and forgets it. */
  async detach(namespace: string, id: string): Promise<void> {
    const a = this.#store.get(namespace, id);
    if (a.parked) {
      this.#store.delete(namespace, id);
      return;
    }
    try {
      await this.#cni.del(a.network, this.#runtimeArgs(namespace, a));
    } catch (err) {
      throw cniError(a.network, err);
    }
    this.#store.delete(namespace, id);
    this.#onChange(namespace, { topic: "/network/detach", attachment: a });
  }

  /**
   * Container `containerId`'s task was deleted: its attachments are DELeted
   * (leases, rules and veths go) but kept, parked, for its next task.
   * Failures are reported after trying every attachment.
   */
  async park(namespace: string, containerId: string): Promise<void> {
    const attached = this.#store.list(namespace).filter((a) =>
      a.containerId === containerId && !a.parked && a.result
    );
    const errors = await this.#parkAll(namespace, attached);
    if (errors.length) throw new Error(errors.join("; "));
  }

  /** DELs and parks each of `attachments`; returns what failed. */
  async #parkAll(
    namespace: string,
    attachments: readonly AttachmentRecord[],
  ): Promise<string[]> {
    const errors: string[] = [];
    for (const a of attachments) {
      try {
        await this.#cni.del(a.network, this.#runtimeArgs(namespace, a));
        this.#store.park(namespace, a.id);
        this.#onChange(namespace, { topic: "/network/detach", attachment: a });
      } catch (err) {
        errors.push((err as Error).message);
      }
    }
    return errors;
  }

  /**
   * Container `containerId` gets a task: its parked attachments are added
   * again. If one fails, those added by this call are parked again.
   */
  async unpark(namespace: string, containerId: string): Promise<void> {
    const parked = this.#store.list(namespace).filter((a) =>
      a.containerId === containerId && a.parked
    );
    const attached: AttachmentRecord[] = [];
    try {
      for (const a of parked) {
        let result: CniResult;
        try {
          const network = this.#cni.network(a.network);
          result = await this.#cni.add(
            network,
            this.#runtimeArgs(namespace, a),
          );
        } catch (err) {
          throw cniError(a.network, err);
        }
        const done = this.#store.complete(
          namespace,
          a.id,
          JSON.stringify(result),
        );
        attached.push(done);
        const ips = resultIPs(result);
        if (a.netns) this.#writeHosts(namespace, a.netns, ips);
        this.#onChange(namespace, {
          topic: "/network/attach",
          attachment: done,
          ips,
        });
      }
    } catch (err) {
      await this.#parkAll(namespace, attached);
      throw err;
    }
  }

  /**
   * Deletes netns `name`: FailedPrecondition while processes are inside or
   * attachments use it, unless forced (then they are detached first).
   */
  async deleteNetns(
    namespace: string,
    name: string,
    force = false,
  ): Promise<void> {
    const ns = this.#netns.get(namespace, name);
    const attached = this.#store.list(namespace).filter((a) =>
      a.netnsPath === ns.path
    );
    if (!force) {
      const pids = this.#netns.users(namespace, name);
      if (pids.length || attached.length) {
        throw failedPrecondition(
          `network namespace ${JSON.stringify(name)} is in use${
            pids.length ? ` by processes ${pids.slice(0, 5).join(", ")}` : ""
          }${
            attached.length
              ? ` by attachments ${attached.map((a) => a.id).join(", ")}`
              : ""
          } (stop them, detach, or force)`,
        );
      }
    }
    for (const a of attached) await this.detach(namespace, a.id);
    this.#removeNetns(namespace, name);
  }

  /**
   * The owner `containerId` is gone: detaches its attachments and removes
   * the netns it owns. Failures are reported after trying everything.
   */
  async releaseOwner(namespace: string, containerId: string): Promise<void> {
    const errors: string[] = [];
    for (const a of this.#store.list(namespace)) {
      if (a.containerId !== containerId) continue;
      await this.detach(namespace, a.id).catch((err) =>
        errors.push((err as Error).message)
      );
    }
    for (const ns of this.#netns.list(namespace)) {
      if (ns.owner !== containerId) continue;
      try {
        this.#removeNetns(namespace, ns.name);
      } catch (err) {
        errors.push((err as Error).message);
      }
    }
    if (errors.length) throw new Error(errors.join("; "));
  }

  /**
   * At start: undoes the ADDs a crash interrupted (records without a
   * result), and the attachments whose netns is gone (a reboot empties
   * the netns dir but not the leases). Returns what failed.
   */
  async releaseStale(): Promise<string[]> {
    const errors: string[] = [];
    for (const a of this.#store.listAll()) {
      if (a.parked || (a.result !== undefined && isNetns(a.netnsPath))) {
        continue;
      }
      try {
        await this.#cni.del(a.network, this.#runtimeArgs(a.namespace, a));
        this.#store.delete(a.namespace, a.id);
      } catch (err) {
        errors.push(`${a.id}: ${(err as Error).message}`);
      }
    }
    return errors;
  }

  /**
   * Releases what belongs to containers that do not exist (`exists`
   * answers per tenant): deleted while the daemon was down, or never made
   * because their client died between making the netns and the container.
   * Owners with anything made after `before` are left alone (a client may
   * be about to create the container). Returns what failed.
   */
  async releaseOrphans(
    exists: (namespace: string, containerId: string) => boolean,
    netns: { namespace: string; owner: string; createdAt: Date }[],
    before: Date,
  ): Promise<string[]> {
    const owned = [
      ...this.#store.listAll().filter((a) => a.result !== undefined || a.parked)
        .map((
          a,
        ) => ({
          namespace: a.namespace,
          owner: a.containerId,
          at: a.createdAt,
        })),
      ...netns.map((n) => ({ ...n, at: n.createdAt })),
    ].filter((o) => o.owner);
    const young = new Set(
      owned.filter((o) => o.at > before).map((o) =>
        `${o.namespace}\0${o.owner}`
      ),
    );
    const errors: string[] = [];
    for (const key of new Set(owned.map((o) => `${o.namespace}\0${o.owner}`))) {
      const [namespace, containerId] = key.split("\0");
      if (young.has(key) || exists(namespace, containerId)) continue;
      await this.releaseOwner(namespace, containerId).catch((err) =>
        errors.push((err as Error).message)
      );
    }
    return errors;
  }
}
