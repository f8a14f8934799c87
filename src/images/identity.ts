/**
 * Chain IDs: the names of the snapshots an image's layers unpack into, as
 * the OCI image spec defines them. The first layer's chain ID is its diffID;
 * each next one is `sha256(parentChainID + " " + diffID)`. Two images that
 * share a stack of layers share its snapshots.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { invalidArgument } from "../types/mod.ts";

/** The chain ID of the stack `diffIDs` (base first); empty for none. */
export function chainID(diffIDs: readonly string[]): string {
  return chainIDs(diffIDs).at(-1) ?? "";
}

/** The chain ID of every prefix of `diffIDs`: `[chainID(d[0..i])]`. */
export function chainIDs(diffIDs: readonly string[]): string[] {
  const out: string[] = [];
  let parent = "";
  for (const diffID of diffIDs) {
    if (!diffID) throw invalidArgument("empty diffID in chain");
    parent = parent === ""
      ? diffID
      : `sha256:${
        createHash("sha256").update(`${parent} ${diffID}`).digest("hex")
      }`;
    out.push(parent);
  }
  return out;
}
