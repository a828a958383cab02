/**
 * Go clients (skopeo, podman, buildah, docker with insecure-registries) reach a registry
 * configured without TLS by trying HTTPS first and falling back to HTTP when that fails.
 * The fallback is only quick if the plain-HTTP port answers a TLS ClientHello at once
 * (a 400 or a close, as Go registries and node:http do); a server that waits for more
 * bytes makes every client command sit out Go's 10 s TLS handshake timeout.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:tls';
import { after, describe, test } from 'node:test';
import { startSkiff, type SkiffProcess } from '../helpers/process.ts';
import { tempDir } from '../helpers/tmp.ts';
import { missing, Skopeo, writePolicy } from '../helpers/tools.ts';

/** Milliseconds until the server answers or closes a TLS handshake on its plain port (capped). */
function tlsHandshakeAnswer(port: number, capMs: number): Promise<number> {
  const started = Date.now();
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, servername: 'registry.test' });
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(Date.now() - started);
    };
    const timer = setTimeout(done, capMs);
    socket.once('error', done);
    socket.once('close', done);
    socket.once('secureConnect', done);
  });
}

/*
 * uWS cannot do this (src/http/LIMITS.md §2), which is why a plain-HTTP listener runs on
 * node:http unless SKIFF_HTTP_ENGINE=uws forces otherwise: both the default and the node
 * engine must pass here.
 */
for (const engine of [undefined, 'node'] as const) {
  describe(`plain HTTP on the ${engine ?? 'default'} engine answers a TLS ClientHello at once`, () => {
    const started: SkiffProcess[] = [];
    after(async () => {
      for (const s of started) await s.dispose();
    });

    test('the HTTPS probe is refused within 2 s', async () => {
      const skiff = await startSkiff(engine ? { engine } : {});
      started.push(skiff);
      const ms = await tlsHandshakeAnswer(Number(skiff.hostPort.split(':')[1]), 3000);
      assert.ok(ms < 2000, `a TLS ClientHello on the plain-HTTP port got no answer within ${ms} ms (clients wait 10 s before falling back to HTTP)`);
    });

    test('skopeo inspect --tls-verify=false falls back to HTTP quickly', { skip: missing('skopeo') }, async () => {
      const skiff = started[0] ?? (await startSkiff(engine ? { engine } : {}));
      const tmp = await tempDir('skiff-e2e-plain-');
      try {
        const skopeo = new Skopeo(await writePolicy(tmp.dir));
        const t0 = Date.now();
        const r = await skopeo.run(['list-tags', '--tls-verify=false', `docker://${skiff.hostPort}/nothing/here`], { allowFail: true });
        const ms = Date.now() - t0;
        assert.match(r.stderr, /404|name unknown/i, 'reached the registry over HTTP');
        assert.ok(ms < 5000, `skopeo needed ${ms} ms to reach a plain-HTTP skiff (the HTTPS probe stalled)`);
      } finally {
        await tmp.cleanup();
      }
    });
  });
}
