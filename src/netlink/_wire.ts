/**
 * rtnetlink's wire format: message headers, the fixed family headers
 * (`ifinfomsg`, `ifaddrmsg`, `rtmsg`) and type-length-value attributes, all
 * in host byte order (little-endian here) and aligned to 4 bytes.
 *
 * @module
 */

/** Message types and flags of `linux/netlink.h` and `linux/rtnetlink.h`. */
export const NLMSG = { NOOP: 1, ERROR: 2, DONE: 3 } as const;
/** `nlmsghdr.nlmsg_flags`. */
export const NLM_F = {
  REQUEST: 0x1,
  MULTI: 0x2,
  ACK: 0x4,
  DUMP_INTR: 0x10,
  DUMP: 0x300,
  REPLACE: 0x100,
  EXCL: 0x200,
  CREATE: 0x400,
  /** In an ack: the kernel appended TLVs (`NLMSGERR_ATTR_*`). */
  ACK_TLVS: 0x200,
  /** In an ack: the request was not echoed back. */
  CAPPED: 0x100,
} as const;
/** rtnetlink message types. */
export const RTM = {
  NEWLINK: 16,
  DELLINK: 17,
  GETLINK: 18,
  NEWADDR: 20,
  DELADDR: 21,
  GETADDR: 22,
  NEWROUTE: 24,
  DELROUTE: 25,
  GETROUTE: 26,
} as const;
/** `NLMSGERR_ATTR_MSG`: the kernel's text for an error. */
export const NLMSGERR_ATTR_MSG = 1;

/** Address families. */
export const AF = { UNSPEC: 0, INET: 2, INET6: 10 } as const;

/** Link attributes (`IFLA_*`). */
export const IFLA = {
  ADDRESS: 1,
  BROADCAST: 2,
  IFNAME: 3,
  MTU: 4,
  LINK: 5,
  MASTER: 10,
  OPERSTATE: 16,
  LINKINFO: 18,
  NET_NS_FD: 28,
  LINK_NETNSID: 37,
} as const;
/** Nested in `IFLA_LINKINFO`. */
export const IFLA_INFO = { KIND: 1, DATA: 2 } as const;
/** `VETH_INFO_PEER`, nested in a veth's `IFLA_INFO_DATA`. */
export const VETH_INFO_PEER = 1;
/** `IFLA_MACVLAN_MODE`, `IFLA_IPVLAN_MODE`, `IFLA_VLAN_ID`: each is type 1. */
export const IFLA_KIND_DATA_MODE = 1;

/** Interface flags (`IFF_*`). */
export const IFF = {
  UP: 0x1,
  BROADCAST: 0x2,
  LOOPBACK: 0x8,
  POINTOPOINT: 0x10,
  RUNNING: 0x40,
  NOARP: 0x80,
  PROMISC: 0x100,
  MULTICAST: 0x1000,
  LOWER_UP: 0x10000,
} as const;

/** Address attributes (`IFA_*`). */
export const IFA = { ADDRESS: 1, LOCAL: 2, LABEL: 3 } as const;

/** Route attributes (`RTA_*`). */
export const RTA = {
  DST: 1,
  OIF: 4,
  GATEWAY: 5,
  PRIORITY: 6,
  PREFSRC: 7,
  TABLE: 15,
} as const;
/** `RT_TABLE_MAIN`, where `ip route` adds and lists. */
export const RT_TABLE_MAIN = 254;
/** Route protocols (`RTPROT_*`). */
export const RTPROT = { KERNEL: 2, BOOT: 3 } as const;
/** Route scopes (`RT_SCOPE_*`). */
export const RT_SCOPE = { UNIVERSE: 0, LINK: 253, HOST: 254 } as const;
/** `RTN_UNICAST`. */
export const RTN_UNICAST = 1;

const HEADER_SIZE = 16;
const ATTR_HEADER = 4;
const NLA_TYPE_MASK = 0x3fff;
const NLA_F_NESTED = 0x8000;

function align(length: number): number {
  return (length + 3) & ~3;
}

/**
 * Builds one netlink request: a fixed family header, then attributes,
 * possibly nested. Lengths are filled in by {@linkcode finish}.
 */
export class MessageBuilder {
  #bytes = new Uint8Array(512);
  #length = HEADER_SIZE;
  #nests: number[] = [];

  /** Starts a message of `type` with `flags`; `seq` is set at send time. */
  constructor(type: number, flags: number) {
    const view = this.#view();
    view.setUint16(4, type, true);
    view.setUint16(6, flags, true);
  }

  #view(): DataView {
    return new DataView(this.#bytes.buffer);
  }

  #reserve(size: number): number {
    const at = this.#length;
    const needed = at + align(size);
    if (needed > this.#bytes.byteLength) {
      const grown = new Uint8Array(
        Math.max(needed, this.#bytes.byteLength * 2),
      );
      grown.set(this.#bytes);
      this.#bytes = grown;
    }
    this.#length = needed;
    return at;
  }

  /** Appends raw bytes (a family header), padded to 4. */
  raw(bytes: Uint8Array): this {
    this.#bytes.set(bytes, this.#reserve(bytes.byteLength));
    return this;
  }

  /** Appends attribute `type` with `payload`. */
  attr(type: number, payload: Uint8Array): this {
    const at = this.#reserve(ATTR_HEADER + payload.byteLength);
    const view = this.#view();
    view.setUint16(at, ATTR_HEADER + payload.byteLength, true);
    view.setUint16(at + 2, type, true);
    this.#bytes.set(payload, at + ATTR_HEADER);
    return this;
  }

  /** Appends a 32-bit attribute. */
  u32(type: number, value: number): this {
    const payload = new Uint8Array(4);
    new DataView(payload.buffer).setUint32(0, value, true);
    return this.attr(type, payload);
  }

  /** Appends a 16-bit attribute. */
  u16(type: number, value: number): this {
    const payload = new Uint8Array(2);
    new DataView(payload.buffer).setUint16(0, value, true);
    return this.attr(type, payload);
  }

  /** Appends a NUL-terminated string attribute. */
  string(type: number, value: string): this {
    return this.attr(type, new TextEncoder().encode(`${value}\0`));
  }

  /** Opens a nested attribute; close it with {@linkcode end}. */
  nest(type: number): this {
    const at = this.#reserve(ATTR_HEADER);
    this.#view().setUint16(at + 2, type | NLA_F_NESTED, true);
    this.#nests.push(at);
    return this;
  }

  /** Closes the innermost nested attribute. */
  end(): this {
    const at = this.#nests.pop()!;
    this.#view().setUint16(at, this.#length - at, true);
    return this;
  }

  /** The finished message with its sequence number. */
  finish(seq: number): Uint8Array<ArrayBuffer> {
    const view = this.#view();
    view.setUint32(0, this.#length, true);
    view.setUint32(8, seq, true);
    return this.#bytes.slice(0, this.#length);
  }
}

/** One received netlink message. */
export interface Message {
  /** `nlmsg_type`. */
  type: number;
  /** `nlmsg_flags`. */
  flags: number;
  /** `nlmsg_seq`. */
  seq: number;
  /** The payload after the header. */
  body: DataView;
}

/** Splits a received datagram into its messages. */
export function parseMessages(datagram: Uint8Array): Message[] {
  const view = new DataView(
    datagram.buffer,
    datagram.byteOffset,
    datagram.byteLength,
  );
  const messages: Message[] = [];
  let at = 0;
  while (at + HEADER_SIZE <= view.byteLength) {
    const length = view.getUint32(at, true);
    if (length < HEADER_SIZE || at + length > view.byteLength) break;
    messages.push({
      type: view.getUint16(at + 4, true),
      flags: view.getUint16(at + 6, true),
      seq: view.getUint32(at + 8, true),
      body: new DataView(
        view.buffer,
        view.byteOffset + at + HEADER_SIZE,
        length - HEADER_SIZE,
      ),
    });
    at += align(length);
  }
  return messages;
}

/** Attributes by type, each a view on its payload (the last one wins). */
export type Attributes = Map<number, DataView>;

/** Parses the attributes in `view` from byte `offset` on. */
export function parseAttributes(view: DataView, offset = 0): Attributes {
  const attributes: Attributes = new Map();
  let at = offset;
  while (at + ATTR_HEADER <= view.byteLength) {
    const length = view.getUint16(at, true);
    if (length < ATTR_HEADER || at + length > view.byteLength) break;
    attributes.set(
      view.getUint16(at + 2, true) & NLA_TYPE_MASK,
      new DataView(
        view.buffer,
        view.byteOffset + at + ATTR_HEADER,
        length - ATTR_HEADER,
      ),
    );
    at += align(length);
  }
  return attributes;
}

/** The bytes of an attribute payload. */
export function attrBytes(view: DataView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

/** A NUL-terminated string attribute. */
export function attrString(view: DataView): string {
  const bytes = attrBytes(view);
  const end = bytes.indexOf(0);
  return new TextDecoder().decode(end < 0 ? bytes : bytes.subarray(0, end));
}

/** `ifinfomsg`: family, type, index, flags, change mask. */
export function ifinfomsg(
  fields: { index?: number; flags?: number; change?: number } = {},
): Uint8Array {
  const bytes = new Uint8Array(16);
  const view = new DataView(bytes.buffer);
  view.setInt32(4, fields.index ?? 0, true);
  view.setUint32(8, fields.flags ?? 0, true);
  view.setUint32(12, fields.change ?? 0, true);
  return bytes;
}

/** `ifaddrmsg`: family, prefix length, flags, scope, index. */
export function ifaddrmsg(
  fields: { family: number; prefixLength: number; index: number },
): Uint8Array {
  const bytes = new Uint8Array(8);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, fields.family);
  view.setUint8(1, fields.prefixLength);
  view.setUint32(4, fields.index, true);
  return bytes;
}

/** `rtmsg`: family, lengths, table, protocol, scope, type, flags. */
export function rtmsg(
  fields: {
    family: number;
    dstLength?: number;
    table?: number;
    protocol?: number;
    scope?: number;
    type?: number;
  },
): Uint8Array {
  return new Uint8Array([
    fields.family,
    fields.dstLength ?? 0,
    0,
    0,
    fields.table ?? 0,
    fields.protocol ?? 0,
    fields.scope ?? 0,
    fields.type ?? 0,
    0,
    0,
    0,
    0,
  ]);
}
