import { Client, EqualityFilter, type ClientOptions } from 'ldapts';
import type { ConnectionOptions } from 'node:tls';
import type { Logger } from 'pino';
import type { LdapConfig } from '../config/types.ts';
import { readTextFile } from '../platform/watched-files.ts';

/** The bind account, from `credentialsFile` (zot: a JSON file with bindDN and bindPassword). */
interface BindCredentials {
  bindDN: string;
  bindPassword: string;
}

/** What a successful LDAP login yields. */
export interface LdapUser {
  dn: string;
  groups: string[];
}

/**
 * LDAP authentication as zot does it (pkg/api/ldap.go): bind as the service account,
 * search `baseDN` (one level, or the subtree with `subtreeSearch`) for
 * `(&<userFilter>(<userAttribute>=<user>))`, require exactly one entry, then bind as that
 * entry with the user's password. Groups are the values of `userGroupAttribute`; a value
 * that is a DN (as `memberOf` gives) also contributes its first RDN's value, so policies
 * may name `developers` or `cn=developers,ou=groups,dc=example,dc=org`.
 *
 * Transport: `ldaps://` by default, plain `ldap://` with `insecure`, plain upgraded with
 * StartTLS with `startTLS`. `caCert` adds a trusted CA; `skipVerify` turns verification off.
 */
export class LdapAuthenticator {
  private constructor(
    private readonly cfg: LdapConfig,
    private readonly bind: BindCredentials,
    private readonly tls: ConnectionOptions,
    private readonly log: Logger,
  ) {}

  static async create(cfg: LdapConfig, log: Logger): Promise<LdapAuthenticator> {
    if (!cfg.address) throw new Error('http.auth.ldap.address is required');
    if (!cfg.baseDN) throw new Error('http.auth.ldap.baseDN is required');
    let bind: BindCredentials = { bindDN: '', bindPassword: '' };
    if (cfg.credentialsFile) {
      const doc = JSON.parse(await readTextFile(cfg.credentialsFile, 'LDAP credentials file')) as Partial<BindCredentials>;
      if (typeof doc.bindDN !== 'string' || typeof doc.bindPassword !== 'string') {
        throw new Error(`LDAP credentials file ${cfg.credentialsFile}: needs string bindDN and bindPassword`);
      }
      bind = { bindDN: doc.bindDN, bindPassword: doc.bindPassword };
    }
    const tls: ConnectionOptions = { rejectUnauthorized: !cfg.skipVerify, servername: cfg.address };
    if (cfg.caCert) tls.ca = await readTextFile(cfg.caCert, 'LDAP CA certificate');
    return new LdapAuthenticator(cfg, bind, tls, log);
  }

  private client(): Client {
    const ldaps = !this.cfg.insecure && !this.cfg.startTLS;
    const port = this.cfg.port ?? (ldaps ? 636 : 389);
    const opts: ClientOptions = { url: `${ldaps ? 'ldaps' : 'ldap'}://${this.cfg.address}:${port}`, timeout: 10_000, connectTimeout: 5_000 };
    if (ldaps) opts.tlsOptions = this.tls;
    return new Client(opts);
  }

  /** The user's DN and groups when the password is right; null when not (or unknown user). */
  async authenticate(user: string, password: string): Promise<LdapUser | null> {
    // An empty password is an "unauthenticated bind" (RFC 4513 §5.1.2): the server says
    // yes without checking anything. Never let it through.
    if (password === '' || user === '') return null;
    const client = this.client();
    try {
      if (this.cfg.startTLS && !this.cfg.insecure) await client.startTLS(this.tls);
      if (this.bind.bindDN) await client.bind(this.bind.bindDN, this.bind.bindPassword);
      const attr = this.cfg.userAttribute || 'uid';
      const eq = new EqualityFilter({ attribute: attr, value: user }).toString(); // escapes the name
      const userFilter = this.cfg.userFilter ? (this.cfg.userFilter.startsWith('(') ? this.cfg.userFilter : `(${this.cfg.userFilter})`) : '';
      const filter = userFilter ? `(&${userFilter}${eq})` : eq;
      const groupAttr = this.cfg.userGroupAttribute;
      const { searchEntries } = await client.search(this.cfg.baseDN!, {
        scope: this.cfg.subtreeSearch ? 'sub' : 'one',
        filter,
        attributes: groupAttr ? ['dn', groupAttr] : ['dn'],
        sizeLimit: 2,
      });
      if (searchEntries.length !== 1) {
        this.log.debug({ user, entries: searchEntries.length }, 'LDAP user search did not find exactly one entry');
        return null;
      }
      const entry = searchEntries[0]!;
      try {
        await client.bind(entry.dn, password);
      } catch {
        return null;
      }
      return { dn: entry.dn, groups: groupAttr ? groupsFrom(entry[groupAttr]) : [] };
    } finally {
      await client.unbind().catch(() => undefined);
    }
  }
}

function groupsFrom(raw: unknown): string[] {
  const values = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]).map((v) => (Buffer.isBuffer(v) ? v.toString('utf8') : String(v)));
  const out = new Set<string>();
  for (const v of values) {
    out.add(v);
    const rdn = /^[A-Za-z][\w-]*=((?:\\.|[^,\\])+)(?:,|$)/.exec(v);
    if (rdn && v.includes(',')) out.add(rdn[1]!.replace(/\\(.)/g, '$1'));
  }
  return [...out];
}
