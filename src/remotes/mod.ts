/**
 * The remotes component: an OCI distribution API v2 registry client in the
 * role of containerd's `remotes/docker`. Per-host endpoints from a
 * `certs.d`-style hosts directory, Bearer and Basic auth, resolving,
 * verified and resumable fetches, and pushes with cross-repository mounts
 * and chunked uploads. References (with Docker Hub defaults) and media type
 * names are shared types in `src/types/`.
 *
 * @module
 */
export * from "./media_types.ts";
export * from "./hosts.ts";
export * from "./transport.ts";
export * from "./auth.ts";
export * from "./errors.ts";
export * from "./session.ts";
export * from "./verify.ts";
export * from "./resolver.ts";
export * from "./fetcher.ts";
export * from "./pusher.ts";
export * from "./client.ts";
