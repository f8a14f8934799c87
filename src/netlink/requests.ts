/**
 * The rtnetlink change requests berth sends: new, changed and deleted links,
 * addresses and routes. Each sends one message through a
 * {@linkcode RouteSocket} and fails with the kernel's errno meaning.
 *
 * @module
 */
import type { Prefix } from "./ip.ts";
import { unimplemented } from "../types/mod.ts";
import { NetlinkError, type RouteSocket } from "./socket.ts";
import {
  AF,
  IFA,
  ifaddrmsg,
  IFF,
  ifinfomsg,
  IFLA,
  IFLA_INFO,
  IFLA_KIND_DATA_MODE,
  MessageBuilder,
  NLM_F,
  RT_SCOPE,
  RT_TABLE_MAIN,
  RTA,
  RTM,
  rtmsg,
  RTN_UNICAST,
  RTPROT,
  VETH_INFO_PEER,
} from "./_wire.ts";

const EOPNOTSUPP = 95;
const IFLA_IPVLAN_FLAGS = 2;

/** Attributes common to a new link and a changed one. */
export interface LinkAttributes {
  /** `IFLA_IFNAME`. */
  name?: string;
  /** `IFLA_MTU`. */
  mtu?: number;
  /** `IFLA_ADDRESS`. */
  mac?: Uint8Array;
  /** `IFLA_MASTER` (0 releases). */
  masterIndex?: number;
  /** `IFLA_NET_NS_FD`: the namespace to create it in or move it to. */
  netnsFd?: number;
}

function putLinkAttributes(message: MessageBuilder, link: LinkAttributes) {
  if (link.name !== undefined) message.string(IFLA.IFNAME, link.name);
  if (link.mtu !== undefined) message.u32(IFLA.MTU, link.mtu);
  if (link.mac !== undefined) message.attr(IFLA.ADDRESS, link.mac);
  if (link.masterIndex !== undefined) {
    message.u32(IFLA.MASTER, link.masterIndex);
  }
  if (link.netnsFd !== undefined) message.u32(IFLA.NET_NS_FD, link.netnsFd);
}

/** What kind-specific data a new link carries. */
export interface NewLink extends LinkAttributes {
  /** The link kind (`IFLA_INFO_KIND`). */
  kind: string;
  /** `IFLA_LINK`: the parent's index (macvlan, ipvlan, vlan). */
  parentIndex?: number;
  /** veth: the peer's name and namespace. */
  peer?: { name: string; netnsFd?: number };
  /** macvlan (u32) or ipvlan (u16) mode. */
  mode?: { value: number; bits: 16 | 32 };
  /** vlan: the VLAN id. */
  vlanId?: number;
}

/** The `RTM_NEWLINK` request (create-exclusive) that creates `link`. */
export function newLinkMessage(link: NewLink): MessageBuilder {
  const message = new MessageBuilder(
    RTM.NEWLINK,
    NLM_F.CREATE | NLM_F.EXCL,
  ).raw(ifinfomsg());
  putLinkAttributes(message, link);
  if (link.parentIndex !== undefined) message.u32(IFLA.LINK, link.parentIndex);
  message.nest(IFLA.LINKINFO).string(IFLA_INFO.KIND, link.kind);
  if (link.peer) {
    message.nest(IFLA_INFO.DATA).nest(VETH_INFO_PEER).raw(ifinfomsg());
    putLinkAttributes(message, link.peer);
    message.end().end();
  } else if (link.mode) {
    message.nest(IFLA_INFO.DATA);
    if (link.mode.bits === 32) {
      message.u32(IFLA_KIND_DATA_MODE, link.mode.value);
    } else message.u16(IFLA_KIND_DATA_MODE, link.mode.value);
    // IFLA_IPVLAN_FLAGS: 0 (bridge), as ip sends it.
    if (link.kind === "ipvlan") message.u16(IFLA_IPVLAN_FLAGS, 0);
    message.end();
  } else if (link.vlanId !== undefined) {
    message.nest(IFLA_INFO.DATA).u16(IFLA_KIND_DATA_MODE, link.vlanId).end();
  }
  message.end();
  return message;
}

/** Creates a link (`RTM_NEWLINK`, create-exclusive). */
export function newLink(socket: RouteSocket, link: NewLink): void {
  const message = newLinkMessage(link);
  const subject = `create interface ${JSON.stringify(link.name)}`;
  try {
    socket.request(message, subject);
  } catch (error) {
    if (error instanceof NetlinkError && error.errno === EOPNOTSUPP) {
      throw unimplemented(
        `${subject}: this kernel has no ${link.kind} driver (Operation not supported)`,
      );
    }
    throw error;
  }
}

/** Changes link `index` (`RTM_NEWLINK` on an existing link). */
export function setLink(
  socket: RouteSocket,
  index: number,
  name: string,
  link: LinkAttributes & { up?: boolean },
): void {
  const message = new MessageBuilder(RTM.NEWLINK, 0).raw(ifinfomsg({
    index,
    flags: link.up ? IFF.UP : 0,
    change: link.up === undefined ? 0 : IFF.UP,
  }));
  putLinkAttributes(message, link);
  socket.request(message, `change interface ${JSON.stringify(name)}`);
}

/** Deletes link `index` (`RTM_DELLINK`); a veth takes its peer along. */
export function deleteLink(
  socket: RouteSocket,
  index: number,
  name: string,
): void {
  socket.request(
    new MessageBuilder(RTM.DELLINK, 0).raw(ifinfomsg({ index })),
    `delete interface ${JSON.stringify(name)}`,
  );
}

function family(prefix: Prefix): number {
  return prefix.version === 6 ? AF.INET6 : AF.INET;
}

/** Adds (`add` true) or removes an address on link `index`. */
export function changeAddress(
  socket: RouteSocket,
  index: number,
  address: Prefix,
  add: boolean,
  text: string,
): void {
  const message = new MessageBuilder(
    add ? RTM.NEWADDR : RTM.DELADDR,
    add ? NLM_F.CREATE | NLM_F.EXCL : 0,
  ).raw(ifaddrmsg({
    family: family(address),
    prefixLength: address.length,
    index,
  }))
    .attr(IFA.LOCAL, address.bytes)
    .attr(IFA.ADDRESS, address.bytes);
  socket.request(message, `${add ? "add" : "remove"} address ${text}`);
}

/** A route through link `index` in the main table. */
export interface RouteChange {
  /** The destination prefix (length 0: default). */
  destination: Prefix;
  /** The next hop, if any (same family as the destination). */
  gateway?: Uint8Array;
}

/** Adds (`add` true) or removes a main-table route through link `index`. */
export function changeRoute(
  socket: RouteSocket,
  index: number,
  route: RouteChange,
  add: boolean,
  text: string,
): void {
  const message = new MessageBuilder(
    add ? RTM.NEWROUTE : RTM.DELROUTE,
    add ? NLM_F.CREATE | NLM_F.EXCL : 0,
  ).raw(rtmsg({
    family: family(route.destination),
    dstLength: route.destination.length,
    table: RT_TABLE_MAIN,
    protocol: add ? RTPROT.BOOT : 0,
    // A removal matches any scope (RT_SCOPE_NOWHERE is the wildcard).
    scope: !add ? 255 : route.gateway ? RT_SCOPE.UNIVERSE : RT_SCOPE.LINK,
    type: add ? RTN_UNICAST : 0,
  }));
  if (route.destination.length > 0) {
    message.attr(RTA.DST, route.destination.bytes);
  }
  message.u32(RTA.OIF, index);
  if (route.gateway) message.attr(RTA.GATEWAY, route.gateway);
  socket.request(message, `${add ? "add" : "remove"} route ${text}`);
}
