import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { InvalidInputError } from '../errors.ts';

/** A .p8 is a few hundred bytes; anything far larger is the wrong file (and is not read whole). */
export const MAX_KEY_FILE_BYTES = 64 * 1024;

/**
 * Reads the AuthKey_<KEYID>.p8 a person pointed at. Only a regular file of a sane size is read:
 * a FIFO, a device or a socket would block or never end, so the file is opened without blocking
 * and checked (on the open handle, so it cannot be swapped in between) before a byte is read.
 */
export async function readPrivateKeyFile(file: string): Promise<{ text: string; fileName: string }> {
  const field = 'privateKeyFile';
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
    const info = await handle.stat();
    if (info.isDirectory())
      throw new InvalidInputError(field, `${file} is a folder; give the AuthKey_<KEYID>.p8 file.`);
    if (!info.isFile()) {
      throw new InvalidInputError(
        field,
        `${file} is not a regular file (a pipe, device or socket); give the AuthKey_<KEYID>.p8 file itself.`,
      );
    }
    if (info.size > MAX_KEY_FILE_BYTES) {
      throw new InvalidInputError(
        field,
        `${file} is ${info.size} bytes, far too large for a .p8 key (at most ${MAX_KEY_FILE_BYTES}); give the AuthKey_<KEYID>.p8 file.`,
      );
    }
    const buffer = Buffer.alloc(MAX_KEY_FILE_BYTES + 1);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    if (bytesRead > MAX_KEY_FILE_BYTES) {
      throw new InvalidInputError(
        field,
        `${file} grew past ${MAX_KEY_FILE_BYTES} bytes while being read; give the .p8 file.`,
      );
    }
    return { text: buffer.subarray(0, bytesRead).toString('utf8'), fileName: path.basename(file) };
  } catch (error) {
    if (error instanceof InvalidInputError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES'
          ? 'permission denied'
          : code === 'EISDIR'
            ? 'it is a folder'
            : (code ?? 'unreadable');
    throw new InvalidInputError(
      field,
      `cannot read ${file} (${why}); give the path of the AuthKey_<KEYID>.p8 file.`,
    );
  } finally {
    await handle?.close();
  }
}
