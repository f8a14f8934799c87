/**
 * An OCI content descriptor: what a blob is, where to find it, how big.
 *
 * @module
 */

/** A content descriptor (`application/vnd.oci.image.layer.v1.tar+gzip` …). */
export interface Descriptor {
  /** The media type of the content. */
  mediaType: string;
  /** Its digest, `sha256:…`. */
  digest: string;
  /** Its size in bytes. */
  size: number;
  /** Annotations. */
  annotations?: Record<string, string>;
}
