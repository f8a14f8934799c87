/**
 * Named network namespaces: a netns is made with `unshare(CLONE_NEWNET)` on
 * the daemon's JavaScript thread and kept alive by bind-mounting
 * `/proc/thread-self/ns/net` onto a file under the netns directory
 * (`DIR/<tenant>/<name>`), as `ip netns add` does. The switch is undone
 * before the call returns and nothing in between awaits (see
 * `src/sys/netns.ts`), so no other work of the daemon ever runs inside the
 * new namespace. Records live in the metadata store; the files are checked
 * when read, so a netns whose file or mount vanished is reported as
 * "missing" instead of breaking a listing.
 *
 * @module
 */
import * as fs from "node:fs";
import { join } from "node:path";
import {
  fieldsAdaptor,
  FilterSyntaxError,
  parseFilters,
} from "../filters/mod.ts";
import type { NetnsRecord, NetnsStore } from "../metadata/mod.ts";
import {
  Errno,
  isErrno,
  MNT,
  mount,
  MS,
  THREAD_NETNS,
  umount2,
  unshareNet,
} from "../sys/mod.ts";
import {
  failedPrecondition,
  invalidArgument,
  validateIdentifier,
} from "../types/mod.ts";
import { hostsFile, resolvConf } from "./etc_files.ts";
import { processesIn } from "./users.ts";

/** systemd-resolved's list of upstream nameservers. */
const UPSTREAM_RESOLV_CONF = "/run/systemd/resolve/resolv.conf";

/** A network namespace as callers see it. */
export interface NetworkNamespace extends NetnsRecord {
  /** "ready", or "missing" when its file or mount is gone. */
  status: "ready" | "missing";
  /** The resolv.conf containers in it mount. */
  resolvConfPath: string;
  /** The hosts file containers in it mount. */
  hostsPath: string;
}

/** Options for {@linkcode NetnsManager}. */
export interface NetnsManagerOptions {
  /** The records. */
  store: NetnsStore;
  /** Where the bind-mounted files go (`DIR/<tenant>/<name>`). */
  dir: string;
  /** Where each netns's resolv.conf and hosts go (`DIR/<tenant>/<name>/`). */
  etcDir: string;
  /** The host's resolv.conf, copied for containers. */
  hostResolvConf?: string;
}

/** What a delete may override. */
export interface DeleteNetnsOptions {
  /** Delete even while processes are inside. */
  force?: boolean;
}

/**
 * Whether `path` is a live network namespace (an nsfs bind mount or a
 * `/proc/PID/ns/net`), not a plain file left behind.
 */
export function isNetns(path: string): boolean {
  try {
    return fs.statSync(path).dev === fs.statSync(THREAD_NETNS).dev;
  } catch {
    return false;
  }
}

/** Creates, lists and removes named network namespaces. */
export class NetnsManager {
  readonly #store: NetnsStore;
  readonly #dir: string;
  readonly #etcDir: string;
  readonly #hostResolvConf: string;

  /** Creates the manager. */
  constructor(options: NetnsManagerOptions) {
    this.#store = options.store;
    this.#dir = options.dir;
    this.#etcDir = options.etcDir;
    this.#hostResolvConf = options.hostResolvConf ?? "/etc/resolv.conf";
  }

  #view(namespace: string, record: NetnsRecord): NetworkNamespace {
    const etc = join(this.#etcDir, namespace, record.name);
    return {
      ...record,
      status: isNetns(record.path) ? "ready" : "missing",
      resolvConfPath: join(etc, "resolv.conf"),
      hostsPath: join(etc, "hosts"),
    };
  }

  /**
   * Creates netns `name` in tenant `namespace`. InvalidArgument for a bad
   * name (also one with `/`), AlreadyExists when taken; on any failure no
   * file, mount or record remains.
   */
  create(
    namespace: string,
    input: { name: string; labels?: Record<string, string>; owner?: string },
  ): NetworkNamespace {
    try {
      validateIdentifier(input.name);
    } catch (err) {
      throw invalidArgument(
        `network namespace name ${JSON.stringify(input.name)}: ${
          (err as Error).message
        }`,
      );
    }
    const path = join(this.#dir, namespace, input.name);
    const etc = join(this.#etcDir, namespace, input.name);
    const record = this.#store.create(namespace, {
      name: input.name,
      path,
      owner: input.owner ?? "",
      labels: input.labels ?? {},
    }, () => {
      fs.mkdirSync(join(this.#dir, namespace), {
        recursive: true,
        mode: 0o711,
      });
      // A file a crash left behind (no record) is taken over.
      this.#release(path);
      fs.writeFileSync(path, "", { mode: 0o444 });
      try {
        unshareNet(() => mount(THREAD_NETNS, path, null, MS.BIND, null));
        fs.mkdirSync(etc, { recursive: true, mode: 0o755 });
        fs.writeFileSync(
          join(etc, "resolv.conf"),
          resolvConf(this.#readHostResolvConf()),
          { mode: 0o644 },
        );
        fs.writeFileSync(join(etc, "hosts"), hostsFile(input.name), {
          mode: 0o644,
        });
      } catch (err) {
        this.#release(path);
        fs.rmSync(etc, { recursive: true, force: true });
        throw err;
      }
    });
    return this.#view(namespace, record);
  }

  /**
   * The host's resolv.conf; when it names only a local stub resolver
   * (systemd-resolved's 127.0.0.53), the upstream list the stub uses, as
   * kubelet does.
   */
  #readHostResolvConf(): string {
    const read = (path: string) => {
      try {
        return fs.readFileSync(path, "utf8");
      } catch {
        return "";
      }
    };
    const host = read(this.#hostResolvConf);
    if (/^\s*nameserver\s/m.test(resolvConf(host))) return host;
    return read(UPSTREAM_RESOLV_CONF) || host;
  }

  /** Unmounts and removes a netns file; absent or unmounted is fine. */
  #release(path: string): void {
    try {
      umount2(path, MNT.DETACH);
    } catch (err) {
      if (!isErrno(err, Errno.EINVAL) && !isErrno(err, Errno.ENOENT)) {
        throw err;
      }
    }
    fs.rmSync(path, { force: true });
  }

  /** Netns `name`, or NotFound. */
  get(namespace: string, name: string): NetworkNamespace {
    return this.#view(namespace, this.#store.get(namespace, name));
  }

  /** The netns of `namespace` matching any of `filters` (all without). */
  list(namespace: string, filters: readonly string[] = []): NetworkNamespace[] {
    let filter;
    try {
      filter = parseFilters(filters);
    } catch (err) {
      if (!(err instanceof FilterSyntaxError)) throw err;
      throw invalidArgument(`${err.message}: invalid argument`);
    }
    return this.#store.list(namespace).map((r) => this.#view(namespace, r))
      .filter((ns) =>
        filter.match(fieldsAdaptor({
          name: ns.name,
          path: ns.path,
          owner: ns.owner || undefined,
          status: ns.status,
          labels: ns.labels,
        }))
      );
  }

  /** Updates labels (containerd's field paths). */
  updateLabels(
    namespace: string,
    name: string,
    labels: Record<string, string>,
    paths: readonly string[],
  ): NetworkNamespace {
    return this.#view(
      namespace,
      this.#store.updateLabels(namespace, name, labels, paths),
    );
  }

  /** Pids of the processes inside netns `name` (none when it is missing). */
  users(namespace: string, name: string): number[] {
    const { path } = this.#store.get(namespace, name);
    return isNetns(path) ? processesIn(path) : [];
  }

  /**
   * Unmounts and removes netns `name`; FailedPrecondition while processes
   * are inside unless forced (they keep their namespace; only its name
   * goes).
   */
  delete(
    namespace: string,
    name: string,
    options: DeleteNetnsOptions = {},
  ): void {
    const record = this.#store.get(namespace, name);
    if (!options.force) {
      const pids = this.users(namespace, name);
      if (pids.length > 0) {
        throw failedPrecondition(
          `network namespace ${JSON.stringify(name)} is in use by ${
            pids.length === 1 ? "process" : "processes"
          } ${pids.slice(0, 5).join(", ")}`,
        );
      }
    }
    this.#release(record.path);
    fs.rmSync(join(this.#etcDir, namespace, name), {
      recursive: true,
      force: true,
    });
    this.#store.delete(namespace, name);
  }
}
