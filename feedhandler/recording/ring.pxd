from libc.stdint cimport int64_t, uint64_t

cdef extern from "<pthread.h>" nogil:
    ctypedef struct pthread_mutex_t:
        pass
    ctypedef struct pthread_cond_t:
        pass
    ctypedef unsigned long pthread_t
    int pthread_mutex_init(pthread_mutex_t* m, const void* attr)
    int pthread_mutex_destroy(pthread_mutex_t* m)
    int pthread_mutex_lock(pthread_mutex_t* m)
    int pthread_mutex_unlock(pthread_mutex_t* m)
    int pthread_cond_init(pthread_cond_t* c, const void* attr)
    int pthread_cond_destroy(pthread_cond_t* c)
    int pthread_cond_wait(pthread_cond_t* c, pthread_mutex_t* m)
    int pthread_cond_signal(pthread_cond_t* c)
    int pthread_cond_broadcast(pthread_cond_t* c)
    int pthread_create(pthread_t* t, const void* attr, void* (*start)(void*) noexcept nogil, void* arg)
    int pthread_join(pthread_t t, void** result)

cdef enum:
    CHUNK_END_FRAME = 1   # end the zstd frame after this chunk's bytes (the chunk ends on a record boundary)
    CHUNK_CLOSE_FD = 2    # close the chunk's file after its bytes are written (the segment is finished)

# zstd's stable streaming API (zstd.h), called through the function pointers of the zstandard package's own
# libzstd: the two buffer structs are three words each, the enums C ints.
cdef struct ZstdIn:
    const void* src
    size_t size
    size_t pos

cdef struct ZstdOut:
    void* dst
    size_t size
    size_t pos

ctypedef void* (*zstd_create_t)() noexcept nogil
ctypedef size_t (*zstd_free_t)(void* cctx) noexcept nogil
ctypedef size_t (*zstd_set_t)(void* cctx, int param, int value) noexcept nogil
ctypedef size_t (*zstd_stream_t)(void* cctx, ZstdOut* out, ZstdIn* inp, int end_op) noexcept nogil
ctypedef unsigned (*zstd_is_error_t)(size_t code) noexcept nogil
ctypedef const char* (*zstd_error_name_t)(size_t code) noexcept nogil

cdef struct Chunk:
    char* data
    Py_ssize_t length
    int fd
    int flags
    int64_t segment

cdef struct RingState:
    # the ring: slot (head % n) is the one the feed fills; [tail, head) wait for the compressing thread
    Chunk* chunks
    int n
    uint64_t head, tail
    uint64_t wake_batch        # published chunks that wake the thread (a frame's end wakes it at once)
    pthread_mutex_t mu
    pthread_cond_t has_data, has_space
    bint stop
    pthread_t thread
    # the compressing thread's own
    void* cctx
    zstd_stream_t stream
    zstd_is_error_t is_error
    zstd_error_name_t error_name
    char* out
    size_t out_size
    # reported by the compressing thread (under mu)
    int64_t done_segment, done_segment_bytes, bytes_in, bytes_out
    int error                  # errno of a failed write, -1 a zstd error, 0 none
    char error_text[160]


cdef class ChunkRing:
    cdef RingState* _st
    cdef char* _map                    # the chunks and the output buffer: one private mapping
    cdef size_t _mapped
    cdef readonly Py_ssize_t chunk_bytes
    cdef readonly int chunks
    cdef int _fd
    cdef int64_t _segment
    cdef bint _started
    cdef int _pid
    cdef zstd_free_t _free
    cdef char* c_current(self) noexcept
    cdef char* c_publish(self, Py_ssize_t length, int flags) except NULL
    cdef void _stop(self) noexcept
    cdef void _release(self) noexcept
