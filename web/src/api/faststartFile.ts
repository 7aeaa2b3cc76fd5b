import { faststartBlobParts } from '../../../sdk/faststart/faststartBlobParts.js';

/**
 * The file as the page uploads it: an MP4/MOV whose index (moov) comes after its media data
 * is put in faststart order, so the server converts it while it arrives; any other file is
 * sent as it is. Only moov is read here: the new File is slices of the chosen one around the
 * new moov, read from disk as it is sent. A file the remuxer cannot read goes as it is, and
 * the server judges it as before.
 */
export async function faststartFile(file: File): Promise<File> {
  try {
    const parts = await faststartBlobParts(file);
    if (!parts) return file;
    return new File(parts, file.name, { type: file.type, lastModified: file.lastModified });
  } catch {
    return file;
  }
}
