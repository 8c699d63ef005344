//! Where a ring's bytes live: a shared file mapping, a heap allocation with the
//! same layout (in-process rings), or, under loom, loom atomics and tracked cells.
//! The ring algorithm sees only [`Mem`].

use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::Arc;

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

    #[inline(always)]
    pub(crate) fn data(&self) -> *mut u8 {
        self.data.as_ptr()
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
        match &*self.backing {
            #[cfg(not(loom))]
            Backing::Map { guard, .. } => guard.faulted(),
            _ => false,
        }
    }

    /// Whether this view maps a file (as opposed to heap memory).
    #[cfg(not(loom))]
    pub(crate) fn is_file(&self) -> bool {
        matches!(&*self.backing, Backing::Map { .. })
    }

    /// Writes the data area's bytes `[off, off + len)` (offsets into the data
    /// area, not wrapping) through to the file.
    #[cfg(not(loom))]
    pub(crate) fn sync_data(&self, off: usize, len: usize) -> std::io::Result<()> {
        match &*self.backing {
            Backing::Map { map, .. } if len > 0 => map.flush_range(HEADER_LEN + off, len),
            _ => Ok(()),
        }
    }

    /// Writes the header page (the cursors) through to the file.
    #[cfg(not(loom))]
    pub(crate) fn sync_header(&self) -> std::io::Result<()> {
        match &*self.backing {
            Backing::Map { map, .. } => map.flush_range(0, HEADER_LEN),
            _ => Ok(()),
        }
    }
}
