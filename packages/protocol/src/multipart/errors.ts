/** Raised for any malformed multipart body or any multipart input the codecs refuse to write. */
export class MultipartError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'MultipartError';
  }
}
