/**
 * Builds the project's offline test images (busybox-static into OCI
 * layouts) and optionally saves one as an OCI archive.
 *
 * Usage: `deno run -A scripts/build_test_images.ts NAME [--archive FILE]
 * [--ref REFERENCE]`, NAME one of busybox, multilayer, multiplatform.
 * Prints the layout directory (and the archive path).
 *
 * @module
 */
import {
  buildImage,
  type ImageName,
  saveOciArchive,
} from "../tests/fixtures/images.ts";

const NAMES: readonly ImageName[] = ["busybox", "multilayer", "multiplatform"];

if (import.meta.main) {
  const [name, ...rest] = Deno.args;
  if (!NAMES.includes(name as ImageName)) {
    console.error(
      `usage: build_test_images.ts ${
        NAMES.join("|")
      } [--archive FILE] [--ref REF]`,
    );
    Deno.exit(2);
  }
  const flag = (flagName: string) => {
    const at = rest.indexOf(flagName);
    return at >= 0 ? rest[at + 1] : undefined;
  };
  const image = await buildImage(name as ImageName);
  console.log(image.layout);
  const archive = flag("--archive");
  if (archive) {
    await saveOciArchive(
      image.layout,
      archive,
      flag("--ref") ?? `docker.io/library/${name}:latest`,
    );
    console.log(archive);
  }
}
