/**
 * Hands a connection whose body was read past node's parser (node-socket-body.ts) back to
 * node, so it can carry the client's next request.
 *
 * Why: without it such a reply said `Connection: close`, and a client pushing in 8 MiB
 * PATCHes opened a new connection for every one, each starting with the kernel's small
 * receive window again (256 MiB in 8 MiB PATCHes, alternating builds: 807 against 703 MiB/s,
 * medians of 15 pushes each).
 *
 * How: node's parser still counts the body bytes it never saw. It is run over that many
 * bytes of filler with its body callback unset, which makes it count them without copying or
 * delivering any, until it reaches the end of the message; then node's reading is switched
 * back on the way node's own drain handler does it. This relies on node:http internals read
 * in Node 20's lib/_http_server.js and _http_common.js (`socket.parser`, the parser's
 * numbered callbacks, `execute`, `pause`/`resume`, `socket._paused`); anything not as
 * expected returns false and the connection closes after the reply, as before.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

/** The slice of node's HTTPParser used here. */
interface NodeParser {
  [slot: number]: unknown;
  incoming: unknown;
  execute(data: Buffer): number | Error;
  resume(): void;
}

type ParsedSocket = Socket & { parser?: NodeParser | null; _paused?: boolean };

/** Filler fed to the parser; its bytes never leave it (the body callback is unset). */
let filler: Buffer | undefined;
const FILLER_BYTES = 1024 * 1024;
/** Where node keeps its parser callbacks (indices 0 to 6 in Node 20 and 22). */
const SLOTS = 16;

/**
 * Lets node's parser skip the `unseen` body bytes of `req` and restarts node's reading of its
 * socket. False when the parser is not in the expected state; the caller then closes the
 * connection after the reply.
 */
export function rejoinParser(req: IncomingMessage, unseen: number): boolean {
  const socket = req.socket as ParsedSocket;
  const parser = socket.parser;
  if (!parser || parser.incoming !== req || req.complete || socket.destroyed || typeof parser.execute !== 'function') return false;
  const slot = bodySlot(parser);
  if (slot === undefined) return false;
  const onBody = parser[slot];
  parser[slot] = null;
  try {
    // Paused by node's execute hook while the socket was stopped; a paused parser refuses input.
    parser.resume();
    filler ??= Buffer.alloc(FILLER_BYTES);
    for (let left = unseen; left > 0; ) {
      const piece = filler.subarray(0, Math.min(left, filler.length));
      const used = parser.execute(piece);
      if (used !== piece.length) return false;
      left -= piece.length;
    }
  } finally {
    parser[slot] = onBody;
  }
  if (!req.complete) return false;
  // As node's drain handler restarts a paused socket (lib/_http_server.js socketOnDrain).
  socket._paused = false;
  socket.resume();
  // Lets 'end' fire so node lets go of the request (clearIncoming).
  req.resume();
  return true;
}

/** The slot holding node's parserOnBody, found by its name rather than a number that may move. */
function bodySlot(parser: NodeParser): number | undefined {
  for (let i = 0; i < SLOTS; i++) {
    const f = parser[i];
    if (typeof f === 'function' && f.name === 'parserOnBody') return i;
  }
  return undefined;
}
