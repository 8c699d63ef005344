//! Where a ring's bytes live: a shared file mapping, a heap allocation with the
//! same layout (in-process rings), or, under loom, loom atomics and tracked cells.
//! The ring algorithm sees only [`Mem`], whose few primitives are the only
//! accesses to the data area, and [`RoleHold`], what holds a side's role.

use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::Arc;

use crate::error::Role;
use crate::layout::{Control, HEADER_LEN, OFF_CONTROL};
use crate::sync::Tracker;

pub(crate) enum Backing {
    #[cfg(not(loom))]
    Map {
        // Declared first so that it drops first: the range leaves the SIGBUS
        // table before it is unmapped, never after (the handler would otherwise
        // "repair" whatever the kernel maps there next).
        guard: crate::sigbus::Guard,
        map: memmap2::MmapRaw,
    },
    #[cfg(not(loom))]
    Heap {
        ptr: NonNull<u8>,
        layout: std::alloc::Layout,
    },
    #[cfg(loom)]
    Loom {
        ctl: Box<Control>,
        data: NonNull<u8>,
        words: usize,
        tracker: Tracker,
    },
}

// SAFETY: the backing owns raw memory shared by exactly one producer and one
// consumer, whose accesses the ring protocol orders through the control block's
// atomics; nothing in it is tied to the thread that created it.
unsafe impl Send for Backing {}
// SAFETY: as above; shared references only hand out pointers whose use the
// ring protocol synchronises.
unsafe impl Sync for Backing {}

impl Drop for Backing {
    fn drop(&mut self) {
        match self {
            #[cfg(not(loom))]
            Backing::Map { .. } => {}
            #[cfg(not(loom))]
            Backing::Heap { ptr, layout } => {
                // SAFETY: `ptr` came from `alloc_zeroed(layout)` and is freed once, here.
                unsafe { std::alloc::dealloc(ptr.as_ptr(), *layout) }
            }
            #[cfg(loom)]
            Backing::Loom { data, words, .. } => {
                // SAFETY: `data` came from a leaked `Box<[u64]>` of `words` words.
                drop(unsafe {
                    Box::from_raw(std::ptr::slice_from_raw_parts_mut(
                        data.as_ptr() as *mut u64,
                        *words,
                    ))
                })
            }
        }
    }
}

/// One side's view of a ring's memory.
pub(crate) struct Mem {
    ctl: NonNull<Control>,
    data: NonNull<u8>,
    capacity: u64,
    backing: Arc<Backing>,
    path: PathBuf,
    #[cfg(not(loom))]
    tracker: Tracker,
}

// SAFETY: see `Backing`: the pointers are into memory kept alive by `backing`,
// and their use is ordered by the ring protocol.
unsafe impl Send for Mem {}

impl Mem {
    #[cfg(not(loom))]
    pub(crate) fn from_map(
        map: memmap2::MmapRaw,
        capacity: u64,
        path: &Path,
    ) -> crate::error::Result<Mem> {
        let base = map.as_mut_ptr();
        // A mapping without the guard would crash the process on a truncation:
        // refuse it instead.
        let Some(guard) = crate::sigbus::register(base as usize, map.len()) else {
            return Err(crate::error::Error::Io {
                path: path.to_owned(),
                op: "register with the SIGBUS guard",
                source: std::io::Error::other(format!(
                    "this process already maps {} rings, the most the guard covers",
                    crate::sigbus::SLOTS
                )),
            });
        };
        // SAFETY: the mapping is HEADER_LEN + capacity bytes (checked by the
        // caller against the file's size), page aligned, so the control block at
        // OFF_CONTROL (128-byte aligned) and the data area at HEADER_LEN are in it.
        let (ctl, data) = unsafe {
            (
                NonNull::new_unchecked(base.add(OFF_CONTROL) as *mut Control),
                NonNull::new_unchecked(base.add(HEADER_LEN)),
            )
        };
        Ok(Mem {
            ctl,
            data,
            capacity,
            backing: Arc::new(Backing::Map { map, guard }),
            path: path.to_owned(),
            tracker: Tracker,
        })
    }

    /// A zeroed heap ring with the file layout (header page + data area).
    #[cfg(not(loom))]
    pub(crate) fn heap(capacity: u64) -> Mem {
        let size = HEADER_LEN + capacity as usize;
        let layout = std::alloc::Layout::from_size_align(size, 4096)
            .unwrap_or_else(|_| panic!("heap ring of {capacity} bytes: size overflows"));
        // SAFETY: the layout has a non-zero size.
        let raw = unsafe { std::alloc::alloc_zeroed(layout) };
        let Some(ptr) = NonNull::new(raw) else {
            std::alloc::handle_alloc_error(layout)
        };
        // SAFETY: the allocation is `size` bytes, 4096-aligned.
        let (ctl, data) = unsafe {
            (
                NonNull::new_unchecked(raw.add(OFF_CONTROL) as *mut Control),
                NonNull::new_unchecked(raw.add(HEADER_LEN)),
            )
        };
        let mem = Mem {
            ctl,
            data,
            capacity,
            backing: Arc::new(Backing::Heap { ptr, layout }),
            path: PathBuf::from("<heap>"),
            tracker: Tracker,
        };
        mem.ctl()
            .consumer
            .head_seq
            .store(crate::layout::FIRST_SEQ, crate::sync::Ordering::Relaxed);
        mem
    }

    /// A heap ring made of loom atomics and tracked cells.
    #[cfg(loom)]
    pub(crate) fn heap(capacity: u64) -> Mem {
        let words = capacity as usize / 8;
        let data: Box<[u64]> = vec![0u64; words].into_boxed_slice();
        let data = NonNull::new(Box::into_raw(data) as *mut u8).expect("box is non-null");
        let ctl = Box::new(Control::new());
        let ctl_ptr = NonNull::from(&*ctl);
        Mem {
            ctl: ctl_ptr,
            data,
            capacity,
            backing: Arc::new(Backing::Loom {
                ctl,
                data,
                words,
                tracker: Tracker::new(capacity as usize),
            }),
            path: PathBuf::from("<heap>"),
        }
    }

    /// Whether [`heap`](Self::heap) takes `capacity`: as a file ring would,
    /// except that under loom any power of two of at least 32 bytes is taken so
    /// that models wrap around after a few records.
    pub(crate) fn heap_capacity_is_valid(capacity: u64) -> bool {
        if cfg!(loom) {
            capacity.is_power_of_two() && capacity >= 32
        } else {
            crate::layout::capacity_is_valid(capacity)
        }
    }

    /// Another view of the same memory (the other side of a heap ring).
    pub(crate) fn share(&self) -> Mem {
        Mem {
            ctl: self.ctl,
            data: self.data,
            capacity: self.capacity,
            backing: Arc::clone(&self.backing),
            path: self.path.clone(),
            #[cfg(not(loom))]
            tracker: Tracker,
        }
    }

    #[inline(always)]
    pub(crate) fn ctl(&self) -> &Control {
        // SAFETY: `ctl` points at a Control inside memory that `backing` keeps
        // alive; it consists only of atomics, which may be shared.
        unsafe { self.ctl.as_ref() }
    }

    /// The data area's first byte. Private: every access to the data area goes
    /// through the primitives below, which state what makes them sound.
    #[inline(always)]
    fn data(&self) -> *mut u8 {
        self.data.as_ptr()
    }

    // The data area's primitives. Offsets are into the data area; the ring
    // passes only ranges that lie inside it (`off + len <= capacity`, which
    // each caller's comment shows), and 8-aligned offsets for the word accesses
    // (records are 8-aligned and the data area is page-aligned).

    /// Loads the two header words at `off` with volatile loads: the bytes are
    /// shared with another process, and each is read exactly once into a local
    /// before it is judged.
    ///
    /// # Safety
    /// `off` is 8-aligned and `off + 16 <= capacity`.
    #[inline(always)]
    pub(crate) unsafe fn read_words(&self, off: usize) -> (u64, u64) {
        // SAFETY: by the caller's contract both words are inside the data area
        // and aligned; volatile loads of memory another process may change form
        // no reference to it.
        unsafe {
            let p = self.data().add(off) as *const u64;
            (p.read_volatile(), p.add(1).read_volatile())
        }
    }

    /// Stores the two header words at `off`.
    ///
    /// # Safety
    /// `off` is 8-aligned, `off + 16 <= capacity`, and the caller owns those
    /// bytes: the producer's free space, which the consumer does not read.
    #[inline(always)]
    pub(crate) unsafe fn write_words(&self, off: usize, w0: u64, w1: u64) {
        // SAFETY: by the caller's contract, in bounds, aligned and not read by
        // the other side until a cursor store publishes it.
        unsafe {
            let p = self.data().add(off) as *mut u64;
            p.write(w0);
            p.add(1).write(w1);
        }
    }

    /// Appends the `len` bytes at `off` to `dst`: the only way bytes leave the
    /// mapping on the read side. The source is read through a raw pointer only,
    /// so another process changing those bytes meanwhile leaves arbitrary bytes
    /// in the copy (which every reader validates) and nothing worse.
    ///
    /// # Safety
    /// `off + len <= capacity`.
    #[inline(always)]
    pub(crate) unsafe fn copy_out(&self, off: usize, len: usize, dst: &mut Vec<u8>) {
        let at = dst.len();
        dst.reserve(len);
        // SAFETY: the source range is inside the data area (caller's contract)
        // and `reserve` made room for `len` bytes after `at`; the two cannot
        // overlap (one is the mapping, the other private memory).
        unsafe {
            std::ptr::copy_nonoverlapping(self.data().add(off), dst.as_mut_ptr().add(at), len);
            dst.set_len(at + len);
        }
    }

    /// The `len` bytes at `off`, for the producer's reservation: the write
    /// side's one kind of reference into the mapping (zero-copy encoding;
    /// `docs/FORMAT.md` says what a writer of the file can do to it). The read
    /// side never uses it.
    ///
    /// # Safety
    /// `off + len <= capacity`, and the range is the producer's reservation:
    /// not yet published, so the consumer does not read it.
    #[inline(always)]
    pub(crate) unsafe fn reserved(&self, off: usize, len: usize) -> &[u8] {
        // SAFETY: in bounds and the producer's alone, by the contract.
        unsafe { std::slice::from_raw_parts(self.data().add(off), len) }
    }

    /// [`reserved`](Self::reserved), writable; `&mut self` makes it the only
    /// slice of the mapping alive.
    ///
    /// # Safety
    /// As for `reserved`.
    #[inline(always)]
    pub(crate) unsafe fn reserved_mut(&mut self, off: usize, len: usize) -> &mut [u8] {
        // SAFETY: in bounds and the producer's alone, by the contract; the
        // exclusive borrow of `self` rules out a second slice through it.
        unsafe { std::slice::from_raw_parts_mut(self.data().add(off), len) }
    }

    /// Copies `src` to `off`.
    ///
    /// # Safety
    /// `off + src.len() <= capacity`, and the caller owns those bytes (the
    /// producer's reservation).
    #[inline(always)]
    pub(crate) unsafe fn write_bytes(&self, off: usize, src: &[u8]) {
        // SAFETY: in bounds and owned by the caller, by the contract; `src` is
        // private memory, so the two do not overlap.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), self.data().add(off), src.len()) }
    }

    /// Hints the cache to fetch the line holding `off`. Reads nothing into the
    /// program and never faults.
    #[inline(always)]
    pub(crate) fn prefetch(&self, off: usize) {
        #[cfg(all(target_arch = "x86_64", not(loom)))]
        {
            let p = self.data().wrapping_add(off);
            // SAFETY: SSE is part of the x86_64 baseline, so the instruction
            // exists; a prefetch is a hint that never faults, and `p` is inside
            // the mapping anyway when `off < capacity`.
            unsafe {
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                    p as *const i8,
                );
            }
        }
        #[cfg(not(all(target_arch = "x86_64", not(loom))))]
        let _ = off;
    }

    #[inline(always)]
    pub(crate) fn capacity(&self) -> u64 {
        self.capacity
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    #[inline(always)]
    pub(crate) fn tracker(&self) -> &Tracker {
        #[cfg(loom)]
        {
            match &*self.backing {
                Backing::Loom { tracker, .. } => tracker,
            }
        }
        #[cfg(not(loom))]
        {
            &self.tracker
        }
    }

    /// Whether the file behind this mapping shrank under us.
    #[inline]
    pub(crate) fn faulted(&self) -> bool {
        // The flag is set by a signal handler on this thread, during an
        // access made before this call: the accesses must not be moved after
        // the load (a compiler fence: no instruction).
        #[cfg(not(loom))]
        std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
        match &*self.backing {
            #[cfg(not(loom))]
            Backing::Map { guard, .. } => guard.faulted(),
            _ => false,
        }
    }

    /// Writes the data area's bytes `[off, off + len)` (offsets into the data
    /// area, not wrapping) through to the file. Nothing for heap memory.
    pub(crate) fn sync_data(&self, off: usize, len: usize) -> std::io::Result<()> {
        match &*self.backing {
            #[cfg(not(loom))]
            Backing::Map { map, .. } if len > 0 => map.flush_range(HEADER_LEN + off, len),
            _ => Ok(()),
        }
    }

    /// Writes the header page (the cursors) through to the file. Nothing for
    /// heap memory.
    pub(crate) fn sync_header(&self) -> std::io::Result<()> {
        match &*self.backing {
            #[cfg(not(loom))]
            Backing::Map { map, .. } => map.flush_range(0, HEADER_LEN),
            _ => Ok(()),
        }
    }
}

/// What holds a role: an OS lock on the file, or a flag of a heap ring.
pub(crate) enum RoleHold {
    #[cfg(not(loom))]
    File(std::fs::File),
    Heap(std::sync::Arc<[std::sync::atomic::AtomicBool; 2]>, usize),
}

impl Drop for RoleHold {
    fn drop(&mut self) {
        if let RoleHold::Heap(flags, i) = self {
            flags[*i].store(false, std::sync::atomic::Ordering::Release);
        }
    }
}

impl RoleHold {
    /// Whether the file behind the ring has shrunk below its full size (the
    /// pages past the new end read as zeros, or fault; both are caught).
    #[cold]
    pub(crate) fn shrunk(&self, mem: &Mem) -> bool {
        if mem.faulted() {
            return true;
        }
        match self {
            #[cfg(not(loom))]
            RoleHold::File(f) => f
                .metadata()
                .map(|m| m.len() < HEADER_LEN as u64 + mem.capacity())
                .unwrap_or(false),
            RoleHold::Heap(..) => false,
        }
    }

    /// Whether a live process (or handle) holds `role` of the ring `mem` views:
    /// an OS-lock query for a file, the flag for a heap ring.
    pub(crate) fn alive(&self, mem: &Mem, role: Role) -> crate::error::Result<bool> {
        match self {
            #[cfg(not(loom))]
            RoleHold::File(f) => crate::file::is_locked(mem.path(), f, role),
            RoleHold::Heap(flags, _) => {
                let i = match role {
                    Role::Producer => 0,
                    Role::Consumer => 1,
                };
                Ok(flags[i].load(std::sync::atomic::Ordering::Acquire))
            }
        }
    }
}
