/**
 * `berth ctr snapshots …` has one file per verb in `snapshots/`; this
 * module keeps the names its printing helpers were known by.
 *
 * @module
 */
export {
  infoJSON,
  kindName,
  mountCommands,
  mountsJSON,
  snapshotTree,
} from "../_snapshots.ts";
export { uniquePart } from "../../src/client/snapshots.ts";
