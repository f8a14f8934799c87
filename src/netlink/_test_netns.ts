/**
 * Test fixtures: throwaway network namespaces on private paths (made with
 * util-linux `unshare --net=FILE`, removed even when the test fails), and
 * `ip` from iproute2 run inside them to observe what the library did.
 *
 * @module
 */

import { gunzipSync } from "node:zlib";

const decoder = new TextDecoder();

async function command(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(
      `${cmd} ${args.join(" ")}: ${decoder.decode(out.stderr).trim()}`,
    );
  }
  return decoder.decode(out.stdout);
}

/** `ip ARGS…` inside the namespace at `netns`. */
export function ipIn(netns: string, args: string[]): Promise<string> {
  return command("nsenter", [`--net=${netns}`, "ip", ...args]);
}

/** The `ip -o link` line of `name` in `netns`, or undefined. */
export async function ipLink(
  netns: string,
  name: string,
): Promise<string | undefined> {
  const lines = (await ipIn(netns, ["-o", "link", "show"])).split("\n");
  return lines.find((line) => line.split(": ")[1]?.split("@")[0] === name);
}

/** The addresses `ip -o addr` shows on `name` in `netns`, `A/L` each. */
export async function ipAddresses(
  netns: string,
  name: string,
): Promise<string[]> {
  const text = await ipIn(netns, ["-o", "addr", "show", "dev", name]);
  return [...text.matchAll(/ inet6? (\S+) /g)].map((m) => m[1]);
}

/** Namespaces created for one test. */
export interface TestNetns extends AsyncDisposable {
  /** The namespace files. */
  paths: string[];
}

/** Creates `count` network namespaces; dispose to remove them. */
export async function makeNetns(count: number): Promise<TestNetns> {
  const dir = await Deno.makeTempDir({ prefix: "berth-netlink-" });
  const paths: string[] = [];
  const dispose = async () => {
    for (const path of paths) {
      await command("umount", [path]).catch(() => {});
    }
    await Deno.remove(dir, { recursive: true });
  };
  try {
    for (let i = 0; i < count; i++) {
      const path = `${dir}/ns${i}`;
      await Deno.writeFile(path, new Uint8Array());
      paths.push(path);
      await command("unshare", [`--net=${path}`, "true"]);
    }
  } catch (error) {
    await dispose();
    throw error;
  }
  return { paths, [Symbol.asyncDispose]: dispose };
}

/** True when the running kernel was built with `CONFIG_<option>=y`. */
export function kernelHas(option: string): boolean {
  const config = new TextDecoder().decode(
    gunzipSync(Deno.readFileSync("/proc/config.gz")),
  );
  return config.split("\n").includes(`CONFIG_${option}=y`);
}
