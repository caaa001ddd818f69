/* redis_slot.h -- the Redis Cluster key slot: CRC16 (XMODEM) of the key, or of
 * its hash tag, modulo 16384, as the Redis Cluster specification defines it.
 * Pure functions, no I/O, no allocation. */
#ifndef REDIS_SLOT_H
#define REDIS_SLOT_H

#include <stddef.h>
#include <stdint.h>

#define REDIS_SLOTS 16384

/* CRC16-CCITT as the spec uses it (XMODEM: poly 0x1021, init 0, no
 * reflection, no final xor). redis_crc16("123456789", 9) == 0x31C3. */
uint16_t redis_crc16(const void *buf, size_t len);

/* The slot of a key (0..16383). If the key holds a '{' followed later by a
 * '}' with at least one byte between them, only the bytes between the first
 * '{' and the first '}' after it are hashed ("{user1000}.following"); an
 * empty tag ("{}x") hashes the whole key. The key may hold any bytes. */
unsigned redis_key_slot(const void *key, size_t len);

#endif
