/**
 * Offline first: skiff mirrors a docker-registry upstream on demand; then the upstream
 * stalls (answers nothing), then is stopped outright, then comes back with new content.
 * A cached tag must be served after the short upstreamTimeout (not the client's whole
 * timeout), later requests must not wait at all while the upstream is known to be down,
 * and once the backoff has passed the upstream is re-probed in the background.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sha256 } from '../helpers/content.ts';
import { startDistribution, startProxy, type Distribution, type Proxy } from '../helpers/distribution.ts';
import { makeOciLayout } from '../helpers/oci-image.ts';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.ts';
import { tempDir } from '../helpers/tmp.ts';
import { missing, Skopeo, writePolicy } from '../helpers/tools.ts';

const ACCEPT = 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json';

describe('offline-first serving when the upstream stalls or stops', { skip: missing('skopeo', 'docker-registry') }, () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let upstream: Distribution;
  let proxy: Proxy;
  let skiff: TestRegistry;
  let skopeo: Skopeo;
  let v1: string;

  before(async () => {
    tmp = await tempDir('skiff-sync-off-');
    skopeo = new Skopeo(await writePolicy(tmp.dir));
    upstream = await startDistribution(tmp.dir);
    v1 = await makeOciLayout(join(tmp.dir, 'v1'), { tag: 'v1', seed: 'offline-1' });
    await skopeo.copy(`oci:${join(tmp.dir, 'v1')}:v1`, `docker://${upstream.hostPort}/app/web:v1`);
    proxy = await startProxy(upstream.url);
    skiff = await startTestRegistry({
      engine: 'node', // see sync-ondemand.test.ts: skopeo probes TLS first
      config: { extensions: { sync: { registries: [{ urls: [proxy.url], onDemand: true, upstreamTimeout: '500ms', retryDelay: '2s', maxRetryDelay: '2s' }] } } },
    });
  });

  after(async () => {
    await skiff?.stop();
    await proxy?.stop();
    await upstream?.stop();
    await tmp?.cleanup();
  });

  const timed = async (path: string) => {
    const t0 = performance.now();
    const r = await fetch(`${skiff.url}${path}`, { headers: { accept: ACCEPT } });
    await r.arrayBuffer();
    return { status: r.status, digest: r.headers.get('docker-content-digest'), ms: performance.now() - t0 };
  };

  test('first pull goes through to the upstream', async () => {
    await skopeo.copy(`docker://${skiff.url.slice(7)}/app/web:v1`, `oci:${join(tmp.dir, 'out1')}:v1`);
    assert.equal((await timed('/v2/app/web/manifests/v1')).digest, v1);
  });

  test('a stalled upstream delays a cached tag by upstreamTimeout once, then not at all', async () => {
    proxy.hold(true);
    const first = await timed('/v2/app/web/manifests/v1');
    assert.equal(first.status, 200);
    assert.equal(first.digest, v1);
    assert.ok(first.ms >= 400 && first.ms < 2000, `served after the short timeout (${first.ms.toFixed(0)} ms)`);
    // The background probe fails at its own deadline and marks the upstream down.
    await new Promise((r) => setTimeout(r, 300));
    const seen = proxy.seen.length;
    for (let i = 0; i < 5; i++) {
      const again = await timed('/v2/app/web/manifests/v1');
      assert.equal(again.status, 200);
      assert.ok(again.ms < 150, `no delay while the upstream is down (${again.ms.toFixed(0)} ms)`);
    }
    assert.equal(proxy.seen.length, seen, 'the upstream is not contacted during its backoff');
    // A miss has nothing local to serve, so it does ask; a stalled upstream costs it only
    // the short deadline, not a long one.
    const miss = await timed('/v2/app/never/manifests/v1');
    assert.equal(miss.status, 404);
    assert.ok(miss.ms < 2000, `a miss fails after the short deadline (${miss.ms.toFixed(0)} ms)`);
    proxy.hold(false);
  });

  test('with the upstream stopped, skopeo still pulls the cached image; a miss is a quick 404', async () => {
    await upstream.stop();
    const t0 = performance.now();
    await skopeo.copy(`docker://${skiff.url.slice(7)}/app/web:v1`, `oci:${join(tmp.dir, 'out2')}:v1`);
    assert.ok(performance.now() - t0 < 3000, 'no upstream wait');
    const miss = await timed('/v2/app/other/manifests/v1');
    assert.equal(miss.status, 404);
    assert.ok(miss.ms < 2000, `a miss fails fast when the upstream refuses connections (${miss.ms.toFixed(0)} ms)`);
  });

  test('after the backoff the upstream is re-probed in the background and new content arrives', async () => {
    await upstream.restart();
    const v2 = await makeOciLayout(join(tmp.dir, 'v2'), { tag: 'v1', seed: 'offline-2' });
    await skopeo.copy(`oci:${join(tmp.dir, 'v2')}:v1`, `docker://${upstream.hostPort}/app/web:v1`);
    await new Promise((r) => setTimeout(r, 2100)); // the backoff (retryDelay 2s) runs out
    const served = await timed('/v2/app/web/manifests/v1');
    assert.equal(served.digest, v1, 'the local copy is served at once');
    assert.ok(served.ms < 150, `no wait on the re-probe (${served.ms.toFixed(0)} ms)`);
    const deadline = Date.now() + 5000;
    let now: string | null = served.digest;
    while (now !== v2 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      now = (await timed('/v2/app/web/manifests/v1')).digest;
    }
    assert.equal(now, v2, 'the background sync brought the new image');
    assert.equal(sha256(await skopeo.raw(`docker://${skiff.url.slice(7)}/app/web:v1`)), v2);
  });
});
