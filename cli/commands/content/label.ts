/**
 * `berth ctr content label`.
 *
 * @module
 */
import type { Command } from "commander";
import { Content } from "../../../src/gen/containerd/services/content/v1/content_pb.ts";
import { parseDigest } from "../../../src/client/content.ts";
import { parseLabelArgs } from "../../_format.ts";
import { labelText } from "../../_content.ts";
import type { Connection } from "../../_client.ts";

/** Adds the command to the `content` group. */
export function register(content: Command, connect: () => Connection): void {
  content.command("label")
    .description(
      "add labels to content; KEY= clears a label, a bare KEY sets it to true",
    )
    .argument("<digest>")
    .argument("[labels...]", "KEY=VALUE labels")
    .action(async (digest: string, args: string[]) => {
      const conn = connect();
      const labels = parseLabelArgs(args, "true");
      parseDigest(digest);
      const client = conn.client(Content);
      const paths = Object.keys(labels).map((k) => `labels.${k}`);
      const set = Object.fromEntries(
        Object.entries(labels).filter(([, v]) => v !== ""),
      );
      const { info } = paths.length === 0
        ? await client.info({ digest }, { signal: conn.signal })
        : await client.update({
          info: { digest, labels: set },
          updateMask: { paths },
        }, { signal: conn.signal });
      console.log(labelText(info?.labels ?? {}));
    });
}
