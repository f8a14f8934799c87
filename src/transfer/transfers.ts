/**
 * {@linkcode ImageTransfers}: the transfers of this folder bound to the
 * daemon's stores, each registry transfer with a registry client of its own.
 * The Transfer service runs transfers through this interface only, so that
 * its tests can stand a fake in for registries and stores.
 *
 * @module
 */
import type { Image } from "../metadata/mod.ts";
import { RegistryClient, type RegistryClientOptions } from "../remotes/mod.ts";
import type { Descriptor } from "../types/mod.ts";
import {
  exportImages,
  type ExportImagesOptions,
  importImages,
  type ImportImagesOptions,
} from "./archive.ts";
import {
  pull,
  type PullOptions,
  type PullResult,
  type TransferStores,
} from "./pull.ts";
import { push, type PushOptions } from "./push.ts";

/**
 * The options of a registry transfer with the registry client's options in
 * place of the client: the transfer makes its client and closes it.
 */
export type RegistryTransferOptions<T extends { registry: RegistryClient }> =
  & Omit<T, "registry">
  & { registry: RegistryClientOptions };

/** Pulls, pushes, imports and exports on one set of stores. */
export interface ImageTransfers {
  /** {@linkcode pull} with a client made from `options.registry`. */
  pull(options: RegistryTransferOptions<PullOptions>): Promise<PullResult>;
  /** {@linkcode push} with a client made from `options.registry`. */
  push(options: RegistryTransferOptions<PushOptions>): Promise<Descriptor>;
  /** {@linkcode importImages}. */
  importImages(
    archive: AsyncIterable<Uint8Array>,
    options: ImportImagesOptions,
  ): Promise<Image[]>;
  /** {@linkcode exportImages}. */
  exportImages(
    options: ExportImagesOptions,
  ): Promise<ReadableStream<Uint8Array>>;
}

/**
 * The transfers on `stores`, as the daemon runs them.
 *
 * @example
 * ```ts ignore
 * const transfers = storeTransfers(stores);
 * const { image } = await transfers.pull({
 *   reference: "127.0.0.1:5000/busybox:latest",
 *   namespace: "default",
 *   registry: { plainHttp: true },
 *   progress: new ProgressTracker(),
 * });
 * ```
 */
export function storeTransfers(stores: TransferStores): ImageTransfers {
  return {
    async pull({ registry, ...options }) {
      using client = new RegistryClient(registry);
      return await pull(stores, { ...options, registry: client });
    },
    async push({ registry, ...options }) {
      using client = new RegistryClient(registry);
      return await push(stores, { ...options, registry: client });
    },
    importImages: (archive, options) => importImages(stores, archive, options),
    exportImages: (options) => exportImages(stores, options),
  };
}
