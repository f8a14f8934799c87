/**
 * berth's client library: a typed TypeScript client for containerd's v1
 * API that works against berth and against containerd itself — images
 * pulled and unpacked from the client, containers made from spec options,
 * tasks and processes with their stdio, leases, events, content and
 * snapshots. Errors are typed by gRPC code ({@linkcode NotFoundError} …).
 *
 * @example
 * ```ts
 * import { Client, withProcessArgs } from "@berth/berth/client";
 *
 * const client = new Client({ address: "/run/berth/berth.sock", namespace: "default" });
 * const image = await client.pull("127.0.0.1:5000/busybox:latest", { unpack: true });
 * const container = await client.newContainer("hello", {
 *   image,
 *   spec: [withProcessArgs("echo", "hello")],
 * });
 * const task = await container.newTask({
 *   stdio: { stdout: Deno.stdout.writable, stderr: Deno.stderr.writable },
 * });
 * const exited = task.wait();
 * await task.start();
 * console.log((await exited).code);
 * await task.delete();
 * await container.delete();
 * ```
 *
 * @module
 */
export * from "./core.ts";
export * from "./client.ts";
export * from "./errors.ts";
export * from "./transport.ts";
export * from "./h2_transport.ts";
export * from "./content.ts";
export * from "./snapshots.ts";
export * from "./leases.ts";
export * from "./fifos.ts";
export * from "./task.ts";
export * from "./container.ts";
export * from "./image.ts";
export * from "./pull.ts";
export * from "./new_container.ts";
export * from "./events.ts";
export * from "./mount.ts";
export * from "../oci/opts.ts";
export type { Spec, SpecOpt, SpecProcess } from "../oci/spec.ts";
