/**
 * What the `content` commands share: table layout, ages, labels, and
 * blob references (`HOST[:PORT]/REPOSITORY@DIGEST`).
 *
 * @module
 */
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { parseDigest, writeFull } from "../src/client/content.ts";
import { humanDuration } from "./_format.ts";

/** ctr's `content` tables: tabwriter(minwidth 1, tabwidth 8, padding 1, '\t'). */
export const TABS = { minwidth: 1, tabwidth: 8, padding: 1, padchar: "\t" };

/** How long ago `ts` was, as ctr prints ages. */
export const age = (ts: Timestamp | undefined) =>
  humanDuration(ts ? Date.now() - timestampDate(ts).getTime() : Date.now());

/** A blob's labels as ctr lists them: `k=v` joined by commas, sorted. */
export function labelText(labels: Record<string, string>): string {
  return Object.entries(labels).map(([k, v]) => `${k}=${v}`).sort().join(",");
}

/** Writes all of `text` to stdout. */
export async function writeText(text: string): Promise<void> {
  await writeFull(Deno.stdout, new TextEncoder().encode(text));
}

/** The parts of `HOST[:PORT]/REPOSITORY@DIGEST` (Docker Hub when no host). */
export function parseBlobRef(
  ref: string,
): { host: string; repository: string; digest: string } {
  const at = ref.lastIndexOf("@");
  if (at < 0) throw new Error(`${ref}: a blob reference needs @DIGEST`);
  const digest = parseDigest(ref.slice(at + 1));
  let name = ref.slice(0, at);
  let host = "registry-1.docker.io";
  const slash = name.indexOf("/");
  const first = slash < 0 ? "" : name.slice(0, slash);
  if (first && (/[.:]/.test(first) || first === "localhost")) {
    host = first === "docker.io" ? host : first;
    name = name.slice(slash + 1);
  }
  if (host === "registry-1.docker.io" && !name.includes("/")) {
    name = `library/${name}`;
  }
  if (
    !/^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/
      .test(name)
  ) {
    throw new Error(`${ref}: invalid repository name ${JSON.stringify(name)}`);
  }
  return { host, repository: name, digest };
}
