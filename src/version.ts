/**
 * berth's own version, reported by `berth version` and the Version service.
 *
 * @module
 */

/** Release version. */
export const VERSION = "0.1.0";

/** Source revision; release builds stamp it through `BERTH_REVISION`. */
export const REVISION = "dev";
