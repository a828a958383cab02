/**
 * Upstream host pins (`SKIFF_SYNC_RESOLVE=host=address[,host=address...]`), curl's
 * `--resolve` for sync: connections to a pinned host go to the given address while TLS still
 * checks the certificate against the host name. For sites whose gateway has no DNS for the
 * upstream (an air-gapped mirror reached by address, a registry-1.docker.io mirror on the
 * LAN), and how the tests reach a "Docker Hub" that is really a registry on 127.0.0.1.
 */
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { isIP } from 'node:net';

/** The environment variable; listed with the process variables the config loader skips. */
export const PINS_VARIABLE = 'SKIFF_SYNC_RESOLVE';

export type HostPins = ReadonlyMap<string, string>;

/** Parses the variable's value; a malformed entry is an error naming it (never guessed at). */
export function parsePins(value: string | undefined): HostPins {
  const pins = new Map<string, string>();
  for (const entry of (value ?? '').split(',').map((e) => e.trim()).filter(Boolean)) {
    const eq = entry.indexOf('=');
    const host = entry.slice(0, eq).trim().toLowerCase();
    const address = entry.slice(eq + 1).trim();
    if (eq <= 0 || host === '' || isIP(address) === 0) {
      throw new Error(`${PINS_VARIABLE}: "${entry}" is not host=address (an IPv4 or IPv6 address)`);
    }
    pins.set(host, address);
  }
  return pins;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family: number) => void;

/**
 * A `lookup` for net/tls connect options: pinned hosts answer from the map, others go to DNS.
 * Node asks with `all: true` when it races address families, so both answer shapes are kept.
 */
export function pinnedLookup(pins: HostPins) {
  return (hostname: string, options: LookupOptions, callback: LookupCallback): void => {
    const address = pins.get(hostname.toLowerCase());
    if (address === undefined) {
      dnsLookup(hostname, options, callback);
      return;
    }
    const family = isIP(address);
    if (options.all) callback(null, [{ address, family }], family);
    else callback(null, address, family);
  };
}
