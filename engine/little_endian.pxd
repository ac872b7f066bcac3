# cython: language_level=3
# Little-endian integers in byte buffers, shared by the engine's compiled modules (cimported).

from libc.stdint cimport uint32_t, uint64_t


cdef inline void put32(unsigned char* out, uint32_t value) noexcept:
    out[0] = value & 0xFF
    out[1] = (value >> 8) & 0xFF
    out[2] = (value >> 16) & 0xFF
    out[3] = (value >> 24) & 0xFF


cdef inline uint32_t get32(const unsigned char* data) noexcept:
    return data[0] | (<uint32_t>data[1] << 8) | (<uint32_t>data[2] << 16) | (<uint32_t>data[3] << 24)


cdef inline uint64_t get64(const unsigned char* data) noexcept:
    return get32(data) | (<uint64_t>get32(data + 4) << 32)
