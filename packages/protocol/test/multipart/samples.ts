/** Joins lines with CRLF, the way CouchDB and its clients frame multipart bodies. */
export const crlf = (...lines: string[]): Buffer => Buffer.from(lines.join('\r\n'), 'utf8');

export const lf = (...lines: string[]): Buffer => Buffer.from(lines.join('\n'), 'utf8');

/** What a CouchDB replicator sends for `PUT /db/doc` with one attachment. */
export const couchPutBody = crlf(
  '--e89b3e29388aef23453450d10e5aaed0',
  'Content-Type: application/json',
  '',
  '{"_id":"doc","_rev":"2-abc","_attachments":{"foo.txt":{"follows":true,"content_type":"text/plain","length":21,"digest":"md5-x"}}}',
  '--e89b3e29388aef23453450d10e5aaed0',
  'Content-Disposition: attachment; filename="foo.txt"',
  'Content-Type: text/plain',
  '',
  'this is 21 chars long',
  '--e89b3e29388aef23453450d10e5aaed0--',
);
export const couchPutType = 'multipart/related; boundary="e89b3e29388aef23453450d10e5aaed0"';
