/**
 * Every RPC of every service over Connect/JSON, as `curl --unix-socket`
 * with `application/json` sends it (HTTP/1.1), with real data: containers
 * the real `ctr` made, the busybox image, a registry on 127.0.0.1.
 * Streaming calls use Connect's enveloped `application/connect+json`.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { join } from "node:path";
import type { DescService } from "@bufbuild/protobuf";
import { Containers } from "../src/gen/containerd/services/containers/v1/containers_pb.ts";
import {
  Content,
  WriteAction,
} from "../src/gen/containerd/services/content/v1/content_pb.ts";
import { Diff } from "../src/gen/containerd/services/diff/v1/diff_pb.ts";
import { Events } from "../src/gen/containerd/services/events/v1/events_pb.ts";
import { Images } from "../src/gen/containerd/services/images/v1/images_pb.ts";
import { Introspection } from "../src/gen/containerd/services/introspection/v1/introspection_pb.ts";
import { Leases } from "../src/gen/containerd/services/leases/v1/leases_pb.ts";
import { Namespaces } from "../src/gen/containerd/services/namespaces/v1/namespace_pb.ts";
import { Snapshots } from "../src/gen/containerd/services/snapshots/v1/snapshots_pb.ts";
import { Tasks } from "../src/gen/containerd/services/tasks/v1/tasks_pb.ts";
import { Version } from "../src/gen/containerd/services/version/v1/version_pb.ts";
import { Health } from "../src/gen/grpc/health/v1/health_pb.ts";
import { Network } from "../src/gen/berth/services/network/v1/network_pb.ts";
import { Transfer } from "../src/gen/berth/services/transfer/v1/transfer_pb.ts";
import { Client } from "../src/client/mod.ts";
import { BUSYBOX, withBusybox } from "./_containers.ts";
import type { TestDaemon } from "./_harness.ts";
import { startRegistry } from "./fixtures/registry.ts";

/** Every service the daemon serves. */
const SERVICES: DescService[] = [
  Containers,
  Content,
  Diff,
  Events,
  Health,
  Images,
  Introspection,
  Leases,
  Namespaces,
  Network,
  Snapshots,
  Tasks,
  Transfer,
  Version,
];

type Json = Record<string, unknown>;

/** A Connect/JSON answer: the messages, or the error. */
interface Answer {
  messages: Json[];
  error?: { code: string; message: string };
}

/** Connect's stream envelope: flags, big-endian length, payload. */
function envelope(flags: number, payload: unknown): Uint8Array {
  const body = Buffer.from(JSON.stringify(payload));
  const head = Buffer.alloc(5);
  head.writeUInt8(flags, 0);
  head.writeUInt32BE(body.length, 1);
  return Buffer.concat([head, body]);
}

function parseEnvelopes(bytes: Uint8Array): Answer {
  const buf = Buffer.from(bytes);
  const answer: Answer = { messages: [] };
  for (let at = 0; at + 5 <= buf.length;) {
    const flags = buf.readUInt8(at);
    const length = buf.readUInt32BE(at + 1);
    const payload = JSON.parse(
      buf.subarray(at + 5, at + 5 + length).toString() || "{}",
    );
    at += 5 + length;
    if (flags & 2) answer.error = payload.error;
    else answer.messages.push(payload);
  }
  return answer;
}

/** Calls the daemon as curl does, recording which methods were called. */
class JsonClient {
  readonly called = new Set<string>();
  /** The lease what the calls create is held by, if any. */
  lease?: string;
  constructor(
    readonly daemon: TestDaemon,
    readonly namespace: string = daemon.namespace,
  ) {}

  async #curl(path: string, type: string, body: Uint8Array, maxTime = 60) {
    const file = join(this.daemon.dir, "body");
    await Deno.writeFile(file, body);
    const out = await new Deno.Command("curl", {
      args: [
        "-sS",
        "--max-time",
        String(maxTime),
        "--unix-socket",
        this.daemon.address,
        "-H",
        `content-type: ${type}`,
        "-H",
        `containerd-namespace: ${this.namespace}`,
        ...(this.lease ? ["-H", `containerd-lease: ${this.lease}`] : []),
        "--data-binary",
        `@${file}`,
        `http://localhost/${path}`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    return out.stdout;
  }

  /** A unary call; fails unless it succeeds, or `code` is expected. */
  async unary(
    service: DescService,
    method: string,
    request: Json,
    code?: string,
  ): Promise<Json> {
    this.called.add(`${service.typeName}/${method}`);
    const out = await this.#curl(
      `${service.typeName}/${method}`,
      "application/json",
      Buffer.from(JSON.stringify(request)),
    );
    const json = JSON.parse(new TextDecoder().decode(out) || "{}") as Json;
    const what = `${service.typeName}/${method}: ${JSON.stringify(json)}`;
    assert.equal(json.code, code, what);
    return json;
  }

  /** A streaming call with all request messages in one body. */
  async stream(
    service: DescService,
    method: string,
    requests: Json[],
    options: { maxTime?: number; code?: string } = {},
  ): Promise<Json[]> {
    this.called.add(`${service.typeName}/${method}`);
    const body = Buffer.concat(requests.map((r) => envelope(0, r)));
    const out = await this.#curl(
      `${service.typeName}/${method}`,
      "application/connect+json",
      body,
      options.maxTime,
    );
    const answer = parseEnvelopes(out);
    assert.equal(
      answer.error?.code,
      options.code,
      `${service.typeName}/${method}: ${JSON.stringify(answer)}`,
    );
    return answer.messages;
  }

  /**
   * A bidirectional stream: the Connect protocol carries those over HTTP/2
   * only, and berth's HTTP/2 serves gRPC: HTTP/1.1 refuses it (505).
   */
  async refused(service: DescService, method: string): Promise<void> {
    this.called.add(`${service.typeName}/${method}`);
    const out = await new Deno.Command("curl", {
      args: [
        "-sS",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--unix-socket",
        this.daemon.address,
        "-H",
        "content-type: application/connect+json",
        "--data-binary",
        "",
        `http://localhost/${service.typeName}/${method}`,
      ],
      stdout: "piped",
    }).output();
    assert.equal(new TextDecoder().decode(out.stdout), "505");
  }

  /**
   * A stream that never ends on its own (Subscribe, Watch): runs `meanwhile`
   * (again, while nothing came: a subscription may not be in place yet)
   * until the messages satisfy `until`; returns the messages so far.
   */
  async follow(
    service: DescService,
    method: string,
    request: Json,
    until: (messages: Json[]) => boolean,
    meanwhile: () => Promise<void>,
  ): Promise<Json[]> {
    this.called.add(`${service.typeName}/${method}`);
    const file = join(this.daemon.dir, `follow-${method}`);
    await Deno.writeFile(file, envelope(0, request));
    const child = new Deno.Command("curl", {
      args: [
        "-sSN",
        "--unix-socket",
        this.daemon.address,
        "-H",
        "content-type: application/connect+json",
        "-H",
        `containerd-namespace: ${this.namespace}`,
        "--data-binary",
        `@${file}`,
        `http://localhost/${service.typeName}/${method}`,
      ],
      stdout: "piped",
      stderr: "null",
    }).spawn();
    let answer: Answer = { messages: [] };
    const reading = (async () => {
      let bytes = new Uint8Array();
      for await (const chunk of child.stdout) {
        bytes = new Uint8Array([...bytes, ...chunk]);
        answer = parseEnvelopes(bytes);
      }
    })();
    try {
      for (let i = 0; i < 100 && !until(answer.messages); i++) {
        if (answer.error) throw new Error(JSON.stringify(answer.error));
        await meanwhile();
        for (let j = 0; j < 10 && !until(answer.messages); j++) {
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    } finally {
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      await child.status;
      await reading.catch(() => {});
    }
    assert.ok(until(answer.messages), JSON.stringify(answer));
    return answer.messages;
  }
}

const SPEC_TYPE = "types.containerd.io/opencontainers/runtime-spec/1/Spec";

Deno.test("every RPC of every service works over Connect/JSON", async () => {
  await using registry = await startRegistry();
  await withBusybox(async (daemon, ctrRun) => {
    const c = new JsonClient(daemon);
    const started = await ctrRun([
      "-d",
      BUSYBOX,
      "made-by-ctr",
      "sleep",
      "600",
    ]);
    assert.equal(started.code, 0, started.stderr);

    // Version, introspection, health.
    assert.match(
      String((await c.unary(Version, "Version", {})).version),
      /\d/,
    );
    await c.unary(Introspection, "Plugins", {});
    assert.ok((await c.unary(Introspection, "Server", {})).uuid);
    assert.equal(
      (await c.unary(Health, "Check", {})).status,
      "SERVING",
    );
    await c.follow(
      Health,
      "Watch",
      {},
      (ms) => ms.some((m) => m.status === "SERVING"),
      async () => {},
    );

    // Namespaces.
    await c.unary(Namespaces, "Create", {
      namespace: { name: "json-ns", labels: { a: "1" } },
    });
    assert.deepEqual(
      (await c.unary(Namespaces, "Get", { name: "json-ns" })).namespace,
      { name: "json-ns", labels: { a: "1" } },
    );
    await c.unary(Namespaces, "List", {});
    await c.unary(Namespaces, "Update", {
      namespace: { name: "json-ns", labels: { b: "2" } },
      updateMask: "labels.b",
    });
    await c.unary(Namespaces, "Delete", { name: "json-ns" });

    // Containers: the one ctr made, with its spec and runc options.
    const got = await c.unary(Containers, "Get", { id: "made-by-ctr" });
    const container = got.container as Json;
    const spec = container.spec as Json;
    assert.equal(spec["@type"], SPEC_TYPE);
    assert.equal((spec.value as Json).ociVersion, "1.0.2-dev");
    const runtime = container.runtime as Json;
    assert.equal(
      (runtime.options as Json)["@type"],
      "containerd.runc.v1.Options",
    );
    await c.unary(Containers, "List", { filters: ["id==made-by-ctr"] });
    const listed = await c.stream(Containers, "ListStream", [{}]);
    assert.equal(listed.length, 1);
    // A copy made from the JSON: what the real ctr reads back is the same.
    await c.unary(Containers, "Create", {
      container: {
        ...container,
        id: "made-from-json",
        snapshotKey: "",
        createdAt: undefined,
        updatedAt: undefined,
      },
    });
    const infos = await Promise.all(
      ["made-by-ctr", "made-from-json"].map(async (id) =>
        JSON.parse((await daemon.ctr(["containers", "info", id])).stdout)
      ),
    );
    assert.deepEqual(infos[1].Spec, infos[0].Spec);
    assert.deepEqual(infos[1].Runtime, infos[0].Runtime);
    await c.unary(Containers, "Update", {
      container: { id: "made-from-json", labels: { x: "y" } },
      updateMask: "labels",
    });
    await c.unary(Containers, "Delete", { id: "made-from-json" });

    // Tasks, on the container ctr started.
    const task = await c.unary(Tasks, "Get", { containerId: "made-by-ctr" });
    assert.equal((task.process as Json).status, "RUNNING");
    await c.unary(Tasks, "List", {});
    await c.unary(Tasks, "ListPids", { containerId: "made-by-ctr" });
    const metrics = await c.unary(Tasks, "Metrics", {
      filters: ["id==made-by-ctr"],
    });
    const metric = (metrics.metrics as Json[])[0];
    assert.match(
      String((metric.data as Json)["@type"]),
      /^io\.containerd\.cgroups\.v[12]\.Metrics$/,
    );
    await c.unary(Tasks, "Pause", { containerId: "made-by-ctr" });
    await c.unary(Tasks, "Resume", { containerId: "made-by-ctr" });
    await c.unary(Tasks, "Update", {
      containerId: "made-by-ctr",
      resources: {
        "@type":
          "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources",
        value: { pids: { limit: 500 } },
      },
    });
    // The update reached the container's cgroup (v1 or v2).
    const cgroups = await Deno.readTextFile(
      `/proc/${(task.process as Json).pid}/cgroup`,
    );
    const v1 = cgroups.match(/^\d+:pids:(.*)$/m)?.[1];
    const pidsMax = v1 === undefined
      ? `/sys/fs/cgroup${cgroups.match(/^0::(.*)$/m)![1]}/pids.max`
      : `/sys/fs/cgroup/pids${v1}/pids.max`;
    assert.equal((await Deno.readTextFile(pidsMax)).trim(), "500");
    const processSpec = {
      ...(spec.value as Json).process as Json,
      args: ["sh", "-c", "exit 7"],
      terminal: false,
    };
    await c.unary(Tasks, "Exec", {
      containerId: "made-by-ctr",
      execId: "json-exec",
      spec: {
        "@type": "types.containerd.io/opencontainers/runtime-spec/1/Process",
        value: processSpec,
      },
    });
    await c.unary(Tasks, "Start", {
      containerId: "made-by-ctr",
      execId: "json-exec",
    });
    assert.equal(
      (await c.unary(Tasks, "Wait", {
        containerId: "made-by-ctr",
        execId: "json-exec",
      })).exitStatus,
      7,
    );
    await c.unary(Tasks, "CloseIO", {
      containerId: "made-by-ctr",
      execId: "json-exec",
      stdin: true,
    });
    // An exited exec's resize is refused (Unknown, as containerd's shim
    // refuses it); the running init's is answered.
    await c.unary(Tasks, "ResizePty", {
      containerId: "made-by-ctr",
      width: 80,
      height: 24,
    });
    await c.unary(Tasks, "DeleteProcess", {
      containerId: "made-by-ctr",
      execId: "json-exec",
    });
    // Checkpoints need CRIU, which cannot run here (README).
    await c.unary(
      Tasks,
      "Checkpoint",
      { containerId: "made-by-ctr" },
      "unimplemented",
    );
    await c.unary(Tasks, "Kill", {
      containerId: "made-by-ctr",
      signal: 9,
      all: true,
    });
    assert.equal(
      (await c.unary(Tasks, "Wait", { containerId: "made-by-ctr" })).exitStatus,
      137,
    );
    await c.unary(Tasks, "Delete", { containerId: "made-by-ctr" });
    // A new task for it, with no stdio, from JSON with runc options.
    await c.unary(Tasks, "Create", {
      containerId: "made-by-ctr",
      options: { "@type": "containerd.runc.v1.Options", systemdCgroup: false },
    });
    await c.unary(Tasks, "Start", { containerId: "made-by-ctr" });
    await c.unary(Tasks, "Kill", { containerId: "made-by-ctr", signal: 9 });
    await c.unary(Tasks, "Wait", { containerId: "made-by-ctr" });
    await c.unary(Tasks, "Delete", { containerId: "made-by-ctr" });

    // Events: what is published comes back through Subscribe.
    const event = {
      "@type": "containerd.events.ContainerCreate",
      id: "json-event",
      image: BUSYBOX,
      runtime: { name: "io.containerd.runc.v2" },
    };
    const seen = await c.follow(
      Events,
      "Subscribe",
      { filters: ['topic~="/json/"'] },
      (ms) =>
        ["/json/published", "/json/forwarded"].every((topic) =>
          ms.some((m) => m.topic === topic)
        ),
      async () => {
        await c.unary(Events, "Publish", { topic: "/json/published", event });
        await c.unary(Events, "Forward", {
          envelope: {
            timestamp: new Date().toISOString(),
            namespace: daemon.namespace,
            topic: "/json/forwarded",
            event,
          },
        });
      },
    );
    for (const topic of ["/json/published", "/json/forwarded"]) {
      const got = seen.find((m) => m.topic === topic);
      assert.deepEqual(got?.event, event, topic);
    }

    // Images.
    const image = (await c.unary(Images, "Get", { name: BUSYBOX }))
      .image as Json;
    const target = image.target as Json;
    await c.unary(Images, "List", {});
    await c.unary(Images, "Create", {
      image: { name: "json/copy:1", target },
    });
    await c.unary(Images, "Update", {
      image: { name: "json/copy:1", target, labels: { k: "v" } },
      updateMask: "labels",
    });
    await c.unary(Images, "Delete", { name: "json/copy:1", sync: true });

    // Content.
    await c.stream(Content, "List", [{}]);
    const info = await c.unary(Content, "Info", { digest: target.digest });
    assert.equal((info.info as Json).size, String(target.size));
    await c.unary(Content, "Update", {
      info: { digest: target.digest, labels: { "json.test": "1" } },
      updateMask: "labels.json.test",
    });
    const read = await c.stream(Content, "Read", [{ digest: target.digest }]);
    const bytes = Buffer.concat(
      read.map((m) => Buffer.from(String(m.data ?? ""), "base64")),
    );
    assert.equal(bytes.length, Number(target.size));
    const data = Buffer.from("written over Connect/JSON\n");
    const { createHash } = await import("node:crypto");
    const digest = `sha256:${createHash("sha256").update(data).digest("hex")}`;
    // Write is bidirectional: an ingest made over gRPC, seen in JSON.
    await c.refused(Content, "Write");
    const grpcContent = new Client({
      address: daemon.address,
      namespace: daemon.namespace,
    }).service(Content);
    for await (
      const _ of grpcContent.write((async function* () {
        yield {
          action: WriteAction.WRITE,
          ref: "json-partial",
          total: BigInt(data.length),
          data: data.subarray(0, 5),
        };
      })())
    ) { /* drain */ }
    const status = await c.unary(Content, "Status", { ref: "json-partial" });
    assert.equal((status.status as Json).offset, "5");
    await c.unary(Content, "ListStatuses", {});
    await c.unary(Content, "Abort", { ref: "json-partial" });
    await Deno.writeFile(join(daemon.dir, "blob"), data);
    const ingested = await daemon.ctr([
      "content",
      "ingest",
      "--expected-digest",
      digest,
      "json-whole",
    ], { stdin: { file: join(daemon.dir, "blob") } });
    assert.equal(ingested.code, 0, ingested.stderr);
    await c.unary(Content, "Delete", { digest });

    // Snapshots and diff: a layer made from two mounts, applied to a third,
    // all under a lease (or the collector could take them meanwhile).
    await c.unary(Leases, "Create", { id: "json-snapshots" });
    c.lease = "json-snapshots";
    const snap = (req: Json) => ({ snapshotter: "overlayfs", ...req });
    const base = await c.unary(Snapshots, "Prepare", snap({ key: "json-a" }));
    await c.unary(Snapshots, "Mounts", snap({ key: "json-a" }));
    await c.unary(Snapshots, "Stat", snap({ key: "json-a" }));
    await c.unary(
      Snapshots,
      "Update",
      snap({
        info: { name: "json-a", labels: { l: "1" } },
        updateMask: "labels.l",
      }),
    );
    await c.stream(Snapshots, "List", [snap({})]);
    await c.unary(Snapshots, "Usage", snap({ key: "json-a" }));
    await c.unary(Snapshots, "Commit", snap({ name: "json-c", key: "json-a" }));
    const lower = await c.unary(
      Snapshots,
      "View",
      snap({ key: "json-v", parent: "json-c" }),
    );
    const upper = await c.unary(
      Snapshots,
      "Prepare",
      snap({ key: "json-b", parent: "json-c" }),
    );
    void base;
    const layer = await c.unary(Diff, "Diff", {
      left: lower.mounts,
      right: upper.mounts,
      mediaType: "application/vnd.oci.image.layer.v1.tar",
    });
    const applied = await c.unary(
      Snapshots,
      "Prepare",
      snap({ key: "json-d", parent: "json-c" }),
    );
    await c.unary(Diff, "Apply", {
      diff: layer.diff,
      mounts: applied.mounts,
    });
    for (const key of ["json-v", "json-b", "json-d", "json-c"]) {
      await c.unary(Snapshots, "Remove", snap({ key }));
    }
    await c.unary(Snapshots, "Cleanup", snap({}));
    c.lease = undefined;
    await c.unary(Leases, "Delete", { id: "json-snapshots" });

    // Leases.
    await c.unary(Leases, "Create", { id: "json-lease", labels: { a: "b" } });
    const resource = { id: String(target.digest), type: "content" };
    await c.unary(Leases, "AddResource", { id: "json-lease", resource });
    assert.deepEqual(
      (await c.unary(Leases, "ListResources", { id: "json-lease" })).resources,
      [resource],
    );
    await c.unary(Leases, "DeleteResource", { id: "json-lease", resource });
    await c.unary(Leases, "List", {});
    await c.unary(Leases, "Delete", { id: "json-lease", sync: true });

    // Transfer: export, import, push to and pull from a registry.
    const archive = await c.stream(Transfer, "Export", [{ images: [BUSYBOX] }]);
    const tar = Buffer.concat(
      archive.map((m) => Buffer.from(String(m.data ?? ""), "base64")),
    );
    assert.ok(tar.length > 100_000);
    await c.refused(Transfer, "Import");
    const remote = `${registry.host}/json/busybox:1`;
    const plain = { plainHttp: true };
    await c.stream(Transfer, "Push", [{
      image: BUSYBOX,
      reference: remote,
      registry: plain,
    }]);
    const pulled = await c.stream(Transfer, "Pull", [{
      reference: remote,
      registry: plain,
      snapshotter: "overlayfs",
    }]);
    assert.equal(pulled.at(-1)?.image, remote);

    // Network: namespaces and listings (attachments need a CNI network).
    await c.unary(Network, "ListNetworks", {});
    await c.unary(Network, "ListAttachments", {});
    await c.unary(Network, "ListNamespaces", {});
    const netns = `json-${Deno.pid}`;
    await c.unary(Network, "CreateNamespace", { namespace: { name: netns } });
    await c.unary(Network, "GetNamespace", { name: netns });
    await c.unary(Network, "UpdateNamespace", {
      namespace: { name: netns, labels: { a: "1" } },
      updateMask: "labels.a",
    });
    await c.unary(Network, "CreateInterface", {
      netns,
      name: "json0",
      type: "bridge",
    });
    await c.unary(Network, "UpdateInterface", {
      netns,
      name: "json0",
      up: true,
    });
    const links = await c.unary(Network, "ListInterfaces", { netns });
    assert.ok(
      (links.interfaces as Json[]).some((l) => l.name === "json0" && l.up),
    );
    await c.unary(Network, "DeleteInterface", { netns, name: "json0" });
    await c.unary(
      Network,
      "Attach",
      { network: "no-such-network", netns, containerId: "made-by-ctr" },
      "not_found",
    );
    for (const method of ["Check", "Detach"]) {
      await c.unary(Network, method, { id: "no-such-attachment" }, "not_found");
    }
    await c.unary(Network, "DeleteNamespace", { name: netns });

    const missing = SERVICES.flatMap((s) =>
      s.methods.map((m) => `${s.typeName}/${m.name}`)
    ).filter((name) => !c.called.has(name));
    assert.deepEqual(missing, []);
  });
});
