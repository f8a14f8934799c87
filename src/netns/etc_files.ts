/**
 * The `/etc/resolv.conf` and `/etc/hosts` containers attached to a network
 * get, written as containerd's CRI writes a sandbox's.
 *
 * @module
 */

/**
 * resolv.conf from the host's: nameservers on loopback (a local resolver
 * such as systemd-resolved) are unreachable from another netns, so they are
 * dropped, and a public fallback is never invented.
 */
export function resolvConf(host: string): string {
  const lines = host.split("\n").filter((line) =>
    !/^\s*nameserver\s+(127\.|::1\b)/.test(line)
  );
  return lines.join("\n").trimEnd() + "\n";
}

/** The hosts file: loopback names, then `hostname` on its addresses. */
export function hostsFile(
  hostname: string,
  ips: readonly string[] = [],
): string {
  return [
    "127.0.0.1\tlocalhost",
    "::1\tlocalhost ip6-localhost ip6-loopback",
    "fe00::0\tip6-localnet",
    "ff00::0\tip6-mcastprefix",
    "ff02::1\tip6-allnodes",
    "ff02::2\tip6-allrouters",
    ...ips.map((ip) => `${ip}\t${hostname}`),
  ].join("\n") + "\n";
}
