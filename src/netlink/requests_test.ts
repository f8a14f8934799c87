/**
 * The requests berth builds, compared with the ones iproute2 sends for the
 * same `ip link add` (captured with strace): the same attributes with the
 * same payloads, whether or not this kernel has the driver.
 */
import assert from "node:assert/strict";
import { linkKindData } from "./interfaces.ts";
import { createInterface, getNetnsInterface } from "./mod.ts";
import { newLinkMessage } from "./requests.ts";
import type { CreateInterfaceOptions } from "./types.ts";
import { makeNetns } from "./_test_netns.ts";
import { attrBytes, IFLA, IFLA_INFO, parseAttributes, RTM } from "./_wire.ts";

/** The bytes of every `sendmsg` ip made, from strace's hex dumps. */
async function ipRequests(
  netns: string,
  args: string[],
): Promise<Uint8Array[]> {
  const out = await new Deno.Command("nsenter", {
    args: [
      `--net=${netns}`,
      "strace",
      "-e",
      "trace=sendmsg",
      "-e",
      "write=all",
      "ip",
      ...args,
    ],
    stderr: "piped",
  }).output();
  const messages: number[][] = [];
  for (const line of new TextDecoder().decode(out.stderr).split("\n")) {
    if (line.startsWith("sendmsg(")) messages.push([]);
    const dump = line.match(/^ \| [0-9a-f]{5} {2}(.{48})/);
    if (dump) {
      messages.at(-1)!.push(
        ...dump[1].trim().split(/\s+/).map((hex) => parseInt(hex, 16)),
      );
    }
  }
  return messages.map((bytes) => new Uint8Array(bytes));
}

type Tree = { [type: number]: Tree | string };

/** Attributes as a tree; payloads as hex, a string without its NUL. */
function tree(
  view: DataView,
  nested: (path: string) => number | undefined,
  path = "",
): Tree {
  const result: Tree = {};
  for (const [type, payload] of parseAttributes(view)) {
    const at = `${path}/${type}`;
    const offset = nested(at);
    if (offset !== undefined) {
      result[type] = tree(
        new DataView(
          payload.buffer,
          payload.byteOffset + offset,
          payload.byteLength - offset,
        ),
        nested,
        at,
      );
    } else {
      let bytes = attrBytes(payload);
      if (
        type === IFLA.IFNAME || at === `/${IFLA.LINKINFO}/${IFLA_INFO.KIND}`
      ) {
        while (bytes.at(-1) === 0) bytes = bytes.subarray(0, -1);
      }
      result[type] = Array.from(bytes, (b) => b.toString(16).padStart(2, "0"))
        .join("");
    }
  }
  return result;
}

const LINKINFO = `/${IFLA.LINKINFO}`;
const DATA = `${LINKINFO}/${IFLA_INFO.DATA}`;

/** The attributes of a RTM_NEWLINK request (after header and ifinfomsg). */
function newLinkTree(message: Uint8Array, kind: string): Tree {
  const view = new DataView(
    message.buffer,
    message.byteOffset,
    message.byteLength,
  );
  assert.equal(view.getUint16(4, true), RTM.NEWLINK);
  return tree(
    new DataView(
      message.buffer,
      message.byteOffset + 32,
      message.byteLength - 32,
    ),
    (path) =>
      path === LINKINFO
        ? 0
        : path === DATA && kind !== "dummy" && kind !== "bridge"
        ? 0
        : kind === "veth" && path === `${DATA}/1`
        ? 16
        : undefined,
  );
}

Deno.test("RTM_NEWLINK requests equal iproute2's for every kind", async () => {
  await using netns = await makeNetns(1);
  const [a] = netns.paths;
  createInterface(a, { name: "p0", kind: "veth", peer: "p1" });
  const parentIndex = getNetnsInterface(a, "p0").index;
  const cases: [string[], CreateInterfaceOptions][] = [
    [["type", "dummy"], { name: "d0", kind: "dummy" }],
    [["type", "bridge"], { name: "b0", kind: "bridge" }],
    [["type", "veth", "peer", "name", "v1"], {
      name: "v0",
      kind: "veth",
      peer: "v1",
    }],
    [["link", "p0", "type", "vlan", "id", "42"], {
      name: "p0.42",
      kind: "vlan",
      parent: "p0",
      vlanId: 42,
    }],
    [["link", "p0", "type", "ipvlan", "mode", "l3"], {
      name: "iv0",
      kind: "ipvlan",
      parent: "p0",
      mode: "l3",
    }],
    [["link", "p0", "type", "macvlan", "mode", "private"], {
      name: "mv0",
      kind: "macvlan",
      parent: "p0",
      mode: "private",
    }],
  ];
  for (const [ipArgs, options] of cases) {
    const [ipName, ...rest] = [options.name, ...ipArgs];
    const args = ipArgs[0] === "link"
      ? [
        "link",
        "add",
        ...ipArgs.slice(0, 2),
        "name",
        ipName,
        ...ipArgs.slice(2),
      ]
      : ["link", "add", ipName, ...rest];
    const sent = (await ipRequests(a, args)).find((m) =>
      new DataView(m.buffer).getUint16(4, true) === RTM.NEWLINK
    );
    assert.ok(sent, `ip ${args.join(" ")} sent no RTM_NEWLINK`);
    const ours = newLinkMessage({
      ...linkKindData(options),
      kind: options.kind,
      name: options.name,
      parentIndex: options.parent ? parentIndex : undefined,
      peer: options.peer ? { name: options.peer } : undefined,
    }).finish(0);
    assert.deepEqual(
      newLinkTree(ours, options.kind),
      newLinkTree(sent, options.kind),
      `ip ${args.join(" ")}`,
    );
  }
});
