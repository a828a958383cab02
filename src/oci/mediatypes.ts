/** Media types the registry recognises (OCI image-spec media-types.md, Docker schema 2). */
export const MediaType = {
  OciManifest: 'application/vnd.oci.image.manifest.v1+json',
  OciIndex: 'application/vnd.oci.image.index.v1+json',
  OciEmpty: 'application/vnd.oci.empty.v1+json',
  OciLayout: 'application/vnd.oci.layout.header.v1+json',
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  DockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DockerForeignLayer: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  OciNondistributableLayer: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
  OciNondistributableLayerGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  OciNondistributableLayerZstd: 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
} as const;

/** Kinds of manifest the registry stores and serves. */
export type ManifestKind = 'image' | 'index';

/** Manifest media types accepted on PUT, and what kind each is. */
export const MANIFEST_KINDS: Readonly<Record<string, ManifestKind>> = {
  [MediaType.OciManifest]: 'image',
  [MediaType.OciIndex]: 'index',
  [MediaType.DockerManifest]: 'image',
  [MediaType.DockerManifestList]: 'index',
};

/** Layers a registry need not hold: their content lives at `urls` (foreign / non-distributable). */
export function isNondistributable(mediaType: string): boolean {
  return (
    mediaType === MediaType.DockerForeignLayer ||
    mediaType === MediaType.OciNondistributableLayer ||
    mediaType === MediaType.OciNondistributableLayerGzip ||
    mediaType === MediaType.OciNondistributableLayerZstd
  );
}

/** The `Accept` header value a client sends for every manifest kind we store. */
export const ALL_MANIFEST_TYPES = Object.keys(MANIFEST_KINDS);
