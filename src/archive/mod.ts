/**
 * OCI image layers applied onto a directory, safely: decompression (gzip,
 * zstd), whiteouts and opaque directories, owners, modes, times, xattrs,
 * devices, and names that can never leave the target.
 *
 * @module
 */
export * from "./apply.ts";
export * from "./decompress.ts";
export * from "./paths.ts";
export * from "./compare.ts";
export * from "./compress.ts";
