import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

test('configs/skiff.service is a valid systemd unit that verifies its config before serving', (t) => {
  const unit = readFileSync('configs/skiff.service', 'utf8');
  assert.match(unit, /^ExecStartPre=.* verify /m);
  assert.match(unit, /^ExecStart=.* serve /m);
  assert.match(unit, /^KillSignal=SIGTERM$/m);
  if (!existsSync('/usr/bin/systemd-analyze')) return t.skip('systemd-analyze not installed');
  const r = spawnSync('systemd-analyze', ['verify', 'configs/skiff.service'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr.trim(), '', r.stderr);
});
