/**
 * {@linkcode Client}: the whole client — {@linkcode CoreClient}'s calls
 * and context, plus pulling images, reading and unpacking them, and
 * making containers from them.
 *
 * @module
 */
import { CoreClient } from "./core.ts";
import { getImage, type Image } from "./image.ts";
import { newContainer, type NewContainerOptions } from "./new_container.ts";
import { pull, type PullOptions } from "./pull.ts";
import type { Container } from "./container.ts";

/**
 * A client of one daemon (berth or containerd) in one context. Derive
 * clients for another namespace, lease or signal with `with`; they share
 * the connection.
 *
 * @example
 * ```ts
 * import { Client, withProcessArgs } from "@berth/berth/client";
 * const client = new Client({ address: "/run/berth/berth.sock" });
 * const image = await client.pull("127.0.0.1:5000/busybox:latest", { unpack: true });
 * const container = await client.newContainer("c1", { image, spec: [withProcessArgs("true")] });
 * ```
 */
export class Client extends CoreClient {
  /**
   * Pulls `ref` from its registry, from this process, through the
   * containerd API's content, images, diff and snapshots services (so it
   * works against containerd too); returns the image.
   *
   * @example
   * ```ts
   * import { Client } from "@berth/berth/client";
   * const client = new Client({ address: "/run/berth/berth.sock" });
   * const image = await client.pull("127.0.0.1:5000/busybox:latest", { unpack: true });
   * ```
   */
  pull(ref: string, options?: PullOptions): Promise<Image> {
    return pull(this, ref, options);
  }

  /**
   * The image named `name`; NotFoundError when there is none.
   *
   * @example
   * ```ts
   * import { Client } from "@berth/berth/client";
   * const client = new Client({ address: "/run/berth/berth.sock" });
   * const image = await client.getImage("docker.io/library/busybox:latest");
   * ```
   */
  getImage(name: string): Promise<Image> {
    return getImage(this, name);
  }

  /**
   * Creates container `id` (from an image, with spec options); see
   * {@linkcode NewContainerOptions}.
   *
   * @example
   * ```ts
   * import { Client, withProcessArgs } from "@berth/berth/client";
   * const client = new Client({ address: "/run/berth/berth.sock" });
   * const image = await client.getImage("docker.io/library/busybox:latest");
   * const container = await client.newContainer("c1", { image, spec: [withProcessArgs("true")] });
   * ```
   */
  newContainer(id: string, options?: NewContainerOptions): Promise<Container> {
    return newContainer(this, id, options);
  }
}
