/**
 * Periodic sync from a second skiff as the upstream (it has the referrers API): catalog
 * filtered by a `prefix` glob, tags by `regex`, `excludeRegex` and `semver`, names mapped by
 * `destination` + `stripPrefix`; a second run skips what is current (HEAD only, no blob
 * traffic) and picks up a tag that moved upstream.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { blob, imageConfig, imageManifest } from '../helpers/content.ts';
import { artifact, pushArtifact, pushBlob, pushManifest, startProxy, type Proxy } from '../helpers/distribution.ts';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.ts';

const OCI = 'application/vnd.oci.image.manifest.v1+json';

/** Pushes a small two-layer image; returns its manifest. */
async function pushImage(url: string, repo: string, tag: string) {
  const cfg = imageConfig();
  const layers = [blob(2048), blob(4096)];
  for (const b of [cfg, ...layers]) await pushBlob(url, repo, b.data, b.digest);
  const m = imageManifest(cfg, layers);
  await pushManifest(url, repo, tag, m.data, OCI);
  return m;
}

describe('periodic sync from another skiff', () => {
  let upstream: TestRegistry;
  let proxy: Proxy;
  let mirror: TestRegistry;
  const pushed: Record<string, string> = {};
  let sbom: string;

  before(async () => {
    upstream = await startTestRegistry();
    for (const tag of ['v1.0.0', 'v1.1.0', 'v2.0.0-rc1', 'latest', 'v1.x']) pushed[`app:${tag}`] = (await pushImage(upstream.url, 'team/app', tag)).digest;
    pushed['tool:v0.1.0'] = (await pushImage(upstream.url, 'team/tools/tool', 'v0.1.0')).digest;
    await pushImage(upstream.url, 'other/thing', 'v1.0.0');
    const m = upstream.registry.storage.manifests.get('team/app', 'v1.0.0')!;
    const a = artifact('application/spdx+json', '{"spdxVersion":"SPDX-2.3"}', { digest: m.digest, size: m.size, mediaType: OCI });
    await pushArtifact(upstream.url, 'team/app', a);
    sbom = a.digest;
    proxy = await startProxy(upstream.url);
    mirror = await startTestRegistry({
      config: {
        extensions: {
          sync: {
            registries: [
              {
                urls: [proxy.url],
                pollInterval: '24h',
                content: [{ prefix: 'team/**', tags: { regex: '^v', excludeRegex: '-rc', semver: true }, destination: '/mirror', stripPrefix: true }],
              },
            ],
          },
        },
      },
    });
  });

  after(async () => {
    await mirror?.stop();
    await proxy?.stop();
    await upstream?.stop();
  });

  const tags = async (repo: string) => {
    const r = await fetch(`${mirror.url}/v2/${repo}/tags/list`);
    return r.status === 200 ? ((await r.json()) as { tags: string[] }).tags.sort() : [];
  };

  test('the first run mirrors the matching repositories and tags, with referrers', async () => {
    await mirror.registry.scheduler.runNow('sync:0');
    assert.deepEqual(await tags('mirror/app'), ['v1.0.0', 'v1.1.0']);
    assert.deepEqual(await tags('mirror/tools/tool'), ['v0.1.0']);
    assert.equal(mirror.registry.storage.catalog.hasRepo('mirror/other/thing'), false);
    assert.equal(mirror.registry.storage.catalog.hasRepo('other/thing'), false);
    assert.equal(mirror.registry.storage.manifests.get('mirror/app', 'v1.0.0')?.digest, pushed['app:v1.0.0']);
    const refs = (await (await fetch(`${mirror.url}/v2/mirror/app/referrers/${pushed['app:v1.0.0']}`)).json()) as { manifests: { digest: string }[] };
    assert.deepEqual(refs.manifests.map((r) => r.digest), [sbom], 'the SBOM came through the referrers API');
    const noOnDemand = await fetch(`${mirror.url}/v2/mirror/app/manifests/latest`);
    assert.equal(noOnDemand.status, 404, 'periodic-only: a filtered tag is not fetched on demand');
  });

  test('a second run skips current images (no blob traffic) and picks up a moved tag', async () => {
    const before = proxy.seen.length;
    await mirror.registry.scheduler.runNow('sync:0');
    const second = proxy.seen.slice(before);
    assert.ok(!second.some((s) => s.path.includes('/blobs/') || (s.method === 'GET' && /\/manifests\/v/.test(s.path))), `only HEADs and listings: ${second.map((s) => `${s.method} ${s.path}`).join(', ')}`);
    const moved = await pushImage(upstream.url, 'team/app', 'v1.1.0');
    await mirror.registry.scheduler.runNow('sync:0');
    assert.equal(mirror.registry.storage.manifests.get('mirror/app', 'v1.1.0')?.digest, moved.digest);
  });
});
