/** Small real files for the outbound media tests: a 1×1 PNG, a one-page PDF, and a file of any size that starts like a PNG. */

import { PNG_1X1 } from './rig.js';

/** A valid 1×1 PNG. */
export const PNG = PNG_1X1;

/** A minimal one-page PDF. */
export const PDF = Buffer.from(
  '%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 72 72]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n',
);

/** `size` bytes that sniff as PNG (the signature, then padding): for size limits. */
export function pngOfSize(size: number): Buffer {
  const b = Buffer.alloc(size, 0);
  PNG.copy(b, 0, 0, Math.min(PNG.length, size));
  return b;
}

/** A `data:` URL of `bytes` (what the Direct Line client fetches before uploading, as a browser does a blob: URL). */
export const dataUrl = (bytes: Buffer, type: string) => `data:${type};base64,${bytes.toString('base64')}`;
