/**
 * Handing runc a file's worth of bytes (an exec's process spec) through a
 * pipe, named as `/proc/PID/fd/N` as the process's stdio is: no file is
 * created, written and unlinked on the state directory's disk for each
 * exec, which on a busy disk costs milliseconds of journal waits.
 *
 * @module
 */
import { closeFd, pipe, setNonBlocking, writeFd } from "../sys/fdio.ts";

/**
 * Runs `use` with a path whose reader gets `bytes`, then end of file. The
 * bytes are written while `use` runs (a pipe holds 64 KiB before its
 * reader must take some); the pipe is gone once `use` has settled.
 */
export async function withPipedBytes<T>(
  bytes: Uint8Array,
  use: (path: string) => Promise<T>,
): Promise<T> {
  const [reader, writer] = pipe();
  setNonBlocking(writer);
  // A reader that never comes (runc failed first) ends the write when the
  // read end is closed below.
  const written = writeFd(writer, bytes).finally(() => closeFd(writer));
  try {
    return await use(`/proc/${Deno.pid}/fd/${reader}`);
  } finally {
    closeFd(reader);
    await written;
  }
}
