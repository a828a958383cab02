/**
 * Reading TLS material for the node:https engine. (uWS takes file names and
 * reads them itself.) Lives in platform because only platform, config and
 * storage/layout touch node:fs.
 */
import { readFile } from 'node:fs/promises';

/** PEM contents for `https.createServer`. */
export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
}

/** Read cert, key and optional CA; a failure names the file that could not be read. */
export async function readTlsMaterial(paths: { cert: string; key: string; cacert?: string }): Promise<TlsMaterial> {
  const read = async (what: string, file: string) => {
    try {
      return await readFile(file);
    } catch (err) {
      throw new Error(`cannot read TLS ${what} ${file}: ${(err as Error).message}`);
    }
  };
  const [cert, key, ca] = await Promise.all([
    read('certificate', paths.cert),
    read('key', paths.key),
    paths.cacert ? read('CA certificate', paths.cacert) : Promise.resolve(undefined),
  ]);
  return ca ? { cert, key, ca } : { cert, key };
}
