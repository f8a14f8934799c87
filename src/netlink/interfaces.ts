/**
 * Interfaces of a network namespace: list, create, update, delete.
 *
 * Every function takes the namespace as the path of its file (`undefined`:
 * the caller's own) and opens a {@linkcode RouteSocket} there for the call
 * (see `socket.ts` for how the namespace is entered without leaking).
 * Input is checked in full before the first change, so bad input changes
 * nothing; a kernel refusal midway is reported with its errno meaning.
 *
 * @module
 */
import {
  alreadyExists,
  failedPrecondition,
  invalidArgument,
  notFound,
} from "../types/mod.ts";
import { closeFd, THREAD_NETNS } from "../sys/mod.ts";
import {
  formatPrefix,
  parseIP,
  parseMac,
  parsePrefix,
  type Prefix,
} from "./ip.ts";
import {
  getInterface,
  interfaceIndex,
  IPVLAN_MODES,
  listInterfaces,
  MACVLAN_MODES,
} from "./list.ts";
import {
  changeAddress,
  changeRoute,
  deleteLink,
  type NewLink,
  newLink,
  type RouteChange,
  setLink,
} from "./requests.ts";
import { openNetnsFile, RouteSocket } from "./socket.ts";
import {
  type CreateInterfaceOptions,
  type Interface,
  INTERFACE_KINDS,
  type RouteSpec,
  type UpdateInterfaceOptions,
} from "./types.ts";

/** The longest interface name the kernel takes (`IFNAMSIZ` - 1), in bytes. */
export const MAX_INTERFACE_NAME_BYTES = 15;

/**
 * Checks an interface name as the kernel would (`dev_valid_name`): 1 to 15
 * bytes, not `.` or `..`, no `/`, `:` or white space. Throws
 * InvalidArgument.
 */
export function validateInterfaceName(name: string, what = "interface"): void {
  const bytes = new TextEncoder().encode(name).byteLength;
  const problem = bytes === 0
    ? "is empty"
    : bytes > MAX_INTERFACE_NAME_BYTES
    ? `is ${bytes} bytes long (at most ${MAX_INTERFACE_NAME_BYTES})`
    : name === "." || name === ".."
    ? "is not a name"
    : /[/:\s\0]/.test(name)
    ? "contains '/', ':', NUL or white space"
    : "";
  if (problem) {
    throw invalidArgument(`${what} name ${JSON.stringify(name)} ${problem}`);
  }
}

function validateMtu(mtu: number | undefined): void {
  if (
    mtu !== undefined && !(Number.isInteger(mtu) && mtu > 0 && mtu < 2 ** 31)
  ) {
    throw invalidArgument(`MTU ${mtu}`);
  }
}

/** Every interface of the namespace at `netns`, with addresses and routes. */
export function listNetnsInterfaces(netns: string | undefined): Interface[] {
  using socket = RouteSocket.open(netns);
  return listInterfaces(socket);
}

/** The interface `name` in `netns`; NotFound when there is none. */
export function getNetnsInterface(
  netns: string | undefined,
  name: string,
): Interface {
  using socket = RouteSocket.open(netns);
  return getInterface(socket, name);
}

/** Runs `fn` with the descriptor of a namespace path (null: own), if any. */
function withNetnsFd<T>(
  path: string | null | undefined,
  fn: (fd: number | undefined) => T,
): T {
  if (path === undefined) return fn(undefined);
  const fd = openNetnsFile(path ?? THREAD_NETNS);
  try {
    return fn(fd);
  } finally {
    closeFd(fd);
  }
}

/** The kind-specific part of the request that creates `options`. */
export function linkKindData(
  options: CreateInterfaceOptions,
): Partial<NewLink> {
  const { kind, mode } = options;
  const table = kind === "macvlan"
    ? MACVLAN_MODES
    : kind === "ipvlan"
    ? IPVLAN_MODES
    : undefined;
  if (!table) {
    if (mode !== undefined) {
      throw invalidArgument(`mode ${JSON.stringify(mode)} for a ${kind}`);
    }
  } else {
    const chosen = mode ?? (kind === "macvlan" ? "bridge" : "l2");
    if (!(chosen in table)) {
      throw invalidArgument(
        `${kind} mode ${JSON.stringify(chosen)} (one of ${
          Object.keys(table).join(", ")
        })`,
      );
    }
    return {
      mode: { value: table[chosen], bits: kind === "macvlan" ? 32 : 16 },
    };
  }
  if (kind === "vlan") {
    const id = options.vlanId;
    if (id === undefined || !Number.isInteger(id) || id < 1 || id > 4094) {
      throw invalidArgument(`vlan id ${id ?? "(none)"}: 1 to 4094 required`);
    }
    return { vlanId: id };
  }
  return {};
}

/**
 * Creates an interface in `netns` and returns it. A veth's peer goes to
 * `peerNetns`; a macvlan, ipvlan or vlan is made on `parent` (found in
 * `parentNetns`) and placed in `netns`.
 */
export function createInterface(
  netns: string | undefined,
  options: CreateInterfaceOptions,
): Interface {
  const { name, kind } = options;
  validateInterfaceName(name);
  if (!INTERFACE_KINDS.includes(kind)) {
    throw invalidArgument(
      `interface kind ${JSON.stringify(kind)} (one of ${
        INTERFACE_KINDS.join(", ")
      })`,
    );
  }
  validateMtu(options.mtu);
  const mac = options.mac === undefined ? undefined : parseMac(options.mac);
  const onParent = kind === "macvlan" || kind === "ipvlan" || kind === "vlan";
  const peer = kind === "veth"
    ? options.peer ?? `veth${crypto.randomUUID().slice(0, 8)}`
    : undefined;
  if (peer !== undefined) {
    validateInterfaceName(peer, "peer");
    if (peer === name && options.peerNetns === undefined) {
      throw invalidArgument(`veth peer ${JSON.stringify(name)}: same name`);
    }
  } else if (options.peer !== undefined || options.peerNetns !== undefined) {
    throw invalidArgument(`a ${kind} has no peer`);
  }
  if (onParent) {
    if (options.parent === undefined) {
      throw invalidArgument(`a ${kind} needs a parent interface`);
    }
    validateInterfaceName(options.parent, "parent");
  } else if (
    options.parent !== undefined || options.parentNetns !== undefined
  ) {
    throw invalidArgument(`a ${kind} has no parent interface`);
  }
  const data = linkKindData(options);

  // A device on a parent is created where the parent is, then placed.
  const parentNetns = onParent && options.parentNetns !== undefined
    ? options.parentNetns ?? undefined
    : netns;
  const moved = parentNetns !== netns;
  withNetnsFd(
    moved ? netns ?? null : undefined,
    (netnsFd) =>
      withNetnsFd(options.peerNetns, (peerNetnsFd) => {
        using socket = RouteSocket.open(parentNetns);
        newLink(socket, {
          ...data,
          kind,
          name,
          mtu: options.mtu,
          mac,
          netnsFd,
          parentIndex: onParent
            ? interfaceIndex(socket, options.parent!)
            : undefined,
          peer: peer === undefined
            ? undefined
            : { name: peer, netnsFd: peerNetnsFd },
        });
      }),
  );
  return getNetnsInterface(netns, name);
}

function parseRoute(spec: RouteSpec): [RouteChange, string] {
  const gateway = spec.gateway === undefined || spec.gateway === ""
    ? undefined
    : parseIP(spec.gateway);
  if (spec.gateway && !gateway) {
    throw invalidArgument(`gateway ${JSON.stringify(spec.gateway)}`);
  }
  let destination = parsePrefix(spec.destination, "route destination", {
    allowDefault: true,
  });
  if (spec.destination === "default" && gateway?.byteLength === 16) {
    destination = { version: 6, bytes: new Uint8Array(16), length: 0 };
  }
  if (gateway && gateway.byteLength !== destination.bytes.byteLength) {
    throw invalidArgument(
      `route ${spec.destination} via ${spec.gateway}: mixed IPv4 and IPv6`,
    );
  }
  const text = spec.gateway
    ? `${spec.destination} via ${spec.gateway}`
    : spec.destination;
  return [{ destination, gateway }, text];
}

/**
 * Changes the interface `name` in `netns` and returns it as it then is (in
 * its new namespace, under its new name). Order: move, then name, MTU,
 * MAC and master, addresses removed then added, up or down, routes removed
 * then added (a down link is taken down before its changes, an up one
 * brought up before its routes).
 */
export function updateInterface(
  netns: string | undefined,
  name: string,
  options: UpdateInterfaceOptions,
): Interface {
  validateInterfaceName(name);
  if (options.rename !== undefined) validateInterfaceName(options.rename);
  if (options.master) validateInterfaceName(options.master, "master");
  validateMtu(options.mtu);
  const mac = options.mac === undefined ? undefined : parseMac(options.mac);
  const addresses = (list: string[] | undefined) =>
    (list ?? []).map((text): [Prefix, string] => [
      parsePrefix(text, "address"),
      text,
    ]);
  const addAddresses = addresses(options.addAddresses);
  const delAddresses = addresses(options.delAddresses);
  const addRoutes = (options.addRoutes ?? []).map(parseRoute);
  const delRoutes = (options.delRoutes ?? []).map(parseRoute);

  const where = options.moveTo === undefined
    ? netns
    : options.moveTo ?? undefined;
  const current = getNetnsInterface(netns, name);
  const quoted = JSON.stringify(name);
  // What the kernel would only refuse halfway through is checked first.
  const moving = options.moveTo !== undefined;
  if (moving && (delAddresses.length > 0 || delRoutes.length > 0)) {
    throw invalidArgument(
      `interface ${quoted}: a moved link keeps no addresses or routes to remove`,
    );
  }
  const has = (address: Prefix) =>
    current.addresses.some((a) => a.address === formatPrefix(address));
  for (const [address, text] of delAddresses) {
    if (!has(address)) throw notFound(`address ${text} on interface ${quoted}`);
  }
  for (const [address, text] of addAddresses) {
    if (!moving && has(address)) {
      throw alreadyExists(`address ${text} on interface ${quoted}`);
    }
  }
  if (options.rename !== undefined && current.up && options.up !== false) {
    throw failedPrecondition(
      `rename interface ${quoted}: it is up (set it down first)`,
    );
  }
  const names = new Set(listNetnsInterfaces(where).map((link) => link.name));
  const rename = options.rename;
  if (rename !== undefined && rename !== name && names.has(rename)) {
    throw alreadyExists(`interface ${JSON.stringify(rename)}`);
  }
  if (moving && names.has(name)) {
    throw alreadyExists(`interface ${quoted} in the target netns`);
  }
  if (options.master && !names.has(options.master)) {
    throw notFound(`interface ${JSON.stringify(options.master)}`);
  }

  if (options.moveTo !== undefined) {
    withNetnsFd(options.moveTo, (netnsFd) => {
      using socket = RouteSocket.open(netns);
      setLink(socket, current.index, name, { netnsFd });
    });
  }
  using socket = RouteSocket.open(where);
  let index = interfaceIndex(socket, name);
  const masterIndex = options.master === undefined
    ? undefined
    : options.master === ""
    ? 0
    : interfaceIndex(socket, options.master);
  if (options.up === false) setLink(socket, index, name, { up: false });
  if (
    options.rename !== undefined || options.mtu !== undefined ||
    mac !== undefined || masterIndex !== undefined
  ) {
    setLink(socket, index, name, {
      name: options.rename,
      mtu: options.mtu,
      mac,
      masterIndex,
    });
  }
  const finalName = options.rename ?? name;
  index = interfaceIndex(socket, finalName);
  for (const [address, text] of delAddresses) {
    changeAddress(socket, index, address, false, text);
  }
  for (const [address, text] of addAddresses) {
    changeAddress(socket, index, address, true, text);
  }
  if (options.up === true) setLink(socket, index, finalName, { up: true });
  for (const [route, text] of delRoutes) {
    changeRoute(socket, index, route, false, text);
  }
  for (const [route, text] of addRoutes) {
    changeRoute(socket, index, route, true, text);
  }
  return getInterface(socket, finalName);
}

/** Deletes the interface `name` in `netns` (a veth's peer goes with it). */
export function deleteInterface(netns: string | undefined, name: string): void {
  validateInterfaceName(name);
  using socket = RouteSocket.open(netns);
  deleteLink(socket, interfaceIndex(socket, name), name);
}
