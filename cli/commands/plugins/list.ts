/**
 * `berth ctr plugins list`.
 *
 * @module
 */
import type { Command } from "commander";
import { Introspection } from "../../../src/gen/containerd/services/introspection/v1/introspection_pb.ts";
import { columns } from "../../_format.ts";
import type { Connection } from "../../_client.ts";

/** Adds the command to the `plugins` group. */
export function register(plugins: Command, connect: () => Connection): void {
  plugins.command("list").alias("ls")
    .description("lists plugins")
    .argument("[filters...]", "filters, e.g. type==io.containerd.grpc.v1")
    .option("-q, --quiet", "print only the plugin ids")
    .option("-d, --detailed", "print detailed information about each plugin")
    .option("--json", "print as JSON")
    .action(async (filters: string[], opts) => {
      const conn = connect();
      const { plugins } = await conn.client(Introspection).plugins(
        { filters },
        {
          signal: conn.signal,
        },
      );
      if (opts.json) {
        console.log(JSON.stringify(
          plugins.map((p) => ({
            type: p.type,
            id: p.id,
            requires: p.requires,
            exports: p.exports,
            capabilities: p.capabilities,
            status: p.initErr ? "error" : "ok",
          })),
          null,
          2,
        ));
        return;
      }
      if (opts.quiet) {
        for (const p of plugins) console.log(p.id);
        return;
      }
      const platform = (p: (typeof plugins)[number]) =>
        p.platforms.length === 0 ? "-" : [
          ...new Set(
            p.platforms.map((pl) =>
              [pl.os, pl.architecture, pl.variant].filter(Boolean).join("/")
            ),
          ),
        ].sort().join(",");
      if (opts.detailed) {
        const blocks = plugins.map((p) => {
          const rows: string[][] = [["Type:", p.type], ["ID:", p.id]];
          if (p.requires.length) {
            rows.push(["Requires:", ""], ...p.requires.map((r) => ["", r]));
          }
          if (p.platforms.length) rows.push(["Platforms:", platform(p)]);
          const exports = Object.entries(p.exports);
          if (exports.length) {
            rows.push(
              ["Exports:", ""],
              ...exports.map(([k, v]) => ["", `${k}  ${v}`]),
            );
          }
          if (p.capabilities.length) {
            rows.push(["Capabilities:", p.capabilities.join(",")]);
          }
          if (p.initErr) {
            rows.push(["Error:", ""], ["", `Code: ${p.initErr.code}`], [
              "",
              `Message: ${p.initErr.message}`,
            ]);
          }
          return columns(rows, 4);
        });
        console.log(blocks.join("\n\n"));
        return;
      }
      console.log(columns([
        ["TYPE", "ID", "PLATFORMS", "STATUS"],
        ...plugins.map((p) => [
          p.type,
          p.id,
          platform(p),
          p.initErr ? "error" : "ok",
        ]),
      ], 4));
    });
}
