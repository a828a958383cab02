/**
 * The client certificate of an mTLS connection, in the engine-neutral shape of
 * `PeerCertificate`. Only node:https can provide it: the uWS build has no API
 * for the peer certificate (see LIMITS.md), which is why a configured CA makes
 * the server run on node:https.
 */
import type { TLSSocket } from 'node:tls';
import type { PeerCertificate } from './types.ts';

/**
 * The verified peer certificate of `socket`, or undefined when the connection
 * is not TLS, the client sent none, or it did not verify against the CA.
 */
export function peerCertificateOf(socket: TLSSocket): PeerCertificate | undefined {
  if (!socket.authorized) return undefined;
  // One parse per connection, not per keep-alive request.
  if (cache.has(socket)) return cache.get(socket);
  const parsed = parse(socket);
  cache.set(socket, parsed);
  return parsed;
}

const cache = new WeakMap<TLSSocket, PeerCertificate | undefined>();

function parse(socket: TLSSocket): PeerCertificate | undefined {
  const cert = socket.getPeerCertificate();
  if (!cert || Object.keys(cert).length === 0) return undefined;
  const subject: Record<string, string> = {};
  for (const [k, v] of Object.entries(cert.subject ?? {})) {
    // Node gives a string[] for a repeated attribute (e.g. two OU entries).
    subject[k] = Array.isArray(v) ? v.join(',') : String(v);
  }
  const san = parseSubjectAltName(cert.subjectaltname ?? '');
  return {
    subject,
    subjectText: Object.entries(subject)
      .map(([k, v]) => `${k}=${v}`)
      .join(','),
    dnsNames: san.DNS ?? [],
    emails: san.email ?? [],
    uris: san.URI ?? [],
  };
}

/**
 * Node's `subjectaltname` text, e.g. `DNS:a.example, email:x@y, URI:spiffe://t/w`.
 * Node JSON-quotes a value that contains a comma or quote, so split only on a
 * comma that starts a new `Type:` entry.
 */
export function parseSubjectAltName(text: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  if (!text) return out;
  for (const part of text.split(/, (?=[A-Za-z][A-Za-z ]*:)/)) {
    const i = part.indexOf(':');
    if (i < 0) continue;
    const type = part.slice(0, i);
    let value = part.slice(i + 1);
    if (value.startsWith('"')) {
      try {
        value = JSON.parse(value) as string;
      } catch {
        // keep the raw text
      }
    }
    (out[type] ??= []).push(value);
  }
  return out;
}
