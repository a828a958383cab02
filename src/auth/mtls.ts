import type { MtlsConfig } from '../config/types.ts';
import type { Identity, PeerCertificateFields } from './types.ts';

/**
 * Client-certificate identity (zot `http.auth.mtls`): the first of `identityAttributes`
 * (in order; default `CommonName`) that yields a value names the user.
 * - `CommonName`: the subject CN; `Subject`: the whole subject, `CN=...,O=...`;
 * - `Email`, `URI`, `DNSName`: a subject-alternative-name entry, the one at
 *   `emailSanIndex` / `uriSanIndex` / `dnsSanIndex` (default 0);
 * - `uriSanPattern`: a regular expression the URI must match (e.g. SPIFFE ids); its
 *   first capture group, when it has one, is the identity.
 * The certificate itself was verified against `http.tls.cacert` by the TLS layer.
 */
export class MtlsMapper {
  private readonly attributes: string[];
  private readonly uriPattern: RegExp | undefined;

  constructor(private readonly cfg: MtlsConfig = {}) {
    this.attributes = (cfg.identityAttributes?.length ? cfg.identityAttributes : ['CommonName']).map((a) => a.toLowerCase());
    this.uriPattern = cfg.uriSanPattern ? new RegExp(cfg.uriSanPattern) : undefined;
  }

  /** The identity a certificate maps to, or undefined when no attribute yields one. */
  identify(cert: PeerCertificateFields): Identity | undefined {
    for (const attr of this.attributes) {
      const name = this.value(attr, cert);
      if (name) return { name, groups: [], method: 'mtls' };
    }
    return undefined;
  }

  private value(attr: string, cert: PeerCertificateFields): string | undefined {
    switch (attr) {
      case 'commonname':
      case 'cn':
        return cert.subject.CN;
      case 'subject':
        return cert.subjectText || undefined;
      case 'email':
        return cert.emails[this.cfg.emailSanIndex ?? 0];
      case 'dnsname':
      case 'dns':
        return cert.dnsNames[this.cfg.dnsSanIndex ?? 0];
      case 'uri': {
        if (!this.uriPattern) return cert.uris[this.cfg.uriSanIndex ?? 0];
        const matching = cert.uris.map((u) => this.uriPattern!.exec(u)).filter((m): m is RegExpExecArray => m !== null);
        const m = matching[this.cfg.uriSanIndex ?? 0];
        return m ? (m[1] ?? m[0]) : undefined;
      }
      default:
        return undefined;
    }
  }
}
