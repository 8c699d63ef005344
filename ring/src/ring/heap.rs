//! A ring in this process's memory, with a file ring's layout and algorithm:
//! for tests, benchmarks and the loom models.

use super::{Consumer, Producer};
use crate::error::{Error, Result, Role};
use crate::mem::{Mem, RoleHold};

/// A ring in this process's memory: the same algorithm and layout as a file
/// ring, for tests, benchmarks and loom models.
pub struct HeapRing {
    mem: Mem,
    checksum: bool,
    roles: std::sync::Arc<[std::sync::atomic::AtomicBool; 2]>,
}

impl HeapRing {
    /// A new, empty ring. `capacity` is checked like a file ring's, except that
    /// under loom any power of two of at least 32 bytes is accepted so that
    /// models can wrap around after a few records.
    pub fn new(capacity: u64, checksum: bool) -> Result<HeapRing> {
        if !Mem::heap_capacity_is_valid(capacity) {
            return Err(Error::BadCapacity { capacity });
        }
        Ok(HeapRing {
            mem: Mem::heap(capacity),
            checksum,
            roles: Default::default(),
        })
    }

    fn take(&self, role: Role) -> Result<RoleHold> {
        let i = match role {
            Role::Producer => 0,
            Role::Consumer => 1,
        };
        if self.roles[i].swap(true, std::sync::atomic::Ordering::AcqRel) {
            return Err(Error::RoleHeld {
                path: self.mem.path().to_owned(),
                role,
                pid: std::process::id(),
            });
        }
        Ok(RoleHold::Heap(std::sync::Arc::clone(&self.roles), i))
    }

    /// Attaches the producer (once at a time).
    pub fn producer(&self) -> Result<Producer> {
        let role = self.take(Role::Producer)?;
        Producer::attach(self.mem.share(), self.checksum, role, false)
    }

    /// Attaches the consumer (once at a time; again after the previous one is dropped).
    pub fn consumer(&self) -> Result<Consumer> {
        let role = self.take(Role::Consumer)?;
        Consumer::attach(self.mem.share(), self.checksum, role, [0; 16])
    }
}
