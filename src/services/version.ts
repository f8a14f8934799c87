/**
 * `containerd.services.version.v1.Version`: the daemon's version.
 *
 * @module
 */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  Version,
  VersionResponseSchema,
} from "../gen/containerd/services/version/v1/version_pb.ts";

/** What the Version service reports. */
export interface VersionInfo {
  /** Release version. */
  version: string;
  /** Source revision. */
  revision: string;
}

/** The Version service. */
export function versionService(
  info: VersionInfo,
): ServiceImpl<typeof Version> {
  return {
    version: () => create(VersionResponseSchema, info),
  };
}

export { Version };
