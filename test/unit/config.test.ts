import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  ConfigError,
  DEFAULTS,
  EMBEDDED_SOURCE,
  FEATURES,
  SUPPORTED_FEATURES,
  formatDuration,
  inGcTimeWindow,
  isConfigError,
  msUntilGcTimeWindow,
  isFeatureSupported,
  loadConfig,
  loadConfigObject,
  parseDuration,
  parseGcTimeWindow,
  verifyConfig,
} from '../../src/config/index.ts';

const HOUR = 3_600_000;
const ROOT = resolve(import.meta.dirname, '..', '..');
const NO_ENV = {};

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'skiff-config-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, text: string): Promise<string> {
  const p = join(dir, name);
  await writeFile(p, text);
  return p;
}

/** Load a file-form object and return the ConfigError it must raise. */
function rejects(raw: unknown, env: Record<string, string> = NO_ENV): ConfigError {
  try {
    loadConfigObject(raw, 'test', env);
  } catch (err) {
    assert.ok(isConfigError(err), `expected a ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the config to be rejected');
}

const base = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({ storage: { rootDirectory: '/srv/reg' }, ...extra });

describe('defaults', () => {
  it('the embedded default is 127.0.0.1:8080, ./data under the cwd, level info', async () => {
    const { config, source, warnings, unsupported } = await loadConfig(undefined, NO_ENV, { cwd: '/opt/app' });
    assert.equal(source, EMBEDDED_SOURCE);
    assert.equal(config.http.address, '127.0.0.1');
    assert.equal(config.http.port, 8080);
    assert.equal(config.storage.rootDirectory, '/opt/app/data');
    assert.equal(config.log.level, 'info');
    assert.deepEqual(warnings, []);
    assert.deepEqual(unsupported, []);
  });

  it('applies zot storage defaults', () => {
    const { config } = loadConfigObject(base(), 'test');
    const s = config.storage;
    assert.equal(s.dedupe, true);
    assert.equal(s.gc, true);
    assert.equal(s.gcDelay, HOUR);
    assert.equal(s.gcInterval, HOUR);
    assert.equal(s.commit, false);
    assert.equal(s.maxRepos, 0);
    assert.equal(s.remoteCache, false);
    assert.equal(s.fastRestart, false);
    assert.equal(s.gcTimeWindow, undefined);
    assert.deepEqual(s.retention, { dryRun: false, delay: HOUR, policies: [] });
    assert.deepEqual(s.subPaths, {});
    assert.equal(config.distSpecVersion, '1.1.1');
    assert.equal(config.http.realm, '');
    assert.deepEqual(config.http.compat, []);
    assert.equal(config.extensions, undefined);
  });

  it('http.port given as zot\'s string is normalized to a number', () => {
    const { config } = loadConfigObject(base({ http: { port: '5000' } }), 'test');
    assert.equal(config.http.port, 5000);
  });

  it('resolves a relative rootDirectory against the cwd, as zot does', () => {
    const { config } = loadConfigObject({ storage: { rootDirectory: 'var/reg' } }, 'test', NO_ENV, { cwd: '/home/u' });
    assert.equal(config.storage.rootDirectory, '/home/u/var/reg');
  });

  it('gc: false with gcDelay/gcInterval absent gives 0 delays (zot)', () => {
    const { config, warnings } = loadConfigObject({ storage: { rootDirectory: '/r', gc: false } }, 'test');
    assert.equal(config.storage.gcDelay, 0);
    assert.equal(config.storage.gcInterval, 0);
    assert.equal(config.storage.retention.delay, 0);
    assert.deepEqual(warnings, []);
  });

  it('gc: false keeps an explicit gcDelay but warns it is ignored', () => {
    const { config, warnings } = loadConfigObject({ storage: { rootDirectory: '/r', gc: false, gcDelay: '2h' } }, 'test');
    assert.equal(config.storage.gcDelay, 2 * HOUR);
    assert.match(warnings.join('\n'), /storage\.gcDelay is set but storage\.gc is false/);
  });

  it('retention.delay defaults to the configured gcDelay, and an explicit one is kept', () => {
    assert.equal(loadConfigObject({ storage: { rootDirectory: '/r', gcDelay: '3h' } }, 't').config.storage.retention.delay, 3 * HOUR);
    const explicit = loadConfigObject({ storage: { rootDirectory: '/r', gcDelay: '3h', retention: { delay: '24h' } } }, 't');
    assert.equal(explicit.config.storage.retention.delay, 24 * HOUR);
  });

  it('retention policies default deleteUntagged true, deleteReferrers false', () => {
    const { config } = loadConfigObject(
      { storage: { rootDirectory: '/r', retention: { policies: [{ repositories: ['**'], keepTags: [{ patterns: ['v.*'], pulledWithin: '168h' }] }] } } },
      't',
    );
    const p = config.storage.retention.policies[0];
    assert.ok(p);
    assert.equal(p.deleteUntagged, true);
    assert.equal(p.deleteReferrers, false);
    assert.deepEqual(p.keepTags, [{ patterns: ['v.*'], pulledWithin: 168 * HOUR, mostRecentlyPushedCount: 0, mostRecentlyPulledCount: 0 }]);
  });

  it('subPaths start from zero values like zot (dedupe and gc off unless set)', () => {
    const { config } = loadConfigObject({ storage: { rootDirectory: '/r', subPaths: { '/a': { rootDirectory: '/r2' }, '/b': { rootDirectory: '/r3', gc: true } } } }, 't');
    const a = config.storage.subPaths['/a'];
    const b = config.storage.subPaths['/b'];
    assert.ok(a && b);
    assert.equal(a.dedupe, false);
    assert.equal(a.gc, false);
    assert.equal(a.gcDelay, 0);
    assert.equal(b.gc, true);
    assert.equal(b.gcDelay, HOUR);
  });

  it('extension defaults: presence enables, zot minimums and sync defaults apply', () => {
    const { config, warnings } = loadConfigObject(
      base({
        extensions: {
          search: { cve: { updateInterval: '30m' } },
          sync: { registries: [{ urls: ['https://index.docker.io'], onDemand: true }] },
          metrics: {},
          scrub: { interval: '1h' },
          ui: null,
          lint: {},
        },
      }),
      't',
    );
    const e = config.extensions;
    assert.ok(e);
    assert.equal(e.search?.enable, true);
    assert.equal(e.search?.cve?.updateInterval, 2 * HOUR);
    assert.equal(e.search?.cve?.trivy.dbRepository, 'ghcr.io/aquasecurity/trivy-db');
    assert.deepEqual(e.search?.cve?.trivy.vulnSeveritySources, ['auto']);
    assert.equal(e.sync?.enable, true);
    const reg = e.sync?.registries[0];
    assert.equal(reg?.tlsVerify, true);
    assert.equal(reg?.syncLegacyCosignTags, true);
    assert.equal(reg?.syncTimeout, 3 * HOUR);
    assert.equal(e.metrics?.enable, true);
    assert.equal(e.metrics?.prometheus.path, DEFAULTS.extensions.metrics.path);
    assert.equal(e.scrub?.interval, 2 * HOUR);
    assert.equal(e.ui?.enable, true, 'a bare `ui:` (YAML null) means present, hence enabled');
    assert.equal(e.lint?.enable, false, 'lint must be enabled explicitly');
    assert.match(warnings.join('\n'), /cve\.updateInterval 30m is below the 2h minimum/);
    assert.match(warnings.join('\n'), /scrub\.interval 1h is below the 2h minimum/);
    assert.equal(loadConfigObject(base({ extensions: { scrub: {} } }), 't').config.extensions?.scrub?.interval, 24 * HOUR);
  });

  it('a differing distSpecVersion warns and the served version is kept', () => {
    const { config, warnings } = loadConfigObject(base({ distSpecVersion: '1.1.0-dev' }), 't');
    assert.equal(config.distSpecVersion, '1.1.1');
    assert.match(warnings[0] ?? '', /distSpecVersion "1\.1\.0-dev" differs/);
  });

  it('zot log levels map onto pino levels', () => {
    assert.equal(loadConfigObject(base({ log: { level: 'WARNING' } }), 't').config.log.level, 'warn');
    assert.equal(loadConfigObject(base({ log: { level: 'panic' } }), 't').config.log.level, 'fatal');
  });
});

describe('case-insensitive keys', () => {
  it('matches keys in any case and returns the camelCase spelling', () => {
    const { config } = loadConfigObject(
      { DISTSPECVERSION: '1.1.1', Storage: { rootdirectory: '/r', GCDELAY: '2h', GcInterval: '3h', DeDupe: false }, HTTP: { Address: '::', PORT: 9 }, log: { LEVEL: 'Debug' } },
      't',
    );
    assert.equal(config.storage.rootDirectory, '/r');
    assert.equal(config.storage.gcDelay, 2 * HOUR);
    assert.equal(config.storage.gcInterval, 3 * HOUR);
    assert.equal(config.storage.dedupe, false);
    assert.equal(config.http.address, '::');
    assert.equal(config.http.port, 9);
    assert.equal(config.log.level, 'debug');
  });

  it('rejects the same key written twice in different cases', () => {
    const err = rejects({ storage: { rootDirectory: '/a', rootdirectory: '/b' } });
    assert.match(err.message, /storage\.rootDirectory: set twice/);
  });

  it('keeps free-form map keys as written and lower-cases pass-through driver keys (as viper)', () => {
    const { config } = loadConfigObject(
      {
        storage: {
          rootDirectory: '/r',
          storageDriver: { name: 'S3', RegionEndpoint: 'http://minio:9000', Bucket: 'b' },
          subPaths: { '/Infra': { rootDirectory: '/r2' } },
        },
      },
      't',
    );
    assert.deepEqual(config.storage.storageDriver, { name: 's3', regionendpoint: 'http://minio:9000', bucket: 'b', forcepathstyle: true });
    assert.deepEqual(Object.keys(config.storage.subPaths), ['/Infra']);
    assert.equal(config.storage.remoteCache, true, 'dedupe + cloud driver defaults remoteCache on (zot)');
  });
});

describe('unknown keys', () => {
  it('are rejected with the full path and a suggestion', () => {
    const err = rejects(base({ storage: { rootDirectory: '/r', gcDelya: '1h' } }));
    assert.equal(err.code, 'CONFIG_INVALID');
    assert.equal(err.path, 'storage.gcDelya');
    assert.match(err.message, /unknown key "storage\.gcDelya" \(did you mean "storage\.gcDelay"\?\)/);
  });

  it('name list indexes and map keys in the path', () => {
    const err = rejects({ storage: { rootDirectory: '/r', retention: { policies: [{ repositories: ['x'] }, { keepTag: [] }] } } });
    assert.match(err.message, /unknown key "storage\.retention\.policies\[1\]\.keepTag" \(did you mean "storage\.retention\.policies\[1\]\.keepTags"\?\)/);
    const acl = rejects(base({ http: { accessControl: { repositories: { 'infra/*': { polices: [] } } } } }));
    assert.equal(acl.path, 'http.accessControl.repositories["infra/*"].polices');
    assert.match(acl.message, /unknown key "http\.accessControl\.repositories\["infra\/\*"\]\.polices" \(did you mean "http\.accessControl\.repositories\["infra\/\*"\]\.policies"\?\)/);
  });

  it('give no suggestion when nothing is close, and report every unknown key at once', () => {
    const err = rejects(base({ banana: 1, http: { listen: 'x' } }));
    assert.equal(err.issues.length, 2);
    assert.equal(err.issues[0]?.message, 'unknown key "banana"');
    assert.equal(err.issues[1]?.message, 'unknown key "http.listen"');
  });

  it('are legal where zot takes arbitrary keys', () => {
    const { config } = loadConfigObject(
      {
        storage: {
          rootDirectory: '/r',
          storageDriver: { name: 's3', anything: { nested: true } },
          cacheDriver: { name: 'redis', url: 'redis://x', whatever: 1 },
          subPaths: { '/any/prefix': { rootDirectory: '/r2' } },
        },
        http: {
          auth: { openid: { providers: { 'my-sso': { issuer: 'https://id' } } } },
          accessControl: { repositories: { 'a/**': {} }, groups: { 'team-x': { users: ['u'] } } },
        },
      },
      't',
    );
    assert.equal(config.storage.cacheDriver?.whatever, 1);
    assert.deepEqual(config.http.accessControl?.groups['team-x'], { users: ['u'] });
    assert.ok(config.http.auth?.openid?.providers['my-sso']);
    assert.equal(config.http.auth?.apikey, true, 'openid turns API keys on (zot)');
  });
});

describe('type errors', () => {
  it('name the path, the expectation and the value', () => {
    assert.match(rejects(base({ http: { port: 'abc' } })).message, /http\.port: expected a port number 1-65535.*, got "abc"/);
    assert.match(rejects(base({ http: { port: 70000 } })).message, /http\.port: expected a port number 1-65535.*, got 70000/);
    assert.match(rejects({ storage: { rootDirectory: '/r', dedupe: 'yes' } }).message, /storage\.dedupe: expected a boolean \(true or false\), got "yes"/);
    assert.match(rejects({ storage: { rootDirectory: '/r', maxRepos: -1 } }).message, /storage\.maxRepos: expected a whole number ≥ 0, got -1/);
    assert.match(rejects({ storage: ['x'] }).message, /storage: expected an object \(a map of keys\), got a list/);
    assert.match(rejects(base({ log: { level: 'loud' } })).message, /log\.level: expected one of "trace", .*, got "loud"/);
    assert.match(rejects(base({ http: { compat: ['docker1'] } })).message, /http\.compat\[0\]: expected one of "docker2s2"/);
    assert.match(rejects(base({ http: { tls: 'on' } })).message, /http\.tls: expected an object/);
    assert.match(rejects(['a']).message, /config: expected an object/);
  });

  it('accept viper\'s weak typing for scalars', () => {
    const { config } = loadConfigObject({ storage: { rootDirectory: '/r', dedupe: 'false', gc: 'TRUE', maxRepos: '5' }, http: { compat: 'docker2s2' } }, 't');
    assert.equal(config.storage.dedupe, false);
    assert.equal(config.storage.gc, true);
    assert.equal(config.storage.maxRepos, 5);
    assert.deepEqual(config.http.compat, ['docker2s2']);
  });

  it('require what cannot be defaulted', () => {
    assert.match(rejects({ http: { port: 1 } }).message, /storage\.rootDirectory: required/);
    assert.match(rejects(base({ http: { tls: { cert: '/c' } } })).message, /http\.tls\.key: required/);
    assert.match(rejects(base({ extensions: { ui: {} } })).message, /extensions\.ui: needs extensions\.search/);
    assert.match(rejects(base({ extensions: { metrics: { prometheus: { path: '/v2' } } } })).message, /prometheus\.path: must be a clean absolute path/);
    assert.match(rejects({ storage: { rootDirectory: '/r', gcDelay: '-1h' } }).message, /storage\.gcDelay: must not be negative, got -1h/);
  });
});

describe('durations', () => {
  it('parseDuration reads Go duration strings into milliseconds', () => {
    const cases: [string, number][] = [
      ['1h', HOUR],
      ['30m', 1_800_000],
      ['1h30m', 5_400_000],
      ['500ms', 500],
      ['0s', 0],
      ['0', 0],
      ['1.5h', 5_400_000],
      ['-5s', -5000],
      ['+2m', 120_000],
      ['2h45m30.5s', 9_930_500],
      ['250us', 0.25],
      ['250µs', 0.25],
      ['250μs', 0.25],
      ['1000000ns', 1],
      [' 10s ', 10_000],
    ];
    for (const [text, ms] of cases) assert.equal(parseDuration(text), ms, text);
  });

  it('parseDuration rejects what Go rejects', () => {
    for (const text of ['', '1', 'h', '1x', '1h 30m', '1d', '.h', 'abc', '--1s']) assert.equal(parseDuration(text), undefined, text);
  });

  it('formatDuration renders compactly', () => {
    assert.equal(formatDuration(5_400_000), '1h30m');
    assert.equal(formatDuration(0), '0s');
    assert.equal(formatDuration(1500), '1s500ms');
    assert.equal(formatDuration(-HOUR), '-1h');
  });

  it('config durations are milliseconds; a bare number is nanoseconds (zot) and warns', () => {
    const { config, warnings } = loadConfigObject({ storage: { rootDirectory: '/r', gcDelay: '90m', gcInterval: 3_600_000_000_000 } }, 't');
    assert.equal(config.storage.gcDelay, 5_400_000);
    assert.equal(config.storage.gcInterval, HOUR);
    assert.match(warnings.join('\n'), /storage\.gcInterval: the bare number .* is read as nanoseconds/);
    assert.match(rejects({ storage: { rootDirectory: '/r', gcInterval: 'soon' } }).message, /storage\.gcInterval: expected a duration such as "1h".*got "soon"/);
  });

  it('gcTimeWindow is parsed and checked', () => {
    assert.deepEqual(parseGcTimeWindow('22:00-06:30'), { startMinute: 1320, endMinute: 390, text: '22:00-06:30' });
    assert.equal(typeof parseGcTimeWindow('01:00-01:00'), 'string');
    const w = loadConfigObject({ storage: { rootDirectory: '/r', gcTimeWindow: '22:00-06:00' } }, 't').config.storage.gcTimeWindow;
    assert.ok(inGcTimeWindow(w, new Date('2024-01-01T23:30:00Z')));
    assert.ok(inGcTimeWindow(w, new Date('2024-01-01T05:59:00Z')));
    assert.ok(!inGcTimeWindow(w, new Date('2024-01-01T12:00:00Z')));
    // How long a due job waits: none inside, until 22:00 UTC outside (a wrapping window too).
    assert.equal(msUntilGcTimeWindow(w, new Date('2024-01-01T23:30:00Z')), 0);
    assert.equal(msUntilGcTimeWindow(w, new Date('2024-01-01T12:00:00Z')), 10 * HOUR);
    assert.equal(msUntilGcTimeWindow(w, new Date('2024-01-01T21:59:30Z')), 30_000);
    const day = parseGcTimeWindow('02:00-04:00');
    assert.ok(typeof day !== 'string');
    assert.equal(msUntilGcTimeWindow(day, new Date('2024-01-01T05:00:00Z')), 21 * HOUR);
    assert.equal(msUntilGcTimeWindow(undefined, new Date()), 0);
    assert.match(rejects({ storage: { rootDirectory: '/r', gcTimeWindow: '1am-5am' } }).message, /storage\.gcTimeWindow: invalid time "1am"/);
    assert.match(rejects({ storage: { rootDirectory: '/r', gcTimeWindow: '0100' } }).message, /storage\.gcTimeWindow: expected a window "HH:MM-HH:MM"/);
  });
});

describe('file formats', () => {
  const yaml = 'storage:\n  rootDirectory: /r\n  gcDelay: 2h\nhttp:\n  port: "9000"\nlog:\n  level: warn\n';
  const json = JSON.stringify({ storage: { rootDirectory: '/r', gcDelay: '2h' }, http: { port: '9000' }, log: { level: 'warn' } });

  it('YAML and JSON give the same config', async () => {
    const a = await loadConfig(await file('same.yaml', yaml), NO_ENV);
    const b = await loadConfig(await file('same.json', json), NO_ENV);
    const c = await loadConfig(await file('same.yml', yaml), NO_ENV);
    assert.deepEqual(a.config, b.config);
    assert.deepEqual(c.config, b.config);
    assert.equal(b.config.storage.gcDelay, 2 * HOUR);
    assert.equal(b.source, join(dir, 'same.json'));
  });

  it('an unknown extension is tried as JSON, then as YAML', async () => {
    assert.equal((await loadConfig(await file('zot.conf', json), NO_ENV)).config.http.port, 9000);
    assert.equal((await loadConfig(await file('zot-config', yaml), NO_ENV)).config.http.port, 9000);
    await assert.rejects(loadConfig(await file('bad.conf', '{ "a": [ }'), NO_ENV), (e: unknown) => isConfigError(e) && e.code === 'CONFIG_PARSE' && /neither valid JSON nor valid YAML/.test(e.message));
  });

  it('reports parse errors, missing files, empty files and unsupported formats', async () => {
    const code = (c: string) => (e: unknown) => isConfigError(e) && e.code === c;
    await assert.rejects(loadConfig(await file('bad.json', '{"storage": '), NO_ENV), code('CONFIG_PARSE'));
    await assert.rejects(loadConfig(await file('bad.yaml', 'storage:\n  a: 1\n a: [\n'), NO_ENV), code('CONFIG_PARSE'));
    await assert.rejects(loadConfig(await file('dup.yaml', 'log:\n  level: info\nlog:\n  level: debug\n'), NO_ENV), code('CONFIG_PARSE'));
    await assert.rejects(loadConfig(join(dir, 'nope.json'), NO_ENV), code('CONFIG_NOT_FOUND'));
    await assert.rejects(loadConfig(await file('empty.yaml', '# nothing\n'), NO_ENV), code('CONFIG_PARSE'));
    await assert.rejects(loadConfig(await file('zot.toml', 'a = 1'), NO_ENV), (e: unknown) => isConfigError(e) && /TOML config files are not supported/.test(e.message));
  });
});

describe('environment overrides', () => {
  it('SKIFF_ variables override keys, matched case-insensitively', () => {
    const env = { SKIFF_HTTP_PORT: '9000', SKIFF_STORAGE_ROOTDIRECTORY: '/x', SKIFF_LOG_LEVEL: 'debug', PATH: '/bin' };
    const { config, warnings } = loadConfigObject({ storage: { rootDirectory: '/from-file' }, http: { port: 8000 } }, 't', env);
    assert.equal(config.http.port, 9000);
    assert.equal(config.storage.rootDirectory, '/x');
    assert.equal(config.log.level, 'debug');
    assert.deepEqual(warnings, []);
  });

  it('apply to the embedded default too', async () => {
    const { config } = await loadConfig(undefined, { SKIFF_HTTP_ADDRESS: '0.0.0.0', SKIFF_STORAGE_DEDUPE: 'false' });
    assert.equal(config.http.address, '0.0.0.0');
    assert.equal(config.storage.dedupe, false);
  });

  it('match camelCase keys written with underscores, lists, nested sections and JSON objects', () => {
    const { config } = loadConfigObject(base(), 't', {
      SKIFF_STORAGE_GC_DELAY: '5m',
      SKIFF_STORAGE_GCINTERVAL: '2h',
      SKIFF_HTTP_COMPAT: 'docker2s2',
      SKIFF_EXTENSIONS_SCRUB_INTERVAL: '12h',
      SKIFF_STORAGE_CACHEDRIVER: '{"name":"redis","url":"redis://r"}',
      skiff_http_realm: 'edge',
    });
    assert.equal(config.storage.gcDelay, 300_000);
    assert.equal(config.storage.gcInterval, 2 * HOUR);
    assert.deepEqual(config.http.compat, ['docker2s2']);
    assert.equal(config.extensions?.scrub?.interval, 12 * HOUR);
    assert.deepEqual(config.storage.cacheDriver, { name: 'redis', url: 'redis://r' });
    assert.equal(config.http.realm, 'edge');
  });

  it('a bad value is an error naming the variable; an unknown name only warns', () => {
    const err = rejects(base(), { SKIFF_HTTP_PORT: 'abc' });
    assert.match(err.message, /SKIFF_HTTP_PORT: http\.port: expected a port number 1-65535.*got "abc"/);
    const { warnings } = loadConfigObject(base(), 't', { SKIFF_HTTP_PROT: '1' });
    assert.match(warnings.join('\n'), /SKIFF_HTTP_PROT matches no config key/);
  });

  it('the process switches (engine, sendfile, direct I/O, native hash, socket bodies) are not config keys and draw no warning', () => {
    const env = { SKIFF_HTTP_ENGINE: 'node', SKIFF_SENDFILE: 'off', SKIFF_HASH_THREAD: 'on', SKIFF_DIRECT_IO: 'off', SKIFF_NATIVE_HASH: 'off', SKIFF_SOCKET_BODY: 'off' };
    const { warnings, config } = loadConfigObject(base(), 't', env);
    assert.deepEqual(warnings, []);
    assert.deepEqual(config, loadConfigObject(base(), 't', {}).config);
  });

  it('gc:false from the environment still zeroes the absent delays', () => {
    const { config } = loadConfigObject(base(), 't', { SKIFF_STORAGE_GC: 'false' });
    assert.equal(config.storage.gcDelay, 0);
  });
});

describe('unsupported features', () => {
  it('reports set features skiff does not implement yet, in table order', () => {
    const { unsupported } = loadConfigObject(
      base({
        storage: { rootDirectory: '/r', retention: { dryRun: true }, fastRestart: true },
        http: { auth: { htpasswd: { path: '/h' } }, ratelimit: { rate: 10 }, readTimeout: '10s' },
        extensions: { sync: { registries: [] }, metrics: {} },
        scheduler: { numWorkers: 2 },
      }),
      't',
    );
    assert.deepEqual(unsupported, [
      'storage.fastRestart',
      'http.readTimeout',
      'extensions.metrics',
      'scheduler',
    ]);
  });

  it('does not report supported keys or inert values', () => {
    const { unsupported } = loadConfigObject(
      {
        distSpecVersion: '1.1.1',
        storage: { rootDirectory: '/r', dedupe: true, gc: false, commit: true, maxRepos: 3, redirectBlobURL: false, remoteCache: false },
        http: { address: '::', port: 1, realm: 'r', compat: ['docker2s2'] },
        log: { level: 'info', output: '/tmp/l', audit: '/tmp/a' },
        extensions: { sync: { enable: false, registries: [{ urls: ['https://x'] }] }, search: { enable: false } },
      },
      't',
    );
    assert.deepEqual(unsupported, []);
  });

  it('keys inside list items are found too (sync registries), supported ones in the same list are not', () => {
    const { unsupported } = loadConfigObject(
      base({ extensions: { sync: { registries: [{ urls: ['https://a'], onDemand: true }, { urls: ['https://b'], credentialHelper: 'ecr', reqPerSec: 5 }] } } }),
      't',
    );
    assert.deepEqual(unsupported, ['extensions.sync.registries.*.credentialHelper', 'extensions.sync.registries.*.reqPerSec']);
  });

  it('the feature table is the single source of truth', () => {
    assert.ok(SUPPORTED_FEATURES.includes('storage.rootDirectory'));
    assert.ok(SUPPORTED_FEATURES.includes('extensions.sync'));
    assert.ok(!SUPPORTED_FEATURES.includes('extensions.search'));
    assert.equal(isFeatureSupported('http.tls.cert'), true);
    assert.equal(isFeatureSupported('http.auth.ldap.address'), true);
    assert.equal(isFeatureSupported('http.auth.bearer.oidc'), false);
    assert.equal(isFeatureSupported('not.in.table'), true);
    assert.equal(new Set(FEATURES.map((f) => f.key)).size, FEATURES.length, 'no duplicate entries');
  });

  it('deprecated mgmt/apikey extensions warn instead', () => {
    const { unsupported, warnings } = loadConfigObject(base({ extensions: { mgmt: {}, apikey: { enable: true } } }), 't');
    assert.deepEqual(unsupported, []);
    assert.match(warnings.join('\n'), /extensions\.mgmt is deprecated/);
    assert.match(warnings.join('\n'), /extensions\.apikey is deprecated/);
  });
});

describe('shipped configs and zot compatibility', () => {
  it('every file in configs/ loads without errors and verifies', async () => {
    const names = (await readdir(join(ROOT, 'configs'))).filter((n) => /\.(json|ya?ml)$/.test(n));
    assert.ok(names.length >= 3);
    for (const name of names) {
      const p = join(ROOT, 'configs', name);
      const loaded = await loadConfig(p, NO_ENV);
      assert.deepEqual(loaded.warnings, [], name);
      const result = await verifyConfig(p, NO_ENV);
      assert.ok(result.ok, `${name}: ${result.messages.join('; ')}`);
      assert.ok(!result.messages.some((m) => m.startsWith('error:')), name);
    }
  });

  it('skiff.default.yaml spells out exactly the embedded default', async () => {
    const shipped = await loadConfig(join(ROOT, 'configs', 'skiff.default.yaml'), NO_ENV);
    const embedded = await loadConfig(undefined, NO_ENV);
    assert.deepEqual(shipped.config, embedded.config);
  });

  it('edge-cache.yaml serves 0.0.0.0:5000 with commit and on-demand sync', async () => {
    const { config, unsupported } = await loadConfig(join(ROOT, 'configs', 'edge-cache.yaml'), NO_ENV);
    assert.equal(config.http.address, '0.0.0.0');
    assert.equal(config.http.port, 5000);
    assert.equal(config.storage.commit, true);
    assert.equal(config.storage.dedupe, true);
    assert.equal(config.storage.gc, true);
    assert.equal(config.extensions?.sync?.registries[0]?.onDemand, true);
    assert.deepEqual(unsupported, []);
  });

  it('a zot example config loads', async () => {
    const { config, warnings, unsupported } = await loadConfig(join(ROOT, 'test', 'fixtures', 'zot-config.json'), NO_ENV);
    assert.deepEqual(warnings, []);
    assert.equal(config.storage.rootDirectory, '/tmp/zot');
    assert.equal(config.storage.gcDelay, 2 * HOUR);
    assert.equal(config.storage.gcInterval, 24 * HOUR);
    assert.equal(config.http.port, 8080);
    assert.equal(config.http.realm, 'zot');
    assert.equal(config.log.level, 'debug');
    assert.equal(config.log.audit, '/tmp/zot-audit.log');
    assert.deepEqual(config.http.auth?.htpasswd, { path: 'test/data/htpasswd' });
    assert.equal(config.http.auth?.failDelay, 5);
    const infra = config.http.accessControl?.repositories['infra/*'];
    assert.deepEqual(infra?.policies[0], { users: ['alice'], groups: ['developers'], actions: ['read', 'create', 'update'], conditions: [] });
    assert.deepEqual(config.http.accessControl?.repositories['**']?.anonymousPolicy, ['read']);
    assert.deepEqual(config.http.accessControl?.adminPolicy?.actions, ['read', 'create', 'update', 'delete']);
    assert.equal(config.extensions?.search?.enable, true);
    assert.equal(config.extensions?.search?.cve?.updateInterval, 2 * HOUR);
    assert.deepEqual(unsupported, ['extensions.search']);
  });

  it('zot\'s lower-case YAML spelling loads', async () => {
    const p = await file('zot-example.yaml', 'distspecversion: 1.1.1\nhttp:\n  address: 127.0.0.1\n  port: 8080\n  realm: zot\nlog:\n  level: debug\nstorage:\n  rootdirectory: /tmp/zot\n  gcdelay: 1h\n');
    const { config } = await loadConfig(p, NO_ENV);
    assert.equal(config.storage.rootDirectory, '/tmp/zot');
    assert.equal(config.http.realm, 'zot');
  });
});

describe('verifyConfig', () => {
  it('checks TLS files exist', async () => {
    const p = await file('tls.json', JSON.stringify({ storage: { rootDirectory: join(dir, 'data') }, http: { tls: { cert: join(dir, 'missing.crt'), key: join(dir, 'missing.key') } } }));
    const r = await verifyConfig(p, NO_ENV);
    assert.equal(r.ok, false);
    assert.match(r.messages.join('\n'), /error: http\.tls\.cert: cannot read .*missing\.crt \(ENOENT\)/);
    assert.match(r.messages.join('\n'), /error: http\.tls\.key: cannot read/);

    await writeFile(join(dir, 'ok.crt'), 'pem');
    await writeFile(join(dir, 'ok.key'), 'pem');
    const good = await file('tls-ok.json', JSON.stringify({ storage: { rootDirectory: join(dir, 'data') }, http: { tls: { cert: join(dir, 'ok.crt'), key: join(dir, 'ok.key') } } }));
    assert.deepEqual(await verifyConfig(good, NO_ENV), { ok: true, messages: [] });
  });

  it('reports load errors (tls without key, bad gcTimeWindow, no rootDirectory) without throwing', async () => {
    const p = await file('bad-verify.json', JSON.stringify({ storage: { gcTimeWindow: '9-5' }, http: { tls: { cert: '/c' } } }));
    const r = await verifyConfig(p, NO_ENV);
    assert.equal(r.ok, false);
    const text = r.messages.join('\n');
    assert.match(text, /error: storage\.gcTimeWindow: invalid time "9"/);
    const r2 = await verifyConfig(await file('bad-verify2.json', JSON.stringify({ http: { tls: { cert: '/c' } } })), NO_ENV);
    assert.match(r2.messages.join('\n'), /error: storage\.rootDirectory: required/);
    assert.match(r2.messages.join('\n'), /error: http\.tls\.key: required/);
    const missing = await verifyConfig(join(dir, 'absent.yaml'), NO_ENV);
    assert.equal(missing.ok, false);
    assert.match(missing.messages[0] ?? '', /absent\.yaml: cannot read config file: file not found/);
  });

  it('flags a rootDirectory that is a file and overlapping stores', async () => {
    await writeFile(join(dir, 'afile'), 'x');
    const p = await file('roots.json', JSON.stringify({ storage: { rootDirectory: join(dir, 'afile'), subPaths: { '/a': { rootDirectory: join(dir, 'afile', 'sub') } } } }));
    const text = (await verifyConfig(p, NO_ENV)).messages.join('\n');
    assert.match(text, /error: storage\.rootDirectory: .*afile exists and is not a directory/);
    assert.match(text, /error: storage\.subPaths\["\/a"\]\.rootDirectory: .* overlaps storage\.rootDirectory/);
  });

  it('lists warnings and unsupported features without failing', async () => {
    const p = await file('warn.yaml', `distSpecVersion: "1.0.0"\nstorage:\n  rootDirectory: ${join(dir, 'data')}\nextensions:\n  metrics: {}\n`);
    const r = await verifyConfig(p, NO_ENV);
    assert.equal(r.ok, true);
    assert.match(r.messages.join('\n'), /warning: distSpecVersion "1\.0\.0" differs/);
    assert.match(r.messages.join('\n'), /unsupported: extensions\.metrics/);
  });
});
