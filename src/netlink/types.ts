/**
 * The plain records the netlink client reads and the options it takes.
 *
 * A network namespace is named by the path of its file (a netns bind mount
 * or `/proc/PID/ns/net`); `undefined` means the caller's own namespace (for
 * the daemon: the host's).
 *
 * @module
 */

/** The kinds of interface berth creates. */
export const INTERFACE_KINDS = [
  "veth",
  "bridge",
  "dummy",
  "macvlan",
  "ipvlan",
  "vlan",
] as const;

/** One of {@linkcode INTERFACE_KINDS}. */
export type InterfaceKind = typeof INTERFACE_KINDS[number];

/** An address on an interface. */
export interface Address {
  /** `ADDRESS/LENGTH`, e.g. `10.0.0.1/24` or `fd00::1/64`. */
  address: string;
  /** 4 or 6. */
  family: 4 | 6;
  /** `global`, `link`, `host`, … as `ip` names it. */
  scope: string;
}

/** A route of the main table whose output device is the interface. */
export interface Route {
  /** `ADDRESS/LENGTH`, or `default`. */
  destination: string;
  /** The next hop, or "" for a directly connected route. */
  gateway: string;
  /** The preferred source address, or "". */
  source: string;
  /** 4 or 6. */
  family: 4 | 6;
  /** `global`, `link`, `host`, … */
  scope: string;
  /** `kernel`, `boot`, `static`, … or the protocol number. */
  protocol: string;
  /** The route's priority (metric). */
  metric: number;
}

/** A network interface (link) with its addresses and routes. */
export interface Interface {
  /** The interface index in its namespace. */
  index: number;
  /** The interface name. */
  name: string;
  /** The link kind (`veth`, `bridge`, …), "" when the kernel reports none. */
  kind: string;
  /** The MTU. */
  mtu: number;
  /** The hardware address, `aa:bb:…`, or "". */
  mac: string;
  /** Administratively up (`IFF_UP`). */
  up: boolean;
  /** Flags as `ip link` prints them (`BROADCAST`, `UP`, `LOWER_UP`, …). */
  flags: string[];
  /** The operational state (`UP`, `DOWN`, `UNKNOWN`, …). */
  operState: string;
  /** The name of the master device (a bridge), or "". */
  master: string;
  /**
   * The index of the link this one sits on (the vlan/macvlan parent, the
   * veth peer), 0 when none. It may be in another namespace.
   */
  parentIndex: number;
  /** vlan: the VLAN id; 0 for other kinds. */
  vlanId: number;
  /** macvlan/ipvlan: the mode (`bridge`, `l2`, …); "" for other kinds. */
  mode: string;
  /** The addresses. */
  addresses: Address[];
  /** The main-table routes through this interface. */
  routes: Route[];
}

/** A route to add or remove. */
export interface RouteSpec {
  /** `ADDRESS/LENGTH` or `default` (IPv4); `::/0` for an IPv6 default. */
  destination: string;
  /** The next hop; none for a directly connected route. */
  gateway?: string;
}

/** What {@linkcode createInterface} creates. */
export interface CreateInterfaceOptions {
  /** The new interface's name (at most 15 bytes). */
  name: string;
  /** Its kind. */
  kind: InterfaceKind;
  /** veth: the peer's name (default: `veth` and 8 random hex digits). */
  peer?: string;
  /**
   * veth: the netns path the peer goes to (default: the interface's own).
   * `null` means the caller's own namespace.
   */
  peerNetns?: string | null;
  /** macvlan, ipvlan, vlan: the parent interface (required). */
  parent?: string;
  /**
   * The netns path the parent is in (default: the interface's own); `null`
   * means the caller's own namespace.
   */
  parentNetns?: string | null;
  /** vlan: the VLAN id, 1–4094 (required). */
  vlanId?: number;
  /**
   * macvlan: `bridge` (default), `private`, `vepa`, `passthru`;
   * ipvlan: `l2` (default), `l3`, `l3s`.
   */
  mode?: string;
  /** The MTU to create it with. */
  mtu?: number;
  /** The hardware address to create it with. */
  mac?: string;
}

/** What {@linkcode updateInterface} changes; unset fields stay as they are. */
export interface UpdateInterfaceOptions {
  /** Bring the interface up (true) or down (false). */
  up?: boolean;
  /** A new MTU. */
  mtu?: number;
  /** A new hardware address. */
  mac?: string;
  /** A new name (the interface must be down, as the kernel requires). */
  rename?: string;
  /** The bridge to enslave it to, or "" to release it from its master. */
  master?: string;
  /**
   * Move it to this netns path (`null`: the caller's own namespace). The
   * other changes are then made in the new namespace.
   */
  moveTo?: string | null;
  /** Addresses to add, `ADDRESS/LENGTH`. */
  addAddresses?: string[];
  /** Addresses to remove, `ADDRESS/LENGTH`. */
  delAddresses?: string[];
  /** Routes to add through the interface. */
  addRoutes?: RouteSpec[];
  /** Routes to remove from the interface. */
  delRoutes?: RouteSpec[];
}
