// CRC-32 (IEEE 802.3, reflected, as zlib.crc32 computes it) of a frame, for encodeFrame.
#ifndef OTEL_BLACKBOX_CRC32_H
#define OTEL_BLACKBOX_CRC32_H
#include <stddef.h>
#include <stdint.h>

/* Builds the tables and checks the CPU, once per process: call before crc32_of. */
void crc32_init(void);

uint32_t crc32_of(const uint8_t* data, size_t length);

#endif
