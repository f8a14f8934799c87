/**
 * `berth ctr content …` has one file per verb in `content/`; this module
 * keeps the name the blob-reference parser was known by.
 *
 * @module
 */
export { parseBlobRef } from "../_content.ts";
