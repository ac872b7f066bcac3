# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""The journal's per-record work in C: encoding a batch, scanning a segment (see `engine.journal`).

A record is `length (u32) | sequence (u64) | crc32 (u32) | payload`, little-endian, the CRC over
the sequence and the payload. `engine.journal` owns the format, the files and every error
message; these two loops only do per record what Python did at about a microsecond a record,
which bounded both group commits and recovery (BENCHMARKS.md, issue 4).
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE
from libc.stdint cimport uint32_t, uint64_t
from libc.string cimport memcpy

from engine.little_endian cimport get32, get64, put32


cdef extern from "zlib.h":
    unsigned long crc32(unsigned long crc, const unsigned char* buf, unsigned int length) nogil


def encode_records(unsigned long long first_sequence, list payloads, Py_ssize_t max_payload):
    """The bytes of records for `payloads`, numbered from `first_sequence` (what `journal.encode_record` makes)."""
    cdef Py_ssize_t total = 0, length, i, count = PyList_GET_SIZE(payloads)
    cdef unsigned long long sequence
    cdef unsigned char* out
    cdef const unsigned char* data
    cdef unsigned long crc
    cdef int b
    for i in range(count):
        payload = <object>PyList_GET_ITEM(payloads, i)
        length = PyBytes_GET_SIZE(<bytes>payload)
        if length > max_payload:
            raise ValueError(f"record of {length} bytes is over the {max_payload}-byte limit")
        total += 16 + length
    blob = PyBytes_FromStringAndSize(NULL, total)
    out = <unsigned char*>PyBytes_AS_STRING(blob)
    sequence = first_sequence
    for i in range(count):
        payload = <object>PyList_GET_ITEM(payloads, i)
        data = <const unsigned char*>PyBytes_AS_STRING(payload)
        length = PyBytes_GET_SIZE(payload)
        put32(out, <uint32_t>length)
        for b in range(8):
            out[4 + b] = (sequence >> (8 * b)) & 0xFF
        crc = crc32(0, out + 4, 8)
        crc = crc32(crc, data, <unsigned int>length)
        put32(out + 12, <uint32_t>crc)
        memcpy(out + 16, data, length)
        out += 16 + length
        sequence += 1
    return blob


def scan_records(bytes data, Py_ssize_t offset, unsigned long long expected, Py_ssize_t max_payload,
                 unsigned long long after=0):
    """Read sound records from `offset` on, numbered from `expected`: (payloads, end offset, next number).

    Records numbered `after` or below are checked but not copied out (recovery needs only the
    records after its snapshot, or after the state a standby already holds).

    Stops at the end of `data` or at the first record that is not sound (short, misnumbered,
    too long, or failing its CRC); the caller decides what that record is (`Journal._read_segment`).
    """
    cdef const unsigned char* base = <const unsigned char*>PyBytes_AS_STRING(data)
    cdef Py_ssize_t size = PyBytes_GET_SIZE(data), start, end
    cdef uint32_t length, crc
    cdef unsigned long computed
    cdef list payloads = []
    while size - offset >= 16:
        length = get32(base + offset)
        if length > max_payload or get64(base + offset + 4) != expected:
            break
        start = offset + 16
        end = start + length
        if end > size:
            break
        crc = get32(base + offset + 12)
        computed = crc32(crc32(0, base + offset + 4, 8), base + start, length)
        if <uint32_t>computed != crc:
            break
        if expected > after:
            payloads.append(PyBytes_FromStringAndSize(<const char*>(base + start), length))
        expected += 1
        offset = end
    return payloads, offset, expected
