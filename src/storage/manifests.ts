import { RegistryError } from '../errors/index.ts';
import { type ParsedManifest, digestOf, looksLikeDigest, parseDigest, parseManifest, validateTag } from '../oci/index.ts';
import type { KeyedMutex } from '../platform/locks.ts';
import type { Layout } from './layout/index.ts';
import type { ManifestRecord, RegistryIndex, TagRecord } from './index/index.ts';
import { addManifest, removeManifest, removeTag } from './index-json.ts';
import type { ManifestStore, StoredManifest } from './types.ts';
import type { RepoGuard } from './repos.ts';

/**
 * Manifests: pushed bytes are kept exactly (the digest is over what the client sent),
 * written to the layout first (blob, then index.json), and only then indexed.
 */
export class ManifestService implements ManifestStore {
  constructor(
    private readonly layout: Layout,
    private readonly index: RegistryIndex,
    private readonly locks: KeyedMutex,
    private readonly repos: RepoGuard,
  ) {}

  get(repo: string, reference: string): StoredManifest | null {
    let digest = reference;
    if (!looksLikeDigest(reference)) {
      const tag = this.index.tag(repo, reference);
      if (!tag) return null;
      digest = tag.digest;
    }
    const m = this.index.manifest(repo, digest);
    return m ? { digest: m.digest, mediaType: m.mediaType, size: m.size, body: m.body } : null;
  }

  async put(repo: string, reference: string, body: Buffer, contentType: string | undefined, extraTags: string[] = []): Promise<{ digest: string; subject?: string }> {
    const parsed = parseManifest(body, contentType);
    const tags = [...new Set([...(looksLikeDigest(reference) ? [] : [reference]), ...extraTags])].map(validateTag);
    if (looksLikeDigest(reference)) {
      // The digest in the URL picks the algorithm (distribution-spec: a sha512 reference
      // is verified with sha512), and must match the bytes.
      const want = parseDigest(reference);
      const got = want.algorithm === 'sha256' ? parsed.digest : digestOf(body, want.algorithm);
      if (got !== want.value) throw new RegistryError('DIGEST_INVALID', `manifest digest ${got} does not match ${want.value}`);
      parsed.digest = got;
    }
    const now = Date.now();
    const record: ManifestRecord = {
      digest: parsed.digest,
      mediaType: parsed.mediaType,
      size: body.length,
      body,
      pushedAt: now,
      children: [...new Set([...parsed.blobs, ...parsed.manifests.map((m) => m.digest)])],
    };
    if (parsed.subject) record.subject = parsed.subject.digest;
    if (parsed.artifactType) record.artifactType = parsed.artifactType;
    if (parsed.annotations) record.annotations = parsed.annotations;

    await this.locks.run(repo, async () => {
      // Checked under the lock: a GC sweep of this repository cannot remove a referenced
      // blob between the check and the index.json write.
      await this.checkReferences(repo, parsed);
      await this.repos.ensure(repo);
      if ((await this.layout.blobs.stat(repo, parsed.digest))?.size !== body.length) {
        await this.layout.blobs.write(repo, parsed.digest, body);
      }
      const idx = (await this.layout.repos.readIndex(repo))!;
      addManifest(idx, { mediaType: parsed.mediaType, digest: parsed.digest, size: body.length }, tags);
      const fingerprint = await this.layout.repos.writeIndex(repo, idx);
      const tagRec: TagRecord = { digest: parsed.digest, mediaType: parsed.mediaType, size: body.length, taggedAt: now };
      await this.index.write.apply(repo, { fingerprint, putManifests: [record], putTags: tags.map((t) => [t, tagRec]) });
      await this.index.write.addHolder(parsed.digest, repo);
    });
    return parsed.subject ? { digest: parsed.digest, subject: parsed.subject.digest } : { digest: parsed.digest };
  }

  async delete(repo: string, reference: string): Promise<void> {
    await this.locks.run(repo, async () => {
      const idx = await this.layout.repos.readIndex(repo);
      if (!idx || !this.index.repo(repo)) throw new RegistryError('NAME_UNKNOWN', undefined, { detail: { name: repo } });
      if (!looksLikeDigest(reference)) {
        if (!this.index.tag(repo, reference) || removeTag(idx, reference) === undefined) {
          throw new RegistryError('MANIFEST_UNKNOWN', `tag "${reference}" not found`, { detail: { tag: reference } });
        }
        const fingerprint = await this.layout.repos.writeIndex(repo, idx);
        await this.index.write.apply(repo, { fingerprint, deleteTags: [reference] });
        return;
      }
      parseDigest(reference);
      if (!this.index.manifest(repo, reference)) throw new RegistryError('MANIFEST_UNKNOWN', undefined, { detail: { digest: reference } });
      const parents = this.index.parents(repo, reference).filter((p) => this.index.manifest(repo, p));
      if (parents.length > 0) {
        throw new RegistryError('UNSUPPORTED', 'manifest is referenced by an image index in this repository', { status: 405, detail: { referencedBy: parents } });
      }
      const tags = removeManifest(idx, reference);
      const fingerprint = await this.layout.repos.writeIndex(repo, idx);
      await this.index.write.apply(repo, { fingerprint, deleteManifests: [reference], deleteTags: tags });
    });
  }

  /** Every blob a manifest names, and every child of an index, must be in the repository. */
  private async checkReferences(repo: string, parsed: ParsedManifest): Promise<void> {
    const missing: string[] = [];
    await Promise.all(
      parsed.blobs.map(async (d) => {
        if (!(await this.layout.blobs.stat(repo, d))) missing.push(d);
      }),
    );
    for (const m of parsed.manifests) {
      if (!this.index.manifest(repo, m.digest) && !(await this.layout.blobs.stat(repo, m.digest))) missing.push(m.digest);
    }
    if (missing.length > 0) {
      throw new RegistryError('MANIFEST_BLOB_UNKNOWN', `manifest references ${missing.length} unknown blob(s)`, { detail: { digests: missing.slice(0, 20) } });
    }
  }
}
