export { MultipartError } from './multipart/errors.ts';
export { parseContentType } from './multipart/content-type.ts';
export type { ContentType } from './multipart/content-type.ts';
export { parseMultipart, DEFAULT_MAX_HEADER_BYTES, DEFAULT_MAX_PARTS } from './multipart/parse.ts';
export type { MultipartLimits, MultipartPart } from './multipart/parse.ts';
export { writeMultipart } from './multipart/write.ts';
export type { MultipartSubtype, OutgoingPart, WrittenMultipart } from './multipart/write.ts';
export {
  decodeDocumentMultipart,
  decodeRevisionsMixed,
  encodeDocumentRelated,
  encodeRevisionsMixed,
} from './multipart/couch-doc.ts';
export type { AttachmentBody, DecodedDocument, RevisionEntry } from './multipart/couch-doc.ts';
export * from './blip/index.ts';
export {
  addMissingLegacyAttachments,
  findInlineBlobs,
  isBlobDict,
  legacyAttachmentName,
  revGeneration,
  stripLegacyAttachments,
  valueAtLegacyName,
  withLegacyAttachments,
} from './blobs/legacy-attachments.ts';
export type { InlineBlob } from './blobs/legacy-attachments.ts';
