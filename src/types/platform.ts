/**
 * Platforms (`linux/arm64/v8`): parsing, normalisation, formatting, the
 * host's default, and matchers that choose and order the manifests of an
 * index, with the same rules as containerd's platforms package (an arm64
 * host also runs arm/v8…v5, an amd64 host also runs 386).
 *
 * @module
 */
import { invalidArgument } from "./errors.ts";

/** A platform, as an OCI descriptor or config names one. */
export interface Platform {
  /** Operating system: `linux`, `windows` … */
  os: string;
  /** CPU architecture, Go's names: `amd64`, `arm64`, `arm`, `386` … */
  architecture: string;
  /** CPU variant: `v7`, `v8` …; empty or absent when none. */
  variant?: string;
  /** Operating system version (Windows). */
  osVersion?: string;
  /** Operating system features (Windows). */
  osFeatures?: string[];
}

/** Chooses and orders platforms. */
export interface PlatformMatcher {
  /** True when `platform` is acceptable. */
  match(platform: Platform): boolean;
  /** True when `a` is preferred to `b`. */
  less(a: Platform, b: Platform): boolean;
}

const KNOWN_OS = new Set([
  "aix",
  "android",
  "darwin",
  "dragonfly",
  "freebsd",
  "hurd",
  "illumos",
  "ios",
  "js",
  "linux",
  "nacl",
  "netbsd",
  "openbsd",
  "plan9",
  "solaris",
  "windows",
  "zos",
]);

const KNOWN_ARCH = new Set([
  "386",
  "amd64",
  "amd64p32",
  "arm",
  "armbe",
  "arm64",
  "arm64be",
  "ppc64",
  "ppc64le",
  "loong64",
  "mips",
  "mipsle",
  "mips64",
  "mips64le",
  "mips64p32",
  "mips64p32le",
  "ppc",
  "riscv",
  "riscv64",
  "s390",
  "s390x",
  "sparc",
  "sparc64",
  "wasm",
]);

const COMPONENT = /^[A-Za-z0-9_-]+$/;

/** The host's platform in Go's names, from `Deno.build`. */
export function hostPlatform(): Platform {
  const os = normalizeOS(Deno.build.os);
  const [architecture] = normalizeArch(Deno.build.arch, "");
  // Deno runs on 64-bit ARM only, whose variant the kernel reports as 8.
  const variant = architecture === "arm64" ? "v8" : "";
  return variant ? { os, architecture, variant } : { os, architecture };
}

function normalizeOS(os: string): string {
  if (!os) return hostPlatform().os;
  const lower = os.toLowerCase();
  return lower === "macos" ? "darwin" : lower;
}

function normalizeArch(arch: string, variant: string): [string, string] {
  arch = arch.toLowerCase();
  variant = variant.toLowerCase();
  switch (arch) {
    case "i386":
      return ["386", ""];
    case "x86_64":
    case "x86-64":
    case "amd64":
      return ["amd64", variant === "v1" ? "" : variant];
    case "aarch64":
    case "arm64":
      return ["arm64", variant === "8" || variant === "v8" ? "" : variant];
    case "armhf":
      return ["arm", "v7"];
    case "armel":
      return ["arm", "v6"];
    case "arm":
      if (variant === "" || variant === "7") return ["arm", "v7"];
      if (variant === "5" || variant === "6" || variant === "8") {
        return ["arm", `v${variant}`];
      }
      return ["arm", variant];
  }
  return [arch, variant];
}

/**
 * The canonical form of `platform`, the one matchers compare: lower case,
 * Go's names (`x86_64` → `amd64`, `aarch64` → `arm64`), default variants
 * dropped (`arm64/v8` → `arm64`) or made explicit (`arm` → `arm/v7`).
 */
export function normalizePlatform(platform: Platform): Platform {
  const [architecture, variant] = normalizeArch(
    platform.architecture ?? "",
    platform.variant ?? "",
  );
  const out: Platform = { os: normalizeOS(platform.os ?? ""), architecture };
  if (variant) out.variant = variant;
  if (platform.osVersion) out.osVersion = platform.osVersion;
  if (platform.osFeatures?.length) out.osFeatures = [...platform.osFeatures];
  return out;
}

/**
 * Parses a specifier: `os`, `arch`, `os/arch` or `os/arch/variant`. A lone
 * os takes the host's architecture, a lone architecture the host's os.
 *
 * @throws {BerthError} InvalidArgument for wildcards, bad components or an
 * unknown lone os or architecture.
 */
export function parsePlatform(specifier: string): Platform {
  const quoted = JSON.stringify(specifier);
  if (specifier.includes("*")) {
    throw invalidArgument(`${quoted}: wildcards not yet supported`);
  }
  const parts = specifier.split("/");
  for (const part of parts) {
    if (!COMPONENT.test(part)) {
      throw invalidArgument(
        `${
          JSON.stringify(part)
        } is an invalid component of ${quoted}: platform specifier component must match "^[A-Za-z0-9_-]+$"`,
      );
    }
  }
  const host = hostPlatform();
  const result = (os: string, architecture: string, variant: string) =>
    variant ? { os, architecture, variant } : { os, architecture };
  switch (parts.length) {
    case 1: {
      const os = normalizeOS(parts[0]);
      if (KNOWN_OS.has(os)) {
        // The host's architecture, with its variant unless it is the default.
        const variant = host.architecture === "arm" && host.variant !== "v7"
          ? host.variant ?? ""
          : "";
        return result(os, host.architecture, variant);
      }
      let [architecture, variant] = normalizeArch(parts[0], "");
      if (architecture === "arm" && variant === "v7") variant = "";
      if (KNOWN_ARCH.has(architecture)) {
        return result(host.os, architecture, variant);
      }
      throw invalidArgument(
        `${quoted}: unknown operating system or architecture`,
      );
    }
    case 2: {
      const os = normalizeOS(parts[0]);
      let [architecture, variant] = normalizeArch(parts[1], "");
      if (architecture === "arm" && variant === "v7") variant = "";
      return result(os, architecture, variant);
    }
    case 3: {
      const os = normalizeOS(parts[0]);
      let [architecture, variant] = normalizeArch(parts[1], parts[2]);
      if (architecture === "arm64" && variant === "") variant = "v8";
      return result(os, architecture, variant);
    }
  }
  throw invalidArgument(`${quoted}: cannot parse platform specifier`);
}

/** `os/arch[/variant]`, or `unknown` without an os. */
export function formatPlatform(platform: Platform): string {
  if (!platform.os) return "unknown";
  return [platform.os, platform.architecture, platform.variant]
    .filter((part) => part).join("/");
}

/** True when `a` and `b` are the same platform once normalised. */
function samePlatform(a: Platform, b: Platform): boolean {
  return a.os === b.os && a.architecture === b.architecture &&
    (a.variant ?? "") === (b.variant ?? "");
}

/** Matches exactly one platform (after normalising both sides). */
function exactMatcher(platform: Platform): (candidate: Platform) => boolean {
  const wanted = normalizePlatform(platform);
  return (candidate) => samePlatform(wanted, normalizePlatform(candidate));
}

/**
 * Matches any of `platforms`, preferring them in the order given (the
 * first one that matches either side decides).
 */
export function orderedPlatforms(...platforms: Platform[]): PlatformMatcher {
  const matchers = platforms.map(exactMatcher);
  return {
    match: (platform) => matchers.some((m) => m(platform)),
    less(a, b) {
      for (const m of matchers) {
        const am = m(a);
        const bm = m(b);
        if (am && !bm) return true;
        if (am || bm) return false;
      }
      return false;
    },
  };
}

/** Matches any of `platforms`, preferring a match to no match only. */
export function anyPlatform(...platforms: Platform[]): PlatformMatcher {
  const matchers = platforms.map(exactMatcher);
  return {
    match: (platform) => matchers.some((m) => m(platform)),
    less: (a, b) => matchers.some((m) => m(a)) && !matchers.some((m) => m(b)),
  };
}

/** Matches every platform, with no preference. */
export const ALL_PLATFORMS: PlatformMatcher = {
  match: () => true,
  less: () => false,
};

/**
 * The platforms `platform` can run, best first: itself, then older
 * variants (`arm/v7` → v6, v5; `amd64/v3` → v2, v1), 32-bit relatives
 * (`amd64` → `386`, `arm64` → `arm/v8` … `arm/v5`).
 */
export function compatiblePlatforms(platform: Platform): Platform[] {
  const vector: Platform[] = [platform];
  const sibling = (architecture: string, variant?: string): Platform => {
    const out: Platform = { os: platform.os, architecture };
    if (variant) out.variant = variant;
    if (platform.osVersion) out.osVersion = platform.osVersion;
    if (platform.osFeatures) out.osFeatures = platform.osFeatures;
    return out;
  };
  const version = (variant: string | undefined) => {
    const match = /^v?(\d+)$/.exec(variant ?? "");
    return match ? Number(match[1]) : NaN;
  };
  switch (platform.architecture) {
    case "amd64": {
      const v = version(platform.variant);
      for (let n = v - 1; n >= 1; n--) vector.push(sibling("amd64", `v${n}`));
      vector.push(sibling("386"));
      break;
    }
    case "arm": {
      const v = version(platform.variant);
      for (let n = v - 1; n >= 5; n--) vector.push(sibling("arm", `v${n}`));
      break;
    }
    case "arm64":
      vector.push(
        ...compatiblePlatforms(sibling("arm", platform.variant || "v8")),
      );
      break;
  }
  return vector;
}

/** `platform` and what it can also run, preferred in that order. */
export function onlyPlatform(platform: Platform): PlatformMatcher {
  return orderedPlatforms(...compatiblePlatforms(normalizePlatform(platform)));
}

/** `platform` alone: no older variants, no 32-bit relatives. */
export function onlyPlatformStrict(platform: Platform): PlatformMatcher {
  return orderedPlatforms(normalizePlatform(platform));
}

/** The host's matcher: {@linkcode onlyPlatform} of {@linkcode hostPlatform}. */
export function defaultPlatformMatcher(): PlatformMatcher {
  return onlyPlatform(hostPlatform());
}

/** Options of {@linkcode platformMatcher}. */
export interface PlatformSelection {
  /** Platforms wanted (specifiers or values); none means the host's. */
  platforms?: readonly (string | Platform)[];
  /** Every platform (wins over `platforms`). */
  all?: boolean;
  /** Only the platforms named, not what they can also run. */
  strict?: boolean;
}

/**
 * The matcher a selection describes, as ctr's flags do: `all` → every
 * platform; one platform → it and what it can run (or it alone when
 * `strict`); several → any of them; none → the host's.
 */
export function platformMatcher(
  selection: PlatformSelection = {},
): PlatformMatcher {
  if (selection.all) return ALL_PLATFORMS;
  const platforms = (selection.platforms ?? []).map((p) =>
    typeof p === "string" ? parsePlatform(p) : p
  );
  if (platforms.length === 0) {
    return selection.strict
      ? onlyPlatformStrict(hostPlatform())
      : defaultPlatformMatcher();
  }
  if (platforms.length === 1) {
    return selection.strict
      ? onlyPlatformStrict(platforms[0])
      : onlyPlatform(platforms[0]);
  }
  return selection.strict
    ? orderedPlatforms(...platforms)
    : anyPlatform(...platforms);
}

/** A platform from its OCI JSON form (`os`, `architecture`, `os.version` …). */
export function platformFromJSON(value: unknown, subject: string): Platform {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw invalidArgument(`${subject}: platform must be an object`);
  }
  const json = value as Record<string, unknown>;
  const text = (key: string): string | undefined => {
    const field = json[key];
    if (field === undefined || field === null) return undefined;
    if (typeof field !== "string") {
      throw invalidArgument(`${subject}: platform ${key} must be a string`);
    }
    return field;
  };
  const platform: Platform = {
    os: text("os") ?? "",
    architecture: text("architecture") ?? "",
  };
  const variant = text("variant");
  if (variant) platform.variant = variant;
  const osVersion = text("os.version");
  if (osVersion) platform.osVersion = osVersion;
  const features = json["os.features"];
  if (features !== undefined && features !== null) {
    if (
      !Array.isArray(features) || features.some((f) => typeof f !== "string")
    ) {
      throw invalidArgument(
        `${subject}: platform os.features must be a list of strings`,
      );
    }
    if (features.length) platform.osFeatures = features as string[];
  }
  return platform;
}

/** The OCI JSON form of a platform, keys in the image-spec's order. */
export function platformToJSON(platform: Platform): Record<string, unknown> {
  const json: Record<string, unknown> = {
    architecture: platform.architecture,
    os: platform.os,
  };
  if (platform.osVersion) json["os.version"] = platform.osVersion;
  if (platform.osFeatures?.length) json["os.features"] = platform.osFeatures;
  if (platform.variant) json.variant = platform.variant;
  return json;
}
