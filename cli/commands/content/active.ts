/**
 * `berth ctr content active`.
 *
 * @module
 */
import type { Command } from "commander";
import { Option } from "commander";
import { Content } from "../../../src/gen/containerd/services/content/v1/content_pb.ts";
import { parseDuration } from "../../../src/types/duration.ts";
import { humanSize, tabwrite } from "../../_format.ts";
import { age, TABS, writeText } from "../../_content.ts";
import type { Connection } from "../../_client.ts";

/** Adds the command to the `content` group. */
export function register(content: Command, connect: () => Connection): void {
  content.command("active")
    .description("display active transfers")
    .argument("[filter]", "a filter on the ingests, e.g. ref~=layer")
    .option("-t, --timeout <duration>", "total timeout for the listing", "0")
    .addOption(new Option("--root <path>", "ignored (as in ctr)").hideHelp())
    .action(async (filter: string | undefined, opts) => {
      const conn = connect();
      const timeoutMs = parseDuration(opts.timeout);
      const signal = timeoutMs > 0
        ? AbortSignal.any([conn.signal, AbortSignal.timeout(timeoutMs)])
        : conn.signal;
      const { statuses } = await conn.client(Content).listStatuses(
        { filters: filter ? [filter] : [] },
        { signal },
      );
      let text = "REF\tSIZE\tAGE\t\n";
      for (const s of statuses) {
        text += `${s.ref}\t${humanSize(s.offset)}\t${age(s.startedAt)}\t\n`;
      }
      await writeText(tabwrite(text, TABS));
    });
}
