// Decoding of quoted literals ("…", /…/, |…|) with Go string escapes.

const encoder = new TextEncoder();
const decoder = new TextDecoder();

const SIMPLE_ESCAPES: Readonly<Record<string, number>> = {
  a: 0x07,
  b: 0x08,
  f: 0x0c,
  n: 0x0a,
  r: 0x0d,
  t: 0x09,
  v: 0x0b,
};

/**
 * Decodes a quoted literal that the scanner accepted (so its escapes are
 * well formed). As in Go, `\x` and octal escapes denote bytes, which are
 * assembled with the rest of the text as UTF-8: `"\xe7\x89\x9b"` is `牛`.
 * Returns undefined for an escape out of range (octal above `\377`, `\U`
 * above U+10FFFF).
 */
export function unquote(quoted: string): string | undefined {
  const body = quoted.slice(1, -1);
  const bytes: number[] = [];
  const pushText = (text: string) => bytes.push(...encoder.encode(text));
  let i = 0;
  while (i < body.length) {
    const slash = body.indexOf("\\", i);
    if (slash < 0) {
      pushText(body.slice(i));
      break;
    }
    pushText(body.slice(i, slash));
    const kind = body[slash + 1];
    i = slash + 2;
    if (Object.hasOwn(SIMPLE_ESCAPES, kind)) {
      bytes.push(SIMPLE_ESCAPES[kind]);
    } else if (kind === "x") {
      bytes.push(parseInt(body.slice(i, i + 2), 16));
      i += 2;
    } else if (kind === "u" || kind === "U") {
      const width = kind === "u" ? 4 : 8;
      const ch = parseInt(body.slice(i, i + width), 16);
      if (ch > 0x10ffff) return undefined;
      pushText(String.fromCodePoint(ch));
      i += width;
    } else if (kind >= "0" && kind <= "7") {
      const byte = parseInt(body.slice(i - 1, i + 2), 8);
      if (byte > 0xff) return undefined;
      bytes.push(byte);
      i += 2;
    } else {
      // `\\` or the escaped delimiter itself.
      pushText(kind);
    }
  }
  return decoder.decode(Uint8Array.from(bytes));
}
