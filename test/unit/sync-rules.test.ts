/**
 * Pure rules of the sync extension: zot's content mapping (prefix globs, destination,
 * stripPrefix, both directions), tag filters, WWW-Authenticate parsing and token scopes,
 * and the upstream backoff.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseChallenge, scopeFor } from '../../src/extensions/sync/auth.ts';
import { ContentRules, destinationOf, filterTags, globToRegExp, sourceOf } from '../../src/extensions/sync/content.ts';
import { UpstreamHealth } from '../../src/extensions/sync/health.ts';
import { loadConfigObject } from '../../src/config/index.ts';

describe('sync content rules', () => {
  it('globs follow doublestar: * within a segment, ** across, {a,b}, [!x]', () => {
    const cases: [string, string, boolean][] = [
      ['**', 'a/b/c', true],
      ['repo*', 'repo1', true],
      ['repo*', 'repo1/x', false],
      ['a/**', 'a', true],
      ['a/**', 'a/b/c', true],
      ['a/**/c', 'a/c', true],
      ['a/**/c', 'a/x/y/c', true],
      ['{web,db}/*', 'db/x', true],
      ['[!x]y', 'xy', false],
      ['lib.io/x', 'libxio/x', false],
    ];
    for (const [glob, name, want] of cases) assert.equal(globToRegExp(glob).test(name), want, `${glob} vs ${name}`);
  });

  it('maps names both ways as zot does (destination, stripPrefix)', () => {
    const strip = { prefix: '/repo1/repo/**', destination: '/mirror', stripPrefix: true };
    assert.equal(destinationOf('repo1/repo/x', strip), 'mirror/x');
    assert.equal(sourceOf('mirror/x', strip), 'repo1/repo/x');
    const keep = { prefix: '**', destination: '/docker.io', stripPrefix: false };
    assert.equal(destinationOf('library/alpine', keep), 'docker.io/library/alpine');
    assert.equal(sourceOf('docker.io/library/alpine', keep), 'library/alpine');
    assert.equal(destinationOf('a/b', { prefix: 'a/**', stripPrefix: false }), 'a/b');
  });

  it('finds the rule of a local name (on demand) and of an upstream name (periodic)', () => {
    const rules = new ContentRules([
      { prefix: 'team/**', destination: '/mirror', stripPrefix: true },
      { prefix: '**', destination: '/hub', stripPrefix: false },
    ]);
    assert.deepEqual(rules.upstreamName('mirror/app')?.remote, 'team/app');
    assert.deepEqual(rules.upstreamName('hub/library/alpine')?.remote, 'library/alpine');
    assert.equal(rules.upstreamName('elsewhere/x'), undefined);
    assert.equal(rules.forUpstream('team/app')?.destination, '/mirror');
    assert.deepEqual(new ContentRules([]).upstreamName('any/name'), { remote: 'any/name' });
  });

  it('filters tags by regex, excludeRegex and semver, in that order', () => {
    const tags = ['v1.0.0', 'v1.1', '1.2.3-rc.1', 'latest', 'v2.0.0-rc1', 'v1.x'];
    assert.deepEqual(filterTags(tags, { prefix: '**', stripPrefix: false, tags: { regex: '^v', excludeRegex: 'rc' } }), ['v1.0.0', 'v1.1', 'v1.x']);
    assert.deepEqual(filterTags(tags, { prefix: '**', stripPrefix: false, tags: { semver: true } }), ['v1.0.0', 'v1.1', '1.2.3-rc.1', 'v2.0.0-rc1']);
    assert.deepEqual(filterTags(tags, undefined), tags);
  });
});

describe('sync upstream auth and health', () => {
  it('parses Bearer challenges with quoted commas', () => {
    const ch = parseChallenge('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"');
    assert.deepEqual(ch, { scheme: 'bearer', params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull,push' } });
    assert.equal(parseChallenge('Basic realm="x"')?.scheme, 'basic');
  });

  it('asks for pull scopes only', () => {
    assert.equal(scopeFor('/v2/a/b/manifests/v1'), 'repository:a/b:pull');
    assert.equal(scopeFor('/v2/a/blobs/sha256:00'), 'repository:a:pull');
    assert.equal(scopeFor('/v2/_catalog'), 'registry:catalog:*');
    assert.equal(scopeFor('/v2/'), undefined);
  });

  it('backs off exponentially up to the cap and forgets on success', () => {
    let now = 0;
    const h = new UpstreamHealth(1000, 3000, () => now);
    assert.equal(h.markDown('u'), 1000);
    assert.ok(h.isDown('u') && h.isSuspect('u'));
    now = 1001;
    assert.ok(!h.isDown('u') && h.isSuspect('u'), 'after the period: re-probe allowed, still suspect');
    assert.equal(h.markDown('u'), 2000);
    assert.equal(h.markDown('u'), 3000);
    assert.equal(h.markDown('u'), 3000);
    h.markUp('u');
    assert.ok(!h.isDown('u') && !h.isSuspect('u'));
  });
});

describe('sync config', () => {
  const load = (registry: Record<string, unknown>) =>
    loadConfigObject({ distSpecVersion: '1.1.1', storage: { rootDirectory: '/r' }, http: { address: '127.0.0.1', port: '1' }, log: { level: 'info' }, extensions: { sync: { registries: [{ urls: ['https://x'], ...registry }] } } }, 't');

  it('upstreamTimeout (skiff only) defaults to 5 s and takes a Go duration', () => {
    assert.equal(load({}).config.extensions?.sync?.registries[0]?.upstreamTimeout, 5000);
    assert.equal(load({ upstreamTimeout: '1500ms' }).config.extensions?.sync?.registries[0]?.upstreamTimeout, 1500);
  });

  it('sync is a supported feature now', () => {
    assert.deepEqual(load({ onDemand: true }).unsupported, []);
  });
});
