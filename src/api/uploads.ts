import { RegistryError } from '../errors/index.ts';
import type { Handler, Reply, RequestContext } from '../http/types.ts';
import { parseContentRange, parseDigest, validateName } from '../oci/index.ts';
import type { ApiDeps } from './context.ts';
import { contentLength, hasBody, repoOf } from './common.ts';

/** Headers describing an upload session's progress (distribution-spec "Pushing blobs"). */
function sessionReply(status: number, repo: string, id: string, offset: number): Reply {
  return {
    status,
    headers: {
      Location: `/v2/${repo}/blobs/uploads/${id}`,
      Range: `0-${Math.max(0, offset - 1)}`,
      'Docker-Upload-UUID': id,
      'Content-Length': 0,
    },
  };
}

function blobCreated(repo: string, digest: string): Reply {
  return { status: 201, headers: { Location: `/v2/${repo}/blobs/${digest}`, 'Docker-Content-Digest': digest, 'Content-Length': 0 } };
}

/**
 * `POST /v2/<name>/blobs/uploads/`: start a session (202), push a whole blob at once
 * with `?digest=` (201), or mount one from another repository with `?mount=&from=`
 * (201, or 202 with a fresh session when it cannot be mounted).
 */
export function uploadStartHandler(deps: ApiDeps): Handler {
  const { uploads, blobs } = deps.storage;
  return async (ctx) => {
    const repo = repoOf(ctx);
    const mount = ctx.query.get('mount');
    const from = ctx.query.get('from');
    if (mount) {
      const digest = parseDigest(mount).value;
      if (from && from !== repo) {
        let source: string | null = null;
        try {
          source = validateName(from);
        } catch {
          source = null;
        }
        // Mounting reads from `from`: without read access there, the client gets a fresh
        // session (202) exactly as if the blob were not there, so nothing is revealed.
        const readable = source !== null && (deps.guard?.can(ctx, 'read', source) ?? true);
        if (source && readable && (await blobs.mount(repo, digest, source))) return blobCreated(repo, digest);
      } else if (from === repo && (await blobs.stat(repo, digest))) {
        return blobCreated(repo, digest);
      }
    }
    const digestParam = ctx.query.get('digest');
    if (digestParam !== null) {
      const r = await uploads.monolithic(repo, digestParam, ctx.body(LEND), contentLength(ctx));
      return blobCreated(repo, r.digest);
    }
    const s = await uploads.start(repo);
    return sessionReply(202, repo, s.id, s.offset);
  };
}

/**
 * `/v2/<name>/blobs/uploads/<id>`: GET status (204), PATCH a chunk (202), PUT to
 * finish with `?digest=` (201), DELETE to cancel (204).
 */
export function uploadSessionHandler(deps: ApiDeps): Handler {
  const { uploads } = deps.storage;
  return async (ctx) => {
    const repo = repoOf(ctx);
    const id = ctx.params.id ?? '';
    switch (ctx.method) {
      case 'GET': {
        const s = await uploads.status(repo, id);
        return sessionReply(204, repo, id, s.offset);
      }
      case 'PATCH': {
        const range = parseContentRange(ctx.headers['content-range']);
        if (range === null) throw new RegistryError('RANGE_INVALID', 'malformed Content-Range', { status: 416 });
        const opts: { range?: { start: number; end: number }; length?: number } = {};
        if (range) opts.range = range;
        const len = contentLength(ctx);
        if (len !== undefined) opts.length = len;
        const s = await uploads.append(repo, id, ctx.body(LEND), opts);
        return sessionReply(202, repo, id, s.offset);
      }
      case 'PUT': {
        const digest = ctx.query.get('digest');
        if (!digest) throw new RegistryError('DIGEST_INVALID', 'the digest query parameter is required to finish an upload');
        const r = await uploads.complete(repo, id, digest, bodyOf(ctx), contentLength(ctx));
        return blobCreated(repo, r.digest);
      }
      case 'DELETE':
        await uploads.cancel(repo, id);
        return { status: 204, headers: { 'Content-Length': 0 } };
      default:
        throw new RegistryError('METHOD_NOT_ALLOWED');
    }
  };
}

function bodyOf(ctx: RequestContext): AsyncIterable<Buffer> | null {
  return hasBody(ctx) ? ctx.body(LEND) : null;
}

/** Upload bodies go straight to the session file, a chunk at a time: the engine may reuse chunk memory. */
const LEND = { lend: true } as const;
