import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { InvalidInputError } from '../errors.ts';

/*
 * Reading a .p8 given by path (the CLI's --private-key-file). A FIFO would block the read
 * forever, a device (/dev/zero, /dev/urandom) never ends, a socket cannot be read: the file is
 * opened with O_NONBLOCK (so opening a FIFO with no writer does not hang either) and checked to
 * be a regular file of a sane size BEFORE a byte is read; then at most the bound is read.
 */

/** A .p8 is about 250 bytes; anything far larger is the wrong file. */
export const MAX_PRIVATE_KEY_FILE_BYTES = 64 * 1024;

const FIELD = 'privateKeyFile';

function kindOf(info: {
  isDirectory(): boolean;
  isFIFO(): boolean;
  isSocket(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
}): string {
  if (info.isDirectory()) return 'a folder';
  if (info.isFIFO()) return 'a named pipe (FIFO)';
  if (info.isSocket()) return 'a socket';
  if (info.isCharacterDevice() || info.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

/** The key file's text; throws InvalidInputError('privateKeyFile', …) saying what is wrong. */
export async function readPrivateKeyFile(file: string): Promise<string> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
    const info = await handle.stat();
    if (!info.isFile()) {
      throw new InvalidInputError(FIELD, `${file} is ${kindOf(info)}; give the AuthKey_<KEYID>.p8 file.`);
    }
    if (info.size > MAX_PRIVATE_KEY_FILE_BYTES) {
      throw new InvalidInputError(
        FIELD,
        `${file} is ${info.size} bytes, far too large for a .p8 key (at most ${MAX_PRIVATE_KEY_FILE_BYTES}); give the AuthKey_<KEYID>.p8 file.`,
      );
    }
    const buffer = Buffer.alloc(MAX_PRIVATE_KEY_FILE_BYTES + 1);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    if (bytesRead > MAX_PRIVATE_KEY_FILE_BYTES) {
      throw new InvalidInputError(
        FIELD,
        `${file} grew past ${MAX_PRIVATE_KEY_FILE_BYTES} bytes while being read; give the AuthKey_<KEYID>.p8 file.`,
      );
    }
    return buffer.subarray(0, bytesRead).toString('utf8');
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
            : code === 'ENXIO'
              ? 'it is a socket or a pipe with no writer'
              : (code ?? 'unreadable');
    throw new InvalidInputError(
      FIELD,
      `cannot read ${file} (${why}); give the path of the AuthKey_<KEYID>.p8 file.`,
    );
  } finally {
    await handle?.close();
  }
}
