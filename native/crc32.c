// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320, as zlib.crc32 computes it), so the
// frames encodeFrame writes are checked by the same code as those frame.ts writes. Table
// driven, eight bytes a step: for a 400-byte record it measured as fast as the zlib in
// Node (whose vectorised path costs more to set up than it saves on short input), with
// nothing to find at load time.
#include "crc32.h"

#include <pthread.h>

static uint32_t table[8][256];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init(void) {
  for (uint32_t n = 0; n < 256; n++) {
    uint32_t c = n;
    for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    table[0][n] = c;
  }
  for (uint32_t n = 0; n < 256; n++) {
    for (int k = 1; k < 8; k++) table[k][n] = table[0][table[k - 1][n] & 0xff] ^ (table[k - 1][n] >> 8);
  }
}

uint32_t crc32_of(const uint8_t* data, size_t length) {
  pthread_once(&once, init);
  uint32_t crc = 0xffffffffu;
  while (length >= 8) {
    uint32_t low = crc ^ ((uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 | (uint32_t)data[3] << 24);
    uint32_t high = (uint32_t)data[4] | (uint32_t)data[5] << 8 | (uint32_t)data[6] << 16 | (uint32_t)data[7] << 24;
    crc = table[7][low & 0xff] ^ table[6][(low >> 8) & 0xff] ^ table[5][(low >> 16) & 0xff] ^ table[4][low >> 24] ^
          table[3][high & 0xff] ^ table[2][(high >> 8) & 0xff] ^ table[1][(high >> 16) & 0xff] ^ table[0][high >> 24];
    data += 8;
    length -= 8;
  }
  while (length-- > 0) crc = table[0][(crc ^ *data++) & 0xff] ^ (crc >> 8);
  return crc ^ 0xffffffffu;
}
