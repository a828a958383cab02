import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { isRegistryError } from '../../src/errors/index.ts';
import { StreamingHasher, parseContentRange, parseDigest, parseManifest, parseRange, validateName, isValidTag } from '../../src/oci/index.ts';
import { blob, imageConfig, imageIndex, imageManifest } from '../helpers/content.ts';

const codeOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    assert.ok(isRegistryError(err), `expected a RegistryError, got ${String(err)}`);
    return err.code;
  }
  assert.fail('expected a throw');
};

test('digests: sha256 and sha512 accepted, malformed and unknown algorithms rejected', () => {
  const hex256 = 'a'.repeat(64);
  assert.equal(parseDigest(`sha256:${hex256}`).algorithm, 'sha256');
  assert.equal(parseDigest(`sha512:${'b'.repeat(128)}`).algorithm, 'sha512');
  for (const bad of ['sha256:abc', `sha256:${'A'.repeat(64)}`, 'md5:abcd', 'sha256', ':abc', `SHA256:${hex256}`, `sha256:${hex256}/../x`]) {
    assert.equal(codeOf(() => parseDigest(bad)), 'DIGEST_INVALID', bad);
  }
});

test('streaming hasher matches a one-shot hash and can be peeked mid-stream', () => {
  const h = new StreamingHasher('sha256');
  h.update(Buffer.from('hello '));
  const mid = h.peek();
  h.update(Buffer.from('world'));
  assert.equal(mid, `sha256:${createHash('sha256').update('hello ').digest('hex')}`);
  assert.equal(h.peek(), `sha256:${createHash('sha256').update('hello world').digest('hex')}`);
  assert.equal(h.size, 11);
});

test('repository names follow the spec grammar and refuse traversal, case, overlong and reserved parts', () => {
  for (const ok of ['a', 'library/alpine', 'a/b/c', 'my-repo', 'a__b', 'a.b', 'a---b', 'x1/y2']) assert.equal(validateName(ok), ok);
  for (const bad of ['', 'A', 'a/../b', '../a', '/a', 'a/', 'a//b', '.a', '_a', 'a/_b', 'a%2Fb', 'a/./b', `${'a'.repeat(256)}`, 'a/blobs', 'a/index.json', 'a b']) {
    assert.equal(codeOf(() => validateName(bad)), 'NAME_INVALID', JSON.stringify(bad));
  }
});

test('tags follow the spec grammar', () => {
  assert.ok(isValidTag('latest'));
  assert.ok(isValidTag('_x.Y-1'));
  assert.ok(!isValidTag('-x'));
  assert.ok(!isValidTag('.x'));
  assert.ok(!isValidTag('a'.repeat(129)));
  assert.ok(!isValidTag('a/b'));
});

test('byte ranges: suffix, open-ended, clamped, unsatisfiable, and ignored forms', () => {
  assert.deepEqual(parseRange('bytes=0-9', 100), { start: 0, end: 9 });
  assert.deepEqual(parseRange('bytes=90-', 100), { start: 90, end: 99 });
  assert.deepEqual(parseRange('bytes=-10', 100), { start: 90, end: 99 });
  assert.deepEqual(parseRange('bytes=50-500', 100), { start: 50, end: 99 });
  assert.equal(parseRange('bytes=100-', 100), 'unsatisfiable');
  assert.equal(parseRange('bytes=0-1,5-6', 100), undefined);
  assert.equal(parseRange('items=0-1', 100), undefined);
  assert.equal(parseRange('bytes=9-1', 100), undefined);
  assert.deepEqual(parseContentRange('0-99'), { start: 0, end: 99 });
  assert.deepEqual(parseContentRange('bytes 10-19/100'), { start: 10, end: 19 });
  assert.equal(parseContentRange('5-1'), null);
  assert.equal(parseContentRange('x'), null);
  assert.equal(parseContentRange(undefined), undefined);
});

test('manifests: image and index parsed with references; subject and artifactType found', () => {
  const cfg = imageConfig();
  const l1 = blob(10);
  const m = imageManifest(cfg, [l1]);
  const p = parseManifest(m.data, 'application/vnd.oci.image.manifest.v1+json');
  assert.equal(p.kind, 'image');
  assert.equal(p.digest, m.digest);
  assert.deepEqual(p.blobs, [cfg.digest, l1.digest]);
  assert.equal(p.artifactType, 'application/vnd.oci.image.config.v1+json');
  const idx = imageIndex([m], { subject: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: m.digest, size: m.data.length }, artifactType: 'x/y' });
  const pi = parseManifest(idx.data, undefined);
  assert.equal(pi.kind, 'index');
  assert.equal(pi.subject?.digest, m.digest);
  assert.equal(pi.artifactType, 'x/y');
  assert.equal(pi.manifests[0]?.digest, m.digest);
});

test('manifests: malformed, mismatched, oversized and unknown types are MANIFEST_INVALID', () => {
  const ct = 'application/vnd.oci.image.manifest.v1+json';
  const cases: [string, Buffer, string | undefined][] = [
    ['not json', Buffer.from('{'), ct],
    ['array', Buffer.from('[]'), ct],
    ['no layers', Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: ct, config: { mediaType: 'a/b', digest: `sha256:${'a'.repeat(64)}`, size: 1 } })), ct],
    ['bad digest', Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: ct, config: { mediaType: 'a/b', digest: 'sha256:zz', size: 1 }, layers: [] })), ct],
    ['negative size', Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: ct, config: { mediaType: 'a/b', digest: `sha256:${'a'.repeat(64)}`, size: -1 }, layers: [] })), ct],
    ['schema 1', Buffer.from(JSON.stringify({ schemaVersion: 1, mediaType: ct, config: {}, layers: [] })), ct],
    ['type mismatch', imageManifest(imageConfig(), []).data, 'application/vnd.oci.image.index.v1+json'],
    ['unknown type', Buffer.from(JSON.stringify({ schemaVersion: 2 })), 'text/plain'],
    ['too big', Buffer.alloc(4 * 1024 * 1024 + 1, 32), ct],
  ];
  for (const [name, body, type] of cases) assert.equal(codeOf(() => parseManifest(body, type)), 'MANIFEST_INVALID', name);
});

test('docker schema 2 manifests and foreign layers', () => {
  const cfg = imageConfig();
  const foreign = { mediaType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip', digest: `sha256:${'f'.repeat(64)}`, size: 5, urls: ['https://example.invalid/x'] };
  const body = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: cfg.digest, size: cfg.data.length },
      layers: [foreign],
    }),
  );
  const p = parseManifest(body, 'application/vnd.docker.distribution.manifest.v2+json');
  assert.equal(p.kind, 'image');
  assert.deepEqual(p.blobs, [cfg.digest], 'foreign layers are not required in the registry');
});
