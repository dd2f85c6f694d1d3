/*
 * The console's icon: a 16×16 ICO drawn here (a white "c" on the header's dark blue), so there is
 * no binary file to ship and /favicon.ico answers instead of a 404 in every page's log.
 */

const SIZE = 16;
const BACKGROUND = [0x21, 0x1a, 0x15, 0xff]; // BGRA of #151a21
const FOREGROUND = [0xd3, 0x5b, 0x2f, 0xff]; // BGRA of #2f5bd3
const WHITE = [0xff, 0xff, 0xff, 0xff];

/** Rows top to bottom: "#" the letter, "o" the accent ring, "." background. */
const PICTURE = [
  '................',
  '.oooooooooooooo.',
  '.o............o.',
  '.o....####....o.',
  '.o...#....#...o.',
  '.o..#.........o.',
  '.o..#.........o.',
  '.o..#.........o.',
  '.o..#.........o.',
  '.o..#.........o.',
  '.o...#....#...o.',
  '.o....####....o.',
  '.o............o.',
  '.o............o.',
  '.oooooooooooooo.',
  '................',
];

function drawIco(): Buffer {
  const pixels = Buffer.alloc(SIZE * SIZE * 4);
  // BMP rows go bottom to top.
  for (let y = 0; y < SIZE; y++) {
    const row = PICTURE[SIZE - 1 - y]!;
    for (let x = 0; x < SIZE; x++) {
      const c = row[x] === '#' ? WHITE : row[x] === 'o' ? FOREGROUND : BACKGROUND;
      pixels.set(c, (y * SIZE + x) * 4);
    }
  }
  const mask = Buffer.alloc(SIZE * 4); // 1 bit per pixel, rows padded to 32 bits; all opaque
  const header = Buffer.alloc(40);
  header.writeUInt32LE(40, 0);
  header.writeInt32LE(SIZE, 4);
  header.writeInt32LE(SIZE * 2, 8); // colour and mask, stacked
  header.writeUInt16LE(1, 12);
  header.writeUInt16LE(32, 14);
  header.writeUInt32LE(pixels.length + mask.length, 20);
  const image = Buffer.concat([header, pixels, mask]);
  const dir = Buffer.alloc(6 + 16);
  dir.writeUInt16LE(0, 0);
  dir.writeUInt16LE(1, 2); // icon
  dir.writeUInt16LE(1, 4); // one image
  dir.writeUInt8(SIZE, 6);
  dir.writeUInt8(SIZE, 7);
  dir.writeUInt16LE(1, 10);
  dir.writeUInt16LE(32, 12);
  dir.writeUInt32LE(image.length, 14);
  dir.writeUInt32LE(dir.length, 18);
  return Buffer.concat([dir, image]);
}

export const FAVICON_ICO: Buffer = drawIco();
