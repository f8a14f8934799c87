import assert from "node:assert/strict";
import { fromBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { ImageDeleteSchema } from "../gen/containerd/events/image_pb.ts";
import type { Image, ImageInput } from "../metadata/mod.ts";
import { notFound } from "../types/mod.ts";
import { Images, imagesService } from "./images.ts";
import { RecordingPublisher, routerClient } from "./_testing.ts";

const TARGET = {
  mediaType: "application/vnd.oci.image.manifest.v1+json",
  digest: `sha256:${"a".repeat(64)}`,
  size: 1234,
  annotations: { note: "x" },
};
/** {@linkcode TARGET} as a request carries it. */
const TARGET_MESSAGE = { ...TARGET, size: BigInt(TARGET.size) };
const CREATED = new Date(Date.UTC(2024, 1, 3, 4, 5, 6));

/** Image records in a map, with the store's NotFound. */
function fakeStore() {
  const records = new Map<string, Image>();
  const get = (namespace: string, name: string) => {
    const found = records.get(`${namespace}/${name}`);
    if (!found) throw notFound(`image "${name}"`);
    return found;
  };
  return {
    records,
    filters: [] as (readonly string[] | undefined)[],
    get,
    list(namespace: string, filters?: readonly string[]) {
      this.filters.push(filters);
      return [...records.entries()].filter(([k]) =>
        k.startsWith(`${namespace}/`)
      ).map(([, image]) => image);
    },
    create(namespace: string, input: ImageInput): Image {
      const image = {
        labels: {},
        ...input,
        createdAt: CREATED,
        updatedAt: CREATED,
      };
      records.set(`${namespace}/${input.name}`, image);
      return image;
    },
    update(namespace: string, input: ImageInput) {
      get(namespace, input.name);
      return this.create(namespace, input);
    },
    delete(namespace: string, name: string) {
      get(namespace, name);
      records.delete(`${namespace}/${name}`);
    },
  };
}

function setup() {
  const store = fakeStore();
  const events = new RecordingPublisher();
  const collections: number[] = [];
  const client = routerClient(
    Images,
    imagesService({
      store,
      events,
      runGc() {
        // Collection runs after the delete event is out.
        collections.push(events.published.length);
        return Promise.resolve();
      },
    }),
    { namespace: "ns1" },
  );
  return { store, events, collections, client };
}

Deno.test("Images.Create maps the target descriptor both ways and publishes /images/create", async () => {
  const { store, events, client } = setup();
  const res = await client.create({
    image: {
      name: "example.com/app:1",
      labels: { l: "v" },
      target: TARGET_MESSAGE,
    },
  });
  assert.deepEqual(store.records.get("ns1/example.com/app:1")?.target, TARGET);
  const target = res.image!.target!;
  assert.deepEqual(
    [target.mediaType, target.digest, target.size, target.annotations],
    [TARGET.mediaType, TARGET.digest, 1234n, TARGET.annotations],
  );
  assert.deepEqual(res.image?.labels, { l: "v" });
  assert.equal(res.image?.createdAt?.seconds, BigInt(CREATED.getTime() / 1000));
  assert.deepEqual(events.topics(), ["ns1 /images/create"]);
});

Deno.test("Images.Create without a name or target is InvalidArgument and changes nothing", async () => {
  const { store, events, client } = setup();
  await assert.rejects(client.create({ image: { target: TARGET_MESSAGE } }), {
    code: Code.InvalidArgument,
    rawMessage: "Image.Name required: invalid argument",
  });
  await assert.rejects(client.create({ image: { name: "x" } }), {
    code: Code.InvalidArgument,
    rawMessage: "Image.Target must be set: invalid argument",
  });
  assert.equal(store.records.size, 0);
  assert.deepEqual(events.published, []);
});

Deno.test("Images Get/Update of a missing image is NotFound naming it", async () => {
  const { events, client } = setup();
  await assert.rejects(client.get({ name: "nope" }), {
    code: Code.NotFound,
    rawMessage: 'image "nope": not found',
  });
  await assert.rejects(
    client.update({ image: { name: "nope", target: TARGET_MESSAGE } }),
    { code: Code.NotFound, rawMessage: 'image "nope": not found' },
  );
  assert.deepEqual(events.published, []);
});

Deno.test("Images.Delete publishes /images/delete and collects after it only with sync", async () => {
  const { store, events, collections, client } = setup();
  store.create("ns1", { name: "a", target: TARGET });
  store.create("ns1", { name: "b", target: TARGET });
  await client.delete({ name: "a" });
  assert.deepEqual(collections, []);
  await client.delete({ name: "b", sync: true });
  assert.deepEqual(collections, [2]);
  assert.deepEqual(events.topics(), [
    "ns1 /images/delete",
    "ns1 /images/delete",
  ]);
  const event = fromBinary(ImageDeleteSchema, events.published[1].event.value);
  assert.equal(event.name, "b");
});

Deno.test("Images.List passes filters through", async () => {
  const { store, client } = setup();
  store.create("ns1", { name: "a", target: TARGET });
  const res = await client.list({ filters: ["name==a"] });
  assert.deepEqual(res.images.map((i) => i.name), ["a"]);
  assert.deepEqual(store.filters, [["name==a"]]);
});
