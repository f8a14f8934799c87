/**
 * Reading links, addresses and routes of one namespace through a
 * {@linkcode RouteSocket}.
 *
 * @module
 */
import { BerthError, Code, notFound } from "../types/mod.ts";
import { formatIP, formatMac } from "./ip.ts";
import type { RouteSocket } from "./socket.ts";
import type { Address, Interface, Route } from "./types.ts";
import {
  AF,
  attrBytes,
  attrString,
  IFA,
  IFF,
  ifinfomsg,
  IFLA,
  IFLA_INFO,
  IFLA_KIND_DATA_MODE,
  type Message,
  MessageBuilder,
  parseAttributes,
  RT_TABLE_MAIN,
  RTA,
  RTM,
  rtmsg,
} from "./_wire.ts";

const FLAG_NAMES: [number, string][] = [
  [IFF.LOOPBACK, "LOOPBACK"],
  [IFF.BROADCAST, "BROADCAST"],
  [IFF.POINTOPOINT, "POINTOPOINT"],
  [IFF.MULTICAST, "MULTICAST"],
  [IFF.NOARP, "NOARP"],
  [IFF.PROMISC, "PROMISC"],
  [IFF.UP, "UP"],
  [IFF.LOWER_UP, "LOWER_UP"],
];

const OPER_STATES = [
  "UNKNOWN",
  "NOTPRESENT",
  "DOWN",
  "LOWERLAYERDOWN",
  "TESTING",
  "DORMANT",
  "UP",
];

const SCOPES: Record<number, string> = {
  0: "global",
  200: "site",
  253: "link",
  254: "host",
  255: "nowhere",
};

const PROTOCOLS: Record<number, string> = {
  1: "redirect",
  2: "kernel",
  3: "boot",
  4: "static",
  16: "dhcp",
  186: "bgp",
  188: "ospf",
};

/** macvlan modes (`MACVLAN_MODE_*`) by name. */
export const MACVLAN_MODES: Record<string, number> = {
  private: 1,
  vepa: 2,
  bridge: 4,
  passthru: 8,
  source: 16,
};
/** ipvlan modes (`IPVLAN_MODE_*`) by name. */
export const IPVLAN_MODES: Record<string, number> = { l2: 0, l3: 1, l3s: 2 };

function modeName(modes: Record<string, number>, value: number): string {
  return Object.entries(modes).find(([, v]) => v === value)?.[0] ??
    String(value);
}

/** The kind, and the vlan id or mode in its data, of `IFLA_LINKINFO`. */
function parseLinkInfo(linkInfo: DataView | undefined) {
  const info = linkInfo ? parseAttributes(linkInfo) : new Map();
  const kindAttr = info.get(IFLA_INFO.KIND);
  const kind = kindAttr ? attrString(kindAttr) : "";
  const dataAttr = info.get(IFLA_INFO.DATA);
  const value = dataAttr && parseAttributes(dataAttr).get(IFLA_KIND_DATA_MODE);
  const result = { kind, vlanId: 0, mode: "" };
  if (!value) return result;
  if (kind === "vlan") result.vlanId = value.getUint16(0, true);
  if (kind === "macvlan") {
    result.mode = modeName(MACVLAN_MODES, value.getUint32(0, true));
  }
  if (kind === "ipvlan") {
    result.mode = modeName(IPVLAN_MODES, value.getUint16(0, true));
  }
  return result;
}

function familyVersion(family: number): 4 | 6 {
  return family === AF.INET6 ? 6 : 4;
}

/** A link message as an {@linkcode Interface}, without addresses/routes. */
function parseLink(message: Message): Interface {
  const flags = message.body.getUint32(8, true);
  const attributes = parseAttributes(message.body, 16);
  const u32 = (type: number) => attributes.get(type)?.getUint32(0, true) ?? 0;
  const mac = attributes.get(IFLA.ADDRESS);
  return {
    index: message.body.getInt32(4, true),
    name: attributes.has(IFLA.IFNAME)
      ? attrString(attributes.get(IFLA.IFNAME)!)
      : "",
    ...parseLinkInfo(attributes.get(IFLA.LINKINFO)),
    mtu: u32(IFLA.MTU),
    mac: mac ? formatMac(attrBytes(mac)) : "",
    up: (flags & IFF.UP) !== 0,
    flags: FLAG_NAMES.filter(([bit]) => flags & bit).map(([, name]) => name),
    operState: OPER_STATES[attributes.get(IFLA.OPERSTATE)?.getUint8(0) ?? 0] ??
      "UNKNOWN",
    master: String(u32(IFLA.MASTER) || ""),
    parentIndex: u32(IFLA.LINK),
    addresses: [],
    routes: [],
  };
}

function parseAddress(message: Message): [number, Address] {
  const body = message.body;
  const family = body.getUint8(0);
  const attributes = parseAttributes(body, 8);
  // IPv4 keeps the interface's own address in IFA_LOCAL (IFA_ADDRESS is the
  // peer's on point-to-point links).
  const bytes = attributes.get(IFA.LOCAL) ?? attributes.get(IFA.ADDRESS)!;
  return [body.getUint32(4, true), {
    address: `${formatIP(attrBytes(bytes))}/${body.getUint8(1)}`,
    family: familyVersion(family),
    scope: SCOPES[body.getUint8(3)] ?? String(body.getUint8(3)),
  }];
}

function parseRoute(message: Message): [number, Route] | undefined {
  const body = message.body;
  const attributes = parseAttributes(body, 12);
  const table = attributes.get(RTA.TABLE)?.getUint32(0, true) ??
    body.getUint8(4);
  const oif = attributes.get(RTA.OIF);
  if (table !== RT_TABLE_MAIN || !oif) return undefined;
  const family = body.getUint8(0);
  const dstLength = body.getUint8(1);
  const ip = (type: number) => {
    const value = attributes.get(type);
    return value ? formatIP(attrBytes(value)) : "";
  };
  const destination = attributes.has(RTA.DST)
    ? `${ip(RTA.DST)}/${dstLength}`
    : dstLength === 0
    ? "default"
    : "";
  const protocol = body.getUint8(5);
  return [oif.getUint32(0, true), {
    destination,
    gateway: ip(RTA.GATEWAY),
    source: ip(RTA.PREFSRC),
    family: familyVersion(family),
    scope: SCOPES[body.getUint8(6)] ?? String(body.getUint8(6)),
    protocol: PROTOCOLS[protocol] ?? String(protocol),
    metric: attributes.get(RTA.PRIORITY)?.getUint32(0, true) ?? 0,
  }];
}

/** Every interface of the socket's namespace, with addresses and routes. */
export function listInterfaces(socket: RouteSocket): Interface[] {
  const links = socket
    .dump(new MessageBuilder(RTM.GETLINK, 0).raw(ifinfomsg()), "list links")
    .filter((m) => m.type === RTM.NEWLINK)
    .map(parseLink);
  const byIndex = new Map(links.map((link) => [link.index, link]));
  for (const link of links) {
    link.master = byIndex.get(Number(link.master))?.name ?? "";
  }
  const addresses = socket.dump(
    new MessageBuilder(RTM.GETADDR, 0).raw(new Uint8Array(8)),
    "list addresses",
  );
  for (const message of addresses) {
    if (message.type !== RTM.NEWADDR) continue;
    const [index, address] = parseAddress(message);
    byIndex.get(index)?.addresses.push(address);
  }
  const routes = socket.dump(
    new MessageBuilder(RTM.GETROUTE, 0).raw(rtmsg({ family: AF.UNSPEC })),
    "list routes",
  );
  for (const message of routes) {
    if (message.type !== RTM.NEWROUTE) continue;
    const route = parseRoute(message);
    if (route) byIndex.get(route[0])?.routes.push(route[1]);
  }
  return links;
}

/**
 * The index of the interface `name`; NotFound (`interface "x": not found`)
 * when the namespace has none of that name.
 */
export function interfaceIndex(socket: RouteSocket, name: string): number {
  try {
    const answer = socket.get(
      new MessageBuilder(RTM.GETLINK, 0).raw(ifinfomsg()).string(
        IFLA.IFNAME,
        name,
      ),
      `interface ${JSON.stringify(name)}`,
    );
    return answer.body.getInt32(4, true);
  } catch (error) {
    if (BerthError.is(error, Code.NotFound)) {
      throw notFound(`interface ${JSON.stringify(name)}`);
    }
    throw error;
  }
}

/** The interface `name` with its addresses and routes; NotFound if none. */
export function getInterface(socket: RouteSocket, name: string): Interface {
  const index = interfaceIndex(socket, name);
  const found = listInterfaces(socket).find((link) => link.index === index);
  if (!found) throw notFound(`interface ${JSON.stringify(name)}`);
  return found;
}
