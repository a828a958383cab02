/**
 * Requests the bundled uWS build drops at the parser, and our best answer.
 *
 * Measured with raw sockets against uws_*_115.node (20.30.0-unofficial.0),
 * whose parser predates uWebSockets commit 05fe5bc ("Allow huge
 * content-lengths", Dec 2023, uWS v20.54):
 *
 * - A `Content-Length` value longer than 9 characters (so 1,000,000,000 bytes
 *   or more, and also e.g. `0000000005`) is a parser error. uWS FIRST calls
 *   our request handler with the full headers, THEN closes the socket without
 *   any HTTP response: no 400, no 413. The client sees EOF, or ECONNRESET
 *   when unread body bytes make the kernel send RST.
 * - A request carrying both `Transfer-Encoding` and `Content-Length` is
 *   closed silently too, but before our handler runs: nothing to answer.
 * - `Transfer-Encoding: chunked` bodies have no total-size limit.
 *
 * Because the handler runs before the close, we can still answer. Whatever
 * we write is corked, and uWS closes without uncorking, so a small answer is
 * thrown away. A body larger than the 16 KiB cork buffer forces an immediate
 * flush, so the envelope is padded with JSON whitespace past that size; it is
 * then on the wire before the close. Measured with a 1.1 GB body: curl shows
 * the 413 every time; skopeo (Go net/http) shows it in about a third of runs
 * and otherwise reports "broken pipe" (its transport races the response
 * against the write error); node:http reports ECONNRESET. See LIMITS.md.
 */
import { RegistryError } from '../errors/index.ts';

/** Largest request Content-Length the bundled uWS build accepts. */
export const UWS_MAX_CONTENT_LENGTH = 999_999_999;

/** uWS's cork buffer (LoopData::CORK_BUFFER_SIZE): writes that fit stay in it. */
const CORK_BUFFER_SIZE = 16 * 1024;

/** An answer for a request the uWS parser is about to drop. */
export interface ParserRejection {
  readonly status: number;
  readonly statusLine: string;
  /** The error envelope, padded so uWS flushes it before it closes the socket. */
  readonly body: string;
  readonly contentType: string;
}

/**
 * If uWS will drop this request after the handler returns, the answer to
 * write (synchronously, with `Connection: close`); otherwise undefined.
 */
export function uwsParserRejection(headers: Readonly<Record<string, string>>): ParserRejection | undefined {
  const cl = headers['content-length'];
  if (cl === undefined || cl.length <= String(UWS_MAX_CONTENT_LENGTH).length) return undefined;
  const err = new RegistryError(
    'PAYLOAD_TOO_LARGE',
    `this registry's HTTP engine cannot receive a request with Content-Length of ${UWS_MAX_CONTENT_LENGTH + 1} bytes or more`,
    {
      detail: {
        contentLength: cl,
        maxContentLength: UWS_MAX_CONTENT_LENGTH,
        advice:
          'push the blob in PATCH chunks smaller than 1000000000 bytes, or stream it with Transfer-Encoding: chunked; ' +
          'operators can run the registry with SKIFF_HTTP_ENGINE=node to lift this limit',
      },
    },
  );
  const envelope = JSON.stringify({ errors: [{ code: err.code, message: err.message, detail: err.detail }] });
  return {
    status: err.status,
    statusLine: '413 Payload Too Large',
    body: padPastCorkBuffer(envelope),
    contentType: 'application/json',
  };
}

/** Trailing whitespace is valid JSON (RFC 8259 §2) and pushes the write past the cork buffer. */
function padPastCorkBuffer(json: string): string {
  const want = CORK_BUFFER_SIZE + 1024;
  return json.length >= want ? json : json + '\n' + ' '.repeat(want - json.length - 2) + '\n';
}
