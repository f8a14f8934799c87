/**
 * `berth ctr images …` has one file per verb in `images/`; this module
 * keeps the names some of its helpers were known by.
 *
 * @module
 */
export { localDate } from "../_images_commands.ts";
export { logLine } from "../_log.ts";
export { mountArgs } from "../../src/client/mount.ts";
