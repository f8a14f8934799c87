/**
 * `berth ctr content list`.
 *
 * @module
 */
import type { Command } from "commander";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import {
  Content,
  type Info,
} from "../../../src/gen/containerd/services/content/v1/content_pb.ts";
import { humanSize, tabwrite } from "../../_format.ts";
import { age, labelText, TABS, writeText } from "../../_content.ts";
import type { Connection } from "../../_client.ts";

const isoTime = (ts: Timestamp | undefined) =>
  ts ? timestampDate(ts).toISOString() : null;

/** Adds the command to the `content` group. */
export function register(content: Command, connect: () => Connection): void {
  content.command("list").alias("ls")
    .description("list all blobs in the store")
    .argument("[filters...]", 'filters, e.g. labels."containerd.io/gc.root"')
    .option("-q, --quiet", "print only the blob digest")
    .option("--json", "print as JSON")
    .action(async (filters: string[], opts) => {
      const conn = connect();
      const infos: Info[] = [];
      const stream = conn.client(Content).list({ filters }, {
        signal: conn.signal,
      });
      for await (const resp of stream) {
        if (opts.quiet && !opts.json) {
          for (const info of resp.info) console.log(info.digest);
        } else infos.push(...resp.info);
      }
      if (opts.json) {
        console.log(JSON.stringify(
          infos.map((i) => ({
            digest: i.digest,
            size: Number(i.size),
            createdAt: isoTime(i.createdAt),
            updatedAt: isoTime(i.updatedAt),
            labels: i.labels,
          })),
          null,
          2,
        ));
        return;
      }
      if (opts.quiet) return;
      let text = "DIGEST\tSIZE\tAGE\tLABELS\n";
      for (const i of infos) {
        text += `${i.digest}\t${humanSize(i.size)}\t${age(i.createdAt)}\t${
          labelText(i.labels) || "-"
        }\n`;
      }
      await writeText(tabwrite(text, TABS));
    });
}
