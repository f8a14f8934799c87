/**
 * `grpc.health.v1.Health`: SERVING while the daemon runs.
 *
 * @module
 */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  Health,
  HealthCheckResponse_ServingStatus as ServingStatus,
  HealthCheckResponseSchema,
} from "../gen/grpc/health/v1/health_pb.ts";

/** The Health service. Watch reports once and holds until the call ends. */
export function healthService(): ServiceImpl<typeof Health> {
  const serving = () =>
    create(HealthCheckResponseSchema, { status: ServingStatus.SERVING });
  return {
    check: serving,
    async *watch(_req, ctx) {
      yield serving();
      await new Promise<void>((resolve) =>
        ctx.signal.addEventListener("abort", () => resolve(), { once: true })
      );
    },
  };
}

export { Health };
