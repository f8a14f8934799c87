/**
 * `containerd.services.introspection.v1.Introspection`: what the daemon is
 * made of (Plugins, with filters on `type` and `id`) and who it is (Server).
 *
 * @module
 */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  Introspection,
  PluginSchema,
  PluginsResponseSchema,
  ServerResponseSchema,
} from "../gen/containerd/services/introspection/v1/introspection_pb.ts";
import { StatusSchema } from "../gen/google/rpc/status_pb.ts";
import { parseFilters } from "../filters/mod.ts";
import type { BerthError } from "../types/mod.ts";

/** One component of the daemon, as containerd describes a plugin. */
export interface PluginInfo {
  /** Plugin type (`io.containerd.grpc.v1`). */
  type: string;
  /** Plugin id (`namespaces`). */
  id: string;
  /** `type.id` or `type.*` of what it needs. */
  requires?: string[];
  /** Platforms it serves (`linux/amd64`). */
  platforms?: { os: string; architecture: string; variant?: string }[];
  /** Key facts it exports (a root path …). */
  exports?: Record<string, string>;
  /** Capabilities it offers. */
  capabilities?: string[];
  /** Why it failed to start, when it did. */
  initError?: BerthError;
}

/** Options for {@linkcode introspectionService}. */
export interface IntrospectionOptions {
  /** The daemon's components. */
  plugins: () => readonly PluginInfo[];
  /** The daemon's persistent UUID. */
  uuid: string;
}

/** The Introspection service. */
export function introspectionService(
  options: IntrospectionOptions,
): ServiceImpl<typeof Introspection> {
  return {
    plugins(req) {
      const filter = parseFilters(req.filters);
      const plugins = options.plugins().filter((plugin) =>
        filter.match({
          field: ([name]) =>
            name === "type"
              ? plugin.type
              : name === "id"
              ? plugin.id
              : undefined,
        })
      );
      return create(PluginsResponseSchema, {
        plugins: plugins.map((plugin) =>
          create(PluginSchema, {
            type: plugin.type,
            id: plugin.id,
            requires: plugin.requires ?? [],
            platforms: (plugin.platforms ?? []).map((p) => ({
              os: p.os,
              architecture: p.architecture,
              variant: p.variant ?? "",
            })),
            exports: plugin.exports ?? {},
            capabilities: plugin.capabilities ?? [],
            initErr: plugin.initError
              ? create(StatusSchema, {
                code: plugin.initError.code,
                message: plugin.initError.message,
              })
              : undefined,
          })
        ),
      });
    },
    server: () => create(ServerResponseSchema, { uuid: options.uuid }),
  };
}

export { Introspection };
