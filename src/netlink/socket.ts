/**
 * A `NETLINK_ROUTE` socket bound to one network namespace.
 *
 * How a namespace is entered safely: {@linkcode RouteSocket.open} opens the
 * namespace file, and, synchronously on the calling thread with no `await`
 * in between, `setns` into it, creates the socket and `setns` back
 * (`withNetns` of `src/sys/netns.ts`). A netlink socket stays bound to the
 * namespace it was created in, so every later request through it acts
 * there, while the daemon's threads all stay in the daemon's own namespace.
 * Nothing else ever runs inside the target namespace.
 *
 * Requests and answers are synchronous FFI calls: the kernel handles an
 * rtnetlink request while it is sent, so its answer is already queued.
 * Kernel errors become {@linkcode BerthError}s with the errno's meaning and
 * the kernel's own explanation (extended ack) when it gives one.
 *
 * @module
 */
import {
  closeFd,
  closeNetlinkSocket,
  netlinkReceive,
  netlinkSend,
  openNamespace,
  openNetlinkSocket,
  SyscallError,
  withNetns,
} from "../sys/mod.ts";
import { BerthError, Code } from "../types/mod.ts";
import {
  attrString,
  type Message,
  type MessageBuilder,
  NLM_F,
  NLMSG,
  NLMSGERR_ATTR_MSG,
  parseAttributes,
  parseMessages,
} from "./_wire.ts";

const NETLINK_ROUTE = 0;
const RECEIVE_BUFFER = 1 << 18;
const DUMP_ATTEMPTS = 5;

/** The gRPC code for each errno rtnetlink answers with. */
const ERRNO_CODES: Record<number, Code> = {
  1: Code.PermissionDenied, // EPERM
  2: Code.NotFound, // ENOENT
  3: Code.NotFound, // ESRCH (no such route)
  13: Code.PermissionDenied, // EACCES
  16: Code.FailedPrecondition, // EBUSY
  17: Code.AlreadyExists, // EEXIST
  19: Code.NotFound, // ENODEV
  22: Code.InvalidArgument, // EINVAL
  34: Code.InvalidArgument, // ERANGE
  36: Code.InvalidArgument, // ENAMETOOLONG
  95: Code.InvalidArgument, // EOPNOTSUPP
  97: Code.InvalidArgument, // EAFNOSUPPORT
  99: Code.NotFound, // EADDRNOTAVAIL
  100: Code.FailedPrecondition, // ENETDOWN
  101: Code.FailedPrecondition, // ENETUNREACH
};

/** A kernel refusal: a {@linkcode BerthError} that keeps its errno. */
export class NetlinkError extends BerthError {
  /** The errno the kernel answered with. */
  readonly errno: number;
  /** The error about `subject`, e.g. `subject: File exists: already exists`. */
  constructor(subject: string, errno: number, kernelText = "") {
    const meaning = new SyscallError("", errno).message.slice(2);
    const detail = kernelText ? ` (${kernelText})` : "";
    super(
      ERRNO_CODES[errno] ?? Code.Unknown,
      `${subject}: ${meaning}${detail}`,
    );
    this.errno = errno;
  }
}

/** Opens the namespace file at `path`, as a NotFound error when missing. */
export function openNetnsFile(path: string): number {
  try {
    return openNamespace(path);
  } catch (error) {
    if (error instanceof SyscallError) {
      throw new NetlinkError(`netns ${JSON.stringify(path)}`, error.errno);
    }
    throw error;
  }
}

/** A `NETLINK_ROUTE` socket in one network namespace. */
export class RouteSocket {
  #fd: number;
  #seq = Math.floor(Math.random() * 0x7fffffff);
  #buffer = new Uint8Array(RECEIVE_BUFFER);

  private constructor(fd: number) {
    this.#fd = fd;
  }

  /**
   * Opens a socket in the network namespace at `netnsPath` (a netns file or
   * `/proc/PID/ns/net`), or in the caller's own namespace when undefined.
   */
  static open(netnsPath?: string): RouteSocket {
    if (netnsPath === undefined) {
      return new RouteSocket(openNetlinkSocket(NETLINK_ROUTE));
    }
    closeFd(openNetnsFile(netnsPath)); // a missing file is NotFound
    return new RouteSocket(
      withNetns(netnsPath, () => openNetlinkSocket(NETLINK_ROUTE)),
    );
  }

  /** Closes the socket. */
  close(): void {
    closeNetlinkSocket(this.#fd);
  }

  /** Closes the socket (for `using`). */
  [Symbol.dispose](): void {
    this.close();
  }

  #send(message: MessageBuilder, flags: number): number {
    const seq = ++this.#seq;
    const bytes = message.finish(seq);
    const view = new DataView(bytes.buffer);
    view.setUint16(6, view.getUint16(6, true) | flags, true);
    netlinkSend(this.#fd, bytes);
    return seq;
  }

  /** Receives until `onMessage` returns true for a message of `seq`. */
  #receive(seq: number, subject: string, onMessage: (m: Message) => boolean) {
    for (;;) {
      // A copy: the buffer is reused while earlier messages are kept.
      const datagram = netlinkReceive(this.#fd, this.#buffer).slice();
      for (const message of parseMessages(datagram)) {
        if (message.seq !== seq) continue;
        if (message.type === NLMSG.ERROR) {
          const errno = -message.body.getInt32(0, true);
          if (errno === 0) return;
          throw new NetlinkError(subject, errno, kernelText(message));
        }
        if (onMessage(message)) return;
      }
    }
  }

  /**
   * Sends a change request and waits for its acknowledgement; a kernel
   * error is thrown about `subject`.
   */
  request(message: MessageBuilder, subject: string): void {
    const seq = this.#send(message, NLM_F.REQUEST | NLM_F.ACK);
    this.#receive(seq, subject, () => false);
  }

  /**
   * Sends a dump request and returns every answer message. A dump the
   * kernel marks inconsistent (the table changed meanwhile) is redone.
   */
  dump(message: MessageBuilder, subject: string): Message[] {
    for (let attempt = 1;; attempt++) {
      const seq = this.#send(message, NLM_F.REQUEST | NLM_F.DUMP);
      const messages: Message[] = [];
      let interrupted = false;
      this.#receive(seq, subject, (m) => {
        interrupted ||= (m.flags & NLM_F.DUMP_INTR) !== 0;
        if (m.type === NLMSG.DONE) return true;
        messages.push(m);
        return false;
      });
      if (!interrupted || attempt === DUMP_ATTEMPTS) return messages;
    }
  }

  /** Sends a get request for one object and returns its answer. */
  get(message: MessageBuilder, subject: string): Message {
    const seq = this.#send(message, NLM_F.REQUEST);
    let answer: Message | undefined;
    this.#receive(seq, subject, (m) => {
      answer = m;
      return true;
    });
    return answer!;
  }
}

/** The kernel's explanation in an extended ack, if any. */
function kernelText(message: Message): string {
  if (!(message.flags & NLM_F.ACK_TLVS)) return "";
  // nlmsgerr: error (4), the request's header (16), its payload unless capped.
  const requestLength = message.flags & NLM_F.CAPPED
    ? 16
    : (message.body.getUint32(4, true) + 3) & ~3;
  const text = parseAttributes(message.body, 4 + requestLength)
    .get(NLMSGERR_ATTR_MSG);
  return text ? attrString(text) : "";
}
