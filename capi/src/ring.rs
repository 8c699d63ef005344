//! Channels' directories (`sairing_channel_*`) and the bare ring, for users
//! outside SAI: `sairing_ring_create`, `sairing_producer_*`,
//! `sairing_consumer_*`.

use std::ffi::{c_char, c_int};

use sairing_ring::{Consumer, CreateOptions, OpenOptions, Producer};
use sairing_transport::channel::{self, ChannelOptions};

use crate::*;

/// Creates a channel in `dir` (NUL-terminated): the directory, both rings of
/// `capacity` bytes each (0: the default, 64 MiB; else a power of two of at
/// least 4096) and nothing else; `SAIRING_ERR_BUSY` if one exists there.
///
/// # Safety
/// `dir` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn sairing_channel_create(dir: *const c_char, capacity: u64) -> c_int {
    call(|| {
        // SAFETY: by the contract above.
        let dir = unsafe { path(dir)? };
        let d = ChannelOptions::default();
        channel::create(
            &dir,
            &ChannelOptions {
                capacity: if capacity == 0 { d.capacity } else { capacity },
                ..d
            },
        )?;
        Ok(SAIRING_OK)
    })
}

/// Removes the channel in `dir`; refused (`SAIRING_ERR_BUSY`) while a client
/// or server is attached, unless `force`.
///
/// # Safety
/// `dir` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn sairing_channel_remove(dir: *const c_char, force: bool) -> c_int {
    call(|| {
        // SAFETY: by the contract above.
        let dir = unsafe { path(dir)? };
        channel::remove(&dir, force)?;
        Ok(SAIRING_OK)
    })
}

/// A ring's producer. Opaque.
pub struct SairingProducer {
    producer: Producer,
}

/// A ring's consumer. Opaque.
pub struct SairingConsumer {
    consumer: Consumer,
}

/// A record, as a view into the consumer (valid until its next read).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SairingRecord {
    /// Its sequence number.
    pub seq: u64,
    /// Its kind (1..=0xFFFE).
    pub kind: u16,
    /// Its payload: a private copy, never the shared memory.
    pub data: *const u8,
    /// How many bytes.
    pub len: usize,
}

/// Creates a ring file at `path` of `capacity` bytes (a power of two of at
/// least 4096), mode 0600; never overwrites.
///
/// # Safety
/// `path` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn sairing_ring_create(path: *const c_char, capacity: u64) -> c_int {
    call(|| {
        // SAFETY: by the contract above.
        let p = unsafe { crate::path(path)? };
        sairing_ring::create(&p, &CreateOptions::with_capacity(capacity))?;
        Ok(SAIRING_OK)
    })
}

/// Opens the ring at `path` as its producer (`SAIRING_ERR_BUSY` while another
/// live process is).
///
/// # Safety
/// `path` is NULL or NUL-terminated; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sairing_producer_open(
    path: *const c_char,
    out: *mut *mut SairingProducer,
) -> c_int {
    call(|| {
        // SAFETY: by the contract above.
        let p = unsafe { crate::path(path)? };
        // SAFETY: `out` is NULL or writable, by the contract above.
        unsafe {
            open_into(out, || {
                Ok(SairingProducer {
                    producer: Producer::open(&p, &OpenOptions::default())?,
                })
            })
        }
    })
}

/// Frees the producer. NULL is ignored.
///
/// # Safety
/// `p` is NULL or a producer not closed yet; it is not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn sairing_producer_close(p: *mut SairingProducer) {
    // SAFETY: NULL or a live handle not used again, by the contract above.
    unsafe { close(p) }
}

/// Copies `len` bytes at `data` into a new record of `kind` (1..=0xFFFE) and
/// publishes it; its sequence number goes to `*seq` (may be NULL). Never
/// waits: a full ring is `SAIRING_ERR_FULL`.
///
/// # Safety
/// `p` is a live producer or NULL; `data` has `len` readable bytes (or is NULL
/// with `len` 0); `seq` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sairing_producer_push(
    p: *mut SairingProducer,
    kind: u16,
    data: *const std::ffi::c_void,
    len: usize,
    seq: *mut u64,
) -> c_int {
    call(|| {
        // SAFETY: by the contract above.
        let h = unsafe { handle(p, "producer")? };
        // SAFETY: `len` readable bytes at `data`, by the contract.
        let bytes = unsafe { crate::c_array(data.cast::<u8>(), len, "data")? };
        let s = h.producer.push(kind, bytes)?;
        // SAFETY: NULL or writable.
        unsafe { put(seq, s) };
        Ok(SAIRING_OK)
    })
}

/// Opens the ring at `path` as its consumer (`SAIRING_ERR_BUSY` while another
/// live process is).
///
/// # Safety
/// `path` is NULL or NUL-terminated; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sairing_consumer_open(
    path: *const c_char,
    out: *mut *mut SairingConsumer,
) -> c_int {
    call(|| {
        // SAFETY: by the contract above.
        let p = unsafe { crate::path(path)? };
        // SAFETY: `out` is NULL or writable, by the contract above.
        unsafe {
            open_into(out, || {
                Ok(SairingConsumer {
                    consumer: Consumer::open(&p, &OpenOptions::default())?,
                })
            })
        }
    })
}

/// Frees the consumer. NULL is ignored.
///
/// # Safety
/// `c` is NULL or a consumer not closed yet; it is not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn sairing_consumer_close(c: *mut SairingConsumer) {
    // SAFETY: NULL or a live handle not used again, by the contract above.
    unsafe { close(c) }
}

/// Reads the next record without waiting: `SAIRING_OK` with it in `*out`, or
/// `SAIRING_EMPTY`. It stays in the ring until released.
///
/// # Safety
/// `c` is a live consumer or NULL; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sairing_consumer_read(
    c: *mut SairingConsumer,
    out: *mut SairingRecord,
) -> c_int {
    call(|| {
        // SAFETY: by the contract above.
        let h = unsafe { handle(c, "consumer")? };
        let Some(r) = h.consumer.read()? else {
            return Ok(SAIRING_EMPTY);
        };
        let view = SairingRecord {
            seq: r.seq(),
            kind: r.kind(),
            data: r.payload().as_ptr(),
            len: r.payload().len(),
        };
        // SAFETY: NULL or writable.
        unsafe { put(out, view) };
        Ok(SAIRING_OK)
    })
}

/// Releases every record read so far: the producer may reuse their space.
///
/// # Safety
/// `c` is a live consumer or NULL.
#[no_mangle]
pub unsafe extern "C" fn sairing_consumer_release(c: *mut SairingConsumer) -> c_int {
    call(|| {
        // SAFETY: by the contract above.
        let h = unsafe { handle(c, "consumer")? };
        h.consumer.release();
        Ok(SAIRING_OK)
    })
}
