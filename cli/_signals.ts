/**
 * Linux signals by name, parsed as ctr parses them (moby's `ParseSignal`),
 * and forwarding the client's signals to a process in a container.
 *
 * @module
 */

/** Linux signal numbers by name without the `SIG` prefix. */
const SIGNALS: Readonly<Record<string, number>> = {
  HUP: 1,
  INT: 2,
  QUIT: 3,
  ILL: 4,
  TRAP: 5,
  ABRT: 6,
  IOT: 6,
  BUS: 7,
  FPE: 8,
  KILL: 9,
  USR1: 10,
  SEGV: 11,
  USR2: 12,
  PIPE: 13,
  ALRM: 14,
  TERM: 15,
  STKFLT: 16,
  CHLD: 17,
  CLD: 17,
  CONT: 18,
  STOP: 19,
  TSTP: 20,
  TTIN: 21,
  TTOU: 22,
  URG: 23,
  XCPU: 24,
  XFSZ: 25,
  VTALRM: 26,
  PROF: 27,
  WINCH: 28,
  IO: 29,
  POLL: 29,
  PWR: 30,
  SYS: 31,
  UNUSED: 31,
  RTMIN: 34,
  RTMAX: 64,
};

/** The real-time signals by offset: `RTMIN+n` and `RTMAX-n`. */
const REALTIME = /^RT(MIN\+(\d+)|MAX-(\d+))$/;

/**
 * A signal's number from `9`, `KILL`, `SIGKILL`, `sigkill`, `RTMIN+3`;
 * an error naming the value when there is no such signal.
 */
export function parseSignal(raw: string): number {
  if (/^-?\d+$/.test(raw)) {
    const n = Number(raw);
    if (n === 0 || n > 0xff) throw new Error(`invalid signal: ${raw}`);
    return n;
  }
  const name = raw.toUpperCase().replace(/^SIG/, "");
  const known = SIGNALS[name];
  if (known !== undefined) return known;
  const rt = REALTIME.exec(name);
  if (rt) {
    const n = rt[2] !== undefined
      ? SIGNALS.RTMIN + Number(rt[2])
      : SIGNALS.RTMAX - Number(rt[3]);
    if (n >= SIGNALS.RTMIN && n <= SIGNALS.RTMAX) return n;
  }
  throw new Error(`invalid signal: ${raw}`);
}

/**
 * The signals the client passes on to the container's process: those
 * Deno lets a program catch whose default would end the client (ctr
 * forwards all but SIGCHLD, SIGPIPE and SIGURG; Deno cannot catch the
 * rest).
 */
const FORWARDED: readonly Deno.Signal[] = [
  "SIGHUP",
  "SIGINT",
  "SIGQUIT",
  "SIGTERM",
  "SIGUSR1",
  "SIGUSR2",
];

/**
 * Forwards the client's signals to `kill` until disposed. A failed kill
 * is reported on stderr; the process is about to be gone anyway.
 */
export function forwardSignals(
  kill: (signal: number) => Promise<unknown>,
): Disposable {
  const handlers = FORWARDED.map((name) => {
    const handler = () => {
      kill(SIGNALS[name.slice(3)]).catch((err) =>
        console.error(`ctr: forward signal ${name}: ${err.message}`)
      );
    };
    Deno.addSignalListener(name, handler);
    return [name, handler] as const;
  });
  return {
    [Symbol.dispose]() {
      for (const [name, handler] of handlers) {
        Deno.removeSignalListener(name, handler);
      }
    },
  };
}
