/**
 * Networking for `berth ctr run`: `-p` parsing, and a container's own
 * netns attached to networks before its task starts.
 *
 * @module
 */
import {
  Network,
  type PortMappingSchema,
} from "../src/gen/berth/services/network/v1/network_pb.ts";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { Connection } from "./_client.ts";

/** A `-p` value as the API takes it. */
export type PortMappingInit = MessageInitShape<typeof PortMappingSchema>;

/**
 * Parses `[HOSTIP:]HOSTPORT:CTRPORT[/tcp|udp]`.
 *
 * @throws {Error} naming the flag value when it does not parse.
 */
export function parsePortMapping(value: string): PortMappingInit {
  const match = /^(?:(\d{1,3}(?:\.\d{1,3}){3}):)?(\d+):(\d+)(?:\/(tcp|udp))?$/
    .exec(value);
  if (!match) {
    throw new Error(
      `invalid port mapping ${
        JSON.stringify(value)
      }: want [HOSTIP:]HOSTPORT:CTRPORT[/tcp|udp]`,
    );
  }
  return {
    hostIp: match[1] ?? "",
    hostPort: Number(match[2]),
    containerPort: Number(match[3]),
    protocol: match[4] ?? "tcp",
  };
}

/** What a container's networking needs from the daemon. */
export interface ContainerNetns {
  /** The netns file, for the spec's network namespace path. */
  path: string;
  /** ctr `--mount` values for its /etc/resolv.conf and /etc/hosts. */
  mounts: string[];
}

/** Creates the netns container `id` will own (named after it). */
export async function createContainerNetns(
  conn: Connection,
  id: string,
): Promise<ContainerNetns> {
  const { namespace } = await conn.client(Network).createNamespace({
    namespace: { name: id, owner: id },
  }, { signal: conn.signal });
  return {
    path: namespace!.path,
    mounts: [
      `type=bind,src=${
        namespace!.resolvConfPath
      },dst=/etc/resolv.conf,options=rbind:ro`,
      `type=bind,src=${namespace!.hostsPath},dst=/etc/hosts,options=rbind:ro`,
    ],
  };
}

/**
 * Attaches container `id`'s netns to each network ("" is the daemon's
 * default); published ports go with the first network.
 */
export async function attachNetworks(
  conn: Connection,
  id: string,
  networks: readonly string[],
  ports: readonly PortMappingInit[],
): Promise<void> {
  for (const [i, network] of networks.entries()) {
    await conn.client(Network).attach({
      network,
      netns: id,
      containerId: id,
      portMappings: i === 0 ? [...ports] : [],
    }, { signal: conn.signal });
  }
}

/** Detaches container `id`'s attachments and removes the netns it owns. */
export async function releaseContainerNetwork(
  conn: Connection,
  id: string,
): Promise<void> {
  const client = conn.client(Network);
  const { attachments } = await client.listAttachments({
    filters: [`container_id==${JSON.stringify(id)}`],
  }, { signal: conn.signal });
  for (const a of attachments) {
    await client.detach({ id: a.id }, { signal: conn.signal });
  }
  const { namespaces } = await client.listNamespaces({
    filters: [`owner==${JSON.stringify(id)}`],
  }, { signal: conn.signal });
  for (const n of namespaces) {
    await client.deleteNamespace({ name: n.name, force: true }, {
      signal: conn.signal,
    });
  }
}
