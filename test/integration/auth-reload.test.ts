/**
 * Hot reload (zot §1.9): editing the config file applies http.auth and
 * http.accessControl to the next request, with no restart and no dropped connection; a
 * broken file keeps the running settings.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startRegistry, type Registry } from '../../src/app/app.ts';
import { loadConfig } from '../../src/config/index.ts';
import { silentLogger } from '../../src/platform/logger.ts';
import { basic, writeHtpasswd } from '../helpers/auth.ts';
import { Client } from '../helpers/client.ts';
import { engines } from '../helpers/registry.ts';
import { tempDir } from '../helpers/tmp.ts';
import { missing } from '../helpers/tools.ts';

for (const engine of await engines()) {
  describe(`config hot reload (${engine})`, { skip: missing('htpasswd') }, () => {
    let tmp: { dir: string; cleanup: () => Promise<void> };
    let registry: Registry;
    let c: Client;
    let file: string;
    let config: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

    const write = (cfg: unknown) => writeFile(file, JSON.stringify(cfg, null, 2));
    /** Polls until `check` holds (reload is debounced and asynchronous). */
    async function eventually(check: () => Promise<boolean>, what: string) {
      const deadline = Date.now() + 5000;
      while (Date.now() < deadline) {
        if (await check()) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.fail(`not applied within 5 s: ${what}`);
    }

    before(async () => {
      tmp = await tempDir('skiff-reload-');
      await writeHtpasswd(join(tmp.dir, 'h1'), { alice: 'a1' });
      await writeHtpasswd(join(tmp.dir, 'h2'), { bob: 'b2' });
      file = join(tmp.dir, 'config.json');
      config = {
        distSpecVersion: '1.1.1',
        storage: { rootDirectory: join(tmp.dir, 'root') },
        http: {
          address: '127.0.0.1',
          port: '0',
          auth: { htpasswd: { path: join(tmp.dir, 'h1') } },
          accessControl: { repositories: { '**': { policies: [{ users: ['alice'], actions: ['read'] }] } } },
        },
        log: { level: 'error' },
      };
      await write(config);
      registry = await startRegistry(await loadConfig(file), { log: silentLogger(), engine });
      c = new Client(`http://127.0.0.1:${registry.port}`);
    });
    after(async () => {
      await registry?.close(2000);
      await tmp?.cleanup();
    });

    test('accessControl and htpasswd changes apply without a restart; connections stay up', async () => {
      const alice = basic('alice', 'a1');
      assert.equal((await c.req('POST', '/v2/r/blobs/uploads/', { headers: alice })).status, 403);
      // Traffic on keep-alive connections throughout the reloads: none may fail.
      let stop = false;
      let failures = 0;
      let sent = 0;
      const traffic = (async () => {
        while (!stop) {
          try {
            const res = await c.req('GET', '/v2/', { headers: alice });
            await res.arrayBuffer();
            sent++;
          } catch {
            failures++;
          }
        }
      })();

      config.http.accessControl.repositories['**'].policies[0].actions = ['read', 'create'];
      await write(config);
      await eventually(async () => (await c.req('POST', '/v2/r/blobs/uploads/', { headers: alice })).status === 202, 'create granted');

      // A broken file: logged, the running settings stay.
      await writeFile(file, '{ "http": ');
      await new Promise((r) => setTimeout(r, 500));
      assert.equal((await c.req('POST', '/v2/r/blobs/uploads/', { headers: alice })).status, 202);

      // Another htpasswd file: alice is gone, bob arrives.
      config.http.auth.htpasswd.path = join(tmp.dir, 'h2');
      config.http.accessControl.repositories['**'].policies[0].users = ['bob'];
      await write(config);
      await eventually(async () => (await c.req('GET', '/v2/', { headers: basic('bob', 'b2') })).status === 200, 'bob logs in');
      assert.equal((await c.req('GET', '/v2/', { headers: alice })).status, 401);

      // Auth removed entirely: open registry again.
      delete config.http.auth;
      delete config.http.accessControl;
      await write(config);
      await eventually(async () => (await c.req('POST', '/v2/r/blobs/uploads/')).status === 202, 'auth off');
      stop = true;
      await traffic;
      assert.equal(failures, 0, `${failures} of ${sent} requests failed during reloads`);
      assert.ok(sent > 10);
    });
  });
}
