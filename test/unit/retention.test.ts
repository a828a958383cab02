import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RetentionPolicy } from '../../src/config/types.ts';
import { globToRegExp, keptTags, policyFor } from '../../src/storage/gc/index.ts';

const H = 3600_000;
const now = 1_000_000_000_000;
const policy = (keepTags: RetentionPolicy['keepTags']): RetentionPolicy => ({ repositories: ['**'], deleteReferrers: false, deleteUntagged: true, keepTags });
const rule = { mostRecentlyPushedCount: 0, mostRecentlyPulledCount: 0 };

/** A scripted history: tag → pushed / last pulled, hours ago. */
const history = [
  { tag: 'v1', digest: 'd1', pushedAt: now - 100 * H, lastPull: now - 1 * H },
  { tag: 'v2', digest: 'd2', pushedAt: now - 50 * H, lastPull: now - 30 * H },
  { tag: 'v3', digest: 'd3', pushedAt: now - 2 * H, lastPull: undefined },
  { tag: 'dev', digest: 'd4', pushedAt: now - 1 * H, lastPull: now - 200 * H },
  { tag: 'old', digest: 'd5', pushedAt: now - 300 * H, lastPull: undefined },
];

test('pulledWithin keeps tags pulled recently; pushedWithin keeps fresh pushes; the two OR together', () => {
  assert.deepEqual([...keptTags(policy([{ ...rule, patterns: ['.*'], pulledWithin: 24 * H }]), history, now)].sort(), ['v1']);
  assert.deepEqual([...keptTags(policy([{ ...rule, patterns: ['.*'], pushedWithin: 3 * H }]), history, now)].sort(), ['dev', 'v3']);
  assert.deepEqual([...keptTags(policy([{ ...rule, patterns: ['^v'], pulledWithin: 24 * H, pushedWithin: 3 * H }]), history, now)].sort(), ['v1', 'v3']);
});

test('mostRecentlyPulledCount and mostRecentlyPushedCount rank within the matching tags only', () => {
  assert.deepEqual([...keptTags(policy([{ ...rule, patterns: ['.*'], mostRecentlyPulledCount: 2 }]), history, now)].sort(), ['v1', 'v2']);
  assert.deepEqual([...keptTags(policy([{ ...rule, patterns: ['^v'], mostRecentlyPushedCount: 1 }]), history, now)].sort(), ['v3']);
});

test('separate keepTags entries OR; no keepTags keeps everything; an entry without rules keeps its matches', () => {
  const p = policy([
    { ...rule, patterns: ['^dev$'] },
    { ...rule, patterns: ['^v'], mostRecentlyPulledCount: 1 },
  ]);
  assert.deepEqual([...keptTags(p, history, now)].sort(), ['dev', 'v1']);
  assert.equal(keptTags(policy([]), history, now).size, history.length);
  assert.equal(keptTags(undefined, history, now).size, history.length);
});

test('repository globs: * stays within a level, ** crosses levels; the first matching policy wins', () => {
  assert.ok(globToRegExp('infra/*').test('infra/app'));
  assert.ok(!globToRegExp('infra/*').test('infra/a/b'));
  assert.ok(globToRegExp('infra/**').test('infra/a/b'));
  assert.ok(globToRegExp('**').test('anything/at/all'));
  const retention = { dryRun: false, delay: 0, policies: [policy([]), { ...policy([]), repositories: ['x/**'] }] };
  retention.policies[0]!.repositories = ['a/*'];
  assert.equal(policyFor(retention, 'a/b'), retention.policies[0]);
  assert.equal(policyFor(retention, 'x/y/z'), retention.policies[1]);
  assert.equal(policyFor(retention, 'other'), undefined);
});
