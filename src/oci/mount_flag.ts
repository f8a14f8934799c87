/**
 * ctr's `--mount` syntax: comma-separated `key=value` fields (CSV, so a
 * field may be quoted), keys type, source|src, destination|dst, options
 * (colon-separated).
 *
 * @module
 */
import { BerthError, Code } from "../types/mod.ts";
import type { SpecMount } from "./spec.ts";

function csvError(line: string, why: string): BerthError {
  return new BerthError(
    Code.InvalidArgument,
    `mount ${JSON.stringify(line)}: ${why}`,
  );
}

/** Splits one CSV record as Go's encoding/csv does (strict quotes). */
function csvFields(line: string): string[] {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    let field = "";
    if (line[i] === '"') {
      i++;
      for (;;) {
        if (i >= line.length) throw csvError(line, "unterminated quote");
        if (line[i] === '"' && line[i + 1] === '"') {
          field += '"';
          i += 2;
        } else if (line[i] === '"') {
          i++;
          break;
        } else field += line[i++];
      }
      if (i < line.length && line[i] !== ",") {
        throw csvError(line, 'extraneous or missing " in quoted-field');
      }
    } else {
      const end = line.indexOf(",", i);
      field = line.slice(i, end < 0 ? line.length : end);
      if (field.includes('"')) {
        throw csvError(line, 'bare " in non-quoted-field');
      }
      i += field.length;
    }
    fields.push(field);
    if (i >= line.length) return fields;
    i++; // the comma
  }
}

/**
 * Parses one `--mount` value, e.g.
 * `type=bind,src=/a,dst=/b,options=rbind:ro`.
 */
export function parseMountFlag(value: string): SpecMount {
  const mount: SpecMount = { destination: "" };
  for (const field of csvFields(value)) {
    const eq = field.indexOf("=");
    if (eq < 0) {
      throw new BerthError(
        Code.InvalidArgument,
        "invalid mount specification: expected key=val",
      );
    }
    const key = field.slice(0, eq);
    const val = field.slice(eq + 1);
    switch (key) {
      case "type":
        mount.type = val;
        break;
      case "source":
      case "src":
        mount.source = val;
        break;
      case "destination":
      case "dst":
        mount.destination = val;
        break;
      case "options":
        mount.options = val.split(":");
        break;
      default:
        throw new BerthError(
          Code.InvalidArgument,
          `mount option ${JSON.stringify(key)} not supported`,
        );
    }
  }
  return mount;
}
