// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320, as zlib.crc32 computes it), so the
// frames encodeFrame writes are checked by the same code as those frame.ts writes.
// On x86-64 with carry-less multiplication (PCLMULQDQ, every x86-64 CPU since 2010), 16
// bytes at a time by folding, as Chromium's zlib does (crc32_simd.c, after Intel's paper
// "Fast CRC Computation for Generic Polynomials Using PCLMULQDQ Instruction"); on arm64
// with the CRC32 instructions (ARMv8.1 makes them mandatory; Graviton, Ampere and Apple
// cores have them), eight bytes an instruction; elsewhere, and for what is left over, a
// table eight bytes a step. test/journal/encodeFrame.test.ts
// checks both against zlib.crc32 for every length up to a few hundred bytes.
#include "crc32.h"

#include <pthread.h>

static uint32_t table[8][256];
// A mutex and a flag, not pthread_once: linked on glibc >= 2.34, pthread_once asks for
// GLIBC_2.34, and the prebuilt binary must load where the official Node binaries run (2.28).
static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
static int built;

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_CLMUL_PATH 1
#include <immintrin.h>

static int use_clmul;

/* `crc` and the result are the running (inverted) state; `len` is a multiple of 16, >= 64. */
__attribute__((target("sse4.1,pclmul"))) static uint32_t crc32_clmul(const uint8_t* buf, size_t len, uint32_t crc) {
  const __m128i k1k2 = _mm_set_epi64x(0x01c6e41596, 0x0154442bd4);
  const __m128i k3k4 = _mm_set_epi64x(0x00ccaa009e, 0x01751997d0);
  const __m128i k5k0 = _mm_set_epi64x(0, 0x0163cd6124);
  const __m128i poly = _mm_set_epi64x(0x01f7011641, 0x01db710641);
  __m128i x0, x1, x2, x3, x4, x5, x6, x7, x8, y5, y6, y7, y8;

  x1 = _mm_loadu_si128((const __m128i*)(buf + 0x00));
  x2 = _mm_loadu_si128((const __m128i*)(buf + 0x10));
  x3 = _mm_loadu_si128((const __m128i*)(buf + 0x20));
  x4 = _mm_loadu_si128((const __m128i*)(buf + 0x30));
  x1 = _mm_xor_si128(x1, _mm_cvtsi32_si128((int)crc));
  x0 = k1k2;
  buf += 64;
  len -= 64;

  /* Fold four 128-bit lanes at once while 64 bytes remain. */
  while (len >= 64) {
    x5 = _mm_clmulepi64_si128(x1, x0, 0x00);
    x6 = _mm_clmulepi64_si128(x2, x0, 0x00);
    x7 = _mm_clmulepi64_si128(x3, x0, 0x00);
    x8 = _mm_clmulepi64_si128(x4, x0, 0x00);
    x1 = _mm_clmulepi64_si128(x1, x0, 0x11);
    x2 = _mm_clmulepi64_si128(x2, x0, 0x11);
    x3 = _mm_clmulepi64_si128(x3, x0, 0x11);
    x4 = _mm_clmulepi64_si128(x4, x0, 0x11);
    y5 = _mm_loadu_si128((const __m128i*)(buf + 0x00));
    y6 = _mm_loadu_si128((const __m128i*)(buf + 0x10));
    y7 = _mm_loadu_si128((const __m128i*)(buf + 0x20));
    y8 = _mm_loadu_si128((const __m128i*)(buf + 0x30));
    x1 = _mm_xor_si128(_mm_xor_si128(x1, x5), y5);
    x2 = _mm_xor_si128(_mm_xor_si128(x2, x6), y6);
    x3 = _mm_xor_si128(_mm_xor_si128(x3, x7), y7);
    x4 = _mm_xor_si128(_mm_xor_si128(x4, x8), y8);
    buf += 64;
    len -= 64;
  }

  /* Fold the four lanes into one. */
  x0 = k3k4;
  x5 = _mm_clmulepi64_si128(x1, x0, 0x00);
  x1 = _mm_clmulepi64_si128(x1, x0, 0x11);
  x1 = _mm_xor_si128(_mm_xor_si128(x1, x2), x5);
  x5 = _mm_clmulepi64_si128(x1, x0, 0x00);
  x1 = _mm_clmulepi64_si128(x1, x0, 0x11);
  x1 = _mm_xor_si128(_mm_xor_si128(x1, x3), x5);
  x5 = _mm_clmulepi64_si128(x1, x0, 0x00);
  x1 = _mm_clmulepi64_si128(x1, x0, 0x11);
  x1 = _mm_xor_si128(_mm_xor_si128(x1, x4), x5);

  /* Then 16 bytes at a time. */
  while (len >= 16) {
    x2 = _mm_loadu_si128((const __m128i*)buf);
    x5 = _mm_clmulepi64_si128(x1, x0, 0x00);
    x1 = _mm_clmulepi64_si128(x1, x0, 0x11);
    x1 = _mm_xor_si128(_mm_xor_si128(x1, x2), x5);
    buf += 16;
    len -= 16;
  }

  /* 128 bits to 64. */
  x2 = _mm_clmulepi64_si128(x1, x0, 0x10);
  x3 = _mm_setr_epi32(~0, 0, ~0, 0);
  x1 = _mm_srli_si128(x1, 8);
  x1 = _mm_xor_si128(x1, x2);
  x0 = k5k0;
  x2 = _mm_srli_si128(x1, 4);
  x1 = _mm_and_si128(x1, x3);
  x1 = _mm_clmulepi64_si128(x1, x0, 0x00);
  x1 = _mm_xor_si128(x1, x2);

  /* Barrett reduction to 32 bits. */
  x0 = poly;
  x2 = _mm_and_si128(x1, x3);
  x2 = _mm_clmulepi64_si128(x2, x0, 0x10);
  x2 = _mm_and_si128(x2, x3);
  x2 = _mm_clmulepi64_si128(x2, x0, 0x00);
  x1 = _mm_xor_si128(x1, x2);
  return (uint32_t)_mm_extract_epi32(x1, 1);
}
#endif

#if defined(__aarch64__) && defined(__linux__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_ARM_CRC_PATH 1
#include <string.h>
#include <sys/auxv.h>

#ifndef HWCAP_CRC32
#define HWCAP_CRC32 (1 << 7)
#endif

static int use_arm_crc;

/* The running (inverted) state over `length` more bytes, as crc32_table: the instructions
   compute the same reflected CRC-32 (polynomial 0x04C11DB7), without inverting. */
__attribute__((target("+crc"))) static uint32_t crc32_arm(uint32_t crc, const uint8_t* data, size_t length) {
  while (length >= 8) {
    uint64_t word;
    memcpy(&word, data, 8);
    __asm__("crc32x %w0, %w0, %x1" : "+r"(crc) : "r"(word));
    data += 8;
    length -= 8;
  }
  while (length-- > 0) __asm__("crc32b %w0, %w0, %w1" : "+r"(crc) : "r"((uint32_t)*data++));
  return crc;
}
#endif

static void build(void) {
  for (uint32_t n = 0; n < 256; n++) {
    uint32_t c = n;
    for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    table[0][n] = c;
  }
  for (uint32_t n = 0; n < 256; n++) {
    for (int k = 1; k < 8; k++) table[k][n] = table[0][table[k - 1][n] & 0xff] ^ (table[k - 1][n] >> 8);
  }
#ifdef HAVE_CLMUL_PATH
  __builtin_cpu_init();
  use_clmul = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
#endif
#ifdef HAVE_ARM_CRC_PATH
  use_arm_crc = (getauxval(AT_HWCAP) & HWCAP_CRC32) != 0;
#endif
}

/* The running (inverted) state over `length` more bytes, eight at a step. */
static uint32_t crc32_table(uint32_t crc, const uint8_t* data, size_t length) {
  while (length >= 8) {
    uint32_t low = crc ^ ((uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 | (uint32_t)data[3] << 24);
    uint32_t high = (uint32_t)data[4] | (uint32_t)data[5] << 8 | (uint32_t)data[6] << 16 | (uint32_t)data[7] << 24;
    crc = table[7][low & 0xff] ^ table[6][(low >> 8) & 0xff] ^ table[5][(low >> 16) & 0xff] ^ table[4][low >> 24] ^
          table[3][high & 0xff] ^ table[2][(high >> 8) & 0xff] ^ table[1][(high >> 16) & 0xff] ^ table[0][high >> 24];
    data += 8;
    length -= 8;
  }
  while (length-- > 0) crc = table[0][(crc ^ *data++) & 0xff] ^ (crc >> 8);
  return crc;
}

void crc32_init(void) {
  // Once per process, whichever thread's module initialisation comes first (workers load
  // the addon too). The lock also publishes the table to the thread that waited for it.
  pthread_mutex_lock(&init_lock);
  if (!built) {
    build();
    built = 1;
  }
  pthread_mutex_unlock(&init_lock);
}

uint32_t crc32_of(const uint8_t* data, size_t length) {
  uint32_t crc = 0xffffffffu;
#ifdef HAVE_CLMUL_PATH
  if (use_clmul && length >= 64) {
    size_t folded = length & ~(size_t)15;
    crc = crc32_clmul(data, folded, crc);
    data += folded;
    length -= folded;
  }
#endif
#ifdef HAVE_ARM_CRC_PATH
  if (use_arm_crc) return crc32_arm(crc, data, length) ^ 0xffffffffu;
#endif
  return crc32_table(crc, data, length) ^ 0xffffffffu;
}
