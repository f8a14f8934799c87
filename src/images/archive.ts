/**
 * Image archives: import and export of OCI image layouts and Docker
 * archives as tar streams (see `archive_import.ts` and `archive_export.ts`).
 *
 * @module
 */
export * from "./archive_import.ts";
export * from "./archive_export.ts";
